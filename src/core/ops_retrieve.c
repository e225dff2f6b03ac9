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

static bool visible(struct op_ctx *c, const struct store_row *r, struct visibility *vis)
{
    const struct rtype *t = rtype_find(r->ty);
    bool shared = t != NULL && !t->has_acpi && r->ty != TY_ACP;
    if (shared && vis->memo_pi && strcmp(vis->memo_pi, r->pi) == 0)
        return vis->memo_permit;
    struct decision d;
    policy_decide(c, vis->op, r, 0, false, &d);
    if (shared) {
        mem_free(vis->memo_pi);
        vis->memo_pi = mem_strdup(r->pi);
        vis->memo_permit = d.permit;
    }
    return d.permit;
}

/* Embed the children of row into obj as "m2m:<sn>": [...] arrays, recursively (rcn 4 and 8), at
 * most *budget resources in all; *truncated reports that some were left out. */
static int embed_children(struct op_ctx *c, const struct store_row *row, json_t *obj, size_t *budget, bool *truncated,
                          struct visibility *vis)
{
    struct rowvec kids = {.max = *budget + 1};
    if (c->view->st->ops->children(c->view, row->ri, 0, c->now, rowvec_collect, &kids) < 0) {
        rowvec_free(&kids);
        return response_error(c->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
    }
    int rc = 0;
    for (size_t i = 0; i < kids.n && rc == 0; i++) {
        const struct store_row *k = &kids.v[i];
        const struct rtype *kt = rtype_find(k->ty);
        if (*budget == 0) {
            *truncated = true;
            break;
        }
        if (!visible(c, k, vis))
            continue;
        json_t *kd = json_loads(k->doc, 0, NULL);
        if (kt == NULL || kd == NULL) {
            json_decref(kd);
            continue;
        }
        (*budget)--;
        represent_strip(kt, kd);
        char key[LIMIT_ROOT_LEN];
        represent_key(c->cse, kt, kd, key, sizeof key);
        rc = embed_children(c, k, kd, budget, truncated, vis);
        json_t *arr = json_object_get(obj, key);
        if (arr == NULL) {
            arr = json_array();
            json_object_set_new(obj, key, arr);
        }
        json_array_append_new(arr, kd);
    }
    if (kids.n == kids.max) /* the window was full: children beyond it were not looked at */
        *truncated = true;
    rowvec_free(&kids);
    return rc;
}

static void set_body(struct cse_response *rsp, json_t *v)
{
    rsp->body = json_encode(v, &rsp->body_len);
    json_decref(v);
}

static int retrieve_rcn(struct op_ctx *c, const struct store_row *row, int rcn)
{
    struct cse_response *rsp = c->rsp;
    const struct rtype *t = rtype_find(row->ty);
    if (rcn == 1 || rcn == 7) {
        rsp->body = represent_row(c->cse, row, &rsp->body_len);
        rsp->rsc = RSC_OK;
        return 0;
    }
    json_t *doc = json_loads(row->doc, 0, NULL);
    if (doc == NULL)
        return response_error(rsp, RSC_INTERNAL_SERVER_ERROR, "store", "stored representation unreadable");
    represent_strip(t, doc);
    char key[LIMIT_ROOT_LEN];
    represent_key(c->cse, t, doc, key, sizeof key);
    int rc = 0;
    if (rcn == 4 || rcn == 8) {
        json_t *obj = rcn == 4 ? doc : json_object();
        size_t budget = LIMIT_CHILDREN_EMBEDDED;
        bool truncated = false;
        struct visibility vis = {.op = ACOP_RETRIEVE};
        rc = embed_children(c, row, obj, &budget, &truncated, &vis);
        mem_free(vis.memo_pi);
        if (truncated) {
            rsp->cnst = 1;
            rsp->cnot = LIMIT_CHILDREN_EMBEDDED;
        }
        if (rcn == 8)
            json_decref(doc);
        doc = obj;
        if (rc == 0)
            set_body(rsp, json_pack("{s:o}", key, json_incref(doc)));
    } else { /* 5, 6: child resource references */
        struct rowvec kids = {.max = LIMIT_DISCOVERY_RESULTS + 1};
        if (c->view->st->ops->children(c->view, row->ri, 0, c->now, rowvec_collect, &kids) < 0) {
            rc = response_error(rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
        } else {
            if (kids.n > LIMIT_DISCOVERY_RESULTS) { /* more than one page: say so (TS-0004 cnst/cnot) */
                store_row_free(&kids.v[--kids.n]);
                rsp->cnst = 1;
                rsp->cnot = LIMIT_DISCOVERY_RESULTS;
            }
            json_t *refs = json_array();
            struct visibility vis = {.op = ACOP_RETRIEVE};
            for (size_t i = 0; i < kids.n; i++)
                if (visible(c, &kids.v[i], &vis))
                    json_array_append_new(refs, child_ref(c, &kids.v[i]));
            mem_free(vis.memo_pi);
            if (rcn == 5) {
                json_object_set_new(doc, "ch", refs);
                set_body(rsp, json_pack("{s:O}", key, doc));
            } else {
                set_body(rsp, json_pack("{s:{s:o}}", "m2m:rrl", "rrf", refs));
            }
        }
        rowvec_free(&kids);
    }
    json_decref(doc);
    if (rc == 0)
        rsp->rsc = RSC_OK;
    return rc;
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
    json_array_append_new(d->uris, json_string(ref_of(d->c, r)));
    d->returned++;
    d->left--;
    return d->left <= 0 && !d->capped; /* under the CSE's own cap, look for one more match */
}

static enum cse_status discover(struct op_ctx *c, const struct store_row *row)
{
    const struct cse_filter *fc = &c->req->fc;
    int rcn = c->req->rcn < 0 ? 6 : c->req->rcn;
    if (rcn != 6) {
        response_error(c->rsp, RSC_BAD_REQUEST, "bad-rcn", "discovery supports resultContent 6 only");
        return CSE_DONE;
    }
    if (op_authorize(c, ACOP_DISCOVERY, row, 0) != 0)
        return CSE_DONE;
    struct disc d = {
        .c = c,
        .skip = fc->ofst,
        .left = fc->lim >= 0 && fc->lim < LIMIT_DISCOVERY_RESULTS ? fc->lim : LIMIT_DISCOVERY_RESULTS,
        .capped = !(fc->lim >= 0 && fc->lim < LIMIT_DISCOVERY_RESULTS),
        .uris = json_array(),
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
        c->rsp->cnot = fc->ofst + d.returned;
    }
    set_body(c->rsp, json_pack("{s:o}", "m2m:uril", d.uris));
    c->rsp->rsc = RSC_OK;
    return CSE_DONE;
}

enum cse_status op_retrieve(struct op_ctx *c)
{
    const struct store_row *row = &c->tgt->row;
    if (c->req->fc.fu == 1)
        return discover(c, row);
    int rcn = c->req->rcn < 0 ? 1 : c->req->rcn;
    if (!(rcn == 1 || (rcn >= 4 && rcn <= 8))) {
        response_error(c->rsp, RSC_BAD_REQUEST, "bad-rcn", "resultContent %d is not valid for RETRIEVE", rcn);
        return CSE_DONE;
    }
    if (op_authorize(c, ACOP_RETRIEVE, row, 0) != 0)
        return CSE_DONE;
    if (c->req->fc.fu == 2) { /* conditional retrieve: the target must pass the criteria */
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
    retrieve_rcn(c, row, rcn);
    return CSE_DONE;
}
