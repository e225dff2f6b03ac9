/* ops_notify: a NOTIFY request primitive received for a resource of this CSE (TS-0004 §7.3.3.9).
 * To an <AE>: after the authorization (NOTIFY, acop 16, on the <AE>), the primitive is re-targeted
 * to the AE's pointOfAccess through the outbound seam, From unchanged, the first address that
 * answers wins (§7.3.3.9.1); the request is parked meanwhile. This is how a notification of a
 * subscription hosted on another CSE reaches an AE registered here. Any other target: 4005. */
#include <string.h>

#include "core/outbound.h"
#include "core_int.h"
#include "rsc.h"
#include "util/log.h"
#include "util/mem.h"

#define POA_MAX 8

struct retarget {
    struct cse *cse;
    struct cse_response *rsp;
    void (*done)(void *);
    void *done_arg;
    char *fr, *rqi, *body;
    size_t len;
    char *poa[POA_MAX];
    int npoa, next;
};

static void retarget_free(struct retarget *r)
{
    for (int i = 0; i < r->npoa; i++)
        mem_free(r->poa[i]);
    mem_free(r->fr);
    mem_free(r->rqi);
    mem_free(r->body);
    mem_free(r);
}

static void try_next(struct retarget *r);

static void answered(void *arg, const struct out_response *res)
{
    struct retarget *r = arg;
    if (res->http_status == 0 && r->next < r->npoa) { /* not reachable there: the next address */
        try_next(r);
        return;
    }
    if (res->http_status == 0)
        response_error(r->rsp, RSC_TARGET_NOT_REACHABLE, "target-not-reachable",
                       "no pointOfAccess of the AE answered the notification");
    else
        r->rsp->rsc = res->rsc;
    void (*done)(void *) = r->done;
    void *done_arg = r->done_arg;
    retarget_free(r);
    done(done_arg);
}

/* Send to the next address; when none is left or none can be sent to, finish with 5103. */
static void try_next(struct retarget *r)
{
    while (r->next < r->npoa) {
        const char *uri = r->poa[r->next++];
        struct out_request rq = {
            .op = OP_NOTIFY, .fr = r->fr, .rqi = r->rqi, .body = r->body, .len = r->len, .max_attempts = 1};
        if (outbound_send(r->cse->outbound, uri, &rq, answered, r) == 0)
            return;
    }
    struct out_response none = {.rsc = RSC_TARGET_NOT_REACHABLE};
    answered(r, &none);
}

enum cse_status op_notify(struct op_ctx *c)
{
    const struct store_row *row = &c->tgt->row;
    if (c->tgt->virt != VIRT_NONE || row->ty != TY_AE) {
        response_error(c->rsp, RSC_OPERATION_NOT_ALLOWED, "notify-unsupported",
                       "NOTIFY is supported for an <AE> only (re-targeted to its pointOfAccess)");
        return CSE_DONE;
    }
    if (op_authorize(c, ACOP_NOTIFY, row, 0) != 0)
        return CSE_DONE;
    struct retarget *r = mem_calloc(1, sizeof *r);
    json_t *doc = json_loads(row->doc ? row->doc : "", 0, NULL);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(doc, "poa"), i, p)
    {
        const char *s = json_string_value(p);
        if (s != NULL && strstr(s, "://") != NULL && r->npoa < POA_MAX)
            r->poa[r->npoa++] = mem_strdup(s);
    }
    json_decref(doc);
    if (r->npoa == 0 || c->cse->outbound == NULL) {
        retarget_free(r);
        /* TS-0004 §7.3.3.9.1: no pointOfAccess (Warden has no <pollingChannel>) */
        response_error(c->rsp, RSC_TARGET_NOT_REACHABLE, "no-poa", "the AE has no pointOfAccess to notify");
        return CSE_DONE;
    }
    r->cse = c->cse;
    r->rsp = c->rsp;
    r->done = c->done;
    r->done_arg = c->done_arg;
    r->fr = mem_strdup(c->req->fr ? c->req->fr : c->cse->cfg->cse_id);
    r->rqi = mem_strdup(c->req->rqi);
    r->body = mem_alloc(c->req->body_len + 1);
    if (c->req->body_len > 0)
        memcpy(r->body, c->req->body, c->req->body_len);
    r->len = c->req->body_len;
    try_next(r);
    return CSE_PENDING;
}
