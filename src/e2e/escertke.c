/* escertke: the ESCertKE engine over memory buffers (see escertke.h). */
#include "e2e/escertke.h"

#include <errno.h>
#include <stdarg.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <string.h>

#include "core/id.h"
#include "core/limits.h"
#include "security/cred.h"
#include "security/e2e_keys.h"
#include "security/tlsauth.h"
#include "util/mem.h"

/* TS-0003 §8.7.2.2 C.1: the ciphersuites of §10.2.3 (certificate-based frameworks): TLS 1.2 only
 * (the clause names TLS v1.2), ECDHE key exchange signed with ECDSA only, the mandatory
 * TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 among AEAD suites, P-256 (TS-0003 §10.1), no session
 * tickets (the handshake must end with Message 4, not a NewSessionTicket). */
static const char prio_escertke[] = "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+ECDHE-ECDSA:-CIPHER-ALL:+AES-128-GCM:"
                                    "+AES-256-GCM:+AES-128-CBC:-MAC-ALL:+AEAD:+SHA256:-CURVE-ALL:+CURVE-SECP256R1:"
                                    "-SIGN-ALL:+SIGN-ECDSA-SHA256:+SIGN-ECDSA-SECP256R1-SHA256:%NO_TICKETS";

struct escertke {
    gnutls_session_t s;
    gnutls_certificate_credentials_t cred; /* the initiator's own (the terminator uses tlsauth's) */
    gnutls_priority_t prio;
    bool initiator;
    int state; /* 0 running, 1 done, -1 failed */
    int steps; /* messages fed */
    /* the transport: the peer's message being read, the flight being written */
    const unsigned char *in;
    size_t in_len, in_off;
    unsigned char *out;
    size_t out_len, out_cap;
    bool out_overflow;
    /* the peer's certificate */
    struct tls_peer peer; /* terminator: filled by tlsauth's checks */
    const struct id_env *idenv;
    char expect[LIMIT_ID_LEN + 1];
    char idbuf[CRED_BINDING_MAX + 1];
    const char *ids[SECCTX_MAX_IDS];
    int nids;
    /* the outcome */
    unsigned char exported[ESCERTKE_EXPORT_LEN];
    const char *reason;
    bool auth_failure;
    char err[200];
};

static ssize_t pull(gnutls_transport_ptr_t ptr, void *data, size_t len)
{
    struct escertke *k = ptr;
    if (k->in_off >= k->in_len) {
        gnutls_transport_set_errno(k->s, EAGAIN);
        return -1;
    }
    size_t n = k->in_len - k->in_off < len ? k->in_len - k->in_off : len;
    memcpy(data, k->in + k->in_off, n);
    k->in_off += n;
    return (ssize_t)n;
}

static ssize_t push(gnutls_transport_ptr_t ptr, const void *data, size_t len)
{
    struct escertke *k = ptr;
    if (k->out_len + len > LIMIT_ESCERTKE_MSG) {
        k->out_overflow = true;
        gnutls_transport_set_errno(k->s, EMSGSIZE);
        return -1;
    }
    if (k->out_len + len > k->out_cap) {
        size_t cap = k->out_cap ? k->out_cap : 2048;
        while (cap < k->out_len + len)
            cap *= 2;
        k->out = mem_realloc(k->out, cap);
        k->out_cap = cap;
    }
    memcpy(k->out + k->out_len, data, len);
    k->out_len += len;
    return (ssize_t)len;
}

__attribute__((format(printf, 4, 5))) static int fail(struct escertke *k, const char *reason, bool auth,
                                                      const char *fmt, ...)
{
    k->state = -1;
    if (k->reason == NULL) { /* the first cause stands */
        k->reason = reason;
        k->auth_failure = auth;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(k->err, sizeof k->err, fmt, ap);
        va_end(ap);
    }
    return ESCERTKE_FAIL;
}

/* Does a canonical ID match what the initiator expects: the same absolute ID, or the same SP-relative
 * ID under any SP-ID ("/id-in" for "//sp/id-in")? */
static bool id_matches(const char *expect, const char *canon)
{
    if (strncmp(expect, "//", 2) == 0)
        return strcmp(expect, canon) == 0;
    const char *rel = strncmp(canon, "//", 2) == 0 ? strchr(canon + 2, '/') : NULL;
    return rel != NULL && strcmp(rel, expect) == 0;
}

/* The initiator's check of the terminator's certificate, inside the handshake before Message 3 is
 * written: path to the trust anchors, the TS-0003 §10.1 profile, the expected identity. */
static int verify_terminator(gnutls_session_t s)
{
    struct escertke *k = gnutls_session_get_ptr(s);
    unsigned status = 0;
    if (gnutls_certificate_verify_peers3(s, NULL, &status) < 0 || status != 0) {
        fail(k, tlsauth_status_reason(status), true, "the terminator's certificate is not trusted (%s)",
             tlsauth_status_reason(status));
        return -1;
    }
    unsigned n = 0;
    const gnutls_datum_t *chain = gnutls_certificate_get_peers(s, &n);
    gnutls_x509_crt_t crt;
    if (chain == NULL || n == 0 || gnutls_x509_crt_init(&crt) < 0) {
        fail(k, "cert-untrusted", true, "the terminator sent no certificate");
        return -1;
    }
    const char *why = NULL;
    if (gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER) < 0)
        why = "cert-untrusted";
    else if ((why = tlsauth_leaf_profile(crt)) == NULL) {
        k->nids = tlsauth_leaf_identities(k->idenv, crt, k->idbuf, sizeof k->idbuf, k->ids, SECCTX_MAX_IDS);
        why = k->nids ? NULL : "cert-no-identity";
    }
    gnutls_x509_crt_deinit(crt);
    if (why != NULL) {
        k->nids = 0;
        fail(k, why, true, "the terminator's certificate is refused (%s)", why);
        return -1;
    }
    for (int i = 0; i < k->nids; i++)
        if (id_matches(k->expect, k->ids[i]))
            return 0;
    fail(k, "escertke-wrong-peer", true, "the terminator's certificate does not name %s", k->expect);
    k->nids = 0;
    return -1;
}

static struct escertke *new_common(bool initiator, char *err, size_t errlen)
{
    struct escertke *k = mem_calloc(1, sizeof *k);
    k->initiator = initiator;
    const char *pos = NULL;
    if (gnutls_init(&k->s, (initiator ? GNUTLS_CLIENT : GNUTLS_SERVER) | GNUTLS_NONBLOCK | GNUTLS_NO_TICKETS) < 0 ||
        gnutls_priority_init(&k->prio, prio_escertke, &pos) < 0) {
        snprintf(err, errlen, "ESCertKE: cannot set up the TLS engine (near '%.24s')", pos ? pos : "?");
        escertke_free(k);
        return NULL;
    }
    gnutls_transport_set_ptr(k->s, k);
    gnutls_transport_set_pull_function(k->s, pull);
    gnutls_transport_set_push_function(k->s, push);
    /* a lost or delayed NOTIFY is the transport's business: the handshake itself never times out here */
    gnutls_handshake_set_timeout(k->s, GNUTLS_INDEFINITE_TIMEOUT);
    return k;
}

struct escertke *escertke_new_initiator(const struct escertke_initiator_cfg *cfg, char *err, size_t errlen)
{
    if (cfg->expect == NULL || cfg->expect[0] != '/' || strlen(cfg->expect) > LIMIT_ID_LEN) {
        snprintf(err, errlen, "ESCertKE: the terminator's identity must be a CSE-ID or AE-ID ('/id-in', '//sp/id-in')");
        return NULL;
    }
    struct escertke *k = new_common(true, err, errlen);
    if (k == NULL)
        return NULL;
    k->idenv = cfg->idenv;
    snprintf(k->expect, sizeof k->expect, "%s", cfg->expect);
    int rc = gnutls_certificate_allocate_credentials(&k->cred);
    if (rc >= 0)
        rc = gnutls_certificate_set_x509_key_file(k->cred, cfg->cert, cfg->key, GNUTLS_X509_FMT_PEM);
    if (rc < 0) {
        snprintf(err, errlen, "ESCertKE: certificate %s / key %s: %s", cfg->cert, cfg->key, gnutls_strerror(rc));
        escertke_free(k);
        return NULL;
    }
    rc = gnutls_certificate_set_x509_trust_file(k->cred, cfg->ca, GNUTLS_X509_FMT_PEM);
    if (rc <= 0) {
        snprintf(err, errlen, "ESCertKE: trust anchors %s: %s", cfg->ca, rc < 0 ? gnutls_strerror(rc) : "none");
        escertke_free(k);
        return NULL;
    }
    gnutls_session_set_ptr(k->s, k);
    gnutls_session_set_verify_function(k->s, verify_terminator);
    gnutls_credentials_set(k->s, GNUTLS_CRD_CERTIFICATE, k->cred);
    gnutls_priority_set(k->s, k->prio);
    return k;
}

struct escertke *escertke_new_terminator(struct tlsauth *ta, const char *peer, char *err, size_t errlen)
{
    struct escertke *k = new_common(false, err, errlen);
    if (k == NULL)
        return NULL;
    k->peer.kind = TLS_KIND_CERT;
    k->peer.binding = "escertke";
    snprintf(k->peer.peer, sizeof k->peer.peer, "%s", peer ? peer : "-");
    /* the TLS listeners' credentials and checks of the client's certificate (tlsauth.c), then this
     * exchange's own profile: §10.2.3 suites only, and a certificate is required, not asked for */
    tlsauth_session_init(ta, k->s, &k->peer);
    gnutls_priority_set(k->s, k->prio);
    gnutls_certificate_server_set_request(k->s, GNUTLS_CERT_REQUIRE);
    /* no list of acceptable CAs in the CertificateRequest: the initiator sends its certificate
     * whatever its issuer, so that a refusal names the reason (cert-untrusted) in the audit log */
    gnutls_certificate_send_x509_rdn_sequence(k->s, 1);
    gnutls_transport_set_ptr(k->s, k); /* tlsauth set the session pointer, not the transport's */
    return k;
}

/* Why a handshake error happened, for the terminator and the initiator alike. */
static int handshake_failed(struct escertke *k, int rc)
{
    if (!k->initiator && k->peer.fail != NULL)
        return fail(k, k->peer.fail, true, "the initiator's certificate is refused (%s)", k->peer.fail);
    if (k->out_overflow)
        return fail(k, "escertke-too-large", false, "an ESCertKE Message would exceed %d bytes", LIMIT_ESCERTKE_MSG);
    switch (rc) {
    case GNUTLS_E_NO_CERTIFICATE_FOUND:
    case GNUTLS_E_CERTIFICATE_REQUIRED:
        return fail(k, "escertke-no-certificate", true, "the peer presented no certificate");
    case GNUTLS_E_CERTIFICATE_ERROR:
    case GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR:
    case GNUTLS_E_PK_SIG_VERIFY_FAILED:
    case GNUTLS_E_INSUFFICIENT_CREDENTIALS:
    case GNUTLS_E_NO_CIPHER_SUITES:
    case GNUTLS_E_UNWANTED_ALGORITHM: /* a credential that cannot sign with ECDSA P-256 */
    case GNUTLS_E_UNKNOWN_CIPHER_SUITE:
        return fail(k, "escertke-handshake", true, "TLS handshake refused: %s", gnutls_strerror(rc));
    default: return fail(k, "escertke-bad-message", false, "TLS handshake failed: %s", gnutls_strerror(rc));
    }
}

enum escertke_rc escertke_step(struct escertke *k, const unsigned char *in, size_t len, const unsigned char **out,
                               size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    if (k->state != 0)
        return k->state < 0 ? ESCERTKE_FAIL : fail(k, "escertke-bad-message", false, "the key establishment has ended");
    /* the initiator starts with nothing; every other step needs the peer's message */
    if ((in == NULL || len == 0) != (k->initiator && k->steps == 0))
        return fail(k, "escertke-bad-message", false, "%s",
                    in ? "an unexpected ESCertKE Message" : "an empty ESCertKE Message");
    if (len > LIMIT_ESCERTKE_MSG)
        return fail(k, "escertke-too-large", false, "an ESCertKE Message is at most %d bytes", LIMIT_ESCERTKE_MSG);
    /* two messages each way (TS-0003 Table 8.7.2.2-1): the initiator's start and two steps, the
     * terminator's two steps */
    if (k->steps >= (k->initiator ? 3 : 2))
        return fail(k, "escertke-bad-message", false, "more ESCertKE Messages than the procedure has");
    k->steps++;
    k->in = in;
    k->in_len = len;
    k->in_off = 0;
    k->out_len = 0;
    int rc;
    do
        rc = gnutls_handshake(k->s);
    while (rc == GNUTLS_E_INTERRUPTED || (rc == GNUTLS_E_AGAIN && k->in_off < k->in_len));
    k->in = NULL;
    if (rc < 0 && rc != GNUTLS_E_AGAIN)
        return handshake_failed(k, rc);
    if (k->in_off < k->in_len) /* bytes after the flight */
        return fail(k, "escertke-bad-message", false, "trailing bytes after the TLS flight");
    *out = k->out;
    *outlen = k->out_len;
    if (rc == GNUTLS_E_AGAIN) {
        /* waiting for the peer: only right once this side has written its flight; waiting without
         * having written means the peer's message was incomplete */
        if (k->out_len == 0)
            return fail(k, "escertke-bad-message", false, "an incomplete ESCertKE Message (truncated flight)");
        return ESCERTKE_CONTINUE;
    }
    /* done: TLS 1.2 with a certificate on both sides, as TS-0003 §8.7.2.2 requires */
    if (gnutls_protocol_get_version(k->s) != GNUTLS_TLS1_2 || gnutls_kx_get(k->s) != GNUTLS_KX_ECDHE_ECDSA)
        return fail(k, "escertke-handshake", true, "the handshake did not use TLS 1.2 ECDHE-ECDSA");
    if (!k->initiator) {
        if (!k->peer.cert_ok || k->peer.nids == 0 || k->peer.revoked)
            return fail(k, k->peer.fail ? k->peer.fail : "cert-untrusted", true,
                        "the initiator's certificate was not verified");
    } else if (k->nids == 0) {
        return fail(k, "cert-untrusted", true, "the terminator's certificate was not verified");
    }
    /* TS-0003 §10.3.1: RFC 5705 exporter, no context */
    rc = gnutls_prf_rfc5705(k->s, sizeof ESCERTKE_EXPORTER_LABEL - 1, ESCERTKE_EXPORTER_LABEL, 0, NULL,
                            sizeof k->exported, (char *)k->exported);
    if (rc < 0)
        return fail(k, "escertke-handshake", false, "TLS exporter: %s", gnutls_strerror(rc));
    k->state = 1;
    return ESCERTKE_DONE;
}

int escertke_result(const struct escertke *k, unsigned char key[ESCERTKE_KEY_LEN], char kid[ESCERTKE_KID_HEX_LEN + 1])
{
    if (k == NULL || k->state != 1)
        return -1;
    /* TS-0003 §10.3.1: pairwiseE2EKeyID = the 16 most significant bytes (first), pairwiseE2EKey = the
     * 32 least significant bytes (last) of the exporter's 48 */
    for (size_t i = 0; i < ESCERTKE_KEYID_LEN; i++)
        snprintf(kid + 2 * i, 3, "%02x", k->exported[i]);
    memcpy(key, k->exported + ESCERTKE_KEYID_LEN, ESCERTKE_KEY_LEN);
    return 0;
}

int escertke_peer_ids(const struct escertke *k, const char *const **ids)
{
    if (k->initiator) {
        *ids = k->ids;
        return k->nids;
    }
    *ids = k->peer.ids;
    return k->peer.cert_ok && !k->peer.revoked ? k->peer.nids : 0;
}

const char *escertke_error(const struct escertke *k)
{
    return k->err[0] ? k->err : "no error";
}

const char *escertke_reason(const struct escertke *k)
{
    return k->reason ? k->reason : "escertke-handshake";
}

bool escertke_failed_auth(const struct escertke *k)
{
    return k->auth_failure;
}

void escertke_free(struct escertke *k)
{
    if (k == NULL)
        return;
    if (k->s != NULL) {
        if (!k->initiator)
            tlsauth_close(&k->peer);
        gnutls_deinit(k->s);
    }
    if (k->cred != NULL)
        gnutls_certificate_free_credentials(k->cred);
    if (k->prio != NULL)
        gnutls_priority_deinit(k->prio);
    cred_wipe(k->exported, sizeof k->exported);
    if (k->out != NULL)
        cred_wipe(k->out, k->out_cap);
    mem_free(k->out);
    mem_free(k);
}

bool escertke_is_client_hello(const unsigned char *msg, size_t len)
{
    /* RFC 5246 §6.2.1 record header (type 22 handshake, version 3.x, length), §7.4 handshake type 1 */
    return len >= 6 && msg[0] == 22 && msg[1] == 3 && msg[5] == 1;
}

/* The kids of the live ESCertKE keys of one pair other than the new one (collected first: the store
 * is not changed while it lists). */
struct supersede {
    const struct e2e_key *k;
    char (*kids)[129];
    size_t n, cap;
};

static void supersede_one(void *arg, const struct e2e_key_info *info)
{
    struct supersede *sp = arg;
    const struct e2e_key *k = sp->k;
    if (info->source != E2E_KEY_ESCERTKE || info->revoked_s != 0 || strcmp(info->kid, k->kid) == 0)
        return;
    bool same = (strcmp(info->local_id, k->local_id) == 0 && strcmp(info->peer_id, k->peer_id) == 0) ||
                (strcmp(info->local_id, k->peer_id) == 0 && strcmp(info->peer_id, k->local_id) == 0);
    if (!same)
        return;
    if (sp->n == sp->cap) {
        size_t cap = sp->cap ? 2 * sp->cap : 4;
        sp->kids = mem_realloc(sp->kids, cap * sizeof *sp->kids);
        sp->cap = cap;
    }
    memcpy(sp->kids[sp->n++], info->kid, sizeof info->kid);
}

int escertke_key_store(struct cred_store *cs, struct e2e_key *k, long lifetime_s, int *superseded)
{
    if (superseded != NULL)
        *superseded = 0;
    k->expires_s = lifetime_s > 0 ? k->created_s + lifetime_s : 0;
    int rc = e2e_key_put(cs, k);
    if (rc != 0)
        return rc; /* nothing superseded: the earlier keys stay as they were */
    struct supersede sp = {.k = k};
    e2e_key_list(cs, supersede_one, &sp);
    int n = 0;
    for (size_t i = 0; i < sp.n; i++)
        if (e2e_key_revoke(cs, sp.kids[i]) == 0)
            n++;
    mem_free(sp.kids);
    if (superseded != NULL)
        *superseded = n;
    return 0;
}
