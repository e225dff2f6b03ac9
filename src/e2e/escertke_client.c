/* escertke_client: the ESCertKE Initiating End-Point over a NOTIFY transport (see escertke_client.h). */
#include "e2e/escertke_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/rsc.h"
#include "e2e/escertke_msg.h"
#include "security/cred.h"
#include "util/mem.h"

/* One NOTIFY carrying msg; the terminator's ESCertKE Message from its response into *reply. */
static int exchange(escertke_send_fn send, void *arg, const unsigned char *msg, size_t len, unsigned char **reply,
                    size_t *rlen, char *err, size_t errlen)
{
    size_t blen = 0;
    char *body = escertke_seci_encode(msg, len, &blen);
    int rsc = 0;
    char *rbody = NULL;
    size_t rblen = 0;
    int rc = send(arg, body, blen, &rsc, &rbody, &rblen, err, errlen);
    mem_free(body);
    if (rc != 0) {
        mem_free(rbody);
        return -1;
    }
    if (rsc != RSC_OK) {
        /* the terminator's refusal: its status and, when it sent one, its debugging message */
        json_t *j = rbody ? json_loadb(rbody, rblen, 0, NULL) : NULL;
        const char *dbg = json_string_value(json_object_get(j, "m2m:dbg"));
        snprintf(err, errlen, "the terminator answered %d%s%.160s", rsc, dbg ? ": " : "", dbg ? dbg : "");
        json_decref(j);
        mem_free(rbody);
        return -1;
    }
    char derr[160] = "";
    int d = escertke_seci_decode(rbody, rblen, reply, rlen, derr, sizeof derr);
    mem_free(rbody);
    if (d != 1) {
        snprintf(err, errlen, "the terminator's answer is not an ESCertKE Message (m2m:seci sit 6)%s%s",
                 derr[0] ? ": " : "", derr);
        return -1;
    }
    return 0;
}

int escertke_client_run(const struct escertke_initiator_cfg *cfg, escertke_send_fn send, void *arg,
                        struct escertke_client_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct escertke *k = escertke_new_initiator(cfg, err, errlen);
    if (k == NULL)
        return -1;
    const unsigned char *msg;
    size_t len;
    unsigned char *reply = NULL;
    size_t rlen = 0;
    int ret = -1;
    /* TS-0004 §7.5.1.2.12: Message 1 in a NOTIFY, Message 2 in its response; Message 3, Message 4 */
    enum escertke_rc rc = escertke_step(k, NULL, 0, &msg, &len);
    for (int round = 0; round < 2 && rc == ESCERTKE_CONTINUE; round++) {
        if (exchange(send, arg, msg, len, &reply, &rlen, err, errlen) != 0)
            goto done;
        rc = escertke_step(k, reply, rlen, &msg, &len);
        mem_free(reply);
        reply = NULL;
    }
    if (rc != ESCERTKE_DONE) {
        if (rc == ESCERTKE_FAIL)
            snprintf(err, errlen, "ESCertKE: %s", escertke_error(k));
        else
            snprintf(err, errlen, "ESCertKE: the terminator ended the exchange early");
        goto done;
    }
    escertke_result(k, out->key, out->kid);
    const char *const *ids;
    if (escertke_peer_ids(k, &ids) > 0)
        snprintf(out->peer, sizeof out->peer, "%s", ids[0]);
    ret = 0;
done:
    mem_free(reply);
    escertke_free(k);
    return ret;
}

int escertke_client_write_key(const char *path, const struct escertke_client_result *r, char *err, size_t errlen)
{
    char key[ESCERTKE_KEY_LEN * 4 / 3 + 4];
    escertke_b64url_encode(r->key, sizeof r->key, key);
    char text[sizeof key + sizeof r->kid + 32];
    int n = snprintf(text, sizeof text, "{\"kid\":\"%s\",\"key\":\"%s\"}\n", r->kid, key);
    cred_wipe(key, sizeof key);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    int ret = -1;
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
    } else if (fchmod(fd, 0600) != 0 || write(fd, text, (size_t)n) != n || fsync(fd) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
    } else {
        ret = 0;
    }
    if (fd >= 0 && close(fd) != 0 && ret == 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        ret = -1;
    }
    cred_wipe(text, sizeof text);
    return ret;
}

/* ---- the HTTP(S) transport ---- */

struct body {
    char *p;
    size_t n;
    bool too_big;
};

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
    struct body *b = ud;
    size_t n = sz * nm;
    if (b->n + n > 4 * LIMIT_ESCERTKE_MSG) { /* an ESCertKE Message, base64, in JSON */
        b->too_big = true;
        return 0;
    }
    b->p = mem_realloc(b->p, b->n + n + 1);
    memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = '\0';
    return n;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
    int *rsc = ud;
    size_t n = sz * nm;
    if (n > 10 && strncasecmp(p, "X-M2M-RSC:", 10) == 0)
        *rsc = atoi(p + 10);
    return n;
}

int escertke_http_send(void *arg, const char *body, size_t len, int *rsc, char **rbody, size_t *rlen, char *err,
                       size_t errlen)
{
    const struct escertke_http *o = arg;
    CURL *c = curl_easy_init();
    if (c == NULL) {
        snprintf(err, errlen, "cannot initialise libcurl");
        return -1;
    }
    char url[2048], h_from[300], h_ri[64];
    snprintf(url, sizeof url, "%s/%s%s", o->url, strncmp(o->to, "//", 2) == 0 ? "_" : "~", o->to);
    unsigned char r[8] = {0};
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        memset(r, 0x5a, sizeof r);
    snprintf(h_ri, sizeof h_ri, "kex-%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
    snprintf(h_from, sizeof h_from, "X-M2M-Origin: %s", o->origin);
    char ri_line[80];
    snprintf(ri_line, sizeof ri_line, "X-M2M-RI: %s", h_ri);
    struct curl_slist *hl = NULL;
    hl = curl_slist_append(hl, h_from);
    hl = curl_slist_append(hl, ri_line);
    hl = curl_slist_append(hl, "X-M2M-RVI: 3");
    hl = curl_slist_append(hl, "Content-Type: application/json"); /* no ty: a NOTIFY (TS-0009 §6.4.7) */
    hl = curl_slist_append(hl, "Accept: application/json");
    hl = curl_slist_append(hl, "Expect:");
    struct body b = {NULL, 0, false};
    *rsc = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, o->timeout);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, rsc);
    if (strncmp(o->url, "https:", 6) == 0) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, o->cert);
        curl_easy_setopt(c, CURLOPT_SSLKEY, o->key);
        curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert);
    }
    if (o->verbose)
        fprintf(stderr, "> POST %s\n> %s\n> %s\n", url, h_from, ri_line);
    CURLcode cc = curl_easy_perform(c);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    if (cc != CURLE_OK || b.too_big) {
        snprintf(err, errlen, "%s: %s", url, b.too_big ? "answer too large" : curl_easy_strerror(cc));
        mem_free(b.p);
        return -1;
    }
    if (o->verbose)
        fprintf(stderr, "< X-M2M-RSC: %d\n", *rsc);
    *rbody = b.p;
    *rlen = b.n;
    return 0;
}
