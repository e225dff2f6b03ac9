/* mqtt_binding: placeholder until the MQTT binding lands; refuses to start when configured. */
#include <stdio.h>

#include "bindings/binding.h"
#include "core/config.h"

static bool mqtt_enabled(const struct cse_config *cfg)
{
    return cfg->mqtt_address[0] != '\0';
}

static struct binding *mqtt_start(struct cse *cse, char *err, size_t errlen)
{
    (void)cse;
    snprintf(err, errlen, "the MQTT binding is not available in this build");
    return NULL;
}

const struct binding_ops mqtt_binding_ops = {.name = "mqtt", .enabled = mqtt_enabled, .start = mqtt_start};
