/* coap_optfilter: libcoap 4.3.1 refuses a request or response carrying an unknown critical option
 * (4.02 Bad Option / RST), and its table of application options (coap_register_option) holds only
 * COAP_OPT_FILTER_LONG = 2 options numbered above 255. All 19 oneM2M options of TS-0008
 * Table 6.2.2.4.0-1 are critical and above 255, so libcoap alone cannot carry oneM2M.
 *
 * Workaround: libcoap looks options up through the exported coap_option_filter_get(), which this
 * program interposes. A filter that holds the two marker options registered first (oneM2M-OT 259,
 * oneM2M-RTURI 263), i.e. a context's table of known options, reports every option as known; every
 * other filter (option iteration, coap_check_option) gets libcoap's own answer.
 *
 * Every option, not only the oneM2M ones (issue 12 finding 20): libcoap answers a request with an
 * unknown critical option 4.02 itself and copies that option into the 4.02, and a client must
 * reject a response carrying a critical option it does not know (RFC 7252 §5.4.1), so a conforming
 * client never saw an answer. The binding now gets every option and answers an unrecognized
 * critical one 4.02 without echoing it (coap_binding.c, recognized_critical()).
 * Remove this file with libcoap >= 4.3.2, whose filter has room for more options (the binding's own
 * check of critical options stays). */
#include "coap_optfilter.h"

#include <dlfcn.h>
#include <pthread.h>

#include "coap_map.h"

typedef int (*filter_get_fn)(coap_opt_filter_t *filter, coap_option_num_t option);

/* libcoap's own function, resolved once (a constant of the process, not Warden state). */
static filter_get_fn real_get;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;

static void resolve(void)
{
    real_get = (filter_get_fn)dlsym(RTLD_NEXT, "coap_option_filter_get");
}

int coap_option_filter_get(coap_opt_filter_t *filter, coap_option_num_t option);
int coap_option_filter_get(coap_opt_filter_t *filter, coap_option_num_t option)
{
    pthread_once(&real_once, resolve);
    if (real_get == NULL)
        return -1;
    int r = real_get(filter, option);
    if (r <= 0 && option != COAPM_OPT_OT && option != COAPM_OPT_RTURI && real_get(filter, COAPM_OPT_OT) > 0 &&
        real_get(filter, COAPM_OPT_RTURI) > 0)
        return 1;
    return r;
}

void coap_optfilter_register(coap_context_t *ctx)
{
    /* the markers first: they take libcoap's two slots for long options */
    coap_register_option(ctx, COAPM_OPT_OT);
    coap_register_option(ctx, COAPM_OPT_RTURI);
}
