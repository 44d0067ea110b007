/*
 * sqlite.c - the SQLite store: connections, the statement cache,
 * transactions, health check, and the helpers the domain files
 * (sqlite_app.c, sqlite_integration.c) share.
 *
 * Every connection is configured the same way (pa_sq_connect):
 *   - WAL journal, so readers never wait for the writer;
 *   - synchronous=FULL: in WAL mode NORMAL syncs only at checkpoints, so a
 *     power loss could drop the last committed transactions; FULL syncs the
 *     WAL on every commit, so a commit that returned is never lost;
 *   - foreign_keys=ON (off by default in SQLite, per connection);
 *   - busy timeout from the configuration: a writer waits that long for
 *     another connection's write lock (the contract's lock timeout);
 *   - defensive mode, untrusted schema, no double-quoted string literals:
 *     nothing in the file can make SQLite run functions with side effects;
 *   - secure_delete: deleted rows (token and integration secrets) are
 *     overwritten in the file, not left in free pages.
 * A connection is used by one thread only, so it is opened without
 * SQLite's per-connection mutex.
 */
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "store/migrations.h"
#include "store/sqlite_internal.h"

/* ---- errors ------------------------------------------------------------------ */

/* One connection per thread, so the last failure of a thread is the last
 * failure of its connection; thread-local also covers open and migrate,
 * which have no connection to hang a message on. */
static _Thread_local char last_error[256];

const char *pa_store_last_error(void)
{
    return last_error;
}

void pa_sq_set_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
}

pa_err pa_sq_fail(sqlite3 *db, int rc, const char *what)
{
    /* sqlite3_errmsg names the table and constraint, never a value. */
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);

    pa_sq_set_error("%s: %s (sqlite %d)", what, msg, rc);
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return PA_ERR_INVALID_REQUEST;
    return PA_ERR_UNKNOWN_ERROR;
}

pa_err pa_sq_misuse(const char *what)
{
    pa_sq_set_error("%s: missing argument", what);
    return PA_ERR_INVALID_REQUEST;
}

/* ---- connections ---------------------------------------------------------------- */

/* Runs one pragma that answers with a single value and checks the answer,
 * because SQLite ignores pragmas it cannot honour (e.g. WAL on a file
 * system without shared memory, foreign keys when compiled out).
 * Switching a new file to WAL needs an exclusive lock, and SQLite reports
 * a competing opener as busy without calling the busy handler, so a busy
 * answer is retried here for up to wait_ms. */
static pa_err pragma_expect(sqlite3 *db, const char *sql, const char *want,
                            int wait_ms)
{
    sqlite3_stmt *st = NULL;
    const unsigned char *got;
    pa_err e = PA_OK;
    int waited = 0;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

    if (rc != SQLITE_OK)
        return pa_sq_fail(db, rc, sql);
    while (((rc = sqlite3_step(st)) & 0xff) == SQLITE_BUSY && waited < wait_ms) {
        sqlite3_reset(st);
        sqlite3_sleep(10);
        waited += 10;
    }
    if (rc != SQLITE_ROW) {
        e = pa_sq_fail(db, rc, sql);
    } else if ((got = sqlite3_column_text(st, 0)) == NULL ||
               strcmp((const char *)got, want) != 0) {
        pa_sq_set_error("%s: database answered '%s', need '%s'", sql,
                        got ? (const char *)got : "", want);
        e = PA_ERR_UNKNOWN_ERROR;
    }
    sqlite3_finalize(st);
    return e;
}

static pa_err configure(sqlite3 *db, const pa_store_options *opt)
{
    int ms = opt && opt->busy_timeout_ms > 0 ? opt->busy_timeout_ms
                                             : PA_STORE_BUSY_TIMEOUT_DEFAULT_MS;
    pa_err e;
    int rc;

    sqlite3_extended_result_codes(db, 1);
    /* First, so that switching to WAL below also waits for other writers. */
    sqlite3_busy_timeout(db, ms);
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DML, 0, (int *)NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DDL, 0, (int *)NULL);
    rc = sqlite3_exec(db,
                      "PRAGMA foreign_keys = ON;"
                      "PRAGMA synchronous = FULL;"
                      "PRAGMA secure_delete = ON;",
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return pa_sq_fail(db, rc, "configure connection");
    if ((e = pragma_expect(db, "PRAGMA journal_mode = WAL", "wal", ms)) != PA_OK)
        return e;
    return pragma_expect(db, "PRAGMA foreign_keys", "1", 0);
}

/* Process-wide SQLite settings, before its first use.  Memory statistics
 * take a global mutex on every allocation; paserver reads none of them. */
static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;

static void sqlite_global(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

pa_err pa_sq_connect(const char *path, const pa_store_options *opt, int create,
                     sqlite3 **out)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    sqlite3 *db = NULL;
    pa_err e;
    int rc;

    *out = NULL;
    pthread_once(&sqlite_once, sqlite_global);
    if (create)
        flags |= SQLITE_OPEN_CREATE;
    rc = sqlite3_open_v2(path, &db, flags, NULL);
    if (rc != SQLITE_OK) {
        pa_sq_set_error("cannot open database %s: %s", path,
                        db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return PA_ERR_UNKNOWN_ERROR;
    }
    if ((e = configure(db, opt)) != PA_OK) {
        sqlite3_close(db);
        return e;
    }
    *out = db;
    return PA_OK;
}

pa_err pa_sq_read_version(sqlite3 *db, int *version)
{
    /* The table exists once the first migration ran; before, version 0. */
    static const char sql[] =
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM sqlite_master"
        "  WHERE type = 'table' AND name = 'schema_version')"
        " THEN 1 ELSE 0 END";
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    int exists;

    if (rc != SQLITE_OK)
        return pa_sq_fail(db, rc, "read schema version");
    rc = sqlite3_step(st);
    exists = rc == SQLITE_ROW && sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return pa_sq_fail(db, rc, "read schema version");
    *version = 0;
    if (!exists)
        return PA_OK;
    rc = sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_version",
                            -1, &st, NULL);
    if (rc != SQLITE_OK)
        return pa_sq_fail(db, rc, "read schema version");
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? PA_OK : pa_sq_fail(db, rc, "read schema version");
}

int pa_store_schema_latest(void)
{
    return (int)pa_sq_migration_count;
}

static pa_err open_store(const char *path, const pa_store_options *opt,
                         pa_store **out);

pa_err pa_store_open(const char *path, const pa_store_options *opt,
                     pa_store **out)
{
    pa_err e = open_store(path, opt, out);

    if (e == PA_OK)
        (*out)->gate = pa_sq_gate_get(path);
    return e;
}

pa_err pa_sq_open_lane(const char *path, int busy_ms, pa_sq_gate *g,
                       pa_store **out)
{
    pa_store_options opt = { busy_ms };
    pa_err e = open_store(path, &opt, out);

    if (e == PA_OK) {
        (*out)->gate = g;
        (*out)->lane = 1;
    }
    return e;
}

static pa_err open_store(const char *path, const pa_store_options *opt,
                         pa_store **out)
{
    pa_store *s;
    int version = 0;
    pa_err e;

    if (!out)
        return pa_sq_misuse("open");
    *out = NULL;
    if (!path)
        return pa_sq_misuse("open");
    if (!(s = calloc(1, sizeof *s))) {
        pa_sq_set_error("open: out of memory");
        return PA_ERR_UNKNOWN_ERROR;
    }
    s->shm_fd = -1;
    s->busy_ms = opt && opt->busy_timeout_ms > 0 ? opt->busy_timeout_ms
                                                 : PA_STORE_BUSY_TIMEOUT_DEFAULT_MS;
    if ((e = pa_sq_connect(path, opt, 0, &s->db)) == PA_OK &&
        (e = pa_sq_read_version(s->db, &version)) == PA_OK &&
        version != pa_store_schema_latest()) {
        pa_sq_set_error("database %s has schema version %d, this paserver needs "
                        "%d%s", path, version, pa_store_schema_latest(),
                        version > pa_store_schema_latest()
                            ? " (written by a newer paserver)"
                            : " (run the migrations first)");
        e = PA_ERR_UNKNOWN_ERROR;
    }
    if (e != PA_OK) {
        pa_store_close(s);
        return e;
    }
    *out = s;
    return PA_OK;
}

/* Leaves the writer gate once the connection's transaction has ended. */
static void gate_release(pa_store *s)
{
    if (s->in_gate && sqlite3_get_autocommit(s->db)) {
        s->in_gate = 0;
        pa_sq_gate_leave(s->gate);
    }
}

void pa_store_close(pa_store *s)
{
    size_t i;

    if (!s)
        return;
    if (s->memo_free)
        s->memo_free(s->memo);
    if (s->shm_fd >= 0)
        close(s->shm_fd);
    for (i = 0; i < PA_SQ__COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    /* Closing rolls back an open transaction. */
    sqlite3_close(s->db);
    if (s->in_gate)
        pa_sq_gate_leave(s->gate);
    if (!s->lane)
        pa_sq_gate_put(s->gate);
    free(s);
}

sqlite3 *pa_sq_db(pa_store *s)
{
    return s ? s->db : NULL;
}

/* ---- statements ------------------------------------------------------------------ */

pa_err pa_sq_stmt(pa_store *s, pa_sq_slot slot, const char *sql,
                  sqlite3_stmt **out)
{
    int rc;

    if (!s->stmt[slot]) {
        /* PERSISTENT: kept for the connection's life, so SQLite allocates
         * it outside its short-lived lookaside memory. */
        rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                &s->stmt[slot], NULL);
        if (rc != SQLITE_OK)
            return pa_sq_fail(s->db, rc, "prepare");
    }
    *out = s->stmt[slot];
    return PA_OK;
}

void pa_sq_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

pa_err pa_sq_bind_text(pa_store *s, sqlite3_stmt *st, int idx, const char *v)
{
    int rc = v ? sqlite3_bind_text(st, idx, v, -1, SQLITE_STATIC)
               : sqlite3_bind_null(st, idx);

    return rc == SQLITE_OK ? PA_OK : pa_sq_fail(s->db, rc, "bind");
}

pa_err pa_sq_bind_int64(pa_store *s, sqlite3_stmt *st, int idx, sqlite3_int64 v)
{
    int rc = sqlite3_bind_int64(st, idx, v);

    return rc == SQLITE_OK ? PA_OK : pa_sq_fail(s->db, rc, "bind");
}

pa_err pa_sq_run(pa_store *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);

    return rc == SQLITE_DONE ? PA_OK : pa_sq_fail(s->db, rc, what);
}

pa_err pa_sq_fetch_one(pa_store *s, sqlite3_stmt *st, pa_sq_reader rd,
                       void *out, int *found, const char *what)
{
    int rc = sqlite3_step(st);
    pa_err e;

    *found = 0;
    if (rc == SQLITE_DONE)
        return PA_OK;
    if (rc != SQLITE_ROW)
        return pa_sq_fail(s->db, rc, what);
    if ((e = rd(st, out)) != PA_OK) {
        pa_sq_set_error("%s: out of memory", what);
        return e;
    }
    *found = 1;
    return PA_OK;
}

/* Makes room for one more element; doubles the capacity. */
static int grow(void **items, size_t *cap, size_t count, size_t elem_size)
{
    size_t ncap = *cap ? *cap * 2 : 8;
    void *p;

    if (count < *cap)
        return 1;
    if (!(p = realloc(*items, ncap * elem_size)))
        return 0;
    memset((char *)p + count * elem_size, 0, (ncap - count) * elem_size);
    *items = p;
    *cap = ncap;
    return 1;
}

pa_err pa_sq_fetch_all(pa_store *s, sqlite3_stmt *st, pa_sq_reader rd,
                       pa_sq_freer fr, size_t elem_size, void **items,
                       size_t *count, const char *what)
{
    size_t cap = 0, n = 0, i;
    void *arr = NULL;
    pa_err e = PA_OK;
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!grow(&arr, &cap, n, elem_size)) {
            pa_sq_set_error("%s: out of memory", what);
            e = PA_ERR_UNKNOWN_ERROR;
            break;
        }
        /* Counted before reading, so a half-read element is freed too. */
        n++;
        if ((e = rd(st, (char *)arr + (n - 1) * elem_size)) != PA_OK) {
            pa_sq_set_error("%s: out of memory", what);
            break;
        }
    }
    if (e == PA_OK && rc != SQLITE_DONE)
        e = pa_sq_fail(s->db, rc, what);
    if (e != PA_OK) {
        for (i = 0; i < n; i++)
            fr((char *)arr + i * elem_size);
        free(arr);
        arr = NULL;
        n = 0;
    }
    *items = arr;
    *count = n;
    return e;
}

/* ---- values ------------------------------------------------------------------------ */

pa_err pa_sq_col_text(sqlite3_stmt *st, int col, char **out)
{
    const unsigned char *t;
    int len;

    *out = NULL;
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return PA_OK;
    /* text first, then bytes: the documented order for a stable length. */
    t = sqlite3_column_text(st, col);
    len = sqlite3_column_bytes(st, col);
    if (!t || !(*out = malloc((size_t)len + 1)))
        return PA_ERR_UNKNOWN_ERROR;
    memcpy(*out, t, (size_t)len);
    (*out)[len] = '\0';
    return PA_OK;
}

void pa_sq_free_secret(char *p)
{
    if (!p)
        return;
    OPENSSL_cleanse(p, strlen(p));
    free(p);
}

/* ---- health and version -------------------------------------------------------------- */

pa_err pa_store_ping(pa_store *s)
{
    sqlite3_stmt *st;
    pa_err e;
    int rc;

    if (!s)
        return pa_sq_misuse("ping");
    if ((e = pa_sq_stmt(s, PA_SQ_PING, "SELECT 1", &st)) != PA_OK)
        return e;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_int(st, 0) == 1)
        e = PA_OK;
    else
        e = pa_sq_fail(s->db, rc == SQLITE_ROW ? SQLITE_ERROR : rc, "ping");
    pa_sq_done(st);
    return e;
}

static pa_err read_int(sqlite3_stmt *st, void *out)
{
    *(int *)out = sqlite3_column_int(st, 0);
    return PA_OK;
}

pa_err pa_store_schema_version(pa_store *s, int *version)
{
    sqlite3_stmt *st;
    int found;
    pa_err e;

    if (!s || !version)
        return pa_sq_misuse("schema_version");
    e = pa_sq_stmt(s, PA_SQ_SCHEMA_VERSION,
                   "SELECT coalesce(max(version), 0) FROM schema_version", &st);
    if (e != PA_OK)
        return e;
    e = pa_sq_fetch_one(s, st, read_int, version, &found, "schema_version");
    pa_sq_done(st);
    return e;
}

/* ---- generations and memos ----------------------------------------------------------- */

static pa_err read_int64(sqlite3_stmt *st, void *out)
{
    *(int64_t *)out = sqlite3_column_int64(st, 0);
    return PA_OK;
}

/*
 * Another connection's commit shows in the WAL index: SQLite publishes a
 * commit to readers by rewriting the wal-index header at the start of the
 * -shm file (two copies of 48 bytes, the second written first; every
 * commit changes the frame count, the salts or the running checksum in
 * it - sqlite.org/walformat.html).  Reading those 96 bytes with pread()
 * takes no lock; PRAGMA data_version would take a read transaction (two
 * fcntl locks and SQLite's shared-memory mutex, which the loops then
 * contend for).  Two copies that differ mean a commit is being published
 * right now: no generation, nothing cached.  This connection's own
 * writes show in its change count instead.  Should the -shm file not be
 * readable, PRAGMA data_version stands in.
 */
#define WAL_HDR 48

static int shm_open_for(pa_store *s)
{
    const char *db = sqlite3_db_filename(s->db, "main");
    char path[4096];

    if (db == NULL || db[0] == '\0'
        || (size_t)snprintf(path, sizeof path, "%s-shm", db) >= sizeof path)
        return -2;
    {
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        return fd >= 0 ? fd : -2;
    }
}

static pa_err data_version(pa_store *s, unsigned char mark[WAL_HDR])
{
    sqlite3_stmt *st;
    int64_t v = 0;
    int found = 0;
    pa_err e;

    if ((e = pa_sq_stmt(s, PA_SQ_DATA_VERSION, "PRAGMA data_version", &st)) != PA_OK)
        return e;
    e = pa_sq_fetch_one(s, st, read_int64, &v, &found, "data_version");
    pa_sq_done(st);
    if (e == PA_OK && !found) {
        pa_sq_set_error("data_version: no row");
        e = PA_ERR_UNKNOWN_ERROR;
    }
    memcpy(mark, &v, sizeof v);
    return e;
}

pa_err pa_store_generation_get(pa_store *s, pa_store_generation *out)
{
    unsigned char hdr[2 * WAL_HDR];

    if (!s || !out)
        return pa_sq_misuse("generation");
    memset(out, 0, sizeof *out);
    out->own = (int64_t)sqlite3_total_changes64(s->db);
    if (s->shm_fd == -1)
        s->shm_fd = shm_open_for(s);
    if (s->shm_fd < 0)
        return data_version(s, out->mark);
    if (pread(s->shm_fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr)
        return data_version(s, out->mark);  /* not initialised yet */
    if (memcmp(hdr, hdr + WAL_HDR, WAL_HDR) != 0)
        return PA_ERR_UNKNOWN_ERROR;        /* a commit is being published */
    memcpy(out->mark, hdr, WAL_HDR);
    return PA_OK;
}

int pa_store_same_generation(const pa_store_generation *a, const pa_store_generation *b)
{
    return a->own == b->own && memcmp(a->mark, b->mark, sizeof a->mark) == 0;
}

void *pa_store_memo(pa_store *s)
{
    return s ? s->memo : NULL;
}

void pa_store_set_memo(pa_store *s, void *memo, void (*free_fn)(void *))
{
    if (!s)
        return;
    if (s->memo_free && s->memo != memo)
        s->memo_free(s->memo);
    s->memo = memo;
    s->memo_free = free_fn;
}

/* ---- transactions -------------------------------------------------------------------- */

static pa_err begin(pa_store *s, int idx, const char *sql)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s)
        return pa_sq_misuse("begin");
    if (!sqlite3_get_autocommit(s->db)) {
        pa_sq_set_error("begin: a transaction is already open");
        return PA_ERR_INVALID_REQUEST;
    }
    if ((e = pa_sq_stmt(s, idx, sql, &st)) != PA_OK)
        return e;
    e = pa_sq_run(s, st, "begin");
    pa_sq_done(st);
    return e;
}

pa_err pa_store_begin(pa_store *s)
{
    pa_err e;

    if (!s)
        return pa_sq_misuse("begin");
    if (!sqlite3_get_autocommit(s->db)) {
        pa_sq_set_error("begin: a transaction is already open");
        return PA_ERR_INVALID_REQUEST;
    }
    /* First this process's queue of writers (woken at once when the
     * writer before commits), then SQLite's lock, which only another
     * process can still hold. */
    if (!pa_sq_gate_enter(s->gate, s->busy_ms)) {
        pa_sq_set_error("begin: database is locked by another writer of this "
                        "process (waited %d ms)", s->busy_ms);
        return PA_ERR_UNKNOWN_ERROR;
    }
    s->in_gate = 1;
    /* IMMEDIATE takes the write lock now (waiting up to the busy timeout)
     * instead of at the first write, where SQLite could only fail. */
    if ((e = begin(s, PA_SQ_BEGIN, "BEGIN IMMEDIATE")) != PA_OK)
        gate_release(s);
    return e;
}

pa_err pa_store_begin_read(pa_store *s)
{
    /* DEFERRED: the first read takes a snapshot that the following reads
     * share, and the file locks are taken once instead of per statement. */
    return begin(s, PA_SQ_BEGIN_READ, "BEGIN DEFERRED");
}

pa_err pa_store_rollback(pa_store *s)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s)
        return pa_sq_misuse("rollback");
    if (sqlite3_get_autocommit(s->db)) {
        /* SQLite may have ended the transaction itself (an I/O error). */
        gate_release(s);
        return PA_OK;
    }
    if ((e = pa_sq_stmt(s, PA_SQ_ROLLBACK, "ROLLBACK", &st)) != PA_OK)
        return e;
    e = pa_sq_run(s, st, "rollback");
    pa_sq_done(st);
    gate_release(s);
    return e;
}

pa_err pa_store_commit(pa_store *s)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s)
        return pa_sq_misuse("commit");
    if (sqlite3_get_autocommit(s->db)) {
        pa_sq_set_error("commit: no transaction is open");
        return PA_ERR_INVALID_REQUEST;
    }
    if ((e = pa_sq_stmt(s, PA_SQ_COMMIT, "COMMIT", &st)) != PA_OK)
        return e;
    e = pa_sq_run(s, st, "commit");
    pa_sq_done(st);
    gate_release(s);
    if (e != PA_OK && !sqlite3_get_autocommit(s->db)) {
        /* Keep the failure's message; the rollback's outcome adds nothing. */
        char msg[sizeof last_error];

        memcpy(msg, last_error, sizeof msg);
        pa_store_rollback(s);
        memcpy(last_error, msg, sizeof msg);
    }
    return e;
}
