/* warden-tls-load: TLS handshake rate and kept-alive TLS request throughput, for bench/run.sh (GnuTLS client).
 *
 *   warden-tls-load handshake --port P [common options] [--request]
 *       --conns N threads (one connection at a time each), each looping for --duration seconds:
 *       connect, TLS handshake (a full one: no session is ever resumed), then either one request (--request,
 *       sent with "Connection: close", any status but 2xx is an error) or, without --request, a TLS
 *       close_notify followed by reading until the server closes, then close. rate = handshakes (connections)
 *       per second. The wait for the server's close is for TLS 1.3, where the client's handshake completes
 *       before the server has checked the client's Finished and certificate: a server that rejects them sends
 *       an alert, or (Warden, libmicrohttpd) closes at once with our close_notify unread, which the kernel turns
 *       into a reset; both are errors. An orderly close (the server's close_notify or a FIN after it has read
 *       ours) counts the handshake. (A server that rejected the handshake and closed before our close_notify
 *       even arrived would look like an orderly close; with the same credentials accepted before the run,
 *       see bench/run.sh's checks, that is not a concern.)
 *   warden-tls-load keepalive --port P [common options]
 *       --conns C connections (one thread each) connect and handshake first (not timed), then each sends
 *       requests one after the other on its kept-alive connection for --duration seconds. rate = responses
 *       per second. A response with a status other than 2xx counts as an error (non2xx). A connection the
 *       server announces to close ("Connection: close") is reopened, with a new handshake inside the timed
 *       period, and counted in reconnects; one that fails or closes without notice is an error (err_io) and is
 *       reopened too.
 *
 * Security (one of):
 *   --plain                                 plain TCP, no TLS (the same client code otherwise: the baseline)
 *   --psk-identity ID --psk-key-file FILE   TLS-PSK; FILE holds the key in hex (whitespace ignored)
 *   --cert FILE --key FILE                  certificate authentication (PEM; e.g. ECDSA P-256)
 *   --ca FILE                               verify the server certificate against these trust anchors (PEM),
 *                                           with --host as the name or IP address to match
 *   --tls default|1.2|1.3                   protocol selection (default: default):
 *       default  GnuTLS's NORMAL priority (TLS 1.3 when the server offers it) plus the PSK key exchanges
 *                (+ECDHE-PSK:+DHE-PSK:+PSK) in PSK mode
 *       1.2      PSK:  TLS 1.2 TLS_PSK_WITH_AES_128_CBC_SHA256 only (openssl: PSK-AES128-CBC-SHA256)
 *                cert: TLS 1.2 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 only (ECDHE-ECDSA-AES128-GCM-SHA256)
 *       1.3      NORMAL restricted to TLS 1.3 (PSK: with the PSK key exchanges)
 *   --priority STRING                       a GnuTLS priority string instead of the above
 *   --server-name NAME                      send SNI (never sent for an IP address otherwise)
 * Request:
 *   --method GET  --path /  --origin O (X-M2M-Origin)  --rvi 3 (X-M2M-RVI; "" = none)
 *   --header "Name: value" (repeatable)  --body STRING  --content-type TYPE (with --body)
 *   Every request carries a distinct X-M2M-RI: <ri-prefix><thread>-<n> (--ri-prefix, default T);
 *   --check-ri makes a response that does not echo it an error.
 * Run:
 *   --duration SECONDS (default 5, fractions allowed)  --conns N (default 4; --threads is the same)
 *   --count N      stop after N operations in all (the duration is then only a cap)
 *   --timeout S    connect, handshake and socket read/write timeout (default 5)
 *   --max-errors N stop early after N errors (default 100)
 *   --host 127.0.0.1 (IPv4)
 *
 * Output, one line on stdout (latencies in microseconds, nearest-rank percentiles; in handshake mode the
 * latency of the whole connection, from connect() to the server's close or the response):
 *   TLS_RESULT mode=.. sec=plain|psk|cert tls=.. version=TLS1.3|.. kx=ECDHE-PSK|.. group=SECP256R1|none
 *              cipher=AES-128-GCM|.. session=(TLS1.3)-(..)-(..) (GnuTLS's description, spaces as _) conns=..
 *              seconds=.. ops=.. rate=.. p50_us=.. p90_us=.. p99_us=.. mean_us=.. max_us=.. first_status=..
 *              non2xx=.. err_connect=.. err_handshake=.. err_io=.. err_timeout=.. err_ri=.. errors=..
 *              reconnects=.. close_notify=.. close_eof=.. close_resets=.. client_cpu_us=.. status=ok|failed
 * close_notify / close_eof / close_resets (handshake mode without --request): how the server closed after our
 * close_notify: with its own close_notify, with a bare FIN, or with a reset (counted as an error too).
 * client_cpu_us: this process's user + system CPU time from the start of the timed period to the end, per
 * completed operation (includes the client's share of the TLS work, which the server does too).
 * Exit status: 0 when status=ok (no error of any kind and at least one operation), 1 otherwise, 2 on usage.
 * The first few errors are described on stderr. */
#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum sec { SEC_PLAIN, SEC_PSK, SEC_CERT };
enum mode { MODE_HANDSHAKE, MODE_KEEPALIVE };

/* ---- configuration (set by main, read-only afterwards) -------------------------------------------- */
static enum mode mode;
static enum sec sec = SEC_PLAIN;
static bool sec_given;
static const char *host = "127.0.0.1";
static int port;
static double duration = 5;
static int nconns = 4;
static long count_limit; /* 0 = none */
static double timeout_s = 5;
static long max_errors = 100;
static bool with_request; /* handshake mode */
static const char *method = "GET";
static const char *path = "/";
static const char *origin;
static const char *rvi = "3";
static const char *extra_headers[32];
static int nextra;
static const char *body;
static const char *content_type = "application/json";
static const char *ri_prefix = "T";
static bool check_ri;
static const char *tls_sel = "default";
static const char *priority;
static const char *server_name;
static const char *psk_identity, *psk_key_file, *cert_file, *key_file, *ca_file;

static gnutls_psk_client_credentials_t psk_cred;
static gnutls_certificate_credentials_t cert_cred;
static gnutls_priority_t prio;
static struct sockaddr_in peer;

/* ---- shared run state --------------------------------------------------------------------------- */
static double t_start, t_deadline; /* written by main between the two start barriers only */
static atomic_bool stop;
static atomic_long issued; /* operations started, for --count */
static atomic_long nerrors;
static atomic_int first_status = -1;
static pthread_barrier_t start_barrier;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static char session_desc[160], session_version[32], session_kx[32], session_group[32], session_cipher[32];
static int messages_left = 5;

enum err { E_CONNECT, E_HANDSHAKE, E_IO, E_TIMEOUT, E_RI, E_NON2XX, E_COUNT };
static const char *const err_names[E_COUNT] = {"err_connect", "err_handshake", "err_io",
                                               "err_timeout", "err_ri",        "non2xx"};

struct conn {
    int fd;
    gnutls_session_t s;
    char *buf;
    size_t cap, len;
    bool timed_out; /* the last I/O failed on SO_RCVTIMEO / SO_SNDTIMEO */
    int last_errno; /* errno right after the last failed receive */
    bool notified;  /* the last receive that returned 0 was the peer's close_notify (not a bare EOF) */
};

struct response {
    int status;
    const char *body;
    size_t body_len;
    bool close_after;
    bool ri_ok;
};

struct worker {
    pthread_t th;
    int id;
    double *lat;
    size_t nlat, cap;
    long errs[E_COUNT];
    long reconnects, close_resets, close_notifies, close_eofs;
    char *req;
    size_t reqcap;
    long seq;
};

__attribute__((format(printf, 1, 2))) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("warden-tls-load: ", stderr);
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

/* Count an error of class k, describe the first few on stderr, stop the run after --max-errors. */
__attribute__((format(printf, 3, 4))) static void note_error(struct worker *w, enum err k, const char *fmt, ...)
{
    w->errs[k]++;
    if (atomic_fetch_add(&nerrors, 1) + 1 >= max_errors)
        atomic_store(&stop, true);
    pthread_mutex_lock(&out_lock);
    if (messages_left > 0) {
        messages_left--;
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "warden-tls-load: conn %d: %s: ", w->id, err_names[k]);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
    pthread_mutex_unlock(&out_lock);
}

/* ---- connection --------------------------------------------------------------------------------- */

static void conn_close(struct conn *c)
{
    if (c->s != NULL) {
        gnutls_deinit(c->s);
        c->s = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->len = 0;
}

/* TCP connect, then the TLS handshake unless --plain. Returns 0, or -1 after counting the error. */
static int conn_open(struct worker *w, struct conn *c)
{
    char err[256];
    c->len = 0;
    c->timed_out = false;
    if (c->buf == NULL) {
        c->cap = 1 << 14;
        c->buf = malloc(c->cap);
        if (c->buf == NULL)
            die("out of memory");
    }
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        note_error(w, E_CONNECT, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {.tv_sec = (time_t)timeout_s,
                         .tv_usec = (suseconds_t)((timeout_s - (double)(time_t)timeout_s) * 1e6)};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(c->fd, (const struct sockaddr *)&peer, sizeof peer) != 0) {
        int e = errno;
        conn_close(c);
        if (e == EINPROGRESS || e == EAGAIN || e == ETIMEDOUT)
            note_error(w, E_TIMEOUT, "connect %s:%d: %s", host, port, strerror(e));
        else
            note_error(w, E_CONNECT, "connect %s:%d: %s", host, port, strerror(e));
        return -1;
    }
    if (sec == SEC_PLAIN)
        return 0;
    int rc = gnutls_init(&c->s, GNUTLS_CLIENT | GNUTLS_NO_SIGNAL);
    if (rc < 0)
        die("gnutls_init: %s", gnutls_strerror(rc));
    gnutls_priority_set(c->s, prio);
    if (sec == SEC_PSK)
        gnutls_credentials_set(c->s, GNUTLS_CRD_PSK, psk_cred);
    else
        gnutls_credentials_set(c->s, GNUTLS_CRD_CERTIFICATE, cert_cred);
    if (server_name != NULL)
        gnutls_server_name_set(c->s, GNUTLS_NAME_DNS, server_name, strlen(server_name));
    if (ca_file != NULL)
        gnutls_session_set_verify_cert(c->s, host, 0);
    gnutls_transport_set_int(c->s, c->fd);
    gnutls_handshake_set_timeout(c->s, (unsigned)(timeout_s * 1000));
    do {
        rc = gnutls_handshake(c->s);
    } while (rc < 0 && gnutls_error_is_fatal(rc) == 0 && rc != GNUTLS_E_AGAIN);
    if (rc < 0) {
        if (rc == GNUTLS_E_WARNING_ALERT_RECEIVED || rc == GNUTLS_E_FATAL_ALERT_RECEIVED)
            snprintf(err, sizeof err, "%s (%s)", gnutls_strerror(rc), gnutls_alert_get_name(gnutls_alert_get(c->s)));
        else if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
            gnutls_datum_t out = {NULL, 0};
            unsigned status = gnutls_session_get_verify_cert_status(c->s);
            gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0);
            snprintf(err, sizeof err, "server certificate: %s", out.data != NULL ? (char *)out.data : "?");
            gnutls_free(out.data);
        } else
            snprintf(err, sizeof err, "%s", gnutls_strerror(rc));
        bool to = rc == GNUTLS_E_TIMEDOUT || rc == GNUTLS_E_AGAIN;
        conn_close(c);
        note_error(w, to ? E_TIMEOUT : E_HANDSHAKE, "handshake: %s", err);
        return -1;
    }
    if (session_desc[0] == '\0') {
        pthread_mutex_lock(&out_lock);
        if (session_desc[0] == '\0') {
            char *d = gnutls_session_get_desc(c->s);
            snprintf(session_desc, sizeof session_desc, "%s", d != NULL ? d : "?");
            gnutls_free(d);
            for (char *p = session_desc; *p; p++)
                if (*p == ' ')
                    *p = '_';
            const char *v = gnutls_protocol_get_name(gnutls_protocol_get_version(c->s));
            snprintf(session_version, sizeof session_version, "%s", v != NULL ? v : "?");
            const char *kx = gnutls_kx_get_name(gnutls_kx_get(c->s));
            const char *g = gnutls_group_get_name(gnutls_group_get(c->s));
            snprintf(session_group, sizeof session_group, "%s", g != NULL ? g : "none");
            if (gnutls_protocol_get_version(c->s) == GNUTLS_TLS1_3 && sec == SEC_CERT) {
                /* TLS 1.3 has no key-exchange suites (gnutls_kx_get is not meaningful): name the group's
                 * family and the server's signature algorithm, as TLS 1.2 would */
                int sig = gnutls_sign_algorithm_get(c->s);
                gnutls_pk_algorithm_t pk =
                    sig > 0 ? gnutls_sign_get_pk_algorithm((gnutls_sign_algorithm_t)sig) : GNUTLS_PK_UNKNOWN;
                const char *pkn = pk == GNUTLS_PK_ECDSA ? "ECDSA" : gnutls_pk_get_name(pk);
                snprintf(session_kx, sizeof session_kx, "%s-%s",
                         g != NULL && strncmp(g, "FFDHE", 5) == 0 ? "DHE" : "ECDHE", pkn != NULL ? pkn : "?");
            } else {
                snprintf(session_kx, sizeof session_kx, "%s", kx != NULL ? kx : "none");
            }
            const char *ci = gnutls_cipher_get_name(gnutls_cipher_get(c->s));
            snprintf(session_cipher, sizeof session_cipher, "%s", ci != NULL ? ci : "?");
        }
        pthread_mutex_unlock(&out_lock);
    }
    return 0;
}

/* Send everything; -1 on error (c->timed_out set on a timeout). */
static int io_send_all(struct conn *c, const char *p, size_t n, char *err, size_t errlen)
{
    double give_up = now_s() + timeout_s;
    while (n > 0) {
        ssize_t k;
        if (c->s != NULL) {
            k = gnutls_record_send(c->s, p, n);
            if (k == GNUTLS_E_INTERRUPTED || (k == GNUTLS_E_AGAIN && now_s() < give_up))
                continue;
            if (k < 0) {
                c->timed_out = k == GNUTLS_E_AGAIN;
                snprintf(err, errlen, "send: %s", gnutls_strerror((int)k));
                return -1;
            }
        } else {
            k = send(c->fd, p, n, MSG_NOSIGNAL);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                c->timed_out = errno == EAGAIN || errno == EWOULDBLOCK;
                snprintf(err, errlen, "send: %s", strerror(errno));
                return -1;
            }
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Receive some bytes: > 0, 0 on a close (TLS: close_notify, or EOF; c->notified tells which), -1 on error. */
static ssize_t io_recv(struct conn *c, char *p, size_t n, char *err, size_t errlen)
{
    double give_up = now_s() + timeout_s;
    for (;;) {
        ssize_t k;
        if (c->s != NULL) {
            errno = 0;
            k = gnutls_record_recv(c->s, p, n);
            c->last_errno = errno;
            if (k == GNUTLS_E_INTERRUPTED || k == GNUTLS_E_REHANDSHAKE)
                continue;
            if (k == GNUTLS_E_PREMATURE_TERMINATION || k == 0) {
                c->notified = k == 0;
                return 0;
            }
            /* GNUTLS_E_AGAIN: SO_RCVTIMEO expired, or (TLS 1.3) a post-handshake message such as a
             * NewSessionTicket was processed and no application data came with it: retry until the timeout. */
            if (k == GNUTLS_E_AGAIN && now_s() < give_up)
                continue;
            if (k < 0) {
                c->timed_out = k == GNUTLS_E_AGAIN;
                if (k == GNUTLS_E_FATAL_ALERT_RECEIVED || k == GNUTLS_E_WARNING_ALERT_RECEIVED)
                    snprintf(err, errlen, "recv: %s (%s)", gnutls_strerror((int)k),
                             gnutls_alert_get_name(gnutls_alert_get(c->s)));
                else
                    snprintf(err, errlen, "recv: %s%s%s", gnutls_strerror((int)k), k == GNUTLS_E_PULL_ERROR ? ": " : "",
                             k == GNUTLS_E_PULL_ERROR ? strerror(c->last_errno) : "");
                return -1;
            }
            return k;
        }
        k = recv(c->fd, p, n, 0);
        c->last_errno = errno;
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            c->timed_out = errno == EAGAIN || errno == EWOULDBLOCK;
            snprintf(err, errlen, "recv: %s", strerror(errno));
        }
        return k;
    }
}

/* Read one Content-Length framed response (Warden and libmicrohttpd send one for every buffered response).
 * expect_ri: the X-M2M-RI sent (checked with --check-ri). Returns 0, or -1 with a message in err. */
static int read_response(struct conn *c, struct response *r, const char *expect_ri, char *err, size_t errlen)
{
    size_t hdr_end = 0;
    long clen = -1;
    for (;;) {
        if (hdr_end == 0 && c->len >= 4) {
            char *e = memmem(c->buf, c->len, "\r\n\r\n", 4);
            if (e != NULL) {
                hdr_end = (size_t)(e - c->buf) + 4;
                if (hdr_end < 16 || strncmp(c->buf, "HTTP/1.", 7) != 0) {
                    snprintf(err, errlen, "not an HTTP response");
                    return -1;
                }
                r->status = atoi(c->buf + 9);
                r->close_after = strncmp(c->buf, "HTTP/1.0", 8) == 0;
                r->ri_ok = false;
                size_t rilen = expect_ri != NULL ? strlen(expect_ri) : 0;
                for (char *l = (char *)memchr(c->buf, '\n', hdr_end) + 1; l < c->buf + hdr_end - 2;) {
                    char *eol = memchr(l, '\n', (size_t)(c->buf + hdr_end - l));
                    size_t ll = (size_t)(eol - l);
                    if (ll >= 15 && strncasecmp(l, "Content-Length:", 15) == 0) {
                        clen = strtol(l + 15, NULL, 10);
                    } else if (ll >= 18 && strncasecmp(l, "Transfer-Encoding:", 18) == 0) {
                        snprintf(err, errlen, "chunked responses are not supported");
                        return -1;
                    } else if (ll >= 11 && strncasecmp(l, "Connection:", 11) == 0) {
                        r->close_after = memmem(l, ll, "close", 5) != NULL;
                    } else if (expect_ri != NULL && ll >= 9 && strncasecmp(l, "X-M2M-RI:", 9) == 0) {
                        const char *v = l + 9;
                        while (*v == ' ' || *v == '\t')
                            v++;
                        r->ri_ok = (size_t)(eol - v) >= rilen && strncmp(v, expect_ri, rilen) == 0 &&
                                   (v[rilen] == '\r' || v[rilen] == '\n' || v[rilen] == ' ');
                    }
                    l = eol + 1;
                }
                if (clen < 0) {
                    snprintf(err, errlen, "response without Content-Length");
                    return -1;
                }
            }
        }
        if (hdr_end > 0 && c->len >= hdr_end + (size_t)clen)
            break;
        if (c->len == c->cap) {
            c->cap *= 2;
            c->buf = realloc(c->buf, c->cap);
            if (c->buf == NULL)
                die("out of memory");
        }
        ssize_t n = io_recv(c, c->buf + c->len, c->cap - c->len, err, errlen);
        if (n == 0)
            snprintf(err, errlen, "connection closed by the server%s", c->len > 0 ? " in a response" : "");
        if (n <= 0)
            return -1;
        c->len += (size_t)n;
    }
    r->body = c->buf + hdr_end;
    r->body_len = (size_t)clen;
    return 0;
}

static void consume(struct conn *c, const struct response *r)
{
    size_t used = (size_t)(r->body - c->buf) + r->body_len;
    memmove(c->buf, c->buf + used, c->len - used);
    c->len -= used;
}

/* Build the next request into w->req; returns its length and writes its X-M2M-RI into ri. */
static size_t build_request(struct worker *w, bool close_conn, char *ri, size_t rilen)
{
    snprintf(ri, rilen, "%s%d-%ld", ri_prefix, w->id, ++w->seq);
    size_t blen = body != NULL ? strlen(body) : 0;
    size_t need = strlen(method) + strlen(path) + strlen(host) + (origin ? strlen(origin) : 0) + strlen(rvi) + blen +
                  strlen(content_type) + 512;
    for (int i = 0; i < nextra; i++)
        need += strlen(extra_headers[i]) + 2;
    if (need > w->reqcap) {
        w->reqcap = need;
        w->req = realloc(w->req, need);
        if (w->req == NULL)
            die("out of memory");
    }
    size_t n = 0;
#define ADD(...) n += (size_t)snprintf(w->req + n, w->reqcap - n, __VA_ARGS__)
    ADD("%s %s HTTP/1.1\r\nHost: %s:%d\r\n", method, path, host, port);
    if (origin != NULL)
        ADD("X-M2M-Origin: %s\r\n", origin);
    ADD("X-M2M-RI: %s\r\n", ri);
    if (rvi[0] != '\0')
        ADD("X-M2M-RVI: %s\r\n", rvi);
    ADD("Accept: application/json\r\n");
    for (int i = 0; i < nextra; i++)
        ADD("%s\r\n", extra_headers[i]);
    if (body != NULL)
        ADD("Content-Type: %s\r\nContent-Length: %zu\r\n", content_type, blen);
    if (close_conn)
        ADD("Connection: close\r\n");
    ADD("\r\n");
#undef ADD
    if (body != NULL) {
        memcpy(w->req + n, body, blen);
        n += blen;
    }
    return n;
}

/* One request/response on c. Returns 0 (the response was read; non-2xx and a missing RI echo are counted
 * but the connection stays usable), or -1 after counting an I/O error (the connection must be closed). */
static int do_request(struct worker *w, struct conn *c, bool close_conn, bool *close_after)
{
    char ri[96], err[256];
    size_t n = build_request(w, close_conn, ri, sizeof ri);
    struct response r = {0};
    if (io_send_all(c, w->req, n, err, sizeof err) != 0 ||
        read_response(c, &r, check_ri ? ri : NULL, err, sizeof err) != 0) {
        note_error(w, c->timed_out ? E_TIMEOUT : E_IO, "%s %s: %s", method, path, err);
        return -1;
    }
    int expected = -1;
    atomic_compare_exchange_strong(&first_status, &expected, r.status);
    if (r.status < 200 || r.status > 299)
        note_error(w, E_NON2XX, "%s %s: HTTP %d: %.*s", method, path, r.status,
                   (int)(r.body_len > 300 ? 300 : r.body_len), r.body);
    else if (check_ri && !r.ri_ok)
        note_error(w, E_RI, "%s %s: X-M2M-RI %s not echoed", method, path, ri);
    *close_after = r.close_after;
    consume(c, &r);
    return 0;
}

/* After a handshake without a request: send close_notify and read until the server closes, so that the
 * handshake is known to have been completed and accepted by the server. */
static int confirm_close(struct worker *w, struct conn *c)
{
    char err[256], scratch[4096];
    int rc;
    do {
        rc = gnutls_bye(c->s, GNUTLS_SHUT_WR);
    } while (rc == GNUTLS_E_INTERRUPTED);
    if (rc < 0) {
        /* The server closed first: most likely after an alert (a rejected certificate or Finished), which
         * names the cause better than the failed write; it is still waiting in the receive buffer. */
        if (rc != GNUTLS_E_AGAIN && io_recv(c, scratch, sizeof scratch, err, sizeof err) < 0 &&
            strstr(err, "alert") != NULL) {
            note_error(w, E_HANDSHAKE, "after the handshake: %s", err);
            return -1;
        }
        note_error(w, rc == GNUTLS_E_AGAIN ? E_TIMEOUT : E_IO, "sending close_notify: %s", gnutls_strerror(rc));
        return -1;
    }
    for (;;) {
        ssize_t n = io_recv(c, scratch, sizeof scratch, err, sizeof err);
        if (n == 0) {
            if (c->notified)
                w->close_notifies++;
            else
                w->close_eofs++;
            return 0;
        }
        if (n < 0) {
            /* A reset: the server closed the connection with our close_notify unread, i.e. not because of it.
             * Servers that abort a handshake without an alert do that, e.g. on a client certificate rejected
             * after the client's TLS 1.3 handshake had already completed. */
            if (!c->timed_out && c->last_errno == ECONNRESET) {
                w->close_resets++;
                note_error(w, E_HANDSHAKE,
                           "after the handshake: connection reset by the server without an alert "
                           "(it aborted the handshake, e.g. rejected the client certificate)");
                return -1;
            }
            note_error(w, c->timed_out ? E_TIMEOUT : E_HANDSHAKE, "after the handshake: %s", err);
            return -1;
        }
    }
}

static void record(struct worker *w, double lat_s)
{
    if (w->nlat == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 4096;
        w->lat = realloc(w->lat, w->cap * sizeof *w->lat);
        if (w->lat == NULL)
            die("out of memory");
    }
    w->lat[w->nlat++] = lat_s * 1e6;
}

static bool may_start(void)
{
    if (atomic_load(&stop) || now_s() >= t_deadline)
        return false;
    if (count_limit > 0 && atomic_fetch_add(&issued, 1) >= count_limit)
        return false;
    return true;
}

static void *handshake_worker(void *arg)
{
    struct worker *w = arg;
    struct conn c = {.fd = -1};
    pthread_barrier_wait(&start_barrier);
    pthread_barrier_wait(&start_barrier);
    while (may_start()) {
        double t0 = now_s();
        bool ok = conn_open(w, &c) == 0;
        if (ok && with_request) {
            bool close_after = false;
            long before = w->errs[E_NON2XX] + w->errs[E_RI];
            ok = do_request(w, &c, true, &close_after) == 0 && w->errs[E_NON2XX] + w->errs[E_RI] == before;
        } else if (ok && sec != SEC_PLAIN) {
            ok = confirm_close(w, &c) == 0;
        }
        double t1 = now_s();
        conn_close(&c);
        if (ok && t1 <= t_deadline)
            record(w, t1 - t0);
    }
    free(c.buf);
    return NULL;
}

static void *keepalive_worker(void *arg)
{
    struct worker *w = arg;
    struct conn c = {.fd = -1};
    bool up = conn_open(w, &c) == 0; /* the first handshake is not timed */
    pthread_barrier_wait(&start_barrier);
    pthread_barrier_wait(&start_barrier);
    while (up && may_start()) {
        bool close_after = false;
        double t0 = now_s();
        if (do_request(w, &c, false, &close_after) != 0) {
            conn_close(&c);
            if (atomic_load(&stop) || now_s() >= t_deadline)
                break;
            w->reconnects++;
            up = conn_open(w, &c) == 0;
            continue;
        }
        double t1 = now_s();
        if (t1 <= t_deadline)
            record(w, t1 - t0);
        if (close_after) {
            conn_close(&c);
            if (atomic_load(&stop) || now_s() >= t_deadline)
                break;
            w->reconnects++;
            up = conn_open(w, &c) == 0;
        }
    }
    conn_close(&c);
    free(c.buf);
    return NULL;
}

static double cpu_s(void) /* user + system CPU time of this process, all threads */
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

static double pct(const double *sorted, size_t n, double p) /* nearest rank */
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

/* ---- set-up ------------------------------------------------------------------------------------- */

static char *read_file(const char *file)
{
    FILE *f = fopen(file, "rb");
    if (f == NULL)
        die("%s: %s", file, strerror(errno));
    size_t cap = 4096, len = 0;
    char *s = malloc(cap);
    if (s == NULL)
        die("out of memory");
    size_t k;
    while ((k = fread(s + len, 1, cap - len - 1, f)) > 0) {
        len += k;
        if (len + 1 == cap) {
            cap *= 2;
            s = realloc(s, cap);
            if (s == NULL)
                die("out of memory");
        }
    }
    fclose(f);
    s[len] = '\0';
    return s;
}

static void setup_tls(void)
{
    int rc;
    const char *p = priority;
    if (p == NULL) {
        bool psk = sec == SEC_PSK;
        if (strcmp(tls_sel, "default") == 0)
            p = psk ? "NORMAL:+ECDHE-PSK:+DHE-PSK:+PSK" : "NORMAL";
        else if (strcmp(tls_sel, "1.3") == 0)
            p = psk ? "NORMAL:-VERS-ALL:+VERS-TLS1.3:+ECDHE-PSK:+DHE-PSK:+PSK" : "NORMAL:-VERS-ALL:+VERS-TLS1.3";
        else if (strcmp(tls_sel, "1.2") == 0)
            p = psk ? "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+PSK:-CIPHER-ALL:+AES-128-CBC:-MAC-ALL:+SHA256"
                    : "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+ECDHE-ECDSA:-CIPHER-ALL:+AES-128-GCM:-MAC-ALL:+AEAD";
        else
            die("--tls must be default, 1.2 or 1.3 (got '%s')", tls_sel);
    }
    const char *errpos = NULL;
    rc = gnutls_priority_init(&prio, p, &errpos);
    if (rc < 0)
        die("priority '%s': %s at '%s'", p, gnutls_strerror(rc), errpos != NULL ? errpos : "?");
    if (sec == SEC_PSK) {
        char *raw = read_file(psk_key_file), *hex = raw;
        size_t n = 0;
        for (char *q = raw; *q; q++) {
            if (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
                continue;
            if (!((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f') || (*q >= 'A' && *q <= 'F')))
                die("%s: not a hex key", psk_key_file);
            hex[n++] = *q;
        }
        hex[n] = '\0';
        if (n == 0 || n % 2 != 0)
            die("%s: a hex key of an even number of digits expected", psk_key_file);
        gnutls_datum_t key = {(unsigned char *)hex, (unsigned)n};
        if ((rc = gnutls_psk_allocate_client_credentials(&psk_cred)) < 0 ||
            (rc = gnutls_psk_set_client_credentials(psk_cred, psk_identity, &key, GNUTLS_PSK_KEY_HEX)) < 0)
            die("PSK credentials: %s", gnutls_strerror(rc));
        memset(raw, 0, n);
        free(raw);
        if (ca_file != NULL)
            die("--ca is for certificate mode");
    } else {
        if ((rc = gnutls_certificate_allocate_credentials(&cert_cred)) < 0)
            die("certificate credentials: %s", gnutls_strerror(rc));
        if (cert_file != NULL &&
            (rc = gnutls_certificate_set_x509_key_file(cert_cred, cert_file, key_file, GNUTLS_X509_FMT_PEM)) < 0)
            die("%s / %s: %s", cert_file, key_file, gnutls_strerror(rc));
        if (ca_file != NULL) {
            rc = gnutls_certificate_set_x509_trust_file(cert_cred, ca_file, GNUTLS_X509_FMT_PEM);
            if (rc <= 0)
                die("%s: %s", ca_file, rc < 0 ? gnutls_strerror(rc) : "no certificate");
        }
    }
}

static void usage(void)
{
    fprintf(stderr,
            "usage: warden-tls-load handshake|keepalive --port P [--host 127.0.0.1] [--duration 5] [--conns 4]\n"
            "         [--count N] [--timeout 5] [--max-errors 100]\n"
            "         (--plain | --psk-identity ID --psk-key-file HEXFILE | --cert PEM --key PEM) [--ca PEM]\n"
            "         [--tls default|1.2|1.3] [--priority GNUTLS-PRIORITY] [--server-name NAME]\n"
            "         [--request] (handshake: one request per connection)\n"
            "         [--method GET] [--path /] [--origin O] [--rvi 3] [--header 'Name: value']...\n"
            "         [--body STRING] [--content-type TYPE] [--ri-prefix T] [--check-ri]\n");
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
    if (strcmp(argv[1], "handshake") == 0)
        mode = MODE_HANDSHAKE;
    else if (strcmp(argv[1], "keepalive") == 0)
        mode = MODE_KEEPALIVE;
    else
        usage();
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        /* flags without a value */
        if (strcmp(a, "--plain") == 0) {
            sec = SEC_PLAIN;
            sec_given = true;
            continue;
        }
        if (strcmp(a, "--request") == 0) {
            with_request = true;
            continue;
        }
        if (strcmp(a, "--check-ri") == 0) {
            check_ri = true;
            continue;
        }
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (strcmp(a, "--port") == 0)
            port = (int)num_arg(a, v, 1, 65535);
        else if (strcmp(a, "--host") == 0)
            host = v;
        else if (strcmp(a, "--duration") == 0)
            duration = num_arg(a, v, 0.01, 86400);
        else if (strcmp(a, "--conns") == 0 || strcmp(a, "--threads") == 0)
            nconns = (int)num_arg(a, v, 1, 1024);
        else if (strcmp(a, "--count") == 0)
            count_limit = (long)num_arg(a, v, 1, 1e12);
        else if (strcmp(a, "--timeout") == 0)
            timeout_s = num_arg(a, v, 0.1, 3600);
        else if (strcmp(a, "--max-errors") == 0)
            max_errors = (long)num_arg(a, v, 1, 1e12);
        else if (strcmp(a, "--psk-identity") == 0)
            psk_identity = v;
        else if (strcmp(a, "--psk-key-file") == 0)
            psk_key_file = v;
        else if (strcmp(a, "--cert") == 0)
            cert_file = v;
        else if (strcmp(a, "--key") == 0)
            key_file = v;
        else if (strcmp(a, "--ca") == 0)
            ca_file = v;
        else if (strcmp(a, "--tls") == 0)
            tls_sel = v;
        else if (strcmp(a, "--priority") == 0)
            priority = v;
        else if (strcmp(a, "--server-name") == 0)
            server_name = v;
        else if (strcmp(a, "--method") == 0)
            method = v;
        else if (strcmp(a, "--path") == 0)
            path = v;
        else if (strcmp(a, "--origin") == 0)
            origin = v;
        else if (strcmp(a, "--rvi") == 0)
            rvi = v;
        else if (strcmp(a, "--header") == 0) {
            if (nextra == (int)(sizeof extra_headers / sizeof extra_headers[0]))
                die("too many --header options");
            if (strchr(v, ':') == NULL || strpbrk(v, "\r\n") != NULL)
                die("--header: 'Name: value' expected (got '%s')", v);
            extra_headers[nextra++] = v;
        } else if (strcmp(a, "--body") == 0)
            body = v;
        else if (strcmp(a, "--content-type") == 0)
            content_type = v;
        else if (strcmp(a, "--ri-prefix") == 0)
            ri_prefix = v;
        else
            usage();
    }
    if (port == 0)
        usage();
    if (psk_identity != NULL || psk_key_file != NULL) {
        if (psk_identity == NULL || psk_key_file == NULL || cert_file != NULL || (sec_given && sec == SEC_PLAIN))
            die("PSK mode needs --psk-identity and --psk-key-file, and neither --cert nor --plain");
        sec = SEC_PSK;
    } else if (cert_file != NULL || key_file != NULL || ca_file != NULL) {
        if ((cert_file == NULL) != (key_file == NULL) || (sec_given && sec == SEC_PLAIN))
            die("certificate mode needs --cert and --key together (and --ca for the server), and not --plain");
        sec = SEC_CERT;
    } else if (!sec_given) {
        die("one of --plain, --psk-identity/--psk-key-file or --cert/--key/--ca is required");
    }
    for (const char *q = path; *q; q++)
        if (*q == ' ' || *q == '\r' || *q == '\n')
            die("--path must not contain spaces or line breaks");
    if (inet_pton(AF_INET, host, &peer.sin_addr) != 1)
        die("bad --host %s (IPv4 address expected)", host);
    peer.sin_family = AF_INET;
    peer.sin_port = htons((uint16_t)port);
    if (sec != SEC_PLAIN)
        setup_tls();
    signal(SIGPIPE, SIG_IGN); /* a write to a connection the server closed is an error, not the end */

    struct worker *w = calloc((size_t)nconns, sizeof *w);
    if (w == NULL)
        die("out of memory");
    if (pthread_barrier_init(&start_barrier, NULL, (unsigned)nconns + 1) != 0)
        die("pthread_barrier_init failed");
    /* Two barrier rounds: every worker is ready (keep-alive: connected and through its handshake), then the
     * main thread sets the clock and releases them all (the barrier orders these writes before their reads). */
    for (int i = 0; i < nconns; i++) {
        w[i].id = i + 1;
        if (pthread_create(&w[i].th, NULL, mode == MODE_HANDSHAKE ? handshake_worker : keepalive_worker, &w[i]) != 0)
            die("pthread_create failed");
    }
    pthread_barrier_wait(&start_barrier);
    double cpu0 = cpu_s();
    t_start = now_s();
    t_deadline = t_start + duration;
    pthread_barrier_wait(&start_barrier);
    for (int i = 0; i < nconns; i++)
        pthread_join(w[i].th, NULL);
    double t_end = now_s();
    double cpu = cpu_s() - cpu0;
    double secs =
        count_limit > 0 || atomic_load(&stop) ? (t_end < t_deadline ? t_end : t_deadline) - t_start : duration;
    if (secs <= 0)
        secs = 1e-9;

    size_t n = 0;
    long errs[E_COUNT] = {0}, reconnects = 0, resets = 0, notifies = 0, eofs = 0, total_errors = 0;
    for (int i = 0; i < nconns; i++) {
        n += w[i].nlat;
        for (int k = 0; k < E_COUNT; k++)
            errs[k] += w[i].errs[k];
        reconnects += w[i].reconnects;
        resets += w[i].close_resets;
        notifies += w[i].close_notifies;
        eofs += w[i].close_eofs;
    }
    for (int k = 0; k < E_COUNT; k++)
        total_errors += errs[k];
    double *all = malloc((n > 0 ? n : 1) * sizeof *all), sum = 0;
    if (all == NULL)
        die("out of memory");
    size_t k = 0;
    for (int i = 0; i < nconns; i++) {
        if (w[i].nlat > 0)
            memcpy(all + k, w[i].lat, w[i].nlat * sizeof *all);
        k += w[i].nlat;
        free(w[i].lat);
        free(w[i].req);
    }
    for (size_t j = 0; j < n; j++)
        sum += all[j];
    qsort(all, n, sizeof *all, cmp_double);
    bool ok = total_errors == 0 && n > 0;
    static const char *const sec_names[] = {"plain", "psk", "cert"};
    printf("TLS_RESULT mode=%s sec=%s tls=%s version=%s kx=%s group=%s cipher=%s session=%s conns=%d seconds=%.3f "
           "ops=%zu rate=%.1f "
           "p50_us=%.0f p90_us=%.0f p99_us=%.0f mean_us=%.0f max_us=%.0f first_status=%d",
           mode == MODE_HANDSHAKE ? (with_request ? "handshake+request" : "handshake") : "keepalive", sec_names[sec],
           sec == SEC_PLAIN ? "none" : (priority != NULL ? "custom" : tls_sel),
           sec == SEC_PLAIN ? "none" : (session_version[0] ? session_version : "?"),
           sec == SEC_PLAIN ? "none" : (session_kx[0] ? session_kx : "?"),
           sec == SEC_PLAIN ? "none" : (session_group[0] ? session_group : "?"),
           sec == SEC_PLAIN ? "none" : (session_cipher[0] ? session_cipher : "?"),
           sec == SEC_PLAIN ? "none" : (session_desc[0] ? session_desc : "?"), nconns, secs, n, (double)n / secs,
           pct(all, n, 50), pct(all, n, 90), pct(all, n, 99), n > 0 ? sum / (double)n : 0.0, n > 0 ? all[n - 1] : 0.0,
           atomic_load(&first_status));
    for (int e = 0; e < E_COUNT; e++)
        printf(" %s=%ld", err_names[e], errs[e]);
    printf(" errors=%ld reconnects=%ld close_notify=%ld close_eof=%ld close_resets=%ld client_cpu_us=%.1f status=%s\n",
           total_errors, reconnects, notifies, eofs, resets, n > 0 ? cpu * 1e6 / (double)n : 0.0, ok ? "ok" : "failed");
    fflush(stdout);
    if (!ok && n == 0 && total_errors == 0)
        fprintf(stderr, "warden-tls-load: no operation completed within %.3f s\n", secs);
    free(all);
    free(w);
    if (prio != NULL)
        gnutls_priority_deinit(prio);
    if (psk_cred != NULL)
        gnutls_psk_free_client_credentials(psk_cred);
    if (cert_cred != NULL)
        gnutls_certificate_free_credentials(cert_cred);
    return ok ? 0 : 1;
}
