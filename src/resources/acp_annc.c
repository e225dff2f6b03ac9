/* acpA: the accessControlPolicyAnnc resource (ty 10001, m2m:acpA; TS-0001 §9.6.2 and
 * §9.6.26, TS-0004 §7.4.26). Its pv/pvs decide, at this CSE, for the announced resources whose acpi
 * names it (core/policy.c treats it as an accessControlPolicy). */
#include "annc.h"
#include "common_attrs.h"
#include "rtype.h"

static const struct attr_def attrs[] = {
    ATTRS_UNIVERSAL_RO,
    ATTRS_ANNC_COMMON,
    {"pv", AT_ANY, A_M, A_O},
    {"pvs", AT_ANY, A_M, A_O},
};

static const int parents[] = {TY_AE_ANNC, TY_CSEBASE_ANNC, TY_CSR_ANNC, TY_REMOTE_CSE, 0};

const struct rtype rtype_acp_annc = {
    ANNC_RTYPE(TY_ACP_ANNC, "acpA", false, TY_ACP), /* like an <accessControlPolicy>: governed by its own pvs */
};
