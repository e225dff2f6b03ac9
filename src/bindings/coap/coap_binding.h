/* coap_binding: the CoAP binding (coap_binding_ops in bindings/binding.h), and a way to drive it
 * without its thread for the datagram fuzzer (fuzz/fuzz_coap_datagram.c). */
#ifndef WARDEN_BINDINGS_COAP_BINDING_H
#define WARDEN_BINDINGS_COAP_BINDING_H

#include <stddef.h>

struct binding;
struct cse;

/* The CoAP binding on cse listening on plain CoAP at 127.0.0.1:port, without DTLS, notifications
 * or a thread of its own: the caller runs it with coap_binding_poll() and frees it with
 * coap_binding_ops.stop(). NULL + err when the port cannot be bound. */
struct binding *coap_binding_start_polled(struct cse *cse, long port, char *err, size_t errlen);
/* One round of the binding's loop on the caller's thread: waits up to max_ms for a datagram, then
 * handles what arrived (libcoap's parser, Warden's handler) and the completions of parked requests. */
void coap_binding_poll(struct binding *b, unsigned max_ms);

#endif
