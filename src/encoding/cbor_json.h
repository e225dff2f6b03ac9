/* cbor_json: CBOR (RFC 8949, libcbor) <-> the JSON data model, losslessly, so that every binding can
 * carry application/cbor and application/vnd.onem2m-res+cbor (TS-0004 §8.4) while the core speaks
 * JSON. Maps: text-string keys only; numbers: integers (within int64) and doubles (finite); text
 * strings, booleans, null, arrays, maps. CBOR that has no JSON equivalent (byte strings, tags other
 * than self-describe 55799, undefined, simple values, NaN/Infinity, non-text map keys, duplicate
 * keys, indefinite-length items are accepted and flattened) is refused with a message. Bounded:
 * nesting depth 16 (as the JSON decoder), the input length given. Pure; thread-safe. */
#ifndef WARDEN_ENCODING_CBOR_JSON_H
#define WARDEN_ENCODING_CBOR_JSON_H

#include <stddef.h>

/* JSON text (len bytes, need not be NUL-terminated) to CBOR. *out is mem_alloc'd (free with
 * mem_free). Returns 0, or -1 with a message in err (malformed JSON). */
int cborjson_from_json(const char *json, size_t len, unsigned char **out, size_t *outlen, char *err, size_t errlen);

/* CBOR to compact JSON text. *out is mem_alloc'd and NUL-terminated; *outlen excludes the NUL.
 * Returns 0, or -1 with a message in err (malformed or non-JSON CBOR, trailing bytes, too deep). */
int cborjson_to_json(const unsigned char *cbor, size_t len, char **out, size_t *outlen, char *err, size_t errlen);

#endif
