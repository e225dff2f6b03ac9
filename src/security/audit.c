/* audit: JSON-lines audit log (see audit.h). Tamper-evident: every line ends with "prev", the
 * SHA-256 of the line before it (of 64 zeros for the first), so that editing or deleting a line
 * breaks the chain at that point (wardenctl audit verify). */
#include <errno.h>
#include <gnutls/crypto.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/mem.h"

struct audit {
    int fd;
    char *path; /* owned */
    pthread_mutex_t lock;
    char prev[AUDIT_HASH_HEX + 1]; /* hash of the last line written */
};

void audit_line_hash(const char *line, size_t len, char out[AUDIT_HASH_HEX + 1])
{
    unsigned char d[32];
    gnutls_hash_fast(GNUTLS_DIG_SHA256, line, len, d);
    for (size_t i = 0; i < sizeof d; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* The hash of the file's last complete line, so a restarted server continues the chain. */
static void chain_tail(int fd, char out[AUDIT_HASH_HEX + 1])
{
    memset(out, '0', AUDIT_HASH_HEX);
    out[AUDIT_HASH_HEX] = '\0';
    off_t end = lseek(fd, 0, SEEK_END);
    if (end <= 0)
        return;
    char buf[65536];
    off_t start = end > (off_t)sizeof buf ? end - (off_t)sizeof buf : 0;
    ssize_t n = pread(fd, buf, (size_t)(end - start), start);
    if (n <= 0 || buf[n - 1] != '\n')
        return; /* a torn last line: the chain restarts (verify reports where) */
    ssize_t i = n - 1;
    while (i > 0 && buf[i - 1] != '\n')
        i--;
    audit_line_hash(buf + i, (size_t)(n - i), out);
}

struct audit *audit_open(const char *path, char *err, size_t errlen)
{
    if (fs_make_parent_dirs(path, err, errlen) != 0)
        return NULL;
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "audit.path: cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct audit *a = mem_calloc(1, sizeof *a);
    a->fd = fd;
    a->path = mem_strdup(path);
    chain_tail(fd, a->prev);
    pthread_mutex_init(&a->lock, NULL);
    return a;
}

static void field(struct buf *b, const char *name, const char *v)
{
    if (v == NULL)
        return;
    buf_printf(b, ",\"%s\":", name);
    buf_json_str(b, v);
}

void audit_record(struct audit *a, const struct audit_event *ev)
{
    if (a == NULL)
        return;
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ\"", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
               tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
    field(&b, "event", ev->event);
    field(&b, "originator", ev->originator);
    field(&b, "peer", ev->peer);
    field(&b, "binding", ev->binding);
    field(&b, "op", ev->op);
    field(&b, "target", ev->target);
    if (ev->rsc)
        buf_printf(&b, ",\"rsc\":%d", ev->rsc);
    field(&b, "reason", ev->reason);
    field(&b, "detail", ev->detail);
    field(&b, "credential", ev->credential);
    field(&b, "identity", ev->identity);
    pthread_mutex_lock(&a->lock);
    buf_printf(&b, ",\"prev\":\"%s\"}\n", a->prev);
    /* one write() per line under the lock: lines never interleave, and a crash loses at most the
     * line being written */
    ssize_t w = write(a->fd, b.p, b.len);
    if (w == (ssize_t)b.len)
        audit_line_hash(b.p, b.len, a->prev);
    pthread_mutex_unlock(&a->lock);
    buf_free(&b);
}

void audit_close(struct audit *a)
{
    if (a == NULL)
        return;
    fsync(a->fd);
    close(a->fd);
    pthread_mutex_destroy(&a->lock);
    mem_free(a->path);
    mem_free(a);
}

int audit_reopen(struct audit *a, char *err, size_t errlen)
{
    if (a == NULL)
        return 0;
    int fd = open(a->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "audit.path: cannot reopen %s: %s", a->path, strerror(errno));
        return -1;
    }
    pthread_mutex_lock(&a->lock);
    fsync(a->fd);
    close(a->fd);
    a->fd = fd;
    chain_tail(fd, a->prev);
    pthread_mutex_unlock(&a->lock);
    return 0;
}
