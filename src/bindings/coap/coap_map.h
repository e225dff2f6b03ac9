/* coap_map: the oneM2M CoAP binding's mapping (TS-0008 §6): method, Uri-Path, Uri-Query, the oneM2M
 * options (Table 6.2.2.4.0-1) and Content-Format to a request primitive; the response status code
 * table (Table 6.2.4-1) and the response options. Pure: no libcoap context, no sockets, so the
 * unit tests and the fuzzer drive it directly. The CoAP binding and tools/warden-coap use it. */
#ifndef WARDEN_BINDINGS_COAP_MAP_H
#define WARDEN_BINDINGS_COAP_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bindings/params.h"
#include "core/limits.h"
#include "core/request.h"

/* CoAP option numbers (RFC 7252 §5.10, RFC 7959) and the oneM2M ones (TS-0008 Table 6.2.2.4.0-1). */
enum {
    COAPM_OPT_LOCATION_PATH = 8,
    COAPM_OPT_URI_PATH = 11,
    COAPM_OPT_CONTENT_FORMAT = 12,
    COAPM_OPT_URI_QUERY = 15,
    COAPM_OPT_ACCEPT = 17,
    COAPM_OPT_OT = 259,
    COAPM_OPT_RTURI = 263,
    COAPM_OPT_TY = 267,
    COAPM_OPT_RVI = 271,
    COAPM_OPT_ASRI = 275,
    COAPM_OPT_FR = 279,
    COAPM_OPT_RQI = 283,
    COAPM_OPT_RQET = 291,
    COAPM_OPT_RSET = 295,
    COAPM_OPT_OET = 299,
    COAPM_OPT_EC = 303,
    COAPM_OPT_RSC = 307,
    COAPM_OPT_GID = 311,
    COAPM_OPT_CTO = 319,
    COAPM_OPT_CTS = 323,
    COAPM_OPT_ATI = 327,
    COAPM_OPT_VSI = 331,
    COAPM_OPT_GTM = 335,
    COAPM_OPT_AUS = 339,
};

/* Content-Formats (RFC 7252 §12.3, TS-0008 Table 6.2.2.2-1). */
enum {
    COAPM_CF_JSON = 50,
    COAPM_CF_CBOR = 60,
    COAPM_CF_RES_JSON = 10001,
    COAPM_CF_NTFY_JSON = 10003,
    COAPM_CF_RES_CBOR = 10010,
    COAPM_CF_NTFY_CBOR = 10011,
};

/* Request method codes (RFC 7252 §12.1.1). */
enum { COAPM_GET = 1, COAPM_POST = 2, COAPM_PUT = 3, COAPM_DELETE = 4 };

/* Tokens over CoAP. TS-0008 §6.2.2.3 carries the Tokens parameter as the Uri-Query "tkns=t1+t2",
 * but RFC 7252 §5.10 limits a Uri-Query option to 255 bytes (libcoap refuses a longer one, the whole
 * message with it) and a signed JWT is longer. So a "tkns=" value longer than COAPM_TKNS_CHUNK bytes
 * is cut into consecutive "tkns=" options of at most that many bytes, each but the last ending in
 * '~' (a character of neither base64url nor JWS/JWE compact form, so never part of a token): the
 * receiver joins them. A value that fits is the one option the clause names, as any receiver reads
 * it. */
#define COAPM_TKNS_CHUNK 240

/* Every option number the binding knows (the oneM2M ones are critical: libcoap must be told of them). */
extern const uint16_t coap_onem2m_options[];
extern const size_t coap_onem2m_noptions;
/* Name of a oneM2M option ("oneM2M-FR") or NULL; whether its value is a uint (TY, RSC, CTS, CTO, EC). */
const char *coap_option_name(unsigned num);
bool coap_option_is_uint(unsigned num);

struct coap_opt_in {
    uint16_t num;
    const uint8_t *val;
    size_t len;
};

struct coap_raw {
    int method; /* request code detail: COAPM_GET ... */
    const struct coap_opt_in *opts;
    size_t nopts;
    const uint8_t *body;
    size_t body_len;
};

/* Storage for everything the primitive points to: copies of the option values (NUL-terminated), the
 * target, the JSON converted from a CBOR body. Release with coap_scratch_free() in every case. */
struct coap_scratch {
    char to[LIMIT_ID_LEN + 3];
    char *strs;  /* arena of option copies (mem_alloc'd) */
    char *json;  /* body converted from CBOR (mem_alloc'd), or NULL */
    bool cbor;   /* answer in CBOR (request Content-Format or Accept) */
    unsigned cf; /* Content-Format of the response */
    struct param_scratch params;
};

/* Fill req from raw. Returns 0, or an RSC with rsp filled (4000 for a malformed option or path,
 * 4005 for a method oneM2M does not use, 4015 for a Content-Format that is neither JSON nor CBOR).
 * req's strings point into raw and scratch, which must outlive req. */
int coap_to_primitive(const struct coap_raw *raw, struct cse_request *req, struct coap_scratch *scratch,
                      struct cse_response *rsp);
void coap_scratch_free(struct coap_scratch *scratch);

/* The CoAP response code (class * 100 + detail, e.g. 205) of a oneM2M RSC for operation op
 * (TS-0008 Table 6.2.4-1: 2000 is 2.05 for RETRIEVE, 2.04 for NOTIFY). */
unsigned coap_code_of(int rsc, enum cse_op op);

/* Minimal big-endian encoding of a uint option value (RFC 7252 §3.2); returns the length (0 for 0). */
size_t coap_uint_encode(uint32_t v, uint8_t out[4]);
/* Decode a uint option value of at most 4 bytes; false when longer. */
bool coap_uint_decode(const uint8_t *val, size_t len, uint32_t *out);

/* Response options, in ascending option number. */
#define COAP_MAX_RSP_OPTS 48
struct coap_opt_out {
    uint16_t num;
    const uint8_t *val; /* into ibuf for uints, else into the strings given */
    size_t len;
    uint8_t ibuf[4];
};
/* Build the options of a response to req (which may be partly filled when the request failed):
 * Location-Path segments of rsp->location, Content-Format (when a body is sent), oneM2M-RVI, -RQI,
 * -RSC, -CTO, -CTS. rqi/rvi are the request's (may be NULL). out must hold COAP_MAX_RSP_OPTS and stay
 * in place (uint values point into its elements). Returns the number of options. */
size_t coap_response_options(const struct cse_response *rsp, const char *rqi, const char *rvi, unsigned cf,
                             bool has_body, struct coap_opt_out *out);

#endif
