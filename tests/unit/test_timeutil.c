/* test_timeutil.c - clocks and xs:dateTime formatting/parsing (timeutil.h). */
#include <string.h>
#include <time.h>

#include <CUnit/CUnit.h>

#include "tests/unit/utilmods.h"
#include "util/timeutil.h"

/* Instants checked against Python's datetime, not against this code. */
static const struct {
    int64_t ms;
    const char *iso;
} known[] = {
    {0, "1970-01-01T00:00:00.000Z"},
    {1795478400000LL, "2026-11-24T00:00:00.000Z"},
    {951782400000LL, "2000-02-29T00:00:00.000Z"},        /* leap day, /400 */
    {1709210096789LL, "2024-02-29T12:34:56.789Z"},       /* leap day */
    {-1, "1969-12-31T23:59:59.999Z"},
    {-14182940000LL, "1969-07-20T20:17:40.000Z"},
    {-2203891200000LL, "1900-03-01T00:00:00.000Z"},      /* 1900 not leap */
    {253402300799999LL, "9999-12-31T23:59:59.999Z"},
    {-62135596800000LL, "0001-01-01T00:00:00.000Z"},
};

static void test_format_known(void)
{
    char out[PA_TIME_ISO_BUF];

    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        CU_ASSERT_EQUAL(pa_time_format_iso(known[i].ms, out), PA_OK);
        CU_ASSERT_STRING_EQUAL(out, known[i].iso);
    }
}

static void test_format_out_of_range(void)
{
    char out[PA_TIME_ISO_BUF] = "x";

    CU_ASSERT_EQUAL(pa_time_format_iso(253402300800000LL, out),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_STRING_EQUAL(out, "");
    CU_ASSERT_EQUAL(pa_time_format_iso(-62135596800001LL, out),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_time_format_iso(INT64_MAX, out),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_time_format_iso(INT64_MIN, out),
                    PA_ERR_INVALID_INPUT_FORMAT);
}

/* Pseudo-random instants across 1902..2037 compared with gmtime_r. */
static void test_format_matches_gmtime(void)
{
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    char out[PA_TIME_ISO_BUF], want[PA_TIME_ISO_BUF + 8];

    for (int i = 0; i < 20000; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t ms = (int64_t)(x >> 1) % 4300000000000LL - 2150000000000LL;
        time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
        int frac = (int)(ms - (int64_t)secs * 1000);
        struct tm tm;
        char base[32];
        gmtime_r(&secs, &tm);
        strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(want, sizeof want, "%s.%03dZ", base, frac);
        CU_ASSERT_EQUAL_FATAL(pa_time_format_iso(ms, out), PA_OK);
        if (strcmp(out, want) != 0) {
            CU_FAIL("format differs from gmtime_r");
            break;
        }
    }
}

static void expect_parse(const char *s, int64_t want)
{
    int64_t ms = 12345;

    CU_ASSERT_EQUAL(pa_time_parse_iso(s, &ms), PA_OK);
    CU_ASSERT_EQUAL(ms, want);
}

static void test_parse_forms(void)
{
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        expect_parse(known[i].iso, known[i].ms);
    expect_parse("1970-01-01T00:00:00Z", 0);
    expect_parse("1970-01-01T00:00:00", 0);                /* no zone: UTC */
    expect_parse("1970-01-01T00:00:00.5Z", 500);
    expect_parse("1970-01-01T00:00:00.05Z", 50);
    expect_parse("1970-01-01T00:00:00.123456789Z", 123);   /* cut, not rounded */
    expect_parse("1970-01-01T00:00:00.999999Z", 999);
    expect_parse("2026-11-24T01:00:00+01:00", 1795478400000LL);
    expect_parse("2026-11-23T18:30:00-05:30", 1795478400000LL);
    expect_parse("2026-11-24T00:00:00.000+00:00", 1795478400000LL);
    expect_parse("2026-11-24T00:00:00-00:00", 1795478400000LL);
    expect_parse("2026-11-24T14:00:00+14:00", 1795478400000LL);
    expect_parse("2026-11-23T10:00:00-14:00", 1795478400000LL);
    expect_parse("2026-11-23T24:00:00Z", 1795478400000LL); /* end of day */
    expect_parse(" \t\n2026-11-24T00:00:00Z\r\n ", 1795478400000LL);
    expect_parse("2000-02-29T00:00:00Z", 951782400000LL);
    expect_parse("1969-12-31T23:59:59.999Z", -1);
    expect_parse("1969-12-31T23:59:59.9999Z", -1);
}

static void expect_reject(const char *s)
{
    int64_t ms = 777;

    CU_ASSERT_EQUAL(pa_time_parse_iso(s, &ms), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(ms, 777);
}

static void test_parse_rejects(void)
{
    static const char *const bad[] = {
        "", "   ", "garbage", "2026-11-24", "2026-11-24T00:00",
        "2026-11-24 00:00:00Z", "2026-11-24t00:00:00Z", "2026-11-24T00:00:00z",
        "2026-11-24T00:00:00.Z", "2026-11-24T00:00:00.", "2026-11-24T00:00:00ZZ",
        "2026-11-24T00:00:00Z junk", "2026-11-24T00:00:00+0100",
        "2026-11-24T00:00:00+01", "2026-11-24T00:00:00+1:00",
        "2026-11-24T00:00:00+15:00", "2026-11-24T00:00:00+14:01",
        "2026-11-24T00:00:00+01:60", "2026-13-01T00:00:00Z",
        "2026-00-10T00:00:00Z", "2026-11-00T00:00:00Z", "2026-11-31T00:00:00Z",
        "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2026-11-24T25:00:00Z",
        "2026-11-24T24:00:01Z", "2026-11-24T24:00:00.001Z",
        "2026-11-24T23:60:00Z", "2026-11-24T23:59:60Z", "0000-01-01T00:00:00Z",
        "-2026-11-24T00:00:00Z", "+2026-11-24T00:00:00Z", "20261-11-24T00:00:00Z",
        "26-11-24T00:00:00Z", "2026-1-24T00:00:00Z", "2026-11-24T0:00:00Z",
        "2026-11-24T00:00:00,5Z", "２026-11-24T00:00:00Z",
        "2026-11-24T00:00:00\x01", "1795478400000",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_reject(bad[i]);
    CU_ASSERT_EQUAL(pa_time_parse_iso(NULL, &(int64_t){0}),
                    PA_ERR_INVALID_INPUT_FORMAT);
}

static void test_round_trip(void)
{
    uint64_t x = 42;
    char out[PA_TIME_ISO_BUF];
    int64_t back;

    for (int i = 0; i < 20000; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        /* the whole 0001..9999 range */
        int64_t ms = (int64_t)(x >> 1) % 315537897600000LL - 62135596800000LL;
        CU_ASSERT_EQUAL_FATAL(pa_time_format_iso(ms, out), PA_OK);
        CU_ASSERT_EQUAL_FATAL(pa_time_parse_iso(out, &back), PA_OK);
        if (back != ms) {
            CU_FAIL("round trip changed the instant");
            break;
        }
    }
}

static void test_clocks(void)
{
    int64_t now = pa_time_now_ms(), t = (int64_t)time(NULL) * 1000;
    int64_t a = pa_time_mono_us(), b;
    struct timespec pause = {0, 2000000};

    CU_ASSERT(now >= t - 2000 && now <= t + 2000);
    nanosleep(&pause, NULL);
    b = pa_time_mono_us();
    CU_ASSERT(b - a >= 2000);
    CU_ASSERT(b - a < 10000000);
}

int register_timeutil_suite(void)
{
    CU_pSuite s = CU_add_suite("timeutil", NULL, NULL);

    if (s == NULL)
        return -1;
    if (!CU_add_test(s, "format known instants", test_format_known) ||
        !CU_add_test(s, "format out of range", test_format_out_of_range) ||
        !CU_add_test(s, "format matches gmtime_r", test_format_matches_gmtime) ||
        !CU_add_test(s, "parse forms and offsets", test_parse_forms) ||
        !CU_add_test(s, "parse rejects", test_parse_rejects) ||
        !CU_add_test(s, "round trip", test_round_trip) ||
        !CU_add_test(s, "clocks", test_clocks))
        return -1;
    return 0;
}
