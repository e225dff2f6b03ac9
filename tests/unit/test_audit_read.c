/* Unit tests for security/audit_read: the audit log read back newest first from a bounded tail
 * (the console's audit page): order, the line still being written, the read window's partial first
 * line, and stopping early. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "security/audit_read.h"

struct seen {
    char lines[16][64];
    int n, stop_after;
};

static int collect(void *arg, const char *line, size_t len)
{
    struct seen *s = arg;
    snprintf(s->lines[s->n], sizeof s->lines[s->n], "%.*s", (int)len, line);
    s->n++;
    return s->stop_after && s->n == s->stop_after;
}

static void write_file(char *path, const char *text)
{
    strcpy(path, "/tmp/warden-audit-read-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void test_newest_first_without_the_line_being_written(void **state)
{
    (void)state;
    char path[64];
    write_file(path, "one\ntwo\nthree\npartial");
    struct seen s = {0};
    bool truncated = true;
    assert_int_equal(audit_read_newest(path, 1 << 20, collect, &s, &truncated), 0);
    assert_false(truncated);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.lines[0], "three");
    assert_string_equal(s.lines[2], "one");
    unlink(path);
}

static void test_bounded_window_drops_its_partial_first_line(void **state)
{
    (void)state;
    char path[64];
    write_file(path, "aaaaaaaa\nbbbb\ncccc\n");
    struct seen s = {0};
    bool truncated = false;
    /* the last 12 bytes are "a\nbbbb\ncccc\n": that "a" ends a line begun before the window */
    assert_int_equal(audit_read_newest(path, 12, collect, &s, &truncated), 0);
    assert_true(truncated);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.lines[0], "cccc");
    assert_string_equal(s.lines[1], "bbbb");
    unlink(path);
}

static void test_stops_when_told(void **state)
{
    (void)state;
    char path[64];
    write_file(path, "1\n2\n3\n4\n");
    struct seen s = {.stop_after = 2};
    bool truncated;
    assert_int_equal(audit_read_newest(path, 1 << 20, collect, &s, &truncated), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.lines[1], "3");
    unlink(path);
}

static void test_missing_file_and_empty_file(void **state)
{
    (void)state;
    struct seen s = {0};
    bool truncated;
    assert_int_equal(audit_read_newest("/nonexistent/warden-audit", 100, collect, &s, &truncated), -1);
    char path[64];
    write_file(path, "");
    assert_int_equal(audit_read_newest(path, 100, collect, &s, &truncated), 0);
    assert_int_equal(s.n, 0);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_newest_first_without_the_line_being_written),
        cmocka_unit_test(test_bounded_window_drops_its_partial_first_line),
        cmocka_unit_test(test_stops_when_told),
        cmocka_unit_test(test_missing_file_and_empty_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
