/* Unit tests for the ESPrim Object and rand objects (e2e/esprim_obj.h) and the client library's
 * exchange with them (e2e/esprim_client.h): TS-0003 §8.4.3.1 rand objects and their serialisation
 * (Warden's choice: compact JSON, keys sorted), §8.4.3.2 the JWE compact object (dir,
 * A128/192/256GCM), §10.3.8.2 the session key over the serialised objects. The vector was computed
 * independently with /usr/bin/python3:
 *   c = lambda o: json.dumps(o, separators=(",", ":"), sort_keys=True)
 *   hmac.new(bytes(range(32)), c(rro).encode() + c(oro).encode()
 *            + b"oneM2M HMAC-SHA256 sessionESPrimKey derivation algorithm", hashlib.sha256).hexdigest() */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "e2e/e2e_kdf.h"
#include "e2e/esprim_client.h"
#include "e2e/esprim_obj.h"
#include "e2e/esprim_replay.h"
#include "e2e/esprim_rx.h"
#include "util/mem.h"

static const char RRO[] = "{\"esri\":\"u1-00aa11bb\",\"esrv\":\"00112233445566778899aabbccddeeff\","
                          "\"esrx\":\"20991231T235959\",\"esks\":[1],\"espa\":[10,11,12]}";
static const char ORO[] = "{\"esri\":\"o1\",\"esrv\":\"ffeeddccbbaa99887766554433221100\",\"esrx\":\"20991231T000000\","
                          "\"esk\":1,\"espa\":[12]}";

static void test_ts0003_8_4_3_1_rand_object_serialisation_and_session_key(void **state)
{
    (void)state;
    json_t *r = json_loads(RRO, 0, NULL), *o = json_loads(ORO, 0, NULL);
    size_t rl, ol;
    int64_t rx, ox;
    const char *why;
    char *rc = esprim_randobj_canon(r, true, &rl, &rx, &why);
    char *oc = esprim_randobj_canon(o, false, &ol, &ox, &why);
    assert_non_null(rc);
    assert_non_null(oc);
    assert_string_equal(rc, "{\"esks\":[1],\"espa\":[10,11,12],\"esri\":\"u1-00aa11bb\",\"esrv\":"
                            "\"00112233445566778899aabbccddeeff\",\"esrx\":\"20991231T235959\"}");
    assert_string_equal(oc, "{\"esk\":1,\"espa\":[12],\"esri\":\"o1\",\"esrv\":\"ffeeddccbbaa99887766554433221100\","
                            "\"esrx\":\"20991231T000000\"}");
    assert_true(ox < rx);
    unsigned char pw[32], sk[32], want[32];
    for (int i = 0; i < 32; i++)
        pw[i] = (unsigned char)i;
    static const char hex[] = "febc472c85f75efc8999a8f47ddb7e460e28ab9749cf6e7b460d3c9853e15f16";
    for (int i = 0; i < 32; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        want[i] = (unsigned char)v;
    }
    assert_int_equal(e2e_session_key(pw, 32, (const unsigned char *)rc, rl, (const unsigned char *)oc, ol, sk, 32), 0);
    assert_memory_equal(sk, want, 32);
    /* a receiver object is not an originator object and the other way round */
    assert_null(esprim_randobj_canon(r, false, &rl, &rx, &why));
    assert_null(esprim_randobj_canon(o, true, &ol, &ox, &why));
    mem_free(rc);
    mem_free(oc);
    json_decref(r);
    json_decref(o);
}

static void test_ts0003_8_4_3_2_seal_open_every_enc_and_tamper(void **state)
{
    (void)state;
    const char *encs[] = {"A128GCM", "A192GCM", "A256GCM"};
    unsigned char key[32];
    memset(key, 0x42, sizeof key);
    const char msg[] = "{\"op\":2,\"to\":\"cse-in\",\"fr\":\"Cae\",\"rqi\":\"1\",\"rvi\":\"3\"}";
    for (int i = 0; i < 3; i++) {
        size_t kl = esprim_enc_keylen(encs[i]);
        char *c = esprim_seal(key, kl, encs[i], "k1", "application/json", "o1", "u1-aa", ORO, NULL, msg, strlen(msg));
        assert_non_null(c);
        struct esprim_hdr h;
        const char *why;
        assert_int_equal(esprim_parse(c, strlen(c), &h, &why), 0);
        assert_string_equal(h.kid, "k1");
        assert_string_equal(h.ori, "o1");
        assert_string_equal(h.rri, "u1-aa");
        assert_string_equal(h.enc, encs[i]);
        assert_non_null(h.oro);
        assert_null(h.rro);
        esprim_hdr_free(&h);
        char *pt = NULL;
        size_t pl = 0;
        assert_int_equal(esprim_open(c, strlen(c), key, kl, &pt, &pl), 0);
        assert_int_equal(pl, strlen(msg));
        assert_memory_equal(pt, msg, pl);
        mem_free(pt);
        /* one character of the ciphertext changed: the tag does not verify (Table 7.6.2-1: 4115) */
        char *dot = strchr(strchr(strchr(c, '.') + 1, '.') + 1, '.') + 1;
        dot[1] = dot[1] == 'A' ? 'B' : 'A';
        assert_int_equal(esprim_open(c, strlen(c), key, kl, &pt, &pl), 4115);
        mem_free(c);
    }
}

static void test_ts0003_8_4_3_2_header_refusals(void **state)
{
    (void)state;
    struct esprim_hdr h;
    const char *why;
    /* {"alg":"A128KW","enc":"A256GCM","kid":"k","ori":"o","rri":"r"} */
    const char *kw = "eyJhbGciOiJBMTI4S1ciLCJlbmMiOiJBMjU2R0NNIiwia2lkIjoiayIsIm9yaSI6Im8iLCJycmkiOiJyIn0.."
                     "AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA";
    assert_int_equal(esprim_parse(kw, strlen(kw), &h, &why), 4111);
    assert_non_null(why);
    esprim_hdr_free(&h);
    /* an IV or tag of another length than A*GCM's 96 and 128 bits never reaches cjose, which would
     * read 12 bytes of IV whatever was sent (heap over-read found by fuzz_esprim) */
    const char *dir = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwia2lkIjoiayIsIm9yaSI6Im8iLCJycmkiOiJyIn0";
    const char *shapes[] = {"..AAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA", "..AAAAAAAAAAAAAAAA.AAAA.AAAA",
                            "..AAAAAAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA"};
    unsigned char key[32] = {0};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        char obj[256];
        snprintf(obj, sizeof obj, "%s%s", dir, shapes[i]);
        assert_int_equal(esprim_parse(obj, strlen(obj), &h, &why), 4000);
        esprim_hdr_free(&h);
        char *pt = NULL;
        size_t pl = 0;
        assert_int_equal(esprim_open(obj, strlen(obj), key, 32, &pt, &pl), 4000);
        assert_null(pt);
    }
    const char *four = "eyJhbGciOiJkaXIifQ..AAAA.AAAA";
    assert_int_equal(esprim_parse(four, strlen(four), &h, &why), 4000);
    esprim_hdr_free(&h);
    assert_int_equal(esprim_parse("", 0, &h, &why), 4000);
    esprim_hdr_free(&h);
}

/* the client library against a receiver object: what it seals opens with the session key the
 * receiver derives from the same objects; the answer of another exchange is refused */
static void test_ts0003_8_4_2_client_exchange(void **state)
{
    (void)state;
    unsigned char key[32];
    memset(key, 7, sizeof key);
    struct esprim_client *ec = esprim_client_new("k1", key, 32, "A128GCM");
    assert_non_null(ec);
    char sit4[512];
    snprintf(sit4, sizeof sit4, "{\"m2m:seci\":{\"sit\":4,\"ero\":%s}}", RRO);
    const char *why;
    assert_int_equal(esprim_client_receiver(ec, sit4, strlen(sit4), 1700000000, &why), 0);
    const char inner[] = "{\"op\":2,\"to\":\"cse-in\",\"fr\":\"Cae\",\"rqi\":\"1\",\"rvi\":\"3\"}";
    size_t ol;
    char *outer = esprim_client_seal(ec, inner, strlen(inner), &ol);
    assert_non_null(outer);
    json_t *root = json_loads(outer, 0, NULL);
    const char *epo = json_string_value(json_object_get(json_object_get(root, "m2m:seci"), "epo"));
    struct esprim_hdr h;
    assert_int_equal(esprim_parse(epo, strlen(epo), &h, &why), 0);
    /* the receiver's side */
    size_t rl, orl;
    int64_t rx, ox;
    json_t *r = json_loads(RRO, 0, NULL);
    char *rc = esprim_randobj_canon(r, true, &rl, &rx, &why), *oc = esprim_randobj_canon(h.oro, false, &orl, &ox, &why);
    assert_true(ox <= rx);
    unsigned char sk[16];
    assert_int_equal(e2e_session_key(key, 32, (unsigned char *)rc, rl, (unsigned char *)oc, orl, sk, 16), 0);
    char *pt;
    size_t pl;
    assert_int_equal(esprim_open(epo, strlen(epo), sk, 16, &pt, &pl), 0);
    assert_memory_equal(pt, inner, pl);
    mem_free(pt);
    /* the receiver's answer under the same key opens; one naming other rand IDs does not */
    const char resp[] = "{\"rsc\":2000,\"rqi\":\"1\"}";
    char *ans = esprim_seal(sk, 16, "A128GCM", "k1", NULL, h.ori, h.rri, NULL, NULL, resp, strlen(resp));
    char body[4096];
    snprintf(body, sizeof body, "{\"m2m:seci\":{\"sit\":5,\"epo\":\"%s\"}}", ans);
    char *in;
    size_t il;
    assert_int_equal(esprim_client_open(ec, body, strlen(body), &in, &il), 0);
    assert_memory_equal(in, resp, il);
    mem_free(in);
    mem_free(ans);
    ans = esprim_seal(sk, 16, "A128GCM", "k1", NULL, "other", h.rri, NULL, NULL, resp, strlen(resp));
    snprintf(body, sizeof body, "{\"m2m:seci\":{\"sit\":5,\"epo\":\"%s\"}}", ans);
    assert_int_equal(esprim_client_open(ec, body, strlen(body), &in, &il), 4115);
    mem_free(ans);
    mem_free(rc);
    mem_free(oc);
    json_decref(r);
    esprim_hdr_free(&h);
    json_decref(root);
    mem_free(outer);
    esprim_client_free(ec);
}

static void test_ts0004_6_3_5_52_esi_validation(void **state)
{
    (void)state;
    char ok[512];
    snprintf(ok, sizeof ok, "{\"esf\":[13,22],\"escert\":[\"QUJD\"],\"esro\":%s}", RRO);
    const char *good[] = {ok, "{\"esf\":[13]}"};
    const char *bad[] = {"{}",
                         "{\"esf\":[]}",
                         "{\"esf\":[9]}",
                         "{\"esf\":[13],\"escert\":[\"***\"]}",
                         "{\"esf\":[13],\"esro\":{}}",
                         "{\"esf\":[13],\"other\":1}",
                         "[13]"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        json_t *v = json_loads(good[i], 0, NULL);
        assert_true(esprim_esi_ok(v));
        json_decref(v);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *v = json_loads(bad[i], 0, NULL);
        assert_false(esprim_esi_ok(v));
        json_decref(v);
    }
}

/* the bounded replay cache: a replay is refused while remembered; when a generation is forgotten
 * the caller is told to retire the rand objects issued before the generation that stays began */
static void test_finding_esprim_replay_cache_bounded_and_sound(void **state)
{
    (void)state;
    struct esprim_replay *r = esprim_replay_new(4);
    unsigned char d[16][16];
    char iv[8];
    for (int i = 0; i < 16; i++) {
        snprintf(iv, sizeof iv, "iv%d", i);
        esprim_replay_digest("k1", iv, strlen(iv), d[i]);
    }
    uint64_t retire = 0;
    /* generation 0 (began at serial 0): objects 0-3 */
    for (int i = 0; i < 4; i++)
        assert_true(esprim_replay_add(r, d[i], 10, &retire));
    assert_false(esprim_replay_add(r, d[2], 10, &retire));
    assert_int_equal(retire, 0);
    /* the 5th fills: generation 1 begins at serial 20; the empty older one is dropped */
    assert_true(esprim_replay_add(r, d[4], 20, &retire));
    assert_int_equal(retire, 0);
    for (int i = 5; i < 8; i++)
        assert_true(esprim_replay_add(r, d[i], 20, &retire));
    for (int i = 0; i < 8; i++) /* all still remembered */
        assert_false(esprim_replay_add(r, d[i], 30, &retire));
    /* the 9th: generation 0 (objects 0-3) is forgotten; the rand objects issued before generation 1
     * began (serial 20) must be retired */
    assert_true(esprim_replay_add(r, d[8], 30, &retire));
    assert_int_equal(retire, 20);
    assert_true(esprim_replay_add(r, d[0], 30, &retire)); /* forgotten: its rand object is retired */
    assert_false(esprim_replay_add(r, d[5], 30, &retire));
    /* another kid with the same IV is another object */
    unsigned char other[16];
    esprim_replay_digest("k2", "iv5", 3, other);
    assert_true(esprim_replay_add(r, other, 30, &retire));
    esprim_replay_free(r);
}

/* The protected header of the epo inside a sit 5 Content, parsed. */
static void hdr_of(const char *content, struct esprim_hdr *h)
{
    json_t *root = json_loads(content, 0, NULL);
    const char *epo = json_string_value(json_object_get(json_object_get(root, "m2m:seci"), "epo"));
    const char *why;
    assert_non_null(epo);
    assert_int_equal(esprim_parse(epo, strlen(epo), h, &why), 0);
    json_decref(root);
}

/* TS-0004 §7.6.2 with an AE as Target: the client library against the application receiver
 * (esprim_rx.h); TS-0003 §8.4.2 C.3/C.6b.2: oro on first use, ori alone once the receiver holds it;
 * replays refused with the session key reused; TS-0001 Table 11.4.2-1: the outer parameters. */
static void test_ts0004_7_6_2_client_and_application_receiver_session(void **state)
{
    (void)state;
    unsigned char key[32];
    memset(key, 0x42, sizeof key);
    struct esprim_rx *rx = esprim_rx_new("k1", key, 32, "Cpeer", 600);
    struct esprim_client *ec = esprim_client_new("k1", key, 32, NULL);
    assert_non_null(rx);
    assert_non_null(ec);
    int64_t now = 2000000000;
    char *answer = NULL, *inner = NULL;
    size_t ilen = 0, slen = 0;
    const char *why = NULL;
    const char *rq = esprim_client_rand_request();
    assert_int_equal(esprim_rx_open(rx, rq, strlen(rq), now, &answer, &inner, &ilen, &why), 0);
    assert_non_null(answer);
    assert_null(inner);
    assert_false(esprim_client_ready(ec, now));
    assert_int_equal(esprim_client_receiver(ec, answer, strlen(answer), now, &why), 0);
    assert_true(esprim_client_ready(ec, now));
    mem_free(answer);

    static const char prim[] = "{\"op\":2,\"to\":\"/id-in/cse-in/Cae\",\"fr\":\"Cpeer\",\"rqi\":\"r1\",\"rvi\":\"3\","
                               "\"rqet\":\"20991231T000000\",\"ec\":2,\"da\":true,\"gid\":\"g1\"}";
    struct esprim_outer outer;
    assert_int_equal(esprim_client_outer(prim, strlen(prim), &outer), 0);
    assert_string_equal(outer.rqet, "20991231T000000");
    assert_string_equal(outer.rset, "");
    assert_string_equal(outer.ec, "2");
    assert_string_equal(outer.da, "true");
    assert_int_equal(esprim_client_outer("[1]", 3, &outer), 4000);

    char *first = esprim_client_seal(ec, prim, strlen(prim), &slen);
    assert_non_null(first);
    struct esprim_hdr h;
    hdr_of(first, &h);
    assert_non_null(h.oro); /* the receiver may not hold it yet */
    esprim_hdr_free(&h);
    assert_int_equal(esprim_rx_open(rx, first, slen, now, &answer, &inner, &ilen, &why), 0);
    assert_non_null(inner);
    assert_non_null(strstr(inner, "\"rqi\":\"r1\""));
    mem_free(inner);
    static const char resp[] = "{\"rsc\":2000,\"rqi\":\"r1\",\"pc\":{\"m2m:cin\":{\"con\":\"21\"}}}";
    size_t alen = 0;
    char *sealed = esprim_rx_seal(rx, resp, strlen(resp), &alen);
    assert_non_null(sealed);
    char *out = NULL;
    size_t olen = 0;
    assert_int_equal(esprim_client_open(ec, sealed, alen, &out, &olen), 0);
    assert_string_equal(out, resp);
    mem_free(out);
    mem_free(sealed);

    /* the session goes on: ori alone, accepted from the receiver's cache */
    assert_false(esprim_client_sends_oro(ec));
    char *second = esprim_client_seal(ec, prim, strlen(prim), &slen);
    hdr_of(second, &h);
    assert_null(h.oro);
    esprim_hdr_free(&h);
    assert_int_equal(esprim_rx_open(rx, second, slen, now, &answer, &inner, &ilen, &why), 0);
    mem_free(inner);
    /* replays, with and without oro, under the same session key */
    assert_int_equal(esprim_rx_open(rx, second, slen, now, &answer, &inner, &ilen, &why), 4106);
    assert_int_equal(esprim_rx_open(rx, first, strlen(first), now, &answer, &inner, &ilen, &why), 4106);
    /* 4113: the client sends its rand object whole again */
    esprim_client_refused(ec, 4113);
    assert_true(esprim_client_sends_oro(ec));
    /* another From than the key's: 4116 */
    static const char other[] = "{\"op\":2,\"to\":\"x\",\"fr\":\"Cother\",\"rqi\":\"r2\",\"rvi\":\"3\"}";
    char *third = esprim_client_seal(ec, other, strlen(other), &slen);
    assert_int_equal(esprim_rx_open(rx, third, slen, now, &answer, &inner, &ilen, &why), 4116);
    /* 4114: the session ends */
    esprim_client_refused(ec, 4114);
    assert_false(esprim_client_ready(ec, now));
    mem_free(first);
    mem_free(second);
    mem_free(third);
    esprim_client_free(ec);
    esprim_rx_free(rx);
}

int main(void)
{
    json_set_alloc_funcs(mem_alloc, mem_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ts0003_8_4_3_1_rand_object_serialisation_and_session_key),
        cmocka_unit_test(test_ts0003_8_4_3_2_seal_open_every_enc_and_tamper),
        cmocka_unit_test(test_ts0003_8_4_3_2_header_refusals),
        cmocka_unit_test(test_ts0003_8_4_2_client_exchange),
        cmocka_unit_test(test_ts0004_6_3_5_52_esi_validation),
        cmocka_unit_test(test_finding_esprim_replay_cache_bounded_and_sound),
        cmocka_unit_test(test_ts0004_7_6_2_client_and_application_receiver_session),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
