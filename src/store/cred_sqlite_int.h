/* cred_sqlite_int: the credential store's SQLite connections, lent to the tables of other
 * credential kinds kept in the same file (store/cred_e2e_sqlite.c: the end-to-end keys). Private to
 * src/store/. */
#ifndef WARDEN_STORE_CRED_SQLITE_INT_H
#define WARDEN_STORE_CRED_SQLITE_INT_H

#include <sqlite3.h>
#include <stdbool.h>

struct cred_store;

/* Call fn with the read connection (write: the write connection) under its lock and return what fn
 * returned. A write fn that changed a credential bumps cred_version in its own transaction and
 * returns > 0: the store's generation then moves in this process too. */
int cred_sqlite_with_db(struct cred_store *cs, bool write, int (*fn)(sqlite3 *db, void *arg), void *arg);

#endif
