/* metrics: see metrics.h. Every counter is a relaxed atomic add on a fixed array: no lock, no
 * allocation on the request path. Label sets are bounded by construction (bindings, operations and
 * RSCs are fixed lists, reasons are the static reason strings of the code, at most MAX_REASONS). */
#include "metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core_int.h"
#include "notify/notify.h"
#include "rsc.h"
#include "util/buf.h"
#include "util/mem.h"

static const char *const bindings[] = {"http", "https", "https-psk", "mqtt", "coap", "coaps", "other"};
#define NBIND (sizeof bindings / sizeof bindings[0])
#define NOPS  6 /* enum cse_op: 0 (none: refused before parsing) .. OP_NOTIFY */
static const int rscs[] = {
    RSC_ACCEPTED,
    RSC_OK,
    RSC_CREATED,
    RSC_DELETED,
    RSC_UPDATED,
    RSC_BAD_REQUEST,
    RSC_RELEASE_VERSION_NOT_SUPPORTED,
    RSC_NOT_FOUND,
    RSC_OPERATION_NOT_ALLOWED,
    RSC_REQUEST_TIMEOUT,
    RSC_UNSUPPORTED_MEDIA_TYPE,
    RSC_SUBSCRIPTION_CREATOR_HAS_NO_PRIVILEGE,
    RSC_CONTENTS_UNACCEPTABLE,
    RSC_ORIGINATOR_HAS_NO_PRIVILEGE,
    RSC_CONFLICT,
    RSC_ORIGINATOR_NOT_AUTHENTICATED,
    RSC_SECURITY_ASSOCIATION_REQUIRED,
    RSC_INVALID_CHILD_RESOURCE_TYPE,
    RSC_ORIGINATOR_HAS_ALREADY_REGISTERED,
    RSC_APP_RULE_VALIDATION_FAILED,
    RSC_INTERNAL_SERVER_ERROR,
    RSC_NOT_IMPLEMENTED,
    RSC_TARGET_NOT_REACHABLE,
    RSC_RECEIVER_HAS_NO_PRIVILEGE,
    RSC_ALREADY_EXISTS,
    RSC_NOT_ACCEPTABLE,
};
#define NRSC (sizeof rscs / sizeof rscs[0] + 1) /* + one slot for any other code */

/* upper bounds of the latency buckets, in microseconds (the last bucket is +Inf) */
static const int64_t lat_le[] = {100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000};
#define NLAT (sizeof lat_le / sizeof lat_le[0] + 1)
static const size_t batch_le[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
#define NBATCH (sizeof batch_le / sizeof batch_le[0] + 1)

#define MAX_REASONS 128 /* distinct denial reasons and DAS outcomes; more share the "other" slot */

struct labelled {
    _Atomic(const char *) name; /* a static string; NULL: free slot */
    atomic_ulong n;
};

struct metrics {
    atomic_ulong requests[NBIND][NOPS][NRSC];
    atomic_ulong lat[NBIND][NOPS][NLAT];
    atomic_ulong lat_sum_us[NBIND][NOPS];
    atomic_ulong batch[NBATCH];
    atomic_ulong batch_jobs;
    atomic_ulong errors;
    struct labelled authn_fail[MAX_REASONS]; /* 4106, 4107 */
    struct labelled denied[MAX_REASONS];     /* 4103 */
    struct labelled das[MAX_REASONS];
    struct labelled handshake[MAX_REASONS];
    atomic_ulong label_overflow;
};

struct metrics *metrics_new(void)
{
    return mem_calloc(1, sizeof(struct metrics)); /* zeroed atomics are valid zero counters */
}

void metrics_free(struct metrics *m)
{
    mem_free(m);
}

static size_t binding_index(const char *b)
{
    for (size_t i = 0; b && i < NBIND - 1; i++)
        if (strcmp(bindings[i], b) == 0)
            return i;
    return NBIND - 1;
}

static size_t rsc_index(int rsc)
{
    for (size_t i = 0; i < NRSC - 1; i++)
        if (rscs[i] == rsc)
            return i;
    return NRSC - 1;
}

#define INC(x) atomic_fetch_add_explicit(&(x), 1, memory_order_relaxed)

void metrics_request(struct metrics *m, const char *binding, int op, int rsc, int64_t elapsed_us)
{
    if (m == NULL)
        return;
    size_t b = binding_index(binding), o = op >= 0 && op < NOPS ? (size_t)op : 0, l = 0;
    INC(m->requests[b][o][rsc_index(rsc)]);
    if (rsc >= 4000)
        INC(m->errors);
    while (l < NLAT - 1 && elapsed_us > lat_le[l])
        l++;
    INC(m->lat[b][o][l]); /* per bucket; rendering accumulates them */
    atomic_fetch_add_explicit(&m->lat_sum_us[b][o], (unsigned long)(elapsed_us > 0 ? elapsed_us : 0),
                              memory_order_relaxed);
}

/* The slot for name: found by hash, inserted with one compare-and-swap when new. */
static void count_label(struct metrics *m, struct labelled *t, const char *name)
{
    if (name == NULL)
        name = "unspecified";
    uint32_t h = 2166136261u;
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    for (size_t k = 0; k < MAX_REASONS; k++) {
        struct labelled *s = &t[(h + k) % MAX_REASONS];
        const char *cur = atomic_load_explicit(&s->name, memory_order_acquire);
        if (cur == NULL) {
            const char *expected = NULL;
            if (atomic_compare_exchange_strong(&s->name, &expected, name))
                cur = name;
            else
                cur = expected;
        }
        if (cur == name || strcmp(cur, name) == 0) {
            INC(s->n);
            return;
        }
    }
    INC(m->label_overflow);
}

void metrics_denial(struct metrics *m, int rsc, const char *reason)
{
    if (m == NULL)
        return;
    count_label(m, rsc == RSC_ORIGINATOR_HAS_NO_PRIVILEGE ? m->denied : m->authn_fail, reason);
}

void metrics_handshake_failure(struct metrics *m, const char *reason)
{
    if (m != NULL)
        count_label(m, m->handshake, reason);
}

void metrics_batch(void *arg, size_t jobs)
{
    struct metrics *m = arg;
    size_t l = 0;
    while (l < NBATCH - 1 && jobs > batch_le[l])
        l++;
    INC(m->batch[l]);
    atomic_fetch_add_explicit(&m->batch_jobs, jobs, memory_order_relaxed);
}

void metrics_das(struct metrics *m, const char *outcome)
{
    if (m != NULL)
        count_label(m, m->das, outcome);
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

void metrics_totals(struct metrics *m, uint64_t *requests, uint64_t *errors)
{
    uint64_t n = 0;
    for (size_t b = 0; b < NBIND; b++)
        for (size_t o = 0; o < NOPS; o++)
            for (size_t l = 0; l < NLAT; l++)
                n += LOAD(m->lat[b][o][l]);
    *requests = n;
    *errors = LOAD(m->errors);
}

static void header(struct buf *b, const char *name, const char *type, const char *help)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void labelled_out(struct buf *b, const struct labelled *t, const char *name, const char *label)
{
    for (size_t i = 0; i < MAX_REASONS; i++) {
        const char *n = atomic_load_explicit(&t[i].name, memory_order_acquire);
        if (n != NULL)
            buf_printf(b, "%s{%s=\"%s\"} %lu\n", name, label, n, LOAD(t[i].n));
    }
}

static const char *const op_label[NOPS] = {"none", "create", "retrieve", "update", "delete", "notify"};

static void count_type(void *arg, int ty, int64_t n)
{
    buf_printf(arg, "warden_resources{ty=\"%d\"} %lld\n", ty, (long long)n);
}

char *metrics_render(struct cse *cse, size_t *len)
{
    struct metrics *m = cse->metrics;
    struct buf b;
    buf_init(&b);
    header(&b, "warden_requests_total", "counter", "requests answered, by binding, operation and oneM2M RSC");
    for (size_t bi = 0; bi < NBIND; bi++)
        for (size_t o = 0; o < NOPS; o++)
            for (size_t r = 0; r < NRSC; r++) {
                unsigned long n = LOAD(m->requests[bi][o][r]);
                char rsc[16];
                snprintf(rsc, sizeof rsc, r == NRSC - 1 ? "other" : "%d", r == NRSC - 1 ? 0 : rscs[r]);
                if (n)
                    buf_printf(&b, "warden_requests_total{binding=\"%s\",op=\"%s\",rsc=\"%s\"} %lu\n", bindings[bi],
                               op_label[o], rsc, n);
            }
    header(&b, "warden_request_duration_seconds", "histogram",
           "time from a request's arrival to its answer, by binding and operation");
    for (size_t bi = 0; bi < NBIND; bi++)
        for (size_t o = 0; o < NOPS; o++) {
            unsigned long cum = 0;
            for (size_t l = 0; l < NLAT; l++)
                cum += LOAD(m->lat[bi][o][l]);
            if (cum == 0)
                continue;
            cum = 0;
            for (size_t l = 0; l < NLAT; l++) {
                cum += LOAD(m->lat[bi][o][l]);
                if (l < NLAT - 1)
                    buf_printf(&b, "warden_request_duration_seconds_bucket{binding=\"%s\",op=\"%s\",le=\"%g\"} %lu\n",
                               bindings[bi], op_label[o], (double)lat_le[l] / 1e6, cum);
                else
                    buf_printf(&b, "warden_request_duration_seconds_bucket{binding=\"%s\",op=\"%s\",le=\"+Inf\"} %lu\n",
                               bindings[bi], op_label[o], cum);
            }
            buf_printf(&b, "warden_request_duration_seconds_sum{binding=\"%s\",op=\"%s\"} %.6f\n", bindings[bi],
                       op_label[o], (double)LOAD(m->lat_sum_us[bi][o]) / 1e6);
            buf_printf(&b, "warden_request_duration_seconds_count{binding=\"%s\",op=\"%s\"} %lu\n", bindings[bi],
                       op_label[o], cum);
        }
    header(&b, "warden_commit_batch_jobs", "histogram", "write jobs per store commit (group commit)");
    unsigned long cum = 0;
    for (size_t l = 0; l < NBATCH; l++) {
        cum += LOAD(m->batch[l]);
        if (l < NBATCH - 1)
            buf_printf(&b, "warden_commit_batch_jobs_bucket{le=\"%zu\"} %lu\n", batch_le[l], cum);
        else
            buf_printf(&b, "warden_commit_batch_jobs_bucket{le=\"+Inf\"} %lu\n", cum);
    }
    buf_printf(&b, "warden_commit_batch_jobs_sum %lu\nwarden_commit_batch_jobs_count %lu\n", LOAD(m->batch_jobs), cum);
    header(&b, "warden_authentication_failures_total", "counter",
           "requests refused as unauthenticated (4106) or without a security association (4107), by reason");
    labelled_out(&b, m->authn_fail, "warden_authentication_failures_total", "reason");
    header(&b, "warden_handshake_failures_total", "counter",
           "TLS and DTLS handshakes refused by the security association check (unknown or revoked credential ...)");
    labelled_out(&b, m->handshake, "warden_handshake_failures_total", "reason");
    header(&b, "warden_denials_total", "counter", "requests refused by the access decision (4103), by reason");
    labelled_out(&b, m->denied, "warden_denials_total", "reason");
    header(&b, "warden_das_consultations_total", "counter", "Dynamic Authorization Server consultations, by outcome");
    labelled_out(&b, m->das, "warden_das_consultations_total", "outcome");
    header(&b, "warden_metrics_label_overflow_total", "counter", "reasons beyond the label table, not counted");
    buf_printf(&b, "warden_metrics_label_overflow_total %lu\n", LOAD(m->label_overflow));
    if (cse->outbound != NULL) { /* the HTTP(S) client side of the outbound seam (notifications, forwarding) */
        struct outbound_stats ns;
        outbound_get_stats(cse->outbound, &ns);
        header(&b, "warden_notify_queue", "gauge", "notifications waiting or in flight");
        buf_printf(&b, "warden_notify_queue %zu\n", ns.pending);
        header(&b, "warden_notifications_total", "counter", "notifications by outcome");
        buf_printf(&b,
                   "warden_notifications_total{outcome=\"queued\"} %lu\n"
                   "warden_notifications_total{outcome=\"delivered\"} %lu\n"
                   "warden_notifications_total{outcome=\"failed\"} %lu\n"
                   "warden_notifications_total{outcome=\"refused\"} %lu\n"
                   "warden_notifications_total{outcome=\"retried\"} %lu\n",
                   ns.queued, ns.delivered, ns.failed, ns.refused, ns.retried);
    }
    unsigned long adone, aretried, arefused; /* announcement (announce.c) */
    announce_stats(cse, &adone, &aretried, &arefused);
    header(&b, "warden_announcement_steps_total", "counter", "announcement steps (TS-0004 §7.3.3.10-11) by outcome");
    buf_printf(&b,
               "warden_announcement_steps_total{outcome=\"done\"} %lu\n"
               "warden_announcement_steps_total{outcome=\"retried\"} %lu\n"
               "warden_announcement_steps_total{outcome=\"refused\"} %lu\n",
               adone, aretried, arefused);
    header(&b, "warden_resources", "gauge", "unexpired resources by resourceType");
    struct store_view *v = cse->store->ops->view_acquire(cse->store);
    if (v != NULL) {
        cse->store->ops->count_types(v, cse_now(cse), count_type, &b);
        cse->store->ops->view_release(cse->store, v);
    }
    header(&b, "warden_up", "gauge", "1 when the store answers and every binding is up");
    char why[128];
    buf_printf(&b, "warden_up %d\n", metrics_healthy(cse, why, sizeof why) ? 1 : 0);
    return buf_take(&b, len);
}

bool metrics_healthy(struct cse *cse, char *why, size_t whylen)
{
    if (!atomic_load(&cse->ready)) {
        snprintf(why, whylen, "bindings not up (starting or shutting down)");
        return false;
    }
    struct store_view *v = cse->store->ops->view_acquire(cse->store);
    struct store_row row;
    int rc = v ? cse->store->ops->get_ri(v, cse->cb_ri, cse_now(cse), &row) : STORE_ERROR;
    if (v)
        cse->store->ops->view_release(cse->store, v);
    if (rc == STORE_OK)
        store_row_free(&row);
    if (rc != STORE_OK) {
        snprintf(why, whylen, "store does not answer");
        return false;
    }
    snprintf(why, whylen, "store and bindings up");
    return true;
}
