/* dynauth: dynamic authorization (TS-0003 §7.3; TS-0001 §11.5; TS-0004 §6.3.5.43-48). When the
 * policies, roles and tokens of a request deny it and the target (or an ancestor) links a
 * <dynamicAuthorizationConsultation> through daci:
 *  - indirect (the request set tqi): the denial carries Token Request Information (m2m:tqf: where
 *    to ask and what to ask), so the originator can fetch a token from the DAS and retry;
 *  - direct: the CSE sends the DAS a NOTIFY carrying m2m:seci (sit 1, dreq), and from its answer
 *    (sit 2, dres) keeps the granted privileges (dai: gp for pl) for this originator and target,
 *    verifies the tokens it returned, and decides again.
 * A DAS is never allowed to stall the CSE: one consultation takes at most authz.das_timeout ms, at
 * most authz.das_parallel run at once (beyond that a request is denied at once), and a DAS that
 * failed is not asked again for authz.das_backoff ms. Granted privileges are cached (bounded by
 * authz.grant_cache) until their lifetime ends, so a granted originator's further requests need no
 * consultation. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core_int.h"
#include "metrics.h"
#include "encoding/json.h"
#include "core/outbound.h"
#include "notify/notify.h"
#include "rsc.h"
#include "util/hash.h"
#include "util/mem.h"
#include "util/timeutil.h"

#define DAS_HEALTH     16          /* DAS addresses whose recent failures are remembered */
#define MAX_DACI       8           /* DACs followed for one decision */
#define DAS_MAX_ANSWER (64 * 1024) /* bytes of a DAS answer kept (as outbound_exchange keeps) */

struct grant {
    atomic_int refs;
    char *key;             /* originator '\n' target resourceID */
    struct acp_policy *gp; /* privileges the DAS granted (dai), or NULL: */
    char lti[40];          /* the Local-Token-ID of a token the DAS issued for it */
    int64_t until;         /* seconds */
    char das[256];
};

struct dynauth {
    pthread_mutex_t lock;
    struct grant **slots;
    size_t n;
    struct {
        char uri[256];
        int64_t down_until_ms;
    } health[DAS_HEALTH];
    atomic_int inflight;
    /* consultations in progress (under lock): cse_stop waits for them */
    int threads;
    bool stopping;
    pthread_cond_t idle;
};

static void grant_put(struct grant *g)
{
    if (g && atomic_fetch_sub(&g->refs, 1) == 1) {
        acp_policy_free(g->gp);
        mem_free(g->key);
        mem_free(g);
    }
}

struct dynauth *dynauth_new(size_t n)
{
    struct dynauth *da = mem_calloc(1, sizeof *da);
    pthread_mutex_init(&da->lock, NULL);
    pthread_cond_init(&da->idle, NULL);
    da->n = n ? n : 1;
    da->slots = mem_calloc(da->n, sizeof *da->slots);
    atomic_init(&da->inflight, 0);
    return da;
}

void dynauth_free(struct dynauth *da)
{
    if (da == NULL)
        return;
    for (size_t i = 0; i < da->n; i++)
        grant_put(da->slots[i]);
    mem_free(da->slots);
    pthread_cond_destroy(&da->idle);
    pthread_mutex_destroy(&da->lock);
    mem_free(da);
}

static struct grant *grant_get(struct dynauth *da, const char *key, int64_t now)
{
    pthread_mutex_lock(&da->lock);
    struct grant *g = da->slots[hash_str(key) % da->n];
    if (g && strcmp(g->key, key) == 0 && now < g->until)
        atomic_fetch_add(&g->refs, 1);
    else
        g = NULL;
    pthread_mutex_unlock(&da->lock);
    return g;
}

static void grant_keep(struct dynauth *da, struct grant *g)
{
    atomic_fetch_add(&g->refs, 1);
    pthread_mutex_lock(&da->lock);
    struct grant **slot = &da->slots[hash_str(g->key) % da->n];
    struct grant *old = *slot;
    *slot = g;
    pthread_mutex_unlock(&da->lock);
    grant_put(old);
}

static bool das_down(struct dynauth *da, const char *uri, int64_t now_ms)
{
    bool down = false;
    pthread_mutex_lock(&da->lock);
    for (int i = 0; i < DAS_HEALTH; i++)
        if (strcmp(da->health[i].uri, uri) == 0)
            down = now_ms < da->health[i].down_until_ms;
    pthread_mutex_unlock(&da->lock);
    return down;
}

static void das_mark(struct dynauth *da, const char *uri, int64_t down_until_ms)
{
    pthread_mutex_lock(&da->lock);
    int slot = -1, oldest = 0;
    for (int i = 0; i < DAS_HEALTH; i++) {
        if (strcmp(da->health[i].uri, uri) == 0) {
            slot = i;
            break;
        }
        if (da->health[i].down_until_ms < da->health[oldest].down_until_ms)
            oldest = i;
    }
    if (slot < 0 && down_until_ms == 0) {
        pthread_mutex_unlock(&da->lock);
        return;
    }
    if (slot < 0)
        slot = oldest;
    snprintf(da->health[slot].uri, sizeof da->health[slot].uri, "%s", uri);
    da->health[slot].down_until_ms = down_until_ms;
    pthread_mutex_unlock(&da->lock);
}

/* ---- which DACs apply -------------------------------------------------------------------------- */

struct dacs {
    char *uri[MAX_DACI * 4]; /* the dap entries of enabled DACs, in order */
    int nuri;
    char dac_ri[LIMIT_NAME_LEN + 1]; /* the first enabled DAC, for the explanation */
    int64_t dal;                     /* its proposed lifetime, seconds (0: none) */
};

/* The first of the DAS addresses that has not failed within authz.das_backoff (the one a
 * consultation asks first), or NULL when every one has. */
static const char *dacs_first_up(struct cse *cse, const struct dacs *d)
{
    int64_t now_ms = clock_now_us(&cse->clock) / 1000;
    for (int i = 0; i < d->nuri; i++)
        if (!das_down(cse->dynauth, d->uri[i], now_ms))
            return d->uri[i];
    return NULL;
}

static void dacs_free(struct dacs *d)
{
    for (int i = 0; i < d->nuri; i++)
        mem_free(d->uri[i]);
}

/* daci of row, or of the nearest ancestor that has one (TS-0001 §9.6.1.3: the parent's applies). */
static void find_dacs(struct op_ctx *c, const struct store_row *row, struct dacs *out)
{
    memset(out, 0, sizeof *out);
    struct store_row cur, next;
    store_row_copy(&cur, row);
    for (int depth = 0; depth <= LIMIT_PATH_DEPTH; depth++) {
        json_t *doc = json_loads(cur.doc, 0, NULL);
        const json_t *daci = json_object_get(doc, "daci");
        if (json_is_array(daci) && json_array_size(daci) > 0) {
            size_t i;
            const json_t *e;
            json_array_foreach(daci, i, e)
            {
                struct store_row dac;
                const char *id = json_string_value(e);
                if (i >= MAX_DACI || id == NULL || resolve_row(c, id, true, &dac) != 0)
                    continue;
                json_t *dd = dac.ty == TY_DAC ? json_loads(dac.doc, 0, NULL) : NULL;
                if (json_is_true(json_object_get(dd, "dae"))) {
                    if (out->dac_ri[0] == '\0') {
                        snprintf(out->dac_ri, sizeof out->dac_ri, "%s", dac.ri);
                        /* dal is an m2m:timestamp (TS-0004 Table 7.4.36.1-3): the lifetime it
                         * proposes lasts until then */
                        int64_t until;
                        const char *dal = json_string_value(json_object_get(dd, "dal"));
                        out->dal = dal && ts_parse(dal, &until) && until > c->now ? until - c->now : 0;
                    }
                    size_t k;
                    const json_t *u;
                    json_array_foreach(json_object_get(dd, "dap"), k, u)
                    {
                        if (json_is_string(u) && out->nuri < (int)(sizeof out->uri / sizeof out->uri[0]))
                            out->uri[out->nuri++] = mem_strdup(json_string_value(u));
                    }
                }
                json_decref(dd);
                store_row_free(&dac);
            }
            json_decref(doc);
            break; /* the nearest daci decides, enabled or not */
        }
        json_decref(doc);
        if (cur.pi[0] == '\0' || c->view->st->ops->get_ri(c->view, cur.pi, c->now, &next) != STORE_OK)
            break;
        store_row_free(&cur);
        cur = next;
    }
    store_row_free(&cur);
}

/* ---- the consultation -------------------------------------------------------------------------- */

static int op_number(enum acop op)
{
    switch (op) {
    case ACOP_CREATE: return OP_CREATE;
    case ACOP_UPDATE: return OP_UPDATE;
    case ACOP_DELETE: return OP_DELETE;
    case ACOP_NOTIFY: return OP_NOTIFY;
    default: return OP_RETRIEVE; /* RETRIEVE and DISCOVERY */
    }
}

/* m2m:dynAuthDasRequest for this request. */
static json_t *das_request(struct op_ctx *c, enum acop op, const struct store_row *target, const struct dacs *d)
{
    json_t *dreq = json_pack("{s:s,s:i,s:s,s:i}", "or", c->orig->subj.canon ? c->orig->subj.canon : "", "op",
                             op_number(op), "trid", target->ri, "trt", target->ty);
    const char *peer = c->req->sec.peer;
    if (peer[0])
        json_object_set_new(dreq, "oip", json_pack("{s:s}", strchr(peer, ':') ? "ip6" : "ip4", peer));
    if (c->req->az.nrids) {
        json_t *r = json_array();
        for (int i = 0; i < c->req->az.nrids; i++)
            json_array_append_new(r, json_string(c->req->az.rids[i]));
        json_object_set_new(dreq, "orid", r);
    }
    if (c->req->az.ntids) {
        json_t *t = json_array();
        for (int i = 0; i < c->req->az.ntids; i++)
            json_array_append_new(t, json_string(c->req->az.tids[i]));
        json_object_set_new(dreq, "tids", t);
    }
    if (d->dal > 0)
        json_object_set_new(dreq, "ppl", json_integer((json_int_t)d->dal * 1000));
    char rts[TS_LEN + 1];
    ts_format(c->now, rts);
    json_object_set_new(dreq, "rts", json_string(rts));
    return dreq;
}

/* privilegesLifetime (m2m:absRelTimestamp): a timestamp, or milliseconds from now. */
static int64_t lifetime_until(const json_t *pl, int64_t now)
{
    int64_t t;
    if (json_is_integer(pl) && json_integer_value(pl) > 0)
        return now + (int64_t)json_integer_value(pl) / 1000;
    if (json_is_string(pl) && ts_parse(json_string_value(pl), &t))
        return t;
    return 0;
}

/* What the DAS answered, for the request's second decision (TS-0003 §7.3.2.3 step 6). */
#define OUTCOME_TOKENS 8
struct das_outcome {
    char *tokens[OUTCOME_TOKENS]; /* compact JWTs the DAS returned, verified in the second decision */
    int ntokens;
    bool granted;     /* dai privileges are in the grant cache */
    char das[256];    /* the DAS whose answer this is */
    const char *fail; /* static reason when nothing usable came back */
    char why[256];    /* what happened, for the denial's detail and the audit line */
};

void das_outcome_free(struct das_outcome *o)
{
    if (o == NULL)
        return;
    for (int i = 0; i < o->ntokens; i++)
        mem_free(o->tokens[i]);
    mem_free(o);
}

/* A request parked on its consultation (park.h): the DASs of its dacs are asked one after the other
 * through the outbound seam, asynchronously (no thread waits for an answer); the first usable answer,
 * or the last failure, resumes the request with CONT_AGAIN for its second decision. */
struct das_job {
    struct cse_cont k; /* the request, parked on this consultation */
    char *uri[MAX_DACI * 4];
    int nuri;
    int next; /* the next DAS to ask */
    json_t *dreq;
    char key[LIMIT_ID_LEN + LIMIT_NAME_LEN + 2];
    int64_t now;
    int64_t t0;            /* when the DAS being asked was sent the request (clock, us) */
    struct das_outcome *o; /* what the DASs said so far (given to the request) */
};

static void job_free(struct das_job *j)
{
    for (int i = 0; i < j->nuri; i++)
        mem_free(j->uri[i]);
    json_decref(j->dreq);
    das_outcome_free(j->o);
    mem_free(j);
}

/* The DAS at uri answered (2xx: resp of rlen bytes) or did not (resp NULL): into o. */
static void consult_end(struct cse *cse, const char *uri, const char *key, int64_t now, int64_t t0, const char *resp,
                        size_t rlen, struct das_outcome *o)
{
    struct dynauth *da = cse->dynauth;
    const struct cse_config *cfg = cse->cfg;
    int64_t ms = (clock_now_us(&cse->clock) - t0) / 1000;
    if (resp == NULL) {
        das_mark(da, uri, clock_now_us(&cse->clock) / 1000 + cfg->authz_das_backoff);
        snprintf(o->why, sizeof o->why, "DAS %s did not answer usefully (%lld ms); not asked again for %ld ms", uri,
                 (long long)ms, cfg->authz_das_backoff);
        o->fail = "das-unavailable";
        return;
    }
    das_mark(da, uri, 0);
    char err[128];
    json_t *root = json_decode_body(resp, rlen, err, sizeof err);
    const json_t *seci = json_object_get(root, "m2m:seci");
    const json_t *dres = json_object_get(seci, "dres");
    if (!json_is_object(dres) || json_integer_value(json_object_get(seci, "sit")) != 2) {
        snprintf(o->why, sizeof o->why, "DAS %s: the answer is not an m2m:seci with sit 2 and dres", uri);
        o->fail = "das-bad-answer";
        json_decref(root);
        return;
    }
    const json_t *dai = json_object_get(dres, "dai");
    const json_t *gp = json_object_get(dai, "gp");
    if (json_is_object(gp)) {
        int64_t until = lifetime_until(json_object_get(dai, "pl"), now);
        int64_t cap = now + cfg->authz_grant_max;
        if (until <= 0 || until > cap)
            until = cap;
        char perr[200];
        struct acp_policy *p = acp_compile(gp, &cse->idenv, perr, sizeof perr);
        if (p != NULL && until > now) {
            struct grant *g = mem_calloc(1, sizeof *g);
            atomic_init(&g->refs, 1);
            g->key = mem_strdup(key);
            g->gp = p;
            g->until = until;
            snprintf(g->das, sizeof g->das, "%s", uri);
            grant_keep(da, g);
            grant_put(g);
            o->granted = true;
        } else {
            acp_policy_free(p);
        }
    }
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(dres, "tkns"), i, t)
    {
        if (json_is_string(t) && o->ntokens < OUTCOME_TOKENS)
            o->tokens[o->ntokens++] = mem_strdup(json_string_value(t));
    }
    snprintf(o->why, sizeof o->why, "DAS %s answered in %lld ms: %s, %d token(s)", uri, (long long)ms,
             o->granted ? "privileges granted" : "no privileges", o->ntokens);
    o->fail = o->granted || o->ntokens ? NULL : "das-denied";
    json_decref(root);
}

static void consult_next(struct das_job *j);

/* The consultation is over: the request is decided again with what the DASs said. */
static void consult_finish(struct das_job *j)
{
    struct cse *cse = j->k.cse;
    struct dynauth *da = cse->dynauth;
    atomic_fetch_sub(&da->inflight, 1);
    j->k.rsp->das = j->o; /* the request owns it now (response_free) */
    j->o = NULL;
    cont_resume(&j->k, CONT_AGAIN); /* the second decision, on a resume thread */
    job_free(j);
    pthread_mutex_lock(&da->lock);
    if (--da->threads == 0)
        pthread_cond_broadcast(&da->idle);
    pthread_mutex_unlock(&da->lock);
}

/* The outbound seam's answer to one consultation (on its delivery thread): a usable answer ends the
 * consultation, anything else asks the next DAS. */
static void consult_answer(void *arg, const struct out_response *res)
{
    struct das_job *j = arg;
    struct cse *cse = j->k.cse;
    const char *uri = j->uri[j->next - 1];
    bool ok = res->http_status >= 200 && res->http_status <= 299 && !res->truncated;
    consult_end(cse, uri, j->key, j->now, j->t0, ok ? (res->body ? res->body : "") : NULL, ok ? res->len : 0, j->o);
    metrics_das(cse->metrics, j->o->fail ? j->o->fail : "answered");
    if (j->o->fail == NULL)
        consult_finish(j);
    else
        consult_next(j);
}

/* Ask the next DAS that is not backing off (TS-0003 §7.3.2.3: a NOTIFY of m2m:seci sit 1 with the
 * dynamicAuthorizationRequest); when none is left, finish. */
static void consult_next(struct das_job *j)
{
    struct cse *cse = j->k.cse;
    struct dynauth *da = cse->dynauth;
    const struct cse_config *cfg = cse->cfg;
    while (j->next < j->nuri) {
        const char *uri = j->uri[j->next++];
        if (das_down(da, uri, clock_now_us(&cse->clock) / 1000)) {
            metrics_das(cse->metrics, "skipped-backing-off");
            continue;
        }
        struct das_outcome *o = j->o;
        for (int k = 0; k < o->ntokens; k++)
            mem_free(o->tokens[k]);
        o->ntokens = 0;
        snprintf(o->das, sizeof o->das, "%s", uri);
        const char *refusal = outbound_exchange_refusal(cse->outbound, uri);
        if (refusal != NULL) { /* finding 25: the secure profile trusts a DAS only over verified TLS */
            snprintf(o->why, sizeof o->why, "DAS %s not consulted: %s", uri, refusal);
            o->fail = "das-insecure";
            metrics_das(cse->metrics, o->fail);
            continue;
        }
        json_t *msg = json_pack("{s:{s:i,s:O}}", "m2m:seci", "sit", 1, "dreq", j->dreq);
        char *body = json_dumps(msg, JSON_COMPACT);
        json_decref(msg);
        struct out_request rq = {.op = OP_NOTIFY,
                                 .fr = cfg->cse_id,
                                 .body = body,
                                 .len = strlen(body),
                                 .timeout_ms = (int)cfg->authz_das_timeout,
                                 .max_attempts = 1,
                                 .max_answer = DAS_MAX_ANSWER};
        j->t0 = clock_now_us(&cse->clock);
        bool web = strncasecmp(uri, "http://", 7) == 0 || strncasecmp(uri, "https://", 8) == 0;
        int rc = web && cse->outbound != NULL ? outbound_send(cse->outbound, uri, &rq, consult_answer, j) : -1;
        mem_free(body);
        if (rc == 0)
            return; /* consult_answer goes on */
        consult_end(cse, uri, j->key, j->now, j->t0, NULL, 0, o);
        metrics_das(cse->metrics, o->fail);
    }
    consult_finish(j);
}

enum cse_status dynauth_park(struct op_ctx *c)
{
    struct das_job *j = c->das_job;
    c->das_job = NULL;
    struct dynauth *da = c->cse->dynauth;
    op_park(c, PARK_DAS, &j->k); /* dynauth_decide prepared the job only for a request that can park */
    pthread_mutex_lock(&da->lock);
    bool stopping = da->stopping;
    if (!stopping)
        da->threads++;
    pthread_mutex_unlock(&da->lock);
    struct fetched *fetched = c->rsp->fetched; /* kept: what was retrieved on other CSEs (remote_fetch.c) */
    c->rsp->fetched = NULL;
    response_free(c->rsp); /* the second decision writes the response afresh */
    response_init(c->rsp);
    c->rsp->fetched = fetched;
    if (stopping) {
        atomic_fetch_sub(&da->inflight, 1);
        response_error(c->rsp, RSC_ORIGINATOR_HAS_NO_PRIVILEGE, "das-unavailable",
                       "originator has no privilege (no consultation could start)");
        job_free(j);
        return CSE_DONE;
    }
    j->o = mem_calloc(1, sizeof *j->o);
    j->o->fail = "das-unavailable";
    consult_next(j); /* may resume the request before it returns: it is parked already */
    return CSE_PENDING;
}

void dynauth_stop(struct dynauth *da)
{
    if (da == NULL)
        return;
    pthread_mutex_lock(&da->lock);
    da->stopping = true;
    while (da->threads > 0)
        pthread_cond_wait(&da->idle, &da->lock);
    pthread_mutex_unlock(&da->lock);
}

/* The Token Request Information of an indirect flow (m2m:dynAuthTokenReqInfo). */
static char *token_request_info(const struct dacs *d, json_t *dreq)
{
    json_t *dasi = json_array();
    for (int i = 0; i < d->nuri; i++)
        json_array_append_new(dasi, json_pack("{s:s,s:O}", "uri", d->uri[i], "dreq", dreq));
    json_t *root = json_pack("{s:{s:o}}", "m2m:tqf", "dasi", dasi);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

static __attribute__((format(printf, 2, 3))) void explain(struct op_ctx *c, const char *fmt, ...)
{
    if (c->explain == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    buf_printf(c->explain, "  %s\n", line);
}

void dynauth_decide(struct op_ctx *c, enum acop op, const struct store_row *target, const struct store_row *src,
                    const struct acp_request *rq, struct decision *d)
{
    if (d->permit || c->cse->dynauth == NULL || c->orig->subj.canon == NULL)
        return;
    char key[LIMIT_ID_LEN + LIMIT_NAME_LEN + 2];
    snprintf(key, sizeof key, "%s\n%s", c->orig->subj.canon, src->ri);
    struct acp_why why;
    struct grant *g = grant_get(c->cse->dynauth, key, c->now);
    if (g != NULL) {
        bool ok;
        char detail[sizeof d->detail];
        if (g->gp != NULL) {
            ok = acp_permits(g->gp, rq, &why);
            snprintf(detail, sizeof detail, "privileges granted by the DAS %s, rule %d, until %lld", g->das, why.rule,
                     (long long)g->until);
        } else {
            char tdetail[sizeof d->detail];
            ok = creds_add_local(c, g->lti, "issued by the DAS") &&
                 creds_token_permits(c->creds, target, src, rq, tdetail, sizeof tdetail);
            snprintf(detail, sizeof detail, "%.300s (issued by the DAS %.60s)", tdetail, g->das);
            why.reason = "token-not-granting";
        }
        explain(c, "dynamic grant from %s (until %lld): %s", g->das, (long long)g->until, ok ? "granted" : why.reason);
        if (ok) {
            snprintf(d->detail, sizeof d->detail, "%s", detail);
            d->permit = true;
            d->reason = g->gp ? "dynamic-grant" : "token";
        }
        grant_put(g);
        if (ok)
            return;
    }
    /* Only the request's own target is worth a consultation or a token request: the resources a
     * discovery or a child listing filters use the cached grants above, never the DAS (one request
     * must not become a consultation per resource). */
    bool primary = c->tgt != NULL && c->tgt->have_row && op != ACOP_DISCOVERY &&
                   (strcmp(c->tgt->row.ri, target->ri) == 0 || strcmp(c->tgt->row.ri, src->ri) == 0);
    if (!primary)
        return;
    struct dacs dacs;
    find_dacs(c, src, &dacs);
    if (dacs.nuri == 0) {
        dacs_free(&dacs);
        return;
    }
    json_t *dreq = das_request(c, op, src, &dacs);
    if (c->explain) { /* explain never calls out: it says what a request would do */
        const char *first_up = dacs_first_up(c->cse, &dacs);
        if (c->req->az.tqi)
            explain(c, "dynamicAuthorizationConsultation %s: a request would be told to ask %s", dacs.dac_ri,
                    dacs.uri[0]);
        else if (first_up != NULL)
            explain(c, "dynamicAuthorizationConsultation %s: a request would consult %s", dacs.dac_ri, first_up);
        else
            explain(c,
                    "dynamicAuthorizationConsultation %s: a request would be denied at once (das-unavailable): "
                    "every DAS failed within authz.das_backoff",
                    dacs.dac_ri);
    } else if (c->req->az.tqi) {
        mem_free(c->tqf);
        c->tqf = token_request_info(&dacs, dreq);
        d->reason = "token-request-info";
    } else if (c->rsp->das != NULL) { /* the second decision: what the DAS answered */
        const struct das_outcome *o = c->rsp->das;
        int accepted = 0;
        char lti[40] = "";
        int64_t exp = 0;
        for (int i = 0; i < o->ntokens; i++) {
            char one[sizeof lti];
            int64_t one_exp;
            if (!creds_add_token(c, o->tokens[i], "from the DAS", o->das, one, sizeof one, &one_exp))
                continue;
            if (accepted++ == 0) { /* the first accepted token stands for the DAS's answer later */
                memcpy(lti, one, sizeof lti);
                exp = one_exp;
            }
        }
        char detail[sizeof d->detail];
        if (accepted && creds_token_permits(c->creds, target, src, rq, detail, sizeof detail)) {
            snprintf(d->detail, sizeof d->detail, "%.300s (issued by the DAS)", detail);
            d->permit = true;
            d->reason = "token";
            /* later requests of this originator for this resource use the token without asking */
            struct grant *g2 = mem_calloc(1, sizeof *g2);
            atomic_init(&g2->refs, 1);
            g2->key = mem_strdup(key);
            snprintf(g2->lti, sizeof g2->lti, "%s", lti);
            g2->until = exp;
            snprintf(g2->das, sizeof g2->das, "%s", o->das[0] ? o->das : dacs.uri[0]);
            grant_keep(c->cse->dynauth, g2);
            grant_put(g2);
        } else {
            size_t n = strlen(d->detail);
            snprintf(d->detail + n, sizeof d->detail - n, "; dynamic authorization: %s", o->why);
            d->reason = o->fail ? o->fail : "das-denied";
        }
    } else if (!cont_can_park(&c->k)) { /* a caller that cannot park (none today): no consultation */
        d->reason = "das-unavailable";
    } else {
        struct dynauth *da = c->cse->dynauth;
        size_t n = strlen(d->detail);
        if (dacs_first_up(c->cse, &dacs) == NULL) {
            snprintf(d->detail + n, sizeof d->detail - n, "; dynamic authorization: every DAS failed recently");
            d->reason = "das-unavailable";
        } else if (atomic_fetch_add(&da->inflight, 1) >= c->cse->cfg->authz_das_parallel) {
            atomic_fetch_sub(&da->inflight, 1);
            snprintf(d->detail + n, sizeof d->detail - n, "; dynamic authorization: %ld consultations in flight",
                     c->cse->cfg->authz_das_parallel);
            d->reason = "das-busy";
        } else if (c->das_job == NULL) { /* park the request on a consultation (dispatch does) */
            struct das_job *j = mem_calloc(1, sizeof *j);
            for (int i = 0; i < dacs.nuri; i++)
                j->uri[j->nuri++] = mem_strdup(dacs.uri[i]);
            j->dreq = json_incref(dreq);
            snprintf(j->key, sizeof j->key, "%s", key);
            j->now = c->now;
            c->das_job = j;
            d->reason = "das-pending";
        } else {
            atomic_fetch_sub(&da->inflight, 1);
        }
    }
    json_decref(dreq);
    dacs_free(&dacs);
}
