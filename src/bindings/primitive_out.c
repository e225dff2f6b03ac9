/* primitive_out: outgoing request primitives and their responses <-> JSON (see primitive_out.h;
 * TS-0004 §7.2.1.1-2, TS-0010 §6.5). */
#include "primitive_out.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "encoding/json.h"
#include "util/buf.h"
#include "util/mem.h"

/* The query parameters of an outgoing request (TS-0009 §6.2.2.2 text) by their place and JSON type in
 * the request primitive (TS-0004 §7.2.1.1 and §6.3.5.8 m2m:filterCriteria; TS-0010 §6.4 carries
 * the primitive as JSON): lists are JSON arrays even with one value, numbers integers, indicators
 * booleans. A name that is in neither is an attribute filter (fc.atr [{nm, val}]). */
enum pk { PK_INT, PK_STR, PK_BOOL, PK_INTS, PK_STRS };
struct pmap {
    const char *name;
    bool fc; /* a member of fc, else of the primitive */
    enum pk kind;
};
static const struct pmap pmap[] = {
    /* request parameters */
    {"rcn", false, PK_INT},
    {"drt", false, PK_INT},
    {"rids", false, PK_STRS},
    {"tids", false, PK_STRS},
    {"ltids", false, PK_STRS},
    {"tqi", false, PK_BOOL},
    {"atrl", false, PK_STRS},
    {"rset", false, PK_STR},
    {"oet", false, PK_STR},
    {"rp", false, PK_STR},
    {"sqi", false, PK_BOOL},
    /* filter criteria */
    {"fu", true, PK_INT},
    {"ty", true, PK_INTS},
    {"lbl", true, PK_STRS},
    {"cty", true, PK_STRS},
    {"crb", true, PK_STR},
    {"cra", true, PK_STR},
    {"ms", true, PK_STR},
    {"us", true, PK_STR},
    {"exb", true, PK_STR},
    {"exa", true, PK_STR},
    {"sts", true, PK_INT},
    {"stb", true, PK_INT},
    {"sza", true, PK_INT},
    {"szb", true, PK_INT},
    {"lim", true, PK_INT},
    {"lvl", true, PK_INT},
    {"ofst", true, PK_INT},
    {"fo", true, PK_INT},
    /* Warden's own query filters (the admin API's explain and console queries) */
    {"exfr", true, PK_STR},
    {"exop", true, PK_STR},
    {"exto", true, PK_STR},
    {"exty", true, PK_INT},
    {"adpi", true, PK_STR},
    {"adaft", true, PK_STR},
    {"adfr", true, PK_STR},
    {"adrsn", true, PK_STR},
    {"adsince", true, PK_STR},
    {"aduntil", true, PK_STR},
};

static const struct pmap *pmap_find(const char *k)
{
    for (size_t i = 0; i < sizeof pmap / sizeof pmap[0]; i++)
        if (strcmp(k, pmap[i].name) == 0)
            return &pmap[i];
    return NULL;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Percent-decode s[0..n) into a NUL-terminated string (mem_free); NULL when malformed or holding NUL. */
static char *pct_decode(const char *s, size_t n)
{
    char *out = mem_alloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (n - i < 3) { /* fewer than two hex digits left */
                mem_free(out);
                return NULL;
            }
            int a = hexval(s[i + 1]), b = hexval(s[i + 2]);
            if (a < 0 || b < 0 || (a == 0 && b == 0)) {
                mem_free(out);
                return NULL;
            }
            out[o++] = (char)(a * 16 + b);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* obj[k] = v; for a list, v appended to the array obj[k]. */
static void add_value(json_t *obj, const char *k, json_t *v, bool list)
{
    json_t *old = json_object_get(obj, k);
    if (!list) {
        json_object_set_new(obj, k, v);
    } else if (old == NULL) {
        json_object_set_new(obj, k, json_pack("[o]", v));
    } else {
        json_array_append_new(old, v);
    }
}

/* One value of parameter m (text v) into obj; false when v is not of m's type. A list's values may
 * also come '+'-joined in one parameter (TS-0009 §6.2.2.2: ty=3+4). */
static bool add_param(json_t *obj, const struct pmap *m, const char *v)
{
    if (m->kind == PK_INT || m->kind == PK_INTS) {
        const char *p = v;
        do {
            char *end;
            long long x = strtoll(p, &end, 10);
            if (end == p || (*end != '\0' && !(m->kind == PK_INTS && (*end == '+' || *end == ' '))))
                return false;
            add_value(obj, m->name, json_integer(x), m->kind == PK_INTS);
            p = *end ? end + 1 : end;
        } while (*p != '\0');
        return true;
    }
    if (m->kind == PK_BOOL) {
        bool t = strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
        if (!t && strcmp(v, "false") != 0 && strcmp(v, "0") != 0)
            return false;
        add_value(obj, m->name, json_boolean(t), false);
        return true;
    }
    if (m->kind == PK_STRS) {
        for (const char *p = v; *p != '\0';) {
            size_t n = strcspn(p, "+ ");
            if (n > 0)
                add_value(obj, m->name, json_stringn(p, n), true);
            p += n;
            if (*p)
                p++;
        }
        return json_object_get(obj, m->name) != NULL;
    }
    add_value(obj, m->name, json_string(v), false);
    return true;
}

/* The query "k=v&k2=v2" into the primitive o (and its fc). false when malformed. */
static bool add_query(json_t *o, const char *q)
{
    json_t *fc = json_object();
    bool ok = true;
    while (ok && q != NULL && *q != '\0') {
        size_t n = strcspn(q, "&");
        const char *eq = memchr(q, '=', n);
        if (n == 0) {
            q++;
            continue;
        }
        char *k = eq ? pct_decode(q, (size_t)(eq - q)) : NULL;
        char *v = eq ? pct_decode(eq + 1, n - (size_t)(eq - q) - 1) : NULL;
        ok = k != NULL && v != NULL && k[0] != '\0';
        const struct pmap *m = ok ? pmap_find(k) : NULL;
        if (m != NULL) {
            ok = add_param(m->fc ? fc : o, m, v);
        } else if (ok) {
            json_t *atr = json_object_get(fc, "atr");
            if (atr == NULL)
                json_object_set_new(fc, "atr", atr = json_array());
            json_array_append_new(atr, json_pack("{s:s,s:s}", "nm", k, "val", v));
        }
        mem_free(k);
        mem_free(v);
        q += n;
    }
    if (ok && json_object_size(fc) > 0)
        json_object_set(o, "fc", fc);
    json_decref(fc);
    return ok;
}

char *primitive_encode_request(const struct out_request *rq, const char *to, const char *rqi, size_t *len)
{
    *len = 0;
    if (rq == NULL || to == NULL || rqi == NULL || rq->fr == NULL)
        return NULL;
    json_t *o = json_pack("{s:i,s:s,s:s,s:s,s:s}", "op", (int)rq->op, "to", to, "fr", rq->fr, "rqi", rqi, "rvi",
                          rq->rvi ? rq->rvi : "3");
    if (o == NULL)
        return NULL;
    bool ok = true;
    if (rq->op == OP_CREATE)
        json_object_set_new(o, "ty", json_integer(rq->ty));
    if (rq->body != NULL && rq->len > 0) {
        char err[64];
        json_t *pc = json_decode_body(rq->body, rq->len, err, sizeof err);
        ok = pc != NULL;
        if (ok)
            json_object_set_new(o, "pc", pc);
    }
    if (rq->rqet != NULL)
        json_object_set_new(o, "rqet", json_string(rq->rqet));
    if (rq->rset != NULL)
        json_object_set_new(o, "rset", json_string(rq->rset));
    if (rq->tkns != NULL) { /* TS-0004 §7.2.1.1: a list of m2m:dynAuthJWT */
        static const struct pmap tkns = {"tkns", false, PK_STRS};
        ok = ok && add_param(o, &tkns, rq->tkns);
    }
    if (rq->gid != NULL) /* TS-0004 §7.2.1.1 Group Request Identifier */
        json_object_set_new(o, "gid", json_string(rq->gid));
    if (ok && rq->query != NULL)
        ok = add_query(o, rq->query);
    char *text = ok ? json_encode(o, len) : NULL;
    json_decref(o);
    return text;
}

int primitive_decode_response(const char *json, size_t len, struct prim_response *out)
{
    memset(out, 0, sizeof *out);
    char err[64];
    json_t *root = json_decode_body(json, len, err, sizeof err);
    if (root == NULL)
        return -1;
    json_t *o = root;
    if (json_is_object(o) && json_object_size(o) == 1 && json_object_get(o, "m2m:rsp") != NULL)
        o = json_object_get(o, "m2m:rsp");
    const json_t *rsc = json_object_get(o, "rsc"), *rqi = json_object_get(o, "rqi"), *to = json_object_get(o, "to");
    if (!json_is_object(o) || !json_is_integer(rsc) || json_integer_value(rsc) < 1000 ||
        json_integer_value(rsc) > 6999 || !json_is_string(rqi) || json_string_length(rqi) == 0 ||
        json_string_length(rqi) > LIMIT_ID_LEN || strlen(json_string_value(rqi)) != json_string_length(rqi) ||
        (to != NULL && (!json_is_string(to) || strlen(json_string_value(to)) != json_string_length(to)))) {
        json_decref(root);
        return -1;
    }
    out->root = root;
    out->rsc = (int)json_integer_value(rsc);
    out->rqi = json_string_value(rqi);
    out->to = to ? json_string_value(to) : NULL;
    const json_t *pc = json_object_get(o, "pc");
    if (pc != NULL && !json_is_null(pc)) {
        out->pc = json_encode(pc, &out->pc_len);
    }
    /* TS-0004 §7.2.1.2: Content Status / Offset of a partial result; Assigned Token Identifiers
     * (m2m:dynAuthLocalTokenIdAssignments {ltia: [{lti, tkid}]}) in the "lti:tkid+..." form */
    const json_t *cnst = json_object_get(o, "cnst"), *cnot = json_object_get(o, "cnot");
    if (json_is_integer(cnst) && json_integer_value(cnst) >= 0 && json_integer_value(cnst) <= 2)
        out->cnst = (int)json_integer_value(cnst);
    if (json_is_integer(cnot) && json_integer_value(cnot) >= 0 && json_integer_value(cnot) <= 1000000000)
        out->cnot = (long)json_integer_value(cnot);
    const json_t *ltia = json_object_get(json_object_get(o, "ati"), "ltia");
    struct buf b;
    buf_init(&b);
    size_t i;
    const json_t *e;
    json_array_foreach(ltia, i, e)
    {
        const char *lti = json_string_value(json_object_get(e, "lti")),
                   *tkid = json_string_value(json_object_get(e, "tkid"));
        if (lti == NULL || tkid == NULL || strpbrk(lti, ":+") != NULL || strchr(tkid, '+') != NULL ||
            b.len + strlen(lti) + strlen(tkid) + 2 > LIMIT_ID_LEN)
            continue;
        buf_printf(&b, "%s%s:%s", b.len ? "+" : "", lti, tkid);
    }
    out->ati = b.len ? buf_take(&b, NULL) : NULL;
    buf_free(&b);
    return 0;
}

void primitive_response_free(struct prim_response *r)
{
    if (r == NULL)
        return;
    json_decref((json_t *)r->root);
    mem_free(r->pc);
    mem_free(r->ati);
    memset(r, 0, sizeof *r);
}
