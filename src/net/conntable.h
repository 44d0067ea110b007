/*
 * conntable.h - the worker pool's table of open client connections.
 *
 * Each open connection has a slot.  A slot is FREE, IDLE (in the epoll set,
 * waiting for the client) or BUSY (a worker serves it).  Slots are named in
 * epoll events by a 64-bit key: the slot index and the slot's generation,
 * which changes each time the slot is released.  An event that arrives for
 * a connection closed in the meantime (by the idle reaper, or by a worker)
 * carries an old generation and is ignored, even if the kernel has reused
 * the file descriptor for a new connection.
 *
 * Every change of state happens under one mutex, so a worker and the idle
 * reaper can never both own a connection: a worker claims a slot (IDLE ->
 * BUSY) only if the key still matches, and the reaper closes only IDLE
 * slots.  The socket work that must be atomic with a state change (the
 * epoll re-arm when parking, the close when reaping) is done by callbacks
 * run under the same lock.
 *
 * No sockets or epoll here: the callbacks do that, so the table is tested
 * on its own.
 */
#ifndef PA_NET_CONNTABLE_H
#define PA_NET_CONNTABLE_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util/err.h"

typedef enum { PA_CONN_FREE = 0, PA_CONN_IDLE, PA_CONN_BUSY } pa_conn_state;

/* Longest textual peer address (IPv6 with scope) plus NUL. */
#define PA_CONN_HOST_BUF 64

typedef struct pa_conn {
    int fd;
    uint32_t gen;
    pa_conn_state state;
    int64_t idle_since_ms;      /* when it last became IDLE */
    /* the peer, for gSOAP's soap->host / ip / port (logging) */
    char host[PA_CONN_HOST_BUF];
    int port;
    struct sockaddr_storage addr;
    socklen_t addrlen;
} pa_conn;

typedef struct pa_conntable {
    pthread_mutex_t lock;
    pa_conn *slots;
    uint32_t cap;
    uint32_t *free;             /* stack of free slot indexes */
    uint32_t nfree;
} pa_conntable;

/* Callback run under the table's lock; returns 0 on success. */
typedef int (*pa_conn_fn)(void *arg, pa_conn *c, uint64_t key);

pa_err pa_conntable_init(pa_conntable *t, uint32_t cap);
void pa_conntable_destroy(pa_conntable *t);

/* Index and generation of a key (for tests and the pool's markers). */
uint64_t pa_conntable_key(uint32_t index, uint32_t gen);
uint32_t pa_conntable_key_index(uint64_t key);

/* Takes a free slot for fd as IDLE since now_ms and fills *out with it.
 * `publish` (may be NULL) runs under the lock once the slot is filled in
 * (the pool fills in the peer and adds the socket to epoll there); when it
 * fails the slot is released again.  Returns 0, or -1 when the table is
 * full or publish failed (the caller closes fd). */
int pa_conntable_add(pa_conntable *t, int fd, int64_t now_ms,
                     pa_conn_fn publish, void *arg);

/* IDLE -> BUSY for the slot named by key; NULL when the key is stale (slot
 * released or re-used since) or the slot is not IDLE.  The caller owns the
 * returned slot until it parks or releases it. */
pa_conn *pa_conntable_claim(pa_conntable *t, uint64_t key);

/* BUSY -> IDLE since now_ms; `rearm` runs under the lock (the pool re-arms
 * the socket in epoll there).  Returns 0, or -1 when rearm failed (the slot
 * stays BUSY and the caller releases it). */
int pa_conntable_park(pa_conntable *t, pa_conn *c, int64_t now_ms,
                      pa_conn_fn rearm, void *arg);

/* BUSY -> FREE (new generation).  The caller has closed or will close the
 * socket itself. */
void pa_conntable_release(pa_conntable *t, pa_conn *c);

/* Closes every IDLE slot idle since before cutoff_ms (or every IDLE slot
 * when cutoff_ms is INT64_MAX): `close_fn` runs under the lock for each,
 * then the slot is FREE.  Returns how many were closed. */
int pa_conntable_reap(pa_conntable *t, int64_t cutoff_ms, pa_conn_fn close_fn,
                      void *arg);

/* Slots in use (IDLE + BUSY). */
uint32_t pa_conntable_used(pa_conntable *t);

#endif
