/* log: leveled logger writing whole lines with one write(2) each (see log.h). */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "mem.h"

void log_init(struct log *lg, enum log_level level, FILE *out)
{
    lg->level = level;
    lg->fd = out ? fileno(out) : -1;
    lg->path = NULL;
    lg->json = 0;
    if (out)
        fflush(out); /* what the stream buffered goes first */
}

static int open_log(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
        snprintf(err, errlen, "log.path: cannot open %s: %s", path, strerror(errno));
    return fd;
}

int log_open_file(struct log *lg, const char *path, char *err, size_t errlen)
{
    int fd = open_log(path, err, errlen);
    if (fd < 0)
        return -1;
    if (lg->path)
        close(lg->fd);
    mem_free(lg->path);
    lg->fd = fd;
    lg->path = mem_strdup(path);
    return 0;
}

int log_reopen(struct log *lg, char *err, size_t errlen)
{
    if (lg->path == NULL)
        return 0;
    int fd = open_log(lg->path, err, errlen);
    if (fd < 0)
        return -1;
    /* dup2 swaps the file under the same descriptor number in one step: a thread writing now
     * writes a whole line to the old file or to the new one */
    int rc = dup2(fd, lg->fd) < 0 ? -1 : 0;
    if (rc != 0)
        snprintf(err, errlen, "log.path: cannot reopen %s: %s", lg->path, strerror(errno));
    close(fd);
    return rc;
}

void log_destroy(struct log *lg)
{
    if (lg->path) {
        close(lg->fd);
        mem_free(lg->path);
        lg->path = NULL;
    }
    lg->fd = -1;
}

int log_level_parse(const char *s)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

void log_set_json(struct log *lg, int json)
{
    lg->json = json;
}

/* The message text[0..n) as the inside of a JSON string into out (room: cap): '"' and '\\' escaped,
 * control characters as '?' (as in text lines), bytes that are not well-formed UTF-8 as '?', so the
 * line is always valid JSON. Returns the bytes written; stops before a character that does not fit. */
static size_t json_text(char *out, size_t cap, const char *text, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)text[i];
        size_t k = c < 0x80 ? 1 : utf8_seq_len((const unsigned char *)text + i, n - i);
        if (c == '"' || c == '\\') {
            if (o + 2 > cap)
                break;
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f || k == 0) {
            if (o + 1 > cap)
                break;
            out[o++] = '?';
            k = k ? k : 1;
        } else {
            if (o + k > cap)
                break;
            memcpy(out + o, text + i, k);
            o += k;
        }
        i += k ? k : 1;
    }
    return o;
}

void log_write(struct log *lg, enum log_level level, const char *fmt, ...)
{
    static const char *const tags[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    char line[LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, tags[level]);
    if (n < 0 || (size_t)n >= sizeof line)
        return;
    size_t head = (size_t)n;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + head, sizeof line - head, fmt, ap); /* room for '\n' is made below */
    va_end(ap);
    size_t len = m < 0 ? head : head + (size_t)m;
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    if (lg->json) {
        char js[LOG_LINE_MAX];
        line[head - 1] = '\0'; /* "TIMESTAMP LEVEL" */
        char *lvl = strchr(line, ' ');
        *lvl++ = '\0';
        int jh = snprintf(js, sizeof js, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", line, lvl);
        size_t jl = (size_t)jh + json_text(js + jh, sizeof js - (size_t)jh - 3, line + head, len - head);
        memcpy(js + jl, "\"}\n", 3);
        memcpy(line, js, jl + 3);
        len = jl + 3;
    } else {
        for (size_t i = head; i < len; i++)
            if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
                line[i] = '?';
        line[len++] = '\n';
    }
    /* the whole line in one write: no lock, no interleaving */
    for (size_t off = 0; off < len;) {
        ssize_t w = write(lg->fd, line + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        off += (size_t)w;
    }
}
