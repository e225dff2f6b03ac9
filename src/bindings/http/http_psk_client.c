/* http_psk_client: the HTTPS client side over TLS-PSK (TS-0003 §8.2.2.1 provisioned symmetric keys
 * between CSEs), for the requests whose peer CSE has a PSK bound to its CSE-ID in this CSE's
 * credential store (`wardenctl psk add KPSAID /id-in`). libcurl (the certificate client side) has
 * no TLS-PSK, so this one speaks HTTP/1.1 itself over GnuTLS: a small pool of worker threads takes
 * requests from a bounded queue, each one connection (Connection: close) with a deadline over
 * connect, handshake, write and read. The requests themselves stay parked: only these client
 * threads wait on the network. Every address connected to passes the outbound policy.
 *
 * No connection is reused (issue 14, "the first forwarded request after the registrar restarted"):
 * each request gets a new TCP connection and a full handshake with the key as it is now, so a
 * request is never written on a connection the peer closed while it was idle (a restarted or
 * stopped registrar), and nothing needs to be retried. A retry would need proof that the peer never
 * read the request, which a reset connection gives for the bytes in flight only; a CREATE or a
 * NOTIFY sent twice is not harmless. The cost is one PSK handshake per forwarded request (no
 * certificate work: two round trips on the CSEs' link). */
#include "bindings/http/http_psk_client.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bindings/http/http_client.h"
#include "bindings/http/http_response.h"
#include "core/limits.h"
#include "core/rsc.h"
#include "security/cred.h"
#include "security/tlsauth.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/timeutil.h"

#define PSK_THREADS 2 /* connections in progress at once; more wait in the queue */

struct pjob {
    struct pjob *next;
    char *host, *port, *target; /* from the URI: host (no brackets), port, path?query */
    char kpsa_id[CRED_KPSAID_MAX + 1];
    char *head; /* the request head, without the Host line */
    char *body;
    size_t len;
    long timeout_ms;
    size_t max_answer;
    out_done_fn done;
    void *arg;
};

/* Which key (if any) is bound to a peer CSE: looked up once per credential generation, not per
 * request (the credential store is a database; a forwarded request must not scan it). */
#define PEER_CACHE 16
struct peer_key {
    char canon[LIMIT_NAME_LEN + 64];
    char kpsa_id[CRED_KPSAID_MAX + 1];
    bool found;
    uint64_t gen;
};

struct http_psk_client {
    struct outbound *ob;
    pthread_mutex_t cache_lock;
    struct peer_key cache[PEER_CACHE];
    unsigned cache_next;
    struct cred_store *creds; /* not owned */
    struct log *log;
    size_t queue_max;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct pjob *head, *tail;
    size_t queued;
    bool stopping;
    pthread_t threads[PSK_THREADS];
    int nthreads;
};

static void pjob_free(struct pjob *j)
{
    mem_free(j->host);
    mem_free(j->port);
    mem_free(j->target);
    mem_free(j->head);
    mem_free(j->body);
    mem_free(j);
}

/* ---- finding the key for a peer ---- */

struct find {
    const char *canon;
    char *kpsa_id;
    bool found;
};

static void find_one(void *arg, const struct cred_psk_info *info)
{
    struct find *f = arg;
    if (f->found || info->revoked)
        return;
    size_t n = strlen(f->canon);
    for (const char *p = info->binding; *p;) {
        size_t l = strcspn(p, ",");
        if (l == n && strncmp(p, f->canon, n) == 0) {
            snprintf(f->kpsa_id, CRED_KPSAID_MAX + 1, "%s", info->kpsa_id);
            f->found = true;
            return;
        }
        p += l + (p[l] == ',');
    }
}

bool http_psk_for(struct http_psk_client *pc, const char *peer_canon, char kpsa_id[CRED_KPSAID_MAX + 1])
{
    if (pc == NULL || pc->creds == NULL || peer_canon == NULL)
        return false;
    uint64_t gen = cred_generation(pc->creds);
    pthread_mutex_lock(&pc->cache_lock);
    for (unsigned i = 0; i < PEER_CACHE; i++) {
        struct peer_key *k = &pc->cache[i];
        if (k->gen == gen && k->canon[0] != '\0' && strcmp(k->canon, peer_canon) == 0) {
            bool found = k->found;
            if (found)
                memcpy(kpsa_id, k->kpsa_id, CRED_KPSAID_MAX + 1);
            pthread_mutex_unlock(&pc->cache_lock);
            return found;
        }
    }
    pthread_mutex_unlock(&pc->cache_lock);
    struct find f = {.canon = peer_canon, .kpsa_id = kpsa_id};
    cred_psk_list(pc->creds, find_one, &f);
    if (strlen(peer_canon) < sizeof pc->cache[0].canon) {
        pthread_mutex_lock(&pc->cache_lock);
        struct peer_key *k = &pc->cache[pc->cache_next++ % PEER_CACHE];
        snprintf(k->canon, sizeof k->canon, "%s", peer_canon);
        if (f.found)
            memcpy(k->kpsa_id, kpsa_id, CRED_KPSAID_MAX + 1);
        k->found = f.found;
        k->gen = gen; /* the generation read before the lookup: a change meanwhile looks again */
        pthread_mutex_unlock(&pc->cache_lock);
    }
    return f.found;
}

/* ---- one exchange ---- */

static int64_t left_ms(int64_t deadline)
{
    int64_t l = deadline - clock_mono_us() / 1000;
    return l > 0 ? l : 0;
}

/* Connect to the first address of host:port the outbound policy allows, by deadline. -1 with *refused
 * set when every address was refused. */
static int connect_to(struct http_psk_client *pc, const char *host, const char *port, int64_t deadline, bool *refused)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    *refused = false;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return -1;
    int fd = -1, passed = 0, denied = 0;
    for (struct addrinfo *a = res; a != NULL && fd < 0; a = a->ai_next) {
        unsigned char v6[16] = {0};
        if (a->ai_family == AF_INET) {
            v6[10] = v6[11] = 0xff;
            memcpy(v6 + 12, &((struct sockaddr_in *)(void *)a->ai_addr)->sin_addr, 4);
        } else if (a->ai_family == AF_INET6) {
            memcpy(v6, &((struct sockaddr_in6 *)(void *)a->ai_addr)->sin6_addr, 16);
        } else {
            continue;
        }
        if (outbound_addr_refused(pc->ob, v6)) {
            denied++;
            continue;
        }
        passed++;
        int s = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (s < 0)
            continue;
        if (connect(s, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
            close(s);
            continue;
        }
        struct pollfd p = {.fd = s, .events = POLLOUT};
        int err = 0;
        socklen_t el = sizeof err;
        if (poll(&p, 1, (int)left_ms(deadline)) != 1 || getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el) != 0 ||
            err != 0) {
            close(s);
            continue;
        }
        fd = s;
    }
    freeaddrinfo(res);
    *refused = fd < 0 && denied > 0 && passed == 0;
    return fd;
}

/* Read until the head is complete and the body is (Content-Length, or until close). */
static void exchange(struct http_psk_client *pc, struct pjob *j)
{
    struct out_response res = {.rsc = RSC_TARGET_NOT_REACHABLE, .attempts = 1};
    int64_t deadline = clock_mono_us() / 1000 + j->timeout_ms;
    unsigned char key[CRED_KEY_MAX];
    size_t key_len = 0;
    gnutls_session_t s = NULL;
    gnutls_psk_client_credentials_t cred = NULL;
    struct buf in;
    buf_init(&in);
    bool refused = false;
    int fd = -1;
    if (cred_psk_key(pc->creds, j->kpsa_id, key, &key_len) != CRED_OK) {
        LOG(pc->log, LOG_WARN, "psk client: the key %s is gone (revoked?)", j->kpsa_id);
        goto out;
    }
    fd = connect_to(pc, j->host, j->port, deadline, &refused);
    if (fd < 0) {
        if (refused)
            LOG(pc->log, LOG_WARN, "psk client: outbound policy refused every address of %s", j->host);
        goto out;
    }
    gnutls_datum_t kd = {.data = key, .size = (unsigned)key_len};
    const char *pos = NULL;
    if (gnutls_psk_allocate_client_credentials(&cred) < 0 ||
        gnutls_psk_set_client_credentials(cred, j->kpsa_id, &kd, GNUTLS_PSK_KEY_RAW) < 0 ||
        gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NONBLOCK) < 0 ||
        gnutls_priority_set_direct(s, tlsauth_priority(TLS_KIND_PSK), &pos) < 0 ||
        gnutls_credentials_set(s, GNUTLS_CRD_PSK, cred) < 0)
        goto out;
    gnutls_transport_set_int(s, fd);
    int rc;
    do {
        rc = gnutls_handshake(s);
        if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
            struct pollfd p = {.fd = fd, .events = gnutls_record_get_direction(s) ? POLLOUT : POLLIN};
            if (poll(&p, 1, (int)left_ms(deadline)) != 1)
                goto out;
        }
    } while (rc < 0 && !gnutls_error_is_fatal(rc));
    if (rc < 0) {
        LOG(pc->log, LOG_WARN, "psk client: handshake with %s:%s failed: %s", j->host, j->port, gnutls_strerror(rc));
        goto out;
    }
    struct buf req;
    buf_init(&req);
    buf_printf(&req, "%s\r\nHost: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", j->head, j->host, j->len);
    buf_append(&req, j->body ? j->body : "", j->len);
    size_t off = 0;
    bool ok = true;
    while (ok && off < req.len) {
        ssize_t w = gnutls_record_send(s, req.p + off, req.len - off);
        if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            ok = poll(&p, 1, (int)left_ms(deadline)) == 1;
        } else if (w < 0) {
            ok = false;
        } else {
            off += (size_t)w;
        }
    }
    buf_free(&req);
    if (!ok)
        goto out;
    size_t cap = LIMIT_HEADER_BYTES + (j->max_answer ? j->max_answer : 0);
    for (;;) {
        char chunk[4096];
        ssize_t r = gnutls_record_recv(s, chunk, sizeof chunk);
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
            if (gnutls_record_check_pending(s) > 0)
                continue;
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, (int)left_ms(deadline)) != 1)
                goto out;
            continue;
        }
        if (r == 0 || r == GNUTLS_E_PREMATURE_TERMINATION)
            break; /* closed: the body ends here */
        if (r < 0)
            goto out;
        if (in.len + (size_t)r > cap) {
            res.truncated = true;
            goto out;
        }
        buf_append(&in, chunk, (size_t)r);
        if (http_response_complete(in.p, in.len))
            break;
    }
    struct http_response hr;
    if (http_response_parse(in.p ? in.p : "", in.len, &hr) != 0) {
        LOG(pc->log, LOG_WARN, "psk client: malformed response from %s:%s", j->host, j->port);
        res.rsc = RSC_INTERNAL_SERVER_ERROR;
        goto out;
    }
    res.http_status = hr.status;
    res.rsc = hr.rsc != 0        ? hr.rsc
              : hr.status < 300  ? RSC_OK
              : hr.status == 403 ? RSC_ORIGINATOR_HAS_NO_PRIVILEGE
              : hr.status == 404 ? RSC_NOT_FOUND
              : hr.status < 500  ? RSC_BAD_REQUEST
                                 : RSC_INTERNAL_SERVER_ERROR;
    char *loc = hr.location ? mem_strndup(hr.location, hr.location_len) : NULL;
    char *ati = hr.ati ? mem_strndup(hr.ati, hr.ati_len) : NULL;
    res.cnst = hr.cnst;
    res.cnot = hr.cnot;
    res.ati = ati;
    if (j->max_answer > 0 && hr.body_len > 0) {
        res.body = hr.body;
        res.len = hr.body_len;
    }
    res.location = loc;
    gnutls_bye(s, GNUTLS_SHUT_WR);
    j->done(j->arg, &res);
    mem_free(loc);
    mem_free(ati);
    goto cleanup;
out:
    if (refused)
        res.rsc = RSC_ORIGINATOR_HAS_NO_PRIVILEGE;
    j->done(j->arg, &res);
cleanup:
    cred_wipe(key, sizeof key);
    if (s != NULL)
        gnutls_deinit(s);
    if (cred != NULL)
        gnutls_psk_free_client_credentials(cred);
    if (fd >= 0)
        close(fd);
    buf_free(&in);
}

static void *worker(void *arg)
{
    struct http_psk_client *pc = arg;
    pthread_mutex_lock(&pc->lock);
    for (;;) {
        while (pc->head == NULL && !pc->stopping)
            pthread_cond_wait(&pc->cond, &pc->lock);
        struct pjob *j = pc->head;
        if (j == NULL)
            break; /* stopping and nothing left */
        pc->head = j->next;
        if (pc->head == NULL)
            pc->tail = NULL;
        pthread_mutex_unlock(&pc->lock);
        exchange(pc, j);
        pjob_free(j);
        pthread_mutex_lock(&pc->lock);
        pc->queued--;
    }
    pthread_mutex_unlock(&pc->lock);
    return NULL;
}

struct http_psk_client *http_psk_client_start(struct outbound *ob, struct cred_store *creds, char *err, size_t errlen)
{
    struct http_psk_client *pc = mem_calloc(1, sizeof *pc);
    pc->ob = ob;
    pc->creds = creds;
    pc->log = outbound_log(ob);
    pc->queue_max = outbound_cfg(ob)->queue_max;
    pthread_mutex_init(&pc->lock, NULL);
    pthread_mutex_init(&pc->cache_lock, NULL);
    pthread_cond_init(&pc->cond, NULL);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int i = 0; i < PSK_THREADS; i++)
        if (pthread_create(&pc->threads[i], NULL, worker, pc) == 0)
            pc->nthreads++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pc->nthreads == 0) {
        snprintf(err, errlen, "psk client: no thread");
        pthread_cond_destroy(&pc->cond);
        pthread_mutex_destroy(&pc->lock);
        pthread_mutex_destroy(&pc->cache_lock);
        mem_free(pc);
        return NULL;
    }
    return pc;
}

void http_psk_client_stop(struct http_psk_client *pc)
{
    if (pc == NULL)
        return;
    pthread_mutex_lock(&pc->lock);
    pc->stopping = true; /* the queue is worked off (each by its deadline), then the threads end */
    pthread_cond_broadcast(&pc->cond);
    pthread_mutex_unlock(&pc->lock);
    for (int i = 0; i < pc->nthreads; i++)
        pthread_join(pc->threads[i], NULL);
    pthread_cond_destroy(&pc->cond);
    pthread_mutex_destroy(&pc->lock);
    pthread_mutex_destroy(&pc->cache_lock);
    mem_free(pc);
}

/* "https://host[:port]/path?q" -> host (brackets removed), port ("443"), target ("/path?q"). */
static bool split_uri(const char *uri, char **host, char **port, char **target)
{
    if (strncasecmp(uri, "https://", 8) != 0)
        return false;
    const char *h = uri + 8, *he, *rest;
    if (*h == '[') {
        he = strchr(++h, ']');
        if (he == NULL)
            return false;
        rest = he + 1;
    } else {
        he = h + strcspn(h, ":/?#");
        rest = he;
    }
    if (he == h || strchr(h, '@') != NULL)
        return false;
    const char *p = "443";
    size_t pl = 3;
    if (*rest == ':') {
        p = rest + 1;
        pl = strspn(p, "0123456789");
        if (pl == 0 || pl > 5)
            return false;
        rest = p + pl;
    }
    if (*rest != '/' && *rest != '\0')
        return false;
    *host = mem_strndup(h, (size_t)(he - h));
    *port = mem_strndup(p, pl);
    *target = mem_strdup(*rest ? rest : "/");
    return true;
}

int http_psk_client_send(struct http_psk_client *pc, const char *uri, const char *kpsa_id, const struct out_request *rq,
                         out_done_fn done, void *arg)
{
    char reason[160];
    if (pc == NULL || !http_client_allowed(outbound_http(pc->ob), uri, reason, sizeof reason))
        return -1;
    struct pjob *j = mem_calloc(1, sizeof *j);
    if (!split_uri(uri, &j->host, &j->port, &j->target)) {
        pjob_free(j);
        return -1;
    }
    struct buf head;
    buf_init(&head);
    if (http_request_head(rq, j->target, &head) != 0) {
        buf_free(&head);
        pjob_free(j);
        return -1;
    }
    j->head = buf_take(&head, NULL);
    snprintf(j->kpsa_id, sizeof j->kpsa_id, "%s", kpsa_id);
    j->body = mem_alloc(rq->len + 1);
    if (rq->len > 0)
        memcpy(j->body, rq->body, rq->len);
    j->len = rq->len;
    j->timeout_ms = rq->timeout_ms > 0 ? rq->timeout_ms : outbound_cfg(pc->ob)->timeout_ms;
    j->max_answer = rq->max_answer;
    j->done = done;
    j->arg = arg;
    pthread_mutex_lock(&pc->lock);
    bool ok = !pc->stopping && pc->queued < pc->queue_max;
    if (ok) {
        if (pc->tail)
            pc->tail->next = j;
        else
            pc->head = j;
        pc->tail = j;
        pc->queued++;
        pthread_cond_signal(&pc->cond);
    }
    pthread_mutex_unlock(&pc->lock);
    if (!ok)
        pjob_free(j);
    return ok ? 0 : -1;
}
