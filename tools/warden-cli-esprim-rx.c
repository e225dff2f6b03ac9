/* warden-cli esprim-rx: see warden-cli-e2e.h. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "e2e/esprim_rx.h"
#include "security/cred.h"
#include "util/mem.h"
#include "warden-cli-e2e.h"

static void reply(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    printf("%s\n", s ? s : "{\"rsc\":5000}");
    fflush(stdout);
    free(s);
    json_decref(o);
}

/* A JSON text as a value (json_t *, owned), or null. */
static json_t *value(const char *text, size_t len)
{
    json_t *v = text ? json_loadb(text, len, 0, NULL) : NULL;
    return v ? v : json_null();
}

int warden_cli_esprim_rx(int argc, char **argv)
{
    const char *kid = NULL, *key_file = NULL, *peer = NULL;
    long lifetime = 3600;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--kid") == 0)
            kid = argv[i + 1];
        else if (strcmp(argv[i], "--key-file") == 0)
            key_file = argv[i + 1];
        else if (strcmp(argv[i], "--peer") == 0)
            peer = argv[i + 1];
        else if (strcmp(argv[i], "--lifetime") == 0)
            lifetime = atol(argv[i + 1]);
        else
            kid = NULL, i = argc;
    }
    if (kid == NULL || key_file == NULL || peer == NULL || argc % 2 == 0) {
        fputs("usage: warden-cli esprim-rx --kid KID --key-file F --peer ORIGINATOR [--lifetime S]\n", stderr);
        return 2;
    }
    unsigned char key[64];
    long klen = cli_e2e_load_key(key_file, kid, key);
    struct esprim_rx *rx = klen > 0 ? esprim_rx_new(kid, key, (size_t)klen, peer, lifetime) : NULL;
    cred_wipe(key, sizeof key);
    if (rx == NULL) {
        fputs("warden-cli: esprim-rx: the key file must hold 16, 24 or 32 bytes (hex or kex JSON)\n", stderr);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        json_t *in = json_loadb(line, (size_t)n, 0, NULL);
        json_t *notify = json_object_get(in, "notify"), *resp = json_object_get(in, "response");
        char *text = notify ? json_dumps(notify, JSON_COMPACT) : resp ? json_dumps(resp, JSON_COMPACT) : NULL;
        json_decref(in);
        if (text == NULL) {
            reply(json_pack("{s:i,s:s}", "rsc", 4000, "dbg", "a line is {\"notify\": ...} or {\"response\": ...}"));
            continue;
        }
        if (notify) {
            char *answer = NULL, *inner = NULL;
            size_t ilen = 0;
            const char *why = NULL;
            int rc = esprim_rx_open(rx, text, strlen(text), (int64_t)time(NULL), &answer, &inner, &ilen, &why);
            if (rc != 0)
                reply(json_pack("{s:i,s:s}", "rsc", rc, "dbg", why ? why : "refused"));
            else if (answer)
                reply(json_pack("{s:i,s:o}", "rsc", 2000, "pc", value(answer, strlen(answer))));
            else
                reply(json_pack("{s:o}", "inner", value(inner, ilen)));
            mem_free(answer);
            if (inner) {
                cred_wipe(inner, ilen);
                mem_free(inner);
            }
        } else {
            size_t slen = 0;
            char *sealed = esprim_rx_seal(rx, text, strlen(text), &slen);
            if (sealed)
                reply(json_pack("{s:i,s:o}", "rsc", 2000, "pc", value(sealed, slen)));
            else
                reply(json_pack("{s:i,s:s}", "rsc", 4117, "dbg", "no opened request to answer"));
            mem_free(sealed);
        }
        free(text);
    }
    free(line);
    esprim_rx_free(rx);
    return 0;
}
