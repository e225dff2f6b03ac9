/* coap_binding: placeholder until the COAP binding lands; refuses to start when configured. */
#include <stdio.h>

#include "bindings/binding.h"
#include "core/config.h"

static bool coap_enabled(const struct cse_config *cfg)
{
    return cfg->coap_port != 0 || cfg->coaps_port != 0;
}

static struct binding *coap_start(struct cse *cse, char *err, size_t errlen)
{
    (void)cse;
    snprintf(err, errlen, "the COAP binding is not available in this build");
    return NULL;
}

const struct binding_ops coap_binding_ops = {.name = "coap", .enabled = coap_enabled, .start = coap_start};
