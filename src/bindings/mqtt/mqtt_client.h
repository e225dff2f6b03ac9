/* mqtt_client: the request/response side of the MQTT binding's client side (TS-0010 §6.3-6.4):
 * requests this CSE sends to another CSE over the broker connection (forwarding, registration,
 * NOTIFY through a CSE) wait in a bounded table until the response primitive with their rqi comes
 * back on /oneM2M/resp/<this CSE>/<receiver>/json, or their deadline passes (5103). No thread waits:
 * the binding's network thread hands responses in and sweeps the deadlines. */
#ifndef WARDEN_BINDINGS_MQTT_CLIENT_H
#define WARDEN_BINDINGS_MQTT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/outbound.h"

struct log;
struct mqtt_out;

/* publish(arg, topic, payload, len): queue one QoS 1 PUBLISH; 0 when libmosquitto took it (sent now
 * or on reconnection), -1 otherwise. Must not block. */
typedef int (*mqtt_publish_fn)(void *arg, const char *topic, const void *payload, size_t len);

/* A table for this CSE's topic level self ("id-mn") with room for max requests. Never NULL. */
struct mqtt_out *mqtt_out_new(const char *self, size_t max, struct log *log);
/* Every request still waiting is answered 5103, then the table is freed. */
void mqtt_out_free(struct mqtt_out *t);

/* Send rq to the CSE whose SP-relative CSE-ID is peer_csi ("/id-in"), as To = to (the target's
 * SP-relative or CSE-relative ID), with Request Expiration Timestamp rqet (absolute, so that a
 * request kept by the broker while the receiver is away is refused there once its sender gave up,
 * TS-0010 §6.4.3) unless rq names one. done is called exactly once: with the receiver's response, or
 * with 5103 at deadline_us (clock_mono_us) or when the table is freed. Returns 0, or -1 (done not
 * called) when the table is full, the same (From, rqi) is already waiting, the primitive cannot be
 * encoded, or publish refused it. */
int mqtt_out_send(struct mqtt_out *t, const char *peer_csi, const char *to, const struct out_request *rq,
                  const char *rqet, int64_t deadline_us, mqtt_publish_fn publish, void *publish_arg, out_done_fn done,
                  void *done_arg);

/* A message arrived on /oneM2M/resp/<self>/<receiver>/<fmt> (payload: JSON). Returns true when it
 * answered a waiting request: only a response from the CSE the request was sent to (the topic's
 * receiver level; the broker's ACL lets only that client publish there), with the same rqi and, when
 * the response names it, the same To as the request's From. */
bool mqtt_out_response(struct mqtt_out *t, const char *receiver, const char *json, size_t len);

/* Answer 5103 to every request whose deadline is at or before now_us. */
void mqtt_out_expire(struct mqtt_out *t, int64_t now_us);

/* Requests waiting (for tests and logs). */
size_t mqtt_out_pending(struct mqtt_out *t);

#endif
