/*
 * sqlite_app.c - applications, their versions (key/secret pairs) and their
 * master key pairs in the SQLite store (DATABASE.md 2, 5.10).
 *
 * The original never deletes any of these rows; neither does this file.
 * Uniqueness of application names and keys is left to the unique indexes,
 * as in the original, so a conflict writes nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"

/* ---- applications ------------------------------------------------------------ */

static const char SQL_APP_CREATE[] =
    "INSERT INTO pa_application (name) VALUES (?1)";
static const char SQL_APP_GET[] =
    "SELECT id, name FROM pa_application WHERE id = ?1";
static const char SQL_APP_GET_BY_NAME[] =
    "SELECT id, name FROM pa_application WHERE name = ?1";
static const char SQL_APP_LIST[] =
    "SELECT id, name FROM pa_application ORDER BY id";

void pa_store_application_free(pa_store_application *a)
{
    if (!a)
        return;
    free(a->name);
    memset(a, 0, sizeof *a);
}

void pa_store_application_array_free(pa_store_application_array *arr)
{
    size_t i;

    if (!arr)
        return;
    for (i = 0; i < arr->count; i++)
        pa_store_application_free(&arr->items[i]);
    free(arr->items);
    memset(arr, 0, sizeof *arr);
}

static pa_err read_app(sqlite3_stmt *st, void *out)
{
    pa_store_application *a = out;

    a->id = sqlite3_column_int64(st, 0);
    return pa_sq_col_text(st, 1, &a->name);
}

static void free_app(void *a)
{
    pa_store_application_free(a);
}

pa_err pa_store_application_create(pa_store *s, const char *name, int64_t *id)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !name || !id)
        return pa_sq_misuse("application_create");
    if ((e = pa_sq_stmt(s, PA_SQ_APP_CREATE, SQL_APP_CREATE, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_text(s, st, 1, name)) == PA_OK &&
        (e = pa_sq_run(s, st, "application_create")) == PA_OK)
        *id = sqlite3_last_insert_rowid(s->db);
    pa_sq_done(st);
    return e;
}

pa_err pa_store_application_get(pa_store *s, int64_t id,
                                pa_store_application *out, int *found)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !out || !found)
        return pa_sq_misuse("application_get");
    memset(out, 0, sizeof *out);
    *found = 0;
    if ((e = pa_sq_stmt(s, PA_SQ_APP_GET, SQL_APP_GET, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_int64(s, st, 1, id)) == PA_OK)
        e = pa_sq_fetch_one(s, st, read_app, out, found, "application_get");
    pa_sq_done(st);
    if (e != PA_OK || !*found)
        pa_store_application_free(out);
    return e;
}

pa_err pa_store_application_get_by_name(pa_store *s, const char *name,
                                        pa_store_application *out, int *found)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !name || !out || !found)
        return pa_sq_misuse("application_get_by_name");
    memset(out, 0, sizeof *out);
    *found = 0;
    if ((e = pa_sq_stmt(s, PA_SQ_APP_GET_BY_NAME, SQL_APP_GET_BY_NAME, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_text(s, st, 1, name)) == PA_OK)
        e = pa_sq_fetch_one(s, st, read_app, out, found, "application_get_by_name");
    pa_sq_done(st);
    if (e != PA_OK || !*found)
        pa_store_application_free(out);
    return e;
}

pa_err pa_store_application_list(pa_store *s, pa_store_application_array *out)
{
    sqlite3_stmt *st;
    void *items = NULL;
    pa_err e;

    if (!s || !out)
        return pa_sq_misuse("application_list");
    memset(out, 0, sizeof *out);
    if ((e = pa_sq_stmt(s, PA_SQ_APP_LIST, SQL_APP_LIST, &st)) != PA_OK)
        return e;
    e = pa_sq_fetch_all(s, st, read_app, free_app, sizeof *out->items, &items,
                        &out->count, "application_list");
    out->items = items;
    pa_sq_done(st);
    return e;
}

/* ---- application versions ----------------------------------------------------------- */

static const char SQL_VERSION_CREATE[] =
    "INSERT INTO pa_application_version"
    " (application_id, name, application_key, application_secret, supported)"
    " VALUES (?1, ?2, ?3, ?4, 1)";
#define VERSION_COLUMNS \
    "SELECT id, application_id, name, application_key, application_secret," \
    " supported FROM pa_application_version"
static const char SQL_VERSION_LIST[] =
    VERSION_COLUMNS " WHERE application_id = ?1 ORDER BY id";
static const char SQL_VERSION_GET_BY_KEY[] =
    VERSION_COLUMNS " WHERE application_key = ?1";
static const char SQL_VERSION_SET_SUPPORTED[] =
    "UPDATE pa_application_version SET supported = ?2 WHERE id = ?1";

void pa_store_version_free(pa_store_version *v)
{
    if (!v)
        return;
    free(v->name);
    free(v->application_key);
    pa_sq_free_secret(v->application_secret);
    memset(v, 0, sizeof *v);
}

void pa_store_version_array_free(pa_store_version_array *arr)
{
    size_t i;

    if (!arr)
        return;
    for (i = 0; i < arr->count; i++)
        pa_store_version_free(&arr->items[i]);
    free(arr->items);
    memset(arr, 0, sizeof *arr);
}

static pa_err read_version(sqlite3_stmt *st, void *out)
{
    pa_store_version *v = out;
    pa_err e;

    v->id = sqlite3_column_int64(st, 0);
    v->application_id = sqlite3_column_int64(st, 1);
    /* NULL (possible in imported data) reads as not supported. */
    v->supported = sqlite3_column_int(st, 5) != 0;
    if ((e = pa_sq_col_text(st, 2, &v->name)) != PA_OK ||
        (e = pa_sq_col_text(st, 3, &v->application_key)) != PA_OK)
        return e;
    return pa_sq_col_text(st, 4, &v->application_secret);
}

static void free_version(void *v)
{
    pa_store_version_free(v);
}

pa_err pa_store_version_create(pa_store *s, int64_t application_id,
                               const char *name, const char *application_key,
                               const char *application_secret, int64_t *id)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !application_key || !application_secret || !id)
        return pa_sq_misuse("version_create");
    if ((e = pa_sq_stmt(s, PA_SQ_VERSION_CREATE, SQL_VERSION_CREATE, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_int64(s, st, 1, application_id)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 2, name)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 3, application_key)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 4, application_secret)) == PA_OK &&
        (e = pa_sq_run(s, st, "version_create")) == PA_OK)
        *id = sqlite3_last_insert_rowid(s->db);
    pa_sq_done(st);
    return e;
}

pa_err pa_store_version_list(pa_store *s, int64_t application_id,
                             pa_store_version_array *out)
{
    sqlite3_stmt *st;
    void *items = NULL;
    pa_err e;

    if (!s || !out)
        return pa_sq_misuse("version_list");
    memset(out, 0, sizeof *out);
    if ((e = pa_sq_stmt(s, PA_SQ_VERSION_LIST, SQL_VERSION_LIST, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_int64(s, st, 1, application_id)) == PA_OK)
        e = pa_sq_fetch_all(s, st, read_version, free_version, sizeof *out->items,
                            &items, &out->count, "version_list");
    out->items = items;
    pa_sq_done(st);
    return e;
}

pa_err pa_store_version_get_by_key(pa_store *s, const char *application_key,
                                   pa_store_version *out, int *found)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !application_key || !out || !found)
        return pa_sq_misuse("version_get_by_key");
    memset(out, 0, sizeof *out);
    *found = 0;
    e = pa_sq_stmt(s, PA_SQ_VERSION_GET_BY_KEY, SQL_VERSION_GET_BY_KEY, &st);
    if (e != PA_OK)
        return e;
    if ((e = pa_sq_bind_text(s, st, 1, application_key)) == PA_OK)
        e = pa_sq_fetch_one(s, st, read_version, out, found, "version_get_by_key");
    pa_sq_done(st);
    if (e != PA_OK || !*found)
        pa_store_version_free(out);
    return e;
}

pa_err pa_store_version_set_supported(pa_store *s, int64_t version_id,
                                      int supported, int *found)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !found)
        return pa_sq_misuse("version_set_supported");
    *found = 0;
    e = pa_sq_stmt(s, PA_SQ_VERSION_SET_SUPPORTED, SQL_VERSION_SET_SUPPORTED, &st);
    if (e != PA_OK)
        return e;
    if ((e = pa_sq_bind_int64(s, st, 1, version_id)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 2, supported != 0)) == PA_OK &&
        (e = pa_sq_run(s, st, "version_set_supported")) == PA_OK)
        /* SQLite counts every matched row, also when the value is unchanged. */
        *found = sqlite3_changes(s->db) > 0;
    pa_sq_done(st);
    return e;
}

/* ---- master key pairs ------------------------------------------------------------------ */

static const char SQL_KEYPAIR_CREATE[] =
    "INSERT INTO pa_master_keypair (application_id, name,"
    " master_key_private_base64, master_key_public_base64, timestamp_created)"
    " VALUES (?1, ?2, ?3, ?4, ?5)";
static const char SQL_KEYPAIR_LATEST[] =
    "SELECT id, application_id, name, master_key_private_base64,"
    " master_key_public_base64, timestamp_created FROM pa_master_keypair"
    " WHERE application_id = ?1"
    " ORDER BY timestamp_created DESC, id DESC LIMIT 1";

static const char SQL_KEYPAIR_GET[] =
    "SELECT id, application_id, name, master_key_private_base64,"
    " master_key_public_base64, timestamp_created FROM pa_master_keypair"
    " WHERE id = ?1";

void pa_store_master_keypair_free(pa_store_master_keypair *k)
{
    if (!k)
        return;
    free(k->name);
    pa_sq_free_secret(k->private_key_base64);
    free(k->public_key_base64);
    memset(k, 0, sizeof *k);
}

static pa_err read_keypair(sqlite3_stmt *st, void *out)
{
    pa_store_master_keypair *k = out;
    pa_err e;

    k->id = sqlite3_column_int64(st, 0);
    k->application_id = sqlite3_column_int64(st, 1);
    k->created_ms = sqlite3_column_int64(st, 5);
    if ((e = pa_sq_col_text(st, 2, &k->name)) != PA_OK ||
        (e = pa_sq_col_text(st, 3, &k->private_key_base64)) != PA_OK)
        return e;
    return pa_sq_col_text(st, 4, &k->public_key_base64);
}

pa_err pa_store_master_keypair_create(pa_store *s, int64_t application_id,
                                      const char *name,
                                      const char *private_key_base64,
                                      const char *public_key_base64,
                                      int64_t created_ms, int64_t *id)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !private_key_base64 || !public_key_base64 || !id)
        return pa_sq_misuse("master_keypair_create");
    if ((e = pa_sq_stmt(s, PA_SQ_KEYPAIR_CREATE, SQL_KEYPAIR_CREATE, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_int64(s, st, 1, application_id)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 2, name)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 3, private_key_base64)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 4, public_key_base64)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 5, created_ms)) == PA_OK &&
        (e = pa_sq_run(s, st, "master_keypair_create")) == PA_OK)
        *id = sqlite3_last_insert_rowid(s->db);
    pa_sq_done(st);
    return e;
}

pa_err pa_store_master_keypair_latest(pa_store *s, int64_t application_id,
                                      pa_store_master_keypair *out, int *found)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !out || !found)
        return pa_sq_misuse("master_keypair_latest");
    memset(out, 0, sizeof *out);
    *found = 0;
    if ((e = pa_sq_stmt(s, PA_SQ_KEYPAIR_LATEST, SQL_KEYPAIR_LATEST, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_int64(s, st, 1, application_id)) == PA_OK)
        e = pa_sq_fetch_one(s, st, read_keypair, out, found, "master_keypair_latest");
    pa_sq_done(st);
    if (e != PA_OK || !*found)
        pa_store_master_keypair_free(out);
    return e;
}

pa_err pa_store_master_keypair_get(pa_store *s, int64_t id,
                                   pa_store_master_keypair *out, int *found)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !out || !found)
        return pa_sq_misuse("master_keypair_get");
    memset(out, 0, sizeof *out);
    *found = 0;
    if ((e = pa_sq_stmt(s, PA_SQ_KEYPAIR_GET, SQL_KEYPAIR_GET, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_int64(s, st, 1, id)) == PA_OK)
        e = pa_sq_fetch_one(s, st, read_keypair, out, found, "master_keypair_get");
    pa_sq_done(st);
    if (e != PA_OK || !*found)
        pa_store_master_keypair_free(out);
    return e;
}
