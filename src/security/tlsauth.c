/* tlsauth: TLS security associations (see tlsauth.h). */
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "core/id.h"
#include "core/metrics.h"
#include "security/audit.h"
#include "tlsauth.h"
#include "util/log.h"
#include "util/mem.h"

/* TS-0003 §10.2.2-10.2.3: an IN-CSE server supports every mandatory suite. TLS 1.2 and 1.3 only;
 * CBC only with SHA-256/384 MACs (no SHA-1), no RC4/3DES/NULL/anonymous/static-RSA key exchange.
 * GnuTLS's NORMAL lacks the SHA-256 CBC suites, hence the explicit MAC list. */
static const char prio_psk[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-KX-ALL:+ECDHE-PSK:+DHE-PSK:+PSK:"
                               "-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-CBC:"
                               "+AES-256-CBC:-MAC-ALL:+AEAD:+SHA256:+SHA384:%SERVER_PRECEDENCE";
static const char prio_cert[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:"
                                "-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-CBC:"
                                "+AES-256-CBC:-MAC-ALL:+AEAD:+SHA256:+SHA384:%SERVER_PRECEDENCE";

struct tlsauth {
    struct tlsauth_env env;
    gnutls_certificate_credentials_t x509; /* NULL without tls.cert */
    gnutls_psk_server_credentials_t psk;
    gnutls_priority_t prio[2];
    bool have_ca;
};

const char *tlsauth_priority(enum tls_kind kind)
{
    return kind == TLS_KIND_PSK ? prio_psk : prio_cert;
}

void tlsauth_audit(struct tls_peer *p, const char *event, const char *reason, const char *detail)
{
    char ident[CRED_BINDING_MAX + 1] = "";
    size_t n = 0;
    for (int i = 0; i < p->nids && n < sizeof ident; i++)
        n += (size_t)snprintf(ident + n, sizeof ident - n, "%s%s", i ? "," : "", p->ids[i]);
    struct audit_event ev = {
        .event = event,
        .peer = p->peer,
        .binding = p->binding,
        .reason = reason,
        .detail = detail,
        .credential = p->cred[0] ? p->cred : NULL,
        .identity = strcmp(event, "authn-ok") == 0 ? ident : NULL,
    };
    audit_record(p->ta->env.audit, &ev);
    if (strcmp(event, "authn-fail") == 0)
        metrics_handshake_failure(p->ta->env.metrics, reason);
    LOG(p->ta->env.log, strcmp(event, "authn-ok") == 0 ? LOG_DEBUG : LOG_INFO, "%s: %s %s from %s%s%s", p->binding,
        event, p->cred[0] ? p->cred : "-", p->peer, reason ? " reason=" : "", reason ? reason : "");
}

static void refuse(struct tls_peer *p, const char *reason, const char *detail)
{
    if (p->fail != NULL)
        return;
    p->fail = reason;
    tlsauth_audit(p, "authn-fail", reason, detail);
}

/* GnuTLS asks for the key of a PSK identity (TLS 1.2 psk_identity, TLS 1.3 PSK identity). */
static int psk_lookup(gnutls_session_t s, const gnutls_datum_t *username, gnutls_datum_t *key)
{
    struct tls_peer *p = gnutls_session_get_ptr(s);
    char id[CRED_KPSAID_MAX + 1];
    if (p == NULL)
        return -1;
    if (username->size == 0 || username->size > CRED_KPSAID_MAX || memchr(username->data, 0, username->size)) {
        refuse(p, "unknown-psk", "malformed PSK identity");
        return -1;
    }
    memcpy(id, username->data, username->size);
    id[username->size] = '\0';
    snprintf(p->cred, sizeof p->cred, "psk:%s", cred_kpsaid_ok(id) ? id : "(malformed)");
    if (!cred_kpsaid_ok(id)) {
        refuse(p, "unknown-psk", "PSK identity is not <relative>@<fqdn>");
        return -1;
    }
    unsigned char k[CRED_KEY_MAX];
    size_t klen = 0;
    enum cred_status st = cred_psk_key(p->ta->env.creds, id, k, &klen);
    if (st != CRED_OK) {
        refuse(p, st == CRED_REVOKED ? "revoked-psk" : st == CRED_NOT_FOUND ? "unknown-psk" : "store-error", NULL);
        return -1;
    }
    key->data = gnutls_malloc(klen); /* GnuTLS wipes and frees it with the handshake keys */
    if (key->data == NULL) {
        cred_wipe(k, sizeof k);
        return -1;
    }
    memcpy(key->data, k, klen);
    key->size = (unsigned)klen;
    gnutls_hash_fast(GNUTLS_DIG_SHA256, k, klen, p->keyhash);
    cred_wipe(k, sizeof k);
    snprintf(p->kpsa_id, sizeof p->kpsa_id, "%s", id);
    p->psk_found = true;
    return 0;
}

bool tlsauth_san_identity(const struct id_env *env, int san_type, const char *name, char *canon, size_t len)
{
    char buf[LIMIT_ID_LEN + 1];
    struct id id;
    if (san_type == GNUTLS_SAN_URI) {
        const char *slashes = strstr(name, "//");
        if (slashes == NULL)
            return false;
        if (slashes != name) { /* "scheme://...": RFC 3986 ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
            if (slashes[-1] != ':' || slashes - 1 == name)
                return false;
            for (const char *q = name; q < slashes - 1; q++) {
                bool alpha = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z');
                if (!alpha && (q == name || (!(*q >= '0' && *q <= '9') && *q != '+' && *q != '-' && *q != '.')))
                    return false;
            }
        }
        if (!id_parse(env, slashes, &id) || id.kind != ID_AE || id.form != IDF_ABSOLUTE)
            return false;
    } else if (san_type == GNUTLS_SAN_DNSNAME) {
        /* the public domain name of a CSE-ID: "<cse-id>.<sp-id>", no wildcards */
        const char *dot = strchr(name, '.');
        if (dot == NULL || dot == name || strchr(name, '*') != NULL)
            return false;
        int n = snprintf(buf, sizeof buf, "//%s/%.*s", dot + 1, (int)(dot - name), name);
        if (n < 0 || (size_t)n >= sizeof buf || !id_parse(env, buf, &id) || id.kind != ID_CSE)
            return false;
    } else {
        return false;
    }
    /* this CSE's own CSE-ID is never a peer's identity (its server certificate is no client credential) */
    char own[LIMIT_ID_LEN + 1];
    snprintf(own, sizeof own, "//%s%s%s", env->spid, env->cse_id[0] == '/' ? "" : "/", env->cse_id);
    if (strcmp(id.canon, own) == 0 || strlen(id.canon) >= len)
        return false;
    memcpy(canon, id.canon, strlen(id.canon) + 1);
    return true;
}

const char *tlsauth_status_reason(unsigned status)
{
    if (status & GNUTLS_CERT_REVOKED)
        return "cert-revoked";
    if (status & GNUTLS_CERT_EXPIRED)
        return "cert-expired";
    if (status & GNUTLS_CERT_NOT_ACTIVATED)
        return "cert-not-yet-valid";
    if (status & GNUTLS_CERT_PURPOSE_MISMATCH)
        return "cert-bad-usage";
    return "cert-untrusted";
}

/* The serial of the leaf, for the audit log and the revocation check. */
static bool leaf_serial(struct tls_peer *p, gnutls_x509_crt_t crt)
{
    unsigned char raw[32];
    size_t rawlen = sizeof raw;
    if (gnutls_x509_crt_get_serial(crt, raw, &rawlen) < 0)
        return false;
    char hex[2 * sizeof raw + 1];
    for (size_t i = 0; i < rawlen; i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    if (!cred_serial_norm(hex, p->serial, sizeof p->serial))
        return false;
    snprintf(p->cred, sizeof p->cred, "cert:%s", p->serial);
    return true;
}

const char *tlsauth_leaf_profile(void *crt_)
{
    gnutls_x509_crt_t crt = crt_;
    /* TS-0003 §10.1: P-256 ECDSA keys, keyUsage with digitalSignature */
    gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
    if (gnutls_x509_crt_get_pk_algorithm(crt, NULL) != GNUTLS_PK_ECDSA ||
        gnutls_x509_crt_get_pk_ecc_raw(crt, &curve, NULL, NULL) < 0 || curve != GNUTLS_ECC_CURVE_SECP256R1)
        return "cert-bad-key";
    unsigned usage = 0;
    if (gnutls_x509_crt_get_key_usage(crt, &usage, NULL) < 0 || !(usage & GNUTLS_KEY_DIGITAL_SIGNATURE))
        return "cert-bad-usage";
    return NULL;
}

int tlsauth_leaf_identities(const struct id_env *env, void *crt_, char *buf, size_t buflen, const char **ids, int max)
{
    gnutls_x509_crt_t crt = crt_;
    /* identities: every AE-ID URI and CSE-ID DNS name, exact */
    size_t used = 0;
    int n = 0;
    for (unsigned i = 0; i < 64 && n < max; i++) {
        char name[LIMIT_ID_LEN + 1];
        size_t nlen = sizeof name - 1;
        int type = gnutls_x509_crt_get_subject_alt_name(crt, i, name, &nlen, NULL);
        if (type == GNUTLS_E_SHORT_MEMORY_BUFFER)
            continue; /* too long for an ID: never an identity */
        if (type < 0)
            break; /* the end of the list, or an unreadable extension */
        if (memchr(name, 0, nlen) != NULL)
            continue; /* an embedded NUL: never an identity */
        name[nlen] = '\0';
        char *dst = buf + used;
        if (used >= buflen || !tlsauth_san_identity(env, type, name, dst, buflen - used))
            continue;
        ids[n++] = dst;
        used += strlen(dst) + 1;
    }
    return n;
}

/* Revocation, key, usage and identities of a path-validated leaf. Returns the refusal reason or NULL. */
static const char *check_leaf(struct tls_peer *p, gnutls_x509_crt_t crt)
{
    enum cred_status st = cred_cert_status(p->ta->env.creds, p->serial);
    if (st != CRED_OK)
        return st == CRED_REVOKED ? "cert-revoked" : "store-error";
    const char *why = tlsauth_leaf_profile(crt);
    if (why != NULL)
        return why;
    p->nids = tlsauth_leaf_identities(p->ta->env.idenv, crt, p->idbuf, sizeof p->idbuf, p->ids, SECCTX_MAX_IDS);
    return p->nids ? NULL : "cert-no-identity";
}

const char *tlsauth_check_certificate(struct tlsauth *ta, const unsigned char *der, size_t len, struct tls_peer *p)
{
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) < 0)
        return "cert-untrusted";
    p->ta = ta;
    gnutls_datum_t d = {(unsigned char *)der, (unsigned)len};
    const char *why = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) < 0 || !leaf_serial(p, crt)
                          ? "cert-untrusted"
                          : check_leaf(p, crt);
    gnutls_x509_crt_deinit(crt);
    if (why != NULL)
        p->nids = 0;
    else
        p->cert_ok = true;
    return why;
}

/* ---- certification path: name constraints on the subjectAltName identities ----
 *
 * GnuTLS checks a CA's DNS name constraints against the subject CN of a certificate without a DNS
 * SAN, and refuses any URI SAN under a URI constraint (it does not evaluate them). oneM2M identities
 * live in the SAN (TS-0003 §8.1.2, §10.1.1.5), and the usual CA constrains both CSE-ID DNS names and
 * the host part of AE-ID URIs (TS-0003 §8.1.2.2, §10.1.1.5), so GnuTLS's answer on name constraints
 * is replaced by Warden's: RFC 5280 §4.2.1.10 on every SAN, a URI by its host; never on the CN. */

#define PATH_MAX_CERTS 8 /* leaf, intermediates and the trust anchor: TS-0003 §10.1.1.3 asks for few */

struct cert_path {
    gnutls_x509_crt_t c[PATH_MAX_CERTS];
    bool owned[PATH_MAX_CERTS];
    unsigned n;
};

static void path_free(struct cert_path *p, gnutls_x509_crt_t *peers, unsigned npeers)
{
    for (unsigned i = 0; i < p->n; i++)
        if (p->owned[i])
            gnutls_x509_crt_deinit(p->c[i]);
    for (unsigned i = 0; i < npeers; i++)
        gnutls_x509_crt_deinit(peers[i]);
}

/* From the leaf up: each issuer among the certificates the peer sent, until one is issued by a trust
 * anchor of tls.ca. GnuTLS validated the signatures; this finds the CAs whose constraints apply. */
static bool build_path(gnutls_x509_trust_list_t tl, gnutls_x509_crt_t *peers, unsigned npeers, struct cert_path *p)
{
    p->n = 0;
    if (npeers == 0)
        return false;
    p->c[p->n++] = peers[0];
    while (p->n < PATH_MAX_CERTS) {
        gnutls_x509_crt_t cur = p->c[p->n - 1], iss = NULL;
        if (gnutls_x509_trust_list_get_issuer(tl, cur, &iss, GNUTLS_TL_GET_COPY) == 0) {
            p->owned[p->n] = true;
            p->c[p->n++] = iss;
            return true;
        }
        gnutls_x509_crt_t next = NULL;
        for (unsigned i = 1; i < npeers && next == NULL; i++) {
            bool used = false;
            for (unsigned k = 0; k < p->n; k++)
                used |= p->c[k] == peers[i];
            if (!used && gnutls_x509_crt_check_issuer(cur, peers[i]))
                next = peers[i];
        }
        if (next == NULL)
            return false;
        p->c[p->n++] = next;
    }
    return false;
}

/* What GnuTLS reports as GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE besides name constraints, checked
 * again: every issuer may sign certificates (keyUsage keyCertSign when present), its pathLenConstraint
 * holds, and its TLS feature requirements are met by the leaf. */
static const char *signer_constraints(const struct cert_path *p)
{
    for (unsigned k = 1; k < p->n; k++) {
        unsigned usage = 0, critical = 0, ca = 0;
        int rc = gnutls_x509_crt_get_key_usage(p->c[k], &usage, &critical);
        if (rc != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE && (rc < 0 || !(usage & GNUTLS_KEY_KEY_CERT_SIGN)))
            return "an issuer's keyUsage does not allow certificate signing";
        int pathlen = -1;
        rc = gnutls_x509_crt_get_basic_constraints(p->c[k], &critical, &ca, &pathlen);
        if (rc < 0 || !ca)
            return "an issuer is not a CA";
        if (pathlen >= 0 && k - 1 > (unsigned)pathlen)
            return "an issuer's path length constraint is exceeded";
        gnutls_x509_tlsfeatures_t feat;
        if (gnutls_x509_tlsfeatures_init(&feat) < 0)
            return "out of memory";
        rc = gnutls_x509_crt_get_tlsfeatures(p->c[k], feat, 0, &critical);
        bool ok = rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE ||
                  (rc >= 0 && gnutls_x509_tlsfeatures_check_crt(feat, p->c[0]));
        gnutls_x509_tlsfeatures_deinit(feat);
        if (!ok)
            return "the certificate lacks the TLS features its issuer requires";
    }
    return NULL;
}

/* The host of a URI with an authority ("scheme://host/...", "//host/..."): RFC 3986 §3.2.2, without
 * userinfo and port. False for a URI without one, or with an IP literal (not a DNS host). */
static bool uri_host(const char *uri, char *host, size_t len)
{
    const char *a = strstr(uri, "//");
    if (a == NULL)
        return false;
    for (const char *q = uri; q < a; q++) /* only a scheme may precede the authority */
        if (*q == '/' || *q == '?' || *q == '#')
            return false;
    a += 2;
    size_t n = strcspn(a, "/?#");
    const char *at = memchr(a, '@', n);
    if (at != NULL) {
        n -= (size_t)(at + 1 - a);
        a = at + 1;
    }
    const char *colon = memchr(a, ':', n);
    if (colon != NULL)
        n = (size_t)(colon - a);
    if (n == 0 || n >= len || a[0] == '[')
        return false;
    memcpy(host, a, n);
    host[n] = '\0';
    return true;
}

bool tlsauth_uri_constraint_matches(const char *constraint, const char *uri)
{
    char host[LIMIT_ID_LEN + 1];
    if (!uri_host(uri, host, sizeof host))
        return false;
    size_t hl = strlen(host), cl = strlen(constraint);
    if (cl > 0 && constraint[0] == '.') /* a domain: any host below it (RFC 5280 §4.2.1.10) */
        return hl > cl && strcasecmp(host + hl - cl, constraint) == 0;
    return strcasecmp(host, constraint) == 0; /* a host: that host only */
}

/* One CA's name constraints against one SAN of the leaf. Types Warden does not evaluate fail closed
 * when the CA constrains them. */
/* A constraint's text, NUL-terminated (GnuTLS's datum is not); false when too long or holding a NUL. */
static bool constraint_text(const gnutls_datum_t *c, char *out, size_t len)
{
    if (c->size >= len || (c->size > 0 && memchr(c->data, 0, c->size) != NULL))
        return false;
    memcpy(out, c->data, c->size);
    out[c->size] = '\0';
    return true;
}

/* Does a URI constraint admit the URI? An unreadable constraint admits nothing. */
static bool uri_within(const gnutls_datum_t *c, const char *uri)
{
    char text[LIMIT_ID_LEN + 1];
    return constraint_text(c, text, sizeof text) && tlsauth_uri_constraint_matches(text, uri);
}

static bool san_within(gnutls_x509_name_constraints_t nc, unsigned type, const char *name, size_t nlen)
{
    gnutls_datum_t d = {(unsigned char *)(uintptr_t)name, (unsigned)nlen};
    if (type == GNUTLS_SAN_DNSNAME || type == GNUTLS_SAN_IPADDRESS || type == GNUTLS_SAN_RFC822NAME)
        return gnutls_x509_name_constraints_check(nc, (gnutls_x509_subject_alt_name_t)type, &d) != 0;
    bool permitted_any = false, permitted_ok = false;
    for (unsigned i = 0;; i++) {
        unsigned t;
        gnutls_datum_t c;
        if (gnutls_x509_name_constraints_get_excluded(nc, i, &t, &c) < 0)
            break;
        if (t != type)
            continue;
        char host[LIMIT_ID_LEN + 1], text[LIMIT_ID_LEN + 1];
        /* a URI without a DNS host, or an unreadable constraint, cannot be shown to stay outside */
        if (type != GNUTLS_SAN_URI || !uri_host(name, host, sizeof host) || !constraint_text(&c, text, sizeof text) ||
            tlsauth_uri_constraint_matches(text, name))
            return false;
    }
    for (unsigned i = 0;; i++) {
        unsigned t;
        gnutls_datum_t c;
        if (gnutls_x509_name_constraints_get_permitted(nc, i, &t, &c) < 0)
            break;
        if (t != type)
            continue;
        permitted_any = true;
        if (type == GNUTLS_SAN_URI && uri_within(&c, name))
            permitted_ok = true;
    }
    return !permitted_any || permitted_ok;
}

/* Every SAN of the leaf within the name constraints of every CA on the path. NULL, or why not. */
static const char *names_within(const struct cert_path *p, char *detail, size_t dlen)
{
    for (unsigned k = 1; k < p->n; k++) {
        gnutls_x509_name_constraints_t nc;
        if (gnutls_x509_name_constraints_init(&nc) < 0)
            return "out of memory";
        unsigned critical = 0;
        int rc = gnutls_x509_crt_get_name_constraints(p->c[k], nc, 0, &critical);
        if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
            gnutls_x509_name_constraints_deinit(nc);
            continue;
        }
        const char *why = rc < 0 ? "an issuer's name constraints are unreadable" : NULL;
        /* a directoryName constraint applies to the subject (RFC 5280 §4.2.1.10): not evaluated, refused */
        for (int excluded = 0; excluded < 2 && why == NULL; excluded++)
            for (unsigned i = 0; why == NULL; i++) {
                unsigned t = 0;
                gnutls_datum_t c;
                if ((excluded ? gnutls_x509_name_constraints_get_excluded(nc, i, &t, &c)
                              : gnutls_x509_name_constraints_get_permitted(nc, i, &t, &c)) < 0)
                    break;
                if (t == GNUTLS_SAN_DN)
                    why = "directoryName constraints are not supported";
            }
        for (unsigned i = 0; why == NULL && i < 64; i++) {
            char name[LIMIT_ID_LEN + 1];
            size_t nlen = sizeof name - 1;
            unsigned type = 0;
            rc = gnutls_x509_crt_get_subject_alt_name2(p->c[0], i, name, &nlen, &type, NULL);
            if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
                break;
            if (rc < 0 || (memchr(name, 0, nlen) != NULL && type != GNUTLS_SAN_IPADDRESS)) {
                why = "a subjectAltName is unreadable";
                break;
            }
            name[nlen] = '\0';
            if (!san_within(nc, type, name, nlen)) {
                why = "a subjectAltName is outside the issuer's name constraints";
                if (type == GNUTLS_SAN_DNSNAME || type == GNUTLS_SAN_URI)
                    snprintf(detail, dlen, "%s: %.200s", why, name);
            }
        }
        gnutls_x509_name_constraints_deinit(nc);
        if (why != NULL)
            return why;
    }
    return NULL;
}

const char *tlsauth_verify_chain(struct tlsauth *ta, void *session, char *detail, size_t dlen)
{
    gnutls_session_t s = session;
    detail[0] = '\0';
    unsigned n = 0;
    const gnutls_datum_t *chain = gnutls_certificate_get_peers(s, &n);
    if (chain == NULL || n == 0) {
        snprintf(detail, dlen, "no client certificate");
        return "cert-untrusted";
    }
    unsigned status = 0;
    gnutls_typed_vdata_st purpose = {GNUTLS_DT_KEY_PURPOSE_OID, (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, 0};
    int rc = gnutls_certificate_verify_peers(s, &purpose, 1, &status);
    /* GnuTLS's verdict stands, except a signer-constraints failure alone, decided again below */
    bool recheck = rc >= 0 && status == (GNUTLS_CERT_INVALID | GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE);
    if (rc < 0 || (status != 0 && !recheck)) {
        gnutls_datum_t txt = {NULL, 0};
        if (rc >= 0)
            gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &txt, 0);
        snprintf(detail, dlen, "%s", txt.data ? (const char *)txt.data : gnutls_strerror(rc));
        gnutls_free(txt.data);
        return rc < 0 ? "cert-untrusted" : tlsauth_status_reason(status);
    }
    gnutls_x509_trust_list_t tl = NULL;
    gnutls_x509_crt_t peers[PATH_MAX_CERTS];
    unsigned npeers = 0;
    struct cert_path path = {.n = 0};
    const char *reason = NULL, *why = NULL;
    if (ta->x509 != NULL)
        gnutls_certificate_get_trust_list(ta->x509, &tl);
    for (unsigned i = 0; i < n && i < PATH_MAX_CERTS; i++) {
        if (gnutls_x509_crt_init(&peers[npeers]) < 0)
            break;
        if (gnutls_x509_crt_import(peers[npeers], &chain[i], GNUTLS_X509_FMT_DER) < 0) {
            gnutls_x509_crt_deinit(peers[npeers]);
            break;
        }
        npeers++;
    }
    if (tl == NULL || npeers != n || !build_path(tl, peers, npeers, &path)) {
        reason = "cert-untrusted";
        why = "no certification path to tls.ca of at most 8 certificates";
    } else if (recheck && (why = signer_constraints(&path)) != NULL) {
        reason = "cert-untrusted";
    } else if ((why = names_within(&path, detail, dlen)) != NULL) {
        reason = "cert-name-constraints";
    }
    if (why != NULL && detail[0] == '\0')
        snprintf(detail, dlen, "%s", why);
    path_free(&path, peers, npeers);
    return reason;
}

/* Runs inside the handshake once the client sent its certificate: a non-zero return aborts it. */
static int verify_peer(gnutls_session_t s)
{
    struct tls_peer *p = gnutls_session_get_ptr(s);
    if (p == NULL)
        return -1;
    unsigned n = 0;
    const gnutls_datum_t *chain = gnutls_certificate_get_peers(s, &n);
    if (chain == NULL || n == 0)
        return 0; /* no client certificate: no security association (secure profile: 4107) */
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) < 0)
        return -1;
    const char *why = NULL;
    char detail[256] = "";
    if (gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER) < 0 || !leaf_serial(p, crt)) {
        why = "cert-untrusted";
        snprintf(detail, sizeof detail, "unreadable certificate");
    } else if (!p->ta->have_ca) {
        why = "cert-untrusted";
        snprintf(detail, sizeof detail, "no tls.ca configured: client certificates are not accepted");
    } else if ((why = tlsauth_verify_chain(p->ta, s, detail, sizeof detail)) == NULL) {
        why = check_leaf(p, crt);
    }
    gnutls_x509_crt_deinit(crt);
    if (why != NULL) {
        p->nids = 0;
        refuse(p, why, detail[0] ? detail : NULL);
        return -1;
    }
    p->cert_ok = true;
    return 0;
}

static int on_finished(gnutls_session_t s, unsigned htype, unsigned when, unsigned incoming, const gnutls_datum_t *msg);

void tlsauth_session_init(struct tlsauth *ta, void *session, struct tls_peer *peer)
{
    gnutls_session_t s = session;
    peer->ta = ta;
    gnutls_session_set_ptr(s, peer);
    gnutls_handshake_set_hook_function(s, GNUTLS_HANDSHAKE_FINISHED, GNUTLS_HOOK_POST, on_finished);
    gnutls_priority_set(s, ta->prio[peer->kind]);
    if (peer->kind == TLS_KIND_PSK) {
        gnutls_credentials_set(s, GNUTLS_CRD_PSK, ta->psk);
        return;
    }
    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, ta->x509);
    /* a client certificate is asked for, not demanded: HTTPS without one is a connection without a
     * security association, which the secure profile refuses per request with 4107 */
    gnutls_certificate_server_set_request(s, ta->have_ca ? GNUTLS_CERT_REQUEST : GNUTLS_CERT_IGNORE);
    gnutls_session_set_verify_function(s, verify_peer);
}

/* Read the PSK's binding: the IDs a PSK-authenticated peer may use. */
static int load_psk_binding(struct tls_peer *p)
{
    /* still the key this session was established with? (revoked and provisioned again = another key) */
    unsigned char k[CRED_KEY_MAX], h[sizeof p->keyhash];
    size_t klen = 0;
    enum cred_status st = cred_psk_key(p->ta->env.creds, p->kpsa_id, k, &klen);
    if (st == CRED_OK)
        gnutls_hash_fast(GNUTLS_DIG_SHA256, k, klen, h);
    cred_wipe(k, sizeof k);
    if (st != CRED_OK || memcmp(h, p->keyhash, sizeof h) != 0)
        return -1;
    struct cred_psk_info info;
    if (cred_psk_get(p->ta->env.creds, p->kpsa_id, &info) != CRED_OK)
        return -1;
    memcpy(p->idbuf, info.binding, sizeof p->idbuf);
    p->nids = 0;
    char *save = NULL;
    for (char *tok = strtok_r(p->idbuf, ",", &save); tok && p->nids < SECCTX_MAX_IDS; tok = strtok_r(NULL, ",", &save))
        p->ids[p->nids++] = tok;
    return 0;
}

/* Re-read the credential; false (and recorded) when it no longer authenticates. */
static bool still_valid(struct tls_peer *p)
{
    bool psk = p->kind == TLS_KIND_PSK;
    p->gen = cred_generation(p->ta->env.creds);
    if (psk ? load_psk_binding(p) == 0 : cred_cert_status(p->ta->env.creds, p->serial) == CRED_OK)
        return true;
    p->revoked = true;
    p->nids = 0;
    tlsauth_audit(p, "authn-fail", psk ? "revoked-psk" : "cert-revoked",
                  p->announced ? "revoked during the connection" : "revoked during the handshake");
    return false;
}

/* The handshake proved the client's key: record the authentication once, with the bound identity. */
static void announce(struct tls_peer *p)
{
    if (p->announced || p->revoked || !still_valid(p))
        return;
    p->announced = true;
    tlsauth_audit(p, "authn-ok", NULL, NULL);
}

/* Handshake hook on Finished. The server sends its Finished only once the client's key is proven
 * in TLS 1.2 (after the client's Finished) and for a PSK in TLS 1.3 (after the binder); a TLS 1.3
 * client certificate comes after it, so there the client's own Finished marks the end, by when
 * the certificate and its CertificateVerify have passed. */
static int on_finished(gnutls_session_t s, unsigned htype, unsigned when, unsigned incoming, const gnutls_datum_t *msg)
{
    (void)htype, (void)when, (void)msg;
    struct tls_peer *p = gnutls_session_get_ptr(s);
    if (p == NULL)
        return 0;
    if (p->kind == TLS_KIND_PSK ? (!incoming && p->psk_found) : p->cert_ok)
        announce(p);
    return p->revoked ? GNUTLS_E_CERTIFICATE_ERROR : 0; /* revoked during the handshake: abort it */
}

int tlsauth_request(struct tls_peer *p, struct cse_secctx *sec)
{
    sec->sa = SA_NONE;
    sec->nids = 0;
    sec->cred_id = NULL;
    if (p == NULL || p->ta == NULL)
        return 0;
    bool psk = p->kind == TLS_KIND_PSK;
    if (!psk && !p->cert_ok)
        return 0; /* HTTPS without a client certificate */
    announce(p);  /* normally done by the handshake hook already */
    if (p->revoked || (cred_generation(p->ta->env.creds) != p->gen && !still_valid(p)))
        return -1;
    sec->sa = psk ? SA_TLS_PSK : SA_TLS_CERT;
    sec->cred_id = p->cred;
    for (int i = 0; i < p->nids; i++)
        sec->ids[i] = p->ids[i];
    sec->nids = p->nids;
    return 0;
}

void tlsauth_close(struct tls_peer *p)
{
    if (p == NULL || p->ta == NULL || p->announced || p->fail != NULL || p->revoked)
        return;
    /* an identity found, then no proof of the key: the handshake failed on the client's side */
    if (p->psk_found)
        refuse(p, "psk-mismatch", "the handshake failed after the identity was found (wrong key?)");
    else if (p->cert_ok)
        refuse(p, "cert-untrusted", "the handshake failed after the certificate was checked (no proof of its key)");
}

static int load_file(const char *path, gnutls_datum_t *out, char *err, size_t errlen, const char *key)
{
    int rc = gnutls_load_file(path, out);
    if (rc < 0)
        snprintf(err, errlen, "%s: cannot read %s: %s", key, path, gnutls_strerror(rc));
    return rc < 0 ? -1 : 0;
}

/* TS-0003 §8.1.2.2: a CA vouching for oneM2M identities carries name constraints; without them any
 * DNS name it certifies becomes a CSE identity. Warn, since operators may rely on a dedicated CA. */
static void warn_unconstrained(struct tlsauth *ta, const char *path)
{
    gnutls_datum_t d = {NULL, 0};
    gnutls_x509_crt_t *list = NULL;
    unsigned n = 0;
    if (gnutls_load_file(path, &d) < 0 || gnutls_x509_crt_list_import2(&list, &n, &d, GNUTLS_X509_FMT_PEM, 0) < 0) {
        gnutls_free(d.data);
        return;
    }
    for (unsigned i = 0; i < n; i++) {
        gnutls_x509_name_constraints_t nc;
        unsigned critical = 0;
        if (gnutls_x509_name_constraints_init(&nc) >= 0) {
            if (gnutls_x509_crt_get_name_constraints(list[i], nc, 0, &critical) < 0)
                LOG(ta->env.log, LOG_WARN,
                    "tls.ca: trust anchor %u of %s has no name constraints: any DNS name it certifies is "
                    "accepted as a CSE-ID (TS-0003 §8.1.2.2 asks CAs to constrain them)",
                    i + 1, path);
            gnutls_x509_name_constraints_deinit(nc);
        }
        gnutls_x509_crt_deinit(list[i]);
    }
    gnutls_free(list);
    gnutls_free(d.data);
}

struct tlsauth *tlsauth_new(const struct tlsauth_env *env, char *err, size_t errlen)
{
    const struct cse_config *cfg = env->cfg;
    struct tlsauth *ta = mem_calloc(1, sizeof *ta);
    ta->env = *env;
    const char *pos = NULL;
    if (gnutls_priority_init(&ta->prio[TLS_KIND_CERT], prio_cert, &pos) < 0 ||
        gnutls_priority_init(&ta->prio[TLS_KIND_PSK], prio_psk, &pos) < 0) {
        snprintf(err, errlen, "TLS priority rejected by GnuTLS near '%.24s'", pos ? pos : "?");
        goto fail;
    }
    if (gnutls_psk_allocate_server_credentials(&ta->psk) < 0) {
        snprintf(err, errlen, "TLS: out of memory");
        goto fail;
    }
    gnutls_psk_set_server_credentials_function2(ta->psk, psk_lookup);
    if (cfg->tls_cert[0] == '\0')
        return ta;
    if (gnutls_certificate_allocate_credentials(&ta->x509) < 0) {
        snprintf(err, errlen, "TLS: out of memory");
        goto fail;
    }
    int rc = gnutls_certificate_set_x509_key_file(ta->x509, cfg->tls_cert, cfg->tls_key, GNUTLS_X509_FMT_PEM);
    if (rc < 0) {
        snprintf(err, errlen, "tls.cert/tls.key: %s (%s, %s)", gnutls_strerror(rc), cfg->tls_cert, cfg->tls_key);
        goto fail;
    }
    if (cfg->tls_ca[0]) {
        gnutls_datum_t d;
        if (load_file(cfg->tls_ca, &d, err, errlen, "tls.ca") != 0)
            goto fail;
        rc = gnutls_certificate_set_x509_trust_mem(ta->x509, &d, GNUTLS_X509_FMT_PEM);
        gnutls_free(d.data);
        if (rc <= 0) {
            snprintf(err, errlen, "tls.ca: no usable certificate in %s (%s)", cfg->tls_ca,
                     rc < 0 ? gnutls_strerror(rc) : "empty");
            goto fail;
        }
        ta->have_ca = true;
        warn_unconstrained(ta, cfg->tls_ca);
    }
    if (cfg->tls_crl[0]) {
        rc = gnutls_certificate_set_x509_crl_file(ta->x509, cfg->tls_crl, GNUTLS_X509_FMT_PEM);
        if (rc < 0) {
            snprintf(err, errlen, "tls.crl: %s (%s)", gnutls_strerror(rc), cfg->tls_crl);
            goto fail;
        }
    }
    return ta;
fail:
    tlsauth_free(ta);
    return NULL;
}

void tlsauth_free(struct tlsauth *ta)
{
    if (ta == NULL)
        return;
    if (ta->x509)
        gnutls_certificate_free_credentials(ta->x509);
    if (ta->psk)
        gnutls_psk_free_server_credentials(ta->psk);
    for (int i = 0; i < 2; i++)
        if (ta->prio[i])
            gnutls_priority_deinit(ta->prio[i]);
    mem_free(ta);
}
