/* registration: an MN- or ASN-CSE with a registrar (registrar.*) registers to it and keeps the
 * registration (TS-0001 §10.2.2.6-7, TS-0004 §7.4.4): it CREATEs its <remoteCSE> (ty 16) at the
 * registrar's CSEBase, then holds a <remoteCSE> for the registrar itself; failed attempts are
 * retried with a capped backoff, and a registration the registrar lost (its <remoteCSE> of this CSE
 * answers 4004) is made again. Driven by the expiry thread's one-second tick; every exchange is an
 * asynchronous send through the outbound seam, so no thread waits for the registrar. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/outbound.h"
#include "core_int.h"
#include "encoding/json.h"
#include "rsc.h"
#include "util/log.h"
#include "util/mem.h"

enum reg_state { REG_IDLE, REG_CREATING, REG_REGISTERED, REG_CHECKING };

struct registration {
    struct cse *cse;
    pthread_mutex_t lock;
    enum reg_state state;
    int64_t due_ms;     /* next attempt (IDLE) or check (REGISTERED) */
    int64_t backoff_ms; /* the next retry delay after a failure */
    bool stopping;
    bool local_done; /* this CSE's <remoteCSE> for the registrar exists */
    int attempts;
};

static int64_t mono_ms(void)
{
    return clock_mono_us() / 1000;
}

/* The cseType number (TS-0004 §6.3.4.2.2): 1 IN, 2 MN, 3 ASN. */
static int cse_type_num(const char *t)
{
    return strcmp(t, "IN") == 0 ? 1 : strcmp(t, "MN") == 0 ? 2 : 3;
}

/* "https://a, https://b" -> ["https://a","https://b"] */
static json_t *poa_list(const char *s)
{
    json_t *a = json_array();
    while (s && *s) {
        s += strspn(s, ", ");
        size_t n = strcspn(s, ", ");
        if (n > 0)
            json_array_append_new(a, json_stringn(s, n));
        s += n;
    }
    return a;
}

/* ---- this CSE's <remoteCSE> for its registrar (TS-0001 §10.2.2.6: both sides hold one) ---- */

struct local_job {
    struct store_job job;
    struct cse *cse;
    struct store_row row;
};

static int local_run(struct store_view *txn, void *arg)
{
    struct local_job *lj = arg;
    struct store_row existing;
    int rc = txn->st->ops->get_path(txn, lj->row.path, cse_now(lj->cse), &existing);
    if (rc == STORE_OK) {
        store_row_free(&existing);
        return 1; /* kept from an earlier start */
    }
    return txn->st->ops->insert(txn, &lj->row) == STORE_OK ? 0 : 1;
}

static void local_done(void *arg, bool committed)
{
    struct local_job *lj = arg;
    (void)committed;
    store_row_free(&lj->row);
    mem_free(lj);
}

static void ensure_local(struct registration *reg)
{
    struct cse *cse = reg->cse;
    const struct cse_config *cfg = cse->cfg;
    struct local_job *lj = mem_calloc(1, sizeof *lj);
    lj->cse = cse;
    char ri[LIMIT_NAME_LEN + 8], ts[TS_LEN + 1], cb[LIMIT_ID_LEN];
    snprintf(ri, sizeof ri, "csr-%s", cfg->registrar_id + 1);
    snprintf(cb, sizeof cb, "%s/%s", cfg->registrar_id, cfg->registrar_rn);
    ts_format(cse_now(cse), ts);
    json_t *doc =
        json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:b,s:o,s:[s]}", "ty", TY_REMOTE_CSE, "ri", ri, "rn",
                  cfg->registrar_id + 1, "pi", cse->cb_ri, "ct", ts, "lt", ts, "et", "99991231T235959", "csi",
                  cfg->registrar_id, "cb", cb, "cst", 1, "rr", 1, "poa", poa_list(cfg->registrar_address), "srv", "3");
    struct id rid;
    struct store_row *row = &lj->row;
    row->ri = mem_strdup(ri);
    row->pi = mem_strdup(cse->cb_ri);
    row->rn = mem_strdup(cfg->registrar_id + 1);
    size_t pl = strlen(cfg->cse_rn) + strlen(row->rn) + 2;
    row->path = mem_alloc(pl);
    snprintf(row->path, pl, "%s/%s", cfg->cse_rn, row->rn);
    row->ty = TY_REMOTE_CSE;
    row->et = INT64_C(253402300799); /* 99991231T235959 */
    row->cr = mem_strdup(id_parse(&cse->idenv, cfg->registrar_id, &rid) ? rid.canon : "");
    row->ae = mem_strdup("");
    row->acpi = mem_strdup("");
    row->doc = json_encode(doc, NULL);
    json_decref(doc);
    lj->job = (struct store_job){.run = local_run, .done = local_done, .arg = lj};
    if (cse->store->ops->submit(cse->store, &lj->job) != STORE_OK) {
        local_done(lj, false);
        return;
    }
    reg->local_done = true;
}

/* ---- the exchanges with the registrar ---- */

static void failed(struct registration *reg, int rsc, const char *what)
{
    int64_t delay = reg->backoff_ms;
    reg->backoff_ms =
        reg->backoff_ms * 2 > LIMIT_REGISTRATION_BACKOFF_MS ? LIMIT_REGISTRATION_BACKOFF_MS : reg->backoff_ms * 2;
    reg->due_ms = mono_ms() + delay;
    LOG(reg->cse->log, LOG_WARN, "registration: %s at %s failed (rsc %d); again in %lld ms", what,
        reg->cse->cfg->registrar_id, rsc, (long long)delay);
}

static void registered(struct registration *reg)
{
    reg->state = REG_REGISTERED;
    reg->backoff_ms = LIMIT_REGISTRATION_RETRY_MS;
    reg->due_ms = mono_ms() + reg->cse->cfg->registrar_check * 1000;
    if (!reg->local_done && !reg->stopping)
        ensure_local(reg);
}

static void create_answer(void *arg, const struct out_response *res)
{
    struct registration *reg = arg;
    pthread_mutex_lock(&reg->lock);
    /* 2001: registered; 4117: this CSE-ID is registered there already (a restart of this CSE) */
    if (res->rsc == RSC_CREATED || res->rsc == RSC_ORIGINATOR_HAS_ALREADY_REGISTERED) {
        if (res->rsc == RSC_CREATED || reg->attempts == 1)
            LOG(reg->cse->log, LOG_INFO, "registration: registered at %s (%s)", reg->cse->cfg->registrar_id,
                res->rsc == RSC_CREATED ? "created" : "already registered");
        registered(reg);
    } else {
        reg->state = REG_IDLE;
        failed(reg, res->rsc, "registration");
    }
    pthread_mutex_unlock(&reg->lock);
}

static void check_answer(void *arg, const struct out_response *res)
{
    struct registration *reg = arg;
    pthread_mutex_lock(&reg->lock);
    if (res->rsc == RSC_OK) {
        registered(reg);
    } else if (res->rsc == RSC_NOT_FOUND && res->http_status != 0) {
        /* the registrar lost this CSE's <remoteCSE> (deleted, expired, a new store): again */
        LOG(reg->cse->log, LOG_WARN, "registration: %s no longer holds this CSE's <remoteCSE>; registering again",
            reg->cse->cfg->registrar_id);
        reg->state = REG_IDLE;
        reg->due_ms = mono_ms();
    } else { /* unreachable for now: still registered as far as we know; look again sooner */
        reg->state = REG_REGISTERED;
        failed(reg, res->rsc, "registration check");
    }
    pthread_mutex_unlock(&reg->lock);
}

/* Under reg->lock. */
static void send_create(struct registration *reg)
{
    struct cse *cse = reg->cse;
    const struct cse_config *cfg = cse->cfg;
    char url[LIMIT_ID_LEN + 300], cb[LIMIT_ID_LEN];
    snprintf(url, sizeof url, "%s/~%s/%s", cfg->registrar_address, cfg->registrar_id, cfg->registrar_rn);
    snprintf(cb, sizeof cb, "%s/%s", cfg->cse_id, cfg->cse_rn);
    json_t *body =
        json_pack("{s:{s:s,s:s,s:s,s:i,s:b,s:o,s:[s,s,s]}}", "m2m:csr", "rn", cfg->cse_id + 1, "csi", cfg->cse_id, "cb",
                  cb, "cst", cse_type_num(cfg->cse_type), "rr", 1, "poa", poa_list(cfg->cse_poa), "srv", "3", "4", "5");
    size_t len;
    char *text = json_encode(body, &len);
    json_decref(body);
    struct out_request rq = {.op = OP_CREATE,
                             .fr = cfg->cse_id,
                             .ty = TY_REMOTE_CSE,
                             .body = text,
                             .len = len,
                             .timeout_ms = (int)cfg->forward_timeout,
                             .max_attempts = 1,
                             .max_answer = 64 * 1024,
                             .cse_peer = true};
    reg->state = REG_CREATING;
    reg->attempts++;
    if (outbound_send(cse->outbound, url, &rq, create_answer, reg) != 0) {
        reg->state = REG_IDLE;
        failed(reg, RSC_TARGET_NOT_REACHABLE, "registration (refused by the outbound policy or queue)");
    }
    mem_free(text);
}

/* Under reg->lock. */
static void send_check(struct registration *reg)
{
    const struct cse_config *cfg = reg->cse->cfg;
    char url[LIMIT_ID_LEN + 300];
    snprintf(url, sizeof url, "%s/~%s/%s/%s", cfg->registrar_address, cfg->registrar_id, cfg->registrar_rn,
             cfg->cse_id + 1);
    struct out_request rq = {.op = OP_RETRIEVE,
                             .fr = cfg->cse_id,
                             .timeout_ms = (int)cfg->forward_timeout,
                             .max_attempts = 1,
                             .max_answer = 64 * 1024,
                             .cse_peer = true};
    reg->state = REG_CHECKING;
    if (outbound_send(reg->cse->outbound, url, &rq, check_answer, reg) != 0) {
        reg->state = REG_REGISTERED;
        failed(reg, RSC_TARGET_NOT_REACHABLE, "registration check (refused by the outbound policy or queue)");
    }
}

void registration_tick(struct cse *cse)
{
    struct registration *reg = cse->registration;
    if (reg == NULL)
        return;
    pthread_mutex_lock(&reg->lock);
    int64_t now = mono_ms();
    if (!reg->stopping && now >= reg->due_ms) {
        if (reg->state == REG_IDLE)
            send_create(reg);
        else if (reg->state == REG_REGISTERED)
            send_check(reg);
    }
    pthread_mutex_unlock(&reg->lock);
}

int registration_start(struct cse *cse)
{
    if (cse->cfg->registrar_address[0] == '\0')
        return 0;
    struct registration *reg = mem_calloc(1, sizeof *reg);
    reg->cse = cse;
    pthread_mutex_init(&reg->lock, NULL);
    reg->state = REG_IDLE;
    reg->due_ms = 0; /* at the first tick */
    reg->backoff_ms = LIMIT_REGISTRATION_RETRY_MS;
    cse->registration = reg;
    LOG(cse->log, LOG_INFO, "registration: registering to %s at %s", cse->cfg->registrar_id,
        cse->cfg->registrar_address);
    return 0;
}

void registration_quiesce(struct cse *cse)
{
    struct registration *reg = cse->registration;
    if (reg == NULL)
        return;
    pthread_mutex_lock(&reg->lock);
    reg->stopping = true;
    pthread_mutex_unlock(&reg->lock);
}

void registration_free(struct cse *cse)
{
    struct registration *reg = cse->registration;
    if (reg == NULL)
        return;
    pthread_mutex_destroy(&reg->lock);
    mem_free(reg);
    cse->registration = NULL;
}
