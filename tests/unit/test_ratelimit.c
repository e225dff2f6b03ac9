/* Unit tests for core/ratelimit: the per-originator token bucket behind limits.rate (issue 12
 * finding 8): a burst, then the rate; one bucket per originator; bounded memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core_int.h"

#define S 1000000 /* microseconds */

static void test_off_when_rate_is_zero(void **state)
{
    (void)state;
    assert_null(ratelimit_new(0, 10, 64));
    int64_t retry = 0;
    assert_int_equal(ratelimit_take(NULL, "Cae", 0, &retry), 0);
}

static void test_burst_then_rate(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new(10, 3, 64); /* 10/s, bursts of 3 */
    int64_t t = 5 * S, retry = 0;
    for (int i = 0; i < 3; i++)
        assert_int_equal(ratelimit_take(rl, "//sp/id-in/Cae", t, &retry), 0);
    assert_int_equal(ratelimit_take(rl, "//sp/id-in/Cae", t, &retry), -1);
    assert_in_range(retry, 95, 101); /* the next token in 100 ms */
    assert_int_equal(ratelimit_take(rl, "//sp/id-in/Cae", t + 50000, &retry), -1);
    assert_int_equal(ratelimit_take(rl, "//sp/id-in/Cae", t + 100000, &retry), 0);
    /* another originator has its own bucket */
    assert_int_equal(ratelimit_take(rl, "//sp/id-in/Cother", t + 100000, &retry), 0);
    /* a long idle period refills to the burst, never beyond */
    t += 3600LL * S;
    for (int i = 0; i < 3; i++)
        assert_int_equal(ratelimit_take(rl, "//sp/id-in/Cae", t, &retry), 0);
    assert_int_equal(ratelimit_take(rl, "//sp/id-in/Cae", t, &retry), -1);
    ratelimit_free(rl);
}

static void test_long_ids_and_many_originators(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new(1, 1, 64);
    char a[600], b[600];
    memset(a, 'a', sizeof a - 1);
    a[sizeof a - 1] = '\0';
    memcpy(b, a, sizeof b);
    b[sizeof b - 2] = 'b'; /* same long prefix, another ID */
    int64_t retry = 0;
    assert_int_equal(ratelimit_take(rl, a, 0, &retry), 0);
    assert_int_equal(ratelimit_take(rl, a, 0, &retry), -1);
    assert_int_equal(ratelimit_take(rl, b, 0, &retry), 0);
    /* far more originators than buckets: the table stays bounded and keeps answering */
    char id[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(id, sizeof id, "C%d", i);
        assert_int_equal(ratelimit_take(rl, id, 0, &retry), 0);
    }
    /* a quiet originator refilled to the burst is the one whose bucket a newcomer takes; a busy
     * (drained) one keeps its state while a set has idler buckets */
    assert_int_equal(ratelimit_take(rl, "Cbusy", 10 * S, &retry), 0);
    for (int i = 0; i < 7; i++) { /* fill Cbusy's set with drained buckets, then more newcomers */
        snprintf(id, sizeof id, "D%d", i);
        (void)ratelimit_take(rl, id, 10 * S, &retry);
    }
    assert_int_equal(ratelimit_take(rl, "Cbusy", 10 * S, &retry), -1);
    ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off_when_rate_is_zero),
        cmocka_unit_test(test_burst_then_rate),
        cmocka_unit_test(test_long_ids_and_many_originators),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
