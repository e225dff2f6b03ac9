/* Unit tests for e2e/esdata (TS-0003 §8.5.3): round trips of every supported algorithm (§8.5.3.2
 * encryption-only, §8.5.3.3 signature-only, §8.5.3.4 nested), modified headers, payloads,
 * signatures, keys, IVs, ciphertexts and tags refused, algorithm confusion and "none" refused, and
 * the keyless syntax check a CSE uses for contentInfo (TS-0004 §6.3.4.2.38). Keys are made here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjose/cjose.h>
#include <cmocka.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "e2e/esdata.h"

#define MSG "{\"t\":21.5,\"u\":\"C\"}"

static struct esdata_key *secret(size_t n, unsigned char fill)
{
    unsigned char k[64];
    memset(k, fill, sizeof k);
    for (size_t i = 0; i < n; i++)
        k[i] = (unsigned char)(k[i] + i);
    struct esdata_key *key = NULL;
    assert_int_equal(esdata_key_secret(k, n, &key), ESDATA_OK);
    return key;
}

static struct esdata_key *from_jwk(cjose_jwk_t *jwk, bool priv)
{
    cjose_err e;
    char *json = cjose_jwk_to_json(jwk, priv, &e);
    assert_non_null(json);
    struct esdata_key *k = NULL;
    assert_int_equal(esdata_key_parse(json, strlen(json), &k), ESDATA_OK);
    cjose_get_dealloc()(json);
    return k;
}

/* An EC key pair on crv: *pub gets the public half alone. */
static struct esdata_key *ec_pair(cjose_jwk_ec_curve crv, struct esdata_key **pub)
{
    cjose_err e;
    cjose_jwk_t *jwk = cjose_jwk_create_EC_random(crv, &e);
    assert_non_null(jwk);
    struct esdata_key *k = from_jwk(jwk, true);
    if (pub)
        *pub = from_jwk(jwk, false);
    cjose_jwk_release(jwk);
    return k;
}

/* A key pair from PEM (GnuTLS-generated): the path applications with openssl-made keys take. */
static struct esdata_key *pem_pair(gnutls_pk_algorithm_t pk, unsigned bits, struct esdata_key **pub)
{
    gnutls_x509_privkey_t x;
    gnutls_privkey_t pk_abs;
    gnutls_pubkey_t pubk;
    gnutls_datum_t pem = {0}, ppem = {0};
    assert_int_equal(gnutls_x509_privkey_init(&x), 0);
    assert_int_equal(gnutls_x509_privkey_generate(x, pk, bits, 0), 0);
    assert_int_equal(gnutls_x509_privkey_export2_pkcs8(x, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &pem), 0);
    struct esdata_key *k = NULL;
    assert_int_equal(esdata_key_parse((const char *)pem.data, pem.size, &k), ESDATA_OK);
    assert_int_equal(gnutls_privkey_init(&pk_abs), 0);
    assert_int_equal(gnutls_privkey_import_x509(pk_abs, x, 0), 0);
    assert_int_equal(gnutls_pubkey_init(&pubk), 0);
    assert_int_equal(gnutls_pubkey_import_privkey(pubk, pk_abs, 0, 0), 0);
    assert_int_equal(gnutls_pubkey_export2(pubk, GNUTLS_X509_FMT_PEM, &ppem), 0);
    assert_int_equal(esdata_key_parse((const char *)ppem.data, ppem.size, pub), ESDATA_OK);
    gnutls_free(pem.data);
    gnutls_free(ppem.data);
    gnutls_pubkey_deinit(pubk);
    gnutls_privkey_deinit(pk_abs);
    gnutls_x509_privkey_deinit(x);
    return k;
}

static struct esdata_key *rsa_pair(struct esdata_key **pub)
{
    static struct esdata_key *priv_c, *pub_c; /* one 2048-bit key for the whole run: generation is slow */
    if (priv_c == NULL)
        priv_c = pem_pair(GNUTLS_PK_RSA, 2048, &pub_c);
    if (pub)
        *pub = pub_c;
    return priv_c;
}

static char *protect(const struct esdata_protect *p)
{
    char *out = NULL;
    assert_int_equal(esdata_protect(p, (const unsigned char *)MSG, strlen(MSG), &out), ESDATA_OK);
    assert_non_null(out);
    return out;
}

static enum esdata_err open_with(const char *env, const struct esdata_policy *p, struct esdata_opened *o)
{
    return esdata_open(env, strlen(env), p, o);
}

static void assert_opens(const char *env, const struct esdata_policy *p)
{
    struct esdata_opened o;
    enum esdata_err e = open_with(env, p, &o);
    if (e != ESDATA_OK)
        fail_msg("open: %s (%s)", esdata_strerror(e), env);
    assert_int_equal(o.len, strlen(MSG));
    assert_memory_equal(o.payload, MSG, o.len);
    esdata_opened_free(&o);
}

static void assert_refused(const char *env, const struct esdata_policy *p, enum esdata_err want)
{
    struct esdata_opened o;
    enum esdata_err e = open_with(env, p, &o);
    if (e != want)
        fail_msg("want %s, got %s", esdata_strerror(want), esdata_strerror(e));
    assert_null(o.payload);
}

/* Replace one character in the middle of part `part` (0-based) of a compact serialisation. */
static char *flip(const char *env, int part)
{
    char *c = strdup(env);
    char *p = c;
    for (int i = 0; i < part; i++)
        p = strchr(p, '.') + 1;
    size_t n = strcspn(p, ".");
    assert_true(n >= 4);
    char *x = p + n / 2;
    *x = *x == 'A' ? 'Q' : 'A';
    return c;
}

/* Replace the protected header by another valid one (alg kept, a kid added). */
static char *new_header(const char *env, const char *json)
{
    cjose_err e;
    char *h = NULL;
    size_t hl = 0;
    assert_true(cjose_base64url_encode((const uint8_t *)json, strlen(json), &h, &hl, &e));
    const char *rest = strchr(env, '.');
    char *out = malloc(hl + strlen(rest) + 1);
    memcpy(out, h, hl);
    strcpy(out + hl, rest);
    cjose_get_dealloc()(h);
    return out;
}

static struct esdata_policy sig_policy(const struct esdata_key *vk)
{
    return (struct esdata_policy){.algs = ESDATA_SIG_ALGS, .encs = ESDATA_ENCS, .verify_key = vk};
}

/* ---- §8.5.3.3 signature-only ------------------------------------------------------------------- */

static void test_ts0003_8_5_3_3_jws_round_trips_every_algorithm(void **state)
{
    (void)state;
    struct esdata_key *pub256, *pub384, *pub521, *rsapub;
    struct esdata_key *k256 = ec_pair(CJOSE_JWK_EC_P_256, &pub256), *k384 = ec_pair(CJOSE_JWK_EC_P_384, &pub384),
                      *k521 = ec_pair(CJOSE_JWK_EC_P_521, &pub521), *rsa = rsa_pair(&rsapub);
    struct esdata_key *h32 = secret(32, 1), *h48 = secret(48, 2), *h64 = secret(64, 3);
    const struct {
        enum esdata_alg a;
        struct esdata_key *sk, *vk;
    } cases[] = {{ESDATA_ES256, k256, pub256}, {ESDATA_ES384, k384, pub384}, {ESDATA_ES512, k521, pub521},
                 {ESDATA_RS256, rsa, rsapub},  {ESDATA_RS512, rsa, rsapub},  {ESDATA_PS256, rsa, rsapub},
                 {ESDATA_HS256, h32, h32},     {ESDATA_HS384, h48, h48},     {ESDATA_HS512, h64, h64}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct esdata_protect p = {.sign_alg = cases[i].a, .sign_key = cases[i].sk, .sign_kid = "k1"};
        char *env = protect(&p);
        assert_int_equal(esdata_compact_kind(env, strlen(env)), 3);
        struct esdata_policy pol = sig_policy(cases[i].vk);
        struct esdata_opened o;
        assert_int_equal(open_with(env, &pol, &o), ESDATA_OK);
        assert_int_equal(o.sign_alg, cases[i].a);
        assert_int_equal(o.key_alg, 0);
        esdata_opened_free(&o);
        free(env);
    }
    esdata_key_free(k256), esdata_key_free(pub256), esdata_key_free(k384), esdata_key_free(pub384);
    esdata_key_free(k521), esdata_key_free(pub521), esdata_key_free(h32), esdata_key_free(h48), esdata_key_free(h64);
}

static void test_ts0003_8_5_3_3_pem_ec_key_and_certificate_verify(void **state)
{
    (void)state;
    struct esdata_key *pub, *k = pem_pair(GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), &pub);
    struct esdata_protect p = {.sign_alg = ESDATA_ES256, .sign_key = k};
    char *env = protect(&p);
    struct esdata_policy pol = sig_policy(pub);
    assert_opens(env, &pol);
    free(env);
    esdata_key_free(k);
    esdata_key_free(pub);
}

static void test_ts0003_8_5_3_3_jws_tampered_header_payload_signature_refused(void **state)
{
    (void)state;
    struct esdata_key *pub, *k = ec_pair(CJOSE_JWK_EC_P_256, &pub), *h = secret(32, 9);
    struct esdata_key *keys[][2] = {{k, pub}, {h, h}};
    enum esdata_alg alg[] = {ESDATA_ES256, ESDATA_HS256};
    for (int i = 0; i < 2; i++) {
        struct esdata_protect p = {.sign_alg = alg[i], .sign_key = keys[i][0]};
        char *env = protect(&p);
        struct esdata_policy pol = sig_policy(keys[i][1]);
        assert_opens(env, &pol);
        char hdr[64];
        snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\",\"kid\":\"x\"}", esdata_alg_name(alg[i]));
        char *t0 = new_header(env, hdr), *t1 = flip(env, 1), *t2 = flip(env, 2);
        assert_refused(t0, &pol, ESDATA_E_BAD_SIGNATURE);
        assert_refused(t1, &pol, ESDATA_E_BAD_SIGNATURE);
        assert_refused(t2, &pol, ESDATA_E_BAD_SIGNATURE);
        /* a signature cut short never reaches cjose */
        char *cut = strdup(env);
        cut[strlen(cut) - 4] = '\0';
        assert_refused(cut, &pol, ESDATA_E_BAD_SIGNATURE);
        free(t0), free(t1), free(t2), free(cut), free(env);
    }
    esdata_key_free(k), esdata_key_free(pub), esdata_key_free(h);
}

static void test_ts0003_8_5_3_3_wrong_key_refused(void **state)
{
    (void)state;
    struct esdata_key *pub, *k = ec_pair(CJOSE_JWK_EC_P_256, &pub), *other_pub,
                            *other = ec_pair(CJOSE_JWK_EC_P_256, &other_pub);
    struct esdata_key *h1 = secret(32, 1), *h2 = secret(32, 2);
    struct esdata_protect p = {.sign_alg = ESDATA_ES256, .sign_key = k};
    char *env = protect(&p);
    struct esdata_policy pol = sig_policy(other_pub);
    assert_refused(env, &pol, ESDATA_E_BAD_SIGNATURE);
    free(env);
    p = (struct esdata_protect){.sign_alg = ESDATA_HS256, .sign_key = h1};
    env = protect(&p);
    pol = sig_policy(h2);
    assert_refused(env, &pol, ESDATA_E_BAD_SIGNATURE);
    pol.verify_key = NULL;
    assert_refused(env, &pol, ESDATA_E_NO_KEY);
    free(env);
    esdata_key_free(k), esdata_key_free(pub), esdata_key_free(other), esdata_key_free(other_pub);
    esdata_key_free(h1), esdata_key_free(h2);
}

/* RFC 8725 §2.1/§3.1: an HS256 "signature" made with the verifier's public key as the HMAC secret
 * is never checked with that public key; nor an ES256 one with a secret or another curve. */
static void test_ts0003_8_5_3_3_alg_confusion_refused(void **state)
{
    (void)state;
    struct esdata_key *pub, *k = ec_pair(CJOSE_JWK_EC_P_256, &pub), *pub384,
                            *k384 = ec_pair(CJOSE_JWK_EC_P_384, &pub384);
    struct esdata_key *rsapub, *h = secret(32, 5);
    rsa_pair(&rsapub);
    struct esdata_protect p = {.sign_alg = ESDATA_HS256, .sign_key = h};
    char *hs = protect(&p);
    struct esdata_policy pol = sig_policy(pub);
    assert_refused(hs, &pol, ESDATA_E_KEY_MISMATCH);
    pol.verify_key = rsapub;
    assert_refused(hs, &pol, ESDATA_E_KEY_MISMATCH);
    p = (struct esdata_protect){.sign_alg = ESDATA_ES256, .sign_key = k};
    char *es = protect(&p);
    pol.verify_key = h;
    assert_refused(es, &pol, ESDATA_E_KEY_MISMATCH);
    pol.verify_key = pub384;
    assert_refused(es, &pol, ESDATA_E_KEY_MISMATCH);
    pol.verify_key = rsapub;
    assert_refused(es, &pol, ESDATA_E_KEY_MISMATCH);
    /* the caller's allow-list wins even with a key that fits */
    pol = (struct esdata_policy){.algs = ESDATA_ES256, .encs = ESDATA_ENCS, .verify_key = h};
    assert_refused(hs, &pol, ESDATA_E_ALG);
    pol = (struct esdata_policy){.algs = ESDATA_HMAC_ALGS, .encs = ESDATA_ENCS, .verify_key = pub};
    assert_refused(es, &pol, ESDATA_E_ALG);
    /* producing with a key that does not fit is refused too */
    char *out = NULL;
    p = (struct esdata_protect){.sign_alg = ESDATA_ES384, .sign_key = k};
    assert_int_equal(esdata_protect(&p, (const unsigned char *)"x", 1, &out), ESDATA_E_KEY_MISMATCH);
    p = (struct esdata_protect){.sign_alg = ESDATA_HS512, .sign_key = h}; /* 256-bit key: too short */
    assert_int_equal(esdata_protect(&p, (const unsigned char *)"x", 1, &out), ESDATA_E_KEY_MISMATCH);
    free(hs), free(es);
    esdata_key_free(k), esdata_key_free(pub), esdata_key_free(k384), esdata_key_free(pub384), esdata_key_free(h);
}

static void test_ts0003_8_5_3_3_none_and_unknown_algs_refused(void **state)
{
    (void)state;
    struct esdata_key *h = secret(32, 5);
    struct esdata_protect p = {.sign_alg = ESDATA_HS256, .sign_key = h};
    char *env = protect(&p);
    struct esdata_policy pol = {.algs = 0xffffffffu, .encs = ESDATA_ENCS, .verify_key = h};
    const char *bad[] = {"{\"alg\":\"none\"}",
                         "{\"alg\":\"None\"}",
                         "{\"alg\":\"NONE\"}",
                         "{\"alg\":\"HS257\"}",
                         "{\"alg\":\"RSA-OAEP-256\"}",
                         "{\"alg\":\"ECDH-ES+A128KW\"}",
                         "{\"alg\":\"ECDH-ES\"}",
                         "{\"alg\":1}",
                         "{}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *t = new_header(env, bad[i]);
        assert_refused(t, &pol, ESDATA_E_ALG);
        /* and the unsecured form, with an empty signature */
        *strrchr(t, '.') = '\0';
        strcat(t, ".");
        assert_refused(t, &pol, ESDATA_E_ALG);
        free(t);
    }
    const char *unsup[] = {"{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}", "{\"alg\":\"HS256\",\"b64\":false}"};
    for (size_t i = 0; i < sizeof unsup / sizeof unsup[0]; i++) {
        char *t = new_header(env, unsup[i]);
        assert_refused(t, &pol, ESDATA_E_UNSUPPORTED);
        free(t);
    }
    assert_null(esdata_alg_name(0));
    assert_int_equal(esdata_alg_from_name("none"), 0);
    free(env);
    esdata_key_free(h);
}

/* ---- §8.5.3.2 encryption-only ------------------------------------------------------------------ */

static struct esdata_policy enc_policy(const struct esdata_key *dk)
{
    return (struct esdata_policy){.algs = ESDATA_KEY_ALGS, .encs = ESDATA_ENCS, .decrypt_key = dk};
}

static void test_ts0003_8_5_3_2_jwe_round_trips_every_algorithm(void **state)
{
    (void)state;
    struct esdata_key *k16 = secret(16, 1), *k24 = secret(24, 2), *k32 = secret(32, 3);
    struct esdata_key *rsapub, *rsa = rsa_pair(&rsapub);
    const struct {
        enum esdata_alg a;
        enum esdata_enc e;
        struct esdata_key *ek, *dk;
    } cases[] = {
        {ESDATA_DIR, ESDATA_A128GCM, k16, k16},         {ESDATA_DIR, ESDATA_A192GCM, k24, k24},
        {ESDATA_DIR, ESDATA_A256GCM, k32, k32},         {ESDATA_A128KW, ESDATA_A128GCM, k16, k16},
        {ESDATA_A128KW, ESDATA_A256GCM, k16, k16},      {ESDATA_A192KW, ESDATA_A192GCM, k24, k24},
        {ESDATA_A256KW, ESDATA_A128GCM, k32, k32},      {ESDATA_A256KW, ESDATA_A256GCM, k32, k32},
        {ESDATA_RSA_OAEP, ESDATA_A256GCM, rsapub, rsa},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int json = 0; json < 2; json++) {
            struct esdata_protect p = {.key_alg = cases[i].a, .enc = cases[i].e, .enc_key = cases[i].ek, .json = json};
            char *env = protect(&p);
            assert_int_equal(esdata_compact_kind(env, strlen(env)), json ? 0 : 5);
            assert_int_equal(esdata_json_shape_ok(env, strlen(env)), json);
            struct esdata_policy pol = enc_policy(cases[i].dk);
            struct esdata_opened o;
            enum esdata_err e = open_with(env, &pol, &o);
            if (e != ESDATA_OK)
                fail_msg("%s %s json=%d: %s", esdata_alg_name(cases[i].a), esdata_enc_name(cases[i].e), json,
                         esdata_strerror(e));
            assert_memory_equal(o.payload, MSG, strlen(MSG));
            assert_int_equal(o.key_alg, cases[i].a);
            assert_int_equal(o.enc, cases[i].e);
            assert_int_equal(o.sign_alg, 0);
            assert_int_equal(o.json, json);
            esdata_opened_free(&o);
            /* encryption only proves no origin: refused when a signature is required */
            pol.require_signature = true;
            assert_refused(env, &pol, ESDATA_E_UNSIGNED);
            free(env);
        }
    }
    esdata_key_free(k16), esdata_key_free(k24), esdata_key_free(k32);
}

static void test_ts0003_8_5_3_2_jwe_tampered_parts_refused(void **state)
{
    (void)state;
    struct esdata_key *k = secret(32, 7);
    enum esdata_alg algs[] = {ESDATA_DIR, ESDATA_A256KW};
    for (int a = 0; a < 2; a++) {
        struct esdata_protect p = {.key_alg = algs[a], .enc = ESDATA_A256GCM, .enc_key = k};
        char *env = protect(&p);
        struct esdata_policy pol = enc_policy(k);
        assert_opens(env, &pol);
        char hdr[80];
        snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\",\"enc\":\"A256GCM\",\"kid\":\"x\"}", esdata_alg_name(algs[a]));
        char *t = new_header(env, hdr);
        assert_refused(t, &pol, ESDATA_E_DECRYPT); /* the header is the AAD */
        free(t);
        for (int part = algs[a] == ESDATA_DIR ? 2 : 1; part < 5; part++) {
            t = flip(env, part);
            assert_refused(t, &pol, ESDATA_E_DECRYPT);
            free(t);
        }
        /* a tag cut to 12 bytes (CVE-2023-37464's shape) or an IV of another length never reach cjose */
        char *cut = strdup(env);
        cut[strlen(cut) - 6] = '\0';
        assert_refused(cut, &pol, ESDATA_E_SYNTAX);
        free(cut);
        free(env);
    }
    esdata_key_free(k);
}

static void test_ts0003_8_5_3_2_jwe_wrong_key_and_key_confusion_refused(void **state)
{
    (void)state;
    struct esdata_key *k = secret(32, 7), *other = secret(32, 8), *k16 = secret(16, 1);
    struct esdata_protect p = {.key_alg = ESDATA_A256KW, .enc = ESDATA_A256GCM, .enc_key = k};
    char *env = protect(&p);
    struct esdata_policy pol = enc_policy(other);
    assert_refused(env, &pol, ESDATA_E_DECRYPT);
    pol.decrypt_key = k16; /* A256KW needs 256 bits */
    assert_refused(env, &pol, ESDATA_E_KEY_MISMATCH);
    pol.decrypt_key = NULL;
    assert_refused(env, &pol, ESDATA_E_NO_KEY);
    pol = (struct esdata_policy){.algs = ESDATA_DIR, .encs = ESDATA_ENCS, .decrypt_key = k};
    assert_refused(env, &pol, ESDATA_E_ALG);
    pol = (struct esdata_policy){.algs = ESDATA_A256KW, .encs = ESDATA_A128GCM, .decrypt_key = k};
    assert_refused(env, &pol, ESDATA_E_ALG);
    /* a JWE header with zip, or an alg name cjose lacks */
    char *t = new_header(env, "{\"alg\":\"A256KW\",\"enc\":\"A256GCM\",\"zip\":\"DEF\"}");
    pol = enc_policy(k);
    assert_refused(t, &pol, ESDATA_E_UNSUPPORTED);
    free(t);
    t = new_header(env, "{\"alg\":\"RSA-OAEP-256\",\"enc\":\"A256GCM\"}");
    assert_refused(t, &pol, ESDATA_E_ALG);
    free(t);
    t = new_header(env, "{\"alg\":\"A256KW\",\"enc\":\"A256CBC-HS512\"}");
    assert_refused(t, &pol, ESDATA_E_ALG);
    free(t);
    free(env);
    esdata_key_free(k), esdata_key_free(other), esdata_key_free(k16);
}

static void test_ts0003_8_5_3_2_jwe_json_unprotected_header_refused(void **state)
{
    (void)state;
    struct esdata_key *k = secret(32, 7);
    struct esdata_protect p = {.key_alg = ESDATA_A256KW, .enc = ESDATA_A256GCM, .enc_key = k, .json = true};
    char *env = protect(&p);
    struct esdata_policy pol = enc_policy(k);
    assert_opens(env, &pol);
    char *j = malloc(strlen(env) + 64);
    sprintf(j, "{\"unprotected\":{\"alg\":\"dir\"},%s", env + 1);
    assert_refused(j, &pol, ESDATA_E_UNSUPPORTED);
    char *tag = strstr(env, "\"tag\": \""); /* cjose's layout */
    assert_non_null(tag);
    strcpy(j, env);
    char *x = j + (tag - env) + 16; /* a modified tag */
    *x = *x == 'A' ? 'Q' : 'A';
    assert_refused(j, &pol, ESDATA_E_DECRYPT);
    /* the general serialisation with two recipients is refused (one key, one reader) */
    sprintf(j, "{\"recipients\":[{},{}],%s", env + 1);
    assert_refused(j, &pol, ESDATA_E_SYNTAX);
    free(j);
    free(env);
    esdata_key_free(k);
}

/* ---- §8.5.3.4 nested sign-then-encrypt --------------------------------------------------------- */

static void test_ts0003_8_5_3_4_nested_round_trip_and_tamper(void **state)
{
    (void)state;
    struct esdata_key *pub, *sk = ec_pair(CJOSE_JWK_EC_P_256, &pub), *rsapub, *rsa = rsa_pair(&rsapub);
    struct esdata_key *k = secret(32, 4);
    const struct {
        enum esdata_alg s, a;
        struct esdata_key *sk, *vk;
    } cases[] = {{ESDATA_ES256, ESDATA_A256KW, sk, pub}, {ESDATA_RS256, ESDATA_DIR, rsa, rsapub}};
    for (size_t i = 0; i < 2; i++) {
        struct esdata_protect p = {.sign_alg = cases[i].s,
                                   .sign_key = cases[i].sk,
                                   .key_alg = cases[i].a,
                                   .enc = ESDATA_A256GCM,
                                   .enc_key = k};
        char *env = protect(&p);
        assert_int_equal(esdata_compact_kind(env, strlen(env)), 5);
        struct esdata_policy pol = {.algs = ESDATA_SIG_ALGS | ESDATA_KEY_ALGS,
                                    .encs = ESDATA_ENCS,
                                    .verify_key = cases[i].vk,
                                    .decrypt_key = k,
                                    .require_signature = true};
        struct esdata_opened o;
        assert_int_equal(open_with(env, &pol, &o), ESDATA_OK);
        assert_memory_equal(o.payload, MSG, strlen(MSG));
        assert_int_equal(o.sign_alg, cases[i].s);
        assert_int_equal(o.key_alg, cases[i].a);
        esdata_opened_free(&o);
        pol.verify_key = NULL;
        assert_refused(env, &pol, ESDATA_E_NO_KEY);
        pol.verify_key = cases[i].vk;
        char *t = flip(env, 3);
        assert_refused(t, &pol, ESDATA_E_DECRYPT);
        free(t);
        free(env);
    }
    /* §8.5.2.4: the inner signature is a certificate's (asymmetric): never an HMAC */
    struct esdata_protect p = {
        .sign_alg = ESDATA_HS256, .sign_key = k, .key_alg = ESDATA_DIR, .enc = ESDATA_A256GCM, .enc_key = k};
    char *out = NULL;
    assert_int_equal(esdata_protect(&p, (const unsigned char *)"x", 1, &out), ESDATA_E_UNSIGNED);
    /* built by hand: an HS256 JWS inside a JWE announced as nested */
    struct esdata_protect ps = {.sign_alg = ESDATA_HS256, .sign_key = k};
    char *inner = protect(&ps);
    cjose_err ce;
    cjose_jwk_t *jk = cjose_jwk_create_oct_spec((const uint8_t *)"0123456789abcdef0123456789abcdef", 32, &ce);
    cjose_header_t *h = cjose_header_new(&ce);
    cjose_header_set(h, CJOSE_HDR_ALG, "dir", &ce);
    cjose_header_set(h, CJOSE_HDR_ENC, "A256GCM", &ce);
    cjose_header_set(h, CJOSE_HDR_CTY, "JOSE", &ce);
    cjose_jwe_t *jwe = cjose_jwe_encrypt(jk, h, (const uint8_t *)inner, strlen(inner), &ce);
    char *env = cjose_jwe_export(jwe, &ce);
    struct esdata_key *dk = NULL;
    assert_int_equal(esdata_key_secret((const unsigned char *)"0123456789abcdef0123456789abcdef", 32, &dk), ESDATA_OK);
    struct esdata_policy pol = {
        .algs = ESDATA_SIG_ALGS | ESDATA_KEY_ALGS, .encs = ESDATA_ENCS, .verify_key = k, .decrypt_key = dk};
    assert_refused(env, &pol, ESDATA_E_UNSIGNED);
    cjose_get_dealloc()(env);
    cjose_jwe_release(jwe);
    cjose_header_release(h);
    cjose_jwk_release(jk);
    free(inner);
    esdata_key_free(dk), esdata_key_free(sk), esdata_key_free(pub), esdata_key_free(k);
}

/* ---- syntax and bounds ------------------------------------------------------------------------- */

static void test_ts0004_6_3_4_2_38_compact_syntax_check(void **state)
{
    (void)state;
    struct esdata_key *k = secret(32, 4);
    struct esdata_protect p = {.sign_alg = ESDATA_HS256, .sign_key = k};
    char *jws = protect(&p);
    assert_int_equal(esdata_compact_kind(jws, strlen(jws)), 3);
    const char *bad[] = {"",
                         "x",
                         "a.b",
                         "a.b.c.d",
                         "a.b.c.d.e.f",
                         "eyJhbGciOiJIUzI1NiJ9.e30=.c2ln",
                         "a b.c.d",
                         "e30.e30.e30" /* {} has no alg */,
                         "..",
                         "...."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(esdata_compact_kind(bad[i], strlen(bad[i])), 0);
    assert_true(esdata_json_shape_ok("{\"payload\":\"e30\",\"signatures\":[]}", 33));
    assert_false(esdata_json_shape_ok("{\"x\":1}", 7));
    assert_false(esdata_json_shape_ok("[]", 2));
    free(jws);
    esdata_key_free(k);
}

static void test_ts0003_8_5_open_is_bounded_and_rejects_syntax(void **state)
{
    (void)state;
    struct esdata_key *k = secret(32, 4);
    struct esdata_protect p = {.sign_alg = ESDATA_HS256, .sign_key = k};
    char *jws = protect(&p);
    struct esdata_policy pol = sig_policy(k);
    pol.max_len = strlen(jws) - 1;
    assert_refused(jws, &pol, ESDATA_E_TOO_LARGE);
    pol.max_len = 0;
    const char *bad[] = {"", "a.b", "a.b.c.d", "a=.b.c", "{", "{\"payload\":\"e30\",\"signature\":\"x\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct esdata_opened o;
        assert_int_not_equal(esdata_open(bad[i], strlen(bad[i]), &pol, &o), ESDATA_OK);
    }
    struct esdata_key *kk = NULL;
    assert_int_equal(esdata_key_parse("{\"kty\":\"oct\",\"k\":\"a=b\"}", 24, &kk), ESDATA_E_KEY_FORMAT);
    assert_int_equal(esdata_key_parse("-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----\n", 56, &kk),
                     ESDATA_E_KEY_FORMAT);
    assert_int_equal(esdata_key_parse("abc", 3, &kk), ESDATA_E_KEY_FORMAT);
    const char *hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
    assert_int_equal(esdata_key_parse(hex, strlen(hex), &kk), ESDATA_OK);
    esdata_key_free(kk);
    free(jws);
    esdata_key_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ts0003_8_5_3_3_jws_round_trips_every_algorithm),
        cmocka_unit_test(test_ts0003_8_5_3_3_pem_ec_key_and_certificate_verify),
        cmocka_unit_test(test_ts0003_8_5_3_3_jws_tampered_header_payload_signature_refused),
        cmocka_unit_test(test_ts0003_8_5_3_3_wrong_key_refused),
        cmocka_unit_test(test_ts0003_8_5_3_3_alg_confusion_refused),
        cmocka_unit_test(test_ts0003_8_5_3_3_none_and_unknown_algs_refused),
        cmocka_unit_test(test_ts0003_8_5_3_2_jwe_round_trips_every_algorithm),
        cmocka_unit_test(test_ts0003_8_5_3_2_jwe_tampered_parts_refused),
        cmocka_unit_test(test_ts0003_8_5_3_2_jwe_wrong_key_and_key_confusion_refused),
        cmocka_unit_test(test_ts0003_8_5_3_2_jwe_json_unprotected_header_refused),
        cmocka_unit_test(test_ts0003_8_5_3_4_nested_round_trip_and_tamper),
        cmocka_unit_test(test_ts0004_6_3_4_2_38_compact_syntax_check),
        cmocka_unit_test(test_ts0003_8_5_open_is_bounded_and_rejects_syntax),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
