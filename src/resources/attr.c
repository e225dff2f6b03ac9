/* attr: generic, data-driven validation of request attributes (see rtype.h). */
#include <string.h>

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

const char *attr_type_problem(const struct attr_def *d, const json_t *v)
{
    int64_t ts;
    switch (d->type) {
    case AT_STR: return json_is_string(v) ? NULL : "a string";
    case AT_NAME:
        if (!json_is_string(v))
            return "a string";
        return attr_name_ok(json_string_value(v))
                   ? NULL
                   : "a name of 1-255 unreserved characters (A-Z a-z 0-9 - . _ ~), not '.', '..', 'la', 'ol'";
    case AT_UINT: return json_is_integer(v) && json_integer_value(v) >= 0 ? NULL : "a non-negative integer";
    case AT_BOOL: return json_is_boolean(v) ? NULL : "a boolean";
    case AT_TS: return json_is_string(v) && ts_parse(json_string_value(v), &ts) ? NULL : "a timestamp YYYYMMDDTHHMMSS";
    case AT_STRLIST: {
        if (!json_is_array(v) || json_array_size(v) > LIMIT_LIST_ITEMS)
            return "a list of strings";
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (!json_is_string(e))
                return "a list of strings";
        }
        return NULL;
    }
    case AT_ANY: return NULL;
    case AT_ABSREL:
        if (json_is_integer(v))
            return NULL;
        return json_is_string(v) && ts_parse(json_string_value(v), &ts)
                   ? NULL
                   : "a timestamp YYYYMMDDTHHMMSS[,fff] or relative milliseconds";
    case AT_POSINT: return json_is_integer(v) && json_integer_value(v) > 0 ? NULL : "a positive integer";
    case AT_INT: return json_is_integer(v) ? NULL : "an integer";
    case AT_NUM: return json_is_number(v) ? NULL : "a number";
    case AT_LIST: return json_is_array(v) && json_array_size(v) <= LIMIT_LIST_ITEMS ? NULL : "a list";
    case AT_CR: return "null (the CSE sets the creator)";
    }
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
        if (use == A_NP)
            return response_error(rsp, RSC_BAD_REQUEST, "bad-content", "attribute '%s' of m2m:%s cannot be %s", k,
                                  t->sn, create ? "set by the originator (read-only)" : "updated");
        if (json_is_null(v)) {
            if (create ? d->type == AT_CR : use != A_M)
                continue; /* create: cr=null requests the creator; update: null removes the attribute */
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
