/* Unit tests for store/store_sqlite: lookups (with expirationTime hiding, TS-0001 9.6.1.3),
 * tree walks, subtree deletion, the group-commit writer (per-job savepoints) and durability. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"
#include "util/mem.h"

#define ET_FAR 4102444800LL /* 2100-01-01 */
#define NOW    1700000000LL

/* ---- temporary directory ---------------------------------------------------------------------- */

struct fx {
    char dir[64];
    char path[160];
    struct store *st;
};

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/warden-store-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/w.db", f->dir);
    char err[256];
    f->st = store_sqlite_open(f->path, false, 2, err, sizeof err);
    if (f->st == NULL) {
        fprintf(stderr, "store_sqlite_open: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->st)
        f->st->ops->close(f->st);
    nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* ---- jobs ------------------------------------------------------------------------------------- */

typedef int (*txn_fn)(struct store_view *txn, void *arg);

struct waiter {
    pthread_mutex_t m;
    pthread_cond_t c;
    int pending;
    int committed;
};

struct tjob {
    struct store_job job;
    txn_fn fn;
    void *arg;
    struct waiter *w;
    int rc;
    bool committed;
    bool done;
};

static void waiter_init(struct waiter *w)
{
    pthread_mutex_init(&w->m, NULL);
    pthread_cond_init(&w->c, NULL);
    w->pending = 0;
    w->committed = 0;
}

static void waiter_destroy(struct waiter *w)
{
    pthread_mutex_destroy(&w->m);
    pthread_cond_destroy(&w->c);
}

static int tjob_run(struct store_view *txn, void *arg)
{
    struct tjob *j = arg;
    j->rc = j->fn(txn, j->arg);
    return j->rc;
}

static void tjob_done(void *arg, bool committed)
{
    struct tjob *j = arg;
    struct waiter *w = j->w;
    pthread_mutex_lock(&w->m);
    j->committed = committed;
    j->done = true;
    w->pending--;
    if (committed)
        w->committed++;
    pthread_cond_broadcast(&w->c);
    pthread_mutex_unlock(&w->m);
}

static void submit(struct store *st, struct tjob *j, struct waiter *w, txn_fn fn, void *arg)
{
    memset(j, 0, sizeof *j);
    j->fn = fn;
    j->arg = arg;
    j->w = w;
    j->job = (struct store_job){.run = tjob_run, .done = tjob_done, .arg = j};
    pthread_mutex_lock(&w->m);
    w->pending++;
    pthread_mutex_unlock(&w->m);
    assert_int_equal(st->ops->submit(st, &j->job), STORE_OK);
}

static void wait_all(struct waiter *w)
{
    pthread_mutex_lock(&w->m);
    while (w->pending > 0)
        pthread_cond_wait(&w->c, &w->m);
    pthread_mutex_unlock(&w->m);
}

/* Run fn as one job and wait for its commit; returns fn's result. */
static int run_sync(struct store *st, txn_fn fn, void *arg)
{
    struct waiter w;
    struct tjob j;
    waiter_init(&w);
    submit(st, &j, &w, fn, arg);
    wait_all(&w);
    waiter_destroy(&w);
    assert_true(j.done);
    assert_true(j.committed);
    return j.rc;
}

/* ---- rows ------------------------------------------------------------------------------------- */

struct ins {
    const char *ri, *pi, *path;
    int ty;
    int64_t et, cs;
    const char *doc;
    int rc; /* insert's result */
    int64_t seq;
};

static int insert_one(struct store_view *txn, struct ins *a)
{
    const char *slash = strrchr(a->path, '/');
    struct store_row r = {
        .ri = (char *)a->ri,
        .pi = (char *)a->pi,
        .rn = (char *)(slash ? slash + 1 : a->path),
        .path = (char *)a->path,
        .ty = a->ty,
        .et = a->et ? a->et : ET_FAR,
        .cs = a->cs,
        .cr = "//warden.example.com/id-in/Ctest",
        .ae = "Ctest",
        .doc = (char *)(a->doc ? a->doc : "{\"x\":1}"),
    };
    a->rc = txn->st->ops->insert(txn, &r);
    a->seq = r.seq;
    return a->rc;
}

static int ins_run(struct store_view *txn, void *arg)
{
    return insert_one(txn, arg) != STORE_OK;
}

struct ins_list {
    struct ins *v;
    size_t n;
    int fail_after; /* return non-zero after the inserts (to force a rollback) */
};

static int ins_list_run(struct store_view *txn, void *arg)
{
    struct ins_list *l = arg;
    for (size_t i = 0; i < l->n; i++)
        if (insert_one(txn, &l->v[i]) != STORE_OK)
            return 1;
    return l->fail_after;
}

static void insert_all(struct store *st, struct ins *v, size_t n)
{
    struct ins_list l = {v, n, 0};
    assert_int_equal(run_sync(st, ins_list_run, &l), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(v[i].rc, STORE_OK);
}

static int get_path(struct store *st, const char *path, int64_t now, struct store_row *out)
{
    struct store_view *v = st->ops->view_acquire(st);
    int rc = st->ops->get_path(v, path, now, out);
    st->ops->view_release(st, v);
    return rc;
}

static int get_ri(struct store *st, const char *ri, int64_t now, struct store_row *out)
{
    struct store_view *v = st->ops->view_acquire(st);
    int rc = st->ops->get_ri(v, ri, now, out);
    st->ops->view_release(st, v);
    return rc;
}

static bool exists(struct store *st, const char *path, int64_t now)
{
    struct store_row r;
    int rc = get_path(st, path, now, &r);
    assert_true(rc == STORE_OK || rc == STORE_NOT_FOUND);
    if (rc == STORE_OK)
        store_row_free(&r);
    return rc == STORE_OK;
}

/* Collects the paths a walk visits as "p1,p2,...". */
struct names {
    char buf[4096];
    int n;
    int stop_after; /* 0: never */
};

static int names_add(void *arg, const struct store_row *r)
{
    struct names *nm = arg;
    size_t len = strlen(nm->buf);
    snprintf(nm->buf + len, sizeof nm->buf - len, "%s%s", len ? "," : "", r->path);
    nm->n++;
    return nm->stop_after && nm->n >= nm->stop_after ? 7 : 0;
}

static const char *children(struct store *st, const char *pi, int ty, int64_t now, struct names *nm)
{
    memset(nm, 0, sizeof *nm);
    struct store_view *v = st->ops->view_acquire(st);
    assert_int_equal(st->ops->children(v, pi, ty, now, names_add, nm), 0);
    st->ops->view_release(st, v);
    return nm->buf;
}

static const char *descendants(struct store *st, const char *path, int64_t now, struct names *nm)
{
    memset(nm, 0, sizeof *nm);
    struct store_view *v = st->ops->view_acquire(st);
    assert_int_equal(st->ops->descendants(v, path, now, names_add, nm), 0);
    st->ops->view_release(st, v);
    return nm->buf;
}

static void insert_base(struct store *st)
{
    struct ins base = {.ri = "cb", .pi = "", .path = "cse-in", .ty = 5};
    assert_int_equal(run_sync(st, ins_run, &base), 0);
}

/* ---- tests ------------------------------------------------------------------------------------ */

/* The database, its WAL and the directories created for it are private to the owner. */
static void test_file_modes_private(void **state)
{
    struct fx *f = *state;
    f->st->ops->close(f->st);
    f->st = NULL;

    mode_t old = umask(0); /* permissions must not depend on the caller's umask */
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/sub/deeper/w.db", f->dir);
    struct store *st = store_sqlite_open(path, false, 1, err, sizeof err);
    if (st == NULL) {
        umask(old);
        fail_msg("open: %s", err);
    }
    struct ins a = {.ri = "r1", .pi = "", .path = "cse-in", .ty = 5};
    assert_int_equal(run_sync(st, ins_run, &a), 0);

    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    char side[300];
    snprintf(side, sizeof side, "%s-wal", path);
    if (stat(side, &sb) == 0)
        assert_int_equal(sb.st_mode & 0777, 0600);
    snprintf(side, sizeof side, "%s-shm", path);
    if (stat(side, &sb) == 0)
        assert_int_equal(sb.st_mode & 0777, 0600);
    snprintf(side, sizeof side, "%s/sub", f->dir);
    assert_int_equal(stat(side, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    st->ops->close(st);
    umask(old);
}

static void test_default_mode_is_0600(void **state)
{
    struct fx *f = *state;
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
}

static void test_open_failure_reports(void **state)
{
    (void)state;
    char err[256] = "";
    /* a path below a regular file cannot be created */
    struct store *st = store_sqlite_open("/dev/null/x/w.db", false, 1, err, sizeof err);
    assert_null(st);
    assert_true(err[0] != '\0');
}

static void test_insert_and_lookup(void **state)
{
    struct fx *f = *state;
    struct ins v[] = {
        {.ri = "cb", .pi = "", .path = "cse-in", .ty = 5},
        {.ri = "cnt1", .pi = "cb", .path = "cse-in/box", .ty = 3, .et = NOW + 100, .cs = 0, .doc = "{\"mni\":3}"},
        {.ri = "cin1", .pi = "cnt1", .path = "cse-in/box/i1", .ty = 4, .cs = 11},
    };
    insert_all(f->st, v, 3);
    assert_true(v[0].seq > 0);
    assert_true(v[1].seq > v[0].seq);
    assert_true(v[2].seq > v[1].seq);

    struct store_row r;
    assert_int_equal(get_ri(f->st, "cnt1", NOW, &r), STORE_OK);
    assert_string_equal(r.ri, "cnt1");
    assert_string_equal(r.pi, "cb");
    assert_string_equal(r.rn, "box");
    assert_string_equal(r.path, "cse-in/box");
    assert_int_equal(r.ty, 3);
    assert_int_equal(r.et, NOW + 100);
    assert_int_equal(r.seq, v[1].seq);
    assert_string_equal(r.cr, "//warden.example.com/id-in/Ctest");
    assert_string_equal(r.ae, "Ctest");
    assert_string_equal(r.doc, "{\"mni\":3}");
    store_row_free(&r);

    assert_int_equal(get_path(f->st, "cse-in/box/i1", NOW, &r), STORE_OK);
    assert_string_equal(r.ri, "cin1");
    assert_int_equal(r.cs, 11);
    store_row_free(&r);

    assert_int_equal(get_ri(f->st, "nope", NOW, &r), STORE_NOT_FOUND);
    assert_int_equal(get_path(f->st, "cse-in/nope", NOW, &r), STORE_NOT_FOUND);
    assert_int_equal(get_path(f->st, "cse-in/bo", NOW, &r), STORE_NOT_FOUND); /* no prefix matching */
    assert_int_equal(get_ri(f->st, "cse-in/box", NOW, &r), STORE_NOT_FOUND);  /* a path is not a resourceID */
}

/* Lookups never return a resource whose expirationTime has passed (et <= now). */
static void test_expired_hidden(void **state)
{
    struct fx *f = *state;
    insert_base(f->st);
    struct ins v[] = {
        {.ri = "c1", .pi = "cb", .path = "cse-in/c1", .ty = 3, .et = NOW + 10},
        {.ri = "i1", .pi = "c1", .path = "cse-in/c1/i1", .ty = 4, .et = NOW + 5},
    };
    insert_all(f->st, v, 2);
    struct store_row r;
    struct names nm;
    assert_int_equal(get_ri(f->st, "i1", NOW + 4, &r), STORE_OK);
    store_row_free(&r);
    assert_int_equal(get_ri(f->st, "i1", NOW + 5, &r), STORE_NOT_FOUND); /* et == now: expired */
    assert_int_equal(get_path(f->st, "cse-in/c1/i1", NOW + 5, &r), STORE_NOT_FOUND);
    assert_int_equal(get_path(f->st, "cse-in/c1/i1", NOW + 6, &r), STORE_NOT_FOUND);

    assert_string_equal(children(f->st, "c1", 0, NOW + 4, &nm), "cse-in/c1/i1");
    assert_string_equal(children(f->st, "c1", 0, NOW + 5, &nm), "");
    assert_string_equal(children(f->st, "c1", 4, NOW + 5, &nm), "");
    assert_string_equal(descendants(f->st, "cse-in", NOW + 5, &nm), "cse-in/c1");
    assert_string_equal(descendants(f->st, "cse-in", NOW + 10, &nm), "");

    struct store_view *view = f->st->ops->view_acquire(f->st);
    assert_int_equal(f->st->ops->edge_child(view, "c1", 4, true, NOW + 5, &r), STORE_NOT_FOUND);
    assert_int_equal(f->st->ops->edge_child(view, "c1", 4, false, NOW + 5, &r), STORE_NOT_FOUND);
    f->st->ops->view_release(f->st, view);

    /* hidden, not deleted: an earlier now still sees it */
    assert_true(exists(f->st, "cse-in/c1/i1", NOW));
}

static void test_expired_listing(void **state)
{
    struct fx *f = *state;
    insert_base(f->st);
    struct ins v[] = {
        {.ri = "a", .pi = "cb", .path = "cse-in/a", .ty = 3, .et = NOW + 30},
        {.ri = "b", .pi = "cb", .path = "cse-in/b", .ty = 3, .et = NOW + 10},
        {.ri = "c", .pi = "cb", .path = "cse-in/c", .ty = 3, .et = NOW + 20},
        {.ri = "d", .pi = "cb", .path = "cse-in/d", .ty = 3},
    };
    insert_all(f->st, v, 4);
    struct names nm = {0};
    struct store_view *view = f->st->ops->view_acquire(f->st);
    assert_int_equal(f->st->ops->expired(view, NOW + 20, 10, names_add, &nm), 0);
    assert_string_equal(nm.buf, "cse-in/b,cse-in/c"); /* soonest first, et <= now */
    memset(&nm, 0, sizeof nm);
    assert_int_equal(f->st->ops->expired(view, NOW + 100, 2, names_add, &nm), 0);
    assert_string_equal(nm.buf, "cse-in/b,cse-in/c"); /* at most limit */
    memset(&nm, 0, sizeof nm);
    assert_int_equal(f->st->ops->expired(view, NOW + 9, 10, names_add, &nm), 0);
    assert_string_equal(nm.buf, "");
    f->st->ops->view_release(f->st, view);
}

/* Newest / oldest child of a type: what the la / ol virtual resources resolve to (TS-0001 9.6.27). */
static void test_edge_child(void **state)
{
    struct fx *f = *state;
    insert_base(f->st);
    struct ins v[] = {
        {.ri = "cnt", .pi = "cb", .path = "cse-in/cnt", .ty = 3},
        {.ri = "i1", .pi = "cnt", .path = "cse-in/cnt/i1", .ty = 4},
        {.ri = "sub", .pi = "cnt", .path = "cse-in/cnt/sub", .ty = 3},
        {.ri = "i2", .pi = "cnt", .path = "cse-in/cnt/i2", .ty = 4},
        {.ri = "i3", .pi = "cnt", .path = "cse-in/cnt/i3", .ty = 4, .et = NOW + 10},
        {.ri = "sub4", .pi = "sub", .path = "cse-in/cnt/sub/i4", .ty = 4}, /* grandchild, never an edge */
        {.ri = "empty", .pi = "cb", .path = "cse-in/empty", .ty = 3},
    };
    insert_all(f->st, v, 7);
    const struct store_ops *ops = f->st->ops;
    struct store_view *view = ops->view_acquire(f->st);
    struct store_row r;
    assert_int_equal(ops->edge_child(view, "cnt", 4, true, NOW, &r), STORE_OK);
    assert_string_equal(r.ri, "i3");
    store_row_free(&r);
    assert_int_equal(ops->edge_child(view, "cnt", 4, false, NOW, &r), STORE_OK);
    assert_string_equal(r.ri, "i1");
    store_row_free(&r);
    assert_int_equal(ops->edge_child(view, "cnt", 3, true, NOW, &r), STORE_OK);
    assert_string_equal(r.ri, "sub");
    store_row_free(&r);
    /* once i3 expired, i2 is the newest */
    assert_int_equal(ops->edge_child(view, "cnt", 4, true, NOW + 10, &r), STORE_OK);
    assert_string_equal(r.ri, "i2");
    store_row_free(&r);
    assert_int_equal(ops->edge_child(view, "empty", 4, true, NOW, &r), STORE_NOT_FOUND);
    assert_int_equal(ops->edge_child(view, "cnt", 2, false, NOW, &r), STORE_NOT_FOUND);
    ops->view_release(f->st, view);
}

/* Children come by type, then in creation order (not name order), filtered by type when asked. */
static void test_children_order(void **state)
{
    struct fx *f = *state;
    insert_base(f->st);
    struct ins v[] = {
        {.ri = "z", .pi = "cb", .path = "cse-in/z", .ty = 3},
        {.ri = "a", .pi = "cb", .path = "cse-in/a", .ty = 2},
        {.ri = "m", .pi = "cb", .path = "cse-in/m", .ty = 3},
        {.ri = "a1", .pi = "a", .path = "cse-in/a/a1", .ty = 3},
    };
    insert_all(f->st, v, 4);
    struct names nm;
    assert_string_equal(children(f->st, "cb", 0, NOW, &nm), "cse-in/a,cse-in/z,cse-in/m");
    assert_string_equal(children(f->st, "cb", 3, NOW, &nm), "cse-in/z,cse-in/m");
    assert_string_equal(children(f->st, "cb", 2, NOW, &nm), "cse-in/a");
    assert_string_equal(children(f->st, "a", 0, NOW, &nm), "cse-in/a/a1");
    assert_string_equal(children(f->st, "nope", 0, NOW, &nm), "");

    /* a callback's non-zero result stops the walk and is returned */
    memset(&nm, 0, sizeof nm);
    nm.stop_after = 1;
    struct store_view *view = f->st->ops->view_acquire(f->st);
    assert_int_equal(f->st->ops->children(view, "cb", 0, NOW, names_add, &nm), 7);
    assert_int_equal(nm.n, 1);
    /* the view stays usable after an early stop */
    struct store_row r;
    assert_int_equal(f->st->ops->get_ri(view, "m", NOW, &r), STORE_OK);
    store_row_free(&r);
    f->st->ops->view_release(f->st, view);
}

static const struct ins tree[] = {
    {.ri = "cb", .pi = "", .path = "cse-in", .ty = 5},
    {.ri = "a", .pi = "cb", .path = "cse-in/a", .ty = 2},
    {.ri = "ax", .pi = "a", .path = "cse-in/a/x", .ty = 3},
    {.ri = "axy", .pi = "ax", .path = "cse-in/a/x/y", .ty = 4},
    {.ri = "az", .pi = "a", .path = "cse-in/a/z", .ty = 3},
    {.ri = "ab", .pi = "cb", .path = "cse-in/ab", .ty = 2}, /* sibling sharing the prefix */
    {.ri = "abx", .pi = "ab", .path = "cse-in/ab/x", .ty = 3},
    {.ri = "a-b", .pi = "cb", .path = "cse-in/a-b", .ty = 2}, /* '-' sorts before '/' */
    {.ri = "a.b", .pi = "cb", .path = "cse-in/a.b", .ty = 2}, /* '.' sorts before '/' */
    {.ri = "a0", .pi = "cb", .path = "cse-in/a0", .ty = 2},   /* '0' sorts right after '/' */
    {.ri = "b", .pi = "cb", .path = "cse-in/b", .ty = 2},
};
#define NTREE (sizeof tree / sizeof tree[0])

/* The console's tree: pages of children in creation order, keyed by the last seq seen (not by
 * an offset), skipping expired children; and the resource counts by type for the metrics. */
static void count_add(void *arg, int ty, int64_t n)
{
    int64_t *by_ty = arg;
    if (ty >= 0 && ty < 8)
        by_ty[ty] += n;
}

static void test_children_page_and_count_types(void **state)
{
    struct fx *f = *state;
    insert_base(f->st);
    struct ins v[] = {
        {.ri = "c1", .pi = "cb", .path = "cse-in/c1", .ty = 3},
        {.ri = "a1", .pi = "cb", .path = "cse-in/a1", .ty = 2},
        {.ri = "old", .pi = "cb", .path = "cse-in/old", .ty = 3, .et = NOW - 1},
        {.ri = "c2", .pi = "cb", .path = "cse-in/c2", .ty = 3},
        {.ri = "x", .pi = "a1", .path = "cse-in/a1/x", .ty = 3},
    };
    insert_all(f->st, v, 5);
    struct store_view *view = f->st->ops->view_acquire(f->st);
    struct names nm;
    memset(&nm, 0, sizeof nm);
    assert_int_equal(f->st->ops->children_page(view, "cb", 0, 2, NOW, names_add, &nm), 0);
    assert_string_equal(nm.buf, "cse-in/c1,cse-in/a1"); /* creation order, whatever the type */
    memset(&nm, 0, sizeof nm);
    assert_int_equal(f->st->ops->children_page(view, "cb", v[1].seq, 2, NOW, names_add, &nm), 0);
    assert_string_equal(nm.buf, "cse-in/c2"); /* after a1; the expired one is skipped */
    int64_t by_ty[8] = {0};
    assert_int_equal(f->st->ops->count_types(view, NOW, count_add, by_ty), STORE_OK);
    assert_int_equal(by_ty[3], 3); /* c1, c2, x: not the expired one */
    assert_int_equal(by_ty[2], 1);
    f->st->ops->view_release(f->st, view);
}

static void insert_tree(struct store *st)
{
    struct ins v[NTREE];
    memcpy(v, tree, sizeof v);
    insert_all(st, v, NTREE);
}

/* Descendants are exactly the resources strictly below the path. */
static void test_descendants_only_below(void **state)
{
    struct fx *f = *state;
    insert_tree(f->st);
    struct names nm;
    assert_string_equal(descendants(f->st, "cse-in/a", NOW, &nm), "cse-in/a/x,cse-in/a/x/y,cse-in/a/z");
    assert_string_equal(descendants(f->st, "cse-in/ab", NOW, &nm), "cse-in/ab/x");
    assert_string_equal(descendants(f->st, "cse-in/a/x", NOW, &nm), "cse-in/a/x/y");
    assert_string_equal(descendants(f->st, "cse-in/a/x/y", NOW, &nm), "");
    assert_string_equal(descendants(f->st, "cse-in/a0", NOW, &nm), "");
    assert_string_equal(descendants(f->st, "cse-in/a-b", NOW, &nm), "");
    assert_string_equal(descendants(f->st, "cse-in", NOW, &nm),
                        "cse-in/a,cse-in/a-b,cse-in/a.b,cse-in/a/x,cse-in/a/x/y,cse-in/a/z,cse-in/a0,cse-in/ab,"
                        "cse-in/ab/x,cse-in/b");
    assert_int_equal(nm.n, (int)NTREE - 1);
}

static int delete_run(struct store_view *txn, void *arg)
{
    return txn->st->ops->delete_subtree(txn, arg);
}

static void test_delete_subtree_only(void **state)
{
    struct fx *f = *state;
    insert_tree(f->st);
    assert_int_equal(run_sync(f->st, delete_run, "cse-in/a"), STORE_OK);
    assert_false(exists(f->st, "cse-in/a", NOW));
    assert_false(exists(f->st, "cse-in/a/x", NOW));
    assert_false(exists(f->st, "cse-in/a/x/y", NOW));
    assert_false(exists(f->st, "cse-in/a/z", NOW));
    const char *kept[] = {"cse-in", "cse-in/ab", "cse-in/ab/x", "cse-in/a-b", "cse-in/a.b", "cse-in/a0", "cse-in/b"};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        if (!exists(f->st, kept[i], NOW))
            fail_msg("deleting cse-in/a removed %s", kept[i]);

    /* a leaf */
    assert_int_equal(run_sync(f->st, delete_run, "cse-in/ab/x"), STORE_OK);
    assert_false(exists(f->st, "cse-in/ab/x", NOW));
    assert_true(exists(f->st, "cse-in/ab", NOW));
    /* a path that does not exist is not an error and removes nothing */
    assert_int_equal(run_sync(f->st, delete_run, "cse-in/zzz"), STORE_OK);
    assert_true(exists(f->st, "cse-in/b", NOW));
}

struct clamp {
    const char *path;
    int64_t et;
    const char *text;
};

static int clamp_run(struct store_view *txn, void *arg)
{
    struct clamp *c = arg;
    return txn->st->ops->clamp_subtree_et(txn, c->path, c->et, c->text);
}

/* clamp_subtree_et: everything strictly below path ends no later than et (column and doc). */
static void test_clamp_subtree_et(void **state)
{
    struct fx *f = *state;
    struct ins v[NTREE];
    memcpy(v, tree, sizeof v);
    for (size_t i = 0; i < NTREE; i++)
        v[i].et = NOW + 1000;
    v[3].et = NOW + 10; /* cse-in/a/x/y already ends sooner */
    v[3].doc = "{\"et\":\"x\"}";
    v[2].doc = "{\"et\":\"old\",\"k\":1}";
    insert_all(f->st, v, NTREE);
    struct clamp c = {"cse-in/a", NOW + 100, "CLAMPED"};
    assert_int_equal(run_sync(f->st, clamp_run, &c), STORE_OK);

    struct store_row r;
    assert_int_equal(get_path(f->st, "cse-in/a", NOW, &r), STORE_OK);
    assert_int_equal(r.et, NOW + 1000); /* the resource itself is not below itself */
    store_row_free(&r);
    assert_int_equal(get_path(f->st, "cse-in/a/x", NOW, &r), STORE_OK);
    assert_int_equal(r.et, NOW + 100);
    assert_non_null(strstr(r.doc, "\"CLAMPED\""));
    assert_non_null(strstr(r.doc, "\"k\":1")); /* other attributes kept */
    store_row_free(&r);
    assert_int_equal(get_path(f->st, "cse-in/a/z", NOW, &r), STORE_OK);
    assert_int_equal(r.et, NOW + 100);
    store_row_free(&r);
    assert_int_equal(get_path(f->st, "cse-in/a/x/y", NOW, &r), STORE_OK);
    assert_int_equal(r.et, NOW + 10); /* never lengthened */
    assert_null(strstr(r.doc, "CLAMPED"));
    store_row_free(&r);
    const char *untouched[] = {"cse-in/ab", "cse-in/ab/x", "cse-in/a-b", "cse-in/a.b", "cse-in/a0", "cse-in/b"};
    for (size_t i = 0; i < sizeof untouched / sizeof untouched[0]; i++) {
        assert_int_equal(get_path(f->st, untouched[i], NOW, &r), STORE_OK);
        if (r.et != NOW + 1000)
            fail_msg("clamping cse-in/a changed et of %s", untouched[i]);
        store_row_free(&r);
    }
}

/* The path and the resourceID are unique. */
static void test_duplicate_conflict(void **state)
{
    struct fx *f = *state;
    insert_base(f->st);
    struct ins a = {.ri = "r1", .pi = "cb", .path = "cse-in/a", .ty = 3, .doc = "{\"v\":1}"};
    assert_int_equal(run_sync(f->st, ins_run, &a), 0);
    struct ins dup_path = {.ri = "r2", .pi = "cb", .path = "cse-in/a", .ty = 3, .doc = "{\"v\":2}"};
    assert_int_equal(run_sync(f->st, ins_run, &dup_path), 1);
    assert_int_equal(dup_path.rc, STORE_CONFLICT);
    struct ins dup_ri = {.ri = "r1", .pi = "cb", .path = "cse-in/b", .ty = 3};
    assert_int_equal(run_sync(f->st, ins_run, &dup_ri), 1);
    assert_int_equal(dup_ri.rc, STORE_CONFLICT);

    struct store_row r;
    assert_int_equal(get_path(f->st, "cse-in/a", NOW, &r), STORE_OK);
    assert_string_equal(r.ri, "r1");
    assert_string_equal(r.doc, "{\"v\":1}");
    store_row_free(&r);
    assert_false(exists(f->st, "cse-in/b", NOW));
    assert_int_equal(get_ri(f->st, "r2", NOW, &r), STORE_NOT_FOUND);
}

/* A job that blocks the writer until released, so that the jobs queued meanwhile form one batch. */
struct gate {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool entered, open;
};

static int gate_run(struct store_view *txn, void *arg)
{
    (void)txn;
    struct gate *g = arg;
    pthread_mutex_lock(&g->m);
    g->entered = true;
    pthread_cond_broadcast(&g->c);
    while (!g->open)
        pthread_cond_wait(&g->c, &g->m);
    pthread_mutex_unlock(&g->m);
    return 0;
}

struct upd {
    const char *ri;
    const char *doc;
    int fail_after;
};

static int upd_run(struct store_view *txn, void *arg)
{
    struct upd *u = arg;
    struct store_row r;
    if (txn->st->ops->get_ri(txn, u->ri, NOW, &r) != STORE_OK)
        return 1;
    mem_free(r.doc);
    r.doc = mem_strdup(u->doc);
    int rc = txn->st->ops->update(txn, &r);
    store_row_free(&r);
    return rc != STORE_OK ? 1 : u->fail_after;
}

/* ---- the announcement outbox (migration 10) ---- */

struct outbox_job {
    struct ins row;
    const char *target;
    int fail; /* roll the job back after writing */
};

/* A resource and its announcement step in one job (core/announce.c writes them so). */
static int outbox_run(struct store_view *txn, void *arg)
{
    struct outbox_job *o = arg;
    if (insert_one(txn, &o->row) != STORE_OK)
        return 1;
    if (txn->st->ops->outbox_add(txn, o->row.ri, o->target, 1, "") != STORE_OK)
        return 1;
    return o->fail;
}

struct outbox_seen {
    int n;
    int64_t ids[8];
    char ri[8][16];
};

static int outbox_collect(void *arg, const struct store_outbox *row)
{
    struct outbox_seen *s = arg;
    if (s->n < 8) {
        s->ids[s->n] = row->id;
        snprintf(s->ri[s->n], sizeof s->ri[0], "%s", row->ri);
        assert_int_equal(row->op, 1);
        assert_string_equal(row->target, "/id-in");
        assert_string_equal(row->addr, "");
    }
    s->n++;
    return 0;
}

static void outbox_read(struct store *st, struct outbox_seen *s)
{
    memset(s, 0, sizeof *s);
    struct store_view *v = st->ops->view_acquire(st);
    assert_non_null(v);
    assert_int_equal(st->ops->outbox_scan(v, 8, outbox_collect, s), STORE_OK);
    st->ops->view_release(st, v);
}

static int outbox_del_run(struct store_view *txn, void *arg)
{
    return txn->st->ops->outbox_del(txn, *(int64_t *)arg) != STORE_OK;
}

/* TS-0004 §7.3.3.10 (issue 14): a step commits with the change that asks for it, or not at all; the
 * steps come back oldest first; a delivered one is removed. */
static void test_issue_14_outbox_steps_commit_with_their_change(void **state)
{
    struct fx *f = *state;
    insert_base(f->st);
    struct outbox_job a = {.row = {.ri = "oa", .pi = "cb", .path = "cse-in/oa", .ty = 2}, .target = "/id-in"};
    struct outbox_job b = {
        .row = {.ri = "ob", .pi = "cb", .path = "cse-in/ob", .ty = 2}, .target = "/id-in", .fail = 1};
    struct outbox_job c = {.row = {.ri = "oc", .pi = "cb", .path = "cse-in/oc", .ty = 2}, .target = "/id-in"};
    assert_int_equal(run_sync(f->st, outbox_run, &a), 0);
    assert_int_equal(run_sync(f->st, outbox_run, &b), 1); /* rolled back: neither row nor step */
    assert_int_equal(run_sync(f->st, outbox_run, &c), 0);
    struct outbox_seen s;
    outbox_read(f->st, &s);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.ri[0], "oa");
    assert_string_equal(s.ri[1], "oc");
    assert_true(s.ids[0] < s.ids[1]);
    assert_int_equal(run_sync(f->st, outbox_del_run, &s.ids[0]), 0);
    outbox_read(f->st, &s);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.ri[0], "oc");
}

/* A job returning non-zero loses exactly its own changes; the other jobs of the same batch
 * (the same SQLite transaction) commit. */
static void test_failed_job_rolled_back_others_commit(void **state)
{
    struct fx *f = *state;
    insert_base(f->st);
    struct ins pre = {.ri = "u", .pi = "cb", .path = "cse-in/u", .ty = 3, .doc = "{\"v\":0}"};
    assert_int_equal(run_sync(f->st, ins_run, &pre), 0);

    struct gate g = {.entered = false, .open = false};
    pthread_mutex_init(&g.m, NULL);
    pthread_cond_init(&g.c, NULL);
    struct waiter w;
    waiter_init(&w);
    struct tjob jobs[6];
    submit(f->st, &jobs[0], &w, gate_run, &g);
    pthread_mutex_lock(&g.m);
    while (!g.entered)
        pthread_cond_wait(&g.c, &g.m);
    pthread_mutex_unlock(&g.m);

    /* queued while the writer is busy: one batch */
    struct ins a = {.ri = "ja", .pi = "cb", .path = "cse-in/ja", .ty = 3};
    struct ins b[] = {
        {.ri = "jb1", .pi = "cb", .path = "cse-in/jb1", .ty = 3},
        {.ri = "jb2", .pi = "cb", .path = "cse-in/jb2", .ty = 3},
    };
    struct ins_list bl = {b, 2, 1}; /* both inserts succeed, then the job fails */
    struct upd bu = {.ri = "u", .doc = "{\"v\":1}", .fail_after = 1};
    struct ins c = {.ri = "jc", .pi = "cb", .path = "cse-in/jc", .ty = 3};
    struct ins dup = {.ri = "jd", .pi = "cb", .path = "cse-in/ja", .ty = 3}; /* conflicts with a */
    submit(f->st, &jobs[1], &w, ins_run, &a);
    submit(f->st, &jobs[2], &w, ins_list_run, &bl);
    submit(f->st, &jobs[3], &w, upd_run, &bu);
    submit(f->st, &jobs[4], &w, ins_run, &dup);
    submit(f->st, &jobs[5], &w, ins_run, &c);

    pthread_mutex_lock(&g.m);
    g.open = true;
    pthread_cond_broadcast(&g.c);
    pthread_mutex_unlock(&g.m);
    wait_all(&w);

    for (int i = 0; i < 6; i++) {
        assert_true(jobs[i].done);
        assert_true(jobs[i].committed); /* the shared commit succeeded */
    }
    assert_int_equal(jobs[2].rc, 1);
    assert_int_equal(jobs[3].rc, 1);
    assert_int_equal(dup.rc, STORE_CONFLICT);
    assert_true(exists(f->st, "cse-in/ja", NOW));
    assert_true(exists(f->st, "cse-in/jc", NOW));
    assert_false(exists(f->st, "cse-in/jb1", NOW));
    assert_false(exists(f->st, "cse-in/jb2", NOW));
    struct store_row r;
    assert_int_equal(get_ri(f->st, "u", NOW, &r), STORE_OK);
    assert_string_equal(r.doc, "{\"v\":0}");
    store_row_free(&r);
    assert_int_equal(get_ri(f->st, "jd", NOW, &r), STORE_NOT_FOUND);
    assert_int_equal(get_path(f->st, "cse-in/ja", NOW, &r), STORE_OK);
    assert_string_equal(r.ri, "ja");
    store_row_free(&r);

    waiter_destroy(&w);
    pthread_mutex_destroy(&g.m);
    pthread_cond_destroy(&g.c);
}

static void test_update(void **state)
{
    struct fx *f = *state;
    insert_base(f->st);
    struct ins a = {.ri = "r1", .pi = "cb", .path = "cse-in/a", .ty = 3, .doc = "{\"v\":0}", .et = NOW + 50};
    assert_int_equal(run_sync(f->st, ins_run, &a), 0);
    struct upd u = {.ri = "r1", .doc = "{\"v\":9}"};
    assert_int_equal(run_sync(f->st, upd_run, &u), 0);
    struct store_row r;
    assert_int_equal(get_path(f->st, "cse-in/a", NOW, &r), STORE_OK);
    assert_string_equal(r.doc, "{\"v\":9}");
    assert_int_equal(r.seq, a.seq); /* an update keeps the creation order */
    store_row_free(&r);
}

static int update_missing_run(struct store_view *txn, void *arg)
{
    (void)arg;
    struct store_row r = {.ri = "ghost", .doc = "{}", .et = ET_FAR};
    return txn->st->ops->update(txn, &r);
}

static int update_et_run(struct store_view *txn, void *arg)
{
    (void)arg;
    struct store_row r;
    if (txn->st->ops->get_ri(txn, "r1", NOW, &r) != STORE_OK)
        return -1;
    r.et = NOW + 1;
    r.cs = 42;
    int rc = txn->st->ops->update(txn, &r);
    store_row_free(&r);
    return rc;
}

static void test_update_missing_and_fields(void **state)
{
    struct fx *f = *state;
    insert_base(f->st);
    assert_int_equal(run_sync(f->st, update_missing_run, NULL), STORE_NOT_FOUND);
    struct ins a = {.ri = "r1", .pi = "cb", .path = "cse-in/a", .ty = 3};
    assert_int_equal(run_sync(f->st, ins_run, &a), 0);
    assert_int_equal(run_sync(f->st, update_et_run, NULL), STORE_OK);
    struct store_row r;
    assert_int_equal(get_ri(f->st, "r1", NOW, &r), STORE_OK);
    assert_int_equal(r.et, NOW + 1);
    assert_int_equal(r.cs, 42);
    store_row_free(&r);
    assert_int_equal(get_ri(f->st, "r1", NOW + 1, &r), STORE_NOT_FOUND); /* the new et applies */
}

/* done() runs after the commit: a reader sees the job's row from inside done(). */
struct seen {
    struct tjob tj;
    struct store *st;
    int found;
    struct waiter *w;
    struct ins ins;
};

static void seen_done(void *arg, bool committed)
{
    struct seen *s = arg;
    struct store_row r;
    struct store_view *v = s->st->ops->view_acquire(s->st);
    s->found = s->st->ops->get_path(v, s->ins.path, NOW, &r);
    if (s->found == STORE_OK)
        store_row_free(&r);
    s->st->ops->view_release(s->st, v);
    tjob_done(&s->tj, committed);
}

static int seen_run(struct store_view *txn, void *arg)
{
    struct seen *s = arg;
    return insert_one(txn, &s->ins) != STORE_OK;
}

static void test_done_after_commit(void **state)
{
    struct fx *f = *state;
    insert_base(f->st);
    struct waiter w;
    waiter_init(&w);
    struct seen s = {.st = f->st, .found = -5, .ins = {.ri = "n", .pi = "cb", .path = "cse-in/new", .ty = 3}};
    s.tj.w = &w;
    s.tj.job = (struct store_job){.run = seen_run, .done = seen_done, .arg = &s};
    w.pending = 1;
    assert_int_equal(f->st->ops->submit(f->st, &s.tj.job), STORE_OK);
    wait_all(&w);
    waiter_destroy(&w);
    assert_true(s.tj.committed);
    assert_int_equal(s.found, STORE_OK);
}

/* Many writers from several threads: every job completes and commits. */
#define THREADS         4
#define JOBS_PER_THREAD 100

struct worker {
    struct store *st;
    int id;
    struct tjob jobs[JOBS_PER_THREAD];
    struct ins ins[JOBS_PER_THREAD];
    char ri[JOBS_PER_THREAD][32];
    char path[JOBS_PER_THREAD][48];
    struct waiter w;
    int committed;
    int ok;
};

static void *worker_main(void *arg)
{
    struct worker *wk = arg;
    waiter_init(&wk->w);
    for (int i = 0; i < JOBS_PER_THREAD; i++) {
        snprintf(wk->ri[i], sizeof wk->ri[i], "t%dj%d", wk->id, i);
        snprintf(wk->path[i], sizeof wk->path[i], "cse-in/t%dj%d", wk->id, i);
        wk->ins[i] = (struct ins){.ri = wk->ri[i], .pi = "cb", .path = wk->path[i], .ty = 3};
        struct tjob *j = &wk->jobs[i];
        memset(j, 0, sizeof *j);
        j->fn = ins_run;
        j->arg = &wk->ins[i];
        j->w = &wk->w;
        j->job = (struct store_job){.run = tjob_run, .done = tjob_done, .arg = j};
        pthread_mutex_lock(&wk->w.m);
        wk->w.pending++;
        pthread_mutex_unlock(&wk->w.m);
        if (wk->st->ops->submit(wk->st, &j->job) != STORE_OK) {
            pthread_mutex_lock(&wk->w.m);
            wk->w.pending--;
            pthread_mutex_unlock(&wk->w.m);
        }
    }
    wait_all(&wk->w);
    wk->committed = wk->w.committed;
    wk->ok = 0;
    for (int i = 0; i < JOBS_PER_THREAD; i++)
        wk->ok += wk->jobs[i].done && wk->jobs[i].rc == 0 && wk->ins[i].rc == STORE_OK;
    waiter_destroy(&wk->w);
    return NULL;
}

static void test_concurrent_jobs(void **state)
{
    struct fx *f = *state;
    insert_base(f->st);
    struct worker *wk = calloc(THREADS, sizeof *wk);
    assert_non_null(wk);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        wk[i].st = f->st;
        wk[i].id = i;
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &wk[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(wk[i].committed, JOBS_PER_THREAD);
        assert_int_equal(wk[i].ok, JOBS_PER_THREAD);
    }
    free(wk);
    struct names nm;
    children(f->st, "cb", 3, NOW, &nm);
    assert_int_equal(nm.n, THREADS * JOBS_PER_THREAD);
}

/* Committed data survives close and reopen; the creation order continues. */
static void test_close_reopen_persists(void **state)
{
    struct fx *f = *state;
    insert_base(f->st);
    struct ins a = {.ri = "r1", .pi = "cb", .path = "cse-in/keep", .ty = 3, .doc = "{\"lbl\":[\"x\"]}", .et = NOW + 99};
    assert_int_equal(run_sync(f->st, ins_run, &a), 0);
    f->st->ops->close(f->st);
    f->st = NULL;

    char err[256];
    f->st = store_sqlite_open(f->path, false, 2, err, sizeof err);
    if (f->st == NULL)
        fail_msg("reopen: %s", err);
    struct store_row r;
    assert_int_equal(get_path(f->st, "cse-in/keep", NOW, &r), STORE_OK);
    assert_string_equal(r.ri, "r1");
    assert_string_equal(r.doc, "{\"lbl\":[\"x\"]}");
    assert_int_equal(r.et, NOW + 99);
    assert_int_equal(r.seq, a.seq);
    store_row_free(&r);
    struct ins b = {.ri = "r2", .pi = "cb", .path = "cse-in/after", .ty = 3};
    assert_int_equal(run_sync(f->st, ins_run, &b), 0);
    assert_true(b.seq > a.seq);

    /* and again with synchronous=FULL */
    f->st->ops->close(f->st);
    f->st = store_sqlite_open(f->path, true, 1, err, sizeof err);
    if (f->st == NULL)
        fail_msg("reopen (full): %s", err);
    assert_true(exists(f->st, "cse-in/keep", NOW));
    assert_true(exists(f->st, "cse-in/after", NOW));
}

/* Several read views can be held at once and each sees the committed state. */
static void test_read_pool(void **state)
{
    struct fx *f = *state;
    insert_base(f->st);
    struct store_view *v1 = f->st->ops->view_acquire(f->st);
    struct store_view *v2 = f->st->ops->view_acquire(f->st);
    assert_ptr_not_equal(v1, v2);
    struct store_row r;
    assert_int_equal(f->st->ops->get_ri(v1, "cb", NOW, &r), STORE_OK);
    store_row_free(&r);
    assert_int_equal(f->st->ops->get_path(v2, "cse-in", NOW, &r), STORE_OK);
    store_row_free(&r);
    f->st->ops->view_release(f->st, v1);
    f->st->ops->view_release(f->st, v2);
}

/* Finding 21: one server per store. The lock is held against a second holder (in this process too:
 * an open-file-description lock), names the holder's pid, and is free again once released. */
static void test_finding_21_store_lock_exclusive_names_holder(void **state)
{
    struct fx *f = *state;
    char err[512] = "";
    int a = store_sqlite_lock(f->path, err, sizeof err);
    assert_true(a >= 0);
    assert_int_equal(store_sqlite_lock(f->path, err, sizeof err), -1);
    char want[64];
    snprintf(want, sizeof want, "pid %ld", (long)getpid());
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, f->path));
    close(a);
    int b = store_sqlite_lock(f->path, err, sizeof err);
    assert_true(b >= 0);
    close(b);
}

/* Finding 21: probing a missing store creates nothing; an existing one reports its schema. */
static void test_finding_21_probe_creates_nothing(void **state)
{
    struct fx *f = *state;
    char err[512], path[300];
    int version = -1;
    snprintf(path, sizeof path, "%s/none/w.db", f->dir);
    assert_int_equal(store_sqlite_probe(path, &version, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    struct stat sb;
    assert_int_equal(stat(path, &sb), -1);
    snprintf(path, sizeof path, "%s/none", f->dir);
    assert_int_equal(stat(path, &sb), -1);
    assert_int_equal(store_sqlite_probe(f->path, &version, err, sizeof err), 0);
    assert_true(version >= 7);
}

/* Finding 16: store files open to others, of another user or in a world-writable directory are
 * refused by name, with the fix. */
static void test_finding_16_store_files_private(void **state)
{
    struct fx *f = *state;
    char err[512] = "";
    assert_int_equal(store_sqlite_check_files(f->path, err, sizeof err), 0);
    assert_int_equal(chmod(f->path, 0640), 0);
    assert_int_equal(store_sqlite_check_files(f->path, err, sizeof err), -1);
    assert_non_null(strstr(err, "chmod 600"));
    assert_int_equal(chmod(f->path, 0600), 0);
    char wal[300];
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    struct stat sb;
    if (stat(wal, &sb) == 0) {
        assert_int_equal(chmod(wal, 0604), 0);
        assert_int_equal(store_sqlite_check_files(f->path, err, sizeof err), -1);
        assert_non_null(strstr(err, "-wal"));
        assert_int_equal(chmod(wal, 0600), 0);
    }
    assert_int_equal(chmod(f->dir, 0777), 0);
    assert_int_equal(store_sqlite_check_files(f->path, err, sizeof err), -1);
    assert_non_null(strstr(err, "world-writable"));
    assert_int_equal(chmod(f->dir, 0700), 0);
    assert_int_equal(store_sqlite_check_files(f->path, err, sizeof err), 0);
}

/* ---- finding 24: upgrades from every earlier schema ------------------------------------------- */

/* The schema (every table, index and trigger with its SQL) and the user_version of the store at path,
 * leaving out the credential tables (made by cred_open, not by the migrations). */
static char *schema_of(const char *path, int *version)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    *version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    assert_int_equal(
        sqlite3_prepare_v2(db,
                           "SELECT group_concat(type || ' ' || name || ': ' || coalesce(sql, ''), char(10))"
                           " FROM (SELECT * FROM sqlite_master WHERE name NOT LIKE 'cred%'"
                           " AND name NOT LIKE 'sqlite_%' AND name <> 'audit_key' ORDER BY type, name)",
                           -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    char *out = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

static long query_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long v = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Each committed fixture (tests/fixtures/store/schema-vN.sql: a store as release N left it, made
 * from that release's own migration steps) opens, migrates to the current schema exactly (the same
 * tables, indexes and triggers as a new store), and keeps its data usable. Before the steps were in
 * number order, schemas 5 and 6 failed to open ("table lbl already exists"). */
static void test_finding_24_upgrade_from_every_earlier_schema(void **state)
{
    struct fx *f = *state;
    int fresh_version;
    char *fresh = schema_of(f->path, &fresh_version);
    /* 10: the announcement outbox; a fixture of every schema before the current one is committed */
    assert_int_equal(fresh_version, 10);
    char dir[512];
    snprintf(dir, sizeof dir, "%s", __FILE__);
    *strrchr(dir, '/') = '\0';
    for (int n = 1; n < fresh_version; n++) {
        char fixture[700], path[300], err[512] = "";
        snprintf(fixture, sizeof fixture, "%s/../fixtures/store/schema-v%d.sql", dir, n);
        snprintf(path, sizeof path, "%s/v%d.db", f->dir, n);
        FILE *in = fopen(fixture, "r");
        if (in == NULL)
            fail_msg("fixture %s: %s", fixture, strerror(errno));
        static char text[1 << 16];
        size_t len = fread(text, 1, sizeof text - 1, in);
        fclose(in);
        text[len] = '\0';
        sqlite3 *db = NULL;
        int fd = open(path, O_CREAT | O_RDWR, 0600);
        close(fd);
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, text, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        int before;
        free(schema_of(path, &before));
        assert_int_equal(before, n);

        struct store *st = store_sqlite_open(path, false, 1, err, sizeof err);
        if (st == NULL)
            fail_msg("upgrade from schema %d: %s", n, err);
        /* still writable through the new schema: a labelled resource reaches the label table */
        struct ins a = {.ri = "newcnt", .pi = "id-in", .path = "cse-in/newcnt", .ty = 3, .doc = "{\"lbl\":[\"new\"]}"};
        assert_int_equal(run_sync(st, ins_run, &a), 0);
        st->ops->close(st);

        int after;
        char *got = schema_of(path, &after);
        assert_int_equal(after, fresh_version);
        if (strcmp(got, fresh) != 0)
            fail_msg("schema after the upgrade from %d differs from a new store's:\n%s\n--- new store:\n%s", n, got,
                     fresh);
        free(got);
        /* the data came along: labels indexed (step 5 on old rows), subscription counted (step 3) */
        assert_int_equal(query_int(path, "SELECT count(*) FROM lbl WHERE label IN ('fixture/label', 'room:1')"), 2);
        assert_int_equal(query_int(path, "SELECT nsub FROM res WHERE path = 'cse-in/fixae/temp'"), 1);
        assert_int_equal(query_int(path, "SELECT count(*) FROM res WHERE ty = 4"), 3);
        assert_int_equal(query_int(path, "SELECT count(*) FROM lbl WHERE label = 'new' AND ri = 'newcnt'"), 1);
    }
    free(fresh);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_file_modes_private),
        T(test_default_mode_is_0600),
        cmocka_unit_test(test_open_failure_reports),
        T(test_insert_and_lookup),
        T(test_expired_hidden),
        T(test_expired_listing),
        T(test_edge_child),
        T(test_children_order),
        T(test_children_page_and_count_types),
        T(test_descendants_only_below),
        T(test_delete_subtree_only),
        T(test_clamp_subtree_et),
        T(test_duplicate_conflict),
        T(test_failed_job_rolled_back_others_commit),
        T(test_issue_14_outbox_steps_commit_with_their_change),
        T(test_update),
        T(test_update_missing_and_fields),
        T(test_done_after_commit),
        T(test_concurrent_jobs),
        T(test_close_reopen_persists),
        T(test_read_pool),
        T(test_finding_21_store_lock_exclusive_names_holder),
        T(test_finding_21_probe_creates_nothing),
        T(test_finding_16_store_files_private),
        T(test_finding_24_upgrade_from_every_earlier_schema),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
