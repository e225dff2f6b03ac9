/* explain: why an originator may or may not perform an operation on a target (PRODUCT.md:
 * `wardenctl explain`, the admin API). It runs the same decision as a request (policy.c, with the
 * same compiled policies, groups, roles and tokens) in explain mode, where every candidate is
 * evaluated and described instead of stopping at the first grant. The first line of the text is
 * PERMIT or DENY; then the deciding policy, rule, role or token; then every candidate and why it did
 * or did not match. Nothing is written. */
#include <stdio.h>
#include <string.h>

#include "core_int.h"
#include "rsc.h"
#include "util/mem.h"

static const struct {
    const char *name;
    enum acop op;
} ops[] = {
    {"create", ACOP_CREATE},
    {"retrieve", ACOP_RETRIEVE},
    {"update", ACOP_UPDATE},
    {"delete", ACOP_DELETE},
    {"notify", ACOP_NOTIFY},
    {"discover", ACOP_DISCOVERY},
    /* a NOTIFY whose Content is m2m:seci (policy.c: e2e-procedure on the <CSEBase>) */
    {"notify-seci", ACOP_NOTIFY},
};

bool cse_explain_op(const char *name, int *acop)
{
    for (size_t i = 0; name && i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(ops[i].name, name) == 0) {
            *acop = (int)ops[i].op;
            return true;
        }
    return false;
}

char *cse_explain(struct cse *cse, const struct cse_explain_query *q, const struct cse_authz_params *az)
{
    struct store_view *v = cse->store->ops->view_acquire(cse->store);
    char *text = explain_in_view(cse, v, q, az);
    cse->store->ops->view_release(cse->store, v);
    return text;
}

/* On the caller's read view: a request that already holds one (the admin API) never waits for a
 * second pooled connection, which with every connection so held would wait forever. */
char *explain_in_view(struct cse *cse, struct store_view *v, const struct cse_explain_query *q,
                      const struct cse_authz_params *az)
{
    struct buf out, lines;
    buf_init(&out);
    buf_init(&lines);
    int acop;
    struct originator o = {0};
    if (!cse_explain_op(q->op, &acop)) {
        buf_puts(
            &out,
            "DENY\nerror: the operation must be create, retrieve, update, delete, notify, notify-seci or discover\n");
        return buf_take(&out, NULL);
    }
    if (q->fr == NULL || !id_parse(&cse->idenv, q->fr, &o.id) || (o.id.kind != ID_AE && o.id.kind != ID_CSE)) {
        if (q->fr != NULL && strcmp(q->fr, cse->cfg->cse_admin) == 0) {
            o.id = cse->admin;
        } else {
            buf_printf(&out, "DENY\nerror: '%s' is not an AE-ID or a CSE-ID\n", q->fr ? q->fr : "");
            return buf_take(&out, NULL);
        }
    }
    o.present = true;
    o.is_admin = strcmp(o.id.canon, cse->admin.canon) == 0;
    o.authenticated = true;
    o.subj.canon = o.id.canon;
    o.subj.is_admin = o.is_admin;

    struct cse_request req;
    request_init(&req);
    req.op = acop == ACOP_CREATE   ? OP_CREATE
             : acop == ACOP_UPDATE ? OP_UPDATE
             : acop == ACOP_DELETE ? OP_DELETE
             : acop == ACOP_NOTIFY ? OP_NOTIFY
                                   : OP_RETRIEVE;
    req.fr = q->fr;
    req.to = q->to;
    req.ty = q->ty;
    req.rqi = "explain";
    if (strcmp(q->op, "notify-seci") == 0) {
        static const char seci[] = "{\"m2m:seci\":{\"sit\":5}}";
        req.body = seci;
        req.body_len = sizeof seci - 1;
        req.media = MEDIA_JSON;
    }
    if (az)
        req.az = *az;
    if (q->peer)
        snprintf(req.sec.peer, sizeof req.sec.peer, "%s", q->peer);
    req.sec.binding = "explain";
    struct cse_response rsp;
    response_init(&rsp);
    struct target tgt = {0};
    int64_t now = cse_now(cse);
    if (resolve_target(cse, v, q->to, now, &tgt, &rsp) != 0) {
        buf_printf(&out, "DENY\ntarget: %s (%d %s)\n", rsp.message ? rsp.message : "", rsp.rsc, rsc_name(rsp.rsc));
    } else {
        struct op_ctx c = {
            .cse = cse,
            .req = &req,
            .rsp = &rsp,
            .view = v,
            .orig = &o,
            .tgt = &tgt,
            .now = now,
            .explain = &lines,
        };
        struct decision d;
        policy_decide(&c, (enum acop)acop, &tgt.row, q->ty, false, &d);
        buf_printf(&out, "%s\n", d.permit ? "PERMIT" : "DENY");
        buf_printf(&out, "decision: %s: %s\n", d.reason, d.detail);
        buf_printf(&out, "request: %s %s %s (resource %s, type %d)%s\n", o.id.canon, q->op, q->to, tgt.row.ri,
                   tgt.row.ty,
                   q->peer ? ""
                           : "; no peer address (as over MQTT, where only the broker's is known): acip "
                             "contexts fail (context-ip-unknown-peer)");
        buf_puts(&out, "assumed: the originator is authenticated (rq_authn) and the clock is now\n");
        if (acop == ACOP_NOTIFY && tgt.row.ty == TY_CSEBASE && strcmp(q->op, "notify") == 0)
            buf_puts(&out, "note: a NOTIFY whose Content is m2m:seci (ESPrim, ESCertKE) is decided as e2e-procedure "
                           "instead (op notify-seci)\n");
        buf_puts(&out, "candidates:\n");
        buf_append(&out, lines.p ? lines.p : "", lines.len);
        creds_free(c.creds);
        group_memo_free(c.groups);
    }
    target_free(&tgt);
    response_free(&rsp);
    buf_free(&lines);
    return buf_take(&out, NULL);
}
