/* binding: the transport seam. A binding turns bytes into request primitives, calls cse_dispatch()
 * and encodes the response; main.c starts and stops bindings only through this table. */
#ifndef WARDEN_BINDINGS_BINDING_H
#define WARDEN_BINDINGS_BINDING_H

#include <stdbool.h>
#include <stddef.h>

struct cse;
struct binding;

struct cse_config;

struct binding_ops {
    const char *name;
    /* Does the configuration turn this binding on? */
    bool (*enabled)(const struct cse_config *cfg);
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
extern const struct binding_ops mqtt_binding_ops;
extern const struct binding_ops coap_binding_ops;
extern const struct binding_ops metrics_binding_ops; /* http/metrics_http.c: /metrics and /healthz */

#endif
