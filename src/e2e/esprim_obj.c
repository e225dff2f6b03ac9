/* esprim_obj: TS-0003 §8.4.3 ESPrim Objects and rand objects (see esprim_obj.h for the choices). */
#include "e2e/esprim_obj.h"

#include <cjose/cjose.h>
#include <stdio.h>
#include <string.h>

#include "e2e/jose_compact.h"
#include "util/mem.h"
#include "util/rand.h"
#include "util/timeutil.h"

static const struct {
    const char *enc;
    int espa;
    size_t keylen;
} encs[] = {
    {"A128GCM", ESPRIM_ESPA_A128GCM, 16}, {"A192GCM", ESPRIM_ESPA_A192GCM, 24}, {"A256GCM", ESPRIM_ESPA_A256GCM, 32}};

size_t esprim_enc_keylen(const char *enc)
{
    for (size_t i = 0; i < sizeof encs / sizeof encs[0]; i++)
        if (strcmp(enc, encs[i].enc) == 0)
            return encs[i].keylen;
    return 0;
}

const char *esprim_enc_of_espa(int espa)
{
    for (size_t i = 0; i < sizeof encs / sizeof encs[0]; i++)
        if (encs[i].espa == espa)
            return encs[i].enc;
    return NULL;
}

static int espa_of_enc(const char *enc)
{
    for (size_t i = 0; i < sizeof encs / sizeof encs[0]; i++)
        if (strcmp(enc, encs[i].enc) == 0)
            return encs[i].espa;
    return 0;
}

/* A part of a length some base64url text has (the characters are checked by jose_split). */
static bool b64url_part(size_t n)
{
    return n % 4 != 1;
}

/* RFC 7518 §5.3: A128GCM, A192GCM and A256GCM use a 96-bit IV and a 128-bit tag: 16 and 22
 * base64url characters. cjose does not check them and reads a 12-byte IV whatever was sent (a heap
 * over-read found by fuzz_esprim; security/token.c checks the same for JWE tokens). */
#define GCM_IV_B64  16
#define GCM_TAG_B64 22

/* The five parts of a compact serialisation (e2e/jose_compact.h), each a valid base64url length. */
static bool split5(const char *s, size_t len, const char *part[5], size_t plen[5])
{
    struct jose_parts jp;
    if (!jose_split(s, len, &jp) || jp.count != 5)
        return false;
    for (int i = 0; i < 5; i++) {
        part[i] = jp.p[i];
        plen[i] = jp.n[i];
        if (!b64url_part(plen[i]))
            return false;
    }
    return true;
}

static bool copy_str(const json_t *v, char *out, size_t outlen, bool ascii_id)
{
    const char *s = json_string_value(v);
    if (s == NULL || s[0] == '\0' || strlen(s) >= outlen)
        return false;
    if (ascii_id)
        for (const char *p = s; *p; p++)
            if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '"' || *p == '\\')
                return false;
    snprintf(out, outlen, "%s", s);
    return true;
}

void esprim_hdr_free(struct esprim_hdr *h)
{
    json_decref(h->oro);
    json_decref(h->rro);
    h->oro = h->rro = NULL;
}

int esprim_parse(const char *compact, size_t len, struct esprim_hdr *h, const char **why)
{
    memset(h, 0, sizeof *h);
    const char *part[5];
    size_t plen[5];
    *why = "not a JWE compact serialisation of five base64url parts";
    if (compact == NULL || len == 0 || len > ESPRIM_MAX_OBJECT || !split5(compact, len, part, plen))
        return 4000;
    /* TS-0003 Table 8.4.3.2-1: the header and the ciphertext are never empty, the key always is */
    if (plen[0] == 0 || plen[3] == 0 || plen[1] != 0 || plen[2] != GCM_IV_B64 || plen[4] != GCM_TAG_B64) {
        *why = "an ESPrim Object has a header, no encrypted key, a 96-bit IV, a ciphertext and a 128-bit tag";
        return 4000;
    }
    uint8_t *raw = NULL;
    size_t rawlen = 0;
    cjose_err err;
    if (!cjose_base64url_decode(part[0], plen[0], &raw, &rawlen, &err))
        return 4000;
    json_t *hdr = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, NULL);
    cjose_get_dealloc()(raw);
    int rc = 4000;
    *why = "the protected header is not a JSON object";
    if (!json_is_object(hdr))
        goto out;
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    const char *enc = json_string_value(json_object_get(hdr, "enc"));
    *why = "the header needs alg, enc, kid, ori and rri";
    if (alg == NULL || enc == NULL || !copy_str(json_object_get(hdr, "kid"), h->kid, sizeof h->kid, true) ||
        !copy_str(json_object_get(hdr, "ori"), h->ori, sizeof h->ori, true) ||
        !copy_str(json_object_get(hdr, "rri"), h->rri, sizeof h->rri, true))
        goto out;
    json_t *cty = json_object_get(hdr, "cty");
    if (cty != NULL && !copy_str(cty, h->cty, sizeof h->cty, true))
        goto out;
    json_t *oro = json_object_get(hdr, "oro"), *rro = json_object_get(hdr, "rro");
    *why = "oro and rro are rand objects (JSON objects)";
    if ((oro != NULL && !json_is_object(oro)) || (rro != NULL && !json_is_object(rro)))
        goto out;
    /* TS-0003 §8.4.3.2: direct encryption with one of the AEAD algorithms of ESData */
    rc = 4111;
    *why = "ESPrim uses alg \"dir\" with enc A128GCM, A192GCM or A256GCM";
    if (strcmp(alg, "dir") != 0 || (h->espa = espa_of_enc(enc)) == 0)
        goto out;
    snprintf(h->enc, sizeof h->enc, "%s", enc);
    h->oro = json_incref(oro);
    h->rro = json_incref(rro);
    rc = 0;
    *why = NULL;
out:
    json_decref(hdr);
    return rc;
}

bool esprim_iv(const char *compact, size_t len, const char **iv, size_t *iv_len)
{
    const char *part[5];
    size_t plen[5];
    if (!split5(compact, len, part, plen))
        return false;
    *iv = part[2];
    *iv_len = plen[2];
    return true;
}

static bool hex32(const char *s)
{
    if (s == NULL || strlen(s) != 32)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

char *esprim_randobj_canon(const json_t *obj, bool receiver, size_t *len, int64_t *expiry_s, const char **why)
{
    *why = "a rand object has esri, esrv (32 hex digits), esrx (a timestamp), esk (esks) and espa";
    if (!json_is_object(obj) || json_object_size(obj) != 5)
        return NULL;
    char id[ESPRIM_RANDID_MAX + 1];
    if (!copy_str(json_object_get(obj, "esri"), id, sizeof id, true) ||
        !hex32(json_string_value(json_object_get(obj, "esrv"))) ||
        !ts_parse(json_string_value(json_object_get(obj, "esrx")) ? json_string_value(json_object_get(obj, "esrx"))
                                                                  : "",
                  expiry_s))
        return NULL;
    const json_t *espa = json_object_get(obj, "espa");
    if (!json_is_array(espa) || json_array_size(espa) == 0 || json_array_size(espa) > 8)
        return NULL;
    size_t i;
    json_t *v;
    json_array_foreach(espa, i, v) if (!json_is_integer(v)) return NULL;
    if (receiver) {
        const json_t *esks = json_object_get(obj, "esks");
        if (!json_is_array(esks) || json_array_size(esks) == 0 || json_array_size(esks) > 8)
            return NULL;
        json_array_foreach(esks, i, v) if (!json_is_integer(v)) return NULL;
    } else if (!json_is_integer(json_object_get(obj, "esk"))) {
        return NULL;
    }
    char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL)
        return NULL;
    *len = strlen(text);
    *why = NULL;
    return text;
}

json_t *esprim_randobj_new(const char *id, int64_t expiry_s, bool receiver, const int *espa, int nespa)
{
    unsigned char r[16];
    char hex[33], ts[TS_LEN + 1];
    rand_bytes(r, sizeof r);
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", r[i]);
    ts_format(expiry_s, ts);
    json_t *a = json_array();
    for (int i = 0; i < nespa; i++)
        json_array_append_new(a, json_integer(espa[i]));
    json_t *o = json_pack("{s:s,s:s,s:s,s:o}", "esri", id, "esrv", hex, "esrx", ts, "espa", a);
    if (receiver)
        json_object_set_new(o, "esks", json_pack("[i]", ESPRIM_KEYGEN_HMAC_SHA256));
    else
        json_object_set_new(o, "esk", json_integer(ESPRIM_KEYGEN_HMAC_SHA256));
    return o;
}

static bool b64_std(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 16384 || n % 4 != 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool pad = c == '=' && i >= n - 2;
        if (!pad &&
            !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/'))
            return false;
    }
    return true;
}

bool esprim_esi_ok(const json_t *esi)
{
    if (!json_is_object(esi))
        return false;
    const char *k;
    json_t *v;
    bool has_esf = false;
    json_object_foreach((json_t *)esi, k, v)
    {
        size_t i;
        json_t *e;
        if (strcmp(k, "esf") == 0) {
            if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 32)
                return false;
            json_array_foreach(v, i, e) if (!json_is_integer(e) || json_integer_value(e) < 10 ||
                                            json_integer_value(e) > 45) return false;
            has_esf = true;
        } else if (strcmp(k, "escert") == 0) {
            if (!json_is_array(v) || json_array_size(v) > 8)
                return false;
            json_array_foreach(v, i, e) if (!json_is_string(e) || !b64_std(json_string_value(e))) return false;
        } else if (strcmp(k, "esro") == 0) {
            size_t len;
            int64_t exp;
            const char *why;
            char *c = esprim_randobj_canon(v, true, &len, &exp, &why);
            if (c == NULL)
                return false;
            mem_free(c);
        } else {
            return false;
        }
    }
    return has_esf;
}

bool esprim_randobj_has_espa(const json_t *obj, int espa)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(obj, "espa"), i, v) if (json_integer_value(v) == espa) return true;
    return false;
}

char *esprim_seci_epo(char *jwe, size_t *out_len)
{
    if (jwe == NULL)
        return NULL;
    json_t *root = json_pack("{s:{s:i,s:s}}", "m2m:seci", "sit", 5, "epo", jwe);
    mem_free(jwe);
    char *out = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (out)
        *out_len = strlen(out);
    return out;
}

char *esprim_seal(const unsigned char *key, size_t key_len, const char *enc, const char *kid, const char *cty,
                  const char *ori, const char *rri, const char *oro, const char *rro, const void *plaintext,
                  size_t plen)
{
    if (esprim_enc_keylen(enc) != key_len)
        return NULL;
    cjose_err err;
    cjose_jwk_t *jwk = cjose_jwk_create_oct_spec(key, key_len, &err);
    cjose_header_t *hdr = cjose_header_new(&err);
    char *out = NULL;
    if (jwk == NULL || hdr == NULL || !cjose_header_set(hdr, CJOSE_HDR_ALG, CJOSE_HDR_ALG_DIR, &err) ||
        !cjose_header_set(hdr, CJOSE_HDR_ENC, enc, &err) || !cjose_header_set(hdr, CJOSE_HDR_KID, kid, &err) ||
        !cjose_header_set(hdr, "ori", ori, &err) || !cjose_header_set(hdr, "rri", rri, &err) ||
        (cty && !cjose_header_set(hdr, CJOSE_HDR_CTY, cty, &err)) ||
        (oro && !cjose_header_set_raw(hdr, "oro", oro, &err)) || (rro && !cjose_header_set_raw(hdr, "rro", rro, &err)))
        goto out;
    cjose_jwe_t *jwe = cjose_jwe_encrypt(jwk, hdr, plaintext, plen, &err);
    if (jwe == NULL)
        goto out;
    char *c = cjose_jwe_export(jwe, &err);
    cjose_jwe_release(jwe);
    if (c != NULL) {
        out = mem_strdup(c);
        cjose_get_dealloc()(c);
    }
out:
    cjose_header_release(hdr);
    cjose_jwk_release(jwk); /* cjose wipes an oct key's bytes on release */
    return out;
}

int esprim_open(const char *compact, size_t len, const unsigned char *key, size_t key_len, char **out, size_t *out_len)
{
    const char *part[5];
    size_t plen[5];
    if (len > ESPRIM_MAX_OBJECT || !split5(compact, len, part, plen) || plen[1] != 0 || plen[2] != GCM_IV_B64 ||
        plen[4] != GCM_TAG_B64 || plen[3] == 0)
        return 4000; /* never handed to cjose (see GCM_IV_B64) */
    cjose_err err;
    cjose_jwe_t *jwe = cjose_jwe_import(compact, len, &err);
    if (jwe == NULL)
        return 4000;
    cjose_jwk_t *jwk = cjose_jwk_create_oct_spec(key, key_len, &err);
    int rc = 4115;
    size_t n = 0;
    uint8_t *pt = jwk ? cjose_jwe_decrypt(jwe, jwk, &n, &err) : NULL;
    if (pt != NULL) {
        *out = mem_alloc(n + 1);
        memcpy(*out, pt, n);
        (*out)[n] = '\0';
        *out_len = n;
        memset(pt, 0, n);
        cjose_get_dealloc()(pt);
        rc = 0;
    }
    cjose_jwk_release(jwk);
    cjose_jwe_release(jwe);
    return rc;
}
