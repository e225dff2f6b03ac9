/* Unit tests for the ESCertKE engine (e2e/escertke.h, TS-0003 §8.7, §10.3.1): both roles over memory
 * reach the same pairwiseE2EKey and key ID; a certificate from another CA, a non-ECDSA certificate, a
 * tampered or truncated flight each end the exchange cleanly with the right kind of failure. The
 * certificates are made here with GnuTLS (a CA with the dev CA's profile, leaves like wardenctl ca
 * issue's). */
#include <ftw.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "core/config.h"
#include "core/id.h"
#include "core/limits.h"
#include "e2e/escertke.h"
#include "security/cred.h"
#include "security/tlsauth.h"

#define SP "warden.example.com"

struct pair {
    gnutls_x509_crt_t crt;
    gnutls_x509_privkey_t key;
};

struct env {
    char dir[64];
    char db[128];
    struct cse_config cfg;
    struct id_env idenv;
    struct cred_store *cs;
    struct tlsauth *ta;
    struct pair ca, ca2;
};

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void path(const struct env *e, const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", e->dir, name);
}

static void write_pem(const char *file, gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, bool append)
{
    gnutls_datum_t d;
    FILE *f = fopen(file, append ? "a" : "w");
    assert_non_null(f);
    if (crt) {
        assert_true(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d) >= 0);
    } else {
        assert_true(gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d) >= 0);
    }
    fwrite(d.data, 1, d.size, f);
    gnutls_free(d.data);
    fclose(f);
}

static void serial(gnutls_x509_crt_t crt)
{
    static unsigned char n = 1;
    unsigned char s[8] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, n++};
    gnutls_x509_crt_set_serial(crt, s, sizeof s);
}

/* A CA like wardenctl ca init's: P-256, CA:true, constrained to DNS names in SP. */
static void make_ca(struct pair *p, const char *cn)
{
    char dn[128];
    snprintf(dn, sizeof dn, "CN=%s,O=" SP, cn);
    gnutls_x509_name_constraints_t nc;
    gnutls_datum_t spid = {(unsigned char *)SP, sizeof SP - 1};
    assert_true(gnutls_x509_privkey_init(&p->key) >= 0);
    assert_true(gnutls_x509_privkey_generate(p->key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
                                             0) >= 0);
    assert_true(gnutls_x509_crt_init(&p->crt) >= 0);
    assert_true(gnutls_x509_name_constraints_init(&nc) >= 0);
    gnutls_x509_crt_set_version(p->crt, 3);
    serial(p->crt);
    assert_true(gnutls_x509_crt_set_dn(p->crt, dn, NULL) >= 0);
    assert_true(gnutls_x509_crt_set_key(p->crt, p->key) >= 0);
    gnutls_x509_crt_set_activation_time(p->crt, time(NULL) - 60);
    gnutls_x509_crt_set_expiration_time(p->crt, time(NULL) + 86400);
    gnutls_x509_crt_set_basic_constraints(p->crt, 1, 0);
    gnutls_x509_crt_set_key_usage(p->crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN);
    gnutls_x509_name_constraints_add_permitted(nc, GNUTLS_SAN_DNSNAME, &spid);
    gnutls_x509_crt_set_name_constraints(p->crt, nc, 1);
    gnutls_x509_name_constraints_deinit(nc);
    unsigned char kid[64];
    size_t kidlen = sizeof kid;
    if (gnutls_x509_crt_get_key_id(p->crt, GNUTLS_KEYID_USE_SHA1, kid, &kidlen) >= 0)
        gnutls_x509_crt_set_subject_key_id(p->crt, kid, kidlen);
    assert_true(gnutls_x509_crt_sign2(p->crt, p->crt, p->key, GNUTLS_DIG_SHA256, 0) >= 0);
}

/* A leaf like wardenctl ca issue's for a CSE-ID DNS name or an AE-ID URI, written to NAME.pem/.key;
 * rsa: an RSA key instead of P-256. */
static void issue(struct env *e, const struct pair *ca, const char *name, int san_type, const char *san, bool rsa)
{
    struct pair p;
    assert_true(gnutls_x509_privkey_init(&p.key) >= 0);
    if (rsa)
        assert_true(gnutls_x509_privkey_generate(p.key, GNUTLS_PK_RSA, 2048, 0) >= 0);
    else
        assert_true(gnutls_x509_privkey_generate(p.key, GNUTLS_PK_ECDSA,
                                                 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) >= 0);
    assert_true(gnutls_x509_crt_init(&p.crt) >= 0);
    gnutls_x509_crt_set_version(p.crt, 3);
    serial(p.crt);
    assert_true(gnutls_x509_crt_set_dn(p.crt, "O=" SP, NULL) >= 0);
    assert_true(gnutls_x509_crt_set_key(p.crt, p.key) >= 0);
    gnutls_x509_crt_set_activation_time(p.crt, time(NULL) - 60);
    gnutls_x509_crt_set_expiration_time(p.crt, time(NULL) + 86400);
    gnutls_x509_crt_set_basic_constraints(p.crt, 0, -1);
    gnutls_x509_crt_set_key_usage(p.crt, GNUTLS_KEY_DIGITAL_SIGNATURE | (rsa ? GNUTLS_KEY_KEY_ENCIPHERMENT : 0));
    gnutls_x509_crt_set_key_purpose_oid(p.crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
    gnutls_x509_crt_set_key_purpose_oid(p.crt, GNUTLS_KP_TLS_WWW_CLIENT, 0);
    assert_true(gnutls_x509_crt_set_subject_alt_name(p.crt, san_type, san, (unsigned)strlen(san), GNUTLS_FSAN_SET) >=
                0);
    unsigned char kid[64];
    size_t kidlen = sizeof kid;
    if (gnutls_x509_crt_get_subject_key_id(ca->crt, kid, &kidlen, NULL) >= 0)
        gnutls_x509_crt_set_authority_key_id(p.crt, kid, kidlen);
    assert_true(gnutls_x509_crt_sign2(p.crt, ca->crt, ca->key, GNUTLS_DIG_SHA256, 0) >= 0);
    char f[256], file[300];
    path(e, name, f, sizeof f);
    snprintf(file, sizeof file, "%s.pem", f);
    write_pem(file, p.crt, NULL, false);
    snprintf(file, sizeof file, "%s.key", f);
    write_pem(file, NULL, p.key, false);
    gnutls_x509_crt_deinit(p.crt);
    gnutls_x509_privkey_deinit(p.key);
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    *state = e;
    snprintf(e->dir, sizeof e->dir, "/tmp/warden-kex-XXXXXX");
    if (mkdtemp(e->dir) == NULL)
        return -1;
    make_ca(&e->ca, "Warden test CA");
    make_ca(&e->ca2, "Another CA");
    char f[256];
    path(e, "ca.pem", f, sizeof f);
    write_pem(f, e->ca.crt, NULL, false);
    path(e, "ca2.pem", f, sizeof f);
    write_pem(f, e->ca2.crt, NULL, false);
    issue(e, &e->ca, "cse", GNUTLS_SAN_DNSNAME, "id-in." SP, false);
    issue(e, &e->ca, "ae", GNUTLS_SAN_URI, "//" SP "/id-in/Ckexdev", false);
    issue(e, &e->ca2, "ae-other-ca", GNUTLS_SAN_URI, "//" SP "/id-in/Ckexdev", false);
    issue(e, &e->ca, "ae-rsa", GNUTLS_SAN_URI, "//" SP "/id-in/Crsa", true);
    issue(e, &e->ca, "cse-rsa", GNUTLS_SAN_DNSNAME, "id-in." SP, true);

    config_defaults(&e->cfg);
    char err[256], v[300];
    snprintf(v, sizeof v, "%s/cse.pem", e->dir);
    assert_int_equal(config_set(&e->cfg, "tls.cert", v, err, sizeof err), 0);
    snprintf(v, sizeof v, "%s/cse.key", e->dir);
    assert_int_equal(config_set(&e->cfg, "tls.key", v, err, sizeof err), 0);
    snprintf(v, sizeof v, "%s/ca.pem", e->dir);
    assert_int_equal(config_set(&e->cfg, "tls.ca", v, err, sizeof err), 0);
    e->idenv.spid = SP;
    e->idenv.cse_id = "/id-in";
    snprintf(e->db, sizeof e->db, "%s/w.db", e->dir);
    e->cs = cred_open(e->db, err, sizeof err);
    assert_non_null(e->cs);
    struct tlsauth_env tenv = {.cfg = &e->cfg, .idenv = &e->idenv, .creds = e->cs};
    e->ta = tlsauth_new(&tenv, err, sizeof err);
    if (e->ta == NULL)
        fprintf(stderr, "tlsauth_new: %s\n", err);
    assert_non_null(e->ta);
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    tlsauth_free(e->ta);
    cred_close(e->cs);
    config_free(&e->cfg);
    gnutls_x509_crt_deinit(e->ca.crt);
    gnutls_x509_privkey_deinit(e->ca.key);
    gnutls_x509_crt_deinit(e->ca2.crt);
    gnutls_x509_privkey_deinit(e->ca2.key);
    nftw(e->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(e);
    return 0;
}

static struct escertke *initiator(struct env *e, const char *name, const char *ca, const char *expect)
{
    char cert[256], key[256], cafile[256], err[256];
    snprintf(cert, sizeof cert, "%s/%s.pem", e->dir, name);
    snprintf(key, sizeof key, "%s/%s.key", e->dir, name);
    snprintf(cafile, sizeof cafile, "%s/%s", e->dir, ca);
    static const struct id_env client_env = {.spid = "", .cse_id = ""};
    struct escertke_initiator_cfg c = {.cert = cert, .key = key, .ca = cafile, .expect = expect, .idenv = &client_env};
    struct escertke *k = escertke_new_initiator(&c, err, sizeof err);
    if (k == NULL)
        fprintf(stderr, "escertke_new_initiator: %s\n", err);
    assert_non_null(k);
    return k;
}

static struct escertke *terminator(struct env *e)
{
    char err[256];
    struct escertke *k = escertke_new_terminator(e->ta, "127.0.0.1", err, sizeof err);
    assert_non_null(k);
    return k;
}

/* A copy of a message (the engine's output buffer is reused by its next step). */
struct msg {
    unsigned char b[LIMIT_ESCERTKE_MSG];
    size_t n;
};

static void keep(struct msg *m, const unsigned char *p, size_t n)
{
    assert_true(n <= sizeof m->b);
    memcpy(m->b, p, n);
    m->n = n;
}

/* TS-0003 §8.7.2.2 C.1 and §10.3.1: four messages, then the same key and key ID on both ends; the
 * terminator names the initiator by the AE-ID in its certificate */
static void test_ts0003_8_7_both_roles_reach_the_same_key(void **state)
{
    struct env *e = *state;
    struct escertke *i = initiator(e, "ae", "ca.pem", "/id-in");
    struct escertke *t = terminator(e);
    const unsigned char *out;
    size_t n;
    struct msg m1, m2, m3, m4;
    assert_int_equal(escertke_step(i, NULL, 0, &out, &n), ESCERTKE_CONTINUE);
    keep(&m1, out, n);
    assert_true(escertke_is_client_hello(m1.b, m1.n));
    assert_int_equal(escertke_step(t, m1.b, m1.n, &out, &n), ESCERTKE_CONTINUE);
    keep(&m2, out, n);
    assert_false(escertke_is_client_hello(m2.b, m2.n));
    assert_int_equal(escertke_step(i, m2.b, m2.n, &out, &n), ESCERTKE_CONTINUE);
    keep(&m3, out, n);
    enum escertke_rc rc = escertke_step(t, m3.b, m3.n, &out, &n);
    if (rc != ESCERTKE_DONE)
        fprintf(stderr, "terminator: %s (%s)\n", escertke_error(t), escertke_reason(t));
    assert_int_equal(rc, ESCERTKE_DONE);
    keep(&m4, out, n);
    assert_true(m4.n > 0);
    rc = escertke_step(i, m4.b, m4.n, &out, &n);
    if (rc != ESCERTKE_DONE)
        fprintf(stderr, "initiator: %s (%s)\n", escertke_error(i), escertke_reason(i));
    assert_int_equal(rc, ESCERTKE_DONE);
    assert_int_equal(n, 0);

    unsigned char ki[ESCERTKE_KEY_LEN], kt[ESCERTKE_KEY_LEN], zero[ESCERTKE_KEY_LEN] = {0};
    char idi[ESCERTKE_KID_HEX_LEN + 1], idt[ESCERTKE_KID_HEX_LEN + 1];
    assert_int_equal(escertke_result(i, ki, idi), 0);
    assert_int_equal(escertke_result(t, kt, idt), 0);
    assert_memory_equal(ki, kt, sizeof ki);
    assert_memory_not_equal(ki, zero, sizeof ki);
    assert_string_equal(idi, idt);
    assert_int_equal(strlen(idi), ESCERTKE_KID_HEX_LEN);

    const char *const *ids;
    assert_int_equal(escertke_peer_ids(t, &ids), 1);
    assert_string_equal(ids[0], "//" SP "/id-in/Ckexdev");
    assert_int_equal(escertke_peer_ids(i, &ids), 1);
    assert_string_equal(ids[0], "//" SP "/id-in");
    /* a step after the end is refused */
    assert_int_equal(escertke_step(t, m3.b, m3.n, &out, &n), ESCERTKE_FAIL);
    escertke_free(i);
    escertke_free(t);

    /* a second exchange gives another key */
    i = initiator(e, "ae", "ca.pem", "//" SP "/id-in");
    t = terminator(e);
    assert_int_equal(escertke_step(i, NULL, 0, &out, &n), ESCERTKE_CONTINUE);
    keep(&m1, out, n);
    assert_int_equal(escertke_step(t, m1.b, m1.n, &out, &n), ESCERTKE_CONTINUE);
    keep(&m2, out, n);
    assert_int_equal(escertke_step(i, m2.b, m2.n, &out, &n), ESCERTKE_CONTINUE);
    keep(&m3, out, n);
    assert_int_equal(escertke_step(t, m3.b, m3.n, &out, &n), ESCERTKE_DONE);
    keep(&m4, out, n);
    assert_int_equal(escertke_step(i, m4.b, m4.n, &out, &n), ESCERTKE_DONE);
    char id2[ESCERTKE_KID_HEX_LEN + 1];
    assert_int_equal(escertke_result(i, kt, id2), 0);
    assert_string_not_equal(id2, idi);
    escertke_free(i);
    escertke_free(t);
}

/* Run the exchange until one side fails; returns which side failed (1 initiator, 2 terminator) and
 * leaves them for inspection. tamper: flip a byte of message N (1..4) before it is delivered;
 * cut: deliver only the first half of message N. */
static int run_until_failure(struct escertke *i, struct escertke *t, int tamper, int cut)
{
    const unsigned char *out;
    size_t n;
    struct msg m;
    struct escertke *side[2] = {i, t};
    enum escertke_rc rc = escertke_step(i, NULL, 0, &out, &n);
    for (int num = 1; num <= 4; num++) {
        if (rc == ESCERTKE_FAIL)
            return (num - 1) % 2 == 1 ? 2 : 1; /* the side fed message num-1 (the initiator at the start) */
        keep(&m, out, n);
        if (num == tamper)
            m.b[m.n - 3] ^= 0x40;
        if (num == cut)
            m.n /= 2;
        rc = escertke_step(side[num % 2], m.b, m.n, &out, &n);
    }
    return rc == ESCERTKE_FAIL ? 1 : 0;
}

/* TS-0003 §8.1.2.2 step 4: an initiator whose certificate does not chain to tls.ca is refused by the
 * terminator (an authentication failure, cert-untrusted), and no key results */
static void test_ts0003_8_7_initiator_from_another_ca_is_refused(void **state)
{
    struct env *e = *state;
    struct escertke *i = initiator(e, "ae-other-ca", "ca.pem", "/id-in");
    struct escertke *t = terminator(e);
    assert_int_equal(run_until_failure(i, t, 0, 0), 2);
    assert_true(escertke_failed_auth(t));
    assert_string_equal(escertke_reason(t), "cert-untrusted");
    unsigned char k[ESCERTKE_KEY_LEN];
    char kid[ESCERTKE_KID_HEX_LEN + 1];
    assert_int_equal(escertke_result(t, k, kid), -1);
    const char *const *ids;
    assert_int_equal(escertke_peer_ids(t, &ids), 0);
    escertke_free(i);
    escertke_free(t);
}

/* The initiator trusting another CA refuses the terminator before it sends Message 3 */
static void test_ts0003_8_7_terminator_from_another_ca_is_refused(void **state)
{
    struct env *e = *state;
    struct escertke *i = initiator(e, "ae", "ca2.pem", "/id-in");
    struct escertke *t = terminator(e);
    assert_int_equal(run_until_failure(i, t, 0, 0), 1);
    assert_true(escertke_failed_auth(i));
    escertke_free(i);
    escertke_free(t);
}

/* The initiator refuses a terminator whose certificate names another CSE than the one it asked for */
static void test_ts0003_8_7_terminator_with_another_identity_is_refused(void **state)
{
    struct env *e = *state;
    struct escertke *i = initiator(e, "ae", "ca.pem", "/id-mn");
    struct escertke *t = terminator(e);
    assert_int_equal(run_until_failure(i, t, 0, 0), 1);
    assert_string_equal(escertke_reason(i), "escertke-wrong-peer");
    escertke_free(i);
    escertke_free(t);
}

/* TS-0003 §10.1, §10.2.3: an RSA certificate is no ESCertKE credential, on either side */
static void test_ts0003_10_2_3_non_ecdsa_certificates_fail(void **state)
{
    struct env *e = *state;
    struct escertke *i = initiator(e, "ae-rsa", "ca.pem", "/id-in");
    struct escertke *t = terminator(e);
    int who = run_until_failure(i, t, 0, 0);
    assert_int_not_equal(who, 0);
    assert_true(escertke_failed_auth(t) || escertke_failed_auth(i));
    unsigned char k[ESCERTKE_KEY_LEN];
    char kid[ESCERTKE_KID_HEX_LEN + 1];
    assert_int_equal(escertke_result(t, k, kid), -1);
    escertke_free(i);
    escertke_free(t);

    /* a terminator with an RSA certificate has no ECDHE-ECDSA suite to offer */
    char v[300], err[256];
    snprintf(v, sizeof v, "%s/cse-rsa.pem", e->dir);
    config_set(&e->cfg, "tls.cert", v, err, sizeof err);
    snprintf(v, sizeof v, "%s/cse-rsa.key", e->dir);
    config_set(&e->cfg, "tls.key", v, err, sizeof err);
    struct tlsauth_env tenv = {.cfg = &e->cfg, .idenv = &e->idenv, .creds = e->cs};
    struct tlsauth *rsa = tlsauth_new(&tenv, err, sizeof err);
    assert_non_null(rsa);
    i = initiator(e, "ae", "ca.pem", "/id-in");
    t = escertke_new_terminator(rsa, "127.0.0.1", err, sizeof err);
    assert_non_null(t);
    assert_int_equal(run_until_failure(i, t, 0, 0), 2);
    escertke_free(i);
    escertke_free(t);
    tlsauth_free(rsa);
}

/* A flight changed on the way (Messages 2, 3 and 4 in turn) fails the handshake; no key results */
static void test_ts0003_8_7_tampered_flights_fail(void **state)
{
    struct env *e = *state;
    for (int num = 2; num <= 4; num++) {
        struct escertke *i = initiator(e, "ae", "ca.pem", "/id-in");
        struct escertke *t = terminator(e);
        int who = run_until_failure(i, t, num, 0);
        assert_int_equal(who, num % 2 == 0 ? 1 : 2);
        unsigned char k[ESCERTKE_KEY_LEN];
        char kid[ESCERTKE_KID_HEX_LEN + 1];
        assert_int_equal(escertke_result(who == 1 ? i : t, k, kid), -1);
        escertke_free(i);
        escertke_free(t);
    }
}

/* A truncated Message 1 or 3 is an incomplete message (bad message, not an authentication failure) */
static void test_ts0003_8_7_truncated_flights_fail(void **state)
{
    struct env *e = *state;
    for (int num = 1; num <= 3; num += 2) {
        struct escertke *i = initiator(e, "ae", "ca.pem", "/id-in");
        struct escertke *t = terminator(e);
        assert_int_equal(run_until_failure(i, t, 0, num), 2);
        assert_false(escertke_failed_auth(t));
        assert_string_equal(escertke_reason(t), "escertke-bad-message");
        escertke_free(i);
        escertke_free(t);
    }
}

/* Garbage, an empty message and an oversized one fail at once */
static void test_ts0003_8_7_garbage_fails(void **state)
{
    struct env *e = *state;
    const unsigned char *out;
    size_t n;
    static unsigned char junk[LIMIT_ESCERTKE_MSG + 1];
    memset(junk, 0x16, sizeof junk);
    struct escertke *t = terminator(e);
    assert_int_equal(escertke_step(t, (const unsigned char *)"hello", 5, &out, &n), ESCERTKE_FAIL);
    assert_string_equal(escertke_reason(t), "escertke-bad-message");
    escertke_free(t);
    t = terminator(e);
    assert_int_equal(escertke_step(t, NULL, 0, &out, &n), ESCERTKE_FAIL);
    escertke_free(t);
    t = terminator(e);
    assert_int_equal(escertke_step(t, junk, sizeof junk, &out, &n), ESCERTKE_FAIL);
    assert_string_equal(escertke_reason(t), "escertke-too-large");
    escertke_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ts0003_8_7_both_roles_reach_the_same_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ts0003_8_7_initiator_from_another_ca_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ts0003_8_7_terminator_from_another_ca_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ts0003_8_7_terminator_with_another_identity_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ts0003_10_2_3_non_ecdsa_certificates_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ts0003_8_7_tampered_flights_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ts0003_8_7_truncated_flights_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ts0003_8_7_garbage_fails, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
