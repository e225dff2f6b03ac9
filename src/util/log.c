/* log: leveled logger writing whole lines under a lock (see log.h). */
#include "log.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

void log_init(struct log *lg, enum log_level level, FILE *out)
{
    lg->level = level;
    lg->out = out;
    pthread_mutex_init(&lg->lock, NULL);
}

void log_destroy(struct log *lg)
{
    if (lg->out)
        fflush(lg->out);
    pthread_mutex_destroy(&lg->lock);
}

int log_level_parse(const char *s)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

void log_write(struct log *lg, enum log_level level, const char *fmt, ...)
{
    static const char *tags[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, tags[level]);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line)
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&lg->lock);
    fputs(line, lg->out);
    fputc('\n', lg->out);
    if (level <= LOG_WARN)
        fflush(lg->out);
    pthread_mutex_unlock(&lg->lock);
}
