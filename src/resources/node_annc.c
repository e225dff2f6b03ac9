/* nodA: the nodeAnnc resource (ty 10014, m2m:nodA; TS-0001 §9.6.18 and §9.6.26, TS-0004
 * §7.4.26): the announced variant of a <node> of another CSE; its announced <mgmtObj>s and
 * <schedule>s go below it (TS-0001 Table 9.6.26.1-1). */
#include "annc.h"
#include "common_attrs.h"
#include "rtype.h"

static const struct attr_def attrs[] = {
    ATTRS_UNIVERSAL_RO,
    ATTRS_ANNC_COMMON,
    {"ni", AT_STR, A_O, A_O}, /* MA, mandatory in the original */
    {"hcl", AT_STR, A_O, A_O},
    {"hael", AT_STRLIST, A_O, A_O},
    {"hsl", AT_STRLIST, A_O, A_O},
    {"mgca", AT_STR, A_O, A_O},
    {"rms", AT_BOOL, A_O, A_O},
    {"nid", AT_STR, A_O, A_O},
};

static const int parents[] = {TY_CSEBASE_ANNC, TY_CSR_ANNC, TY_REMOTE_CSE, 0};

const struct rtype rtype_node_annc = {
    ANNC_RTYPE(TY_NODE_ANNC, "nodA", true, TY_NODE),
};
