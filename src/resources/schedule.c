/* schedule: the <schedule> resource (ty 18, m2m:sch; TS-0001 §9.6.9, TS-0004 §7.4.9). scheduleElement
 * (se) is an m2m:scheduleEntries, {"sce": [ENTRY, ...]}, each entry the seven-field crontab of TS-0004
 * Table 7.4.9.1-4 that accessControlWindow uses too: parsed by the one parser, acp_crontab_* of
 * security/acp.c. Under a <subscription> (its notificationSchedule, at most one) it says when
 * notifications may be sent (core/subscribe.c); under the CSEBase (when the CSE expects to be
 * available) and a <node> (when the node can communicate) it is kept and served, for clients. */
#include <string.h>

#include "common_attrs.h"
#include "core/limits.h"
#include "core/rsc.h"
#include "encoding/json.h"
#include "rtype.h"
#include "security/acp.h"
#include "util/mem.h"

static const struct attr_def sch_attrs[] = {
    ATTRS_UNIVERSAL_RO,
    ATTRS_COMMON_ANNC,
    {"se", AT_ANY, A_M, A_O},   /* scheduleElement (m2m:scheduleEntries) */
    {"nco", AT_BOOL, A_O, A_O}, /* networkCoordinated: under a <node> only */
};

static const int sch_parents[] = {TY_CSEBASE, TY_NODE, TY_SUB, TY_CRS, 0};

/* TS-0001 Table 9.6.9-2, the "<scheduleAnnc> Attributes" column (acpi and daci NA) */
static const char *const sch_oa[] = {"se", "nco", NULL};

/* m2m:scheduleEntries: {"sce": [1..n entries]}; TS-0004 Table 7.4.9.1-3: "shall not be blank" */
static int check_se(const json_t *se, struct cse_response *rsp)
{
    const json_t *sce = json_object_get(se, "sce");
    if (!json_is_object(se) || json_object_size(se) != 1 || !json_is_array(sce) || json_array_size(sce) == 0 ||
        json_array_size(sce) > LIMIT_SCHEDULE_ENTRIES)
        return response_error(rsp, RSC_BAD_REQUEST, "bad-attribute",
                              "se: {\"sce\": [\"SEC MIN HOUR DAY MONTH WEEKDAY YEAR\", ...]}, 1 to %d entries",
                              LIMIT_SCHEDULE_ENTRIES);
    size_t i;
    const json_t *e;
    json_array_foreach(sce, i, e)
    {
        if (!json_is_string(e) || !acp_crontab_valid(json_string_value(e)))
            return response_error(rsp, RSC_BAD_REQUEST, "bad-attribute",
                                  "se.sce[%zu]: not a schedule entry (seven crontab fields, TS-0004 Table 7.4.9.1-4)",
                                  i);
    }
    return 0;
}

static int sch_prepare_create(struct create_ctx *c)
{
    /* TS-0004 §7.4.9.2.1: networkCoordinated only under a <node> */
    if (json_object_get(c->attrs, "nco") && c->parent->ty != TY_NODE)
        return response_error(c->rsp, RSC_CONTENTS_UNACCEPTABLE, "bad-attribute", "nco: only under a <node>");
    return check_se(json_object_get(c->attrs, "se"), c->rsp);
}

static int sch_prepare_update(struct cse *cse, const struct resolver *lookup, const struct store_row *row,
                              json_t *patch, struct cse_response *rsp)
{
    (void)cse;
    (void)lookup;
    const json_t *se = json_object_get(patch, "se");
    if (se && check_se(se, rsp) != 0)
        return rsp->rsc;
    if (json_object_get(patch, "nco") && row->ty == TY_SCH) {
        /* the parent's type is not at hand here: networkCoordinated was accepted on create only
         * under a <node>, so only a schedule that has it may change it */
        json_t *doc = json_loads(row->doc, 0, NULL);
        bool had = json_object_get(doc, "nco") != NULL;
        json_decref(doc);
        if (!had)
            return response_error(rsp, RSC_CONTENTS_UNACCEPTABLE, "bad-attribute", "nco: only under a <node>");
    }
    return 0;
}

/* TS-0001 Table 9.6.8-2 / 9.6.58: a subscription has at most one notificationSchedule */
static int sch_txn_create(struct txn_ctx *t, const struct store_row *parent, struct store_row *row, json_t *res)
{
    (void)row;
    (void)res;
    if (parent->ty != TY_SUB && parent->ty != TY_CRS)
        return 0;
    struct store_row old;
    int rc = t->txn->st->ops->edge_child(t->txn, parent->ri, TY_SCH, true, t->now, &old);
    if (rc == STORE_OK) {
        store_row_free(&old);
        return response_error(t->rsp, RSC_CONFLICT, "sch-exists",
                              "the subscription has a notificationSchedule already");
    }
    return rc == STORE_NOT_FOUND ? 0 : response_error(t->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
}

bool schedule_allows(const char *doc, int64_t now)
{
    json_t *d = json_loads(doc, 0, NULL);
    const json_t *sce = json_object_get(json_object_get(d, "se"), "sce");
    bool ok = false;
    size_t i;
    const json_t *e;
    json_array_foreach(sce, i, e)
    {
        if (json_is_string(e) && acp_crontab_matches(json_string_value(e), now)) {
            ok = true;
            break;
        }
    }
    json_decref(d);
    return ok;
}

const struct rtype rtype_schedule = {
    .ty = TY_SCH,
    .sn = "sch",
    .attrs = sch_attrs,
    .nattrs = NATTRS(sch_attrs),
    .has_acpi = true,
    .parents = sch_parents,
    .creatable = true,
    .updatable = true,
    .deletable = true,
    .prepare_create = sch_prepare_create,
    .prepare_update = sch_prepare_update,
    .txn_create = sch_txn_create,
    .annc_ty = TY_SCH_ANNC,
    .annc_oa = sch_oa,
    .annc_acpi_na = true,
};
