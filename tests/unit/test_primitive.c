/* Unit tests for bindings/primitive (TS-0004 §7.2.1 request/response primitives as JSON, TS-0010
 * §6.5) and bindings/mqtt/mqtt_topic (TS-0010 §6.4.2-6.4.4 topic names, §6.5.4 type level). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "bindings/mqtt/mqtt_topic.h"
#include "bindings/primitive.h"
#include "core/rsc.h"
#include "util/mem.h"

static const struct id_env env = {.spid = "warden.example.com", .cse_id = "/id-in"};

struct px {
    struct prim_request p;
    struct cse_response rsp;
    int rc;
};

static void decode(struct px *x, const char *json)
{
    response_init(&x->rsp);
    x->rc = primitive_decode_request(json, strlen(json), &x->p, &x->rsp);
}

static void done(struct px *x)
{
    primitive_request_free(&x->p);
    response_free(&x->rsp);
}

/* TS-0010 §6.5.1 Figure 6.5.1-1 style CREATE */
static void test_ts0010_6_5_1_create(void **state)
{
    (void)state;
    struct px x;
    decode(&x, "{\"op\":1,\"to\":\"cse-in\",\"fr\":\"Cae1\",\"rqi\":\"r1\",\"rvi\":\"3\",\"ty\":2,"
               "\"pc\":{\"m2m:ae\":{\"api\":\"Nx\",\"rr\":true}},\"rcn\":1,\"ot\":\"20150910T062032\"}");
    assert_int_equal(x.rc, 0);
    assert_int_equal(x.p.req.op, OP_CREATE);
    assert_string_equal(x.p.req.to, "cse-in");
    assert_string_equal(x.p.req.fr, "Cae1");
    assert_string_equal(x.p.req.rqi, "r1");
    assert_string_equal(x.p.req.rvi, "3");
    assert_int_equal(x.p.req.ty, 2);
    assert_int_equal(x.p.req.rcn, 1);
    assert_int_equal(x.p.req.media, MEDIA_JSON);
    assert_non_null(x.p.req.body);
    assert_memory_equal(x.p.req.body, "{\"m2m:ae\":{\"api\":\"Nx\",\"rr\":true}}", x.p.req.body_len);
    done(&x);
}

static void test_ts0004_8_wrapped_rqp(void **state)
{
    (void)state;
    struct px x;
    decode(&x, "{\"m2m:rqp\":{\"op\":2,\"to\":\"/id-in/cse-in\",\"fr\":\"CAdmin\",\"rqi\":\"w\"}}");
    assert_int_equal(x.rc, 0);
    assert_int_equal(x.p.req.op, OP_RETRIEVE);
    assert_null(x.p.req.body);
    done(&x);
}

/* TS-0004 §7.2.1.1 authorization parameters, as TS-0010 carries them: rids/tids/ltids lists, the
 * tokens (tkns) and the Token Request Indicator */
static void test_ts0004_7_2_1_1_authorization_parameters(void **state)
{
    (void)state;
    struct px x;
    decode(&x, "{\"op\":2,\"to\":\"cse-in\",\"fr\":\"Cu\",\"rqi\":\"a\",\"rids\":[\"tech\",\"ops\"],"
               "\"tids\":\"t1\",\"ltids\":[\"3-ab\"],\"tkns\":[\"h.p.s\",\"a.b.c.d.e\"],\"tqi\":true}");
    assert_int_equal(x.rc, 0);
    const struct cse_authz_params *az = &x.p.req.az;
    assert_int_equal(az->nrids, 2);
    assert_string_equal(az->rids[1], "ops");
    assert_int_equal(az->ntids, 1);
    assert_string_equal(az->tids[0], "t1");
    assert_int_equal(az->nltids, 1);
    assert_int_equal(az->ntkns, 2);
    assert_string_equal(az->tkns[1], "a.b.c.d.e");
    assert_true(az->tqi);
    done(&x);
    decode(&x, "{\"op\":2,\"to\":\"cse-in\",\"fr\":\"Cu\",\"rqi\":\"a\",\"tqi\":\"maybe\"}");
    assert_int_equal(x.rc, RSC_BAD_REQUEST);
    done(&x);
}

/* filter criteria: arrays become several values, atr the attribute filters */
static void test_ts0004_6_3_5_8_filter_criteria(void **state)
{
    (void)state;
    struct px x;
    decode(&x, "{\"op\":2,\"to\":\"cse-in\",\"fr\":\"C1\",\"rqi\":\"d\",\"drt\":2,"
               "\"fc\":{\"fu\":1,\"ty\":[3,4],\"lbl\":[\"a\",\"b\"],\"lim\":5,\"cra\":\"20200101T000000\","
               "\"atr\":[{\"nm\":\"rn\",\"val\":\"x\"}]},\"rt\":{\"rtv\":3}}");
    assert_int_equal(x.rc, 0);
    assert_int_equal(x.p.req.drt, 2);
    assert_int_equal(x.p.req.fc.fu, 1);
    assert_int_equal(x.p.req.fc.nty, 2);
    assert_int_equal(x.p.req.fc.ty[0], 3);
    assert_int_equal(x.p.req.fc.ty[1], 4);
    assert_int_equal(x.p.req.fc.nlbl, 2);
    assert_string_equal(x.p.req.fc.lbl[1], "b");
    assert_int_equal(x.p.req.fc.lim, 5);
    assert_string_equal(x.p.req.fc.cra, "20200101T000000");
    assert_int_equal(x.p.req.fc.natr, 1);
    assert_string_equal(x.p.req.fc.atr_name[0], "rn");
    assert_string_equal(x.p.req.fc.atr_value[0], "x");
    done(&x);
}

/* TS-0004 §6.3.5.30 m2m:responseTypeInfo: rtv 1/2 are non-blocking; nu (rt 2) becomes req.rtu, an
 * empty list an empty string (no notification at all, §7.5.1.2.5), an absent one NULL. */
static void test_ts0004_6_3_5_30_response_type_info(void **state)
{
    (void)state;
    struct px x;
    decode(
        &x,
        "{\"op\":2,\"to\":\"cse-in\",\"fr\":\"C1\",\"rqi\":\"e\",\"rt\":{\"rtv\":2,\"nu\":[\"http://a/1\",\"C2\"]}}");
    assert_int_equal(x.rc, 0);
    assert_int_equal(x.p.req.rt, 2);
    assert_string_equal(x.p.req.rtu, "http://a/1&C2");
    done(&x);
    decode(&x, "{\"op\":2,\"to\":\"cse-in\",\"fr\":\"C1\",\"rqi\":\"e\",\"rt\":{\"rtv\":2,\"nu\":[]}}");
    assert_int_equal(x.rc, 0);
    assert_string_equal(x.p.req.rtu, "");
    done(&x);
    decode(&x, "{\"op\":2,\"to\":\"cse-in\",\"fr\":\"C1\",\"rqi\":\"e\",\"rt\":{\"rtv\":1}}");
    assert_int_equal(x.rc, 0);
    assert_int_equal(x.p.req.rt, 1);
    assert_null(x.p.req.rtu);
    done(&x);
}

static void test_ts0004_rqet_forms(void **state)
{
    (void)state;
    struct px x;
    decode(&x, "{\"op\":2,\"to\":\"cse-in\",\"fr\":\"C1\",\"rqi\":\"e\",\"rqet\":\"20200101T000000\"}");
    assert_int_equal(x.rc, 0);
    assert_string_equal(x.p.req.rqet, "20200101T000000"); /* resolved (and checked) by the core */
    done(&x);
    decode(&x, "{\"op\":2,\"to\":\"cse-in\",\"fr\":\"C1\",\"rqi\":\"e\",\"rqet\":5000}");
    assert_int_equal(x.rc, 0);
    assert_string_equal(x.p.req.rqet, "5000");
    done(&x);
    decode(&x, "{\"op\":2,\"to\":\"cse-in\",\"fr\":\"C1\",\"rqi\":\"e\",\"rset\":9000,\"oet\":\"20300101T000000\"}");
    assert_int_equal(x.rc, 0);
    assert_string_equal(x.p.req.rset, "9000");
    assert_string_equal(x.p.req.oet, "20300101T000000");
    done(&x);
    /* TS-0004 §7.3.2.1: a CMDH parameter (event category) this CSE does not support is 5001 */
    decode(&x, "{\"op\":2,\"to\":\"cse-in\",\"fr\":\"C1\",\"rqi\":\"e\",\"ec\":2}");
    assert_int_equal(x.rc, RSC_NOT_IMPLEMENTED);
    done(&x);
    decode(&x, "{\"op\":2,\"to\":\"cse-in\",\"fr\":\"C1\",\"rqi\":\"e\",\"rqet\":\"tomorrow\"}");
    assert_int_equal(x.rc, RSC_BAD_REQUEST);
    done(&x);
}

/* malformed primitives: 4000, with the rqi kept whenever it is readable */
static void test_ts0010_6_5_1_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        const char *rqi; /* expected readable rqi or NULL */
        int rsc;
    } cases[] = {
        {"not json", NULL, 4000},
        {"", NULL, 4000},
        {"[1]", NULL, 4000},
        {"{\"op\":2,\"to\":\"x\"}", NULL, 4000},
        {"{\"op\":2,\"to\":\"x\",\"rqi\":7}", NULL, 4000},
        {"{\"op\":2,\"to\":\"x\",\"rqi\":\"\"}", NULL, 4000},
        {"{\"op\":\"2\",\"to\":\"x\",\"rqi\":\"a\"}", "a", 4000},
        {"{\"op\":6,\"to\":\"x\",\"rqi\":\"a\"}", "a", 4000},
        {"{\"to\":\"x\",\"rqi\":\"a\"}", "a", 4000},
        {"{\"op\":2,\"rqi\":\"a\"}", "a", 4000},
        {"{\"op\":2,\"to\":5,\"rqi\":\"a\"}", "a", 4000},
        {"{\"op\":2,\"to\":\"x\",\"rqi\":\"a\",\"rcn\":\"1\"}", "a", 4000},
        {"{\"op\":2,\"to\":\"x\",\"rqi\":\"a\",\"rcn\":99}", "a", 4000},
        {"{\"op\":1,\"to\":\"x\",\"rqi\":\"a\",\"pc\":{}}", "a", 4000},
        {"{\"op\":1,\"to\":\"x\",\"rqi\":\"a\",\"ty\":3}", "a", 4000},
        {"{\"op\":2,\"to\":\"x\",\"rqi\":\"a\",\"fc\":[1]}", "a", 4000},
        {"{\"op\":2,\"to\":\"x\",\"rqi\":\"a\",\"fc\":{\"lbl\":[[1]]}}", "a", 4000},
        {"{\"op\":2,\"to\":\"x\",\"rqi\":\"a\",\"fc\":{\"atr\":[{\"nm\":1}]}}", "a", 4000},
        {"{\"op\":2,\"to\":\"x\",\"rqi\":\"a\",\"bogus\":1}", "a", 4000},
        /* rt 1 and 2 are served (core/nonblock.c); a bad rtv or nu is malformed */
        {"{\"op\":2,\"to\":\"x\",\"rqi\":\"a\",\"rt\":{\"rtv\":9}}", "a", 4000},
        {"{\"op\":2,\"to\":\"x\",\"rqi\":\"a\",\"rt\":{\"rtv\":2,\"nu\":\"http://x\"}}", "a", 4000},
        {"{\"op\":2,\"to\":\"x\",\"rqi\":\"a\",\"rt\":{\"rtv\":2,\"nu\":[1]}}", "a", 4000},
        {"{\"op\":2,\"to\":\"x\",\"rqi\":\"a\",\"rqi\":\"b\"}", NULL, 4000}, /* duplicate key */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct px x;
        decode(&x, cases[i].json);
        if (x.rc != cases[i].rsc)
            fail_msg("case %zu %s: rc %d, want %d", i, cases[i].json, x.rc, cases[i].rsc);
        if (cases[i].rqi)
            assert_string_equal(x.p.req.rqi, cases[i].rqi);
        else
            assert_null(x.p.req.rqi);
        assert_non_null(x.rsp.message);
        done(&x);
    }
}

/* TS-0010 §6.5.2 response primitive: rsc, rqi, pc spliced, to, fr, rvi, cnst/cnot */
static void test_ts0010_6_5_2_encode_response(void **state)
{
    (void)state;
    struct cse_response rsp;
    response_init(&rsp);
    rsp.rsc = RSC_OK;
    rsp.body = mem_strdup("{\"m2m:cnt\":{\"rn\":\"a\"}}");
    rsp.body_len = strlen(rsp.body);
    rsp.cnst = 1;
    rsp.cnot = 10;
    size_t len;
    char *s = primitive_encode_response(&rsp, "r\"1", "Cae1", "/id-in", "3", &len);
    assert_string_equal(s, "{\"rsc\":2000,\"rqi\":\"r\\\"1\",\"pc\":{\"m2m:cnt\":{\"rn\":\"a\"}},\"to\":\"Cae1\","
                           "\"fr\":\"/id-in\",\"rvi\":\"3\",\"cnst\":1,\"cnot\":10}");
    assert_int_equal(len, strlen(s));
    json_error_t e;
    json_t *v = json_loads(s, 0, &e);
    assert_non_null(v);
    json_decref(v);
    mem_free(s);
    response_free(&rsp);

    response_init(&rsp);
    response_error(&rsp, RSC_BAD_REQUEST, "x", "bad \"thing\"");
    s = primitive_encode_response(&rsp, NULL, NULL, "/id-in", NULL, &len);
    assert_string_equal(s, "{\"rsc\":4000,\"pc\":{\"m2m:dbg\":\"bad \\\"thing\\\"\"},\"fr\":\"/id-in\"}");
    mem_free(s);
    response_free(&rsp);
}

static void test_ts0010_6_6_encode_notify(void **state)
{
    (void)state;
    size_t len;
    char *s = primitive_encode_notify("mqtt://b/t", "/id-in", "n1", "{\"m2m:sgn\":{}}", 14, &len);
    assert_string_equal(s, "{\"op\":5,\"to\":\"mqtt://b/t\",\"fr\":\"/id-in\",\"rqi\":\"n1\",\"rvi\":\"3\","
                           "\"pc\":{\"m2m:sgn\":{}}}");
    mem_free(s);
    assert_null(primitive_encode_notify("mqtt://b/t", "/id-in", "n1", "{oops", 5, &len));
}

/* TS-0010 §6.4.2-6.4.4, §6.5.4 */
static void test_ts0010_6_4_2_topic_parse(void **state)
{
    (void)state;
    struct mqtt_topic t;
    assert_int_equal(mqtt_topic_parse("/oneM2M/req/Cae1/id-in/json", &t), 0);
    assert_int_equal(t.kind, MQTT_REQ);
    assert_string_equal(t.originator, "Cae1");
    assert_string_equal(t.receiver, "id-in");
    assert_int_equal(t.fmt, MQTT_FMT_JSON);
    assert_int_equal(mqtt_topic_parse("/oneM2M/reg_req/cred:1/id-in/cbor", &t), 0);
    assert_int_equal(t.kind, MQTT_REG_REQ);
    assert_string_equal(t.originator, "cred:1");
    assert_int_equal(t.fmt, MQTT_FMT_CBOR);
    assert_int_equal(mqtt_topic_parse("/oneM2M/req/Cae1/id-in", &t), 0);
    assert_int_equal(t.fmt, MQTT_FMT_NONE);
    assert_int_equal(mqtt_topic_parse("/oneM2M/req/id-in:Cae1/id-in/xml", &t), 0);
    assert_int_equal(t.fmt, MQTT_FMT_XML);
    static const char *const bad[] = {
        "",
        "/oneM2M/resp/Cae1/id-in/json",
        "/oneM2M/req//id-in/json",
        "/oneM2M/req/Cae1//json",
        "/oneM2M/req/Cae1/id-in/yaml",
        "/oneM2M/req/Cae1/id-in/json/x",
        "/oneM2M/req/Cae1/id-in/",
        "/oneM2M/req/C+/id-in/json",
        "/oneM2M/req/C#/id-in/json",
        "/oneM2M/req/Cae1",
        "oneM2M/req/Cae1/id-in/json",
        "/oneM2M/req/C ae/id-in/json",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (mqtt_topic_parse(bad[i], &t) != -1)
            fail_msg("accepted '%s'", bad[i]);
    char longt[700];
    memset(longt, 'a', sizeof longt);
    memcpy(longt, "/oneM2M/req/C", 13);
    longt[sizeof longt - 1] = '\0';
    assert_int_equal(mqtt_topic_parse(longt, &t), -1);
}

static void test_ts0010_6_4_3_response_topic(void **state)
{
    (void)state;
    struct mqtt_topic t;
    char out[128];
    assert_int_equal(mqtt_topic_parse("/oneM2M/req/Cae1/id-in/json", &t), 0);
    assert_int_equal(mqtt_topic_response(&t, MQTT_FMT_NONE, out, sizeof out), 0);
    assert_string_equal(out, "/oneM2M/resp/Cae1/id-in/json");
    assert_int_equal(mqtt_topic_response(&t, MQTT_FMT_CBOR, out, sizeof out), 0);
    assert_string_equal(out, "/oneM2M/resp/Cae1/id-in/cbor");
    assert_int_equal(mqtt_topic_parse("/oneM2M/reg_req/k1/id-in", &t), 0);
    assert_int_equal(mqtt_topic_response(&t, MQTT_FMT_NONE, out, sizeof out), 0);
    assert_string_equal(out, "/oneM2M/reg_resp/k1/id-in");
    assert_int_equal(mqtt_topic_response(&t, MQTT_FMT_NONE, out, 10), -1);
}

static void test_ts0010_6_4_2_topic_ids(void **state)
{
    (void)state;
    struct id id;
    assert_true(mqtt_topic_id(&env, "Cae1", &id));
    assert_string_equal(id.canon, "//warden.example.com/id-in/Cae1");
    assert_true(mqtt_topic_id(&env, "id-in:Cae1", &id));
    assert_string_equal(id.canon, "//warden.example.com/id-in/Cae1");
    assert_true(mqtt_topic_id(&env, ":warden.example.com:id-in:Cae1", &id));
    assert_string_equal(id.canon, "//warden.example.com/id-in/Cae1");
    assert_true(mqtt_topic_id(&env, "id-mn", &id));
    assert_int_equal(id.kind, ID_CSE);
    assert_string_equal(id.canon, "//warden.example.com/id-mn");
    assert_true(mqtt_topic_id(&env, "Sae2", &id));
    assert_string_equal(id.canon, "//warden.example.com/Sae2");
    assert_true(mqtt_topic_id(&env, "C", &id));
    assert_int_equal(id.kind, ID_ASK_C);
    assert_false(mqtt_topic_id(&env, "", &id));
    assert_false(mqtt_topic_id(&env, "a::b", &id));
    assert_false(mqtt_topic_id(&env, "id-in:Xbad", &id));

    char lvl[64];
    assert_int_equal(mqtt_id_level("/id-mn", lvl, sizeof lvl), 0);
    assert_string_equal(lvl, "id-mn");
    assert_int_equal(mqtt_id_level("/id-in/Cae1", lvl, sizeof lvl), 0);
    assert_string_equal(lvl, "id-in:Cae1");
    assert_int_equal(mqtt_id_level("//sp/id-in", lvl, sizeof lvl), 0);
    assert_string_equal(lvl, ":sp:id-in");
    assert_int_equal(mqtt_id_level("/id-in", lvl, 3), -1);
}

/* Issue 12, finding 15: mqtt:// notification topics (TS-0010 §6.6 leaves them free) never reach
 * the oneM2M request/response topics, wildcards or '$' topics; a configured prefix confines them. */
static void test_finding_15_notify_topic_rule(void **state)
{
    (void)state;
    char why[256];
    const char *bad[] = {"oneM2M/req/CAdmin/id-in/json",
                         "/oneM2M/req/CAdmin/id-in/json",
                         "oneM2M/req",
                         "/oneM2M/resp",
                         "oneM2M/resp/Cx/id-in/json",
                         "oneM2M/reg_req/k/id-in/json",
                         "/oneM2M/reg_resp/k/id-in/json",
                         "$SYS/x",
                         "a/+/b",
                         "a/#",
                         "#",
                         "",
                         "a\nb"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = '\0';
        assert_false(mqtt_notify_topic_ok(bad[i], "", why, sizeof why));
        assert_true(why[0] != '\0');
    }
    const char *good[] = {"ntf/x", "/oneM2M/other/x", "oneM2M/respx", "oneM2M", "onem2m/req/x", "a$b"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(mqtt_notify_topic_ok(good[i], "", why, sizeof why));
    assert_true(mqtt_notify_topic_ok("ntf/x", "ntf/", why, sizeof why));
    assert_false(mqtt_notify_topic_ok("other/x", "ntf/", why, sizeof why));
    assert_non_null(strstr(why, "notify.mqtt_prefix"));
}

int main(void)
{
    json_set_alloc_funcs(mem_alloc, mem_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ts0010_6_5_1_create),
        cmocka_unit_test(test_ts0004_8_wrapped_rqp),
        cmocka_unit_test(test_ts0004_7_2_1_1_authorization_parameters),
        cmocka_unit_test(test_ts0004_6_3_5_8_filter_criteria),
        cmocka_unit_test(test_ts0004_6_3_5_30_response_type_info),
        cmocka_unit_test(test_ts0004_rqet_forms),
        cmocka_unit_test(test_ts0010_6_5_1_malformed),
        cmocka_unit_test(test_ts0010_6_5_2_encode_response),
        cmocka_unit_test(test_ts0010_6_6_encode_notify),
        cmocka_unit_test(test_ts0010_6_4_2_topic_parse),
        cmocka_unit_test(test_ts0010_6_4_3_response_topic),
        cmocka_unit_test(test_ts0010_6_4_2_topic_ids),
        cmocka_unit_test(test_finding_15_notify_topic_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
