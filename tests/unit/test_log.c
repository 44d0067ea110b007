/* test_log.c - line format, level filtering, escaping, the request line and
 * concurrent writers of the log (log.h), written to a temporary stream. */
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "tests/unit/utilmods.h"
#include "util/log.h"
#include "util/timeutil.h"

#define TS "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"

static FILE *out;

static int setup(void)
{
    return (out = tmpfile()) == NULL ? -1 : 0;
}

static int teardown(void)
{
    pa_log_set_stream(NULL);
    pa_log_close();
    if (out != NULL)
        fclose(out);
    return 0;
}

/* Starts a test with an empty stream and the given threshold. */
static void reset(pa_log_level level)
{
    CU_ASSERT_EQUAL_FATAL(ftruncate(fileno(out), 0), 0);
    rewind(out);
    pa_log_open(level, PA_LOG_TARGET_STDERR);
    pa_log_set_stream(out);
}

/* Everything written since reset(), malloc'ed (caller frees). */
static char *written(void)
{
    long n;
    char *s;

    fflush(out);
    n = ftell(out);
    s = malloc((size_t)n + 1);
    if (s == NULL)
        return NULL;
    rewind(out);
    n = (long)fread(s, 1, (size_t)n, out);
    s[n] = '\0';
    return s;
}

static int count_lines(const char *s)
{
    int n = 0;

    for (; *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

static int matches(const char *text, const char *pattern)
{
    regex_t re;
    int ok;

    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
        return 0;
    ok = regexec(&re, text, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

static void test_line_format(void)
{
    char *s;
    int64_t ts, now;

    reset(PA_LOG_INFO);
    now = pa_time_now_ms();
    pa_log_info("listening on %s:%d", "127.0.0.1", 8080);
    s = written();
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT(matches(s, "^" TS " INFO listening on 127\\.0\\.0\\.1:8080\n$"));
    /* the timestamp is the current UTC time */
    s[24] = '\0';
    CU_ASSERT_EQUAL(pa_time_parse_iso(s, &ts), PA_OK);
    CU_ASSERT(ts >= now - 1000 && ts <= now + 5000);
    free(s);
}

static void test_levels_filter(void)
{
    char *s;

    reset(PA_LOG_WARN);
    pa_log_error("e1");
    pa_log_warn("w1");
    pa_log_info("i1");
    pa_log_debug("d1");
    CU_ASSERT(pa_log_enabled(PA_LOG_WARN));
    CU_ASSERT(!pa_log_enabled(PA_LOG_INFO));
    s = written();
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT(matches(s, "^" TS " ERROR e1\n" TS " WARN w1\n$"));
    free(s);

    reset(PA_LOG_DEBUG);
    pa_log_debug("d2");
    pa_log_info("i2");
    s = written();
    CU_ASSERT(s && matches(s, "^" TS " DEBUG d2\n" TS " INFO i2\n$"));
    free(s);

    reset(PA_LOG_ERROR);
    pa_log_warn("w3");
    pa_log_request("GetSystemStatus", "OK", 5, "::1");
    pa_log_error("e3");
    s = written();
    CU_ASSERT(s && matches(s, "^" TS " ERROR e3\n$"));
    free(s);
}

static void test_one_line_always(void)
{
    char *s, *big = malloc(3 * PA_LOG_MAX_LINE);

    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    reset(PA_LOG_INFO);
    pa_log_info("a\nb\rc\x1b[31md\x7f");
    s = written();
    CU_ASSERT(s && matches(s, "^" TS " INFO a\\\\x0ab\\\\x0dc\\\\x1b\\[31md\\\\x7f\n$"));
    free(s);

    reset(PA_LOG_INFO);
    memset(big, 'x', 3 * PA_LOG_MAX_LINE - 1);
    big[3 * PA_LOG_MAX_LINE - 1] = '\0';
    pa_log_info("%s", big);
    s = written();
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(count_lines(s), 1);
    CU_ASSERT(matches(s, "^" TS " INFO x+\\.\\.\\.\n$"));
    CU_ASSERT(strlen(s) <= 24 + 6 + PA_LOG_MAX_LINE + 1);
    CU_ASSERT(strlen(s) >= PA_LOG_MAX_LINE);
    free(s);
    free(big);
}

static void test_request_line(void)
{
    char *s;

    reset(PA_LOG_INFO);
    pa_log_request("CreateActivation", "OK", 1834, "127.0.0.1");
    pa_log_request("VerifySignature", "ERR0012", 250, "[::1]:50123");
    pa_log_request(NULL, "", -7, NULL);
    pa_log_request("Bad Op\nINFO forged", "OK", 1, "1.2.3.4 x=y");
    /* request lines are kept per thread until flushed */
    s = written();
    CU_ASSERT(s != NULL && s[0] == '\0');
    free(s);
    pa_log_flush();
    s = written();
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT(matches(s, "^" TS " INFO op=CreateActivation result=OK us=1834 "
                         "peer=127\\.0\\.0\\.1\n"
                         TS " INFO op=VerifySignature result=ERR0012 us=250 "
                         "peer=\\[::1\\]:50123\n"
                         TS " INFO op=- result=- us=0 peer=-\n"
                         TS " INFO op=Bad\\?Op\\?INFO\\?forged result=OK us=1 "
                         "peer=1\\.2\\.3\\.4\\?x\\?y\n$"));
    free(s);
}

static void test_names(void)
{
    pa_log_level l = PA_LOG_ERROR;
    pa_log_target t = PA_LOG_TARGET_STDERR;

    CU_ASSERT(pa_log_level_parse("debug", &l) == PA_OK && l == PA_LOG_DEBUG);
    CU_ASSERT(pa_log_level_parse("warn", &l) == PA_OK && l == PA_LOG_WARN);
    CU_ASSERT(pa_log_level_parse("error", &l) == PA_OK && l == PA_LOG_ERROR);
    CU_ASSERT(pa_log_level_parse("info", &l) == PA_OK && l == PA_LOG_INFO);
    CU_ASSERT_EQUAL(pa_log_level_parse("warning", &l), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_log_level_parse("", &l), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_log_level_parse(NULL, &l), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_STRING_EQUAL(pa_log_level_name(PA_LOG_WARN), "warn");
    CU_ASSERT(pa_log_target_parse("syslog", &t) == PA_OK &&
              t == PA_LOG_TARGET_SYSLOG);
    CU_ASSERT(pa_log_target_parse("stderr", &t) == PA_OK &&
              t == PA_LOG_TARGET_STDERR);
    CU_ASSERT_EQUAL(pa_log_target_parse("file", &t), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_STRING_EQUAL(pa_log_target_name(PA_LOG_TARGET_SYSLOG), "syslog");
}

/* Switching to syslog sends nothing to the stream; switching back works. */
static void test_syslog_switch(void)
{
    char *s;

    reset(PA_LOG_ERROR);
    pa_log_open(PA_LOG_ERROR, PA_LOG_TARGET_SYSLOG);
    pa_log_debug("filtered, never sent");
    pa_log_open(PA_LOG_INFO, PA_LOG_TARGET_STDERR);
    pa_log_info("back");
    s = written();
    CU_ASSERT(s && matches(s, "^" TS " INFO back\n$"));
    free(s);
}

#define THREADS 8
#define PER_THREAD 300

static void *writer(void *arg)
{
    int id = *(int *)arg;

    for (int i = 0; i < PER_THREAD; i++) {
        if (i % 2)
            pa_log_info("thread %d line %d padding-padding-padding", id, i);
        else
            pa_log_request("Op", "OK", i, "10.0.0.1");
    }
    pa_log_flush();
    return NULL;
}

static void test_threads(void)
{
    pthread_t th[THREADS];
    int ids[THREADS];
    char *s, *line, *save = NULL;
    int n = 0, bad = 0;

    reset(PA_LOG_INFO);
    for (int i = 0; i < THREADS; i++) {
        ids[i] = i;
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, writer, &ids[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    s = written();
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    for (line = strtok_r(s, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        n++;
        if (!matches(line, "^" TS " INFO (thread [0-7] line [0-9]+ "
                           "padding-padding-padding|op=Op result=OK us=[0-9]+ "
                           "peer=10\\.0\\.0\\.1)$"))
            bad++;
    }
    CU_ASSERT_EQUAL(n, THREADS * PER_THREAD);
    CU_ASSERT_EQUAL(bad, 0);
    free(s);
}

int register_log_suite(void)
{
    CU_pSuite s = CU_add_suite("log", setup, teardown);

    if (s == NULL)
        return -1;
    if (!CU_add_test(s, "line format", test_line_format) ||
        !CU_add_test(s, "levels filter", test_levels_filter) ||
        !CU_add_test(s, "one line per call", test_one_line_always) ||
        !CU_add_test(s, "request line", test_request_line) ||
        !CU_add_test(s, "level and target names", test_names) ||
        !CU_add_test(s, "syslog switch", test_syslog_switch) ||
        !CU_add_test(s, "concurrent writers", test_threads))
        return -1;
    return 0;
}
