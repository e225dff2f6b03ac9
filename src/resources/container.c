/* container: the container resource (ty 3, m2m:cnt; TS-0001 §9.6.6, TS-0004 §7.4.6). Keeps
 * currentNrOfInstances / currentByteSize and enforces maxNrOfInstances / maxByteSize by removing
 * the oldest contentInstances, inside the same transaction as the change that exceeded them. The
 * same bookkeeping serves every holder of instances (instances.h: a <timeSeries> too), by the
 * holder type's instance_ty. */
#include <string.h>

#include "common_attrs.h"
#include "instances.h"
#include "core/cse.h"
#include "core/rsc.h"
#include "encoding/json.h"
#include "rtype.h"
#include "util/mem.h"
#include "util/timeutil.h"

static const struct attr_def cnt_attrs[] = {
    ATTRS_UNIVERSAL_RO,           ATTRS_COMMON_ANNC,          {"st", AT_UINT, A_NP, A_NP}, {"cr", AT_CR, A_O, A_NP},
    {"mni", AT_UINT, A_O, A_O},   {"mbs", AT_UINT, A_O, A_O}, {"mia", AT_UINT, A_O, A_O},  {"cni", AT_UINT, A_NP, A_NP},
    {"cbs", AT_UINT, A_NP, A_NP}, {"li", AT_STR, A_O, A_O},   {"or", AT_STR, A_O, A_O},    {"disr", AT_BOOL, A_O, A_O},
};

/* TS-0001 §9.6.6, the "<containerAnnc> Attributes" column */
static const char *const cnt_oa[] = {"mni", "mbs", "mia", "li", "or", "disr", "daci", NULL};

/* TS-0001 Table 9.6.26.1-1: an ordinary container may also be made below announced resources */
static const int cnt_parents[] = {TY_CSEBASE, TY_AE, TY_CNT, TY_FCNT, TY_AE_ANNC, TY_CNT_ANNC, TY_CSEBASE_ANNC, 0};

int instances_prepare_holder(struct create_ctx *c)
{
    json_set_int(c->res, "cni", 0);
    json_set_int(c->res, "cbs", 0);
    return 0;
}

static int store_fail(struct txn_ctx *t)
{
    return response_error(t->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
}

/* Remove oldest instances until cni <= mni and cbs <= mbs (all of them with all); updates doc's
 * counters. */
static int enforce_limits(struct txn_ctx *t, const struct store_row *cnt, json_t *doc, bool all)
{
    const struct store_ops *ops = t->txn->st->ops;
    const struct rtype *rt = rtype_find(cnt->ty);
    int ity = rt ? rt->instance_ty : TY_CIN;
    int64_t mni = all ? 0 : json_int_or(doc, "mni", -1), mbs = json_int_or(doc, "mbs", -1);
    int64_t cni = json_int_or(doc, "cni", 0), cbs = json_int_or(doc, "cbs", 0);
    while (cni > 0 && ((mni >= 0 && cni > mni) || (mbs >= 0 && cbs > mbs))) {
        struct store_row old;
        int rc = ops->edge_child(t->txn, cnt->ri, ity, false, t->now, &old);
        if (rc == STORE_NOT_FOUND) { /* counters include instances already expired: resync */
            cni = 0;
            cbs = 0;
            break;
        }
        if (rc != STORE_OK)
            return store_fail(t);
        /* the one delete path: an evicted instance's announced copies go too (TS-0004 §7.3.3.11) */
        rc = txn_delete_evicted(t, &old);
        cni -= 1;
        cbs -= old.cs;
        store_row_free(&old);
        if (rc != 0)
            return rc;
    }
    json_set_int(doc, "cni", cni < 0 ? 0 : cni);
    json_set_int(doc, "cbs", cbs < 0 ? 0 : cbs);
    return 0;
}

static int save(struct txn_ctx *t, struct store_row *cnt, json_t *doc)
{
    char *text = json_encode(doc, NULL);
    mem_free(cnt->doc);
    cnt->doc = text;
    return t->txn->st->ops->update(t->txn, cnt) == STORE_OK ? 0 : store_fail(t);
}

static json_t *load(struct txn_ctx *t, const struct store_row *cnt)
{
    json_t *doc = json_loads(cnt->doc, 0, NULL);
    if (doc == NULL)
        store_fail(t);
    return doc;
}

static bool is_instance(const struct store_row *parent, const struct store_row *child)
{
    const struct rtype *rt = rtype_find(parent->ty);
    return rt && rt->instance_ty != 0 && child->ty == rt->instance_ty;
}

/* TS-0001 §9.6.6: adding an instance changes cni/cbs, so the container's stateTag and
 * lastModifiedTime change too. */
int instances_child_added(struct txn_ctx *t, struct store_row *cnt, const struct store_row *child)
{
    if (!is_instance(cnt, child))
        return 0;
    json_t *doc = load(t, cnt);
    if (doc == NULL)
        return RSC_INTERNAL_SERVER_ERROR;
    char lt[TS_LEN + 1];
    ts_format(t->now, lt);
    json_set_int(doc, "cni", json_int_or(doc, "cni", 0) + 1);
    json_set_int(doc, "cbs", json_int_or(doc, "cbs", 0) + child->cs);
    if (json_object_get(doc, "st")) /* a <timeSeries> has no stateTag */
        json_set_int(doc, "st", json_int_or(doc, "st", 0) + 1);
    json_set_str(doc, "lt", lt);
    int rc = enforce_limits(t, cnt, doc, false);
    if (rc == 0)
        rc = save(t, cnt, doc);
    json_decref(doc);
    return rc;
}

int instances_child_removed(struct txn_ctx *t, struct store_row *cnt, const struct store_row *child)
{
    if (!is_instance(cnt, child))
        return 0;
    json_t *doc = load(t, cnt);
    if (doc == NULL)
        return RSC_INTERNAL_SERVER_ERROR;
    int64_t cni = json_int_or(doc, "cni", 0) - 1, cbs = json_int_or(doc, "cbs", 0) - child->cs;
    json_set_int(doc, "cni", cni < 0 ? 0 : cni);
    json_set_int(doc, "cbs", cbs < 0 ? 0 : cbs);
    int rc = save(t, cnt, doc);
    json_decref(doc);
    return rc;
}

/* A lowered mni/mbs applies at once. TS-0001 §9.6.6 disableRetrieval: updated from true to false,
 * every existing instance is deleted at once (row->doc still holds the old value). */
/* disableRetrieval set true by a create or an update: from now on retrieves of instances look it up */
static void note_disr(struct cse *cse, const json_t *doc)
{
    if (json_is_true(json_object_get(doc, "disr")))
        atomic_store_explicit(&cse->disr_seen, true, memory_order_release);
}

static int cnt_prepare_create(struct create_ctx *c)
{
    note_disr(c->cse, c->attrs);
    return instances_prepare_holder(c);
}

int instances_updated(struct txn_ctx *t, struct store_row *row, json_t *doc)
{
    note_disr(t->cse, doc);
    json_t *old = json_loads(row->doc, 0, NULL);
    bool purge = json_is_true(json_object_get(old, "disr")) && !json_is_true(json_object_get(doc, "disr"));
    json_decref(old);
    return enforce_limits(t, row, doc, purge);
}

bool cnt_retrieval_disabled(const char *doc)
{
    if (strstr(doc, "\"disr\"") == NULL) /* most containers: no need to parse */
        return false;
    json_t *d = json_loads(doc, 0, NULL);
    bool disr = json_is_true(json_object_get(d, "disr"));
    json_decref(d);
    return disr;
}

const struct rtype rtype_container = {
    .ty = TY_CNT,
    .sn = "cnt",
    .attrs = cnt_attrs,
    .nattrs = NATTRS(cnt_attrs),
    .has_acpi = true,
    .parents = cnt_parents,
    .creatable = true,
    .updatable = true,
    .deletable = true,
    .has_st = true,
    .has_cr = true,
    .instance_ty = TY_CIN,
    .prepare_create = cnt_prepare_create,
    .txn_child_added = instances_child_added,
    .txn_child_removed = instances_child_removed,
    .txn_updated = instances_updated,
    .annc_ty = TY_CNT_ANNC,
    .annc_oa = cnt_oa,
};
