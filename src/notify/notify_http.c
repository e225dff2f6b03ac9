/* notify_http: the notification delivery engine (see notify.h): one thread, libcurl multi, bounded queue. */
#include "notify/notify.h"

#include <arpa/inet.h>
#include <inttypes.h>
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

/* One allow/deny entry. IPv4 is stored IPv4-mapped (::ffff:a.b.c.d, prefix + 96) so that one
 * comparison covers both families and a v4-mapped IPv6 peer matches the IPv4 rules. */
struct cidr {
    unsigned char addr[16];
    unsigned prefix;
};

/* One notification from notify_send until its callback has run. */
struct job {
    struct job *prev, *next;
    struct notifier *n;
    char *uri;
    char *label; /* the URI without credentials, query or fragment: what logs may show */
    char *body;
    size_t len;
    struct curl_slist *hdrs; /* request headers, built once; curl's allocator */
    char rqi[48];
    notify_done_fn done;
    void *arg;
    int attempts;   /* started so far */
    int64_t due_ms; /* monotonic time the next attempt may start (waiting list) */
    /* State of the current attempt, reset when it starts. */
    CURL *easy;
    int status;   /* HTTP status of the final response, 0 when none */
    int hdr_rsc;  /* X-M2M-RSC of the final response, 0 when absent or malformed */
    int nrefused; /* addresses the outbound policy refused */
    int npassed;  /* addresses the outbound policy let through */
};

/* An intrusive FIFO of jobs. */
struct jobq {
    struct job *head, *tail;
    size_t len;
};

enum outcome { OUT_DELIVERED, OUT_FAILED, OUT_REFUSED };

struct notifier {
    struct notify_config cfg; /* the list pointers are cleared: the parsed lists below replace them */
    struct cidr *allow, *deny;
    size_t nallow, ndeny;
    struct log *log; /* not owned */
    CURLM *multi;
    pthread_t thread;
    pthread_mutex_t lock;
    /* Under lock: the hand-off from notify_send, stop state, counters. */
    struct jobq incoming;
    bool stopping;
    int64_t deadline_ms; /* when stopping: the end of the grace period */
    size_t pending;      /* jobs anywhere between notify_send and their callback */
    unsigned long queued, delivered, failed, refused, retried;
    _Atomic uint64_t rqi_seq; /* request ID counter; lock-free */
    char rqi_prefix[RQI_PREFIX_LEN + 1];
    /* Delivery thread only. */
    struct jobq ready;   /* may start as soon as a transfer slot frees up */
    struct jobq waiting; /* backing off before a retry, sorted by due_ms */
    struct jobq active;  /* attached to the multi handle */
    /* Other bindings' transports; calls run under the read lock, changes take the write lock. */
    pthread_rwlock_t transports_lock;
    struct notify_transport transports[4];
    char transport_schemes[4][16];
    size_t ntransports;
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

/* ---- outbound policy ---- */

/* Parse "a.b.c.d/len", "v6/len" or a bare address (a host route). Returns false when malformed. */
static bool cidr_parse(const char *s, struct cidr *out)
{
    char text[INET6_ADDRSTRLEN + 8];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof text)
        return false;
    memcpy(text, s, n + 1);
    char *slash = strchr(text, '/');
    long plen = -1;
    if (slash != NULL) {
        *slash = '\0';
        const char *p = slash + 1;
        if (*p == '\0' || strlen(p) > 3)
            return false;
        plen = 0;
        for (; *p != '\0'; p++) {
            if (*p < '0' || *p > '9')
                return false;
            plen = plen * 10 + (*p - '0');
        }
    }
    struct in_addr v4;
    struct in6_addr v6;
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, text, &v4) == 1) {
        if (plen > 32)
            return false;
        out->addr[10] = out->addr[11] = 0xff;
        memcpy(out->addr + 12, &v4, 4);
        out->prefix = (unsigned)(plen < 0 ? 32 : plen) + 96;
    } else if (inet_pton(AF_INET6, text, &v6) == 1) {
        if (plen > 128)
            return false;
        memcpy(out->addr, &v6, 16);
        out->prefix = (unsigned)(plen < 0 ? 128 : plen);
    } else {
        return false;
    }
    /* Clear host bits so that matching is a plain prefix compare. */
    for (unsigned bit = out->prefix; bit < 128; bit++)
        out->addr[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
    return true;
}

static bool cidr_match(const struct cidr *c, const unsigned char a[16])
{
    unsigned full = c->prefix / 8, rest = c->prefix % 8;
    if (memcmp(c->addr, a, full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xffu << (8 - rest));
    return (a[full] & mask) == c->addr[full];
}

static bool cidr_any(const struct cidr *list, size_t n, const unsigned char a[16])
{
    for (size_t i = 0; i < n; i++)
        if (cidr_match(&list[i], a))
            return true;
    return false;
}

/* The IPv4 address an IPv6 address carries where the packet goes to (or through) that IPv4 host,
 * written IPv4-mapped into v4: the well-known NAT64 prefix 64:ff9b::/96 (RFC 6052 §2.1), the
 * deprecated IPv4-compatible ::/96 (RFC 4291 §2.5.5.1; not :: and ::1, which are themselves) and 6to4
 * 2002::/16 (RFC 3056 §2: the IPv4 address in bits 16-47). IPv4-mapped addresses are the policy's
 * own form for IPv4 already. false for every other address. */
static bool embedded_v4(const unsigned char a[16], unsigned char v4[16])
{
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    static const unsigned char zero[12];
    const unsigned char *carried = NULL;
    if (memcmp(a, nat64, 12) == 0)
        carried = a + 12;
    else if (memcmp(a, zero, 12) == 0 && !(a[12] == 0 && a[13] == 0 && a[14] == 0 && a[15] <= 1))
        carried = a + 12;
    else if (a[0] == 0x20 && a[1] == 0x02)
        carried = a + 2;
    if (carried == NULL)
        return false;
    memset(v4, 0, 16);
    v4[10] = v4[11] = 0xff;
    memcpy(v4 + 12, carried, 4);
    return true;
}

/* One form of an address against the lists: denied and not allowed. */
static bool form_refused(const struct notifier *n, const unsigned char a[16])
{
    return cidr_any(n->deny, n->ndeny, a) && !cidr_any(n->allow, n->nallow, a);
}

/* The notify.h rule: refused when the address matches deny and not allow. The unspecified addresses
 * (0.0.0.0, ::) are judged as the loopback address the kernel connects them to, so that
 * "http://0.0.0.0/" cannot reach a denied 127.0.0.1. An address that carries an IPv4 address
 * (embedded_v4) is judged in both forms and refused when either is: 64:ff9b::a00:1 is 10.0.0.1
 * (unless 10.0.0.1 is allowed), and a deny entry written in the IPv6 form applies as written. */
static bool addr_refused(const struct notifier *n, const unsigned char in[16])
{
    static const unsigned char zero[16];
    static const unsigned char mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    unsigned char a[16];
    memcpy(a, in, 16);
    if (memcmp(a, zero, 16) == 0)
        a[15] = 1; /* :: -> ::1 */
    else if (memcmp(a, mapped_prefix, 12) == 0 && memcmp(a + 12, zero, 4) == 0)
        a[12] = 127, a[15] = 1; /* 0.0.0.0 -> 127.0.0.1 */
    unsigned char v4[16];
    if (embedded_v4(a, v4) && form_refused(n, v4))
        return true;
    return form_refused(n, a);
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

/* Parse the lists of cfg into n. Returns false, naming the culprit in err, when one is malformed. */
static bool parse_lists(struct notifier *n, const struct notify_config *cfg, char *err, size_t errlen)
{
    if ((cfg->nallow > 0 && cfg->allow == NULL) || (cfg->ndeny > 0 && cfg->deny == NULL)) {
        set_msg(err, errlen, "notify: allow/deny list pointer is NULL with a non-zero count");
        return false;
    }
    n->allow = mem_calloc(cfg->nallow, sizeof *n->allow);
    n->deny = mem_calloc(cfg->ndeny, sizeof *n->deny);
    for (size_t i = 0; i < cfg->nallow; i++) {
        if (cfg->allow[i] == NULL || !cidr_parse(cfg->allow[i], &n->allow[i])) {
            set_msg(err, errlen, "notify: malformed CIDR in allow list: '%s'",
                    cfg->allow[i] ? cfg->allow[i] : "(null)");
            return false;
        }
    }
    n->nallow = cfg->nallow;
    for (size_t i = 0; i < cfg->ndeny; i++) {
        if (cfg->deny[i] == NULL || !cidr_parse(cfg->deny[i], &n->deny[i])) {
            set_msg(err, errlen, "notify: malformed CIDR in deny list: '%s'", cfg->deny[i] ? cfg->deny[i] : "(null)");
            return false;
        }
    }
    n->ndeny = cfg->ndeny;
    return true;
}

/* The syntactic check behind notify_uri_allowed and notify_send. The URI is parsed by libcurl's own
 * parser, the one the transfer will use, so the check and the connection cannot disagree about the
 * host (it also normalises numeric IPv4 forms such as "2130706433" and "127.1"). On success and when
 * label is not NULL, *label is a log-safe copy of the URI (mem_free). */
static bool check_uri(const struct notifier *n, const char *uri, char *reason, size_t len, char **label /* OUT */)
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
    if (literal && n != NULL && addr_refused(n, a)) {
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

/* The registered transport for uri's scheme, with the read lock held (release with
 * transport_done), or NULL (no lock held). */
static const struct notify_transport *transport_for(struct notifier *n, const char *uri)
{
    const char *sep = uri ? strstr(uri, "://") : NULL;
    if (n == NULL || sep == NULL)
        return NULL;
    size_t sl = (size_t)(sep - uri);
    pthread_rwlock_rdlock(&n->transports_lock);
    for (size_t i = 0; i < n->ntransports; i++)
        if (strlen(n->transport_schemes[i]) == sl && strncasecmp(n->transport_schemes[i], uri, sl) == 0)
            return &n->transports[i];
    pthread_rwlock_unlock(&n->transports_lock);
    return NULL;
}

static void transport_done(struct notifier *n)
{
    pthread_rwlock_unlock(&n->transports_lock);
}

/* The secure profile's rule for plaintext transports other than http (checked in check_uri): coap://
 * is UDP without DTLS, refused like plain http unless notify.plain_http allows it (finding 25). */
static bool plaintext_refused(const struct notifier *n, const char *uri, char *reason, size_t len)
{
    if (n == NULL || !n->cfg.secure || n->cfg.allow_plain_http || strncasecmp(uri, "coap://", 7) != 0)
        return false;
    set_msg(reason, len, "plain coap:// is refused in the secure profile (notify.plain_http)");
    return true;
}

bool notify_uri_allowed(const struct notifier *n, const char *uri, char *reason, size_t len)
{
    if (uri != NULL && plaintext_refused(n, uri, reason, len))
        return false;
    struct notifier *mn = (struct notifier *)n; /* the lock only: the table is not changed */
    const struct notify_transport *t = transport_for(mn, uri);
    if (t != NULL) {
        bool ok = t->allowed(t->arg, uri, reason, len);
        transport_done(mn);
        return ok;
    }
    return check_uri(n, uri, reason, len, NULL);
}

int notifier_add_transport(struct notifier *n, const struct notify_transport *t)
{
    if (n == NULL || t == NULL || t->scheme == NULL || strlen(t->scheme) >= sizeof n->transport_schemes[0] ||
        strcasecmp(t->scheme, "http") == 0 || strcasecmp(t->scheme, "https") == 0)
        return -1;
    pthread_rwlock_wrlock(&n->transports_lock);
    int rc = -1;
    if (n->ntransports < sizeof n->transports / sizeof n->transports[0]) {
        size_t i = n->ntransports++;
        n->transports[i] = *t;
        snprintf(n->transport_schemes[i], sizeof n->transport_schemes[i], "%s", t->scheme);
        n->transports[i].scheme = n->transport_schemes[i];
        rc = 0;
    }
    pthread_rwlock_unlock(&n->transports_lock);
    return rc;
}

void notifier_remove_transport(struct notifier *n, const char *scheme)
{
    if (n == NULL)
        return;
    pthread_rwlock_wrlock(&n->transports_lock);
    for (size_t i = 0; i < n->ntransports; i++)
        if (strcasecmp(n->transport_schemes[i], scheme) == 0) {
            size_t last = --n->ntransports;
            if (i != last) {
                n->transports[i] = n->transports[last];
                memcpy(n->transport_schemes[i], n->transport_schemes[last], sizeof n->transport_schemes[i]);
                n->transports[i].scheme = n->transport_schemes[i];
            }
            break;
        }
    pthread_rwlock_unlock(&n->transports_lock);
}

bool notify_host_allowed(const struct notifier *n, const char *host)
{
    unsigned char a[16] = {0};
    char text[INET6_ADDRSTRLEN];
    size_t hl = host ? strlen(host) : 0;
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']' && hl - 2 < sizeof text) {
        memcpy(text, host + 1, hl - 2);
        text[hl - 2] = '\0';
        host = text;
    }
    struct in_addr v4;
    if (host != NULL && inet_pton(AF_INET, host, &v4) == 1) {
        a[10] = a[11] = 0xff;
        memcpy(a + 12, &v4, 4);
    } else if (host == NULL || inet_pton(AF_INET6, host, a) != 1) {
        return false; /* not an address literal */
    }
    return !addr_refused(n, a);
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
    if (!known || addr_refused(j->n, a)) {
        char at[INET6_ADDRSTRLEN] = "(non-IP)";
        if (known)
            addr_text(a, at, sizeof at);
        LOG(j->n->log, LOG_WARN, "notify %s: outbound policy refused %s for %s", j->rqi, at, j->label);
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

/* CURLOPT_HEADERFUNCTION (userdata: the int to fill): keeps the X-M2M-RSC of the last (final)
 * response; TS-0009 §6.4.17. */
static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
    int *hdr_rsc = userdata;
    size_t len = size * nitems;
    static const char name[] = "X-M2M-RSC:";
    if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0)
        *hdr_rsc = 0; /* a new response begins (an interim 1xx has its own headers) */
    else if (len > sizeof name - 1 && strncasecmp(buf, name, sizeof name - 1) == 0)
        *hdr_rsc = parse_rsc(buf + sizeof name - 1, len - (sizeof name - 1));
    return len;
}

/* CURLOPT_WRITEFUNCTION: the response content is not used; the per-attempt timeout bounds it. */
static size_t discard(char *buf, size_t size, size_t nmemb, void *userdata)
{
    (void)buf;
    (void)userdata;
    return size * nmemb;
}

/* ---- delivery thread ---- */

/* Report j to its callback and free it. Counters change before the callback runs, so a callback
 * sees its own notification accounted for and its queue slot free. */
static void finish(struct notifier *n, struct job *j, enum outcome out, int rsc, int status)
{
    struct notify_result res = {.rsc = rsc, .http_status = status, .attempts = j->attempts};
    pthread_mutex_lock(&n->lock);
    n->pending--;
    if (out == OUT_DELIVERED)
        n->delivered++;
    else if (out == OUT_REFUSED)
        n->refused++;
    else
        n->failed++;
    pthread_mutex_unlock(&n->lock);
    if (out == OUT_DELIVERED)
        LOG(n->log, LOG_DEBUG, "notify %s: %s -> rsc %d (HTTP %d, %d attempt(s))", j->rqi, j->label, rsc, status,
            j->attempts);
    else
        LOG(n->log, LOG_WARN, "notify %s: %s failed: rsc %d (HTTP %d, %d attempt(s))", j->rqi, j->label, rsc, status,
            j->attempts);
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

static int64_t backoff_delay(const struct notifier *n, int attempts_done)
{
    int64_t d = n->cfg.backoff_ms;
    for (int k = 1; k < attempts_done && d < BACKOFF_CAP_MS; k++)
        d *= 2;
    return d > BACKOFF_CAP_MS ? BACKOFF_CAP_MS : d;
}

static void schedule_retry(struct notifier *n, struct job *j, int64_t now, const char *why)
{
    j->due_ms = now + backoff_delay(n, j->attempts);
    q_insert_by_due(&n->waiting, j);
    pthread_mutex_lock(&n->lock);
    n->retried++;
    pthread_mutex_unlock(&n->lock);
    LOG(n->log, LOG_INFO, "notify %s: %s attempt %d failed (%s), retry in %" PRId64 " ms", j->rqi, j->label,
        j->attempts, why, j->due_ms - now);
}

#define SETOPT(opt, val)                                                                                               \
    do {                                                                                                               \
        if (curl_easy_setopt(e, (opt), (val)) != CURLE_OK) {                                                           \
            what = #opt;                                                                                               \
            goto fail;                                                                                                 \
        }                                                                                                              \
    } while (0)

/* The options every outgoing POST has (notifications and DAS exchanges): the outbound policy on
 * every address (sock), no redirects, no proxy, the X-M2M-RSC into *hdr_rsc. NULL, or the name of
 * the option libcurl refused. */
static const char *post_options(const struct notifier *n, CURL *e, const char *uri, struct curl_slist *hdrs,
                                const char *body, size_t len, long timeout_ms, long connect_timeout_ms,
                                curl_opensocket_callback sock, void *sock_arg, int *hdr_rsc)
{
    const char *what = NULL;
    /* TLS: the peer is always verified (chain and name), against notify.ca when configured; the
     * CSE's own certificate is its client credential (finding 25) */
    SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
    SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
    if (n->cfg.tls_ca != NULL)
        SETOPT(CURLOPT_CAINFO, n->cfg.tls_ca);
    if (n->cfg.tls_cert != NULL) {
        SETOPT(CURLOPT_SSLCERTTYPE, "PEM");
        SETOPT(CURLOPT_SSLCERT, n->cfg.tls_cert);
        SETOPT(CURLOPT_SSLKEYTYPE, "PEM");
        SETOPT(CURLOPT_SSLKEY, n->cfg.tls_key);
    }
    SETOPT(CURLOPT_URL, uri);
    SETOPT(CURLOPT_HTTPHEADER, hdrs);
    SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    SETOPT(CURLOPT_POSTFIELDS, body);
    SETOPT(CURLOPT_USERAGENT, "Warden/" WARDEN_VERSION);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_PROXY, ""); /* never a proxy from http_proxy & co. */
    SETOPT(CURLOPT_TIMEOUT_MS, timeout_ms);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
    SETOPT(CURLOPT_OPENSOCKETFUNCTION, sock);
    SETOPT(CURLOPT_OPENSOCKETDATA, sock_arg);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, (void *)hdr_rsc);
fail:
    return what;
}

/* Start the next attempt of j: TS-0009 §6.2.1 maps Notify to POST; headers were built by notify_send.
 * On failure j is finished with rsc 5000. */
static void start_attempt(struct notifier *n, struct job *j)
{
    const char *what = "curl_easy_init";
    CURL *e = curl_easy_init();
    if (e == NULL)
        goto fail;
    j->attempts++;
    j->status = j->hdr_rsc = j->nrefused = j->npassed = 0;
    what = post_options(n, e, j->uri, j->hdrs, j->body, j->len, (long)n->cfg.timeout_ms,
                        (long)n->cfg.connect_timeout_ms, open_socket, j, &j->hdr_rsc);
    if (what != NULL)
        goto fail;
    SETOPT(CURLOPT_PRIVATE, (void *)j);
    SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(CURLOPT_WRITEFUNCTION, discard);
    what = "curl_multi_add_handle";
    if (curl_multi_add_handle(n->multi, e) != CURLM_OK)
        goto fail;
    j->easy = e;
    q_push(&n->active, j);
    return;
fail:
    LOG(n->log, LOG_ERROR, "notify %s: cannot start a transfer (%s)", j->rqi, what);
    curl_easy_cleanup(e);
    finish(n, j, OUT_FAILED, RSC_INTERNAL_SERVER_ERROR, 0);
}

#undef SETOPT

/* The attempt of j on e ended with rc: finish j (freeing it) or schedule its retry. */
static void attempt_done(struct notifier *n, struct job *j, CURL *e, CURLcode rc, int64_t now)
{
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    j->status = (int)status;
    bool last = j->attempts >= n->cfg.max_attempts;
    if (rc == CURLE_OK && status >= 100) {
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
        LOG(n->log, LOG_INFO, "notify %s: %s: %s", j->rqi, j->label, curl_easy_strerror(rc));
        finish(n, j, OUT_FAILED, transient(rc) ? RSC_TARGET_NOT_REACHABLE : RSC_INTERNAL_SERVER_ERROR, j->status);
    }
}

/* Collect finished transfers. Returns true when any finished (a slot may have freed up). */
static bool reap(struct notifier *n)
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
static void abort_transfer(struct notifier *n, struct job *j)
{
    if (j->easy == NULL)
        return;
    curl_multi_remove_handle(n->multi, j->easy);
    curl_easy_cleanup(j->easy);
    j->easy = NULL;
}

/* At the end of the grace period: whatever is left is reported as not reachable (notify.h). */
static void drain(struct notifier *n)
{
    struct jobq left = {0};
    pthread_mutex_lock(&n->lock);
    q_splice(&left, &n->incoming);
    pthread_mutex_unlock(&n->lock);
    size_t count = left.len + n->ready.len + n->waiting.len + n->active.len;
    if (count > 0)
        LOG(n->log, LOG_WARN, "notify: stopping: %zu notification(s) unfinished after the grace period", count);
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
    struct notifier *n = arg;
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
            LOG(n->log, LOG_ERROR, "notify: curl_multi_poll: %s", curl_multi_strerror(mc));
            struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    drain(n);
    return NULL;
}

/* ---- public interface ---- */

static bool check_config(const struct notify_config *cfg, char *err, size_t errlen)
{
    const char *bad = NULL;
    if (cfg->queue_max == 0)
        bad = "queue_max must be at least 1";
    else if (cfg->timeout_ms <= 0)
        bad = "timeout_ms must be positive";
    else if (cfg->connect_timeout_ms <= 0)
        bad = "connect_timeout_ms must be positive";
    else if (cfg->max_attempts < 1)
        bad = "max_attempts must be at least 1";
    else if (cfg->backoff_ms < 0)
        bad = "backoff_ms must not be negative";
    else if (cfg->max_parallel < 1)
        bad = "max_parallel must be at least 1";
    if (bad != NULL)
        set_msg(err, errlen, "notify: %s", bad);
    return bad == NULL;
}

static void notifier_free(struct notifier *n)
{
    if (n == NULL)
        return;
    if (n->multi != NULL)
        curl_multi_cleanup(n->multi);
    mem_free(n->allow);
    mem_free(n->deny);
    mem_free((char *)n->cfg.tls_ca);
    mem_free((char *)n->cfg.tls_cert);
    mem_free((char *)n->cfg.tls_key);
    mem_free(n);
}

struct notifier *notifier_start(const struct notify_config *cfg, struct log *log, char *err, size_t errlen)
{
    struct notifier *n = NULL;
    bool mutex_ready = false;
    if (cfg == NULL) {
        set_msg(err, errlen, "notify: no configuration");
        goto fail;
    }
    if (!check_config(cfg, err, errlen))
        goto fail;
    if (!curl_ready()) {
        set_msg(err, errlen, "notify: curl_global_init failed: %s", curl_easy_strerror(curl_init_rc));
        goto fail;
    }
    n = mem_calloc(1, sizeof *n);
    n->cfg = *cfg;
    n->cfg.allow = n->cfg.deny = NULL;
    n->cfg.nallow = n->cfg.ndeny = 0;
    n->cfg.tls_ca = cfg->tls_ca && cfg->tls_ca[0] ? mem_strdup(cfg->tls_ca) : NULL;
    n->cfg.tls_cert =
        cfg->tls_cert && cfg->tls_cert[0] && cfg->tls_key && cfg->tls_key[0] ? mem_strdup(cfg->tls_cert) : NULL;
    n->cfg.tls_key = n->cfg.tls_cert ? mem_strdup(cfg->tls_key) : NULL;
    n->log = log;
    if (!parse_lists(n, cfg, err, errlen))
        goto fail;
    rand_alnum(n->rqi_prefix, RQI_PREFIX_LEN);
    n->multi = curl_multi_init();
    if (n->multi == NULL) {
        set_msg(err, errlen, "notify: curl_multi_init failed");
        goto fail;
    }
    /* Idle connections kept for reuse by the next notifications to the same receivers. */
    curl_multi_setopt(n->multi, CURLMOPT_MAXCONNECTS, (long)(cfg->max_parallel < 8 ? 8 : cfg->max_parallel));
    pthread_rwlock_init(&n->transports_lock, NULL);
    if (pthread_mutex_init(&n->lock, NULL) != 0) {
        set_msg(err, errlen, "notify: pthread_mutex_init failed");
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
        set_msg(err, errlen, "notify: pthread_create failed: %s", strerror(rc));
        goto fail;
    }
    LOG(log, LOG_INFO, "notify: delivery thread started (queue %zu, parallel %d, attempts %d, %zu allow, %zu deny)",
        cfg->queue_max, cfg->max_parallel, cfg->max_attempts, n->nallow, n->ndeny);
    return n;
fail:
    if (mutex_ready)
        pthread_mutex_destroy(&n->lock);
    notifier_free(n);
    return NULL;
}

void notifier_stop(struct notifier *n, int grace_ms)
{
    if (n == NULL)
        return;
    if (pthread_equal(pthread_self(), n->thread)) {
        /* A bug in the caller: the delivery thread cannot join itself. */
        LOG(n->log, LOG_ERROR, "notify: notifier_stop called from a notification callback");
        abort();
    }
    pthread_mutex_lock(&n->lock);
    n->stopping = true;
    n->deadline_ms = now_ms() + (grace_ms > 0 ? grace_ms : 0);
    curl_multi_wakeup(n->multi);
    pthread_mutex_unlock(&n->lock);
    pthread_join(n->thread, NULL);
    LOG(n->log, LOG_INFO, "notify: stopped (%lu delivered, %lu failed, %lu refused)", n->delivered, n->failed,
        n->refused);
    pthread_mutex_destroy(&n->lock);
    pthread_rwlock_destroy(&n->transports_lock);
    notifier_free(n);
}

/* A header value must not smuggle in further header lines. */
static bool header_safe(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

int notify_send(struct notifier *n, const char *uri, const char *body, size_t len, const char *originator,
                notify_done_fn done, void *arg)
{
    return notify_send_as(n, uri, body, len, NULL, originator, done, arg);
}

int notify_send_as(struct notifier *n, const char *uri, const char *body, size_t len, const char *ctype,
                   const char *originator, notify_done_fn done, void *arg)
{
    char why[128];
    if (uri != NULL && plaintext_refused(n, uri, why, sizeof why)) {
        LOG(n->log, LOG_WARN, "notify: target refused: %s", why);
        return -1;
    }
    const struct notify_transport *t = transport_for(n, uri);
    if (t != NULL && ctype != NULL) /* other transports carry the JSON serialization only */
        return -1;
    if (t != NULL) {
        int rc = t->send(t->arg, uri, body, len, originator, done, arg);
        transport_done(n);
        return rc;
    }
    struct job *j = NULL;
    struct buf line;
    buf_init(&line);
    char reason[160];
    if (n == NULL || (body == NULL && len > 0) || originator == NULL || *originator == '\0' ||
        !header_safe(originator)) {
        LOG(n ? n->log : NULL, LOG_WARN, "notify: notify_send called with invalid arguments");
        goto fail;
    }
    j = mem_calloc(1, sizeof *j);
    if (!check_uri(n, uri, reason, sizeof reason, &j->label)) {
        LOG(n->log, LOG_WARN, "notify: target refused: %s", reason);
        goto fail;
    }
    j->n = n;
    j->uri = mem_strdup(uri);
    j->body = mem_alloc(len);
    if (len > 0)
        memcpy(j->body, body, len);
    j->len = len;
    j->done = done;
    j->arg = arg;

    /* TS-0009 §6.4.7 (From), §6.4.8 (Request Identifier: the same on every attempt, so a receiver
     * can recognise a retry), §6.4.22 (Release Version Indicator), §6.4.3 (no ty=: a Notify). */
    snprintf(j->rqi, sizeof j->rqi, "wn-%s-%" PRIu64, n->rqi_prefix, atomic_fetch_add(&n->rqi_seq, 1) + 1);
    buf_printf(&line, "X-M2M-Origin: %s", originator);
    char ri[sizeof j->rqi + 16], ct[96];
    snprintf(ri, sizeof ri, "X-M2M-RI: %s", j->rqi);
    snprintf(ct, sizeof ct, "Content-Type: %s", ctype ? ctype : "application/json");
    const char *hdrs[] = {line.p,   ri, "X-M2M-RVI: 3", ct, "Accept: application/json",
                          "Expect:" /* no 100-continue round trip for large bodies */};
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        struct curl_slist *next = curl_slist_append(j->hdrs, hdrs[i]);
        if (next == NULL)
            goto fail;
        j->hdrs = next;
    }

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
        LOG(n->log, LOG_WARN, "notify: queue full or stopping, dropped notification to %s", j->label);
        goto fail;
    }
    buf_free(&line);
    return 0;
fail:
    buf_free(&line);
    job_free(j);
    return -1;
}

void notify_get_stats(struct notifier *n, struct notify_stats *out)
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

/* ---- synchronous exchanges (DAS consultations) ---- */

struct exchange {
    const struct notifier *n;
    struct buf body;
    size_t max;
    int hdr_rsc;
    bool refused, too_big;
};

static curl_socket_t exchange_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *sa)
{
    struct exchange *x = clientp;
    unsigned char a[16];
    if (!curl_addr(purpose, sa, a) || addr_refused(x->n, a)) {
        x->refused = true;
        return CURL_SOCKET_BAD;
    }
    return socket(sa->family, sa->socktype | SOCK_CLOEXEC, sa->protocol);
}

static size_t exchange_body(char *buf, size_t size, size_t nmemb, void *userdata)
{
    struct exchange *x = userdata;
    size_t len = size * nmemb;
    if (x->body.len + len > x->max) {
        x->too_big = true;
        return 0; /* aborts the transfer */
    }
    buf_append(&x->body, buf, len);
    return len;
}

const char *notify_exchange_refusal(const struct notifier *n, const char *uri)
{
    if (n == NULL || !n->cfg.secure)
        return NULL;
    if (strncasecmp(uri, "https://", 8) != 0)
        return "the secure profile reaches a DAS over https only";
    if (n->cfg.tls_ca == NULL)
        return "the secure profile reaches a DAS only with notify.ca (its trust anchors) configured";
    if (n->cfg.tls_cert == NULL)
        return "the secure profile reaches a DAS only with tls.cert/tls.key (the CSE's client certificate) configured";
    return NULL;
}

int notify_exchange(const struct notifier *n, const char *uri, const char *body, size_t len, const char *originator,
                    int timeout_ms, char **resp, size_t *resp_len, int *rsc)
{
    *resp = NULL;
    *resp_len = 0;
    *rsc = 0;
    char why[128];
    if (strncasecmp(uri, "http://", 7) != 0 && strncasecmp(uri, "https://", 8) != 0)
        return -1;
    if (notify_exchange_refusal(n, uri) != NULL || !check_uri(n, uri, why, sizeof why, NULL))
        return -1;
    CURL *h = curl_easy_init();
    if (h == NULL)
        return -1;
    struct exchange x = {.n = n, .max = 64 * 1024};
    buf_init(&x.body);
    char hdr[LIMIT_ID_LEN + 32], rqi[64];
    uint64_t r;
    rand_bytes(&r, sizeof r);
    snprintf(rqi, sizeof rqi, "X-M2M-RI: das-%016llx", (unsigned long long)r);
    snprintf(hdr, sizeof hdr, "X-M2M-Origin: %s", originator);
    struct curl_slist *hdrs = curl_slist_append(NULL, hdr);
    hdrs = curl_slist_append(hdrs, rqi);
    hdrs = curl_slist_append(hdrs, "X-M2M-RVI: 3");
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    CURLcode cc = CURLE_FAILED_INIT;
    if (post_options(n, h, uri, hdrs, body, len, timeout_ms, timeout_ms, exchange_socket, &x, &x.hdr_rsc) == NULL &&
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, exchange_body) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_WRITEDATA, (void *)&x) == CURLE_OK)
        cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    if (cc != CURLE_OK || x.refused || x.too_big || status < 200 || status > 299) {
        buf_free(&x.body);
        *rsc = x.hdr_rsc;
        return -1;
    }
    *rsc = x.hdr_rsc ? x.hdr_rsc : 2000;
    *resp_len = x.body.len;
    *resp = buf_take(&x.body, NULL);
    return 0;
}
