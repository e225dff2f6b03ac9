/* jose_compact: see jose_compact.h. */
#include "e2e/jose_compact.h"

#include <string.h>

bool jose_b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool jose_b64url_only(const char *s)
{
    for (; *s; s++)
        if (!jose_b64url_char(*s))
            return false;
    return true;
}

bool jose_jwk_members_ok(const json_t *jwk)
{
    static const char *const b64[] = {"k", "x", "y", "d", "n", "e", "p", "q", "dp", "dq", "qi"};
    if (!json_is_object(jwk) || !json_is_string(json_object_get(jwk, "kty")))
        return false;
    for (size_t i = 0; i < sizeof b64 / sizeof b64[0]; i++) {
        const json_t *v = json_object_get(jwk, b64[i]);
        if (v != NULL && (!json_is_string(v) || !jose_b64url_only(json_string_value(v))))
            return false;
    }
    return true;
}

bool jose_split(const char *s, size_t len, struct jose_parts *out)
{
    memset(out, 0, sizeof *out);
    const char *start = s, *end = s + len;
    for (const char *q = s; q <= end; q++) {
        if (q == end || *q == '.') {
            if (out->count == 5)
                return false;
            out->p[out->count] = start;
            out->n[out->count] = (size_t)(q - start);
            out->count++;
            start = q + 1;
        } else if (!jose_b64url_char(*q)) {
            return false;
        }
    }
    return out->count == 3 || out->count == 5;
}
