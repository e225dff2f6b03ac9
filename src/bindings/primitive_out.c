/* primitive_out: outgoing request primitives and their responses <-> JSON (see primitive_out.h;
 * TS-0004 §7.2.1.1-2, TS-0010 §6.5). */
#include "primitive_out.h"

#include <jansson.h>
#include <string.h>

#include "core/limits.h"
#include "encoding/json.h"
#include "util/mem.h"

/* Parameters that stand at the top level of a request primitive; every other query parameter is a
 * filter criterion (fc) or an attribute filter (TS-0004 §7.2.1.1, §6.3.5.8). */
static const char *const top_int[] = {"rcn", "drt"};
static const char *const top_str[] = {"rp", "rids", "tids", "ltids", "tqi", "rset", "oet", "atrl"};
/* m2m:filterCriteria members (TS-0004 §6.3.5.8) and Warden's own query filters; any other name is
 * an attribute filter, which the primitive carries as fc.atr [{nm, val}] */
static const char *const fc_names[] = {"fu",   "ty",   "lbl",   "cty",  "crb",   "cra",     "ms",
                                       "us",   "exb",  "exa",   "sts",  "stb",   "sza",     "szb",
                                       "lim",  "lvl",  "ofst",  "fo",   "exfr",  "exop",    "exto",
                                       "exty", "adpi", "adaft", "adfr", "adrsn", "adsince", "aduntil"};

static bool in(const char *k, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(k, list[i]) == 0)
            return true;
    return false;
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

/* obj[k] = v, or, when k is there already, both in a list (a repeated query parameter). */
static void add_value(json_t *obj, const char *k, json_t *v)
{
    json_t *old = json_object_get(obj, k);
    if (old == NULL) {
        json_object_set_new(obj, k, v);
    } else if (json_is_array(old)) {
        json_array_append_new(old, v);
    } else {
        json_t *a = json_array();
        json_array_append(a, old);
        json_array_append_new(a, v);
        json_object_set_new(obj, k, a);
    }
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
        if (ok) {
            if (in(k, top_int, sizeof top_int / sizeof top_int[0])) {
                char *end;
                long long x = strtoll(v, &end, 10);
                ok = *v != '\0' && *end == '\0';
                if (ok)
                    json_object_set_new(o, k, json_integer(x));
            } else if (in(k, top_str, sizeof top_str / sizeof top_str[0])) {
                add_value(o, k, json_string(v));
            } else if (in(k, fc_names, sizeof fc_names / sizeof fc_names[0])) {
                add_value(fc, k, json_string(v));
            } else {
                json_t *atr = json_object_get(fc, "atr");
                if (atr == NULL)
                    json_object_set_new(fc, "atr", atr = json_array());
                json_array_append_new(atr, json_pack("{s:s,s:s}", "nm", k, "val", v));
            }
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
    if (rq->tkns != NULL)
        json_object_set_new(o, "tkns", json_string(rq->tkns));
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
    return 0;
}

void primitive_response_free(struct prim_response *r)
{
    if (r == NULL)
        return;
    json_decref((json_t *)r->root);
    mem_free(r->pc);
    memset(r, 0, sizeof *r);
}
