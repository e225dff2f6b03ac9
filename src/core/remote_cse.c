/* remote_cse: the routing table of the route step (route.h): the registrar from the configuration
 * (registrar.*) and, as <remoteCSE> resources arrive, the registrees and their descendants. */
#include <stdio.h>
#include <string.h>

#include "core_int.h"
#include "route.h"

bool route_registree(struct cse *cse, struct store_view *v, const char *csi, struct route *r)
{
    (void)cse;
    (void)v;
    (void)csi;
    (void)r;
    return false; /* no <remoteCSE> registrees yet */
}

bool route_remote_by_rn(struct cse *cse, struct store_view *v, const char *rn, char *csi, size_t len)
{
    (void)v;
    /* TS-0004 §7.4.4: a <remoteCSE> is named by its CSE-ID without the '/' */
    const char *reg = cse->cfg->registrar_id;
    if (reg[0] == '/' && strcmp(reg + 1, rn) == 0) {
        snprintf(csi, len, "%s", reg);
        return true;
    }
    return false;
}
