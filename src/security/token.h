/* token: oneM2M JSON Web Tokens (TS-0003 §7.3.2.4-7.3.2.6; TS-0004 §6.3.5.41-42) and the
 * Authorization Authorities that issue them and <role> resources. A token is a JWS (signed), a JWE
 * (encrypted), or a JWE around a JWS (cty "JWT"), in compact serialisation, verified with cjose
 * against the keys configured for its issuer; an unsecured JWT (alg "none") is accepted only from
 * an issuer whose policy says so. Pure: no clock (now is a parameter), no store, no sockets; the
 * fuzzer drives token_verify directly. */
#ifndef WARDEN_SECURITY_TOKEN_H
#define WARDEN_SECURITY_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/id.h"

struct acp_policy;
struct token_issuers; /* immutable once loaded: shared between threads */

/* The Authorization Authorities, from JSON:
 *   {"issuers": [{"id": "CAuth", "keys": [JWK, ...], "algs": ["ES256", "HS256", "dir", ...],
 *                 "unsecured": false, "roles": true}]}
 * id: the issuer's AE-ID or CSE-ID (any form; compared canonically); keys: JWKs (EC P-256 public
 * keys for ES256, oct keys for HS256 and for JWE key wrapping / direct encryption); algs: the JWS
 * and JWE "alg" values accepted from it (default ES256, HS256, dir, A128KW, A256KW); unsecured:
 * accept alg "none" (default false); roles: it may issue <role> resources (default true); das: the
 * addresses (dap entries) of the Dynamic Authorization Servers that answer as this issuer: a token
 * in a DAS's answer is accepted only from an issuer that lists that DAS (default none).
 * NULL + err naming the offending entry when malformed. */
struct token_issuers *token_issuers_parse(const char *json, size_t len, const struct id_env *env, char *err,
                                          size_t errlen);
struct token_issuers *token_issuers_load(const char *path, const struct id_env *env, char *err, size_t errlen);
void token_issuers_free(struct token_issuers *is);
/* Does the issuer canon list das_uri among its "das" (a DAS that answers as this issuer)? */
bool token_issuer_answers_at(const struct token_issuers *is, const char *canon, const char *das_uri);
/* Is canon (a canonical ID) an Authorization Authority allowed to issue roles? */
bool token_issuer_issues_roles(const struct token_issuers *is, const char *canon);

/* One m2m:tokenPermission: pv (an extra accessControlPolicy) applies to the resources in ris;
 * rids are Role-IDs the token vouches for (for the resources in ris, or for any when ris is empty). */
struct token_perm {
    char **ris;
    int nris;
    struct acp_policy *pv; /* NULL when absent */
    char **rids;
    int nrids;
};

/* A verified token's claims (m2m:tokenClaimSet as JWT claims, TS-0003 §7.3.2.6). */
struct token {
    char *jti;    /* tokenID */
    char *iss;    /* issuer, canonical */
    char *holder; /* azp, canonical */
    char *name;   /* tknm, may be NULL */
    int64_t nbf, exp;
    char **aud; /* canonical; naud 0 = no audience restriction */
    int naud;
    struct token_perm *pm;
    int npm;
    char protection[32]; /* how it was protected: "JWS ES256", "JWE dir A256GCM + JWS HS256", "none" */
};

/* Step 1 of TS-0003 §7.3.2.5 plus decoding: check the protection against the issuer's keys and
 * permitted algorithms, then decode and validate the claims' syntax. Returns 0 with *out (free with
 * token_free), or -1 with *reason a static machine-readable string ("malformed", "unknown-issuer",
 * "alg-not-permitted", "unsecured-not-permitted", "bad-signature", "undecryptable", "bad-claims",
 * "unsigned-jwe": a JWE by public-key key management without a nested JWS of its issuer) and detail
 * a short human explanation. */
int token_verify(const struct token_issuers *is, const struct id_env *env, const char *compact, size_t len,
                 struct token **out, const char **reason, char *detail, size_t dlen);

/* Step 2: the content. holder must be the originator (canonical), now within nbf..exp, and own_cse
 * (this CSE's canonical CSE-ID) in aud when aud is present. Returns true, or false with *reason
 * ("wrong-holder", "not-yet-valid", "expired", "wrong-audience"). */
bool token_check(const struct token *t, const char *originator, const char *own_cse, int64_t now, const char **reason);

/* Does the permission's resourceIDs list name the resource (by resourceID ri or by its CSE-relative
 * structured address path)? An empty list covers every resource. */
bool token_perm_covers(const struct token_perm *pm, const char *ri, const char *path);

void token_free(struct token *t);

#endif
