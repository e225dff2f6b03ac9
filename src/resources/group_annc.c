/* grpA: the groupAnnc resource (ty 10009, m2m:grpA; TS-0001 §9.6.13 and §9.6.26,
 * TS-0004 §7.4.26): the announced variant of a <group> of another CSE. */
#include "annc.h"
#include "common_attrs.h"
#include "rtype.h"

static const struct attr_def attrs[] = {
    ATTRS_UNIVERSAL_RO,
    ATTRS_ANNC_COMMON,
    {"mt", AT_UINT, A_O, A_O},
    {"cnm", AT_UINT, A_O, A_O},
    {"mnm", AT_UINT, A_O, A_O},
    {"mid", AT_STRLIST, A_O, A_O},
    {"macp", AT_STRLIST, A_O, A_O},
    {"mtv", AT_BOOL, A_O, A_O},
    {"csy", AT_UINT, A_O, A_O},
    {"gn", AT_STR, A_O, A_O},
};

static const int parents[] = {TY_CSEBASE_ANNC, TY_AE_ANNC, TY_CSR_ANNC, TY_REMOTE_CSE, 0};

const struct rtype rtype_group_annc = {
    ANNC_RTYPE(TY_GRP_ANNC, "grpA", true, TY_GRP),
};
