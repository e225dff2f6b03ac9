/* main: command line, configuration, signals, start-up and orderly shutdown of the warden server. */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "bindings/binding.h"
#include "core/config.h"
#include "core/cse.h"
#include "security/audit.h"
#include "security/cred.h"
#include "store/backend.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"

/* Key material will pass through this process: never let it reach a core dump. */
static void no_core_dumps(void)
{
    struct rlimit rl = {0, 0};
    setrlimit(RLIMIT_CORE, &rl);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* Wait (up to 10 s) for the requests in flight on a quiesced binding to be answered. */
static void drain(const struct binding_ops *ops, struct binding *b, struct log *lg)
{
    for (int i = 0; i < 1000 && ops->inflight(b) > 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (ops->inflight(b) > 0)
        LOG(lg, LOG_WARN, "%s: %d requests still unanswered after 10 s", ops->name, ops->inflight(b));
}

int main(int argc, char **argv)
{
    json_set_alloc_funcs(mem_alloc, mem_free);
    struct cse_config cfg;
    config_defaults(&cfg);
    char err[512];
    int rc = config_from_args(&cfg, argc, argv, err, sizeof err);
    if (rc == 1) {
        config_free(&cfg);
        return 0;
    }
    if (rc != 0 || config_validate(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "warden: %s\n", err);
        config_free(&cfg);
        return 2;
    }
    no_core_dumps();

    /* Signals are taken synchronously by this thread only: block them before any thread starts. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP); /* reopen the log and audit files (logrotate) */
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct log lg;
    log_init(&lg, (enum log_level)log_level_parse(cfg.log_level), stderr);
    log_set_json(&lg, strcmp(cfg.log_format, "json") == 0);
    int status = 1;
    if (cfg.log_path[0] && log_open_file(&lg, cfg.log_path, err, sizeof err) != 0) {
        fprintf(stderr, "warden: %s\n", err);
        log_destroy(&lg);
        config_free(&cfg);
        return 1;
    }
    struct audit *audit = NULL;
    struct store *store = NULL;
    int store_lock = -1;
    struct cred_store *creds = NULL;
    struct backend *backend = NULL; /* owns store and creds */
    struct cse cse;
    bool cse_ready = false;
    /* every binding speaks to the same core; each starts when its configuration asks for it */
    const struct binding_ops *const ops[] = {&http_binding_ops, &mqtt_binding_ops, &coap_binding_ops,
                                             &metrics_binding_ops};
    enum { NBINDINGS = sizeof ops / sizeof ops[0] };
    struct binding *running[NBINDINGS] = {0};

    /* one server per store (a second one would split requests between disagreeing caches and
     * break the audit chain); the files must be private before anything is read from them */
    if ((store_lock = store_sqlite_lock(cfg.store_path, err, sizeof err)) < 0)
        goto out;
    if (cfg.http_port != 0) { /* where wardenctl finds this store's server (its explain asks it) */
        char note[300];
        snprintf(note, sizeof note, "http=%s:%ld", cfg.http_address, cfg.http_port);
        store_sqlite_lock_note(store_lock, note);
    }
    long threads = cfg.http_threads > 0 ? cfg.http_threads : sysconf(_SC_NPROCESSORS_ONLN);
    /* every request holds at most one read connection at a time, so any pool size is safe: a
     * smaller pool only makes requests wait their turn; by default a read view per worker, fan-out
     * thread and two more (MQTT, CoAP) */
    long readers = cfg.store_readers > 0 ? cfg.store_readers : threads + 2 + cfg.limits_fanout_threads;
    /* resources and credentials live in one database, owned by one backend object (store/backend.h);
     * the credential watcher picks up wardenctl's changes at once */
    backend = backend_sqlite_open(cfg.store_path, strcmp(cfg.store_sync, "full") == 0, (int)readers, err, sizeof err);
    if (backend == NULL)
        goto out;
    store = backend->store;
    creds = backend->creds;
    if (cred_watch_start(creds, 250) != 0)
        goto out;
    /* the audit chain's key is made with the store and lives in it, never in the log (audit.h) */
    unsigned char akey[CRED_AUDIT_KEY_LEN];
    if (cred_audit_key(creds, true, akey) != CRED_OK) {
        snprintf(err, sizeof err, "store %s: cannot read or create the audit key", cfg.store_path);
        goto out;
    }
    if (cfg.audit_path[0] && (audit = audit_open(cfg.audit_path, akey, sizeof akey, err, sizeof err)) != NULL)
        audit_set_aggregation(audit, cfg.audit_window * 1000, (size_t)cfg.audit_aggregate, cfg.audit_peer_lines);
    cred_wipe(akey, sizeof akey);
    if (cfg.audit_path[0] && audit == NULL)
        goto out;
    if (cse_init(&cse, &cfg, &lg, store, audit, err, sizeof err) != 0)
        goto out;
    cse.creds = creds;
    cse.backend = backend;
    cse_ready = true;
    if (cse_start(&cse, err, sizeof err) != 0)
        goto out;
    if (strcmp(cfg.cse_profile, "dev") == 0)
        log_write(&lg, LOG_WARN,
                  "DEV PROFILE: plain HTTP without security associations; the admin originator '%s' "
                  "is accepted unauthenticated. Never expose this configuration to a network.",
                  cfg.cse_admin);
    if (strcmp(cfg.cse_profile, "secure") == 0 && cfg.https_psk_port == 0 && (cfg.https_port == 0 || !cfg.tls_ca[0]))
        log_write(&lg, LOG_WARN,
                  "secure profile without a listener that can authenticate clients (https_psk.port, or "
                  "https.port with tls.ca): every request will be refused with 4107");
    for (size_t i = 0; i < NBINDINGS; i++)
        if (ops[i]->enabled(&cfg) && (running[i] = ops[i]->start(&cse, err, sizeof err)) == NULL)
            goto out;
    LOG(&lg, LOG_INFO, "CSE %s (%s, rn=%s, profile=%s), store %s", cfg.cse_id, cfg.cse_type, cfg.cse_rn,
        cfg.cse_profile, cfg.store_path);
    if (cfg.http_port)
        LOG(&lg, LOG_INFO, "serving http://%s:%ld", cfg.http_address, cfg.http_port);
    if (cfg.https_port)
        LOG(&lg, LOG_INFO, "serving https://%s:%ld (certificates)", cfg.https_address, cfg.https_port);
    if (cfg.https_psk_port)
        LOG(&lg, LOG_INFO, "serving https://%s:%ld (pre-shared keys)", cfg.https_psk_address, cfg.https_psk_port);
    if (cfg.metrics_port)
        LOG(&lg, LOG_INFO, "metrics on http://%s:%ld/metrics and /healthz", cfg.metrics_address, cfg.metrics_port);
    cse_set_ready(&cse, true); /* GET /healthz: up */
    fprintf(stderr, "warden: ready\n");
    fflush(stderr);
    /* Type=notify units: systemd starts dependent units only now that every listener is bound
     * (sd_notify(3); a no-op without NOTIFY_SOCKET) */
    sd_notify(0, "READY=1\nSTATUS=serving");

    int sig = 0;
    while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP) {
        /* logrotate moved the files away: later lines go to new files at the configured paths */
        char rerr[512] = "";
        sd_notify(0, "RELOADING=1");
        if (log_reopen(&lg, rerr, sizeof rerr) != 0 || audit_reopen(audit, rerr, sizeof rerr) != 0)
            LOG(&lg, LOG_ERROR, "SIGHUP: %s", rerr);
        else
            LOG(&lg, LOG_INFO, "SIGHUP: log and audit files reopened");
        sd_notify(0, "READY=1");
    }
    LOG(&lg, LOG_INFO, "signal %d: shutting down", sig);
    sd_notify(0, "STOPPING=1");
    status = 0;
out:
    if (status != 0)
        fprintf(stderr, "warden: %s\n", err);
    if (cse_ready)
        cse_set_ready(&cse, false); /* GET /healthz: down while draining */
    /* quiesce all, then drain all, then stop all: a request in flight on one binding may wait for
     * nothing on another */
    for (size_t i = 0; i < NBINDINGS; i++)
        if (running[i])
            ops[i]->quiesce(running[i]);
    if (cse_ready)         /* waiting for their Operation Execution Time, or long polls parked on clients: */
        cse_quiesce(&cse); /* answered now, so the bindings can drain */
    for (size_t i = 0; i < NBINDINGS; i++)
        if (running[i])
            drain(ops[i], running[i], &lg);
    for (size_t i = NBINDINGS; i-- > 0;)
        if (running[i])
            ops[i]->stop(running[i]);
    if (cse_ready) {
        cse_stop(&cse);
    }
    if (backend)
        backend->ops->close(backend); /* the credential store, then the resource store */
    if (cse_ready)
        cse_destroy(&cse);
    audit_close(audit);
    if (store_lock >= 0)
        close(store_lock);
    log_destroy(&lg);
    config_free(&cfg);
    return status;
}
