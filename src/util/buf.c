/* buf: growable buffer (see buf.h). */
#include "buf.h"

#include <stdio.h>
#include <string.h>

#include "mem.h"

void buf_init(struct buf *b)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_free(struct buf *b)
{
    mem_free(b->p);
    buf_init(b);
}

void buf_reserve(struct buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    b->p = mem_realloc(b->p, cap);
    b->cap = cap;
}

void buf_append(struct buf *b, const void *data, size_t n)
{
    buf_reserve(b, n);
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void buf_puts(struct buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void buf_putc(struct buf *b, char c)
{
    buf_append(b, &c, 1);
}

void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return;
    buf_reserve(b, (size_t)n);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
}

size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    if (n == 0)
        return 0;
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xbf; /* the range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

void buf_put_text(struct buf *b, const char *s, size_t n)
{
    const unsigned char *c = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq_len(c + i, n - i);
        if (k == 0 || (k == 1 && (c[i] < 0x20 || c[i] == 0x7f))) {
            buf_append(b, replacement, 3);
            i++;
        } else {
            buf_append(b, c + i, k);
            i += k;
        }
    }
}

void buf_json_str(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    buf_putc(b, '"');
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c >= 0x80) { /* a whole UTF-8 sequence, or U+FFFD for a byte that starts none */
            size_t k = utf8_seq_len(c, strnlen((const char *)c, 4));
            if (k == 0) {
                buf_append(b, "\\ufffd", 6);
            } else {
                buf_append(b, c, k);
                c += k - 1;
            }
            continue;
        }
        switch (*c) {
        case '"': buf_append(b, "\\\"", 2); break;
        case '\\': buf_append(b, "\\\\", 2); break;
        case '\n': buf_append(b, "\\n", 2); break;
        case '\r': buf_append(b, "\\r", 2); break;
        case '\t': buf_append(b, "\\t", 2); break;
        default:
            if (*c < 0x20) {
                char esc[6] = {'\\', 'u', '0', '0', hex[*c >> 4], hex[*c & 15]};
                buf_append(b, esc, 6);
            } else {
                buf_putc(b, (char)*c);
            }
        }
    }
    buf_putc(b, '"');
}

char *buf_take(struct buf *b, size_t *len)
{
    if (b->p == NULL)
        buf_reserve(b, 0), b->p[0] = '\0';
    char *p = b->p;
    if (len)
        *len = b->len;
    buf_init(b);
    return p;
}
