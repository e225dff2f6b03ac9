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

/* mgmtObjAnnc (ty 10013): the specialisations live in resources/mgmt_obj.c. The root of a
 * specialisation's announced variant ("m2m:fwrA") from its mgd (0, or -1 for an unknown mgd); the
 * specialisation attributes it takes (rtype.custom_attrs, rtype.custom_known). */
int mgmt_annc_root(struct cse *cse, const json_t *doc, char *out, size_t len);
int mgmt_annc_custom_attrs(struct cse *cse, const char *root_key, const json_t *attrs, const struct store_row *row,
                           const struct attr_def **defs, int *n, struct cse_response *rsp);
bool mgmt_annc_known(const char *sn);
/* flexContainerAnnc (ty 10028): the definitions live in resources/flex_container.c (cse->flex). The
 * root of a specialisation's announced variant ("cod:tempeAnnc") from cnd; its custom attributes,
 * all optional. */
int fcnt_annc_root(struct cse *cse, const json_t *doc, char *out, size_t len);
int fcnt_annc_custom_attrs(struct cse *cse, const char *root_key, const json_t *attrs, const struct store_row *row,
                           const struct attr_def **defs, int *n, struct cse_response *rsp);

/* The descriptor fields every announced type shares (TS-0001 §9.6.26): created, updated and deleted
 * by the announcing CSE, checked on create by annc_prepare_create. The type file defines attrs[]
 * and parents[] and names its type, short name, whether it has acpi and its original's type. */
#define ANNC_RTYPE(TY, SN, HAS_ACPI, ANNC_OF)                                                                          \
    .ty = (TY), .sn = (SN), .attrs = attrs, .nattrs = NATTRS(attrs), .parents = parents, .creatable = true,            \
    .updatable = true, .deletable = true, .has_acpi = (HAS_ACPI), .annc_of = (ANNC_OF),                                \
    .prepare_create = annc_prepare_create

#endif
