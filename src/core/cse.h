/* cse: the one server context (struct cse) and the request entry point every binding calls. No
 * mutable state of Warden lives outside a struct cse, so several CSEs can share a process. */
#ifndef WARDEN_CORE_CSE_H
#define WARDEN_CORE_CSE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "id.h"
#include "request.h"
#include "util/log.h"
#include "util/timeutil.h"

struct store;
struct audit;
struct cred_store;
struct backend;
struct policy_cache;
struct location_db;
struct outbound;
struct batcher;
struct token_issuers;
struct token_cache;
struct dynauth;
struct fanq;
struct parkq;
struct metrics;
struct ratelimit;
struct nbr;
struct pollch;
struct timers;
struct md_windows;
struct flex_defs;
struct registration;
struct announcer;
struct fwd_key;
struct escertke_rx;
struct esprim;

struct cse {
    const struct cse_config *cfg; /* not owned */
    struct log *log;              /* not owned */
    struct store *store;          /* not owned */
    struct audit *audit;          /* not owned; may be NULL */
    struct cred_store *creds;     /* not owned; NULL in tests without credentials (then nothing binds) */
    struct backend *backend;      /* not owned: owns store and creds (store/backend.h); NULL: nothing binds */
    struct clock clock;
    struct id_env idenv;
    struct id admin;                   /* canonical admin originator */
    bool secure;                       /* secure profile */
    char *cb_ri;                       /* CSEBase resourceID (owned) */
    struct policy_cache *policies;     /* compiled accessControlPolicies (owned) */
    struct location_db *locations;     /* aclr location sources (owned), NULL when none configured */
    struct outbound *outbound;         /* the outbound seam (owned), started by cse_start */
    struct batcher *batches;           /* pending batchNotify aggregations (owned) */
    struct token_issuers *issuers;     /* Authorization Authorities (authz.issuers; owned), NULL: none */
    struct token_cache *tokens;        /* verified tokens and their Local-Token-IDs (owned) */
    struct dynauth *dynauth;           /* dynamic authorization: granted privileges, DAS health (owned) */
    struct fanq *fanouts;              /* parked group fan-outs and their threads (owned) */
    struct parkq *parkq;               /* continuations resumed with CONT_AGAIN, their threads (owned) */
    struct metrics *metrics;           /* counters for the metrics listener and the console (owned) */
    atomic_bool ready;                 /* every configured binding is up and none is stopping (cse_set_ready) */
    struct ratelimit *rate;            /* per-originator request rate buckets (owned), NULL: limits.rate off */
    struct nbr *nbr;                   /* non-blocking requests in progress and their worker (owned) */
    struct pollch *pollch;             /* polling channels: queued requests, parked polls (owned) */
    struct registration *registration; /* registration to registrar.* (owned), NULL: no registrar */
    struct announcer *announcer;       /* the announcement outbox's worker (core/announce.c; owned) */

    /* requests being forwarded by this CSE (route.c), by originator and Request Identifier: one
     * that comes back while in flight went round a loop (guarded by fwd_lock) */
    pthread_mutex_t fwd_lock;
    struct fwd_key *fwd_inflight[64];
    size_t fwd_count;

    /* expiry sweeper */
    pthread_t expiry_thread;
    bool expiry_started;
    pthread_mutex_t expiry_lock;
    pthread_cond_t expiry_cond;
    bool stopping;
    /* requests parked until their Operation Execution Time (defer.c; guarded by expiry_lock) */
    struct deferred *deferred;
    int ndeferred;
    bool deferring_closed; /* cse_quiesce ran: no request parks any more */
    /* some container has (or had, since start) disableRetrieval true: until then no retrieve of a
     * contentInstance looks up its parent for it (a store read per request); set at start and by
     * every create or update that sets disr, never cleared (a stale true only costs that read) */
    atomic_bool disr_seen;
    /* a registree <remoteCSE> exists (or existed since start) here: until then a CSE-relative target
     * is never looked up among the <remoteCSE> children (a store read per request); set at start and
     * by every registration, never cleared (a stale true only costs that read) */
    atomic_bool registree_seen;
    /* resources whose UPDATE waits for a Blocking_Update notification (ops_update.c): other
     * UPDATEs of them are refused meanwhile (TS-0004 §7.5.1.2.19) */
    pthread_mutex_t blocking_lock;
    char *blocking[LIMIT_BLOCKING_UPDATES];
    int pending_jobs;              /* expiry and timer jobs in flight (guarded by expiry_lock) */
    int64_t expiry_wake_ms;        /* when the expiry thread wakes next, 0 while awake (expiry_lock) */
    bool expiry_sweep_now;         /* a mass expiry continues: sweep again at once (expiry_lock) */
    struct timers *timers;         /* the timer service (timers.c; owned) */
    struct md_windows *md_windows; /* missingData windows of subscriptions (subscribe.c; owned) */
    struct flex_defs *flex;        /* flexContainer definitions (resources/flex_defs.c, types.flex; owned) */
    struct escertke_rx *escertke;  /* ESCertKE exchanges in progress (e2e/escertke_rx.c; owned) */
    struct esprim *esprim;         /* ESPrim receiver: rand objects, replay cache (e2e/esprim.c; owned) */
};

/* Build the context over an open store; creates the CSEBase on first start and refuses a store
 * that belongs to a different CSE. Returns 0 or -1 with err filled. */
int cse_init(struct cse *cse, const struct cse_config *cfg, struct log *log, struct store *store, struct audit *audit,
             char *err, size_t errlen);
/* The CSEBase's accessControlPolicyIDs, set out of band by the operator (wardenctl cse acpi): the
 * CSEBase cannot be updated through the API (TS-0004 §7.4.3.2.3: 4005; acpi is RO in TS-0001
 * Table 9.6.3-2). With set, ids (n of them; n 0 clears) must each name an <accessControlPolicy>
 * child of the CSEBase (resourceID or structured address); the change is committed to the store,
 * which keeps it across restarts. Without set nothing changes. Either way out gets the CSEBase's
 * acpi as "resourceID address" lines. Returns 0, or -1 with err filled. Needs no cse_init. */
int cse_base_acpi(struct store *store, const struct cse_config *cfg, bool set, const char *const *ids, int n, char *out,
                  size_t outlen, char *err, size_t errlen);
/* Start background work: the outbound seam (policy and TLS from notify.*) and the expiry sweeper.
 * Returns 0, or -1 with err filled. */
int cse_start(struct cse *cse, char *err, size_t errlen);
/* Before the bindings drain at shutdown: every request still waiting for its Operation Execution
 * Time is answered at once (5000, never executed early) and none parks any more; requests parked on
 * a client (a long poll of a polling channel) are answered now (4008), so the bindings can drain.
 * Before cse_stop. */
void cse_quiesce(struct cse *cse);
/* Stop background work; the caller closes the store afterwards. */
void cse_stop(struct cse *cse);
void cse_destroy(struct cse *cse);

enum cse_status { CSE_DONE = 0, CSE_PENDING = 1 };

/* Process one request primitive. Returns CSE_DONE with rsp complete, or CSE_PENDING when the
 * request parked on a store commit: done(done_arg) is then called exactly once, from another
 * thread, and the caller must then call cse_complete() (on its own thread) before using rsp.
 * req and every string it points to must stay valid until cse_complete() returns. */
enum cse_status cse_dispatch(struct cse *cse, const struct cse_request *req, struct cse_response *rsp,
                             void (*done)(void *arg), void *done_arg);

/* Complete the response of a parked request after its done() call: the operation's own finishing
 * work, then the audit record and the secure profile's masking of denials. Also to be called for a
 * parked request whose client went away, so nothing it holds is leaked. */
void cse_complete(struct cse *cse, const struct cse_request *req, struct cse_response *rsp);

/* A refusal decided by a binding's security layer (a credential revoked while its connection was
 * open): rsp gets rsc, and the denial is audited and masked like the core's own. */
void cse_deny(struct cse *cse, const struct cse_request *req, struct cse_response *rsp, int rsc, const char *reason,
              const char *message);

/* Is this the admin's own channel, where the console and its admin queries may answer: in the secure
 * profile a security association bound to the admin's identity, in dev a loopback peer (core/admin.c). */
bool cse_admin_channel(const struct cse *cse, const struct cse_secctx *sec);

/* Explain an access decision (explain.c): originator fr (any ID form), op one of create, retrieve,
 * update, delete, notify, discover, to a target address, ty the type to be created (CREATE), peer
 * the originator's address for acip (NULL: unknown); az the roles and tokens the request would
 * carry (may be NULL). Returns owned text whose first line is PERMIT or DENY. */
struct cse_explain_query {
    const char *fr, *op, *to;
    int ty;
    const char *peer;
};
char *cse_explain(struct cse *cse, const struct cse_explain_query *q, const struct cse_authz_params *az);
bool cse_explain_op(const char *name, int *acop);

/* A binding answered req with rsp elapsed_us after its first byte: counted in the metrics, and the
 * request log line when log.level is info or finer. Every binding calls this once per answer. */
void cse_request_done(struct cse *cse, const struct cse_request *req, const struct cse_response *rsp,
                      int64_t elapsed_us);
/* main: every binding started (true), or shutting down (false); GET /healthz reports it. */
void cse_set_ready(struct cse *cse, bool ready);

/* The per-request log line (originator, operation, target, status, microseconds). */
void cse_log_request(struct cse *cse, const struct cse_request *req, const struct cse_response *rsp,
                     int64_t elapsed_us);

#endif
