/*
 * replay.c - the (tokenId, nonce) replay cache of ValidateToken: keyed
 * 128-bit fingerprints with deadlines in fixed-size open-addressing tables
 * (replay.h says what it promises).
 *
 * Layout: a shard is an array of slots, a power of two at least twice the
 * shard's entry limit, so a probe always ends at an empty slot and stays
 * short.  A slot is empty when its deadline is 0 (stored deadlines are at
 * least 1).  The home slot of a key is its first 64 bits masked; the shard
 * is chosen by bits of the other half, so the two choices are independent.
 *
 * Deletion is the backward shift of linear probing (Knuth 6.4, algorithm
 * R): the entries after the hole whose home does not lie between the hole
 * and themselves move into it, so every remaining entry stays reachable
 * from its home without tombstones.  Dead entries are deleted when a probe
 * meets them, and all at once by a sweep when the shard is full and its
 * earliest possible deadline has passed.
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/primitives.h"
#include "service/replay.h"

/* Shards only when each gets a good number of entries: a tiny cache is
 * one table, so its limit is exact. */
#define SHARDS 16
#define SHARD_MIN_ENTRIES 1024

typedef struct slot {
    uint64_t k0, k1;            /* the pair's fingerprint */
    int64_t deadline;           /* alive while now <= deadline; 0 = empty */
} slot;

typedef struct shard {
    pthread_mutex_t lock;
    slot *t;
    size_t mask;                /* slots - 1 */
    size_t limit;               /* most entries stored */
    size_t used;                /* entries stored, dead or alive */
    int64_t min_deadline;       /* no stored entry has an earlier one */
} shard;

struct pa_replay {
    uint8_t key[32];            /* HMAC key of the fingerprints */
    size_t nshards;             /* 1 or SHARDS */
    size_t limit;               /* sum of the shards' limits */
    shard shards[];
};

/* ---- one shard ---------------------------------------------------------------- */

static size_t home(const shard *s, uint64_t k0)
{
    return (size_t)(k0 & s->mask);
}

/* Empties slot i and closes the gap (backward shift). */
static void remove_at(shard *s, size_t i)
{
    size_t j = i, k;

    for (;;) {
        j = (j + 1) & s->mask;
        if (s->t[j].deadline == 0)
            break;
        k = home(s, s->t[j].k0);
        /* The entry at j stays when its home lies cyclically in (i, j]. */
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        s->t[i] = s->t[j];
        i = j;
    }
    memset(&s->t[i], 0, sizeof s->t[i]);
    s->used--;
}

/* Removes every dead entry and recomputes min_deadline.  An entry shifted
 * back into a slot already passed was examined before it moved (holes
 * only move forward from the scan position, wrapping at most once), so one
 * pass sees every entry. */
static void sweep(shard *s, int64_t now_ms)
{
    size_t i = 0, n = s->mask + 1;
    int64_t min = INT64_MAX;

    while (i < n) {
        int64_t d = s->t[i].deadline;

        if (d != 0 && d < now_ms) {
            remove_at(s, i);
            continue;
        }
        if (d != 0 && d < min)
            min = d;
        i++;
    }
    s->min_deadline = min;
}

static pa_replay_result shard_check(shard *s, uint64_t k0, uint64_t k1,
                                    int64_t deadline, int64_t now_ms)
{
    int swept = 0;
    size_t i;

again:
    i = home(s, k0);
    while (s->t[i].deadline != 0) {
        const slot *e = &s->t[i];

        if (e->deadline < now_ms) {
            remove_at(s, i);     /* slot i now holds the next candidate */
            continue;
        }
        if (e->k0 == k0 && e->k1 == k1)
            return PA_REPLAY_SEEN;
        i = (i + 1) & s->mask;
    }
    if (s->used >= s->limit) {
        /* Full: a sweep can help only when some deadline may have passed. */
        if (swept || now_ms <= s->min_deadline)
            return PA_REPLAY_FULL;
        sweep(s, now_ms);
        swept = 1;
        goto again;
    }
    s->t[i].k0 = k0;
    s->t[i].k1 = k1;
    s->t[i].deadline = deadline;
    if (++s->used == 1 || deadline < s->min_deadline)
        s->min_deadline = deadline;
    return PA_REPLAY_FRESH;
}

/* ---- the cache ----------------------------------------------------------------- */

pa_err pa_replay_new(size_t max_entries, pa_replay **out)
{
    size_t nshards, limit, slots, i;
    pa_replay *r;

    *out = NULL;
    if (max_entries == 0)
        return PA_ERR_INVALID_REQUEST;
    nshards = max_entries >= (size_t)SHARDS * SHARD_MIN_ENTRIES ? SHARDS : 1;
    limit = max_entries / nshards;
    /* Slots: the power of two >= 2 x limit (at least 4). */
    if (limit > SIZE_MAX / 4 / sizeof(slot))
        return PA_ERR_UNKNOWN_ERROR;
    for (slots = 4; slots < 2 * limit; slots *= 2)
        ;
    r = calloc(1, sizeof *r + nshards * sizeof(shard));
    if (!r)
        return PA_ERR_UNKNOWN_ERROR;
    if (pa_random(r->key, sizeof r->key) != PA_OK) {
        free(r);
        return PA_ERR_UNKNOWN_ERROR;
    }
    r->nshards = nshards;
    for (i = 0; i < nshards; i++) {
        shard *s = &r->shards[i];

        if (!(s->t = calloc(slots, sizeof *s->t))
            || pthread_mutex_init(&s->lock, NULL) != 0) {
            free(s->t);
            s->t = NULL;
            r->nshards = i;
            pa_replay_free(r);
            return PA_ERR_UNKNOWN_ERROR;
        }
        s->mask = slots - 1;
        s->limit = limit;
        s->min_deadline = INT64_MAX;
        r->limit += limit;
    }
    *out = r;
    return PA_OK;
}

void pa_replay_free(pa_replay *r)
{
    size_t i;

    if (!r)
        return;
    for (i = 0; i < r->nshards; i++) {
        pthread_mutex_destroy(&r->shards[i].lock);
        free(r->shards[i].t);
    }
    OPENSSL_cleanse(r->key, sizeof r->key);
    free(r);
}

/* The fingerprint HMAC(key, BE32(len(a)) || a || b), first 16 bytes. */
static int fingerprint(const pa_replay *r, const uint8_t *a, size_t a_len,
                       const uint8_t *b, size_t b_len, uint64_t *k0,
                       uint64_t *k1)
{
    uint8_t stackbuf[256], *buf = stackbuf, mac[PA_SHA256_LEN];
    size_t n = 4 + a_len;
    pa_err e;

    if (a_len > UINT32_MAX || (!a && a_len) || (!b && b_len))
        return 0;
    if (n > sizeof stackbuf && !(buf = malloc(n)))
        return 0;
    buf[0] = (uint8_t)(a_len >> 24);
    buf[1] = (uint8_t)(a_len >> 16);
    buf[2] = (uint8_t)(a_len >> 8);
    buf[3] = (uint8_t)a_len;
    if (a_len)
        memcpy(buf + 4, a, a_len);
    e = pa_hmac2(r->key, sizeof r->key, buf, n, b, b_len, mac);
    if (buf != stackbuf)
        free(buf);
    if (e != PA_OK)
        return 0;
    *k0 = pa_u64(mac);
    *k1 = pa_u64(mac + 8);
    return 1;
}

void pa_replay_check(pa_replay *r, const uint8_t *a, size_t a_len,
                     const uint8_t *b, size_t b_len, int64_t expires_ms,
                     int64_t now_ms, pa_replay_result *result)
{
    uint64_t k0, k1;
    shard *s;

    *result = PA_REPLAY_FULL;
    if (!r || !fingerprint(r, a, a_len, b, b_len, &k0, &k1))
        return;
    if (expires_ms < now_ms) {
        *result = PA_REPLAY_SEEN;
        return;
    }
    if (expires_ms < 1)
        expires_ms = 1;
    s = &r->shards[(size_t)(k1 >> 32) & (r->nshards - 1)];
    pthread_mutex_lock(&s->lock);
    *result = shard_check(s, k0, k1, expires_ms, now_ms);
    pthread_mutex_unlock(&s->lock);
}

size_t pa_replay_count(pa_replay *r, int64_t now_ms)
{
    size_t i, j, n = 0;

    for (i = 0; r && i < r->nshards; i++) {
        shard *s = &r->shards[i];

        pthread_mutex_lock(&s->lock);
        for (j = 0; j <= s->mask; j++)
            n += s->t[j].deadline != 0 && s->t[j].deadline >= now_ms;
        pthread_mutex_unlock(&s->lock);
    }
    return n;
}

size_t pa_replay_capacity(const pa_replay *r)
{
    return r ? r->limit : 0;
}

/* ---- the shared cache ------------------------------------------------------------ */

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(pa_replay *) shared;

pa_err pa_replay_shared(size_t max_entries, pa_replay **out)
{
    pa_replay *r = atomic_load_explicit(&shared, memory_order_acquire);
    pa_err e = PA_OK;

    if (!r) {
        pthread_mutex_lock(&shared_lock);
        r = atomic_load_explicit(&shared, memory_order_relaxed);
        if (!r && (e = pa_replay_new(max_entries, &r)) == PA_OK)
            atomic_store_explicit(&shared, r, memory_order_release);
        pthread_mutex_unlock(&shared_lock);
    }
    *out = e == PA_OK ? r : NULL;
    return e;
}

void pa_replay_shared_free(void)
{
    pthread_mutex_lock(&shared_lock);
    pa_replay_free(atomic_exchange(&shared, NULL));
    pthread_mutex_unlock(&shared_lock);
}
