/* annc_link: the link (lnk) of an announced resource on UPDATE (resources/annc_link.c). */
#ifndef WARDEN_RESOURCES_ANNC_LINK_H
#define WARDEN_RESOURCES_ANNC_LINK_H

#include "rtype.h"

/* TS-0001 §9.6.26.1: lnk names the original on the announcing CSE. A CREATE is checked by
 * annc_prepare_create; lnk is updatable (TS-0004 Table 7.4.26.1-2), and a new lnk must name a
 * resource of the same CSE as the one it replaces (whoever updates: the announcer, or an originator
 * an announced policy lets update the copy). 0, or 4000/4103 with rsp filled; 0 for a type that is
 * not an announced variant or a patch without lnk. */
int annc_link_update_check(const struct cse *cse, const struct rtype *rt, const struct store_row *row,
                           const json_t *patch, struct cse_response *rsp);

#endif
