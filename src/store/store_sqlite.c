/* store_sqlite: the embedded store on SQLite in WAL mode, with a pool of read connections and one
 * writer thread that folds concurrent write jobs into one commit (group commit). With
 * synchronous=NORMAL a commit is in the WAL (the OS page cache) before any response is released,
 * so acknowledged writes survive a crash of the process; synchronous=FULL adds an fsync per
 * commit for power loss. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/limits.h"
#include "store.h"
#include "store_sqlite_int.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/mem.h"

/* Schema migrations. PRAGMA user_version N means steps 1..N have run, so step N must be at position
 * N: a new step is appended with the next number, never inserted (releases 6 and 7 had them out of
 * order, 1,2,3,4,6,7,5, and an upgrade from release 5 or 6 failed on step 5 again; the sets of steps
 * behind every released user_version are the same in number order, so number order upgrades each).
 * tests/fixtures/store/ holds a store of every earlier schema; the upgrade tests start from each. */
static const char *const migrations[] = {
    /* 1: the resource table. path is unique, which also makes (parent, resourceName) unique. */
    "CREATE TABLE res("
    " seq INTEGER PRIMARY KEY,"
    " ri TEXT NOT NULL UNIQUE,"
    " pi TEXT NOT NULL,"
    " rn TEXT NOT NULL,"
    " path TEXT NOT NULL UNIQUE,"
    " ty INTEGER NOT NULL,"
    " et INTEGER NOT NULL,"
    " cs INTEGER NOT NULL DEFAULT 0,"
    " cr TEXT NOT NULL DEFAULT '',"
    " ae TEXT NOT NULL DEFAULT '',"
    " doc TEXT NOT NULL);"
    "CREATE INDEX res_children ON res(pi, seq);"
    "CREATE INDEX res_children_ty ON res(pi, ty, seq);"
    "CREATE INDEX res_expiry ON res(et);",
    /* 2: the resolved accessControlPolicy IDs of acpi, so authorization never parses a doc */
    "ALTER TABLE res ADD COLUMN acpi TEXT NOT NULL DEFAULT '';",
    /* 3: subscription children per resource, so a change looks for subscriptions only where
     * there are some */
    ("ALTER TABLE res ADD COLUMN nsub INTEGER NOT NULL DEFAULT 0;"
     "UPDATE res SET nsub = (SELECT count(*) FROM res s WHERE s.pi = res.ri AND s.ty = @SUB@);"),
    /* 4: discovery by resource type within a subtree */
    "CREATE INDEX res_ty_path ON res(ty, path);",
    /* 5: discovery by label: the labels of every resource in an indexed table, kept in step with
     * the documents by triggers (the WHEN clauses skip documents without labels cheaply) */
    ("CREATE TABLE lbl(ri TEXT NOT NULL, label TEXT NOT NULL);"
     "CREATE INDEX lbl_label ON lbl(label);"
     "CREATE INDEX lbl_ri ON lbl(ri);"
     "INSERT INTO lbl(ri, label) SELECT res.ri, j.value FROM res, json_each(res.doc, '$.lbl') j"
     " WHERE j.type = 'text';"
     "CREATE TRIGGER res_lbl_ins AFTER INSERT ON res WHEN instr(new.doc, '\"lbl\"') > 0 BEGIN"
     " INSERT INTO lbl(ri, label) SELECT new.ri, value FROM json_each(new.doc, '$.lbl') WHERE type = 'text';"
     " END;"
     "CREATE TRIGGER res_lbl_upd AFTER UPDATE OF doc ON res"
     " WHEN instr(old.doc, '\"lbl\"') > 0 OR instr(new.doc, '\"lbl\"') > 0 BEGIN"
     " DELETE FROM lbl WHERE ri = old.ri;"
     " INSERT INTO lbl(ri, label) SELECT new.ri, value FROM json_each(new.doc, '$.lbl') WHERE type = 'text';"
     " END;"
     "CREATE TRIGGER res_lbl_del AFTER DELETE ON res WHEN instr(old.doc, '\"lbl\"') > 0 BEGIN"
     " DELETE FROM lbl WHERE ri = old.ri;"
     " END;"),
    /* 6: children are listed by (type, creation): res_children_ty serves that, and one index fewer
     * to maintain makes every insert and delete cheaper */
    "DROP INDEX res_children;",
    /* 7: partial indexes: only resources that will expire are in the expiry index, and
     * contentInstances (dense in path order, found by their container) stay out of the type index;
     * a typical instance is written to three indexes instead of five */
    ("DROP INDEX res_expiry;"
     "CREATE INDEX res_expiry ON res(et) WHERE et < 253402300799;"
     "DROP INDEX res_ty_path;"
     "CREATE INDEX res_ty_path ON res(ty, path) WHERE ty <> @DENSE@;"),
    /* 8: quota accounting: per creator, the resources it holds and the bytes of their
     * representations, kept in step with every write by triggers (inserts, updates of doc and every
     * way of deleting: subtree, leaf, expiry, eviction) inside the writing transaction, so that a
     * create checks the total its own insert produced and rolls back beyond the quota. Self-contained:
     * it counts what is already stored. */
    ("CREATE TABLE quota(owner TEXT PRIMARY KEY, n INTEGER NOT NULL, bytes INTEGER NOT NULL) WITHOUT ROWID;"
     "INSERT INTO quota(owner, n, bytes) SELECT cr, count(*), sum(length(CAST(doc AS BLOB))) FROM res"
     " WHERE cr <> '' GROUP BY cr;"
     "CREATE TRIGGER res_quota_ins AFTER INSERT ON res WHEN new.cr <> '' BEGIN"
     " INSERT INTO quota(owner, n, bytes) VALUES(new.cr, 1, length(CAST(new.doc AS BLOB)))"
     " ON CONFLICT(owner) DO UPDATE SET n = n + 1, bytes = bytes + excluded.bytes;"
     " END;"
     /* most updates (a container's cni, cbs, lt, st after each new instance) keep the size: no write */
     "CREATE TRIGGER res_quota_upd AFTER UPDATE OF doc ON res"
     " WHEN new.cr <> '' AND length(CAST(new.doc AS BLOB)) <> length(CAST(old.doc AS BLOB)) BEGIN"
     " UPDATE quota SET bytes = bytes + length(CAST(new.doc AS BLOB)) - length(CAST(old.doc AS BLOB))"
     " WHERE owner = new.cr;"
     " END;"
     "CREATE TRIGGER res_quota_del AFTER DELETE ON res WHEN old.cr <> '' BEGIN"
     " UPDATE quota SET n = n - 1, bytes = bytes - length(CAST(old.doc AS BLOB)) WHERE owner = old.cr;"
     " END;"),
    /* 9: end-to-end pairwise keys (security/e2e_keys.h, TS-0003 §8.4, §8.7, §10.3.6) beside the
     * credentials (store/cred_e2e_sqlite.c). A revoked key keeps its row (kid, ends, times) with the
     * key bytes zeroed; seq orders keys of one pair by creation. */
    ("CREATE TABLE e2e_key(seq INTEGER PRIMARY KEY, kid TEXT NOT NULL UNIQUE, local_id TEXT NOT NULL,"
     " peer_id TEXT NOT NULL, key BLOB NOT NULL, source INTEGER NOT NULL, created INTEGER NOT NULL,"
     " expires INTEGER NOT NULL, revoked INTEGER);"
     "CREATE INDEX e2e_key_pair ON e2e_key(local_id, peer_id);"),
    /* 10: the announcement outbox (core/announce.c): each step is written with the change that asks
     * for it and removed when the announcement target answered, so no announcement is lost to a
     * restart of either CSE */
    ("CREATE TABLE annc_outbox(id INTEGER PRIMARY KEY, ri TEXT NOT NULL, target TEXT NOT NULL,"
     " op INTEGER NOT NULL, addr TEXT NOT NULL DEFAULT '');"),
};

/* A migration's SQL with the type roles of store.h in place of @SUB@ and @DENSE@ (owned): the
 * text is the same as the numbers written out, so stores made before agree with it. */
static char *migration_sql(const char *tmpl)
{
    struct buf b;
    buf_init(&b);
    for (const char *p = tmpl; *p;) {
        if (strncmp(p, "@SUB@", 5) == 0) {
            buf_printf(&b, "%d", STORE_TY_SUBSCRIPTION);
            p += 5;
        } else if (strncmp(p, "@DENSE@", 7) == 0) {
            buf_printf(&b, "%d", STORE_TY_DENSE_LEAF);
            p += 7;
        } else {
            buf_putc(&b, *p++);
        }
    }
    return buf_take(&b, NULL);
}

#define COLS "ri, pi, rn, path, ty, seq, et, cs, cr, ae, doc, acpi, nsub"

enum {
    Q_GET_RI,
    Q_GET_PATH,
    Q_LATEST,
    Q_OLDEST,
    Q_CHILDREN,
    Q_CHILDREN_TY,
    Q_CHILDREN_PAGE,
    Q_COUNT_TY,

    Q_EXPIRED,
    Q_INSERT,
    Q_UPDATE,
    Q_DELETE_SUBTREE,
    Q_DELETE_LEAF,
    Q_CLAMP_ET,
    Q_ADD_NSUB,
    Q_USAGE,
    Q_OUTBOX_ADD,
    Q_OUTBOX_SCAN,
    Q_OUTBOX_DEL,
    Q_BEGIN,
    Q_BEGIN_READ,
    Q_COMMIT,
    Q_ROLLBACK,
    Q_SAVEPOINT,
    Q_RELEASE,
    Q_ROLLBACK_TO,
    Q_COUNT
};

static const char *const sql[Q_COUNT] = {
    [Q_GET_RI] = "SELECT " COLS " FROM res WHERE ri = ?1 AND et > ?2",
    [Q_GET_PATH] = "SELECT " COLS " FROM res WHERE path = ?1 AND et > ?2",
    [Q_LATEST] = "SELECT " COLS " FROM res WHERE pi = ?1 AND ty = ?3 AND et > ?2 ORDER BY seq DESC LIMIT 1",
    [Q_OLDEST] = "SELECT " COLS " FROM res WHERE pi = ?1 AND ty = ?3 AND et > ?2 ORDER BY seq ASC LIMIT 1",
    [Q_CHILDREN] = "SELECT " COLS " FROM res WHERE pi = ?1 AND et > ?2 ORDER BY ty, seq",
    [Q_CHILDREN_TY] = "SELECT " COLS " FROM res WHERE pi = ?1 AND ty = ?3 AND et > ?2 ORDER BY seq",
    /* keyset paging on the (pi, seq) index: a page costs its own rows, whatever the offset */
    [Q_CHILDREN_PAGE] = "SELECT " COLS " FROM res WHERE pi = ?1 AND seq > ?3 AND et > ?2 ORDER BY seq LIMIT ?4",
    [Q_COUNT_TY] = "SELECT ty, count(*) FROM res WHERE et > ?1 GROUP BY ty",

    [Q_EXPIRED] = "SELECT " COLS " FROM res WHERE et <= ?1 AND et < 253402300799 ORDER BY et LIMIT ?2",
    [Q_INSERT] = "INSERT INTO res(ri, pi, rn, path, ty, et, cs, cr, ae, doc, acpi) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
    [Q_UPDATE] = "UPDATE res SET doc = ?2, et = ?3, cs = ?4, acpi = ?5 WHERE ri = ?1",
    /* the resource and everything below it: a range scan of the path index ('0' follows '/') */
    [Q_DELETE_SUBTREE] = "DELETE FROM res WHERE path = ?1 OR (path > ?1 || '/' AND path < ?1 || '0')",
    [Q_DELETE_LEAF] = "DELETE FROM res WHERE ri = ?1",
    [Q_ADD_NSUB] = "UPDATE res SET nsub = max(0, nsub + ?2) WHERE ri = ?1",
    [Q_USAGE] = "SELECT n, bytes FROM quota WHERE owner = ?1", /* migration 8 */
    /* migration 10; not written again when the copy's last step is the same one and has not begun
     * (an earlier step of its target exists): a step reads the resource when it begins (store.h).
     * The last step is looked for among the newest 1024 (a rowid range, no index on ri): one older
     * than that is written again, which bounds the repeats by the other traffic */
    [Q_OUTBOX_ADD] = ("INSERT INTO annc_outbox(ri, target, op, addr) SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS"
                      " (SELECT 1 FROM (SELECT id, op, addr FROM annc_outbox WHERE id > (SELECT ifnull(max(id), 0)"
                      " FROM annc_outbox) - 1024 AND ri = ?1 AND target = ?2 ORDER BY id DESC LIMIT 1) o"
                      " WHERE o.op = ?3 AND o.addr = ?4"
                      " AND EXISTS (SELECT 1 FROM annc_outbox f WHERE f.target = ?2 AND f.id < o.id))"),
    [Q_OUTBOX_SCAN] = "SELECT id, ri, target, op, addr FROM annc_outbox ORDER BY id LIMIT ?1",
    [Q_OUTBOX_DEL] = "DELETE FROM annc_outbox WHERE id = ?1",
    [Q_CLAMP_ET] = ("UPDATE res SET et = ?2, doc = json_set(doc, '$.et', ?3)"
                    " WHERE path > ?1 || '/' AND path < ?1 || '0' AND et > ?2"),
    /* transaction control, prepared once: sqlite3_exec would compile them for every job */
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    /* a reader's lookups for one request share one read transaction: one snapshot, and one
     * round of WAL-index locking (fcntl) instead of one per statement */
    [Q_BEGIN_READ] = "BEGIN DEFERRED",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_SAVEPOINT] = "SAVEPOINT job",
    [Q_RELEASE] = "RELEASE job",
    [Q_ROLLBACK_TO] = "ROLLBACK TO job",
};

struct sq_view {
    struct store_view base;
    sqlite3 *db;
    sqlite3_stmt *stmt[Q_COUNT];
    struct sq_view *next_free;
};

struct sq_store {
    struct store base;
    char *path;
    bool sync_full;
    /* read pool */
    pthread_mutex_t pool_lock;
    pthread_cond_t pool_cond;
    struct sq_view *free_views;
    struct sq_view **all_views;
    int nviews;
    /* writer */
    struct sq_view *wview;
    pthread_t writer;
    bool writer_started;
    pthread_mutex_t q_lock;
    pthread_cond_t q_cond;
    struct store_job *q_head, *q_tail;
    int q_len;
    bool stopping;
    unsigned long long stat_jobs, stat_commits; /* writer thread only; reported at close */
    /* checkpointer: copies the WAL into the database file off the writer's path */
    sqlite3 *ckpt_db;
    pthread_cond_t ckpt_cond; /* its own: a submit's signal must always reach the writer */
    pthread_t ckpt;
    bool ckpt_started;
};

static void view_close(struct sq_view *v)
{
    if (v == NULL)
        return;
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(v->stmt[i]);
    sqlite3_close(v->db);
    mem_free(v);
}

static struct sq_view *view_open(struct sq_store *s, char *err, size_t errlen)
{
    struct sq_view *v = mem_calloc(1, sizeof *v);
    v->base.st = &s->base;
    int rc = sqlite3_open_v2(s->path, &v->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", s->path, v->db ? sqlite3_errmsg(v->db) : sqlite3_errstr(rc));
        view_close(v);
        return NULL;
    }
    sqlite3_busy_timeout(v->db, 5000);
    sqlite3_extended_result_codes(v->db, 1);
    char pragmas[160];
    snprintf(pragmas, sizeof pragmas, "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA foreign_keys=OFF;",
             s->sync_full ? "FULL" : "NORMAL");
    char *msg = NULL;
    if (sqlite3_exec(v->db, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "cannot configure %s: %s", s->path, msg ? msg : "?");
        sqlite3_free(msg);
        view_close(v);
        return NULL;
    }
    return v;
}

static int view_prepare(struct sq_view *v, char *err, size_t errlen)
{
    for (int i = 0; i < Q_COUNT; i++) {
        if (sqlite3_prepare_v3(v->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &v->stmt[i], NULL) != SQLITE_OK) {
            snprintf(err, errlen, "cannot prepare statement %d: %s", i, sqlite3_errmsg(v->db));
            return -1;
        }
    }
    return 0;
}

static int migrate(struct sq_view *v, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int version = 0;
    if (sqlite3_prepare_v2(v->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    int target = (int)(sizeof migrations / sizeof migrations[0]);
    if (version > target) {
        snprintf(err, errlen, "store schema version %d is newer than this warden (%d)", version, target);
        return -1;
    }
    for (int i = version; i < target; i++) {
        char setver[64];
        snprintf(setver, sizeof setver, "PRAGMA user_version=%d;", i + 1);
        char *msg = NULL;
        char *step_sql = migration_sql(migrations[i]);
        int failed = sqlite3_exec(v->db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
                     sqlite3_exec(v->db, step_sql, NULL, NULL, &msg) != SQLITE_OK;
        mem_free(step_sql);
        if (failed || sqlite3_exec(v->db, setver, NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(v->db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(err, errlen, "schema migration %d failed: %s", i + 1, msg ? msg : "?");
            sqlite3_free(msg);
            sqlite3_exec(v->db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    return 0;
}

/* ---- reading ---------------------------------------------------------------------------------- */

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return mem_strndup(t ? (const char *)t : "", (size_t)sqlite3_column_bytes(st, i));
}

static void row_from_stmt(sqlite3_stmt *st, struct store_row *r)
{
    r->ri = col_dup(st, 0);
    r->pi = col_dup(st, 1);
    r->rn = col_dup(st, 2);
    r->path = col_dup(st, 3);
    r->ty = sqlite3_column_int(st, 4);
    r->seq = sqlite3_column_int64(st, 5);
    r->et = sqlite3_column_int64(st, 6);
    r->cs = sqlite3_column_int64(st, 7);
    r->cr = col_dup(st, 8);
    r->ae = col_dup(st, 9);
    r->doc = col_dup(st, 10);
    r->acpi = col_dup(st, 11);
    r->nsub = sqlite3_column_int64(st, 12);
}

static int step_one(sqlite3_stmt *st, struct store_row *out)
{
    int rc = sqlite3_step(st), res;
    if (rc == SQLITE_ROW) {
        row_from_stmt(st, out);
        res = STORE_OK;
    } else {
        res = rc == SQLITE_DONE ? STORE_NOT_FOUND : STORE_ERROR;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return res;
}

static int step_each(sqlite3_stmt *st, store_row_fn fn, void *arg)
{
    int rc, stop = 0;
    while (stop == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_row r;
        row_from_stmt(st, &r);
        stop = fn(arg, &r);
        store_row_free(&r);
    }
    int err = stop == 0 && rc != SQLITE_DONE;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return err ? STORE_ERROR : stop;
}

#define VIEW(v) ((struct sq_view *)(void *)(v))

static int sq_get_ri(struct store_view *v, const char *ri, int64_t now, struct store_row *out)
{
    sqlite3_stmt *st = VIEW(v)->stmt[Q_GET_RI];
    sqlite3_bind_text(st, 1, ri, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    return step_one(st, out);
}

static int sq_get_path(struct store_view *v, const char *path, int64_t now, struct store_row *out)
{
    sqlite3_stmt *st = VIEW(v)->stmt[Q_GET_PATH];
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    return step_one(st, out);
}

static int sq_edge_child(struct store_view *v, const char *pi, int ty, bool latest, int64_t now, struct store_row *out)
{
    sqlite3_stmt *st = VIEW(v)->stmt[latest ? Q_LATEST : Q_OLDEST];
    sqlite3_bind_text(st, 1, pi, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int(st, 3, ty);
    return step_one(st, out);
}

static int sq_children(struct store_view *v, const char *pi, int ty, int64_t now, store_row_fn fn, void *arg)
{
    sqlite3_stmt *st = VIEW(v)->stmt[ty ? Q_CHILDREN_TY : Q_CHILDREN];
    sqlite3_bind_text(st, 1, pi, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    if (ty)
        sqlite3_bind_int(st, 3, ty);
    return step_each(st, fn, arg);
}

static int sq_children_page(struct store_view *v, const char *pi, int64_t after_seq, int limit, int64_t now,
                            store_row_fn fn, void *arg)
{
    sqlite3_stmt *st = VIEW(v)->stmt[Q_CHILDREN_PAGE];
    sqlite3_bind_text(st, 1, pi, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, after_seq);
    sqlite3_bind_int(st, 4, limit);
    return step_each(st, fn, arg);
}

static int sq_count_types(struct store_view *v, int64_t now, void (*fn)(void *arg, int ty, int64_t n), void *arg)
{
    sqlite3_stmt *st = VIEW(v)->stmt[Q_COUNT_TY];
    sqlite3_bind_int64(st, 1, now);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(arg, sqlite3_column_int(st, 0), sqlite3_column_int64(st, 1));
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? STORE_OK : STORE_ERROR;
}

static int sq_expired(struct store_view *v, int64_t now, int limit, store_row_fn fn, void *arg)
{
    sqlite3_stmt *st = VIEW(v)->stmt[Q_EXPIRED];
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int(st, 2, limit);
    return step_each(st, fn, arg);
}

/* ---- filtered search (discovery, conditional retrieve) --------------------------------------- */

/* Bound values for the query built by find(): text or integer, in placeholder order. */
struct binds {
    struct {
        const char *s;
        int64_t i;
    } v[96];
    int n;
};

static void bind_s(struct binds *b, struct buf *q, const char *sqlfrag, const char *s)
{
    buf_puts(q, sqlfrag);
    b->v[b->n].s = s;
    b->n++;
}

static void bind_i(struct binds *b, struct buf *q, const char *sqlfrag, int64_t i)
{
    buf_puts(q, sqlfrag);
    b->v[b->n].s = NULL;
    b->v[b->n].i = i;
    b->n++;
}

/* One condition: joined to the previous ones with AND or OR. */
static void cond(struct buf *q, bool *first, bool any_of)
{
    buf_puts(q, *first ? "" : any_of ? " OR " : " AND ");
    *first = false;
}

static int sq_find(struct store_view *v, const char *path, const struct store_filter *f, int64_t now, store_row_fn fn,
                   void *arg)
{
    struct buf q;
    struct binds b = {.n = 0};
    buf_init(&q);
    buf_puts(&q, "SELECT " COLS " FROM res WHERE et > ?");
    b.v[b.n++].i = now;
    if (f->self) {
        bind_s(&b, &q, " AND path = ?", path);
    } else {
        bind_s(&b, &q, " AND path > ? || '/'", path);
        bind_s(&b, &q, " AND path < ? || '0'", path);
    }
    if (f->max_depth >= 0) {
        int depth = 0;
        for (const char *p = path; *p; p++)
            depth += *p == '/';
        bind_i(&b, &q, " AND length(path) - length(replace(path, '/', '')) <= ?", depth + f->max_depth);
    }
    bool first = true;
    buf_puts(&q, " AND (");
    if (f->nty > 0) {
        cond(&q, &first, f->any_of);
        buf_puts(&q, "ty IN (");
        for (int i = 0; i < f->nty; i++)
            bind_i(&b, &q, i ? ",?" : "?", f->ty[i]);
        buf_putc(&q, ')');
    }
    if (f->crb)
        cond(&q, &first, f->any_of), bind_s(&b, &q, "json_extract(doc, '$.ct') < ?", f->crb);
    if (f->cra)
        cond(&q, &first, f->any_of), bind_s(&b, &q, "json_extract(doc, '$.ct') > ?", f->cra);
    if (f->ms)
        cond(&q, &first, f->any_of), bind_s(&b, &q, "json_extract(doc, '$.lt') > ?", f->ms);
    if (f->us)
        cond(&q, &first, f->any_of), bind_s(&b, &q, "json_extract(doc, '$.lt') < ?", f->us);
    if (f->sts >= 0)
        cond(&q, &first, f->any_of), bind_i(&b, &q, "json_extract(doc, '$.st') < ?", f->sts);
    if (f->stb >= 0)
        cond(&q, &first, f->any_of), bind_i(&b, &q, "json_extract(doc, '$.st') > ?", f->stb);
    if (f->exb)
        cond(&q, &first, f->any_of), bind_i(&b, &q, "et < ?", f->exb);
    if (f->exa)
        cond(&q, &first, f->any_of), bind_i(&b, &q, "et > ?", f->exa);
    if (f->sza >= 0)
        cond(&q, &first, f->any_of), bind_i(&b, &q, "json_extract(doc, '$.cs') >= ?", f->sza);
    if (f->szb >= 0)
        cond(&q, &first, f->any_of), bind_i(&b, &q, "json_extract(doc, '$.cs') < ?", f->szb);
    if (f->nlbl > 0) {
        cond(&q, &first, f->any_of);
        buf_puts(&q, "ri IN (SELECT ri FROM lbl WHERE label IN ("); /* the label index (migration 5) */
        for (int i = 0; i < f->nlbl; i++)
            bind_s(&b, &q, i ? ",?" : "?", f->lbl[i]);
        buf_puts(&q, "))");
    }
    if (f->ncty > 0) { /* the type/subtype part of cnf ("text/plain:0") */
        cond(&q, &first, f->any_of);
        buf_puts(&q, "substr(json_extract(doc, '$.cnf'), 1, instr(json_extract(doc, '$.cnf') || ':', ':') - 1) IN (");
        for (int i = 0; i < f->ncty; i++)
            bind_s(&b, &q, i ? ",?" : "?", f->cty[i]);
        buf_puts(&q, ")");
    }
    for (int i = 0; i < f->natr; i++) { /* values arrive as text: compare the attribute's text form */
        cond(&q, &first, f->any_of);
        bind_s(&b, &q, "CAST(json_extract(doc, '$.' || ?) AS TEXT) = ", f->atr_name[i]);
        bind_s(&b, &q, "?", f->atr_value[i]);
    }
    buf_puts(&q, first ? "1)" : ")");
    /* types that exclude contentInstances may use the partial type index (migration 7): the
     * condition is written as the index's, for the planner to match */
    bool no_cin = f->nty > 0 && !f->any_of;
    for (int i = 0; i < f->nty; i++)
        no_cin &= f->ty[i] != STORE_TY_DENSE_LEAF;
    if (no_cin)
        buf_printf(&q, " AND ty <> %d", STORE_TY_DENSE_LEAF);
    buf_puts(&q, " ORDER BY path");

    sqlite3_stmt *st = NULL;
    int rc = STORE_ERROR;
    if (sqlite3_prepare_v2(VIEW(v)->db, q.p, -1, &st, NULL) == SQLITE_OK) {
        for (int i = 0; i < b.n; i++) {
            if (b.v[i].s)
                sqlite3_bind_text(st, i + 1, b.v[i].s, -1, SQLITE_STATIC);
            else
                sqlite3_bind_int64(st, i + 1, b.v[i].i);
        }
        rc = step_each(st, fn, arg);
    }
    sqlite3_finalize(st);
    buf_free(&q);
    return rc;
}

static int sq_descendants(struct store_view *v, const char *path, int64_t now, store_row_fn fn, void *arg)
{
    const struct store_filter all = {.sts = -1, .stb = -1, .sza = -1, .szb = -1, .max_depth = -1};
    return sq_find(v, path, &all, now, fn, arg);
}

/* ---- writing (writer thread only) ------------------------------------------------------------- */

static int step_write(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_DONE)
        return STORE_OK;
    return (rc & 0xff) == SQLITE_CONSTRAINT ? STORE_CONFLICT : STORE_ERROR;
}

static int sq_insert(struct store_view *v, struct store_row *r)
{
    sqlite3_stmt *st = VIEW(v)->stmt[Q_INSERT];
    sqlite3_bind_text(st, 1, r->ri, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->pi ? r->pi : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->rn, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->path, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, r->ty);
    sqlite3_bind_int64(st, 6, r->et);
    sqlite3_bind_int64(st, 7, r->cs);
    sqlite3_bind_text(st, 8, r->cr ? r->cr : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, r->ae ? r->ae : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, r->doc, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, r->acpi ? r->acpi : "", -1, SQLITE_STATIC);
    int rc = step_write(st);
    if (rc == STORE_OK)
        r->seq = sqlite3_last_insert_rowid(VIEW(v)->db);
    return rc;
}

static int sq_usage(struct store_view *v, const char *owner, int64_t *count, int64_t *bytes)
{
    sqlite3_stmt *st = VIEW(v)->stmt[Q_USAGE];
    sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
    *count = *bytes = 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *count = sqlite3_column_int64(st, 0);
        *bytes = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : STORE_ERROR;
}

static int sq_outbox_add(struct store_view *v, const char *ri, const char *target, int op, const char *addr)
{
    sqlite3_stmt *st = VIEW(v)->stmt[Q_OUTBOX_ADD];
    sqlite3_bind_text(st, 1, ri, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, target, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, op);
    sqlite3_bind_text(st, 4, addr ? addr : "", -1, SQLITE_STATIC);
    return step_write(st);
}

static int sq_outbox_scan(struct store_view *v, int limit, store_outbox_fn fn, void *arg)
{
    sqlite3_stmt *st = VIEW(v)->stmt[Q_OUTBOX_SCAN];
    sqlite3_bind_int(st, 1, limit);
    int rc, stop = 0;
    while (stop == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_outbox o = {
            .id = sqlite3_column_int64(st, 0),
            .ri = (const char *)sqlite3_column_text(st, 1),
            .target = (const char *)sqlite3_column_text(st, 2),
            .op = sqlite3_column_int(st, 3),
            .addr = (const char *)sqlite3_column_text(st, 4),
        };
        stop = fn(arg, &o);
    }
    int err = stop == 0 && rc != SQLITE_DONE;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return err ? STORE_ERROR : stop;
}

static int sq_outbox_del(struct store_view *v, int64_t id)
{
    sqlite3_stmt *st = VIEW(v)->stmt[Q_OUTBOX_DEL];
    sqlite3_bind_int64(st, 1, id);
    return step_write(st);
}

static int sq_update(struct store_view *v, const struct store_row *r)
{
    sqlite3_stmt *st = VIEW(v)->stmt[Q_UPDATE];
    sqlite3_bind_text(st, 1, r->ri, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->doc, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, r->et);
    sqlite3_bind_int64(st, 4, r->cs);
    sqlite3_bind_text(st, 5, r->acpi ? r->acpi : "", -1, SQLITE_STATIC);
    int rc = step_write(st);
    if (rc == STORE_OK && sqlite3_changes(VIEW(v)->db) == 0)
        return STORE_NOT_FOUND;
    return rc;
}

static int sq_delete_subtree(struct store_view *v, const char *path)
{
    sqlite3_stmt *st = VIEW(v)->stmt[Q_DELETE_SUBTREE];
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    return step_write(st);
}

static int sq_clamp_subtree_et(struct store_view *v, const char *path, int64_t et, const char *et_text)
{
    sqlite3_stmt *st = VIEW(v)->stmt[Q_CLAMP_ET];
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, et);
    sqlite3_bind_text(st, 3, et_text, -1, SQLITE_STATIC);
    return step_write(st);
}

static bool tx(struct sq_view *v, int q)
{
    sqlite3_stmt *st = v->stmt[q];
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE;
}

static int sq_delete_leaf(struct store_view *v, const char *ri)
{
    sqlite3_stmt *st = VIEW(v)->stmt[Q_DELETE_LEAF];
    sqlite3_bind_text(st, 1, ri, -1, SQLITE_STATIC);
    return step_write(st);
}

static int sq_add_nsub(struct store_view *v, const char *ri, int delta)
{
    sqlite3_stmt *st = VIEW(v)->stmt[Q_ADD_NSUB];
    sqlite3_bind_text(st, 1, ri, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, delta);
    return step_write(st);
}

sqlite3 *store_sqlite_view_db(struct store_view *v)
{
    return VIEW(v)->db;
}

/* ---- pool ------------------------------------------------------------------------------------- */

#define STORE(s) ((struct sq_store *)(void *)(s))

static struct store_view *sq_view_acquire(struct store *st)
{
    struct sq_store *s = STORE(st);
    pthread_mutex_lock(&s->pool_lock);
    while (s->free_views == NULL)
        pthread_cond_wait(&s->pool_cond, &s->pool_lock);
    struct sq_view *v = s->free_views;
    s->free_views = v->next_free;
    pthread_mutex_unlock(&s->pool_lock);
    tx(v, Q_BEGIN_READ);
    return &v->base;
}

static void sq_view_release(struct store *st, struct store_view *view)
{
    struct sq_store *s = STORE(st);
    struct sq_view *v = VIEW(view);
    if (v == s->wview)
        return;
    tx(v, Q_COMMIT);
    pthread_mutex_lock(&s->pool_lock);
    v->next_free = s->free_views;
    s->free_views = v;
    pthread_cond_signal(&s->pool_cond);
    pthread_mutex_unlock(&s->pool_lock);
}

/* ---- writer ----------------------------------------------------------------------------------- */

static bool exec_ok(sqlite3 *db, const char *q)
{
    return sqlite3_exec(db, q, NULL, NULL, NULL) == SQLITE_OK;
}

static void run_batch(struct sq_store *s, struct store_job *batch)
{
    struct sq_view *w = s->wview;
    s->stat_commits++;
    bool ok = tx(w, Q_BEGIN);
    if (ok) {
        for (struct store_job *j = batch; j; j = j->next) {
            if (!tx(w, Q_SAVEPOINT)) {
                ok = false;
                break;
            }
            s->stat_jobs++;
            if (j->run(&w->base, j->arg) != 0)
                tx(w, Q_ROLLBACK_TO);
            tx(w, Q_RELEASE);
        }
        if (ok)
            ok = tx(w, Q_COMMIT);
        if (!ok)
            tx(w, Q_ROLLBACK);
    }
    if (s->base.on_batch != NULL) {
        size_t jobs = 0;
        for (struct store_job *j = batch; j; j = j->next)
            jobs++;
        s->base.on_batch(s->base.on_batch_arg, jobs);
    }
    while (batch) {
        struct store_job *next = batch->next;
        batch->next = NULL;
        batch->done(batch->arg, ok);
        batch = next;
    }
}

/* Checkpoints run here, PASSIVE (never blocking readers or the writer), instead of inside the
 * writer's commits, where SQLite's automatic checkpoint (with its fsync of the database file)
 * would stall every request waiting on that batch. Durability does not depend on it: the WAL
 * already holds every commit. */
#define CHECKPOINT_INTERVAL_MS 200
/* WAL frames (4 KiB pages) beyond which the log is restarted: under constant load some request is
 * nearly always inside a short read transaction, so the log never gets restarted by PASSIVE
 * checkpoints alone (checkpoint starvation) and would grow without bound. RESTART waits (busy
 * timeout) for readers to move past the log so the next commit writes from its start again; the
 * file keeps its allocated size (journal_size_limit caps it), so writes never re-extend it. */
#define CHECKPOINT_RESTART_FRAMES 8192

static void *checkpoint_main(void *arg)
{
    struct sq_store *s = arg;
    pthread_mutex_lock(&s->q_lock);
    while (!s->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += CHECKPOINT_INTERVAL_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec += 1;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->ckpt_cond, &s->q_lock, &ts);
        if (s->stopping)
            break;
        pthread_mutex_unlock(&s->q_lock);
        int nlog = 0, nckpt = 0;
        sqlite3_wal_checkpoint_v2(s->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt);
        if (nlog > CHECKPOINT_RESTART_FRAMES)
            sqlite3_wal_checkpoint_v2(s->ckpt_db, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
        pthread_mutex_lock(&s->q_lock);
    }
    pthread_mutex_unlock(&s->q_lock);
    return NULL;
}

static void *writer_main(void *arg)
{
    struct sq_store *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->q_lock);
        while (s->q_head == NULL && !s->stopping)
            pthread_cond_wait(&s->q_cond, &s->q_lock);
        if (s->q_head == NULL && s->stopping) {
            pthread_mutex_unlock(&s->q_lock);
            break;
        }
        struct store_job *batch = s->q_head, *last = batch;
        int n = 1;
        while (last->next && n < LIMIT_WRITE_BATCH) {
            last = last->next;
            n++;
        }
        s->q_head = last->next;
        if (s->q_head == NULL)
            s->q_tail = NULL;
        s->q_len -= n;
        last->next = NULL;
        pthread_mutex_unlock(&s->q_lock);
        run_batch(s, batch);
    }
    return NULL;
}

static int sq_submit(struct store *st, struct store_job *job)
{
    struct sq_store *s = STORE(st);
    job->next = NULL;
    pthread_mutex_lock(&s->q_lock);
    if (s->stopping || s->q_len >= LIMIT_WRITE_QUEUE) {
        pthread_mutex_unlock(&s->q_lock);
        return STORE_ERROR;
    }
    if (s->q_tail)
        s->q_tail->next = job;
    else
        s->q_head = job;
    s->q_tail = job;
    s->q_len++;
    pthread_cond_signal(&s->q_cond);
    pthread_mutex_unlock(&s->q_lock);
    return STORE_OK;
}

static void sq_close(struct store *st)
{
    struct sq_store *s = STORE(st);
    if (s == NULL)
        return;
    if (s->writer_started) {
        pthread_mutex_lock(&s->q_lock);
        s->stopping = true;
        pthread_cond_broadcast(&s->q_cond);
        pthread_mutex_unlock(&s->q_lock);
        pthread_join(s->writer, NULL);
        if (getenv("WARDEN_STORE_STATS"))
            fprintf(stderr, "store: %llu write jobs in %llu commits\n", s->stat_jobs, s->stat_commits);
    }
    if (s->ckpt_started) {
        pthread_mutex_lock(&s->q_lock);
        s->stopping = true;
        pthread_cond_broadcast(&s->ckpt_cond);
        pthread_mutex_unlock(&s->q_lock);
        pthread_join(s->ckpt, NULL);
    }
    sqlite3_close(s->ckpt_db);
    for (int i = 0; i < s->nviews; i++)
        view_close(s->all_views[i]);
    if (s->wview)
        exec_ok(s->wview->db, "PRAGMA wal_checkpoint(PASSIVE)");
    view_close(s->wview);
    mem_free(s->all_views);
    pthread_mutex_destroy(&s->pool_lock);
    pthread_cond_destroy(&s->pool_cond);
    pthread_mutex_destroy(&s->q_lock);
    pthread_cond_destroy(&s->q_cond);
    pthread_cond_destroy(&s->ckpt_cond);
    mem_free(s->path);
    mem_free(s);
}

static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .view_acquire = sq_view_acquire,
    .view_release = sq_view_release,
    .get_ri = sq_get_ri,
    .get_path = sq_get_path,
    .edge_child = sq_edge_child,
    .children = sq_children,
    .children_page = sq_children_page,
    .count_types = sq_count_types,
    .descendants = sq_descendants,
    .find = sq_find,
    .expired = sq_expired,
    .insert = sq_insert,
    .update = sq_update,
    .delete_subtree = sq_delete_subtree,
    .clamp_subtree_et = sq_clamp_subtree_et,
    .add_nsub = sq_add_nsub,
    .usage = sq_usage,
    .delete_leaf = sq_delete_leaf,
    .outbox_add = sq_outbox_add,
    .outbox_scan = sq_outbox_scan,
    .outbox_del = sq_outbox_del,
    .submit = sq_submit,
    .close = sq_close,
};

struct store *store_sqlite_open(const char *path, bool sync_full, int readers, char *err, size_t errlen)
{
    if (fs_create_private_file(path, err, errlen) != 0)
        return NULL;
    struct sq_store *s = mem_calloc(1, sizeof *s);
    s->base.ops = &sqlite_ops;
    s->path = mem_strdup(path);
    s->sync_full = sync_full;
    pthread_mutex_init(&s->pool_lock, NULL);
    pthread_cond_init(&s->pool_cond, NULL);
    pthread_mutex_init(&s->q_lock, NULL);
    pthread_cond_init(&s->q_cond, NULL);
    pthread_cond_init(&s->ckpt_cond, NULL);
    s->wview = view_open(s, err, errlen);
    if (s->wview == NULL || migrate(s->wview, err, errlen) != 0 || view_prepare(s->wview, err, errlen) != 0)
        goto fail;
    s->all_views = mem_calloc((size_t)readers, sizeof *s->all_views);
    for (int i = 0; i < readers; i++) {
        struct sq_view *v = view_open(s, err, errlen);
        if (v == NULL)
            goto fail;
        s->all_views[s->nviews++] = v;
        if (view_prepare(v, err, errlen) != 0)
            goto fail;
        v->next_free = s->free_views;
        s->free_views = v;
    }
    /* the writer leaves checkpoints to the checkpointer thread */
    if (!exec_ok(s->wview->db, "PRAGMA wal_autocheckpoint=0") ||
        sqlite3_open_v2(s->path, &s->ckpt_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open the checkpoint connection");
        goto fail;
    }
    sqlite3_busy_timeout(s->ckpt_db, 100);
    /* a connection opens its database lazily: until it has run a statement it does not know the
     * database is in WAL mode, and sqlite3_wal_checkpoint_v2 would silently do nothing */
    if (!exec_ok(s->ckpt_db, "PRAGMA journal_mode") || !exec_ok(s->wview->db, "PRAGMA journal_size_limit=67108864")) {
        snprintf(err, errlen, "cannot prepare the checkpoint connection");
        goto fail;
    }
    if (pthread_create(&s->ckpt, NULL, checkpoint_main, s) != 0) {
        snprintf(err, errlen, "cannot start the checkpoint thread");
        goto fail;
    }
    s->ckpt_started = true;
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
        snprintf(err, errlen, "cannot start the store writer thread");
        goto fail;
    }
    s->writer_started = true;
    return &s->base;
fail:
    sq_close(&s->base);
    return NULL;
}

int store_sqlite_check_files(const char *path, char *err, size_t errlen)
{
    static const char *const suffix[] = {"", "-wal", "-shm", ".lock"};
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        char p[4096];
        if (snprintf(p, sizeof p, "%s%s", path, suffix[i]) >= (int)sizeof p) {
            snprintf(err, errlen, "store.path too long");
            return -1;
        }
        if (fs_check_private(p, "store", err, errlen) != 0)
            return -1;
    }
    return 0;
}

int store_sqlite_lock(const char *path, char *err, size_t errlen)
{
    char lock[4096];
    if (snprintf(lock, sizeof lock, "%s.lock", path) >= (int)sizeof lock) {
        snprintf(err, errlen, "store.path too long");
        return -1;
    }
    if (store_sqlite_check_files(path, err, errlen) != 0 || fs_make_parent_dirs(path, err, errlen) != 0)
        return -1;
    long holder = 0;
    char why[512];
    int fd = fs_lock_exclusive(lock, &holder, why, sizeof why);
    if (fd < 0) {
        if (holder > 0)
            snprintf(err, errlen, "store %s is held by another warden (pid %ld, lock %s): one server per store", path,
                     holder, lock);
        else
            snprintf(err, errlen, "store %s: %s", path, why);
    }
    return fd;
}

int store_sqlite_lock_note(int fd, const char *note)
{
    char text[512];
    int n = snprintf(text, sizeof text, "%ld %s\n", (long)getpid(), note);
    if (n < 0 || (size_t)n >= sizeof text || ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != n)
        return -1;
    return 0;
}

int store_sqlite_holder(const char *path, long *pid, char *note, size_t notelen)
{
    char lock[4096];
    *pid = 0;
    if (notelen)
        note[0] = '\0';
    if (snprintf(lock, sizeof lock, "%s.lock", path) >= (int)sizeof lock)
        return -1;
    int fd = open(lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    int rc = -1;
    if (fcntl(fd, F_OFD_GETLK, &fl) == 0) {
        rc = fl.l_type != F_UNLCK;
        char text[512];
        ssize_t n = rc ? pread(fd, text, sizeof text - 1, 0) : 0;
        if (n > 0) {
            text[n] = '\0';
            char *end = NULL;
            *pid = strtol(text, &end, 10);
            if (end && *end == ' ' && notelen) {
                snprintf(note, notelen, "%s", end + 1);
                note[strcspn(note, "\n")] = '\0';
            }
        }
    }
    close(fd);
    return rc;
}

int store_sqlite_probe(const char *path, int *version, char *err, size_t errlen)
{
    struct stat stbuf;
    if (stat(path, &stbuf) != 0) {
        snprintf(err, errlen, "no store at %s: %s", path, strerror(errno));
        return -1;
    }
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = -1;
    *version = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        *version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (*version >= 1)
        rc = 0;
    else
        snprintf(err, errlen, "%s is not a Warden store", path);
    return rc;
}
