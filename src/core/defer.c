/* defer: requests whose Operation Execution Time lies ahead (TS-0001 §8.1.2, TS-0004 §7.3.3.5 ff.:
 * the Hosting CSE performs the operation at that time, not before). Such a request parks here, like
 * a request waiting for its commit: no thread waits for it. The expiry thread, which wakes up at
 * least every second anyway, also wakes at the earliest execution time and runs each due request
 * through the pipeline again (cse_dispatch_again), which then calls its done(). */
#include "core_int.h"
#include "rsc.h"
#include "util/mem.h"

struct deferred {
    int64_t at_us;
    const struct cse_request *req;
    struct cse_response *rsp;
    void (*done)(void *arg);
    void *done_arg;
    struct deferred *next;
};

enum cse_status defer_park(struct cse *cse, const struct cse_request *req, struct cse_response *rsp,
                           void (*done)(void *arg), void *done_arg, int64_t at_us)
{
    struct deferred *d = mem_calloc(1, sizeof *d);
    *d = (struct deferred){.at_us = at_us, .req = req, .rsp = rsp, .done = done, .done_arg = done_arg};
    pthread_mutex_lock(&cse->expiry_lock);
    if (cse->stopping || cse->deferring_closed || !cse->expiry_started || cse->ndeferred >= LIMIT_DEFERRED_REQUESTS) {
        bool busy = cse->ndeferred >= LIMIT_DEFERRED_REQUESTS;
        pthread_mutex_unlock(&cse->expiry_lock);
        mem_free(d);
        response_error(rsp, RSC_INTERNAL_SERVER_ERROR, busy ? "defer-full" : "shutdown",
                       busy ? "too many requests wait for their Operation Execution Time (limit %d)"
                            : "the CSE is shutting down",
                       LIMIT_DEFERRED_REQUESTS);
        return CSE_DONE;
    }
    struct deferred **p = &cse->deferred; /* sorted by execution time */
    while (*p && (*p)->at_us <= at_us)
        p = &(*p)->next;
    d->next = *p;
    *p = d;
    cse->ndeferred++;
    pthread_cond_broadcast(&cse->expiry_cond); /* the expiry thread may have to wake earlier */
    pthread_mutex_unlock(&cse->expiry_lock);
    return CSE_PENDING;
}

/* expiry_lock held: the earliest execution time waiting, or INT64_MAX. */
int64_t defer_next_us(const struct cse *cse)
{
    return cse->deferred ? cse->deferred->at_us : INT64_MAX;
}

/* Run (or, with error set, refuse) the requests due at now_us; called without expiry_lock. */
void defer_run_due(struct cse *cse, int64_t now_us, bool all)
{
    pthread_mutex_lock(&cse->expiry_lock);
    struct deferred *due = NULL, **tail = &due;
    while (cse->deferred && (all || cse->deferred->at_us <= now_us)) {
        struct deferred *d = cse->deferred;
        cse->deferred = d->next;
        cse->ndeferred--;
        d->next = NULL;
        *tail = d;
        tail = &d->next;
    }
    pthread_mutex_unlock(&cse->expiry_lock);
    while (due) {
        struct deferred *d = due;
        due = d->next;
        if (all) { /* shutting down: never executed early, answered at once */
            response_error(d->rsp, RSC_INTERNAL_SERVER_ERROR, "shutdown",
                           "the CSE shut down before the Operation Execution Time");
            d->done(d->done_arg);
        } else if (cse_dispatch_again(cse, d->req, d->rsp, d->done, d->done_arg) == CSE_DONE) {
            d->done(d->done_arg);
        }
        mem_free(d);
    }
}

void defer_quiesce(struct cse *cse)
{
    pthread_mutex_lock(&cse->expiry_lock);
    cse->deferring_closed = true;
    pthread_mutex_unlock(&cse->expiry_lock);
    defer_run_due(cse, 0, true);
}
