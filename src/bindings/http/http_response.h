/* http_response: parsing an HTTP/1.1 response a CSE peer sent (the TLS-PSK client side,
 * http_psk_client.c): status line, X-M2M-RSC (TS-0009 §6.4.17), Content-Location (§6.4.3),
 * Content-Length and the body. Pure (no I/O), so the fuzzer drives it directly: the peer is another
 * CSE, and what it sends is input like any other. */
#ifndef WARDEN_BINDINGS_HTTP_HTTP_RESPONSE_H
#define WARDEN_BINDINGS_HTTP_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>

struct http_response {
    int status;           /* 100..599 */
    int rsc;              /* X-M2M-RSC when it is 4 digits (1000..6999), else 0 */
    const char *location; /* Content-Location value (trimmed), not NUL-terminated; NULL when absent */
    size_t location_len;
    long content_length; /* -1 when absent */
    int cnst;            /* X-M2M-CTS, X-M2M-CTO (TS-0009 §6.4.20-21), 0 when absent or malformed */
    long cnot;
    const char *ati; /* X-M2M-ATI (§6.4.18), trimmed, not NUL-terminated; NULL when absent */
    size_t ati_len;
    const char *body; /* after the head, up to Content-Length or the end of the data */
    size_t body_len;
};

/* Where the head of buf (len bytes) ends (the offset after the blank line), 0 while incomplete. */
size_t http_response_head_end(const char *buf, size_t len);
/* Is the response in buf complete: the head, and Content-Length bytes of body when it says so?
 * (Without Content-Length the body ends when the peer closes.) */
bool http_response_complete(const char *buf, size_t len);
/* Parse a response (the data need not be NUL-terminated). Returns 0, or -1 when the head is
 * incomplete or malformed (no status line, a status outside 100..599, a Content-Length that is not
 * a number, a body shorter than it, or a chunked body, which Warden's peers never send). */
int http_response_parse(const char *buf, size_t len, struct http_response *out);

#endif
