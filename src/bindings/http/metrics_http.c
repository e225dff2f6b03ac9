/* metrics_http: the metrics listener (metrics.address, metrics.port; off by default), a
 * libmicrohttpd daemon of its own with one thread: GET /metrics (Prometheus text format 0.0.4,
 * core/metrics.c) and GET /healthz. No oneM2M processing and no authentication, which is why it
 * has an address of its own: keep it on loopback or a monitoring network. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

#include "bindings/binding.h"
#include "core/cse.h"
#include "core/metrics.h"
#include "http_reserved.h"
#include "util/mem.h"

struct metrics_binding {
    struct cse *cse;
    struct MHD_Daemon *daemon;
};

enum MHD_Result http_plain(struct MHD_Connection *conn, unsigned status, const char *ctype, const char *body,
                           size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result http_health(struct cse *cse, struct MHD_Connection *conn)
{
    char why[128], body[256];
    bool up = metrics_healthy(cse, why, sizeof why);
    int n = snprintf(body, sizeof body, up ? "{\"status\":\"up\"}\n" : "{\"status\":\"down\",\"why\":\"%s\"}\n", why);
    return http_plain(conn, up ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, "application/json", body, (size_t)n);
}

static void free_text(void *p)
{
    mem_free(p);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)version, (void)upload_data, (void)upload_data_size, (void)con_cls;
    struct metrics_binding *mb = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        static const char msg[] = "only GET\n";
        return http_plain(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", msg, sizeof msg - 1);
    }
    if (strcmp(url, "/healthz") == 0)
        return http_health(mb->cse, conn);
    if (strcmp(url, "/metrics") != 0) {
        static const char msg[] = "not found: GET /metrics or /healthz\n";
        return http_plain(conn, MHD_HTTP_NOT_FOUND, "text/plain", msg, sizeof msg - 1);
    }
    size_t len;
    char *text = metrics_render(mb->cse, &len);
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, text, free_text);
    if (r == NULL) {
        mem_free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static bool metrics_enabled(const struct cse_config *cfg)
{
    return cfg->metrics_port != 0;
}

static void metrics_stop(struct binding *b)
{
    struct metrics_binding *mb = (struct metrics_binding *)b;
    if (mb->daemon)
        MHD_stop_daemon(mb->daemon);
    mem_free(mb);
}

static struct binding *metrics_start(struct cse *cse, char *err, size_t errlen)
{
    const struct cse_config *cfg = cse->cfg;
    struct metrics_binding *mb = mem_calloc(1, sizeof *mb);
    mb->cse = cse;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
    const char *addr = strcmp(cfg->metrics_address, "localhost") == 0 ? "127.0.0.1" : cfg->metrics_address;
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)cfg->metrics_port);
    } else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)cfg->metrics_port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errlen, "metrics.address: '%s' is not an IPv4 or IPv6 address", cfg->metrics_address);
        mem_free(mb);
        return NULL;
    }
    /* a scraper or two: few connections, short timeouts */
    mb->daemon =
        MHD_start_daemon(flags, (uint16_t)cfg->metrics_port, NULL, NULL, handle, mb, MHD_OPTION_SOCK_ADDR,
                         (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, 16u, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                         MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
    if (mb->daemon == NULL) {
        snprintf(err, errlen, "metrics.port: cannot listen on %s port %ld (in use or not permitted)",
                 cfg->metrics_address, cfg->metrics_port);
        mem_free(mb);
        return NULL;
    }
    return (struct binding *)mb;
}

static void metrics_quiesce(struct binding *b)
{
    (void)b; /* scrapes go on while the other bindings drain: /healthz then says down */
}

static int metrics_inflight(struct binding *b)
{
    (void)b;
    return 0;
}

const struct binding_ops metrics_binding_ops = {
    .name = "metrics",
    .enabled = metrics_enabled,
    .start = metrics_start,
    .quiesce = metrics_quiesce,
    .inflight = metrics_inflight,
    .stop = metrics_stop,
};
