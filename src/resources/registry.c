/* registry: the single table of resource types this CSE serves. */
#include <string.h>

#include "rtype.h"

extern const struct rtype rtype_subscription, rtype_group, rtype_acp, rtype_cse_base, rtype_ae, rtype_container,
    rtype_content_instance, rtype_role, rtype_token, rtype_dac, rtype_remote_cse;

static const struct rtype *const types[] = {
    &rtype_acp,      &rtype_group, &rtype_subscription, &rtype_ae,  &rtype_container,  &rtype_content_instance,
    &rtype_cse_base, &rtype_role,  &rtype_token,        &rtype_dac, &rtype_remote_cse,
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

bool rtype_attr_known(const char *sn)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        for (int k = 0; k < types[i]->nattrs; k++)
            if (strcmp(types[i]->attrs[k].sn, sn) == 0)
                return true;
    return false;
}
