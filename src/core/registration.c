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
#include "e2e/esprim.h"
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
    char *dcse_sent;    /* the descendantCSEs the registrar holds for us (JSON text), NULL: unknown */
    char *dcse_sending; /* the list in flight (CREATE or UPDATE) */
    bool backing_off;   /* the last exchange failed: nothing before due_ms */
    /* this CSE's e2eSecInfo (TS-0003 §8.4.2 B.1b: kept current on its <remoteCSE> at the registrar),
     * as the registrar holds it and as in flight (JSON text), like dcse */
    char *esi_sent, *esi_sending;
    /* this CSE's <remoteCSE> at the registrar, as the registrar answered it (the ri of a 2001, the
     * Content-Location of a 2001 or a 4117), relative to its CSE-ID; NULL: not answered (then the
     * name this CSE asked for). Never a name assumed when the registrar said otherwise: an AE there
     * may hold the CSE-ID's name, and the <remoteCSE> then has another (resources/remote_cse.c). */
    char *csr_addr;
};

/* This CSE's esi as JSON text (mem_free): the shared rand object changes it (e2e/esprim.c). */
static char *esi_text(struct cse *cse)
{
    json_t *esi = esprim_esi(cse);
    char *t = json_dumps(esi, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(esi);
    return t;
}

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

/* ---- descendantCSEs (TS-0004 §7.4.4.2.1): every registree of this CSE and their descendants, so
 * the registrar can route to an ASN-CSE behind this MN ---- */

struct dcse_scan {
    const char *registrar;
    json_t *list;
};

static void add_unique(json_t *list, const char *s)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) if (strcmp(json_string_value(e), s) == 0) return;
    json_array_append_new(list, json_string(s));
}

static int dcse_row(void *arg, const struct store_row *row)
{
    struct dcse_scan *sc = arg;
    json_t *doc = json_loads(row->doc ? row->doc : "", 0, NULL);
    const char *csi = json_string_value(json_object_get(doc, "csi"));
    if (csi != NULL && strcmp(csi, sc->registrar) != 0) {
        add_unique(sc->list, csi);
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(doc, "dcse"), i, e) if (json_is_string(e))
            add_unique(sc->list, json_string_value(e));
    }
    json_decref(doc);
    return 0;
}

/* The current list as JSON text (mem_free). */
static char *descendants(struct cse *cse)
{
    struct dcse_scan sc = {.registrar = cse->cfg->registrar_id, .list = json_array()};
    struct store_view *v = cse->store->ops->view_acquire(cse->store);
    if (v != NULL) {
        v->st->ops->children(v, cse->cb_ri, TY_REMOTE_CSE, cse_now(cse), dcse_row, &sc);
        cse->store->ops->view_release(cse->store, v);
    }
    char *text = json_encode(sc.list, NULL);
    json_decref(sc.list);
    return text;
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
    int64_t now = cse_now(lj->cse);
    /* found again by its ri, which this CSE alone assigns: never by a name an AE may hold */
    int rc = txn->st->ops->get_ri(txn, lj->row.ri, now, &existing);
    if (rc == STORE_OK) {
        store_row_free(&existing);
        return 1; /* kept from an earlier start */
    }
    rc = txn->st->ops->get_path(txn, lj->row.path, now, &existing);
    if (rc == STORE_OK) { /* the CSE-ID's name is another resource's: named by its ri instead */
        store_row_free(&existing);
        size_t pl = strlen(lj->cse->cfg->cse_rn) + strlen(lj->row.ri) + 2;
        mem_free(lj->row.rn);
        lj->row.rn = mem_strdup(lj->row.ri);
        mem_free(lj->row.path);
        lj->row.path = mem_alloc(pl);
        snprintf(lj->row.path, pl, "%s/%s", lj->cse->cfg->cse_rn, lj->row.rn);
        json_t *doc = json_loads(lj->row.doc, 0, NULL);
        json_object_set_new(doc, "rn", json_string(lj->row.rn));
        mem_free(lj->row.doc);
        lj->row.doc = json_encode(doc, NULL);
        json_decref(doc);
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
    /* the registrar addresses it by this ri (e2e/esprim.c): this CSE alone assigns it, where the
     * CSE-ID's name may be an AE's */
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

/* Under reg->lock: where the registrar says this CSE's <remoteCSE> is (res: a 2001 or a 4117). */
static void learn_address(struct registration *reg, const struct out_response *res)
{
    const char *reg_id = reg->cse->cfg->registrar_id;
    char *addr = NULL;
    if (res->rsc == RSC_CREATED && res->body != NULL) {
        json_t *doc = json_loadb(res->body, res->len, 0, NULL);
        const char *ri = json_string_value(json_object_get(json_object_get(doc, "m2m:csr"), "ri"));
        if (ri != NULL && ri[0] != '\0' && strchr(ri, '/') == NULL && strchr(ri, '?') == NULL)
            addr = mem_strdup(ri); /* unstructured, CSE-relative: "csr..." */
        json_decref(doc);
    }
    const char *loc = res->location;
    if (addr == NULL && loc != NULL) {
        size_t n = strlen(reg_id);
        if (strncmp(loc, reg_id, n) == 0 && loc[n] == '/') /* SP-relative "/id-in/..." */
            loc += n;
        while (*loc == '/')
            loc++;
        if (*loc != '\0' && strlen(loc) < LIMIT_ID_LEN && strchr(loc, '?') == NULL)
            addr = mem_strdup(loc);
    }
    if (addr != NULL) {
        mem_free(reg->csr_addr);
        reg->csr_addr = addr;
    }
}

static void failed(struct registration *reg, int rsc, const char *what)
{
    int64_t delay = reg->backoff_ms;
    reg->backoff_ms =
        reg->backoff_ms * 2 > LIMIT_REGISTRATION_BACKOFF_MS ? LIMIT_REGISTRATION_BACKOFF_MS : reg->backoff_ms * 2;
    reg->due_ms = mono_ms() + delay;
    reg->backing_off = true;
    LOG(reg->cse->log, LOG_WARN, "registration: %s at %s failed (rsc %d); again in %lld ms", what,
        reg->cse->cfg->registrar_id, rsc, (long long)delay);
}

static void registered(struct registration *reg)
{
    reg->state = REG_REGISTERED;
    reg->backing_off = false;
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
        learn_address(reg, res);
        if (res->rsc == RSC_CREATED || reg->attempts == 1)
            LOG(reg->cse->log, LOG_INFO, "registration: registered at %s (%s)", reg->cse->cfg->registrar_id,
                res->rsc == RSC_CREATED ? "created" : "already registered");
        /* a registration kept from before holds whatever dcse it had: the next tick updates it */
        mem_free(reg->dcse_sent);
        reg->dcse_sent = res->rsc == RSC_CREATED ? reg->dcse_sending : NULL;
        if (res->rsc != RSC_CREATED)
            mem_free(reg->dcse_sending);
        reg->dcse_sending = NULL;
        mem_free(reg->esi_sent);
        reg->esi_sent = res->rsc == RSC_CREATED ? reg->esi_sending : NULL;
        if (res->rsc != RSC_CREATED)
            mem_free(reg->esi_sending);
        reg->esi_sending = NULL;
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
    if (res->rsc == RSC_OK || res->rsc == RSC_UPDATED) {
        if (res->rsc == RSC_UPDATED) {
            mem_free(reg->dcse_sent);
            reg->dcse_sent = reg->dcse_sending;
            reg->dcse_sending = NULL;
            mem_free(reg->esi_sent);
            reg->esi_sent = reg->esi_sending;
            reg->esi_sending = NULL;
        }
        registered(reg);
    } else if (res->rsc == RSC_NOT_FOUND && res->http_status != 0) {
        /* the registrar lost this CSE's <remoteCSE> (deleted, expired, a new store): again */
        LOG(reg->cse->log, LOG_WARN, "registration: %s no longer holds this CSE's <remoteCSE>; registering again",
            reg->cse->cfg->registrar_id);
        reg->state = REG_IDLE;
        reg->due_ms = mono_ms();
        MEM_FREE(reg->csr_addr); /* the next CREATE answers where */
    } else {                     /* unreachable for now: still registered as far as we know; look again sooner */
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
    mem_free(reg->dcse_sending);
    reg->dcse_sending = descendants(cse);
    json_t *body =
        json_pack("{s:{s:s,s:s,s:s,s:i,s:b,s:o,s:[s,s,s]}}", "m2m:csr", "rn", cfg->cse_id + 1, "csi", cfg->cse_id, "cb",
                  cb, "cst", cse_type_num(cfg->cse_type), "rr", 1, "poa", poa_list(cfg->cse_poa), "srv", "3", "4", "5");
    json_t *d = json_loads(reg->dcse_sending, 0, NULL);
    if (json_array_size(d) > 0)
        json_object_set(json_object_get(body, "m2m:csr"), "dcse", d);
    json_decref(d);
    mem_free(reg->esi_sending);
    reg->esi_sending = esi_text(cse);
    json_object_set_new(json_object_get(body, "m2m:csr"), "esi", json_loads(reg->esi_sending, 0, NULL));
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
                             .cse_peer = true,
                             .peer_csi = cfg->registrar_id};
    reg->state = REG_CREATING;
    reg->attempts++;
    if (outbound_send(cse->outbound, url, &rq, create_answer, reg) != 0) {
        reg->state = REG_IDLE;
        failed(reg, RSC_TARGET_NOT_REACHABLE, "registration (refused by the outbound policy or queue)");
    }
    mem_free(text);
}

/* Under reg->lock: a RETRIEVE of this CSE's <remoteCSE> at the registrar, or, when this CSE's
 * descendants changed since the registrar last heard of them (dcse) or the registration was found
 * kept from before a restart (4117), an UPDATE of its dcse and poa; 4004 to either means the
 * registration was lost. */
static void send_check(struct registration *reg, char *dcse /* owned; NULL: retrieve */)
{
    const struct cse_config *cfg = reg->cse->cfg;
    char url[LIMIT_ID_LEN + 300];
    if (reg->csr_addr != NULL)
        snprintf(url, sizeof url, "%s/~%s/%s", cfg->registrar_address, cfg->registrar_id, reg->csr_addr);
    else /* a 4117 over a binding that carries no Content-Location: the name this CSE asked for */
        snprintf(url, sizeof url, "%s/~%s/%s/%s", cfg->registrar_address, cfg->registrar_id, cfg->registrar_rn,
                 cfg->cse_id + 1);
    char *text = NULL;
    size_t len = 0;
    if (dcse != NULL) {
        /* poa too: after a restart (4117: the registration was kept) cse.poa may have changed */
        mem_free(reg->esi_sending);
        reg->esi_sending = esi_text(reg->cse);
        json_t *body = json_pack("{s:{s:o,s:o,s:o}}", "m2m:csr", "dcse", json_loads(dcse, 0, NULL), "poa",
                                 poa_list(cfg->cse_poa), "esi", json_loads(reg->esi_sending, 0, NULL));
        text = json_encode(body, &len);
        json_decref(body);
        mem_free(reg->dcse_sending);
        reg->dcse_sending = dcse;
    }
    struct out_request rq = {.op = dcse ? OP_UPDATE : OP_RETRIEVE,
                             .body = text,
                             .len = len,
                             .fr = cfg->cse_id,
                             .timeout_ms = (int)cfg->forward_timeout,
                             .max_attempts = 1,
                             .max_answer = 64 * 1024,
                             .cse_peer = true,
                             .peer_csi = cfg->registrar_id};
    reg->state = REG_CHECKING;
    if (outbound_send(reg->cse->outbound, url, &rq, check_answer, reg) != 0) {
        reg->state = REG_REGISTERED;
        failed(reg, RSC_TARGET_NOT_REACHABLE, "registration check (refused by the outbound policy or queue)");
    }
    mem_free(text);
}

void registration_tick(struct cse *cse)
{
    struct registration *reg = cse->registration;
    if (reg == NULL)
        return;
    pthread_mutex_lock(&reg->lock);
    int64_t now = mono_ms();
    if (!reg->stopping && reg->state == REG_REGISTERED) {
        char *d = descendants(cse), *esi = esi_text(cse);
        bool changed = reg->dcse_sent == NULL || strcmp(d, reg->dcse_sent) != 0 || reg->esi_sent == NULL ||
                       strcmp(esi, reg->esi_sent) != 0;
        mem_free(esi);
        if (changed && (!reg->backing_off || now >= reg->due_ms)) {
            send_check(reg, d); /* at once: the registrar must learn a new route before it is used */
        } else {
            mem_free(d);
            if (now >= reg->due_ms)
                send_check(reg, NULL);
        }
    } else if (!reg->stopping && now >= reg->due_ms && reg->state == REG_IDLE) {
        send_create(reg);
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
    mem_free(reg->dcse_sent);
    mem_free(reg->dcse_sending);
    mem_free(reg->esi_sent);
    mem_free(reg->esi_sending);
    mem_free(reg->csr_addr);
    mem_free(reg);
    cse->registration = NULL;
}
