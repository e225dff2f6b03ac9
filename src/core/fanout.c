/* fanout: requests to a <group>'s virtual fanOutPoint (TS-0001 §10.2.7.7, TS-0004 §7.4.14). Access
 * to the fanOutPoint is decided by the group's membersAccessControlPolicyIDs (its acpi when it has
 * none); each member request then goes through the whole dispatch pipeline with the original
 * originator, so every member's own policies decide for that member. The member responses are
 * aggregated into one m2m:agr response with status OK. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "core_int.h"
#include "encoding/json.h"
#include "rsc.h"
#include "util/buf.h"
#include "util/mem.h"

struct fan;

struct member {
    struct fan *fan;
    char *id; /* the memberID, reported as the member response's From */
    char *to; /* memberID + the path after fopt */
    struct cse_request req;
    struct cse_response rsp;
};

struct fan {
    struct cse *cse;
    struct cse_response *rsp;
    void (*done)(void *arg);
    void *done_arg;
    atomic_int pending; /* members not yet answered, plus one held while issuing */
    size_t n;
    struct member *m;
    const char *rqi;
};

static enum acop acop_of(const struct cse_request *req)
{
    switch (req->op) {
    case OP_CREATE: return ACOP_CREATE;
    case OP_UPDATE: return ACOP_UPDATE;
    case OP_DELETE: return ACOP_DELETE;
    case OP_NOTIFY: return ACOP_NOTIFY;
    default: return req->fc.fu == 1 ? ACOP_DISCOVERY : ACOP_RETRIEVE;
    }
}

static void aggregate(struct fan *f)
{
    json_t *list = json_array();
    for (size_t i = 0; i < f->n; i++) {
        struct member *m = &f->m[i];
        json_t *r = json_pack("{s:i, s:s, s:s}", "rsc", m->rsp.rsc, "rqi", f->rqi, "fr", m->id);
        if (m->rsp.body) {
            json_t *pc = json_loadb(m->rsp.body, m->rsp.body_len, 0, NULL);
            if (pc)
                json_object_set_new(r, "pc", pc);
        } else if (m->rsp.message) {
            json_object_set_new(r, "pc", json_pack("{s:s}", "m2m:dbg", m->rsp.message));
        }
        json_array_append_new(list, r);
    }
    json_t *agr = json_pack("{s:{s:o}}", "m2m:agr", "m2m:rsp", list);
    f->rsp->body = json_encode(agr, &f->rsp->body_len);
    json_decref(agr);
    f->rsp->rsc = RSC_OK; /* TS-0004 §7.4.14.2.5: OK whatever the members answered */
}

static void fan_free(struct fan *f)
{
    for (size_t i = 0; i < f->n; i++) {
        mem_free(f->m[i].id);
        mem_free(f->m[i].to);
        response_free(&f->m[i].rsp);
    }
    mem_free(f->m);
    mem_free(f);
}

/* One member answered (on whichever thread completed it). The last one out aggregates. */
static void member_answered(struct fan *f)
{
    if (atomic_fetch_sub(&f->pending, 1) != 1)
        return;
    aggregate(f);
    void (*done)(void *) = f->done;
    void *done_arg = f->done_arg;
    fan_free(f);
    done(done_arg);
}

/* A parked member request's done(): complete its response, then count it. */
static void member_done(void *arg)
{
    struct member *m = arg;
    cse_complete(m->fan->cse, &m->req, &m->rsp);
    member_answered(m->fan);
}

enum cse_status op_fanout(struct op_ctx *c)
{
    const struct store_row *grp = &c->tgt->row;
    const struct cse_request *req = c->req;
    if (req->fanout_depth >= LIMIT_FANOUT_DEPTH) {
        response_error(c->rsp, RSC_BAD_REQUEST, "fanout-depth", "group fan-out nested deeper than %d",
                       LIMIT_FANOUT_DEPTH);
        return CSE_DONE;
    }
    json_t *doc = json_loads(grp->doc, 0, NULL);
    /* the fanOutPoint is governed by macp (TS-0001 §9.6.13), the group's own acpi without it */
    struct store_row gate;
    store_row_copy(&gate, grp);
    const json_t *macp = json_object_get(doc, "macp");
    int rc = 0;
    if (json_is_array(macp)) {
        mem_free(gate.acpi);
        gate.acpi = NULL;
        rc = acpi_resolve(c, macp, false, &gate.acpi);
    }
    if (rc == 0)
        rc = op_authorize(c, acop_of(req), &gate, req->op == OP_CREATE ? req->ty : 0);
    store_row_free(&gate);
    const json_t *mid = json_object_get(doc, "mid");
    if (rc == 0 && json_array_size(mid) == 0)
        rc = response_error(c->rsp, 4109, "no-members", "the group has no members");
    if (rc != 0) {
        json_decref(doc);
        return CSE_DONE;
    }

    struct fan *f = mem_calloc(1, sizeof *f);
    f->cse = c->cse;
    f->rsp = c->rsp;
    f->done = c->done;
    f->done_arg = c->done_arg;
    f->rqi = req->rqi;
    f->n = json_array_size(mid);
    f->m = mem_calloc(f->n, sizeof *f->m);
    atomic_init(&f->pending, (int)f->n + 1);
    for (size_t i = 0; i < f->n; i++) {
        struct member *m = &f->m[i];
        m->fan = f;
        m->id = mem_strdup(json_string_value(json_array_get(mid, i)));
        struct buf to;
        buf_init(&to);
        buf_puts(&to, m->id);
        if (c->tgt->rest && c->tgt->rest[0]) {
            buf_putc(&to, '/');
            buf_puts(&to, c->tgt->rest);
        }
        m->to = buf_take(&to, NULL);
        m->req = *req;
        m->req.to = m->to;
        m->req.fanout_depth = req->fanout_depth + 1;
        response_init(&m->rsp);
    }
    json_decref(doc);

    /* member requests take views of their own: give ours back first so nested dispatches can
     * never exhaust the pool */
    c->cse->store->ops->view_release(c->cse->store, c->view);
    c->view = NULL;
    for (size_t i = 0; i < f->n; i++)
        if (cse_dispatch(c->cse, &f->m[i].req, &f->m[i].rsp, member_done, &f->m[i]) == CSE_DONE)
            member_answered(f);
    if (atomic_fetch_sub(&f->pending, 1) != 1)
        return CSE_PENDING;
    aggregate(f); /* every member answered synchronously */
    fan_free(f);
    return CSE_DONE;
}
