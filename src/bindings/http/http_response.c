/* http_response: see http_response.h. */
#include "bindings/http/http_response.h"

#include <string.h>
#include <strings.h>

size_t http_response_head_end(const char *buf, size_t len)
{
    for (size_t i = 0; i + 3 < len; i++)
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n')
            return i + 4;
    return 0;
}

/* A header line [p, e) named name (case-insensitive, followed by ':'): its trimmed value. */
static bool header_value(const char *p, const char *e, const char *name, const char **v, size_t *vl)
{
    size_t n = strlen(name);
    if ((size_t)(e - p) <= n || strncasecmp(p, name, n) != 0 || p[n] != ':')
        return false;
    p += n + 1;
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *v = p;
    *vl = (size_t)(e - p);
    return true;
}

static bool digits(const char *v, size_t n, long max, long *out)
{
    if (n == 0 || n > 12)
        return false;
    long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        x = x * 10 + (v[i] - '0');
        if (x > max)
            return false;
    }
    *out = x;
    return true;
}

int http_response_parse(const char *buf, size_t len, struct http_response *out)
{
    memset(out, 0, sizeof *out);
    out->content_length = -1;
    size_t head = http_response_head_end(buf, len);
    /* "HTTP/1.x SSS" */
    if (head == 0 || head < 14 || memcmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ')
        return -1;
    long status;
    if (!digits(buf + 9, 3, 999, &status) || status < 100 || status > 599 || (buf[12] != ' ' && buf[12] != '\r'))
        return -1;
    out->status = (int)status;
    const char *end = buf + head - 2; /* the final CRLF */
    const char *p = memchr(buf, '\n', head);
    while (p != NULL && p + 1 < end) {
        const char *l = p + 1;
        const char *e = memchr(l, '\n', (size_t)(end - l) + 1);
        if (e == NULL)
            break;
        const char *le = e > l && e[-1] == '\r' ? e - 1 : e;
        const char *v;
        size_t vl;
        long x;
        if (header_value(l, le, "X-M2M-RSC", &v, &vl)) {
            if (digits(v, vl, 9999, &x) && vl == 4 && x >= 1000 && x <= 6999)
                out->rsc = (int)x;
        } else if (header_value(l, le, "Content-Location", &v, &vl)) {
            if (out->location == NULL) {
                out->location = v;
                out->location_len = vl;
            }
        } else if (header_value(l, le, "X-M2M-CTS", &v, &vl) || header_value(l, le, "X-M2M-CTO", &v, &vl)) {
            if (digits(v, vl, 1000000000, &x)) {
                if (l[8] == 'S' || l[8] == 's')
                    out->cnst = (int)x;
                else
                    out->cnot = x;
            }
        } else if (header_value(l, le, "X-M2M-ATI", &v, &vl)) {
            if (out->ati == NULL) {
                out->ati = v;
                out->ati_len = vl;
            }
        } else if (header_value(l, le, "Content-Length", &v, &vl)) {
            if (!digits(v, vl, 1L << 40, &x) || (out->content_length >= 0 && out->content_length != x))
                return -1;
            out->content_length = x;
        } else if (header_value(l, le, "Transfer-Encoding", &v, &vl)) {
            return -1;
        }
        p = e;
    }
    out->body = buf + head;
    out->body_len = len - head;
    if (out->content_length >= 0) {
        if ((size_t)out->content_length > out->body_len)
            return -1;
        out->body_len = (size_t)out->content_length;
    }
    return 0;
}

bool http_response_complete(const char *buf, size_t len)
{
    size_t head = http_response_head_end(buf, len);
    if (head == 0)
        return false;
    struct http_response r;
    return http_response_parse(buf, len, &r) == 0 && r.content_length >= 0;
}
