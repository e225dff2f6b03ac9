/* request: the <request> resource (ty 17, m2m:req; TS-0001 §9.6.12, TS-0004 §7.4.12). Only the
 * Hosting CSE creates one, for a non-blocking request (TS-0004 §7.3.2.2, core/nonblock.c), and
 * only it changes one (§7.3.2.5): clients may retrieve and delete it. It carries no acpi of its
 * own, so the default policy applies: its creator, the originator of the non-blocking request
 * (and the admin), and nobody else. */
#include "common_attrs.h"
#include "rtype.h"

static const struct attr_def req_attrs[] = {
    ATTRS_UNIVERSAL_RO,
    {"rn", AT_NAME, A_NP, A_NP},
    {"et", AT_TS, A_NP, A_NP},
    {"lbl", AT_STRLIST, A_NP, A_NP},
    {"acpi", AT_STRLIST, A_NP, A_NP},
    {"cr", AT_CR, A_NP, A_NP},
    {"op", AT_UINT, A_NP, A_NP}, /* operation */
    {"tg", AT_STR, A_NP, A_NP},  /* target */
    {"org", AT_STR, A_NP, A_NP}, /* originator */
    {"rid", AT_STR, A_NP, A_NP}, /* requestID */
    {"mi", AT_ANY, A_NP, A_NP},  /* metaInformation */
    {"pc", AT_ANY, A_NP, A_NP},  /* primitiveContent */
    {"rs", AT_UINT, A_NP, A_NP}, /* requestStatus (TS-0004 §6.3.4.2.10) */
    {"ors", AT_ANY, A_NP, A_NP}, /* operationResult */
};

static const int req_parents[] = {TY_CSEBASE, 0};

const struct rtype rtype_request = {
    .ty = TY_REQ,
    .sn = "req",
    .attrs = req_attrs,
    .nattrs = NATTRS(req_attrs),
    .parents = req_parents,
    .creatable = false, /* TS-0004 §7.3.2.2: created implicitly by the Hosting CSE only */
    .updatable = false,
    .deletable = true,
    .has_cr = true,
    .has_acpi = true, /* empty: the default policy (creator only), never the CSEBase's */
};
