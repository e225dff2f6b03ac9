/* cbor_json: CBOR (RFC 8949, libcbor) <-> the JSON data model, losslessly, so that every binding can
 * carry application/cbor and application/vnd.onem2m-res+cbor (TS-0004 §8.4) while the core speaks
 * JSON. Maps: text-string keys only; numbers: integers (within int64) and doubles (finite); text
 * strings, booleans, null, arrays, maps. CBOR that has no JSON equivalent (byte strings, tags other
 * than self-described 55799, undefined, other simple values, NaN/Infinity, integers beyond int64,
 * non-text map keys, duplicate keys, invalid UTF-8, U+0000, which Warden's JSON decoder refuses as
 * well) is refused with a message. Indefinite-length strings, arrays and maps and non-shortest heads
 * are accepted and flattened. Integers stay integers and doubles stay doubles both ways: a double is
 * written as the shortest of half, single and double precision that holds it exactly (RFC 8949 §4.1
 * preferred serialization), so it decodes to the very same double. Any top-level value is allowed.
 * Bounded: CBOR -> JSON reads only the len bytes given, allocates nothing for announced lengths and
 * refuses nesting deeper than LIMIT_JSON_DEPTH (16, as the JSON decoder); JSON -> CBOR serves the
 * CSE's own responses, whose depth follows the resource tree (rcn=4), so it is bounded only by
 * jansson's parser (JSON_PARSER_MAX_DEPTH). Pure; thread-safe. On error both outputs are NULL / 0. */
#ifndef WARDEN_ENCODING_CBOR_JSON_H
#define WARDEN_ENCODING_CBOR_JSON_H

#include <stddef.h>

/* JSON text (len bytes, need not be NUL-terminated) to CBOR. *out is mem_alloc'd (free with
 * mem_free). Returns 0, or -1 with a message in err (empty or malformed JSON, duplicate keys,
 * "\u0000", integers beyond int64). */
int cborjson_from_json(const char *json, size_t len, unsigned char **out, size_t *outlen, char *err, size_t errlen);

/* CBOR to compact JSON text (as jansson writes it: doubles with 17 significant digits). *out is
 * mem_alloc'd and NUL-terminated; *outlen excludes the NUL. Returns 0, or -1 with a message in err
 * (empty, truncated, malformed or non-JSON CBOR, trailing bytes, too deep). */
int cborjson_to_json(const unsigned char *cbor, size_t len, char **out, size_t *outlen, char *err, size_t errlen);

#endif
