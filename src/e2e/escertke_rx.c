/* escertke_rx: the CSE as ESCertKE Terminating End-Point (see escertke_rx.h). */
#include "e2e/escertke_rx.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"
#include "core/rsc.h"
#include "e2e/escertke.h"
#include "e2e/escertke_msg.h"
#include "security/cred.h"
#include "security/e2e_keys.h"
#include "security/tlsauth.h"
#include "util/log.h"
#include "util/mem.h"

struct session {
    char from[LIMIT_ID_LEN + 1]; /* the originator, canonical; "" for a free slot */
    struct escertke *k;
    int64_t deadline_s; /* dropped after this */
    uint64_t seq;       /* when its Message 1 came (rx->seq then): the smallest is the oldest */
};

struct escertke_rx {
    const struct cse_config *cfg;
    pthread_mutex_t lock; /* guards everything below; held for a whole step (a few ms of crypto) */
    struct tlsauth *ta;   /* the CSE's certificate, tls.ca and checks; made at the first message */
    struct session *s;
    int cap, used;
    uint64_t seq; /* Message 1s taken so far */
};

struct escertke_rx *escertke_rx_new(const struct cse_config *cfg)
{
    struct escertke_rx *rx = mem_calloc(1, sizeof *rx);
    rx->cfg = cfg;
    rx->cap = (int)cfg->escertke_sessions;
    rx->s = mem_calloc((size_t)rx->cap, sizeof *rx->s);
    pthread_mutex_init(&rx->lock, NULL);
    return rx;
}

static void drop(struct escertke_rx *rx, struct session *s)
{
    escertke_free(s->k);
    s->k = NULL;
    s->from[0] = '\0';
    rx->used--;
}

void escertke_rx_free(struct escertke_rx *rx)
{
    if (rx == NULL)
        return;
    for (int i = 0; i < rx->cap; i++)
        if (rx->s[i].k != NULL)
            drop(rx, &rx->s[i]);
    tlsauth_free(rx->ta);
    pthread_mutex_destroy(&rx->lock);
    mem_free(rx->s);
    mem_free(rx);
}

int escertke_rx_sessions(struct escertke_rx *rx)
{
    pthread_mutex_lock(&rx->lock);
    int n = rx->used;
    pthread_mutex_unlock(&rx->lock);
    return n;
}

/* Sessions whose Message 3 did not come in time go; then the originator's own, if any. */
static struct session *find(struct escertke_rx *rx, const char *from, int64_t now)
{
    struct session *mine = NULL;
    for (int i = 0; i < rx->cap; i++) {
        struct session *s = &rx->s[i];
        if (s->k == NULL)
            continue;
        if (s->deadline_s <= now)
            drop(rx, s);
        else if (strcmp(s->from, from) == 0)
            mine = s;
    }
    return mine;
}

/* A free slot for a new exchange. Every exchange in the table is pending: its initiator is not
 * authenticated before its Message 3 (its certificate), and the exchange leaves the table at that
 * step. An originator holds one at most (its new Message 1 replaces its own, see step). When the table
 * is full, the oldest pending exchange is evicted rather than the newcomer refused (red finding 9):
 * originators that only ever send Message 1 (as many registered AEs as escertke.sessions) could
 * otherwise keep ESCertKE refused for everyone, renewing their exchanges before escertke.timeout.
 * Evicting the oldest, an honest initiator's exchange survives until escertke.sessions newer Message 1s
 * arrived, each costing its sender a request: a flood slows honest initiators (their Message 3 is
 * answered "escertke-no-session" and they start again), it never locks them out; the table stays
 * bounded. */
static struct session *slot(struct escertke_rx *rx, struct op_ctx *c)
{
    struct session *oldest = NULL;
    for (int i = 0; i < rx->cap; i++) {
        struct session *s = &rx->s[i];
        if (s->k == NULL)
            return s;
        if (oldest == NULL || s->seq < oldest->seq)
            oldest = s;
    }
    LOG(c->cse->log, LOG_WARN, "escertke: %d exchanges pending (escertke.sessions); the oldest, %.64s's, evicted",
        rx->cap, oldest->from);
    drop(rx, oldest);
    return oldest;
}

/* The key established with the initiator whose certificate names peer: into the e2e key store. */
static int store_key(struct op_ctx *c, struct escertke *k, const char *peer)
{
    struct e2e_key key;
    memset(&key, 0, sizeof key);
    char kid[ESCERTKE_KID_HEX_LEN + 1];
    /* The pairwiseESPrimKey is the pairwiseE2EKey itself, all 32 bytes (A256GCM): TS-0003 V3.18 says
     * keys are derived from it for ESPrim and ESData (§8.7.1) but defines no derivation, so Warden
     * uses it as it is; a peer that needs A128GCM or A192GCM takes its first 16 or 24 bytes. */
    if (escertke_result(k, key.key, kid) != 0)
        return -1;
    snprintf(key.kid, sizeof key.kid, "%s", kid);
    int n = snprintf(key.local_id, sizeof key.local_id, "//%s%s%s", c->cse->idenv.spid,
                     c->cse->idenv.cse_id[0] == '/' ? "" : "/", c->cse->idenv.cse_id);
    if (n < 0 || (size_t)n >= sizeof key.local_id || strlen(peer) >= sizeof key.peer_id) {
        cred_wipe(key.key, sizeof key.key);
        return -1; /* an identity longer than the key store keeps: never truncated into another's */
    }
    memcpy(key.peer_id, peer, strlen(peer) + 1);
    key.key_len = ESCERTKE_KEY_LEN;
    key.source = E2E_KEY_ESCERTKE;
    key.created_s = c->now;
    int superseded = 0;
    int rc =
        c->cse->creds ? escertke_key_store(c->cse->creds, &key, c->cse->cfg->escertke_key_lifetime, &superseded) : -1;
    cred_wipe(key.key, sizeof key.key);
    if (rc == 0)
        LOG(c->cse->log, LOG_INFO, "escertke: key %s established with %s (%d earlier key(s) of the pair revoked)",
            key.kid, peer, superseded);
    return rc;
}

/* The answer carrying the next ESCertKE Message. */
static void answer(struct op_ctx *c, const unsigned char *msg, size_t len)
{
    c->rsp->body = escertke_seci_encode(msg, len, &c->rsp->body_len);
    c->rsp->rsc = RSC_OK;
}

/* A failed step: the session goes, the failure is answered with the engine's reason. */
static void refused(struct op_ctx *c, struct escertke_rx *rx, struct session *s)
{
    bool auth = escertke_failed_auth(s->k);
    response_error(c->rsp, auth ? RSC_ORIGINATOR_NOT_AUTHENTICATED : RSC_BAD_REQUEST, escertke_reason(s->k),
                   "ESCertKE: %s", escertke_error(s->k));
    drop(rx, s);
}

/* The originator, canonical: the key of its exchange. */
static const char *originator(const struct op_ctx *c)
{
    return c->orig->subj.canon ? c->orig->subj.canon : c->orig->id.canon;
}

/* Message 1 or 3 from the originator c->orig; under rx->lock. */
static void step(struct op_ctx *c, struct escertke_rx *rx, const unsigned char *msg, size_t len)
{
    const char *from = originator(c);
    struct session *s = find(rx, from, c->now);
    if (escertke_is_client_hello(msg, len)) { /* Message 1: a new exchange (a pending one is abandoned) */
        if (s != NULL)
            drop(rx, s);
        s = slot(rx, c);
        char err[160];
        if (rx->ta == NULL) {
            struct tlsauth_env env = {.cfg = c->cse->cfg,
                                      .idenv = &c->cse->idenv,
                                      .creds = c->cse->creds,
                                      .audit = c->cse->audit,
                                      .log = c->cse->log,
                                      .metrics = c->cse->metrics};
            rx->ta = tlsauth_new(&env, err, sizeof err);
            if (rx->ta == NULL) {
                response_error(c->rsp, RSC_INTERNAL_SERVER_ERROR, "escertke-config", "ESCertKE: %s", err);
                return;
            }
        }
        s->k = escertke_new_terminator(rx->ta, c->req->sec.peer, err, sizeof err);
        if (s->k == NULL) {
            response_error(c->rsp, RSC_INTERNAL_SERVER_ERROR, "escertke-config", "%s", err);
            return;
        }
        snprintf(s->from, sizeof s->from, "%s", from);
        s->deadline_s = c->now + c->cse->cfg->escertke_timeout;
        s->seq = ++rx->seq;
        rx->used++;
    } else if (s == NULL) {
        response_error(c->rsp, RSC_BAD_REQUEST, "escertke-no-session",
                       "ESCertKE: no exchange in progress for this originator (Message 3 without Message 1, or "
                       "after escertke.timeout)");
        return;
    }
    const unsigned char *out;
    size_t outlen;
    enum escertke_rc rc = escertke_step(s->k, msg, len, &out, &outlen);
    if (rc == ESCERTKE_FAIL) {
        refused(c, rx, s);
        return;
    }
    if (rc == ESCERTKE_CONTINUE) {
        answer(c, out, outlen);
        return;
    }
    /* done: TS-0001 §11.4.3 C.1a, TS-0003 §7.2: the originator must be who the certificate names */
    const char *const *ids;
    int n = escertke_peer_ids(s->k, &ids);
    const char *peer = NULL;
    for (int i = 0; i < n && peer == NULL; i++)
        if (strcmp(ids[i], from) == 0)
            peer = ids[i];
    if (peer == NULL) {
        response_error(c->rsp, RSC_ORIGINATOR_NOT_AUTHENTICATED, "escertke-from-mismatch",
                       "ESCertKE: From '%.64s' is not the identity of the initiator's certificate ('%.64s')", from,
                       n ? ids[0] : "");
        drop(rx, s);
        return;
    }
    int st = store_key(c, s->k, peer);
    if (st != 0) {
        response_error(c->rsp, RSC_INTERNAL_SERVER_ERROR, "escertke-store",
                       st == 1 ? "ESCertKE: the key ID exists already" : "ESCertKE: the key could not be stored");
        drop(rx, s);
        return;
    }
    answer(c, out, outlen);
    drop(rx, s);
}

bool escertke_notify(struct op_ctx *c)
{
    const struct store_row *row = &c->tgt->row;
    if (row->ty != TY_CSEBASE || c->req->media != MEDIA_JSON)
        return false;
    unsigned char *msg = NULL;
    size_t len = 0;
    char err[200] = "";
    int d = escertke_seci_decode(c->req->body, c->req->body_len, &msg, &len, err, sizeof err);
    if (d == 0)
        return false;
    struct escertke_rx *rx = c->cse->escertke;
    if (!c->cse->cfg->escertke_enable || rx == NULL) {
        response_error(c->rsp, RSC_NOT_IMPLEMENTED, "escertke-disabled",
                       "ESCertKE is not enabled on this CSE (escertke.enable)");
    } else if (!c->cse->cfg->tls_cert[0] || !c->cse->cfg->tls_ca[0]) {
        response_error(c->rsp, RSC_NOT_IMPLEMENTED, "escertke-disabled",
                       "ESCertKE needs this CSE's certificate (tls.cert, tls.key) and trust anchors (tls.ca)");
    } else if (!c->orig->present || (c->orig->id.kind != ID_AE && c->orig->id.kind != ID_CSE)) {
        response_error(c->rsp, RSC_BAD_REQUEST, "escertke-bad-originator",
                       "ESCertKE: From is the initiator's AE-ID or CSE-ID");
    } else if (d < 0) {
        /* a malformed Message ends the originator's exchange too */
        pthread_mutex_lock(&rx->lock);
        struct session *s = find(rx, originator(c), c->now);
        if (s != NULL)
            drop(rx, s);
        pthread_mutex_unlock(&rx->lock);
        response_error(c->rsp, RSC_BAD_REQUEST, "escertke-bad-message", "ESCertKE: %s", err);
    } else {
        pthread_mutex_lock(&rx->lock);
        step(c, rx, msg, len);
        pthread_mutex_unlock(&rx->lock);
    }
    if (msg != NULL)
        cred_wipe(msg, len);
    mem_free(msg);
    return true;
}
