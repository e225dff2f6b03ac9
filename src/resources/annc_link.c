/* annc_link: see annc_link.h. */
#include "annc_link.h"

#include <string.h>

#include "core/cse.h"
#include "core/rsc.h"

/* The canonical CSE-ID of an SP-relative lnk ("/id-mn/..."); false when lnk is not one. */
static bool lnk_cse(const struct cse *cse, const char *lnk, struct id *out)
{
    char csi[LIMIT_NAME_LEN + 2];
    size_t n = lnk && lnk[0] == '/' && lnk[1] != '/' ? strcspn(lnk + 1, "/") : 0;
    if (n == 0 || n + 1 >= sizeof csi || lnk[1 + n] != '/')
        return false;
    memcpy(csi, lnk, n + 1);
    csi[n + 1] = '\0';
    return id_parse(&cse->idenv, csi, out) && out->kind == ID_CSE;
}

int annc_link_update_check(const struct cse *cse, const struct rtype *rt, const struct store_row *row,
                           const json_t *patch, struct cse_response *rsp)
{
    const json_t *v = json_object_get(patch, "lnk");
    if (rt->annc_of == 0 || v == NULL)
        return 0;
    struct id now, next;
    json_t *doc = json_loads(row->doc ? row->doc : "", 0, NULL);
    bool have = lnk_cse(cse, json_string_value(json_object_get(doc, "lnk")), &now);
    json_decref(doc);
    if (!lnk_cse(cse, json_string_value(v), &next))
        return response_error(rsp, RSC_BAD_REQUEST, "bad-lnk",
                              "lnk must be the SP-relative address of the original resource (/cse-id/...)");
    if (!have || strcmp(now.canon, next.canon) != 0)
        return response_error(rsp, RSC_ORIGINATOR_HAS_NO_PRIVILEGE, "not-announcer",
                              "lnk must stay a resource of the announcing CSE %s", have ? now.canon : "(unknown)");
    return 0;
}
