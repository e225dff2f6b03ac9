/* backend: the object that owns one database's two stores, the resource store (store.h) and the
 * credential store (security/cred.h), and performs what must commit in both at once
 * (ARCHITECTURE.md "Store interface": a registration that binds a credential commits both in one
 * transaction through a backend object that owns both, not through a hook in the resource store).
 * SQLite first (backend_sqlite.c: both live in the same file, so one write transaction holds both);
 * PostgreSQL later behind the same ops. */
#ifndef WARDEN_STORE_BACKEND_H
#define WARDEN_STORE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"

struct cred_store;
struct backend;

struct backend_ops {
    const char *name; /* "sqlite" */
    /* Inside a write job's transaction txn of the backend's resource store (a registration creating
     * its AE): bind the pre-shared key kpsa_id (stored form, cred_kpsaid_norm), provisioned with "-",
     * to canon_id, so that the AE and the binding commit together or not at all (TS-0003 §8.2.2.1).
     * STORE_OK, STORE_CONFLICT (the key is bound already or revoked: another registration won) or
     * STORE_ERROR. The caller tells the credential caches after the commit (cred_touch). */
    int (*bind_credential)(struct backend *b, struct store_view *txn, const char *kpsa_id, const char *canon_id);
    /* Close both stores (when owned) and free b. */
    void (*close)(struct backend *b);
};

struct backend {
    const struct backend_ops *ops;
    struct store *store;      /* the resource store */
    struct cred_store *creds; /* the credential store */
    bool owned;               /* close() closes both (backend_sqlite_open) */
};

/* Open the resource store and the credential store of the SQLite database at path (store_sqlite_open,
 * cred_open): NULL + err when either fails (nothing left open). The backend owns both. */
struct backend *backend_sqlite_open(const char *path, bool sync_full, int readers, char *err, size_t errlen);
/* A backend over a resource store and a credential store already open on the same SQLite file
 * (tests, tools): not owned, close() frees only the backend. */
struct backend *backend_sqlite_over(struct store *store, struct cred_store *creds);

#endif
