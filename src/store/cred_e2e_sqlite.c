/* cred_e2e_sqlite: the SQLite implementation of the credential store's end-to-end key entries
 * (security/cred_int.h: e2e_put, e2e_get, e2e_find_pair, e2e_revoke, e2e_list; the public functions
 * are security/e2e_keys.c, which checks their arguments first) in the credential store's SQLite
 * file, table e2e_key (store migration 9). It reaches the store's connections through
 * cred_sqlite_with_db().
 *
 * Revocation zeroes the key (secure_delete is on for the write connection) and takes effect for the
 * next lookup: nothing here caches a key, every get reads the table (a commit by wardenctl in
 * another process is visible to the next read transaction). Writes bump cred_version like every
 * other credential change. Nothing here logs or formats a key. */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "security/cred.h"
#include "security/e2e_keys.h"
#include "store/cred_sqlite_int.h"

/* A missing table (a store the server has not migrated yet): nothing stored. */
static bool no_table(sqlite3 *db)
{
    return strncmp(sqlite3_errmsg(db), "no such table", 13) == 0;
}

/* The end of a write transaction begun by the caller: st (bound) stepped and finalized, cred_version
 * bumped when it changed a row, committed. The rows changed, or -1 (the caller rolls back). */
static int step_and_commit(sqlite3 *db, sqlite3_stmt **st)
{
    if (sqlite3_step(*st) != SQLITE_DONE)
        return -1;
    int changed = sqlite3_changes(db);
    sqlite3_finalize(*st);
    *st = NULL;
    if (changed > 0 &&
        sqlite3_exec(db, "UPDATE cred_version SET v = v + 1 WHERE id = 1", NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    return changed;
}

struct put_arg {
    const struct e2e_key *k;
};

static int put_fn(sqlite3 *db, void *arg)
{
    const struct e2e_key *k = ((struct put_arg *)arg)->k;
    sqlite3_stmt *st = NULL;
    int changed = -1;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    /* a revoked kid may be provisioned again (rotation); a live one is never overwritten */
    if (sqlite3_prepare_v2(db, "DELETE FROM e2e_key WHERE kid = ?1 AND revoked IS NOT NULL", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_bind_text(st, 1, k->kid, -1, SQLITE_STATIC) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
        goto rollback;
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db,
                           "INSERT OR IGNORE INTO e2e_key(kid, local_id, peer_id, key, source, created, expires)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                           -1, &st, NULL) != SQLITE_OK)
        goto rollback;
    sqlite3_bind_text(st, 1, k->kid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, k->local_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, k->peer_id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, k->key, (int)k->key_len, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, (int)k->source);
    sqlite3_bind_int64(st, 6, k->created_s > 0 ? k->created_s : (int64_t)time(NULL));
    sqlite3_bind_int64(st, 7, k->expires_s);
    changed = step_and_commit(db, &st);
    if (changed < 0)
        goto rollback;
    return changed;
rollback:
    sqlite3_finalize(st);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int cred_sqlite_e2e_put(struct cred_store *cs, const struct e2e_key *k)
{
    struct put_arg a = {k};
    int n = cred_sqlite_with_db(cs, true, put_fn, &a);
    return n < 0 ? -1 : n == 0 ? 1 : 0;
}

#define KEY_COLS "kid, local_id, peer_id, key, source, created, expires"

struct get_arg {
    const char *kid, *a, *b;
    struct e2e_key *out;
};

static void text_col(sqlite3_stmt *st, int i, char *out, size_t outlen)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(out, outlen, "%s", t ? (const char *)t : "");
}

/* 0 filled, 1 none, -1 error. */
static int read_key(sqlite3 *db, sqlite3_stmt *st, struct e2e_key *out)
{
    int r = sqlite3_step(st);
    if (r == SQLITE_DONE)
        return 1;
    if (r != SQLITE_ROW)
        return no_table(db) ? 1 : -1;
    memset(out, 0, sizeof *out);
    int n = sqlite3_column_bytes(st, 3);
    if (n != 16 && n != 24 && n != 32)
        return -1;
    text_col(st, 0, out->kid, sizeof out->kid);
    text_col(st, 1, out->local_id, sizeof out->local_id);
    text_col(st, 2, out->peer_id, sizeof out->peer_id);
    memcpy(out->key, sqlite3_column_blob(st, 3), (size_t)n);
    out->key_len = (size_t)n;
    out->source = (enum e2e_key_source)sqlite3_column_int(st, 4);
    out->created_s = sqlite3_column_int64(st, 5);
    out->expires_s = sqlite3_column_int64(st, 6);
    return 0;
}

static int get_fn(sqlite3 *db, void *arg)
{
    struct get_arg *g = arg;
    sqlite3_stmt *st = NULL;
    const char *sql =
        g->kid ? "SELECT " KEY_COLS " FROM e2e_key WHERE kid = ?1 AND revoked IS NULL AND (expires = 0 OR expires > ?4)"
               : "SELECT " KEY_COLS " FROM e2e_key WHERE revoked IS NULL AND (expires = 0 OR expires > ?4) AND"
                 " ((local_id = ?2 AND peer_id = ?3) OR (local_id = ?3 AND peer_id = ?2)) ORDER BY seq DESC LIMIT 1";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return no_table(db) ? 1 : -1;
    if (g->kid)
        sqlite3_bind_text(st, 1, g->kid, -1, SQLITE_STATIC);
    else {
        sqlite3_bind_text(st, 2, g->a, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, g->b, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(st, 4, (int64_t)time(NULL));
    int rc = read_key(db, st, g->out);
    sqlite3_finalize(st); /* ends the read transaction: the next lookup sees later commits */
    return rc;
}

int cred_sqlite_e2e_get(struct cred_store *cs, const char *kid, struct e2e_key *out)
{
    struct get_arg g = {.kid = kid, .out = out};
    return cred_sqlite_with_db(cs, false, get_fn, &g);
}

int cred_sqlite_e2e_find_pair(struct cred_store *cs, const char *a, const char *b, struct e2e_key *out)
{
    struct get_arg g = {.a = a, .b = b, .out = out};
    return cred_sqlite_with_db(cs, false, get_fn, &g);
}

static int revoke_fn(sqlite3 *db, void *arg)
{
    const char *kid = arg;
    sqlite3_stmt *st = NULL;
    int changed = -1;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_prepare_v2(db,
                           "UPDATE e2e_key SET key = zeroblob(length(key)), revoked = ?2"
                           " WHERE kid = ?1 AND revoked IS NULL",
                           -1, &st, NULL) != SQLITE_OK) {
        changed = no_table(db) ? 0 : -1;
        goto rollback;
    }
    sqlite3_bind_text(st, 1, kid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)time(NULL));
    changed = step_and_commit(db, &st);
    if (changed < 0)
        goto rollback;
    if (changed > 0) /* the WAL still holds the frame with the key: copy the zeroed page back, truncate */
        sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    return changed;
rollback:
    sqlite3_finalize(st);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return changed == 0 ? 0 : -1;
}

int cred_sqlite_e2e_revoke(struct cred_store *cs, const char *kid)
{
    int n = cred_sqlite_with_db(cs, true, revoke_fn, (void *)(uintptr_t)kid);
    return n < 0 ? -1 : n == 0 ? 1 : 0;
}

struct list_arg {
    void (*fn)(void *arg, const struct e2e_key_info *info);
    void *arg;
};

static int list_fn(sqlite3 *db, void *arg)
{
    struct list_arg *l = arg;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT kid, local_id, peer_id, length(key), source, created, expires, revoked"
                           " FROM e2e_key ORDER BY kid",
                           -1, &st, NULL) != SQLITE_OK)
        return no_table(db) ? 0 : -1;
    int r;
    struct e2e_key_info info;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&info, 0, sizeof info);
        text_col(st, 0, info.kid, sizeof info.kid);
        text_col(st, 1, info.local_id, sizeof info.local_id);
        text_col(st, 2, info.peer_id, sizeof info.peer_id);
        info.key_len = (size_t)sqlite3_column_int(st, 3);
        info.source = (enum e2e_key_source)sqlite3_column_int(st, 4);
        info.created_s = sqlite3_column_int64(st, 5);
        info.expires_s = sqlite3_column_int64(st, 6);
        info.revoked_s = sqlite3_column_type(st, 7) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 7);
        l->fn(l->arg, &info);
    }
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : -1;
}

int cred_sqlite_e2e_list(struct cred_store *cs, void (*fn)(void *arg, const struct e2e_key_info *info), void *arg)
{
    struct list_arg l = {fn, arg};
    return cred_sqlite_with_db(cs, false, list_fn, &l) < 0 ? -1 : 0;
}
