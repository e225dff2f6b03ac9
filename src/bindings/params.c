/* params: request parameters by short name (see params.h). */
#include "params.h"

#include <string.h>

#include "core/limits.h"
#include "core/rsc.h"
#include "resources/rtype.h"
#include "util/mem.h"
#include "util/timeutil.h"

void param_scratch_free(struct param_scratch *scratch)
{
    for (int i = 0; i < FC_MAX_LBL; i++) {
        MEM_FREE(scratch->lbl[i]);
        MEM_FREE(scratch->cty[i]);
    }
    for (int i = 0; i < FC_MAX_ATR; i++)
        MEM_FREE(scratch->atrl[i]);
    for (int i = 0; i < scratch->naz; i++)
        MEM_FREE(scratch->az[i]);
    scratch->naz = 0;
}

/* Strict decimal in [min, max]; false for anything else. */
bool param_parse_long(const char *s, size_t n, long min, long max, long *out)
{
    if (n == 0 || n > 10)
        return false;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* Walk the values of a query argument: '+' and ' ' (a decoded '+') both separate values. */
typedef int (*value_fn)(const char *v, size_t n, void *arg, struct cse_response *rsp);

static int each_value(const char *key, const char *value, value_fn fn, void *arg, struct cse_response *rsp)
{
    if (value == NULL || *value == '\0')
        return response_error(rsp, RSC_BAD_REQUEST, "bad-query", "query parameter '%.32s' needs a value", key);
    const char *p = value;
    while (*p) {
        const char *e = p;
        while (*e && *e != '+' && *e != ' ')
            e++;
        if (e > p) {
            int rc = fn(p, (size_t)(e - p), arg, rsp);
            if (rc)
                return rc;
        }
        p = *e ? e + 1 : e;
    }
    return 0;
}

struct qctx {
    struct cse_request *req;
    struct param_scratch *scratch;
    const char *key;
};

static int bad_value(struct cse_response *rsp, const char *key)
{
    return response_error(rsp, RSC_BAD_REQUEST, "bad-query", "invalid value for query parameter '%s'", key);
}

static int add_ty(const char *v, size_t n, void *arg, struct cse_response *rsp)
{
    struct qctx *q = arg;
    long ty;
    if (!param_parse_long(v, n, 1, 65535, &ty))
        return bad_value(rsp, "ty");
    if (q->req->fc.nty == FC_MAX_TY)
        return response_error(rsp, RSC_BAD_REQUEST, "bad-query", "too many ty values (limit %d)", FC_MAX_TY);
    q->req->fc.ty[q->req->fc.nty++] = (int)ty;
    return 0;
}

static int add_lbl(const char *v, size_t n, void *arg, struct cse_response *rsp)
{
    struct qctx *q = arg;
    struct cse_filter *fc = &q->req->fc;
    if (fc->nlbl == FC_MAX_LBL)
        return response_error(rsp, RSC_BAD_REQUEST, "bad-query", "too many lbl values (limit %d)", FC_MAX_LBL);
    q->scratch->lbl[fc->nlbl] = mem_strndup(v, n);
    fc->lbl[fc->nlbl] = q->scratch->lbl[fc->nlbl];
    fc->nlbl++;
    return 0;
}

/* One value of rids, tids, ltids or tkns into the list q->key names. */
static int add_authz(const char *v, size_t n, void *arg, struct cse_response *rsp)
{
    struct qctx *q = arg;
    struct cse_authz_params *az = &q->req->az;
    const char **list = q->key[0] == 'r'   ? az->rids
                        : q->key[0] == 'l' ? az->ltids
                        : q->key[1] == 'i' ? az->tids
                                           : az->tkns;
    int *count = q->key[0] == 'r'   ? &az->nrids
                 : q->key[0] == 'l' ? &az->nltids
                 : q->key[1] == 'i' ? &az->ntids
                                    : &az->ntkns;
    size_t max = q->key[1] == 'k' ? 8192 : LIMIT_ID_LEN;
    if (*count == REQ_AUTHZ_MAX || q->scratch->naz == (int)(sizeof q->scratch->az / sizeof q->scratch->az[0]))
        return response_error(rsp, RSC_BAD_REQUEST, "bad-query", "too many %s values (limit %d)", q->key,
                              REQ_AUTHZ_MAX);
    if (n > max)
        return response_error(rsp, RSC_BAD_REQUEST, "bad-query", "a %s value is longer than %zu bytes", q->key, max);
    char *copy = mem_strndup(v, n);
    q->scratch->az[q->scratch->naz++] = copy;
    list[(*count)++] = copy;
    return 0;
}

static int one_long(const char *key, const char *value, long min, long max, long *out, struct cse_response *rsp)
{
    if (value == NULL || !param_parse_long(value, strlen(value), min, max, out))
        return bad_value(rsp, key);
    return 0;
}

/* Parameters a receiver that does not support them should ignore (TS-0001 §8.1.2: Authorization
 * Signatures Indicator; the Authorization Relationship Indicator likewise). */
static const char *const ignored_params[] = {"asi", "auri"};
/* Filter criteria and parameters of TS-0004 that Warden does not evaluate: refused rather than
 * silently ignored, since ignoring them would return wrong results (TS-0004 §7.3.2.1: an
 * unsupported primitive parameter, and any CMDH parameter of Annex H, is NOT_IMPLEMENTED): event
 * category, delivery aggregation, result persistence, group request target members. */
static const char *const unsupported_params[] = {"smf",  "cfs", "cfq",  "gq",  "arp", "catr", "patr", "clbl",
                                                 "plbl", "lbq", "chty", "pty", "ec",  "da",   "rp",   "gtm"};

/* m2m:absRelTimestamp: "YYYYMMDDTHHMMSS" or milliseconds (at most 12 digits); the core resolves it. */
static bool abs_rel_ok(const char *v)
{
    int64_t t;
    size_t n = v ? strlen(v) : 0;
    bool digits = n > 0 && n <= 12;
    for (size_t i = 0; digits && i < n; i++)
        digits = v[i] >= '0' && v[i] <= '9';
    return digits || (v && ts_parse(v, &t));
}

static int one_ts(const char *key, const char *value, const char **out, struct cse_response *rsp)
{
    int64_t t;
    if (value == NULL || !ts_parse(value, &t))
        return response_error(rsp, RSC_BAD_REQUEST, "bad-query", "query parameter '%s' needs a timestamp", key);
    *out = value;
    return 0;
}

static int add_cty(const char *v, size_t n, void *arg, struct cse_response *rsp)
{
    struct qctx *q = arg;
    struct cse_filter *fc = &q->req->fc;
    if (fc->ncty == FC_MAX_LBL)
        return response_error(rsp, RSC_BAD_REQUEST, "bad-query", "too many cty values (limit %d)", FC_MAX_LBL);
    q->scratch->cty[fc->ncty] = mem_strndup(v, n);
    fc->cty[fc->ncty] = q->scratch->cty[fc->ncty];
    fc->ncty++;
    return 0;
}

/* TS-0009 §6.2.2.2: atrl=ri+lbl+rr, the attributes of a partial retrieve (short names) */
static int add_atrl(const char *v, size_t n, void *arg, struct cse_response *rsp)
{
    struct qctx *q = arg;
    struct cse_request *req = q->req;
    if (req->natrl == FC_MAX_ATR)
        return response_error(rsp, RSC_BAD_REQUEST, "bad-query", "too many atrl values (limit %d)", FC_MAX_ATR);
    if (n > 32)
        return bad_value(rsp, "atrl");
    q->scratch->atrl[req->natrl] = mem_strndup(v, n);
    req->atrl[req->natrl] = q->scratch->atrl[req->natrl];
    req->natrl++;
    return 0;
}

int param_apply(const char *k, const char *value, struct cse_request *req, struct param_scratch *scratch,
                struct cse_response *rsp)
{
    long v = 0;
    struct qctx q = {req, scratch, k};
    if (strcmp(k, "rcn") == 0) {
        if (one_long(k, value, 0, 12, &v, rsp))
            return rsp->rsc;
        req->rcn = (int)v;
    } else if (strcmp(k, "drt") == 0) {
        if (one_long(k, value, 1, 2, &v, rsp))
            return rsp->rsc;
        req->drt = (int)v;
    } else if (strcmp(k, "fu") == 0) {
        if (one_long(k, value, 1, 3, &v, rsp))
            return rsp->rsc;
        if (v == 3)
            return response_error(rsp, RSC_NOT_IMPLEMENTED, "unsupported", "filterUsage 3 is not supported");
        req->fc.fu = (int)v;
    } else if (strcmp(k, "lim") == 0) {
        if (one_long(k, value, 0, 1000000000, &req->fc.lim, rsp))
            return rsp->rsc;
    } else if (strcmp(k, "lvl") == 0) {
        if (one_long(k, value, 1, 1000000000, &req->fc.lvl, rsp))
            return rsp->rsc;
    } else if (strcmp(k, "ofst") == 0) {
        if (one_long(k, value, 0, 1000000000, &req->fc.ofst, rsp))
            return rsp->rsc;
    } else if (strcmp(k, "rt") == 0) {
        /* TS-0004 responseType: 1/2 non-blocking (synch/asynch), 3 blocking, 4 flexBlocking, which
         * the receiver may answer as blocking (TS-0004 §7.2.2.2) */
        if (one_long(k, value, 1, 4, &v, rsp))
            return rsp->rsc;
        req->rt = v == 1 || v == 2 ? (int)v : 0; /* non-blocking: core/nonblock.c */
    } else if (strcmp(k, "cra") == 0 || strcmp(k, "crb") == 0 || strcmp(k, "ms") == 0 || strcmp(k, "us") == 0 ||
               strcmp(k, "exa") == 0 || strcmp(k, "exb") == 0) {
        const char **slot = k[0] == 'c'   ? (k[2] == 'a' ? &req->fc.cra : &req->fc.crb)
                            : k[0] == 'e' ? (k[2] == 'a' ? &req->fc.exa : &req->fc.exb)
                            : k[0] == 'm' ? &req->fc.ms
                                          : &req->fc.us;
        return one_ts(k, value, slot, rsp);
    } else if (strcmp(k, "sts") == 0 || strcmp(k, "stb") == 0 || strcmp(k, "sza") == 0 || strcmp(k, "szb") == 0) {
        long *slot = strcmp(k, "sts") == 0   ? &req->fc.sts
                     : strcmp(k, "stb") == 0 ? &req->fc.stb
                     : strcmp(k, "sza") == 0 ? &req->fc.sza
                                             : &req->fc.szb;
        if (one_long(k, value, 0, 1000000000, slot, rsp))
            return rsp->rsc;
    } else if (strcmp(k, "fo") == 0) {
        if (one_long(k, value, 1, 2, &v, rsp))
            return rsp->rsc;
        req->fc.fo = (int)v;
    } else if (strcmp(k, "cty") == 0) {
        return each_value(k, value, add_cty, &q, rsp);
    } else if (strcmp(k, "ty") == 0) {
        return each_value(k, value, add_ty, &q, rsp);
    } else if (strcmp(k, "lbl") == 0) {
        return each_value(k, value, add_lbl, &q, rsp);
    } else if (strcmp(k, "atrl") == 0) {
        return each_value(k, value, add_atrl, &q, rsp);
    } else if (strcmp(k, "rids") == 0 || strcmp(k, "tids") == 0 || strcmp(k, "ltids") == 0 || strcmp(k, "tkns") == 0) {
        return each_value(k, value, add_authz, &q, rsp);
    } else if (strcmp(k, "exfr") == 0 || strcmp(k, "exop") == 0 || strcmp(k, "exto") == 0) {
        if (value == NULL || *value == '\0' || strlen(value) > LIMIT_ID_LEN)
            return bad_value(rsp, k);
        *(k[2] == 'f' ? &req->ex.fr : k[2] == 'o' ? &req->ex.op : &req->ex.to) = value;
    } else if (strcmp(k, "adpi") == 0 || strcmp(k, "adaft") == 0 || strcmp(k, "adfr") == 0 || strcmp(k, "adrsn") == 0 ||
               strcmp(k, "adsince") == 0 || strcmp(k, "aduntil") == 0) {
        if (value == NULL || *value == '\0' || strlen(value) > LIMIT_ID_LEN)
            return bad_value(rsp, k);
        const char **slot = strcmp(k, "adpi") == 0      ? &req->adm.pi
                            : strcmp(k, "adaft") == 0   ? &req->adm.after
                            : strcmp(k, "adfr") == 0    ? &req->adm.fr
                            : strcmp(k, "adrsn") == 0   ? &req->adm.rsn
                            : strcmp(k, "adsince") == 0 ? &req->adm.since
                                                        : &req->adm.until;
        *slot = value;
    } else if (strcmp(k, "exty") == 0) {
        if (one_long(k, value, 1, 65535, &v, rsp))
            return rsp->rsc;
        req->ex.ty = (int)v;
    } else if (strcmp(k, "rqet") == 0 || strcmp(k, "rset") == 0 || strcmp(k, "oet") == 0) {
        /* TS-0004 §7.2.1.1 Request/Result Expiration Timestamp, Operation Execution Time */
        if (!abs_rel_ok(value))
            return response_error(rsp, RSC_BAD_REQUEST, "bad-time",
                                  "'%s' must be a timestamp YYYYMMDDTHHMMSS or a number of milliseconds", k);
        *(k[0] == 'o' ? &req->oet : k[1] == 'q' ? &req->rqet : &req->rset) = value;
    } else if (strcmp(k, "gid") == 0) {
        /* TS-0004 §7.3.3.2: the Group Request Identifier of a member request (core/gidlist.c) */
        if (value == NULL || *value == '\0' || strlen(value) > LIMIT_ID_LEN)
            return bad_value(rsp, k);
        req->gid = value;
    } else if (strcmp(k, "sqi") == 0) { /* Semantic Query Indicator: semantic queries are not offered */
        if (value != NULL && (strcmp(value, "false") == 0 || strcmp(value, "0") == 0))
            return 0;
        if (value != NULL && (strcmp(value, "true") == 0 || strcmp(value, "1") == 0))
            return response_error(rsp, RSC_NOT_IMPLEMENTED, "unsupported", "semantic queries are not supported");
        return bad_value(rsp, k);
    } else if (strcmp(k, "tqi") == 0) {
        if (value != NULL && (strcmp(value, "true") == 0 || strcmp(value, "1") == 0))
            req->az.tqi = true;
        else if (value != NULL && (strcmp(value, "false") == 0 || strcmp(value, "0") == 0))
            req->az.tqi = false;
        else
            return bad_value(rsp, k);
    } else {
        for (size_t i = 0; i < sizeof ignored_params / sizeof ignored_params[0]; i++)
            if (strcmp(k, ignored_params[i]) == 0)
                return 0;
        for (size_t i = 0; i < sizeof unsupported_params / sizeof unsupported_params[0]; i++)
            if (strcmp(k, unsupported_params[i]) == 0)
                return response_error(rsp, RSC_NOT_IMPLEMENTED, "unsupported",
                                      "query parameter '%s' is not supported by this CSE", k);
        /* TS-0009 §6.2.2.2: any other attribute short name is an attribute filter, name=value */
        if (rtype_attr_known(k) && value != NULL) {
            if (req->fc.natr == FC_MAX_ATR)
                return response_error(rsp, RSC_BAD_REQUEST, "bad-query", "too many attribute filters (limit %d)",
                                      FC_MAX_ATR);
            req->fc.atr_name[req->fc.natr] = k;
            req->fc.atr_value[req->fc.natr] = value;
            req->fc.natr++;
            return 0;
        }
        return response_error(rsp, RSC_BAD_REQUEST, "bad-query", "unknown query parameter '%.32s'", k);
    }
    return 0;
}
