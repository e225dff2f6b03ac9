/* http_binding: the HTTP listeners on libmicrohttpd (epoll thread pools): plain HTTP, HTTPS with
 * certificates and HTTPS with pre-shared keys (libmicrohttpd 0.9.75 serves one GnuTLS credential type
 * per daemon, hence one daemon each; security/tlsauth.c does the security association). Each request
 * is parsed into a primitive and dispatched; a request that parks on a store commit suspends its
 * connection and is resumed by the completion, so no thread waits for the disk. */
#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bindings/binding.h"
#include "bindings/listen.h"
#include "core/cse.h"
#include "core/rsc.h"
#include "encoding/cbor_json.h"
#include "http_request.h"
#include "http_reserved.h"
#include "security/tlsauth.h"
#include "util/buf.h"
#include "util/mem.h"

#define MAX_HEADERS LIMIT_HTTP_HEADERS
#define MAX_ARGS    LIMIT_QUERY_PARAMS

enum { LISTEN_HTTP, LISTEN_HTTPS, LISTEN_HTTPS_PSK, NLISTEN };

struct http_binding;

/* One open connection (libmicrohttpd's socket context, from its start to its close notification),
 * in its listener's list. The list and every field but tls are under the listener's lock. */
struct http_conn {
    struct http_conn *prev, *next;
    struct tls_peer *tls; /* security-association state on TLS listeners, else NULL */
    int fd;
    unsigned char key[HTTP_PEER_KEY_MAX]; /* the peer it counts against (http_peer_key) */
    size_t keylen;
    /* Written by the connection's own thread on every request, read by the reaper and by eviction
     * under ls->lock: atomics, so a request takes no lock (the list changes only on connect and
     * close) */
    _Atomic int64_t head_start; /* monotonic us: the accept, or the end of the previous response */
    atomic_bool in_head;        /* its next request head is not complete yet */
    bool closing;               /* shut down by the binding; no longer counted */
    char peer[64];
};

struct listener {
    struct http_binding *hb;
    struct MHD_Daemon *daemon; /* NULL when this listener is off */
    const char *name;          /* "http", "https", "https-psk": also the binding named in logs and audit */
    int kind;                  /* LISTEN_* */
    /* open connections (findings 9): per-peer counting, the head deadline and eviction */
    pthread_mutex_t lock;
    bool lock_ready;
    struct http_conn conns; /* list head (sentinel) */
    long nconns;            /* connections in the list that are not closing */
};

struct http_binding {
    struct cse *cse;
    struct listener ls[NLISTEN];
    struct tlsauth *tls; /* NULL without TLS listeners */
    atomic_int inflight;
    atomic_bool stopping; /* set by quiesce: new requests (also on kept-alive connections) get 503 */
    /* the reaper closes request heads past http.head_timeout */
    pthread_t reaper;
    bool reaper_started;
    pthread_mutex_t reaper_lock;
    pthread_cond_t reaper_cond;
    bool reaper_stop;
};

enum { SYNC_SUSPENDED = 1, SYNC_COMPLETED = 2 };

static struct http_conn *conn_of(struct MHD_Connection *conn);
static void conn_head_done(struct listener *ls, struct MHD_Connection *conn, bool next);

/* Per-request state, from the first call of the access handler to the completion callback. */
struct http_ctx {
    struct http_binding *hb;
    struct listener *ls;
    struct MHD_Connection *conn;
    struct buf body;
    bool too_large;
    bool pending;
    bool counted;
    bool responded; /* a response is queued: later calls for this request only drain its upload */
    atomic_int sync;
    bool started; /* the access handler has seen this request (its head is complete) */
    int64_t t0;
    size_t nheaders;
    size_t nargs;
    bool too_many;
    unsigned http_status; /* overrides the RSC table for transport-level refusals (413), else 0 */
    struct cse_request req;
    struct http_scratch scratch;
    struct cse_response rsp;
    /* Last, and not zeroed by ctx_new (4 KB of a 7.5 KB context, for every request): only the
     * first nheaders / nargs entries are ever written or read. */
    struct http_kv headers[MAX_HEADERS];
    struct http_kv args[MAX_ARGS];
};

/* Header fields and query arguments with their received lengths: a NUL inside one shows as a
 * length beyond strlen (http_check_head). */
static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                      const char *value, size_t value_size)
{
    (void)kind;
    struct http_ctx *x = cls;
    if (x->nheaders == MAX_HEADERS) {
        x->too_many = true;
        return MHD_NO;
    }
    x->headers[x->nheaders++] = (struct http_kv){key, value, key_size, value_size};
    return MHD_YES;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                   const char *value, size_t value_size)
{
    (void)kind;
    struct http_ctx *x = cls;
    if (x->nargs == MAX_ARGS) {
        x->too_many = true;
        return MHD_NO;
    }
    x->args[x->nargs++] = (struct http_kv){key, value, key_size, value_size};
    return MHD_YES;
}

/* libmicrohttpd 0.9.75 reports a header value's length as its strlen, so a NUL byte inside the
 * value silently cuts it ("X-M2M-Origin: CAdmin\0junk" reads as "CAdmin"). It parses the head in
 * place, turning each line's CR and LF into NUL bytes: after a value's terminating NUL comes
 * another NUL (the LF of a CRLF line, or the empty line ending the head) or, for LF-only lines,
 * the next field's name. Anything else is the rest of a value cut by a NUL of its own, whose
 * length is then reported beyond its strlen for http_check_head to refuse (RFC 9110 §5.5). A
 * folded (obs-fold) value, which libmicrohttpd copies elsewhere, may be refused the same way, which
 * RFC 9112 §5.2 allows. */
static void mark_nul_values(struct http_ctx *x)
{
    for (size_t i = 0; i < x->nheaders; i++) {
        struct http_kv *h = &x->headers[i];
        if (h->value == NULL)
            continue;
        const char *end = h->value + strlen(h->value);
        const char *next = i + 1 < x->nheaders ? x->headers[i + 1].key : NULL;
        if (end[1] != '\0' && end + 1 != next)
            h->value_len = (size_t)(end - h->value) + 1 + strlen(end + 1);
    }
}

static void free_body(void *p)
{
    mem_free(p);
}

static enum MHD_Result send_response(struct http_ctx *x, bool close)
{
    struct cse_response *rsp = &x->rsp;
    size_t len;
    char *body = response_take_body(rsp, &len);
    /* TS-0009 §6.4.3: a Content-Type only with a message-body, chosen considering Accept */
    const char *ctype = x->scratch.rsp_json ? x->scratch.rsp_json : "application/json";
    if (body && len && x->scratch.rsp_cbor) { /* TS-0004 §8.4: the representation in CBOR */
        unsigned char *cbor;
        size_t cbor_len;
        char err[160];
        if (cborjson_from_json(body, len, &cbor, &cbor_len, err, sizeof err) == 0) {
            mem_free(body);
            body = (char *)cbor;
            len = cbor_len;
            ctype = x->scratch.rsp_cbor;
        } else { /* the core's own JSON: cannot happen; answer it as JSON rather than nothing */
            LOG(x->hb->cse->log, LOG_ERROR, "http: response not convertible to CBOR: %s", err);
        }
    }
    struct MHD_Response *r = body ? MHD_create_response_from_buffer_with_free_callback(len, body, free_body)
                                  : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        mem_free(body);
        return MHD_NO;
    }
    char rsc[16];
    snprintf(rsc, sizeof rsc, "%d", rsp->rsc);
    MHD_add_response_header(r, "X-M2M-RSC", rsc);
    const char *rqi = MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, "X-M2M-RI");
    if (rqi)
        MHD_add_response_header(r, "X-M2M-RI", rqi);
    const char *rvi = MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, "X-M2M-RVI");
    if (rvi)
        MHD_add_response_header(r, "X-M2M-RVI", rvi);
    if (len)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (rsp->cnst) { /* TS-0009 §6.4.20-21: partial content and where the next page starts */
        char cnst[16], cnot[24];
        snprintf(cnst, sizeof cnst, "%d", rsp->cnst);
        snprintf(cnot, sizeof cnot, "%ld", rsp->cnot);
        MHD_add_response_header(r, "X-M2M-CTS", cnst);
        MHD_add_response_header(r, "X-M2M-CTO", cnot);
    }
    if (rsp->ati) /* TS-0009 §6.4.18: "lti:tkid" pairs joined by '+' */
        MHD_add_response_header(r, "X-M2M-ATI", rsp->ati);
    if (rsp->location) {
        struct buf loc;
        buf_init(&loc);
        buf_putc(&loc, '/');
        buf_puts(&loc, rsp->location);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_LOCATION, loc.p);
        buf_free(&loc);
    }
    if (close)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(x->conn, x->http_status ? x->http_status : http_status_of(rsp->rsc), r);
    x->responded = true;
    MHD_destroy_response(r);
    if (x->counted) {
        x->counted = false;
        atomic_fetch_sub(&x->hb->inflight, 1);
    }
    if (x->req.sec.binding == NULL) /* refused before the primitive was made (head checks): still http's */
        x->req.sec.binding = x->ls->name;
    cse_request_done(x->hb->cse, &x->req, rsp, clock_mono_us() - x->t0);
    return ret;
}

static enum MHD_Result send_error(struct http_ctx *x, int rsc, unsigned http_status, const char *reason,
                                  const char *msg, bool close)
{
    x->http_status = http_status;
    response_error(&x->rsp, rsc, reason, "%s", msg);
    return send_response(x, close);
}

/* Completion of a parked request, on the store writer's thread. Whoever of (this, the handler's
 * suspend) comes second resumes the connection. */
static void on_done(void *arg)
{
    struct http_ctx *x = arg;
    int prev = atomic_fetch_or(&x->sync, SYNC_COMPLETED);
    if (prev & SYNC_SUSPENDED)
        MHD_resume_connection(x->conn);
}

static void peer_of(struct MHD_Connection *conn, char *out, size_t len)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = '\0';
    if (ci == NULL || ci->client_addr == NULL)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)len);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, (socklen_t)len);
}

static struct http_ctx *ctx_new(struct listener *ls, struct MHD_Connection *conn)
{
    struct http_ctx *x = mem_alloc(sizeof *x);
    memset(x, 0, offsetof(struct http_ctx, headers));
    x->hb = ls->hb;
    x->ls = ls;
    x->conn = conn;
    x->t0 = clock_mono_us();
    request_init(&x->req);
    response_init(&x->rsp);
    buf_init(&x->body);
    return x;
}

/* libmicrohttpd's URI log callback: the request target as received, before it is split and
 * percent-decoded; the request's state starts here. A target that http_check_target refuses is
 * answered when the head is complete; its query is cut off here so that libmicrohttpd does not
 * spend its per-connection memory on the arguments (with a few hundred of them, 0.9.75 runs out and
 * never answers). The target lives in libmicrohttpd's own writable read buffer, which it splits in
 * place right after this call. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_ctx *x = ctx_new(cls, conn);
    if (http_check_target(uri, &x->rsp) != 0) {
        char *q = strchr(uri, '?');
        if (q != NULL && q[1] != '\0')
            q[1] = '\0';
    }
    return x;
}

/* The first call for a request: its head is complete, no byte of its body is read yet. Everything
 * that must be refused before the body (framing, NUL bytes, repeated headers, an announced
 * oversized body) is answered here, and the connection is closed after the answer (RFC 9112 §6.3:
 * after a framing error the rest of the stream cannot be trusted). */
static enum MHD_Result head_complete(struct http_ctx *x)
{
    struct http_binding *hb = x->hb;
    struct MHD_Connection *conn = x->conn;
    x->started = true;
    conn_head_done(x->ls, conn, false);
    x->counted = true;
    atomic_fetch_add(&hb->inflight, 1);
    /* counted first, checked second: the drain in quiesce/stop either sees this request or
     * this request sees the stop (nothing may be suspended when the daemon stops) */
    if (atomic_load(&hb->stopping))
        return send_error(x, RSC_INTERNAL_SERVER_ERROR, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping",
                          "the server is shutting down", true);
    if (x->rsp.rsc != 0) /* the target, refused by on_uri */
        return send_response(x, true);
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, collect_header, x);
    MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, collect_arg, x);
    if (x->too_many)
        return send_error(x, RSC_BAD_REQUEST, 0, "too-many", "too many headers or query parameters", true);
    mark_nul_values(x);
    struct http_raw head = {.headers = x->headers, .nheaders = x->nheaders};
    if (http_check_head(&head, &x->rsp) != 0)
        return send_response(x, true);
    /* refuse an announced oversized body before reading any of it (limits.h) */
    const char *cl = http_header(&head, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > (unsigned long long)hb->cse->cfg->limits_max_body)
        return send_error(x, RSC_BAD_REQUEST, MHD_HTTP_CONTENT_TOO_LARGE, "too-large",
                          "request body exceeds the size limit", true);
    return MHD_YES;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct listener *ls = cls;
    struct http_binding *hb = ls->hb;
    struct http_ctx *x = *con_cls;
    if (x == NULL) /* not seen by on_uri (cannot happen with it installed) */
        x = *con_cls = ctx_new(ls, conn);
    if (!x->started && x->rsp.rsc == 0 && http_is_reserved(url)) {
        /* outside oneM2M: health and the console (http_console.c); the head is complete, so the
         * head deadline no longer applies, and the answer is queued now */
        x->started = true;
        x->responded = true;
        conn_head_done(x->ls, conn, false);
        struct cse_secctx sec = {.binding = ls->name};
        peer_of(conn, sec.peer, sizeof sec.peer);
        if (ls->kind != LISTEN_HTTP) {
            struct http_conn *c = conn_of(conn);
            if (tlsauth_request(c ? c->tls : NULL, &sec) != 0)
                sec = (struct cse_secctx){.binding = ls->name}; /* revoked: no association */
            peer_of(conn, sec.peer, sizeof sec.peer);
        }
        return http_reserved(hb->cse, conn, url, method, &sec);
    }
    if (!x->started)
        return head_complete(x);
    if (x->responded) {
        /* answered early (413, shutting down): libmicrohttpd still hands over the upload and makes
         * a final call; neither may start the request */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (x->pending) { /* resumed after the commit: complete the response on this thread */
        cse_complete(hb->cse, &x->req, &x->rsp);
        return send_response(x, false);
    }
    if (*upload_data_size) {
        if (!x->too_large && x->body.len + *upload_data_size <= (size_t)hb->cse->cfg->limits_max_body)
            buf_append(&x->body, upload_data, *upload_data_size);
        else
            x->too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (x->too_large)
        return send_error(x, RSC_BAD_REQUEST, MHD_HTTP_CONTENT_TOO_LARGE, "too-large",
                          "request body exceeds the size limit", true);

    struct http_raw raw = {
        .method = method,
        .url = url,
        .headers = x->headers,
        .nheaders = x->nheaders,
        .args = x->args,
        .nargs = x->nargs,
        .body = x->body.p,
        .body_len = x->body.len,
        .head_checked = true, /* head_complete refused a bad head before the body */
    };
    if (http_to_primitive(&raw, &x->req, &x->scratch, &x->rsp) != 0)
        return send_response(x, false);
    x->req.sec.binding = ls->name;
    x->req.sec.sa = SA_NONE;
    peer_of(conn, x->req.sec.peer, sizeof x->req.sec.peer);
    if (ls->kind != LISTEN_HTTP) {
        struct http_conn *c = conn_of(conn);
        if (tlsauth_request(c ? c->tls : NULL, &x->req.sec) != 0) {
            cse_deny(hb->cse, &x->req, &x->rsp, RSC_ORIGINATOR_NOT_AUTHENTICATED, "credential-revoked",
                     "the credential of this connection has been revoked");
            return send_response(x, true);
        }
    }

    if (cse_dispatch(hb->cse, &x->req, &x->rsp, on_done, x) == CSE_DONE)
        return send_response(x, false);
    x->pending = true;
    MHD_suspend_connection(conn);
    int prev = atomic_fetch_or(&x->sync, SYNC_SUSPENDED);
    if (prev & SYNC_COMPLETED)
        MHD_resume_connection(conn);
    return MHD_YES;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    struct http_binding *hb = ((struct listener *)cls)->hb;
    struct http_ctx *x = *con_cls;
    conn_head_done(cls, conn, true); /* a kept-alive connection's next head starts now */
    if (x == NULL)
        return;
    if (x->counted)
        atomic_fetch_sub(&hb->inflight, 1);
    if (x->rsp.finish != NULL) /* parked, then the client went away: release what it holds */
        cse_complete(hb->cse, &x->req, &x->rsp);
    buf_free(&x->body);
    http_scratch_free(&x->scratch);
    response_free(&x->rsp);
    mem_free(x);
    *con_cls = NULL;
}

static struct http_conn *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* A request head is complete (done) or a new one starts (!done). */
static void conn_head_done(struct listener *ls, struct MHD_Connection *conn, bool next)
{
    (void)ls;
    struct http_conn *c = conn_of(conn);
    if (c == NULL)
        return;
    if (next) /* a kept-alive connection's next head starts now */
        atomic_store_explicit(&c->head_start, clock_mono_us(), memory_order_relaxed);
    atomic_store_explicit(&c->in_head, next, memory_order_release);
}

/* Close c from outside libmicrohttpd (which has no call for it): shutting the socket down makes
 * its next read see the end, and its own thread closes the connection cleanly. Under ls->lock; c
 * is still in the list, so its close notification (which takes the lock) has not run and the
 * descriptor is still c's. */
static void conn_shut(struct listener *ls, struct http_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    ls->nconns--;
    shutdown(c->fd, SHUT_RDWR);
}

/* The key of a connection's peer (http_peer_key). */
static size_t peer_key_of(struct MHD_Connection *conn, unsigned char key[HTTP_PEER_KEY_MAX])
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || ci->client_addr == NULL)
        return 0;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        return http_peer_key(4, (const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr, key);
    if (sa->sa_family == AF_INET6)
        return http_peer_key(6, ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr, key);
    return 0;
}

/* A new connection: counted against its peer (http.max_conns_per_ip, IPv6 per /64) and the
 * listener (http.max_conns). A peer over its limit is closed at once; a full listener closes the
 * connection whose unfinished request head is oldest (a slow-loris, or a kept-alive connection
 * between requests; never one whose request is being served), so that trickling heads cannot hold
 * every slot. Under ls->lock. */
static void conn_admit(struct listener *ls, struct http_conn *c)
{
    const struct cse_config *cfg = ls->hb->cse->cfg;
    long same = 0;
    for (struct http_conn *o = ls->conns.next; o != &ls->conns; o = o->next)
        same += !o->closing && o->keylen == c->keylen && memcmp(o->key, c->key, c->keylen) == 0;
    c->prev = ls->conns.prev;
    c->next = &ls->conns;
    ls->conns.prev->next = c;
    ls->conns.prev = c;
    ls->nconns++;
    if (same >= cfg->http_max_conns_per_ip) {
        LOG(ls->hb->cse->log, LOG_DEBUG, "%s: %s has %ld connections: closing the new one", ls->name, c->peer, same);
        conn_shut(ls, c);
        return;
    }
    if (ls->nconns <= cfg->http_max_conns)
        return;
    struct http_conn *oldest = NULL; /* the unfinished head that started first (at most max_conns to look at) */
    int64_t oldest_start = 0;
    for (struct http_conn *o = ls->conns.next; o != &ls->conns; o = o->next) {
        if (o == c || o->closing || !atomic_load_explicit(&o->in_head, memory_order_acquire))
            continue;
        int64_t st = atomic_load_explicit(&o->head_start, memory_order_relaxed);
        if (oldest == NULL || st < oldest_start)
            oldest = o, oldest_start = st;
    }
    if (oldest != NULL) {
        LOG(ls->hb->cse->log, LOG_DEBUG, "%s: %ld connections: closing the oldest unfinished head (%s)", ls->name,
            ls->nconns, oldest->peer);
        conn_shut(ls, oldest);
        return;
    }
    conn_shut(ls, c); /* every slot is serving a request */
}

/* Each connection gets its state before anything is read (and, on TLS listeners, before the
 * handshake starts) and keeps it until the close (libmicrohttpd's socket context). */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct listener *ls = cls;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    void *session = ls->kind != LISTEN_HTTP && ci ? ci->tls_session : NULL;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct http_conn *c = mem_calloc(1, sizeof *c);
        const union MHD_ConnectionInfo *fi = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c->fd = fi ? fi->connect_fd : -1;
        c->keylen = peer_key_of(conn, c->key);
        c->head_start = clock_mono_us();
        c->in_head = true;
        peer_of(conn, c->peer, sizeof c->peer);
        if (ls->kind != LISTEN_HTTP) {
            struct tls_peer *p = c->tls = mem_calloc(1, sizeof *p);
            p->kind = ls->kind == LISTEN_HTTPS_PSK ? TLS_KIND_PSK : TLS_KIND_CERT;
            p->binding = ls->name;
            snprintf(p->peer, sizeof p->peer, "%s", c->peer);
            if (session)
                tlsauth_session_init(ls->hb->tls, session, p);
        }
        *socket_context = c;
        pthread_mutex_lock(&ls->lock);
        conn_admit(ls, c);
        pthread_mutex_unlock(&ls->lock);
        return;
    }
    struct http_conn *c = *socket_context;
    if (c == NULL)
        return;
    pthread_mutex_lock(&ls->lock);
    c->prev->next = c->next;
    c->next->prev = c->prev;
    if (!c->closing)
        ls->nconns--;
    pthread_mutex_unlock(&ls->lock);
    if (c->tls) {
        if (session)
            gnutls_session_set_ptr(session, NULL); /* no callback may find the state freed below */
        tlsauth_close(c->tls);
        cred_wipe(c->tls, sizeof *c->tls);
        mem_free(c->tls);
    }
    mem_free(c);
    *socket_context = NULL;
}

/* The reaper: about four times a second, closes every request head older than http.head_timeout
 * (RFC 9112 §9.5 lets a server close an idle or slow connection). */
static void *reaper_main(void *arg)
{
    struct http_binding *hb = arg;
    int64_t limit = (int64_t)hb->cse->cfg->http_head_timeout * 1000000;
    pthread_mutex_lock(&hb->reaper_lock);
    while (!hb->reaper_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 250 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000)
            ts.tv_sec++, ts.tv_nsec -= 1000000000;
        pthread_cond_timedwait(&hb->reaper_cond, &hb->reaper_lock, &ts);
        if (hb->reaper_stop)
            break;
        int64_t now = clock_mono_us();
        for (int i = 0; i < NLISTEN; i++) {
            struct listener *ls = &hb->ls[i];
            if (ls->daemon == NULL)
                continue;
            pthread_mutex_lock(&ls->lock);
            /* every connection (at most max_conns, once per tick): a head past its deadline closes */
            for (struct http_conn *c = ls->conns.next; c != &ls->conns; c = c->next) {
                if (c->closing || !atomic_load_explicit(&c->in_head, memory_order_acquire))
                    continue;
                if (now - atomic_load_explicit(&c->head_start, memory_order_relaxed) <= limit)
                    continue;
                LOG(hb->cse->log, LOG_DEBUG, "%s: request head from %s unfinished after %ld s: closing", ls->name,
                    c->peer, hb->cse->cfg->http_head_timeout);
                conn_shut(ls, c);
            }
            pthread_mutex_unlock(&ls->lock);
        }
    }
    pthread_mutex_unlock(&hb->reaper_lock);
    return NULL;
}

/* libmicrohttpd needs a PSK handler to start a PSK daemon; tlsauth's own credentials replace it on
 * every session, so this one only ever refuses. */
static int psk_unused(void *cls, struct MHD_Connection *conn, const char *username, void **psk, size_t *psk_size)
{
    (void)cls, (void)conn, (void)username, (void)psk, (void)psk_size;
    return -1;
}

/* A PEM file in one allocation of its exact size (no realloc leaving copies of a private key behind). */
static char *read_pem(const char *path, const char *key, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size > 1 << 20) {
        snprintf(err, errlen, "%s: cannot read %s", key, path);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    size_t len = (size_t)st.st_size;
    char *pem = mem_alloc(len + 1);
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, pem + got, len - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    pem[got] = '\0';
    return pem;
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct http_binding *hb = ((struct listener *)cls)->hb;
    if (!LOG_ON(hb->cse->log, LOG_DEBUG))
        return;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = '\0';
    log_write(hb->cse->log, LOG_DEBUG, "http: %s", line);
}

static int parse_address(const char *address, long port, struct sockaddr_storage *ss, unsigned *flags)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    const char *addr = strcmp(address, "localhost") == 0 ? "127.0.0.1" : address;
    if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *flags |= MHD_USE_IPv6;
        return 0;
    }
    return -1;
}

static int start_listener(struct http_binding *hb, int kind, const char *address, long port, char *err, size_t errlen)
{
    static const char *const names[NLISTEN] = {"http", "https", "https-psk"};
    static const char *const keys[NLISTEN] = {"http", "https", "https_psk"};
    const struct cse_config *cfg = hb->cse->cfg;
    struct listener *ls = &hb->ls[kind];
    ls->hb = hb;
    ls->kind = kind;
    ls->name = names[kind];
    struct sockaddr_storage ss;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO | MHD_USE_ERROR_LOG;
    if (parse_address(address, port, &ss, &flags) != 0) {
        snprintf(err, errlen, "%s.address: '%s' is not an IPv4 or IPv6 address", keys[kind], address);
        return -1;
    }
    long threads = cfg->http_threads > 0 ? cfg->http_threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1)
        threads = 1;
    char *cert = NULL, *key = NULL;
    const char *prio = tlsauth_priority(kind == LISTEN_HTTPS_PSK ? TLS_KIND_PSK : TLS_KIND_CERT);
    if (kind == LISTEN_HTTPS) { /* libmicrohttpd insists on its own copy; tlsauth replaces the session's */
        if ((cert = read_pem(cfg->tls_cert, "tls.cert", err, errlen)) == NULL ||
            (key = read_pem(cfg->tls_key, "tls.key", err, errlen)) == NULL) {
            mem_free(cert);
            return -1;
        }
    }
    /* The binding counts connections itself (conn_admit: per peer with IPv6 per /64, and in total
     * with eviction); libmicrohttpd's own cap, split evenly over its worker threads, is twice
     * http.max_conns so that it only ever refuses while evicted connections are being closed. */
    pthread_mutex_init(&ls->lock, NULL);
    ls->lock_ready = true;
    ls->conns.next = ls->conns.prev = &ls->conns;
    unsigned mhd_limit = (unsigned)(2 * cfg->http_max_conns + threads);
    /* No MHD_OPTION_LISTENING_ADDRESS_REUSE: its 1 adds SO_REUSEPORT, with which a second warden
     * would bind the same port silently and take half the connections (finding 21); its 0 would
     * drop libmicrohttpd's default SO_REUSEADDR too, and a restart would then fail while the old
     * connections sit in TIME_WAIT. Without it: SO_REUSEADDR only, the port is this process's. */
    /* the options every listener shares; TLS ones follow (libmicrohttpd 0.9.75 does not take the PSK
     * handler through MHD_OPTION_ARRAY, hence one call per kind) */
#define COMMON_OPTIONS                                                                                                 \
    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, ls, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,                             \
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_CONNECTION_LIMIT, mhd_limit,                        \
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, ls, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->http_timeout,   \
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->http_header_limit, MHD_OPTION_NOTIFY_COMPLETED, completed,    \
        ls, MHD_OPTION_URI_LOG_CALLBACK, on_uri, ls
    if (kind == LISTEN_HTTP)
        ls->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handle, ls, COMMON_OPTIONS, MHD_OPTION_END);
    else if (kind == LISTEN_HTTPS)
        ls->daemon = MHD_start_daemon(flags | MHD_USE_TLS, (uint16_t)port, NULL, NULL, handle, ls, COMMON_OPTIONS,
                                      MHD_OPTION_HTTPS_PRIORITIES, prio, MHD_OPTION_HTTPS_MEM_CERT, cert,
                                      MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_END);
    else
        ls->daemon =
            MHD_start_daemon(flags | MHD_USE_TLS, (uint16_t)port, NULL, NULL, handle, ls, COMMON_OPTIONS,
                             MHD_OPTION_HTTPS_PRIORITIES, prio, MHD_OPTION_HTTPS_CRED_TYPE, (int)GNUTLS_CRD_PSK,
                             MHD_OPTION_GNUTLS_PSK_CRED_HANDLER, psk_unused, NULL, MHD_OPTION_END);
#undef COMMON_OPTIONS
    if (key) {
        cred_wipe(key, strlen(key));
        mem_free(key);
    }
    mem_free(cert);
    if (ls->daemon == NULL) { /* libmicrohttpd does not say why: find out by binding the same way */
        int e = listen_probe((const struct sockaddr *)&ss,
                             ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in),
                             SOCK_STREAM);
        if (e != 0)
            listen_error(err, errlen, keys[kind], address, port, e);
        else
            snprintf(err, errlen, "%s: cannot start the listener on %s port %ld (TLS setup failed?)", keys[kind],
                     address, port);
        return -1;
    }
    return 0;
}

static void http_stop(struct binding *b);

static struct binding *http_start(struct cse *cse, char *err, size_t errlen)
{
    const struct cse_config *cfg = cse->cfg;
    struct http_binding *hb = mem_calloc(1, sizeof *hb);
    hb->cse = cse;
    pthread_mutex_init(&hb->reaper_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* reaper_main's deadlines */
    pthread_cond_init(&hb->reaper_cond, &ca);
    pthread_condattr_destroy(&ca);
    if (cfg->https_port || cfg->https_psk_port) {
        struct tlsauth_env env = {.cfg = cfg,
                                  .idenv = &cse->idenv,
                                  .creds = cse->creds,
                                  .audit = cse->audit,
                                  .log = cse->log,
                                  .metrics = cse->metrics};
        if (cse->creds == NULL) {
            snprintf(err, errlen, "TLS listeners need the credential store");
            goto fail;
        }
        if ((hb->tls = tlsauth_new(&env, err, errlen)) == NULL)
            goto fail;
    }
    if ((cfg->http_port && start_listener(hb, LISTEN_HTTP, cfg->http_address, cfg->http_port, err, errlen) != 0) ||
        (cfg->https_port && start_listener(hb, LISTEN_HTTPS, cfg->https_address, cfg->https_port, err, errlen) != 0) ||
        (cfg->https_psk_port &&
         start_listener(hb, LISTEN_HTTPS_PSK, cfg->https_psk_address, cfg->https_psk_port, err, errlen) != 0))
        goto fail;
    if (pthread_create(&hb->reaper, NULL, reaper_main, hb) != 0) {
        snprintf(err, errlen, "http: cannot start the request-head reaper thread");
        goto fail;
    }
    hb->reaper_started = true;
    return (struct binding *)hb;
fail:
    http_stop((struct binding *)hb);
    return NULL;
}

static void http_quiesce(struct binding *b)
{
    struct http_binding *hb = (struct http_binding *)b;
    /* No MHD_quiesce_daemon: with an epoll thread pool it races the workers' own handling of the
     * listen socket in libmicrohttpd 0.9.75 and aborts ("Failed to remove listen FD from epoll
     * set"). Refusing every new request until the daemon stops drains just as well. */
    atomic_store(&hb->stopping, true);
}

static int http_inflight(struct binding *b)
{
    return atomic_load(&((struct http_binding *)b)->inflight);
}

static void http_stop(struct binding *b)
{
    struct http_binding *hb = (struct http_binding *)b;
    if (hb->reaper_started) {
        pthread_mutex_lock(&hb->reaper_lock);
        hb->reaper_stop = true;
        pthread_cond_signal(&hb->reaper_cond);
        pthread_mutex_unlock(&hb->reaper_lock);
        pthread_join(hb->reaper, NULL);
    }
    for (int i = 0; i < NLISTEN; i++) {
        if (hb->ls[i].daemon)
            MHD_stop_daemon(hb->ls[i].daemon); /* closes every connection: the list ends empty */
        if (hb->ls[i].lock_ready)
            pthread_mutex_destroy(&hb->ls[i].lock);
    }
    pthread_cond_destroy(&hb->reaper_cond);
    pthread_mutex_destroy(&hb->reaper_lock);
    tlsauth_free(hb->tls);
    mem_free(hb);
}

static bool http_enabled(const struct cse_config *cfg)
{
    return cfg->http_port || cfg->https_port || cfg->https_psk_port;
}

const struct binding_ops http_binding_ops = {
    .name = "http",
    .enabled = http_enabled,
    .start = http_start,
    .quiesce = http_quiesce,
    .inflight = http_inflight,
    .stop = http_stop,
};
