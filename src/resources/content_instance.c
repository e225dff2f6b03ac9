/* content_instance: the contentInstance resource (ty 4, m2m:cin; TS-0001 §9.6.7, TS-0004
 * §7.4.7). Immutable once created; its size counts against the parent container's limits. */
#include <string.h>

#include "common_attrs.h"
#include "instances.h"
#include "core/rsc.h"
#include "e2e/content_security.h"
#include "encoding/json.h"
#include "rtype.h"
#include "util/mem.h"
#include "util/timeutil.h"

static const struct attr_def cin_attrs[] = {
    ATTRS_UNIVERSAL_RO,
    {"rn", AT_NAME, A_O, A_NP},
    {"et", AT_TS, A_O, A_NP},
    {"lbl", AT_LABELS, A_O, A_NP},
    {"at", AT_STRLIST, A_O, A_NP}, /* announced below the announced container (core/announce.c) */
    {"aa", AT_STRLIST, A_O, A_NP},
    {"st", AT_UINT, A_NP, A_NP},
    {"cr", AT_CR, A_O, A_NP},
    {"cnf", AT_CONTENTINFO, A_O, A_NP},
    {"cs", AT_UINT, A_NP, A_NP},
    {"con", AT_ANY, A_M, A_NP},
    {"or", AT_STR, A_O, A_NP},
    {"dgt", AT_STR, A_O, A_NP},
};

/* TS-0001 §9.6.7, the "<contentInstanceAnnc> Attributes" column */
static const char *const cin_oa[] = {"cnf", "con", "or", NULL};

static const int cin_parents[] = {TY_CNT, 0};

int instance_prepare(struct create_ctx *c)
{
    /* contentSize: the size in bytes of con (a string's bytes, else its JSON encoding) */
    json_t *con = json_object_get(c->attrs, "con");
    size_t cs;
    if (json_is_string(con)) {
        cs = json_string_length(con);
    } else {
        char *enc = json_encode(con, &cs);
        mem_free(enc);
    }
    c->row->cs = (int64_t)cs;
    json_set_int(c->res, "cs", (int64_t)cs);
    /* maxInstanceAge of the parent: the instance expires mia seconds after its creation */
    json_t *pdoc = json_loads(c->parent->doc, 0, NULL);
    int64_t mia = pdoc ? json_int_or(pdoc, "mia", -1) : -1;
    /* the content against the contentSecurity of its contentInfo: a contentInstance's own, a
     * timeSeriesInstance's <timeSeries>'s (TS-0004 §6.3.4.2.38; the CSE holds no ESData key) */
    const json_t *cnf = json_object_get(c->attrs, "cnf");
    int rc = content_security_check(cnf ? cnf : json_object_get(pdoc, "cnf"), con, c->rsp);
    json_decref(pdoc);
    if (rc != 0)
        return rc;
    if (mia >= 0 && c->now + mia < c->row->et) {
        char et[TS_LEN + 1];
        c->row->et = c->now + mia;
        ts_format(c->row->et, et);
        json_set_str(c->res, "et", et);
    }
    return 0;
}

int instance_txn_create(struct txn_ctx *t, const struct store_row *parent, struct store_row *row, json_t *res)
{
    (void)res;
    json_t *pdoc = json_loads(parent->doc, 0, NULL);
    int64_t mbs = pdoc ? json_int_or(pdoc, "mbs", -1) : -1;
    json_decref(pdoc);
    if (mbs >= 0 && row->cs > mbs)
        return response_error(t->rsp, RSC_NOT_ACCEPTABLE, "too-large",
                              "content size %lld exceeds its parent's maxByteSize %lld", (long long)row->cs,
                              (long long)mbs);
    return 0;
}

const struct rtype rtype_content_instance = {
    .ty = TY_CIN,
    .sn = "cin",
    .attrs = cin_attrs,
    .nattrs = NATTRS(cin_attrs),
    .parents = cin_parents,
    .creatable = true,
    .updatable = false,
    .deletable = true,
    .has_st = true,
    .has_cr = true,
    .leaf = true,
    .prepare_create = instance_prepare,
    .txn_create = instance_txn_create,
    .annc_ty = TY_CIN_ANNC,
    .annc_oa = cin_oa,
    .annc_needs_parent = true,
};
