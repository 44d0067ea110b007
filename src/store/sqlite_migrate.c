/*
 * sqlite_migrate.c - brings a SQLite database up to the schema this code
 * knows, using the migrations compiled in from db/sqlite/.
 *
 * Each migration runs in its own write transaction together with the row
 * that records it in schema_version, so a crash leaves the database at a
 * recorded version, never half-migrated.  The version is read again inside
 * every transaction (BEGIN IMMEDIATE holds the write lock), which makes
 * concurrent migrate calls safe: the second caller waits, sees the work
 * done and does nothing.  A database recording a version newer than the
 * last compiled-in migration was written by a newer paserver; it is
 * refused untouched rather than used with a schema this code may misread.
 *
 * Migration files must not contain BEGIN/COMMIT themselves.  A future
 * migration that has to rebuild a table with foreign keys needs
 * foreign_keys off, which SQLite only allows outside a transaction; this
 * runner would then need a per-migration flag.
 */
#include <time.h>

#include "store/migrations.h"
#include "store/sqlite_internal.h"

static const char create_version_table[] =
    "CREATE TABLE IF NOT EXISTS schema_version ("
    " version    INTEGER PRIMARY KEY,"
    " name       TEXT    NOT NULL,"
    " applied_ms INTEGER NOT NULL)";

static sqlite3_int64 now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (sqlite3_int64)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The compiled-in list must be 1, 2, ... N; the generator already refuses
 * anything else, this guards a hand-edited build. */
static pa_err check_compiled(void)
{
    size_t i;

    for (i = 0; i < pa_sq_migration_count; i++)
        if (pa_sq_migrations[i].version != (int)i + 1) {
            pa_sq_set_error("migrate: compiled-in migration %s is not number %zu",
                            pa_sq_migrations[i].name, i + 1);
            return PA_ERR_UNKNOWN_ERROR;
        }
    return PA_OK;
}

static pa_err record(sqlite3 *db, const pa_sq_migration *m)
{
    static const char sql[] =
        "INSERT INTO schema_version (version, name, applied_ms) VALUES (?1, ?2, ?3)";
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

    if (rc == SQLITE_OK) {
        sqlite3_bind_int(st, 1, m->version);
        sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now_ms());
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? PA_OK : pa_sq_fail(db, rc, "migrate: record version");
}

/* Inside the open transaction: applies m unless the database has it. */
static pa_err apply_locked(sqlite3 *db, const pa_sq_migration *m)
{
    int latest = (int)pa_sq_migration_count;
    int version;
    pa_err e;
    int rc;

    rc = sqlite3_exec(db, create_version_table, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return pa_sq_fail(db, rc, "migrate: create schema_version");
    if ((e = pa_sq_read_version(db, &version)) != PA_OK)
        return e;
    if (version > latest) {
        pa_sq_set_error("migrate: database schema version %d is newer than the "
                        "newest this paserver knows (%d); refusing to use it",
                        version, latest);
        return PA_ERR_UNKNOWN_ERROR;
    }
    if (version >= m->version)
        return PA_OK;
    rc = sqlite3_exec(db, m->sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return pa_sq_fail(db, rc, m->name);
    return record(db, m);
}

static pa_err apply(sqlite3 *db, const pa_sq_migration *m)
{
    pa_err e;
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

    if (rc != SQLITE_OK)
        return pa_sq_fail(db, rc, "migrate: begin");
    e = apply_locked(db, m);
    if (e == PA_OK && (rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
        e = pa_sq_fail(db, rc, "migrate: commit");
    if (e != PA_OK && !sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return e;
}

pa_err pa_store_migrate(const char *path, const pa_store_options *opt)
{
    sqlite3 *db;
    size_t i;
    pa_err e;

    if (!path)
        return pa_sq_misuse("migrate");
    if ((e = check_compiled()) != PA_OK)
        return e;
    if ((e = pa_sq_connect(path, opt, 1, &db)) != PA_OK)
        return e;
    for (i = 0; i < pa_sq_migration_count && e == PA_OK; i++)
        e = apply(db, &pa_sq_migrations[i]);
    sqlite3_close(db);
    return e;
}
