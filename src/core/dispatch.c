/* dispatch: the request pipeline every binding enters (ARCHITECTURE.md): validate the primitive,
 * authenticate the originator on receipt (TS-0004 §7.3.2.1) before any routing, resolve the
 * target, then hand over to the operation, which authorizes and runs the resource type's rules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_int.h"
#include "admin.h"
#include "metrics.h"
#include "route.h"
#include "rsc.h"
#include "security/audit.h"
#include "util/mem.h"
#include "util/timeutil.h"

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
    metrics_denial(cse->metrics, rsp->rsc, rsp->reason);
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

/* A POST without a resource type is a NOTIFY (TS-0009 §6.4.7 `ty=` in Content-Type, TS-0008 §6.2.1
 * oneM2M-TY), so a newcomer's AE registration without ";ty=2" would be answered as a notification
 * (4106 for an unregistered originator, 4005 elsewhere). A notification's Content is m2m:sgn; Content
 * that begins with a creatable type's root ("{\"m2m:ae\": ...") was meant as a CREATE: say how.
 * A prefix scan, not a parse: costs nothing for real notifications. 0, or -1 with rsp set. */
static int notify_looks_like_create(const struct cse_request *req, struct cse_response *rsp)
{
    if (req->op != OP_NOTIFY || req->body == NULL || req->fanout_depth > 0)
        return 0;
    const char *p = req->body, *end = req->body + req->body_len;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == '{'))
        p++;
    char sn[8];
    size_t n = 0;
    if (end - p < 6 || strncmp(p, "\"m2m:", 5) != 0)
        return 0;
    for (p += 5; p < end && *p != '"' && n + 1 < sizeof sn; p++)
        sn[n++] = *p;
    sn[n] = '\0';
    const struct rtype *t = p < end && *p == '"' ? rtype_find_sn(sn) : NULL;
    if (t == NULL || !t->creatable)
        return 0;
    const char *b = req->sec.binding ? req->sec.binding : "";
    if (strncmp(b, "coap", 4) == 0) /* coap, coaps */
        return response_error(rsp, RSC_BAD_REQUEST, "create-without-ty",
                              "a POST without the oneM2M-TY option is a NOTIFY; to create this m2m:%s, give "
                              "oneM2M-TY %d",
                              sn, t->ty);
    if (strcmp(b, "mqtt") == 0)
        return response_error(rsp, RSC_BAD_REQUEST, "create-without-ty",
                              "op 5 is NOTIFY; to create this m2m:%s, send op 1 with \"ty\": %d", sn, t->ty);
    return response_error(rsp, RSC_BAD_REQUEST, "create-without-ty",
                          "a POST without ';ty=' in Content-Type is a NOTIFY; to create this m2m:%s, send "
                          "'Content-Type: application/json;ty=%d'",
                          sn, t->ty);
}

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
    if (req->natrl > 0 && req->op != OP_RETRIEVE) /* TS-0004 Table 7.5.2-1: attributeList is for R */
        return response_error(rsp, RSC_BAD_REQUEST, "bad-atrl", "an attribute list is for RETRIEVE only");
    const struct cse_filter *fc = &req->fc;
    bool has_fc = fc->fu || fc->nty || fc->nlbl || fc->ncty || fc->natr || fc->crb || fc->cra || fc->ms || fc->us ||
                  fc->exb || fc->exa || fc->sts >= 0 || fc->stb >= 0 || fc->sza >= 0 || fc->szb >= 0 || fc->lim >= 0 ||
                  fc->lvl >= 0 || fc->ofst > 0 || fc->fo == 2;
    if (req->op == OP_CREATE && has_fc) /* TS-0004 §7.3.2.1 */
        return response_error(rsp, RSC_BAD_REQUEST, "fc-on-create", "a CREATE request carries no Filter Criteria");
    if (req->op == OP_CREATE && req->ty <= 0)
        return response_error(rsp, RSC_BAD_REQUEST, "missing-ty", "CREATE needs a resource type");
    return notify_looks_like_create(req, rsp);
}

/* m2m:absRelTimestamp (TS-0004 §6.3.5.x): an absolute "YYYYMMDDTHHMMSS" or a number of
 * milliseconds after base_us. false when malformed. */
bool abs_rel_us(const char *s, int64_t base_us, int64_t *out)
{
    size_t n = strlen(s);
    bool digits = n > 0 && n <= 12;
    for (size_t i = 0; digits && i < n; i++)
        digits = s[i] >= '0' && s[i] <= '9';
    if (digits) {
        *out = base_us + (int64_t)strtoll(s, NULL, 10) * 1000;
        return true;
    }
    int64_t sec;
    if (!ts_parse(s, &sec))
        return false;
    *out = sec * 1000000;
    return true;
}

/* TS-0004 §7.3.2.1: the request timing parameters, checked on receipt. An expired Request
 * Expiration Timestamp is 4008; an Operation Execution Time after the Request Expiration Timestamp,
 * or a Result Expiration Timestamp that passes before the operation can run, is 4000 (the result
 * could never be delivered). *oet_us: when the operation may run (0: now). Returns 0 or an RSC. */
static int check_timing(const struct cse_request *req, int64_t now_us, int64_t *oet_us, struct cse_response *rsp)
{
    int64_t rqet = 0, rset = 0, oet = 0;
    const struct {
        const char *name, *val;
        int64_t *out;
    } p[] = {{"Request Expiration Timestamp", req->rqet, &rqet},
             {"Result Expiration Timestamp", req->rset, &rset},
             {"Operation Execution Time", req->oet, &oet}};
    for (size_t i = 0; i < 3; i++)
        if (p[i].val && !abs_rel_us(p[i].val, now_us, p[i].out))
            return response_error(rsp, RSC_BAD_REQUEST, "bad-time", "%s must be YYYYMMDDTHHMMSS or milliseconds",
                                  p[i].name);
    if (req->rqet && rqet <= now_us)
        return response_error(rsp, RSC_REQUEST_TIMEOUT, "expired", "the Request Expiration Timestamp has passed");
    if (req->oet && req->rqet && oet > rqet)
        return response_error(rsp, RSC_BAD_REQUEST, "oet-after-rqet",
                              "the Operation Execution Time is after the Request Expiration Timestamp");
    int64_t runs = req->oet && oet > now_us ? oet : now_us;
    if (req->rset && rset <= runs)
        return response_error(rsp, RSC_BAD_REQUEST, "rset-before-execution",
                              "the Result Expiration Timestamp passes before the operation can be executed");
    if (req->oet && oet > now_us + (int64_t)LIMIT_OET_AHEAD_S * 1000000)
        return response_error(rsp, RSC_NOT_IMPLEMENTED, "oet-too-far",
                              "an Operation Execution Time more than %d s ahead is not supported", LIMIT_OET_AHEAD_S);
    *oet_us = req->oet && oet > now_us ? oet : 0;
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
    if ((id->kind != ID_AE && id->kind != ID_CSE) || registered_here || id->form == IDF_STEM)
        return false;
    for (int i = 0; i < sec->nids; i++) {
        struct id bound;
        if (!id_parse(&cse->idenv, sec->ids[i], &bound) || bound.kind != ID_CSE)
            continue;
        if (id->kind == ID_AE && id_stem(id)[0] == 'S')
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
        if (o->id.kind == ID_AE && !ae_create && !o->registered && !(sec->sa == SA_ESPRIM && !o->id.local))
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

void op_committed(bool kept, struct notes *notes, bool invalidate,
                  void (*finish_fn)(void *job, struct cse_response *rsp), void *job, const struct cse_cont *k)
{
    struct cse *cse = k->cse;
    if (kept) {
        if (notes->annc) /* announcement steps committed (announce.c): send them now, not at the next pass */
            announce_kick(cse);
        notes_send(cse, notes);
        if (invalidate)
            policy_invalidate(cse);
    } else {
        notes_free(notes);
    }
    k->rsp->finish = finish_fn;
    k->rsp->finish_arg = job;
    cont_resume(k, CONT_ANSWERED);
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

/* The admin API's explain query ("<CSEBase rn>/$explain", answered through admin.c's gate): the
 * explained request carries the roles and tokens of this one (the admin needs none of its own). */
void admin_explain(struct cse *cse, struct store_view *v, const struct cse_request *req, struct cse_response *rsp)
{
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

static enum cse_status run(const struct cse_cont *k, bool outer);

/* limits.rate: one token per request of an authenticated originator (an unidentified one, an AE
 * registering with From C/S/empty, by its peer address), the admin exempt. oneM2M has no status code
 * for "too many requests" (HTTP 429 is not in TS-0009's table): the closest TS-0004 offers is
 * NOT_ACCEPTABLE (5207), the receiver declining a request that exceeds a local limit, as it declines
 * a contentInstance beyond its container's maxByteSize (TS-0004 §7.4.7.2.1); TS-0009 maps it to
 * 406. Not a security denial: not audited per request (the request log has it). */
static int rate_limited(struct cse *cse, const struct cse_request *req, const struct originator *o,
                        struct cse_response *rsp)
{
    if (cse->rate == NULL || o->is_admin)
        return 0;
    char anon[sizeof req->sec.peer + 16];
    const char *key = o->subj.canon;
    if (key == NULL || key[0] == '\0') {
        snprintf(anon, sizeof anon, "@%s", req->sec.peer[0] ? req->sec.peer : req->sec.binding ? req->sec.binding : "");
        key = anon;
    }
    int64_t retry_ms = 0;
    if (ratelimit_take(cse->rate, key, clock_mono_us(), &retry_ms) == 0)
        return 0;
    return response_error(rsp, RSC_NOT_ACCEPTABLE, "rate-limited",
                          "rate limit: at most %ld requests/s (bursts of %ld) per originator; retry in %lld ms "
                          "(oneM2M has no rate-limit status code: 5207 NOT_ACCEPTABLE is its answer to a request "
                          "beyond a local limit)",
                          cse->cfg->limits_rate, cse->cfg->limits_rate_burst, (long long)retry_ms);
}

enum cse_status cse_dispatch(struct cse *cse, const struct cse_request *req, struct cse_response *rsp,
                             void (*done)(void *arg), void *done_arg)
{
    struct cse_cont k = {.cse = cse, .req = req, .rsp = rsp, .done = done, .arg = done_arg};
    return run(&k, true);
}

/* The one way back for a parked request (park.h). CONT_AGAIN runs the pipeline again without the
 * checks made on receipt (timing, rate, the non-blocking acknowledgement) and leaves the audit and
 * masking to cse_complete, which the caller runs after done. */
void cont_resume(const struct cse_cont *k, enum cont_how how)
{
    struct cse_cont self = *k; /* the holder may free k once we call out */
    self.why = PARK_NONE;
    if (how == CONT_AGAIN && self.cse->parkq != NULL) {
        parkq_push(self.cse->parkq, &self); /* a resume thread runs the pipeline */
        return;
    }
    if (how == CONT_AGAIN) {
        cont_again_now(&self);
        return;
    }
    self.done(self.arg);
}

void cont_again_now(const struct cse_cont *k)
{
    if (run(k, false) == CSE_DONE)
        k->done(k->arg);
    /* else parked again on the same continuation */
}

static enum cse_status run(const struct cse_cont *k, bool outer)
{
    struct cse *cse = k->cse;
    const struct cse_request *req = k->req;
    struct cse_response *rsp = k->rsp;
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
    /* the timing parameters once, on receipt (relative ones count from now); not again when a parked
     * request runs, nor for a fan-out member (its group request was checked) */
    int64_t oet_us = 0;
    if (outer && req->fanout_depth == 0 && check_timing(req, clock_now_us(&cse->clock), &oet_us, rsp) != 0) {
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
    if (outer && req->fanout_depth == 0 && rate_limited(cse, req, &orig, rsp) != 0) /* members: charged once */
        goto out;
    /* TS-0004 §7.2.2.2 Recv-2.0: a non-blocking request is acknowledged once its originator is
     * authenticated; a blocking copy then goes through this same pipeline (nonblock.c) */
    if ((req->rt == 1 || req->rt == 2) && outer && cont_can_park(k)) {
        st = nbr_accept(k, &orig);
        goto out;
    }
    if (oet_us > 0) { /* authenticated: park until the Operation Execution Time, holding no thread */
        st = defer_park(k, oet_us);
        if (st == CSE_PENDING)
            LOG(cse->log, LOG_DEBUG, "rqi=%s parked until its Operation Execution Time", req->rqi);
        goto out;
    }
    const char *aq = admin_query_name(cse, req->to);
    if (aq != NULL) {
        admin_query(cse, v, req, &orig, aq, rsp);
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
            /* a member of a group request (fanout.c) reaches a remote target once per tree, too */
            if (req->fan != NULL && fanout_enter_remote(req, rt.to, rsp) != 0)
                goto out;
            st = route_forward(k, &orig, &rt);
            goto out;
        }
    }
    /* ---- end of the route step ---- */
    if (resolve_target(cse, v, req->to, now, &tgt, rsp) != 0)
        goto out;
    /* TS-0004 Recv-6.2.1 (§7.3.3.2): after existence, before authorization */
    if (fanout_enter(cse, req, &tgt, rsp) != 0)
        goto out;

    struct op_ctx c = {
        .cse = cse,
        .req = req,
        .rsp = rsp,
        .view = v,
        .orig = &orig,
        .tgt = &tgt,
        .now = now,
        .k = *k,
    };
    if (tgt.virt == VIRT_FOPT) {
        st = op_fanout(&c);
        v = c.view;
    } else if (tgt.virt == VIRT_PCU) {
        st = op_pcu(&c);
    } else
        switch (req->op) {
        case OP_CREATE: st = op_create(&c); break;
        case OP_RETRIEVE: st = op_retrieve(&c); break;
        case OP_UPDATE: st = op_update(&c); break;
        case OP_DELETE: st = op_delete(&c); break;
        default: st = op_notify(&c), v = c.view; break; /* e2e/esprim.c may release the view */
        }
    /* TS-0001 §9.6.8 operationMonitor: who attempted what on a subscribed-to resource, performed or
     * not (not for requests refused before the target was known) */
    if (outer && tgt.virt == VIRT_NONE && v != NULL && tgt.row.nsub > 0) {
        static const int acop_of[] = {0, ACOP_CREATE, ACOP_RETRIEVE, ACOP_UPDATE, ACOP_DELETE, ACOP_NOTIFY};
        int acop = req->op == OP_RETRIEVE && req->fc.fu == 1 ? ACOP_DISCOVERY : acop_of[req->op];
        sub_monitor(cse, v, &tgt.row, (int)req->op, acop, req->fr);
    }
    creds_free(c.creds);
    group_memo_free(c.groups);
    remote_want_free(c.want);
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

void cse_request_done(struct cse *cse, const struct cse_request *req, const struct cse_response *rsp,
                      int64_t elapsed_us)
{
    metrics_request(cse->metrics, req->sec.binding, (int)req->op, rsp->rsc, elapsed_us);
    if (LOG_ON(cse->log, LOG_INFO))
        cse_log_request(cse, req, rsp, elapsed_us);
}

void cse_set_ready(struct cse *cse, bool ready)
{
    atomic_store(&cse->ready, ready);
}
