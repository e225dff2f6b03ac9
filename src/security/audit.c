/* audit: JSON-lines audit log (see audit.h). Tamper-evident under a key: every line ends with
 * "prev" (the previous line's "mac") and "mac" (HMAC-SHA256 of the line up to and with "prev"), so
 * that only a holder of the store's audit key can write lines that verify (wardenctl audit verify). */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/mem.h"

struct audit {
    int fd;
    char *path;
    pthread_mutex_t lock;
    unsigned char key[AUDIT_KEY_LEN];
    size_t keylen;
    char prev[AUDIT_MAC_HEX + 1]; /* mac of the last line written */
};

/* The fixed tail of every line: ,"prev":"<64 hex>","mac":"<64 hex>"}\n */
#define PREV_TAG    ",\"prev\":\""
#define MAC_TAG     "\",\"mac\":\""
#define LINE_END    "\"}\n"
#define PREV_TAG_N  (sizeof PREV_TAG - 1)
#define MAC_TAG_N   (sizeof MAC_TAG - 1)
#define LINE_END_N  (sizeof LINE_END - 1)
#define SUFFIX_N    (PREV_TAG_N + AUDIT_MAC_HEX + MAC_TAG_N + AUDIT_MAC_HEX + LINE_END_N)
#define SIGNED_LESS (MAC_TAG_N + AUDIT_MAC_HEX + LINE_END_N - 1) /* the mac covers up to prev's quote */

void audit_mac(const unsigned char *key, size_t keylen, const char *data, size_t len, char out[AUDIT_MAC_HEX + 1])
{
    unsigned char d[32];
    gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, keylen, data, len, d);
    for (size_t i = 0; i < sizeof d; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static bool is_hex64(const char *p)
{
    for (int i = 0; i < AUDIT_MAC_HEX; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return false;
    return true;
}

/* The line's prev and mac fields, when it has the keyed form. */
static bool split_line(const char *line, size_t len, const char **prev, const char **mac)
{
    if (len < SUFFIX_N + 1 || line[0] != '{')
        return false;
    const char *s = line + len - SUFFIX_N;
    if (memcmp(s, PREV_TAG, PREV_TAG_N) != 0 || memcmp(s + PREV_TAG_N + AUDIT_MAC_HEX, MAC_TAG, MAC_TAG_N) != 0 ||
        memcmp(line + len - LINE_END_N, LINE_END, LINE_END_N) != 0)
        return false;
    *prev = s + PREV_TAG_N;
    *mac = s + PREV_TAG_N + AUDIT_MAC_HEX + MAC_TAG_N;
    return is_hex64(*prev) && is_hex64(*mac) && memchr(line, '\n', len - 1) == NULL;
}

const char *audit_line_check(const unsigned char *key, size_t keylen, const char *line, size_t len,
                             const char prev[AUDIT_MAC_HEX + 1], char mac_out[AUDIT_MAC_HEX + 1])
{
    const char *p, *m;
    if (!split_line(line, len, &p, &m))
        return "not a keyed audit line";
    if (memcmp(p, prev, AUDIT_MAC_HEX) != 0)
        return "prev does not match the line before (lines removed, inserted or reordered)";
    char want[AUDIT_MAC_HEX + 1];
    audit_mac(key, keylen, line, len - SIGNED_LESS, want);
    /* not secret-dependent timing that matters: the attacker sees the file, not the comparison */
    if (memcmp(want, m, AUDIT_MAC_HEX) != 0)
        return "mac does not match (line edited, or written without the key)";
    memcpy(mac_out, m, AUDIT_MAC_HEX);
    mac_out[AUDIT_MAC_HEX] = '\0';
    return NULL;
}

int audit_verify_file(const char *path, const unsigned char *key, size_t keylen, long *lines,
                      char last_mac[AUDIT_MAC_HEX + 1], char *msg, size_t msglen)
{
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        snprintf(msg, msglen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    memset(last_mac, '0', AUDIT_MAC_HEX);
    last_mac[AUDIT_MAC_HEX] = '\0';
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    int ret = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        const char *why = line[n - 1] != '\n' ? "incomplete last line"
                                              : audit_line_check(key, keylen, line, (size_t)n, last_mac, last_mac);
        if (why != NULL) {
            snprintf(msg, msglen, "%s", why);
            ret = 1;
            break;
        }
    }
    if (ret == 0 && ferror(f)) {
        snprintf(msg, msglen, "cannot read %s", path);
        ret = -1;
    }
    free(line);
    fclose(f);
    *lines = lineno;
    return ret;
}

/* The mac of the file's last complete line, so a restarted server continues the chain; 64 zeros
 * for an empty file or one whose last line is not a keyed audit line (verify reports it). A torn
 * last line (a crash during its write) is ended with a newline so the next line stays whole. */
static void chain_tail(int fd, char out[AUDIT_MAC_HEX + 1])
{
    memset(out, '0', AUDIT_MAC_HEX);
    out[AUDIT_MAC_HEX] = '\0';
    off_t end = lseek(fd, 0, SEEK_END);
    if (end <= 0)
        return;
    char buf[65536];
    off_t start = end > (off_t)sizeof buf ? end - (off_t)sizeof buf : 0;
    ssize_t n = pread(fd, buf, (size_t)(end - start), start);
    if (n <= 0)
        return;
    if (buf[n - 1] != '\n') {
        if (write(fd, "\n", 1) != 1)
            return;
        return; /* the torn line breaks the chain anyway: a new one starts after it */
    }
    ssize_t i = n - 1;
    while (i > 0 && buf[i - 1] != '\n')
        i--;
    const char *p, *m;
    if (split_line(buf + i, (size_t)(n - i), &p, &m)) {
        memcpy(out, m, AUDIT_MAC_HEX);
        out[AUDIT_MAC_HEX] = '\0';
    }
}

/* The one open path (start and reopen): checks, opens and finds where the chain continues. */
static int open_file(const char *path, int *fd_out, char prev[AUDIT_MAC_HEX + 1], char *err, size_t errlen)
{
    if (fs_make_parent_dirs(path, err, errlen) != 0 || fs_check_private(path, "audit log", err, errlen) != 0)
        return -1;
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "audit.path: cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    chain_tail(fd, prev);
    *fd_out = fd;
    return 0;
}

struct audit *audit_open(const char *path, const unsigned char *key, size_t keylen, char *err, size_t errlen)
{
    if (keylen == 0 || keylen > AUDIT_KEY_LEN) {
        snprintf(err, errlen, "audit: no chain key");
        return NULL;
    }
    struct audit *a = mem_calloc(1, sizeof *a);
    if (open_file(path, &a->fd, a->prev, err, errlen) != 0) {
        mem_free(a);
        return NULL;
    }
    a->path = mem_strdup(path);
    memcpy(a->key, key, keylen);
    a->keylen = keylen;
    pthread_mutex_init(&a->lock, NULL);
    return a;
}

int audit_reopen(struct audit *a, char *err, size_t errlen)
{
    if (a == NULL)
        return 0;
    pthread_mutex_lock(&a->lock);
    int fd;
    char prev[AUDIT_MAC_HEX + 1];
    int rc = open_file(a->path, &fd, prev, err, errlen);
    if (rc == 0) {
        close(a->fd);
        a->fd = fd;
        /* a file that is new (rotated away) starts a chain of its own; one that is the same file
         * continues from its own last line */
        memcpy(a->prev, prev, sizeof prev);
    }
    pthread_mutex_unlock(&a->lock);
    return rc;
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
    buf_printf(&b, PREV_TAG "%s\"", a->prev);
    char mac[AUDIT_MAC_HEX + 1];
    audit_mac(a->key, a->keylen, b.p, b.len, mac);
    buf_printf(&b, ",\"mac\":\"%s\"}\n", mac);
    /* one write() per line under the lock: lines never interleave, and a crash loses at most the
     * line being written */
    ssize_t w = write(a->fd, b.p, b.len);
    if (w == (ssize_t)b.len)
        memcpy(a->prev, mac, sizeof mac);
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
    explicit_bzero(a->key, sizeof a->key);
    mem_free(a->path);
    mem_free(a);
}
