/* fuzz_escertke: the ESCertKE receiver's inputs (e2e/escertke_msg.h, e2e/escertke.h) as a peer reaches
 * them. An input starting with '{' is a NOTIFY Content: decoded as m2m:seci (sit 6, eckm base64), and
 * a decoded ESCertKE Message is fed to a fresh terminator as Message 1. Any other input is raw bytes
 * fed as Message 3 to a terminator that answered a real Message 1 (from an in-process initiator).
 * The CSE's and the initiator's certificates are made at the first call.
 * Invariants: a decoded message is non-empty and within LIMIT_ESCERTKE_MSG and re-encodes to what was
 * decoded; a refusal has a reason; Message 1 never ends a handshake, and no input but the real
 * Message 3 can (its Finished cannot be forged); a failed terminator gives no key. */
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <gnutls/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/id.h"
#include "core/limits.h"
#include "e2e/escertke.h"
#include "e2e/escertke_msg.h"
#include "security/cred.h"
#include "security/tlsauth.h"
#include "util/mem.h"

#define SP "warden.example.com"

static const struct id_env env = {.spid = SP, .cse_id = "/id-in"};

struct world {
    char dir[64];
    struct cse_config cfg;
    struct cred_store *cs;
    struct tlsauth *ta;
    char ae_cert[128], ae_key[128], ca[128];
};

static void must(int ok)
{
    if (!ok)
        abort();
}

static void write_pem(const char *file, gnutls_x509_crt_t crt, gnutls_x509_privkey_t key)
{
    gnutls_datum_t d;
    FILE *f = fopen(file, "w");
    must(f != NULL);
    must((crt ? gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d)
              : gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d)) >= 0);
    fwrite(d.data, 1, d.size, f);
    gnutls_free(d.data);
    fclose(f);
}

/* A P-256 certificate: self-signed CA when ca is NULL, else a leaf with one SAN issued by it. */
static void make(gnutls_x509_crt_t *crt, gnutls_x509_privkey_t *key, gnutls_x509_crt_t ca, gnutls_x509_privkey_t cakey,
                 int san_type, const char *san, unsigned char serial)
{
    unsigned char s[4] = {0x10, 0x20, 0x30, serial};
    must(gnutls_x509_privkey_init(key) >= 0);
    must(gnutls_x509_privkey_generate(*key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) >= 0);
    must(gnutls_x509_crt_init(crt) >= 0);
    gnutls_x509_crt_set_version(*crt, 3);
    gnutls_x509_crt_set_serial(*crt, s, sizeof s);
    must(gnutls_x509_crt_set_dn(*crt, ca ? "O=" SP : "CN=fuzz CA,O=" SP, NULL) >= 0);
    must(gnutls_x509_crt_set_key(*crt, *key) >= 0);
    gnutls_x509_crt_set_activation_time(*crt, time(NULL) - 60);
    gnutls_x509_crt_set_expiration_time(*crt, time(NULL) + 86400);
    gnutls_x509_crt_set_basic_constraints(*crt, ca == NULL, -1);
    gnutls_x509_crt_set_key_usage(*crt, ca ? GNUTLS_KEY_DIGITAL_SIGNATURE : GNUTLS_KEY_KEY_CERT_SIGN);
    if (ca) {
        gnutls_x509_crt_set_key_purpose_oid(*crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
        gnutls_x509_crt_set_key_purpose_oid(*crt, GNUTLS_KP_TLS_WWW_CLIENT, 0);
        must(gnutls_x509_crt_set_subject_alt_name(*crt, san_type, san, (unsigned)strlen(san), GNUTLS_FSAN_SET) >= 0);
    }
    must(gnutls_x509_crt_sign2(*crt, ca ? ca : *crt, ca ? cakey : *key, GNUTLS_DIG_SHA256, 0) >= 0);
}

static const char *const files[] = {"ca.pem", "cse.pem", "cse.key", "ae.pem", "ae.key", "w.db", "w.db-wal", "w.db-shm"};
static char tmpdir[64];

static void cleanup(void)
{
    char p[128];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", tmpdir, files[i]);
        unlink(p);
    }
    rmdir(tmpdir);
}

static struct world *world(void)
{
    static struct world *w;
    if (w != NULL)
        return w;
    w = calloc(1, sizeof *w);
    snprintf(w->dir, sizeof w->dir, "/tmp/warden-fuzz-kex-XXXXXX");
    must(mkdtemp(w->dir) != NULL);
    snprintf(tmpdir, sizeof tmpdir, "%s", w->dir);
    atexit(cleanup);
    gnutls_x509_crt_t ca, cse, ae;
    gnutls_x509_privkey_t cak, csek, aek;
    make(&ca, &cak, NULL, NULL, 0, NULL, 1);
    make(&cse, &csek, ca, cak, GNUTLS_SAN_DNSNAME, "id-in." SP, 2);
    make(&ae, &aek, ca, cak, GNUTLS_SAN_URI, "//" SP "/id-in/Cfuzz", 3);
    char cse_cert[128], cse_key[128], db[128], err[256];
    snprintf(w->ca, sizeof w->ca, "%s/ca.pem", w->dir);
    snprintf(cse_cert, sizeof cse_cert, "%s/cse.pem", w->dir);
    snprintf(cse_key, sizeof cse_key, "%s/cse.key", w->dir);
    snprintf(w->ae_cert, sizeof w->ae_cert, "%s/ae.pem", w->dir);
    snprintf(w->ae_key, sizeof w->ae_key, "%s/ae.key", w->dir);
    snprintf(db, sizeof db, "%s/w.db", w->dir);
    write_pem(w->ca, ca, NULL);
    write_pem(cse_cert, cse, NULL);
    write_pem(cse_key, NULL, csek);
    write_pem(w->ae_cert, ae, NULL);
    write_pem(w->ae_key, NULL, aek);
    gnutls_x509_crt_deinit(ca);
    gnutls_x509_crt_deinit(cse);
    gnutls_x509_crt_deinit(ae);
    gnutls_x509_privkey_deinit(cak);
    gnutls_x509_privkey_deinit(csek);
    gnutls_x509_privkey_deinit(aek);
    config_defaults(&w->cfg);
    must(config_set(&w->cfg, "tls.cert", cse_cert, err, sizeof err) == 0);
    must(config_set(&w->cfg, "tls.key", cse_key, err, sizeof err) == 0);
    must(config_set(&w->cfg, "tls.ca", w->ca, err, sizeof err) == 0);
    must((w->cs = cred_open(db, err, sizeof err)) != NULL);
    struct tlsauth_env tenv = {.cfg = &w->cfg, .idenv = &env, .creds = w->cs};
    must((w->ta = tlsauth_new(&tenv, err, sizeof err)) != NULL);
    return w;
}

/* A failed terminator: a reason, and no key. */
static void check_failed(struct escertke *t)
{
    unsigned char k[ESCERTKE_KEY_LEN];
    char kid[ESCERTKE_KID_HEX_LEN + 1];
    if (escertke_reason(t) == NULL || escertke_result(t, k, kid) == 0)
        abort();
}

static void as_message1(struct world *w, const unsigned char *msg, size_t len)
{
    char err[200];
    struct escertke *t = escertke_new_terminator(w->ta, "fuzz", err, sizeof err);
    must(t != NULL);
    const unsigned char *out;
    size_t n;
    enum escertke_rc rc = escertke_step(t, msg, len, &out, &n);
    if (rc == ESCERTKE_DONE || (rc == ESCERTKE_CONTINUE && (n == 0 || n > LIMIT_ESCERTKE_MSG)))
        abort();
    if (rc == ESCERTKE_FAIL)
        check_failed(t);
    escertke_free(t);
}

static void as_message3(struct world *w, const unsigned char *msg, size_t len)
{
    static const struct id_env client_env = {.spid = "", .cse_id = ""};
    struct escertke_initiator_cfg c = {
        .cert = w->ae_cert, .key = w->ae_key, .ca = w->ca, .expect = "/id-in", .idenv = &client_env};
    char err[200];
    struct escertke *i = escertke_new_initiator(&c, err, sizeof err);
    struct escertke *t = escertke_new_terminator(w->ta, "fuzz", err, sizeof err);
    must(i != NULL && t != NULL);
    const unsigned char *out;
    size_t n;
    must(escertke_step(i, NULL, 0, &out, &n) == ESCERTKE_CONTINUE);
    must(escertke_step(t, out, n, &out, &n) == ESCERTKE_CONTINUE);
    enum escertke_rc rc = escertke_step(t, msg, len, &out, &n);
    if (rc == ESCERTKE_DONE)
        abort(); /* the initiator never sent this: its Finished cannot match */
    if (rc == ESCERTKE_FAIL)
        check_failed(t);
    escertke_free(i);
    escertke_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        json_set_alloc_funcs(mem_alloc, mem_free);
        init = true;
    }
    struct world *w = world();
    if (size > 0 && data[0] == '{') {
        unsigned char *msg = NULL;
        size_t len = 0;
        char err[200] = "";
        int d = escertke_seci_decode((const char *)data, size, &msg, &len, err, sizeof err);
        if (d == 1) {
            if (msg == NULL || len == 0 || len > LIMIT_ESCERTKE_MSG)
                abort();
            /* the canonical base64 round-trips */
            size_t blen = 0;
            char *again = escertke_seci_encode(msg, len, &blen);
            unsigned char *msg2 = NULL;
            size_t len2 = 0;
            if (escertke_seci_decode(again, blen, &msg2, &len2, err, sizeof err) != 1 || len2 != len ||
                memcmp(msg, msg2, len) != 0)
                abort();
            mem_free(again);
            mem_free(msg2);
            as_message1(w, msg, len);
        } else if (msg != NULL || (d == -1 && err[0] == '\0')) {
            abort();
        }
        mem_free(msg);
        return 0;
    }
    if (size <= LIMIT_ESCERTKE_MSG + 1)
        as_message3(w, data, size);
    return 0;
}
