/* esprim_client: the originator side of ESPrim (see esprim_client.h). */
#include "e2e/esprim_client.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "e2e/e2e_kdf.h"
#include "e2e/esprim_obj.h"
#include "security/cred.h"
#include "util/mem.h"
#include "util/rand.h"

struct esprim_client {
    char kid[129];
    unsigned char key[32];
    size_t key_len;
    char enc[16];
    int espa;
    char ori[ESPRIM_RANDID_MAX + 1], rri[ESPRIM_RANDID_MAX + 1];
    char *oro;                 /* canonical originator rand object, sent until the receiver has shown it holds it */
    int64_t start_s, expiry_s; /* of the session: when derived, the originator rand object's expiry */
    unsigned char skey[32];
    size_t skey_len;
    bool ready;
    bool held; /* a response verified under this session: the receiver cached oro (C.6b.2) */
};

struct esprim_client *esprim_client_new(const char *kid, const unsigned char *key, size_t key_len, const char *enc)
{
    enc = enc ? enc : "A256GCM";
    size_t kl = esprim_enc_keylen(enc);
    if (kid == NULL || kid[0] == '\0' || strlen(kid) > 128 || key == NULL ||
        (key_len != 16 && key_len != 24 && key_len != 32) || kl == 0)
        return NULL;
    struct esprim_client *ec = mem_calloc(1, sizeof *ec);
    snprintf(ec->kid, sizeof ec->kid, "%s", kid);
    memcpy(ec->key, key, key_len);
    ec->key_len = key_len;
    snprintf(ec->enc, sizeof ec->enc, "%s", enc);
    ec->espa = strcmp(enc, "A128GCM") == 0   ? ESPRIM_ESPA_A128GCM
               : strcmp(enc, "A192GCM") == 0 ? ESPRIM_ESPA_A192GCM
                                             : ESPRIM_ESPA_A256GCM;
    ec->skey_len = kl;
    return ec;
}

void esprim_client_free(struct esprim_client *ec)
{
    if (ec == NULL)
        return;
    mem_free(ec->oro);
    cred_wipe(ec, sizeof *ec);
    mem_free(ec);
}

const char *esprim_client_rand_request(void)
{
    return "{\"m2m:seci\":{\"sit\":3}}";
}

/* The receiver rand object in any of the accepted wrappings. */
static const json_t *find_rro(const json_t *root)
{
    const json_t *seci = json_object_get(root, "m2m:seci");
    if (seci != NULL)
        return json_integer_value(json_object_get(seci, "sit")) == 4 ? json_object_get(seci, "ero") : NULL;
    if (json_object_get(root, "esro") != NULL)
        return json_object_get(root, "esro");
    if (json_is_object(root) && json_object_size(root) == 1) { /* {"m2m:cb": {"esi": {...}}} */
        const json_t *res = json_object_iter_value(json_object_iter((json_t *)root));
        return json_object_get(json_object_get(res, "esi"), "esro");
    }
    return NULL;
}

int esprim_client_receiver(struct esprim_client *ec, const char *body, size_t len, int64_t now, const char **why)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    const json_t *rro = find_rro(root);
    size_t rlen = 0, olen = 0;
    int64_t rx = 0, ox = 0;
    int rc = -1;
    char *rcanon = rro ? esprim_randobj_canon(rro, true, &rlen, &rx, why) : NULL;
    if (rcanon == NULL) {
        if (rro == NULL)
            *why = "no receiver rand object in the answer";
        goto out;
    }
    *why = "the receiver rand object has expired or does not offer the chosen enc";
    if (rx <= now || !esprim_randobj_has_espa(rro, ec->espa))
        goto out;
    snprintf(ec->rri, sizeof ec->rri, "%s", json_string_value(json_object_get(rro, "esri")));
    /* TS-0003 §8.4.2 B.2g: not shared, unique, expiring no later than the receiver's */
    unsigned char r[8];
    rand_bytes(r, sizeof r);
    snprintf(ec->ori, sizeof ec->ori, "o%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5], r[6],
             r[7]);
    int64_t exp = now + 3600 < rx ? now + 3600 : rx;
    ec->expiry_s = exp;
    ec->start_s = now;
    ec->held = false;
    json_t *oro = esprim_randobj_new(ec->ori, exp, false, &ec->espa, 1);
    mem_free(ec->oro);
    ec->oro = esprim_randobj_canon(oro, false, &olen, &ox, why);
    json_decref(oro);
    if (ec->oro == NULL)
        goto out;
    /* TS-0003 §10.3.8.2 */
    if (e2e_session_key(ec->key, ec->key_len, (const unsigned char *)rcanon, rlen, (const unsigned char *)ec->oro, olen,
                        ec->skey, ec->skey_len) != 0) {
        *why = "the session key could not be derived";
        goto out;
    }
    ec->ready = true;
    rc = 0;
out:
    mem_free(rcanon);
    json_decref(root);
    return rc;
}

char *esprim_client_seal(struct esprim_client *ec, const char *inner, size_t len, size_t *out_len)
{
    if (!ec->ready)
        return NULL;
    /* TS-0003 §8.4.2 C.3: the whole originator rand object while this could be the first object the
     * receiver sees under it, its ID alone afterwards */
    char *jwe = esprim_seal(ec->skey, ec->skey_len, ec->enc, ec->kid, "application/json", ec->ori, ec->rri,
                            ec->held ? NULL : ec->oro, NULL, inner, len);
    return esprim_seci_epo(jwe, out_len);
}

bool esprim_client_ready(const struct esprim_client *ec, int64_t now)
{
    int64_t life = ec->expiry_s - ec->start_s;
    int64_t margin = life / 4 < ESPRIM_CLIENT_MARGIN_S ? life / 4 : ESPRIM_CLIENT_MARGIN_S;
    return ec->ready && ec->expiry_s > now + margin;
}

bool esprim_client_sends_oro(const struct esprim_client *ec)
{
    return ec->ready && !ec->held;
}

void esprim_client_refused(struct esprim_client *ec, int rsc)
{
    if (rsc == 4113) /* the receiver forgot the originator rand object: send it whole again */
        ec->held = false;
    else if (rsc == 4114) { /* its rand object was retired: a new session */
        ec->ready = false;
        cred_wipe(ec->skey, sizeof ec->skey);
    }
}

int esprim_client_open(struct esprim_client *ec, const char *body, size_t len, char **inner, size_t *inner_len)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *seci = json_object_get(root, "m2m:seci");
    const char *epo = json_string_value(json_object_get(seci, "epo"));
    int rc = 4000;
    if (ec->ready && epo != NULL && json_integer_value(json_object_get(seci, "sit")) == 5) {
        struct esprim_hdr h;
        const char *why;
        size_t elen = json_string_length(json_object_get(seci, "epo"));
        /* the answer is under this exchange's session key: same kid and rand IDs */
        if (esprim_parse(epo, elen, &h, &why) == 0 && strcmp(h.kid, ec->kid) == 0 && strcmp(h.ori, ec->ori) == 0 &&
            strcmp(h.rri, ec->rri) == 0 && strcmp(h.enc, ec->enc) == 0) {
            rc = esprim_open(epo, elen, ec->skey, ec->skey_len, inner, inner_len);
            ec->held = ec->held || rc == 0;
        } else
            rc = 4115;
        esprim_hdr_free(&h);
    }
    json_decref(root);
    return rc;
}

/* One copied parameter as text: a string as it is, an integer or a boolean written out. */
static void outer_param(const json_t *o, const char *name, char *out, size_t n)
{
    const json_t *v = json_object_get(o, name);
    out[0] = '\0';
    if (json_is_string(v) && json_string_length(v) < n)
        snprintf(out, n, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(out, n, "%lld", (long long)json_integer_value(v));
    else if (json_is_boolean(v))
        snprintf(out, n, "%s", json_is_true(v) ? "true" : "false");
}

int esprim_client_outer(const char *inner, size_t len, struct esprim_outer *out)
{
    memset(out, 0, sizeof *out);
    json_t *root = json_loadb(inner, len, 0, NULL);
    const json_t *o = json_object_get(root, "m2m:rqp") ? json_object_get(root, "m2m:rqp") : root;
    if (!json_is_object(o)) {
        json_decref(root);
        return 4000;
    }
    outer_param(o, "rqet", out->rqet, sizeof out->rqet);
    outer_param(o, "rset", out->rset, sizeof out->rset);
    outer_param(o, "ec", out->ec, sizeof out->ec);
    outer_param(o, "da", out->da, sizeof out->da);
    json_decref(root);
    return 0;
}
