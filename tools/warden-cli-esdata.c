/* warden-cli-esdata: warden-cli's ESData options (see warden-cli-esdata.h). The envelope is made
 * and opened by the ESData library (src/e2e/esdata.h); this file maps options to it and the
 * envelope to a contentInstance: con holds the JOSE serialisation, cnf says so with its
 * contentSecurity suffix (TS-0004 §6.3.4.2.38: 1 compact, 2 JSON). */
#include "warden-cli-esdata.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e/esdata.h"

enum { KEY_FILE_MAX = 64 * 1024, CNF_MAX = 256 };

struct cli_esdata {
    enum esdata_alg sign_alg, key_alg;
    enum esdata_enc enc;
    struct esdata_key *sign_key, *enc_key, *verify_key, *decrypt_key;
    const char *sign_kid, *enc_kid;
    uint32_t allow; /* 0: the default allow-list */
    bool json, require_signature;
};

const char cli_esdata_usage[] =
    "ESData (TS-0003 §8.5) on a contentInstance's content; keys are files: a JWK, a PEM key or\n"
    "certificate, or a shared secret in hex (never on the command line):\n"
    "  --sign ALG --sign-key F       create: sign con (HS256/384/512, ES256/384/512, RS*/PS*)\n"
    "  --encrypt ALG --encrypt-key F create: encrypt con (dir, A128KW, A192KW, A256KW; RSA-OAEP,\n"
    "                                outside TS-0003's table, needs --allow to read); both:\n"
    "                                sign then encrypt (the signature must be ES* or RS*/PS*)\n"
    "  --enc ENC                     A128GCM, A192GCM or A256GCM (default: the dir key's size, else\n"
    "                                A256GCM)\n"
    "  --kid ID                      key identifier put in the JOSE headers\n"
    "  --jose-json                   the JWE in JSON serialisation (cnf :2) instead of compact (:1)\n"
    "  --verify-key F                get: verify the signature of con (exit 1 if it does not verify)\n"
    "  --decrypt-key F               get: decrypt con (exit 1 if it does not decrypt)\n"
    "  --allow ALG[,ALG...]          get: the algorithms accepted (default: every TS-0003 one that\n"
    "                                the key fits; none is never accepted)\n"
    "  --require-signature           get: refuse content that is only encrypted\n";

static struct cli_esdata *state(struct cli_esdata **st)
{
    if (*st == NULL && (*st = calloc(1, sizeof **st)) == NULL) {
        fputs("warden-cli: out of memory\n", stderr);
        exit(1);
    }
    return *st;
}

__attribute__((format(printf, 1, 2))) static int usage_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("warden-cli: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return -1;
}

/* A key file into a key (the file's bytes wiped after). */
static int load_key(const char *path, struct esdata_key **out)
{
    if (*out != NULL)
        return usage_err("%s: a key was already given for this use", path);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "warden-cli: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(KEY_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, KEY_FILE_MAX + 1, f) : 0;
    fclose(f);
    enum esdata_err e = n > KEY_FILE_MAX ? ESDATA_E_TOO_LARGE : esdata_key_parse(buf, n, out);
    if (buf) {
        memset(buf, 0, KEY_FILE_MAX + 1);
        free(buf);
    }
    if (e != ESDATA_OK) {
        fprintf(stderr, "warden-cli: %s: %s\n", path, esdata_strerror(e));
        return -1;
    }
    return 1;
}

static int parse_allow(struct cli_esdata *s, const char *list)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        enum esdata_alg a = esdata_alg_from_name(t);
        if (a == 0)
            return usage_err("--allow: '%s' is not an algorithm this client accepts (none never is)", t);
        s->allow |= a;
    }
    return 1;
}

int cli_esdata_option(struct cli_esdata **st, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    static const char *const with_value[] = {"--sign",       "--sign-key",    "--encrypt", "--encrypt-key", "--enc",
                                             "--verify-key", "--decrypt-key", "--allow",   "--kid"};
    bool known = false;
    for (size_t k = 0; k < sizeof with_value / sizeof with_value[0] && !known; k++)
        known = strcmp(a, with_value[k]) == 0;
    if (!known) {
        if (strcmp(a, "--jose-json") == 0)
            state(st)->json = true;
        else if (strcmp(a, "--require-signature") == 0)
            state(st)->require_signature = true;
        else
            return 0;
        return 1;
    }
    if (*i + 1 >= argc)
        return usage_err("%s needs a value", a);
    const char *v = argv[++*i];
    struct cli_esdata *s = state(st);
    if (strcmp(a, "--sign") == 0) {
        if (((s->sign_alg = esdata_alg_from_name(v)) & ESDATA_SIG_ALGS) == 0)
            return usage_err("--sign: '%s' is not a signature algorithm (HS256 ES256 RS256 PS256 ...)", v);
    } else if (strcmp(a, "--encrypt") == 0) {
        if (((s->key_alg = esdata_alg_from_name(v)) & ESDATA_KEY_ALGS) == 0)
            return usage_err("--encrypt: '%s' is not a key management algorithm (dir A128KW A192KW A256KW "
                             "RSA-OAEP; RSA-OAEP-256 and ECDH-ES+A*KW are not in cjose)",
                             v);
    } else if (strcmp(a, "--enc") == 0) {
        if ((s->enc = esdata_enc_from_name(v)) == 0)
            return usage_err("--enc: '%s' is not A128GCM, A192GCM or A256GCM", v);
    } else if (strcmp(a, "--kid") == 0) {
        s->sign_kid = s->enc_kid = v;
    } else if (strcmp(a, "--allow") == 0) {
        return parse_allow(s, v);
    } else {
        struct esdata_key **k = strcmp(a, "--sign-key") == 0      ? &s->sign_key
                                : strcmp(a, "--encrypt-key") == 0 ? &s->enc_key
                                : strcmp(a, "--verify-key") == 0  ? &s->verify_key
                                                                  : &s->decrypt_key;
        return load_key(v, k);
    }
    return 1;
}

/* The cnf to store: the body's media type and encoding (or a default for the content's kind) with
 * the contentSecurity of the serialisation. */
static void make_cnf(const json_t *cin, bool con_is_string, int security, char out[CNF_MAX])
{
    const char *cnf = json_string_value(json_object_get(cin, "cnf"));
    char base[CNF_MAX];
    snprintf(base, sizeof base, "%s", cnf ? cnf : con_is_string ? "text/plain:0" : "application/json:0");
    char *c1 = strchr(base, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (c2)
        *c2 = '\0'; /* a contentSecurity already there is replaced */
    snprintf(out, CNF_MAX, "%.200s:%d", base, security);
}

static bool protecting(const struct cli_esdata *s)
{
    return s && (s->sign_alg || s->key_alg || s->sign_key || s->enc_key);
}

int cli_esdata_protect(struct cli_esdata *s, json_t *body)
{
    if (!protecting(s))
        return 0;
    if ((s->sign_alg != 0) != (s->sign_key != NULL) || (s->key_alg != 0) != (s->enc_key != NULL)) {
        fputs("warden-cli: --sign needs --sign-key and --encrypt needs --encrypt-key (and the reverse)\n", stderr);
        return 2;
    }
    if (s->json && s->key_alg == 0) {
        fputs("warden-cli: --jose-json needs --encrypt: cjose has no JWS JSON serialisation\n", stderr);
        return 2;
    }
    json_t *cin = json_object_get(body, "m2m:cin");
    json_t *con = json_object_get(cin, "con");
    if (con == NULL) {
        fputs("warden-cli: ESData protects a contentInstance's con: create ... cin with a con\n", stderr);
        return 2;
    }
    bool is_str = json_is_string(con);
    char *enc_con = is_str ? NULL : json_dumps(con, JSON_COMPACT | JSON_ENCODE_ANY);
    const char *pt = is_str ? json_string_value(con) : enc_con;
    size_t ptlen = is_str ? json_string_length(con) : (enc_con ? strlen(enc_con) : 0);
    enum esdata_enc enc = s->enc;
    if (enc == 0 && s->key_alg == ESDATA_DIR) { /* the shared key's size decides */
        static const enum esdata_enc by_size[] = {ESDATA_A128GCM, ESDATA_A192GCM, ESDATA_A256GCM};
        for (size_t k = 0; k < 3 && enc == 0; k++) {
            struct esdata_protect probe = {.key_alg = ESDATA_DIR, .enc = by_size[k], .enc_key = s->enc_key};
            char *tmp = NULL;
            if (esdata_protect(&probe, (const unsigned char *)"", 0, &tmp) == ESDATA_OK)
                enc = by_size[k];
            esdata_free(tmp);
        }
    }
    struct esdata_protect p = {.sign_alg = s->sign_alg,
                               .sign_key = s->sign_key,
                               .sign_kid = s->sign_kid,
                               .key_alg = s->key_alg,
                               .enc = enc ? enc : ESDATA_A256GCM,
                               .enc_key = s->enc_key,
                               .enc_kid = s->enc_kid,
                               .json = s->json};
    char *env = NULL;
    enum esdata_err e = pt ? esdata_protect(&p, (const unsigned char *)pt, ptlen, &env) : ESDATA_E_INTERNAL;
    if (enc_con) {
        json_free_t jfree = free;
        json_get_alloc_funcs(NULL, &jfree);
        jfree(enc_con);
    }
    if (e != ESDATA_OK) {
        fprintf(stderr, "warden-cli: cannot protect the content: %s\n", esdata_strerror(e));
        return 1;
    }
    char cnf[CNF_MAX];
    make_cnf(cin, is_str, s->json ? 2 : 1, cnf);
    json_object_set_new(cin, "cnf", json_string(cnf));
    json_object_set_new(cin, "con", json_string(env));
    esdata_free(env);
    return 0;
}

int cli_esdata_opening(const struct cli_esdata *s)
{
    return s && (s->verify_key || s->decrypt_key);
}

/* The contentSecurity suffix of cnf (0 when absent). */
static int cnf_security(const char *cnf)
{
    const char *c1 = cnf ? strchr(cnf, ':') : NULL, *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    return c2 && c2[1] >= '0' && c2[1] <= '9' ? c2[1] - '0' : 0;
}

int cli_esdata_open(struct cli_esdata *s, json_t *resp, int quiet)
{
    json_t *cin = json_object_get(resp, "m2m:cin");
    const char *cnf = json_string_value(json_object_get(cin, "cnf"));
    const json_t *conv = json_object_get(cin, "con");
    const char *con = json_string_value(conv);
    int sec = cnf_security(cnf);
    if (cin == NULL) {
        fputs("warden-cli: --verify-key/--decrypt-key open a contentInstance (m2m:cin): none in the answer\n", stderr);
        return 1;
    }
    if (sec != 1 && sec != 2) {
        fprintf(stderr, "warden-cli: the content is not protected by JOSE ESData (cnf %s): refused\n",
                cnf ? cnf : "absent");
        return 1;
    }
    if (con == NULL) {
        fputs("warden-cli: the content is not a JOSE serialisation (con is not a string)\n", stderr);
        return 1;
    }
    uint32_t algs = s->allow ? s->allow : ESDATA_SIG_ALGS | ESDATA_TS0003_KEY_ALGS;
    struct esdata_policy p = {.algs = algs,
                              .encs = ESDATA_ENCS,
                              .verify_key = s->verify_key,
                              .decrypt_key = s->decrypt_key,
                              .require_signature = s->require_signature};
    struct esdata_opened o;
    enum esdata_err e = esdata_open(con, json_string_length(conv), &p, &o);
    if (e != ESDATA_OK) {
        fprintf(stderr, "warden-cli: ESData refused: %s\n", esdata_strerror(e));
        return 1;
    }
    if (s->verify_key && o.sign_alg == 0) {
        esdata_opened_free(&o);
        fputs("warden-cli: ESData refused: --verify-key given but the content carries no signature\n", stderr);
        return 1;
    }
    json_t *plain = json_stringn((const char *)o.payload, o.len);
    if (plain == NULL) {
        esdata_opened_free(&o);
        fputs("warden-cli: the verified content is not UTF-8 text\n", stderr);
        return 1;
    }
    json_object_set_new(cin, "con", plain);
    if (!quiet) {
        fputs("ESData:", stderr);
        if (o.key_alg)
            fprintf(stderr, " decrypted (%s, %s%s)", esdata_alg_name(o.key_alg), esdata_enc_name(o.enc),
                    o.json ? ", JSON" : "");
        if (o.sign_alg)
            fprintf(stderr, "%s signature verified (%s)", o.key_alg ? "," : "", esdata_alg_name(o.sign_alg));
        fputc('\n', stderr);
    }
    esdata_opened_free(&o);
    return 0;
}

void cli_esdata_free(struct cli_esdata *s)
{
    if (s == NULL)
        return;
    esdata_key_free(s->sign_key);
    esdata_key_free(s->enc_key);
    esdata_key_free(s->verify_key);
    esdata_key_free(s->decrypt_key);
    free(s);
}
