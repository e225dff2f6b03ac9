/* fuzz_acp: a setOfAcrs compiled by security/acp and requests decided several ways, checking decision invariants. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/id.h"
#include "encoding/json.h"
#include "security/acp.h"
#include "util/mem.h"

/* Input: <setOfAcrs JSON> NUL <request description>, the description being lines of
 *   0 originator (any form; canonicalised when it parses, else used as is)
 *   1 peer address ("" = unknown)
 *   2 operation: 0..5 picks an acop bit (other numbers wrap)
 *   3 rq_time in epoch seconds
 *   4 location "lat lon CC" ("" = unknown; "- - CC" = country only)
 *   5 "target_ty child_ty" (CREATE)
 *   6 a crontab, 7 a CIDR block, 8 an acor pattern (for the helpers)
 *   9 a group reference the resolver admits the originator through
 * Without a NUL the whole input is the JSON and the request is defaults. Every line also goes
 * through the crontab, CIDR and ID helpers. */

#define NLINES 10

static const struct id_env env = {.spid = "warden.example.com", .cse_id = "/id-in"};
static const enum acop ops[] = {ACOP_CREATE, ACOP_RETRIEVE, ACOP_UPDATE, ACOP_DELETE, ACOP_NOTIFY, ACOP_DISCOVERY};

/* The resolver admits orig through the reference named in line 9 only. */
static bool ref_admits(void *arg, const char *ref, const char *orig)
{
    const char *admitted = arg;
    return orig != NULL && admitted[0] != '\0' && strcmp(ref, admitted) == 0;
}

static bool known_reason(const char *r)
{
    static const char *const reasons[] = {"no-rules",
                                          "originator",
                                          "operation",
                                          "acaf",
                                          "context-time",
                                          "context-ip",
                                          "context-location",
                                          "object-details",
                                          "context-ip-unknown-peer"};
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (strcmp(r, reasons[i]) == 0)
            return true;
    return false;
}

/* One decision; the why it reports must be consistent with the answer, and asking again (with
 * or without why) must give the same answer. */
static bool decide(const struct acp_policy *p, const struct acp_request *rq)
{
    struct acp_why why = {.rule = -7, .reason = NULL};
    bool permit = acp_permits(p, rq, &why);
    if (why.reason == NULL)
        abort();
    if (permit) {
        if (strcmp(why.reason, "granted") != 0 || why.rule < 0 || why.rule >= acp_policy_rules(p))
            abort();
    } else {
        if (why.rule != -1 || !known_reason(why.reason))
            abort();
        if ((acp_policy_rules(p) == 0) != (strcmp(why.reason, "no-rules") == 0))
            abort();
    }
    struct acp_why again;
    if (acp_permits(p, rq, &again) != permit || again.rule != why.rule || strcmp(again.reason, why.reason) != 0)
        abort();
    if (acp_permits(p, rq, NULL) != permit)
        abort();
    return permit;
}

/* Evaluate rq and variants of it. Learning more about the request (authentication, peer,
 * location, group membership) may only add grants, never remove them. */
static void evaluate(const struct acp_policy *p, struct acp_request rq)
{
    for (size_t k = 0; k <= sizeof ops / sizeof ops[0]; k++) {
        struct acp_request r = rq;
        if (k < sizeof ops / sizeof ops[0])
            r.op = ops[k];
        bool base = decide(p, &r);

        struct acp_request v = r;
        v.authenticated = true;
        if (base && !decide(p, &v))
            abort();
        v = r;
        v.authenticated = false;
        if (decide(p, &v) && !base)
            abort();
        v = r;
        v.peer = NULL;
        if (decide(p, &v) && !base)
            abort();
        v = r;
        v.loc = NULL;
        if (decide(p, &v) && !base)
            abort();
        v = r;
        v.ref_admits = NULL;
        if (decide(p, &v) && !base)
            abort();
    }
}

static void helpers(const char *s, const struct acp_request *rq)
{
    if (acp_crontab_matches(s, rq->time) && !acp_crontab_valid(s))
        abort();
    if (rq->peer && acp_cidr_matches(s, rq->peer) && !acp_cidr_valid(s))
        abort();
    if (acp_cidr_matches(s, s) && !acp_cidr_valid(s))
        abort();
    bool self = acp_id_matches(s, s);
    if (strchr(s, '*') == NULL) {
        if (!self || acp_id_matches(s, rq->orig) != (strcmp(s, rq->orig) == 0))
            abort();
    } else {
        (void)acp_id_matches(s, rq->orig);
    }
}

static int64_t parse_i64(const char *s)
{
    return (int64_t)strtoll(s, NULL, 10);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);
    size_t json_len = nul ? (size_t)(nul - data) : size;

    /* the description, split into NUL-terminated lines */
    char *lines[NLINES];
    const char *d = nul ? (const char *)nul + 1 : "";
    size_t dlen = nul ? size - json_len - 1 : 0;
    for (int i = 0; i < NLINES; i++) {
        const char *nl = memchr(d, '\n', dlen);
        size_t n = nl ? (size_t)(nl - d) : dlen;
        lines[i] = mem_strndup(d, n);
        d += nl ? n + 1 : n;
        dlen -= nl ? n + 1 : n;
    }

    struct id orig_id;
    const char *orig = id_parse(&env, lines[0], &orig_id) ? orig_id.canon : lines[0];
    int op_index = (int)(parse_i64(lines[2]) % 6);
    struct acp_location loc = {.has_position = false, .lat = 0, .lon = 0, .country = ""};
    char *end = NULL;
    loc.lat = strtod(lines[4], &end);
    if (end != lines[4]) {
        char *end2 = NULL;
        loc.lon = strtod(end, &end2);
        loc.has_position = end2 != end;
        end = end2;
    } else {
        end = lines[4];
    }
    while (*end == ' ' || *end == '-')
        end++;
    if (strlen(end) == 2)
        memcpy(loc.country, end, 3);
    char *types_end = NULL;
    long target_ty = strtol(lines[5], &types_end, 10);
    long child_ty = strtol(types_end, NULL, 10);

    struct acp_request rq = {
        .orig = orig,
        .authenticated = (size & 1) != 0,
        .op = ops[op_index < 0 ? -op_index : op_index],
        .time = lines[3][0] ? parse_i64(lines[3]) : 1719748800,
        .peer = lines[1][0] ? lines[1] : NULL,
        .loc = lines[4][0] ? &loc : NULL,
        .target_ty = (int)(target_ty % 100000),
        .child_ty = (int)(child_ty % 100000),
        .ref_admits = ref_admits,
        .ref_arg = lines[9],
    };

    char err[256];
    json_t *v = json_len ? json_decode_body((const char *)data, json_len, err, sizeof err) : NULL;
    if (v != NULL) {
        err[0] = '\0';
        struct acp_policy *p = acp_compile(v, &env, err, sizeof err);
        if (p == NULL) {
            if (err[0] == '\0' || strlen(err) >= sizeof err)
                abort();
        } else {
            evaluate(p, rq);
            /* compiling again gives a policy that decides the same */
            struct acp_policy *q = acp_compile(v, &env, err, sizeof err);
            if (q == NULL || acp_policy_rules(q) != acp_policy_rules(p) || acp_permits(q, &rq, NULL) != decide(p, &rq))
                abort();
            acp_policy_free(q);
            acp_policy_free(p);
        }
        /* the rules' own strings through the helpers */
        const json_t *acr = json_object_get(v, "acr");
        size_t i;
        const json_t *rule;
        json_array_foreach(acr, i, rule)
        {
            const json_t *acor = json_object_get(rule, "acor");
            size_t k;
            const json_t *e;
            json_array_foreach(acor, k, e)
            {
                if (json_is_string(e))
                    helpers(json_string_value(e), &rq);
            }
        }
        json_decref(v);
    }
    if (acp_compile(NULL, &env, err, sizeof err) != NULL)
        abort();

    for (int i = 0; i < NLINES; i++)
        helpers(lines[i], &rq);
    (void)acp_id_matches(lines[8], orig);
    (void)acp_crontab_matches(lines[6], rq.time);
    if (rq.peer)
        (void)acp_cidr_matches(lines[7], rq.peer);

    for (int i = 0; i < NLINES; i++)
        mem_free(lines[i]);
    return 0;
}
