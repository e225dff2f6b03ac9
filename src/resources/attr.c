/* attr: generic, data-driven validation of request attributes (see rtype.h). */
#include <string.h>

#include "e2e/esprim_obj.h"
#include "core/limits.h"
#include "core/rsc.h"
#include "rtype.h"
#include "util/timeutil.h"

bool attr_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > LIMIT_NAME_LEN || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    /* virtual resource names (TS-0001 §9.6.1.x): never real children */
    if (strcmp(s, "la") == 0 || strcmp(s, "ol") == 0 || strcmp(s, "fopt") == 0)
        return false;
    for (; *s; s++)
        if (!id_char_ok(*s))
            return false;
    return true;
}

static const struct attr_def *find(const struct rtype *t, const char *sn)
{
    for (int i = 0; i < t->nattrs; i++)
        if (strcmp(t->attrs[i].sn, sn) == 0)
            return &t->attrs[i];
    return NULL;
}

/* ---- the data-type table (TS-0004 §6.3): every attribute policy of every resource type names one
 * of these types, and a value is checked against it on CREATE and UPDATE (4000 when it fails). */

static bool is_str(const json_t *v)
{
    return json_is_string(v);
}

static bool is_uint(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 0;
}

static bool is_bool(const json_t *v)
{
    return json_is_boolean(v);
}

static bool is_any(const json_t *v)
{
    (void)v;
    return true;
}

static bool is_cr(const json_t *v)
{
    (void)v;
    return false; /* only null, handled before */
}

static bool is_name(const json_t *v)
{
    return json_is_string(v) && attr_name_ok(json_string_value(v));
}

static bool is_ts(const json_t *v)
{
    int64_t ts;
    return json_is_string(v) && ts_parse(json_string_value(v), &ts);
}

/* A list of at most LIMIT_LIST_ITEMS strings, each passing item (NULL: any), at least min long. */
static bool str_list(const json_t *v, size_t min, bool (*item)(const char *s))
{
    if (!json_is_array(v) || json_array_size(v) < min || json_array_size(v) > LIMIT_LIST_ITEMS)
        return false;
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e) || (item && !item(json_string_value(e))))
            return false;
    }
    return true;
}

static bool is_strlist(const json_t *v)
{
    return str_list(v, 0, NULL);
}

/* xs:token as a member of an XML list (m2m:labels): no white space at all, not empty */
static bool token_ok(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
            return false;
    return true;
}

static bool is_labels(const json_t *v)
{
    return str_list(v, 0, token_ok);
}

/* TS-0004 Table 6.3.3-1 lists xml, json, cbor; TS-0001 §9.6.5 and clients in the field write the
 * media types: both are accepted */
static bool serialization_ok(const char *s)
{
    static const char *const ok[] = {"xml", "json", "cbor", "application/xml", "application/json", "application/cbor"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(s, ok[i]) == 0)
            return true;
    return false;
}

static bool is_serializations(const json_t *v)
{
    return str_list(v, 1, serialization_ok);
}

/* RFC 6838 §4.2 restricted-name characters */
static bool mt_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("!#$&-^_.+", c);
}

/* m2m:contentInfo (TS-0004 Table 6.3.3-1): a media type type/subtype, ':' and an m2m:encodingType
 * 0-2 (Table 6.3.4.2.x), optionally ':' and an m2m:contentSecurity 0-5 (Table 6.3.4.2.38-1) */
static bool contentinfo_ok(const char *s)
{
    const char *p = s;
    size_t n = 0;
    while (mt_char(*p))
        p++, n++;
    if (n == 0 || *p++ != '/')
        return false;
    n = 0;
    while (mt_char(*p))
        p++, n++;
    if (n == 0 || *p++ != ':' || *p < '0' || *p > '2')
        return false;
    p++;
    if (*p == '\0')
        return true;
    return p[0] == ':' && p[1] >= '0' && p[1] <= '5' && p[2] == '\0';
}

static bool is_contentinfo(const json_t *v)
{
    return json_is_string(v) && contentinfo_ok(json_string_value(v));
}

/* TS-0001 Table 7.2-1: "R{authority}.{reverseDNS}.{name}" or "N{name}" ('r' for R until release 4,
 * checked with the request's release by the AE type) */
static bool is_appid(const json_t *v)
{
    const char *s = json_string_value(v);
    if (s == NULL || (s[0] != 'R' && s[0] != 'N' && s[0] != 'r') || s[1] == '\0')
        return false;
    for (; *s; s++)
        if (!id_char_ok(*s))
            return false;
    return true;
}

static bool nonempty(const char *s)
{
    return *s != '\0';
}

static bool is_poalist(const json_t *v)
{
    return str_list(v, 1, nonempty);
}

/* m2m:absRelTimestamp (TS-0004 Table 6.3.3-1): a timestamp, or relative milliseconds */
static bool is_absrel(const json_t *v)
{
    return json_is_integer(v) || is_ts(v);
}

static bool is_posint(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) > 0;
}

static bool is_int(const json_t *v)
{
    return json_is_integer(v);
}

static bool is_num(const json_t *v)
{
    return json_is_number(v);
}

static bool is_list(const json_t *v)
{
    return json_is_array(v) && json_array_size(v) <= LIMIT_LIST_ITEMS;
}

static const struct {
    enum attr_type type;
    bool (*ok)(const json_t *v);
    const char *what; /* the data type, as an error message names it */
} data_types[] = {
    {AT_STR, is_str, "a string"},
    {AT_NAME, is_name, "a name of 1-255 unreserved characters (A-Z a-z 0-9 - . _ ~), not '.', '..', 'la', 'ol'"},
    {AT_UINT, is_uint, "a non-negative integer"},
    {AT_BOOL, is_bool, "a boolean"},
    {AT_TS, is_ts, "a timestamp YYYYMMDDTHHMMSS"},
    {AT_STRLIST, is_strlist, "a list of strings"},
    {AT_ANY, is_any, "a value"},
    {AT_CR, is_cr, "null (the CSE sets the creator)"},
    {AT_LABELS, is_labels, "m2m:labels, a list of tokens without white space"},
    {AT_SERIALIZATIONS, is_serializations,
     "m2m:serializations, a non-empty list of xml, json, cbor (or application/xml, application/json, "
     "application/cbor)"},
    {AT_CONTENTINFO, is_contentinfo,
     "m2m:contentInfo, type/subtype:encoding (0-2) with an optional :contentSecurity (0-5), e.g. text/plain:0"},
    {AT_APPID, is_appid, "an App-ID: 'R' (registered) or 'N' (non-registered) followed by unreserved characters"},
    {AT_POALIST, is_poalist, "m2m:poaList, a non-empty list of addresses"},
    {AT_ABSREL, is_absrel, "a timestamp YYYYMMDDTHHMMSS[,fff] or relative milliseconds"},
    {AT_POSINT, is_posint, "a positive integer"},
    {AT_INT, is_int, "an integer"},
    {AT_NUM, is_num, "a number"},
    {AT_LIST, is_list, "a list"},
    {AT_E2ESECINFO, esprim_esi_ok,
     "m2m:e2eSecInfo, {esf: [SUIDs 10-45], escert: [base64 certificates], esro: a receiver rand object "
     "{esri, esrv (32 hex digits), esrx, esks, espa}}"},
};

const char *attr_type_problem(const struct attr_def *d, const json_t *v)
{
    for (size_t i = 0; i < sizeof data_types / sizeof data_types[0]; i++)
        if (data_types[i].type == d->type)
            return data_types[i].ok(v) ? NULL : data_types[i].what;
    return "valid";
}

int attr_validate(const struct rtype *t, json_t *attrs, bool create, struct cse_response *rsp)
{
    return attr_validate_ext(t, NULL, 0, attrs, create, rsp);
}

int attr_validate_ext(const struct rtype *t, const struct attr_def *extra, int n, json_t *attrs, bool create,
                      struct cse_response *rsp)
{
    if (!json_is_object(attrs))
        return response_error(rsp, RSC_BAD_REQUEST, "bad-content", "m2m:%s must be a JSON object", t->sn);
    if (json_object_size(attrs) > LIMIT_ATTRIBUTES)
        return response_error(rsp, RSC_BAD_REQUEST, "bad-content", "too many attributes (limit %d)", LIMIT_ATTRIBUTES);
    const char *k;
    json_t *v;
    json_object_foreach(attrs, k, v)
    {
        const struct attr_def *d = find(t, k);
        for (int i = 0; d == NULL && i < n; i++)
            if (strcmp(extra[i].sn, k) == 0)
                d = &extra[i];
        if (d == NULL)
            return response_error(rsp, RSC_BAD_REQUEST, "bad-content", "unknown attribute '%s' for m2m:%s", k, t->sn);
        unsigned char use = create ? d->create : d->update;
        if (use == A_NI)
            return response_error(rsp, RSC_NOT_IMPLEMENTED, "attr-not-implemented",
                                  "attribute '%s' of m2m:%s is not supported by this CSE", k, t->sn);
        if (use == A_NP)
            return response_error(rsp, RSC_BAD_REQUEST, "bad-content", "attribute '%s' of m2m:%s cannot be %s", k,
                                  t->sn, create ? "set by the originator (read-only)" : "updated");
        if (json_is_null(v)) {
            /* create: cr=null requests the creator; update: null removes the attribute, except one
             * mandatory at creation (TS-0004 §7.3.3.4: it cannot go, e.g. a DAC's dap) */
            if (create ? d->type == AT_CR : (use != A_M && d->create != A_M))
                continue;
            return response_error(rsp, RSC_BAD_REQUEST, "bad-content", "attribute '%s' must not be null", k);
        }
        const char *want = attr_type_problem(d, v);
        if (want)
            return response_error(rsp, RSC_BAD_REQUEST, "bad-content", "attribute '%s' must be %s", k, want);
    }
    if (create) {
        for (int i = 0; i < t->nattrs; i++)
            if (t->attrs[i].create == A_M && json_object_get(attrs, t->attrs[i].sn) == NULL)
                return response_error(rsp, RSC_BAD_REQUEST, "bad-content", "mandatory attribute '%s' missing",
                                      t->attrs[i].sn);
        for (int i = 0; i < n; i++)
            if (extra[i].create == A_M && json_object_get(attrs, extra[i].sn) == NULL)
                return response_error(rsp, RSC_BAD_REQUEST, "bad-content", "mandatory attribute '%s' missing",
                                      extra[i].sn);
    }
    return 0;
}

int64_t json_int_or(const json_t *obj, const char *key, int64_t dflt)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

void json_set_int(json_t *obj, const char *key, int64_t v)
{
    json_object_set_new(obj, key, json_integer((json_int_t)v));
}

void json_set_str(json_t *obj, const char *key, const char *v)
{
    json_object_set_new(obj, key, json_string(v));
}
