/*
 * sqlite_gate.c - one writer at a time per database file inside this
 * process, waiting on a mutex rather than in SQLite's busy handler.
 *
 * SQLite lets one write transaction run at a time.  A connection that
 * finds the write lock taken sleeps in its busy handler (1, 2, 5, 10 ...
 * up to 100 ms at a time) and polls, so under many concurrent writers the
 * lock stays free while waiters sleep, and a waiter can lose the race over
 * and over.  Every worker of paserver writes the same file, so the
 * workers queue on this process-wide gate instead: the next writer is
 * woken the moment the previous one commits.  SQLite's busy handler still
 * arbitrates between processes (pactl, a second paserver).
 *
 * Gates are found by the database's real path, so two connections to one
 * file share one gate and connections to different files never wait for
 * each other.  The table is small and fixed: a process that opens more
 * distinct files than it holds simply runs without a gate for the rest.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/sqlite_internal.h"

#define GATES 32

struct pa_sq_gate {
    char *path;                 /* NULL: free slot */
    int refs;
    pthread_mutex_t writer;
};

static pa_sq_gate gates[GATES];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_gates(void)
{
    int i;

    for (i = 0; i < GATES; i++)
        pthread_mutex_init(&gates[i].writer, NULL);
}

pa_sq_gate *pa_sq_gate_get(const char *path)
{
    char *real = realpath(path, NULL);
    pa_sq_gate *g = NULL;
    int i;

    if (!real)
        return NULL;
    pthread_once(&init_once, init_gates);
    pthread_mutex_lock(&table_lock);
    for (i = 0; i < GATES && !g; i++)
        if (gates[i].path && strcmp(gates[i].path, real) == 0)
            g = &gates[i];
    for (i = 0; i < GATES && !g; i++)
        if (!gates[i].path) {
            g = &gates[i];
            g->path = real;
            real = NULL;
        }
    if (g)
        g->refs++;
    pthread_mutex_unlock(&table_lock);
    free(real);
    return g;
}

void pa_sq_gate_put(pa_sq_gate *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&table_lock);
    if (--g->refs == 0) {
        free(g->path);
        g->path = NULL;
    }
    pthread_mutex_unlock(&table_lock);
}

int pa_sq_gate_enter(pa_sq_gate *g, int timeout_ms)
{
    struct timespec until;

    if (!g)
        return 1;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    return pthread_mutex_timedlock(&g->writer, &until) == 0;
}

void pa_sq_gate_leave(pa_sq_gate *g)
{
    if (g)
        pthread_mutex_unlock(&g->writer);
}
