/* Unit tests for security/acp: setOfAcrs compilation (TS-0004 6.3.5.27) and the decision of TS-0003 7.1.4-7.1.5. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/id.h"
#include "security/acp.h"

static const struct id_env env = {.spid = "warden.example.com", .cse_id = "/id-in"};

#define AE1     "//warden.example.com/id-in/Cae1"
#define AE2     "//warden.example.com/id-in/Cae2"
#define AE1_MN  "//warden.example.com/id-mn/Cae1"
#define SAE1    "//warden.example.com/Sae1"
#define MN      "//warden.example.com/id-mn"
#define IN      "//warden.example.com/id-in"
#define FOREIGN "//other.example.org/id-in/Cae1"

/* ---- helpers ---------------------------------------------------------------------------------- */

/* Epoch seconds of a UTC calendar time. */
static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = s};
    return (int64_t)timegm(&tm);
}

/* Policies are written with single quotes in the tests; JSON wants double quotes. */
static json_t *load(const char *text)
{
    char *buf = strdup(text);
    assert_non_null(buf);
    for (char *c = buf; *c; c++)
        if (*c == '\'')
            *c = '"';
    json_error_t je;
    json_t *v = json_loads(buf, 0, &je);
    if (v == NULL)
        fail_msg("test JSON does not parse (%s): %s", je.text, buf);
    free(buf);
    return v;
}

static struct acp_policy *compile_json(const json_t *v)
{
    char err[256] = "";
    struct acp_policy *p = acp_compile(v, &env, err, sizeof err);
    if (p == NULL)
        fail_msg("acp_compile refused a valid policy: %s", err);
    return p;
}

static struct acp_policy *compile(const char *text)
{
    json_t *v = load(text);
    struct acp_policy *p = compile_json(v);
    json_decref(v);
    return p;
}

/* acp_compile must refuse text with a message naming the offending element (needle). */
static void refuse(const char *text, const char *needle)
{
    json_t *v = load(text);
    char err[256] = "";
    struct acp_policy *p = acp_compile(v, &env, err, sizeof err);
    json_decref(v);
    if (p != NULL) {
        acp_policy_free(p);
        fail_msg("acp_compile accepted %s", text);
    }
    if (strstr(err, needle) == NULL)
        fail_msg("refusing %s: message '%s' does not name '%s'", text, err, needle);
}

static struct acp_request req(const char *orig, enum acop op)
{
    struct acp_request rq = {
        .orig = orig,
        .authenticated = false,
        .op = op,
        .time = 1719748800, /* 2024-06-30T12:00:00Z, a Sunday */
        .peer = NULL,
        .loc = NULL,
        .target_ty = 2,
        .child_ty = 3,
        .ref_admits = NULL,
        .ref_arg = NULL,
    };
    return rq;
}

/* One decision, with why poisoned first; the answer without why must agree. */
static void expect(const struct acp_policy *p, const struct acp_request *rq, bool permit, const char *reason, int rule)
{
    struct acp_why why = {.rule = 1234, .reason = "poison"};
    bool got = acp_permits(p, rq, &why);
    assert_non_null(why.reason);
    if (got != permit || strcmp(why.reason, reason) != 0 || why.rule != rule)
        fail_msg("%s op %d: got %s/%s/rule %d, want %s/%s/rule %d", rq->orig, (int)rq->op, got ? "permit" : "deny",
                 why.reason, why.rule, permit ? "permit" : "deny", reason, rule);
    assert_true(acp_permits(p, rq, NULL) == got);
}

static void expect_permit(const struct acp_policy *p, const struct acp_request *rq, int rule)
{
    expect(p, rq, true, "granted", rule);
}

static void expect_deny(const struct acp_policy *p, const struct acp_request *rq, const char *reason)
{
    expect(p, rq, false, reason, -1);
}

/* Compile text, check one request, free. */
static void decide(const char *text, const struct acp_request *rq, bool permit, const char *reason, int rule)
{
    struct acp_policy *p = compile(text);
    expect(p, rq, permit, reason, rule);
    acp_policy_free(p);
}

static const enum acop all_ops[] = {ACOP_CREATE, ACOP_RETRIEVE, ACOP_UPDATE, ACOP_DELETE, ACOP_NOTIFY, ACOP_DISCOVERY};
#define NOPS (sizeof all_ops / sizeof all_ops[0])

/* ---- acp_compile: accepted forms (TS-0004 6.3.5.27, TS-0003 7.1.3) ---------------------------- */

static void test_compile_ts0004_6_3_5_27_minimal_and_empty(void **state)
{
    (void)state;
    struct acp_policy *p = compile("{'acr': [{'acor': ['all'], 'acop': 63}]}");
    assert_int_equal(acp_policy_rules(p), 1);
    acp_policy_free(p);
    p = compile("{'acr': []}");
    assert_int_equal(acp_policy_rules(p), 0);
    acp_policy_free(p);
    p = compile("{'acr': [{'acor': ['all'], 'acop': 0}, {'acor': ['Cae1'], 'acop': 1}, {'acop': 2, 'acor': ['S*']}]}");
    assert_int_equal(acp_policy_rules(p), 3);
    acp_policy_free(p);
    assert_int_equal(acp_policy_rules(NULL), 0);
    acp_policy_free(NULL);
}

/* TS-0003 7.1.3: acor holds "all", SP domains, CSE-IDs and AE-IDs in any form, wildcards, group IDs. */
static void test_compile_ts0003_7_1_3_every_acor_form(void **state)
{
    (void)state;
    static const char *const forms[] = {
        "all",
        "Cae1",
        "/id-in/Cae1",
        "//warden.example.com/id-in/Cae1",
        "Sae1",
        "/Sae1",
        "//warden.example.com/Sae1",
        "/id-mn",
        "//other.example.org/id-x",
        "//other.example.org/id-x/Cae1",
        "Cae*",
        "C*",
        "*",
        "/id-in/C98*",
        "/myCSE*/C98*",
        "/SmyAE*",
        "//*/myCSEID/C9886",
        "//*/myCSE*",
        "//warden.example.com",
        "/id-in/grp1",
        "grp-ri-7",
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        json_t *v = json_pack("{s:[{s:[s],s:i}]}", "acr", "acor", forms[i], "acop", 63);
        struct acp_policy *p = compile_json(v);
        assert_int_equal(acp_policy_rules(p), 1);
        acp_policy_free(p);
        json_decref(v);
    }
    struct acp_policy *p = compile("{'acr': [{'acor': ['all', 'Cae1', '/id-mn', 'C*', '//warden.example.com', 'g1'],"
                                   " 'acop': 63}]}");
    acp_policy_free(p);
}

/* TS-0004 6.3.5.27: every context and object-details element, alone and together. */
static void test_compile_ts0004_6_3_5_27_every_element(void **state)
{
    (void)state;
    static const char *const rules[] = {
        "{'acor': ['all'], 'acop': 1}",
        "{'acor': ['all'], 'acop': 63, 'acaf': true}",
        "{'acor': ['all'], 'acop': 63, 'acaf': false}",
        "{'acor': ['all'], 'acop': 63, 'acco': [{'actw': ['* 0-5 2,6,10 * * * *']}]}",
        "{'acor': ['all'], 'acop': 63, 'acco': [{'actw': ['* * 8-20 * * * *', '* * 0-23/2 * * * *', "
        "'*/15 1,3-5,10-20/5 * 31 12 0,7 2024']}]}",
        "{'acor': ['all'], 'acop': 63, 'acco': [{'acip': {'ipv4': ['10.125.0.0/16', '122.77.12.1']}}]}",
        "{'acor': ['all'], 'acop': 63, 'acco': [{'acip': {'ipv6': ['::/0', 'Fadf:ddd0::/32', "
        "'abcd:ffff:abb0:aaaa::/64', '::1']}}]}",
        "{'acor': ['all'], 'acop': 63, 'acco': [{'acip': {'ipv4': ['0.0.0.0/0'], 'ipv6': ['2001:db8::/121']}}]}",
        "{'acor': ['all'], 'acop': 63, 'acco': [{'aclr': {'accr': [52.52, 13.405, 1000]}}]}",
        "{'acor': ['all'], 'acop': 63, 'acco': [{'aclr': {'accc': ['KR']}}]}",
        "{'acor': ['all'], 'acop': 63, 'acco': [{'aclr': [{'accc': ['DE', 'fr']}, {'accr': [-90, -180, 0]}, "
        "{'accr': [90, 180, 0.5]}]}]}",
        "{'acor': ['all'], 'acop': 63, 'acod': [{'chty': [4]}]}",
        "{'acor': ['all'], 'acop': 63, 'acod': [{'ty': 3, 'chty': [4, 23]}, {'chty': [9]}]}",
        "{'acor': ['all'], 'acop': 63, 'acod': [{'ty': 13, 'spty': 'org.onem2m.home.device', 'chty': [13]}]}",
        "{'acor': ['all'], 'acop': 63, 'acod': [{'ty': 28, 'spty': 1001, 'chty': [28]}]}",
        "{'acor': ['Cae1', 'g1'], 'acop': 37, 'acaf': true, 'acco': [{'actw': ['* * 8-17 * * 1-5 *'], "
        "'acip': {'ipv4': ['192.0.2.0/24'], 'ipv6': ['2001:db8::/32']}, 'aclr': [{'accc': ['DE']}]}, "
        "{'actw': ['* * * * * 0,6 *']}], 'acod': [{'ty': 2, 'chty': [3, 4]}]}",
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, "{'acr': [%s]}", rules[i]);
        struct acp_policy *p = compile(text);
        assert_int_equal(acp_policy_rules(p), 1);
        acp_policy_free(p);
    }
}

/* ---- acp_compile: refusals naming the element ------------------------------------------------- */

static void test_compile_refuses_bad_set(void **state)
{
    (void)state;
    refuse("[]", "acr");
    /* {} is a valid set of zero rules (TS-0004 Table 6.3.5.26-1: acr 0..n; issue 13) */
    refuse("{'acr': [], 'x': 1}", "acr");
    refuse("{'acr': {}}", "acr");
    refuse("{'acr': [5]}", "acr");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1}, 'x']}", "acr[1]");
}

/* TS-0003 7.1.1: a restriction the CSE cannot evaluate is refused, never ignored. */
static void test_compile_ts0003_7_1_1_refuses_unknown_elements(void **state)
{
    (void)state;
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acxx': 1}]}", "acxx");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'accessControlContexts': []}]}", "accessControlContexts");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'actw': ['* * * * * * *'], 'acsl': 1}]}]}", "acsl");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'acip': {'ipv4': [], 'ipv5': []}}]}]}", "acip");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'aclr': {'accc': ['DE'], 'acrd': 1}}]}]}", "aclr");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acod': [{'chty': [4], 'zzz': 1}]}]}", "zzz");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1}, {'acor': ['all'], 'acop': 1, 'foo': 1}]}", "acr[1]");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1}, {'acor': ['all'], 'acop': 1, 'foo': 1}]}", "foo");
}

static void test_compile_refuses_missing_or_empty_acor_acop(void **state)
{
    (void)state;
    refuse("{'acr': [{'acop': 63}]}", "acor");
    refuse("{'acr': [{'acor': ['all']}]}", "acop");
    refuse("{'acr': [{}]}", "acor");
    refuse("{'acr': [{'acor': [], 'acop': 63}]}", "acor");
    refuse("{'acr': [{'acor': 'all', 'acop': 63}]}", "acor");
    refuse("{'acr': [{'acor': [''], 'acop': 63}]}", "acor[0]");
    refuse("{'acr': [{'acor': ['all', 5], 'acop': 63}]}", "acor[1]");
    refuse("{'acr': [{'acor': ['all', null], 'acop': 63}]}", "acor[1]");
}

/* TS-0004 6.3.4.2.x: acop is a bitmask of six operations. */
static void test_compile_refuses_acop_outside_0_63(void **state)
{
    (void)state;
    refuse("{'acr': [{'acor': ['all'], 'acop': 64}]}", "acop");
    refuse("{'acr': [{'acor': ['all'], 'acop': -1}]}", "acop");
    refuse("{'acr': [{'acor': ['all'], 'acop': 4294967297}]}", "acop");
    refuse("{'acr': [{'acor': ['all'], 'acop': '63'}]}", "acop");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1.0}]}", "acop");
    refuse("{'acr': [{'acor': ['all'], 'acop': true}]}", "acop");
    refuse("{'acr': [{'acor': ['all'], 'acop': [1, 2]}]}", "acop");
}

/* TS-0004 7.4.9.1 (m2m:scheduleEntry) as used by actw. */
static void test_compile_refuses_bad_crontab(void **state)
{
    (void)state;
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'actw': ['* * * * * *']}]}]}", "actw[0]");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'actw': ['* * * * * * * *']}]}]}", "actw[0]");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'actw': ['* * * * * * *', '60 * * * * * *']}]}]}",
           "actw[1]");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'actw': ['* * 24 * * * *']}]}]}", "actw[0]");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'actw': ['*/0 * * * * * *']}]}]}", "actw[0]");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'actw': [7]}]}]}", "actw[0]");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'actw': ['']}]}]}", "actw[0]");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'actw': '* * * * * * *'}]}]}", "actw");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': {'actw': ['* * * * * * *']}}]}", "acco");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': ['* * * * * * *']}]}", "acco");
}

/* TS-0004 Table 6.3.2-1 (m2m:ipv4, m2m:ipv6) as used by acip. */
static void test_compile_refuses_bad_cidr(void **state)
{
    (void)state;
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'acip': {'ipv4': ['10.0.0.0/33']}}]}]}", "ipv4[0]");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'acip': {'ipv4': ['10.0.0.0/8', '10.0.0/8']}}]}]}",
           "ipv4[1]");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'acip': {'ipv4': ['10.0.0.0/']}}]}]}", "ipv4[0]");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'acip': {'ipv4': ['10.0.0.0/-1']}}]}]}", "ipv4[0]");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'acip': {'ipv4': ['2001:db8::/32']}}]}]}", "ipv4[0]");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'acip': {'ipv6': ['10.0.0.0/8']}}]}]}", "ipv6[0]");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'acip': {'ipv6': ['2001:db8::/129']}}]}]}", "ipv6[0]");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'acip': {'ipv6': ['zz::/3']}}]}]}", "ipv6[0]");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'acip': {'ipv6': [6]}}]}]}", "ipv6[0]");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'acip': {'ipv4': '10.0.0.0/8'}}]}]}", "ipv4");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'acip': ['10.0.0.0/8']}]}]}", "acip");
}

/* TS-0004 6.3.5.27 / 6.3.5.x m2m:locationRegion: one of circRegion or countryCode. */
static void test_compile_refuses_bad_location(void **state)
{
    (void)state;
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'aclr': {'accc': ['DEU']}}]}]}", "accc");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'aclr': {'accc': ['D1']}}]}]}", "accc");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'aclr': {'accc': ['D']}}]}]}", "accc");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'aclr': {'accc': ['DE', 'ÄB']}}]}]}", "accc");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'aclr': {'accc': []}}]}]}", "accc");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'aclr': {'accc': [49]}}]}]}", "accc");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'aclr': {'accc': 'DE'}}]}]}", "accc");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'aclr': {'accr': [90.5, 0, 10]}}]}]}", "accr");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'aclr': {'accr': [-91, 0, 10]}}]}]}", "accr");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'aclr': {'accr': [0, 180.01, 10]}}]}]}", "accr");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'aclr': {'accr': [0, -181, 10]}}]}]}", "accr");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'aclr': {'accr': [0, 0, -1]}}]}]}", "accr");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'aclr': {'accr': [0, 0]}}]}]}", "accr");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'aclr': {'accr': [0, 0, 1, 2]}}]}]}", "accr");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'aclr': {'accr': ['0', 0, 1]}}]}]}", "accr");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'aclr': {'accr': {'lat': 0}}}]}]}", "accr");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'aclr': {'accr': [0, 0, 1], 'accc': ['DE']}}]}]}", "accr");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'aclr': {}}]}]}", "aclr");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'aclr': [{'accc': ['DE']}, 'FR']}]}]}", "aclr");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acco': [{'aclr': 'DE'}]}]}", "aclr");
}

/* TS-0003 Table 7.1.3-4: childResourceType is mandatory in every accessControlObjectDetails. */
static void test_compile_ts0003_7_1_3_refuses_bad_acod_and_acaf(void **state)
{
    (void)state;
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acod': [{'ty': 3}]}]}", "chty");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acod': [{}]}]}", "chty");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acod': [{'chty': [4]}, {'ty': 2, 'spty': 'x'}]}]}", "chty");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acod': [{'chty': 4}]}]}", "chty");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acod': [{'chty': ['4']}]}]}", "chty");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acod': [{'ty': '3', 'chty': [4]}]}]}", "ty");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acod': [{'spty': [1], 'chty': [4]}]}]}", "spty");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acod': {'chty': [4]}}]}", "acod");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acod': [[4]]}]}", "acod");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acaf': 1}]}", "acaf");
    refuse("{'acr': [{'acor': ['all'], 'acop': 1, 'acaf': 'true'}]}", "acaf");
}

/* The message is truncated to the caller's buffer, never overflows it. */
static void test_compile_error_fits_small_buffer(void **state)
{
    (void)state;
    json_t *v = load("{'acr': [{'acor': ['all'], 'acop': 1, 'a-very-long-unknown-element-name': 1}]}");
    char err[9];
    memset(err, 'x', sizeof err);
    assert_null(acp_compile(v, &env, err, sizeof err));
    assert_int_equal(strlen(err), sizeof err - 1);
    json_decref(v);
}

/* ---- acp_id_matches (TS-0003 Table 7.1.3-2) --------------------------------------------------- */

static void match(const char *pat, const char *id, bool want)
{
    if (acp_id_matches(pat, id) != want)
        fail_msg("acp_id_matches('%s', '%s') should be %s", pat, id, want ? "true" : "false");
}

static void test_id_ts0003_7_1_3_exact(void **state)
{
    (void)state;
    match(AE1, AE1, true);
    match(AE1, AE2, false);
    match(AE1, AE1 "x", false);
    match(AE1 "x", AE1, false);
    match(AE1, AE1 "/x", false);
    match("", "", true);
    match("", "a", false);
    match("a", "", false);
}

static void test_id_ts0003_7_1_3_star_positions(void **state)
{
    (void)state;
    /* suffix */
    match("//warden.example.com/id-in/Cae*", AE1, true);
    match("//warden.example.com/id-in/Cae*", "//warden.example.com/id-in/Cae", true);
    match("//warden.example.com/id-in/Cae*", "//warden.example.com/id-in/Caexyz", true);
    match("//warden.example.com/id-in/Cae*", "//warden.example.com/id-in/Cb1", false);
    /* prefix of a segment */
    match("//warden.example.com/id-in/*1", AE1, true);
    match("//warden.example.com/id-in/*1", AE2, false);
    match("//warden.example.com/id-in/*ae1", "//warden.example.com/id-in/Caae1", true);
    /* middle */
    match("//warden.example.com/id-in/C*1", AE1, true);
    match("//warden.example.com/id-in/C*1", "//warden.example.com/id-in/C1", true);
    match("//warden.example.com/id-in/C*1", "//warden.example.com/id-in/C12", false);
    match("//warden.example.com/id-*/Cae1", AE1, true);
    match("//warden.example.com/id-*/Cae1", AE1_MN, true);
    match("//warden.example.com/id-*/Cae1", "//warden.example.com/xid-in/Cae1", false);
    /* backtracking within a segment */
    match("*ab", "aab", true);
    match("a*b*c", "abxbc", true);
    match("a*b*c", "abxbcd", false);
    match("a*a*a", "aaa", true);
    match("a*a*a", "aa", false);
}

static void test_id_ts0003_7_1_3_multiple_stars(void **state)
{
    (void)state;
    match("//*/id-*/C*", AE1, true);
    match("//*/id-*/C*", FOREIGN, true);
    match("//*/id-*/C*", "//other.example.org/mn/Cae1", false);
    match("//*/id-*/C*", SAE1, false);
    match("//*/myCSE*/C9886", "//m2msp.org/myCSE12/C9886", true);
    match("//*/myCSE*/C9886", "//m2msp.org/myCSE12/C98861", false);
    match("**", "abc", true);
    match("a**c", "abbc", true);
    match("//warden.example.com/*/*", AE1, true);
    match("//warden.example.com/*/*", MN, false);
}

/* TS-0003 7.1.3: "The scope of a '*' is terminated by a following '/' character." */
static void test_id_ts0003_7_1_3_star_never_crosses_slash(void **state)
{
    (void)state;
    match("//warden.example.com/*", MN, true);
    match("//warden.example.com/*", SAE1, true);
    match("//warden.example.com/*", AE1, false);
    match("//*", AE1, false);
    match("*", "a/b", false);
    match("*", "/", false);
    match("a*", "ab/", false);
    match("*b", "a/b", false);
    match("a*b", "a/b", false);
    match("a*/b", "ax/y/b", false);
    match("//warden.example.com/id-*/Cae1", "//warden.example.com/id-in/x/Cae1", false);
    match("//*/Cae1", FOREIGN, false);
    match("//*.example.org/id-in/Cae1", FOREIGN, true);
    match("//*.org/id-in/Cae1", FOREIGN, true);
    match("//*org/*/Cae1", FOREIGN, true);
    match("//*com/*/Cae1", FOREIGN, false);
}

/* A star stands for a (possibly empty) run inside one segment: it never adds or removes a segment. */
static void test_id_ts0003_7_1_3_empty_segments(void **state)
{
    (void)state;
    match("*", "", true);
    match("*", "abc", true);
    match("a/*/b", "a/x/b", true);
    match("a/*/b", "a/b", false);
    match("a/*", "a", false);
    match("a/*/*", "a/x", false);
    match("a/*", "a/x/y", false);
    match("//*/id-in/Cae1", "//id-in/Cae1", false);
    match("//warden.example.com/id-in/*", IN, false);
    match("//warden.example.com/id-in/*", IN "/", true);
}

/* ---- acp_crontab_matches (TS-0004 7.4.9.1 Table 7.4.9.1-4, TS-0003 7.1.3 accessControlWindow) --- */

static void cron(const char *spec, int64_t t, bool want)
{
    bool got = acp_crontab_matches(spec, t);
    if (got != want)
        fail_msg("acp_crontab_matches('%s', %lld) should be %s", spec, (long long)t, want ? "true" : "false");
    if (got)
        assert_true(acp_crontab_valid(spec));
}

static void test_cron_epoch_helper(void **state)
{
    (void)state;
    assert_int_equal(utc(1970, 1, 1, 0, 0, 0), 0);
    assert_int_equal(utc(2024, 6, 30, 0, 0, 0), 1719705600);
    assert_int_equal(utc(2024, 6, 30, 12, 0, 0), 1719748800);
    assert_int_equal(utc(2025, 1, 1, 0, 0, 0), 1735689600);
}

static void test_cron_ts0004_7_4_9_1_second_edges(void **state)
{
    (void)state;
    int64_t last = utc(2024, 6, 30, 11, 59, 59), next = utc(2024, 6, 30, 12, 0, 0);
    assert_int_equal(next - last, 1);
    cron("59 59 11 * * * *", last, true);
    cron("59 59 11 * * * *", next, false);
    cron("0 0 12 * * * *", next, true);
    cron("0 0 12 * * * *", last, false);
    cron("* 59 11 * * * *", utc(2024, 6, 30, 11, 59, 0), true);
    cron("* 59 11 * * * *", last, true);
    cron("* 59 11 * * * *", next, false);
    cron("* 59 * * * * *", utc(2024, 6, 30, 12, 58, 59), false);
    cron("59 * * * * * *", last, true);
    cron("59 * * * * * *", next, false);
    cron("0 * * * * * *", next, true);
    cron("0 * * * * * *", next + 1, false);
    cron("* * * * * * *", last, true);
    cron("* * * * * * *", next, true);
}

static void test_cron_ts0004_7_4_9_1_ranges_inclusive(void **state)
{
    (void)state;
    cron("* * 8-17 * * * *", utc(2024, 6, 30, 7, 59, 59), false);
    cron("* * 8-17 * * * *", utc(2024, 6, 30, 8, 0, 0), true);
    cron("* * 8-17 * * * *", utc(2024, 6, 30, 17, 59, 59), true);
    cron("* * 8-17 * * * *", utc(2024, 6, 30, 18, 0, 0), false);
    cron("* * 0-23 * * * *", utc(2024, 6, 30, 23, 59, 59), true);
    cron("* * 0-0 * * * *", utc(2024, 6, 30, 0, 30, 0), true);
    cron("* * 0-0 * * * *", utc(2024, 6, 30, 1, 0, 0), false);
    cron("10-20 * * * * * *", utc(2024, 6, 30, 9, 0, 10), true);
    cron("10-20 * * * * * *", utc(2024, 6, 30, 9, 0, 20), true);
    cron("10-20 * * * * * *", utc(2024, 6, 30, 9, 0, 9), false);
    cron("10-20 * * * * * *", utc(2024, 6, 30, 9, 0, 21), false);
    cron("* * * * 6-6 * *", utc(2024, 6, 30, 23, 59, 59), true);
    cron("* * * * 6-6 * *", utc(2024, 7, 1, 0, 0, 0), false);
}

static void test_cron_ts0004_7_4_9_1_steps(void **state)
{
    (void)state;
    for (int s = 0; s < 60; s++)
        cron("*/15 * * * * * *", utc(2024, 6, 30, 9, 0, s), s % 15 == 0);
    for (int m = 0; m < 60; m++)
        cron("0 10-40/10 * * * * *", utc(2024, 6, 30, 9, m, 0), m >= 10 && m <= 40 && m % 10 == 0);
    for (int h = 0; h < 24; h++)
        cron("0 0 0-23/2 * * * *", utc(2024, 6, 30, h, 0, 0), h % 2 == 0);
    cron("0 0 * */2 * * *", utc(2024, 6, 1, 0, 0, 0), true);
    cron("0 0 * */2 * * *", utc(2024, 6, 2, 0, 0, 0), false);
    cron("0 0 * */2 * * *", utc(2024, 5, 31, 0, 0, 0), true);
    cron("0 0 0 1 */3 * *", utc(2024, 4, 1, 0, 0, 0), true);
    cron("0 0 0 1 */3 * *", utc(2024, 5, 1, 0, 0, 0), false);
    cron("0 0 0 1 1 * 2024-2030/2", utc(2026, 1, 1, 0, 0, 0), true);
    cron("0 0 0 1 1 * 2024-2030/2", utc(2025, 1, 1, 0, 0, 0), false);
}

static void test_cron_ts0004_7_4_9_1_lists(void **state)
{
    (void)state;
    cron("0,30 * * * * * *", utc(2024, 6, 30, 9, 5, 0), true);
    cron("0,30 * * * * * *", utc(2024, 6, 30, 9, 5, 30), true);
    cron("0,30 * * * * * *", utc(2024, 6, 30, 9, 5, 15), false);
    for (int m = 0; m < 60; m++) {
        bool want = m == 1 || (m >= 3 && m <= 5) || m == 10 || m == 15 || m == 20;
        cron("0 1,3-5,10-20/5 * * * * *", utc(2024, 6, 30, 9, m, 0), want);
    }
    /* TS-0004 7.4.9.1 EXAMPLE 1: 2:00-2:05, 6:00-6:05 and 10:00-10:05 */
    cron("* 0-5 2,6,10 * * * *", utc(2024, 6, 30, 6, 5, 59), true);
    cron("* 0-5 2,6,10 * * * *", utc(2024, 6, 30, 6, 6, 0), false);
    cron("* 0-5 2,6,10 * * * *", utc(2024, 6, 30, 3, 0, 0), false);
}

/* Day of week 0 means Sunday (TS-0004 Table 7.4.9.1-4); 7 is accepted as Sunday too. */
static void test_cron_ts0004_7_4_9_1_dow_sunday(void **state)
{
    (void)state;
    int64_t sun = utc(2024, 6, 30, 12, 0, 0), sat = utc(2024, 6, 29, 12, 0, 0), mon = utc(2024, 7, 1, 12, 0, 0);
    cron("* * * * * 0 *", sun, true);
    cron("* * * * * 7 *", sun, true);
    cron("* * * * * 0 *", sat, false);
    cron("* * * * * 7 *", sat, false);
    cron("* * * * * 0 *", mon, false);
    cron("* * * * * 7 *", mon, false);
    cron("* * * * * 6 *", sat, true);
    cron("* * * * * 1 *", mon, true);
    cron("* * * * * 1-5 *", mon, true);
    cron("* * * * * 1-5 *", sun, false);
    cron("* * * * * 1-5 *", sat, false);
    cron("* * * * * 5-7 *", sun, true);
    cron("* * * * * 5-7 *", sat, true);
    cron("* * * * * 5-7 *", mon, false);
    cron("* * * * * 0,6 *", sun, true);
    cron("* * * * * 6,7 *", sun, true);
    /* Sunday at the day's edges */
    cron("* * * * * 0 *", utc(2024, 6, 30, 0, 0, 0), true);
    cron("* * * * * 0 *", utc(2024, 6, 29, 23, 59, 59), false);
    cron("* * * * * 7 *", utc(2024, 6, 30, 23, 59, 59), true);
    cron("* * * * * 7 *", utc(2024, 7, 1, 0, 0, 0), false);
}

static void test_cron_ts0004_7_4_9_1_day_of_month(void **state)
{
    (void)state;
    /* 31 in a 30-day month never matches: not on the 30th, not rolled over to the 1st */
    for (int64_t t = utc(2024, 4, 1, 0, 0, 0); t < utc(2024, 5, 2, 0, 0, 0); t += 1800)
        cron("* * * 31 * * *", t, false);
    cron("* * * 31 4 * *", utc(2024, 4, 30, 23, 59, 59), false);
    cron("* * * 31 4 * *", utc(2024, 5, 1, 0, 0, 0), false);
    assert_true(acp_crontab_valid("* * * 31 4 * *"));
    cron("* * * 31 * * *", utc(2024, 5, 31, 0, 0, 0), true);
    cron("* * * 31 * * *", utc(2024, 5, 30, 23, 59, 59), false);
    cron("0 0 0 29 2 * *", utc(2024, 2, 29, 0, 0, 0), true);
    cron("0 0 0 29 2 * *", utc(2023, 3, 1, 0, 0, 0), false);
    cron("0 0 0 1 * * *", utc(2024, 3, 1, 0, 0, 0), true);
    /* day of month and day of week must both hold: 2024-06-30 is a Sunday */
    cron("* * * 30 6 0 *", utc(2024, 6, 30, 8, 0, 0), true);
    cron("* * * 30 6 1 *", utc(2024, 6, 30, 8, 0, 0), false);
}

static void test_cron_ts0004_7_4_9_1_months_and_years(void **state)
{
    (void)state;
    int64_t nye = utc(2024, 12, 31, 23, 59, 59), ny = utc(2025, 1, 1, 0, 0, 0);
    cron("* * * * 12 * *", nye, true);
    cron("* * * * 12 * *", ny, false);
    cron("* * * * 1 * *", ny, true);
    cron("* * * * * * 2024", nye, true);
    cron("* * * * * * 2024", ny, false);
    cron("* * * * * * 2025", ny, true);
    cron("* * * * * * 2024,2026", ny, false);
    cron("* * * * * * 2000-2024", nye, true);
    cron("* * * * * * 2000-2024", ny, false);
    cron("59 59 23 31 12 2 2024", nye, true);
    cron("59 59 23 31 12 3 2024", nye, false);
}

/* TS-0004 Table 7.4.9.1-4: the year field ranges over 2000 to 9999. */
static void test_cron_ts0004_7_4_9_1_full_year_range(void **state)
{
    (void)state;
    assert_true(acp_crontab_valid("0 0 0 1 1 * 2000"));
    assert_true(acp_crontab_valid("0 0 0 1 1 * 9999"));
    assert_true(acp_crontab_valid("* * * * * * 2000-9999"));
    cron("0 0 0 1 1 * 2300", utc(2300, 1, 1, 0, 0, 0), true);
    cron("* * * * * * 2000-9999", utc(2300, 1, 1, 0, 0, 0), true);
    cron("* * * * * * *", utc(2300, 1, 1, 0, 0, 0), true);
}

static void test_cron_ts0004_7_4_9_1_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        " ",
        "*",
        "* * * * *",
        "* * * * * *",
        "* * * * * * * *",
        "0 0 12 * * * * extra",
        "60 * * * * * *",
        "* 60 * * * * *",
        "* * 24 * * * *",
        "* * * 0 * * *",
        "* * * 32 * * *",
        "* * * * 0 * *",
        "* * * * 13 * *",
        "* * * * * 8 *",
        "* * * * * * 10000",
        "-1 * * * * * *",
        "*/0 * * * * * *",
        "*/ * * * * * *",
        "5-3 * * * * * *",
        "1- * * * * * *",
        "-5 * * * * * *",
        "1-2-3 * * * * * *",
        "1, * * * * * *",
        ",1 * * * * * *",
        "1,,2 * * * * * *",
        "** * * * * * *",
        "a * * * * * *",
        "1.5 * * * * * *",
        "*,* * * * * * *x",
        "0x1 * * * * * *",
    };
    int64_t t = utc(2024, 6, 30, 12, 0, 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (acp_crontab_valid(bad[i]))
            fail_msg("acp_crontab_valid accepted '%s'", bad[i]);
        if (acp_crontab_matches(bad[i], t))
            fail_msg("acp_crontab_matches accepted '%s'", bad[i]);
    }
}

/* Times far outside the year field's range never match and never overflow the year arithmetic. Run last in main():
 * under UBSan an overflow here ends the process. */
static void test_cron_ts0004_7_4_9_1_extreme_times(void **state)
{
    (void)state;
    static const int64_t times[] = {INT64_MIN, -67768040609740800 /* gmtime's first second: tm_year == INT_MIN */,
                                    -67768038400752001 /* the last second of year INT_MIN + 1969 */,
                                    67767976233532799 /* gmtime's last second */, INT64_MAX};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        cron("* * * * * * *", times[i], false);
        cron("* * * * * * 2024", times[i], false);
    }
    struct acp_policy *p = compile("{'acr': [{'acor': ['all'], 'acop': 63, 'acco': [{'actw': ['* * * * * * *']}]}]}");
    struct acp_request rq = req(AE1, ACOP_RETRIEVE);
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        rq.time = times[i];
        expect_deny(p, &rq, "context-time");
    }
    acp_policy_free(p);
}

/* ---- acp_cidr_matches (TS-0004 Table 6.3.2-1 m2m:ipv4/m2m:ipv6) ------------------------------ */

static void cidr(const char *block, const char *addr, bool want)
{
    bool got = acp_cidr_matches(block, addr);
    if (got != want)
        fail_msg("acp_cidr_matches('%s', '%s') should be %s", block, addr, want ? "true" : "false");
    if (got)
        assert_true(acp_cidr_valid(block));
}

static void test_cidr_ipv4(void **state)
{
    (void)state;
    cidr("192.0.2.0/24", "192.0.2.0", true);
    cidr("192.0.2.0/24", "192.0.2.255", true);
    cidr("192.0.2.0/24", "192.0.3.0", false);
    cidr("192.0.2.0/24", "192.0.1.255", false);
    cidr("10.125.0.0/16", "10.125.255.1", true);
    cidr("10.125.0.0/16", "10.126.0.1", false);
    cidr("0.0.0.0/0", "1.2.3.4", true);
    cidr("0.0.0.0/0", "255.255.255.255", true);
    cidr("0.0.0.0/0", "0.0.0.0", true);
    cidr("192.0.2.7/32", "192.0.2.7", true);
    cidr("192.0.2.7/32", "192.0.2.6", false);
    cidr("192.0.2.7/32", "192.0.2.8", false);
    cidr("122.77.12.1", "122.77.12.1", true); /* no suffix: one address */
    cidr("122.77.12.1", "122.77.12.2", false);
    cidr("128.0.0.0/1", "200.1.1.1", true);
    cidr("128.0.0.0/1", "127.255.255.255", false);
    /* /17: the prefix ends inside the third byte */
    cidr("10.0.128.0/17", "10.0.128.0", true);
    cidr("10.0.128.0/17", "10.0.255.255", true);
    cidr("10.0.128.0/17", "10.0.127.255", false);
    cidr("10.0.128.0/17", "10.1.128.0", false);
    cidr("10.0.0.0/17", "10.0.127.255", true);
    cidr("10.0.0.0/17", "10.0.128.0", false);
    cidr("192.0.2.0/31", "192.0.2.1", true);
    cidr("192.0.2.0/31", "192.0.2.2", false);
}

static void test_cidr_ipv6(void **state)
{
    (void)state;
    cidr("2001:db8::/32", "2001:db8:ffff::1", true);
    cidr("2001:db8::/32", "2001:db9::1", false);
    cidr("::/0", "2001:db8::1", true);
    cidr("::/0", "::1", true);
    cidr("::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true);
    cidr("2001:db8::1/128", "2001:db8::1", true);
    cidr("2001:db8::1/128", "2001:0db8:0000:0000:0000:0000:0000:0001", true);
    cidr("2001:db8::1/128", "2001:db8::2", false);
    cidr("2001:db8::1/128", "2001:db8::", false);
    cidr("::1", "::1", true);
    cidr("::1", "::2", false);
    /* /121: the prefix ends one bit into the last byte */
    cidr("2001:db8::80/121", "2001:db8::80", true);
    cidr("2001:db8::80/121", "2001:db8::ff", true);
    cidr("2001:db8::80/121", "2001:db8::7f", false);
    cidr("2001:db8::80/121", "2001:db8::100", false);
    cidr("2001:db8::/121", "2001:db8::7f", true);
    cidr("2001:db8::/121", "2001:db8::80", false);
    cidr("Fadf:ddd0::/32", "fadf:ddd0:1::1", true);
    cidr("abcd:ffff:abb0:aaaa::/64", "abcd:ffff:abb0:aaaa:1:2:3:4", true);
    cidr("abcd:ffff:abb0:aaaa::/64", "abcd:ffff:abb0:aaab::", false);
}

/* A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; they are IPv4 peers. */
static void test_cidr_ipv4_mapped_peers(void **state)
{
    (void)state;
    cidr("192.0.2.0/24", "::ffff:192.0.2.1", true);
    cidr("192.0.2.0/24", "::ffff:c000:201", true);
    cidr("192.0.2.0/24", "::FFFF:192.0.2.200", true);
    cidr("192.0.2.0/24", "::ffff:192.0.3.1", false);
    cidr("127.0.0.0/8", "::ffff:127.0.0.1", true);
    cidr("0.0.0.0/0", "::ffff:10.0.0.1", true);
    cidr("192.0.2.1/32", "::ffff:192.0.2.1", true);
    /* IPv4-compatible (not mapped) addresses stay IPv6 */
    cidr("192.0.2.0/24", "::192.0.2.1", false);
}

static void test_cidr_family_mismatch_and_garbage(void **state)
{
    (void)state;
    cidr("2001:db8::/32", "192.0.2.1", false);
    cidr("::/0", "192.0.2.1", false);
    cidr("192.0.2.0/24", "2001:db8::1", false);
    cidr("0.0.0.0/0", "::1", false);
    cidr("0.0.0.0/0", "", false);
    cidr("0.0.0.0/0", "192.0.2", false);
    cidr("0.0.0.0/0", "192.0.2.1/32", false);
    cidr("0.0.0.0/0", "garbage", false);
    cidr("0.0.0.0/0", "fe80::1%eth0", false);
    cidr("192.0.2.0/33", "192.0.2.1", false);
    cidr("2001:db8::/129", "2001:db8::1", false);
    cidr("/24", "192.0.2.1", false);
    cidr("", "192.0.2.1", false);
    assert_true(acp_cidr_valid("10.0.0.0/8"));
    assert_true(acp_cidr_valid("0.0.0.0/0"));
    assert_true(acp_cidr_valid("192.0.2.1"));
    assert_true(acp_cidr_valid("::1"));
    assert_true(acp_cidr_valid("2001:db8::/32"));
    assert_true(acp_cidr_valid("::/128"));
    assert_false(acp_cidr_valid("10.0.0.0/33"));
    assert_false(acp_cidr_valid("::/129"));
    assert_false(acp_cidr_valid(""));
    assert_false(acp_cidr_valid("10.0.0.0/"));
    assert_false(acp_cidr_valid("10.0.0.0/8/8"));
    assert_false(acp_cidr_valid("10.0.0.0 /8"));
    assert_false(acp_cidr_valid("10.0.0.0/ 8"));
    assert_false(acp_cidr_valid("10.0.0.0/+8"));
    assert_false(acp_cidr_valid("example.com/8"));
}

/* ---- acp_permits: stages and reasons (TS-0003 7.1.5) ------------------------------------------ */

static void test_permits_ts0003_7_1_5_no_rules(void **state)
{
    (void)state;
    struct acp_request rq = req(AE1, ACOP_RETRIEVE);
    decide("{'acr': []}", &rq, false, "no-rules", -1);
    expect(NULL, &rq, false, "no-rules", -1);
}

/* TS-0003 Table 7.1.5-1: res_authn. */
static void test_permits_ts0003_7_1_5_acaf(void **state)
{
    (void)state;
    struct acp_request rq = req(AE1, ACOP_RETRIEVE);
    const char *flagged = "{'acr': [{'acor': ['all'], 'acop': 63, 'acaf': true}]}";
    decide(flagged, &rq, false, "acaf", -1);
    rq.authenticated = true;
    decide(flagged, &rq, true, "granted", 0);
    decide("{'acr': [{'acor': ['all'], 'acop': 63, 'acaf': false}]}", &rq, true, "granted", 0);
    rq.authenticated = false;
    decide("{'acr': [{'acor': ['all'], 'acop': 63, 'acaf': false}]}", &rq, true, "granted", 0);
    decide("{'acr': [{'acor': ['all'], 'acop': 63}]}", &rq, true, "granted", 0);
}

static void test_permits_ts0003_7_1_5_originator(void **state)
{
    (void)state;
    struct acp_request rq = req(AE1, ACOP_RETRIEVE);
    decide("{'acr': [{'acor': ['Cae2'], 'acop': 63}]}", &rq, false, "originator", -1);
    decide("{'acr': [{'acor': ['Cae2', 'Cae1'], 'acop': 63}]}", &rq, true, "granted", 0);
    /* every form of the same AE-ID grants it, and only it */
    static const char *const forms[] = {"Cae1", "/id-in/Cae1", "//warden.example.com/id-in/Cae1"};
    static const char *const others[] = {AE2, AE1_MN, FOREIGN, SAE1, MN, IN, "//warden.example.com/id-in/Cae11"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        json_t *v = json_pack("{s:[{s:[s],s:i}]}", "acr", "acor", forms[i], "acop", 63);
        struct acp_policy *p = compile_json(v);
        json_decref(v);
        rq.orig = AE1;
        expect_permit(p, &rq, 0);
        for (size_t k = 0; k < sizeof others / sizeof others[0]; k++) {
            rq.orig = others[k];
            expect_deny(p, &rq, "originator");
        }
        acp_policy_free(p);
    }
    rq.orig = SAE1;
    decide("{'acr': [{'acor': ['Sae1'], 'acop': 63}]}", &rq, true, "granted", 0);
    decide("{'acr': [{'acor': ['/Sae1'], 'acop': 63}]}", &rq, true, "granted", 0);
    rq.orig = MN;
    decide("{'acr': [{'acor': ['/id-mn'], 'acop': 63}]}", &rq, true, "granted", 0);
    rq.orig = AE1_MN;
    decide("{'acr': [{'acor': ['/id-mn'], 'acop': 63}]}", &rq, false, "originator", -1);
    rq.orig = FOREIGN;
    decide("{'acr': [{'acor': ['all'], 'acop': 63}]}", &rq, true, "granted", 0);
    decide("{'acr': [{'acor': ['//other.example.org/id-in/Cae1'], 'acop': 63}]}", &rq, true, "granted", 0);
}

/* TS-0003 Table 7.1.3-2: wildcards in acor, in every form, after canonicalisation. */
static void test_permits_ts0003_7_1_3_acor_wildcards(void **state)
{
    (void)state;
    struct {
        const char *acor, *orig;
        bool permit;
    } cases[] = {
        {"Cae*", AE1, true},
        {"Cae*", AE2, true},
        {"Cae*", AE1_MN, false},
        {"Cae*", SAE1, false},
        {"C*", "//warden.example.com/id-in/Cx", true},
        {"/id-in/C*", AE1, true},
        {"/id-in/C*", AE1_MN, false},
        {"/id-*/Cae1", AE1_MN, true},
        {"/id-*/Cae1", FOREIGN, false},
        {"//*/id-in/C*", FOREIGN, true},
        {"//*/id-in/C*", AE1, true},
        {"//*/id-in/C*", SAE1, false},
        {"/SmyAE*", "//warden.example.com/SmyAE7", true},
        {"/SmyAE*", "//other.example.org/SmyAE7", false},
        {"S*", SAE1, true},
        {"S*", AE1, false},
        {"/id-*", MN, true},
        {"/id-*", IN, true},
        {"/id-*", AE1, false},
        {"//*/myCSE*", "//m2msp.org/myCSE1", true},
        {"//*/myCSE*", "//m2msp.org/myCSE1/Cae1", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *v = json_pack("{s:[{s:[s],s:i}]}", "acr", "acor", cases[i].acor, "acop", 2);
        struct acp_policy *p = compile_json(v);
        json_decref(v);
        struct acp_request rq = req(cases[i].orig, ACOP_RETRIEVE);
        struct acp_why why;
        if (acp_permits(p, &rq, &why) != cases[i].permit)
            fail_msg("acor '%s' for %s should %s (%s)", cases[i].acor, cases[i].orig,
                     cases[i].permit ? "permit" : "deny", why.reason);
        assert_string_equal(why.reason, cases[i].permit ? "granted" : "originator");
        acp_policy_free(p);
    }
}

/* TS-0003 7.1.3: "Using a SP domain name in accessControlOriginators means all AE-IDs and CSE-IDs matching
 * the given domain name can be authorized." */
static void test_permits_ts0003_7_1_3_sp_domain(void **state)
{
    (void)state;
    struct acp_policy *p = compile("{'acr': [{'acor': ['//warden.example.com'], 'acop': 63}]}");
    static const char *const inside[] = {AE1, AE1_MN, SAE1, MN, IN};
    static const char *const outside[] = {
        "//warden.example.comx/id-in/Cae1",
        "//warden.example.co/id-in/Cae1",
        "//xwarden.example.com/id-in/Cae1",
        "//sub.warden.example.com/id-in/Cae1",
        FOREIGN,
        "//warden.example.com",
        "//warden.example.comx",
    };
    for (size_t i = 0; i < sizeof inside / sizeof inside[0]; i++) {
        struct acp_request rq = req(inside[i], ACOP_DELETE);
        expect_permit(p, &rq, 0);
    }
    for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
        struct acp_request rq = req(outside[i], ACOP_DELETE);
        expect_deny(p, &rq, "originator");
    }
    acp_policy_free(p);
    struct acp_request rq = req(FOREIGN, ACOP_DELETE);
    decide("{'acr': [{'acor': ['//other.example.org'], 'acop': 63}]}", &rq, true, "granted", 0);
    rq.orig = AE1;
    decide("{'acr': [{'acor': ['//other.example.org'], 'acop': 63}]}", &rq, false, "originator", -1);
}

static void test_permits_ts0003_7_1_5_operation(void **state)
{
    (void)state;
    for (size_t bit = 0; bit < NOPS; bit++) {
        json_t *v = json_pack("{s:[{s:[s],s:i}]}", "acr", "acor", "all", "acop", (int)all_ops[bit]);
        struct acp_policy *p = compile_json(v);
        json_decref(v);
        for (size_t k = 0; k < NOPS; k++) {
            struct acp_request rq = req(AE1, all_ops[k]);
            if (k == bit)
                expect_permit(p, &rq, 0);
            else
                expect_deny(p, &rq, "operation");
        }
        acp_policy_free(p);
    }
    struct acp_request rq = req(AE1, ACOP_DISCOVERY);
    decide("{'acr': [{'acor': ['all'], 'acop': 0}]}", &rq, false, "operation", -1);
    decide("{'acr': [{'acor': ['all'], 'acop': 31}]}", &rq, false, "operation", -1);
    decide("{'acr': [{'acor': ['all'], 'acop': 34}]}", &rq, true, "granted", 0);
}

static void test_permits_ts0003_7_1_5_context_time(void **state)
{
    (void)state;
    const char *office = "{'acr': [{'acor': ['all'], 'acop': 63, 'acco': [{'actw': ['* * 8-17 * * 1-5 *']}]}]}";
    struct acp_request rq = req(AE1, ACOP_RETRIEVE);
    rq.time = utc(2024, 7, 1, 7, 59, 59); /* Monday */
    decide(office, &rq, false, "context-time", -1);
    rq.time = utc(2024, 7, 1, 8, 0, 0);
    decide(office, &rq, true, "granted", 0);
    rq.time = utc(2024, 7, 1, 17, 59, 59);
    decide(office, &rq, true, "granted", 0);
    rq.time = utc(2024, 7, 1, 18, 0, 0);
    decide(office, &rq, false, "context-time", -1);
    rq.time = utc(2024, 6, 30, 12, 0, 0); /* Sunday */
    decide(office, &rq, false, "context-time", -1);
    /* several windows in one context: any one suffices */
    const char *nights = "{'acr': [{'acor': ['all'], 'acop': 63, 'acco': [{'actw': ['* * 0-5 * * * *', "
                         "'* * 20-23 * * * *']}]}]}";
    rq.time = utc(2024, 7, 1, 3, 0, 0);
    decide(nights, &rq, true, "granted", 0);
    rq.time = utc(2024, 7, 1, 21, 0, 0);
    decide(nights, &rq, true, "granted", 0);
    rq.time = utc(2024, 7, 1, 12, 0, 0);
    decide(nights, &rq, false, "context-time", -1);
}

static void test_permits_ts0003_7_1_5_context_ip(void **state)
{
    (void)state;
    const char *lan = "{'acr': [{'acor': ['all'], 'acop': 63, 'acco': [{'acip': {'ipv4': ['192.0.2.0/24'], "
                      "'ipv6': ['2001:db8::/32']}}]}]}";
    struct acp_request rq = req(AE1, ACOP_UPDATE);
    decide(lan, &rq, false, "context-ip-unknown-peer", -1); /* peer unknown (MQTT): fails closed */
    rq.peer = "198.51.100.1";
    decide(lan, &rq, false, "context-ip", -1);
    rq.peer = "192.0.2.9";
    decide(lan, &rq, true, "granted", 0);
    rq.peer = "::ffff:192.0.2.9";
    decide(lan, &rq, true, "granted", 0);
    rq.peer = "2001:db8:1::5";
    decide(lan, &rq, true, "granted", 0);
    rq.peer = "2001:db9::5";
    decide(lan, &rq, false, "context-ip", -1);
    rq.peer = "not-an-address";
    decide(lan, &rq, false, "context-ip", -1);
    rq.peer = "";
    decide(lan, &rq, false, "context-ip-unknown-peer", -1);
    /* only IPv4 blocks: an IPv6 peer never matches */
    rq.peer = "2001:db8::1";
    decide("{'acr': [{'acor': ['all'], 'acop': 63, 'acco': [{'acip': {'ipv4': ['0.0.0.0/0']}}]}]}", &rq, false,
           "context-ip", -1);
    /* an acip without blocks is refused when written (finding 10: test_compile_finding_10_...) */
}

static void test_permits_ts0003_7_1_5_context_location(void **state)
{
    (void)state;
    const char *de = "{'acr': [{'acor': ['all'], 'acop': 63, 'acco': [{'aclr': {'accc': ['DE', 'AT']}}]}]}";
    struct acp_location loc = {.has_position = true, .lat = 52.52, .lon = 13.405, .country = "DE"};
    struct acp_request rq = req(AE1, ACOP_RETRIEVE);
    rq.loc = &loc;
    decide(de, &rq, true, "granted", 0);
    memcpy(loc.country, "AT", 3);
    decide(de, &rq, true, "granted", 0);
    memcpy(loc.country, "FR", 3);
    decide(de, &rq, false, "context-location", -1);
    memcpy(loc.country, "de", 3);
    decide(de, &rq, true, "granted", 0);
    memcpy(loc.country, "DE", 3);
    decide("{'acr': [{'acor': ['all'], 'acop': 63, 'acco': [{'aclr': {'accc': ['de']}}]}]}", &rq, true, "granted", 0);
    /* a list of regions: any one suffices */
    const char *either = "{'acr': [{'acor': ['all'], 'acop': 63, 'acco': [{'aclr': [{'accc': ['FR']}, "
                         "{'accr': [52.52, 13.405, 1000]}]}]}]}";
    decide(either, &rq, true, "granted", 0);
    loc.lat = 48.8566;
    loc.lon = 2.3522;
    decide(either, &rq, false, "context-location", -1);
    memcpy(loc.country, "FR", 3);
    decide(either, &rq, true, "granted", 0);
}

/* TS-0003 7.1.4: indeterminate parameters deny; an unknown location matches no region. */
static void test_permits_ts0003_7_1_4_unknown_location_denies(void **state)
{
    (void)state;
    const char *circle = "{'acr': [{'acor': ['all'], 'acop': 63, 'acco': [{'aclr': {'accr': [0, 0, 20000000]}}]}]}";
    const char *country = "{'acr': [{'acor': ['all'], 'acop': 63, 'acco': [{'aclr': {'accc': ['DE']}}]}]}";
    struct acp_request rq = req(AE1, ACOP_RETRIEVE);
    decide(circle, &rq, false, "context-location", -1);
    decide(country, &rq, false, "context-location", -1);
    /* country known, position unknown: the circle (which covers the whole earth) still denies */
    struct acp_location loc = {.has_position = false, .lat = 0, .lon = 0, .country = "DE"};
    rq.loc = &loc;
    decide(circle, &rq, false, "context-location", -1);
    decide(country, &rq, true, "granted", 0);
    /* position known, country unknown */
    struct acp_location pos = {.has_position = true, .lat = 0, .lon = 0, .country = ""};
    rq.loc = &pos;
    decide(circle, &rq, true, "granted", 0);
    decide(country, &rq, false, "context-location", -1);
}

/* The test's own haversine, on the mean earth radius (IUGG), in the same order of operations. */
static double haversine_m(double lat1, double lon1, double lat2, double lon2)
{
    const double rad = 3.14159265358979323846 / 180.0, earth = 6371008.8;
    double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
    double a = sin(dlat / 2) * sin(dlat / 2) + cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);
    return 2 * earth * asin(sqrt(a > 1 ? 1 : a));
}

static void circle_decision(double lat, double lon, double radius, const struct acp_location *loc, bool permit)
{
    json_t *v = json_pack("{s:[{s:[s],s:i,s:[{s:{s:[f,f,f]}}]}]}", "acr", "acor", "all", "acop", 63, "acco", "aclr",
                          "accr", lat, lon, radius);
    assert_non_null(v);
    struct acp_policy *p = compile_json(v);
    json_decref(v);
    struct acp_request rq = req(AE1, ACOP_RETRIEVE);
    rq.loc = loc;
    if (permit)
        expect_permit(p, &rq, 0);
    else
        expect_deny(p, &rq, "context-location");
    acp_policy_free(p);
}

/* TS-0003 Annex F: the circle includes its boundary. */
static void test_permits_ts0003_annex_f_circle_radius_edge(void **state)
{
    (void)state;
    struct acp_location berlin = {.has_position = true, .lat = 52.52, .lon = 13.405, .country = "DE"};
    struct acp_location paris = {.has_position = true, .lat = 48.8566, .lon = 2.3522, .country = "FR"};
    /* distance exactly 0, radius exactly 0 */
    circle_decision(52.52, 13.405, 0, &berlin, true);
    circle_decision(52.52, 13.405, 0, &paris, false);
    /* distance exactly at the radius, and just either side of it */
    double d = haversine_m(52.52, 13.405, 48.8566, 2.3522);
    assert_true(d > 870000 && d < 885000);
    circle_decision(52.52, 13.405, d, &paris, true);
    circle_decision(52.52, 13.405, d * (1 + 1e-9), &paris, true);
    circle_decision(52.52, 13.405, d * (1 - 1e-9), &paris, false);
    circle_decision(52.52, 13.405, d - 1, &paris, false);
    /* across the antimeridian: 179.9 E and 179.9 W are about 22 km apart */
    struct acp_location west = {.has_position = true, .lat = 0, .lon = -179.9, .country = ""};
    circle_decision(0, 179.9, 25000, &west, true);
    circle_decision(0, 179.9, 20000, &west, false);
}

static void test_permits_ts0003_7_1_5_object_details(void **state)
{
    (void)state;
    const char *cnt_only = "{'acr': [{'acor': ['all'], 'acop': 63, 'acod': [{'chty': [3]}]}]}";
    struct acp_request rq = req(AE1, ACOP_CREATE);
    rq.child_ty = 3;
    decide(cnt_only, &rq, true, "granted", 0);
    rq.child_ty = 4;
    decide(cnt_only, &rq, false, "object-details", -1);
    /* TS-0003 7.1.3: child resource types constrain CREATE only */
    struct acp_policy *p = compile(cnt_only);
    for (size_t k = 0; k < NOPS; k++) {
        if (all_ops[k] == ACOP_CREATE)
            continue;
        struct acp_request other = req(AE1, all_ops[k]);
        other.target_ty = 99;
        other.child_ty = 4;
        expect_permit(p, &other, 0);
    }
    acp_policy_free(p);
    /* resourceType names the parent: both must match */
    const char *typed = "{'acr': [{'acor': ['all'], 'acop': 63, 'acod': [{'ty': 2, 'chty': [3]}, "
                        "{'ty': 3, 'chty': [4, 23]}]}]}";
    rq.target_ty = 2;
    rq.child_ty = 3;
    decide(typed, &rq, true, "granted", 0);
    rq.target_ty = 3;
    rq.child_ty = 4;
    decide(typed, &rq, true, "granted", 0);
    rq.child_ty = 23;
    decide(typed, &rq, true, "granted", 0);
    rq.child_ty = 3;
    decide(typed, &rq, false, "object-details", -1);
    rq.target_ty = 2;
    rq.child_ty = 4;
    decide(typed, &rq, false, "object-details", -1);
    rq.target_ty = 5;
    rq.child_ty = 3;
    decide(typed, &rq, false, "object-details", -1);
    /* an empty list of object details is refused when written (finding 10) */
}

/* TS-0003 7.1.4: a specializationType the request cannot be matched against is indeterminate: deny CREATE. */
static void test_permits_ts0003_7_1_4_specialization_denies_create(void **state)
{
    (void)state;
    struct acp_policy *p =
        compile("{'acr': [{'acor': ['all'], 'acop': 63, 'acod': [{'ty': 28, 'spty': 'cnd1', 'chty': [28]}]}]}");
    struct acp_request rq = req(AE1, ACOP_CREATE);
    rq.target_ty = 28;
    rq.child_ty = 28;
    expect_deny(p, &rq, "object-details");
    rq.op = ACOP_RETRIEVE;
    expect_permit(p, &rq, 0);
    acp_policy_free(p);
}

/* ---- acp_permits: combining rules and contexts (TS-0003 7.1.5) -------------------------------- */

static void test_permits_ts0003_7_1_5_granting_rule_index(void **state)
{
    (void)state;
    struct acp_policy *p = compile("{'acr': ["
                                   "{'acor': ['Cae2'], 'acop': 63},"
                                   "{'acor': ['Cae1'], 'acop': 1},"
                                   "{'acor': ['Cae1'], 'acop': 2},"
                                   "{'acor': ['all'], 'acop': 8},"
                                   "{'acor': ['Cae1', 'Cae2'], 'acop': 63}]}");
    assert_int_equal(acp_policy_rules(p), 5);
    struct acp_request rq = req(AE1, ACOP_RETRIEVE);
    expect_permit(p, &rq, 2);
    rq.op = ACOP_CREATE;
    expect_permit(p, &rq, 1);
    rq.op = ACOP_DELETE;
    expect_permit(p, &rq, 3);
    rq.op = ACOP_NOTIFY;
    expect_permit(p, &rq, 4);
    rq.orig = AE2;
    rq.op = ACOP_UPDATE;
    expect_permit(p, &rq, 0);
    rq.orig = MN;
    rq.op = ACOP_UPDATE;
    expect_deny(p, &rq, "operation");
    rq.op = ACOP_DELETE;
    expect_permit(p, &rq, 3);
    acp_policy_free(p);
}

/* Permit-overrides: one granting rule suffices, whatever the others say. */
static void test_permits_ts0003_7_1_5_any_rule_grants(void **state)
{
    (void)state;
    struct acp_policy *p = compile("{'acr': ["
                                   "{'acor': ['all'], 'acop': 63, 'acaf': true},"
                                   "{'acor': ['Cae2'], 'acop': 63},"
                                   "{'acor': ['all'], 'acop': 4},"
                                   "{'acor': ['all'], 'acop': 63, 'acco': [{'actw': ['* * * * * * 2000']}]},"
                                   "{'acor': ['all'], 'acop': 63, 'acod': [{'chty': [99]}]},"
                                   "{'acor': ['Cae1'], 'acop': 1}]}");
    struct acp_request rq = req(AE1, ACOP_CREATE);
    expect_permit(p, &rq, 5);
    acp_policy_free(p);
}

/* why reports the furthest stage any rule reached: acaf < originator < operation < context < object-details. */
static void test_permits_ts0003_7_1_5_furthest_reason(void **state)
{
    (void)state;
    static const char *const acaf = "{'acor': ['all'], 'acop': 63, 'acaf': true}";
    static const char *const orig = "{'acor': ['Cae2'], 'acop': 63}";
    static const char *const op = "{'acor': ['all'], 'acop': 2}";
    static const char *const win = "{'acor': ['all'], 'acop': 63, 'acco': [{'actw': ['* * * * * * 2000']}]}";
    static const char *const ip = "{'acor': ['all'], 'acop': 63, 'acco': [{'acip': {'ipv4': ['10.0.0.0/8']}}]}";
    static const char *const where = "{'acor': ['all'], 'acop': 63, 'acco': [{'aclr': {'accc': ['DE']}}]}";
    static const char *const objd = "{'acor': ['all'], 'acop': 63, 'acod': [{'chty': [99]}]}";
    struct {
        const char *a, *b, *c, *want;
    } cases[] = {
        {acaf, orig, op, "operation"},     {op, orig, acaf, "operation"},         {orig, acaf, acaf, "originator"},
        {acaf, acaf, acaf, "acaf"},        {orig, win, acaf, "context-time"},     {win, orig, op, "context-time"},
        {op, ip, orig, "context-ip"},      {where, acaf, op, "context-location"}, {objd, acaf, orig, "object-details"},
        {win, op, objd, "object-details"}, {objd, win, ip, "object-details"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, "{'acr': [%s, %s, %s]}", cases[i].a, cases[i].b, cases[i].c);
        struct acp_policy *p = compile(text);
        struct acp_request rq = req(AE1, ACOP_CREATE);
        rq.peer = "192.0.2.1";
        rq.child_ty = 3;
        expect_deny(p, &rq, cases[i].want);
        acp_policy_free(p);
    }
    /* two rules failing at the context stage report one of their context reasons */
    char text[1024];
    snprintf(text, sizeof text, "{'acr': [%s, %s]}", win, ip);
    struct acp_policy *p = compile(text);
    struct acp_request rq = req(AE1, ACOP_RETRIEVE);
    rq.peer = "192.0.2.1";
    struct acp_why why;
    assert_false(acp_permits(p, &rq, &why));
    assert_int_equal(why.rule, -1);
    assert_true(strcmp(why.reason, "context-time") == 0 || strcmp(why.reason, "context-ip") == 0);
    acp_policy_free(p);
}

/* res_ctxts = OR over contexts; res_context = time AND ip AND location. */
static void test_permits_ts0003_7_1_5_contexts_any_elements_all(void **state)
{
    (void)state;
    struct acp_policy *p = compile("{'acr': [{'acor': ['all'], 'acop': 63, 'acco': ["
                                   "{'actw': ['* * 8-17 * * * *'], 'acip': {'ipv4': ['192.0.2.0/24']}, "
                                   "'aclr': {'accc': ['DE']}}]}]}");
    struct acp_location de = {.has_position = false, .lat = 0, .lon = 0, .country = "DE"};
    struct acp_location fr = {.has_position = false, .lat = 0, .lon = 0, .country = "FR"};
    struct acp_request rq = req(AE1, ACOP_RETRIEVE);
    rq.time = utc(2024, 7, 1, 9, 0, 0);
    rq.peer = "192.0.2.1";
    rq.loc = &de;
    expect_permit(p, &rq, 0);
    rq.time = utc(2024, 7, 1, 19, 0, 0);
    expect_deny(p, &rq, "context-time");
    rq.time = utc(2024, 7, 1, 9, 0, 0);
    rq.peer = "198.51.100.1";
    expect_deny(p, &rq, "context-ip");
    rq.peer = "192.0.2.1";
    rq.loc = &fr;
    expect_deny(p, &rq, "context-location");
    rq.loc = NULL;
    expect_deny(p, &rq, "context-location");
    acp_policy_free(p);

    /* two contexts: working hours from anywhere, or any time from the LAN */
    p = compile("{'acr': [{'acor': ['all'], 'acop': 63, 'acco': [{'actw': ['* * 8-17 * * * *']}, "
                "{'acip': {'ipv4': ['192.0.2.0/24']}}]}]}");
    rq = req(AE1, ACOP_RETRIEVE);
    rq.time = utc(2024, 7, 1, 9, 0, 0);
    rq.peer = "198.51.100.1";
    expect_permit(p, &rq, 0);
    rq.time = utc(2024, 7, 1, 22, 0, 0);
    rq.peer = "192.0.2.77";
    expect_permit(p, &rq, 0);
    rq.peer = NULL;
    struct acp_why why;
    assert_false(acp_permits(p, &rq, &why));
    assert_int_equal(why.rule, -1);
    assert_true(strcmp(why.reason, "context-time") == 0 || strcmp(why.reason, "context-ip") == 0);
    acp_policy_free(p);
}

/* Finding 10: an empty restriction never turns into a grant; it is refused when written, whichever
 * element it is (before: an empty actw, aclr, context or context list granted unconditionally). */
static void test_compile_finding_10_empty_restrictions_refused(void **state)
{
    (void)state;
    refuse("{'acr': [{'acor': ['all'], 'acop': 63, 'acco': []}]}", "acco");
    refuse("{'acr': [{'acor': ['all'], 'acop': 63, 'acco': [{}]}]}", "acco entry");
    refuse("{'acr': [{'acor': ['all'], 'acop': 63, 'acco': [{'actw': []}]}]}", "actw");
    refuse("{'acr': [{'acor': ['all'], 'acop': 63, 'acco': [{'aclr': []}]}]}", "aclr");
    refuse("{'acr': [{'acor': ['all'], 'acop': 63, 'acco': [{'acip': {}}]}]}", "acip");
    refuse("{'acr': [{'acor': ['all'], 'acop': 63, 'acco': [{'acip': {'ipv4': []}}]}]}", "acip ipv4");
    refuse("{'acr': [{'acor': ['all'], 'acop': 63, 'acco': [{'acip': {'ipv4': ['10.0.0.0/8'], 'ipv6': []}}]}]}",
           "acip ipv6");
    refuse("{'acr': [{'acor': ['all'], 'acop': 63, 'acco': [{'aclr': {'accc': []}}]}]}", "accc");
    refuse("{'acr': [{'acor': ['all'], 'acop': 63, 'acod': []}]}", "acod");
    refuse("{'acr': [{'acor': ['all'], 'acop': 63, 'acod': [{'chty': []}]}]}", "chty");
    refuse("{'acr': [{'acor': [], 'acop': 63}]}", "acor");
}

/* A <group> in acor admits its members (TS-0003 7.1.3), resolved by the caller through ref_admits. */
struct members {
    const char *group, *member;
    int calls;
    const char *last_ref, *last_orig;
};

static bool admits(void *arg, const char *ref, const char *orig)
{
    struct members *m = arg;
    m->calls++;
    m->last_ref = ref;
    m->last_orig = orig;
    return strcmp(ref, m->group) == 0 && strcmp(orig, m->member) == 0;
}

static void test_permits_ts0003_7_1_3_group_references(void **state)
{
    (void)state;
    struct acp_policy *p = compile("{'acr': [{'acor': ['/id-in/grp1', 'grp-ri-7'], 'acop': 63}]}");
    struct acp_request rq = req(AE1, ACOP_RETRIEVE);
    /* without a resolver a reference never matches */
    expect_deny(p, &rq, "originator");
    struct members m = {.group = "/id-in/grp1", .member = AE1, .calls = 0};
    rq.ref_admits = admits;
    rq.ref_arg = &m;
    expect_permit(p, &rq, 0);
    assert_true(m.calls > 0);
    assert_string_equal(m.last_ref, "/id-in/grp1");
    assert_string_equal(m.last_orig, AE1);
    rq.orig = AE2;
    expect_deny(p, &rq, "originator");
    m.group = "grp-ri-7";
    m.member = AE2;
    expect_permit(p, &rq, 0);
    m.group = "grp-other";
    m.calls = 0;
    expect_deny(p, &rq, "originator");
    assert_true(m.calls > 0);
    acp_policy_free(p);
    /* an AE-ID is not a reference: the resolver is never asked about it */
    p = compile("{'acr': [{'acor': ['Cae2'], 'acop': 63}]}");
    m.calls = 0;
    m.group = "Cae2";
    m.member = AE1;
    rq.orig = AE1;
    expect_deny(p, &rq, "originator");
    assert_int_equal(m.calls, 0);
    acp_policy_free(p);
}

/* TS-0003 7.1.4: the same inputs always give the same decision. */
static void test_permits_ts0003_7_1_4_deterministic(void **state)
{
    (void)state;
    const char *text = "{'acr': [{'acor': ['Cae*', '//other.example.org'], 'acop': 35, "
                       "'acco': [{'actw': ['* * 8-17 * * 1-5 *'], 'acip': {'ipv4': ['192.0.2.0/24']}}]}, "
                       "{'acor': ['all'], 'acop': 1, 'acod': [{'ty': 2, 'chty': [3]}], 'acaf': true}]}";
    struct acp_policy *p1 = compile(text), *p2 = compile(text);
    static const char *const origs[] = {AE1, AE2, SAE1, MN, FOREIGN};
    static const char *const peers[] = {"192.0.2.1", "198.51.100.1", NULL};
    int64_t times[] = {utc(2024, 7, 1, 9, 0, 0), utc(2024, 6, 30, 9, 0, 0), utc(2024, 7, 1, 18, 0, 0)};
    int permits = 0, denies = 0;
    for (size_t o = 0; o < sizeof origs / sizeof origs[0]; o++)
        for (size_t k = 0; k < NOPS; k++)
            for (size_t pe = 0; pe < sizeof peers / sizeof peers[0]; pe++)
                for (size_t t = 0; t < sizeof times / sizeof times[0]; t++)
                    for (int authn = 0; authn < 2; authn++) {
                        struct acp_request rq = req(origs[o], all_ops[k]);
                        rq.peer = peers[pe];
                        rq.time = times[t];
                        rq.authenticated = authn;
                        struct acp_why first;
                        bool got = acp_permits(p1, &rq, &first);
                        for (int rep = 0; rep < 5; rep++) {
                            struct acp_why again = {.rule = 77, .reason = "poison"};
                            assert_true(acp_permits(rep % 2 ? p1 : p2, &rq, &again) == got);
                            assert_int_equal(again.rule, first.rule);
                            assert_string_equal(again.reason, first.reason);
                        }
                        assert_true(got == (first.rule >= 0));
                        if (got)
                            permits++;
                        else
                            denies++;
                    }
    assert_true(permits > 0 && denies > 0);
    acp_policy_free(p1);
    acp_policy_free(p2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compile_ts0004_6_3_5_27_minimal_and_empty),
        cmocka_unit_test(test_compile_ts0003_7_1_3_every_acor_form),
        cmocka_unit_test(test_compile_ts0004_6_3_5_27_every_element),
        cmocka_unit_test(test_compile_refuses_bad_set),
        cmocka_unit_test(test_compile_ts0003_7_1_1_refuses_unknown_elements),
        cmocka_unit_test(test_compile_refuses_missing_or_empty_acor_acop),
        cmocka_unit_test(test_compile_finding_10_empty_restrictions_refused),
        cmocka_unit_test(test_compile_refuses_acop_outside_0_63),
        cmocka_unit_test(test_compile_refuses_bad_crontab),
        cmocka_unit_test(test_compile_refuses_bad_cidr),
        cmocka_unit_test(test_compile_refuses_bad_location),
        cmocka_unit_test(test_compile_ts0003_7_1_3_refuses_bad_acod_and_acaf),
        cmocka_unit_test(test_compile_error_fits_small_buffer),
        cmocka_unit_test(test_id_ts0003_7_1_3_exact),
        cmocka_unit_test(test_id_ts0003_7_1_3_star_positions),
        cmocka_unit_test(test_id_ts0003_7_1_3_multiple_stars),
        cmocka_unit_test(test_id_ts0003_7_1_3_star_never_crosses_slash),
        cmocka_unit_test(test_id_ts0003_7_1_3_empty_segments),
        cmocka_unit_test(test_cron_epoch_helper),
        cmocka_unit_test(test_cron_ts0004_7_4_9_1_second_edges),
        cmocka_unit_test(test_cron_ts0004_7_4_9_1_ranges_inclusive),
        cmocka_unit_test(test_cron_ts0004_7_4_9_1_steps),
        cmocka_unit_test(test_cron_ts0004_7_4_9_1_lists),
        cmocka_unit_test(test_cron_ts0004_7_4_9_1_dow_sunday),
        cmocka_unit_test(test_cron_ts0004_7_4_9_1_day_of_month),
        cmocka_unit_test(test_cron_ts0004_7_4_9_1_months_and_years),
        cmocka_unit_test(test_cron_ts0004_7_4_9_1_full_year_range),
        cmocka_unit_test(test_cron_ts0004_7_4_9_1_invalid),
        cmocka_unit_test(test_cidr_ipv4),
        cmocka_unit_test(test_cidr_ipv6),
        cmocka_unit_test(test_cidr_ipv4_mapped_peers),
        cmocka_unit_test(test_cidr_family_mismatch_and_garbage),
        cmocka_unit_test(test_permits_ts0003_7_1_5_no_rules),
        cmocka_unit_test(test_permits_ts0003_7_1_5_acaf),
        cmocka_unit_test(test_permits_ts0003_7_1_5_originator),
        cmocka_unit_test(test_permits_ts0003_7_1_3_acor_wildcards),
        cmocka_unit_test(test_permits_ts0003_7_1_3_sp_domain),
        cmocka_unit_test(test_permits_ts0003_7_1_5_operation),
        cmocka_unit_test(test_permits_ts0003_7_1_5_context_time),
        cmocka_unit_test(test_permits_ts0003_7_1_5_context_ip),
        cmocka_unit_test(test_permits_ts0003_7_1_5_context_location),
        cmocka_unit_test(test_permits_ts0003_7_1_4_unknown_location_denies),
        cmocka_unit_test(test_permits_ts0003_annex_f_circle_radius_edge),
        cmocka_unit_test(test_permits_ts0003_7_1_5_object_details),
        cmocka_unit_test(test_permits_ts0003_7_1_4_specialization_denies_create),
        cmocka_unit_test(test_permits_ts0003_7_1_5_granting_rule_index),
        cmocka_unit_test(test_permits_ts0003_7_1_5_any_rule_grants),
        cmocka_unit_test(test_permits_ts0003_7_1_5_furthest_reason),
        cmocka_unit_test(test_permits_ts0003_7_1_5_contexts_any_elements_all),
        cmocka_unit_test(test_permits_ts0003_7_1_3_group_references),
        cmocka_unit_test(test_permits_ts0003_7_1_4_deterministic),
        cmocka_unit_test(test_cron_ts0004_7_4_9_1_extreme_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
