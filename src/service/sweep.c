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
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "service/delivery.h"
#include "service/lifecycle.h"
#include "service/sweep.h"
#include "util/log.h"
#include "util/timeutil.h"

/* Pause between two batches, ms.  SQLite's busy handler retries a waiting
 * writer at least every 100 ms, so a gap this long lets it in. */
#define BATCH_GAP_MS 100

static struct {
    pthread_mutex_t mu;     /* guards running and the cond */
    pthread_cond_t cond;    /* CLOCK_MONOTONIC */
    int running;
    atomic_int stop;
    pthread_t thread;
    pa_store *store;
    int interval_ms;
    int batch;
} S = {.mu = PTHREAD_MUTEX_INITIALIZER};

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

/* Sleeps up to ms; returns early on stop. */
static void wait_ms(int64_t ms)
{
    struct timespec until;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&S.mu);
    while (!atomic_load(&S.stop))
        if (pthread_cond_timedwait(&S.cond, &S.mu, &until) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&S.mu);
}

/* One sweep: batches until one is not full. */
static void sweep(void)
{
    long long total = 0;
    int expired;

    do {
        int queued = 0;
        pa_err e = sweep_batch(S.store, pa_time_now_ms(), S.batch, &expired,
                               &queued);
        if (e != PA_OK) {
            pa_log(PA_LOG_ERROR, "expiry sweep: %s", pa_store_last_error());
            break;
        }
        total += expired;
        if (queued > 0)
            pa_delivery_notify();
        if (expired == S.batch)
            wait_ms(BATCH_GAP_MS);
    } while (expired == S.batch && !atomic_load(&S.stop));
    if (total > 0)
        pa_log(PA_LOG_INFO, "expiry sweep: %lld activations past their "
               "deadline set REMOVED", total);
}

static void *thread_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&S.stop)) {
        sweep();
        wait_ms(S.interval_ms);
    }
    return NULL;
}

pa_err pa_sweep_start(const pa_config *cfg)
{
    pa_store_options opt = {.busy_timeout_ms = cfg->lock_timeout_ms};
    pthread_condattr_t ca;
    sigset_t all, old;
    int rc;

    pthread_mutex_lock(&S.mu);
    rc = S.running;
    pthread_mutex_unlock(&S.mu);
    if (rc) {
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
    S.interval_ms = cfg->expiry_sweep_interval_ms;
    S.batch = cfg->expiry_sweep_batch;
    if (pa_store_open(cfg->database, &opt, &S.store) != PA_OK) {
        pa_log(PA_LOG_ERROR, "expiry sweep: cannot open database %s: %s",
               cfg->database, pa_store_last_error());
        return PA_ERR_UNKNOWN_ERROR;
    }
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    rc = pthread_cond_init(&S.cond, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        pa_log(PA_LOG_ERROR, "expiry sweep: cannot create a condition "
               "variable");
        pa_store_close(S.store);
        S.store = NULL;
        return PA_ERR_UNKNOWN_ERROR;
    }
    atomic_store(&S.stop, 0);
    /* signals (SIGTERM, SIGINT) go to the main thread, never to this one */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(&S.thread, NULL, thread_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pa_log(PA_LOG_ERROR, "expiry sweep: cannot start its thread: %s",
               strerror(rc));
        pthread_cond_destroy(&S.cond);
        pa_store_close(S.store);
        S.store = NULL;
        return PA_ERR_UNKNOWN_ERROR;
    }
    pthread_mutex_lock(&S.mu);
    S.running = 1;
    pthread_mutex_unlock(&S.mu);
    pa_log(PA_LOG_INFO, "expiry sweep started (every %d ms, %d per batch)",
           S.interval_ms, S.batch);
    return PA_OK;
}

void pa_sweep_stop(void)
{
    pthread_mutex_lock(&S.mu);
    if (!S.running) {
        pthread_mutex_unlock(&S.mu);
        return;
    }
    atomic_store(&S.stop, 1);
    pthread_cond_broadcast(&S.cond);
    pthread_mutex_unlock(&S.mu);
    pthread_join(S.thread, NULL);
    pthread_mutex_lock(&S.mu);
    S.running = 0;
    pthread_cond_destroy(&S.cond);
    pthread_mutex_unlock(&S.mu);
    pa_store_close(S.store);
    S.store = NULL;
    pa_log(PA_LOG_INFO, "expiry sweep stopped");
}
