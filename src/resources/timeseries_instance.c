/* timeseries_instance: the timeSeriesInstance resource (ty 30, m2m:tsi; TS-0001 §9.6.37, TS-0004
 * §7.4.39). Created like a contentInstance (instances.h: contentSize, its parent's mia and mbs),
 * immutable (4005 on update), with a dataGenerationTime (dgt) unique among its siblings (4105).
 * dgt is stored normalised to an absolute timestamp (relative milliseconds count from now), so
 * that equal times compare equal as text. */
#include <string.h>

#include "common_attrs.h"
#include "core/cse.h"
#include "core/rsc.h"
#include "encoding/json.h"
#include "instances.h"
#include "rtype.h"
#include "util/mem.h"
#include "util/timeutil.h"

static const struct attr_def tsi_attrs[] = {
    ATTRS_UNIVERSAL_RO,
    {"rn", AT_NAME, A_O, A_NP},
    {"et", AT_TS, A_O, A_NP},
    {"lbl", AT_STRLIST, A_O, A_NP},
    {"at", AT_STRLIST, A_O, A_NP},
    {"aa", AT_STRLIST, A_O, A_NP},
    {"dgt", AT_ABSREL, A_M, A_NP},
    {"con", AT_ANY, A_M, A_NP},
    {"snr", AT_UINT, A_O, A_NP}, /* sequenceNr */
    {"cs", AT_UINT, A_NP, A_NP},
};

/* TS-0001 §9.6.37, the "<timeSeriesInstanceAnnc> Attributes" column */
static const char *const tsi_oa[] = {"dgt", "con", "snr", NULL};

static const int tsi_parents[] = {TY_TS, TY_TS_ANNC, 0};

static int tsi_prepare_create(struct create_ctx *c)
{
    const json_t *dgt = json_object_get(c->attrs, "dgt");
    int64_t ms;
    /* a relative time beyond a century either way is no generation time (and could overflow) */
    const json_int_t century_ms = (json_int_t)100 * 366 * 86400 * 1000;
    if (json_is_integer(dgt) && (json_integer_value(dgt) > century_ms || json_integer_value(dgt) < -century_ms))
        return response_error(c->rsp, RSC_BAD_REQUEST, "bad-content",
                              "dataGenerationTime (dgt) as relative milliseconds must be within a century of now");
    if (json_is_integer(dgt)) /* relative: from now */
        ms = clock_now_us(&c->cse->clock) / 1000 + (int64_t)json_integer_value(dgt);
    else if (!ts_parse_ms(json_string_value(dgt), &ms))
        return response_error(c->rsp, RSC_BAD_REQUEST, "bad-content", "dataGenerationTime (dgt) is not a timestamp");
    if (ms < 0 || ms > ET_NEVER * 1000 + 999)
        return response_error(c->rsp, RSC_BAD_REQUEST, "bad-content",
                              "dataGenerationTime (dgt) must lie between 1970 and 9999");
    char norm[TS_MS_LEN + 1];
    ts_format_ms(ms, norm);
    json_set_str(c->res, "dgt", norm);
    return instance_prepare(c);
}

static int found(void *arg, const struct store_row *row)
{
    (void)arg;
    (void)row;
    return 1; /* one is enough: stop */
}

/* TS-0004 §7.4.39.2.1: a sibling with the same dataGenerationTime makes the create 4105. */
static int tsi_txn_create(struct txn_ctx *t, const struct store_row *parent, struct store_row *row, json_t *res)
{
    int rc = instance_txn_create(t, parent, row, res);
    if (rc != 0)
        return rc;
    static const int ty[] = {TY_TSI};
    const char *dgt = json_string_value(json_object_get(res, "dgt"));
    /* fast path: later than every instance so far (the usual case), so unique */
    int64_t ms, newest;
    json_t *pdoc = json_loads(parent->doc, 0, NULL);
    newest = json_int_or(pdoc, TS_DGT_MAX, INT64_MAX);
    json_decref(pdoc);
    if (ts_parse_ms(dgt, &ms) && ms > newest)
        return 0;
    const char *const name[] = {"dgt"}, *const value[] = {dgt};
    struct store_filter f = {
        .ty = ty,
        .nty = 1,
        .atr_name = name,
        .atr_value = value,
        .natr = 1,
        .sts = -1,
        .stb = -1,
        .sza = -1,
        .szb = -1,
        .max_depth = 1,
    };
    int src = t->txn->st->ops->find(t->txn, parent->path, &f, t->now, found, NULL);
    if (src < 0)
        return response_error(t->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
    if (src > 0)
        return response_error(t->rsp, RSC_CONFLICT, "dgt-exists",
                              "a timeSeriesInstance with dataGenerationTime %s already exists in this timeSeries", dgt);
    return 0;
}

const struct rtype rtype_timeseries_instance = {
    .ty = TY_TSI,
    .sn = "tsi",
    .attrs = tsi_attrs,
    .nattrs = NATTRS(tsi_attrs),
    .parents = tsi_parents,
    .creatable = true,
    .updatable = false,
    .deletable = true,
    .leaf = true,
    .prepare_create = tsi_prepare_create,
    .txn_create = tsi_txn_create,
    .annc_ty = TY_TSI_ANNC,
    .annc_needs_parent = true,
    .annc_oa = tsi_oa,
};
