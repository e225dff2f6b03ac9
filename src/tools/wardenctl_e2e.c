/* wardenctl e2e (see wardenctl_e2e.h).
 *
 * e2e add KID LOCAL_ID PEER_ID [--expires TS|--lifetime SECONDS]
 *   a provisioned pairwiseESPrimKey: 16, 24 or 32 bytes as hex on standard input (never argv).
 * e2e derive KPSAID KID LOCAL_ID PEER_ID [--expires TS|--lifetime SECONDS]
 *   the pairwiseESPrimKey derived from the active Kpsa KPSAID (wardenctl psk) by TS-0003 §10.3.6
 *   with Salt = PEER_ID (the Source ESF End-Point: the end that holds the Kpsa with this CSE) and
 *   the key Ke2e_msg_conf = T(2) (e2e/e2e_kdf.h); the same derivation runs at the peer's end.
 * e2e list
 *   KID, LOCAL_ID, PEER_ID, key length, source, created, expires, state: never the key.
 * e2e revoke KID
 *   the next request secured with KID is refused (4112); the key bytes are erased. */
#include "tools/wardenctl_e2e.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/id.h"
#include "e2e/e2e_kdf.h"
#include "security/cred.h"
#include "security/e2e_keys.h"
#include "store/store.h"
#include "tools/wardenctl_common.h"
#include "util/timeutil.h"

enum { E_OK = 0, E_FAIL = 1, E_USAGE = 2 };

const char wardenctl_e2e_usage[] =
    "  e2e add KID LOCAL_ID PEER_ID [--lifetime SECONDS]\n"
    "                                       an ESPrim pairwise key (TS-0003 §8.4): 16, 24 or 32 bytes\n"
    "                                       as hex on stdin; LOCAL_ID: this CSE's CSE-ID, PEER_ID: the\n"
    "                                       AE-ID or CSE-ID at the other end\n"
    "  e2e derive KPSAID KID LOCAL_ID PEER_ID [--lifetime SECONDS]\n"
    "                                       the pairwise key from the psk KPSAID (TS-0003 §10.3.6:\n"
    "                                       Salt = PEER_ID, key = Ke2e_msg_conf)\n"
    "  e2e list                             KID, ends, length, source, times, state (never the key)\n"
    "  e2e revoke KID                       refused from the next request on\n";

static struct cred_store *open_store(const struct cse_config *cfg)
{
    char err[512];
    int version;
    if (store_sqlite_probe(cfg->store_path, &version, err, sizeof err) != 0) {
        wardenctl_fail("%s (store.path; give --config FILE or --store.path=PATH, or create one with `wardenctl init`)",
                       err);
        return NULL;
    }
    if (version < 9) {
        wardenctl_fail("the store %s has schema %d: start this release's warden on it once (it adds the e2e key table)",
                       cfg->store_path, version);
        return NULL;
    }
    struct cred_store *cs = cred_open(cfg->store_path, err, sizeof err);
    if (cs == NULL)
        wardenctl_fail("%s", err);
    else
        fprintf(stderr, "wardenctl: store %s\n", cfg->store_path);
    return cs;
}

/* An AE-ID or CSE-ID to its canonical form. */
static int canon_id(const struct cse_config *cfg, const char *raw, char *out, size_t outlen)
{
    struct id_env env = {cfg->cse_spid, cfg->cse_id};
    struct id id;
    if (!id_parse(&env, raw, &id) || (id.kind != ID_AE && id.kind != ID_CSE) || strlen(id.canon) >= outlen)
        return wardenctl_fail("'%s' is not an AE-ID or a CSE-ID", raw);
    snprintf(out, outlen, "%s", id.canon);
    return 0;
}

/* The positional words and --lifetime of add/derive. */
static int parse_words(int argc, char **argv, int want, const char **pos, int64_t *expires)
{
    int n = 0;
    *expires = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--lifetime") == 0 && i + 1 < argc) {
            char *end;
            long long s = strtoll(argv[++i], &end, 10);
            if (*end != '\0' || s <= 0 || s > 20LL * 366 * 86400)
                return -1;
            *expires = (int64_t)time(NULL) + s;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return -1;
        } else if (n < want) {
            pos[n++] = argv[i];
        } else {
            return -1; /* one more word would be a key on the command line: never */
        }
    }
    return n == want ? 0 : -1;
}

static int store_key(const struct cse_config *cfg, struct cred_store *cs, struct e2e_key *k, const char *local,
                     const char *peer)
{
    int rc = canon_id(cfg, local, k->local_id, sizeof k->local_id);
    if (rc == 0)
        rc = canon_id(cfg, peer, k->peer_id, sizeof k->peer_id);
    if (rc == 0) {
        int st = e2e_key_put(cs, k);
        if (st == 1)
            rc = wardenctl_fail("kid %s exists already (revoke it first to replace its key)", k->kid);
        else if (st != 0)
            rc = wardenctl_fail("cannot store kid %s", k->kid);
    }
    cred_wipe(k->key, sizeof k->key);
    cred_close(cs);
    if (rc == 0)
        fprintf(stderr, "e2e key %s added (%zu bytes, %s <-> %s)\n", k->kid, k->key_len, k->local_id, k->peer_id);
    return rc ? E_FAIL : E_OK;
}

/* k's kid, checked (e2e_kid_ok): 0, or E_FAIL said. */
static int set_kid(struct e2e_key *k, const char *kid)
{
    if (!e2e_kid_ok(kid))
        return wardenctl_fail("'%s' is not a kid (1 to 128 printable ASCII characters, no space, '\"' or '\\')", kid);
    snprintf(k->kid, sizeof k->kid, "%s", kid);
    return 0;
}

static int e2e_add(const struct cse_config *cfg, int argc, char **argv)
{
    const char *pos[3];
    struct e2e_key k;
    memset(&k, 0, sizeof k);
    if (parse_words(argc, argv, 3, pos, &k.expires_s) != 0)
        return E_USAGE;
    if (set_kid(&k, pos[0]) != 0)
        return E_FAIL;
    char text[512];
    size_t n = fread(text, 1, sizeof text - 1, stdin);
    text[n] = '\0';
    long klen = cred_hex_decode(text, k.key, sizeof k.key);
    cred_wipe(text, sizeof text);
    if (klen != 16 && klen != 24 && klen != 32) {
        cred_wipe(k.key, sizeof k.key);
        return wardenctl_fail("the key on standard input must be 16, 24 or 32 bytes of hex");
    }
    k.key_len = (size_t)klen;
    k.source = E2E_KEY_PROVISIONED;
    struct cred_store *cs = open_store(cfg);
    if (cs == NULL) {
        cred_wipe(k.key, sizeof k.key);
        return E_FAIL;
    }
    return store_key(cfg, cs, &k, pos[1], pos[2]);
}

/* Is id one of the canonical IDs of a credential's binding ("a,b,c")? */
static bool binding_has(const char *binding, const char *id)
{
    size_t n = strlen(id);
    for (const char *p = binding; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, id, n) == 0)
            return true;
        p += len + (p[len] == ',');
    }
    return false;
}

static int e2e_derive(const struct cse_config *cfg, int argc, char **argv)
{
    const char *pos[4];
    struct e2e_key k;
    memset(&k, 0, sizeof k);
    if (parse_words(argc, argv, 4, pos, &k.expires_s) != 0)
        return E_USAGE;
    if (set_kid(&k, pos[1]) != 0)
        return E_FAIL;
    char peer[sizeof k.peer_id];
    if (canon_id(cfg, pos[3], peer, sizeof peer) != 0)
        return E_FAIL;
    struct cred_store *cs = open_store(cfg);
    if (cs == NULL)
        return E_FAIL;
    /* TS-0003 §10.3.6: the key is the one the Kpsa's two ends share; whoever holds the Kpsa can
     * derive it, so it is bound to the identity the Kpsa is bound to, never to another */
    struct cred_psk_info info;
    if (cred_psk_get(cs, pos[0], &info) == CRED_OK && !binding_has(info.binding, peer)) {
        cred_close(cs);
        return wardenctl_fail("psk %s is bound to '%s', not to %s: a key derived from it is for that identity only",
                              pos[0], info.binding[0] ? info.binding : "(no identity yet)", peer);
    }
    unsigned char kpsa[CRED_KEY_MAX];
    size_t kpsa_len = 0;
    enum cred_status st = cred_psk_key(cs, pos[0], kpsa, &kpsa_len);
    if (st != CRED_OK) {
        cred_close(cs);
        return wardenctl_fail("no active psk %s", pos[0]);
    }
    /* TS-0003 §10.3.6: Salt = the Source ESF End-Point's ID (the peer), key = Ke2e_msg_conf */
    int rc = e2e_kdf_from_kpsa(kpsa, kpsa_len, peer, E2E_KDF_PAIRWISE_ESPRIM, k.key);
    cred_wipe(kpsa, sizeof kpsa);
    if (rc != 0) {
        cred_close(cs);
        return wardenctl_fail("cannot derive the key");
    }
    k.key_len = E2E_KDF_LEN;
    k.source = E2E_KEY_KPSA_DERIVED;
    return store_key(cfg, cs, &k, pos[2], pos[3]);
}

static const char *source_name(enum e2e_key_source s)
{
    return s == E2E_KEY_PROVISIONED ? "provisioned" : s == E2E_KEY_KPSA_DERIVED ? "kpsa" : "escertke";
}

static void print_key(void *arg, const struct e2e_key_info *k)
{
    (void)arg;
    char created[TS_LEN + 1], expires[TS_LEN + 1] = "-";
    ts_format(k->created_s, created);
    if (k->expires_s)
        ts_format(k->expires_s, expires);
    const char *state = k->revoked_s                                          ? "revoked"
                        : k->expires_s && k->expires_s <= (int64_t)time(NULL) ? "expired"
                                                                              : "active";
    printf("%s\t%s\t%s\t%zu\t%s\t%s\t%s\t%s\n", k->kid, k->local_id, k->peer_id, k->key_len, source_name(k->source),
           created, expires, state);
}

int wardenctl_e2e(const struct cse_config *cfg, int argc, char **argv)
{
    if (argc < 2)
        return E_USAGE;
    const char *sub = argv[1];
    if (strcmp(sub, "add") == 0)
        return e2e_add(cfg, argc, argv);
    if (strcmp(sub, "derive") == 0)
        return e2e_derive(cfg, argc, argv);
    if (strcmp(sub, "list") == 0 && argc == 2) {
        struct cred_store *cs = open_store(cfg);
        if (cs == NULL)
            return E_FAIL;
        int rc = e2e_key_list(cs, print_key, NULL);
        cred_close(cs);
        return rc == 0 ? E_OK : wardenctl_fail("cannot read the e2e keys");
    }
    if (strcmp(sub, "revoke") == 0 && argc == 3) {
        struct cred_store *cs = open_store(cfg);
        if (cs == NULL)
            return E_FAIL;
        int rc = e2e_key_revoke(cs, argv[2]);
        cred_close(cs);
        if (rc == 1)
            return wardenctl_fail("no live e2e key %s", argv[2]);
        if (rc != 0)
            return wardenctl_fail("cannot revoke %s", argv[2]);
        fprintf(stderr, "e2e key %s revoked\n", argv[2]);
        return E_OK;
    }
    return E_USAGE;
}
