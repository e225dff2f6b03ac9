/* ops_retrieve: RETRIEVE with the result contents of TS-0004 §7.3.3.x (rcn 1, 4, 5, 6, 7, 8),
 * discovery (fu=1) and conditional retrieve (fu=2) over the filter criteria the foundation knows. */
#include <string.h>

#include "core_int.h"
#include "encoding/json.h"
#include "rsc.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/timeutil.h"

static const char *ref_of(const struct op_ctx *c, const struct store_row *r)
{
    return c->req->drt == 2 ? r->ri : r->path;
}

static json_t *child_ref(const struct op_ctx *c, const struct store_row *r)
{
    return json_pack("{s:s, s:i, s:s}", "nm", r->rn, "typ", r->ty, "val", ref_of(c, r));
}

/* May the originator do op (RETRIEVE, DISCOVERY) on this resource? Each one is decided by its own
 * policies (TS-0001 §9.6.2): a result that embeds, lists or discovers resources must never reveal
 * one the originator could not reach directly. Siblings governed by their parent's policies
 * (contentInstances) share one decision. */
struct visibility {
    enum acop op;
    char *memo_pi;
    bool memo_permit;
};

bool op_cin_disabled(struct op_ctx *c, const struct store_row *r)
{
    if (r->ty != TY_CIN || !atomic_load_explicit(&c->cse->disr_seen, memory_order_acquire))
        return false;
    struct store_row parent;
    if (c->view->st->ops->get_ri(c->view, r->pi, c->now, &parent) != STORE_OK)
        return false;
    bool disr = parent.ty == TY_CNT && cnt_retrieval_disabled(parent.doc);
    store_row_free(&parent);
    return disr;
}

static bool visible(struct op_ctx *c, const struct store_row *r, struct visibility *vis)
{
    const struct rtype *t = rtype_find(r->ty);
    bool shared = t != NULL && !t->has_acpi && r->ty != TY_ACP;
    if (shared && vis->memo_pi && strcmp(vis->memo_pi, r->pi) == 0)
        return vis->memo_permit;
    struct decision d;
    policy_decide(c, vis->op, r, 0, false, &d);
    /* TS-0001 §9.6.6: the instances of a container with disableRetrieval true appear in no result */
    bool permit = d.permit && !op_cin_disabled(c, r);
    if (shared) {
        mem_free(vis->memo_pi);
        vis->memo_pi = mem_strdup(r->pi);
        vis->memo_permit = permit;
    }
    return permit;
}

static void set_body(struct cse_response *rsp, json_t *v)
{
    rsp->body = json_encode(v, &rsp->body_len);
    json_decref(v);
}

static bool filter_of(const struct op_ctx *c, struct store_filter *f, bool self);

/* Does the request carry a matching condition (TS-0004 §6.3.5.8) rather than only the handling
 * conditions lim, lvl, ofst, fu, fo? */
static bool fc_has_conditions(const struct cse_filter *fc)
{
    return fc->nty || fc->nlbl || fc->ncty || fc->natr || fc->crb || fc->cra || fc->ms || fc->us || fc->exb ||
           fc->exa || fc->sts >= 0 || fc->stb >= 0 || fc->sza >= 0 || fc->szb >= 0;
}

/* Pre-order of the resource tree from structured paths: '/' sorts before every other character,
 * so a resource comes right before its descendants. */
static int preorder_cmp(const void *a, const void *b)
{
    const unsigned char *x = (const unsigned char *)((const struct store_row *)a)->path;
    const unsigned char *y = (const unsigned char *)((const struct store_row *)b)->path;
    for (; *x && *x == *y; x++, y++)
        ;
    int cx = *x == '/' ? 1 : *x, cy = *y == '/' ? 1 : *y;
    return cx - cy;
}

static bool is_below(const char *path, const char *anc)
{
    size_t n = strlen(anc);
    return strncmp(path, anc, n) == 0 && path[n] == '/';
}

struct collect {
    struct op_ctx *c;
    struct rowvec rows;
    struct visibility vis;
    bool truncated;
};

static int collect_one(void *arg, const struct store_row *r)
{
    struct collect *k = arg;
    if (!visible(k->c, r, &k->vis))
        return 0; /* skipped; its descendants are still looked at */
    if (k->rows.n == k->rows.max) {
        k->truncated = true;
        return 1;
    }
    return rowvec_collect(&k->rows, r);
}

/* TS-0001 §8.1.2 (attributes+child-resources, child-resources, attributes+child-resource-references,
 * child-resource-references), §10.2.6.2, TS-0004 §7.3.3.17: the child and descendant resources of
 * row that pass the filter criteria (conditional retrieval, the default filterUsage of a RETRIEVE,
 * TS-0004 Table 6.3.4.2.31-1) and that the originator may RETRIEVE, at most lvl levels deep.
 * Resources listed are grouped by the direct entry they belong to (a resource nests under its
 * closest listed ancestor; a resource not listed is skipped, its descendants are not): ofst names
 * the entry to start at, counted from 1 (TS-0001 §8.1.2 "the offset shall start at 1", TS-0004
 * §7.3.3.17.15; 0 or absent: the first), and an entry is listed only with all its descendants,
 * within lim (and the CSE's own limit); a partial result says so (cnst, and cnot: the ofst to ask
 * for next).
 * rcn 4/8 nest representations, rcn 5/6 list references {nm, typ, val}. Fills c->rsp (2000) or
 * returns an RSC. */
int op_result_content(struct op_ctx *c, const struct store_row *row, int rcn)
{
    struct cse_response *rsp = c->rsp;
    const struct cse_filter *fc = &c->req->fc;
    const struct rtype *t = rtype_find(row->ty);
    if (rcn == 1 || rcn == 7) {
        rsp->body = represent_row(c->cse, row, &rsp->body_len);
        rsp->rsc = RSC_OK;
        return 0;
    }
    size_t cap = LIMIT_CHILDREN_EMBEDDED;
    if (fc->lim >= 0 && (size_t)fc->lim < cap)
        cap = (size_t)fc->lim;
    struct store_filter f;
    if (!filter_of(c, &f, false))
        return response_error(rsp, RSC_BAD_REQUEST, "bad-query", "malformed expireBefore/expireAfter");
    /* collect one more than can be returned (to tell a complete result from a cut one), beyond the
     * resources ofst skips */
    struct collect k = {.c = c, .vis = {.op = ACOP_RETRIEVE}};
    k.rows.max = LIMIT_CHILDREN_EMBEDDED + (size_t)(fc->ofst > 0 ? fc->ofst : 0) + 1;
    if (k.rows.max > 4 * LIMIT_CHILDREN_EMBEDDED)
        k.rows.max = 4 * LIMIT_CHILDREN_EMBEDDED;
    int walk = c->view->st->ops->find(c->view, row->path, &f, c->now, collect_one, &k);
    mem_free(k.vis.memo_pi);
    if (walk < 0) {
        rowvec_free(&k.rows);
        return response_error(rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
    }
    struct rowvec *rv = &k.rows;
    if (rv->n > 1)
        qsort(rv->v, rv->n, sizeof rv->v[0], preorder_cmp);
    /* parent[i]: index of the closest listed ancestor (-1: the target); group[i]: entry number */
    long *parent = mem_calloc(rv->n + 1, sizeof *parent);
    long *group = mem_calloc(rv->n + 1, sizeof *group);
    long *stack = mem_calloc(rv->n + 1, sizeof *stack);
    long depth = 0, ngroups = 0;
    for (size_t i = 0; i < rv->n; i++) {
        while (depth > 0 && !is_below(rv->v[i].path, rv->v[stack[depth - 1]].path))
            depth--;
        parent[i] = depth > 0 ? stack[depth - 1] : -1;
        group[i] = depth > 0 ? group[stack[depth - 1]] : ngroups++;
        stack[depth++] = (long)i;
    }
    if (k.truncated && ngroups > 0) /* the last entry may miss descendants that were not collected */
        ngroups--;
    long first = fc->ofst > 1 ? fc->ofst - 1 : 0, last = first; /* entries [first, last) are listed, from 0 */
    size_t used = 0;
    bool partial = k.truncated;
    for (size_t i = 0; i < rv->n;) {
        size_t e = i;
        while (e < rv->n && group[e] == group[i])
            e++;
        if (group[i] >= first && group[i] < ngroups) {
            if (used + (e - i) > cap || last != group[i]) {
                partial = true;
                break;
            }
            used += e - i;
            last = group[i] + 1;
        }
        i = e;
    }
    if (last < ngroups)
        partial = true;
    json_t *out = NULL;
    /* the root: "m2m:<sn>", or the type's own (a flexContainer's specialisation) */
    char key[LIMIT_ROOT_LEN];
    json_t *self = json_loads(row->doc, 0, NULL);
    represent_key(c->cse, t, self, key, sizeof key);
    json_decref(self);
    int rc = 0;
    if (rcn == 4 || rcn == 8) {
        json_t **node = mem_calloc(rv->n + 1, sizeof *node); /* borrowed */
        json_t *top = rcn == 4 ? json_loads(row->doc, 0, NULL) : json_object();
        if (top == NULL)
            rc = response_error(rsp, RSC_INTERNAL_SERVER_ERROR, "store", "stored representation unreadable");
        else if (rcn == 4)
            represent_strip(t, top); /* never key material, at any rcn (write-only attributes) */
        for (size_t i = 0; i < rv->n && rc == 0; i++) {
            if (group[i] < first || group[i] >= last)
                continue;
            const struct rtype *kt = rtype_find(rv->v[i].ty);
            json_t *kd = json_loads(rv->v[i].doc, 0, NULL);
            if (kt == NULL || kd == NULL) {
                json_decref(kd);
                continue;
            }
            json_t *into = parent[i] >= 0 && node[parent[i]] ? node[parent[i]] : top;
            represent_strip(kt, kd);
            char kk[LIMIT_ROOT_LEN];
            represent_key(c->cse, kt, kd, kk, sizeof kk);
            json_t *arr = json_object_get(into, kk);
            if (!json_is_array(arr)) {
                arr = json_array();
                json_object_set_new(into, kk, arr);
            }
            json_array_append_new(arr, kd);
            node[i] = kd;
        }
        mem_free(node);
        if (rc == 0)
            out = json_pack("{s:o}", key, top);
    } else { /* 5, 6: child resource references */
        json_t *refs = json_array();
        for (size_t i = 0; i < rv->n; i++)
            if (group[i] >= first && group[i] < last)
                json_array_append_new(refs, child_ref(c, &rv->v[i]));
        if (rcn == 5) {
            json_t *doc = json_loads(row->doc, 0, NULL);
            if (doc == NULL) {
                json_decref(refs);
                rc = response_error(rsp, RSC_INTERNAL_SERVER_ERROR, "store", "stored representation unreadable");
            } else {
                represent_strip(t, doc);
                json_object_set_new(doc, "ch", refs);
                out = json_pack("{s:o}", key, doc);
            }
        } else {
            out = json_pack("{s:{s:o}}", "m2m:rrl", "rrf", refs);
        }
    }
    mem_free(parent);
    mem_free(group);
    mem_free(stack);
    rowvec_free(rv);
    if (rc != 0)
        return rc;
    if (partial) { /* TS-0004 §6.3.4.2.44-45: partial content; the entry where processing restarts */
        rsp->cnst = 1;
        rsp->cnot = last + 1; /* 1-based, as ofst */
    }
    set_body(rsp, out);
    rsp->rsc = RSC_OK;
    return 0;
}

/* ---- filter criteria ---------------------------------------------------------------------------
 * TS-0004 §7.3.3.17: the store evaluates the criteria (store_filter), so discovery over a large
 * tree is an index scan that the authorization walk below can stop early. */

static bool filter_of(const struct op_ctx *c, struct store_filter *f, bool self)
{
    const struct cse_filter *fc = &c->req->fc;
    memset(f, 0, sizeof *f);
    f->ty = fc->ty;
    f->nty = fc->nty;
    f->lbl = fc->lbl;
    f->nlbl = fc->nlbl;
    f->cty = fc->cty;
    f->ncty = fc->ncty;
    f->atr_name = fc->atr_name;
    f->atr_value = fc->atr_value;
    f->natr = fc->natr;
    f->crb = fc->crb;
    f->cra = fc->cra;
    f->ms = fc->ms;
    f->us = fc->us;
    f->sts = fc->sts;
    f->stb = fc->stb;
    f->sza = fc->sza;
    f->szb = fc->szb;
    f->any_of = fc->fo == 2;
    f->max_depth = self ? -1 : (int)fc->lvl;
    f->self = self;
    if (fc->exb && !ts_parse(fc->exb, &f->exb))
        return false;
    if (fc->exa && !ts_parse(fc->exa, &f->exa))
        return false;
    return true;
}

static int found_one(void *arg, const struct store_row *r)
{
    (void)r;
    *(bool *)arg = true;
    return 1;
}

struct disc {
    struct op_ctx *c;
    long skip;
    long left;
    bool capped; /* left is the CSE's limit, not the originator's lim */
    bool more;   /* a further match exists beyond what was returned */
    long returned;
    json_t *uris;
    bool rrl;              /* m2m:rrl entries instead of m2m:uril */
    struct visibility vis; /* DISCOVERY decisions (TS-0001 §10.2.6) */
};

static int discover_one(void *arg, const struct store_row *r)
{
    struct disc *d = arg;
    if (!visible(d->c, r, &d->vis))
        return 0;
    if (d->skip > 0) {
        d->skip--;
        return 0;
    }
    if (d->left <= 0) { /* one match past the page: there is more */
        d->more = true;
        return 1;
    }
    json_array_append_new(d->uris, d->rrl ? child_ref(d->c, r) : json_string(ref_of(d->c, r)));
    d->returned++;
    d->left--;
    return d->left <= 0 && !d->capped; /* under the CSE's own cap, look for one more match */
}

static enum cse_status discover(struct op_ctx *c, const struct store_row *row)
{
    const struct cse_filter *fc = &c->req->fc;
    /* TS-0001 Table 8.1.2-1: child-resource-references is the one rcn valid for discovery; TS-0004
     * Table 7.5.2-2: without rcn the result is m2m:uril, with rcn 6 m2m:rrl (nm, typ, val) */
    int rcn = c->req->rcn;
    if (rcn >= 0 && rcn != 6) {
        response_error(c->rsp, RSC_BAD_REQUEST, "bad-rcn", "discovery supports resultContent 6 only");
        return CSE_DONE;
    }
    /* TS-0001 §10.2.6, TS-0004 §7.3.3.14: the root of a discovery needs no DISCOVER privilege of its
     * own: every resource of the subtree (the root included) is decided on its own policies, the
     * ones the originator may not discover are skipped and their discoverable descendants are
     * still found; a subtree with nothing discoverable answers an empty list, not 4103 */
    struct disc d = {
        .c = c,
        .skip = fc->ofst > 1 ? fc->ofst - 1 : 0, /* ofst counts from 1 (TS-0001 §8.1.2) */
        .left = fc->lim >= 0 && fc->lim < LIMIT_DISCOVERY_RESULTS ? fc->lim : LIMIT_DISCOVERY_RESULTS,
        .capped = !(fc->lim >= 0 && fc->lim < LIMIT_DISCOVERY_RESULTS),
        .uris = json_array(),
        .rrl = rcn == 6,
        .vis = {.op = ACOP_DISCOVERY},
    };
    struct store_filter f;
    if (!filter_of(c, &f, false)) {
        json_decref(d.uris);
        response_error(c->rsp, RSC_BAD_REQUEST, "bad-query", "malformed expireBefore/expireAfter");
        return CSE_DONE;
    }
    int walk = d.left > 0 ? c->view->st->ops->find(c->view, row->path, &f, c->now, discover_one, &d) : 0;
    mem_free(d.vis.memo_pi);
    if (walk < 0) {
        json_decref(d.uris);
        response_error(c->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
        return CSE_DONE;
    }
    if (d.more) {
        c->rsp->cnst = 1;
        c->rsp->cnot = (fc->ofst > 1 ? fc->ofst : 1) + d.returned; /* the ofst to ask for next */
    }
    set_body(c->rsp, d.rrl ? json_pack("{s:{s:o}}", "m2m:rrl", "rrf", d.uris) : json_pack("{s:o}", "m2m:uril", d.uris));
    c->rsp->rsc = RSC_OK;
    return CSE_DONE;
}

static bool attr_of(const struct rtype *t, const char *sn)
{
    for (int i = 0; t && i < t->nattrs; i++)
        if (strcmp(t->attrs[i].sn, sn) == 0)
            return true;
    return false;
}

/* Partial retrieve (TS-0004 §7.3.3.x "Partial retrieve request", TS-0009 §6.2.2.2): the attribute
 * names of atrl (the To fragment) and of a Content {"m2m:atrl": [...]} (TS-0004 Table 7.5.2-1).
 * Returns the list (a new reference; NULL when the request asks for no partial retrieve) or NULL
 * with rsp filled (4000). */
static json_t *partial_names(struct op_ctx *c, const struct rtype *t, bool *bad)
{
    *bad = false;
    json_t *names = json_array();
    for (int i = 0; i < c->req->natrl; i++)
        json_array_append_new(names, json_string(c->req->atrl[i]));
    if (c->req->body_len > 0) {
        char err[160];
        json_t *root =
            c->req->media == MEDIA_JSON ? json_decode_body(c->req->body, c->req->body_len, err, sizeof err) : NULL;
        json_t *list = json_object_get(root, "m2m:atrl");
        size_t i;
        json_t *e;
        if (!json_is_object(root) || json_object_size(root) != 1 || !json_is_array(list) ||
            json_array_size(list) == 0 || json_array_size(list) > FC_MAX_ATR)
            *bad = true;
        json_array_foreach(list, i, e)
        {
            if (!json_is_string(e))
                *bad = true;
            else
                json_array_append(names, e);
        }
        json_decref(root);
        if (*bad) {
            json_decref(names);
            response_error(c->rsp, RSC_BAD_REQUEST, "bad-content",
                           "the Content of a RETRIEVE is an attribute list {\"m2m:atrl\": [short names]}");
            return NULL;
        }
    }
    if (json_array_size(names) == 0) {
        json_decref(names);
        return NULL;
    }
    size_t i;
    json_t *e;
    json_array_foreach(names, i, e)
    {
        if (!attr_of(t, json_string_value(e))) {
            response_error(c->rsp, RSC_BAD_REQUEST, "bad-atrl", "'%.32s' is not an attribute of m2m:%s",
                           json_string_value(e), t ? t->sn : "?");
            json_decref(names);
            *bad = true;
            return NULL;
        }
    }
    return names;
}

enum cse_status op_retrieve(struct op_ctx *c)
{
    const struct store_row *row = &c->tgt->row;
    const struct rtype *rt = rtype_find(row->ty);
    bool bad;
    json_t *atrl = partial_names(c, rt, &bad);
    if (bad)
        return CSE_DONE;
    if (atrl != NULL) { /* a partial retrieve: the attributes asked for, of the target only */
        if (c->req->fc.fu == 1 || (c->req->rcn >= 0 && c->req->rcn != 1)) {
            json_decref(atrl);
            response_error(c->rsp, RSC_BAD_REQUEST, "bad-atrl",
                           "a partial retrieve takes neither fu=1 nor rcn other than 1");
            return CSE_DONE;
        }
        if (op_authorize(c, ACOP_RETRIEVE, row, 0) != 0) {
            json_decref(atrl);
            return CSE_DONE;
        }
        if (op_cin_disabled(c, row)) {
            json_decref(atrl);
            response_error(c->rsp, RSC_OPERATION_NOT_ALLOWED, "disr",
                           "the container disables retrieval of its instances");
            return CSE_DONE;
        }
        json_t *doc = json_loads(row->doc, 0, NULL), *part = json_object();
        represent_strip(rt, doc); /* a write-only attribute (key material) is never returned */
        char key[LIMIT_ROOT_LEN];
        represent_key(c->cse, rt, doc, key, sizeof key);
        size_t i;
        json_t *e;
        json_array_foreach(atrl, i, e)
        {
            json_t *v = json_object_get(doc, json_string_value(e));
            if (v != NULL) /* an attribute without a value is left out */
                json_object_set(part, json_string_value(e), v);
        }
        json_decref(doc);
        json_decref(atrl);
        set_body(c->rsp, json_pack("{s:o}", key, part));
        c->rsp->rsc = RSC_OK;
        return CSE_DONE;
    }
    if (c->req->fc.fu == 1)
        return discover(c, row);
    int rcn = c->req->rcn < 0 ? 1 : c->req->rcn;
    if (!(rcn == 1 || (rcn >= 4 && rcn <= 8))) {
        response_error(c->rsp, RSC_BAD_REQUEST, "bad-rcn", "resultContent %d is not valid for RETRIEVE", rcn);
        return CSE_DONE;
    }
    if (op_authorize(c, ACOP_RETRIEVE, row, 0) != 0)
        return CSE_DONE;
    if (op_cin_disabled(c, row)) { /* TS-0004 §7.4.7.2.2 (also la/ol, §7.4.27.2.x Recv-6.3) */
        response_error(c->rsp, RSC_OPERATION_NOT_ALLOWED, "disr", "the container disables retrieval of its instances");
        return CSE_DONE;
    }
    /* TS-0004 Table 6.3.4.2.31-1: conditional retrieval is the filterUsage of a RETRIEVE without
     * one. With rcn 4/5/6/8 the criteria select the children and descendants returned
     * (op_result_content); otherwise the target itself must pass them (4004 when it does not) */
    bool descendants = rcn == 4 || rcn == 5 || rcn == 6 || rcn == 8;
    if (!descendants && fc_has_conditions(&c->req->fc)) {
        struct store_filter f;
        bool hit = false;
        if (!filter_of(c, &f, true) || c->view->st->ops->find(c->view, row->path, &f, c->now, found_one, &hit) < 0) {
            response_error(c->rsp, RSC_BAD_REQUEST, "bad-query", "the filter criteria cannot be evaluated");
            return CSE_DONE;
        }
        if (!hit) {
            response_error(c->rsp, RSC_NOT_FOUND, "filter", "the resource does not match the filter criteria");
            return CSE_DONE;
        }
    }
    op_result_content(c, row, rcn);
    return CSE_DONE;
}
