/* timeutil: oneM2M timestamps (ISO 8601 basic, UTC) and a replaceable clock. */
#ifndef WARDEN_UTIL_TIMEUTIL_H
#define WARDEN_UTIL_TIMEUTIL_H

#include <stdbool.h>
#include <stdint.h>

#define TS_LEN 15 /* "YYYYMMDDTHHMMSS" */

/* A clock: now() in microseconds since the Unix epoch. Tests substitute their own. */
struct clock {
    int64_t (*now_us)(void *arg);
    void *arg;
};

int64_t clock_real_us(void *arg);
int64_t clock_mono_us(void);
static inline int64_t clock_now_us(const struct clock *c)
{
    return c->now_us(c->arg);
}

/* Format seconds since the epoch as "YYYYMMDDTHHMMSS" into out[TS_LEN + 1]. */
void ts_format(int64_t epoch_s, char out[TS_LEN + 1]);
/* Parse "YYYYMMDDTHHMMSS" with an optional ",ffffff" fraction and optional "Z".
 * Returns false on any other form or an impossible date. */
bool ts_parse(const char *s, int64_t *epoch_s /* OUT */);

#define TS_MS_LEN 19 /* "YYYYMMDDTHHMMSS,mmm" */
/* The same with milliseconds: ts_parse_ms keeps the fraction's first three digits; ts_format_ms
 * writes ",mmm" only when the milliseconds are not 0, so whole seconds look like ts_format's. */
bool ts_parse_ms(const char *s, int64_t *epoch_ms /* OUT */);
void ts_format_ms(int64_t epoch_ms, char out[TS_MS_LEN + 1]);

/* An ISO 8601 duration of days, hours, minutes and seconds ("PT5S", "P1DT2H", "PT1M30S") in
 * milliseconds. Returns false for anything else (years, months, weeks and fractions included). */
bool iso_duration_ms(const char *s, int64_t *ms /* OUT */);

#endif
