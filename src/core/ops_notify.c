/* ops_notify: NOTIFY as a request (TS-0004 §7.3.3.9): to the <CSEBase>, the Content is processed
 * as a notification (§7.5.1); to an <AE>, the request is re-targeted to the AE's pointOfAccess
 * (§7.3.3.9.1), each address in turn, and the AE's answer relayed (5103 TARGET_NOT_REACHABLE when no
 * address answers). Both need the NOTIFY privilege on the target, decided like any operation. */
#include <string.h>

#include "core_int.h"
#include "encoding/json.h"
#include "notify/notify.h"
#include "rsc.h"
#include "util/mem.h"

/* TS-0004 §7.5.1, Table 7.5.2-1: m2m:sgn (notification), m2m:agn (aggregated notification: a
 * list of m2m:sgn). NULL when valid, else what is wrong. */
static const char *sgn_problem(const json_t *sgn)
{
    if (!json_is_object(sgn))
        return "m2m:sgn must be an object";
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)sgn, k, v)
    {
        if (strcmp(k, "vrq") == 0 || strcmp(k, "sud") == 0) {
            if (!json_is_boolean(v))
                return "vrq and sud are booleans";
        } else if (strcmp(k, "sur") == 0 || strcmp(k, "cr") == 0 || strcmp(k, "nfu") == 0) {
            if (!json_is_string(v))
                return "sur, cr and nfu are strings";
        } else if (strcmp(k, "nev") == 0) {
            const json_t *net = json_object_get(v, "net");
            if (!json_is_object(v) || (net != NULL && !json_is_integer(net)))
                return "nev is an object {rep, net} with an integer net";
        } else if (strcmp(k, "nec") != 0 && strcmp(k, "sus") != 0) {
            return "m2m:sgn holds only nev, vrq, sud, sur, cr, nfu, nec, sus";
        }
    }
    if (json_object_get(sgn, "nev") == NULL && !json_is_true(json_object_get(sgn, "vrq")) &&
        !json_is_true(json_object_get(sgn, "sud")))
        return "a notification carries an event (nev), a verification request (vrq) or a deletion (sud)";
    return NULL;
}

static const char *content_problem(const json_t *root)
{
    if (!json_is_object(root) || json_object_size(root) != 1)
        return "the Content of a NOTIFY is {\"m2m:sgn\": {...}} or {\"m2m:agn\": {\"m2m:sgn\": [...]}}";
    const json_t *sgn = json_object_get(root, "m2m:sgn");
    if (sgn != NULL)
        return sgn_problem(sgn);
    const json_t *agn = json_object_get(root, "m2m:agn");
    const json_t *list = json_object_get(agn, "m2m:sgn");
    if (!json_is_object(agn) || json_object_size(agn) != 1 || !json_is_array(list) || json_array_size(list) == 0)
        return "m2m:agn is {\"m2m:sgn\": [one or more notifications]}";
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *p = sgn_problem(e);
        if (p)
            return p;
    }
    return NULL;
}

/* A NOTIFY re-targeted to an AE: the addresses still to try. */
struct retarget {
    struct cse *cse;
    struct cse_response *rsp;
    char *body;
    size_t len;
    char *originator;
    json_t *poa; /* http(s) addresses of the AE */
    size_t next;
    void (*done)(void *arg);
    void *done_arg;
};

static void retarget_free(struct retarget *r)
{
    json_decref(r->poa);
    mem_free(r->body);
    mem_free(r->originator);
    mem_free(r);
}

static void retarget_answer(void *arg, const struct notify_result *res);

/* Send to the next address; false when none is left (or none could be queued). */
static bool retarget_next(struct retarget *r)
{
    while (r->next < json_array_size(r->poa)) {
        const char *url = json_string_value(json_array_get(r->poa, r->next++));
        if (r->cse->notifier &&
            notify_send(r->cse->notifier, url, r->body, r->len, r->originator, retarget_answer, r) == 0)
            return true;
    }
    return false;
}

/* On the delivery thread: the AE answered (its status is relayed), or try the next address. */
static void retarget_answer(void *arg, const struct notify_result *res)
{
    struct retarget *r = arg;
    if (res->http_status == 0 && retarget_next(r))
        return;
    if (res->http_status != 0) {
        int rsc = res->rsc ? res->rsc : RSC_OK;
        if (rsc_is_success(rsc))
            r->rsp->rsc = rsc;
        else
            response_error(r->rsp, rsc, "ae-answer", "the AE answered the forwarded NOTIFY with %d", rsc);
    } else {
        response_error(r->rsp, RSC_TARGET_NOT_REACHABLE, "ae-unreachable",
                       "no pointOfAccess of the AE accepted the NOTIFY");
    }
    void (*done)(void *) = r->done;
    void *done_arg = r->done_arg;
    retarget_free(r);
    done(done_arg);
}

enum cse_status op_notify(struct op_ctx *c)
{
    const struct store_row *row = &c->tgt->row;
    if (c->tgt->virt != VIRT_NONE || (row->ty != TY_CSEBASE && row->ty != TY_AE)) {
        response_error(c->rsp, RSC_OPERATION_NOT_ALLOWED, "notify-target",
                       "a NOTIFY targets a <CSEBase> or an <AE> (TS-0004 §7.3.3.9)");
        return CSE_DONE;
    }
    if (op_authorize(c, ACOP_NOTIFY, row, 0) != 0)
        return CSE_DONE;
    if (c->req->media != MEDIA_JSON || c->req->body_len == 0) {
        response_error(c->rsp, RSC_BAD_REQUEST, "bad-content", "a NOTIFY carries a notification as its Content");
        return CSE_DONE;
    }
    char err[160];
    json_t *root = json_decode_body(c->req->body, c->req->body_len, err, sizeof err);
    if (root == NULL) {
        response_error(c->rsp, RSC_BAD_REQUEST, "bad-content", "%s", err);
        return CSE_DONE;
    }
    if (row->ty == TY_CSEBASE) { /* §7.3.3.9.2: processed here; no subscription of this CSE elsewhere */
        const char *why = content_problem(root);
        json_decref(root);
        if (why)
            response_error(c->rsp, RSC_BAD_REQUEST, "bad-notification", "%s", why);
        else
            c->rsp->rsc = RSC_OK;
        return CSE_DONE;
    }
    /* §7.3.3.9.1: re-target to the AE's pointOfAccess, first reachable address */
    json_t *doc = json_loads(row->doc, 0, NULL);
    json_t *poa = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(doc, "poa"), i, p)
    {
        const char *s = json_string_value(p);
        if (s && (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0))
            json_array_append(poa, p);
    }
    json_decref(doc);
    if (!json_is_object(root)) {
        json_decref(root);
        json_decref(poa);
        response_error(c->rsp, RSC_BAD_REQUEST, "bad-content", "the Content of a NOTIFY is a JSON object");
        return CSE_DONE;
    }
    struct retarget *r = mem_calloc(1, sizeof *r);
    r->cse = c->cse;
    r->rsp = c->rsp;
    r->body = json_encode(root, &r->len);
    r->originator = mem_strdup(c->req->fr ? c->req->fr : c->cse->cfg->cse_id);
    r->poa = poa;
    r->done = c->done;
    r->done_arg = c->done_arg;
    json_decref(root);
    if (retarget_next(r))
        return CSE_PENDING;
    retarget_free(r);
    response_error(c->rsp, RSC_TARGET_NOT_REACHABLE, "ae-unreachable", "the AE has no reachable pointOfAccess");
    return CSE_DONE;
}
