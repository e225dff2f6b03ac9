/* primitive: the binding-neutral request and response primitives as JSON objects (TS-0004 §7.2.1,
 * §8.2; TS-0010 §6.5), as MQTT and WebSocket carry them: a request primitive object with short
 * names (op, to, fr, rqi, rvi, ty, pc, rcn, drt, rt, fc, rqet ...) becomes a struct cse_request,
 * and a struct cse_response becomes a response primitive object (rsc, rqi, pc, to, fr, rvi, cnst,
 * cnot). Pure: no sockets, no clock, so the fuzzer and the unit tests drive it directly. */
#ifndef WARDEN_BINDINGS_PRIMITIVE_H
#define WARDEN_BINDINGS_PRIMITIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bindings/params.h"
#include "core/request.h"

/* Values of filter criteria converted to text for param_apply(): bounds the work of one fc. */
#define PRIM_MAX_PARAMS 64

/* A decoded request primitive. req points into the other members: keep the struct alive (and
 * unmoved) as long as req is used, then release it with primitive_request_free(). */
struct prim_request {
    struct cse_request req;
    /* owned storage */
    void *root;                  /* the decoded JSON (json_t *) */
    char *pc;                    /* the Content re-encoded as JSON text */
    char *rtu;                   /* rt's notificationURIs joined by '&' (req.rtu), or NULL */
    char *vals[PRIM_MAX_PARAMS]; /* parameter values as text (param_apply may keep pointers) */
    int nvals;
    struct param_scratch params;
};

/* Decode a request primitive from JSON text (len bytes, need not be NUL-terminated); the object
 * may be wrapped as {"m2m:rqp": {...}}. Returns 0, or an RSC with rsp filled (4000 for malformed
 * JSON, a missing or mistyped parameter or an unknown one; 5001 for a parameter Warden does not
 * evaluate). In every case p->req.rqi is set when the primitive carried a readable rqi, so the
 * error can be answered, and p must be released with primitive_request_free(). */
int primitive_decode_request(const char *json, size_t len, struct prim_request *p, struct cse_response *rsp);
void primitive_request_free(struct prim_request *p);

/* Encode the response primitive of rsp (TS-0004 §7.2.1.2): rsc; rqi when non-NULL; pc = rsp->body
 * spliced as is (JSON text), or {"m2m:dbg": message} for an error without body; to = the request's
 * From when non-NULL; fr = the CSE-ID; rvi when non-NULL; cnst/cnot for partial content.
 * Returns the text (mem_free) and its length in *len. */
char *primitive_encode_response(const struct cse_response *rsp, const char *rqi, const char *to, const char *fr,
                                const char *rvi, size_t *len /* OUT */);

/* Encode a NOTIFY request primitive (op 5) carrying body (JSON text) as pc. Returns the text
 * (mem_free), or NULL when body is not a JSON value. */
char *primitive_encode_notify(const char *to, const char *fr, const char *rqi, const char *body, size_t body_len,
                              size_t *len /* OUT */);

#endif
