/* json: decoding of request content (jansson) with Warden's limits, and the representation wrapper. */
#ifndef WARDEN_ENCODING_JSON_H
#define WARDEN_ENCODING_JSON_H

#include <jansson.h>
#include <stddef.h>

/* Parse a request body into a JSON value. Duplicate keys, trailing garbage, invalid UTF-8 and
 * nesting deeper than LIMIT_JSON_DEPTH are refused. Returns the value (caller json_decref) or
 * NULL with a message in err. */
json_t *json_decode_body(const char *body, size_t len, char *err, size_t errlen);

/* Depth of a JSON value (a scalar is 1). Stops counting at limit + 1. */
int json_depth(const json_t *v, int limit);

/* Compact serialisation (caller mem_free). */
char *json_encode(const json_t *v, size_t *len /* OUT: may be NULL */);

#endif
