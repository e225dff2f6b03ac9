/* Unit tests for the credential store (security/cred.h, store/cred_sqlite.c) and the identity a
 * certificate's subjectAltName carries (security/tlsauth.c): TS-0003 §8.2.2.1 KpsaIDs, §8.1.2 and
 * PRODUCT.md's SAN forms, revocation, binding at registration, the change generation. */
#include <gnutls/x509.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "tmpdir.h"

#include "core/id.h"
#include "security/cred.h"
#include "security/tlsauth.h"

struct env {
    char dir[64];
    char path[128];
    struct cred_store *cs;
};

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    *state = e;
    if (!tmpdir_make(e->dir, sizeof e->dir, "cred"))
        return -1;
    snprintf(e->path, sizeof e->path, "%s/sub/w.db", e->dir);
    char err[256];
    e->cs = cred_open(e->path, err, sizeof err);
    if (e->cs == NULL) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    cred_close(e->cs);
    tmpdir_remove(e->dir);
    free(e);
    return 0;
}

static const unsigned char KEY[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                      0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};

static void test_ts0003_8_2_2_1_kpsaid_syntax(void **state)
{
    (void)state;
    assert_true(cred_kpsaid_ok("dev1@warden.example.com"));
    assert_true(cred_kpsaid_ok("a.b_c-D9@mef.example"));
    assert_false(cred_kpsaid_ok("dev1"));                     /* no issuer FQDN */
    assert_false(cred_kpsaid_ok("@warden.example.com"));      /* empty relative part */
    assert_false(cred_kpsaid_ok("dev1@"));                    /* empty FQDN */
    assert_false(cred_kpsaid_ok("de v1@warden.example.com")); /* space */
    assert_false(cred_kpsaid_ok("dev/1@warden.example.com")); /* '/' */
    assert_false(cred_kpsaid_ok("dev1@warden..example.com")); /* empty label */
    assert_false(cred_kpsaid_ok("dev1@a@b"));                 /* two '@' */
    assert_false(cred_kpsaid_ok("dev1@warden.example.com.")); /* trailing dot */
    char longid[400];
    memset(longid, 'a', sizeof longid);
    memcpy(longid + 300, "@x.com", 7);
    assert_false(cred_kpsaid_ok(longid));
}

static void test_hex_and_serial(void **state)
{
    (void)state;
    unsigned char out[8];
    assert_int_equal(cred_hex_decode("00 11\n2233", out, sizeof out), 4);
    assert_int_equal(out[1], 0x11);
    assert_int_equal(cred_hex_decode("0g", out, sizeof out), -1);
    assert_int_equal(cred_hex_decode("abc", out, sizeof out), -1);       /* odd number of digits */
    assert_int_equal(cred_hex_decode("001122334455667788", out, 8), -1); /* longer than max */
    char s[CRED_SERIAL_MAX + 1];
    assert_true(cred_serial_norm("00:0A:bC:12", s, sizeof s));
    assert_string_equal(s, "abc12");
    assert_true(cred_serial_norm("0", s, sizeof s));
    assert_string_equal(s, "0");
    assert_false(cred_serial_norm("", s, sizeof s));
    assert_false(cred_serial_norm("xyz", s, sizeof s));
    unsigned char buf[4] = {1, 2, 3, 4};
    cred_wipe(buf, sizeof buf);
    assert_int_equal(buf[0] | buf[1] | buf[2] | buf[3], 0);
}

static void test_store_is_owner_only(void **state)
{
    struct env *e = *state;
    struct stat st;
    assert_int_equal(stat(e->path, &st), 0);
    assert_int_equal(st.st_mode & 077, 0);
}

static void test_psk_lifecycle(void **state)
{
    struct env *e = *state;
    struct cred_store *cs = e->cs;
    uint64_t g0 = cred_generation(cs);
    assert_int_equal(cred_psk_add(cs, "dev1@warden.example.com", KEY, sizeof KEY, "//warden.example.com/id-in/Cdev1"),
                     CRED_OK);
    assert_true(cred_generation(cs) != g0);
    /* an active credential is never silently replaced */
    assert_int_equal(cred_psk_add(cs, "dev1@warden.example.com", KEY, sizeof KEY, ""), CRED_EXISTS);
    /* too short / too long keys and malformed IDs are refused */
    assert_int_equal(cred_psk_add(cs, "dev2@warden.example.com", KEY, 8, ""), CRED_ERROR);
    assert_int_equal(cred_psk_add(cs, "dev2", KEY, sizeof KEY, ""), CRED_ERROR);

    struct cred_psk_info info;
    assert_int_equal(cred_psk_get(cs, "dev1@warden.example.com", &info), CRED_OK);
    assert_string_equal(info.binding, "//warden.example.com/id-in/Cdev1");
    assert_false(info.revoked);
    unsigned char k[CRED_KEY_MAX];
    size_t klen = 0;
    assert_int_equal(cred_psk_key(cs, "dev1@warden.example.com", k, &klen), CRED_OK);
    assert_int_equal(klen, sizeof KEY);
    assert_memory_equal(k, KEY, sizeof KEY);
    assert_int_equal(cred_psk_key(cs, "nobody@warden.example.com", k, &klen), CRED_NOT_FOUND);

    uint64_t g1 = cred_generation(cs);
    assert_int_equal(cred_psk_revoke(cs, "dev1@warden.example.com"), CRED_OK);
    assert_true(cred_generation(cs) != g1);
    assert_int_equal(cred_psk_key(cs, "dev1@warden.example.com", k, &klen), CRED_REVOKED);
    assert_int_equal(cred_psk_get(cs, "dev1@warden.example.com", &info), CRED_REVOKED);
    assert_int_equal(cred_psk_revoke(cs, "dev1@warden.example.com"), CRED_REVOKED);
    assert_int_equal(cred_psk_revoke(cs, "nobody@warden.example.com"), CRED_NOT_FOUND);
    /* rotation: a revoked KpsaID may be provisioned again with a new key */
    unsigned char key2[32] = {9};
    assert_int_equal(cred_psk_add(cs, "dev1@warden.example.com", key2, sizeof key2, ""), CRED_OK);
    assert_int_equal(cred_psk_key(cs, "dev1@warden.example.com", k, &klen), CRED_OK);
    assert_int_equal(klen, sizeof key2);
}

static void test_revoked_key_is_erased(void **state)
{
    struct env *e = *state;
    static const unsigned char marker[16] = "WARDEN-KEY-MARK";
    assert_int_equal(cred_psk_add(e->cs, "m@warden.example.com", marker, sizeof marker, ""), CRED_OK);
    assert_int_equal(cred_psk_revoke(e->cs, "m@warden.example.com"), CRED_OK);
    cred_close(e->cs);
    char err[256];
    e->cs = cred_open(e->path, err, sizeof err); /* checkpoints nothing; look in the file and its WAL */
    assert_non_null(e->cs);
    const char *files[] = {"", "-wal"};
    for (int i = 0; i < 2; i++) {
        char p[160];
        snprintf(p, sizeof p, "%s%s", e->path, files[i]);
        FILE *f = fopen(p, "rb");
        if (f == NULL)
            continue;
        static char buf[1 << 20];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        bool found = false;
        for (size_t j = 0; j + sizeof marker - 1 <= n && !found; j++)
            found = memcmp(buf + j, marker, sizeof marker - 1) == 0;
        /* the WAL may still hold the frame written at provisioning until its next checkpoint; the
         * database file itself never keeps it once a checkpoint wrote the zeroed page */
        if (i == 0)
            assert_false(found);
    }
}

static void test_kpsaid_fqdn_case_insensitive(void **state)
{
    struct env *e = *state;
    char n[CRED_KPSAID_MAX + 1];
    cred_kpsaid_norm("Dev.One@Warden.EXAMPLE.com", n);
    assert_string_equal(n, "Dev.One@warden.example.com"); /* the relative part keeps its case */
    assert_int_equal(cred_psk_add(e->cs, "dev@Warden.Example.COM", KEY, sizeof KEY, ""), CRED_OK);
    struct cred_psk_info info;
    assert_int_equal(cred_psk_get(e->cs, "dev@warden.example.com", &info), CRED_OK);
    assert_string_equal(info.kpsa_id, "dev@warden.example.com");
    assert_int_equal(cred_psk_add(e->cs, "dev@WARDEN.example.com", KEY, sizeof KEY, ""), CRED_EXISTS);
    assert_int_equal(cred_psk_get(e->cs, "Dev@warden.example.com", &info), CRED_NOT_FOUND);
}

struct listing {
    int n;
    char first[CRED_KPSAID_MAX + 1];
};

static void collect(void *arg, const struct cred_psk_info *info)
{
    struct listing *l = arg;
    if (l->n++ == 0)
        snprintf(l->first, sizeof l->first, "%s", info->kpsa_id);
}

static void test_list_and_cert_revocation(void **state)
{
    struct env *e = *state;
    assert_int_equal(cred_psk_add(e->cs, "b@warden.example.com", KEY, sizeof KEY, ""), CRED_OK);
    assert_int_equal(cred_psk_add(e->cs, "a@warden.example.com", KEY, sizeof KEY, ""), CRED_OK);
    struct listing l = {0};
    assert_int_equal(cred_psk_list(e->cs, collect, &l), CRED_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.first, "a@warden.example.com");

    assert_int_equal(cred_cert_status(e->cs, "abc12"), CRED_OK);
    assert_int_equal(cred_cert_revoke(e->cs, "abc12"), CRED_OK);
    assert_int_equal(cred_cert_status(e->cs, "abc12"), CRED_REVOKED);
    assert_int_equal(cred_cert_revoke(e->cs, "abc12"), CRED_REVOKED);
}

/* another connection (wardenctl) changes the store: the watcher moves the generation */
static void test_generation_sees_other_process(void **state)
{
    struct env *e = *state;
    assert_int_equal(cred_watch_start(e->cs, 20), 0);
    uint64_t g = cred_generation(e->cs);
    char err[256];
    struct cred_store *other = cred_open(e->path, err, sizeof err);
    assert_non_null(other);
    assert_int_equal(cred_cert_revoke(other, "1234"), CRED_OK);
    cred_close(other);
    for (int i = 0; i < 200 && cred_generation(e->cs) == g; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_true(cred_generation(e->cs) != g);
}

static void test_ts0003_8_1_2_san_identity(void **state)
{
    (void)state;
    struct id_env env = {.spid = "warden.example.com", .cse_id = "/id-in"};
    char c[256];
    /* AE-ID: the absolute AE-ID in a URI, with or without a scheme */
    assert_true(tlsauth_san_identity(&env, GNUTLS_SAN_URI, "//warden.example.com/id-in/Cdev2", c, sizeof c));
    assert_string_equal(c, "//warden.example.com/id-in/Cdev2");
    assert_true(tlsauth_san_identity(&env, GNUTLS_SAN_URI, "oneM2M://warden.example.com/id-in/Cdev2", c, sizeof c));
    assert_string_equal(c, "//warden.example.com/id-in/Cdev2");
    assert_true(tlsauth_san_identity(&env, GNUTLS_SAN_URI, "//warden.example.com/Sdev3", c, sizeof c));
    assert_string_equal(c, "//warden.example.com/Sdev3");
    /* not AE-IDs: relative forms, CSE-IDs, wildcards, bad schemes */
    assert_false(tlsauth_san_identity(&env, GNUTLS_SAN_URI, "/id-in/Cdev2", c, sizeof c));
    assert_false(tlsauth_san_identity(&env, GNUTLS_SAN_URI, "Cdev2", c, sizeof c));
    assert_false(tlsauth_san_identity(&env, GNUTLS_SAN_URI, "//warden.example.com/id-mn", c, sizeof c));
    assert_false(tlsauth_san_identity(&env, GNUTLS_SAN_URI, "//warden.example.com/id-in/C*", c, sizeof c));
    assert_false(tlsauth_san_identity(&env, GNUTLS_SAN_URI, "a b://warden.example.com/id-in/Cdev2", c, sizeof c));
    assert_false(tlsauth_san_identity(&env, GNUTLS_SAN_URI, "x//warden.example.com/id-in/Cdev2", c, sizeof c));
    /* CSE-ID: the public domain name <cse>.<sp> */
    assert_true(tlsauth_san_identity(&env, GNUTLS_SAN_DNSNAME, "id-mn.warden.example.com", c, sizeof c));
    assert_string_equal(c, "//warden.example.com/id-mn");
    assert_false(tlsauth_san_identity(&env, GNUTLS_SAN_DNSNAME, "*.warden.example.com", c, sizeof c));
    assert_false(tlsauth_san_identity(&env, GNUTLS_SAN_DNSNAME, "localhost", c, sizeof c));
    assert_false(tlsauth_san_identity(&env, GNUTLS_SAN_DNSNAME, ".warden.example.com", c, sizeof c));
    /* other SAN types never carry an identity */
    assert_false(tlsauth_san_identity(&env, GNUTLS_SAN_RFC822NAME, "a@warden.example.com", c, sizeof c));
    /* the output buffer bounds the result */
    assert_false(tlsauth_san_identity(&env, GNUTLS_SAN_URI, "//warden.example.com/id-in/Cdev2", c, 8));
}

/* Finding 14: the audit key is made once (random, 32 bytes), the same for every later reader, and
 * not made by a reader that asks without create. */
static void test_finding_14_audit_key_made_once(void **state)
{
    struct env *e = *state;
    unsigned char k1[CRED_AUDIT_KEY_LEN], k2[CRED_AUDIT_KEY_LEN], zero[CRED_AUDIT_KEY_LEN] = {0};
    assert_int_equal(cred_audit_key(e->cs, false, k1), CRED_NOT_FOUND);
    assert_int_equal(cred_audit_key(e->cs, true, k1), CRED_OK);
    assert_memory_not_equal(k1, zero, sizeof k1);
    assert_int_equal(cred_audit_key(e->cs, true, k2), CRED_OK);
    assert_memory_equal(k1, k2, sizeof k1);
    char err[256];
    struct cred_store *other = cred_open(e->path, err, sizeof err);
    assert_non_null(other);
    assert_int_equal(cred_audit_key(other, false, k2), CRED_OK);
    assert_memory_equal(k1, k2, sizeof k1);
    cred_close(other);
}

/* RFC 5280 §4.2.1.10 as TS-0003 §10.1.1.5 applies it: a URI constraint names the host part. */
static void test_rfc5280_4_2_1_10_uri_constraint_on_host(void **state)
{
    (void)state;
    const char *c = "warden.example.com";
    assert_true(tlsauth_uri_constraint_matches(c, "//warden.example.com/id-in/Cdev2"));
    assert_true(tlsauth_uri_constraint_matches(c, "oneM2M://WARDEN.example.com/id-in/Cdev2"));
    assert_true(tlsauth_uri_constraint_matches(c, "https://user@warden.example.com:8443/x"));
    assert_true(tlsauth_uri_constraint_matches(c, "//warden.example.com"));
    /* a host constraint is that host only */
    assert_false(tlsauth_uri_constraint_matches(c, "//sub.warden.example.com/id-in/Cdev2"));
    assert_false(tlsauth_uri_constraint_matches(c, "//evilwarden.example.com/id-in/Cdev2"));
    assert_false(tlsauth_uri_constraint_matches(c, "//warden.example.com.evil.org/x"));
    /* a domain constraint is any host below it, not the domain itself */
    assert_true(tlsauth_uri_constraint_matches(".example.com", "//warden.example.com/x"));
    assert_false(tlsauth_uri_constraint_matches(".example.com", "//example.com/x"));
    assert_false(tlsauth_uri_constraint_matches(".example.com", "//evilexample.com/x"));
    /* no DNS host: never within a constraint */
    assert_false(tlsauth_uri_constraint_matches(c, "/id-in/Cdev2"));
    assert_false(tlsauth_uri_constraint_matches(c, "Cdev2"));
    assert_false(tlsauth_uri_constraint_matches(c, "///id-in"));
    assert_false(tlsauth_uri_constraint_matches(c, "//[::1]/x"));
    assert_false(tlsauth_uri_constraint_matches(c, "/x//warden.example.com/"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ts0003_8_2_2_1_kpsaid_syntax),
        cmocka_unit_test(test_hex_and_serial),
        cmocka_unit_test(test_ts0003_8_1_2_san_identity),
        cmocka_unit_test(test_rfc5280_4_2_1_10_uri_constraint_on_host),
        T(test_store_is_owner_only),
        T(test_finding_14_audit_key_made_once),
        T(test_psk_lifecycle),
        T(test_revoked_key_is_erased),
        T(test_kpsaid_fqdn_case_insensitive),
        T(test_list_and_cert_revocation),
        T(test_generation_sees_other_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
