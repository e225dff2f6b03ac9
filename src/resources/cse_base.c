/* cse_base: the CSEBase resource (ty 5, m2m:cb; TS-0001 §9.6.3). Created by the CSE itself at
 * start; clients may only retrieve it. */
#include "common_attrs.h"
#include "rtype.h"

static const struct attr_def cb_attrs[] = {
    ATTRS_UNIVERSAL_RO,
    {"rn", AT_NAME, A_NP, A_NP},
    {"et", AT_TS, A_NP, A_NP},
    {"lbl", AT_STRLIST, A_NP, A_NP},
    {"acpi", AT_STRLIST, A_NP, A_NP},
    {"cst", AT_UINT, A_NP, A_NP},
    {"csi", AT_STR, A_NP, A_NP},
    {"srt", AT_ANY, A_NP, A_NP},
    {"poa", AT_STRLIST, A_NP, A_NP},
    {"nl", AT_STR, A_NP, A_NP},
    {"csz", AT_STRLIST, A_NP, A_NP},
    {"srv", AT_STRLIST, A_NP, A_NP},
    {"esi", AT_E2ESECINFO, A_NP, A_NP}, /* set by the CSE (e2e/esprim.c) */
};

static const int cb_parents[] = {0};

const struct rtype rtype_cse_base = {
    .ty = TY_CSEBASE,
    .sn = "cb",
    .attrs = cb_attrs,
    .nattrs = NATTRS(cb_attrs),
    .has_acpi = true,
    .parents = cb_parents,
};
