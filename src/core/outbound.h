/* outbound: the outbound seam (ARCHITECTURE.md "Binding interface"). Every request the CSE sends
 * (notifications, DAS consultations, forwarded requests, CSE registration) is one asynchronous
 * send(request primitive) -> response primitive, handed to the client side of the binding that the
 * target's URI scheme names (http/https: bindings/http/http_client.c; mqtt/mqtts, coap/coaps:
 * registered by their bindings while they run, bindings/mqtt/mqtt_client.c and coap_binding.c).
 * The seam owns what every client side must apply: the outbound policy (notify.allow/deny, address
 * allow/deny lists checked against the address actually connected to, so DNS cannot smuggle a
 * request onto an internal host) and the outbound TLS rules (notify.ca as the trust anchors, the
 * CSE's own tls.cert/tls.key as its client credential, plain schemes refused in the secure
 * profile). Nothing else in the code opens a connection. */
#ifndef WARDEN_CORE_OUTBOUND_H
#define WARDEN_CORE_OUTBOUND_H

#include <stdbool.h>
#include <stddef.h>

#include "core/request.h"

struct log;
struct outbound;
struct cred_store;
struct http_client;

struct outbound_config {
    size_t queue_max; /* requests waiting or in flight in the HTTP client; beyond: outbound_send fails */
    int timeout_ms;   /* whole-request timeout for one attempt (default when a request names none) */
    int connect_timeout_ms;
    int max_attempts; /* notifications: 1 = no retry (other requests name their own, default 1) */
    int backoff_ms;   /* first retry delay; doubles each attempt, capped at 30 s */
    int max_parallel; /* concurrent HTTP transfers */
    /* Outbound policy, CIDR blocks ("10.0.0.0/8", "::1/128"). An address is refused when it matches
     * deny and not allow: allow entries are exceptions to deny; addresses in neither are permitted. */
    const char *const *allow;
    size_t nallow;
    const char *const *deny;
    size_t ndeny;
    /* Outbound TLS (issue 12, finding 25). https peers are always verified (certificate chain and
     * host name); tls_ca (PEM file, NULL/empty: the system's trust anchors) are the anchors, and
     * tls_cert/tls_key (PEM, NULL/empty: none) the client credential presented: the CSE's own
     * certificate. secure (the secure profile): plain http:// and coap:// targets are refused
     * unless allow_plain_http, and outbound_exchange (a DAS) needs https and tls_ca, always. */
    const char *tls_ca, *tls_cert, *tls_key;
    const char *cse_ca; /* tls.ca: anchors for peers that are CSEs (out_request.cse_peer); NULL/empty: tls_ca */
    bool secure;
    bool allow_plain_http;
    struct cred_store *creds; /* PSKs bound to peer CSEs (not owned); NULL: certificates only */
    const char *spid;         /* the SP domain: peer_csi "/id-in" is "//spid/id-in" in the store */
};

/* Request parameters on the wire: every parameter of TS-0004 Table 7.2.1.1-1 and how a forwarded
 * request (core/route.c) carries it over each client side; the receiving side's decoder reads the
 * same form back (http_request.c, coap_map.c, primitive.c; all through bindings/params.c). "query":
 * in out_request.query, as the HTTP query (TS-0009 §6.2.2.2), one Uri-Query option each over CoAP
 * (TS-0008 §6.2.2.3) and a primitive member over MQTT (TS-0010 §6.4, TS-0004 §8: lists as arrays,
 * numbers as integers, indicators as booleans; filter criteria inside "fc"; bindings/primitive_out.c).
 *
 *   parameter            out_request    HTTP (TS-0009 §6.4)      CoAP (TS-0008 §6.2.2)    MQTT
 *   op                   op             method (+ ty)            method (+ oneM2M-TY)     op
 *   to                   the uri        path "/~/csi/..."        Uri-Path "~", csi, ...   to
 *   fr                   fr             X-M2M-Origin             oneM2M-FR                fr
 *   rqi                  rqi            X-M2M-RI                 oneM2M-RQI               rqi
 *   rvi                  rvi            X-M2M-RVI                oneM2M-RVI               rvi
 *   ty                   ty             Content-Type ;ty=        oneM2M-TY                ty
 *   pc                   body           body                     payload                  pc
 *   rqet                 rqet           X-M2M-RET                oneM2M-RQET              rqet
 *   rset                 rset           X-M2M-RST                oneM2M-RSET              rset
 *   tkns                 tkns           Authorization, '+'       Uri-Query tkns=a+b       tkns [..]
 *   gid                  gid            X-M2M-GID                oneM2M-GID               gid
 *   rcn, drt             query          rcn=, drt=               Uri-Query                rcn, drt
 *   rids, tids, ltids    query          rids=, tids=, ltids=     Uri-Query                [..]
 *   tqi                  query          tqi=true                 Uri-Query                true
 *   atrl (partial)       query          atrl=                    Uri-Query                atrl [..]
 *   fc: fu ty lbl cty    query          fu= ty= lbl= cty=        Uri-Query                fc {..}
 *       cra crb ms us    query          timestamps               Uri-Query                fc {..}
 *       exa exb sts stb  query          ...                      Uri-Query                fc {..}
 *       sza szb lim lvl  query          ...                      Uri-Query                fc {..}
 *       ofst fo, atr     query          ..., name=value          Uri-Query                fc, fc.atr
 *   oet                  -              the forwarding CSE parks the request until oet first
 *   rt/rtu               -              answered by the forwarding CSE (non-blocking is accepted
 *                                       there, dispatch.c; its blocking copy goes on)
 *   rp, ec, da, gtm      -              not implemented: refused 5001 on receipt, never forwarded
 *   sqi                  -              semantic queries are not offered: true is 5001 on receipt
 *   ot, vsi, aus, asi    -              accepted and not evaluated; not sent on
 *
 * And back, in struct out_response (core/route.c passes them to the originator's binding):
 *   rsc, pc              rsc, body      X-M2M-RSC, body          oneM2M-RSC, payload      rsc, pc
 *   created resource     location       Content-Location         Location-Path            (from pc's ri)
 *   cnst, cnot           cnst, cnot     X-M2M-CTS, X-M2M-CTO     oneM2M-CTS, -CTO         cnst, cnot
 *   ati                  ati            X-M2M-ATI                oneM2M-ATI               ati {ltia}
 */

/* One outgoing request primitive (TS-0004 §7.2.1.1). The strings belong to the caller and need
 * only stay valid until outbound_send returns (client sides copy what they keep). */
struct out_request {
    enum cse_op op;
    const char *fr;   /* From (X-M2M-Origin); mandatory */
    const char *rqi;  /* NULL: the client side makes a fresh one (the same on every retry) */
    const char *rvi;  /* NULL: "3" */
    int ty;           /* CREATE: the resource type */
    const char *body; /* Content, JSON text (len bytes), may be NULL */
    size_t len;
    /* The Content's media type when not JSON, e.g. "application/cbor" for a notification to an AE
     * whose contentSerialization asks for it (TS-0004 §7.5.1.1); NULL: JSON. Only the http(s)
     * client side carries another serialization: outbound_send refuses it for other schemes. */
    const char *ctype;
    /* Further parameters in their binding-neutral text form, NULL when absent: the query of the
     * target (rcn=, fu=, rids=, tids=, ltids=, ... as TS-0009 §6.2.2.2 writes them), the Request
     * Expiration Timestamp (rqet), the tokens ('+'-joined, TS-0009 §6.4.19) and the Group Request
     * Identifier (gid, the field below). A forwarded request
     * has reached its Operation Execution Time here already (dispatch parks it before the route
     * step), so oet is not sent on. */
    const char *query;
    const char *rqet;
    const char *tkns;
    const char *rset;  /* Result Expiration Timestamp, absolute */
    const char *gid;   /* Group Request Identifier (TS-0004 §7.3.3.2, §7.4.14.2.4) of a member request */
    int timeout_ms;    /* 0: outbound_config.timeout_ms */
    int max_attempts;  /* 0: one attempt, except NOTIFY which defaults to outbound_config.max_attempts */
    size_t max_answer; /* response Content kept, bytes; 0: the Content is not kept (a notification) */
    /* The receiver is a CSE (forwarding, registration): its certificate is verified against the
     * CSE's own trust anchors (tls.ca, the CA of the CSE-ID certificates), not notify.ca; and when
     * peer_csi (its CSE-ID, "/id-in") has a PSK bound to it in the credential store, an https
     * request goes over TLS-PSK with that key instead (TS-0003 §8.2.2.1). */
    bool cse_peer;
    const char *peer_csi;
};

/* The outcome of one request: the receiver's response primitive, or an RSC for a failure
 * (5103 TARGET_NOT_REACHABLE: no connection or timeout after all attempts; 4103 when the outbound
 * policy refused every address; 5000 otherwise). body/location are valid during the callback only. */
struct out_response {
    int rsc;
    /* 0 when the receiver did not answer. An HTTP answer's status; the MQTT and CoAP client sides set
     * the HTTP status their answer's rsc maps to (http_map.c), so that "http_status != 0" means "the
     * receiver answered" for every binding. */
    int http_status;
    int attempts;
    const char *body; /* response Content, NULL when none or not kept */
    size_t len;
    const char *location; /* Content-Location (a created resource), NULL when none */
    bool truncated;       /* the Content was longer than max_answer (body is then NULL) */
    /* Response parameters (TS-0004 §7.2.1.2) a forwarded answer passes on: Content Status and
     * Content Offset of a partial result (0 when absent), the Assigned Token Identifiers as
     * "lti:tkid" pairs joined by '+' (TS-0009 §6.4.18; NULL when absent). X-M2M-CTS/-CTO/-ATI,
     * oneM2M-CTS/-CTO/-ATI, cnst/cnot/ati. */
    int cnst;
    long cnot;
    const char *ati;
    /* Non-NULL: the client side did not send the request because the binding cannot carry it (e.g. a
     * parameter longer than a CoAP option holds), and why; rsc is then the answer for the originator
     * (4000), which says nothing about the receiver. */
    const char *unsendable;
};

typedef void (*out_done_fn)(void *arg, const struct out_response *res);

/* A binding's client side: one per URI scheme. allowed() is the syntactic and policy check for its
 * scheme; send() queues one request and returns 0 (done then called exactly once, from any thread)
 * or -1 (done not called). Neither may block. */
struct out_client_ops {
    const char *scheme; /* "http", "mqtt", "coap", ...: matched case-insensitively before "://" */
    bool (*allowed)(void *arg, const char *uri, char *reason, size_t len);
    int (*send)(void *arg, const char *uri, const struct out_request *rq, out_done_fn done, void *done_arg);
    void *arg;
};

/* Create the seam (cfg copied, lists parsed) with the HTTP(S) client side started. NULL + err. */
struct outbound *outbound_start(const struct outbound_config *cfg, struct log *log, char *err, size_t errlen);
/* Stop: requests still queued get up to grace_ms to finish, the rest are reported to their
 * callbacks with rsc 5103. Callers must have stopped calling outbound_send before, and must not
 * call this from a callback. */
void outbound_stop(struct outbound *ob, int grace_ms);

/* Register a client side (t copied). Returns 0, or -1 when the table is full or the scheme is taken. */
int outbound_register(struct outbound *ob, const struct out_client_ops *t);
/* After this returns no call into that client side is running or will start. */
void outbound_unregister(struct outbound *ob, const char *scheme);

/* May uri be used at all (its scheme has a client side, the secure profile's plaintext rule, the
 * client side's syntactic and policy check)? Otherwise reason (size len) says why. */
bool outbound_allowed(const struct outbound *ob, const char *uri, char *reason, size_t len);
/* Send rq to uri (an address with a scheme: "https://host:port/path") through the client side of
 * uri's scheme. Returns 0 (done called exactly once, from another thread or, for an immediate
 * failure after queueing, the delivery thread), or -1 when refused or the queue is full (done not
 * called). */
int outbound_send(struct outbound *ob, const char *uri, const struct out_request *rq, out_done_fn done, void *arg);

/* The outbound policy for one address, as a 16-byte IPv6 (IPv4-mapped) address: true = refused. */
bool outbound_addr_refused(const struct outbound *ob, const unsigned char a[16]);
/* The policy for one address literal ("10.1.2.3", "::1", "[::1]"): false for a refused address and
 * for anything that is not a literal; for client sides that resolve and connect themselves. */
bool outbound_host_allowed(const struct outbound *ob, const char *host);
/* The KpsaID of the PSK bound to the peer CSE peer_csi ("/id-in") in the credential store, for client
 * sides that run their own TLS-PSK (CoAP over DTLS; TS-0003 §8.2.2.1): true with kpsa_id filled
 * (CRED_KPSAID_MAX + 1 bytes), false when none is bound or there is no credential store. Cached per
 * credential generation, as for https. */
bool outbound_psk_for(struct outbound *ob, const char *peer_csi, char *kpsa_id);
/* The configuration the seam was started with (lists cleared; TLS paths owned by the seam). */
const struct outbound_config *outbound_cfg(const struct outbound *ob);
struct log *outbound_log(const struct outbound *ob);
/* The HTTP(S) certificate client side (for the TLS-PSK client side's syntactic checks). */
struct http_client *outbound_http(const struct outbound *ob);

/* One exchange on the caller's thread (a DAS consultation thread, TS-0003 §7.3.2.3): rq to an
 * http(s) uri through outbound_send, waiting at most timeout_ms for the answer, a response of at
 * most 64 KiB; in the secure profile only to an https uri and only with notify.ca and the client
 * certificate configured. Returns 0 with *resp (mem_free) and *rsc (2000 when the receiver named
 * none) for a 2xx answer, else -1 (refused, unreachable, timed out, too large, or non-2xx). */
int outbound_exchange(struct outbound *ob, const char *uri, const char *body, size_t len, const char *originator,
                      int timeout_ms, char **resp, size_t *resp_len, int *rsc);
/* Why outbound_exchange would refuse uri before connecting (secure profile: not https, no notify.ca
 * or no client certificate), or NULL. Static text. */
const char *outbound_exchange_refusal(const struct outbound *ob, const char *uri);

/* Counters of the HTTP client side, for metrics and tests. */
struct outbound_stats {
    unsigned long queued, delivered, failed, refused, retried;
    size_t pending;
};
void outbound_get_stats(struct outbound *ob, struct outbound_stats *out);

#endif
