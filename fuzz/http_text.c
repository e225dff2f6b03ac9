/* http_text: fuzzer bytes to a raw HTTP request (see http_text.h). */
#include "http_text.h"

#include <stdlib.h>
#include <string.h>

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

void http_text_parse(struct http_text *t, const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
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
        char *save = NULL;
        for (char *tok = strtok_r(query, "&", &save); tok && na < HTTP_TEXT_MAXKV; tok = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(tok, '=');
            if (eq) {
                *eq = '\0';
                unescape(eq + 1);
            }
            unescape(tok);
            t->args[na++] = (struct http_kv){.key = tok, .value = eq ? eq + 1 : NULL};
        }
    }
    char *p = line_end ? line_end + 1 : NULL;
    while (p && *p && nh < HTTP_TEXT_MAXKV) {
        /* header lines may carry NUL bytes (value_len tells them, as libmicrohttpd's lengths do) */
        char *e = memchr(p, '\n', (size_t)(text + size - p));
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
            size_t vlen = e ? (size_t)(e - v) : (size_t)(text + size - v);
            t->headers[nh++] = (struct http_kv){.key = p, .value = v, .value_len = vlen};
        }
        p = e ? e + 1 : NULL;
    }
    if (body)
        body_len = size - (size_t)(body - text);

    t->text = text;
    t->raw = (struct http_raw){method, url, t->headers, nh, t->args, na, body, body_len, false};
}

void http_text_free(struct http_text *t)
{
    free(t->text);
    t->text = NULL;
}
