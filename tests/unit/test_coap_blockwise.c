/* test_coap_blockwise: Warden's block-wise transfer state (coap_blockwise.c, RFC 7959) without
 * libcoap: option coding, Block1 reassembly and its bounds, kept Block2 responses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bindings/coap/coap_blockwise.h"
#include "util/mem.h"

static const struct bw_limits LIM = {
    .max_body = 64, .per_peer = 2, .timeout_us = 1000000, .total = 3, .total_bytes = 1 << 20};

static struct bw_id id_of(const char *peer, const char *key)
{
    return (struct bw_id){peer, (const uint8_t *)key, strlen(key)};
}

static enum bw_rx put(struct bw_table *t, const char *peer, const char *key, uint32_t num, bool more, unsigned szx,
                      const char *data, size_t len, int64_t now, uint8_t **body, size_t *blen, unsigned *code)
{
    struct bw_id id = id_of(peer, key);
    struct bw_block b = {num, more, szx};
    char why[128];
    return bw_block1(t, &id, &b, (const uint8_t *)data, len, now, body, blen, code, why, sizeof why);
}

static void test_rfc7959_2_2_block_option_coding(void **state)
{
    (void)state;
    struct bw_block b;
    assert_true(bw_block_parse(NULL, 0, &b));
    assert_int_equal(b.num, 0);
    assert_false(b.more);
    assert_int_equal(b.szx, 0);
    const uint8_t v[] = {0x12, 0x3e}; /* NUM 0x123, M=1, SZX 6 */
    assert_true(bw_block_parse(v, 2, &b));
    assert_int_equal(b.num, 0x123);
    assert_true(b.more);
    assert_int_equal(b.szx, 6);
    const uint8_t szx7[] = {0x0f};
    assert_false(bw_block_parse(szx7, 1, &b)); /* reserved (BERT) */
    const uint8_t four[] = {1, 2, 3, 4};
    assert_false(bw_block_parse(four, 4, &b));
    uint8_t out[3];
    struct bw_block e = {(1u << 20) - 1, true, 5};
    size_t n = bw_block_encode(&e, out);
    assert_int_equal(n, 3);
    assert_true(bw_block_parse(out, n, &b));
    assert_int_equal(b.num, (1u << 20) - 1);
}

static void test_finding_12_1_empty_blocks_refused(void **state)
{
    (void)state;
    struct bw_table *t = bw_new(&LIM);
    uint8_t *body;
    size_t blen;
    unsigned code;
    assert_int_equal(put(t, "p", "k", 0, true, 2, "", 0, 0, &body, &blen, &code), BW_RX_ERROR);
    assert_int_equal(code, 400);
    assert_int_equal(put(t, "p", "k", 1, false, 2, "", 0, 0, &body, &blen, &code), BW_RX_ERROR);
    assert_int_equal(code, 408);
    assert_int_equal(bw_count(t, NULL), 0);
    bw_free(t);
}

static void test_rfc7959_2_3_reassembly_retransmission_and_bounds(void **state)
{
    (void)state;
    struct bw_table *t = bw_new(&LIM);
    uint8_t *body;
    size_t blen;
    unsigned code;
    const char *d = "0123456789abcdefGHIJKLMNOPQRSTUVxyz";
    assert_int_equal(put(t, "p", "k", 0, true, 0, d, 16, 0, &body, &blen, &code), BW_RX_CONTINUE);
    assert_int_equal(put(t, "p", "k", 0, true, 0, d, 16, 1, &body, &blen, &code), BW_RX_CONTINUE); /* restart */
    assert_int_equal(put(t, "p", "k", 1, true, 0, d + 16, 16, 2, &body, &blen, &code), BW_RX_CONTINUE);
    assert_int_equal(put(t, "p", "k", 1, true, 0, d + 16, 16, 3, &body, &blen, &code), BW_RX_CONTINUE); /* again */
    assert_int_equal(put(t, "p", "k", 2, false, 0, d + 32, 3, 4, &body, &blen, &code), BW_RX_COMPLETE);
    assert_int_equal(blen, 35);
    assert_memory_equal(body, d, 35);
    mem_free(body);
    assert_int_equal(bw_count(t, NULL), 0);
    /* a gap */
    assert_int_equal(put(t, "p", "g", 0, true, 0, d, 16, 5, &body, &blen, &code), BW_RX_CONTINUE);
    assert_int_equal(put(t, "p", "g", 2, false, 0, d, 3, 6, &body, &blen, &code), BW_RX_ERROR);
    assert_int_equal(code, 408);
    /* beyond max_body (64) */
    for (uint32_t n = 0; n < 4; n++)
        assert_int_equal(put(t, "p", "m", n, true, 0, d, 16, 7, &body, &blen, &code), BW_RX_CONTINUE);
    assert_int_equal(put(t, "p", "m", 4, false, 0, d, 1, 8, &body, &blen, &code), BW_RX_ERROR);
    assert_int_equal(code, 413);
    assert_int_equal(bw_count(t, NULL), 0);
    bw_free(t);
}

static void test_finding_12_1_per_peer_total_and_timeout(void **state)
{
    (void)state;
    struct bw_table *t = bw_new(&LIM);
    uint8_t *body;
    size_t blen;
    unsigned code;
    const char *d = "0123456789abcdef";
    put(t, "a", "1", 0, true, 0, d, 16, 0, &body, &blen, &code);
    put(t, "a", "2", 0, true, 0, d, 16, 1, &body, &blen, &code);
    put(t, "a", "3", 0, true, 0, d, 16, 2, &body, &blen, &code); /* per_peer 2: "1" goes */
    assert_int_equal(bw_count(t, NULL), 2);
    assert_int_equal(put(t, "a", "1", 1, false, 0, d, 1, 3, &body, &blen, &code), BW_RX_ERROR);
    put(t, "b", "4", 0, true, 0, d, 16, 4, &body, &blen, &code);
    put(t, "c", "5", 0, true, 0, d, 16, 5, &body, &blen, &code); /* total 3: the oldest ("2") goes */
    assert_int_equal(bw_count(t, NULL), 3);
    assert_int_equal(put(t, "a", "2", 1, false, 0, d, 1, 6, &body, &blen, &code), BW_RX_ERROR);
    bw_expire(t, 5 + LIM.timeout_us); /* all idle since <= 5 */
    assert_int_equal(bw_count(t, NULL), 0);
    bw_free(t);
}

static void test_rfc7959_2_4_kept_response(void **state)
{
    (void)state;
    struct bw_table *t = bw_new(&LIM);
    struct bw_id id = id_of("p", "get");
    struct bw_response r = {
        .code = 205, .opts = (const uint8_t *)"o", .opts_len = 1, .body = (const uint8_t *)"body", .body_len = 4};
    uint64_t etag = bw_block2_put(t, &id, &r, 0);
    assert_true(etag != 0);
    const struct bw_response *k = bw_block2_get(t, &id, 10);
    assert_non_null(k);
    assert_int_equal(k->etag, etag);
    assert_memory_equal(k->body, "body", 4);
    assert_null(bw_block2_get(t, &id, 20 + LIM.timeout_us));
    bw_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7959_2_2_block_option_coding),
        cmocka_unit_test(test_finding_12_1_empty_blocks_refused),
        cmocka_unit_test(test_rfc7959_2_3_reassembly_retransmission_and_bounds),
        cmocka_unit_test(test_finding_12_1_per_peer_total_and_timeout),
        cmocka_unit_test(test_rfc7959_2_4_kept_response),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
