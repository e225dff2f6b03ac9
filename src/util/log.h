/* log: leveled line logger; the level is checked before any formatting. */
#ifndef WARDEN_UTIL_LOG_H
#define WARDEN_UTIL_LOG_H

#include <pthread.h>
#include <stdio.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

struct log {
    enum log_level level;
    FILE *out; /* not owned */
    pthread_mutex_t lock;
};

void log_init(struct log *lg, enum log_level level, FILE *out);
void log_destroy(struct log *lg);
/* Parse "error|warn|info|debug"; returns -1 when unknown. */
int log_level_parse(const char *s);
void log_write(struct log *lg, enum log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define LOG_ON(lg, lvl) ((lg) != NULL && (lvl) <= (lg)->level)
#define LOG(lg, lvl, ...)                                                                                              \
    do {                                                                                                               \
        if (LOG_ON(lg, lvl))                                                                                           \
            log_write((lg), (lvl), __VA_ARGS__);                                                                       \
    } while (0)

#endif
