/* content_security: contentInfo's contentSecurity against the content (see content_security.h). */
#include "e2e/content_security.h"

#include <stdbool.h>
#include <string.h>

#include "core/request.h"
#include "core/rsc.h"
#include "e2e/esdata.h"
#include "encoding/json.h"
#include "util/mem.h"

/* The m2m:contentSecurity of an m2m:contentInfo "type/subtype:encoding[:security]" (TS-0004 Table
 * 6.3.3-1; already validated as AT_CONTENTINFO): 0 when absent. */
static int security_of(const char *cnf)
{
    const char *c1 = strchr(cnf, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    return c2 && c2[1] >= '0' && c2[1] <= '9' ? c2[1] - '0' : 0;
}

/* RFC 4648 §4 base64 with its padding, as a transfer encoding is written. */
static bool base64_ok(const char *s, size_t n)
{
    if (n == 0 || n % 4)
        return false;
    size_t pad = s[n - 1] == '=' ? (s[n - 2] == '=' ? 2 : 1) : 0;
    for (size_t i = 0; i < n - pad; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/'))
            return false;
    }
    return true;
}

static int refuse(struct cse_response *rsp, int sec, const char *what)
{
    return response_error(rsp, RSC_BAD_REQUEST, "bad-content-security",
                          "contentInfo says contentSecurity %d (TS-0004 §6.3.4.2.38): content must be %s", sec, what);
}

int content_security_check(const json_t *cnf, const json_t *con, struct cse_response *rsp)
{
    const char *c = json_string_value(cnf);
    int sec = c ? security_of(c) : 0;
    if (sec == 0 || con == NULL)
        return 0;
    const char *s = json_string_value(con);
    size_t n = s ? json_string_length(con) : 0;
    switch (sec) {
    case 1:
        if (s == NULL || esdata_compact_kind(s, n) == 0)
            return refuse(rsp, sec,
                          "a JWS or JWE compact serialisation (3 or 5 base64url parts, a protected header with "
                          "alg)");
        return 0;
    case 2: {
        bool ok;
        if (s) {
            ok = esdata_json_shape_ok(s, n);
        } else {
            size_t len = 0;
            char *enc = json_is_object(con) ? json_encode(con, &len) : NULL;
            ok = enc && esdata_json_shape_ok(enc, len);
            mem_free(enc);
        }
        return ok ? 0
                  : refuse(rsp, sec,
                           "a JWS or JWE JSON serialisation (an object with ciphertext, or payload and signature)");
    }
    case 3:
    case 5: return s && base64_ok(s, n) ? 0 : refuse(rsp, sec, "a base64 string");
    default: return s && n > 0 ? 0 : refuse(rsp, sec, "a non-empty string (an XML document)");
    }
}
