/* http_reserved: what the HTTP listeners answer outside oneM2M, under the reserved path prefix
 * "/__warden/" (TS-0009 would read any other path as a resource address; no resourceID Warden
 * assigns starts with "__"): "/__warden/healthz" and the console's static files under
 * "/__warden/console/" (README "Console"); and the metrics listener's own answers. */
#ifndef WARDEN_BINDINGS_HTTP_RESERVED_H
#define WARDEN_BINDINGS_HTTP_RESERVED_H

#include <microhttpd.h>
#include <stdbool.h>
#include <string.h>

#include "core/request.h"

struct cse;

#define HTTP_RESERVED_PREFIX "/__warden/"

static inline bool http_is_reserved(const char *url)
{
    return strncmp(url, HTTP_RESERVED_PREFIX, sizeof HTTP_RESERVED_PREFIX - 1) == 0;
}

/* Answer a request for a reserved path (queues the response). sec: the connection's binding, peer
 * and security association, as for a oneM2M request. */
enum MHD_Result http_reserved(struct cse *cse, struct MHD_Connection *conn, const char *url, const char *method,
                              const struct cse_secctx *sec);

/* GET /healthz: 200 {"status":"up"} or 503 {"status":"down","why":...}; no authentication. */
enum MHD_Result http_health(struct cse *cse, struct MHD_Connection *conn);

/* A small fixed answer (status, content type, body copied). */
enum MHD_Result http_plain(struct MHD_Connection *conn, unsigned status, const char *ctype, const char *body,
                           size_t len);

#endif
