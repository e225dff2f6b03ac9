/* warden-esprim-load: throughput of a oneM2M RETRIEVE sent through one CSE to another, plain or
 * ESPrim-protected (TS-0003 §8.4), for bench/esprim.sh. Each of T threads holds one kept-alive HTTP
 * connection (libcurl) and one request in flight.
 *
 *   warden-esprim-load plain  --url URL --origin O --path P [--threads T] [--seconds S]
 *       GET URL+P as O (P is the HTTP path, e.g. /~/id-in/cse-in/ae/cnt/la).
 *   warden-esprim-load esprim --url URL --origin O --path P --from F --kid K --to CSEBASE
 *                             [--enc ENC] [--threads T] [--seconds S]   (the key as hex on stdin)
 *       the same RETRIEVE as the inner primitive of an ESPrim exchange: per thread one sit 3 NOTIFY
 *       for a receiver rand object, then per request one sit 5 NOTIFY to /~CSEBASE, sealed and the
 *       secured answer opened by the client library (e2e/esprim_client.h); From O outside, F inside.
 * Every answer must be 2000 (inside, for esprim), else it stops and exits 1.
 * Output: LOAD_RESULT mode=.. threads=.. requests=.. seconds=.. rps=.. p50_us=.. p99_us=.. */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "e2e/esprim_client.h"
#include "security/cred.h"
#include "util/mem.h"

#define MAX_THREADS 64
#define MAX_SAMPLES 200000

struct cfg {
    bool esprim;
    const char *url, *origin, *path, *from, *kid, *to, *enc;
    unsigned char key[32];
    size_t key_len;
    int threads;
    double seconds;
};

struct worker {
    const struct cfg *c;
    pthread_t th;
    long n;
    long renewals; /* receiver rand objects renewed after a 4114 (the replay cache's turnover) */
    long *lat_us;  /* MAX_SAMPLES / threads */
    long cap;
    int failed;
};

struct body {
    char *p;
    size_t n;
};

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
    struct body *b = ud;
    size_t n = sz * nm;
    b->p = realloc(b->p, b->n + n + 1);
    memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = '\0';
    return n;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
    size_t n = sz * nm;
    if (n > 11 && strncasecmp(p, "X-M2M-RSC:", 10) == 0)
        *(int *)ud = atoi(p + 10);
    return n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static atomic_long next_ri;

/* One exchange; 0 with *rsc and the body (free), or -1. */
static int exchange(CURL *h, const struct cfg *c, const char *path, const char *body, size_t len, int *rsc,
                    struct body *out, long seq)
{
    char url[2048], ri[64], from[300];
    snprintf(url, sizeof url, "%s%s", c->url, path);
    (void)seq; /* unique across threads: a CSE takes a repeated (originator, RI) in flight for a loop */
    snprintf(ri, sizeof ri, "X-M2M-RI: b%ld", atomic_fetch_add(&next_ri, 1));
    snprintf(from, sizeof from, "X-M2M-Origin: %s", c->origin);
    struct curl_slist *hd = NULL;
    hd = curl_slist_append(hd, from);
    hd = curl_slist_append(hd, ri);
    hd = curl_slist_append(hd, "X-M2M-RVI: 3");
    hd = curl_slist_append(hd, "Accept: application/json");
    if (body)
        hd = curl_slist_append(hd, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len);
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    *rsc = 0;
    curl_easy_setopt(h, CURLOPT_HEADERDATA, rsc);
    out->p = NULL;
    out->n = 0;
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    CURLcode cc = curl_easy_perform(h);
    curl_slist_free_all(hd);
    return cc == CURLE_OK ? 0 : -1;
}

/* sit 3 -> sit 4: a receiver rand object and a new session key. 0, or -1 after a message. */
static int renew(CURL *h, const struct cfg *c, struct esprim_client *ec, const char *outer)
{
    const char *rq = esprim_client_rand_request();
    const char *why = "";
    int rsc = 0;
    struct body b = {0};
    int rc = exchange(h, c, outer, rq, strlen(rq), &rsc, &b, 0) == 0 && rsc == 2000 &&
                     esprim_client_receiver(ec, b.p, b.n, (int64_t)time(NULL), &why) == 0
                 ? 0
                 : -1;
    if (rc != 0)
        fprintf(stderr, "esprim-load: no receiver rand object (%d %s)\n", rsc, why);
    free(b.p);
    return rc;
}

static void *run(void *arg)
{
    struct worker *w = arg;
    const struct cfg *c = w->c;
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    struct esprim_client *ec = NULL;
    char outer[512], inner[1024];
    int rsc = 0;
    struct body b = {0};
    if (c->esprim) {
        ec = esprim_client_new(c->kid, c->key, c->key_len, c->enc);
        snprintf(outer, sizeof outer, "/~%s", c->to);
        if (ec == NULL || renew(h, c, ec, outer) != 0) {
            w->failed = 1;
            goto out;
        }
    }
    double end = now_s() + c->seconds;
    for (long seq = 1; now_s() < end; seq++) {
        double t0 = now_s();
        int ok;
        if (c->esprim) {
            snprintf(inner, sizeof inner, "{\"op\":2,\"to\":\"%s\",\"fr\":\"%s\",\"rqi\":\"i%ld\",\"rvi\":\"3\"}",
                     c->path + (strncmp(c->path, "/~/", 3) == 0 ? 2 : 1), c->from, seq);
            size_t sl;
            char *sealed = esprim_client_seal(ec, inner, strlen(inner), &sl);
            ok = sealed && exchange(h, c, outer, sealed, sl, &rsc, &b, seq) == 0 && rsc == 2000;
            mem_free(sealed);
            if (!ok && (rsc == 4114 || rsc == 4113)) { /* the receiver retired the rand object: renew */
                free(b.p);
                b.p = NULL;
                if (renew(h, c, ec, outer) != 0) {
                    w->failed = 1;
                    break;
                }
                w->renewals++;
                continue;
            }
            if (ok) {
                char *in = NULL;
                size_t il = 0;
                ok = esprim_client_open(ec, b.p, b.n, &in, &il) == 0 && strstr(in, "\"rsc\":2000") != NULL;
                mem_free(in);
            }
        } else {
            ok = exchange(h, c, c->path, NULL, 0, &rsc, &b, seq) == 0 && rsc == 2000;
        }
        if (!ok) {
            fprintf(stderr, "esprim-load: request %ld failed (rsc %d): %.300s\n", seq, rsc, b.p ? b.p : "");
            free(b.p);
            w->failed = 1;
            break;
        }
        free(b.p);
        if (w->n < w->cap)
            w->lat_us[w->n] = (long)((now_s() - t0) * 1e6);
        w->n++;
    }
out:
    esprim_client_free(ec);
    curl_easy_cleanup(h);
    return NULL;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    struct cfg c = {.threads = 4, .seconds = 5, .enc = "A256GCM"};
    if (argc < 2)
        goto usage;
    c.esprim = strcmp(argv[1], "esprim") == 0;
    if (!c.esprim && strcmp(argv[1], "plain") != 0)
        goto usage;
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--url") == 0)
            c.url = v;
        else if (strcmp(k, "--origin") == 0)
            c.origin = v;
        else if (strcmp(k, "--path") == 0)
            c.path = v;
        else if (strcmp(k, "--from") == 0)
            c.from = v;
        else if (strcmp(k, "--kid") == 0)
            c.kid = v;
        else if (strcmp(k, "--to") == 0)
            c.to = v;
        else if (strcmp(k, "--enc") == 0)
            c.enc = v;
        else if (strcmp(k, "--threads") == 0)
            c.threads = atoi(v);
        else if (strcmp(k, "--seconds") == 0)
            c.seconds = atof(v);
        else
            goto usage;
    }
    if (c.url == NULL || c.origin == NULL || c.path == NULL || c.threads < 1 || c.threads > MAX_THREADS ||
        (c.esprim && (c.from == NULL || c.kid == NULL || c.to == NULL)))
        goto usage;
    json_set_alloc_funcs(mem_alloc, mem_free);
    if (c.esprim) {
        char text[256];
        size_t n = fread(text, 1, sizeof text - 1, stdin);
        text[n] = '\0';
        long kl = cred_hex_decode(text, c.key, sizeof c.key);
        if (kl != 16 && kl != 24 && kl != 32) {
            fprintf(stderr, "esprim-load: the key (hex on stdin) must be 16, 24 or 32 bytes\n");
            return 2;
        }
        c.key_len = (size_t)kl;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct worker w[MAX_THREADS];
    memset(w, 0, sizeof w);
    double t0 = now_s();
    for (int i = 0; i < c.threads; i++) {
        w[i].c = &c;
        w[i].cap = MAX_SAMPLES / c.threads;
        w[i].lat_us = calloc((size_t)w[i].cap, sizeof(long));
        pthread_create(&w[i].th, NULL, run, &w[i]);
    }
    long total = 0, nlat = 0, renewals = 0;
    int failed = 0;
    long *all = calloc(MAX_SAMPLES, sizeof(long));
    for (int i = 0; i < c.threads; i++) {
        pthread_join(w[i].th, NULL);
        total += w[i].n;
        renewals += w[i].renewals;
        failed |= w[i].failed;
        for (long k = 0; k < w[i].n && k < w[i].cap; k++)
            all[nlat++] = w[i].lat_us[k];
        free(w[i].lat_us);
    }
    double secs = now_s() - t0;
    qsort(all, (size_t)nlat, sizeof(long), cmp_long);
    printf("LOAD_RESULT mode=%s threads=%d requests=%ld seconds=%.2f rps=%.1f p50_us=%ld p99_us=%ld renewals=%ld\n",
           argv[1], c.threads, total, secs, (double)total / secs, nlat ? all[nlat / 2] : 0,
           nlat ? all[(nlat * 99) / 100] : 0, renewals);
    free(all);
    cred_wipe(c.key, sizeof c.key);
    curl_global_cleanup();
    return failed ? 1 : 0;
usage:
    fprintf(stderr, "usage: warden-esprim-load plain|esprim --url URL --origin O --path P [--from F --kid K "
                    "--to CSEBASE --enc ENC] [--threads T] [--seconds S]\n");
    return 2;
}
