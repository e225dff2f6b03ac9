/* Unit tests for util/timeutil: oneM2M m2m:timestamp handling (TS-0004 6.3.3, ISO 8601 basic
 * format "YYYYMMDDTHHMMSS" in UTC) and the replaceable clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/timeutil.h"

static int64_t parse_ok(const char *s)
{
    int64_t v = -12345;
    if (!ts_parse(s, &v))
        fail_msg("ts_parse refused valid timestamp '%s'", s);
    return v;
}

static void refuse(const char *s)
{
    int64_t v = 0;
    if (ts_parse(s, &v))
        fail_msg("ts_parse accepted invalid timestamp '%s' (as %lld)", s, (long long)v);
}

/* Known epoch values, computed independently. */
static void test_parse_known_values(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("19700101T000000"), 0);
    assert_int_equal(parse_ok("20240229T120000"), 1709208000);
    assert_int_equal(parse_ok("20000229T000000"), 951782400);
    assert_int_equal(parse_ok("20230301T000000"), 1677628800);
    assert_int_equal(parse_ok("20991231T235959"), 4102444799LL);
    assert_int_equal(parse_ok("99991231T235959"), 253402300799LL);
}

static void test_format_known_values(void **state)
{
    (void)state;
    char out[TS_LEN + 1];
    ts_format(0, out);
    assert_string_equal(out, "19700101T000000");
    ts_format(1709208000, out);
    assert_string_equal(out, "20240229T120000");
    ts_format(1483228799, out);
    assert_string_equal(out, "20161231T235959");
    ts_format(253402300799LL, out);
    assert_string_equal(out, "99991231T235959");
    assert_int_equal(strlen(out), TS_LEN);
}

/* Whatever ts_format writes, ts_parse reads back to the same second. */
static void test_round_trip(void **state)
{
    (void)state;
    const int64_t samples[] = {0,          1,          59,           86399,        86400,
                               951782400,  951868799,  1709208000,   1709251199,   1735689599,
                               1735689600, 2147483647, 2147483648LL, 4102444799LL, 253402300799LL};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        char out[TS_LEN + 1];
        ts_format(samples[i], out);
        int64_t back = -1;
        assert_true(ts_parse(out, &back));
        assert_int_equal(back, samples[i]);
    }
    /* and a sweep over several years at an odd step, crossing many month ends */
    for (int64_t t = 946684800; t < 1893456000; t += 86400 * 7 + 3601) {
        char out[TS_LEN + 1];
        ts_format(t, out);
        int64_t back = -1;
        assert_true(ts_parse(out, &back));
        assert_int_equal(back, t);
    }
}

/* TS-0004 6.3.3 timestamps may carry a fractional second and a "Z" designator. */
static void test_fraction_and_z_accepted(void **state)
{
    (void)state;
    int64_t base = parse_ok("20240229T120000");
    assert_int_equal(parse_ok("20240229T120000Z"), base);
    assert_int_equal(parse_ok("20240229T120000,5"), base);
    assert_int_equal(parse_ok("20240229T120000,123456"), base);
    assert_int_equal(parse_ok("20240229T120000,123456Z"), base);
    assert_int_equal(parse_ok("20240229T120000.250Z"), base);
}

static void test_malformed_suffix_refused(void **state)
{
    (void)state;
    refuse("20240229T120000,"); /* separator without digits */
    refuse("20240229T120000,Z");
    refuse("20240229T120000Z,5"); /* Z must come last */
    refuse("20240229T120000ZZ");
    refuse("20240229T120000 ");     /* trailing space */
    refuse("20240229T120000+0100"); /* offsets are not part of the form */
    refuse("20240229T120000,12a");
}

static void test_impossible_dates_refused(void **state)
{
    (void)state;
    refuse("20240230T000000"); /* Feb 30 */
    refuse("20240231T000000");
    refuse("20230229T000000"); /* Feb 29 in a common year */
    refuse("20241301T000000"); /* month 13 */
    refuse("20240001T000000"); /* month 0 */
    refuse("20240100T000000"); /* day 0 */
    refuse("20240132T000000");
    refuse("20240431T000000"); /* April has 30 days */
    refuse("20240631T000000");
    refuse("20240931T000000");
    refuse("20241131T000000");
    refuse("20240101T240000"); /* hour 24 */
    refuse("20240101T006000"); /* minute 60 */
    refuse("20240101T000061");
}

static void test_garbage_refused(void **state)
{
    (void)state;
    refuse("");
    refuse("2024");
    refuse("20240101T00000"); /* one digit short */
    refuse("20240101");
    refuse("20240101 000000"); /* no T */
    refuse("20240101t000000");
    refuse("2024-01-01T00:00:00"); /* extended format is not the oneM2M form */
    refuse("2024010AT000000");
    refuse("abcdefghijklmno");
    refuse("-2024010T000000");
    refuse("+2024010T000000");
    refuse("20240101T0000-0");
    refuse("2024 101T000000");
}

/* Gregorian leap-year rule: divisible by 4, except centuries not divisible by 400. */
static void test_leap_years(void **state)
{
    (void)state;
    parse_ok("20000229T000000"); /* divisible by 400 */
    parse_ok("20240229T235959");
    parse_ok("19720229T000000");
    parse_ok("24000229T000000");
    refuse("21000229T000000"); /* century, not divisible by 400 */
    refuse("22000229T000000");
    refuse("20250229T000000");
    /* Feb 29 and Mar 1 of a leap year are one day apart */
    assert_int_equal(parse_ok("20240301T000000") - parse_ok("20240229T000000"), 86400);
    /* a leap year has 366 days, a common year 365 */
    assert_int_equal(parse_ok("20250101T000000") - parse_ok("20240101T000000"), 366 * 86400);
    assert_int_equal(parse_ok("20240101T000000") - parse_ok("20230101T000000"), 365 * 86400);
    assert_int_equal(parse_ok("21010101T000000") - parse_ok("21000101T000000"), 365 * 86400);
}

/* Short inputs in exactly-sized heap blocks: under ASan any read past the terminator fails. */
static void test_parse_does_not_read_past_terminator(void **state)
{
    (void)state;
    const char *shorts[] = {"", "2", "2024010", "20240101T", "20240101T00000"};
    for (size_t i = 0; i < sizeof shorts / sizeof shorts[0]; i++) {
        char *p = strdup(shorts[i]);
        assert_non_null(p);
        refuse(p);
        free(p);
    }
}

static int64_t fake_now(void *arg)
{
    return *(const int64_t *)arg;
}

/* The clock seam: a substituted clock is what clock_now_us returns. */
static void test_clock_substitution(void **state)
{
    (void)state;
    int64_t t = 1709208000LL * 1000000 + 42;
    struct clock c = {.now_us = fake_now, .arg = &t};
    assert_int_equal(clock_now_us(&c), t);
    t += 5000000;
    assert_int_equal(clock_now_us(&c), t);

    struct clock real = {.now_us = clock_real_us};
    int64_t now = clock_now_us(&real);
    assert_true(now > 1600000000LL * 1000000); /* after 2020 */
    int64_t m1 = clock_mono_us(), m2 = clock_mono_us();
    assert_true(m2 >= m1);
}

/* dataGenerationTime of a <timeSeriesInstance> (TS-0004 §7.4.39) is compared in milliseconds */
static void test_ms_parse_and_format(void **state)
{
    (void)state;
    int64_t ms;
    assert_true(ts_parse_ms("20300101T000000", &ms));
    assert_int_equal(ms, 1893456000000LL);
    assert_true(ts_parse_ms("20300101T000000,5", &ms));
    assert_int_equal(ms, 1893456000500LL);
    assert_true(ts_parse_ms("20300101T000000.123456Z", &ms));
    assert_int_equal(ms, 1893456000123LL);
    assert_false(ts_parse_ms("20300101T000000,", &ms));
    char out[TS_MS_LEN + 1];
    ts_format_ms(1893456000000LL, out);
    assert_string_equal(out, "20300101T000000");
    ts_format_ms(1893456000042LL, out);
    assert_string_equal(out, "20300101T000000,042");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_known_values),
        cmocka_unit_test(test_ms_parse_and_format),
        cmocka_unit_test(test_format_known_values),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_fraction_and_z_accepted),
        cmocka_unit_test(test_malformed_suffix_refused),
        cmocka_unit_test(test_impossible_dates_refused),
        cmocka_unit_test(test_garbage_refused),
        cmocka_unit_test(test_leap_years),
        cmocka_unit_test(test_parse_does_not_read_past_terminator),
        cmocka_unit_test(test_clock_substitution),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
