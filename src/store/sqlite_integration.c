/*
 * sqlite_integration.c - integration credentials and callback URLs in the
 * SQLite store (DATABASE.md 2, 5.3, 5.7, 5.12).
 *
 * Both are plain rows with UUID keys chosen by the service; they are the
 * only rows the server ever deletes.  Integrations are looked up by
 * client_token on every request when access is restricted, hence the
 * unique index on it.
 */
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"

/* ---- integrations ------------------------------------------------------------ */

static const char SQL_INTEGRATION_CREATE[] =
    "INSERT INTO pa_integration (id, name, client_token, client_secret)"
    " VALUES (?1, ?2, ?3, ?4)";
/* "Database order" in the original: insertion order here. */
static const char SQL_INTEGRATION_LIST[] =
    "SELECT id, name, client_token, client_secret FROM pa_integration"
    " ORDER BY rowid";
static const char SQL_INTEGRATION_REMOVE[] =
    "DELETE FROM pa_integration WHERE id = ?1";
static const char SQL_INTEGRATION_GET_BY_TOKEN[] =
    "SELECT id, name, client_token, client_secret FROM pa_integration"
    " WHERE client_token = ?1";

void pa_store_integration_free(pa_store_integration *i)
{
    if (!i)
        return;
    free(i->id);
    free(i->name);
    free(i->client_token);
    pa_sq_free_secret(i->client_secret);
    memset(i, 0, sizeof *i);
}

void pa_store_integration_array_free(pa_store_integration_array *arr)
{
    size_t i;

    if (!arr)
        return;
    for (i = 0; i < arr->count; i++)
        pa_store_integration_free(&arr->items[i]);
    free(arr->items);
    memset(arr, 0, sizeof *arr);
}

static pa_err read_integration(sqlite3_stmt *st, void *out)
{
    pa_store_integration *i = out;
    pa_err e;

    if ((e = pa_sq_col_text(st, 0, &i->id)) != PA_OK ||
        (e = pa_sq_col_text(st, 1, &i->name)) != PA_OK ||
        (e = pa_sq_col_text(st, 2, &i->client_token)) != PA_OK)
        return e;
    return pa_sq_col_text(st, 3, &i->client_secret);
}

static void free_integration(void *i)
{
    pa_store_integration_free(i);
}

pa_err pa_store_integration_create(pa_store *s, const char *id,
                                   const char *name, const char *client_token,
                                   const char *client_secret)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !id || !client_token || !client_secret)
        return pa_sq_misuse("integration_create");
    e = pa_sq_stmt(s, PA_SQ_INTEGRATION_CREATE, SQL_INTEGRATION_CREATE, &st);
    if (e != PA_OK)
        return e;
    if ((e = pa_sq_bind_text(s, st, 1, id)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 2, name)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 3, client_token)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 4, client_secret)) == PA_OK)
        e = pa_sq_run(s, st, "integration_create");
    pa_sq_done(st);
    return e;
}

pa_err pa_store_integration_list(pa_store *s, pa_store_integration_array *out)
{
    sqlite3_stmt *st;
    void *items = NULL;
    pa_err e;

    if (!s || !out)
        return pa_sq_misuse("integration_list");
    memset(out, 0, sizeof *out);
    e = pa_sq_stmt(s, PA_SQ_INTEGRATION_LIST, SQL_INTEGRATION_LIST, &st);
    if (e != PA_OK)
        return e;
    e = pa_sq_fetch_all(s, st, read_integration, free_integration,
                        sizeof *out->items, &items, &out->count,
                        "integration_list");
    out->items = items;
    pa_sq_done(st);
    return e;
}

/* Deletes by a text key with a cached DELETE; *found tells whether a row
 * went. */
static pa_err remove_by_id(pa_store *s, pa_sq_slot slot, const char *sql,
                           const char *id, int *found, const char *what)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !id || !found)
        return pa_sq_misuse(what);
    *found = 0;
    if ((e = pa_sq_stmt(s, slot, sql, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_text(s, st, 1, id)) == PA_OK &&
        (e = pa_sq_run(s, st, what)) == PA_OK)
        *found = sqlite3_changes(s->db) > 0;
    pa_sq_done(st);
    return e;
}

pa_err pa_store_integration_remove(pa_store *s, const char *id, int *found)
{
    return remove_by_id(s, PA_SQ_INTEGRATION_REMOVE, SQL_INTEGRATION_REMOVE, id,
                        found, "integration_remove");
}

pa_err pa_store_integration_get_by_token(pa_store *s, const char *client_token,
                                         pa_store_integration *out, int *found)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !client_token || !out || !found)
        return pa_sq_misuse("integration_get_by_token");
    memset(out, 0, sizeof *out);
    *found = 0;
    e = pa_sq_stmt(s, PA_SQ_INTEGRATION_GET_BY_TOKEN,
                   SQL_INTEGRATION_GET_BY_TOKEN, &st);
    if (e != PA_OK)
        return e;
    if ((e = pa_sq_bind_text(s, st, 1, client_token)) == PA_OK)
        e = pa_sq_fetch_one(s, st, read_integration, out, found,
                            "integration_get_by_token");
    pa_sq_done(st);
    if (e != PA_OK || !*found)
        pa_store_integration_free(out);
    return e;
}

/* ---- callback URLs ------------------------------------------------------------------ */

static const char SQL_CALLBACK_CREATE[] =
    "INSERT INTO pa_application_callback (id, application_id, name, callback_url)"
    " VALUES (?1, ?2, ?3, ?4)";
/* By name, as the original's repository query; rowid makes ties stable. */
static const char SQL_CALLBACK_LIST[] =
    "SELECT id, application_id, name, callback_url FROM pa_application_callback"
    " WHERE application_id = ?1 ORDER BY name, rowid";
static const char SQL_CALLBACK_REMOVE[] =
    "DELETE FROM pa_application_callback WHERE id = ?1";

void pa_store_callback_free(pa_store_callback *c)
{
    if (!c)
        return;
    free(c->id);
    free(c->name);
    free(c->url);
    memset(c, 0, sizeof *c);
}

void pa_store_callback_array_free(pa_store_callback_array *arr)
{
    size_t i;

    if (!arr)
        return;
    for (i = 0; i < arr->count; i++)
        pa_store_callback_free(&arr->items[i]);
    free(arr->items);
    memset(arr, 0, sizeof *arr);
}

static pa_err read_callback(sqlite3_stmt *st, void *out)
{
    pa_store_callback *c = out;
    pa_err e;

    c->application_id = sqlite3_column_int64(st, 1);
    if ((e = pa_sq_col_text(st, 0, &c->id)) != PA_OK ||
        (e = pa_sq_col_text(st, 2, &c->name)) != PA_OK)
        return e;
    return pa_sq_col_text(st, 3, &c->url);
}

static void free_callback(void *c)
{
    pa_store_callback_free(c);
}

pa_err pa_store_callback_create(pa_store *s, const char *id,
                                int64_t application_id, const char *name,
                                const char *url)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !id || !url)
        return pa_sq_misuse("callback_create");
    if ((e = pa_sq_stmt(s, PA_SQ_CALLBACK_CREATE, SQL_CALLBACK_CREATE, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_text(s, st, 1, id)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 2, application_id)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 3, name)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 4, url)) == PA_OK)
        e = pa_sq_run(s, st, "callback_create");
    pa_sq_done(st);
    return e;
}

pa_err pa_store_callback_list(pa_store *s, int64_t application_id,
                              pa_store_callback_array *out)
{
    sqlite3_stmt *st;
    void *items = NULL;
    pa_err e;

    if (!s || !out)
        return pa_sq_misuse("callback_list");
    memset(out, 0, sizeof *out);
    if ((e = pa_sq_stmt(s, PA_SQ_CALLBACK_LIST, SQL_CALLBACK_LIST, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_int64(s, st, 1, application_id)) == PA_OK)
        e = pa_sq_fetch_all(s, st, read_callback, free_callback,
                            sizeof *out->items, &items, &out->count,
                            "callback_list");
    out->items = items;
    pa_sq_done(st);
    return e;
}

pa_err pa_store_callback_remove(pa_store *s, const char *id, int *found)
{
    return remove_by_id(s, PA_SQ_CALLBACK_REMOVE, SQL_CALLBACK_REMOVE, id, found,
                        "callback_remove");
}
