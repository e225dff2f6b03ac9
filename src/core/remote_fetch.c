/* remote_fetch: resources on other CSEs that a resource type's hook needs to decide a request
 * (a <group>'s members whose memberType must be validated on their own Hosting CSE, TS-0004
 * §7.4.13.2.1: "the Hosting CSE may retrieve the member resources"). A hook asks for them through
 * its resolver's resolve_remote (op_resolve_remote); on the first pass nothing has been retrieved,
 * so the operation, once its hook returned, parks on retrieving them (remote_fetch_park): one
 * RETRIEVE per address through the route step and the outbound seam, over the hop-by-hop security
 * association, with From the originator (the member's CSE decides what it may see). When every one
 * has answered, the request runs again (CONT_AGAIN, park.h) and the hook finds the answers
 * (rsp->fetched): the retrieved resource, or why there is none. No thread waits meanwhile. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core_int.h"
#include "encoding/json.h"
#include "route.h"
#include "rsc.h"
#include "util/mem.h"

#define FETCH_MAX                                                                                                      \
    64 /* remote resources one request may ask for: a group's maxNrOfMembers is larger,                                \
        * but the members beyond are left unvalidated (memberTypeValidated false) */

/* What a hook asked for on the first pass (op_ctx.want). */
struct remote_want {
    char *addr[FETCH_MAX];
    int n;
};

/* The answers, kept in the response while the request runs again (rsp->fetched). */
struct fetched {
    int n;
    struct {
        char *addr;
        int rsc;   /* the remote answer's status; RSC_TARGET_NOT_REACHABLE when it never came */
        char *doc; /* the resource's attributes (JSON object text) on 2000, else NULL */
        int ty;
    } e[FETCH_MAX];
};

void remote_want_free(struct remote_want *w)
{
    if (w == NULL)
        return;
    for (int i = 0; i < w->n; i++)
        mem_free(w->addr[i]);
    mem_free(w);
}

void fetched_free(struct fetched *f)
{
    if (f == NULL)
        return;
    for (int i = 0; i < f->n; i++) {
        mem_free(f->e[i].addr);
        mem_free(f->e[i].doc);
    }
    mem_free(f);
}

int op_resolve_remote(void *arg, const char *addr, struct store_row *out)
{
    struct op_ctx *c = arg;
    int rc = op_resolve(arg, addr, out);
    if (rc != RESOLVE_ON_OTHER_CSE)
        return rc;
    const struct fetched *f = c->rsp->fetched;
    if (f != NULL) { /* the second pass: what the member's CSE answered */
        for (int i = 0; i < f->n; i++) {
            if (strcmp(f->e[i].addr, addr) != 0)
                continue;
            if (f->e[i].rsc == RSC_OK && f->e[i].doc != NULL) {
                memset(out, 0, sizeof *out);
                out->ty = f->e[i].ty;
                /* the identity within this CSE's view: the member's CSE and its resourceID there */
                json_t *doc = json_loads(f->e[i].doc, 0, NULL);
                const char *ri = json_string_value(json_object_get(doc, "ri"));
                char csi[LIMIT_NAME_LEN + 2] = "";
                op_addr_remote(c, addr, csi, sizeof csi);
                size_t len = strlen(csi) + (ri ? strlen(ri) : strlen(addr)) + 2;
                out->ri = mem_alloc(len);
                snprintf(out->ri, len, "%s%s%s", ri && csi[0] ? csi : "", ri && csi[0] ? "/" : "", ri ? ri : addr);
                json_decref(doc);
                out->doc = mem_strdup(f->e[i].doc);
                return 0;
            }
            /* refused or missing there: for the hook the same as a missing resource here */
            if (f->e[i].rsc != RSC_TARGET_NOT_REACHABLE && f->e[i].rsc != RSC_REQUEST_TIMEOUT)
                return RSC_NOT_FOUND;
            return RESOLVE_ON_OTHER_CSE; /* unreachable: not validated */
        }
        return RESOLVE_ON_OTHER_CSE;
    }
    /* cannot wait for it, or must not ask (an ESPrim inner request never leaves this CSE, route.c):
     * not validated */
    if (!cont_can_park(&c->k) || c->req->sec.sa == SA_ESPRIM)
        return RESOLVE_ON_OTHER_CSE;
    if (c->want == NULL)
        c->want = mem_calloc(1, sizeof *c->want);
    for (int i = 0; i < c->want->n; i++)
        if (strcmp(c->want->addr[i], addr) == 0)
            return RESOLVE_ON_OTHER_CSE;
    if (c->want->n < FETCH_MAX)
        c->want->addr[c->want->n++] = mem_strdup(addr);
    return RESOLVE_ON_OTHER_CSE;
}

/* ---- the retrievals ---- */

struct fetch;

struct fetch_one {
    struct fetch *f;
    char *to;
    char rqi[LIMIT_ID_LEN + 8];
    struct cse_request req;
    struct cse_response rsp;
};

struct fetch {
    struct cse_cont k; /* the request, parked on its retrievals */
    atomic_int pending;
    int n;
    struct fetch_one one[FETCH_MAX];
};

static void fetch_done(struct fetch *f)
{
    struct fetched *r = mem_calloc(1, sizeof *r);
    for (int i = 0; i < f->n; i++) {
        struct fetch_one *o = &f->one[i];
        r->e[i].addr = o->to;
        o->to = NULL;
        r->e[i].rsc = o->rsp.rsc ? o->rsp.rsc : RSC_TARGET_NOT_REACHABLE;
        if (r->e[i].rsc == RSC_OK && o->rsp.body != NULL) {
            /* {"m2m:<sn>": {...}}: the type from the attributes (ty), else from the root's name */
            json_t *root = json_loadb(o->rsp.body, o->rsp.body_len, 0, NULL);
            const char *key = NULL;
            json_t *inner = NULL;
            if (json_is_object(root) && json_object_size(root) == 1) {
                void *it = json_object_iter(root);
                key = json_object_iter_key(it);
                inner = json_object_iter_value(it);
            }
            if (json_is_object(inner)) {
                int ty = (int)json_integer_value(json_object_get(inner, "ty"));
                const struct rtype *t = ty == 0 && key && strncmp(key, "m2m:", 4) == 0 ? rtype_find_sn(key + 4) : NULL;
                r->e[i].ty = ty ? ty : t ? t->ty : 0;
                r->e[i].doc = json_dumps(inner, JSON_COMPACT);
            }
            json_decref(root);
            if (r->e[i].ty == 0) /* an answer that names no type validates nothing */
                r->e[i].rsc = RSC_TARGET_NOT_REACHABLE;
        }
        response_free(&o->rsp);
    }
    r->n = f->n;
    struct cse_cont k = f->k;
    mem_free(f);
    k.rsp->fetched = r;
    cont_resume(&k, CONT_AGAIN); /* the hook runs again with the answers */
}

static void one_answered(void *arg)
{
    struct fetch_one *o = arg;
    struct fetch *f = o->f;
    if (atomic_fetch_sub(&f->pending, 1) == 1)
        fetch_done(f);
}

bool remote_fetch_park(struct op_ctx *c, enum cse_status *st)
{
    struct remote_want *w = c->want;
    c->want = NULL;
    if (w == NULL || w->n == 0 || c->rsp->fetched != NULL) {
        remote_want_free(w);
        return false;
    }
    struct fetch *f = mem_calloc(1, sizeof *f);
    if (!op_park(c, PARK_FETCH, &f->k)) {
        mem_free(f);
        remote_want_free(w);
        return false;
    }
    /* what the hook decided without the answers is dropped: it decides again with them (a DAS's
     * answer, if the request had one, is kept) */
    struct das_outcome *das = c->rsp->das;
    c->rsp->das = NULL;
    response_free(c->rsp);
    response_init(c->rsp);
    c->rsp->das = das;
    f->n = w->n;
    atomic_init(&f->pending, f->n + 1);
    for (int i = 0; i < w->n; i++) {
        struct fetch_one *o = &f->one[i];
        o->f = f;
        o->to = w->addr[i]; /* as the hook asked (a "<group>/fopt" member: the group itself) */
        w->addr[i] = NULL;
        request_init(&o->req);
        o->req.op = OP_RETRIEVE;
        o->req.to = o->to;
        o->req.fr = c->req->fr;
        o->req.rvi = c->req->rvi;
        o->req.sec = c->req->sec;
        snprintf(o->rqi, sizeof o->rqi, "%s-m%d", c->req->rqi, i);
        o->req.rqi = o->rqi;
        response_init(&o->rsp);
        struct route rt;
        struct cse_cont ok = {.cse = c->cse, .req = &o->req, .rsp = &o->rsp, .done = one_answered, .arg = o};
        enum cse_status s = CSE_DONE;
        if (route_request(c->cse, c->view, &o->req, &rt, &o->rsp) == 0 && rt.kind == ROUTE_REMOTE)
            s = route_forward(&ok, c->orig, &rt);
        else if (o->rsp.rsc == 0)
            o->rsp.rsc = RSC_TARGET_NOT_REACHABLE;
        if (s == CSE_DONE)
            one_answered(o);
    }
    remote_want_free(w);
    *st = CSE_PENDING;
    one_answered(&f->one[0]); /* the count held while sending; may resume the request now */
    return true;
}
