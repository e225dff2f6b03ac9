/* store: the storage seam. The core reads through views (a pooled read connection, or the writer's
 * transaction) and writes only inside jobs that one writer thread folds into shared commits
 * (group commit); a job's completion runs after its commit is durable. SQLite now, PostgreSQL
 * later, both behind struct store_ops; nothing above this header sees SQL. */
#ifndef WARDEN_STORE_STORE_H
#define WARDEN_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One stored resource. The indexed columns duplicate what queries need; doc is the full
 * representation (the JSON attributes object, without the "m2m:xxx" wrapper). */
struct store_row {
    char *ri;     /* resourceID */
    char *pi;     /* parent's resourceID ("" for the CSEBase) */
    char *rn;     /* resourceName */
    char *path;   /* structured CSE-relative address, "cse-in/ae1/cnt1" */
    int ty;       /* resourceType */
    int64_t seq;  /* creation order, assigned by the store on insert */
    int64_t et;   /* expirationTime, seconds since the epoch */
    int64_t cs;   /* content size (contentInstance), else 0 */
    char *cr;     /* canonical ID of the creator, "" when unknown */
    char *ae;     /* AE-ID-Stem of the AE this resource belongs to (itself for an AE), "" for none */
    char *acpi;   /* resourceIDs of the accessControlPolicies in its acpi, space-separated, "" none */
    int64_t nsub; /* <subscription> children (maintained by the core with add_nsub) */
    char *doc;    /* JSON object text */
};

/* An expirationTime of 99991231T235959 means never: such resources stay out of the expiry index. */
#define ET_NEVER 253402300799LL

void store_row_free(struct store_row *row);
/* Deep copy (every string duplicated). */
void store_row_copy(struct store_row *dst, const struct store_row *src);

enum { STORE_OK = 0, STORE_NOT_FOUND = 1, STORE_CONFLICT = 2, STORE_ERROR = -1 };

struct store;
struct store_view;

/* A filter the store evaluates itself (TS-0004 filter criteria), so that discovery over many
 * resources is an index scan, not a walk. All conditions present are combined with AND, or with
 * OR when any_of is set; the lists inside one condition always match when any element does. */
struct store_filter {
    const int *ty;
    int nty;
    const char *const *lbl;
    int nlbl;
    const char *const *cty;
    int ncty;
    const char *const *atr_name;
    const char *const *atr_value;
    int natr;
    const char *crb, *cra, *ms, *us; /* timestamps "YYYYMMDDTHHMMSS" or NULL */
    int64_t exb, exa;                /* epoch seconds, 0 when absent */
    long sts, stb, sza, szb;         /* -1 when absent */
    bool any_of;
    int max_depth; /* levels below path, -1 for any */
    bool self;     /* test the resource at path itself instead of its descendants */
};

/* One pending announcement step (core/announce.c, TS-0004 §7.3.3.10-11): written in the same
 * transaction as the change of the original resource that asks for it, removed once the announcement
 * target answered. op is the oneM2M operation (1 CREATE, 3 UPDATE, 4 DELETE) on the announced
 * resource of original resource ri at the CSE target ("/id-in"); addr, the announced resource's
 * SP-relative address where it is known (UPDATE, DELETE), else "". */
struct store_outbox {
    int64_t id; /* ascending in the order the steps were written */
    const char *ri;
    const char *target;
    int op;
    const char *addr;
};
typedef int (*store_outbox_fn)(void *arg, const struct store_outbox *row);

/* Iteration callback: return 0 to continue, non-zero to stop (that value is returned by the walker). */
typedef int (*store_row_fn)(void *arg, const struct store_row *row);

/* A write job. run() executes on the writer thread inside its own savepoint of the shared
 * transaction, and returns 0 to keep its changes or non-zero to roll back only them. done() is
 * called once, after the commit: committed is true when the job's changes (if kept) are durable. */
struct store_job {
    int (*run)(struct store_view *txn, void *arg);
    void (*done)(void *arg, bool committed);
    void *arg;
    struct store_job *next; /* owned by the store while queued */
};

struct store_ops {
    const char *name;
    struct store_view *(*view_acquire)(struct store *st);
    void (*view_release)(struct store *st, struct store_view *v);
    /* Lookups skip resources whose et <= now. Return STORE_OK, STORE_NOT_FOUND or STORE_ERROR. */
    int (*get_ri)(struct store_view *v, const char *ri, int64_t now, struct store_row *out);
    int (*get_path)(struct store_view *v, const char *path, int64_t now, struct store_row *out);
    /* Newest (latest=true) or oldest child of type ty under parent ri pi. */
    int (*edge_child)(struct store_view *v, const char *pi, int ty, bool latest, int64_t now, struct store_row *out);
    /* Direct children of pi, by type and then creation order; ty 0 = any type. */
    int (*children)(struct store_view *v, const char *pi, int ty, int64_t now, store_row_fn fn, void *arg);
    /* At most limit direct children of pi created after after_seq (0: from the first), in creation
     * order: a page of a listing that may hold millions (the console's tree; the next page starts
     * after the last row's seq). */
    int (*children_page)(struct store_view *v, const char *pi, int64_t after_seq, int limit, int64_t now,
                         store_row_fn fn, void *arg);
    /* fn(arg, ty, n) for each resource type present: how many unexpired resources it has. */
    int (*count_types)(struct store_view *v, int64_t now, void (*fn)(void *arg, int ty, int64_t n), void *arg);
    /* Every resource strictly below path, in path order. */
    int (*descendants)(struct store_view *v, const char *path, int64_t now, store_row_fn fn, void *arg);
    /* Descendants of path (or path itself when f->self) that pass f, in path order; walks lazily,
     * so the callback's stop ends the scan. */
    int (*find)(struct store_view *v, const char *path, const struct store_filter *f, int64_t now, store_row_fn fn,
                void *arg);
    /* Resources with et <= now, at most limit, soonest first. */
    int (*expired)(struct store_view *v, int64_t now, int limit, store_row_fn fn, void *arg);
    /* Writes: only on the view handed to a job's run(). insert sets row->seq. */
    int (*insert)(struct store_view *v, struct store_row *row);
    int (*update)(struct store_view *v, const struct store_row *row); /* by ri: doc, et, cs, acpi */
    int (*delete_subtree)(struct store_view *v, const char *path);
    /* Delete one resource that cannot have children (a contentInstance), by resourceID. */
    int (*delete_leaf)(struct store_view *v, const char *ri);
    /* Add delta to the subscription count of resource ri. */
    int (*add_nsub)(struct store_view *v, const char *ri, int delta);
    /* Quota accounting: how many resources the creator owner (a canonical ID, row.cr) holds and the
     * bytes of their stored representations, as of this view (in a job: including its own writes,
     * which the store accounts for in every insert, update and delete). 0 and 0 when none. */
    int (*usage)(struct store_view *v, const char *owner, int64_t *count, int64_t *bytes);
    /* Every resource strictly below path whose et is later than et gets et (column and the doc's
     * "et" attribute, formatted as et_text): a child never outlives its parent. */
    int (*clamp_subtree_et)(struct store_view *v, const char *path, int64_t et, const char *et_text);
    /* The announcement outbox (migration 10). outbox_add writes a step in a job's transaction;
     * outbox_scan hands at most limit steps, oldest first, to fn (0: go on); outbox_del removes one
     * (in a job). STORE_OK or STORE_ERROR (outbox_scan: fn's non-zero value when it stopped).
     * A step the same as the last one of its (ri, target) is not written when that one has not
     * begun (it is not its target's first): a step sends the resource's state as it is when it
     * begins, so a target that does not answer cannot make an updated resource grow the outbox. */
    int (*outbox_add)(struct store_view *v, const char *ri, const char *target, int op, const char *addr);
    int (*outbox_scan)(struct store_view *v, int limit, store_outbox_fn fn, void *arg);
    int (*outbox_del)(struct store_view *v, int64_t id);
    /* Queue a job for the writer. Returns STORE_OK, or STORE_ERROR when the queue is full or the
     * store is closing (done() is then not called). */
    int (*submit)(struct store *st, struct store_job *job);
    /* Finish queued jobs, stop the writer and release everything. */
    void (*close)(struct store *st);
};

struct store {
    const struct store_ops *ops;
    /* Told, on the writer thread after each commit, how many jobs it held (metrics); NULL: nobody.
     * Set before the first job is submitted. */
    void (*on_batch)(void *arg, size_t jobs);
    void *on_batch_arg;
};

/* The first member of every implementation's view. */
struct store_view {
    struct store *st;
};

/* The resource types the SQLite schema treats specially, named once here so that no type number is
 * written inside SQL (the statements are built from these names): subscriptions are counted in
 * their parent's nsub column, and contentInstances (dense, found through their container) stay out
 * of the (ty, path) index. The registry's TY_ values are checked against them at compile time
 * (core/ops_create.c). */
enum { STORE_TY_SUBSCRIPTION = 23, STORE_TY_DENSE_LEAF = 4 };

/* Open (creating if needed, owner-only permissions) the SQLite store at path; sync_full selects
 * fsync on every commit. readers = size of the read-connection pool. NULL + err on failure. */
struct store *store_sqlite_open(const char *path, bool sync_full, int readers, char *err, size_t errlen);

/* The files of the store at path (the database, its -wal and -shm, and the lock file) against the
 * rule for files that hold keys (fs_check_private): owner-only, of this user, in a directory that is
 * not world-writable. Returns 0, or -1 with err naming the file and the fix. */
int store_sqlite_check_files(const char *path, char *err, size_t errlen);

/* One server per store: check the files, create the store's directory and take the exclusive lock
 * <path>.lock (fs_lock_exclusive) that a second warden on the same store finds taken. wardenctl does
 * not take it: it shares the store with a running server through SQLite's own locking. Returns the
 * lock's descriptor (closing it releases the lock), or -1 with err naming the holder's pid. */
int store_sqlite_lock(const char *path, char *err, size_t errlen);
/* Write what the server holding the lock tells its neighbours into the lock file, after the pid
 * (one line: "PID NOTE"), e.g. where its plain HTTP listener is, so that wardenctl asks the server of
 * this store and never another one that happens to listen on the configured port. */
int store_sqlite_lock_note(int fd, const char *note);
/* Is the store at path held by a running server? 1 with *pid and its note (empty when none), 0
 * when no server holds it, -1 when that cannot be told (no lock file counts as 0). */
int store_sqlite_holder(const char *path, long *pid, char *note, size_t notelen);

/* Is there a Warden store at path? 0 and *version (its schema version, >= 1) when there is; -1 with
 * err when the file is missing or is no Warden store. Creates nothing (wardenctl never makes an
 * empty store by mistake). */
int store_sqlite_probe(const char *path, int *version, char *err, size_t errlen);

#endif
