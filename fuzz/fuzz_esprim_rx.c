/* fuzz_esprim_rx: the ESPrim receiver for applications (e2e/esprim_rx.h). An input starting with
 * '{' is the Content of an outer NOTIFY as the AE receives it (esprim_rx_open: m2m:seci parsing,
 * the ESPrim Object header, rand object lookups); any other input is an inner request primitive
 * sealed by the client library under a genuine session, so the receiver's post-decryption parsing
 * (the inner From check) sees arbitrary plaintext. Invariants: a refusal is one of the RSCs of
 * TS-0004 Table 7.6.2-1 (or 4106 for a replay) with a reason; an accepted sit 5 object yields the
 * plaintext that was sealed, and sealing the answer then succeeds; nothing crashes or leaks. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "e2e/esprim_client.h"
#include "e2e/esprim_rx.h"
#include "util/mem.h"

static const unsigned char key[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                      17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void check_rc(int rc, const char *why)
{
    if (rc == 0)
        return;
    if (why == NULL || !(rc == 4000 || rc == 4106 || (rc >= 4111 && rc <= 4117)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        json_set_alloc_funcs(mem_alloc, mem_free);
        init = true;
    }
    const int64_t now = 1700000000;
    struct esprim_rx *rx = esprim_rx_new("k1", key, sizeof key, "Cpeer", 600);
    char *answer = NULL, *inner = NULL;
    size_t ilen = 0;
    const char *why = NULL;
    if (size > 0 && data[0] == '{') {
        int rc = esprim_rx_open(rx, (const char *)data, size, now, &answer, &inner, &ilen, &why);
        check_rc(rc, why);
        mem_free(answer);
        mem_free(inner);
        esprim_rx_free(rx);
        return 0;
    }
    struct esprim_client *ec = esprim_client_new("k1", key, sizeof key, NULL);
    const char *rq = esprim_client_rand_request();
    if (esprim_rx_open(rx, rq, strlen(rq), now, &answer, &inner, &ilen, &why) != 0 || answer == NULL ||
        esprim_client_receiver(ec, answer, strlen(answer), now, &why) != 0)
        abort();
    mem_free(answer);
    answer = NULL;
    size_t slen = 0;
    char *sealed = esprim_client_seal(ec, (const char *)data, size, &slen);
    if (sealed == NULL)
        abort();
    int rc = esprim_rx_open(rx, sealed, slen, now, &answer, &inner, &ilen, &why);
    check_rc(rc, why);
    if (rc == 0) {
        if (inner == NULL || ilen != size || memcmp(inner, data, size) != 0)
            abort();
        size_t alen = 0;
        char *out = esprim_rx_seal(rx, "{\"rsc\":2000}", 12, &alen);
        if (out == NULL)
            abort();
        mem_free(out);
    }
    mem_free(inner);
    mem_free(sealed);
    esprim_client_free(ec);
    esprim_rx_free(rx);
    return 0;
}
