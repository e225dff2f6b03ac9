/* ops_update: the UPDATE operation (TS-0001 §10.1.4): attributes are validated on the request
 * thread and applied inside the writer's transaction to the current stored state, so concurrent
 * updates never lose each other's changes. */
#include <stdio.h>
#include <string.h>

#include "core_int.h"
#include "encoding/json.h"
#include "notify/notify.h"
#include "resources/annc_link.h"
#include "rsc.h"
#include "util/mem.h"
#include "util/timeutil.h"

struct update_job {
    struct store_job job;
    bool committed;
    struct cse *cse;
    const struct rtype *rt;
    char *ri;
    json_t *patch;
    int64_t et; /* new expirationTime, 0 = unchanged */
    char *acpi; /* new resolved acpi, NULL = unchanged */
    struct cse_response *rsp;
    int rcn;
    int result;
    char *doc;          /* the stored representation after the update (rcn 1) */
    char *before;       /* the stored representation before it (rcn 9) */
    json_t *modified;   /* the attributes this update changed (rcn 9) */
    struct notes notes; /* notifications this update causes, sent after the commit */
    struct cse_cont k;  /* the request, parked on a Blocking_Update answer and on its commit */
};

static int update_run(struct store_view *txn, void *arg)
{
    struct update_job *j = arg;
    const struct store_ops *ops = txn->st->ops;
    struct txn_ctx t = {.cse = j->cse, .txn = txn, .now = cse_now(j->cse), .rsp = j->rsp, .notes = &j->notes};
    struct store_row cur;
    int rc = ops->get_ri(txn, j->ri, t.now, &cur);
    if (rc != STORE_OK) {
        j->result = rc == STORE_NOT_FOUND
                        ? response_error(j->rsp, RSC_NOT_FOUND, "gone", "the resource no longer exists")
                        : response_error(j->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
        return 1;
    }
    json_t *doc = json_loads(cur.doc, 0, NULL);
    if (j->rcn == 9)
        j->before = mem_strdup(cur.doc);
    if (doc == NULL) {
        store_row_free(&cur);
        j->result = response_error(j->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "stored representation unreadable");
        return 1;
    }
    j->modified = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(j->patch, k, v)
    {
        if (strcmp(k, "et") == 0)
            continue;
        if (json_is_null(v))
            json_object_del(doc, k);
        else
            json_object_set(doc, k, v);
        json_object_set(j->modified, k, v);
    }
    char ts[TS_LEN + 1];
    if (j->et) {
        cur.et = j->et;
        ts_format(j->et, ts);
        json_set_str(doc, "et", ts);
        json_set_str(j->modified, "et", ts);
    }
    ts_format(t.now, ts);
    json_set_str(doc, "lt", ts);
    json_set_str(j->modified, "lt", ts);
    if (j->acpi) {
        mem_free(cur.acpi);
        cur.acpi = mem_strdup(j->acpi);
    }
    if (j->rt->has_st) {
        json_set_int(doc, "st", json_int_or(doc, "st", 0) + 1);
        json_object_set(j->modified, "st", json_object_get(doc, "st"));
    }
    if (j->et) { /* a shortened lifetime applies to the whole subtree at once */
        ts_format(j->et, ts);
        if (ops->clamp_subtree_et(txn, cur.path, j->et, ts) != STORE_OK)
            j->result = response_error(j->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
    }
    if (j->result == 0) /* TS-0004 §7.3.3.10-11: announce, de-announce, keep the copies in step */
        j->result = annc_txn_updated(&t, j->rt, &cur, doc, j->patch);
    if (j->result == 0 && j->rt->txn_updated)
        j->result = j->rt->txn_updated(&t, &cur, doc);
    if (j->result == 0) {
        size_t before = strlen(cur.doc);
        mem_free(cur.doc);
        cur.doc = json_encode(doc, NULL);
        if (ops->update(txn, &cur) != STORE_OK)
            j->result = response_error(j->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
        else if (strlen(cur.doc) > before) /* a larger representation counts against its creator's bytes */
            j->result = txn_quota_check(&t, cur.cr);
        if (j->result == 0)
            j->doc = mem_strdup(cur.doc);
    }
    if (j->result == 0)
        sub_event(&t, &cur, 1 /* update of the resource */, &cur, j->modified);
    json_decref(doc);
    store_row_free(&cur);
    return j->result != 0;
}

/* TS-0001 §8.1.2 modified-attributes: the attributes the update added, changed or removed (removed
 * ones as null) other than those set exactly as the request's Content asked, i.e. what the hosting
 * CSE decided (lt, st, a clamped et, derived attributes such as cni). A new reference. */
static json_t *modified_attributes(const struct update_job *j)
{
    json_t *out = json_object();
    json_t *old = j->before ? json_loads(j->before, 0, NULL) : NULL;
    json_t *now = j->doc ? json_loads(j->doc, 0, NULL) : NULL;
    const char *k;
    json_t *v;
    json_object_foreach(now, k, v)
    {
        const json_t *asked = json_object_get(j->patch, k);
        if (!json_equal(v, json_object_get(old, k)) && !(asked && json_equal(v, asked)))
            json_object_set(out, k, v);
    }
    json_object_foreach(old, k, v)
    {
        const json_t *asked = json_object_get(j->patch, k);
        if (json_object_get(now, k) == NULL && !(asked && json_is_null(asked)))
            json_object_set_new(out, k, json_null());
    }
    json_decref(old);
    json_decref(now);
    return out;
}

/* On the request's own thread (cse_complete): the response, and the job freed. */
static void update_finish(void *arg, struct cse_response *rsp_)
{
    struct update_job *j = arg;
    (void)rsp_;
    bool committed = j->committed;
    struct cse_response *rsp = j->rsp;
    if (!committed) {
        response_error(rsp, RSC_INTERNAL_SERVER_ERROR, "commit", "the store could not commit the change");
    }
    if (committed && j->result == 0) {
        rsp->rsc = RSC_UPDATED;
        json_t *w = NULL, *whole = json_loads(j->doc, 0, NULL);
        if (j->rcn == 1)
            w = represent_wrap(j->cse, j->rt, json_incref(whole), NULL);
        else if (j->rcn == 9)
            w = represent_wrap(j->cse, j->rt, modified_attributes(j), whole);
        json_decref(whole);
        if (w != NULL)
            rsp->body = json_encode(w, &rsp->body_len);
        json_decref(w);
    }
    json_decref(j->patch);
    json_decref(j->modified);
    mem_free(j->doc);
    mem_free(j->before);
    mem_free(j->acpi);
    mem_free(j->ri);
    mem_free(j);
}

/* On the writer thread, right after the commit: what cannot wait (notifications, cache
 * invalidation); the rest is left to update_finish on the request's thread. */
static void update_done(void *arg, bool committed)
{
    struct update_job *j = arg;
    j->committed = committed;
    op_committed(committed && j->result == 0, &j->notes, rtype_original(j->rt->ty) == TY_ACP || j->rt->ty == TY_GRP,
                 update_finish, j, &j->k);
}

/* Attributes besides acpi that decide who may do what: daci (which DAS may admit originators), a
 * group's macp (who may use its fanOutPoint), and a <dynamicAuthorizationConsultation>'s dap and
 * dae (which DAS answers, and whether, for every resource linking it). Changing one is a privilege
 * change like acpi (finding 2). */
static const char *const privileged[] = {"daci", "macp", "dap", "dae"};

static bool is_privileged(const char *attr)
{
    for (size_t i = 0; i < sizeof privileged / sizeof privileged[0]; i++)
        if (strcmp(attr, privileged[i]) == 0)
            return true;
    return false;
}

/* TS-0004 Recv-6.3 before Recv-6.4 (§7.3.3.4): whether the originator may update the resource at
 * all is decided before its representation is checked against the resource's type, so that one
 * that may not learns nothing of that type (directly, or for each member of a group's
 * fanOutPoint). Only which attributes are updated matters here (acpi and the privileged ones need
 * the pvs, any other UPDATE); the full decision follows once the content is decoded. Returns 0 or
 * an RSC (rsp filled). */
static int may_update(struct op_ctx *c, const struct store_row *row)
{
    char err[64];
    json_t *root =
        c->req->media == MEDIA_JSON ? json_decode_body(c->req->body, c->req->body_len, err, sizeof err) : NULL;
    bool selfpriv = false, other = false;
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v)
    {
        const char *a;
        json_t *av;
        json_object_foreach(v, a, av)
        {
            if (strcmp(a, "acpi") == 0 || is_privileged(a))
                selfpriv = true;
            else
                other = true;
        }
    }
    json_decref(root);
    int rc = selfpriv ? op_authorize_acpi(c, row) : 0;
    if (rc == 0 && (other || !selfpriv))
        rc = op_authorize(c, ACOP_UPDATE, row, 0);
    return rc;
}

/* ---- Blocking_Update (TS-0004 §7.5.1.2.19, §7.3.2.9) ------------------------------------------
 * An UPDATE of a resource with a <subscription> whose notificationEventType is 7 first notifies
 * that subscription's target with the requested change and waits (parked, no thread) for its
 * answer: success performs the update, TARGET_NOT_REACHABLE (or no answer) is 5107, any other
 * refusal 4127. Meanwhile other UPDATEs of the resource are refused (4105). */

struct blocking {
    struct update_job *j;
    struct cse *cse;
    char *ri;
};

/* Claim ri for one blocking update; false when another holds it (or the table is full: *full). */
static bool block_claim(struct cse *cse, const char *ri, bool *full)
{
    bool ok = false;
    *full = true;
    pthread_mutex_lock(&cse->blocking_lock);
    for (int i = 0; i < LIMIT_BLOCKING_UPDATES; i++)
        if (cse->blocking[i] && strcmp(cse->blocking[i], ri) == 0) {
            *full = false;
            pthread_mutex_unlock(&cse->blocking_lock);
            return false;
        }
    for (int i = 0; i < LIMIT_BLOCKING_UPDATES && !ok; i++)
        if (cse->blocking[i] == NULL) {
            cse->blocking[i] = mem_strdup(ri);
            ok = true;
        }
    pthread_mutex_unlock(&cse->blocking_lock);
    return ok;
}

bool op_blocking_held(struct cse *cse, const char *ri)
{
    bool held = false;
    pthread_mutex_lock(&cse->blocking_lock);
    for (int i = 0; i < LIMIT_BLOCKING_UPDATES && !held; i++)
        held = cse->blocking[i] && strcmp(cse->blocking[i], ri) == 0;
    pthread_mutex_unlock(&cse->blocking_lock);
    return held;
}

static void block_release(struct cse *cse, const char *ri)
{
    pthread_mutex_lock(&cse->blocking_lock);
    for (int i = 0; i < LIMIT_BLOCKING_UPDATES; i++)
        if (cse->blocking[i] && strcmp(cse->blocking[i], ri) == 0)
            MEM_FREE(cse->blocking[i]);
    pthread_mutex_unlock(&cse->blocking_lock);
}

static void job_free(struct update_job *j)
{
    json_decref(j->patch);
    mem_free(j->acpi);
    mem_free(j->ri);
    mem_free(j);
}

/* On the delivery thread: the subscriber's answer decides. */
static void blocking_answer(void *arg, const struct out_response *res)
{
    struct blocking *b = arg;
    struct update_job *j = b->j;
    bool ok = res->http_status != 0 && rsc_is_success(res->rsc ? res->rsc : RSC_OK);
    if (ok && b->cse->store->ops->submit(b->cse->store, &j->job) == STORE_OK) {
        block_release(b->cse, b->ri); /* the update is queued: later ones wait for the store in order */
        mem_free(b->ri);
        mem_free(b);
        return;
    }
    if (ok)
        response_error(j->rsp, RSC_INTERNAL_SERVER_ERROR, "overload", "the store cannot accept more writes now");
    else if (res->http_status == 0 || res->rsc == RSC_TARGET_NOT_REACHABLE)
        response_error(j->rsp, 5107, "blocking-unreachable",
                       "the Blocking_Update subscriber could not be reached (REMOTE_ENTITY_NOT_REACHABLE)");
    else
        response_error(j->rsp, 4127, "blocking-denied",
                       "the Blocking_Update subscriber refused the update with %d (OPERATION_DENIED_BY_REMOTE_ENTITY)",
                       res->rsc);
    struct cse_cont k = j->k;
    block_release(b->cse, b->ri);
    mem_free(b->ri);
    mem_free(b);
    job_free(j);
    cont_resume(&k, CONT_ANSWERED);
}

/* CSE_PENDING when a Blocking_Update subscription took the job (or CSE_DONE with rsp filled when it
 * refused it); -1 when there is none and the update goes ahead. */
static int blocking_update(struct op_ctx *c, const struct store_row *row, struct update_job *j)
{
    if (row->nsub <= 0)
        return -1;
    struct rowvec subs = {.max = LIMIT_LIST_ITEMS};
    if (c->view->st->ops->children(c->view, row->ri, TY_SUB, c->now, rowvec_collect, &subs) < 0) {
        rowvec_free(&subs);
        return -1;
    }
    int st = -1;
    for (size_t i = 0; i < subs.n && st < 0; i++) {
        json_t *doc = json_loads(subs.v[i].doc, 0, NULL);
        const json_t *enc = json_object_get(doc, "enc"), *atr = json_object_get(enc, "atr");
        bool blocking = false, touched = atr == NULL;
        size_t k;
        json_t *e;
        json_array_foreach(json_object_get(enc, "net"), k, e) blocking |= json_integer_value(e) == 7;
        json_array_foreach(atr, k, e) touched |= json_is_string(e) && json_object_get(j->patch, json_string_value(e));
        if (blocking && touched) {
            bool full;
            char url[1024];
            const char *nu = json_string_value(json_array_get(json_object_get(doc, "nu"), 0));
            if (!block_claim(c->cse, row->ri, &full)) {
                response_error(c->rsp, full ? RSC_INTERNAL_SERVER_ERROR : RSC_CONFLICT, "blocking-update",
                               full ? "too many updates wait for Blocking_Update answers"
                                    : "another update of this resource waits for its Blocking_Update answer");
                st = CSE_DONE;
            } else if (nu == NULL || c->cse->outbound == NULL || ae_poa(c->cse, c->view, c->now, nu, url, sizeof url)) {
                block_release(c->cse, row->ri);
                response_error(c->rsp, 5107, "blocking-unreachable",
                               "the Blocking_Update subscriber has no reachable pointOfAccess");
                st = CSE_DONE;
            } else {
                /* the representation of the change the UPDATE asks for, as the notification's event */
                char key[32];
                snprintf(key, sizeof key, "m2m:%s", j->rt->sn);
                char *sur = mem_alloc(strlen(c->cse->cfg->cse_id) + strlen(subs.v[i].path) + 2);
                sprintf(sur, "%s/%s", c->cse->cfg->cse_id, subs.v[i].path);
                json_t *sgn = json_pack("{s:{s:{s:{s:O}, s:i}, s:s}}", "m2m:sgn", "nev", "rep", key, j->patch, "net", 7,
                                        "sur", sur);
                mem_free(sur);
                size_t len;
                char *body = json_encode(sgn, &len);
                json_decref(sgn);
                struct blocking *b = mem_calloc(1, sizeof *b);
                *b = (struct blocking){.j = j, .cse = c->cse, .ri = mem_strdup(row->ri)};
                if (notify_send(c->cse->outbound, url, body, len, c->cse->cfg->cse_id, blocking_answer, b) == 0) {
                    st = CSE_PENDING;
                } else {
                    block_release(c->cse, row->ri);
                    mem_free(b->ri);
                    mem_free(b);
                    response_error(c->rsp, 5107, "blocking-unreachable",
                                   "the Blocking_Update notification could not be sent");
                    st = CSE_DONE;
                }
                mem_free(body);
            }
        }
        json_decref(doc);
    }
    rowvec_free(&subs);
    if (st < 0 && op_blocking_held(c->cse, row->ri)) { /* a blocking update of it is still in progress */
        response_error(c->rsp, RSC_CONFLICT, "blocking-update",
                       "another update of this resource waits for its Blocking_Update answer");
        st = CSE_DONE;
    }
    return st;
}

enum cse_status op_update(struct op_ctx *c)
{
    const struct store_row *row = &c->tgt->row;
    int rcn = c->req->rcn < 0 ? 1 : c->req->rcn;
    if (rcn != 0 && rcn != 1 && rcn != 9) {
        response_error(c->rsp, RSC_BAD_REQUEST, "bad-rcn", "resultContent %d is not valid for UPDATE", rcn);
        return CSE_DONE;
    }
    const struct rtype *rt = rtype_find(row->ty);
    if (c->tgt->virt != VIRT_NONE || rt == NULL || !rt->updatable) {
        response_error(c->rsp, RSC_OPERATION_NOT_ALLOWED, "not-updatable", "m2m:%s cannot be updated",
                       rt ? rt->sn : "resource");
        return CSE_DONE;
    }
    if (may_update(c, row) != 0)
        return CSE_DONE;
    char root[LIMIT_ROOT_LEN];
    json_t *patch = op_decode_content(c, rt, root, sizeof root);
    if (patch == NULL)
        return CSE_DONE;
    int64_t et = 0;
    char *acpi = NULL;
    json_t *etv = json_object_get(patch, "et"), *acpiv = json_object_get(patch, "acpi");
    size_t nprivattrs = 0;
    for (size_t i = 0; i < sizeof privileged / sizeof privileged[0]; i++)
        nprivattrs += json_object_get(patch, privileged[i]) != NULL;
    bool privattrs = nprivattrs > 0;
    const struct attr_def *custom = NULL;
    int ncustom = 0;
    int rc = rt->custom_attrs ? rt->custom_attrs(c->cse, root, patch, row, &custom, &ncustom, c->rsp) : 0;
    if (rc == 0)
        rc = attr_validate_ext(rt, custom, ncustom, patch, false, c->rsp);
    /* TS-0001 §9.6.1.3 / TS-0004 §7.3.3.15: acpi is updated alone, under the selfPrivileges of
     * the policies it currently names (or by the creator when it names none) */
    /* (an announced copy's acpi travels with its other announced attributes: TS-0001 §9.6.26.1) */
    if (rc == 0 && acpiv != NULL && json_object_size(patch) != 1 && rt->annc_of == 0)
        rc = response_error(c->rsp, RSC_BAD_REQUEST, "acpi-not-alone",
                            "an update of acpi must not carry other attributes");
    /* changing one of them is a privilege change like acpi: the same selfPrivileges (a hardening
     * beyond TS-0001 §9.6.1.3.2, which asks them for acpi only); any other attribute beside them
     * still needs UPDATE */
    if (rc == 0 && (acpiv != NULL || privattrs))
        rc = op_authorize_acpi(c, row);
    if (rc == 0 && acpiv == NULL && json_object_size(patch) > nprivattrs)
        rc = op_authorize(c, ACOP_UPDATE, row, 0);
    if (rc == 0 && acpiv != NULL)
        rc = acpi_resolve(c, acpiv, true, &acpi);
    if (rc == 0 && etv != NULL)
        rc = op_expiration(c, patch, &et);
    if (rc == 0)
        rc = annc_request_check(c, rt, NULL, row, patch);
    if (rc == 0)
        rc = annc_link_update_check(c->cse, rt, row, patch, c->rsp);
    if (rc == 0 && rt->prepare_update)
        rc = rt->prepare_update(c->cse, &(struct resolver){op_resolve, c, op_resolve_remote}, row, patch, c->rsp);
    enum cse_status fetch_st = CSE_DONE; /* the hook asked for resources on other CSEs: wait for them */
    if (c->want != NULL && remote_fetch_park(c, &fetch_st))
        rc = -1;
    if (rc != 0) {
        json_decref(patch);
        mem_free(acpi);
        return fetch_st;
    }
    struct update_job *j = mem_calloc(1, sizeof *j);
    *j = (struct update_job){
        .cse = c->cse,
        .rt = rt,
        .ri = mem_strdup(row->ri),
        .patch = patch,
        .et = et,
        .acpi = acpi,
        .rsp = c->rsp,
        .rcn = rcn,
    };
    if (!op_park(c, PARK_COMMIT, &j->k)) {
        response_error(c->rsp, RSC_INTERNAL_SERVER_ERROR, "cannot-park", "this request cannot wait for its commit");
        json_decref(patch);
        mem_free(j->acpi);
        mem_free(j->ri);
        mem_free(j);
        return CSE_DONE;
    }
    j->job = (struct store_job){.run = update_run, .done = update_done, .arg = j};
    int bs = blocking_update(c, row, j);
    if (bs == CSE_PENDING)
        return CSE_PENDING;
    if (bs == CSE_DONE) {
        job_free(j);
        return CSE_DONE;
    }
    if (c->cse->store->ops->submit(c->cse->store, &j->job) == STORE_OK)
        return CSE_PENDING;
    response_error(c->rsp, RSC_INTERNAL_SERVER_ERROR, "overload", "the store cannot accept more writes now");
    json_decref(patch);
    mem_free(j->acpi);
    mem_free(j->ri);
    mem_free(j);
    return CSE_DONE;
}
