/* ops_create: the CREATE operation (TS-0001 §10.1.2, TS-0004 §7.3.3.x generic create procedure):
 * validation and derived attributes on the request thread, then one write job whose completion
 * (after the commit) releases the response. */
#include <stdint.h>
#include <string.h>

#include "core_int.h"
#include "store/backend.h"
#include "security/cred.h"
#include "encoding/json.h"
#include "rsc.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/rand.h"
#include "util/timeutil.h"
#include "notify/notify.h"
#include "route.h"

#include <stdatomic.h>
#include <stdio.h>

/* resourceID: the type's short name, 8 base62 characters of the creation time in milliseconds
 * (fixed width; the alphabet is in ASCII order, so IDs sort by creation) and 12 random characters
 * from the kernel CSPRNG (~71 bits: not guessable). Time-ordered IDs (and the default
 * resourceNames made from them) append to the store's indexes instead of landing on random
 * pages: a commit writes a handful of pages to the WAL instead of several per resource. */
#define RI_TIME_LEN   8
#define RI_RANDOM_LEN 12

static void make_ri(char *out, size_t len, const char *sn, int64_t now_us)
{
    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    char t[RI_TIME_LEN + 1];
    uint64_t ms = now_us > 0 ? (uint64_t)now_us / 1000 : 0;
    for (int i = RI_TIME_LEN - 1; i >= 0; i--) {
        t[i] = digits[ms % 62];
        ms /= 62;
    }
    t[RI_TIME_LEN] = '\0';
    char r[RI_RANDOM_LEN + 1];
    rand_alnum(r, RI_RANDOM_LEN);
    snprintf(out, len, "%s%s%s", sn, t, r);
}

void resource_make_ri(struct cse *cse, const char *sn, char *out, size_t len)
{
    make_ri(out, len, sn, clock_now_us(&cse->clock));
}

struct create_job {
    struct store_job job;
    bool committed;
    struct cse *cse;
    const struct rtype *rt;
    struct store_row row;
    json_t *res;
    json_t *asked;      /* the request's attributes, for rcn 9 */
    struct notes notes; /* notifications this create causes, sent after the commit */
    struct cse_response *rsp;
    int rcn;
    int result;
    struct cse_cont k;  /* the request, parked on verification and then on its commit */
    char *bind_kpsa_id; /* AE registration binding its PSK (owned copy) */
};

/* the store's schema names these roles (store.h): they must be the registry's types */
_Static_assert((int)STORE_TY_SUBSCRIPTION == (int)TY_SUB && (int)STORE_TY_DENSE_LEAF == (int)TY_CIN,
               "store.h's STORE_TY_* must name the registry's subscription and contentInstance types");

/* An expired resource that the sweeper has not removed yet still holds its name and ID in the
 * store: remove it (as the sweeper would) before the new one takes them. */
static int purge_expired(struct txn_ctx *t, const struct store_row *row)
{
    const struct store_ops *ops = t->txn->st->ops;
    for (int pass = 0; pass < 2; pass++) {
        struct store_row old;
        int rc = pass == 0 ? ops->get_path(t->txn, row->path, INT64_MIN, &old)
                           : ops->get_ri(t->txn, row->ri, INT64_MIN, &old);
        if (rc == STORE_NOT_FOUND)
            continue;
        if (rc != STORE_OK)
            return response_error(t->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
        rc = old.et <= t->now ? txn_delete_resource(t, &old) : 0;
        store_row_free(&old);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int txn_quota_check(struct txn_ctx *t, const char *owner)
{
    const struct cse_config *cfg = t->cse->cfg;
    long max_n = cfg->limits_quota_count, max_bytes = cfg->limits_quota_bytes;
    if ((max_n == 0 && max_bytes == 0) || owner == NULL || owner[0] == '\0' || strcmp(owner, t->cse->admin.canon) == 0)
        return 0;
    int64_t n = 0, bytes = 0;
    if (t->txn->st->ops->usage(t->txn, owner, &n, &bytes) != STORE_OK)
        return response_error(t->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
    /* TS-0004 has no quota code: NOT_ACCEPTABLE, as for a contentInstance beyond its container's
     * maxByteSize (§7.4.7.2.1) */
    if (max_n > 0 && n > max_n)
        return response_error(t->rsp, RSC_NOT_ACCEPTABLE, "quota-count",
                              "quota: '%.64s' would hold %lld resources, at most %ld (limits.quota_count); delete some "
                              "first",
                              owner, (long long)n, max_n);
    if (max_bytes > 0 && bytes > max_bytes)
        return response_error(t->rsp, RSC_NOT_ACCEPTABLE, "quota-bytes",
                              "quota: '%.64s' would hold %lld bytes of resources, at most %ld (limits.quota_bytes); "
                              "delete some first",
                              owner, (long long)bytes, max_bytes);
    return 0;
}

static int create_run(struct store_view *txn, void *arg)
{
    struct create_job *j = arg;
    const struct store_ops *ops = txn->st->ops;
    struct txn_ctx t = {.cse = j->cse, .txn = txn, .now = cse_now(j->cse), .rsp = j->rsp, .notes = &j->notes};
    struct store_row parent;
    int rc = ops->get_ri(txn, j->row.pi, t.now, &parent);
    if (rc != STORE_OK) {
        j->result = rc == STORE_NOT_FOUND
                        ? response_error(j->rsp, RSC_NOT_FOUND, "parent-gone", "the parent resource no longer exists")
                        : response_error(j->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
        return 1;
    }
    if (j->row.et > parent.et) { /* a child never outlives its parent (TS-0001 §9.6.1.3) */
        char ets[TS_LEN + 1];
        j->row.et = parent.et;
        ts_format(parent.et, ets);
        if (parent.ty != TY_CSEBASE) {
            json_set_str(j->res, "et", ets);
            MEM_FREE(j->row.doc); /* encoded on the request thread; encode again below */
        }
    }
    if (j->rt->txn_create)
        j->result = j->rt->txn_create(&t, &parent, &j->row, j->res);
    if (j->result == 0) {
        if (j->row.doc == NULL)
            j->row.doc = json_encode(j->res, NULL);
        rc = ops->insert(txn, &j->row);
        if (rc == STORE_CONFLICT) { /* perhaps an expired resource not swept yet holds the name */
            j->result = purge_expired(&t, &j->row);
            /* removing it may have changed the parent (cni/cbs): read it again */
            store_row_free(&parent);
            if (ops->get_ri(txn, j->row.pi, t.now, &parent) != STORE_OK) {
                if (j->result == 0)
                    j->result = response_error(j->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
                return 1;
            }
            if (j->result == 0)
                rc = ops->insert(txn, &j->row);
        }
        if (j->result == 0 && rc == STORE_CONFLICT)
            j->result = response_error(j->rsp, RSC_CONFLICT, "name-exists",
                                       "a resource named '%s' already exists under this parent", j->row.rn);
        else if (j->result == 0 && rc != STORE_OK)
            j->result = response_error(j->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
    }
    if (j->result == 0) /* TS-0004 §7.3.3.10: the announcement steps commit with the resource */
        j->result = annc_txn_created(&t, j->rt, &j->row);
    if (j->result == 0) {
        const struct rtype *pt = rtype_find(parent.ty);
        if (pt && pt->txn_child_added)
            j->result = pt->txn_child_added(&t, &parent, &j->row);
    }
    /* the creator's quota, counted with this insert and whatever it evicted (mni, mbs): the writer
     * runs one job at a time, so concurrent creates cannot both pass the last free place */
    if (j->result == 0)
        j->result = txn_quota_check(&t, j->row.cr);
    /* TS-0003 §8.2.2.1: a key provisioned without an identity gets the AE-ID this registration
     * allocated, in the same transaction: both commit, or neither (a concurrent registration over
     * the same key that bound it first makes this one 4106) */
    if (j->result == 0 && j->bind_kpsa_id) {
        struct backend *be = j->cse->backend; /* owns both stores: one transaction (store/backend.h) */
        rc = be != NULL ? be->ops->bind_credential(be, txn, j->bind_kpsa_id, j->row.cr) : STORE_ERROR;
        if (rc != STORE_OK)
            j->result = rc == STORE_CONFLICT
                            ? response_error(j->rsp, RSC_ORIGINATOR_NOT_AUTHENTICATED, "credential-taken",
                                             "the credential of this security association is bound to another AE")
                            : response_error(j->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
    }
    if (j->result == 0 && j->row.ty == TY_SUB && ops->add_nsub(txn, parent.ri, 1) != STORE_OK)
        j->result = response_error(j->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
    if (j->result == 0)
        sub_event(&t, &parent, 3 /* create of a direct child */, &j->row, NULL);
    store_row_free(&parent);
    return j->result != 0;
}

/* On the request's own thread (cse_complete): the response, and the job freed. */
static void create_finish(void *arg, struct cse_response *rsp_)
{
    struct create_job *j = arg;
    (void)rsp_;
    bool committed = j->committed;
    struct cse_response *rsp = j->rsp;
    if (!committed) {
        response_error(rsp, RSC_INTERNAL_SERVER_ERROR, "commit", "the store could not commit the change");
    }
    if (committed && j->result == 0) {
        rsp->rsc = RSC_CREATED;
        rsp->location = mem_strdup(j->row.path);
        if (j->bind_kpsa_id)
            LOG(j->cse->log, LOG_INFO, "credential psk:%s bound to %s at registration", j->bind_kpsa_id, j->row.cr);
        struct buf b;
        buf_init(&b);
        switch (j->rcn) {
        case 0: break;
        case 2:
            buf_puts(&b, "{\"m2m:uri\":");
            buf_json_str(&b, j->row.path);
            buf_putc(&b, '}');
            break;
        case 3: {
            json_t *rce = represent_wrap(j->cse, j->rt, json_loads(j->row.doc, 0, NULL), NULL);
            json_object_set_new(rce, "uri", json_string(j->row.path));
            json_t *w = json_pack("{s:o}", "m2m:rce", rce);
            char *txt = json_encode(w, NULL);
            buf_puts(&b, txt);
            mem_free(txt);
            json_decref(w);
            break;
        }
        case 9: { /* TS-0004: the attributes the hosting CSE set or changed */
            json_t *mod = json_object();
            const char *k;
            json_t *v;
            json_object_foreach(j->res, k, v)
            {
                if (!json_equal(v, json_object_get(j->asked, k)))
                    json_object_set(mod, k, v);
            }
            json_t *w = represent_wrap(j->cse, j->rt, mod, j->res);
            char *txt = json_encode(w, NULL);
            buf_puts(&b, txt);
            mem_free(txt);
            json_decref(w);
            break;
        }
        default: {
            size_t n;
            char *txt = represent_row(j->cse, &j->row, &n);
            if (txt)
                buf_append(&b, txt, n);
            mem_free(txt);
            break;
        }
        }
        if (b.len)
            rsp->body = buf_take(&b, &rsp->body_len);
        buf_free(&b);
    }
    mem_free(j->bind_kpsa_id);
    json_decref(j->res);
    json_decref(j->asked);
    store_row_free(&j->row);
    mem_free(j);
}

/* On the writer thread, right after the commit: what cannot wait (notifications, cache
 * invalidation); the rest is left to create_finish on the request's thread. */
static void create_done(void *arg, bool committed)
{
    struct create_job *j = arg;
    j->committed = committed;
    if (committed && j->result == 0 && j->bind_kpsa_id && j->cse->creds)
        cred_touch(j->cse->creds); /* open connections over this key act as the new AE from now on */
    op_committed(committed && j->result == 0, &j->notes,
                 rtype_original(j->rt->ty) == TY_ACP || j->rt->ty == TY_AE /* policies; registrations */, create_finish,
                 j, &j->k);
}

/* Decode the content of a CREATE/UPDATE: exactly {"m2m:<sn>": {...}}. Returns the attribute
 * object (a new reference) or NULL with rsp filled. */
json_t *op_decode_content(struct op_ctx *c, const struct rtype *rt, char *root_out, size_t root_len)
{
    char err[256];
    if (c->req->media != MEDIA_JSON) {
        response_error(c->rsp, RSC_UNSUPPORTED_MEDIA_TYPE, "media", "content must be JSON");
        return NULL;
    }
    json_t *root = json_decode_body(c->req->body, c->req->body_len, err, sizeof err);
    if (root == NULL) {
        response_error(c->rsp, RSC_BAD_REQUEST, "bad-content", "%s", err);
        return NULL;
    }
    char key[LIMIT_ROOT_LEN];
    snprintf(key, sizeof key, "m2m:%s", rt->sn);
    /* a type with per-resource attributes (a flexContainer) is sent under its specialisation's
     * root, which its custom_attrs hook checks against the definition */
    const char *sent =
        json_is_object(root) && json_object_size(root) == 1 ? json_object_iter_key(json_object_iter(root)) : NULL;
    if (rt->custom_attrs && sent && strlen(sent) < sizeof key)
        snprintf(key, sizeof key, "%s", sent);
    json_t *attrs = json_object_get(root, key);
    if (!json_is_object(root) || json_object_size(root) != 1 || !json_is_object(attrs)) {
        response_error(c->rsp, RSC_BAD_REQUEST, "bad-content", "content must be {\"%s\": {...}}",
                       rt->custom_attrs ? "<specialisation root>" : key);
        json_decref(root);
        return NULL;
    }
    if (root_out)
        snprintf(root_out, root_len, "%s", key);
    json_incref(attrs);
    json_decref(root);
    return attrs;
}

/* expirationTime of a create/update request: in the past is refused, beyond the CSE's maximum is
 * clamped (TS-0001 §9.6.1.3: the Hosting CSE may shorten it). Returns 0 or 4000. */
int op_expiration(struct op_ctx *c, const json_t *attrs, int64_t *et)
{
    const json_t *v = json_object_get(attrs, "et");
    int64_t max = c->now + c->cse->cfg->cse_max_lifetime;
    if (!json_is_string(v)) {
        if (c->cse->cfg->cse_default_lifetime == 0) { /* no expirationTime asked for, none given */
            *et = ET_NEVER;
            return 0;
        }
        *et = c->now + c->cse->cfg->cse_default_lifetime;
    } else {
        if (!ts_parse(json_string_value(v), et))
            return response_error(c->rsp, RSC_BAD_REQUEST, "bad-content", "malformed expirationTime");
        if (*et <= c->now)
            return response_error(c->rsp, RSC_BAD_REQUEST, "et-past", "expirationTime is in the past");
    }
    if (*et > max)
        *et = max;
    return 0;
}

/* ---- subscription verification (TS-0004 §7.4.8.2.1, §7.5.1.2.x) ------------------------------
 * Notification targets given as resource IDs other than the originator are asked first, with a
 * verification request; the subscription is created only when every one of them accepts. URL
 * targets are never verified. */

struct verify {
    struct create_job *j;
    atomic_int pending; /* answers outstanding, plus one held while sending */
    atomic_bool failed;
};

static void verify_finish(struct verify *v)
{
    struct create_job *j = v->j;
    bool failed = atomic_load(&v->failed);
    mem_free(v);
    if (!failed && j->cse->store->ops->submit(j->cse->store, &j->job) == STORE_OK)
        return; /* create_done completes the request */
    if (failed)
        response_error(j->rsp, 5204, "verification-failed",
                       "a notification target did not accept the subscription verification request");
    else
        response_error(j->rsp, RSC_INTERNAL_SERVER_ERROR, "overload", "the store cannot accept more writes now");
    json_decref(j->res);
    json_decref(j->asked);
    notes_free(&j->notes);
    store_row_free(&j->row);
    struct cse_cont k = j->k;
    mem_free(j);
    cont_resume(&k, CONT_ANSWERED);
}

static void verify_answer(void *arg, const struct out_response *res)
{
    struct verify *v = arg;
    if (!rsc_is_success(res->rsc))
        atomic_store(&v->failed, true);
    if (atomic_fetch_sub(&v->pending, 1) == 1)
        verify_finish(v);
}

static enum cse_status verify_targets(struct op_ctx *c, struct create_job *j)
{
    const json_t *nu = json_object_get(j->res, "nu");
    const char *orig = c->orig->subj.canon ? c->orig->subj.canon : "";
    struct verify *v = mem_calloc(1, sizeof *v);
    v->j = j;
    atomic_init(&v->pending, 1);
    char *sur = mem_alloc(strlen(c->cse->cfg->cse_id) + strlen(j->row.path) + 2);
    sprintf(sur, "%s/%s", c->cse->cfg->cse_id, j->row.path);
    json_t *sgn = json_pack("{s:{s:b, s:s, s:s}}", "m2m:sgn", "vrq", 1, "sur", sur, "cr", c->req->fr ? c->req->fr : "");
    size_t len;
    char *body = json_encode(sgn, &len);
    json_decref(sgn);
    mem_free(sur);
    size_t sent = 0, i;
    json_t *e;
    json_array_foreach(nu, i, e)
    {
        const char *s = json_string_value(e);
        struct id id;
        if (strstr(s, "://"))
            continue;
        if (!id_parse(&c->cse->idenv, s, &id) || (id.kind != ID_AE && id.kind != ID_CSE)) {
            /* a CSE-relative address of an AE (or of the CSEBase: nothing to verify) is verified as
             * the AE-ID it names */
            struct store_row row;
            bool ok = false;
            if (resolve_row(c, s, true, &row) == 0) {
                ok = row.ty == TY_AE && id_parse(&c->cse->idenv, row.ri, &id);
                store_row_free(&row);
            }
            if (!ok)
                continue;
        }
        if (strcmp(id.canon, orig) == 0)
            continue;
        char url[1024];
        atomic_fetch_add(&v->pending, 1);
        int sent_rc = -1;
        if (c->cse->outbound != NULL && ae_poa(c->cse, c->view, c->now, s, url, sizeof url) == 0)
            sent_rc = notify_send(c->cse->outbound, url, body, len, c->cse->cfg->cse_id, verify_answer, v);
        else if (c->cse->outbound != NULL && route_notify_target(c->cse, c->view, s, url, sizeof url))
            sent_rc = route_notify_send(c->cse, url, body, len, verify_answer, v); /* registered elsewhere */
        if (sent_rc != 0) {
            atomic_store(&v->failed, true);
            atomic_fetch_sub(&v->pending, 1);
        }
        sent++;
    }
    mem_free(body);
    if (sent == 0) { /* nothing to verify: the caller submits as usual */
        mem_free(v);
        return CSE_DONE;
    }
    if (atomic_fetch_sub(&v->pending, 1) == 1)
        verify_finish(v); /* every target failed before any answer could arrive */
    return CSE_PENDING;
}

static bool parent_allowed(const struct rtype *rt, int pty)
{
    for (const int *p = rt->parents; *p; p++)
        if (*p == pty)
            return true;
    return false;
}

enum cse_status op_create(struct op_ctx *c)
{
    const struct store_row *parent = &c->tgt->row;
    struct cse_response *rsp = c->rsp;
    int rcn = c->req->rcn < 0 ? 1 : c->req->rcn;
    if (rcn > 3 && rcn != 9) {
        response_error(rsp, RSC_BAD_REQUEST, "bad-rcn", "resultContent %d is not valid for CREATE", rcn);
        return CSE_DONE;
    }
    if (c->tgt->virt != VIRT_NONE) {
        response_error(rsp, RSC_OPERATION_NOT_ALLOWED, "virtual", "cannot create under a virtual resource");
        return CSE_DONE;
    }
    const struct rtype *rt = rtype_find(c->req->ty);
    if (rt == NULL && !rtype_defined(c->req->ty)) { /* TS-0004 §7.3.2.1: an invalid Resource Type */
        response_error(rsp, RSC_BAD_REQUEST, "bad-ty", "%d is not a oneM2M resource type", c->req->ty);
        return CSE_DONE;
    }
    if (rt == NULL) { /* TS-0004 §7.3.3.3: a valid CREATE of a type this CSE does not implement */
        response_error(rsp, RSC_NOT_IMPLEMENTED, "ty-not-implemented",
                       "resource type %d is not implemented by this CSE", c->req->ty);
        return CSE_DONE;
    }
    /* an AE registers with the CSEBase only, and a type only the CSE creates is never created by a
     * request: that says nothing about the target but that it is not the CSEBase, whose address
     * everyone knows (TS-0004 §7.3.3.3) */
    if (!rt->creatable || (rt->ty == TY_AE && parent->ty != TY_CSEBASE)) {
        response_error(rsp, RSC_INVALID_CHILD_RESOURCE_TYPE, "bad-child", "m2m:%s cannot be a child of this resource",
                       rt->sn);
        return CSE_DONE;
    }
    if (op_authorize(c, ACOP_CREATE, parent, rt->ty) != 0)
        return CSE_DONE;
    /* TS-0004 §7.4.8.2.1 Recv-6.3: subscribing also needs RETRIEVE on the subscribed-to resource */
    if (rt->ty == TY_SUB && op_authorize(c, ACOP_RETRIEVE, parent, 0) != 0)
        return CSE_DONE;
    /* TS-0004 Recv-6.4 (§7.3.3.3) after Recv-6.3: a 4108 (or 5203) before the authorization would
     * tell an originator without privilege the parent's type (directly, or through a group's
     * fanOutPoint) */
    if (rt->ty == TY_SUB && !rtype_subscribable(parent->ty)) { /* TS-0004 §7.4.8.2.1 */
        response_error(rsp, RSC_TARGET_NOT_SUBSCRIBABLE, "not-subscribable", "this resource cannot be subscribed to");
        return CSE_DONE;
    }
    if (!parent_allowed(rt, parent->ty)) {
        response_error(rsp, RSC_INVALID_CHILD_RESOURCE_TYPE, "bad-child", "m2m:%s cannot be a child of this resource",
                       rt->sn);
        return CSE_DONE;
    }
    char root[LIMIT_ROOT_LEN];
    json_t *attrs = op_decode_content(c, rt, root, sizeof root);
    if (attrs == NULL)
        return CSE_DONE;
    int64_t et;
    const struct attr_def *custom = NULL;
    int ncustom = 0;
    if ((rt->custom_attrs && rt->custom_attrs(c->cse, root, attrs, NULL, &custom, &ncustom, rsp) != 0) ||
        attr_validate_ext(rt, custom, ncustom, attrs, true, rsp) != 0 || op_expiration(c, attrs, &et) != 0 ||
        annc_request_check(c, rt, parent, NULL, attrs) != 0) {
        json_decref(attrs);
        return CSE_DONE;
    }

    char *acpi = NULL;
    const json_t *acpi_list = json_object_get(attrs, "acpi");
    if (acpi_list != NULL && acpi_resolve(c, acpi_list, true, &acpi) != 0) {
        json_decref(attrs);
        return CSE_DONE;
    }
    struct create_job *j = mem_calloc(1, sizeof *j);
    j->cse = c->cse;
    if (c->orig->bind_kpsa_id) {
        j->bind_kpsa_id = mem_alloc(CRED_KPSAID_MAX + 1);
        cred_kpsaid_norm(c->orig->bind_kpsa_id, j->bind_kpsa_id);
    }
    j->rt = rt;
    j->rsp = rsp;
    j->rcn = rcn;
    j->k = c->k;
    char ri[RI_TIME_LEN + RI_RANDOM_LEN + 16];
    make_ri(ri, sizeof ri, rt->sn, clock_now_us(&c->cse->clock));
    struct store_row *row = &j->row;
    row->ri = mem_strdup(ri);
    row->pi = mem_strdup(parent->ri);
    const json_t *rn = json_object_get(attrs, "rn");
    row->rn = mem_strdup(json_is_string(rn) ? json_string_value(rn) : ri);
    row->ty = rt->ty;
    row->et = et;
    row->cr = mem_strdup(c->orig->subj.canon ? c->orig->subj.canon : "");
    row->ae = mem_strdup(parent->ae);
    row->acpi = acpi ? acpi : mem_strdup("");

    char ts[TS_LEN + 1], ets[TS_LEN + 1];
    ts_format(c->now, ts);
    ts_format(et, ets);
    json_t *res = json_object();
    j->res = res;
    json_set_int(res, "ty", rt->ty);
    json_set_str(res, "ri", ri);
    json_set_str(res, "rn", row->rn);
    json_set_str(res, "pi", parent->ri);
    json_set_str(res, "ct", ts);
    json_set_str(res, "lt", ts);
    json_set_str(res, "et", ets);
    if (rt->has_st)
        json_set_int(res, "st", 0);
    const char *k;
    json_t *v;
    json_object_foreach(attrs, k, v)
    {
        if (strcmp(k, "rn") == 0 || strcmp(k, "et") == 0)
            continue;
        if (strcmp(k, "cr") == 0) { /* TS-0004: cr=null asks the CSE to record the creator */
            if (rt->has_cr)
                json_set_str(res, "cr", c->req->fr ? c->req->fr : "");
            continue;
        }
        json_object_set(res, k, v);
    }

    struct create_ctx cc = {
        .cse = c->cse,
        .req = c->req,
        .orig = c->orig->present ? &c->orig->id : NULL,
        .parent = parent,
        .attrs = attrs,
        .res = res,
        .row = row,
        .now = c->now,
        .rsp = rsp,
        .lookup = {op_resolve, c, op_resolve_remote},
        .view = c->view,
    };
    int rc = rt->prepare_create ? rt->prepare_create(&cc) : 0;
    j->asked = attrs;                    /* reference handed to the job */
    enum cse_status fetch_st = CSE_DONE; /* the hook asked for resources on other CSEs: wait for them */
    if (c->want != NULL && remote_fetch_park(c, &fetch_st))
        goto fail;
    if (rc == 0) {
        json_set_str(res, "ri", row->ri);
        json_set_str(res, "rn", row->rn);
        struct buf path;
        buf_init(&path);
        buf_printf(&path, "%s/%s", parent->path, row->rn);
        row->path = buf_take(&path, NULL);
        if (strlen(row->path) > LIMIT_ID_LEN || strchr(row->path, '/') == NULL)
            rc = response_error(rsp, RSC_BAD_REQUEST, "too-deep", "the resource address would be too long");
        int depth = 0;
        for (const char *p = row->path; *p; p++)
            depth += *p == '/';
        if (rc == 0 && depth > LIMIT_PATH_DEPTH)
            rc = response_error(rsp, RSC_BAD_REQUEST, "too-deep", "the resource tree would be deeper than %d",
                                LIMIT_PATH_DEPTH);
    }
    if (rc == 0) {
        row->doc = json_encode(res, NULL); /* here, so the single writer thread need not */
        j->job.run = create_run;
        j->job.done = create_done;
        j->job.arg = j;
        if (!op_park(c, PARK_COMMIT, &j->k)) {
            response_error(rsp, RSC_INTERNAL_SERVER_ERROR, "cannot-park", "this request cannot wait for its commit");
            goto fail;
        }
        if (rt->ty == TY_SUB || rt->ty == TY_CRS) { /* crossResourceSubscription: as for <subscription> */
            j->k.why = PARK_VERIFY;                 /* then on the commit, with the same continuation */
            enum cse_status vs = verify_targets(c, j);
            if (vs != CSE_DONE || rsp->rsc != 0)
                return vs;
            j->k.why = PARK_COMMIT;
        }
        if (c->cse->store->ops->submit(c->cse->store, &j->job) == STORE_OK)
            return CSE_PENDING;
        response_error(rsp, RSC_INTERNAL_SERVER_ERROR, "overload", "the store cannot accept more writes now");
    }
fail:
    mem_free(j->bind_kpsa_id);
    json_decref(res);
    json_decref(j->asked);
    store_row_free(row);
    mem_free(j);
    return fetch_st;
}
