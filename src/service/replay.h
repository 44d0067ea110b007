/*
 * replay.h - a bounded, thread-safe memory of (tokenId, nonce) pairs, so
 * that ValidateToken accepts each pair once while its timestamp is inside
 * the validity window (paserver's addition to CRYPTO.md 10.3; the original
 * has no replay protection).
 *
 * A pair is remembered by a 128-bit key: HMAC-SHA256 under a random key
 * made when the cache is created, over BE32(len(a)) || a || b, truncated.
 * Keying the hash keeps a client who chooses its nonces from steering them
 * into one bucket; the length prefix keeps (a, b) pairs unambiguous.  Each
 * entry carries the instant its window ends; from then on the entry is
 * dead and its slot free again (the caller's timestamp rule refuses the
 * pair anyway once the window is over).
 *
 * Memory is fixed at creation: at most max_entries live pairs, in open
 * addressing tables (linear probing, at most half full, deletion by
 * backward shift, so no tombstones build up) split into shards with one
 * mutex each.  When a shard is full of live pairs the cache refuses new
 * ones (PA_REPLAY_FULL): the caller fails closed.  Dead entries met on a
 * probe are removed on the way; a full shard is swept once the earliest
 * deadline it may hold has passed, never while all its entries are
 * certainly alive, so refusing costs O(1).
 *
 * Times are whatever clock the caller passes (ms); the cache never reads a
 * clock itself.  An entry is alive while now_ms <= its deadline.
 */
#ifndef PA_SERVICE_REPLAY_H
#define PA_SERVICE_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct pa_replay pa_replay;

typedef enum pa_replay_result {
    PA_REPLAY_FRESH = 0, /* not seen in its window: now remembered */
    PA_REPLAY_SEEN,      /* alive in the cache: a replay */
    PA_REPLAY_FULL       /* not seen, but no room: refuse (fail closed) */
} pa_replay_result;

/* A cache for at most max_entries live pairs (>= 1).  Memory is allocated
 * now (48 to 96 bytes per entry; zero pages until used).
 * PA_ERR_INVALID_REQUEST for 0; PA_ERR_UNKNOWN_ERROR out of memory or
 * without randomness. */
pa_err pa_replay_new(size_t max_entries, pa_replay **out);

/* Frees the cache (NULL is fine).  No other thread may be using it. */
void pa_replay_free(pa_replay *r);

/* Checks the pair (a, b) and remembers it with the deadline expires_ms
 * when it is fresh; atomic against concurrent calls on the same pair
 * (exactly one of them gets PA_REPLAY_FRESH).  An expires_ms < now_ms
 * (already dead) is refused as PA_REPLAY_SEEN without being stored: the
 * caller should never get there.  *result is PA_REPLAY_FULL when the key
 * cannot be computed. */
void pa_replay_check(pa_replay *r, const uint8_t *a, size_t a_len,
                     const uint8_t *b, size_t b_len, int64_t expires_ms,
                     int64_t now_ms, pa_replay_result *result);

/* Live entries (dead ones still stored are not counted), for tests. */
size_t pa_replay_count(pa_replay *r, int64_t now_ms);

/* The most live entries the cache holds (<= max_entries given). */
size_t pa_replay_capacity(const pa_replay *r);

/* ---- the process-wide cache shared by all workers ------------------------- */

/* The shared cache, created by the first call with max_entries; later
 * calls return the same cache whatever they pass (the configuration does
 * not change while the server runs).  Thread-safe. */
pa_err pa_replay_shared(size_t max_entries, pa_replay **out);

/* Frees the shared cache (at shutdown, or between tests), so the next
 * pa_replay_shared creates a new one.  No other thread may be using it. */
void pa_replay_shared_free(void);

#endif
