/* warden-das: a reference Dynamic Authorization Server (TS-0003 §7.3) driven by a policy file, so
 * the dynamic authorization flows run locally and in the tests. It answers NOTIFY requests (HTTP
 * POST) carrying {"m2m:seci": {"sit": 1, "dreq": {...}}} with {"m2m:seci": {"sit": 2, "dres": ...}}:
 * granted privileges (dai: gp, pl) or a token signed with its key (tkns), as the first matching rule
 * says; a request no rule matches gets an empty dres (nothing granted). The same answer serves the
 * direct flow (the CSE asks) and the indirect one (the originator posts the dreq it found in tqf).
 *
 *   warden-das --port N --policy FILE
 *   FILE: {"id": "CDas", "cse": "//warden.example.com/id-in", "alg": "ES256", "key": {private JWK},
 *          "delay_ms": 0,
 *   or, instead of "key", "key_file": a key file of `wardenctl authz init` (its EC key for ES256, its
 *          oct key for HS256; its "iss" is the id when "id" is absent); see das.example.json
 *          "rules": [{"or": "//warden.example.com/id-in/Cuser", "trid": "<resourceID>" or "*",
 *                     "op": [2], "grant": "privileges" | "token", "lifetime": 60}]}
 *
 * GET on any path answers {"consultations": N}: how many dreq it has answered so far, counted
 * before each answer is sent, so a test that has its response can read an exact figure.
 *
 * A reference, not a product: it does not authenticate who asks (run it on loopback). */
#include <cjose/cjose.h>
#include <jansson.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_BODY (64 * 1024)

struct das {
    json_t *policy;
    cjose_jwk_t *key;
    const char *alg;
    atomic_ulong seq;           /* jti serial; one thread per connection, so atomic */
    atomic_ulong consultations; /* dreq answered, read by GET */
};

struct req {
    char *body;
    size_t len;
    bool too_big;
};

static const json_t *match(const struct das *d, const json_t *dreq)
{
    const char * or = json_string_value(json_object_get(dreq, "or"));
    const char *trid = json_string_value(json_object_get(dreq, "trid"));
    json_int_t op = json_integer_value(json_object_get(dreq, "op"));
    size_t i;
    const json_t *r;
    json_array_foreach(json_object_get(d->policy, "rules"), i, r)
    {
        const char *ror = json_string_value(json_object_get(r, "or"));
        const char *rtrid = json_string_value(json_object_get(r, "trid"));
        if (! or || !trid || !ror || !rtrid || strcmp(or, ror) != 0 || (strcmp(rtrid, "*") != 0 && strcmp(rtrid, trid)))
            continue;
        size_t k;
        const json_t *o;
        json_array_foreach(json_object_get(r, "op"), k, o)
        {
            if (json_integer_value(o) == op)
                return r;
        }
    }
    return NULL;
}

static int acop_of(json_int_t op)
{
    static const int bits[] = {0, 1, 2, 4, 8, 16};
    return op >= 1 && op <= 5 ? bits[op] : 0;
}

static char *sign_token(struct das *d, const json_t *dreq, const json_t *rule)
{
    time_t now = time(NULL);
    json_int_t life = json_integer_value(json_object_get(rule, "lifetime"));
    const char * or = json_string_value(json_object_get(dreq, "or"));
    const char *trid = json_string_value(json_object_get(dreq, "trid"));
    char jti[64];
    snprintf(jti, sizeof jti, "das-%ld-%lu", (long)now, atomic_fetch_add(&d->seq, 1) + 1);
    json_t *acr =
        json_pack("{s:[s],s:i}", "acor", or, "acop", acop_of(json_integer_value(json_object_get(dreq, "op"))));
    json_t *claims = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:[O],s:{s:[{s:[s],s:{s:[o]}}]}}", "tkvr", "1", "jti", jti,
                               "iss", json_string_value(json_object_get(d->policy, "id")), "azp", or, "nbf",
                               (json_int_t)now - 5, "exp", (json_int_t)now + (life > 0 ? life : 60), "aud",
                               json_object_get(d->policy, "cse"), "tkps", "pm", "ris", trid, "pv", "acr", acr);
    char *text = json_dumps(claims, JSON_COMPACT);
    json_decref(claims);
    cjose_err err;
    cjose_header_t *hdr = cjose_header_new(&err);
    cjose_header_set(hdr, CJOSE_HDR_ALG, d->alg, &err);
    cjose_header_set(hdr, "typ", "JWT", &err);
    cjose_jws_t *jws = cjose_jws_sign(d->key, hdr, (const uint8_t *)text, strlen(text), &err);
    free(text);
    const char *ser = NULL;
    char *out = NULL;
    if (jws && cjose_jws_export(jws, &ser, &err))
        out = strdup(ser);
    cjose_jws_release(jws);
    cjose_header_release(hdr);
    return out;
}

static char *answer(struct das *d, const char *body, size_t len)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    const json_t *seci = json_object_get(root, "m2m:seci");
    const json_t *dreq = json_object_get(seci, "dreq");
    if (!json_is_object(dreq) || json_integer_value(json_object_get(seci, "sit")) != 1) {
        json_decref(root);
        return NULL;
    }
    json_int_t delay = json_integer_value(json_object_get(d->policy, "delay_ms"));
    if (delay > 0)
        usleep((useconds_t)delay * 1000);
    const json_t *rule = match(d, dreq);
    json_t *dres = json_object();
    if (rule != NULL) {
        const char *grant = json_string_value(json_object_get(rule, "grant"));
        json_int_t life = json_integer_value(json_object_get(rule, "lifetime"));
        if (grant && strcmp(grant, "token") == 0) {
            char *tok = sign_token(d, dreq, rule);
            if (tok)
                json_object_set_new(dres, "tkns", json_pack("[s]", tok));
            free(tok);
        } else {
            int acop = acop_of(json_integer_value(json_object_get(dreq, "op")));
            json_object_set_new(dres, "dai",
                                json_pack("{s:{s:[{s:[O],s:i}]},s:I}", "gp", "acr", "acor", json_object_get(dreq, "or"),
                                          "acop", acop, "pl", (json_int_t)(life > 0 ? life : 60) * 1000));
        }
    }
    json_t *resp = json_pack("{s:{s:i,s:o}}", "m2m:seci", "sit", 2, "dres", dres);
    char *s = json_dumps(resp, JSON_COMPACT);
    json_decref(resp);
    /* logged while dreq (part of root) is alive: it is freed with root just below */
    fprintf(stderr, "warden-das: %s -> %s\n", json_string_value(json_object_get(dreq, "or")) ?: "?",
            rule ? "granted" : "nothing");
    json_decref(root);
    atomic_fetch_add(&d->consultations, 1);
    return s;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)url;
    (void)version;
    struct das *d = cls;
    struct req *r = *con_cls;
    if (r == NULL) {
        *con_cls = calloc(1, sizeof *r);
        return *con_cls ? MHD_YES : MHD_NO;
    }
    if (*upload_size) {
        if (r->len + *upload_size > MAX_BODY) {
            r->too_big = true;
        } else {
            char *nb = realloc(r->body, r->len + *upload_size);
            if (nb == NULL)
                return MHD_NO;
            memcpy(nb + r->len, upload, *upload_size);
            r->body = nb;
            r->len += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    char *out = NULL;
    if (strcmp(method, "GET") == 0) {
        if (asprintf(&out, "{\"consultations\":%lu}", atomic_load(&d->consultations)) < 0)
            out = NULL;
    } else if (strcmp(method, "POST") == 0 && !r->too_big) {
        out = answer(d, r->body ? r->body : "", r->len);
    }
    struct MHD_Response *rsp = out ? MHD_create_response_from_buffer(strlen(out), out, MHD_RESPMEM_MUST_FREE)
                                   : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(rsp, "X-M2M-RSC", out ? "2000" : "4000");
    const char *rqi = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-M2M-RI");
    if (rqi)
        MHD_add_response_header(rsp, "X-M2M-RI", rqi);
    if (out)
        MHD_add_response_header(rsp, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, out ? 200 : 400, rsp);
    MHD_destroy_response(rsp);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct req *r = *con_cls;
    if (r) {
        free(r->body);
        free(r);
    }
}

int main(int argc, char **argv)
{
    int port = 0;
    const char *policy = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: warden-das --port N --policy FILE\n"
                   "A reference Dynamic Authorization Server on 127.0.0.1 port N; FILE is its JSON policy\n"
                   "(id, cse, alg, key as a JWK, grants). See warden-das(8).\n");
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("warden-das %s\n", WARDEN_VERSION);
            return 0;
        }
    }
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0)
            port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--policy") == 0)
            policy = argv[i + 1];
    }
    if (port <= 0 || port > 65535 || policy == NULL) {
        fprintf(stderr, "usage: warden-das --port N --policy FILE\n");
        return 2;
    }
    struct das d = {0};
    json_error_t jerr;
    d.policy = json_load_file(policy, JSON_REJECT_DUPLICATES, &jerr);
    /* the key inline ("key": JWK) or in a key file of `wardenctl authz init` ("key_file": PATH, relative
     * to the current directory; its "iss" is the DAS's id unless "id" says otherwise) */
    json_t *keyfile = NULL;
    const char *kpath = d.policy ? json_string_value(json_object_get(d.policy, "key_file")) : NULL;
    const json_t *jwk = d.policy ? json_object_get(d.policy, "key") : NULL;
    if (kpath != NULL) {
        keyfile = json_load_file(kpath, JSON_REJECT_DUPLICATES, &jerr);
        const char *alg = json_string_value(json_object_get(d.policy, "alg"));
        const char *kty = alg && alg[0] == 'H' ? "oct" : "EC";
        size_t k;
        json_t *cand;
        jwk = NULL;
        json_array_foreach(json_object_get(keyfile, "keys"), k, cand)
        {
            const char *t = json_string_value(json_object_get(cand, "kty"));
            if (jwk == NULL && t && strcmp(t, kty) == 0)
                jwk = cand;
        }
        if (jwk == NULL)
            fprintf(stderr, "warden-das: %s: no %s key (a key file of `wardenctl authz init`)\n", kpath, kty);
        if (json_object_get(d.policy, "id") == NULL && json_is_string(json_object_get(keyfile, "iss")))
            json_object_set(d.policy, "id", json_object_get(keyfile, "iss"));
    }
    char *keytext = jwk ? json_dumps(jwk, JSON_COMPACT) : NULL;
    cjose_err cerr;
    d.key = keytext ? cjose_jwk_import(keytext, strlen(keytext), &cerr) : NULL;
    free(keytext);
    json_decref(keyfile);
    d.alg = d.policy ? json_string_value(json_object_get(d.policy, "alg")) : NULL;
    if (d.key == NULL || d.alg == NULL || !json_is_string(json_object_get(d.policy, "id")) ||
        !json_is_string(json_object_get(d.policy, "cse"))) {
        fprintf(stderr, "warden-das: %s: needs id, cse, alg and a usable key (JWK, or key_file)\n", policy);
        return 2;
    }
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
                                              (uint16_t)port, NULL, NULL, handle, &d, MHD_OPTION_SOCK_ADDR, &sa,
                                              MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    if (mhd == NULL) {
        fprintf(stderr, "warden-das: cannot listen on port %d\n", port);
        return 1;
    }
    fprintf(stderr, "warden-das: ready on port %d\n", port);
    int sig;
    sigwait(&sigs, &sig);
    MHD_stop_daemon(mhd);
    cjose_jwk_release(d.key);
    json_decref(d.policy);
    return 0;
}
