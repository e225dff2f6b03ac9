/* cse: the one server context (struct cse) and the request entry point every binding calls. No
 * mutable state of Warden lives outside a struct cse, so several CSEs can share a process. */
#ifndef WARDEN_CORE_CSE_H
#define WARDEN_CORE_CSE_H

#include <pthread.h>
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
struct policy_cache;
struct location_db;
struct outbound;
struct batcher;
struct token_issuers;
struct token_cache;
struct dynauth;
struct fanq;
struct registration;
struct fwd_key;

struct cse {
    const struct cse_config *cfg; /* not owned */
    struct log *log;              /* not owned */
    struct store *store;          /* not owned */
    struct audit *audit;          /* not owned; may be NULL */
    struct cred_store *creds;     /* not owned; NULL in tests without credentials (then nothing binds) */
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
    struct registration *registration; /* registration to registrar.* (owned), NULL: no registrar */

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
    int pending_jobs; /* expiry jobs in flight (guarded by expiry_lock) */
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

/* The per-request log line (originator, operation, target, status, microseconds). */
void cse_log_request(struct cse *cse, const struct cse_request *req, const struct cse_response *rsp,
                     int64_t elapsed_us);

#endif
