/*
 * keycache.c - a direct-mapped table of derived keys keyed by activation id
 * (see keycache.h).
 *
 * Direct mapping keeps every operation O(1) with a single mutex held for
 * a copy of 80 bytes; a collision simply evicts the older entry, which
 * costs one ECDH later, never a wrong key: the id is compared in full.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "service/keycache.h"
#include "util/uuid.h"

typedef struct slot {
    char id[PA_UUID_BUF + 3];    /* room for ids a little over 36 chars */
    pa_derived_keys keys;
} slot;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static slot *slots;
static size_t nslots;
static long long hits, misses;

/* FNV-1a over the id: ids are random UUIDs, any mixing will do. */
static size_t index_of(const char *id)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 1099511628211ULL;
    return (size_t)(h % nslots);
}

static void wipe_all(void)
{
    if (slots) {
        OPENSSL_cleanse(slots, nslots * sizeof *slots);
        free(slots);
    }
    slots = NULL;
    nslots = 0;
}

pa_err pa_keycache_init(size_t entries)
{
    slot *s = entries ? calloc(entries, sizeof *s) : NULL;

    if (entries && !s)
        return PA_ERR_UNKNOWN_ERROR;
    pthread_mutex_lock(&lock);
    wipe_all();
    slots = s;
    nslots = entries;
    hits = misses = 0;
    pthread_mutex_unlock(&lock);
    return PA_OK;
}

void pa_keycache_free(void)
{
    pthread_mutex_lock(&lock);
    wipe_all();
    pthread_mutex_unlock(&lock);
}

int pa_keycache_get(const char *activation_id, pa_derived_keys *out)
{
    int found = 0;
    slot *s;

    if (!activation_id || strlen(activation_id) >= sizeof s->id)
        return 0;
    pthread_mutex_lock(&lock);
    if (nslots) {
        s = &slots[index_of(activation_id)];
        if ((found = strcmp(s->id, activation_id) == 0))
            *out = s->keys;
        if (found)
            hits++;
        else
            misses++;
    }
    pthread_mutex_unlock(&lock);
    return found;
}

void pa_keycache_put(const char *activation_id, const pa_derived_keys *keys)
{
    slot *s;

    if (!activation_id || strlen(activation_id) >= sizeof s->id)
        return;
    pthread_mutex_lock(&lock);
    if (nslots) {
        s = &slots[index_of(activation_id)];
        OPENSSL_cleanse(s, sizeof *s);
        strcpy(s->id, activation_id);
        s->keys = *keys;
    }
    pthread_mutex_unlock(&lock);
}

void pa_keycache_drop(const char *activation_id)
{
    slot *s;

    if (!activation_id)
        return;
    pthread_mutex_lock(&lock);
    if (nslots) {
        s = &slots[index_of(activation_id)];
        if (strcmp(s->id, activation_id) == 0)
            OPENSSL_cleanse(s, sizeof *s);
    }
    pthread_mutex_unlock(&lock);
}

void pa_keycache_stats(long long *h, long long *m)
{
    pthread_mutex_lock(&lock);
    *h = hits;
    *m = misses;
    pthread_mutex_unlock(&lock);
}
