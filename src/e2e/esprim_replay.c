/* esprim_replay: see esprim_replay.h. */
#include "e2e/esprim_replay.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>

#include "util/mem.h"

struct gen {
    unsigned char (*d)[16]; /* slots digests; all-zero = empty */
    size_t n;
    uint64_t first_serial; /* the rand-object serial when this generation began */
};

struct esprim_replay {
    size_t per_gen, slots;
    struct gen gen[2];
    int cur;
};

static const unsigned char zero[16];

struct esprim_replay *esprim_replay_new(size_t per_gen)
{
    struct esprim_replay *r = mem_calloc(1, sizeof *r);
    r->per_gen = per_gen > 0 ? per_gen : 1;
    r->slots = 2 * r->per_gen;
    for (int i = 0; i < 2; i++)
        r->gen[i].d = mem_calloc(r->slots, sizeof r->gen[i].d[0]);
    return r;
}

void esprim_replay_free(struct esprim_replay *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < 2; i++)
        mem_free(r->gen[i].d);
    mem_free(r);
}

void esprim_replay_digest(const char *kid, const char *iv, size_t iv_len, unsigned char d[16])
{
    unsigned char full[32] = {0};
    gnutls_hash_hd_t hh;
    if (gnutls_hash_init(&hh, GNUTLS_DIG_SHA256) == 0) {
        gnutls_hash(hh, kid, strlen(kid) + 1);
        gnutls_hash(hh, iv, iv_len);
        gnutls_hash_deinit(hh, full);
    }
    memcpy(d, full, 16);
    d[0] |= 1; /* never all zero */
}

static size_t home(const struct esprim_replay *r, const unsigned char d[16])
{
    uint64_t h;
    memcpy(&h, d, sizeof h);
    return (size_t)(h % r->slots);
}

static bool has(const struct esprim_replay *r, const struct gen *g, const unsigned char d[16])
{
    for (size_t i = home(r, d);; i = (i + 1) % r->slots) {
        if (memcmp(g->d[i], zero, 16) == 0)
            return false;
        if (memcmp(g->d[i], d, 16) == 0)
            return true;
    }
}

bool esprim_replay_add(struct esprim_replay *r, const unsigned char d[16], uint64_t next_serial, uint64_t *retire_below)
{
    if (has(r, &r->gen[0], d) || has(r, &r->gen[1], d))
        return false;
    struct gen *g = &r->gen[r->cur];
    if (g->n >= r->per_gen) { /* full: the older generation is forgotten */
        *retire_below = g->first_serial;
        r->cur ^= 1;
        g = &r->gen[r->cur];
        memset(g->d, 0, r->slots * sizeof g->d[0]);
        g->n = 0;
        g->first_serial = next_serial;
    }
    size_t i = home(r, d);
    while (memcmp(g->d[i], zero, 16) != 0)
        i = (i + 1) % r->slots;
    memcpy(g->d[i], d, 16);
    g->n++;
    return true;
}
