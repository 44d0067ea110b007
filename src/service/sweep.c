/*
 * sweep.c - the expiry sweep (sweep.h; DATABASE.md 5.4; DESIGN.md "Work
 * outside a request").
 *
 * The original expires CREATED and PENDING_COMMIT activations only when an
 * operation loads them.  This thread does the same write - REMOVED with a
 * history row and the callbacks (pa_lifecycle_expire_if_due) - for every
 * row past its deadline, every expiry_sweep_interval_ms, so lists and
 * lookups stop showing stale rows.  Each batch is one short write
 * transaction of at most expiry_sweep_batch activations; a backlog is
 * worked off batch after batch with a pause of BATCH_GAP_MS between them,
 * so that a request worker waiting for the write lock gets it after at most
 * one batch.  The first sweep runs right after start (a backlog from a
 * downtime is cleared at once).
 */
#include "service/delivery.h"
#include "service/lifecycle.h"
#include "service/periodic.h"
#include "service/sweep.h"
#include "util/log.h"
#include "util/timeutil.h"

/* Pause between two batches, ms.  SQLite's busy handler retries a waiting
 * writer at least every 100 ms, so a gap this long lets it in. */
#define BATCH_GAP_MS 100

static void sweep(void);

static pa_periodic P = PA_PERIODIC_INIT("expiry sweep", sweep);
static int batch_size;

static pa_err sweep_batch(pa_store *s, int64_t now_ms, int batch,
                          int *expired, int *queued)
{
    pa_store_string_array ids = {0};
    pa_err e;

    *expired = 0;
    if (batch < 1)
        return PA_ERR_INVALID_REQUEST;
    if ((e = pa_store_begin(s)) != PA_OK)
        return e;
    e = pa_store_activation_expired(s, now_ms, batch, &ids);
    for (size_t i = 0; e == PA_OK && i < ids.count; i++) {
        pa_store_activation a = {0};
        int found = 0, done = 0;
        e = pa_store_activation_get(s, ids.items[i], &a, &found);
        if (e == PA_OK && found)
            e = pa_lifecycle_expire_if_due(s, &a, now_ms, &done, queued);
        if (e == PA_OK)
            *expired += done;
        pa_store_activation_free(&a);
    }
    pa_store_string_array_free(&ids);
    if (e == PA_OK)
        e = pa_store_commit(s);
    if (e != PA_OK) {
        pa_store_rollback(s);
        *expired = 0;
        if (queued)
            *queued = 0;
    }
    return e;
}

pa_err pa_sweep_batch(pa_store *s, int64_t now_ms, int batch, int *expired)
{
    int queued = 0;

    return sweep_batch(s, now_ms, batch, expired, &queued);
}

/* One sweep: batches until one is not full. */
static void sweep(void)
{
    long long total = 0;
    int expired;

    do {
        int queued = 0;
        pa_err e = sweep_batch(P.store, pa_time_now_ms(), batch_size,
                               &expired, &queued);
        if (e != PA_OK) {
            pa_log(PA_LOG_ERROR, "expiry sweep: %s", pa_store_last_error());
            break;
        }
        total += expired;
        if (queued > 0)
            pa_delivery_notify();
        if (expired == batch_size)
            pa_periodic_wait(&P, BATCH_GAP_MS);
    } while (expired == batch_size && !pa_periodic_stopping(&P));
    if (total > 0)
        pa_log(PA_LOG_INFO, "expiry sweep: %lld activations past their "
               "deadline set REMOVED", total);
}

pa_err pa_sweep_start(const pa_config *cfg)
{
    pa_store_options opt = {.busy_timeout_ms = cfg->lock_timeout_ms};
    pa_err e;

    if (pa_periodic_running(&P)) {
        pa_log(PA_LOG_ERROR, "expiry sweep: already running");
        return PA_ERR_UNKNOWN_ERROR;
    }
    if (cfg->expiry_sweep_interval_ms <= 0) {
        pa_log(PA_LOG_INFO, "expiry sweep off (expiry_sweep_interval_ms = 0)");
        return PA_OK;
    }
    if (cfg->expiry_sweep_batch < 1) {
        pa_log(PA_LOG_ERROR, "expiry sweep: expiry_sweep_batch must be "
               "positive");
        return PA_ERR_INVALID_REQUEST;
    }
    P.interval_ms = cfg->expiry_sweep_interval_ms;
    batch_size = cfg->expiry_sweep_batch;
    if (pa_store_open(cfg->database, &opt, &P.store) != PA_OK) {
        pa_log(PA_LOG_ERROR, "expiry sweep: cannot open database %s: %s",
               cfg->database, pa_store_last_error());
        return PA_ERR_UNKNOWN_ERROR;
    }
    if ((e = pa_periodic_start(&P)) != PA_OK)
        return e;
    pa_log(PA_LOG_INFO, "expiry sweep started (every %d ms, %d per batch)",
           P.interval_ms, batch_size);
    return PA_OK;
}

void pa_sweep_stop(void)
{
    pa_periodic_stop(&P);
}
