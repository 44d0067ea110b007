/*
 * sqlite_token.c - MAC tokens in the SQLite store (DATABASE.md 2, 5.7,
 * 5.9, 5.12).
 *
 * CreateToken inserts one row with a token_id the service chose (it checks
 * pa_store_token_exists first and retries on a collision, 5.9; the primary
 * key refuses a duplicate that slipped through).  ValidateToken reads the
 * token together with its activation's status, user and application in
 * one statement.  RemoveToken deletes the row only for the activation that
 * owns it.  Tokens outlive their activation's removal or blocking; the
 * foreign key keeps the activation row itself from going away, but the
 * read joins it LEFT so that a token without one (imported data) still
 * reads, with status 0.
 *
 * token_secret is in clear (as in the original) and wiped when freed.
 */
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"

static const char SQL_TOKEN_INSERT[] =
    "INSERT INTO pa_token (token_id, token_secret, activation_id,"
    " signature_type, timestamp_created) VALUES (?1, ?2, ?3, ?4, ?5)";
static const char SQL_TOKEN_EXISTS[] =
    "SELECT 1 FROM pa_token WHERE token_id = ?1";
static const char SQL_TOKEN_GET[] =
    "SELECT t.token_id, t.token_secret, t.activation_id, t.signature_type,"
    " t.timestamp_created, a.activation_status, a.user_id, a.application_id"
    " FROM pa_token t"
    " LEFT JOIN pa_activation a ON a.activation_id = t.activation_id"
    " WHERE t.token_id = ?1";
static const char SQL_TOKEN_REMOVE[] =
    "DELETE FROM pa_token WHERE token_id = ?1 AND activation_id = ?2";

void pa_store_token_free(pa_store_token *t)
{
    if (!t)
        return;
    free(t->token_id);
    pa_sq_free_secret(t->token_secret);
    free(t->activation_id);
    free(t->signature_type);
    free(t->user_id);
    memset(t, 0, sizeof *t);
}

static pa_err read_token(sqlite3_stmt *st, void *out)
{
    pa_store_token *t = out;
    pa_err e;

    t->created_ms = sqlite3_column_int64(st, 4);
    /* NULL (no activation row) reads as 0. */
    t->activation_status = sqlite3_column_int(st, 5);
    t->application_id = sqlite3_column_int64(st, 7);
    if ((e = pa_sq_col_text(st, 0, &t->token_id)) != PA_OK ||
        (e = pa_sq_col_text(st, 1, &t->token_secret)) != PA_OK ||
        (e = pa_sq_col_text(st, 2, &t->activation_id)) != PA_OK ||
        (e = pa_sq_col_text(st, 3, &t->signature_type)) != PA_OK)
        return e;
    return pa_sq_col_text(st, 6, &t->user_id);
}

/* For queries whose only answer is whether a row came back. */
static pa_err read_nothing(sqlite3_stmt *st, void *out)
{
    (void)st;
    (void)out;
    return PA_OK;
}

pa_err pa_store_token_insert(pa_store *s, const pa_store_token *t)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !t || !t->token_id || !t->token_secret || !t->activation_id ||
        !t->signature_type)
        return pa_sq_misuse("token_insert");
    if ((e = pa_sq_stmt(s, PA_SQ_TOKEN_INSERT, SQL_TOKEN_INSERT, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_text(s, st, 1, t->token_id)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 2, t->token_secret)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 3, t->activation_id)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 4, t->signature_type)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 5, t->created_ms)) == PA_OK)
        e = pa_sq_run(s, st, "token_insert");
    pa_sq_done(st);
    return e;
}

pa_err pa_store_token_exists(pa_store *s, const char *token_id, int *exists)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !token_id || !exists)
        return pa_sq_misuse("token_exists");
    *exists = 0;
    if ((e = pa_sq_stmt(s, PA_SQ_TOKEN_EXISTS, SQL_TOKEN_EXISTS, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_text(s, st, 1, token_id)) == PA_OK)
        e = pa_sq_fetch_one(s, st, read_nothing, NULL, exists, "token_exists");
    pa_sq_done(st);
    return e;
}

pa_err pa_store_token_get(pa_store *s, const char *token_id,
                          pa_store_token *out, int *found)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !token_id || !out || !found)
        return pa_sq_misuse("token_get");
    memset(out, 0, sizeof *out);
    *found = 0;
    if ((e = pa_sq_stmt(s, PA_SQ_TOKEN_GET, SQL_TOKEN_GET, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_text(s, st, 1, token_id)) == PA_OK)
        e = pa_sq_fetch_one(s, st, read_token, out, found, "token_get");
    pa_sq_done(st);
    if (e != PA_OK || !*found)
        pa_store_token_free(out);
    return e;
}

pa_err pa_store_token_remove(pa_store *s, const char *token_id,
                             const char *activation_id, int *removed)
{
    sqlite3_stmt *st;
    pa_err e;

    if (removed)
        *removed = 0;
    if (!s || !token_id || !activation_id || !removed)
        return pa_sq_misuse("token_remove");
    if ((e = pa_sq_stmt(s, PA_SQ_TOKEN_REMOVE, SQL_TOKEN_REMOVE, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_text(s, st, 1, token_id)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 2, activation_id)) == PA_OK &&
        (e = pa_sq_run(s, st, "token_remove")) == PA_OK)
        *removed = sqlite3_changes(s->db) > 0;
    pa_sq_done(st);
    return e;
}
