/* timeutil: timestamps and clocks (see timeutil.h). */
#include "timeutil.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t clock_real_us(void *arg)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t clock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void ts_format(int64_t epoch_s, char out[TS_LEN + 1])
{
    time_t t = (time_t)epoch_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    char tmp[64]; /* roomy: the compiler cannot prove the fields' ranges */
    snprintf(tmp, sizeof tmp, "%04d%02d%02dT%02d%02d%02d", (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
    memcpy(out, tmp, TS_LEN);
    out[TS_LEN] = '\0';
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

bool ts_parse(const char *s, int64_t *epoch_s)
{
    if (strlen(s) < TS_LEN || s[8] != 'T')
        return false;
    int y = digits(s, 4), mo = digits(s + 4, 2), d = digits(s + 6, 2);
    int h = digits(s + 9, 2), mi = digits(s + 11, 2), se = digits(s + 13, 2);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60)
        return false;
    const char *rest = s + TS_LEN;
    if (*rest == ',' || *rest == '.') {
        rest++;
        if (*rest < '0' || *rest > '9')
            return false;
        while (*rest >= '0' && *rest <= '9')
            rest++;
    }
    if (*rest == 'Z')
        rest++;
    if (*rest != '\0')
        return false;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap))
        return false;
    /* days from civil (Howard Hinnant's algorithm) */
    int yy = mo <= 2 ? y - 1 : y;
    int era = yy / 400;
    int yoe = yy - era * 400;
    int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + doe - 719468;
    *epoch_s = days * 86400 + h * 3600 + mi * 60 + se;
    return true;
}

bool ts_parse_ms(const char *s, int64_t *epoch_ms)
{
    int64_t sec;
    if (!ts_parse(s, &sec))
        return false;
    int64_t ms = 0;
    const char *f = s + TS_LEN;
    if (*f == ',' || *f == '.') { /* ts_parse checked the digits */
        f++;
        for (int i = 0; i < 3; i++)
            ms = ms * 10 + ((f[0] >= '0' && f[0] <= '9') ? (f++)[0] - '0' : 0);
    }
    *epoch_ms = sec * 1000 + ms;
    return true;
}

void ts_format_ms(int64_t epoch_ms, char out[TS_MS_LEN + 1])
{
    int64_t sec = epoch_ms >= 0 ? epoch_ms / 1000 : (epoch_ms - 999) / 1000;
    int ms = (int)(epoch_ms - sec * 1000);
    ts_format(sec, out);
    if (ms != 0) {
        char tmp[8];
        snprintf(tmp, sizeof tmp, ",%03d", ms);
        memcpy(out + TS_LEN, tmp, 5);
    }
}

bool iso_duration_ms(const char *s, int64_t *ms_out)
{
    if (s == NULL || s[0] != 'P' || s[1] == '\0')
        return false;
    int64_t ms = 0, v = 0;
    bool time = false, digits = false;
    for (const char *p = s + 1; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            v = v * 10 + (*p - '0');
            digits = true;
            if (v > 100000000)
                return false;
            continue;
        }
        if (*p == 'T' && !time && !digits) {
            time = true;
            continue;
        }
        int64_t unit = 0;
        if (*p == 'D' && !time)
            unit = 86400000;
        else if (*p == 'H' && time)
            unit = 3600000;
        else if (*p == 'M' && time)
            unit = 60000;
        else if (*p == 'S' && time)
            unit = 1000;
        if (unit == 0 || !digits)
            return false;
        ms += v * unit;
        v = 0;
        digits = false;
    }
    if (digits)
        return false;
    *ms_out = ms;
    return true;
}
