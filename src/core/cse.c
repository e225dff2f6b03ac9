/* cse: the server context: start-up (CSEBase bootstrap), background work and shutdown. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core_int.h"
#include "e2e/esprim.h"
#include "metrics.h"
#include "e2e/escertke_rx.h"
#include "resources/flex_defs.h"
#include "security/token.h"
#include "encoding/json.h"
#include "rsc.h"
#include "core/outbound.h"
#include "notify/notify.h"
#include "util/buf.h"
#include "util/mem.h"

/* One job on the store's writer, waited for by the calling thread: for start-up and wardenctl only,
 * never on a request path (a request parks instead). */
struct sync_job {
    struct store_job job;
    int (*run)(struct store_view *txn, void *arg);
    void *arg;
    bool finished, committed;
    pthread_mutex_t lock;
    pthread_cond_t cond;
};

static int sync_run(struct store_view *txn, void *arg)
{
    struct sync_job *s = arg;
    return s->run(txn, s->arg);
}

static void sync_done(void *arg, bool committed)
{
    struct sync_job *s = arg;
    pthread_mutex_lock(&s->lock);
    s->committed = committed;
    s->finished = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/* Run run(txn, arg) in a writer transaction and wait for it. false when the store did not accept
 * the job; else *committed says whether its changes were committed. */
static bool run_sync(struct store *store, int (*run)(struct store_view *txn, void *arg), void *arg, bool *committed)
{
    struct sync_job s = {.run = run, .arg = arg};
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.cond, NULL);
    s.job = (struct store_job){.run = sync_run, .done = sync_done, .arg = &s};
    bool accepted = store->ops->submit(store, &s.job) == STORE_OK;
    if (accepted) {
        pthread_mutex_lock(&s.lock);
        while (!s.finished)
            pthread_cond_wait(&s.cond, &s.lock);
        pthread_mutex_unlock(&s.lock);
    }
    pthread_mutex_destroy(&s.lock);
    pthread_cond_destroy(&s.cond);
    *committed = accepted && s.committed;
    return accepted;
}

struct boot {
    struct cse *cse;
    char *err;
    size_t errlen;
    bool ok;
};

static json_t *cse_base_doc_plain(struct cse *cse, const char *ct, const char *lt)
{
    const struct cse_config *cfg = cse->cfg;
    int cst = strcmp(cfg->cse_type, "IN") == 0 ? 1 : strcmp(cfg->cse_type, "MN") == 0 ? 2 : 3;
    json_t *poa = json_array();
    const struct {
        const char *scheme, *address;
        long port;
    } listeners[] = {{"http", cfg->http_address, cfg->http_port},
                     {"https", cfg->https_address, cfg->https_port},
                     {"https", cfg->https_psk_address, cfg->https_psk_port}};
    for (size_t i = 0; i < sizeof listeners / sizeof listeners[0]; i++) {
        if (listeners[i].port == 0)
            continue;
        char url[300];
        bool v6 = strchr(listeners[i].address, ':') != NULL;
        snprintf(url, sizeof url, "%s://%s%s%s:%ld", listeners[i].scheme, v6 ? "[" : "", listeners[i].address,
                 v6 ? "]" : "", listeners[i].port);
        json_array_append_new(poa, json_string(url));
    }
    if (cfg->mqtt_address[0]) { /* TS-0010 §6.6 */
        char url[300];
        bool v6 = strchr(cfg->mqtt_address, ':') != NULL;
        snprintf(url, sizeof url, "%s://%s%s%s:%ld", cfg->mqtt_tls ? "mqtts" : "mqtt", v6 ? "[" : "", cfg->mqtt_address,
                 v6 ? "]" : "", cfg->mqtt_port);
        json_array_append_new(poa, json_string(url));
    }
    const struct {
        const char *scheme, *address;
        long port;
    } coap[] = {{"coap", cfg->coap_address, cfg->coap_port}, {"coaps", cfg->coaps_address, cfg->coaps_port}};
    for (size_t i = 0; i < 2; i++) {
        if (coap[i].port == 0)
            continue;
        char url[300];
        bool v6 = strchr(coap[i].address, ':') != NULL;
        snprintf(url, sizeof url, "%s://%s%s%s:%ld", coap[i].scheme, v6 ? "[" : "", coap[i].address, v6 ? "]" : "",
                 coap[i].port);
        json_array_append_new(poa, json_string(url));
    }
    /* TS-0001 §9.6.3: supportedResourceType lists exactly the types implemented (the registry) */
    int tys[64];
    int ntys = rtype_supported(tys, 64);
    json_t *srt = json_array();
    for (int i = 0; i < ntys; i++)
        json_array_append_new(srt, json_integer(tys[i]));
    /* TS-0001 §9.6.1.3 (parentID): the <CSEBase> has no parent, its parentID is the empty string */
    return json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:o, s:o, s:[s,s], s:[s,s,s,s,s]}", "ty", TY_CSEBASE,
                     "ri", cse->cb_ri, "rn", cfg->cse_rn, "pi", "", "ct", ct, "lt", lt, "csi", cfg->cse_id, "cst", cst,
                     "srt", srt, "poa", poa, "csz", "application/json", "application/cbor", "srv", "2", "2a", "3", "4",
                     "5");
}

/* ... with the e2eSecInfo (TS-0003 §8.4.3.1.3): ESPrim support and the shared receiver rand object
 * (e2e/esprim.c) */
static json_t *cse_base_doc(struct cse *cse, const char *ct, const char *lt)
{
    json_t *doc = cse_base_doc_plain(cse, ct, lt);
    json_object_set_new(doc, "esi", (json_t *)esprim_esi_published(cse));
    return doc;
}

/* The CSEBase's representation shows its acpi (the row's space-separated resourceIDs). */
static void doc_set_acpi(json_t *doc, const char *acpi)
{
    json_t *list = json_array();
    for (const char *q = acpi ? acpi : ""; *q;) {
        size_t len = strcspn(q, " ");
        if (len)
            json_array_append_new(list, json_stringn(q, len));
        q += len + (q[len] == ' ');
    }
    if (json_array_size(list))
        json_object_set_new(doc, "acpi", list);
    else {
        json_object_del(doc, "acpi");
        json_decref(list);
    }
}

/* store find callback over the containers: one that disables retrieval is enough (arg: an
 * atomic_bool set to true) */
static int disr_found(void *arg, const struct store_row *r)
{
    if (!cnt_retrieval_disabled(r->doc))
        return 0;
    atomic_store((atomic_bool *)arg, true);
    return 1;
}

/* store children callback over the <remoteCSE>s: one that is not this CSE's registrar is a registree */
static int registree_found(void *arg, const struct store_row *r)
{
    struct cse *cse = arg;
    const char *reg = cse->cfg->registrar_id;
    if (reg[0] == '/' && strcmp(r->rn, reg + 1) == 0)
        return 0;
    atomic_store(&cse->registree_seen, true);
    return 1;
}

static int boot_run(struct store_view *txn, void *arg)
{
    struct boot *b = arg;
    struct cse *cse = b->cse;
    const struct store_ops *ops = txn->st->ops;
    int64_t now = cse_now(cse);
    char ts[TS_LEN + 1];
    ts_format(now, ts);
    struct store_row cur;
    int rc = ops->get_ri(txn, cse->cb_ri, now, &cur);
    if (rc == STORE_OK) {
        if (cur.ty != TY_CSEBASE || strcmp(cur.path, cse->cfg->cse_rn) != 0) {
            snprintf(b->err, b->errlen, "the store belongs to a CSEBase named '%s', not '%s' (cse.rn)", cur.path,
                     cse->cfg->cse_rn);
            store_row_free(&cur);
            return 1;
        }
        json_t *old = json_loads(cur.doc, 0, NULL);
        const char *ct = json_string_value(json_object_get(old, "ct"));
        json_t *doc = cse_base_doc(cse, ct ? ct : ts, ts);
        doc_set_acpi(doc, cur.acpi); /* set by the operator (wardenctl cse acpi): kept */
        mem_free(cur.doc);
        cur.doc = json_encode(doc, NULL);
        json_decref(doc);
        json_decref(old);
        rc = ops->update(txn, &cur);
        store_row_free(&cur);
    } else if (rc == STORE_NOT_FOUND) {
        struct store_row other;
        if (ops->get_path(txn, cse->cfg->cse_rn, now, &other) == STORE_OK) {
            snprintf(b->err, b->errlen, "the store belongs to another CSE (CSEBase '%s' has resourceID '%s', not '%s')",
                     other.path, other.ri, cse->cb_ri);
            store_row_free(&other);
            return 1;
        }
        json_t *doc = cse_base_doc(cse, ts, ts);
        struct store_row row = {
            .ri = cse->cb_ri,
            .pi = "",
            .rn = cse->cfg->cse_rn,
            .path = cse->cfg->cse_rn,
            .ty = TY_CSEBASE,
            .et = ET_NEVER,
            .cr = "",
            .ae = "",
        };
        row.doc = json_encode(doc, NULL);
        json_decref(doc);
        rc = ops->insert(txn, &row);
        mem_free(row.doc);
    }
    if (rc == STORE_OK) /* any registree <remoteCSE> (cse.h registree_seen)? */
        rc = ops->children(txn, cse->cb_ri, TY_REMOTE_CSE, now, registree_found, cse) < 0 ? STORE_ERROR : STORE_OK;
    if (rc == STORE_OK) { /* TS-0001 §9.6.6: does any container disable retrieval (cse.h disr_seen)? */
        static const int cnt_ty[] = {TY_CNT};
        struct store_filter f = {.ty = cnt_ty, .nty = 1, .sts = -1, .stb = -1, .sza = -1, .szb = -1, .max_depth = -1};
        if (ops->find(txn, cse->cfg->cse_rn, &f, now, disr_found, &cse->disr_seen) < 0)
            rc = STORE_ERROR;
    }
    if (rc != STORE_OK) {
        snprintf(b->err, b->errlen, "cannot write the CSEBase to the store");
        return 1;
    }
    b->ok = true;
    return 0;
}

/* ---- the CSEBase's acpi, set by the operator (wardenctl cse acpi) ------------------------------- */

struct base_acpi {
    const struct cse_config *cfg;
    bool set;
    const char *const *ids;
    int n;
    char *out, *err;
    size_t outlen, errlen;
    bool ok;
};

/* An ACP child of the CSEBase named by resourceID, structured address or resourceName. */
static bool base_acp(struct store_view *txn, const struct cse_config *cfg, const char *cb_ri, const char *id,
                     int64_t now, struct store_row *out)
{
    const struct store_ops *ops = txn->st->ops;
    char path[LIMIT_ID_LEN + LIMIT_NAME_LEN + 2];
    const char *p = id[0] == '/' ? id + 1 : id;
    bool found = ops->get_ri(txn, p, now, out) == STORE_OK;
    if (!found)
        found = ops->get_path(txn, p, now, out) == STORE_OK;
    if (!found && strchr(p, '/') == NULL && (size_t)snprintf(path, sizeof path, "%s/%s", cfg->cse_rn, p) < sizeof path)
        found = ops->get_path(txn, path, now, out) == STORE_OK;
    if (found && (out->ty != TY_ACP || strcmp(out->pi, cb_ri) != 0)) {
        store_row_free(out);
        found = false;
    }
    return found;
}

static int base_acpi_run(struct store_view *txn, void *arg)
{
    struct base_acpi *b = arg;
    const struct store_ops *ops = txn->st->ops;
    int64_t now = (int64_t)time(NULL);
    const char *cb_ri = b->cfg->cse_id + 1;
    struct store_row cb;
    if (ops->get_ri(txn, cb_ri, now, &cb) != STORE_OK || cb.ty != TY_CSEBASE || strcmp(cb.path, b->cfg->cse_rn) != 0) {
        snprintf(b->err, b->errlen, "the store %s holds no CSEBase '%s' (%s): start warden on it once first",
                 b->cfg->store_path, b->cfg->cse_rn, b->cfg->cse_id);
        return 1;
    }
    struct buf list;
    buf_init(&list);
    int rc = 0;
    if (b->n > LIMIT_LIST_ITEMS) { /* like any acpi list (attribute validation) */
        snprintf(b->err, b->errlen, "at most %d accessControlPolicyIDs", LIMIT_LIST_ITEMS);
        rc = 1;
    }
    for (int i = 0; b->set && i < b->n && rc == 0; i++) {
        struct store_row acp;
        if (!base_acp(txn, b->cfg, cb_ri, b->ids[i], now, &acp)) {
            snprintf(b->err, b->errlen, "'%s' is not an <accessControlPolicy> child of the CSEBase %s", b->ids[i],
                     b->cfg->cse_rn);
            rc = 1;
            break;
        }
        bool dup = false;
        for (const char *q = list.p ? list.p : ""; *q && !dup;) {
            size_t len = strcspn(q, " ");
            dup = len == strlen(acp.ri) && strncmp(q, acp.ri, len) == 0;
            q += len + (q[len] == ' ');
        }
        if (!dup)
            buf_printf(&list, "%s%s", list.len ? " " : "", acp.ri);
        store_row_free(&acp);
    }
    if (rc == 0 && b->set) {
        mem_free(cb.acpi);
        cb.acpi = buf_take(&list, NULL);
        json_t *doc = json_loads(cb.doc, 0, NULL);
        if (doc != NULL) {
            doc_set_acpi(doc, cb.acpi);
            mem_free(cb.doc);
            cb.doc = json_encode(doc, NULL);
            json_decref(doc);
        }
        if (cb.acpi == NULL)
            cb.acpi = mem_strdup("");
        if (ops->update(txn, &cb) != STORE_OK) {
            snprintf(b->err, b->errlen, "cannot write the CSEBase to the store");
            rc = 1;
        }
    }
    buf_free(&list);
    size_t w = 0;
    b->out[0] = '\0';
    for (const char *q = cb.acpi ? cb.acpi : ""; rc == 0 && *q;) {
        size_t len = strcspn(q, " ");
        char ri[LIMIT_NAME_LEN + 1];
        struct store_row acp;
        snprintf(ri, sizeof ri, "%.*s", (int)(len < sizeof ri ? len : sizeof ri - 1), q);
        bool exists = ops->get_ri(txn, ri, now, &acp) == STORE_OK;
        int k = snprintf(b->out + w, b->outlen - w, "%s %s\n", ri, exists ? acp.path : "(no longer exists)");
        if (exists)
            store_row_free(&acp);
        if (k > 0 && (size_t)k < b->outlen - w)
            w += (size_t)k;
        q += len + (q[len] == ' ');
    }
    store_row_free(&cb);
    if (rc == 0)
        b->ok = true;
    return rc != 0 || !b->set; /* nothing to commit when only showing */
}

int cse_base_acpi(struct store *store, const struct cse_config *cfg, bool set, const char *const *ids, int n, char *out,
                  size_t outlen, char *err, size_t errlen)
{
    struct base_acpi b = {
        .cfg = cfg, .set = set, .ids = ids, .n = n, .out = out, .outlen = outlen, .err = err, .errlen = errlen};
    snprintf(err, errlen, "the store did not accept the transaction");
    bool committed;
    if (!run_sync(store, base_acpi_run, &b, &committed))
        return -1;
    /* only showing the acpi commits nothing (the job rolls back) */
    return b.ok && (committed || !b.set) ? 0 : -1;
}

/* On failure everything cse_init set up is released again (no cse_destroy needed). */
int cse_init(struct cse *cse, const struct cse_config *cfg, struct log *log, struct store *store, struct audit *audit,
             char *err, size_t errlen)
{
    memset(cse, 0, sizeof *cse);
    cse->cfg = cfg;
    cse->log = log;
    cse->store = store;
    cse->audit = audit;
    cse->clock = (struct clock){.now_us = clock_real_us};
    cse->idenv = (struct id_env){.spid = cfg->cse_spid, .cse_id = cfg->cse_id};
    cse->secure = strcmp(cfg->cse_profile, "secure") == 0;

    cse->cb_ri = mem_strdup(cfg->cse_id + 1);
    if (!id_parse(&cse->idenv, cfg->cse_admin, &cse->admin))
        snprintf(cse->admin.canon, sizeof cse->admin.canon, "%s", cfg->cse_admin);
    pthread_mutex_init(&cse->expiry_lock, NULL);
    pthread_mutex_init(&cse->blocking_lock, NULL);
    pthread_mutex_init(&cse->fwd_lock, NULL);
    pthread_cond_init(&cse->expiry_cond, NULL);
    cse->policies = policy_cache_new((size_t)cfg->limits_policy_cache);
    cse->batches = batcher_new((size_t)cfg->notify_batch_bytes, (size_t)cfg->notify_batch_total);
    cse->tokens = token_cache_new((size_t)cfg->authz_token_cache);
    cse->dynauth = dynauth_new((size_t)cfg->authz_grant_cache);
    cse->fanouts = fanq_new();
    cse->parkq = parkq_new();
    cse->metrics = metrics_new();
    store->on_batch = metrics_batch; /* before any job: the writer reads it after taking a job */
    store->on_batch_arg = cse->metrics;
    cse->rate = ratelimit_new(cfg->limits_rate, cfg->limits_rate_burst, cfg->limits_rate_originators);
    cse->nbr = nbr_new();
    cse->esprim = esprim_new(cfg->esprim_rand_lifetime);
    cse->pollch = pollch_new(cse);
    cse->escertke = escertke_rx_new(cfg);
    cse->timers = timers_new();
    cse->md_windows = md_windows_new();
    cse->flex = flex_defs_load(cfg->types_flex, err, errlen);
    if (cse->flex == NULL) {
        cse_destroy(cse);
        return -1;
    }
    if (cfg->authz_issuers[0]) {
        char ierr[256];
        cse->issuers = token_issuers_load(cfg->authz_issuers, &cse->idenv, ierr, sizeof ierr);
        if (cse->issuers == NULL) {
            snprintf(err, errlen, "authz.issuers: %s", ierr);
            cse_destroy(cse);
            return -1;
        }
    }
    if (cfg->location_positions[0] || cfg->location_countries[0]) {
        cse->locations = location_db_load(cfg->location_positions, cfg->location_countries, &cse->idenv, err, errlen);
        if (cse->locations == NULL) {
            cse_destroy(cse);
            return -1;
        }
    }

    struct boot b = {.cse = cse, .err = err, .errlen = errlen};
    snprintf(err, errlen, "the store did not accept the start-up transaction");
    bool committed;
    bool ok = run_sync(store, boot_run, &b, &committed) && b.ok && committed;
    if (!ok)
        cse_destroy(cse);
    return ok ? 0 : -1;
}

/* Split a comma-separated list in place; returns the count, or max + 1 when there are more items
 * than max (never drop entries silently: a deny entry dropped is an address let through). */
static size_t split_list(char *s, const char **out, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(s, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        if (n == max)
            return max + 1;
        out[n++] = t;
    }
    return n;
}

int cse_start(struct cse *cse, char *err, size_t errlen)
{
    const struct cse_config *cfg = cse->cfg;
    char *allow = mem_strdup(cfg->notify_allow), *deny = mem_strdup(cfg->notify_deny);
    const char *allow_v[LIMIT_LIST_ITEMS], *deny_v[LIMIT_LIST_ITEMS];
    struct outbound_config nc = {
        .queue_max = (size_t)cfg->notify_queue,
        .timeout_ms = (int)cfg->notify_timeout,
        .connect_timeout_ms = (int)(cfg->notify_timeout < 3000 ? cfg->notify_timeout : 3000),
        .max_attempts = (int)cfg->notify_attempts,
        .backoff_ms = (int)cfg->notify_backoff,
        .max_parallel = (int)cfg->notify_parallel,
        .allow = allow_v,
        .nallow = split_list(allow, allow_v, LIMIT_LIST_ITEMS),
        .deny = deny_v,
        .ndeny = split_list(deny, deny_v, LIMIT_LIST_ITEMS),
        .tls_ca = cfg->notify_ca,
        .cse_ca = cfg->tls_ca,
        .creds = cse->creds,
        .spid = cfg->cse_spid,
        .tls_cert = cfg->tls_cert,
        .tls_key = cfg->tls_key,
        .secure = cse->secure,
        .allow_plain_http = cfg->notify_plain_http != 0,
    };
    if (nc.nallow > LIMIT_LIST_ITEMS || nc.ndeny > LIMIT_LIST_ITEMS) {
        snprintf(err, errlen, "notify.%s: more than %d entries", nc.nallow > LIMIT_LIST_ITEMS ? "allow" : "deny",
                 LIMIT_LIST_ITEMS);
        mem_free(allow);
        mem_free(deny);
        return -1;
    }
    cse->outbound = outbound_start(&nc, cse->log, err, errlen);
    mem_free(allow);
    mem_free(deny);
    if (cse->outbound == NULL)
        return -1;
    if (timers_resume(cse) != 0) {
        snprintf(err, errlen, "cannot read the store to resume timers");
        return -1;
    }
    registration_start(cse);
    if (announce_start(cse) != 0) {
        snprintf(err, errlen, "cannot start the announcement worker");
        return -1;
    }
    if (expiry_start(cse) != 0) {
        snprintf(err, errlen, "cannot start the expiry sweeper");
        return -1;
    }
    if (nbr_start(cse) != 0) {
        snprintf(err, errlen, "cannot start the non-blocking request worker");
        return -1;
    }
    if (pollch_start(cse) != 0) {
        snprintf(err, errlen, "cannot start the polling channels");
        return -1;
    }
    return 0;
}

void cse_quiesce(struct cse *cse)
{
    defer_quiesce(cse);
    pollch_quiesce(cse);
}

void cse_stop(struct cse *cse)
{
    pollch_quiesce(cse);        /* a non-blocking request may be a parked poll: it ends now */
    nbr_stop(cse);              /* accepted non-blocking requests finish first: they use all that follows */
    fanq_stop(cse->fanouts);    /* fan-out members may park on consultations and commits */
    dynauth_stop(cse->dynauth); /* consultations go through the outbound seam */
    registration_quiesce(cse);  /* no new exchange with the registrar */
    announce_stop(cse);         /* nor with announcement targets */
    expiry_stop(cse);
    parkq_stop(cse->parkq); /* requests resumed by consultations and the expiry thread are run */
    /* pending batches go out before the outbound seam stops; then deliveries get a short grace */
    if (cse->batches && cse->outbound)
        batcher_tick(cse, INT64_MAX);
    pollch_stop(cse); /* requests queued for polling AEs are reported undelivered */
    if (cse->outbound) {
        outbound_stop(cse->outbound, 2000);
        cse->outbound = NULL;
    }
    parkq_stop(cse->parkq); /* and those the seam's last answers resumed (remote_fetch.c) */
    registration_free(cse); /* after the seam: its callbacks have all run */
    announce_free(cse);
}

void cse_destroy(struct cse *cse)
{
    MEM_FREE(cse->cb_ri);
    policy_cache_free(cse->policies);
    cse->policies = NULL;
    location_db_free(cse->locations);
    cse->locations = NULL;
    token_issuers_free(cse->issuers);
    cse->issuers = NULL;
    token_cache_free(cse->tokens);
    cse->tokens = NULL;
    dynauth_free(cse->dynauth);
    cse->dynauth = NULL;
    fanq_free(cse->fanouts);
    cse->fanouts = NULL;
    parkq_stop(cse->parkq); /* a context never started may still hold resumes (tests) */
    parkq_free(cse->parkq);
    cse->parkq = NULL;
    ratelimit_free(cse->rate);
    cse->rate = NULL;
    nbr_free(cse->nbr);
    cse->nbr = NULL;
    esprim_free(cse->esprim);
    cse->esprim = NULL;
    pollch_free(cse->pollch);
    cse->pollch = NULL;
    batcher_free(cse, cse->batches, false);
    cse->batches = NULL;
    metrics_free(cse->metrics);
    cse->metrics = NULL;
    timers_free(cse->timers);
    cse->timers = NULL;
    md_windows_free(cse->md_windows);
    cse->md_windows = NULL;
    flex_defs_free(cse->flex);
    cse->flex = NULL;
    escertke_rx_free(cse->escertke);
    cse->escertke = NULL;
    pthread_mutex_destroy(&cse->expiry_lock);
    pthread_mutex_destroy(&cse->blocking_lock);
    pthread_mutex_destroy(&cse->fwd_lock);
    pthread_cond_destroy(&cse->expiry_cond);
}
