/* hash: FNV-1a, for the in-memory caches' slot choice and the MQTT redelivery check (not for
 * anything an attacker must not steer: the tables are bounded and every hit is checked in full). */
#ifndef WARDEN_UTIL_HASH_H
#define WARDEN_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HASH_SEED 14695981039346656037ULL

/* Continue the hash h over n bytes at p (start with HASH_SEED). */
static inline uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

static inline size_t hash_str(const char *s)
{
    return (size_t)hash_bytes(HASH_SEED, s, strlen(s));
}

#endif
