/*
 * sqlite_internal.h - what the SQLite implementation files of the store
 * share: the connection struct, the per-connection statement cache and the
 * small helpers that turn SQLite results into pa_err.
 *
 * Not part of the store interface: only src/store/sqlite*.c and the store's
 * white-box unit test include it.
 */
#ifndef PA_STORE_SQLITE_INTERNAL_H
#define PA_STORE_SQLITE_INTERNAL_H

#include <stddef.h>

#include <sqlite3.h>

#include "store/store.h"

/* One slot per cached statement.  Each slot's SQL text lives beside the
 * function that uses it; the slot only says where its prepared form is
 * kept on the connection. */
typedef enum pa_sq_slot {
    PA_SQ_PING,
    PA_SQ_SCHEMA_VERSION,
    PA_SQ_DATA_VERSION,
    PA_SQ_BEGIN,
    PA_SQ_BEGIN_READ,
    PA_SQ_COMMIT,
    PA_SQ_ROLLBACK,
    PA_SQ_SAVEPOINT,
    PA_SQ_RELEASE,
    PA_SQ_ROLLBACK_TO,
    PA_SQ_APP_CREATE,
    PA_SQ_APP_GET,
    PA_SQ_APP_GET_BY_NAME,
    PA_SQ_APP_LIST,
    PA_SQ_VERSION_CREATE,
    PA_SQ_VERSION_LIST,
    PA_SQ_VERSION_GET_BY_KEY,
    PA_SQ_VERSION_SET_SUPPORTED,
    PA_SQ_KEYPAIR_CREATE,
    PA_SQ_KEYPAIR_LATEST,
    PA_SQ_INTEGRATION_CREATE,
    PA_SQ_INTEGRATION_LIST,
    PA_SQ_INTEGRATION_REMOVE,
    PA_SQ_INTEGRATION_GET_BY_TOKEN,
    PA_SQ_CALLBACK_CREATE,
    PA_SQ_CALLBACK_LIST,
    PA_SQ_CALLBACK_REMOVE,
    PA_SQ_ACTIVATION_INSERT,
    PA_SQ_ACTIVATION_EXISTS,
    PA_SQ_ACTIVATION_CODE_TAKEN,
    PA_SQ_ACTIVATION_GET,
    PA_SQ_ACTIVATION_FIND_BY_CODE,
    PA_SQ_ACTIVATION_UPDATE,
    PA_SQ_ACTIVATION_LIST_USER,
    PA_SQ_ACTIVATION_LIST_USER_APP,
    PA_SQ_ACTIVATION_EXPIRED,
    PA_SQ_HAS_ENCRYPTED_RECORDS,
    PA_SQ_HISTORY_ADD,
    PA_SQ_HISTORY_LIST,
    PA_SQ_OUTBOX_ADD,
    PA_SQ_OUTBOX_DUE,
    PA_SQ_OUTBOX_NEXT_DUE,
    PA_SQ_OUTBOX_REMOVE,
    PA_SQ_OUTBOX_RETRY,
    PA_SQ_OUTBOX_COUNT,
    PA_SQ_OUTBOX_TRIM,
    PA_SQ_AUDIT_ADD,
    PA_SQ_AUDIT_LIST_USER,
    PA_SQ_AUDIT_LIST_USER_APP,
    PA_SQ_AUDIT_PURGE,
    PA_SQ_HISTORY_PURGE,
    PA_SQ_TOKEN_INSERT,
    PA_SQ_TOKEN_EXISTS,
    PA_SQ_TOKEN_GET,
    PA_SQ_TOKEN_REMOVE,
    PA_SQ_ACTIVATION_FIND_BY_SHORT_ID,
    PA_SQ_KEYPAIR_GET,
    PA_SQ_RECOVERY_CODE_INSERT,
    PA_SQ_RECOVERY_PUK_INSERT,
    PA_SQ_RECOVERY_CODE_EXISTS,
    PA_SQ_RECOVERY_CODE_GET,
    PA_SQ_RECOVERY_CODE_FIND,
    /* LookupRecoveryCodes: one statement per combination of filters, in
     * the order of the filter bits (user 1, application 2, activation 4). */
    PA_SQ_RECOVERY_LOOKUP_ANY,
    PA_SQ_RECOVERY_LOOKUP_U,
    PA_SQ_RECOVERY_LOOKUP_A,
    PA_SQ_RECOVERY_LOOKUP_UA,
    PA_SQ_RECOVERY_LOOKUP_X,
    PA_SQ_RECOVERY_LOOKUP_UX,
    PA_SQ_RECOVERY_LOOKUP_AX,
    PA_SQ_RECOVERY_LOOKUP_UAX,
    PA_SQ_RECOVERY_OF_ACTIVATION,
    PA_SQ_RECOVERY_PUKS_OF_CODE,
    PA_SQ_RECOVERY_POSTCARD_LIVE,
    PA_SQ_RECOVERY_CODE_UPDATE,
    PA_SQ_RECOVERY_PUK_UPDATE,
    PA_SQ_RECOVERY_CONFIG_GET,
    PA_SQ_RECOVERY_CONFIG_PUT,
    PA_SQ__COUNT
} pa_sq_slot;

/* The in-process writer gate of a database file (sqlite_gate.c). */
typedef struct pa_sq_gate pa_sq_gate;

struct pa_store {
    sqlite3 *db;
    sqlite3_stmt *stmt[PA_SQ__COUNT];
    pa_sq_gate *gate;      /* NULL: no gate (table full, no real path) */
    int in_gate;           /* this connection holds the gate */
    int busy_ms;           /* the busy timeout, also the gate's wait */
    int lane;              /* the gate's own writer connection (no ref) */
    void *memo;            /* a service's cache (pa_store_set_memo) */
    int shm_fd;            /* the WAL index, read-only (-1: not open yet,
                            * -2: not usable, data_version instead) */
    void (*memo_free)(void *);
};

/* ---- writer gate (sqlite_gate.c) --------------------------------------------- */

/* The gate of the file at path (shared by every connection to it), or
 * NULL.  Release with pa_sq_gate_put. */
pa_sq_gate *pa_sq_gate_get(const char *path);
void pa_sq_gate_put(pa_sq_gate *g);
/* Opens the writer connection of gate g to the file at path: like
 * pa_store_open, but it belongs to the gate and holds no reference. */
pa_err pa_sq_open_lane(const char *path, int busy_ms, pa_sq_gate *g,
                       pa_store **out);
/* Waits up to timeout_ms to become the process's writer of the file:
 * 1 when entered (always for NULL), 0 on time-out. */
int pa_sq_gate_enter(pa_sq_gate *g, int timeout_ms);
void pa_sq_gate_leave(pa_sq_gate *g);

/* Reads one result row into an element of a result struct. */
typedef pa_err (*pa_sq_reader)(sqlite3_stmt *st, void *out);
/* Releases what one element owns (a pa_store_*_free). */
typedef void (*pa_sq_freer)(void *elem);

/* ---- connection (sqlite.c) ------------------------------------------------- */

/* Opens and configures a connection (WAL, foreign keys, durability, busy
 * timeout).  create: make the file if missing. */
pa_err pa_sq_connect(const char *path, const pa_store_options *opt, int create,
                     sqlite3 **out);

/* The connection behind a store (for the white-box test). */
sqlite3 *pa_sq_db(pa_store *s);

/* The latest schema version recorded, 0 when there is no schema_version
 * table yet. */
pa_err pa_sq_read_version(sqlite3 *db, int *version);

/* ---- errors (sqlite.c) ------------------------------------------------------- */

/* Records a message for pa_store_last_error(). */
void pa_sq_set_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Maps a failed SQLite result to pa_err and records why: uniqueness
 * conflicts are PA_ERR_INVALID_REQUEST, everything else
 * PA_ERR_UNKNOWN_ERROR.  `what` names the operation. */
pa_err pa_sq_fail(sqlite3 *db, int rc, const char *what);

/* A NULL argument or other misuse: PA_ERR_INVALID_REQUEST, recorded. */
pa_err pa_sq_misuse(const char *what);

/* ---- statements (sqlite.c) ---------------------------------------------------- */

/* The cached statement of `slot`, prepared from `sql` on first use. */
pa_err pa_sq_stmt(pa_store *s, pa_sq_slot slot, const char *sql,
                  sqlite3_stmt **out);

/* Returns a statement to the cache: reset (ending any read it holds) and
 * bindings cleared (the bound buffers belong to the caller). */
void pa_sq_done(sqlite3_stmt *st);

/* Binds text (NULL binds SQL NULL) without copying it: the buffer must
 * stay valid until pa_sq_done(), which every caller reaches before
 * returning, so secrets are not copied into more heap buffers. */
pa_err pa_sq_bind_text(pa_store *s, sqlite3_stmt *st, int idx, const char *v);
pa_err pa_sq_bind_int64(pa_store *s, sqlite3_stmt *st, int idx, sqlite3_int64 v);

/* Steps a statement that returns no rows. */
pa_err pa_sq_run(pa_store *s, sqlite3_stmt *st, const char *what);

/* Steps a query expected to return at most one row; reads it with `rd`
 * into `out` and sets *found.  On error or no row `out` is left as the
 * reader left it and the caller frees it. */
pa_err pa_sq_fetch_one(pa_store *s, sqlite3_stmt *st, pa_sq_reader rd,
                       void *out, int *found, const char *what);

/* Steps a query to the end, reading each row into a growing array of
 * elements of `elem_size` bytes.  On failure frees what was read (with
 * `fr`) and leaves *items NULL, *count 0. */
pa_err pa_sq_fetch_all(pa_store *s, sqlite3_stmt *st, pa_sq_reader rd,
                       pa_sq_freer fr, size_t elem_size, void **items,
                       size_t *count, const char *what);

/* ---- values ------------------------------------------------------------------ */

/* A copy of text column `col`; NULL for SQL NULL. */
pa_err pa_sq_col_text(sqlite3_stmt *st, int col, char **out);

/* free() after wiping (secrets); NULL is fine. */
void pa_sq_free_secret(char *p);

#endif
