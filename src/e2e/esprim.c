/* esprim: the ESPrim receiver (see esprim.h). */
#include "e2e/esprim.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bindings/primitive.h"
#include "core/core_int.h"
#include "core/outbound.h"
#include "core/route.h"
#include "core/rsc.h"
#include "e2e/e2e_kdf.h"
#include "e2e/esprim_obj.h"
#include "e2e/esprim_replay.h"
#include "encoding/json.h"
#include "security/audit.h"
#include "security/cred.h"
#include "security/e2e_keys.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/rand.h"
#include "util/timeutil.h"

/* SUIDs of the ESPrim this CSE supports (TS-0003 §12.3, digest C7): pre-provisioned (13) and
 * remotely provisioned (22: keys derived from a Kpsa, §10.3.6) pairwiseESPrimKeys */
static const int esf_suids[] = {13, 22};
static const int espa_all[] = {ESPRIM_ESPA_A128GCM, ESPRIM_ESPA_A192GCM, ESPRIM_ESPA_A256GCM};

struct rand_obj {
    char id[ESPRIM_RANDID_MAX + 1];
    char *canon; /* the serialisation the session key is derived from (owned) */
    size_t len;
    int64_t expiry_s;
    uint64_t serial;
};

/* An originator rand object seen in an accepted ESPrim object (C.6b.2), by (kid, esri). */
struct orig_obj {
    char kid[129];
    char id[ESPRIM_RANDID_MAX + 1];
    char *canon; /* owned; NULL: free slot */
    size_t len;
    int64_t expiry_s;
};

struct esprim {
    pthread_mutex_t lock;
    struct orig_obj oros[LIMIT_ESPRIM_ORIG_RAND_OBJECTS]; /* a linear scan: bounded, small */
    /* the objects issued on request (sit 3), in the slot of their serial (the oldest is replaced),
     * then two slots for the shared one (esro): the current one and the one before, which stays
     * valid until it expires (an originator that read it has the rest of its lifetime to use it), so
     * no number of sit 3 requests can push the shared objects out */
    struct rand_obj objs[LIMIT_ESPRIM_RAND_OBJECTS + 2];
    uint64_t serial;
    /* receiver rand objects with a lower serial are retired: the replay cache forgot objects
     * accepted under them (see replay_check_add) */
    uint64_t retired_below;
    int shared;                   /* index of the current shared object, -1 none */
    struct esprim_replay *replay; /* objects accepted recently (esprim_replay.h) */
    /* the esro the <CSEBase> shows ("" none yet), and the one being written there */
    char published[ESPRIM_RANDID_MAX + 1], publishing[ESPRIM_RANDID_MAX + 1];
    int64_t lifetime; /* esprim.rand_lifetime */
    /* TS-0003 §8.4.2 B.1b: this CSE's esi on its <remoteCSE> at each CSE registered with it (the
     * registree's record of its registrar), pushed when esro changes; what each holds */
    struct esi_peer {
        char csi[LIMIT_NAME_LEN + 2];
        char sent[ESPRIM_RANDID_MAX + 1]; /* the esro ID the registree acknowledged */
        bool inflight;
    } peers[LIMIT_ESPRIM_ESI_PEERS];
    int64_t next_push_ms; /* the next round (monotonic ms): sooner when esro changes */
    char push_round[ESPRIM_RANDID_MAX + 1];
};

struct esprim *esprim_new(long lifetime_s)
{
    struct esprim *e = mem_calloc(1, sizeof *e);
    e->lifetime = lifetime_s > 0 ? lifetime_s : 3600;
    pthread_mutex_init(&e->lock, NULL);
    e->shared = -1;
    e->replay = esprim_replay_new(LIMIT_ESPRIM_REPLAY);
    return e;
}

void esprim_free(struct esprim *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < LIMIT_ESPRIM_RAND_OBJECTS + 2; i++)
        mem_free(e->objs[i].canon);
    for (size_t i = 0; i < LIMIT_ESPRIM_ORIG_RAND_OBJECTS; i++)
        mem_free(e->oros[i].canon);
    esprim_replay_free(e->replay);
    pthread_mutex_destroy(&e->lock);
    mem_free(e);
}

/* The slot of a unique object's serial. */
static size_t slot_of(uint64_t serial)
{
    return (size_t)(serial % LIMIT_ESPRIM_RAND_OBJECTS);
}

/* A new receiver rand object (lock held); its index. shared: the esri says so (TS-0003 §8.4.2
 * B.1a.1 (a), B.2e (a)): "s<n>-<random>" shared, "u<n>-<random>" issued to one originator. */
static size_t issue(struct esprim *e, bool shared, int64_t now, json_t **obj_out)
{
    char id[ESPRIM_RANDID_MAX + 1];
    unsigned char r[4];
    rand_bytes(r, sizeof r);
    uint64_t serial = ++e->serial;
    snprintf(id, sizeof id, "%c%llu-%02x%02x%02x%02x", shared ? 's' : 'u', (unsigned long long)serial, r[0], r[1], r[2],
             r[3]);
    json_t *o = esprim_randobj_new(id, now + e->lifetime, true, espa_all, 3);
    size_t i = !shared                                  ? slot_of(serial)
               : e->shared == LIMIT_ESPRIM_RAND_OBJECTS ? LIMIT_ESPRIM_RAND_OBJECTS + 1
                                                        : LIMIT_ESPRIM_RAND_OBJECTS;
    struct rand_obj *ro = &e->objs[i];
    mem_free(ro->canon);
    const char *why;
    snprintf(ro->id, sizeof ro->id, "%s", id);
    ro->serial = serial;
    ro->canon = esprim_randobj_canon(o, true, &ro->len, &ro->expiry_s, &why);
    *obj_out = o;
    return i;
}

/* The shared object, replaced once half its life has passed (lock held). */
static size_t shared_current(struct esprim *e, int64_t now)
{
    if (e->shared < 0 || e->objs[e->shared].expiry_s - now < e->lifetime / 2 ||
        e->objs[e->shared].serial < e->retired_below) {
        json_t *o;
        e->shared = (int)issue(e, true, now, &o);
        json_decref(o);
    }
    return (size_t)e->shared;
}

/* The esi of this CSE (lock held); its esro's ID into id. */
static json_t *esi_locked(struct esprim *e, int64_t now, char id[ESPRIM_RANDID_MAX + 1])
{
    json_t *esf = json_array();
    for (size_t i = 0; i < sizeof esf_suids / sizeof esf_suids[0]; i++)
        json_array_append_new(esf, json_integer(esf_suids[i]));
    size_t i = shared_current(e, now);
    snprintf(id, ESPRIM_RANDID_MAX + 1, "%s", e->objs[i].id);
    return json_pack("{s:o,s:o}", "esf", esf, "esro", json_loads(e->objs[i].canon, 0, NULL));
}

void *esprim_esi(struct cse *cse)
{
    struct esprim *e = cse->esprim;
    char id[ESPRIM_RANDID_MAX + 1];
    pthread_mutex_lock(&e->lock);
    json_t *esi = esi_locked(e, cse_now(cse), id);
    pthread_mutex_unlock(&e->lock);
    return esi;
}

void *esprim_esi_published(struct cse *cse)
{
    struct esprim *e = cse->esprim;
    pthread_mutex_lock(&e->lock);
    json_t *esi = esi_locked(e, cse_now(cse), e->published);
    pthread_mutex_unlock(&e->lock);
    return esi;
}

/* Rewriting the <CSEBase>'s esi (the store's writer thread). */
struct publish_job {
    struct store_job sj;
    struct cse *cse;
    json_t *esi;
    char id[ESPRIM_RANDID_MAX + 1];
    bool written;
};

static int publish_run(struct store_view *txn, void *arg)
{
    struct publish_job *j = arg;
    const struct store_ops *ops = txn->st->ops;
    int64_t now = cse_now(j->cse);
    struct store_row row;
    if (ops->get_ri(txn, j->cse->cb_ri, now, &row) != STORE_OK)
        return 1;
    json_t *doc = json_loads(row.doc, 0, NULL);
    int rc = 1;
    if (doc != NULL) {
        char ts[TS_LEN + 1];
        ts_format(now, ts);
        json_set_str(doc, "lt", ts);
        json_object_set(doc, "esi", j->esi);
        mem_free(row.doc);
        row.doc = json_encode(doc, NULL);
        json_decref(doc);
        rc = ops->update(txn, &row) == STORE_OK ? 0 : 1;
        j->written = rc == 0;
    }
    store_row_free(&row);
    return rc;
}

static void publish_done(void *arg, bool committed)
{
    struct publish_job *j = arg;
    struct esprim *e = j->cse->esprim;
    pthread_mutex_lock(&e->lock);
    if (committed && j->written)
        snprintf(e->published, sizeof e->published, "%s", j->id);
    e->publishing[0] = '\0'; /* failed: the next tick tries again */
    pthread_mutex_unlock(&e->lock);
    json_decref(j->esi);
    mem_free(j);
}

static void push_esi(struct cse *cse, const char *esri, json_t *esi);

void esprim_tick(struct cse *cse)
{
    struct esprim *e = cse->esprim;
    if (e == NULL)
        return;
    struct publish_job *j = NULL;
    pthread_mutex_lock(&e->lock);
    char id[ESPRIM_RANDID_MAX + 1];
    json_t *esi = esi_locked(e, cse_now(cse), id);
    if (e->publishing[0] == '\0' && strcmp(id, e->published) != 0) {
        j = mem_calloc(1, sizeof *j);
        j->cse = cse;
        j->esi = esi;
        snprintf(j->id, sizeof j->id, "%s", id);
        snprintf(e->publishing, sizeof e->publishing, "%s", id);
        esi = NULL;
    }
    pthread_mutex_unlock(&e->lock);
    push_esi(cse, id, esi ? esi : j->esi);
    json_decref(esi);
    if (j != NULL) {
        j->sj = (struct store_job){.run = publish_run, .done = publish_done, .arg = j};
        if (cse->store->ops->submit(cse->store, &j->sj) != STORE_OK)
            publish_done(j, false);
    }
}

/* ---- B.1b: the esi on the <remoteCSE> of this CSE at its registrees ---------------------------- */

struct push {
    struct cse *cse;
    char csi[LIMIT_NAME_LEN + 2];
    char esri[ESPRIM_RANDID_MAX + 1];
};

static struct esi_peer *peer_slot(struct esprim *e, const char *csi, bool create)
{
    struct esi_peer *free_slot = NULL;
    for (size_t i = 0; i < LIMIT_ESPRIM_ESI_PEERS; i++) {
        if (strcmp(e->peers[i].csi, csi) == 0)
            return &e->peers[i];
        if (free_slot == NULL && e->peers[i].csi[0] == '\0')
            free_slot = &e->peers[i];
    }
    if (create && free_slot != NULL)
        snprintf(free_slot->csi, sizeof free_slot->csi, "%s", csi);
    return create ? free_slot : NULL;
}

static void pushed(void *arg, const struct out_response *res)
{
    struct push *p = arg;
    struct esprim *e = p->cse->esprim;
    pthread_mutex_lock(&e->lock);
    struct esi_peer *s = peer_slot(e, p->csi, false);
    if (s != NULL) {
        s->inflight = false;
        if (res->rsc == RSC_UPDATED || res->rsc == RSC_OK)
            snprintf(s->sent, sizeof s->sent, "%s", p->esri);
    }
    pthread_mutex_unlock(&e->lock);
    if (res->rsc != RSC_UPDATED && res->rsc != RSC_OK)
        LOG(p->cse->log, LOG_INFO, "esprim: esi not updated at %s (rsc %d); again in a while", p->csi, res->rsc);
    mem_free(p);
}

struct scan {
    struct cse *cse;
    json_t *targets; /* [[csi, url], ...] */
};

/* A registree <remoteCSE>: its CSE-ID and the URL of its record of this CSE (ri csr-<our CSE-ID>). */
static int registree_row(void *arg, const struct store_row *row)
{
    struct scan *sc = arg;
    const struct cse_config *cfg = sc->cse->cfg;
    json_t *doc = json_loads(row->doc ? row->doc : "", 0, NULL);
    const char *csi = json_string_value(json_object_get(doc, "csi"));
    const char *cb = json_string_value(json_object_get(doc, "cb"));
    const char *poa = NULL;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(doc, "poa"), i, v)
    {
        const char *u = json_string_value(v);
        if (poa == NULL && u != NULL && (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0))
            poa = u;
    }
    if (csi != NULL && cb != NULL && poa != NULL && cb[0] == '/' && strcmp(csi, cfg->registrar_id) != 0 &&
        strlen(csi) < LIMIT_NAME_LEN + 2) {
        char url[LIMIT_ID_LEN + 600];
        /* by its ri, which the registree assigns (registration.c): an AE may hold our name there */
        int n = snprintf(url, sizeof url, "%s/~%s/csr-%s", poa, csi, cfg->cse_id + 1);
        if (n > 0 && (size_t)n < sizeof url)
            json_array_append_new(sc->targets, json_pack("[s,s]", csi, url));
    }
    json_decref(doc);
    return 0;
}

/* Once a second (lock not held): a round when esro changed or every 10 s (new registrees, failed
 * updates): an UPDATE of esi to each registree that does not hold the current one. */
static void push_esi(struct cse *cse, const char *esri, json_t *esi)
{
    struct esprim *e = cse->esprim;
    if (!atomic_load(&cse->registree_seen) || cse->outbound == NULL)
        return;
    int64_t now_ms = clock_mono_us() / 1000;
    pthread_mutex_lock(&e->lock);
    bool due = now_ms >= e->next_push_ms || strcmp(esri, e->push_round) != 0;
    if (due) {
        e->next_push_ms = now_ms + 10000;
        snprintf(e->push_round, sizeof e->push_round, "%s", esri);
    }
    pthread_mutex_unlock(&e->lock);
    if (!due)
        return;
    struct scan sc = {.cse = cse, .targets = json_array()};
    struct store_view *v = cse->store->ops->view_acquire(cse->store);
    if (v != NULL) {
        v->st->ops->children(v, cse->cb_ri, TY_REMOTE_CSE, cse_now(cse), registree_row, &sc);
        cse->store->ops->view_release(cse->store, v);
    }
    json_t *body = json_pack("{s:{s:O}}", "m2m:csr", "esi", esi);
    size_t len;
    char *text = json_encode(body, &len);
    json_decref(body);
    size_t i;
    json_t *t;
    json_array_foreach(sc.targets, i, t)
    {
        const char *csi = json_string_value(json_array_get(t, 0)), *url = json_string_value(json_array_get(t, 1));
        pthread_mutex_lock(&e->lock);
        struct esi_peer *s = peer_slot(e, csi, true);
        bool send = s != NULL && !s->inflight && strcmp(s->sent, esri) != 0;
        if (send)
            s->inflight = true;
        pthread_mutex_unlock(&e->lock);
        if (!send)
            continue;
        struct push *p = mem_calloc(1, sizeof *p);
        p->cse = cse;
        snprintf(p->csi, sizeof p->csi, "%s", csi);
        snprintf(p->esri, sizeof p->esri, "%s", esri);
        struct out_request rq = {.op = OP_UPDATE,
                                 .fr = cse->cfg->cse_id,
                                 .body = text,
                                 .len = len,
                                 .timeout_ms = (int)cse->cfg->forward_timeout,
                                 .max_attempts = 1,
                                 .max_answer = 16 * 1024,
                                 .cse_peer = true,
                                 .peer_csi = csi};
        if (outbound_send(cse->outbound, url, &rq, pushed, p) != 0) {
            struct out_response none = {.rsc = RSC_TARGET_NOT_REACHABLE};
            pushed(p, &none);
        }
    }
    mem_free(text);
    json_decref(sc.targets);
}

/* A live receiver rand object by ID: its serialisation copied (mem_free) and expiry; NULL when
 * unknown or expired. */
static char *find_obj(struct esprim *e, const char *id, int64_t now, size_t *len, int64_t *expiry)
{
    char *out = NULL, *end = NULL;
    if (id[0] != 'u' && id[0] != 's')
        return NULL;
    unsigned long long serial = strtoull(id + 1, &end, 10);
    if (end == id + 1 || *end != '-')
        return NULL;
    size_t cand[2] = {LIMIT_ESPRIM_RAND_OBJECTS, LIMIT_ESPRIM_RAND_OBJECTS + 1};
    if (id[0] == 'u')
        cand[0] = cand[1] = slot_of(serial);
    pthread_mutex_lock(&e->lock);
    for (int k = 0; k < 2 && out == NULL; k++) {
        struct rand_obj *ro = &e->objs[cand[k]];
        if (ro->canon != NULL && strcmp(ro->id, id) == 0 && ro->expiry_s > now && ro->serial >= e->retired_below) {
            out = mem_strndup(ro->canon, ro->len);
            *len = ro->len;
            *expiry = ro->expiry_s;
        }
    }
    pthread_mutex_unlock(&e->lock);
    return out;
}

/* TS-0003 §8.4.2 C.6b.2: the cached originator rand object (kid, ori), live at now: its
 * serialisation copied (mem_free) and expiry; NULL when unknown or expired. */
static char *find_oro(struct esprim *e, const char *kid, const char *ori, int64_t now, size_t *len, int64_t *expiry)
{
    char *out = NULL;
    pthread_mutex_lock(&e->lock);
    for (size_t i = 0; i < LIMIT_ESPRIM_ORIG_RAND_OBJECTS && out == NULL; i++) {
        struct orig_obj *o = &e->oros[i];
        if (o->canon != NULL && o->expiry_s > now && strcmp(o->id, ori) == 0 && strcmp(o->kid, kid) == 0) {
            out = mem_strndup(o->canon, o->len);
            *len = o->len;
            *expiry = o->expiry_s;
        }
    }
    pthread_mutex_unlock(&e->lock);
    return out;
}

/* Cache an originator rand object carried in an accepted object: its (kid, ori) slot, else a free
 * or expired one, else the one expiring first. */
static void keep_oro(struct esprim *e, const char *kid, const char *ori, const char *canon, size_t len, int64_t expiry,
                     int64_t now)
{
    pthread_mutex_lock(&e->lock);
    struct orig_obj *slot = NULL, *victim = NULL;
    for (size_t i = 0; i < LIMIT_ESPRIM_ORIG_RAND_OBJECTS && slot == NULL; i++) {
        struct orig_obj *o = &e->oros[i];
        bool free_slot = o->canon == NULL || o->expiry_s <= now;
        if (!free_slot && strcmp(o->id, ori) == 0 && strcmp(o->kid, kid) == 0)
            slot = o;
        else if (victim == NULL ||
                 (victim->canon != NULL && victim->expiry_s > now && (free_slot || o->expiry_s < victim->expiry_s)))
            victim = o;
    }
    if (slot == NULL)
        slot = victim;
    mem_free(slot->canon);
    snprintf(slot->kid, sizeof slot->kid, "%s", kid);
    snprintf(slot->id, sizeof slot->id, "%s", ori);
    slot->canon = mem_strndup(canon, len);
    slot->len = len;
    slot->expiry_s = expiry;
    pthread_mutex_unlock(&e->lock);
}

/* Remember an accepted object (kid and IV); false when it was seen before (a replay). When the
 * bounded cache forgets older objects, the rand objects issued before what it still remembers are
 * retired (esprim_replay.h): a forgotten object then names a retired rand object (4114). */
static bool replay_check_add(struct esprim *e, const char *kid, const char *iv, size_t iv_len)
{
    unsigned char d[16];
    esprim_replay_digest(kid, iv, iv_len, d);
    pthread_mutex_lock(&e->lock);
    uint64_t retire = 0;
    bool fresh = esprim_replay_add(e->replay, d, e->serial + 1, &retire);
    if (retire > e->retired_below)
        e->retired_below = retire;
    pthread_mutex_unlock(&e->lock);
    return fresh;
}

bool esprim_claims(const struct op_ctx *c)
{
    if (c->req->sec.sa == SA_ESPRIM) /* no ESPrim inside ESPrim: processed as a notification (4000) */
        return false;
    const char *b = c->req->body;
    size_t n = c->req->body_len, i = 0;
    while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n'))
        i++;
    if (i < n && b[i] == '{')
        i++;
    while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n'))
        i++;
    return n - i >= 10 && memcmp(b + i, "\"m2m:seci\"", 10) == 0;
}

/* An ESPrim error, answered in the clear (TS-0004 §7.6.2) and audited. */
__attribute__((format(printf, 5, 6))) static int fail(struct op_ctx *c, int rsc, const char *reason, const char *kid,
                                                      const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    response_error(c->rsp, rsc, reason, "%s", msg);
    char cred[160], detail[360];
    snprintf(cred, sizeof cred, "e2e:%s", kid && kid[0] ? kid : "-");
    /* the outer NOTIFY was let through as e2e-procedure (policy.c): the procedure decided this */
    snprintf(detail, sizeof detail, "e2e-procedure: %s", msg);
    struct audit_event ev = {
        .event = "deny", /* aggregated like every denial (audit.h): a flood of bad objects is bounded */
        .originator = c->req->fr,
        .peer = c->req->sec.peer,
        .binding = c->req->sec.binding,
        .op = "notify",
        .target = c->req->to,
        .rsc = rsc,
        .reason = reason,
        .detail = detail,
        .credential = cred,
    };
    audit_record(c->cse->audit, &ev);
    LOG(c->cse->log, LOG_INFO, "esprim: rqi=%s refused %d %s (%s)", c->req->rqi ? c->req->rqi : "-", rsc, reason,
        c->rsp->message ? c->rsp->message : "");
    return CSE_DONE;
}

/* One secured exchange: the inner request and everything needed to secure its answer. */
struct esp_job {
    struct cse *cse;
    struct prim_request inner;
    struct cse_response irsp;
    struct cse_response *orsp; /* the outer response (the binding's) */
    struct cse_cont k;         /* the outer request's continuation, parked while the inner one runs (park.h) */
    unsigned char skey[32];
    size_t skey_len;
    char enc[16], kid[129], ori[ESPRIM_RANDID_MAX + 1], rri[ESPRIM_RANDID_MAX + 1];
    char peer_id[257], cred[160];
    char rqet[TS_LEN + 48]; /* the inner request's deadline when the outer one is earlier */
    int64_t t0_us;          /* when the inner request was dispatched (its request-log line) */
};

static void job_free(struct esp_job *j)
{
    cred_wipe(j->skey, sizeof j->skey);
    primitive_request_free(&j->inner);
    response_free(&j->irsp);
    mem_free(j);
}

/* The inner response primitive, secured, as the outer response's Content (sit 5). */
static void seal_response(struct esp_job *j)
{
    struct cse_request *iq = &j->inner.req;
    /* the inner request's own request-log line (the outer one is the NOTIFY's): who did what here */
    if (LOG_ON(j->cse->log, LOG_INFO))
        cse_log_request(j->cse, iq, &j->irsp, j->t0_us ? clock_mono_us() - j->t0_us : 0);
    size_t len = 0;
    char *prim = primitive_encode_response(&j->irsp, iq->rqi, iq->fr, j->cse->cfg->cse_id, iq->rvi, &len);
    char *jwe = prim ? esprim_seal(j->skey, j->skey_len, j->enc, j->kid, "application/json", j->ori, j->rri, NULL, NULL,
                                   prim, len)
                     : NULL;
    if (prim) {
        memset(prim, 0, len);
        mem_free(prim);
    }
    if (jwe == NULL) {
        response_error(j->orsp, RSC_ESPRIM_ENCRYPTION_ERROR, "esprim-encrypt",
                       "the inner response could not be secured");
        return;
    }
    json_t *root = json_pack("{s:{s:i,s:s}}", "m2m:seci", "sit", 5, "epo", jwe);
    mem_free(jwe);
    MEM_FREE(j->orsp->body);
    j->orsp->body = json_encode(root, &j->orsp->body_len);
    json_decref(root);
    j->orsp->rsc = RSC_OK;
}

/* The binding's thread (cse_complete of the outer request): finish the inner one, secure it. */
static void outer_finish(void *arg, struct cse_response *rsp)
{
    struct esp_job *j = arg;
    (void)rsp;
    cse_complete(j->cse, &j->inner.req, &j->irsp);
    seal_response(j);
    job_free(j);
}

/* From the thread that completed the inner request: the outer one completes on its own thread. */
static void inner_done(void *arg)
{
    struct esp_job *j = arg;
    j->orsp->finish = outer_finish;
    j->orsp->finish_arg = j;
    cont_resume(&j->k, CONT_ANSWERED);
}

/* sit 3 -> sit 4: a receiverESPrimRandObject for this originator (TS-0004 §7.5.1.2.11). */
static int answer_rand_request(struct op_ctx *c)
{
    struct esprim *e = c->cse->esprim;
    json_t *o;
    pthread_mutex_lock(&e->lock);
    issue(e, false, c->now, &o);
    pthread_mutex_unlock(&e->lock);
    json_t *root = json_pack("{s:{s:i,s:o}}", "m2m:seci", "sit", 4, "ero", o);
    c->rsp->body = json_encode(root, &c->rsp->body_len);
    json_decref(root);
    c->rsp->rsc = RSC_OK;
    return CSE_DONE;
}

static int secured_request(struct op_ctx *c, const char *epo, size_t epo_len)
{
    struct cse *cse = c->cse;
    struct esprim_hdr h;
    const char *why = NULL;
    int rc = esprim_parse(epo, epo_len, &h, &why);
    if (rc != 0) {
        esprim_hdr_free(&h);
        return fail(c, rc, rc == 4000 ? "esprim-parse" : "esprim-unsupported", NULL, "%s", why);
    }
    struct esp_job *j = mem_calloc(1, sizeof *j);
    snprintf(j->kid, sizeof j->kid, "%s", h.kid);
    snprintf(j->ori, sizeof j->ori, "%s", h.ori);
    snprintf(j->rri, sizeof j->rri, "%s", h.rri);
    snprintf(j->enc, sizeof j->enc, "%s", h.enc);
    struct e2e_key key;
    memset(&key, 0, sizeof key);
    char *rro = NULL, *oro = NULL, *pt = NULL;
    size_t rro_len = 0, oro_len = 0, pt_len = 0;
    int64_t rx = 0, ox = 0;
    int st = CSE_DONE;
    /* TS-0003 §8.4.2 C.6a: the pairwiseESPrimKey; it must be one of this CSE's */
    int kr = cse->creds ? e2e_key_get(cse->creds, h.kid, &key) : 1;
    if (kr < 0) {
        fail(c, RSC_INTERNAL_SERVER_ERROR, "store", h.kid, "%s", "the key store failed");
        goto out;
    }
    struct id local;
    if (kr != 0 || !id_parse(&cse->idenv, key.local_id, &local) || local.kind != ID_CSE || !local.local ||
        strcmp(id_stem(&local), cse->cfg->cse_id + 1) != 0) {
        fail(c, RSC_ESPRIM_UNKNOWN_KEY_ID, "esprim-unknown-key", h.kid, "unknown, revoked or expired kid '%.64s'",
             h.kid);
        goto out;
    }
    /* the receiver's rand object: one this CSE issued and that is still valid */
    if ((rro = find_obj(cse->esprim, h.rri, c->now, &rro_len, &rx)) == NULL) {
        fail(c, RSC_ESPRIM_UNKNOWN_RECV_RAND_ID, "esprim-unknown-rri", h.kid,
             "unknown or expired receiver rand object '%.64s'", h.rri);
        goto out;
    }
    /* the originator's (C.6b.2): carried in full (oro, whose esri must then be ori: Warden's reading
     * of "at the beginning of a session"), or named by ori alone when an earlier object of this key
     * carried it; live, and expiring no later than the receiver's */
    bool carried = h.oro != NULL;
    if (carried ? (!json_is_string(json_object_get(h.oro, "esri")) ||
                   strcmp(json_string_value(json_object_get(h.oro, "esri")), h.ori) != 0 ||
                   (oro = esprim_randobj_canon(h.oro, false, &oro_len, &ox, &why)) == NULL)
                : (oro = find_oro(cse->esprim, h.kid, h.ori, c->now, &oro_len, &ox)) == NULL) {
        fail(c, RSC_ESPRIM_UNKNOWN_ORIG_RAND_ID, "esprim-unknown-ori", h.kid,
             carried ? "the originator rand object '%.64s' is malformed or does not match ori"
                     : "unknown or expired originator rand object '%.64s' (send it as oro)",
             h.ori);
        goto out;
    }
    if (ox <= c->now || ox > rx) {
        fail(c, RSC_ESPRIM_UNKNOWN_ORIG_RAND_ID, "esprim-unknown-ori", h.kid,
             "the originator rand object '%.64s' has expired or outlives the receiver's", h.ori);
        goto out;
    }
    json_t *rro_obj = json_loadb(rro, rro_len, 0, NULL);
    json_t *oro_obj = json_loadb(oro, oro_len, 0, NULL);
    bool ok_alg = json_integer_value(json_object_get(oro_obj, "esk")) == ESPRIM_KEYGEN_HMAC_SHA256 &&
                  esprim_randobj_has_espa(oro_obj, h.espa) && esprim_randobj_has_espa(rro_obj, h.espa);
    json_decref(rro_obj);
    json_decref(oro_obj);
    if (!ok_alg) {
        fail(c, RSC_ESPRIM_UNSUPPORTED_OPTION, "esprim-unsupported", h.kid, "%s",
             "esk must be 1 (HMAC-SHA256) and enc listed in both rand objects' espa");
        goto out;
    }
    /* TS-0003 §10.3.8.2 */
    j->skey_len = esprim_enc_keylen(h.enc);
    if (e2e_session_key(key.key, key.key_len, (const unsigned char *)rro, rro_len, (const unsigned char *)oro, oro_len,
                        j->skey, j->skey_len) != 0) {
        fail(c, RSC_ESPRIM_DECRYPTION_ERROR, "esprim-decrypt", h.kid, "%s", "the session key could not be derived");
        goto out;
    }
    rc = esprim_open(epo, epo_len, j->skey, j->skey_len, &pt, &pt_len);
    if (rc != 0) {
        fail(c, rc == 4115 ? RSC_ESPRIM_BAD_MAC : RSC_BAD_REQUEST, rc == 4115 ? "esprim-bad-mac" : "esprim-parse",
             h.kid, "%s", rc == 4115 ? "the ESPrim object failed its integrity check" : "unreadable ESPrim object");
        goto out;
    }
    const char *iv;
    size_t iv_len;
    if (!esprim_iv(epo, epo_len, &iv, &iv_len) || !replay_check_add(cse->esprim, h.kid, iv, iv_len)) {
        fail(c, RSC_ORIGINATOR_NOT_AUTHENTICATED, "esprim-replay", h.kid, "%s",
             "this ESPrim object was received before (replay)");
        goto out;
    }
    if (carried) /* authenticated now: the originator's next objects may name it by ori alone */
        keep_oro(cse->esprim, h.kid, h.ori, oro, oro_len, ox, c->now);
    /* the inner request primitive (TS-0004 §8 JSON serialisation) */
    struct cse_response drsp;
    response_init(&drsp);
    if (primitive_decode_request(pt, pt_len, &j->inner, &drsp) != 0) {
        fail(c, RSC_BAD_REQUEST, "esprim-inner", h.kid, "the inner primitive: %s",
             drsp.message ? drsp.message : "malformed");
        response_free(&drsp);
        goto out;
    }
    response_free(&drsp);
    /* Table 7.6.2-1: the inner From must be the identity the key is bound to */
    struct id from;
    if (j->inner.req.fr == NULL || !id_parse(&cse->idenv, j->inner.req.fr, &from) ||
        strcmp(from.canon, key.peer_id) != 0) {
        fail(c, RSC_ESPRIM_IMPERSONATION_ERROR, "esprim-impersonation", h.kid,
             "the inner From is not the identity of key '%.64s'", h.kid);
        goto out;
    }
    /* the inner request: its own security context, an ESPrim association bound to the peer only */
    snprintf(j->peer_id, sizeof j->peer_id, "%s", key.peer_id);
    snprintf(j->cred, sizeof j->cred, "e2e:%s", h.kid);
    struct cse_request *iq = &j->inner.req;
    iq->sec = c->req->sec;
    iq->sec.sa = SA_ESPRIM;
    iq->sec.cred_id = j->cred;
    iq->sec.ids[0] = j->peer_id;
    iq->sec.nids = 1;
    iq->rt = 0; /* answered within this exchange */
    /* TS-0001 Table 11.4.2-1: the outer rqet is the inner's copy, checked on receipt like any
     * request's (dispatch.c); the inner request then runs within the earlier of the two, so its
     * answer (sealed, on the outer response) comes back before the outer request expires */
    int64_t orq = 0, irq = 0, now_us = c->now * 1000000;
    if (c->req->rqet != NULL && abs_rel_us(c->req->rqet, now_us, &orq) &&
        (iq->rqet == NULL || !abs_rel_us(iq->rqet, now_us, &irq) || orq < irq) &&
        strlen(c->req->rqet) < sizeof j->rqet) {
        snprintf(j->rqet, sizeof j->rqet, "%s", c->req->rqet);
        iq->rqet = j->rqet;
    }
    j->cse = cse;
    j->orsp = c->rsp;
    bool can_park = op_park(c, PARK_ESPRIM, &j->k);
    response_init(&j->irsp);
    /* the receiver executes the inner request itself: one addressed to another CSE would leave
     * here in the clear (route.c forwards over the hop-by-hop association only) */
    struct route rt;
    struct cse_response rrsp;
    response_init(&rrsp);
    int rrc = route_request(cse, c->view, iq, &rt, &rrsp);
    response_free(&rrsp);
    if (rrc == 0 && rt.kind == ROUTE_REMOTE) {
        response_error(&j->irsp, RSC_OPERATION_NOT_ALLOWED, "esprim-not-local",
                       "an ESPrim inner request is executed by its receiver %s, never forwarded: address a "
                       "resource of this CSE",
                       cse->cfg->cse_id);
        seal_response(j);
        goto out;
    }
    /* one read view per request at a time: the outer one goes before the inner dispatch */
    cse->store->ops->view_release(cse->store, c->view);
    c->view = NULL;
    j->t0_us = clock_mono_us();
    if (can_park && cse_dispatch(cse, iq, &j->irsp, inner_done, j) == CSE_PENDING) {
        st = CSE_PENDING;
        j = NULL; /* completes in outer_finish */
    } else if (!can_park) {
        response_error(c->rsp, RSC_BAD_REQUEST, "esprim-context", "an ESPrim object cannot be evaluated here");
    } else {
        seal_response(j);
    }
out:
    if (pt) {
        memset(pt, 0, pt_len);
        mem_free(pt);
    }
    mem_free(rro);
    mem_free(oro);
    cred_wipe(key.key, sizeof key.key);
    esprim_hdr_free(&h);
    if (j)
        job_free(j);
    return st;
}

int esprim_notify(struct op_ctx *c)
{
    char err[160];
    json_t *root = json_decode_body(c->req->body, c->req->body_len, err, sizeof err);
    json_t *seci = json_object_get(root, "m2m:seci");
    json_t *sit = json_object_get(seci, "sit");
    int rc;
    if (!json_is_object(seci) || json_object_size(root) != 1 || !json_is_integer(sit))
        rc = fail(c, RSC_BAD_REQUEST, "esprim-parse", NULL, "%s", "m2m:seci needs an integer sit");
    else if (json_integer_value(sit) == 3 && json_object_size(seci) == 1)
        rc = answer_rand_request(c);
    else if (json_integer_value(sit) == 5 && json_is_string(json_object_get(seci, "epo")) &&
             json_object_size(seci) == 2)
        rc = secured_request(c, json_string_value(json_object_get(seci, "epo")),
                             json_string_length(json_object_get(seci, "epo")));
    else
        rc = fail(c, RSC_BAD_REQUEST, "esprim-parse", NULL, "%s",
                  "m2m:seci: sit 3 (rand object request) or sit 5 with epo (ESPrim object) only");
    json_decref(root);
    return rc;
}
