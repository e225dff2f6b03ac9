/* fanout: requests to a <group>'s virtual fanOutPoint (TS-0001 §10.2.7.7, TS-0004 §7.4.14). Access
 * to the fanOutPoint is decided by the group's membersAccessControlPolicyIDs (its acpi when it has
 * none); each member request then goes through the whole dispatch pipeline with the original
 * originator, so every member's own policies decide for that member. The member responses are
 * aggregated into one m2m:agr response with status OK.
 *
 * One request from a binding and every member request it causes, at every nesting level, form one
 * fan-out tree (struct fantree), which is what the bounds apply to:
 *  - a member is reached at most once per tree: a second request to the same target is answered
 *    GROUP_REQUEST_IDENTIFIER_EXISTS (4104) without being performed, as TS-0004 §7.3.3.2 does for
 *    requests carrying the same Group Request Identifier; so groups that are each other's members
 *    cost one visit each instead of N^depth;
 *  - at most limits.fanout_requests member requests and limits.fanout_bytes of aggregated member
 *    responses per tree; beyond, the whole request is answered 4000 (see limits.h for why);
 *  - the request parks while its members are requested on a fan-out thread (at most
 *    limits.fanout_threads run at once, the others wait their turn), so no binding thread (HTTP
 *    worker, MQTT or CoAP loop) does a fan-out's work. The parking is the one every parked request
 *    uses (park.h): the fan holds the request's continuation and the last member to answer resumes
 *    it; each member request is dispatched with a continuation of its own that counts it. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "core_int.h"
#include "encoding/json.h"
#include "gidlist.h"
#include "rsc.h"
#include "util/buf.h"
#include "util/hash.h"
#include "util/mem.h"
#include "util/rand.h"
#include "util/timeutil.h"

enum { RSC_GROUP_REQUEST_IDENTIFIER_EXISTS = 4104, RSC_NO_MEMBERS = 4109 };

/* Per member entry of the aggregate beyond its content: the rsc, rqi and fr keys and punctuation. */
#define ENTRY_OVERHEAD 48

/* The state one fan-out tree shares (see above); owned by the root fan. */
struct fantree {
    pthread_mutex_t lock;
    size_t requests, max_requests; /* member requests reserved so far, and the bound */
    size_t bytes, max_bytes;       /* aggregated member response bytes so far, and the bound */
    const char *exceeded;          /* static reason once a bound was passed, else NULL */
    char **seen;                   /* targets reached (open addressing; NULL = free slot) */
    size_t nseen, cap;
    char *gid; /* the Group Request Identifier every member request carries (TS-0004 §7.4.14.2.4) */
};

struct fan;

struct member {
    struct fan *fan;
    char *id; /* the memberID, reported as the member response's From */
    char *to; /* memberID + the path after fopt */
    struct cse_request req;
    struct cse_response rsp;
};

struct fan {
    struct cse *cse;
    struct cse_response *rsp;
    struct cse_cont k;  /* the group request, parked on its members (k.done NULL: not parked) */
    atomic_int pending; /* members not yet answered, plus one held while issuing */
    size_t n;
    struct member *m;
    const char *rqi;
    struct fantree *tree;
    bool root;        /* the fan of the request from the binding: owns tree */
    struct fan *next; /* in the queue of parked fan-outs */
};

/* Parked root fan-outs and the threads that run them. */
struct fanq {
    pthread_mutex_t lock;
    pthread_cond_t idle;
    struct fan *head, *tail;
    size_t queued;
    long threads; /* running fan-out threads */
    bool stopping;
    struct gidlist *gids; /* Group Request Identifiers received, with their targets (TS-0004 §7.3.3.2) */
};

/* ---- the tree -------------------------------------------------------------------------------- */

static struct fantree *tree_new(const struct cse_config *cfg)
{
    struct fantree *t = mem_calloc(1, sizeof *t);
    pthread_mutex_init(&t->lock, NULL);
    t->max_requests = (size_t)cfg->limits_fanout_requests;
    t->max_bytes = (size_t)cfg->limits_fanout_bytes;
    t->cap = 64;
    t->seen = mem_calloc(t->cap, sizeof *t->seen);
    return t;
}

static void tree_free(struct fantree *t)
{
    for (size_t i = 0; i < t->cap; i++)
        mem_free(t->seen[i]);
    mem_free(t->seen);
    mem_free(t->gid);
    pthread_mutex_destroy(&t->lock);
    mem_free(t);
}

/* Insert key (copied) unless present; true when it was new. Under t->lock. */
static bool seen_insert(struct fantree *t, const char *key)
{
    if (2 * (t->nseen + 1) > t->cap) { /* keep the load under one half */
        size_t ocap = t->cap;
        char **old = t->seen;
        t->cap *= 2;
        t->seen = mem_calloc(t->cap, sizeof *t->seen);
        for (size_t i = 0; i < ocap; i++)
            if (old[i]) {
                size_t j = hash_str(old[i]) & (t->cap - 1);
                while (t->seen[j])
                    j = (j + 1) & (t->cap - 1);
                t->seen[j] = old[i];
            }
        mem_free(old);
    }
    size_t j = hash_str(key) & (t->cap - 1);
    for (; t->seen[j]; j = (j + 1) & (t->cap - 1))
        if (strcmp(t->seen[j], key) == 0)
            return false;
    t->seen[j] = mem_strdup(key);
    t->nseen++;
    return true;
}

/* The identity of a resolved target within a tree: the resource operated on, and for virtual
 * targets the container (la/ol) or group (fopt plus the path after it) they are relative to, so
 * that a latest instance deleted by one member request is not another one for the next. */
static char *target_key(const struct target *tgt)
{
    struct buf b;
    buf_init(&b);
    switch (tgt->virt) {
    case VIRT_LA: buf_printf(&b, "%s/la", tgt->row.pi); break;
    case VIRT_OL: buf_printf(&b, "%s/ol", tgt->row.pi); break;
    case VIRT_FOPT: buf_printf(&b, "%s/fopt/%s", tgt->row.ri, tgt->rest ? tgt->rest : ""); break;
    default: buf_puts(&b, tgt->row.ri); break;
    }
    return buf_take(&b, NULL);
}

static bool tree_mark(struct fantree *t, const struct target *tgt)
{
    char *key = target_key(tgt);
    pthread_mutex_lock(&t->lock);
    bool fresh = seen_insert(t, key);
    pthread_mutex_unlock(&t->lock);
    mem_free(key);
    return fresh;
}

static void tree_exceed(struct fantree *t, const char *reason)
{
    if (t->exceeded == NULL)
        t->exceeded = reason;
}

/* Reserve n member requests; false (and the tree marked exceeded) when that passes the bound. */
static bool tree_reserve(struct fantree *t, size_t n)
{
    pthread_mutex_lock(&t->lock);
    bool ok = t->exceeded == NULL && t->requests + n <= t->max_requests;
    if (ok)
        t->requests += n;
    else
        tree_exceed(t, "fanout-requests");
    pthread_mutex_unlock(&t->lock);
    return ok;
}

static void tree_add_bytes(struct fantree *t, size_t n)
{
    pthread_mutex_lock(&t->lock);
    t->bytes += n;
    if (t->bytes > t->max_bytes)
        tree_exceed(t, "fanout-bytes");
    pthread_mutex_unlock(&t->lock);
}

static bool tree_exceeded(struct fantree *t)
{
    pthread_mutex_lock(&t->lock);
    bool x = t->exceeded != NULL;
    pthread_mutex_unlock(&t->lock);
    return x;
}

/* TS-0004 §7.3.3.2: a request carrying a Group Request Identifier already received for the same
 * target is refused. Two records serve it: the fan-out tree of a group request made here (every
 * target it reached, never forgotten while it runs; it is what bounds the tree's work) and the
 * CSE's list of every gid received with its targets (gidlist.c), which also catches the repeats
 * that arrive from other CSEs: the member requests another CSE's fan-out sends here, and those of a
 * fan-out here that reach a target such a request reached already. Both answer 4104. */
int fanout_enter(struct cse *cse, const struct cse_request *req, const struct target *tgt, struct cse_response *rsp)
{
    /* a fanOutPoint nested too deep is refused by op_fanout and does not count as reached, so a
     * shallower path to it still fans out */
    if (tgt->virt == VIRT_FOPT && req->fanout_depth >= LIMIT_FANOUT_DEPTH)
        return 0;
    if (req->fan != NULL && !tree_mark(req->fan, tgt))
        return response_error(rsp, RSC_GROUP_REQUEST_IDENTIFIER_EXISTS, "fanout-revisit",
                              "this member was already reached by the same group request");
    if (req->gid == NULL || cse->fanouts == NULL)
        return 0;
    int64_t now = clock_now_us(&cse->clock), until = now + (int64_t)LIMIT_GID_KEEP_S * 1000000, x;
    if (req->rqet != NULL && abs_rel_us(req->rqet, now, &x) && x < until)
        until = x;
    char *key = target_key(tgt);
    bool fresh = gidlist_add(cse->fanouts->gids, req->gid, key, now, until);
    mem_free(key);
    if (fresh)
        return 0;
    return response_error(rsp, RSC_GROUP_REQUEST_IDENTIFIER_EXISTS, "gid-exists",
                          "a request with Group Request Identifier '%.64s' reached this target already", req->gid);
}

int fanout_enter_remote(const struct cse_request *req, const char *to, struct cse_response *rsp)
{
    if (req->fan == NULL)
        return 0;
    /* the SP-relative target the route step computed: the same whether the member was given
     * SP-relative or CSE-relative through the <remoteCSE> (TS-0001 §9.3.1) */
    struct target t = {.virt = VIRT_NONE};
    t.row.ri = (char *)to;
    if (tree_mark(req->fan, &t))
        return 0;
    return response_error(rsp, RSC_GROUP_REQUEST_IDENTIFIER_EXISTS, "fanout-revisit",
                          "this member was already reached by the same group request");
}

/* ---- members and aggregation ------------------------------------------------------------------ */

static enum acop acop_of(const struct cse_request *req)
{
    switch (req->op) {
    case OP_CREATE: return ACOP_CREATE;
    case OP_UPDATE: return ACOP_UPDATE;
    case OP_DELETE: return ACOP_DELETE;
    case OP_NOTIFY: return ACOP_NOTIFY;
    default: return req->fc.fu == 1 ? ACOP_DISCOVERY : ACOP_RETRIEVE;
    }
}

static bool is_denial(int rsc)
{
    return rsc == RSC_ORIGINATOR_HAS_NO_PRIVILEGE || rsc == RSC_ORIGINATOR_NOT_AUTHENTICATED ||
           rsc == RSC_SECURITY_ASSOCIATION_REQUIRED;
}

static void aggregate(struct fan *f)
{
    struct fantree *t = f->tree;
    if (f->root && t->exceeded != NULL) {
        f->rsp->fanout = false;
        response_error(f->rsp, RSC_BAD_REQUEST, t->exceeded,
                       strcmp(t->exceeded, "fanout-bytes") == 0
                           ? "the aggregated member responses would exceed %zu bytes (limits.fanout_bytes)"
                           : "the group request would need more than %zu member requests (limits.fanout_requests)",
                       strcmp(t->exceeded, "fanout-bytes") == 0 ? t->max_bytes : t->max_requests);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < f->n; i++) {
        struct member *m = &f->m[i];
        json_t *r = json_pack("{s:i, s:s, s:s}", "rsc", m->rsp.rsc, "rqi", f->rqi, "fr", m->id);
        if (is_denial(m->rsp.rsc)) {
            /* which policy of which resource refused, and so the member's resourceID and type, is
             * for the audit log and explain: the member may be one the originator cannot retrieve */
            json_object_set_new(r, "pc", json_pack("{s:s}", "m2m:dbg", rsc_name(m->rsp.rsc)));
        } else if (m->rsp.body) {
            json_t *pc = json_loadb(m->rsp.body, m->rsp.body_len, 0, NULL);
            if (pc)
                json_object_set_new(r, "pc", pc);
        } else if (m->rsp.message) {
            json_object_set_new(r, "pc", json_pack("{s:s}", "m2m:dbg", m->rsp.message));
        }
        json_array_append_new(list, r);
    }
    json_t *agr = json_pack("{s:{s:o}}", "m2m:agr", "m2m:rsp", list);
    f->rsp->body = json_encode(agr, &f->rsp->body_len);
    json_decref(agr);
    f->rsp->rsc = RSC_OK; /* TS-0004 §7.4.14.2.5: OK whatever the members answered */
    f->rsp->fanout = true;
    if (f->root && f->rsp->body_len > t->max_bytes) {
        MEM_FREE(f->rsp->body);
        f->rsp->body_len = 0;
        tree_exceed(t, "fanout-bytes");
        aggregate(f);
    }
}

static void fan_free(struct fan *f)
{
    for (size_t i = 0; i < f->n; i++) {
        mem_free(f->m[i].id);
        mem_free(f->m[i].to);
        response_free(&f->m[i].rsp);
    }
    mem_free(f->m);
    if (f->root)
        tree_free(f->tree);
    mem_free(f);
}

/* What a member's answer adds to the aggregate: its content, unless it is itself an aggregate whose
 * members were counted when they answered, plus the entry around it. */
static size_t entry_bytes(const struct fan *f, const struct member *m)
{
    size_t n = ENTRY_OVERHEAD + strlen(f->rqi) + strlen(m->id);
    if (!m->rsp.fanout)
        n += m->rsp.body_len + (m->rsp.message ? strlen(m->rsp.message) : 0);
    return n;
}

/* The members are all answered: aggregate, and hand the response on. */
static void fan_finish(struct fan *f)
{
    aggregate(f);
    struct cse_cont k = f->k;
    fan_free(f);
    cont_resume(&k, CONT_ANSWERED);
}

/* One member answered (on whichever thread completed it). The last one out finishes the fan. */
static void member_answered(struct fan *f)
{
    if (atomic_fetch_sub(&f->pending, 1) == 1)
        fan_finish(f);
}

/* A parked member request's done(): complete its response, count it, then count it as answered. */
static void member_done(void *arg)
{
    struct member *m = arg;
    struct fan *f = m->fan;
    cse_complete(f->cse, &m->req, &m->rsp);
    tree_add_bytes(f->tree, entry_bytes(f, m));
    member_answered(f);
}

/* Issue every member request (until a bound of the tree is passed: the rest are not performed).
 * Returns true when the caller holds the last count and must finish the fan. */
static bool issue(struct fan *f)
{
    for (size_t i = 0; i < f->n; i++) {
        struct member *m = &f->m[i];
        if (tree_exceeded(f->tree)) {
            response_error(&m->rsp, RSC_BAD_REQUEST, "fanout-bound", "not performed: a fan-out bound was reached");
            member_answered(f);
            continue;
        }
        if (cse_dispatch(f->cse, &m->req, &m->rsp, member_done, m) == CSE_DONE) {
            tree_add_bytes(f->tree, entry_bytes(f, m));
            member_answered(f);
        }
    }
    return atomic_fetch_sub(&f->pending, 1) == 1;
}

/* ---- parked fan-outs ----------------------------------------------------------------------- */

struct fanq *fanq_new(void)
{
    struct fanq *q = mem_calloc(1, sizeof *q);
    q->gids = gidlist_new(LIMIT_GID_ENTRIES);
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->idle, NULL);
    return q;
}

void fanq_stop(struct fanq *q)
{
    if (q == NULL)
        return;
    pthread_mutex_lock(&q->lock);
    q->stopping = true;
    while (q->threads > 0)
        pthread_cond_wait(&q->idle, &q->lock);
    pthread_mutex_unlock(&q->lock);
}

void fanq_free(struct fanq *q)
{
    if (q == NULL)
        return;
    gidlist_free(q->gids);
    pthread_cond_destroy(&q->idle);
    pthread_mutex_destroy(&q->lock);
    mem_free(q);
}

/* A fan-out thread: runs parked fan-outs until none is waiting, then ends. */
static void *fan_thread(void *arg)
{
    struct fanq *q = arg;
    pthread_mutex_lock(&q->lock);
    for (struct fan *f; (f = q->head) != NULL;) {
        q->head = f->next;
        if (q->head == NULL)
            q->tail = NULL;
        q->queued--;
        pthread_mutex_unlock(&q->lock);
        if (issue(f))
            fan_finish(f); /* calls the request's done(): the binding resumes it */
        pthread_mutex_lock(&q->lock);
    }
    if (--q->threads == 0)
        pthread_cond_broadcast(&q->idle);
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

/* Park the request on its fan-out: CSE_PENDING, or CSE_DONE with 5000 when it cannot wait. */
static enum cse_status park(struct fan *f)
{
    struct cse *cse = f->cse;
    struct fanq *q = cse->fanouts;
    pthread_mutex_lock(&q->lock);
    if (q->stopping || q->queued >= LIMIT_FANOUT_QUEUE) {
        bool stopping = q->stopping;
        pthread_mutex_unlock(&q->lock);
        struct cse_response *rsp = f->rsp;
        fan_free(f);
        response_error(rsp, RSC_INTERNAL_SERVER_ERROR, stopping ? "stopping" : "overload",
                       stopping ? "the server is shutting down" : "too many group requests are waiting");
        return CSE_DONE;
    }
    f->next = NULL;
    if (q->tail)
        q->tail->next = f;
    else
        q->head = f;
    q->tail = f;
    q->queued++;
    bool spawn = q->threads < cse->cfg->limits_fanout_threads;
    if (spawn)
        q->threads++;
    pthread_mutex_unlock(&q->lock);
    if (spawn) {
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&th, &attr, fan_thread, q) != 0)
            fan_thread(q); /* no thread to be had: this one does the work rather than nobody */
        pthread_attr_destroy(&attr);
    }
    return CSE_PENDING;
}

/* The member requests the tree of the group request c would make at most, counted before any is
 * performed (so that a request beyond limits.fanout_requests changes nothing): breadth-first over
 * the groups whose fanOutPoints it reaches, each group expanded once and only within
 * LIMIT_FANOUT_DEPTH, as the requests themselves will be. Members the originator may not reach
 * still count (an upper bound: the execution also reserves as it goes). Stops past max. */
struct pending_group {
    json_t *mid;
    char *rest;
    int depth; /* the fanout_depth of the request to this group's fanOutPoint */
};

static size_t tree_size(struct op_ctx *c, const json_t *mid, size_t max)
{
    struct fantree *walk = tree_new(c->cse->cfg);
    tree_mark(walk, c->tgt);
    size_t cap = 16, head = 0, tail = 0, count = 0;
    struct pending_group *q = mem_calloc(cap, sizeof *q);
    q[tail++] = (struct pending_group){json_incref((json_t *)mid), mem_strdup(c->tgt->rest ? c->tgt->rest : ""),
                                       c->req->fanout_depth};
    while (head < tail) {
        struct pending_group g = q[head++];
        size_t i;
        const json_t *e;
        json_array_foreach(g.mid, i, e)
        {
            if (++count > max)
                break;
            struct buf to;
            buf_init(&to);
            buf_puts(&to, json_string_value(e) ? json_string_value(e) : "");
            if (g.rest[0])
                buf_printf(&to, "/%s", g.rest);
            struct target t;
            struct cse_response scratch;
            response_init(&scratch);
            if (resolve_target(c->cse, c->view, to.p, c->now, &t, &scratch) == 0 && t.virt == VIRT_FOPT &&
                g.depth + 1 < LIMIT_FANOUT_DEPTH && tree_mark(walk, &t)) {
                json_t *doc = json_loads(t.row.doc, 0, NULL);
                if (tail == cap) {
                    cap *= 2;
                    q = mem_realloc(q, cap * sizeof *q);
                }
                q[tail++] = (struct pending_group){json_incref(json_object_get(doc, "mid")),
                                                   mem_strdup(t.rest ? t.rest : ""), g.depth + 1};
                json_decref(doc);
            }
            target_free(&t);
            response_free(&scratch);
            buf_free(&to);
        }
        json_decref(g.mid);
        mem_free(g.rest);
        if (count > max)
            break;
    }
    for (; head < tail; head++) {
        json_decref(q[head].mid);
        mem_free(q[head].rest);
    }
    mem_free(q);
    tree_free(walk);
    return count;
}

enum cse_status op_fanout(struct op_ctx *c)
{
    const struct store_row *grp = &c->tgt->row;
    const struct cse_request *req = c->req;
    if (req->fanout_depth >= LIMIT_FANOUT_DEPTH) {
        response_error(c->rsp, RSC_BAD_REQUEST, "fanout-depth", "group fan-out nested deeper than %d",
                       LIMIT_FANOUT_DEPTH);
        return CSE_DONE;
    }
    json_t *doc = json_loads(grp->doc, 0, NULL);
    /* the fanOutPoint is governed by macp (TS-0001 §9.6.13), the group's own acpi without it */
    struct store_row gate;
    store_row_copy(&gate, grp);
    const json_t *macp = json_object_get(doc, "macp");
    int rc = 0;
    if (json_is_array(macp)) {
        mem_free(gate.acpi);
        gate.acpi = NULL;
        rc = acpi_resolve(c, macp, false, &gate.acpi);
    }
    if (rc == 0)
        rc = op_authorize(c, acop_of(req), &gate, req->op == OP_CREATE ? req->ty : 0);
    store_row_free(&gate);
    const json_t *mid = json_object_get(doc, "mid");
    if (rc == 0 && json_array_size(mid) == 0)
        rc = response_error(c->rsp, RSC_NO_MEMBERS, "no-members", "the group has no members");
    bool root = req->fan == NULL;
    struct fantree *tree = root ? tree_new(c->cse->cfg) : req->fan;
    if (rc == 0 && root) {
        tree_mark(tree, c->tgt); /* a group that lists its own fanOutPoint reaches itself once */
        /* TS-0004 §7.4.14.2.4: the gid the request carries (fanout_enter checked it), else a new one */
        if (req->gid != NULL) {
            tree->gid = mem_strdup(req->gid);
        } else {
            char rnd[17];
            rand_alnum(rnd, 16);
            struct buf g;
            buf_init(&g);
            buf_printf(&g, "%s-g%s", c->cse->cfg->cse_id + 1, rnd);
            tree->gid = buf_take(&g, NULL);
        }
    }
    if (rc == 0 && root && tree_size(c, mid, tree->max_requests) > tree->max_requests)
        tree_exceed(tree, "fanout-requests");
    if (rc == 0 && !tree_reserve(tree, json_array_size(mid)))
        rc = response_error(c->rsp, RSC_BAD_REQUEST, "fanout-requests",
                            "the group request would need more than %zu member requests (limits.fanout_requests)",
                            tree->max_requests);
    if (rc != 0) {
        if (root)
            tree_free(tree);
        json_decref(doc);
        return CSE_DONE;
    }

    struct fan *f = mem_calloc(1, sizeof *f);
    f->cse = c->cse;
    f->rsp = c->rsp;
    f->k = c->k;
    f->k.why = PARK_FANOUT;
    f->rqi = req->rqi;
    f->tree = tree;
    f->root = root;
    f->n = json_array_size(mid);
    f->m = mem_calloc(f->n, sizeof *f->m);
    atomic_init(&f->pending, (int)f->n + 1);
    for (size_t i = 0; i < f->n; i++) {
        struct member *m = &f->m[i];
        m->fan = f;
        m->id = mem_strdup(json_string_value(json_array_get(mid, i)));
        struct buf to;
        buf_init(&to);
        buf_puts(&to, m->id);
        if (c->tgt->rest && c->tgt->rest[0]) {
            buf_putc(&to, '/');
            buf_puts(&to, c->tgt->rest);
        }
        m->to = buf_take(&to, NULL);
        m->req = *req;
        m->req.to = m->to;
        m->req.fanout_depth = req->fanout_depth + 1;
        m->req.fan = tree;
        m->req.gid = tree->gid;
        response_init(&m->rsp);
    }
    json_decref(doc);

    /* member requests take views of their own: give ours back first so nested dispatches can
     * never exhaust the pool */
    c->cse->store->ops->view_release(c->cse->store, c->view);
    c->view = NULL;
    /* the request from the binding parks; nested fan-outs run on the fan-out thread already */
    if (root && cont_can_park(&c->k) && c->cse->fanouts != NULL)
        return park(f);
    if (!issue(f))
        return CSE_PENDING;
    aggregate(f); /* every member answered synchronously */
    fan_free(f);
    return CSE_DONE;
}
