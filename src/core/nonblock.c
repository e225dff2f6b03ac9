/* nonblock: non-blocking requests (TS-0001 §8.2.2; TS-0004 §7.2.2.2 Recv-2.0..8.0, §7.3.2.2-7.3.2.5,
 * §7.5.1.2.5). A request with Response Type 1 (nonBlockingRequestSynch) or 2
 * (nonBlockingRequestAsynch) is accepted once its originator is authenticated: the CSE commits a
 * <request> resource (ty 17, under the CSEBase, readable by the originator only), answers 1001/1002
 * with its reference, and then runs a copy of the request as a blocking one through cse_dispatch,
 * the same pipeline (authentication, routing, authorization) as any other request. Its response goes
 * into the <request>'s operationResult (requestStatus COMPLETED); for rt 2 it is also sent as a
 * notification (m2m:rsp) to the notificationURIs of the Response Type, or to the originator.
 *
 * Nothing waits on a thread: the acknowledgement parks on the <request>'s commit; one worker thread
 * starts the copies and completes them when their own continuation (a commit, a consultation, a
 * fan-out) calls done; the result is written by a store job. Bounded per originator and in total. */
#include <string.h>

#include "core_int.h"
#include "encoding/json.h"
#include "limits.h"
#include "notify/notify.h"
#include "rsc.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/rand.h"
#include "util/timeutil.h"

/* m2m:requestStatus (TS-0004 §6.3.4.2.10) */
enum { RS_COMPLETED = 1, RS_PENDING = 3 };

struct nb_count {
    struct nb_count *next;
    long n;
    char id[];
};

struct nbr {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct nb_job *head, *tail; /* jobs for the worker: start or complete */
    pthread_t thread;
    bool started, stopping;
    long pending; /* accepted and not freed yet */
    size_t bytes; /* the request bodies they hold */
    struct nb_count *counts;
};

struct nb_job {
    struct nb_job *next;
    struct cse *cse;
    struct store_job sj;
    int rt;
    bool started; /* the copy was dispatched */
    bool parked;  /* ... and answered CSE_PENDING: cse_complete is due */
    struct cse_request req;
    struct cse_response rsp;
    char **strs; /* what req points to */
    size_t nstrs, capstrs;
    char *key;            /* the originator as counted */
    size_t bytes;         /* ... and the body it holds */
    struct store_row row; /* the <request> */
    json_t *nu;           /* rt 2: the notificationURIs; NULL: the originator */
    json_t *ors;          /* the operationResult (m2m:responsePrimitive) */
    json_t *urls;         /* rt 2: where the result goes, resolved in the result's transaction */
    int store_rc;
    /* the acknowledgement: the non-blocking request itself, parked until the <request> commits */
    struct cse_response *orsp;
    struct cse_cont ok; /* the non-blocking request, parked on the <request>'s commit */
};

struct nbr *nbr_new(void)
{
    struct nbr *n = mem_calloc(1, sizeof *n);
    pthread_mutex_init(&n->lock, NULL);
    pthread_cond_init(&n->cond, NULL);
    return n;
}

static const char *keep(struct nb_job *j, const char *s, size_t len)
{
    if (s == NULL)
        return NULL;
    if (j->nstrs == j->capstrs) {
        j->capstrs = j->capstrs ? 2 * j->capstrs : 16;
        j->strs = mem_realloc(j->strs, j->capstrs * sizeof *j->strs);
    }
    char *c = mem_strndup(s, len);
    j->strs[j->nstrs++] = c;
    return c;
}

static const char *keeps(struct nb_job *j, const char *s)
{
    return s ? keep(j, s, strlen(s)) : NULL;
}

/* A blocking copy of req that owns every string it points to. */
static void copy_request(struct nb_job *j, const struct cse_request *req)
{
    struct cse_request *c = &j->req;
    *c = *req;
    c->rt = 0;
    c->rtu = NULL;
    c->fan = NULL;
    c->to = keeps(j, req->to);
    c->fr = keeps(j, req->fr);
    c->rqi = keeps(j, req->rqi);
    c->rvi = keeps(j, req->rvi);
    c->body = req->body ? keep(j, req->body, req->body_len) : NULL;
    struct cse_filter *f = &c->fc;
    for (int i = 0; i < f->nlbl; i++)
        f->lbl[i] = keeps(j, f->lbl[i]);
    for (int i = 0; i < f->ncty; i++)
        f->cty[i] = keeps(j, f->cty[i]);
    for (int i = 0; i < f->natr; i++) {
        f->atr_name[i] = keeps(j, f->atr_name[i]);
        f->atr_value[i] = keeps(j, f->atr_value[i]);
    }
    f->crb = keeps(j, f->crb);
    f->cra = keeps(j, f->cra);
    f->ms = keeps(j, f->ms);
    f->us = keeps(j, f->us);
    f->exb = keeps(j, f->exb);
    f->exa = keeps(j, f->exa);
    struct cse_authz_params *az = &c->az;
    for (int i = 0; i < az->nrids; i++)
        az->rids[i] = keeps(j, az->rids[i]);
    for (int i = 0; i < az->ntids; i++)
        az->tids[i] = keeps(j, az->tids[i]);
    for (int i = 0; i < az->nltids; i++)
        az->ltids[i] = keeps(j, az->ltids[i]);
    for (int i = 0; i < az->ntkns; i++)
        az->tkns[i] = keeps(j, az->tkns[i]);
    c->ex.fr = keeps(j, c->ex.fr);
    c->ex.op = keeps(j, c->ex.op);
    c->ex.to = keeps(j, c->ex.to);
    c->sec.binding = keeps(j, c->sec.binding);
    c->sec.cred_id = keeps(j, c->sec.cred_id);
    for (int i = 0; i < c->sec.nids && i < SECCTX_MAX_IDS; i++)
        c->sec.ids[i] = keeps(j, c->sec.ids[i]);
}

static void job_free(struct nb_job *j)
{
    struct nbr *n = j->cse->nbr;
    pthread_mutex_lock(&n->lock);
    for (struct nb_count **p = &n->counts; *p; p = &(*p)->next) {
        if (strcmp((*p)->id, j->key) == 0) {
            if (--(*p)->n == 0) {
                struct nb_count *dead = *p;
                *p = dead->next;
                mem_free(dead);
            }
            break;
        }
    }
    n->bytes -= j->bytes;
    if (--n->pending == 0 && n->stopping)
        pthread_cond_broadcast(&n->cond);
    pthread_mutex_unlock(&n->lock);
    response_free(&j->rsp);
    for (size_t i = 0; i < j->nstrs; i++)
        mem_free(j->strs[i]);
    mem_free(j->strs);
    mem_free(j->key);
    store_row_free(&j->row);
    json_decref(j->nu);
    json_decref(j->ors);
    json_decref(j->urls);
    mem_free(j);
}

static void enqueue(struct nb_job *j)
{
    struct nbr *n = j->cse->nbr;
    pthread_mutex_lock(&n->lock);
    j->next = NULL;
    if (n->tail)
        n->tail->next = j;
    else
        n->head = j;
    n->tail = j;
    pthread_cond_signal(&n->cond);
    pthread_mutex_unlock(&n->lock);
}

/* The Content of a request or response as a JSON value (a string when it is not JSON), or NULL. */
static json_t *content_value(const char *body, size_t len)
{
    if (body == NULL || len == 0)
        return NULL;
    json_t *v = json_loadb(body, len, JSON_DECODE_ANY, NULL);
    return v ? v : json_stringn(body, len);
}

/* ---- the result: the <request> is updated (TS-0004 §7.3.2.5), rt 2 notified (§7.5.1.2.5) ---- */

static int result_run(struct store_view *txn, void *arg)
{
    struct nb_job *j = arg;
    struct cse *cse = j->cse;
    const struct store_ops *ops = txn->st->ops;
    int64_t now = cse_now(cse);
    struct store_row row;
    if (ops->get_ri(txn, j->row.ri, now, &row) == STORE_OK) { /* gone: deleted by its originator */
        json_t *doc = json_loads(row.doc, 0, NULL);
        if (doc != NULL) {
            char ts[TS_LEN + 1];
            ts_format(now, ts);
            json_set_str(doc, "lt", ts);
            json_set_int(doc, "rs", RS_COMPLETED);
            json_object_set(doc, "ors", j->ors);
            mem_free(row.doc);
            row.doc = json_encode(doc, NULL);
            json_decref(doc);
            j->store_rc = ops->update(txn, &row) == STORE_OK ? 0 : 1;
        }
        store_row_free(&row);
    }
    if (j->rt != 2)
        return j->store_rc;
    /* To: each notificationURI, or the originator of the request (§7.5.1.2.5 b) */
    j->urls = json_array();
    json_t *targets = j->nu ? json_incref(j->nu) : json_pack("[s]", j->req.fr ? j->req.fr : "");
    size_t i;
    json_t *e;
    json_array_foreach(targets, i, e)
    {
        const char *s = json_string_value(e);
        char url[1024];
        if (s == NULL || s[0] == '\0')
            continue;
        if (strstr(s, "://"))
            json_array_append_new(j->urls, json_string(s));
        else if (ae_poa(cse, txn, now, s, url, sizeof url) == 0)
            json_array_append_new(j->urls, json_string(url));
        else
            LOG(cse->log, LOG_INFO, "non-blocking result for '%s': no reachable pointOfAccess", s);
    }
    json_decref(targets);
    return j->store_rc;
}

static void result_done(void *arg, bool committed)
{
    struct nb_job *j = arg;
    struct cse *cse = j->cse;
    if (!committed || j->store_rc != 0)
        LOG(cse->log, LOG_WARN, "the result of non-blocking request %s was not stored", j->row.ri);
    if (j->rt == 2 && cse->outbound != NULL && json_array_size(j->urls) > 0) {
        json_t *msg = json_pack("{s:O}", "m2m:rsp", j->ors);
        size_t len;
        char *body = json_encode(msg, &len);
        json_decref(msg);
        size_t i;
        json_t *u;
        json_array_foreach(j->urls, i, u)
        {
            if (notify_send(cse->outbound, json_string_value(u), body, len, cse->cfg->cse_id, NULL, NULL) != 0)
                LOG(cse->log, LOG_WARN, "non-blocking result to %s dropped (queue full, stopping, or refused)",
                    json_string_value(u));
        }
        mem_free(body);
    }
    job_free(j);
}

/* Worker thread: the copy answered; its response becomes the operationResult. */
static void complete(struct nb_job *j)
{
    struct cse *cse = j->cse;
    if (j->parked)
        cse_complete(cse, &j->req, &j->rsp);
    size_t len;
    char *body = response_take_body(&j->rsp, &len);
    /* m2m:responsePrimitive (TS-0004 §6.4.2): To is the originator, From this CSE */
    j->ors = json_pack("{s:i,s:s,s:s,s:s}", "rsc", j->rsp.rsc, "rqi", j->req.rqi ? j->req.rqi : "", "to",
                       j->req.fr ? j->req.fr : "", "fr", cse->cfg->cse_id);
    json_t *pc = content_value(body, len);
    if (pc != NULL)
        json_object_set_new(j->ors, "pc", pc);
    if (j->req.rvi != NULL)
        json_set_str(j->ors, "rvi", j->req.rvi);
    mem_free(body);
    j->sj = (struct store_job){.run = result_run, .done = result_done, .arg = j};
    if (cse->store->ops->submit(cse->store, &j->sj) != STORE_OK) {
        LOG(cse->log, LOG_WARN, "the result of non-blocking request %s was dropped (write queue full)", j->row.ri);
        job_free(j);
    }
}

static void inner_done(void *arg)
{
    enqueue(arg); /* completed on the worker, the copy's "own thread" (cse_complete) */
}

static void *worker(void *arg)
{
    struct nbr *n = arg;
    pthread_mutex_lock(&n->lock);
    for (;;) {
        while (n->head == NULL && !(n->stopping && n->pending == 0))
            pthread_cond_wait(&n->cond, &n->lock);
        struct nb_job *j = n->head;
        if (j == NULL)
            break;
        n->head = j->next;
        if (n->head == NULL)
            n->tail = NULL;
        pthread_mutex_unlock(&n->lock);
        if (!j->started) {
            j->started = true;
            if (cse_dispatch(j->cse, &j->req, &j->rsp, inner_done, j) == CSE_DONE)
                complete(j);
            else
                j->parked = true; /* done() may have queued it already: it runs after this */
        } else {
            complete(j);
        }
        pthread_mutex_lock(&n->lock);
    }
    pthread_mutex_unlock(&n->lock);
    return NULL;
}

int nbr_start(struct cse *cse)
{
    struct nbr *n = cse->nbr;
    if (pthread_create(&n->thread, NULL, worker, n) != 0)
        return -1;
    n->started = true;
    return 0;
}

void nbr_stop(struct cse *cse)
{
    struct nbr *n = cse->nbr;
    if (n == NULL || !n->started)
        return;
    pthread_mutex_lock(&n->lock);
    n->stopping = true; /* accepted requests still complete: the worker ends when none is left */
    pthread_cond_broadcast(&n->cond);
    pthread_mutex_unlock(&n->lock);
    pthread_join(n->thread, NULL);
    n->started = false;
}

void nbr_free(struct nbr *n)
{
    if (n == NULL)
        return;
    while (n->counts) {
        struct nb_count *c = n->counts;
        n->counts = c->next;
        mem_free(c);
    }
    pthread_mutex_destroy(&n->lock);
    pthread_cond_destroy(&n->cond);
    mem_free(n);
}

/* ---- the acknowledgement (TS-0004 §7.3.2.2-7.3.2.4) ---- */

static int create_run(struct store_view *txn, void *arg)
{
    struct nb_job *j = arg;
    j->store_rc = txn->st->ops->insert(txn, &j->row) == STORE_OK ? 0 : 1;
    return j->store_rc;
}

static void create_done(void *arg, bool committed)
{
    struct nb_job *j = arg;
    struct cse_response *rsp = j->orsp;
    if (committed && j->store_rc == 0) {
        rsp->rsc = j->rt == 1 ? RSC_ACCEPTED_NB_SYNCH : RSC_ACCEPTED_NB_ASYNCH;
        /* Content: the reference to the <request> (§7.3.2.3), its CSE-relative resourceID */
        struct buf b;
        buf_init(&b);
        buf_puts(&b, "{\"m2m:uri\":");
        buf_json_str(&b, j->row.ri);
        buf_putc(&b, '}');
        rsp->body = buf_take(&b, &rsp->body_len);
        rsp->location = mem_strdup(j->row.path);
    } else {
        response_error(rsp, RSC_INTERNAL_SERVER_ERROR, "store", "the <request> resource could not be stored");
    }
    bool ok = committed && j->store_rc == 0;
    struct cse_cont k = j->ok;
    j->orsp = NULL;
    if (ok)
        enqueue(j); /* before the resume: the request and rsp may be gone once it returns */
    else
        job_free(j);
    cont_resume(&k, CONT_ANSWERED);
}

/* Split rtu ('&'-separated) into j->nu. 0, or 4000 with rsp filled. */
static int parse_nu(struct nb_job *j, const char *rtu, struct cse_response *rsp)
{
    j->nu = json_array();
    for (const char *p = rtu; *p;) {
        size_t len = strcspn(p, "&");
        if (len > LIMIT_ID_LEN)
            return response_error(rsp, RSC_BAD_REQUEST, "bad-rtu", "a notificationURI of rt is too long");
        if (len > 0) {
            if (json_array_size(j->nu) == LIMIT_NONBLOCKING_NU)
                return response_error(rsp, RSC_BAD_REQUEST, "bad-rtu", "more than %d notificationURIs in rt",
                                      LIMIT_NONBLOCKING_NU);
            json_array_append_new(j->nu, json_stringn(p, len));
        }
        p += len + (p[len] == '&');
    }
    return 0;
}

/* Count one more request of key; false when a bound is reached. */
static bool admit(struct cse *cse, const char *key, size_t bytes)
{
    struct nbr *n = cse->nbr;
    bool ok = false;
    pthread_mutex_lock(&n->lock);
    struct nb_count *c = n->counts;
    while (c && strcmp(c->id, key) != 0)
        c = c->next;
    if (n->started && !n->stopping && n->pending < cse->cfg->limits_nonblocking_pending &&
        n->bytes + bytes <= (size_t)cse->cfg->limits_nonblocking_bytes &&
        (c == NULL || c->n < cse->cfg->limits_nonblocking_per_originator)) {
        if (c == NULL) {
            size_t len = strlen(key);
            c = mem_calloc(1, sizeof *c + len + 1);
            memcpy(c->id, key, len + 1);
            c->next = n->counts;
            n->counts = c;
        }
        c->n++;
        n->pending++;
        n->bytes += bytes;
        ok = true;
    }
    pthread_mutex_unlock(&n->lock);
    return ok;
}

enum cse_status nbr_accept(const struct cse_cont *k, const struct originator *o)
{
    struct cse *cse = k->cse;
    const struct cse_request *req = k->req;
    struct cse_response *rsp = k->rsp;
    const char *key = o->subj.canon ? o->subj.canon : "";
    /* what the <request> records must be text: a target or request ID that is not UTF-8 is refused
     * here as a blocking request would refuse it when resolving the target */
    const char *texts[] = {req->to, req->rqi, req->fr, req->rtu};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        json_t *t = texts[i] ? json_string(texts[i]) : NULL;
        if (texts[i] != NULL && t == NULL) {
            response_error(rsp, RSC_BAD_REQUEST, "bad-primitive", "a parameter of the request is not UTF-8 text");
            return CSE_DONE;
        }
        json_decref(t);
    }
    if (req->rt == 1 && key[0] == '\0') { /* a registration with From C, S or empty: nobody could read it */
        response_error(rsp, RSC_BAD_REQUEST, "nonblocking-no-originator",
                       "rt=1 needs an originator that can retrieve the <request> (register blocking or with rt=2)");
        return CSE_DONE;
    }
    if (!admit(cse, key, req->body_len)) {
        response_error(rsp, RSC_NON_BLOCKING_SYNCH_REQUEST_NOT_SUPPORTED, "nonblocking-limit",
                       "too many non-blocking requests in progress (limits.nonblocking_*): send it blocking");
        return CSE_DONE;
    }
    struct nb_job *j = mem_calloc(1, sizeof *j);
    j->cse = cse;
    j->rt = req->rt;
    j->key = mem_strdup(key);
    j->bytes = req->body_len;
    response_init(&j->rsp);
    if (req->rt == 2 && req->rtu != NULL && parse_nu(j, req->rtu, rsp) != 0) {
        job_free(j);
        return CSE_DONE;
    }
    copy_request(j, req);

    /* TS-0004 Table 7.3.2.2-1/-2 */
    int64_t now = cse_now(cse);
    char t[9], r[13], ri[32], ts[TS_LEN + 1], ets[TS_LEN + 1];
    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    uint64_t ms = (uint64_t)(clock_now_us(&cse->clock) / 1000);
    for (int i = 7; i >= 0; i--, ms /= 62)
        t[i] = digits[ms % 62];
    t[8] = '\0';
    rand_alnum(r, 12);
    snprintf(ri, sizeof ri, "req%s%s", t, r);
    int64_t et = now + cse->cfg->limits_nonblocking_lifetime;
    ts_format(now, ts);
    ts_format(et, ets);
    const char *fr = req->fr ? req->fr : "";
    json_t *mi = json_pack("{s:i}", "rtv", req->rt);
    if (j->nu)
        json_object_set(mi, "nu", j->nu);
    json_t *doc = json_pack(
        "{s:i,s:s,s:s,s:s,s:s,s:s,s:s,s:[s],s:s,s:i,s:s,s:s,s:s,s:{s:o},s:i,s:{s:i,s:s}}", "ty", TY_REQ, "ri", ri, "rn",
        ri, "pi", cse->cb_ri, "ct", ts, "lt", ts, "et", ets, "lbl", fr, "cr", fr, "op", (int)req->op, "tg",
        req->to ? req->to : "", "org", fr, "rid", req->rqi ? req->rqi : "", "mi", "rt", mi, "rs", RS_PENDING, "ors",
        "rsc", req->rt == 1 ? RSC_ACCEPTED_NB_SYNCH : RSC_ACCEPTED_NB_ASYNCH, "rqi", req->rqi ? req->rqi : "");
    json_t *pc = content_value(req->body, req->body_len);
    if (pc != NULL)
        json_object_set_new(doc, "pc", pc);
    struct store_row *row = &j->row;
    row->ri = mem_strdup(ri);
    row->pi = mem_strdup(cse->cb_ri);
    row->rn = mem_strdup(ri);
    size_t plen = strlen(cse->cfg->cse_rn) + strlen(ri) + 2;
    row->path = mem_alloc(plen);
    snprintf(row->path, plen, "%s/%s", cse->cfg->cse_rn, ri);
    row->ty = TY_REQ;
    row->et = et;
    row->cr = mem_strdup(key); /* the default policy: the originator, and the admin */
    row->ae = mem_strdup("");
    row->acpi = mem_strdup("");
    row->doc = doc ? json_encode(doc, NULL) : NULL;
    json_decref(doc);
    if (row->doc == NULL) { /* cannot happen with the checks above; never a NULL document */
        job_free(j);
        response_error(rsp, RSC_INTERNAL_SERVER_ERROR, "encode", "the <request> could not be encoded");
        return CSE_DONE;
    }

    j->orsp = rsp;
    j->ok = *k;
    j->ok.why = PARK_NBR;
    j->sj = (struct store_job){.run = create_run, .done = create_done, .arg = j};
    if (cse->store->ops->submit(cse->store, &j->sj) != STORE_OK) {
        job_free(j);
        response_error(rsp, RSC_INTERNAL_SERVER_ERROR, "store", "the write queue is full");
        return CSE_DONE;
    }
    return CSE_PENDING;
}
