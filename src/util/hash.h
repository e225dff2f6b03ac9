/* hash: FNV-1a over a NUL-terminated string, for the in-memory caches' slot choice (not for
 * anything an attacker must not steer: the caches are bounded and every hit is checked in full). */
#ifndef WARDEN_UTIL_HASH_H
#define WARDEN_UTIL_HASH_H

#include <stddef.h>

static inline size_t hash_str(const char *s)
{
    size_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

#endif
