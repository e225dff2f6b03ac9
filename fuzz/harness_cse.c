/* harness_cse: one in-process CSE on a temporary SQLite store for the pipeline fuzzers, with a
 * small tree to work on (AE "fz", container "c" with one instance, timeSeries "t" with one, an ACP, a subscription and
 * a group). The store's directory is removed at exit. */
#include "harness_cse.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cse.h"
#include "http_text.h"
#include "response_check.h"
#include "store/store.h"
#include "util/mem.h"

/* Harness state: one CSE for the whole fuzzing run (this is a test driver, not the server). */
static struct {
    char dir[64];
    char db[128];
    struct cse_config cfg;
    struct log lg;
    struct store *st;
    struct cse cse;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
} h;

static void on_done(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&h.lock);
    h.done = true;
    pthread_cond_signal(&h.cond);
    pthread_mutex_unlock(&h.lock);
}

void harness_run(const char *text)
{
    struct http_text ht;
    http_text_parse(&ht, (const uint8_t *)text, strlen(text));
    struct cse_request req;
    struct http_scratch scratch;
    struct cse_response rsp;
    response_init(&rsp);
    if (http_to_primitive(&ht.raw, &req, &scratch, &rsp) == 0) {
        req.sec.binding = "fuzz";
        /* a loopback peer, as on a dev server: the admin queries ($tree, $audit ...) answer it */
        snprintf(req.sec.peer, sizeof req.sec.peer, "127.0.0.1");
        h.done = false;
        if (cse_dispatch(&h.cse, &req, &rsp, on_done, NULL) == CSE_PENDING) {
            pthread_mutex_lock(&h.lock);
            while (!h.done)
                pthread_cond_wait(&h.cond, &h.lock);
            pthread_mutex_unlock(&h.lock);
            cse_complete(&h.cse, &req, &rsp);
        }
    }
    fuzz_check_response(&rsp); /* every answer of the pipeline is valid JSON and CBOR */
    http_scratch_free(&scratch);
    response_free(&rsp);
    http_text_free(&ht);
}

struct cse *harness_cse(void)
{
    return &h.cse;
}

static void cleanup(void)
{
    if (h.st == NULL)
        return;
    h.st->ops->close(h.st);
    h.st = NULL;
    cse_destroy(&h.cse);
    config_free(&h.cfg);
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char p[160];
        snprintf(p, sizeof p, "%s%s", h.db, suffix[i]);
        unlink(p);
    }
    rmdir(h.dir);
}

void harness_init(void)
{
    static bool done;
    if (done)
        return;
    done = true;

    json_set_alloc_funcs(mem_alloc, mem_free);
    snprintf(h.dir, sizeof h.dir, "/tmp/warden-fuzz-XXXXXX");
    if (mkdtemp(h.dir) == NULL)
        abort();
    snprintf(h.db, sizeof h.db, "%s/fuzz.db", h.dir);
    pthread_mutex_init(&h.lock, NULL);
    pthread_cond_init(&h.cond, NULL);
    config_defaults(&h.cfg);
    log_init(&h.lg, LOG_ERROR, stderr);
    char err[256];
    h.st = store_sqlite_open(h.db, false, 2, err, sizeof err);
    if (h.st == NULL || cse_init(&h.cse, &h.cfg, &h.lg, h.st, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_dispatch: %s\n", err);
        abort();
    }
    atexit(cleanup);
    /* a small tree for inputs to work on */
    harness_run("POST /cse-in\nX-M2M-Origin: Cfz\nX-M2M-RI: s1\nContent-Type: application/json;ty=2\n\n"
                "{\"m2m:ae\":{\"rn\":\"fz\",\"api\":\"Nfz\",\"rr\":false}}");
    harness_run("POST /cse-in/fz\nX-M2M-Origin: Cfz\nX-M2M-RI: s2\nContent-Type: application/json;ty=3\n\n"
                "{\"m2m:cnt\":{\"rn\":\"c\",\"mni\":3,\"mbs\":100}}");
    harness_run("POST /cse-in/fz/c\nX-M2M-Origin: Cfz\nX-M2M-RI: s3\nContent-Type: application/json;ty=4\n\n"
                "{\"m2m:cin\":{\"rn\":\"i\",\"con\":\"x\"}}");
    harness_run("POST /cse-in/fz\nX-M2M-Origin: Cfz\nX-M2M-RI: s4\nContent-Type: application/json;ty=1\n\n"
                "{\"m2m:acp\":{\"rn\":\"p\",\"pv\":{\"acr\":[{\"acor\":[\"all\"],\"acop\":34}]},"
                "\"pvs\":{\"acr\":[{\"acor\":[\"Cfz\"],\"acop\":63}]}}}");
    harness_run("POST /cse-in/fz\nX-M2M-Origin: Cfz\nX-M2M-RI: s5\nContent-Type: application/json;ty=9\n\n"
                "{\"m2m:grp\":{\"rn\":\"g\",\"mnm\":3,\"mid\":[\"cse-in/fz/c\"]}}");
    /* a timeSeries "t" watching for missing data, with one instance */
    harness_run("POST /cse-in/fz\nX-M2M-Origin: Cfz\nX-M2M-RI: s6\nContent-Type: application/json;ty=29\n\n"
                "{\"m2m:ts\":{\"rn\":\"t\",\"mni\":3,\"pei\":1000,\"mdd\":true,\"mdt\":500}}");
    harness_run("POST /cse-in/fz/t\nX-M2M-Origin: Cfz\nX-M2M-RI: s7\nContent-Type: application/json;ty=30\n\n"
                "{\"m2m:tsi\":{\"rn\":\"i\",\"dgt\":\"20300101T000000\",\"con\":\"x\"}}");
}
