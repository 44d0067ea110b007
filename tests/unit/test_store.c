/*
 * test_store.c - unit tests of the store layer (src/store/) on SQLite.
 *
 * Every test runs on a fresh database file in its own temporary directory.
 * Suite "schema" starts from a path with no database and exercises the
 * migration runner; suite "store" starts from a migrated database with one
 * open connection (`db`) and checks each operation's round trip
 * field by field, plus transactions and concurrent writers.  Facts about
 * the stored state are read back with independent SQL on the raw
 * connection, never only through the function under test.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "cunit_status.h"
#include <CUnit/CUnit.h>
#include <sqlite3.h>

#include "store/sqlite_internal.h"
#include "store/store.h"
#include "tests/unit/tempdb.h"

static char dir[PATH_MAX - 64];
static char path[PATH_MAX];
static pa_store *db;

/* ---- fixtures ------------------------------------------------------------ */

static void make_dir(void)
{
    pa_tempdb_make("pa-store", dir, sizeof dir, path, sizeof path);
}

static void remove_dir(void)
{
    pa_tempdb_remove(dir, path);
}

static void schema_setup(void)
{
    make_dir();
}

static void schema_teardown(void)
{
    remove_dir();
}

static void store_setup(void)
{
    make_dir();
    if (pa_store_migrate(path, NULL) != PA_OK ||
        pa_store_open(path, NULL, &db) != PA_OK) {
        fprintf(stderr, "store setup: %s\n", pa_store_last_error());
        abort();
    }
}

static void store_teardown(void)
{
    pa_store_close(db);
    db = NULL;
    remove_dir();
}

/* ---- raw SQL helpers (independent of the code under test) ------------------ */

static sqlite3 *raw_open(void)
{
    sqlite3 *r = NULL;

    if (sqlite3_open_v2(path, &r, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        fprintf(stderr, "raw open: %s\n", sqlite3_errmsg(r));
        abort();
    }
    sqlite3_busy_timeout(r, 10000);
    return r;
}

/* The single integer a query answers with, binding up to two text values;
 * -1 when the query fails or returns no row. */
static long long q_int(sqlite3 *c, const char *sql, const char *a, const char *b)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;

    if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "q_int: %s: %s\n", sql, sqlite3_errmsg(c));
        return -1;
    }
    if (a)
        sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    if (b)
        sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Same, as text; the result is copied into buf ("" on failure). */
static const char *q_text(sqlite3 *c, const char *sql, char *buf, size_t len)
{
    sqlite3_stmt *st = NULL;
    const unsigned char *t;

    buf[0] = '\0';
    if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) != SQLITE_OK)
        return buf;
    if (sqlite3_step(st) == SQLITE_ROW && (t = sqlite3_column_text(st, 0)))
        snprintf(buf, len, "%s", (const char *)t);
    sqlite3_finalize(st);
    return buf;
}

static long long count(const char *sql)
{
    return q_int(pa_sq_db(db), sql, NULL, NULL);
}

static int streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* CU_ASSERT_STRING_EQUAL without the crash when the actual value is NULL. */
#define ASSERT_STR(actual, expected)                                        \
    CU_assertImplementation(streq((actual), (expected)), __LINE__,          \
                            "ASSERT_STR(" #actual ", " #expected ")",       \
                            __FILE__, "", CU_FALSE)

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* ---- suite "schema": migrations ------------------------------------------- */

static const char *const tables[] = {
    "pa_application", "pa_application_version", "pa_master_keypair",
    "pa_activation", "pa_activation_history", "pa_signature_audit",
    "pa_token", "pa_integration", "pa_application_callback",
    "pa_recovery_code", "pa_recovery_puk", "pa_recovery_config",
    "schema_version",
};

/* A few columns of every table, chosen from DATABASE.md section 2. */
static const char *const columns[][2] = {
    { "pa_application", "id" }, { "pa_application", "name" },
    { "pa_application_version", "application_key" },
    { "pa_application_version", "application_secret" },
    { "pa_application_version", "supported" },
    { "pa_master_keypair", "master_key_private_base64" },
    { "pa_master_keypair", "master_key_public_base64" },
    { "pa_master_keypair", "timestamp_created" },
    { "pa_activation", "activation_id" }, { "pa_activation", "activation_code" },
    { "pa_activation", "activation_status" },
    { "pa_activation", "activation_otp_validation" },
    { "pa_activation", "ctr_data" }, { "pa_activation", "failed_attempts" },
    { "pa_activation", "max_failed_attempts" },
    { "pa_activation", "server_private_key_encryption" },
    { "pa_activation", "master_keypair_id" },
    { "pa_activation", "timestamp_activation_expire" },
    { "pa_activation", "timestamp_last_change" }, { "pa_activation", "version" },
    { "pa_activation_history", "event_reason" },
    { "pa_activation_history", "external_user_id" },
    { "pa_signature_audit", "additional_info" },
    { "pa_signature_audit", "data_base64" }, { "pa_signature_audit", "note" },
    { "pa_signature_audit", "signature_version" },
    { "pa_token", "token_id" }, { "pa_token", "token_secret" },
    { "pa_token", "signature_type" },
    { "pa_integration", "client_token" }, { "pa_integration", "client_secret" },
    { "pa_application_callback", "callback_url" },
    { "pa_application_callback", "application_id" },
    { "pa_recovery_code", "recovery_code" }, { "pa_recovery_code", "status" },
    { "pa_recovery_code", "timestamp_last_used" },
    { "pa_recovery_puk", "puk" }, { "pa_recovery_puk", "puk_encryption" },
    { "pa_recovery_puk", "puk_index" },
    { "pa_recovery_config", "allow_multiple_recovery_codes" },
    { "pa_recovery_config", "postcard_private_key_base64" },
    { "pa_recovery_config", "remote_public_key_base64" },
    { "schema_version", "version" },
};

/* Indexes the lookups need: table, first column, unique. */
static const struct { const char *table, *column; int unique; } indexes[] = {
    { "pa_application", "name", 1 },
    { "pa_application_version", "application_key", 1 },
    { "pa_integration", "client_token", 1 },
    { "pa_recovery_puk", "recovery_code_id", 1 },
    { "pa_recovery_config", "application_id", 1 },
    { "pa_activation", "application_id", 0 }, /* (application_id, activation_code) */
    { "pa_activation", "user_id", 0 },
    { "pa_recovery_code", "application_id", 0 }, /* (application_id, recovery_code) */
    { "pa_token", "activation_id", 0 },
    { "pa_application_callback", "application_id", 0 },
};

/* Foreign keys: child table, parent table. */
static const char *const fkeys[][2] = {
    { "pa_application_version", "pa_application" },
    { "pa_master_keypair", "pa_application" },
    { "pa_activation", "pa_application" },
    { "pa_activation", "pa_master_keypair" },
    { "pa_activation_history", "pa_activation" },
    { "pa_signature_audit", "pa_activation" },
    { "pa_token", "pa_activation" },
    { "pa_application_callback", "pa_application" },
    { "pa_recovery_code", "pa_application" },
    { "pa_recovery_code", "pa_activation" },
    { "pa_recovery_puk", "pa_recovery_code" },
    { "pa_recovery_config", "pa_application" },
};

static void test_migrate_creates_schema(void)
{
    sqlite3 *r;
    size_t i;
    char buf[64];

    CU_ASSERT_EQUAL_FATAL(pa_store_migrate(path, NULL), PA_OK);
    CU_ASSERT(pa_store_schema_latest() >= 1);
    r = raw_open();
    for (i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        long long n = q_int(r, "SELECT count(*) FROM sqlite_master"
                               " WHERE type = 'table' AND name = ?1", tables[i], NULL);
        if (n != 1)
            fprintf(stderr, "missing table %s\n", tables[i]);
        CU_ASSERT_EQUAL(n, 1);
    }
    for (i = 0; i < sizeof columns / sizeof columns[0]; i++) {
        long long n = q_int(r, "SELECT count(*) FROM pragma_table_info(?1)"
                               " WHERE name = ?2", columns[i][0], columns[i][1]);
        if (n != 1)
            fprintf(stderr, "missing column %s.%s\n", columns[i][0], columns[i][1]);
        CU_ASSERT_EQUAL(n, 1);
    }
    for (i = 0; i < sizeof indexes / sizeof indexes[0]; i++) {
        /* An index of the table whose first column is the one named. */
        sqlite3_stmt *st = NULL;
        int found = 0;

        CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(r,
            "SELECT 1 FROM pragma_index_list(?1) AS l"
            " WHERE l.\"unique\" = ?3 AND (SELECT name FROM pragma_index_info(l.name)"
            "  WHERE seqno = 0) = ?2", -1, &st, NULL), SQLITE_OK);
        sqlite3_bind_text(st, 1, indexes[i].table, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, indexes[i].column, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, indexes[i].unique);
        found = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
        if (!found)
            fprintf(stderr, "missing index %s(%s)\n", indexes[i].table, indexes[i].column);
        CU_ASSERT(found);
    }
    for (i = 0; i < sizeof fkeys / sizeof fkeys[0]; i++)
        CU_ASSERT_EQUAL(q_int(r, "SELECT count(*) FROM pragma_foreign_key_list(?1)"
                                 " WHERE \"table\" = ?2", fkeys[i][0], fkeys[i][1]), 1);
    /* Numeric ids grow forever (never reused): AUTOINCREMENT keeps
     * sqlite_sequence. */
    CU_ASSERT_EQUAL(q_int(r, "SELECT count(*) FROM sqlite_master"
                             " WHERE name = 'sqlite_sequence'", NULL, NULL), 1);
    CU_ASSERT_EQUAL(q_int(r, "SELECT count(*) FROM schema_version", NULL, NULL),
                    pa_store_schema_latest());
    ASSERT_STR(q_text(r, "SELECT name FROM schema_version WHERE version = 1",
                                  buf, sizeof buf), "0001_initial");
    ASSERT_STR(q_text(r, "PRAGMA journal_mode", buf, sizeof buf), "wal");
    sqlite3_close(r);
}

static void test_migrate_twice_is_noop(void)
{
    pa_store *s = NULL;
    int64_t id = 0;
    long long objects;
    sqlite3 *r;

    CU_ASSERT_EQUAL_FATAL(pa_store_migrate(path, NULL), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_open(path, NULL, &s), PA_OK);
    CU_ASSERT_EQUAL(pa_store_application_create(s, "kept", &id), PA_OK);
    pa_store_close(s);
    r = raw_open();
    objects = q_int(r, "SELECT count(*) FROM sqlite_master", NULL, NULL);
    sqlite3_close(r);

    CU_ASSERT_EQUAL(pa_store_migrate(path, NULL), PA_OK);
    CU_ASSERT_EQUAL(pa_store_migrate(path, NULL), PA_OK);
    r = raw_open();
    CU_ASSERT_EQUAL(q_int(r, "SELECT count(*) FROM sqlite_master", NULL, NULL), objects);
    CU_ASSERT_EQUAL(q_int(r, "SELECT count(*) FROM schema_version", NULL, NULL),
                    pa_store_schema_latest());
    CU_ASSERT_EQUAL(q_int(r, "SELECT count(*) FROM pa_application WHERE name = 'kept'",
                          NULL, NULL), 1);
    sqlite3_close(r);
}

static void test_newer_schema_refused(void)
{
    pa_store *s = NULL;
    sqlite3 *r;
    char sql[128];

    CU_ASSERT_EQUAL_FATAL(pa_store_migrate(path, NULL), PA_OK);
    r = raw_open();
    snprintf(sql, sizeof sql, "INSERT INTO schema_version VALUES (%d, 'future', 0)",
             pa_store_schema_latest() + 1);
    CU_ASSERT_EQUAL_FATAL(sqlite3_exec(r, sql, NULL, NULL, NULL), SQLITE_OK);

    CU_ASSERT_EQUAL(pa_store_migrate(path, NULL), PA_ERR_UNKNOWN_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(pa_store_last_error(), "newer"));
    CU_ASSERT_EQUAL(pa_store_open(path, NULL, &s), PA_ERR_UNKNOWN_ERROR);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(pa_store_last_error(), "newer"));
    /* Left untouched. */
    CU_ASSERT_EQUAL(q_int(r, "SELECT max(version) FROM schema_version", NULL, NULL),
                    pa_store_schema_latest() + 1);
    sqlite3_close(r);
}

static void test_open_needs_migrated_database(void)
{
    pa_store *s = (pa_store *)&s;
    sqlite3 *r = NULL;

    /* No file: refused, and not created. */
    CU_ASSERT_EQUAL(pa_store_open(path, NULL, &s), PA_ERR_UNKNOWN_ERROR);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
    /* An empty database: refused, asks for migrations. */
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &r), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_exec(r, "CREATE TABLE other (x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(r);
    CU_ASSERT_EQUAL(pa_store_open(path, NULL, &s), PA_ERR_UNKNOWN_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(pa_store_last_error(), "migrations"));
    /* Missing arguments. */
    CU_ASSERT_EQUAL(pa_store_open(NULL, NULL, &s), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_open(path, NULL, NULL), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_migrate(NULL, NULL), PA_ERR_INVALID_REQUEST);
}

static void *migrate_thread(void *arg)
{
    pa_err *e = arg;

    if ((*e = pa_store_migrate(path, NULL)) != PA_OK)
        fprintf(stderr, "concurrent migrate: %s\n", pa_store_last_error());
    return NULL;
}

/* The generation stays while nothing is written and moves on every
 * commit: by another connection, by this one, by another process. */
static void test_generation_moves_on_commits(void)
{
    pa_store_generation g1, g2;
    pa_store *other = NULL;
    sqlite3 *raw = NULL;
    int64_t id = 0;

    CU_ASSERT_EQUAL_FATAL(pa_store_generation_get(db, &g1), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_generation_get(db, &g2), PA_OK);
    CU_ASSERT(pa_store_same_generation(&g1, &g2));
    CU_ASSERT_EQUAL_FATAL(pa_store_open(path, NULL, &other), PA_OK);
    CU_ASSERT_EQUAL(pa_store_application_create(other, "g-other", &id), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_generation_get(db, &g2), PA_OK);
    CU_ASSERT(!pa_store_same_generation(&g1, &g2));
    g1 = g2;
    CU_ASSERT_EQUAL(pa_store_application_create(db, "g-own", &id), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_generation_get(db, &g2), PA_OK);
    CU_ASSERT(!pa_store_same_generation(&g1, &g2));
    g1 = g2;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &raw), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_exec(raw, "UPDATE pa_application SET name = 'g-renamed'"
                                 " WHERE name = 'g-own'", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    CU_ASSERT_EQUAL_FATAL(pa_store_generation_get(db, &g2), PA_OK);
    CU_ASSERT(!pa_store_same_generation(&g1, &g2));
    /* the other connection saw the same commits: its generation holds
     * still too while nothing happens */
    CU_ASSERT_EQUAL_FATAL(pa_store_generation_get(other, &g1), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_generation_get(other, &g2), PA_OK);
    CU_ASSERT(pa_store_same_generation(&g1, &g2));
    pa_store_close(other);
}

static void test_concurrent_migrate(void)
{
    pthread_t t[3];
    pa_err e[3];
    sqlite3 *r;
    int i;

    for (i = 0; i < 3; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, migrate_thread, &e[i]), 0);
    for (i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        CU_ASSERT_EQUAL(e[i], PA_OK);
    }
    r = raw_open();
    CU_ASSERT_EQUAL(q_int(r, "SELECT count(*) FROM schema_version", NULL, NULL),
                    pa_store_schema_latest());
    CU_ASSERT_EQUAL(q_int(r, "SELECT count(*) FROM sqlite_master WHERE name = 'pa_token'",
                          NULL, NULL), 1);
    sqlite3_close(r);
}

/* ---- suite "store": connection ------------------------------------------------ */

static void test_connection_settings(void)
{
    pa_store_options opt = { 1234 };
    pa_store *other = NULL;
    char buf[32];
    sqlite3 *c = pa_sq_db(db);

    ASSERT_STR(q_text(c, "PRAGMA journal_mode", buf, sizeof buf), "wal");
    CU_ASSERT_EQUAL(q_int(c, "PRAGMA foreign_keys", NULL, NULL), 1);
    CU_ASSERT_EQUAL(q_int(c, "PRAGMA synchronous", NULL, NULL), 2); /* FULL */
    CU_ASSERT_EQUAL(q_int(c, "PRAGMA busy_timeout", NULL, NULL),
                    PA_STORE_BUSY_TIMEOUT_DEFAULT_MS);
    CU_ASSERT_EQUAL(q_int(c, "PRAGMA secure_delete", NULL, NULL), 1);
    CU_ASSERT_EQUAL_FATAL(pa_store_open(path, &opt, &other), PA_OK);
    CU_ASSERT_EQUAL(q_int(pa_sq_db(other), "PRAGMA busy_timeout", NULL, NULL), 1234);
    CU_ASSERT_EQUAL(q_int(pa_sq_db(other), "PRAGMA foreign_keys", NULL, NULL), 1);
    pa_store_close(other);
}

static void test_ping_and_version(void)
{
    int v = -1;

    CU_ASSERT_EQUAL(pa_store_ping(db), PA_OK);
    CU_ASSERT_EQUAL(pa_store_ping(NULL), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_schema_version(db, &v), PA_OK);
    CU_ASSERT_EQUAL(v, pa_store_schema_latest());
    CU_ASSERT_EQUAL(v, count("SELECT max(version) FROM schema_version"));
}

/* ---- applications ------------------------------------------------------------- */

static void test_application_round_trip(void)
{
    int64_t a = 0, b = 0;
    pa_store_application app;
    pa_store_application_array list;
    int found = -1;

    CU_ASSERT_EQUAL_FATAL(pa_store_application_create(db, "alpha", &a), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_application_create(db, "", &b), PA_OK);
    CU_ASSERT(a > 0);
    CU_ASSERT(b > a);

    CU_ASSERT_EQUAL(pa_store_application_get(db, a, &app, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_EQUAL(app.id, a);
    ASSERT_STR(app.name, "alpha");
    pa_store_application_free(&app);
    CU_ASSERT_PTR_NULL(app.name);

    CU_ASSERT_EQUAL(pa_store_application_get_by_name(db, "", &app, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_EQUAL(app.id, b);
    ASSERT_STR(app.name, "");
    pa_store_application_free(&app);

    /* Unknown id, unknown name, other case: found 0, result zeroed. */
    CU_ASSERT_EQUAL(pa_store_application_get(db, b + 100, &app, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_EQUAL(app.id, 0);
    CU_ASSERT_PTR_NULL(app.name);
    CU_ASSERT_EQUAL(pa_store_application_get_by_name(db, "ALPHA", &app, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_PTR_NULL(app.name);

    CU_ASSERT_EQUAL(pa_store_application_list(db, &list), PA_OK);
    CU_ASSERT_EQUAL_FATAL(list.count, 2);
    CU_ASSERT_EQUAL(list.items[0].id, a);
    ASSERT_STR(list.items[0].name, "alpha");
    CU_ASSERT_EQUAL(list.items[1].id, b);
    ASSERT_STR(list.items[1].name, "");
    pa_store_application_array_free(&list);
    CU_ASSERT_PTR_NULL(list.items);
    CU_ASSERT_EQUAL(list.count, 0);

    CU_ASSERT_EQUAL(pa_store_application_create(db, NULL, &a), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_application_get(NULL, a, &app, &found),
                    PA_ERR_INVALID_REQUEST);
}

static void test_application_list_empty(void)
{
    pa_store_application_array list = { (pa_store_application *)&list, 99 };

    CU_ASSERT_EQUAL(pa_store_application_list(db, &list), PA_OK);
    CU_ASSERT_EQUAL(list.count, 0);
    CU_ASSERT_PTR_NULL(list.items);
    pa_store_application_array_free(&list);
}

static void test_application_duplicate_name(void)
{
    int64_t first = 0, second = -7;
    pa_store_application app;
    int found;

    CU_ASSERT_EQUAL_FATAL(pa_store_application_create(db, "dup", &first), PA_OK);
    CU_ASSERT_EQUAL(pa_store_application_create(db, "dup", &second),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(second, -7);
    CU_ASSERT_PTR_NOT_NULL(strstr(pa_store_last_error(), "UNIQUE"));
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_application"), 1);
    /* Exact comparison: another case is another name. */
    CU_ASSERT_EQUAL(pa_store_application_create(db, "DUP", &second), PA_OK);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_application"), 2);
    CU_ASSERT_EQUAL(pa_store_application_get_by_name(db, "dup", &app, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_EQUAL(app.id, first);
    pa_store_application_free(&app);
}

static void test_ids_positive_and_growing(void)
{
    int64_t prev = 0, id = 0, v = 0, vprev = 0, k = 0, kprev = 0;
    char name[32];
    int i;

    for (i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "app-%d", i);
        CU_ASSERT_EQUAL_FATAL(pa_store_application_create(db, name, &id), PA_OK);
        CU_ASSERT(id > 0);
        CU_ASSERT(id > prev);
        snprintf(name, sizeof name, "key-%d", i);
        CU_ASSERT_EQUAL_FATAL(pa_store_version_create(db, id, "default", name, "s", &v),
                              PA_OK);
        CU_ASSERT(v > vprev);
        CU_ASSERT_EQUAL_FATAL(pa_store_master_keypair_create(db, id, NULL, "p", "q", 1, &k),
                              PA_OK);
        CU_ASSERT(k > kprev);
        prev = id;
        vprev = v;
        kprev = k;
    }
    /* A rolled-back id is not handed out again in a way that goes back. */
    CU_ASSERT_EQUAL_FATAL(pa_store_begin(db), PA_OK);
    CU_ASSERT_EQUAL(pa_store_application_create(db, "rolled-back", &id), PA_OK);
    CU_ASSERT_EQUAL(pa_store_rollback(db), PA_OK);
    CU_ASSERT_EQUAL(pa_store_application_create(db, "after", &id), PA_OK);
    CU_ASSERT(id > prev);
}

/* ---- versions ----------------------------------------------------------------- */

static void test_version_round_trip(void)
{
    int64_t a1, a2, v1, v2, v3;
    pa_store_version_array list;
    pa_store_version v;
    int found = -1;

    CU_ASSERT_EQUAL_FATAL(pa_store_application_create(db, "one", &a1), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_application_create(db, "two", &a2), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_version_create(db, a1, "default", "KEY1==", "SEC1==", &v1),
                          PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_version_create(db, a2, "default", "KEY2==", "SEC2==", &v2),
                          PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_version_create(db, a1, NULL, "KEY3==", "SEC3==", &v3),
                          PA_OK);
    CU_ASSERT(v1 > 0 && v2 > v1 && v3 > v2);

    CU_ASSERT_EQUAL(pa_store_version_list(db, a1, &list), PA_OK);
    CU_ASSERT_EQUAL_FATAL(list.count, 2);
    CU_ASSERT_EQUAL(list.items[0].id, v1);
    CU_ASSERT_EQUAL(list.items[0].application_id, a1);
    ASSERT_STR(list.items[0].name, "default");
    ASSERT_STR(list.items[0].application_key, "KEY1==");
    ASSERT_STR(list.items[0].application_secret, "SEC1==");
    CU_ASSERT_EQUAL(list.items[0].supported, 1);
    CU_ASSERT_EQUAL(list.items[1].id, v3);
    CU_ASSERT_PTR_NULL(list.items[1].name);
    ASSERT_STR(list.items[1].application_key, "KEY3==");
    ASSERT_STR(list.items[1].application_secret, "SEC3==");
    pa_store_version_array_free(&list);

    CU_ASSERT_EQUAL(pa_store_version_list(db, a2 + 100, &list), PA_OK);
    CU_ASSERT_EQUAL(list.count, 0);
    CU_ASSERT_PTR_NULL(list.items);

    CU_ASSERT_EQUAL(pa_store_version_get_by_key(db, "KEY2==", &v, &found), PA_OK);
    CU_ASSERT_EQUAL_FATAL(found, 1);
    CU_ASSERT_EQUAL(v.id, v2);
    CU_ASSERT_EQUAL(v.application_id, a2);
    ASSERT_STR(v.name, "default");
    ASSERT_STR(v.application_key, "KEY2==");
    ASSERT_STR(v.application_secret, "SEC2==");
    CU_ASSERT_EQUAL(v.supported, 1);
    pa_store_version_free(&v);
    CU_ASSERT_PTR_NULL(v.application_secret);

    /* Every version by its key: its own row, its own secret (a lookup that
     * found the right row but read another version's secret passed). */
    {
        const struct { const char *key, *secret; int64_t id, app; } each[] = {
            {"KEY1==", "SEC1==", v1, a1}, {"KEY2==", "SEC2==", v2, a2},
            {"KEY3==", "SEC3==", v3, a1}};

        for (size_t i = 0; i < sizeof each / sizeof *each; i++) {
            CU_ASSERT_EQUAL(pa_store_version_get_by_key(db, each[i].key, &v, &found),
                            PA_OK);
            CU_ASSERT_EQUAL_FATAL(found, 1);
            CU_ASSERT_EQUAL(v.id, each[i].id);
            CU_ASSERT_EQUAL(v.application_id, each[i].app);
            ASSERT_STR(v.application_key, each[i].key);
            ASSERT_STR(v.application_secret, each[i].secret);
            pa_store_version_free(&v);
        }
    }

    CU_ASSERT_EQUAL(pa_store_version_get_by_key(db, "key2==", &v, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_PTR_NULL(v.application_key);

    /* Unsupport, support again, unknown id. */
    CU_ASSERT_EQUAL(pa_store_version_set_supported(db, v1, 0, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_EQUAL(count("SELECT supported FROM pa_application_version WHERE application_key = 'KEY1=='"), 0);
    CU_ASSERT_EQUAL(pa_store_version_get_by_key(db, "KEY1==", &v, &found), PA_OK);
    CU_ASSERT_EQUAL(v.supported, 0);
    pa_store_version_free(&v);
    CU_ASSERT_EQUAL(pa_store_version_set_supported(db, v1, 0, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 1); /* unchanged value still found */
    CU_ASSERT_EQUAL(pa_store_version_set_supported(db, v1, 7, &found), PA_OK);
    CU_ASSERT_EQUAL(count("SELECT supported FROM pa_application_version WHERE application_key = 'KEY1=='"), 1);
    CU_ASSERT_EQUAL(pa_store_version_set_supported(db, v3 + 100, 1, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    /* The other versions were not touched. */
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_application_version WHERE supported = 1"), 3);

    /* Stored NULL (imported data) reads as unsupported. */
    CU_ASSERT_EQUAL(sqlite3_exec(pa_sq_db(db), "UPDATE pa_application_version"
                                 " SET supported = NULL WHERE application_key = 'KEY3=='",
                                 NULL, NULL, NULL), SQLITE_OK);
    CU_ASSERT_EQUAL(pa_store_version_get_by_key(db, "KEY3==", &v, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_EQUAL(v.supported, 0);
    pa_store_version_free(&v);
}

static void test_version_key_unique(void)
{
    int64_t a1, a2, v = 0, w = -3;

    CU_ASSERT_EQUAL_FATAL(pa_store_application_create(db, "one", &a1), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_application_create(db, "two", &a2), PA_OK);
    CU_ASSERT_EQUAL(pa_store_version_create(db, a1, "default", "SAME", "s1", &v), PA_OK);
    CU_ASSERT_EQUAL(pa_store_version_create(db, a2, "default", "SAME", "s2", &w),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(w, -3);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_application_version"), 1);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_application_version WHERE application_secret = 's2'"), 0);
}

static void test_foreign_keys_enforced(void)
{
    int64_t a, id = -5;

    CU_ASSERT_EQUAL_FATAL(pa_store_application_create(db, "real", &a), PA_OK);
    CU_ASSERT_EQUAL(pa_store_version_create(db, a + 1000, "default", "K", "S", &id),
                    PA_ERR_UNKNOWN_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(pa_store_last_error(), "FOREIGN KEY"));
    CU_ASSERT_EQUAL(pa_store_master_keypair_create(db, a + 1000, "n", "p", "q", 1, &id),
                    PA_ERR_UNKNOWN_ERROR);
    CU_ASSERT_EQUAL(pa_store_callback_create(db, "cb", a + 1000, "n", "http://x"),
                    PA_ERR_UNKNOWN_ERROR);
    CU_ASSERT_EQUAL(id, -5);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_application_version"), 0);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_master_keypair"), 0);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_application_callback"), 0);
    /* Inside a transaction the failed statement is undone, the rest stays. */
    CU_ASSERT_EQUAL_FATAL(pa_store_begin(db), PA_OK);
    CU_ASSERT_EQUAL(pa_store_version_create(db, a, "default", "K1", "S", &id), PA_OK);
    CU_ASSERT_EQUAL(pa_store_version_create(db, a + 1000, "default", "K2", "S", &id),
                    PA_ERR_UNKNOWN_ERROR);
    CU_ASSERT_EQUAL(pa_store_commit(db), PA_OK);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_application_version"), 1);
}

/* ---- master key pairs ----------------------------------------------------------- */

static void test_master_keypair_latest(void)
{
    int64_t a1, a2, a3, k1, k2, k3, k4, k5;
    pa_store_master_keypair k;
    int found = -1;

    CU_ASSERT_EQUAL_FATAL(pa_store_application_create(db, "one", &a1), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_application_create(db, "two", &a2), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_application_create(db, "three", &a3), PA_OK);
    CU_ASSERT_EQUAL(pa_store_master_keypair_create(db, a1, "one Default Keypair",
                    "PRIV1", "PUB1", 1000, &k1), PA_OK);
    CU_ASSERT_EQUAL(pa_store_master_keypair_create(db, a1, "second", "PRIV2", "PUB2",
                    3000, &k2), PA_OK);
    CU_ASSERT_EQUAL(pa_store_master_keypair_create(db, a1, "older, inserted later",
                    "PRIV3", "PUB3", 2000, &k3), PA_OK);
    CU_ASSERT_EQUAL(pa_store_master_keypair_create(db, a1, NULL, "PRIV4", "PUB4",
                    3000, &k4), PA_OK);
    CU_ASSERT_EQUAL(pa_store_master_keypair_create(db, a2, "two", "PRIV5", "PUB5",
                    1700000000123LL, &k5), PA_OK);
    CU_ASSERT(k1 > 0 && k2 > k1 && k3 > k2 && k4 > k3 && k5 > k4);

    /* Greatest time wins; between k2 and k4 (same time) the greater id. */
    CU_ASSERT_EQUAL(pa_store_master_keypair_latest(db, a1, &k, &found), PA_OK);
    CU_ASSERT_EQUAL_FATAL(found, 1);
    CU_ASSERT_EQUAL(k.id, k4);
    CU_ASSERT_EQUAL(k.application_id, a1);
    CU_ASSERT_PTR_NULL(k.name);
    ASSERT_STR(k.private_key_base64, "PRIV4");
    ASSERT_STR(k.public_key_base64, "PUB4");
    CU_ASSERT_EQUAL(k.created_ms, 3000);
    pa_store_master_keypair_free(&k);
    CU_ASSERT_PTR_NULL(k.private_key_base64);

    CU_ASSERT_EQUAL(pa_store_master_keypair_latest(db, a2, &k, &found), PA_OK);
    CU_ASSERT_EQUAL_FATAL(found, 1);
    CU_ASSERT_EQUAL(k.id, k5);
    CU_ASSERT_EQUAL(k.application_id, a2);
    ASSERT_STR(k.name, "two");
    ASSERT_STR(k.private_key_base64, "PRIV5");
    ASSERT_STR(k.public_key_base64, "PUB5");
    CU_ASSERT_EQUAL(k.created_ms, 1700000000123LL);
    pa_store_master_keypair_free(&k);

    CU_ASSERT_EQUAL(pa_store_master_keypair_latest(db, a3, &k, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_EQUAL(k.id, 0);
    CU_ASSERT_PTR_NULL(k.private_key_base64);
    /* Stored as integer milliseconds. */
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_master_keypair WHERE"
                          " typeof(timestamp_created) = 'integer'"), 5);
}

/* ---- integrations --------------------------------------------------------------- */

static const char *const I1 = "3f1b3e0e-6a55-4d56-9d3f-0d8e1b2c3a41";
static const char *const I2 = "a6cf7e44-11d2-4b7c-8a7e-5b1f0c2d9e10";
static const char *const T1 = "0b6f2f7c-3c1e-4f59-9f1e-2a7d4c6b8e01";
static const char *const T2 = "c2d4e6f8-1a3b-4c5d-8e7f-9a0b1c2d3e4f";
static const char *const S1 = "5e8a1c3d-7b9f-4e2a-b6c8-d0e1f2a3b4c5";
static const char *const S2 = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d";

static void test_integration_round_trip(void)
{
    pa_store_integration_array list;
    pa_store_integration i;
    int found = -1;

    CU_ASSERT_EQUAL_FATAL(pa_store_integration_create(db, I1, "one", T1, S1), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_integration_create(db, I2, NULL, T2, S2), PA_OK);

    CU_ASSERT_EQUAL(pa_store_integration_list(db, &list), PA_OK);
    CU_ASSERT_EQUAL_FATAL(list.count, 2);
    ASSERT_STR(list.items[0].id, I1);
    ASSERT_STR(list.items[0].name, "one");
    ASSERT_STR(list.items[0].client_token, T1);
    ASSERT_STR(list.items[0].client_secret, S1);
    ASSERT_STR(list.items[1].id, I2);
    CU_ASSERT_PTR_NULL(list.items[1].name);
    ASSERT_STR(list.items[1].client_token, T2);
    ASSERT_STR(list.items[1].client_secret, S2);
    pa_store_integration_array_free(&list);

    CU_ASSERT_EQUAL(pa_store_integration_get_by_token(db, T2, &i, &found), PA_OK);
    CU_ASSERT_EQUAL_FATAL(found, 1);
    ASSERT_STR(i.id, I2);
    CU_ASSERT_PTR_NULL(i.name);
    ASSERT_STR(i.client_token, T2);
    ASSERT_STR(i.client_secret, S2);
    pa_store_integration_free(&i);
    CU_ASSERT_PTR_NULL(i.client_secret);

    /* Looked up by token, not by id or secret. */
    CU_ASSERT_EQUAL(pa_store_integration_get_by_token(db, I1, &i, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_EQUAL(pa_store_integration_get_by_token(db, S1, &i, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_PTR_NULL(i.id);

    /* Duplicate client token or id: refused, nothing written. */
    CU_ASSERT_EQUAL(pa_store_integration_create(db, "new-id", "x", T1, "sec"),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_integration_create(db, I1, "x", "new-token", "sec"),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_integration"), 2);

    CU_ASSERT_EQUAL(pa_store_integration_remove(db, I1, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_EQUAL(pa_store_integration_remove(db, I1, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_EQUAL(pa_store_integration_remove(db, "no-such-id", &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_EQUAL(pa_store_integration_get_by_token(db, T1, &i, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_EQUAL(pa_store_integration_list(db, &list), PA_OK);
    CU_ASSERT_EQUAL_FATAL(list.count, 1);
    ASSERT_STR(list.items[0].id, I2);
    pa_store_integration_array_free(&list);

    CU_ASSERT_EQUAL(pa_store_integration_create(db, "id", "n", NULL, "s"),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_integration_remove(db, NULL, &found), PA_ERR_INVALID_REQUEST);
}

/* ---- callbacks -------------------------------------------------------------------- */

static void test_callback_round_trip(void)
{
    pa_store_callback_array list;
    int64_t a1, a2;
    int found = -1;

    CU_ASSERT_EQUAL_FATAL(pa_store_application_create(db, "one", &a1), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_application_create(db, "two", &a2), PA_OK);
    CU_ASSERT_EQUAL(pa_store_callback_create(db, "id-b", a1, "b", "http://b.example/cb"), PA_OK);
    CU_ASSERT_EQUAL(pa_store_callback_create(db, "id-z", a2, "a-other", "http://z.example/"), PA_OK);
    CU_ASSERT_EQUAL(pa_store_callback_create(db, "id-a", a1, "a", "https://a.example/x?y=1&z=2"), PA_OK);
    CU_ASSERT_EQUAL(pa_store_callback_create(db, "id-c", a1, "c", "http://c.example/"), PA_OK);
    CU_ASSERT_EQUAL(pa_store_callback_create(db, "id-a", a1, "dup", "http://d/"),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_application_callback"), 4);

    CU_ASSERT_EQUAL(pa_store_callback_list(db, a1, &list), PA_OK);
    CU_ASSERT_EQUAL_FATAL(list.count, 3);
    ASSERT_STR(list.items[0].id, "id-a");
    CU_ASSERT_EQUAL(list.items[0].application_id, a1);
    ASSERT_STR(list.items[0].name, "a");
    ASSERT_STR(list.items[0].url, "https://a.example/x?y=1&z=2");
    ASSERT_STR(list.items[1].id, "id-b");
    ASSERT_STR(list.items[1].name, "b");
    ASSERT_STR(list.items[1].url, "http://b.example/cb");
    ASSERT_STR(list.items[2].id, "id-c");
    ASSERT_STR(list.items[2].name, "c");
    pa_store_callback_array_free(&list);

    CU_ASSERT_EQUAL(pa_store_callback_list(db, a2, &list), PA_OK);
    CU_ASSERT_EQUAL_FATAL(list.count, 1);
    ASSERT_STR(list.items[0].id, "id-z");
    CU_ASSERT_EQUAL(list.items[0].application_id, a2);
    ASSERT_STR(list.items[0].name, "a-other");
    ASSERT_STR(list.items[0].url, "http://z.example/");
    pa_store_callback_array_free(&list);

    CU_ASSERT_EQUAL(pa_store_callback_remove(db, "id-b", &found), PA_OK);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_EQUAL(pa_store_callback_remove(db, "id-b", &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_EQUAL(pa_store_callback_remove(db, "unknown", &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_EQUAL(pa_store_callback_list(db, a1, &list), PA_OK);
    CU_ASSERT_EQUAL_FATAL(list.count, 2);
    ASSERT_STR(list.items[0].id, "id-a");
    ASSERT_STR(list.items[1].id, "id-c");
    pa_store_callback_array_free(&list);
    CU_ASSERT_EQUAL(pa_store_callback_list(db, a2 + 100, &list), PA_OK);
    CU_ASSERT_EQUAL(list.count, 0);
}

/* ---- hostile text -------------------------------------------------------------------- */

static const char *const hostile[] = {
    "x'); DROP TABLE pa_application;--",
    "' OR '1'='1",
    "\"; DELETE FROM pa_integration; --",
    "%_%",
    "\xc5\xbdlu\xc5\xa5ou\xc4\x8dk\xc3\xbd k\xc5\xaf\xc5\x88 \xf0\x9f\x94\x91",
    "line\nbreak\ttab\\backslash",
};
#define NHOSTILE (sizeof hostile / sizeof hostile[0])

static void test_sql_injection_stored_verbatim(void)
{
    pa_store_application app;
    pa_store_application_array apps;
    pa_store_integration integ;
    pa_store_callback_array cbs;
    pa_store_version v;
    int64_t ids[NHOSTILE], vid;
    char id[16];
    size_t i;
    int found;

    /* A wildcard or tautology must not match the existing application. */
    CU_ASSERT_EQUAL_FATAL(pa_store_application_create(db, "plain", &vid), PA_OK);
    CU_ASSERT_EQUAL(pa_store_application_get_by_name(db, "' OR '1'='1", &app, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_EQUAL(pa_store_application_get_by_name(db, "%_%", &app, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);

    for (i = 0; i < NHOSTILE; i++) {
        CU_ASSERT_EQUAL_FATAL(pa_store_application_create(db, hostile[i], &ids[i]), PA_OK);
        CU_ASSERT_EQUAL(pa_store_application_get_by_name(db, hostile[i], &app, &found), PA_OK);
        CU_ASSERT_EQUAL(found, 1);
        CU_ASSERT_EQUAL(app.id, ids[i]);
        CU_ASSERT(streq(app.name, hostile[i]));
        pa_store_application_free(&app);
        snprintf(id, sizeof id, "i%zu", i);
        CU_ASSERT_EQUAL(pa_store_integration_create(db, id, hostile[i], hostile[i], hostile[i]),
                        PA_OK);
        snprintf(id, sizeof id, "c%zu", i);
        CU_ASSERT_EQUAL(pa_store_callback_create(db, id, ids[0], hostile[i], hostile[i]), PA_OK);
    }
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM sqlite_master WHERE name = 'pa_application'"), 1);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_application"), 1 + (long long)NHOSTILE);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_integration"), (long long)NHOSTILE);

    CU_ASSERT_EQUAL(pa_store_application_list(db, &apps), PA_OK);
    CU_ASSERT_EQUAL_FATAL(apps.count, 1 + NHOSTILE);
    for (i = 0; i < NHOSTILE; i++)
        CU_ASSERT(streq(apps.items[i + 1].name, hostile[i]));
    pa_store_application_array_free(&apps);

    CU_ASSERT_EQUAL(pa_store_integration_get_by_token(db, hostile[0], &integ, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT(streq(integ.name, hostile[0]));
    CU_ASSERT(streq(integ.client_secret, hostile[0]));
    pa_store_integration_free(&integ);

    /* Callbacks by name in byte order: compare with the raw ordering. */
    CU_ASSERT_EQUAL(pa_store_callback_list(db, ids[0], &cbs), PA_OK);
    CU_ASSERT_EQUAL_FATAL(cbs.count, NHOSTILE);
    for (i = 0; i + 1 < cbs.count; i++)
        CU_ASSERT(strcmp(cbs.items[i].name, cbs.items[i + 1].name) <= 0);
    for (i = 0; i < cbs.count; i++)
        CU_ASSERT(streq(cbs.items[i].name, cbs.items[i].url));
    pa_store_callback_array_free(&cbs);

    CU_ASSERT_EQUAL(pa_store_version_create(db, ids[0], hostile[1], hostile[0], hostile[2], &vid),
                    PA_OK);
    CU_ASSERT_EQUAL(pa_store_version_get_by_key(db, hostile[0], &v, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT(streq(v.name, hostile[1]));
    CU_ASSERT(streq(v.application_secret, hostile[2]));
    pa_store_version_free(&v);
}

/* ---- durability and transactions ------------------------------------------------------ */

static void test_survives_reopen(void)
{
    int64_t a, v, k;
    pa_store_application app;
    pa_store_version ver;
    pa_store_master_keypair kp;
    pa_store_integration integ;
    pa_store_callback_array cbs;
    int found;

    CU_ASSERT_EQUAL_FATAL(pa_store_application_create(db, "durable", &a), PA_OK);
    CU_ASSERT_EQUAL(pa_store_version_create(db, a, "default", "DK", "DS", &v), PA_OK);
    CU_ASSERT_EQUAL(pa_store_master_keypair_create(db, a, "durable Default Keypair",
                    "DPRIV", "DPUB", 42, &k), PA_OK);
    CU_ASSERT_EQUAL(pa_store_integration_create(db, I1, "n", T1, S1), PA_OK);
    CU_ASSERT_EQUAL(pa_store_callback_create(db, "cb", a, "name", "http://u/"), PA_OK);
    pa_store_close(db);
    db = NULL;
    CU_ASSERT_EQUAL_FATAL(pa_store_open(path, NULL, &db), PA_OK);

    CU_ASSERT_EQUAL(pa_store_application_get(db, a, &app, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT(streq(app.name, "durable"));
    pa_store_application_free(&app);
    CU_ASSERT_EQUAL(pa_store_version_get_by_key(db, "DK", &ver, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_EQUAL(ver.id, v);
    CU_ASSERT(streq(ver.application_secret, "DS"));
    pa_store_version_free(&ver);
    CU_ASSERT_EQUAL(pa_store_master_keypair_latest(db, a, &kp, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_EQUAL(kp.id, k);
    CU_ASSERT(streq(kp.private_key_base64, "DPRIV"));
    CU_ASSERT_EQUAL(kp.created_ms, 42);
    pa_store_master_keypair_free(&kp);
    CU_ASSERT_EQUAL(pa_store_integration_get_by_token(db, T1, &integ, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT(streq(integ.client_secret, S1));
    pa_store_integration_free(&integ);
    CU_ASSERT_EQUAL(pa_store_callback_list(db, a, &cbs), PA_OK);
    CU_ASSERT_EQUAL(cbs.count, 1);
    if (cbs.count == 1)
        CU_ASSERT(streq(cbs.items[0].url, "http://u/"));
    pa_store_callback_array_free(&cbs);
}

static void test_transactions(void)
{
    pa_store *other = NULL;
    pa_store_application app;
    int64_t id;
    int found;

    CU_ASSERT_EQUAL_FATAL(pa_store_open(path, NULL, &other), PA_OK);

    CU_ASSERT_EQUAL_FATAL(pa_store_begin(db), PA_OK);
    CU_ASSERT_EQUAL(pa_store_begin(db), PA_ERR_INVALID_REQUEST); /* no nesting */
    CU_ASSERT_EQUAL(pa_store_application_create(db, "gone", &id), PA_OK);
    /* Not visible to another connection before commit. */
    CU_ASSERT_EQUAL(pa_store_application_get_by_name(other, "gone", &app, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_EQUAL(pa_store_rollback(db), PA_OK);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_application"), 0);

    CU_ASSERT_EQUAL_FATAL(pa_store_begin(db), PA_OK);
    CU_ASSERT_EQUAL(pa_store_application_create(db, "kept", &id), PA_OK);
    CU_ASSERT_EQUAL(pa_store_commit(db), PA_OK);
    CU_ASSERT_EQUAL(pa_store_application_get_by_name(other, "kept", &app, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_EQUAL(app.id, id);
    pa_store_application_free(&app);

    CU_ASSERT_EQUAL(pa_store_commit(db), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_rollback(db), PA_OK);
    /* Closing with an open transaction rolls it back. */
    CU_ASSERT_EQUAL_FATAL(pa_store_begin(other), PA_OK);
    CU_ASSERT_EQUAL(pa_store_application_create(other, "abandoned", &id), PA_OK);
    pa_store_close(other);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_application"), 1);
}

/* A read transaction sees one snapshot: a row committed by another
 * connection meanwhile appears only after it ends, and it blocks no writer. */
static void test_read_transaction_snapshot(void)
{
    pa_store *other = NULL;
    pa_store_application_array arr = {0};
    int64_t id;

    CU_ASSERT_EQUAL_FATAL(pa_store_open(path, NULL, &other), PA_OK);
    CU_ASSERT_EQUAL(pa_store_application_create(db, "first", &id), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_begin_read(db), PA_OK);
    CU_ASSERT_EQUAL(pa_store_begin_read(db), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_application_list(db, &arr), PA_OK);
    CU_ASSERT_EQUAL(arr.count, 1);
    pa_store_application_array_free(&arr);
    CU_ASSERT_EQUAL(pa_store_application_create(other, "second", &id), PA_OK);
    CU_ASSERT_EQUAL(pa_store_application_list(db, &arr), PA_OK);
    CU_ASSERT_EQUAL(arr.count, 1);              /* still the snapshot */
    pa_store_application_array_free(&arr);
    CU_ASSERT_EQUAL(pa_store_commit(db), PA_OK);
    CU_ASSERT_EQUAL(pa_store_application_list(db, &arr), PA_OK);
    CU_ASSERT_EQUAL(arr.count, 2);
    pa_store_application_array_free(&arr);
    pa_store_close(other);
}

/* A writer holding the lock makes another writer wait; with a short busy
 * timeout the waiting writer gives up with an error. */
static void test_busy_timeout_honoured(void)
{
    pa_store_options opt = { 100 };
    pa_store *impatient = NULL;
    int64_t id;
    double t0, waited;

    CU_ASSERT_EQUAL_FATAL(pa_store_open(path, &opt, &impatient), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_begin(db), PA_OK);
    t0 = now_s();
    CU_ASSERT_EQUAL(pa_store_begin(impatient), PA_ERR_UNKNOWN_ERROR);
    waited = now_s() - t0;
    CU_ASSERT(waited >= 0.08);
    CU_ASSERT(waited < 5.0);
    CU_ASSERT_PTR_NOT_NULL(strstr(pa_store_last_error(), "locked"));
    CU_ASSERT_EQUAL(pa_store_application_create(impatient, "x", &id), PA_ERR_UNKNOWN_ERROR);
    CU_ASSERT_EQUAL(pa_store_ping(impatient), PA_OK); /* readers never wait */
    CU_ASSERT_EQUAL(pa_store_rollback(db), PA_OK);
    CU_ASSERT_EQUAL(pa_store_begin(impatient), PA_OK);
    CU_ASSERT_EQUAL(pa_store_application_create(impatient, "x", &id), PA_OK);
    CU_ASSERT_EQUAL(pa_store_commit(impatient), PA_OK);
    pa_store_close(impatient);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_application"), 1);
}

/* The in-process writer gate is per file: a write transaction open on one
 * database never makes a writer of another database wait, and a second
 * connection to the same file (same gate, reached through another path
 * spelling) does wait. */
static void test_writer_gate_per_file(void)
{
    pa_store_options opt = { 100 };
    char dir2[512], path2[600], alias[700];
    pa_store *other = NULL, *same = NULL;
    int64_t id;

    pa_tempdb_make("pa-store-gate", dir2, sizeof dir2, path2, sizeof path2);
    CU_ASSERT_EQUAL_FATAL(pa_store_migrate(path2, NULL), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_open(path2, &opt, &other), PA_OK);
    snprintf(alias, sizeof alias, "%s/../%s/paserver.db", dir2,
             strrchr(dir2, '/') + 1);
    CU_ASSERT_EQUAL_FATAL(pa_store_open(alias, &opt, &same), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_begin(db), PA_OK);
    CU_ASSERT_EQUAL(pa_store_begin(other), PA_OK);
    CU_ASSERT_EQUAL(pa_store_application_create(other, "gate", &id), PA_OK);
    /* same file as `other`, through ../: waits, then gives up */
    CU_ASSERT_EQUAL(pa_store_begin(same), PA_ERR_UNKNOWN_ERROR);
    CU_ASSERT_EQUAL(pa_store_commit(other), PA_OK);
    CU_ASSERT_EQUAL(pa_store_begin(same), PA_OK);
    CU_ASSERT_EQUAL(pa_store_rollback(same), PA_OK);
    CU_ASSERT_EQUAL(pa_store_rollback(db), PA_OK);
    /* white-box: one gate per real path, shared, distinct per file */
    CU_ASSERT_PTR_NOT_NULL(same->gate);
    CU_ASSERT_PTR_EQUAL(same->gate, other->gate);
    CU_ASSERT_PTR_NOT_EQUAL(same->gate, db->gate);
    CU_ASSERT_EQUAL(same->in_gate + other->in_gate + db->in_gate, 0);
    pa_store_close(same);
    pa_store_close(other);
    pa_tempdb_remove(dir2, path2);
}

/* ---- group commit (pa_store_write) ---------------------------------------- */

typedef struct unit_arg {
    const char *name;       /* application to insert */
    pa_err fail;            /* returned after the insert (PA_OK: success) */
    int keep;               /* keep the insert although failing */
} unit_arg;

static pa_err insert_unit(pa_store *s, void *p, int *keep)
{
    unit_arg *u = p;
    int64_t id;
    pa_err e = pa_store_application_create(s, u->name, &id);

    if (e != PA_OK)
        return e;
    *keep = u->keep;
    return u->fail;
}

/* Each unit commits or rolls back on its own: a failing unit's writes go,
 * the others' stay, a failing unit with keep set keeps its writes and
 * still reports its error. */
static void test_write_units(void)
{
    unit_arg ok = {"w-ok", PA_OK, 0}, bad = {"w-bad", PA_ERR_INVALID_REQUEST, 0};
    unit_arg kept = {"w-kept", PA_ERR_INVALID_ACTIVATION_OTP, 1};
    unit_arg dup = {"w-ok", PA_OK, 0};
    int64_t b0 = 0, u0 = 0, batches = 0, units = 0;

    CU_ASSERT_EQUAL(pa_store_write_stats(db, &b0, &u0), PA_OK);

    CU_ASSERT_EQUAL(pa_store_write(db, insert_unit, &ok), PA_OK);
    CU_ASSERT_EQUAL(pa_store_write(db, insert_unit, &bad), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_write(db, insert_unit, &kept),
                    PA_ERR_INVALID_ACTIVATION_OTP);
    /* a store error inside a unit: that unit alone fails */
    CU_ASSERT_EQUAL(pa_store_write(db, insert_unit, &dup), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_application WHERE name = 'w-ok'"), 1);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_application WHERE name = 'w-bad'"), 0);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_application WHERE name = 'w-kept'"), 1);
    CU_ASSERT_EQUAL(pa_store_write_stats(db, &batches, &units), PA_OK);
    CU_ASSERT_EQUAL(units - u0, 4);
    CU_ASSERT_EQUAL(batches - b0, 4);    /* one thread: one unit per batch */
    /* not inside the caller's own transaction */
    CU_ASSERT_EQUAL(pa_store_begin(db), PA_OK);
    CU_ASSERT_NOT_EQUAL(pa_store_write(db, insert_unit, &ok), PA_OK);
    CU_ASSERT_EQUAL(pa_store_rollback(db), PA_OK);
}

static pa_err record_unit(pa_store *s, void *p, int *keep)
{
    (void)keep;
    *(pa_store **)p = s;
    return PA_OK;
}

/* Units run on the gate's own writer connection (its page cache stays
 * warm between batches), the same one whichever connection of the file
 * asks, never on the caller's; after every connection of the file is
 * closed a new one gets a working lane again. */
static void test_write_lane(void)
{
    pa_store *other = NULL, *seen1 = NULL, *seen2 = NULL;
    unit_arg ok = {"w-lane", PA_OK, 0};

    CU_ASSERT_EQUAL_FATAL(pa_store_open(path, NULL, &other), PA_OK);
    CU_ASSERT_EQUAL(pa_store_write(db, record_unit, &seen1), PA_OK);
    CU_ASSERT_EQUAL(pa_store_write(other, record_unit, &seen2), PA_OK);
    CU_ASSERT_PTR_NOT_NULL(seen1);
    CU_ASSERT_PTR_EQUAL(seen1, seen2);
    CU_ASSERT_PTR_NOT_EQUAL(seen1, db);
    CU_ASSERT_PTR_NOT_EQUAL(seen1, other);
    /* the lane's writes are visible to the callers' connections */
    CU_ASSERT_EQUAL(pa_store_write(other, insert_unit, &ok), PA_OK);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_application WHERE name = 'w-lane'"), 1);
    pa_store_close(other);
}

#define GC_THREADS 8
#define GC_UNITS 25

static int gc_arrived;
static pthread_mutex_t gc_lock = PTHREAD_MUTEX_INITIALIZER;

/* The first unit holds its batch open until every other thread is about
 * to queue, so the next batch must carry several units. */
static pa_err slow_unit(pa_store *s, void *p, int *keep)
{
    int n = 0, tries;

    for (tries = 0; tries < 500 && n < GC_THREADS; tries++) {
        pthread_mutex_lock(&gc_lock);
        n = gc_arrived;
        pthread_mutex_unlock(&gc_lock);
        usleep(2000);
    }
    usleep(100000);
    return insert_unit(s, p, keep);
}

static void *gc_thread(void *p)
{
    int t = (int)(intptr_t)p, i;
    pa_store *s = NULL;
    char names[GC_UNITS][32];
    unit_arg u[GC_UNITS];
    long bad = 0;

    if (pa_store_open(path, NULL, &s) != PA_OK)
        return (void *)1;
    pthread_mutex_lock(&gc_lock);
    gc_arrived++;
    pthread_mutex_unlock(&gc_lock);
    for (i = 0; i < GC_UNITS; i++) {
        snprintf(names[i], sizeof names[i], "gc-%d-%d", t, i);
        u[i] = (unit_arg){names[i], i % 5 == 4 ? PA_ERR_INVALID_REQUEST : PA_OK, 0};
        if (pa_store_write(s, insert_unit, &u[i]) != u[i].fail)
            bad++;
    }
    pa_store_close(s);
    return (void *)bad;
}

/* Concurrent writers share batches: every unit gets its own outcome, the
 * rows are exactly the successful units', and fewer commits than units
 * were made. */
static void test_write_group_commit(void)
{
    pthread_t th[GC_THREADS];
    unit_arg lead = {"gc-lead", PA_OK, 0};
    int64_t b0 = 0, u0 = 0, b1 = 0, u1 = 0;
    void *r;
    int i;

    CU_ASSERT_EQUAL(pa_store_write_stats(db, &b0, &u0), PA_OK);
    gc_arrived = 0;
    for (i = 0; i < GC_THREADS; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, gc_thread,
                                             (void *)(intptr_t)i), 0);
    /* the slow unit holds whichever batch carries it open */
    CU_ASSERT_EQUAL(pa_store_write(db, slow_unit, &lead), PA_OK);
    for (i = 0; i < GC_THREADS; i++) {
        CU_ASSERT_EQUAL(pthread_join(th[i], &r), 0);
        CU_ASSERT_PTR_NULL(r);
    }
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_application WHERE name LIKE 'gc-%'"),
                    1 + GC_THREADS * GC_UNITS * 4 / 5);
    CU_ASSERT_EQUAL(pa_store_write_stats(db, &b1, &u1), PA_OK);
    CU_ASSERT_EQUAL(u1 - u0, 1 + GC_THREADS * GC_UNITS);
    CU_ASSERT(b1 - b0 < u1 - u0);
}

#define WRITES 40

struct writer {
    int n;
    int failures;
    char error[256];
};

/* One worker: its own connection, WRITES transactions that each hold the
 * write lock for a moment, plus autocommit writes in between. */
static void *writer_thread(void *arg)
{
    struct writer *w = arg;
    pa_store *s = NULL;
    char name[64];
    int64_t app, ver;
    int i;

#define CHECK(call)                                                       \
    if ((call) != PA_OK) {                                                \
        w->failures++;                                                    \
        snprintf(w->error, sizeof w->error, "%s", pa_store_last_error()); \
        pa_store_rollback(s);                                             \
        continue;                                                         \
    }
    if (pa_store_open(path, NULL, &s) != PA_OK) {
        w->failures = -1;
        return NULL;
    }
    for (i = 0; i < WRITES; i++) {
        CHECK(pa_store_begin(s));
        snprintf(name, sizeof name, "w%d-app-%d", w->n, i);
        CHECK(pa_store_application_create(s, name, &app));
        snprintf(name, sizeof name, "w%d-key-%d", w->n, i);
        CHECK(pa_store_version_create(s, app, "default", name, "secret", &ver));
        sleep_ms(1);
        CHECK(pa_store_commit(s));
        snprintf(name, sizeof name, "w%d-integration-%d", w->n, i);
        CHECK(pa_store_integration_create(s, name, NULL, name, "secret"));
    }
#undef CHECK
    pa_store_close(s);
    return NULL;
}

static void test_concurrent_writers(void)
{
    struct writer w[2] = { { 0, 0, "" }, { 1, 0, "" } };
    pthread_t t[2];
    int i;

    for (i = 0; i < 2; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, writer_thread, &w[i]), 0);
    for (i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        if (w[i].failures)
            fprintf(stderr, "writer %d: %d failures, last: %s\n", i, w[i].failures,
                    w[i].error);
        CU_ASSERT_EQUAL(w[i].failures, 0);
    }
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_application"), 2 * WRITES);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_application_version"), 2 * WRITES);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_integration"), 2 * WRITES);
    CU_ASSERT_EQUAL(count("SELECT count(DISTINCT id) FROM pa_application"), 2 * WRITES);
}

/* A writer that holds the lock for a while; the default timeout outlasts it. */
static void *slow_writer(void *arg)
{
    pa_err *e = arg;
    pa_store *s = NULL;
    int64_t id;

    if ((*e = pa_store_open(path, NULL, &s)) != PA_OK)
        return NULL;
    if ((*e = pa_store_begin(s)) == PA_OK &&
        (*e = pa_store_application_create(s, "slow", &id)) == PA_OK) {
        sleep_ms(300);
        *e = pa_store_commit(s);
    }
    pa_store_close(s);
    return NULL;
}

static void test_writer_waits_for_lock(void)
{
    pa_err slow = PA_ERR_UNKNOWN_ERROR;
    pthread_t t;
    int64_t id;
    pa_store_application app;
    int found, i;

    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, slow_writer, &slow), 0);
    /* Wait until the slow writer holds the lock (its row is not visible
     * yet, but a write attempt with a short timeout would fail). */
    for (i = 0; i < 200 && count("SELECT count(*) FROM pa_application") == 0; i++) {
        pa_store_options quick = { 1 };
        pa_store *probe = NULL;
        int locked;

        if (pa_store_open(path, &quick, &probe) != PA_OK)
            break;
        locked = pa_store_begin(probe) != PA_OK;
        pa_store_rollback(probe);
        pa_store_close(probe);
        if (locked)
            break;
        sleep_ms(5);
    }
    CU_ASSERT_EQUAL(pa_store_begin(db), PA_OK);
    CU_ASSERT_EQUAL(pa_store_application_get_by_name(db, "slow", &app, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 1); /* the lock came after the other commit */
    pa_store_application_free(&app);
    CU_ASSERT_EQUAL(pa_store_application_create(db, "after-slow", &id), PA_OK);
    CU_ASSERT_EQUAL(pa_store_commit(db), PA_OK);
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(slow, PA_OK);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_application"), 2);
}

static void test_free_is_safe(void)
{
    pa_store_application a = { 0, NULL };
    pa_store_version v = { 0, 0, NULL, NULL, NULL, 0 };
    pa_store_master_keypair k = { 0, 0, NULL, NULL, NULL, 0 };
    pa_store_integration i = { NULL, NULL, NULL, NULL };
    pa_store_callback c = { NULL, 0, NULL, NULL };
    pa_store_application_array aa = { NULL, 0 };
    pa_store_version_array va = { NULL, 0 };
    pa_store_integration_array ia = { NULL, 0 };
    pa_store_callback_array ca = { NULL, 0 };

    pa_store_application_free(&a);
    pa_store_application_free(NULL);
    pa_store_version_free(&v);
    pa_store_version_free(NULL);
    pa_store_master_keypair_free(&k);
    pa_store_master_keypair_free(NULL);
    pa_store_integration_free(&i);
    pa_store_integration_free(NULL);
    pa_store_callback_free(&c);
    pa_store_callback_free(NULL);
    pa_store_application_array_free(&aa);
    pa_store_application_array_free(NULL);
    pa_store_version_array_free(&va);
    pa_store_version_array_free(NULL);
    pa_store_integration_array_free(&ia);
    pa_store_integration_array_free(NULL);
    pa_store_callback_array_free(&ca);
    pa_store_callback_array_free(NULL);
    pa_store_close(NULL);
    CU_ASSERT_PTR_NULL(a.name);
}

/* ---- suite "activation": activations ------------------------------------------------ */

#define ACT1 "6f1c2b7a-0d3e-4c59-8a1b-2c3d4e5f6a71"
#define ACT2 "8e2d3c4b-1a0f-4e6d-9c8b-7a6f5e4d3c22"
#define ACT3 "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c53"
#define ACT4 "b2c3d4e5-f6a7-4b8c-9dae-1f2a3b4c5d64"
#define ACT5 "c3d4e5f6-a7b8-4c9d-aebf-2a3b4c5d6e75"
#define ACT6 "d4e5f6a7-b8c9-4dae-bfc0-3b4c5d6e7f86"
#define ACT7 "e5f6a7b8-c9da-4ebf-c0d1-4c5d6e7f8a97"

/* Seeds an application with a given id and name and a master key pair
 * with a given id, by raw SQL (ids chosen so that no integer column of a
 * test row shares a value with another). */
static void seed_app(int64_t app_id, const char *name, int64_t keypair_id)
{
    char sql[512];

    snprintf(sql, sizeof sql,
             "INSERT INTO pa_application (id, name) VALUES (%lld, '%s');"
             "INSERT INTO pa_master_keypair (id, application_id, name,"
             " master_key_private_base64, master_key_public_base64,"
             " timestamp_created) VALUES (%lld, %lld, 'kp', 'MPRIV', 'MPUB', 1)",
             (long long)app_id, name, (long long)keypair_id, (long long)app_id);
    CU_ASSERT_EQUAL_FATAL(sqlite3_exec(pa_sq_db(db), sql, NULL, NULL, NULL), SQLITE_OK);
}

/* A row with every column set, each to a value no other column has. */
static pa_store_activation full_activation(void)
{
    pa_store_activation a;

    memset(&a, 0, sizeof a);
    a.activation_id = (char *)ACT1;
    a.application_id = 41;
    a.user_id = (char *)"user-1";
    a.activation_name = (char *)"My phone";
    a.activation_code = (char *)"ABCDE-FGHIJ-KLMNO-PQRST";
    a.status = PA_STATUS_BLOCKED;                        /* 4 */
    a.activation_otp = (char *)"$argon2i$v=19$m=4096,t=3,p=1$c2FsdA$aGFzaA";
    a.otp_validation = PA_OTP_ON_COMMIT;                 /* 2 */
    a.blocked_reason = (char *)"NOT_SPECIFIED";
    a.counter = 7;
    a.ctr_data = (char *)"Q1RSREFUQTEyMzQ1Ng==";
    a.device_public_key = (char *)"BDEVICEPUBLIC==";
    a.extras = (char *)"{\"extra\":true}";
    a.platform = (char *)"ios";
    a.device_info = (char *)"iPhone 12";
    a.failed_attempts = 5;
    a.max_failed_attempts = 9;
    a.server_private_key = (char *)"SERVERPRIVATE==";
    a.server_private_key_encryption = 1;
    a.server_public_key = (char *)"BSERVERPUBLIC==";
    a.master_keypair_id = 52;
    a.created_ms = 1700000000001LL;
    a.expire_ms = 1700000120002LL;
    a.last_used_ms = 1700000000003LL;
    a.last_change_ms = 1700000000004LL;
    a.has_last_change = 1;
    a.version = 3;
    return a;
}

/* A minimal row: only the NOT NULL columns, nullable ones NULL. */
static pa_store_activation bare_activation(const char *id, int64_t app,
                                           const char *user, const char *code,
                                           int status)
{
    pa_store_activation a;

    memset(&a, 0, sizeof a);
    a.activation_id = (char *)id;
    a.application_id = app;
    a.user_id = (char *)user;
    a.activation_code = (char *)code;
    a.status = status;
    a.max_failed_attempts = 5;
    a.server_private_key = (char *)"PRIV";
    a.server_public_key = (char *)"PUB";
    a.created_ms = 1000;
    a.expire_ms = 121000;
    a.last_used_ms = 1000;
    return a;
}

static void assert_same_activation(const pa_store_activation *got,
                                   const pa_store_activation *want)
{
#define SAME_STR(f)                                                    \
    do {                                                               \
        if (want->f)                                                   \
            ASSERT_STR(got->f, want->f);                               \
        else                                                           \
            CU_ASSERT_PTR_NULL(got->f);                                \
    } while (0)
    SAME_STR(activation_id);
    SAME_STR(user_id);
    SAME_STR(activation_name);
    SAME_STR(activation_code);
    SAME_STR(activation_otp);
    SAME_STR(blocked_reason);
    SAME_STR(ctr_data);
    SAME_STR(device_public_key);
    SAME_STR(extras);
    SAME_STR(platform);
    SAME_STR(device_info);
    SAME_STR(server_private_key);
    SAME_STR(server_public_key);
#undef SAME_STR
    CU_ASSERT_EQUAL(got->application_id, want->application_id);
    CU_ASSERT_EQUAL(got->status, want->status);
    CU_ASSERT_EQUAL(got->otp_validation, want->otp_validation);
    CU_ASSERT_EQUAL(got->counter, want->counter);
    CU_ASSERT_EQUAL(got->failed_attempts, want->failed_attempts);
    CU_ASSERT_EQUAL(got->max_failed_attempts, want->max_failed_attempts);
    CU_ASSERT_EQUAL(got->server_private_key_encryption,
                    want->server_private_key_encryption);
    CU_ASSERT_EQUAL(got->master_keypair_id, want->master_keypair_id);
    CU_ASSERT_EQUAL(got->created_ms, want->created_ms);
    CU_ASSERT_EQUAL(got->expire_ms, want->expire_ms);
    CU_ASSERT_EQUAL(got->last_used_ms, want->last_used_ms);
    CU_ASSERT_EQUAL(got->has_last_change, want->has_last_change);
    CU_ASSERT_EQUAL(got->last_change_ms, want->has_last_change ? want->last_change_ms : 0);
    CU_ASSERT_EQUAL(got->version, want->version);
}

static void test_activation_round_trip(void)
{
    pa_store_activation a = full_activation(), b, got;
    int found = -1, exists = -1;

    seed_app(41, "app41", 52);
    CU_ASSERT_EQUAL_FATAL(pa_store_activation_insert(db, &a), PA_OK);
    /* Every value landed in its own column (read with independent SQL). */
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_activation WHERE"
        " activation_id = '" ACT1 "' AND application_id = 41"
        " AND user_id = 'user-1' AND activation_name = 'My phone'"
        " AND activation_code = 'ABCDE-FGHIJ-KLMNO-PQRST'"
        " AND activation_status = 4"
        " AND activation_otp = '$argon2i$v=19$m=4096,t=3,p=1$c2FsdA$aGFzaA'"
        " AND activation_otp_validation = 2 AND blocked_reason = 'NOT_SPECIFIED'"
        " AND counter = 7 AND ctr_data = 'Q1RSREFUQTEyMzQ1Ng=='"
        " AND device_public_key_base64 = 'BDEVICEPUBLIC=='"
        " AND extras = '{\"extra\":true}' AND platform = 'ios'"
        " AND device_info = 'iPhone 12' AND failed_attempts = 5"
        " AND max_failed_attempts = 9"
        " AND server_private_key_base64 = 'SERVERPRIVATE=='"
        " AND server_private_key_encryption = 1"
        " AND server_public_key_base64 = 'BSERVERPUBLIC=='"
        " AND master_keypair_id = 52 AND timestamp_created = 1700000000001"
        " AND timestamp_activation_expire = 1700000120002"
        " AND timestamp_last_used = 1700000000003"
        " AND timestamp_last_change = 1700000000004 AND version = 3"
        " AND typeof(timestamp_created) = 'integer'"), 1);

    CU_ASSERT_EQUAL(pa_store_activation_get(db, ACT1, &got, &found), PA_OK);
    CU_ASSERT_EQUAL_FATAL(found, 1);
    assert_same_activation(&got, &a);
    CU_ASSERT_PTR_NULL(got.application_name); /* only the lists join it */
    pa_store_activation_free(&got);
    CU_ASSERT_PTR_NULL(got.activation_id);
    CU_ASSERT_PTR_NULL(got.server_private_key);

    /* NULL columns: sentinels in, SQL NULL stored, sentinels out. */
    b = bare_activation(ACT2, 41, "user-2", NULL, PA_STATUS_CREATED);
    CU_ASSERT_EQUAL_FATAL(pa_store_activation_insert(db, &b), PA_OK);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_activation WHERE activation_id = '"
                          ACT2 "' AND version IS NULL AND master_keypair_id IS NULL"
                          " AND timestamp_last_change IS NULL AND activation_code IS NULL"
                          " AND activation_otp IS NULL AND ctr_data IS NULL"
                          " AND platform IS NULL AND extras IS NULL"), 1);
    CU_ASSERT_EQUAL(pa_store_activation_get(db, ACT2, &got, &found), PA_OK);
    CU_ASSERT_EQUAL_FATAL(found, 1);
    assert_same_activation(&got, &b);
    pa_store_activation_free(&got);

    CU_ASSERT_EQUAL(pa_store_activation_exists(db, ACT1, &exists), PA_OK);
    CU_ASSERT_EQUAL(exists, 1);
    CU_ASSERT_EQUAL(pa_store_activation_exists(db, ACT3, &exists), PA_OK);
    CU_ASSERT_EQUAL(exists, 0);
    /* Exact comparison of ids. */
    CU_ASSERT_EQUAL(pa_store_activation_exists(db, "6F1C2B7A-0D3E-4C59-8A1B-2C3D4E5F6A71",
                                               &exists), PA_OK);
    CU_ASSERT_EQUAL(exists, 0);

    CU_ASSERT_EQUAL(pa_store_activation_get(db, ACT3, &got, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_PTR_NULL(got.activation_id);
    CU_ASSERT_EQUAL(got.application_id, 0);

    CU_ASSERT_EQUAL(pa_store_activation_get(NULL, ACT1, &got, &found), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_activation_get(db, NULL, &got, &found), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_activation_exists(db, NULL, &exists), PA_ERR_INVALID_REQUEST);
}

static void test_activation_insert_refused(void)
{
    pa_store_activation a = full_activation(), other, got;
    int found;

    seed_app(41, "app41", 52);
    CU_ASSERT_EQUAL_FATAL(pa_store_activation_insert(db, &a), PA_OK);

    /* Same id, other values: refused, the stored row unchanged. */
    other = bare_activation(ACT1, 41, "intruder", "ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ",
                            PA_STATUS_ACTIVE);
    CU_ASSERT_EQUAL(pa_store_activation_insert(db, &other), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_activation"), 1);
    CU_ASSERT_EQUAL(pa_store_activation_get(db, ACT1, &got, &found), PA_OK);
    CU_ASSERT_EQUAL_FATAL(found, 1);
    assert_same_activation(&got, &a);
    pa_store_activation_free(&got);

    /* Unknown application or key pair: refused as other errors. */
    other = bare_activation(ACT2, 999, "user", "AAAAA-AAAAA-AAAAA-AAAAA", 1);
    CU_ASSERT_EQUAL(pa_store_activation_insert(db, &other), PA_ERR_UNKNOWN_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(pa_store_last_error(), "FOREIGN KEY"));
    other = bare_activation(ACT2, 41, "user", "AAAAA-AAAAA-AAAAA-AAAAA", 1);
    other.master_keypair_id = 999;
    CU_ASSERT_EQUAL(pa_store_activation_insert(db, &other), PA_ERR_UNKNOWN_ERROR);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_activation"), 1);

    /* Missing NOT NULL values: misuse, nothing written. */
    other = bare_activation(ACT2, 41, "user", NULL, 1);
    other.user_id = NULL;
    CU_ASSERT_EQUAL(pa_store_activation_insert(db, &other), PA_ERR_INVALID_REQUEST);
    other = bare_activation(ACT2, 41, "user", NULL, 1);
    other.server_private_key = NULL;
    CU_ASSERT_EQUAL(pa_store_activation_insert(db, &other), PA_ERR_INVALID_REQUEST);
    other = bare_activation(NULL, 41, "user", NULL, 1);
    CU_ASSERT_EQUAL(pa_store_activation_insert(db, &other), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_activation_insert(db, NULL), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_activation"), 1);
}

static void test_activation_code_taken(void)
{
    pa_store_activation a;
    int taken = -1;

    seed_app(41, "app41", 52);
    seed_app(43, "app43", 54);
    a = bare_activation(ACT1, 41, "u", "ABCDE-FGHIJ-KLMNO-PQRST", PA_STATUS_REMOVED);
    CU_ASSERT_EQUAL_FATAL(pa_store_activation_insert(db, &a), PA_OK);
    a = bare_activation(ACT2, 41, "u", "QQQQQ-QQQQ\xff-AAAAA-AAAAA", PA_STATUS_ACTIVE);
    CU_ASSERT_EQUAL_FATAL(pa_store_activation_insert(db, &a), PA_OK);

    /* Same first 11 characters in the same application, any status. */
    CU_ASSERT_EQUAL(pa_store_activation_code_taken(db, 41, "ABCDE-FGHIJ-22222-33333",
                                                   &taken), PA_OK);
    CU_ASSERT_EQUAL(taken, 1);
    CU_ASSERT_EQUAL(pa_store_activation_code_taken(db, 41, "ABCDE-FGHIJ-KLMNO-PQRST",
                                                   &taken), PA_OK);
    CU_ASSERT_EQUAL(taken, 1);
    CU_ASSERT_EQUAL(pa_store_activation_code_taken(db, 41, "ABCDE-FGHIJ", &taken), PA_OK);
    CU_ASSERT_EQUAL(taken, 1);
    /* Another application, or a neighbouring prefix: free. */
    taken = -1;
    CU_ASSERT_EQUAL(pa_store_activation_code_taken(db, 43, "ABCDE-FGHIJ-KLMNO-PQRST",
                                                   &taken), PA_OK);
    CU_ASSERT_EQUAL(taken, 0);
    CU_ASSERT_EQUAL(pa_store_activation_code_taken(db, 41, "ABCDE-FGHIK-KLMNO-PQRST",
                                                   &taken), PA_OK);
    CU_ASSERT_EQUAL(taken, 0);
    CU_ASSERT_EQUAL(pa_store_activation_code_taken(db, 41, "ABCDE-FGHII-KLMNO-PQRST",
                                                   &taken), PA_OK);
    CU_ASSERT_EQUAL(taken, 0);
    CU_ASSERT_EQUAL(pa_store_activation_code_taken(db, 41, "ABCDE-FGHIJK", &taken), PA_OK);
    CU_ASSERT_EQUAL(taken, 1);
    CU_ASSERT_EQUAL(pa_store_activation_code_taken(db, 41, "BBCDE-FGHIJ-KLMNO-PQRST",
                                                   &taken), PA_OK);
    CU_ASSERT_EQUAL(taken, 0);
    /* LIKE wildcards are plain characters. */
    CU_ASSERT_EQUAL(pa_store_activation_code_taken(db, 41, "ABCDE-FGH%_-KLMNO-PQRST",
                                                   &taken), PA_OK);
    CU_ASSERT_EQUAL(taken, 0);
    /* A last prefix byte of 0xff (the range bound carries). */
    CU_ASSERT_EQUAL(pa_store_activation_code_taken(db, 41, "QQQQQ-QQQQ\xff-BBBBB-BBBBB",
                                                   &taken), PA_OK);
    CU_ASSERT_EQUAL(taken, 1);
    CU_ASSERT_EQUAL(pa_store_activation_code_taken(db, 41, "QQQQQ-QQQQR-BBBBB-BBBBB",
                                                   &taken), PA_OK);
    CU_ASSERT_EQUAL(taken, 0);
    /* Too short to compare. */
    CU_ASSERT_EQUAL(pa_store_activation_code_taken(db, 41, "ABCDE-FGHI", &taken),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_activation_code_taken(db, 41, NULL, &taken),
                    PA_ERR_INVALID_REQUEST);
}

static void test_activation_find_by_code(void)
{
    static const char code[] = "ABCDE-FGHIJ-KLMNO-PQRST";
    pa_store_activation a, got;
    int found = -1;

    seed_app(41, "app41", 52);
    seed_app(43, "app43", 54);
    a = bare_activation(ACT1, 41, "u", code, PA_STATUS_CREATED);
    a.expire_ms = 5000;
    CU_ASSERT_EQUAL_FATAL(pa_store_activation_insert(db, &a), PA_OK);
    /* Same code, other application, PENDING_COMMIT. */
    a = bare_activation(ACT2, 43, "u", code, PA_STATUS_PENDING_COMMIT);
    a.expire_ms = 9000;
    CU_ASSERT_EQUAL_FATAL(pa_store_activation_insert(db, &a), PA_OK);

    CU_ASSERT_EQUAL(pa_store_activation_find_by_code(db, 41, code, 4999, &got, &found), PA_OK);
    CU_ASSERT_EQUAL_FATAL(found, 1);
    ASSERT_STR(got.activation_id, ACT1);
    CU_ASSERT_EQUAL(got.application_id, 41);
    CU_ASSERT_EQUAL(got.expire_ms, 5000);
    pa_store_activation_free(&got);
    /* Strictly before the deadline. */
    CU_ASSERT_EQUAL(pa_store_activation_find_by_code(db, 41, code, 5000, &got, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_PTR_NULL(got.activation_id);
    /* Only CREATED. */
    CU_ASSERT_EQUAL(pa_store_activation_find_by_code(db, 43, code, 1000, &got, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    /* Exact code, in the named application. */
    CU_ASSERT_EQUAL(pa_store_activation_find_by_code(db, 41, "ABCDE-FGHIJ-KLMNO-PQRSU",
                                                     1000, &got, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_EQUAL(pa_store_activation_find_by_code(db, 41, "abcde-fghij-klmno-pqrst",
                                                     1000, &got, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_EQUAL(pa_store_activation_find_by_code(db, 44, code, 1000, &got, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    /* Once it is ACTIVE (by raw SQL), the code no longer finds it. */
    CU_ASSERT_EQUAL(sqlite3_exec(pa_sq_db(db), "UPDATE pa_activation SET"
                                 " activation_status = 3 WHERE activation_id = '" ACT1 "'",
                                 NULL, NULL, NULL), SQLITE_OK);
    CU_ASSERT_EQUAL(pa_store_activation_find_by_code(db, 41, code, 1000, &got, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_EQUAL(pa_store_activation_find_by_code(db, 41, NULL, 1000, &got, &found),
                    PA_ERR_INVALID_REQUEST);
}

static void test_activation_update(void)
{
    pa_store_activation a = full_activation(), u, got, want;
    int found = -1;

    seed_app(41, "app41", 52);
    seed_app(43, "app43", 54);
    CU_ASSERT_EQUAL_FATAL(pa_store_activation_insert(db, &a), PA_OK);

    /* New values for every mutable column ... */
    u = a;
    u.activation_name = (char *)"Renamed";
    u.status = PA_STATUS_ACTIVE;
    u.activation_otp = (char *)"$argon2i$new";
    u.otp_validation = PA_OTP_ON_KEY_EXCHANGE;
    u.blocked_reason = (char *)"MAX_FAILED_ATTEMPTS";
    u.counter = 11;
    u.ctr_data = (char *)"TkVXQ1RSREFUQQ==";
    u.device_public_key = (char *)"BNEWDEVICE==";
    u.extras = (char *)"new extras";
    u.platform = (char *)"android";
    u.device_info = (char *)"Pixel";
    u.failed_attempts = 12;
    u.max_failed_attempts = 13;
    u.last_used_ms = 1800000000005LL;
    u.last_change_ms = 1800000000006LL;
    u.version = 2;
    /* ... and for the immutable ones, which must be ignored. */
    u.application_id = 43;
    u.user_id = (char *)"someone-else";
    u.activation_code = (char *)"ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ";
    u.server_private_key = (char *)"OTHERPRIVATE";
    u.server_private_key_encryption = 0;
    u.server_public_key = (char *)"OTHERPUBLIC";
    u.master_keypair_id = 54;
    u.created_ms = 1;
    u.expire_ms = 2;
    CU_ASSERT_EQUAL(pa_store_activation_update(db, &u, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 1);

    want = u;
    want.application_id = a.application_id;
    want.user_id = a.user_id;
    want.activation_code = a.activation_code;
    want.server_private_key = a.server_private_key;
    want.server_private_key_encryption = a.server_private_key_encryption;
    want.server_public_key = a.server_public_key;
    want.master_keypair_id = a.master_keypair_id;
    want.created_ms = a.created_ms;
    want.expire_ms = a.expire_ms;
    CU_ASSERT_EQUAL(pa_store_activation_get(db, ACT1, &got, &found), PA_OK);
    CU_ASSERT_EQUAL_FATAL(found, 1);
    assert_same_activation(&got, &want);
    pa_store_activation_free(&got);

    /* Back to NULL: every nullable mutable column. */
    u.activation_name = NULL;
    u.activation_otp = NULL;
    u.blocked_reason = NULL;
    u.ctr_data = NULL;
    u.device_public_key = NULL;
    u.extras = NULL;
    u.platform = NULL;
    u.device_info = NULL;
    u.has_last_change = 0;
    u.version = 0;
    CU_ASSERT_EQUAL(pa_store_activation_update(db, &u, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_activation WHERE activation_id = '"
                          ACT1 "' AND activation_name IS NULL AND activation_otp IS NULL"
                          " AND blocked_reason IS NULL AND ctr_data IS NULL"
                          " AND device_public_key_base64 IS NULL AND extras IS NULL"
                          " AND platform IS NULL AND device_info IS NULL"
                          " AND timestamp_last_change IS NULL AND version IS NULL"
                          " AND master_keypair_id = 52 AND user_id = 'user-1'"), 1);
    CU_ASSERT_EQUAL(pa_store_activation_get(db, ACT1, &got, &found), PA_OK);
    CU_ASSERT_EQUAL(got.has_last_change, 0);
    CU_ASSERT_EQUAL(got.last_change_ms, 0);
    CU_ASSERT_EQUAL(got.version, 0);
    CU_ASSERT_PTR_NULL(got.ctr_data);
    pa_store_activation_free(&got);

    /* Unknown id: nothing matched, nothing written. */
    u.activation_id = (char *)ACT2;
    CU_ASSERT_EQUAL(pa_store_activation_update(db, &u, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_activation"), 1);
    u.activation_id = NULL;
    CU_ASSERT_EQUAL(pa_store_activation_update(db, &u, &found), PA_ERR_INVALID_REQUEST);
}

static void test_activation_list_for_user(void)
{
    pa_store_activation a;
    pa_store_activation_array arr;

    seed_app(41, "app41", 52);
    seed_app(43, "app43", 54);
    seed_app(45, "app45", 56);
    /* u1: ACT3 (app 41), ACT1 (app 43), ACT2 (app 41), in that insertion
     * order; ACT3 and ACT1 created in the same millisecond. */
    a = bare_activation(ACT3, 41, "u1", NULL, PA_STATUS_ACTIVE);
    a.created_ms = 100;
    CU_ASSERT_EQUAL_FATAL(pa_store_activation_insert(db, &a), PA_OK);
    a = bare_activation(ACT1, 43, "u1", NULL, PA_STATUS_CREATED);
    a.created_ms = 100;
    CU_ASSERT_EQUAL_FATAL(pa_store_activation_insert(db, &a), PA_OK);
    a = bare_activation(ACT4, 41, "u2", NULL, PA_STATUS_ACTIVE);
    a.created_ms = 150;
    CU_ASSERT_EQUAL_FATAL(pa_store_activation_insert(db, &a), PA_OK);
    a = bare_activation(ACT2, 41, "u1", NULL, PA_STATUS_REMOVED);
    a.created_ms = 200;
    CU_ASSERT_EQUAL_FATAL(pa_store_activation_insert(db, &a), PA_OK);

    CU_ASSERT_EQUAL(pa_store_activation_list_for_user(db, "u1", 0, 0, &arr), PA_OK);
    CU_ASSERT_EQUAL_FATAL(arr.count, 3);
    ASSERT_STR(arr.items[0].activation_id, ACT3);
    ASSERT_STR(arr.items[0].application_name, "app41");
    CU_ASSERT_EQUAL(arr.items[0].status, PA_STATUS_ACTIVE);
    ASSERT_STR(arr.items[1].activation_id, ACT1);
    ASSERT_STR(arr.items[1].application_name, "app43");
    CU_ASSERT_EQUAL(arr.items[1].application_id, 43);
    ASSERT_STR(arr.items[2].activation_id, ACT2);
    ASSERT_STR(arr.items[2].application_name, "app41");
    ASSERT_STR(arr.items[2].user_id, "u1");
    ASSERT_STR(arr.items[2].server_private_key, "PRIV");
    pa_store_activation_array_free(&arr);
    CU_ASSERT_PTR_NULL(arr.items);
    CU_ASSERT_EQUAL(arr.count, 0);

    CU_ASSERT_EQUAL(pa_store_activation_list_for_user(db, "u1", 1, 41, &arr), PA_OK);
    CU_ASSERT_EQUAL_FATAL(arr.count, 2);
    ASSERT_STR(arr.items[0].activation_id, ACT3);
    ASSERT_STR(arr.items[1].activation_id, ACT2);
    ASSERT_STR(arr.items[1].application_name, "app41");
    pa_store_activation_array_free(&arr);

    /* has_application_id = 0 ignores the id given. */
    CU_ASSERT_EQUAL(pa_store_activation_list_for_user(db, "u1", 0, 45, &arr), PA_OK);
    CU_ASSERT_EQUAL(arr.count, 3);
    pa_store_activation_array_free(&arr);
    CU_ASSERT_EQUAL(pa_store_activation_list_for_user(db, "u1", 1, 45, &arr), PA_OK);
    CU_ASSERT_EQUAL(arr.count, 0);
    CU_ASSERT_PTR_NULL(arr.items);
    CU_ASSERT_EQUAL(pa_store_activation_list_for_user(db, "U1", 0, 0, &arr), PA_OK);
    CU_ASSERT_EQUAL(arr.count, 0);
    CU_ASSERT_EQUAL(pa_store_activation_list_for_user(db, "' OR '1'='1", 0, 0, &arr), PA_OK);
    CU_ASSERT_EQUAL(arr.count, 0);
    CU_ASSERT_EQUAL(pa_store_activation_list_for_user(db, "u2", 0, 0, &arr), PA_OK);
    CU_ASSERT_EQUAL_FATAL(arr.count, 1);
    ASSERT_STR(arr.items[0].activation_id, ACT4);
    pa_store_activation_array_free(&arr);
    CU_ASSERT_EQUAL(pa_store_activation_list_for_user(db, NULL, 0, 0, &arr),
                    PA_ERR_INVALID_REQUEST);
}

/* The ids of a lookup's result, joined by spaces, for compact asserts. */
static const char *lookup_ids(const pa_store_activation_query *q, char *buf, size_t len)
{
    pa_store_activation_array arr;
    size_t i, used = 0;

    buf[0] = '\0';
    if (pa_store_activation_lookup(db, q, &arr) != PA_OK) {
        snprintf(buf, len, "error: %s", pa_store_last_error());
        return buf;
    }
    for (i = 0; i < arr.count; i++) {
        /* Short names: the first character of the id after "ACT". */
        used += (size_t)snprintf(buf + used, len - used, "%s%c", i ? " " : "",
                                 arr.items[i].activation_id[0]);
        if (!arr.items[i].application_name)
            used += (size_t)snprintf(buf + used, len - used, "!noname");
    }
    pa_store_activation_array_free(&arr);
    return buf;
}

static void test_activation_lookup(void)
{
    /* id (first char)  user  app  last_used  status
     * ACT1 '6'         u1    41   100        ACTIVE
     * ACT2 '8'         u1    43   200        BLOCKED
     * ACT3 'a'         u2    41   300        ACTIVE
     * ACT4 'b'         u2    43   400        CREATED
     * ACT5 'c'         u3    41   500        ACTIVE
     * ACT6 'd'         u1    41   600        REMOVED  (inserted last, created first) */
    static const struct { const char *id, *user; int64_t app, used; int status; } rows[] = {
        { ACT1, "u1", 41, 100, PA_STATUS_ACTIVE },
        { ACT2, "u1", 43, 200, PA_STATUS_BLOCKED },
        { ACT3, "u2", 41, 300, PA_STATUS_ACTIVE },
        { ACT4, "u2", 43, 400, PA_STATUS_CREATED },
        { ACT5, "u3", 41, 500, PA_STATUS_ACTIVE },
        { ACT6, "u1", 41, 600, PA_STATUS_REMOVED },
    };
    const char *u1[] = { "u1" }, *u12[] = { "u2", "u1" }, *nobody[] = { "' OR '1'='1" };
    const char *with_null[] = { "u1", NULL };
    const int64_t app41[] = { 41 }, app43_41[] = { 43, 41 }, app_none[] = { 99 };
    pa_store_activation_query q;
    pa_store_activation_array arr;
    pa_store_activation a;
    const char **many;
    int64_t *many_apps;
    char buf[256];
    size_t i;

    seed_app(41, "app41", 52);
    seed_app(43, "app43", 54);
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        a = bare_activation(rows[i].id, rows[i].app, rows[i].user, NULL, rows[i].status);
        a.last_used_ms = rows[i].used;
        a.created_ms = 1000 + (int64_t)i;
        CU_ASSERT_EQUAL_FATAL(pa_store_activation_insert(db, &a), PA_OK);
    }

#define LOOKUP(expect) ASSERT_STR(lookup_ids(&q, buf, sizeof buf), expect)
    memset(&q, 0, sizeof q);
    q.user_ids = u1;
    q.user_id_count = 1;
    LOOKUP("6 8 d");
    q.user_ids = u12;
    q.user_id_count = 2;
    LOOKUP("6 8 a b d");
    q.application_ids = app41;
    q.application_id_count = 1;
    LOOKUP("6 a d");
    q.application_ids = app43_41;
    q.application_id_count = 2;
    LOOKUP("6 8 a b d");
    q.application_ids = app_none;
    q.application_id_count = 1;
    LOOKUP("");
    q.application_ids = NULL;
    q.application_id_count = 0;
    /* before: strictly earlier; after: at or later. */
    q.has_last_used_before = 1;
    q.last_used_before_ms = 300;
    LOOKUP("6 8");
    q.has_last_used_before = 0;
    q.has_last_used_after = 1;
    q.last_used_after_ms = 300;
    LOOKUP("a b d");
    q.has_last_used_before = 1;
    q.last_used_before_ms = 600;
    LOOKUP("a b");
    q.has_last_used_before = 0;
    q.has_last_used_after = 0;
    q.has_status = 1;
    q.status = PA_STATUS_ACTIVE;
    LOOKUP("6 a");
    q.status = PA_STATUS_REMOVED;
    LOOKUP("d");
    /* Everything at once. */
    q.status = PA_STATUS_ACTIVE;
    q.application_ids = app41;
    q.application_id_count = 1;
    q.has_last_used_after = 1;
    q.last_used_after_ms = 101;
    q.has_last_used_before = 1;
    q.last_used_before_ms = 301;
    LOOKUP("a");
    q.last_used_before_ms = 300;
    LOOKUP("");
    /* Hostile user id: nothing. */
    memset(&q, 0, sizeof q);
    q.user_ids = nobody;
    q.user_id_count = 1;
    LOOKUP("");

    /* Refused: no user, too many ids, NULL entries. */
    memset(&q, 0, sizeof q);
    CU_ASSERT_EQUAL(pa_store_activation_lookup(db, &q, &arr), PA_ERR_INVALID_REQUEST);
    q.user_ids = with_null;
    q.user_id_count = 2;
    CU_ASSERT_EQUAL(pa_store_activation_lookup(db, &q, &arr), PA_ERR_INVALID_REQUEST);
    q.user_ids = u1;
    q.user_id_count = 1;
    q.application_id_count = 1; /* with application_ids NULL */
    CU_ASSERT_EQUAL(pa_store_activation_lookup(db, &q, &arr), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_activation_lookup(db, NULL, &arr), PA_ERR_INVALID_REQUEST);

    /* 1000 user ids and 1000 application ids are served; 1001 are not. */
    many = calloc(1001, sizeof *many);
    many_apps = calloc(1001, sizeof *many_apps);
    CU_ASSERT_FATAL(many && many_apps);
    for (i = 0; i < 1001; i++) {
        many[i] = i == 500 ? "u3" : "nobody";
        many_apps[i] = i == 999 ? 41 : 1000 + (int64_t)i;
    }
    memset(&q, 0, sizeof q);
    q.user_ids = many;
    q.user_id_count = 1000;
    q.application_ids = many_apps;
    q.application_id_count = 1000;
    LOOKUP("c");
    q.user_id_count = 1001;
    CU_ASSERT_EQUAL(pa_store_activation_lookup(db, &q, &arr), PA_ERR_INVALID_REQUEST);
    q.user_id_count = 1000;
    q.application_id_count = 1001;
    CU_ASSERT_EQUAL(pa_store_activation_lookup(db, &q, &arr), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(arr.count, 0);
    free(many);
    free(many_apps);
#undef LOOKUP
}

static void test_activation_expired(void)
{
    static const struct { const char *id; int status; int64_t expire; } rows[] = {
        { ACT1, PA_STATUS_CREATED, 100 },
        { ACT2, PA_STATUS_PENDING_COMMIT, 50 },
        { ACT3, PA_STATUS_ACTIVE, 10 },
        { ACT4, PA_STATUS_BLOCKED, 10 },
        { ACT5, PA_STATUS_REMOVED, 10 },
        { ACT6, PA_STATUS_CREATED, 200 },       /* at the deadline: not yet */
        { ACT7, PA_STATUS_PENDING_COMMIT, 300 },
    };
    pa_store_string_array ids;
    pa_store_activation a;
    size_t i;

    seed_app(41, "app41", 52);
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        a = bare_activation(rows[i].id, 41, "u", NULL, rows[i].status);
        a.expire_ms = rows[i].expire;
        CU_ASSERT_EQUAL_FATAL(pa_store_activation_insert(db, &a), PA_OK);
    }
    CU_ASSERT_EQUAL(pa_store_activation_expired(db, 200, 10, &ids), PA_OK);
    CU_ASSERT_EQUAL_FATAL(ids.count, 2);
    ASSERT_STR(ids.items[0], ACT2);   /* oldest deadline first */
    ASSERT_STR(ids.items[1], ACT1);
    pa_store_string_array_free(&ids);
    CU_ASSERT_PTR_NULL(ids.items);
    CU_ASSERT_EQUAL(ids.count, 0);

    CU_ASSERT_EQUAL(pa_store_activation_expired(db, 200, 1, &ids), PA_OK);
    CU_ASSERT_EQUAL_FATAL(ids.count, 1);
    ASSERT_STR(ids.items[0], ACT2);
    pa_store_string_array_free(&ids);

    CU_ASSERT_EQUAL(pa_store_activation_expired(db, 301, 10, &ids), PA_OK);
    CU_ASSERT_EQUAL_FATAL(ids.count, 4);
    ASSERT_STR(ids.items[2], ACT6);
    ASSERT_STR(ids.items[3], ACT7);
    pa_store_string_array_free(&ids);

    CU_ASSERT_EQUAL(pa_store_activation_expired(db, 50, 10, &ids), PA_OK);
    CU_ASSERT_EQUAL(ids.count, 0);
    CU_ASSERT_PTR_NULL(ids.items);
    CU_ASSERT_EQUAL(pa_store_activation_expired(db, 200, 0, &ids), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_activation_expired(db, 200, -1, &ids), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_activation_expired(db, 200, 1, NULL), PA_ERR_INVALID_REQUEST);
}

static void test_has_encrypted_records(void)
{
    pa_store_activation a;
    sqlite3 *c = pa_sq_db(db);
    int any = -1;

    seed_app(41, "app41", 52);
    CU_ASSERT_EQUAL(pa_store_has_encrypted_records(db, &any), PA_OK);
    CU_ASSERT_EQUAL(any, 0);
    a = bare_activation(ACT1, 41, "u", NULL, PA_STATUS_ACTIVE);
    CU_ASSERT_EQUAL_FATAL(pa_store_activation_insert(db, &a), PA_OK);
    CU_ASSERT_EQUAL(sqlite3_exec(c,
        "INSERT INTO pa_recovery_code (id, recovery_code, application_id, user_id,"
        " status) VALUES (7, 'CODE', 41, 'u', 1);"
        "INSERT INTO pa_recovery_puk (recovery_code_id, puk, puk_encryption,"
        " puk_index, status) VALUES (7, 'PUK', 0, 1, 1)", NULL, NULL, NULL), SQLITE_OK);
    CU_ASSERT_EQUAL(pa_store_has_encrypted_records(db, &any), PA_OK);
    CU_ASSERT_EQUAL(any, 0);

    /* An encrypted server private key. */
    a = bare_activation(ACT2, 41, "u", NULL, PA_STATUS_ACTIVE);
    a.server_private_key_encryption = 1;
    CU_ASSERT_EQUAL_FATAL(pa_store_activation_insert(db, &a), PA_OK);
    CU_ASSERT_EQUAL(pa_store_has_encrypted_records(db, &any), PA_OK);
    CU_ASSERT_EQUAL(any, 1);

    /* An encrypted PUK alone (and an unknown mode counts too). */
    CU_ASSERT_EQUAL(sqlite3_exec(c, "UPDATE pa_activation SET"
                                 " server_private_key_encryption = 0", NULL, NULL, NULL),
                    SQLITE_OK);
    CU_ASSERT_EQUAL(pa_store_has_encrypted_records(db, &any), PA_OK);
    CU_ASSERT_EQUAL(any, 0);
    CU_ASSERT_EQUAL(sqlite3_exec(c, "INSERT INTO pa_recovery_puk (recovery_code_id, puk,"
                                 " puk_encryption, puk_index, status)"
                                 " VALUES (7, 'ENC', 2, 2, 1)", NULL, NULL, NULL), SQLITE_OK);
    CU_ASSERT_EQUAL(pa_store_has_encrypted_records(db, &any), PA_OK);
    CU_ASSERT_EQUAL(any, 1);
    CU_ASSERT_EQUAL(pa_store_has_encrypted_records(db, NULL), PA_ERR_INVALID_REQUEST);
}

/* ---- suite "history": activation history ------------------------------------------- */

static void test_history_order_and_range(void)
{
    pa_store_history_array h;
    pa_store_activation a;
    long long first;

    seed_app(41, "app41", 52);
    a = bare_activation(ACT1, 41, "u", NULL, PA_STATUS_CREATED);
    CU_ASSERT_EQUAL_FATAL(pa_store_activation_insert(db, &a), PA_OK);
    a = bare_activation(ACT2, 41, "u", NULL, PA_STATUS_CREATED);
    CU_ASSERT_EQUAL_FATAL(pa_store_activation_insert(db, &a), PA_OK);

    /* Inserted out of time order; two rows share t = 200. */
    CU_ASSERT_EQUAL(pa_store_history_add(db, ACT1, PA_STATUS_CREATED, NULL, NULL, 200),
                    PA_OK);
    CU_ASSERT_EQUAL(pa_store_history_add(db, ACT1, PA_STATUS_ACTIVE, NULL, "admin", 300),
                    PA_OK);
    CU_ASSERT_EQUAL(pa_store_history_add(db, ACT1, PA_STATUS_PENDING_COMMIT,
                                         "OTP_FAILED_ATTEMPT", NULL, 200), PA_OK);
    CU_ASSERT_EQUAL(pa_store_history_add(db, ACT1, PA_STATUS_BLOCKED,
                                         "MAX_FAILED_ATTEMPTS", "ext-user", 100), PA_OK);
    CU_ASSERT_EQUAL(pa_store_history_add(db, ACT2, PA_STATUS_REMOVED, NULL, NULL, 250),
                    PA_OK);
    first = count("SELECT min(id) FROM pa_activation_history");
    CU_ASSERT(first > 0);

    CU_ASSERT_EQUAL(pa_store_history_list(db, ACT1, 100, 300, &h), PA_OK);
    CU_ASSERT_EQUAL_FATAL(h.count, 4);
    /* Newest first; the two at 200 by id descending. */
    CU_ASSERT_EQUAL(h.items[0].created_ms, 300);
    CU_ASSERT_EQUAL(h.items[0].status, PA_STATUS_ACTIVE);
    CU_ASSERT_PTR_NULL(h.items[0].event_reason);
    ASSERT_STR(h.items[0].external_user_id, "admin");
    CU_ASSERT_EQUAL(h.items[0].id, first + 1);
    CU_ASSERT_EQUAL(h.items[1].created_ms, 200);
    CU_ASSERT_EQUAL(h.items[1].id, first + 2);
    CU_ASSERT_EQUAL(h.items[1].status, PA_STATUS_PENDING_COMMIT);
    ASSERT_STR(h.items[1].event_reason, "OTP_FAILED_ATTEMPT");
    CU_ASSERT_PTR_NULL(h.items[1].external_user_id);
    CU_ASSERT_EQUAL(h.items[2].created_ms, 200);
    CU_ASSERT_EQUAL(h.items[2].id, first);
    CU_ASSERT_EQUAL(h.items[2].status, PA_STATUS_CREATED);
    CU_ASSERT_EQUAL(h.items[3].created_ms, 100);
    CU_ASSERT_EQUAL(h.items[3].status, PA_STATUS_BLOCKED);
    ASSERT_STR(h.items[3].event_reason, "MAX_FAILED_ATTEMPTS");
    ASSERT_STR(h.items[3].external_user_id, "ext-user");
    ASSERT_STR(h.items[3].activation_id, ACT1);
    pa_store_history_array_free(&h);
    CU_ASSERT_PTR_NULL(h.items);

    /* Both ends inclusive. */
    CU_ASSERT_EQUAL(pa_store_history_list(db, ACT1, 200, 200, &h), PA_OK);
    CU_ASSERT_EQUAL(h.count, 2);
    pa_store_history_array_free(&h);
    CU_ASSERT_EQUAL(pa_store_history_list(db, ACT1, 101, 299, &h), PA_OK);
    CU_ASSERT_EQUAL(h.count, 2);
    pa_store_history_array_free(&h);
    CU_ASSERT_EQUAL(pa_store_history_list(db, ACT1, 301, 1000, &h), PA_OK);
    CU_ASSERT_EQUAL(h.count, 0);
    CU_ASSERT_PTR_NULL(h.items);
    CU_ASSERT_EQUAL(pa_store_history_list(db, ACT1, 300, 100, &h), PA_OK);
    CU_ASSERT_EQUAL(h.count, 0);
    /* Per activation. */
    CU_ASSERT_EQUAL(pa_store_history_list(db, ACT2, 0, INT64_MAX, &h), PA_OK);
    CU_ASSERT_EQUAL_FATAL(h.count, 1);
    ASSERT_STR(h.items[0].activation_id, ACT2);
    CU_ASSERT_EQUAL(h.items[0].status, PA_STATUS_REMOVED);
    CU_ASSERT_EQUAL(h.items[0].created_ms, 250);
    pa_store_history_array_free(&h);
    CU_ASSERT_EQUAL(pa_store_history_list(db, ACT3, 0, INT64_MAX, &h), PA_OK);
    CU_ASSERT_EQUAL(h.count, 0);

    /* Stored as integer milliseconds with the columns named. */
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_activation_history WHERE"
                          " activation_id = '" ACT1 "' AND activation_status = 4"
                          " AND event_reason = 'MAX_FAILED_ATTEMPTS'"
                          " AND external_user_id = 'ext-user'"
                          " AND timestamp_created = 100"
                          " AND typeof(timestamp_created) = 'integer'"), 1);
}

static void test_history_refused(void)
{
    pa_store_history_array h;

    /* Unknown activation: the foreign key refuses it. */
    CU_ASSERT_EQUAL(pa_store_history_add(db, ACT1, PA_STATUS_CREATED, NULL, NULL, 1),
                    PA_ERR_UNKNOWN_ERROR);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_activation_history"), 0);
    CU_ASSERT_EQUAL(pa_store_history_add(db, NULL, 1, NULL, NULL, 1), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_history_list(db, NULL, 0, 1, &h), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_history_list(db, ACT1, 0, 1, NULL), PA_ERR_INVALID_REQUEST);
}

/* ---- suite "outbox": callback outbox ------------------------------------------------ */

static void test_outbox_add(void)
{
    pa_store_outbox_array due;
    int rows = -1;
    int64_t n = -1;

    seed_app(41, "app41", 52);
    seed_app(43, "app43", 54);
    seed_app(45, "app45", 56);
    /* Inserted in reverse name order, ids in reverse name order too;
     * another application's callback. */
    CU_ASSERT_EQUAL(pa_store_callback_create(db, "cb-1", 41, "zeta", "http://z/"), PA_OK);
    CU_ASSERT_EQUAL(pa_store_callback_create(db, "cb-o", 43, "other", "http://o/"), PA_OK);
    CU_ASSERT_EQUAL(pa_store_callback_create(db, "cb-2", 41, "alpha", "http://a/"), PA_OK);

    /* No callbacks: nothing written. */
    CU_ASSERT_EQUAL(pa_store_outbox_add(db, "ev-0", 45, ACT1, 1000, &rows), PA_OK);
    CU_ASSERT_EQUAL(rows, 0);
    CU_ASSERT_EQUAL(pa_store_outbox_count(db, &n), PA_OK);
    CU_ASSERT_EQUAL(n, 0);

    CU_ASSERT_EQUAL(pa_store_outbox_add(db, "ev-1", 41, ACT1, 1000, &rows), PA_OK);
    CU_ASSERT_EQUAL(rows, 2);
    CU_ASSERT_EQUAL(pa_store_outbox_add(db, "ev-2", 43, ACT2, 1000, NULL), PA_OK);
    CU_ASSERT_EQUAL(pa_store_outbox_count(db, &n), PA_OK);
    CU_ASSERT_EQUAL(n, 3);

    CU_ASSERT_EQUAL(pa_store_outbox_due(db, 1000, 10, &due), PA_OK);
    CU_ASSERT_EQUAL_FATAL(due.count, 3);
    /* Name order within the event: alpha before zeta, ids growing. */
    ASSERT_STR(due.items[0].event_id, "ev-1");
    ASSERT_STR(due.items[0].activation_id, ACT1);
    ASSERT_STR(due.items[0].callback_id, "cb-2");
    ASSERT_STR(due.items[0].callback_url, "http://a/");
    CU_ASSERT_EQUAL(due.items[0].attempts, 0);
    CU_ASSERT_EQUAL(due.items[0].created_ms, 1000);
    CU_ASSERT_EQUAL(due.items[0].next_attempt_ms, 1000);
    ASSERT_STR(due.items[1].event_id, "ev-1");
    ASSERT_STR(due.items[1].callback_id, "cb-1");
    ASSERT_STR(due.items[1].callback_url, "http://z/");
    CU_ASSERT(due.items[1].id > due.items[0].id);
    ASSERT_STR(due.items[2].event_id, "ev-2");
    ASSERT_STR(due.items[2].activation_id, ACT2);
    ASSERT_STR(due.items[2].callback_id, "cb-o");
    CU_ASSERT(due.items[2].id > due.items[1].id);
    pa_store_outbox_array_free(&due);
    CU_ASSERT_PTR_NULL(due.items);
    CU_ASSERT_EQUAL(due.count, 0);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_callback_outbox WHERE"
                          " typeof(timestamp_created) = 'integer'"
                          " AND typeof(timestamp_next_attempt) = 'integer'"
                          " AND timestamp_created = 1000"), 3);

    /* Written with a rolled-back change: gone with it. */
    CU_ASSERT_EQUAL_FATAL(pa_store_begin(db), PA_OK);
    CU_ASSERT_EQUAL(pa_store_outbox_add(db, "ev-3", 41, ACT1, 2000, &rows), PA_OK);
    CU_ASSERT_EQUAL(rows, 2);
    CU_ASSERT_EQUAL(pa_store_rollback(db), PA_OK);
    CU_ASSERT_EQUAL(pa_store_outbox_count(db, &n), PA_OK);
    CU_ASSERT_EQUAL(n, 3);

    CU_ASSERT_EQUAL(pa_store_outbox_add(db, NULL, 41, ACT1, 1, &rows), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_outbox_add(db, "e", 41, NULL, 1, &rows), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_outbox_count(db, &n), PA_OK);
    CU_ASSERT_EQUAL(n, 3);
}

static void test_outbox_due_retry_remove(void)
{
    pa_store_outbox_array due;
    int64_t ids[4], next = -1, n = -1;
    int found = -1, rows;
    size_t i;

    seed_app(41, "app41", 52);
    CU_ASSERT_EQUAL(pa_store_outbox_next_due(db, &next, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_EQUAL(pa_store_outbox_due(db, INT64_MAX, 10, &due), PA_OK);
    CU_ASSERT_EQUAL(due.count, 0);
    CU_ASSERT_PTR_NULL(due.items);

    CU_ASSERT_EQUAL(pa_store_callback_create(db, "cb", 41, "n", "http://cb/"), PA_OK);
    /* Four rows, one per event, due at 400, 100, 300, 100. */
    CU_ASSERT_EQUAL(pa_store_outbox_add(db, "e0", 41, ACT1, 400, &rows), PA_OK);
    CU_ASSERT_EQUAL(pa_store_outbox_add(db, "e1", 41, ACT1, 100, &rows), PA_OK);
    CU_ASSERT_EQUAL(pa_store_outbox_add(db, "e2", 41, ACT2, 300, &rows), PA_OK);
    CU_ASSERT_EQUAL(pa_store_outbox_add(db, "e3", 41, ACT2, 100, &rows), PA_OK);
    for (i = 0; i < 4; i++) {
        char sql[96];

        snprintf(sql, sizeof sql, "SELECT id FROM pa_callback_outbox WHERE event_id = 'e%zu'",
                 i);
        ids[i] = count(sql);
    }

    CU_ASSERT_EQUAL(pa_store_outbox_next_due(db, &next, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_EQUAL(next, 100);

    /* Due: next attempt at or before now, by time then id, up to limit. */
    CU_ASSERT_EQUAL(pa_store_outbox_due(db, 99, 10, &due), PA_OK);
    CU_ASSERT_EQUAL(due.count, 0);
    CU_ASSERT_EQUAL(pa_store_outbox_due(db, 300, 10, &due), PA_OK);
    CU_ASSERT_EQUAL_FATAL(due.count, 3);
    CU_ASSERT_EQUAL(due.items[0].id, ids[1]);
    CU_ASSERT_EQUAL(due.items[1].id, ids[3]);
    CU_ASSERT_EQUAL(due.items[2].id, ids[2]);
    pa_store_outbox_array_free(&due);
    CU_ASSERT_EQUAL(pa_store_outbox_due(db, 300, 2, &due), PA_OK);
    CU_ASSERT_EQUAL_FATAL(due.count, 2);
    CU_ASSERT_EQUAL(due.items[1].id, ids[3]);
    pa_store_outbox_array_free(&due);

    /* A failed attempt moves the row back in the queue. */
    CU_ASSERT_EQUAL(pa_store_outbox_retry(db, ids[1], 1, 500), PA_OK);
    CU_ASSERT_EQUAL(pa_store_outbox_due(db, 300, 10, &due), PA_OK);
    CU_ASSERT_EQUAL_FATAL(due.count, 2);
    CU_ASSERT_EQUAL(due.items[0].id, ids[3]);
    CU_ASSERT_EQUAL(due.items[1].id, ids[2]);
    pa_store_outbox_array_free(&due);
    CU_ASSERT_EQUAL(pa_store_outbox_due(db, 500, 10, &due), PA_OK);
    CU_ASSERT_EQUAL_FATAL(due.count, 4);
    CU_ASSERT_EQUAL(due.items[3].id, ids[1]);
    CU_ASSERT_EQUAL(due.items[3].attempts, 1);
    CU_ASSERT_EQUAL(due.items[3].next_attempt_ms, 500);
    CU_ASSERT_EQUAL(due.items[3].created_ms, 100); /* creation time kept */
    CU_ASSERT_EQUAL(due.items[2].id, ids[0]);
    CU_ASSERT_EQUAL(due.items[2].attempts, 0);
    pa_store_outbox_array_free(&due);

    /* Delivered rows go; next_due follows. */
    CU_ASSERT_EQUAL(pa_store_outbox_remove(db, ids[3]), PA_OK);
    CU_ASSERT_EQUAL(pa_store_outbox_remove(db, ids[2]), PA_OK);
    CU_ASSERT_EQUAL(pa_store_outbox_remove(db, ids[2]), PA_OK); /* already gone: fine */
    CU_ASSERT_EQUAL(pa_store_outbox_count(db, &n), PA_OK);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_EQUAL(pa_store_outbox_next_due(db, &next, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_EQUAL(next, 400);
    CU_ASSERT_EQUAL(pa_store_outbox_remove(db, ids[0]), PA_OK);
    CU_ASSERT_EQUAL(pa_store_outbox_remove(db, ids[1]), PA_OK);
    CU_ASSERT_EQUAL(pa_store_outbox_next_due(db, &next, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_EQUAL(pa_store_outbox_count(db, &n), PA_OK);
    CU_ASSERT_EQUAL(n, 0);

    CU_ASSERT_EQUAL(pa_store_outbox_due(db, 300, 0, &due), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_outbox_due(db, 300, 1, NULL), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_outbox_next_due(db, NULL, &found), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_outbox_count(db, NULL), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_outbox_remove(NULL, 1), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_outbox_retry(NULL, 1, 1, 1), PA_ERR_INVALID_REQUEST);
}

static void test_outbox_removed_callback(void)
{
    pa_store_outbox_array due;
    int found, rows;

    seed_app(41, "app41", 52);
    CU_ASSERT_EQUAL(pa_store_callback_create(db, "cb-1", 41, "a", "http://one/"), PA_OK);
    CU_ASSERT_EQUAL(pa_store_callback_create(db, "cb-2", 41, "b", "http://two/"), PA_OK);
    CU_ASSERT_EQUAL(pa_store_outbox_add(db, "ev", 41, ACT1, 10, &rows), PA_OK);
    CU_ASSERT_EQUAL(rows, 2);
    CU_ASSERT_EQUAL(pa_store_callback_remove(db, "cb-1", &found), PA_OK);
    CU_ASSERT_EQUAL(found, 1);

    CU_ASSERT_EQUAL(pa_store_outbox_due(db, 10, 10, &due), PA_OK);
    CU_ASSERT_EQUAL_FATAL(due.count, 2);
    ASSERT_STR(due.items[0].callback_id, "cb-1");
    CU_ASSERT_PTR_NULL(due.items[0].callback_url);
    ASSERT_STR(due.items[0].event_id, "ev");
    ASSERT_STR(due.items[1].callback_id, "cb-2");
    ASSERT_STR(due.items[1].callback_url, "http://two/");
    pa_store_outbox_array_free(&due);
}

static void test_outbox_trim(void)
{
    pa_store_outbox_array due;
    int64_t dropped = -1, n = -1, first;
    char ev[16];
    int i, rows;

    seed_app(41, "app41", 52);
    CU_ASSERT_EQUAL(pa_store_callback_create(db, "cb", 41, "n", "http://cb/"), PA_OK);
    /* Five rows; the oldest (lowest id) is due last, so trimming must go
     * by id, not by due time. */
    for (i = 0; i < 5; i++) {
        snprintf(ev, sizeof ev, "e%d", i);
        CU_ASSERT_EQUAL(pa_store_outbox_add(db, ev, 41, ACT1, 100 - i, &rows), PA_OK);
    }
    first = count("SELECT min(id) FROM pa_callback_outbox");

    CU_ASSERT_EQUAL(pa_store_outbox_trim(db, 5, &dropped), PA_OK);
    CU_ASSERT_EQUAL(dropped, 0);
    CU_ASSERT_EQUAL(pa_store_outbox_trim(db, 10, &dropped), PA_OK);
    CU_ASSERT_EQUAL(dropped, 0);
    CU_ASSERT_EQUAL(pa_store_outbox_trim(db, 3, &dropped), PA_OK);
    CU_ASSERT_EQUAL(dropped, 2);
    CU_ASSERT_EQUAL(pa_store_outbox_count(db, &n), PA_OK);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_EQUAL(count("SELECT min(id) FROM pa_callback_outbox"), first + 2);
    CU_ASSERT_EQUAL(pa_store_outbox_due(db, 1000, 10, &due), PA_OK);
    CU_ASSERT_EQUAL_FATAL(due.count, 3);
    ASSERT_STR(due.items[0].event_id, "e4");
    ASSERT_STR(due.items[1].event_id, "e3");
    ASSERT_STR(due.items[2].event_id, "e2");
    pa_store_outbox_array_free(&due);

    CU_ASSERT_EQUAL(pa_store_outbox_trim(db, 0, &dropped), PA_OK);
    CU_ASSERT_EQUAL(dropped, 3);
    CU_ASSERT_EQUAL(pa_store_outbox_count(db, &n), PA_OK);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(pa_store_outbox_trim(db, 0, &dropped), PA_OK);
    CU_ASSERT_EQUAL(dropped, 0);
    CU_ASSERT_EQUAL(pa_store_outbox_trim(db, -1, &dropped), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_outbox_trim(db, 1, NULL), PA_ERR_INVALID_REQUEST);
}

/* The query plan of a cached statement (white box: the statement the
 * store prepared in `slot`), details joined by "; ". */
static const char *plan_of(pa_sq_slot slot, char *buf, size_t len)
{
    sqlite3 *c = pa_sq_db(db);
    sqlite3_stmt *st = NULL;
    const char *sql = db->stmt[slot] ? sqlite3_sql(db->stmt[slot]) : NULL;
    char *explain;
    size_t used = 0;

    buf[0] = '\0';
    if (!sql || !(explain = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sql)))
        return buf;
    if (sqlite3_prepare_v2(c, explain, -1, &st, NULL) == SQLITE_OK)
        while (sqlite3_step(st) == SQLITE_ROW && used + 1 < len)
            used += (size_t)snprintf(buf + used, len - used, "%s; ",
                                     (const char *)sqlite3_column_text(st, 3));
    sqlite3_finalize(st);
    sqlite3_free(explain);
    return buf;
}

#define ASSERT_PLAN(slot, needle)                                            \
    do {                                                                     \
        char plan_[512];                                                     \
        const char *p_ = plan_of(slot, plan_, sizeof plan_);                 \
        if (!strstr(p_, needle))                                             \
            fprintf(stderr, "\n%s: plan '%s' lacks '%s'\n", #slot, p_, needle); \
        CU_ASSERT_PTR_NOT_NULL(strstr(p_, needle));                          \
    } while (0)

/* The lookups of the request path and the background threads search an
 * index instead of scanning their table (the statements are run once so
 * that the store has prepared them). */
static void test_queries_use_indexes(void)
{
    pa_store_activation got;
    pa_store_activation_array arr;
    pa_store_string_array ids;
    pa_store_history_array h;
    pa_store_outbox_array due;
    char buf[512];
    int found;

    CU_ASSERT_EQUAL(pa_store_activation_code_taken(db, 1, "ABCDE-FGHIJ-KLMNO", &found), PA_OK);
    CU_ASSERT_EQUAL(pa_store_activation_find_by_code(db, 1, "ABCDE-FGHIJ-KLMNO-PQRST", 1,
                                                     &got, &found), PA_OK);
    CU_ASSERT_EQUAL(pa_store_activation_list_for_user(db, "u", 1, 1, &arr), PA_OK);
    CU_ASSERT_EQUAL(pa_store_activation_expired(db, 1, 10, &ids), PA_OK);
    CU_ASSERT_EQUAL(pa_store_history_list(db, ACT1, 0, 1, &h), PA_OK);
    CU_ASSERT_EQUAL(pa_store_outbox_due(db, 1, 10, &due), PA_OK);

    /* The prefix check is a range over (application_id, activation_code). */
    ASSERT_PLAN(PA_SQ_ACTIVATION_CODE_TAKEN,
                "pa_activation_code (application_id=? AND activation_code>? AND"
                " activation_code<?)");
    ASSERT_PLAN(PA_SQ_ACTIVATION_FIND_BY_CODE,
                "pa_activation_code (application_id=? AND activation_code=?)");
    ASSERT_PLAN(PA_SQ_ACTIVATION_LIST_USER_APP,
                "pa_activation_user_id (user_id=? AND application_id=?)");
    /* The sweep walks the partial index in deadline order: no sort. */
    ASSERT_PLAN(PA_SQ_ACTIVATION_EXPIRED,
                "USING INDEX pa_activation_unfinished (timestamp_activation_expire<?); ");
    CU_ASSERT_PTR_NULL(strstr(plan_of(PA_SQ_ACTIVATION_EXPIRED, buf, sizeof buf),
                              "TEMP B-TREE"));
    ASSERT_PLAN(PA_SQ_HISTORY_LIST,
                "pa_activation_history_activation (activation_id=? AND"
                " timestamp_created>? AND timestamp_created<?)");
    ASSERT_PLAN(PA_SQ_OUTBOX_DUE, "pa_callback_outbox_due (timestamp_next_attempt<?)");
}

static void test_new_free_is_safe(void)
{
    pa_store_activation a;
    pa_store_activation_array aa = { NULL, 0 };
    pa_store_string_array sa = { NULL, 0 };
    pa_store_history_array ha = { NULL, 0 };
    pa_store_outbox_array oa = { NULL, 0 };

    memset(&a, 0, sizeof a);
    pa_store_activation_free(&a);
    pa_store_activation_free(NULL);
    pa_store_activation_array_free(&aa);
    pa_store_activation_array_free(NULL);
    pa_store_string_array_free(&sa);
    pa_store_string_array_free(NULL);
    pa_store_history_array_free(&ha);
    pa_store_history_array_free(NULL);
    pa_store_outbox_array_free(&oa);
    pa_store_outbox_array_free(NULL);
    CU_ASSERT_PTR_NULL(a.activation_id);
}

/* ---- suites "audit", "token", "retention" ----------------------------------------- */

/* An application made through the store, with one master key pair; its id
 * in *app and the pair's in *keypair (either may be NULL). */
static void make_app(const char *name, int64_t *app, int64_t *keypair)
{
    int64_t a = 0, k = 0;

    CU_ASSERT_EQUAL_FATAL(pa_store_application_create(db, name, &a), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_master_keypair_create(db, a, "kp", "MPRIV", "MPUB",
                                                         1, &k), PA_OK);
    if (app)
        *app = a;
    if (keypair)
        *keypair = k;
}

/* An activation made through the store. */
static void make_activation(const char *id, int64_t app, int64_t keypair,
                            const char *user, int status)
{
    pa_store_activation a = bare_activation(id, app, user, NULL, status);

    a.master_keypair_id = keypair;
    CU_ASSERT_EQUAL_FATAL(pa_store_activation_insert(db, &a), PA_OK);
}

/* A minimal audit row: the NOT NULL columns, nullable ones NULL. */
static pa_store_audit bare_audit(const char *activation_id, int64_t created_ms)
{
    pa_store_audit a;

    memset(&a, 0, sizeof a);
    a.activation_id = (char *)activation_id;
    a.activation_status = PA_STATUS_ACTIVE;
    a.signature_type = (char *)"POSSESSION";
    a.signature = (char *)"12345678";
    a.note = (char *)"signature_does_not_match";
    a.created_ms = created_ms;
    return a;
}

static int64_t add_audit(const char *activation_id, int64_t created_ms)
{
    pa_store_audit a = bare_audit(activation_id, created_ms);
    int64_t id = -1;

    CU_ASSERT_EQUAL(pa_store_audit_add(db, &a, &id), PA_OK);
    CU_ASSERT(id > 0);
    return id;
}

static void test_audit_round_trip(void)
{
    pa_store_audit full, bare;
    pa_store_audit_array arr;
    int64_t app, kp, id_bare = -1, id_full = -1;

    /* Three other applications first, so that the application id (4)
     * differs from every integer column of the full row. */
    make_app("other-1", NULL, NULL);
    make_app("other-2", NULL, NULL);
    make_app("other-3", NULL, NULL);
    make_app("main", &app, &kp);
    CU_ASSERT_EQUAL_FATAL(app, 4);
    make_activation(ACT1, app, kp, "audit-user", PA_STATUS_ACTIVE);

    /* Every nullable column NULL (version 0 = NULL), valid 0. */
    bare = bare_audit(ACT1, 1700000000005LL);
    bare.activation_counter = 23;
    bare.activation_status = PA_STATUS_PENDING_COMMIT;
    CU_ASSERT_EQUAL(pa_store_audit_add(db, &bare, &id_bare), PA_OK);
    CU_ASSERT(id_bare > 0);

    /* Every column set, each to a value no other column has. */
    memset(&full, 0, sizeof full);
    full.id = 999;                       /* ignored */
    full.activation_id = (char *)ACT1;
    full.activation_counter = 17;
    full.activation_ctr_data = (char *)"Q1RSREFUQTEyMzQ1Ng==";
    full.activation_status = PA_STATUS_REMOVED;                  /* 5 */
    full.additional_info =
        (char *)"{\"entry\":[{\"key\":\"BLOCKED_REASON\",\"value\":\"MAX_FAILED_ATTEMPTS\"}]}";
    full.data_base64 = (char *)"UE9TVCZkYXRhJnNlY3JldA==";
    full.signature_type = (char *)"POSSESSION_KNOWLEDGE";
    full.signature = (char *)"87654321-12345678";
    full.valid = 1;
    full.note = (char *)"signature_ok";
    full.created_ms = 1700000000011LL;
    full.version = 3;
    full.signature_version = (char *)"3.1";
    full.user_id = (char *)"ignored-user";                      /* ignored */
    full.application_id = 77;                                   /* ignored */
    CU_ASSERT_EQUAL(pa_store_audit_add(db, &full, &id_full), PA_OK);
    CU_ASSERT_EQUAL(id_full, id_bare + 1);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_signature_audit"), 2);

    CU_ASSERT_EQUAL(pa_store_audit_list(db, "audit-user", 0, 0, 1700000000000LL,
                                        1700000000011LL, &arr), PA_OK);
    CU_ASSERT_EQUAL_FATAL(arr.count, 2);
    /* Newest first: the full row. */
    CU_ASSERT_EQUAL(arr.items[0].id, id_full);
    ASSERT_STR(arr.items[0].activation_id, ACT1);
    CU_ASSERT_EQUAL(arr.items[0].activation_counter, 17);
    ASSERT_STR(arr.items[0].activation_ctr_data, full.activation_ctr_data);
    CU_ASSERT_EQUAL(arr.items[0].activation_status, PA_STATUS_REMOVED);
    ASSERT_STR(arr.items[0].additional_info, full.additional_info);
    ASSERT_STR(arr.items[0].data_base64, full.data_base64);
    ASSERT_STR(arr.items[0].signature_type, "POSSESSION_KNOWLEDGE");
    ASSERT_STR(arr.items[0].signature, "87654321-12345678");
    CU_ASSERT_EQUAL(arr.items[0].valid, 1);
    ASSERT_STR(arr.items[0].note, "signature_ok");
    CU_ASSERT_EQUAL(arr.items[0].created_ms, 1700000000011LL);
    CU_ASSERT_EQUAL(arr.items[0].version, 3);
    ASSERT_STR(arr.items[0].signature_version, "3.1");
    ASSERT_STR(arr.items[0].user_id, "audit-user");
    CU_ASSERT_EQUAL(arr.items[0].application_id, app);
    /* The bare row: NULLs read as NULL, version 0. */
    CU_ASSERT_EQUAL(arr.items[1].id, id_bare);
    ASSERT_STR(arr.items[1].activation_id, ACT1);
    CU_ASSERT_EQUAL(arr.items[1].activation_counter, 23);
    CU_ASSERT_PTR_NULL(arr.items[1].activation_ctr_data);
    CU_ASSERT_EQUAL(arr.items[1].activation_status, PA_STATUS_PENDING_COMMIT);
    CU_ASSERT_PTR_NULL(arr.items[1].additional_info);
    CU_ASSERT_PTR_NULL(arr.items[1].data_base64);
    ASSERT_STR(arr.items[1].signature_type, "POSSESSION");
    ASSERT_STR(arr.items[1].signature, "12345678");
    CU_ASSERT_EQUAL(arr.items[1].valid, 0);
    ASSERT_STR(arr.items[1].note, "signature_does_not_match");
    CU_ASSERT_EQUAL(arr.items[1].created_ms, 1700000000005LL);
    CU_ASSERT_EQUAL(arr.items[1].version, 0);
    CU_ASSERT_PTR_NULL(arr.items[1].signature_version);
    ASSERT_STR(arr.items[1].user_id, "audit-user");
    CU_ASSERT_EQUAL(arr.items[1].application_id, app);
    pa_store_audit_array_free(&arr);
    CU_ASSERT_PTR_NULL(arr.items);
    CU_ASSERT_EQUAL(arr.count, 0);

    /* Stored under the right names, as integers, NULLs as NULL. */
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_signature_audit WHERE"
                          " activation_id = '" ACT1 "' AND activation_counter = 17"
                          " AND activation_ctr_data = 'Q1RSREFUQTEyMzQ1Ng=='"
                          " AND activation_status = 5"
                          " AND additional_info LIKE '{\"entry\":[{\"key\":\"BLOCKED%'"
                          " AND data_base64 = 'UE9TVCZkYXRhJnNlY3JldA=='"
                          " AND signature_type = 'POSSESSION_KNOWLEDGE'"
                          " AND signature = '87654321-12345678' AND valid = 1"
                          " AND note = 'signature_ok'"
                          " AND timestamp_created = 1700000000011"
                          " AND typeof(timestamp_created) = 'integer'"
                          " AND version = 3 AND signature_version = '3.1'"), 1);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_signature_audit WHERE"
                          " activation_ctr_data IS NULL AND additional_info IS NULL"
                          " AND data_base64 IS NULL AND version IS NULL"
                          " AND signature_version IS NULL AND valid = 0"
                          " AND activation_counter = 23 AND activation_status = 2"), 1);

    /* *id may be NULL. */
    CU_ASSERT_EQUAL(pa_store_audit_add(db, &bare, NULL), PA_OK);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_signature_audit"), 3);
    /* Any non-zero valid is stored as 1. */
    bare.valid = 7;
    CU_ASSERT_EQUAL(pa_store_audit_add(db, &bare, NULL), PA_OK);
    CU_ASSERT_EQUAL(count("SELECT valid FROM pa_signature_audit ORDER BY id DESC LIMIT 1"),
                    1);
}

static void test_audit_refused(void)
{
    pa_store_audit a;
    pa_store_audit_array arr;
    int64_t app, kp, id = -1;

    make_app("main", &app, &kp);
    make_activation(ACT1, app, kp, "u", PA_STATUS_ACTIVE);

    /* Unknown activation: the foreign key refuses it, *id stays 0. */
    a = bare_audit(ACT2, 100);
    CU_ASSERT_EQUAL(pa_store_audit_add(db, &a, &id), PA_ERR_UNKNOWN_ERROR);
    CU_ASSERT_EQUAL(id, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(pa_store_last_error(), "FOREIGN KEY"));
    /* Missing NOT NULL values: misuse. */
    a = bare_audit(NULL, 100);
    CU_ASSERT_EQUAL(pa_store_audit_add(db, &a, NULL), PA_ERR_INVALID_REQUEST);
    a = bare_audit(ACT1, 100);
    a.signature_type = NULL;
    CU_ASSERT_EQUAL(pa_store_audit_add(db, &a, NULL), PA_ERR_INVALID_REQUEST);
    a = bare_audit(ACT1, 100);
    a.signature = NULL;
    CU_ASSERT_EQUAL(pa_store_audit_add(db, &a, NULL), PA_ERR_INVALID_REQUEST);
    a = bare_audit(ACT1, 100);
    a.note = NULL;
    CU_ASSERT_EQUAL(pa_store_audit_add(db, &a, NULL), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_audit_add(db, NULL, NULL), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_audit_add(NULL, &a, NULL), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_signature_audit"), 0);

    CU_ASSERT_EQUAL(pa_store_audit_list(db, NULL, 0, 0, 0, 1, &arr), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_audit_list(db, "u", 0, 0, 0, 1, NULL), PA_ERR_INVALID_REQUEST);
}

/* Ids of a list result joined by ',' for comparing whole orders. */
static const char *audit_ids(const pa_store_audit_array *arr, const int64_t *base,
                             char *buf, size_t len)
{
    size_t i, used = 0;

    buf[0] = '\0';
    for (i = 0; i < arr->count && used + 1 < len; i++)
        used += (size_t)snprintf(buf + used, len - used, i ? ",%lld" : "%lld",
                                 (long long)(arr->items[i].id - *base));
    return buf;
}

static void test_audit_list_order(void)
{
    pa_store_audit_array arr;
    int64_t app, kp, first;
    char buf[128];

    make_app("main", &app, &kp);
    make_activation(ACT1, app, kp, "u", PA_STATUS_ACTIVE);
    make_activation(ACT2, app, kp, "u", PA_STATUS_ACTIVE);

    /* Inserted out of time order; three rows share t = 200, across both
     * activations. */
    first = add_audit(ACT1, 200);   /* +0 */
    add_audit(ACT2, 300);           /* +1 */
    add_audit(ACT2, 200);           /* +2 */
    add_audit(ACT1, 100);           /* +3 */
    add_audit(ACT1, 200);           /* +4 */
    add_audit(ACT2, 150);           /* +5 */

    CU_ASSERT_EQUAL(pa_store_audit_list(db, "u", 0, 0, 0, INT64_MAX, &arr), PA_OK);
    ASSERT_STR(audit_ids(&arr, &first, buf, sizeof buf), "1,4,2,0,5,3");
    pa_store_audit_array_free(&arr);
    CU_ASSERT_EQUAL(pa_store_audit_list(db, "u", 1, app, 0, INT64_MAX, &arr), PA_OK);
    ASSERT_STR(audit_ids(&arr, &first, buf, sizeof buf), "1,4,2,0,5,3");
    pa_store_audit_array_free(&arr);
}

static void test_audit_list_filters(void)
{
    pa_store_audit_array arr;
    int64_t app_a, app_b, kp_a, kp_b, first;
    char buf[128];
    size_t i;

    make_app("app-a", &app_a, &kp_a);
    make_app("app-b", &app_b, &kp_b);
    make_activation(ACT1, app_a, kp_a, "u1", PA_STATUS_ACTIVE);
    make_activation(ACT2, app_b, kp_b, "u1", PA_STATUS_BLOCKED);
    make_activation(ACT3, app_a, kp_a, "u2", PA_STATUS_ACTIVE);
    make_activation(ACT4, app_a, kp_a, "u1-other", PA_STATUS_ACTIVE);

    first = add_audit(ACT1, 100);   /* +0 */
    add_audit(ACT1, 200);           /* +1 */
    add_audit(ACT1, 300);           /* +2 */
    add_audit(ACT2, 250);           /* +3 */
    add_audit(ACT3, 200);           /* +4  another user */
    add_audit(ACT4, 200);           /* +5  a user whose id starts alike */

    /* Every application of the user; user and application filled. */
    CU_ASSERT_EQUAL(pa_store_audit_list(db, "u1", 0, 0, 100, 300, &arr), PA_OK);
    ASSERT_STR(audit_ids(&arr, &first, buf, sizeof buf), "2,3,1,0");
    for (i = 0; i < arr.count; i++) {
        ASSERT_STR(arr.items[i].user_id, "u1");
        CU_ASSERT_EQUAL(arr.items[i].application_id,
                        streq(arr.items[i].activation_id, ACT2) ? app_b : app_a);
    }
    pa_store_audit_array_free(&arr);

    /* One application. */
    CU_ASSERT_EQUAL(pa_store_audit_list(db, "u1", 1, app_a, 0, INT64_MAX, &arr), PA_OK);
    ASSERT_STR(audit_ids(&arr, &first, buf, sizeof buf), "2,1,0");
    pa_store_audit_array_free(&arr);
    CU_ASSERT_EQUAL(pa_store_audit_list(db, "u1", 1, app_b, 0, INT64_MAX, &arr), PA_OK);
    ASSERT_STR(audit_ids(&arr, &first, buf, sizeof buf), "3");
    CU_ASSERT_EQUAL_FATAL(arr.count, 1);
    ASSERT_STR(arr.items[0].user_id, "u1");
    CU_ASSERT_EQUAL(arr.items[0].application_id, app_b);
    pa_store_audit_array_free(&arr);
    CU_ASSERT_EQUAL(pa_store_audit_list(db, "u1", 1, 999, 0, INT64_MAX, &arr), PA_OK);
    CU_ASSERT_EQUAL(arr.count, 0);
    CU_ASSERT_PTR_NULL(arr.items);

    /* The window is inclusive at both ends. */
    CU_ASSERT_EQUAL(pa_store_audit_list(db, "u1", 0, 0, 200, 250, &arr), PA_OK);
    ASSERT_STR(audit_ids(&arr, &first, buf, sizeof buf), "3,1");
    pa_store_audit_array_free(&arr);
    CU_ASSERT_EQUAL(pa_store_audit_list(db, "u1", 1, app_a, 200, 300, &arr), PA_OK);
    ASSERT_STR(audit_ids(&arr, &first, buf, sizeof buf), "2,1");
    pa_store_audit_array_free(&arr);
    CU_ASSERT_EQUAL(pa_store_audit_list(db, "u1", 0, 0, 101, 199, &arr), PA_OK);
    CU_ASSERT_EQUAL(arr.count, 0);
    CU_ASSERT_EQUAL(pa_store_audit_list(db, "u1", 0, 0, 300, 100, &arr), PA_OK);
    CU_ASSERT_EQUAL(arr.count, 0);
    CU_ASSERT_EQUAL(pa_store_audit_list(db, "u1", 0, 0, 301, INT64_MAX, &arr), PA_OK);
    CU_ASSERT_EQUAL(arr.count, 0);

    /* Other users see only their own rows; user ids are exact. */
    CU_ASSERT_EQUAL(pa_store_audit_list(db, "u2", 0, 0, 0, INT64_MAX, &arr), PA_OK);
    ASSERT_STR(audit_ids(&arr, &first, buf, sizeof buf), "4");
    pa_store_audit_array_free(&arr);
    CU_ASSERT_EQUAL(pa_store_audit_list(db, "u2", 1, app_b, 0, INT64_MAX, &arr), PA_OK);
    CU_ASSERT_EQUAL(arr.count, 0);
    CU_ASSERT_EQUAL(pa_store_audit_list(db, "U1", 0, 0, 0, INT64_MAX, &arr), PA_OK);
    CU_ASSERT_EQUAL(arr.count, 0);
    CU_ASSERT_EQUAL(pa_store_audit_list(db, "u", 0, 0, 0, INT64_MAX, &arr), PA_OK);
    CU_ASSERT_EQUAL(arr.count, 0);
    CU_ASSERT_EQUAL(pa_store_audit_list(db, "nobody", 0, 0, 0, INT64_MAX, &arr), PA_OK);
    CU_ASSERT_EQUAL(arr.count, 0);
    CU_ASSERT_PTR_NULL(arr.items);
}

/* ---- tokens ------------------------------------------------------------------------ */

#define TOK1 "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
#define TOK2 "1a2b3c4d-5e6f-4a1b-9c2d-3e4f5a6b7c8d"

static pa_store_token make_token(const char *id, const char *secret,
                                 const char *activation_id, const char *type,
                                 int64_t created_ms)
{
    pa_store_token t;

    memset(&t, 0, sizeof t);
    t.token_id = (char *)id;
    t.token_secret = (char *)secret;
    t.activation_id = (char *)activation_id;
    t.signature_type = (char *)type;
    t.created_ms = created_ms;
    return t;
}

static void test_token_round_trip(void)
{
    pa_store_token t, got;
    pa_store_activation a;
    int64_t app, kp;
    int found = -1;

    make_app("other-1", NULL, NULL);
    make_app("other-2", NULL, NULL);
    make_app("main", &app, &kp);
    CU_ASSERT_EQUAL_FATAL(app, 3);
    make_activation(ACT1, app, kp, "token-user", PA_STATUS_ACTIVE);

    t = make_token(TOK1, "c2VjcmV0LXNlY3JldDEyMw==", ACT1, "POSSESSION_BIOMETRY",
                   1700000000021LL);
    t.activation_status = 99;            /* ignored */
    t.user_id = (char *)"ignored";       /* ignored */
    t.application_id = 88;               /* ignored */
    CU_ASSERT_EQUAL_FATAL(pa_store_token_insert(db, &t), PA_OK);

    CU_ASSERT_EQUAL(pa_store_token_get(db, TOK1, &got, &found), PA_OK);
    CU_ASSERT_EQUAL_FATAL(found, 1);
    ASSERT_STR(got.token_id, TOK1);
    ASSERT_STR(got.token_secret, "c2VjcmV0LXNlY3JldDEyMw==");
    ASSERT_STR(got.activation_id, ACT1);
    ASSERT_STR(got.signature_type, "POSSESSION_BIOMETRY");
    CU_ASSERT_EQUAL(got.created_ms, 1700000000021LL);
    CU_ASSERT_EQUAL(got.activation_status, PA_STATUS_ACTIVE);
    ASSERT_STR(got.user_id, "token-user");
    CU_ASSERT_EQUAL(got.application_id, app);
    pa_store_token_free(&got);
    CU_ASSERT_PTR_NULL(got.token_secret);
    CU_ASSERT_EQUAL(got.created_ms, 0);

    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_token WHERE token_id = '" TOK1 "'"
                          " AND token_secret = 'c2VjcmV0LXNlY3JldDEyMw=='"
                          " AND activation_id = '" ACT1 "'"
                          " AND signature_type = 'POSSESSION_BIOMETRY'"
                          " AND timestamp_created = 1700000000021"
                          " AND typeof(timestamp_created) = 'integer'"), 1);

    /* The activation's status is read at lookup time. */
    CU_ASSERT_EQUAL_FATAL(pa_store_activation_get(db, ACT1, &a, &found), PA_OK);
    a.status = PA_STATUS_BLOCKED;
    CU_ASSERT_EQUAL(pa_store_activation_update(db, &a, &found), PA_OK);
    pa_store_activation_free(&a);
    CU_ASSERT_EQUAL(pa_store_token_get(db, TOK1, &got, &found), PA_OK);
    CU_ASSERT_EQUAL_FATAL(found, 1);
    CU_ASSERT_EQUAL(got.activation_status, PA_STATUS_BLOCKED);
    pa_store_token_free(&got);

    /* Unknown token (ids are exact): not found, result zeroed. */
    got.created_ms = 5;
    CU_ASSERT_EQUAL(pa_store_token_get(db, TOK2, &got, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_PTR_NULL(got.token_id);
    CU_ASSERT_EQUAL(got.created_ms, 0);
    CU_ASSERT_EQUAL(pa_store_token_get(db, "0F1E2D3C-4B5A-4968-8776-A5B4C3D2E1F0", &got,
                                       &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);

    CU_ASSERT_EQUAL(pa_store_token_get(db, NULL, &got, &found), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_token_get(db, TOK1, NULL, &found), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_token_get(db, TOK1, &got, NULL), PA_ERR_INVALID_REQUEST);
}

static void test_token_insert_refused(void)
{
    pa_store_token t, got;
    int64_t app, kp;
    int found;

    make_app("main", &app, &kp);
    make_activation(ACT1, app, kp, "u", PA_STATUS_ACTIVE);
    make_activation(ACT2, app, kp, "u", PA_STATUS_ACTIVE);
    t = make_token(TOK1, "SECRET-1", ACT1, "POSSESSION", 100);
    CU_ASSERT_EQUAL_FATAL(pa_store_token_insert(db, &t), PA_OK);

    /* Same id, other values: refused, the stored row unchanged. */
    t = make_token(TOK1, "SECRET-2", ACT2, "KNOWLEDGE", 200);
    CU_ASSERT_EQUAL(pa_store_token_insert(db, &t), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_token"), 1);
    CU_ASSERT_EQUAL(pa_store_token_get(db, TOK1, &got, &found), PA_OK);
    CU_ASSERT_EQUAL_FATAL(found, 1);
    ASSERT_STR(got.token_secret, "SECRET-1");
    ASSERT_STR(got.activation_id, ACT1);
    ASSERT_STR(got.signature_type, "POSSESSION");
    CU_ASSERT_EQUAL(got.created_ms, 100);
    pa_store_token_free(&got);

    /* Unknown activation: the foreign key refuses it. */
    t = make_token(TOK2, "SECRET-3", ACT3, "POSSESSION", 300);
    CU_ASSERT_EQUAL(pa_store_token_insert(db, &t), PA_ERR_UNKNOWN_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(pa_store_last_error(), "FOREIGN KEY"));
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_token"), 1);

    /* Missing NOT NULL values: misuse, nothing written. */
    t = make_token(NULL, "S", ACT1, "POSSESSION", 1);
    CU_ASSERT_EQUAL(pa_store_token_insert(db, &t), PA_ERR_INVALID_REQUEST);
    t = make_token(TOK2, NULL, ACT1, "POSSESSION", 1);
    CU_ASSERT_EQUAL(pa_store_token_insert(db, &t), PA_ERR_INVALID_REQUEST);
    t = make_token(TOK2, "S", NULL, "POSSESSION", 1);
    CU_ASSERT_EQUAL(pa_store_token_insert(db, &t), PA_ERR_INVALID_REQUEST);
    t = make_token(TOK2, "S", ACT1, NULL, 1);
    CU_ASSERT_EQUAL(pa_store_token_insert(db, &t), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_token_insert(db, NULL), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_token"), 1);
}

static void test_token_exists(void)
{
    pa_store_token t;
    int64_t app, kp;
    int exists = -1, removed;

    make_app("main", &app, &kp);
    make_activation(ACT1, app, kp, "u", PA_STATUS_ACTIVE);

    CU_ASSERT_EQUAL(pa_store_token_exists(db, TOK1, &exists), PA_OK);
    CU_ASSERT_EQUAL(exists, 0);
    t = make_token(TOK1, "S", ACT1, "POSSESSION", 1);
    CU_ASSERT_EQUAL_FATAL(pa_store_token_insert(db, &t), PA_OK);
    CU_ASSERT_EQUAL(pa_store_token_exists(db, TOK1, &exists), PA_OK);
    CU_ASSERT_EQUAL(exists, 1);
    /* Exact comparison. */
    CU_ASSERT_EQUAL(pa_store_token_exists(db, "0F1E2D3C-4B5A-4968-8776-A5B4C3D2E1F0",
                                          &exists), PA_OK);
    CU_ASSERT_EQUAL(exists, 0);
    exists = -1;
    CU_ASSERT_EQUAL(pa_store_token_exists(db, TOK2, &exists), PA_OK);
    CU_ASSERT_EQUAL(exists, 0);
    CU_ASSERT_EQUAL(pa_store_token_remove(db, TOK1, ACT1, &removed), PA_OK);
    CU_ASSERT_EQUAL(pa_store_token_exists(db, TOK1, &exists), PA_OK);
    CU_ASSERT_EQUAL(exists, 0);

    CU_ASSERT_EQUAL(pa_store_token_exists(db, NULL, &exists), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_token_exists(db, TOK1, NULL), PA_ERR_INVALID_REQUEST);
}

static void test_token_remove(void)
{
    pa_store_token t;
    int64_t app, kp;
    int removed = -1, exists;

    make_app("main", &app, &kp);
    make_activation(ACT1, app, kp, "u", PA_STATUS_ACTIVE);
    make_activation(ACT2, app, kp, "u", PA_STATUS_ACTIVE);
    t = make_token(TOK1, "S1", ACT1, "POSSESSION", 1);
    CU_ASSERT_EQUAL_FATAL(pa_store_token_insert(db, &t), PA_OK);
    t = make_token(TOK2, "S2", ACT1, "KNOWLEDGE", 2);
    CU_ASSERT_EQUAL_FATAL(pa_store_token_insert(db, &t), PA_OK);

    /* Another activation (existing or not): nothing removed, row kept. */
    CU_ASSERT_EQUAL(pa_store_token_remove(db, TOK1, ACT2, &removed), PA_OK);
    CU_ASSERT_EQUAL(removed, 0);
    removed = -1;
    CU_ASSERT_EQUAL(pa_store_token_remove(db, TOK1, ACT3, &removed), PA_OK);
    CU_ASSERT_EQUAL(removed, 0);
    CU_ASSERT_EQUAL(pa_store_token_exists(db, TOK1, &exists), PA_OK);
    CU_ASSERT_EQUAL(exists, 1);
    /* Unknown token. */
    removed = -1;
    CU_ASSERT_EQUAL(pa_store_token_remove(db, "no-such-token", ACT1, &removed), PA_OK);
    CU_ASSERT_EQUAL(removed, 0);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_token"), 2);

    /* The owner: removed, only that row. */
    CU_ASSERT_EQUAL(pa_store_token_remove(db, TOK1, ACT1, &removed), PA_OK);
    CU_ASSERT_EQUAL(removed, 1);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_token WHERE token_id = '" TOK1 "'"), 0);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_token WHERE token_id = '" TOK2 "'"), 1);
    /* Twice: nothing left to remove. */
    CU_ASSERT_EQUAL(pa_store_token_remove(db, TOK1, ACT1, &removed), PA_OK);
    CU_ASSERT_EQUAL(removed, 0);
    /* The activation is untouched. */
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_activation"), 2);

    CU_ASSERT_EQUAL(pa_store_token_remove(db, NULL, ACT1, &removed), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_token_remove(db, TOK2, NULL, &removed), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_token_remove(db, TOK2, ACT1, NULL), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_token"), 1);
}

/* ---- retention ------------------------------------------------------------------------ */

static int64_t add_history(const char *activation_id, int64_t created_ms)
{
    CU_ASSERT_EQUAL(pa_store_history_add(db, activation_id, PA_STATUS_ACTIVE, NULL, NULL,
                                         created_ms), PA_OK);
    return sqlite3_last_insert_rowid(pa_sq_db(db));
}

/* The ids left in a table, relative to `first`, joined by ','. */
static const char *ids_left(const char *table, int64_t first, char *buf, size_t len)
{
    char sql[256];

    snprintf(sql, sizeof sql,
             "SELECT coalesce(group_concat(d, ','), '') FROM"
             " (SELECT id - %lld AS d FROM %s ORDER BY id)",
             (long long)first, table);
    return q_text(pa_sq_db(db), sql, buf, len);
}

typedef pa_err (*purge_fn)(pa_store *, int64_t, int, int *);
typedef int64_t (*add_fn)(const char *, int64_t);

/* One purge function over its table, with the other table as the
 * bystander that must keep its rows. */
static void check_purge(purge_fn purge, add_fn add, const char *table,
                        add_fn add_other, const char *other_table)
{
    int64_t app, kp, first, other_first;
    int deleted = -1;
    char buf[128];

    make_app("main", &app, &kp);
    make_activation(ACT1, app, kp, "u", PA_STATUS_ACTIVE);
    make_activation(ACT2, app, kp, "u2", PA_STATUS_ACTIVE);

    /* Older rows inserted after newer ones; two share t = 100. */
    first = add(ACT1, 200);     /* +0 */
    add(ACT2, 100);             /* +1 */
    add(ACT1, 300);             /* +2  exactly at the cut: kept */
    add(ACT1, 50);              /* +3 */
    add(ACT2, 100);             /* +4 */
    add(ACT1, 400);             /* +5 */
    other_first = add_other(ACT1, 10);
    add_other(ACT2, 20);

    /* At most `limit`, oldest first: 50, then the first of the two at 100. */
    CU_ASSERT_EQUAL(purge(db, 300, 2, &deleted), PA_OK);
    CU_ASSERT_EQUAL(deleted, 2);
    ASSERT_STR(ids_left(table, first, buf, sizeof buf), "0,2,4,5");
    CU_ASSERT_EQUAL(purge(db, 300, 1, &deleted), PA_OK);
    CU_ASSERT_EQUAL(deleted, 1);
    ASSERT_STR(ids_left(table, first, buf, sizeof buf), "0,2,5");
    /* The rest older than the cut; nothing at or after it. */
    CU_ASSERT_EQUAL(purge(db, 300, 100, &deleted), PA_OK);
    CU_ASSERT_EQUAL(deleted, 1);
    ASSERT_STR(ids_left(table, first, buf, sizeof buf), "2,5");
    deleted = -1;
    CU_ASSERT_EQUAL(purge(db, 300, 100, &deleted), PA_OK);
    CU_ASSERT_EQUAL(deleted, 0);
    ASSERT_STR(ids_left(table, first, buf, sizeof buf), "2,5");

    /* A bad limit or missing argument deletes nothing. */
    deleted = -1;
    CU_ASSERT_EQUAL(purge(db, 1000, 0, &deleted), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(deleted, 0);
    CU_ASSERT_EQUAL(purge(db, 1000, -1, &deleted), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(purge(db, 1000, 10, NULL), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(purge(NULL, 1000, 10, &deleted), PA_ERR_INVALID_REQUEST);
    ASSERT_STR(ids_left(table, first, buf, sizeof buf), "2,5");

    /* The other table and the activations are untouched. */
    ASSERT_STR(ids_left(other_table, other_first, buf, sizeof buf), "0,1");
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_activation"), 2);

    /* Everything, in a write transaction as the purge thread runs it. */
    CU_ASSERT_EQUAL_FATAL(pa_store_begin(db), PA_OK);
    CU_ASSERT_EQUAL(purge(db, INT64_MAX, 10, &deleted), PA_OK);
    CU_ASSERT_EQUAL(deleted, 2);
    CU_ASSERT_EQUAL(pa_store_commit(db), PA_OK);
    ASSERT_STR(ids_left(table, first, buf, sizeof buf), "");
    ASSERT_STR(ids_left(other_table, other_first, buf, sizeof buf), "0,1");
}

static void test_audit_purge(void)
{
    check_purge(pa_store_audit_purge, add_audit, "pa_signature_audit", add_history,
                "pa_activation_history");
}

static void test_history_purge(void)
{
    check_purge(pa_store_history_purge, add_history, "pa_activation_history", add_audit,
                "pa_signature_audit");
}

/* The statements of SignatureAudit, the token operations and the purges
 * search indexes (no SCAN of a table) and the purges need no sort. */
static void test_audit_token_queries_use_indexes(void)
{
    pa_store_audit_array arr;
    pa_store_token t;
    int found, deleted;
    char buf[512];
    static const pa_sq_slot slots[] = {
        PA_SQ_AUDIT_LIST_USER, PA_SQ_AUDIT_LIST_USER_APP, PA_SQ_TOKEN_GET,
        PA_SQ_TOKEN_EXISTS, PA_SQ_TOKEN_REMOVE, PA_SQ_AUDIT_PURGE, PA_SQ_HISTORY_PURGE,
    };
    size_t i;

    CU_ASSERT_EQUAL(pa_store_audit_list(db, "u", 0, 0, 0, 1, &arr), PA_OK);
    CU_ASSERT_EQUAL(pa_store_audit_list(db, "u", 1, 1, 0, 1, &arr), PA_OK);
    CU_ASSERT_EQUAL(pa_store_token_get(db, TOK1, &t, &found), PA_OK);
    CU_ASSERT_EQUAL(pa_store_token_exists(db, TOK1, &found), PA_OK);
    CU_ASSERT_EQUAL(pa_store_token_remove(db, TOK1, ACT1, &found), PA_OK);
    CU_ASSERT_EQUAL(pa_store_audit_purge(db, 1, 10, &deleted), PA_OK);
    CU_ASSERT_EQUAL(pa_store_history_purge(db, 1, 10, &deleted), PA_OK);

    ASSERT_PLAN(PA_SQ_AUDIT_LIST_USER, "pa_activation_user_id (user_id=?)");
    ASSERT_PLAN(PA_SQ_AUDIT_LIST_USER,
                "pa_signature_audit_activation (activation_id=? AND"
                " timestamp_created>? AND timestamp_created<?)");
    ASSERT_PLAN(PA_SQ_AUDIT_LIST_USER_APP,
                "pa_activation_user_id (user_id=? AND application_id=?)");
    ASSERT_PLAN(PA_SQ_AUDIT_LIST_USER_APP,
                "pa_signature_audit_activation (activation_id=? AND"
                " timestamp_created>? AND timestamp_created<?)");
    ASSERT_PLAN(PA_SQ_TOKEN_GET, "sqlite_autoindex_pa_token_1 (token_id=?)");
    ASSERT_PLAN(PA_SQ_TOKEN_GET, "sqlite_autoindex_pa_activation_1 (activation_id=?)");
    ASSERT_PLAN(PA_SQ_TOKEN_EXISTS, "sqlite_autoindex_pa_token_1 (token_id=?)");
    ASSERT_PLAN(PA_SQ_TOKEN_REMOVE, "sqlite_autoindex_pa_token_1 (token_id=?)");
    ASSERT_PLAN(PA_SQ_AUDIT_PURGE, "pa_signature_audit_created (timestamp_created<?)");
    ASSERT_PLAN(PA_SQ_HISTORY_PURGE, "pa_activation_history_created (timestamp_created<?)");
    for (i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        plan_of(slots[i], buf, sizeof buf);
        CU_ASSERT(buf[0] != '\0');
        if (strstr(buf, "SCAN "))
            fprintf(stderr, "\nslot %d scans: %s\n", (int)slots[i], buf);
        CU_ASSERT_PTR_NULL(strstr(buf, "SCAN "));
    }
    CU_ASSERT_PTR_NULL(strstr(plan_of(PA_SQ_AUDIT_PURGE, buf, sizeof buf), "TEMP B-TREE"));
    CU_ASSERT_PTR_NULL(strstr(plan_of(PA_SQ_HISTORY_PURGE, buf, sizeof buf), "TEMP B-TREE"));
}

static void test_audit_token_free_is_safe(void)
{
    pa_store_audit_array aa = { NULL, 0 };
    pa_store_token t;

    memset(&t, 0, sizeof t);
    pa_store_audit_array_free(&aa);
    pa_store_audit_array_free(NULL);
    pa_store_token_free(&t);
    pa_store_token_free(NULL);
    CU_ASSERT_PTR_NULL(t.token_secret);
    CU_ASSERT_PTR_NULL(aa.items);
}

/* ---- suites "recovery", "recovery config" ------------------------------------------ */

#define RC1 "AAAAA-BBBBB-CCCCC-DDDDD"
#define RC2 "EEEEE-FFFFF-GGGGG-HHHHH"
#define RC3 "IIIII-JJJJJ-KKKKK-LLLLL"
#define PUK_HASH "$argon2i$v=19$m=16384,t=3,p=16$c2FsdHNhbHQ$aGFzaGhhc2g"

/* A code of `n` VALID plain PUKs (index 1..n, each "<code>#<index>"),
 * with the NOT NULL columns set; puks live in the caller's buffer. */
static pa_store_recovery_code bare_code(const char *code, int64_t app, const char *user,
                                        const char *activation_id, int status,
                                        int64_t created_ms, pa_store_recovery_puk *puks,
                                        char (*texts)[64], size_t n)
{
    pa_store_recovery_code c;
    size_t i;

    memset(&c, 0, sizeof c);
    c.recovery_code = (char *)code;
    c.application_id = app;
    c.user_id = (char *)user;
    c.activation_id = (char *)activation_id;
    c.status = status;
    c.max_failed_attempts = 5;
    c.created_ms = created_ms;
    for (i = 0; i < n; i++) {
        memset(&puks[i], 0, sizeof puks[i]);
        snprintf(texts[i], 64, "%s#%zu", code, i + 1);
        puks[i].puk = texts[i];
        puks[i].puk_index = (int64_t)i + 1;
        puks[i].status = PA_PUK_VALID;
    }
    c.puks = n ? puks : NULL;
    c.puk_count = n;
    return c;
}

/* Inserts a bare code with `n` (at most 4) PUKs; its id. */
static int64_t add_code(const char *code, int64_t app, const char *user,
                        const char *activation_id, int status, int64_t created_ms,
                        size_t n)
{
    pa_store_recovery_puk puks[4];
    char texts[4][64];
    pa_store_recovery_code c = bare_code(code, app, user, activation_id, status,
                                         created_ms, puks, texts, n);
    int64_t id = -1;

    CU_ASSERT_EQUAL_FATAL(pa_store_recovery_code_insert(db, &c, &id), PA_OK);
    CU_ASSERT_FATAL(id > 0);
    return id;
}

/* The array holds exactly these code ids, in this order, each with the
 * PUKs add_code() gave it (n_puks[i] of them, by index). */
static void assert_codes(const pa_store_recovery_code_array *arr, const int64_t *ids,
                         const size_t *n_puks, size_t n, int line)
{
    size_t i, j;
    char want[64];
    int ok = arr->count == n;

    for (i = 0; ok && i < n; i++) {
        const pa_store_recovery_code *c = &arr->items[i];

        ok = c->id == ids[i] && c->puk_count == n_puks[i];
        for (j = 0; ok && j < c->puk_count; j++) {
            snprintf(want, sizeof want, "%s#%zu", c->recovery_code, j + 1);
            ok = c->puks[j].puk_index == (int64_t)j + 1 &&
                 c->puks[j].recovery_code_id == c->id && streq(c->puks[j].puk, want);
        }
    }
    if (!ok) {
        fprintf(stderr, "\nline %d: got", line);
        for (i = 0; i < arr->count; i++)
            fprintf(stderr, " %lld(%zu)", (long long)arr->items[i].id,
                    arr->items[i].puk_count);
    }
    CU_assertImplementation(ok, line, "assert_codes", __FILE__, "", CU_FALSE);
}

static void test_recovery_round_trip(void)
{
    pa_store_recovery_puk puks[2];
    pa_store_recovery_code full, bare, got;
    int64_t app, kp, id_full = -1, id_bare = -1;
    char buf[512];
    int found = -1;

    /* Four other applications first: the application id (5) differs from
     * every other integer column of the full row. */
    make_app("other-1", NULL, NULL);
    make_app("other-2", NULL, NULL);
    make_app("other-3", NULL, NULL);
    make_app("other-4", NULL, NULL);
    make_app("main", &app, &kp);
    CU_ASSERT_EQUAL_FATAL(app, 5);
    make_activation(ACT1, app, kp, "rc-user", PA_STATUS_ACTIVE);

    /* Bound code, every column set; PUKs given out of index order. */
    memset(&full, 0, sizeof full);
    full.id = 777;                                 /* ignored */
    full.recovery_code = (char *)RC1;
    full.application_id = app;
    full.user_id = (char *)"rc-user";
    full.activation_id = (char *)ACT1;
    full.status = PA_RC_BLOCKED;                   /* 3 */
    full.failed_attempts = 6;
    full.max_failed_attempts = 9;
    full.created_ms = 1700000000011LL;
    full.last_change_ms = 1700000000012LL;
    full.has_last_change = 1;
    memset(puks, 0, sizeof puks);
    puks[0].id = 888;                              /* ignored */
    puks[0].recovery_code_id = 999;                /* ignored */
    puks[0].puk = (char *)"ENCRYPTED-PUK-2==";
    puks[0].puk_encryption = 1;
    puks[0].puk_index = 2;
    puks[0].status = PA_PUK_INVALID;               /* 3 */
    puks[0].last_change_ms = 1700000000013LL;
    puks[0].has_last_change = 1;
    puks[1].puk = (char *)PUK_HASH;
    puks[1].puk_encryption = 0;
    puks[1].puk_index = 1;
    puks[1].status = PA_PUK_USED;                  /* 2 */
    full.puks = puks;
    full.puk_count = 2;
    CU_ASSERT_EQUAL_FATAL(pa_store_recovery_code_insert(db, &full, &id_full), PA_OK);
    CU_ASSERT(id_full > 0);
    CU_ASSERT_NOT_EQUAL(id_full, 777);

    /* Postcard code, nullable columns NULL, no PUK. */
    memset(&bare, 0, sizeof bare);
    bare.recovery_code = (char *)RC2;
    bare.application_id = app;
    bare.user_id = (char *)"rc-user";
    bare.status = PA_RC_CREATED;
    bare.max_failed_attempts = 10;
    bare.created_ms = 1700000000021LL;
    bare.last_change_ms = 1234;                    /* ignored: no flag */
    CU_ASSERT_EQUAL_FATAL(pa_store_recovery_code_insert(db, &bare, &id_bare), PA_OK);
    CU_ASSERT(id_bare > id_full);

    CU_ASSERT_EQUAL(pa_store_recovery_code_get(db, id_full, &got, &found), PA_OK);
    CU_ASSERT_EQUAL_FATAL(found, 1);
    CU_ASSERT_EQUAL(got.id, id_full);
    ASSERT_STR(got.recovery_code, RC1);
    CU_ASSERT_EQUAL(got.application_id, app);
    ASSERT_STR(got.user_id, "rc-user");
    ASSERT_STR(got.activation_id, ACT1);
    CU_ASSERT_EQUAL(got.status, PA_RC_BLOCKED);
    CU_ASSERT_EQUAL(got.failed_attempts, 6);
    CU_ASSERT_EQUAL(got.max_failed_attempts, 9);
    CU_ASSERT_EQUAL(got.created_ms, 1700000000011LL);
    CU_ASSERT_EQUAL(got.has_last_change, 1);
    CU_ASSERT_EQUAL(got.last_change_ms, 1700000000012LL);
    CU_ASSERT_EQUAL_FATAL(got.puk_count, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got.puks);
    CU_ASSERT(got.puks[0].id > 0);
    CU_ASSERT(got.puks[1].id > 0);
    CU_ASSERT_NOT_EQUAL(got.puks[0].id, got.puks[1].id);
    CU_ASSERT_EQUAL(got.puks[0].recovery_code_id, id_full);
    ASSERT_STR(got.puks[0].puk, PUK_HASH);
    CU_ASSERT_EQUAL(got.puks[0].puk_encryption, 0);
    CU_ASSERT_EQUAL(got.puks[0].puk_index, 1);
    CU_ASSERT_EQUAL(got.puks[0].status, PA_PUK_USED);
    CU_ASSERT_EQUAL(got.puks[0].has_last_change, 0);
    CU_ASSERT_EQUAL(got.puks[0].last_change_ms, 0);
    CU_ASSERT_EQUAL(got.puks[1].recovery_code_id, id_full);
    ASSERT_STR(got.puks[1].puk, "ENCRYPTED-PUK-2==");
    CU_ASSERT_EQUAL(got.puks[1].puk_encryption, 1);
    CU_ASSERT_EQUAL(got.puks[1].puk_index, 2);
    CU_ASSERT_EQUAL(got.puks[1].status, PA_PUK_INVALID);
    CU_ASSERT_EQUAL(got.puks[1].has_last_change, 1);
    CU_ASSERT_EQUAL(got.puks[1].last_change_ms, 1700000000013LL);
    pa_store_recovery_code_free(&got);
    CU_ASSERT_PTR_NULL(got.puks);
    CU_ASSERT_EQUAL(got.puk_count, 0);
    CU_ASSERT_PTR_NULL(got.recovery_code);

    CU_ASSERT_EQUAL(pa_store_recovery_code_get(db, id_bare, &got, &found), PA_OK);
    CU_ASSERT_EQUAL_FATAL(found, 1);
    ASSERT_STR(got.recovery_code, RC2);
    CU_ASSERT_PTR_NULL(got.activation_id);
    CU_ASSERT_EQUAL(got.status, PA_RC_CREATED);
    CU_ASSERT_EQUAL(got.failed_attempts, 0);
    CU_ASSERT_EQUAL(got.max_failed_attempts, 10);
    CU_ASSERT_EQUAL(got.created_ms, 1700000000021LL);
    CU_ASSERT_EQUAL(got.has_last_change, 0);
    CU_ASSERT_EQUAL(got.last_change_ms, 0);
    CU_ASSERT_EQUAL(got.puk_count, 0);
    CU_ASSERT_PTR_NULL(got.puks);
    pa_store_recovery_code_free(&got);

    /* The stored rows, read independently. */
    snprintf(buf, sizeof buf,
             "SELECT count(*) FROM pa_recovery_code WHERE id = %lld"
             " AND recovery_code = '" RC1 "' AND application_id = 5"
             " AND user_id = 'rc-user' AND activation_id = '" ACT1 "' AND status = 3"
             " AND failed_attempts = 6 AND max_failed_attempts = 9"
             " AND timestamp_created = 1700000000011"
             " AND typeof(timestamp_created) = 'integer'"
             " AND timestamp_last_used IS NULL"
             " AND timestamp_last_change = 1700000000012", (long long)id_full);
    CU_ASSERT_EQUAL(count(buf), 1);
    snprintf(buf, sizeof buf,
             "SELECT count(*) FROM pa_recovery_code WHERE id = %lld"
             " AND activation_id IS NULL AND timestamp_last_change IS NULL"
             " AND timestamp_last_used IS NULL AND failed_attempts = 0",
             (long long)id_bare);
    CU_ASSERT_EQUAL(count(buf), 1);
    snprintf(buf, sizeof buf,
             "SELECT count(*) FROM pa_recovery_puk WHERE recovery_code_id = %lld"
             " AND ((puk_index = 1 AND puk = '" PUK_HASH "' AND puk_encryption = 0"
             "       AND status = 2 AND timestamp_last_change IS NULL)"
             "  OR (puk_index = 2 AND puk = 'ENCRYPTED-PUK-2==' AND puk_encryption = 1"
             "       AND status = 3 AND timestamp_last_change = 1700000000013))",
             (long long)id_full);
    CU_ASSERT_EQUAL(count(buf), 2);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_recovery_puk"), 2);

    /* Unknown id: not found, result zeroed. */
    got.id = 5;
    CU_ASSERT_EQUAL(pa_store_recovery_code_get(db, id_bare + 1, &got, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_EQUAL(got.id, 0);
    CU_ASSERT_PTR_NULL(got.puks);

    CU_ASSERT_EQUAL(pa_store_recovery_code_get(db, id_full, NULL, &found),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_recovery_code_get(db, id_full, &got, NULL),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_recovery_code_get(NULL, id_full, &got, &found),
                    PA_ERR_INVALID_REQUEST);
}

static void test_recovery_insert_refused(void)
{
    pa_store_recovery_puk puks[3];
    char texts[3][64];
    pa_store_recovery_code c;
    int64_t app, kp, id = -1;

    make_app("main", &app, &kp);

    /* Two PUKs with one index: the unique index refuses the second (the
     * caller's transaction then rolls the code back). */
    c = bare_code(RC1, app, "u", NULL, PA_RC_CREATED, 1, puks, texts, 2);
    puks[1].puk_index = 1;
    CU_ASSERT_EQUAL(pa_store_begin(db), PA_OK);
    CU_ASSERT_EQUAL(pa_store_recovery_code_insert(db, &c, &id), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(id, 0);
    CU_ASSERT_EQUAL(pa_store_rollback(db), PA_OK);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_recovery_code"), 0);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_recovery_puk"), 0);

    /* Unknown application or activation: the foreign keys refuse them. */
    c = bare_code(RC1, app + 100, "u", NULL, PA_RC_CREATED, 1, puks, texts, 1);
    CU_ASSERT_EQUAL(pa_store_recovery_code_insert(db, &c, &id), PA_ERR_UNKNOWN_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(pa_store_last_error(), "FOREIGN KEY"));
    c = bare_code(RC1, app, "u", ACT3, PA_RC_CREATED, 1, puks, texts, 1);
    CU_ASSERT_EQUAL(pa_store_recovery_code_insert(db, &c, &id), PA_ERR_UNKNOWN_ERROR);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_recovery_code"), 0);

    /* Missing NOT NULL values: misuse, nothing written. */
    c = bare_code(RC1, app, "u", NULL, PA_RC_CREATED, 1, puks, texts, 3);
    c.recovery_code = NULL;
    CU_ASSERT_EQUAL(pa_store_recovery_code_insert(db, &c, &id), PA_ERR_INVALID_REQUEST);
    c = bare_code(RC1, app, NULL, NULL, PA_RC_CREATED, 1, puks, texts, 3);
    CU_ASSERT_EQUAL(pa_store_recovery_code_insert(db, &c, &id), PA_ERR_INVALID_REQUEST);
    c = bare_code(RC1, app, "u", NULL, PA_RC_CREATED, 1, puks, texts, 3);
    puks[2].puk = NULL;
    CU_ASSERT_EQUAL(pa_store_recovery_code_insert(db, &c, &id), PA_ERR_INVALID_REQUEST);
    c = bare_code(RC1, app, "u", NULL, PA_RC_CREATED, 1, puks, texts, 3);
    c.puks = NULL;
    CU_ASSERT_EQUAL(pa_store_recovery_code_insert(db, &c, &id), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_recovery_code_insert(db, NULL, &id), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_recovery_code"), 0);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_recovery_puk"), 0);

    /* A NULL id pointer is allowed. */
    c = bare_code(RC1, app, "u", NULL, PA_RC_CREATED, 1, puks, texts, 3);
    CU_ASSERT_EQUAL(pa_store_recovery_code_insert(db, &c, NULL), PA_OK);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_recovery_puk"), 3);
}

static void test_recovery_exists(void)
{
    int64_t app1, app2, id;
    pa_store_recovery_code c;
    int exists = -1, found;

    make_app("one", &app1, NULL);
    make_app("two", &app2, NULL);

    CU_ASSERT_EQUAL(pa_store_recovery_code_exists(db, app1, RC1, &exists), PA_OK);
    CU_ASSERT_EQUAL(exists, 0);
    id = add_code(RC1, app1, "u", NULL, PA_RC_CREATED, 1, 1);
    CU_ASSERT_EQUAL(pa_store_recovery_code_exists(db, app1, RC1, &exists), PA_OK);
    CU_ASSERT_EQUAL(exists, 1);
    /* Per application, exact. */
    exists = -1;
    CU_ASSERT_EQUAL(pa_store_recovery_code_exists(db, app2, RC1, &exists), PA_OK);
    CU_ASSERT_EQUAL(exists, 0);
    CU_ASSERT_EQUAL(pa_store_recovery_code_exists(db, app1, "aaaaa-bbbbb-ccccc-ddddd",
                                                  &exists), PA_OK);
    CU_ASSERT_EQUAL(exists, 0);
    CU_ASSERT_EQUAL(pa_store_recovery_code_exists(db, app1, RC2, &exists), PA_OK);
    CU_ASSERT_EQUAL(exists, 0);
    /* In any status. */
    CU_ASSERT_EQUAL_FATAL(pa_store_recovery_code_get(db, id, &c, &found), PA_OK);
    c.status = PA_RC_REVOKED;
    CU_ASSERT_EQUAL(pa_store_recovery_code_update(db, &c, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 1);
    pa_store_recovery_code_free(&c);
    CU_ASSERT_EQUAL(pa_store_recovery_code_exists(db, app1, RC1, &exists), PA_OK);
    CU_ASSERT_EQUAL(exists, 1);

    CU_ASSERT_EQUAL(pa_store_recovery_code_exists(db, app1, NULL, &exists),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_recovery_code_exists(db, app1, RC1, NULL),
                    PA_ERR_INVALID_REQUEST);
}

static void test_recovery_find(void)
{
    pa_store_recovery_code got;
    int64_t app1, app2, id1, id2, old, newer;
    int found = -1;

    make_app("one", &app1, NULL);
    make_app("two", &app2, NULL);
    id1 = add_code(RC1, app1, "u1", NULL, PA_RC_ACTIVE, 10, 3);
    id2 = add_code(RC1, app2, "u2", NULL, PA_RC_CREATED, 20, 1);

    CU_ASSERT_EQUAL(pa_store_recovery_code_find(db, app1, RC1, &got, &found), PA_OK);
    CU_ASSERT_EQUAL_FATAL(found, 1);
    CU_ASSERT_EQUAL(got.id, id1);
    ASSERT_STR(got.user_id, "u1");
    CU_ASSERT_EQUAL(got.status, PA_RC_ACTIVE);
    CU_ASSERT_EQUAL_FATAL(got.puk_count, 3);
    ASSERT_STR(got.puks[0].puk, RC1 "#1");
    ASSERT_STR(got.puks[2].puk, RC1 "#3");
    CU_ASSERT_EQUAL(got.puks[2].puk_index, 3);
    pa_store_recovery_code_free(&got);

    CU_ASSERT_EQUAL(pa_store_recovery_code_find(db, app2, RC1, &got, &found), PA_OK);
    CU_ASSERT_EQUAL_FATAL(found, 1);
    CU_ASSERT_EQUAL(got.id, id2);
    CU_ASSERT_EQUAL(got.puk_count, 1);
    pa_store_recovery_code_free(&got);

    /* Exact: other case, a prefix, another code: not found, zeroed. */
    got.id = 9;
    CU_ASSERT_EQUAL(pa_store_recovery_code_find(db, app1, "aaaaa-bbbbb-ccccc-ddddd",
                                                &got, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_EQUAL(got.id, 0);
    CU_ASSERT_EQUAL(pa_store_recovery_code_find(db, app1, "AAAAA-BBBBB", &got, &found),
                    PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_EQUAL(pa_store_recovery_code_find(db, app1, RC2, &got, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);

    /* A code twice in one application (5.9 prevents it): the newest. */
    old = add_code(RC3, app1, "u1", NULL, PA_RC_ACTIVE, 500, 1);
    newer = add_code(RC3, app1, "u1", NULL, PA_RC_CREATED, 600, 2);
    add_code(RC3, app1, "u1", NULL, PA_RC_CREATED, 400, 1);
    CU_ASSERT_EQUAL(pa_store_recovery_code_find(db, app1, RC3, &got, &found), PA_OK);
    CU_ASSERT_EQUAL_FATAL(found, 1);
    CU_ASSERT_EQUAL(got.id, newer);
    CU_ASSERT_NOT_EQUAL(got.id, old);
    CU_ASSERT_EQUAL(got.puk_count, 2);
    pa_store_recovery_code_free(&got);

    CU_ASSERT_EQUAL(pa_store_recovery_code_find(db, app1, NULL, &got, &found),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_recovery_code_find(db, app1, RC1, NULL, &found),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_recovery_code_find(db, app1, RC1, &got, NULL),
                    PA_ERR_INVALID_REQUEST);
}

/* Looks codes up with the given filters and checks the answer: the codes
 * numbered in `want` (indexes into id[] and npuk[], space-separated), in
 * that order. */
static void check_lookup(const int64_t *id, const size_t *npuk, const char *user,
                         int has_app, int64_t app, const char *act, const char *want,
                         int line)
{
    pa_store_recovery_query q = { user, has_app, app, act };
    pa_store_recovery_code_array arr;
    int64_t ids[8];
    size_t np[8], n = 0;
    char *end;
    long k;

    while (n < 8 && (k = strtol(want, &end, 10), end != want)) {
        ids[n] = id[k];
        np[n++] = npuk[k];
        want = end;
    }
    arr.count = 99;
    CU_ASSERT_EQUAL(pa_store_recovery_code_lookup(db, &q, &arr), PA_OK);
    assert_codes(&arr, ids, np, n, line);
    pa_store_recovery_code_array_free(&arr);
}

#define LOOKUP(u, has_app, app, act, want) \
    check_lookup(id, npuk, (u), (has_app), (app), (act), (want), __LINE__)

static void test_recovery_lookup(void)
{
    pa_store_recovery_query q;
    pa_store_recovery_code_array arr;
    int64_t appA, appB, kpA, kpB, id[8] = { 0 };
    size_t npuk[8] = { 0 };

    make_app("A", &appA, &kpA);
    make_app("B", &appB, &kpB);
    make_activation(ACT1, appA, kpA, "u1", PA_STATUS_ACTIVE);
    make_activation(ACT2, appA, kpA, "u2", PA_STATUS_ACTIVE);
    make_activation(ACT3, appB, kpB, "u1", PA_STATUS_ACTIVE);

    /* Codes 1..7: created times out of id order, two ties (300). */
    npuk[1] = 1; id[1] = add_code("CODE1-AAAAA-AAAAA-AAAAA", appA, "u1", ACT1,
                                  PA_RC_ACTIVE, 100, npuk[1]);
    npuk[2] = 3; id[2] = add_code("CODE2-AAAAA-AAAAA-AAAAA", appA, "u1", NULL,
                                  PA_RC_CREATED, 300, npuk[2]);
    npuk[3] = 2; id[3] = add_code("CODE3-AAAAA-AAAAA-AAAAA", appB, "u1", NULL,
                                  PA_RC_REVOKED, 200, npuk[3]);
    npuk[4] = 1; id[4] = add_code("CODE4-AAAAA-AAAAA-AAAAA", appA, "u2", ACT2,
                                  PA_RC_BLOCKED, 400, npuk[4]);
    npuk[5] = 4; id[5] = add_code("CODE5-AAAAA-AAAAA-AAAAA", appA, "u1", ACT1,
                                  PA_RC_CREATED, 300, npuk[5]);
    npuk[6] = 1; id[6] = add_code("CODE6-AAAAA-AAAAA-AAAAA", appB, "u1", ACT3,
                                  PA_RC_ACTIVE, 50, npuk[6]);
    npuk[7] = 0; id[7] = add_code("CODE7-AAAAA-AAAAA-AAAAA", appA, "u3", NULL,
                                  PA_RC_ACTIVE, 350, npuk[7]);

    /* User alone: every application, newest first, ties by id descending. */
    LOOKUP("u1", 0, 0, NULL, "5 2 3 1 6");
    LOOKUP("u2", 0, 0, NULL, "4");
    /* Application alone. */
    LOOKUP(NULL, 1, appA, NULL, "4 7 5 2 1");
    LOOKUP(NULL, 1, appB, NULL, "3 6");
    /* Activation alone. */
    LOOKUP(NULL, 0, 0, ACT1, "5 1");
    LOOKUP(NULL, 0, 0, ACT3, "6");
    /* User and application. */
    LOOKUP("u1", 1, appA, NULL, "5 2 1");
    LOOKUP("u1", 1, appB, NULL, "3 6");
    LOOKUP("u2", 1, appB, NULL, "");
    /* Application and activation. */
    LOOKUP(NULL, 1, appA, ACT1, "5 1");
    LOOKUP(NULL, 1, appB, ACT1, "");
    LOOKUP(NULL, 1, appA, ACT2, "4");
    /* User and activation; all three. */
    LOOKUP("u1", 0, 0, ACT1, "5 1");
    LOOKUP("u2", 0, 0, ACT1, "");
    LOOKUP("u2", 1, appA, ACT2, "4");
    LOOKUP("u1", 1, appA, ACT2, "");
    LOOKUP("u1", 1, appB, ACT3, "6");
    /* None: every code. */
    LOOKUP(NULL, 0, 0, NULL, "4 7 5 2 3 1 6");
    /* Exact values; unknown ones match nothing. */
    LOOKUP("U1", 0, 0, NULL, "");
    LOOKUP(NULL, 1, appB + 1, NULL, "");
    LOOKUP(NULL, 0, 0, ACT4, "");

    /* Every column of a looked-up code. */
    memset(&q, 0, sizeof q);
    q.activation_id = ACT2;
    CU_ASSERT_EQUAL_FATAL(pa_store_recovery_code_lookup(db, &q, &arr), PA_OK);
    CU_ASSERT_EQUAL_FATAL(arr.count, 1);
    ASSERT_STR(arr.items[0].recovery_code, "CODE4-AAAAA-AAAAA-AAAAA");
    CU_ASSERT_EQUAL(arr.items[0].application_id, appA);
    ASSERT_STR(arr.items[0].user_id, "u2");
    ASSERT_STR(arr.items[0].activation_id, ACT2);
    CU_ASSERT_EQUAL(arr.items[0].status, PA_RC_BLOCKED);
    CU_ASSERT_EQUAL(arr.items[0].max_failed_attempts, 5);
    CU_ASSERT_EQUAL(arr.items[0].created_ms, 400);
    CU_ASSERT_EQUAL(arr.items[0].puks[0].status, PA_PUK_VALID);
    pa_store_recovery_code_array_free(&arr);
    CU_ASSERT_PTR_NULL(arr.items);
    CU_ASSERT_EQUAL(arr.count, 0);

    CU_ASSERT_EQUAL(pa_store_recovery_code_lookup(db, NULL, &arr), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_recovery_code_lookup(db, &q, NULL), PA_ERR_INVALID_REQUEST);
}

static void test_recovery_codes_of_activation(void)
{
    pa_store_recovery_code_array arr;
    int64_t app, kp, ids[3];
    size_t np[3] = { 2, 1, 3 };

    make_app("main", &app, &kp);
    make_activation(ACT1, app, kp, "u", PA_STATUS_ACTIVE);
    make_activation(ACT2, app, kp, "u", PA_STATUS_ACTIVE);

    CU_ASSERT_EQUAL(pa_store_recovery_codes_of_activation(db, ACT1, &arr), PA_OK);
    CU_ASSERT_EQUAL(arr.count, 0);
    CU_ASSERT_PTR_NULL(arr.items);

    /* By id, whatever the creation time and status. */
    ids[0] = add_code("CODE1-AAAAA-AAAAA-AAAAA", app, "u", ACT1, PA_RC_REVOKED, 300, 2);
    add_code("CODE2-AAAAA-AAAAA-AAAAA", app, "u", ACT2, PA_RC_ACTIVE, 250, 1);
    ids[1] = add_code("CODE3-AAAAA-AAAAA-AAAAA", app, "u", ACT1, PA_RC_CREATED, 200, 1);
    add_code("CODE4-AAAAA-AAAAA-AAAAA", app, "u", NULL, PA_RC_ACTIVE, 150, 1);
    ids[2] = add_code("CODE5-AAAAA-AAAAA-AAAAA", app, "u", ACT1, PA_RC_BLOCKED, 100, 3);

    CU_ASSERT_EQUAL(pa_store_recovery_codes_of_activation(db, ACT1, &arr), PA_OK);
    assert_codes(&arr, ids, np, 3, __LINE__);
    pa_store_recovery_code_array_free(&arr);
    CU_ASSERT_EQUAL(pa_store_recovery_codes_of_activation(db, ACT3, &arr), PA_OK);
    CU_ASSERT_EQUAL(arr.count, 0);

    CU_ASSERT_EQUAL(pa_store_recovery_codes_of_activation(db, NULL, &arr),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_recovery_codes_of_activation(db, ACT1, NULL),
                    PA_ERR_INVALID_REQUEST);
}

static void test_recovery_postcard_live_count(void)
{
    pa_store_recovery_code c;
    int64_t app1, app2, kp, n = -1, created;
    int found;

    make_app("one", &app1, &kp);
    make_app("two", &app2, NULL);
    make_activation(ACT1, app1, kp, "u", PA_STATUS_ACTIVE);

    CU_ASSERT_EQUAL(pa_store_recovery_postcard_live_count(db, app1, "u", &n), PA_OK);
    CU_ASSERT_EQUAL(n, 0);

    created = add_code("CODE1-AAAAA-AAAAA-AAAAA", app1, "u", NULL, PA_RC_CREATED, 1, 1);
    add_code("CODE2-AAAAA-AAAAA-AAAAA", app1, "u", NULL, PA_RC_ACTIVE, 2, 1);
    /* Not counted: other statuses, bound codes, other user, other app. */
    add_code("CODE3-AAAAA-AAAAA-AAAAA", app1, "u", NULL, PA_RC_BLOCKED, 3, 1);
    add_code("CODE4-AAAAA-AAAAA-AAAAA", app1, "u", NULL, PA_RC_REVOKED, 4, 1);
    add_code("CODE5-AAAAA-AAAAA-AAAAA", app1, "u", NULL, 7, 4, 1);
    add_code("CODE0-AAAAA-AAAAA-AAAAA", app1, "u", NULL, 0, 4, 1);
    add_code("CODE6-AAAAA-AAAAA-AAAAA", app1, "u", ACT1, PA_RC_CREATED, 5, 1);
    add_code("CODE7-AAAAA-AAAAA-AAAAA", app1, "u", ACT1, PA_RC_ACTIVE, 5, 1);
    add_code("CODE8-AAAAA-AAAAA-AAAAA", app1, "U", NULL, PA_RC_CREATED, 6, 1);
    add_code("CODE9-AAAAA-AAAAA-AAAAA", app2, "u", NULL, PA_RC_ACTIVE, 7, 1);

    CU_ASSERT_EQUAL(pa_store_recovery_postcard_live_count(db, app1, "u", &n), PA_OK);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_EQUAL(pa_store_recovery_postcard_live_count(db, app2, "u", &n), PA_OK);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(pa_store_recovery_postcard_live_count(db, app1, "U", &n), PA_OK);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(pa_store_recovery_postcard_live_count(db, app1, "nobody", &n), PA_OK);
    CU_ASSERT_EQUAL(n, 0);

    /* Revoking one leaves one. */
    CU_ASSERT_EQUAL_FATAL(pa_store_recovery_code_get(db, created, &c, &found), PA_OK);
    c.status = PA_RC_REVOKED;
    CU_ASSERT_EQUAL(pa_store_recovery_code_update(db, &c, &found), PA_OK);
    pa_store_recovery_code_free(&c);
    CU_ASSERT_EQUAL(pa_store_recovery_postcard_live_count(db, app1, "u", &n), PA_OK);
    CU_ASSERT_EQUAL(n, 1);

    CU_ASSERT_EQUAL(pa_store_recovery_postcard_live_count(db, app1, NULL, &n),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_recovery_postcard_live_count(db, app1, "u", NULL),
                    PA_ERR_INVALID_REQUEST);
}

static void test_recovery_updates(void)
{
    pa_store_recovery_code c, got, other;
    int64_t app, kp, id, id_other;
    char buf[512];
    int found = -1;

    make_app("main", &app, &kp);
    make_activation(ACT1, app, kp, "u", PA_STATUS_ACTIVE);
    id = add_code(RC1, app, "u", ACT1, PA_RC_CREATED, 1000, 3);
    id_other = add_code(RC2, app, "u", ACT1, PA_RC_CREATED, 1000, 2);

    /* The code: status, failed_attempts and last change only. */
    CU_ASSERT_EQUAL_FATAL(pa_store_recovery_code_get(db, id, &c, &found), PA_OK);
    c.status = PA_RC_BLOCKED;
    c.failed_attempts = 4;
    c.last_change_ms = 1700000000077LL;
    c.has_last_change = 1;
    c.max_failed_attempts = 99;                    /* not written */
    c.created_ms = 5;                              /* not written */
    c.application_id = app + 1;                    /* not written */
    free(c.user_id);
    c.user_id = NULL;                              /* not written */
    CU_ASSERT_EQUAL(pa_store_recovery_code_update(db, &c, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_EQUAL(pa_store_recovery_code_get(db, id, &got, &found), PA_OK);
    CU_ASSERT_EQUAL_FATAL(found, 1);
    CU_ASSERT_EQUAL(got.status, PA_RC_BLOCKED);
    CU_ASSERT_EQUAL(got.failed_attempts, 4);
    CU_ASSERT_EQUAL(got.has_last_change, 1);
    CU_ASSERT_EQUAL(got.last_change_ms, 1700000000077LL);
    CU_ASSERT_EQUAL(got.max_failed_attempts, 5);
    CU_ASSERT_EQUAL(got.created_ms, 1000);
    CU_ASSERT_EQUAL(got.application_id, app);
    ASSERT_STR(got.user_id, "u");
    ASSERT_STR(got.recovery_code, RC1);
    ASSERT_STR(got.activation_id, ACT1);
    pa_store_recovery_code_free(&got);
    /* The other code untouched. */
    snprintf(buf, sizeof buf, "SELECT count(*) FROM pa_recovery_code WHERE id = %lld"
             " AND status = 1 AND failed_attempts = 0 AND timestamp_last_change IS NULL",
             (long long)id_other);
    CU_ASSERT_EQUAL(count(buf), 1);
    /* No flag writes NULL. */
    c.has_last_change = 0;
    c.last_change_ms = 123;
    CU_ASSERT_EQUAL(pa_store_recovery_code_update(db, &c, &found), PA_OK);
    snprintf(buf, sizeof buf, "SELECT count(*) FROM pa_recovery_code WHERE id = %lld"
             " AND timestamp_last_change IS NULL", (long long)id);
    CU_ASSERT_EQUAL(count(buf), 1);

    /* A PUK: status and last change only, other PUKs untouched. */
    CU_ASSERT_EQUAL_FATAL(c.puk_count, 3);
    c.puks[1].status = PA_PUK_USED;
    c.puks[1].has_last_change = 1;
    c.puks[1].last_change_ms = 1700000000088LL;
    c.puks[1].puk_index = 9;                       /* not written */
    c.puks[1].puk_encryption = 1;                  /* not written */
    c.puks[1].recovery_code_id = id_other;         /* not written */
    CU_ASSERT_EQUAL(pa_store_recovery_puk_update(db, &c.puks[1], &found), PA_OK);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_EQUAL(pa_store_recovery_code_get(db, id, &got, &found), PA_OK);
    CU_ASSERT_EQUAL_FATAL(got.puk_count, 3);
    CU_ASSERT_EQUAL(got.puks[1].status, PA_PUK_USED);
    CU_ASSERT_EQUAL(got.puks[1].has_last_change, 1);
    CU_ASSERT_EQUAL(got.puks[1].last_change_ms, 1700000000088LL);
    CU_ASSERT_EQUAL(got.puks[1].puk_index, 2);
    CU_ASSERT_EQUAL(got.puks[1].puk_encryption, 0);
    CU_ASSERT_EQUAL(got.puks[1].recovery_code_id, id);
    ASSERT_STR(got.puks[1].puk, RC1 "#2");
    CU_ASSERT_EQUAL(got.puks[0].status, PA_PUK_VALID);
    CU_ASSERT_EQUAL(got.puks[0].has_last_change, 0);
    CU_ASSERT_EQUAL(got.puks[2].status, PA_PUK_VALID);
    pa_store_recovery_code_free(&got);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_recovery_puk WHERE status = 1"
                          " AND timestamp_last_change IS NULL"), 4);
    c.puks[1].status = PA_PUK_INVALID;
    c.puks[1].has_last_change = 0;
    CU_ASSERT_EQUAL(pa_store_recovery_puk_update(db, &c.puks[1], &found), PA_OK);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_recovery_puk WHERE status = 3"
                          " AND timestamp_last_change IS NULL"), 1);

    /* Unknown rows: found 0, nothing written. */
    memset(&other, 0, sizeof other);
    other.id = id_other + 1;
    other.status = PA_RC_REVOKED;
    found = -1;
    CU_ASSERT_EQUAL(pa_store_recovery_code_update(db, &other, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    c.puks[1].id = 1000;
    found = -1;
    CU_ASSERT_EQUAL(pa_store_recovery_puk_update(db, &c.puks[1], &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_recovery_code WHERE status = 4"), 0);

    CU_ASSERT_EQUAL(pa_store_recovery_code_update(db, NULL, &found), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_recovery_code_update(db, &c, NULL), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_recovery_puk_update(db, NULL, &found), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_recovery_puk_update(db, &c.puks[0], NULL),
                    PA_ERR_INVALID_REQUEST);
    pa_store_recovery_code_free(&c);
}

/* The statements search indexes (no SCAN of a table, except the lookup
 * without filters) and read PUKs without a sort. */
static void test_recovery_queries_use_indexes(void)
{
    pa_store_recovery_query q;
    pa_store_recovery_code_array arr;
    pa_store_recovery_code c;
    pa_store_recovery_config cfg;
    pa_store_recovery_puk puk;
    int64_t n;
    int found, i;
    char buf[512];

    make_app("main", NULL, NULL);
    add_code(RC1, 1, "u", NULL, PA_RC_CREATED, 1, 2);
    for (i = 0; i < 8; i++) {
        q.user_id = (i & 1) ? "u" : NULL;
        q.has_application_id = (i & 2) != 0;
        q.application_id = 1;
        q.activation_id = (i & 4) ? ACT1 : NULL;
        CU_ASSERT_EQUAL(pa_store_recovery_code_lookup(db, &q, &arr), PA_OK);
        pa_store_recovery_code_array_free(&arr);
    }
    CU_ASSERT_EQUAL(pa_store_recovery_code_exists(db, 1, RC1, &found), PA_OK);
    CU_ASSERT_EQUAL(pa_store_recovery_code_get(db, 1, &c, &found), PA_OK);
    pa_store_recovery_code_free(&c);
    CU_ASSERT_EQUAL(pa_store_recovery_code_find(db, 1, RC1, &c, &found), PA_OK);
    pa_store_recovery_code_free(&c);
    CU_ASSERT_EQUAL(pa_store_recovery_codes_of_activation(db, ACT1, &arr), PA_OK);
    CU_ASSERT_EQUAL(pa_store_recovery_postcard_live_count(db, 1, "u", &n), PA_OK);
    memset(&c, 0, sizeof c);
    CU_ASSERT_EQUAL(pa_store_recovery_code_update(db, &c, &found), PA_OK);
    memset(&puk, 0, sizeof puk);
    CU_ASSERT_EQUAL(pa_store_recovery_puk_update(db, &puk, &found), PA_OK);
    CU_ASSERT_EQUAL(pa_store_recovery_config_get(db, 1, &cfg, &found), PA_OK);

    ASSERT_PLAN(PA_SQ_RECOVERY_LOOKUP_U, "pa_recovery_code_user (user_id=?)");
    ASSERT_PLAN(PA_SQ_RECOVERY_LOOKUP_UA,
                "pa_recovery_code_user (user_id=? AND application_id=?)");
    ASSERT_PLAN(PA_SQ_RECOVERY_LOOKUP_A, "pa_recovery_code_code (application_id=?)");
    ASSERT_PLAN(PA_SQ_RECOVERY_LOOKUP_X, "pa_recovery_code_activation (activation_id=?)");
    ASSERT_PLAN(PA_SQ_RECOVERY_CODE_EXISTS,
                "pa_recovery_code_code (application_id=? AND recovery_code=?)");
    ASSERT_PLAN(PA_SQ_RECOVERY_CODE_FIND,
                "pa_recovery_code_code (application_id=? AND recovery_code=?)");
    ASSERT_PLAN(PA_SQ_RECOVERY_OF_ACTIVATION,
                "pa_recovery_code_activation (activation_id=?)");
    ASSERT_PLAN(PA_SQ_RECOVERY_PUKS_OF_CODE,
                "pa_recovery_code_puk (recovery_code_id=?)");
    ASSERT_PLAN(PA_SQ_RECOVERY_POSTCARD_LIVE,
                "pa_recovery_code_user (user_id=? AND application_id=?)");
    ASSERT_PLAN(PA_SQ_RECOVERY_CONFIG_GET, "pa_recovery_config_app (application_id=?)");
    for (i = PA_SQ_RECOVERY_CODE_EXISTS; i <= PA_SQ_RECOVERY_CONFIG_GET; i++) {
        if (i == PA_SQ_RECOVERY_LOOKUP_ANY)
            continue;
        plan_of((pa_sq_slot)i, buf, sizeof buf);
        CU_ASSERT(buf[0] != '\0');
        if (strstr(buf, "SCAN "))
            fprintf(stderr, "\nslot %d scans: %s\n", i, buf);
        CU_ASSERT_PTR_NULL(strstr(buf, "SCAN "));
    }
    CU_ASSERT_PTR_NULL(strstr(plan_of(PA_SQ_RECOVERY_PUKS_OF_CODE, buf, sizeof buf),
                              "TEMP B-TREE"));
    CU_ASSERT_PTR_NULL(strstr(plan_of(PA_SQ_RECOVERY_OF_ACTIVATION, buf, sizeof buf),
                              "TEMP B-TREE"));
}

static void test_recovery_free_is_safe(void)
{
    pa_store_recovery_code_array arr = { NULL, 0 };
    pa_store_recovery_code c;
    pa_store_recovery_config cfg;

    memset(&c, 0, sizeof c);
    memset(&cfg, 0, sizeof cfg);
    pa_store_recovery_code_free(&c);
    pa_store_recovery_code_free(NULL);
    pa_store_recovery_code_array_free(&arr);
    pa_store_recovery_code_array_free(NULL);
    pa_store_recovery_config_free(&cfg);
    pa_store_recovery_config_free(NULL);
    CU_ASSERT_PTR_NULL(c.puks);
    CU_ASSERT_PTR_NULL(arr.items);
    CU_ASSERT_PTR_NULL(cfg.postcard_private_key);
}

static void test_recovery_config_round_trip(void)
{
    pa_store_recovery_config c, got;
    int64_t app, app2, first_id;
    int found = -1;

    make_app("other-1", NULL, NULL);
    make_app("other-2", NULL, NULL);
    make_app("main", &app, NULL);
    make_app("second", &app2, NULL);

    got.id = 4;
    CU_ASSERT_EQUAL(pa_store_recovery_config_get(db, app, &got, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_EQUAL(got.id, 0);

    /* Insert: flags set, keys NULL; the id in the struct is ignored. */
    memset(&c, 0, sizeof c);
    c.id = 55;
    c.application_id = app;
    c.activation_recovery_enabled = 1;
    c.recovery_postcard_enabled = 0;
    c.allow_multiple_recovery_codes = 7;           /* stored as 1 */
    CU_ASSERT_EQUAL_FATAL(pa_store_recovery_config_put(db, &c), PA_OK);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_recovery_config"), 1);
    CU_ASSERT_EQUAL(pa_store_recovery_config_get(db, app, &got, &found), PA_OK);
    CU_ASSERT_EQUAL_FATAL(found, 1);
    CU_ASSERT(got.id > 0);
    CU_ASSERT_NOT_EQUAL(got.id, 55);
    first_id = got.id;
    CU_ASSERT_EQUAL(got.application_id, app);
    CU_ASSERT_EQUAL(got.activation_recovery_enabled, 1);
    CU_ASSERT_EQUAL(got.recovery_postcard_enabled, 0);
    CU_ASSERT_EQUAL(got.allow_multiple_recovery_codes, 1);
    CU_ASSERT_PTR_NULL(got.postcard_private_key);
    CU_ASSERT_PTR_NULL(got.postcard_public_key);
    CU_ASSERT_PTR_NULL(got.remote_public_key);
    pa_store_recovery_config_free(&got);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_recovery_config WHERE"
                          " activation_recovery_enabled = 1"
                          " AND recovery_postcard_enabled = 0"
                          " AND allow_multiple_recovery_codes = 1"
                          " AND postcard_private_key_base64 IS NULL"
                          " AND postcard_public_key_base64 IS NULL"
                          " AND remote_public_key_base64 IS NULL"), 1);

    /* Other application: no row. */
    CU_ASSERT_EQUAL(pa_store_recovery_config_get(db, app2, &got, &found), PA_OK);
    CU_ASSERT_EQUAL(found, 0);

    /* Update: every column overwritten, still one row with its id. */
    c.activation_recovery_enabled = 0;
    c.recovery_postcard_enabled = 1;
    c.allow_multiple_recovery_codes = 0;
    c.postcard_private_key = (char *)"AKPRIVATEBIGINTEGER==";
    c.postcard_public_key = (char *)"BPOSTCARDPUBLIC==";
    c.remote_public_key = (char *)"BREMOTEPUBLIC==";
    CU_ASSERT_EQUAL_FATAL(pa_store_recovery_config_put(db, &c), PA_OK);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_recovery_config"), 1);
    CU_ASSERT_EQUAL(pa_store_recovery_config_get(db, app, &got, &found), PA_OK);
    CU_ASSERT_EQUAL_FATAL(found, 1);
    CU_ASSERT_EQUAL(got.id, first_id);
    CU_ASSERT_EQUAL(got.application_id, app);
    CU_ASSERT_EQUAL(got.activation_recovery_enabled, 0);
    CU_ASSERT_EQUAL(got.recovery_postcard_enabled, 1);
    CU_ASSERT_EQUAL(got.allow_multiple_recovery_codes, 0);
    ASSERT_STR(got.postcard_private_key, "AKPRIVATEBIGINTEGER==");
    ASSERT_STR(got.postcard_public_key, "BPOSTCARDPUBLIC==");
    ASSERT_STR(got.remote_public_key, "BREMOTEPUBLIC==");
    pa_store_recovery_config_free(&got);
    CU_ASSERT_PTR_NULL(got.postcard_private_key);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_recovery_config WHERE"
                          " postcard_private_key_base64 = 'AKPRIVATEBIGINTEGER=='"
                          " AND postcard_public_key_base64 = 'BPOSTCARDPUBLIC=='"
                          " AND remote_public_key_base64 = 'BREMOTEPUBLIC=='"), 1);

    /* Back to NULL (remote key emptied). */
    c.remote_public_key = NULL;
    CU_ASSERT_EQUAL_FATAL(pa_store_recovery_config_put(db, &c), PA_OK);
    CU_ASSERT_EQUAL(pa_store_recovery_config_get(db, app, &got, &found), PA_OK);
    CU_ASSERT_EQUAL_FATAL(found, 1);
    CU_ASSERT_PTR_NULL(got.remote_public_key);
    ASSERT_STR(got.postcard_public_key, "BPOSTCARDPUBLIC==");
    pa_store_recovery_config_free(&got);

    /* A second application gets its own row; the first is unchanged. */
    memset(&c, 0, sizeof c);
    c.application_id = app2;
    c.recovery_postcard_enabled = 1;
    CU_ASSERT_EQUAL_FATAL(pa_store_recovery_config_put(db, &c), PA_OK);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_recovery_config"), 2);
    CU_ASSERT_EQUAL(pa_store_recovery_config_get(db, app2, &got, &found), PA_OK);
    CU_ASSERT_EQUAL_FATAL(found, 1);
    CU_ASSERT(got.id > first_id);
    CU_ASSERT_EQUAL(got.application_id, app2);
    CU_ASSERT_EQUAL(got.recovery_postcard_enabled, 1);
    CU_ASSERT_EQUAL(got.activation_recovery_enabled, 0);
    CU_ASSERT_PTR_NULL(got.postcard_private_key);
    pa_store_recovery_config_free(&got);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_recovery_config WHERE"
                          " postcard_private_key_base64 = 'AKPRIVATEBIGINTEGER=='"), 1);

    /* Unknown application: the foreign key refuses it. */
    c.application_id = app2 + 10;
    CU_ASSERT_EQUAL(pa_store_recovery_config_put(db, &c), PA_ERR_UNKNOWN_ERROR);
    CU_ASSERT_EQUAL(count("SELECT count(*) FROM pa_recovery_config"), 2);

    CU_ASSERT_EQUAL(pa_store_recovery_config_put(db, NULL), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_recovery_config_get(db, app, NULL, &found),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_store_recovery_config_get(db, app, &got, NULL),
                    PA_ERR_INVALID_REQUEST);
}

/* ---- registration ----------------------------------------------------------------- */

typedef struct { const char *name; CU_TestFunc fn; } test_entry;

static const test_entry schema_tests[] = {
    { "migrations create every table, column, index, key", test_migrate_creates_schema },
    { "migrating twice is a no-op", test_migrate_twice_is_noop },
    { "a newer schema version is refused", test_newer_schema_refused },
    { "open needs a migrated database", test_open_needs_migrated_database },
    { "concurrent migrations", test_concurrent_migrate },
};

static const test_entry store_tests[] = {
    { "generation moves on commits", test_generation_moves_on_commits },
    { "connection settings", test_connection_settings },
    { "ping and schema version", test_ping_and_version },
    { "application round trip", test_application_round_trip },
    { "application list empty", test_application_list_empty },
    { "duplicate application name", test_application_duplicate_name },
    { "ids positive and growing", test_ids_positive_and_growing },
    { "version round trip", test_version_round_trip },
    { "application key unique", test_version_key_unique },
    { "foreign keys enforced", test_foreign_keys_enforced },
    { "latest master key pair", test_master_keypair_latest },
    { "integration round trip", test_integration_round_trip },
    { "callback round trip", test_callback_round_trip },
    { "SQL injection stored verbatim", test_sql_injection_stored_verbatim },
    { "data survives close and reopen", test_survives_reopen },
    { "transactions", test_transactions },
    { "read transaction snapshot", test_read_transaction_snapshot },
    { "busy timeout honoured", test_busy_timeout_honoured },
    { "writer gate per database file", test_writer_gate_per_file },
    { "write units commit or roll back alone", test_write_units },
    { "write units run on the file's writer connection", test_write_lane },
    { "write: concurrent units share commits", test_write_group_commit },
    { "concurrent writers", test_concurrent_writers },
    { "writer waits for the lock", test_writer_waits_for_lock },
    { "free functions are safe", test_free_is_safe },
};

static const test_entry activation_tests[] = {
    { "activation round trip, every column", test_activation_round_trip },
    { "activation insert refused, nothing written", test_activation_insert_refused },
    { "activation code prefix taken", test_activation_code_taken },
    { "activation find by code: CREATED, not expired", test_activation_find_by_code },
    { "activation update: mutable columns only", test_activation_update },
    { "activation list for user", test_activation_list_for_user },
    { "activation lookup filters", test_activation_lookup },
    { "expired activations for the sweep", test_activation_expired },
    { "encrypted records detected", test_has_encrypted_records },
    { "queries use their indexes", test_queries_use_indexes },
    { "free functions are safe", test_new_free_is_safe },
};

static const test_entry history_tests[] = {
    { "history order and inclusive range", test_history_order_and_range },
    { "history refused", test_history_refused },
};

static const test_entry outbox_tests[] = {
    { "outbox add: one row per callback, name order", test_outbox_add },
    { "outbox due, next due, retry, remove", test_outbox_due_retry_remove },
    { "outbox row of a removed callback", test_outbox_removed_callback },
    { "outbox trim drops the oldest", test_outbox_trim },
};

static const test_entry audit_tests[] = {
    { "audit round trip, every column", test_audit_round_trip },
    { "audit add refused, nothing written", test_audit_refused },
    { "audit list newest first, ties by id", test_audit_list_order },
    { "audit list filters: user, application, window", test_audit_list_filters },
    { "audit and token queries use their indexes", test_audit_token_queries_use_indexes },
    { "free functions are safe", test_audit_token_free_is_safe },
};

static const test_entry token_tests[] = {
    { "token round trip with its activation", test_token_round_trip },
    { "token insert refused, nothing written", test_token_insert_refused },
    { "token exists", test_token_exists },
    { "token removed only by its activation", test_token_remove },
};

static const test_entry retention_tests[] = {
    { "audit purge: oldest first, bounded", test_audit_purge },
    { "history purge: oldest first, bounded", test_history_purge },
};

static const test_entry recovery_tests[] = {
    { "recovery code round trip, every column, PUKs by index", test_recovery_round_trip },
    { "recovery code insert refused, nothing written", test_recovery_insert_refused },
    { "recovery code exists per application, any status", test_recovery_exists },
    { "recovery code find: exact, per application, newest", test_recovery_find },
    { "recovery lookup filters, newest first", test_recovery_lookup },
    { "recovery codes of an activation, by id", test_recovery_codes_of_activation },
    { "live postcard codes of a user", test_recovery_postcard_live_count },
    { "recovery code and PUK updates", test_recovery_updates },
    { "recovery queries use their indexes", test_recovery_queries_use_indexes },
    { "free functions are safe", test_recovery_free_is_safe },
};

static const test_entry recovery_config_tests[] = {
    { "recovery config insert, update, one row each", test_recovery_config_round_trip },
};

static int add_suite(const char *name, CU_SetUpFunc setup, CU_TearDownFunc teardown,
                     const test_entry *tests, size_t n)
{
    CU_pSuite s = CU_add_suite_with_setup_and_teardown(name, NULL, NULL, setup, teardown);
    size_t i;

    if (!s)
        return -1;
    for (i = 0; i < n; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn))
            return -1;
    return 0;
}

int main(void)
{
    unsigned failures;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    if (add_suite("schema", schema_setup, schema_teardown, schema_tests,
                  sizeof schema_tests / sizeof schema_tests[0]) != 0 ||
        add_suite("store", store_setup, store_teardown, store_tests,
                  sizeof store_tests / sizeof store_tests[0]) != 0 ||
        add_suite("activation", store_setup, store_teardown, activation_tests,
                  sizeof activation_tests / sizeof activation_tests[0]) != 0 ||
        add_suite("history", store_setup, store_teardown, history_tests,
                  sizeof history_tests / sizeof history_tests[0]) != 0 ||
        add_suite("outbox", store_setup, store_teardown, outbox_tests,
                  sizeof outbox_tests / sizeof outbox_tests[0]) != 0 ||
        add_suite("audit", store_setup, store_teardown, audit_tests,
                  sizeof audit_tests / sizeof audit_tests[0]) != 0 ||
        add_suite("token", store_setup, store_teardown, token_tests,
                  sizeof token_tests / sizeof token_tests[0]) != 0 ||
        add_suite("retention", store_setup, store_teardown, retention_tests,
                  sizeof retention_tests / sizeof retention_tests[0]) != 0 ||
        add_suite("recovery", store_setup, store_teardown, recovery_tests,
                  sizeof recovery_tests / sizeof recovery_tests[0]) != 0 ||
        add_suite("recovery config", store_setup, store_teardown, recovery_config_tests,
                  sizeof recovery_config_tests / sizeof recovery_config_tests[0]) != 0) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = pa_cunit_failures();
    if (CU_get_number_of_tests_run() == 0)
        failures++;
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
