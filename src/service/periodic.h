/*
 * periodic.h - the thread scaffolding the background passes share (the
 * expiry sweep, sweep.c; the retention purge, retention.c): the thread's
 * own store connection, a CLOCK_MONOTONIC condition variable to wait on,
 * start with every signal blocked, stop and join.
 */
#ifndef PA_SERVICE_PERIODIC_H
#define PA_SERVICE_PERIODIC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

typedef struct pa_periodic {
    const char *name;       /* in log lines: "expiry sweep" */
    void (*pass)(void);     /* one pass, run after start then every interval */
    pthread_mutex_t mu;     /* guards running and the cond */
    pthread_cond_t cond;    /* CLOCK_MONOTONIC */
    int running;
    atomic_int stop;
    pthread_t thread;
    pa_store *store;        /* the thread's connection */
    int interval_ms;
} pa_periodic;

#define PA_PERIODIC_INIT(nm, fn) \
    {.name = (nm), .pass = (fn), .mu = PTHREAD_MUTEX_INITIALIZER}

/* Whether the thread runs. */
int pa_periodic_running(pa_periodic *p);

/* Whether stop was asked for (the pass ends early). */
int pa_periodic_stopping(pa_periodic *p);

/* Starts the thread on p->store (opened by the caller; closed and set to
 * NULL here on failure, which is logged with p->name). */
pa_err pa_periodic_start(pa_periodic *p);

/* Stops and joins the thread, closes the store and logs "<name> stopped";
 * nothing when it does not run. */
void pa_periodic_stop(pa_periodic *p);

/* Sleeps up to ms; returns early on stop. */
void pa_periodic_wait(pa_periodic *p, int64_t ms);

#endif
