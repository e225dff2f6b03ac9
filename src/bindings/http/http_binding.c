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
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bindings/binding.h"
#include "core/cse.h"
#include "core/rsc.h"
#include "encoding/cbor_json.h"
#include "http_request.h"
#include "security/tlsauth.h"
#include "util/buf.h"
#include "util/mem.h"

#define MAX_HEADERS 64
#define MAX_ARGS    64

enum { LISTEN_HTTP, LISTEN_HTTPS, LISTEN_HTTPS_PSK, NLISTEN };

struct http_binding;

struct listener {
    struct http_binding *hb;
    struct MHD_Daemon *daemon; /* NULL when this listener is off */
    const char *name;          /* "http", "https", "https-psk": also the binding named in logs and audit */
    int kind;                  /* LISTEN_* */
};

struct http_binding {
    struct cse *cse;
    struct listener ls[NLISTEN];
    struct tlsauth *tls; /* NULL without TLS listeners */
    atomic_int inflight;
    atomic_bool stopping; /* set by quiesce: new requests (also on kept-alive connections) get 503 */
};

enum { SYNC_SUSPENDED = 1, SYNC_COMPLETED = 2 };

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
    int64_t t0;
    struct http_kv headers[MAX_HEADERS];
    size_t nheaders;
    struct http_kv args[MAX_ARGS];
    size_t nargs;
    bool too_many;
    unsigned http_status; /* overrides the RSC table for transport-level refusals (413), else 0 */
    struct cse_request req;
    struct http_scratch scratch;
    struct cse_response rsp;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    struct http_ctx *x = cls;
    if (x->nheaders == MAX_HEADERS) {
        x->too_many = true;
        return MHD_NO;
    }
    x->headers[x->nheaders++] = (struct http_kv){key, value};
    return MHD_YES;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    struct http_ctx *x = cls;
    if (x->nargs == MAX_ARGS) {
        x->too_many = true;
        return MHD_NO;
    }
    x->args[x->nargs++] = (struct http_kv){key, value};
    return MHD_YES;
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
    if (LOG_ON(x->hb->cse->log, LOG_INFO))
        cse_log_request(x->hb->cse, &x->req, rsp, clock_mono_us() - x->t0);
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

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct listener *ls = cls;
    struct http_binding *hb = ls->hb;
    struct http_ctx *x = *con_cls;
    if (x == NULL) {
        x = mem_calloc(1, sizeof *x);
        x->hb = hb;
        x->ls = ls;
        x->conn = conn;
        x->t0 = clock_mono_us();
        request_init(&x->req);
        buf_init(&x->body);
        *con_cls = x;
        x->counted = true;
        atomic_fetch_add(&hb->inflight, 1);
        /* counted first, checked second: the drain in quiesce/stop either sees this request or
         * this request sees the stop (nothing may be suspended when the daemon stops) */
        if (atomic_load(&hb->stopping))
            return send_error(x, RSC_INTERNAL_SERVER_ERROR, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping",
                              "the server is shutting down", true);
        /* refuse an announced oversized body before reading any of it (limits.h) */
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > (unsigned long long)hb->cse->cfg->limits_max_body)
            return send_error(x, RSC_BAD_REQUEST, MHD_HTTP_CONTENT_TOO_LARGE, "too-large",
                              "request body exceeds the size limit", true);
        return MHD_YES;
    }
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

    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, x);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, x);
    if (x->too_many)
        return send_error(x, RSC_BAD_REQUEST, 0, "too-many", "too many headers or query parameters", true);
    struct http_raw raw = {
        .method = method,
        .url = url,
        .headers = x->headers,
        .nheaders = x->nheaders,
        .args = x->args,
        .nargs = x->nargs,
        .body = x->body.p,
        .body_len = x->body.len,
    };
    if (http_to_primitive(&raw, &x->req, &x->scratch, &x->rsp) != 0)
        return send_response(x, false);
    x->req.sec.binding = ls->name;
    x->req.sec.sa = SA_NONE;
    peer_of(conn, x->req.sec.peer, sizeof x->req.sec.peer);
    if (ls->kind != LISTEN_HTTP) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        if (tlsauth_request(ci ? ci->socket_context : NULL, &x->req.sec) != 0) {
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
    (void)conn;
    (void)toe;
    struct http_binding *hb = ((struct listener *)cls)->hb;
    struct http_ctx *x = *con_cls;
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

/* TLS listeners: each connection gets its security-association state before the handshake starts
 * and keeps it until the close (libmicrohttpd's socket context). */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct listener *ls = cls;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    void *session = ci ? ci->tls_session : NULL;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct tls_peer *p = mem_calloc(1, sizeof *p);
        p->kind = ls->kind == LISTEN_HTTPS_PSK ? TLS_KIND_PSK : TLS_KIND_CERT;
        p->binding = ls->name;
        peer_of(conn, p->peer, sizeof p->peer);
        if (session)
            tlsauth_session_init(ls->hb->tls, session, p);
        *socket_context = p;
        return;
    }
    struct tls_peer *p = *socket_context;
    if (p == NULL)
        return;
    if (session)
        gnutls_session_set_ptr(session, NULL); /* no callback may find the state freed below */
    tlsauth_close(p);
    cred_wipe(p, sizeof *p);
    mem_free(p);
    *socket_context = NULL;
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
    /* the options every listener shares; TLS ones follow (libmicrohttpd 0.9.75 does not take the PSK
     * handler through MHD_OPTION_ARRAY, hence one call per kind) */
#define COMMON_OPTIONS                                                                                                 \
    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, ls, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,                             \
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->http_max_conns,    \
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->http_max_conns_per_ip, MHD_OPTION_CONNECTION_TIMEOUT,       \
        (unsigned)cfg->http_timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->http_header_limit,               \
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_NOTIFY_COMPLETED, completed, ls
    if (kind == LISTEN_HTTP)
        ls->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handle, ls, COMMON_OPTIONS, MHD_OPTION_END);
    else if (kind == LISTEN_HTTPS)
        ls->daemon =
            MHD_start_daemon(flags | MHD_USE_TLS, (uint16_t)port, NULL, NULL, handle, ls, COMMON_OPTIONS,
                             MHD_OPTION_HTTPS_PRIORITIES, prio, MHD_OPTION_NOTIFY_CONNECTION, on_connection, ls,
                             MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_END);
    else
        ls->daemon = MHD_start_daemon(flags | MHD_USE_TLS, (uint16_t)port, NULL, NULL, handle, ls, COMMON_OPTIONS,
                                      MHD_OPTION_HTTPS_PRIORITIES, prio, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
                                      ls, MHD_OPTION_HTTPS_CRED_TYPE, (int)GNUTLS_CRD_PSK,
                                      MHD_OPTION_GNUTLS_PSK_CRED_HANDLER, psk_unused, NULL, MHD_OPTION_END);
#undef COMMON_OPTIONS
    if (key) {
        cred_wipe(key, strlen(key));
        mem_free(key);
    }
    mem_free(cert);
    if (ls->daemon == NULL) {
        snprintf(err, errlen, "%s: cannot listen on %s port %ld (in use, not permitted, or TLS setup failed)",
                 keys[kind], address, port);
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
    if (cfg->https_port || cfg->https_psk_port) {
        struct tlsauth_env env = {
            .cfg = cfg, .idenv = &cse->idenv, .creds = cse->creds, .audit = cse->audit, .log = cse->log};
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
    for (int i = 0; i < NLISTEN; i++)
        if (hb->ls[i].daemon)
            MHD_stop_daemon(hb->ls[i].daemon);
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
