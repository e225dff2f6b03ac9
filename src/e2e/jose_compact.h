/* jose_compact: the shape of a JWS or JWE compact serialisation (RFC 7515 §7.1, RFC 7516 §7.1),
 * checked before cjose sees it: tokens (security/token.c), ESData (e2e/esdata.c) and ESPrim objects
 * (e2e/esprim_obj.c) all split their input here. Part of the warden_esdata library (no CSE code). */
#ifndef WARDEN_E2E_JOSE_COMPACT_H
#define WARDEN_E2E_JOSE_COMPACT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* The dot-separated parts: starts (into the caller's text) and lengths. */
struct jose_parts {
    const char *p[5];
    size_t n[5];
    int count;
};

/* A base64url character (RFC 4648 §5, no padding). */
bool jose_b64url_char(char c);
/* A string of base64url characters only (the empty string included). */
bool jose_b64url_only(const char *s);
/* A JWK object whose kty is a string and whose base64url members are base64url strings: cjose 0.6.2
 * aborts on some malformed key members (a '=' inside base64url), so tokens and ESData check them
 * here first. */
bool jose_jwk_members_ok(const json_t *jwk);

/* Split s (len bytes, no NUL needed) into 3 (JWS) or 5 (JWE) parts of base64url characters; false on
 * any other character or count (empty parts are allowed: the JWE encrypted key of "dir"). */
bool jose_split(const char *s, size_t len, struct jose_parts *out);

#endif
