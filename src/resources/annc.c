/* annc: what every announced resource type shares (TS-0001 §9.6.26, TS-0004 §7.4.26): who may
 * create one, and the conversion of an accessControlPolicy's identifiers for another CSE. The
 * types themselves are one file each (*_annc.c). */
#include <string.h>

#include "annc.h"
#include "core/cse.h"
#include "core/route.h"
#include "core/rsc.h"
#include "rtype.h"
#include "util/mem.h"

int annc_prepare_create(struct create_ctx *c)
{
    /* TS-0001 §9.6.26.1: the announcement request comes From the CSE-ID of the Hosting CSE of the
     * original resource, and lnk names that resource on that CSE (SP-relative, "/id-mn/...") */
    const struct id *o = c->orig;
    const char *lnk = json_string_value(json_object_get(c->attrs, "lnk"));
    if (o == NULL || o->kind != ID_CSE)
        return response_error(c->rsp, RSC_ORIGINATOR_HAS_NO_PRIVILEGE, "not-announcer",
                              "an announced resource is created only by the CSE hosting the original resource");
    char csi[LIMIT_NAME_LEN + 2];
    size_t n = lnk && lnk[0] == '/' && lnk[1] != '/' ? strcspn(lnk + 1, "/") : 0;
    if (n == 0 || n + 1 >= sizeof csi || lnk[1 + n] != '/')
        return response_error(c->rsp, RSC_BAD_REQUEST, "bad-lnk",
                              "lnk must be the SP-relative address of the original resource (/cse-id/...)");
    memcpy(csi, lnk, n + 1);
    csi[n + 1] = '\0';
    struct id lid;
    if (!id_parse(&c->cse->idenv, csi, &lid) || lid.kind != ID_CSE || strcmp(lid.canon, o->canon) != 0)
        return response_error(c->rsp, RSC_ORIGINATOR_HAS_NO_PRIVILEGE, "not-announcer",
                              "lnk names a resource of %s, not of the originator", csi);
    /* and that CSE is one this CSE knows: a registree or its registrar, each held as a <remoteCSE>;
     * or one whose request a CSE on the way relayed (From is not the identity of the association:
     * dispatch let it through only from a CSE allowed to relay it, route.h), e.g. a CSE announcing
     * to a descendant of its registree */
    struct store_row csr; /* by csi: an AE may hold the CSE-ID's name (routes.c) */
    bool ok = c->view != NULL && route_csr_of(c->cse, c->view, csi, &csr);
    if (ok)
        store_row_free(&csr);
    const struct cse_secctx *sec = &c->req->sec;
    bool relayed = sec->nids > 0;
    for (int i = 0; i < sec->nids; i++)
        relayed &= sec->ids[i] == NULL || strcmp(sec->ids[i], o->canon) != 0;
    if (!ok && !relayed)
        return response_error(c->rsp, RSC_ORIGINATOR_HAS_NO_PRIVILEGE, "not-registered",
                              "%s is not a CSE registered with this CSE or its registrar", csi);
    return 0;
}

/* C-type AE-IDs in the CSE-relative form ("Cae") are this CSE's: another CSE reads them as its own,
 * so they travel SP-relative ("/id-mn/Cae", TS-0001 §7.2 and §9.6.26.1) */
static void convert_list(struct cse *cse, json_t *list)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *s = json_string_value(e);
        if (s != NULL && s[0] == 'C' && strchr(s, '/') == NULL) {
            size_t len = strlen(cse->cfg->cse_id) + strlen(s) + 2;
            char *sp = mem_alloc(len);
            snprintf(sp, len, "%s/%s", cse->cfg->cse_id, s);
            json_array_set_new(list, i, json_string(sp));
            mem_free(sp);
        }
    }
}

void acp_annc_convert(struct cse *cse, json_t *attrs)
{
    static const char *const keys[] = {"pv", "pvs"};
    for (int k = 0; k < 2; k++) {
        size_t i;
        json_t *rule;
        json_array_foreach(json_object_get(json_object_get(attrs, keys[k]), "acr"), i, rule)
            convert_list(cse, json_object_get(rule, "acor"));
    }
}
