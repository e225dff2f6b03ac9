/* cred_sqlite_int: the credential store's SQLite connections, lent to the tables of other
 * credential kinds kept in the same file (store/cred_e2e_sqlite.c: the end-to-end keys). Private to
 * src/store/. */
#ifndef WARDEN_STORE_CRED_SQLITE_INT_H
#define WARDEN_STORE_CRED_SQLITE_INT_H

#include <sqlite3.h>
#include <stdbool.h>

struct cred_store;
struct e2e_key;
struct e2e_key_info;

/* Call fn with the read connection (write: the write connection) under its lock and return what fn
 * returned. A write fn that changed a credential bumps cred_version in its own transaction and
 * returns > 0: the store's generation then moves in this process too. */
int cred_sqlite_with_db(struct cred_store *cs, bool write, int (*fn)(sqlite3 *db, void *arg), void *arg);

/* store/cred_e2e_sqlite.c: the end-to-end key entries of the SQLite ops table (security/cred_int.h) */
int cred_sqlite_e2e_put(struct cred_store *cs, const struct e2e_key *k);
int cred_sqlite_e2e_get(struct cred_store *cs, const char *kid, struct e2e_key *out);
int cred_sqlite_e2e_find_pair(struct cred_store *cs, const char *a, const char *b, struct e2e_key *out);
int cred_sqlite_e2e_revoke(struct cred_store *cs, const char *kid);
int cred_sqlite_e2e_list(struct cred_store *cs, void (*fn)(void *arg, const struct e2e_key_info *info), void *arg);

#endif
