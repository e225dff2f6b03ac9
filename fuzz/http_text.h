/* http_text: turns fuzzer bytes into a raw HTTP request for the harnesses. Format:
 * "METHOD /path?query\n", then "Name: value\n" header lines, a blank line, and the body. */
#ifndef WARDEN_FUZZ_HTTP_TEXT_H
#define WARDEN_FUZZ_HTTP_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "bindings/http/http_request.h"

#define HTTP_TEXT_MAXKV 64

struct http_text {
    char *text; /* owned copy of the input, cut up in place */
    struct http_kv headers[HTTP_TEXT_MAXKV];
    struct http_kv args[HTTP_TEXT_MAXKV];
    struct http_raw raw;
};

/* Fill t from data (query arguments are percent- and plus-decoded as libmicrohttpd does). */
void http_text_parse(struct http_text *t, const uint8_t *data, size_t size);
void http_text_free(struct http_text *t);

#endif
