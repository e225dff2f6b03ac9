/* registry: the single table of resource types this CSE serves. */
#include <string.h>

#include "rtype.h"

extern const struct rtype rtype_subscription, rtype_group, rtype_acp, rtype_cse_base, rtype_ae, rtype_container,
    rtype_content_instance, rtype_role, rtype_token, rtype_dac, rtype_request, rtype_polling_channel, rtype_timeseries,
    rtype_timeseries_instance, rtype_flex_container, rtype_node, rtype_mgmt_obj, rtype_location_policy, rtype_schedule,
    rtype_cross_sub, rtype_remote_cse, rtype_acp_annc, rtype_ae_annc, rtype_container_annc, rtype_content_instance_annc,
    rtype_cse_base_annc, rtype_group_annc, rtype_timeseries_annc, rtype_timeseries_instance_annc, rtype_node_annc,
    rtype_location_policy_annc, rtype_schedule_annc, rtype_remote_cse_annc, rtype_mgmt_obj_annc,
    rtype_flex_container_annc;

static const struct rtype *const types[] = {
    &rtype_acp,
    &rtype_group,
    &rtype_subscription,
    &rtype_ae,
    &rtype_container,
    &rtype_content_instance,
    &rtype_cse_base,
    &rtype_role,
    &rtype_token,
    &rtype_dac,
    &rtype_request,
    &rtype_polling_channel,
    &rtype_timeseries,
    &rtype_timeseries_instance,
    &rtype_flex_container,
    &rtype_node,
    &rtype_mgmt_obj,
    &rtype_location_policy,
    &rtype_schedule,
    &rtype_cross_sub,
    &rtype_remote_cse,
    &rtype_acp_annc,
    &rtype_ae_annc,
    &rtype_container_annc,
    &rtype_content_instance_annc,
    &rtype_cse_base_annc,
    &rtype_group_annc,
    &rtype_timeseries_annc,
    &rtype_timeseries_instance_annc,
    &rtype_node_annc,
    &rtype_location_policy_annc,
    &rtype_schedule_annc,
    &rtype_remote_cse_annc,
    &rtype_mgmt_obj_annc,
    &rtype_flex_container_annc,
};

const struct rtype *rtype_find(int ty)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i]->ty == ty)
            return types[i];
    return NULL;
}

const struct rtype *rtype_at(size_t i)
{
    return i < sizeof types / sizeof types[0] ? types[i] : NULL;
}

const struct rtype *rtype_find_sn(const char *sn)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(types[i]->sn, sn) == 0)
            return types[i];
    return NULL;
}

/* TS-0004 Table 6.3.4.2.1-1: every value m2m:resourceType defines (Release 3), implemented here
 * or not. A CREATE naming one of these that this CSE does not implement is 5001 (TS-0004 §7.3.3.3);
 * any other value is an invalid Resource Type, 4000 (§7.3.2.1). */
bool rtype_defined(int ty)
{
    static const int annc[] = {10001, 10002, 10003, 10004, 10005, 10009, 10010, 10013, 10014, 10016, 10018,
                               10024, 10028, 10029, 10030, 10033, 10038, 10039, 10040, 10041, 10042, 10046};
    if (ty >= 1 && ty <= 51)
        return true;
    for (size_t i = 0; i < sizeof annc / sizeof annc[0]; i++)
        if (annc[i] == ty)
            return true;
    return false;
}

int rtype_supported(int *out, int max)
{
    int n = 0;
    for (size_t i = 0; i < sizeof types / sizeof types[0] && n < max; i++) { /* insertion sort: ascending */
        int k = n++;
        for (; k > 0 && out[k - 1] > types[i]->ty; k--)
            out[k] = out[k - 1];
        out[k] = types[i]->ty;
    }
    return n;
}

int rtype_original(int ty)
{
    const struct rtype *t = rtype_find(ty);
    return t && t->annc_of ? t->annc_of : ty;
}

bool rtype_child_ok(int child, int parent)
{
    const struct rtype *t = rtype_find(child);
    for (const int *p = t ? t->parents : NULL; p && *p; p++)
        if (*p == parent)
            return true;
    return false;
}

bool rtype_subscribable(int ty)
{
    const struct rtype *sub = rtype_find(TY_SUB);
    for (const int *p = sub->parents; *p; p++)
        if (*p == ty)
            return true;
    return false;
}

bool rtype_attr_known(const char *sn)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        for (const char *const *w = types[i]->write_only; w && *w; w++)
            if (strcmp(*w, sn) == 0) /* key material is never a filter: that would be an oracle */
                return false;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        for (int k = 0; k < types[i]->nattrs; k++)
            if (strcmp(types[i]->attrs[k].sn, sn) == 0)
                return true;
        if (types[i]->custom_known && types[i]->custom_known(sn))
            return true;
    }
    return false;
}
