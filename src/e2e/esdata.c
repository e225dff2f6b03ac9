/* esdata: ESData envelopes in JOSE (see esdata.h; TS-0003 §8.5.3). The cryptography is cjose's;
 * this file decides what is acceptable before cjose sees it: cjose 0.6.2 trusts the lengths of a
 * JWE's parts and verifies whatever alg a header names with whatever key it is given. */
#include "e2e/esdata.h"

#include <cjose/cjose.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "e2e/jose_compact.h"

struct esdata_key {
    cjose_jwk_t *jwk;
};

static const char *const err_text[] = {
    [ESDATA_OK] = "ok",
    [ESDATA_E_ARG] = "bad argument",
    [ESDATA_E_TOO_LARGE] = "the envelope is larger than allowed",
    [ESDATA_E_SYNTAX] = "not a JWS or JWE serialisation (parts, base64url, header or lengths)",
    [ESDATA_E_ALG] = "algorithm not allowed (or none, or unknown)",
    [ESDATA_E_UNSUPPORTED] = "a JOSE header parameter that is not supported (crit, zip, b64)",
    [ESDATA_E_KEY_FORMAT] = "the key is not a JWK, PEM key or certificate, or hex secret",
    [ESDATA_E_KEY_MISMATCH] = "the key does not fit the algorithm",
    [ESDATA_E_NO_KEY] = "the envelope needs a key that was not given",
    [ESDATA_E_BAD_SIGNATURE] = "the signature does not verify (tampered, or another key)",
    [ESDATA_E_DECRYPT] = "decryption failed (tampered, or another key)",
    [ESDATA_E_UNSIGNED] = "a signature by a private key is required and absent",
    [ESDATA_E_INTERNAL] = "internal error (memory or crypto library)",
};

const char *esdata_strerror(enum esdata_err e)
{
    return (unsigned)e < sizeof err_text / sizeof err_text[0] ? err_text[e] : "unknown error";
}

/* ---- algorithm table ------------------------------------------------------------------------------ */

enum kind { K_HMAC, K_RSA_SIG, K_EC_SIG, K_OCT_WRAP, K_RSA_WRAP };

static const struct alg_info {
    enum esdata_alg a;
    const char *name;
    enum kind kind;
    unsigned bits; /* HMAC: minimum key bits (RFC 7518 §3.2) and tag bits; EC: curve bits; KW: key bits */
} algs[] = {
    {ESDATA_HS256, "HS256", K_HMAC, 256},         {ESDATA_HS384, "HS384", K_HMAC, 384},
    {ESDATA_HS512, "HS512", K_HMAC, 512},         {ESDATA_RS256, "RS256", K_RSA_SIG, 0},
    {ESDATA_RS384, "RS384", K_RSA_SIG, 0},        {ESDATA_RS512, "RS512", K_RSA_SIG, 0},
    {ESDATA_PS256, "PS256", K_RSA_SIG, 0},        {ESDATA_PS384, "PS384", K_RSA_SIG, 0},
    {ESDATA_PS512, "PS512", K_RSA_SIG, 0},        {ESDATA_ES256, "ES256", K_EC_SIG, 256},
    {ESDATA_ES384, "ES384", K_EC_SIG, 384},       {ESDATA_ES512, "ES512", K_EC_SIG, 521},
    {ESDATA_DIR, "dir", K_OCT_WRAP, 0},           {ESDATA_A128KW, "A128KW", K_OCT_WRAP, 128},
    {ESDATA_A192KW, "A192KW", K_OCT_WRAP, 192},   {ESDATA_A256KW, "A256KW", K_OCT_WRAP, 256},
    {ESDATA_RSA_OAEP, "RSA-OAEP", K_RSA_WRAP, 0},
};

static const struct enc_info {
    enum esdata_enc e;
    const char *name;
    unsigned bits;
} encs[] = {{ESDATA_A128GCM, "A128GCM", 128}, {ESDATA_A192GCM, "A192GCM", 192}, {ESDATA_A256GCM, "A256GCM", 256}};

enum { RSA_MIN_BITS = 2048, GCM_IV = 12, GCM_TAG = 16 };

/* The two lookups of a table of algorithms (RFC 7518 §3.1, §4.1, §5.1): by value and by its "alg" or
 * "enc" name (NULL for none). */
#define TABLE_LOOKUPS(type, tab, value_t, value, by_value, by_name)                                                    \
    static const type *by_value(value_t v)                                                                             \
    {                                                                                                                  \
        for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)                                                        \
            if (tab[i].value == v)                                                                                     \
                return &tab[i];                                                                                        \
        return NULL;                                                                                                   \
    }                                                                                                                  \
    static const type *by_name(const char *name)                                                                       \
    {                                                                                                                  \
        for (size_t i = 0; name && i < sizeof tab / sizeof tab[0]; i++)                                                \
            if (strcmp(tab[i].name, name) == 0)                                                                        \
                return &tab[i];                                                                                        \
        return NULL;                                                                                                   \
    }

TABLE_LOOKUPS(struct alg_info, algs, enum esdata_alg, a, alg_find, alg_named)
TABLE_LOOKUPS(struct enc_info, encs, enum esdata_enc, e, enc_find, enc_named)

const char *esdata_alg_name(enum esdata_alg a)
{
    const struct alg_info *i = alg_find(a);
    return i ? i->name : NULL;
}

enum esdata_alg esdata_alg_from_name(const char *name)
{
    const struct alg_info *i = alg_named(name);
    return i ? i->a : 0;
}

const char *esdata_enc_name(enum esdata_enc e)
{
    const struct enc_info *i = enc_find(e);
    return i ? i->name : NULL;
}

enum esdata_enc esdata_enc_from_name(const char *name)
{
    const struct enc_info *i = enc_named(name);
    return i ? i->e : 0;
}

static bool is_sig(const struct alg_info *a)
{
    return a->kind == K_HMAC || a->kind == K_RSA_SIG || a->kind == K_EC_SIG;
}

static unsigned curve_bits(const cjose_jwk_t *jwk)
{
    cjose_err cerr;
    switch ((int)cjose_jwk_EC_get_curve(jwk, &cerr)) {
    case CJOSE_JWK_EC_P_256: return 256;
    case CJOSE_JWK_EC_P_384: return 384;
    case CJOSE_JWK_EC_P_521: return 521;
    default: return 0;
    }
}

/* Does the key fit the algorithm (and, for dir, the content encryption)? The one place that
 * prevents key confusion: an HMAC key is an octet key of at least the hash's size, an ES key is an
 * EC key on the algorithm's curve, an RSA key has at least 2048 bits. */
static bool key_fits(const struct esdata_key *k, const struct alg_info *a, const struct enc_info *e)
{
    cjose_err cerr;
    cjose_jwk_kty_t kty = cjose_jwk_get_kty(k->jwk, &cerr);
    size_t bits = cjose_jwk_get_keysize(k->jwk, &cerr);
    switch (a->kind) {
    case K_HMAC: return kty == CJOSE_JWK_KTY_OCT && bits >= a->bits;
    case K_RSA_SIG:
    case K_RSA_WRAP: return kty == CJOSE_JWK_KTY_RSA && bits >= RSA_MIN_BITS;
    case K_EC_SIG: return kty == CJOSE_JWK_KTY_EC && curve_bits(k->jwk) == a->bits;
    case K_OCT_WRAP: return kty == CJOSE_JWK_KTY_OCT && bits == (a->bits ? a->bits : (e ? e->bits : 0));
    }
    return false;
}

/* ---- keys --------------------------------------------------------------------------------------- */

static enum esdata_err key_wrap(cjose_jwk_t *jwk, struct esdata_key **out)
{
    if (jwk == NULL)
        return ESDATA_E_KEY_FORMAT;
    *out = calloc(1, sizeof **out);
    if (*out == NULL) {
        cjose_jwk_release(jwk);
        return ESDATA_E_INTERNAL;
    }
    (*out)->jwk = jwk;
    return ESDATA_OK;
}

enum esdata_err esdata_key_secret(const unsigned char *k, size_t n, struct esdata_key **out)
{
    if (out == NULL)
        return ESDATA_E_ARG;
    *out = NULL;
    if (k == NULL || n < 16 || n > 64)
        return ESDATA_E_KEY_FORMAT;
    cjose_err cerr;
    return key_wrap(cjose_jwk_create_oct_spec(k, n, &cerr), out);
}

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static enum esdata_err key_hex(const char *s, size_t n, struct esdata_key **out)
{
    unsigned char raw[64];
    if (n % 2 || n / 2 > sizeof raw)
        return ESDATA_E_KEY_FORMAT;
    for (size_t i = 0; i < n / 2; i++) {
        int a = hexval(s[2 * i]), b = hexval(s[2 * i + 1]);
        if (a < 0 || b < 0)
            return ESDATA_E_KEY_FORMAT;
        raw[i] = (unsigned char)(a << 4 | b);
    }
    enum esdata_err e = esdata_key_secret(raw, n / 2, out);
    memset(raw, 0, sizeof raw);
    return e;
}

static cjose_jwk_ec_curve gnutls_curve(gnutls_ecc_curve_t c)
{
    switch (c) {
    case GNUTLS_ECC_CURVE_SECP256R1: return CJOSE_JWK_EC_P_256;
    case GNUTLS_ECC_CURVE_SECP384R1: return CJOSE_JWK_EC_P_384;
    case GNUTLS_ECC_CURVE_SECP521R1: return CJOSE_JWK_EC_P_521;
    default: return CJOSE_JWK_EC_INVALID;
    }
}

static void datum_free(gnutls_datum_t *d)
{
    if (d->data) {
        gnutls_memset(d->data, 0, d->size);
        gnutls_free(d->data);
    }
    d->data = NULL;
    d->size = 0;
}

/* A PEM private key, public key or certificate, through GnuTLS, into a cjose JWK. */
static enum esdata_err key_pem(const char *text, size_t len, struct esdata_key **out)
{
    gnutls_datum_t in = {(unsigned char *)(uintptr_t)text, (unsigned)len};
    gnutls_privkey_t priv = NULL;
    gnutls_pubkey_t pub = NULL;
    gnutls_datum_t m = {0}, e = {0}, d = {0}, p = {0}, q = {0}, u = {0}, e1 = {0}, e2 = {0}, x = {0}, y = {0};
    gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
    cjose_jwk_t *jwk = NULL;
    cjose_err cerr;
    const unsigned flags = GNUTLS_EXPORT_FLAG_NO_LZ;
    int pk = -1;
    if (strstr(text, "PRIVATE KEY-----")) {
        if (gnutls_privkey_init(&priv) < 0 ||
            gnutls_privkey_import_x509_raw(priv, &in, GNUTLS_X509_FMT_PEM, NULL, 0) < 0)
            goto out;
        pk = gnutls_privkey_get_pk_algorithm(priv, NULL);
        if (pk == GNUTLS_PK_RSA && gnutls_privkey_export_rsa_raw2(priv, &m, &e, &d, &p, &q, &u, &e1, &e2, flags) == 0) {
            cjose_jwk_rsa_keyspec s = {e.data, e.size, m.data,  m.size,  d.data,  d.size,  p.data, p.size,
                                       q.data, q.size, e1.data, e1.size, e2.data, e2.size, u.data, u.size};
            jwk = cjose_jwk_create_RSA_spec(&s, &cerr);
        } else if (pk == GNUTLS_PK_ECDSA && gnutls_privkey_export_ecc_raw2(priv, &curve, &x, &y, &d, flags) == 0) {
            cjose_jwk_ec_keyspec s = {gnutls_curve(curve), d.data, d.size, x.data, x.size, y.data, y.size};
            if (s.crv != CJOSE_JWK_EC_INVALID)
                jwk = cjose_jwk_create_EC_spec(&s, &cerr);
        }
    } else {
        if (gnutls_pubkey_init(&pub) < 0)
            goto out;
        int rc = strstr(text, "-----BEGIN CERTIFICATE-----")
                     ? gnutls_pubkey_import_x509_raw(pub, &in, GNUTLS_X509_FMT_PEM, 0)
                     : gnutls_pubkey_import(pub, &in, GNUTLS_X509_FMT_PEM);
        if (rc < 0)
            goto out;
        pk = gnutls_pubkey_get_pk_algorithm(pub, NULL);
        if (pk == GNUTLS_PK_RSA && gnutls_pubkey_export_rsa_raw2(pub, &m, &e, flags) == 0) {
            cjose_jwk_rsa_keyspec s = {.e = e.data, .elen = e.size, .n = m.data, .nlen = m.size};
            jwk = cjose_jwk_create_RSA_spec(&s, &cerr);
        } else if (pk == GNUTLS_PK_ECDSA && gnutls_pubkey_export_ecc_raw2(pub, &curve, &x, &y, flags) == 0) {
            cjose_jwk_ec_keyspec s = {gnutls_curve(curve), NULL, 0, x.data, x.size, y.data, y.size};
            if (s.crv != CJOSE_JWK_EC_INVALID)
                jwk = cjose_jwk_create_EC_spec(&s, &cerr);
        }
    }
out:;
    gnutls_datum_t *all[] = {&m, &e, &d, &p, &q, &u, &e1, &e2, &x, &y};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        datum_free(all[i]);
    if (priv)
        gnutls_privkey_deinit(priv);
    if (pub)
        gnutls_pubkey_deinit(pub);
    return key_wrap(jwk, out);
}

enum esdata_err esdata_key_parse(const char *text, size_t len, struct esdata_key **out)
{
    if (out == NULL || text == NULL)
        return ESDATA_E_ARG;
    *out = NULL;
    if (len == 0 || len > 64 * 1024 || memchr(text, '\0', len))
        return ESDATA_E_KEY_FORMAT;
    char *s = malloc(len + 1);
    if (s == NULL)
        return ESDATA_E_INTERNAL;
    memcpy(s, text, len);
    s[len] = '\0';
    size_t n = len;
    while (n > 0 && strchr(" \t\r\n", s[n - 1]))
        s[--n] = '\0';
    const char *b = s + strspn(s, " \t\r\n");
    n -= (size_t)(b - s);
    enum esdata_err rc = ESDATA_E_KEY_FORMAT;
    if (b[0] == '{') {
        json_t *j = json_loadb(b, n, 0, NULL);
        if (jose_jwk_members_ok(j)) {
            cjose_err cerr;
            rc = key_wrap(cjose_jwk_import(b, n, &cerr), out);
        }
        json_decref(j);
    } else if (strncmp(b, "-----BEGIN ", 11) == 0) {
        rc = key_pem(b, n, out);
    } else if (n >= 32 && n <= 128) {
        rc = key_hex(b, n, out);
    }
    memset(s, 0, len);
    free(s);
    return rc;
}

void esdata_key_free(struct esdata_key *k)
{
    if (k == NULL)
        return;
    cjose_jwk_release(k->jwk);
    free(k);
}

void esdata_free(void *p)
{
    free(p);
}

void esdata_opened_free(struct esdata_opened *o)
{
    if (o == NULL)
        return;
    free(o->payload);
    memset(o, 0, sizeof *o);
}

/* ---- producing ---------------------------------------------------------------------------------- */

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static enum esdata_err sign(const struct esdata_protect *p, const unsigned char *payload, size_t len, char **out)
{
    const struct alg_info *a = alg_find(p->sign_alg);
    if (a == NULL || !is_sig(a))
        return ESDATA_E_ALG;
    if (p->sign_key == NULL)
        return ESDATA_E_NO_KEY;
    if (!key_fits(p->sign_key, a, NULL))
        return ESDATA_E_KEY_MISMATCH;
    cjose_err cerr;
    enum esdata_err rc = ESDATA_E_INTERNAL;
    cjose_jws_t *jws = NULL;
    cjose_header_t *h = cjose_header_new(&cerr);
    const char *ser = NULL;
    if (h == NULL || !cjose_header_set(h, CJOSE_HDR_ALG, a->name, &cerr) ||
        (p->sign_kid && !cjose_header_set(h, CJOSE_HDR_KID, p->sign_kid, &cerr)))
        goto out;
    jws = cjose_jws_sign(p->sign_key->jwk, h, payload, len, &cerr);
    if (jws == NULL) {
        rc = cerr.code == CJOSE_ERR_INVALID_ARG ? ESDATA_E_KEY_MISMATCH : ESDATA_E_INTERNAL;
        goto out;
    }
    if (!cjose_jws_export(jws, &ser, &cerr) || (*out = dup_n(ser, strlen(ser))) == NULL)
        goto out;
    rc = ESDATA_OK;
out:
    cjose_jws_release(jws);
    cjose_header_release(h);
    return rc;
}

static enum esdata_err encrypt(const struct esdata_protect *p, bool nested, const unsigned char *payload, size_t len,
                               char **out)
{
    const struct alg_info *a = alg_find(p->key_alg);
    const struct enc_info *e = enc_find(p->enc);
    if (a == NULL || is_sig(a) || e == NULL)
        return ESDATA_E_ALG;
    if (p->enc_key == NULL)
        return ESDATA_E_NO_KEY;
    if (!key_fits(p->enc_key, a, e))
        return ESDATA_E_KEY_MISMATCH;
    cjose_err cerr;
    enum esdata_err rc = ESDATA_E_INTERNAL;
    cjose_jwe_t *jwe = NULL;
    cjose_header_t *h = cjose_header_new(&cerr);
    char *ser = NULL;
    if (h == NULL || !cjose_header_set(h, CJOSE_HDR_ALG, a->name, &cerr) ||
        !cjose_header_set(h, CJOSE_HDR_ENC, e->name, &cerr) ||
        (p->enc_kid && !cjose_header_set(h, CJOSE_HDR_KID, p->enc_kid, &cerr)) ||
        (nested && !cjose_header_set(h, CJOSE_HDR_CTY, "JOSE", &cerr))) /* RFC 7515 §4.1.10: a compact JWS */
        goto out;
    jwe = cjose_jwe_encrypt(p->enc_key->jwk, h, payload, len, &cerr);
    if (jwe == NULL) {
        rc = cerr.code == CJOSE_ERR_INVALID_ARG ? ESDATA_E_KEY_MISMATCH : ESDATA_E_INTERNAL;
        goto out;
    }
    ser = p->json ? cjose_jwe_export_json(jwe, &cerr) : cjose_jwe_export(jwe, &cerr);
    if (ser == NULL || (*out = dup_n(ser, strlen(ser))) == NULL)
        goto out;
    rc = ESDATA_OK;
out:
    if (ser)
        cjose_get_dealloc()(ser);
    cjose_jwe_release(jwe);
    cjose_header_release(h);
    return rc;
}

enum esdata_err esdata_protect(const struct esdata_protect *p, const unsigned char *payload, size_t len, char **out)
{
    if (p == NULL || out == NULL || (payload == NULL && len > 0) || (p->sign_alg == 0 && p->key_alg == 0))
        return ESDATA_E_ARG;
    *out = NULL;
    if (len > ESDATA_MAX_LEN)
        return ESDATA_E_TOO_LARGE;
    if (p->json && p->key_alg == 0)
        return ESDATA_E_ARG; /* cjose has no JWS JSON serialisation */
    if (p->key_alg == 0)
        return sign(p, payload, len, out);
    if (p->sign_alg == 0)
        return encrypt(p, false, payload, len, out);
    if ((p->sign_alg & ESDATA_ASYM_SIG_ALGS) == 0)
        return ESDATA_E_UNSIGNED; /* TS-0003 §8.5.2.4: the inner signature uses a certificate's key */
    char *inner = NULL;
    enum esdata_err rc = sign(p, payload, len, &inner);
    if (rc == ESDATA_OK)
        rc = encrypt(p, true, (const unsigned char *)inner, strlen(inner), out);
    free(inner);
    return rc;
}

/* ---- syntax ------------------------------------------------------------------------------------- */

/* Bytes a base64url text of n characters (no padding) decodes to; -1 when no text has that length. */
static long b64url_len(size_t n)
{
    return n % 4 == 1 ? -1 : (long)(n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0));
}

/* A base64url part decoded as a JSON object (the protected header), bounded. */
static json_t *part_json(const char *p, size_t n)
{
    long dl = b64url_len(n);
    if (n == 0 || dl < 0 || (unsigned long)dl > ESDATA_MAX_HEADER)
        return NULL;
    uint8_t *raw = NULL;
    size_t rawlen = 0;
    cjose_err cerr;
    if (!cjose_base64url_decode(p, n, &raw, &rawlen, &cerr))
        return NULL;
    json_t *j = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, NULL);
    cjose_get_dealloc()(raw);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

int esdata_compact_kind(const char *s, size_t len)
{
    struct jose_parts pt;
    if (s == NULL || len == 0 || len > ESDATA_MAX_LEN || !jose_split(s, len, &pt))
        return 0;
    json_t *h = part_json(pt.p[0], pt.n[0]);
    bool ok = json_is_string(json_object_get(h, "alg")) &&
              (pt.count == 3 ? b64url_len(pt.n[1]) >= 0 && b64url_len(pt.n[2]) >= 0
                             : json_is_string(json_object_get(h, "enc")));
    for (int i = 1; ok && i < pt.count; i++)
        ok = b64url_len(pt.n[i]) >= 0;
    json_decref(h);
    return ok ? pt.count : 0;
}

bool esdata_json_shape_ok(const char *s, size_t len)
{
    if (s == NULL || len == 0 || len > ESDATA_MAX_LEN)
        return false;
    json_t *j = json_loadb(s, len, 0, NULL);
    bool ok = json_is_object(j) &&
              (json_is_string(json_object_get(j, "ciphertext")) ||
               (json_is_string(json_object_get(j, "payload")) &&
                (json_is_string(json_object_get(j, "signature")) || json_is_array(json_object_get(j, "signatures")))));
    json_decref(j);
    return ok;
}

/* ---- opening ------------------------------------------------------------------------------------ */

/* Header members this implementation refuses: crit (RFC 7515 §4.1.11: an extension we do not
 * process), zip (compression before encryption leaks length, RFC 8725 §3.6), b64 (RFC 7797). */
static bool header_unsupported(const json_t *h)
{
    return json_object_get(h, "crit") || json_object_get(h, "zip") || json_object_get(h, "b64");
}

static enum esdata_err copy_out(const uint8_t *p, size_t n, struct esdata_opened *out)
{
    out->payload = malloc(n + 1);
    if (out->payload == NULL)
        return ESDATA_E_INTERNAL;
    if (n)
        memcpy(out->payload, p, n);
    out->payload[n] = '\0';
    out->len = n;
    return ESDATA_OK;
}

/* Signature lengths that are fixed by the algorithm (RFC 7518 §3.2, §3.4). */
static bool sig_len_ok(const struct alg_info *a, const struct esdata_key *k, size_t n)
{
    long l = b64url_len(n);
    cjose_err cerr;
    switch (a->kind) {
    case K_HMAC: return l == (long)(a->bits / 8);
    case K_EC_SIG: return l == (long)(2 * ((a->bits + 7) / 8));
    case K_RSA_SIG: return l == (long)((cjose_jwk_get_keysize(k->jwk, &cerr) + 7) / 8);
    default: return false;
    }
}

static enum esdata_err open_jws(const char *in, size_t len, const struct jose_parts *pt, const struct esdata_policy *p,
                                uint32_t allowed, struct esdata_opened *out)
{
    enum esdata_err rc = ESDATA_E_SYNTAX;
    json_t *h = part_json(pt->p[0], pt->n[0]);
    cjose_jws_t *jws = NULL;
    cjose_err cerr;
    if (h == NULL)
        goto out;
    const struct alg_info *a = alg_named(json_string_value(json_object_get(h, "alg")));
    rc = ESDATA_E_ALG;
    if (a == NULL || !is_sig(a) || (a->a & allowed) == 0)
        goto out; /* "none" is no entry of the table: never accepted */
    rc = ESDATA_E_UNSUPPORTED;
    if (header_unsupported(h))
        goto out;
    rc = ESDATA_E_NO_KEY;
    if (p->verify_key == NULL)
        goto out;
    rc = ESDATA_E_KEY_MISMATCH;
    if (!key_fits(p->verify_key, a, NULL))
        goto out;
    rc = ESDATA_E_SYNTAX;
    if (b64url_len(pt->n[1]) < 0)
        goto out;
    rc = ESDATA_E_BAD_SIGNATURE;
    if (!sig_len_ok(a, p->verify_key, pt->n[2]))
        goto out;
    rc = ESDATA_E_SYNTAX;
    if ((jws = cjose_jws_import(in, len, &cerr)) == NULL)
        goto out;
    rc = ESDATA_E_BAD_SIGNATURE;
    if (!cjose_jws_verify(jws, p->verify_key->jwk, &cerr))
        goto out;
    uint8_t *pl = NULL;
    size_t pn = 0;
    rc = ESDATA_E_INTERNAL;
    if (!cjose_jws_get_plaintext(jws, &pl, &pn, &cerr)) /* pl belongs to jws */
        goto out;
    if ((rc = copy_out(pl, pn, out)) == ESDATA_OK)
        out->sign_alg = a->a;
out:
    cjose_jws_release(jws);
    json_decref(h);
    return rc;
}

/* The lengths of a JWE's parts for alg and enc, before cjose (which trusts them) sees them. */
static bool jwe_shape_ok(const struct alg_info *a, const struct enc_info *e, const struct esdata_key *k, long ek,
                         long iv, long ct, long tag)
{
    cjose_err cerr;
    if (iv != GCM_IV || tag != GCM_TAG || ct < 0 || ek < 0)
        return false;
    switch (a->kind) {
    case K_OCT_WRAP: return a->bits == 0 ? ek == 0 : ek == (long)(e->bits / 8 + 8); /* dir; RFC 3394 adds 8 bytes */
    case K_RSA_WRAP: return ek == (long)((cjose_jwk_get_keysize(k->jwk, &cerr) + 7) / 8);
    default: return false;
    }
}

/* The protected header's alg/enc checked against the policy and the key. */
static enum esdata_err jwe_header_ok(const json_t *h, const struct esdata_policy *p, const struct alg_info **a,
                                     const struct enc_info **e)
{
    if (h == NULL)
        return ESDATA_E_SYNTAX;
    *a = alg_named(json_string_value(json_object_get(h, "alg")));
    *e = enc_named(json_string_value(json_object_get(h, "enc")));
    if (*a == NULL || is_sig(*a) || ((*a)->a & p->algs) == 0 || *e == NULL || ((*e)->e & p->encs) == 0)
        return ESDATA_E_ALG;
    if (header_unsupported(h))
        return ESDATA_E_UNSUPPORTED;
    if (p->decrypt_key == NULL)
        return ESDATA_E_NO_KEY;
    if (!key_fits(p->decrypt_key, *a, *e))
        return ESDATA_E_KEY_MISMATCH;
    return ESDATA_OK;
}

/* After decryption: a nested JWS (cty JOSE or JWT) is verified, with an asymmetric algorithm only
 * (TS-0003 §8.5.2.4); plain content is returned unless a signature is required. */
static enum esdata_err after_decrypt(const json_t *h, const uint8_t *plain, size_t plen, const struct esdata_policy *p,
                                     const struct alg_info *a, const struct enc_info *e, struct esdata_opened *out)
{
    const char *cty = json_string_value(json_object_get(h, "cty"));
    bool nested = cty && (strcasecmp(cty, "JOSE") == 0 || strcasecmp(cty, "JWT") == 0);
    enum esdata_err rc;
    if (nested) {
        struct jose_parts in;
        if (!jose_split((const char *)plain, plen, &in) || in.count != 3)
            return ESDATA_E_SYNTAX;
        uint32_t inner = p->algs & ESDATA_ASYM_SIG_ALGS;
        if (inner == 0)
            return ESDATA_E_UNSIGNED;
        rc = open_jws((const char *)plain, plen, &in, p, inner, out);
        if (rc == ESDATA_E_ALG && (p->algs & ESDATA_HMAC_ALGS)) {
            json_t *ih = part_json(in.p[0], in.n[0]);
            const struct alg_info *ia = alg_named(json_string_value(json_object_get(ih, "alg")));
            json_decref(ih);
            if (ia && ia->kind == K_HMAC)
                rc = ESDATA_E_UNSIGNED; /* an allowed HMAC, but not inside a nested envelope */
        }
    } else if (p->require_signature) {
        return ESDATA_E_UNSIGNED;
    } else {
        rc = copy_out(plain, plen, out);
    }
    if (rc == ESDATA_OK) {
        out->key_alg = a->a;
        out->enc = e->e;
    }
    return rc;
}

static enum esdata_err open_jwe(const char *in, size_t len, const struct jose_parts *pt, const struct esdata_policy *p,
                                struct esdata_opened *out)
{
    json_t *h = part_json(pt->p[0], pt->n[0]);
    const struct alg_info *a = NULL;
    const struct enc_info *e = NULL;
    cjose_jwe_t *jwe = NULL;
    uint8_t *plain = NULL;
    size_t plen = 0;
    cjose_err cerr;
    enum esdata_err rc = jwe_header_ok(h, p, &a, &e);
    if (rc != ESDATA_OK)
        goto out;
    rc = ESDATA_E_SYNTAX;
    if (!jwe_shape_ok(a, e, p->decrypt_key, b64url_len(pt->n[1]), b64url_len(pt->n[2]), b64url_len(pt->n[3]),
                      b64url_len(pt->n[4])))
        goto out;
    if ((jwe = cjose_jwe_import(in, len, &cerr)) == NULL)
        goto out;
    rc = ESDATA_E_DECRYPT;
    if ((plain = cjose_jwe_decrypt(jwe, p->decrypt_key->jwk, &plen, &cerr)) == NULL)
        goto out;
    rc = after_decrypt(h, plain, plen, p, a, e, out);
out:
    if (plain) {
        memset(plain, 0, plen);
        cjose_get_dealloc()(plain);
    }
    cjose_jwe_release(jwe);
    json_decref(h);
    return rc;
}

static long member_len(const json_t *o, const char *k, bool *ok)
{
    const json_t *v = json_object_get(o, k);
    if (v == NULL)
        return 0;
    const char *s = json_string_value(v);
    if (s == NULL || !jose_b64url_only(s)) {
        *ok = false;
        return -1;
    }
    return b64url_len(strlen(s));
}

/* A JWE in flattened JSON serialisation (RFC 7516 §7.2.2), or the general one with one recipient.
 * Only the protected header may carry alg and enc: an unprotected "header"/"unprotected" member is
 * refused, so that nothing the tag does not cover decides how the content is read. */
static enum esdata_err open_jwe_json(const char *in, size_t len, const struct esdata_policy *p,
                                     struct esdata_opened *out)
{
    enum esdata_err rc = ESDATA_E_SYNTAX;
    json_t *j = json_loadb(in, len, JSON_REJECT_DUPLICATES, NULL), *h = NULL;
    const json_t *rcpt = j;
    cjose_jwe_t *jwe = NULL;
    uint8_t *plain = NULL;
    size_t plen = 0;
    cjose_err cerr;
    const struct alg_info *a = NULL;
    const struct enc_info *e = NULL;
    if (!json_is_object(j) || json_object_get(j, "payload"))
        goto out; /* a JWS in JSON serialisation: cjose has none */
    const json_t *rs = json_object_get(j, "recipients");
    if (rs) {
        if (!json_is_array(rs) || json_array_size(rs) != 1 || json_object_get(j, "encrypted_key"))
            goto out;
        rcpt = json_array_get(rs, 0);
    }
    if (!json_is_object(rcpt) || json_object_get(j, "unprotected") || json_object_get(rcpt, "header") ||
        json_object_get(j, "aad")) {
        rc = ESDATA_E_UNSUPPORTED;
        goto out;
    }
    const char *prot = json_string_value(json_object_get(j, "protected"));
    if (prot == NULL || !jose_b64url_only(prot))
        goto out;
    h = part_json(prot, strlen(prot));
    if ((rc = jwe_header_ok(h, p, &a, &e)) != ESDATA_OK)
        goto out;
    rc = ESDATA_E_SYNTAX;
    bool ok = true;
    long ek = member_len(rcpt, "encrypted_key", &ok), iv = member_len(j, "iv", &ok),
         ct = member_len(j, "ciphertext", &ok), tag = member_len(j, "tag", &ok);
    if (!ok || !json_object_get(j, "ciphertext") || !jwe_shape_ok(a, e, p->decrypt_key, ek, iv, ct, tag))
        goto out;
    if ((jwe = cjose_jwe_import_json(in, len, &cerr)) == NULL)
        goto out;
    rc = ESDATA_E_DECRYPT;
    if ((plain = cjose_jwe_decrypt(jwe, p->decrypt_key->jwk, &plen, &cerr)) == NULL)
        goto out;
    if ((rc = after_decrypt(h, plain, plen, p, a, e, out)) == ESDATA_OK)
        out->json = true;
out:
    if (plain) {
        memset(plain, 0, plen);
        cjose_get_dealloc()(plain);
    }
    cjose_jwe_release(jwe);
    json_decref(h);
    json_decref(j);
    return rc;
}

enum esdata_err esdata_open(const char *in, size_t len, const struct esdata_policy *p, struct esdata_opened *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (in == NULL || p == NULL || out == NULL)
        return ESDATA_E_ARG;
    if (len > (p->max_len ? p->max_len : ESDATA_MAX_LEN))
        return ESDATA_E_TOO_LARGE;
    size_t skip = 0;
    while (skip < len && strchr(" \t\r\n", in[skip]) && in[skip] != '\0')
        skip++;
    enum esdata_err rc;
    struct jose_parts pt;
    if (skip < len && in[skip] == '{') {
        rc = open_jwe_json(in, len, p, out);
    } else if (!jose_split(in, len, &pt)) {
        rc = ESDATA_E_SYNTAX;
    } else if (pt.count == 3) {
        rc = open_jws(in, len, &pt, p, p->algs, out);
    } else {
        rc = open_jwe(in, len, &pt, p, out);
    }
    if (rc != ESDATA_OK)
        esdata_opened_free(out);
    return rc;
}
