/* cntA: the containerAnnc resource (ty 10003, m2m:cntA; TS-0001 §9.6.6 and §9.6.26,
 * TS-0004 §7.4.26): the announced variant of a <container> of another CSE. */
#include "annc.h"
#include "common_attrs.h"
#include "rtype.h"

static const struct attr_def attrs[] = {
    ATTRS_UNIVERSAL_RO,         ATTRS_ANNC_COMMON,        {"mni", AT_UINT, A_O, A_O}, {"mbs", AT_UINT, A_O, A_O},
    {"mia", AT_UINT, A_O, A_O}, {"li", AT_STR, A_O, A_O}, {"or", AT_STR, A_O, A_O},   {"disr", AT_BOOL, A_O, A_O},
};

static const int parents[] = {TY_CSEBASE_ANNC, TY_AE_ANNC, TY_CNT_ANNC, TY_FCNT_ANNC, TY_CSR_ANNC, TY_REMOTE_CSE, 0};

const struct rtype rtype_container_annc = {
    ANNC_RTYPE(TY_CNT_ANNC, "cntA", true, TY_CNT),
};
