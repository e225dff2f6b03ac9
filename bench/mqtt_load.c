/* warden-mqtt-load: oneM2M request throughput over MQTT (TS-0010, JSON primitives), for bench/run.sh (libmosquitto).
 *
 *   warden-mqtt-load retrieve|create --port BROKER_PORT --to cse-in/Cbench/cnt/cin1 --origin Cbench [options]
 *
 * One MQTT 3.1.1 connection to the broker (clean session, a ClientId of its own), subscribed with QoS 1 to the
 * originator's response topic /oneM2M/resp/<origin>/<cse>/json. --inflight N requests are outstanding at any
 * time: each is published with QoS --qos (default 1) to /oneM2M/req/<origin>/<cse>/json, and as soon as the
 * response of one arrives, the next request of that slot is published (closed loop, like wrk or warden-tls-load
 * keepalive with N connections). Responses are told apart by rqi (<ri-prefix><slot>-<n>). First one untimed
 * request per slot, then the timed period of --duration seconds; rate = responses completed within it per second.
 *
 *   retrieve  {"op":2,"to":TO,"fr":ORIGIN,"rqi":..,"rvi":"3"}                          expects rsc 2000
 *   create    {"op":1,"to":TO,"fr":ORIGIN,"rqi":..,"rvi":"3","ty":4,"pc":BODY}          expects rsc 2001
 *             (BODY default: a ~100-byte {"m2m:cin":{"con":...}}; TO is then a container)
 *
 * Every response is checked: it must be a JSON object whose top-level "rsc" is the expected one (--expect RSC
 * overrides 2000 / 2001) and whose "rqi" is the one a slot has outstanding (err_rsc, err_rqi: a response for an
 * rqi nobody waits for, e.g. a duplicate, is an error too); no response within --timeout seconds is err_timeout,
 * a refused connection or a lost one err_conn. The run stops early after --max-errors errors.
 *
 * Options:
 *   --host 127.0.0.1 --port P (the broker)  --cse id-in (the CSE's topic level)  --qos 1
 *   --to PATH --origin O --rvi 3 --body JSON --ri-prefix M --expect RSC
 *   --inflight N (default 4)  --duration S (default 5, fractions allowed)  --count N (stop after N timed requests)
 *   --timeout S (default 5)   --max-errors N (default 100)
 *
 * Output, one line on stdout (latencies in microseconds, nearest-rank percentiles, of the timed requests: from
 * the publish to the arrival of the response):
 *   MQTT_RESULT mode=retrieve|create qos=1 inflight=.. seconds=.. ops=.. rate=.. p50_us=.. p90_us=.. p99_us=..
 *               mean_us=.. max_us=.. first_rsc=.. err_rsc=.. err_rqi=.. err_timeout=.. err_conn=.. errors=..
 *               client_cpu_us=.. status=ok|failed
 * Exit status: 0 when status=ok (no error, untimed requests included, at least one request completed), 1
 * otherwise, 2 on a usage error. The first few errors are described on stderr. */
#include <errno.h>
#include <mosquitto.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* ---- configuration ------------------------------------------------------------------------------ */
enum mode { MODE_RETRIEVE, MODE_CREATE };
static enum mode mode;
static const char *host = "127.0.0.1";
static int port;
static const char *cse = "id-in";
static int qos = 1;
static const char *to;
static const char *origin;
static const char *rvi = "3";
static const char *body =
    "{\"m2m:cin\":{\"con\":\"temperature=21.5;humidity=40;pressure=1013;sensor=bench-0001;seq=0000000000;"
    "pad=xxxxxxxxxxxxxxxxxxxx\"}}";
static const char *ri_prefix = "M";
static long expect_rsc = -1;
static int ninflight = 4;
static double duration = 5;
static long count_limit;
static double timeout_s = 5;
static long max_errors = 100;

enum err { E_RSC, E_RQI, E_TIMEOUT, E_CONN, E_COUNT };
static const char *const err_names[E_COUNT] = {"err_rsc", "err_rqi", "err_timeout", "err_conn"};

struct slot {
    int id;
    bool busy, timed;
    double t0;
    long seq;
    char rqi[64];
    size_t rqi_len;
};

/* ---- run state (one thread: this one drives libmosquitto's loop and runs its callbacks) ---------------- */
static struct mosquitto *mosq;
static char req_topic[256], resp_topic[256];
static char *msg;
static size_t msgcap;
static struct slot *slots;
static double *lat;
static size_t nlat, latcap;
static long errs[E_COUNT], nerrors, issued;
static bool timing, stop, connected, subscribed;
static int connack_rc = -1;
static double t_start, t_deadline;
static long first_rsc = -1;
static int messages_left = 5;
static long run_tag; /* this process's id: rqis stay distinct across runs */

__attribute__((format(printf, 1, 2))) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("warden-mqtt-load: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((format(printf, 2, 3))) static void note_error(enum err k, const char *fmt, ...)
{
    errs[k]++;
    if (++nerrors >= max_errors)
        stop = true;
    if (messages_left > 0) {
        messages_left--;
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "warden-mqtt-load: %s: ", err_names[k]);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
}

static void record(double secs)
{
    if (nlat == latcap) {
        latcap = latcap ? latcap * 2 : 4096;
        lat = realloc(lat, latcap * sizeof *lat);
        if (lat == NULL)
            die("out of memory");
    }
    lat[nlat++] = secs;
}

static void send_request(struct slot *sl)
{
    sl->seq++;
    sl->rqi_len = (size_t)snprintf(sl->rqi, sizeof sl->rqi, "%s%d-%ld.%ld", ri_prefix, sl->id, run_tag, sl->seq);
    int n;
    if (mode == MODE_CREATE)
        n = snprintf(msg, msgcap,
                     "{\"op\":1,\"to\":\"%s\",\"fr\":\"%s\",\"rqi\":\"%s\",\"rvi\":\"%s\",\"ty\":4,\"pc\":%s}", to,
                     origin, sl->rqi, rvi, body);
    else
        n = snprintf(msg, msgcap, "{\"op\":2,\"to\":\"%s\",\"fr\":\"%s\",\"rqi\":\"%s\",\"rvi\":\"%s\"}", to, origin,
                     sl->rqi, rvi);
    if (n < 0 || (size_t)n >= msgcap)
        die("request primitive too long");
    sl->busy = true;
    sl->timed = timing;
    issued += timing;
    sl->t0 = now_s();
    int rc = mosquitto_publish(mosq, NULL, req_topic, n, msg, qos, false);
    if (rc != MOSQ_ERR_SUCCESS) {
        sl->busy = false;
        note_error(E_CONN, "publish: %s", mosquitto_strerror(rc));
    }
}

static bool may_issue(void)
{
    return timing && !stop && now_s() < t_deadline && (count_limit == 0 || issued < count_limit);
}

/* ---- the response primitive: top-level "rsc" (number) and "rqi" (string) of a JSON object --------------- */
static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* p at '"': returns the position after the closing quote (NULL if unterminated); *s, *n = the raw content */
static const char *scan_string(const char *p, const char *e, const char **s, size_t *n)
{
    const char *q = ++p;
    while (q < e && *q != '"')
        q += *q == '\\' ? 2 : 1;
    if (q >= e)
        return NULL;
    *s = p;
    *n = (size_t)(q - p);
    return q + 1;
}

static const char *skip_value(const char *p, const char *e)
{
    if (p >= e)
        return NULL;
    if (*p == '"') {
        const char *s;
        size_t n;
        return scan_string(p, e, &s, &n);
    }
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (p < e) {
            if (*p == '"') {
                const char *s;
                size_t n;
                if ((p = scan_string(p, e, &s, &n)) == NULL)
                    return NULL;
                continue;
            }
            if (*p == '{' || *p == '[')
                depth++;
            else if (*p == '}' || *p == ']') {
                if (--depth == 0)
                    return p + 1;
            }
            p++;
        }
        return NULL;
    }
    while (p < e && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' && *p != '\r' && *p != '\t')
        p++;
    return p;
}

/* 0 when the payload is an object; *rsc = -1 / *rqi = NULL when absent or of the wrong type */
static int parse_response(const char *p, size_t len, long *rsc, const char **rqi, size_t *rqi_len)
{
    const char *e = p + len;
    *rsc = -1;
    *rqi = NULL;
    *rqi_len = 0;
    p = skip_ws(p, e);
    if (p >= e || *p != '{')
        return -1;
    p = skip_ws(p + 1, e);
    if (p < e && *p == '}')
        return 0;
    while (p < e) {
        const char *k;
        size_t kn;
        if (*p != '"' || (p = scan_string(p, e, &k, &kn)) == NULL)
            return -1;
        p = skip_ws(p, e);
        if (p >= e || *p != ':')
            return -1;
        p = skip_ws(p + 1, e);
        const char *v = p;
        if ((p = skip_value(p, e)) == NULL)
            return -1;
        if (kn == 3 && memcmp(k, "rsc", 3) == 0 && v < e && *v >= '0' && *v <= '9') {
            long x = 0;
            for (const char *q = v; q < p && *q >= '0' && *q <= '9' && x < 100000; q++)
                x = x * 10 + (*q - '0');
            *rsc = x;
        } else if (kn == 3 && memcmp(k, "rqi", 3) == 0 && *v == '"') {
            *rqi = v + 1;
            *rqi_len = (size_t)(p - v - 2);
        }
        p = skip_ws(p, e);
        if (p < e && *p == ',') {
            p = skip_ws(p + 1, e);
            continue;
        }
        return p < e && *p == '}' ? 0 : -1;
    }
    return -1;
}

/* ---- callbacks ---------------------------------------------------------------------------------- */
static void on_connect(struct mosquitto *m, void *obj, int rc)
{
    (void)obj;
    connack_rc = rc;
    if (rc != 0)
        return;
    connected = true;
    int s = mosquitto_subscribe(m, NULL, resp_topic, 1);
    if (s != MOSQ_ERR_SUCCESS)
        note_error(E_CONN, "subscribe: %s", mosquitto_strerror(s));
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted)
{
    (void)m, (void)obj, (void)mid;
    if (n != 1 || granted[0] > 2) /* 0x80: refused */
        note_error(E_CONN, "subscription to %s refused", resp_topic);
    else
        subscribed = true;
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc)
{
    (void)m, (void)obj;
    if (connected && !stop)
        note_error(E_CONN, "the broker closed the connection (%s)", rc == 0 ? "on request" : mosquitto_strerror(rc));
    connected = false;
    stop = true;
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *mm)
{
    (void)m, (void)obj;
    double t1 = now_s();
    const char *payload = mm->payload;
    size_t len = mm->payloadlen > 0 ? (size_t)mm->payloadlen : 0;
    if (strcmp(mm->topic, resp_topic) != 0) {
        note_error(E_RQI, "a message on %s", mm->topic);
        return;
    }
    long rsc;
    const char *rqi;
    size_t rqi_len;
    if (parse_response(payload, len, &rsc, &rqi, &rqi_len) != 0 || rqi == NULL) {
        note_error(E_RQI, "a response that is not a primitive with an rqi: %.*s", (int)(len < 200 ? len : 200),
                   payload);
        return;
    }
    /* the slot from <ri-prefix><slot>-<n> */
    size_t pl = strlen(ri_prefix);
    long id = 0;
    if (rqi_len > pl && memcmp(rqi, ri_prefix, pl) == 0)
        for (size_t i = pl; i < rqi_len && rqi[i] >= '0' && rqi[i] <= '9' && id <= ninflight; i++)
            id = id * 10 + (rqi[i] - '0');
    struct slot *sl = id >= 1 && id <= ninflight ? &slots[id - 1] : NULL;
    if (sl == NULL || !sl->busy || rqi_len != sl->rqi_len || memcmp(rqi, sl->rqi, rqi_len) != 0) {
        note_error(E_RQI, "a response for rqi '%.*s', which no request has outstanding (rsc %ld)",
                   (int)(rqi_len < 64 ? rqi_len : 64), rqi, rsc);
        return;
    }
    sl->busy = false;
    if (first_rsc < 0)
        first_rsc = rsc;
    long want = expect_rsc >= 0 ? expect_rsc : (mode == MODE_CREATE ? 2001 : 2000);
    if (rsc != want) {
        note_error(E_RSC, "request %s: rsc %ld, expected %ld: %.*s", sl->rqi, rsc, want, (int)(len < 300 ? len : 300),
                   payload);
    } else if (sl->timed && t1 <= t_deadline) {
        record(t1 - sl->t0);
    }
    if (may_issue())
        send_request(sl);
}

/* ---- the loop ----------------------------------------------------------------------------------- */
static void check_timeouts(void)
{
    double now = now_s();
    for (int i = 0; i < ninflight; i++)
        if (slots[i].busy && now - slots[i].t0 > timeout_s) {
            slots[i].busy = false;
            note_error(E_TIMEOUT, "request %s: no response within %.1f s", slots[i].rqi, timeout_s);
        }
}

static bool any_busy(void)
{
    for (int i = 0; i < ninflight; i++)
        if (slots[i].busy)
            return true;
    return false;
}

static void loop_once(void)
{
    int rc = mosquitto_loop(mosq, 50, 1);
    if (rc != MOSQ_ERR_SUCCESS && !stop) {
        note_error(E_CONN, "%s", rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
        stop = true;
    }
}

static void drain(void)
{
    for (check_timeouts(); any_busy() && !stop; check_timeouts())
        loop_once();
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *sorted, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t rank = (size_t)((p / 100.0) * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

static void usage(void)
{
    fprintf(stderr,
            "usage: warden-mqtt-load retrieve|create --port BROKER_PORT --to cse-in/AE/CNT[/CIN] --origin O\n"
            "         [--host 127.0.0.1] [--cse id-in] [--qos 1] [--inflight 4] [--duration 5] [--count N]\n"
            "         [--timeout 5] [--max-errors 100] [--rvi 3] [--body JSON] [--ri-prefix M] [--expect RSC]\n");
    exit(2);
}

static double num_arg(const char *opt, const char *v, double lo, double hi)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || !(d >= lo && d <= hi))
        die("%s: a number in %g..%g expected (got '%s')", opt, lo, hi, v);
    return d;
}

static bool plain_text(const char *s) /* goes into a JSON string or a topic level unescaped */
{
    for (; *s; s++)
        if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20 || *s == '+' || *s == '#')
            return false;
    return true;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    if (strcmp(argv[1], "retrieve") == 0)
        mode = MODE_RETRIEVE;
    else if (strcmp(argv[1], "create") == 0)
        mode = MODE_CREATE;
    else
        usage();
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (strcmp(a, "--port") == 0)
            port = (int)num_arg(a, v, 1, 65535);
        else if (strcmp(a, "--host") == 0)
            host = v;
        else if (strcmp(a, "--cse") == 0)
            cse = v;
        else if (strcmp(a, "--qos") == 0)
            qos = (int)num_arg(a, v, 0, 2);
        else if (strcmp(a, "--to") == 0 || strcmp(a, "--path") == 0)
            to = v;
        else if (strcmp(a, "--origin") == 0)
            origin = v;
        else if (strcmp(a, "--rvi") == 0)
            rvi = v;
        else if (strcmp(a, "--body") == 0)
            body = v;
        else if (strcmp(a, "--ri-prefix") == 0)
            ri_prefix = v;
        else if (strcmp(a, "--expect") == 0)
            expect_rsc = (long)num_arg(a, v, 1000, 9999);
        else if (strcmp(a, "--inflight") == 0 || strcmp(a, "--conns") == 0)
            ninflight = (int)num_arg(a, v, 1, 10000);
        else if (strcmp(a, "--duration") == 0)
            duration = num_arg(a, v, 0.01, 86400);
        else if (strcmp(a, "--count") == 0)
            count_limit = (long)num_arg(a, v, 1, 1e12);
        else if (strcmp(a, "--timeout") == 0)
            timeout_s = num_arg(a, v, 0.1, 3600);
        else if (strcmp(a, "--max-errors") == 0)
            max_errors = (long)num_arg(a, v, 1, 1e12);
        else
            usage();
    }
    if (port == 0 || to == NULL || origin == NULL)
        usage();
    if (to[0] == '/') /* an MQTT "to" is CSE-relative without the leading '/', like a CoAP Uri-Path */
        to++;
    if (!plain_text(to) || !plain_text(origin) || !plain_text(rvi) || !plain_text(ri_prefix) || !plain_text(cse) ||
        strchr(origin, '/') != NULL || strlen(ri_prefix) > 20 || ri_prefix[0] == '\0' ||
        (ri_prefix[strlen(ri_prefix) - 1] >= '0' && ri_prefix[strlen(ri_prefix) - 1] <= '9'))
        die("--to, --origin, --rvi, --ri-prefix, --cse: no quotes, backslashes, control characters, '+' or '#'; "
            "--origin without '/'; --ri-prefix 1..20 characters, not ending in a digit");
    snprintf(req_topic, sizeof req_topic, "/oneM2M/req/%s/%s/json", origin, cse);
    snprintf(resp_topic, sizeof resp_topic, "/oneM2M/resp/%s/%s/json", origin, cse);
    msgcap = strlen(to) + strlen(origin) + strlen(rvi) + strlen(body) + 256;
    msg = malloc(msgcap);
    slots = calloc((size_t)ninflight, sizeof *slots);
    if (msg == NULL || slots == NULL)
        die("out of memory");
    for (int i = 0; i < ninflight; i++)
        slots[i].id = i + 1;

    run_tag = (long)getpid();
    mosquitto_lib_init();
    char client_id[64];
    snprintf(client_id, sizeof client_id, "warden-mqtt-load-%ld", (long)getpid());
    mosq = mosquitto_new(client_id, true, NULL);
    if (mosq == NULL)
        die("mosquitto_new: %s", strerror(errno));
    /* no client-side cap on QoS 1 messages in flight (libmosquitto's default is 20): the --inflight requests are
     * all published at once */
    mosquitto_int_option(mosq, MOSQ_OPT_SEND_MAXIMUM, ninflight + 16 > 65535 ? 65535 : ninflight + 16);
    /* small request packets go out at once (Nagle's algorithm would hold one back until the previous is ACKed) */
    mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_connect_callback_set(mosq, on_connect);
    mosquitto_subscribe_callback_set(mosq, on_subscribe);
    mosquitto_disconnect_callback_set(mosq, on_disconnect);
    mosquitto_message_callback_set(mosq, on_message);
    int rc = mosquitto_connect(mosq, host, port, 30);
    if (rc != MOSQ_ERR_SUCCESS) {
        note_error(E_CONN, "connect %s:%d: %s", host, port,
                   rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
        stop = true;
    }
    double give_up = now_s() + timeout_s;
    while (!stop && !subscribed && now_s() < give_up) {
        loop_once();
        if (connack_rc > 0) {
            note_error(E_CONN, "connection refused: %s", mosquitto_connack_string(connack_rc));
            stop = true;
        }
    }
    if (!stop && !subscribed) {
        note_error(E_CONN, "no SUBACK for %s within %.1f s", resp_topic, timeout_s);
        stop = true;
    }

    /* one untimed request per slot */
    for (int i = 0; i < ninflight && !stop; i++)
        send_request(&slots[i]);
    drain();
    /* the timed period */
    double cpu0 = cpu_s();
    t_start = now_s();
    t_deadline = t_start + duration;
    timing = !stop && nerrors == 0; /* not after a failed untimed request */
    for (int i = 0; i < ninflight && may_issue(); i++)
        send_request(&slots[i]);
    while (!stop && now_s() < t_deadline) {
        loop_once();
        check_timeouts();
        if (!any_busy() && !may_issue())
            break;
    }
    double t_end = now_s();
    double cpu = cpu_s() - cpu0;
    timing = false;
    drain(); /* the requests still outstanding must be answered, and correctly (not counted) */
    double secs = count_limit > 0 || stop ? (t_end < t_deadline ? t_end : t_deadline) - t_start : duration;
    if (secs <= 0)
        secs = 1e-9;
    if (connected) {
        bool was_stop = stop;
        stop = true; /* our own disconnect is no error */
        mosquitto_disconnect(mosq);
        for (int i = 0; i < 20 && connected; i++)
            mosquitto_loop(mosq, 10, 1);
        stop = was_stop;
    }
    mosquitto_destroy(mosq);
    mosquitto_lib_cleanup();

    double sum = 0;
    for (size_t j = 0; j < nlat; j++)
        sum += lat[j];
    qsort(lat, nlat, sizeof *lat, cmp_double);
    bool ok = nerrors == 0 && nlat > 0;
    printf("MQTT_RESULT mode=%s qos=%d inflight=%d seconds=%.3f ops=%zu rate=%.1f p50_us=%.0f p90_us=%.0f p99_us=%.0f "
           "mean_us=%.0f max_us=%.0f first_rsc=%ld",
           mode == MODE_CREATE ? "create" : "retrieve", qos, ninflight, secs, nlat, (double)nlat / secs,
           pct(lat, nlat, 50) * 1e6, pct(lat, nlat, 90) * 1e6, pct(lat, nlat, 99) * 1e6,
           nlat > 0 ? sum / (double)nlat * 1e6 : 0.0, nlat > 0 ? lat[nlat - 1] * 1e6 : 0.0, first_rsc);
    for (int e = 0; e < E_COUNT; e++)
        printf(" %s=%ld", err_names[e], errs[e]);
    printf(" errors=%ld client_cpu_us=%.1f status=%s\n", nerrors, nlat > 0 ? cpu * 1e6 / (double)nlat : 0.0,
           ok ? "ok" : "failed");
    fflush(stdout);
    if (nlat == 0 && nerrors == 0)
        fprintf(stderr, "warden-mqtt-load: no request completed within %.3f s\n", secs);
    free(lat);
    free(slots);
    free(msg);
    return ok ? 0 : 1;
}
