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
 * Group commit.  pa_store_write() queues a unit of work on the gate; the
 * first writer to find no batch running becomes the leader, takes every
 * unit queued so far, runs them one after another inside ONE write
 * transaction on the gate's writer connection - each in a savepoint, so a unit that
 * fails alone rolls back alone - and commits once: one fsync for the whole
 * batch.  Units that arrive meanwhile wait for the next batch, which the
 * first of them leads.  Every caller returns only after the commit that
 * carries its writes is durable.  Units must therefore be short (the
 * cryptography runs before, on the caller's thread) and use only the
 * connection they are given.
 *
 * The writer connection (the "lane") belongs to the gate, not to any
 * worker.  SQLite drops a connection's whole page cache whenever another
 * connection has written the file since its last transaction; if every
 * leader wrote on its own connection, each batch would start by reading
 * back the pages the previous batch (another worker's connection) had
 * just written - about four pread calls per verification.  One writer
 * connection per file keeps those pages cached between batches.
 *
 * Gates are found by the database's real path, so two connections to one
 * file share one gate and connections to different files never wait for
 * each other.  The table is small and fixed: a process that opens more
 * distinct files than it holds simply runs without a gate for the rest.
 */
#include <errno.h>
#include <stdio.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/sqlite_internal.h"
#include "util/blocking.h"

#define GATES 32
/* Most units one batch carries: bounds the time a unit waits behind
 * others and the size of one transaction. */
#define BATCH_MAX 64

/* One queued unit of work, on its caller's stack. */
typedef struct work {
    pa_store_work_fn fn;
    void *arg;
    pa_err result;
    int done;                   /* result is final (committed or not) */
    int lead;                   /* promoted: run the next batch */
    int committing;             /* its writes are in the batch's commit */
    char err[256];              /* the store's message for result */
    pthread_cond_t cv;
    struct work *next;
} work;

struct pa_sq_gate {
    char *path;                 /* NULL: free slot */
    int refs;
    pthread_mutex_t writer;
    /* group commit */
    pthread_mutex_t qlock;
    work *head, *tail;          /* queued, not yet taken by a batch */
    int leading;                /* a leader exists (running or promoted) */
    pa_store *lane;             /* the writer connection; only leaders use it */
    int lane_failed;            /* it could not be opened: leaders use theirs */
    int64_t batches, units;     /* statistics */
};

static pa_sq_gate gates[GATES];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_gates(void)
{
    int i;

    for (i = 0; i < GATES; i++) {
        pthread_mutex_init(&gates[i].writer, NULL);
        pthread_mutex_init(&gates[i].qlock, NULL);
    }
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
        pa_store_close(g->lane);    /* a lane holds no reference */
        g->lane = NULL;
        g->lane_failed = 0;
        free(g->path);
        g->path = NULL;
        g->batches = g->units = 0;
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

/* ---- group commit ------------------------------------------------------------ */

static pa_err exec_slot(pa_store *s, pa_sq_slot slot, const char *sql)
{
    sqlite3_stmt *st;
    pa_err e = pa_sq_stmt(s, slot, sql, &st);

    if (e == PA_OK) {
        e = pa_sq_run(s, st, sql);
        pa_sq_done(st);
    }
    return e;
}

/* Runs one unit in its savepoint; *commit = its writes stay. */
static void run_unit(pa_store *s, work *w, int *commit)
{
    int keep = 0;

    *commit = 0;
    if ((w->result = exec_slot(s, PA_SQ_SAVEPOINT, "SAVEPOINT pa_unit")) != PA_OK)
        return;
    pa_sq_set_error("%s", "");
    w->result = w->fn(s, w->arg, &keep);
    if (w->result != PA_OK)
        snprintf(w->err, sizeof w->err, "%s", pa_store_last_error());
    if (sqlite3_get_autocommit(pa_sq_db(s)))
        return;                 /* SQLite ended the transaction itself */
    *commit = w->result == PA_OK || keep;
    if (!*commit && exec_slot(s, PA_SQ_ROLLBACK_TO, "ROLLBACK TO pa_unit") != PA_OK)
        return;
    if (exec_slot(s, PA_SQ_RELEASE, "RELEASE pa_unit") != PA_OK)
        *commit = 0;
    w->committing = *commit;
}

/* Marks every unit of a batch failed with the store's current message. */
static void fail_all(work *batch, pa_err e)
{
    work *w;

    for (w = batch; w; w = w->next) {
        w->result = e;
        snprintf(w->err, sizeof w->err, "%s", pa_store_last_error());
    }
}

/* One batch: one transaction, one commit. */
static void run_batch(pa_store *s, work *batch)
{
    int commit, lost = 0;
    pa_err e;
    work *w;

    if ((e = pa_store_begin(s)) != PA_OK) {
        fail_all(batch, e);
        return;
    }
    for (w = batch; w && !lost; w = w->next) {
        run_unit(s, w, &commit);
        lost = sqlite3_get_autocommit(pa_sq_db(s));
    }
    if (lost) {
        /* The transaction is gone, with the writes of every unit in it. */
        pa_store_rollback(s);
        fail_all(batch, PA_ERR_UNKNOWN_ERROR);
        return;
    }
    if ((e = pa_store_commit(s)) != PA_OK)
        for (w = batch; w; w = w->next)
            if (w->committing) {
                w->result = e;
                snprintf(w->err, sizeof w->err, "%s", pa_store_last_error());
            }
}

/* Without a gate (table full): the unit alone in its own transaction. */
static pa_err write_alone(pa_store *s, pa_store_work_fn fn, void *arg)
{
    int keep = 0;
    pa_err e = pa_store_begin(s), c;

    if (e != PA_OK)
        return e;
    e = fn(s, arg, &keep);
    if (e != PA_OK && !keep) {
        pa_store_rollback(s);
        return e;
    }
    c = pa_store_commit(s);
    return c != PA_OK ? c : e;
}

pa_err pa_store_write(pa_store *s, pa_store_work_fn fn, void *arg)
{
    pa_sq_gate *g;
    work me, *batch, *w, *next;
    int n;

    if (!s || !fn)
        return pa_sq_misuse("write");
    if (!sqlite3_get_autocommit(s->db)) {
        /* The lane would wait for this connection's own write lock. */
        pa_sq_set_error("write: the connection has a transaction open");
        return PA_ERR_INVALID_REQUEST;
    }
    if (!(g = s->gate))
        return write_alone(s, fn, arg);
    memset(&me, 0, sizeof me);
    me.fn = fn;
    me.arg = arg;
    pthread_cond_init(&me.cv, NULL);
    pthread_mutex_lock(&g->qlock);
    if (g->tail)
        g->tail->next = &me;
    else
        g->head = &me;
    g->tail = &me;
    if (!g->leading) {
        g->leading = 1;
        me.lead = 1;
    }
    /* From here this thread waits for a commit (its own batch's, led by
     * it or another): the worker pool may run another request meanwhile. */
    pa_blocking_begin();
    while (!me.done && !me.lead)
        pthread_cond_wait(&me.cv, &g->qlock);
    if (!me.done) {
        /* Leader: the queue starts with this unit (a promoted leader is
         * the head; a new one found the queue empty). */
        batch = g->head;
        for (n = 1, w = batch; w->next && n < BATCH_MAX; n++)
            w = w->next;
        g->head = w->next;
        if (!g->head)
            g->tail = NULL;
        w->next = NULL;
        g->batches++;
        g->units += n;
        pthread_mutex_unlock(&g->qlock);
        /* Only the leader touches the lane, and there is one leader. */
        if (!g->lane && !g->lane_failed &&
            pa_sq_open_lane(g->path, s->busy_ms, g, &g->lane) != PA_OK)
            g->lane_failed = 1;
        run_batch(g->lane ? g->lane : s, batch);
        pthread_mutex_lock(&g->qlock);
        for (w = batch; w; w = next) {
            next = w->next;
            w->done = 1;
            if (w != &me)
                pthread_cond_signal(&w->cv);
        }
        /* Hand over to the first unit that queued meanwhile. */
        if (g->head) {
            g->head->lead = 1;
            pthread_cond_signal(&g->head->cv);
        } else {
            g->leading = 0;
        }
    }
    pthread_mutex_unlock(&g->qlock);
    pa_blocking_end();
    pthread_cond_destroy(&me.cv);
    if (me.result != PA_OK)
        pa_sq_set_error("%s", me.err);
    return me.result;
}

pa_err pa_store_write_stats(pa_store *s, int64_t *batches, int64_t *units)
{
    if (!s || !batches || !units)
        return pa_sq_misuse("write_stats");
    *batches = *units = 0;
    if (s->gate) {
        pthread_mutex_lock(&s->gate->qlock);
        *batches = s->gate->batches;
        *units = s->gate->units;
        pthread_mutex_unlock(&s->gate->qlock);
    }
    return PA_OK;
}
