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
    { "concurrent writers", test_concurrent_writers },
    { "writer waits for the lock", test_writer_waits_for_lock },
    { "free functions are safe", test_free_is_safe },
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
                  sizeof store_tests / sizeof store_tests[0]) != 0) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    if (CU_get_number_of_tests_run() == 0)
        failures++;
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
