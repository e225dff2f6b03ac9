/* mem: allocation wrapper with accounting (see mem.h). */
#include "mem.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Process-wide accounting counter: a statistic, not behaviour-bearing state. */
static atomic_size_t used_bytes;

static void *check(void *p, size_t n)
{
    if (p == NULL && n != 0) {
        fprintf(stderr, "warden: out of memory allocating %zu bytes\n", n);
        abort();
    }
    if (p != NULL)
        atomic_fetch_add_explicit(&used_bytes, malloc_usable_size(p), memory_order_relaxed);
    return p;
}

void *mem_alloc(size_t n)
{
    return check(malloc(n ? n : 1), n ? n : 1);
}

void *mem_calloc(size_t count, size_t n)
{
    size_t total = count * n;
    return check(calloc(count ? count : 1, n ? n : 1), total ? total : 1);
}

void *mem_realloc(void *p, size_t n)
{
    if (p != NULL)
        atomic_fetch_sub_explicit(&used_bytes, malloc_usable_size(p), memory_order_relaxed);
    return check(realloc(p, n ? n : 1), n ? n : 1);
}

char *mem_strdup(const char *s)
{
    return mem_strndup(s, strlen(s));
}

char *mem_strndup(const char *s, size_t n)
{
    char *d = mem_alloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void mem_free(void *p)
{
    if (p == NULL)
        return;
    atomic_fetch_sub_explicit(&used_bytes, malloc_usable_size(p), memory_order_relaxed);
    free(p);
}

size_t mem_used(void)
{
    return atomic_load_explicit(&used_bytes, memory_order_relaxed);
}

void mem_wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}
