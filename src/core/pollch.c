/* pollch: delivery through polling channels (TS-0001 §9.6.21, §10.2.5.12 Figure 10.2.5.12-1;
 * TS-0004 §7.4.21, §7.4.22). An AE that accepts no connections (requestReachability false) creates
 * a <pollingChannel> (resources/polling_channel.c) and long-polls its virtual child pcu: a RETRIEVE
 * of ".../<pollingChannel>/pcu" is answered with one request primitive queued for that AE
 * ({"m2m:rqp": ...}), or parks until one is queued or limits.polling_timeout passes (4008). The AE
 * answers each request with a NOTIFY to the same pcu whose Content is the response primitive
 * ({"m2m:rsp": {"rsc", "rqi", ...}}), matched to the request by its rqi.
 *
 * Requests reach the queue as a client side of the outbound seam (core/outbound.h) for the scheme "pch"
 * (pch://<AE-ID-Stem>): the routing step (ae_poa) names it for a registered AE whose rr is false and that has a polling
 * channel, so subscriptions, non-blocking results and verification requests take the same path as
 * any other notification, and the transport's done() reports the AE's answer (5103 when it never
 * polls or never answers within limits.polling_lifetime). No thread waits on a poll: a parked poll
 * is a request parked on the dispatch continuation; one timer thread ends those whose time is up. */
#include <string.h>
#include <time.h>

#include "core_int.h"
#include "encoding/json.h"
#include "limits.h"
#include "notify/notify.h"
#include "rsc.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/rand.h"
#include "util/timeutil.h"

#define PCH_SCHEME "pch://"

/* One request for an AE: queued until polled, then awaiting the AE's answer. */
struct pc_item {
    struct pc_item *next;
    char rqi[40];
    char *prim; /* {"m2m:rqp": {...}} */
    size_t len;
    out_done_fn done; /* may be NULL */
    void *done_arg;
    int64_t deadline_ms; /* queued: lifetime; delivered: time to answer */
};

/* A parked RETRIEVE of pcu. */
struct pc_waiter {
    struct pc_waiter *next;
    struct cse_response *rsp;
    struct cse_cont k; /* the poll, parked until a request is queued or its deadline */
    int64_t deadline_ms;
};

struct pc_chan {
    struct pc_chan *next;
    char *stem; /* the AE's AE-ID-Stem */
    struct pc_item *queued, *queued_tail;
    size_t nqueued;
    struct pc_item *delivered; /* awaiting the AE's NOTIFY */
    size_t ndelivered;
    struct pc_waiter *waiters;
    size_t nwaiters;
};

struct pollch {
    struct cse *cse;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct pc_chan *chans;
    pthread_t timer;
    bool started, quiescing, stopping;
    bool transport_added;
};

/* Work to do once the lock is released: answers to parked polls, results to transport callers. */
struct pc_fire {
    struct pc_waiter *waiters; /* rsp filled */
    struct pc_item *items;     /* done(rsc) due */
    int item_rsc;              /* for items */
};

static int64_t now_ms(const struct pollch *p)
{
    return clock_now_us(&p->cse->clock) / 1000;
}

static struct pc_chan *chan_get(struct pollch *p, const char *stem, bool create)
{
    for (struct pc_chan *c = p->chans; c; c = c->next)
        if (strcmp(c->stem, stem) == 0)
            return c;
    if (!create)
        return NULL;
    struct pc_chan *c = mem_calloc(1, sizeof *c);
    c->stem = mem_strdup(stem);
    c->next = p->chans;
    p->chans = c;
    return c;
}

/* Drop channels with nothing in them (the lock held). */
static void chans_prune(struct pollch *p)
{
    for (struct pc_chan **pp = &p->chans; *pp;) {
        struct pc_chan *c = *pp;
        if (c->queued == NULL && c->delivered == NULL && c->waiters == NULL) {
            *pp = c->next;
            mem_free(c->stem);
            mem_free(c);
        } else {
            pp = &c->next;
        }
    }
}

static void item_free(struct pc_item *it)
{
    mem_free(it->prim);
    mem_free(it);
}

static void answer_poll(struct pc_waiter *w, struct pc_item *it)
{
    struct cse_response *rsp = w->rsp;
    rsp->rsc = RSC_OK;
    rsp->body = mem_strndup(it->prim, it->len);
    rsp->body_len = it->len;
}

/* Hand the oldest queued item of c to its delivered list (the lock held); returns it. A delivered
 * item pushed out (the AE polls and never answers) goes to evicted, to be told 5103. */
static struct pc_item *take_queued(struct pollch *p, struct pc_chan *c, struct pc_fire *evicted)
{
    struct pc_item *it = c->queued;
    c->queued = it->next;
    if (c->queued == NULL)
        c->queued_tail = NULL;
    c->nqueued--;
    it->deadline_ms = now_ms(p) + p->cse->cfg->limits_polling_lifetime * 1000;
    if (c->ndelivered >= (size_t)p->cse->cfg->limits_polling_queue) { /* never answered: the oldest goes */
        struct pc_item **pp = &c->delivered;
        while ((*pp)->next)
            pp = &(*pp)->next;
        struct pc_item *old = *pp;
        *pp = NULL;
        c->ndelivered--;
        old->next = evicted->items;
        evicted->items = old;
    }
    it->next = c->delivered;
    c->delivered = it;
    c->ndelivered++;
    return it;
}

static void fire(struct pc_fire *f)
{
    while (f->waiters) {
        struct pc_waiter *w = f->waiters;
        f->waiters = w->next;
        struct cse_cont k = w->k;
        mem_free(w);
        cont_resume(&k, CONT_ANSWERED);
    }
    while (f->items) {
        struct pc_item *it = f->items;
        f->items = it->next;
        if (it->done)
            it->done(it->done_arg, &(struct out_response){.rsc = f->item_rsc, .attempts = 1});
        item_free(it);
    }
}

/* ---- the transport: pch://<AE-ID-Stem> ---- */

static bool pch_allowed(void *arg, const char *uri, char *reason, size_t len)
{
    (void)arg;
    if (strncmp(uri, PCH_SCHEME, strlen(PCH_SCHEME)) == 0 && uri[strlen(PCH_SCHEME)] != '\0')
        return true;
    snprintf(reason, len, "not a polling channel address");
    return false;
}

static int pch_send(void *arg, const char *uri, const struct out_request *rq, out_done_fn done, void *done_arg)
{
    struct pollch *p = arg;
    char why[64];
    /* a polling channel carries NOTIFY request primitives (TS-0004 §7.4.22.2.2) */
    if (rq->op != OP_NOTIFY || rq->fr == NULL || !pch_allowed(p, uri, why, sizeof why))
        return -1;
    const char *body = rq->body, *originator = rq->fr;
    size_t len = rq->len;
    const char *stem = uri + strlen(PCH_SCHEME);
    /* the request primitive the AE receives (TS-0004 §7.4.22.2.2, m2m:requestPrimitive): NOTIFY
     * (op 5) from this CSE to the AE, the notification as its Content */
    struct pc_item *it = mem_calloc(1, sizeof *it);
    char r[17];
    rand_alnum(r, 16);
    snprintf(it->rqi, sizeof it->rqi, "pch-%s", r);
    json_t *pc = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *rqp =
        json_pack("{s:i,s:s,s:s,s:s,s:s}", "op", OP_NOTIFY, "to", stem, "fr", originator, "rqi", it->rqi, "rvi", "3");
    if (pc != NULL)
        json_object_set_new(rqp, "pc", pc);
    json_t *msg = json_pack("{s:o}", "m2m:rqp", rqp);
    it->prim = json_encode(msg, &it->len);
    json_decref(msg);
    it->done = done;
    it->done_arg = done_arg;

    struct pc_fire f = {.item_rsc = RSC_TARGET_NOT_REACHABLE};
    pthread_mutex_lock(&p->lock);
    struct pc_chan *c = p->stopping ? NULL : chan_get(p, stem, true);
    if (c == NULL || c->nqueued >= (size_t)p->cse->cfg->limits_polling_queue) {
        pthread_mutex_unlock(&p->lock);
        LOG(p->cse->log, LOG_WARN, "polling channel of %s: queue full, request dropped", stem);
        item_free(it);
        return -1;
    }
    it->deadline_ms = now_ms(p) + p->cse->cfg->limits_polling_lifetime * 1000;
    if (c->queued_tail)
        c->queued_tail->next = it;
    else
        c->queued = it;
    c->queued_tail = it;
    c->nqueued++;
    if (c->waiters) { /* a poll is parked: it gets the request now */
        struct pc_waiter *w = c->waiters;
        c->waiters = w->next;
        c->nwaiters--;
        answer_poll(w, take_queued(p, c, &f));
        w->next = NULL;
        f.waiters = w;
    }
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    fire(&f);
    return 0;
}

/* ---- the timer: polls that waited long enough, requests nobody fetched or answered ---- */

static void expire(struct pollch *p, int64_t t, struct pc_fire *polls, struct pc_fire *items)
{
    for (struct pc_chan *c = p->chans; c; c = c->next) {
        for (struct pc_waiter **pp = &c->waiters; *pp;) {
            struct pc_waiter *w = *pp;
            if (w->deadline_ms <= t || p->quiescing) {
                *pp = w->next;
                c->nwaiters--;
                response_error(w->rsp, RSC_REQUEST_TIMEOUT, "poll-timeout",
                               "no request for the originator arrived while it polled");
                w->next = polls->waiters;
                polls->waiters = w;
            } else {
                pp = &w->next;
            }
        }
        struct pc_item **lists[2] = {&c->queued, &c->delivered};
        for (int k = 0; k < 2; k++)
            for (struct pc_item **pp = lists[k]; *pp;) {
                struct pc_item *it = *pp;
                if (it->deadline_ms <= t || p->stopping) {
                    *pp = it->next;
                    if (k == 0)
                        c->nqueued--;
                    else
                        c->ndelivered--;
                    it->next = items->items;
                    items->items = it;
                } else {
                    pp = &it->next;
                }
            }
        c->queued_tail = NULL;
        for (struct pc_item *it = c->queued; it; it = it->next)
            c->queued_tail = it;
    }
    chans_prune(p);
}

static int64_t next_deadline(struct pollch *p)
{
    int64_t d = INT64_MAX;
    for (struct pc_chan *c = p->chans; c; c = c->next) {
        for (struct pc_waiter *w = c->waiters; w; w = w->next)
            d = w->deadline_ms < d ? w->deadline_ms : d;
        for (struct pc_item *it = c->queued; it; it = it->next)
            d = it->deadline_ms < d ? it->deadline_ms : d;
        for (struct pc_item *it = c->delivered; it; it = it->next)
            d = it->deadline_ms < d ? it->deadline_ms : d;
    }
    return d;
}

static void *timer_main(void *arg)
{
    struct pollch *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->stopping) {
        struct pc_fire polls = {0}, items = {.item_rsc = RSC_TARGET_NOT_REACHABLE};
        expire(p, now_ms(p), &polls, &items);
        if (polls.waiters || items.items) {
            pthread_mutex_unlock(&p->lock);
            fire(&polls);
            fire(&items);
            pthread_mutex_lock(&p->lock);
            continue;
        }
        int64_t d = next_deadline(p);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wait_ms = d == INT64_MAX ? 1000 : d - now_ms(p);
        wait_ms = wait_ms < 1 ? 1 : wait_ms > 1000 ? 1000 : wait_ms;
        ts.tv_sec += wait_ms / 1000;
        ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->cond, &p->lock, &ts);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

struct pollch *pollch_new(struct cse *cse)
{
    struct pollch *p = mem_calloc(1, sizeof *p);
    p->cse = cse;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    return p;
}

int pollch_start(struct cse *cse)
{
    struct pollch *p = cse->pollch;
    if (pthread_create(&p->timer, NULL, timer_main, p) != 0)
        return -1;
    p->started = true;
    struct out_client_ops t = {.scheme = "pch", .allowed = pch_allowed, .send = pch_send, .arg = p};
    p->transport_added = cse->outbound != NULL && outbound_register(cse->outbound, &t) == 0;
    return p->transport_added ? 0 : -1;
}

void pollch_quiesce(struct cse *cse)
{
    struct pollch *p = cse->pollch;
    if (p == NULL)
        return;
    struct pc_fire polls = {0}, items = {0};
    pthread_mutex_lock(&p->lock);
    p->quiescing = true; /* parked polls are answered now, new ones at once: the bindings drain */
    expire(p, INT64_MIN, &polls, &items);
    pthread_mutex_unlock(&p->lock);
    fire(&polls);
}

void pollch_stop(struct cse *cse)
{
    struct pollch *p = cse->pollch;
    if (p == NULL || !p->started)
        return;
    if (p->transport_added)
        outbound_unregister(cse->outbound, "pch");
    p->transport_added = false;
    struct pc_fire polls = {0}, items = {.item_rsc = RSC_TARGET_NOT_REACHABLE};
    pthread_mutex_lock(&p->lock);
    p->quiescing = true;
    p->stopping = true;
    expire(p, INT64_MAX, &polls, &items);
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->timer, NULL);
    p->started = false;
    fire(&polls);
    fire(&items);
}

void pollch_free(struct pollch *p)
{
    if (p == NULL)
        return;
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    mem_free(p);
}

/* ---- requests to pcu (TS-0004 §7.4.22.2) ---- */

/* NOTIFY of the AE's answer: {"m2m:rsp": {"rsc": n, "rqi": "..."}} to the request it answers. */
static enum cse_status pcu_notify(struct op_ctx *c, const char *stem)
{
    struct pollch *p = c->cse->pollch;
    char err[128];
    json_t *root = json_decode_body(c->req->body, c->req->body_len, err, sizeof err);
    json_t *rsp = json_object_get(root, "m2m:rsp");
    const char *rqi = json_string_value(json_object_get(rsp, "rqi"));
    json_t *rsc = json_object_get(rsp, "rsc");
    if (rqi == NULL || !json_is_integer(rsc)) {
        json_decref(root);
        response_error(c->rsp, RSC_BAD_REQUEST, "bad-content",
                       "a NOTIFY to pcu carries the response primitive {\"m2m:rsp\": {\"rsc\", \"rqi\", ...}}");
        return CSE_DONE;
    }
    struct pc_fire f = {.item_rsc = (int)json_integer_value(rsc)};
    pthread_mutex_lock(&p->lock);
    struct pc_chan *ch = chan_get(p, stem, false);
    for (struct pc_item **pp = ch ? &ch->delivered : NULL; pp && *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->rqi, rqi) == 0) {
            f.items = *pp;
            *pp = f.items->next;
            f.items->next = NULL;
            ch->ndelivered--;
            break;
        }
    chans_prune(p);
    pthread_mutex_unlock(&p->lock);
    json_decref(root);
    if (f.items == NULL) {
        response_error(c->rsp, RSC_NOT_FOUND, "not-found", "no request delivered through this channel has that rqi");
        return CSE_DONE;
    }
    fire(&f); /* the AE's answer to whoever sent the request */
    c->rsp->rsc = RSC_OK;
    return CSE_DONE;
}

/* RETRIEVE: the long poll. */
static enum cse_status pcu_poll(struct op_ctx *c, const char *stem)
{
    struct pollch *p = c->cse->pollch;
    struct pc_fire f = {.item_rsc = RSC_TARGET_NOT_REACHABLE};
    pthread_mutex_lock(&p->lock);
    struct pc_chan *ch = chan_get(p, stem, !p->quiescing && p->started && cont_can_park(&c->k));
    if (ch && ch->queued) {
        struct pc_item *it = take_queued(p, ch, &f);
        c->rsp->rsc = RSC_OK;
        c->rsp->body = mem_strndup(it->prim, it->len);
        c->rsp->body_len = it->len;
        pthread_mutex_unlock(&p->lock);
        fire(&f);
        return CSE_DONE;
    }
    if (ch == NULL || p->quiescing || !p->started || !cont_can_park(&c->k)) { /* shutting down, or cannot park */
        chans_prune(p);
        pthread_mutex_unlock(&p->lock);
        response_error(c->rsp, RSC_REQUEST_TIMEOUT, "poll-timeout", "no request for the originator is queued");
        return CSE_DONE;
    }
    if (ch->nwaiters >= LIMIT_POLLING_WAITERS) { /* the oldest poll makes room: the client moved on */
        struct pc_waiter **pp = &ch->waiters;
        while ((*pp)->next)
            pp = &(*pp)->next;
        f.waiters = *pp;
        *pp = NULL;
        ch->nwaiters--;
        response_error(f.waiters->rsp, RSC_REQUEST_TIMEOUT, "poll-replaced",
                       "a newer poll of this channel replaced it");
    }
    struct pc_waiter *w = mem_calloc(1, sizeof *w);
    w->rsp = c->rsp;
    op_park(c, PARK_POLL, &w->k);
    w->deadline_ms = now_ms(p) + c->cse->cfg->limits_polling_timeout;
    w->next = ch->waiters;
    ch->waiters = w;
    ch->nwaiters++;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    fire(&f);
    LOG(c->cse->log, LOG_DEBUG, "polling channel of %s: poll parked for %ld ms", stem,
        c->cse->cfg->limits_polling_timeout);
    return CSE_PENDING;
}

enum cse_status op_pcu(struct op_ctx *c)
{
    const struct store_row *pch = &c->tgt->row;
    /* TS-0004 §7.4.22.2.1, .3, .4: pcu is neither created, updated nor deleted through the API */
    if (c->req->op != OP_RETRIEVE && c->req->op != OP_NOTIFY) {
        response_error(c->rsp, RSC_OPERATION_NOT_ALLOWED, "virtual", "pcu answers RETRIEVE (long poll) and NOTIFY");
        return CSE_DONE;
    }
    /* Recv-6.3: only the creator of the <pollingChannel> (its AE; the default policy) */
    if (op_authorize(c, c->req->op == OP_RETRIEVE ? ACOP_RETRIEVE : ACOP_NOTIFY, pch, 0) != 0)
        return CSE_DONE;
    const char *stem = pch->ae && pch->ae[0] ? pch->ae : pch->pi;
    return c->req->op == OP_RETRIEVE ? pcu_poll(c, stem) : pcu_notify(c, stem);
}
