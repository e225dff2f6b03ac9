/* announce: resource announcement, the announcing side (TS-0001 §9.6.26, TS-0004 §7.3.3.10-11).
 *
 * A CREATE or UPDATE that names CSE-IDs in announceTo (at), the UPDATE of an announced resource
 * and the DELETE of one write the announcement steps they call for into the store's outbox in the
 * transaction of the change itself (annc_txn_*), so a step is never lost and never sent for a change
 * that rolled back. The response does not wait for the announcement target: one worker thread here
 * drains the outbox, per target CSE in the order the steps were written, through the outbound seam
 * (From this CSE's CSE-ID, over the hop-by-hop association of forwarding), retrying a target that
 * does not answer with a capped backoff. A successful CREATE replaces the CSE-ID in the original's
 * at by the announced resource's address (TS-0001 §9.6.26.1) and removes its step in one
 * transaction, an update of the original like any other (lt, st, its subscribers notified).
 *
 * resourceName is NP in an announcing CREATE (TS-0004 Table 7.4.26.1-2): the target names the
 * copy, this CSE's <CSEBaseAnnc> included. So a CREATE that may have been sent before without its
 * answer (a timeout, or a step found in the outbox at start) first looks for the copy it made: a
 * discovery below the parent (fu=1, ty the announced type, lvl=1, lnk the original); one found is
 * adopted, so none is made twice. This CSE's <CSEBaseAnnc> there is found the same way (by its lnk)
 * once per start, else created.
 *
 * A failure answer is transient (retried with the backoff, holding that target's later steps) or
 * permanent (the step dropped with a warning and counted refused), by transient():
 *   transient: no answer, 4008 REQUEST_TIMEOUT, 5000 INTERNAL_SERVER_ERROR, 5103 TARGET_NOT_REACHABLE
 *              and any other 5xxx but the four below;
 *   permanent: every 4xxx (4000, 4004, 4005, 4103, 4105, 4108, ...), 5001 NOT_IMPLEMENTED, 5105
 *              RECEIVER_HAS_NO_PRIVILEGE, 5106 ALREADY_EXISTS, 5207 NOT_ACCEPTABLE.
 * Except: 4004 for a CREATE below this CSE's <CSEBaseAnnc> (it was deleted there: found or made
 * again first). */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/outbound.h"
#include "core_int.h"
#include "encoding/json.h"
#include "route.h"
#include "rsc.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/timeutil.h"

/* at most this many outbox steps are looked at per pass (the oldest): each target's first */
#define ANNC_SCAN       256
#define ANNC_TARGETS    32
#define ANNC_RETRY_MS   1000
#define ANNC_ANSWER_MAX (64 * 1024)

enum { OUT_CREATE = 1, OUT_UPDATE = 3, OUT_DELETE = 4 };
/* P_CBA_FIND / P_FIND: looking for this CSE's <CSEBaseAnnc> / the copy by lnk (discovery) */
enum phase { P_CBA_FIND, P_CBA, P_FIND, P_CREATE, P_UPDATE, P_DELETE };

struct annc_target {
    char csi[LIMIT_NAME_LEN + 2];
    bool busy;   /* a step of this target is in progress */
    bool seen;   /* during one scan: its first step was looked at */
    bool cba_ok; /* this CSE's <CSEBaseAnnc> exists there (learnt since start), at cba */
    char cba[LIMIT_ID_LEN + 1];
    int64_t sent_id;    /* a CREATE step sent that got no definite answer: it may exist there */
    int64_t due_ms;     /* nothing before (backing off) */
    int64_t backoff_ms; /* the next delay after a failure */
};

struct step {
    struct step *next;
    struct announcer *an;
    struct annc_target *tg;
    int64_t id;
    char *ri, *addr; /* the original's resourceID; the announced resource's address (UPDATE/DELETE) */
    int op;
    enum phase phase;
    char *to;    /* CREATE: the announced parent's address */
    bool to_cba; /* CREATE: to is this CSE's <CSEBaseAnnc> there (else the parent's copy) */
    char *lnk;   /* CREATE: the original's SP-relative address */
    bool looked; /* CREATE: the copy was looked for (P_FIND) and is not there */
    /* the answer */
    int rsc;
    char *location, *found; /* Content-Location; the first address a discovery found */
    char why[160];          /* a refusal's Content (its debugging message), for the log */
};

struct announcer {
    struct cse *cse;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stopping, kicked;
    int inflight; /* sends and store jobs whose callbacks have not run */
    struct step *answered;
    struct annc_target tg[ANNC_TARGETS];
    int ntg;
    int64_t boot_max; /* the newest step of the first scan: steps up to it may have been sent before
                         a restart (-1 until then; worker thread only) */
    bool booted;
    atomic_ulong done, retried, refused; /* steps, for the metrics */
};

static int64_t mono_ms(void)
{
    return clock_mono_us() / 1000;
}

/* "/id-in" of an entry of at: a CSE-ID, or an announced resource's SP-relative address under it.
 * false when e is neither. */
static bool entry_csi(const char *e, char *csi, size_t len)
{
    if (e == NULL || e[0] != '/' || e[1] == '/' || e[1] == '\0')
        return false;
    size_t n = strcspn(e + 1, "/");
    if (n + 2 > len)
        return false;
    memcpy(csi, e, n + 1);
    csi[n + 1] = '\0';
    return true;
}

static bool is_address(const char *e)
{
    return e && e[0] == '/' && strchr(e + 1, '/') != NULL;
}

/* Does list (an at) name csi, as a CSE-ID or an address under it? */
static bool announced_to(const json_t *list, const char *csi)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        char c[LIMIT_NAME_LEN + 2];
        if (entry_csi(json_string_value(e), c, sizeof c) && strcmp(c, csi) == 0)
            return true;
    }
    return false;
}

/* The <remoteCSE> of csi here (registree or registrar), into out (caller frees). */
static bool remote_cse(struct cse *cse, struct store_view *v, const char *csi, struct store_row *out)
{
    return route_csr_of(cse, v, csi, out); /* by csi: an AE may hold the CSE-ID's name */
}

/* ---- the request side: announceTo and announcedAttribute (TS-0004 §7.3.3.3/§7.3.3.4 Recv-6.6) ---- */

/* The custom attributes of a resource (doc) of type rt that are OA (rt->annc_custom_oa): *defs and
 * how many, 0 when none. */
static int custom_oa(struct cse *cse, const struct rtype *rt, const json_t *doc, const struct attr_def **defs)
{
    char root[LIMIT_ROOT_LEN];
    if (!rt->annc_custom_oa || rt->root == NULL || rt->custom_attrs == NULL || doc == NULL ||
        rt->root(cse, doc, root, sizeof root) != 0)
        return 0;
    struct cse_response rsp;
    response_init(&rsp);
    int n = 0;
    if (rt->custom_attrs(cse, root, doc, NULL, defs, &n, &rsp) != 0)
        n = 0;
    response_free(&rsp);
    return n;
}

int annc_request_check(struct op_ctx *c, const struct rtype *rt, const struct store_row *parent,
                       const struct store_row *row, json_t *attrs)
{
    json_t *at = json_object_get(attrs, "at"), *aa = json_object_get(attrs, "aa");
    if (at == NULL && aa == NULL)
        return 0;
    if (rt->annc_ty == 0) /* the attribute policies of such a type refuse them first */
        return response_error(c->rsp, RSC_NOT_IMPLEMENTED, "not-announceable", "m2m:%s is not announceable", rt->sn);
    size_t i;
    json_t *e;
    json_array_foreach(aa, i, e)
    {
        const char *sn = json_string_value(e);
        bool oa = false;
        for (const char *const *p = rt->annc_oa; p && *p && !oa; p++)
            oa = strcmp(*p, sn) == 0;
        if (!oa && rt->annc_custom_oa) { /* a custom attribute of the resource's definition */
            json_t *stored = row ? json_loads(row->doc, 0, NULL) : NULL;
            const struct attr_def *defs = NULL;
            int n = custom_oa(c->cse, rt, row ? stored : attrs, &defs);
            for (int k = 0; k < n && !oa; k++)
                oa = strcmp(defs[k].sn, sn) == 0;
            json_decref(stored);
        }
        if (!oa) /* TS-0001 §9.6.26.1: only attributes marked OA are named in announcedAttribute */
            return response_error(c->rsp, RSC_BAD_REQUEST, "bad-aa",
                                  "announcedAttribute: '%.64s' is not an optionally announced attribute of m2m:%s", sn,
                                  rt->sn);
    }
    if (!json_is_array(at))
        return 0; /* absent, or null: announced nowhere */
    json_t *norm = json_array();
    int rc = 0;
    json_array_foreach(at, i, e)
    {
        const char *s = json_string_value(e);
        char csi[LIMIT_NAME_LEN + 2];
        struct store_row csr;
        if (!entry_csi(s, csi, sizeof csi)) { /* a CSE-relative address of a <remoteCSE> here */
            bool ok = false;
            if (resolve_row(c, s, true, &csr) == 0) {
                json_t *doc = csr.ty == TY_REMOTE_CSE ? json_loads(csr.doc, 0, NULL) : NULL;
                const char *v = json_string_value(json_object_get(doc, "csi"));
                ok = v && entry_csi(v, csi, sizeof csi) && strcmp(v, csi) == 0;
                json_decref(doc);
                store_row_free(&csr);
            }
            if (!ok) {
                rc = response_error(c->rsp, RSC_BAD_REQUEST, "bad-at",
                                    "announceTo[%zu] is neither a CSE-ID nor the address of a <remoteCSE> here", i);
                break;
            }
        }
        if (strcmp(csi, c->cse->cfg->cse_id) == 0) {
            rc = response_error(c->rsp, RSC_BAD_REQUEST, "bad-at", "announceTo[%zu] names this CSE", i);
            break;
        }
        /* reachable from here: a CSE registered here or the registrar (both held as <remoteCSE>),
         * or a descendant CSE of a registree (its dcse), reached through it (TS-0001 §9.6.26.1) */
        struct route r;
        if (remote_cse(c->cse, c->view, csi, &csr)) {
            store_row_free(&csr);
        } else if (!route_registree(c->cse, c->view, csi, &r)) {
            rc = response_error(c->rsp, RSC_BAD_REQUEST, "bad-at",
                                "announceTo[%zu]: %s is not a CSE registered here, a descendant of one, or this CSE's "
                                "registrar",
                                i, csi);
            break;
        }
        /* an address on that CSE (TS-0001 §9.6.1.3, TS-0004 §7.3.3.10 step 1b): the announced
         * resource is created there, as given (that CSE validates it) */
        bool given = is_address(s);
        /* TS-0004 §7.3.3.10: an instance announced to a CSE-ID only below its announced parent */
        if (!given && rt->annc_needs_parent && parent != NULL) {
            json_t *pdoc = json_loads(parent->doc, 0, NULL);
            bool announced = false;
            size_t k;
            json_t *pe;
            json_array_foreach(json_object_get(pdoc, "at"), k, pe)
            {
                char pc[LIMIT_NAME_LEN + 2];
                announced |= entry_csi(json_string_value(pe), pc, sizeof pc) && strcmp(pc, csi) == 0;
            }
            json_decref(pdoc);
            if (!announced) {
                rc = response_error(c->rsp, RSC_OPERATION_NOT_ALLOWED, "parent-not-announced",
                                    "m2m:%s is announced to %s only below its parent announced there", rt->sn, csi);
                break;
            }
        }
        bool dup = false; /* one announced resource per CSE: the first entry naming it */
        size_t k;
        json_t *ne;
        json_array_foreach(norm, k, ne)
        {
            char nc[LIMIT_NAME_LEN + 2];
            dup |= entry_csi(json_string_value(ne), nc, sizeof nc) && strcmp(nc, csi) == 0;
        }
        if (!dup)
            json_array_append_new(norm, json_string(given ? s : csi));
    }
    if (rc == 0 && json_array_size(norm) == 0 && parent != NULL)
        json_object_del(attrs, "at"); /* created announced nowhere: no at (TS-0001 §9.6.1.3) */
    else if (rc == 0)
        json_object_set(attrs, "at", norm); /* CSE-IDs or given addresses: the transaction keeps known ones */
    json_decref(norm);
    return rc;
}

/* ---- the transaction side: outbox steps written with the change ---- */

static int outbox(struct txn_ctx *t, const char *ri, const char *csi, int op, const char *addr)
{
    if (t->txn->st->ops->outbox_add(t->txn, ri, csi, op, addr) != STORE_OK)
        return response_error(t->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
    if (t->notes != NULL)
        t->notes->annc = true; /* op_committed kicks the worker */
    return 0;
}

int annc_txn_created(struct txn_ctx *t, const struct rtype *rt, const struct store_row *row)
{
    if (rt->annc_ty == 0 || row->doc == NULL || strstr(row->doc, "\"at\"") == NULL)
        return 0;
    json_t *doc = json_loads(row->doc, 0, NULL);
    json_t *at = json_object_get(doc, "at");
    size_t i;
    json_t *e;
    int rc = 0;
    bool given = false;
    json_array_foreach(at, i, e)
    {
        const char *a = json_string_value(e);
        char csi[LIMIT_NAME_LEN + 2];
        if (rc != 0 || !entry_csi(a, csi, sizeof csi))
            continue;
        /* an address given (the parent to create it below) travels with the step; at holds the
         * CSE-ID until the announced resource exists, like for a CSE-ID */
        rc = outbox(t, row->ri, csi, OUT_CREATE, is_address(a) ? a : "");
        if (is_address(a)) {
            json_array_set_new(at, i, json_string(csi));
            given = true;
        }
    }
    if (rc == 0 && given) {
        struct store_row r = *row;
        r.doc = json_encode(doc, NULL);
        rc = t->txn->st->ops->update(t->txn, &r) == STORE_OK
                 ? 0
                 : response_error(t->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
        mem_free(r.doc);
    }
    json_decref(doc);
    return rc;
}

int annc_txn_updated(struct txn_ctx *t, const struct rtype *rt, const struct store_row *cur, json_t *doc,
                     const json_t *patch)
{
    if (rt->annc_ty == 0)
        return 0;
    json_t *req = json_object_get(patch, "at");
    bool announced = strstr(cur->doc, "\"at\"") != NULL;
    if (req == NULL && !announced)
        return 0;
    json_t *old = json_loads(cur->doc, 0, NULL);
    json_t *old_at = json_object_get(old, "at");
    json_t *merged = json_array();
    int rc = 0;
    size_t i, k;
    json_t *e, *r;
    if (req != NULL) {
        /* TS-0004 §7.3.3.11: a target no longer named is de-announced; §7.3.3.10: a new one announced */
        json_array_foreach(old_at, i, e)
        {
            char csi[LIMIT_NAME_LEN + 2];
            const char *s = json_string_value(e);
            bool kept = false;
            json_array_foreach(req, k, r)
            {
                char rc2[LIMIT_NAME_LEN + 2];
                kept |= entry_csi(s, csi, sizeof csi) && entry_csi(json_string_value(r), rc2, sizeof rc2) &&
                        strcmp(rc2, csi) == 0;
            }
            if (kept)
                json_array_append(merged, e);
            else if (rc == 0 && is_address(s) && entry_csi(s, csi, sizeof csi))
                rc = outbox(t, cur->ri, csi, OUT_DELETE, s);
        }
        json_array_foreach(req, k, r)
        {
            bool known = false;
            const char *ra = json_string_value(r);
            char rcsi[LIMIT_NAME_LEN + 2];
            if (!entry_csi(ra, rcsi, sizeof rcsi))
                continue;
            json_array_foreach(old_at, i, e)
            {
                char csi[LIMIT_NAME_LEN + 2];
                known |= entry_csi(json_string_value(e), csi, sizeof csi) && strcmp(rcsi, csi) == 0;
            }
            if (!known) { /* at holds the CSE-ID until it exists; a given address travels with the step */
                json_array_append_new(merged, json_string(rcsi));
                if (rc == 0)
                    rc = outbox(t, cur->ri, rcsi, OUT_CREATE, is_address(ra) ? ra : "");
            }
        }
        /* TS-0001 §9.6.1.3: at is present only while the resource is announced somewhere */
        if (json_array_size(merged) > 0)
            json_object_set(doc, "at", merged);
        else
            json_object_del(doc, "at");
    } else {
        json_array_extend(merged, old_at);
    }
    /* TS-0004 §7.3.3.10: the announced attributes (and aa's changes) reach every announced copy;
     * one that is still being created is created with the current state */
    bool other = false;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)patch, key, v) other |= strcmp(key, "at") != 0;
    if (other) {
        json_array_foreach(merged, i, e)
        {
            const char *s = json_string_value(e);
            char csi[LIMIT_NAME_LEN + 2];
            bool added = false; /* by this update: its CREATE carries the current state */
            json_array_foreach(req, k, r)
            {
                char rcsi[LIMIT_NAME_LEN + 2];
                added |= entry_csi(json_string_value(r), rcsi, sizeof rcsi) && strcmp(rcsi, s) == 0 &&
                         !announced_to(old_at, s);
            }
            /* a copy still being created (its CREATE may be on its way with the state before this
             * update): the UPDATE follows it to whatever address it gets ("" until then) */
            if (rc == 0 && !added && entry_csi(s, csi, sizeof csi))
                rc = outbox(t, cur->ri, csi, OUT_UPDATE, is_address(s) ? s : "");
        }
    }
    json_decref(merged);
    json_decref(old);
    return rc;
}

/* Deleting a subtree: every announced copy of its resources goes (TS-0004 §7.3.3.11), the ones below
 * an announced copy that goes too with it there (one DELETE for the topmost). The subtree is asked of
 * the store by type (indexed): the announceable types, but not the instances, which are announced
 * only below their announced parent, so their copies go with its copy. */
struct gone_scan {
    json_t *addrs; /* [[ri, address], ...] */
};

static void collect(struct gone_scan *g, const struct store_row *row)
{
    if (row->doc == NULL || strstr(row->doc, "\"at\"") == NULL)
        return;
    const struct rtype *rt = rtype_find(row->ty);
    if (rt == NULL || rt->annc_ty == 0)
        return;
    json_t *doc = json_loads(row->doc, 0, NULL);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "at"), i, e) if (is_address(json_string_value(e)))
        json_array_append_new(g->addrs, json_pack("[s,O]", row->ri, e));
    json_decref(doc);
}

static int collect_row(void *arg, const struct store_row *row)
{
    collect(arg, row);
    return 0;
}

int annc_txn_deleting(struct txn_ctx *t, const struct store_row *row)
{
    struct gone_scan g = {.addrs = json_array()};
    collect(&g, row);
    const struct rtype *rt = rtype_find(row->ty);
    int rc = 0;
    if (rt == NULL || !rt->leaf) {
        int tys[64], n = 0;
        for (size_t i = 0; rtype_at(i) && n < (int)(sizeof tys / sizeof tys[0]); i++)
            if (rtype_at(i)->annc_ty != 0 && !rtype_at(i)->annc_needs_parent)
                tys[n++] = rtype_at(i)->ty;
        struct store_filter f = {.ty = tys, .nty = n, .sts = -1, .stb = -1, .sza = -1, .szb = -1, .max_depth = -1};
        /* INT64_MIN: the expired ones too (a subtree going by expiry has expired with its root) */
        rc = t->txn->st->ops->find(t->txn, row->path, &f, INT64_MIN, collect_row, &g) < 0 ? -1 : 0;
    }
    if (rc != 0)
        rc = response_error(t->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
    size_t i, k;
    json_t *e, *o;
    json_array_foreach(g.addrs, i, e)
    {
        const char *addr = json_string_value(json_array_get(e, 1));
        bool below = false;
        json_array_foreach(g.addrs, k, o)
        {
            const char *up = json_string_value(json_array_get(o, 1));
            size_t n = strlen(up);
            below |= k != i && strncmp(addr, up, n) == 0 && addr[n] == '/';
        }
        char csi[LIMIT_NAME_LEN + 2];
        if (rc == 0 && !below && entry_csi(addr, csi, sizeof csi))
            rc = outbox(t, json_string_value(json_array_get(e, 0)), csi, OUT_DELETE, addr);
    }
    json_decref(g.addrs);
    return rc;
}

/* ---- the worker ---- */

struct scan_rows {
    json_t *rows; /* [[id, ri, target, op, addr], ...] */
};

static int scan_row(void *arg, const struct store_outbox *o)
{
    struct scan_rows *s = arg;
    json_array_append_new(s->rows, json_pack("[I,s,s,i,s]", (json_int_t)o->id, o->ri, o->target, o->op, o->addr));
    return 0;
}

static void step_free(struct step *s)
{
    mem_free(s->ri);
    mem_free(s->addr);
    mem_free(s->to);
    mem_free(s->lnk);
    mem_free(s->location);
    mem_free(s->found);
    mem_free(s);
}

/* Under an->lock. */
static void release(struct announcer *an)
{
    if (--an->inflight == 0)
        pthread_cond_broadcast(&an->cond);
}

/* The target answered something that may pass: try again after the backoff. */
static void retry(struct step *s, int rsc, bool quick)
{
    struct announcer *an = s->an;
    pthread_mutex_lock(&an->lock);
    struct annc_target *tg = s->tg;
    int64_t delay = quick ? ANNC_RETRY_MS : tg->backoff_ms;
    if (!quick) {
        int64_t cap = an->cse->cfg->announce_retry_max;
        tg->backoff_ms = tg->backoff_ms * 2 > cap ? cap : tg->backoff_ms * 2;
    }
    tg->due_ms = mono_ms() + delay;
    tg->busy = false;
    pthread_mutex_unlock(&an->lock);
    if (!quick)
        atomic_fetch_add_explicit(&an->retried, 1, memory_order_relaxed);
    if (!quick)
        LOG(an->cse->log, LOG_WARN, "announce: step %lld (op %d of %s) at %s failed (rsc %d); again in %lld ms",
            (long long)s->id, s->op, s->ri, tg->csi, rsc, (long long)delay);
    step_free(s);
}

/* ---- finishing a step: one writer job (the outbox step removed, the original's at kept right) ---- */

/* FIN_DROP: the step only; FIN_CREATED: the target's CSE-ID in at becomes the copy's address;
 * FIN_FAILED: the target's CSE-ID leaves at (refused); FIN_GONE: the copy's address leaves at (the
 * target no longer has it, e.g. it went with its announced parent's copy) */
enum fin { FIN_DROP, FIN_CREATED, FIN_FAILED, FIN_GONE };

struct fin_job {
    struct store_job job;
    struct step *s;
    enum fin how;
    struct notes notes; /* the original's subscribers, told of its at changed */
};

static int fin_run(struct store_view *txn, void *arg)
{
    struct fin_job *f = arg;
    struct step *s = f->s;
    const struct store_ops *ops = txn->st->ops;
    struct cse *cse = s->an->cse;
    struct cse_response rsp;
    response_init(&rsp);
    struct txn_ctx t = {.cse = cse, .txn = txn, .now = cse_now(cse), .rsp = &rsp, .notes = &f->notes};
    int rc = ops->outbox_del(txn, s->id) == STORE_OK ? 0 : 1;
    if (rc == 0 && f->how != FIN_DROP) {
        struct store_row row;
        bool found = ops->get_ri(txn, s->ri, t.now, &row) == STORE_OK;
        json_t *doc = found ? json_loads(row.doc, 0, NULL) : NULL;
        json_t *at = json_object_get(doc, "at");
        bool replaced = false;
        size_t i;
        json_t *e;
        const char *match = f->how == FIN_GONE ? s->addr : s->tg->csi;
        json_array_foreach(at, i, e)
        {
            if (!replaced && strcmp(json_string_value(e), match) == 0) {
                if (f->how == FIN_CREATED)
                    json_array_set_new(at, i, json_string(s->addr));
                else
                    json_array_remove(at, i);
                replaced = true;
                break;
            }
        }
        if (replaced) {
            /* TS-0004 §7.3.3.10: the CSE-ID in at becomes the announced resource's address (or
             * leaves it): a change of the original like an UPDATE's (TS-0001 §9.6.1.3: lt, and st
             * where the type has it), its subscribers notified of it */
            json_t *modified = json_object();
            if (json_array_size(at) == 0) {
                json_object_del(doc, "at");
                json_object_set_new(modified, "at", json_null());
            } else {
                json_object_set(modified, "at", at);
            }
            char lt[TS_LEN + 1];
            ts_format(t.now, lt);
            json_set_str(doc, "lt", lt);
            json_set_str(modified, "lt", lt);
            const struct rtype *rt = rtype_find(row.ty);
            if (rt && rt->has_st) {
                json_set_int(doc, "st", json_int_or(doc, "st", 0) + 1);
                json_object_set(modified, "st", json_object_get(doc, "st"));
            }
            mem_free(row.doc);
            row.doc = json_encode(doc, NULL);
            rc = ops->update(txn, &row) == STORE_OK ? 0 : 1;
            if (rc == 0)
                sub_event(&t, &row, 1 /* update of the resource */, &row, modified);
            json_decref(modified);
        } else if (f->how == FIN_CREATED) {
            /* deleted or de-announced while the CREATE travelled: the copy made goes too */
            rc = ops->outbox_add(txn, s->ri, s->tg->csi, OUT_DELETE, s->addr) == STORE_OK ? 0 : 1;
        }
        json_decref(doc);
        if (found)
            store_row_free(&row);
    }
    response_free(&rsp);
    return rc;
}

static void fin_done(void *arg, bool committed)
{
    struct fin_job *f = arg;
    struct announcer *an = f->s->an;
    if (committed)
        notes_send(an->cse, &f->notes);
    else
        notes_free(&f->notes);
    if (committed)
        atomic_fetch_add_explicit(f->how == FIN_FAILED ? &an->refused : &an->done, 1, memory_order_relaxed);
    pthread_mutex_lock(&an->lock);
    f->s->tg->busy = false;
    if (committed)
        f->s->tg->backoff_ms = ANNC_RETRY_MS;
    else
        f->s->tg->due_ms = mono_ms() + ANNC_RETRY_MS;
    an->kicked = true;
    release(an);
    pthread_cond_broadcast(&an->cond);
    pthread_mutex_unlock(&an->lock);
    step_free(f->s);
    mem_free(f);
}

static void finish(struct step *s, enum fin how)
{
    struct announcer *an = s->an;
    struct fin_job *f = mem_calloc(1, sizeof *f);
    f->s = s;
    f->how = how;
    notes_init(&f->notes);
    f->job = (struct store_job){.run = fin_run, .done = fin_done, .arg = f};
    pthread_mutex_lock(&an->lock);
    an->inflight++;
    pthread_mutex_unlock(&an->lock);
    if (an->cse->store->ops->submit(an->cse->store, &f->job) != STORE_OK) {
        pthread_mutex_lock(&an->lock);
        release(an);
        pthread_mutex_unlock(&an->lock);
        mem_free(f);
        retry(s, RSC_INTERNAL_SERVER_ERROR, true);
    }
}

/* ---- sending ---- */

static void answer(void *arg, const struct out_response *res)
{
    struct step *s = arg;
    struct announcer *an = s->an;
    s->rsc = res->rsc;
    if (res->location)
        s->location = mem_strdup(res->location);
    if (res->body && res->rsc >= 4000) { /* printable characters only: it goes to the log */
        size_t n = 0;
        for (size_t i = 0; i < res->len && n + 1 < sizeof s->why; i++)
            s->why[n++] = res->body[i] >= 0x20 && res->body[i] < 0x7f ? res->body[i] : '?';
        s->why[n] = '\0';
    }
    if (res->body && (s->phase == P_FIND || s->phase == P_CBA_FIND)) { /* a discovery's m2m:uril */
        json_t *doc = json_loadb(res->body, res->len, 0, NULL);
        const char *u = json_string_value(json_array_get(json_object_get(doc, "m2m:uril"), 0));
        if (u && u[0] != '\0')
            s->found = mem_strdup(u);
        json_decref(doc);
    }
    pthread_mutex_lock(&an->lock);
    s->next = an->answered;
    an->answered = s;
    release(an);
    pthread_cond_broadcast(&an->cond);
    pthread_mutex_unlock(&an->lock);
}

/* Send op to the announced resource (or parent) at address to ("/id-in/cse-in/..."), through the
 * next hop towards the target CSE. 0, or -1 when it could not be sent (no route, refused). */
static int send_q(struct step *s, struct store_view *v, enum cse_op op, const char *to, int ty, json_t *body,
                  const char *query)
{
    struct cse *cse = s->an->cse;
    char entry[LIMIT_ID_LEN + 400];
    /* "<hop CSE-ID> <hop address>/~<target CSE-ID>": the route to the target CSE */
    if (!route_notify_target(cse, v, s->tg->csi, entry, sizeof entry))
        return -1;
    char *sp = strchr(entry, ' ');
    size_t base = strlen(entry) - strlen(s->tg->csi);
    if (sp == NULL || base <= (size_t)(sp - entry))
        return -1;
    entry[base] = '\0';
    *sp = '\0';
    size_t ulen = strlen(sp + 1) + strlen(to) + 1;
    char *url = mem_alloc(ulen);
    snprintf(url, ulen, "%s%s", sp + 1, to);
    size_t len = 0;
    char *text = body ? json_encode(body, &len) : NULL;
    struct out_request rq = {.op = op,
                             .fr = cse->cfg->cse_id,
                             .ty = ty,
                             .body = text,
                             .len = len,
                             .query = query,
                             .timeout_ms = (int)cse->cfg->forward_timeout,
                             .max_attempts = 1,
                             .max_answer = ANNC_ANSWER_MAX,
                             .cse_peer = true,
                             .peer_csi = entry};
    pthread_mutex_lock(&s->an->lock);
    s->an->inflight++;
    pthread_mutex_unlock(&s->an->lock);
    int rc = outbound_send(cse->outbound, url, &rq, answer, s);
    if (rc != 0) {
        pthread_mutex_lock(&s->an->lock);
        release(s->an);
        pthread_mutex_unlock(&s->an->lock);
    }
    mem_free(text);
    mem_free(url);
    return rc;
}

static int send_to(struct step *s, struct store_view *v, enum cse_op op, const char *to, int ty, json_t *body)
{
    return send_q(s, v, op, to, ty, body, NULL);
}

/* Discover below parent (an SP-relative address at the target) the child of type ty whose lnk is
 * lnk: the copy this CSE made there (TS-0004 §7.3.3.10; rn being NP, its name is the target's). */
static int send_find(struct step *s, struct store_view *v, const char *parent, int ty, const char *lnk)
{
    char q[LIMIT_ID_LEN + 64];
    snprintf(q, sizeof q, "fu=1&ty=%d&lvl=1&lnk=%s", ty, lnk);
    return send_q(s, v, OP_RETRIEVE, parent, 0, NULL, q);
}

/* An address the target gave (a Content-Location, a discovered URI) as an SP-relative address:
 * SP-relative already ("/id-in/cse-in/..."), or CSE-relative at the target, as a path
 * ("/cse-in/...") or not ("cse-in/..."). A new string. */
static char *target_address(const char *csi, const char *loc)
{
    /* a CSE that forwarded the CREATE (a descendant target) answers the SP-relative form in its
     * binding's spelling: "~/id-asn/cse-asn/x" or "/~/id-asn/cse-asn/x" is "/id-asn/cse-asn/x" */
    if (strncmp(loc, "/~/", 3) == 0)
        loc += 2;
    else if (strncmp(loc, "~/", 2) == 0)
        loc += 1;
    size_t cl = strlen(csi);
    bool sp = strncmp(loc, csi, cl) == 0 && loc[cl] == '/';
    if (!sp && loc[0] == '/')
        loc++;
    size_t n = cl + strlen(loc) + 2;
    char *a = mem_alloc(n);
    if (sp)
        snprintf(a, n, "%s", loc);
    else
        snprintf(a, n, "%s/%s", csi, loc);
    return a;
}

/* The attributes announced for row (TS-0004 §7.3.3.10): lnk, et, lbl, acpi as the announced
 * policies at the target, MA attributes and the OA ones named in aa (on an update the OA ones not
 * named, null: de-announced). 1: not yet (a policy in acpi is still being announced there), -1:
 * never (nothing to send), 0 with *out. */
static int compose(struct step *s, struct store_view *v, const struct rtype *rt, const struct store_row *row,
                   json_t *doc, bool create, json_t **out)
{
    struct cse *cse = s->an->cse;
    const char *csi = s->tg->csi;
    json_t *a = json_object();
    char *lnk = mem_alloc(strlen(cse->cfg->cse_id) + strlen(row->path) + 2);
    sprintf(lnk, "%s/%s", cse->cfg->cse_id, row->path);
    json_set_str(a, "lnk", lnk);
    mem_free(lnk);
    json_t *et = json_object_get(doc, "et"), *lbl = json_object_get(doc, "lbl");
    if (et)
        json_object_set(a, "et", et);
    if (lbl || !create)
        json_object_set_new(a, "lbl", lbl ? json_incref(lbl) : json_null());
    int rc = 0;
    if (rt->has_acpi && !rt->annc_acpi_na) {
        /* TS-0001 §9.6.26.1: the announced copy names the announced variants of its policies */
        json_t *acpi = json_array();
        for (const char *p = row->acpi; p && *p && rc == 0;) {
            size_t n = strcspn(p, " ");
            char ri[LIMIT_NAME_LEN + 1];
            if (n > 0 && n < sizeof ri) {
                memcpy(ri, p, n);
                ri[n] = '\0';
                struct store_row acp;
                if (v->st->ops->get_ri(v, ri, cse_now(cse), &acp) == STORE_OK) {
                    json_t *adoc = json_loads(acp.doc, 0, NULL);
                    size_t i;
                    json_t *e;
                    json_array_foreach(json_object_get(adoc, "at"), i, e)
                    {
                        const char *s2 = json_string_value(e);
                        char c2[LIMIT_NAME_LEN + 2];
                        if (!entry_csi(s2, c2, sizeof c2) || strcmp(c2, csi) != 0)
                            continue;
                        if (is_address(s2))
                            json_array_append(acpi, e);
                        else
                            rc = 1; /* its announcement there comes first */
                    }
                    json_decref(adoc);
                    store_row_free(&acp);
                }
            }
            p += n + (p[n] == ' ');
        }
        if (json_array_size(acpi) > 0)
            json_object_set(a, "acpi", acpi);
        else if (!create)
            json_object_set_new(a, "acpi", json_null());
        json_decref(acpi);
    }
    const json_t *aa = json_object_get(doc, "aa");
    for (const char *const *p = rt->annc_ma; p && *p; p++)
        if (json_object_get(doc, *p))
            json_object_set(a, *p, json_object_get(doc, *p));
    const struct attr_def *cdefs = NULL;
    int ncustom = custom_oa(cse, rt, doc, &cdefs), nstatic = 0;
    for (const char *const *p = rt->annc_oa; p && *p; p++)
        nstatic++;
    for (int k = 0; k < nstatic + ncustom; k++) {
        const char *sn = k < nstatic ? rt->annc_oa[k] : cdefs[k - nstatic].sn;
        const char *const *p = &sn;
        bool named = false;
        size_t i;
        json_t *e;
        json_array_foreach(aa, i, e) named |= json_is_string(e) && strcmp(json_string_value(e), *p) == 0;
        json_t *val = json_object_get(doc, *p);
        if (named && val)
            json_object_set(a, *p, val);
        else if (!create && (val || named)) /* de-announced, or gone from the original: removed there
                                               (only these: a type may have more OA attributes than a
                                               request may carry) */
            json_object_set_new(a, *p, json_null());
    }
    if (rt->annc_convert)
        rt->annc_convert(cse, a);
    if (rc != 0) {
        json_decref(a);
        return rc;
    }
    *out = a;
    return 0;
}

static json_t *wrap(struct cse *cse, const struct rtype *annc, json_t *attrs)
{
    char key[LIMIT_ROOT_LEN];
    /* a specialisation's announced root ("m2m:fwrA") where the type names one, else "m2m:<sn>" */
    if (annc->root == NULL || annc->root(cse, attrs, key, sizeof key) != 0)
        snprintf(key, sizeof key, "m2m:%s", annc->sn);
    json_t *w = json_object();
    json_object_set_new(w, key, attrs);
    return w;
}

/* Begin (or continue) a CREATE step: from the worker thread. */
static void begin_create(struct step *s, struct store_view *v)
{
    struct cse *cse = s->an->cse;
    const struct store_ops *ops = v->st->ops;
    int64_t now = cse_now(cse);
    struct store_row row, parent, csr;
    if (ops->get_ri(v, s->ri, now, &row) != STORE_OK) {
        finish(s, FIN_DROP); /* deleted meanwhile: nothing to announce */
        return;
    }
    const struct rtype *rt = rtype_find(row.ty), *annc = rt ? rtype_find(rt->annc_ty) : NULL;
    json_t *doc = json_loads(row.doc, 0, NULL);
    bool pending = false;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "at"), i, e) pending |= strcmp(json_string_value(e), s->tg->csi) == 0;
    bool have_parent = pending && annc && ops->get_ri(v, row.pi, now, &parent) == STORE_OK;
    enum { GO, DROP, FAIL, WAIT, SENT } what = !pending ? DROP : !have_parent ? FAIL : GO;
    json_t *body = NULL;
    if (what == GO) {
        /* TS-0004 §7.3.3.10: below the parent's announced copy there, else below this CSE's
         * <CSEBaseAnnc> there (an instance only below its announced parent) */
        json_t *pdoc = json_loads(parent.doc, 0, NULL);
        mem_free(s->to);
        s->to = NULL;
        s->to_cba = false;
        if (s->addr[0] != '\0') /* an address given in at (TS-0004 §7.3.3.10 step 1b): there */
            s->to = mem_strdup(s->addr);
        json_array_foreach(s->to ? NULL : json_object_get(pdoc, "at"), i, e)
        {
            const char *pe = json_string_value(e);
            char pc[LIMIT_NAME_LEN + 2];
            if (entry_csi(pe, pc, sizeof pc) && strcmp(pc, s->tg->csi) == 0) {
                if (is_address(pe))
                    s->to = mem_strdup(pe);
                else
                    what = WAIT; /* the parent's own announcement comes first */
            }
        }
        json_decref(pdoc);
        if (what == GO && s->to == NULL) {
            if (rt->annc_needs_parent) {
                what = FAIL;
            } else if (s->tg->cba_ok) {
                s->to = mem_strdup(s->tg->cba);
                s->to_cba = true;
            } else {
                /* a registree's or the registrar's CSEBase: cb of its <remoteCSE>; a descendant
                 * CSE's: its CSE-ID, which addresses its CSEBase (TS-0001 §7.2) */
                bool peer = remote_cse(cse, v, s->tg->csi, &csr);
                json_t *cdoc = peer ? json_loads(csr.doc, 0, NULL) : json_pack("{s:s}", "cb", s->tg->csi);
                const char *cb = json_string_value(json_object_get(cdoc, "cb"));
                if (cb == NULL || cb[0] != '/') {
                    what = WAIT;
                } else {
                    /* TS-0004 §7.3.3.10: this CSE's <CSEBaseAnnc> there, found by its lnk (its name
                     * is the target's), else created first */
                    s->to = mem_strdup(cb);
                    s->phase = P_CBA_FIND;
                    char lnk[LIMIT_ID_LEN + 1];
                    snprintf(lnk, sizeof lnk, "%s/%s", cse->cfg->cse_id, cse->cfg->cse_rn);
                    what = send_find(s, v, cb, TY_CSEBASE_ANNC, lnk) != 0 ? WAIT : SENT;
                }
                json_decref(cdoc);
                if (peer)
                    store_row_free(&csr);
            }
        }
        if (what == GO) {
            int c = compose(s, v, rt, &row, doc, true, &body);
            if (c == 1)
                what = WAIT;
            else if (c != 0)
                what = FAIL;
        }
        if (what == GO) {
            /* resourceName is NP (TS-0004 Table 7.4.26.1-2): the target names the copy */
            mem_free(s->lnk);
            s->lnk = mem_strdup(json_string_value(json_object_get(body, "lnk")));
            struct announcer *an = s->an;
            if (!s->looked && (s->id <= an->boot_max || s->id == s->tg->sent_id)) {
                /* sent before without a definite answer: is the copy there already? */
                s->phase = P_FIND;
                if (send_find(s, v, s->to, annc->ty, s->lnk) != 0)
                    what = WAIT;
            } else {
                s->phase = P_CREATE;
                s->tg->sent_id = s->id;
                json_t *w = wrap(cse, annc, body);
                body = NULL;
                if (send_to(s, v, OP_CREATE, s->to, annc->ty, w) != 0)
                    what = WAIT;
                json_decref(w);
            }
            json_decref(body);
        }
        store_row_free(&parent);
    }
    json_decref(doc);
    store_row_free(&row);
    if (what == DROP)
        finish(s, FIN_DROP);
    else if (what == FAIL)
        finish(s, FIN_FAILED);
    else if (what == WAIT)
        retry(s, RSC_TARGET_NOT_REACHABLE, true);
}

static void begin(struct step *s, struct store_view *v)
{
    if (s->op == OUT_CREATE) {
        begin_create(s, v);
        return;
    }
    if (s->op == OUT_DELETE) {
        s->phase = P_DELETE;
        if (send_to(s, v, OP_DELETE, s->addr, 0, NULL) != 0)
            retry(s, RSC_TARGET_NOT_REACHABLE, false);
        return;
    }
    /* UPDATE: the current state, to a copy that is still named in at */
    struct cse *cse = s->an->cse;
    struct store_row row;
    if (v->st->ops->get_ri(v, s->ri, cse_now(cse), &row) != STORE_OK) {
        finish(s, FIN_DROP);
        return;
    }
    json_t *doc = json_loads(row.doc, 0, NULL), *body = NULL;
    bool named = false, pending = false;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "at"), i, e)
    {
        const char *a = json_string_value(e);
        char c[LIMIT_NAME_LEN + 2];
        if (s->addr[0] == '\0' && entry_csi(a, c, sizeof c) && strcmp(c, s->tg->csi) == 0) {
            if (is_address(a)) { /* the copy created since the step was written */
                mem_free(s->addr);
                s->addr = mem_strdup(a);
            } else {
                pending = true; /* its CREATE comes first */
            }
        }
        named |= strcmp(a, s->addr) == 0;
    }
    if (pending) {
        json_decref(doc);
        store_row_free(&row);
        retry(s, 0, true);
        return;
    }
    const struct rtype *rt = rtype_find(row.ty), *annc = rt ? rtype_find(rt->annc_ty) : NULL;
    int c = named && annc ? compose(s, v, rt, &row, doc, false, &body) : -1;
    json_decref(doc);
    store_row_free(&row);
    if (c < 0) {
        finish(s, FIN_DROP);
        return;
    }
    if (c == 1) {
        retry(s, 0, true);
        return;
    }
    s->phase = P_UPDATE;
    json_t *w = wrap(cse, annc, body);
    if (send_to(s, v, OP_UPDATE, s->addr, 0, w) != 0)
        retry(s, RSC_TARGET_NOT_REACHABLE, false);
    json_decref(w);
}

/* Might a later attempt succeed? The table at the top of this file. */
static bool transient(int rsc)
{
    switch (rsc) {
    case RSC_NONE: /* no answer */
    case RSC_REQUEST_TIMEOUT:
    case RSC_INTERNAL_SERVER_ERROR:
    case RSC_TARGET_NOT_REACHABLE: return true;
    case RSC_NOT_IMPLEMENTED:
    case RSC_RECEIVER_HAS_NO_PRIVILEGE:
    case RSC_ALREADY_EXISTS:
    case RSC_NOT_ACCEPTABLE: return false;
    default: return rsc >= 5000; /* the target's own trouble */
    }
}

/* A permanent refusal of this CSE's <CSEBaseAnnc> (or of looking for it): the step cannot go on
 * and is dropped (its target leaves at), never holding the target's later steps. */
static void cba_refused(struct step *s, const char *what)
{
    LOG(s->an->cse->log, LOG_WARN,
        "announce: %s refused %s this CSE's <CSEBaseAnnc> (rsc %d, permanent): the announcement of %s there is "
        "dropped %s",
        s->tg->csi, what, s->rsc, s->ri, s->why);
    finish(s, FIN_FAILED);
}

/* This CSE's <CSEBaseAnnc> at the step's target is at *where (found by its lnk, or just created; the
 * target's spelling, owned and freed here): kept for the target's later steps, then the step's own
 * create begins. */
static void cba_known(struct step *s, struct store_view *v, char **where)
{
    char *a = target_address(s->tg->csi, *where);
    snprintf(s->tg->cba, sizeof s->tg->cba, "%s", a);
    s->tg->cba_ok = strlen(a) < sizeof s->tg->cba;
    mem_free(a);
    mem_free(*where);
    *where = NULL;
    mem_free(s->to);
    s->to = NULL;
    begin_create(s, v);
}

/* The worker thread, with the target's answer to s. */
static void answered(struct step *s, struct store_view *v)
{
    int rsc = s->rsc;
    switch (s->phase) {
    case P_CBA_FIND:
        if (rsc == RSC_OK && s->found) { /* made before (this start or an earlier one) */
            cba_known(s, v, &s->found);
        } else if (rsc == RSC_OK) { /* none: create it (rn NP, TS-0004 Table 7.4.26.1-2) */
            struct cse *cse = s->an->cse;
            s->phase = P_CBA;
            char lnk[LIMIT_ID_LEN + 1], et[TS_LEN + 1];
            snprintf(lnk, sizeof lnk, "%s/%s", cse->cfg->cse_id, cse->cfg->cse_rn);
            ts_format(ET_NEVER, et);
            json_t *cba = json_pack("{s:s,s:s,s:s}", "lnk", lnk, "et", et, "csi", cse->cfg->cse_id);
            json_t *w = wrap(cse, rtype_find(TY_CSEBASE_ANNC), cba);
            if (send_to(s, v, OP_CREATE, s->to, TY_CSEBASE_ANNC, w) != 0)
                retry(s, RSC_TARGET_NOT_REACHABLE, false);
            json_decref(w);
        } else if (transient(rsc)) {
            retry(s, rsc, false);
        } else {
            cba_refused(s, "looking for");
        }
        return;
    case P_CBA:
        if (rsc == RSC_CREATED && s->location) {
            cba_known(s, v, &s->location);
        } else if (transient(rsc)) {
            retry(s, rsc, false);
        } else {
            cba_refused(s, "the creation of");
        }
        return;
    case P_FIND:
        if (rsc == RSC_OK && s->found) { /* made by a CREATE whose answer was lost: adopted */
            mem_free(s->addr);
            s->addr = target_address(s->tg->csi, s->found);
            s->tg->sent_id = 0;
            finish(s, FIN_CREATED);
        } else if (rsc == RSC_NOT_FOUND && s->to_cba) {
            s->tg->cba_ok = false; /* this CSE's <CSEBaseAnnc> there is gone: found or made again first */
            retry(s, rsc, true);
        } else if (transient(rsc)) {
            retry(s, rsc, false);
        } else {
            /* none there (or the target does not let this CSE look): create it */
            if (rsc != RSC_OK)
                LOG(s->an->cse->log, LOG_WARN, "announce: %s answered %d to looking for the copy of %s; creating it",
                    s->tg->csi, rsc, s->ri);
            s->looked = true;
            mem_free(s->to);
            s->to = NULL;
            begin_create(s, v);
        }
        return;
    case P_CREATE:
        if (rsc == RSC_CREATED && s->location) {
            mem_free(s->addr);
            s->addr = target_address(s->tg->csi, s->location);
            s->tg->sent_id = 0;
            finish(s, FIN_CREATED);
        } else if (rsc == RSC_NOT_FOUND && s->to_cba) {
            s->tg->cba_ok = false; /* this CSE's <CSEBaseAnnc> there is gone: found or made again first */
            s->tg->sent_id = 0;
            retry(s, rsc, true);
        } else if (rsc == RSC_NOT_FOUND) {
            /* the parent's copy there is gone (deleted there): not announced below it, and not
             * retried either, which would hold every later step to that CSE */
            LOG(s->an->cse->log, LOG_WARN, "announce: the announced parent %s of %s is gone", s->to, s->ri);
            s->tg->sent_id = 0;
            finish(s, FIN_FAILED);
        } else if (transient(rsc)) {
            retry(s, rsc, false); /* sent_id stays: the next attempt looks for the copy first */
        } else {
            LOG(s->an->cse->log, LOG_WARN, "announce: %s refused the announcement of %s (rsc %d, permanent) %s",
                s->tg->csi, s->ri, rsc, s->why);
            s->tg->sent_id = 0;
            finish(s, FIN_FAILED);
        }
        return;
    case P_UPDATE:
    case P_DELETE:
        if (s->phase == P_UPDATE && rsc == RSC_NOT_FOUND) {
            finish(s, FIN_GONE);
        } else if (transient(rsc)) {
            retry(s, rsc, false);
        } else {
            if (!rsc_is_success(rsc) && rsc != RSC_NOT_FOUND)
                LOG(s->an->cse->log, LOG_WARN, "announce: %s answered %d to the %s of %s %s", s->tg->csi, rsc,
                    s->phase == P_UPDATE ? "update" : "delete", s->addr, s->why);
            finish(s, FIN_DROP);
        }
        return;
    }
}

static struct annc_target *target(struct announcer *an, const char *csi)
{
    for (int i = 0; i < an->ntg; i++)
        if (strcmp(an->tg[i].csi, csi) == 0)
            return &an->tg[i];
    if (an->ntg == ANNC_TARGETS || strlen(csi) >= sizeof an->tg[0].csi)
        return NULL;
    struct annc_target *t = &an->tg[an->ntg++];
    memset(t, 0, sizeof *t);
    snprintf(t->csi, sizeof t->csi, "%s", csi);
    t->backoff_ms = ANNC_RETRY_MS;
    return t;
}

/* One pass over the oldest outbox steps: each idle target's first step begins. Worker thread,
 * without the lock. */
static void scan(struct announcer *an)
{
    struct cse *cse = an->cse;
    struct store_view *v = cse->store->ops->view_acquire(cse->store);
    if (v == NULL)
        return;
    struct scan_rows sr = {.rows = json_array()};
    v->st->ops->outbox_scan(v, ANNC_SCAN, scan_row, &sr);
    if (!an->booted) {
        /* a step sent before a restart was among the oldest ANNC_SCAN then, and is still (steps only
         * go from the oldest and come after the newest): these may have made their copy already */
        an->booted = true;
        an->boot_max = -1;
        size_t k;
        json_t *r0;
        json_array_foreach(sr.rows, k, r0)
        {
            int64_t id = json_integer_value(json_array_get(r0, 0));
            if (id > an->boot_max)
                an->boot_max = id;
        }
    }
    pthread_mutex_lock(&an->lock);
    for (int i = 0; i < an->ntg; i++)
        an->tg[i].seen = false;
    pthread_mutex_unlock(&an->lock);
    int64_t now = mono_ms();
    size_t i;
    json_t *r;
    json_array_foreach(sr.rows, i, r)
    {
        pthread_mutex_lock(&an->lock);
        struct annc_target *tg = an->stopping ? NULL : target(an, json_string_value(json_array_get(r, 2)));
        bool go = tg && !tg->seen && !tg->busy && now >= tg->due_ms;
        if (tg)
            tg->seen = true;
        if (go)
            tg->busy = true;
        pthread_mutex_unlock(&an->lock);
        if (!go)
            continue;
        struct step *s = mem_calloc(1, sizeof *s);
        s->an = an;
        s->tg = tg;
        s->id = json_integer_value(json_array_get(r, 0));
        s->ri = mem_strdup(json_string_value(json_array_get(r, 1)));
        s->op = (int)json_integer_value(json_array_get(r, 3));
        s->addr = mem_strdup(json_string_value(json_array_get(r, 4)));
        begin(s, v);
    }
    json_decref(sr.rows);
    cse->store->ops->view_release(cse->store, v);
}

static void *worker(void *arg)
{
    struct announcer *an = arg;
    int64_t next_scan = 0;
    pthread_mutex_lock(&an->lock);
    while (!an->stopping) {
        while (an->answered && !an->stopping) {
            struct step *s = an->answered;
            an->answered = s->next;
            pthread_mutex_unlock(&an->lock);
            struct store_view *v = an->cse->store->ops->view_acquire(an->cse->store);
            if (v) {
                answered(s, v);
                an->cse->store->ops->view_release(an->cse->store, v);
            } else {
                retry(s, RSC_INTERNAL_SERVER_ERROR, true);
            }
            pthread_mutex_lock(&an->lock);
        }
        int64_t now = mono_ms();
        if (!an->stopping && (an->kicked || now >= next_scan)) {
            an->kicked = false;
            next_scan = now + ANNC_RETRY_MS;
            pthread_mutex_unlock(&an->lock);
            scan(an);
            pthread_mutex_lock(&an->lock);
            continue;
        }
        int64_t wake = next_scan;
        for (int i = 0; i < an->ntg; i++)
            if (!an->tg[i].busy && an->tg[i].due_ms > now && an->tg[i].due_ms < wake)
                wake = an->tg[i].due_ms;
        if (an->answered || an->kicked)
            continue;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wait = wake - now < 1 ? 1 : wake - now;
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (long)(wait % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&an->cond, &an->lock, &ts);
    }
    pthread_mutex_unlock(&an->lock);
    return NULL;
}

void announce_stats(struct cse *cse, unsigned long *done, unsigned long *retried, unsigned long *refused)
{
    struct announcer *an = cse->announcer;
    *done = an ? atomic_load_explicit(&an->done, memory_order_relaxed) : 0;
    *retried = an ? atomic_load_explicit(&an->retried, memory_order_relaxed) : 0;
    *refused = an ? atomic_load_explicit(&an->refused, memory_order_relaxed) : 0;
}

void announce_kick(struct cse *cse)
{
    struct announcer *an = cse->announcer;
    if (an == NULL)
        return;
    pthread_mutex_lock(&an->lock);
    an->kicked = true;
    pthread_cond_broadcast(&an->cond);
    pthread_mutex_unlock(&an->lock);
}

int announce_start(struct cse *cse)
{
    struct announcer *an = mem_calloc(1, sizeof *an);
    an->cse = cse;
    pthread_mutex_init(&an->lock, NULL);
    pthread_cond_init(&an->cond, NULL);
    an->kicked = true;
    cse->announcer = an;
    if (pthread_create(&an->thread, NULL, worker, an) != 0)
        return -1;
    an->started = true;
    return 0;
}

void announce_stop(struct cse *cse)
{
    struct announcer *an = cse->announcer;
    if (an == NULL || !an->started)
        return;
    pthread_mutex_lock(&an->lock);
    an->stopping = true;
    pthread_cond_broadcast(&an->cond);
    pthread_mutex_unlock(&an->lock);
    pthread_join(an->thread, NULL);
    an->started = false;
}

void announce_free(struct cse *cse)
{
    struct announcer *an = cse->announcer;
    if (an == NULL)
        return;
    announce_stop(cse);
    /* after the outbound seam stopped every answer arrived; store jobs finish on the writer */
    pthread_mutex_lock(&an->lock);
    for (int i = 0; i < 100 && an->inflight > 0; i++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&an->cond, &an->lock, &ts);
    }
    bool leak = an->inflight > 0;
    while (an->answered) {
        struct step *s = an->answered;
        an->answered = s->next;
        step_free(s);
    }
    pthread_mutex_unlock(&an->lock);
    if (leak) /* a job still queued would find it freed: keep it (shutdown only) */
        return;
    pthread_mutex_destroy(&an->lock);
    pthread_cond_destroy(&an->cond);
    mem_free(an);
    cse->announcer = NULL;
}
