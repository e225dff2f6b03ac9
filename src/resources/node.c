/* node: the node resource (ty 14, m2m:nod; TS-0001 §9.6.18, TS-0004 §7.4.18): an M2M Node, the
 * parent of its <mgmtObj>s. nodeID (ni) is mandatory; roamingStatus and networkID are the CSE's
 * (NP), kept absent here since Warden has no underlying network to ask. */
#include "common_attrs.h"
#include "rtype.h"

static const struct attr_def nod_attrs[] = {
    ATTRS_UNIVERSAL_RO,
    ATTRS_COMMON_ANNC,
    {"ni", AT_STR, A_M, A_O},       /* nodeID */
    {"hcl", AT_STR, A_O, A_O},      /* hostedCSELink */
    {"hael", AT_STRLIST, A_O, A_O}, /* hostedAELinks */
    {"hsl", AT_STRLIST, A_O, A_O},  /* hostedServiceLinks */
    {"mgca", AT_STR, A_O, A_O},     /* mgmtClientAddress */
    {"rms", AT_BOOL, A_NP, A_NP},   /* roamingStatus */
    {"nid", AT_STR, A_NP, A_NP},    /* networkID */
};

static const int nod_parents[] = {TY_CSEBASE, 0};

/* TS-0001 Table 9.6.18-2, the "<nodeAnnc> attributes" column */
static const char *const nod_ma[] = {"ni", NULL};
static const char *const nod_oa[] = {"hcl", "hael", "hsl", "mgca", "rms", "nid", "daci", NULL};

const struct rtype rtype_node = {
    .ty = TY_NODE,
    .sn = "nod",
    .attrs = nod_attrs,
    .nattrs = NATTRS(nod_attrs),
    .has_acpi = true,
    .parents = nod_parents,
    .creatable = true,
    .updatable = true,
    .deletable = true,
    .annc_ty = TY_NODE_ANNC,
    .annc_ma = nod_ma,
    .annc_oa = nod_oa,
};
