/* fcntA: the flexContainerAnnc resource (ty 10028; TS-0001 §9.6.35 and §9.6.26, TS-0004 §7.4.26):
 * the announced variant of a <flexContainer> of another CSE, sent under its specialisation's
 * announced root ("cod:tempeAnnc", from cnd; the definitions are this CSE's, flex_defs.h): a
 * containerDefinition this CSE does not know is refused (4000). */
#include "annc.h"
#include "common_attrs.h"
#include "rtype.h"

static const struct attr_def attrs[] = {
    ATTRS_UNIVERSAL_RO,        ATTRS_ANNC_COMMON,
    {"cnd", AT_STR, A_M, A_O}, /* MA: sent again with every update */
    {"or", AT_STR, A_O, A_O},  {"nl", AT_STR, A_O, A_O},
};

static const int parents[] = {TY_CSEBASE_ANNC, TY_AE_ANNC, TY_CNT_ANNC, TY_FCNT_ANNC, TY_CSR_ANNC, TY_REMOTE_CSE, 0};

const struct rtype rtype_flex_container_annc = {
    ANNC_RTYPE(TY_FCNT_ANNC, "fcntA", true, TY_FCNT),
    .root = fcnt_annc_root,
    .custom_attrs = fcnt_annc_custom_attrs,
};
