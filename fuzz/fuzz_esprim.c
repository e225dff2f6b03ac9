/* fuzz_esprim: the ESPrim Object decoder as a receiver reaches it (e2e/esprim_obj.h): the compact
 * serialisation's shape and protected header (esprim_parse), the rand objects it carries
 * (esprim_randobj_canon), and decryption under a fixed key (esprim_open); an input starting with '{'
 * is a sit 4/5 answer for the client library (esprim_client_receiver, esprim_client_open).
 * Invariants: a parsed header has a kid, ori, rri and an enc with a key length; a refusal is 4000 or
 * 4111 with a reason; a canonical rand object parses back to the same text; decryption under a key
 * the seeds were not made with never succeeds, and never crashes. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "e2e/esprim_client.h"
#include "e2e/esprim_obj.h"
#include "util/mem.h"

static const unsigned char key[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                      17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void check_canon(const json_t *o, bool receiver)
{
    size_t len = 0;
    int64_t exp = 0;
    const char *why = NULL;
    char *c = esprim_randobj_canon(o, receiver, &len, &exp, &why);
    if (c == NULL) {
        if (why == NULL)
            abort();
        return;
    }
    json_t *back = json_loadb(c, len, 0, NULL);
    char *again = back ? json_dumps(back, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (again == NULL || strcmp(again, c) != 0)
        abort();
    mem_free(again);
    json_decref(back);
    mem_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        json_set_alloc_funcs(mem_alloc, mem_free);
        init = true;
    }
    if (size > 0 && data[0] == '{') {
        struct esprim_client *ec = esprim_client_new("k1", key, sizeof key, "A256GCM");
        const char *why = NULL;
        if (esprim_client_receiver(ec, (const char *)data, size, 1700000000, &why) != 0 && why == NULL)
            abort();
        char *inner = NULL;
        size_t ilen = 0;
        if (esprim_client_open(ec, (const char *)data, size, &inner, &ilen) == 0)
            mem_free(inner);
        esprim_client_free(ec);
        return 0;
    }
    struct esprim_hdr h;
    const char *why = NULL;
    int rc = esprim_parse((const char *)data, size, &h, &why);
    if (rc == 0) {
        if (h.kid[0] == '\0' || h.ori[0] == '\0' || h.rri[0] == '\0' || esprim_enc_keylen(h.enc) == 0)
            abort();
        if (h.oro)
            check_canon(h.oro, false);
        if (h.rro)
            check_canon(h.rro, true);
        char *pt = NULL;
        size_t plen = 0;
        if (esprim_open((const char *)data, size, key, esprim_enc_keylen(h.enc), &pt, &plen) == 0)
            mem_free(pt); /* only a seed made under this key opens */
    } else if ((rc != 4000 && rc != 4111) || why == NULL) {
        abort();
    }
    esprim_hdr_free(&h);
    return 0;
}
