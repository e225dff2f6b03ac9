/* Unit tests for the audit log (security/audit.c): one JSON object per line with the fields the
 * contract names, never more than asked for, and a hash chain that survives a restart. */
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

static void test_lines_fields_and_chain(void **state)
{
    (void)state;
    char dir[] = "/tmp/warden-audit-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/log/audit.log", dir);
    char err[256];
    struct audit *a = audit_open(path, err, sizeof err);
    assert_non_null(a);
    record(a, "authn-ok", NULL);
    record(a, "deny", "from-not-bound");
    audit_close(a);
    a = audit_open(path, err, sizeof err); /* a restart continues the chain */
    assert_non_null(a);
    record(a, "authn-fail", "revoked-psk");
    audit_close(a);

    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 077, 0); /* owner-only */

    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[2048], prev[AUDIT_HASH_HEX + 1];
    memset(prev, '0', AUDIT_HASH_HEX);
    prev[AUDIT_HASH_HEX] = '\0';
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
        json_decref(o);
        audit_line_hash(line, strlen(line), prev);
        n++;
    }
    fclose(f);
    assert_int_equal(n, 3);
    unlink(path);
    snprintf(path, sizeof path, "%s/log", dir);
    rmdir(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_lines_fields_and_chain)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
