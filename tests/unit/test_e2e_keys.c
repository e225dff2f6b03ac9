/* Unit tests for the end-to-end key store (security/e2e_keys.h, store/cred_e2e_sqlite.c) and the
 * end-to-end key derivations (e2e/e2e_kdf.h): TS-0003 §8.4.2 pairwiseESPrimKey, §10.3.6 keys from a
 * Kpsa, §10.3.8.2 sessionESPrimKey. The derivation vectors were computed independently with
 * /usr/bin/python3's hmac and hashlib modules (the script is in the comment above each). */
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

#include "tmpdir.h"

#include "e2e/e2e_kdf.h"
#include "e2e/escertke.h"
#include "security/cred.h"
#include "security/e2e_keys.h"
#include "store/store.h"

struct env {
    char dir[64];
    char path[128];
    struct store *st;
    struct cred_store *cs;
};

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    *state = e;
    if (!tmpdir_make(e->dir, sizeof e->dir, "e2e"))
        return -1;
    snprintf(e->path, sizeof e->path, "%s/w.db", e->dir);
    char err[256];
    /* the store's migrations make the e2e_key table (migration 9) */
    e->st = store_sqlite_open(e->path, false, 1, err, sizeof err);
    e->cs = e->st ? cred_open(e->path, err, sizeof err) : NULL;
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
    e->st->ops->close(e->st);
    tmpdir_remove(e->dir);
    free(e);
    return 0;
}

static struct e2e_key mk(const char *kid, const char *local, const char *peer, unsigned char fill, size_t len)
{
    struct e2e_key k;
    memset(&k, 0, sizeof k);
    snprintf(k.kid, sizeof k.kid, "%s", kid);
    snprintf(k.local_id, sizeof k.local_id, "%s", local);
    snprintf(k.peer_id, sizeof k.peer_id, "%s", peer);
    memset(k.key, fill, len);
    k.key_len = len;
    k.source = E2E_KEY_PROVISIONED;
    return k;
}

#define IN "//warden.example.com/id-in"
#define AE "//warden.example.com/id-mn/Cae1"

/* put, get by kid, a second put of a live kid refused (1), bad input refused (-1) */
static void test_ts0003_8_4_2_put_get(void **state)
{
    struct env *e = *state;
    struct e2e_key k = mk("k1", IN, AE, 0xab, 32), out;
    assert_int_equal(e2e_key_put(e->cs, &k), 0);
    assert_int_equal(e2e_key_get(e->cs, "k1", &out), 0);
    assert_string_equal(out.local_id, IN);
    assert_string_equal(out.peer_id, AE);
    assert_int_equal(out.key_len, 32);
    assert_memory_equal(out.key, k.key, 32);
    assert_int_equal(out.source, E2E_KEY_PROVISIONED);
    assert_true(out.created_s > 0);
    assert_int_equal(e2e_key_put(e->cs, &k), 1);
    assert_int_equal(e2e_key_get(e->cs, "nope", &out), 1);
    struct e2e_key bad = mk("k2", IN, AE, 1, 20); /* not 16, 24 or 32 */
    assert_int_equal(e2e_key_put(e->cs, &bad), -1);
    bad = mk("has space", IN, AE, 1, 16);
    assert_int_equal(e2e_key_put(e->cs, &bad), -1);
    bad = mk("k3", "", AE, 1, 16);
    assert_int_equal(e2e_key_put(e->cs, &bad), -1);
}

/* the newest live key of a pair, found in either order; revoked and expired keys are not found */
static void test_ts0003_8_4_2_find_pair_newest_live(void **state)
{
    struct env *e = *state;
    struct e2e_key a = mk("old", IN, AE, 1, 16), b = mk("new", AE, IN, 2, 24), c = mk("other", IN, "//x/y", 3, 16), out;
    assert_int_equal(e2e_key_put(e->cs, &a), 0);
    assert_int_equal(e2e_key_put(e->cs, &b), 0);
    assert_int_equal(e2e_key_put(e->cs, &c), 0);
    assert_int_equal(e2e_key_find_pair(e->cs, IN, AE, &out), 0);
    assert_string_equal(out.kid, "new");
    assert_int_equal(e2e_key_find_pair(e->cs, AE, IN, &out), 0);
    assert_string_equal(out.kid, "new");
    assert_int_equal(e2e_key_revoke(e->cs, "new"), 0);
    assert_int_equal(e2e_key_find_pair(e->cs, AE, IN, &out), 0);
    assert_string_equal(out.kid, "old");
    struct e2e_key x = mk("expired", IN, AE, 4, 16);
    x.expires_s = (int64_t)time(NULL) - 1;
    assert_int_equal(e2e_key_put(e->cs, &x), 0);
    assert_int_equal(e2e_key_get(e->cs, "expired", &out), 1);
    assert_int_equal(e2e_key_find_pair(e->cs, IN, AE, &out), 0);
    assert_string_equal(out.kid, "old");
    assert_int_equal(e2e_key_find_pair(e->cs, IN, "//nobody", &out), 1);
}

struct seen {
    int n;
    int revoked;
};

static void count(void *arg, const struct e2e_key_info *info)
{
    struct seen *s = arg;
    s->n++;
    if (info->revoked_s)
        s->revoked++;
}

/* revocation is immediate, also for another connection (wardenctl and the server are two
 * processes), erases the key bytes, and a revoked kid may be provisioned again */
static void test_ts0003_8_4_2_revoke_immediate_and_erased(void **state)
{
    struct env *e = *state;
    struct e2e_key k = mk("r1", IN, AE, 0x5a, 16), out;
    assert_int_equal(e2e_key_put(e->cs, &k), 0);
    char err[256];
    struct cred_store *other = cred_open(e->path, err, sizeof err);
    assert_non_null(other);
    assert_int_equal(e2e_key_get(e->cs, "r1", &out), 0);
    uint64_t gen = cred_generation(e->cs);
    assert_int_equal(e2e_key_revoke(other, "r1"), 0);
    assert_int_equal(e2e_key_get(e->cs, "r1", &out), 1);
    assert_int_equal(e2e_key_revoke(other, "r1"), 1);
    assert_int_equal(e2e_key_revoke(other, "never"), 1);
    cred_close(other);
    (void)gen;
    struct seen s = {0, 0};
    assert_int_equal(e2e_key_list(e->cs, count, &s), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.revoked, 1);
    /* the key bytes are gone from the database file */
    FILE *f = fopen(e->path, "rb");
    assert_non_null(f);
    static unsigned char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    for (size_t i = 0; i + 16 <= n; i++)
        assert_false(memcmp(buf + i, k.key, 16) == 0);
    k.key[0] = 0x11;
    assert_int_equal(e2e_key_put(e->cs, &k), 0);
    assert_int_equal(e2e_key_get(e->cs, "r1", &out), 0);
    assert_int_equal(out.key[0], 0x11);
}

static void hex(const char *h, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
}

/* TS-0003 §10.3.6, vectors from:
 *   import hmac, hashlib
 *   m = hmac.new(b"//warden.example.com/id-in/Cae1", bytes(range(32)), hashlib.sha256).digest()
 *   t = b""; for i, l in enumerate(labels): t = hmac.new(m, t + l + bytes([i + 1]), hashlib.sha256).digest() */
static void test_ts0003_10_3_6_kdf_from_kpsa_vectors(void **state)
{
    (void)state;
    static const char *const want[4] = {
        "97dc36ab6ff870c0471df3562d0bbb41282ac0f5a0c4e7fbf6b9da1ad1f680f8",
        "ae0399034c2f0a9f4b524d7c045f074975f2dc57b76466c2ce3fd4766b9a56c6",
        "712d3fa19365735e37f81da3d993c473dcc687d93e0727f0ecc1b7fabbe816c3",
        "ec8e6ce07f5a55a2d424194a4a0e029024e5e3c30f0e361620128289e73952cc",
    };
    unsigned char kpsa[32], out[32], exp[32];
    for (int i = 0; i < 32; i++)
        kpsa[i] = (unsigned char)i;
    for (int w = 1; w <= 4; w++) {
        assert_int_equal(e2e_kdf_from_kpsa(kpsa, sizeof kpsa, "//warden.example.com/id-in/Cae1", w, out), 0);
        hex(want[w - 1], exp, 32);
        assert_memory_equal(out, exp, 32);
    }
    assert_int_equal(E2E_KDF_PAIRWISE_ESPRIM, 2);
    assert_int_equal(e2e_kdf_from_kpsa(kpsa, sizeof kpsa, "", 2, out), -1);
    assert_int_equal(e2e_kdf_from_kpsa(kpsa, sizeof kpsa, "x", 5, out), -1);
}

/* TS-0003 §10.3.8.2, vector from:
 *   hmac.new(bytes.fromhex("00112233...eeff" * 2), b'{"esri":"r1"}' + b'{"esri":"o1"}'
 *            + b"oneM2M HMAC-SHA256 sessionESPrimKey derivation algorithm", hashlib.sha256).digest()
 * truncated to the leftmost 16 and 24 bytes for A128GCM and A192GCM */
static void test_ts0003_10_3_8_2_session_key_vector(void **state)
{
    (void)state;
    unsigned char pw[32], want[32], out[32];
    hex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", pw, 32);
    hex("77d544271ace5c01798f755efa49e2ed70a1e22b2559e8442e9dafbe5ddf315a", want, 32);
    const char *r = "{\"esri\":\"r1\"}", *o = "{\"esri\":\"o1\"}";
    size_t lens[3] = {16, 24, 32};
    for (int i = 0; i < 3; i++) {
        memset(out, 0, sizeof out);
        assert_int_equal(e2e_session_key(pw, 32, (const unsigned char *)r, strlen(r), (const unsigned char *)o,
                                         strlen(o), out, lens[i]),
                         0);
        assert_memory_equal(out, want, lens[i]);
    }
    assert_int_equal(e2e_session_key(pw, 32, (const unsigned char *)r, 1, (const unsigned char *)o, 1, out, 20), -1);
}

/* red finding 10: a new ESCertKE key revokes the pair's earlier ESCertKE keys (either order), not a
 * provisioned key of the pair nor another pair's; escertke.key_lifetime sets its expiry; a key that
 * could not be stored supersedes nothing */
static void test_red_10_escertke_key_store_supersedes_the_pairs_keys(void **state)
{
    struct env *e = *state;
    struct e2e_key o1 = mk("o1", IN, AE, 1, 32), o2 = mk("o2", AE, IN, 2, 32), p = mk("prov", IN, AE, 3, 32),
                   x = mk("other", IN, "//x/y", 4, 32), n1 = mk("n1", IN, AE, 5, 32), out;
    o1.source = o2.source = x.source = n1.source = E2E_KEY_ESCERTKE;
    assert_int_equal(e2e_key_put(e->cs, &o1), 0);
    assert_int_equal(e2e_key_put(e->cs, &o2), 0);
    assert_int_equal(e2e_key_put(e->cs, &p), 0);
    assert_int_equal(e2e_key_put(e->cs, &x), 0);
    n1.created_s = (int64_t)time(NULL);
    int sup = -1;
    assert_int_equal(escertke_key_store(e->cs, &n1, 0, &sup), 0);
    assert_int_equal(sup, 2);
    assert_int_equal(e2e_key_get(e->cs, "o1", &out), 1);
    assert_int_equal(e2e_key_get(e->cs, "o2", &out), 1);
    assert_int_equal(e2e_key_get(e->cs, "prov", &out), 0);
    assert_int_equal(e2e_key_get(e->cs, "other", &out), 0);
    assert_int_equal(e2e_key_get(e->cs, "n1", &out), 0);
    assert_int_equal(out.expires_s, 0);
    /* the same kid again: refused, and n1 stays live */
    assert_int_equal(escertke_key_store(e->cs, &n1, 0, &sup), 1);
    assert_int_equal(sup, 0);
    assert_int_equal(e2e_key_get(e->cs, "n1", &out), 0);
    struct e2e_key n2 = mk("n2", AE, IN, 6, 32);
    n2.source = E2E_KEY_ESCERTKE;
    n2.created_s = (int64_t)time(NULL);
    assert_int_equal(escertke_key_store(e->cs, &n2, 60, &sup), 0);
    assert_int_equal(sup, 1);
    assert_int_equal(e2e_key_get(e->cs, "n1", &out), 1);
    assert_int_equal(e2e_key_get(e->cs, "n2", &out), 0);
    assert_int_equal(out.expires_s, n2.created_s + 60);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_ts0003_8_4_2_put_get),
        T(test_ts0003_8_4_2_find_pair_newest_live),
        T(test_ts0003_8_4_2_revoke_immediate_and_erased),
        T(test_red_10_escertke_key_store_supersedes_the_pairs_keys),
        cmocka_unit_test(test_ts0003_10_3_6_kdf_from_kpsa_vectors),
        cmocka_unit_test(test_ts0003_10_3_8_2_session_key_vector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
