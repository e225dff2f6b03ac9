/* mgoA: the mgmtObjAnnc resource (ty 10013; TS-0001 §9.6.15 and §9.6.26, TS-0004 §7.4.26): the
 * announced variant of a <mgmtObj> of another CSE, sent under its specialisation's announced root
 * ("m2m:fwrA", "m2m:memA", ... from mgd; resources/mgmt_obj.c holds the specialisations). Below
 * the announced <node> (TS-0001 Table 9.6.26.1-1). */
#include "annc.h"
#include "common_attrs.h"
#include "rtype.h"

static const struct attr_def attrs[] = {
    ATTRS_UNIVERSAL_RO,
    ATTRS_ANNC_COMMON,
    {"mgd", AT_UINT, A_O, A_O}, /* MA */
    {"mgs", AT_STR, A_O, A_O},  /* MA */
    {"obis", AT_STRLIST, A_O, A_O},
    {"obps", AT_STRLIST, A_O, A_O},
    {"dc", AT_STR, A_O, A_O},
};

static const int parents[] = {TY_NODE_ANNC, TY_CSEBASE_ANNC, TY_CSR_ANNC, TY_REMOTE_CSE, 0};

const struct rtype rtype_mgmt_obj_annc = {
    ANNC_RTYPE(TY_MGO_ANNC, "mgoA", true, TY_MGO),
    .root = mgmt_annc_root,
    .custom_known = mgmt_annc_known,
    .custom_attrs = mgmt_annc_custom_attrs,
};
