/* response_check: the harnesses' response check (finding 30): whatever the input, what a binding
 * would send is valid in its serialization. */
#ifndef WARDEN_FUZZ_RESPONSE_CHECK_H
#define WARDEN_FUZZ_RESPONSE_CHECK_H

#include <stddef.h>

#include "core/request.h"

/* Traps unless rsp's message is valid UTF-8 without control characters (a CoAP diagnostic
 * payload, RFC 7252 §5.5.2, and a log line carry it as is) and the Content a binding would send
 * (response_take_body: the body, or {"m2m:dbg": message}) is valid JSON that converts to CBOR.
 * Leaves rsp unchanged. */
void fuzz_check_response(const struct cse_response *rsp);
/* Traps unless text[0..len) is valid JSON (jansson refuses invalid UTF-8) that converts to CBOR. */
void fuzz_check_json(const char *text, size_t len);

#endif
