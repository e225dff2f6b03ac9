/* Unit tests for bindings/http/http_request: the TS-0009 request mapping (method 6.2.1, path
 * 6.2.2.1, query 6.2.2.2, Content-Type 6.4.3, X-M2M-* headers 6.4.x) and the status code table
 * (TS-0009 6.3.2, Table 6.3.2-1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bindings/http/http_request.h"
#include "core/rsc.h"

struct hx {
    struct http_kv headers[8];
    size_t nh;
    struct http_kv args[40];
    size_t na;
    const char *method;
    const char *url;
    const char *body;
    size_t body_len;
    struct http_raw raw;
    struct cse_request req;
    struct http_scratch scratch;
    struct cse_response rsp;
};

static int setup(void **state)
{
    struct hx *h = calloc(1, sizeof *h);
    if (h == NULL)
        return -1;
    *state = h;
    return 0;
}

static int teardown(void **state)
{
    struct hx *h = *state;
    http_scratch_free(&h->scratch);
    response_free(&h->rsp);
    free(h);
    return 0;
}

static void hdr(struct hx *h, const char *k, const char *v)
{
    assert_true(h->nh < sizeof h->headers / sizeof h->headers[0]);
    h->headers[h->nh++] = (struct http_kv){.key = k, .value = v};
}

static void arg(struct hx *h, const char *k, const char *v)
{
    assert_true(h->na < sizeof h->args / sizeof h->args[0]);
    h->args[h->na++] = (struct http_kv){.key = k, .value = v};
}

/* Start a new request: frees what the previous conversion left, keeps nothing. */
static void start(struct hx *h, const char *method, const char *url, const char *ctype)
{
    http_scratch_free(&h->scratch);
    response_free(&h->rsp);
    memset(h, 0, sizeof *h);
    h->method = method;
    h->url = url;
    hdr(h, "X-M2M-Origin", "Cabc");
    hdr(h, "X-M2M-RI", "rq-1");
    if (ctype)
        hdr(h, "Content-Type", ctype);
    if (method && (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)) {
        h->body = "{\"m2m:cnt\":{}}";
        h->body_len = strlen(h->body);
    }
}

static int run(struct hx *h)
{
    h->raw = (struct http_raw){
        .method = h->method,
        .url = h->url,
        .headers = h->headers,
        .nheaders = h->nh,
        .args = h->args,
        .nargs = h->na,
        .body = h->body,
        .body_len = h->body_len,
    };
    response_init(&h->rsp);
    int rc = http_to_primitive(&h->raw, &h->req, &h->scratch, &h->rsp);
    if (rc != 0) {
        /* an error is also in the response, with a message */
        assert_int_equal(h->rsp.rsc, rc);
        assert_non_null(h->rsp.message);
    }
    return rc;
}

/* ---- finding 13: NUL bytes, repeated headers, framing (RFC 9110 §5.5, RFC 9112 §6.1, §6.3) ---- */

static void test_finding_13_nul_in_header_value_is_4000(void **state)
{
    struct hx *h = *state;
    start(h, "GET", "/cse-in", NULL);
    h->headers[0] = (struct http_kv){.key = "X-M2M-Origin", .value = "CAdmin", .value_len = 11}; /* "CAdmin\0junk" */
    assert_int_equal(run(h), RSC_BAD_REQUEST);
    start(h, "GET", "/cse-in", NULL);
    h->headers[0] = (struct http_kv){.key = "X-M2M-Origin", .value = "CAdmin", .value_len = 6};
    assert_int_equal(run(h), 0);
    assert_string_equal(h->req.fr, "CAdmin");
}

static void test_finding_13_repeated_onem2m_header_is_4000(void **state)
{
    struct hx *h = *state;
    static const char *const names[] = {"X-M2M-Origin",  "x-m2m-ri",       "X-M2M-RVI", "Content-Type",
                                        "Authorization", "Content-Length", "Host"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        start(h, "POST", "/cse-in", "application/json;ty=3");
        hdr(h, names[i], "1");
        hdr(h, names[i], "2");
        assert_int_equal(run(h), RSC_BAD_REQUEST);
    }
    start(h, "GET", "/cse-in", NULL); /* list-valued headers may repeat (RFC 9110 §5.3) */
    hdr(h, "Accept", "application/json");
    hdr(h, "Accept", "application/cbor;q=0.5");
    assert_int_equal(run(h), 0);
}

static void test_finding_13_transfer_encoding_framing_is_4000(void **state)
{
    struct hx *h = *state;
    start(h, "POST", "/cse-in", "application/json;ty=3");
    hdr(h, "Transfer-Encoding", "chunked");
    hdr(h, "Content-Length", "5");
    assert_int_equal(run(h), RSC_BAD_REQUEST);
    start(h, "POST", "/cse-in", "application/json;ty=3");
    hdr(h, "Transfer-Encoding", "gzip, chunked");
    assert_int_equal(run(h), RSC_BAD_REQUEST);
    start(h, "POST", "/cse-in", "application/json;ty=3");
    hdr(h, "Transfer-Encoding", " Chunked ");
    assert_int_equal(run(h), 0);
}

static void test_finding_13_target_nul_or_too_many_params_is_4000(void **state)
{
    struct hx *h = *state;
    response_init(&h->rsp);
    assert_int_equal(http_check_target("/cse-in%00junk", &h->rsp), RSC_BAD_REQUEST);
    response_free(&h->rsp);
    assert_int_equal(http_check_target("/cse-in?rcn=1%00", &h->rsp), RSC_BAD_REQUEST);
    response_free(&h->rsp);
    assert_int_equal(http_check_target("/cse-in?rcn=1%20&lbl=%0a", &h->rsp), 0);
    char q[1024] = "/cse-in?";
    for (int i = 0; i < LIMIT_QUERY_PARAMS; i++)
        strcat(q, i ? "&a=1" : "a=1");
    assert_int_equal(http_check_target(q, &h->rsp), 0);
    strcat(q, "&a=1");
    assert_int_equal(http_check_target(q, &h->rsp), RSC_BAD_REQUEST);
    response_free(&h->rsp);
}

/* Finding 9: connections count against an IPv4 address, or an IPv6 /64 (RFC 6177); an
 * IPv4-mapped IPv6 address is its IPv4 address (RFC 4291 §2.5.5.2). */
static void test_finding_9_peer_key_ipv6_per_64(void **state)
{
    (void)state;
    unsigned char a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5};
    unsigned char b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0xde, 0xad, 0, 0, 0, 0, 0, 9};
    unsigned char other[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 5};
    unsigned char mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7};
    unsigned char v4[4] = {192, 0, 2, 7};
    unsigned char ka[HTTP_PEER_KEY_MAX], kb[HTTP_PEER_KEY_MAX], kc[HTTP_PEER_KEY_MAX];
    assert_int_equal(http_peer_key(6, a, ka), 8);
    assert_int_equal(http_peer_key(6, b, kb), 8);
    assert_memory_equal(ka, kb, 8); /* one /64: one peer */
    assert_int_equal(http_peer_key(6, other, kc), 8);
    assert_memory_not_equal(ka, kc, 8);
    assert_int_equal(http_peer_key(6, mapped, ka), 4);
    assert_int_equal(http_peer_key(4, v4, kb), 4);
    assert_memory_equal(ka, kb, 4);
    assert_int_equal(http_peer_key(5, v4, ka), 0);
}

/* ---- method (TS-0009 6.2.1) ------------------------------------------------------------------ */

static void test_post_with_ty_is_create(void **state)
{
    struct hx *h = *state;
    start(h, "POST", "/cse-in", "application/json;ty=2");
    assert_int_equal(run(h), 0);
    assert_int_equal(h->req.op, OP_CREATE);
    assert_int_equal(h->req.ty, 2);
    assert_int_equal(h->req.media, MEDIA_JSON);
    assert_ptr_equal(h->req.body, h->body);
    assert_int_equal(h->req.body_len, h->body_len);
}

static void test_post_without_ty_is_notify(void **state)
{
    struct hx *h = *state;
    start(h, "POST", "/cse-in/Cabc", "application/json");
    assert_int_equal(run(h), 0);
    assert_int_equal(h->req.op, OP_NOTIFY);
    assert_int_equal(h->req.ty, 0);
    start(h, "POST", "/cse-in/Cabc", "application/vnd.onem2m-ntfy+json");
    assert_int_equal(run(h), 0);
    assert_int_equal(h->req.op, OP_NOTIFY);
}

static void test_put_is_update_without_ty(void **state)
{
    struct hx *h = *state;
    start(h, "PUT", "/cse-in/cnt", "application/json");
    assert_int_equal(run(h), 0);
    assert_int_equal(h->req.op, OP_UPDATE);
    assert_int_equal(h->req.ty, 0);
    /* Resource Type is a CREATE parameter only: a ty on PUT does not leak into the primitive */
    start(h, "PUT", "/cse-in/cnt", "application/json;ty=3");
    assert_int_equal(run(h), 0);
    assert_int_equal(h->req.op, OP_UPDATE);
    assert_int_equal(h->req.ty, 0);
}

static void test_get_and_delete(void **state)
{
    struct hx *h = *state;
    start(h, "GET", "/cse-in", NULL);
    assert_int_equal(run(h), 0);
    assert_int_equal(h->req.op, OP_RETRIEVE);
    assert_int_equal(h->req.ty, 0);
    start(h, "DELETE", "/cse-in/x", NULL);
    assert_int_equal(run(h), 0);
    assert_int_equal(h->req.op, OP_DELETE);
    /* a Content-Type on GET is not required and not checked */
    start(h, "GET", "/cse-in", "application/xml");
    assert_int_equal(run(h), 0);
}

static void test_other_methods_refused(void **state)
{
    struct hx *h = *state;
    const char *methods[] = {"PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT", "get", "Post", ""};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        start(h, methods[i], "/cse-in", "application/json;ty=3");
        if (run(h) != RSC_OPERATION_NOT_ALLOWED)
            fail_msg("method '%s' gave %d", methods[i], h->rsp.rsc);
    }
    start(h, NULL, "/cse-in", NULL);
    assert_int_equal(run(h), RSC_OPERATION_NOT_ALLOWED);
}

/* ---- Content-Type (TS-0009 6.4.3) ------------------------------------------------------------ */

static void test_content_type_variants(void **state)
{
    struct hx *h = *state;
    const struct {
        const char *ct;
        int ty;
    } ok[] = {
        {"application/json;ty=2", 2},
        {"application/vnd.onem2m-res+json; ty=3", 3},
        {"application/vnd.onem2m-res+json;ty=4", 4},
        {"application/json ; ty=2", 2},
        {"application/json;  ty=5  ", 5},
        {"application/json; charset=utf-8; ty=3", 3},
        {"application/json;ty=3; charset=utf-8", 3},
        {"Application/JSON; TY=2", 2}, /* media types and parameter names are case-insensitive */
        {"application/json;ty=65535", 65535},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        start(h, "POST", "/cse-in", ok[i].ct);
        if (run(h) != 0)
            fail_msg("Content-Type '%s' refused with %d", ok[i].ct, h->rsp.rsc);
        assert_int_equal(h->req.op, OP_CREATE);
        assert_int_equal(h->req.ty, ok[i].ty);
        assert_int_equal(h->req.media, MEDIA_JSON);
    }
}

static void test_content_type_unsupported_media(void **state)
{
    struct hx *h = *state;
    const char *bad[] = {"application/xml; ty=3",
                         "application/vnd.onem2m-res+xml;ty=3",
                         "application/vnd.onem2m-res+cborx; ty=3",
                         "text/plain",
                         "application/jsonx",
                         "application/jso",
                         "",
                         "json",
                         ";ty=3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        start(h, "POST", "/cse-in", bad[i]);
        if (run(h) != RSC_UNSUPPORTED_MEDIA_TYPE)
            fail_msg("Content-Type '%s' gave %d, want 4015", bad[i], h->rsp.rsc);
    }
}

static void test_content_type_missing(void **state)
{
    struct hx *h = *state;
    start(h, "POST", "/cse-in", NULL);
    assert_int_equal(run(h), RSC_UNSUPPORTED_MEDIA_TYPE);
    start(h, "PUT", "/cse-in/x", NULL);
    assert_int_equal(run(h), RSC_UNSUPPORTED_MEDIA_TYPE);
}

static void test_content_type_bad_ty(void **state)
{
    struct hx *h = *state;
    const char *bad[] = {"application/json;ty=abc",         "application/json;ty=",    "application/json;ty=0",
                         "application/json;ty=-1",          "application/json;ty=2x",  "application/json;ty=65536",
                         "application/json;ty=99999999999", "application/json;ty= 2 3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        start(h, "POST", "/cse-in", bad[i]);
        if (run(h) != RSC_BAD_REQUEST)
            fail_msg("Content-Type '%s' gave %d, want 4000", bad[i], h->rsp.rsc);
    }
}

/* ---- path (TS-0009 6.2.2.1, Table 6.2.2.1-1) ------------------------------------------------- */

static void test_paths(void **state)
{
    struct hx *h = *state;
    const struct {
        const char *url, *to;
    } cases[] = {
        {"/cse-in/x", "cse-in/x"},            /* CSE-relative */
        {"/cin00856", "cin00856"},            /* unstructured CSE-relative */
        {"/~/id-in/cse-in", "/id-in/cse-in"}, /* SP-relative */
        {"/~/id-in/cin00856", "/id-in/cin00856"},
        {"/_/sp/id-in/x", "//sp/id-in/x"}, /* absolute */
        {"/_/m2m.example.org/id-in/cse-in/a", "//m2m.example.org/id-in/cse-in/a"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        start(h, "GET", cases[i].url, NULL);
        assert_int_equal(run(h), 0);
        assert_string_equal(h->req.to, cases[i].to);
    }
}

static void test_bad_paths(void **state)
{
    struct hx *h = *state;
    const char *bad[] = {"/", "", "cse-in", "~/id-in"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        start(h, "GET", bad[i], NULL);
        if (run(h) != RSC_BAD_REQUEST)
            fail_msg("path '%s' gave %d, want 4000", bad[i], h->rsp.rsc);
    }
    start(h, "GET", NULL, NULL);
    assert_int_equal(run(h), RSC_BAD_REQUEST);

    /* longer than any target address: refused, not truncated (ASan checks the copy) */
    size_t n = LIMIT_ID_LEN * 3;
    char *url = malloc(n + 1);
    assert_non_null(url);
    memset(url, 'a', n);
    url[0] = '/';
    url[n] = '\0';
    start(h, "GET", url, NULL);
    assert_int_equal(run(h), RSC_BAD_REQUEST);
    http_scratch_free(&h->scratch);
    free(url);
}

/* ---- headers (TS-0009 6.4.7, 6.4.8, 6.4.22) -------------------------------------------------- */

static void test_headers_mapped(void **state)
{
    struct hx *h = *state;
    start(h, "GET", "/cse-in", NULL);
    hdr(h, "X-M2M-RVI", "3");
    assert_int_equal(run(h), 0);
    assert_string_equal(h->req.fr, "Cabc");
    assert_string_equal(h->req.rqi, "rq-1");
    assert_string_equal(h->req.rvi, "3");
}

static void test_headers_case_insensitive(void **state)
{
    struct hx *h = *state;
    start(h, "POST", "/cse-in", NULL);
    h->nh = 0;
    hdr(h, "x-m2m-origin", "Cxyz");
    hdr(h, "X-M2M-ri", "rq-2");
    hdr(h, "x-M2M-Rvi", "4");
    hdr(h, "content-TYPE", "application/json;ty=3");
    assert_int_equal(run(h), 0);
    assert_string_equal(h->req.fr, "Cxyz");
    assert_string_equal(h->req.rqi, "rq-2");
    assert_string_equal(h->req.rvi, "4");
    assert_int_equal(h->req.op, OP_CREATE);
    assert_int_equal(h->req.ty, 3);
    assert_string_equal(http_header(&h->raw, "X-M2M-ORIGIN"), "Cxyz");
}

static void test_headers_absent(void **state)
{
    struct hx *h = *state;
    start(h, "GET", "/cse-in", NULL);
    h->nh = 0;
    assert_int_equal(run(h), 0); /* the core, not the binding, decides what is missing */
    assert_null(h->req.fr);
    assert_null(h->req.rqi);
    assert_null(h->req.rvi);
    assert_null(http_header(&h->raw, "X-M2M-Origin"));
}

/* ---- query (TS-0009 6.2.2.2, Table 6.2.2.2-1) ------------------------------------------------ */

static void test_query_defaults(void **state)
{
    struct hx *h = *state;
    start(h, "GET", "/cse-in", NULL);
    assert_int_equal(run(h), 0);
    assert_int_equal(h->req.rcn, -1);
    assert_int_equal(h->req.drt, 1);
    assert_int_equal(h->req.fc.fu, 0);
    assert_int_equal(h->req.fc.nty, 0);
    assert_int_equal(h->req.fc.nlbl, 0);
    assert_int_equal(h->req.fc.lim, -1);
    assert_int_equal(h->req.fc.lvl, -1);
    assert_int_equal(h->req.fc.ofst, 0);
}

/* Run a GET with one query argument; returns the result code. */
static int query1(struct hx *h, const char *k, const char *v)
{
    start(h, "GET", "/cse-in", NULL);
    arg(h, k, v);
    return run(h);
}

static void test_query_rcn_drt_fu(void **state)
{
    struct hx *h = *state;
    assert_int_equal(query1(h, "rcn", "4"), 0);
    assert_int_equal(h->req.rcn, 4);
    assert_int_equal(query1(h, "rcn", "0"), 0);
    assert_int_equal(h->req.rcn, 0);
    const char *bad_rcn[] = {"13", "-1", "abc", "", "4.0", "1 "};
    for (size_t i = 0; i < sizeof bad_rcn / sizeof bad_rcn[0]; i++)
        if (query1(h, "rcn", bad_rcn[i]) != RSC_BAD_REQUEST)
            fail_msg("rcn='%s' gave %d", bad_rcn[i], h->rsp.rsc);
    assert_int_equal(query1(h, "rcn", NULL), RSC_BAD_REQUEST);

    assert_int_equal(query1(h, "drt", "2"), 0);
    assert_int_equal(h->req.drt, 2);
    assert_int_equal(query1(h, "drt", "3"), RSC_BAD_REQUEST);
    assert_int_equal(query1(h, "drt", "0"), RSC_BAD_REQUEST);

    assert_int_equal(query1(h, "fu", "1"), 0);
    assert_int_equal(h->req.fc.fu, 1);
    assert_int_equal(query1(h, "fu", "2"), 0);
    assert_int_equal(h->req.fc.fu, 2);
    assert_int_equal(query1(h, "fu", "0"), RSC_BAD_REQUEST);
    assert_int_equal(query1(h, "fu", "4"), RSC_BAD_REQUEST);
}

static void test_query_ty_list(void **state)
{
    struct hx *h = *state;
    start(h, "GET", "/cse-in", NULL);
    arg(h, "ty", "2+3"); /* '+' as it arrives undecoded */
    arg(h, "ty", "4 5"); /* ' ' is a decoded '+' */
    arg(h, "ty", "16");  /* repeated key (multiplicity 0..n) */
    assert_int_equal(run(h), 0);
    assert_int_equal(h->req.fc.nty, 5);
    const int want[] = {2, 3, 4, 5, 16};
    for (int i = 0; i < 5; i++)
        assert_int_equal(h->req.fc.ty[i], want[i]);

    assert_int_equal(query1(h, "ty", "abc"), RSC_BAD_REQUEST);
    assert_int_equal(query1(h, "ty", "0"), RSC_BAD_REQUEST);
    assert_int_equal(query1(h, "ty", "2+x"), RSC_BAD_REQUEST);
    assert_int_equal(query1(h, "ty", ""), RSC_BAD_REQUEST);
    assert_int_equal(query1(h, "ty", NULL), RSC_BAD_REQUEST);

    /* FC_MAX_TY values fit; one more is refused rather than silently dropped */
    char list[128] = "";
    for (int i = 1; i <= FC_MAX_TY; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d", i > 1 ? "+" : "", i);
    assert_int_equal(query1(h, "ty", list), 0);
    assert_int_equal(h->req.fc.nty, FC_MAX_TY);
    snprintf(list + strlen(list), sizeof list - strlen(list), "+%d", FC_MAX_TY + 1);
    assert_int_equal(query1(h, "ty", list), RSC_BAD_REQUEST);
}

static void test_query_lbl(void **state)
{
    struct hx *h = *state;
    start(h, "GET", "/cse-in", NULL);
    arg(h, "lbl", "a+b");
    arg(h, "lbl", "key/value");
    assert_int_equal(run(h), 0);
    assert_int_equal(h->req.fc.nlbl, 3);
    assert_string_equal(h->req.fc.lbl[0], "a");
    assert_string_equal(h->req.fc.lbl[1], "b");
    assert_string_equal(h->req.fc.lbl[2], "key/value");

    /* too many labels: refused, and the copies made so far are released (ASan) */
    start(h, "GET", "/cse-in", NULL);
    for (int i = 0; i <= FC_MAX_LBL; i++)
        arg(h, "lbl", "x");
    assert_int_equal(run(h), RSC_BAD_REQUEST);
}

static void test_query_lim_lvl_ofst_bounds(void **state)
{
    struct hx *h = *state;
    assert_int_equal(query1(h, "lim", "0"), 0);
    assert_int_equal(h->req.fc.lim, 0);
    assert_int_equal(query1(h, "lim", "1000000000"), 0);
    assert_int_equal(h->req.fc.lim, 1000000000);
    assert_int_equal(query1(h, "lim", "1000000001"), RSC_BAD_REQUEST);
    assert_int_equal(query1(h, "lim", "-1"), RSC_BAD_REQUEST);
    assert_int_equal(query1(h, "lim", "99999999999999999999"), RSC_BAD_REQUEST);

    assert_int_equal(query1(h, "lvl", "1"), 0);
    assert_int_equal(h->req.fc.lvl, 1);
    assert_int_equal(query1(h, "lvl", "0"), RSC_BAD_REQUEST);
    assert_int_equal(query1(h, "lvl", "x"), RSC_BAD_REQUEST);

    assert_int_equal(query1(h, "ofst", "0"), 0);
    assert_int_equal(query1(h, "ofst", "25"), 0);
    assert_int_equal(h->req.fc.ofst, 25);
    assert_int_equal(query1(h, "ofst", "-1"), RSC_BAD_REQUEST);
    assert_int_equal(query1(h, "ofst", ""), RSC_BAD_REQUEST);
}

static void test_query_unknown_refused(void **state)
{
    struct hx *h = *state;
    assert_int_equal(query1(h, "foo", "1"), RSC_BAD_REQUEST);
    assert_non_null(strstr(h->rsp.message, "foo"));
    assert_int_equal(query1(h, "RCN", "1"), RSC_BAD_REQUEST); /* field names are case-sensitive */
    assert_int_equal(query1(h, "", "1"), RSC_BAD_REQUEST);
}

/* Filter conditions Warden cannot evaluate are refused (5001), never ignored. */
static void test_query_unsupported_filters(void **state)
{
    struct hx *h = *state;
    const char *keys[] = {"smf", "cfs", "cfq", "catr", "clbl", "chty", "lbq"}; /* atrl: evaluated since item 6 */
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (query1(h, keys[i], "20240101T000000") != RSC_NOT_IMPLEMENTED)
            fail_msg("query '%s' gave %d, want 5001", keys[i], h->rsp.rsc);
    assert_int_equal(query1(h, "fu", "3"), RSC_NOT_IMPLEMENTED);
}

/* TS-0004 6.3.5.8 filter criteria: timestamps validated, numbers bounded, fo 1 or 2, and any other
 * attribute short name is an attribute filter (TS-0009 6.2.2.2). */
static void test_query_filter_criteria(void **state)
{
    struct hx *h = *state;
    const char *ts_keys[] = {"cra", "crb", "ms", "us", "exa", "exb"};
    for (size_t i = 0; i < sizeof ts_keys / sizeof ts_keys[0]; i++) {
        if (query1(h, ts_keys[i], "20240101T000000") != 0)
            fail_msg("query '%s' with a timestamp gave %d", ts_keys[i], h->rsp.rsc);
        if (query1(h, ts_keys[i], "yesterday") != RSC_BAD_REQUEST)
            fail_msg("query '%s' with a bad timestamp gave %d, want 4000", ts_keys[i], h->rsp.rsc);
    }
    const char *num_keys[] = {"sts", "stb", "sza", "szb"};
    for (size_t i = 0; i < sizeof num_keys / sizeof num_keys[0]; i++) {
        assert_int_equal(query1(h, num_keys[i], "5"), 0);
        assert_int_equal(query1(h, num_keys[i], "-1"), RSC_BAD_REQUEST);
    }
    assert_int_equal(query1(h, "sts", "7"), 0);
    assert_int_equal(h->req.fc.sts, 7);
    assert_int_equal(query1(h, "fo", "2"), 0);
    assert_int_equal(h->req.fc.fo, 2);
    assert_int_equal(query1(h, "fo", "3"), RSC_BAD_REQUEST);
    assert_int_equal(query1(h, "cty", "text/plain+application/json"), 0);
    assert_int_equal(h->req.fc.ncty, 2);
    assert_string_equal(h->req.fc.cty[1], "application/json");
    assert_int_equal(query1(h, "rn", "myname"), 0); /* an attribute filter */
    assert_int_equal(h->req.fc.natr, 1);
    assert_string_equal(h->req.fc.atr_name[0], "rn");
    assert_string_equal(h->req.fc.atr_value[0], "myname");
}

static void test_query_ignored_params(void **state)
{
    struct hx *h = *state;
    const char *keys[] = {"rids", "tids", "ltids", "tqi", "asi", "auri"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (query1(h, keys[i], "1") != 0)
            fail_msg("query '%s' gave %d, want accepted", keys[i], h->rsp.rsc);
    /* TS-0004 §7.3.2.1: result persistence, delivery aggregation and a semantic query are not
     * offered: 5001, never silently ignored (they were ignored before issue 13) */
    const char *refused[] = {"rp", "da", "sqi"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (query1(h, refused[i], "1") != RSC_NOT_IMPLEMENTED)
            fail_msg("query '%s' gave %d, want 5001", refused[i], h->rsp.rsc);
    assert_int_equal(query1(h, "sqi", "false"), 0);
    /* a NULL key (malformed pair from the server library) is skipped */
    start(h, "GET", "/cse-in", NULL);
    arg(h, NULL, "x");
    assert_int_equal(run(h), 0);
}

/* TS-0004 6.3.4.2.6: responseType 3 is blockingRequest, the mode Warden serves; 4 (flexBlocking)
 * lets the receiver choose, so it is served blocking too (TS-0004 7.2.2.2 Recv-2.0). */
static void test_rt_blocking_accepted(void **state)
{
    struct hx *h = *state;
    if (query1(h, "rt", "3") != 0)
        fail_msg("rt=3 (blockingRequest) refused with %d: %s", h->rsp.rsc, h->rsp.message);
    if (query1(h, "rt", "4") != 0)
        fail_msg("rt=4 (flexBlocking) refused with %d: %s", h->rsp.rsc, h->rsp.message);
}

/* TS-0004 6.3.4.2.6: responseType 1 and 2 are the non-blocking modes (core/nonblock.c), carried
 * to the core as req.rt; X-M2M-RTU (TS-0009) carries the notificationURIs of rt 2. */
static void test_rt_nonblocking_parsed(void **state)
{
    struct hx *h = *state;
    assert_int_equal(query1(h, "rt", "1"), 0);
    assert_int_equal(h->req.rt, 1);
    assert_null(h->req.rtu);
    start(h, "GET", "/cse-in", NULL);
    arg(h, "rt", "2");
    hdr(h, "X-M2M-RTU", "http://a/x&http://b/y");
    assert_int_equal(run(h), 0);
    assert_int_equal(h->req.rt, 2);
    assert_string_equal(h->req.rtu, "http://a/x&http://b/y");
    assert_int_equal(query1(h, "rt", "3"), 0);
    assert_int_equal(h->req.rt, 0); /* blocking */
    assert_int_equal(query1(h, "rt", "x"), RSC_BAD_REQUEST);
    assert_int_equal(query1(h, "rt", "5"), RSC_BAD_REQUEST);
}

/* The first bad argument decides; later arguments are not applied. */
static void test_query_error_stops(void **state)
{
    struct hx *h = *state;
    start(h, "GET", "/cse-in", NULL);
    arg(h, "rcn", "4");
    arg(h, "lim", "-5");
    arg(h, "cra", "x");
    assert_int_equal(run(h), RSC_BAD_REQUEST);
}

/* ---- status codes (TS-0009 6.3.2) ------------------------------------------------------------ */

static void test_status_common(void **state)
{
    (void)state;
    assert_int_equal(http_status_of(RSC_OK), 200);
    assert_int_equal(http_status_of(RSC_CREATED), 201);
    assert_int_equal(http_status_of(RSC_DELETED), 200);
    assert_int_equal(http_status_of(RSC_UPDATED), 200);
    assert_int_equal(http_status_of(RSC_BAD_REQUEST), 400);
    assert_int_equal(http_status_of(RSC_ORIGINATOR_HAS_NO_PRIVILEGE), 403);
    assert_int_equal(http_status_of(RSC_ORIGINATOR_NOT_AUTHENTICATED), 403);
    assert_int_equal(http_status_of(RSC_SECURITY_ASSOCIATION_REQUIRED), 403);
    assert_int_equal(http_status_of(RSC_ORIGINATOR_HAS_ALREADY_REGISTERED), 403);
    assert_int_equal(http_status_of(RSC_INVALID_CHILD_RESOURCE_TYPE), 403);
    assert_int_equal(http_status_of(RSC_NOT_FOUND), 404);
    assert_int_equal(http_status_of(RSC_OPERATION_NOT_ALLOWED), 405);
    assert_int_equal(http_status_of(RSC_NOT_ACCEPTABLE), 406);
    assert_int_equal(http_status_of(RSC_CONFLICT), 409);
    assert_int_equal(http_status_of(RSC_UNSUPPORTED_MEDIA_TYPE), 415);
    assert_int_equal(http_status_of(RSC_INTERNAL_SERVER_ERROR), 500);
    assert_int_equal(http_status_of(RSC_NOT_IMPLEMENTED), 501);
    assert_int_equal(http_status_of(RSC_RELEASE_VERSION_NOT_SUPPORTED), 501);
    assert_int_equal(http_status_of(RSC_REQUEST_TIMEOUT), 504);
}

static void test_status_unlisted_by_class(void **state)
{
    (void)state;
    assert_int_equal(http_status_of(4999), 400);
    assert_int_equal(http_status_of(2999), 200);
    assert_int_equal(http_status_of(5999), 500);
    assert_int_equal(http_status_of(0), 500);
    assert_int_equal(http_status_of(-1), 500);
}

/* Every row of TS-0009 Table 6.3.2-1. */
static void test_status_full_table(void **state)
{
    (void)state;
    static const struct {
        int rsc;
        unsigned http;
    } table[] = {
        {2000, 200}, {2002, 200}, {2004, 200}, {2001, 201}, {1000, 202}, {1001, 202}, {1002, 202}, {4000, 400},
        {4102, 400}, {4110, 400}, {4120, 400}, {4122, 400}, {4123, 400}, {4143, 400}, {6010, 400}, {6022, 400},
        {6023, 400}, {6024, 400}, {4101, 403}, {4103, 403}, {5105, 403}, {5203, 403}, {5205, 403}, {4106, 403},
        {4107, 403}, {4108, 403}, {4109, 403}, {4111, 403}, {4112, 403}, {4113, 403}, {4114, 403}, {4115, 403},
        {4116, 403}, {4117, 403}, {4126, 403}, {4127, 403}, {5208, 403}, {5214, 403}, {5215, 403}, {5218, 403},
        {5222, 403}, {4004, 404}, {4118, 404}, {4119, 404}, {4121, 404}, {5103, 404}, {5107, 404}, {6003, 404},
        {6005, 404}, {4005, 405}, {5207, 406}, {4104, 409}, {4105, 409}, {4124, 409}, {5106, 409}, {5219, 409},
        {5220, 409}, {6028, 409}, {6029, 409}, {4015, 415}, {5000, 500}, {5204, 500}, {5209, 500}, {5210, 500},
        {5211, 500}, {5212, 500}, {5216, 500}, {5217, 500}, {5221, 500}, {6020, 500}, {6021, 500}, {6025, 500},
        {6026, 500}, {4001, 501}, {4125, 501}, {5001, 501}, {5206, 501}, {4008, 504}, {6030, 504}, {6031, 504},
    };
    char wrong[1024] = "";
    int nwrong = 0;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        unsigned got = http_status_of(table[i].rsc);
        if (got != table[i].http) {
            nwrong++;
            snprintf(wrong + strlen(wrong), sizeof wrong - strlen(wrong), " %d->%u(want %u)", table[i].rsc, got,
                     table[i].http);
        }
    }
    if (nwrong)
        fail_msg("%d RSCs map differently from TS-0009 Table 6.3.2-1:%s", nwrong, wrong);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_post_with_ty_is_create),
        T(test_post_without_ty_is_notify),
        T(test_put_is_update_without_ty),
        T(test_get_and_delete),
        T(test_other_methods_refused),
        T(test_content_type_variants),
        T(test_content_type_unsupported_media),
        T(test_content_type_missing),
        T(test_content_type_bad_ty),
        T(test_paths),
        T(test_bad_paths),
        T(test_headers_mapped),
        T(test_headers_case_insensitive),
        T(test_headers_absent),
        T(test_query_defaults),
        T(test_query_rcn_drt_fu),
        T(test_query_ty_list),
        T(test_query_lbl),
        T(test_query_lim_lvl_ofst_bounds),
        T(test_query_unknown_refused),
        T(test_query_unsupported_filters),
        T(test_query_filter_criteria),
        T(test_query_ignored_params),
        T(test_rt_blocking_accepted),
        T(test_rt_nonblocking_parsed),
        T(test_query_error_stops),
        cmocka_unit_test(test_status_common),
        cmocka_unit_test(test_status_unlisted_by_class),
        cmocka_unit_test(test_status_full_table),
        cmocka_unit_test(test_finding_9_peer_key_ipv6_per_64),
        cmocka_unit_test_setup_teardown(test_finding_13_nul_in_header_value_is_4000, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finding_13_repeated_onem2m_header_is_4000, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finding_13_transfer_encoding_framing_is_4000, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finding_13_target_nul_or_too_many_params_is_4000, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
