/* Unit tests for encoding/cbor_json: CBOR (RFC 8949) <-> the JSON data model (TS-0004 §8.4), with
 * the RFC 8949 Appendix A vectors, the CSE's own resource representations, every refusal, and the
 * HTTP binding's use of it (TS-0009 §6.2.2.x Content-Type and Accept). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "bindings/http/http_request.h"
#include "core/limits.h"
#include "core/rsc.h"
#include "encoding/cbor_json.h"
#include "util/buf.h"
#include "util/mem.h"

/* ---- helpers ---------------------------------------------------------------------------------- */

/* Hex (blanks ignored) to bytes, in an allocation of exactly the decoded size so that AddressSanitizer
 * catches any read past the end. Caller mem_free. */
static unsigned char *unhex(const char *hex, size_t *len)
{
    size_t n = 0;
    for (const char *p = hex; *p; p++)
        n += *p != ' ';
    assert_true(n % 2 == 0);
    unsigned char *b = mem_alloc(n / 2);
    size_t i = 0;
    for (const char *p = hex; *p;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        unsigned v;
        assert_int_equal(sscanf(p, "%2x", &v), 1);
        b[i++] = (unsigned char)v;
        p += 2;
    }
    *len = n / 2;
    return b;
}

static char *hex_of(const unsigned char *b, size_t n)
{
    char *s = mem_alloc(2 * n + 1);
    for (size_t i = 0; i < n; i++)
        snprintf(s + 2 * i, 3, "%02x", b[i]);
    s[2 * n] = '\0';
    return s;
}

/* The JSON text as jansson writes it (compact; doubles with 17 significant digits), which is what
 * cborjson_to_json produces. Caller mem_free. */
static char *canonical(const char *json)
{
    json_error_t je;
    json_t *v = json_loads(json, JSON_DECODE_ANY, &je);
    if (v == NULL)
        fail_msg("bad test JSON %s: %s", json, je.text);
    size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    size_t n = json_dumpb(v, NULL, 0, flags);
    char *s = mem_alloc(n + 1);
    json_dumpb(v, s, n, flags);
    s[n] = '\0';
    json_decref(v);
    return s;
}

/* CBOR (hex) must decode to the JSON value want: same text once canonical, so the same types. */
static void decodes_to(const char *hex, const char *want_text)
{
    char *want = canonical(want_text);
    size_t n;
    unsigned char *b = unhex(hex, &n);
    char err[256] = "";
    char *out = (char *)"x";
    size_t outlen = 99;
    if (cborjson_to_json(b, n, &out, &outlen, err, sizeof err) != 0)
        fail_msg("%s refused: %s", hex, err);
    if (strcmp(out, want) != 0)
        fail_msg("%s gave %s, want %s", hex, out, want);
    assert_int_equal(outlen, strlen(out));
    mem_free(out);
    mem_free(b);
    mem_free(want);
}

/* CBOR (bytes) must be refused with a message that contains why, and clear the outputs. */
static void refused_bytes(const unsigned char *b, size_t n, const char *why, const char *label)
{
    char err[256] = "";
    char *out = (char *)"x";
    size_t outlen = 99;
    if (cborjson_to_json(b, n, &out, &outlen, err, sizeof err) == 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s accepted as %s", label, out);
        mem_free(out);
        fail_msg("%s", msg);
    }
    assert_null(out);
    assert_int_equal(outlen, 0);
    assert_true(err[0] != '\0');
    if (why && strstr(err, why) == NULL)
        fail_msg("%s refused with '%s', want it to mention '%s'", label, err, why);
}

static void refused(const char *hex, const char *why)
{
    size_t n;
    unsigned char *b = unhex(hex, &n);
    refused_bytes(b, n, why, hex);
    mem_free(b);
}

/* JSON text must encode to exactly the CBOR hex want. */
static void encodes_to(const char *json, const char *want)
{
    unsigned char *out = (unsigned char *)"x";
    size_t n = 99;
    char err[256] = "";
    if (cborjson_from_json(json, strlen(json), &out, &n, err, sizeof err) != 0)
        fail_msg("%s refused: %s", json, err);
    char *got = hex_of(out, n);
    size_t wl;
    unsigned char *w = unhex(want, &wl);
    char *wanth = hex_of(w, wl);
    if (strcmp(got, wanth) != 0)
        fail_msg("%s encoded as %s, want %s", json, got, wanth);
    mem_free(wanth);
    mem_free(w);
    mem_free(got);
    mem_free(out);
}

/* Both ways: JSON text (compact, as jansson writes it) <-> CBOR hex. */
static void both_ways(const char *json, const char *hex)
{
    encodes_to(json, hex);
    decodes_to(hex, json);
}

/* JSON -> CBOR -> JSON gives the same value back, and the same text once canonical. */
static void round_trip(const char *text)
{
    char *json = canonical(text);
    unsigned char *cbor;
    size_t n;
    char err[256] = "";
    if (cborjson_from_json(json, strlen(json), &cbor, &n, err, sizeof err) != 0)
        fail_msg("%.80s refused: %s", json, err);
    unsigned char *exact = mem_alloc(n); /* exactly sized: reads past the end are caught */
    memcpy(exact, cbor, n);
    char *back;
    size_t bl;
    if (cborjson_to_json(exact, n, &back, &bl, err, sizeof err) != 0)
        fail_msg("CBOR of %.80s refused: %s", json, err);
    if (strcmp(back, json) != 0)
        fail_msg("round trip of %s gave %s", json, back);
    /* every strict prefix is a truncated item */
    for (size_t k = 0; k < n; k++)
        refused_bytes(exact, k, k == 0 ? "empty" : "truncated", "prefix");
    mem_free(back);
    mem_free(exact);
    mem_free(cbor);
    mem_free(json);
}

/* ---- JSON data model round trips --------------------------------------------------------------- */

static void test_round_trip_every_json_type(void **state)
{
    (void)state;
    static const char *const docs[] = {"null",
                                       "true",
                                       "false",
                                       "0",
                                       "1",
                                       "-1",
                                       "23",
                                       "24",
                                       "-24",
                                       "-25",
                                       "255",
                                       "256",
                                       "65535",
                                       "65536",
                                       "4294967295",
                                       "4294967296",
                                       "-4294967296",
                                       "-4294967297",
                                       "9223372036854775807",
                                       "-9223372036854775808",
                                       "0.0",
                                       "-0.0",
                                       "1.5",
                                       "0.1",
                                       "-2.5e-05",
                                       "1e+300",
                                       "5.9604644775390625e-08",
                                       "6.103515625e-05",
                                       "65504.0",
                                       "65505.0",
                                       "100000.0",
                                       "3.4028234663852886e+38",
                                       "1.7976931348623157e+308",
                                       "4.9406564584124654e-324",
                                       "\"\"",
                                       "\"a\"",
                                       "\"caf\xc3\xa9 \xe6\xb0\xb4 \xf0\x9f\x98\x80\"",
                                       "\"quote \\\" backslash \\\\ tab \\t nl \\n ctl \\u0001\"",
                                       "[]",
                                       "{}",
                                       "[[]]",
                                       "[{}]",
                                       "{\"a\":{}}",
                                       "[1,\"two\",3.0,true,false,null,[],{}]",
                                       "{\"k\":[1,[2,[3,[4]]]],\"e\":\"\"}",
                                       "{\"b\":1,\"a\":2,\"c\":3}" /* key order is kept */};
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        round_trip(docs[i]);

    /* long strings and large containers take the longer heads */
    struct buf b;
    buf_init(&b);
    buf_putc(&b, '[');
    for (int i = 0; i < 300; i++)
        buf_printf(&b, "%s%d", i ? "," : "", i * 1000);
    buf_putc(&b, ']');
    round_trip(b.p);
    buf_free(&b);
    buf_putc(&b, '"');
    for (int i = 0; i < 70000; i++)
        buf_putc(&b, (char)('a' + i % 26));
    buf_putc(&b, '"');
    round_trip(b.p);
    buf_free(&b);
}

/* Integers stay integers and doubles stay doubles, at every width. */
static void test_numbers_keep_their_kind(void **state)
{
    (void)state;
    both_ways("1", "01");
    both_ways("1.0", "f93c00");
    both_ways("-1", "20");
    both_ways("-1.0", "f9bc00");
    both_ways("100000", "1a000186a0");
    both_ways("100000.0", "fa47c35000");
    both_ways("0.1", "fb3fb999999999999a");
    both_ways("0.5", "f93800");
    both_ways("-0.0", "f98000");
    both_ways("9223372036854775807", "1b7fffffffffffffff");
    both_ways("-9223372036854775808", "3b7fffffffffffffff");
    /* shortest exact float: half, then single, then double */
    encodes_to("65504.0", "f97bff");
    encodes_to("65520.0", "fa477ff000");
    encodes_to("1e-07", "fb3e7ad7f29abcaf48");
    encodes_to("5.960464477539063e-08", "f90001");              /* smallest half subnormal */
    encodes_to("2.98023223876953125e-08", "fa33000000");        /* half of it: single precision */
    encodes_to("1.401298464324817e-45", "fa00000001");          /* smallest single subnormal */
    encodes_to("3.4028235677973366e+38", "fb47effffff0000000"); /* just above FLT_MAX */
    /* CBOR single and double precision values come back exactly */
    decodes_to("fa3dcccccd", "0.10000000149011612");
    decodes_to("fb3ff199999999999a", "1.1000000000000001");
    decodes_to("fa7f7fffff", "3.4028234663852886e+38");
    /* non-preferred integer encodings are accepted */
    decodes_to("1800", "0");
    decodes_to("1b0000000000000001", "1");
    decodes_to("3900ff", "-256");
}

/* ---- RFC 8949 Appendix A ------------------------------------------------------------------------ */

static void test_rfc8949_appendix_a_vectors(void **state)
{
    (void)state;
    /* the ones with a JSON equivalent: decoded and, in preferred serialization, encoded back */
    both_ways("0", "00");
    both_ways("1", "01");
    both_ways("10", "0a");
    both_ways("23", "17");
    both_ways("24", "1818");
    both_ways("25", "1819");
    both_ways("100", "1864");
    both_ways("1000", "1903e8");
    both_ways("1000000", "1a000f4240");
    both_ways("1000000000000", "1b000000e8d4a51000");
    both_ways("-1", "20");
    both_ways("-10", "29");
    both_ways("-100", "3863");
    both_ways("-1000", "3903e7");
    both_ways("0.0", "f90000");
    both_ways("-0.0", "f98000");
    both_ways("1.0", "f93c00");
    both_ways("1.1000000000000001", "fb3ff199999999999a"); /* 1.1 */
    both_ways("1.5", "f93e00");
    both_ways("65504.0", "f97bff");
    both_ways("100000.0", "fa47c35000");
    both_ways("3.4028234663852886e+38", "fa7f7fffff");
    both_ways("1e+300", "fb7e37e43c8800759c");
    both_ways("5.9604644775390625e-08", "f90001");
    both_ways("6.103515625e-05", "f90400");
    both_ways("-4.0", "f9c400");
    both_ways("-4.0999999999999996", "fbc010666666666666"); /* -4.1 */
    both_ways("false", "f4");
    both_ways("true", "f5");
    both_ways("null", "f6");
    both_ways("\"\"", "60");
    both_ways("\"a\"", "6161");
    both_ways("\"IETF\"", "6449455446");
    both_ways("\"\\\"\\\\\"", "62225c");
    both_ways("\"\xc3\xbc\"", "62c3bc");
    both_ways("\"\xe6\xb0\xb4\"", "63e6b0b4");
    both_ways("\"\xf0\x90\x85\x91\"", "64f0908591");
    both_ways("[]", "80");
    both_ways("[1,2,3]", "83010203");
    both_ways("[1,[2,3],[4,5]]", "8301820203820405");
    both_ways("[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25]",
              "98190102030405060708090a0b0c0d0e0f101112131415161718181819");
    both_ways("{}", "a0");
    both_ways("{\"a\":1,\"b\":[2,3]}", "a26161016162820203");
    both_ways("[\"a\",{\"b\":\"c\"}]", "826161a161626163");
    both_ways("{\"a\":\"A\",\"b\":\"B\",\"c\":\"C\",\"d\":\"D\",\"e\":\"E\"}",
              "a56161614161626142616361436164614461656145");
    /* indefinite lengths: accepted and flattened */
    decodes_to("7f657374726561646d696e67ff", "\"streaming\"");
    decodes_to("9fff", "[]");
    decodes_to("9f018202039f0405ffff", "[1,[2,3],[4,5]]");
    decodes_to("9f01820203820405ff", "[1,[2,3],[4,5]]");
    decodes_to("83018202039f0405ff", "[1,[2,3],[4,5]]");
    decodes_to("83019f0203ff820405", "[1,[2,3],[4,5]]");
    decodes_to("9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff",
               "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25]");
    decodes_to("bf61610161629f0203ffff", "{\"a\":1,\"b\":[2,3]}");
    decodes_to("826161bf61626163ff", "[\"a\",{\"b\":\"c\"}]");
    decodes_to("bf6346756ef563416d7421ff", "{\"Fun\":true,\"Amt\":-2}");

    /* the ones without: refused */
    refused("1bffffffffffffffff", "int64");     /* 18446744073709551615 */
    refused("c249010000000000000000", "tag 2"); /* bignum 18446744073709551616 */
    refused("3bffffffffffffffff", "int64");     /* -18446744073709551616 */
    refused("c349010000000000000000", "tag 3"); /* bignum -18446744073709551617 */
    refused("f97c00", "NaN and infinities");    /* Infinity */
    refused("f97e00", "NaN and infinities");    /* NaN */
    refused("f9fc00", "NaN and infinities");    /* -Infinity */
    refused("fa7f800000", "NaN and infinities");
    refused("fa7fc00000", "NaN and infinities");
    refused("faff800000", "NaN and infinities");
    refused("fb7ff0000000000000", "NaN and infinities");
    refused("fb7ff8000000000000", "NaN and infinities");
    refused("fbfff0000000000000", "NaN and infinities");
    refused("f7", "undefined");
    refused("f0", "simple value");   /* simple(16) */
    refused("f8ff", "simple value"); /* simple(255) */
    refused("c074323031332d30332d32315432303a30343a30305a", "tag 0");
    refused("c11a514b67b0", "tag 1");
    refused("c1fb41d452d9ec200000", "tag 1");
    refused("d74401020304", "tag 23");
    refused("d818456449455446", "tag 24");
    refused("d82076687474703a2f2f7777772e6578616d706c652e636f6d", "tag 32");
    refused("40", "byte string");
    refused("4401020304", "byte string");
    refused("a201020304", "map key is an integer"); /* {1: 2, 3: 4} */
    refused("5f42010243030405ff", "byte string");   /* (_ h'0102', h'030405') */
}

/* ---- the CSE's own representations ---------------------------------------------------------------- */

/* As the server renders them (captured from build/warden with JSON requests). */
static const char *const resources[] = {
    "{\"m2m:cb\":{\"ty\":5,\"ri\":\"id-in\",\"rn\":\"cse-in\",\"ct\":\"20261123T185734\",\"lt\":\"20261123T185734\","
    "\"csi\":\"/id-in\",\"cst\":1,\"srt\":[2,3,4,5],\"poa\":[\"http://127.0.0.1:37427\"],\"csz\":[\"application/"
    "json\"],\"srv\":[\"2\",\"2a\",\"3\",\"4\",\"5\"]}}",
    "{\"m2m:ae\":{\"ty\":2,\"ri\":\"Cae1\",\"rn\":\"ae1\",\"pi\":\"id-in\",\"ct\":\"20261123T185734\",\"lt\":"
    "\"20261123T185734\",\"et\":\"99991231T235959\",\"api\":\"Nwardentest\",\"rr\":false,\"lbl\":[\"key1\",\"k:"
    "v\"],\"poa\":[\"http://127.0.0.1:9/n\"],\"srv\":[\"3\"],\"aei\":\"Cae1\"}}",
    "{\"m2m:acp\":{\"ty\":1,\"ri\":\"acp0VbpAFZwmmpKj7ZzNPuD\",\"rn\":\"acp1\",\"pi\":\"Cae1\",\"ct\":"
    "\"20261123T185734\",\"lt\":\"20261123T185734\",\"et\":\"99991231T235959\",\"pv\":{\"acr\":[{\"acor\":["
    "\"Cae1\",\"/id-in/C*\"],\"acop\":63,\"acco\":[{\"actw\":[\"* * * * * * *\"],\"acip\":{\"ipv4\":[\"127.0.0.0/"
    "8\"],\"ipv6\":[\"::1/128\"]}}]}]},\"pvs\":{\"acr\":[{\"acor\":[\"Cae1\"],\"acop\":63}]}}}",
    "{\"m2m:cnt\":{\"ty\":3,\"ri\":\"cnt0VbpAFZybeEe6AnzLV2b\",\"rn\":\"cnt1\",\"pi\":\"Cae1\",\"ct\":"
    "\"20261123T185734\",\"lt\":\"20261123T185734\",\"et\":\"99991231T235959\",\"st\":0,\"mni\":10,\"mbs\":10000,"
    "\"lbl\":[\"x\"],\"cni\":0,\"cbs\":0}}",
    "{\"m2m:cin\":{\"ty\":4,\"ri\":\"cin0VbpAFZyCmkwMvMhJkei\",\"rn\":\"cin1\",\"pi\":\"cnt0VbpAFZybeEe6AnzLV2b\","
    "\"ct\":\"20261123T185734\",\"lt\":\"20261123T185734\",\"et\":\"99991231T235959\",\"st\":0,\"cnf\":\"text/"
    "plain:0\",\"con\":\"21.5 \xc2\xb0"
    "C \xe2\x98\x83\",\"cs\":12}}",
    "{\"m2m:sub\":{\"ty\":23,\"ri\":\"sub0VbpAFa0KXUrqHjr29ck\",\"rn\":\"sub1\",\"pi\":\"cnt0VbpAFZybeEe6AnzLV2b\","
    "\"ct\":\"20261123T185734\",\"lt\":\"20261123T185734\",\"et\":\"99991231T235959\",\"nu\":[\"Cae1\"],\"enc\":{"
    "\"net\":[1,3]},\"nct\":1,\"exc\":5,\"bn\":{\"num\":2,\"dur\":\"PT2S\"},\"cr\":\"Cae1\"}}",
    "{\"m2m:grp\":{\"ty\":9,\"ri\":\"grp0VbpAFa1VobZJ4bdqYam\",\"rn\":\"grp1\",\"pi\":\"Cae1\",\"ct\":"
    "\"20261123T185734\",\"lt\":\"20261123T185734\",\"et\":\"99991231T235959\",\"mnm\":5,\"mid\":[\"/id-in/cse-in/"
    "ae1/cnt1\"],\"mt\":3,\"csy\":1,\"cnm\":1,\"mtv\":true}}",
    "{\"m2m:dbg\":\"access denied: the originator has no privilege\"}",
    "{\"m2m:sgn\":{\"nev\":{\"rep\":{\"m2m:cin\":{\"con\":\"1\"}},\"net\":3},\"sur\":\"/id-in/cse-in/ae1/sub1\"}}",
    "{\"m2m:agr\":{\"m2m:rsp\":[{\"rsc\":2000,\"rqi\":\"r1\",\"fr\":\"/id-in/cnt1\",\"pc\":{\"m2m:cnt\":{\"cni\":"
    "0}}}]}}",
    "{\"m2m:uril\":[\"cse-in/ae1\",\"cse-in/ae1/cnt1\",\"cse-in/ae1/cnt1/cin1\"]}",
};

static void test_round_trip_onem2m_resources(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof resources / sizeof resources[0]; i++) {
        round_trip(resources[i]);
        unsigned char *cbor;
        size_t n;
        char err[128];
        assert_int_equal(cborjson_from_json(resources[i], strlen(resources[i]), &cbor, &n, err, sizeof err), 0);
        assert_true(n < strlen(resources[i])); /* the point of CBOR */
        assert_int_equal(cbor[0], 0xa1);       /* one root key */
        mem_free(cbor);
    }
    /* a representation in CBOR with the root key's value in indefinite lengths */
    decodes_to("a1 666d326d3a6165 bf 63617069 7f 634e6d79 63617070 ff 627272 f4 ff",
               "{\"m2m:ae\":{\"api\":\"Nmyapp\",\"rr\":false}}");
}

/* ---- refusals -------------------------------------------------------------------------------------- */

static void test_refuses_empty_truncated_and_trailing(void **state)
{
    (void)state;
    char *out = (char *)"x";
    size_t outlen = 7;
    char err[64] = "";
    assert_int_equal(cborjson_to_json(NULL, 0, &out, &outlen, err, sizeof err), -1);
    assert_null(out);
    assert_string_equal(err, "empty content");
    refused("18", "truncated");
    refused("19 01", "truncated");
    refused("1b 00 00 00 00 00 00 00", "truncated");
    refused("62 61", "truncated");
    refused("78", "truncated");
    refused("83 01 02", "truncated");
    refused("a1 61 61", "truncated");
    refused("9f 01", "truncated");
    refused("bf", "truncated");
    refused("7f 61 61", "truncated");
    refused("d9 d9 f7", "truncated");
    refused("fb 00 00", "truncated");
    refused("00 00", "1 trailing bytes");
    refused("a0 ff", "trailing");
    refused("80 80", "trailing");
    refused("6161 00 00 00", "3 trailing bytes");
    /* lengths announced beyond the input, up to 2^64-1: no allocation, just truncated */
    refused("9b ffffffffffffffff", "truncated");
    refused("bb ffffffffffffffff", "truncated");
    refused("7b ffffffffffffffff", "truncated");
    refused("7b 7fffffffffffffff 61", "truncated");
    refused("5b ffffffffffffffff", NULL);
    refused("9a ffffffff 01 02", "truncated");
    refused("bb 7fffffffffffffff 6161 01", "truncated");
}

static void test_refuses_what_json_lacks(void **state)
{
    (void)state;
    refused("41 00", "byte string");
    refused("5f ff", "byte string");
    refused("a1 6161 40", "byte string");
    refused("f7", "undefined");
    refused("a1 6161 f7", "undefined");
    refused("e0", "simple value");
    refused("f3", "simple value");
    refused("f8 20", "simple value");
    refused("f8 18", "simple value");
    refused("c6 00", "tag 6");
    refused("d8 64 00", "tag 100");
    refused("d9 ffff 00", "tag 65535");
    refused("da 00010000 00", "tag 65536");
    refused("db ffffffffffffffff 00", "tag 18446744073709551615");
    refused("81 c1 00", "tag 1");
    /* non-text map keys */
    refused("a1 01 02", "map key is an integer");
    refused("a1 20 02", "map key is an integer");
    refused("a1 f5 02", "map key is a boolean");
    refused("a1 f6 02", "map key is null");
    refused("a1 f93c00 02", "map key is a number");
    refused("a1 80 02", "map key is an array");
    refused("a1 a0 02", "map key is a map");
    refused("a1 41 61 02", "byte string");
    refused("bf 01 02 ff", "map key is an integer");
    /* integers beyond int64 */
    refused("1b 8000000000000000", "int64");
    refused("3b 8000000000000000", "int64");
    decodes_to("1b 7fffffffffffffff", "9223372036854775807");
    decodes_to("3b 7fffffffffffffff", "-9223372036854775808");
}

static void test_refuses_duplicate_keys(void **state)
{
    (void)state;
    refused("a2 6161 01 6161 02", "duplicate map key 'a'");
    refused("bf 6161 01 6161 02 ff", "duplicate map key");
    refused("a2 6161 01 7f 6161 ff 02", "duplicate map key");  /* the same key, chunked */
    refused("a2 6161 01 d9d9f7 6161 02", "duplicate map key"); /* the same key, tagged */
    refused("81 a2 62 6b31 01 62 6b31 02", "duplicate map key 'k1'");
    decodes_to("a2 6161 a1 6161 01 6162 a1 6161 01", "{\"a\":{\"a\":1},\"b\":{\"a\":1}}");
}

static void test_refuses_invalid_utf8(void **state)
{
    (void)state;
    refused("62 c080", "UTF-8");     /* overlong NUL */
    refused("63 e08080", "UTF-8");   /* overlong */
    refused("64 f0808080", "UTF-8"); /* overlong */
    refused("63 eda080", "UTF-8");   /* surrogate U+D800 */
    refused("63 edbfbf", "UTF-8");   /* surrogate U+DFFF */
    refused("64 f4908080", "UTF-8"); /* above U+10FFFF */
    refused("64 f5808080", "UTF-8"); /* never a lead byte */
    refused("61 80", "UTF-8");       /* lone continuation */
    refused("61 ff", "UTF-8");
    refused("62 e282", "UTF-8"); /* cut sequence */
    refused("63 41 e2 82", "UTF-8");
    refused("62 c341", "UTF-8");           /* bad continuation */
    refused("a1 62 c328 01", "UTF-8");     /* in a key */
    refused("7f 61 c3 61 bc ff", "UTF-8"); /* a character split across chunks (RFC 8949 §3.2.3) */
    refused("61 00", "U+0000");            /* valid UTF-8, but Warden's JSON refuses it too */
    refused("a1 61 00 01", "U+0000");
    decodes_to("64 f48fbfbf", "\"\xf4\x8f\xbf\xbf\""); /* U+10FFFF */
    decodes_to("63 ee8080", "\"\xee\x80\x80\"");       /* U+E000 */
    decodes_to("7f 62 c3bc 60 63 e6b0b4 ff", "\"\xc3\xbc\xe6\xb0\xb4\"");
}

static void test_refuses_malformed_structure(void **state)
{
    (void)state;
    /* reserved additional information 28-30 in every major type */
    static const char *const reserved[] = {"1c", "1d", "1e", "3c", "5c", "7c", "9c", "bc", "dc", "fc", "fd", "fe"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        refused(reserved[i], NULL);
    refused("1f", NULL); /* indefinite length for an integer */
    refused("3f", NULL);
    refused("df 00", NULL);
    refused("ff", "break");
    refused("81 ff", "break");
    refused("a1 6161 ff", "break");
    refused("bf 6161 ff", "has no value");
    refused("9f d9d9f7 ff", "tag must be followed");
    refused("7f 7f ff ff", "chunk");       /* nested indefinite text */
    refused("7f 41 00 ff", "chunk");       /* byte string chunk */
    refused("7f 01 ff", "chunk");          /* integer chunk */
    refused("7f 80 ff", "chunk");          /* array chunk */
    refused("7f d9d9f7 6161 ff", "chunk"); /* tagged chunk */
    refused("5f 61 61 ff", "byte string");
}

/* Nesting: an item may sit inside at most LIMIT_JSON_DEPTH - 1 containers, i.e. json_depth() of the
 * result is at most LIMIT_JSON_DEPTH, exactly as for a JSON body. */
static void test_depth_limit(void **state)
{
    (void)state;
    struct buf b, j;
    for (int kind = 0; kind < 3; kind++) {
        for (int depth = LIMIT_JSON_DEPTH - 1; depth <= LIMIT_JSON_DEPTH + 1; depth++) {
            for (int leaf = 0; leaf < 2; leaf++) { /* empty innermost container, or one holding a 0 */
                buf_init(&b);
                buf_init(&j);
                for (int i = 0; i < depth; i++) {
                    const char *open = kind == 0 ? "81" : kind == 1 ? "a16161" : "9f";
                    if (i == depth - 1 && !leaf)
                        open = kind == 0 ? "80" : kind == 1 ? "a0" : "9f";
                    buf_puts(&b, open);
                    buf_puts(&j, kind == 1 ? (i == depth - 1 && !leaf ? "{" : "{\"a\":") : "[");
                }
                if (leaf) {
                    buf_puts(&b, "00");
                    buf_puts(&j, "0");
                }
                for (int i = 0; i < depth; i++) {
                    if (kind == 2)
                        buf_puts(&b, "ff");
                    buf_putc(&j, kind == 1 ? '}' : ']');
                }
                int levels = depth + leaf; /* json_depth() of the value */
                if (levels <= LIMIT_JSON_DEPTH)
                    decodes_to(b.p, j.p);
                else
                    refused(b.p, "nested deeper than 16");
                buf_free(&b);
                buf_free(&j);
            }
        }
    }
    /* a deep map key's value: the key is fine, the value is one level too many */
    buf_init(&b);
    for (int i = 0; i < LIMIT_JSON_DEPTH; i++)
        buf_puts(&b, "a16161");
    buf_puts(&b, "6178");
    refused(b.p, "nested deeper");
    buf_free(&b);
    /* JSON -> CBOR is for the CSE's own responses, which follow the resource tree (rcn=4): it is
     * bounded by jansson's parser only */
    buf_init(&j);
    for (int i = 0; i < 40; i++)
        buf_putc(&j, '[');
    for (int i = 0; i < 40; i++)
        buf_putc(&j, ']');
    unsigned char *cbor;
    size_t n;
    char err[128];
    assert_int_equal(cborjson_from_json(j.p, j.len, &cbor, &n, err, sizeof err), 0);
    assert_int_equal(n, 40);
    refused_bytes(cbor, n, "nested deeper", "40 arrays");
    mem_free(cbor);
    buf_free(&j);
}

static void test_self_described_tag(void **state)
{
    (void)state;
    decodes_to("d9d9f7 a0", "{}");
    decodes_to("d9d9f7 d9d9f7 01", "1");
    decodes_to("a1 6161 d9d9f7 82 d9d9f7 01 02", "{\"a\":[1,2]}");
    refused("d9d9f7", "truncated");
    refused("d9d9f8 00", "tag 55800");
}

/* ---- JSON -> CBOR refusals ---------------------------------------------------------------------- */

static void from_json_refused(const char *json, size_t len)
{
    unsigned char *out = (unsigned char *)"x";
    size_t n = 5;
    char err[256] = "";
    if (cborjson_from_json(json, len, &out, &n, err, sizeof err) == 0) {
        mem_free(out);
        fail_msg("'%.*s' accepted", (int)len, json);
    }
    assert_null(out);
    assert_int_equal(n, 0);
    assert_true(err[0] != '\0');
}

#define FROM_JSON_REFUSED(lit) from_json_refused((lit), sizeof(lit) - 1)

static void test_from_json_refusals(void **state)
{
    (void)state;
    from_json_refused(NULL, 0);
    FROM_JSON_REFUSED("");
    FROM_JSON_REFUSED("   ");
    FROM_JSON_REFUSED("{");
    FROM_JSON_REFUSED("{\"a\":1,\"a\":2}");
    FROM_JSON_REFUSED("{\"a\":1} x");
    FROM_JSON_REFUSED("[1]\0");
    FROM_JSON_REFUSED("\"\\u0000\"");
    FROM_JSON_REFUSED("\"\xc0\x80\"");
    FROM_JSON_REFUSED("18446744073709551616");
    FROM_JSON_REFUSED("1e400");
    FROM_JSON_REFUSED("NaN");
    /* only len bytes are read */
    encodes_to("[1,2]", "820102");
    unsigned char *out;
    size_t n;
    char err[64];
    assert_int_equal(cborjson_from_json("[1,2]garbage", 5, &out, &n, err, sizeof err), 0);
    assert_int_equal(n, 3);
    mem_free(out);
}

/* ---- the HTTP binding: TS-0009 §6.2.2.x Content-Type and Accept ----------------------------------- */

struct hreq {
    struct http_kv headers[6];
    struct http_raw raw;
    struct cse_request req;
    struct http_scratch scratch;
    struct cse_response rsp;
};

static int http_run(struct hreq *h, const char *method, const char *ctype, const char *accept, const void *body,
                    size_t body_len)
{
    memset(h, 0, sizeof *h);
    size_t n = 0;
    h->headers[n++] = (struct http_kv){.key = "X-M2M-Origin", .value = "Cabc"};
    h->headers[n++] = (struct http_kv){.key = "X-M2M-RI", .value = "rq-1"};
    if (ctype)
        h->headers[n++] = (struct http_kv){.key = "Content-Type", .value = ctype};
    if (accept)
        h->headers[n++] = (struct http_kv){.key = "Accept", .value = accept};
    h->raw = (struct http_raw){
        .method = method, .url = "/cse-in", .headers = h->headers, .nheaders = n, .body = body, .body_len = body_len};
    response_init(&h->rsp);
    return http_to_primitive(&h->raw, &h->req, &h->scratch, &h->rsp);
}

static void http_done(struct hreq *h)
{
    http_scratch_free(&h->scratch);
    assert_null(h->scratch.cbor_json);
    response_free(&h->rsp);
}

static void test_http_cbor_body_reaches_core_as_json(void **state)
{
    (void)state;
    static const char *const types[] = {"application/cbor;ty=2", "application/vnd.onem2m-res+cbor; ty=2",
                                        "Application/CBOR ; ty=2", "application/vnd.onem2m-res+cbor;ty=2;charset=x"};
    size_t n;
    /* {"m2m:ae":{"api":"Nmyapp","rr":false}} */
    unsigned char *ae = unhex("a1 666d326d3a6165 a2 63617069 664e6d79617070 627272 f4", &n);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        struct hreq h;
        assert_int_equal(http_run(&h, "POST", types[i], NULL, ae, n), 0);
        assert_int_equal(h.req.op, OP_CREATE);
        assert_int_equal(h.req.ty, 2);
        assert_int_equal(h.req.media, MEDIA_JSON);
        assert_ptr_equal(h.req.body, h.scratch.cbor_json);
        assert_int_equal(h.req.body_len, strlen("{\"m2m:ae\":{\"api\":\"Nmyapp\",\"rr\":false}}"));
        assert_memory_equal(h.req.body, "{\"m2m:ae\":{\"api\":\"Nmyapp\",\"rr\":false}}", h.req.body_len);
        assert_non_null(h.scratch.rsp_cbor); /* no Accept: the answer is in the request's format */
        http_done(&h);
    }
    /* UPDATE and NOTIFY bodies too */
    struct hreq h;
    assert_int_equal(http_run(&h, "PUT", "application/cbor", NULL, ae, n), 0);
    assert_int_equal(h.req.op, OP_UPDATE);
    assert_non_null(h.scratch.cbor_json);
    http_done(&h);
    assert_int_equal(http_run(&h, "POST", "application/vnd.onem2m-ntfy+cbor", NULL, ae, n), 0);
    assert_int_equal(h.req.op, OP_NOTIFY);
    assert_non_null(h.scratch.cbor_json);
    http_done(&h);
    /* an empty body is left to the core ("empty content", as for JSON) */
    assert_int_equal(http_run(&h, "POST", "application/cbor;ty=2", NULL, NULL, 0), 0);
    assert_null(h.req.body);
    http_done(&h);
    /* a JSON body is left alone */
    assert_int_equal(http_run(&h, "POST", "application/json;ty=2", NULL, "{}", 2), 0);
    assert_null(h.scratch.cbor_json);
    assert_null(h.scratch.rsp_cbor);
    http_done(&h);
    mem_free(ae);
}

static void test_http_bad_cbor_is_4000(void **state)
{
    (void)state;
    static const char *const bad[] = {"a1 6161", "a1 01 02", "41 00", "a0 00", "{}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n;
        unsigned char *b = i + 1 == sizeof bad / sizeof bad[0] ? NULL : unhex(bad[i], &n);
        struct hreq h;
        int rsc = b ? http_run(&h, "POST", "application/cbor;ty=3", "application/cbor", b, n)
                    : http_run(&h, "POST", "application/cbor;ty=3", "application/cbor", "{\"m2m:cnt\":{}}", 14);
        assert_int_equal(rsc, RSC_BAD_REQUEST);
        assert_non_null(h.rsp.message);
        assert_non_null(strstr(h.rsp.message, "invalid CBOR content"));
        assert_string_equal(h.scratch.rsp_cbor, "application/cbor"); /* the error is answered in CBOR */
        http_done(&h);
        mem_free(b);
    }
    /* media types that are neither JSON nor CBOR stay 4015 */
    struct hreq h;
    assert_int_equal(http_run(&h, "POST", "application/cbor+xml;ty=3", NULL, "x", 1), RSC_UNSUPPORTED_MEDIA_TYPE);
    http_done(&h);
    assert_int_equal(http_run(&h, "POST", "application/vnd.onem2m-res+xml;ty=3", NULL, "x", 1),
                     RSC_UNSUPPORTED_MEDIA_TYPE);
    http_done(&h);
}

/* The response's format from Accept and the request's own Content-Type. */
static void test_http_accept_negotiation(void **state)
{
    (void)state;
    static const struct {
        const char *method, *ctype, *accept, *want; /* want NULL: JSON */
    } cases[] = {
        {"GET", NULL, NULL, NULL},
        {"GET", NULL, "application/json", NULL},
        {"GET", NULL, "application/cbor", "application/cbor"},
        {"GET", NULL, "application/vnd.onem2m-res+cbor", "application/vnd.onem2m-res+cbor"},
        {"GET", NULL, "APPLICATION/VND.ONEM2M-RES+CBOR", "application/vnd.onem2m-res+cbor"},
        {"GET", NULL, " application/cbor ; q=0.9 ", "application/cbor"},
        {"GET", NULL, "application/json, application/cbor", NULL},
        {"GET", NULL, "application/cbor, application/json", NULL},
        {"GET", NULL, "application/json;q=0.5, application/cbor", "application/cbor"},
        {"GET", NULL, "application/cbor;q=0.5, application/json", NULL},
        {"GET", NULL, "application/cbor;q=0", NULL},
        {"GET", NULL, "application/cbor, */*;q=0.1", "application/cbor"},
        {"GET", NULL, "*/*", NULL},
        {"GET", NULL, "application/*", NULL},
        {"GET", NULL, "application/xml", NULL}, /* nothing supported: JSON, not 4015 */
        {"GET", NULL, "", NULL},
        {"GET", NULL, "text/html, application/vnd.onem2m-res+cbor;q=0.8, application/xml;q=0.9",
         "application/vnd.onem2m-res+cbor"},
        {"GET", NULL, "application/cbor;q=1.000", "application/cbor"},
        {"GET", NULL, "application/cbor;q=garbage", "application/cbor"},
        {"GET", NULL, ",,,", NULL},
        {"GET", "application/cbor", NULL, NULL}, /* no body: the request's format is JSON */
        {"POST", "application/cbor;ty=2", NULL, "application/cbor"},
        {"POST", "application/vnd.onem2m-res+cbor;ty=2", NULL, "application/vnd.onem2m-res+cbor"},
        {"POST", "application/cbor;ty=2", "*/*", "application/cbor"}, /* curl's default */
        {"POST", "application/cbor;ty=2", "", "application/cbor"},
        {"POST", "application/cbor;ty=2", "application/json", NULL},
        {"POST", "application/cbor;ty=2", "application/json, application/cbor", "application/cbor"},
        {"POST", "application/cbor;ty=2", "application/xml", NULL},
        {"POST", "application/cbor;ty=2", "application/vnd.onem2m-res+cbor", "application/vnd.onem2m-res+cbor"},
        {"POST", "application/json;ty=2", "*/*", NULL},
        {"POST", "application/json;ty=2", "application/cbor", "application/cbor"},
        {"POST", "application/json;ty=2", "application/json;q=0.2, application/cbor;q=0.3", "application/cbor"},
    };
    size_t n;
    unsigned char *body = unhex("a1 676d326d3a636e74 a0", &n); /* {"m2m:cnt":{}} */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct hreq h;
        bool json = cases[i].ctype && strstr(cases[i].ctype, "json");
        http_run(&h, cases[i].method, cases[i].ctype, cases[i].accept, json ? (const void *)"{\"m2m:cnt\":{}}" : body,
                 json ? 14 : n);
        const char *got = h.scratch.rsp_cbor;
        if ((got == NULL) != (cases[i].want == NULL) || (got && strcmp(got, cases[i].want) != 0))
            fail_msg("%s Content-Type '%s' Accept '%s': answer in %s, want %s", cases[i].method,
                     cases[i].ctype ? cases[i].ctype : "-", cases[i].accept ? cases[i].accept : "-", got ? got : "JSON",
                     cases[i].want ? cases[i].want : "JSON");
        http_done(&h);
    }
    mem_free(body);
}

int main(void)
{
    json_set_alloc_funcs(mem_alloc, mem_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_json_type),
        cmocka_unit_test(test_numbers_keep_their_kind),
        cmocka_unit_test(test_rfc8949_appendix_a_vectors),
        cmocka_unit_test(test_round_trip_onem2m_resources),
        cmocka_unit_test(test_refuses_empty_truncated_and_trailing),
        cmocka_unit_test(test_refuses_what_json_lacks),
        cmocka_unit_test(test_refuses_duplicate_keys),
        cmocka_unit_test(test_refuses_invalid_utf8),
        cmocka_unit_test(test_refuses_malformed_structure),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_self_described_tag),
        cmocka_unit_test(test_from_json_refusals),
        cmocka_unit_test(test_http_cbor_body_reaches_core_as_json),
        cmocka_unit_test(test_http_bad_cbor_is_4000),
        cmocka_unit_test(test_http_accept_negotiation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
