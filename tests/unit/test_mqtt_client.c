/* Unit tests for bindings/primitive_out (the request primitive a CSE sends, the response primitive it
 * gets back: TS-0004 §7.2.1.1-2, TS-0010 §6.5) and bindings/mqtt/mqtt_client (requests sent over MQTT
 * matched with their responses by rqi, TS-0010 §6.4; no answer in time is 5103, TS-0004 §7.3.2.8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "bindings/mqtt/mqtt_client.h"
#include "bindings/primitive.h"
#include "bindings/primitive_out.h"
#include "core/rsc.h"
#include "util/mem.h"

/* The encoder's output read back by the binding's own decoder: what a receiving CSE sees. */
static void test_ts0004_7_2_1_1_encoded_request_decodes_to_the_same_request(void **state)
{
    (void)state;
    struct out_request rq = {.op = OP_RETRIEVE,
                             .fr = "/id-in/Cae1",
                             .query = "rcn=1&fu=1&ty=4&ty=3&lbl=a&lbl=b&rids=r1&crb=20300101T000000&mni=5&lim=7&"
                                      "atrl=lbl&tqi=true&drt=2",
                             .rqet = "20300101T000000",
                             .rset = "20300101T000001",
                             .gid = "/id-in/g-1",
                             .tkns = "t1+t2"};
    size_t len;
    char *text = primitive_encode_request(&rq, "/id-mn/cse-mn/x", "q1", &len);
    assert_non_null(text);
    struct prim_request p;
    struct cse_response rsp;
    response_init(&rsp);
    int rc = primitive_decode_request(text, len, &p, &rsp);
    if (rc != 0)
        fail_msg("%s: %s", text, rsp.message ? rsp.message : "");
    assert_non_null(strstr(text, "\"atr\":[{\"nm\":\"mni\",\"val\":\"5\"}]"));
    /* TS-0004 §6.3.5.8, §7.2.1.1 in JSON (TS-0010 §6.4): lists are arrays, even of one value;
     * resource types and numbers integers; indicators booleans */
    json_t *o = json_loadb(text, len, 0, NULL);
    assert_non_null(o);
    json_t *fc = json_object_get(o, "fc");
    assert_true(json_is_array(json_object_get(fc, "ty")));
    assert_int_equal(json_integer_value(json_array_get(json_object_get(fc, "ty"), 1)), 3);
    assert_true(json_is_array(json_object_get(fc, "lbl")));
    assert_int_equal(json_integer_value(json_object_get(fc, "lim")), 7);
    assert_true(json_is_array(json_object_get(o, "rids")));
    assert_true(json_is_array(json_object_get(o, "tkns")));
    assert_int_equal(json_array_size(json_object_get(o, "tkns")), 2);
    assert_true(json_is_array(json_object_get(o, "atrl")));
    assert_true(json_is_true(json_object_get(o, "tqi")));
    assert_int_equal(json_integer_value(json_object_get(o, "drt")), 2);
    assert_string_equal(json_string_value(json_object_get(o, "gid")), "/id-in/g-1");
    assert_string_equal(json_string_value(json_object_get(o, "rset")), "20300101T000001");
    json_decref(o);
    assert_int_equal(p.req.op, OP_RETRIEVE);
    assert_string_equal(p.req.to, "/id-mn/cse-mn/x");
    assert_string_equal(p.req.fr, "/id-in/Cae1");
    assert_string_equal(p.req.rqi, "q1");
    assert_string_equal(p.req.rvi, "3");
    assert_int_equal(p.req.rcn, 1);
    assert_int_equal(p.req.fc.fu, 1);
    assert_int_equal(p.req.fc.nty, 2);
    assert_int_equal(p.req.fc.nlbl, 2);
    assert_string_equal(p.req.fc.lbl[1], "b");
    assert_int_equal(p.req.az.nrids, 1);
    assert_int_equal(p.req.az.ntkns, 2);
    assert_non_null(p.req.fc.crb);
    assert_int_equal(p.req.fc.natr, 1);
    assert_string_equal(p.req.fc.atr_name[0], "mni");
    assert_int_equal(p.req.fc.lim, 7);
    assert_int_equal(p.req.natrl, 1);
    assert_true(p.req.az.tqi);
    assert_int_equal(p.req.drt, 2);
    assert_string_equal(p.req.gid, "/id-in/g-1");
    assert_non_null(p.req.rset);
    primitive_request_free(&p);
    response_free(&rsp);
    mem_free(text);

    struct out_request cr = {.op = OP_CREATE, .fr = "/id-mn", .ty = 16, .body = "{\"m2m:csr\":{\"csi\":\"/id-mn\"}}"};
    cr.len = strlen(cr.body);
    text = primitive_encode_request(&cr, "/id-in/cse-in", "q2", &len);
    assert_non_null(text);
    response_init(&rsp);
    assert_int_equal(primitive_decode_request(text, len, &p, &rsp), 0);
    assert_int_equal(p.req.ty, 16);
    assert_non_null(strstr(p.req.body, "\"csi\":\"/id-mn\""));
    primitive_request_free(&p);
    response_free(&rsp);
    mem_free(text);
}

static void test_ts0004_7_2_1_1_unencodable_requests_are_refused(void **state)
{
    (void)state;
    size_t len;
    struct out_request rq = {.op = OP_CREATE, .fr = "/id-mn", .ty = 3, .body = "not json", .len = 8};
    assert_null(primitive_encode_request(&rq, "/id-in/cse-in", "q", &len));
    struct out_request bad_q = {.op = OP_RETRIEVE, .fr = "/id-mn", .query = "rcn=%zz"};
    assert_null(primitive_encode_request(&bad_q, "/id-in/cse-in", "q", &len));
    struct out_request nul_q = {.op = OP_RETRIEVE, .fr = "/id-mn", .query = "lbl=a%00b"};
    assert_null(primitive_encode_request(&nul_q, "/id-in/cse-in", "q", &len));
    struct out_request rcn_text = {.op = OP_RETRIEVE, .fr = "/id-mn", .query = "rcn=x"};
    assert_null(primitive_encode_request(&rcn_text, "/id-in/cse-in", "q", &len));
    struct out_request no_fr = {.op = OP_RETRIEVE};
    assert_null(primitive_encode_request(&no_fr, "/id-in/cse-in", "q", &len));
}

static void test_ts0004_7_2_1_2_decode_response(void **state)
{
    (void)state;
    struct prim_response r;
    const char *ok = "{\"rsc\":2000,\"rqi\":\"q1\",\"pc\":{\"m2m:cin\":{\"con\":\"v\"}},\"to\":\"/id-in/Cae1\"}";
    assert_int_equal(primitive_decode_response(ok, strlen(ok), &r), 0);
    assert_int_equal(r.rsc, 2000);
    assert_string_equal(r.rqi, "q1");
    assert_string_equal(r.to, "/id-in/Cae1");
    assert_string_equal(r.pc, "{\"m2m:cin\":{\"con\":\"v\"}}");
    primitive_response_free(&r);
    /* the response parameters a forwarding CSE passes on (TS-0004 §7.2.1.2) */
    const char *params =
        "{\"rsc\":2000,\"rqi\":\"q3\",\"cnst\":1,\"cnot\":11,"
        "\"ati\":{\"ltia\":[{\"lti\":\"1-ab\",\"tkid\":\"tok-1\"},{\"lti\":\"2-cd\",\"tkid\":\"tok-2\"},"
        "{\"lti\":\"bad:x\",\"tkid\":\"t\"}]}}";
    assert_int_equal(primitive_decode_response(params, strlen(params), &r), 0);
    assert_int_equal(r.cnst, 1);
    assert_int_equal(r.cnot, 11);
    assert_string_equal(r.ati, "1-ab:tok-1+2-cd:tok-2");
    primitive_response_free(&r);
    const char *wrapped = "{\"m2m:rsp\":{\"rsc\":4004,\"rqi\":\"q2\"}}";
    assert_int_equal(primitive_decode_response(wrapped, strlen(wrapped), &r), 0);
    assert_int_equal(r.rsc, 4004);
    assert_null(r.pc);
    primitive_response_free(&r);
    const char *bad[] = {"",
                         "[]",
                         "{\"rsc\":2000}",
                         "{\"rqi\":\"q\"}",
                         "{\"rsc\":\"2000\",\"rqi\":\"q\"}",
                         "{\"rsc\":99999,\"rqi\":\"q\"}",
                         "{\"rsc\":2000,\"rqi\":\"\"}",
                         "{\"rsc\":2000,\"rqi\":\"q\",\"to\":1}",
                         "{\"rsc\":2000,\"rqi\":\"a\\u0000b\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(primitive_decode_response(bad[i], strlen(bad[i]), &r), -1);
}

/* ---- the table of requests waiting for their response ---- */

struct sent {
    char topic[256];
    char *payload;
    int fail; /* the next publish fails */
    int count;
};

static int fake_publish(void *arg, const char *topic, const void *payload, size_t len)
{
    struct sent *s = arg;
    if (s->fail)
        return -1;
    snprintf(s->topic, sizeof s->topic, "%s", topic);
    mem_free(s->payload);
    s->payload = mem_strndup(payload, len);
    s->count++;
    return 0;
}

struct got {
    int calls, rsc, http;
    char body[256];
    bool truncated;
};

static void on_done(void *arg, const struct out_response *res)
{
    struct got *g = arg;
    g->calls++;
    g->rsc = res->rsc;
    g->http = res->http_status;
    g->truncated = res->truncated;
    snprintf(g->body, sizeof g->body, "%.*s", res->body ? (int)res->len : 0, res->body ? res->body : "");
}

static const char *sent_rqi(struct sent *s, char *out, size_t len)
{
    json_t *o = json_loads(s->payload, 0, NULL);
    snprintf(out, len, "%s", json_string_value(json_object_get(o, "rqi")));
    json_decref(o);
    return out;
}

static void test_ts0010_6_4_response_matched_by_rqi_from_the_receiver_only(void **state)
{
    (void)state;
    struct mqtt_out *t = mqtt_out_new("id-mn", 4, NULL);
    struct sent s = {0};
    struct got g = {0};
    struct out_request rq = {.op = OP_RETRIEVE, .fr = "/id-mn/Cae1", .max_answer = 1024};
    assert_int_equal(
        mqtt_out_send(t, "/id-in", "/id-in/cse-in", &rq, "20300101T000000", 1000, fake_publish, &s, on_done, &g), 0);
    assert_string_equal(s.topic, "/oneM2M/req/id-mn/id-in/json");
    assert_non_null(strstr(s.payload, "\"rqet\":\"20300101T000000\""));
    char rqi[128], resp[512];
    sent_rqi(&s, rqi, sizeof rqi);
    snprintf(resp, sizeof resp, "{\"rsc\":2000,\"rqi\":\"%s\",\"to\":\"/id-mn/Cae1\",\"pc\":{\"a\":1}}", rqi);
    /* another client answering in the receiver's place (another topic level): not taken */
    assert_false(mqtt_out_response(t, "id-mx", resp, strlen(resp)));
    /* the right receiver, but for another originator's request of the same rqi: not taken */
    char other[512];
    snprintf(other, sizeof other, "{\"rsc\":2000,\"rqi\":\"%s\",\"to\":\"/id-mn/Cother\"}", rqi);
    assert_false(mqtt_out_response(t, "id-in", other, strlen(other)));
    assert_int_equal(g.calls, 0);
    assert_true(mqtt_out_response(t, "id-in", resp, strlen(resp)));
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.rsc, 2000);
    assert_int_equal(g.http, 200);
    assert_string_equal(g.body, "{\"a\":1}");
    /* exactly once: a duplicate (QoS 1 redelivery) finds nothing */
    assert_false(mqtt_out_response(t, "id-in", resp, strlen(resp)));
    assert_int_equal(g.calls, 1);
    assert_int_equal(mqtt_out_pending(t), 0);
    mem_free(s.payload);
    mqtt_out_free(t);
}

static void test_ts0004_7_3_2_8_no_response_in_time_is_5103(void **state)
{
    (void)state;
    struct mqtt_out *t = mqtt_out_new("id-mn", 4, NULL);
    struct sent s = {0};
    struct got g1 = {0}, g2 = {0};
    struct out_request rq = {.op = OP_CREATE, .fr = "/id-mn", .ty = 16, .body = "{}", .len = 2};
    assert_int_equal(mqtt_out_send(t, "/id-in", "/id-in/cse-in", &rq, NULL, 1000, fake_publish, &s, on_done, &g1), 0);
    assert_int_equal(mqtt_out_send(t, "/id-in", "/id-in/cse-in", &rq, NULL, 5000, fake_publish, &s, on_done, &g2), 0);
    mqtt_out_expire(t, 999);
    assert_int_equal(g1.calls, 0);
    mqtt_out_expire(t, 1000);
    assert_int_equal(g1.calls, 1);
    assert_int_equal(g1.rsc, RSC_TARGET_NOT_REACHABLE);
    assert_int_equal(g1.http, 0);
    assert_int_equal(g2.calls, 0);
    /* freeing the table answers what still waits, once */
    mqtt_out_free(t);
    assert_int_equal(g2.calls, 1);
    assert_int_equal(g2.rsc, RSC_TARGET_NOT_REACHABLE);
    assert_int_equal(g1.calls, 1);
    mem_free(s.payload);
}

static void test_ts0010_6_4_bounded_table_duplicates_and_publish_failures_refused(void **state)
{
    (void)state;
    struct mqtt_out *t = mqtt_out_new("id-mn", 2, NULL);
    struct sent s = {0};
    struct got g = {0};
    struct out_request rq = {.op = OP_RETRIEVE, .fr = "/id-mn/Cae1", .rqi = "same"};
    assert_int_equal(mqtt_out_send(t, "/id-in", "/id-in/cse-in", &rq, NULL, 1000, fake_publish, &s, on_done, &g), 0);
    /* the same (From, rqi) again: a response could not be told apart */
    assert_int_equal(mqtt_out_send(t, "/id-in", "/id-in/cse-in", &rq, NULL, 1000, fake_publish, &s, on_done, &g), -1);
    rq.fr = "/id-mn/Cae2"; /* another originator may use the same rqi */
    assert_int_equal(mqtt_out_send(t, "/id-in", "/id-in/cse-in", &rq, NULL, 1000, fake_publish, &s, on_done, &g), 0);
    rq.fr = "/id-mn/Cae3"; /* full */
    assert_int_equal(mqtt_out_send(t, "/id-in", "/id-in/cse-in", &rq, NULL, 1000, fake_publish, &s, on_done, &g), -1);
    mqtt_out_expire(t, 2000);
    assert_int_equal(g.calls, 2);
    s.fail = 1; /* the broker connection refused it: -1, done never called */
    assert_int_equal(mqtt_out_send(t, "/id-in", "/id-in/cse-in", &rq, NULL, 1000, fake_publish, &s, on_done, &g), -1);
    assert_int_equal(mqtt_out_pending(t), 0);
    /* the receiver must be one topic level: a CSE-ID of this SP */
    s.fail = 0;
    assert_int_equal(mqtt_out_send(t, "//other.sp/id-in", "/id-in", &rq, NULL, 1000, fake_publish, &s, on_done, &g),
                     -1);
    mqtt_out_free(t);
    assert_int_equal(g.calls, 2);
    mem_free(s.payload);
}

int main(void)
{
    json_set_alloc_funcs(mem_alloc, mem_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ts0004_7_2_1_1_encoded_request_decodes_to_the_same_request),
        cmocka_unit_test(test_ts0004_7_2_1_1_unencodable_requests_are_refused),
        cmocka_unit_test(test_ts0004_7_2_1_2_decode_response),
        cmocka_unit_test(test_ts0010_6_4_response_matched_by_rqi_from_the_receiver_only),
        cmocka_unit_test(test_ts0004_7_3_2_8_no_response_in_time_is_5103),
        cmocka_unit_test(test_ts0010_6_4_bounded_table_duplicates_and_publish_failures_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
