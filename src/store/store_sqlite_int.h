/* store_sqlite_int: what the SQLite backend (backend_sqlite.c) needs of the SQLite resource store
 * beyond store.h. Nothing else includes it. */
#ifndef WARDEN_STORE_STORE_SQLITE_INT_H
#define WARDEN_STORE_STORE_SQLITE_INT_H

#include <sqlite3.h>

#include "store/store.h"

/* The connection of view v (a write job's transaction inside a job's run): statements run on it are
 * part of that transaction. */
sqlite3 *store_sqlite_view_db(struct store_view *v);

#endif
