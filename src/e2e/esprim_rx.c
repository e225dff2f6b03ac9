/* esprim_rx: the ESPrim Target side for an application (see esprim_rx.h). */
#include "e2e/esprim_rx.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e/e2e_kdf.h"
#include "e2e/esprim_obj.h"
#include "e2e/esprim_replay.h"
#include "security/cred.h"
#include "util/mem.h"
#include "util/rand.h"

static const int espa_all[] = {ESPRIM_ESPA_A128GCM, ESPRIM_ESPA_A192GCM, ESPRIM_ESPA_A256GCM};

struct rx_obj {
    char id[ESPRIM_RANDID_MAX + 1];
    char *canon; /* owned; NULL: free */
    size_t len;
    int64_t expiry_s;
    uint64_t serial;
};

struct esprim_rx {
    char kid[129], peer[257];
    unsigned char key[32];
    size_t key_len;
    long lifetime;
    struct rx_obj rand[ESPRIM_RX_RAND]; /* issued, in the slot of their serial */
    struct rx_obj oro[ESPRIM_RX_ORO];   /* the originator's, by esri (kid is this receiver's one) */
    uint64_t serial, retired_below;
    struct esprim_replay *replay;
    /* the session of the last object opened: what esprim_rx_seal needs */
    bool open;
    unsigned char skey[32];
    size_t skey_len;
    char enc[16], ori[ESPRIM_RANDID_MAX + 1], rri[ESPRIM_RANDID_MAX + 1];
};

struct esprim_rx *esprim_rx_new(const char *kid, const unsigned char *key, size_t key_len, const char *peer_id,
                                long lifetime_s)
{
    if (kid == NULL || kid[0] == '\0' || strlen(kid) > 128 || key == NULL ||
        (key_len != 16 && key_len != 24 && key_len != 32) || peer_id == NULL || peer_id[0] == '\0' ||
        strlen(peer_id) > 256)
        return NULL;
    struct esprim_rx *rx = mem_calloc(1, sizeof *rx);
    snprintf(rx->kid, sizeof rx->kid, "%s", kid);
    snprintf(rx->peer, sizeof rx->peer, "%s", peer_id);
    memcpy(rx->key, key, key_len);
    rx->key_len = key_len;
    rx->lifetime = lifetime_s > 0 ? lifetime_s : 3600;
    rx->replay = esprim_replay_new(ESPRIM_RX_REPLAY);
    return rx;
}

void esprim_rx_free(struct esprim_rx *rx)
{
    if (rx == NULL)
        return;
    for (size_t i = 0; i < ESPRIM_RX_RAND; i++)
        mem_free(rx->rand[i].canon);
    for (size_t i = 0; i < ESPRIM_RX_ORO; i++)
        mem_free(rx->oro[i].canon);
    esprim_replay_free(rx->replay);
    cred_wipe(rx, sizeof *rx);
    mem_free(rx);
}

/* B.2e: a unique receiver rand object ("u<serial>-<random>"), the sit 4 Content. */
static char *issue(struct esprim_rx *rx, int64_t now)
{
    unsigned char r[4];
    rand_bytes(r, sizeof r);
    uint64_t serial = ++rx->serial;
    char id[ESPRIM_RANDID_MAX + 1];
    snprintf(id, sizeof id, "u%llu-%02x%02x%02x%02x", (unsigned long long)serial, r[0], r[1], r[2], r[3]);
    json_t *o = esprim_randobj_new(id, now + rx->lifetime, true, espa_all, 3);
    struct rx_obj *s = &rx->rand[serial % ESPRIM_RX_RAND];
    const char *why;
    mem_free(s->canon);
    snprintf(s->id, sizeof s->id, "%s", id);
    s->serial = serial;
    s->canon = esprim_randobj_canon(o, true, &s->len, &s->expiry_s, &why);
    json_t *root = json_pack("{s:{s:i,s:o}}", "m2m:seci", "sit", 4, "ero", o);
    char *out = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return out;
}

static const struct rx_obj *find_rand(const struct esprim_rx *rx, const char *id, int64_t now)
{
    char *end = NULL;
    if (id[0] != 'u')
        return NULL;
    unsigned long long serial = strtoull(id + 1, &end, 10);
    if (end == id + 1 || *end != '-')
        return NULL;
    const struct rx_obj *s = &rx->rand[serial % ESPRIM_RX_RAND];
    return s->canon != NULL && strcmp(s->id, id) == 0 && s->expiry_s > now && s->serial >= rx->retired_below ? s : NULL;
}

static struct rx_obj *find_oro(struct esprim_rx *rx, const char *id, int64_t now)
{
    for (size_t i = 0; i < ESPRIM_RX_ORO; i++)
        if (rx->oro[i].canon != NULL && rx->oro[i].expiry_s > now && strcmp(rx->oro[i].id, id) == 0)
            return &rx->oro[i];
    return NULL;
}

/* C.6b.2: keep an originator rand object: its slot, else a free or expired one, else the one
 * expiring first. */
static void keep_oro(struct esprim_rx *rx, const char *id, const char *canon, size_t len, int64_t expiry, int64_t now)
{
    struct rx_obj *slot = find_oro(rx, id, now);
    for (size_t i = 0; i < ESPRIM_RX_ORO && slot == NULL; i++)
        if (rx->oro[i].canon == NULL || rx->oro[i].expiry_s <= now)
            slot = &rx->oro[i];
    for (size_t i = 0; i < ESPRIM_RX_ORO && slot == NULL; i++)
        if (i == 0 || rx->oro[i].expiry_s < slot->expiry_s)
            slot = &rx->oro[i];
    mem_free(slot->canon);
    snprintf(slot->id, sizeof slot->id, "%s", id);
    slot->canon = mem_strndup(canon, len);
    slot->len = len;
    slot->expiry_s = expiry;
}

/* C.6: one ESPrim Object. */
static int open_object(struct esprim_rx *rx, const char *epo, size_t elen, int64_t now, char **inner, size_t *inner_len,
                       const char **why)
{
    struct esprim_hdr h;
    char *oro = NULL, *pt = NULL;
    size_t oro_len = 0, pt_len = 0;
    int64_t ox = 0;
    rx->open = false; /* esprim_rx_seal answers only the object opened now */
    int rc = esprim_parse(epo, elen, &h, why);
    if (rc != 0)
        goto out;
    rc = 4112;
    *why = "unknown kid";
    if (strcmp(h.kid, rx->kid) != 0)
        goto out;
    rc = 4114;
    *why = "unknown or expired receiver rand object";
    const struct rx_obj *rro = find_rand(rx, h.rri, now);
    if (rro == NULL)
        goto out;
    rc = 4113;
    bool carried = h.oro != NULL;
    if (carried) {
        *why = "the originator rand object is malformed or does not match ori";
        const char *esri = json_string_value(json_object_get(h.oro, "esri"));
        if (esri == NULL || strcmp(esri, h.ori) != 0 ||
            (oro = esprim_randobj_canon(h.oro, false, &oro_len, &ox, why)) == NULL)
            goto out;
    } else {
        *why = "unknown or expired originator rand object (send it as oro)";
        const struct rx_obj *o = find_oro(rx, h.ori, now);
        if (o == NULL)
            goto out;
        oro = mem_strndup(o->canon, o->len);
        oro_len = o->len;
        ox = o->expiry_s;
    }
    *why = "the originator rand object has expired or outlives the receiver's";
    if (ox <= now || ox > rro->expiry_s)
        goto out;
    json_t *ro = json_loadb(rro->canon, rro->len, 0, NULL), *oo = json_loadb(oro, oro_len, 0, NULL);
    bool ok_alg = json_integer_value(json_object_get(oo, "esk")) == ESPRIM_KEYGEN_HMAC_SHA256 &&
                  esprim_randobj_has_espa(oo, h.espa) && esprim_randobj_has_espa(ro, h.espa);
    json_decref(ro);
    json_decref(oo);
    rc = 4111;
    *why = "esk must be 1 and enc listed in both rand objects";
    if (!ok_alg)
        goto out;
    /* TS-0003 §10.3.8.2 */
    rx->skey_len = esprim_enc_keylen(h.enc);
    rc = 4117;
    *why = "the session key could not be derived";
    if (e2e_session_key(rx->key, rx->key_len, (const unsigned char *)rro->canon, rro->len, (const unsigned char *)oro,
                        oro_len, rx->skey, rx->skey_len) != 0)
        goto out;
    rc = esprim_open(epo, elen, rx->skey, rx->skey_len, &pt, &pt_len);
    *why = rc == 4115 ? "the ESPrim object failed its integrity check" : "unreadable ESPrim object";
    if (rc != 0)
        goto out;
    const char *iv;
    size_t iv_len;
    unsigned char d[16];
    uint64_t retire = 0;
    rc = 4106;
    *why = "this ESPrim object was received before (replay)";
    if (!esprim_iv(epo, elen, &iv, &iv_len))
        goto out;
    esprim_replay_digest(h.kid, iv, iv_len, d);
    bool fresh = esprim_replay_add(rx->replay, d, rx->serial + 1, &retire);
    if (retire > rx->retired_below)
        rx->retired_below = retire;
    if (!fresh)
        goto out;
    /* Table 7.6.2-1: the inner From must be the key's originator */
    json_t *prim = json_loadb(pt, pt_len, 0, NULL);
    const json_t *p = json_object_get(prim, "m2m:rqp") ? json_object_get(prim, "m2m:rqp") : prim;
    const char *fr = json_string_value(json_object_get(p, "fr"));
    bool same = fr != NULL && strcmp(fr, rx->peer) == 0, is_obj = json_is_object(p);
    json_decref(prim);
    rc = is_obj ? 4116 : 4000;
    *why = is_obj ? "the inner From is not the identity of the key" : "the inner primitive is not a JSON object";
    if (!same)
        goto out;
    if (carried)
        keep_oro(rx, h.ori, oro, oro_len, ox, now);
    snprintf(rx->enc, sizeof rx->enc, "%s", h.enc);
    snprintf(rx->ori, sizeof rx->ori, "%s", h.ori);
    snprintf(rx->rri, sizeof rx->rri, "%s", h.rri);
    rx->open = true;
    *inner = pt;
    *inner_len = pt_len;
    pt = NULL;
    rc = 0;
out:
    if (pt) {
        cred_wipe(pt, pt_len);
        mem_free(pt);
    }
    mem_free(oro);
    esprim_hdr_free(&h);
    return rc;
}

int esprim_rx_open(struct esprim_rx *rx, const char *body, size_t len, int64_t now, char **answer, char **inner,
                   size_t *inner_len, const char **why)
{
    *answer = *inner = NULL;
    *inner_len = 0;
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *seci = json_object_get(root, "m2m:seci");
    json_t *sit = json_object_get(seci, "sit");
    const char *epo = json_string_value(json_object_get(seci, "epo"));
    int rc = 4000;
    *why = "m2m:seci: sit 3 (rand object request) or sit 5 with epo (ESPrim object) only";
    if (json_is_object(seci) && json_object_size(root) == 1 && json_is_integer(sit)) {
        if (json_integer_value(sit) == 3 && json_object_size(seci) == 1) {
            *answer = issue(rx, now);
            rc = *answer ? 0 : 4000;
        } else if (json_integer_value(sit) == 5 && epo != NULL && json_object_size(seci) == 2) {
            rc = open_object(rx, epo, json_string_length(json_object_get(seci, "epo")), now, inner, inner_len, why);
        }
    }
    json_decref(root);
    return rc;
}

char *esprim_rx_seal(struct esprim_rx *rx, const char *resp, size_t len, size_t *out_len)
{
    if (!rx->open)
        return NULL;
    char *jwe = esprim_seal(rx->skey, rx->skey_len, rx->enc, rx->kid, "application/json", rx->ori, rx->rri, NULL, NULL,
                            resp, len);
    return esprim_seci_epo(jwe, out_len);
}
