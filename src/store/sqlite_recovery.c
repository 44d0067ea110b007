/*
 * sqlite_recovery.c - recovery codes, their PUKs and the recovery
 * configuration in the SQLite store (DATABASE.md 2, 3, 4, 5.8, 5.9, 5.11).
 *
 * A code and its PUKs are written once, by pa_store_recovery_code_insert,
 * inside the caller's transaction (the code row first, then each PUK with
 * the code's id); afterwards only status, failed_attempts and
 * timestamp_last_change of a code and status and timestamp_last_change of
 * a PUK change, each row written whole by the service; nothing is deleted.
 * timestamp_last_used is never written (always NULL, as in the original)
 * and not read.
 *
 * Status and mode numbers are stored and read as they are; how an unknown
 * number reads (REVOKED, INVALID, a failing puk_encryption) is the
 * service's business (DATABASE.md 3).  timestamp_last_change travels with
 * its has_last_change flag.  The PUK column (an Argon2 string, possibly
 * record-encrypted, section 4) and the postcard private key are wiped when
 * freed; recovery codes are in clear, as in the original.
 *
 * Reads return each code with all its PUKs in puk_index order.  The PUKs
 * come from one further statement per code (by the unique index
 * pa_recovery_code_puk, so without a sort) rather than from a join: a code
 * has few PUKs and a read returns few codes, the code columns are not
 * repeated per PUK, a code without PUKs needs no outer join, and the
 * statements stay the same in both engines.  Code and PUKs are committed
 * together, so a code read outside a transaction still finds its PUKs; a
 * caller that needs the statuses of both from one instant reads them in a
 * read transaction.
 */
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"

/* ---- statements ---------------------------------------------------------------- */

/* The id of the new code comes from sqlite3_last_insert_rowid(): configure
 * accepts SQLite 3.31, and INSERT ... RETURNING needs 3.35 (the PostgreSQL
 * store adds RETURNING id to the same statement). */
static const char SQL_CODE_INSERT[] =
    "INSERT INTO pa_recovery_code (recovery_code, application_id, user_id,"
    " activation_id, status, failed_attempts, max_failed_attempts,"
    " timestamp_created, timestamp_last_change)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char SQL_PUK_INSERT[] =
    "INSERT INTO pa_recovery_puk (recovery_code_id, puk, puk_encryption,"
    " puk_index, status, timestamp_last_change)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/* By pa_recovery_code_code (application_id, recovery_code). */
static const char SQL_CODE_EXISTS[] =
    "SELECT 1 FROM pa_recovery_code WHERE application_id = ?1"
    " AND recovery_code = ?2 LIMIT 1";

/* Every code column read_code() reads, in its order. */
#define CODE_SELECT \
    "SELECT id, recovery_code, application_id, user_id, activation_id, status," \
    " failed_attempts, max_failed_attempts, timestamp_created," \
    " timestamp_last_change FROM pa_recovery_code"
/* Newest first, ties by id descending (5.11). */
#define CODE_NEWEST " ORDER BY timestamp_created DESC, id DESC"

static const char SQL_CODE_GET[] = CODE_SELECT " WHERE id = ?1";
static const char SQL_CODE_FIND[] =
    CODE_SELECT " WHERE application_id = ?1 AND recovery_code = ?2"
    CODE_NEWEST " LIMIT 1";

/* LookupRecoveryCodes: one statement per combination of the filters,
 * indexed by their bits (user 1, application 2, activation 4), so that each
 * searches the index of its filters (user_id, application_id),
 * (application_id, recovery_code) or (activation_id) rather than testing
 * "?n IS NULL OR ..." row by row; parameters are numbered densely in the
 * order user, application, activation (PostgreSQL must infer the type of
 * every number up to the highest). */
enum { F_USER = 1, F_APP = 2, F_ACT = 4 };
static const char *const SQL_LOOKUP[8] = {
    CODE_SELECT CODE_NEWEST,
    CODE_SELECT " WHERE user_id = ?1" CODE_NEWEST,
    CODE_SELECT " WHERE application_id = ?1" CODE_NEWEST,
    CODE_SELECT " WHERE user_id = ?1 AND application_id = ?2" CODE_NEWEST,
    CODE_SELECT " WHERE activation_id = ?1" CODE_NEWEST,
    CODE_SELECT " WHERE user_id = ?1 AND activation_id = ?2" CODE_NEWEST,
    CODE_SELECT " WHERE application_id = ?1 AND activation_id = ?2" CODE_NEWEST,
    CODE_SELECT " WHERE user_id = ?1 AND application_id = ?2"
    " AND activation_id = ?3" CODE_NEWEST,
};

static const char SQL_CODES_OF_ACTIVATION[] =
    CODE_SELECT " WHERE activation_id = ?1 ORDER BY id";

static const char SQL_PUKS_OF_CODE[] =
    "SELECT id, recovery_code_id, puk, puk_encryption, puk_index, status,"
    " timestamp_last_change FROM pa_recovery_puk WHERE recovery_code_id = ?1"
    " ORDER BY puk_index";

/* The statuses are bound (?3, ?4) so that their numbers live only in
 * store.h. */
static const char SQL_POSTCARD_LIVE[] =
    "SELECT count(*) FROM pa_recovery_code WHERE user_id = ?1"
    " AND application_id = ?2 AND activation_id IS NULL"
    " AND status IN (?3, ?4)";

static const char SQL_CODE_UPDATE[] =
    "UPDATE pa_recovery_code SET status = ?2, failed_attempts = ?3,"
    " timestamp_last_change = ?4 WHERE id = ?1";
static const char SQL_PUK_UPDATE[] =
    "UPDATE pa_recovery_puk SET status = ?2, timestamp_last_change = ?3"
    " WHERE id = ?1";

static const char SQL_CONFIG_GET[] =
    "SELECT id, application_id, activation_recovery_enabled,"
    " recovery_postcard_enabled, allow_multiple_recovery_codes,"
    " postcard_private_key_base64, postcard_public_key_base64,"
    " remote_public_key_base64 FROM pa_recovery_config WHERE application_id = ?1";
/* One statement for both cases, by the unique index pa_recovery_config_app
 * (the upsert syntax of SQLite >= 3.24 and PostgreSQL >= 9.5); the row
 * keeps its id. */
static const char SQL_CONFIG_PUT[] =
    "INSERT INTO pa_recovery_config (application_id, activation_recovery_enabled,"
    " recovery_postcard_enabled, allow_multiple_recovery_codes,"
    " postcard_private_key_base64, postcard_public_key_base64,"
    " remote_public_key_base64) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    " ON CONFLICT (application_id) DO UPDATE SET"
    " activation_recovery_enabled = excluded.activation_recovery_enabled,"
    " recovery_postcard_enabled = excluded.recovery_postcard_enabled,"
    " allow_multiple_recovery_codes = excluded.allow_multiple_recovery_codes,"
    " postcard_private_key_base64 = excluded.postcard_private_key_base64,"
    " postcard_public_key_base64 = excluded.postcard_public_key_base64,"
    " remote_public_key_base64 = excluded.remote_public_key_base64";

/* ---- freeing ---------------------------------------------------------------------- */

static void free_puk(void *p)
{
    pa_store_recovery_puk *k = p;

    pa_sq_free_secret(k->puk);
    memset(k, 0, sizeof *k);
}

void pa_store_recovery_code_free(pa_store_recovery_code *c)
{
    size_t i;

    if (!c)
        return;
    free(c->recovery_code);
    free(c->user_id);
    free(c->activation_id);
    for (i = 0; c->puks && i < c->puk_count; i++)
        free_puk(&c->puks[i]);
    free(c->puks);
    memset(c, 0, sizeof *c);
}

static void free_code(void *p)
{
    pa_store_recovery_code_free(p);
}

void pa_store_recovery_code_array_free(pa_store_recovery_code_array *arr)
{
    size_t i;

    if (!arr)
        return;
    for (i = 0; arr->items && i < arr->count; i++)
        pa_store_recovery_code_free(&arr->items[i]);
    free(arr->items);
    memset(arr, 0, sizeof *arr);
}

void pa_store_recovery_config_free(pa_store_recovery_config *c)
{
    if (!c)
        return;
    pa_sq_free_secret(c->postcard_private_key);
    free(c->postcard_public_key);
    free(c->remote_public_key);
    memset(c, 0, sizeof *c);
}

/* ---- readers ---------------------------------------------------------------------- */

static pa_err read_code(sqlite3_stmt *st, void *out)
{
    pa_store_recovery_code *c = out;
    pa_err e;

    c->id = sqlite3_column_int64(st, 0);
    c->application_id = sqlite3_column_int64(st, 2);
    c->status = sqlite3_column_int(st, 5);
    c->failed_attempts = sqlite3_column_int64(st, 6);
    c->max_failed_attempts = sqlite3_column_int64(st, 7);
    c->created_ms = sqlite3_column_int64(st, 8);
    c->has_last_change = sqlite3_column_type(st, 9) != SQLITE_NULL;
    c->last_change_ms = c->has_last_change ? sqlite3_column_int64(st, 9) : 0;
    if ((e = pa_sq_col_text(st, 1, &c->recovery_code)) != PA_OK ||
        (e = pa_sq_col_text(st, 3, &c->user_id)) != PA_OK)
        return e;
    return pa_sq_col_text(st, 4, &c->activation_id);
}

static pa_err read_puk(sqlite3_stmt *st, void *out)
{
    pa_store_recovery_puk *k = out;

    k->id = sqlite3_column_int64(st, 0);
    k->recovery_code_id = sqlite3_column_int64(st, 1);
    k->puk_encryption = sqlite3_column_int(st, 3);
    k->puk_index = sqlite3_column_int64(st, 4);
    k->status = sqlite3_column_int(st, 5);
    k->has_last_change = sqlite3_column_type(st, 6) != SQLITE_NULL;
    k->last_change_ms = k->has_last_change ? sqlite3_column_int64(st, 6) : 0;
    return pa_sq_col_text(st, 2, &k->puk);
}

static pa_err read_config(sqlite3_stmt *st, void *out)
{
    pa_store_recovery_config *c = out;
    pa_err e;

    c->id = sqlite3_column_int64(st, 0);
    c->application_id = sqlite3_column_int64(st, 1);
    c->activation_recovery_enabled = sqlite3_column_int(st, 2) != 0;
    c->recovery_postcard_enabled = sqlite3_column_int(st, 3) != 0;
    c->allow_multiple_recovery_codes = sqlite3_column_int(st, 4) != 0;
    if ((e = pa_sq_col_text(st, 5, &c->postcard_private_key)) != PA_OK ||
        (e = pa_sq_col_text(st, 6, &c->postcard_public_key)) != PA_OK)
        return e;
    return pa_sq_col_text(st, 7, &c->remote_public_key);
}

/* For queries whose only answer is whether a row came back. */
static pa_err read_nothing(sqlite3_stmt *st, void *out)
{
    (void)st;
    (void)out;
    return PA_OK;
}

static pa_err read_count(sqlite3_stmt *st, void *out)
{
    *(int64_t *)out = sqlite3_column_int64(st, 0);
    return PA_OK;
}

static pa_err bind_opt_int64(pa_store *s, sqlite3_stmt *st, int idx, int present,
                             int64_t v)
{
    return present ? pa_sq_bind_int64(s, st, idx, v) : pa_sq_bind_text(s, st, idx, NULL);
}

/* Reads the PUKs of a code already read (c->id) into c->puks. */
static pa_err load_puks(pa_store *s, pa_store_recovery_code *c)
{
    sqlite3_stmt *st;
    void *items = NULL;
    pa_err e;

    if ((e = pa_sq_stmt(s, PA_SQ_RECOVERY_PUKS_OF_CODE, SQL_PUKS_OF_CODE, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_int64(s, st, 1, c->id)) == PA_OK)
        e = pa_sq_fetch_all(s, st, read_puk, free_puk, sizeof *c->puks, &items,
                            &c->puk_count, "recovery_puks");
    c->puks = items;
    pa_sq_done(st);
    return e;
}

/* Runs a code query that returns at most one row, then its PUKs. */
static pa_err fetch_code(pa_store *s, sqlite3_stmt *st, pa_store_recovery_code *out,
                         int *found, const char *what)
{
    pa_err e = pa_sq_fetch_one(s, st, read_code, out, found, what);

    pa_sq_done(st);
    if (e == PA_OK && *found)
        e = load_puks(s, out);
    if (e != PA_OK) {
        *found = 0;
        pa_store_recovery_code_free(out);
    } else if (!*found) {
        pa_store_recovery_code_free(out);
    }
    return e;
}

/* Runs a code query to its end, then reads every code's PUKs. */
static pa_err fetch_codes(pa_store *s, sqlite3_stmt *st,
                          pa_store_recovery_code_array *out, const char *what)
{
    void *items = NULL;
    size_t i;
    pa_err e = pa_sq_fetch_all(s, st, read_code, free_code, sizeof *out->items,
                               &items, &out->count, what);

    out->items = items;
    pa_sq_done(st);
    for (i = 0; e == PA_OK && i < out->count; i++)
        e = load_puks(s, &out->items[i]);
    if (e != PA_OK)
        pa_store_recovery_code_array_free(out);
    return e;
}

/* ---- codes and PUKs --------------------------------------------------------------- */

pa_err pa_store_recovery_code_insert(pa_store *s, const pa_store_recovery_code *c,
                                     int64_t *id)
{
    sqlite3_stmt *st;
    int64_t code_id = 0;
    size_t i;
    pa_err e;

    if (id)
        *id = 0;
    if (!s || !c || !c->recovery_code || !c->user_id || (c->puk_count && !c->puks))
        return pa_sq_misuse("recovery_code_insert");
    for (i = 0; i < c->puk_count; i++)
        if (!c->puks[i].puk)
            return pa_sq_misuse("recovery_code_insert");
    if ((e = pa_sq_stmt(s, PA_SQ_RECOVERY_CODE_INSERT, SQL_CODE_INSERT, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_text(s, st, 1, c->recovery_code)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 2, c->application_id)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 3, c->user_id)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 4, c->activation_id)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 5, c->status)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 6, c->failed_attempts)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 7, c->max_failed_attempts)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 8, c->created_ms)) == PA_OK &&
        (e = bind_opt_int64(s, st, 9, c->has_last_change, c->last_change_ms)) == PA_OK &&
        (e = pa_sq_run(s, st, "recovery_code_insert")) == PA_OK)
        code_id = sqlite3_last_insert_rowid(s->db);
    pa_sq_done(st);
    if (e != PA_OK)
        return e;

    /* A failing PUK leaves the code row behind: the caller's transaction
     * is rolled back. */
    for (i = 0; i < c->puk_count; i++) {
        const pa_store_recovery_puk *k = &c->puks[i];

        if ((e = pa_sq_stmt(s, PA_SQ_RECOVERY_PUK_INSERT, SQL_PUK_INSERT, &st)) != PA_OK)
            return e;
        if ((e = pa_sq_bind_int64(s, st, 1, code_id)) == PA_OK &&
            (e = pa_sq_bind_text(s, st, 2, k->puk)) == PA_OK &&
            (e = pa_sq_bind_int64(s, st, 3, k->puk_encryption)) == PA_OK &&
            (e = pa_sq_bind_int64(s, st, 4, k->puk_index)) == PA_OK &&
            (e = pa_sq_bind_int64(s, st, 5, k->status)) == PA_OK &&
            (e = bind_opt_int64(s, st, 6, k->has_last_change, k->last_change_ms)) == PA_OK)
            e = pa_sq_run(s, st, "recovery_puk_insert");
        pa_sq_done(st);
        if (e != PA_OK)
            return e;
    }
    if (id)
        *id = code_id;
    return PA_OK;
}

pa_err pa_store_recovery_code_exists(pa_store *s, int64_t application_id,
                                     const char *code, int *exists)
{
    sqlite3_stmt *st;
    pa_err e;

    if (exists)
        *exists = 0;
    if (!s || !code || !exists)
        return pa_sq_misuse("recovery_code_exists");
    if ((e = pa_sq_stmt(s, PA_SQ_RECOVERY_CODE_EXISTS, SQL_CODE_EXISTS, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_int64(s, st, 1, application_id)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 2, code)) == PA_OK)
        e = pa_sq_fetch_one(s, st, read_nothing, NULL, exists, "recovery_code_exists");
    pa_sq_done(st);
    return e;
}

pa_err pa_store_recovery_code_get(pa_store *s, int64_t id,
                                  pa_store_recovery_code *out, int *found)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !out || !found)
        return pa_sq_misuse("recovery_code_get");
    memset(out, 0, sizeof *out);
    *found = 0;
    if ((e = pa_sq_stmt(s, PA_SQ_RECOVERY_CODE_GET, SQL_CODE_GET, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_int64(s, st, 1, id)) != PA_OK) {
        pa_sq_done(st);
        return e;
    }
    return fetch_code(s, st, out, found, "recovery_code_get");
}

pa_err pa_store_recovery_code_find(pa_store *s, int64_t application_id,
                                   const char *code,
                                   pa_store_recovery_code *out, int *found)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !code || !out || !found)
        return pa_sq_misuse("recovery_code_find");
    memset(out, 0, sizeof *out);
    *found = 0;
    if ((e = pa_sq_stmt(s, PA_SQ_RECOVERY_CODE_FIND, SQL_CODE_FIND, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_int64(s, st, 1, application_id)) != PA_OK ||
        (e = pa_sq_bind_text(s, st, 2, code)) != PA_OK) {
        pa_sq_done(st);
        return e;
    }
    return fetch_code(s, st, out, found, "recovery_code_find");
}

pa_err pa_store_recovery_code_lookup(pa_store *s,
                                     const pa_store_recovery_query *q,
                                     pa_store_recovery_code_array *out)
{
    sqlite3_stmt *st;
    int filters, idx = 0;
    pa_err e = PA_OK;

    if (!s || !q || !out)
        return pa_sq_misuse("recovery_code_lookup");
    memset(out, 0, sizeof *out);
    filters = (q->user_id ? F_USER : 0) | (q->has_application_id ? F_APP : 0) |
              (q->activation_id ? F_ACT : 0);
    if ((e = pa_sq_stmt(s, (pa_sq_slot)(PA_SQ_RECOVERY_LOOKUP_ANY + filters),
                        SQL_LOOKUP[filters], &st)) != PA_OK)
        return e;
    if (((filters & F_USER) && (e = pa_sq_bind_text(s, st, ++idx, q->user_id)) != PA_OK) ||
        ((filters & F_APP) &&
         (e = pa_sq_bind_int64(s, st, ++idx, q->application_id)) != PA_OK) ||
        ((filters & F_ACT) &&
         (e = pa_sq_bind_text(s, st, ++idx, q->activation_id)) != PA_OK)) {
        pa_sq_done(st);
        return e;
    }
    return fetch_codes(s, st, out, "recovery_code_lookup");
}

pa_err pa_store_recovery_codes_of_activation(pa_store *s,
                                             const char *activation_id,
                                             pa_store_recovery_code_array *out)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !activation_id || !out)
        return pa_sq_misuse("recovery_codes_of_activation");
    memset(out, 0, sizeof *out);
    if ((e = pa_sq_stmt(s, PA_SQ_RECOVERY_OF_ACTIVATION, SQL_CODES_OF_ACTIVATION,
                        &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_text(s, st, 1, activation_id)) != PA_OK) {
        pa_sq_done(st);
        return e;
    }
    return fetch_codes(s, st, out, "recovery_codes_of_activation");
}

pa_err pa_store_recovery_postcard_live_count(pa_store *s, int64_t application_id,
                                             const char *user_id,
                                             int64_t *count)
{
    sqlite3_stmt *st;
    int found;
    pa_err e;

    if (count)
        *count = 0;
    if (!s || !user_id || !count)
        return pa_sq_misuse("recovery_postcard_live_count");
    if ((e = pa_sq_stmt(s, PA_SQ_RECOVERY_POSTCARD_LIVE, SQL_POSTCARD_LIVE, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_text(s, st, 1, user_id)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 2, application_id)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 3, PA_RC_CREATED)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 4, PA_RC_ACTIVE)) == PA_OK)
        e = pa_sq_fetch_one(s, st, read_count, count, &found,
                            "recovery_postcard_live_count");
    pa_sq_done(st);
    return e;
}

pa_err pa_store_recovery_code_update(pa_store *s,
                                     const pa_store_recovery_code *c,
                                     int *found)
{
    sqlite3_stmt *st;
    pa_err e;

    if (found)
        *found = 0;
    if (!s || !c || !found)
        return pa_sq_misuse("recovery_code_update");
    if ((e = pa_sq_stmt(s, PA_SQ_RECOVERY_CODE_UPDATE, SQL_CODE_UPDATE, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_int64(s, st, 1, c->id)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 2, c->status)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 3, c->failed_attempts)) == PA_OK &&
        (e = bind_opt_int64(s, st, 4, c->has_last_change, c->last_change_ms)) == PA_OK &&
        (e = pa_sq_run(s, st, "recovery_code_update")) == PA_OK)
        *found = sqlite3_changes(s->db) > 0;
    pa_sq_done(st);
    return e;
}

pa_err pa_store_recovery_puk_update(pa_store *s, const pa_store_recovery_puk *p,
                                    int *found)
{
    sqlite3_stmt *st;
    pa_err e;

    if (found)
        *found = 0;
    if (!s || !p || !found)
        return pa_sq_misuse("recovery_puk_update");
    if ((e = pa_sq_stmt(s, PA_SQ_RECOVERY_PUK_UPDATE, SQL_PUK_UPDATE, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_int64(s, st, 1, p->id)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 2, p->status)) == PA_OK &&
        (e = bind_opt_int64(s, st, 3, p->has_last_change, p->last_change_ms)) == PA_OK &&
        (e = pa_sq_run(s, st, "recovery_puk_update")) == PA_OK)
        *found = sqlite3_changes(s->db) > 0;
    pa_sq_done(st);
    return e;
}

/* ---- configuration ------------------------------------------------------------------ */

pa_err pa_store_recovery_config_get(pa_store *s, int64_t application_id,
                                    pa_store_recovery_config *out, int *found)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !out || !found)
        return pa_sq_misuse("recovery_config_get");
    memset(out, 0, sizeof *out);
    *found = 0;
    if ((e = pa_sq_stmt(s, PA_SQ_RECOVERY_CONFIG_GET, SQL_CONFIG_GET, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_int64(s, st, 1, application_id)) == PA_OK)
        e = pa_sq_fetch_one(s, st, read_config, out, found, "recovery_config_get");
    pa_sq_done(st);
    if (e != PA_OK || !*found) {
        *found = 0;
        pa_store_recovery_config_free(out);
    }
    return e;
}

/* c->id is ignored: a new row gets the next id, an existing one keeps its. */
pa_err pa_store_recovery_config_put(pa_store *s, const pa_store_recovery_config *c)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !c)
        return pa_sq_misuse("recovery_config_put");
    if ((e = pa_sq_stmt(s, PA_SQ_RECOVERY_CONFIG_PUT, SQL_CONFIG_PUT, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_int64(s, st, 1, c->application_id)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 2, c->activation_recovery_enabled != 0)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 3, c->recovery_postcard_enabled != 0)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 4, c->allow_multiple_recovery_codes != 0)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 5, c->postcard_private_key)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 6, c->postcard_public_key)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 7, c->remote_public_key)) == PA_OK)
        e = pa_sq_run(s, st, "recovery_config_put");
    pa_sq_done(st);
    return e;
}
