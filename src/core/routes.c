/* routes: the routing table of the route step (route.h): the registrar from the configuration
 * (registrar.*) and the registree <remoteCSE> children of the CSEBase with their descendant CSEs
 * (dcse, TS-0004 §7.4.4.2.1), read from the store on the request's own view. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core_int.h"
#include "route.h"

struct csr_scan {
    const char *csi; /* wanted CSE-ID, SP-relative */
    const char *rn;  /* or wanted resourceName */
    bool found;
    char hop_id[LIMIT_NAME_LEN + 2];
    char hop_addr[LIMIT_ID_LEN + 1];
};

static bool list_has(const json_t *list, const char *s)
{
    size_t i;
    const json_t *e;
    json_array_foreach(list, i, e) if (json_is_string(e) && strcmp(json_string_value(e), s) == 0) return true;
    return false;
}

static int csr_row(void *arg, const struct store_row *row)
{
    struct csr_scan *sc = arg;
    json_t *doc = json_loads(row->doc ? row->doc : "", 0, NULL);
    const char *csi = json_string_value(json_object_get(doc, "csi"));
    const json_t *poa = json_object_get(doc, "poa");
    bool match = csi != NULL && (sc->rn ? strcmp(row->rn, sc->rn) == 0
                                        : strcmp(csi, sc->csi) == 0 || list_has(json_object_get(doc, "dcse"), sc->csi));
    if (match) {
        snprintf(sc->hop_id, sizeof sc->hop_id, "%s", csi);
        /* the first point of access the registree gave; none: it is reachable only by its own
         * requests (no route from here) */
        const char *addr = json_string_value(json_array_get(poa, 0));
        snprintf(sc->hop_addr, sizeof sc->hop_addr, "%s", addr ? addr : "");
        sc->found = sc->rn != NULL || addr != NULL;
    }
    json_decref(doc);
    return match ? 1 : 0;
}

bool route_registree(struct cse *cse, struct store_view *v, const char *csi, struct route *r)
{
    const struct cse_config *cfg = cse->cfg;
    if (cfg->registrar_id[0] && strcmp(csi, cfg->registrar_id) == 0)
        return false; /* the registrar: by registrar.address */
    struct csr_scan sc = {.csi = csi};
    v->st->ops->children(v, cse->cb_ri, TY_REMOTE_CSE, cse_now(cse), csr_row, &sc);
    if (!sc.found || (cfg->registrar_id[0] && strcmp(sc.hop_id, cfg->registrar_id) == 0))
        return false;
    snprintf(r->hop_id, sizeof r->hop_id, "%s", sc.hop_id);
    snprintf(r->hop_addr, sizeof r->hop_addr, "%s", sc.hop_addr);
    return true;
}

bool route_remote_by_rn(struct cse *cse, struct store_view *v, const char *rn, char *csi, size_t len)
{
    /* TS-0004 §7.4.4: a <remoteCSE> is named by its CSE-ID without the '/' */
    const char *reg = cse->cfg->registrar_id;
    if (reg[0] == '/' && strcmp(reg + 1, rn) == 0) {
        snprintf(csi, len, "%s", reg);
        return true;
    }
    struct csr_scan sc = {.rn = rn};
    v->st->ops->children(v, cse->cb_ri, TY_REMOTE_CSE, cse_now(cse), csr_row, &sc);
    if (!sc.found)
        return false;
    snprintf(csi, len, "%s", sc.hop_id);
    return true;
}

bool route_relays(struct cse *cse, struct store_view *v, const char *bound_stem, const struct id *id)
{
    if (v == NULL || id->kind != ID_AE || bound_stem == NULL)
        return false;
    /* the CSE part of a C-type AE-ID "//sp/id-asn/Cae": "/id-asn" */
    const char *stem = id_stem(id);
    size_t dl = strlen(cse->cfg->cse_spid);
    const char *p = id->canon + 2 + dl;
    if (stem == NULL || strncmp(id->canon + 2, cse->cfg->cse_spid, dl) != 0 || *p != '/' || stem <= p + 1)
        return false;
    char aecse[LIMIT_NAME_LEN + 2];
    size_t n = (size_t)(stem - 1 - p);
    if (n == 0 || n >= sizeof aecse)
        return false;
    memcpy(aecse, p, n);
    aecse[n] = '\0';
    const struct cse_config *cfg = cse->cfg;
    if (cfg->registrar_id[0] == '/' && strcmp(cfg->registrar_id + 1, bound_stem) == 0) {
        /* from the registrar, towards this CSE: an AE anywhere in the SP above or beside it, never
         * one of this CSE or below it (those reach the registrar only through here) */
        if (strcmp(aecse, cfg->cse_id) == 0)
            return false;
        struct csr_scan sc = {.csi = aecse};
        v->st->ops->children(v, cse->cb_ri, TY_REMOTE_CSE, cse_now(cse), csr_row, &sc);
        return !(sc.hop_id[0] != '\0' && strcmp(sc.hop_id, cfg->registrar_id) != 0);
    }
    char path[LIMIT_ID_LEN + 1];
    snprintf(path, sizeof path, "%s/%s", cfg->cse_rn, bound_stem);
    struct store_row row;
    if (v->st->ops->get_path(v, path, cse_now(cse), &row) != STORE_OK)
        return false;
    bool ok = false;
    if (row.ty == TY_REMOTE_CSE) {
        json_t *doc = json_loads(row.doc ? row.doc : "", 0, NULL);
        ok = list_has(json_object_get(doc, "dcse"), aecse);
        json_decref(doc);
    }
    store_row_free(&row);
    return ok;
}
