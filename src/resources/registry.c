/* registry: the single table of resource types this CSE serves. */
#include <string.h>

#include "rtype.h"

extern const struct rtype rtype_subscription, rtype_group, rtype_acp, rtype_cse_base, rtype_ae, rtype_container,
    rtype_content_instance, rtype_role, rtype_token, rtype_dac, rtype_request, rtype_polling_channel;

static const struct rtype *const types[] = {
    &rtype_acp,      &rtype_group, &rtype_subscription, &rtype_ae,  &rtype_container, &rtype_content_instance,
    &rtype_cse_base, &rtype_role,  &rtype_token,        &rtype_dac, &rtype_request,   &rtype_polling_channel,
};

const struct rtype *rtype_find(int ty)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i]->ty == ty)
            return types[i];
    return NULL;
}

const struct rtype *rtype_find_sn(const char *sn)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(types[i]->sn, sn) == 0)
            return types[i];
    return NULL;
}

int rtype_list(int *out, int max)
{
    int n = 0;
    for (size_t i = 0; i < sizeof types / sizeof types[0] && n < max; i++) {
        int k = n++;
        while (k > 0 && out[k - 1] > types[i]->ty) { /* insertion: the table is small */
            out[k] = out[k - 1];
            k--;
        }
        out[k] = types[i]->ty;
    }
    return n;
}

bool rtype_attr_known(const char *sn)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        for (int k = 0; k < types[i]->nattrs; k++)
            if (strcmp(types[i]->attrs[k].sn, sn) == 0)
                return true;
    return false;
}
