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

/* ---- what a connection may cache ------------------------------------------ */

/* Changes whenever data this connection reads may have changed since it
 * was last taken: a commit by any other connection (another worker, the
 * group-commit lane, pactl in another process) or a write by this one.
 * Compare with pa_store_same_generation; take it BEFORE reading what is to
 * be cached, so that a cached value is never older than its generation.
 * Fails (nothing to compare, do not cache) while a commit is being
 * published. */
typedef struct pa_store_generation {
    int64_t own;                /* rows this connection changed */
    unsigned char mark[48];     /* the database's commit mark */
} pa_store_generation;

pa_err pa_store_generation_get(pa_store *s, pa_store_generation *out);
int pa_store_same_generation(const pa_store_generation *a, const pa_store_generation *b);

/* One cache a service may hang on a connection (it lives and is freed -
 * by free_fn - with the connection; a connection serves one thread at a
 * time, so the cache needs no lock). */
void *pa_store_memo(pa_store *s);
void pa_store_set_memo(pa_store *s, void *memo, void (*free_fn)(void *));

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

/* ---- group commit ------------------------------------------------------------
 * A write that must be durable before its caller answers, batched with the
 * concurrent writes of other threads of this process to the same database:
 * one transaction and one fsync carry many callers' units of work.
 *
 * fn runs inside a write transaction, possibly on ANOTHER connection to the
 * same file and in ANOTHER thread than the caller's: it must use only the
 * store it is given and its arg, must not begin, commit or roll back, and
 * should be short (do the cryptography before).  Each unit runs in its own
 * savepoint: when fn returns PA_OK, or sets *keep (a fault that must keep
 * its writes, DATABASE.md 5.5), its writes are committed with the batch;
 * otherwise they are rolled back and the other units are not affected.
 * pa_store_write returns fn's result once the commit carrying its writes
 * is durable, or the commit's failure (PA_ERR_UNKNOWN_ERROR, with
 * pa_store_last_error set in the caller's thread).  Not inside an open
 * transaction of s. */
typedef pa_err (*pa_store_work_fn)(pa_store *s, void *arg, int *keep);
pa_err pa_store_write(pa_store *s, pa_store_work_fn fn, void *arg);

/* Batches committed and units they carried since the database was first
 * opened by this process (for the benchmark's units-per-commit figure). */
pa_err pa_store_write_stats(pa_store *s, int64_t *batches, int64_t *units);

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
/* The pair with this id (the one an activation links to). */
pa_err pa_store_master_keypair_get(pa_store *s, int64_t id,
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

/* ---- activations (DATABASE.md 2, 3, 5.1, 5.4-5.6, 5.9) ------------------- */

/* Stored status codes (DATABASE.md 3); also the status blob's STATUS byte. */
enum {
    PA_STATUS_CREATED = 1,
    PA_STATUS_PENDING_COMMIT = 2,
    PA_STATUS_ACTIVE = 3,
    PA_STATUS_BLOCKED = 4,
    PA_STATUS_REMOVED = 5
};

/* Stored activation OTP validation modes. */
enum {
    PA_OTP_NONE = 0,
    PA_OTP_ON_KEY_EXCHANGE = 1,
    PA_OTP_ON_COMMIT = 2
};

/* One pa_activation row.  Strings may be NULL where the column is
 * nullable.  Integer columns that are nullable carry a has_ flag (or use
 * 0 for NULL where stated). */
typedef struct pa_store_activation {
    char *activation_id;          /* UUID, primary key */
    int64_t application_id;
    char *user_id;
    char *activation_name;
    char *activation_code;
    int status;                   /* PA_STATUS_*; stored as is */
    char *activation_otp;         /* Argon2 MCF string; wiped by _free */
    int otp_validation;           /* PA_OTP_* */
    char *blocked_reason;
    int64_t counter;
    char *ctr_data;               /* Base64 of 16 bytes; wiped by _free */
    char *device_public_key;      /* Base64 of 65 bytes */
    char *extras;
    char *platform;
    char *device_info;
    int64_t failed_attempts;
    int64_t max_failed_attempts;
    char *server_private_key;     /* column as stored (plain or record-
                                     encrypted); wiped by _free */
    int server_private_key_encryption; /* 0 plain, 1 AES_HMAC */
    char *server_public_key;      /* Base64 of 65 bytes */
    int64_t master_keypair_id;    /* 0 = NULL */
    int64_t created_ms;
    int64_t expire_ms;            /* timestamp_activation_expire */
    int64_t last_used_ms;
    int64_t last_change_ms;
    int has_last_change;          /* 0: timestamp_last_change is NULL */
    int version;                  /* 0 = NULL (before the key exchange) */
    /* Read-only, filled only by the list queries (joined, not stored). */
    char *application_name;
} pa_store_activation;

typedef struct pa_store_activation_array {
    pa_store_activation *items;
    size_t count;
} pa_store_activation_array;

/* LookupActivations filters.  user_ids: at least one (else
 * PA_ERR_INVALID_REQUEST); application_ids: none = any application. */
typedef struct pa_store_activation_query {
    const char *const *user_ids;
    size_t user_id_count;
    const int64_t *application_ids;
    size_t application_id_count;
    int has_last_used_before;      /* timestamp_last_used < before */
    int64_t last_used_before_ms;
    int has_last_used_after;       /* timestamp_last_used >= after */
    int64_t last_used_after_ms;
    int has_status;
    int status;
} pa_store_activation_query;

/* Inserts a whole row (application_name ignored).  A duplicate
 * activation_id: PA_ERR_INVALID_REQUEST; an unknown application or key
 * pair: PA_ERR_UNKNOWN_ERROR; nothing written in either case. */
pa_err pa_store_activation_insert(pa_store *s, const pa_store_activation *a);

/* *exists = 1 when an activation with this id exists (any status). */
pa_err pa_store_activation_exists(pa_store *s, const char *activation_id,
                                  int *exists);

/* *taken = 1 when an activation of the application (any status) has a code
 * whose first 11 characters equal the first 11 of `code` (5.9).  code
 * must have at least 11 characters (else PA_ERR_INVALID_REQUEST). */
pa_err pa_store_activation_code_taken(pa_store *s, int64_t application_id,
                                      const char *code, int *taken);

pa_err pa_store_activation_get(pa_store *s, const char *activation_id,
                               pa_store_activation *out, int *found);

/* The activation of the application with exactly this code, status
 * CREATED and expire_ms > now_ms (DATABASE.md 5.4); at most one. */
pa_err pa_store_activation_find_by_code(pa_store *s, int64_t application_id,
                                        const char *code, int64_t now_ms,
                                        pa_store_activation *out, int *found);

/* Protocol 2 (CRYPTO.md 14.1 step 2): the activation of the application in
 * status CREATED with expire_ms > now_ms whose code starts with the 11
 * characters of short_id (compared as text, never as a pattern; the
 * caller checks the XXXXX-XXXXX form first).  At most one. */
pa_err pa_store_activation_find_by_short_id(pa_store *s, int64_t application_id,
                                            const char *short_id,
                                            int64_t now_ms,
                                            pa_store_activation *out,
                                            int *found);

/* Writes every mutable column of the row a->activation_id from *a:
 * activation_name, status, activation_otp, otp_validation, blocked_reason,
 * counter, ctr_data, device_public_key, extras, platform, device_info,
 * failed_attempts, max_failed_attempts, last_used_ms, last_change_ms
 * (has_last_change), version.  Keys, code, user, application and creation
 * and expiry times never change.  *found = 0 when no row has the id. */
pa_err pa_store_activation_update(pa_store *s, const pa_store_activation *a,
                                  int *found);

/* Activations of a user, all applications or one, in insertion order,
 * with application_name filled. */
pa_err pa_store_activation_list_for_user(pa_store *s, const char *user_id,
                                         int has_application_id,
                                         int64_t application_id,
                                         pa_store_activation_array *out);

/* LookupActivations: every activation matching all given filters, in
 * insertion order, with application_name filled. */
pa_err pa_store_activation_lookup(pa_store *s,
                                  const pa_store_activation_query *q,
                                  pa_store_activation_array *out);

/* Up to `limit` ids of activations in CREATED or PENDING_COMMIT whose
 * expire_ms < now_ms, oldest deadline first (the expiry sweep; served by
 * the index on status and expiry).  ids: malloc'ed array of malloc'ed
 * strings, free with pa_store_string_array_free. */
typedef struct pa_store_string_array {
    char **items;
    size_t count;
} pa_store_string_array;
pa_err pa_store_activation_expired(pa_store *s, int64_t now_ms, int limit,
                                   pa_store_string_array *ids);
void pa_store_string_array_free(pa_store_string_array *arr);

/* *any = 1 when some stored row is record-encrypted (an activation's
 * server private key or a recovery PUK with encryption mode != 0), so a
 * server without the master DB key must not start. */
pa_err pa_store_has_encrypted_records(pa_store *s, int *any);

void pa_store_activation_free(pa_store_activation *a);
void pa_store_activation_array_free(pa_store_activation_array *arr);

/* ---- activation history (DATABASE.md 5.1, 5.11) ---------------------------- */

typedef struct pa_store_history {
    int64_t id;
    char *activation_id;
    int status;
    char *event_reason;        /* may be NULL */
    char *external_user_id;    /* may be NULL */
    int64_t created_ms;
} pa_store_history;

typedef struct pa_store_history_array {
    pa_store_history *items;
    size_t count;
} pa_store_history_array;

pa_err pa_store_history_add(pa_store *s, const char *activation_id,
                            int status, const char *event_reason,
                            const char *external_user_id, int64_t created_ms);
/* Rows with from_ms <= created_ms <= to_ms, newest first, ties by id
 * descending. */
pa_err pa_store_history_list(pa_store *s, const char *activation_id,
                             int64_t from_ms, int64_t to_ms,
                             pa_store_history_array *out);
void pa_store_history_array_free(pa_store_history_array *arr);

/* ---- callback outbox ----------------------------------------------------------
 * A state change that notifies the application's callback URLs (DATABASE.md
 * 5.1 column "callback") adds one outbox row per callback URL of the
 * application, in the same transaction as the change.  Rows are delivered
 * and deleted by the delivery thread after commit (service/delivery.c).  The
 * URL is read at delivery time: a row whose callback URL was removed in the
 * meantime is dropped. */

typedef struct pa_store_outbox {
    int64_t id;
    char *event_id;            /* UUID of the state change */
    char *activation_id;
    char *callback_id;         /* pa_application_callback.id */
    char *callback_url;        /* NULL when the callback URL was removed */
    int attempts;              /* failed attempts so far */
    int64_t created_ms;
    int64_t next_attempt_ms;
} pa_store_outbox;

typedef struct pa_store_outbox_array {
    pa_store_outbox *items;
    size_t count;
} pa_store_outbox_array;

/* One row per callback URL of the application (none: nothing written,
 * *rows = 0), due at created_ms.  rows may be NULL. */
pa_err pa_store_outbox_add(pa_store *s, const char *event_id,
                           int64_t application_id, const char *activation_id,
                           int64_t created_ms, int *rows);
/* Up to `limit` rows with next_attempt_ms <= now_ms, by next_attempt_ms,
 * then id. */
pa_err pa_store_outbox_due(pa_store *s, int64_t now_ms, int limit,
                           pa_store_outbox_array *out);
/* The earliest next_attempt_ms of any row; *found = 0 when empty. */
pa_err pa_store_outbox_next_due(pa_store *s, int64_t *next_ms, int *found);
/* Deletes a delivered (or abandoned) row. */
pa_err pa_store_outbox_remove(pa_store *s, int64_t id);
/* Records a failed attempt: attempts and the time of the next one. */
pa_err pa_store_outbox_retry(pa_store *s, int64_t id, int attempts,
                             int64_t next_attempt_ms);
/* Number of rows (for the bound and for tests). */
pa_err pa_store_outbox_count(pa_store *s, int64_t *count);
/* Keeps at most max_rows rows, deleting the oldest (lowest id) first;
 * *dropped = how many were deleted. */
pa_err pa_store_outbox_trim(pa_store *s, int64_t max_rows, int64_t *dropped);
void pa_store_outbox_array_free(pa_store_outbox_array *arr);

/* ---- signature audit (DATABASE.md 2, 3, 5.2, 5.11) ------------------------- */

typedef struct pa_store_audit {
    int64_t id;
    char *activation_id;
    int64_t activation_counter;   /* counter after the attempt */
    char *activation_ctr_data;    /* ctr_data after the attempt; may be NULL */
    int activation_status;        /* status after the attempt */
    char *additional_info;        /* JSON text (DATABASE.md 3); may be NULL */
    char *data_base64;            /* may be NULL */
    char *signature_type;         /* SOAP enum name */
    char *signature;
    int valid;
    char *note;
    int64_t created_ms;
    int version;                  /* 0 = NULL */
    char *signature_version;      /* may be NULL */
    /* Read-only, filled by pa_store_audit_list (joined from the activation) */
    char *user_id;
    int64_t application_id;
} pa_store_audit;

typedef struct pa_store_audit_array {
    pa_store_audit *items;
    size_t count;
} pa_store_audit_array;

/* Inserts one audit row (id, user_id, application_id ignored); *id may be
 * NULL. */
pa_err pa_store_audit_add(pa_store *s, const pa_store_audit *a, int64_t *id);
/* SignatureAudit: rows of every activation of the user (and of the
 * application when has_application_id) with from_ms <= created_ms <= to_ms,
 * newest first, ties by id descending; user_id and application_id filled. */
pa_err pa_store_audit_list(pa_store *s, const char *user_id,
                           int has_application_id, int64_t application_id,
                           int64_t from_ms, int64_t to_ms,
                           pa_store_audit_array *out);
void pa_store_audit_array_free(pa_store_audit_array *arr);

/* ---- MAC tokens (DATABASE.md 2, 5.7, 5.9) ------------------------------------- */

typedef struct pa_store_token {
    char *token_id;               /* UUID */
    char *token_secret;           /* Base64 of 16 bytes; wiped by _free */
    char *activation_id;
    char *signature_type;         /* SOAP enum name */
    int64_t created_ms;
    /* Read-only, filled by pa_store_token_get (joined from the activation;
     * activation_status 0 when the activation row is missing) */
    int activation_status;
    char *user_id;
    int64_t application_id;
} pa_store_token;

/* Inserts a token.  A duplicate token_id: PA_ERR_INVALID_REQUEST; an
 * unknown activation: PA_ERR_UNKNOWN_ERROR; nothing written. */
pa_err pa_store_token_insert(pa_store *s, const pa_store_token *t);
pa_err pa_store_token_exists(pa_store *s, const char *token_id, int *exists);
/* The token with its activation's status, user and application. */
pa_err pa_store_token_get(pa_store *s, const char *token_id,
                          pa_store_token *out, int *found);
/* Deletes the token only if it belongs to activation_id; *removed = 1
 * when a row was deleted. */
pa_err pa_store_token_remove(pa_store *s, const char *token_id,
                             const char *activation_id, int *removed);
void pa_store_token_free(pa_store_token *t);

/* ---- retention ------------------------------------------------------------------
 * The retention purge deletes old audit and history rows in bounded
 * batches (each call its own short statement; the caller runs it in a
 * write transaction or unit). */
pa_err pa_store_audit_purge(pa_store *s, int64_t before_ms, int limit,
                            int *deleted);
pa_err pa_store_history_purge(pa_store *s, int64_t before_ms, int limit,
                              int *deleted);

/* ---- recovery codes and PUKs (DATABASE.md 2, 3, 4, 5.8, 5.9) ------------------ */

enum {                                /* pa_recovery_code.status */
    PA_RC_CREATED = 1,
    PA_RC_ACTIVE = 2,
    PA_RC_BLOCKED = 3,
    PA_RC_REVOKED = 4
};
enum {                                /* pa_recovery_puk.status */
    PA_PUK_VALID = 1,
    PA_PUK_USED = 2,
    PA_PUK_INVALID = 3
};

typedef struct pa_store_recovery_puk {
    int64_t id;
    int64_t recovery_code_id;
    char *puk;                    /* column as stored (Argon2 MCF, plain or
                                     record-encrypted); wiped by _free */
    int puk_encryption;           /* 0 plain, 1 AES_HMAC */
    int64_t puk_index;            /* 1..N */
    int status;                   /* PA_PUK_* */
    int64_t last_change_ms;
    int has_last_change;
} pa_store_recovery_puk;

typedef struct pa_store_recovery_code {
    int64_t id;
    char *recovery_code;          /* 23 characters, in clear */
    int64_t application_id;
    char *user_id;
    char *activation_id;          /* NULL: postcard code */
    int status;                   /* PA_RC_* */
    int64_t failed_attempts;
    int64_t max_failed_attempts;
    int64_t created_ms;
    int64_t last_change_ms;
    int has_last_change;
    /* Its PUKs in puk_index order: read by the get/find/lookup functions,
     * written by pa_store_recovery_code_insert. */
    pa_store_recovery_puk *puks;
    size_t puk_count;
} pa_store_recovery_code;

typedef struct pa_store_recovery_code_array {
    pa_store_recovery_code *items;
    size_t count;
} pa_store_recovery_code_array;

/* Inserts the code and every PUK in c->puks (their id/recovery_code_id
 * ignored) with one id; *id receives the code's id. */
pa_err pa_store_recovery_code_insert(pa_store *s, const pa_store_recovery_code *c,
                                     int64_t *id);
/* *exists = 1 when the application has this code in any status (5.9). */
pa_err pa_store_recovery_code_exists(pa_store *s, int64_t application_id,
                                     const char *code, int *exists);
/* By id, with PUKs. */
pa_err pa_store_recovery_code_get(pa_store *s, int64_t id,
                                  pa_store_recovery_code *out, int *found);
/* By application and exact code, with PUKs (the newest when the code
 * occurs more than once, which 5.9 prevents). */
pa_err pa_store_recovery_code_find(pa_store *s, int64_t application_id,
                                   const char *code,
                                   pa_store_recovery_code *out, int *found);

/* LookupRecoveryCodes (5.8): codes matching every given filter (user_id
 * NULL = any user; has_application_id 0 = any application; activation_id
 * NULL = any), newest first (timestamp_created, then id, descending), each
 * with all its PUKs.  The service picks which filters to pass and applies
 * the status filters. */
typedef struct pa_store_recovery_query {
    const char *user_id;
    int has_application_id;
    int64_t application_id;
    const char *activation_id;
} pa_store_recovery_query;
pa_err pa_store_recovery_code_lookup(pa_store *s,
                                     const pa_store_recovery_query *q,
                                     pa_store_recovery_code_array *out);

/* Codes bound to an activation (any status), with PUKs, by id. */
pa_err pa_store_recovery_codes_of_activation(pa_store *s,
                                             const char *activation_id,
                                             pa_store_recovery_code_array *out);

/* Postcard codes (activation_id NULL) of the user in the application in
 * CREATED or ACTIVE. */
pa_err pa_store_recovery_postcard_live_count(pa_store *s, int64_t application_id,
                                             const char *user_id,
                                             int64_t *count);

/* Writes status, failed_attempts and last_change of the code row. */
pa_err pa_store_recovery_code_update(pa_store *s,
                                     const pa_store_recovery_code *c,
                                     int *found);
/* Writes status and last_change of the PUK row p->id. */
pa_err pa_store_recovery_puk_update(pa_store *s, const pa_store_recovery_puk *p,
                                    int *found);

void pa_store_recovery_code_free(pa_store_recovery_code *c);
void pa_store_recovery_code_array_free(pa_store_recovery_code_array *arr);

/* ---- recovery configuration (DATABASE.md 2, 5.8) ----------------------------- */

typedef struct pa_store_recovery_config {
    int64_t id;
    int64_t application_id;
    int activation_recovery_enabled;
    int recovery_postcard_enabled;
    int allow_multiple_recovery_codes;
    char *postcard_private_key;   /* BigInteger form, Base64; wiped; may be NULL */
    char *postcard_public_key;    /* may be NULL */
    char *remote_public_key;      /* may be NULL */
} pa_store_recovery_config;

pa_err pa_store_recovery_config_get(pa_store *s, int64_t application_id,
                                    pa_store_recovery_config *out, int *found);
/* Inserts the application's row or overwrites every column of it. */
pa_err pa_store_recovery_config_put(pa_store *s,
                                    const pa_store_recovery_config *c);
void pa_store_recovery_config_free(pa_store_recovery_config *c);

#endif
