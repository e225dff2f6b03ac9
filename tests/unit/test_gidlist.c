/* test_gidlist: the received Group Request Identifiers (core/gidlist.c; TS-0004 §7.3.3.2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "core/gidlist.h"

#define S 1000000LL

static void test_ts0004_7_3_3_2_same_gid_same_target_is_a_repeat(void **state)
{
    (void)state;
    struct gidlist *l = gidlist_new(8);
    assert_true(gidlist_add(l, "g1", "cnt1", 0, 10 * S));
    assert_false(gidlist_add(l, "g1", "cnt1", 1 * S, 10 * S));
    assert_true(gidlist_add(l, "g1", "cnt2", 1 * S, 10 * S));   /* another target */
    assert_true(gidlist_add(l, "g2", "cnt1", 1 * S, 10 * S));   /* another gid */
    assert_true(gidlist_add(l, "g1\ncnt", "1", 1 * S, 10 * S)); /* no confusion at the separator */
    /* kept until its expiry, then the same pair is a new request */
    assert_false(gidlist_add(l, "g1", "cnt1", 10 * S - 1, 20 * S));
    assert_true(gidlist_add(l, "g1", "cnt1", 10 * S, 20 * S));
    assert_false(gidlist_add(l, "g1", "cnt1", 11 * S, 20 * S));
    gidlist_free(l);
}

static void test_ts0004_7_3_3_2_bounded_the_oldest_forgotten_first(void **state)
{
    (void)state;
    struct gidlist *l = gidlist_new(4);
    char t[16];
    for (int i = 0; i < 100; i++) {
        snprintf(t, sizeof t, "t%d", i);
        assert_true(gidlist_add(l, "g", t, 0, 60 * S));
        assert_true(gidlist_count(l) <= 4);
    }
    assert_false(gidlist_add(l, "g", "t99", 0, 60 * S)); /* the newest are there */
    assert_false(gidlist_add(l, "g", "t97", 0, 60 * S));
    assert_true(gidlist_add(l, "g", "t0", 0, 60 * S)); /* the oldest were forgotten */
    /* expired entries make room before live ones are forgotten */
    struct gidlist *m = gidlist_new(2);
    assert_true(gidlist_add(m, "g", "short", 0, 1 * S));
    assert_true(gidlist_add(m, "g", "long", 0, 60 * S));
    assert_true(gidlist_add(m, "g", "new", 2 * S, 60 * S));
    assert_false(gidlist_add(m, "g", "long", 2 * S, 60 * S));
    gidlist_free(m);
    gidlist_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ts0004_7_3_3_2_same_gid_same_target_is_a_repeat),
        cmocka_unit_test(test_ts0004_7_3_3_2_bounded_the_oldest_forgotten_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
