/* remote_cse: the <remoteCSE> resource (ty 16, m2m:csr; TS-0001 §9.6.4, CSE registration TS-0001
 * §10.2.2.6-7, TS-0004 §7.4.4). A registree CSE creates it at its registrar, over a security
 * association bound to its CSE-ID (checked on receipt by dispatch: 4107 without one, 4106 for
 * another identity); this file adds what the registration itself requires. A CSE registers once:
 * a second <remoteCSE> with the same csi is 4117 (TS-0004 §7.4.4.2.1 checks the CSE-ID, never the
 * name). The name is the one asked for, by default the CSE-ID without its '/' ("id-mn"); when
 * another resource (an AE, say) holds it already, the hosting CSE names it by its ri instead
 * (TS-0001 §10.1.2: it may assign the name), so no name taken first can block a registration; the
 * registree finds its <remoteCSE> by the address answered (Content-Location), routes find it by
 * csi (routes.c). */
#include <stdio.h>
#include <string.h>

#include "common_attrs.h"
#include "core/config.h"
#include "core/cse.h"
#include "core/rsc.h"
#include "rtype.h"
#include "util/mem.h"

static const struct attr_def csr_attrs[] = {
    ATTRS_UNIVERSAL_RO,
    ATTRS_COMMON_ANNC,
    {"cst", AT_UINT, A_O, A_NP},
    {"poa", AT_STRLIST, A_O, A_O},
    {"cb", AT_STR, A_M, A_NP},
    {"csi", AT_STR, A_M, A_NP},
    {"mei", AT_STR, A_O, A_O},
    {"tri", AT_STR, A_O, A_O},
    {"rr", AT_BOOL, A_M, A_O},
    {"nl", AT_STR, A_O, A_O},
    {"csz", AT_STRLIST, A_O, A_O},
    {"esi", AT_E2ESECINFO, A_O, A_O},
    {"srv", AT_STRLIST, A_O, A_O},
    {"dcse", AT_STRLIST, A_O, A_O},
};

static const int csr_parents[] = {TY_CSEBASE, 0};

/* TS-0001 Table 9.6.4-2, the "<remoteCSEAnnc> Attributes" column (those Warden has) */
static const char *const csr_ma[] = {"esi", "srv", NULL};
static const char *const csr_oa[] = {"cst", "poa", "cb", "csi", "rr", "nl", "csz", "dcse", "daci", NULL};

/* descendantCSEs (TS-0004 §7.4.4.2.1) are what the registree says about itself: each must be a
 * CSE-ID of this SP other than this CSE and the registree (the route step, routes.c, also never
 * lets a claim override a CSE registered here, nor honours a descendant claimed twice). */
static int dcse_check(struct cse *cse, const json_t *dcse, const char *own_csi, struct cse_response *rsp)
{
    size_t i;
    const json_t *e;
    json_array_foreach(dcse, i, e)
    {
        const char *s = json_string_value(e);
        struct id d;
        if (s == NULL || s[0] != '/' || s[1] == '/' || !id_parse(&cse->idenv, s, &d) || d.kind != ID_CSE ||
            strcmp(s, cse->cfg->cse_id) == 0 || (own_csi != NULL && strcmp(s, own_csi) == 0))
            return response_error(rsp, RSC_BAD_REQUEST, "bad-dcse",
                                  "dcse[%zu] must be the SP-relative CSE-ID of another CSE below the registree", i);
    }
    return 0;
}

static int csr_prepare_update(struct cse *cse, const struct resolver *lookup, const struct store_row *row,
                              json_t *patch, struct cse_response *rsp)
{
    (void)lookup;
    json_t *doc = json_loads(row->doc ? row->doc : "", 0, NULL);
    int rc = dcse_check(cse, json_object_get(patch, "dcse"), json_string_value(json_object_get(doc, "csi")), rsp);
    json_decref(doc);
    return rc;
}

static int csr_prepare_create(struct create_ctx *c)
{
    atomic_store_explicit(&c->cse->registree_seen, true, memory_order_release); /* routes by rn from now on */
    const struct cse_config *cfg = c->cse->cfg;
    /* TS-0004 §7.4.4.2.1 (digest C8 step 7): an ASN-CSE has no registrees; an AE cannot register
     * as a CSE */
    if (strcmp(cfg->cse_type, "ASN") == 0)
        return response_error(c->rsp, RSC_OPERATION_NOT_ALLOWED, "asn-no-registree",
                              "an ASN-CSE accepts no CSE registration");
    if (c->orig == NULL || c->orig->kind != ID_CSE)
        return response_error(c->rsp, RSC_OPERATION_NOT_ALLOWED, "csr-needs-cse",
                              "a <remoteCSE> is created by the registering CSE, From its CSE-ID");
    /* the CSE-ID registered is the one the security association vouches for (dispatch checked
     * that From is bound to it): csi must name the same CSE (TS-0003 §7.2) */
    const char *csi = json_string_value(json_object_get(c->attrs, "csi"));
    struct id cid;
    if (csi == NULL || !id_parse(&c->cse->idenv, csi, &cid) || cid.kind != ID_CSE)
        return response_error(c->rsp, RSC_BAD_REQUEST, "bad-csi", "csi must be a CSE-ID (/id-mn)");
    if (strcmp(cid.canon, c->orig->canon) != 0)
        return response_error(c->rsp, RSC_ORIGINATOR_NOT_AUTHENTICATED, "csi-not-bound",
                              "csi '%.64s' is not the CSE-ID of this security association", csi);
    if (!cid.local || strcmp(id_stem(&cid), cfg->cse_id + 1) == 0)
        return response_error(c->rsp, RSC_BAD_REQUEST, "bad-csi", "csi must be another CSE of this SP");
    char own[LIMIT_NAME_LEN + 2];
    snprintf(own, sizeof own, "/%s", id_stem(&cid));
    if (dcse_check(c->cse, json_object_get(c->attrs, "dcse"), own, c->rsp) != 0)
        return c->rsp->rsc;
    const char *cb = json_string_value(json_object_get(c->attrs, "cb"));
    if (cb == NULL || cb[0] == '\0')
        return response_error(c->rsp, RSC_BAD_REQUEST, "bad-cb", "cb must name the registree's CSEBase");
    /* the name asked for, by default the CSE-ID without its '/' (csr_txn_create renames it when
     * that name is taken) */
    if (!json_is_string(json_object_get(c->attrs, "rn"))) {
        mem_free(c->row->rn);
        c->row->rn = mem_strdup(id_stem(&cid));
    }
    char rel[LIMIT_NAME_LEN + 2]; /* csi is kept SP-relative whatever form was sent */
    snprintf(rel, sizeof rel, "/%s", id_stem(&cid));
    json_set_str(c->res, "csi", rel);
    /* the registree owns its <remoteCSE>: it updates poa/dcse and deregisters by deleting it */
    mem_free(c->row->cr);
    c->row->cr = mem_strdup(cid.canon);
    return 0;
}

struct csi_scan {
    const char *csi;
    char *path; /* the <remoteCSE> registered under csi (mem_free), NULL: none */
};

static int csi_row(void *arg, const struct store_row *row)
{
    struct csi_scan *sc = arg;
    json_t *doc = json_loads(row->doc ? row->doc : "", 0, NULL);
    const char *csi = json_string_value(json_object_get(doc, "csi"));
    if (sc->path == NULL && csi != NULL && strcmp(csi, sc->csi) == 0)
        sc->path = mem_strdup(row->path);
    json_decref(doc);
    return 0;
}

static int csr_txn_create(struct txn_ctx *t, const struct store_row *parent, struct store_row *row, json_t *res)
{
    const struct store_ops *ops = t->txn->st->ops;
    /* TS-0004 §7.4.4.2.1: a CSE registers once, found by its CSE-ID among the <remoteCSE>s of the
     * same parent (never by a name another originator could have taken first) */
    struct csi_scan sc = {.csi = json_string_value(json_object_get(res, "csi"))};
    if (sc.csi == NULL || ops->children(t->txn, parent->ri, TY_REMOTE_CSE, t->now, csi_row, &sc) != STORE_OK) {
        mem_free(sc.path);
        return response_error(t->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
    }
    if (sc.path != NULL) {
        response_error(t->rsp, RSC_ORIGINATOR_HAS_ALREADY_REGISTERED, "already-registered",
                       "the CSE '%s' is already registered here", sc.csi);
        /* where: the registree finds its registration by this address, not by a name it assumed */
        mem_free(t->rsp->location);
        t->rsp->location = sc.path;
        return t->rsp->rsc;
    }
    struct store_row existing;
    int rc = ops->get_path(t->txn, row->path, t->now, &existing);
    if (rc == STORE_OK) {
        store_row_free(&existing);
        /* the name is another resource's: the hosting CSE assigns one (TS-0001 §10.1.2), its ri */
        mem_free(row->rn);
        row->rn = mem_strdup(row->ri);
        size_t pl = strlen(parent->path) + strlen(row->rn) + 2;
        mem_free(row->path);
        row->path = mem_alloc(pl);
        snprintf(row->path, pl, "%s/%s", parent->path, row->rn);
        json_set_str(res, "rn", row->rn);
        MEM_FREE(row->doc); /* encoded again by create_run */
        return 0;
    }
    return rc == STORE_NOT_FOUND ? 0 : response_error(t->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
}

const struct rtype rtype_remote_cse = {
    .ty = TY_REMOTE_CSE,
    .sn = "csr",
    .attrs = csr_attrs,
    .nattrs = NATTRS(csr_attrs),
    .has_acpi = true,
    .parents = csr_parents,
    .creatable = true,
    .updatable = true,
    .deletable = true,
    .prepare_create = csr_prepare_create,
    .prepare_update = csr_prepare_update,
    .txn_create = csr_txn_create,
    .annc_ty = TY_CSR_ANNC,
    .annc_ma = csr_ma,
    .annc_oa = csr_oa,
};
