/* buf: a growable byte buffer for building responses and SQL-free text. */
#ifndef WARDEN_UTIL_BUF_H
#define WARDEN_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *p;    /* always NUL-terminated when non-NULL */
    size_t len; /* bytes used, excluding the terminator */
    size_t cap;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Append s as a JSON string literal, quotes included. */
void buf_json_str(struct buf *b, const char *s);
/* Hand the bytes to the caller (who frees them with mem_free); b is reset. */
char *buf_take(struct buf *b, size_t *len /* OUT: may be NULL */);

#endif
