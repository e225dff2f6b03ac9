/* flex_container: the flexContainer resource (ty 28; TS-0001 §9.6.35, TS-0004 §7.4.37). Its
 * containerDefinition (cnd) names a definition of the CSE's table (flex_defs.h: the built-in TS-0023
 * module classes and the operator's types.flex), which gives the representation's root
 * ("cod:tempe") and the custom attributes, typed and validated like any other attribute policy.
 * contentSize (cs) is the size of the custom attributes' JSON encoding. flexContainerInstances
 * (Release 4) are not kept. */
#include <string.h>

#include "annc.h"
#include "common_attrs.h"
#include "core/cse.h"
#include "core/limits.h"
#include "core/rsc.h"
#include "encoding/json.h"
#include "flex_defs.h"
#include "rtype.h"
#include "util/mem.h"

static const struct attr_def fcnt_attrs[] = {
    ATTRS_UNIVERSAL_RO,          ATTRS_COMMON_ANNC,          {"st", AT_UINT, A_NP, A_NP},
    {"cr", AT_CR, A_O, A_NP},    {"cnd", AT_STR, A_M, A_NP}, /* containerDefinition */
    {"or", AT_STR, A_O, A_O},                                /* ontologyRef */
    {"cs", AT_UINT, A_NP, A_NP}, {"nl", AT_STR, A_O, A_O},   /* nodeLink */
};

static const int fcnt_parents[] = {TY_CSEBASE, TY_AE, TY_CNT, TY_FCNT, 0};

static const struct flex_def *definition(const struct cse *cse, const json_t *doc, char *root, size_t len)
{
    return flex_def_find(cse->flex, json_string_value(json_object_get(doc, "cnd")), root, len);
}

static int fcnt_root(struct cse *cse, const json_t *doc, char *out, size_t len)
{
    return definition(cse, doc, out, len) ? 0 : -1;
}

static int fcnt_custom_attrs(struct cse *cse, const char *root_key, const json_t *attrs, const struct store_row *row,
                             const struct attr_def **defs, int *n, struct cse_response *rsp)
{
    json_t *stored = row ? json_loads(row->doc, 0, NULL) : NULL;
    const json_t *src = row ? stored : attrs;
    const char *cnd = json_string_value(json_object_get(src, "cnd"));
    char root[LIMIT_ROOT_LEN];
    const struct flex_def *def = cnd ? flex_def_find(cse->flex, cnd, root, sizeof root) : NULL;
    int rc = 0;
    if (cnd == NULL)
        rc = response_error(rsp, RSC_BAD_REQUEST, "bad-content", "containerDefinition (cnd) is mandatory");
    else if (def == NULL)
        rc = response_error(rsp, RSC_BAD_REQUEST, "unknown-definition",
                            "containerDefinition '%.200s' is not defined here (README: adding a flexContainer "
                            "definition)",
                            cnd);
    else if (strcmp(root_key, root) != 0)
        rc = response_error(rsp, RSC_BAD_REQUEST, "bad-content",
                            "a flexContainer of containerDefinition '%.200s' is sent as {\"%s\": {...}}, not \"%.64s\"",
                            cnd, root, root_key);
    if (rc == 0) {
        *defs = def->attrs;
        *n = def->nattrs;
    }
    json_decref(stored);
    return rc;
}

/* contentSize: the bytes of the custom attributes (JSON) */
static void set_cs(const struct flex_def *def, json_t *doc)
{
    json_t *custom = json_object();
    for (int i = 0; def && i < def->nattrs; i++) {
        json_t *v = json_object_get(doc, def->attrs[i].sn);
        if (v)
            json_object_set(custom, def->attrs[i].sn, v);
    }
    size_t len = 0;
    if (json_object_size(custom) > 0)
        mem_free(json_encode(custom, &len));
    json_decref(custom);
    json_set_int(doc, "cs", (int64_t)len);
}

static int fcnt_prepare_create(struct create_ctx *c)
{
    char root[LIMIT_ROOT_LEN];
    set_cs(definition(c->cse, c->res, root, sizeof root), c->res);
    return 0;
}

static int fcnt_updated(struct txn_ctx *t, struct store_row *row, json_t *doc)
{
    (void)row;
    char root[LIMIT_ROOT_LEN];
    set_cs(definition(t->cse, doc, root, sizeof root), doc);
    return 0;
}

/* ---- announcement (TS-0001 Table 9.6.35-2: containerDefinition MA; ontologyRef, nodeLink and the
 * custom attributes OA; resources/flex_container_annc.c) ---- */

static const char *const fcnt_ma[] = {"cnd", NULL};
static const char *const fcnt_oa[] = {"or", "nl", "daci", NULL};

int fcnt_annc_root(struct cse *cse, const json_t *doc, char *out, size_t len)
{
    char root[LIMIT_ROOT_LEN];
    if (definition(cse, doc, root, sizeof root) == NULL)
        return -1;
    /* the specialisation's announced variant: its short name + "Annc" ("cod:tempeAnnc", TS-0023) */
    return (size_t)snprintf(out, len, "%sAnnc", root) < len ? 0 : -1;
}

int fcnt_annc_custom_attrs(struct cse *cse, const char *root_key, const json_t *attrs, const struct store_row *row,
                           const struct attr_def **defs, int *n, struct cse_response *rsp)
{
    json_t *stored = row ? json_loads(row->doc, 0, NULL) : NULL;
    const json_t *src = row ? stored : attrs;
    char root[LIMIT_ROOT_LEN], want[LIMIT_ROOT_LEN + 8];
    const struct flex_def *def = definition(cse, src, root, sizeof root);
    int rc = 0;
    if (def == NULL)
        rc = response_error(rsp, RSC_BAD_REQUEST, "unknown-definition",
                            "containerDefinition (cnd) is missing or not defined here");
    else if (snprintf(want, sizeof want, "%sAnnc", root), strcmp(want, root_key) != 0)
        rc = response_error(rsp, RSC_BAD_REQUEST, "bad-content",
                            "this flexContainerAnnc is sent as {\"%s\": {...}}, not \"%.64s\"", want, root_key);
    if (rc == 0) {
        *defs = def->annc_attrs;
        *n = def->nattrs;
    }
    json_decref(stored);
    return rc;
}

const struct rtype rtype_flex_container = {
    .ty = TY_FCNT,
    .sn = "fcnt",
    .attrs = fcnt_attrs,
    .nattrs = NATTRS(fcnt_attrs),
    .has_acpi = true,
    .parents = fcnt_parents,
    .creatable = true,
    .updatable = true,
    .deletable = true,
    .has_st = true,
    .has_cr = true,
    .root = fcnt_root,
    .custom_attrs = fcnt_custom_attrs,
    .prepare_create = fcnt_prepare_create,
    .txn_updated = fcnt_updated,
    .annc_ty = TY_FCNT_ANNC,
    .annc_ma = fcnt_ma,
    .annc_oa = fcnt_oa,
    .annc_custom_oa = true,
};
