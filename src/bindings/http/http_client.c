/* http_client: the HTTP binding's client side behind the outbound seam (see http_client.h): one
 * delivery thread, libcurl multi, bounded queue; every request primitive is mapped onto HTTP as
 * TS-0009 §6 writes it (moved here from notify/, where it sent notifications only). */
#include "bindings/http/http_client.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <stddef.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <curl/curl.h>

#include "core/limits.h"
#include "core/rsc.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/rand.h"
#include "util/timeutil.h"

#define BACKOFF_CAP_MS 30000 /* retry delays double up to this */
#define IDLE_WAIT_MS   5000  /* longest poll when nothing is due (new work and stop wake us anyway) */
#define RQI_PREFIX_LEN 8     /* random characters: request IDs differ across restarts */

/* One request from http_client_send until its callback has run. */
struct job {
    struct job *prev, *next;
    struct http_client *n;
    char *uri;          /* the target URL with the request's query */
    const char *method; /* TS-0009 §6.2.1: POST (create, notify), GET, PUT, DELETE */
    char *label;        /* the URI without credentials, query or fragment: what logs may show */
    char *body;
    size_t len;
    struct curl_slist *hdrs; /* request headers, built once; curl's allocator */
    char rqi[48];
    out_done_fn done;
    void *arg;
    int max_attempts;
    long timeout_ms;
    size_t max_answer; /* response Content kept, 0: none */
    bool cse_peer;     /* verified against cfg.cse_ca (tls.ca) */
    int attempts;      /* started so far */
    int64_t due_ms;    /* monotonic time the next attempt may start (waiting list) */
    /* State of the current attempt, reset when it starts. */
    CURL *easy;
    int status;        /* HTTP status of the final response, 0 when none */
    int hdr_rsc;       /* X-M2M-RSC of the final response, 0 when absent or malformed */
    int nrefused;      /* addresses the outbound policy refused */
    int npassed;       /* addresses the outbound policy let through */
    struct buf answer; /* response Content (at most max_answer) */
    bool too_big;
    char *location; /* Content-Location of the final response */
    int cnst;       /* X-M2M-CTS, X-M2M-CTO, X-M2M-ATI of the final response (out_response) */
    long cnot;
    char *ati;
};

/* An intrusive FIFO of jobs. */
struct jobq {
    struct job *head, *tail;
    size_t len;
};

enum outcome { OUT_DELIVERED, OUT_FAILED, OUT_REFUSED };

struct http_client {
    struct outbound *ob;        /* the seam: its policy and configuration */
    struct outbound_config cfg; /* a copy; the strings belong to ob, which outlives this */
    struct log *log;            /* not owned */
    CURLM *multi;
    pthread_t thread;
    pthread_mutex_t lock;
    /* Under lock: the hand-off from http_client_send, stop state, counters. */
    struct jobq incoming;
    bool stopping;
    int64_t deadline_ms; /* when stopping: the end of the grace period */
    size_t pending;      /* jobs anywhere between http_client_send and their callback */
    unsigned long queued, delivered, failed, refused, retried;
    _Atomic uint64_t rqi_seq; /* request ID counter; lock-free */
    char rqi_prefix[RQI_PREFIX_LEN + 1];
    /* Delivery thread only. */
    struct jobq ready;   /* may start as soon as a transfer slot frees up */
    struct jobq waiting; /* backing off before a retry, sorted by due_ms */
    struct jobq active;  /* attached to the multi handle */
};

/* ---- small helpers ---- */

static int64_t now_ms(void)
{
    return clock_mono_us() / 1000;
}

static void set_msg(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_msg(char *out, size_t len, const char *fmt, ...)
{
    if (out == NULL || len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, len, fmt, ap);
    va_end(ap);
}

static void q_push(struct jobq *q, struct job *j)
{
    j->next = NULL;
    j->prev = q->tail;
    if (q->tail != NULL)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    q->len++;
}

static void q_remove(struct jobq *q, struct job *j)
{
    if (j->prev != NULL)
        j->prev->next = j->next;
    else
        q->head = j->next;
    if (j->next != NULL)
        j->next->prev = j->prev;
    else
        q->tail = j->prev;
    j->prev = j->next = NULL;
    q->len--;
}

static struct job *q_pop(struct jobq *q)
{
    struct job *j = q->head;
    if (j != NULL)
        q_remove(q, j);
    return j;
}

/* Append all of src to dst; src is left empty. */
static void q_splice(struct jobq *dst, struct jobq *src)
{
    if (src->head == NULL)
        return;
    if (dst->tail != NULL) {
        dst->tail->next = src->head;
        src->head->prev = dst->tail;
    } else {
        dst->head = src->head;
    }
    dst->tail = src->tail;
    dst->len += src->len;
    src->head = src->tail = NULL;
    src->len = 0;
}

/* Insert keeping the queue sorted by due_ms (equal keys stay in arrival order). */
static void q_insert_by_due(struct jobq *q, struct job *j)
{
    struct job *after = q->tail;
    while (after != NULL && after->due_ms > j->due_ms)
        after = after->prev;
    if (after == NULL) {
        j->prev = NULL;
        j->next = q->head;
        if (q->head != NULL)
            q->head->prev = j;
        else
            q->tail = j;
        q->head = j;
    } else {
        j->prev = after;
        j->next = after->next;
        if (after->next != NULL)
            after->next->prev = j;
        else
            q->tail = j;
        after->next = j;
    }
    q->len++;
}

static void job_free(struct job *j)
{
    if (j == NULL)
        return;
    curl_slist_free_all(j->hdrs);
    buf_free(&j->answer);
    mem_free(j->location);
    mem_free(j->ati);
    mem_free(j->uri);
    mem_free(j->label);
    mem_free(j->body);
    mem_free(j);
}

/* ---- libcurl global state ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT; /* written once, under curl_once */

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool curl_ready(void)
{
    pthread_once(&curl_once, curl_init_once);
    return curl_init_rc == CURLE_OK;
}

/* Text form of a 16-byte policy address, IPv4-mapped shown as IPv4. */
static void addr_text(const unsigned char a[16], char *out, size_t len)
{
    static const unsigned char mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a, mapped_prefix, 12) == 0)
        inet_ntop(AF_INET, a + 12, out, (socklen_t)len);
    else
        inet_ntop(AF_INET6, a, out, (socklen_t)len);
}

/* The syntactic check behind http_client_allowed and http_client_send. The URI is parsed by libcurl's own
 * parser, the one the transfer will use, so the check and the connection cannot disagree about the
 * host (it also normalises numeric IPv4 forms such as "2130706433" and "127.1"). On success and when
 * label is not NULL, *label is a log-safe copy of the URI (mem_free). */
static bool check_uri(const struct http_client *n, const char *uri, char *reason, size_t len, char **label /* OUT */)
{
    bool ok = false;
    CURLU *u = NULL;
    char *scheme = NULL, *host = NULL, *safe = NULL;
    if (uri == NULL || *uri == '\0') {
        set_msg(reason, len, "empty URI");
        goto out;
    }
    if (!curl_ready() || (u = curl_url()) == NULL) {
        set_msg(reason, len, "libcurl unavailable");
        goto out;
    }
    CURLUcode rc = curl_url_set(u, CURLUPART_URL, uri, 0);
    if (rc != CURLUE_OK) {
        set_msg(reason, len, "malformed URI: %s", curl_url_strerror(rc));
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        set_msg(reason, len, "scheme '%s' not allowed (http or https only)", scheme ? scheme : "");
        goto out;
    }
    if (n != NULL && n->cfg.secure && !n->cfg.allow_plain_http && strcmp(scheme, "http") == 0) {
        set_msg(reason, len, "plain http:// is refused in the secure profile (https only; notify.plain_http)");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
        set_msg(reason, len, "URI has no host");
        goto out;
    }
    unsigned char a[16] = {0};
    bool literal = false;
    size_t hl = strlen(host);
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        char v6text[INET6_ADDRSTRLEN];
        if (hl - 2 < sizeof v6text) {
            memcpy(v6text, host + 1, hl - 2);
            v6text[hl - 2] = '\0';
            literal = inet_pton(AF_INET6, v6text, a) == 1;
        }
    } else {
        struct in_addr v4;
        if (inet_pton(AF_INET, host, &v4) == 1) {
            a[10] = a[11] = 0xff;
            memcpy(a + 12, &v4, 4);
            literal = true;
        }
    }
    if (literal && n != NULL && outbound_addr_refused(n->ob, a)) {
        char at[INET6_ADDRSTRLEN];
        addr_text(a, at, sizeof at);
        set_msg(reason, len, "address %s refused by the outbound policy", at);
        goto out;
    }
    if (label != NULL) {
        /* Credentials, query and fragment may carry secrets: logs get the rest. */
        curl_url_set(u, CURLUPART_USER, NULL, 0);
        curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
        curl_url_set(u, CURLUPART_OPTIONS, NULL, 0);
        curl_url_set(u, CURLUPART_QUERY, NULL, 0);
        curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
        if (curl_url_get(u, CURLUPART_URL, &safe, 0) != CURLUE_OK) {
            set_msg(reason, len, "malformed URI");
            goto out;
        }
        *label = mem_strdup(safe);
    }
    ok = true;
out:
    curl_free(safe);
    curl_free(host);
    curl_free(scheme);
    curl_url_cleanup(u);
    return ok;
}

/* ---- libcurl callbacks (delivery thread) ---- */

/* The connection address of a libcurl socket request as a v4-mapped 16-byte address. */
static bool curl_addr(curlsocktype purpose, const struct curl_sockaddr *sa, unsigned char a[16])
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    memset(a, 0, 16);
    memcpy(&ss, &sa->addr, sa->addrlen < sizeof ss ? sa->addrlen : sizeof ss);
    if (purpose == CURLSOCKTYPE_IPCXN && sa->family == AF_INET && sa->addrlen >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
        a[10] = a[11] = 0xff;
        memcpy(a + 12, &s4->sin_addr, 4);
        return true;
    }
    if (purpose == CURLSOCKTYPE_IPCXN && sa->family == AF_INET6 && sa->addrlen >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
        memcpy(a, &s6->sin6_addr, 16);
        return true;
    }
    return false;
}

/* CURLOPT_OPENSOCKETFUNCTION: the outbound policy on the address about to be connected to, after
 * name resolution, so a DNS name pointing at an internal host is caught here. */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *sa)
{
    struct job *j = clientp;
    unsigned char a[16];
    bool known = curl_addr(purpose, sa, a);
    if (!known || outbound_addr_refused(j->n->ob, a)) {
        char at[INET6_ADDRSTRLEN] = "(non-IP)";
        if (known)
            addr_text(a, at, sizeof at);
        LOG(j->n->log, LOG_WARN, "http client %s: outbound policy refused %s for %s", j->rqi, at, j->label);
        j->nrefused++;
        return CURL_SOCKET_BAD;
    }
    j->npassed++;
    return socket(sa->family, sa->socktype | SOCK_CLOEXEC, sa->protocol);
}

/* "X-M2M-RSC: 2001" -> 2001; 0 unless the value is 4 decimal digits (TS-0004 §6.6.3 codes). */
static int parse_rsc(const char *v, size_t len)
{
    size_t i = 0;
    while (i < len && (v[i] == ' ' || v[i] == '\t'))
        i++;
    int val = 0, digits = 0;
    while (i < len && v[i] >= '0' && v[i] <= '9' && digits < 5) {
        val = val * 10 + (v[i] - '0');
        digits++;
        i++;
    }
    while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n'))
        i++;
    return (i == len && digits == 4 && val >= 1000) ? val : 0;
}

/* The value of header line buf (len bytes) when it is "name: value", trimmed, as a new string;
 * NULL otherwise or when longer than LIMIT_ID_LEN. */
static char *header_copy(const char *buf, size_t len, const char *name)
{
    size_t nl = strlen(name);
    if (len <= nl || len >= LIMIT_ID_LEN || strncasecmp(buf, name, nl) != 0 || buf[nl] != ':')
        return NULL;
    const char *v = buf + nl + 1;
    size_t vl = len - nl - 1;
    while (vl > 0 && (*v == ' ' || *v == '\t'))
        v++, vl--;
    while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
        vl--;
    return mem_strndup(v, vl);
}

/* CURLOPT_HEADERFUNCTION (userdata: the job): keeps the X-M2M-RSC (TS-0009 §6.4.17), the
 * Content-Location (§6.4.3) and the response parameters of out_response (X-M2M-CTS, -CTO, -ATI:
 * §6.4.20-21, §6.4.18) of the last (final) response. */
static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
    struct job *j = userdata;
    size_t len = size * nitems;
    static const char name[] = "X-M2M-RSC:", loc[] = "Content-Location:";
    char *hv = NULL;
    if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        j->hdr_rsc = 0; /* a new response begins (an interim 1xx has its own headers) */
        MEM_FREE(j->location);
        MEM_FREE(j->ati);
        j->cnst = 0;
        j->cnot = 0;
    } else if ((hv = header_copy(buf, len, "X-M2M-CTS")) != NULL || (hv = header_copy(buf, len, "X-M2M-CTO")) != NULL) {
        char *end;
        long x = strtol(hv, &end, 10);
        if (*hv != '\0' && *end == '\0' && x >= 0 && x <= 1000000000) {
            if (tolower((unsigned char)buf[8]) == 's')
                j->cnst = (int)x;
            else
                j->cnot = x;
        }
        mem_free(hv);
    } else if ((hv = header_copy(buf, len, "X-M2M-ATI")) != NULL) {
        mem_free(j->ati);
        j->ati = hv;
    } else if (len > sizeof name - 1 && strncasecmp(buf, name, sizeof name - 1) == 0) {
        j->hdr_rsc = parse_rsc(buf + sizeof name - 1, len - (sizeof name - 1));
    } else if (len > sizeof loc - 1 && len < LIMIT_ID_LEN && strncasecmp(buf, loc, sizeof loc - 1) == 0) {
        const char *v = buf + sizeof loc - 1;
        size_t vl = len - (sizeof loc - 1);
        while (vl > 0 && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            vl--;
        mem_free(j->location);
        j->location = mem_strndup(v, vl);
    }
    return len;
}

/* CURLOPT_WRITEFUNCTION: the response Content, kept up to max_answer (a notification keeps none;
 * the per-attempt timeout bounds what is read); beyond it the transfer is aborted. */
static size_t on_body(char *buf, size_t size, size_t nmemb, void *userdata)
{
    struct job *j = userdata;
    size_t len = size * nmemb;
    if (j->max_answer == 0)
        return len;
    if (j->answer.len + len > j->max_answer) {
        j->too_big = true;
        return 0; /* aborts the transfer */
    }
    buf_append(&j->answer, buf, len);
    return len;
}

/* ---- delivery thread ---- */

/* Report j to its callback and free it. Counters change before the callback runs, so a callback
 * sees its own notification accounted for and its queue slot free. */
static void finish(struct http_client *n, struct job *j, enum outcome out, int rsc, int status)
{
    struct out_response res = {.rsc = rsc,
                               .http_status = status,
                               .attempts = j->attempts,
                               .body = j->answer.len > 0 && !j->too_big ? j->answer.p : NULL,
                               .len = j->too_big ? 0 : j->answer.len,
                               .location = j->location,
                               .truncated = j->too_big,
                               .cnst = j->cnst,
                               .cnot = j->cnot,
                               .ati = j->ati};
    pthread_mutex_lock(&n->lock);
    n->pending--;
    if (out == OUT_DELIVERED)
        n->delivered++;
    else if (out == OUT_REFUSED)
        n->refused++;
    else
        n->failed++;
    pthread_mutex_unlock(&n->lock);
    /* a request whose answer is kept (forwarding, registration) reports its non-2xx answer to the
     * caller, which decides; a notification that failed, or no answer at all, is worth a warning */
    if (out == OUT_DELIVERED || (status != 0 && j->max_answer > 0))
        LOG(n->log, LOG_DEBUG, "http client %s: %s -> rsc %d (HTTP %d, %d attempt(s))", j->rqi, j->label, rsc, status,
            j->attempts);
    else
        LOG(n->log, LOG_WARN, "http client %s: %s failed: rsc %d (HTTP %d, %d attempt(s))", j->rqi, j->label, rsc,
            status, j->attempts);
    if (j->done != NULL)
        j->done(j->arg, &res);
    job_free(j);
}

/* HTTP status -> RSC when the receiver sent no X-M2M-RSC (the reverse of TS-0009 table 6.3.2-1). */
static int rsc_from_status(int status)
{
    if (status >= 200 && status < 300)
        return RSC_OK;
    if (status == 403)
        return RSC_ORIGINATOR_HAS_NO_PRIVILEGE;
    if (status == 404)
        return RSC_NOT_FOUND;
    if (status >= 400 && status < 500)
        return RSC_BAD_REQUEST;
    return RSC_INTERNAL_SERVER_ERROR; /* 5xx, and 1xx/3xx final answers (redirects are not followed) */
}

/* Transport failures worth another attempt; anything else (bad certificate, malformed URL, ...)
 * would fail the same way again. */
static bool transient(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_AGAIN: return true;
    default: return false;
    }
}

static int64_t backoff_delay(const struct http_client *n, int attempts_done)
{
    int64_t d = n->cfg.backoff_ms;
    for (int k = 1; k < attempts_done && d < BACKOFF_CAP_MS; k++)
        d *= 2;
    return d > BACKOFF_CAP_MS ? BACKOFF_CAP_MS : d;
}

static void schedule_retry(struct http_client *n, struct job *j, int64_t now, const char *why)
{
    j->due_ms = now + backoff_delay(n, j->attempts);
    q_insert_by_due(&n->waiting, j);
    pthread_mutex_lock(&n->lock);
    n->retried++;
    pthread_mutex_unlock(&n->lock);
    LOG(n->log, LOG_INFO, "http client %s: %s attempt %d failed (%s), retry in %" PRId64 " ms", j->rqi, j->label,
        j->attempts, why, j->due_ms - now);
}

#define SETOPT(opt, val)                                                                                               \
    do {                                                                                                               \
        if (curl_easy_setopt(e, (opt), (val)) != CURLE_OK) {                                                           \
            what = #opt;                                                                                               \
            goto fail;                                                                                                 \
        }                                                                                                              \
    } while (0)

/* The options of every outgoing request: the outbound policy on every address (open_socket), no
 * redirects, no proxy, the response headers and Content into the job. NULL, or the name of the
 * option libcurl refused. */
static const char *request_options(const struct http_client *n, CURL *e, struct job *j)
{
    const char *uri = j->uri, *body = j->body;
    size_t len = j->len;
    const char *what = NULL;
    /* TLS: the peer is always verified (chain and name), against notify.ca when configured; the
     * CSE's own certificate is its client credential (finding 25) */
    SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
    SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
    const char *ca = j->cse_peer && n->cfg.cse_ca != NULL ? n->cfg.cse_ca : n->cfg.tls_ca;
    if (ca != NULL)
        SETOPT(CURLOPT_CAINFO, ca);
    if (n->cfg.tls_cert != NULL) {
        SETOPT(CURLOPT_SSLCERTTYPE, "PEM");
        SETOPT(CURLOPT_SSLCERT, n->cfg.tls_cert);
        SETOPT(CURLOPT_SSLKEYTYPE, "PEM");
        SETOPT(CURLOPT_SSLKEY, n->cfg.tls_key);
    }
    SETOPT(CURLOPT_URL, uri);
    SETOPT(CURLOPT_HTTPHEADER, j->hdrs);
    if (strcmp(j->method, "POST") == 0 || strcmp(j->method, "PUT") == 0) {
        SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        SETOPT(CURLOPT_POSTFIELDS, body);
        if (strcmp(j->method, "PUT") == 0)
            SETOPT(CURLOPT_CUSTOMREQUEST, "PUT");
    } else {
        SETOPT(CURLOPT_HTTPGET, 1L);
        if (strcmp(j->method, "DELETE") == 0)
            SETOPT(CURLOPT_CUSTOMREQUEST, "DELETE");
    }
    SETOPT(CURLOPT_USERAGENT, "Warden/" WARDEN_VERSION);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_PROXY, ""); /* never a proxy from http_proxy & co. */
    SETOPT(CURLOPT_TIMEOUT_MS, j->timeout_ms);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS,
           (long)n->cfg.connect_timeout_ms < j->timeout_ms ? (long)n->cfg.connect_timeout_ms : j->timeout_ms);
    SETOPT(CURLOPT_OPENSOCKETFUNCTION, open_socket);
    SETOPT(CURLOPT_OPENSOCKETDATA, (void *)j);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, (void *)j);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, (void *)j);
fail:
    return what;
}

/* Start the next attempt of j: the method and headers were built by http_client_send.
 * On failure j is finished with rsc 5000. */
static void start_attempt(struct http_client *n, struct job *j)
{
    const char *what = "curl_easy_init";
    CURL *e = curl_easy_init();
    if (e == NULL)
        goto fail;
    j->attempts++;
    j->status = j->hdr_rsc = j->nrefused = j->npassed = 0;
    j->too_big = false;
    j->answer.len = 0;
    MEM_FREE(j->location);
    MEM_FREE(j->ati);
    j->cnst = 0;
    j->cnot = 0;
    what = request_options(n, e, j);
    if (what != NULL)
        goto fail;
    SETOPT(CURLOPT_PRIVATE, (void *)j);
    /* Kept-alive connections (issue 14, the first forwarded request after the registrar restarted):
     * libcurl polls a pooled connection before reusing it and drops one the peer closed; when the
     * peer closed it just then, a request that got no byte of a response on a reused connection is
     * sent once more on a fresh one by libcurl itself (Curl_retry_request: reused connection, no
     * byte received). That retry can repeat a request the peer did read only when the peer closed
     * the connection after reading it and before answering (a crash mid-request); a peer that shut
     * down closed its idle connections before the request was written, and never read it. */
    SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    what = "curl_multi_add_handle";
    if (curl_multi_add_handle(n->multi, e) != CURLM_OK)
        goto fail;
    j->easy = e;
    q_push(&n->active, j);
    return;
fail:
    LOG(n->log, LOG_ERROR, "http client %s: cannot start a transfer (%s)", j->rqi, what);
    curl_easy_cleanup(e);
    finish(n, j, OUT_FAILED, RSC_INTERNAL_SERVER_ERROR, 0);
}

#undef SETOPT

/* The attempt of j on e ended with rc: finish j (freeing it) or schedule its retry. */
static void attempt_done(struct http_client *n, struct job *j, CURL *e, CURLcode rc, int64_t now)
{
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    j->status = (int)status;
    bool last = j->attempts >= j->max_attempts;
    if (j->too_big) {
        LOG(n->log, LOG_WARN, "http client %s: %s: the response is larger than %zu bytes", j->rqi, j->label,
            j->max_answer);
        finish(n, j, OUT_FAILED, RSC_INTERNAL_SERVER_ERROR, j->status);
    } else if (rc == CURLE_OK && status >= 100) {
        if (status >= 500 && status < 600 && !last) {
            schedule_retry(n, j, now, "HTTP 5xx");
            return;
        }
        int rsc = j->hdr_rsc != 0 ? j->hdr_rsc : rsc_from_status(j->status);
        finish(n, j, (status >= 200 && status < 300) ? OUT_DELIVERED : OUT_FAILED, rsc, j->status);
    } else if (j->nrefused > 0 && j->npassed == 0) {
        /* Every address the name had was refused: retrying cannot help. */
        finish(n, j, OUT_REFUSED, RSC_ORIGINATOR_HAS_NO_PRIVILEGE, 0);
    } else if (transient(rc) && !last) {
        schedule_retry(n, j, now, curl_easy_strerror(rc));
    } else {
        LOG(n->log, LOG_INFO, "http client %s: %s: %s", j->rqi, j->label, curl_easy_strerror(rc));
        finish(n, j, OUT_FAILED, transient(rc) ? RSC_TARGET_NOT_REACHABLE : RSC_INTERNAL_SERVER_ERROR, j->status);
    }
}

/* Collect finished transfers. Returns true when any finished (a slot may have freed up). */
static bool reap(struct http_client *n)
{
    bool any = false;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(n->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *e = msg->easy_handle;
        CURLcode rc = msg->data.result;
        char *priv = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
        struct job *j = (struct job *)(void *)priv;
        curl_multi_remove_handle(n->multi, e);
        q_remove(&n->active, j);
        j->easy = NULL;
        attempt_done(n, j, e, rc, now_ms());
        curl_easy_cleanup(e);
        any = true;
    }
    return any;
}

/* Detach j's transfer, if any. */
static void abort_transfer(struct http_client *n, struct job *j)
{
    if (j->easy == NULL)
        return;
    curl_multi_remove_handle(n->multi, j->easy);
    curl_easy_cleanup(j->easy);
    j->easy = NULL;
}

/* At the end of the grace period: whatever is left is reported as not reachable (outbound.h). */
static void drain(struct http_client *n)
{
    struct jobq left = {0};
    pthread_mutex_lock(&n->lock);
    q_splice(&left, &n->incoming);
    pthread_mutex_unlock(&n->lock);
    size_t count = left.len + n->ready.len + n->waiting.len + n->active.len;
    if (count > 0)
        LOG(n->log, LOG_WARN, "http client: stopping: %zu notification(s) unfinished after the grace period", count);
    struct job *j;
    while ((j = q_pop(&n->active)) != NULL) {
        abort_transfer(n, j);
        finish(n, j, OUT_FAILED, RSC_TARGET_NOT_REACHABLE, j->status);
    }
    q_splice(&n->ready, &n->waiting);
    q_splice(&n->ready, &left);
    while ((j = q_pop(&n->ready)) != NULL)
        finish(n, j, OUT_FAILED, RSC_TARGET_NOT_REACHABLE, j->status);
}

static void *run(void *arg)
{
    struct http_client *n = arg;
    for (;;) {
        pthread_mutex_lock(&n->lock);
        q_splice(&n->ready, &n->incoming);
        bool stopping = n->stopping;
        int64_t deadline = n->deadline_ms;
        pthread_mutex_unlock(&n->lock);

        int64_t now = now_ms();
        while (n->waiting.head != NULL && n->waiting.head->due_ms <= now)
            q_push(&n->ready, q_pop(&n->waiting));
        if (stopping) {
            /* Done when the grace period is over, or nothing can happen before it is. */
            bool idle = n->ready.head == NULL && n->active.head == NULL &&
                        (n->waiting.head == NULL || n->waiting.head->due_ms >= deadline);
            if (idle || now >= deadline)
                break;
        }
        while (n->active.len < (size_t)n->cfg.max_parallel && n->ready.head != NULL)
            start_attempt(n, q_pop(&n->ready));

        int running = 0;
        curl_multi_perform(n->multi, &running);
        if (reap(n))
            continue; /* slots may have freed up: refill before sleeping */

        now = now_ms();
        int64_t wait = IDLE_WAIT_MS;
        if (n->waiting.head != NULL && n->waiting.head->due_ms - now < wait)
            wait = n->waiting.head->due_ms - now;
        if (stopping && deadline - now < wait)
            wait = deadline - now;
        /* curl_multi_poll also shortens the wait to libcurl's own next timeout. */
        CURLMcode mc = curl_multi_poll(n->multi, NULL, 0, wait > 0 ? (int)wait : 0, NULL);
        if (mc != CURLM_OK) {
            /* Not expected; sleep a little rather than spin on a persistent failure. */
            LOG(n->log, LOG_ERROR, "http client: curl_multi_poll: %s", curl_multi_strerror(mc));
            struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    drain(n);
    return NULL;
}

/* ---- public interface ---- */

static void client_free(struct http_client *n)
{
    if (n == NULL)
        return;
    if (n->multi != NULL)
        curl_multi_cleanup(n->multi);
    mem_free(n);
}

struct http_client *http_client_start(struct outbound *ob, char *err, size_t errlen)
{
    struct http_client *n = NULL;
    bool mutex_ready = false;
    if (!curl_ready()) {
        set_msg(err, errlen, "http client: curl_global_init failed: %s", curl_easy_strerror(curl_init_rc));
        goto fail;
    }
    n = mem_calloc(1, sizeof *n);
    n->ob = ob;
    n->cfg = *outbound_cfg(ob);
    n->log = outbound_log(ob);
    rand_alnum(n->rqi_prefix, RQI_PREFIX_LEN);
    n->multi = curl_multi_init();
    if (n->multi == NULL) {
        set_msg(err, errlen, "http client: curl_multi_init failed");
        goto fail;
    }
    /* Idle connections kept for reuse by the next requests to the same receivers (a registrar, a
     * forwarding target: one TLS handshake, not one per request). */
    curl_multi_setopt(n->multi, CURLMOPT_MAXCONNECTS, (long)(n->cfg.max_parallel < 8 ? 8 : n->cfg.max_parallel));
    if (pthread_mutex_init(&n->lock, NULL) != 0) {
        set_msg(err, errlen, "http client: pthread_mutex_init failed");
        goto fail;
    }
    mutex_ready = true;
    /* The delivery thread takes no process signals: those belong to the main thread, and a SIGPIPE
     * from a dead peer must not kill the process. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&n->thread, NULL, run, n);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        set_msg(err, errlen, "http client: pthread_create failed: %s", strerror(rc));
        goto fail;
    }
    LOG(n->log, LOG_INFO, "http client: delivery thread started (queue %zu, parallel %d, attempts %d)",
        n->cfg.queue_max, n->cfg.max_parallel, n->cfg.max_attempts);
    return n;
fail:
    if (mutex_ready)
        pthread_mutex_destroy(&n->lock);
    client_free(n);
    return NULL;
}

void http_client_stop(struct http_client *n, int grace_ms)
{
    if (n == NULL)
        return;
    if (pthread_equal(pthread_self(), n->thread)) {
        /* A bug in the caller: the delivery thread cannot join itself. */
        LOG(n->log, LOG_ERROR, "http client: stop called from a request callback");
        abort();
    }
    pthread_mutex_lock(&n->lock);
    n->stopping = true;
    n->deadline_ms = now_ms() + (grace_ms > 0 ? grace_ms : 0);
    curl_multi_wakeup(n->multi);
    pthread_mutex_unlock(&n->lock);
    pthread_join(n->thread, NULL);
    LOG(n->log, LOG_INFO, "http client: stopped (%lu delivered, %lu failed, %lu refused)", n->delivered, n->failed,
        n->refused);
    pthread_mutex_destroy(&n->lock);
    client_free(n);
}

bool http_client_allowed(void *arg, const char *uri, char *reason, size_t len)
{
    return check_uri(arg, uri, reason, len, NULL);
}

/* A header value must not smuggle in further header lines. */
static bool header_safe(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

static bool add_header(struct job *j, const char *line)
{
    struct curl_slist *next = curl_slist_append(j->hdrs, line);
    if (next == NULL)
        return false;
    j->hdrs = next;
    return true;
}

/* The request parameters of struct out_request that HTTP carries in headers (TS-0009 §6.4; the
 * others are the method, the URL and its query, ty= in Content-Type): one table for both client
 * sides (http_client_send, and http_request_head for TLS-PSK). */
static const struct {
    const char *header;
    size_t off; /* of a const char * in struct out_request */
} param_headers[] = {
    {"X-M2M-RET", offsetof(struct out_request, rqet)},     /* §6.4.14 Request Expiration Timestamp */
    {"Authorization", offsetof(struct out_request, tkns)}, /* §6.4.19 Tokens, '+'-joined */
    {"X-M2M-RST", offsetof(struct out_request, rset)},     /* §6.4.13 Result Expiration Timestamp */
    {"X-M2M-GID", offsetof(struct out_request, gid)},      /* §6.4.10 Group Request Identifier */
};

static const char *param_value(const struct out_request *rq, size_t i)
{
    return *(const char *const *)(const void *)((const char *)rq + param_headers[i].off);
}

/* "X-M2M-RET: v" when v is set and safe; false when v is set and not safe. */
static bool add_param(struct job *j, struct buf *line, const char *name, const char *v)
{
    if (v == NULL)
        return true;
    if (!header_safe(v))
        return false;
    line->len = 0;
    buf_printf(line, "%s: %s", name, v);
    return add_header(j, line->p);
}

int http_client_send(void *arg, const char *uri, const struct out_request *rq, out_done_fn done, void *done_arg)
{
    struct http_client *n = arg;
    struct job *j = NULL;
    struct buf line;
    buf_init(&line);
    char reason[160];
    if (n == NULL || rq == NULL || (rq->body == NULL && rq->len > 0) || rq->fr == NULL || *rq->fr == '\0' ||
        !header_safe(rq->fr) || (rq->rqi != NULL && !header_safe(rq->rqi)) ||
        (rq->rvi != NULL && !header_safe(rq->rvi)) ||
        (rq->query != NULL && (!header_safe(rq->query) || strchr(rq->query, '#') != NULL)) || rq->op < OP_CREATE ||
        rq->op > OP_NOTIFY) {
        LOG(n ? n->log : NULL, LOG_WARN, "http client: send called with invalid arguments");
        goto fail;
    }
    j = mem_calloc(1, sizeof *j);
    buf_init(&j->answer);
    if (!check_uri(n, uri, reason, sizeof reason, &j->label)) {
        LOG(n->log, LOG_WARN, "http client: target refused: %s", reason);
        goto fail;
    }
    j->n = n;
    if (rq->query != NULL && rq->query[0] != '\0') {
        /* TS-0009 §6.2.2.2: the request parameters that are query components */
        size_t ul = strlen(uri) + strlen(rq->query) + 2;
        j->uri = mem_alloc(ul);
        snprintf(j->uri, ul, "%s%c%s", uri, strchr(uri, '?') ? '&' : '?', rq->query);
    } else {
        j->uri = mem_strdup(uri);
    }
    j->body = mem_alloc(rq->len);
    if (rq->len > 0)
        memcpy(j->body, rq->body, rq->len);
    j->len = rq->len;
    j->done = done;
    j->arg = done_arg;
    j->max_answer = rq->max_answer;
    j->cse_peer = rq->cse_peer;
    j->timeout_ms = rq->timeout_ms > 0 ? rq->timeout_ms : n->cfg.timeout_ms;
    j->max_attempts = rq->max_attempts > 0 ? rq->max_attempts : rq->op == OP_NOTIFY ? n->cfg.max_attempts : 1;
    static const char *const methods[] = {
        [OP_CREATE] = "POST", [OP_RETRIEVE] = "GET", [OP_UPDATE] = "PUT", [OP_DELETE] = "DELETE", [OP_NOTIFY] = "POST"};
    j->method = methods[rq->op];

    /* TS-0009 §6.4.7 (From), §6.4.8 (Request Identifier: the same on every attempt, so a receiver
     * can recognise a retry), §6.4.22 (Release Version Indicator), §6.4.3 (ty= on CREATE only),
     * then the parameter headers of param_headers (§6.4.10, §6.4.13-14, §6.4.19). */
    if (rq->rqi != NULL && strlen(rq->rqi) < sizeof j->rqi)
        snprintf(j->rqi, sizeof j->rqi, "%s", rq->rqi);
    else
        snprintf(j->rqi, sizeof j->rqi, "wn-%s-%" PRIu64, n->rqi_prefix, atomic_fetch_add(&n->rqi_seq, 1) + 1);
    bool ok = add_param(j, &line, "X-M2M-Origin", rq->fr) && add_param(j, &line, "X-M2M-RI", j->rqi) &&
              add_param(j, &line, "X-M2M-RVI", rq->rvi ? rq->rvi : "3") && add_header(j, "Accept: application/json") &&
              add_header(j, "Expect:"); /* no 100-continue round trip for large bodies */
    for (size_t i = 0; ok && i < sizeof param_headers / sizeof param_headers[0]; i++)
        ok = add_param(j, &line, param_headers[i].header, param_value(rq, i));
    if (ok && (rq->op == OP_CREATE || rq->op == OP_UPDATE || rq->op == OP_NOTIFY)) {
        line.len = 0;
        if (rq->op == OP_CREATE)
            buf_printf(&line, "Content-Type: application/json;ty=%d", rq->ty);
        else /* a notification may be CBOR (notify_send_as) */
            buf_printf(&line, "Content-Type: %s", rq->ctype && header_safe(rq->ctype) ? rq->ctype : "application/json");
        ok = add_header(j, line.p);
    }
    if (!ok)
        goto fail;

    pthread_mutex_lock(&n->lock);
    bool full = n->stopping || n->pending >= n->cfg.queue_max;
    if (!full) {
        q_push(&n->incoming, j);
        n->pending++;
        n->queued++;
        /* Under the lock: the thread cannot have exited, it only does so after stopping is set. */
        curl_multi_wakeup(n->multi);
    }
    pthread_mutex_unlock(&n->lock);
    if (full) {
        LOG(n->log, LOG_WARN, "http client: queue full or stopping, dropped a request to %s", j->label);
        goto fail;
    }
    buf_free(&line);
    return 0;
fail:
    buf_free(&line);
    job_free(j);
    return -1;
}

void http_client_stats(struct http_client *n, struct outbound_stats *out)
{
    memset(out, 0, sizeof *out);
    if (n == NULL)
        return;
    pthread_mutex_lock(&n->lock);
    out->queued = n->queued;
    out->delivered = n->delivered;
    out->failed = n->failed;
    out->refused = n->refused;
    out->retried = n->retried;
    out->pending = n->pending;
    pthread_mutex_unlock(&n->lock);
}

int http_request_head(const struct out_request *rq, const char *target, struct buf *out)
{
    static const char *const methods[] = {
        [OP_CREATE] = "POST", [OP_RETRIEVE] = "GET", [OP_UPDATE] = "PUT", [OP_DELETE] = "DELETE", [OP_NOTIFY] = "POST"};
    if (rq->op < OP_CREATE || rq->op > OP_NOTIFY || rq->fr == NULL || !header_safe(rq->fr) ||
        (rq->rqi && !header_safe(rq->rqi)) || (rq->rvi && !header_safe(rq->rvi)) || !header_safe(target) ||
        (rq->query && (!header_safe(rq->query) || strchr(rq->query, '#'))))
        return -1;
    for (size_t i = 0; i < sizeof param_headers / sizeof param_headers[0]; i++)
        if (param_value(rq, i) != NULL && !header_safe(param_value(rq, i)))
            return -1;
    char rqi[48];
    if (rq->rqi == NULL) {
        rand_alnum(rqi, 16);
        rqi[16] = '\0';
    }
    /* the same mapping as http_client_send (TS-0009 §6.2.1, §6.4) */
    buf_printf(out,
               "%s %s%s%s HTTP/1.1\r\nX-M2M-Origin: %s\r\nX-M2M-RI: %s\r\nX-M2M-RVI: %s\r\nAccept: application/json",
               methods[rq->op], target, rq->query && rq->query[0] ? (strchr(target, '?') ? "&" : "?") : "",
               rq->query ? rq->query : "", rq->fr, rq->rqi ? rq->rqi : rqi, rq->rvi ? rq->rvi : "3");
    for (size_t i = 0; i < sizeof param_headers / sizeof param_headers[0]; i++)
        if (param_value(rq, i) != NULL)
            buf_printf(out, "\r\n%s: %s", param_headers[i].header, param_value(rq, i));
    if (rq->op == OP_CREATE)
        buf_printf(out, "\r\nContent-Type: application/json;ty=%d", rq->ty);
    else if (rq->op == OP_UPDATE || rq->op == OP_NOTIFY)
        buf_printf(out, "\r\nContent-Type: %s", rq->ctype && header_safe(rq->ctype) ? rq->ctype : "application/json");
    return 0;
}
