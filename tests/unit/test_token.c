/* Unit tests for security/token: the issuers file, JWT verification (TS-0003 §7.3.2.5 step 1: the
 * protection against the issuer's keys and algorithms), the claims of §7.3.2.6 and the content
 * checks of step 2 (holder, validity, audience). Tokens are signed here with cjose and an oct key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjose/cjose.h>
#include <cmocka.h>

#include "security/token.h"

static const struct id_env env = {.spid = "warden.example.com", .cse_id = "/id-in"};
#define KEY_K "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
#define ISSUERS                                                                                                        \
    "{\"issuers\":[{\"id\":\"CAuth\",\"keys\":[{\"kty\":\"oct\",\"k\":\"" KEY_K "\"}],\"algs\":[\"HS256\"]},"          \
    "{\"id\":\"CLax\",\"keys\":[],\"unsecured\":true,\"roles\":false}]}"
#define USER "//warden.example.com/id-in/Cuser"
#define CSE  "//warden.example.com/id-in"

static struct token_issuers *issuers(void)
{
    char err[256];
    struct token_issuers *is = token_issuers_parse(ISSUERS, strlen(ISSUERS), &env, err, sizeof err);
    assert_non_null(is);
    return is;
}

static char *hs256(const char *claims)
{
    cjose_err e;
    char jwk[256];
    snprintf(jwk, sizeof jwk, "{\"kty\":\"oct\",\"k\":\"%s\"}", KEY_K);
    cjose_jwk_t *key = cjose_jwk_import(jwk, strlen(jwk), &e);
    cjose_header_t *h = cjose_header_new(&e);
    cjose_header_set(h, CJOSE_HDR_ALG, CJOSE_HDR_ALG_HS256, &e);
    cjose_jws_t *jws = cjose_jws_sign(key, h, (const uint8_t *)claims, strlen(claims), &e);
    const char *ser;
    assert_true(cjose_jws_export(jws, &ser, &e));
    char *out = strdup(ser);
    cjose_jws_release(jws);
    cjose_header_release(h);
    cjose_jwk_release(key);
    return out;
}

static char *claims(const char *iss, const char *azp, long nbf, long exp, const char *extra)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, "{\"tkvr\":\"1\",\"jti\":\"t1\",\"iss\":\"%s\",\"azp\":\"%s\",\"nbf\":%ld,\"exp\":%ld%s}",
             iss, azp, nbf, exp, extra);
    return buf;
}

static int verify(const struct token_issuers *is, const char *jwt, struct token **t, const char **reason)
{
    char detail[256];
    return token_verify(is, &env, jwt, strlen(jwt), t, reason, detail, sizeof detail);
}

static void test_issuers_file_refusals(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "[]",
        "{\"issuers\":{}}",
        "{\"issuers\":[{\"id\":\"not an id\"}]}",
        "{\"issuers\":[{\"id\":\"CA\"},{\"id\":\"CA\"}]}",                            /* twice */
        "{\"issuers\":[{\"id\":\"CA\",\"algs\":[\"none\"]}]}",                        /* none is not an alg */
        "{\"issuers\":[{\"id\":\"CA\",\"algs\":[\"ECDH-ES\"]}]}",                     /* not offered */
        "{\"issuers\":[{\"id\":\"CA\",\"keys\":[{\"kty\":\"oct\",\"k\":\"a=b\"}]}]}", /* padding inside */
        "{\"issuers\":[{\"id\":\"CA\",\"keys\":[{\"kty\":\"XX\"}]}]}",
        /* finding 5: public-key key management without a JWS algorithm for the nested signature */
        "{\"issuers\":[{\"id\":\"CA\",\"algs\":[\"RSA-OAEP\"]}]}",
        "{\"issuers\":[{\"id\":\"CA\",\"algs\":[\"RSA1_5\",\"dir\",\"A128KW\"]}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        struct token_issuers *is = token_issuers_parse(bad[i], strlen(bad[i]), &env, err, sizeof err);
        assert_null(is);
        assert_true(err[0] != '\0');
    }
    struct token_issuers *is = issuers();
    assert_true(token_issuer_issues_roles(is, "//warden.example.com/id-in/CAuth"));
    assert_false(token_issuer_issues_roles(is, "//warden.example.com/id-in/CLax"));
    assert_false(token_issuer_issues_roles(is, "//warden.example.com/id-in/Cnobody"));
    token_issuers_free(is);
}

static void test_hs256_verified_and_claims_decoded(void **state)
{
    (void)state;
    struct token_issuers *is = issuers();
    char *jwt = hs256(claims("CAuth", "Cuser", 1000, 2000,
                             ",\"aud\":[\"/id-in\"],\"tknm\":\"n\",\"tkps\":{\"pm\":[{\"ris\":[\"cnt1\"],\"pv\":"
                             "{\"acr\":[{\"acor\":[\"Cuser\"],\"acop\":2}]}},{\"rids\":[\"tech\"]}]}"));
    struct token *t;
    const char *reason;
    assert_int_equal(verify(is, jwt, &t, &reason), 0);
    assert_string_equal(t->jti, "t1");
    assert_string_equal(t->iss, "//warden.example.com/id-in/CAuth");
    assert_string_equal(t->holder, USER);
    assert_int_equal(t->naud, 1);
    assert_string_equal(t->aud[0], CSE);
    assert_int_equal(t->npm, 2);
    assert_non_null(t->pm[0].pv);
    assert_true(token_perm_covers(&t->pm[0], "cnt1", NULL));
    assert_false(token_perm_covers(&t->pm[0], "cnt2", "cse-in/cnt2"));
    assert_true(token_perm_covers(&t->pm[1], "anything", NULL)); /* no ris: every resource */
    assert_string_equal(t->pm[1].rids[0], "tech");
    assert_string_equal(t->protection, "JWS HS256");
    /* step 2 */
    assert_true(token_check(t, USER, CSE, 1500, &reason));
    assert_false(token_check(t, USER, CSE, 999, &reason));
    assert_string_equal(reason, "not-yet-valid");
    assert_false(token_check(t, USER, CSE, 2000, &reason));
    assert_string_equal(reason, "expired");
    assert_false(token_check(t, "//warden.example.com/id-in/Cother", CSE, 1500, &reason));
    assert_string_equal(reason, "wrong-holder");
    assert_false(token_check(t, USER, "//warden.example.com/id-mn", 1500, &reason));
    assert_string_equal(reason, "wrong-audience");
    token_free(t);
    free(jwt);
    token_issuers_free(is);
}

static void test_tampered_and_unknown_refused(void **state)
{
    (void)state;
    struct token_issuers *is = issuers();
    char *jwt = hs256(claims("CAuth", "Cuser", 1000, 2000, ""));
    struct token *t = (struct token *)1;
    const char *reason;
    jwt[strlen(jwt) - 2] ^= 1; /* the signature */
    assert_int_equal(verify(is, jwt, &t, &reason), -1);
    assert_null(t);
    assert_string_equal(reason, "bad-signature");
    free(jwt);
    jwt = hs256(claims("CStranger", "Cuser", 1000, 2000, ""));
    assert_int_equal(verify(is, jwt, &t, &reason), -1);
    assert_string_equal(reason, "unknown-issuer");
    free(jwt);
    jwt = hs256(claims("CAuth", "Cuser", 2000, 1000, "")); /* exp before nbf */
    assert_int_equal(verify(is, jwt, &t, &reason), -1);
    assert_string_equal(reason, "bad-claims");
    free(jwt);
    jwt = hs256(claims("CAuth", "Cuser", 1000, 2000, ",\"tkps\":{\"pm\":[{\"pv\":{\"acr\":[]}}]}")); /* pv, no ris */
    assert_int_equal(verify(is, jwt, &t, &reason), -1);
    assert_string_equal(reason, "bad-claims");
    free(jwt);
    static const char *const junk[] = {"", "a", "a.b", "a.b.c.d", "a.b.c.d.e.f", "a+b.c.d", "....", "e30.e30.e30"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        assert_int_equal(verify(is, junk[i], &t, &reason), -1);
        assert_non_null(reason);
    }
    token_issuers_free(is);
}

static void test_unsecured_only_where_permitted(void **state)
{
    (void)state;
    struct token_issuers *is = issuers();
    cjose_err e;
    char *hdr, *body, jwt[1024];
    size_t n;
    const char *h = "{\"alg\":\"none\"}";
    cjose_base64url_encode((const uint8_t *)h, strlen(h), &hdr, &n, &e);
    const char *c = claims("CAuth", "Cuser", 1000, 2000, "");
    cjose_base64url_encode((const uint8_t *)c, strlen(c), &body, &n, &e);
    snprintf(jwt, sizeof jwt, "%s.%s.", hdr, body);
    struct token *t;
    const char *reason;
    assert_int_equal(verify(is, jwt, &t, &reason), -1);
    assert_string_equal(reason, "unsecured-not-permitted");
    free(body);
    c = claims("CLax", "Cuser", 1000, 2000, "");
    cjose_base64url_encode((const uint8_t *)c, strlen(c), &body, &n, &e);
    snprintf(jwt, sizeof jwt, "%s.%s.", hdr, body);
    assert_int_equal(verify(is, jwt, &t, &reason), 0);
    assert_string_equal(t->protection, "none");
    token_free(t);
    snprintf(jwt, sizeof jwt, "%s.%s.c2ln", hdr, body); /* an unsecured JWT carries no signature */
    assert_int_equal(verify(is, jwt, &t, &reason), -1);
    free(hdr);
    free(body);
    token_issuers_free(is);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issuers_file_refusals),
        cmocka_unit_test(test_hs256_verified_and_claims_decoded),
        cmocka_unit_test(test_tampered_and_unknown_refused),
        cmocka_unit_test(test_unsecured_only_where_permitted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
