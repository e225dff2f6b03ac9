/* subscribe: the notification side of <subscription> (TS-0001 §10.2.10-11, TS-0004 §7.5.1).
 * Inside the writer's transaction, a change looks up the subscriptions it concerns and prepares
 * their notifications into a list of notes; only after the commit are the notes queued to the
 * notifier (or to a subscription's batch). So a notification describes exactly what committed, and
 * delivery never holds a request. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core_int.h"
#include "encoding/cbor_json.h"
#include "encoding/json.h"
#include "notify/notify.h"
#include "route.h"
#include "rsc.h"
#include "security/audit.h"
#include "util/buf.h"
#include "util/mem.h"

enum { NET_UPDATE = 1, NET_DELETE = 2, NET_CREATE_CHILD = 3, NET_DELETE_CHILD = 4, NET_MISSING_DATA = 8 };
enum { NCT_ALL = 1, NCT_MODIFIED = 2, NCT_RI = 3 };

struct note {
    struct note *next;
    json_t *uris; /* resolved notification targets (URLs) */
    json_t *sgn;  /* the m2m:sgn content */
    /* batching (bn): */
    char *sub_ri; /* NULL: send at once */
    int64_t num, dur_ms;
    bool latest;
    bool end; /* the subscription sub_ri is gone: its batch goes out now and ends (no uris, no sgn) */
    /* a timer to arm after the commit (txn_timer_arm): no uris, no sgn */
    char *timer_ri;
    int64_t timer_due, timer_arg;
};

void notes_init(struct notes *n)
{
    n->head = n->tail = NULL;
}

static void note_free(struct note *x)
{
    json_decref(x->uris);
    json_decref(x->sgn);
    mem_free(x->sub_ri);
    mem_free(x->timer_ri);
    mem_free(x);
}

void notes_free(struct notes *n)
{
    struct note *x = n->head;
    while (x) {
        struct note *next = x->next;
        note_free(x);
        x = next;
    }
    notes_init(n);
}

static void notes_push(struct notes *n, struct note *x)
{
    x->next = NULL;
    if (n->tail)
        n->tail->next = x;
    else
        n->head = x;
    n->tail = x;
}

void txn_timer_arm(struct txn_ctx *t, const char *ri, int64_t due_ms, int64_t arg)
{
    if (t->notes == NULL) { /* no commit to wait for */
        timers_add(t->cse, ri, due_ms, arg);
        return;
    }
    struct note *x = mem_calloc(1, sizeof *x);
    x->timer_ri = mem_strdup(ri);
    x->timer_due = due_ms;
    x->timer_arg = arg;
    notes_push(t->notes, x);
}

/* ---- batches (bn, ln) ------------------------------------------------------------------------- */

/* A batch holds its notifications in memory until num of them are there or dur has passed. Both are
 * bounded per subscription when it is written (notify.batch_num, notify.batch_dur: 4000 beyond), and
 * the bytes held are bounded per batch (notify.batch_bytes) and in all (notify.batch_total): a batch
 * that would grow beyond either is sent at once, early, never dropped. A batch ends with its
 * subscription: what it holds is sent when the subscription is deleted or expires. */
struct batch {
    char *sub_ri;
    json_t *uris;
    json_t *sgns;
    size_t bytes; /* encoded size of sgns' items */
    int64_t first_ms, num, dur_ms;
    bool latest;
    struct batch *next;
};

struct batcher {
    pthread_mutex_t lock;
    struct batch *list;
    size_t total; /* bytes held by all batches */
    size_t max_batch, max_total;
    bool over; /* the total bound forced early sends (logged once per episode) */
};

struct batcher *batcher_new(size_t max_batch, size_t max_total)
{
    struct batcher *b = mem_calloc(1, sizeof *b);
    pthread_mutex_init(&b->lock, NULL);
    b->max_batch = max_batch;
    b->max_total = max_total;
    return b;
}

size_t batcher_bytes(struct batcher *bt)
{
    pthread_mutex_lock(&bt->lock);
    size_t n = bt->total;
    pthread_mutex_unlock(&bt->lock);
    return n;
}

#define CBOR_MARK "cbor:"

static void send_all(struct cse *cse, const json_t *uris, const json_t *content)
{
    if (cse->outbound == NULL)
        return;
    size_t len, clen = 0;
    char *body = json_encode(content, &len);
    unsigned char *cbor = NULL;
    size_t i;
    json_t *u;
    json_array_foreach(uris, i, u)
    {
        /* "cbor:" marks an AE target that asked for CBOR (resolve_targets, TS-0004 §7.5.1.1) */
        const char *uri = json_string_value(u);
        char err[64];
        if (strncmp(uri, CBOR_MARK, strlen(CBOR_MARK)) == 0 &&
            (cbor != NULL || cborjson_from_json(body, len, &cbor, &clen, err, sizeof err) == 0)) {
            if (notify_send_as(cse->outbound, uri + strlen(CBOR_MARK), (const char *)cbor, clen, "application/cbor",
                               cse->cfg->cse_id, NULL, NULL) != 0)
                LOG(cse->log, LOG_WARN, "notification to %s dropped (queue full, stopping, or refused)",
                    uri + strlen(CBOR_MARK));
            continue;
        }
        if (strncmp(uri, CBOR_MARK, strlen(CBOR_MARK)) == 0)
            uri += strlen(CBOR_MARK);
        /* "<CSE-ID> <URL>": an AE or CSE registered elsewhere, through that CSE (route.c) */
        int rc = strchr(uri, ' ') ? route_notify_send(cse, uri, body, len, NULL, NULL)
                                  : notify_send(cse->outbound, uri, body, len, cse->cfg->cse_id, NULL, NULL);
        if (rc != 0)
            LOG(cse->log, LOG_WARN, "notification to %s dropped (queue full, stopping, or refused)",
                json_string_value(u));
    }
    mem_free(body);
    mem_free(cbor);
}

/* An aggregated notification (TS-0004 m2m:aggregatedNotification) of a batch. */
static void flush(struct cse *cse, struct batch *b)
{
    if (json_array_size(b->sgns) == 0)
        return;
    json_t *agn = json_pack("{s:{s:O}}", "m2m:agn", "m2m:sgn", b->sgns);
    send_all(cse, b->uris, agn);
    json_decref(agn);
}

static void batch_free(struct batch *b)
{
    json_decref(b->uris);
    json_decref(b->sgns);
    mem_free(b->sub_ri);
    mem_free(b);
}

/* Take b out of the list (under the lock); its bytes no longer count. */
static void batch_detach(struct batcher *bt, struct batch *b)
{
    struct batch **pp = &bt->list;
    while (*pp != b)
        pp = &(*pp)->next;
    *pp = b->next;
    b->next = NULL;
    bt->total -= b->bytes;
}

void batcher_free(struct cse *cse, struct batcher *bt, bool deliver)
{
    if (bt == NULL)
        return;
    struct batch *b = bt->list;
    while (b) {
        struct batch *next = b->next;
        if (deliver)
            flush(cse, b);
        batch_free(b);
        b = next;
    }
    pthread_mutex_destroy(&bt->lock);
    mem_free(bt);
}

static struct batch *batch_find(struct batcher *bt, const char *sub_ri)
{
    struct batch *b = bt->list;
    while (b && strcmp(b->sub_ri, sub_ri) != 0)
        b = b->next;
    return b;
}

static void batch_add(struct cse *cse, struct note *x, int64_t now_ms)
{
    struct batcher *bt = cse->batches;
    struct batch *ready = NULL;
    const json_t *item = json_object_get(x->sgn, "m2m:sgn");
    size_t item_bytes = json_dumpb(item, NULL, 0, JSON_COMPACT);
    const char *why = NULL;
    pthread_mutex_lock(&bt->lock);
    struct batch *b = batch_find(bt, x->sub_ri);
    if (b == NULL) {
        b = mem_calloc(1, sizeof *b);
        b->sub_ri = mem_strdup(x->sub_ri);
        b->sgns = json_array();
        b->first_ms = now_ms;
        b->next = bt->list;
        bt->list = b;
    }
    json_decref(b->uris);
    b->uris = json_incref(x->uris);
    b->num = x->num;
    b->dur_ms = x->dur_ms;
    b->latest = x->latest;
    if (b->latest) { /* latestNotify: only the newest notification is kept */
        json_array_clear(b->sgns);
        bt->total -= b->bytes;
        b->bytes = 0;
    }
    /* TS-0004 §8.4.2: an aggregated notification lists the notification objects themselves */
    json_array_append(b->sgns, (json_t *)item);
    b->bytes += item_bytes;
    bt->total += item_bytes;
    if ((int64_t)json_array_size(b->sgns) >= b->num && !b->latest)
        why = NULL, ready = b;
    else if (b->bytes > bt->max_batch)
        why = "notify.batch_bytes", ready = b;
    else if (bt->total > bt->max_total)
        why = "notify.batch_total", ready = b;
    if (ready != NULL)
        batch_detach(bt, ready);
    bool log_over = why != NULL && strcmp(why, "notify.batch_total") == 0 && !bt->over;
    if (why != NULL && strcmp(why, "notify.batch_total") == 0)
        bt->over = true;
    else if (bt->total <= bt->max_total / 2)
        bt->over = false;
    pthread_mutex_unlock(&bt->lock);
    if (ready) {
        if (log_over)
            LOG(cse->log, LOG_WARN,
                "batched notifications reached notify.batch_total (%zu bytes): batches are sent "
                "early until they hold less",
                bt->max_total);
        else if (why)
            LOG(cse->log, LOG_INFO, "batch of subscription %s sent early: %s reached", ready->sub_ri, why);
        flush(cse, ready);
        batch_free(ready);
    }
}

/* The subscription is gone: what its batch holds is sent now, and the batch ends. */
static void batch_end(struct cse *cse, const char *sub_ri)
{
    struct batcher *bt = cse->batches;
    pthread_mutex_lock(&bt->lock);
    struct batch *b = batch_find(bt, sub_ri);
    if (b)
        batch_detach(bt, b);
    pthread_mutex_unlock(&bt->lock);
    if (b) {
        flush(cse, b);
        batch_free(b);
    }
}

void batcher_tick(struct cse *cse, int64_t now_ms)
{
    struct batcher *bt = cse->batches;
    struct batch *due = NULL;
    pthread_mutex_lock(&bt->lock);
    struct batch **pp = &bt->list;
    while (*pp) {
        struct batch *b = *pp;
        if (now_ms - b->first_ms >= b->dur_ms) {
            *pp = b->next;
            bt->total -= b->bytes;
            b->next = due;
            due = b;
        } else {
            pp = &b->next;
        }
    }
    pthread_mutex_unlock(&bt->lock);
    while (due) {
        struct batch *next = due->next;
        flush(cse, due);
        batch_free(due);
        due = next;
    }
}

void notes_send(struct cse *cse, struct notes *n)
{
    int64_t now_ms = clock_now_us(&cse->clock) / 1000;
    for (struct note *x = n->head; x; x = x->next) {
        if (x->timer_ri)
            timers_add(cse, x->timer_ri, x->timer_due, x->timer_arg);
        else if (x->end)
            batch_end(cse, x->sub_ri);
        else if (x->sub_ri)
            batch_add(cse, x, now_ms);
        else
            send_all(cse, x->uris, x->sgn);
    }
    notes_free(n);
}

/* ---- preparing notifications (writer thread, inside the transaction) -------------------------- */

/* The address a notification names its subscription by: SP-relative and structured. */
static char *sub_address(const struct cse *cse, const char *path)
{
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "%s/%s", cse->cfg->cse_id, path);
    return buf_take(&b, NULL);
}

/* notificationURI entries to URLs: a URL as is; a registered AE's ID through its pointOfAccess. */
static json_t *resolve_targets(struct txn_ctx *t, const json_t *nu)
{
    json_t *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(nu, i, e)
    {
        const char *s = json_string_value(e);
        if (s == NULL)
            continue;
        if (strstr(s, "://")) {
            json_array_append_new(out, json_string(s));
            continue;
        }
        char url[1024];
        bool cbor = false;
        if (ae_poa_fmt(t->cse, t->txn, t->now, s, url, sizeof url, &cbor) == 0) {
            if (cbor) { /* the AE's csz names CBOR and not JSON: notify it in CBOR (TS-0004 §7.5.1.1) */
                char marked[sizeof url + sizeof CBOR_MARK];
                snprintf(marked, sizeof marked, "%s%s", CBOR_MARK, url);
                json_array_append_new(out, json_string(marked));
            } else {
                json_array_append_new(out, json_string(url));
            }
        } else if (route_notify_target(t->cse, t->txn, s, url, sizeof url)) { /* registered elsewhere */
            json_array_append_new(out, json_string(url));
        } else
            LOG(t->cse->log, LOG_DEBUG, "notification target '%s' has no reachable pointOfAccess", s);
    }
    return out;
}

static bool list_has_int(const json_t *list, int64_t v)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        if (json_is_integer(e) && json_integer_value(e) == v)
            return true;
    }
    return false;
}

static bool list_has_key(const json_t *list, const json_t *obj)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        if (json_is_string(e) && json_object_get(obj, json_string_value(e)))
            return true;
    }
    return false;
}

/* The representation sent for nct (TS-0001 Table 9.6.8-4). */
static json_t *representation(struct cse *cse, const struct store_row *res, const json_t *modified, int64_t nct)
{
    if (nct == NCT_RI) /* TS-0004 Table 6.3.5.62-1: the resource ID as m2m:uri */
        return json_pack("{s:s}", "m2m:uri", res->ri);
    const struct rtype *rt = rtype_find(res->ty);
    json_t *whole = json_loads(res->doc, 0, NULL);
    json_t *w = (nct == NCT_MODIFIED && modified) ? represent_wrap(cse, rt, json_deep_copy(modified), whole)
                                                  : represent_wrap(cse, rt, json_incref(whole), NULL);
    json_decref(whole);
    return w;
}

/* Warden's notification access policy (README "Subscriptions and notifications"), beyond TS-0004
 * §7.4.8.2.1, which checks RETRIEVE only when the subscription is created: a notification is a read
 * by the subscriber (the subscription's creator), so each event is decided again, here, when it
 * happens: RETRIEVE on the subscribed-to resource, and for a child's creation or deletion also on
 * that child (a deleted child is gone by send time). What the subscriber may not retrieve is not
 * sent, and the withheld notification is audited. The decision is the one every request gets
 * (policy_decide). */
/* The decisions of one event, by subscriber: subscriptions of the same creator share them. */
#define DECISIONS_KEPT 16
struct event_decisions {
    struct {
        const char *subscriber; /* points into the subscription rows of the event */
        struct decision d;
        const struct store_row *what; /* the resource that decided */
    } v[DECISIONS_KEPT];
    size_t n;
};

static bool subscriber_may_read(struct txn_ctx *t, struct event_decisions *memo, const struct store_row *s,
                                const struct store_row *subject, int net, const struct store_row *res)
{
    struct decision d;
    const struct store_row *what = subject;
    size_t k = 0;
    while (k < memo->n && strcmp(memo->v[k].subscriber, s->cr) != 0)
        k++;
    if (k < memo->n) {
        d = memo->v[k].d;
        what = memo->v[k].what;
    } else {
        policy_decide_subscriber(t->cse, t->txn, t->now, s->cr, ACOP_RETRIEVE, subject, &d);
        if (d.permit && (net == NET_CREATE_CHILD || net == NET_DELETE_CHILD)) {
            what = res;
            policy_decide_subscriber(t->cse, t->txn, t->now, s->cr, ACOP_RETRIEVE, res, &d);
        }
        if (memo->n < DECISIONS_KEPT) {
            memo->v[memo->n].subscriber = s->cr;
            memo->v[memo->n].d = d;
            memo->v[memo->n].what = what;
            memo->n++;
        }
    }
    if (d.permit)
        return true;
    char detail[sizeof d.detail + LIMIT_ID_LEN + 64];
    snprintf(detail, sizeof detail, "notification of subscription %s withheld: %s", s->path, d.detail);
    struct audit_event ev = {
        .event = "deny",
        .originator = s->cr,
        .binding = "notify",
        .op = "notify",
        .target = what->path,
        .rsc = RSC_ORIGINATOR_HAS_NO_PRIVILEGE,
        .reason = d.reason,
        .detail = detail,
    };
    audit_record(t->cse->audit, &ev);
    LOG(t->cse->log, LOG_INFO, "%s (%s)", detail, d.reason);
    return false;
}

/* TS-0004 §7.5.1.2.2 Step 3.0/4.0: a subscription's notificationSchedule (its <schedule> child)
 * says when its notifications may be sent. Outside every window, and with no pendingNotification
 * (not supported here: 4000 on create), the notification is discarded, as Step 4.0 says; never
 * silently: it is logged and audited. A schedule that cannot be read counts as no schedule. */
static bool schedule_permits(struct txn_ctx *t, const struct store_row *s, int net)
{
    struct store_row sch;
    if (t->txn->st->ops->edge_child(t->txn, s->ri, TY_SCH, true, t->now, &sch) != STORE_OK)
        return true;
    bool ok = schedule_allows(sch.doc, t->now);
    if (!ok) {
        char detail[LIMIT_ID_LEN * 2 + 96];
        snprintf(detail, sizeof detail, "notification (net %d) of subscription %s discarded: outside its schedule %s",
                 net, s->path, sch.path);
        struct audit_event ev = {
            .event = "drop",
            .originator = s->cr,
            .binding = "notify",
            .op = "notify",
            .target = s->path,
            .rsc = 0,
            .reason = "notification-schedule",
            .detail = detail,
        };
        audit_record(t->cse->audit, &ev);
        LOG(t->cse->log, LOG_INFO, "%s", detail);
    }
    store_row_free(&sch);
    return ok;
}

/* Queue the notification of event net carrying rep (owned) to the targets of subscription s (doc:
 * its attributes), or to its batch. False when its schedule discards it (rep freed). */
static bool push_notification(struct txn_ctx *t, const struct store_row *s, const json_t *doc, json_t *rep, int net);

/* TS-0004 §7.5.1.2.18: an event of a subscription a <crossResourceSubscription> made (its acrs)
 * goes to that crossResourceSubscription's window, never out of the CSE. When every target had an
 * event within the window, the cross-resource notification (sur: the crossResourceSubscription)
 * goes to its nu like any other, under its notificationSchedule; its exc counts them. */
static void crs_event(struct txn_ctx *t, const struct store_row *s, const char *crs_ri)
{
    const struct store_ops *ops = t->txn->st->ops;
    struct store_row crs;
    if (ops->get_ri(t->txn, crs_ri, t->now, &crs) != STORE_OK)
        return;
    json_t *doc = crs.ty == TY_CRS ? json_loads(crs.doc, 0, NULL) : NULL;
    if (doc == NULL) {
        store_row_free(&crs);
        return;
    }
    int64_t now = txn_now_ms(t), size = 0;
    crs_window_roll(doc, now);
    json_t *w = json_object_get(doc, CRS_STATE), *hit = json_object_get(w, "hit");
    if (json_object_size(hit) == 0) {
        if (json_int_or(doc, "twt", 1) == 2) /* sliding: this event opens the window */
            json_object_set_new(w, "ws", json_integer(now));
        if (sub_duration_parse(json_object_get(doc, "tws"), &size)) /* discard what it holds at its end */
            txn_timer_arm(t, crs.ri, json_int_or(w, "ws", now) + size, 0);
    }
    json_object_set_new(hit, s->ri, json_integer(now));
    const json_t *subs = json_object_get(doc, "rrats");
    size_t i, have = 0;
    json_t *e;
    json_array_foreach(subs, i, e)
    {
        have += json_is_string(e) && json_object_get(hit, json_string_value(e)) != NULL;
    }
    bool deleted = false;
    if (have > 0 && have == json_array_size(subs)) {
        json_object_clear(hit);
        if (json_int_or(doc, "twt", 1) == 2)
            json_object_set_new(w, "ws", json_integer(now));
        if (push_notification(t, &crs, doc, NULL, 0)) {
            int64_t exc = json_int_or(doc, "exc", -1);
            if (exc == 1) {
                txn_delete_resource(t, &crs);
                deleted = true;
            } else if (exc > 1) {
                json_set_int(doc, "exc", exc - 1);
            }
        }
    }
    if (!deleted) {
        mem_free(crs.doc);
        crs.doc = json_encode(doc, NULL);
        ops->update(t->txn, &crs);
    }
    json_decref(doc);
    store_row_free(&crs);
}

static bool push_notification(struct txn_ctx *t, const struct store_row *s, const json_t *doc, json_t *rep, int net)
{
    const json_t *acrs = json_object_get(doc, "acrs");
    if (s->ty == TY_SUB && json_is_string(json_array_get(acrs, 0))) {
        json_decref(rep);
        crs_event(t, s, json_string_value(json_array_get(acrs, 0)));
        return true;
    }
    if (!schedule_permits(t, s, net)) {
        json_decref(rep);
        return false;
    }
    char *sur = sub_address(t->cse, s->path);
    json_t *sgn = rep ? json_pack("{s:{s:{s:o, s:i}, s:s}}", "m2m:sgn", "nev", "rep", rep, "net", net, "sur", sur)
                      : json_pack("{s:{s:s}}", "m2m:sgn", "sur", sur); /* a cross-resource notification */
    if (json_object_get(doc, "cr"))
        json_object_set(json_object_get(sgn, "m2m:sgn"), "cr", json_object_get(doc, "cr"));
    mem_free(sur);
    struct note *x = mem_calloc(1, sizeof *x);
    x->uris = resolve_targets(t, json_object_get(doc, "nu"));
    x->sgn = sgn;
    const json_t *bn = json_object_get(doc, "bn");
    if (json_is_object(bn)) {
        x->sub_ri = mem_strdup(s->ri);
        x->num = json_int_or(bn, "num", 1);
        x->dur_ms = sub_duration_ms(json_object_get(bn, "dur"));
        x->latest = json_is_true(json_object_get(doc, "ln"));
    }
    notes_push(t->notes, x);
    return true;
}

int sub_event(struct txn_ctx *t, const struct store_row *subject, int net, const struct store_row *res,
              const json_t *modified)
{
    if (t->notes == NULL || subject->nsub <= 0) /* no subscriptions here: nothing to look up */
        return 0;
    /* every subscription, however many: their number is bounded when they are created
     * (notify.max_subs), never here by dropping some (issue 12, finding 23) */
    struct rowvec subs = {.max = SIZE_MAX};
    struct event_decisions memo = {.n = 0};
    if (t->txn->st->ops->children(t->txn, subject->ri, TY_SUB, t->now, rowvec_collect, &subs) < 0) {
        rowvec_free(&subs);
        return 0; /* a failed lookup loses notifications, never the change itself */
    }
    for (size_t i = 0; i < subs.n; i++) {
        struct store_row *s = &subs.v[i];
        if (strcmp(s->ri, res->ri) == 0) /* a subscription is not told of its own creation */
            continue;
        json_t *doc = json_loads(s->doc, 0, NULL);
        const json_t *enc = json_object_get(doc, "enc");
        const json_t *nets = json_object_get(enc, "net");
        /* default: update of the resource, unless the subscription monitors operations (TS-0001 §9.6.8) */
        bool wanted =
            nets ? list_has_int(nets, net) : net == NET_UPDATE && json_array_size(json_object_get(enc, "om")) == 0;
        const json_t *chty = json_object_get(enc, "chty"), *atr = json_object_get(enc, "atr");
        if (wanted && (net == NET_CREATE_CHILD || net == NET_DELETE_CHILD) && chty && !list_has_int(chty, res->ty))
            wanted = false;
        if (wanted && net == NET_UPDATE && atr && !(modified && list_has_key(atr, modified)))
            wanted = false;
        if (!wanted || !subscriber_may_read(t, &memo, s, subject, net, res)) {
            json_decref(doc);
            continue;
        }
        json_t *rep =
            representation(t->cse, res, net == NET_UPDATE ? modified : NULL, json_int_or(doc, "nct", NCT_ALL));
        bool sent = push_notification(t, s, doc, rep, net);

        /* expirationCounter: the subscription ends after that many notifications (sent ones:
         * TS-0004 §7.5.1.2.2 Step 5.0) */
        int64_t exc = sent ? json_int_or(doc, "exc", -1) : -1;
        if (exc > 0) {
            if (exc == 1) {
                txn_delete_resource(t, s);
            } else {
                json_set_int(doc, "exc", exc - 1);
                mem_free(s->doc);
                s->doc = json_encode(doc, NULL);
                t->txn->st->ops->update(t->txn, s);
            }
        }
        json_decref(doc);
    }
    rowvec_free(&subs);
    return 0;
}

/* ---- missing data of a <timeSeries> (TS-0004 §7.5.1.2.9) ------------------------------------ */

/* The window of a subscription's missingData condition: opened by the first missing point after
 * its creation (or after the previous window ended), md.dur long; it counts the missing points,
 * and from the md.num-th on each one is notified, with the points since the last notification. */
struct md_window {
    char *sub_ri;
    int64_t end_ms;
    int64_t count;
    json_t *pending; /* missing points not notified yet */
};

struct md_windows {
    pthread_mutex_t lock;
    struct md_window *v;
    size_t n, cap;
};

struct md_windows *md_windows_new(void)
{
    struct md_windows *w = mem_calloc(1, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
    return w;
}

static void window_clear(struct md_window *w)
{
    mem_free(w->sub_ri);
    json_decref(w->pending);
}

void md_windows_free(struct md_windows *w)
{
    if (w == NULL)
        return;
    for (size_t i = 0; i < w->n; i++)
        window_clear(&w->v[i]);
    mem_free(w->v);
    pthread_mutex_destroy(&w->lock);
    mem_free(w);
}

/* Count one missing point for subscription sub_ri; returns the notification content (owned) when
 * one is due, else NULL. */
static json_t *window_count(struct cse *cse, const char *sub_ri, int64_t num, int64_t dur_ms, const char *point,
                            int64_t now_ms)
{
    struct md_windows *ws = cse->md_windows;
    json_t *out = NULL;
    pthread_mutex_lock(&ws->lock);
    struct md_window *w = NULL;
    for (size_t i = 0; i < ws->n;) { /* ended windows go (so are those of deleted subscriptions) */
        if (ws->v[i].end_ms <= now_ms) {
            window_clear(&ws->v[i]);
            ws->v[i] = ws->v[--ws->n];
            continue;
        }
        if (strcmp(ws->v[i].sub_ri, sub_ri) == 0)
            w = &ws->v[i];
        i++;
    }
    struct md_window one = {.count = 0};
    if (w == NULL && ws->n < LIMIT_MD_WINDOWS) {
        if (ws->n == ws->cap) {
            ws->cap = ws->cap ? ws->cap * 2 : 16;
            ws->v = mem_realloc(ws->v, ws->cap * sizeof *ws->v);
        }
        w = &ws->v[ws->n++];
        *w = (struct md_window){.sub_ri = mem_strdup(sub_ri), .end_ms = now_ms + dur_ms, .pending = json_array()};
    } else if (w == NULL) { /* no room: this point alone, notified when num is 1 */
        w = &one;
        one.pending = json_array();
    }
    w->count++;
    json_array_append_new(w->pending, json_string(point));
    if (w->count >= num) {
        out = json_pack("{s:{s:o, s:I}}", "m2m:tsn", "mdlt", json_copy(w->pending), "mdc", (json_int_t)w->count);
        json_array_clear(w->pending);
    }
    if (w == &one)
        json_decref(one.pending);
    pthread_mutex_unlock(&ws->lock);
    return out;
}

/* The subscription sub_ri is gone: its window, if any, ends. */
static void window_end(struct cse *cse, const char *sub_ri)
{
    struct md_windows *ws = cse->md_windows;
    if (ws == NULL)
        return;
    pthread_mutex_lock(&ws->lock);
    for (size_t i = 0; i < ws->n; i++)
        if (strcmp(ws->v[i].sub_ri, sub_ri) == 0) {
            window_clear(&ws->v[i]);
            ws->v[i] = ws->v[--ws->n];
            break;
        }
    pthread_mutex_unlock(&ws->lock);
}

int sub_missing_data(struct txn_ctx *t, const struct store_row *subject, const char *point)
{
    if (t->notes == NULL || subject->nsub <= 0)
        return 0;
    struct rowvec subs = {.max = SIZE_MAX};
    struct event_decisions memo = {.n = 0};
    if (t->txn->st->ops->children(t->txn, subject->ri, TY_SUB, t->now, rowvec_collect, &subs) < 0) {
        rowvec_free(&subs);
        return 0;
    }
    int64_t now_ms = clock_now_us(&t->cse->clock) / 1000;
    for (size_t i = 0; i < subs.n; i++) {
        struct store_row *s = &subs.v[i];
        json_t *doc = json_loads(s->doc, 0, NULL);
        const json_t *enc = json_object_get(doc, "enc"), *md = json_object_get(enc, "md");
        if (!list_has_int(json_object_get(enc, "net"), NET_MISSING_DATA) || !json_is_object(md) ||
            !subscriber_may_read(t, &memo, s, subject, NET_MISSING_DATA, subject)) {
            json_decref(doc);
            continue;
        }
        json_t *tsn = window_count(t->cse, s->ri, json_int_or(md, "num", 1),
                                   sub_duration_ms(json_object_get(md, "dur")), point, now_ms);
        if (tsn)
            push_notification(t, s, doc, tsn, NET_MISSING_DATA);
        json_decref(doc);
    }
    rowvec_free(&subs);
    return 0;
}

int sub_deleted(struct txn_ctx *t, const struct store_row *row)
{
    if (t->notes == NULL)
        return 0;
    /* the subscriptions among row and its subtree: asked of the store by type (indexed), not by
     * walking every descendant */
    struct rowvec subs = {.max = SIZE_MAX}; /* all of them: none is dropped (finding 23) */
    static const int sub_ty[] = {TY_SUB};
    struct store_filter f = {.ty = sub_ty, .nty = 1, .sts = -1, .stb = -1, .sza = -1, .szb = -1, .max_depth = -1};
    if (row->ty == TY_SUB)
        rowvec_collect(&subs, row);
    else if (t->txn->st->ops->find(t->txn, row->path, &f, t->now, rowvec_collect, &subs) < 0) {
        rowvec_free(&subs);
        return 0;
    }
    for (size_t i = 0; i < subs.n; i++) {
        const struct store_row *s = &subs.v[i];
        json_t *doc = json_loads(s->doc, 0, NULL);
        window_end(t->cse, s->ri);                     /* and its missingData window */
        struct note *end = mem_calloc(1, sizeof *end); /* its batch, if any, ends with it */
        end->end = true;
        end->sub_ri = mem_strdup(s->ri);
        notes_push(t->notes, end);
        const char *su = json_string_value(json_object_get(doc, "su"));
        if (su) { /* TS-0004 §7.5.1.2.x: deletion notification to the subscriber */
            char *sur = sub_address(t->cse, s->path);
            struct note *x = mem_calloc(1, sizeof *x);
            json_t *one = json_pack("[s]", su);
            x->uris = resolve_targets(t, one);
            json_decref(one);
            x->sgn = json_pack("{s:{s:b, s:s}}", "m2m:sgn", "sud", 1, "sur", sur);
            notes_push(t->notes, x);
            mem_free(sur);
        }
        json_decref(doc);
    }
    rowvec_free(&subs);
    return 0;
}

int ae_poa(struct cse *cse, struct store_view *v, int64_t now, const char *id, char *url, size_t len)
{
    return ae_poa_fmt(cse, v, now, id, url, len, NULL);
}

/* TS-0004 §7.5.1.1: does the AE's contentSerialization ask for CBOR rather than JSON? */
static bool wants_cbor(const json_t *csz)
{
    bool json = false, cbor = false;
    size_t i;
    json_t *e;
    json_array_foreach(csz, i, e)
    {
        const char *s = json_string_value(e);
        json |= s && (strcmp(s, "json") == 0 || strcmp(s, "application/json") == 0);
        cbor |= s && (strcmp(s, "cbor") == 0 || strcmp(s, "application/cbor") == 0);
    }
    return cbor && !json;
}

int ae_poa_fmt(struct cse *cse, struct store_view *v, int64_t now, const char *id, char *url, size_t len, bool *cbor)
{
    struct id parsed;
    struct store_row ae;
    if (id_parse(&cse->idenv, id, &parsed) && parsed.kind == ID_AE && parsed.local) {
        if (v->st->ops->get_ri(v, id_stem(&parsed), now, &ae) != STORE_OK)
            return -1;
    } else if (v->st->ops->get_path(v, id, now, &ae) != STORE_OK && v->st->ops->get_ri(v, id, now, &ae) != STORE_OK) {
        return -1; /* a structured or unstructured CSE-relative address of the AE (TS-0004 §7.4.8.2.1) */
    }
    int rc = -1;
    json_t *doc = ae.ty == TY_AE ? json_loads(ae.doc, 0, NULL) : NULL;
    /* TS-0001 §9.6.5, §9.6.8 (requestReachability, pointOfAccess), §10.2.5.12: an AE that accepts no
     * connections (rr not true) is never contacted through its poa; it gets its requests through its
     * <pollingChannel> when it has one (core/pollch.c) */
    bool unreachable = !json_is_true(json_object_get(doc, "rr"));
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(doc, "poa"), i, p)
    {
        const char *s = json_string_value(p);
        if (!unreachable && s && (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0) && strlen(s) < len) {
            strcpy(url, s);
            rc = 0;
            if (cbor)
                *cbor = wants_cbor(json_object_get(doc, "csz"));
            break;
        }
    }
    struct store_row pch;
    if (rc != 0 && doc != NULL && v->st->ops->edge_child(v, ae.ri, TY_PCH, true, now, &pch) == STORE_OK) {
        store_row_free(&pch);
        int n = snprintf(url, len, "pch://%s", ae.ri); /* an AE's resourceID is its AE-ID stem */
        rc = n > 0 && (size_t)n < len ? 0 : -1;
    }
    json_decref(doc);
    store_row_free(&ae);
    return rc;
}

/* Default batch duration when bn gives none (TS-0004 §7.4.8.2.1: the SP's default). */
#define BATCH_DEFAULT_MS 5000

bool sub_duration_parse(const json_t *dur, int64_t *ms_out)
{
    if (json_is_integer(dur)) {
        if (json_integer_value(dur) < 0 || json_integer_value(dur) > 100000000)
            return false;
        *ms_out = (int64_t)json_integer_value(dur) * 1000;
        return true;
    }
    return json_is_string(dur) && iso_duration_ms(json_string_value(dur), ms_out);
}

int64_t sub_duration_ms(const json_t *dur)
{
    int64_t ms;
    return sub_duration_parse(dur, &ms) ? ms : BATCH_DEFAULT_MS;
}

/* ---- operationMonitor (TS-0001 §9.6.8, TS-0004 Table 6.3.5.57-1) --------------------------------
 * After any request that targets a resource with subscriptions, whatever its outcome: each
 * subscription whose enc.om matches the operation (ops: accessControlOperations bits) and the
 * originator (or) is notified with {om: {op, or}}. */
void sub_monitor(struct cse *cse, struct store_view *v, const struct store_row *row, int op, int acop,
                 const char *originator)
{
    if (row->nsub <= 0 || cse->outbound == NULL)
        return;
    int64_t now = cse_now(cse);
    struct rowvec subs = {.max = LIMIT_LIST_ITEMS};
    if (v->st->ops->children(v, row->ri, TY_SUB, now, rowvec_collect, &subs) < 0) {
        rowvec_free(&subs);
        return;
    }
    struct txn_ctx t = {.cse = cse, .txn = v, .now = now}; /* resolve_targets only reads */
    for (size_t i = 0; i < subs.n; i++) {
        json_t *doc = json_loads(subs.v[i].doc, 0, NULL);
        bool match = false;
        size_t k;
        json_t *m;
        json_array_foreach(json_object_get(json_object_get(doc, "enc"), "om"), k, m)
        {
            const json_t *ops = json_object_get(m, "ops");
            const char *orig = json_string_value(json_object_get(m, "or"));
            match |= (ops == NULL || (json_integer_value(ops) & acop)) &&
                     (orig == NULL || (originator && strcmp(orig, originator) == 0));
        }
        if (match) {
            char *sur = sub_address(cse, subs.v[i].path);
            json_t *sgn = json_pack("{s:{s:{s:{s:i, s:s}}, s:s}}", "m2m:sgn", "nev", "om", "op", op, "or",
                                    originator ? originator : "", "sur", sur);
            mem_free(sur);
            json_t *uris = resolve_targets(&t, json_object_get(doc, "nu"));
            send_all(cse, uris, sgn);
            json_decref(uris);
            json_decref(sgn);
        }
        json_decref(doc);
    }
    rowvec_free(&subs);
}
