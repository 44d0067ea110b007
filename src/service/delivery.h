/*
 * delivery.h - the callback delivery thread: sends the outbox rows
 * (store.h "callback outbox") after commit, with retries, and keeps them
 * across a receiver outage or a restart until they are delivered or run
 * out of attempts, age or room (callback_max_attempts, callback_max_age_ms,
 * callback_outbox_max; details in delivery.c).  Up to callback_concurrency
 * attempts are in flight at once, at most one per callback URL, so a
 * receiver that never answers delays only its own events.
 */
#ifndef PA_SERVICE_DELIVERY_H
#define PA_SERVICE_DELIVERY_H

#include <stdint.h>

#include "util/config.h"
#include "util/err.h"

/* Starts the thread (its own store connection on cfg->database, opened
 * before this returns, so a database that cannot be opened fails here).
 * Calls curl_global_init, so it must run before other threads use libcurl;
 * pa_delivery_stop undoes it.  The settings are copied: cfg need not
 * outlive the thread. */
pa_err pa_delivery_start(const pa_config *cfg);

/* Stops it promptly (the attempts in flight are abandoned at once and
 * their rows stay queued, not counted as failed) and joins it.  Safe when
 * not started. */
void pa_delivery_stop(void);

/* Wakes the thread because rows were committed.  Cheap, safe from any
 * thread, a no-op when the thread is not running. */
void pa_delivery_notify(void);

/* The delay before the next attempt after `attempts` failed ones (>= 1):
 * d = initial_ms * 2^(attempts - 1), at most max_ms, then a value in
 * [d/2, d] chosen by `random` (jitter).  For the thread and its tests. */
int64_t pa_delivery_backoff_ms(int64_t initial_ms, int64_t max_ms,
                               int attempts, uint64_t random);

#endif
