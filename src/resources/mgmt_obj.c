/* mgmt_obj: the mgmtObj resource (ty 13; TS-0001 §9.6.15, TS-0004 §7.4.15 and Annex D) and its
 * specialisations by mgmtDefinition (mgd), each with its own root ("m2m:fwr") and attribute
 * policies, in the table below (data). The TS-0003 credential-management specialisations
 * (TS-0004 Table 6.3.4.2.22-1 delegates them to TS-0022) carry key material: those attributes are
 * write-only (rtype.write_only): accepted on create and update, stored, and never part of any
 * representation (core/represent.c, the one path for every binding, rcn, and notification), nor
 * usable as a filter.
 *
 * Short names: TS-0004 Annex (clause 8.2.3 tables) for 1001-1010; for the TS-0022 ones, myCertFileCred
 * (nycfc: suids, mcff, mcfc) as open-source CSEs send it; the others' short names could not be
 * checked against TS-0022 here and are provisional (README "More resource types"). */
#include <stdio.h>
#include <string.h>

#include "annc.h"
#include "common_attrs.h"
#include "core/limits.h"
#include "core/rsc.h"
#include "rtype.h"

static const struct attr_def mgo_attrs[] = {
    ATTRS_UNIVERSAL_RO,
    ATTRS_COMMON_ANNC,
    {"mgd", AT_UINT, A_M, A_NP},     /* mgmtDefinition */
    {"obis", AT_STRLIST, A_O, A_NP}, /* objectIDs */
    {"obps", AT_STRLIST, A_O, A_NP}, /* objectPaths */
    {"dc", AT_STR, A_O, A_O},        /* description */
    {"mgs", AT_STR, A_O, A_NP},      /* mgmtSchema */
};

/* ---- the specialisations ---------------------------------------------------------------------- */

static const struct attr_def fwr[] = {
    {"vr", AT_STR, A_M, A_O},  {"fwn", AT_STR, A_M, A_O}, {"url", AT_STR, A_M, A_O},
    {"ud", AT_BOOL, A_O, A_O}, {"uds", AT_ANY, A_O, A_O},
};
static const struct attr_def swr[] = {
    {"vr", AT_STR, A_M, A_O},   {"swn", AT_STR, A_M, A_O},  {"url", AT_STR, A_M, A_O},
    {"in", AT_BOOL, A_O, A_O},  {"un", AT_BOOL, A_O, A_O},  {"ins", AT_ANY, A_O, A_O},
    {"act", AT_BOOL, A_O, A_O}, {"dea", AT_BOOL, A_O, A_O}, {"acts", AT_ANY, A_O, A_O},
};
static const struct attr_def mem[] = {{"mma", AT_UINT, A_O, A_O}, {"mmt", AT_UINT, A_O, A_O}};
static const struct attr_def bat[] = {{"btl", AT_UINT, A_O, A_O}, {"bts", AT_UINT, A_O, A_O}};
static const struct attr_def dvi[] = {
    {"dlb", AT_STR, A_O, A_O},  {"man", AT_STR, A_O, A_O},  {"mod", AT_STR, A_O, A_O},  {"dty", AT_STR, A_O, A_O},
    {"fwv", AT_STR, A_O, A_O},  {"swv", AT_STR, A_O, A_O},  {"hwv", AT_STR, A_O, A_O},  {"mfdl", AT_STR, A_O, A_O},
    {"mfd", AT_ANY, A_O, A_O},  {"smod", AT_STR, A_O, A_O}, {"dvnm", AT_STR, A_O, A_O}, {"osv", AT_STR, A_O, A_O},
    {"cnty", AT_STR, A_O, A_O}, {"loc", AT_ANY, A_O, A_O},  {"syst", AT_ANY, A_O, A_O}, {"spur", AT_STR, A_O, A_O},
    {"purl", AT_STR, A_O, A_O}, {"ptl", AT_ANY, A_O, A_O},
};
static const struct attr_def dvc[] = {
    {"can", AT_STR, A_M, A_O},  {"att", AT_BOOL, A_O, A_O}, {"cas", AT_ANY, A_O, A_O},
    {"ena", AT_BOOL, A_O, A_O}, {"dis", AT_BOOL, A_O, A_O}, {"cus", AT_BOOL, A_O, A_O},
};
static const struct attr_def rbo[] = {{"rbo", AT_BOOL, A_O, A_O}, {"far", AT_BOOL, A_O, A_O}};
static const struct attr_def evl[] = {
    {"lgt", AT_UINT, A_O, A_O}, {"lgd", AT_ANY, A_O, A_O},  {"lgst", AT_ANY, A_O, A_O},
    {"lga", AT_BOOL, A_O, A_O}, {"lgo", AT_BOOL, A_O, A_O},
};
/* TS-0022 / TS-0003 §8.3.9.9: SUID, TLS ciphersuites, the symmetric key's ID and value (write-only),
 * key registration duration and labels, the certificate's fingerprint, a raw public key's ID */
static const struct attr_def aupf[] = {
    {"suid", AT_UINT, A_M, A_O}, {"tlscs", AT_LIST, A_O, A_O},  {"skid", AT_STR, A_O, A_O}, {"skv", AT_STR, A_O, A_O},
    {"krd", AT_ANY, A_O, A_O},   {"krl", AT_STRLIST, A_O, A_O}, {"mcfp", AT_STR, A_O, A_O}, {"rpki", AT_STR, A_O, A_O},
};
/* myCertFileCred: SUIDs, the file's format and content (a certificate file may be a PKCS#12 bundle
 * with its private key: write-only) */
static const struct attr_def nycfc[] = {
    {"suids", AT_LIST, A_M, A_O},
    {"mcff", AT_STR, A_M, A_O},
    {"mcfc", AT_STR, A_M, A_O},
};
/* trustAnchorCred: the trust anchor certificate's fingerprint and where to fetch it */
static const struct attr_def tac[] = {{"cfp", AT_STR, A_M, A_O}, {"url", AT_STR, A_O, A_O}};
/* MAFClientRegCfg / MEFClientRegCfg: where to register (fqdn, ports) and for which administrating
 * stakeholder; the credentials are those of the linked authenticationProfile */
static const struct attr_def regcfg[] = {
    {"fqdn", AT_STR, A_M, A_O}, {"adfq", AT_STR, A_O, A_O}, {"hpt", AT_UINT, A_O, A_O},
    {"cpt", AT_UINT, A_O, A_O}, {"wpt", AT_UINT, A_O, A_O}, {"aupf", AT_STR, A_O, A_O},
};

#define SPEC(mgd, sn, attrs)                                                                                           \
    {                                                                                                                  \
        mgd, sn, attrs, NATTRS(attrs)                                                                                  \
    }
static const struct mgmt_spec {
    int mgd;
    const char *sn;
    const struct attr_def *attrs;
    int nattrs;
} specs[] = {
    SPEC(1001, "fwr", fwr),      SPEC(1002, "swr", swr),     SPEC(1003, "mem", mem), SPEC(1006, "bat", bat),
    SPEC(1007, "dvi", dvi),      SPEC(1008, "dvc", dvc),     SPEC(1009, "rbo", rbo), SPEC(1010, "evl", evl),
    SPEC(1022, "aupf", aupf),    SPEC(1023, "nycfc", nycfc), SPEC(1024, "tac", tac), SPEC(1025, "mafcf", regcfg),
    SPEC(1026, "mefcf", regcfg),
};

/* Key material of every specialisation (their names are not shared with non-secret attributes). */
static const char *const secrets[] = {"skv", "mcfc", NULL};

static const int mgo_parents[] = {TY_NODE, 0};

static bool mgo_custom_known(const char *sn)
{
    for (const char *const *w = secrets; *w; w++)
        if (strcmp(*w, sn) == 0)
            return false;
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
        for (int k = 0; k < specs[i].nattrs; k++)
            if (strcmp(specs[i].attrs[k].sn, sn) == 0)
                return true;
    return false;
}

static const struct mgmt_spec *spec_of(const json_t *doc)
{
    const json_t *mgd = json_object_get(doc, "mgd");
    for (size_t i = 0; json_is_integer(mgd) && i < sizeof specs / sizeof specs[0]; i++)
        if (specs[i].mgd == json_integer_value(mgd))
            return &specs[i];
    return NULL;
}

static int mgo_root(struct cse *cse, const json_t *doc, char *out, size_t len)
{
    (void)cse;
    const struct mgmt_spec *s = spec_of(doc);
    if (s == NULL)
        return -1;
    snprintf(out, len, "m2m:%s", s->sn);
    return 0;
}

static int mgo_custom_attrs(struct cse *cse, const char *root_key, const json_t *attrs, const struct store_row *row,
                            const struct attr_def **defs, int *n, struct cse_response *rsp)
{
    (void)cse;
    json_t *stored = row ? json_loads(row->doc, 0, NULL) : NULL;
    const json_t *src = row ? stored : attrs;
    const struct mgmt_spec *s = spec_of(src);
    int rc = 0;
    char root[LIMIT_ROOT_LEN];
    if (s == NULL)
        rc = response_error(rsp, RSC_BAD_REQUEST, "bad-mgd",
                            "mgmtDefinition (mgd) must be one this CSE knows: 1001-1003, 1006-1010, 1022-1026");
    else if (snprintf(root, sizeof root, "m2m:%s", s->sn), strcmp(root, root_key) != 0)
        rc = response_error(rsp, RSC_BAD_REQUEST, "bad-content",
                            "a mgmtObj of mgmtDefinition %d is sent as {\"%s\": {...}}, not \"%.64s\"", s->mgd, root,
                            root_key);
    if (rc == 0) {
        *defs = s->attrs;
        *n = s->nattrs;
    }
    json_decref(stored);
    return rc;
}

/* ---- announcement (TS-0001 Table 9.6.15-2: mgmtDefinition and mgmtSchema MA, the others and every
 * [objectAttribute] of a specialisation OA; resources/mgmt_obj_annc.c) ---- */

/* Every specialisation attribute but the key material, which never leaves this CSE (not even named
 * in aa: annc_request_check refuses a name that is not OA). */
/* clang-format off */
#define MGMT_ANNC_ATTRS(X)                                                                         \
    X(vr) X(fwn) X(url) X(ud) X(uds) X(swn) X(in) X(un) X(ins) X(act) X(dea) X(acts) X(mma) X(mmt)  \
    X(btl) X(bts) X(dlb) X(man) X(mod) X(dty) X(fwv) X(swv) X(hwv) X(mfdl) X(mfd) X(smod) X(dvnm)  \
    X(osv) X(cnty) X(loc) X(syst) X(spur) X(purl) X(ptl) X(can) X(att) X(cas) X(ena) X(dis) X(cus) \
    X(rbo) X(far) X(lgt) X(lgd) X(lgst) X(lga) X(lgo) X(suid) X(tlscs) X(skid) X(krd) X(krl)       \
    X(mcfp) X(rpki) X(suids) X(mcff) X(cfp) X(fqdn) X(adfq) X(hpt) X(cpt) X(wpt) X(aupf)
/* clang-format on */
#define MGMT_ANNC_NAME(a) #a,
#define MGMT_ANNC_DEF(a)  {#a, AT_ANY, A_O, A_O},

static const char *const mgo_ma[] = {"mgd", "mgs", NULL};
static const char *const mgo_oa[] = {"obis", "obps", "dc", "daci", MGMT_ANNC_ATTRS(MGMT_ANNC_NAME) NULL};
/* the announced variant takes them as the Hosting CSE sends them (it validated them) */
static const struct attr_def mgo_annc_defs[] = {MGMT_ANNC_ATTRS(MGMT_ANNC_DEF)};

int mgmt_annc_root(struct cse *cse, const json_t *doc, char *out, size_t len)
{
    (void)cse;
    const struct mgmt_spec *s = spec_of(doc);
    if (s == NULL)
        return -1;
    snprintf(out, len, "m2m:%sA", s->sn); /* TS-0004 Annex: fwrA, swrA, memA, ... */
    return 0;
}

bool mgmt_annc_known(const char *sn)
{
    for (size_t i = 0; i < sizeof mgo_annc_defs / sizeof mgo_annc_defs[0]; i++)
        if (strcmp(mgo_annc_defs[i].sn, sn) == 0)
            return true;
    return false;
}

int mgmt_annc_custom_attrs(struct cse *cse, const char *root_key, const json_t *attrs, const struct store_row *row,
                           const struct attr_def **defs, int *n, struct cse_response *rsp)
{
    json_t *stored = row ? json_loads(row->doc, 0, NULL) : NULL;
    char root[LIMIT_ROOT_LEN];
    int rc = 0;
    if (mgmt_annc_root(cse, row ? stored : attrs, root, sizeof root) != 0)
        rc = response_error(rsp, RSC_BAD_REQUEST, "bad-mgd", "mgmtDefinition (mgd) must be one this CSE knows");
    else if (strcmp(root, root_key) != 0)
        rc = response_error(rsp, RSC_BAD_REQUEST, "bad-content",
                            "this mgmtObjAnnc is sent as {\"%s\": {...}}, not \"%.64s\"", root, root_key);
    json_decref(stored);
    if (rc == 0) {
        *defs = mgo_annc_defs;
        *n = NATTRS(mgo_annc_defs);
    }
    return rc;
}

const struct rtype rtype_mgmt_obj = {
    .ty = TY_MGO,
    .sn = "mgo",
    .attrs = mgo_attrs,
    .nattrs = NATTRS(mgo_attrs),
    .has_acpi = true,
    .parents = mgo_parents,
    .creatable = true,
    .updatable = true,
    .deletable = true,
    .write_only = secrets,
    .root = mgo_root,
    .custom_known = mgo_custom_known,
    .custom_attrs = mgo_custom_attrs,
    .annc_ty = TY_MGO_ANNC,
    .annc_ma = mgo_ma,
    .annc_oa = mgo_oa,
};
