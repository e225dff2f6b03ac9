/* ae: the AE resource (ty 2, m2m:ae; TS-0001 §9.6.5, registration procedure TS-0001 §10.2.2.2,
 * TS-0004 §7.4.5). The AE-ID-Stem is allocated here and is also the resource ID. */
#include <string.h>

#include "common_attrs.h"
#include "core/cse.h"
#include "core/rsc.h"
#include "rtype.h"
#include "util/mem.h"
#include "util/rand.h"

static const struct attr_def ae_attrs[] = {
    ATTRS_UNIVERSAL_RO,
    ATTRS_COMMON_ANNC,
    {"apn", AT_STR, A_O, A_O},
    {"api", AT_APPID, A_M, A_NP},
    {"aei", AT_STR, A_NP, A_NP},
    {"poa", AT_STRLIST, A_O, A_O},
    {"or", AT_STR, A_O, A_O},
    {"nl", AT_STR, A_O, A_O},
    {"rr", AT_BOOL, A_M, A_O},
    {"csz", AT_SERIALIZATIONS, A_O, A_O},
    {"srv", AT_STRLIST, A_O, A_O},
    {"esi", AT_E2ESECINFO, A_O, A_O},
    {"scp", AT_STRLIST, A_O, A_O},
    {"trps", AT_BOOL, A_O, A_O},
    {"regs", AT_ANY, A_NP, A_NP},
};

/* TS-0001 §9.6.5, the "<AEAnnc> Attributes" column */
static const char *const ae_ma[] = {"srv", "esi", NULL};
static const char *const ae_oa[] = {"apn", "api", "aei", "poa", "or", "nl", "rr", "csz", "trps", "regs", "daci", NULL};

static const int ae_parents[] = {TY_CSEBASE, 0};

/* AE-ID-Stem length for allocated IDs: 'C'/'S' + 16 random characters (~95 bits). */
#define STEM_RANDOM_LEN 16

static int ae_prepare_create(struct create_ctx *c)
{
    /* TS-0001 Table 7.2-1 App-ID (its form is the AT_APPID data type): a lower-case 'r' for a
     * registered App-ID is permitted up to release 3 and forbidden from release 4 on */
    const char *api = json_string_value(json_object_get(c->attrs, "api"));
    const char *rvi = c->req->rvi;
    bool r4 = rvi != NULL && (strcmp(rvi, "4") == 0 || strcmp(rvi, "5") == 0);
    if (api != NULL && api[0] == 'r' && r4)
        return response_error(c->rsp, RSC_BAD_REQUEST, "bad-app-id",
                              "App-ID 'api': a registered App-ID starts with 'R' from release 4 on ('r' is refused)");

    /* TS-0001 §10.2.2.2: From "C" or absent asks for a C-type ID; "S" for an S-type ID (this CSE
     * is also the SP's allocator); an AE-ID-Stem asks for that ID. */
    char stem[LIMIT_NAME_LEN + 1];
    const struct id *o = c->orig;
    if (o == NULL || o->kind == ID_ASK_C || o->kind == ID_ASK_S) {
        stem[0] = (o != NULL && o->kind == ID_ASK_S) ? 'S' : 'C';
        rand_alnum(stem + 1, STEM_RANDOM_LEN);
    } else if (o->kind == ID_AE && o->form == IDF_STEM && strlen(id_stem(o)) <= LIMIT_NAME_LEN) {
        strcpy(stem, id_stem(o));
    } else {
        return response_error(c->rsp, RSC_BAD_REQUEST, "bad-originator",
                              "AE registration needs From 'C', 'S', empty, or an AE-ID-Stem");
    }
    if (!attr_name_ok(stem))
        return response_error(c->rsp, RSC_BAD_REQUEST, "bad-originator", "AE-ID-Stem '%s' is not valid", stem);

    mem_free(c->row->ri);
    c->row->ri = mem_strdup(stem);
    mem_free(c->row->ae);
    c->row->ae = mem_strdup(stem);
    json_set_str(c->res, "ri", stem);
    json_set_str(c->res, "aei", stem);
    if (json_object_get(c->attrs, "rn") == NULL) {
        mem_free(c->row->rn);
        c->row->rn = mem_strdup(stem);
    }
    /* the AE owns itself: it is its own creator for the default policy */
    mem_free(c->row->cr);
    struct id self;
    c->row->cr = mem_strdup(id_parse(&c->cse->idenv, stem, &self) ? self.canon : "");
    return 0;
}

static int ae_txn_create(struct txn_ctx *t, const struct store_row *parent, struct store_row *row, json_t *res)
{
    (void)parent;
    (void)res;
    struct store_row existing;
    int rc = t->txn->st->ops->get_ri(t->txn, row->ri, t->now, &existing);
    if (rc == STORE_OK) {
        store_row_free(&existing);
        return response_error(t->rsp, RSC_ORIGINATOR_HAS_ALREADY_REGISTERED, "already-registered",
                              "an AE with AE-ID '%s' is already registered", row->ri);
    }
    return rc == STORE_NOT_FOUND ? 0 : response_error(t->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
}

const struct rtype rtype_ae = {
    .ty = TY_AE,
    .sn = "ae",
    .attrs = ae_attrs,
    .nattrs = NATTRS(ae_attrs),
    .has_acpi = true,
    .parents = ae_parents,
    .creatable = true,
    .updatable = true,
    .deletable = true,
    .prepare_create = ae_prepare_create,
    .txn_create = ae_txn_create,
    .annc_ty = TY_AE_ANNC,
    .annc_ma = ae_ma,
    .annc_oa = ae_oa,
};
