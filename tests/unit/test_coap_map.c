/* test_coap_map: the TS-0008 mapping without libcoap (coap_map.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bindings/coap/coap_map.h"
#include "core/rsc.h"

#define O(n, s)                                                                                                        \
    {                                                                                                                  \
        (n), (const uint8_t *)(s), sizeof(s) - 1                                                                       \
    }

static int map(int method, const struct coap_opt_in *opts, size_t n, const char *body, struct cse_request *req,
               struct coap_scratch *sc, struct cse_response *rsp)
{
    struct coap_raw raw = {method, opts, n, (const uint8_t *)body, body ? strlen(body) : 0};
    response_init(rsp);
    return coap_to_primitive(&raw, req, sc, rsp);
}

static void test_ts0008_6_2_create_with_ty(void **state)
{
    (void)state;
    struct coap_opt_in o[] = {O(11, "cse-in"), O(12, "\x27\x11"), O(267, "\x02"),
                              O(271, "3"),     O(279, "Cae1"),    O(283, "r1")};
    struct cse_request req;
    struct coap_scratch sc;
    struct cse_response rsp;
    assert_int_equal(map(COAPM_POST, o, 6, "{}", &req, &sc, &rsp), 0);
    assert_int_equal(req.op, OP_CREATE);
    assert_int_equal(req.ty, 2);
    assert_string_equal(req.to, "cse-in");
    assert_string_equal(req.fr, "Cae1");
    assert_string_equal(req.rqi, "r1");
    assert_string_equal(req.rvi, "3");
    assert_int_equal(req.body_len, 2);
    coap_scratch_free(&sc);
    response_free(&rsp);
}

static void test_ts0008_6_2_2_3_path_forms(void **state)
{
    (void)state;
    struct cse_request req;
    struct coap_scratch sc;
    struct cse_response rsp;
    struct coap_opt_in sp[] = {O(11, "~"), O(11, "id-in"), O(11, "cse-in"), O(279, "C"), O(283, "r")};
    assert_int_equal(map(COAPM_GET, sp, 5, NULL, &req, &sc, &rsp), 0);
    assert_string_equal(req.to, "/id-in/cse-in");
    coap_scratch_free(&sc);
    struct coap_opt_in ab[] = {O(11, "_"), O(11, "sp.example"), O(11, "id-in"), O(11, "ae")};
    assert_int_equal(map(COAPM_GET, ab, 4, NULL, &req, &sc, &rsp), 0);
    assert_string_equal(req.to, "//sp.example/id-in/ae");
    coap_scratch_free(&sc);
    struct coap_opt_in bad[] = {O(11, "a/b")};
    assert_int_equal(map(COAPM_GET, bad, 1, NULL, &req, &sc, &rsp), RSC_BAD_REQUEST);
    coap_scratch_free(&sc);
    response_free(&rsp);
    assert_int_equal(map(COAPM_GET, bad, 0, NULL, &req, &sc, &rsp), RSC_BAD_REQUEST);
    coap_scratch_free(&sc);
    response_free(&rsp);
}

static void test_ts0008_6_2_query_and_methods(void **state)
{
    (void)state;
    struct cse_request req;
    struct coap_scratch sc;
    struct cse_response rsp;
    struct coap_opt_in q[] = {O(11, "cse-in"), O(15, "fu=1"), O(15, "ty=3"), O(15, "rcn=1")};
    assert_int_equal(map(COAPM_GET, q, 4, NULL, &req, &sc, &rsp), 0);
    assert_int_equal(req.op, OP_RETRIEVE);
    assert_int_equal(req.fc.fu, 1);
    assert_int_equal(req.fc.nty, 1);
    assert_int_equal(req.rcn, 1);
    coap_scratch_free(&sc);
    assert_int_equal(map(COAPM_POST, q, 1, "{}", &req, &sc, &rsp), 0);
    assert_int_equal(req.op, OP_NOTIFY);
    coap_scratch_free(&sc);
    assert_int_equal(map(7, q, 1, NULL, &req, &sc, &rsp), RSC_OPERATION_NOT_ALLOWED);
    coap_scratch_free(&sc);
    response_free(&rsp);
    struct coap_opt_in cf[] = {O(11, "cse-in"), O(12, "\x2a")};
    assert_int_equal(map(COAPM_PUT, cf, 2, "{}", &req, &sc, &rsp), RSC_UNSUPPORTED_MEDIA_TYPE);
    coap_scratch_free(&sc);
    response_free(&rsp);
    struct coap_opt_in dup[] = {O(11, "cse-in"), O(279, "a"), O(279, "b")};
    assert_int_equal(map(COAPM_GET, dup, 3, NULL, &req, &sc, &rsp), RSC_BAD_REQUEST);
    coap_scratch_free(&sc);
    response_free(&rsp);
}

/* TS-0008 §6.2.2.3 Tokens in Uri-Query (tkns=t1+t2), a value too long for one option (RFC 7252
 * §5.10) cut into options that end in '~' (coap_map.h); §6.2.2.4.11 the Group Request Identifier in
 * oneM2M-GID (311). */
static void test_ts0008_6_2_2_3_tokens_and_gid(void **state)
{
    (void)state;
    struct cse_request req;
    struct coap_scratch sc;
    struct cse_response rsp;
    struct coap_opt_in q[] = {O(11, "cse-in"), O(15, "tkns=aa.bb~"), O(15, "tkns=.cc+dd.ee"), O(15, "tkns=ff"),
                              O(311, "/id-in/g1")};
    assert_int_equal(map(COAPM_GET, q, 5, NULL, &req, &sc, &rsp), 0);
    assert_int_equal(req.az.ntkns, 3);
    assert_string_equal(req.az.tkns[0], "aa.bb.cc");
    assert_string_equal(req.az.tkns[1], "dd.ee");
    assert_string_equal(req.az.tkns[2], "ff");
    assert_string_equal(req.gid, "/id-in/g1");
    coap_scratch_free(&sc);
    response_free(&rsp);
    struct coap_opt_in cut[] = {O(11, "cse-in"), O(15, "tkns=aa~"), O(15, "rcn=1")};
    assert_int_equal(map(COAPM_GET, cut, 3, NULL, &req, &sc, &rsp), RSC_BAD_REQUEST);
    coap_scratch_free(&sc);
    response_free(&rsp);
    assert_int_equal(map(COAPM_GET, cut, 2, NULL, &req, &sc, &rsp), RSC_BAD_REQUEST);
    coap_scratch_free(&sc);
    response_free(&rsp);
}

/* TS-0008 §6.2.1, §6.2.2.3, §6.3.2-3: a non-blocking request is a POST carrying its Operation as the
 * query parameter op, rt in the query and rt's notificationURIs in oneM2M-RTURI (263). */
static void test_ts0008_6_3_nonblocking_post_with_op_rt_and_rturi(void **state)
{
    (void)state;
    struct cse_request req;
    struct coap_scratch sc;
    struct cse_response rsp;
    struct coap_opt_in q[] = {O(11, "cse-in"), O(15, "op=2"), O(15, "rt=2"), O(263, "http://a/x&Cae")};
    assert_int_equal(map(COAPM_POST, q, 4, NULL, &req, &sc, &rsp), 0);
    assert_int_equal(req.op, OP_RETRIEVE);
    assert_int_equal(req.rt, 2);
    assert_string_equal(req.rtu, "http://a/x&Cae");
    coap_scratch_free(&sc);
    struct coap_opt_in bad[] = {O(11, "cse-in"), O(15, "op=9")};
    assert_int_equal(map(COAPM_POST, bad, 2, NULL, &req, &sc, &rsp), RSC_BAD_REQUEST);
    coap_scratch_free(&sc);
    response_free(&rsp);
    struct coap_opt_in get[] = {O(11, "cse-in"), O(15, "op=4")};
    assert_int_equal(map(COAPM_GET, get, 2, NULL, &req, &sc, &rsp), RSC_BAD_REQUEST); /* POST only */
    coap_scratch_free(&sc);
    response_free(&rsp);
}

static void test_ts0008_6_2_4_code_table(void **state)
{
    (void)state;
    assert_int_equal(coap_code_of(2000, OP_RETRIEVE), 205);
    /* TS-0008 §6.3.2-3: 2.01 when a <request> resource was created, which Warden always does */
    assert_int_equal(coap_code_of(1001, OP_RETRIEVE), 201);
    assert_int_equal(coap_code_of(1002, OP_RETRIEVE), 201);
    assert_int_equal(coap_code_of(2000, OP_NOTIFY), 204);
    assert_int_equal(coap_code_of(2001, OP_CREATE), 201);
    assert_int_equal(coap_code_of(2002, OP_DELETE), 202);
    assert_int_equal(coap_code_of(2004, OP_UPDATE), 204);
    assert_int_equal(coap_code_of(4001, OP_RETRIEVE), 501);
    assert_int_equal(coap_code_of(4105, OP_CREATE), 403);
    assert_int_equal(coap_code_of(4107, OP_CREATE), 403);
    assert_int_equal(coap_code_of(5207, OP_CREATE), 406);
    assert_int_equal(coap_code_of(4120, OP_CREATE), 402);
    assert_int_equal(coap_code_of(4999, OP_CREATE), 400);
}

static void test_ts0008_6_2_response_options(void **state)
{
    (void)state;
    struct cse_response rsp;
    response_init(&rsp);
    rsp.rsc = 2001;
    char loc[] = "cse-in/ae1/cnt1";
    rsp.location = loc;
    rsp.cnst = 1;
    rsp.cnot = 300;
    struct coap_opt_out o[COAP_MAX_RSP_OPTS];
    size_t n = coap_response_options(&rsp, "r1", "3", COAPM_CF_RES_JSON, true, o);
    assert_int_equal(n, 9);
    assert_int_equal(o[0].num, 8);
    assert_memory_equal(o[2].val, "cnt1", 4);
    assert_int_equal(o[3].num, 12);
    assert_int_equal(o[6].num, 307);
    uint32_t v;
    assert_true(coap_uint_decode(o[6].val, o[6].len, &v));
    assert_int_equal(v, 2001);
    assert_int_equal(o[7].num, 319);
    assert_int_equal(o[8].num, 323);
    for (size_t i = 1; i < n; i++)
        assert_true(o[i].num >= o[i - 1].num);
    rsp.location = NULL;
    uint8_t b[4];
    assert_int_equal(coap_uint_encode(0, b), 0);
    assert_int_equal(coap_uint_encode(10001, b), 2);
    assert_false(coap_uint_decode(b, 5, &v));
}

/* Finding 13 (siblings): TS-0008 Table 6.2.2.4.0-1 marks no oneM2M option repeatable; a repeated
 * one, evaluated or not, and a NUL inside a Uri-Path segment, Uri-Query or From are 4000. */
static void test_finding_13_coap_repeated_onem2m_option_or_nul_is_4000(void **state)
{
    (void)state;
    struct cse_request req;
    struct coap_scratch sc;
    struct cse_response rsp;
    struct coap_opt_in twice_ot[] = {O(11, "cse-in"), O(259, "20261207T000000"), O(259, "20991207T000000"), O(279, "C"),
                                     O(283, "r")};
    assert_int_equal(map(COAPM_GET, twice_ot, 5, NULL, &req, &sc, &rsp), RSC_BAD_REQUEST);
    coap_scratch_free(&sc);
    response_free(&rsp);
    struct coap_opt_in twice_fr[] = {O(11, "cse-in"), O(279, "C"), O(279, "CAdmin"), O(283, "r")};
    assert_int_equal(map(COAPM_GET, twice_fr, 4, NULL, &req, &sc, &rsp), RSC_BAD_REQUEST);
    coap_scratch_free(&sc);
    response_free(&rsp);
    struct coap_opt_in nul_fr[] = {O(11, "cse-in"), O(279, "CAdmin\0junk"), O(283, "r")};
    assert_int_equal(map(COAPM_GET, nul_fr, 3, NULL, &req, &sc, &rsp), RSC_BAD_REQUEST);
    coap_scratch_free(&sc);
    response_free(&rsp);
    struct coap_opt_in nul_seg[] = {O(11, "cse-in\0x"), O(279, "C"), O(283, "r")};
    assert_int_equal(map(COAPM_GET, nul_seg, 3, NULL, &req, &sc, &rsp), RSC_BAD_REQUEST);
    coap_scratch_free(&sc);
    response_free(&rsp);
    struct coap_opt_in nul_q[] = {O(11, "cse-in"), O(15, "rcn=1\0x"), O(279, "C"), O(283, "r")};
    assert_int_equal(map(COAPM_GET, nul_q, 4, NULL, &req, &sc, &rsp), RSC_BAD_REQUEST);
    coap_scratch_free(&sc);
    response_free(&rsp);
    struct coap_opt_in once_each[] = {O(11, "cse-in"), O(259, "20991207T000000"), O(279, "C"), O(283, "r")};
    assert_int_equal(map(COAPM_GET, once_each, 4, NULL, &req, &sc, &rsp), 0);
    coap_scratch_free(&sc);
    response_free(&rsp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ts0008_6_2_create_with_ty),
        cmocka_unit_test(test_ts0008_6_2_2_3_path_forms),
        cmocka_unit_test(test_ts0008_6_2_query_and_methods),
        cmocka_unit_test(test_ts0008_6_2_2_3_tokens_and_gid),
        cmocka_unit_test(test_ts0008_6_3_nonblocking_post_with_op_rt_and_rturi),
        cmocka_unit_test(test_ts0008_6_2_4_code_table),
        cmocka_unit_test(test_ts0008_6_2_response_options),
        cmocka_unit_test(test_finding_13_coap_repeated_onem2m_option_or_nul_is_4000),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
