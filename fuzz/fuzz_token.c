/* fuzz_token: token parsing and verification (security/token.h) as a peer reaches it: a compact
 * JWS/JWE from the Authorization header, tkns, or a stored <token>'s tkob, verified against fixed
 * Authorization Authorities (the keys of the committed seeds, so signed seeds reach the claims
 * code). An input starting with '{' is parsed as an issuers file instead. Invariants: a verified
 * token has a configured issuer, a holder and exp after nbf, and a refusal always has a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/id.h"
#include "security/token.h"

static const struct id_env env = {.spid = "warden.example.com", .cse_id = "/id-in"};

static const char issuers_json[] =
    "{\"issuers\": [{\"id\": \"CAuth\", \"keys\": [{\"k\": \"h6WrYhMouprqRzCicxciOwakX0JqhS-Xt29BK0lPUlM\", \"kid\": "
    "\"hs1\", \"kty\": \"oct\"}, {\"crv\": \"P-256\", \"kid\": \"ec1\", \"kty\": \"EC\", \"x\": "
    "\"3btPBu0Dd6vEyYZFsZ2rgFMgT6VTGk3ER6EwTNWczWY\", \"y\": \"4zKe1Px9CK6dSyFe36ngR9agRrBdGULfNTKCzmrISxk\"}, {\"k\": "
    "\"UV6_VF1hj0VQTytrvFmGBZ8FO-copqiwNcU3Hh8DyYQ\", \"kid\": \"kw1\", \"kty\": \"oct\"}]}, {\"id\": \"CLax\", "
    "\"keys\": [], \"unsecured\": true}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct token_issuers *is;
    char err[256];
    if (is == NULL && (is = token_issuers_parse(issuers_json, strlen(issuers_json), &env, err, sizeof err)) == NULL)
        abort();
    if (size > 0 && data[0] == '{') {
        struct token_issuers *other = token_issuers_parse((const char *)data, size, &env, err, sizeof err);
        if (other == NULL && err[0] == '\0')
            abort();
        token_issuers_free(other);
        return 0;
    }
    struct token *t = NULL;
    const char *reason = NULL;
    char detail[256];
    if (token_verify(is, &env, (const char *)data, size, &t, &reason, detail, sizeof detail) == 0) {
        if (t == NULL || t->holder == NULL || t->jti == NULL || t->exp <= t->nbf ||
            (strcmp(t->iss, "//warden.example.com/id-in/CAuth") != 0 &&
             strcmp(t->iss, "//warden.example.com/id-in/CLax") != 0))
            abort();
        const char *why;
        (void)token_check(t, t->holder, "//warden.example.com/id-in", t->nbf, &why);
        for (int i = 0; i < t->npm; i++)
            (void)token_perm_covers(&t->pm[i], "cnt1", "cse-in/cnt1");
        token_free(t);
    } else if (t != NULL || reason == NULL) {
        abort();
    }
    return 0;
}
