/*
 * sweep.h - the expiry sweep: a background thread that marks unfinished
 * activations (CREATED, PENDING_COMMIT) past their deadline REMOVED, in
 * bounded batches, with history rows and callbacks, so lookups never show
 * stale rows (the original only expires lazily, DATABASE.md 5.4).
 */
#ifndef PA_SERVICE_SWEEP_H
#define PA_SERVICE_SWEEP_H

#include <stdint.h>

#include "store/store.h"
#include "util/config.h"
#include "util/err.h"

/* One batch in one short write transaction: up to `batch` expired
 * activations set REMOVED (pa_lifecycle_expire_if_due).  *expired = how
 * many; the caller repeats while it equals batch. */
pa_err pa_sweep_batch(pa_store *s, int64_t now_ms, int batch, int *expired);

/* Starts / stops the thread (interval and batch from cfg; an interval of 0
 * starts nothing). */
pa_err pa_sweep_start(const pa_config *cfg);
void pa_sweep_stop(void);

#endif
