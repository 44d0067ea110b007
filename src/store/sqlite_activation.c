/*
 * sqlite_activation.c - activations and their history in the SQLite store
 * (DATABASE.md 2, 3, 5.1, 5.4, 5.9, 5.11).
 *
 * Rows are written whole: the service reads an activation, changes the
 * struct and writes every mutable column back (pa_store_activation_update)
 * inside the transaction of the operation, so the store never merges
 * partial changes.  Activations and history rows are never deleted.
 *
 * Nullable integer columns travel as sentinels in the struct: version 0 and
 * master_keypair_id 0 are SQL NULL (neither is ever a real value: versions
 * are 2 or 3, key pair ids start at 1), timestamp_last_change has its own
 * has_last_change flag.  Status and mode numbers are stored and read as
 * they are; how an unknown number reads is the service's business
 * (DATABASE.md 3).
 *
 * "Insertion order" of the list queries is ORDER BY timestamp_created,
 * then rowid.  The service writes timestamp_created at insertion, so the
 * creation time is insertion order up to clock steps, and it is a standard
 * column that the PostgreSQL store can order by with the same statement;
 * rowid only breaks ties between rows created in the same millisecond (it
 * grows with every insert and activations are never deleted) and is the
 * one SQLite-specific word a PostgreSQL port replaces (by activation_id,
 * or a serial column).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"

/* Characters of an activation code compared by the collision check (5.9):
 * the first two groups of XXXXX-XXXXX-XXXXX-XXXXX. */
#define CODE_PREFIX_LEN 11

/* LookupActivations: most ids of each kind in one query. */
#define LOOKUP_MAX_IDS 1000

/* ---- shared -------------------------------------------------------------------- */

/* Every column of pa_activation, in the order read_activation() reads them. */
#define ACTIVATION_COLUMNS \
    "a.activation_id, a.application_id, a.user_id, a.activation_name," \
    " a.activation_code, a.activation_status, a.activation_otp," \
    " a.activation_otp_validation, a.blocked_reason, a.counter, a.ctr_data," \
    " a.device_public_key_base64, a.extras, a.platform, a.device_info," \
    " a.failed_attempts, a.max_failed_attempts, a.server_private_key_base64," \
    " a.server_private_key_encryption, a.server_public_key_base64," \
    " a.master_keypair_id, a.timestamp_created, a.timestamp_activation_expire," \
    " a.timestamp_last_used, a.timestamp_last_change, a.version"
#define ACTIVATION_SELECT \
    "SELECT " ACTIVATION_COLUMNS " FROM pa_activation a"
/* The list queries add the application's name (column 26). */
#define ACTIVATION_SELECT_NAMED \
    "SELECT " ACTIVATION_COLUMNS ", p.name FROM pa_activation a" \
    " JOIN pa_application p ON p.id = a.application_id"
#define ACTIVATION_ORDER " ORDER BY a.timestamp_created, a.rowid"

void pa_store_activation_free(pa_store_activation *a)
{
    if (!a)
        return;
    free(a->activation_id);
    free(a->user_id);
    free(a->activation_name);
    free(a->activation_code);
    pa_sq_free_secret(a->activation_otp);
    free(a->blocked_reason);
    pa_sq_free_secret(a->ctr_data);
    free(a->device_public_key);
    free(a->extras);
    free(a->platform);
    free(a->device_info);
    pa_sq_free_secret(a->server_private_key);
    free(a->server_public_key);
    free(a->application_name);
    memset(a, 0, sizeof *a);
}

void pa_store_activation_array_free(pa_store_activation_array *arr)
{
    size_t i;

    if (!arr)
        return;
    for (i = 0; i < arr->count; i++)
        pa_store_activation_free(&arr->items[i]);
    free(arr->items);
    memset(arr, 0, sizeof *arr);
}

void pa_store_string_array_free(pa_store_string_array *arr)
{
    size_t i;

    if (!arr)
        return;
    for (i = 0; i < arr->count; i++)
        free(arr->items[i]);
    free(arr->items);
    memset(arr, 0, sizeof *arr);
}

static pa_err read_activation(sqlite3_stmt *st, void *out)
{
    pa_store_activation *a = out;
    pa_err e;

    a->application_id = sqlite3_column_int64(st, 1);
    a->status = sqlite3_column_int(st, 5);
    a->otp_validation = sqlite3_column_int(st, 7);
    a->counter = sqlite3_column_int64(st, 9);
    a->failed_attempts = sqlite3_column_int64(st, 15);
    a->max_failed_attempts = sqlite3_column_int64(st, 16);
    a->server_private_key_encryption = sqlite3_column_int(st, 18);
    /* NULL reads as 0 for the two columns whose NULL is 0. */
    a->master_keypair_id = sqlite3_column_int64(st, 20);
    a->created_ms = sqlite3_column_int64(st, 21);
    a->expire_ms = sqlite3_column_int64(st, 22);
    a->last_used_ms = sqlite3_column_int64(st, 23);
    a->has_last_change = sqlite3_column_type(st, 24) != SQLITE_NULL;
    a->last_change_ms = a->has_last_change ? sqlite3_column_int64(st, 24) : 0;
    a->version = sqlite3_column_int(st, 25);
    if ((e = pa_sq_col_text(st, 0, &a->activation_id)) != PA_OK ||
        (e = pa_sq_col_text(st, 2, &a->user_id)) != PA_OK ||
        (e = pa_sq_col_text(st, 3, &a->activation_name)) != PA_OK ||
        (e = pa_sq_col_text(st, 4, &a->activation_code)) != PA_OK ||
        (e = pa_sq_col_text(st, 6, &a->activation_otp)) != PA_OK ||
        (e = pa_sq_col_text(st, 8, &a->blocked_reason)) != PA_OK ||
        (e = pa_sq_col_text(st, 10, &a->ctr_data)) != PA_OK ||
        (e = pa_sq_col_text(st, 11, &a->device_public_key)) != PA_OK ||
        (e = pa_sq_col_text(st, 12, &a->extras)) != PA_OK ||
        (e = pa_sq_col_text(st, 13, &a->platform)) != PA_OK ||
        (e = pa_sq_col_text(st, 14, &a->device_info)) != PA_OK ||
        (e = pa_sq_col_text(st, 17, &a->server_private_key)) != PA_OK)
        return e;
    return pa_sq_col_text(st, 19, &a->server_public_key);
}

static pa_err read_activation_named(sqlite3_stmt *st, void *out)
{
    pa_store_activation *a = out;
    pa_err e;

    if ((e = read_activation(st, out)) != PA_OK)
        return e;
    return pa_sq_col_text(st, 26, &a->application_name);
}

static void free_activation(void *a)
{
    pa_store_activation_free(a);
}

/* For queries whose only answer is whether a row came back. */
static pa_err read_nothing(sqlite3_stmt *st, void *out)
{
    (void)st;
    (void)out;
    return PA_OK;
}

/* Binds an integer, or SQL NULL when it is absent. */
static pa_err bind_opt_int64(pa_store *s, sqlite3_stmt *st, int idx, int present,
                             int64_t v)
{
    return present ? pa_sq_bind_int64(s, st, idx, v) : pa_sq_bind_text(s, st, idx, NULL);
}

/* ---- insert and update ------------------------------------------------------------
 * Both statements number the id and the mutable columns alike (?1..?17), so
 * one function binds them; the insert adds the immutable ones (?18..?26). */

static const char SQL_ACTIVATION_INSERT[] =
    "INSERT INTO pa_activation (activation_id, activation_name,"
    " activation_status, activation_otp, activation_otp_validation,"
    " blocked_reason, counter, ctr_data, device_public_key_base64, extras,"
    " platform, device_info, failed_attempts, max_failed_attempts,"
    " timestamp_last_used, timestamp_last_change, version, application_id,"
    " user_id, activation_code, server_private_key_base64,"
    " server_private_key_encryption, server_public_key_base64,"
    " master_keypair_id, timestamp_created, timestamp_activation_expire)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
    " ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26)";
static const char SQL_ACTIVATION_UPDATE[] =
    "UPDATE pa_activation SET activation_name = ?2, activation_status = ?3,"
    " activation_otp = ?4, activation_otp_validation = ?5,"
    " blocked_reason = ?6, counter = ?7, ctr_data = ?8,"
    " device_public_key_base64 = ?9, extras = ?10, platform = ?11,"
    " device_info = ?12, failed_attempts = ?13, max_failed_attempts = ?14,"
    " timestamp_last_used = ?15, timestamp_last_change = ?16, version = ?17"
    " WHERE activation_id = ?1";

static pa_err bind_mutable(pa_store *s, sqlite3_stmt *st, const pa_store_activation *a)
{
    pa_err e;

    if ((e = pa_sq_bind_text(s, st, 1, a->activation_id)) != PA_OK ||
        (e = pa_sq_bind_text(s, st, 2, a->activation_name)) != PA_OK ||
        (e = pa_sq_bind_int64(s, st, 3, a->status)) != PA_OK ||
        (e = pa_sq_bind_text(s, st, 4, a->activation_otp)) != PA_OK ||
        (e = pa_sq_bind_int64(s, st, 5, a->otp_validation)) != PA_OK ||
        (e = pa_sq_bind_text(s, st, 6, a->blocked_reason)) != PA_OK ||
        (e = pa_sq_bind_int64(s, st, 7, a->counter)) != PA_OK ||
        (e = pa_sq_bind_text(s, st, 8, a->ctr_data)) != PA_OK ||
        (e = pa_sq_bind_text(s, st, 9, a->device_public_key)) != PA_OK ||
        (e = pa_sq_bind_text(s, st, 10, a->extras)) != PA_OK ||
        (e = pa_sq_bind_text(s, st, 11, a->platform)) != PA_OK ||
        (e = pa_sq_bind_text(s, st, 12, a->device_info)) != PA_OK ||
        (e = pa_sq_bind_int64(s, st, 13, a->failed_attempts)) != PA_OK ||
        (e = pa_sq_bind_int64(s, st, 14, a->max_failed_attempts)) != PA_OK ||
        (e = pa_sq_bind_int64(s, st, 15, a->last_used_ms)) != PA_OK ||
        (e = bind_opt_int64(s, st, 16, a->has_last_change, a->last_change_ms)) != PA_OK)
        return e;
    return bind_opt_int64(s, st, 17, a->version != 0, a->version);
}

pa_err pa_store_activation_insert(pa_store *s, const pa_store_activation *a)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !a || !a->activation_id || !a->user_id || !a->server_private_key ||
        !a->server_public_key)
        return pa_sq_misuse("activation_insert");
    e = pa_sq_stmt(s, PA_SQ_ACTIVATION_INSERT, SQL_ACTIVATION_INSERT, &st);
    if (e != PA_OK)
        return e;
    if ((e = bind_mutable(s, st, a)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 18, a->application_id)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 19, a->user_id)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 20, a->activation_code)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 21, a->server_private_key)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 22, a->server_private_key_encryption)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 23, a->server_public_key)) == PA_OK &&
        (e = bind_opt_int64(s, st, 24, a->master_keypair_id != 0,
                            a->master_keypair_id)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 25, a->created_ms)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 26, a->expire_ms)) == PA_OK)
        e = pa_sq_run(s, st, "activation_insert");
    pa_sq_done(st);
    return e;
}

pa_err pa_store_activation_update(pa_store *s, const pa_store_activation *a,
                                  int *found)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !a || !a->activation_id || !found)
        return pa_sq_misuse("activation_update");
    *found = 0;
    e = pa_sq_stmt(s, PA_SQ_ACTIVATION_UPDATE, SQL_ACTIVATION_UPDATE, &st);
    if (e != PA_OK)
        return e;
    if ((e = bind_mutable(s, st, a)) == PA_OK &&
        (e = pa_sq_run(s, st, "activation_update")) == PA_OK)
        *found = sqlite3_changes(s->db) > 0;
    pa_sq_done(st);
    return e;
}

/* ---- single lookups ------------------------------------------------------------------ */

static const char SQL_ACTIVATION_EXISTS[] =
    "SELECT 1 FROM pa_activation WHERE activation_id = ?1";
/* A prefix as a range over the (application_id, activation_code) index:
 * code >= prefix AND code < the prefix's successor.  Comparisons are byte
 * order (BINARY collation; C collation in PostgreSQL), in which exactly
 * the strings starting with the prefix lie in that range. */
static const char SQL_ACTIVATION_CODE_TAKEN[] =
    "SELECT 1 FROM pa_activation WHERE application_id = ?1"
    " AND activation_code >= ?2 AND activation_code < ?3 LIMIT 1";
static const char SQL_ACTIVATION_GET[] =
    ACTIVATION_SELECT " WHERE a.activation_id = ?1";
/* Codes are unique per application by their prefix (5.9), so at most one
 * row matches; LIMIT keeps that true for imported data. */
static const char SQL_ACTIVATION_FIND_BY_CODE[] =
    ACTIVATION_SELECT " WHERE a.application_id = ?1 AND a.activation_code = ?2"
    " AND a.activation_status = ?3 AND a.timestamp_activation_expire > ?4"
    " LIMIT 1";

pa_err pa_store_activation_exists(pa_store *s, const char *activation_id,
                                  int *exists)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !activation_id || !exists)
        return pa_sq_misuse("activation_exists");
    *exists = 0;
    e = pa_sq_stmt(s, PA_SQ_ACTIVATION_EXISTS, SQL_ACTIVATION_EXISTS, &st);
    if (e != PA_OK)
        return e;
    if ((e = pa_sq_bind_text(s, st, 1, activation_id)) == PA_OK)
        e = pa_sq_fetch_one(s, st, read_nothing, NULL, exists, "activation_exists");
    pa_sq_done(st);
    return e;
}

pa_err pa_store_activation_code_taken(pa_store *s, int64_t application_id,
                                      const char *code, int *taken)
{
    char lo[CODE_PREFIX_LEN + 1], hi[CODE_PREFIX_LEN + 1];
    size_t n = CODE_PREFIX_LEN;
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !code || !taken)
        return pa_sq_misuse("activation_code_taken");
    *taken = 0;
    if (strnlen(code, CODE_PREFIX_LEN) < CODE_PREFIX_LEN) {
        pa_sq_set_error("activation_code_taken: code shorter than %d characters",
                        CODE_PREFIX_LEN);
        return PA_ERR_INVALID_REQUEST;
    }
    memcpy(lo, code, CODE_PREFIX_LEN);
    lo[CODE_PREFIX_LEN] = '\0';
    /* The successor: drop trailing 0xff bytes, increment the last other
     * one.  Eleven 0xff bytes (never UTF-8 text) have none. */
    memcpy(hi, lo, sizeof hi);
    while (n > 0 && (unsigned char)hi[n - 1] == 0xff)
        n--;
    if (n == 0) {
        pa_sq_set_error("activation_code_taken: code is not text");
        return PA_ERR_INVALID_REQUEST;
    }
    hi[n - 1] = (char)((unsigned char)hi[n - 1] + 1);
    hi[n] = '\0';
    e = pa_sq_stmt(s, PA_SQ_ACTIVATION_CODE_TAKEN, SQL_ACTIVATION_CODE_TAKEN, &st);
    if (e != PA_OK)
        return e;
    if ((e = pa_sq_bind_int64(s, st, 1, application_id)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 2, lo)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 3, hi)) == PA_OK)
        e = pa_sq_fetch_one(s, st, read_nothing, NULL, taken, "activation_code_taken");
    pa_sq_done(st);
    return e;
}

pa_err pa_store_activation_get(pa_store *s, const char *activation_id,
                               pa_store_activation *out, int *found)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !activation_id || !out || !found)
        return pa_sq_misuse("activation_get");
    memset(out, 0, sizeof *out);
    *found = 0;
    if ((e = pa_sq_stmt(s, PA_SQ_ACTIVATION_GET, SQL_ACTIVATION_GET, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_text(s, st, 1, activation_id)) == PA_OK)
        e = pa_sq_fetch_one(s, st, read_activation, out, found, "activation_get");
    pa_sq_done(st);
    if (e != PA_OK || !*found)
        pa_store_activation_free(out);
    return e;
}

pa_err pa_store_activation_find_by_code(pa_store *s, int64_t application_id,
                                        const char *code, int64_t now_ms,
                                        pa_store_activation *out, int *found)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !code || !out || !found)
        return pa_sq_misuse("activation_find_by_code");
    memset(out, 0, sizeof *out);
    *found = 0;
    e = pa_sq_stmt(s, PA_SQ_ACTIVATION_FIND_BY_CODE, SQL_ACTIVATION_FIND_BY_CODE, &st);
    if (e != PA_OK)
        return e;
    if ((e = pa_sq_bind_int64(s, st, 1, application_id)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 2, code)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 3, PA_STATUS_CREATED)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 4, now_ms)) == PA_OK)
        e = pa_sq_fetch_one(s, st, read_activation, out, found,
                            "activation_find_by_code");
    pa_sq_done(st);
    if (e != PA_OK || !*found)
        pa_store_activation_free(out);
    return e;
}

static const char SQL_ACTIVATION_FIND_BY_SHORT_ID[] =
    ACTIVATION_SELECT " WHERE a.application_id = ?1"
    " AND a.activation_code >= ?2 AND a.activation_code < ?3"
    " AND a.activation_status = ?4 AND a.timestamp_activation_expire > ?5"
    " LIMIT 1";

pa_err pa_store_activation_find_by_short_id(pa_store *s, int64_t application_id,
                                            const char *short_id,
                                            int64_t now_ms,
                                            pa_store_activation *out,
                                            int *found)
{
    char lo[CODE_PREFIX_LEN + 1], hi[CODE_PREFIX_LEN + 1];
    sqlite3_stmt *st;
    size_t i;
    pa_err e;

    if (!s || !short_id || !out || !found)
        return pa_sq_misuse("activation_find_by_short_id");
    memset(out, 0, sizeof *out);
    *found = 0;
    /* A range on the indexed column, never LIKE: [prefix, successor). */
    if (strlen(short_id) != CODE_PREFIX_LEN)
        return PA_OK;
    for (i = 0; i < CODE_PREFIX_LEN; i++)
        if ((unsigned char)short_id[i] < 0x20 || (unsigned char)short_id[i] >= 0x7f)
            return PA_OK;
    memcpy(lo, short_id, sizeof lo);
    memcpy(hi, short_id, sizeof hi);
    hi[CODE_PREFIX_LEN - 1] = (char)(hi[CODE_PREFIX_LEN - 1] + 1);
    e = pa_sq_stmt(s, PA_SQ_ACTIVATION_FIND_BY_SHORT_ID,
                   SQL_ACTIVATION_FIND_BY_SHORT_ID, &st);
    if (e != PA_OK)
        return e;
    if ((e = pa_sq_bind_int64(s, st, 1, application_id)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 2, lo)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 3, hi)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 4, PA_STATUS_CREATED)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 5, now_ms)) == PA_OK)
        e = pa_sq_fetch_one(s, st, read_activation, out, found,
                            "activation_find_by_short_id");
    pa_sq_done(st);
    if (e != PA_OK || !*found)
        pa_store_activation_free(out);
    return e;
}

/* ---- lists ------------------------------------------------------------------------------ */

static const char SQL_ACTIVATION_LIST_USER[] =
    ACTIVATION_SELECT_NAMED " WHERE a.user_id = ?1" ACTIVATION_ORDER;
static const char SQL_ACTIVATION_LIST_USER_APP[] =
    ACTIVATION_SELECT_NAMED " WHERE a.user_id = ?1 AND a.application_id = ?2"
    ACTIVATION_ORDER;

pa_err pa_store_activation_list_for_user(pa_store *s, const char *user_id,
                                         int has_application_id,
                                         int64_t application_id,
                                         pa_store_activation_array *out)
{
    sqlite3_stmt *st;
    void *items = NULL;
    pa_err e;

    if (!s || !user_id || !out)
        return pa_sq_misuse("activation_list_for_user");
    memset(out, 0, sizeof *out);
    /* Two statements rather than "(?2 = 0 OR application_id = ?3)", so
     * each uses the (user_id, application_id) index fully. */
    if (has_application_id)
        e = pa_sq_stmt(s, PA_SQ_ACTIVATION_LIST_USER_APP,
                       SQL_ACTIVATION_LIST_USER_APP, &st);
    else
        e = pa_sq_stmt(s, PA_SQ_ACTIVATION_LIST_USER, SQL_ACTIVATION_LIST_USER, &st);
    if (e != PA_OK)
        return e;
    if ((e = pa_sq_bind_text(s, st, 1, user_id)) == PA_OK &&
        (!has_application_id ||
         (e = pa_sq_bind_int64(s, st, 2, application_id)) == PA_OK))
        e = pa_sq_fetch_all(s, st, read_activation_named, free_activation,
                            sizeof *out->items, &items, &out->count,
                            "activation_list_for_user");
    out->items = items;
    pa_sq_done(st);
    return e;
}

/* A text buffer that grows; on allocation failure it stays failed. */
typedef struct sqlbuf {
    char *p;
    size_t len, cap;
    int failed;
} sqlbuf;

static void sql_add(sqlbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sql_add(sqlbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        /* (NULL + 0 is undefined in C: the first call has no buffer yet) */
        n = vsnprintf(b->p ? b->p + b->len : NULL, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        {
            size_t ncap = (b->cap + (size_t)n + 1) * 2;
            char *np = realloc(b->p, ncap);

            if (!np) {
                b->failed = 1;
                return;
            }
            b->p = np;
            b->cap = ncap;
        }
    }
}

/* Appends " IN (?first, ?first+1, ...)" with n placeholders. */
static void sql_add_in(sqlbuf *b, int first, size_t n)
{
    size_t i;

    sql_add(b, " IN (");
    for (i = 0; i < n; i++)
        sql_add(b, i ? ", ?%d" : "?%d", first + (int)i);
    sql_add(b, ")");
}

/* The statement is built for the given filters, one bound placeholder per
 * value (never a value spliced into the text), so it varies from call to
 * call and is prepared and finalized here instead of being cached. */
pa_err pa_store_activation_lookup(pa_store *s,
                                  const pa_store_activation_query *q,
                                  pa_store_activation_array *out)
{
    sqlbuf sql = { NULL, 0, 0, 0 };
    sqlite3_stmt *st = NULL;
    void *items = NULL;
    int idx = 1, before_idx = 0, after_idx = 0, status_idx = 0;
    size_t i;
    pa_err e = PA_OK;
    int rc;

    if (!s || !q || !out || (q->user_id_count && !q->user_ids) ||
        (q->application_id_count && !q->application_ids))
        return pa_sq_misuse("activation_lookup");
    memset(out, 0, sizeof *out);
    for (i = 0; i < q->user_id_count; i++)
        if (!q->user_ids[i])
            return pa_sq_misuse("activation_lookup");
    if (q->user_id_count == 0) {
        pa_sq_set_error("activation_lookup: no user id");
        return PA_ERR_INVALID_REQUEST;
    }
    if (q->user_id_count > LOOKUP_MAX_IDS || q->application_id_count > LOOKUP_MAX_IDS ||
        q->user_id_count + q->application_id_count + 3 >
            (size_t)sqlite3_limit(s->db, SQLITE_LIMIT_VARIABLE_NUMBER, -1)) {
        pa_sq_set_error("activation_lookup: more than %d user or application ids",
                        LOOKUP_MAX_IDS);
        return PA_ERR_INVALID_REQUEST;
    }

    sql_add(&sql, "%s WHERE a.user_id", ACTIVATION_SELECT_NAMED);
    sql_add_in(&sql, idx, q->user_id_count);
    idx += (int)q->user_id_count;
    if (q->application_id_count) {
        sql_add(&sql, " AND a.application_id");
        sql_add_in(&sql, idx, q->application_id_count);
        idx += (int)q->application_id_count;
    }
    if (q->has_last_used_before) {
        before_idx = idx++;
        sql_add(&sql, " AND a.timestamp_last_used < ?%d", before_idx);
    }
    if (q->has_last_used_after) {
        after_idx = idx++;
        sql_add(&sql, " AND a.timestamp_last_used >= ?%d", after_idx);
    }
    if (q->has_status) {
        status_idx = idx++;
        sql_add(&sql, " AND a.activation_status = ?%d", status_idx);
    }
    sql_add(&sql, "%s", ACTIVATION_ORDER);
    if (sql.failed) {
        free(sql.p);
        pa_sq_set_error("activation_lookup: out of memory");
        return PA_ERR_UNKNOWN_ERROR;
    }

    rc = sqlite3_prepare_v2(s->db, sql.p, -1, &st, NULL);
    free(sql.p);
    if (rc != SQLITE_OK)
        return pa_sq_fail(s->db, rc, "activation_lookup: prepare");
    idx = 1;
    for (i = 0; e == PA_OK && i < q->user_id_count; i++)
        e = pa_sq_bind_text(s, st, idx++, q->user_ids[i]);
    for (i = 0; e == PA_OK && i < q->application_id_count; i++)
        e = pa_sq_bind_int64(s, st, idx++, q->application_ids[i]);
    if (e == PA_OK && before_idx)
        e = pa_sq_bind_int64(s, st, before_idx, q->last_used_before_ms);
    if (e == PA_OK && after_idx)
        e = pa_sq_bind_int64(s, st, after_idx, q->last_used_after_ms);
    if (e == PA_OK && status_idx)
        e = pa_sq_bind_int64(s, st, status_idx, q->status);
    if (e == PA_OK)
        e = pa_sq_fetch_all(s, st, read_activation_named, free_activation,
                            sizeof *out->items, &items, &out->count,
                            "activation_lookup");
    out->items = items;
    sqlite3_finalize(st);
    return e;
}

/* ---- expiry sweep and start-up check ---------------------------------------------------- */

/* Served by the partial index pa_activation_unfinished
 * (timestamp_activation_expire, activation_id) WHERE activation_status IN
 * (1, 2), in its order, stopping at the limit.  The status numbers are
 * literals because only a condition written like the index's lets SQLite
 * use it (migration 0002).  Strictly past the deadline (5.4). */
_Static_assert(PA_STATUS_CREATED == 1 && PA_STATUS_PENDING_COMMIT == 2,
               "SQL_ACTIVATION_EXPIRED and migration 0002 name the status numbers");
static const char SQL_ACTIVATION_EXPIRED[] =
    "SELECT activation_id FROM pa_activation"
    " WHERE activation_status IN (1, 2) AND timestamp_activation_expire < ?1"
    " ORDER BY timestamp_activation_expire, activation_id LIMIT ?2";
/* Run once at start-up: a scan is acceptable, and no index is kept for it. */
static const char SQL_HAS_ENCRYPTED_RECORDS[] =
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM pa_activation"
    "  WHERE server_private_key_encryption <> 0)"
    " OR EXISTS (SELECT 1 FROM pa_recovery_puk WHERE puk_encryption <> 0)"
    " THEN 1 ELSE 0 END";

static pa_err read_string(sqlite3_stmt *st, void *out)
{
    return pa_sq_col_text(st, 0, out);
}

static void free_string(void *p)
{
    char **str = p;

    free(*str);
    *str = NULL;
}

/* limit must be positive: a negative LIMIT means "all" to SQLite and is an
 * error to PostgreSQL. */
pa_err pa_store_activation_expired(pa_store *s, int64_t now_ms, int limit,
                                   pa_store_string_array *ids)
{
    sqlite3_stmt *st;
    void *items = NULL;
    pa_err e;

    if (!s || !ids || limit < 1)
        return pa_sq_misuse("activation_expired");
    memset(ids, 0, sizeof *ids);
    e = pa_sq_stmt(s, PA_SQ_ACTIVATION_EXPIRED, SQL_ACTIVATION_EXPIRED, &st);
    if (e != PA_OK)
        return e;
    if ((e = pa_sq_bind_int64(s, st, 1, now_ms)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 2, limit)) == PA_OK)
        e = pa_sq_fetch_all(s, st, read_string, free_string, sizeof *ids->items,
                            &items, &ids->count, "activation_expired");
    ids->items = items;
    pa_sq_done(st);
    return e;
}

static pa_err read_flag(sqlite3_stmt *st, void *out)
{
    *(int *)out = sqlite3_column_int(st, 0) != 0;
    return PA_OK;
}

pa_err pa_store_has_encrypted_records(pa_store *s, int *any)
{
    sqlite3_stmt *st;
    int found;
    pa_err e;

    if (!s || !any)
        return pa_sq_misuse("has_encrypted_records");
    *any = 0;
    e = pa_sq_stmt(s, PA_SQ_HAS_ENCRYPTED_RECORDS, SQL_HAS_ENCRYPTED_RECORDS, &st);
    if (e != PA_OK)
        return e;
    e = pa_sq_fetch_one(s, st, read_flag, any, &found, "has_encrypted_records");
    pa_sq_done(st);
    return e;
}

/* ---- activation history ------------------------------------------------------------------ */

static const char SQL_HISTORY_ADD[] =
    "INSERT INTO pa_activation_history (activation_id, activation_status,"
    " event_reason, external_user_id, timestamp_created)"
    " VALUES (?1, ?2, ?3, ?4, ?5)";
/* Newest first, ties by id descending (5.11); served by the
 * (activation_id, timestamp_created) index. */
static const char SQL_HISTORY_LIST[] =
    "SELECT id, activation_id, activation_status, event_reason,"
    " external_user_id, timestamp_created FROM pa_activation_history"
    " WHERE activation_id = ?1 AND timestamp_created >= ?2"
    " AND timestamp_created <= ?3"
    " ORDER BY timestamp_created DESC, id DESC";

static void free_history(void *p)
{
    pa_store_history *h = p;

    free(h->activation_id);
    free(h->event_reason);
    free(h->external_user_id);
    memset(h, 0, sizeof *h);
}

void pa_store_history_array_free(pa_store_history_array *arr)
{
    size_t i;

    if (!arr)
        return;
    for (i = 0; i < arr->count; i++)
        free_history(&arr->items[i]);
    free(arr->items);
    memset(arr, 0, sizeof *arr);
}

static pa_err read_history(sqlite3_stmt *st, void *out)
{
    pa_store_history *h = out;
    pa_err e;

    h->id = sqlite3_column_int64(st, 0);
    h->status = sqlite3_column_int(st, 2);
    h->created_ms = sqlite3_column_int64(st, 5);
    if ((e = pa_sq_col_text(st, 1, &h->activation_id)) != PA_OK ||
        (e = pa_sq_col_text(st, 3, &h->event_reason)) != PA_OK)
        return e;
    return pa_sq_col_text(st, 4, &h->external_user_id);
}

pa_err pa_store_history_add(pa_store *s, const char *activation_id,
                            int status, const char *event_reason,
                            const char *external_user_id, int64_t created_ms)
{
    sqlite3_stmt *st;
    pa_err e;

    if (!s || !activation_id)
        return pa_sq_misuse("history_add");
    if ((e = pa_sq_stmt(s, PA_SQ_HISTORY_ADD, SQL_HISTORY_ADD, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_text(s, st, 1, activation_id)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 2, status)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 3, event_reason)) == PA_OK &&
        (e = pa_sq_bind_text(s, st, 4, external_user_id)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 5, created_ms)) == PA_OK)
        e = pa_sq_run(s, st, "history_add");
    pa_sq_done(st);
    return e;
}

pa_err pa_store_history_list(pa_store *s, const char *activation_id,
                             int64_t from_ms, int64_t to_ms,
                             pa_store_history_array *out)
{
    sqlite3_stmt *st;
    void *items = NULL;
    pa_err e;

    if (!s || !activation_id || !out)
        return pa_sq_misuse("history_list");
    memset(out, 0, sizeof *out);
    if ((e = pa_sq_stmt(s, PA_SQ_HISTORY_LIST, SQL_HISTORY_LIST, &st)) != PA_OK)
        return e;
    if ((e = pa_sq_bind_text(s, st, 1, activation_id)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 2, from_ms)) == PA_OK &&
        (e = pa_sq_bind_int64(s, st, 3, to_ms)) == PA_OK)
        e = pa_sq_fetch_all(s, st, read_history, free_history, sizeof *out->items,
                            &items, &out->count, "history_list");
    out->items = items;
    pa_sq_done(st);
    return e;
}
