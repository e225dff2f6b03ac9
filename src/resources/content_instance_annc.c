/* cinA: the contentInstanceAnnc resource (ty 10004, m2m:cinA; TS-0001 §9.6.7 and
 * §9.6.26, TS-0004 §7.4.26): the announced variant of a <contentInstance>, only below a
 * <containerAnnc> (TS-0004 §7.3.3.10). Like the original it has no acpi: its parent's apply. */
#include "annc.h"
#include "common_attrs.h"
#include "rtype.h"

static const struct attr_def attrs[] = {
    ATTRS_UNIVERSAL_RO,        ATTRS_ANNC_COMMON,        {"cnf", AT_CONTENTINFO, A_O, A_O},
    {"con", AT_ANY, A_O, A_O}, {"or", AT_STR, A_O, A_O},
};

static const int parents[] = {TY_CNT_ANNC, TY_REMOTE_CSE, 0};

const struct rtype rtype_content_instance_annc = {
    ANNC_RTYPE(TY_CIN_ANNC, "cinA", false, TY_CIN),
};
