/* timeseries: the timeSeries resource (ty 29, m2m:ts; TS-0001 §9.6.36, TS-0004 §7.4.38). A holder
 * of <timeSeriesInstance>s with a container's limits (instances.h), and missing-data detection:
 * with periodicInterval (pei) set and missingDataDetect (mdd) true, each new instance arms one
 * timer (the CSE's timer service, txn_timer_arm) for the next expected dataGenerationTime plus
 * missingDataDetectTimer (mdt); when it is due and no instance came within periodicIntervalDelta
 * (peid) of it, that time goes into missingDataList (mdlt, at most missingDataMaxNr (mdn) newest),
 * missingDataCurrentNr (mdc) counts it, subscriptions with a missingData condition hear of it
 * (net 8) and the next expected point is armed. */
#include <string.h>

#include "common_attrs.h"
#include "core/limits.h"
#include "core/rsc.h"
#include "encoding/json.h"
#include "instances.h"
#include "rtype.h"
#include "util/mem.h"
#include "util/timeutil.h"

static const struct attr_def ts_attrs[] = {
    ATTRS_UNIVERSAL_RO,
    ATTRS_COMMON_ANNC,
    {"cr", AT_CR, A_O, A_NP},
    {"mni", AT_UINT, A_O, A_O},
    {"mbs", AT_UINT, A_O, A_O},
    {"mia", AT_UINT, A_O, A_O},
    {"cni", AT_UINT, A_NP, A_NP},
    {"cbs", AT_UINT, A_NP, A_NP},
    {"pei", AT_POSINT, A_O, A_O},     /* periodicInterval, ms */
    {"peid", AT_UINT, A_O, A_O},      /* periodicIntervalDelta, ms */
    {"mdd", AT_BOOL, A_O, A_O},       /* missingDataDetect */
    {"mdn", AT_POSINT, A_O, A_O},     /* missingDataMaxNr */
    {"mdlt", AT_STRLIST, A_NP, A_NP}, /* missingDataList */
    {"mdc", AT_UINT, A_NP, A_NP},     /* missingDataCurrentNr */
    {"mdt", AT_POSINT, A_O, A_O},     /* missingDataDetectTimer, ms */
    {"or", AT_STR, A_O, A_O},
    {"cnf", AT_CONTENTINFO, A_O, A_NP}, /* of its instances' content (TS-0004 §7.4.38) */
};

/* TS-0001 §9.6.36, the "<timeSeriesAnnc> Attributes" column */
static const char *const ts_oa[] = {"mni", "mbs", "mia", "pei", "peid", "mdn", "mdt", "cnf", "daci", NULL};

/* TS-0001 Table 9.6.1.1-1: also below announced resources */
static const int ts_parents[] = {TY_CSEBASE, TY_AE, TY_AE_ANNC, TY_CSEBASE_ANNC, TY_CNT_ANNC, 0};

/* Internal state kept in the stored doc, never in a representation (write_only): the newest
 * dataGenerationTime of the series, so that a new instance later than it needs no search for a
 * sibling with the same one (timeseries_instance.c). */
static const char *const ts_internal[] = {TS_DGT_MAX, NULL};

static int bad(struct cse_response *rsp, const char *what)
{
    return response_error(rsp, RSC_BAD_REQUEST, "bad-timeseries", "%s", what);
}

/* TS-0004 §7.4.38.2.1/3: peid <= pei/2 (pei without peid gets the local default), and with mdd
 * true, mdt > peid. eff: the attributes as they will be (the request over the stored ones); what
 * is derived goes into out. */
static int check_periods(const json_t *eff, json_t *out, bool pei_given, struct cse_response *rsp)
{
    int64_t pei = json_int_or(eff, "pei", -1), peid = json_int_or(eff, "peid", -1);
    if (pei_given && json_object_get(out, "peid") == NULL) {
        peid = pei / TS_PEID_DEFAULT_DIVISOR;
        json_set_int(out, "peid", peid);
    }
    if (pei > 0 && peid > pei / 2)
        return bad(rsp, "periodicIntervalDelta (peid) must be at most periodicInterval (pei) / 2");
    if (json_int_or(eff, "mdn", -1) > LIMIT_TS_MISSING_LIST)
        return response_error(rsp, RSC_BAD_REQUEST, "bad-timeseries",
                              "missingDataMaxNr (mdn) may be at most %d here (LIMIT_TS_MISSING_LIST)",
                              LIMIT_TS_MISSING_LIST);
    if (json_is_true(json_object_get(eff, "mdd"))) {
        int64_t mdt = json_int_or(eff, "mdt", -1);
        if (pei > 0 && pei < LIMIT_TS_MIN_PEI_MS)
            return response_error(rsp, RSC_BAD_REQUEST, "bad-timeseries",
                                  "missing-data detection needs periodicInterval (pei) of at least %d ms",
                                  LIMIT_TS_MIN_PEI_MS);
        if (mdt <= 0)
            return bad(rsp, "missingDataDetect needs missingDataDetectTimer (mdt)");
        if (mdt <= (peid < 0 ? 0 : peid))
            return bad(rsp, "missingDataDetectTimer (mdt) must be greater than periodicIntervalDelta (peid)");
    }
    return 0;
}

static int ts_prepare_create(struct create_ctx *c)
{
    int rc = instances_prepare_holder(c);
    if (rc == 0)
        rc = check_periods(c->res, c->res, json_object_get(c->attrs, "pei") != NULL, c->rsp);
    if (rc != 0)
        return rc;
    json_set_int(c->res, "mdc", 0);
    json_object_set_new(c->res, "mdlt", json_array());
    return 0;
}

static const char *const detection_attrs[] = {"mdt", "mdn", "peid", "pei"};

static int ts_prepare_update(struct cse *cse, const struct resolver *lookup, const struct store_row *row, json_t *patch,
                             struct cse_response *rsp)
{
    (void)cse;
    (void)lookup;
    json_t *cur = json_loads(row->doc, 0, NULL);
    if (cur == NULL)
        return response_error(rsp, RSC_INTERNAL_SERVER_ERROR, "store", "stored resource unreadable");
    int rc = 0;
    /* TS-0004 §7.4.38.2.3: the detection parameters change neither with mdd nor while it is true */
    bool with_mdd = json_object_get(patch, "mdd") != NULL, running = json_is_true(json_object_get(cur, "mdd"));
    for (size_t i = 0; rc == 0 && i < sizeof detection_attrs / sizeof detection_attrs[0]; i++)
        if (json_object_get(patch, detection_attrs[i]) && (with_mdd || running))
            rc = response_error(rsp, RSC_BAD_REQUEST, "bad-timeseries", "'%s' cannot be updated %s", detection_attrs[i],
                                with_mdd ? "together with missingDataDetect" : "while missingDataDetect is true");
    if (rc == 0) {
        json_t *eff = json_deep_copy(cur);
        const char *k;
        json_t *v;
        json_object_foreach(patch, k, v)
        {
            if (json_is_null(v))
                json_object_del(eff, k);
            else
                json_object_set(eff, k, v);
        }
        rc = check_periods(eff, patch, json_object_get(patch, "pei") != NULL, rsp);
        json_decref(eff);
    }
    /* mdd set true: missingDataList and missingDataCurrentNr start again; monitoring resumes with
     * the next instance */
    if (rc == 0 && json_is_true(json_object_get(patch, "mdd"))) {
        json_object_set_new(patch, "mdlt", json_array());
        json_set_int(patch, "mdc", 0);
    }
    json_decref(cur);
    return rc;
}

/* dataGenerationTime of an instance's doc in ms (it is stored normalised to a timestamp). */
static bool dgt_ms(const char *doc_text, int64_t *ms)
{
    json_t *doc = json_loads(doc_text, 0, NULL);
    const char *s = json_string_value(json_object_get(doc, "dgt"));
    bool ok = s && ts_parse_ms(s, ms);
    json_decref(doc);
    return ok;
}

/* Arm the detection of the point expected after one at dgt (ms), if the series monitors. */
static void arm_next(struct txn_ctx *t, const char *ri, const json_t *doc, int64_t after_ms)
{
    int64_t pei = json_int_or(doc, "pei", -1), mdt = json_int_or(doc, "mdt", -1);
    if (!json_is_true(json_object_get(doc, "mdd")) || pei <= 0 || mdt <= 0)
        return;
    int64_t expected = after_ms + pei;
    txn_timer_arm(t, ri, expected + mdt, expected);
}

static int ts_child_added(struct txn_ctx *t, struct store_row *ts, const struct store_row *child)
{
    int64_t dgt;
    json_t *doc = child->ty == TY_TSI ? json_loads(ts->doc, 0, NULL) : NULL;
    bool have_dgt = doc && dgt_ms(child->doc, &dgt);
    if (have_dgt && dgt > json_int_or(doc, TS_DGT_MAX, INT64_MIN)) {
        /* the newest dataGenerationTime so far, for the uniqueness check's fast path; saved with
         * the counters by instances_child_added, which reads ts->doc */
        json_set_int(doc, TS_DGT_MAX, dgt);
        mem_free(ts->doc);
        ts->doc = json_encode(doc, NULL);
    }
    int rc = instances_child_added(t, ts, child);
    if (rc == 0 && have_dgt)
        arm_next(t, ts->ri, doc, dgt); /* TS-0004 §7.4.38.2.1: monitoring starts with the first instance */
    json_decref(doc);
    return rc;
}

/* The CSE started: detection resumes from the newest instance (what was missed meanwhile is
 * detected at once). */
static int ts_resume(struct txn_ctx *t, struct store_row *ts, const json_t *doc)
{
    struct store_row last;
    int src = t->txn->st->ops->edge_child(t->txn, ts->ri, TY_TSI, true, t->now, &last);
    if (src == STORE_NOT_FOUND)
        return 0;
    if (src != STORE_OK)
        return response_error(t->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
    int64_t dgt;
    if (dgt_ms(last.doc, &dgt))
        arm_next(t, ts->ri, doc, dgt);
    store_row_free(&last);
    return 0;
}

/* A detection timer is due: arg is the expected dataGenerationTime (ms), or TIMER_RESUME. Every
 * point whose detection time has passed is recorded in this one run (a series that stayed silent
 * while the CSE was down or busy catches up at once, bounded by LIMIT_TS_MISSING_LIST), and the
 * next one is armed. */
static int ts_timer(struct txn_ctx *t, struct store_row *ts, int64_t expected)
{
    json_t *doc = json_loads(ts->doc, 0, NULL);
    if (doc == NULL)
        return response_error(t->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "stored resource unreadable");
    int rc = 0;
    int64_t pei = json_int_or(doc, "pei", -1), peid = json_int_or(doc, "peid", 0), mdt = json_int_or(doc, "mdt", 0);
    if (!json_is_true(json_object_get(doc, "mdd")) || pei <= 0) /* detection stopped */
        goto out;
    if (expected == TIMER_RESUME) {
        rc = ts_resume(t, ts, doc);
        goto out;
    }
    struct store_row last;
    int src = t->txn->st->ops->edge_child(t->txn, ts->ri, TY_TSI, true, t->now, &last);
    if (src == STORE_OK) {
        int64_t dgt;
        bool arrived = dgt_ms(last.doc, &dgt) && dgt >= expected - peid;
        store_row_free(&last);
        if (arrived) /* it came (and armed the next point itself) */
            goto out;
    } else if (src != STORE_NOT_FOUND) {
        rc = response_error(t->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
        goto out;
    }
    json_t *mdlt = json_object_get(doc, "mdlt");
    if (!json_is_array(mdlt)) {
        mdlt = json_array();
        json_object_set_new(doc, "mdlt", mdlt);
    }
    int64_t seen;
    size_t n = json_array_size(mdlt);
    if (n > 0 && ts_parse_ms(json_string_value(json_array_get(mdlt, n - 1)), &seen) && seen >= expected)
        goto out; /* this point was detected already (a second timer for it) */
    /* the points due by now: this one and those after it whose detection time has passed too,
     * the newest LIMIT_TS_MISSING_LIST of them */
    int64_t now_ms = txn_now_ms(t), last_due = expected;
    while (last_due + pei + mdt <= now_ms)
        last_due += pei;
    int64_t first = expected;
    if ((last_due - expected) / pei >= LIMIT_TS_MISSING_LIST)
        first = last_due - (int64_t)(LIMIT_TS_MISSING_LIST - 1) * pei;
    int64_t mdn = json_int_or(doc, "mdn", LIMIT_TS_MISSING_LIST);
    if (mdn <= 0 || mdn > LIMIT_TS_MISSING_LIST)
        mdn = LIMIT_TS_MISSING_LIST;
    for (int64_t p = first; p <= last_due && rc == 0; p += pei) {
        char point[TS_MS_LEN + 1];
        ts_format_ms(p, point);
        json_array_append_new(mdlt, json_string(point));
        while ((int64_t)json_array_size(mdlt) > mdn) /* the oldest goes (§7.4.38.2.1) */
            json_array_remove(mdlt, 0);
        rc = sub_missing_data(t, ts, point);
    }
    if (rc != 0)
        goto out;
    json_set_int(doc, "mdc", (int64_t)json_array_size(mdlt));
    char lt[TS_LEN + 1];
    ts_format(t->now, lt);
    json_set_str(doc, "lt", lt);
    mem_free(ts->doc);
    ts->doc = json_encode(doc, NULL);
    if (t->txn->st->ops->update(t->txn, ts) != STORE_OK) {
        rc = response_error(t->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
        goto out;
    }
    arm_next(t, ts->ri, doc, last_due); /* the point after the last missing one */
out:
    json_decref(doc);
    return rc;
}

const struct rtype rtype_timeseries = {
    .ty = TY_TS,
    .sn = "ts",
    .attrs = ts_attrs,
    .nattrs = NATTRS(ts_attrs),
    .has_acpi = true,
    .parents = ts_parents,
    .creatable = true,
    .updatable = true,
    .deletable = true,
    .has_cr = true,
    .instance_ty = TY_TSI,
    .write_only = ts_internal,
    .prepare_create = ts_prepare_create,
    .prepare_update = ts_prepare_update,
    .txn_child_added = ts_child_added,
    .txn_child_removed = instances_child_removed,
    .txn_updated = instances_updated,
    .txn_timer = ts_timer,
    .annc_ty = TY_TS_ANNC,
    .annc_oa = ts_oa,
};
