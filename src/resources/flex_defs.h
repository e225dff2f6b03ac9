/* flex_defs: the flexContainer definition table (TS-0001 §9.6.35, TS-0023 module classes): what
 * each containerDefinition (cnd) is called on the wire (its root, "cod:tempe") and its custom
 * attributes with their types. Built-in definitions (flex_defs.c) plus those of the operator's JSON
 * file (types.flex), which may add definitions or replace built-in ones by cnd. */
#ifndef WARDEN_RESOURCES_FLEX_DEFS_H
#define WARDEN_RESOURCES_FLEX_DEFS_H

#include <stdbool.h>
#include <stddef.h>

#include "rtype.h"

struct flex_def {
    char *cnd;              /* "org.onem2m.common.moduleclass.temperature" */
    char *root;             /* "cod:tempe" */
    struct attr_def *attrs; /* custom attributes (sn owned) */
    int nattrs;
    /* the same, optional on create and update: the announced variant's (flexContainerAnnc), whose
     * custom attributes are OA (TS-0001 Table 9.6.35-2); sn shared with attrs */
    struct attr_def *annc_attrs;
};

struct flex_defs;

/* The built-in definitions and those of the file at path ("" or NULL: none). NULL with err naming
 * the problem (file, definition, attribute) when the file is unreadable or malformed. Caller frees
 * with flex_defs_free. */
struct flex_defs *flex_defs_load(const char *path, char *err, size_t errlen);
void flex_defs_free(struct flex_defs *d);

/* The definition of cnd, directly or through an alias (a Release 3 "org.onem2m.home." name for a
 * "org.onem2m.common." one); root gets the root the resource is represented with (the alias's
 * namespace when cnd is an alias: "hd:tempe"). NULL when cnd has no definition. */
const struct flex_def *flex_def_find(const struct flex_defs *d, const char *cnd, char *root, size_t rootlen);

#endif
