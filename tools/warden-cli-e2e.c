/* warden-cli-e2e: see warden-cli-e2e.h. */
#include "warden-cli-e2e.h"

#include <cjose/cjose.h>
#include <jansson.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/rsc.h"
#include "e2e/esprim_client.h"
#include "security/cred.h"
#include "util/mem.h"

static int err(const char *what)
{
    fprintf(stderr, "warden-cli: esprim: %s\n", what);
    return 1;
}

/* The key file: hex (white space ignored), 16, 24 or 32 bytes; or the JSON file `warden-cli kex`
 * writes after an ESCertKE exchange ({"kid": ..., "key": base64url}), whose kid must then be the
 * one given with --esprim. */
long cli_e2e_load_key(const char *path, const char *kid, unsigned char *key)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL)
        return -1;
    char text[512];
    size_t n = fread(text, 1, sizeof text - 1, f);
    if (f != stdin)
        fclose(f);
    text[n] = '\0';
    long k = -1;
    size_t lead = strspn(text, " \t\r\n");
    if (text[lead] == '{') {
        json_t *o = json_loadb(text, n, 0, NULL);
        const char *fkid = json_string_value(json_object_get(o, "kid"));
        const char *b64 = json_string_value(json_object_get(o, "key"));
        uint8_t *raw = NULL;
        size_t rawlen = 0;
        cjose_err cerr;
        if (fkid != NULL && b64 != NULL && strcmp(fkid, kid) == 0 &&
            cjose_base64url_decode(b64, strlen(b64), &raw, &rawlen, &cerr) && rawlen <= 64) {
            memcpy(key, raw, rawlen);
            k = (long)rawlen;
        }
        if (raw != NULL) {
            cred_wipe(raw, rawlen);
            cjose_get_dealloc()(raw);
        }
        json_decref(o); /* jansson keeps no copy once freed; the text is wiped below */
    } else {
        k = cred_hex_decode(text, key, 64);
    }
    cred_wipe(text, sizeof text);
    return k == 16 || k == 24 || k == 32 ? k : -1;
}

/* warden-cli's path to a oneM2M To: "/~/id-in/x" -> "/id-in/x", "/_/sp/id-in/x" -> "//sp/id-in/x",
 * "cse-in/x" or "/cse-in/x" -> "cse-in/x"; the query is dropped except rcn. */
static void to_id(const char *target, char *out, size_t n, int *rcn)
{
    const char *p = target;
    if (strncmp(p, "/~/", 3) == 0)
        snprintf(out, n, "/%s", p + 3);
    else if (strncmp(p, "/_/", 3) == 0)
        snprintf(out, n, "//%s", p + 3);
    else
        snprintf(out, n, "%s", p[0] == '/' ? p + 1 : p);
    char *q = strchr(out, '?');
    if (q) {
        char *r = strstr(q, "rcn=");
        if (r)
            *rcn = atoi(r + 4);
        *q = '\0';
    }
}

int cli_e2e_request(const struct cli_e2e *e, const char *origin, const char *rvi, const char *method,
                    const char *target, int ty, const unsigned char *body, size_t blen, cli_post_fn post, void *ctx,
                    int *rsc, char **rbody, size_t *rlen)
{
    if (e->key_file == NULL || e->to == NULL)
        return fprintf(stderr, "warden-cli: --esprim needs --esprim-key-file and --esprim-to\n"), 2;
    struct esprim_client *ec = e->session ? *e->session : NULL;
    if (ec == NULL) {
        unsigned char key[64];
        long klen = cli_e2e_load_key(e->key_file, e->kid, key);
        if (klen < 0)
            return err(
                "the key file must hold 16, 24 or 32 bytes as hex, or be the file of `warden-cli kex` for this kid");
        ec = esprim_client_new(e->kid, key, (size_t)klen, e->enc);
        cred_wipe(key, sizeof key);
        if (ec == NULL)
            return err("bad --esprim kid or --esprim-enc (A128GCM, A192GCM, A256GCM)");
        if (e->session)
            *e->session = ec;
    }
    char outer[1024];
    snprintf(outer, sizeof outer, "/~%s%s", e->to[0] == '/' ? "" : "/", e->to);
    int ret = 1, orsc = 0;
    char *ob = NULL, *sealed = NULL, *inner = NULL, *prim = NULL;
    size_t olen = 0, slen = 0, ilen = 0;
    /* C.2: the inner request primitive (TS-0004 §8 JSON, short names) */
    int op = strcmp(method, "POST") == 0 ? 1 : strcmp(method, "PUT") == 0 ? 3 : strcmp(method, "DELETE") == 0 ? 4 : 2;
    char to[4096], ri[40];
    int rcn = -1;
    to_id(target, to, sizeof to, &rcn);
    unsigned char r[8];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        goto out;
    snprintf(ri, sizeof ri, "esp-%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
    json_t *p =
        json_pack("{s:i,s:s,s:s,s:s,s:s}", "op", op, "to", to, "fr", e->from ? e->from : origin, "rqi", ri, "rvi", rvi);
    if (ty)
        json_object_set_new(p, "ty", json_integer(ty));
    if (rcn >= 0)
        json_object_set_new(p, "rcn", json_integer(rcn));
    if (e->rqet)
        json_object_set_new(p, "rqet", json_string(e->rqet));
    if (e->rset)
        json_object_set_new(p, "rset", json_string(e->rset));
    if (e->ec)
        json_object_set_new(p, "ec", json_integer(atoi(e->ec)));
    if (body && blen) {
        json_t *pc = json_loadb((const char *)body, blen, 0, NULL);
        if (pc == NULL) {
            json_decref(p);
            ret = err("the body must be JSON (no --cbor with --esprim)");
            goto out;
        }
        json_object_set_new(p, "pc", pc);
    }
    prim = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    struct esprim_outer outer_params;
    if (prim == NULL || esprim_client_outer(prim, strlen(prim), &outer_params) != 0)
        goto out;
    /* a receiver may retire its rand objects at any time (4114, 4113): then once more with a new one */
    for (int attempt = 0; attempt < 2; attempt++) {
        /* B.2a-c: the shared rand object from the receiver's esi where the client was told to find
         * it (first attempt only); else B.2d-f: one of its own (sit 3 -> sit 4) */
        const char *why = NULL;
        bool shared = false;
        /* B.2 only when this run holds no live session (TS-0003 §8.4.2 NOTE 2) */
        if (esprim_client_ready(ec, (int64_t)time(NULL)))
            shared = true;
        else if (attempt == 0 && e->esro_path != NULL) {
            char path[2048];
            snprintf(path, sizeof path, "/%s", e->esro_path[0] == '/' ? e->esro_path + 1 : e->esro_path);
            MEM_FREE(ob);
            if ((ret = post(ctx, path, NULL, NULL, 0, &orsc, &ob, &olen)) != 0)
                goto out;
            shared = orsc == 2000 && esprim_client_receiver(ec, ob, olen, (int64_t)time(NULL), &why) == 0;
            if (!shared)
                fprintf(stderr, "warden-cli: esprim: no usable esro at %s (%d%s%s): asking for a rand object\n",
                        e->esro_path, orsc, why ? ": " : "", why ? why : "");
        }
        if (!shared) {
            const char *rq = esprim_client_rand_request();
            MEM_FREE(ob);
            if ((ret = post(ctx, outer, NULL, rq, strlen(rq), &orsc, &ob, &olen)) != 0)
                goto out;
            ret = 1;
            if (orsc != 2000 || esprim_client_receiver(ec, ob, olen, (int64_t)time(NULL), &why) != 0) {
                fprintf(stderr, "warden-cli: esprim: no receiver rand object (%d%s%s)\n", orsc, why ? ": " : "",
                        why ? why : "");
                *rsc = orsc;
                goto out;
            }
        }
        MEM_FREE(sealed);
        sealed = prim ? esprim_client_seal(ec, prim, strlen(prim), &slen) : NULL;
        if (sealed == NULL) {
            ret = err("cannot secure the request");
            goto out;
        }
        MEM_FREE(ob);
        if ((ret = post(ctx, outer, &outer_params, sealed, slen, &orsc, &ob, &olen)) != 0)
            goto out;
        if (orsc != RSC_ESPRIM_UNKNOWN_RECV_RAND_ID && orsc != RSC_ESPRIM_UNKNOWN_ORIG_RAND_ID)
            break;
        esprim_client_refused(ec, orsc);
    }
    ret = 0;
    if (orsc != 2000) { /* refused in the clear (TS-0004 Table 7.6.2-1) */
        *rsc = orsc;
        *rbody = ob;
        *rlen = olen;
        ob = NULL;
        goto out;
    }
    int orc = esprim_client_open(ec, ob, olen, &inner, &ilen);
    if (orc != 0) {
        fprintf(stderr, "warden-cli: esprim: the secured response does not verify (%d)\n", orc);
        ret = 1;
        goto out;
    }
    json_t *resp = json_loadb(inner, ilen, 0, NULL);
    *rsc = (int)json_integer_value(json_object_get(resp, "rsc"));
    json_t *pc = json_object_get(resp, "pc");
    *rbody = pc ? json_dumps(pc, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    *rlen = *rbody ? strlen(*rbody) : 0;
    json_decref(resp);
out:
    mem_free(ob);
    mem_free(sealed);
    mem_free(prim);
    if (inner) {
        memset(inner, 0, ilen);
        mem_free(inner);
    }
    if (e->session == NULL)
        esprim_client_free(ec);
    return ret;
}
