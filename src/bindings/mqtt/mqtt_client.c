/* mqtt_client: requests sent over MQTT and their responses (see mqtt_client.h; TS-0010 §6.3-6.4). */
#include "mqtt_client.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "bindings/http/http_request.h"
#include "bindings/primitive_out.h"
#include "core/limits.h"
#include "core/rsc.h"
#include "mqtt_topic.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/rand.h"

struct out_entry {
    bool used;
    char rqi[LIMIT_ID_LEN + 1];
    char fr[LIMIT_ID_LEN + 1];
    char peer[LIMIT_NAME_LEN + 1]; /* the receiver's topic level: only it may answer */
    int64_t deadline_us;
    size_t max_answer;
    out_done_fn done;
    void *arg;
};

struct mqtt_out {
    pthread_mutex_t lock;
    char self[LIMIT_NAME_LEN + 1];
    char prefix[12]; /* random: request IDs of this run never match responses meant for an earlier one */
    unsigned long seq;
    struct out_entry *e;
    size_t max, used;
    struct log *log;
};

struct mqtt_out *mqtt_out_new(const char *self, size_t max, struct log *log)
{
    struct mqtt_out *t = mem_calloc(1, sizeof *t);
    pthread_mutex_init(&t->lock, NULL);
    snprintf(t->self, sizeof t->self, "%s", self);
    rand_alnum(t->prefix, 8);
    t->max = max > 0 ? max : 1;
    t->e = mem_calloc(t->max, sizeof *t->e);
    t->log = log;
    return t;
}

/* A waiting request that gets no response: TS-0004 §7.3.2.8, the CSE on the way is not reachable. */
static void unreachable(const struct out_entry *x)
{
    struct out_response res = {.rsc = RSC_TARGET_NOT_REACHABLE, .attempts = 1};
    x->done(x->arg, &res);
}

void mqtt_out_free(struct mqtt_out *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->max; i++)
        if (t->e[i].used) {
            t->e[i].used = false;
            unreachable(&t->e[i]);
        }
    pthread_mutex_destroy(&t->lock);
    mem_free(t->e);
    mem_free(t);
}

int mqtt_out_send(struct mqtt_out *t, const char *peer_csi, const char *to, const struct out_request *rq,
                  const char *rqet, int64_t deadline_us, mqtt_publish_fn publish, void *publish_arg, out_done_fn done,
                  void *done_arg)
{
    char peer[LIMIT_NAME_LEN + 1], topic[MQTT_TOPIC_MAX + 1], rqi[LIMIT_ID_LEN + 1];
    if (t == NULL || rq == NULL || rq->fr == NULL || strlen(rq->fr) > LIMIT_ID_LEN || peer_csi == NULL ||
        mqtt_id_level(peer_csi, peer, sizeof peer) != 0 || peer[0] == '\0' || strchr(peer, ':') != NULL)
        return -1; /* the receiver is a CSE of this SP: one topic level ("id-in") */
    /* TS-0010 §6.4.2: the request topic names the sender of this hop (this CSE) and the receiver */
    if ((size_t)snprintf(topic, sizeof topic, "/oneM2M/req/%s/%s/json", t->self, peer) >= sizeof topic)
        return -1;
    pthread_mutex_lock(&t->lock);
    if (rq->rqi != NULL)
        snprintf(rqi, sizeof rqi, "%s", rq->rqi);
    else
        snprintf(rqi, sizeof rqi, "%s-%s-%lu", t->self, t->prefix, ++t->seq);
    struct out_entry *slot = NULL;
    bool dup = false;
    for (size_t i = 0; i < t->max; i++) {
        struct out_entry *x = &t->e[i];
        if (!x->used) {
            if (slot == NULL)
                slot = x;
        } else if (strcmp(x->rqi, rqi) == 0 && strcmp(x->fr, rq->fr) == 0) {
            dup = true; /* a response could not be told apart */
        }
    }
    int rc = -1;
    struct out_request copy = *rq;
    if (copy.rqet == NULL)
        copy.rqet = rqet;
    size_t len = 0;
    char *prim = slot != NULL && !dup ? primitive_encode_request(&copy, to, rqi, &len) : NULL;
    /* published under the lock: the response (handled on the network thread, which takes this lock)
     * cannot overtake the entry; libmosquitto calls none of our callbacks from mosquitto_publish */
    if (prim != NULL && publish(publish_arg, topic, prim, len) == 0) {
        *slot = (struct out_entry){
            .used = true, .deadline_us = deadline_us, .max_answer = rq->max_answer, .done = done, .arg = done_arg};
        snprintf(slot->rqi, sizeof slot->rqi, "%s", rqi);
        snprintf(slot->fr, sizeof slot->fr, "%s", rq->fr);
        snprintf(slot->peer, sizeof slot->peer, "%s", peer);
        t->used++;
        rc = 0;
    }
    size_t used = t->used;
    pthread_mutex_unlock(&t->lock);
    mem_free(prim);
    if (rc != 0)
        LOG(t->log, LOG_WARN, "mqtt: %s to %s not sent (%s)", op_name(rq->op), peer_csi,
            slot == NULL ? "too many requests waiting for a response"
            : dup        ? "the same originator and request ID are waiting already"
                         : "not encodable, or the broker connection refused it");
    else
        LOG(t->log, LOG_DEBUG, "mqtt: %s %s sent to %s (rqi %s, %zu waiting)", op_name(rq->op), to, peer_csi, rqi,
            used);
    return rc;
}

bool mqtt_out_response(struct mqtt_out *t, const char *receiver, const char *json, size_t len)
{
    struct prim_response r;
    if (t == NULL || primitive_decode_response(json, len, &r) != 0)
        return false;
    struct out_entry hit = {.used = false};
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->max; i++) {
        struct out_entry *x = &t->e[i];
        if (x->used && strcmp(x->rqi, r.rqi) == 0 && strcmp(x->peer, receiver) == 0 &&
            (r.to == NULL || strcmp(r.to, x->fr) == 0)) {
            hit = *x;
            x->used = false;
            t->used--;
            break;
        }
    }
    pthread_mutex_unlock(&t->lock);
    if (hit.used) {
        /* http_status: the HTTP status the rsc maps to, so that "the receiver answered" reads the same
         * for every client side (outbound.h) */
        struct out_response res = {.rsc = r.rsc,
                                   .http_status = (int)http_status_of(r.rsc),
                                   .attempts = 1,
                                   .cnst = r.cnst,
                                   .cnot = r.cnot,
                                   .ati = r.ati};
        if (r.pc != NULL && hit.max_answer > 0) {
            if (r.pc_len > hit.max_answer) {
                res.truncated = true;
            } else {
                res.body = r.pc;
                res.len = r.pc_len;
            }
        }
        hit.done(hit.arg, &res);
    }
    primitive_response_free(&r);
    return hit.used;
}

void mqtt_out_expire(struct mqtt_out *t, int64_t now_us)
{
    if (t == NULL)
        return;
    for (;;) {
        struct out_entry hit = {.used = false};
        pthread_mutex_lock(&t->lock);
        for (size_t i = 0; t->used > 0 && i < t->max; i++) {
            struct out_entry *x = &t->e[i];
            if (x->used && x->deadline_us <= now_us) {
                hit = *x;
                x->used = false;
                t->used--;
                break;
            }
        }
        pthread_mutex_unlock(&t->lock);
        if (!hit.used)
            return;
        LOG(t->log, LOG_INFO, "mqtt: no response from %s to request %s in time", hit.peer, hit.rqi);
        unreachable(&hit);
    }
}

size_t mqtt_out_pending(struct mqtt_out *t)
{
    pthread_mutex_lock(&t->lock);
    size_t n = t->used;
    pthread_mutex_unlock(&t->lock);
    return n;
}
