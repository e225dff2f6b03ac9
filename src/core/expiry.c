/* expiry: expirationTime enforcement (TS-0001 §9.6.1.3). Reads already hide expired resources
 * (every lookup compares et with now); this sweeper removes them and their subtrees from the store
 * about once a second, through the same delete path as a DELETE request so that derived state
 * (a container's cni/cbs) stays right. */
#include <time.h>

#include "core_int.h"
#include "e2e/esprim.h"
#include "rsc.h"
#include "security/audit.h"
#include "util/mem.h"

struct sweep {
    struct store_job job;
    struct cse *cse;
    struct cse_response rsp;
    size_t removed;
    struct notes notes;
};

static int sweep_run(struct store_view *txn, void *arg)
{
    struct sweep *s = arg;
    struct txn_ctx t = {.cse = s->cse, .txn = txn, .now = cse_now(s->cse), .rsp = &s->rsp, .notes = &s->notes};
    struct rowvec rv = {.max = LIMIT_EXPIRY_BATCH};
    if (txn->st->ops->expired(txn, t.now, LIMIT_EXPIRY_BATCH, rowvec_collect, &rv) < 0) {
        rowvec_free(&rv);
        return 1;
    }
    int rc = 0;
    for (size_t i = 0; i < rv.n && rc == 0; i++)
        rc = txn_delete_resource(&t, &rv.v[i]);
    s->removed = rv.n;
    rowvec_free(&rv);
    return rc;
}

static void sweep_done(void *arg, bool committed)
{
    struct sweep *s = arg;
    struct cse *cse = s->cse;
    if (!committed || s->rsp.rsc != 0)
        LOG(cse->log, LOG_WARN, "expiry sweep failed: %s", s->rsp.message ? s->rsp.message : "commit failed");
    else if (s->removed)
        LOG(cse->log, LOG_DEBUG, "expiry sweep removed %zu resources", s->removed);
    if (committed && s->removed)
        policy_invalidate(cse);
    if (committed && s->rsp.rsc == 0)
        notes_send(cse, &s->notes);
    else
        notes_free(&s->notes);
    bool again = committed && s->removed == LIMIT_EXPIRY_BATCH;

    response_free(&s->rsp);
    mem_free(s);
    pthread_mutex_lock(&cse->expiry_lock);
    cse->pending_jobs--;
    cse->expiry_sweep_now = cse->expiry_sweep_now || again;
    /* wake the sweeper early only to continue a mass expiry, or to let a stop finish */
    if (again || cse->stopping)
        pthread_cond_broadcast(&cse->expiry_cond);
    pthread_mutex_unlock(&cse->expiry_lock);
}

static void *expiry_main(void *arg)
{
    struct cse *cse = arg;
    int64_t next_sweep_ms = 0;
    pthread_mutex_lock(&cse->expiry_lock);
    while (!cse->stopping) {
        int64_t now_ms = clock_now_us(&cse->clock) / 1000;
        if (cse->pending_jobs == 0 && (now_ms >= next_sweep_ms || cse->expiry_sweep_now)) {
            cse->expiry_sweep_now = false;
            struct sweep *s = mem_calloc(1, sizeof *s);
            s->cse = cse;
            s->job = (struct store_job){.run = sweep_run, .done = sweep_done, .arg = s};
            cse->pending_jobs++;
            next_sweep_ms = now_ms + 1000;
            if (cse->store->ops->submit(cse->store, &s->job) != STORE_OK) {
                cse->pending_jobs--;
                mem_free(s);
            }
        }
        pthread_mutex_unlock(&cse->expiry_lock);
        batcher_tick(cse, now_ms);                            /* batchNotify durations */
        defer_run_due(cse, clock_now_us(&cse->clock), false); /* Operation Execution Times reached */
        registration_tick(cse);                               /* CSE registration: attempts, checks */
        esprim_tick(cse);                                     /* ESPrim: the shared rand object, replaced in time */
        audit_tick(cse->audit);                               /* runs of repeated denials that ended */
        timers_tick(cse, now_ms);                             /* the timer service (timers.c): missing-data detection */
        /* sleep until the next sweep, the next timer or the earliest Operation Execution Time
         * waited for, whichever comes first */
        int64_t wake_ms = now_ms + 1000, due = timers_next_due(cse);
        if (due < wake_ms)
            wake_ms = due > now_ms ? due : now_ms + 1;
        pthread_mutex_lock(&cse->expiry_lock);
        int64_t oet_ms = defer_next_us(cse) / 1000;
        if (oet_ms < wake_ms)
            wake_ms = oet_ms > now_ms ? oet_ms : now_ms + 1;
        cse->expiry_wake_ms = wake_ms;
        /* the wait is relative (the server's clock may be a test's): at most a second */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wait_ns = (wake_ms - now_ms) * 1000000 + ts.tv_nsec;
        ts.tv_sec += (time_t)(wait_ns / 1000000000);
        ts.tv_nsec = (long)(wait_ns % 1000000000);
        if (!cse->stopping)
            pthread_cond_timedwait(&cse->expiry_cond, &cse->expiry_lock, &ts);
        cse->expiry_wake_ms = 0;
    }
    while (cse->pending_jobs > 0)
        pthread_cond_wait(&cse->expiry_cond, &cse->expiry_lock);
    pthread_mutex_unlock(&cse->expiry_lock);
    return NULL;
}

int expiry_start(struct cse *cse)
{
    if (pthread_create(&cse->expiry_thread, NULL, expiry_main, cse) != 0)
        return -1;
    cse->expiry_started = true;
    return 0;
}

void expiry_stop(struct cse *cse)
{
    if (!cse->expiry_started)
        return;
    pthread_mutex_lock(&cse->expiry_lock);
    cse->stopping = true;
    pthread_cond_broadcast(&cse->expiry_cond);
    pthread_mutex_unlock(&cse->expiry_lock);
    pthread_join(cse->expiry_thread, NULL);
    cse->expiry_started = false;
    defer_run_due(cse, 0, true); /* nothing parks after stopping; answer what still waits */
}
