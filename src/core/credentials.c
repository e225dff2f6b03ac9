/* credentials: what a request's rids, tids, ltids and tkns prove (TS-0003 §7.3.2.5, §7.4.3), for
 * the access decision of core/policy.c. Roles come from <role> resources of this CSE (the Role
 * Repository), tokens from the request itself, from <token> resources (tids) or from the cache of
 * tokens verified before (ltids). Each is verified once per request; every refusal is recorded as
 * a line of the request's explanation, so a denial can say why a credential did not count.
 *
 * Verified tokens are cached until they expire, keyed by their compact form (so a token sent again
 * is not verified again: ES256 costs ~0.1 ms) and by the Local-Token-ID this CSE assigns to it
 * (returned in ati). A cached token is still checked against the originator and the clock on
 * every use. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_int.h"
#include "security/token.h"
#include "util/buf.h"
#include "util/hash.h"
#include "util/mem.h"
#include "util/rand.h"
#include "util/timeutil.h"

struct held {
    atomic_int refs;
    struct token *t;
    char *compact; /* NULL for a token loaded through tids */
    char lti[40];
};

struct token_cache {
    pthread_mutex_t lock;
    struct held **slots;
    size_t n;
};

static void held_put(struct held *h)
{
    if (h && atomic_fetch_sub(&h->refs, 1) == 1) {
        token_free(h->t);
        mem_free(h->compact);
        mem_free(h);
    }
}

struct token_cache *token_cache_new(size_t n)
{
    struct token_cache *tc = mem_calloc(1, sizeof *tc);
    pthread_mutex_init(&tc->lock, NULL);
    tc->n = n ? n : 1;
    tc->slots = mem_calloc(tc->n, sizeof *tc->slots);
    return tc;
}

void token_cache_free(struct token_cache *tc)
{
    if (tc == NULL)
        return;
    for (size_t i = 0; i < tc->n; i++)
        held_put(tc->slots[i]);
    mem_free(tc->slots);
    pthread_mutex_destroy(&tc->lock);
    mem_free(tc);
}

/* A counted reference to the cached token whose compact form is text, or NULL. */
static struct held *cache_by_text(struct token_cache *tc, const char *text, int64_t now)
{
    size_t i = hash_str(text) % tc->n;
    pthread_mutex_lock(&tc->lock);
    struct held *h = tc->slots[i];
    if (h && h->compact && strcmp(h->compact, text) == 0 && now < h->t->exp)
        atomic_fetch_add(&h->refs, 1);
    else
        h = NULL;
    pthread_mutex_unlock(&tc->lock);
    return h;
}

/* Local-Token-IDs are "<slot>-<64 random bits>", so a lookup goes straight to its slot. */
static struct held *cache_by_lti(struct token_cache *tc, const char *lti, int64_t now)
{
    char *end;
    unsigned long slot = strtoul(lti, &end, 10);
    if (end == lti || *end != '-' || slot >= tc->n)
        return NULL;
    pthread_mutex_lock(&tc->lock);
    struct held *h = tc->slots[slot];
    if (h && strcmp(h->lti, lti) == 0 && now < h->t->exp)
        atomic_fetch_add(&h->refs, 1);
    else
        h = NULL;
    pthread_mutex_unlock(&tc->lock);
    return h;
}

/* Keep a verified token (takes t); returns a counted reference. */
static struct held *cache_put(struct token_cache *tc, struct token *t, const char *text)
{
    struct held *h = mem_calloc(1, sizeof *h);
    atomic_init(&h->refs, 2); /* the cache's and the caller's */
    h->t = t;
    h->compact = text ? mem_strdup(text) : NULL;
    size_t slot = hash_str(text ? text : t->jti) % tc->n;
    uint64_t r;
    rand_bytes(&r, sizeof r);
    snprintf(h->lti, sizeof h->lti, "%zu-%016llx", slot, (unsigned long long)r);
    pthread_mutex_lock(&tc->lock);
    struct held *old = tc->slots[slot];
    tc->slots[slot] = h;
    pthread_mutex_unlock(&tc->lock);
    held_put(old);
    return h;
}

/* ---- per request ----------------------------------------------------------------------------- */

#define MAX_ROLES  64
#define MAX_TOKENS (3 * REQ_AUTHZ_MAX)

struct creds {
    char *roles[MAX_ROLES]; /* Role-IDs verified through <role> resources */
    int nroles;
    struct held *tok[MAX_TOKENS];
    int ntok;
    bool assigned[MAX_TOKENS]; /* the token arrived in tkns or tids: its lti goes into ati */
    const char *refused;       /* the first refusal's reason, for the denial */
    char refused_line[200];    /* and what was refused, and why */
    struct buf why;            /* one line per credential */
};

void creds_free(struct creds *cr)
{
    if (cr == NULL)
        return;
    for (int i = 0; i < cr->nroles; i++)
        mem_free(cr->roles[i]);
    for (int i = 0; i < cr->ntok; i++)
        held_put(cr->tok[i]);
    buf_free(&cr->why);
    mem_free(cr);
}

__attribute__((format(printf, 3, 4))) static void note(struct creds *cr, const char *refused, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    buf_puts(&cr->why, line);
    buf_putc(&cr->why, '\n');
    if (refused && cr->refused == NULL) {
        cr->refused = refused;
        snprintf(cr->refused_line, sizeof cr->refused_line, "%.199s", line);
    }
}

/* The children of the CSEBase (the Role and Token Repository) of type ty whose attribute attr is
 * value, by the store's indexed filter. */
static void repository_find(struct op_ctx *c, int ty, const char *attr, const char *value, store_row_fn fn, void *arg)
{
    const int tys[] = {ty};
    const char *name[] = {attr}, *val[] = {value};
    struct store_filter f = {.ty = tys,
                             .nty = 1,
                             .atr_name = name,
                             .atr_value = val,
                             .natr = 1,
                             .sts = -1,
                             .stb = -1,
                             .sza = -1,
                             .szb = -1,
                             .max_depth = 1};
    c->view->st->ops->find(c->view, c->cse->cfg->cse_rn, &f, c->now, fn, arg);
}

struct role_scan {
    struct op_ctx *c;
    struct creds *cr;
    const char *rid;
    bool found, verified;
};

static int role_seen(void *arg, const struct store_row *row)
{
    struct role_scan *s = arg;
    struct op_ctx *c = s->c;
    json_t *doc = json_loads(row->doc, 0, NULL);
    const char *tkis = json_string_value(json_object_get(doc, "tkis"));
    const char *tkhd = json_string_value(json_object_get(doc, "tkhd"));
    const char *nb = json_string_value(json_object_get(doc, "tknb"));
    const char *na = json_string_value(json_object_get(doc, "tkna"));
    struct id issuer, holder;
    int64_t tnb = 0, tna = 0;
    bool ok_ids = tkis && tkhd && id_parse(&c->cse->idenv, tkis, &issuer) && id_parse(&c->cse->idenv, tkhd, &holder);
    bool ok_ts = nb && na && ts_parse(nb, &tnb) && ts_parse(na, &tna);
    const char *orig = c->orig->subj.canon ? c->orig->subj.canon : "";
    if (!ok_ids || !ok_ts) {
        note(s->cr, "role-invalid", "role %s (%s): unreadable issuer, holder or validity", s->rid, row->ri);
    } else if (strcmp(holder.canon, orig) != 0) {
        if (!s->found) /* another holder's role of the same ID: not this originator's to use */
            note(s->cr, NULL, "role %s (%s): held by %s, not by %s", s->rid, row->ri, holder.canon, orig);
    } else if (!token_issuer_issues_roles(c->cse->issuers, issuer.canon)) {
        note(s->cr, "role-issuer", "role %s (%s): issuer %s is not an Authorization Authority", s->rid, row->ri,
             issuer.canon);
    } else if (c->now < tnb) {
        note(s->cr, "role-not-yet-valid", "role %s (%s): valid only from %s", s->rid, row->ri, nb);
    } else if (c->now >= tna) {
        note(s->cr, "role-expired", "role %s (%s): expired at %s", s->rid, row->ri, na);
    } else {
        note(s->cr, NULL, "role %s (%s): verified (issuer %s, until %s)", s->rid, row->ri, issuer.canon, na);
        s->verified = true;
    }
    s->found = true;
    json_decref(doc);
    return s->verified ? 1 : 0;
}

static void gather_roles(struct op_ctx *c, struct creds *cr)
{
    const struct cse_authz_params *az = &c->req->az;
    for (int i = 0; i < az->nrids && cr->nroles < MAX_ROLES; i++) {
        struct role_scan s = {.c = c, .cr = cr, .rid = az->rids[i]};
        repository_find(c, TY_ROLE, "rlid", az->rids[i], role_seen, &s);
        if (!s.found)
            note(cr, "role-unknown", "role %s: no such <role> in the Role Repository", az->rids[i]);
        else if (s.verified)
            cr->roles[cr->nroles++] = mem_strdup(az->rids[i]);
        else if (cr->refused == NULL)
            cr->refused = "role-unverified";
    }
}

/* The reason of a refused token as a static "token-..." string for the denial and the audit line. */
static const char *token_reason(const char *r)
{
    static const char *const names[] = {
        "token-malformed",     "token-unknown-issuer", "token-alg-not-permitted", "token-unsecured-not-permitted",
        "token-bad-signature", "token-undecryptable",  "token-bad-claims",        "token-wrong-holder",
        "token-not-yet-valid", "token-expired",        "token-wrong-audience",    "token-unsigned-jwe",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(names[i] + 6, r) == 0)
            return names[i];
    return "token-refused";
}

static const char *own_cse(const struct cse *cse, char *buf, size_t len)
{
    snprintf(buf, len, "//%s%s", cse->idenv.spid, cse->idenv.cse_id);
    return buf;
}

/* Content checks of TS-0003 §7.3.2.5 step 2 on a verified token. */
static bool content_ok(struct op_ctx *c, struct creds *cr, const struct token *t, const char *via)
{
    const char *reason;
    char me[LIMIT_ID_LEN + 1];
    const char *orig = c->orig->subj.canon ? c->orig->subj.canon : "";
    if (!token_check(t, orig, own_cse(c->cse, me, sizeof me), c->now, &reason)) {
        note(cr, token_reason(reason), "token %s (%s): %s", t->jti, via, reason);
        return false;
    }
    return true;
}

static void keep(struct creds *cr, struct held *h, bool assigned)
{
    if (cr->ntok == MAX_TOKENS) {
        held_put(h);
        return;
    }
    cr->assigned[cr->ntok] = assigned;
    cr->tok[cr->ntok++] = h;
}

static struct held *verify_text(struct op_ctx *c, struct creds *cr, const char *text, const char *via)
{
    struct held *h = cache_by_text(c->cse->tokens, text, c->now);
    if (h != NULL)
        return h;
    struct token *t;
    const char *reason;
    char detail[256];
    if (c->cse->issuers == NULL) {
        note(cr, "token-refused", "token (%s): no Authorization Authorities are configured", via);
        return NULL;
    }
    if (token_verify(c->cse->issuers, &c->cse->idenv, text, strlen(text), &t, &reason, detail, sizeof detail) != 0) {
        note(cr, token_reason(reason), "token (%s): %s: %s", via, reason, detail);
        return NULL;
    }
    return cache_put(c->cse->tokens, t, text);
}

struct tid_scan {
    struct op_ctx *c;
    struct creds *cr;
    struct held *h;
    bool found;
};

static int token_seen(void *arg, const struct store_row *row)
{
    struct tid_scan *s = arg;
    json_t *doc = json_loads(row->doc, 0, NULL);
    const char *tkob = json_string_value(json_object_get(doc, "tkob"));
    s->found = true;
    if (tkob)
        s->h = verify_text(s->c, s->cr, tkob, "tids");
    json_decref(doc);
    return s->h ? 1 : 0;
}

static void gather_tokens(struct op_ctx *c, struct creds *cr)
{
    const struct cse_authz_params *az = &c->req->az;
    for (int i = 0; i < az->ntkns; i++) {
        struct held *h = verify_text(c, cr, az->tkns[i], "tkns");
        if (h && content_ok(c, cr, h->t, "tkns"))
            keep(cr, h, true);
        else
            held_put(h);
    }
    for (int i = 0; i < az->ntids; i++) {
        struct tid_scan s = {.c = c, .cr = cr};
        repository_find(c, TY_TOKEN, "tkid", az->tids[i], token_seen, &s);
        if (!s.found)
            note(cr, "token-unknown", "token %s: no such <token> in the Token Repository", az->tids[i]);
        else if (s.h && content_ok(c, cr, s.h->t, "tids"))
            keep(cr, s.h, true);
        else
            held_put(s.h);
    }
    for (int i = 0; i < az->nltids; i++) {
        struct held *h = cache_by_lti(c->cse->tokens, az->ltids[i], c->now);
        if (h == NULL)
            note(cr, "token-unknown", "local token %s: unknown or expired here", az->ltids[i]);
        else if (content_ok(c, cr, h->t, "ltids"))
            keep(cr, h, false);
        else
            held_put(h);
    }
}

bool creds_add_token(struct op_ctx *c, const char *compact, const char *via, const char *das_uri, char *lti,
                     size_t ltilen, int64_t *exp)
{
    struct creds *cr = creds_get(c);
    struct held *h = verify_text(c, cr, compact, via);
    if (h != NULL && das_uri != NULL && !token_issuer_answers_at(c->cse->issuers, h->t->iss, das_uri)) {
        /* issue 12, finding 25: a DAS vouches only for tokens of its own issuer */
        note(cr, "token-not-from-das", "token %s (%s): its issuer %s does not answer as the DAS %s", h->t->jti, via,
             h->t->iss, das_uri);
        held_put(h);
        return false;
    }
    if (h == NULL || !content_ok(c, cr, h->t, via)) {
        held_put(h);
        return false;
    }
    note(cr, NULL, "token %s (%s): verified (%s)", h->t->jti, via, h->t->protection);
    snprintf(lti, ltilen, "%s", h->lti);
    *exp = h->t->exp;
    keep(cr, h, false);
    return true;
}

bool creds_add_local(struct op_ctx *c, const char *lti, const char *via)
{
    struct creds *cr = creds_get(c);
    struct held *h = cache_by_lti(c->cse->tokens, lti, c->now);
    if (h == NULL || !content_ok(c, cr, h->t, via)) {
        held_put(h);
        return false;
    }
    keep(cr, h, false);
    return true;
}

struct creds *creds_get(struct op_ctx *c)
{
    if (c->creds != NULL)
        return c->creds;
    struct creds *cr = mem_calloc(1, sizeof *cr);
    buf_init(&cr->why);
    c->creds = cr;
    const struct cse_authz_params *az = &c->req->az;
    if (az->nrids)
        gather_roles(c, cr);
    if (az->ntkns || az->ntids || az->nltids)
        gather_tokens(c, cr);
    /* ati: every token the request brought in full gets its Local-Token-ID (TS-0004 §7.3.2.5) */
    struct buf ati;
    buf_init(&ati);
    for (int i = 0; i < cr->ntok; i++)
        if (cr->assigned[i]) {
            if (ati.len)
                buf_putc(&ati, '+');
            buf_printf(&ati, "%s:%s", cr->tok[i]->lti, cr->tok[i]->t->jti);
        }
    if (ati.len && c->rsp->ati == NULL)
        c->rsp->ati = buf_take(&ati, NULL);
    else
        buf_free(&ati);
    return cr;
}

int creds_roles(const struct creds *cr, const struct store_row *target, const struct store_row *src, const char **out,
                int max)
{
    int n = 0;
    for (int i = 0; i < cr->nroles && n < max; i++)
        out[n++] = cr->roles[i];
    for (int i = 0; i < cr->ntok; i++) {
        const struct token *t = cr->tok[i]->t;
        for (int p = 0; p < t->npm; p++) {
            const struct token_perm *pm = &t->pm[p];
            if (!token_perm_covers(pm, target->ri, target->path) && !token_perm_covers(pm, src->ri, src->path))
                continue;
            for (int k = 0; k < pm->nrids && n < max; k++)
                out[n++] = pm->rids[k];
        }
    }
    return n;
}

bool creds_token_permits(const struct creds *cr, const struct store_row *target, const struct store_row *src,
                         const struct acp_request *rq, char *detail, size_t len)
{
    for (int i = 0; i < cr->ntok; i++) {
        const struct token *t = cr->tok[i]->t;
        for (int p = 0; p < t->npm; p++) {
            const struct token_perm *pm = &t->pm[p];
            if (pm->pv == NULL ||
                (!token_perm_covers(pm, target->ri, target->path) && !token_perm_covers(pm, src->ri, src->path)))
                continue;
            struct acp_why why;
            if (acp_permits(pm->pv, rq, &why)) {
                snprintf(detail, len, "token %s (issuer %s, %s), permission %d, rule %d", t->jti, t->iss, t->protection,
                         p, why.rule);
                return true;
            }
        }
    }
    return false;
}

const char *creds_refused(const struct creds *cr)
{
    return cr->refused;
}

const char *creds_refused_line(const struct creds *cr)
{
    return cr->refused_line;
}

const char *creds_explanation(const struct creds *cr)
{
    return cr->why.len ? cr->why.p : "";
}
