/*
 * periodic.c - the thread scaffolding of the background passes
 * (periodic.h).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "service/periodic.h"
#include "util/log.h"

int pa_periodic_running(pa_periodic *p)
{
    int r;

    pthread_mutex_lock(&p->mu);
    r = p->running;
    pthread_mutex_unlock(&p->mu);
    return r;
}

int pa_periodic_stopping(pa_periodic *p)
{
    return atomic_load(&p->stop);
}

void pa_periodic_wait(pa_periodic *p, int64_t ms)
{
    struct timespec until;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    while (!atomic_load(&p->stop))
        if (pthread_cond_timedwait(&p->cond, &p->mu, &until) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&p->mu);
}

static void *thread_main(void *arg)
{
    pa_periodic *p = arg;

    while (!atomic_load(&p->stop)) {
        p->pass();
        pa_periodic_wait(p, p->interval_ms);
    }
    return NULL;
}

pa_err pa_periodic_start(pa_periodic *p)
{
    pthread_condattr_t ca;
    sigset_t all, old;
    int rc;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    rc = pthread_cond_init(&p->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        pa_log(PA_LOG_ERROR, "%s: cannot create a condition variable",
               p->name);
        pa_store_close(p->store);
        p->store = NULL;
        return PA_ERR_UNKNOWN_ERROR;
    }
    atomic_store(&p->stop, 0);
    /* signals (SIGTERM, SIGINT) go to the main thread, never to this one */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(&p->thread, NULL, thread_main, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pa_log(PA_LOG_ERROR, "%s: cannot start its thread: %s", p->name,
               strerror(rc));
        pthread_cond_destroy(&p->cond);
        pa_store_close(p->store);
        p->store = NULL;
        return PA_ERR_UNKNOWN_ERROR;
    }
    pthread_mutex_lock(&p->mu);
    p->running = 1;
    pthread_mutex_unlock(&p->mu);
    return PA_OK;
}

void pa_periodic_stop(pa_periodic *p)
{
    pthread_mutex_lock(&p->mu);
    if (!p->running) {
        pthread_mutex_unlock(&p->mu);
        return;
    }
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    pthread_mutex_lock(&p->mu);
    p->running = 0;
    pthread_cond_destroy(&p->cond);
    pthread_mutex_unlock(&p->mu);
    pa_store_close(p->store);
    p->store = NULL;
    pa_log(PA_LOG_INFO, "%s stopped", p->name);
}
