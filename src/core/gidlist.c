/* gidlist: received Group Request Identifiers and their targets (see gidlist.h). A ring of entries
 * in arrival order (the oldest is forgotten first) with hash chains through it. */
#include "gidlist.h"

#include <pthread.h>
#include <string.h>

#include "util/hash.h"
#include "util/mem.h"
#include "util/rand.h"

struct gident {
    char *key; /* gid "\n" target; NULL: free */
    uint64_t h;
    int64_t until;
    size_t next; /* in the chain: ring index + 1, 0 = end */
};

struct gidlist {
    pthread_mutex_t lock;
    uint64_t seed;
    size_t max, head, n; /* ring: entries head .. head + n - 1 (mod max) */
    struct gident *ring;
    size_t *bucket; /* chain heads: ring index + 1, 0 = empty */
    size_t nbuckets;
};

struct gidlist *gidlist_new(size_t max)
{
    struct gidlist *l = mem_calloc(1, sizeof *l);
    pthread_mutex_init(&l->lock, NULL);
    rand_bytes(&l->seed, sizeof l->seed);
    l->max = max > 0 ? max : 1;
    l->ring = mem_calloc(l->max, sizeof *l->ring);
    l->nbuckets = 1;
    while (l->nbuckets < l->max)
        l->nbuckets <<= 1;
    l->bucket = mem_calloc(l->nbuckets, sizeof *l->bucket);
    return l;
}

void gidlist_free(struct gidlist *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->max; i++)
        mem_free(l->ring[i].key);
    mem_free(l->ring);
    mem_free(l->bucket);
    pthread_mutex_destroy(&l->lock);
    mem_free(l);
}

/* Forget the oldest entry. Under the lock. */
static void drop_oldest(struct gidlist *l)
{
    struct gident *e = &l->ring[l->head];
    for (size_t *p = &l->bucket[e->h & (l->nbuckets - 1)]; *p != 0; p = &l->ring[*p - 1].next)
        if (*p - 1 == l->head) {
            *p = e->next;
            break;
        }
    MEM_FREE(e->key);
    l->head = (l->head + 1) % l->max;
    l->n--;
}

bool gidlist_add(struct gidlist *l, const char *gid, const char *target, int64_t now_us, int64_t until_us)
{
    size_t gl = strlen(gid), tl = strlen(target);
    char *key = mem_alloc(gl + tl + 2);
    memcpy(key, gid, gl);
    key[gl] = '\n';
    memcpy(key + gl + 1, target, tl + 1);
    uint64_t h = hash_bytes(l->seed, key, gl + tl + 1);
    pthread_mutex_lock(&l->lock);
    bool fresh = true;
    for (size_t i = l->bucket[h & (l->nbuckets - 1)]; i != 0 && fresh; i = l->ring[i - 1].next) {
        const struct gident *e = &l->ring[i - 1];
        if (e->h == h && e->until > now_us && strcmp(e->key, key) == 0)
            fresh = false;
    }
    if (fresh) {
        while (l->n > 0 && (l->n == l->max || l->ring[l->head].until <= now_us))
            drop_oldest(l);
        size_t at = (l->head + l->n) % l->max;
        size_t *b = &l->bucket[h & (l->nbuckets - 1)];
        l->ring[at] = (struct gident){.key = key, .h = h, .until = until_us, .next = *b};
        *b = at + 1;
        l->n++;
        key = NULL;
    }
    pthread_mutex_unlock(&l->lock);
    mem_free(key);
    return fresh;
}

size_t gidlist_count(struct gidlist *l)
{
    pthread_mutex_lock(&l->lock);
    size_t n = l->n;
    pthread_mutex_unlock(&l->lock);
    return n;
}
