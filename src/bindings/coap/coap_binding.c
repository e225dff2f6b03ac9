/* coap_binding: the oneM2M CoAP binding (TS-0008) on libcoap 4.3.1 (GnuTLS): plain CoAP on
 * coap.port, DTLS 1.2 on coaps.port with PSKs from the credential store and certificates from
 * tls.cert/tls.key/tls.ca. libcoap is not thread-safe, so one CoAP thread owns the context and
 * everything on it: the requests, the separate responses of requests that park on a store commit
 * (libcoap's async: the commit's done() hands the request back through an eventfd, the thread
 * triggers the async and libcoap calls the handler again, which completes the response), and the
 * notifications to coap:// URIs that other threads queue. The mapping itself is coap_map.c. */
#include <arpa/inet.h>
#include <coap3/coap.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* <coap3/coap.h> pulls in <syslog.h>, whose LOG_INFO/LOG_DEBUG macros clash with Warden's log levels */
#undef LOG_INFO
#undef LOG_DEBUG

#include "bindings/binding.h"
#include "bindings/http/http_request.h"
#include "bindings/listen.h"
#include "coap_binding.h"
#include "coap_blockwise.h"
#include "coap_map.h"
#include "coap_optfilter.h"
#include "core/cse.h"
#include "core/outbound.h"
#include "core/rsc.h"
#include "security/cred.h"
#include "encoding/cbor_json.h"
#include "notify/notify.h"
#include "security/tlsauth.h"
#include "util/buf.h"
#include "util/mem.h"

#define NOTE_MAX_PENDING 1024 /* notifications queued for or in flight on the CoAP thread */

/* Security-association state of one DTLS session (libcoap session app data). */
struct coap_peer {
    struct tls_peer tp;
    unsigned char key[CRED_KEY_MAX]; /* handed to libcoap during the handshake, wiped when connected */
    coap_bin_const_t keybin;
    coap_session_t *session;
    bool drop;      /* credential revoked: close the session after the response went out */
    bool connected; /* handshake completed (announced once) */
    bool hooking;   /* DTLS server session whose GnuTLS session has not got Warden's verify function yet */
    struct coap_peer *prev, *next;
};

/* A request parked on a store commit, from cse_dispatch() to the separate response. */
struct coap_req {
    struct coap_binding *cb;
    struct coap_req *next; /* completion queue */
    coap_async_t *async;   /* NULL when libcoap could not register it: complete and drop */
    int64_t t0;
    char *body; /* copy of the request body (the request PDU goes away) */
    /* block-wise transfer (coap_blockwise.c): the Block1 of the last block of the request (echoed
     * in the response), the Block2 the client asked for, the transfer's identity */
    bool has_b1, has_b2;
    struct bw_block b1, b2;
    unsigned method;
    uint8_t *key;
    size_t keylen;
    char peer[64];
    char rqi[256], rvi[16]; /* oneM2M-RQI/-RVI as received, for answers refused before the mapping */
    struct cse_request req;
    struct coap_scratch scratch;
    struct cse_response rsp;
};

/* The request parameters of struct out_request the CoAP client side carries besides method,
 * Uri-Path, Content-Format, oneM2M-TY/-RVI/-FR/-RQI and rq->query (whose parameters are Uri-Query
 * options "k=v", percent-decoded, TS-0008 §6.2.2.3): each as its oneM2M option (TS-0008 Table
 * 6.2.2.4.0-1) or, where §6.2.2.3 says so, as one more Uri-Query option "name=value". In option
 * number order (the Uri-Query ones first). */
static const struct {
    size_t off;      /* of a const char * in struct out_request */
    uint16_t opt;    /* COAP_OPTION_URI_QUERY or a oneM2M option */
    const char *qry; /* the Uri-Query name */
} coap_params[] = {
    {offsetof(struct out_request, tkns), COAP_OPTION_URI_QUERY, "tkns"}, /* §6.2.2.3 Tokens, '+'-joined */
    {offsetof(struct out_request, rqet), COAPM_OPT_RQET, NULL},          /* §6.2.2.4.5 */
    {offsetof(struct out_request, rset), COAPM_OPT_RSET, NULL},          /* §6.2.2.4.6 */
    {offsetof(struct out_request, gid), COAPM_OPT_GID, NULL},            /* §6.2.2.4.11 */
};
#define NCOAP_PARAMS (sizeof coap_params / sizeof coap_params[0])

/* One outgoing request (TS-0008 §6 as the client side): a notification to an AE's coap:// URI
 * (TS-0004 §7.4.1.2.2), or any operation to another CSE (forwarding, registration, TS-0004 §7.3.2.6,
 * §7.4.4) over coap:// or coaps:// (DTLS with the PSK bound to the peer's CSE-ID, else the CSE's
 * certificate). Made on the calling thread, started and finished on the CoAP thread. */
struct coap_note {
    struct coap_note *next;
    char *uri, *body, *originator;
    size_t len;
    enum cse_op op;
    int ty;
    char *rqi, *rvi, *query;
    char *param[NCOAP_PARAMS]; /* coap_params' values, NULL when absent */
    size_t max_answer;
    int timeout_ms;
    bool dtls;                         /* coaps:// */
    char peer_csi[LIMIT_NAME_LEN + 2]; /* the CSE expected at the other end ("" for an AE) */
    char kpsa_id[CRED_KPSAID_MAX + 1]; /* DTLS-PSK identity; "" for certificates */
    unsigned char key[CRED_KEY_MAX];   /* its key (wiped in note_free) */
    size_t key_len;
    out_done_fn done;
    void *done_arg;
    coap_session_t *session; /* while in flight */
    int64_t deadline_us;
    int rsc;       /* result, once known */
    bool answered; /* rsc is the receiver's (a response arrived) */
    char *rbody;   /* the response's Content (Block2 blocks appended in order), at most max_answer */
    size_t rlen;
    bool truncated;
    char *rloc; /* the response's Location-Path as "seg/seg/..." (a created resource), or NULL */
    int cnst;   /* oneM2M-CTS, -CTO, -ATI of the response (out_response) */
    long cnot;
    char *ati;
    bool finished;
    bool cut;        /* finished while libcoap may still ask the peer for Block2 blocks */
    bool unsendable; /* not sent: a parameter is longer than a CoAP option holds */
};

struct coap_binding {
    struct cse *cse;
    coap_context_t *ctx;
    struct tlsauth *tls; /* NULL without coaps */
    pthread_t thread;
    bool thread_started;
    bool transport_added;
    bool dtls_added; /* "coaps" registered too */
    int evfd;
    atomic_int inflight;
    atomic_bool stopping;
    /* handed over from other threads (lock) */
    pthread_mutex_t lock;
    struct coap_req *done_head, *done_tail;
    struct coap_note *out_head, *out_tail;
    int nout; /* queued + in flight */
    bool exit;
    bool accepting_notes;
    /* owned by the CoAP thread */
    struct bw_table *bw; /* block-wise transfers (libcoap's are off on server sessions) */
    struct coap_note *flight;
    struct coap_peer *peers;
};

static void wake(struct coap_binding *cb)
{
    uint64_t one = 1;
    ssize_t n = write(cb->evfd, &one, sizeof one);
    (void)n;
}

static struct coap_binding *binding_of(const coap_session_t *session)
{
    return coap_get_app_data(coap_session_get_context(session));
}

static void addr_text(const coap_address_t *a, char *out, size_t len)
{
    out[0] = '\0';
    if (a == NULL)
        return;
    if (a->addr.sa.sa_family == AF_INET)
        inet_ntop(AF_INET, &a->addr.sin.sin_addr, out, (socklen_t)len);
    else if (a->addr.sa.sa_family == AF_INET6)
        inet_ntop(AF_INET6, &a->addr.sin6.sin6_addr, out, (socklen_t)len);
}

/* ---- DTLS security associations ---- */

static struct coap_peer *peer_of(struct coap_binding *cb, coap_session_t *session, enum tls_kind kind)
{
    struct coap_peer *p = coap_session_get_app_data(session);
    if (p != NULL)
        return p;
    p = mem_calloc(1, sizeof *p);
    p->tp.ta = cb->tls;
    p->tp.kind = kind;
    p->tp.binding = "coaps";
    addr_text(coap_session_get_addr_remote(session), p->tp.peer, sizeof p->tp.peer);
    p->session = session;
    p->next = cb->peers;
    if (cb->peers)
        cb->peers->prev = p;
    cb->peers = p;
    coap_session_set_app_data(session, p);
    return p;
}

static void peer_free(struct coap_binding *cb, struct coap_peer *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        cb->peers = p->next;
    if (p->next)
        p->next->prev = p->prev;
    if (p->session)
        coap_session_set_app_data(p->session, NULL);
    cred_wipe(p, sizeof *p);
    mem_free(p);
}

static void peer_refuse(struct coap_peer *p, const char *reason, const char *detail)
{
    if (p->tp.fail != NULL)
        return;
    p->tp.fail = reason;
    tlsauth_audit(&p->tp, "authn-fail", reason, detail);
}

/* TS-0003 §8.2.2.1: the client's PSK identity is a KpsaID; its key comes from the credential store.
 * NULL aborts the handshake (unknown or revoked identity). */
static const coap_bin_const_t *psk_lookup(coap_bin_const_t *identity, coap_session_t *session, void *arg)
{
    struct coap_binding *cb = arg;
    struct coap_peer *p = peer_of(cb, session, TLS_KIND_PSK);
    p->tp.kind = TLS_KIND_PSK;
    char id[CRED_KPSAID_MAX + 1];
    if (identity == NULL || identity->length == 0 || identity->length > CRED_KPSAID_MAX ||
        memchr(identity->s, 0, identity->length)) {
        snprintf(p->tp.cred, sizeof p->tp.cred, "psk:(malformed)");
        peer_refuse(p, "unknown-psk", "malformed PSK identity");
        return NULL;
    }
    memcpy(id, identity->s, identity->length);
    id[identity->length] = '\0';
    bool ok = cred_kpsaid_ok(id);
    snprintf(p->tp.cred, sizeof p->tp.cred, "psk:%s", ok ? id : "(malformed)");
    if (!ok) {
        peer_refuse(p, "unknown-psk", "PSK identity is not <relative>@<fqdn>");
        return NULL;
    }
    size_t klen = 0;
    enum cred_status st = cred_psk_key(cb->cse->creds, id, p->key, &klen);
    if (st != CRED_OK) {
        cred_wipe(p->key, sizeof p->key);
        peer_refuse(p, st == CRED_REVOKED ? "revoked-psk" : st == CRED_NOT_FOUND ? "unknown-psk" : "store-error", NULL);
        return NULL;
    }
    gnutls_hash_fast(GNUTLS_DIG_SHA256, p->key, klen, p->tp.keyhash);
    snprintf(p->tp.kpsa_id, sizeof p->tp.kpsa_id, "%s", id);
    p->tp.psk_found = true;
    p->keybin.s = p->key;
    p->keybin.length = klen;
    return &p->keybin; /* libcoap copies it */
}

/* TS-0003 §8.2.2.2: libcoap validated the chain against tls.ca; Warden's own checks (revocation by
 * serial, P-256, keyUsage, identity in subjectAltName) run on the client certificate's DER. */
static int cert_check(const char *cn, const uint8_t *der, size_t len, coap_session_t *session, unsigned depth,
                      int validated, void *arg)
{
    (void)cn;
    struct coap_binding *cb = arg;
    if (depth != 0)
        return 1;
    if (coap_session_get_type(session) != COAP_SESSION_TYPE_SERVER)
        return 1;
    struct coap_peer *p = peer_of(cb, session, TLS_KIND_CERT);
    p->tp.kind = TLS_KIND_CERT;
    if (!validated) {
        peer_refuse(p, "cert-untrusted", "the certificate chain did not verify against tls.ca");
        return 0;
    }
    const char *why = tlsauth_check_certificate(cb->tls, der, len, &p->tp);
    if (why != NULL) {
        peer_refuse(p, why, NULL);
        return 0;
    }
    return 1;
}

/* Warden's certificate verification on a DTLS server session, in place of libcoap's (which aborts
 * untrusted, expired and not yet valid certificates before any application callback, so the audit
 * log would not learn why): path validation against tls.ca (and tls.crl) with the client-auth
 * purpose, then tlsauth's checks. A non-zero return aborts the handshake. */
static int dtls_verify(gnutls_session_t s)
{
    coap_session_t *session = gnutls_transport_get_ptr(s);
    struct coap_binding *cb = session ? binding_of(session) : NULL;
    if (cb == NULL || cb->tls == NULL)
        return -1;
    struct coap_peer *p = peer_of(cb, session, TLS_KIND_CERT);
    p->tp.kind = TLS_KIND_CERT;
    unsigned n = 0;
    const gnutls_datum_t *chain = gnutls_certificate_get_peers(s, &n);
    if (chain == NULL || n == 0) {
        peer_refuse(p, "cert-untrusted", "no client certificate");
        return -1;
    }
    char detail[256];
    const char *bad = tlsauth_verify_chain(cb->tls, s, detail, sizeof detail);
    if (bad != NULL) {
        /* the serial for the audit line, when the certificate is readable */
        (void)tlsauth_check_certificate(cb->tls, chain[0].data, chain[0].size, &p->tp);
        p->tp.cert_ok = false;
        p->tp.nids = 0;
        peer_refuse(p, bad, detail);
        return -1;
    }
    const char *why = tlsauth_check_certificate(cb->tls, chain[0].data, chain[0].size, &p->tp);
    if (why != NULL) {
        peer_refuse(p, why, NULL);
        return -1;
    }
    return 0;
}

/* Sessions announced by COAP_EVENT_SERVER_SESSION_NEW get their GnuTLS session with the first
 * ClientHello (the one the cookie exchange answers); the client's certificate can only come two
 * datagrams later, so installing the verify function after each libcoap I/O round is in time. */
static void hook_sessions(struct coap_binding *cb)
{
    for (struct coap_peer *p = cb->peers; p; p = p->next) {
        if (!p->hooking || p->session == NULL)
            continue;
        coap_tls_library_t lib;
        gnutls_session_t g = coap_session_get_tls(p->session, &lib);
        if (g == NULL || lib != COAP_TLS_LIBRARY_GNUTLS)
            continue;
        p->hooking = false;
        gnutls_session_set_verify_function(g, dtls_verify);
        const char *crl = cb->cse->cfg->tls_crl;
        gnutls_certificate_credentials_t x509 = NULL;
        if (crl && crl[0] && gnutls_credentials_get(g, GNUTLS_CRD_CERTIFICATE, (void **)&x509) == 0 && x509)
            gnutls_certificate_set_x509_crl_file(x509, crl, GNUTLS_X509_FMT_PEM);
    }
}

/* The negotiated protocol and cipher suite, in the server log (debug). */
static void log_suite(struct coap_binding *cb, struct coap_peer *p)
{
    if (!LOG_ON(cb->cse->log, LOG_DEBUG) || p->session == NULL)
        return;
    coap_tls_library_t lib;
    gnutls_session_t g = coap_session_get_tls(p->session, &lib);
    char *desc = g && lib == COAP_TLS_LIBRARY_GNUTLS ? gnutls_session_get_desc(g) : NULL;
    const char *suite = g && lib == COAP_TLS_LIBRARY_GNUTLS
                            ? gnutls_cipher_suite_get_name(gnutls_kx_get(g), gnutls_cipher_get(g), gnutls_mac_get(g))
                            : NULL;
    log_write(cb->cse->log, LOG_DEBUG, "coaps: %s %s: %s %s", p->tp.peer, p->tp.cred, desc ? desc : "?",
              suite ? suite : "");
    gnutls_free(desc);
}

static int on_event(coap_session_t *session, const coap_event_t event)
{
    struct coap_binding *cb = binding_of(session);
    if (cb != NULL && cb->tls != NULL && event == COAP_EVENT_SERVER_SESSION_NEW &&
        coap_session_get_proto(session) == COAP_PROTO_DTLS) {
        struct coap_peer *np = peer_of(cb, session, TLS_KIND_CERT);
        np->hooking = true;
        return 0;
    }
    struct coap_peer *p = coap_session_get_app_data(session);
    if (cb == NULL || p == NULL || coap_session_get_type(session) != COAP_SESSION_TYPE_SERVER)
        return 0;
    switch (event) {
    case COAP_EVENT_DTLS_CONNECTED:
    case COAP_EVENT_SESSION_CONNECTED: { /* libcoap 4.3.1's server reports the latter only */
        if (p->connected)
            break;
        p->connected = true;
        cred_wipe(p->key, sizeof p->key);
        log_suite(cb, p);
        struct cse_secctx sec; /* records authn-ok with the bound identity */
        memset(&sec, 0, sizeof sec);
        if (tlsauth_request(&p->tp, &sec) != 0)
            p->drop = true;
        break;
    }
    case COAP_EVENT_DTLS_CLOSED:
    case COAP_EVENT_DTLS_ERROR: tlsauth_close(&p->tp); break;
    case COAP_EVENT_SERVER_SESSION_DEL:
        tlsauth_close(&p->tp);
        p->session = NULL;
        coap_session_set_app_data(session, NULL);
        peer_free(cb, p);
        break;
    default: break;
    }
    return 0;
}

/* ---- requests ---- */

static void req_free(struct coap_req *x)
{
    coap_scratch_free(&x->scratch);
    response_free(&x->rsp);
    mem_free(x->body);
    mem_free(x->key);
    mem_free(x);
}

/* ---- block-wise transfer (RFC 7959), Warden's own: see coap_blockwise.h ---- */

/* One option of a response being built; the values point into storage that outlives the PDU. */
struct out_opt {
    uint16_t num;
    const uint8_t *val;
    size_t len;
};

#define MAX_OUT_OPTS (COAP_MAX_RSP_OPTS + 8)

/* Add the options in ascending number (RFC 7252 §3.1 encodes deltas), equal numbers in order. */
static void add_sorted(coap_pdu_t *pdu, struct out_opt *o, size_t n)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && o[j - 1].num > o[j].num; j--) {
            struct out_opt t = o[j];
            o[j] = o[j - 1];
            o[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++)
        coap_add_option(pdu, o[i].num, o[i].len, o[i].val);
}

/* The transfer identity of a request: transport, peer address and port, method and every option
 * but Block1, Block2, Size1 and Size2 (RFC 7959 §2.3 "the same options"). mem_alloc'd. */
static uint8_t *transfer_key(coap_session_t *session, unsigned method, const struct coap_opt_in *opts, size_t n,
                             const char *peer, size_t *keylen)
{
    size_t len = 2 + strlen(peer) + 8 + 1;
    for (size_t i = 0; i < n; i++)
        len += 4 + opts[i].len;
    uint8_t *k = mem_alloc(len), *p = k;
    const coap_address_t *ra = coap_session_get_addr_remote(session);
    uint16_t port = 0;
    if (ra && ra->addr.sa.sa_family == AF_INET)
        port = ntohs(ra->addr.sin.sin_port);
    else if (ra && ra->addr.sa.sa_family == AF_INET6)
        port = ntohs(ra->addr.sin6.sin6_port);
    *p++ = (uint8_t)coap_session_get_proto(session);
    *p++ = (uint8_t)method;
    p += snprintf((char *)p, len - 2, "%s:%u", peer, (unsigned)port) + 1;
    for (size_t i = 0; i < n; i++) {
        uint16_t num = opts[i].num;
        if (num == BW_OPT_BLOCK1 || num == BW_OPT_BLOCK2 || num == BW_OPT_SIZE1 || num == BW_OPT_SIZE2)
            continue;
        *p++ = (uint8_t)(num >> 8), *p++ = (uint8_t)num;
        *p++ = (uint8_t)(opts[i].len >> 8), *p++ = (uint8_t)opts[i].len;
        if (opts[i].len)
            memcpy(p, opts[i].val, opts[i].len);
        p += opts[i].len;
    }
    *keylen = (size_t)(p - k);
    return k;
}

/* Largest block size exponent whose block fits in one datagram with the options given (and the
 * block options, ETag and a token of 8), at most the one the client asked for. */
static unsigned block_szx(coap_session_t *session, const struct out_opt *o, size_t n, const struct coap_req *x)
{
    size_t used = 4 + 8 + 1 + 32; /* header, token, payload marker, Block2 + Size2 + ETag */
    for (size_t i = 0; i < n; i++)
        used += 5 + o[i].len;
    size_t max = coap_session_max_pdu_size(session);
    size_t avail = max > used ? max - used : 0;
    unsigned szx = BW_SZX_MAX;
    if (x->has_b2 && x->b2.szx < szx)
        szx = x->b2.szx;
    while (szx > 0 && ((size_t)16 << szx) > avail)
        szx--;
    return szx;
}

/* Serialize options for a kept response: [num u16][len u16][value] each. */
static uint8_t *opts_pack(const struct out_opt *o, size_t n, size_t *len)
{
    size_t l = 0;
    for (size_t i = 0; i < n; i++)
        l += 4 + o[i].len;
    uint8_t *b = mem_alloc(l ? l : 1), *p = b;
    for (size_t i = 0; i < n; i++) {
        *p++ = (uint8_t)(o[i].num >> 8), *p++ = (uint8_t)o[i].num;
        *p++ = (uint8_t)(o[i].len >> 8), *p++ = (uint8_t)o[i].len;
        if (o[i].len)
            memcpy(p, o[i].val, o[i].len);
        p += o[i].len;
    }
    *len = l;
    return b;
}

static size_t opts_unpack(const uint8_t *b, size_t len, struct out_opt *o, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i + 4 <= len && n < max;) {
        o[n].num = (uint16_t)(b[i] << 8 | b[i + 1]);
        o[n].len = (size_t)(b[i + 2] << 8 | b[i + 3]);
        o[n].val = b + i + 4;
        i += 4 + o[n].len;
        n++;
    }
    return n;
}

/* Block NUM of body (size 2^(szx+4)) with Block2, ETag and, on the first block, Size2 (RFC 7959
 * §2.4, §4). false when NUM lies beyond the body. */
static bool put_block2(coap_pdu_t *response, struct out_opt *o, size_t n, const uint8_t *body, size_t len, uint32_t num,
                       unsigned szx, uint64_t etag)
{
    size_t size = (size_t)16 << szx;
    if ((uint64_t)num * size >= len && !(num == 0 && len == 0))
        return false;
    size_t off = (size_t)num * size, take = len - off < size ? len - off : size;
    struct bw_block b = {.num = num, .more = off + take < len, .szx = szx};
    uint8_t bv[3], ev[8], sv[4];
    o[n++] = (struct out_opt){BW_OPT_BLOCK2, bv, bw_block_encode(&b, bv)};
    size_t el = 0;
    for (uint64_t t = etag; t; t >>= 8)
        el++;
    for (size_t i = 0; i < el; i++)
        ev[i] = (uint8_t)(etag >> (8 * (el - 1 - i)));
    if (etag)
        o[n++] = (struct out_opt){4, ev, el}; /* ETag */
    if (num == 0)
        o[n++] = (struct out_opt){BW_OPT_SIZE2, sv, coap_uint_encode((uint32_t)len, sv)};
    add_sorted(response, o, n);
    if (take)
        coap_add_data(response, take, body + off);
    return true;
}

/* A Block2 NUM beyond the body: 4.00 (as libcoap answered it), the response's oneM2M options kept
 * but its RSC made 4000. */
static void block_beyond(coap_pdu_t *response, struct out_opt *o, size_t n)
{
    static const uint8_t rsc4000[2] = {0x0f, 0xa0};
    for (size_t i = 0; i < n; i++)
        if (o[i].num == COAPM_OPT_RSC)
            o[i] = (struct out_opt){COAPM_OPT_RSC, rsc4000, sizeof rsc4000};
        else if (o[i].num == COAPM_OPT_CONTENT_FORMAT || o[i].num == COAPM_OPT_LOCATION_PATH)
            o[i].num = 0; /* no body of the resource follows, no location */
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (o[i].num)
            o[k++] = o[i];
    coap_pdu_set_code(response, (coap_pdu_code_t)COAP_RESPONSE_CODE(400));
    add_sorted(response, o, k);
    coap_add_data(response, 26, (const uint8_t *)"Block2 NUM beyond the body");
}

/* Encode rsp into response: code from the one table, the oneM2M options, the body (block-wise when
 * larger than a block: the first block now, the rest kept for the Block2 follow-ups) in the
 * request's format. */
static void send_response(struct coap_req *x, coap_session_t *session, coap_pdu_t *response, unsigned code_override)
{
    struct coap_binding *cb = x->cb;
    struct cse_response *rsp = &x->rsp;
    size_t len;
    char *body = response_take_body(rsp, &len);
    /* TS-0008 Table 6.2.4-1: 2.04, empty payload; but an end-to-end security answer (m2m:seci,
     * TS-0004 §7.6.2, §7.5.1.2.12) is the NOTIFY response's Content */
    if (x->req.op == OP_NOTIFY && rsp->rsc == RSC_OK && (body == NULL || strncmp(body, "{\"m2m:seci\"", 11) != 0)) {
        mem_free(body);
        body = NULL;
        len = 0;
    }
    unsigned cf = COAPM_CF_RES_JSON;
    if (body && x->scratch.cbor) {
        unsigned char *cbor = NULL;
        size_t clen = 0;
        char err[128];
        if (cborjson_from_json(body, len, &cbor, &clen, err, sizeof err) == 0) {
            mem_free(body);
            body = (char *)cbor;
            len = clen;
            cf = COAPM_CF_RES_CBOR;
        }
    }
    if (body == NULL)
        len = 0;
    unsigned code = code_override ? code_override : coap_code_of(rsp->rsc, x->req.op);
    struct coap_opt_out ro[COAP_MAX_RSP_OPTS];
    size_t nro = coap_response_options(rsp, x->req.rqi, x->req.rvi, cf, len > 0, ro);
    struct out_opt o[MAX_OUT_OPTS];
    size_t n = 0;
    for (size_t i = 0; i < nro; i++)
        o[n++] = (struct out_opt){ro[i].num, ro[i].val, ro[i].len};
    uint8_t b1v[3], s1v[4];
    if (x->has_b1 && code < 300) /* RFC 7959 §2.3: the final response echoes the last Block1 */
        o[n++] = (struct out_opt){BW_OPT_BLOCK1, b1v, bw_block_encode(&x->b1, b1v)};
    if (code == 413) /* RFC 7959 §2.9.3: Size1 tells the largest body accepted */
        o[n++] = (struct out_opt){BW_OPT_SIZE1, s1v, coap_uint_encode((uint32_t)cb->cse->cfg->limits_max_body, s1v)};
    coap_pdu_set_code(response, (coap_pdu_code_t)COAP_RESPONSE_CODE(code));
    unsigned szx = block_szx(session, o, n, x);
    size_t size = (size_t)16 << szx;
    /* a later block of a failure is not asked for: an error answers whole (from its first block) */
    uint32_t num = x->has_b2 && code < 300 ? x->b2.num : 0;
    if (len > size || num > 0) {
        uint64_t etag = 0;
        if (len > size && x->key) {
            size_t pl = 0;
            uint8_t *packed = opts_pack(o, n, &pl);
            struct bw_response keep = {
                .code = code, .opts = packed, .opts_len = pl, .body = (const uint8_t *)body, .body_len = len};
            etag = bw_block2_put(cb->bw, &(struct bw_id){x->peer, x->key, x->keylen}, &keep, clock_mono_us());
            mem_free(packed);
        }
        if (!put_block2(response, o, n, (const uint8_t *)body, len, num, szx, etag))
            block_beyond(response, o, n);
    } else {
        if (x->has_b2) { /* RFC 7959 §2.4: a Block2 asked for is answered with one */
            struct bw_block b = {.num = 0, .more = false, .szx = szx};
            uint8_t bv[3];
            o[n++] = (struct out_opt){BW_OPT_BLOCK2, bv, bw_block_encode(&b, bv)};
            add_sorted(response, o, n);
        } else {
            add_sorted(response, o, n);
        }
        if (len)
            coap_add_data(response, len, (const uint8_t *)body);
    }
    mem_free(body);
    atomic_fetch_sub(&cb->inflight, 1);
    cse_request_done(cb->cse, &x->req, rsp, clock_mono_us() - x->t0);
}

/* A Block2 follow-up answered from a kept response; false when none is kept for it. */
static bool send_kept_block(struct coap_binding *cb, struct coap_req *x, coap_session_t *session, coap_pdu_t *response)
{
    const struct bw_response *k = bw_block2_get(cb->bw, &(struct bw_id){x->peer, x->key, x->keylen}, clock_mono_us());
    if (k == NULL)
        return false;
    struct out_opt o[MAX_OUT_OPTS];
    size_t n = opts_unpack(k->opts, k->opts_len, o, MAX_OUT_OPTS - 3);
    coap_pdu_set_code(response, (coap_pdu_code_t)COAP_RESPONSE_CODE(k->code));
    unsigned szx = block_szx(session, o, n, x);
    if (!put_block2(response, o, n, k->body, k->body_len, x->b2.num, szx, k->etag))
        block_beyond(response, o, n);
    return true;
}

/* Completion of a parked request, on the store writer's thread: hand it to the CoAP thread. */
static void on_done(void *arg)
{
    struct coap_req *x = arg;
    struct coap_binding *cb = x->cb;
    pthread_mutex_lock(&cb->lock);
    x->next = NULL;
    if (cb->done_tail)
        cb->done_tail->next = x;
    else
        cb->done_head = x;
    cb->done_tail = x;
    pthread_mutex_unlock(&cb->lock);
    wake(cb);
}

/* RFC 7252 §5.4.1: the critical options (odd numbers) Warden acts on. Any other critical option
 * in a request is answered 4.02 Bad Option (the option named in the diagnostic, not echoed: a
 * client must reject a response with a critical option it does not know). libcoap reports every
 * option as known to this context (coap_optfilter.c), so this is the one check. If-Match and
 * If-None-Match are not here: conditional requests are not implemented. */
static bool recognized_critical(uint16_t num)
{
    switch (num) {
    case 3:  /* Uri-Host: the server's own name, nothing to act on */
    case 7:  /* Uri-Port */
    case 11: /* Uri-Path */
    case 15: /* Uri-Query */
    case 17: /* Accept */
    case BW_OPT_BLOCK2:
    case BW_OPT_BLOCK1: return true;
    default: return coap_option_name(num) != NULL; /* the oneM2M options, TS-0008 Table 6.2.2.4.0-1 */
    }
}

static void handle(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                   const coap_string_t *query, coap_pdu_t *response)
{
    (void)resource, (void)query;
    struct coap_binding *cb = binding_of(session);
    coap_async_t *async = coap_find_async(session, coap_pdu_get_token(request));
    if (async != NULL) { /* the separate response of a request that parked on its commit */
        struct coap_req *x = coap_async_get_app_data(async);
        if (x == NULL)
            return;
        coap_async_set_app_data(async, NULL);
        cse_complete(cb->cse, &x->req, &x->rsp);
        send_response(x, session, response, 0);
        req_free(x);
        return; /* libcoap frees the async after this handler */
    }

    struct coap_req *x = mem_calloc(1, sizeof *x);
    x->cb = cb;
    x->t0 = clock_mono_us();
    request_init(&x->req);
    response_init(&x->rsp);
    x->scratch.cf = COAPM_CF_RES_JSON;
    atomic_fetch_add(&cb->inflight, 1);
    bool secure = coap_session_get_proto(session) == COAP_PROTO_DTLS;
    x->req.sec.binding = secure ? "coaps" : "coap";
    addr_text(coap_session_get_addr_remote(session), x->req.sec.peer, sizeof x->req.sec.peer);
    snprintf(x->peer, sizeof x->peer, "%s", x->req.sec.peer);
    x->method = coap_pdu_get_code(request);

    if (atomic_load(&cb->stopping)) {
        response_error(&x->rsp, RSC_INTERNAL_SERVER_ERROR, "stopping", "the server is shutting down");
        send_response(x, session, response, 503);
        req_free(x);
        return;
    }

    /* options and body */
    struct coap_opt_in opts[128];
    size_t nopts = 0;
    coap_opt_iterator_t it;
    coap_opt_t *opt;
    bool too_many = false;
    const struct coap_opt_in *b1 = NULL, *b2 = NULL;
    uint16_t bad_critical = 0;
    coap_option_iterator_init(request, &it, COAP_OPT_ALL);
    while ((opt = coap_option_next(&it)) != NULL) {
        if (nopts == sizeof opts / sizeof opts[0]) {
            too_many = true;
            break;
        }
        opts[nopts] = (struct coap_opt_in){it.number, coap_opt_value(opt), coap_opt_length(opt)};
        if (it.number == BW_OPT_BLOCK1)
            b1 = &opts[nopts];
        else if (it.number == BW_OPT_BLOCK2)
            b2 = &opts[nopts];
        else if ((it.number & 1) && !recognized_critical(it.number) && bad_critical == 0)
            bad_critical = it.number;
        else if ((it.number == COAPM_OPT_RQI || it.number == COAPM_OPT_RVI) &&
                 !memchr(opts[nopts].val, 0, opts[nopts].len)) {
            char *dst = it.number == COAPM_OPT_RQI ? x->rqi : x->rvi;
            size_t cap = it.number == COAPM_OPT_RQI ? sizeof x->rqi : sizeof x->rvi;
            if (opts[nopts].len < cap) {
                memcpy(dst, opts[nopts].val, opts[nopts].len);
                dst[opts[nopts].len] = '\0';
            }
        }
        nopts++;
    }
    x->key = transfer_key(session, x->method, opts, nopts, x->peer, &x->keylen);
    size_t blen = 0;
    const uint8_t *bdata = NULL;
    if (!coap_get_data(request, &blen, &bdata))
        blen = 0;
    int rc = 0;
    unsigned code = 0;
    if (too_many)
        rc = response_error(&x->rsp, RSC_BAD_REQUEST, "too-many", "too many options");
    else if (bad_critical) {
        rc = response_error(&x->rsp, RSC_BAD_REQUEST, "bad-option",
                            "critical option %u is not recognized or not supported (RFC 7252 5.4.1)",
                            (unsigned)bad_critical);
        code = 402;
    } else if ((b1 && !bw_block_parse(b1->val, b1->len, &x->b1)) || (b2 && !bw_block_parse(b2->val, b2->len, &x->b2)))
        rc = response_error(&x->rsp, RSC_BAD_REQUEST, "bad-option", "malformed Block1 or Block2 option (RFC 7959)");
    x->has_b2 = b2 != NULL && rc == 0;
    if (rc == 0 && x->has_b2 && x->b2.num > 0 && b1 == NULL) { /* a Block2 follow-up */
        if (send_kept_block(cb, x, session, response)) {
            atomic_fetch_sub(&cb->inflight, 1);
            req_free(x);
            return;
        }
        if ((x->method & 0x1f) != COAPM_GET) { /* never run a write twice for its later blocks */
            rc = response_error(&x->rsp, RSC_BAD_REQUEST, "block2-expired",
                                "Block2 NUM %u of a response that is no longer kept; repeat the request",
                                (unsigned)x->b2.num);
            code = 408;
        }
    }
    if (rc == 0 && b1) { /* Block1: Warden reassembles the body (RFC 7959 §2.3) */
        uint8_t *whole = NULL;
        char why[128];
        enum bw_rx r = bw_block1(cb->bw, &(struct bw_id){x->peer, x->key, x->keylen}, &x->b1, bdata, blen,
                                 clock_mono_us(), &whole, &blen, &code, why, sizeof why);
        if (r == BW_RX_CONTINUE) { /* 2.31 Continue, the block echoed */
            uint8_t bv[3];
            coap_pdu_set_code(response, (coap_pdu_code_t)COAP_RESPONSE_CODE(231));
            coap_add_option(response, BW_OPT_BLOCK1, bw_block_encode(&x->b1, bv), bv);
            atomic_fetch_sub(&cb->inflight, 1);
            req_free(x);
            return;
        }
        if (r == BW_RX_ERROR) {
            rc = response_error(&x->rsp, RSC_BAD_REQUEST, "block1", "%s", why);
        } else {
            x->has_b1 = true;
            x->body = (char *)whole;
        }
    } else if (rc == 0 && blen > (size_t)cb->cse->cfg->limits_max_body) {
        rc = response_error(&x->rsp, RSC_BAD_REQUEST, "too-large", "request body exceeds the size limit");
        code = 413;
    } else if (rc == 0 && blen) {
        x->body = mem_alloc(blen);
        memcpy(x->body, bdata, blen);
    }
    struct coap_raw raw = {
        .method = (int)(coap_pdu_get_code(request) & 0x1f),
        .opts = opts,
        .nopts = nopts,
        .body = (const uint8_t *)x->body,
        .body_len = x->body ? blen : 0,
    };
    if (coap_pdu_get_code(request) >> 5 != 0)
        raw.method = -1;
    if (rc == 0)
        rc = coap_to_primitive(&raw, &x->req, &x->scratch, &x->rsp);
    if (rc != 0 && x->req.rqi == NULL && x->rqi[0]) /* TS-0008 §6.2.2.4: every response echoes the RQI */
        x->req.rqi = x->rqi;
    if (rc != 0 && x->req.rvi == NULL && x->rvi[0])
        x->req.rvi = x->rvi;
    /* coap_to_primitive resets req: the security context is filled after it */
    x->req.sec.binding = secure ? "coaps" : "coap";
    x->req.sec.sa = SA_NONE;
    addr_text(coap_session_get_addr_remote(session), x->req.sec.peer, sizeof x->req.sec.peer);
    if (rc == 0 && secure) {
        struct coap_peer *p = coap_session_get_app_data(session);
        if (p != NULL && !p->connected) { /* libcoap 4.3.1 reports no DTLS_CONNECTED to servers */
            p->connected = true;
            cred_wipe(p->key, sizeof p->key);
            log_suite(cb, p);
        }
        if (p != NULL && tlsauth_request(&p->tp, &x->req.sec) != 0) {
            p->drop = true;
            rc = response_error(&x->rsp, RSC_ORIGINATOR_NOT_AUTHENTICATED, "credential-revoked",
                                "the credential of this session has been revoked");
        } else if (p != NULL && x->req.sec.sa != SA_NONE) {
            x->req.sec.sa = p->tp.kind == TLS_KIND_PSK ? SA_DTLS_PSK : SA_DTLS_CERT;
        }
    }
    if (rc != 0) {
        send_response(x, session, response, code);
        req_free(x);
        return;
    }
    if (cse_dispatch(cb->cse, &x->req, &x->rsp, on_done, x) == CSE_DONE) {
        send_response(x, session, response, 0);
        req_free(x);
        return;
    }
    /* parked: an empty ACK now (for a CON), the response when the commit is done */
    x->async = coap_register_async(session, request, 0);
    if (x->async != NULL)
        coap_async_set_app_data(x->async, x);
    /* without an async (a request with the same token is parked already) the completion only
     * releases x; the client retransmits or gives up */
}

/* Completions handed over by on_done(): trigger the separate responses. */
static bool run_completions(struct coap_binding *cb, bool final)
{
    pthread_mutex_lock(&cb->lock);
    struct coap_req *x = cb->done_head;
    cb->done_head = cb->done_tail = NULL;
    pthread_mutex_unlock(&cb->lock);
    bool any = false;
    while (x) {
        struct coap_req *next = x->next;
        if (x->async && final)
            coap_async_set_app_data(x->async, NULL);
        if (x->async && !final) {
            coap_async_trigger(x->async);
            any = true;
        } else {
            cse_complete(cb->cse, &x->req, &x->rsp);
            atomic_fetch_sub(&cb->inflight, 1);
            req_free(x);
        }
        x = next;
    }
    return any;
}

/* ---- notifications to coap:// URIs ---- */

static void note_free(struct coap_note *n)
{
    cred_wipe(n->key, sizeof n->key);
    mem_free(n->uri);
    mem_free(n->body);
    mem_free(n->originator);
    mem_free(n->rqi);
    mem_free(n->rvi);
    mem_free(n->query);
    for (size_t i = 0; i < NCOAP_PARAMS; i++)
        mem_free(n->param[i]);
    mem_free(n->rbody);
    mem_free(n->rloc);
    mem_free(n->ati);
    mem_free(n);
}

/* Parse a coap:// or coaps:// URI whose host is an address literal (no DNS lookups on the CoAP
 * thread). */
static bool parse_target(const char *uri, coap_uri_t *u, coap_address_t *dst, char *reason, size_t len)
{
    if (coap_split_uri((const uint8_t *)uri, strlen(uri), u) < 0 ||
        (u->scheme != COAP_URI_SCHEME_COAP && u->scheme != COAP_URI_SCHEME_COAPS)) {
        snprintf(reason, len, "not a coap:// or coaps:// URI");
        return false;
    }
    char host[64];
    if (u->host.length == 0 || u->host.length >= sizeof host) {
        snprintf(reason, len, "missing or overlong host");
        return false;
    }
    memcpy(host, u->host.s, u->host.length);
    host[u->host.length] = '\0';
    coap_address_init(dst);
    if (inet_pton(AF_INET, host, &dst->addr.sin.sin_addr) == 1) {
        dst->addr.sin.sin_family = AF_INET;
        dst->addr.sin.sin_port = htons(u->port);
        dst->size = sizeof dst->addr.sin;
    } else if (inet_pton(AF_INET6, host, &dst->addr.sin6.sin6_addr) == 1) {
        dst->addr.sin6.sin6_family = AF_INET6;
        dst->addr.sin6.sin6_port = htons(u->port);
        dst->size = sizeof dst->addr.sin6;
    } else {
        snprintf(reason, len, "coap:// and coaps:// targets must be IP address literals");
        return false;
    }
    return true;
}

static bool note_allowed(void *arg, const char *uri, char *reason, size_t len)
{
    struct coap_binding *cb = arg;
    coap_uri_t u;
    coap_address_t dst;
    if (!parse_target(uri, &u, &dst, reason, len))
        return false;
    char host[64];
    memcpy(host, u.host.s, u.host.length);
    host[u.host.length] = '\0';
    if (!outbound_host_allowed(cb->cse->outbound, host)) {
        snprintf(reason, len, "address %s is refused by the outbound policy (notify.deny)", host);
        return false;
    }
    return true;
}

/* The CoAP client side of the outbound seam: notifications to AEs' coap:// URIs, and any operation to
 * another CSE (rq->cse_peer with its CSE-ID) over coap:// or coaps://. coaps:// is DTLS with the PSK
 * bound to the peer CSE-ID in the credential store (TS-0003 §8.2.2.1), else with the CSE's own
 * certificate (tls.cert/tls.key), the peer verified against tls.ca and required to carry the
 * peer's CSE-ID (TS-0003 §8.1.2). Everything touching libcoap happens on the CoAP thread. */
static int note_send(void *arg, const char *uri, const struct out_request *rq, out_done_fn done, void *done_arg)
{
    struct coap_binding *cb = arg;
    char reason[128];
    bool cse = rq->cse_peer && rq->peer_csi != NULL && strlen(rq->peer_csi) <= LIMIT_NAME_LEN + 1;
    bool dtls = strncasecmp(uri, "coaps://", 8) == 0;
    if (rq->op != OP_NOTIFY && !cse) {
        LOG(cb->cse->log, LOG_WARN, "coap: %s to a receiver that is not a CSE is not sent over CoAP", op_name(rq->op));
        return -1;
    }
    if (dtls && !cse) {
        /* an AE's coaps:// URI would need notify.ca and no CSE-ID to check: not offered yet */
        LOG(cb->cse->log, LOG_WARN, "coap: notifications to coaps:// targets are not supported yet");
        return -1;
    }
    if (!note_allowed(cb, uri, reason, sizeof reason))
        return -1;
    struct coap_note *n = mem_calloc(1, sizeof *n);
    if (dtls) {
        /* the key is read here, before the hand-over: the session is made from the note alone */
        if (cse && outbound_psk_for(cb->cse->outbound, rq->peer_csi, n->kpsa_id) &&
            cred_psk_key(cb->cse->creds, n->kpsa_id, n->key, &n->key_len) != CRED_OK) {
            LOG(cb->cse->log, LOG_WARN, "coap: the key %s bound to %s is gone (revoked?)", n->kpsa_id, rq->peer_csi);
            note_free(n);
            return -1;
        }
        if (n->key_len == 0 && (cb->cse->cfg->tls_cert[0] == '\0' || cb->cse->cfg->tls_ca[0] == '\0')) {
            LOG(cb->cse->log, LOG_WARN,
                "coap: coaps:// needs a PSK bound to the peer CSE-ID or tls.cert, tls.key and tls.ca");
            note_free(n);
            return -1;
        }
        if (n->key_len == 0)
            n->kpsa_id[0] = '\0';
    }
    n->dtls = dtls;
    if (cse)
        snprintf(n->peer_csi, sizeof n->peer_csi, "%s", rq->peer_csi);
    n->uri = mem_strdup(uri);
    n->body = mem_strndup(rq->body ? rq->body : "", rq->len);
    n->len = rq->len;
    n->originator = mem_strdup(rq->fr ? rq->fr : "");
    n->op = rq->op;
    n->ty = rq->ty;
    n->rqi = rq->rqi ? mem_strdup(rq->rqi) : NULL;
    n->rvi = mem_strdup(rq->rvi ? rq->rvi : "3");
    n->query = rq->query ? mem_strdup(rq->query) : NULL;
    for (size_t i = 0; i < NCOAP_PARAMS; i++) {
        const char *v = *(const char *const *)(const void *)((const char *)rq + coap_params[i].off);
        n->param[i] = v ? mem_strdup(v) : NULL;
    }
    n->max_answer = rq->max_answer;
    n->timeout_ms = rq->timeout_ms;
    n->done = done;
    n->done_arg = done_arg;
    pthread_mutex_lock(&cb->lock);
    bool ok = cb->accepting_notes && cb->nout < NOTE_MAX_PENDING;
    if (ok) {
        cb->nout++;
        if (cb->out_tail)
            cb->out_tail->next = n;
        else
            cb->out_head = n;
        cb->out_tail = n;
    }
    pthread_mutex_unlock(&cb->lock);
    if (!ok) {
        note_free(n);
        return -1;
    }
    wake(cb);
    return 0;
}

static void note_finish(struct coap_note *n, int rsc)
{
    if (n->finished)
        return;
    n->finished = true;
    n->rsc = rsc;
}

/* A client session's certificate check (coaps:// with certificates): libcoap validated the chain
 * against tls.ca; the server's certificate must also name the CSE the request is for, in its
 * subjectAltName (a DNS name <cse-id>.<sp-id> or a URI, TS-0003 §8.1.2), as its CSE-ID. */
static bool cert_names(struct coap_binding *cb, const uint8_t *der, size_t len, const char *peer_csi)
{
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) < 0)
        return false;
    gnutls_datum_t d = {.data = (unsigned char *)der, .size = (unsigned)len};
    bool hit = false;
    char want[LIMIT_ID_LEN + 1];
    snprintf(want, sizeof want, "//%s%s", cb->cse->cfg->cse_spid, peer_csi);
    if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) >= 0)
        for (unsigned i = 0; !hit; i++) {
            char name[512], canon[LIMIT_ID_LEN + 1];
            size_t nl = sizeof name - 1;
            int type = gnutls_x509_crt_get_subject_alt_name(crt, i, name, &nl, NULL);
            if (type < 0)
                break;
            name[nl < sizeof name ? nl : sizeof name - 1] = '\0';
            hit = tlsauth_san_identity(&cb->cse->idenv, type, name, canon, sizeof canon) && strcmp(canon, want) == 0;
        }
    gnutls_x509_crt_deinit(crt);
    return hit;
}

static int client_cert_check(const char *cn, const uint8_t *der, size_t len, coap_session_t *session, unsigned depth,
                             int validated, void *arg)
{
    (void)cn;
    struct coap_binding *cb = arg;
    struct coap_note *n = coap_session_get_app_data(session);
    if (!validated)
        return 0;
    if (depth != 0)
        return 1;
    if (n == NULL || n->peer_csi[0] == '\0')
        return 0; /* only CSEs are reached over coaps:// (note_send) */
    if (!cert_names(cb, der, len, n->peer_csi)) {
        LOG(cb->cse->log, LOG_WARN, "coap: the certificate of %s does not name %s", n->uri, n->peer_csi);
        return 0;
    }
    return 1;
}

/* The DTLS client session of n: PSK (identity and key bound to the peer CSE-ID) or certificates. */
static coap_session_t *dtls_session(struct coap_binding *cb, struct coap_note *n, const coap_address_t *dst)
{
    const struct cse_config *cfg = cb->cse->cfg;
    if (n->key_len > 0) {
        coap_dtls_cpsk_t psk;
        memset(&psk, 0, sizeof psk);
        psk.version = COAP_DTLS_CPSK_SETUP_VERSION;
        psk.psk_info.identity.s = (const uint8_t *)n->kpsa_id;
        psk.psk_info.identity.length = strlen(n->kpsa_id);
        psk.psk_info.key.s = n->key;
        psk.psk_info.key.length = n->key_len;
        return coap_new_client_session_psk2(cb->ctx, NULL, dst, COAP_PROTO_DTLS, &psk);
    }
    coap_dtls_pki_t pki;
    memset(&pki, 0, sizeof pki);
    pki.version = COAP_DTLS_PKI_SETUP_VERSION;
    pki.verify_peer_cert = 1;
    pki.check_common_ca = 1;
    pki.cert_chain_validation = 1;
    pki.cert_chain_verify_depth = 3;
    pki.allow_expired_certs = 0;
    pki.validate_cn_call_back = client_cert_check;
    pki.cn_call_back_arg = cb;
    pki.pki_key.key_type = COAP_PKI_KEY_PEM;
    pki.pki_key.key.pem.public_cert = cfg->tls_cert;
    pki.pki_key.key.pem.private_key = cfg->tls_key;
    pki.pki_key.key.pem.ca_file = cfg->tls_ca;
    return coap_new_client_session_pki(cb->ctx, NULL, dst, COAP_PROTO_DTLS, &pki);
}

static int hexv(uint8_t c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* The longest value of an option the client side sends: Uri-Path and Uri-Query are 0-255 bytes (RFC
 * 7252 §5.10), and so are the oneM2M options of TS-0008 §6.2.2 this side sends (FR, RQI, RVI, GID,
 * ...). A receiver drops a message with a longer one without an answer, which the originator would see
 * as 5103; such a request is refused here instead (4000), saying why. tkns is cut into several
 * options (coap_map.h COAPM_TKNS_CHUNK) instead. */
#define COAP_OPT_VALUE_MAX 255

/* Add "a/b/c" as one option per segment (Uri-Path), or "k=v&k2=v2" as one per parameter (Uri-Query)
 * with its percent-encoding undone: a CoAP option carries the text itself (RFC 7252 §6.5). *too_long
 * is set when a segment is longer than COAP_OPT_VALUE_MAX. */
static void add_segments(coap_pdu_t *pdu, uint16_t opt, const uint8_t *p, size_t n, uint8_t sep, bool *too_long)
{
    const uint8_t *end = p + n;
    while (p && p < end) {
        const uint8_t *e = memchr(p, sep, (size_t)(end - p));
        size_t l = e ? (size_t)(e - p) : (size_t)(end - p);
        if (l > 0 && opt == COAP_OPTION_URI_QUERY) {
            uint8_t *v = mem_alloc(l);
            size_t o = 0;
            for (size_t i = 0; i < l; i++) {
                int a = l - i >= 3 && p[i] == '%' ? hexv(p[i + 1]) : -1, b = a >= 0 ? hexv(p[i + 2]) : -1;
                if (b >= 0 && (a | b) != 0) {
                    v[o++] = (uint8_t)(a * 16 + b);
                    i += 2;
                } else {
                    v[o++] = p[i];
                }
            }
            *too_long |= o > COAP_OPT_VALUE_MAX;
            coap_add_option(pdu, opt, o, v);
            mem_free(v);
        } else if (l > 0) {
            *too_long |= l > COAP_OPT_VALUE_MAX;
            coap_add_option(pdu, opt, l, p);
        }
        p += l + 1;
    }
}

/* Start one request: a CON with the method of its operation and the oneM2M options (TS-0008 §6.2:
 * Uri-Path, Content-Format, Uri-Query, oneM2M-TY, -RVI, -FR, -RQI, -RQET in option order). */
static void note_start(struct coap_binding *cb, struct coap_note *n)
{
    coap_uri_t u;
    coap_address_t dst;
    char reason[128];
    int timeout = n->timeout_ms > 0                  ? n->timeout_ms
                  : cb->cse->cfg->notify_timeout > 0 ? (int)cb->cse->cfg->notify_timeout
                                                     : 5000;
    n->deadline_us = clock_mono_us() + (int64_t)timeout * 1000;
    n->next = cb->flight;
    cb->flight = n;
    if (!parse_target(n->uri, &u, &dst, reason, sizeof reason)) {
        note_finish(n, RSC_ORIGINATOR_HAS_NO_PRIVILEGE);
        return;
    }
    /* libcoap's block-wise code is on for this client session only (its Block1 sending carries
     * large requests, it asks for the Block2 blocks of large answers); server sessions run without
     * it (see coap_start). Not COAP_BLOCK_SINGLE_BODY: libcoap would keep every block of an answer
     * that never ends; on_response takes them one by one, at most max_answer */
    coap_context_set_block_mode(cb->ctx, COAP_BLOCK_USE_LIBCOAP);
    n->session = n->dtls ? dtls_session(cb, n, &dst) : coap_new_client_session(cb->ctx, NULL, &dst, COAP_PROTO_UDP);
    coap_context_set_block_mode(cb->ctx, 0);
    if (n->session == NULL) {
        note_finish(n, RSC_TARGET_NOT_REACHABLE);
        return;
    }
    coap_session_set_app_data(n->session, n);
    coap_session_set_max_retransmit(n->session, 3);
    coap_pdu_code_t method = n->op == OP_RETRIEVE ? COAP_REQUEST_CODE_GET
                             : n->op == OP_UPDATE ? COAP_REQUEST_CODE_PUT
                             : n->op == OP_DELETE ? COAP_REQUEST_CODE_DELETE
                                                  : COAP_REQUEST_CODE_POST; /* CREATE, NOTIFY */
    coap_pdu_t *pdu =
        coap_pdu_init(COAP_MESSAGE_CON, method, coap_new_message_id(n->session), coap_session_max_pdu_size(n->session));
    if (pdu == NULL) {
        note_finish(n, RSC_INTERNAL_SERVER_ERROR);
        return;
    }
    uint8_t tok[8];
    size_t toklen = 0;
    coap_session_new_token(n->session, &toklen, tok);
    coap_add_token(pdu, toklen, tok);
    /* TS-0008 §6.2.2.3: "/~/id-in/cse-in" is Uri-Path "~", "id-in", "cse-in" */
    bool too_long = false;
    add_segments(pdu, COAP_OPTION_URI_PATH, u.path.s, u.path.length, '/', &too_long);
    uint8_t b4[4];
    if (n->len > 0) {
        unsigned cf = n->op == OP_NOTIFY ? COAPM_CF_NTFY_JSON : COAPM_CF_RES_JSON;
        coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT, coap_uint_encode(cf, b4), b4);
    }
    add_segments(pdu, COAP_OPTION_URI_QUERY, u.query.s, u.query.length, '&', &too_long);
    if (n->query)
        add_segments(pdu, COAP_OPTION_URI_QUERY, (const uint8_t *)n->query, strlen(n->query), '&', &too_long);
    for (size_t i = 0; i < NCOAP_PARAMS; i++)
        if (n->param[i] != NULL && coap_params[i].opt == COAP_OPTION_URI_QUERY) {
            /* "name=value", a long value cut into several options (coap_map.h COAPM_TKNS_CHUNK) */
            const char *v = n->param[i];
            size_t left = strlen(v);
            do {
                size_t take = left > COAPM_TKNS_CHUNK ? COAPM_TKNS_CHUNK : left;
                struct buf q;
                buf_init(&q);
                buf_printf(&q, "%s=%.*s%s", coap_params[i].qry, (int)take, v, take < left ? "~" : "");
                coap_add_option(pdu, COAP_OPTION_URI_QUERY, q.len, (const uint8_t *)q.p);
                buf_free(&q);
                v += take;
                left -= take;
            } while (left > 0);
        }
    if (n->op == OP_CREATE)
        coap_add_option(pdu, COAPM_OPT_TY, coap_uint_encode((uint32_t)n->ty, b4), b4);
    char rqi[64];
    if (n->rqi == NULL) {
        snprintf(rqi, sizeof rqi, "coap-%llx-%x", (unsigned long long)clock_mono_us(), (unsigned)(uintptr_t)n & 0xffff);
        n->rqi = mem_strdup(rqi);
    }
    too_long |= strlen(n->rvi) > COAP_OPT_VALUE_MAX || strlen(n->originator) > COAP_OPT_VALUE_MAX ||
                strlen(n->rqi) > COAP_OPT_VALUE_MAX;
    coap_add_option(pdu, COAPM_OPT_RVI, strlen(n->rvi), (const uint8_t *)n->rvi);
    coap_add_option(pdu, COAPM_OPT_FR, strlen(n->originator), (const uint8_t *)n->originator);
    coap_add_option(pdu, COAPM_OPT_RQI, strlen(n->rqi), (const uint8_t *)n->rqi);
    for (size_t i = 0; i < NCOAP_PARAMS; i++)
        if (n->param[i] != NULL && coap_params[i].opt != COAP_OPTION_URI_QUERY) {
            too_long |= strlen(n->param[i]) > COAP_OPT_VALUE_MAX;
            coap_add_option(pdu, coap_params[i].opt, strlen(n->param[i]), (const uint8_t *)n->param[i]);
        }
    if (too_long) {
        coap_delete_pdu(pdu);
        LOG(cb->cse->log, LOG_WARN,
            "coap: %s to %s not sent: a parameter is longer than the %d bytes a CoAP option holds (RFC 7252 "
            "§5.10, TS-0008 §6.2.2): 4000",
            op_name(n->op), n->uri, COAP_OPT_VALUE_MAX);
        n->unsendable = true;
        note_finish(n, RSC_BAD_REQUEST);
        return;
    }
    if (n->len)
        coap_add_data_large_request(n->session, pdu, n->len, (const uint8_t *)n->body, NULL, NULL);
    if (coap_send(n->session, pdu) == COAP_INVALID_MID)
        note_finish(n, RSC_TARGET_NOT_REACHABLE);
}

/* The response parameters of out_response (TS-0008 §6.2.2.4.13-15 oneM2M-CTO, -CTS, -ATI) and the
 * address of a created resource (§6.2.3 Location-Path), from an answer. */
static void read_response_options(struct coap_note *n, const coap_pdu_t *received)
{
    coap_opt_iterator_t it;
    coap_opt_t *o;
    uint32_t v;
    if ((o = coap_check_option(received, COAPM_OPT_CTS, &it)) != NULL &&
        coap_uint_decode(coap_opt_value(o), coap_opt_length(o), &v) && v <= 2)
        n->cnst = (int)v;
    if ((o = coap_check_option(received, COAPM_OPT_CTO, &it)) != NULL &&
        coap_uint_decode(coap_opt_value(o), coap_opt_length(o), &v) && v <= 1000000000)
        n->cnot = (long)v;
    if ((o = coap_check_option(received, COAPM_OPT_ATI, &it)) != NULL &&
        memchr(coap_opt_value(o), '\0', coap_opt_length(o)) == NULL)
        n->ati = mem_strndup((const char *)coap_opt_value(o), coap_opt_length(o));
    struct buf loc;
    buf_init(&loc);
    coap_option_iterator_init(received, &it, COAP_OPT_ALL);
    while ((o = coap_option_next(&it)) != NULL)
        if (it.number == COAP_OPTION_LOCATION_PATH && memchr(coap_opt_value(o), '\0', coap_opt_length(o)) == NULL &&
            loc.len + coap_opt_length(o) < LIMIT_ID_LEN) {
            if (loc.len)
                buf_putc(&loc, '/');
            buf_append(&loc, (const char *)coap_opt_value(o), coap_opt_length(o));
        }
    n->rloc = loc.len ? buf_take(&loc, NULL) : NULL;
    buf_free(&loc);
}

static coap_response_t on_response(coap_session_t *session, const coap_pdu_t *sent, const coap_pdu_t *received,
                                   const coap_mid_t mid)
{
    (void)sent, (void)mid;
    struct coap_binding *cb = binding_of(session);
    struct coap_note *n =
        coap_session_get_type(session) == COAP_SESSION_TYPE_CLIENT ? coap_session_get_app_data(session) : NULL;
    if (cb == NULL || n == NULL)
        return COAP_RESPONSE_OK;
    coap_pdu_code_t code = coap_pdu_get_code(received);
    int rsc = (code >> 5) == 2 ? RSC_OK : RSC_TARGET_NOT_REACHABLE;
    coap_opt_iterator_t it;
    coap_opt_t *o = coap_check_option(received, COAPM_OPT_RSC, &it);
    uint32_t v;
    if (o && coap_uint_decode(coap_opt_value(o), coap_opt_length(o), &v))
        rsc = (int)v;
    if (n->finished)
        return COAP_RESPONSE_OK;
    /* the receiver's answer: its RSC (TS-0008 §6.2.4 oneM2M-RSC) and its Content, one Block2 block
     * at a time (RFC 7959 §2.4; libcoap asks for the next one), appended in order up to max_answer:
     * beyond, the answer is truncated and the transfer cut (reap_notes) */
    if (o != NULL) {      /* on the first block at least; the last one may not repeat it */
        if (!n->answered) /* the response parameters and Location-Path: read once, from the first */
            read_response_options(n, received);
        n->answered = true;
        n->rsc = rsc;
    }
    size_t len = 0, offset = 0, total = 0;
    const uint8_t *data = NULL;
    coap_opt_t *b2 = coap_check_option(received, COAP_OPTION_BLOCK2, &it);
    bool more = b2 != NULL && COAP_OPT_BLOCK_MORE(b2);
    if (n->answered && n->max_answer > 0 && coap_get_data_large(received, &len, &data, &offset, &total) && len > 0) {
        if (offset == 0) /* the first block, or the first again (the peer's ETag changed: libcoap restarts) */
            n->rlen = 0;
        if (offset != n->rlen || offset + len > n->max_answer) {
            n->truncated = true;
        } else {
            n->rbody = mem_realloc(n->rbody, n->rlen + len + 1);
            memcpy(n->rbody + n->rlen, data, len);
            n->rlen += len;
            n->rbody[n->rlen] = '\0';
        }
    }
    /* the last block, or nothing more wanted (no Content asked for, or too much of it) */
    if (!more || n->truncated || n->max_answer == 0 || !n->answered) {
        n->cut = more;
        note_finish(n, n->answered ? n->rsc : rsc);
    }
    return COAP_RESPONSE_OK;
}

static void on_nack(coap_session_t *session, const coap_pdu_t *sent, const coap_nack_reason_t reason,
                    const coap_mid_t mid)
{
    (void)sent, (void)reason, (void)mid;
    struct coap_binding *cb = binding_of(session);
    struct coap_note *n =
        coap_session_get_type(session) == COAP_SESSION_TYPE_CLIENT ? coap_session_get_app_data(session) : NULL;
    if (cb && n)
        note_finish(n, RSC_TARGET_NOT_REACHABLE);
}

/* Report finished (and timed-out) notifications, release their sessions. */
static void reap_notes(struct coap_binding *cb, bool all)
{
    int64_t now = clock_mono_us();
    struct coap_note **pp = &cb->flight;
    while (*pp) {
        struct coap_note *n = *pp;
        if (!n->finished && (all || now > n->deadline_us)) {
            n->cut = true;
            note_finish(n, RSC_TARGET_NOT_REACHABLE);
        }
        if (!n->finished) {
            pp = &n->next;
            continue;
        }
        *pp = n->next;
        if (n->session) {
            coap_session_set_app_data(n->session, NULL);
            /* a transfer still running (Block2 blocks libcoap keeps asking for): its queued requests
             * go, so the session is freed now rather than when the peer stops answering */
            if (n->cut)
                coap_session_disconnected(n->session, COAP_NACK_RST);
            coap_session_release(n->session);
        }
        /* http_status: for an answer, the HTTP status its RSC maps to, so that "the receiver
         * answered" reads the same for every client side (outbound.h) */
        struct out_response res = {.rsc = n->rsc,
                                   .http_status = n->answered ? (int)http_status_of(n->rsc) : 0,
                                   .attempts = 1,
                                   .body = n->rbody,
                                   .len = n->rlen,
                                   .truncated = n->truncated,
                                   .location = n->rloc,
                                   .cnst = n->cnst,
                                   .cnot = n->cnot,
                                   .ati = n->ati,
                                   .unsendable = n->unsendable ? "a parameter is longer than the 255 bytes a CoAP "
                                                                 "option holds (RFC 7252 §5.10, TS-0008 §6.2.2)"
                                                               : NULL};
        if (n->done)
            n->done(n->done_arg, &res);
        pthread_mutex_lock(&cb->lock);
        cb->nout--;
        pthread_mutex_unlock(&cb->lock);
        note_free(n);
    }
}

static bool start_notes(struct coap_binding *cb)
{
    pthread_mutex_lock(&cb->lock);
    struct coap_note *n = cb->out_head;
    cb->out_head = cb->out_tail = NULL;
    pthread_mutex_unlock(&cb->lock);
    bool any = n != NULL;
    while (n) {
        struct coap_note *next = n->next;
        note_start(cb, n);
        n = next;
    }
    return any;
}

/* Sessions whose credential was revoked: closed once their 4106 went out. */
static void drop_revoked(struct coap_binding *cb)
{
    coap_session_t *drop[16];
    size_t nd = 0;
    for (struct coap_peer *p = cb->peers; p && nd < sizeof drop / sizeof drop[0]; p = p->next)
        if (p->drop && p->session) {
            p->drop = false;
            drop[nd++] = p->session;
        }
    for (size_t i = 0; i < nd; i++)
        coap_session_disconnected(drop[i], COAP_NACK_TLS_FAILED);
}

/* ---- the CoAP thread ---- */

/* One round of the CoAP thread's loop: wait up to max_ms for a datagram or a hand-over, then
 * libcoap's I/O, the completions, the notifications and the expiry of block-wise transfers.
 * false when poll() failed. */
static bool loop_once(struct coap_binding *cb, unsigned max_ms)
{
    coap_tick_t now;
    coap_ticks(&now);
    unsigned ms = coap_io_prepare_epoll(cb->ctx, now);
    if (ms == 0 || ms > max_ms)
        ms = max_ms;
    struct pollfd pfd[2] = {{.fd = coap_context_get_coap_fd(cb->ctx), .events = POLLIN},
                            {.fd = cb->evfd, .events = POLLIN}};
    if (poll(pfd, 2, (int)ms) < 0 && errno != EINTR)
        return false;
    if (pfd[1].revents & POLLIN) {
        uint64_t v;
        ssize_t r = read(cb->evfd, &v, sizeof v);
        (void)r;
    }
    coap_io_process(cb->ctx, COAP_IO_NO_WAIT);
    hook_sessions(cb);
    bool more = run_completions(cb, false);
    more |= start_notes(cb);
    if (more) {
        coap_io_process(cb->ctx, COAP_IO_NO_WAIT);
        hook_sessions(cb);
    }
    reap_notes(cb, false);
    drop_revoked(cb);
    bw_expire(cb->bw, clock_mono_us());
    return true;
}

static void *coap_loop(void *arg)
{
    struct coap_binding *cb = arg;
    for (;;) {
        pthread_mutex_lock(&cb->lock);
        bool exit = cb->exit;
        pthread_mutex_unlock(&cb->lock);
        if (exit || !loop_once(cb, 100))
            break;
    }
    return NULL;
}

static int listen_on(struct coap_binding *cb, const char *key, const char *address, long port, coap_proto_t proto,
                     char *err, size_t errlen)
{
    coap_address_t a;
    coap_address_init(&a);
    const char *addr = strcmp(address, "localhost") == 0 ? "127.0.0.1" : address;
    if (inet_pton(AF_INET, addr, &a.addr.sin.sin_addr) == 1) {
        a.addr.sin.sin_family = AF_INET;
        a.addr.sin.sin_port = htons((uint16_t)port);
        a.size = sizeof a.addr.sin;
    } else if (inet_pton(AF_INET6, addr, &a.addr.sin6.sin6_addr) == 1) {
        a.addr.sin6.sin6_family = AF_INET6;
        a.addr.sin6.sin6_port = htons((uint16_t)port);
        a.size = sizeof a.addr.sin6;
    } else {
        snprintf(err, errlen, "%s.address: '%s' is not an IPv4 or IPv6 address", key, address);
        return -1;
    }
    /* libcoap binds with SO_REUSEADDR, which for UDP lets a second process share the port (and
     * receive part of the datagrams): a port someone else holds is refused here (finding 21) */
    int e = listen_probe(&a.addr.sa, a.size, SOCK_DGRAM);
    if (e != 0) {
        listen_error(err, errlen, key, address, port, e);
        return -1;
    }
    if (coap_new_endpoint(cb->ctx, &a, proto) == NULL) {
        snprintf(err, errlen, "%s: cannot listen on %s port %ld (in use or not permitted)", key, address, port);
        return -1;
    }
    return 0;
}

static int setup_dtls(struct coap_binding *cb, char *err, size_t errlen)
{
    const struct cse_config *cfg = cb->cse->cfg;
    if (!coap_dtls_is_supported()) {
        snprintf(err, errlen, "coaps: libcoap was built without DTLS");
        return -1;
    }
    if (cb->cse->creds == NULL) {
        snprintf(err, errlen, "coaps: DTLS needs the credential store");
        return -1;
    }
    struct tlsauth_env env = {.cfg = cfg,
                              .idenv = &cb->cse->idenv,
                              .creds = cb->cse->creds,
                              .audit = cb->cse->audit,
                              .log = cb->cse->log,
                              .metrics = cb->cse->metrics};
    if ((cb->tls = tlsauth_new(&env, err, errlen)) == NULL)
        return -1;
    coap_dtls_spsk_t psk;
    memset(&psk, 0, sizeof psk);
    psk.version = COAP_DTLS_SPSK_SETUP_VERSION;
    psk.validate_id_call_back = psk_lookup;
    psk.id_call_back_arg = cb;
    if (!coap_context_set_psk2(cb->ctx, &psk)) {
        snprintf(err, errlen, "coaps: libcoap refused the PSK setup");
        return -1;
    }
    if (cfg->tls_cert[0] == '\0')
        return 0;
    /* certificates: the chain is checked by libcoap/GnuTLS against tls.ca, the rest by tlsauth; a
     * client certificate is optional (without one: no security association) */
    coap_dtls_pki_t pki;
    memset(&pki, 0, sizeof pki);
    pki.version = COAP_DTLS_PKI_SETUP_VERSION;
    pki.verify_peer_cert = cfg->tls_ca[0] != '\0';
    pki.check_common_ca = 1;
    pki.cert_chain_validation = 1;
    pki.cert_chain_verify_depth = 3;
    pki.check_cert_revocation = cfg->tls_crl[0] != '\0';
    pki.allow_no_crl = 1;
    pki.validate_cn_call_back = cert_check;
    pki.cn_call_back_arg = cb;
    pki.pki_key.key_type = COAP_PKI_KEY_PEM;
    pki.pki_key.key.pem.public_cert = cfg->tls_cert;
    pki.pki_key.key.pem.private_key = cfg->tls_key;
    pki.pki_key.key.pem.ca_file = cfg->tls_ca[0] ? cfg->tls_ca : NULL;
    if (!coap_context_set_pki(cb->ctx, &pki)) {
        snprintf(err, errlen, "coaps: libcoap refused tls.cert/tls.key/tls.ca (%s, %s)", cfg->tls_cert, cfg->tls_key);
        return -1;
    }
    return 0;
}

static void coap_stop(struct binding *b);

/* libcoap's own log is process-wide; keep it quiet unless debugging. */
static void quiet_libcoap(struct cse *cse)
{
    coap_set_log_level(LOG_ON(cse->log, LOG_DEBUG) ? LOG_WARNING : LOG_EMERG);
    coap_dtls_set_log_level(LOG_ON(cse->log, LOG_DEBUG) ? LOG_WARNING : LOG_EMERG);
}

/* threaded: the server's binding (coap.* and coaps.* from the configuration, its own thread);
 * otherwise the fuzzer's: plain CoAP on 127.0.0.1:polled_port, driven by coap_binding_poll(). */
static struct binding *start(struct cse *cse, bool threaded, long polled_port, char *err, size_t errlen)
{
    const struct cse_config *cfg = cse->cfg;
    struct coap_binding *cb = mem_calloc(1, sizeof *cb);
    cb->cse = cse;
    cb->evfd = -1;
    pthread_mutex_init(&cb->lock, NULL);
    coap_startup();
    quiet_libcoap(cse);
    if ((cb->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
        snprintf(err, errlen, "coap: eventfd: %s", strerror(errno));
        goto fail;
    }
    if ((cb->ctx = coap_new_context(NULL)) == NULL) {
        snprintf(err, errlen, "coap: cannot create the CoAP context");
        goto fail;
    }
    coap_set_app_data(cb->ctx, cb);
    /* No libcoap block-wise handling on server sessions: its Block1 reassembly (4.3.1,
     * COAP_BLOCK_SINGLE_BODY) dereferences NULL on two empty blocks (issue 12 finding 1) and the
     * same flag drives its Block2 serving, so both are Warden's (coap_blockwise.c). Sessions copy
     * the context's mode when created; note_start() turns it on around its client sessions. */
    coap_context_set_block_mode(cb->ctx, 0);
    struct bw_limits bl = {
        .max_body = (size_t)cfg->limits_max_body,
        .per_peer = (size_t)cfg->coap_block_transfers,
        .timeout_us = (int64_t)cfg->coap_block_timeout * 1000,
        .total = LIMIT_COAP_BLOCK_TRANSFERS,
        .total_bytes = LIMIT_COAP_BLOCK_BYTES,
    };
    cb->bw = bw_new(&bl);
    coap_context_set_max_idle_sessions(cb->ctx, 1000);
    coap_optfilter_register(cb->ctx);
    coap_register_event_handler(cb->ctx, on_event);
    coap_register_response_handler(cb->ctx, on_response);
    coap_register_nack_handler(cb->ctx, on_nack);
    coap_resource_t *r = coap_resource_unknown_init2(handle, 0);
    coap_register_request_handler(r, COAP_REQUEST_GET, handle);
    coap_register_request_handler(r, COAP_REQUEST_POST, handle);
    coap_register_request_handler(r, COAP_REQUEST_DELETE, handle);
    /* methods oneM2M does not use: answered 4.05 with oneM2M-RSC 4005 by the mapping (libcoap alone
     * says 4.04 Not Found, which names the wrong problem) */
    coap_register_request_handler(r, COAP_REQUEST_FETCH, handle);
    coap_register_request_handler(r, COAP_REQUEST_PATCH, handle);
    coap_register_request_handler(r, COAP_REQUEST_IPATCH, handle);
    coap_add_resource(cb->ctx, r);
    if (!threaded) {
        if (listen_on(cb, "coap", "127.0.0.1", polled_port, COAP_PROTO_UDP, err, errlen) != 0)
            goto fail;
        return (struct binding *)cb;
    }
    if (cfg->coaps_port && setup_dtls(cb, err, errlen) != 0)
        goto fail;
    if ((cfg->coap_port &&
         listen_on(cb, "coap", cfg->coap_address, cfg->coap_port, COAP_PROTO_UDP, err, errlen) != 0) ||
        (cfg->coaps_port &&
         listen_on(cb, "coaps", cfg->coaps_address, cfg->coaps_port, COAP_PROTO_DTLS, err, errlen) != 0))
        goto fail;
    cb->accepting_notes = true;
    if (cse->outbound) {
        struct out_client_ops t = {.scheme = "coap", .allowed = note_allowed, .send = note_send, .arg = cb};
        cb->transport_added = outbound_register(cse->outbound, &t) == 0;
        t.scheme = "coaps"; /* DTLS client sessions need no coaps listener: only libcoap's DTLS */
        cb->dtls_added = coap_dtls_is_supported() && outbound_register(cse->outbound, &t) == 0;
    }
    if (pthread_create(&cb->thread, NULL, coap_loop, cb) != 0) {
        snprintf(err, errlen, "coap: cannot start the CoAP thread");
        goto fail;
    }
    cb->thread_started = true;
    return (struct binding *)cb;
fail:
    coap_stop((struct binding *)cb);
    return NULL;
}

static struct binding *coap_start(struct cse *cse, char *err, size_t errlen)
{
    return start(cse, true, 0, err, errlen);
}

struct binding *coap_binding_start_polled(struct cse *cse, long port, char *err, size_t errlen)
{
    return start(cse, false, port, err, errlen);
}

void coap_binding_poll(struct binding *b, unsigned max_ms)
{
    (void)loop_once((struct coap_binding *)b, max_ms);
}

static void coap_quiesce(struct binding *b)
{
    atomic_store(&((struct coap_binding *)b)->stopping, true);
}

static int coap_inflight(struct binding *b)
{
    return atomic_load(&((struct coap_binding *)b)->inflight);
}

static void coap_stop(struct binding *b)
{
    struct coap_binding *cb = (struct coap_binding *)b;
    if (cb->transport_added)
        outbound_unregister(cb->cse->outbound, "coap");
    if (cb->dtls_added)
        outbound_unregister(cb->cse->outbound, "coaps");
    pthread_mutex_lock(&cb->lock);
    cb->accepting_notes = false;
    cb->exit = true;
    pthread_mutex_unlock(&cb->lock);
    if (cb->thread_started) {
        wake(cb);
        pthread_join(cb->thread, NULL);
    }
    if (cb->ctx) {
        /* notifications not yet started or still in flight are reported as not delivered */
        start_notes(cb);
        reap_notes(cb, true);
        run_completions(cb, true); /* parked requests whose commit came after the drain */
        /* the context frees its sessions, with or without SERVER_SESSION_DEL: detach the peers first */
        for (struct coap_peer *p = cb->peers; p; p = p->next)
            if (p->session) {
                coap_session_set_app_data(p->session, NULL);
                p->session = NULL;
            }
        coap_free_context(cb->ctx);
    }
    while (cb->peers)
        peer_free(cb, cb->peers);
    tlsauth_free(cb->tls);
    bw_free(cb->bw);
    if (cb->evfd >= 0)
        close(cb->evfd);
    pthread_mutex_destroy(&cb->lock);
    mem_free(cb);
}

static bool coap_enabled(const struct cse_config *cfg)
{
    return cfg->coap_port != 0 || cfg->coaps_port != 0;
}

const struct binding_ops coap_binding_ops = {
    .name = "coap",
    .enabled = coap_enabled,
    .start = coap_start,
    .quiesce = coap_quiesce,
    .inflight = coap_inflight,
    .stop = coap_stop,
};
