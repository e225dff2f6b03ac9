/* lcpA: the locationPolicyAnnc resource (ty 10010, m2m:lcpA; TS-0001 §9.6.10 and §9.6.26, TS-0004
 * §7.4.26): the announced variant of a <locationPolicy> of another CSE (no children). Its container
 * of positions stays on the Hosting CSE (TS-0001 Table 9.6.10-2, note). */
#include "annc.h"
#include "common_attrs.h"
#include "rtype.h"

static const struct attr_def attrs[] = {
    ATTRS_UNIVERSAL_RO,
    ATTRS_ANNC_COMMON,
    {"los", AT_UINT, A_O, A_O},
    {"lit", AT_UINT, A_O, A_O},
    {"lou", AT_STRLIST, A_O, A_O},
    {"lot", AT_STR, A_O, A_O},
    {"lor", AT_STR, A_O, A_O},
    {"loi", AT_STR, A_O, A_O},
    {"lon", AT_STR, A_O, A_O},
    {"lost", AT_STR, A_O, A_O},
    {"gta", AT_ANY, A_O, A_O},
    {"gec", AT_UINT, A_O, A_O},
    {"aid", AT_STR, A_O, A_O},
    {"rlkl", AT_BOOL, A_O, A_O},
    {"luec", AT_UINT, A_O, A_O},
};

static const int parents[] = {TY_CSEBASE_ANNC, TY_CSR_ANNC, TY_REMOTE_CSE, 0};

const struct rtype rtype_location_policy_annc = {
    ANNC_RTYPE(TY_LCP_ANNC, "lcpA", true, TY_LCP),
};
