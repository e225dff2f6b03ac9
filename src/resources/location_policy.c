/* location_policy: the <locationPolicy> resource (ty 10, m2m:lcp; TS-0001 §9.6.10, TS-0004
 * §7.4.10), a child of the CSEBase. Device-based positioning only (locationSource 2): the device
 * reports its own positions as contentInstances of the <container> the CSE creates for the policy
 * (TS-0001 §10.2.9.6: named by locationContainerName, its resourceID kept in locationContainerID, the
 * container's locationID naming the policy). Network-based (1) and sharing-based (3) need a location
 * server or a topology this CSE does not have: 5001.
 *
 * Whose positions: locationTargetID (lot) names the AE whose location the policy holds, as TS-0003
 * Annex F.2.1 sets it ("the identifier of the Originator"); core/location.c reads the latest position
 * of the policy whose lot is a request's originator for aclr contexts. Device-based, the device
 * positions itself (TS-0001 §10.2.9.2): lot defaults to the originator, and only the admin may name
 * another AE (else any AE could plant positions for another one). */
#include <string.h>

#include "common_attrs.h"
#include "core/cse.h"
#include "core/rsc.h"
#include "encoding/json.h"
#include "rtype.h"
#include "util/mem.h"
#include "util/timeutil.h"

static const struct attr_def lcp_attrs[] = {
    ATTRS_UNIVERSAL_RO,
    ATTRS_COMMON_ANNC,
    {"los", AT_UINT, A_M, A_NP},   /* locationSource (m2m:locationSource) */
    {"lit", AT_UINT, A_O, A_O},    /* locationInformationType */
    {"lou", AT_STRLIST, A_O, A_O}, /* locationUpdatePeriod: list of xs:duration */
    {"lot", AT_STR, A_O, A_NP},    /* locationTargetID */
    {"lor", AT_STR, A_O, A_NP},    /* locationServer */
    {"loi", AT_STR, A_NP, A_NP},   /* locationContainerID */
    {"lon", AT_NAME, A_O, A_NP},   /* locationContainerName */
    {"lost", AT_STR, A_NP, A_NP},  /* locationStatus */
    {"gta", AT_ANY, A_NI, A_NI},   /* geographicalTargetArea: geo-fencing needs a Geo-fence server */
    {"gec", AT_UINT, A_NI, A_NI},  /* geofenceEventCriteria */
    {"aid", AT_STR, A_O, A_NP},    /* authID */
    {"rlkl", AT_BOOL, A_O, A_O},   /* retrieveLastKnownLocation */
    {"luec", AT_UINT, A_O, A_O},   /* locationUpdateEventCriteria */
};

static const int lcp_parents[] = {TY_CSEBASE, 0};

/* TS-0001 Table 9.6.10-2, the "<locationPolicyAnnc> Attributes" column: no MA beyond et/lbl/acpi */
static const char *const lcp_oa[] = {"los", "lit", "lou", "lot",  "lor",  "loi",  "lon", "lost",
                                     "gta", "gec", "aid", "rlkl", "luec", "daci", NULL};

#define LOS_DEVICE   2
#define LIT_POSITION 1

static int lcp_prepare_create(struct create_ctx *c)
{
    int64_t los = json_int_or(c->attrs, "los", 0);
    if (los < 1 || los > 3)
        return response_error(c->rsp, RSC_BAD_REQUEST, "bad-attribute",
                              "los: 1 (network based), 2 (device based) or 3 (sharing based)");
    if (los != LOS_DEVICE)
        return response_error(c->rsp, RSC_NOT_IMPLEMENTED, "los-not-supported",
                              "only device-based locationPolicies (los 2): this CSE has no location server");
    int64_t lit = json_int_or(c->attrs, "lit", LIT_POSITION);
    if (lit != LIT_POSITION)
        return response_error(c->rsp, lit == 2 ? RSC_NOT_IMPLEMENTED : RSC_BAD_REQUEST, "bad-attribute",
                              "lit: only 1 (position fix) is supported");
    const json_t *lot = json_object_get(c->attrs, "lot");
    bool admin = c->orig && strcmp(c->orig->canon, c->cse->admin.canon) == 0;
    if (lot == NULL) {
        if (c->orig == NULL || c->orig->kind != ID_AE)
            return response_error(c->rsp, RSC_BAD_REQUEST, "bad-attribute",
                                  "lot: name the AE whose positions this policy holds");
        json_set_str(c->res, "lot", c->orig->canon + c->orig->stem_off); /* the device itself */
    } else {
        struct id target;
        if (!id_parse(&c->cse->idenv, json_string_value(lot), &target) || target.kind != ID_AE)
            return response_error(c->rsp, RSC_BAD_REQUEST, "bad-attribute", "lot: an AE-ID");
        if (!admin && (c->orig == NULL || strcmp(target.canon, c->orig->canon) != 0))
            return response_error(c->rsp, RSC_ORIGINATOR_HAS_NO_PRIVILEGE, "lcp-not-target",
                                  "a device-based locationPolicy holds the positions its own AE reports: lot must "
                                  "be the originator");
    }
    json_set_str(c->res, "lost", "device-based: positions arrive as contentInstances of loi");
    return 0;
}

/* TS-0001 §10.2.9.6: the container the positions go to, created with the policy in one
 * transaction; a locationContainerName already taken is 4105. */
static int lcp_txn_create(struct txn_ctx *t, const struct store_row *parent, struct store_row *row, json_t *res)
{
    char ri[RTYPE_RI_LEN], ts[TS_LEN + 1], ets[TS_LEN + 1];
    resource_make_ri(t->cse, "cnt", ri, sizeof ri);
    const char *lon = json_string_value(json_object_get(res, "lon"));
    const char *name = lon ? lon : ri;
    ts_format(t->now, ts);
    ts_format(row->et, ets);
    json_t *doc = json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:s}", "ty", TY_CNT, "ri", ri, "rn", name, "pi",
                            parent->ri, "ct", ts, "lt", ts, "et", ets, "st", 0, "cni", 0, "cbs", 0, "li", row->ri);
    json_t *acpi = json_object_get(res, "acpi");
    if (acpi)
        json_object_set(doc, "acpi", acpi);
    struct store_row cnt = {0};
    cnt.ri = mem_strdup(ri);
    cnt.pi = mem_strdup(parent->ri);
    cnt.rn = mem_strdup(name);
    size_t plen = strlen(parent->path) + strlen(name) + 2;
    cnt.path = mem_alloc(plen);
    snprintf(cnt.path, plen, "%s/%s", parent->path, name);
    cnt.ty = TY_CNT;
    cnt.et = row->et;
    cnt.cr = mem_strdup(row->cr);
    cnt.ae = mem_strdup("");
    cnt.acpi = mem_strdup(row->acpi);
    cnt.doc = json_encode(doc, NULL);
    json_decref(doc);
    int rc = t->txn->st->ops->insert(t->txn, &cnt);
    store_row_free(&cnt);
    if (rc == STORE_CONFLICT)
        return response_error(t->rsp, RSC_CONFLICT, "name-exists", "lon: a resource named '%s' exists already", name);
    if (rc != STORE_OK)
        return response_error(t->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
    json_set_str(res, "loi", ri);
    MEM_FREE(row->doc); /* res changed: encoded again */
    return 0;
}

/* TS-0001 §10.2.9.5: the associated container and its contentInstances go with the policy. */
static int lcp_txn_deleted(struct txn_ctx *t, const struct store_row *row)
{
    json_t *doc = json_loads(row->doc, 0, NULL);
    const char *loi = json_string_value(json_object_get(doc, "loi"));
    struct store_row cnt;
    int rc = loi ? t->txn->st->ops->get_ri(t->txn, loi, INT64_MIN, &cnt) : STORE_NOT_FOUND;
    json_decref(doc);
    if (rc == STORE_NOT_FOUND)
        return 0; /* deleted by a client already */
    if (rc != STORE_OK)
        return response_error(t->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
    /* through the one delete path: its subscribers told, its announced copies de-announced */
    rc = txn_delete_resource(t, &cnt);
    store_row_free(&cnt);
    return rc;
}

const struct rtype rtype_location_policy = {
    .ty = TY_LCP,
    .sn = "lcp",
    .attrs = lcp_attrs,
    .nattrs = NATTRS(lcp_attrs),
    .has_acpi = true,
    .parents = lcp_parents,
    .creatable = true,
    .updatable = true,
    .deletable = true,
    .prepare_create = lcp_prepare_create,
    .txn_create = lcp_txn_create,
    .txn_deleted = lcp_txn_deleted,
    .annc_ty = TY_LCP_ANNC,
    .annc_oa = lcp_oa,
};
