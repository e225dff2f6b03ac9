/* backend_sqlite: the SQLite backend (store/backend.h). The resource tables and the credential tables
 * are in one database file, so the credential binding of a registration runs, through the
 * credential store's own ops (psk_bind_in), on the connection of the resource store's write
 * transaction: one commit covers both. Neither store knows the other's tables. */
#include <stdio.h>

#include "security/cred.h"
#include "security/cred_int.h"
#include "store/backend.h"
#include "store/store_sqlite_int.h"
#include "util/mem.h"

static int sqlb_bind_credential(struct backend *b, struct store_view *txn, const char *kpsa_id, const char *canon_id)
{
    if (b->creds == NULL)
        return STORE_ERROR;
    switch (cred_ops_of(b->creds)->psk_bind_in(b->creds, store_sqlite_view_db(txn), kpsa_id, canon_id)) {
    case CRED_OK: return STORE_OK;
    case CRED_CONFLICT: return STORE_CONFLICT;
    default: return STORE_ERROR;
    }
}

static void sqlb_close(struct backend *b)
{
    if (b == NULL)
        return;
    if (b->owned) {
        cred_close(b->creds);
        if (b->store)
            b->store->ops->close(b->store);
    }
    mem_free(b);
}

static const struct backend_ops sqlite_backend_ops = {
    .name = "sqlite",
    .bind_credential = sqlb_bind_credential,
    .close = sqlb_close,
};

struct backend *backend_sqlite_over(struct store *store, struct cred_store *creds)
{
    struct backend *b = mem_calloc(1, sizeof *b);
    b->ops = &sqlite_backend_ops;
    b->store = store;
    b->creds = creds;
    return b;
}

struct backend *backend_sqlite_open(const char *path, bool sync_full, int readers, char *err, size_t errlen)
{
    struct store *st = store_sqlite_open(path, sync_full, readers, err, errlen);
    if (st == NULL)
        return NULL;
    struct cred_store *cs = cred_open(path, err, errlen);
    if (cs == NULL) {
        st->ops->close(st);
        return NULL;
    }
    struct backend *b = backend_sqlite_over(st, cs);
    b->owned = true;
    return b;
}
