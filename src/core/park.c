/* park: the run queue of continuations resumed with CONT_AGAIN (park.h). The thing a request
 * waited for may finish on a thread that must not run the pipeline (the outbound seam's delivery
 * thread, which would stall every other outbound transfer meanwhile; the expiry thread): the
 * continuation is queued here instead, and a resume thread (at most LIMIT_RESUME_THREADS, started on
 * demand, ending when the queue is empty) runs the pipeline for it. The queue holds only requests
 * that were parked, so it is bounded by the bounds of what parks (authz.das_parallel
 * consultations, LIMIT_DEFERRED_REQUESTS deferred requests). */
#include <pthread.h>

#include "core_int.h"
#include "util/mem.h"

struct parked {
    struct parked *next;
    struct cse_cont k;
};

struct parkq {
    pthread_mutex_t lock;
    pthread_cond_t idle;
    struct parked *head, *tail;
    long threads; /* running resume threads */
    bool stopping;
};

struct parkq *parkq_new(void)
{
    struct parkq *q = mem_calloc(1, sizeof *q);
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->idle, NULL);
    return q;
}

void parkq_stop(struct parkq *q)
{
    if (q == NULL)
        return;
    pthread_mutex_lock(&q->lock);
    q->stopping = true;
    while (q->threads > 0 || q->head != NULL)
        pthread_cond_wait(&q->idle, &q->lock);
    pthread_mutex_unlock(&q->lock);
}

void parkq_free(struct parkq *q)
{
    if (q == NULL)
        return;
    pthread_cond_destroy(&q->idle);
    pthread_mutex_destroy(&q->lock);
    mem_free(q);
}

static void *resume_thread(void *arg)
{
    struct parkq *q = arg;
    pthread_mutex_lock(&q->lock);
    for (struct parked *p; (p = q->head) != NULL;) {
        q->head = p->next;
        if (q->head == NULL)
            q->tail = NULL;
        pthread_mutex_unlock(&q->lock);
        cont_again_now(&p->k);
        mem_free(p);
        pthread_mutex_lock(&q->lock);
    }
    if (--q->threads == 0)
        pthread_cond_broadcast(&q->idle);
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

void parkq_push(struct parkq *q, const struct cse_cont *k)
{
    struct parked *p = mem_calloc(1, sizeof *p);
    p->k = *k;
    pthread_mutex_lock(&q->lock);
    if (q->tail)
        q->tail->next = p;
    else
        q->head = p;
    q->tail = p;
    /* a thread is started while fewer run than the bound; parkq_stop waits for the queue to empty,
     * so one is started after stopping too (a consultation answered during shutdown) */
    bool spawn = q->threads < LIMIT_RESUME_THREADS;
    if (spawn)
        q->threads++;
    pthread_mutex_unlock(&q->lock);
    if (!spawn)
        return;
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &attr, resume_thread, q) != 0)
        resume_thread(q); /* no thread to be had: this one does the work rather than nobody */
    pthread_attr_destroy(&attr);
}
