/*
 * sqlite_outbox.c - the callback outbox in the SQLite store (DESIGN.md
 * "Work outside a request", DATABASE.md 5.1 and 5.3).
 *
 * A state change that notifies the application's callback URLs writes one
 * row per callback URL in the same transaction as the change; the delivery
 * thread reads due rows after commit, posts them and deletes them (or
 * records a failed attempt and when to try again).  Rows name the callback
 * by id; its URL is read at delivery time, so a URL removed meanwhile
 * reads as NULL and the row is dropped by the delivery thread.
 *
 * Ids come from AUTOINCREMENT: they grow with insertion and are never
 * reused, so "lowest id" is "oldest row" for trimming and the tie-break of
 * rows due at the same time.
 */
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"

/* One row per callback of the application, in name order so that rows due
 * at the same time are delivered in the order of 5.3 (ids follow the
 * SELECT's order); the callback id breaks ties between equal names.  The
 * times are cast because PostgreSQL would type a bare parameter in a
 * select list as text, which a BIGINT column refuses. */
static const char SQL_OUTBOX_ADD[] =
    "INSERT INTO pa_callback_outbox (event_id, activation_id, callback_id,"
    " attempts, timestamp_created, timestamp_next_attempt)"
    " SELECT ?1, ?2, c.id, 0, CAST(?3 AS BIGINT), CAST(?3 AS BIGINT)"
    " FROM pa_application_callback c WHERE c.application_id = ?4"
    " ORDER BY c.name, c.id";
/* Served by pa_callback_outbox_due (timestamp_next_attempt, id). */
static const char SQL_OUTBOX_DUE[] =
    "SELECT o.id, o.event_id, o.activation_id, o.callback_id, c.callback_url,"
    " o.attempts, o.timestamp_created, o.timestamp_next_attempt"
    " FROM pa_callback_outbox o"
    " LEFT JOIN pa_application_callback c ON c.id = o.callback_id"
    " WHERE o.timestamp_next_attempt <= ?1"
    " ORDER BY o.timestamp_next_attempt, o.id LIMIT ?2";
static const char SQL_OUTBOX_NEXT_DUE[] =
    "SELECT timestamp_next_attempt FROM pa_callback_outbox"
    " ORDER BY timestamp_next_attempt LIMIT 1";
static const char SQL_OUTBOX_REMOVE[] =
    "DELETE FROM pa_callback_outbox WHERE id = ?1";
static const char SQL_OUTBOX_RETRY[] =
    "UPDATE pa_callback_outbox SET attempts = ?2, timestamp_next_attempt = ?3"
    " WHERE id = ?1";
static const char SQL_OUTBOX_COUNT[] =
    "SELECT count(*) FROM pa_callback_outbox";
/* Keeps the max_rows newest rows: the subquery names the newest row that
 * goes (none when there are at most max_rows rows: NULL, nothing matches). */
static const char SQL_OUTBOX_TRIM[] =
    "DELETE FROM pa_callback_outbox WHERE id <= (SELECT id FROM pa_callback_outbox"
    " ORDER BY id DESC LIMIT 1 OFFSET ?1)";

static void free_outbox(void *p)
{
    pa_store_outbox *o = p;

    free(o->event_id);
    free(o->activation_id);
    free(o->callback_id);
    free(o->callback_url);
    memset(o, 0, sizeof *o);
}

void pa_store_outbox_array_free(pa_store_outbox_array *arr)
{
    size_t i;

    if (!arr)
        return;
    for (i = 0; i < arr->count; i++)
        free_outbox(&arr->items[i]);
    free(arr->items);
    memset(arr, 0, sizeof *arr);
}

static pa_err read_outbox(sqlite3_stmt *st, void *out)
{
    pa_store_outbox *o = out;
    pa_err e;

    o->id = sqlite3_column_int64(st, 0);
    o->attempts = sqlite3_column_int(st, 5);
    o->created_ms = sqlite3_column_int64(st, 6);
    o->next_attempt_ms = sqlite3_column_int64(st, 7);
    if ((e = pa_sq_col_text(st, 1, &o->event_id)) != PA_OK ||
        (e = pa_sq_col_text(st, 2, &o->activation_id)) != PA_OK ||
        (e = pa_sq_col_text(st, 3, &o->callback_id)) != PA_OK)
        return e;
    return pa_sq_col_text(st, 4, &o->callback_url);
}

static pa_err read_int64(sqlite3_stmt *st, void *out)
{
    *(int64_t *)out = sqlite3_column_int64(st, 0);
    return PA_OK;
}

pa_err pa_store_outbox_add(pa_store *s, const char *event_id,
                           int64_t application_id, const char *activation_id,
                           int64_t created_ms, int *rows)
{
    sqlite3_stmt *st;
    pa_err e;

    if (rows)
        *rows = 0;
    if (!s || !event_id || !activation_id)
        return pa_sq_misuse("outbox_add");
    if ((e = pa_sq_stmt(s, PA_SQ_OUTBOX_ADD, SQL_OUTBOX_ADD, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_text(s, st, 1, event_id)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 2, activation_id)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 3, created_ms)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 4, application_id)) == PA_OK &&
        (e = pa_sq_run(s, st, "outbox_add")) == PA_OK && rows)
        *rows = sqlite3_changes(s->db);
    pa_sq_done(st);
    return e;
}

/* limit must be positive (a negative LIMIT is "all" to SQLite and an
 * error to PostgreSQL). */
pa_err pa_store_outbox_due(pa_store *s, int64_t now_ms, int limit,
                           pa_store_outbox_array *out)
{
    sqlite3_stmt *st;
    void *items = NULL;
    pa_err e;

    if (!s || !out || limit < 1)
        return pa_sq_misuse("outbox_due");
    memset(out, 0, sizeof *out);
    if ((e = pa_sq_stmt(s, PA_SQ_OUTBOX_DUE, SQL_OUTBOX_DUE, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_int64(s, st, 1, now_ms)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 2, limit)) == PA_OK)
        e = pa_sq_fetch_all(s, st, read_outbox, free_outbox, sizeof *out->items,
                            &items, &out->count, "outbox_due");
    out->items = items;
    pa_sq_done(st);
    return e;
}

pa_err pa_store_outbox_next_due(pa_store *s, int64_t *next_ms, int *found)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !next_ms || !found)
        return pa_sq_misuse("outbox_next_due");
    *next_ms = 0;
    *found = 0;
    e = pa_sq_stmt(s, PA_SQ_OUTBOX_NEXT_DUE, SQL_OUTBOX_NEXT_DUE, &st);
    if (e != PA_OK)
        return e;
    e = pa_sq_fetch_one(s, st, read_int64, next_ms, found, "outbox_next_due");
    pa_sq_done(st);
    return e;
}

pa_err pa_store_outbox_remove(pa_store *s, int64_t id)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s)
        return pa_sq_misuse("outbox_remove");
    if ((e = pa_sq_stmt(s, PA_SQ_OUTBOX_REMOVE, SQL_OUTBOX_REMOVE, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_int64(s, st, 1, id)) == PA_OK)
        e = pa_sq_run(s, st, "outbox_remove");
    pa_sq_done(st);
    return e;
}

pa_err pa_store_outbox_retry(pa_store *s, int64_t id, int attempts,
                             int64_t next_attempt_ms)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s)
        return pa_sq_misuse("outbox_retry");
    if ((e = pa_sq_stmt(s, PA_SQ_OUTBOX_RETRY, SQL_OUTBOX_RETRY, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_int64(s, st, 1, id)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 2, attempts)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 3, next_attempt_ms)) == PA_OK)
        e = pa_sq_run(s, st, "outbox_retry");
    pa_sq_done(st);
    return e;
}

pa_err pa_store_outbox_count(pa_store *s, int64_t *count)
{
    sqlite3_stmt *st;
    int found;
    pa_err e;

    if (!s || !count)
        return pa_sq_misuse("outbox_count");
    *count = 0;
    if ((e = pa_sq_stmt(s, PA_SQ_OUTBOX_COUNT, SQL_OUTBOX_COUNT, &st)) != PA_OK)
        return e;
    e = pa_sq_fetch_one(s, st, read_int64, count, &found, "outbox_count");
    pa_sq_done(st);
    return e;
}

/* max_rows must not be negative. */
pa_err pa_store_outbox_trim(pa_store *s, int64_t max_rows, int64_t *dropped)
{
    sqlite3_stmt *st;
    pa_err e;

    if (dropped)
        *dropped = 0;
    if (!s || !dropped || max_rows < 0)
        return pa_sq_misuse("outbox_trim");
    if ((e = pa_sq_stmt(s, PA_SQ_OUTBOX_TRIM, SQL_OUTBOX_TRIM, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_int64(s, st, 1, max_rows)) == PA_OK &&
        (e = pa_sq_run(s, st, "outbox_trim")) == PA_OK)
        *dropped = sqlite3_changes(s->db);
    pa_sq_done(st);
    return e;
}
