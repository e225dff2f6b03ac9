/* tsiA: the timeSeriesInstanceAnnc resource (ty 10030, m2m:tsiA; TS-0001 §9.6.37 and §9.6.26,
 * TS-0004 §7.4.26): the announced variant of a <timeSeriesInstance>, only below a <timeSeriesAnnc>
 * (TS-0004 §7.3.3.10). Like the original it has no acpi: its parent's apply. */
#include "annc.h"
#include "common_attrs.h"
#include "rtype.h"

static const struct attr_def attrs[] = {
    ATTRS_UNIVERSAL_RO,        ATTRS_ANNC_COMMON,          {"dgt", AT_ABSREL, A_O, A_O},
    {"con", AT_ANY, A_O, A_O}, {"snr", AT_UINT, A_O, A_O},
};

static const int parents[] = {TY_TS_ANNC, TY_REMOTE_CSE, 0};

const struct rtype rtype_timeseries_instance_annc = {
    ANNC_RTYPE(TY_TSI_ANNC, "tsiA", false, TY_TSI),
};
