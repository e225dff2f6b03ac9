/* timers: the one timer service of a CSE (a binary min-heap in the server context). Types arm
 * timers on their resources from inside a transaction (txn_timer_arm); the arm takes effect after
 * the commit (a note, like a notification), and the expiry thread (expiry.c) runs what is due in a
 * writer transaction through the type's txn_timer hook. No thread per timer, none per resource:
 * a <timeSeries>'s missing-data detection (TS-0004 §7.4.38.2.1) is one entry here. Timers are
 * memory only: when the CSE starts, every resource of a type with timers gets a TIMER_RESUME call
 * so that the type arms again what its stored state asks for. */
#include <stdint.h>
#include <string.h>

#include "core_int.h"
#include "rsc.h"
#include "util/mem.h"

struct timer {
    int64_t due_ms, arg;
    char *ri;
};

struct timers {
    pthread_mutex_t lock;
    struct timer *heap;
    size_t n, cap;
    bool warned; /* LIMIT_TIMERS reached (logged once per episode) */
};

struct timers *timers_new(void)
{
    struct timers *tm = mem_calloc(1, sizeof *tm);
    pthread_mutex_init(&tm->lock, NULL);
    return tm;
}

void timers_free(struct timers *tm)
{
    if (tm == NULL)
        return;
    for (size_t i = 0; i < tm->n; i++)
        mem_free(tm->heap[i].ri);
    mem_free(tm->heap);
    pthread_mutex_destroy(&tm->lock);
    mem_free(tm);
}

static void swap(struct timer *a, struct timer *b)
{
    struct timer x = *a;
    *a = *b;
    *b = x;
}

static void sift_up(struct timers *tm, size_t i)
{
    while (i > 0 && tm->heap[(i - 1) / 2].due_ms > tm->heap[i].due_ms) {
        swap(&tm->heap[(i - 1) / 2], &tm->heap[i]);
        i = (i - 1) / 2;
    }
}

static void sift_down(struct timers *tm, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < tm->n && tm->heap[l].due_ms < tm->heap[m].due_ms)
            m = l;
        if (r < tm->n && tm->heap[r].due_ms < tm->heap[m].due_ms)
            m = r;
        if (m == i)
            return;
        swap(&tm->heap[m], &tm->heap[i]);
        i = m;
    }
}

void timers_add(struct cse *cse, const char *ri, int64_t due_ms, int64_t arg)
{
    struct timers *tm = cse->timers;
    if (tm == NULL)
        return;
    pthread_mutex_lock(&tm->lock);
    if (tm->n >= LIMIT_TIMERS) {
        bool log = !tm->warned;
        tm->warned = true;
        pthread_mutex_unlock(&tm->lock);
        if (log)
            LOG(cse->log, LOG_WARN, "%d timers armed (LIMIT_TIMERS): further arms are dropped", LIMIT_TIMERS);
        return;
    }
    if (tm->n == tm->cap) {
        tm->cap = tm->cap ? tm->cap * 2 : 64;
        tm->heap = mem_realloc(tm->heap, tm->cap * sizeof *tm->heap);
    }
    tm->heap[tm->n] = (struct timer){.due_ms = due_ms, .arg = arg, .ri = mem_strdup(ri)};
    sift_up(tm, tm->n++);
    bool earliest = tm->heap[0].due_ms == due_ms;
    pthread_mutex_unlock(&tm->lock);
    if (earliest) { /* the expiry thread may sleep past it: wake it to wait again */
        pthread_mutex_lock(&cse->expiry_lock);
        if (due_ms < cse->expiry_wake_ms)
            pthread_cond_broadcast(&cse->expiry_cond);
        pthread_mutex_unlock(&cse->expiry_lock);
    }
}

int64_t timers_next_due(struct cse *cse)
{
    struct timers *tm = cse->timers;
    if (tm == NULL)
        return INT64_MAX;
    pthread_mutex_lock(&tm->lock);
    int64_t due = tm->n ? tm->heap[0].due_ms : INT64_MAX;
    pthread_mutex_unlock(&tm->lock);
    return due;
}

struct timer_job {
    struct store_job job;
    struct cse *cse;
    struct cse_response rsp;
    struct notes notes;
    struct timer *due;
    size_t n;
};

static int timer_run(struct store_view *txn, void *arg)
{
    struct timer_job *j = arg;
    struct txn_ctx t = {.cse = j->cse, .txn = txn, .now = cse_now(j->cse), .rsp = &j->rsp, .notes = &j->notes};
    for (size_t i = 0; i < j->n; i++) {
        struct store_row row;
        int rc = txn->st->ops->get_ri(txn, j->due[i].ri, t.now, &row);
        if (rc == STORE_NOT_FOUND) /* deleted or expired since: its timers end with it (§7.4.38.2.4) */
            continue;
        if (rc != STORE_OK)
            return response_error(&j->rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
        const struct rtype *rt = rtype_find(row.ty);
        rc = rt && rt->txn_timer ? rt->txn_timer(&t, &row, j->due[i].arg) : 0;
        store_row_free(&row);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void timer_done(void *arg, bool committed)
{
    struct timer_job *j = arg;
    struct cse *cse = j->cse;
    if (!committed || j->rsp.rsc != 0) {
        LOG(cse->log, LOG_WARN, "%zu due timers failed: %s", j->n, j->rsp.message ? j->rsp.message : "commit failed");
        notes_free(&j->notes);
    } else {
        notes_send(cse, &j->notes);
    }
    for (size_t i = 0; i < j->n; i++)
        mem_free(j->due[i].ri);
    mem_free(j->due);
    response_free(&j->rsp);
    mem_free(j);
    pthread_mutex_lock(&cse->expiry_lock);
    cse->pending_jobs--;
    if (cse->stopping)
        pthread_cond_broadcast(&cse->expiry_cond);
    pthread_mutex_unlock(&cse->expiry_lock);
}

void timers_tick(struct cse *cse, int64_t now_ms)
{
    struct timers *tm = cse->timers;
    if (tm == NULL)
        return;
    struct timer_job *j = NULL;
    pthread_mutex_lock(&tm->lock);
    while (tm->n > 0 && tm->heap[0].due_ms <= now_ms && (j == NULL || j->n < LIMIT_TIMER_BATCH)) {
        if (j == NULL) {
            j = mem_calloc(1, sizeof *j);
            j->due = mem_calloc(LIMIT_TIMER_BATCH, sizeof *j->due);
        }
        j->due[j->n++] = tm->heap[0];
        tm->heap[0] = tm->heap[--tm->n];
        sift_down(tm, 0);
    }
    if (tm->n < LIMIT_TIMERS / 2)
        tm->warned = false;
    pthread_mutex_unlock(&tm->lock);
    if (j == NULL)
        return;
    j->cse = cse;
    notes_init(&j->notes);
    j->job = (struct store_job){.run = timer_run, .done = timer_done, .arg = j};
    pthread_mutex_lock(&cse->expiry_lock);
    cse->pending_jobs++;
    pthread_mutex_unlock(&cse->expiry_lock);
    if (cse->store->ops->submit(cse->store, &j->job) != STORE_OK) {
        /* the writer's queue is full: these timers are due again at the next tick */
        pthread_mutex_lock(&cse->expiry_lock);
        cse->pending_jobs--;
        pthread_mutex_unlock(&cse->expiry_lock);
        for (size_t i = 0; i < j->n; i++) {
            timers_add(cse, j->due[i].ri, now_ms + 1000, j->due[i].arg);
            mem_free(j->due[i].ri);
        }
        mem_free(j->due);
        mem_free(j);
    }
}

static int resume_one(void *arg, const struct store_row *row)
{
    struct cse *cse = arg;
    timers_add(cse, row->ri, clock_now_us(&cse->clock) / 1000, TIMER_RESUME);
    return 0;
}

int timers_resume(struct cse *cse)
{
    struct store_view *v = cse->store->ops->view_acquire(cse->store);
    if (v == NULL)
        return -1;
    int rc = 0;
    const struct rtype *rt;
    for (size_t i = 0; (rt = rtype_at(i)) != NULL && rc >= 0; i++) {
        if (rt->txn_timer == NULL)
            continue;
        const int tys[] = {rt->ty};
        struct store_filter f = {.ty = tys, .nty = 1, .sts = -1, .stb = -1, .sza = -1, .szb = -1, .max_depth = -1};
        rc = cse->store->ops->find(v, cse->cfg->cse_rn, &f, cse_now(cse), resume_one, cse);
    }
    cse->store->ops->view_release(cse->store, v);
    return rc < 0 ? -1 : 0;
}

int64_t txn_now_ms(const struct txn_ctx *t)
{
    return clock_now_us(&t->cse->clock) / 1000;
}
