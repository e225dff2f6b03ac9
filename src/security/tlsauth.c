/* tlsauth: TLS security associations (see tlsauth.h). */
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <string.h>

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

/* Revocation, key, usage and identities of a path-validated leaf. Returns the refusal reason or NULL. */
static const char *check_leaf(struct tls_peer *p, gnutls_x509_crt_t crt)
{
    enum cred_status st = cred_cert_status(p->ta->env.creds, p->serial);
    if (st != CRED_OK)
        return st == CRED_REVOKED ? "cert-revoked" : "store-error";
    /* TS-0003 §10.1: P-256 ECDSA keys, keyUsage with digitalSignature */
    gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
    if (gnutls_x509_crt_get_pk_algorithm(crt, NULL) != GNUTLS_PK_ECDSA ||
        gnutls_x509_crt_get_pk_ecc_raw(crt, &curve, NULL, NULL) < 0 || curve != GNUTLS_ECC_CURVE_SECP256R1)
        return "cert-bad-key";
    unsigned usage = 0;
    if (gnutls_x509_crt_get_key_usage(crt, &usage, NULL) < 0 || !(usage & GNUTLS_KEY_DIGITAL_SIGNATURE))
        return "cert-bad-usage";
    /* identities: every AE-ID URI and CSE-ID DNS name, exact */
    size_t used = 0;
    p->nids = 0;
    for (unsigned i = 0; i < 64 && p->nids < SECCTX_MAX_IDS; i++) {
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
        char *dst = p->idbuf + used;
        if (!tlsauth_san_identity(p->ta->env.idenv, type, name, dst, sizeof p->idbuf - used))
            continue;
        p->ids[p->nids++] = dst;
        used += strlen(dst) + 1;
    }
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
    } else {
        unsigned status = 0;
        gnutls_typed_vdata_st purpose = {GNUTLS_DT_KEY_PURPOSE_OID, (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, 0};
        int rc = gnutls_certificate_verify_peers(s, &purpose, 1, &status);
        if (rc < 0 || status != 0) {
            gnutls_datum_t txt = {NULL, 0};
            if (rc >= 0)
                gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &txt, 0);
            why = rc < 0 ? "cert-untrusted" : tlsauth_status_reason(status);
            snprintf(detail, sizeof detail, "%s", txt.data ? (const char *)txt.data : gnutls_strerror(rc));
            gnutls_free(txt.data);
        } else {
            why = check_leaf(p, crt);
        }
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
