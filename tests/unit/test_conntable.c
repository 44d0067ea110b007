/*
 * test_conntable.c - the worker pool's connection table (src/net/
 * conntable.c): slots, generations, and that a worker and the idle reaper
 * can never both own a connection.  Part of the test_guard program.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "net/conntable.h"

int register_conntable_suite(void);

/* Callback recorder: the keys and fds it saw, and what it returns. */
typedef struct rec {
    int calls;
    uint64_t last_key;
    int last_fd;
    int fail;
    pa_conntable *t;            /* to check the lock is held */
} rec;

static int record(void *arg, pa_conn *c, uint64_t key)
{
    rec *r = arg;

    r->calls++;
    r->last_key = key;
    r->last_fd = c->fd;
    /* callbacks run under the table's lock */
    if (r->t != NULL)
        CU_ASSERT_EQUAL(pthread_mutex_trylock(&r->t->lock), EBUSY);
    return r->fail;
}

static void test_add_claim_park_release(void)
{
    pa_conntable t;
    rec r = {0};
    pa_conn *c;
    uint64_t key;

    CU_ASSERT_EQUAL_FATAL(pa_conntable_init(&t, 4), PA_OK);
    r.t = &t;
    CU_ASSERT_EQUAL(pa_conntable_add(&t, 10, 1000, record, &r), 0);
    CU_ASSERT_EQUAL(r.calls, 1);
    CU_ASSERT_EQUAL(r.last_fd, 10);
    key = r.last_key;
    CU_ASSERT_EQUAL(pa_conntable_used(&t), 1);
    /* an IDLE slot is claimed once */
    c = pa_conntable_claim(&t, key);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(c->fd, 10);
    CU_ASSERT_EQUAL(c->state, PA_CONN_BUSY);
    CU_ASSERT_PTR_NULL(pa_conntable_claim(&t, key));
    /* parked: IDLE again under the same key, claimable again */
    CU_ASSERT_EQUAL(pa_conntable_park(&t, c, 2000, record, &r), 0);
    CU_ASSERT_EQUAL(r.last_key, key);
    CU_ASSERT_EQUAL(c->state, PA_CONN_IDLE);
    CU_ASSERT_EQUAL(c->idle_since_ms, 2000);
    CU_ASSERT_PTR_EQUAL(pa_conntable_claim(&t, key), c);
    /* released: the key is stale from now on */
    pa_conntable_release(&t, c);
    CU_ASSERT_EQUAL(pa_conntable_used(&t), 0);
    CU_ASSERT_PTR_NULL(pa_conntable_claim(&t, key));
    pa_conntable_destroy(&t);
}

static void test_reused_slot_has_new_generation(void)
{
    pa_conntable t;
    rec r = {0};
    uint64_t old_key;
    pa_conn *c;

    CU_ASSERT_EQUAL_FATAL(pa_conntable_init(&t, 1), PA_OK);
    CU_ASSERT_EQUAL(pa_conntable_add(&t, 7, 0, record, &r), 0);
    old_key = r.last_key;
    c = pa_conntable_claim(&t, old_key);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    pa_conntable_release(&t, c);
    /* the same slot (only one) and the same fd number, a new connection */
    CU_ASSERT_EQUAL(pa_conntable_add(&t, 7, 0, record, &r), 0);
    CU_ASSERT_EQUAL(pa_conntable_key_index(r.last_key), pa_conntable_key_index(old_key));
    CU_ASSERT_NOT_EQUAL(r.last_key, old_key);
    /* an event still carrying the old key must not reach the new one */
    CU_ASSERT_PTR_NULL(pa_conntable_claim(&t, old_key));
    CU_ASSERT_PTR_NOT_NULL(pa_conntable_claim(&t, r.last_key));
    pa_conntable_destroy(&t);
}

static void test_full_table(void)
{
    pa_conntable t;
    rec r = {0};

    CU_ASSERT_EQUAL_FATAL(pa_conntable_init(&t, 2), PA_OK);
    CU_ASSERT_EQUAL(pa_conntable_add(&t, 1, 0, NULL, NULL), 0);
    CU_ASSERT_EQUAL(pa_conntable_add(&t, 2, 0, NULL, NULL), 0);
    CU_ASSERT_EQUAL(pa_conntable_add(&t, 3, 0, record, &r), -1);
    CU_ASSERT_EQUAL(r.calls, 0);                /* nothing published */
    CU_ASSERT_EQUAL(pa_conntable_used(&t), 2);
    pa_conntable_destroy(&t);
}

static void test_failed_callbacks(void)
{
    pa_conntable t;
    rec r = {0};
    pa_conn *c;

    CU_ASSERT_EQUAL_FATAL(pa_conntable_init(&t, 2), PA_OK);
    /* publish fails: the slot goes back */
    r.fail = 1;
    CU_ASSERT_EQUAL(pa_conntable_add(&t, 5, 0, record, &r), -1);
    CU_ASSERT_EQUAL(pa_conntable_used(&t), 0);
    CU_ASSERT_PTR_NULL(pa_conntable_claim(&t, r.last_key));
    /* re-arm fails: the slot stays BUSY for the caller to release */
    r.fail = 0;
    CU_ASSERT_EQUAL(pa_conntable_add(&t, 5, 0, record, &r), 0);
    c = pa_conntable_claim(&t, r.last_key);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    r.fail = 1;
    CU_ASSERT_EQUAL(pa_conntable_park(&t, c, 0, record, &r), -1);
    CU_ASSERT_EQUAL(c->state, PA_CONN_BUSY);
    pa_conntable_release(&t, c);
    CU_ASSERT_EQUAL(pa_conntable_used(&t), 0);
    pa_conntable_destroy(&t);
}

static void test_reaper_closes_only_old_idle_slots(void)
{
    pa_conntable t;
    rec r = {0};
    uint64_t k_old, k_new, k_busy;
    pa_conn *busy;

    CU_ASSERT_EQUAL_FATAL(pa_conntable_init(&t, 8), PA_OK);
    r.t = &t;
    pa_conntable_add(&t, 1, 100, record, &r);
    k_old = r.last_key;
    pa_conntable_add(&t, 2, 900, record, &r);
    k_new = r.last_key;
    pa_conntable_add(&t, 3, 100, record, &r);
    k_busy = r.last_key;
    busy = pa_conntable_claim(&t, k_busy);
    CU_ASSERT_PTR_NOT_NULL_FATAL(busy);
    r.calls = 0;
    /* idle since before 500: only fd 1; the BUSY one is the worker's */
    CU_ASSERT_EQUAL(pa_conntable_reap(&t, 500, record, &r), 1);
    CU_ASSERT_EQUAL(r.calls, 1);
    CU_ASSERT_EQUAL(r.last_fd, 1);
    CU_ASSERT_EQUAL(r.last_key, k_old);
    CU_ASSERT_PTR_NULL(pa_conntable_claim(&t, k_old));   /* its event is stale */
    CU_ASSERT_EQUAL(busy->state, PA_CONN_BUSY);
    CU_ASSERT_EQUAL(busy->fd, 3);
    /* the worker parks it afterwards: idle from then on, not reaped yet */
    CU_ASSERT_EQUAL(pa_conntable_park(&t, busy, 1000, NULL, NULL), 0);
    CU_ASSERT_EQUAL(pa_conntable_reap(&t, 950, NULL, NULL), 1);     /* fd 2 */
    CU_ASSERT_PTR_NULL(pa_conntable_claim(&t, k_new));
    /* INT64_MAX: every idle slot (shutdown) */
    CU_ASSERT_EQUAL(pa_conntable_reap(&t, INT64_MAX, NULL, NULL), 1);
    CU_ASSERT_EQUAL(pa_conntable_used(&t), 0);
    pa_conntable_destroy(&t);
}

/* Workers claiming and parking while a reaper closes idle slots: every
 * close must hit an IDLE slot, never one a worker holds. */
typedef struct race {
    pa_conntable *t;
    uint64_t keys[16];
    volatile int stop;
    int busy_closed;            /* a reaper close while a worker held it */
    int not_busy;               /* a claim that did not make the slot BUSY */
    int claims;
    int64_t now;
    int closed_fds[16];
    int nclosed;
} race;

static int reap_check(void *arg, pa_conn *c, uint64_t key)
{
    race *r = arg;

    (void)key;
    if (c->state != PA_CONN_IDLE)
        r->busy_closed++;
    r->closed_fds[r->nclosed++] = c->fd;
    return 0;
}

static void *race_worker(void *arg)
{
    race *r = arg;
    unsigned seed = 1;

    while (!r->stop) {
        int i;
        pa_conn *c;

        seed = seed * 1103515245u + 12345u;
        i = (int)((seed >> 16) % 16);
        c = pa_conntable_claim(r->t, __atomic_load_n(&r->keys[i], __ATOMIC_ACQUIRE));
        if (c == NULL)
            continue;
        __atomic_add_fetch(&r->claims, 1, __ATOMIC_RELAXED);
        if (c->state != PA_CONN_BUSY)
            r->not_busy++;
        pa_conntable_park(r->t, c, __atomic_load_n(&r->now, __ATOMIC_RELAXED), NULL, NULL);
    }
    return NULL;
}

static int republish(void *arg, pa_conn *c, uint64_t key)
{
    race *r = arg;

    __atomic_store_n(&r->keys[c->fd], key, __ATOMIC_RELEASE);
    return 0;
}

static void test_worker_and_reaper_never_share(void)
{
    pa_conntable t;
    race r;
    pthread_t th;

    memset(&r, 0, sizeof r);
    CU_ASSERT_EQUAL_FATAL(pa_conntable_init(&t, 16), PA_OK);
    r.t = &t;
    for (int fd = 0; fd < 16; fd++)
        CU_ASSERT_EQUAL(pa_conntable_add(&t, fd, 0, republish, &r), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, race_worker, &r), 0);
    /* until the worker has claimed enough, whenever it gets scheduled */
    for (int round = 1;
         round <= 2000 || (__atomic_load_n(&r.claims, __ATOMIC_RELAXED) < 20000
                           && round < 5000000);
         round++) {
        __atomic_store_n(&r.now, round, __ATOMIC_RELAXED);
        r.nclosed = 0;
        pa_conntable_reap(&t, round, reap_check, &r);
        /* the closed fd numbers come back as new connections (new keys) */
        for (int k = 0; k < r.nclosed; k++)
            CU_ASSERT_EQUAL(pa_conntable_add(&t, r.closed_fds[k], round, republish, &r), 0);
    }
    r.stop = 1;
    pthread_join(th, NULL);
    CU_ASSERT_EQUAL(r.busy_closed, 0);
    CU_ASSERT_EQUAL(r.not_busy, 0);
    CU_ASSERT(r.claims > 0);
    CU_ASSERT_EQUAL(pa_conntable_used(&t), 16);
    pa_conntable_destroy(&t);
}

int register_conntable_suite(void)
{
    CU_pSuite s = CU_add_suite("conntable", NULL, NULL);

    if (s == NULL
        || !CU_add_test(s, "add, claim, park, release", test_add_claim_park_release)
        || !CU_add_test(s, "reused slot has a new generation",
                        test_reused_slot_has_new_generation)
        || !CU_add_test(s, "full table", test_full_table)
        || !CU_add_test(s, "failed callbacks", test_failed_callbacks)
        || !CU_add_test(s, "reaper closes only old idle slots",
                        test_reaper_closes_only_old_idle_slots)
        || !CU_add_test(s, "worker and reaper never share a slot",
                        test_worker_and_reaper_never_share))
        return -1;
    return 0;
}
