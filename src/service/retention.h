/*
 * retention.h - the retention purge: a background thread that deletes
 * signature audit rows older than audit_retention_ms and activation history
 * rows older than history_retention_ms (0 = keep forever, the original), in
 * bounded batches, every retention_purge_interval_ms (DESIGN.md "Work
 * outside a request").  Activations and every other table are never
 * touched.
 */
#ifndef PA_SERVICE_RETENTION_H
#define PA_SERVICE_RETENTION_H

#include <stdint.h>

#include "store/store.h"
#include "util/config.h"
#include "util/err.h"

/* One pass, as the thread runs it, on s (no transaction open): for each
 * table whose retention is > 0, deletes the rows created before
 * now_ms - retention (a row exactly at that cut stays), oldest first, at
 * most cfg->retention_purge_batch per write transaction, transaction after
 * transaction while one was full, with a short pause between two.  Logs
 * one INFO line with the totals when anything was deleted.  *audit_deleted
 * and *history_deleted (either may be NULL) = rows deleted, also those
 * committed before an error.  PA_ERR_INVALID_REQUEST for a negative
 * retention or a batch < 1; a store error stops the pass (the failed batch
 * is rolled back, logged) and is returned. */
pa_err pa_retention_pass(pa_store *s, const pa_config *cfg, int64_t now_ms,
                         int64_t *audit_deleted, int64_t *history_deleted);

/* Starts the thread on its own store connection to cfg->database (busy
 * timeout lock_timeout_ms); its first pass runs at once, the next ones
 * every retention_purge_interval_ms.  Both retentions 0: starts nothing
 * and returns PA_OK.  An interval or batch < 1, a negative retention, a
 * database that cannot be opened, a thread already running or one that
 * cannot be created: an error, logged, nothing started. */
pa_err pa_retention_start(const pa_config *cfg);

/* Stops the thread (between two batches or during its wait: promptly) and
 * closes its connection; a no-op when it is not running. */
void pa_retention_stop(void);

/* 1 while the thread runs (started and not stopped), else 0. */
int pa_retention_running(void);

#endif
