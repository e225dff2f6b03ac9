/* dispatch: the request pipeline every binding enters (ARCHITECTURE.md): validate the primitive,
 * authenticate the originator on receipt (TS-0004 §7.3.2.1) before any routing, resolve the
 * target, then hand over to the operation, which authorizes and runs the resource type's rules. */
#include <string.h>

#include "core_int.h"
#include "route.h"
#include "rsc.h"
#include "security/audit.h"
#include "util/mem.h"

int64_t cse_now(const struct cse *cse)
{
    return clock_now_us(&cse->clock) / 1000000;
}

static bool is_denial(int rsc)
{
    return rsc == RSC_ORIGINATOR_HAS_NO_PRIVILEGE || rsc == RSC_ORIGINATOR_NOT_AUTHENTICATED ||
           rsc == RSC_SECURITY_ASSOCIATION_REQUIRED;
}

static void audit_denial(struct cse *cse, const struct cse_request *req, const struct cse_response *rsp)
{
    struct audit_event ev = {
        .event = "deny",
        .originator = req->fr,
        .peer = req->sec.peer,
        .binding = req->sec.binding,
        .op = op_name(req->op),
        .target = req->to,
        .rsc = rsp->rsc,
        .reason = rsp->reason,
        .detail = rsp->message,
        .credential = req->sec.cred_id,
    };
    audit_record(cse->audit, &ev);
}

/* In the secure profile a denial says only what failed, never why (TS-0009 §6.5 spirit: no
 * debugging information an attacker can use); the reason still goes to the audit log. Only the
 * message is replaced: a denial's body is never debugging information but the Token Request
 * Information of an indirect dynamic authorization (m2m:tqf, TS-0003 §7.3.2.4), which must stay. */
static void finish(struct cse *cse, const struct cse_request *req, struct cse_response *rsp)
{
    if (!is_denial(rsp->rsc))
        return;
    audit_denial(cse, req, rsp);
    if (cse->secure) {
        bool tqf = rsp->reason != NULL && strcmp(rsp->reason, "token-request-info") == 0;
        if (!tqf)
            MEM_FREE(rsp->body);
        mem_free(rsp->message);
        rsp->message = mem_strdup(rsc_name(rsp->rsc));
    }
}

static const char *const supported_rvi[] = {"2", "2a", "3", "4", "5"};

static int check_primitive(const struct cse_request *req, struct cse_response *rsp)
{
    if (req->op < OP_CREATE || req->op > OP_NOTIFY)
        return response_error(rsp, RSC_BAD_REQUEST, "bad-op", "invalid operation");
    if (req->rqi == NULL || req->rqi[0] == '\0')
        return response_error(rsp, RSC_BAD_REQUEST, "missing-rqi", "missing Request Identifier (X-M2M-RI)");
    if (strlen(req->rqi) > LIMIT_ID_LEN)
        return response_error(rsp, RSC_BAD_REQUEST, "bad-rqi", "Request Identifier too long");
    if (req->rvi != NULL) {
        bool ok = false;
        for (size_t i = 0; i < sizeof supported_rvi / sizeof supported_rvi[0]; i++)
            ok |= strcmp(req->rvi, supported_rvi[i]) == 0;
        if (!ok)
            return response_error(rsp, RSC_RELEASE_VERSION_NOT_SUPPORTED, "bad-rvi",
                                  "release version '%.16s' is not supported (2, 2a, 3, 4, 5 are)", req->rvi);
    }
    if (req->op == OP_CREATE && req->ty <= 0)
        return response_error(rsp, RSC_BAD_REQUEST, "missing-ty", "CREATE needs a resource type");
    return 0;
}

static bool sa_bound_to(const struct cse_secctx *sec, const char *canon)
{
    for (int i = 0; i < sec->nids; i++)
        if (sec->ids[i] && strcmp(sec->ids[i], canon) == 0)
            return true;
    return false;
}

static int not_bound(struct cse_response *rsp, const struct cse_secctx *sec, const char *fr, const char *what)
{
    return response_error(rsp, RSC_ORIGINATOR_NOT_AUTHENTICATED, "from-not-bound",
                          "From '%.64s' is not the identity of this security association (%s)%s", fr ? fr : "",
                          sec->cred_id ? sec->cred_id : "-", what);
}

/* Is canon an AE-ID that a CSE-ID bound to the association may speak for: a C-type AE-ID under that
 * CSE, or an S-type AE-ID that is not registered here (TS-0004 §7.3.2.1, digest C8 step 4)? */
static bool via_bound_cse(struct cse *cse, struct store_view *v, const struct cse_secctx *sec, const struct id *id,
                          bool registered_here)
{
    /* a stem names an AE registered with this CSE, never one a remote CSE relays */
    if (id->kind != ID_AE || registered_here || id->form == IDF_STEM)
        return false;
    for (int i = 0; i < sec->nids; i++) {
        struct id bound;
        if (!id_parse(&cse->idenv, sec->ids[i], &bound) || bound.kind != ID_CSE)
            continue;
        if (id_stem(id)[0] == 'S')
            return true;
        size_t n = strlen(bound.canon);
        if (strncmp(id->canon, bound.canon, n) == 0 && id->canon[n] == '/')
            return true;
        /* TS-0004 §7.3.2.1: or an AE of one of the bound registree CSE's descendant CSEs (dcse),
         * relayed ASN -> MN -> IN (route.h) */
        if (route_relays(cse, v, id_stem(&bound), id))
            return true;
    }
    return false;
}

/* TS-0003 §7.2, TS-0004 §7.3.2.1 steps 3-4: inside a security association, From must be the
 * identity the credential is bound to (or, for a CSE, an AE it serves); an AE registers only as the
 * AE-ID its credential names, or binds a credential provisioned with "-". */
static int check_sa_identity(struct cse *cse, struct store_view *v, const struct cse_request *req, struct originator *o,
                             bool ae_create, struct cse_response *rsp)
{
    const struct cse_secctx *sec = &req->sec;
    const char *fr = req->fr;
    if (sec->nids == 0) { /* a PSK waiting for its registration */
        bool psk =
            (sec->sa == SA_TLS_PSK || sec->sa == SA_DTLS_PSK) && sec->cred_id && strncmp(sec->cred_id, "psk:", 4) == 0;
        if (!ae_create || !psk)
            return not_bound(rsp, sec, fr, ": the credential is bound at AE registration, which comes first");
        /* the CSE picks the AE-ID: a chosen stem could be another credential's AE, the admin, or a
         * deleted AE whose grants still stand in some policy */
        if (o->present && o->id.kind != ID_ASK_C && o->id.kind != ID_ASK_S)
            return not_bound(rsp, sec, fr,
                             ": a credential provisioned with '-' registers with From C, S or empty; provision "
                             "the key bound to an AE-ID to register with that AE-ID");
        o->bind_kpsa_id = sec->cred_id + 4;
        return 0;
    }
    if (!o->present)
        return not_bound(rsp, sec, fr, ": register with From set to the AE-ID-Stem bound to the credential");
    if (o->is_admin) {
        if (!sa_bound_to(sec, cse->admin.canon))
            return not_bound(rsp, sec, fr, "");
        o->authenticated = true;
        return 0;
    }
    if ((o->id.kind == ID_AE || o->id.kind == ID_CSE) && sa_bound_to(sec, o->id.canon)) {
        /* the credential vouches for who is there, not for a registration: an AE acts only once
         * registered here (TS-0001 §10.2.2.2), also over its own security association */
        if (o->id.kind == ID_AE && !ae_create && !o->registered)
            return response_error(rsp, RSC_ORIGINATOR_NOT_AUTHENTICATED, "ae-not-registered",
                                  "AE '%.64s' is authenticated but not registered here: register it first", fr);
        o->authenticated = true;
        return 0;
    }
    if (!ae_create && via_bound_cse(cse, v, sec, &o->id, o->registered))
        return 0; /* relayed by the bound CSE: not authenticated end to end (digest B5) */
    return not_bound(rsp, sec, fr, "");
}

/* TS-0004 §7.3.2.1 / TS-0003 §7.2 originator checks, before any routing, so that a spoofed
 * originator learns nothing about what exists. */
static int check_originator(struct cse *cse, struct store_view *v, const struct cse_request *req, struct originator *o,
                            struct cse_response *rsp)
{
    memset(o, 0, sizeof *o);
    bool ae_create = req->op == OP_CREATE && req->ty == TY_AE;
    bool no_sa = req->sec.sa == SA_NONE;
    const char *fr = req->fr;

    if (cse->secure && no_sa) /* whatever the request says: nothing is read without an SA */
        return response_error(rsp, RSC_SECURITY_ASSOCIATION_REQUIRED, "sa-required",
                              "the secure profile requires a security association");
    if (fr == NULL || fr[0] == '\0') {
        if (!ae_create)
            return response_error(rsp, RSC_BAD_REQUEST, "missing-from", "missing originator (X-M2M-Origin)");
        return no_sa ? 0 : check_sa_identity(cse, v, req, o, ae_create, rsp);
    }
    o->present = true;
    if (strcmp(fr, cse->cfg->cse_admin) == 0) {
        o->is_admin = true;
        o->id = cse->admin;
    } else if (!id_parse(&cse->idenv, fr, &o->id)) {
        return response_error(rsp, RSC_BAD_REQUEST, "bad-from", "malformed originator '%.64s'", fr);
    } else if (o->id.kind != ID_INVALID && strcmp(o->id.canon, cse->admin.canon) == 0 && cse->admin.canon[0]) {
        o->is_admin = true;
    }

    if (o->is_admin) {
        /* PRODUCT.md: secure profile accepts the admin only over an SA bound to it */
        if (cse->secure && !sa_bound_to(&req->sec, cse->admin.canon))
            return response_error(rsp, RSC_SECURITY_ASSOCIATION_REQUIRED, "admin-needs-sa",
                                  "the admin originator needs a security association bound to it");
        if (!no_sa && check_sa_identity(cse, v, req, o, ae_create, rsp) != 0)
            return -1;
        o->subj.canon = cse->admin.canon;
        o->subj.is_admin = true;
        return 0;
    }
    switch (o->id.kind) {
    case ID_ASK_C:
    case ID_ASK_S:
        if (!ae_create)
            return response_error(rsp, RSC_BAD_REQUEST, "bad-from", "From '%s' is only valid for AE registration", fr);
        return no_sa ? 0 : check_sa_identity(cse, v, req, o, ae_create, rsp);
    case ID_CSE:
        if (no_sa)
            return response_error(rsp, RSC_SECURITY_ASSOCIATION_REQUIRED, "cse-needs-sa",
                                  "a CSE originator needs a security association");
        break;
    case ID_AE: {
        if (o->id.local && ae_registered(cse, v, id_stem(&o->id), cse_now(cse), &o->registered) != 0)
            return response_error(rsp, RSC_INTERNAL_SERVER_ERROR, "store", "store failure");
        if (ae_create) {
            if (o->id.form != IDF_STEM)
                return response_error(rsp, RSC_BAD_REQUEST, "bad-from",
                                      "AE registration needs From 'C', 'S', empty, or an AE-ID-Stem");
            /* re-registration of a registered stem is refused later with 4117 */
            return no_sa ? 0 : check_sa_identity(cse, v, req, o, ae_create, rsp);
        }
        if (!o->registered && no_sa)
            return response_error(rsp, RSC_ORIGINATOR_NOT_AUTHENTICATED, "ae-not-registered",
                                  "originator is not a registered AE and no security association vouches for it");
        if (o->registered && o->id.form != IDF_STEM && !(!no_sa && sa_bound_to(&req->sec, o->id.canon)))
            return response_error(rsp, RSC_BAD_REQUEST, "from-not-stem",
                                  "a registered AE must use its AE-ID-Stem '%s' as From", id_stem(&o->id));
        break;
    }
    default: return response_error(rsp, RSC_BAD_REQUEST, "bad-from", "malformed originator");
    }
    if (!no_sa && check_sa_identity(cse, v, req, o, ae_create, rsp) != 0)
        return -1;
    o->subj.canon = o->id.canon;

    return 0;
}

static int deny(struct op_ctx *c, const struct decision *d)
{
    response_error(c->rsp, RSC_ORIGINATOR_HAS_NO_PRIVILEGE, d->reason, "originator has no privilege: %s (%s)",
                   d->detail, d->reason);
    if (c->tqf != NULL) { /* TS-0009 §6.4.x: the Token Request Information is the whole body */
        MEM_FREE(c->rsp->body);
        c->rsp->body = c->tqf;
        c->rsp->body_len = strlen(c->tqf);
        c->tqf = NULL;
    }
    return RSC_ORIGINATOR_HAS_NO_PRIVILEGE;
}

int op_authorize(struct op_ctx *c, enum acop op, const struct store_row *row, int child_ty)
{
    struct decision d;
    policy_decide(c, op, row, child_ty, false, &d);
    return d.permit ? 0 : deny(c, &d);
}

int op_authorize_acpi(struct op_ctx *c, const struct store_row *row)
{
    struct decision d;
    policy_decide(c, ACOP_UPDATE, row, 0, true, &d);
    return d.permit ? 0 : deny(c, &d);
}

void op_committed(struct cse *cse, bool kept, struct notes *notes, bool invalidate, struct cse_response *rsp,
                  void (*finish_fn)(void *job, struct cse_response *rsp), void *job, void (*done)(void *),
                  void *done_arg)
{
    if (kept) {
        notes_send(cse, notes);
        if (invalidate)
            policy_invalidate(cse);
    } else {
        notes_free(notes);
    }
    rsp->finish = finish_fn;
    rsp->finish_arg = job;
    done(done_arg);
}

void cse_deny(struct cse *cse, const struct cse_request *req, struct cse_response *rsp, int rsc, const char *reason,
              const char *message)
{
    response_error(rsp, rsc, reason, "%s", message);
    finish(cse, req, rsp);
}

void cse_complete(struct cse *cse, const struct cse_request *req, struct cse_response *rsp)
{
    if (rsp->finish != NULL) {
        void (*fn)(void *, struct cse_response *) = rsp->finish;
        rsp->finish = NULL;
        fn(rsp->finish_arg, rsp);
    }
    finish(cse, req, rsp);
}

/* The admin API's explain resource: "<CSEBase rn>/$explain" (no resourceName can hold '$'). */
static bool is_explain(const struct cse *cse, const char *to)
{
    size_t n = strlen(cse->cfg->cse_rn);
    return to && strncmp(to, cse->cfg->cse_rn, n) == 0 && strcmp(to + n, "/$explain") == 0;
}

/* RETRIEVE by the admin only (authenticated like any request, above): the explained request carries
 * the roles and tokens of this one (the admin needs none of its own). */
static void admin_explain(struct cse *cse, struct store_view *v, const struct cse_request *req,
                          const struct originator *o, struct cse_response *rsp)
{
    if (!o->is_admin) {
        response_error(rsp, RSC_ORIGINATOR_HAS_NO_PRIVILEGE, "admin-only", "explain is for the admin originator only");
        return;
    }
    if (req->op != OP_RETRIEVE) {
        response_error(rsp, RSC_OPERATION_NOT_ALLOWED, "explain-retrieve-only", "explain answers RETRIEVE only");
        return;
    }
    if (req->ex.fr == NULL || req->ex.op == NULL || req->ex.to == NULL) {
        response_error(rsp, RSC_BAD_REQUEST, "bad-query", "explain needs exfr, exop and exto");
        return;
    }
    struct cse_explain_query q = {.fr = req->ex.fr, .op = req->ex.op, .to = req->ex.to, .ty = req->ex.ty};
    char *text = explain_in_view(cse, v, &q, &req->az); /* on this request's view: never a second one */
    json_t *lines = json_array();
    for (char *p = text, *e; *p; p = e + 1) {
        e = strchr(p, '\n');
        if (e == NULL)
            e = p + strlen(p) - 1;
        if (p != text)
            json_array_append_new(lines, json_stringn(p, (size_t)(e - p + (*e == '\n' ? 0 : 1))));
    }
    json_t *root = json_pack("{s:{s:s,s:o}}", "wdn:explain", "decision",
                             strncmp(text, "PERMIT", 6) == 0 ? "PERMIT" : "DENY", "reasons", lines);
    rsp->body = json_dumps(root, JSON_COMPACT);
    rsp->body_len = strlen(rsp->body);
    rsp->rsc = RSC_OK;
    json_decref(root);
    mem_free(text);
}

static enum cse_status run(struct cse *cse, const struct cse_request *req, struct cse_response *rsp,
                           void (*done)(void *arg), void *done_arg, bool outer);

enum cse_status cse_dispatch(struct cse *cse, const struct cse_request *req, struct cse_response *rsp,
                             void (*done)(void *arg), void *done_arg)
{
    return run(cse, req, rsp, done, done_arg, true);
}

enum cse_status cse_dispatch_again(struct cse *cse, const struct cse_request *req, struct cse_response *rsp,
                                   void (*done)(void *arg), void *done_arg)
{
    return run(cse, req, rsp, done, done_arg, false);
}

static enum cse_status run(struct cse *cse, const struct cse_request *req, struct cse_response *rsp,
                           void (*done)(void *arg), void *done_arg, bool outer)
{
    if (cse->secure && req->sec.sa == SA_NONE) { /* nothing of the request is read without an SA */
        response_error(rsp, RSC_SECURITY_ASSOCIATION_REQUIRED, "sa-required",
                       "the secure profile requires a security association");
        if (outer)
            finish(cse, req, rsp);
        return CSE_DONE;
    }
    if (check_primitive(req, rsp) != 0) {
        if (outer)
            finish(cse, req, rsp);
        return CSE_DONE;
    }
    struct store_view *v = cse->store->ops->view_acquire(cse->store);
    struct originator orig;
    struct target tgt = {0};
    enum cse_status st = CSE_DONE;
    int64_t now = cse_now(cse);
    if (check_originator(cse, v, req, &orig, rsp) != 0)
        goto out;
    if (is_explain(cse, req->to)) {
        admin_explain(cse, v, req, &orig, rsp);
        goto out;
    }
    /* ---- route step (route.c; TS-0001 §8.2.1, TS-0004 §7.3.2.6): a target on another CSE is
     * forwarded over the hop-by-hop security association and parked until its answer; the target
     * CSE authorizes it. Unknown: 4004; next hop unreachable: 5103. ---- */
    {
        struct route rt;
        if (route_request(cse, v, req, &rt, rsp) != 0)
            goto out;
        if (rt.kind == ROUTE_REMOTE) {
            st = route_forward(cse, req, &orig, &rt, rsp, done, done_arg);
            goto out;
        }
    }
    /* ---- end of the route step ---- */
    if (resolve_target(cse, v, req->to, now, &tgt, rsp) != 0)
        goto out;
    /* TS-0004 Recv-6.2.1 (§7.3.3.2): after existence, before authorization */
    if (fanout_enter(req, &tgt, rsp) != 0)
        goto out;

    struct op_ctx c = {
        .cse = cse,
        .req = req,
        .rsp = rsp,
        .view = v,
        .orig = &orig,
        .tgt = &tgt,
        .now = now,
        .done = done,
        .done_arg = done_arg,
    };
    if (tgt.virt == VIRT_FOPT) {
        st = op_fanout(&c);
        v = c.view;
    } else
        switch (req->op) {
        case OP_CREATE: st = op_create(&c); break;
        case OP_RETRIEVE: st = op_retrieve(&c); break;
        case OP_UPDATE: st = op_update(&c); break;
        case OP_DELETE: st = op_delete(&c); break;
        case OP_NOTIFY: st = op_notify(&c); break;
        default:
            response_error(rsp, RSC_OPERATION_NOT_ALLOWED, "notify-unsupported",
                           "NOTIFY is not supported on this resource");
            break;
        }
    creds_free(c.creds);
    group_memo_free(c.groups);
    mem_free(c.tqf);
    if (st == CSE_DONE && c.das_job != NULL) /* denied pending a DAS: park on the consultation */
        st = dynauth_park(&c);
out:
    target_free(&tgt);
    if (v != NULL)
        cse->store->ops->view_release(cse->store, v);
    if (st == CSE_DONE && outer)
        finish(cse, req, rsp);
    return st;
}

void cse_log_request(struct cse *cse, const struct cse_request *req, const struct cse_response *rsp, int64_t elapsed_us)
{
    LOG(cse->log, LOG_INFO, "%s %s fr=%s to=%s rqi=%s rsc=%d %lldus%s%s", req->sec.binding ? req->sec.binding : "-",
        op_name(req->op), req->fr ? req->fr : "-", req->to ? req->to : "-", req->rqi ? req->rqi : "-", rsp->rsc,
        (long long)elapsed_us, rsp->reason ? " reason=" : "", rsp->reason ? rsp->reason : "");
}
