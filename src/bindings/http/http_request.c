/* http_request: TS-0009 request mapping (see http_request.h). */
#include "http_request.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bindings/params.h"
#include "core/rsc.h"
#include "encoding/cbor_json.h"
#include "resources/rtype.h"
#include "util/timeutil.h"
#include "util/mem.h"

/* Is h's field name name (n bytes), case-insensitively (RFC 9110 §5.1)? A received length that
 * differs settles it without a comparison: a request looks up about a dozen names against every
 * header it carries, and this was most of the head's cost. */
static bool key_is(const struct http_kv *h, const char *name, size_t n)
{
    return h->key != NULL && (h->key_len == 0 || h->key_len == n) && strcasecmp(h->key, name) == 0;
}

const char *http_header(const struct http_raw *raw, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < raw->nheaders; i++)
        if (key_is(&raw->headers[i], name, n))
            return raw->headers[i].value;
    return NULL;
}

static const char *trim(const char *s, size_t *n);

/* A field received with a NUL inside (len beyond strlen). */
static bool has_nul(const char *s, size_t len)
{
    return s != NULL && len != 0 && strlen(s) != len;
}

/* Headers that must appear at most once: every oneM2M header (TS-0009 §6.4) and the framing and
 * credential headers, whose two copies different parties would read differently. */
static bool single_header(const char *name)
{
    static const char *const names[] = {"Content-Type", "Content-Length", "Transfer-Encoding", "Authorization", "Host"};
    if (strncasecmp(name, "X-M2M-", 6) == 0)
        return true;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(name, names[i]) == 0)
            return true;
    return false;
}

int http_check_head(const struct http_raw *raw, struct cse_response *rsp)
{
    for (size_t i = 0; i < raw->nheaders; i++) {
        const struct http_kv *h = &raw->headers[i];
        if (h->key == NULL)
            continue;
        /* RFC 9110 §5.5: NUL is never valid in a field; cutting the value there would change who
         * the originator is */
        if (has_nul(h->key, h->key_len) || has_nul(h->value, h->value_len))
            return response_error(rsp, RSC_BAD_REQUEST, "bad-header", "NUL byte in header field '%.64s'", h->key);
        if (!single_header(h->key))
            continue;
        size_t n = h->key_len ? h->key_len : strlen(h->key);
        for (size_t j = i + 1; j < raw->nheaders; j++)
            if (key_is(&raw->headers[j], h->key, n))
                return response_error(rsp, RSC_BAD_REQUEST, "bad-header", "header '%.64s' given more than once",
                                      h->key);
    }
    /* RFC 9112 §6.1/§6.3: a request with both is a smuggling attempt or a broken intermediary; a
     * coding other than chunked leaves the body's length unknown */
    const char *te = http_header(raw, "Transfer-Encoding");
    if (te != NULL) {
        if (http_header(raw, "Content-Length") != NULL)
            return response_error(rsp, RSC_BAD_REQUEST, "bad-framing",
                                  "Transfer-Encoding and Content-Length in one request");
        size_t n = strlen(te);
        te = trim(te, &n);
        if (n != 7 || strncasecmp(te, "chunked", 7) != 0)
            return response_error(rsp, RSC_BAD_REQUEST, "bad-framing",
                                  "unsupported Transfer-Encoding '%.32s' (only chunked)", te);
    }
    return 0;
}

int http_check_target(const char *target, struct cse_response *rsp)
{
    if (target == NULL)
        return 0;
    for (const char *p = strchr(target, '%'); p != NULL; p = strchr(p + 1, '%'))
        if (p[1] == '0' && p[2] == '0') /* decoding would cut the path or the value here */
            return response_error(rsp, RSC_BAD_REQUEST, "bad-target", "encoded NUL (%%00) in the request target");
    const char *q = strchr(target, '?');
    if (q != NULL) {
        size_t n = 1;
        for (const char *p = q + 1; *p && n <= LIMIT_QUERY_PARAMS; p++)
            n += *p == '&';
        if (n > LIMIT_QUERY_PARAMS)
            return response_error(rsp, RSC_BAD_REQUEST, "too-many", "more than %d query parameters",
                                  LIMIT_QUERY_PARAMS);
    }
    return 0;
}

size_t http_peer_key(int family, const unsigned char *addr, unsigned char key[HTTP_PEER_KEY_MAX])
{
    static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (family == 4) {
        memcpy(key, addr, 4);
        return 4;
    }
    if (family != 6)
        return 0;
    if (memcmp(addr, v4mapped, sizeof v4mapped) == 0) { /* RFC 4291 §2.5.5.2 */
        memcpy(key, addr + 12, 4);
        return 4;
    }
    memcpy(key, addr, 8); /* the /64 (RFC 6177) */
    return 8;
}

void http_scratch_free(struct http_scratch *scratch)
{
    param_scratch_free(&scratch->params);
    MEM_FREE(scratch->cbor_json);
}

/* TS-0009 §6.2.2.x media types: the JSON serialization and the CBOR one (TS-0004 §8.4). */
static const char *const json_types[] = {"application/json", "application/vnd.onem2m-res+json",
                                         "application/vnd.onem2m-ntfy+json", "application/vnd.onem2m-attrs+json"};
static const char *const cbor_types[] = {"application/cbor", "application/vnd.onem2m-res+cbor",
                                         "application/vnd.onem2m-ntfy+cbor", "application/vnd.onem2m-attrs+cbor"};

enum media_kind { KIND_OTHER, KIND_JSON, KIND_CBOR, KIND_WILDCARD };

/* The kind of the media type s[0..n) (no parameters, no surrounding blanks); *name is the matching
 * entry of json_types or cbor_types. */
static enum media_kind media_kind(const char *s, size_t n, const char **name)
{
    for (size_t i = 0; i < sizeof json_types / sizeof json_types[0]; i++)
        if (strlen(json_types[i]) == n && strncasecmp(s, json_types[i], n) == 0) {
            *name = json_types[i];
            return KIND_JSON;
        }
    for (size_t i = 0; i < sizeof cbor_types / sizeof cbor_types[0]; i++)
        if (strlen(cbor_types[i]) == n && strncasecmp(s, cbor_types[i], n) == 0) {
            *name = cbor_types[i];
            return KIND_CBOR;
        }
    if ((n == 3 && strncmp(s, "*/*", 3) == 0) || (n == 13 && strncasecmp(s, "application/*", 13) == 0))
        return KIND_WILDCARD;
    return KIND_OTHER;
}

/* s[0..*n) without leading and trailing blanks. */
static const char *trim(const char *s, size_t *n)
{
    while (*n && isspace((unsigned char)*s))
        s++, (*n)--;
    while (*n && isspace((unsigned char)s[*n - 1]))
        (*n)--;
    return s;
}

/* The media type of a Content-Type value: its kind (and CBOR name). */
static enum media_kind content_kind(const char *ct, const char **cbor)
{
    const char *semi = strchr(ct, ';');
    size_t n = semi ? (size_t)(semi - ct) : strlen(ct);
    const char *s = trim(ct, &n);
    const char *name = NULL;
    enum media_kind k = media_kind(s, n, &name);
    if (k == KIND_CBOR)
        *cbor = name;
    return k == KIND_WILDCARD ? KIND_OTHER : k;
}

/* RFC 9110 §12.4.2 qvalue in thousandths ("q=0.5" -> 500); a malformed one counts as 1. */
static int qvalue(const char *p, size_t n)
{
    if (n == 0 || n > 5 || (p[0] != '0' && p[0] != '1') || (n > 1 && p[1] != '.'))
        return 1000;
    int q = (p[0] - '0') * 1000;
    for (size_t i = 2, scale = 100; i < n; i++, scale /= 10) {
        if (!isdigit((unsigned char)p[i]))
            return 1000;
        q += (p[i] - '0') * (int)scale;
    }
    return q > 1000 ? 1000 : q;
}

/* The format of the response (TS-0009 §6.2.2.x): CBOR when Accept prefers a CBOR media type over
 * JSON; wildcards stand for the request's own format; without Accept the request's own format.
 * Nothing acceptable (e.g. only XML) answers JSON rather than 4015, as TS-0009 allows. Returns the
 * CBOR media type to answer with, or NULL for JSON. req_cbor: the body's CBOR media type or NULL.
 * *json_name: the JSON media type Accept preferred (TS-0009 §6.4.3: the response's Content-Type
 * considers Accept), NULL when it named none. */
static const char *response_cbor(const char *accept, const char *req_cbor, const char **json_name)
{
    *json_name = NULL;
    if (accept == NULL)
        return req_cbor;
    int json_q = -1, cbor_q = -1, wild_q = -1;
    const char *cbor_best = NULL;
    bool any = false;
    for (const char *p = accept; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *semi = memchr(p, ';', len);
        size_t tn = semi ? (size_t)(semi - p) : len;
        const char *type = trim(p, &tn);
        int q = 1000;
        for (const char *a = semi; a != NULL;) { /* parameters: only q matters */
            const char *v = a + 1;
            const char *next = memchr(v, ';', (size_t)(p + len - v));
            size_t vn = next ? (size_t)(next - v) : (size_t)(p + len - v);
            v = trim(v, &vn);
            if (vn >= 2 && (v[0] == 'q' || v[0] == 'Q') && v[1] == '=')
                q = qvalue(v + 2, vn - 2);
            a = next;
        }
        const char *name = NULL;
        switch (media_kind(type, tn, &name)) {
        case KIND_JSON:
            if (q > json_q)
                json_q = q, *json_name = name;
            break;
        case KIND_CBOR:
            if (q > cbor_q)
                cbor_q = q, cbor_best = name;
            break;
        case KIND_WILDCARD: wild_q = q > wild_q ? q : wild_q; break;
        case KIND_OTHER: break;
        }
        any |= tn > 0;
        p = comma ? comma + 1 : p + len;
    }
    if (!any) /* an empty Accept says nothing */
        return req_cbor;
    if (req_cbor && wild_q > cbor_q)
        cbor_q = wild_q, cbor_best = req_cbor;
    else if (!req_cbor && wild_q > json_q)
        json_q = wild_q;
    if (cbor_q > 0 && (cbor_q > json_q || (cbor_q == json_q && req_cbor)))
        return cbor_best;
    return NULL;
}

/* Content-Type: a JSON or CBOR media type, optionally with ";ty=N" (TS-0009 §6.2.2.x). */
static int parse_content_type(const char *ct, struct cse_request *req, const char **cbor, struct cse_response *rsp)
{
    const char *semi = strchr(ct, ';');
    size_t n = semi ? (size_t)(semi - ct) : strlen(ct);
    while (n > 0 && isspace((unsigned char)ct[n - 1]))
        n--;
    *cbor = NULL;
    if (content_kind(ct, cbor) == KIND_OTHER)
        return response_error(rsp, RSC_UNSUPPORTED_MEDIA_TYPE, "media",
                              "unsupported media type '%.*s' (application/json, application/vnd.onem2m-res+json, "
                              "application/cbor or application/vnd.onem2m-res+cbor)",
                              (int)(n > 64 ? 64 : n), ct);
    req->media = MEDIA_JSON; /* a CBOR body reaches the core as JSON */
    while (semi) {
        const char *p = semi + 1;
        semi = strchr(p, ';');
        size_t len = semi ? (size_t)(semi - p) : strlen(p);
        p = trim(p, &len);
        if (len >= 3 && strncasecmp(p, "ty=", 3) == 0) {
            long ty;
            if (!param_parse_long(p + 3, len - 3, 1, 65535, &ty))
                return response_error(rsp, RSC_BAD_REQUEST, "bad-ty", "invalid resource type in Content-Type");
            req->ty = (int)ty;
        }
    }
    return 0;
}

/* TS-0004 §8.4: a CBOR body is handed to the core as the equivalent JSON text (kept in scratch). */
static int convert_cbor_body(struct cse_request *req, struct http_scratch *scratch, struct cse_response *rsp)
{
    if (req->body_len == 0)
        return 0; /* the core says "empty content" as for JSON */
    char err[160];
    size_t n;
    if (cborjson_to_json((const unsigned char *)req->body, req->body_len, &scratch->cbor_json, &n, err, sizeof err) !=
        0)
        return response_error(rsp, RSC_BAD_REQUEST, "bad-content", "invalid CBOR content: %s", err);
    req->body = scratch->cbor_json;
    req->body_len = n;
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
    if (!raw->head_checked && http_check_head(raw, rsp) != 0)
        return rsp->rsc;
    req->fr = http_header(raw, "X-M2M-Origin");
    req->rqi = http_header(raw, "X-M2M-RI");
    req->rvi = http_header(raw, "X-M2M-RVI");
    req->rtu = http_header(raw, "X-M2M-RTU"); /* TS-0009 §6.4.x: rt's notificationURIs, '&'-separated */
    req->body = raw->body;
    req->body_len = raw->body_len;

    const char *m = raw->method ? raw->method : "";
    const char *ct = http_header(raw, "Content-Type");
    bool has_body = strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0;
    const char *body_cbor = NULL;
    if (has_body && ct != NULL && content_kind(ct, &body_cbor) != KIND_CBOR)
        body_cbor = NULL;
    scratch->rsp_cbor = response_cbor(http_header(raw, "Accept"), body_cbor, &scratch->rsp_json); /* errors too */
    if (has_body) {
        if (ct == NULL)
            return response_error(rsp, RSC_UNSUPPORTED_MEDIA_TYPE, "media", "missing Content-Type");
        if (parse_content_type(ct, req, &body_cbor, rsp) != 0)
            return rsp->rsc;
        if (body_cbor != NULL && convert_cbor_body(req, scratch, rsp) != 0)
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
    /* TS-0009 §6.4.13-16: X-M2M-RST, X-M2M-RET, X-M2M-OET; §6.4.10 X-M2M-GID (the Group Request
     * Identifier); X-M2M-EC (CMDH) is not implemented: 5001 */
    static const struct {
        const char *header, *param;
    } timing[] = {
        {"X-M2M-RET", "rqet"}, {"X-M2M-RST", "rset"}, {"X-M2M-OET", "oet"}, {"X-M2M-GID", "gid"}, {"X-M2M-EC", "ec"}};
    for (size_t i = 0; i < sizeof timing / sizeof timing[0]; i++) {
        const char *v = http_header(raw, timing[i].header);
        if (v != NULL && param_apply(timing[i].param, v, req, &scratch->params, rsp) != 0)
            return rsp->rsc;
    }
    /* TS-0009 §6.4.19: the Tokens parameter in the Authorization header, tokens joined by '+'; the
     * RFC 6750 "Bearer" scheme in front is accepted too */
    const char *authz = http_header(raw, "Authorization");
    if (authz != NULL) {
        if (strncasecmp(authz, "Bearer ", 7) == 0)
            authz += 7;
        if (param_apply("tkns", authz, req, &scratch->params, rsp) != 0)
            return rsp->rsc;
    }
    return 0;
}
