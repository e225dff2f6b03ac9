/* tlsauth: Security Association Establishment over TLS (TS-0003 §8.2.2.1 provisioned symmetric keys,
 * §8.2.2.2 certificates, §10.2 TLS profile) for any binding that runs GnuTLS sessions. It owns the
 * GnuTLS credentials and priorities, looks up PSKs in the credential store during the handshake,
 * verifies client certificates (path, validity, CRL, name constraints, revocation by serial, P-256,
 * keyUsage) and aborts the handshake on any failure, and turns a completed handshake into the
 * identities bound to the credential (struct tls_peer), which the binding copies into the request's
 * security context. Every success and failure goes to the audit log; no key is ever formatted. */
#ifndef WARDEN_SECURITY_TLSAUTH_H
#define WARDEN_SECURITY_TLSAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/request.h"
#include "security/cred.h"

struct tlsauth;
struct audit;
struct log;
struct cse_config;
struct id_env;

enum tls_kind { TLS_KIND_CERT = 0, TLS_KIND_PSK = 1 };

/* Per-connection state, from the TCP accept to the close. The binding allocates it (zeroed), fills
 * peer and binding, and hands it to tlsauth_session_init(). */
struct tls_peer {
    struct tlsauth *ta;
    enum tls_kind kind;
    char peer[64];       /* peer address as text */
    const char *binding; /* "https", "https-psk" */
    /* filled during the handshake */
    char kpsa_id[CRED_KPSAID_MAX + 1]; /* PSK identity found in the store */
    char serial[CRED_SERIAL_MAX + 1];  /* verified client certificate */
    unsigned char keyhash[32];         /* SHA-256 of the PSK the session was established with */
    const char *fail;                  /* audit reason of a handshake refusal, once recorded */
    bool psk_found, cert_ok;
    /* after the handshake */
    bool announced;                   /* authn-ok recorded */
    bool revoked;                     /* the credential was revoked while the connection was open */
    uint64_t gen;                     /* cred_generation() when ids were last read */
    char cred[CRED_KPSAID_MAX + 8];   /* "psk:<KpsaID>" / "cert:<serial>" */
    char idbuf[CRED_BINDING_MAX + 1]; /* bound IDs, ',' replaced by NUL */
    const char *ids[SECCTX_MAX_IDS];
    int nids;
};

struct tlsauth_env {
    const struct cse_config *cfg;
    const struct id_env *idenv;
    struct cred_store *creds;
    struct audit *audit; /* may be NULL */
    struct log *log;
    struct metrics *metrics; /* handshake refusals are counted here; may be NULL */
};

/* Build credentials and priorities for the listeners the configuration enables. NULL + err. */
struct tlsauth *tlsauth_new(const struct tlsauth_env *env, char *err, size_t errlen);
void tlsauth_free(struct tlsauth *ta);

/* The GnuTLS priority string of a listener (also given to the server library). */
const char *tlsauth_priority(enum tls_kind kind);

/* Attach Warden's credentials, priority, certificate request and verification to a server session
 * (a gnutls_session_t) before its handshake starts. */
void tlsauth_session_init(struct tlsauth *ta, void *gnutls_session, struct tls_peer *peer);

/* Before each request on the connection: re-read the credential when the store changed
 * (revocation, binding at registration) and fill sec. Returns 0,
 * or -1 when the credential no longer authenticates (revoked): answer 4106 and close. */
int tlsauth_request(struct tls_peer *peer, struct cse_secctx *sec);

/* At the close: a PSK handshake that found its identity but never completed is recorded as a
 * failure (wrong key). */
void tlsauth_close(struct tls_peer *peer);

/* For other TLS stacks (libcoap's DTLS): Warden's checks beyond path validation, which the stack
 * does against tls.ca, on the client certificate's DER: revocation by serial, P-256 key, keyUsage,
 * identity in subjectAltName. Fills p->serial, p->cred, p->ids/nids and sets p->cert_ok. Returns
 * NULL, or the refusal reason as the audit log names it ("cert-revoked", ...). */
const char *tlsauth_check_certificate(struct tlsauth *ta, const unsigned char *der, size_t len, struct tls_peer *p);

/* TS-0003 §8.1.2.2 path validation of the client's chain in a GnuTLS session (a gnutls_session_t)
 * against tls.ca (and tls.crl) for the client-auth purpose, with the CAs' name constraints applied to
 * the certificate's subjectAltName identities as RFC 5280 §4.2.1.10 says (a URI by its host part,
 * TS-0003 §10.1.1.5) and never to its subject CN; directoryName constraints and constraints on name
 * types Warden does not evaluate refuse the certificate. NULL when trusted, else the audit reason
 * ("cert-name-constraints", "cert-expired", ...) with detail filled. */
const char *tlsauth_verify_chain(struct tlsauth *ta, void *gnutls_session, char *detail, size_t dlen);

/* Does the URI's host satisfy one URI name constraint (RFC 5280 §4.2.1.10: "host.example" that host
 * only, ".example" any host below it; case-insensitive)? False for a URI without a DNS host. */
bool tlsauth_uri_constraint_matches(const char *constraint, const char *uri);

/* The audit reason for a GnuTLS certificate verification status (gnutls_certificate_status_t bits). */
const char *tlsauth_status_reason(unsigned status);

/* One audit line about p's authentication ("authn-ok", "authn-fail") with its credential and peer. */
void tlsauth_audit(struct tls_peer *p, const char *event, const char *reason, const char *detail);

/* Identity carried by a certificate's subjectAltName (TS-0003 §8.1.2, PRODUCT.md): a URI that is an
 * absolute AE-ID (a scheme before "//" allowed), or a DNS name "<cse-id>.<sp-id>" for a CSE-ID. Writes
 * the canonical ID; false when the name is neither. Exposed for the unit tests. */
bool tlsauth_san_identity(const struct id_env *env, int san_type, const char *name, char *canon, size_t len);

/* TS-0003 §10.1 profile of a leaf certificate (a gnutls_x509_crt_t): a P-256 ECDSA key and keyUsage
 * with digitalSignature. NULL, or the audit reason ("cert-bad-key", "cert-bad-usage"). */
const char *tlsauth_leaf_profile(void *gnutls_crt);

/* The identities a leaf certificate (a gnutls_x509_crt_t) carries in its subjectAltName, as
 * tlsauth_san_identity reads them: canonical IDs written one after another (NUL-separated) into buf
 * and pointed to from ids (at most max). Returns how many. Shared by the TLS listeners and ESCertKE. */
int tlsauth_leaf_identities(const struct id_env *env, void *gnutls_crt, char *buf, size_t buflen, const char **ids,
                            int max);

#endif
