/* audit: JSON-lines audit log (see audit.h). */
#include <errno.h>
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
    pthread_mutex_t lock;
};

struct audit *audit_open(const char *path, char *err, size_t errlen)
{
    if (fs_make_parent_dirs(path, err, errlen) != 0)
        return NULL;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "audit.path: cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct audit *a = mem_calloc(1, sizeof *a);
    a->fd = fd;
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
    buf_puts(&b, "}\n");
    pthread_mutex_lock(&a->lock);
    /* one write() per line under the lock: lines never interleave, and a crash loses at most the
     * line being written */
    ssize_t w = write(a->fd, b.p, b.len);
    (void)w;
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
    mem_free(a);
}
