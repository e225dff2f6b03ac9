/* cred_sqlite: the credential store (security/cred.h) in the CSE's SQLite database, beside the
 * resource tables, so that wardenctl (another process) and the server see the same credentials.
 *
 * Two connections: reads (the lookups of every handshake, statements prepared once) under lock, and
 * writes under wlock, so that a write waiting for SQLite's write lock never stalls a handshake.
 * Every write bumps cred_version in the same transaction; the server polls that row to learn about
 * changes made by wardenctl (a revoked key must stop working at once, PRODUCT.md). Revocation erases
 * the key with secure_delete on, then truncates the WAL (best effort: a busy server may keep older
 * frames holding the key until its next checkpoint reuses them). KpsaIDs compare with the FQDN part
 * in lower case (DNS names are case-insensitive). */
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "security/cred.h"
#include "store/cred_sqlite_int.h"
#include "security/cred_int.h"
#include "util/fsutil.h"
#include "util/mem.h"
#include "util/rand.h"

struct cred_store {
    struct cred_head h; /* first: the ops table (security/cred_int.h) */
    sqlite3 *db;        /* reads */
    pthread_mutex_t lock;
    sqlite3 *wdb; /* writes */
    pthread_mutex_t wlock;
    atomic_uint_fast64_t gen;
    int64_t seen_version; /* last cred_version read by the watcher */
    pthread_t watcher;
    bool watching;
    pthread_mutex_t watch_lock;
    pthread_cond_t watch_cond;
    bool stopping;
    int interval_ms;
    sqlite3_stmt *cached[4]; /* the lookups of every handshake, prepared once (guarded by lock) */
};

enum { Q_PSK_GET, Q_PSK_KEY, Q_CERT_STATUS, Q_VERSION };
static const char *const queries[] = {
    [Q_PSK_GET] = "SELECT kpsa_id, binding, created, revoked FROM cred_psk WHERE kpsa_id = ?1",
    [Q_PSK_KEY] = "SELECT key, revoked FROM cred_psk WHERE kpsa_id = ?1",
    [Q_CERT_STATUS] = "SELECT 1 FROM cred_cert_revoked WHERE serial = ?1",
    [Q_VERSION] = "SELECT v FROM cred_version WHERE id = 1",
};

/* A cached statement, ready to bind (call with cs->lock held; hand it back with done()). */
static sqlite3_stmt *query(struct cred_store *cs, int q)
{
    if (cs->cached[q] == NULL &&
        sqlite3_prepare_v3(cs->db, queries[q], -1, SQLITE_PREPARE_PERSISTENT, &cs->cached[q], NULL) != SQLITE_OK)
        return NULL;
    return cs->cached[q];
}

/* Reset ends the statement's read transaction, so later lookups see other processes' commits. */
static void done(sqlite3_stmt *st)
{
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

static const char schema[] = "CREATE TABLE IF NOT EXISTS cred_psk("
                             " kpsa_id TEXT PRIMARY KEY, key BLOB, binding TEXT NOT NULL,"
                             " created INTEGER NOT NULL, revoked INTEGER) WITHOUT ROWID;"
                             "CREATE TABLE IF NOT EXISTS cred_cert_revoked("
                             " serial TEXT PRIMARY KEY, revoked INTEGER NOT NULL) WITHOUT ROWID;"
                             "CREATE TABLE IF NOT EXISTS cred_version(id INTEGER PRIMARY KEY CHECK (id = 1),"
                             " v INTEGER NOT NULL);"
                             "INSERT OR IGNORE INTO cred_version VALUES (1, 0);";

static sqlite3 *open_db(const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "credentials: cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    return db;
}

/* The tables, when missing (taking the write lock only then: wardenctl psk list writes nothing). */
static int ensure_schema(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    bool have = false;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE name = 'cred_version'", -1, &st, NULL) == SQLITE_OK)
        have = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (have)
        return 0;
    char *msg = NULL;
    if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; BEGIN IMMEDIATE;", NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(db, schema, NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "credentials: %s: %s", path, msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

static const struct cred_ops cred_sqlite_ops;

struct cred_store *cred_open(const char *path, char *err, size_t errlen)
{
    /* Create the file owner-only when it is new. Never open() and close() an existing database:
     * closing any descriptor of a file drops every POSIX lock this process holds on it, including
     * those of the resource store's SQLite connections (sqlite.org/howtocorrupt.html §2.2). */
    struct stat stbuf;
    if (stat(path, &stbuf) != 0 && fs_create_private_file(path, err, errlen) != 0)
        return NULL;
    sqlite3 *db = open_db(path, err, errlen), *wdb = db ? open_db(path, err, errlen) : NULL;
    if (wdb == NULL || ensure_schema(wdb, path, err, errlen) != 0 ||
        sqlite3_exec(wdb, "PRAGMA synchronous=FULL; PRAGMA secure_delete=ON;", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_close(wdb);
        sqlite3_close(db);
        return NULL;
    }
    struct cred_store *cs = mem_calloc(1, sizeof *cs);
    cs->h.ops = &cred_sqlite_ops;
    cs->db = db;
    cs->wdb = wdb;
    cs->seen_version = -1;
    pthread_mutex_init(&cs->lock, NULL);
    pthread_mutex_init(&cs->wlock, NULL);
    pthread_mutex_init(&cs->watch_lock, NULL);
    pthread_cond_init(&cs->watch_cond, NULL);
    return cs;
}

static void sq_close(struct cred_store *cs)
{
    if (cs == NULL)
        return;
    if (cs->watching) {
        pthread_mutex_lock(&cs->watch_lock);
        cs->stopping = true;
        pthread_cond_signal(&cs->watch_cond);
        pthread_mutex_unlock(&cs->watch_lock);
        pthread_join(cs->watcher, NULL);
    }
    for (size_t i = 0; i < sizeof cs->cached / sizeof cs->cached[0]; i++)
        sqlite3_finalize(cs->cached[i]);
    sqlite3_close(cs->wdb);
    sqlite3_close(cs->db);
    pthread_mutex_destroy(&cs->lock);
    pthread_mutex_destroy(&cs->wlock);
    pthread_mutex_destroy(&cs->watch_lock);
    pthread_cond_destroy(&cs->watch_cond);
    mem_free(cs);
}

static uint64_t sq_generation(struct cred_store *cs)
{
    return atomic_load(&cs->gen);
}

/* Read cred_version; bump the generation when it moved. Called with cs->lock held. */
static void check_version(struct cred_store *cs)
{
    sqlite3_stmt *st = query(cs, Q_VERSION);
    if (st == NULL)
        return;
    if (sqlite3_step(st) == SQLITE_ROW) {
        int64_t v = sqlite3_column_int64(st, 0);
        if (v != cs->seen_version) {
            cs->seen_version = v;
            atomic_fetch_add(&cs->gen, 1);
        }
    }
    done(st);
}

static void *watch_main(void *arg)
{
    struct cred_store *cs = arg;
    pthread_mutex_lock(&cs->watch_lock);
    while (!cs->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long ns = ts.tv_nsec + (long)cs->interval_ms * 1000000L;
        ts.tv_sec += ns / 1000000000L;
        ts.tv_nsec = ns % 1000000000L;
        pthread_cond_timedwait(&cs->watch_cond, &cs->watch_lock, &ts);
        if (cs->stopping)
            break;
        pthread_mutex_unlock(&cs->watch_lock);
        pthread_mutex_lock(&cs->lock);
        check_version(cs);
        pthread_mutex_unlock(&cs->lock);
        pthread_mutex_lock(&cs->watch_lock);
    }
    pthread_mutex_unlock(&cs->watch_lock);
    return NULL;
}

static int sq_watch_start(struct cred_store *cs, int interval_ms)
{
    pthread_mutex_lock(&cs->lock);
    check_version(cs);
    pthread_mutex_unlock(&cs->lock);
    cs->interval_ms = interval_ms > 0 ? interval_ms : 250;
    if (pthread_create(&cs->watcher, NULL, watch_main, cs) != 0)
        return -1;
    cs->watching = true;
    return 0;
}

/* Run one write statement with its parameters inside a transaction that also bumps cred_version.
 * Returns the number of rows changed, or -1. Called with cs->wlock held. */
static int write_stmt(struct cred_store *cs, const char *sql, const char *t1, const void *blob, size_t blob_len,
                      const char *t2, int64_t i3)
{
    sqlite3_stmt *st = NULL;
    int changed = -1;
    if (sqlite3_exec(cs->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_prepare_v2(cs->wdb, sql, -1, &st, NULL) != SQLITE_OK)
        goto rollback;
    sqlite3_bind_text(st, 1, t1, -1, SQLITE_STATIC);
    if (blob)
        sqlite3_bind_blob(st, 2, blob, (int)blob_len, SQLITE_STATIC);
    if (t2)
        sqlite3_bind_text(st, 3, t2, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, i3);
    if (sqlite3_step(st) != SQLITE_DONE)
        goto rollback;
    changed = sqlite3_changes(cs->wdb);
    sqlite3_finalize(st);
    st = NULL;
    if (changed > 0 &&
        sqlite3_exec(cs->wdb, "UPDATE cred_version SET v = v + 1 WHERE id = 1", NULL, NULL, NULL) != SQLITE_OK)
        goto rollback;
    if (sqlite3_exec(cs->wdb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto rollback;
    if (changed > 0)
        atomic_fetch_add(&cs->gen, 1);
    return changed;
rollback:
    sqlite3_finalize(st);
    sqlite3_exec(cs->wdb, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* The audit key lives in a table of its own, made when first asked for: stores from before it
 * get one at their next start. Never counted in cred_version (no cache depends on it). */
static enum cred_status sq_audit_key(struct cred_store *cs, bool create, unsigned char key[CRED_AUDIT_KEY_LEN])
{
    enum cred_status ret = CRED_ERROR;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&cs->wlock);
    bool have = false;
    if (sqlite3_prepare_v2(cs->wdb, "SELECT 1 FROM sqlite_master WHERE name = 'audit_key'", -1, &st, NULL) == SQLITE_OK)
        have = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    st = NULL;
    if (!have && !create) {
        ret = CRED_NOT_FOUND;
        goto out;
    }
    if (create) {
        unsigned char fresh[CRED_AUDIT_KEY_LEN];
        rand_bytes(fresh, sizeof fresh);
        bool ok = sqlite3_exec(cs->wdb,
                               "BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS audit_key("
                               "id INTEGER PRIMARY KEY CHECK (id = 1), key BLOB NOT NULL);",
                               NULL, NULL, NULL) == SQLITE_OK &&
                  sqlite3_prepare_v2(cs->wdb, "INSERT OR IGNORE INTO audit_key(id, key) VALUES (1, ?1)", -1, &st,
                                     NULL) == SQLITE_OK &&
                  sqlite3_bind_blob(st, 1, fresh, sizeof fresh, SQLITE_STATIC) == SQLITE_OK &&
                  sqlite3_step(st) == SQLITE_DONE;
        sqlite3_finalize(st);
        st = NULL;
        cred_wipe(fresh, sizeof fresh);
        if (!ok || sqlite3_exec(cs->wdb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            sqlite3_exec(cs->wdb, "ROLLBACK", NULL, NULL, NULL);
            goto out;
        }
    }
    if (sqlite3_prepare_v2(cs->wdb, "SELECT key FROM audit_key WHERE id = 1", -1, &st, NULL) != SQLITE_OK)
        goto out;
    if (sqlite3_step(st) != SQLITE_ROW) {
        ret = CRED_NOT_FOUND;
        goto out;
    }
    if (sqlite3_column_bytes(st, 0) == CRED_AUDIT_KEY_LEN) {
        memcpy(key, sqlite3_column_blob(st, 0), CRED_AUDIT_KEY_LEN);
        ret = CRED_OK;
    }
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&cs->wlock);
    return ret;
}

static enum cred_status sq_psk_add(struct cred_store *cs, const char *kpsa_id, const unsigned char *key, size_t key_len,
                                   const char *binding)
{
    if (!cred_kpsaid_ok(kpsa_id) || key_len < CRED_KEY_MIN || key_len > CRED_KEY_MAX ||
        strlen(binding) > CRED_BINDING_MAX)
        return CRED_ERROR;
    char id[CRED_KPSAID_MAX + 1];
    cred_kpsaid_norm(kpsa_id, id);
    pthread_mutex_lock(&cs->wlock);
    /* a revoked KpsaID may be provisioned again (rotation); an active one may not be overwritten */
    int n = write_stmt(cs,
                       "INSERT INTO cred_psk(kpsa_id, key, binding, created, revoked) VALUES (?1, ?2, ?3, ?4, NULL)"
                       " ON CONFLICT(kpsa_id) DO UPDATE SET key = ?2, binding = ?3, created = ?4, revoked = NULL"
                       " WHERE revoked IS NOT NULL",
                       id, key, key_len, binding, (int64_t)time(NULL));
    pthread_mutex_unlock(&cs->wlock);
    return n < 0 ? CRED_ERROR : n == 0 ? CRED_EXISTS : CRED_OK;
}

static void read_info(sqlite3_stmt *st, struct cred_psk_info *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->kpsa_id, sizeof out->kpsa_id, "%s", (const char *)sqlite3_column_text(st, 0));
    snprintf(out->binding, sizeof out->binding, "%s", (const char *)sqlite3_column_text(st, 1));
    out->created = sqlite3_column_int64(st, 2);
    out->revoked = sqlite3_column_type(st, 3) != SQLITE_NULL;
}

static enum cred_status sq_psk_get(struct cred_store *cs, const char *kpsa_id, struct cred_psk_info *out)
{
    char id[CRED_KPSAID_MAX + 1];
    cred_kpsaid_norm(kpsa_id, id);
    enum cred_status rc = CRED_ERROR;
    pthread_mutex_lock(&cs->lock);
    sqlite3_stmt *st = query(cs, Q_PSK_GET);
    if (st != NULL) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            read_info(st, out);
            rc = out->revoked ? CRED_REVOKED : CRED_OK;
        } else if (r == SQLITE_DONE) {
            rc = CRED_NOT_FOUND;
        }
    }
    done(st);
    pthread_mutex_unlock(&cs->lock);
    return rc;
}

static enum cred_status sq_psk_key(struct cred_store *cs, const char *kpsa_id, unsigned char *key, size_t *key_len)
{
    char id[CRED_KPSAID_MAX + 1];
    cred_kpsaid_norm(kpsa_id, id);
    enum cred_status rc = CRED_ERROR;
    pthread_mutex_lock(&cs->lock);
    sqlite3_stmt *st = query(cs, Q_PSK_KEY);
    if (st != NULL) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            int n = sqlite3_column_bytes(st, 0);
            if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
                rc = CRED_REVOKED;
            } else if (n >= CRED_KEY_MIN && n <= CRED_KEY_MAX) {
                memcpy(key, sqlite3_column_blob(st, 0), (size_t)n);
                *key_len = (size_t)n;
                rc = CRED_OK;
            }
        } else if (r == SQLITE_DONE) {
            rc = CRED_NOT_FOUND;
        }
    }
    done(st); /* SQLite's own copy of the row lives in its page cache, not in this frame */
    pthread_mutex_unlock(&cs->lock);
    return rc;
}

static enum cred_status sq_psk_revoke(struct cred_store *cs, const char *kpsa_id)
{
    char id[CRED_KPSAID_MAX + 1];
    cred_kpsaid_norm(kpsa_id, id);
    pthread_mutex_lock(&cs->wlock);
    int n = write_stmt(cs,
                       "UPDATE cred_psk SET key = zeroblob(length(key)), revoked = ?4 WHERE kpsa_id = ?1"
                       " AND revoked IS NULL",
                       id, NULL, 0, NULL, (int64_t)time(NULL));
    if (n > 0) /* the WAL still holds the frame with the key: copy the zeroed page back and truncate */
        sqlite3_wal_checkpoint_v2(cs->wdb, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    pthread_mutex_unlock(&cs->wlock);
    if (n < 0)
        return CRED_ERROR;
    if (n > 0)
        return CRED_OK;
    struct cred_psk_info info;
    enum cred_status st = sq_psk_get(cs, id, &info);
    return st == CRED_OK ? CRED_ERROR : st; /* NOT_FOUND, or REVOKED already */
}

static enum cred_status sq_psk_list(struct cred_store *cs, void (*fn)(void *arg, const struct cred_psk_info *info),
                                    void *arg)
{
    enum cred_status rc = CRED_ERROR;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&cs->lock);
    if (sqlite3_prepare_v2(cs->db, "SELECT kpsa_id, binding, created, revoked FROM cred_psk ORDER BY kpsa_id", -1, &st,
                           NULL) == SQLITE_OK) {
        int r;
        struct cred_psk_info info;
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
            read_info(st, &info);
            fn(arg, &info);
        }
        rc = r == SQLITE_DONE ? CRED_OK : CRED_ERROR;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&cs->lock);
    return rc;
}

static enum cred_status sq_cert_list(struct cred_store *cs, void (*fn)(void *arg, const char *serial, int64_t revoked),
                                     void *arg)
{
    enum cred_status rc = CRED_ERROR;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&cs->lock);
    if (sqlite3_prepare_v2(cs->db, "SELECT serial, revoked FROM cred_cert_revoked ORDER BY serial", -1, &st, NULL) ==
        SQLITE_OK) {
        int r;
        while ((r = sqlite3_step(st)) == SQLITE_ROW)
            fn(arg, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1));
        rc = r == SQLITE_DONE ? CRED_OK : CRED_ERROR;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&cs->lock);
    return rc;
}

static enum cred_status sq_cert_revoke(struct cred_store *cs, const char *serial)
{
    pthread_mutex_lock(&cs->wlock);
    int n = write_stmt(cs, "INSERT OR IGNORE INTO cred_cert_revoked(serial, revoked) VALUES (?1, ?4)", serial, NULL, 0,
                       NULL, (int64_t)time(NULL));
    pthread_mutex_unlock(&cs->wlock);
    return n < 0 ? CRED_ERROR : n == 0 ? CRED_REVOKED : CRED_OK;
}

static enum cred_status sq_cert_status(struct cred_store *cs, const char *serial)
{
    enum cred_status rc = CRED_ERROR;
    pthread_mutex_lock(&cs->lock);
    sqlite3_stmt *st = query(cs, Q_CERT_STATUS);
    if (st != NULL) {
        sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC);
        int r = sqlite3_step(st);
        rc = r == SQLITE_ROW ? CRED_REVOKED : r == SQLITE_DONE ? CRED_OK : CRED_ERROR;
    }
    done(st);
    pthread_mutex_unlock(&cs->lock);
    return rc;
}

static void sq_touch(struct cred_store *cs)
{
    atomic_fetch_add(&cs->gen, 1);
}

/* ---- the registration binding (TS-0003 §8.2.2.1), run in the resource store's transaction ---- */

/* txn: the SQLite connection of the backend's write transaction (store/backend_sqlite.c), in which
 * the AE being registered is inserted: the binding commits with it, or neither does. */
static enum cred_status sq_psk_bind_in(struct cred_store *cs, void *txn, const char *kpsa_id, const char *canon_id)
{
    (void)cs;
    sqlite3 *db = txn;
    sqlite3_stmt *st = NULL;
    enum cred_status rc = CRED_ERROR;
    /* rare (one per registration over a '-' key): not worth a cached statement */
    if (sqlite3_prepare_v2(db,
                           "UPDATE cred_psk SET binding = ?2 WHERE kpsa_id = ?1 AND binding = '' AND revoked IS NULL",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, kpsa_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, canon_id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_DONE)
            rc = sqlite3_changes(db) == 1 ? CRED_OK : CRED_CONFLICT;
    }
    sqlite3_finalize(st);
    /* the version row tells other processes' credential caches */
    if (rc == CRED_OK &&
        sqlite3_exec(db, "UPDATE cred_version SET v = v + 1 WHERE id = 1", NULL, NULL, NULL) != SQLITE_OK)
        rc = CRED_ERROR;
    return rc;
}

static const struct cred_ops cred_sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .generation = sq_generation,
    .watch_start = sq_watch_start,
    .touch = sq_touch,
    .audit_key = sq_audit_key,
    .psk_add = sq_psk_add,
    .psk_get = sq_psk_get,
    .psk_key = sq_psk_key,
    .psk_revoke = sq_psk_revoke,
    .psk_list = sq_psk_list,
    .psk_bind_in = sq_psk_bind_in,
    .cert_revoke = sq_cert_revoke,
    .cert_list = sq_cert_list,
    .cert_status = sq_cert_status,
    .e2e_put = cred_sqlite_e2e_put,
    .e2e_get = cred_sqlite_e2e_get,
    .e2e_find_pair = cred_sqlite_e2e_find_pair,
    .e2e_revoke = cred_sqlite_e2e_revoke,
    .e2e_list = cred_sqlite_e2e_list,
};

int cred_sqlite_with_db(struct cred_store *cs, bool write, int (*fn)(sqlite3 *db, void *arg), void *arg)
{
    pthread_mutex_t *m = write ? &cs->wlock : &cs->lock;
    pthread_mutex_lock(m);
    int rc = fn(write ? cs->wdb : cs->db, arg);
    pthread_mutex_unlock(m);
    if (write && rc > 0)
        atomic_fetch_add(&cs->gen, 1);
    return rc;
}
