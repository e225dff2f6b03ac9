/* csrA: the remoteCSEAnnc resource (ty 10016, m2m:csrA; TS-0001 §9.6.4 and §9.6.26, TS-0004
 * §7.4.26): the announced variant of a <remoteCSE> of another CSE, i.e. that CSE tells this one
 * of a CSE registered with it (or of its registrar). It may hold the announced variants TS-0001
 * Table 9.6.26.1-1 lists (AEAnnc, containerAnnc, nodeAnnc, ... and remoteCSEAnnc). */
#include "annc.h"
#include "common_attrs.h"
#include "rtype.h"

static const struct attr_def attrs[] = {
    ATTRS_UNIVERSAL_RO,
    ATTRS_ANNC_COMMON,
    {"cst", AT_UINT, A_O, A_O},
    {"poa", AT_STRLIST, A_O, A_O},
    {"cb", AT_STR, A_O, A_O},
    {"csi", AT_STR, A_O, A_O},
    {"rr", AT_BOOL, A_O, A_O},
    {"nl", AT_STR, A_O, A_O},
    {"csz", AT_STRLIST, A_O, A_O},
    {"esi", AT_ANY, A_O, A_O},
    {"srv", AT_STRLIST, A_O, A_O},
    {"dcse", AT_STRLIST, A_O, A_O},
};

static const int parents[] = {TY_CSEBASE_ANNC, TY_CSR_ANNC, 0};

const struct rtype rtype_remote_cse_annc = {
    ANNC_RTYPE(TY_CSR_ANNC, "csrA", true, TY_REMOTE_CSE),
};
