/* mem: the one allocation wrapper; aborts on exhaustion and reports live heap bytes. */
#ifndef WARDEN_UTIL_MEM_H
#define WARDEN_UTIL_MEM_H

#include <stddef.h>

/* All return non-NULL or abort(): Warden treats memory exhaustion as fatal
 * (as Redis' zmalloc does) instead of threading ENOMEM through every path.
 * Memory from these functions is released with mem_free(). */
void *mem_alloc(size_t n);
void *mem_calloc(size_t count, size_t n);
void *mem_realloc(void *p, size_t n);
char *mem_strdup(const char *s);
char *mem_strndup(const char *s, size_t n);
void mem_free(void *p);

/* Bytes currently allocated on the heap (the allocator's own accounting). */
size_t mem_used(void);

/* Overwrite n bytes with zeros in a way the compiler may not elide (key material). */
void mem_wipe(void *p, size_t n);

#define MEM_FREE(p)                                                                                                    \
    do {                                                                                                               \
        mem_free(p);                                                                                                   \
        (p) = NULL;                                                                                                    \
    } while (0)

#endif
