/* membership: <group> members as acor originators (TS-0003 §7.1.3: a group ID in acor admits the
 * originator when the group's memberIDs list it). Members are resource IDs of AEs (their AE-ID-Stem)
 * or CSE-IDs; both are compared in canonical form. */
#include <string.h>

#include "core_int.h"
#include "util/mem.h"

bool group_admits(struct op_ctx *c, const char *ref, const char *orig)
{
    struct store_row grp;
    if (resolve_row(c, ref, false, &grp) != 0)
        return false;
    bool admitted = false;
    if (grp.ty == TY_GRP) {
        json_t *doc = json_loads(grp.doc, 0, NULL);
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(doc, "mid"), i, m)
        {
            struct id id;
            const char *s = json_string_value(m);
            if (s && id_parse(&c->cse->idenv, s, &id) && (id.kind == ID_AE || id.kind == ID_CSE) &&
                strcmp(id.canon, orig) == 0) {
                admitted = true;
                break;
            }
        }
        json_decref(doc);
    }
    store_row_free(&grp);
    return admitted;
}
