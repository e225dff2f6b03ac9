/* token: JWT verification with cjose (see token.h; TS-0003 §7.3.2.4-7.3.2.6). */
#include "token.h"

#include <cjose/cjose.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/limits.h"
#include "e2e/jose_compact.h"
#include "encoding/json.h"
#include "security/acp.h"
#include "util/mem.h"

#define MAX_ISSUERS 64
#define MAX_KEYS    16
#define MAX_ALGS    16
#define MAX_DAS     8    /* DAS addresses one issuer answers at */
#define MAX_TOKEN   8192 /* a compact token longer than this is refused before any decoding */
#define MAX_PERMS   32

struct issuer {
    char *id; /* canonical */
    cjose_jwk_t *keys[MAX_KEYS];
    int nkeys;
    char *algs[MAX_ALGS];
    int nalgs;
    bool unsecured;
    bool roles;
    char *das[MAX_DAS]; /* the Dynamic Authorization Servers it answers as (dap URIs) */
    int ndas;
};

struct token_issuers {
    struct issuer v[MAX_ISSUERS];
    int n;
};

static const char *const default_algs[] = {"ES256", "HS256", "dir", "A128KW", "A256KW"};
/* What an issuer may be allowed: the JWS and JWE algorithms cjose implements without an ephemeral
 * key in the header (ECDH-ES is not offered). */
static const char *const known_algs[] = {"ES256", "ES384",  "ES512",  "HS256",  "HS384",    "HS512",
                                         "RS256", "RS384",  "RS512",  "PS256",  "PS384",    "PS512",
                                         "dir",   "A128KW", "A192KW", "A256KW", "RSA-OAEP", "RSA1_5"};

/* JWE key management by key transport or key agreement (RSA-OAEP, RSA1_5; ECDH-ES and RSA-OAEP-256
 * if they are ever offered): whoever holds the public key can encrypt, so such a JWE gives
 * confidentiality, not origin (RFC 8725 §2.1, §3.2). It is accepted only around a nested JWS of the
 * same issuer; an issuer allowing one must therefore allow a JWS algorithm for the signature. */
static bool alg_public_key_wrap(const char *alg)
{
    return strncmp(alg, "RSA", 3) == 0 || strncmp(alg, "ECDH", 4) == 0;
}

/* A JWS signature algorithm (the only protection that names its origin). */
static bool alg_signs(const char *alg)
{
    return alg[0] != '\0' && strchr("EHRP", alg[0]) != NULL && alg[1] == 'S' && !alg_public_key_wrap(alg);
}

#define FAIL(...)                                                                                                      \
    do {                                                                                                               \
        snprintf(err, errlen, __VA_ARGS__);                                                                            \
        goto fail;                                                                                                     \
    } while (0)

static bool canon_id(const struct id_env *env, const char *raw, char *out, size_t outlen)
{
    struct id id;
    if (raw == NULL || !id_parse(env, raw, &id) || (id.kind != ID_AE && id.kind != ID_CSE))
        return false;
    snprintf(out, outlen, "%s", id.canon);
    return true;
}

void token_issuers_free(struct token_issuers *is)
{
    if (is == NULL)
        return;
    for (int i = 0; i < is->n; i++) {
        mem_free(is->v[i].id);
        for (int k = 0; k < is->v[i].nkeys; k++)
            cjose_jwk_release(is->v[i].keys[k]);
        for (int a = 0; a < is->v[i].nalgs; a++)
            mem_free(is->v[i].algs[a]);
        for (int d = 0; d < is->v[i].ndas; d++)
            mem_free(is->v[i].das[d]);
    }
    mem_free(is);
}

struct token_issuers *token_issuers_parse(const char *json, size_t len, const struct id_env *env, char *err,
                                          size_t errlen)
{
    struct token_issuers *is = mem_calloc(1, sizeof *is);
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *list = json_object_get(root, "issuers");
    if (root == NULL)
        FAIL("not JSON: %s (line %d)", jerr.text, jerr.line);
    if (!json_is_array(list) || json_array_size(list) > MAX_ISSUERS)
        FAIL("needs {\"issuers\": [...]} with at most %d entries", MAX_ISSUERS);
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        struct issuer *x = &is->v[is->n];
        char canon[LIMIT_ID_LEN + 1];
        const json_t *keys = json_object_get(e, "keys"), *algs = json_object_get(e, "algs");
        if (!canon_id(env, json_string_value(json_object_get(e, "id")), canon, sizeof canon))
            FAIL("issuers[%zu].id must be an AE-ID or a CSE-ID", i);
        for (int k = 0; k < is->n; k++)
            if (strcmp(is->v[k].id, canon) == 0)
                FAIL("issuers[%zu]: %s is listed twice", i, canon);
        x->id = mem_strdup(canon);
        is->n++;
        const json_t *uns = json_object_get(e, "unsecured"), *roles = json_object_get(e, "roles");
        if ((uns && !json_is_boolean(uns)) || (roles && !json_is_boolean(roles)))
            FAIL("issuers[%zu]: unsecured and roles are booleans", i);
        x->unsecured = json_is_true(uns);
        x->roles = roles == NULL || json_is_true(roles);
        const json_t *das = json_object_get(e, "das");
        if (das && (!json_is_array(das) || json_array_size(das) > MAX_DAS))
            FAIL("issuers[%zu].das must be a list of at most %d DAS addresses", i, MAX_DAS);
        size_t d;
        json_t *du;
        json_array_foreach(das, d, du)
        {
            const char *u = json_string_value(du);
            if (u == NULL || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0))
                FAIL("issuers[%zu].das[%zu] must be an http(s) address of a DAS", i, d);
            x->das[x->ndas++] = mem_strdup(u);
        }
        if (keys && (!json_is_array(keys) || json_array_size(keys) > MAX_KEYS))
            FAIL("issuers[%zu].keys must be a list of at most %d JWKs", i, MAX_KEYS);
        size_t k;
        json_t *jwk;
        json_array_foreach(keys, k, jwk)
        {
            char *text = jose_jwk_members_ok(jwk) ? json_dumps(jwk, JSON_COMPACT) : NULL;
            cjose_err cerr;
            cjose_jwk_t *key = text ? cjose_jwk_import(text, strlen(text), &cerr) : NULL;
            free(text);
            if (key == NULL)
                FAIL("issuers[%zu].keys[%zu] is not a usable JWK", i, k);
            x->keys[x->nkeys++] = key;
        }
        if (algs && (!json_is_array(algs) || json_array_size(algs) > MAX_ALGS))
            FAIL("issuers[%zu].algs must be a list of at most %d algorithm names", i, MAX_ALGS);
        if (algs == NULL) {
            for (size_t a = 0; a < sizeof default_algs / sizeof default_algs[0]; a++)
                x->algs[x->nalgs++] = mem_strdup(default_algs[a]);
        } else {
            size_t a;
            json_t *alg;
            json_array_foreach(algs, a, alg)
            {
                const char *s = json_string_value(alg);
                bool known = false;
                for (size_t k2 = 0; s && k2 < sizeof known_algs / sizeof known_algs[0]; k2++)
                    known |= strcmp(s, known_algs[k2]) == 0;
                if (!known)
                    FAIL("issuers[%zu].algs[%zu] must name a supported algorithm (use \"unsecured\" for none)", i, a);
                x->algs[x->nalgs++] = mem_strdup(s);
            }
            bool wraps = false, signs = false;
            for (int a2 = 0; a2 < x->nalgs; a2++) {
                wraps |= alg_public_key_wrap(x->algs[a2]);
                signs |= alg_signs(x->algs[a2]);
            }
            if (wraps && !signs)
                FAIL("issuers[%zu].algs: a JWE by public-key key management (RSA-OAEP, RSA1_5) proves no origin "
                     "(RFC 8725) and is accepted only around a signed JWS of the same issuer: list a JWS algorithm "
                     "too, or remove it",
                     i);
        }
    }
    json_decref(root);
    return is;
fail:
    json_decref(root);
    token_issuers_free(is);
    return NULL;
}

struct token_issuers *token_issuers_load(const char *path, const struct id_env *env, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open %s", path);
        return NULL;
    }
    char *buf = mem_alloc(1024 * 1024);
    size_t n = fread(buf, 1, 1024 * 1024, f);
    bool too_big = n == 1024 * 1024;
    fclose(f);
    struct token_issuers *is = NULL;
    if (too_big)
        snprintf(err, errlen, "%s is larger than 1 MiB", path);
    else
        is = token_issuers_parse(buf, n, env, err, errlen);
    mem_free(buf);
    return is;
}

static const struct issuer *issuer_find(const struct token_issuers *is, const char *canon)
{
    for (int i = 0; is && i < is->n; i++)
        if (strcmp(is->v[i].id, canon) == 0)
            return &is->v[i];
    return NULL;
}

bool token_issuer_issues_roles(const struct token_issuers *is, const char *canon)
{
    const struct issuer *x = issuer_find(is, canon);
    return x != NULL && x->roles;
}

bool token_issuer_answers_at(const struct token_issuers *is, const char *canon, const char *das_uri)
{
    const struct issuer *x = canon && das_uri ? issuer_find(is, canon) : NULL;
    for (int i = 0; x != NULL && i < x->ndas; i++)
        if (strcmp(x->das[i], das_uri) == 0)
            return true;
    return false;
}

static bool alg_permitted(const struct issuer *x, const char *alg)
{
    for (int i = 0; i < x->nalgs; i++)
        if (strcmp(x->algs[i], alg) == 0)
            return true;
    return false;
}

/* ---- claims ---------------------------------------------------------------------------------- */

void token_free(struct token *t)
{
    if (t == NULL)
        return;
    mem_free(t->jti);
    mem_free(t->iss);
    mem_free(t->holder);
    mem_free(t->name);
    for (int i = 0; i < t->naud; i++)
        mem_free(t->aud[i]);
    mem_free(t->aud);
    for (int i = 0; i < t->npm; i++) {
        for (int k = 0; k < t->pm[i].nris; k++)
            mem_free(t->pm[i].ris[k]);
        for (int k = 0; k < t->pm[i].nrids; k++)
            mem_free(t->pm[i].rids[k]);
        mem_free(t->pm[i].ris);
        mem_free(t->pm[i].rids);
        acp_policy_free(t->pm[i].pv);
    }
    mem_free(t->pm);
    mem_free(t);
}

/* A list of non-empty strings (at most max) copied into *out. */
static bool strlist(const json_t *v, int max, char ***out, int *n)
{
    if (!json_is_array(v) || json_array_size(v) > (size_t)max)
        return false;
    *out = mem_calloc(json_array_size(v) + 1, sizeof **out);
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e)
    {
        const char *s = json_string_value(e);
        if (s == NULL || *s == '\0' || strlen(s) > LIMIT_ID_LEN)
            return false;
        (*out)[(*n)++] = mem_strdup(s);
    }
    return true;
}

static bool numeric_date(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) < 1e12) {
        *out = (int64_t)json_real_value(v);
        return true;
    }
    return false;
}

static int decode_claims(const struct id_env *env, const uint8_t *text, size_t len, struct token **out, char *err,
                         size_t errlen)
{
    struct token *t = mem_calloc(1, sizeof *t);
    char e2[160];
    json_t *c = json_decode_body((const char *)text, len, e2, sizeof e2);
    char canon[LIMIT_ID_LEN + 1];
    if (!json_is_object(c))
        FAIL("the claims are not a JSON object");
    const char *tkvr = json_string_value(json_object_get(c, "tkvr"));
    const char *jti = json_string_value(json_object_get(c, "jti"));
    if (tkvr == NULL || jti == NULL || *jti == '\0' || strlen(jti) > LIMIT_ID_LEN)
        FAIL("tkvr and jti are mandatory strings");
    t->jti = mem_strdup(jti);
    if (!canon_id(env, json_string_value(json_object_get(c, "iss")), canon, sizeof canon))
        FAIL("iss must be an AE-ID or a CSE-ID");
    t->iss = mem_strdup(canon);
    if (!canon_id(env, json_string_value(json_object_get(c, "azp")), canon, sizeof canon))
        FAIL("azp (the holder) must be an AE-ID or a CSE-ID");
    t->holder = mem_strdup(canon);
    if (!numeric_date(json_object_get(c, "nbf"), &t->nbf) || !numeric_date(json_object_get(c, "exp"), &t->exp))
        FAIL("nbf and exp are mandatory NumericDates");
    if (t->exp <= t->nbf)
        FAIL("exp must be after nbf");
    const json_t *nm = json_object_get(c, "tknm");
    if (nm && !json_is_string(nm))
        FAIL("tknm must be a string");
    if (nm)
        t->name = mem_strdup(json_string_value(nm));
    const json_t *aud = json_object_get(c, "aud");
    if (json_is_string(aud)) {
        t->aud = mem_calloc(1, sizeof *t->aud);
        if (!canon_id(env, json_string_value(aud), canon, sizeof canon))
            FAIL("aud must name CSE-IDs");
        t->aud[t->naud++] = mem_strdup(canon);
    } else if (aud != NULL) {
        char **raw = NULL;
        int nraw = 0;
        bool ok = strlist(aud, LIMIT_LIST_ITEMS, &raw, &nraw) && nraw > 0;
        t->aud = mem_calloc((size_t)nraw + 1, sizeof *t->aud);
        for (int i = 0; i < nraw; i++) {
            if (ok && canon_id(env, raw[i], canon, sizeof canon))
                t->aud[t->naud++] = mem_strdup(canon);
            else
                ok = false;
            mem_free(raw[i]);
        }
        mem_free(raw);
        if (!ok)
            FAIL("aud must be a non-empty list of CSE-IDs");
    }
    const json_t *tkps = json_object_get(c, "tkps");
    if (tkps != NULL) {
        const json_t *pm = json_object_get(tkps, "pm");
        if (!json_is_object(tkps) || !json_is_array(pm) || json_array_size(pm) > MAX_PERMS)
            FAIL("tkps must be {\"pm\": [...]} with at most %d permissions", MAX_PERMS);
        t->pm = mem_calloc(json_array_size(pm) + 1, sizeof *t->pm);
        size_t i;
        const json_t *p;
        json_array_foreach(pm, i, p)
        {
            struct token_perm *x = &t->pm[t->npm++];
            const json_t *ris = json_object_get(p, "ris"), *pv = json_object_get(p, "pv"),
                         *rids = json_object_get(p, "rids");
            if (!json_is_object(p) || (pv == NULL && rids == NULL))
                FAIL("tkps.pm[%zu] needs pv or rids", i);
            if (pv != NULL && ris == NULL)
                FAIL("tkps.pm[%zu]: pv needs ris (the resources it applies to)", i);
            if (ris && !strlist(ris, LIMIT_LIST_ITEMS, &x->ris, &x->nris))
                FAIL("tkps.pm[%zu].ris must be a list of resource IDs", i);
            if (rids && !strlist(rids, LIMIT_LIST_ITEMS, &x->rids, &x->nrids))
                FAIL("tkps.pm[%zu].rids must be a list of Role-IDs", i);
            if (pv != NULL) {
                char perr[200];
                x->pv = acp_compile(pv, env, perr, sizeof perr);
                if (x->pv == NULL)
                    FAIL("tkps.pm[%zu].pv: %.120s", i, perr);
            }
        }
    }
    json_decref(c);
    *out = t;
    return 0;
fail:
    json_decref(c);
    token_free(t);
    return -1;
}

/* ---- protection ------------------------------------------------------------------------------ */

/* Decode a base64url part as a JSON object. */
static json_t *part_json(const char *p, size_t n)
{
    uint8_t *raw = NULL;
    size_t rawlen = 0;
    cjose_err cerr;
    if (n == 0 || !cjose_base64url_decode(p, n, &raw, &rawlen, &cerr))
        return NULL;
    char e2[64];
    json_t *j = json_decode_body((const char *)raw, rawlen, e2, sizeof e2);
    cjose_get_dealloc()(raw);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

#define REFUSE(r, ...)                                                                                                 \
    do {                                                                                                               \
        *reason = (r);                                                                                                 \
        snprintf(detail, dlen, __VA_ARGS__);                                                                           \
        goto out;                                                                                                      \
    } while (0)

/* A JWS (or unsecured JWT); issuer_required: the issuer that decrypted the outer JWE, or NULL. */
static int verify_jws(const struct token_issuers *is, const struct id_env *env, const char *compact, size_t len,
                      const struct jose_parts *pt, const char *issuer_required, struct token **out, const char **reason,
                      char *detail, size_t dlen, char *prot, size_t protlen)
{
    int rc = -1;
    struct token *t = NULL;
    cjose_jws_t *jws = NULL;
    json_t *hdr = part_json(pt->p[0], pt->n[0]);
    uint8_t *payload = NULL;
    size_t plen = 0;
    cjose_err cerr;
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    const char *typ = json_string_value(json_object_get(hdr, "typ"));
    if (alg == NULL)
        REFUSE("malformed", "the JOSE header has no alg");
    if (typ != NULL && strcasecmp(typ, "JWT") != 0)
        REFUSE("malformed", "typ must be JWT");
    if (json_object_get(hdr, "crit") != NULL)
        REFUSE("malformed", "critical JOSE header parameters are not supported");
    /* the claims, still unverified, name the issuer whose keys must verify them */
    if (!cjose_base64url_decode(pt->p[1], pt->n[1], &payload, &plen, &cerr))
        REFUSE("malformed", "the payload is not base64url");
    char derr[200];
    if (decode_claims(env, payload, plen, &t, derr, sizeof derr) != 0)
        REFUSE("bad-claims", "%s", derr);
    const struct issuer *x = issuer_find(is, t->iss);
    if (x == NULL)
        REFUSE("unknown-issuer", "%s is not a configured Authorization Authority", t->iss);
    if (issuer_required && strcmp(issuer_required, t->iss) != 0)
        REFUSE("bad-claims", "the token was encrypted by %s but names issuer %s", issuer_required, t->iss);
    if (strcmp(alg, "none") == 0) {
        if (!x->unsecured)
            REFUSE("unsecured-not-permitted", "unsecured tokens (alg none) are not permitted from %s", t->iss);
        if (pt->n[2] != 0)
            REFUSE("malformed", "an unsecured JWT carries no signature");
        snprintf(prot, protlen, "none");
    } else {
        if (!alg_permitted(x, alg))
            REFUSE("alg-not-permitted", "alg %.16s is not permitted from %s", alg, t->iss);
        jws = cjose_jws_import(compact, len, &cerr);
        if (jws == NULL)
            REFUSE("malformed", "not a JWS in compact serialisation");
        bool ok = false;
        for (int k = 0; k < x->nkeys && !ok; k++)
            ok = cjose_jws_verify(jws, x->keys[k], &cerr);
        if (!ok)
            REFUSE("bad-signature", "no key of %s verifies the %.16s signature", t->iss, alg);
        snprintf(prot, protlen, "JWS %.16s", alg);
    }
    *out = t;
    t = NULL;
    rc = 0;
out:
    if (payload)
        cjose_get_dealloc()(payload);
    cjose_jws_release(jws);
    json_decref(hdr);
    token_free(t);
    return rc;
}

/* Bytes a base64url text of n characters (no padding) decodes to; -1 when no text has that length. */
static long b64url_len(size_t n)
{
    return n % 4 == 1 ? -1 : (long)(n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0));
}

/* cjose 0.6.2 trusts the lengths of a JWE's parts (a short IV is read past its end; found by
 * fuzz_token): only the content encryptions of RFC 7518 §5.1 pass, with their IV and tag lengths,
 * and an encrypted key that fits alg. */
static bool jwe_shape_ok(const char *alg, const char *enc, const struct jose_parts *pt)
{
    static const struct {
        const char *enc;
        long iv, tag;
    } encs[] = {{"A128GCM", 12, 16},       {"A192GCM", 12, 16},       {"A256GCM", 12, 16},
                {"A128CBC-HS256", 16, 16}, {"A192CBC-HS384", 16, 24}, {"A256CBC-HS512", 16, 32}};
    bool known = false;
    for (size_t i = 0; i < sizeof encs / sizeof encs[0] && !known; i++)
        known =
            strcmp(enc, encs[i].enc) == 0 && b64url_len(pt->n[2]) == encs[i].iv && b64url_len(pt->n[4]) == encs[i].tag;
    long ek = b64url_len(pt->n[1]);
    if (!known || ek < 0 || b64url_len(pt->n[3]) <= 0)
        return false;
    if (strcmp(alg, "dir") == 0)
        return ek == 0;
    if (strcmp(alg, "A128KW") == 0 || strcmp(alg, "A192KW") == 0 || strcmp(alg, "A256KW") == 0)
        return ek >= 24 && ek <= 72 && ek % 8 == 0;
    return ek > 0; /* RSA: the key's modulus length, checked by OpenSSL */
}

int token_verify(const struct token_issuers *is, const struct id_env *env, const char *compact, size_t len,
                 struct token **out, const char **reason, char *detail, size_t dlen)
{
    *out = NULL;
    *reason = "malformed";
    detail[0] = '\0';
    struct jose_parts pt;
    char prot[32] = "";
    if (len == 0 || len > MAX_TOKEN || !jose_split(compact, len, &pt)) {
        snprintf(detail, dlen, "not a JWS or JWE in compact serialisation");
        return -1;
    }
    if (pt.count == 3) {
        int rc = verify_jws(is, env, compact, len, &pt, NULL, out, reason, detail, dlen, prot, sizeof prot);
        if (rc == 0)
            snprintf((*out)->protection, sizeof(*out)->protection, "%s", prot);
        return rc;
    }

    int rc = -1;
    json_t *hdr = part_json(pt.p[0], pt.n[0]);
    cjose_jwe_t *jwe = NULL;
    uint8_t *plain = NULL;
    size_t plen = 0;
    cjose_err cerr;
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    const char *enc = json_string_value(json_object_get(hdr, "enc"));
    const char *kid = json_string_value(json_object_get(hdr, "kid"));
    const char *cty = json_string_value(json_object_get(hdr, "cty"));
    if (alg == NULL || enc == NULL)
        REFUSE("malformed", "the JWE header needs alg and enc");
    if (json_object_get(hdr, "crit") != NULL || json_object_get(hdr, "zip") != NULL)
        REFUSE("malformed", "crit and zip are not supported");
    if (!jwe_shape_ok(alg, enc, &pt))
        REFUSE("malformed", "JWE enc %.16s with alg %.16s: wrong key, IV or tag length", enc, alg);
    jwe = cjose_jwe_import(compact, len, &cerr);
    if (jwe == NULL)
        REFUSE("malformed", "not a JWE in compact serialisation");
    /* the issuer is whoever holds the key that decrypts it, among those permitting alg */
    const struct issuer *by = NULL;
    bool any_permits = false;
    for (int i = 0; i < is->n && plain == NULL; i++) {
        const struct issuer *x = &is->v[i];
        if (!alg_permitted(x, alg))
            continue;
        any_permits = true;
        for (int k = 0; k < x->nkeys && plain == NULL; k++) {
            const char *key_kid = cjose_jwk_get_kid(x->keys[k], &cerr);
            if (kid != NULL && (key_kid == NULL || strcmp(kid, key_kid) != 0))
                continue;
            plain = cjose_jwe_decrypt(jwe, x->keys[k], &plen, &cerr);
            if (plain)
                by = x;
        }
    }
    if (!any_permits)
        REFUSE("alg-not-permitted", "no Authorization Authority permits JWE alg %.16s", alg);
    if (plain == NULL)
        REFUSE("undecryptable", "no configured key decrypts the JWE");
    snprintf(prot, sizeof prot, "JWE %.8s %.13s", alg, enc);
    bool nested = cty != NULL && strcasecmp(cty, "JWT") == 0;
    if (!nested && alg_public_key_wrap(alg)) /* anyone can encrypt to a public key (RFC 8725 §2.1) */
        REFUSE("unsigned-jwe", "a JWE with alg %.16s proves no origin: it must carry a JWS of %s (cty JWT)", alg,
               by->id);
    if (nested) { /* sign-then-encrypt: the content is a JWS */
        struct jose_parts inner;
        if (!jose_split((const char *)plain, plen, &inner) || inner.count != 3)
            REFUSE("malformed", "a nested token must be a JWS");
        char iprot[32];
        if (verify_jws(is, env, (const char *)plain, plen, &inner, by->id, out, reason, detail, dlen, iprot,
                       sizeof iprot) != 0)
            goto out;
        if (strcmp(iprot, "none") == 0) {
            token_free(*out);
            *out = NULL;
            REFUSE("malformed", "a nested JWS must be signed");
        }
        snprintf((*out)->protection, sizeof(*out)->protection, "%.14s + %.14s", prot, iprot);
    } else {
        char derr[200];
        if (decode_claims(env, plain, plen, out, derr, sizeof derr) != 0)
            REFUSE("bad-claims", "%s", derr);
        if (strcmp((*out)->iss, by->id) != 0) {
            token_free(*out);
            *out = NULL;
            REFUSE("bad-claims", "the token was encrypted by %s but names another issuer", by->id);
        }
        snprintf((*out)->protection, sizeof(*out)->protection, "%s", prot);
    }
    rc = 0;
out:
    if (plain)
        cjose_get_dealloc()(plain);
    cjose_jwe_release(jwe);
    json_decref(hdr);
    return rc;
}

bool token_check(const struct token *t, const char *originator, const char *own_cse, int64_t now, const char **reason)
{
    if (originator == NULL || strcmp(t->holder, originator) != 0) {
        *reason = "wrong-holder";
        return false;
    }
    if (now < t->nbf) {
        *reason = "not-yet-valid";
        return false;
    }
    if (now >= t->exp) {
        *reason = "expired";
        return false;
    }
    if (t->naud > 0) {
        bool mine = false;
        for (int i = 0; i < t->naud && !mine; i++)
            mine = strcmp(t->aud[i], own_cse) == 0;
        if (!mine) {
            *reason = "wrong-audience";
            return false;
        }
    }
    *reason = "valid";
    return true;
}

bool token_perm_covers(const struct token_perm *pm, const char *ri, const char *path)
{
    if (pm->nris == 0)
        return true;
    for (int i = 0; i < pm->nris; i++)
        if (strcmp(pm->ris[i], ri) == 0 || (path != NULL && strcmp(pm->ris[i], path) == 0))
            return true;
    return false;
}
