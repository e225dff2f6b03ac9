/* schA: the scheduleAnnc resource (ty 10018, m2m:schA; TS-0001 §9.6.9 and §9.6.26, TS-0004
 * §7.4.26): the announced variant of a <schedule> of another CSE (no children). Its
 * accessControlPolicyIDs are NA (TS-0001 Table 9.6.9-2): the parent's policies apply here. */
#include "annc.h"
#include "common_attrs.h"
#include "rtype.h"

static const struct attr_def attrs[] = {
    ATTRS_UNIVERSAL_RO,
    ATTRS_ANNC_COMMON,
    {"se", AT_ANY, A_O, A_O},
    {"nco", AT_BOOL, A_O, A_O},
};

static const int parents[] = {TY_CSEBASE_ANNC, TY_NODE_ANNC, TY_CSR_ANNC, TY_REMOTE_CSE, 0};

const struct rtype rtype_schedule_annc = {
    ANNC_RTYPE(TY_SCH_ANNC, "schA", true, TY_SCH),
};
