/* coap_optfilter: make libcoap 4.3.1 accept all oneM2M options (see coap_optfilter.c). */
#ifndef WARDEN_BINDINGS_COAP_OPTFILTER_H
#define WARDEN_BINDINGS_COAP_OPTFILTER_H

#include <coap3/coap.h>

/* Register the oneM2M options of TS-0008 Table 6.2.2.4.0-1 as known on ctx (CoAP thread only). */
void coap_optfilter_register(coap_context_t *ctx);

#endif
