/* http_client: the HTTP binding's client side (TS-0009 mapping of a request primitive onto an HTTP
 * request) behind the outbound seam (core/outbound.h) for the http and https schemes. Requests are
 * queued and sent asynchronously by one delivery thread on libcurl's multi interface: a slow or dead
 * receiver costs queue memory up to a bound, never request latency, and connections to a receiver
 * are kept alive for the next request. Every address connected to passes the outbound policy; https
 * peers are verified against notify.ca and presented the CSE's own certificate. */
#ifndef WARDEN_BINDINGS_HTTP_HTTP_CLIENT_H
#define WARDEN_BINDINGS_HTTP_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/outbound.h"

struct http_client;

/* Start the delivery thread with ob's configuration (outbound_cfg). NULL + err on failure. */
struct http_client *http_client_start(struct outbound *ob, char *err, size_t errlen);
/* Requests still queued get up to grace_ms, the rest are answered 5103; then everything is freed. */
void http_client_stop(struct http_client *hc, int grace_ms);
/* out_client_ops for "http" and "https" (arg: the http_client). */
bool http_client_allowed(void *hc, const char *uri, char *reason, size_t len);
int http_client_send(void *hc, const char *uri, const struct out_request *rq, out_done_fn done, void *done_arg);
void http_client_stats(struct http_client *hc, struct outbound_stats *out);

struct buf;
/* The request line and oneM2M headers of rq for target ("/~/id-in/cse-in?rcn=1"; rq->query is
 * appended), lines separated by CRLF, no final CRLF: for client sides that write HTTP themselves
 * (http_psk_client.c). 0, or -1 when a value could smuggle in a header line. */
int http_request_head(const struct out_request *rq, const char *target, struct buf *out);

#endif
