/* dac: the <dynamicAuthorizationConsultation> resource (ty 34, m2m:dac; TS-0001 §9.6.40,
 * TS-0004 §7.4.36). Resources link to it through daci; when the access control policies deny a
 * request, core/dynauth.c consults the Dynamic Authorization Servers listed in dap (direct
 * dynamic authorization) or tells the originator where to ask (indirect, with tqi). */
#include <string.h>
#include <strings.h>

#include "common_attrs.h"
#include "core/cse.h"
#include "core/rsc.h"
#include "core/outbound.h"
#include "notify/notify.h"
#include "rtype.h"

static const struct attr_def dac_attrs[] = {
    ATTRS_UNIVERSAL_RO,
    ATTRS_COMMON_RW,
    {"cr", AT_CR, A_O, A_NP},
    {"dae", AT_BOOL, A_M, A_O},
    {"dap", AT_POALIST, A_M, A_O}, /* TS-0004 Table 7.4.36.1-3: M on create, never removed */
    {"dal", AT_TS, A_O, A_O},      /* m2m:timestamp (the grant's proposed end) */
};

static const int dac_parents[] = {TY_CSEBASE, TY_AE, 0};

/* Every DAS address must be one this CSE may call (the outbound policy of notify.*; in the secure
 * profile https with notify.ca). */
static int check_dap(struct cse *cse, const json_t *dap, struct cse_response *rsp)
{
    size_t i;
    const json_t *e;
    json_array_foreach(dap, i, e)
    {
        char why[160];
        const char *uri = json_string_value(e);
        if (strncasecmp(uri, "http://", 7) != 0 && strncasecmp(uri, "https://", 8) != 0)
            return response_error(rsp, RSC_BAD_REQUEST, "bad-dap", "dap[%zu]: a DAS is reached over http(s)", i);
        if (cse->outbound && !outbound_allowed(cse->outbound, uri, why, sizeof why))
            return response_error(rsp, RSC_BAD_REQUEST, "bad-dap", "dap[%zu]: %s", i, why);
        /* issue 12, finding 25: in the secure profile a DAS is reached over verified TLS only */
        const char *refusal = outbound_exchange_refusal(cse->outbound, uri);
        if (refusal != NULL)
            return response_error(rsp, RSC_BAD_REQUEST, "bad-dap", "dap[%zu]: %s", i, refusal);
    }
    return 0;
}

static int dac_prepare_create(struct create_ctx *c)
{
    const json_t *dap = json_object_get(c->attrs, "dap");
    return dap ? check_dap(c->cse, dap, c->rsp) : 0;
}

static int dac_prepare_update(struct cse *cse, const struct resolver *lookup, const struct store_row *row,
                              json_t *patch, struct cse_response *rsp)
{
    (void)lookup;
    (void)row;
    const json_t *dap = json_object_get(patch, "dap");
    return json_is_array(dap) ? check_dap(cse, dap, rsp) : 0;
}

const struct rtype rtype_dac = {
    .ty = TY_DAC,
    .sn = "dac",
    .attrs = dac_attrs,
    .nattrs = NATTRS(dac_attrs),
    .parents = dac_parents,
    .creatable = true,
    .updatable = true,
    .deletable = true,
    .has_cr = true,
    .has_acpi = true,
    .prepare_create = dac_prepare_create,
    .prepare_update = dac_prepare_update,
};
