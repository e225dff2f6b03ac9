/* primitive_out: the request primitive a CSE sends and the response primitive it gets back, as JSON
 * objects (TS-0004 §7.2.1.1-2, TS-0010 §6.5), for the client sides of the bindings that carry
 * primitives whole (MQTT). The reverse of primitive.h. Pure: no sockets, no clock, so the fuzzer and
 * the unit tests drive it directly. */
#ifndef WARDEN_BINDINGS_PRIMITIVE_OUT_H
#define WARDEN_BINDINGS_PRIMITIVE_OUT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/outbound.h"

/* Encode rq as a request primitive with To = to and Request Identifier rqi: op, to, fr, rqi, rvi
 * ("3" when rq names none), ty (CREATE), pc (rq->body spliced: it must be JSON), rqet, tkns, and
 * the parameters of rq->query (TS-0009 §6.2.2.2 form, percent-encoded) by their primitive names:
 * rcn and drt as integers, rp, rids, tids, ltids, tqi as they are, the filter criteria in fc (an
 * attribute name that is no filter criterion goes to fc.atr). Returns the text (mem_free) and its
 * length, or NULL when body is not JSON or the query is malformed. */
char *primitive_encode_request(const struct out_request *rq, const char *to, const char *rqi, size_t *len /* OUT */);

/* A decoded response primitive. The strings point into root: keep the struct until
 * primitive_response_free(). */
struct prim_response {
    int rsc;
    const char *rqi; /* never NULL after a successful decode */
    const char *to;  /* the request's From as the receiver echoed it, NULL when absent */
    char *pc;        /* the Content as JSON text (owned), NULL when absent */
    size_t pc_len;
    int cnst;   /* Content Status, 0 when absent (TS-0004 §6.3.4.2.44) */
    long cnot;  /* Content Offset */
    char *ati;  /* Assigned Token Identifiers as "lti:tkid" pairs joined by '+' (owned), NULL when absent */
    void *root; /* json_t * */
};

/* Decode a response primitive (may be wrapped as {"m2m:rsp": {...}}): rsc (an integer 1000..6999)
 * and rqi (a non-empty string) are mandatory; cnst, cnot and ati are read when well-formed.
 * Returns 0, or -1 for anything else (out is then empty and needs no free). */
int primitive_decode_response(const char *json, size_t len, struct prim_response *out /* OUT */);
void primitive_response_free(struct prim_response *r);

#endif
