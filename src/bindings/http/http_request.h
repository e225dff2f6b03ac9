/* http_request: the oneM2M HTTP binding's request mapping (TS-0009 §6): method, path, X-M2M-*
 * headers, Content-Type and query string to a request primitive. Pure: no sockets, no
 * libmicrohttpd, so the fuzzer drives it directly. */
#ifndef WARDEN_BINDINGS_HTTP_REQUEST_H
#define WARDEN_BINDINGS_HTTP_REQUEST_H

#include <stddef.h>

#include "core/limits.h"
#include "bindings/params.h"
#include "core/request.h"

struct http_kv {
    const char *key;
    const char *value; /* NULL for a query key without '=' */
    /* Bytes of key and value as received, when the source knows them (libmicrohttpd does); 0 means
     * strlen. A length beyond strlen is a NUL byte inside the field. */
    size_t key_len, value_len;
};

struct http_raw {
    const char *method;
    const char *url; /* path, percent-decoded, no query string */
    const struct http_kv *headers;
    size_t nheaders;
    const struct http_kv *args; /* query arguments, decoded, in order */
    size_t nargs;
    const char *body;
    size_t body_len;
    bool head_checked; /* http_check_head already passed on these headers (the binding checks the head
                          before the body arrives): http_to_primitive does not check them again */
};

/* Storage for strings the primitive points to that the raw request does not hold, and what the
 * request asked of the response's format. */
struct http_scratch {
    char to[LIMIT_ID_LEN + 3];
    struct param_scratch params;
    char *cbor_json; /* a CBOR body converted to JSON text (req->body points here); mem_alloc'd */
    /* The CBOR media type to answer in (TS-0009 §6.2.2.x: from Accept, else the request's own
     * Content-Type), or NULL for JSON. Static string; set even when http_to_primitive fails. */
    const char *rsp_cbor;
    const char *rsp_json; /* the JSON media type Accept preferred (static), NULL: application/json */
};

/* The request head's framing and header rules, checked before any byte of the body is read
 * (RFC 9110 §5.5: a NUL in a field value is invalid; RFC 9112 §6.1 and §6.3: Transfer-Encoding
 * with Content-Length, or a transfer coding other than chunked, cannot be framed safely). Also
 * refuses a NUL in a field name and a repeated oneM2M or framing header (X-M2M-*, Content-Type,
 * Content-Length, Transfer-Encoding, Authorization, Host), whose two values would be read
 * differently by different parties. Returns 0, or 4000 with rsp filled: the binding then answers
 * and closes the connection. */
int http_check_head(const struct http_raw *raw, struct cse_response *rsp);

/* The raw request target (before percent-decoding; path and query): refuses an encoded NUL
 * ("%00", which decoding would turn into a silent truncation) and more than LIMIT_QUERY_PARAMS
 * query parameters. Returns 0, or 4000 with rsp filled. */
int http_check_target(const char *target, struct cse_response *rsp);

/* The peer a connection counts against for http.max_conns_per_ip: an IPv4 address (also written
 * as an IPv4-mapped IPv6 address) or the /64 prefix of an IPv6 address. family: 4 or 6; addr: 4
 * or 16 bytes in network order. Writes the key to key and returns its length (4 or 8; 0 for an
 * unknown family). */
#define HTTP_PEER_KEY_MAX 8
size_t http_peer_key(int family, const unsigned char *addr, unsigned char key[HTTP_PEER_KEY_MAX]);

/* Case-insensitive header lookup; NULL when absent. */
const char *http_header(const struct http_raw *raw, const char *name);

/* Fill req from raw. Returns 0, or an RSC with rsp filled (4000, 4005, 4015, 5001). req's
 * strings point into raw and scratch, which must outlive req. Release scratch with
 * http_scratch_free() in every case. */
int http_to_primitive(const struct http_raw *raw, struct cse_request *req, struct http_scratch *scratch,
                      struct cse_response *rsp);
void http_scratch_free(struct http_scratch *scratch);

/* HTTP status for a oneM2M RSC (TS-0009 §6.4.x table). */
unsigned http_status_of(int rsc);

#endif
