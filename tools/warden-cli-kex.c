/* warden-cli kex: End-to-End Certificate-based Key Establishment (TS-0003 §8.7) with a CSE, as the
 * Initiating End-Point: two NOTIFYs to the CSE's <CSEBase> carrying m2m:seci sit 6 (TS-0004
 * §7.5.1.2.12) over HTTP or HTTPS, then the established key ID and key written to a file (mode 0600,
 * {"kid": ..., "key": base64url}) that warden-cli's ESPrim option reads; only the key ID is printed.
 * The key is never printed, and the process cannot dump core. */
#include "warden-cli-kex.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/id.h"
#include "e2e/escertke_client.h"
#include "security/cred.h"
#include "util/mem.h"

enum { KEX_OK = 0, KEX_FAIL = 1, KEX_USAGE = 2 };

static void kex_usage(FILE *f)
{
    fputs("usage: warden-cli kex --cert F --key F --cacert F --to CSE-ID --out FILE [options]\n"
          "  End-to-end key establishment with certificates (TS-0003 §8.7 ESCertKE) with the CSE at --url:\n"
          "  the key ID is printed, the key (and its ID) written to FILE (mode 0600) as\n"
          "  {\"kid\": \"...\", \"key\": \"<base64url>\"}.\n"
          "  --cert F --key F    this end's certificate and key (PEM, P-256), naming the originator\n"
          "  --cacert F          trust anchors for the CSE's certificate (PEM)\n"
          "  --to ID             the CSE's ID, '/id-in' or '//sp/id-in': its certificate must name it\n"
          "  --out FILE          where the key goes\n"
          "  -u, --url URL       CSE address (default http://127.0.0.1:8080; env WARDEN_URL); with https,\n"
          "                      --cert/--key/--cacert serve the TLS connection too\n"
          "  -o, --origin ID     X-M2M-Origin: this end's AE-ID or CSE-ID, as its certificate names it\n"
          "                      (env WARDEN_ORIGIN)\n"
          "  -t, --timeout S     seconds per request (default 10)\n"
          "  -v, --verbose       the requests on standard error\n",
          f);
}

int warden_cli_kex(int argc, char **argv)
{
    struct escertke_http o = {.url = getenv("WARDEN_URL") ? getenv("WARDEN_URL") : "http://127.0.0.1:8080",
                              .origin = getenv("WARDEN_ORIGIN"),
                              .timeout = 10};
    const char *outfile = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool has = v != NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            kex_usage(stdout);
            return KEX_OK;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            o.verbose = true;
            continue;
        }
        if (!has) {
            fprintf(stderr, "warden-cli kex: unknown option or missing value: '%s'\n", a);
            return KEX_USAGE;
        }
        if (strcmp(a, "-u") == 0 || strcmp(a, "--url") == 0)
            o.url = v;
        else if (strcmp(a, "-o") == 0 || strcmp(a, "--origin") == 0)
            o.origin = v;
        else if (strcmp(a, "--cert") == 0)
            o.cert = v;
        else if (strcmp(a, "--key") == 0)
            o.key = v;
        else if (strcmp(a, "--cacert") == 0)
            o.cacert = v;
        else if (strcmp(a, "--to") == 0)
            o.to = v;
        else if (strcmp(a, "--out") == 0)
            outfile = v;
        else if (strcmp(a, "-t") == 0 || strcmp(a, "--timeout") == 0)
            o.timeout = strtol(v, NULL, 10);
        else {
            fprintf(stderr, "warden-cli kex: unknown option '%s' (see warden-cli kex --help)\n", a);
            return KEX_USAGE;
        }
        i++;
    }
    if (!o.cert || !o.key || !o.cacert || !o.to || !outfile || !o.origin || o.timeout < 1 || o.timeout > 3600) {
        kex_usage(stderr);
        return KEX_USAGE;
    }
    char url[1024];
    size_t ul = strlen(o.url);
    snprintf(url, sizeof url, "%.*s", (int)(ul && o.url[ul - 1] == '/' ? ul - 1 : ul), o.url);
    o.url = url;
    json_set_alloc_funcs(mem_alloc, mem_free);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    /* certificate names are read as absolute IDs: no SP-ID of our own is needed */
    static const struct id_env client_env = {.spid = "", .cse_id = ""};
    struct escertke_initiator_cfg cfg = {
        .cert = o.cert, .key = o.key, .ca = o.cacert, .expect = o.to, .idenv = &client_env};
    struct escertke_client_result r;
    char err[512];
    int ret = KEX_FAIL;
    if (escertke_client_run(&cfg, escertke_http_send, &o, &r, err, sizeof err) != 0)
        fprintf(stderr, "warden-cli kex: %s\n", err);
    else if (escertke_client_write_key(outfile, &r, err, sizeof err) != 0)
        fprintf(stderr, "warden-cli kex: %s\n", err);
    else {
        printf("%s\n", r.kid);
        fprintf(stderr, "key established with %s; written to %s\n", r.peer, outfile);
        ret = KEX_OK;
    }
    cred_wipe(&r, sizeof r);
    curl_global_cleanup();
    return ret;
}
