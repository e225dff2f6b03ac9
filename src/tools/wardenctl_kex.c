/* wardenctl kex: End-to-End Certificate-based Key Establishment (TS-0003 §8.7) initiated by this CSE
 * towards another CSE (or an AE's hosting CSE): the exchange runs with this CSE's own certificate and
 * key (tls.cert, tls.key) and trust anchors (tls.ca), From this CSE-ID, over HTTPS (the peer requires a
 * security association for a CSE originator); the established key goes to this CSE's e2e key store
 * (local end this CSE-ID, peer the identity of the peer's certificate, source escertke), as the peer
 * stores it on its side. Only the key ID is printed. */
#include "tools/wardenctl_kex.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/id.h"
#include "e2e/escertke.h"
#include "e2e/escertke_client.h"
#include "security/cred.h"
#include "security/e2e_keys.h"
#include "store/store.h"
#include "util/mem.h"

const char wardenctl_kex_usage[] =
    "  kex --to ID --url URL [--timeout S]  ESCertKE (TS-0003 §8.7) with the CSE ID at URL (https://...), as\n"
    "                                       this CSE (tls.cert, tls.key, tls.ca); the key goes to the e2e\n"
    "                                       key store, its ID is printed\n";

static int kfail(const char *what, const char *detail)
{
    fprintf(stderr, "wardenctl kex: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    return 1;
}

int wardenctl_kex(const struct cse_config *cfg, int argc, char **argv)
{
    struct escertke_http h = {.timeout = 10};
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            return 2;
        if (strcmp(argv[i], "--to") == 0)
            h.to = v;
        else if (strcmp(argv[i], "--url") == 0)
            h.url = v;
        else if (strcmp(argv[i], "--timeout") == 0)
            h.timeout = strtol(v, NULL, 10);
        else
            return 2;
        i++;
    }
    if (h.to == NULL || h.url == NULL || h.timeout < 1 || h.timeout > 3600)
        return 2;
    if (!cfg->tls_cert[0] || !cfg->tls_key[0] || !cfg->tls_ca[0])
        return kfail("this CSE's certificate, key and trust anchors are needed (tls.cert, tls.key, tls.ca)", NULL);
    char err[512];
    int version = 0;
    if (store_sqlite_probe(cfg->store_path, &version, err, sizeof err) != 0)
        return kfail(err, "store.path: give --config FILE or --store.path=PATH");
    struct id_env env = {.spid = cfg->cse_spid, .cse_id = cfg->cse_id};
    char local[LIMIT_ID_LEN + 1];
    snprintf(local, sizeof local, "//%s%s%s", cfg->cse_spid, cfg->cse_id[0] == '/' ? "" : "/", cfg->cse_id);
    char url[1024];
    size_t ul = strlen(h.url);
    snprintf(url, sizeof url, "%.*s", (int)(ul && h.url[ul - 1] == '/' ? ul - 1 : ul), h.url);
    h.url = url;
    h.origin = cfg->cse_id;
    h.cert = cfg->tls_cert;
    h.key = cfg->tls_key;
    h.cacert = cfg->tls_ca;
    json_set_alloc_funcs(mem_alloc, mem_free);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct escertke_initiator_cfg ic = {
        .cert = cfg->tls_cert, .key = cfg->tls_key, .ca = cfg->tls_ca, .expect = h.to, .idenv = &env};
    struct escertke_client_result r;
    int ret = 1;
    if (escertke_client_run(&ic, escertke_http_send, &h, &r, err, sizeof err) != 0) {
        kfail(err, NULL);
        goto out;
    }
    struct cred_store *cs = cred_open(cfg->store_path, err, sizeof err);
    if (cs == NULL) {
        kfail(err, NULL);
        goto out;
    }
    struct e2e_key k;
    memset(&k, 0, sizeof k);
    snprintf(k.kid, sizeof k.kid, "%s", r.kid);
    if (strlen(local) >= sizeof k.local_id || strlen(r.peer) >= sizeof k.peer_id) {
        cred_close(cs);
        kfail("an identity is longer than the key store keeps", NULL);
        goto out;
    }
    memcpy(k.local_id, local, strlen(local) + 1);
    memcpy(k.peer_id, r.peer, strlen(r.peer) + 1);
    memcpy(k.key, r.key, sizeof r.key); /* the pairwiseE2EKey as the pairwiseESPrimKey (escertke_rx.c) */
    k.key_len = sizeof r.key;
    k.source = E2E_KEY_ESCERTKE;
    k.created_s = (int64_t)time(NULL);
    int st = escertke_key_store(cs, &k, cfg->escertke_key_lifetime, NULL); /* supersedes the pair's older */
    cred_wipe(&k, sizeof k);
    cred_close(cs);
    if (st != 0) {
        kfail(st == 1 ? "the key ID exists already in the store" : "the key could not be stored", NULL);
        goto out;
    }
    printf("%s\n", r.kid);
    fprintf(stderr, "wardenctl: e2e key established with %s\n", r.peer);
    ret = 0;
out:
    cred_wipe(&r, sizeof r);
    curl_global_cleanup();
    return ret;
}
