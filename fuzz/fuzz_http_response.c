/* fuzz_http_response: what a peer CSE answers the TLS-PSK client side (http_response_parse): any
 * bytes as a response. A parsed response stays within the data, its status is a valid HTTP status,
 * and a response that says it is complete parses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bindings/http/http_response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    struct http_response r;
    if (http_response_parse(buf, size, &r) == 0) {
        if (r.status < 100 || r.status > 599 || r.body < buf || r.body + r.body_len > buf + size)
            abort();
        if (r.rsc != 0 && (r.rsc < 1000 || r.rsc > 6999))
            abort();
        if (r.location != NULL && (r.location < buf || r.location + r.location_len > buf + size))
            abort();
    }
    if (http_response_complete(buf, size) && http_response_parse(buf, size, &r) != 0)
        abort();
    free(buf);
    return 0;
}
