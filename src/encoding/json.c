/* json: body decoding and encoding helpers (see json.h). */
#include "json.h"

#include <stdio.h>
#include <string.h>

#include "core/limits.h"
#include "util/mem.h"

int json_depth(const json_t *v, int limit)
{
    if (limit < 0)
        return 1;
    int max = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach((json_t *)v, k, c)
        {
            int d = json_depth(c, limit - 1);
            if (d > max)
                max = d;
            if (max > limit)
                break;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c)
        {
            int d = json_depth(c, limit - 1);
            if (d > max)
                max = d;
            if (max > limit)
                break;
        }
    }
    return max + 1;
}

json_t *json_decode_body(const char *body, size_t len, char *err, size_t errlen)
{
    if (body == NULL || len == 0) {
        snprintf(err, errlen, "empty content");
        return NULL;
    }
    json_error_t je;
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (v == NULL) {
        snprintf(err, errlen, "invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
        return NULL;
    }
    if (json_depth(v, LIMIT_JSON_DEPTH) > LIMIT_JSON_DEPTH) {
        snprintf(err, errlen, "JSON nested deeper than %d levels", LIMIT_JSON_DEPTH);
        json_decref(v);
        return NULL;
    }
    return v;
}

char *json_encode(const json_t *v, size_t *len)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s == NULL)
        s = mem_strdup("null");
    if (len)
        *len = strlen(s);
    return s;
}
