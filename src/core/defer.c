/* defer: requests whose Operation Execution Time lies ahead (TS-0001 §8.1.2, TS-0004 §7.3.3.5 ff.:
 * the Hosting CSE performs the operation at that time, not before). Such a request parks here, like
 * a request waiting for its commit: no thread waits for it. The expiry thread, which wakes up at
 * least every second anyway, also wakes at the earliest execution time and resumes each due
 * request's continuation with CONT_AGAIN (park.h): the pipeline runs for it then. */
#include "core_int.h"
#include "rsc.h"
#include "util/mem.h"

struct deferred {
    int64_t at_us;
    struct cse_cont k;
    struct deferred *next;
};

enum cse_status defer_park(const struct cse_cont *k, int64_t at_us)
{
    struct cse *cse = k->cse;
    struct cse_response *rsp = k->rsp;
    if (!cont_can_park(k)) {
        response_error(rsp, RSC_INTERNAL_SERVER_ERROR, "cannot-park",
                       "this request cannot wait for its execution time");
        return CSE_DONE;
    }
    struct deferred *d = mem_calloc(1, sizeof *d);
    *d = (struct deferred){.at_us = at_us, .k = *k};
    d->k.why = PARK_OET;
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
            response_error(d->k.rsp, RSC_INTERNAL_SERVER_ERROR, "shutdown",
                           "the CSE shut down before the Operation Execution Time");
            cont_resume(&d->k, CONT_ANSWERED);
        } else {
            cont_resume(&d->k, CONT_AGAIN);
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
