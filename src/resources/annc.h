/* annc: shared parts of the announced resource types (resources/annc.c). Included by type files. */
#ifndef WARDEN_RESOURCES_ANNC_H
#define WARDEN_RESOURCES_ANNC_H

#include "rtype.h"

/* The receiving side's rule for every announced type (TS-0001 §9.6.26.1): From is the CSE-ID that
 * lnk names, and that CSE holds a <remoteCSE> here. 0 or 4103/4000 (rsp filled). */
int annc_prepare_create(struct create_ctx *c);
/* rtype.annc_convert of <accessControlPolicy>: the acor entries of pv/pvs that are this CSE's AE-IDs
 * in CSE-relative form become SP-relative. */
void acp_annc_convert(struct cse *cse, json_t *attrs);

#endif
