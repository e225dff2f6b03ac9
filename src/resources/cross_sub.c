/* cross_sub: the <crossResourceSubscription> resource (ty 48, m2m:crs; TS-0001 §9.6.58, TS-0004
 * §7.4.58, §7.5.1.2.18). Over regular resources of this CSE (rrat): creating one creates, in the
 * same transaction, a <subscription> under each target (its enc from encs, its nu and acrs the
 * crossResourceSubscription's resourceID, creator the originator, who must be allowed to retrieve
 * each target: the same check as a <subscription>), listed in rrats; deleting it deletes them.
 * Their notifications never leave the CSE: core/subscribe.c records each in the window state of the
 * crossResourceSubscription (crs_window_*) after the subscriber's per-event access decision, and
 * sends the cross-resource notification to nu when every target had an event within the window
 * (twt 1 periodic, 2 sliding; tws its size). A window that expires discards what it holds, on the
 * timer service. subscriptionResourcesAsTarget (srat), subscriberURI and notificationEventCat are
 * refused with 5001. */
#include <string.h>

#include "common_attrs.h"
#include "core/cse.h"
#include "core/limits.h"
#include "core/rsc.h"
#include "encoding/json.h"
#include "rtype.h"
#include "util/mem.h"
#include "util/timeutil.h"

/* CRS_STATE (rtype.h), the window state: {"ws": start ms, "hit": {subscription ri: ms}} */

static const struct attr_def crs_attrs[] = {
    ATTRS_UNIVERSAL_RO,
    ATTRS_COMMON_RW,
    {"cr", AT_CR, A_O, A_NP},
    {"rrat", AT_STRLIST, A_O, A_NP},   /* regularResourcesAsTarget */
    {"srat", AT_STRLIST, A_NI, A_NI},  /* subscriptionResourcesAsTarget */
    {"rrats", AT_STRLIST, A_NP, A_NP}, /* regularResourcesAsTargetSubscriptions */
    {"twt", AT_UINT, A_M, A_O},        /* timeWindowType */
    {"tws", AT_ANY, A_M, A_O},         /* timeWindowSize: xs:duration */
    {"encs", AT_ANY, A_O, A_NP},       /* eventNotificationCriteriaSet {"encn": [enc, ...]} */
    {"nec", AT_ANY, A_NI, A_NI},       /* notificationEventCat */
    {"exc", AT_POSINT, A_O, A_O},      /* expirationCounter */
    {"nu", AT_STRLIST, A_M, A_O},      /* notificationURI */
    {"su", AT_STR, A_NI, A_NI},        /* subscriberURI */
    {CRS_STATE, AT_ANY, A_NP, A_NP},
};

static const char *const crs_write_only[] = {CRS_STATE, NULL};

static const int crs_parents[] = {TY_CSEBASE, TY_AE, 0};

static int bad(struct cse_response *rsp, const char *what)
{
    return response_error(rsp, RSC_BAD_REQUEST, "bad-crs", "%s", what);
}

static int check_window(const json_t *twt, const json_t *tws, struct cse_response *rsp)
{
    int64_t ms;
    if (twt && json_integer_value(twt) != 1 && json_integer_value(twt) != 2)
        return bad(rsp, "twt: 1 (periodic window) or 2 (sliding window)");
    if (tws && (!sub_duration_parse(tws, &ms) || ms <= 0 || ms > LIMIT_CRS_WINDOW_MAX_MS))
        return response_error(rsp, RSC_BAD_REQUEST, "bad-crs",
                              "tws: a duration (\"PT10S\", or seconds) of at most %d s (LIMIT_CRS_WINDOW_MAX_MS)",
                              LIMIT_CRS_WINDOW_MAX_MS / 1000);
    return 0;
}

static int crs_prepare_create(struct create_ctx *c)
{
    const json_t *rrat = json_object_get(c->attrs, "rrat");
    const json_t *encs = json_object_get(c->attrs, "encs");
    const json_t *encn = json_object_get(encs, "encn");
    /* TS-0004 §7.4.58.2.1 Recv-6.5 a), c) i) */
    if (json_array_size(rrat) == 0)
        return bad(c->rsp, "rrat: list the resources whose events are combined (srat is not supported)");
    if (json_array_size(rrat) > LIMIT_CRS_TARGETS)
        return response_error(c->rsp, RSC_BAD_REQUEST, "bad-crs", "rrat: at most %d targets (LIMIT_CRS_TARGETS)",
                              LIMIT_CRS_TARGETS);
    if (!json_is_array(encn) || json_object_size(encs) != 1 ||
        (json_array_size(encn) != 1 && json_array_size(encn) != json_array_size(rrat)))
        return bad(c->rsp, "encs: {\"encn\": [enc]} with one criteria for every target, or one for all");
    size_t i;
    json_t *e;
    json_array_foreach(encn, i, e)
    {
        if (sub_check_enc(e, c->rsp) != 0)
            return c->rsp->rsc;
        const json_t *net = json_object_get(e, "net");
        size_t k;
        json_t *n;
        json_array_foreach(net, k, n)
        {
            if (json_integer_value(n) == 7 || json_integer_value(n) == 8) /* blocking update, missing data */
                return bad(c->rsp, "encs: net 7 and 8 cannot be combined across resources");
        }
    }
    int rc = check_window(json_object_get(c->attrs, "twt"), json_object_get(c->attrs, "tws"), c->rsp);
    if (rc == 0)
        rc = sub_check_nu(c->cse, &c->lookup, json_object_get(c->attrs, "nu"), c->rsp);
    if (rc != 0)
        return rc;
    /* every target as the originator sees it (RETRIEVE, else 4004 as for a missing one), and
     * subscribable (TS-0004 §7.4.8.2.1); their resourceIDs travel to the transaction */
    json_t *ris = json_array();
    json_array_foreach(rrat, i, e)
    {
        struct store_row row;
        rc = c->lookup.resolve(c->lookup.arg, json_string_value(e), &row);
        if (rc != 0) {
            json_decref(ris);
            return response_error(c->rsp, RSC_NOT_FOUND, "crs-target", "rrat[%zu]: no such resource", i);
        }
        bool ok = rtype_subscribable(row.ty);
        json_array_append_new(ris, json_string(row.ri));
        store_row_free(&row);
        if (!ok) {
            json_decref(ris);
            return response_error(c->rsp, RSC_TARGET_NOT_SUBSCRIBABLE, "crs-target",
                                  "rrat[%zu]: that resource cannot be subscribed to", i);
        }
    }
    json_object_set_new(c->res, "rrats", ris); /* resourceIDs of the targets until txn_create */
    json_object_set_new(c->res, CRS_STATE, json_pack("{s:I,s:{}}", "ws", (json_int_t)c->now * 1000, "hit"));
    return 0;
}

static int store_fail(struct txn_ctx *t)
{
    return response_error(t->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
}

/* TS-0004 §7.4.58.2.1 c) ii): a <subscription> under each target, made in this transaction */
static int crs_txn_create(struct txn_ctx *t, const struct store_row *parent, struct store_row *row, json_t *res)
{
    (void)parent;
    const struct store_ops *ops = t->txn->st->ops;
    json_t *targets = json_object_get(res, "rrats"), *encn = json_object_get(json_object_get(res, "encs"), "encn");
    json_t *subs = json_array();
    char ts[TS_LEN + 1], ets[TS_LEN + 1];
    ts_format(t->now, ts);
    ts_format(row->et, ets);
    size_t i;
    json_t *e;
    int rc = 0;
    json_array_foreach(targets, i, e)
    {
        struct store_row tgt;
        if (ops->get_ri(t->txn, json_string_value(e), t->now, &tgt) != STORE_OK) {
            rc = response_error(t->rsp, RSC_CROSS_RESOURCE_OPERATION_FAILURE, "crs-target", "rrat[%zu] is gone", i);
            break;
        }
        char ri[RTYPE_RI_LEN], rn[RTYPE_RI_LEN + 8];
        resource_make_ri(t->cse, "sub", ri, sizeof ri);
        snprintf(rn, sizeof rn, "crs_%s", ri);
        json_t *enc = json_array_get(encn, json_array_size(encn) == 1 ? 0 : i);
        json_t *doc =
            json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:s,s:O,s:[s],s:[s],s:s}", "ty", TY_SUB, "ri", ri, "rn", rn, "pi",
                      tgt.ri, "ct", ts, "lt", ts, "et", ets, "enc", enc, "nu", row->ri, "acrs", row->ri, "cr", row->cr);
        struct store_row sub = {0};
        sub.ri = mem_strdup(ri);
        sub.pi = mem_strdup(tgt.ri);
        sub.rn = mem_strdup(rn);
        size_t plen = strlen(tgt.path) + strlen(rn) + 2;
        sub.path = mem_alloc(plen);
        snprintf(sub.path, plen, "%s/%s", tgt.path, rn);
        sub.ty = TY_SUB;
        sub.et = row->et < tgt.et ? row->et : tgt.et;
        sub.cr = mem_strdup(row->cr);
        sub.ae = mem_strdup(tgt.ae);
        sub.acpi = mem_strdup("");
        sub.doc = json_encode(doc, NULL);
        json_decref(doc);
        if (strlen(sub.path) > LIMIT_ID_LEN)
            rc = response_error(t->rsp, RSC_CROSS_RESOURCE_OPERATION_FAILURE, "too-deep",
                                "rrat[%zu]: its subscription's address would be too long", i);
        else if (ops->insert(t->txn, &sub) != STORE_OK || ops->add_nsub(t->txn, tgt.ri, 1) != STORE_OK)
            rc = store_fail(t);
        json_array_append_new(subs, json_string(ri));
        store_row_free(&sub);
        store_row_free(&tgt);
        if (rc != 0)
            break;
    }
    if (rc != 0) { /* the whole create rolls back, with the subscriptions made so far */
        json_decref(subs);
        return rc;
    }
    json_object_set_new(res, "rrats", subs);
    MEM_FREE(row->doc); /* res changed: encoded again */
    return 0;
}

/* TS-0004 §7.4.58.2.4 c): the subscriptions it made go with it */
static int crs_txn_deleted(struct txn_ctx *t, const struct store_row *row)
{
    json_t *doc = json_loads(row->doc, 0, NULL);
    size_t i;
    json_t *e;
    int rc = 0;
    json_array_foreach(json_object_get(doc, "rrats"), i, e)
    {
        struct store_row sub;
        if (!json_is_string(e) || t->txn->st->ops->get_ri(t->txn, json_string_value(e), INT64_MIN, &sub) != STORE_OK)
            continue; /* deleted already (with its target) */
        if (sub.ty == TY_SUB)
            rc = txn_delete_resource(t, &sub);
        store_row_free(&sub);
        if (rc != 0)
            break;
    }
    json_decref(doc);
    return rc;
}

bool crs_window_roll(json_t *doc, int64_t now_ms)
{
    json_t *w = json_object_get(doc, CRS_STATE);
    json_t *hit = json_object_get(w, "hit");
    int64_t size, ws = json_int_or(w, "ws", now_ms);
    if (!json_is_object(w) || !json_is_object(hit) || !sub_duration_parse(json_object_get(doc, "tws"), &size) ||
        size <= 0) {
        json_object_set_new(doc, CRS_STATE, json_pack("{s:I,s:{}}", "ws", (json_int_t)now_ms, "hit"));
        return true;
    }
    if (now_ms < ws + size)
        return false;
    if (json_int_or(doc, "twt", 1) == 1) /* periodic: the windows follow each other from the start */
        ws += (now_ms - ws) / size * size;
    else /* sliding: the next window starts with the next event */
        ws = now_ms;
    bool had = json_object_size(hit) > 0;
    json_object_set_new(w, "ws", json_integer(ws));
    json_object_clear(hit);
    return had;
}

static int save(struct txn_ctx *t, struct store_row *row, json_t *doc)
{
    char *text = json_encode(doc, NULL);
    mem_free(row->doc);
    row->doc = text;
    return t->txn->st->ops->update(t->txn, row) == STORE_OK ? 0 : store_fail(t);
}

/* The timer armed when a window received its first event: at its end, what it holds is
 * discarded (TS-0004 §7.5.1.2.18 b) i). After a restart: armed again for a window holding events. */
static int crs_txn_timer(struct txn_ctx *t, struct store_row *row, int64_t arg)
{
    json_t *doc = json_loads(row->doc, 0, NULL);
    if (doc == NULL)
        return 0;
    int64_t now = txn_now_ms(t), size;
    json_t *w = json_object_get(doc, CRS_STATE);
    int rc = 0;
    if (arg == TIMER_RESUME) {
        if (json_object_size(json_object_get(w, "hit")) > 0 && sub_duration_parse(json_object_get(doc, "tws"), &size))
            txn_timer_arm(t, row->ri, json_int_or(w, "ws", now) + size, 0);
    } else if (crs_window_roll(doc, now)) {
        rc = save(t, row, doc);
    }
    json_decref(doc);
    return rc;
}

/* TS-0004 §7.4.58.2.3: a new twt or tws restarts the window */
static int crs_txn_updated(struct txn_ctx *t, struct store_row *row, json_t *doc)
{
    json_t *old = json_loads(row->doc, 0, NULL);
    bool changed = !json_equal(json_object_get(old, "twt"), json_object_get(doc, "twt")) ||
                   !json_equal(json_object_get(old, "tws"), json_object_get(doc, "tws"));
    json_decref(old);
    if (changed)
        json_object_set_new(doc, CRS_STATE, json_pack("{s:I,s:{}}", "ws", (json_int_t)txn_now_ms(t), "hit"));
    return 0;
}

static int crs_prepare_update(struct cse *cse, const struct resolver *lookup, const struct store_row *row,
                              json_t *patch, struct cse_response *rsp)
{
    (void)row;
    int rc = check_window(json_object_get(patch, "twt"), json_object_get(patch, "tws"), rsp);
    const json_t *nu = json_object_get(patch, "nu");
    if (rc == 0 && nu)
        rc = sub_check_nu(cse, lookup, nu, rsp);
    return rc;
}

const struct rtype rtype_cross_sub = {
    .ty = TY_CRS,
    .sn = "crs",
    .attrs = crs_attrs,
    .nattrs = NATTRS(crs_attrs),
    .has_acpi = true,
    .has_cr = true,
    .parents = crs_parents,
    .creatable = true,
    .updatable = true,
    .deletable = true,
    .write_only = crs_write_only,
    .prepare_create = crs_prepare_create,
    .prepare_update = crs_prepare_update,
    .txn_create = crs_txn_create,
    .txn_deleted = crs_txn_deleted,
    .txn_updated = crs_txn_updated,
    .txn_timer = crs_txn_timer,
};
