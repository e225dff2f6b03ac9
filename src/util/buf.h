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
/* Append s as a JSON string literal, quotes included. Always valid JSON and UTF-8 (RFC 8259 §8.1),
 * whatever s holds: a byte that does not start a valid UTF-8 sequence is written as U+FFFD. */
void buf_json_str(struct buf *b, const char *s);
/* Length (1-4) of the well-formed UTF-8 sequence at the start of s[0..n), or 0 when there is none
 * (RFC 3629 §4: no overlong forms, no surrogates, nothing above U+10FFFF). */
size_t utf8_seq_len(const unsigned char *s, size_t n);
/* Append s[0..n) as text safe to show anywhere (a message, a log line, a CoAP diagnostic payload):
 * valid UTF-8 sequences are kept, every other byte and every control character (C0, DEL)
 * becomes U+FFFD. */
void buf_put_text(struct buf *b, const char *s, size_t n);
/* Hand the bytes to the caller (who frees them with mem_free); b is reset. */
char *buf_take(struct buf *b, size_t *len /* OUT: may be NULL */);

#endif
