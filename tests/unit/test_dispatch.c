/* Unit tests for the request pipeline (core/dispatch.c and the operations) on an in-process CSE
 * over a temporary SQLite store: originator checks (TS-0004 7.3.2.1), AE registration (TS-0001
 * 10.2.2.2, TS-0004 7.4.5.2.1), <container> / <contentInstance> rules (TS-0004 7.4.6, 7.4.7),
 * default access policy, subtree delete (TS-0001 10.1.5) and expirationTime (TS-0001 9.6.1.3). */
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/config.h"
#include "core/cse.h"
#include "core/request.h"
#include "core/rsc.h"
#include "security/cred.h"
#include "store/store.h"
#include "store/backend.h"
#include "util/log.h"
#include "util/timeutil.h"

#define TY_AE  2
#define TY_CNT 3
#define TY_CIN 4

/* ---- the in-process CSE ------------------------------------------------------------------------ */

struct env {
    char dir[64];
    char path[160];
    struct cse_config cfg;
    struct log log;
    struct store *st;
    struct cse cse;
    bool cse_ok;
    _Atomic int_least64_t now_us; /* the fake clock, read from the writer thread too */
};

static int64_t fake_now(void *arg)
{
    struct env *e = arg;
    return (int64_t)atomic_load(&e->now_us);
}

static int64_t now_s(struct env *e)
{
    return (int64_t)atomic_load(&e->now_us) / 1000000;
}

static void advance(struct env *e, int64_t seconds)
{
    atomic_fetch_add(&e->now_us, (int_least64_t)(seconds * 1000000));
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    if (e == NULL)
        return -1;
    *state = e;
    snprintf(e->dir, sizeof e->dir, "/tmp/warden-dispatch-XXXXXX");
    if (mkdtemp(e->dir) == NULL)
        return -1;
    snprintf(e->path, sizeof e->path, "%s/w.db", e->dir);
    config_defaults(&e->cfg);
    log_init(&e->log, LOG_ERROR, stderr);
    char err[256];
    e->st = store_sqlite_open(e->path, false, 2, err, sizeof err);
    if (e->st == NULL) {
        fprintf(stderr, "store_sqlite_open: %s\n", err);
        return -1;
    }
    if (cse_init(&e->cse, &e->cfg, &e->log, e->st, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "cse_init: %s\n", err);
        return -1;
    }
    e->cse_ok = true;
    atomic_store(&e->now_us, (int_least64_t)clock_real_us(NULL));
    e->cse.clock = (struct clock){.now_us = fake_now, .arg = e};
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    if (e == NULL)
        return 0;
    if (e->cse_ok)
        cse_destroy(&e->cse);
    if (e->st)
        e->st->ops->close(e->st);
    config_free(&e->cfg);
    log_destroy(&e->log);
    nftw(e->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(e);
    return 0;
}

/* ---- requests ---------------------------------------------------------------------------------- */

struct waitdone {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool done;
    int calls;
};

static void on_done(void *arg)
{
    struct waitdone *w = arg;
    pthread_mutex_lock(&w->m);
    w->done = true;
    w->calls++;
    pthread_cond_signal(&w->c);
    pthread_mutex_unlock(&w->m);
}

/* What a test looks at after a request; the response itself is freed by call(). */
struct res {
    int rsc;
    json_t *body; /* parsed Content, NULL when none */
    char loc[512];
    char reason[64];
};

static void res_free(struct res *r)
{
    json_decref(r->body);
    r->body = NULL;
}

static void req_init(struct cse_request *req, enum cse_op op, const char *to, const char *fr)
{
    request_init(req);
    req->op = op;
    req->to = to;
    req->fr = fr;
    req->rqi = "rq-test";
    req->sec.binding = "test";
    req->sec.sa = SA_NONE;
    snprintf(req->sec.peer, sizeof req->sec.peer, "127.0.0.1");
}

static void req_content(struct cse_request *req, const char *body)
{
    req->media = MEDIA_JSON;
    req->body = body;
    req->body_len = strlen(body);
}

/* Dispatch and wait for the completion when the request parks on the store. */
static int call(struct env *e, const struct cse_request *req, struct res *out)
{
    struct waitdone w = {.done = false, .calls = 0};
    pthread_mutex_init(&w.m, NULL);
    pthread_cond_init(&w.c, NULL);
    struct cse_response rsp;
    response_init(&rsp);
    enum cse_status st = cse_dispatch(&e->cse, req, &rsp, on_done, &w);
    pthread_mutex_lock(&w.m);
    if (st == CSE_PENDING)
        while (!w.done)
            pthread_cond_wait(&w.c, &w.m);
    int calls = w.calls;
    pthread_mutex_unlock(&w.m);
    if (st == CSE_PENDING)
        cse_complete(&e->cse, req, &rsp);
    pthread_mutex_destroy(&w.m);
    pthread_cond_destroy(&w.c);
    /* done() runs exactly once for a parked request and never for a finished one */
    assert_int_equal(calls, st == CSE_PENDING ? 1 : 0);

    memset(out, 0, sizeof *out);
    out->rsc = rsp.rsc;
    if (rsp.location)
        snprintf(out->loc, sizeof out->loc, "%s", rsp.location);
    if (rsp.reason)
        snprintf(out->reason, sizeof out->reason, "%s", rsp.reason);
    if (rsp.body) {
        json_error_t je;
        out->body = json_loadb(rsp.body, rsp.body_len, 0, &je);
        if (out->body == NULL) {
            response_free(&rsp);
            fail_msg("response body is not JSON: %s", je.text);
        }
    }
    response_free(&rsp);
    return out->rsc;
}

static int create(struct env *e, const char *to, const char *fr, int ty, const char *body, struct res *out)
{
    struct cse_request req;
    req_init(&req, OP_CREATE, to, fr);
    req.ty = ty;
    req_content(&req, body);
    return call(e, &req, out);
}

static int retrieve(struct env *e, const char *to, const char *fr, struct res *out)
{
    struct cse_request req;
    req_init(&req, OP_RETRIEVE, to, fr);
    return call(e, &req, out);
}

static int update(struct env *e, const char *to, const char *fr, const char *body, struct res *out)
{
    struct cse_request req;
    req_init(&req, OP_UPDATE, to, fr);
    req_content(&req, body);
    return call(e, &req, out);
}

static int delete (struct env *e, const char *to, const char *fr, struct res *out)
{
    struct cse_request req;
    req_init(&req, OP_DELETE, to, fr);
    return call(e, &req, out);
}

/* Status only; the response is dropped. */
static int status_of(int rsc, struct res *r)
{
    res_free(r);
    return rsc;
}
#define RETRIEVE_RSC(e, to, fr)         (retrieve((e), (to), (fr), &tmp_), status_of(tmp_.rsc, &tmp_))
#define DELETE_RSC(e, to, fr)           (delete ((e), (to), (fr), &tmp_), status_of(tmp_.rsc, &tmp_))
#define CREATE_RSC(e, to, fr, ty, body) (create((e), (to), (fr), (ty), (body), &tmp_), status_of(tmp_.rsc, &tmp_))
#define UPDATE_RSC(e, to, fr, body)     (update((e), (to), (fr), (body), &tmp_), status_of(tmp_.rsc, &tmp_))

static json_t *attr(const struct res *r, const char *root, const char *key)
{
    return json_object_get(json_object_get(r->body, root), key);
}

static const char *sattr(const struct res *r, const char *root, const char *key)
{
    const char *s = json_string_value(attr(r, root, key));
    if (s == NULL)
        fail_msg("%s/%s missing or not a string", root, key);
    return s;
}

static long long iattr(const struct res *r, const char *root, const char *key)
{
    json_t *v = attr(r, root, key);
    if (!json_is_integer(v))
        fail_msg("%s/%s missing or not an integer", root, key);
    return json_integer_value(v);
}

#define AE_BODY "{\"m2m:ae\":{\"api\":\"Napp\",\"rr\":false}}"

/* Register an AE with From fr; its AE-ID (= resourceID) goes to stem. */
static void register_ae(struct env *e, const char *fr, char *stem, size_t n)
{
    struct res r;
    if (create(e, "cse-in", fr, TY_AE, AE_BODY, &r) != RSC_CREATED) {
        int rsc = r.rsc;
        res_free(&r);
        fail_msg("AE registration with From '%s' gave %d", fr ? fr : "(none)", rsc);
    }
    snprintf(stem, n, "%s", sattr(&r, "m2m:ae", "ri"));
    res_free(&r);
}

static void create_cnt(struct env *e, const char *parent, const char *fr, const char *rn, const char *extra)
{
    char body[512];
    snprintf(body, sizeof body, "{\"m2m:cnt\":{\"rn\":\"%s\"%s%s}}", rn, extra ? "," : "", extra ? extra : "");
    struct res r;
    if (create(e, parent, fr, TY_CNT, body, &r) != RSC_CREATED) {
        int rsc = r.rsc;
        res_free(&r);
        fail_msg("container %s under %s gave %d", rn, parent, rsc);
    }
    res_free(&r);
}

/* Create a contentInstance; returns the RSC. */
static int create_cin(struct env *e, const char *parent, const char *fr, const char *rn, const char *con)
{
    char body[512];
    if (rn)
        snprintf(body, sizeof body, "{\"m2m:cin\":{\"rn\":\"%s\",\"con\":\"%s\"}}", rn, con);
    else
        snprintf(body, sizeof body, "{\"m2m:cin\":{\"con\":\"%s\"}}", con);
    struct res r;
    int rsc = create(e, parent, fr, TY_CIN, body, &r);
    res_free(&r);
    return rsc;
}

/* ---- AE registration (TS-0001 10.2.2.2, TS-0004 7.4.5.2.1) -------------------------------------- */

static void test_ae_registration_allocates_c_id(void **state)
{
    struct env *e = *state;
    struct res r, tmp_;
    assert_int_equal(create(e, "cse-in", "C", TY_AE, AE_BODY, &r), RSC_CREATED);
    const char *ri = sattr(&r, "m2m:ae", "ri");
    assert_true(ri[0] == 'C' && strlen(ri) > 1);
    assert_string_equal(sattr(&r, "m2m:ae", "aei"), ri);
    assert_string_equal(sattr(&r, "m2m:ae", "rn"), ri);
    assert_string_equal(sattr(&r, "m2m:ae", "api"), "Napp");
    assert_int_equal(iattr(&r, "m2m:ae", "ty"), TY_AE);
    char loc[512], stem[256];
    snprintf(stem, sizeof stem, "%s", ri);
    snprintf(loc, sizeof loc, "cse-in/%s", stem);
    assert_string_equal(r.loc, loc);
    res_free(&r);

    /* the new AE-ID works as From at once, by structured and unstructured address */
    assert_int_equal(RETRIEVE_RSC(e, loc, stem), RSC_OK);
    assert_int_equal(RETRIEVE_RSC(e, stem, stem), RSC_OK);

    /* a second "C" registration gets a different AE-ID */
    char stem2[256];
    register_ae(e, "C", stem2, sizeof stem2);
    assert_true(stem2[0] == 'C');
    assert_string_not_equal(stem, stem2);
}

static void test_ae_registration_s_and_absent_from(void **state)
{
    struct env *e = *state;
    char stem[256];
    register_ae(e, "S", stem, sizeof stem);
    assert_true(stem[0] == 'S' && strlen(stem) > 1);
    register_ae(e, NULL, stem, sizeof stem); /* From absent: a C-type ID is allocated */
    assert_true(stem[0] == 'C' && strlen(stem) > 1);
    register_ae(e, "", stem, sizeof stem);
    assert_true(stem[0] == 'C' && strlen(stem) > 1);
}

static void test_ae_registration_explicit_stem(void **state)
{
    struct env *e = *state;
    struct res r;
    assert_int_equal(create(e, "cse-in", "Cmyapp", TY_AE, AE_BODY, &r), RSC_CREATED);
    assert_string_equal(sattr(&r, "m2m:ae", "ri"), "Cmyapp");
    assert_string_equal(sattr(&r, "m2m:ae", "aei"), "Cmyapp");
    assert_string_equal(r.loc, "cse-in/Cmyapp");
    res_free(&r);

    /* registering the same AE-ID again: ORIGINATOR_HAS_ALREADY_REGISTERED */
    assert_int_equal(create(e, "cse-in", "Cmyapp", TY_AE, AE_BODY, &r), RSC_ORIGINATOR_HAS_ALREADY_REGISTERED);
    res_free(&r);
    /* also under another resourceName */
    assert_int_equal(
        create(e, "cse-in", "Cmyapp", TY_AE, "{\"m2m:ae\":{\"rn\":\"other\",\"api\":\"Napp\",\"rr\":false}}", &r),
        RSC_ORIGINATOR_HAS_ALREADY_REGISTERED);
    res_free(&r);

    /* a resourceName different from the AE-ID */
    assert_int_equal(
        create(e, "cse-in", "Cnamed", TY_AE, "{\"m2m:ae\":{\"rn\":\"light\",\"api\":\"Rlight\",\"rr\":true}}", &r),
        RSC_CREATED);
    assert_string_equal(r.loc, "cse-in/light");
    assert_string_equal(sattr(&r, "m2m:ae", "ri"), "Cnamed");
    res_free(&r);
}

static void test_ae_registration_content_rules(void **state)
{
    struct env *e = *state;
    struct res tmp_;
    /* api and rr are mandatory (TS-0004 7.4.5) */
    assert_int_equal(CREATE_RSC(e, "cse-in", "C", TY_AE, "{\"m2m:ae\":{\"rr\":false}}"), RSC_BAD_REQUEST);
    assert_int_equal(CREATE_RSC(e, "cse-in", "C", TY_AE, "{\"m2m:ae\":{\"api\":\"Napp\"}}"), RSC_BAD_REQUEST);
    /* read-only attributes cannot be set by the originator */
    assert_int_equal(CREATE_RSC(e, "cse-in", "C", TY_AE, "{\"m2m:ae\":{\"api\":\"Napp\",\"rr\":false,\"ri\":\"x\"}}"),
                     RSC_BAD_REQUEST);
    assert_int_equal(CREATE_RSC(e, "cse-in", "C", TY_AE, "{\"m2m:ae\":{\"api\":\"Napp\",\"rr\":false,\"aei\":\"Cx\"}}"),
                     RSC_BAD_REQUEST);
    /* an AE is registered with the CSEBase only */
    char stem[256];
    register_ae(e, "Cparent", stem, sizeof stem);
    assert_int_equal(CREATE_RSC(e, "cse-in/Cparent", "Cparent", TY_AE, AE_BODY), RSC_INVALID_CHILD_RESOURCE_TYPE);
}

/* ---- originator checks (TS-0004 7.3.2.1) -------------------------------------------------------- */

static void test_unregistered_ae_4106(void **state)
{
    struct env *e = *state;
    struct res r, tmp_;
    assert_int_equal(retrieve(e, "cse-in", "Cnobody", &r), RSC_ORIGINATOR_NOT_AUTHENTICATED);
    assert_null(r.body); /* nothing about the target leaks */
    res_free(&r);
    assert_int_equal(CREATE_RSC(e, "cse-in", "Cnobody", TY_CNT, "{\"m2m:cnt\":{}}"), RSC_ORIGINATOR_NOT_AUTHENTICATED);
    /* checked before routing: a spoofed originator cannot probe what exists */
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/does-not-exist", "Cnobody"), RSC_ORIGINATOR_NOT_AUTHENTICATED);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in", "/id-in/Cnobody"), RSC_ORIGINATOR_NOT_AUTHENTICATED);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in", "Snobody"), RSC_ORIGINATOR_NOT_AUTHENTICATED);
}

static void test_cse_originator_needs_sa_4107(void **state)
{
    struct env *e = *state;
    struct res tmp_;
    assert_int_equal(RETRIEVE_RSC(e, "cse-in", "/id-mn"), RSC_SECURITY_ASSOCIATION_REQUIRED);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in", "//warden.example.com/id-mn"), RSC_SECURITY_ASSOCIATION_REQUIRED);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/nothing", "/id-mn"), RSC_SECURITY_ASSOCIATION_REQUIRED);
}

static void test_missing_or_malformed_from_4000(void **state)
{
    struct env *e = *state;
    struct res tmp_;
    assert_int_equal(RETRIEVE_RSC(e, "cse-in", NULL), RSC_BAD_REQUEST);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in", ""), RSC_BAD_REQUEST);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in", "C a"), RSC_BAD_REQUEST);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in", "cabc"), RSC_BAD_REQUEST);
    /* "C" / "S" are registration requests only */
    assert_int_equal(RETRIEVE_RSC(e, "cse-in", "C"), RSC_BAD_REQUEST);
    assert_int_equal(CREATE_RSC(e, "cse-in", "S", TY_CNT, "{\"m2m:cnt\":{}}"), RSC_BAD_REQUEST);
    /* From is also required for create of anything but an AE */
    assert_int_equal(CREATE_RSC(e, "cse-in", NULL, TY_CNT, "{\"m2m:cnt\":{}}"), RSC_BAD_REQUEST);
}

static void test_bad_primitive(void **state)
{
    struct env *e = *state;
    struct res r;
    struct cse_request req;
    req_init(&req, OP_RETRIEVE, "cse-in", "CAdmin");
    req.rqi = NULL;
    assert_int_equal(call(e, &req, &r), RSC_BAD_REQUEST); /* Request Identifier is mandatory */
    res_free(&r);
    req_init(&req, OP_RETRIEVE, "cse-in", "CAdmin");
    req.rvi = "1";
    assert_int_equal(call(e, &req, &r), RSC_RELEASE_VERSION_NOT_SUPPORTED);
    res_free(&r);
    req_init(&req, OP_RETRIEVE, "cse-in", "CAdmin");
    req.rvi = "3";
    assert_int_equal(call(e, &req, &r), RSC_OK);
    res_free(&r);
    req_init(&req, OP_CREATE, "cse-in", "CAdmin"); /* CREATE without a resource type */
    req_content(&req, "{\"m2m:cnt\":{}}");
    assert_int_equal(call(e, &req, &r), RSC_BAD_REQUEST);
    res_free(&r);
    req_init(&req, OP_NONE, "cse-in", "CAdmin");
    assert_int_equal(call(e, &req, &r), RSC_BAD_REQUEST);
    res_free(&r);
}

/* ---- addressing (TS-0001 7.2) ------------------------------------------------------------------- */

static void test_addressing_forms(void **state)
{
    struct env *e = *state;
    struct res tmp_;
    char stem[256];
    register_ae(e, "Caddr", stem, sizeof stem);
    const char *ok[] = {"cse-in/Caddr",
                        "-/Caddr",
                        "/id-in/cse-in/Caddr",
                        "//warden.example.com/id-in/cse-in/Caddr",
                        "Caddr",
                        "/id-in/Caddr",
                        "//warden.example.com/id-in/Caddr"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (RETRIEVE_RSC(e, ok[i], "Caddr") != RSC_OK)
            fail_msg("address '%s' not resolved", ok[i]);
    /* the CSEBase by its SP-relative CSE-ID */
    assert_int_equal(RETRIEVE_RSC(e, "/id-in", "Caddr"), RSC_OK);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in", "Caddr"), RSC_OK);
    /* not hosted here */
    assert_int_equal(RETRIEVE_RSC(e, "/id-mn/cse-in", "Caddr"), RSC_NOT_FOUND);
    assert_int_equal(RETRIEVE_RSC(e, "//other.example.org/id-in/cse-in", "Caddr"), RSC_NOT_FOUND);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/nothing", "Caddr"), RSC_NOT_FOUND);
    /* malformed */
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/../cse-in", "Caddr"), RSC_BAD_REQUEST);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in//Caddr", "Caddr"), RSC_BAD_REQUEST);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Caddr/", "Caddr"), RSC_BAD_REQUEST);
    assert_int_equal(RETRIEVE_RSC(e, "", "Caddr"), RSC_BAD_REQUEST);
}

/* ---- container and contentInstance (TS-0004 7.4.6, 7.4.7) ---------------------------------------- */

static void test_container_and_content_instance(void **state)
{
    struct env *e = *state;
    char stem[256];
    register_ae(e, "Capp", stem, sizeof stem);
    struct res r;
    assert_int_equal(create(e, "cse-in/Capp", "Capp", TY_CNT, "{\"m2m:cnt\":{\"rn\":\"cnt1\",\"lbl\":[\"t\"]}}", &r),
                     RSC_CREATED);
    assert_string_equal(r.loc, "cse-in/Capp/cnt1");
    assert_int_equal(iattr(&r, "m2m:cnt", "ty"), TY_CNT);
    assert_string_equal(sattr(&r, "m2m:cnt", "pi"), "Capp");
    assert_int_equal(iattr(&r, "m2m:cnt", "cni"), 0);
    assert_int_equal(iattr(&r, "m2m:cnt", "cbs"), 0);
    assert_int_equal(iattr(&r, "m2m:cnt", "st"), 0);
    char cnt_ri[128];
    snprintf(cnt_ri, sizeof cnt_ri, "%s", sattr(&r, "m2m:cnt", "ri"));
    res_free(&r);

    assert_int_equal(create(e, "cse-in/Capp/cnt1", "Capp", TY_CIN, "{\"m2m:cin\":{\"con\":\"hello\",\"cr\":null}}", &r),
                     RSC_CREATED);
    assert_int_equal(iattr(&r, "m2m:cin", "cs"), 5);
    assert_string_equal(sattr(&r, "m2m:cin", "con"), "hello");
    assert_string_equal(sattr(&r, "m2m:cin", "pi"), cnt_ri);
    assert_string_equal(sattr(&r, "m2m:cin", "cr"), "Capp"); /* cr:null asks the CSE to record the creator */
    res_free(&r);

    assert_int_equal(retrieve(e, "cse-in/Capp/cnt1", "Capp", &r), RSC_OK);
    assert_int_equal(iattr(&r, "m2m:cnt", "cni"), 1);
    assert_int_equal(iattr(&r, "m2m:cnt", "cbs"), 5);
    assert_int_equal(iattr(&r, "m2m:cnt", "st"), 1); /* stateTag follows the change of cni */
    res_free(&r);

    assert_int_equal(retrieve(e, "cse-in/Capp/cnt1/la", "Capp", &r), RSC_OK);
    assert_string_equal(sattr(&r, "m2m:cin", "con"), "hello");
    res_free(&r);
    assert_int_equal(retrieve(e, "cse-in/Capp/cnt1/ol", "Capp", &r), RSC_OK);
    assert_string_equal(sattr(&r, "m2m:cin", "con"), "hello");
    res_free(&r);

    /* a non-string con counts its JSON encoding */
    assert_int_equal(create(e, "cse-in/Capp/cnt1", "Capp", TY_CIN, "{\"m2m:cin\":{\"con\":{\"t\":21}}}", &r),
                     RSC_CREATED);
    assert_int_equal(iattr(&r, "m2m:cin", "cs"), (long long)strlen("{\"t\":21}"));
    res_free(&r);
}

static void test_content_instance_rules(void **state)
{
    struct env *e = *state;
    struct res tmp_;
    char stem[256];
    register_ae(e, "Capp", stem, sizeof stem);
    create_cnt(e, "cse-in/Capp", "Capp", "c", NULL);
    /* con is mandatory */
    assert_int_equal(CREATE_RSC(e, "cse-in/Capp/c", "Capp", TY_CIN, "{\"m2m:cin\":{\"cnf\":\"text/plain:0\"}}"),
                     RSC_BAD_REQUEST);
    /* a contentInstance lives under a container only */
    assert_int_equal(CREATE_RSC(e, "cse-in/Capp", "Capp", TY_CIN, "{\"m2m:cin\":{\"con\":\"x\"}}"),
                     RSC_INVALID_CHILD_RESOURCE_TYPE);
    /* la / ol of an empty container do not exist */
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Capp/c/la", "Capp"), RSC_NOT_FOUND);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Capp/c/ol", "Capp"), RSC_NOT_FOUND);
    /* virtual names cannot be taken by real resources */
    assert_int_equal(CREATE_RSC(e, "cse-in/Capp/c", "Capp", TY_CIN, "{\"m2m:cin\":{\"rn\":\"la\",\"con\":\"x\"}}"),
                     RSC_BAD_REQUEST);
    /* nor can anything be created under la */
    assert_int_equal(create_cin(e, "cse-in/Capp/c", "Capp", "i1", "x"), RSC_CREATED);
    assert_int_equal(CREATE_RSC(e, "cse-in/Capp/c/la", "Capp", TY_CIN, "{\"m2m:cin\":{\"con\":\"x\"}}"),
                     RSC_OPERATION_NOT_ALLOWED);
}

/* TS-0004 7.4.6: with maxNrOfInstances reached, the oldest instance makes room. */
static void test_mni_eviction(void **state)
{
    struct env *e = *state;
    struct res r, tmp_;
    char stem[256];
    register_ae(e, "Capp", stem, sizeof stem);
    create_cnt(e, "cse-in/Capp", "Capp", "cnt", "\"mni\":2");
    assert_int_equal(create_cin(e, "cse-in/Capp/cnt", "Capp", "i1", "a"), RSC_CREATED);
    assert_int_equal(create_cin(e, "cse-in/Capp/cnt", "Capp", "i2", "bb"), RSC_CREATED);
    assert_int_equal(create_cin(e, "cse-in/Capp/cnt", "Capp", "i3", "ccc"), RSC_CREATED);

    assert_int_equal(retrieve(e, "cse-in/Capp/cnt", "Capp", &r), RSC_OK);
    assert_int_equal(iattr(&r, "m2m:cnt", "cni"), 2);
    assert_int_equal(iattr(&r, "m2m:cnt", "cbs"), 5);
    res_free(&r);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Capp/cnt/i1", "Capp"), RSC_NOT_FOUND);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Capp/cnt/i2", "Capp"), RSC_OK);
    assert_int_equal(retrieve(e, "cse-in/Capp/cnt/ol", "Capp", &r), RSC_OK);
    assert_string_equal(sattr(&r, "m2m:cin", "rn"), "i2");
    res_free(&r);
    assert_int_equal(retrieve(e, "cse-in/Capp/cnt/la", "Capp", &r), RSC_OK);
    assert_string_equal(sattr(&r, "m2m:cin", "rn"), "i3");
    res_free(&r);

    /* many more: the count stays at mni */
    for (int i = 0; i < 10; i++)
        assert_int_equal(create_cin(e, "cse-in/Capp/cnt", "Capp", NULL, "x"), RSC_CREATED);
    assert_int_equal(retrieve(e, "cse-in/Capp/cnt", "Capp", &r), RSC_OK);
    assert_int_equal(iattr(&r, "m2m:cnt", "cni"), 2);
    assert_int_equal(iattr(&r, "m2m:cnt", "cbs"), 2);
    res_free(&r);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Capp/cnt/i3", "Capp"), RSC_NOT_FOUND);
}

/* TS-0004 7.4.7: an instance larger than maxByteSize is refused (NOT_ACCEPTABLE); smaller ones
 * evict the oldest until cbs fits. */
static void test_mbs(void **state)
{
    struct env *e = *state;
    struct res r;
    char stem[256];
    register_ae(e, "Capp", stem, sizeof stem);
    create_cnt(e, "cse-in/Capp", "Capp", "cnt", "\"mbs\":4");
    assert_int_equal(create_cin(e, "cse-in/Capp/cnt", "Capp", "big", "hello"), RSC_NOT_ACCEPTABLE);
    assert_int_equal(retrieve(e, "cse-in/Capp/cnt", "Capp", &r), RSC_OK);
    assert_int_equal(iattr(&r, "m2m:cnt", "cni"), 0);
    assert_int_equal(iattr(&r, "m2m:cnt", "cbs"), 0);
    assert_int_equal(iattr(&r, "m2m:cnt", "st"), 0);
    res_free(&r);

    assert_int_equal(create_cin(e, "cse-in/Capp/cnt", "Capp", "a", "abc"), RSC_CREATED);
    assert_int_equal(create_cin(e, "cse-in/Capp/cnt", "Capp", "b", "abcd"), RSC_CREATED);
    assert_int_equal(retrieve(e, "cse-in/Capp/cnt", "Capp", &r), RSC_OK);
    assert_int_equal(iattr(&r, "m2m:cnt", "cni"), 1);
    assert_int_equal(iattr(&r, "m2m:cnt", "cbs"), 4);
    res_free(&r);
    assert_int_equal(retrieve(e, "cse-in/Capp/cnt/la", "Capp", &r), RSC_OK);
    assert_string_equal(sattr(&r, "m2m:cin", "con"), "abcd");
    res_free(&r);
}

/* TS-0004 7.4.7: a contentInstance cannot be updated. */
static void test_cin_update_4005(void **state)
{
    struct env *e = *state;
    struct res tmp_;
    char stem[256];
    register_ae(e, "Capp", stem, sizeof stem);
    create_cnt(e, "cse-in/Capp", "Capp", "cnt", NULL);
    assert_int_equal(create_cin(e, "cse-in/Capp/cnt", "Capp", "i1", "v"), RSC_CREATED);
    assert_int_equal(UPDATE_RSC(e, "cse-in/Capp/cnt/i1", "Capp", "{\"m2m:cin\":{\"lbl\":[\"x\"]}}"),
                     RSC_OPERATION_NOT_ALLOWED);
    assert_int_equal(UPDATE_RSC(e, "cse-in/Capp/cnt/la", "Capp", "{\"m2m:cin\":{\"con\":\"w\"}}"),
                     RSC_OPERATION_NOT_ALLOWED);
    struct res r;
    assert_int_equal(retrieve(e, "cse-in/Capp/cnt/i1", "Capp", &r), RSC_OK);
    assert_string_equal(sattr(&r, "m2m:cin", "con"), "v");
    res_free(&r);
}

static void test_container_update(void **state)
{
    struct env *e = *state;
    struct res r, tmp_;
    char stem[256];
    register_ae(e, "Capp", stem, sizeof stem);
    create_cnt(e, "cse-in/Capp", "Capp", "cnt", NULL);
    assert_int_equal(update(e, "cse-in/Capp/cnt", "Capp", "{\"m2m:cnt\":{\"lbl\":[\"x\",\"y\"]}}", &r), RSC_UPDATED);
    json_t *lbl = attr(&r, "m2m:cnt", "lbl");
    assert_true(json_is_array(lbl));
    assert_int_equal(json_array_size(lbl), 2);
    assert_int_equal(iattr(&r, "m2m:cnt", "st"), 1);
    res_free(&r);
    /* read-only attributes cannot be updated */
    assert_int_equal(UPDATE_RSC(e, "cse-in/Capp/cnt", "Capp", "{\"m2m:cnt\":{\"cni\":5}}"), RSC_BAD_REQUEST);
    assert_int_equal(UPDATE_RSC(e, "cse-in/Capp/cnt", "Capp", "{\"m2m:cnt\":{\"rn\":\"new\"}}"), RSC_BAD_REQUEST);

    /* a lowered maxNrOfInstances applies at once: the oldest go */
    assert_int_equal(create_cin(e, "cse-in/Capp/cnt", "Capp", "i1", "a"), RSC_CREATED);
    assert_int_equal(create_cin(e, "cse-in/Capp/cnt", "Capp", "i2", "b"), RSC_CREATED);
    assert_int_equal(create_cin(e, "cse-in/Capp/cnt", "Capp", "i3", "c"), RSC_CREATED);
    assert_int_equal(update(e, "cse-in/Capp/cnt", "Capp", "{\"m2m:cnt\":{\"mni\":1}}", &r), RSC_UPDATED);
    res_free(&r);
    assert_int_equal(retrieve(e, "cse-in/Capp/cnt", "Capp", &r), RSC_OK);
    assert_int_equal(iattr(&r, "m2m:cnt", "cni"), 1);
    assert_int_equal(iattr(&r, "m2m:cnt", "mni"), 1);
    res_free(&r);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Capp/cnt/i1", "Capp"), RSC_NOT_FOUND);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Capp/cnt/i2", "Capp"), RSC_NOT_FOUND);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Capp/cnt/i3", "Capp"), RSC_OK);
}

/* ---- default access policy ---------------------------------------------------------------------- */

static void test_other_ae_4103(void **state)
{
    struct env *e = *state;
    struct res r, tmp_;
    char s1[256], s2[256];
    register_ae(e, "Cone", s1, sizeof s1);
    register_ae(e, "Ctwo", s2, sizeof s2);
    create_cnt(e, "cse-in/Cone", "Cone", "private", NULL);
    assert_int_equal(create_cin(e, "cse-in/Cone/private", "Cone", "i1", "secret"), RSC_CREATED);

    assert_int_equal(retrieve(e, "cse-in/Cone/private", "Ctwo", &r), RSC_ORIGINATOR_HAS_NO_PRIVILEGE);
    assert_string_equal(r.reason, "default-deny");
    res_free(&r);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Cone/private/la", "Ctwo"), RSC_ORIGINATOR_HAS_NO_PRIVILEGE);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Cone", "Ctwo"), RSC_ORIGINATOR_HAS_NO_PRIVILEGE);
    assert_int_equal(create_cin(e, "cse-in/Cone/private", "Ctwo", "i2", "x"), RSC_ORIGINATOR_HAS_NO_PRIVILEGE);
    assert_int_equal(UPDATE_RSC(e, "cse-in/Cone/private", "Ctwo", "{\"m2m:cnt\":{\"lbl\":[\"x\"]}}"),
                     RSC_ORIGINATOR_HAS_NO_PRIVILEGE);
    assert_int_equal(DELETE_RSC(e, "cse-in/Cone/private", "Ctwo"), RSC_ORIGINATOR_HAS_NO_PRIVILEGE);
    assert_int_equal(DELETE_RSC(e, "cse-in/Cone", "Ctwo"), RSC_ORIGINATOR_HAS_NO_PRIVILEGE);
    /* nothing changed */
    assert_int_equal(retrieve(e, "cse-in/Cone/private", "Cone", &r), RSC_OK);
    assert_int_equal(iattr(&r, "m2m:cnt", "cni"), 1);
    assert_int_equal(iattr(&r, "m2m:cnt", "st"), 1);
    res_free(&r);

    /* the CSEBase: readable by a registered AE, but only the admin creates non-AE children there */
    assert_int_equal(RETRIEVE_RSC(e, "cse-in", "Ctwo"), RSC_OK);
    assert_int_equal(create(e, "cse-in", "Ctwo", TY_CNT, "{\"m2m:cnt\":{\"rn\":\"top\"}}", &r),
                     RSC_ORIGINATOR_HAS_NO_PRIVILEGE);
    assert_string_equal(r.reason, "csebase-admin-only");
    res_free(&r);
}

static void test_admin_access(void **state)
{
    struct env *e = *state;
    struct res tmp_;
    char s1[256];
    register_ae(e, "Cone", s1, sizeof s1);
    create_cnt(e, "cse-in/Cone", "Cone", "private", NULL);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Cone/private", "CAdmin"), RSC_OK);
    assert_int_equal(CREATE_RSC(e, "cse-in", "CAdmin", TY_CNT, "{\"m2m:cnt\":{\"rn\":\"top\"}}"), RSC_CREATED);
    assert_int_equal(DELETE_RSC(e, "cse-in/Cone/private", "CAdmin"), RSC_DELETED);
    /* the CSEBase itself cannot be deleted, not even by the admin */
    assert_int_equal(DELETE_RSC(e, "cse-in", "CAdmin"), RSC_OPERATION_NOT_ALLOWED);
}

/* What the admin creates under the CSEBase belongs to no AE: an AE cannot read it. */
static void test_admin_resources_private(void **state)
{
    struct env *e = *state;
    struct res tmp_;
    assert_int_equal(CREATE_RSC(e, "cse-in", "CAdmin", TY_CNT, "{\"m2m:cnt\":{\"rn\":\"shared\"}}"), RSC_CREATED);
    char s1[256];
    register_ae(e, "Cone", s1, sizeof s1);
    /* the admin's container is not Cone's */
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/shared", "Cone"), RSC_ORIGINATOR_HAS_NO_PRIVILEGE);
}

/* ---- names and delete --------------------------------------------------------------------------- */

static void test_duplicate_rn_4105(void **state)
{
    struct env *e = *state;
    struct res tmp_;
    char s1[256];
    register_ae(e, "Cone", s1, sizeof s1);
    create_cnt(e, "cse-in/Cone", "Cone", "dup", NULL);
    assert_int_equal(CREATE_RSC(e, "cse-in/Cone", "Cone", TY_CNT, "{\"m2m:cnt\":{\"rn\":\"dup\"}}"), RSC_CONFLICT);
    /* the same name under another parent is fine */
    create_cnt(e, "cse-in/Cone/dup", "Cone", "dup", NULL);
    assert_int_equal(create_cin(e, "cse-in/Cone/dup", "Cone", "dup2", "x"), RSC_CREATED);
    assert_int_equal(create_cin(e, "cse-in/Cone/dup", "Cone", "dup2", "y"), RSC_CONFLICT);
    /* the refused instance did not count */
    struct res r;
    assert_int_equal(retrieve(e, "cse-in/Cone/dup", "Cone", &r), RSC_OK);
    assert_int_equal(iattr(&r, "m2m:cnt", "cni"), 1);
    res_free(&r);
}

static void test_delete_subtree(void **state)
{
    struct env *e = *state;
    struct res r, tmp_;
    char s1[256];
    register_ae(e, "Cone", s1, sizeof s1);
    create_cnt(e, "cse-in/Cone", "Cone", "cnt1", NULL);
    create_cnt(e, "cse-in/Cone", "Cone", "cnt1x", NULL);
    create_cnt(e, "cse-in/Cone/cnt1", "Cone", "sub", NULL);
    assert_int_equal(create_cin(e, "cse-in/Cone/cnt1", "Cone", "i1", "a"), RSC_CREATED);
    assert_int_equal(create_cin(e, "cse-in/Cone/cnt1/sub", "Cone", "i2", "b"), RSC_CREATED);
    assert_int_equal(create_cin(e, "cse-in/Cone/cnt1x", "Cone", "i3", "c"), RSC_CREATED);

    assert_int_equal(delete (e, "cse-in/Cone/cnt1", "Cone", &r), RSC_DELETED);
    assert_null(r.body); /* rcn 0 by default for DELETE */
    res_free(&r);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Cone/cnt1", "Cone"), RSC_NOT_FOUND);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Cone/cnt1/i1", "Cone"), RSC_NOT_FOUND);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Cone/cnt1/sub", "Cone"), RSC_NOT_FOUND);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Cone/cnt1/sub/i2", "Cone"), RSC_NOT_FOUND);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Cone/cnt1x", "Cone"), RSC_OK);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Cone/cnt1x/i3", "Cone"), RSC_OK);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Cone", "Cone"), RSC_OK);
    assert_int_equal(DELETE_RSC(e, "cse-in/Cone/cnt1", "Cone"), RSC_NOT_FOUND);
    /* the name is free again */
    create_cnt(e, "cse-in/Cone", "Cone", "cnt1", NULL);

    /* deleting an instance keeps the container's counters right */
    assert_int_equal(DELETE_RSC(e, "cse-in/Cone/cnt1x/i3", "Cone"), RSC_DELETED);
    assert_int_equal(retrieve(e, "cse-in/Cone/cnt1x", "Cone", &r), RSC_OK);
    assert_int_equal(iattr(&r, "m2m:cnt", "cni"), 0);
    assert_int_equal(iattr(&r, "m2m:cnt", "cbs"), 0);
    res_free(&r);

    /* deleting the AE deregisters it: its AE-ID is no longer an authenticated originator */
    assert_int_equal(DELETE_RSC(e, "cse-in/Cone", "Cone"), RSC_DELETED);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Cone/cnt1x", "CAdmin"), RSC_NOT_FOUND);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in", "Cone"), RSC_ORIGINATOR_NOT_AUTHENTICATED);
}

static void test_delete_rcn1_returns_resource(void **state)
{
    struct env *e = *state;
    char s1[256];
    register_ae(e, "Cone", s1, sizeof s1);
    create_cnt(e, "cse-in/Cone", "Cone", "c", NULL);
    struct cse_request req;
    req_init(&req, OP_DELETE, "cse-in/Cone/c", "Cone");
    req.rcn = 1;
    struct res r;
    assert_int_equal(call(e, &req, &r), RSC_DELETED);
    assert_string_equal(sattr(&r, "m2m:cnt", "rn"), "c");
    res_free(&r);
}

/* ---- expirationTime (TS-0001 9.6.1.3) ----------------------------------------------------------- */

static void fmt_et(struct env *e, int64_t delta, char out[TS_LEN + 1])
{
    ts_format(now_s(e) + delta, out);
}

static void test_expiry_fake_clock(void **state)
{
    struct env *e = *state;
    struct res r, tmp_;
    char s1[256], et[TS_LEN + 1], body[256];
    register_ae(e, "Cone", s1, sizeof s1);
    fmt_et(e, 5, et);
    snprintf(body, sizeof body, "{\"m2m:cnt\":{\"rn\":\"brief\",\"et\":\"%s\"}}", et);
    assert_int_equal(create(e, "cse-in/Cone", "Cone", TY_CNT, body, &r), RSC_CREATED);
    assert_string_equal(sattr(&r, "m2m:cnt", "et"), et);
    res_free(&r);
    create_cnt(e, "cse-in/Cone", "Cone", "lasting", NULL);

    advance(e, 4);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Cone/brief", "Cone"), RSC_OK);
    advance(e, 6); /* past et; the sweeper is not running */
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Cone/brief", "Cone"), RSC_NOT_FOUND);
    assert_int_equal(UPDATE_RSC(e, "cse-in/Cone/brief", "Cone", "{\"m2m:cnt\":{\"lbl\":[\"x\"]}}"), RSC_NOT_FOUND);
    assert_int_equal(DELETE_RSC(e, "cse-in/Cone/brief", "Cone"), RSC_NOT_FOUND);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Cone/lasting", "Cone"), RSC_OK);
}

static void test_expiry_bounds(void **state)
{
    struct env *e = *state;
    struct res r, tmp_;
    char et[TS_LEN + 1], body[256];
    /* an expirationTime in the past (or now) is refused */
    fmt_et(e, -1, et);
    snprintf(body, sizeof body, "{\"m2m:cnt\":{\"et\":\"%s\"}}", et);
    assert_int_equal(CREATE_RSC(e, "cse-in", "CAdmin", TY_CNT, body), RSC_BAD_REQUEST);
    fmt_et(e, 0, et);
    snprintf(body, sizeof body, "{\"m2m:cnt\":{\"et\":\"%s\"}}", et);
    assert_int_equal(CREATE_RSC(e, "cse-in", "CAdmin", TY_CNT, body), RSC_BAD_REQUEST);
    assert_int_equal(CREATE_RSC(e, "cse-in", "CAdmin", TY_CNT, "{\"m2m:cnt\":{\"et\":\"20241301T000000\"}}"),
                     RSC_BAD_REQUEST);
    /* beyond the maximum lifetime it is shortened, not refused (the CSEBase never expires) */
    assert_int_equal(
        create(e, "cse-in", "CAdmin", TY_CNT, "{\"m2m:cnt\":{\"rn\":\"long\",\"et\":\"99991231T235959\"}}", &r),
        RSC_CREATED);
    int64_t got = 0;
    assert_true(ts_parse(sattr(&r, "m2m:cnt", "et"), &got));
    assert_int_equal(got, now_s(e) + e->cfg.cse_max_lifetime);
    res_free(&r);
    /* without et and with the default cse.default_lifetime=0, the resource never expires */
    assert_int_equal(create(e, "cse-in", "CAdmin", TY_CNT, "{\"m2m:cnt\":{\"rn\":\"dflt\"}}", &r), RSC_CREATED);
    assert_string_equal(sattr(&r, "m2m:cnt", "et"), "99991231T235959");
    res_free(&r);
}

/* TS-0001 9.6.1.3: a child never outlives its parent. */
static void test_child_et_bounded_by_parent(void **state)
{
    struct env *e = *state;
    struct res r, tmp_;
    char s1[256], et[TS_LEN + 1], pet[TS_LEN + 1], body[256];
    register_ae(e, "Cone", s1, sizeof s1);
    fmt_et(e, 100, pet);
    snprintf(body, sizeof body, "{\"m2m:cnt\":{\"rn\":\"p\",\"et\":\"%s\"}}", pet);
    assert_int_equal(CREATE_RSC(e, "cse-in/Cone", "Cone", TY_CNT, body), RSC_CREATED);
    fmt_et(e, 1000, et);
    snprintf(body, sizeof body, "{\"m2m:cnt\":{\"rn\":\"c\",\"et\":\"%s\"}}", et);
    assert_int_equal(create(e, "cse-in/Cone/p", "Cone", TY_CNT, body, &r), RSC_CREATED);
    assert_string_equal(sattr(&r, "m2m:cnt", "et"), pet);
    res_free(&r);
    assert_int_equal(create_cin(e, "cse-in/Cone/p/c", "Cone", "i", "v"), RSC_CREATED);

    /* shortening the parent's lifetime by UPDATE shortens the subtree's */
    fmt_et(e, 20, pet);
    snprintf(body, sizeof body, "{\"m2m:cnt\":{\"et\":\"%s\"}}", pet);
    assert_int_equal(UPDATE_RSC(e, "cse-in/Cone/p", "Cone", body), RSC_UPDATED);
    assert_int_equal(retrieve(e, "cse-in/Cone/p/c", "Cone", &r), RSC_OK);
    assert_string_equal(sattr(&r, "m2m:cnt", "et"), pet);
    res_free(&r);
    advance(e, 21);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Cone/p", "Cone"), RSC_NOT_FOUND);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Cone/p/c", "Cone"), RSC_NOT_FOUND);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Cone/p/c/i", "Cone"), RSC_NOT_FOUND);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Cone", "Cone"), RSC_OK);
}

/* Extending et by UPDATE keeps the resource alive past its former expiry. */
static void test_expiry_extended_by_update(void **state)
{
    struct env *e = *state;
    struct res tmp_;
    char s1[256], et[TS_LEN + 1], body[256];
    register_ae(e, "Cone", s1, sizeof s1);
    fmt_et(e, 5, et);
    snprintf(body, sizeof body, "{\"m2m:cnt\":{\"rn\":\"c\",\"et\":\"%s\"}}", et);
    assert_int_equal(CREATE_RSC(e, "cse-in/Cone", "Cone", TY_CNT, body), RSC_CREATED);
    fmt_et(e, 100, et);
    snprintf(body, sizeof body, "{\"m2m:cnt\":{\"et\":\"%s\"}}", et);
    assert_int_equal(UPDATE_RSC(e, "cse-in/Cone/c", "Cone", body), RSC_UPDATED);
    advance(e, 50);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Cone/c", "Cone"), RSC_OK);
    advance(e, 51);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Cone/c", "Cone"), RSC_NOT_FOUND);
}

/* An AE whose registration expired is no longer an authenticated originator. */
static void test_expired_ae_not_authenticated(void **state)
{
    struct env *e = *state;
    struct res tmp_;
    char et[TS_LEN + 1], body[256];
    fmt_et(e, 5, et);
    snprintf(body, sizeof body, "{\"m2m:ae\":{\"api\":\"Napp\",\"rr\":false,\"et\":\"%s\"}}", et);
    assert_int_equal(CREATE_RSC(e, "cse-in", "Cbrief", TY_AE, body), RSC_CREATED);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in", "Cbrief"), RSC_OK);
    advance(e, 10);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in", "Cbrief"), RSC_ORIGINATOR_NOT_AUTHENTICATED);
}

/* TS-0001 9.6.1.3: an expired resource is deleted together with its children, so nothing below
 * it may still be served, even before the sweeper has run. */
static void test_expired_parent_hides_children(void **state)
{
    struct env *e = *state;
    struct res tmp_;
    char s1[256], et[TS_LEN + 1], body[256];
    register_ae(e, "Cone", s1, sizeof s1);
    fmt_et(e, 5, et);
    snprintf(body, sizeof body, "{\"m2m:cnt\":{\"rn\":\"brief\",\"et\":\"%s\"}}", et);
    assert_int_equal(CREATE_RSC(e, "cse-in/Cone", "Cone", TY_CNT, body), RSC_CREATED);
    assert_int_equal(create_cin(e, "cse-in/Cone/brief", "Cone", "i1", "v"), RSC_CREATED);
    advance(e, 10);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Cone/brief", "Cone"), RSC_NOT_FOUND);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Cone/brief/la", "Cone"), RSC_NOT_FOUND);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Cone/brief/i1", "Cone"), RSC_NOT_FOUND);
}

/* Once a resource has expired (RETRIEVE says 4004), its name is free for a new resource. */
static void test_expired_name_reusable(void **state)
{
    struct env *e = *state;
    struct res tmp_;
    char s1[256], et[TS_LEN + 1], body[256];
    register_ae(e, "Cone", s1, sizeof s1);
    fmt_et(e, 5, et);
    snprintf(body, sizeof body, "{\"m2m:cnt\":{\"rn\":\"again\",\"et\":\"%s\"}}", et);
    assert_int_equal(CREATE_RSC(e, "cse-in/Cone", "Cone", TY_CNT, body), RSC_CREATED);
    advance(e, 10);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Cone/again", "Cone"), RSC_NOT_FOUND);
    assert_int_equal(CREATE_RSC(e, "cse-in/Cone", "Cone", TY_CNT, "{\"m2m:cnt\":{\"rn\":\"again\"}}"), RSC_CREATED);
}

/* Same for an AE whose registration expired: its AE-ID can register again. */
static void test_expired_ae_can_register_again(void **state)
{
    struct env *e = *state;
    struct res tmp_;
    char et[TS_LEN + 1], body[256];
    fmt_et(e, 5, et);
    snprintf(body, sizeof body, "{\"m2m:ae\":{\"api\":\"Napp\",\"rr\":false,\"et\":\"%s\"}}", et);
    assert_int_equal(CREATE_RSC(e, "cse-in", "Cphoenix", TY_AE, body), RSC_CREATED);
    advance(e, 10);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in", "Cphoenix"), RSC_ORIGINATOR_NOT_AUTHENTICATED);
    assert_int_equal(CREATE_RSC(e, "cse-in", "Cphoenix", TY_AE, AE_BODY), RSC_CREATED);
}

/* ---- content decoding --------------------------------------------------------------------------- */

static void test_content_errors(void **state)
{
    struct env *e = *state;
    struct res r, tmp_;
    char s1[256];
    register_ae(e, "Cone", s1, sizeof s1);
    const char *bad[] = {
        "{\"m2m:cnt\":{",                            /* not JSON */
        "{\"m2m:cnt\":{\"rn\":\"a\",\"rn\":\"b\"}}", /* duplicate key */
        "{\"m2m:ae\":{}}",                           /* wrong root for ty 3 */
        "{\"m2m:cnt\":{},\"x\":1}",                  /* more than the root */
        "{\"m2m:cnt\":[]}",
        "{\"m2m:cnt\":{\"nosuch\":1}}", /* unknown attribute */
        "{\"m2m:cnt\":{\"mni\":-1}}",   /* wrong type */
        "{\"m2m:cnt\":{\"mni\":\"3\"}}",
        "{\"m2m:cnt\":{\"rn\":\"a/b\"}}", /* invalid resourceName */
        "{\"m2m:cnt\":{\"rn\":\"..\"}}",
        "{\"m2m:cnt\":{\"lbl\":[1]}}",
        "{\"m2m:cnt\":{\"cr\":\"Cother\"}}", /* creator is set by the CSE only */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (CREATE_RSC(e, "cse-in/Cone", "Cone", TY_CNT, bad[i]) != RSC_BAD_REQUEST)
            fail_msg("content %s was not refused with 4000", bad[i]);

    /* content that is not JSON media */
    struct cse_request req;
    req_init(&req, OP_CREATE, "cse-in/Cone", "Cone");
    req.ty = TY_CNT;
    req.body = "{\"m2m:cnt\":{}}";
    req.body_len = strlen(req.body);
    req.media = MEDIA_NONE;
    assert_int_equal(call(e, &req, &r), RSC_UNSUPPORTED_MEDIA_TYPE);
    res_free(&r);
    /* a type this CSE does not serve */
    assert_int_equal(CREATE_RSC(e, "cse-in/Cone", "Cone", 9999, "{\"m2m:x\":{}}"), RSC_BAD_REQUEST);
    /* no child of the refused requests exists */
    req_init(&req, OP_RETRIEVE, "cse-in/Cone", "Cone");
    req.rcn = 6;
    assert_int_equal(call(e, &req, &r), RSC_OK);
    assert_int_equal(json_array_size(json_object_get(json_object_get(r.body, "m2m:rrl"), "rrf")), 0);
    res_free(&r);
}

/* ---- discovery (TS-0004 7.3.3.14, 7.3.3.17) ----------------------------------------------------- */

static void test_discovery(void **state)
{
    struct env *e = *state;
    char s1[256];
    register_ae(e, "Cone", s1, sizeof s1);
    create_cnt(e, "cse-in/Cone", "Cone", "c1", "\"lbl\":[\"room/1\"]");
    create_cnt(e, "cse-in/Cone", "Cone", "c2", NULL);
    assert_int_equal(create_cin(e, "cse-in/Cone/c1", "Cone", "i1", "v"), RSC_CREATED);

    struct cse_request req;
    struct res r;
    req_init(&req, OP_RETRIEVE, "cse-in/Cone", "Cone");
    req.fc.fu = 1;
    req.fc.ty[req.fc.nty++] = TY_CNT;
    assert_int_equal(call(e, &req, &r), RSC_OK);
    json_t *uril = json_object_get(r.body, "m2m:uril");
    assert_int_equal(json_array_size(uril), 2);
    assert_string_equal(json_string_value(json_array_get(uril, 0)), "cse-in/Cone/c1");
    assert_string_equal(json_string_value(json_array_get(uril, 1)), "cse-in/Cone/c2");
    res_free(&r);

    req.fc.lbl[req.fc.nlbl++] = "room/1";
    assert_int_equal(call(e, &req, &r), RSC_OK);
    uril = json_object_get(r.body, "m2m:uril");
    assert_int_equal(json_array_size(uril), 1);
    assert_string_equal(json_string_value(json_array_get(uril, 0)), "cse-in/Cone/c1");
    res_free(&r);

    req_init(&req, OP_RETRIEVE, "cse-in/Cone", "Cone");
    req.fc.fu = 1;
    req.fc.lim = 1;
    assert_int_equal(call(e, &req, &r), RSC_OK);
    assert_int_equal(json_array_size(json_object_get(r.body, "m2m:uril")), 1);
    res_free(&r);

    /* another AE discovers nothing of Cone's */
    char s2[256];
    register_ae(e, "Ctwo", s2, sizeof s2);
    req_init(&req, OP_RETRIEVE, "cse-in", "Ctwo");
    req.fc.fu = 1;
    assert_int_equal(call(e, &req, &r), RSC_OK);
    uril = json_object_get(r.body, "m2m:uril");
    size_t i;
    json_t *u;
    json_array_foreach(uril, i, u)
    {
        if (strncmp(json_string_value(u), "cse-in/Cone/", 12) == 0)
            fail_msg("Ctwo discovered %s", json_string_value(u));
    }
    res_free(&r);
}

/* ---- inside a security association (TS-0003 7.2, TS-0004 7.3.2.1 steps 3-4) ------------------- */

/* One request in a TLS-PSK security association bound to the given canonical IDs. */
static int sa_call(struct env *e, enum cse_op op, const char *to, const char *fr, int ty, const char *body,
                   const char *const *ids, int nids, struct res *out)
{
    struct cse_request req;
    req_init(&req, op, to, fr);
    req.ty = ty;
    if (body)
        req_content(&req, body);
    req.sec.sa = SA_TLS_PSK;
    req.sec.cred_id = "psk:dev@warden.example.com";
    for (int i = 0; i < nids; i++)
        req.sec.ids[i] = ids[i];
    req.sec.nids = nids;
    return call(e, &req, out);
}
#define SA_RSC(e, op, to, fr, ty, body, ids, n)                                                                        \
    (sa_call((e), (op), (to), (fr), (ty), (body), (ids), (n), &tmp_), status_of(tmp_.rsc, &tmp_))

static void test_ts0003_7_2_sa_bound_ae(void **state)
{
    struct env *e = *state;
    struct res tmp_;
    const char *dev[] = {"//warden.example.com/id-in/Cdev"};
    char other[256];
    register_ae(e, "Cother", other, sizeof other);
    /* authenticated is not registered: nothing but the registration before it */
    assert_int_equal(SA_RSC(e, OP_RETRIEVE, "cse-in", "Cdev", 0, NULL, dev, 1), RSC_ORIGINATOR_NOT_AUTHENTICATED);
    /* registration only as the bound AE-ID */
    assert_int_equal(SA_RSC(e, OP_CREATE, "cse-in", "C", TY_AE, AE_BODY, dev, 1), RSC_ORIGINATOR_NOT_AUTHENTICATED);
    assert_int_equal(SA_RSC(e, OP_CREATE, "cse-in", "Cx", TY_AE, AE_BODY, dev, 1), RSC_ORIGINATOR_NOT_AUTHENTICATED);
    assert_int_equal(SA_RSC(e, OP_CREATE, "cse-in", NULL, TY_AE, AE_BODY, dev, 1), RSC_ORIGINATOR_NOT_AUTHENTICATED);
    assert_int_equal(SA_RSC(e, OP_CREATE, "cse-in", "Cdev", TY_AE, AE_BODY, dev, 1), RSC_CREATED);
    /* then From must be that AE, in any form; anyone else is 4106, registered or not, admin included */
    assert_int_equal(SA_RSC(e, OP_RETRIEVE, "cse-in/Cdev", "Cdev", 0, NULL, dev, 1), RSC_OK);
    assert_int_equal(SA_RSC(e, OP_RETRIEVE, "cse-in/Cdev", "/id-in/Cdev", 0, NULL, dev, 1), RSC_OK);
    assert_int_equal(SA_RSC(e, OP_RETRIEVE, "cse-in/Cdev", "Cother", 0, NULL, dev, 1),
                     RSC_ORIGINATOR_NOT_AUTHENTICATED);
    assert_int_equal(SA_RSC(e, OP_RETRIEVE, "cse-in", "Cnobody", 0, NULL, dev, 1), RSC_ORIGINATOR_NOT_AUTHENTICATED);
    assert_int_equal(SA_RSC(e, OP_RETRIEVE, "cse-in", "CAdmin", 0, NULL, dev, 1), RSC_ORIGINATOR_NOT_AUTHENTICATED);
    assert_int_equal(SA_RSC(e, OP_RETRIEVE, "cse-in", "/id-mn", 0, NULL, dev, 1), RSC_ORIGINATOR_NOT_AUTHENTICATED);
    /* the same AE outside the SA is still a registered AE (dev profile) */
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/Cdev", "Cdev"), RSC_OK);
}

static void test_ts0003_7_2_sa_bound_admin(void **state)
{
    struct env *e = *state;
    struct res tmp_;
    const char *admin[] = {"//warden.example.com/id-in/CAdmin"};
    assert_int_equal(SA_RSC(e, OP_RETRIEVE, "cse-in", "CAdmin", 0, NULL, admin, 1), RSC_OK);
    assert_int_equal(SA_RSC(e, OP_RETRIEVE, "cse-in", "Cdev", 0, NULL, admin, 1), RSC_ORIGINATOR_NOT_AUTHENTICATED);
}

static void test_ts0004_7_3_2_1_sa_bound_cse(void **state)
{
    struct env *e = *state;
    struct res tmp_;
    const char *mn[] = {"//warden.example.com/id-mn"};
    char local[256];
    register_ae(e, "Clocal", local, sizeof local);
    /* the bound CSE itself passes the originator check (what it may do is then up to the policies) */
    int rsc = SA_RSC(e, OP_RETRIEVE, "cse-in", "/id-mn", 0, NULL, mn, 1);
    assert_true(rsc != RSC_ORIGINATOR_NOT_AUTHENTICATED && rsc != RSC_SECURITY_ASSOCIATION_REQUIRED);
    /* another CSE, or an AE registered here, is 4106 */
    assert_int_equal(SA_RSC(e, OP_RETRIEVE, "cse-in", "/id-other", 0, NULL, mn, 1), RSC_ORIGINATOR_NOT_AUTHENTICATED);
    assert_int_equal(SA_RSC(e, OP_RETRIEVE, "cse-in", "Clocal", 0, NULL, mn, 1), RSC_ORIGINATOR_NOT_AUTHENTICATED);
    /* a C-type AE-ID under the bound CSE, or an S-type AE-ID registered elsewhere, may be relayed */
    rsc = SA_RSC(e, OP_RETRIEVE, "cse-in", "/id-mn/Cfield", 0, NULL, mn, 1);
    assert_true(rsc != RSC_ORIGINATOR_NOT_AUTHENTICATED);
    rsc = SA_RSC(e, OP_RETRIEVE, "cse-in", "/Sroaming", 0, NULL, mn, 1);
    assert_true(rsc != RSC_ORIGINATOR_NOT_AUTHENTICATED);
    /* but not a C-type AE-ID of a third CSE */
    assert_int_equal(SA_RSC(e, OP_RETRIEVE, "cse-in", "/id-x/Cfield", 0, NULL, mn, 1),
                     RSC_ORIGINATOR_NOT_AUTHENTICATED);
}

static void test_ts0003_8_2_2_1_bind_at_registration(void **state)
{
    struct env *e = *state;
    struct res r, tmp_;
    char err[256];
    struct cred_store *cs = cred_open(e->path, err, sizeof err);
    assert_non_null(cs);
    e->cse.creds = cs;
    e->cse.backend = backend_sqlite_over(e->st, cs);
    const unsigned char key[16] = {1, 2, 3};
    assert_int_equal(cred_psk_add(cs, "dev@warden.example.com", key, sizeof key, ""), CRED_OK);
    /* before registration nothing but an AE create is accepted */
    assert_int_equal(SA_RSC(e, OP_RETRIEVE, "cse-in", "CAdmin", 0, NULL, NULL, 0), RSC_ORIGINATOR_NOT_AUTHENTICATED);
    assert_int_equal(sa_call(e, OP_CREATE, "cse-in", "C", TY_AE, AE_BODY, NULL, 0, &r), RSC_CREATED);
    char canon[300];
    snprintf(canon, sizeof canon, "//warden.example.com/id-in/%s", sattr(&r, "m2m:ae", "ri"));
    res_free(&r);
    struct cred_psk_info info;
    assert_int_equal(cred_psk_get(cs, "dev@warden.example.com", &info), CRED_OK);
    assert_string_equal(info.binding, canon);
    /* a second registration over the same key (a connection that still saw it unbound) binds nothing
     * and leaves no AE behind: the AE and the binding commit together */
    assert_int_equal(sa_call(e, OP_CREATE, "cse-in", "C", TY_AE,
                             "{\"m2m:ae\":{\"rn\":\"second\",\"api\":\"Napp\",\"rr\":false}}", NULL, 0, &r),
                     RSC_ORIGINATOR_NOT_AUTHENTICATED);
    res_free(&r);
    assert_int_equal(RETRIEVE_RSC(e, "cse-in/second", "CAdmin"), RSC_NOT_FOUND);
    assert_int_equal(cred_psk_get(cs, "dev@warden.example.com", &info), CRED_OK);
    assert_string_equal(info.binding, canon);
    e->cse.creds = NULL;
    e->cse.backend->ops->close(e->cse.backend); /* not owned: the stores stay */
    e->cse.backend = NULL;
    cred_close(cs);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_ae_registration_allocates_c_id),
        T(test_ae_registration_s_and_absent_from),
        T(test_ae_registration_explicit_stem),
        T(test_ae_registration_content_rules),
        T(test_unregistered_ae_4106),
        T(test_cse_originator_needs_sa_4107),
        T(test_missing_or_malformed_from_4000),
        T(test_bad_primitive),
        T(test_addressing_forms),
        T(test_container_and_content_instance),
        T(test_content_instance_rules),
        T(test_mni_eviction),
        T(test_mbs),
        T(test_cin_update_4005),
        T(test_container_update),
        T(test_other_ae_4103),
        T(test_admin_access),
        T(test_admin_resources_private),
        T(test_duplicate_rn_4105),
        T(test_delete_subtree),
        T(test_delete_rcn1_returns_resource),
        T(test_expiry_fake_clock),
        T(test_expiry_bounds),
        T(test_child_et_bounded_by_parent),
        T(test_expiry_extended_by_update),
        T(test_expired_ae_not_authenticated),
        T(test_expired_parent_hides_children),
        T(test_expired_name_reusable),
        T(test_expired_ae_can_register_again),
        T(test_content_errors),
        T(test_discovery),
        T(test_ts0003_7_2_sa_bound_ae),
        T(test_ts0003_7_2_sa_bound_admin),
        T(test_ts0004_7_3_2_1_sa_bound_cse),
        T(test_ts0003_8_2_2_1_bind_at_registration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
