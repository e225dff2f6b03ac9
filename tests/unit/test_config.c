/* Unit tests for core/config: defaults, bounded keys, the INI file, the command line and the
 * cross-key checks (secure profile, CSE-ID form of TS-0001 7.2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"

struct fx {
    struct cse_config cfg;
    char err[512];
    char path[64];
    bool have_file;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    config_defaults(&f->cfg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    config_free(&f->cfg);
    if (f->have_file)
        unlink(f->path);
    free(f);
    return 0;
}

/* Write text to a fresh temporary file; its name goes to f->path. */
static const char *write_file(struct fx *f, const char *text)
{
    if (f->have_file)
        unlink(f->path);
    snprintf(f->path, sizeof f->path, "/tmp/warden-test-config-XXXXXX");
    int fd = mkstemp(f->path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    f->have_file = true;
    return f->path;
}

static void test_defaults(void **state)
{
    struct fx *f = *state;
    struct cse_config *c = &f->cfg;
    assert_string_equal(c->cse_id, "/id-in");
    assert_string_equal(c->cse_rn, "cse-in");
    assert_string_equal(c->cse_spid, "warden.example.com");
    assert_string_equal(c->cse_type, "IN");
    assert_string_equal(c->cse_profile, "dev");
    assert_string_equal(c->cse_admin, "CAdmin");
    assert_string_equal(c->store_sync, "normal");
    assert_string_equal(c->store_url, "");
    assert_string_equal(c->log_level, "info");
    assert_string_equal(c->audit_path, "");
    assert_string_equal(c->http_address, "127.0.0.1");
    assert_int_equal(c->http_port, 8080);
    assert_int_equal(c->http_threads, 0);
    assert_int_equal(c->http_timeout, 10);
    assert_int_equal(c->http_max_conns, 1024);
    assert_int_equal(c->http_max_conns_per_ip, 64);
    assert_int_equal(c->http_header_limit, 16384);
    assert_int_equal(c->limits_max_body, 1048576);
    assert_int_equal(c->cse_default_lifetime, 0); /* never, unless configured */
    assert_true(c->cse_max_lifetime > 0);
    /* the defaults form a valid configuration */
    assert_int_equal(config_validate(c, f->err, sizeof f->err), 0);
}

static void test_set_integer_bounds(void **state)
{
    struct fx *f = *state;
    struct cse_config *c = &f->cfg;
    assert_int_equal(config_set(c, "http.port", "0", f->err, sizeof f->err), 0);
    assert_int_equal(c->http_port, 0);
    assert_int_equal(config_set(c, "http.port", "65535", f->err, sizeof f->err), 0);
    assert_int_equal(c->http_port, 65535);

    const char *bad[] = {"65536", "-1", "", "80x", "x80", "8080 ", "1e3", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        f->err[0] = '\0';
        if (config_set(c, "http.port", bad[i], f->err, sizeof f->err) != -1)
            fail_msg("http.port='%s' accepted", bad[i]);
        assert_non_null(strstr(f->err, "http.port"));
        assert_int_equal(c->http_port, 65535); /* unchanged by a refused value */
    }
    assert_int_equal(config_set(c, "http.header_limit", "4095", f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "http.header_limit"));
    assert_int_equal(config_set(c, "http.header_limit", "4096", f->err, sizeof f->err), 0);
    assert_int_equal(config_set(c, "limits.max_body", "1023", f->err, sizeof f->err), -1);
    assert_int_equal(config_set(c, "http.timeout", "0", f->err, sizeof f->err), -1);
    assert_int_equal(c->http_timeout, 10);
}

static void test_set_choices(void **state)
{
    struct fx *f = *state;
    struct cse_config *c = &f->cfg;
    assert_int_equal(config_set(c, "cse.profile", "secure", f->err, sizeof f->err), 0);
    assert_string_equal(c->cse_profile, "secure");
    assert_int_equal(config_set(c, "cse.profile", "paranoid", f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "cse.profile"));
    assert_string_equal(c->cse_profile, "secure");

    assert_int_equal(config_set(c, "cse.type", "MN", f->err, sizeof f->err), 0);
    assert_string_equal(c->cse_type, "MN");
    /* choices are exact: no case folding, no prefixes, no empty value */
    assert_int_equal(config_set(c, "cse.type", "mn", f->err, sizeof f->err), -1);
    assert_int_equal(config_set(c, "cse.type", "M", f->err, sizeof f->err), -1);
    assert_int_equal(config_set(c, "cse.type", "MNX", f->err, sizeof f->err), -1);
    assert_int_equal(config_set(c, "cse.type", "", f->err, sizeof f->err), -1);
    assert_int_equal(config_set(c, "cse.type", "IN|MN", f->err, sizeof f->err), -1);
    assert_string_equal(c->cse_type, "MN");

    assert_int_equal(config_set(c, "store.sync", "full", f->err, sizeof f->err), 0);
    assert_int_equal(config_set(c, "log.level", "verbose", f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "log.level"));
    /* free-form strings take any value */
    assert_int_equal(config_set(c, "cse.rn", "my-cse", f->err, sizeof f->err), 0);
    assert_string_equal(c->cse_rn, "my-cse");
}

static void test_set_unknown_key(void **state)
{
    struct fx *f = *state;
    assert_int_equal(config_set(&f->cfg, "http.prot", "1", f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "http.prot"));
    assert_int_equal(config_set(&f->cfg, "port", "1", f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "port"));
    assert_int_equal(config_set(&f->cfg, "HTTP.PORT", "1", f->err, sizeof f->err), -1);
    assert_int_equal(config_set(&f->cfg, "", "1", f->err, sizeof f->err), -1);
    assert_int_equal(f->cfg.http_port, 8080);
}

static void test_load_file(void **state)
{
    struct fx *f = *state;
    const char *path = write_file(f, "# Warden test configuration\n"
                                     "; another comment style\n"
                                     "\n"
                                     "[cse]\n"
                                     "id = /id-mn\n"
                                     "rn = \"cse-mn\"\n"
                                     "   type=MN   \n"
                                     "\t# indented comment\n"
                                     "admin = \"CAdmin 2\"\n"
                                     "[ http ]\n"
                                     "port = 9090\n"
                                     "address = \"0.0.0.0\"\n"
                                     "[store]\n"
                                     "sync = full");
    assert_int_equal(config_load_file(&f->cfg, path, f->err, sizeof f->err), 0);
    assert_string_equal(f->cfg.cse_id, "/id-mn");
    assert_string_equal(f->cfg.cse_rn, "cse-mn");
    assert_string_equal(f->cfg.cse_type, "MN");
    assert_string_equal(f->cfg.cse_admin, "CAdmin 2");
    assert_int_equal(f->cfg.http_port, 9090);
    assert_string_equal(f->cfg.http_address, "0.0.0.0");
    assert_string_equal(f->cfg.store_sync, "full"); /* last line without newline */
    /* keys the file does not mention keep their defaults */
    assert_string_equal(f->cfg.cse_spid, "warden.example.com");
    assert_int_equal(f->cfg.http_timeout, 10);
}

/* Errors name the file, the line and the key. */
static void test_load_file_bad_value_line(void **state)
{
    struct fx *f = *state;
    const char *path = write_file(f, "[http]\n"
                                     "# a comment\n"
                                     "timeout = 5\n"
                                     "port = abc\n"
                                     "threads = 2\n");
    assert_int_equal(config_load_file(&f->cfg, path, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, path));
    assert_non_null(strstr(f->err, ":4:"));
    assert_non_null(strstr(f->err, "http.port"));
    assert_int_equal(f->cfg.http_threads, 0); /* lines after the error are not applied */
}

static void test_load_file_unknown_key_line(void **state)
{
    struct fx *f = *state;
    const char *path = write_file(f, "[cse]\nid = /id-in\n\n[htp]\nport = 1\n");
    assert_int_equal(config_load_file(&f->cfg, path, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, ":5:"));
    assert_non_null(strstr(f->err, "htp.port"));
}

static void test_load_file_structure_errors(void **state)
{
    struct fx *f = *state;
    const char *path = write_file(f, "port = 1\n"); /* outside any section */
    assert_int_equal(config_load_file(&f->cfg, path, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, ":1:"));

    path = write_file(f, "[http]\nport 8080\n"); /* no '=' */
    assert_int_equal(config_load_file(&f->cfg, path, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, ":2:"));

    path = write_file(f, "\n\n[http\nport = 1\n"); /* unclosed section header */
    assert_int_equal(config_load_file(&f->cfg, path, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, ":3:"));
    assert_int_equal(f->cfg.http_port, 8080);
}

static void test_load_missing_file(void **state)
{
    struct fx *f = *state;
    assert_int_equal(config_load_file(&f->cfg, "/nonexistent/warden.ini", f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "/nonexistent/warden.ini"));
}

/* --config is applied first wherever it appears; --section.key=value then apply in order. */
static void test_args_ordering(void **state)
{
    struct fx *f = *state;
    const char *path = write_file(f, "[http]\nport = 3333\naddress = 0.0.0.0\ntimeout = 7\n");
    char *argv[] = {"warden",           "--http.port=1111", "--config", (char *)path,
                    "--http.port=2222", "--http.timeout=9", NULL};
    assert_int_equal(config_from_args(&f->cfg, 6, argv, f->err, sizeof f->err), 0);
    assert_int_equal(f->cfg.http_port, 2222);            /* later --k=v wins over earlier and over the file */
    assert_string_equal(f->cfg.http_address, "0.0.0.0"); /* from the file */
    assert_int_equal(f->cfg.http_timeout, 9);
}

static void test_args_config_equals_form_applied_first(void **state)
{
    struct fx *f = *state;
    const char *path = write_file(f, "[http]\nport = 3333\n");
    char arg[96];
    snprintf(arg, sizeof arg, "--config=%s", path);
    char *argv[] = {"warden", "--http.port=1111", arg, NULL};
    assert_int_equal(config_from_args(&f->cfg, 3, argv, f->err, sizeof f->err), 0);
    assert_int_equal(f->cfg.http_port, 1111); /* the command line overrides the file even when the file comes later */
}

static void test_args_errors(void **state)
{
    struct fx *f = *state;
    char *a1[] = {"warden", "--http.port=99999", NULL};
    assert_int_equal(config_from_args(&f->cfg, 2, a1, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "http.port"));

    char *a2[] = {"warden", "--nosuch.key=1", NULL};
    assert_int_equal(config_from_args(&f->cfg, 2, a2, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "nosuch.key"));

    char *a3[] = {"warden", "http.port=1", NULL}; /* no "--" */
    assert_int_equal(config_from_args(&f->cfg, 2, a3, f->err, sizeof f->err), -1);

    char *a4[] = {"warden", "--http.port", NULL}; /* no value */
    assert_int_equal(config_from_args(&f->cfg, 2, a4, f->err, sizeof f->err), -1);

    char *a5[] = {"warden", "--config", NULL}; /* file name missing */
    assert_int_equal(config_from_args(&f->cfg, 2, a5, f->err, sizeof f->err), -1);

    char *a6[] = {"warden", "--config", "/nonexistent/warden.ini", NULL};
    assert_int_equal(config_from_args(&f->cfg, 3, a6, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "/nonexistent/warden.ini"));

    assert_int_equal(f->cfg.http_port, 8080);
}

static void test_args_value_with_equals(void **state)
{
    struct fx *f = *state;
    char *argv[] = {"warden", "--cse.admin=CAd=min", NULL};
    assert_int_equal(config_from_args(&f->cfg, 2, argv, f->err, sizeof f->err), 0);
    assert_string_equal(f->cfg.cse_admin, "CAd=min");
}

/* config.h: --help and --version are handled (return 1, caller exits 0). */
static void test_args_help_and_version(void **state)
{
    struct fx *f = *state;
    char *a1[] = {"warden", "--help", NULL};
    assert_int_equal(config_from_args(&f->cfg, 2, a1, f->err, sizeof f->err), 1);
    char *a2[] = {"warden", "--version", NULL};
    assert_int_equal(config_from_args(&f->cfg, 2, a2, f->err, sizeof f->err), 1);
}

/* PRODUCT profile rule: the secure profile serves plain HTTP on loopback only. */
static void test_validate_secure_profile(void **state)
{
    struct fx *f = *state;
    struct cse_config *c = &f->cfg;
    assert_int_equal(config_set(c, "cse.profile", "secure", f->err, sizeof f->err), 0);
    assert_int_equal(config_validate(c, f->err, sizeof f->err), 0); /* 127.0.0.1 */

    assert_int_equal(config_set(c, "http.address", "0.0.0.0", f->err, sizeof f->err), 0);
    assert_int_equal(config_validate(c, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "http.address"));

    assert_int_equal(config_set(c, "http.address", "192.168.1.10", f->err, sizeof f->err), 0);
    assert_int_equal(config_validate(c, f->err, sizeof f->err), -1);
    assert_int_equal(config_set(c, "http.address", "::", f->err, sizeof f->err), 0);
    assert_int_equal(config_validate(c, f->err, sizeof f->err), -1);

    const char *loop[] = {"127.0.0.1", "127.1.2.3", "::1", "localhost"};
    for (size_t i = 0; i < sizeof loop / sizeof loop[0]; i++) {
        assert_int_equal(config_set(c, "http.address", loop[i], f->err, sizeof f->err), 0);
        if (config_validate(c, f->err, sizeof f->err) != 0)
            fail_msg("secure profile refused loopback '%s': %s", loop[i], f->err);
    }

    /* with the plain listener off, the address does not matter */
    assert_int_equal(config_set(c, "http.address", "0.0.0.0", f->err, sizeof f->err), 0);
    assert_int_equal(config_set(c, "http.port", "0", f->err, sizeof f->err), 0);
    assert_int_equal(config_validate(c, f->err, sizeof f->err), 0);

    /* the dev profile allows any address */
    assert_int_equal(config_set(c, "http.port", "8080", f->err, sizeof f->err), 0);
    assert_int_equal(config_set(c, "cse.profile", "dev", f->err, sizeof f->err), 0);
    assert_int_equal(config_validate(c, f->err, sizeof f->err), 0);
}

static void test_loopback_predicate(void **state)
{
    (void)state;
    assert_true(config_address_is_loopback("127.0.0.1"));
    assert_true(config_address_is_loopback("::1"));
    assert_true(config_address_is_loopback("localhost"));
    assert_false(config_address_is_loopback("0.0.0.0"));
    assert_false(config_address_is_loopback("::"));
    assert_false(config_address_is_loopback("10.0.0.1"));
    assert_false(config_address_is_loopback("1.127.0.0"));
    assert_false(config_address_is_loopback("localhost.example.com"));
}

/* TS-0001 7.2: an SP-relative CSE-ID is "/" and one ID segment. */
static void test_validate_cse_id(void **state)
{
    struct fx *f = *state;
    const char *bad[] = {"id-in", "/", "", "//id-in", "/id in", "/id/in", "/id-in/", "/id%in"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(config_set(&f->cfg, "cse.id", bad[i], f->err, sizeof f->err), 0);
        f->err[0] = '\0';
        if (config_validate(&f->cfg, f->err, sizeof f->err) != -1)
            fail_msg("cse.id '%s' accepted", bad[i]);
        assert_non_null(strstr(f->err, "cse.id"));
    }
    assert_int_equal(config_set(&f->cfg, "cse.id", "/id-mn_2.x~", f->err, sizeof f->err), 0);
    assert_int_equal(config_validate(&f->cfg, f->err, sizeof f->err), 0);
}

static void test_validate_other_keys(void **state)
{
    struct fx *f = *state;
    struct cse_config *c = &f->cfg;
    assert_int_equal(config_set(c, "cse.rn", "cse/in", f->err, sizeof f->err), 0);
    assert_int_equal(config_validate(c, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "cse.rn"));
    assert_int_equal(config_set(c, "cse.rn", "cse-in", f->err, sizeof f->err), 0);

    assert_int_equal(config_set(c, "cse.spid", "", f->err, sizeof f->err), 0);
    assert_int_equal(config_validate(c, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "cse.spid"));
    assert_int_equal(config_set(c, "cse.spid", "m2m.example.org", f->err, sizeof f->err), 0);

    assert_int_equal(config_set(c, "cse.admin", "", f->err, sizeof f->err), 0);
    assert_int_equal(config_validate(c, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "cse.admin"));
    assert_int_equal(config_set(c, "cse.admin", "CAdmin", f->err, sizeof f->err), 0);

    assert_int_equal(config_set(c, "store.url", "postgres://x", f->err, sizeof f->err), 0);
    assert_int_equal(config_validate(c, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "store.url"));
    assert_int_equal(config_set(c, "store.url", "", f->err, sizeof f->err), 0);

    assert_int_equal(config_set(c, "store.path", "", f->err, sizeof f->err), 0);
    assert_int_equal(config_validate(c, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "store.path"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_defaults),
        T(test_set_integer_bounds),
        T(test_set_choices),
        T(test_set_unknown_key),
        T(test_load_file),
        T(test_load_file_bad_value_line),
        T(test_load_file_unknown_key_line),
        T(test_load_file_structure_errors),
        T(test_load_missing_file),
        T(test_args_ordering),
        T(test_args_config_equals_form_applied_first),
        T(test_args_errors),
        T(test_args_value_with_equals),
        T(test_args_help_and_version),
        T(test_validate_secure_profile),
        cmocka_unit_test(test_loopback_predicate),
        T(test_validate_cse_id),
        T(test_validate_other_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
