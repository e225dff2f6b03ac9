/* cred_int: the credential store's ops table, for its implementations (store/cred_sqlite.c; later
 * PostgreSQL, PKCS#11-held keys) and for the backend object that commits a registration and its
 * credential binding in one transaction (store/backend.h). Everyone else uses security/cred.h,
 * whose functions dispatch through this table. */
#ifndef WARDEN_SECURITY_CRED_INT_H
#define WARDEN_SECURITY_CRED_INT_H

#include "cred.h"
#include "e2e_keys.h"

/* One credential store implementation (ARCHITECTURE.md "Store interface": the credential store has
 * an ops table of its own). Each entry has the contract of the cred.h function of the same name;
 * every entry is mandatory. */
struct cred_ops {
    const char *name; /* "sqlite" */
    void (*close)(struct cred_store *cs);
    uint64_t (*generation)(struct cred_store *cs);
    int (*watch_start)(struct cred_store *cs, int interval_ms);
    void (*touch)(struct cred_store *cs);
    enum cred_status (*audit_key)(struct cred_store *cs, bool create, unsigned char key[CRED_AUDIT_KEY_LEN]);
    /* provisioned symmetric keys (TS-0003 §8.2.2.1) */
    enum cred_status (*psk_add)(struct cred_store *cs, const char *kpsa_id, const unsigned char *key, size_t key_len,
                                const char *binding);
    enum cred_status (*psk_get)(struct cred_store *cs, const char *kpsa_id, struct cred_psk_info *out);
    enum cred_status (*psk_key)(struct cred_store *cs, const char *kpsa_id, unsigned char *key, size_t *key_len);
    enum cred_status (*psk_revoke)(struct cred_store *cs, const char *kpsa_id);
    enum cred_status (*psk_list)(struct cred_store *cs, void (*fn)(void *arg, const struct cred_psk_info *info),
                                 void *arg);
    /* The registration binding: bind a key provisioned with "-" (stored form of kpsa_id) to the
     * canonical AE-ID a registration allocates, inside the resource store's write transaction txn
     * (the backend's native handle of it: for SQLite the writer's sqlite3 connection), so that both
     * commit or neither does. CRED_OK, CRED_CONFLICT (bound already, or revoked: another
     * registration won) or CRED_ERROR. Called only by a backend (store/backend.h) that owns both
     * stores and knows they share that transaction. */
    enum cred_status (*psk_bind_in)(struct cred_store *cs, void *txn, const char *kpsa_id, const char *canon_id);
    /* certificate revocation by serial */
    enum cred_status (*cert_revoke)(struct cred_store *cs, const char *serial);
    enum cred_status (*cert_list)(struct cred_store *cs, void (*fn)(void *arg, const char *serial, int64_t revoked),
                                  void *arg);
    enum cred_status (*cert_status)(struct cred_store *cs, const char *serial);
    /* End-to-end keys (TS-0003 §8.4, §8.7, §10.3.6): the contracts of security/e2e_keys.h's
     * e2e_key_put, _get, _find_pair, _revoke and _list, called with arguments already checked there.
     * Later: PKCS#11-held keys (a key handle instead of key bytes). */
    int (*e2e_put)(struct cred_store *cs, const struct e2e_key *k);
    int (*e2e_get)(struct cred_store *cs, const char *kid, struct e2e_key *out);
    int (*e2e_find_pair)(struct cred_store *cs, const char *a, const char *b, struct e2e_key *out);
    int (*e2e_revoke)(struct cred_store *cs, const char *kid);
    int (*e2e_list)(struct cred_store *cs, void (*fn)(void *arg, const struct e2e_key_info *info), void *arg);
};

/* Every implementation's struct cred_store begins with this (its first member), so that the cred.h
 * functions find the table without knowing the implementation. */
struct cred_head {
    const struct cred_ops *ops;
};

static inline const struct cred_ops *cred_ops_of(struct cred_store *cs)
{
    return ((const struct cred_head *)(const void *)cs)->ops;
}

#endif
