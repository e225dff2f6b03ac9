/* policy: which access control policies apply to a request and what they decide (TS-0001 §9.6.2,
 * §10.2.3.1; TS-0003 §7.1; TS-0004 §7.3.3.15). Compiled policies live in a bounded cache keyed by
 * the ACP's resourceID; a generation counter, bumped after every commit that changes an ACP (or
 * anything a decision depends on), invalidates them all at once, so no decision ever uses a policy
 * older than the last committed change. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core_int.h"
#include "e2e/esprim.h"
#include "rsc.h"
#include "security/acp.h"
#include "util/buf.h"
#include "util/hash.h"
#include "util/mem.h"

/* Compiled pv and pvs of one <accessControlPolicy>, shared by reference count. */
struct compiled {
    atomic_int refs;
    bool exists; /* false: no such ACP (a dangling acpi entry grants nothing) */
    struct acp_policy *pv, *pvs;
};

struct slot {
    char ri[LIMIT_NAME_LEN + 1];
    uint64_t gen;
    struct compiled *c;
};

/* Registered AEs by AE-ID-Stem, for the originator check of every request. */
struct regslot {
    char stem[64];
    uint64_t gen;
    int64_t et; /* the registration's expirationTime: past it, the entry is not trusted */
    bool registered;
};

struct policy_cache {
    pthread_mutex_t lock;
    struct slot *slots;
    size_t nslots;
    struct regslot *reg;
    size_t nreg;
    atomic_uint_fast64_t gen;
};

struct policy_cache *policy_cache_new(size_t nslots)
{
    struct policy_cache *pc = mem_calloc(1, sizeof *pc);
    pthread_mutex_init(&pc->lock, NULL);
    pc->nslots = nslots ? nslots : 1;
    pc->slots = mem_calloc(pc->nslots, sizeof *pc->slots);
    pc->nreg = pc->nslots;
    pc->reg = mem_calloc(pc->nreg, sizeof *pc->reg);
    atomic_init(&pc->gen, 1);
    return pc;
}

static void compiled_put(struct compiled *c)
{
    if (c && atomic_fetch_sub(&c->refs, 1) == 1) {
        acp_policy_free(c->pv);
        acp_policy_free(c->pvs);
        mem_free(c);
    }
}

void policy_cache_free(struct policy_cache *pc)
{
    if (pc == NULL)
        return;
    for (size_t i = 0; i < pc->nslots; i++)
        compiled_put(pc->slots[i].c);
    mem_free(pc->slots);
    mem_free(pc->reg);
    pthread_mutex_destroy(&pc->lock);
    mem_free(pc);
}

void policy_invalidate(struct cse *cse)
{
    atomic_fetch_add(&cse->policies->gen, 1);
}

static struct compiled *load(struct cse *cse, struct store_view *v, const char *ri, int64_t now)
{
    struct compiled *c = mem_calloc(1, sizeof *c);
    atomic_init(&c->refs, 1);
    struct store_row row;
    if (v->st->ops->get_ri(v, ri, now, &row) != STORE_OK)
        return c;
    if (rtype_original(row.ty) == TY_ACP) { /* an accessControlPolicyAnnc decides here like one */
        json_t *doc = json_loads(row.doc, 0, NULL);
        char err[256];
        c->pv = acp_compile(json_object_get(doc, "pv"), &cse->idenv, err, sizeof err);
        c->pvs = acp_compile(json_object_get(doc, "pvs"), &cse->idenv, err, sizeof err);
        c->exists = true; /* a policy that no longer compiles grants nothing (pv/pvs NULL) */
        json_decref(doc);
    }
    store_row_free(&row);
    return c;
}

/* A counted reference to the compiled policy of ACP ri; release with compiled_put. fresh: compiled
 * from v, bypassing the cache both ways (a writer's transaction may hold uncommitted changes of the
 * ACP that must neither be missed nor published to the cache). */
static struct compiled *policy_get(struct cse *cse, struct store_view *v, const char *ri, int64_t now, bool fresh)
{
    struct policy_cache *pc = cse->policies;
    if (fresh || strlen(ri) > LIMIT_NAME_LEN)
        return load(cse, v, ri, now);
    struct slot *s = &pc->slots[hash_str(ri) % pc->nslots];
    uint64_t gen = atomic_load(&pc->gen);
    pthread_mutex_lock(&pc->lock);
    if (s->c && s->gen == gen && strcmp(s->ri, ri) == 0) {
        struct compiled *c = s->c;
        atomic_fetch_add(&c->refs, 1);
        pthread_mutex_unlock(&pc->lock);
        return c;
    }
    pthread_mutex_unlock(&pc->lock);
    struct compiled *c = load(cse, v, ri, now); /* outside the lock; gen read before loading */
    pthread_mutex_lock(&pc->lock);
    struct compiled *old = s->c;
    atomic_fetch_add(&c->refs, 1);
    s->c = c;
    s->gen = gen;
    snprintf(s->ri, sizeof s->ri, "%s", ri);
    pthread_mutex_unlock(&pc->lock);
    compiled_put(old);
    return c;
}

/* acor references: a <group> whose members include the originator (TS-0003 §7.1.3). */
static bool ref_admits(void *arg, const char *ref, const char *orig)
{
    struct op_ctx *c = arg;
    return group_admits(c, ref, orig);
}

__attribute__((format(printf, 4, 5))) static void decision(struct decision *d, bool permit, const char *reason,
                                                           const char *fmt, ...)
{
    d->permit = permit;
    d->reason = reason;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->detail, sizeof d->detail, fmt, ap);
    va_end(ap);
}

/* Explain mode: each rule of the policy being evaluated, as one line. */
struct trace {
    struct buf *out;
    const char *what;
};

static void trace_rule(void *arg, int rule, const char *reason)
{
    struct trace *t = arg;
    buf_printf(t->out, "  %s rule %d: %s\n", t->what, rule, reason);
}

static bool has_credentials(const struct cse_request *req)
{
    return req->az.nrids || req->az.ntids || req->az.nltids || req->az.ntkns;
}

/* After the policies denied: a token's privileges may grant (never a privilege change: tokens_grant
 * false); a refused credential names the denial. */
static void with_credentials(struct creds *cr, const struct store_row *target, const struct store_row *src,
                             struct acp_request *rq, bool tokens_grant, struct decision *d)
{
    if (cr == NULL)
        return;
    char detail[sizeof d->detail];
    if (!d->permit && tokens_grant && creds_token_permits(cr, target, src, rq, detail, sizeof detail)) {
        decision(d, true, "token", "%s", detail);
        return;
    }
    if (!d->permit && creds_refused(cr) != NULL) {
        size_t n = strlen(d->detail);
        snprintf(d->detail + n, sizeof d->detail - n, "; a credential was refused: %s", creds_refused_line(cr));
        d->reason = creds_refused(cr);
    }
}

static const struct acp_location *location_of(void *arg)
{
    return originator_location(arg);
}

/* TS-0003 §8.4 (ESPrim), §8.7 (ESCertKE); TS-0004 §7.6.2, §7.5.1.2.12: a NOTIFY to the <CSEBase>
 * whose Content is m2m:seci is this CSE's end of an end-to-end security procedure, not a
 * notification. It is decided here, by name, instead of by the <CSEBase>'s ACP (whose NOTIFY
 * privilege is the admin's): each procedure authorizes it itself, ESPrim by possession of the
 * pairwise key bound to the inner From (the inner request is then authorized on its own, as its
 * originator), ESCertKE by the initiator's certificate chain to tls.ca and From matching it. The
 * originator checks of every request (dispatch.c) came first; each procedure's refusals are audited
 * with their own reasons (esprim-*, escertke-*). README "Access decision". */
static bool e2e_procedure(struct op_ctx *c, enum acop op, const struct store_row *target, struct decision *d)
{
    if (op != ACOP_NOTIFY || target->ty != TY_CSEBASE || c->req->op != OP_NOTIFY || c->req->media != MEDIA_JSON ||
        !esprim_claims(c))
        return false;
    decision(d, true, "e2e-procedure",
             "an end-to-end security procedure (m2m:seci, TS-0003 8.4/8.7): authorized by the pairwise key "
             "(ESPrim) or the certificate chain (ESCertKE), not by the acpi of %s",
             target->ri);
    if (c->explain)
        buf_puts(c->explain, "  the Content is m2m:seci: an end-to-end security procedure (e2e-procedure)\n");
    return true;
}

int policy_decide(struct op_ctx *c, enum acop op, const struct store_row *target, int child_ty, bool use_pvs,
                  struct decision *d)
{
    const struct originator *o = c->orig;
    if (e2e_procedure(c, op, target, d))
        return 0;
    if (o->subj.is_admin) {
        decision(d, true, "admin", "the admin originator");
        if (c->explain)
            buf_puts(c->explain, "  the admin originator is granted everything\n");
        return 0;
    }
    struct creds *cr = has_credentials(c->req) ? creds_get(c) : NULL;
    if (cr && c->explain)
        buf_puts(c->explain, creds_explanation(cr));
    struct acp_request rq = {
        .orig = o->subj.canon ? o->subj.canon : "",
        .authenticated = c->orig->authenticated,
        .op = op,
        .time = c->now,
        .peer = c->req->sec.peer[0] ? c->req->sec.peer : NULL,
        .loc_get = location_of,
        .loc_arg = c,
        .target_ty = target->ty,
        .child_ty = child_ty,
        .ref_admits = ref_admits,
        .ref_arg = c,
    };

    /* Which resource's policies apply: an ACP governs itself with pvs; a type without acpi
     * (contentInstance) is governed by its parent's. */
    const struct store_row *src = target;
    struct store_row parent;
    bool have_parent = false;
    const struct rtype *t = rtype_find(target->ty);
    const char *roles[64];
    struct trace tr = {.out = c->explain, .what = ""};
    char what[LIMIT_NAME_LEN + 32];
    if (c->explain) {
        rq.trace = trace_rule;
        rq.trace_arg = &tr;
        tr.what = what;
    }
    /* TS-0001 §9.6.26.1: only the Hosting CSE of the original resource updates and deletes an
     * announced resource (and announces its children below it), whatever its announced acpi says:
     * that CSE created it (cr) and is the only one that may (resources/annc.c) */
    if (t != NULL && t->annc_of != 0 && target->cr && target->cr[0] && o->subj.canon &&
        strcmp(target->cr, o->subj.canon) == 0) {
        decision(d, true, "announcer", "%s announced %s", target->cr, target->ri);
        if (c->explain)
            buf_printf(c->explain, "  %s is announced by the originator\n", target->ri);
        return 0;
    }
    if (rtype_original(target->ty) == TY_ACP) {
        rq.nroles = cr ? creds_roles(cr, target, target, roles, 64) : 0;
        rq.roles = roles;
        snprintf(what, sizeof what, "selfPrivileges of %s", target->ri);
        struct compiled *comp = policy_get(c->cse, c->view, target->ri, c->now, c->in_txn);
        struct acp_why why;
        bool ok = acp_permits(comp->pvs, &rq, &why);
        if (ok)
            decision(d, true, "acp-self", "selfPrivileges of %s, rule %d", target->ri, why.rule);
        else
            decision(d, false, why.reason, "no rule in the selfPrivileges of %s grants it", target->ri);
        compiled_put(comp);
        with_credentials(cr, target, target, &rq, !use_pvs, d);
        return 0;
    }
    if (t != NULL && !t->has_acpi) {
        int rc = c->view->st->ops->get_ri(c->view, target->pi, c->now, &parent);
        if (rc != STORE_OK) {
            decision(d, false, "parent-gone", "the parent of %s no longer exists", target->ri);
            return 0;
        }
        have_parent = true;
        src = &parent;
    }
    rq.nroles = cr ? creds_roles(cr, target, src, roles, 64) : 0;
    rq.roles = roles;

    if (src->acpi == NULL || src->acpi[0] == '\0') {
        /* No acpi: the default policy (TS-0001 §9.6.2: only the creator), plus the CSEBase's
         * built-in registration policy. */
        struct authz_target at = {.ty = src->ty, .cr = src->cr, .child_ty = child_ty};
        struct authz_result r;
        authz_default(&o->subj, op, &at, &r);
        decision(d, r.permit, r.reason, "default policy of %s (no acpi)", src->ri);
        if (c->explain)
            buf_printf(c->explain, "  %s has no acpi: default policy: %s\n", src->ri, r.reason);
    } else {
        decision(d, false, "no-rules", "none of the policies in acpi of %s grants it", src->ri);
        const char *furthest = "no-rules";
        char ri[LIMIT_NAME_LEN + 1];
        for (const char *p = src->acpi; *p;) {
            const char *e = strchr(p, ' ');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            if (n > 0 && n <= LIMIT_NAME_LEN) {
                memcpy(ri, p, n);
                ri[n] = '\0';
                struct compiled *comp = policy_get(c->cse, c->view, ri, c->now, c->in_txn);
                struct acp_why why = {.rule = -1, .reason = "no-rules"};
                bool exists = comp->exists;
                snprintf(what, sizeof what, "accessControlPolicy %s (%s)", ri, use_pvs ? "pvs" : "pv");
                if (c->explain && !exists)
                    buf_printf(c->explain, "  accessControlPolicy %s: no longer exists\n", ri);
                bool ok = exists && acp_permits(use_pvs ? comp->pvs : comp->pv, &rq, &why);
                compiled_put(comp);
                if (ok && !d->permit) {
                    decision(d, true, use_pvs ? "acp-self" : "acp", "accessControlPolicy %s, rule %d", ri, why.rule);
                    if (!c->explain)
                        break;
                }
                if (exists && strcmp(why.reason, "no-rules") != 0)
                    furthest = why.reason;
            }
            p += n + (e ? 1 : 0);
        }
        if (!d->permit)
            d->reason = furthest;
    }
    /* A privilege change (use_pvs: acpi or daci) is decided by the selfPrivileges the owner wrote
     * alone: privileges from a token or a DAS never grant it, or whoever a DAS favours could take
     * the resource over (a hardening beyond TS-0001 §9.6.1.3.2, see README "Access decision"). */
    with_credentials(cr, target, src, &rq, !use_pvs, d);
    if (use_pvs && !d->permit && c->explain)
        buf_puts(c->explain, "  tokens and dynamic authorization never grant a change of acpi or daci\n");
    if (!use_pvs)
        dynauth_decide(c, op, target, src, &rq, d);
    if (have_parent)
        store_row_free(&parent);
    return 0;
}

void policy_decide_subscriber(struct cse *cse, struct store_view *v, int64_t now, const char *subscriber, enum acop op,
                              const struct store_row *target, struct decision *d)
{
    if (subscriber == NULL || subscriber[0] == '\0') {
        decision(d, false, "no-subscriber", "the subscription records no creator");
        return;
    }
    struct originator o = {.present = true, .authenticated = cse->secure};
    o.is_admin = strcmp(subscriber, cse->admin.canon) == 0;
    o.subj.canon = subscriber;
    o.subj.is_admin = o.is_admin;
    struct cse_request req;
    request_init(&req);
    req.op = OP_NOTIFY;
    req.fr = subscriber;
    req.to = target->path;
    req.rqi = "notification";
    req.sec.binding = "notify";
    struct cse_response rsp;
    response_init(&rsp);
    struct op_ctx c = {.cse = cse, .req = &req, .rsp = &rsp, .view = v, .orig = &o, .now = now, .in_txn = true};
    policy_decide(&c, op, target, 0, false, d);
    creds_free(c.creds);
    response_free(&rsp);
}

/* Does the originator know this ACP: it created it, or may read it (its pvs, RETRIEVE)? Only then
 * may it link it: otherwise an acpi entry would tell an ACP it may not see from a resource that
 * does not exist (finding 11). */
static bool acp_readable(struct op_ctx *c, const struct store_row *acp)
{
    const char *me = c->orig->subj.canon;
    if (c->orig->subj.is_admin || (me != NULL && acp->cr != NULL && strcmp(acp->cr, me) == 0))
        return true;
    struct decision d;
    struct buf *explain = c->explain;
    c->explain = NULL;
    policy_decide(c, ACOP_RETRIEVE, acp, 0, false, &d);
    c->explain = explain;
    return d.permit;
}

int acpi_resolve(struct op_ctx *c, const json_t *list, bool linking, char **out)
{
    *out = NULL;
    if (json_is_null(list)) {
        *out = mem_strdup("");
        return 0;
    }
    struct buf b;
    buf_init(&b);
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *id = json_string_value(e);
        struct store_row acp;
        bool found = id && resolve_row(c, id, false, &acp) == 0;
        bool ok = found && rtype_original(acp.ty) == TY_ACP && (!linking || acp_readable(c, &acp));
        if (ok || !linking) {
            /* a list read at use (a group's macp) keeps an entry that names no ACP as "-", a
             * resourceID nothing has: it grants nothing, like a dangling acpi entry, and the
             * requester learns nothing about the list (no 4000 naming it) */
            if (b.len)
                buf_putc(&b, ' ');
            buf_puts(&b, ok ? acp.ri : "-");
        }
        if (found)
            store_row_free(&acp);
        if (!ok && linking) {
            buf_free(&b);
            /* one answer for no such resource, not an ACP and an ACP the originator may not read */
            return response_error(c->rsp, RSC_BAD_REQUEST, "bad-acpi",
                                  "acpi[%zu] does not name an accessControlPolicy of this CSE that the originator "
                                  "may retrieve",
                                  i);
        }
    }
    *out = buf_take(&b, NULL);
    return 0;
}

int ae_registered(struct cse *cse, struct store_view *v, const char *stem, int64_t now, bool *registered)
{
    struct policy_cache *pc = cse->policies;
    bool cacheable = strlen(stem) < sizeof pc->reg[0].stem;
    struct regslot *s = &pc->reg[hash_str(stem) % pc->nreg];
    uint64_t gen = atomic_load(&pc->gen);
    if (cacheable) {
        pthread_mutex_lock(&pc->lock);
        bool hit = s->gen == gen && strcmp(s->stem, stem) == 0 && (!s->registered || now < s->et);
        bool value = s->registered;
        pthread_mutex_unlock(&pc->lock);
        if (hit) {
            *registered = value;
            return 0;
        }
    }
    struct store_row ae;
    int rc = v->st->ops->get_ri(v, stem, now, &ae);
    if (rc == STORE_ERROR)
        return -1;
    *registered = rc == STORE_OK && ae.ty == TY_AE;
    int64_t et = rc == STORE_OK ? ae.et : 0;
    if (rc == STORE_OK)
        store_row_free(&ae);
    if (cacheable) {
        pthread_mutex_lock(&pc->lock);
        snprintf(s->stem, sizeof s->stem, "%s", stem);
        s->gen = gen;
        s->et = et;
        s->registered = *registered;
        pthread_mutex_unlock(&pc->lock);
    }
    return 0;
}
