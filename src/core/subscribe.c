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
#include "encoding/json.h"
#include "notify/notify.h"
#include "route.h"
#include "rsc.h"
#include "security/audit.h"
#include "util/buf.h"
#include "util/mem.h"

enum { NET_UPDATE = 1, NET_DELETE = 2, NET_CREATE_CHILD = 3, NET_DELETE_CHILD = 4 };
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

static void send_all(struct cse *cse, const json_t *uris, const json_t *content)
{
    if (cse->outbound == NULL)
        return;
    size_t len;
    char *body = json_encode(content, &len);
    size_t i;
    json_t *u;
    json_array_foreach(uris, i, u)
    {
        const char *target = json_string_value(u);
        /* "<CSE-ID> <URL>": an AE or CSE registered elsewhere, through that CSE (route.c) */
        int rc = strchr(target, ' ') ? route_notify_send(cse, target, body, len, NULL, NULL)
                                     : notify_send(cse->outbound, target, body, len, cse->cfg->cse_id, NULL, NULL);
        if (rc != 0)
            LOG(cse->log, LOG_WARN, "notification to %s dropped (queue full, stopping, or refused)",
                json_string_value(u));
    }
    mem_free(body);
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
        if (x->end)
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
        if (ae_poa(t->cse, t->txn, t->now, s, url, sizeof url) == 0)
            json_array_append_new(out, json_string(url));
        else if (route_notify_target(t->cse, t->txn, s, url, sizeof url)) /* registered elsewhere */
            json_array_append_new(out, json_string(url));
        else
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
static json_t *representation(const struct store_row *res, const json_t *modified, int64_t nct)
{
    if (nct == NCT_RI)
        return json_string(res->ri);
    const struct rtype *rt = rtype_find(res->ty);
    json_t *attrs = (nct == NCT_MODIFIED && modified) ? json_incref((json_t *)modified) : json_loads(res->doc, 0, NULL);
    char key[32];
    snprintf(key, sizeof key, "m2m:%s", rt ? rt->sn : "unknown");
    return json_pack("{s:o}", key, attrs ? attrs : json_object());
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
        bool wanted = nets ? list_has_int(nets, net) : net == NET_UPDATE; /* default: update of the resource */
        const json_t *chty = json_object_get(enc, "chty"), *atr = json_object_get(enc, "atr");
        if (wanted && (net == NET_CREATE_CHILD || net == NET_DELETE_CHILD) && chty && !list_has_int(chty, res->ty))
            wanted = false;
        if (wanted && net == NET_UPDATE && atr && !(modified && list_has_key(atr, modified)))
            wanted = false;
        if (!wanted || !subscriber_may_read(t, &memo, s, subject, net, res)) {
            json_decref(doc);
            continue;
        }
        char *sur = sub_address(t->cse, s->path);
        json_t *rep = representation(res, net == NET_UPDATE ? modified : NULL, json_int_or(doc, "nct", NCT_ALL));
        json_t *sgn = json_pack("{s:{s:{s:o, s:i}, s:s}}", "m2m:sgn", "nev", "rep", rep, "net", net, "sur", sur);
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

        /* expirationCounter: the subscription ends after that many notifications */
        int64_t exc = json_int_or(doc, "exc", -1);
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
    struct id parsed;
    if (!id_parse(&cse->idenv, id, &parsed) || parsed.kind != ID_AE || !parsed.local)
        return -1;
    struct store_row ae;
    if (v->st->ops->get_ri(v, id_stem(&parsed), now, &ae) != STORE_OK)
        return -1;
    int rc = -1;
    json_t *doc = ae.ty == TY_AE ? json_loads(ae.doc, 0, NULL) : NULL;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(doc, "poa"), i, p)
    {
        const char *s = json_string_value(p);
        if (s && (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0) && strlen(s) < len) {
            strcpy(url, s);
            rc = 0;
            break;
        }
    }
    json_decref(doc);
    store_row_free(&ae);
    return rc;
}

/* Default batch duration when bn gives none (TS-0004 §7.4.8.2.1: the SP's default). */
#define BATCH_DEFAULT_MS 5000

static bool sub_duration_parse(const json_t *dur, int64_t *ms_out)
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
