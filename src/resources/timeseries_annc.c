/* tsA: the timeSeriesAnnc resource (ty 10029, m2m:tsA; TS-0001 §9.6.36 and §9.6.26, TS-0004
 * §7.4.26): the announced variant of a <timeSeries> of another CSE. */
#include "annc.h"
#include "common_attrs.h"
#include "rtype.h"

static const struct attr_def attrs[] = {
    ATTRS_UNIVERSAL_RO,           ATTRS_ANNC_COMMON,
    {"mni", AT_UINT, A_O, A_O},   {"mbs", AT_UINT, A_O, A_O},
    {"mia", AT_UINT, A_O, A_O},   {"pei", AT_POSINT, A_O, A_O},
    {"peid", AT_UINT, A_O, A_O},  {"mdn", AT_POSINT, A_O, A_O},
    {"mdt", AT_POSINT, A_O, A_O}, {"cnf", AT_STR, A_O, A_O},
};

/* TS-0001 Table 9.6.26.1-1 */
static const int parents[] = {TY_CSEBASE_ANNC, TY_AE_ANNC, TY_CNT_ANNC, TY_FCNT_ANNC, TY_CSR_ANNC, TY_REMOTE_CSE, 0};

const struct rtype rtype_timeseries_annc = {
    ANNC_RTYPE(TY_TS_ANNC, "tsA", true, TY_TS),
};
