/*
 * keycache.h - the derived keys of recently used activations, in memory.
 *
 * Every signature verification and status blob needs the activation's
 * derived keys, and deriving them costs one ECDH (~70-95 us) - more than
 * the rest of a verification.  The keys of an activation never change
 * (they come from two key pairs fixed at the key exchange), so a bounded
 * cache may keep them: entries are wiped when evicted, dropped on every
 * status change of their activation (pa_lifecycle_save), and the whole
 * cache is off when its size is 0.  Thread-safe.
 */
#ifndef PA_SERVICE_KEYCACHE_H
#define PA_SERVICE_KEYCACHE_H

#include <stddef.h>

#include "crypto/keys.h"
#include "util/err.h"

/* Sizes the cache (entries; 0 = off), dropping what it held.  Call before
 * the workers start and again only when none run. */
pa_err pa_keycache_init(size_t entries);

/* Wipes and frees everything (safe when never initialised). */
void pa_keycache_free(void);

/* 1 and the keys when cached, else 0 (out untouched). */
int pa_keycache_get(const char *activation_id, pa_derived_keys *out);

/* Remembers the keys of an activation (evicting, wiped, whatever shared
 * its slot). */
void pa_keycache_put(const char *activation_id, const pa_derived_keys *keys);

/* Forgets an activation's keys (wiped). */
void pa_keycache_drop(const char *activation_id);

/* Hits and misses since init (for tests and the benchmark). */
void pa_keycache_stats(long long *hits, long long *misses);

#endif
