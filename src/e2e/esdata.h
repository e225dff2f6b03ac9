/* esdata: End-to-End Security of Data (ESData, TS-0003 §8.5) in JOSE, for the applications at the two
 * end-points (the CSE in between never needs a key): produce and open signature-only (JWS),
 * encryption-only (JWE) and nested sign-then-encrypt (JWS inside JWE, §8.5.2.4) envelopes, with
 * cjose doing the cryptography.
 *
 * What is supported (TS-0003 §8.5.3.2, §8.5.3.3, with what cjose 0.6.2 implements):
 *   JWS: HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512 (compact serialisation only:
 *        cjose has no JWS JSON serialisation);
 *   JWE: dir, A128KW, A192KW, A256KW with A128GCM, A192GCM, A256GCM (compact serialisation, and the
 *        flattened JSON serialisation); RSA-OAEP (SHA-1) as an opt-in extra outside TS-0003
 *        Table 8.5.3.2-3. RSA-OAEP-256 and ECDH-ES+A*KW, which that table names, are not in
 *        cjose 0.6.2 and are refused (ESDATA_E_ALG); so is ECDH-ES (direct agreement, outside
 *        the table too): cjose 0.6.2 leaks memory on every ECDH-ES decryption.
 *
 * Opening is strict: the caller names the algorithms it accepts (never "none", which is not even
 * representable), the key must fit the algorithm (an HMAC is never checked with a public key, an
 * ES256 signature never with a P-384 key: no key confusion), the lengths of every part are
 * checked before cjose sees them, crit/zip/b64 headers are refused, and the input is bounded.
 *
 * Memory: everything returned is malloc'd; free it with esdata_free / esdata_opened_free /
 * esdata_key_free. Thread-safe: no state outside the arguments. */
#ifndef WARDEN_E2E_ESDATA_H
#define WARDEN_E2E_ESDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Input bound of esdata_open when the policy names none (a CSE's content is bounded far below). */
#define ESDATA_MAX_LEN (4u * 1024u * 1024u)
/* Bound of a decoded protected header. */
#define ESDATA_MAX_HEADER 4096u

enum esdata_err {
    ESDATA_OK = 0,
    ESDATA_E_ARG,           /* a NULL or contradictory argument */
    ESDATA_E_TOO_LARGE,     /* the input is longer than the bound */
    ESDATA_E_SYNTAX,        /* not a JWS/JWE serialisation: parts, base64url, header JSON, lengths */
    ESDATA_E_ALG,           /* alg or enc not allowed by the caller, unknown, or "none" */
    ESDATA_E_UNSUPPORTED,   /* a header this implementation does not process (crit, zip, b64) */
    ESDATA_E_KEY_FORMAT,    /* the key text is not a JWK, PEM key or certificate, or hex secret */
    ESDATA_E_KEY_MISMATCH,  /* the key does not fit the algorithm (type, curve, size) */
    ESDATA_E_NO_KEY,        /* the envelope needs a key the caller did not give */
    ESDATA_E_BAD_SIGNATURE, /* the signature or MIC does not verify */
    ESDATA_E_DECRYPT,       /* decryption failed: another key, or a modified header, key, IV, text or tag */
    ESDATA_E_UNSIGNED,      /* a signature was required and is absent, or a nested one is not asymmetric */
    ESDATA_E_INTERNAL,      /* out of memory or a cryptographic library failure */
};

/* A short English description of e (static). */
const char *esdata_strerror(enum esdata_err e);

/* The algorithms (RFC 7518 "alg" values), as bits so that an allow-list is their OR. */
enum esdata_alg {
    ESDATA_HS256 = 1u << 0,
    ESDATA_HS384 = 1u << 1,
    ESDATA_HS512 = 1u << 2,
    ESDATA_RS256 = 1u << 3,
    ESDATA_RS384 = 1u << 4,
    ESDATA_RS512 = 1u << 5,
    ESDATA_PS256 = 1u << 6,
    ESDATA_PS384 = 1u << 7,
    ESDATA_PS512 = 1u << 8,
    ESDATA_ES256 = 1u << 9,
    ESDATA_ES384 = 1u << 10,
    ESDATA_ES512 = 1u << 11,
    ESDATA_DIR = 1u << 12,
    ESDATA_A128KW = 1u << 13,
    ESDATA_A192KW = 1u << 14,
    ESDATA_A256KW = 1u << 15,
    ESDATA_RSA_OAEP = 1u << 16, /* not in TS-0003 Table 8.5.3.2-3: opt-in */
};
#define ESDATA_HMAC_ALGS (ESDATA_HS256 | ESDATA_HS384 | ESDATA_HS512)
/* Signatures by a private key: the only ones allowed inside a nested envelope (TS-0003 §8.5.2.4). */
#define ESDATA_ASYM_SIG_ALGS                                                                                           \
    (ESDATA_RS256 | ESDATA_RS384 | ESDATA_RS512 | ESDATA_PS256 | ESDATA_PS384 | ESDATA_PS512 | ESDATA_ES256 |          \
     ESDATA_ES384 | ESDATA_ES512)
#define ESDATA_SIG_ALGS (ESDATA_HMAC_ALGS | ESDATA_ASYM_SIG_ALGS)
/* Key management of TS-0003 Table 8.5.3.2-3 that cjose implements. */
#define ESDATA_TS0003_KEY_ALGS (ESDATA_DIR | ESDATA_A128KW | ESDATA_A192KW | ESDATA_A256KW)
#define ESDATA_KEY_ALGS        (ESDATA_TS0003_KEY_ALGS | ESDATA_RSA_OAEP)

/* Content encryption (TS-0003 Table 8.5.3.2-4). */
enum esdata_enc {
    ESDATA_A128GCM = 1u << 0,
    ESDATA_A192GCM = 1u << 1,
    ESDATA_A256GCM = 1u << 2,
};
#define ESDATA_ENCS (ESDATA_A128GCM | ESDATA_A192GCM | ESDATA_A256GCM)

/* The JOSE name of one algorithm ("ES256"), NULL for anything else; and back (0: unknown). */
const char *esdata_alg_name(enum esdata_alg a);
enum esdata_alg esdata_alg_from_name(const char *name);
const char *esdata_enc_name(enum esdata_enc e);
enum esdata_enc esdata_enc_from_name(const char *name);

/* A key: a symmetric secret, or an RSA / EC key pair or public key. */
struct esdata_key;

/* Parse a key from text: a JWK (JSON object), a PEM private key (PKCS#8, SEC1 or PKCS#1), a PEM
 * public key, a PEM X.509 certificate (its public key: the peer's or source's certificate of
 * TS-0003 §8.5.2.2.4 / §8.5.2.3.2; the caller decides whether it trusts it), or a symmetric secret
 * written as 32 to 128 hex digits. *out: free with esdata_key_free. */
enum esdata_err esdata_key_parse(const char *text, size_t len, struct esdata_key **out /* OUT */);
/* A symmetric key from raw bytes (16 to 64). */
enum esdata_err esdata_key_secret(const unsigned char *k, size_t n, struct esdata_key **out /* OUT */);
void esdata_key_free(struct esdata_key *k);

/* What to produce: a signature (sign_alg != 0), an encryption (key_alg != 0), or both (nested
 * sign-then-encrypt: the JWE's content is the JWS, announced by "cty":"JOSE"). kid: optional
 * key identifiers put in the headers. json: the JWE in flattened JSON serialisation (only for an
 * envelope with encryption; cnf suffix 2), else compact (cnf suffix 1). */
struct esdata_protect {
    enum esdata_alg sign_alg;
    const struct esdata_key *sign_key;
    const char *sign_kid;
    enum esdata_alg key_alg;
    enum esdata_enc enc;
    const struct esdata_key *enc_key;
    const char *enc_kid;
    bool json;
};

/* Protect payload[0..len). *out: the envelope, NUL-terminated (free with esdata_free). Nested
 * needs an asymmetric signature (TS-0003 §8.5.2.4): ESDATA_E_UNSIGNED otherwise. */
enum esdata_err esdata_protect(const struct esdata_protect *p, const unsigned char *payload, size_t len,
                               char **out /* OUT */);
void esdata_free(void *p);

/* What an opener accepts. algs: allowed esdata_alg bits (signature and key management alike);
 * encs: allowed esdata_enc bits. A JWS needs verify_key, a JWE decrypt_key, a nested envelope both.
 * require_signature: refuse what carries no signature (an encryption-only envelope). max_len: the
 * input bound (0: ESDATA_MAX_LEN). */
struct esdata_policy {
    uint32_t algs;
    uint32_t encs;
    const struct esdata_key *verify_key;
    const struct esdata_key *decrypt_key;
    bool require_signature;
    size_t max_len;
};

/* What was opened: the verified or decrypted payload and how it was protected (0 for a step that
 * was absent). */
struct esdata_opened {
    unsigned char *payload; /* malloc'd, NUL-terminated beyond len */
    size_t len;
    enum esdata_alg sign_alg;
    enum esdata_alg key_alg;
    enum esdata_enc enc;
    bool json; /* it was a JWE in JSON serialisation */
};

/* Verify and/or decrypt an envelope (compact, or a JWE in flattened JSON serialisation). On
 * ESDATA_OK, *out is filled (free with esdata_opened_free); on an error it is zeroed. */
enum esdata_err esdata_open(const char *in, size_t len, const struct esdata_policy *p,
                            struct esdata_opened *out /* OUT */);
void esdata_opened_free(struct esdata_opened *o);

/* Syntax only, without a key (what a CSE can check, TS-0004 §6.3.4.2.38 value 1): 3 when s is a
 * JWS compact serialisation (three base64url parts, a protected header that is a JSON object with
 * a string alg), 5 when it is a JWE compact serialisation (five parts, alg and enc), 0 otherwise. */
int esdata_compact_kind(const char *s, size_t len);
/* Syntax only: is s a JOSE JSON serialisation (a JSON object with "ciphertext", or with "payload"
 * and "signature"/"signatures"; value 2)? */
bool esdata_json_shape_ok(const char *s, size_t len);

#endif
