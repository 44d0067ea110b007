/*
 * timeutil.c - clocks and xs:dateTime conversion, see timeutil.h.
 *
 * Calendar arithmetic is done here in the proleptic Gregorian calendar
 * (which is what xs:dateTime uses) by counting days from 0001-01-01, so
 * that neither TZ nor the C library's time_t range matters.
 */
#include <string.h>
#include <time.h>

#include "util/timeutil.h"

#define MS_PER_DAY 86400000LL
/* Days from 0001-01-01 to 1970-01-01. */
#define EPOCH_DAY 719162LL
#define MAX_OFFSET_MIN (14 * 60)

int64_t pa_time_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t pa_time_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Days from 0001-01-01 to January 1st of year y (y >= 1). */
static int64_t days_before_year(int64_t y)
{
    int64_t p = y - 1;

    return 365 * p + p / 4 - p / 100 + p / 400;
}

/* Days from 1970-01-01 to the given date (valid date, year >= 1). */
static int64_t epoch_days(int64_t y, int m, int d)
{
    int64_t n = days_before_year(y);

    for (int i = 1; i < m; i++)
        n += days_in_month(y, i);
    return n + d - 1 - EPOCH_DAY;
}

/* Inverse of epoch_days for day numbers at or after 0001-01-01. */
static void civil_date(int64_t days, int64_t *y, int *m, int *d)
{
    int64_t n = days + EPOCH_DAY;          /* days since 0001-01-01 */
    int64_t year = n * 400 / 146097 + 1;   /* within one of the answer */

    while (days_before_year(year + 1) <= n)
        year++;
    while (days_before_year(year) > n)
        year--;
    n -= days_before_year(year);
    int month = 1;
    while (n >= days_in_month(year, month))
        n -= days_in_month(year, month++);
    *y = year;
    *m = month;
    *d = (int)n + 1;
}

/* Writes v as exactly `width` decimal digits followed by `after`. */
static char *put_num(char *p, int v, int width, char after)
{
    for (int k = width - 1; k >= 0; k--, v /= 10)
        p[k] = (char)('0' + v % 10);
    p[width] = after;
    return p + width + 1;
}

pa_err pa_time_format_iso(int64_t ms, char out[PA_TIME_ISO_BUF])
{
    /* Floor division, so instants before 1970 land on the right day. */
    int64_t days = ms / MS_PER_DAY, rem = ms % MS_PER_DAY;
    int64_t y;
    int mo, d, secs;
    char *p = out;

    if (rem < 0) {
        rem += MS_PER_DAY;
        days--;
    }
    out[0] = '\0';
    /* Range checked on the day number, so the year search cannot overflow. */
    if (days < -EPOCH_DAY || days >= epoch_days(10000, 1, 1))
        return PA_ERR_INVALID_INPUT_FORMAT;
    civil_date(days, &y, &mo, &d);
    secs = (int)(rem / 1000);
    p = put_num(p, (int)y, 4, '-');
    p = put_num(p, mo, 2, '-');
    p = put_num(p, d, 2, 'T');
    p = put_num(p, secs / 3600, 2, ':');
    p = put_num(p, secs / 60 % 60, 2, ':');
    p = put_num(p, secs % 60, 2, '.');
    p = put_num(p, (int)(rem % 1000), 3, 'Z');
    *p = '\0';
    return PA_OK;
}

/* --- parsing ------------------------------------------------------------- */

static int is_xml_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Reads exactly n decimal digits at *p into *v and advances *p. */
static int digits(const char **p, int n, int *v)
{
    int r = 0;

    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return 0;
        r = r * 10 + (c - '0');
    }
    *p += n;
    *v = r;
    return 1;
}

/* Reads a literal character. */
static int expect(const char **p, char c)
{
    if (**p != c)
        return 0;
    (*p)++;
    return 1;
}

/* Optional fraction: '.' then one or more digits; milliseconds cut. */
static int fraction(const char **p, int *millis)
{
    int n = 0, v = 0;

    *millis = 0;
    if (**p != '.')
        return 1;
    (*p)++;
    while (**p >= '0' && **p <= '9') {
        if (n < 3)
            v = v * 10 + (**p - '0');
        n++;
        (*p)++;
    }
    if (n == 0)
        return 0;
    for (int i = n; i < 3; i++)
        v *= 10;
    *millis = v;
    return 1;
}

/* Optional zone: 'Z', [+-]hh:mm or nothing (UTC).  Minutes east of UTC. */
static int zone(const char **p, int *offset_min)
{
    int sign, hh, mm;

    *offset_min = 0;
    if (**p == 'Z') {
        (*p)++;
        return 1;
    }
    if (**p != '+' && **p != '-')
        return 1;
    sign = **p == '-' ? -1 : 1;
    (*p)++;
    if (!digits(p, 2, &hh) || !expect(p, ':') || !digits(p, 2, &mm))
        return 0;
    if (mm > 59 || hh * 60 + mm > MAX_OFFSET_MIN)
        return 0;
    *offset_min = sign * (hh * 60 + mm);
    return 1;
}

pa_err pa_time_parse_iso(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec, millis, off;
    const char *p = s;

    if (s == NULL || ms == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    while (is_xml_space(*p))
        p++;
    if (!digits(&p, 4, &y) || !expect(&p, '-') || !digits(&p, 2, &mo) ||
        !expect(&p, '-') || !digits(&p, 2, &d) || !expect(&p, 'T') ||
        !digits(&p, 2, &h) || !expect(&p, ':') || !digits(&p, 2, &mi) ||
        !expect(&p, ':') || !digits(&p, 2, &sec) || !fraction(&p, &millis) ||
        !zone(&p, &off))
        return PA_ERR_INVALID_INPUT_FORMAT;
    while (is_xml_space(*p))
        p++;
    if (*p != '\0')
        return PA_ERR_INVALID_INPUT_FORMAT;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return PA_ERR_INVALID_INPUT_FORMAT;
    /* 24:00:00 is allowed only as the exact end of the day. */
    if (h == 24 ? (mi | sec | millis) != 0 : (h > 23 || mi > 59 || sec > 59))
        return PA_ERR_INVALID_INPUT_FORMAT;
    *ms = epoch_days(y, mo, d) * MS_PER_DAY +
          ((int64_t)h * 3600 + mi * 60 + sec) * 1000 + millis -
          (int64_t)off * 60000;
    return PA_OK;
}
