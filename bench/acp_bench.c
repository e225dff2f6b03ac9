/* warden-acp-bench: how long one accessControlPolicy decision takes (acp_permits, src/security/acp.h)
 * for a realistic policy of 10 rules in which only the LAST rule grants, so every rule is evaluated.
 *
 * The policy (also printed by --print-policy, which bench/run.sh uses for its HTTP ACP run, so both
 * measurements decide on the same rules) is the pv of an ACP on a container that a reader AE may
 * retrieve:
 *
 *   0  owner           acor [Cbench]                                 acop 63
 *   1  sensors         acor 4 exact AE-IDs (stems)                   acop 3   (CREATE|RETRIEVE)
 *   2  gateways        acor SP-relative + absolute AE-IDs            acop 1
 *   3  dashboards      acor wildcard Cdash*                          acop 34  (RETRIEVE|DISCOVERY)
 *   4  partner domain  acor //partner.example.org                    acop 2
 *   5  other CSEs      acor wildcards "/id-mn1/" + "*", "/id-mn2/C" + "*", a CSE-ID  acop 35
 *   6  any local AE    acor wildcard C*                              acop 1   + acod chty [4]
 *   7  office network  acor all, acco actw Mon-Fri 08-17 UTC + acip  acop 2   (10/8, 192.168/16, fd00::/8)
 *   8  operators       acor 2 AE-IDs, acaf true                      acop 63
 *   9  reader          acor [Creader]                                acop 34  <- grants
 *
 * Cases (RETRIEVE, peer 127.0.0.1, unauthenticated, rq_time Wed 2026-01-14 10:30:00 UTC = inside the
 * rule-7 window, so its time window is evaluated and passes and its IP block is evaluated and fails):
 *   granted  originator Creader:   rule 6 matches originator (C*) but not the operation, rule 7 goes
 *                                  through originator, operation, time window and IP block; rule 9 grants.
 *   denied   originator Cstranger: the same work for rules 0-8, then rule 9 fails on the originator;
 *                                  no rule grants (reason context-ip, the furthest any rule got).
 *
 * Timing: CLOCK_MONOTONIC around batches of decisions; the minimum over the batches is the figure least
 * disturbed by other load on the machine, the median is printed too.
 * Instruction counts: run under callgrind with --collect-atstart=no --toggle-collect=acp_permits and a
 * known --iterations, divide the total Ir by the iterations (bench/run.sh does that when valgrind is
 * installed); --no-timing skips the warm-up and the clock so that the count is of the decisions only.
 *
 * Usage: warden-acp-bench [--iterations N] [--batches B] [--case granted|denied|both] [--no-timing]
 *        warden-acp-bench --print-policy
 * Output: human lines plus one machine-readable line per case:
 *   ACP_RESULT case=granted rules=10 rule=9 reason=granted iterations=N batches=B ns_min=.. ns_median=..
 * Exit status: 0, or 1 when the policy does not compile or a decision is not the expected one. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/id.h"
#include "security/acp.h"

static const char POLICY[] = "{\"acr\":["
                             "{\"acor\":[\"Cbench\"],\"acop\":63},"
                             "{\"acor\":[\"Csensor01\",\"Csensor02\",\"Csensor03\",\"Csensor04\"],\"acop\":3},"
                             "{\"acor\":[\"/id-in/Cgateway\",\"//warden.example.com/id-in/Cgateway2\"],\"acop\":1},"
                             "{\"acor\":[\"Cdash*\"],\"acop\":34},"
                             "{\"acor\":[\"//partner.example.org\"],\"acop\":2},"
                             "{\"acor\":[\"/id-mn1/*\",\"/id-mn2/C*\",\"/id-mn3\"],\"acop\":35},"
                             "{\"acor\":[\"C*\"],\"acop\":1,\"acod\":[{\"chty\":[4]}]},"
                             "{\"acor\":[\"all\"],\"acop\":2,\"acco\":[{\"actw\":[\"* * 8-17 * * 1-5 *\"],"
                             "\"acip\":{\"ipv4\":[\"10.0.0.0/8\",\"192.168.0.0/16\"],\"ipv6\":[\"fd00::/8\"]}}]},"
                             "{\"acor\":[\"Cops1\",\"Cops2\"],\"acop\":63,\"acaf\":true},"
                             "{\"acor\":[\"Creader\"],\"acop\":34}"
                             "]}";

#define RULES         10
#define GRANTING_RULE 9
#define RQ_TIME       INT64_C(1768386600) /* Wednesday 2026-01-14 10:30:00 UTC */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static volatile unsigned long sink; /* keeps the decisions observable */

/* One case: check the decision once, then time it. Returns 0 when the decision is the expected one. */
static int run_case(const char *name, const struct acp_policy *pol, const struct id_env *env, const char *orig_raw,
                    bool expect, int expect_rule, long iterations, int batches, bool timing)
{
    struct id orig;
    if (!id_parse(env, orig_raw, &orig)) {
        fprintf(stderr, "warden-acp-bench: cannot parse originator %s\n", orig_raw);
        return 1;
    }
    struct acp_request rq = {
        .orig = orig.canon,
        .authenticated = false,
        .op = ACOP_RETRIEVE,
        .time = RQ_TIME,
        .peer = "127.0.0.1",
        .loc = NULL,
        .target_ty = 4,
        .child_ty = 0,
        .ref_admits = NULL,
        .ref_arg = NULL,
    };
    struct acp_why why;
    bool ok = acp_permits(pol, &rq, &why);
    if (ok != expect || why.rule != expect_rule) {
        fprintf(stderr, "warden-acp-bench: case %s: expected %s by rule %d, got %s by rule %d (%s)\n", name,
                expect ? "PERMIT" : "DENY", expect_rule, ok ? "PERMIT" : "DENY", why.rule, why.reason);
        return 1;
    }
    long per = iterations / batches;
    if (per < 1)
        per = 1;
    if (!timing) { /* for callgrind: exactly `iterations` decisions, nothing else */
        unsigned long granted = 0;
        for (long i = 0; i < iterations; i++)
            granted += acp_permits(pol, &rq, NULL);
        sink += granted;
        printf("ACP_RESULT case=%s rules=%d rule=%d reason=%s iterations=%ld\n", name, acp_policy_rules(pol), why.rule,
               why.reason, iterations);
        return 0;
    }
    /* warm-up: caches, branch predictors, CPU frequency */
    unsigned long granted = 0;
    for (long i = 0; i < per / 10 + 1000; i++)
        granted += acp_permits(pol, &rq, NULL);
    double *ns = calloc((size_t)batches, sizeof *ns);
    if (ns == NULL)
        return 1;
    for (int b = 0; b < batches; b++) {
        double t0 = now_ns();
        for (long i = 0; i < per; i++)
            granted += acp_permits(pol, &rq, NULL);
        ns[b] = (now_ns() - t0) / (double)per;
    }
    sink += granted;
    qsort(ns, (size_t)batches, sizeof *ns, cmp_double);
    double median = batches % 2 ? ns[batches / 2] : (ns[batches / 2 - 1] + ns[batches / 2]) / 2;
    char verdict[64];
    if (expect)
        snprintf(verdict, sizeof verdict, "PERMIT by rule %d of %d", why.rule + 1, acp_policy_rules(pol));
    else
        snprintf(verdict, sizeof verdict, "DENY (%s)", why.reason);
    printf("   %-8s %-22s %8.1f ns/decision (min of %d batches of %ld; median %.1f, max %.1f)\n", name, verdict, ns[0],
           batches, per, median, ns[batches - 1]);
    printf("ACP_RESULT case=%s rules=%d rule=%d reason=%s iterations=%ld batches=%d ns_min=%.1f ns_median=%.1f "
           "ns_max=%.1f\n",
           name, acp_policy_rules(pol), why.rule, why.reason, per * batches, batches, ns[0], median, ns[batches - 1]);
    free(ns);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: warden-acp-bench [--iterations N] [--batches B] [--case granted|denied|both] "
                    "[--no-timing]\n       warden-acp-bench --print-policy\n");
    exit(2);
}

int main(int argc, char **argv)
{
    long iterations = 5000000;
    int batches = 10;
    const char *which = "both";
    bool timing = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--print-policy") == 0) {
            printf("%s\n", POLICY);
            return 0;
        } else if (strcmp(a, "--iterations") == 0 && i + 1 < argc) {
            iterations = strtol(argv[++i], NULL, 10);
        } else if (strcmp(a, "--batches") == 0 && i + 1 < argc) {
            batches = atoi(argv[++i]);
        } else if (strcmp(a, "--case") == 0 && i + 1 < argc) {
            which = argv[++i];
        } else if (strcmp(a, "--no-timing") == 0) {
            timing = false;
        } else {
            usage();
        }
    }
    if (iterations < 1 || batches < 1 || batches > 1000 ||
        (strcmp(which, "both") != 0 && strcmp(which, "granted") != 0 && strcmp(which, "denied") != 0))
        usage();

    const struct id_env env = {.spid = "warden.example.com", .cse_id = "/id-in"}; /* Warden's defaults */
    json_error_t jerr;
    json_t *doc = json_loads(POLICY, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        fprintf(stderr, "warden-acp-bench: policy JSON: %s\n", jerr.text);
        return 1;
    }
    char err[256];
    struct acp_policy *pol = acp_compile(doc, &env, err, sizeof err);
    if (pol == NULL || acp_policy_rules(pol) != RULES) {
        fprintf(stderr, "warden-acp-bench: acp_compile: %s\n", pol ? "wrong number of rules" : err);
        return 1;
    }
    if (timing) {
        /* compile cost, for scale (Warden compiles a policy once and caches it) */
        int n = 2000;
        double t0 = now_ns();
        for (int i = 0; i < n; i++)
            acp_policy_free(acp_compile(doc, &env, err, sizeof err));
        double compile_ns = (now_ns() - t0) / n;
        printf("   policy of %d rules (granting rule last), acp_compile %.1f us; acp_permits:\n", RULES,
               compile_ns / 1000);
        printf("ACP_RESULT case=compile rules=%d iterations=%d ns_mean=%.1f\n", RULES, n, compile_ns);
    }
    int rc = 0;
    if (strcmp(which, "denied") != 0)
        rc |= run_case("granted", pol, &env, "Creader", true, GRANTING_RULE, iterations, batches, timing);
    if (strcmp(which, "granted") != 0)
        rc |= run_case("denied", pol, &env, "Cstranger", false, -1, iterations, batches, timing);
    acp_policy_free(pol);
    json_decref(doc);
    return rc;
}
