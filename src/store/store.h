/*
 * store.h - the only interface between paserver and its database.
 *
 * The rest of the server sees connections, transactions and small plain
 * structs; which database engine sits behind them (SQLite now, PostgreSQL
 * later) is invisible here.  shared/contract/DATABASE.md says what is
 * stored and which behaviour depends on it.
 *
 * Connections.  A pa_store is one database connection.  It must only be
 * used by one thread at a time: the server opens one per worker thread.
 * pa_store_migrate() brings the schema up to date and runs once at
 * start-up, before the workers open theirs; it is safe to run concurrently
 * from several processes or threads (each step re-checks the version under
 * the database's write lock).  pa_store_open() refuses a database whose
 * schema is not exactly the version this code knows.
 *
 * Results.  Every fallible function returns pa_err:
 *   PA_OK                    success; a lookup that matched nothing is a
 *                            success with *found = 0 (the service decides
 *                            which ERR code that is);
 *   PA_ERR_INVALID_REQUEST   a required argument is NULL, or a write would
 *                            break a uniqueness rule (application name,
 *                            application key, client token, a primary key);
 *                            nothing is written;
 *   PA_ERR_UNKNOWN_ERROR     anything else the database refused or failed
 *                            with: I/O, lock wait longer than the busy
 *                            timeout, a reference to a missing row (e.g. a
 *                            version for an unknown application), a schema
 *                            of the wrong version, out of memory.
 * After a failure pa_store_last_error() describes it for the log.  The
 * text names tables and constraints but never a stored value.
 *
 * Text comparisons (names, keys, tokens) are exact and case-sensitive.
 * Times are milliseconds since the epoch, UTC.
 *
 * Memory.  Result structs are owned by the caller (usually on the stack);
 * the strings inside them are malloc'ed by the store and released with the
 * matching pa_store_*_free(), which frees the members (wiping secrets
 * first), not the struct itself, and leaves it zeroed.  Every _free() is
 * safe on NULL and on a zeroed struct.  A lookup that finds nothing leaves
 * its result zeroed.  A string member is NULL when the stored value is
 * NULL.  Input strings are only read during the call.
 */
#ifndef PA_STORE_H
#define PA_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct pa_store pa_store;

/* Lock wait default: the contract's spring.jpa.properties.lock.timeout. */
#define PA_STORE_BUSY_TIMEOUT_DEFAULT_MS 10000

typedef struct pa_store_options {
    /* How long a write waits for another connection's write transaction
     * before failing, in ms; 0 or less = PA_STORE_BUSY_TIMEOUT_DEFAULT_MS. */
    int busy_timeout_ms;
} pa_store_options;

/* ---- lifecycle ------------------------------------------------------------ */

/* Creates the database at `path` if it does not exist and applies every
 * migration it lacks, each in its own transaction.  Applying twice is a
 * no-op.  A database recording a newer schema than this code knows is
 * refused (PA_ERR_UNKNOWN_ERROR) and left untouched.  opt may be NULL. */
pa_err pa_store_migrate(const char *path, const pa_store_options *opt);

/* Opens one connection to an existing, migrated database.  opt may be
 * NULL.  On failure *out is NULL. */
pa_err pa_store_open(const char *path, const pa_store_options *opt,
                     pa_store **out);

/* Closes the connection; rolls back an open transaction.  NULL is fine. */
void pa_store_close(pa_store *s);

/* What the last failed store call of this thread went wrong with, or "". */
const char *pa_store_last_error(void);

/* The schema version this code migrates to. */
int pa_store_schema_latest(void);

/* The schema version recorded in the database. */
pa_err pa_store_schema_version(pa_store *s, int *version);

/* PA_OK when the database answers a trivial query (for health checks). */
pa_err pa_store_ping(pa_store *s);

/* ---- transactions ---------------------------------------------------------- */

/* Starts a write transaction, waiting up to the busy timeout for other
 * writers, so concurrent writers serialise and the transaction can never
 * fail later for lack of the write lock.  Nested transactions are not
 * supported (PA_ERR_INVALID_REQUEST).  Outside a transaction every write
 * function is its own transaction. */
pa_err pa_store_begin(pa_store *s);

/* Starts a read-only transaction: the reads until pa_store_commit() (or
 * rollback) see one consistent snapshot. */
pa_err pa_store_begin_read(pa_store *s);

/* Makes the transaction durable (synced to disk) before returning.  If the
 * commit fails, the transaction is rolled back.  PA_ERR_INVALID_REQUEST
 * without an open transaction. */
pa_err pa_store_commit(pa_store *s);

/* Discards the open transaction; PA_OK (no-op) when none is open. */
pa_err pa_store_rollback(pa_store *s);

/* ---- applications ---------------------------------------------------------- */

typedef struct pa_store_application {
    int64_t id;
    char *name;
} pa_store_application;

typedef struct pa_store_application_array {
    pa_store_application *items;
    size_t count;
} pa_store_application_array;

/* Inserts an application.  An existing application with the same name
 * (exact comparison): PA_ERR_INVALID_REQUEST, nothing written.  The empty
 * name is a valid name. */
pa_err pa_store_application_create(pa_store *s, const char *name, int64_t *id);
pa_err pa_store_application_get(pa_store *s, int64_t id,
                                pa_store_application *out, int *found);
pa_err pa_store_application_get_by_name(pa_store *s, const char *name,
                                        pa_store_application *out, int *found);
/* Every application, in id (= creation) order. */
pa_err pa_store_application_list(pa_store *s, pa_store_application_array *out);
void pa_store_application_free(pa_store_application *a);
void pa_store_application_array_free(pa_store_application_array *arr);

/* ---- application versions -------------------------------------------------- */

typedef struct pa_store_version {
    int64_t id;
    int64_t application_id;
    char *name;               /* may be NULL */
    char *application_key;    /* Base64; may be NULL in imported data */
    char *application_secret; /* Base64, in clear; wiped by _free */
    int supported;            /* 1 usable, 0 not (a stored NULL reads as 0) */
} pa_store_version;

typedef struct pa_store_version_array {
    pa_store_version *items;
    size_t count;
} pa_store_version_array;

/* Inserts a supported version.  A duplicate application_key:
 * PA_ERR_INVALID_REQUEST; an unknown application: PA_ERR_UNKNOWN_ERROR;
 * nothing written in either case.  name may be NULL. */
pa_err pa_store_version_create(pa_store *s, int64_t application_id,
                               const char *name, const char *application_key,
                               const char *application_secret, int64_t *id);
/* Versions of one application, in id order (none: count 0). */
pa_err pa_store_version_list(pa_store *s, int64_t application_id,
                             pa_store_version_array *out);
pa_err pa_store_version_get_by_key(pa_store *s, const char *application_key,
                                   pa_store_version *out, int *found);
/* Sets the supported flag (any non-zero = 1); *found = 0 for an unknown id. */
pa_err pa_store_version_set_supported(pa_store *s, int64_t version_id,
                                      int supported, int *found);
void pa_store_version_free(pa_store_version *v);
void pa_store_version_array_free(pa_store_version_array *arr);

/* ---- master key pairs ------------------------------------------------------ */

typedef struct pa_store_master_keypair {
    int64_t id;
    int64_t application_id;
    char *name;               /* may be NULL */
    char *private_key_base64; /* BigInteger form, never encrypted; wiped by _free */
    char *public_key_base64;  /* 65-byte uncompressed point, Base64 */
    int64_t created_ms;
} pa_store_master_keypair;

/* Inserts a key pair; an unknown application: PA_ERR_UNKNOWN_ERROR. */
pa_err pa_store_master_keypair_create(pa_store *s, int64_t application_id,
                                      const char *name,
                                      const char *private_key_base64,
                                      const char *public_key_base64,
                                      int64_t created_ms, int64_t *id);
/* The application's pair with the greatest created_ms (ties: greatest id). */
pa_err pa_store_master_keypair_latest(pa_store *s, int64_t application_id,
                                      pa_store_master_keypair *out, int *found);
void pa_store_master_keypair_free(pa_store_master_keypair *k);

/* ---- integrations ------------------------------------------------------------ */

typedef struct pa_store_integration {
    char *id;            /* UUID */
    char *name;          /* may be NULL */
    char *client_token;  /* UUID, the WS-Security Username */
    char *client_secret; /* UUID, in clear; wiped by _free */
} pa_store_integration;

typedef struct pa_store_integration_array {
    pa_store_integration *items;
    size_t count;
} pa_store_integration_array;

/* Inserts an integration.  A duplicate id or client_token:
 * PA_ERR_INVALID_REQUEST, nothing written.  name may be NULL. */
pa_err pa_store_integration_create(pa_store *s, const char *id,
                                   const char *name, const char *client_token,
                                   const char *client_secret);
/* Every integration, in insertion order. */
pa_err pa_store_integration_list(pa_store *s, pa_store_integration_array *out);
/* Deletes by id; *found = 0 when nothing matched. */
pa_err pa_store_integration_remove(pa_store *s, const char *id, int *found);
pa_err pa_store_integration_get_by_token(pa_store *s, const char *client_token,
                                         pa_store_integration *out, int *found);
void pa_store_integration_free(pa_store_integration *i);
void pa_store_integration_array_free(pa_store_integration_array *arr);

/* ---- callback URLs ----------------------------------------------------------- */

typedef struct pa_store_callback {
    char *id;             /* UUID */
    int64_t application_id;
    char *name;           /* may be NULL in imported data */
    char *url;
} pa_store_callback;

typedef struct pa_store_callback_array {
    pa_store_callback *items;
    size_t count;
} pa_store_callback_array;

/* Inserts a callback URL.  A duplicate id: PA_ERR_INVALID_REQUEST; an
 * unknown application: PA_ERR_UNKNOWN_ERROR; nothing written. */
pa_err pa_store_callback_create(pa_store *s, const char *id,
                                int64_t application_id, const char *name,
                                const char *url);
/* Callbacks of one application ordered by name (byte order; ties by
 * insertion). */
pa_err pa_store_callback_list(pa_store *s, int64_t application_id,
                              pa_store_callback_array *out);
/* Deletes by id; *found = 0 when nothing matched. */
pa_err pa_store_callback_remove(pa_store *s, const char *id, int *found);
void pa_store_callback_free(pa_store_callback *c);
void pa_store_callback_array_free(pa_store_callback_array *arr);

#endif
