/*
 * conntable.c - slots of open connections with generations, see conntable.h.
 */
#include <stdlib.h>
#include <string.h>

#include "net/conntable.h"

uint64_t pa_conntable_key(uint32_t index, uint32_t gen)
{
    return (uint64_t)gen << 32 | index;
}

uint32_t pa_conntable_key_index(uint64_t key)
{
    return (uint32_t)(key & 0xFFFFFFFFu);
}

static uint64_t key_of(const pa_conntable *t, const pa_conn *c)
{
    return pa_conntable_key((uint32_t)(c - t->slots), c->gen);
}

pa_err pa_conntable_init(pa_conntable *t, uint32_t cap)
{
    memset(t, 0, sizeof *t);
    t->slots = calloc(cap, sizeof *t->slots);
    t->free = calloc(cap, sizeof *t->free);
    if (t->slots == NULL || t->free == NULL
        || pthread_mutex_init(&t->lock, NULL) != 0) {
        free(t->slots);
        free(t->free);
        memset(t, 0, sizeof *t);
        return PA_ERR_UNKNOWN_ERROR;
    }
    t->cap = cap;
    /* pushed in reverse so slot 0 is taken first (easier to read in tests) */
    for (uint32_t i = 0; i < cap; i++) {
        t->slots[i].fd = -1;
        t->slots[i].gen = 1;
        t->free[i] = cap - 1 - i;
    }
    t->nfree = cap;
    return PA_OK;
}

void pa_conntable_destroy(pa_conntable *t)
{
    if (t->slots == NULL)
        return;
    pthread_mutex_destroy(&t->lock);
    free(t->slots);
    free(t->free);
    memset(t, 0, sizeof *t);
}

/* Under the lock: back to the free stack with a new generation, so keys of
 * the old connection no longer match.  Generation 0 is never used. */
static void slot_free(pa_conntable *t, pa_conn *c)
{
    c->state = PA_CONN_FREE;
    c->fd = -1;
    if (++c->gen == 0)
        c->gen = 1;
    t->free[t->nfree++] = (uint32_t)(c - t->slots);
}

int pa_conntable_add(pa_conntable *t, int fd, int64_t now_ms,
                     pa_conn_fn publish, void *arg)
{
    pa_conn *c;
    int r = 0;

    pthread_mutex_lock(&t->lock);
    if (t->nfree == 0) {
        pthread_mutex_unlock(&t->lock);
        return -1;
    }
    c = &t->slots[t->free[--t->nfree]];
    c->fd = fd;
    c->state = PA_CONN_IDLE;
    c->idle_since_ms = now_ms;
    c->host[0] = '\0';
    c->port = 0;
    c->addrlen = 0;
    if (publish != NULL && (r = publish(arg, c, key_of(t, c))) != 0)
        slot_free(t, c);
    pthread_mutex_unlock(&t->lock);
    return r == 0 ? 0 : -1;
}

pa_conn *pa_conntable_claim(pa_conntable *t, uint64_t key)
{
    uint32_t i = pa_conntable_key_index(key);
    pa_conn *c = NULL;

    if (i >= t->cap)
        return NULL;
    pthread_mutex_lock(&t->lock);
    if (t->slots[i].state == PA_CONN_IDLE && key_of(t, &t->slots[i]) == key) {
        c = &t->slots[i];
        c->state = PA_CONN_BUSY;
    }
    pthread_mutex_unlock(&t->lock);
    return c;
}

int pa_conntable_park(pa_conntable *t, pa_conn *c, int64_t now_ms,
                      pa_conn_fn rearm, void *arg)
{
    int r = 0;

    pthread_mutex_lock(&t->lock);
    /* Re-arm before the state change is visible: an event can only arrive
     * after rearm, and the worker that gets it waits for this lock. */
    if (rearm != NULL)
        r = rearm(arg, c, key_of(t, c));
    if (r == 0) {
        c->state = PA_CONN_IDLE;
        c->idle_since_ms = now_ms;
    }
    pthread_mutex_unlock(&t->lock);
    return r == 0 ? 0 : -1;
}

void pa_conntable_release(pa_conntable *t, pa_conn *c)
{
    pthread_mutex_lock(&t->lock);
    slot_free(t, c);
    pthread_mutex_unlock(&t->lock);
}

int pa_conntable_reap(pa_conntable *t, int64_t cutoff_ms, pa_conn_fn close_fn,
                      void *arg)
{
    int n = 0;

    pthread_mutex_lock(&t->lock);
    for (uint32_t i = 0; i < t->cap; i++) {
        pa_conn *c = &t->slots[i];

        if (c->state != PA_CONN_IDLE
            || (cutoff_ms != INT64_MAX && c->idle_since_ms >= cutoff_ms))
            continue;
        if (close_fn != NULL)
            (void)close_fn(arg, c, key_of(t, c));
        slot_free(t, c);
        n++;
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}

uint32_t pa_conntable_used(pa_conntable *t)
{
    uint32_t n;

    pthread_mutex_lock(&t->lock);
    n = t->cap - t->nfree;
    pthread_mutex_unlock(&t->lock);
    return n;
}
