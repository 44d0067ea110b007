/*
 * sqlite_audit.c - signature audit rows and the retention purge in the
 * SQLite store (DATABASE.md 2, 3, 5.2, 5.11; DESIGN.md "Work outside a
 * request").
 *
 * One audit row is written per signature verification that found the
 * activation, inside the transaction of that verification; rows are only
 * read back by SignatureAudit, over every activation of a user.  The
 * original never deletes audit or history rows (5.12); the retention
 * purge, when configured, deletes the oldest ones in bounded batches.
 *
 * version 0 is SQL NULL in the struct (a real version is 2 or 3); valid is
 * stored and read as 0 or 1.  Ids come from AUTOINCREMENT, so between rows
 * created in the same millisecond the higher id is the later row: the
 * tie-break of the list order and of the purge order.
 */
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"

/* ---- signature audit ------------------------------------------------------------ */

static const char SQL_AUDIT_ADD[] =
    "INSERT INTO pa_signature_audit (activation_id, activation_counter,"
    " activation_ctr_data, activation_status, additional_info, data_base64,"
    " signature_type, signature, valid, note, timestamp_created, version,"
    " signature_version)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";

/* Every audit column in the order read_audit() reads them, then the
 * activation's user and application (columns 14, 15). */
#define AUDIT_SELECT \
    "SELECT s.id, s.activation_id, s.activation_counter, s.activation_ctr_data," \
    " s.activation_status, s.additional_info, s.data_base64, s.signature_type," \
    " s.signature, s.valid, s.note, s.timestamp_created, s.version," \
    " s.signature_version, a.user_id, a.application_id" \
    " FROM pa_signature_audit s" \
    " JOIN pa_activation a ON a.activation_id = s.activation_id"
/* Newest first, ties by id descending (5.11). */
#define AUDIT_ORDER " ORDER BY s.timestamp_created DESC, s.id DESC"

/* The user's activations by pa_activation_user_id (user_id,
 * application_id), then each one's rows in the window by
 * pa_signature_audit_activation (activation_id, timestamp_created); the
 * rows of several activations are merged by a sort.  Two statements
 * rather than "(?2 = 0 OR application_id = ?3)", so that each uses the
 * user index fully. */
static const char SQL_AUDIT_LIST_USER[] =
    AUDIT_SELECT " WHERE a.user_id = ?1"
    " AND s.timestamp_created BETWEEN ?2 AND ?3" AUDIT_ORDER;
static const char SQL_AUDIT_LIST_USER_APP[] =
    AUDIT_SELECT " WHERE a.user_id = ?1 AND a.application_id = ?4"
    " AND s.timestamp_created BETWEEN ?2 AND ?3" AUDIT_ORDER;

static void free_audit(void *p)
{
    pa_store_audit *a = p;

    free(a->activation_id);
    /* ctr_data is a secret in pa_activation; its copy here is wiped too. */
    pa_sq_free_secret(a->activation_ctr_data);
    free(a->additional_info);
    free(a->data_base64);
    free(a->signature_type);
    free(a->signature);
    free(a->note);
    free(a->signature_version);
    free(a->user_id);
    memset(a, 0, sizeof *a);
}

void pa_store_audit_array_free(pa_store_audit_array *arr)
{
    size_t i;

    if (!arr)
        return;
    for (i = 0; i < arr->count; i++)
        free_audit(&arr->items[i]);
    free(arr->items);
    memset(arr, 0, sizeof *arr);
}

static pa_err read_audit(sqlite3_stmt *st, void *out)
{
    pa_store_audit *a = out;
    pa_err e;

    a->id = sqlite3_column_int64(st, 0);
    a->activation_counter = sqlite3_column_int64(st, 2);
    a->activation_status = sqlite3_column_int(st, 4);
    a->valid = sqlite3_column_int(st, 9) != 0;
    a->created_ms = sqlite3_column_int64(st, 11);
    /* NULL reads as 0. */
    a->version = sqlite3_column_int(st, 12);
    a->application_id = sqlite3_column_int64(st, 15);
    if ((e = pa_sq_col_text(st, 1, &a->activation_id)) != PA_OK ||
        (e = pa_sq_col_text(st, 3, &a->activation_ctr_data)) != PA_OK ||
        (e = pa_sq_col_text(st, 5, &a->additional_info)) != PA_OK ||
        (e = pa_sq_col_text(st, 6, &a->data_base64)) != PA_OK ||
        (e = pa_sq_col_text(st, 7, &a->signature_type)) != PA_OK ||
        (e = pa_sq_col_text(st, 8, &a->signature)) != PA_OK ||
        (e = pa_sq_col_text(st, 10, &a->note)) != PA_OK ||
        (e = pa_sq_col_text(st, 13, &a->signature_version)) != PA_OK)
        return e;
    return pa_sq_col_text(st, 14, &a->user_id);
}

pa_err pa_store_audit_add(pa_store *s, const pa_store_audit *a, int64_t *id)
{
    sqlite3_stmt *st;
    pa_err e;

    if (id)
        *id = 0;
    if (!s || !a || !a->activation_id || !a->signature_type || !a->signature ||
        !a->note)
        return pa_sq_misuse("audit_add");
    if ((e = pa_sq_stmt(s, PA_SQ_AUDIT_ADD, SQL_AUDIT_ADD, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_text(s, st, 1, a->activation_id)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 2, a->activation_counter)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 3, a->activation_ctr_data)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 4, a->activation_status)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 5, a->additional_info)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 6, a->data_base64)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 7, a->signature_type)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 8, a->signature)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 9, a->valid != 0)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 10, a->note)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 11, a->created_ms)) == PA_OK &&
        (e = (a->version != 0 ? pa_sq_bind_int64(s, st, 12, a->version)
                              : pa_sq_bind_text(s, st, 12, NULL))) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 13, a->signature_version)) == PA_OK &&
        (e = pa_sq_run(s, st, "audit_add")) == PA_OK && id)
        *id = sqlite3_last_insert_rowid(s->db);
    pa_sq_done(st);
    return e;
}

pa_err pa_store_audit_list(pa_store *s, const char *user_id,
                           int has_application_id, int64_t application_id,
                           int64_t from_ms, int64_t to_ms,
                           pa_store_audit_array *out)
{
    sqlite3_stmt *st;
    void *items = NULL;
    pa_err e;

    if (!s || !user_id || !out)
        return pa_sq_misuse("audit_list");
    memset(out, 0, sizeof *out);
    if (has_application_id)
        e = pa_sq_stmt(s, PA_SQ_AUDIT_LIST_USER_APP, SQL_AUDIT_LIST_USER_APP, &st);
    else
        e = pa_sq_stmt(s, PA_SQ_AUDIT_LIST_USER, SQL_AUDIT_LIST_USER, &st);
    if (e != PA_OK)
        return e;
    if ((e = pa_sq_bind_text(s, st, 1, user_id)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 2, from_ms)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 3, to_ms)) == PA_OK &&
        (!has_application_id ||
         (e = pa_sq_bind_int64(s, st, 4, application_id)) == PA_OK))
        e = pa_sq_fetch_all(s, st, read_audit, free_audit, sizeof *out->items,
                            &items, &out->count, "audit_list");
    out->items = items;
    pa_sq_done(st);
    return e;
}

/* ---- retention ------------------------------------------------------------------- */

/* The oldest `limit` rows created before the cut, by the index on
 * timestamp_created (whose entries end with the row id, so the subquery
 * reads them in exactly this order and stops at the limit), then each
 * deleted by its id.  DELETE ... LIMIT is neither standard nor in
 * PostgreSQL; a LIMIT inside IN (...) is in both. */
static const char SQL_AUDIT_PURGE[] =
    "DELETE FROM pa_signature_audit WHERE id IN (SELECT id FROM pa_signature_audit"
    " WHERE timestamp_created < ?1 ORDER BY timestamp_created, id LIMIT ?2)";
static const char SQL_HISTORY_PURGE[] =
    "DELETE FROM pa_activation_history WHERE id IN (SELECT id FROM"
    " pa_activation_history WHERE timestamp_created < ?1"
    " ORDER BY timestamp_created, id LIMIT ?2)";

/* limit must be positive: a negative LIMIT means "all" to SQLite and is an
 * error to PostgreSQL, and 0 would make a purge loop that never ends. */
static pa_err purge(pa_store *s, pa_sq_slot slot, const char *sql,
                    int64_t before_ms, int limit, int *deleted, const char *what)
{
    sqlite3_stmt *st;
    pa_err e;

    if (deleted)
        *deleted = 0;
    if (!s || !deleted)
        return pa_sq_misuse(what);
    if (limit < 1) {
        pa_sq_set_error("%s: limit %d is not positive", what, limit);
        return PA_ERR_INVALID_REQUEST;
    }
    if ((e = pa_sq_stmt(s, slot, sql, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_int64(s, st, 1, before_ms)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 2, limit)) == PA_OK &&
        (e = pa_sq_run(s, st, what)) == PA_OK)
        *deleted = sqlite3_changes(s->db);
    pa_sq_done(st);
    return e;
}

pa_err pa_store_audit_purge(pa_store *s, int64_t before_ms, int limit,
                            int *deleted)
{
    return purge(s, PA_SQ_AUDIT_PURGE, SQL_AUDIT_PURGE, before_ms, limit, deleted,
                 "audit_purge");
}

pa_err pa_store_history_purge(pa_store *s, int64_t before_ms, int limit,
                              int *deleted)
{
    return purge(s, PA_SQ_HISTORY_PURGE, SQL_HISTORY_PURGE, before_ms, limit,
                 deleted, "history_purge");
}
