/* fuzz_http_request: the HTTP request mapping (TS-0009 -> primitive) and the body decoding behind
 * it. Input: "METHOD /path?query\n" then "Name: value\n" header lines, a blank line, the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bindings/http/http_request.h"
#include "encoding/json.h"
#include "resources/rtype.h"

#define MAXKV 64

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* percent- and plus-decoding in place, as libmicrohttpd does for query arguments */
static void unescape(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p == '+') {
            *o++ = ' ';
        } else if (*p == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
            *o++ = (char)(hexval(p[1]) * 16 + hexval(p[2]));
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    struct http_kv headers[MAXKV], args[MAXKV];
    size_t nh = 0, na = 0;
    char *body = NULL;
    size_t body_len = 0;

    char *line_end = strchr(text, '\n');
    if (line_end)
        *line_end = '\0';
    char *method = text, *url = strchr(text, ' ');
    if (url)
        *url++ = '\0';
    else
        url = (char *)"/";
    char *query = strchr(url, '?');
    if (query) {
        *query++ = '\0';
        for (char *tok = strtok(query, "&"); tok && na < MAXKV; tok = strtok(NULL, "&")) {
            char *eq = strchr(tok, '=');
            if (eq) {
                *eq = '\0';
                unescape(eq + 1);
            }
            unescape(tok);
            args[na++] = (struct http_kv){tok, eq ? eq + 1 : NULL};
        }
    }
    char *p = line_end ? line_end + 1 : NULL;
    while (p && *p && nh < MAXKV) {
        char *e = strchr(p, '\n');
        if (e)
            *e = '\0';
        if (*p == '\0' || (*p == '\r' && p[1] == '\0')) {
            body = e ? e + 1 : NULL;
            break;
        }
        char *colon = strchr(p, ':');
        if (colon) {
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ')
                v++;
            headers[nh++] = (struct http_kv){p, v};
        }
        p = e ? e + 1 : NULL;
    }
    if (body)
        body_len = size - (size_t)(body - text);

    struct http_raw raw = {method, url, headers, nh, args, na, body, body_len};
    struct cse_request req;
    struct http_scratch scratch;
    struct cse_response rsp;
    response_init(&rsp);
    if (http_to_primitive(&raw, &req, &scratch, &rsp) == 0 && (req.op == OP_CREATE || req.op == OP_UPDATE)) {
        char err[256];
        json_t *v = json_decode_body(req.body, req.body_len, err, sizeof err);
        if (json_is_object(v) && json_object_size(v) == 1) {
            const char *key = json_object_iter_key(json_object_iter(v));
            const struct rtype *t = strncmp(key, "m2m:", 4) == 0 ? rtype_find_sn(key + 4) : NULL;
            if (t)
                attr_validate(t, json_object_iter_value(json_object_iter(v)), req.op == OP_CREATE, &rsp);
        }
        json_decref(v);
    }
    http_scratch_free(&scratch);
    response_free(&rsp);
    free(text);
    return 0;
}
