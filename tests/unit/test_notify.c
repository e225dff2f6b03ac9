/* Unit tests for notify: delivery of Notify requests (TS-0004 §7.5.1) over HTTP (TS-0009 §6) to a real
 * receiver (libmicrohttpd on 127.0.0.1, ephemeral port), retries, the queue bound, the outbound policy
 * and shutdown. Every test keeps its timeouts short: the whole file runs in a few seconds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "notify/notify.h"
#include "util/log.h"

#define MAX_REQS 64
#define WAIT_MS  8000 /* upper bound for any expected callback; a hang fails instead of blocking ctest */

/* ---- helpers: time, logging ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The notifier logs at debug level so every log statement is formatted under the sanitizers; the
 * lines go to /dev/null unless NOTIFY_TEST_LOG is set. */
static struct log test_log;
static FILE *log_sink;

/* ---- the receiver ---- */

struct rec_req {
    char method[16];
    char url[128];
    char origin[128], ri[128], rvi[16], ctype[64];
    char body[1024];
    size_t body_len;
    uint16_t client_port; /* the notifier's side of the TCP connection */
    int64_t at_ms;
};

struct receiver {
    struct MHD_Daemon *d;
    uint16_t port;
    pthread_mutex_t lock;
    /* The answer: the first fail_first requests get fail_status, the rest status (+ rsc, location). */
    int status;
    const char *rsc; /* X-M2M-RSC value or NULL */
    const char *location;
    int fail_first, fail_status;
    struct rec_req reqs[MAX_REQS];
    int nreqs;
};

struct upload {
    char data[1024];
    size_t len;
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    (void)version;
    struct receiver *r = cls;
    struct upload *up = *req_cls;
    if (up == NULL) {
        *req_cls = calloc(1, sizeof *up);
        return *req_cls != NULL ? MHD_YES : MHD_NO;
    }
    if (*upload_data_size > 0) {
        size_t room = sizeof up->data - up->len;
        size_t n = *upload_data_size < room ? *upload_data_size : room;
        memcpy(up->data + up->len, upload_data, n);
        up->len += n;
        *upload_data_size = 0;
        return MHD_YES;
    }

    pthread_mutex_lock(&r->lock);
    int status = r->status;
    const char *rsc = r->rsc;
    if (r->nreqs < r->fail_first) {
        status = r->fail_status;
        rsc = NULL;
    }
    if (r->nreqs < MAX_REQS) {
        struct rec_req *q = &r->reqs[r->nreqs];
        memset(q, 0, sizeof *q);
        snprintf(q->method, sizeof q->method, "%s", method);
        snprintf(q->url, sizeof q->url, "%s", url);
        const char *v;
        if ((v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-M2M-Origin")) != NULL)
            snprintf(q->origin, sizeof q->origin, "%s", v);
        if ((v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-M2M-RI")) != NULL)
            snprintf(q->ri, sizeof q->ri, "%s", v);
        if ((v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-M2M-RVI")) != NULL)
            snprintf(q->rvi, sizeof q->rvi, "%s", v);
        if ((v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type")) != NULL)
            snprintf(q->ctype, sizeof q->ctype, "%s", v);
        memcpy(q->body, up->data, up->len);
        q->body_len = up->len;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci != NULL && ci->client_addr->sa_family == AF_INET)
            q->client_port = ntohs(((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_port);
        q->at_ms = mono_ms();
    }
    r->nreqs++;
    const char *location = r->location;
    pthread_mutex_unlock(&r->lock);

    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    if (rsc != NULL)
        MHD_add_response_header(resp, "X-M2M-RSC", rsc);
    if (location != NULL)
        MHD_add_response_header(resp, "Location", location);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    free(*req_cls);
    *req_cls = NULL;
}

static void receiver_start(struct receiver *r, int status, const char *rsc)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    r->status = status;
    r->rsc = rsc;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    r->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, r,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                            NULL, MHD_OPTION_END);
    assert_non_null(r->d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(r->d, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    r->port = info->port;
    assert_true(r->port != 0);
}

static void receiver_set(struct receiver *r, int status, const char *rsc, const char *location)
{
    pthread_mutex_lock(&r->lock);
    r->status = status;
    r->rsc = rsc;
    r->location = location;
    pthread_mutex_unlock(&r->lock);
}

static int receiver_count(struct receiver *r)
{
    pthread_mutex_lock(&r->lock);
    int n = r->nreqs;
    pthread_mutex_unlock(&r->lock);
    return n;
}

static void receiver_stop(struct receiver *r)
{
    MHD_stop_daemon(r->d);
    pthread_mutex_destroy(&r->lock);
}

/* A port where nothing listens: connections are refused. */
static uint16_t dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* A listener that never accepts: connections complete in the kernel, no answer ever comes. */
static int blackhole(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 64), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* ---- callback bookkeeping ---- */

struct tally {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int total;
};

struct slot {
    struct tally *t;
    int calls;
    struct out_response res;
};

static void tally_init(struct tally *t)
{
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
    t->total = 0;
}

static void tally_destroy(struct tally *t)
{
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
}

static void on_done(void *arg, const struct out_response *res)
{
    struct slot *s = arg;
    pthread_mutex_lock(&s->t->lock);
    s->calls++;
    s->res = *res;
    s->t->total++;
    pthread_cond_broadcast(&s->t->cond);
    pthread_mutex_unlock(&s->t->lock);
}

/* Wait until total >= want; fails the test after WAIT_MS. */
static void tally_wait(struct tally *t, int want)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&t->lock);
    int rc = 0;
    while (t->total < want && rc == 0)
        rc = pthread_cond_timedwait(&t->cond, &t->lock, &until);
    int got = t->total;
    pthread_mutex_unlock(&t->lock);
    if (got < want)
        fail_msg("only %d of %d callbacks within %d ms", got, want, WAIT_MS);
}

static int tally_total(struct tally *t)
{
    pthread_mutex_lock(&t->lock);
    int n = t->total;
    pthread_mutex_unlock(&t->lock);
    return n;
}

/* ---- notifier helpers ---- */

static struct outbound_config base_cfg(void)
{
    struct outbound_config c = {.queue_max = 64,
                                .timeout_ms = 2000,
                                .connect_timeout_ms = 1000,
                                .max_attempts = 1,
                                .backoff_ms = 50,
                                .max_parallel = 4};
    return c;
}

static struct outbound *start(const struct outbound_config *cfg)
{
    char err[256] = "";
    struct outbound *n = outbound_start(cfg, &test_log, err, sizeof err);
    if (n == NULL)
        fail_msg("outbound_start: %s", err);
    return n;
}

static void url_for(char *out, size_t len, const char *host, uint16_t port, const char *path)
{
    snprintf(out, len, "http://%s:%u%s", host, (unsigned)port, path);
}

static const char body_json[] = "{\"m2m:sgn\":{\"nev\":{\"rep\":{\"m2m:cin\":{\"con\":\"21.5\"}},\"net\":3},"
                                "\"sur\":\"/id-in/sub1\"}}";

/* Send one notification and wait for its outcome. */
static struct out_response send_and_wait(struct outbound *n, const char *uri)
{
    struct tally t;
    tally_init(&t);
    struct slot s = {.t = &t};
    assert_int_equal(notify_send(n, uri, body_json, strlen(body_json), "CAdmin", on_done, &s), 0);
    tally_wait(&t, 1);
    assert_int_equal(s.calls, 1);
    tally_destroy(&t);
    return s.res;
}

/* ---- tests ---- */

/* TS-0009 §6.2.1 / §6.4: a Notify is a POST carrying X-M2M-Origin, X-M2M-RI, X-M2M-RVI and a JSON
 * Content-Type without ty=, and the body unchanged. Each notification gets its own request ID, and
 * consecutive notifications to one receiver reuse the connection. The environment names a dead
 * proxy (see main): delivery must ignore it. */
static void test_delivery_headers_and_body(void **state)
{
    (void)state;
    struct receiver r;
    receiver_start(&r, 200, NULL);
    struct outbound_config cfg = base_cfg();
    struct outbound *n = start(&cfg);
    char uri[128];
    url_for(uri, sizeof uri, "127.0.0.1", r.port, "/notify/ae1");

    struct out_response res = send_and_wait(n, uri);
    assert_int_equal(res.rsc, 2000);
    assert_int_equal(res.http_status, 200);
    assert_int_equal(res.attempts, 1);
    res = send_and_wait(n, uri);
    assert_int_equal(res.rsc, 2000);

    assert_int_equal(receiver_count(&r), 2);
    for (int i = 0; i < 2; i++) {
        const struct rec_req *q = &r.reqs[i];
        assert_string_equal(q->method, "POST");
        assert_string_equal(q->url, "/notify/ae1");
        assert_string_equal(q->origin, "CAdmin");
        assert_string_equal(q->rvi, "3");
        assert_string_equal(q->ctype, "application/json");
        assert_true(strlen(q->ri) > 0);
        assert_int_equal(q->body_len, strlen(body_json));
        assert_memory_equal(q->body, body_json, q->body_len);
    }
    assert_string_not_equal(r.reqs[0].ri, r.reqs[1].ri);
    assert_true(r.reqs[0].client_port != 0);
    assert_int_equal(r.reqs[0].client_port, r.reqs[1].client_port); /* kept alive */

    struct outbound_stats st;
    outbound_get_stats(n, &st);
    assert_int_equal(st.queued, 2);
    assert_int_equal(st.delivered, 2);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.pending, 0);
    outbound_stop(n, 1000);
    receiver_stop(&r);
}

/* TS-0009 §6.4.17: the receiver's X-M2M-RSC is the result, whatever the HTTP status says; a 4xx is
 * the receiver's answer and is not retried. */
static void test_receiver_rsc_reported(void **state)
{
    (void)state;
    struct receiver r;
    receiver_start(&r, 201, "2001");
    struct outbound_config cfg = base_cfg();
    cfg.max_attempts = 3;
    cfg.backoff_ms = 10;
    struct outbound *n = start(&cfg);
    char uri[128];
    url_for(uri, sizeof uri, "127.0.0.1", r.port, "/");

    struct out_response res = send_and_wait(n, uri);
    assert_int_equal(res.rsc, 2001);
    assert_int_equal(res.http_status, 201);

    receiver_set(&r, 403, "4101", NULL);
    res = send_and_wait(n, uri);
    assert_int_equal(res.rsc, 4101);
    assert_int_equal(res.http_status, 403);
    assert_int_equal(res.attempts, 1);
    assert_int_equal(receiver_count(&r), 2);
    outbound_stop(n, 1000);
    receiver_stop(&r);
}

/* Without X-M2M-RSC the HTTP status is mapped back (TS-0009 table 6.3.2-1); a redirect is never
 * followed; a malformed X-M2M-RSC is ignored. */
static void test_status_mapping_without_rsc(void **state)
{
    (void)state;
    static const struct {
        int status;
        const char *rsc;
        const char *location;
        int want;
    } cases[] = {
        {200, NULL, NULL, 2000},   {204, NULL, NULL, 2000},    {400, NULL, NULL, 4000},
        {403, NULL, NULL, 4103},   {404, NULL, NULL, 4004},    {409, NULL, NULL, 4000},
        {200, "2x01", NULL, 2000}, {200, "99999", NULL, 2000}, {302, NULL, "/elsewhere", 5000},
    };
    struct receiver r;
    receiver_start(&r, 200, NULL);
    struct outbound_config cfg = base_cfg();
    cfg.max_attempts = 3;
    cfg.backoff_ms = 10;
    struct outbound *n = start(&cfg);
    char uri[128];
    url_for(uri, sizeof uri, "127.0.0.1", r.port, "/");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        receiver_set(&r, cases[i].status, cases[i].rsc, cases[i].location);
        int before = receiver_count(&r);
        struct out_response res = send_and_wait(n, uri);
        if (res.rsc != cases[i].want || res.http_status != cases[i].status || res.attempts != 1)
            fail_msg("HTTP %d (rsc header %s): got rsc %d, status %d, attempts %d; want rsc %d", cases[i].status,
                     cases[i].rsc ? cases[i].rsc : "none", res.rsc, res.http_status, res.attempts, cases[i].want);
        assert_int_equal(receiver_count(&r), before + 1); /* one request: no retry, no redirect */
    }
    outbound_stop(n, 1000);
    receiver_stop(&r);
}

/* A 5xx is retried after backoff_ms, then twice that, with the same request ID; success ends it.
 * When every attempt gets a 5xx, the last answer is the result. */
static void test_retry_with_backoff_on_500(void **state)
{
    (void)state;
    struct receiver r;
    receiver_start(&r, 200, "2000");
    r.fail_first = 2;
    r.fail_status = 500;
    struct outbound_config cfg = base_cfg();
    cfg.max_attempts = 4;
    cfg.backoff_ms = 100;
    struct outbound *n = start(&cfg);
    char uri[128];
    url_for(uri, sizeof uri, "127.0.0.1", r.port, "/");

    struct out_response res = send_and_wait(n, uri);
    assert_int_equal(res.rsc, 2000);
    assert_int_equal(res.http_status, 200);
    assert_int_equal(res.attempts, 3);
    assert_int_equal(receiver_count(&r), 3);
    assert_string_equal(r.reqs[0].ri, r.reqs[1].ri);
    assert_string_equal(r.reqs[1].ri, r.reqs[2].ri);
    int64_t gap1 = r.reqs[1].at_ms - r.reqs[0].at_ms, gap2 = r.reqs[2].at_ms - r.reqs[1].at_ms;
    if (gap1 < 100 || gap2 < 200 || gap2 > 2000)
        fail_msg("retry gaps %lld ms and %lld ms; want >= 100 and >= 200", (long long)gap1, (long long)gap2);

    struct outbound_stats st;
    outbound_get_stats(n, &st);
    assert_int_equal(st.retried, 2);
    assert_int_equal(st.delivered, 1);
    outbound_stop(n, 1000);

    /* Always 503: max_attempts requests, then the mapped failure. */
    cfg.backoff_ms = 10;
    cfg.max_attempts = 3;
    n = start(&cfg);
    receiver_set(&r, 503, NULL, NULL);
    int before = receiver_count(&r);
    res = send_and_wait(n, uri);
    assert_int_equal(res.rsc, 5000);
    assert_int_equal(res.http_status, 503);
    assert_int_equal(res.attempts, 3);
    assert_int_equal(receiver_count(&r), before + 3);
    outbound_get_stats(n, &st);
    assert_int_equal(st.failed, 1);
    outbound_stop(n, 1000);
    receiver_stop(&r);
}

/* A receiver that refuses connections: notify_send returns at once, the attempts back off, and the
 * result is TARGET_NOT_REACHABLE (5103) after max_attempts. */
static void test_dead_receiver_5103(void **state)
{
    (void)state;
    struct outbound_config cfg = base_cfg();
    cfg.max_attempts = 3;
    cfg.backoff_ms = 50;
    struct outbound *n = start(&cfg);
    char uri[128];
    url_for(uri, sizeof uri, "127.0.0.1", dead_port(), "/");

    struct tally t;
    tally_init(&t);
    struct slot s = {.t = &t};
    int64_t t0 = mono_ms();
    assert_int_equal(notify_send(n, uri, body_json, strlen(body_json), "CAdmin", on_done, &s), 0);
    int64_t send_ms = mono_ms() - t0;
    if (send_ms > 100)
        fail_msg("notify_send blocked for %lld ms", (long long)send_ms);
    /* The backoff alone (50 + 100 ms) keeps the callback away for now. */
    assert_int_equal(tally_total(&t), 0);
    tally_wait(&t, 1);
    int64_t total_ms = mono_ms() - t0;
    assert_int_equal(s.res.rsc, 5103);
    assert_int_equal(s.res.http_status, 0);
    assert_int_equal(s.res.attempts, 3);
    assert_true(total_ms >= 150);
    struct outbound_stats st;
    outbound_get_stats(n, &st);
    assert_int_equal(st.retried, 2);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.pending, 0);
    outbound_stop(n, 1000);
    tally_destroy(&t);
}

/* A receiver that accepts but never answers costs timeout_ms per attempt, then 5103. */
static void test_unresponsive_receiver_times_out(void **state)
{
    (void)state;
    uint16_t port;
    int fd = blackhole(&port);
    struct outbound_config cfg = base_cfg();
    cfg.timeout_ms = 300;
    cfg.max_attempts = 2;
    cfg.backoff_ms = 50;
    struct outbound *n = start(&cfg);
    char uri[128];
    url_for(uri, sizeof uri, "127.0.0.1", port, "/");
    int64_t t0 = mono_ms();
    struct out_response res = send_and_wait(n, uri);
    int64_t took = mono_ms() - t0;
    assert_int_equal(res.rsc, 5103);
    assert_int_equal(res.attempts, 2);
    if (took < 600 || took > 3000)
        fail_msg("two 300 ms attempts took %lld ms", (long long)took);
    outbound_stop(n, 1000);
    close(fd);
}

/* queue_max bounds queued plus in-flight notifications: beyond it notify_send fails at once and no
 * callback follows; once they are done, there is room again. */
static void test_queue_bound(void **state)
{
    (void)state;
    uint16_t port;
    int fd = blackhole(&port);
    struct outbound_config cfg = base_cfg();
    cfg.queue_max = 3;
    cfg.max_parallel = 2;
    cfg.timeout_ms = 300;
    struct outbound *n = start(&cfg);
    char uri[128];
    url_for(uri, sizeof uri, "127.0.0.1", port, "/");

    struct tally t;
    tally_init(&t);
    struct slot s[5] = {{.t = &t}, {.t = &t}, {.t = &t}, {.t = &t}, {.t = &t}};
    for (int i = 0; i < 3; i++)
        assert_int_equal(notify_send(n, uri, "{}", 2, "CAdmin", on_done, &s[i]), 0);
    assert_int_equal(notify_send(n, uri, "{}", 2, "CAdmin", on_done, &s[3]), -1);
    struct outbound_stats st;
    outbound_get_stats(n, &st);
    assert_int_equal(st.queued, 3);
    assert_int_equal(st.pending, 3);

    tally_wait(&t, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(s[i].calls, 1);
        assert_int_equal(s[i].res.rsc, 5103);
    }
    assert_int_equal(s[3].calls, 0);
    assert_int_equal(notify_send(n, uri, "{}", 2, "CAdmin", on_done, &s[4]), 0);
    outbound_stop(n, 0);
    assert_int_equal(s[4].calls, 1);
    assert_int_equal(s[3].calls, 0);
    tally_destroy(&t);
    close(fd);
}

/* Outbound policy: with loopback denied, an IP-literal target is refused before queueing (in any
 * spelling), and a name resolving to loopback is refused at connect time with 4103, not retried,
 * and nothing reaches the receiver. */
static void test_policy_denies_loopback(void **state)
{
    (void)state;
    struct receiver r;
    receiver_start(&r, 200, NULL);
    static const char *const deny[] = {"127.0.0.0/8", "::1/128"};
    struct outbound_config cfg = base_cfg();
    cfg.deny = deny;
    cfg.ndeny = 2;
    cfg.max_attempts = 3;
    cfg.backoff_ms = 10;
    struct outbound *n = start(&cfg);

    static const char *const refused_hosts[] = {"127.0.0.1",  "127.0.0.2",  "[::1]", "[::ffff:127.0.0.1]",
                                                "2130706433", "0x7f.0.0.1", "127.1", "0.0.0.0"};
    char uri[128], reason[160];
    for (size_t i = 0; i < sizeof refused_hosts / sizeof refused_hosts[0]; i++) {
        url_for(uri, sizeof uri, refused_hosts[i], r.port, "/");
        reason[0] = '\0';
        if (outbound_allowed(n, uri, reason, sizeof reason))
            fail_msg("%s allowed despite deny 127.0.0.0/8", uri);
        assert_true(strlen(reason) > 0);
        assert_int_equal(notify_send(n, uri, "{}", 2, "CAdmin", on_done, NULL), -1);
    }
    url_for(uri, sizeof uri, "127.0.0.1", r.port, "/");
    assert_true(outbound_allowed(n, "http://192.0.2.7:8080/x", reason, sizeof reason));

    url_for(uri, sizeof uri, "localhost", r.port, "/");
    assert_true(outbound_allowed(n, uri, reason, sizeof reason)); /* a name: judged at connect time */
    struct out_response res = send_and_wait(n, uri);
    assert_int_equal(res.rsc, 4103);
    assert_int_equal(res.http_status, 0);
    assert_int_equal(res.attempts, 1);
    assert_int_equal(receiver_count(&r), 0);

    struct outbound_stats st;
    outbound_get_stats(n, &st);
    assert_int_equal(st.queued, 1);
    assert_int_equal(st.refused, 1);
    assert_int_equal(st.retried, 0);
    outbound_stop(n, 1000);
    receiver_stop(&r);
}

/* The allow list carves exceptions out of the deny list, both before queueing and at connect time. */
static void test_policy_allow_exception(void **state)
{
    (void)state;
    struct receiver r;
    receiver_start(&r, 200, NULL);
    static const char *const deny[] = {"127.0.0.0/8"};
    static const char *const allow[] = {"127.0.0.1/32"};
    struct outbound_config cfg = base_cfg();
    cfg.deny = deny;
    cfg.ndeny = 1;
    cfg.allow = allow;
    cfg.nallow = 1;
    struct outbound *n = start(&cfg);
    char uri[128], reason[160];
    url_for(uri, sizeof uri, "127.0.0.1", r.port, "/");
    assert_true(outbound_allowed(n, uri, reason, sizeof reason));
    url_for(uri, sizeof uri, "127.0.0.2", r.port, "/");
    assert_false(outbound_allowed(n, uri, reason, sizeof reason));
    assert_true(outbound_allowed(n, "http://[::ffff:127.0.0.1]/", reason, sizeof reason));

    url_for(uri, sizeof uri, "127.0.0.1", r.port, "/");
    struct out_response res = send_and_wait(n, uri);
    assert_int_equal(res.rsc, 2000);
    url_for(uri, sizeof uri, "localhost", r.port, "/");
    res = send_and_wait(n, uri);
    assert_int_equal(res.rsc, 2000);
    assert_int_equal(receiver_count(&r), 2);
    outbound_stop(n, 1000);
    receiver_stop(&r);
}

/* Only http and https targets with a host; anything else is refused before queueing, as is an
 * originator that would inject header lines. */
/* Issue 12, finding 25: the secure profile refuses plaintext notification targets unless allowed,
 * and reaches a DAS over https with configured trust anchors only. */
static void test_finding_25_secure_profile_outbound_rules(void **state)
{
    (void)state;
    char reason[160];
    struct outbound_config cfg = base_cfg();
    cfg.secure = true;
    struct outbound *n = start(&cfg);
    assert_false(outbound_allowed(n, "http://192.0.2.1/n", reason, sizeof reason));
    assert_non_null(strstr(reason, "notify.plain_http"));
    assert_int_equal(notify_send(n, "http://192.0.2.1/n", "{}", 2, "CAdmin", on_done, NULL), -1);
    assert_false(outbound_allowed(n, "coap://192.0.2.1/n", reason, sizeof reason));
    assert_true(outbound_allowed(n, "https://192.0.2.1/n", reason, sizeof reason));
    assert_non_null(outbound_exchange_refusal(n, "http://192.0.2.1/das"));
    assert_non_null(outbound_exchange_refusal(n, "https://192.0.2.1/das")); /* no notify.ca */
    outbound_stop(n, 0);

    cfg.allow_plain_http = true;
    cfg.tls_ca = "/nonexistent/ca.pem";
    n = start(&cfg);
    assert_non_null(outbound_exchange_refusal(n, "https://192.0.2.1/das")); /* no client certificate */
    outbound_stop(n, 0);
    cfg.tls_cert = "/nonexistent/cse.pem";
    cfg.tls_key = "/nonexistent/cse.key";
    n = start(&cfg);
    assert_true(outbound_allowed(n, "http://192.0.2.1/n", reason, sizeof reason));
    assert_non_null(outbound_exchange_refusal(n, "http://192.0.2.1/das")); /* a DAS: never plain http */
    assert_null(outbound_exchange_refusal(n, "https://192.0.2.1/das"));
    outbound_stop(n, 0);

    cfg.secure = false;
    cfg.allow_plain_http = false;
    n = start(&cfg);
    assert_true(outbound_allowed(n, "http://192.0.2.1/n", reason, sizeof reason)); /* dev profile */
    assert_null(outbound_exchange_refusal(n, "http://192.0.2.1/das"));
    outbound_stop(n, 0);
}

static void test_bad_targets_refused(void **state)
{
    (void)state;
    struct outbound_config cfg = base_cfg();
    struct outbound *n = start(&cfg);
    static const char *const bad[] = {
        "ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://example.com/", "mqtt://broker:1883/t", "http://", "",
        "no scheme here",    "http://a b/",        "https://:443/"};
    char reason[160];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        reason[0] = '\0';
        if (outbound_allowed(n, bad[i], reason, sizeof reason))
            fail_msg("'%s' allowed", bad[i]);
        assert_true(strlen(reason) > 0);
        assert_int_equal(notify_send(n, bad[i], "{}", 2, "CAdmin", on_done, NULL), -1);
    }
    assert_false(outbound_allowed(n, NULL, reason, sizeof reason));
    assert_false(outbound_allowed(n, "file:///etc/passwd", NULL, 0));
    assert_true(outbound_allowed(n, "HTTPS://Example.COM:8443/n?x=1", reason, sizeof reason));
    assert_true(outbound_allowed(n, "http://[2001:db8::1]/", reason, sizeof reason));
    assert_int_equal(notify_send(n, "http://192.0.2.1/", "{}", 2, "CAdmin\r\nX-Evil: 1", on_done, NULL), -1);

    struct outbound_stats st;
    outbound_get_stats(n, &st);
    assert_int_equal(st.queued, 0);
    outbound_stop(n, 0);
}

/* A notifier with the default notify.deny of the configuration table (and the given allow list). */
static struct outbound *start_default_deny(const char *const *allow, size_t nallow)
{
    struct cse_config c;
    config_defaults(&c);
    static char text[4096];
    snprintf(text, sizeof text, "%s", c.notify_deny);
    config_free(&c);
    static const char *deny[256];
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(text, ",", &save); t && n < 256; t = strtok_r(NULL, ",", &save))
        deny[n++] = t;
    struct outbound_config cfg = base_cfg();
    cfg.deny = deny;
    cfg.ndeny = n;
    cfg.allow = allow;
    cfg.nallow = nallow;
    return start(&cfg);
}

/* Finding 12: the default deny list is every IANA special-purpose block (IPv4 and IPv6), and an IPv6
 * address that carries an IPv4 address (NAT64 64:ff9b::/96, 6to4 2002::/16, IPv4-compatible ::/96,
 * IPv4-mapped) is judged by that IPv4 address too; public addresses in those forms stay reachable. */
static void test_finding_12_default_deny_special_purpose_and_embedded_v4(void **state)
{
    (void)state;
    struct outbound *n = start_default_deny(NULL, 0);
    static const char *const refused[] = {
        /* the reported gaps */
        "[64:ff9b::7f00:1]", "[64:ff9b::a00:1]", "[64:ff9b::c0a8:101]", "[2002:7f00:1::1]", "[2002:a00:1:1::5]",
        "[2002:a9fe:a9fe::1]", "[::127.0.0.1]", "[::10.0.0.1]", "[::a9fe:a9fe]", "198.18.0.1", "198.19.255.254",
        "[64:ff9b::c612:1]", /* NAT64 of 198.18.0.1 */
        /* the rest of the IPv4 registry, multicast */
        "0.1.2.3", "10.1.1.1", "100.64.0.1", "127.0.0.1", "169.254.169.254", "172.31.0.1", "192.0.0.9", "192.0.0.170",
        "192.0.2.1", "192.31.196.1", "192.52.193.1", "192.88.99.1", "192.168.0.1", "192.175.48.1", "198.51.100.1",
        "203.0.113.1", "240.0.0.1", "255.255.255.255", "224.0.0.1", "239.255.255.250", "[::ffff:10.0.0.1]",
        "[::ffff:198.18.0.1]",
        /* the IPv6 registry */
        "[::1]", "[::]", "[64:ff9b:1::a00:1]", "[100::1]", "[2001::1]", "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",
        "[2001:1::1]", "[2001:2::1]", "[2001:3::1]", "[2001:4:112::1]", "[2001:10::1]", "[2001:20::1]", "[2001:30::1]",
        "[2001:db8::1]", "[2620:4f:8000::1]", "[3fff::1]", "[5f00::1]", "[fc00::1]", "[fd12:3456::1]", "[fe80::1]",
        "[fec0::1]", "[ff02::1]"};
    char uri[160], reason[160];
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        url_for(uri, sizeof uri, refused[i], 80, "/n");
        if (outbound_allowed(n, uri, reason, sizeof reason))
            fail_msg("%s allowed by the default notify.deny", uri);
    }
    static const char *const allowed[] = {"8.8.8.8",           "1.1.1.1",           "192.0.3.1",
                                          "198.20.0.1",        "[2606:4700::1111]", "[64:ff9b::808:808]",
                                          "[2002:808:808::1]", "[::8.8.8.8]",       "[::ffff:8.8.8.8]",
                                          "[2a00:1450::1]"};
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        url_for(uri, sizeof uri, allowed[i], 80, "/n");
        if (!outbound_allowed(n, uri, reason, sizeof reason))
            fail_msg("%s refused by the default notify.deny: %s", uri, reason);
    }
    /* the check coap:// targets and DAS addresses use (notify_host_allowed) is the same */
    assert_false(outbound_host_allowed(n, "64:ff9b::7f00:1"));
    assert_false(outbound_host_allowed(n, "[2002:a00:1::1]"));
    assert_false(outbound_host_allowed(n, "198.18.0.1"));
    assert_true(outbound_host_allowed(n, "[64:ff9b::808:808]"));
    outbound_stop(n, 0);

    /* an allowed IPv4 address is allowed in its embedded forms too */
    static const char *const allow[] = {"10.0.0.1/32"};
    n = start_default_deny(allow, 1);
    assert_true(outbound_allowed(n, "http://[64:ff9b::a00:1]/", reason, sizeof reason));
    assert_true(outbound_allowed(n, "http://[::ffff:10.0.0.1]/", reason, sizeof reason));
    assert_true(outbound_allowed(n, "http://10.0.0.1/", reason, sizeof reason));
    assert_false(outbound_allowed(n, "http://[64:ff9b::a00:2]/", reason, sizeof reason));
    outbound_stop(n, 0);
}

/* CIDRs are parsed once at start; a malformed one fails the start and is named. */
static void test_malformed_cidr_fails_start(void **state)
{
    (void)state;
    static const char *const bad[] = {"10.0.0.0/33", "300.1.1.1/8", "::1/129", "abc",          "10.0.0.0/",
                                      "10.0.0.0/8x", "10.0.0.0/-1", "",        "10.0.0.0/08/1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *list[] = {"192.168.0.0/16", bad[i]};
        struct outbound_config cfg = base_cfg();
        cfg.deny = list;
        cfg.ndeny = 2;
        char err[256] = "";
        struct outbound *n = outbound_start(&cfg, &test_log, err, sizeof err);
        if (n != NULL) {
            outbound_stop(n, 0);
            fail_msg("'%s' accepted as a CIDR", bad[i]);
        }
        char quoted[64];
        snprintf(quoted, sizeof quoted, "'%s'", bad[i]);
        if (strstr(err, quoted) == NULL)
            fail_msg("error '%s' does not name '%s'", err, bad[i]);
    }
    static const char *const good[] = {"10.0.0.0/8", "::1/128", "fe80::/10", "192.168.1.1", "0.0.0.0/0", "::/0"};
    struct outbound_config cfg = base_cfg();
    cfg.allow = good;
    cfg.nallow = sizeof good / sizeof good[0];
    struct outbound *n = start(&cfg);
    outbound_stop(n, 0);
}

/* notifier_stop lets finishable work finish within the grace period and reports every other
 * notification (queued, in flight, waiting for a retry) with 5103: each callback exactly once. */
static void test_stop_reports_every_callback_once(void **state)
{
    (void)state;
    struct receiver r;
    receiver_start(&r, 200, NULL);
    uint16_t hole_port;
    int hole = blackhole(&hole_port);
    struct outbound_config cfg = base_cfg();
    cfg.timeout_ms = 10000;
    cfg.max_parallel = 4;
    cfg.max_attempts = 2;
    cfg.backoff_ms = 20000;
    struct outbound *n = start(&cfg);

    enum { NGOOD = 8, NHOLE = 8, N = NGOOD + NHOLE + 1 };
    struct tally t;
    tally_init(&t);
    struct slot s[N];
    for (int i = 0; i < N; i++)
        s[i] = (struct slot){.t = &t};
    char good[128], hole_uri[128], dead[128];
    url_for(good, sizeof good, "127.0.0.1", r.port, "/");
    url_for(hole_uri, sizeof hole_uri, "127.0.0.1", hole_port, "/");
    url_for(dead, sizeof dead, "127.0.0.1", dead_port(), "/");
    /* The dead target fails at once and then waits 20 s for its retry. */
    assert_int_equal(notify_send(n, dead, "{}", 2, "CAdmin", on_done, &s[N - 1]), 0);
    for (int i = 0; i < NGOOD; i++)
        assert_int_equal(notify_send(n, good, "{}", 2, "CAdmin", on_done, &s[i]), 0);
    for (int i = NGOOD; i < NGOOD + NHOLE; i++)
        assert_int_equal(notify_send(n, hole_uri, "{}", 2, "CAdmin", on_done, &s[i]), 0);

    int64_t t0 = mono_ms();
    outbound_stop(n, 1000);
    int64_t took = mono_ms() - t0;
    assert_int_equal(tally_total(&t), N);
    for (int i = 0; i < N; i++) {
        if (s[i].calls != 1)
            fail_msg("notification %d reported %d times", i, s[i].calls);
        int want = i < NGOOD ? 2000 : 5103;
        if (s[i].res.rsc != want)
            fail_msg("notification %d: rsc %d, want %d", i, s[i].res.rsc, want);
    }
    assert_int_equal(s[N - 1].res.attempts, 1);
    if (took < 900 || took > 3000)
        fail_msg("stop with a 1000 ms grace took %lld ms", (long long)took);
    tally_destroy(&t);
    close(hole);

    /* With nothing left to do, stop does not sit out the grace period. */
    n = start(&cfg);
    struct out_response res = send_and_wait(n, good);
    assert_int_equal(res.rsc, 2000);
    t0 = mono_ms();
    outbound_stop(n, 5000);
    took = mono_ms() - t0;
    if (took > 1000)
        fail_msg("idle stop took %lld ms", (long long)took);
    receiver_stop(&r);
}

int main(void)
{
    /* A proxy that does not exist: deliveries only work if the notifier ignores the environment. */
    setenv("http_proxy", "http://127.0.0.1:9/", 1);
    setenv("https_proxy", "http://127.0.0.1:9/", 1);
    setenv("ALL_PROXY", "http://127.0.0.1:9/", 1);
    const char *verbose = getenv("NOTIFY_TEST_LOG");
    log_sink = verbose != NULL ? stderr : fopen("/dev/null", "w");
    log_init(&test_log, LOG_DEBUG, log_sink != NULL ? log_sink : stderr);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delivery_headers_and_body),
        cmocka_unit_test(test_receiver_rsc_reported),
        cmocka_unit_test(test_status_mapping_without_rsc),
        cmocka_unit_test(test_retry_with_backoff_on_500),
        cmocka_unit_test(test_dead_receiver_5103),
        cmocka_unit_test(test_unresponsive_receiver_times_out),
        cmocka_unit_test(test_queue_bound),
        cmocka_unit_test(test_policy_denies_loopback),
        cmocka_unit_test(test_policy_allow_exception),
        cmocka_unit_test(test_bad_targets_refused),
        cmocka_unit_test(test_finding_25_secure_profile_outbound_rules),
        cmocka_unit_test(test_malformed_cidr_fails_start),
        cmocka_unit_test(test_finding_12_default_deny_special_purpose_and_embedded_v4),
        cmocka_unit_test(test_stop_reports_every_callback_once),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    log_destroy(&test_log);
    if (log_sink != NULL && log_sink != stderr)
        fclose(log_sink);
    return rc;
}
