/* Unit tests for security/authz: the built-in policy (admin, CSEBase registration point) and the
 * default policy of a resource without acpi (TS-0001 9.6.2: its creator only; everything else denied). The check
 * corresponds to TS-0004 7.3.3.15 "Check authorization of the originator"; acop bits are TS-0004 6.3.4.2.x. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "resources/rtype.h"
#include "security/authz.h"

#define AE1_CANON "//warden.example.com/id-in/Cae1"
#define AE2_CANON "//warden.example.com/id-in/Cae2"

static const enum acop all_ops[] = {ACOP_CREATE, ACOP_RETRIEVE, ACOP_UPDATE, ACOP_DELETE, ACOP_NOTIFY, ACOP_DISCOVERY};
#define NOPS (sizeof all_ops / sizeof all_ops[0])

static struct authz_result decide(const struct authz_subject *s, enum acop op, const struct authz_target *t)
{
    struct authz_result r;
    /* poison the output: the decision must set both fields every time */
    r.permit = true;
    r.reason = "poison";
    authz_default(s, op, t, &r);
    assert_non_null(r.reason);
    return r;
}

static void expect(const struct authz_subject *s, enum acop op, const struct authz_target *t, bool permit,
                   const char *reason)
{
    struct authz_result r = decide(s, op, t);
    if (r.permit != permit || strcmp(r.reason, reason) != 0)
        fail_msg("op %d on ty %d: got %s/%s, want %s/%s", (int)op, t->ty, r.permit ? "permit" : "deny", r.reason,
                 permit ? "permit" : "deny", reason);
}

static void test_admin_permitted_everything(void **state)
{
    (void)state;
    struct authz_subject admin = {.canon = "//warden.example.com/id-in/CAdmin", .is_admin = true};
    struct authz_target targets[] = {
        {.ty = TY_CSEBASE, .cr = "", .child_ty = TY_CNT},
        {.ty = TY_CNT, .cr = AE1_CANON},
        {.ty = TY_CIN, .cr = AE2_CANON},
        {.ty = TY_AE, .cr = AE1_CANON, .child_ty = TY_CNT},
    };
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
        for (size_t k = 0; k < NOPS; k++)
            expect(&admin, all_ops[k], &targets[i], true, "admin");
}

/* The CSEBase is readable and discoverable by any originator that passed the originator check. */
static void test_csebase_retrieve_and_discovery(void **state)
{
    (void)state;
    struct authz_subject ae = {.canon = AE1_CANON};
    struct authz_subject anon = {.canon = "//warden.example.com/id-mn"};
    struct authz_target cb = {.ty = TY_CSEBASE, .cr = ""};
    expect(&ae, ACOP_RETRIEVE, &cb, true, "csebase-readable");
    expect(&ae, ACOP_DISCOVERY, &cb, true, "csebase-readable");
    expect(&anon, ACOP_RETRIEVE, &cb, true, "csebase-readable");
    expect(&anon, ACOP_DISCOVERY, &cb, true, "csebase-readable");
}

/* TS-0001 10.2.2.2: AE registration is a CREATE of an <AE> under the CSEBase. */
static void test_csebase_ae_registration(void **state)
{
    (void)state;
    struct authz_subject newcomer = {.canon = ""};
    struct authz_subject ae = {.canon = AE1_CANON};
    struct authz_target cb = {.ty = TY_CSEBASE, .cr = "", .child_ty = TY_AE};
    expect(&newcomer, ACOP_CREATE, &cb, true, "registration");
    expect(&ae, ACOP_CREATE, &cb, true, "registration");
}

static void test_csebase_other_ops_denied(void **state)
{
    (void)state;
    struct authz_subject ae = {.canon = AE1_CANON};
    const int child_types[] = {TY_CNT, TY_CIN, TY_ACP, TY_CSEBASE, 0, 9999};
    for (size_t i = 0; i < sizeof child_types / sizeof child_types[0]; i++) {
        struct authz_target cb = {.ty = TY_CSEBASE, .cr = "", .child_ty = child_types[i]};
        expect(&ae, ACOP_CREATE, &cb, false, "csebase-admin-only");
    }
    struct authz_target cb = {.ty = TY_CSEBASE, .cr = ""};
    expect(&ae, ACOP_UPDATE, &cb, false, "csebase-admin-only");
    expect(&ae, ACOP_DELETE, &cb, false, "csebase-admin-only");
    expect(&ae, ACOP_NOTIFY, &cb, false, "csebase-admin-only");
    /* even an originator that claims to own or to have created the CSEBase */
    struct authz_target cb2 = {.ty = TY_CSEBASE, .cr = AE1_CANON};
    expect(&ae, ACOP_DELETE, &cb2, false, "csebase-admin-only");
    expect(&ae, ACOP_UPDATE, &cb2, false, "csebase-admin-only");
}

/* TS-0001 9.6.2: without acpi only the creator has access; the AE a resource sits under has none
 * of its own when someone else created it. */
static void test_default_policy_is_creator_only(void **state)
{
    (void)state;
    struct authz_subject ae = {.canon = AE1_CANON};
    struct authz_target own_ae = {.ty = TY_AE, .cr = AE1_CANON, .child_ty = TY_CNT};
    struct authz_target cnt = {.ty = TY_CNT, .cr = "//warden.example.com/id-in/CAdmin", .child_ty = TY_CIN};
    for (size_t k = 0; k < NOPS; k++) {
        expect(&ae, all_ops[k], &own_ae, true, "creator");
        expect(&ae, all_ops[k], &cnt, false, "default-deny");
    }
}

/* The creator of a resource keeps access to it, wherever it sits. */
static void test_creator_permitted(void **state)
{
    (void)state;
    struct authz_subject ae2 = {.canon = AE2_CANON};
    struct authz_target cnt = {.ty = TY_CNT, .cr = AE2_CANON};
    for (size_t k = 0; k < NOPS; k++)
        expect(&ae2, all_ops[k], &cnt, true, "creator");
    /* any originator, a CSE too, is matched by its canonical ID */
    struct authz_subject cse = {.canon = "//warden.example.com/id-mn"};
    struct authz_target made = {.ty = TY_CNT, .cr = "//warden.example.com/id-mn"};
    expect(&cse, ACOP_RETRIEVE, &made, true, "creator");
}

static void test_everyone_else_denied(void **state)
{
    (void)state;
    struct authz_subject ae2 = {.canon = AE2_CANON};
    struct authz_target cnt = {.ty = TY_CNT, .cr = AE1_CANON};
    struct authz_target ae1 = {.ty = TY_AE, .cr = AE1_CANON, .child_ty = TY_CNT};
    for (size_t k = 0; k < NOPS; k++) {
        expect(&ae2, all_ops[k], &cnt, false, "default-deny");
        expect(&ae2, all_ops[k], &ae1, false, "default-deny");
    }
}

/* Matching is exact: no prefixes, no empty-string matches, no NULL dereference. */
static void test_no_partial_or_empty_matches(void **state)
{
    (void)state;
    struct authz_subject pre = {.canon = "//warden.example.com/id-in/Cae"};
    struct authz_target cnt = {.ty = TY_CNT, .cr = AE1_CANON};
    expect(&pre, ACOP_RETRIEVE, &cnt, false, "default-deny");

    struct authz_subject longer = {.canon = AE1_CANON "x"};
    expect(&longer, ACOP_RETRIEVE, &cnt, false, "default-deny");

    /* an empty creator never matches an empty subject */
    struct authz_subject empty = {.canon = ""};
    struct authz_target orphan = {.ty = TY_CNT, .cr = ""};
    expect(&empty, ACOP_DELETE, &orphan, false, "default-deny");

    /* the same stem in another SP is another originator */
    struct authz_subject nostem = {.canon = "//other.example.org/id-in/Cae1"};
    expect(&nostem, ACOP_RETRIEVE, &cnt, false, "default-deny");

    /* a NULL creator is "none", not a crash */
    struct authz_target nulls = {.ty = TY_CNT, .cr = NULL};
    struct authz_subject ae1 = {.canon = AE1_CANON};
    expect(&ae1, ACOP_RETRIEVE, &nulls, false, "default-deny");
}

/* Same inputs, same decision (pure function). */
static void test_deterministic(void **state)
{
    (void)state;
    struct authz_subject ae1 = {.canon = AE1_CANON};
    struct authz_target cnt = {.ty = TY_CNT, .cr = AE1_CANON};
    struct authz_result a = decide(&ae1, ACOP_UPDATE, &cnt);
    struct authz_result b = decide(&ae1, ACOP_UPDATE, &cnt);
    assert_int_equal(a.permit, b.permit);
    assert_ptr_equal(a.reason, b.reason);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admin_permitted_everything),
        cmocka_unit_test(test_csebase_retrieve_and_discovery),
        cmocka_unit_test(test_csebase_ae_registration),
        cmocka_unit_test(test_csebase_other_ops_denied),
        cmocka_unit_test(test_default_policy_is_creator_only),
        cmocka_unit_test(test_creator_permitted),
        cmocka_unit_test(test_everyone_else_denied),
        cmocka_unit_test(test_no_partial_or_empty_matches),
        cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
