/* log: leveled line logger; the level is checked before any formatting. Each line is one write(2)
 * of the whole line to the log's file descriptor, without a lock: lines from different threads
 * never interleave (O_APPEND files, and pipes for lines up to PIPE_BUF) and nothing waits for
 * another thread to log. The state is the struct log of the server context; there is none
 * elsewhere. */
#ifndef WARDEN_UTIL_LOG_H
#define WARDEN_UTIL_LOG_H

#include <stddef.h>
#include <stdio.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* Longest line written (with its timestamp and level); longer messages are cut. */
#define LOG_LINE_MAX 2048

struct log {
    enum log_level level;
    int fd;     /* where lines go: out's descriptor (not owned), or path's (owned) */
    char *path; /* the log file (log.path), NULL when logging to out; owned */
    int json;   /* log.format=json: one JSON object per line */
};

/* Log to out (usually stderr); out stays the caller's. */
void log_init(struct log *lg, enum log_level level, FILE *out);
/* Log to the file at path instead (created 0640 if missing, appended to). Returns 0, or -1 with a
 * message naming log.path in err. */
int log_open_file(struct log *lg, const char *path, char *err, size_t errlen);
/* Open the log file again at its path (SIGHUP, after logrotate moved it): later lines go to the
 * new file, atomically for every thread (dup2). No-op when logging to a stream. Returns 0, or -1
 * with err set, the old file being kept. */
int log_reopen(struct log *lg, char *err, size_t errlen);
void log_destroy(struct log *lg);
/* Parse "error|warn|info|debug"; returns -1 when unknown. */
int log_level_parse(const char *s);
/* Write JSON lines from now on: {"ts":"TIMESTAMP","level":"LEVEL","msg":"message"} (log.format). */
void log_set_json(struct log *lg, int json);
/* One line: "TIMESTAMP LEVEL message\n", or the JSON object above. Control characters in the message (a newline from a
 * request's data would forge a line) are written as '?'. */
void log_write(struct log *lg, enum log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define LOG_ON(lg, lvl) ((lg) != NULL && (lvl) <= (lg)->level)
#define LOG(lg, lvl, ...)                                                                                              \
    do {                                                                                                               \
        if (LOG_ON(lg, lvl))                                                                                           \
            log_write((lg), (lvl), __VA_ARGS__);                                                                       \
    } while (0)

#endif
