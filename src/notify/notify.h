/* notify: outbound delivery of notifications (TS-0001 §10.2.10, TS-0004 §7.4.1.2.2 over HTTP per
 * TS-0009). Requests are queued and sent asynchronously by one delivery thread on libcurl's multi
 * interface: a slow or dead receiver costs queue memory up to a bound, never request latency.
 * Every target passes the outbound policy (address allow/deny lists checked against the address
 * actually connected to, so DNS cannot smuggle a subscription onto an internal host). */
#ifndef WARDEN_NOTIFY_NOTIFY_H
#define WARDEN_NOTIFY_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

struct log;
struct notifier;

struct notify_config {
    size_t queue_max; /* notifications waiting or in flight; beyond: notify_send fails */
    int timeout_ms;   /* whole-request timeout for one attempt */
    int connect_timeout_ms;
    int max_attempts; /* 1 = no retry */
    int backoff_ms;   /* first retry delay; doubles each attempt, capped at 30 s */
    int max_parallel; /* concurrent transfers */
    /* Outbound policy, CIDR blocks ("10.0.0.0/8", "::1/128"). An address is refused when it matches
     * deny and not allow: allow entries are exceptions to deny; addresses in neither are permitted. */
    const char *const *allow;
    size_t nallow;
    const char *const *deny;
    size_t ndeny;
    /* Outbound TLS (issue 12, finding 25). https peers are always verified (certificate chain and
     * host name); tls_ca (PEM file, NULL/empty: the system's trust anchors) are the anchors, and
     * tls_cert/tls_key (PEM, NULL/empty: none) the client credential presented: the CSE's own
     * certificate. secure (the secure profile): plain http:// notification targets are refused
     * unless allow_plain_http, and notify_exchange (a DAS) needs https and tls_ca, always. */
    const char *tls_ca, *tls_cert, *tls_key;
    bool secure;
    bool allow_plain_http;
};

/* Outcome of one notification, reported to its callback. */
struct notify_result {
    int rsc;         /* X-M2M-RSC of the receiver's response, or an RSC describing the failure:
                        5103 TARGET_NOT_REACHABLE (connect/timeout after all attempts),
                        4103 when the outbound policy refused the address, 5000 otherwise */
    int http_status; /* 0 when no HTTP response arrived */
    int attempts;
};

typedef void (*notify_done_fn)(void *arg, const struct notify_result *res);

/* Start the delivery thread. cfg is copied (including the lists). NULL + err on failure. */
struct notifier *notifier_start(const struct notify_config *cfg, struct log *log, char *err, size_t errlen);
/* Stop: deliveries still queued get up to grace_ms to finish, the rest are reported to their
 * callbacks with rsc 5103; then the thread exits and everything is freed. Callers must have stopped
 * calling notify_send before, and must not call this from a notification callback. */
void notifier_stop(struct notifier *n, int grace_ms);

/* notify_send with the body in another serialization: ctype its media type (NULL: JSON), e.g.
 * "application/cbor" for an AE whose contentSerialization asks for it (TS-0004 §7.5.1.1). Only
 * http(s) targets take a serialization other than JSON: -1 for other schemes. */
int notify_send_as(struct notifier *n, const char *uri, const char *body, size_t len, const char *ctype,
                   const char *originator, notify_done_fn done, void *arg);

/* Syntactic policy check before queueing: scheme http/https, a host, and when the host is an IP
 * literal, the allow/deny lists. (Names are checked again at connect time.) Returns true when the
 * URI may be used; otherwise reason (size len) says why. */
bool notify_uri_allowed(const struct notifier *n, const char *uri, char *reason, size_t len);

/* Queue one notification: POST body (copied; JSON) to uri with the oneM2M headers
 * X-M2M-Origin: originator, X-M2M-RI: a fresh request ID, X-M2M-RVI: 3,
 * Content-Type: application/json (TS-0009 notify mapping). done (may be NULL) is called exactly once
 * on the delivery thread. Returns 0, or -1 when the queue is full, the notifier is stopping, or the
 * URI is refused by notify_uri_allowed (done is then not called). */
int notify_send(struct notifier *n, const char *uri, const char *body, size_t len, const char *originator,
                notify_done_fn done, void *arg);

/* Transports of the other bindings (TS-0010 mqtt:, TS-0008 coap:), chosen by URI scheme: a binding
 * registers one when it starts and removes it before it stops. allowed() is the syntactic and policy
 * check of notify_uri_allowed() for its scheme; send() queues one notification and returns 0 (done
 * then called exactly once, from any thread) or -1 (done not called). Neither may block. */
struct notify_transport {
    const char *scheme; /* "mqtt", "coap", ...: matched case-insensitively before "://" */
    bool (*allowed)(void *arg, const char *uri, char *reason, size_t len);
    int (*send)(void *arg, const char *uri, const char *body, size_t len, const char *originator, notify_done_fn done,
                void *done_arg);
    void *arg;
};
/* Returns 0, or -1 when the table is full or the scheme is http/https. t is copied. */
int notifier_add_transport(struct notifier *n, const struct notify_transport *t);
/* After this returns no call into the transport is running or will start. */
void notifier_remove_transport(struct notifier *n, const char *scheme);

/* The outbound policy (notify.allow/deny) for one address literal ("10.1.2.3", "::1", "[::1]"):
 * for transports that resolve and connect themselves. */
bool notify_host_allowed(const struct notifier *n, const char *host);

/* One synchronous NOTIFY exchange on the caller's thread (a DAS consultation, TS-0003 §7.3.2.3):
 * POST body to an http(s) uri under the outbound policy, at most timeout_ms in all, a response of
 * at most 64 KiB; with cfg.secure only to an https uri and only with tls_ca and the client
 * certificate configured (the peer verified against them, the certificate presented). Returns 0 with *resp (mem_free)
 * and *rsc (the X-M2M-RSC, 2000 when absent) for a 2xx answer, else -1 (refused, unreachable, timed out, too large, or
 * a non-2xx status). */
int notify_exchange(const struct notifier *n, const char *uri, const char *body, size_t len, const char *originator,
                    int timeout_ms, char **resp, size_t *resp_len, int *rsc);

/* Why notify_exchange would refuse uri before connecting (secure profile: not https, no tls_ca or
 * no client certificate), or NULL when it would try: for the DAC's dap when it is written. Static
 * text. */
const char *notify_exchange_refusal(const struct notifier *n, const char *uri);

/* Counters for metrics and tests. */
struct notify_stats {
    unsigned long queued, delivered, failed, refused, retried;
    size_t pending;
};
void notify_get_stats(struct notifier *n, struct notify_stats *out);

#endif
