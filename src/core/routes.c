/* routes: the routing table of the route step (route.h): the registrar from the configuration
 * (registrar.*) and the registree <remoteCSE> children of the CSEBase with their descendant CSEs
 * (dcse, TS-0004 §7.4.4.2.1), read from the store on the request's own view. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core_int.h"
#include "route.h"

struct csr_scan {
    const char *csi;       /* wanted CSE-ID, SP-relative */
    const char *rn;        /* or wanted resourceName */
    const char *registrar; /* this CSE's registrar: its <remoteCSE> here claims no descendants */
    bool exact;            /* a registree with that csi (or rn) */
    int claims;            /* registrees that list it in their dcse */
    char hop_id[LIMIT_NAME_LEN + 2];
    char hop_addr[LIMIT_ID_LEN + 1];
    char via_id[LIMIT_NAME_LEN + 2]; /* the (last) registree claiming it as a descendant */
    char via_addr[LIMIT_ID_LEN + 1];
};

static bool list_has(const json_t *list, const char *s)
{
    size_t i;
    const json_t *e;
    json_array_foreach(list, i, e) if (json_is_string(e) && strcmp(json_string_value(e), s) == 0) return true;
    return false;
}

/* Every <remoteCSE> is looked at: a registree registered here under a CSE-ID always wins over
 * another registree's claim that the CSE is one of its descendants (dcse is what a registree says
 * about itself: it must not draw another registree's traffic, or its originators' trust, to
 * itself), and a descendant claimed by two registrees is routed to neither. */
static int csr_row(void *arg, const struct store_row *row)
{
    struct csr_scan *sc = arg;
    json_t *doc = json_loads(row->doc ? row->doc : "", 0, NULL);
    const char *csi = json_string_value(json_object_get(doc, "csi"));
    /* the first point of access the registree gave; none: it is reachable only by its own
     * requests (no route from here) */
    const char *addr = json_string_value(json_array_get(json_object_get(doc, "poa"), 0));
    if (csi != NULL && (sc->rn ? strcmp(row->rn, sc->rn) == 0 : strcmp(csi, sc->csi) == 0)) {
        sc->exact = true;
        snprintf(sc->hop_id, sizeof sc->hop_id, "%s", csi);
        snprintf(sc->hop_addr, sizeof sc->hop_addr, "%s", addr ? addr : "");
    } else if (csi != NULL && sc->csi != NULL && !(sc->registrar && strcmp(csi, sc->registrar) == 0) &&
               list_has(json_object_get(doc, "dcse"), sc->csi)) {
        sc->claims++;
        snprintf(sc->via_id, sizeof sc->via_id, "%s", csi);
        snprintf(sc->via_addr, sizeof sc->via_addr, "%s", addr ? addr : "");
    }
    json_decref(doc);
    return 0;
}

/* Scan the <remoteCSE> children for csi (or rn); false when none (or the claims conflict). The
 * next hop lands in sc->hop_id/hop_addr. */
static bool csr_find(struct cse *cse, struct store_view *v, struct csr_scan *sc)
{
    sc->registrar = cse->cfg->registrar_id[0] ? cse->cfg->registrar_id : NULL;
    v->st->ops->children(v, cse->cb_ri, TY_REMOTE_CSE, cse_now(cse), csr_row, sc);
    if (sc->exact)
        return true;
    if (sc->claims != 1)
        return false;
    memcpy(sc->hop_id, sc->via_id, sizeof sc->hop_id);
    memcpy(sc->hop_addr, sc->via_addr, sizeof sc->hop_addr);
    return true;
}

bool route_registree(struct cse *cse, struct store_view *v, const char *csi, struct route *r)
{
    const struct cse_config *cfg = cse->cfg;
    if (cfg->registrar_id[0] && strcmp(csi, cfg->registrar_id) == 0)
        return false; /* the registrar: by registrar.address */
    struct csr_scan sc = {.csi = csi};
    if (!csr_find(cse, v, &sc) || sc.hop_addr[0] == '\0' ||
        (cfg->registrar_id[0] && strcmp(sc.hop_id, cfg->registrar_id) == 0))
        return false;
    snprintf(r->hop_id, sizeof r->hop_id, "%s", sc.hop_id);
    snprintf(r->hop_addr, sizeof r->hop_addr, "%s", sc.hop_addr);
    return true;
}

bool route_remote_by_rn(struct cse *cse, struct store_view *v, const char *rn, char *csi, size_t len)
{
    /* the <remoteCSE> of that name, whatever CSE it stands for: a name is not a CSE-ID (another
     * resource may hold the CSE-ID's name, and the <remoteCSE> then has another; remote_cse.c) */
    if (cse->cfg->registrar_id[0] == '\0' && !atomic_load_explicit(&cse->registree_seen, memory_order_acquire))
        return false; /* no <remoteCSE> here: nothing to look up (most requests of a standalone CSE) */
    struct csr_scan sc = {.rn = rn};
    if (!csr_find(cse, v, &sc))
        return false;
    snprintf(csi, len, "%s", sc.hop_id);
    return true;
}

struct csr_of {
    const char *csi;
    struct store_row *out;
    bool found;
};

static int csr_of_row(void *arg, const struct store_row *row)
{
    struct csr_of *sc = arg;
    json_t *doc = json_loads(row->doc ? row->doc : "", 0, NULL);
    const char *csi = json_string_value(json_object_get(doc, "csi"));
    if (!sc->found && csi != NULL && strcmp(csi, sc->csi) == 0) {
        store_row_copy(sc->out, row);
        sc->found = true;
    }
    json_decref(doc);
    return 0;
}

bool route_csr_of(struct cse *cse, struct store_view *v, const char *csi, struct store_row *out)
{
    struct csr_of sc = {.csi = csi, .out = out};
    if (v->st->ops->children(v, cse->cb_ri, TY_REMOTE_CSE, cse_now(cse), csr_of_row, &sc) != STORE_OK && sc.found) {
        store_row_free(out);
        return false;
    }
    return sc.found;
}

bool route_relays(struct cse *cse, struct store_view *v, const char *bound_stem, const struct id *id)
{
    if (v == NULL || (id->kind != ID_AE && id->kind != ID_CSE) || bound_stem == NULL)
        return false;
    /* the CSE part of a C-type AE-ID "//sp/id-asn/Cae": "/id-asn"; a CSE-ID "//sp/id-in" is its own
     * (a CSE's request, an announcement, relayed like its AEs' by the same rule) */
    const char *stem = id_stem(id);
    size_t dl = strlen(cse->cfg->cse_spid);
    const char *p = id->canon + 2 + dl;
    if (stem == NULL || strncmp(id->canon + 2, cse->cfg->cse_spid, dl) != 0 || *p != '/' ||
        (id->kind == ID_AE && stem <= p + 1))
        return false;
    char aecse[LIMIT_NAME_LEN + 2];
    size_t n = id->kind == ID_CSE ? strlen(p) : (size_t)(stem - 1 - p);
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
        return !csr_find(cse, v, &sc) || strcmp(sc.hop_id, cfg->registrar_id) == 0;
    }
    /* a registree relays the AEs of its descendants: of a CSE only it claims (dcse), that is not
     * registered here itself */
    struct csr_scan sc = {.csi = aecse};
    return csr_find(cse, v, &sc) && !sc.exact && sc.hop_id[0] == '/' && strcmp(sc.hop_id + 1, bound_stem) == 0;
}
