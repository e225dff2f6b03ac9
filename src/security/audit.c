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

/* One run of aggregated denials, of one of two kinds:
 * - identical: the first of a run of identical denials was written as a line of its own; the ones
 *   after it within the window are only counted, and one "repeated" line says how many when the
 *   window ends (or the slot is needed, or the log is closed or reopened);
 * - per peer: the denial lines written for one peer address in the window; beyond peer_lines, its
 *   denials (identical or not) are only counted, and one "suppressed" line says how many.
 * Fixed size: an event is known by its SHA-256 and the mac of its first line, never stored. */
struct agg {
    bool used;
    bool per_peer;
    unsigned char id[32];       /* SHA-256 of the event's fields (everything but the time), or of the peer */
    char of[AUDIT_MAC_HEX + 1]; /* mac of the line written for the first one */
    char event[16];             /* the first one's event, peer and reason, for a readable summary */
    char peer[64];
    char reason[64];
    long lines;         /* per peer: denial lines written in the window */
    long repeated;      /* events since, not written */
    long long first_ms; /* CLOCK_MONOTONIC of the first one */
    char first_ts[64], last_ts[64];
};

struct audit {
    int fd;
    char *path;
    pthread_mutex_t lock;
    unsigned char key[AUDIT_KEY_LEN];
    size_t keylen;
    char prev[AUDIT_MAC_HEX + 1]; /* mac of the last line written */
    long long window_ms;          /* 0: every event is a line */
    long peer_lines;              /* denial lines per peer and window; 0: no bound */
    struct agg *agg;
    size_t nagg;
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
        /* a torn line breaks the chain anyway: a new chain starts after it (on a failed write the
         * next line joins the torn one, which verify reports the same way) */
        ssize_t w = write(fd, "\n", 1);
        (void)w;
        return;
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

static void agg_sweep(struct audit *a, bool force);

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
    agg_sweep(a, true); /* the runs' counts end in the old file, before its tail is read */
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

static void now_ts(char out[64])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Chain and write one line whose body (from '{' up to its last field) is in b. Called with the lock
 * held. One write() per line: lines never interleave, and a crash loses at most the line being
 * written. */
static void emit(struct audit *a, struct buf *b)
{
    buf_printf(b, PREV_TAG "%s\"", a->prev);
    char mac[AUDIT_MAC_HEX + 1];
    audit_mac(a->key, a->keylen, b->p, b->len, mac);
    buf_printf(b, ",\"mac\":\"%s\"}\n", mac);
    ssize_t w = write(a->fd, b->p, b->len);
    if (w == (ssize_t)b->len)
        memcpy(a->prev, mac, sizeof mac);
}

/* Close an aggregation slot: its "repeated" or "suppressed" line when events were counted. Lock
 * held. */
static void agg_close(struct audit *a, struct agg *g)
{
    if (g->repeated > 0) {
        struct buf b;
        buf_init(&b);
        char ts[64];
        now_ts(ts);
        buf_printf(&b, "{\"ts\":\"%s\",\"event\":\"%s\"", ts, g->per_peer ? "suppressed" : "repeated");
        field(&b, "of_event", g->event);
        field(&b, "peer", g->peer);
        if (g->per_peer) {
            buf_printf(&b, ",\"written\":%ld,\"suppressed\":%ld", g->lines, g->repeated);
        } else {
            field(&b, "reason", g->reason[0] ? g->reason : NULL);
            buf_printf(&b, ",\"of\":\"%s\",\"repeated\":%ld", g->of, g->repeated);
        }
        buf_printf(&b, ",\"first\":\"%s\",\"last\":\"%s\"", g->first_ts, g->last_ts);
        emit(a, &b);
        buf_free(&b);
    }
    g->used = false;
}

/* Close the slots whose window has ended (all of them with force). Lock held. */
static void agg_sweep(struct audit *a, bool force)
{
    long long now = mono_ms();
    for (size_t i = 0; i < a->nagg; i++)
        if (a->agg[i].used && (force || now - a->agg[i].first_ms >= a->window_ms))
            agg_close(a, &a->agg[i]);
}

/* Events that are aggregated: denials (what any client can cause at will, without a credential, as
 * fast as it can send). Authentication events stay one line each: every refused handshake costs the
 * client a handshake, and each one matters to someone looking for a guessed key. */
static bool aggregated(const struct audit_event *ev)
{
    return ev->event != NULL && strcmp(ev->event, "deny") == 0;
}

static void copy_trunc(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

/* The running slot of this kind with this id, or NULL. Lock held. */
static struct agg *agg_find(struct audit *a, const unsigned char id[32], bool per_peer)
{
    for (size_t i = 0; i < a->nagg; i++) {
        struct agg *g = &a->agg[i];
        if (g->used && g->per_peer == per_peer && memcmp(g->id, id, 32) == 0)
            return g;
    }
    return NULL;
}

/* A slot for a new run: a free one, or else the oldest identical run ended early, or else the oldest
 * per-peer run (its line written: more lines, never a lost count). Per-peer runs go last: ending one
 * early would give its peer a fresh budget. Lock held. */
static struct agg *agg_take(struct audit *a)
{
    struct agg *oldest = NULL;
    for (size_t i = 0; i < a->nagg; i++) {
        struct agg *g = &a->agg[i];
        if (!g->used)
            return g;
        if (oldest == NULL || (oldest->per_peer && !g->per_peer) ||
            (oldest->per_peer == g->per_peer && g->first_ms < oldest->first_ms))
            oldest = g;
    }
    agg_close(a, oldest);
    return oldest;
}

static void agg_start(struct agg *g, const unsigned char id[32], bool per_peer, const struct audit_event *ev,
                      const char *ts, const char *of)
{
    memmove(g->id, id, 32);
    g->used = true;
    g->per_peer = per_peer;
    copy_trunc(g->of, sizeof g->of, of);
    copy_trunc(g->event, sizeof g->event, ev->event);
    copy_trunc(g->peer, sizeof g->peer, ev->peer);
    copy_trunc(g->reason, sizeof g->reason, ev->reason);
    g->lines = 1;
    g->repeated = 0;
    g->first_ms = mono_ms();
    copy_trunc(g->first_ts, sizeof g->first_ts, ts);
    copy_trunc(g->last_ts, sizeof g->last_ts, ts);
}

void audit_set_aggregation(struct audit *a, long window_ms, size_t slots, long peer_lines)
{
    if (a == NULL)
        return;
    pthread_mutex_lock(&a->lock);
    agg_sweep(a, true);
    mem_free(a->agg);
    a->agg = NULL;
    a->nagg = 0;
    a->window_ms = window_ms > 0 && slots > 0 ? window_ms : 0;
    a->peer_lines = peer_lines > 0 ? peer_lines : 0;
    if (a->window_ms > 0) {
        a->agg = mem_calloc(slots, sizeof *a->agg);
        a->nagg = slots;
    }
    pthread_mutex_unlock(&a->lock);
}

void audit_tick(struct audit *a)
{
    if (a == NULL || a->window_ms == 0)
        return;
    pthread_mutex_lock(&a->lock);
    agg_sweep(a, false);
    pthread_mutex_unlock(&a->lock);
}

void audit_flush(struct audit *a)
{
    if (a == NULL)
        return;
    pthread_mutex_lock(&a->lock);
    agg_sweep(a, true);
    pthread_mutex_unlock(&a->lock);
}

void audit_record(struct audit *a, const struct audit_event *ev)
{
    if (a == NULL)
        return;
    char ts[64];
    now_ts(ts);
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "{\"ts\":\"%s\"", ts);
    size_t fields_at = b.len;
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
    struct agg *slot = NULL;
    if (a->window_ms > 0) {
        agg_sweep(a, false);
        if (aggregated(ev)) {
            unsigned char id[32], pid[32];
            gnutls_hash_fast(GNUTLS_DIG_SHA256, b.p + fields_at, b.len - fields_at, id);
            struct agg *g = agg_find(a, id, false);
            if (g != NULL) { /* the same denial again within its window: counted, not written */
                g->repeated++;
                memcpy(g->last_ts, ts, sizeof g->last_ts);
                goto done;
            }
            if (a->peer_lines > 0) {
                const char *peer = ev->peer ? ev->peer : "";
                gnutls_hash_fast(GNUTLS_DIG_SHA256, peer, strlen(peer), pid);
                struct agg *p = agg_find(a, pid, true);
                if (p != NULL && p->lines >= a->peer_lines) { /* this peer's lines for the window are used up */
                    p->repeated++;
                    memcpy(p->last_ts, ts, sizeof p->last_ts);
                    goto done;
                }
                if (p != NULL)
                    p->lines++;
                else
                    agg_start(agg_take(a), pid, true, ev, ts, NULL);
            }
            slot = agg_take(a);
            memcpy(slot->id, id, sizeof id);
        }
    }
    emit(a, &b);
    if (slot != NULL)
        agg_start(slot, slot->id, false, ev, ts, a->prev);
done:
    pthread_mutex_unlock(&a->lock);
    buf_free(&b);
}

void audit_close(struct audit *a)
{
    if (a == NULL)
        return;
    agg_sweep(a, true);
    mem_free(a->agg);
    fsync(a->fd);
    close(a->fd);
    pthread_mutex_destroy(&a->lock);
    explicit_bzero(a->key, sizeof a->key);
    mem_free(a->path);
    mem_free(a);
}
