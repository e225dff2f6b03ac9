/* Unit tests for the audit log (security/audit.c): one JSON object per line with the fields the
 * contract names, never more than asked for, and a chain keyed with the store's audit key that
 * survives a restart and a reopen, and that nobody without the key can rewrite. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "security/audit.h"

static const unsigned char KEY[AUDIT_KEY_LEN] = "0123456789abcdef0123456789abcde";
static const unsigned char OTHER[AUDIT_KEY_LEN] = "an attacker's key, not the store";

struct env {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    snprintf(e->dir, sizeof e->dir, "/tmp/warden-audit-XXXXXX");
    if (mkdtemp(e->dir) == NULL)
        return -1;
    snprintf(e->path, sizeof e->path, "%s/log/audit.log", e->dir);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
    if (system(cmd) != 0)
        return -1;
    free(e);
    return 0;
}

static void record(struct audit *a, const char *event, const char *reason)
{
    struct audit_event ev = {.event = event,
                             .originator = "Cdev",
                             .peer = "127.0.0.1",
                             .binding = "https-psk",
                             .reason = reason,
                             .credential = "psk:dev@warden.example.com",
                             .rsc = strcmp(event, "deny") == 0 ? 4106 : 0};
    audit_record(a, &ev);
}

static void write_three(const char *path)
{
    char err[256];
    struct audit *a = audit_open(path, KEY, sizeof KEY, err, sizeof err);
    assert_non_null(a);
    record(a, "authn-ok", NULL);
    record(a, "deny", "from-not-bound");
    audit_close(a);
    a = audit_open(path, KEY, sizeof KEY, err, sizeof err); /* a restart continues the chain */
    assert_non_null(a);
    record(a, "authn-fail", "revoked-psk");
    audit_close(a);
}

static int verify(const char *path, const unsigned char *key, long *lines)
{
    char last[AUDIT_MAC_HEX + 1], msg[256];
    return audit_verify_file(path, key, AUDIT_KEY_LEN, lines, last, msg, sizeof msg);
}

static void test_lines_fields_and_chain(void **state)
{
    struct env *e = *state;
    write_three(e->path);
    struct stat st;
    assert_int_equal(stat(e->path, &st), 0);
    assert_int_equal(st.st_mode & 077, 0); /* owner-only */

    FILE *f = fopen(e->path, "r");
    assert_non_null(f);
    char line[2048], prev[AUDIT_MAC_HEX + 1];
    memset(prev, '0', AUDIT_MAC_HEX);
    prev[AUDIT_MAC_HEX] = '\0';
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        assert_non_null(o);
        assert_string_equal(json_string_value(json_object_get(o, "prev")), prev);
        assert_string_equal(json_string_value(json_object_get(o, "credential")), "psk:dev@warden.example.com");
        assert_non_null(json_object_get(o, "ts"));
        if (n == 1) {
            assert_int_equal(json_integer_value(json_object_get(o, "rsc")), 4106);
            assert_string_equal(json_string_value(json_object_get(o, "reason")), "from-not-bound");
        } else {
            assert_null(json_object_get(o, "rsc")); /* no status for an authentication event */
        }
        char mac[AUDIT_MAC_HEX + 1];
        assert_null(audit_line_check(KEY, sizeof KEY, line, strlen(line), prev, mac));
        assert_string_equal(json_string_value(json_object_get(o, "mac")), mac);
        assert_non_null(audit_line_check(OTHER, sizeof OTHER, line, strlen(line), prev, mac));
        memcpy(prev, mac, sizeof prev);
        json_decref(o);
        n++;
    }
    fclose(f);
    assert_int_equal(n, 3);
    long lines;
    assert_int_equal(verify(e->path, KEY, &lines), 0);
    assert_int_equal(lines, 3);
}

/* Finding 14: rewriting the log from a line on and recomputing the chain (as one could with the
 * old unkeyed hash) fails verification unless the key was used. */
static void test_finding_14_rewritten_chain_needs_the_key(void **state)
{
    struct env *e = *state;
    write_three(e->path);
    FILE *f = fopen(e->path, "r");
    char l[3][2048];
    for (int i = 0; i < 3; i++)
        assert_non_null(fgets(l[i], sizeof l[i], f));
    fclose(f);
    /* rewrite line 2 (another reason) and chain lines 2-3 again with a key that is not the store's */
    char prev[AUDIT_MAC_HEX + 1];
    const char *p = strstr(l[1], "\"prev\":\"") + 8;
    memcpy(prev, p, AUDIT_MAC_HEX);
    prev[AUDIT_MAC_HEX] = '\0';
    for (const unsigned char *key = OTHER;; key = KEY) {
        f = fopen(e->path, "w");
        fputs(l[0], f);
        char cur[AUDIT_MAC_HEX + 1];
        memcpy(cur, prev, sizeof cur);
        for (int i = 1; i < 3; i++) {
            char body[2048];
            snprintf(body, sizeof body, "%.*s", (int)(strstr(l[i], ",\"prev\":") - l[i]), l[i]);
            if (i == 1) {
                char *r = strstr(body, "from-not-bound");
                memcpy(r, "nothing-at-all", 14);
            }
            char signed_part[2200], mac[AUDIT_MAC_HEX + 1];
            snprintf(signed_part, sizeof signed_part, "%s,\"prev\":\"%s\"", body, cur);
            audit_mac(key, AUDIT_KEY_LEN, signed_part, strlen(signed_part), mac);
            fprintf(f, "%s,\"mac\":\"%s\"}\n", signed_part, mac);
            memcpy(cur, mac, sizeof cur);
        }
        fclose(f);
        long lines;
        if (key == OTHER) {
            assert_int_equal(verify(e->path, KEY, &lines), 1);
            assert_int_equal(lines, 2); /* the first rewritten line */
        } else {
            /* the holder of the key can: what the chain does not prove */
            assert_int_equal(verify(e->path, KEY, &lines), 0);
            break;
        }
    }
}

static void test_finding_14_removed_and_reordered_lines_fail(void **state)
{
    struct env *e = *state;
    write_three(e->path);
    FILE *f = fopen(e->path, "r");
    char l[3][2048];
    for (int i = 0; i < 3; i++)
        assert_non_null(fgets(l[i], sizeof l[i], f));
    fclose(f);
    long lines;
    f = fopen(e->path, "w");
    fprintf(f, "%s%s", l[0], l[2]); /* the middle line removed */
    fclose(f);
    assert_int_equal(verify(e->path, KEY, &lines), 1);
    assert_int_equal(lines, 2);
    f = fopen(e->path, "w");
    fprintf(f, "%s%s%s", l[1], l[0], l[2]); /* reordered */
    fclose(f);
    assert_int_equal(verify(e->path, KEY, &lines), 1);
    assert_int_equal(lines, 1);
    f = fopen(e->path, "w");
    fprintf(f, "%s%s", l[0], l[1]); /* cut at the end: not detectable from the file (documented) */
    fclose(f);
    assert_int_equal(verify(e->path, KEY, &lines), 0);
    assert_int_equal(lines, 2);
}

/* A reopen (logrotate: the file was moved away) starts a new file whose chain verifies on its own;
 * the moved file stays intact. */
static void test_reopen_after_rotation(void **state)
{
    struct env *e = *state;
    char err[256], moved[160];
    struct audit *a = audit_open(e->path, KEY, sizeof KEY, err, sizeof err);
    assert_non_null(a);
    record(a, "deny", "one");
    snprintf(moved, sizeof moved, "%s.1", e->path);
    assert_int_equal(rename(e->path, moved), 0);
    assert_int_equal(audit_reopen(a, err, sizeof err), 0);
    record(a, "deny", "two");
    record(a, "deny", "three");
    audit_close(a);
    long lines;
    assert_int_equal(verify(moved, KEY, &lines), 0);
    assert_int_equal(lines, 1);
    assert_int_equal(verify(e->path, KEY, &lines), 0);
    assert_int_equal(lines, 2);
}

/* A crash in the middle of a line: the torn line is reported, the lines after it are whole. */
static void test_torn_line_stays_apart(void **state)
{
    struct env *e = *state;
    write_three(e->path);
    FILE *f = fopen(e->path, "a");
    fputs("{\"ts\":\"2026", f);
    fclose(f);
    char err[256];
    struct audit *a = audit_open(e->path, KEY, sizeof KEY, err, sizeof err);
    assert_non_null(a);
    record(a, "deny", "after-crash");
    audit_close(a);
    long lines;
    assert_int_equal(verify(e->path, KEY, &lines), 1);
    assert_int_equal(lines, 4);
    f = fopen(e->path, "r");
    char line[2048];
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (++n == 5)
            assert_non_null(strstr(line, "after-crash"));
    fclose(f);
    assert_int_equal(n, 5);
}

/* Finding 16: an audit log others may read, or in a world-writable directory, is refused. */
static void test_finding_16_audit_file_open_to_others_refused(void **state)
{
    struct env *e = *state;
    write_three(e->path);
    assert_int_equal(chmod(e->path, 0644), 0);
    char err[256] = "";
    assert_null(audit_open(e->path, KEY, sizeof KEY, err, sizeof err));
    assert_non_null(strstr(err, "chmod 600"));
    assert_int_equal(chmod(e->path, 0600), 0);
    char dir[96];
    snprintf(dir, sizeof dir, "%s/log", e->dir);
    assert_int_equal(chmod(dir, 0777), 0);
    err[0] = '\0';
    assert_null(audit_open(e->path, KEY, sizeof KEY, err, sizeof err));
    assert_non_null(strstr(err, "world-writable"));
    assert_int_equal(chmod(dir, 0700), 0);
    struct audit *a = audit_open(e->path, KEY, sizeof KEY, err, sizeof err);
    assert_non_null(a);
    audit_close(a);
}

static int count_lines(const char *path, const char *needle, long *repeated_sum)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[2048];
    int n = 0;
    if (repeated_sum)
        *repeated_sum = 0;
    while (fgets(line, sizeof line, f)) {
        if (needle == NULL || strstr(line, needle))
            n++;
        const char *r = strstr(line, "\"repeated\":");
        if (repeated_sum && r && strstr(line, "\"event\":\"repeated\""))
            *repeated_sum += strtol(r + 11, NULL, 10);
    }
    fclose(f);
    return n;
}

static void deny_from(struct audit *a, const char *originator, const char *peer)
{
    struct audit_event ev = {.event = "deny",
                             .originator = originator,
                             .peer = peer,
                             .binding = "http",
                             .op = "retrieve",
                             .target = "cse-in",
                             .rsc = 4106,
                             .reason = "originator-unknown"};
    audit_record(a, &ev);
}

/* Finding 8: identical denials from one peer within the window are one line and one count; other
 * peers, other originators and successes are lines of their own; the chain stays intact. */
static void test_finding_8_identical_denials_aggregated(void **state)
{
    struct env *e = *state;
    char err[256];
    struct audit *a = audit_open(e->path, KEY, sizeof KEY, err, sizeof err);
    assert_non_null(a);
    audit_set_aggregation(a, 60000, 16, 0);
    for (int i = 0; i < 1000; i++)
        deny_from(a, "Cflood", "192.0.2.1");
    deny_from(a, "Cflood", "192.0.2.2"); /* another peer */
    deny_from(a, "Cother", "192.0.2.1"); /* another originator */
    record(a, "authn-ok", NULL);         /* successes are never aggregated */
    record(a, "authn-ok", NULL);
    assert_int_equal(count_lines(e->path, NULL, NULL), 5);
    audit_flush(a); /* the window ends: one "repeated" line for the run of 1000 */
    long sum;
    assert_int_equal(count_lines(e->path, "\"event\":\"repeated\"", &sum), 1);
    assert_int_equal(sum, 999);
    deny_from(a, "Cflood", "192.0.2.1"); /* a new window starts with a line again */
    audit_close(a);
    assert_int_equal(count_lines(e->path, NULL, NULL), 7);
    long lines;
    assert_int_equal(verify(e->path, KEY, &lines), 0);

    /* the summary names the line it counts (its mac), the peer and the reason */
    FILE *f = fopen(e->path, "r");
    char line[2048], first_mac[AUDIT_MAC_HEX + 1] = "";
    while (fgets(line, sizeof line, f)) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        assert_non_null(o);
        const char *ev = json_string_value(json_object_get(o, "event"));
        if (first_mac[0] == '\0' && strcmp(ev, "deny") == 0)
            snprintf(first_mac, sizeof first_mac, "%s", json_string_value(json_object_get(o, "mac")));
        if (strcmp(ev, "repeated") == 0) {
            assert_string_equal(json_string_value(json_object_get(o, "of")), first_mac);
            assert_string_equal(json_string_value(json_object_get(o, "peer")), "192.0.2.1");
            assert_string_equal(json_string_value(json_object_get(o, "reason")), "originator-unknown");
            assert_int_equal(json_integer_value(json_object_get(o, "repeated")), 999);
        }
        json_decref(o);
    }
    fclose(f);
}

/* Fixed memory: with 4 slots and 10 peers flooding in turn, runs end early (more lines), but every
 * event is either a line or counted in a "repeated" line. */
static void test_finding_8_bounded_slots_lose_no_count(void **state)
{
    struct env *e = *state;
    char err[256];
    struct audit *a = audit_open(e->path, KEY, sizeof KEY, err, sizeof err);
    assert_non_null(a);
    audit_set_aggregation(a, 60000, 4, 0);
    int total = 0;
    for (int round = 0; round < 50; round++)
        for (int p = 0; p < 10; p++) {
            char peer[32];
            snprintf(peer, sizeof peer, "198.51.100.%d", p);
            for (int k = 0; k < 3; k++, total++)
                deny_from(a, "Cflood", peer);
        }
    audit_close(a);
    long sum;
    int repeated_lines = count_lines(e->path, "\"event\":\"repeated\"", &sum);
    int deny_lines = count_lines(e->path, "\"event\":\"deny\"", NULL);
    assert_int_equal(deny_lines + sum, total);
    assert_true(repeated_lines <= deny_lines);
    long lines;
    assert_int_equal(verify(e->path, KEY, &lines), 0);
}

static long sum_field(const char *path, const char *event, const char *name)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[2048];
    long sum = 0;
    while (fgets(line, sizeof line, f)) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        assert_non_null(o);
        if (strcmp(json_string_value(json_object_get(o, "event")), event) == 0)
            sum += name ? (long)json_integer_value(json_object_get(o, name)) : 1;
        json_decref(o);
    }
    fclose(f);
    return sum;
}

/* Finding 8: varying the originator does not lift the bound: at most peer_lines denial lines per
 * peer and window, the rest counted in one "suppressed" line; other peers keep their own budget. */
static void test_finding_8_per_peer_line_budget(void **state)
{
    struct env *e = *state;
    char err[256];
    struct audit *a = audit_open(e->path, KEY, sizeof KEY, err, sizeof err);
    assert_non_null(a);
    audit_set_aggregation(a, 60000, 64, 10);
    for (int i = 0; i < 100; i++) {
        char o[32];
        snprintf(o, sizeof o, "Cvary%d", i);
        deny_from(a, o, "192.0.2.9");
    }
    for (int i = 0; i < 5; i++)
        deny_from(a, "Cvary3", "192.0.2.9"); /* identical to a written one: counted in its run */
    deny_from(a, "Cquiet", "192.0.2.10");    /* another peer */
    assert_int_equal(count_lines(e->path, NULL, NULL), 11);
    audit_close(a);
    assert_int_equal(sum_field(e->path, "deny", NULL), 11);
    assert_int_equal(sum_field(e->path, "suppressed", NULL), 1);
    assert_int_equal(sum_field(e->path, "suppressed", "suppressed"), 90);
    assert_int_equal(sum_field(e->path, "suppressed", "written"), 10);
    assert_int_equal(sum_field(e->path, "repeated", "repeated"), 5);
    long lines;
    assert_int_equal(verify(e->path, KEY, &lines), 0);
}

/* With few slots, per-peer and identical runs together still account for every denial. */
static void test_finding_8_every_denial_accounted(void **state)
{
    struct env *e = *state;
    char err[256];
    struct audit *a = audit_open(e->path, KEY, sizeof KEY, err, sizeof err);
    assert_non_null(a);
    audit_set_aggregation(a, 60000, 5, 3);
    int total = 0;
    for (int round = 0; round < 40; round++)
        for (int p = 0; p < 7; p++) {
            char peer[32], o[32];
            snprintf(peer, sizeof peer, "198.51.100.%d", p);
            snprintf(o, sizeof o, "C%d", round % 4);
            deny_from(a, o, peer);
            total++;
        }
    audit_close(a);
    long accounted = sum_field(e->path, "deny", NULL) + sum_field(e->path, "repeated", "repeated") +
                     sum_field(e->path, "suppressed", "suppressed");
    assert_int_equal(accounted, total);
    long lines;
    assert_int_equal(verify(e->path, KEY, &lines), 0);
}

/* A reopen of the same file (nothing rotated) with runs still counting: their lines go first, and
 * the chain goes on from them. */
static void test_reopen_same_file_with_runs_pending(void **state)
{
    struct env *e = *state;
    char err[256];
    struct audit *a = audit_open(e->path, KEY, sizeof KEY, err, sizeof err);
    assert_non_null(a);
    audit_set_aggregation(a, 60000, 8, 0);
    for (int i = 0; i < 10; i++)
        deny_from(a, "Crun", "192.0.2.1");
    assert_int_equal(audit_reopen(a, err, sizeof err), 0);
    deny_from(a, "Cafter", "192.0.2.1");
    audit_close(a);
    long lines;
    assert_int_equal(verify(e->path, KEY, &lines), 0);
    assert_int_equal(lines, 3);
    assert_int_equal(sum_field(e->path, "repeated", "repeated"), 9);
}

/* With window 0 (audit_open's default) every event is a line. */
static void test_aggregation_off_writes_every_line(void **state)
{
    struct env *e = *state;
    char err[256];
    struct audit *a = audit_open(e->path, KEY, sizeof KEY, err, sizeof err);
    assert_non_null(a);
    for (int i = 0; i < 5; i++)
        deny_from(a, "Cflood", "192.0.2.1");
    audit_close(a);
    assert_int_equal(count_lines(e->path, NULL, NULL), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lines_fields_and_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finding_14_rewritten_chain_needs_the_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finding_14_removed_and_reordered_lines_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_after_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_line_stays_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finding_16_audit_file_open_to_others_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finding_8_identical_denials_aggregated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finding_8_bounded_slots_lose_no_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aggregation_off_writes_every_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finding_8_per_peer_line_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finding_8_every_denial_accounted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_same_file_with_runs_pending, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
