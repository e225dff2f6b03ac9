/* Unit tests for core/id: originator ID forms of TS-0001 7.2 (AE-ID-Stem, SP-relative and
 * absolute AE-IDs and CSE-IDs) and the registration requests "C"/"S" (TS-0001 10.2.2.2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/id.h"

static const struct id_env env = {.spid = "warden.example.com", .cse_id = "/id-in"};

/* The stem is kept as an offset into canon, so struct id may be copied. */
static void parse_ok(const char *raw, struct id *id)
{
    if (!id_parse(&env, raw, id))
        fail_msg("id_parse refused '%s'", raw);
}

static void refuse(const char *raw)
{
    struct id id;
    memset(&id, 0x5a, sizeof id);
    if (id_parse(&env, raw, &id))
        fail_msg("id_parse accepted '%s' (canon '%s')", raw, id.canon);
    assert_int_equal(id.kind, ID_INVALID);
}

/* TS-0001 7.2: a C-type AE-ID-Stem is CSE-relative; its absolute form includes the registrar's CSE-ID. */
static void test_c_stem(void **state)
{
    (void)state;
    struct id id;
    parse_ok("Cabc", &id);
    assert_int_equal(id.kind, ID_AE);
    assert_int_equal(id.form, IDF_STEM);
    assert_string_equal(id.canon, "//warden.example.com/id-in/Cabc");
    assert_string_equal(id_stem(&id), "Cabc");
    assert_true(id.local);
    /* a copy keeps its own stem */
    struct id copy = id;
    memset(&id, 0, sizeof id);
    assert_string_equal(id_stem(&copy), "Cabc");
}

/* TS-0001 7.2: an S-type AE-ID is SP-relative: its absolute form has no CSE-ID. */
static void test_s_stem(void **state)
{
    (void)state;
    struct id id;
    parse_ok("Sxyz", &id);
    assert_int_equal(id.kind, ID_AE);
    assert_int_equal(id.form, IDF_STEM);
    assert_string_equal(id.canon, "//warden.example.com/Sxyz");
    assert_string_equal(id_stem(&id), "Sxyz");
    assert_true(id.local);
}

/* TS-0001 10.2.2.2: From "C" / "S" asks the registrar to allocate an AE-ID. */
static void test_registration_requests(void **state)
{
    (void)state;
    struct id id;
    parse_ok("C", &id);
    assert_int_equal(id.kind, ID_ASK_C);
    parse_ok("S", &id);
    assert_int_equal(id.kind, ID_ASK_S);
}

static void test_sp_relative_c_ae(void **state)
{
    (void)state;
    struct id id;
    parse_ok("/id-in/Cabc", &id);
    assert_int_equal(id.kind, ID_AE);
    assert_int_equal(id.form, IDF_SP_RELATIVE);
    assert_string_equal(id.canon, "//warden.example.com/id-in/Cabc");
    assert_string_equal(id_stem(&id), "Cabc");
    assert_true(id.local);
}

/* A C-type AE registered with another CSE of our SP is not one of ours. */
static void test_sp_relative_c_ae_of_other_cse(void **state)
{
    (void)state;
    struct id id;
    parse_ok("/id-mn/Cabc", &id);
    assert_int_equal(id.kind, ID_AE);
    assert_string_equal(id.canon, "//warden.example.com/id-mn/Cabc");
    assert_string_equal(id_stem(&id), "Cabc");
    assert_false(id.local);
    /* a CSE-ID that only starts like ours is another CSE */
    parse_ok("/id-in2/Cabc", &id);
    assert_false(id.local);
    parse_ok("/id-i/Cabc", &id);
    assert_false(id.local);
}

static void test_sp_relative_s_ae(void **state)
{
    (void)state;
    struct id id;
    parse_ok("/Sxyz", &id);
    assert_int_equal(id.kind, ID_AE);
    assert_int_equal(id.form, IDF_SP_RELATIVE);
    assert_string_equal(id.canon, "//warden.example.com/Sxyz");
    assert_string_equal(id_stem(&id), "Sxyz");
    assert_true(id.local);
}

static void test_cse_id(void **state)
{
    (void)state;
    struct id id;
    parse_ok("/id-mn", &id);
    assert_int_equal(id.kind, ID_CSE);
    assert_int_equal(id.form, IDF_SP_RELATIVE);
    assert_string_equal(id.canon, "//warden.example.com/id-mn");
    assert_string_equal(id_stem(&id), "id-mn");
    assert_true(id.local);

    parse_ok("/id-in", &id); /* our own CSE-ID */
    assert_int_equal(id.kind, ID_CSE);
    assert_string_equal(id.canon, "//warden.example.com/id-in");
}

static void test_absolute_forms(void **state)
{
    (void)state;
    struct id id;
    parse_ok("//warden.example.com/id-in/Cabc", &id);
    assert_int_equal(id.kind, ID_AE);
    assert_int_equal(id.form, IDF_ABSOLUTE);
    assert_string_equal(id.canon, "//warden.example.com/id-in/Cabc");
    assert_string_equal(id_stem(&id), "Cabc");
    assert_true(id.local);

    parse_ok("//warden.example.com/Sxyz", &id);
    assert_int_equal(id.kind, ID_AE);
    assert_string_equal(id_stem(&id), "Sxyz");
    assert_true(id.local);

    parse_ok("//warden.example.com/id-mn", &id);
    assert_int_equal(id.kind, ID_CSE);
    assert_true(id.local);
}

/* An ID from another M2M SP is never local, even when its CSE-ID equals ours. */
static void test_foreign_sp(void **state)
{
    (void)state;
    struct id id;
    parse_ok("//other.example.org/id-in/Cabc", &id);
    assert_int_equal(id.kind, ID_AE);
    assert_string_equal(id.canon, "//other.example.org/id-in/Cabc");
    assert_false(id.local);

    parse_ok("//other.example.org/Sxyz", &id);
    assert_int_equal(id.kind, ID_AE);
    assert_false(id.local);

    parse_ok("//other.example.org/id-in", &id);
    assert_int_equal(id.kind, ID_CSE);
    assert_false(id.local);

    /* a domain that merely extends ours is foreign */
    parse_ok("//warden.example.com.evil/id-in/Cabc", &id);
    assert_false(id.local);
    parse_ok("//warden.example.co/id-in/Cabc", &id);
    assert_false(id.local);
}

/* Only RFC 3986 unreserved characters may appear in an ID segment. */
static void test_invalid_characters(void **state)
{
    (void)state;
    refuse("Cab c");
    refuse("Cab%41");
    refuse("Cab?x");
    refuse("Cab#x");
    refuse("Cab:x");
    refuse("Cab@x");
    refuse("Cab\"");
    refuse("Cab\\x");
    refuse("C\xc3\xa4");
    refuse("Cab\t");
    refuse("/id-in/Ca$b");
    refuse("/id in/Cabc");
    refuse("//warden example.com/id-in/Cabc");
    refuse("//warden.example.com/id-in/Ca*b");

    assert_true(id_char_ok('a'));
    assert_true(id_char_ok('Z'));
    assert_true(id_char_ok('0'));
    assert_true(id_char_ok('-'));
    assert_true(id_char_ok('.'));
    assert_true(id_char_ok('_'));
    assert_true(id_char_ok('~'));
    assert_false(id_char_ok('/'));
    assert_false(id_char_ok('%'));
    assert_false(id_char_ok(' '));
    assert_false(id_char_ok('\0'));
    assert_false(id_char_ok('+'));
}

static void test_empty_segments(void **state)
{
    (void)state;
    refuse("");
    refuse("/");
    refuse("//");
    refuse("///");
    refuse("/id-in/");
    refuse("/id-in//Cabc");
    refuse("//warden.example.com");
    refuse("//warden.example.com/");
    refuse("///id-in/Cabc");
    refuse("//warden.example.com//Cabc");
    refuse("//warden.example.com/id-in/");
    refuse("Cabc/");
    struct id id;
    assert_false(id_parse(&env, NULL, &id));
}

static void test_too_many_segments(void **state)
{
    (void)state;
    refuse("Cabc/x");
    refuse("/id-in/Cabc/x");
    refuse("//warden.example.com/id-in/Cabc/x");
    refuse("//warden.example.com/id-in/cse-in/Cabc");
}

/* An AE-ID-Stem starts with an upper-case 'C' or 'S' (TS-0001 7.2). */
static void test_lower_case_first_letter(void **state)
{
    (void)state;
    refuse("cabc");
    refuse("sabc");
    refuse("Xabc");
    refuse("/id-in/cabc");
    refuse("/id-in/Sabc"); /* an S-type AE-ID never carries a CSE-ID */
    refuse("//warden.example.com/id-in/cabc");
    refuse("/id-in/C"); /* a stem needs more than the type letter */
}

static void test_canonical_forms_equal(void **state)
{
    (void)state;
    struct id a;
    parse_ok("Cabc", &a);
    struct id b;
    parse_ok("/id-in/Cabc", &b);
    struct id c;
    parse_ok("//warden.example.com/id-in/Cabc", &c);
    assert_string_equal(a.canon, b.canon);
    assert_string_equal(a.canon, c.canon);
    assert_string_equal(id_stem(&a), id_stem(&c));

    struct id s1;
    parse_ok("Sxyz", &s1);
    struct id s2;
    parse_ok("/Sxyz", &s2);
    struct id s3;
    parse_ok("//warden.example.com/Sxyz", &s3);
    assert_string_equal(s1.canon, s2.canon);
    assert_string_equal(s1.canon, s3.canon);

    /* different IDs stay different */
    struct id d;
    parse_ok("Cabd", &d);
    assert_string_not_equal(a.canon, d.canon);
    struct id e;
    parse_ok("Sabc", &e);
    assert_string_not_equal(a.canon, e.canon);
    struct id f;
    parse_ok("/id-mn/Cabc", &f);
    assert_string_not_equal(a.canon, f.canon);
    struct id g;
    parse_ok("//other.example.org/id-in/Cabc", &g);
    assert_string_not_equal(a.canon, g.canon);
}

/* Over-long input is refused without overflowing canon (run under ASan). */
static void test_overlong_refused(void **state)
{
    (void)state;
    size_t n = LIMIT_ID_LEN * 4;
    char *raw = malloc(n + 1);
    assert_non_null(raw);
    memset(raw, 'a', n);
    raw[0] = 'C';
    raw[n] = '\0';
    refuse(raw);
    /* absolute form with an over-long domain */
    memcpy(raw, "//", 2);
    memcpy(raw + 302, "/id-in/Cabc", 12); /* a 300-character domain */
    refuse(raw);
    free(raw);
}

/* The environment's own CSE-ID may be configured with or without the leading '/'. */
static void test_env_cse_id_without_slash(void **state)
{
    (void)state;
    const struct id_env env2 = {.spid = "warden.example.com", .cse_id = "id-in"};
    struct id a, b;
    assert_true(id_parse(&env2, "Cabc", &a));
    assert_true(id_parse(&env2, "/id-in/Cabc", &b));
    assert_string_equal(a.canon, "//warden.example.com/id-in/Cabc");
    assert_string_equal(a.canon, b.canon);
    assert_true(b.local);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_c_stem),
        cmocka_unit_test(test_s_stem),
        cmocka_unit_test(test_registration_requests),
        cmocka_unit_test(test_sp_relative_c_ae),
        cmocka_unit_test(test_sp_relative_c_ae_of_other_cse),
        cmocka_unit_test(test_sp_relative_s_ae),
        cmocka_unit_test(test_cse_id),
        cmocka_unit_test(test_absolute_forms),
        cmocka_unit_test(test_foreign_sp),
        cmocka_unit_test(test_invalid_characters),
        cmocka_unit_test(test_empty_segments),
        cmocka_unit_test(test_too_many_segments),
        cmocka_unit_test(test_lower_case_first_letter),
        cmocka_unit_test(test_canonical_forms_equal),
        cmocka_unit_test(test_overlong_refused),
        cmocka_unit_test(test_env_cse_id_without_slash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
