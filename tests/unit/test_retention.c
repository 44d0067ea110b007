/*
 * test_retention.c - unit tests of the retention purge
 * (src/service/retention.c): pa_retention_pass on chosen timestamps and the
 * thread.
 *
 * Every test runs on a fresh migrated SQLite file in its own temporary
 * directory holding one application with a master key pair and two
 * activations; audit and history rows are written through the store API
 * with chosen timestamps.  What is left is counted with raw SQL on a
 * separate connection, independently of the store code.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <CUnit/Basic.h>

#include "cunit_status.h"
#include <CUnit/CUnit.h>
#include <sqlite3.h>

#include "service/retention.h"
#include "store/store.h"
#include "tests/unit/tempdb.h"
#include "util/config.h"
#include "util/err.h"
#include "util/log.h"
#include "util/timeutil.h"

#define ACT1 "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a41"
#define ACT2 "7a2d3b4c-5e6f-4a71-9b8c-0d1e2f3a4b52"

/* A fixed "now" for the pass tests. */
#define NOW 1700000000000LL

static char dir[PATH_MAX - 64];
static char path[PATH_MAX];
static pa_store *db;
static int64_t app_id, keypair_id;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int64_t mono_ms(void)
{
    return pa_time_mono_us() / 1000;
}

/* ---- fixtures ---------------------------------------------------------------- */

static void add_activation(const char *id, int64_t created_ms)
{
    pa_store_activation a;

    memset(&a, 0, sizeof a);
    a.activation_id = (char *)id;
    a.application_id = app_id;
    a.user_id = (char *)"user-1";
    a.activation_code = (char *)"AAAAA-AAAAA-AAAAA-AAAAA";
    a.status = PA_STATUS_ACTIVE;
    a.server_private_key = (char *)"AQID";
    a.server_public_key = (char *)"BAUG";
    a.max_failed_attempts = 5;
    a.master_keypair_id = keypair_id;
    a.created_ms = created_ms;
    a.expire_ms = created_ms + 120000;
    a.last_used_ms = created_ms;
    a.last_change_ms = created_ms;
    a.has_last_change = 1;
    a.version = 3;
    if (pa_store_activation_insert(db, &a) != PA_OK) {
        fprintf(stderr, "setup: %s\n", pa_store_last_error());
        abort();
    }
}

static void setup(void)
{
    pa_tempdb_make("pa-ret", dir, sizeof dir, path, sizeof path);
    if (pa_store_migrate(path, NULL) != PA_OK ||
        pa_store_open(path, NULL, &db) != PA_OK ||
        pa_store_application_create(db, "ret-app", &app_id) != PA_OK ||
        pa_store_master_keypair_create(db, app_id, "kp", "MPRIV", "MPUB", 1,
                                       &keypair_id) != PA_OK) {
        fprintf(stderr, "setup: %s\n", pa_store_last_error());
        abort();
    }
    /* activations far older than any retention a test uses */
    add_activation(ACT1, 1000);
    add_activation(ACT2, 2000);
}

static void teardown(void)
{
    pa_retention_stop();
    pa_store_close(db);
    db = NULL;
    pa_tempdb_remove(dir, path);
}

/* Defaults on this test's database. */
static void test_cfg(pa_config *c)
{
    if (pa_config_defaults(c) != PA_OK)
        abort();
    free(c->database);
    c->database = strdup(path);
    if (c->database == NULL)
        abort();
}

static void add_audit(const char *activation_id, int64_t created_ms)
{
    pa_store_audit a;

    memset(&a, 0, sizeof a);
    a.activation_id = (char *)activation_id;
    a.activation_counter = 1;
    a.activation_status = PA_STATUS_ACTIVE;
    a.signature_type = (char *)"POSSESSION_KNOWLEDGE";
    a.signature = (char *)"12345678-12345678";
    a.valid = 1;
    a.note = (char *)"Signature was valid";
    a.created_ms = created_ms;
    a.version = 3;
    a.signature_version = (char *)"3.1";
    CU_ASSERT_EQUAL_FATAL(pa_store_audit_add(db, &a, NULL), PA_OK);
}

static void add_history(const char *activation_id, int64_t created_ms)
{
    CU_ASSERT_EQUAL_FATAL(pa_store_history_add(db, activation_id,
                                               PA_STATUS_ACTIVE, NULL, NULL,
                                               created_ms), PA_OK);
}

/* The same timestamps in both tables, alternating the activations, in
 * one transaction. */
static void add_both(const int64_t *ts, size_t n)
{
    CU_ASSERT_EQUAL_FATAL(pa_store_begin(db), PA_OK);
    for (size_t i = 0; i < n; i++) {
        add_audit(i % 2 ? ACT2 : ACT1, ts[i]);
        add_history(i % 2 ? ACT2 : ACT1, ts[i]);
    }
    CU_ASSERT_EQUAL_FATAL(pa_store_commit(db), PA_OK);
}

/* ---- independent checks (raw SQL on a separate connection) ------------------- */

/* The single integer answer of a query; -1 on failure or no row, -2 for
 * NULL. */
static long long q_int(const char *sql)
{
    sqlite3 *c = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;

    if (sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_type(st, 0) == SQLITE_NULL
                ? -2 : sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(c);
    return v;
}

static long long q_intf(const char *fmt, long long arg)
{
    char sql[256];

    snprintf(sql, sizeof sql, fmt, arg);
    return q_int(sql);
}

static long long audit_rows(void)
{
    return q_int("SELECT COUNT(*) FROM pa_signature_audit");
}

static long long history_rows(void)
{
    return q_int("SELECT COUNT(*) FROM pa_activation_history");
}

static long long audit_before(long long cut)
{
    return q_intf("SELECT COUNT(*) FROM pa_signature_audit "
                  "WHERE timestamp_created < %lld", cut);
}

static long long history_before(long long cut)
{
    return q_intf("SELECT COUNT(*) FROM pa_activation_history "
                  "WHERE timestamp_created < %lld", cut);
}

/* The fixture's application, key pair and both activations are there,
 * unchanged. */
static void assert_fixture_intact(void)
{
    CU_ASSERT_EQUAL(q_int("SELECT COUNT(*) FROM pa_application"), 1);
    CU_ASSERT_EQUAL(q_int("SELECT COUNT(*) FROM pa_master_keypair"), 1);
    CU_ASSERT_EQUAL(q_int("SELECT COUNT(*) FROM pa_activation"), 2);
    CU_ASSERT_EQUAL(q_int("SELECT COUNT(*) FROM pa_activation WHERE "
                          "activation_id IN ('" ACT1 "', '" ACT2 "') AND "
                          "activation_status = 3 AND timestamp_created IN "
                          "(1000, 2000)"), 2);
}

/* No transaction was left open on db. */
static void assert_no_transaction(void)
{
    CU_ASSERT_EQUAL(pa_store_begin(db), PA_OK);
    CU_ASSERT_EQUAL(pa_store_rollback(db), PA_OK);
}

/* Polls cond every 5 ms for up to timeout_ms, then asserts it. */
#define CHECK_SOON(cond, timeout_ms)                                        \
    do {                                                                    \
        int64_t until_ = pa_time_now_ms() + (timeout_ms);                   \
        while (!(cond) && pa_time_now_ms() < until_)                        \
            sleep_ms(5);                                                    \
        CU_ASSERT(cond);                                                    \
    } while (0)

/* ---- the log ------------------------------------------------------------------ */

static FILE *logf_;

static void log_capture(void)
{
    logf_ = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(logf_);
    pa_log_open(PA_LOG_DEBUG, PA_LOG_TARGET_STDERR);
    pa_log_set_stream(logf_);
}

/* Ends the capture; the text, malloc'ed. */
static char *log_text(void)
{
    long n;
    char *s;

    pa_log_set_stream(NULL);
    pa_log_open(PA_LOG_WARN, PA_LOG_TARGET_STDERR);
    fflush(logf_);
    n = ftell(logf_);
    rewind(logf_);
    s = calloc(1, (size_t)n + 1);
    if (s != NULL && fread(s, 1, (size_t)n, logf_) != (size_t)n)
        s[0] = '\0';
    fclose(logf_);
    logf_ = NULL;
    if (s != NULL && getenv("PA_TEST_SHOW_LOG") != NULL)
        fputs(s, stderr);
    return s;
}

static int count_of(const char *text, const char *needle)
{
    int n = 0;

    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* ---- pa_retention_pass --------------------------------------------------------- */

/* Timestamps around NOW used by several tests. */
static const int64_t around[] = {
    1, NOW - 86400000, NOW - 5000, NOW - 2001, NOW - 2000, NOW - 1999,
    NOW - 1001, NOW - 1000, NOW - 999, NOW, NOW + 5000,
};
#define AROUND (sizeof around / sizeof *around)

/* Both retentions 0 (the default): a pass deletes nothing, and the thread
 * is not started. */
static void test_off(void)
{
    pa_config cfg;
    int64_t a = -1, h = -1;
    char *log;

    add_both(around, AROUND);
    test_cfg(&cfg);
    CU_ASSERT_EQUAL(cfg.audit_retention_ms, 0);
    CU_ASSERT_EQUAL(cfg.history_retention_ms, 0);
    cfg.retention_purge_batch = 2;
    log_capture();
    CU_ASSERT_EQUAL(pa_retention_pass(db, &cfg, NOW, &a, &h), PA_OK);
    log = log_text();
    CU_ASSERT_EQUAL(a, 0);
    CU_ASSERT_EQUAL(h, 0);
    CU_ASSERT_EQUAL(audit_rows(), (long long)AROUND);
    CU_ASSERT_EQUAL(history_rows(), (long long)AROUND);
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    CU_ASSERT_EQUAL(count_of(log, "retention purge"), 0);
    free(log);

    cfg.retention_purge_interval_ms = 50;
    CU_ASSERT_EQUAL(pa_retention_start(&cfg), PA_OK);
    CU_ASSERT_EQUAL(pa_retention_running(), 0);
    sleep_ms(200);
    pa_retention_stop();
    CU_ASSERT_EQUAL(audit_rows(), (long long)AROUND);
    CU_ASSERT_EQUAL(history_rows(), (long long)AROUND);
    assert_fixture_intact();
    assert_no_transaction();
    pa_config_free(&cfg);
}

/* Audit retention only: the audit rows created before NOW - 1000 go, the
 * row exactly at the cut and newer ones stay, history is untouched. */
static void test_audit_only(void)
{
    pa_config cfg;
    int64_t a = -1, h = -1;

    add_both(around, AROUND);
    test_cfg(&cfg);
    cfg.audit_retention_ms = 1000;
    CU_ASSERT_EQUAL(pa_retention_pass(db, &cfg, NOW, &a, &h), PA_OK);
    CU_ASSERT_EQUAL(a, 7);
    CU_ASSERT_EQUAL(h, 0);
    CU_ASSERT_EQUAL(audit_rows(), 4);
    CU_ASSERT_EQUAL(audit_before(NOW - 1000), 0);
    CU_ASSERT_EQUAL(q_int("SELECT MIN(timestamp_created) FROM "
                          "pa_signature_audit"), NOW - 1000);
    CU_ASSERT_EQUAL(history_rows(), (long long)AROUND);
    /* a second pass finds nothing more */
    CU_ASSERT_EQUAL(pa_retention_pass(db, &cfg, NOW, &a, NULL), PA_OK);
    CU_ASSERT_EQUAL(a, 0);
    CU_ASSERT_EQUAL(audit_rows(), 4);
    assert_fixture_intact();
    assert_no_transaction();
    pa_config_free(&cfg);
}

/* History retention only: the mirror image. */
static void test_history_only(void)
{
    pa_config cfg;
    int64_t a = -1, h = -1;

    add_both(around, AROUND);
    test_cfg(&cfg);
    cfg.history_retention_ms = 2000;
    CU_ASSERT_EQUAL(pa_retention_pass(db, &cfg, NOW, &a, &h), PA_OK);
    CU_ASSERT_EQUAL(a, 0);
    CU_ASSERT_EQUAL(h, 4);
    CU_ASSERT_EQUAL(history_rows(), (long long)AROUND - 4);
    CU_ASSERT_EQUAL(history_before(NOW - 2000), 0);
    CU_ASSERT_EQUAL(q_int("SELECT MIN(timestamp_created) FROM "
                          "pa_activation_history"), NOW - 2000);
    CU_ASSERT_EQUAL(audit_rows(), (long long)AROUND);
    assert_fixture_intact();
    assert_no_transaction();
    pa_config_free(&cfg);
}

/* Batches much smaller than the backlog: every old row goes (including a
 * backlog that is an exact multiple of the batch), every new one stays;
 * one INFO line with the totals; a pass deleting nothing logs nothing. */
static void test_batches(void)
{
    pa_config cfg;
    int64_t a = -1, h = -1, t0;
    char *log;

    /* audit: 13 old (several in one millisecond), 3 kept */
    CU_ASSERT_EQUAL_FATAL(pa_store_begin(db), PA_OK);
    for (int i = 0; i < 13; i++)
        add_audit(i % 2 ? ACT2 : ACT1, NOW - 10000 - (i % 4));
    add_audit(ACT1, NOW - 10000 + 5000); /* exactly at the cut */
    add_audit(ACT2, NOW);
    add_audit(ACT1, NOW - 4999);
    /* history: 9 old (three full batches), 2 kept */
    for (int i = 0; i < 9; i++)
        add_history(i % 2 ? ACT2 : ACT1, NOW - 60000 - i);
    add_history(ACT1, NOW - 7000); /* exactly at the cut */
    add_history(ACT2, NOW - 1);
    CU_ASSERT_EQUAL_FATAL(pa_store_commit(db), PA_OK);

    test_cfg(&cfg);
    cfg.audit_retention_ms = 5000;
    cfg.history_retention_ms = 7000;
    cfg.retention_purge_batch = 3;
    log_capture();
    t0 = mono_ms();
    CU_ASSERT_EQUAL(pa_retention_pass(db, &cfg, NOW, &a, &h), PA_OK);
    t0 = mono_ms() - t0;
    log = log_text();
    CU_ASSERT_EQUAL(a, 13);
    CU_ASSERT_EQUAL(h, 9);
    CU_ASSERT_EQUAL(audit_rows(), 3);
    CU_ASSERT_EQUAL(history_rows(), 2);
    CU_ASSERT_EQUAL(audit_before(NOW - 5000), 0);
    CU_ASSERT_EQUAL(history_before(NOW - 7000), 0);
    CU_ASSERT_EQUAL(q_int("SELECT COUNT(*) FROM pa_signature_audit WHERE "
                          "timestamp_created IN (1699999995000, "
                          "1700000000000, 1699999995001)"), 3);
    CU_ASSERT_EQUAL(q_int("SELECT COUNT(*) FROM pa_activation_history WHERE "
                          "timestamp_created IN (1699999993000, "
                          "1699999999999)"), 2);
    /* 5 audit batches (3 3 3 3 1) and 4 history batches (3 3 3 0), with a
     * pause after each full one */
    CU_ASSERT(t0 >= 7 * 90);
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    CU_ASSERT_EQUAL(count_of(log, "retention purge"), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "deleted 13 signature audit rows "
                                       "created before "
                                       "2023-11-14T22:13:15.000Z"));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "and 9 activation history rows "
                                       "created before "
                                       "2023-11-14T22:13:13.000Z"));
    free(log);

    log_capture();
    CU_ASSERT_EQUAL(pa_retention_pass(db, &cfg, NOW, &a, &h), PA_OK);
    log = log_text();
    CU_ASSERT_EQUAL(a, 0);
    CU_ASSERT_EQUAL(h, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    CU_ASSERT_EQUAL(count_of(log, "retention purge"), 0);
    free(log);
    assert_fixture_intact();
    assert_no_transaction();
    pa_config_free(&cfg);
}

/* Retentions of 1 ms against rows of every age: every audit and history
 * row goes, the application, key pair and activations - far older - stay. */
static void test_activations_kept(void)
{
    pa_config cfg;
    int64_t a = -1, h = -1;

    add_both(around, AROUND);
    test_cfg(&cfg);
    cfg.audit_retention_ms = 1;
    cfg.history_retention_ms = 1;
    cfg.retention_purge_batch = 4;
    CU_ASSERT_EQUAL(pa_retention_pass(db, &cfg, INT64_MAX, &a, &h), PA_OK);
    CU_ASSERT_EQUAL(a, (int64_t)AROUND);
    CU_ASSERT_EQUAL(h, (int64_t)AROUND);
    CU_ASSERT_EQUAL(audit_rows(), 0);
    CU_ASSERT_EQUAL(history_rows(), 0);
    assert_fixture_intact();
    /* the activations still take new rows */
    add_audit(ACT1, NOW);
    add_history(ACT2, NOW);
    CU_ASSERT_EQUAL(audit_rows(), 1);
    CU_ASSERT_EQUAL(history_rows(), 1);
    pa_config_free(&cfg);
}

/* Bad settings are refused before anything is deleted; a retention longer
 * than the epoch is harmless. */
static void test_bad_settings(void)
{
    pa_config cfg;
    int64_t a = -1, h = -1;

    add_both(around, AROUND);
    test_cfg(&cfg);
    cfg.audit_retention_ms = 1000;
    cfg.history_retention_ms = 1000;
    cfg.retention_purge_batch = 0;
    CU_ASSERT_EQUAL(pa_retention_pass(db, &cfg, NOW, &a, &h),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(a, 0);
    CU_ASSERT_EQUAL(h, 0);
    cfg.retention_purge_batch = 10;
    cfg.audit_retention_ms = -1;
    CU_ASSERT_EQUAL(pa_retention_pass(db, &cfg, NOW, &a, &h),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_retention_pass(NULL, &cfg, NOW, &a, &h),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(audit_rows(), (long long)AROUND);
    CU_ASSERT_EQUAL(history_rows(), (long long)AROUND);
    /* now - retention below INT64_MIN: nothing is that old */
    cfg.audit_retention_ms = INT64_MAX;
    cfg.history_retention_ms = INT64_MAX;
    CU_ASSERT_EQUAL(pa_retention_pass(db, &cfg, -5, &a, &h), PA_OK);
    CU_ASSERT_EQUAL(a, 0);
    CU_ASSERT_EQUAL(h, 0);
    CU_ASSERT_EQUAL(audit_rows(), (long long)AROUND);
    CU_ASSERT_EQUAL(history_rows(), (long long)AROUND);
    assert_no_transaction();
    pa_config_free(&cfg);
}

/* ---- the thread ------------------------------------------------------------------ */

/* Started with a short interval: the first pass runs at once and works a
 * backlog larger than one batch off, later passes find rows that became
 * old in the meantime, new rows stay, and it stops promptly. */
static void test_thread(void)
{
    pa_config cfg;
    int64_t now = pa_time_now_ms(), future = now + 3600000, t0;
    char *log;

    CU_ASSERT_EQUAL_FATAL(pa_store_begin(db), PA_OK);
    for (int i = 0; i < 5; i++) {
        add_audit(ACT1, now - 120000 - i);
        add_history(ACT2, now - 120000 - i);
    }
    add_audit(ACT2, future);
    add_history(ACT1, future);
    CU_ASSERT_EQUAL_FATAL(pa_store_commit(db), PA_OK);
    test_cfg(&cfg);
    cfg.audit_retention_ms = 60000;
    cfg.history_retention_ms = 30000;
    cfg.retention_purge_interval_ms = 300;
    cfg.retention_purge_batch = 2;
    CU_ASSERT_EQUAL_FATAL(pa_retention_start(&cfg), PA_OK);
    CU_ASSERT_EQUAL(pa_retention_running(), 1);
    /* a second start is refused while it runs */
    log_capture();
    CU_ASSERT_NOT_EQUAL(pa_retention_start(&cfg), PA_OK);
    log = log_text();
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "retention purge: already running"));
    free(log);
    CHECK_SOON(audit_rows() == 1 && history_rows() == 1, 3000);

    /* rows that are old by the next pass */
    now = pa_time_now_ms();
    add_audit(ACT1, now - 60001);
    add_history(ACT2, now - 30001);
    add_history(ACT2, now - 30002);
    CHECK_SOON(audit_rows() == 1 && history_rows() == 1, 3000);
    CU_ASSERT_EQUAL(q_intf("SELECT COUNT(*) FROM pa_signature_audit WHERE "
                           "timestamp_created = %lld", (long long)future), 1);
    CU_ASSERT_EQUAL(q_intf("SELECT COUNT(*) FROM pa_activation_history WHERE "
                           "timestamp_created = %lld", (long long)future), 1);
    t0 = mono_ms();
    pa_retention_stop();
    CU_ASSERT(mono_ms() - t0 < 1000);
    CU_ASSERT_EQUAL(pa_retention_running(), 0);
    /* stopped: old rows stay */
    add_audit(ACT1, 1);
    sleep_ms(500);
    CU_ASSERT_EQUAL(audit_rows(), 2);
    assert_fixture_intact();
    pa_config_free(&cfg);
}

/* Stop returns within a second both while the thread waits for its next
 * pass (a long interval) and in the middle of a backlog (between two
 * batches), leaving the rest for later. */
static void test_stop_promptly(void)
{
    pa_config cfg;
    int64_t t0;
    long long left;

    test_cfg(&cfg);
    cfg.audit_retention_ms = 1000;
    /* long enough that a wait which ignores stop shows */
    cfg.retention_purge_interval_ms = 5000;
    cfg.retention_purge_batch = 1;
    CU_ASSERT_EQUAL_FATAL(pa_retention_start(&cfg), PA_OK);
    sleep_ms(300);
    t0 = mono_ms();
    pa_retention_stop();
    CU_ASSERT(mono_ms() - t0 < 1000);
    CU_ASSERT_EQUAL(pa_retention_running(), 0);

    /* 60 batches of one row with a pause after each: several seconds */
    CU_ASSERT_EQUAL_FATAL(pa_store_begin(db), PA_OK);
    for (int i = 0; i < 60; i++)
        add_audit(ACT1, 10 + i);
    CU_ASSERT_EQUAL_FATAL(pa_store_commit(db), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_retention_start(&cfg), PA_OK);
    CHECK_SOON(audit_rows() <= 57, 3000);
    t0 = mono_ms();
    pa_retention_stop();
    CU_ASSERT(mono_ms() - t0 < 1000);
    left = audit_rows();
    CU_ASSERT(left > 0 && left <= 57);
    /* oldest first */
    CU_ASSERT_EQUAL(q_int("SELECT MIN(timestamp_created) FROM "
                          "pa_signature_audit"), 10 + 60 - left);
    sleep_ms(300);
    CU_ASSERT_EQUAL(audit_rows(), left);
    assert_fixture_intact();
    assert_no_transaction();
    pa_config_free(&cfg);
}

/* A start that cannot work fails, logged, and starts nothing. */
static void test_start_failure(void)
{
    pa_config cfg;
    char *log;

    log_capture();
    test_cfg(&cfg);
    cfg.audit_retention_ms = 1000;
    free(cfg.database);
    cfg.database = strdup("/nonexistent-dir/none.db");
    CU_ASSERT_NOT_EQUAL(pa_retention_start(&cfg), PA_OK);
    CU_ASSERT_EQUAL(pa_retention_running(), 0);
    pa_retention_stop();
    pa_config_free(&cfg);

    test_cfg(&cfg);
    cfg.history_retention_ms = 1000;
    cfg.retention_purge_batch = 0;
    CU_ASSERT_EQUAL(pa_retention_start(&cfg), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_retention_running(), 0);
    cfg.retention_purge_batch = 5;
    cfg.retention_purge_interval_ms = 0;
    CU_ASSERT_EQUAL(pa_retention_start(&cfg), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_retention_running(), 0);
    cfg.retention_purge_interval_ms = 1000;
    cfg.audit_retention_ms = -1;
    CU_ASSERT_EQUAL(pa_retention_start(&cfg), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_retention_running(), 0);
    pa_config_free(&cfg);
    log = log_text();
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    CU_ASSERT_EQUAL(count_of(log, " ERROR retention purge: "), 4);
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "/nonexistent-dir/none.db"));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "retention_purge_batch must be "
                                       "positive"));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "retention_purge_interval_ms must be "
                                       "positive"));
    CU_ASSERT_EQUAL(count_of(log, "retention purge started"), 0);
    free(log);
}

/* ---- main ------------------------------------------------------------------- */

typedef struct {
    const char *name;
    CU_TestFunc fn;
} test_def;

static int add_suite(const char *name, const test_def *t, size_t n)
{
    CU_pSuite s = CU_add_suite_with_setup_and_teardown(name, NULL, NULL,
                                                       setup, teardown);

    if (!s)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!CU_add_test(s, t[i].name, t[i].fn))
            return -1;
    return 0;
}

#define ADD(name, arr) add_suite(name, arr, sizeof arr / sizeof *arr)

int main(void)
{
    static const test_def pass[] = {
        {"retention off: nothing deleted, no thread", test_off},
        {"audit retention only", test_audit_only},
        {"history retention only", test_history_only},
        {"batches smaller than the backlog, cut kept, log",
         test_batches},
        {"activations never deleted", test_activations_kept},
        {"bad settings refused", test_bad_settings},
    };
    static const test_def thread[] = {
        {"short interval purges on its own", test_thread},
        {"stops promptly", test_stop_promptly},
        {"start failure", test_start_failure},
    };
    unsigned failed;

    /* start and stop lines stay out of the test report */
    pa_log_open(PA_LOG_WARN, PA_LOG_TARGET_STDERR);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    if (ADD("retention pass", pass) || ADD("retention thread", thread)) {
        CU_cleanup_registry();
        return 1;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failed = pa_cunit_failures();
    CU_cleanup_registry();
    pa_log_close();
    return failed ? 1 : 0;
}
