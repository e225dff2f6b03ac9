/* aeA: the AEAnnc resource (ty 10002, m2m:aeA; TS-0001 §9.6.5 and §9.6.26, TS-0004
 * §7.4.26): the announced variant of an <AE> of another CSE. */
#include "annc.h"
#include "common_attrs.h"
#include "rtype.h"

static const struct attr_def attrs[] = {
    ATTRS_UNIVERSAL_RO,
    ATTRS_ANNC_COMMON,
    {"apn", AT_STR, A_O, A_O},
    {"api", AT_APPID, A_O, A_O},
    {"aei", AT_STR, A_O, A_O},
    {"poa", AT_STRLIST, A_O, A_O},
    {"or", AT_STR, A_O, A_O},
    {"nl", AT_STR, A_O, A_O},
    {"rr", AT_BOOL, A_O, A_O},
    {"csz", AT_SERIALIZATIONS, A_O, A_O},
    {"srv", AT_STRLIST, A_O, A_O}, /* MA, but optional in the original here */
    {"esi", AT_ANY, A_O, A_O},
    {"trps", AT_BOOL, A_O, A_O},
    {"regs", AT_ANY, A_O, A_O},
};

static const int parents[] = {TY_CSEBASE_ANNC, TY_CSR_ANNC, TY_REMOTE_CSE, 0};

const struct rtype rtype_ae_annc = {
    ANNC_RTYPE(TY_AE_ANNC, "aeA", true, TY_AE),
};
