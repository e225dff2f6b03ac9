/* binding: the transport seam. A binding turns bytes into request primitives, calls cse_dispatch()
 * and encodes the response; main.c starts and stops bindings only through this table. */
#ifndef WARDEN_BINDINGS_BINDING_H
#define WARDEN_BINDINGS_BINDING_H

#include <stddef.h>

struct cse;
struct binding;

struct binding_ops {
    const char *name;
    /* Start listening. NULL + err on failure (port in use, bad address ...). */
    struct binding *(*start)(struct cse *cse, char *err, size_t errlen);
    /* Stop accepting new connections; requests in flight go on. */
    void (*quiesce)(struct binding *b);
    /* Requests received but not yet answered. */
    int (*inflight)(struct binding *b);
    /* Close everything and free b. */
    void (*stop)(struct binding *b);
};

extern const struct binding_ops http_binding_ops;

#endif
