/* outbound: the seam's table of client sides, the outbound policy and the synchronous exchange
 * (see outbound.h). The HTTP(S) client side lives in bindings/http/http_client.c. */
#include "core/outbound.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bindings/http/http_client.h"
#include "bindings/http/http_psk_client.h"
#include "core/limits.h"
#include "core/rsc.h"
#include "security/cred.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/timeutil.h"

#define MAX_CLIENTS 6 /* http, https, mqtt, mqtts, coap, coaps */

/* One allow/deny entry. IPv4 is stored IPv4-mapped (::ffff:a.b.c.d, prefix + 96) so that one
 * comparison covers both families and a v4-mapped IPv6 peer matches the IPv4 rules. */
struct cidr {
    unsigned char addr[16];
    unsigned prefix;
};

struct outbound {
    struct outbound_config cfg; /* the list pointers are cleared: the parsed lists below replace them */
    struct cidr *allow, *deny;
    size_t nallow, ndeny;
    struct log *log; /* not owned */
    struct http_client *http;
    struct http_psk_client *psk; /* TLS-PSK towards CSEs with a bound key */
    /* The client sides; calls run under the read lock, changes take the write lock. */
    pthread_rwlock_t lock;
    struct out_client_ops clients[MAX_CLIENTS];
    char schemes[MAX_CLIENTS][16];
    size_t nclients;
};

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
static bool form_refused(const struct outbound *n, const unsigned char a[16])
{
    return cidr_any(n->deny, n->ndeny, a) && !cidr_any(n->allow, n->nallow, a);
}

/* The outbound.h rule: refused when the address matches deny and not allow. The unspecified addresses
 * (0.0.0.0, ::) are judged as the loopback address the kernel connects them to, so that
 * "http://0.0.0.0/" cannot reach a denied 127.0.0.1. An address that carries an IPv4 address
 * (embedded_v4) is judged in both forms and refused when either is: 64:ff9b::a00:1 is 10.0.0.1
 * (unless 10.0.0.1 is allowed), and a deny entry written in the IPv6 form applies as written. */
static bool addr_refused(const struct outbound *n, const unsigned char in[16])
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

/* Parse the lists of cfg into n. Returns false, naming the culprit in err, when one is malformed. */
static bool parse_lists(struct outbound *n, const struct outbound_config *cfg, char *err, size_t errlen)
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

static bool check_config(const struct outbound_config *cfg, char *err, size_t errlen)
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

static void outbound_free(struct outbound *ob)
{
    if (ob == NULL)
        return;
    mem_free(ob->allow);
    mem_free(ob->deny);
    mem_free((char *)ob->cfg.tls_ca);
    mem_free((char *)ob->cfg.cse_ca);
    mem_free((char *)ob->cfg.spid);
    mem_free((char *)ob->cfg.tls_cert);
    mem_free((char *)ob->cfg.tls_key);
    pthread_rwlock_destroy(&ob->lock);
    mem_free(ob);
}

struct outbound *outbound_start(const struct outbound_config *cfg, struct log *log, char *err, size_t errlen)
{
    if (cfg == NULL) {
        set_msg(err, errlen, "notify: no configuration");
        return NULL;
    }
    if (!check_config(cfg, err, errlen))
        return NULL;
    struct outbound *ob = mem_calloc(1, sizeof *ob);
    pthread_rwlock_init(&ob->lock, NULL);
    ob->cfg = *cfg;
    ob->cfg.allow = ob->cfg.deny = NULL;
    ob->cfg.nallow = ob->cfg.ndeny = 0;
    ob->cfg.tls_ca = cfg->tls_ca && cfg->tls_ca[0] ? mem_strdup(cfg->tls_ca) : NULL;
    ob->cfg.spid = cfg->spid ? mem_strdup(cfg->spid) : NULL;
    ob->cfg.cse_ca = cfg->cse_ca && cfg->cse_ca[0] ? mem_strdup(cfg->cse_ca) : NULL;
    ob->cfg.tls_cert =
        cfg->tls_cert && cfg->tls_cert[0] && cfg->tls_key && cfg->tls_key[0] ? mem_strdup(cfg->tls_cert) : NULL;
    ob->cfg.tls_key = ob->cfg.tls_cert ? mem_strdup(cfg->tls_key) : NULL;
    ob->log = log;
    if (!parse_lists(ob, cfg, err, errlen)) {
        outbound_free(ob);
        return NULL;
    }
    /* the HTTP binding's client side is always there: notifications and DAS need no HTTP server */
    ob->http = http_client_start(ob, err, errlen);
    if (ob->http == NULL) {
        outbound_free(ob);
        return NULL;
    }
    ob->psk = cfg->creds ? http_psk_client_start(ob, cfg->creds, err, errlen) : NULL;
    if (cfg->creds && ob->psk == NULL) {
        http_client_stop(ob->http, 0);
        outbound_free(ob);
        return NULL;
    }
    struct out_client_ops h = {
        .scheme = "http", .allowed = http_client_allowed, .send = http_client_send, .arg = ob->http};
    outbound_register(ob, &h);
    h.scheme = "https";
    outbound_register(ob, &h);
    return ob;
}

void outbound_stop(struct outbound *ob, int grace_ms)
{
    if (ob == NULL)
        return;
    outbound_unregister(ob, "http");
    outbound_unregister(ob, "https");
    http_psk_client_stop(ob->psk);
    http_client_stop(ob->http, grace_ms);
    outbound_free(ob);
}

int outbound_register(struct outbound *ob, const struct out_client_ops *t)
{
    if (ob == NULL || t == NULL || t->scheme == NULL || strlen(t->scheme) >= sizeof ob->schemes[0])
        return -1;
    pthread_rwlock_wrlock(&ob->lock);
    int rc = ob->nclients < MAX_CLIENTS ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < ob->nclients; i++)
        if (strcasecmp(ob->schemes[i], t->scheme) == 0)
            rc = -1;
    if (rc == 0) {
        size_t i = ob->nclients++;
        ob->clients[i] = *t;
        snprintf(ob->schemes[i], sizeof ob->schemes[i], "%s", t->scheme);
        ob->clients[i].scheme = ob->schemes[i];
    }
    pthread_rwlock_unlock(&ob->lock);
    return rc;
}

void outbound_unregister(struct outbound *ob, const char *scheme)
{
    if (ob == NULL)
        return;
    pthread_rwlock_wrlock(&ob->lock);
    for (size_t i = 0; i < ob->nclients; i++)
        if (strcasecmp(ob->schemes[i], scheme) == 0) {
            size_t last = --ob->nclients;
            if (i != last) {
                ob->clients[i] = ob->clients[last];
                memcpy(ob->schemes[i], ob->schemes[last], sizeof ob->schemes[i]);
                ob->clients[i].scheme = ob->schemes[i];
            }
            break;
        }
    pthread_rwlock_unlock(&ob->lock);
}

/* The client side for uri's scheme, with the read lock held (release with client_done), or NULL
 * (no lock held). */
static const struct out_client_ops *client_for(struct outbound *ob, const char *uri)
{
    const char *sep = uri ? strstr(uri, "://") : NULL;
    if (ob == NULL || sep == NULL)
        return NULL;
    size_t sl = (size_t)(sep - uri);
    pthread_rwlock_rdlock(&ob->lock);
    for (size_t i = 0; i < ob->nclients; i++)
        if (strlen(ob->schemes[i]) == sl && strncasecmp(ob->schemes[i], uri, sl) == 0)
            return &ob->clients[i];
    pthread_rwlock_unlock(&ob->lock);
    return NULL;
}

static void client_done(struct outbound *ob)
{
    pthread_rwlock_unlock(&ob->lock);
}

/* The secure profile's rule for plaintext transports other than http (http_client checks http://
 * itself): coap:// is UDP without DTLS, refused like plain http unless notify.plain_http allows it
 * (finding 25). */
static bool plaintext_refused(const struct outbound *ob, const char *uri, char *reason, size_t len)
{
    if (ob == NULL || !ob->cfg.secure || ob->cfg.allow_plain_http || strncasecmp(uri, "coap://", 7) != 0)
        return false;
    set_msg(reason, len, "plain coap:// is refused in the secure profile (notify.plain_http)");
    return true;
}

bool outbound_allowed(const struct outbound *ob, const char *uri, char *reason, size_t len)
{
    if (uri == NULL || *uri == '\0') {
        set_msg(reason, len, "empty URI");
        return false;
    }
    if (plaintext_refused(ob, uri, reason, len))
        return false;
    struct outbound *m = (struct outbound *)ob; /* the lock only: the table is not changed */
    const struct out_client_ops *t = client_for(m, uri);
    if (t == NULL) {
        const char *sep = strstr(uri, "://");
        set_msg(reason, len, "scheme '%.*s' not allowed (no client side for it)", sep ? (int)(sep - uri) : 0, uri);
        return false;
    }
    bool ok = t->allowed(t->arg, uri, reason, len);
    client_done(m);
    return ok;
}

int outbound_send(struct outbound *ob, const char *uri, const struct out_request *rq, out_done_fn done, void *arg)
{
    char why[160];
    if (ob == NULL || rq == NULL || uri == NULL)
        return -1;
    if (plaintext_refused(ob, uri, why, sizeof why)) {
        LOG(ob->log, LOG_WARN, "outbound: target refused: %s", why);
        return -1;
    }
    /* a CSE peer with a PSK bound to its CSE-ID is reached over TLS-PSK (TS-0003 §8.2.2.1) */
    if (rq->cse_peer && rq->peer_csi != NULL && ob->psk != NULL && strncasecmp(uri, "https://", 8) == 0) {
        char canon[LIMIT_ID_LEN + 1], kpsa[CRED_KPSAID_MAX + 1];
        snprintf(canon, sizeof canon, "//%s%s", ob->cfg.spid ? ob->cfg.spid : "", rq->peer_csi);
        if (http_psk_for(ob->psk, canon, kpsa))
            return http_psk_client_send(ob->psk, uri, kpsa, rq, done, arg);
    }
    const struct out_client_ops *t = client_for(ob, uri);
    if (t == NULL) {
        LOG(ob->log, LOG_WARN, "outbound: no client side for the scheme of the target");
        return -1;
    }
    if (rq->ctype != NULL && strncasecmp(uri, "http://", 7) != 0 && strncasecmp(uri, "https://", 8) != 0) {
        client_done(ob); /* other client sides carry the JSON serialization only */
        return -1;
    }
    int rc = t->send(t->arg, uri, rq, done, arg);
    client_done(ob);
    return rc;
}

bool outbound_psk_for(struct outbound *ob, const char *peer_csi, char *kpsa_id)
{
    if (ob == NULL || ob->psk == NULL || peer_csi == NULL)
        return false;
    char canon[LIMIT_ID_LEN + 1];
    snprintf(canon, sizeof canon, "//%s%s", ob->cfg.spid ? ob->cfg.spid : "", peer_csi);
    return http_psk_for(ob->psk, canon, kpsa_id);
}

bool outbound_addr_refused(const struct outbound *ob, const unsigned char a[16])
{
    return addr_refused(ob, a);
}

bool outbound_host_allowed(const struct outbound *ob, const char *host)
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
    return !addr_refused(ob, a);
}

const struct outbound_config *outbound_cfg(const struct outbound *ob)
{
    return &ob->cfg;
}

struct log *outbound_log(const struct outbound *ob)
{
    return ob->log;
}

struct http_client *outbound_http(const struct outbound *ob)
{
    return ob->http;
}

void outbound_get_stats(struct outbound *ob, struct outbound_stats *out)
{
    memset(out, 0, sizeof *out);
    if (ob != NULL)
        http_client_stats(ob->http, out);
}

/* ---- synchronous exchanges (DAS consultations) ---- */

#define EXCHANGE_MAX_ANSWER (64 * 1024)

struct exchange {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    int rsc, status;
    char *body;
    size_t len;
    bool truncated;
};

static void exchange_done(void *arg, const struct out_response *res)
{
    struct exchange *x = arg;
    pthread_mutex_lock(&x->lock);
    x->rsc = res->rsc;
    x->status = res->http_status;
    x->truncated = res->truncated;
    if (res->body != NULL) {
        x->body = mem_alloc(res->len + 1);
        memcpy(x->body, res->body, res->len);
        x->body[res->len] = '\0';
        x->len = res->len;
    }
    x->done = true;
    pthread_cond_signal(&x->cond);
    pthread_mutex_unlock(&x->lock);
}

const char *outbound_exchange_refusal(const struct outbound *ob, const char *uri)
{
    if (ob == NULL || !ob->cfg.secure)
        return NULL;
    if (strncasecmp(uri, "https://", 8) != 0)
        return "the secure profile reaches a DAS over https only";
    if (ob->cfg.tls_ca == NULL)
        return "the secure profile reaches a DAS only with notify.ca (its trust anchors) configured";
    if (ob->cfg.tls_cert == NULL)
        return "the secure profile reaches a DAS only with tls.cert/tls.key (the CSE's client certificate) configured";
    return NULL;
}

int outbound_exchange(struct outbound *ob, const char *uri, const char *body, size_t len, const char *originator,
                      int timeout_ms, char **resp, size_t *resp_len, int *rsc)
{
    *resp = NULL;
    *resp_len = 0;
    *rsc = 0;
    if (ob == NULL || (strncasecmp(uri, "http://", 7) != 0 && strncasecmp(uri, "https://", 8) != 0))
        return -1;
    if (outbound_exchange_refusal(ob, uri) != NULL)
        return -1;
    struct out_request rq = {.op = OP_NOTIFY,
                             .fr = originator,
                             .body = body,
                             .len = len,
                             .timeout_ms = timeout_ms,
                             .max_attempts = 1,
                             .max_answer = EXCHANGE_MAX_ANSWER};
    struct exchange x = {.done = false};
    pthread_mutex_init(&x.lock, NULL);
    pthread_cond_init(&x.cond, NULL);
    int ret = -1;
    if (outbound_send(ob, uri, &rq, exchange_done, &x) == 0) {
        /* the client side always answers: at the latest after timeout_ms, or when it stops */
        pthread_mutex_lock(&x.lock);
        while (!x.done)
            pthread_cond_wait(&x.cond, &x.lock);
        pthread_mutex_unlock(&x.lock);
        if (x.status >= 200 && x.status <= 299 && !x.truncated) {
            *rsc = x.rsc ? x.rsc : RSC_OK;
            *resp = x.body ? x.body : mem_strdup("");
            *resp_len = x.len;
            x.body = NULL;
            ret = 0;
        } else {
            *rsc = x.status != 0 ? x.rsc : 0;
        }
    }
    mem_free(x.body);
    pthread_cond_destroy(&x.cond);
    pthread_mutex_destroy(&x.lock);
    return ret;
}
