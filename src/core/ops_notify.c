/* ops_notify: a NOTIFY request primitive received for a resource of this CSE (TS-0004 §7.3.3.9),
 * after the route step (a NOTIFY for a resource of another CSE is forwarded there, route.c) and
 * with the NOTIFY privilege (acop 16) on the target decided like any operation:
 * - to the <CSEBase>, the Content is processed as a notification (§7.3.3.9.2, §7.5.1): checked;
 * - to an <AE>, the primitive is re-targeted (§7.3.3.9.1) through the outbound seam, From and
 *   Request Identifier unchanged, to the AE's pointOfAccess, each address in turn, the first that
 *   answers wins and its answer is relayed; an AE whose requestReachability is not true is never
 *   contacted through its poa (TS-0001 §9.6.5): it gets the NOTIFY through its <pollingChannel>
 *   (pch://, core/pollch.c). This is also how a notification of a subscription hosted on another
 *   CSE reaches an AE registered here. No address answers: 5103 TARGET_NOT_REACHABLE.
 * Any other target: 4005. The request is parked while the AE is asked. */
#include <string.h>
#include <strings.h>

#include "core/outbound.h"
#include "e2e/escertke_rx.h"
#include "core_int.h"
#include "e2e/esprim.h"
#include "e2e/esprim_obj.h"
#include "encoding/json.h"
#include "rsc.h"
#include "util/log.h"
#include "util/mem.h"

#define POA_MAX 8

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
    struct cse_cont k; /* the NOTIFY, parked until the AE answers */
    char *fr, *rqi, *body, *rqet;
    size_t len;
    bool seci;          /* an ESPrim outer NOTIFY (m2m:seci): the AE's answer Content is relayed (TS-0004 §7.6.2) */
    int64_t expires_us; /* the NOTIFY's rqet (monotonic), 0 none: the AE answers within it or 4008 */
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
    mem_free(r->rqet);
    mem_free(r);
}

static void try_next(struct retarget *r);

/* Did the receiver answer (an HTTP response, or another client side's response primitive), or did
 * the request not reach it (5103, 4103 refused by the outbound policy, 5000 failed locally)? */
static bool reached(const struct out_response *res)
{
    if (res->http_status != 0)
        return true;
    return res->rsc != 0 && res->rsc != RSC_TARGET_NOT_REACHABLE && res->rsc != RSC_ORIGINATOR_HAS_NO_PRIVILEGE &&
           res->rsc != RSC_INTERNAL_SERVER_ERROR;
}

/* From any thread: the AE answered (its status is relayed), or try the next address. */
static void answered(void *arg, const struct out_response *res)
{
    struct retarget *r = arg;
    if (!reached(res) && r->next < r->npoa) { /* not reachable there: the next address */
        try_next(r);
        return;
    }
    if (reached(res)) {
        int rsc = res->rsc ? res->rsc : RSC_OK;
        if (rsc_is_success(rsc))
            r->rsp->rsc = rsc;
        else if (r->seci && res->body != NULL) /* a refusal of TS-0004 Table 7.6.2-1, as the AE gave it */
            r->rsp->rsc = rsc;
        else
            response_error(r->rsp, rsc, "ae-answer", "the AE answered the re-targeted NOTIFY with %d", rsc);
        if (r->seci && res->body != NULL && res->len > 0) { /* the outer response's Content */
            mem_free(r->rsp->body);
            r->rsp->body = mem_strndup(res->body, res->len);
            r->rsp->body_len = res->len;
        }
    } else if (r->expires_us != 0 && clock_mono_us() + 5000 >= r->expires_us) { /* 5 ms: timer slack */
        /* as route.c answers a forward whose wait the rqet bounded: the target did not answer */
        response_error(r->rsp, RSC_TARGET_NOT_REACHABLE, "ae-unreachable",
                       "the AE did not answer the NOTIFY before its Request Expiration Timestamp");
    } else {
        response_error(r->rsp, RSC_TARGET_NOT_REACHABLE, "ae-unreachable",
                       "no pointOfAccess of the AE accepted the NOTIFY");
    }
    struct cse_cont k = r->k;
    retarget_free(r);
    cont_resume(&k, CONT_ANSWERED);
}

/* The time an attempt may take: what is left of the NOTIFY's rqet (at least 1 ms), else 0 (the
 * client side's notify.timeout). */
static int left_ms(const struct retarget *r)
{
    if (r->expires_us == 0)
        return 0;
    int64_t left = (r->expires_us - clock_mono_us()) / 1000;
    return left < 1 ? 1 : left > INT32_MAX ? INT32_MAX : (int)left;
}

/* Send to the next address; when none is left or none can be sent to, finish with 5103. */
static void try_next(struct retarget *r)
{
    while (r->next < r->npoa) {
        const char *uri = r->poa[r->next++];
        struct out_request rq = {.op = OP_NOTIFY,
                                 .fr = r->fr,
                                 .rqi = r->rqi,
                                 .body = r->body,
                                 .len = r->len,
                                 .max_attempts = 1,
                                 .rqet = r->rqet,
                                 .timeout_ms = left_ms(r),
                                 .max_answer = r->seci ? 2 * ESPRIM_MAX_OBJECT : 0};
        if (outbound_send(r->cse->outbound, uri, &rq, answered, r) == 0)
            return;
    }
    struct out_response none = {.rsc = RSC_TARGET_NOT_REACHABLE};
    answered(r, &none);
}

enum cse_status op_notify(struct op_ctx *c)
{
    const struct store_row *row = &c->tgt->row;
    if (c->tgt->virt != VIRT_NONE || (row->ty != TY_CSEBASE && row->ty != TY_AE)) {
        response_error(c->rsp, RSC_OPERATION_NOT_ALLOWED, "notify-target",
                       "a NOTIFY targets a <CSEBase> or an <AE> (TS-0004 §7.3.3.9)");
        return CSE_DONE;
    }
    /* an m2m:seci NOTIFY to the <CSEBase> is permitted as "e2e-procedure" (policy.c), the rest by ACP */
    if (op_authorize(c, ACOP_NOTIFY, row, 0) != 0)
        return CSE_DONE;
    if (escertke_notify(c)) /* TS-0004 §7.5.1.2.12: sit 6, authorized by tls.ca (e2e/escertke_rx.h) */
        return CSE_DONE;
    if (row->ty == TY_CSEBASE && c->req->media == MEDIA_JSON && esprim_claims(c)) /* TS-0003 §8.4 */
        return (enum cse_status)esprim_notify(c);
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
    if (!json_is_object(root)) {
        json_decref(root);
        response_error(c->rsp, RSC_BAD_REQUEST, "bad-content", "the Content of a NOTIFY is a JSON object");
        return CSE_DONE;
    }
    /* §7.3.3.9.1: the addresses of the AE, in order; or its polling channel when it is not
     * request-reachable (ae_poa names pch://<AE-ID-Stem> then) */
    struct retarget *r = mem_calloc(1, sizeof *r);
    json_t *doc = json_loads(row->doc ? row->doc : "", 0, NULL);
    if (json_is_true(json_object_get(doc, "rr"))) {
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(doc, "poa"), i, p)
        {
            /* any scheme with a client side (http, https, mqtt, coap), never the CSE's own
             * polling-channel scheme: a poa must not name another AE's channel */
            const char *s = json_string_value(p);
            if (s != NULL && strstr(s, "://") != NULL && strncasecmp(s, "pch://", 6) != 0 && r->npoa < POA_MAX)
                r->poa[r->npoa++] = mem_strdup(s);
        }
    } else {
        char url[LIMIT_ID_LEN + 16];
        if (ae_poa(c->cse, c->view, c->now, row->ri, url, sizeof url) == 0 && strncmp(url, "pch://", 6) == 0)
            r->poa[r->npoa++] = mem_strdup(url);
    }
    json_decref(doc);
    if (r->npoa == 0 || c->cse->outbound == NULL || !op_park(c, PARK_RETARGET, &r->k)) {
        retarget_free(r);
        json_decref(root);
        response_error(c->rsp, RSC_TARGET_NOT_REACHABLE, "ae-unreachable",
                       "the AE has no reachable pointOfAccess (nor a pollingChannel when it is not request-reachable)");
        return CSE_DONE;
    }
    r->cse = c->cse;
    r->rsp = c->rsp;
    r->fr = mem_strdup(c->req->fr ? c->req->fr : c->cse->cfg->cse_id);
    r->rqi = mem_strdup(c->req->rqi);
    r->body = json_encode(root, &r->len);
    r->seci = json_object_get(root, "m2m:seci") != NULL;
    r->rqet = c->req->rqet ? mem_strdup(c->req->rqet) : NULL; /* the AE answers within it too */
    int64_t rqet_us = 0, now_us = clock_now_us(&c->cse->clock);
    if (c->req->rqet && abs_rel_us(c->req->rqet, now_us, &rqet_us)) /* checked on receipt: in the future */
        r->expires_us = clock_mono_us() + (rqet_us > now_us ? rqet_us - now_us : 0);
    json_decref(root);
    try_next(r);
    return CSE_PENDING;
}
