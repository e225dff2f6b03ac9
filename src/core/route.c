/* route: the route step of dispatch (ARCHITECTURE.md step 3), after authentication and before
 * authorization. The target address (TS-0001 §9.3.1: CSE-relative, SP-relative "/csi/...",
 * absolute "//sp/csi/...") is local, on another CSE this one can reach (the registrar, a registree
 * <remoteCSE> or one of its descendant CSEs, or any other CSE of the SP through the registrar), or
 * unknown: 4004 when no route exists here (TS-0004 §7.3.2.6), 5103 when the next hop cannot be
 * reached (§7.3.2.8). A remote target is forwarded (retargeted) over the hop-by-hop security
 * association through the outbound seam, parked until the answer: never a held thread. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/outbound.h"
#include "core_int.h"
#include "encoding/json.h"
#include "route.h"
#include "rsc.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

/* The SP-relative form of a canonical absolute ID of this SP ("//sp/id-mn/Cae" -> "/id-mn/Cae"); the
 * absolute form of another SP stays as it is (TS-0001 §7.2: From is SP-relative within the SP). */
static const char *sp_relative(const struct cse *cse, const char *canon)
{
    size_t dl = strlen(cse->cfg->cse_spid);
    if (strncmp(canon, "//", 2) == 0 && strncmp(canon + 2, cse->cfg->cse_spid, dl) == 0 && canon[2 + dl] == '/')
        return canon + 2 + dl;
    return canon;
}

/* The next hop towards CSE csi ("/id-mn"): the registrar itself, or any other CSE through it (an
 * IN-CSE knows its registrees). Registree <remoteCSE>s and their descendants are looked up by
 * route_registree (routes.c) first. false: no route from here. */
static bool next_hop(struct cse *cse, struct store_view *v, const char *csi, struct route *r)
{
    if (route_registree(cse, v, csi, r))
        return true;
    const struct cse_config *cfg = cse->cfg;
    if (cfg->registrar_address[0] == '\0')
        return false;
    snprintf(r->hop_id, sizeof r->hop_id, "%s", cfg->registrar_id);
    snprintf(r->hop_addr, sizeof r->hop_addr, "%s", cfg->registrar_address);
    return true;
}

static int no_route(struct cse_response *rsp, const char *to, const char *what)
{
    return response_error(rsp, RSC_NOT_FOUND, "no-route", "target '%.200s' is not hosted here and %s", to, what);
}

int route_request(struct cse *cse, struct store_view *v, const struct cse_request *req, struct route *r,
                  struct cse_response *rsp)
{
    memset(r, 0, sizeof *r);
    r->kind = ROUTE_LOCAL;
    const char *to = req->to;
    if (to == NULL || strlen(to) > LIMIT_ID_LEN)
        return 0; /* resolve_target answers it */
    const struct cse_config *cfg = cse->cfg;
    const char *rel = to;
    if (rel[0] == '/' && rel[1] == '/') { /* absolute: //sp-domain/csi/... */
        size_t dl = strlen(cfg->cse_spid);
        if (strncmp(rel + 2, cfg->cse_spid, dl) != 0 || (rel[2 + dl] != '/' && rel[2 + dl] != '\0'))
            return no_route(rsp, to, "other SP domains are not reachable from this CSE");
        rel += 2 + dl;
        if (*rel == '\0')
            return 0;
    }
    const char *rest = NULL;
    char csi[LIMIT_NAME_LEN + 2];
    if (rel[0] == '/') { /* SP-relative: /csi[/...] */
        size_t n = strcspn(rel + 1, "/");
        if (n == 0 || n + 1 >= sizeof csi)
            return 0;
        memcpy(csi, rel, n + 1);
        csi[n + 1] = '\0';
        if (strcmp(csi, cfg->cse_id) == 0)
            return 0;
        rest = rel + 1 + n; /* "" or "/..." */
    } else {
        /* CSE-relative through a <remoteCSE>: "<cse_rn>/<remoteCSE rn>/<path on that CSE>" (the
         * <remoteCSE> itself, with nothing after it, is a local resource) */
        size_t bl = strlen(cfg->cse_rn);
        if (strncmp(rel, cfg->cse_rn, bl) != 0 || rel[bl] != '/')
            return 0;
        const char *seg = rel + bl + 1;
        size_t n = strcspn(seg, "/");
        if (n == 0 || seg[n] != '/' || seg[n + 1] == '\0' || n + 1 >= sizeof csi)
            return 0;
        char rn[LIMIT_NAME_LEN + 1];
        memcpy(rn, seg, n);
        rn[n] = '\0';
        if (!route_remote_by_rn(cse, v, rn, csi, sizeof csi))
            return 0;
        rest = seg + n; /* "/..." */
    }
    r->kind = ROUTE_REMOTE;
    snprintf(r->cse_id, sizeof r->cse_id, "%s", csi);
    if ((size_t)snprintf(r->to, sizeof r->to, "%s%s", csi, rest) >= sizeof r->to)
        return response_error(rsp, RSC_BAD_REQUEST, "bad-target", "target address too long");
    if (!next_hop(cse, v, csi, r))
        return no_route(rsp, to, "no CSE with that CSE-ID is known here (no registree, no registrar)");
    if (req->op == OP_CREATE && req->ty == TY_AE)
        /* TS-0001 §10.2.2.2: an AE registers with its own registrar, never through another CSE */
        return response_error(rsp, RSC_OPERATION_NOT_ALLOWED, "no-remote-registration",
                              "an AE registers with the CSE it talks to, not through it");
    return 0;
}

/* ---- forwarding ---- */

/* One request in flight to another CSE, keyed by its originator and Request Identifier (which
 * travel with it): the same key arriving again while it is in flight went round a loop. */
struct fwd_key {
    struct fwd_key *next;
    unsigned h;
    char key[];
};

static unsigned key_hash(const char *s)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

#define NBUCKETS (sizeof((struct cse *)0)->fwd_inflight / sizeof((struct cse *)0)->fwd_inflight[0])

/* Add key; false when it is there already (a loop) or too many are in flight. */
static bool inflight_add(struct cse *cse, const char *key, bool *loop, struct fwd_key **out)
{
    unsigned h = key_hash(key);
    struct fwd_key **b = &cse->fwd_inflight[h % NBUCKETS];
    bool ok = true;
    *loop = false;
    pthread_mutex_lock(&cse->fwd_lock);
    for (struct fwd_key *k = *b; k != NULL && ok; k = k->next)
        if (k->h == h && strcmp(k->key, key) == 0)
            ok = false, *loop = true;
    if (ok && cse->fwd_count >= LIMIT_FORWARD_INFLIGHT)
        ok = false;
    if (ok) {
        size_t n = strlen(key) + 1;
        struct fwd_key *k = mem_alloc(sizeof *k + n);
        k->h = h;
        memcpy(k->key, key, n);
        k->next = *b;
        *b = k;
        cse->fwd_count++;
        *out = k;
    }
    pthread_mutex_unlock(&cse->fwd_lock);
    return ok;
}

static void inflight_remove(struct cse *cse, struct fwd_key *key)
{
    pthread_mutex_lock(&cse->fwd_lock);
    for (struct fwd_key **p = &cse->fwd_inflight[key->h % NBUCKETS]; *p != NULL; p = &(*p)->next)
        if (*p == key) {
            *p = key->next;
            cse->fwd_count--;
            break;
        }
    pthread_mutex_unlock(&cse->fwd_lock);
    mem_free(key);
}

struct fwd {
    struct cse_cont k; /* the forwarded request, parked until the answer */
    struct fwd_key *key;
    char hop_id[LIMIT_NAME_LEN + 2];
    char cse_id[LIMIT_NAME_LEN + 2]; /* the target's CSE */
};

/* The address of a resource created on CSE csi as this CSE's bindings write a location (relative to
 * their root, the HTTP path without its first '/', the CoAP Location-Path segments: TS-0009 §6.2.2.1,
 * TS-0008 §6.2.2.3): "~/id-mn/cse-mn/ae/cnt/cin". From the target's Content-Location, CSE-relative
 * there ("/cse-mn/ae/cnt/cin", "cse-mn/...") or SP-relative or absolute from a further hop
 * ("/~/id-x/...", "/_/sp/..."); or, when the binding carries none (MQTT, TS-0010), from the created
 * resource's resourceID in the Content: "~/id-mn/cin0a1b2". NULL when neither is there. */
static char *remote_location(const char *csi, const char *loc, const char *body, size_t len)
{
    struct buf b;
    buf_init(&b);
    if (loc != NULL) {
        while (*loc == '/')
            loc++;
        if ((loc[0] == '~' || loc[0] == '_') && loc[1] == '/')
            buf_puts(&b, loc);
        else if (*loc != '\0')
            buf_printf(&b, "~%s/%s", csi, loc);
    } else if (body != NULL) {
        char err[64];
        json_t *doc = json_decode_body(body, len, err, sizeof err);
        const char *k;
        json_t *v;
        if (json_is_object(doc) && json_object_size(doc) == 1)
            json_object_foreach(doc, k, v)
            {
                const char *ri = json_string_value(json_object_get(v, "ri"));
                if (ri != NULL && ri[0] != '\0' && strchr(ri, '/') == NULL)
                    buf_printf(&b, "~%s/%s", csi, ri);
            }
        json_decref(doc);
    }
    if (b.len == 0 || b.len > LIMIT_ID_LEN) {
        buf_free(&b);
        return NULL;
    }
    return buf_take(&b, NULL);
}

static void fwd_answer(void *arg, const struct out_response *res)
{
    struct fwd *f = arg;
    struct cse_response *rsp = f->k.rsp;
    if (res->unsendable != NULL) {
        response_error(rsp, res->rsc, "not-sendable", "not forwarded to the CSE %s: %s", f->hop_id, res->unsendable);
    } else if (res->http_status == 0 || res->truncated) {
        /* TS-0004 §7.3.2.8: the CSE on the way could not be reached (connection refused, timed out,
         * refused by the outbound policy, an unverifiable peer) */
        response_error(rsp, RSC_TARGET_NOT_REACHABLE, "target-not-reachable",
                       "the CSE %s on the way to the target could not be reached", f->hop_id);
    } else {
        rsp->rsc = res->rsc;
        if (res->body != NULL && res->len > 0) {
            rsp->body = mem_alloc(res->len + 1);
            memcpy(rsp->body, res->body, res->len);
            rsp->body[res->len] = '\0';
            rsp->body_len = res->len;
        }
        if (res->rsc == RSC_CREATED)
            rsp->location = remote_location(f->cse_id, res->location, res->body, res->len);
        /* TS-0004 §7.2.1.2: the response parameters of the target CSE go back to the originator */
        rsp->cnst = res->cnst;
        rsp->cnot = res->cnot;
        if (res->ati != NULL)
            rsp->ati = mem_strdup(res->ati);
        if (!rsc_is_success(rsp->rsc) && rsp->reason == NULL)
            rsp->reason = "remote";
    }
    struct cse_cont k = f->k;
    inflight_remove(k.cse, f->key);
    mem_free(f);
    cont_resume(&k, CONT_ANSWERED);
}

/* "k=v" with v percent-encoded (RFC 3986 unreserved kept). */
static void query_add(struct buf *q, const char *k, const char *v)
{
    buf_printf(q, "%s%s=", q->len ? "&" : "", k);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-._~", *p))
            buf_append(q, (const char *)p, 1);
        else
            buf_printf(q, "%%%02X", *p);
    }
}

static void query_add_long(struct buf *q, const char *k, long v)
{
    char t[24];
    snprintf(t, sizeof t, "%ld", v);
    query_add(q, k, t);
}

/* The request parameters that travel in the query (TS-0009 §6.2.2.2): result content, discovery
 * result type, the filter criteria Warden evaluates, the attribute list of a partial retrieve,
 * Role-IDs, Token-IDs, Local-Token-IDs, the Token Request Indicator. Each client side maps them to
 * its binding (outbound.h "Request parameters on the wire"). */
static void build_query(const struct cse_request *req, struct buf *q)
{
    if (req->rcn >= 0)
        query_add_long(q, "rcn", req->rcn);
    if (req->drt == 2)
        query_add_long(q, "drt", 2);
    const struct cse_filter *fc = &req->fc;
    if (fc->fu)
        query_add_long(q, "fu", fc->fu);
    for (int i = 0; i < fc->nty; i++)
        query_add_long(q, "ty", fc->ty[i]);
    for (int i = 0; i < fc->nlbl; i++)
        query_add(q, "lbl", fc->lbl[i]);
    for (int i = 0; i < fc->ncty; i++)
        query_add(q, "cty", fc->cty[i]);
    for (int i = 0; i < fc->natr; i++)
        query_add(q, fc->atr_name[i], fc->atr_value[i]);
    const struct {
        const char *k, *v;
    } ts[] = {{"crb", fc->crb}, {"cra", fc->cra}, {"ms", fc->ms}, {"us", fc->us}, {"exb", fc->exb}, {"exa", fc->exa}};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        if (ts[i].v != NULL)
            query_add(q, ts[i].k, ts[i].v);
    const struct {
        const char *k;
        long v;
    } nums[] = {{"sts", fc->sts}, {"stb", fc->stb}, {"sza", fc->sza},
                {"szb", fc->szb}, {"lim", fc->lim}, {"lvl", fc->lvl}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        if (nums[i].v >= 0)
            query_add_long(q, nums[i].k, nums[i].v);
    if (fc->ofst > 0)
        query_add_long(q, "ofst", fc->ofst);
    if (fc->fo == 2)
        query_add_long(q, "fo", 2);
    for (int i = 0; i < req->az.nrids; i++)
        query_add(q, "rids", req->az.rids[i]);
    for (int i = 0; i < req->az.ntids; i++)
        query_add(q, "tids", req->az.tids[i]);
    for (int i = 0; i < req->az.nltids; i++)
        query_add(q, "ltids", req->az.ltids[i]);
    for (int i = 0; i < req->natrl; i++)
        query_add(q, "atrl", req->atrl[i]);
    if (req->az.tqi)
        query_add(q, "tqi", "true");
}

enum cse_status route_forward(const struct cse_cont *k, const struct originator *o, const struct route *r)
{
    struct cse *cse = k->cse;
    const struct cse_request *req = k->req;
    struct cse_response *rsp = k->rsp;
    /* TS-0003 §8.4: an ESPrim inner request, and every request it causes (group members, remote
     * fetches), is executed by its receiver only: forwarded, it would leave in the clear */
    if (req->sec.sa == SA_ESPRIM) {
        response_error(rsp, RSC_OPERATION_NOT_ALLOWED, "esprim-not-local",
                       "an ESPrim inner request is executed by its receiver %s, never forwarded", cse->cfg->cse_id);
        return CSE_DONE;
    }
    /* TS-0004 §7.3.2.6: From goes on as the originator's SP-relative ID, so the target CSE
     * authorizes the originator, not this CSE; an absent From (only an AE registration) never
     * gets here */
    const char *fr = o->present ? sp_relative(cse, o->id.canon) : NULL;
    if (fr == NULL || fr[0] == '\0') {
        response_error(rsp, RSC_BAD_REQUEST, "missing-from", "a forwarded request needs an originator");
        return CSE_DONE;
    }
    char url[LIMIT_ID_LEN + 600];
    /* TS-0009 §6.2.2.1: "/~" + the SP-relative target */
    if ((size_t)snprintf(url, sizeof url, "%s/~%s", r->hop_addr, r->to) >= sizeof url) {
        response_error(rsp, RSC_BAD_REQUEST, "bad-target", "target address too long");
        return CSE_DONE;
    }
    /* TS-0004 §7.3.2.1: the Request Expiration Timestamp goes on (absolute, so the next hop's
     * clock judges the same instant) and bounds the wait here */
    int64_t now_ms = clock_now_us(&cse->clock) / 1000, timeout = cse->cfg->forward_timeout;
    char rqet[TS_LEN + 1] = "";
    int64_t until_us;
    /* checked on receipt (dispatch.c check_timing); a relative one counts from now */
    if (req->rqet != NULL && abs_rel_us(req->rqet, now_ms * 1000, &until_us)) {
        int64_t until = until_us / 1000;
        if (until <= now_ms) {
            response_error(rsp, RSC_REQUEST_TIMEOUT, "expired", "the request expired before it could be forwarded");
            return CSE_DONE;
        }
        if (until - now_ms < timeout)
            timeout = until - now_ms;
        ts_format((until + 999) / 1000, rqet);
    }
    /* the Result Expiration Timestamp likewise (absolute; dispatch.c refused one that had passed) */
    char rset[TS_LEN + 1] = "";
    if (req->rset != NULL && abs_rel_us(req->rset, now_ms * 1000, &until_us)) {
        int64_t until = until_us / 1000;
        if (until > now_ms && until - now_ms < timeout)
            timeout = until - now_ms;
        ts_format(until / 1000, rset);
    }
    struct buf q, tk;
    buf_init(&q);
    buf_init(&tk);
    build_query(req, &q);
    for (int i = 0; i < req->az.ntkns; i++)
        buf_printf(&tk, "%s%s", i ? "+" : "", req->az.tkns[i]);
    struct out_request out = {
        .op = req->op,
        .fr = fr,
        .rqi = req->rqi, /* the same request, one hop further: loops are recognisable by it */
        .rvi = req->rvi,
        .ty = req->ty,
        .body = req->body,
        .len = req->body_len,
        .query = q.len ? q.p : NULL,
        .tkns = tk.len ? tk.p : NULL,
        .rqet = rqet[0] ? rqet : NULL,
        .rset = rset[0] ? rset : NULL,
        .gid = req->gid,
        .timeout_ms = (int)timeout,
        .max_attempts = 1,
        .max_answer = LIMIT_BODY_BYTES,
        .cse_peer = true,
        .peer_csi = r->hop_id,
    };
    /* TS-0004 §7.3.2.6: a request that comes back to a CSE that is forwarding it went round a loop
     * (registrations that point at each other): refused at once, not forwarded until it times out.
     * The target is part of the key (it stays the same SP-relative ID on every hop): the member
     * requests of one group request share its originator and Request Identifier (TS-0004
     * §7.4.14.2.4) and are forwarded side by side to different targets, never in a loop. */
    char key[3 * LIMIT_ID_LEN + 3];
    snprintf(key, sizeof key, "%s\n%s\n%s", fr, req->rqi, r->to);
    bool loop;
    struct fwd_key *key_rec = NULL;
    if (!inflight_add(cse, key, &loop, &key_rec)) {
        buf_free(&q);
        buf_free(&tk);
        response_error(rsp, RSC_TARGET_NOT_REACHABLE, loop ? "forward-loop" : "overload",
                       loop ? "the request came back to a CSE that is forwarding it (a routing loop)"
                            : "too many requests are being forwarded now");
        return CSE_DONE;
    }
    struct fwd *f = mem_calloc(1, sizeof *f);
    f->key = key_rec;
    f->k = *k;
    f->k.why = PARK_FORWARD;
    snprintf(f->hop_id, sizeof f->hop_id, "%s", r->hop_id);
    snprintf(f->cse_id, sizeof f->cse_id, "%s", r->cse_id);
    int rc = cse->outbound ? outbound_send(cse->outbound, url, &out, fwd_answer, f) : -1;
    buf_free(&q);
    buf_free(&tk);
    if (rc != 0) {
        inflight_remove(cse, key_rec);
        mem_free(f);
        response_error(rsp, RSC_TARGET_NOT_REACHABLE, "target-not-reachable",
                       "the CSE %s on the way to the target cannot be reached (outbound policy or queue)", r->hop_id);
        return CSE_DONE;
    }
    LOG(cse->log, LOG_DEBUG, "route: %s %s forwarded to %s (%s) as From %s", op_name(req->op), req->to, r->hop_id,
        r->hop_addr, fr);
    return CSE_PENDING;
}

/* ---- notifications to AEs and CSEs registered elsewhere ---- */

bool route_notify_target(struct cse *cse, struct store_view *v, const char *id, char *out, size_t len)
{
    struct id parsed;
    if (!id_parse(&cse->idenv, id, &parsed) || (parsed.kind != ID_AE && parsed.kind != ID_CSE))
        return false;
    const char *rel = sp_relative(cse, parsed.canon); /* "/id-in/Cinapp", "/id-in" */
    if (rel[0] != '/' || rel[1] == '/')
        return false; /* another SP */
    char csi[LIMIT_NAME_LEN + 2];
    size_t n = strcspn(rel + 1, "/");
    if (n == 0 || n + 1 >= sizeof csi || (parsed.kind == ID_AE && rel[1 + n] != '/'))
        return false; /* an S-type AE-ID names no CSE */
    memcpy(csi, rel, n + 1);
    csi[n + 1] = '\0';
    if (strcmp(csi, cse->cfg->cse_id) == 0)
        return false;
    struct route r;
    memset(&r, 0, sizeof r);
    if (!next_hop(cse, v, csi, &r))
        return false;
    return (size_t)snprintf(out, len, "%s %s/~%s", r.hop_id, r.hop_addr, rel) < len;
}

static void notify_done(void *arg, const struct out_response *res)
{
    struct cse *cse = arg;
    if (!rsc_is_success(res->rsc))
        LOG(cse->log, LOG_INFO, "route: a notification through another CSE was answered %d", res->rsc);
}

int route_notify_send(struct cse *cse, const char *entry, const char *body, size_t len, out_done_fn done, void *arg)
{
    const char *sp = strchr(entry, ' ');
    if (sp == NULL || cse->outbound == NULL || (size_t)(sp - entry) > LIMIT_NAME_LEN)
        return -1;
    char hop[LIMIT_NAME_LEN + 2];
    memcpy(hop, entry, (size_t)(sp - entry));
    hop[sp - entry] = '\0';
    /* TS-0004 §7.3.3.9: a NOTIFY to the AE's (or CSE's) ID, From this CSE, over the hop-by-hop
     * association to the CSE on the way; retried like any notification */
    struct out_request rq = {
        .op = OP_NOTIFY, .fr = cse->cfg->cse_id, .body = body, .len = len, .cse_peer = true, .peer_csi = hop};
    return outbound_send(cse->outbound, sp + 1, &rq, done ? done : notify_done, done ? arg : cse);
}
