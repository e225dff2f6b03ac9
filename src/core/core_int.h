/* core_int: declarations shared by the files of core/ only (dispatch and the operations). */
#ifndef WARDEN_CORE_CORE_INT_H
#define WARDEN_CORE_CORE_INT_H

#include "cse.h"
#include "park.h"
#include "resources/rtype.h"
#include "security/acp.h"
#include "security/authz.h"
#include "store/store.h"
#include "util/buf.h"

enum virt { VIRT_NONE = 0, VIRT_LA, VIRT_OL, VIRT_FOPT, VIRT_PCU };

/* A resolved target. */
struct target {
    struct store_row row; /* the addressed resource; for la/ol the contentInstance it names; for fopt the group */
    bool have_row;
    enum virt virt;
    char *rest; /* fopt: the path after ".../fopt/" ("" when none); owned */
};

/* What dispatch learned about the originator (TS-0004 §7.3.2.1). */
struct originator {
    struct id id; /* parsed From; kind ID_INVALID when absent */
    bool present;
    bool is_admin;
    bool registered;          /* a local AE registered here */
    bool authenticated;       /* rq_authn (TS-0003 §7.1.2): in a security association whose identity is From */
    const char *bind_kpsa_id; /* AE registration over a PSK provisioned with "-": bind the new AE-ID to it */
    struct authz_subject subj;
};

struct group_memo;

/* Everything an operation needs. */
struct op_ctx {
    struct cse *cse;
    const struct cse_request *req;
    struct cse_response *rsp;
    struct store_view *view;
    struct originator *orig;
    struct target *tgt;
    int64_t now; /* seconds */
    /* the request's one continuation (park.h): a step that waits takes it with op_park */
    struct cse_cont k;
    /* the originator's location, looked up on first use (location.c) */
    bool loc_done, loc_known;
    struct acp_location loc;
    /* what rids/tids/ltids/tkns prove, verified on first use (credentials.c); freed by dispatch */
    struct creds *creds;
    /* explain mode (cse_explain): every candidate of every decision is described here */
    struct buf *explain;
    /* indirect dynamic authorization: the Token Request Information of a denial (owned) */
    char *tqf;
    /* direct dynamic authorization: the consultation this request parks on (dynauth.c; owned) */
    struct das_job *das_job;
    /* view is a writer's transaction: policies are compiled from it, never from or into the cache */
    bool in_txn;
    /* <group> references of acor already decided for this request (membership.c; owned) */
    struct group_memo *groups;
    /* resources on other CSEs a hook asked for on this pass (remote_fetch.c; owned) */
    struct remote_want *want;
};

/* The run queue of CONT_AGAIN resumes (park.c). parkq_push queues k for a resume thread, which
 * calls cont_again_now (dispatch.c: the pipeline again, then k's done unless it parked again).
 * parkq_stop waits until the queue is empty and no resume thread runs (before the store goes). */
struct parkq *parkq_new(void);
void parkq_push(struct parkq *q, const struct cse_cont *k);
void parkq_stop(struct parkq *q);
void parkq_free(struct parkq *q);
void cont_again_now(const struct cse_cont *k);

/* Take the request's continuation to park it on what it waits for (park.h): false when its
 * caller cannot park (answer now instead). After true the step returns CSE_PENDING and whoever got
 * *out resumes it once with cont_resume. */
static inline bool op_park(const struct op_ctx *c, enum park_why why, struct cse_cont *out /* OUT */)
{
    if (!cont_can_park(&c->k))
        return false;
    *out = c->k;
    out->why = why;
    return true;
}

int resolve_target(struct cse *cse, struct store_view *v, const char *to, int64_t now, struct target *out,
                   struct cse_response *rsp);
void target_free(struct target *t);

/* The outcome of an access decision, with what decided it. */
struct decision {
    bool permit;
    const char *reason; /* static, machine-readable */
    char detail[384];   /* which policy and rule, or which resource's default policy */
};

/* The access decision for op on target (policy.c): admin; an ACP's own pvs; the acpi of the
 * target (or of its parent for types without acpi), pvs instead of pv when use_pvs (a privilege
 * change: an update of acpi or daci, which tokens and DAS grants never authorize); the default
 * policy when acpi is absent. Always returns 0 with d filled. */
int policy_decide(struct op_ctx *c, enum acop op, const struct store_row *target, int child_ty, bool use_pvs,
                  struct decision *d /* OUT */);
/* The same decision for a subscriber that is not making a request (a notification, subscribe.c):
 * subscriber is the canonical ID of the subscription's creator; v a writer's transaction. No peer
 * address (acip contexts do not match), no roles or tokens, cached DAS grants only (never a
 * consultation); the subscriber counts as authenticated in the secure profile only, where its
 * subscription could only be made in a security association. An empty subscriber is denied. */
void policy_decide_subscriber(struct cse *cse, struct store_view *v, int64_t now, const char *subscriber, enum acop op,
                              const struct store_row *target, struct decision *d /* OUT */);
struct policy_cache *policy_cache_new(size_t nslots);
/* cse_explain on a read view the caller holds (explain.c). No code path holds one pooled view while
 * acquiring another: with the pool smaller than the threads that may hold one, that deadlocks. */
char *explain_in_view(struct cse *cse, struct store_view *v, const struct cse_explain_query *q,
                      const struct cse_authz_params *az);
void policy_cache_free(struct policy_cache *pc);
/* Call after a commit that changed an ACP, a group's members or anything else decisions use. */
void policy_invalidate(struct cse *cse);

/* Resolve the entries of an acpi list (resourceIDs or addresses of ACPs) to the space-separated
 * resourceIDs stored with the resource; JSON null gives "". linking: the originator writes the
 * list, and may name only ACPs it may retrieve: 4000 (rsp filled, one message whatever the reason)
 * when an entry is not such an ACP here. Without linking (a list read at use, a group's macp) an
 * entry that names no ACP becomes "-", which grants nothing. Returns 0 with *out owned by the
 * caller, or the RSC. */
int acpi_resolve(struct op_ctx *c, const json_t *list, bool linking, char **out /* OUT */);

/* Is stem the AE-ID-Stem of an AE registered here (and not expired)? Cached, invalidated with the
 * policies. Returns 0 with *registered set, or -1 on a store failure. */
int ae_registered(struct cse *cse, struct store_view *v, const char *stem, int64_t now, bool *registered /* OUT */);

/* Does the <group> named by ref (resourceID or address) list originator orig (canonical)? Each
 * reference is looked up once per request (c->groups). */
bool group_admits(struct op_ctx *c, const char *ref, const char *orig);
void group_memo_free(struct group_memo *m);
/* Location sources (location.c): positions set by the operator and an IP-to-country table. NULL +
 * err when a file is unreadable or malformed. */
struct location_db *location_db_load(const char *positions, const char *countries, const struct id_env *env, char *err,
                                     size_t errlen);
void location_db_free(struct location_db *db);
/* The originator's location as this CSE knows it, or NULL when unknown. */
const struct acp_location *originator_location(struct op_ctx *c);

/* Credentials of the request (credentials.c). creds_get verifies the request's roles and tokens
 * once (and sets the response's ati); the rest read the result for one decision. */
struct creds;
struct token_cache *token_cache_new(size_t n);
void token_cache_free(struct token_cache *tc);
struct creds *creds_get(struct op_ctx *c);
void creds_free(struct creds *cr);
/* Verified Role-IDs that apply to target (or src, the resource whose policies decide): those of
 * <role> resources, and those of token permissions covering it. Returns how many went into out. */
int creds_roles(const struct creds *cr, const struct store_row *target, const struct store_row *src, const char **out,
                int max);
/* Does a token permission covering target (or src) carry privileges that grant rq? detail says which. */
bool creds_token_permits(const struct creds *cr, const struct store_row *target, const struct store_row *src,
                         const struct acp_request *rq, char *detail, size_t len);
/* Verify a token the request did not bring (one a DAS returned) and add it to the request's
 * credentials; false (and a line of explanation) when it does not pass. das_uri (not NULL): the DAS
 * whose answer carried it; its issuer must list that DAS ("das" in authz.issuers). */
bool creds_add_token(struct op_ctx *c, const char *compact, const char *via, const char *das_uri, char *lti /* OUT */,
                     size_t ltilen, int64_t *exp /* OUT */);
/* The same for a token already verified and cached here, by its Local-Token-ID. */
bool creds_add_local(struct op_ctx *c, const char *lti, const char *via);
/* Dynamic authorization (dynauth.c), after everything else denied: a cached DAS grant, else the
 * indirect flow's Token Request Information (c->tqf), else a consultation of the DAS. */
struct dynauth *dynauth_new(size_t n);
void dynauth_free(struct dynauth *da);
/* Park the request on the consultation dynauth_decide prepared (c->das_job): a consultation thread
 * asks the DAS, then resumes the request with CONT_AGAIN (its second decision). CSE_PENDING, or
 * CSE_DONE with a denial when no consultation could start. */
enum cse_status dynauth_park(struct op_ctx *c);
/* Wait for the consultation threads (before the outbound seam and the store go away). */
void dynauth_stop(struct dynauth *da);
void dynauth_decide(struct op_ctx *c, enum acop op, const struct store_row *target, const struct store_row *src,
                    const struct acp_request *rq, struct decision *d);
/* The first reason a credential of the request was refused, or NULL; one line per credential. */
const char *creds_refused(const struct creds *cr);
const char *creds_explanation(const struct creds *cr);
const char *creds_refused_line(const struct creds *cr);

/* Authorize op on a target row; on denial fills rsp with 4103 and records the audit event.
 * Returns 0 when permitted. */
int op_authorize(struct op_ctx *c, enum acop op, const struct store_row *row, int child_ty);
/* The same for a privilege change, an update of acpi or daci (pvs of the ACPs currently referenced;
 * tokens and DAS grants never count). */
int op_authorize_acpi(struct op_ctx *c, const struct store_row *row);

/* Representations (represent.c), the one path from a stored resource to the wire:
 * represent_row: {"<root>": doc} of a row, owned text; NULL for an unknown type.
 * represent_wrap: {"<root>": doc} taking doc (owned; NULL: empty), write-only attributes removed;
 *   the root is decided on whole (the complete resource, when doc is a part of it) or on doc.
 * represent_strip: remove t's write-only attributes (rtype.write_only) from doc in place.
 * represent_key: the root, "m2m:<sn>" or the type's own (rtype.root). */
char *represent_row(struct cse *cse, const struct store_row *row, size_t *len);
json_t *represent_wrap(struct cse *cse, const struct rtype *t, json_t *doc, const json_t *whole);
void represent_strip(const struct rtype *t, json_t *doc);
void represent_key(struct cse *cse, const struct rtype *t, const json_t *doc, char *out, size_t len);

/* Decode the content of a CREATE/UPDATE: exactly {"m2m:<sn>": {...}}, or {"<root>": {...}} for a
 * type with custom attributes (its hook checks the root; root_out gets it). Returns the attribute
 * object (a new reference) or NULL with rsp filled (4000, 4015). */
json_t *op_decode_content(struct op_ctx *c, const struct rtype *rt, char *root_out, size_t root_len);

/* expirationTime of a request: absent gives the default lifetime, past is 4000, beyond the maximum
 * is clamped. Returns 0 or an RSC. */
int op_expiration(struct op_ctx *c, const json_t *attrs, int64_t *et /* OUT */);

/* Resolve an address or resourceID to the row it names (for la/ol the instance, for fopt the
 * group), or with real_only to real resources only. Returns 0 with *out filled (caller frees)
 * or an RSC; the request's response is not touched. */
int resolve_row(struct op_ctx *c, const char *addr, bool real_only, struct store_row *out /* OUT */);
/* Resources on other CSEs for a hook (remote_fetch.c). op_resolve_remote is op_resolve for the
 * resolver's resolve_remote: an address on another CSE is answered from what was retrieved there
 * (the resource; RSC_NOT_FOUND when it was refused or missing there, as for a local one the
 * originator may not retrieve; RESOLVE_ON_OTHER_CSE when its CSE could not be reached), and on the
 * first pass it is noted in c->want. After the hook ran, remote_fetch_park parks the request on
 * retrieving what was noted (true, *st CSE_PENDING, the hook's outcome dropped: it runs again with
 * the answers in rsp->fetched) or does nothing (false, c->want freed). */
struct remote_want;
int op_resolve_remote(void *arg, const char *addr, struct store_row *out);
bool remote_fetch_park(struct op_ctx *c, enum cse_status *st);
void remote_want_free(struct remote_want *w);

/* struct resolver callback over an op_ctx (resolve.c): resolve_row for real resources the
 * originator may RETRIEVE; one it may not is RSC_NOT_FOUND like a missing one, so that no hook
 * answers differently for the two (no existence or type oracle). */
int op_resolve(void *arg, const char *addr, struct store_row *out);
/* Is addr hosted on another CSE (a RETRIEVE of it routes ROUTE_REMOTE in c's view)? If so and csi is
 * given, that CSE's ID ("/id-mn", whatever the address form) into csi. */
bool op_addr_remote(struct op_ctx *c, const char *addr, char *csi, size_t csi_len);

/* A write job's done() on the writer thread, right after its commit: what cannot wait (its
 * notifications are queued or dropped, compiled policies invalidated when invalidate is set and
 * the change is kept); the rest goes to finish_fn(job) on the request's thread via cse_complete.
 * Then the request parked on its commit (k) is resumed (CONT_ANSWERED). */
void op_committed(bool kept, struct notes *notes, bool invalidate,
                  void (*finish_fn)(void *job, struct cse_response *rsp), void *job, const struct cse_cont *k);

/* Does an UPDATE of resource ri wait for a Blocking_Update answer (ops_update.c)? */
bool op_blocking_held(struct cse *cse, const char *ri);

/* Is r a contentInstance whose container has disableRetrieval true (TS-0001 §9.6.6)? */
bool op_cin_disabled(struct op_ctx *c, const struct store_row *r);

/* The result content rcn (1, 4, 5, 6, 7, 8) of a RETRIEVE (or DELETE) of row, with the request's
 * filter criteria applied to the children and descendants (ops_retrieve.c). Fills c->rsp with 2000
 * and the body, or returns an RSC (rsp filled). */
int op_result_content(struct op_ctx *c, const struct store_row *row, int rcn);

/* The operations; each returns CSE_DONE with rsp filled, or CSE_PENDING (done will be called). */
enum cse_status op_create(struct op_ctx *c);
enum cse_status op_retrieve(struct op_ctx *c);
enum cse_status op_update(struct op_ctx *c);
enum cse_status op_delete(struct op_ctx *c);
/* NOTIFY to a <CSEBase> (processed) or an <AE> of this CSE (re-targeted to its pointOfAccess, or its
 * polling channel when it is not request-reachable; ops_notify.c). */
enum cse_status op_notify(struct op_ctx *c);
/* A request to a <group>'s fanOutPoint (fanout.c). May release c->view (sets it NULL). A request
 * from a binding parks on its fan-out (CSE_PENDING) while a fan-out thread issues the members. */
enum cse_status op_fanout(struct op_ctx *c);
/* After a request's target was resolved: 0 when no request of the same group request reached this
 * target before, else an RSC (4104, rsp filled): TS-0004 §7.3.3.2, by the fan-out tree of a member
 * request (req->fan) and, for any request carrying a gid, the CSE's list of received gids. */
int fanout_enter(struct cse *cse, const struct cse_request *req, const struct target *tgt, struct cse_response *rsp);
/* The same for a member request the route step sends to another CSE, by its SP-relative target
 * (route.to), before it is forwarded: remote members count towards the tree like local ones. */
int fanout_enter_remote(const struct cse_request *req, const char *to, struct cse_response *rsp);
/* Parked fan-outs (fanout.c): fanq_stop waits for the fan-out threads (before the store goes). */
struct fanq *fanq_new(void);
void fanq_stop(struct fanq *q);
void fanq_free(struct fanq *q);

/* Delete a resource and its subtree inside a transaction and inform its parent's type.
 * row must be a row that existed in this transaction. Returns 0 or an RSC (rsp filled). */
int txn_delete_resource(struct txn_ctx *t, const struct store_row *row);

/* Per-originator request rate (ratelimit.c). NULL (no limit) when rate <= 0; buckets bound the
 * memory (8-way sets; the idlest bucket of a full set is reused). */
struct ratelimit *ratelimit_new(long rate, long burst, long buckets);
void ratelimit_free(struct ratelimit *rl);
/* Take one token of originator's bucket at now_us (monotonic). 0, or -1 with *retry_ms set to when
 * the next token is due. Thread-safe. */
int ratelimit_take(struct ratelimit *rl, const char *originator, int64_t now_us, int64_t *retry_ms);

/* Quotas (ops_create.c): in the writing transaction, after its own writes, is owner (a creator's
 * canonical ID) still within limits.quota_count and limits.quota_bytes? 0, or 5207 with t->rsp filled
 * (the job then rolls back). The admin, and resources without a creator, are exempt. */
int txn_quota_check(struct txn_ctx *t, const char *owner);

/* A vector of deep-copied rows, filled by rowvec_collect as a store_row_fn, so that a walk can
 * recurse or write without reusing a live statement. Stops the walk at max rows. */
struct rowvec {
    struct store_row *v;
    size_t n, cap;
    size_t max;
};
int rowvec_collect(void *arg, const struct store_row *r);
void rowvec_free(struct rowvec *rv);

/* Subscriptions and notifications (subscribe.c). */
void notes_init(struct notes *n);
void notes_free(struct notes *n);
/* After the commit: queue every note to the outbound seam or its subscription's batch; frees the notes. */
void notes_send(struct cse *cse, struct notes *n);
/* Inside a transaction: the subscriptions of subject that want event net about resource res
 * (modified: the attributes an update changed) get a notification; expirationCounters count down. */
int sub_event(struct txn_ctx *t, const struct store_row *subject, int net, const struct store_row *res,
              const json_t *modified);
/* After a request targeting row (whatever its outcome): the operationMonitor subscriptions of row
 * that match operation op (acop its accessControlOperations bit) and the originator are notified. */
void sub_monitor(struct cse *cse, struct store_view *v, const struct store_row *row, int op, int acop,
                 const char *originator);
struct md_windows *md_windows_new(void);
void md_windows_free(struct md_windows *w);
/* Inside a transaction, before row and its subtree go: deletion notifications to the subscribers of
 * every subscription among them. */
int sub_deleted(struct txn_ctx *t, const struct store_row *row);
/* First http(s) pointOfAccess of the registered AE named by id. 0, or -1 when there is none. */
int ae_poa(struct cse *cse, struct store_view *v, int64_t now, const char *id, char *url, size_t len);
/* The same, and with cbor set when the AE's contentSerialization asks for CBOR, not JSON. */
int ae_poa_fmt(struct cse *cse, struct store_view *v, int64_t now, const char *id, char *url, size_t len, bool *cbor);
/* batchNotify duration (seconds as an integer, or an ISO 8601 duration "PT5S") in milliseconds. */
int64_t sub_duration_ms(const json_t *dur);

/* Batches holding at most max_batch bytes each and max_total in all (notify.batch_bytes/_total). */
struct batcher *batcher_new(size_t max_batch, size_t max_total);
/* Bytes of notifications all batches hold now. */
size_t batcher_bytes(struct batcher *bt);
void batcher_free(struct cse *cse, struct batcher *bt, bool deliver);
/* Send the batches whose duration has passed (called by the expiry thread every second). */
void batcher_tick(struct cse *cse, int64_t now_ms);

/* Requests parked until their Operation Execution Time (defer.c). defer_park returns CSE_PENDING
 * (k is resumed with CONT_AGAIN at at_us), or CSE_DONE with k's rsp filled (5000) when it cannot
 * park. defer_next_us (expiry_lock held) is the earliest time waited for; defer_run_due runs the
 * requests due at now_us, or with all refuses every waiting one (shutdown). */
enum cse_status defer_park(const struct cse_cont *k, int64_t at_us);
int64_t defer_next_us(const struct cse *cse);
void defer_run_due(struct cse *cse, int64_t now_us, bool all);
/* No request parks for its Operation Execution Time any more; those waiting are answered (5000). */
void defer_quiesce(struct cse *cse);
/* Non-blocking requests (nonblock.c). nbr_accept, for a request with rt 1 or 2 whose originator
 * passed the checks: commits its <request> resource, answers 1001/1002 (CSE_PENDING: k is resumed
 * after that commit), then runs a blocking copy through cse_dispatch and stores its result. CSE_DONE
 * with an error (5206 beyond the limits.nonblocking_* bounds, 4000 for a bad rt notificationURI). */
struct nbr *nbr_new(void);
int nbr_start(struct cse *cse);
/* Refuse new ones, wait for those accepted (before the outbound seam and the store go away). */
void nbr_stop(struct cse *cse);
void nbr_free(struct nbr *n);
enum cse_status nbr_accept(const struct cse_cont *k, const struct originator *o);

/* Polling channels (pollch.c): the "pch" client side of the outbound seam that queues requests for an AE with rr
 * false, and the long poll of <pollingChannel>/pcu. op_pcu serves a request whose target is a pcu
 * (RETRIEVE parks until a request is queued or limits.polling_timeout; NOTIFY carries the AE's
 * answer); CSE_PENDING when parked. */
struct pollch *pollch_new(struct cse *cse);
int pollch_start(struct cse *cse); /* after the outbound seam */
void pollch_quiesce(struct cse *cse);
void pollch_stop(struct cse *cse); /* before the outbound seam stops */
void pollch_free(struct pollch *p);
enum cse_status op_pcu(struct op_ctx *c);
/* The timer service (timers.c), serviced by the expiry thread: timers_add arms (after a commit;
 * any thread), timers_next_due tells when to wake (INT64_MAX: nothing armed), timers_tick submits
 * one writer job for what is due at now_ms. */
struct timers *timers_new(void);
void timers_free(struct timers *tm);
void timers_add(struct cse *cse, const char *ri, int64_t due_ms, int64_t arg);
int64_t timers_next_due(struct cse *cse);
void timers_tick(struct cse *cse, int64_t now_ms);
/* At start: a TIMER_RESUME timer for every resource of a type with timers. 0, or -1 on a store
 * failure. */
int timers_resume(struct cse *cse);
/* CSE registration to registrar.* (registration.c): start (nothing when no registrar), the
 * expiry thread's tick (attempts, retries, checks: asynchronous sends only), stop sending, free
 * (after the outbound seam stopped: no callback can run any more). */
int registration_start(struct cse *cse);
void registration_tick(struct cse *cse);
void registration_quiesce(struct cse *cse);
void registration_free(struct cse *cse);

/* Announcement (announce.c, TS-0001 §9.6.26, TS-0004 §7.3.3.10-11). annc_request_check: on the
 * request thread of a CREATE (parent) or UPDATE (parent NULL) of a type, its at and aa: at becomes
 * the list of target CSE-IDs (each a <remoteCSE> here: 4000 otherwise; an instance whose parent is
 * not announced there: 4005), aa only OA attributes (4000; row: the stored resource of an UPDATE,
 * whose custom attributes may be OA); 0 or an RSC. The annc_txn_* hooks write
 * the outbox steps inside the change's transaction (0 or an RSC): after a create's insert, after an
 * update's attributes were applied to doc (cur: the stored row before it; at reconciled in doc),
 * and before a delete removes row's subtree. The worker: start (after the outbound seam), kick
 * (look at the outbox now), stop (no more sends), free (after the outbound seam stopped). */
int annc_request_check(struct op_ctx *c, const struct rtype *rt, const struct store_row *parent,
                       const struct store_row *row, json_t *attrs);
int annc_txn_created(struct txn_ctx *t, const struct rtype *rt, const struct store_row *row);
int annc_txn_updated(struct txn_ctx *t, const struct rtype *rt, const struct store_row *cur, json_t *doc,
                     const json_t *patch);
int announce_start(struct cse *cse);
void announce_kick(struct cse *cse);
/* Announcement steps so far: finished (sent, or nothing left to send), retried, refused by the target. */
void announce_stats(struct cse *cse, unsigned long *done, unsigned long *retried, unsigned long *refused);
void announce_stop(struct cse *cse);
void announce_free(struct cse *cse);

/* Expiry sweeper (expiry.c). */
int expiry_start(struct cse *cse);
void expiry_stop(struct cse *cse);

/* Seconds since the epoch from the server's clock. */
int64_t cse_now(const struct cse *cse);
/* m2m:absRelTimestamp (TS-0004 §6.3.5.x): an absolute "YYYYMMDDTHHMMSS" or a number of
 * milliseconds after base_us, in microseconds. false when malformed (dispatch.c). */
bool abs_rel_us(const char *s, int64_t base_us, int64_t *out);

#endif
