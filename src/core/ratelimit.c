/* ratelimit: per-originator request rate limits (limits.rate, limits.rate_burst): a token bucket per
 * originator in a fixed table (limits.rate_originators buckets in 8-way sets), so memory stays
 * bounded whatever the number of originators. Dispatch takes one token per request after
 * authentication (dispatch.c), for every binding. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core_int.h"
#include "util/hash.h"
#include "util/mem.h"
#include "util/rand.h"
#include "util/timeutil.h"

#define RL_WAYS    8
#define RL_STRIPES 64
#define RL_KEY     128 /* originator IDs longer than this are kept as a keyed hash */

struct bucket {
    char key[RL_KEY]; /* "" = free */
    double tokens;
    int64_t t_us; /* when tokens was computed (monotonic clock) */
};

struct ratelimit {
    double rate, burst; /* tokens per second, capacity */
    size_t nsets;
    uint64_t seed; /* for the keys of long IDs: an attacker cannot aim at another ID's bucket */
    struct bucket *b;
    pthread_mutex_t lock[RL_STRIPES];
};

struct ratelimit *ratelimit_new(long rate, long burst, long buckets)
{
    if (rate <= 0)
        return NULL;
    struct ratelimit *rl = mem_calloc(1, sizeof *rl);
    rl->rate = (double)rate;
    rl->burst = (double)(burst > 0 ? burst : 1);
    rl->nsets = (size_t)(buckets > RL_WAYS ? buckets : RL_WAYS) / RL_WAYS;
    rand_bytes(&rl->seed, sizeof rl->seed);
    rl->b = mem_calloc(rl->nsets * RL_WAYS, sizeof *rl->b);
    for (int i = 0; i < RL_STRIPES; i++)
        pthread_mutex_init(&rl->lock[i], NULL);
    return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (rl == NULL)
        return;
    for (int i = 0; i < RL_STRIPES; i++)
        pthread_mutex_destroy(&rl->lock[i]);
    mem_free(rl->b);
    mem_free(rl);
}

static double refilled(const struct ratelimit *rl, const struct bucket *b, int64_t now_us)
{
    double t = b->tokens + (double)(now_us - b->t_us) * rl->rate / 1e6;
    return t > rl->burst ? rl->burst : t;
}

int ratelimit_take(struct ratelimit *rl, const char *originator, int64_t now_us, int64_t *retry_ms)
{
    if (rl == NULL)
        return 0;
    char key[RL_KEY];
    size_t n = strlen(originator);
    if (n < RL_KEY) {
        memcpy(key, originator, n + 1);
    } else {
        uint64_t h = hash_bytes(hash_bytes(HASH_SEED, &rl->seed, sizeof rl->seed), originator, n);
        uint64_t h2 = hash_bytes(h ^ rl->seed, originator, n);
        snprintf(key, sizeof key, "#%016llx%016llx", (unsigned long long)h, (unsigned long long)h2);
    }
    if (key[0] == '\0')
        snprintf(key, sizeof key, "-");
    size_t set = hash_str(key) % rl->nsets;
    struct bucket *ways = rl->b + set * RL_WAYS;
    pthread_mutex_t *lock = &rl->lock[set % RL_STRIPES];
    pthread_mutex_lock(lock);
    struct bucket *b = NULL, *victim = NULL;
    double victim_tokens = -1;
    for (int i = 0; i < RL_WAYS && b == NULL; i++) {
        if (strcmp(ways[i].key, key) == 0) {
            b = &ways[i];
        } else if (ways[i].key[0] == '\0') {
            if (victim_tokens < rl->burst + 1) {
                victim = &ways[i];
                victim_tokens = rl->burst + 1; /* a free bucket beats any */
            }
        } else {
            double t = refilled(rl, &ways[i], now_us);
            if (t > victim_tokens) {
                victim = &ways[i];
                victim_tokens = t;
            }
        }
    }
    if (b == NULL) { /* a new originator takes a free bucket, else the idlest one (most refilled) */
        b = victim;
        memcpy(b->key, key, sizeof key);
        b->tokens = rl->burst;
    } else {
        b->tokens = refilled(rl, b, now_us);
    }
    b->t_us = now_us;
    int rc = 0;
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
    } else {
        rc = -1;
        *retry_ms = (int64_t)((1.0 - b->tokens) * 1000.0 / rl->rate) + 1;
    }
    pthread_mutex_unlock(lock);
    return rc;
}
