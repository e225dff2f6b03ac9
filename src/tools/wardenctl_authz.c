/* wardenctl authz / token (see wardenctl_authz.h): a development Authorization Authority.
 *
 * authz init DIR [--id ID] [--das URL]...
 *   makes the authority ID (default CAuth) a P-256 key (ES256) and a 256-bit secret (HS256), writes
 *   them to DIR/<ID>.jwk and adds ID with its verification keys to DIR/issuers.json, the file
 *   authz.issuers names (TS-0003 §7.3.2: the CSE trusts the tokens and roles of the authorities
 *   listed there). Both files are owner-only (issuers.json holds the HS256 secret as well), DIR is
 *   made owner-only; running it again with another --id adds that authority to the same file.
 *
 * token issue --key FILE --holder ID [--aud CSE-ID] [--lifetime SECONDS] [--ris RI]... [--acop N]
 *             [--rids ROLE-ID]... [--name NAME] [--alg ES256|HS256]
 *   a JWS with the claims of TS-0003 §7.3.2.6 (tkvr, jti, iss, azp = the holder, nbf, exp, aud,
 *   tkps) exactly as src/security/token.c verifies them, on standard output. */
#include "tools/wardenctl_authz.h"

#include <cjose/cjose.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/id.h"
#include "security/token.h"
#include "tools/wardenctl_common.h"
#include "util/fsutil.h"
#include "util/rand.h"
#include "util/timeutil.h"

enum { AZ_OK = 0, AZ_FAIL = 1, AZ_USAGE = 2 };

#define MAX_LIST         32
#define LIFETIME_DEFAULT 3600L
#define LIFETIME_MAX     (366L * 86400)

const char wardenctl_authz_usage[] =
    "  authz init DIR [--id ID] [--das URL]...\n"
    "                                       a development Authorization Authority ID (default CAuth): its\n"
    "                                       ES256 and HS256 keys in DIR/<ID>.jwk and its verification keys in\n"
    "                                       DIR/issuers.json (for authz.issuers); both owner-only; --das: the\n"
    "                                       DAS addresses that answer as ID\n"
    "  token issue --key DIR/<ID>.jwk --holder ID [--aud CSE-ID] [--lifetime SECONDS] [--ris RI]...\n"
    "              [--acop N] [--rids ROLE-ID]... [--name NAME] [--alg ES256|HS256]\n"
    "                                       a signed token (TS-0003 §7.3.2.6) on stdout: --acop N over the\n"
    "                                       resources --ris names, and/or the roles --rids; aud defaults to\n"
    "                                       cse.id, lifetime to 3600\n";

static int az_usage(void)
{
    fputs("usage:\n", stderr);
    fputs(wardenctl_authz_usage, stderr);
    return AZ_USAGE;
}

/* Write text to a new owner-only file (never through a symlink, never into an existing file). */
static int write_new(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return wardenctl_fail("cannot create %s: %s", path, strerror(errno));
    size_t len = strlen(text);
    ssize_t w = write(fd, text, len);
    int rc = fsync(fd);
    if (close(fd) != 0 || w != (ssize_t)len || rc != 0) {
        int e = errno;
        unlink(path);
        return wardenctl_fail("cannot write %s: %s", path, strerror(e));
    }
    return AZ_OK;
}

/* A JWK of cjose as a jansson object (private members included when priv). */
static json_t *jwk_json(const cjose_jwk_t *jwk, bool priv)
{
    cjose_err cerr;
    char *text = cjose_jwk_to_json(jwk, priv, &cerr);
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    if (text) {
        explicit_bzero(text, strlen(text));
        cjose_get_dealloc()(text);
    }
    return j;
}

/* The file name of an authority's key file: its ID with anything but [A-Za-z0-9._-] as '_'. */
static void key_name(const char *id, char *out, size_t len)
{
    while (*id == '/')
        id++;
    size_t n = 0;
    for (; *id && n + 1 < len; id++)
        out[n++] = (char)((*id >= 'A' && *id <= 'Z') || (*id >= 'a' && *id <= 'z') || (*id >= '0' && *id <= '9') ||
                                  *id == '.' || *id == '_' || *id == '-'
                              ? *id
                              : '_');
    out[n] = '\0';
}

static int authz_init(const struct cse_config *cfg, int argc, char **argv)
{
    if (argc < 3 || argv[2][0] == '-')
        return az_usage();
    const char *dir = argv[2], *id = "CAuth";
    const char *das[MAX_LIST];
    int ndas = 0;
    for (int i = 3; i < argc; i++) {
        if (i + 1 >= argc)
            return az_usage();
        if (strcmp(argv[i], "--id") == 0)
            id = argv[++i];
        else if (strcmp(argv[i], "--das") == 0 && ndas < MAX_LIST)
            das[ndas++] = argv[++i];
        else
            return az_usage();
    }
    struct id_env env = {.spid = cfg->cse_spid, .cse_id = cfg->cse_id};
    struct id parsed;
    if (!id_parse(&env, id, &parsed) || (parsed.kind != ID_AE && parsed.kind != ID_CSE))
        return wardenctl_fail("--id '%s' is not an AE-ID or a CSE-ID", id);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return wardenctl_fail("cannot create %s: %s", dir, strerror(errno));
    struct stat st;
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return wardenctl_fail("%s is not a directory", dir);
    if (st.st_uid != geteuid() || (st.st_mode & 077) != 0)
        return wardenctl_fail("%s must be an owner-only directory of yours (chmod 700 %s)", dir, dir);

    char name[256], key_path[4096], iss_path[4096], tmp_path[4200];
    key_name(id, name, sizeof name);
    snprintf(key_path, sizeof key_path, "%s/%s.jwk", dir, name);
    snprintf(iss_path, sizeof iss_path, "%s/issuers.json", dir);
    snprintf(tmp_path, sizeof tmp_path, "%s.new", iss_path);
    if (access(key_path, F_OK) == 0)
        return wardenctl_fail("%s exists: the authority %s has keys already", key_path, id);

    /* the issuers file so far: the authority must not be in it yet */
    json_t *issuers = NULL;
    if (access(iss_path, F_OK) == 0) {
        char err[512];
        if (fs_check_private(iss_path, "issuers file", err, sizeof err) != 0)
            return wardenctl_fail("%s", err);
        json_error_t jerr;
        issuers = json_load_file(iss_path, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_array(json_object_get(issuers, "issuers"))) {
            json_decref(issuers);
            return wardenctl_fail("%s: not an issuers file ({\"issuers\": [...]})", iss_path);
        }
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(issuers, "issuers"), i, e)
        {
            struct id other;
            const char *oid = json_string_value(json_object_get(e, "id"));
            if (oid && id_parse(&env, oid, &other) && strcmp(other.canon, parsed.canon) == 0) {
                json_decref(issuers);
                return wardenctl_fail("%s lists %s already", iss_path, id);
            }
        }
    } else {
        issuers = json_pack("{s:[]}", "issuers");
    }

    int ret = AZ_FAIL;
    cjose_err cerr;
    char kid_ec[300], kid_hs[300];
    unsigned char r[4];
    rand_bytes(r, sizeof r);
    snprintf(kid_ec, sizeof kid_ec, "%s-es256-%02x%02x%02x%02x", name, r[0], r[1], r[2], r[3]);
    snprintf(kid_hs, sizeof kid_hs, "%s-hs256-%02x%02x%02x%02x", name, r[0], r[1], r[2], r[3]);
    cjose_jwk_t *ec = cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_256, &cerr);
    cjose_jwk_t *hs = cjose_jwk_create_oct_random(256, &cerr);
    json_t *keyfile = NULL, *entry = NULL;
    char *key_text = NULL, *iss_text = NULL;
    if (ec == NULL || hs == NULL || !cjose_jwk_set_kid(ec, kid_ec, strlen(kid_ec), &cerr) ||
        !cjose_jwk_set_kid(hs, kid_hs, strlen(kid_hs), &cerr)) {
        wardenctl_fail("cannot generate keys: %s", cerr.message ? cerr.message : "cjose");
        goto out;
    }
    keyfile = json_pack("{s:s,s:[o,o]}", "iss", id, "keys", jwk_json(ec, true), jwk_json(hs, true));
    entry = json_pack("{s:s,s:[o,o],s:[s,s],s:b}", "id", id, "keys", jwk_json(ec, false), jwk_json(hs, true), "algs",
                      "ES256", "HS256", "roles", 1);
    if (keyfile == NULL || entry == NULL) {
        wardenctl_fail("cannot export the keys");
        goto out;
    }
    if (ndas > 0) {
        json_t *list = json_array();
        for (int i = 0; i < ndas; i++)
            json_array_append_new(list, json_string(das[i]));
        json_object_set_new(entry, "das", list);
    }
    json_array_append(json_object_get(issuers, "issuers"), entry);
    key_text = json_dumps(keyfile, JSON_INDENT(1));
    iss_text = json_dumps(issuers, JSON_INDENT(1));
    /* what the server will load must load: the same parser, the same ID rules */
    char err[512];
    struct token_issuers *check = token_issuers_parse(iss_text, strlen(iss_text), &env, err, sizeof err);
    if (check == NULL) {
        wardenctl_fail("the issuers file would not load: %s", err);
        goto out;
    }
    token_issuers_free(check);
    unlink(tmp_path);
    if (write_new(key_path, key_text) != AZ_OK)
        goto out;
    if (write_new(tmp_path, iss_text) != AZ_OK || rename(tmp_path, iss_path) != 0) {
        wardenctl_fail("cannot write %s: %s", iss_path, strerror(errno));
        unlink(tmp_path);
        unlink(key_path);
        goto out;
    }
    printf("%s\tthe signing keys of %s (ES256 kid %s, HS256 kid %s): keep them secret\n", key_path, id, kid_ec, kid_hs);
    printf("%s\tthe Authorization Authorities: give it to the server as --authz.issuers=%s\n", iss_path, iss_path);
    ret = AZ_OK;
out:
    if (key_text) {
        explicit_bzero(key_text, strlen(key_text));
        free(key_text);
    }
    if (iss_text) {
        explicit_bzero(iss_text, strlen(iss_text));
        free(iss_text);
    }
    json_decref(keyfile);
    json_decref(entry);
    json_decref(issuers);
    cjose_jwk_release(ec);
    cjose_jwk_release(hs);
    return ret;
}

/* The key of kty in the key file written by authz init, and its issuer. */
static cjose_jwk_t *load_key(const char *path, const char *kty, char *iss, size_t isslen)
{
    char err[512];
    if (fs_check_private(path, "key file", err, sizeof err) != 0) {
        wardenctl_fail("%s", err);
        return NULL;
    }
    json_error_t jerr;
    json_t *f = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    const char *i = json_string_value(json_object_get(f, "iss"));
    if (f == NULL) {
        wardenctl_fail("%s: %s", path, jerr.text);
        return NULL;
    }
    if (i == NULL || !json_is_array(json_object_get(f, "keys"))) {
        json_decref(f);
        wardenctl_fail("%s: not a key file of `wardenctl authz init` ({\"iss\": ID, \"keys\": [JWK...]})", path);
        return NULL;
    }
    snprintf(iss, isslen, "%s", i);
    cjose_jwk_t *key = NULL;
    size_t k;
    json_t *jwk;
    json_array_foreach(json_object_get(f, "keys"), k, jwk)
    {
        if (key != NULL || !json_is_string(json_object_get(jwk, "kty")) ||
            strcmp(json_string_value(json_object_get(jwk, "kty")), kty) != 0)
            continue;
        char *text = json_dumps(jwk, JSON_COMPACT);
        cjose_err cerr;
        key = text ? cjose_jwk_import(text, strlen(text), &cerr) : NULL;
        if (text) {
            explicit_bzero(text, strlen(text));
            free(text);
        }
    }
    json_decref(f);
    if (key == NULL)
        wardenctl_fail("%s holds no usable %s key", path, kty);
    return key;
}

static int token_issue(const struct cse_config *cfg, int argc, char **argv)
{
    const char *keyfile = NULL, *holder = NULL, *aud = cfg->cse_id, *name = NULL, *alg = "ES256";
    const char *ris[MAX_LIST], *rids[MAX_LIST];
    int nris = 0, nrids = 0;
    long lifetime = LIFETIME_DEFAULT, acop = -1;
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i];
        if (i + 1 >= argc)
            return az_usage();
        const char *v = argv[++i];
        char *end = NULL;
        if (strcmp(o, "--key") == 0)
            keyfile = v;
        else if (strcmp(o, "--holder") == 0)
            holder = v;
        else if (strcmp(o, "--aud") == 0)
            aud = v;
        else if (strcmp(o, "--name") == 0)
            name = v;
        else if (strcmp(o, "--alg") == 0)
            alg = v;
        else if (strcmp(o, "--ris") == 0 && nris < MAX_LIST)
            ris[nris++] = v;
        else if (strcmp(o, "--rids") == 0 && nrids < MAX_LIST)
            rids[nrids++] = v;
        else if (strcmp(o, "--lifetime") == 0) {
            lifetime = strtol(v, &end, 10);
            if (*end || lifetime <= 0 || lifetime > LIFETIME_MAX)
                return wardenctl_fail("--lifetime must be 1 to %ld seconds", LIFETIME_MAX);
        } else if (strcmp(o, "--acop") == 0) {
            acop = strtol(v, &end, 10);
            if (*end || acop < 1 || acop > 63)
                return wardenctl_fail("--acop must be 1 to 63 (CREATE 1, RETRIEVE 2, UPDATE 4, DELETE 8, NOTIFY 16, "
                                      "DISCOVERY 32)");
        } else
            return az_usage();
    }
    if (keyfile == NULL || holder == NULL)
        return az_usage();
    if (acop < 0 && nrids == 0)
        return wardenctl_fail("the token would grant nothing: give --acop N with --ris, or --rids");
    if (acop >= 0 && nris == 0) /* TS-0003 §7.3.2.6: a permission's pv applies to the resources in ris */
        return wardenctl_fail("--acop needs --ris (the resources it applies to)");
    bool es = strcmp(alg, "ES256") == 0;
    if (!es && strcmp(alg, "HS256") != 0)
        return wardenctl_fail("--alg must be ES256 or HS256");
    struct id_env env = {.spid = cfg->cse_spid, .cse_id = cfg->cse_id};
    struct id hid, aid;
    if (!id_parse(&env, holder, &hid) || (hid.kind != ID_AE && hid.kind != ID_CSE))
        return wardenctl_fail("--holder '%s' is not an AE-ID or a CSE-ID", holder);
    if (!id_parse(&env, aud, &aid) || aid.kind != ID_CSE)
        return wardenctl_fail("--aud '%s' is not a CSE-ID", aud);

    char iss[512];
    cjose_jwk_t *key = load_key(keyfile, es ? "EC" : "oct", iss, sizeof iss);
    if (key == NULL)
        return AZ_FAIL;
    time_t now = time(NULL);
    unsigned char r[8];
    rand_bytes(r, sizeof r);
    char jti[40];
    snprintf(jti, sizeof jti, "tok-%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
    json_t *pm = json_object();
    if (nris > 0) {
        json_t *l = json_array();
        for (int i = 0; i < nris; i++)
            json_array_append_new(l, json_string(ris[i]));
        json_object_set_new(pm, "ris", l);
    }
    if (acop >= 0)
        json_object_set_new(pm, "pv", json_pack("{s:[{s:[s],s:I}]}", "acr", "acor", holder, "acop", (json_int_t)acop));
    if (nrids > 0) {
        json_t *l = json_array();
        for (int i = 0; i < nrids; i++)
            json_array_append_new(l, json_string(rids[i]));
        json_object_set_new(pm, "rids", l);
    }
    json_t *claims =
        json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:[s],s:{s:[o]}}", "tkvr", "1", "jti", jti, "iss", iss, "azp", holder,
                  "nbf", (json_int_t)now, "exp", (json_int_t)(now + lifetime), "aud", aud, "tkps", "pm", pm);
    if (name != NULL)
        json_object_set_new(claims, "tknm", json_string(name));
    char *text = json_dumps(claims, JSON_COMPACT);
    json_decref(claims);
    int ret = AZ_FAIL;
    cjose_err cerr;
    cjose_header_t *hdr = cjose_header_new(&cerr);
    const char *kid = cjose_jwk_get_kid(key, &cerr);
    cjose_jws_t *jws = NULL;
    const char *ser = NULL;
    if (hdr && text && cjose_header_set(hdr, CJOSE_HDR_ALG, alg, &cerr) && cjose_header_set(hdr, "typ", "JWT", &cerr) &&
        (kid == NULL || cjose_header_set(hdr, CJOSE_HDR_KID, kid, &cerr)))
        jws = cjose_jws_sign(key, hdr, (const uint8_t *)text, strlen(text), &cerr);
    if (jws && cjose_jws_export(jws, &ser, &cerr)) {
        printf("%s\n", ser);
        char until[TS_LEN + 1];
        ts_format((int64_t)(now + lifetime), until);
        fprintf(stderr, "wardenctl: token %s (%s) from %s for %s, audience %s, valid until %s\n", jti, alg, iss, holder,
                aud, until);
        ret = AZ_OK;
    } else {
        wardenctl_fail("cannot sign the token: %s", cerr.message ? cerr.message : "cjose");
    }
    free(text);
    cjose_jws_release(jws);
    cjose_header_release(hdr);
    cjose_jwk_release(key);
    return ret;
}

int wardenctl_authz(const struct cse_config *cfg, int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[0], "authz") == 0 && strcmp(argv[1], "init") == 0)
        return authz_init(cfg, argc, argv);
    if (argc >= 2 && strcmp(argv[0], "token") == 0 && strcmp(argv[1], "issue") == 0)
        return token_issue(cfg, argc, argv);
    return az_usage();
}
