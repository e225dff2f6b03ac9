/* Unit tests for encoding/json: request content decoding (TS-0004 8.2 JSON serialization) with
 * Warden's limits (core/limits.h LIMIT_JSON_DEPTH). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/limits.h"
#include "encoding/json.h"
#include "util/mem.h"

static json_t *decode(const char *s, char *err, size_t errlen)
{
    err[0] = '\0';
    return json_decode_body(s, strlen(s), err, errlen);
}

static void accept_body(const char *s)
{
    char err[256];
    json_t *v = decode(s, err, sizeof err);
    if (v == NULL)
        fail_msg("refused '%s': %s", s, err);
    json_decref(v);
}

static void refuse_body(const char *s, size_t len)
{
    char err[256] = "";
    json_t *v = json_decode_body(s, len, err, sizeof err);
    if (v != NULL) {
        json_decref(v);
        fail_msg("accepted '%.*s'", (int)len, s);
    }
    assert_true(err[0] != '\0'); /* every refusal says why */
}

#define REFUSE(lit) refuse_body((lit), sizeof(lit) - 1)

static void test_accepts_representation(void **state)
{
    (void)state;
    char err[256];
    json_t *v = decode("{\"m2m:cnt\":{\"rn\":\"cnt1\",\"mni\":10,\"lbl\":[\"a\",\"b\"]}}", err, sizeof err);
    assert_non_null(v);
    json_t *cnt = json_object_get(v, "m2m:cnt");
    assert_true(json_is_object(cnt));
    assert_string_equal(json_string_value(json_object_get(cnt, "rn")), "cnt1");
    assert_int_equal(json_integer_value(json_object_get(cnt, "mni")), 10);
    json_decref(v);
    accept_body("{\"a\":1}\n");   /* trailing whitespace is not garbage */
    accept_body(" \t{\"a\":1} "); /* nor is leading whitespace */
    accept_body("{\"s\":\"\\u00e4\\ud83d\\ude00 caf\xc3\xa9\"}");
}

static void test_refuses_duplicate_keys(void **state)
{
    (void)state;
    REFUSE("{\"a\":1,\"a\":2}");
    REFUSE("{\"m2m:cnt\":{\"rn\":\"x\",\"mni\":1,\"rn\":\"y\"}}"); /* nested */
    REFUSE("{\"m2m:cnt\":{},\"m2m:cnt\":{}}");
    REFUSE("{\"l\":[{\"k\":1,\"k\":1}]}");            /* inside an array */
    accept_body("{\"a\":{\"k\":1},\"b\":{\"k\":1}}"); /* the same key in different objects is fine */
}

static void test_refuses_trailing_garbage(void **state)
{
    (void)state;
    REFUSE("{\"a\":1} x");
    REFUSE("{\"a\":1}{\"b\":2}");
    REFUSE("{\"a\":1},");
    REFUSE("{\"a\":1}]");
    REFUSE("{\"a\":1}\0");
}

static void test_refuses_invalid_utf8(void **state)
{
    (void)state;
    REFUSE("{\"a\":\"\xff\"}");
    REFUSE("{\"a\":\"\xc3\"}");             /* truncated sequence */
    REFUSE("{\"a\":\"\xc0\xaf\"}");         /* overlong encoding of '/' */
    REFUSE("{\"a\":\"\xed\xa0\x80\"}");     /* UTF-16 surrogate encoded in UTF-8 */
    REFUSE("{\"a\":\"\xf4\x90\x80\x80\"}"); /* beyond U+10FFFF */
    REFUSE("{\"\xfe\":1}");                 /* in a key */
    REFUSE("{\"a\":\"\\ud800\"}");          /* lone surrogate escape */
    REFUSE("{\"a\":\"x\0y\"}");             /* raw NUL inside a string */
}

static void test_refuses_empty(void **state)
{
    (void)state;
    char err[256] = "";
    assert_null(json_decode_body("", 0, err, sizeof err));
    assert_true(err[0] != '\0');
    err[0] = '\0';
    assert_null(json_decode_body(NULL, 0, err, sizeof err));
    assert_true(err[0] != '\0');
    err[0] = '\0';
    assert_null(json_decode_body("{}", 0, err, sizeof err)); /* length, not the terminator, counts */
    REFUSE(" ");
    REFUSE("\n\n");
}

static void test_refuses_malformed(void **state)
{
    (void)state;
    REFUSE("{");
    REFUSE("{\"a\":}");
    REFUSE("{'a':1}");
    REFUSE("{\"a\":1,}");
    REFUSE("{a:1}");
    REFUSE("{\"a\":NaN}");
}

/* Only len bytes are read: a body is not NUL-terminated. */
static void test_reads_only_len_bytes(void **state)
{
    (void)state;
    const char text[] = "{\"a\":1}GARBAGE";
    char err[256];
    json_t *v = json_decode_body(text, 7, err, sizeof err);
    assert_non_null(v);
    assert_int_equal(json_integer_value(json_object_get(v, "a")), 1);
    json_decref(v);

    /* an exactly sized heap copy without a terminator: ASan catches any over-read */
    char *exact = malloc(7);
    assert_non_null(exact);
    memcpy(exact, "{\"a\":1}", 7);
    v = json_decode_body(exact, 7, err, sizeof err);
    assert_non_null(v);
    json_decref(v);
    free(exact);
}

/* levels nested arrays, the innermost empty: json_depth counts exactly levels. */
static char *nested_arrays(int levels)
{
    char *s = malloc((size_t)levels * 2 + 1);
    assert_non_null(s);
    for (int i = 0; i < levels; i++) {
        s[i] = '[';
        s[levels + i] = ']';
    }
    s[levels * 2] = '\0';
    return s;
}

/* {"a":{"a":...{"a":1}}} with n objects: n + 1 levels (the scalar counts). */
static char *nested_objects(int objects)
{
    size_t n = (size_t)objects;
    char *s = malloc(n * 5 + 2 + n + 1);
    assert_non_null(s);
    char *p = s;
    for (size_t i = 0; i < n; i++) {
        memcpy(p, "{\"a\":", 5);
        p += 5;
    }
    *p++ = '1';
    for (size_t i = 0; i < n; i++)
        *p++ = '}';
    *p = '\0';
    return s;
}

static void test_depth_limit(void **state)
{
    (void)state;
    char err[256];
    /* exactly LIMIT_JSON_DEPTH levels: accepted */
    char *s = nested_arrays(LIMIT_JSON_DEPTH);
    json_t *v = decode(s, err, sizeof err);
    if (v == NULL)
        fail_msg("depth %d refused: %s", LIMIT_JSON_DEPTH, err);
    assert_int_equal(json_depth(v, LIMIT_JSON_DEPTH), LIMIT_JSON_DEPTH);
    json_decref(v);
    free(s);
    /* one more: refused */
    s = nested_arrays(LIMIT_JSON_DEPTH + 1);
    assert_null(decode(s, err, sizeof err));
    assert_non_null(strstr(err, "deep"));
    free(s);

    s = nested_objects(LIMIT_JSON_DEPTH - 1); /* LIMIT levels including the scalar */
    v = decode(s, err, sizeof err);
    assert_non_null(v);
    json_decref(v);
    free(s);
    s = nested_objects(LIMIT_JSON_DEPTH);
    assert_null(decode(s, err, sizeof err));
    free(s);

    /* hostile nesting far beyond the limit (and beyond jansson's own) is refused, not a crash */
    s = nested_arrays(100000);
    assert_null(decode(s, err, sizeof err));
    free(s);
}

/* Depth is the deepest branch, not the first or the widest. */
static void test_depth_deepest_branch(void **state)
{
    (void)state;
    char err[256];
    /* a shallow first member and a too-deep last member */
    char *deep = nested_arrays(LIMIT_JSON_DEPTH);
    size_t n = strlen(deep) + 64;
    char *s = malloc(n);
    assert_non_null(s);
    snprintf(s, n, "{\"x\":1,\"y\":[1,2,3],\"z\":%s}", deep);
    assert_null(decode(s, err, sizeof err)); /* LIMIT + 1 levels in z */
    snprintf(s, n, "[1,[2],%s]", deep);
    assert_null(decode(s, err, sizeof err));
    free(s);
    free(deep);
}

static json_t *load(const char *s)
{
    json_t *v = json_loads(s, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    return v;
}

static void test_json_depth_values(void **state)
{
    (void)state;
    const struct {
        const char *json;
        int depth;
    } cases[] = {
        {"1", 1},
        {"\"s\"", 1},
        {"null", 1},
        {"{}", 1},
        {"[]", 1},
        {"{\"a\":1}", 2},
        {"[1,2,3]", 2},
        {"{\"a\":[1]}", 3},
        {"[1,[2,[3]]]", 4},
        {"[[[3]],1]", 4},
        {"{\"a\":{},\"b\":{\"c\":{\"d\":null}}}", 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *v = load(cases[i].json);
        int d = json_depth(v, LIMIT_JSON_DEPTH);
        if (d != cases[i].depth)
            fail_msg("json_depth(%s) = %d, want %d", cases[i].json, d, cases[i].depth);
        json_decref(v);
    }
}

/* With a small limit, a deeper value is reported as deeper than the limit. */
static void test_json_depth_stops_beyond_limit(void **state)
{
    (void)state;
    char *s = nested_arrays(50);
    json_t *v = json_loads(s, 0, NULL);
    free(s);
    assert_non_null(v);
    for (int limit = 0; limit < 10; limit++)
        assert_true(json_depth(v, limit) > limit);
    assert_int_equal(json_depth(v, 60), 50);
    json_decref(v);
}

static void test_encode_compact(void **state)
{
    (void)state;
    json_t *v = json_pack("{s:i}", "a", 1);
    size_t len = 0;
    char *s = json_encode(v, &len);
    assert_string_equal(s, "{\"a\":1}");
    assert_int_equal(len, 7);
    mem_free(s);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_representation),
        cmocka_unit_test(test_refuses_duplicate_keys),
        cmocka_unit_test(test_refuses_trailing_garbage),
        cmocka_unit_test(test_refuses_invalid_utf8),
        cmocka_unit_test(test_refuses_empty),
        cmocka_unit_test(test_refuses_malformed),
        cmocka_unit_test(test_reads_only_len_bytes),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_depth_deepest_branch),
        cmocka_unit_test(test_json_depth_values),
        cmocka_unit_test(test_json_depth_stops_beyond_limit),
        cmocka_unit_test(test_encode_compact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
