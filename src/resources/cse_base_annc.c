/* cbA: the CSEBaseAnnc resource (ty 10005, m2m:cbA; TS-0001 §9.6.3 and §9.6.26,
 * TS-0004 §7.3.3.10): created by another CSE below this CSEBase to represent itself; its announced
 * resources whose parent is not announced go below it. */
#include "annc.h"
#include "common_attrs.h"
#include "rtype.h"

static const struct attr_def attrs[] = {
    ATTRS_UNIVERSAL_RO,
    ATTRS_ANNC_COMMON,
    {"csi", AT_STR, A_O, A_O},
    {"cst", AT_UINT, A_O, A_O},
};

static const int parents[] = {TY_CSEBASE, 0};

const struct rtype rtype_cse_base_annc = {
    ANNC_RTYPE(TY_CSEBASE_ANNC, "cbA", true, TY_CSEBASE),
};
