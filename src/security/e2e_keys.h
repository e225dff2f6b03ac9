/* End-to-end pairwise keys (TS-0003 §8.4 pairwiseESPrimKey, §8.7 ESCertKE, §10.3.6 derivation from
 * a Kpsa), held in the credential store (same SQLite file, own table, created by a migration). */
#ifndef WARDEN_SECURITY_E2E_KEYS_H
#define WARDEN_SECURITY_E2E_KEYS_H

#include <stddef.h>
#include <stdint.h>

enum e2e_key_source { E2E_KEY_PROVISIONED = 1, E2E_KEY_KPSA_DERIVED = 2, E2E_KEY_ESCERTKE = 3 };
struct e2e_key {
    char kid[129];      /* the key's ID: the JWE "kid" of ESPrim (ASCII, no '/' rules imposed) */
    char local_id[257]; /* canonical ID of this end (this CSE's CSE-ID or, client side, an AE-ID) */
    char peer_id[257];  /* canonical ID of the other end */
    unsigned char key[64];
    size_t key_len; /* 16, 24 or 32 */
    enum e2e_key_source source;
    int64_t created_s; /* Unix seconds */
    int64_t expires_s; /* 0: no expiry */
};
struct cred_store;
/* 0 stored; 1 kid exists already; -1 error. The key bytes are wiped from memory by callers after use. */
int e2e_key_put(struct cred_store *cs, const struct e2e_key *k);
/* 0 found (out filled), 1 unknown, revoked or expired, -1 error. */
int e2e_key_get(struct cred_store *cs, const char *kid, struct e2e_key *out);
/* the newest live key bound to the pair (either order); same returns. */
int e2e_key_find_pair(struct cred_store *cs, const char *a, const char *b, struct e2e_key *out);
/* 0 revoked (takes effect for the next request: no cache may outlive it), 1 unknown, -1 error. */
int e2e_key_revoke(struct cred_store *cs, const char *kid);

/* Extensions (added, per the shared interface's rule; the functions above are unchanged). */

/* What `wardenctl e2e list` shows: never key bytes. */
struct e2e_key_info {
    char kid[129];
    char local_id[257];
    char peer_id[257];
    size_t key_len;
    enum e2e_key_source source;
    int64_t created_s;
    int64_t expires_s;
    int64_t revoked_s; /* 0: live */
};
/* Call fn for every key (live, expired or revoked), ordered by kid. 0, or -1 on error. */
int e2e_key_list(struct cred_store *cs, void (*fn)(void *arg, const struct e2e_key_info *info), void *arg);
/* A kid as the store accepts it: 1..128 printable ASCII characters, no space, no '"' or '\\'. */
int e2e_kid_ok(const char *kid);

#endif
