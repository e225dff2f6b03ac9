/* warden-bench-load: a small keep-alive HTTP/1.1 client for bench/run.sh (loopback, oneM2M headers).
 *
 *   warden-bench-load create --port P --origin O --ty T --per-parent N [--conns C] [--host H]
 *                            --body JSON PARENT...
 *       Creates N resources of type T under every PARENT (N x parents requests in all), spread round-robin
 *       over the parents, on C concurrent keep-alive connections (one thread each). "@N@" in the body is
 *       replaced by the request's sequence number (0-based). Every response must be HTTP 201, else it
 *       stops and exits 1 with the response.
 *   warden-bench-load get --port P --origin O [--n 30] [--warmup 2] [--host H] PATH...
 *       For each PATH in turn: warm-up requests, then n sequential GETs on one keep-alive connection, each
 *       timed (CLOCK_MONOTONIC) from before the request is written to after the whole body is read. Every
 *       response must be HTTP 200.
 *
 * Output, one machine-readable line per create run / per path (latencies in microseconds; pNN is the
 * nearest-rank percentile, so with n = 30 p99 is the slowest sample):
 *   LOAD_RESULT mode=create requests=.. seconds=.. rps=.. p50_us=.. p99_us=.. max_us=..
 *   LOAD_RESULT mode=get path=.. n=.. bytes=.. results=.. p50_us=.. p90_us=.. p99_us=.. min_us=.. max_us=.. mean_us=..
 * results = the number of strings in the body minus one (for an m2m:uril body: the number of URIs). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
    int fd;
    char *buf; /* response buffer */
    size_t cap, len;
};

struct response {
    int status;
    const char *body;
    size_t body_len;
};

static const char *host = "127.0.0.1";
static int port;
static const char *origin = "Cbench";

__attribute__((format(printf, 1, 2))) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("warden-bench-load: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int conn_open(struct conn *c)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        die("bad --host %s (IPv4 address expected)", host);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    if (c->buf == NULL) {
        c->cap = 1 << 16;
        c->buf = malloc(c->cap);
        if (c->buf == NULL)
            die("out of memory");
    }
    c->len = 0;
    return 0;
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read one response (Content-Length framed; Warden and libmicrohttpd send it for every buffered
 * response). Returns 0, or -1 with a message in err. Sets *close_after on "Connection: close". */
static int read_response(struct conn *c, struct response *r, bool *close_after, char *err, size_t errlen)
{
    size_t hdr_end = 0;
    long clen = -1;
    for (;;) {
        if (hdr_end == 0 && c->len >= 4) {
            char *e = memmem(c->buf, c->len, "\r\n\r\n", 4);
            if (e != NULL) {
                hdr_end = (size_t)(e - c->buf) + 4;
                if (c->len < 12 || strncmp(c->buf, "HTTP/1.", 7) != 0) {
                    snprintf(err, errlen, "not an HTTP response");
                    return -1;
                }
                r->status = atoi(c->buf + 9);
                *close_after = false;
                /* header lines: from after the status line to the blank line */
                for (char *l = (char *)memchr(c->buf, '\n', hdr_end) + 1; l < c->buf + hdr_end - 2;) {
                    char *eol = memchr(l, '\n', (size_t)(c->buf + hdr_end - l));
                    size_t ll = (size_t)(eol - l);
                    if (ll >= 15 && strncasecmp(l, "Content-Length:", 15) == 0) {
                        clen = strtol(l + 15, NULL, 10);
                    } else if (ll >= 18 && strncasecmp(l, "Transfer-Encoding:", 18) == 0) {
                        snprintf(err, errlen, "chunked responses are not supported");
                        return -1;
                    } else if (ll >= 11 && strncasecmp(l, "Connection:", 11) == 0) {
                        *close_after = memmem(l, ll, "close", 5) != NULL;
                    }
                    l = eol + 1;
                }
                if (clen < 0) {
                    snprintf(err, errlen, "response without Content-Length");
                    return -1;
                }
            }
        }
        if (hdr_end > 0 && c->len >= hdr_end + (size_t)clen)
            break;
        if (c->len == c->cap) {
            c->cap *= 2;
            c->buf = realloc(c->buf, c->cap);
            if (c->buf == NULL)
                die("out of memory");
        }
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, n == 0 ? "connection closed by the server" : "recv: %s", strerror(errno));
            return -1;
        }
        c->len += (size_t)n;
    }
    r->body = c->buf + hdr_end;
    r->body_len = (size_t)clen;
    return 0;
}

/* Drop the response just read from the buffer (keeps any pipelined bytes, though we never pipeline). */
static void consume(struct conn *c, const struct response *r)
{
    size_t used = (size_t)(r->body - c->buf) + r->body_len;
    memmove(c->buf, c->buf + used, c->len - used);
    c->len -= used;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *sorted, size_t n, double p) /* nearest rank */
{
    size_t rank = (size_t)((p / 100.0) * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

/* ---- create -------------------------------------------------------------------------------------- */

static const char *body_tpl;
static int ty;
static char **parents;
static long nparents, total;
static atomic_long next_idx;
static atomic_bool failed;
static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;

struct worker {
    pthread_t th;
    int id;
    double *lat;
    long nlat;
};

static void *create_worker(void *arg)
{
    struct worker *w = arg;
    struct conn c = {.fd = -1};
    char *req = NULL, *body = NULL;
    size_t reqcap = 0, bodycap = 0;
    long seq = 0;
    char err[256];
    if (conn_open(&c) != 0) {
        pthread_mutex_lock(&err_lock);
        fprintf(stderr, "warden-bench-load: connect %s:%d: %s\n", host, port, strerror(errno));
        pthread_mutex_unlock(&err_lock);
        atomic_store(&failed, true);
        return NULL;
    }
    while (!atomic_load(&failed)) {
        long idx = atomic_fetch_add(&next_idx, 1);
        if (idx >= total)
            break;
        const char *parent = parents[idx % nparents];
        /* body: template with @N@ replaced by idx */
        char num[32];
        int numlen = snprintf(num, sizeof num, "%ld", idx);
        size_t need = strlen(body_tpl) * 2 + 64;
        if (need > bodycap) {
            bodycap = need;
            body = realloc(body, bodycap);
        }
        size_t bl = 0;
        for (const char *p = body_tpl; *p;) {
            if (strncmp(p, "@N@", 3) == 0) {
                memcpy(body + bl, num, (size_t)numlen);
                bl += (size_t)numlen;
                p += 3;
            } else {
                body[bl++] = *p++;
            }
        }
        need = bl + strlen(parent) + strlen(origin) + 512;
        if (need > reqcap) {
            reqcap = need;
            req = realloc(req, reqcap);
        }
        if (req == NULL || body == NULL)
            die("out of memory");
        int rl = snprintf(req, reqcap,
                          "POST %s HTTP/1.1\r\nHost: %s:%d\r\nX-M2M-Origin: %s\r\nX-M2M-RI: L%d-%ld\r\n"
                          "X-M2M-RVI: 3\r\nAccept: application/json\r\nContent-Type: application/json;ty=%d\r\n"
                          "Content-Length: %zu\r\n\r\n",
                          parent, host, port, origin, w->id, ++seq, ty, bl);
        if (rl < 0 || (size_t)rl + bl >= reqcap)
            die("request too long");
        memcpy(req + rl, body, bl);
        struct response r;
        bool close_after = false;
        double t0 = now_us();
        int rc = send_all(c.fd, req, (size_t)rl + bl);
        if (rc == 0)
            rc = read_response(&c, &r, &close_after, err, sizeof err);
        else
            snprintf(err, sizeof err, "send: %s", strerror(errno));
        double t1 = now_us();
        if (rc != 0 || r.status != 201) {
            pthread_mutex_lock(&err_lock);
            if (!atomic_load(&failed)) {
                if (rc != 0)
                    fprintf(stderr, "warden-bench-load: POST %s: %s\n", parent, err);
                else
                    fprintf(stderr, "warden-bench-load: POST %s: HTTP %d: %.*s\n", parent, r.status,
                            (int)(r.body_len > 500 ? 500 : r.body_len), r.body);
            }
            atomic_store(&failed, true);
            pthread_mutex_unlock(&err_lock);
            break;
        }
        w->lat[w->nlat++] = t1 - t0;
        consume(&c, &r);
        if (close_after) {
            conn_close(&c);
            if (conn_open(&c) != 0) {
                atomic_store(&failed, true);
                break;
            }
        }
    }
    conn_close(&c);
    free(c.buf);
    free(req);
    free(body);
    return NULL;
}

static int do_create(int conns, long per_parent)
{
    total = per_parent * nparents;
    struct worker *w = calloc((size_t)conns, sizeof *w);
    if (w == NULL)
        die("out of memory");
    double t0 = now_us();
    for (int i = 0; i < conns; i++) {
        w[i].id = i + 1;
        w[i].lat = malloc((size_t)total * sizeof *w[i].lat);
        if (w[i].lat == NULL)
            die("out of memory");
        if (pthread_create(&w[i].th, NULL, create_worker, &w[i]) != 0)
            die("pthread_create failed");
    }
    for (int i = 0; i < conns; i++)
        pthread_join(w[i].th, NULL);
    double secs = (now_us() - t0) / 1e6;
    long n = 0;
    for (int i = 0; i < conns; i++)
        n += w[i].nlat;
    double *all = malloc((size_t)(n > 0 ? n : 1) * sizeof *all);
    if (all == NULL)
        die("out of memory");
    long k = 0;
    for (int i = 0; i < conns; i++) {
        memcpy(all + k, w[i].lat, (size_t)w[i].nlat * sizeof *all);
        k += w[i].nlat;
        free(w[i].lat);
    }
    free(w);
    if (atomic_load(&failed) || n != total) {
        fprintf(stderr, "warden-bench-load: %ld of %ld creates succeeded\n", n, total);
        free(all);
        return 1;
    }
    qsort(all, (size_t)n, sizeof *all, cmp_double);
    printf("LOAD_RESULT mode=create requests=%ld conns=%d seconds=%.2f rps=%.1f p50_us=%.0f p99_us=%.0f max_us=%.0f\n",
           n, conns, secs, (double)n / secs, pct(all, (size_t)n, 50), pct(all, (size_t)n, 99), all[n - 1]);
    free(all);
    return 0;
}

/* ---- get ----------------------------------------------------------------------------------------- */

static int do_get(char **paths, int npaths, int n, int warmup)
{
    struct conn c = {.fd = -1};
    char req[4096], err[256];
    long seq = 0;
    double *lat = malloc((size_t)n * sizeof *lat);
    if (lat == NULL)
        die("out of memory");
    if (conn_open(&c) != 0)
        die("connect %s:%d: %s", host, port, strerror(errno));
    for (int p = 0; p < npaths; p++) {
        size_t bytes = 0;
        long results = 0;
        for (int i = -warmup; i < n; i++) {
            int rl = snprintf(req, sizeof req,
                              "GET %s HTTP/1.1\r\nHost: %s:%d\r\nX-M2M-Origin: %s\r\nX-M2M-RI: D%d-%ld\r\n"
                              "X-M2M-RVI: 3\r\nAccept: application/json\r\n\r\n",
                              paths[p], host, port, origin, p, ++seq);
            if (rl < 0 || (size_t)rl >= sizeof req)
                die("path too long");
            struct response r;
            bool close_after = false;
            double t0 = now_us();
            if (send_all(c.fd, req, (size_t)rl) != 0)
                die("GET %s: send: %s", paths[p], strerror(errno));
            if (read_response(&c, &r, &close_after, err, sizeof err) != 0)
                die("GET %s: %s", paths[p], err);
            double t1 = now_us();
            if (r.status != 200)
                die("GET %s: HTTP %d: %.*s", paths[p], r.status, (int)(r.body_len > 500 ? 500 : r.body_len), r.body);
            if (i >= 0)
                lat[i] = t1 - t0;
            bytes = r.body_len;
            long quotes = 0;
            for (size_t k = 0; k < r.body_len; k++)
                quotes += r.body[k] == '"';
            results = quotes / 2 - 1;
            consume(&c, &r);
            if (close_after) {
                conn_close(&c);
                if (conn_open(&c) != 0)
                    die("reconnect: %s", strerror(errno));
            }
        }
        double sum = 0;
        for (int i = 0; i < n; i++)
            sum += lat[i];
        qsort(lat, (size_t)n, sizeof *lat, cmp_double);
        printf("LOAD_RESULT mode=get path=%s n=%d bytes=%zu results=%ld p50_us=%.0f p90_us=%.0f p99_us=%.0f "
               "min_us=%.0f max_us=%.0f mean_us=%.0f\n",
               paths[p], n, bytes, results, pct(lat, (size_t)n, 50), pct(lat, (size_t)n, 90), pct(lat, (size_t)n, 99),
               lat[0], lat[n - 1], sum / n);
        fflush(stdout);
    }
    conn_close(&c);
    free(c.buf);
    free(lat);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: warden-bench-load create --port P --origin O --ty T --per-parent N [--conns C] "
                    "[--host H] --body JSON PARENT...\n"
                    "       warden-bench-load get --port P --origin O [--n 30] [--warmup 2] [--host H] PATH...\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    const char *mode = argv[1];
    int conns = 8, n = 30, warmup = 2;
    long per_parent = 0;
    int i = 2;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (strcmp(a, "--port") == 0)
            port = atoi(v);
        else if (strcmp(a, "--host") == 0)
            host = v;
        else if (strcmp(a, "--origin") == 0)
            origin = v;
        else if (strcmp(a, "--ty") == 0)
            ty = atoi(v);
        else if (strcmp(a, "--per-parent") == 0)
            per_parent = strtol(v, NULL, 10);
        else if (strcmp(a, "--conns") == 0)
            conns = atoi(v);
        else if (strcmp(a, "--body") == 0)
            body_tpl = v;
        else if (strcmp(a, "--n") == 0)
            n = atoi(v);
        else if (strcmp(a, "--warmup") == 0)
            warmup = atoi(v);
        else
            usage();
    }
    if (port <= 0 || port > 65535 || i >= argc)
        usage();
    if (strcmp(mode, "create") == 0) {
        if (ty <= 0 || per_parent <= 0 || conns < 1 || conns > 64 || body_tpl == NULL)
            usage();
        parents = argv + i;
        nparents = argc - i;
        return do_create(conns, per_parent);
    }
    if (strcmp(mode, "get") == 0) {
        if (n < 1 || warmup < 0)
            usage();
        return do_get(argv + i, argc - i, n, warmup);
    }
    usage();
}
