/* warden-coap-load: oneM2M request throughput over CoAP (UDP) or CoAP over DTLS-PSK, for bench/run.sh (libcoap).
 *
 *   warden-coap-load retrieve|create --port P --path cse-in/Cbench/cnt/cin1 --origin Cbench [options]
 *
 * --sessions N CoAP client sessions (each its own UDP socket and, with DTLS, its own DTLS session), all driven by
 * one libcoap event loop. libcoap sends at most one outstanding confirmable request per session (NSTART = 1), so
 * N sessions = N requests in flight. Each session first sends one untimed request (which also completes the DTLS
 * handshake); then, for --duration seconds, each session sends its next request as soon as the previous response
 * arrived (closed loop, like wrk or warden-tls-load keepalive). rate = responses completed within the period per
 * second.
 *
 *   retrieve  CON GET  Uri-Path = --path, oneM2M-FR, oneM2M-RQI, oneM2M-RVI: expects 2.05 and oneM2M-RSC 2000
 *   create    CON POST Uri-Path = --path (a container), oneM2M-TY 4, Content-Format 10001 (res+json), payload
 *             --body (default: a ~100-byte {"m2m:cin":{"con":...}}): expects 2.01 and oneM2M-RSC 2001 (the server
 *             answers a durable create with an empty ACK first and a separate confirmable response after its
 *             commit; libcoap acknowledges it)
 *
 * Every request carries a distinct oneM2M-RQI <ri-prefix><session>-<n>; every response is checked: the CoAP code,
 * the oneM2M-RSC option (--expect RSC overrides the default 2000 / 2001, e.g. 4106 for a refused From) and the
 * oneM2M-RQI option, which must be the one of the request the session has outstanding (the token is matched by
 * libcoap). Anything else is an error: a wrong code or RSC (err_rsc), a missing or different RQI (err_rqi), a
 * reset or retransmissions exhausted (err_nack), a DTLS failure (err_dtls), no response within --timeout
 * (err_timeout). The run stops early after --max-errors errors.
 *
 * Options:
 *   --host 127.0.0.1 --port P          the server (IPv4 or IPv6 literal)
 *   --psk-identity ID --psk-key-file F DTLS with this PSK (F holds the key in hex, whitespace ignored); UDP without
 *   --path P --origin O --rvi 3 --body JSON --ri-prefix C --expect RSC
 *   --sessions N (default 4)  --duration S (default 5, fractions allowed)  --count N (stop after N timed requests)
 *   --timeout S (default 5)   --max-errors N (default 100)
 *
 * Output, one line on stdout (latencies in microseconds, nearest-rank percentiles, of the timed requests):
 *   COAP_RESULT mode=retrieve|create sec=udp|dtls-psk sessions=.. seconds=.. ops=.. rate=.. p50_us=.. p90_us=..
 *               p99_us=.. mean_us=.. max_us=.. first_code=2.05 first_rsc=2000 err_rsc=.. err_rqi=.. err_nack=..
 *               err_dtls=.. err_timeout=.. errors=.. client_cpu_us=.. status=ok|failed
 * client_cpu_us: this process's CPU time (user + system) during the timed period per completed request.
 * Exit status: 0 when status=ok (no error, untimed requests included, and at least one request completed), 1
 * otherwise, 2 on a usage error. The first few errors are described on stderr. */
#include <coap3/coap.h>
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* oneM2M CoAP options (TS-0008 Table 6.2.2.4.0-1) and Content-Formats used here */
enum {
    OPT_TY = 267,
    OPT_RVI = 271,
    OPT_FR = 279,
    OPT_RQI = 283,
    OPT_RSC = 307,
    CF_RES_JSON = 10001,
};

/* ---- oneM2M options and libcoap 4.3.1 -----------------------------------------------------------
 * libcoap rejects a message (a response too: it is then dropped and reset) that carries a critical option it
 * does not know, and its table of application options (coap_register_option) has room for only two options
 * numbered above 255; every oneM2M option is critical (odd) and above 255, and a response carries at least
 * oneM2M-RSC and oneM2M-RQI (and often oneM2M-RVI, -OT, ...). So this program takes the two long slots of its
 * context's table for two marker options and answers libcoap's look-ups itself: coap_option_filter_get() is
 * exported by libcoap and called through the PLT, so the definition below interposes it; a filter that holds both
 * markers (the context's table of known options) also "knows" every option of the oneM2M range (256..383, which
 * TS-0008 reserves for it), any other filter gets libcoap's own answer. Not needed with libcoap >= 4.3.2. */
#define MARK_A OPT_RSC
#define MARK_B OPT_RQI
typedef int (*filter_get_fn)(coap_opt_filter_t *filter, coap_option_num_t number);
static filter_get_fn libcoap_filter_get;
static pthread_once_t filter_once = PTHREAD_ONCE_INIT;

static void filter_resolve(void)
{
    union {
        void *p;
        filter_get_fn f;
    } u = {.p = dlsym(RTLD_NEXT, "coap_option_filter_get")};
    libcoap_filter_get = u.f;
}

int coap_option_filter_get(coap_opt_filter_t *filter, coap_option_num_t number);
int coap_option_filter_get(coap_opt_filter_t *filter, coap_option_num_t number)
{
    pthread_once(&filter_once, filter_resolve);
    if (libcoap_filter_get == NULL)
        return -1;
    int r = libcoap_filter_get(filter, number);
    if (r <= 0 && number >= 256 && number < 384 && number != MARK_A && number != MARK_B &&
        libcoap_filter_get(filter, MARK_A) > 0 && libcoap_filter_get(filter, MARK_B) > 0)
        return 1;
    return r;
}

/* ---- configuration ------------------------------------------------------------------------------ */
enum mode { MODE_RETRIEVE, MODE_CREATE };
static enum mode mode;
static const char *host = "127.0.0.1";
static int port;
static const char *path;
static const char *origin;
static const char *rvi = "3";
static const char *body =
    "{\"m2m:cin\":{\"con\":\"temperature=21.5;humidity=40;pressure=1013;sensor=bench-0001;seq=0000000000;"
    "pad=xxxxxxxxxxxxxxxxxxxx\"}}";
static const char *ri_prefix = "C";
static const char *psk_identity, *psk_key_file;
static long expect_rsc = -1;
static int nsessions = 4;
static double duration = 5;
static long count_limit;
static double timeout_s = 5;
static long max_errors = 100;

enum err { E_RSC, E_RQI, E_NACK, E_DTLS, E_TIMEOUT, E_COUNT };
static const char *const err_names[E_COUNT] = {"err_rsc", "err_rqi", "err_nack", "err_dtls", "err_timeout"};

struct slot {
    int id;
    coap_session_t *s;
    bool busy, timed;
    double t0;
    long seq;
    char rqi[64];
    size_t rqi_len;
};

/* ---- run state (one thread: libcoap's event loop) ------------------------------------------------ */
static struct slot *slots;
static double *lat;
static size_t nlat, latcap;
static long errs[E_COUNT], nerrors, issued;
static bool timing, stop, closing;
static double t_start, t_deadline;
static int first_code = -1;
static long first_rsc = -1;
static int messages_left = 5;
static long run_tag; /* this process's id: rqis stay distinct across runs */
static coap_context_t *ctx;
static const char *segs[64];
static size_t seglen[64], nsegs;

__attribute__((format(printf, 1, 2))) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("warden-coap-load: ", stderr);
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

__attribute__((format(printf, 3, 4))) static void note_error(const struct slot *sl, enum err k, const char *fmt, ...)
{
    errs[k]++;
    if (++nerrors >= max_errors)
        stop = true;
    if (messages_left > 0) {
        messages_left--;
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "warden-coap-load: session %d: %s: ", sl != NULL ? sl->id : 0, err_names[k]);
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

/* One request on the slot's session; its RQI is remembered for the response. */
static void send_request(struct slot *sl)
{
    coap_session_t *s = sl->s;
    coap_pdu_t *pdu =
        coap_pdu_init(COAP_MESSAGE_CON, mode == MODE_CREATE ? COAP_REQUEST_CODE_POST : COAP_REQUEST_CODE_GET,
                      coap_new_message_id(s), coap_session_max_pdu_size(s));
    if (pdu == NULL)
        die("coap_pdu_init failed");
    uint8_t tok[8];
    size_t toklen = 0;
    coap_session_new_token(s, &toklen, tok);
    coap_add_token(pdu, toklen, tok);
    sl->seq++;
    int n = snprintf(sl->rqi, sizeof sl->rqi, "%s%d-%ld.%ld", ri_prefix, sl->id, run_tag, sl->seq);
    sl->rqi_len = (size_t)n;
    uint8_t ub[4];
    /* options in ascending order: Uri-Path (11), Content-Format (12), oneM2M-TY, -RVI, -FR, -RQI */
    for (size_t i = 0; i < nsegs; i++)
        coap_add_option(pdu, COAP_OPTION_URI_PATH, seglen[i], (const uint8_t *)segs[i]);
    if (mode == MODE_CREATE) {
        coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT, coap_encode_var_safe(ub, sizeof ub, CF_RES_JSON), ub);
        coap_add_option(pdu, OPT_TY, coap_encode_var_safe(ub, sizeof ub, 4), ub);
    }
    if (rvi[0])
        coap_add_option(pdu, OPT_RVI, strlen(rvi), (const uint8_t *)rvi);
    coap_add_option(pdu, OPT_FR, strlen(origin), (const uint8_t *)origin);
    coap_add_option(pdu, OPT_RQI, sl->rqi_len, (const uint8_t *)sl->rqi);
    if (mode == MODE_CREATE)
        coap_add_data(pdu, strlen(body), (const uint8_t *)body);
    sl->busy = true;
    sl->timed = timing;
    issued += timing;
    sl->t0 = now_s();
    if (coap_send(s, pdu) == COAP_INVALID_MID) {
        sl->busy = false;
        note_error(sl, E_NACK, "coap_send failed");
    }
}

static bool may_issue(void)
{
    return timing && !stop && now_s() < t_deadline && (count_limit == 0 || issued < count_limit);
}

static coap_response_t on_response(coap_session_t *session, const coap_pdu_t *sent, const coap_pdu_t *received,
                                   const coap_mid_t mid)
{
    (void)sent, (void)mid;
    struct slot *sl = coap_session_get_app_data(session);
    coap_pdu_code_t code = coap_pdu_get_code(received);
    if (sl == NULL || code == 0) /* the empty ACK before a separate response */
        return COAP_RESPONSE_OK;
    if (!sl->busy) {
        note_error(sl, E_RQI, "a response (code %u.%02u) with nothing outstanding", (unsigned)code >> 5,
                   (unsigned)code & 0x1f);
        return COAP_RESPONSE_OK;
    }
    double t1 = now_s();
    sl->busy = false;
    coap_opt_iterator_t it;
    coap_opt_t *o;
    long rsc = -1;
    bool rqi_ok = false;
    char rqi[80] = "";
    coap_option_iterator_init(received, &it, COAP_OPT_ALL);
    while ((o = coap_option_next(&it)) != NULL) {
        if (it.number == OPT_RSC)
            rsc = (long)coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o));
        else if (it.number == OPT_RQI) {
            size_t len = coap_opt_length(o);
            rqi_ok = len == sl->rqi_len && memcmp(coap_opt_value(o), sl->rqi, len) == 0;
            snprintf(rqi, sizeof rqi, "%.*s", (int)(len < 64 ? len : 64), (const char *)coap_opt_value(o));
        }
    }
    if (first_code < 0) {
        first_code = (int)code;
        first_rsc = rsc;
    }
    long want = expect_rsc >= 0 ? expect_rsc : (mode == MODE_CREATE ? 2001 : 2000);
    unsigned want_code =
        expect_rsc >= 0 ? 0 : (mode == MODE_CREATE ? COAP_RESPONSE_CODE(201) : COAP_RESPONSE_CODE(205));
    bool ok = true;
    if (rsc != want || (want_code != 0 && code != want_code)) {
        size_t len = 0;
        const uint8_t *data = NULL;
        if (!coap_get_data(received, &len, &data))
            len = 0;
        note_error(sl, E_RSC, "request %s: code %u.%02u oneM2M-RSC %ld, expected %s oneM2M-RSC %ld: %.*s", sl->rqi,
                   (unsigned)code >> 5, (unsigned)code & 0x1f, rsc, mode == MODE_CREATE ? "2.01" : "2.05", want,
                   (int)(len < 200 ? len : 200), data != NULL ? (const char *)data : "");
        ok = false;
    } else if (!rqi_ok) {
        note_error(sl, E_RQI, "request %s: oneM2M-RQI '%s' in the response", sl->rqi, rqi);
        ok = false;
    }
    if (ok && sl->timed && t1 <= t_deadline)
        record(t1 - sl->t0);
    if (may_issue())
        send_request(sl);
    return COAP_RESPONSE_OK;
}

static void on_nack(coap_session_t *session, const coap_pdu_t *sent, const coap_nack_reason_t reason,
                    const coap_mid_t mid)
{
    (void)sent, (void)mid;
    struct slot *sl = coap_session_get_app_data(session);
    if (sl == NULL || !sl->busy)
        return;
    sl->busy = false;
    if (reason == COAP_NACK_TLS_FAILED)
        note_error(sl, E_DTLS, "request %s: DTLS handshake failed", sl->rqi);
    else
        note_error(sl, E_NACK, "request %s: %s", sl->rqi,
                   reason == COAP_NACK_RST                ? "reset by the server"
                   : reason == COAP_NACK_TOO_MANY_RETRIES ? "retransmissions exhausted"
                                                          : "not deliverable");
}

static int on_event(coap_session_t *session, const coap_event_t event)
{
    struct slot *sl = coap_session_get_app_data(session);
    if (sl != NULL && !closing && (event == COAP_EVENT_DTLS_ERROR || event == COAP_EVENT_DTLS_CLOSED)) {
        bool was = sl->busy;
        sl->busy = false;
        note_error(sl, E_DTLS, "DTLS %s%s", event == COAP_EVENT_DTLS_ERROR ? "error" : "session closed",
                   was ? " with a request outstanding" : "");
    }
    return 0;
}

/* Run the event loop until no slot is busy (or give up on the ones older than --timeout). */
static void drain(void)
{
    for (;;) {
        bool any = false;
        double now = now_s();
        for (int i = 0; i < nsessions; i++) {
            struct slot *sl = &slots[i];
            if (!sl->busy)
                continue;
            if (now - sl->t0 > timeout_s) {
                sl->busy = false;
                note_error(sl, E_TIMEOUT, "request %s: no response within %.1f s", sl->rqi, timeout_s);
                continue;
            }
            any = true;
        }
        if (!any)
            return;
        coap_io_process(ctx, 50);
    }
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

static size_t read_hex_key(const char *file, uint8_t *key, size_t cap)
{
    FILE *f = fopen(file, "r");
    if (f == NULL)
        die("%s: %s", file, strerror(errno));
    size_t n = 0;
    int hi = -1, c;
    while ((c = fgetc(f)) != EOF) {
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            continue;
        int v = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (v < 0)
            die("%s: not a hex key", file);
        if (hi < 0) {
            hi = v;
            continue;
        }
        if (n == cap)
            die("%s: key longer than %zu bytes", file, cap);
        key[n++] = (uint8_t)(hi << 4 | v);
        hi = -1;
    }
    fclose(f);
    if (n == 0 || hi >= 0)
        die("%s: a hex key of an even number of digits expected", file);
    return n;
}

static void usage(void)
{
    fprintf(
        stderr,
        "usage: warden-coap-load retrieve|create --port P --path cse-in/AE/CNT[/CIN] --origin O [--host 127.0.0.1]\n"
        "         [--psk-identity ID --psk-key-file HEXFILE] [--sessions 4] [--duration 5] [--count N]\n"
        "         [--timeout 5] [--max-errors 100] [--rvi 3] [--body JSON] [--ri-prefix C] [--expect RSC]\n");
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
        else if (strcmp(a, "--path") == 0)
            path = v;
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
        else if (strcmp(a, "--psk-identity") == 0)
            psk_identity = v;
        else if (strcmp(a, "--psk-key-file") == 0)
            psk_key_file = v;
        else if (strcmp(a, "--sessions") == 0 || strcmp(a, "--conns") == 0)
            nsessions = (int)num_arg(a, v, 1, 1000);
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
    if (port == 0 || path == NULL || origin == NULL)
        usage();
    if ((psk_identity == NULL) != (psk_key_file == NULL))
        die("DTLS needs --psk-identity and --psk-key-file together");
    if (strlen(ri_prefix) > 20)
        die("--ri-prefix: at most 20 characters");
    /* Uri-Path segments of --path (a leading '/' is ignored: CoAP paths are CSE-relative without it) */
    for (const char *p = path[0] == '/' ? path + 1 : path; *p;) {
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == 0 || nsegs == sizeof segs / sizeof segs[0])
            die("--path: empty segment or too many segments");
        segs[nsegs] = p;
        seglen[nsegs++] = l;
        p += l + (e != NULL);
    }

    run_tag = (long)getpid();
    coap_startup();
    coap_set_log_level(LOG_EMERG);
    coap_dtls_set_log_level(LOG_EMERG);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST}, *ai = NULL;
    if (getaddrinfo(host, NULL, &hints, &ai) != 0 || ai == NULL)
        die("bad --host %s (an IP address expected)", host);
    coap_address_t dst;
    coap_address_init(&dst);
    dst.size = ai->ai_addrlen;
    memcpy(&dst.addr, ai->ai_addr, ai->ai_addrlen);
    if (dst.addr.sa.sa_family == AF_INET)
        dst.addr.sin.sin_port = htons((uint16_t)port);
    else
        dst.addr.sin6.sin6_port = htons((uint16_t)port);
    freeaddrinfo(ai);

    ctx = coap_new_context(NULL);
    if (ctx == NULL)
        die("cannot create the CoAP context");
    coap_register_option(ctx, MARK_A);
    coap_register_option(ctx, MARK_B);
    coap_register_response_handler(ctx, on_response);
    coap_register_nack_handler(ctx, on_nack);
    coap_register_event_handler(ctx, on_event);
    uint8_t key[64];
    size_t keylen = psk_key_file != NULL ? read_hex_key(psk_key_file, key, sizeof key) : 0;
    if (psk_identity != NULL && !coap_dtls_is_supported())
        die("libcoap was built without DTLS");
    slots = calloc((size_t)nsessions, sizeof *slots);
    if (slots == NULL)
        die("out of memory");
    for (int i = 0; i < nsessions; i++) {
        struct slot *sl = &slots[i];
        sl->id = i + 1;
        if (psk_identity != NULL) {
            coap_dtls_cpsk_t setup;
            memset(&setup, 0, sizeof setup);
            setup.version = COAP_DTLS_CPSK_SETUP_VERSION;
            setup.psk_info.identity.s = (const uint8_t *)psk_identity;
            setup.psk_info.identity.length = strlen(psk_identity);
            setup.psk_info.key.s = key;
            setup.psk_info.key.length = keylen;
            sl->s = coap_new_client_session_psk2(ctx, NULL, &dst, COAP_PROTO_DTLS, &setup);
        } else {
            sl->s = coap_new_client_session(ctx, NULL, &dst, COAP_PROTO_UDP);
        }
        if (sl->s == NULL)
            die("cannot create CoAP session %d", i + 1);
        coap_session_set_app_data(sl->s, sl);
    }
    memset(key, 0, sizeof key);

    /* one untimed request per session: DTLS handshakes, first contact */
    for (int i = 0; i < nsessions && !stop; i++)
        send_request(&slots[i]);
    drain();
    /* the timed period */
    double cpu0 = cpu_s();
    t_start = now_s();
    t_deadline = t_start + duration;
    timing = !stop && nerrors == 0; /* not after a failed untimed request */
    for (int i = 0; i < nsessions && may_issue(); i++)
        send_request(&slots[i]);
    while (!stop && now_s() < t_deadline) {
        coap_io_process(ctx, 50);
        for (int i = 0; i < nsessions; i++) /* a request without a response for too long */
            if (slots[i].busy && now_s() - slots[i].t0 > timeout_s) {
                slots[i].busy = false;
                note_error(&slots[i], E_TIMEOUT, "request %s: no response within %.1f s", slots[i].rqi, timeout_s);
            }
        bool any = false;
        for (int i = 0; i < nsessions; i++)
            any = any || slots[i].busy;
        if (!any && !may_issue())
            break;
    }
    double t_end = now_s();
    double cpu = cpu_s() - cpu0;
    timing = false;
    drain(); /* the requests still outstanding must be answered, and correctly, too (not counted) */
    double secs = count_limit > 0 || stop ? (t_end < t_deadline ? t_end : t_deadline) - t_start : duration;
    if (secs <= 0)
        secs = 1e-9;

    closing = true; /* our own close_notify is no error */
    for (int i = 0; i < nsessions; i++)
        coap_session_release(slots[i].s);
    coap_free_context(ctx);
    coap_cleanup();

    double sum = 0;
    for (size_t j = 0; j < nlat; j++)
        sum += lat[j];
    qsort(lat, nlat, sizeof *lat, cmp_double);
    bool ok = nerrors == 0 && nlat > 0;
    printf("COAP_RESULT mode=%s sec=%s sessions=%d seconds=%.3f ops=%zu rate=%.1f p50_us=%.0f p90_us=%.0f p99_us=%.0f "
           "mean_us=%.0f max_us=%.0f first_code=%d.%02d first_rsc=%ld",
           mode == MODE_CREATE ? "create" : "retrieve", psk_identity != NULL ? "dtls-psk" : "udp", nsessions, secs,
           nlat, (double)nlat / secs, pct(lat, nlat, 50) * 1e6, pct(lat, nlat, 90) * 1e6, pct(lat, nlat, 99) * 1e6,
           nlat > 0 ? sum / (double)nlat * 1e6 : 0.0, nlat > 0 ? lat[nlat - 1] * 1e6 : 0.0,
           first_code < 0 ? 0 : first_code >> 5, first_code < 0 ? 0 : first_code & 0x1f, first_rsc);
    for (int e = 0; e < E_COUNT; e++)
        printf(" %s=%ld", err_names[e], errs[e]);
    printf(" errors=%ld client_cpu_us=%.1f status=%s\n", nerrors, nlat > 0 ? cpu * 1e6 / (double)nlat : 0.0,
           ok ? "ok" : "failed");
    fflush(stdout);
    if (nlat == 0 && nerrors == 0)
        fprintf(stderr, "warden-coap-load: no request completed within %.3f s\n", secs);
    free(lat);
    free(slots);
    return ok ? 0 : 1;
}
