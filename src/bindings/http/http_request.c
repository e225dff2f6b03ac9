/* http_request: TS-0009 request mapping (see http_request.h). */
#include "http_request.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bindings/params.h"
#include "core/rsc.h"
#include "resources/rtype.h"
#include "util/timeutil.h"
#include "util/mem.h"

const char *http_header(const struct http_raw *raw, const char *name)
{
    for (size_t i = 0; i < raw->nheaders; i++)
        if (raw->headers[i].key && strcasecmp(raw->headers[i].key, name) == 0)
            return raw->headers[i].value;
    return NULL;
}

void http_scratch_free(struct http_scratch *scratch)
{
    param_scratch_free(&scratch->params);
}

/* Content-Type: a JSON media type, optionally with ";ty=N" (TS-0009 §6.2.2.x). */
static int parse_content_type(const char *ct, struct cse_request *req, struct cse_response *rsp)
{
    const char *semi = strchr(ct, ';');
    size_t n = semi ? (size_t)(semi - ct) : strlen(ct);
    while (n > 0 && isspace((unsigned char)ct[n - 1]))
        n--;
    static const char *const json_types[] = {"application/json", "application/vnd.onem2m-res+json",
                                             "application/vnd.onem2m-ntfy+json", "application/vnd.onem2m-attrs+json"};
    bool json = false;
    for (size_t i = 0; i < sizeof json_types / sizeof json_types[0]; i++)
        json |= strlen(json_types[i]) == n && strncasecmp(ct, json_types[i], n) == 0;
    if (!json)
        return response_error(rsp, RSC_UNSUPPORTED_MEDIA_TYPE, "media",
                              "unsupported media type '%.*s' (application/json or application/vnd.onem2m-res+json)",
                              (int)(n > 64 ? 64 : n), ct);
    req->media = MEDIA_JSON;
    while (semi) {
        const char *p = semi + 1;
        semi = strchr(p, ';');
        size_t len = semi ? (size_t)(semi - p) : strlen(p);
        while (len && isspace((unsigned char)*p))
            p++, len--;
        while (len && isspace((unsigned char)p[len - 1]))
            len--;
        if (len >= 3 && strncasecmp(p, "ty=", 3) == 0) {
            long ty;
            if (!param_parse_long(p + 3, len - 3, 1, 65535, &ty))
                return response_error(rsp, RSC_BAD_REQUEST, "bad-ty", "invalid resource type in Content-Type");
            req->ty = (int)ty;
        }
    }
    return 0;
}

/* TS-0009 §6.2.x: "/~/..." is SP-relative, "/_/..." absolute, anything else CSE-relative. */
static int map_path(const char *url, char *to, size_t tolen, struct cse_response *rsp)
{
    if (url == NULL || url[0] != '/')
        return response_error(rsp, RSC_BAD_REQUEST, "bad-target", "request path must start with '/'");
    int n;
    if (strncmp(url, "/~/", 3) == 0)
        n = snprintf(to, tolen, "/%s", url + 3);
    else if (strncmp(url, "/_/", 3) == 0)
        n = snprintf(to, tolen, "//%s", url + 3);
    else
        n = snprintf(to, tolen, "%s", url + 1);
    if (n < 0 || (size_t)n >= tolen)
        return response_error(rsp, RSC_BAD_REQUEST, "bad-target", "request path too long");
    if (to[0] == '\0')
        return response_error(rsp, RSC_BAD_REQUEST, "bad-target", "missing target resource in the path");
    return 0;
}

int http_to_primitive(const struct http_raw *raw, struct cse_request *req, struct http_scratch *scratch,
                      struct cse_response *rsp)
{
    request_init(req);
    memset(scratch, 0, sizeof *scratch);
    req->fr = http_header(raw, "X-M2M-Origin");
    req->rqi = http_header(raw, "X-M2M-RI");
    req->rvi = http_header(raw, "X-M2M-RVI");
    req->body = raw->body;
    req->body_len = raw->body_len;

    const char *m = raw->method ? raw->method : "";
    const char *ct = http_header(raw, "Content-Type");
    bool has_body = strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0;
    if (has_body) {
        if (ct == NULL)
            return response_error(rsp, RSC_UNSUPPORTED_MEDIA_TYPE, "media", "missing Content-Type");
        if (parse_content_type(ct, req, rsp) != 0)
            return rsp->rsc;
    }
    if (strcmp(m, "GET") == 0) {
        req->op = OP_RETRIEVE;
    } else if (strcmp(m, "PUT") == 0) {
        req->op = OP_UPDATE;
        req->ty = 0;
    } else if (strcmp(m, "DELETE") == 0) {
        req->op = OP_DELETE;
    } else if (strcmp(m, "POST") == 0) {
        req->op = req->ty > 0 ? OP_CREATE : OP_NOTIFY; /* TS-0009: POST is CREATE exactly when ty= is given */
    } else {
        return response_error(rsp, RSC_OPERATION_NOT_ALLOWED, "bad-method", "HTTP method '%.16s' is not used by oneM2M",
                              m);
    }
    if (map_path(raw->url, scratch->to, sizeof scratch->to, rsp) != 0)
        return rsp->rsc;
    req->to = scratch->to;
    for (size_t i = 0; i < raw->nargs; i++) {
        if (raw->args[i].key == NULL)
            continue;
        if (param_apply(raw->args[i].key, raw->args[i].value, req, &scratch->params, rsp) != 0)
            return rsp->rsc;
    }
    return 0;
}
