/* notify: sending one notification (TS-0001 §10.2.10, TS-0004 §7.4.1.2.2) through the outbound seam
 * (core/outbound.h): a NOTIFY request primitive with the CSE as originator, retried by the client
 * side (notify.attempts, notify.backoff), its response Content not kept. */
#ifndef WARDEN_NOTIFY_NOTIFY_H
#define WARDEN_NOTIFY_NOTIFY_H

#include <stddef.h>

#include "core/outbound.h"

/* Queue one notification: body (JSON, copied) to uri (any scheme with a client side) from
 * originator. done (may be NULL) is called exactly once, from another thread. Returns 0, or -1
 * when the target is refused (policy, scheme) or the queue is full (done is then not called). */
int notify_send(struct outbound *ob, const char *uri, const char *body, size_t len, const char *originator,
                out_done_fn done, void *arg);
/* notify_send with the body in another serialization: ctype its media type (NULL: JSON), e.g.
 * "application/cbor" for an AE whose contentSerialization asks for it (TS-0004 §7.5.1.1). Only
 * http(s) targets take a serialization other than JSON: -1 for other schemes. */
int notify_send_as(struct outbound *ob, const char *uri, const char *body, size_t len, const char *ctype,
                   const char *originator, out_done_fn done, void *arg);

#endif
