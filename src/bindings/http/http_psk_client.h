/* http_psk_client: the HTTPS client side over TLS-PSK between CSEs (see http_psk_client.c). */
#ifndef WARDEN_BINDINGS_HTTP_HTTP_PSK_CLIENT_H
#define WARDEN_BINDINGS_HTTP_HTTP_PSK_CLIENT_H

#include <stdbool.h>

#include "core/outbound.h"
#include "security/cred.h"

struct http_psk_client;

/* Start the worker threads; creds (not owned) holds the keys. NULL + err on failure. */
struct http_psk_client *http_psk_client_start(struct outbound *ob, struct cred_store *creds, char *err, size_t errlen);
/* Works off the queue (each request within its deadline), then frees everything. */
void http_psk_client_stop(struct http_psk_client *pc);
/* The KpsaID of an active PSK bound to the peer's canonical ID ("//sp/id-in"), if any. */
bool http_psk_for(struct http_psk_client *pc, const char *peer_canon, char kpsa_id[CRED_KPSAID_MAX + 1]);
/* Send rq to an https uri over TLS-PSK with kpsa_id. 0 (done called once, from a worker thread) or -1. */
int http_psk_client_send(struct http_psk_client *pc, const char *uri, const char *kpsa_id, const struct out_request *rq,
                         out_done_fn done, void *arg);

#endif
