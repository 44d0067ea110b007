/*
 * application.c - applications, versions and master key pairs
 * (DATABASE.md 5.9, 5.10).
 *
 * CreateApplication writes three rows (application, master key pair,
 * version "default"); they go into one store transaction so that a failure
 * half-way - a duplicate name, a full disk - leaves no application without
 * keys behind.  Key material is made here, from the crypto layer, and only
 * its Base64 text reaches the store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/eckey.h"
#include "crypto/primitives.h"
#include "service/application.h"
#include "util/base64.h"
#include "util/log.h"
#include "util/timeutil.h"

#define KEY_B64_BUF (PA_B64_ENCLEN(PA_APP_KEY_BYTES) + 1)

/* A store failure other than "not found" is logged with the store's own
 * description, which names tables and constraints, never values. */
static pa_err store_failed(const char *what, pa_err e)
{
    if (e == PA_ERR_UNKNOWN_ERROR)
        pa_log_error("%s: %s", what, pa_store_last_error());
    return e;
}

/* Base64 of PA_APP_KEY_BYTES fresh random bytes (applicationKey/Secret). */
static pa_err random_key_b64(char out[KEY_B64_BUF])
{
    uint8_t raw[PA_APP_KEY_BYTES];
    pa_err e = pa_random(raw, sizeof raw);

    if (e == PA_OK)
        pa_b64_encode(raw, sizeof raw, out);
    OPENSSL_cleanse(raw, sizeof raw);
    return e;
}

pa_err pa_application_list(pa_store *s, pa_store_application_array *out)
{
    return store_failed("GetApplicationList", pa_store_application_list(s, out));
}

void pa_application_detail_free(pa_app_detail *d)
{
    if (!d)
        return;
    pa_store_application_free(&d->app);
    free(d->master_public_key);
    pa_store_version_array_free(&d->versions);
    memset(d, 0, sizeof *d);
}

/* Fills the key and versions of an application already found. */
static pa_err detail_fill(pa_store *s, pa_app_detail *d)
{
    pa_store_master_keypair kp;
    int found = 0;
    pa_err e = pa_store_master_keypair_latest(s, d->app.id, &kp, &found);

    if (e != PA_OK)
        return store_failed("GetApplicationDetail", e);
    if (!found)
        return PA_ERR_NO_MASTER_SERVER_KEYPAIR;
    /* Keep only the public half; _free wipes the private one. */
    d->master_public_key = kp.public_key_base64;
    kp.public_key_base64 = NULL;
    pa_store_master_keypair_free(&kp);
    if (!d->master_public_key)
        return PA_ERR_NO_MASTER_SERVER_KEYPAIR;
    e = pa_store_version_list(s, d->app.id, &d->versions);
    return store_failed("GetApplicationDetail", e);
}

/* Reads the detail from the store, one snapshot. */
static pa_err detail_read(pa_store *s, int has_id, int64_t id, const char *name,
                          pa_app_detail *out)
{
    int found = 0;
    pa_err e;

    /* Application, key pair and versions from one snapshot. */
    if ((e = pa_store_begin_read(s)) != PA_OK)
        return store_failed("GetApplicationDetail", e);
    e = has_id ? pa_store_application_get(s, id, &out->app, &found)
               : pa_store_application_get_by_name(s, name, &out->app, &found);
    if (e != PA_OK)
        e = store_failed("GetApplicationDetail", e);
    else if (!found)
        e = PA_ERR_INVALID_APPLICATION;
    else
        e = detail_fill(s, out);
    pa_store_rollback(s);                   /* nothing was written */
    if (e != PA_OK)
        pa_application_detail_free(out);
    return e;
}

/* --- the detail cache --------------------------------------------------------
 *
 * GetApplicationDetail is what middleware asks most often and what changes
 * least, so each store connection keeps the last few answers and the
 * store's generation they were read under.  Any commit by anyone (another
 * worker, pactl) or a write on the connection changes the generation and
 * empties the cache: a cached answer is never older than the database.
 * The cache holds application secrets like the store's own page cache
 * does; they are wiped when dropped. */

#define DETAIL_CACHE_ENTRIES 8

typedef struct detail_cache {
    pa_store_generation gen;
    int n, next;                /* entries used; the next to replace */
    pa_app_detail d[DETAIL_CACHE_ENTRIES];
} detail_cache;

static void cache_clear(detail_cache *c)
{
    for (int i = 0; i < c->n; i++)
        pa_application_detail_free(&c->d[i]);
    c->n = c->next = 0;
}

static void cache_free(void *p)
{
    if (p) {
        cache_clear(p);
        free(p);
    }
}

static char *dup_or_null(const char *v, int *ok)
{
    char *d;

    if (!v)
        return NULL;
    if ((d = strdup(v)) == NULL)
        *ok = 0;
    return d;
}

/* A deep copy; 0 when out of memory (dst is then freed and zeroed). */
static int detail_copy(const pa_app_detail *src, pa_app_detail *dst)
{
    int ok = 1;

    memset(dst, 0, sizeof *dst);
    dst->app.id = src->app.id;
    dst->app.name = dup_or_null(src->app.name, &ok);
    dst->master_public_key = dup_or_null(src->master_public_key, &ok);
    if (src->versions.count > 0) {
        dst->versions.items = calloc(src->versions.count, sizeof *dst->versions.items);
        if (dst->versions.items == NULL)
            ok = 0;
        else
            dst->versions.count = src->versions.count;
    }
    for (size_t i = 0; ok && i < dst->versions.count; i++) {
        const pa_store_version *a = &src->versions.items[i];
        pa_store_version *b = &dst->versions.items[i];

        b->id = a->id;
        b->application_id = a->application_id;
        b->supported = a->supported;
        b->name = dup_or_null(a->name, &ok);
        b->application_key = dup_or_null(a->application_key, &ok);
        b->application_secret = dup_or_null(a->application_secret, &ok);
    }
    if (!ok)
        pa_application_detail_free(dst);
    return ok;
}

/* The connection's cache, emptied unless still of generation g; NULL
 * when there is none and none can be made. */
static detail_cache *cache_of(pa_store *s, const pa_store_generation *g)
{
    detail_cache *c = pa_store_memo(s);

    if (c == NULL) {
        if ((c = calloc(1, sizeof *c)) == NULL)
            return NULL;
        pa_store_set_memo(s, c, cache_free);
    } else if (!pa_store_same_generation(&c->gen, g))
        cache_clear(c);
    c->gen = *g;
    return c;
}

static pa_app_detail *cache_find(detail_cache *c, int has_id, int64_t id, const char *name)
{
    for (int i = 0; i < c->n; i++) {
        pa_app_detail *d = &c->d[i];

        if (has_id ? d->app.id == id
                   : d->app.name != NULL && strcmp(d->app.name, name) == 0)
            return d;
    }
    return NULL;
}

static void cache_put(detail_cache *c, const pa_app_detail *d)
{
    pa_app_detail *slot;

    if (c->n < DETAIL_CACHE_ENTRIES)
        slot = &c->d[c->n++];
    else {
        slot = &c->d[c->next];
        c->next = (c->next + 1) % DETAIL_CACHE_ENTRIES;
        pa_application_detail_free(slot);
    }
    if (!detail_copy(d, slot))
        *slot = c->d[--c->n];   /* keep the used entries together */
}

pa_err pa_application_detail(pa_store *s, int has_id, int64_t id,
                             const char *name, pa_app_detail *out)
{
    pa_store_generation g;
    detail_cache *c = NULL;
    pa_app_detail *hit;
    pa_err e;

    memset(out, 0, sizeof *out);
    /* The original refuses both and neither alike (error-codes.tsv). */
    if ((has_id != 0) == (name != NULL))
        return PA_ERR_INVALID_REQUEST;
    /* the generation first: what is read after it is at least as new */
    if (pa_store_generation_get(s, &g) == PA_OK)
        c = cache_of(s, &g);
    if (c != NULL && (hit = cache_find(c, has_id, id, name)) != NULL)
        return detail_copy(hit, out) ? PA_OK : PA_ERR_UNKNOWN_ERROR;
    e = detail_read(s, has_id, id, name, out);
    if (e == PA_OK && c != NULL)
        cache_put(c, out);
    return e;
}

pa_err pa_application_lookup_by_key(pa_store *s, const char *application_key,
                                    int64_t *application_id)
{
    pa_store_version v;
    int found = 0;
    pa_err e;

    if (!application_key)
        return PA_ERR_INVALID_REQUEST;
    e = pa_store_version_get_by_key(s, application_key, &v, &found);
    if (e != PA_OK)
        return store_failed("LookupApplicationByAppKey", e);
    if (!found)
        return PA_ERR_INVALID_APPLICATION;
    *application_id = v.application_id;
    pa_store_version_free(&v);
    return PA_OK;
}

/* Generates the master key pair and stores it for the application. */
static pa_err create_master_keypair(pa_store *s, int64_t app_id,
                                    const char *app_name)
{
    pa_eckey *k = NULL;
    char *priv = NULL, *pub = NULL, *name = NULL;
    size_t n = strlen(app_name) + sizeof " Default Keypair";
    int64_t kp_id;
    pa_err e;

    if (!(name = malloc(n)))
        return PA_ERR_UNKNOWN_ERROR;
    snprintf(name, n, "%s Default Keypair", app_name);
    if ((e = pa_ec_generate(&k)) == PA_OK &&
        (e = pa_ec_priv_export_b64(k, &priv)) == PA_OK &&
        (e = pa_ec_pub_export_b64(k, &pub)) == PA_OK)
        e = store_failed("CreateApplication",
                         pa_store_master_keypair_create(s, app_id, name, priv, pub,
                                                        pa_time_now_ms(), &kp_id));
    pa_ec_free(k);
    if (priv)
        pa_secure_free(priv, strlen(priv));
    free(pub);
    free(name);
    return e;
}

/* Inserts a supported version with a fresh key and secret; *id, and the
 * key and secret text when the caller wants them (NULL buffers: not). */
static pa_err insert_version(pa_store *s, int64_t app_id, const char *name,
                             int64_t *id, char key[KEY_B64_BUF],
                             char secret[KEY_B64_BUF])
{
    char k[KEY_B64_BUF], sec[KEY_B64_BUF];
    pa_err e;

    if ((e = random_key_b64(k)) == PA_OK && (e = random_key_b64(sec)) == PA_OK)
        e = pa_store_version_create(s, app_id, name, k, sec, id);
    if (e == PA_OK && key && secret) {
        memcpy(key, k, sizeof k);
        memcpy(secret, sec, sizeof sec);
    }
    OPENSSL_cleanse(sec, sizeof sec);
    return e;
}

static pa_err create_rows(pa_store *s, const char *name, int64_t *id)
{
    int64_t version_id;
    pa_err e;

    if ((e = pa_store_application_create(s, name, id)) != PA_OK)
        return store_failed("CreateApplication", e);
    if ((e = create_master_keypair(s, *id, name)) != PA_OK)
        return e;
    e = insert_version(s, *id, PA_APP_DEFAULT_VERSION, &version_id, NULL, NULL);
    return store_failed("CreateApplication", e);
}

pa_err pa_application_create(pa_store *s, const char *name, int64_t *id)
{
    pa_err e;

    if (!name || !id)
        return PA_ERR_INVALID_REQUEST;
    if ((e = pa_store_begin(s)) != PA_OK)
        return store_failed("CreateApplication", e);
    if ((e = create_rows(s, name, id)) == PA_OK)
        e = store_failed("CreateApplication", pa_store_commit(s));
    else
        pa_store_rollback(s);
    if (e != PA_OK)
        *id = 0;
    return e;
}

pa_err pa_application_version_create(pa_store *s, int64_t application_id,
                                     const char *name, pa_store_version *out)
{
    pa_store_application app;
    char key[KEY_B64_BUF], secret[KEY_B64_BUF];
    int found = 0;
    pa_err e;

    memset(out, 0, sizeof *out);
    if (!name)
        return PA_ERR_INVALID_REQUEST;
    /* Checked first so an unknown application is ERR0015, not the
     * foreign-key failure the insert would meet. */
    if ((e = pa_store_application_get(s, application_id, &app, &found)) != PA_OK)
        return store_failed("CreateApplicationVersion", e);
    pa_store_application_free(&app);
    if (!found)
        return PA_ERR_INVALID_APPLICATION;
    e = insert_version(s, application_id, name, &out->id, key, secret);
    if (e != PA_OK)
        return store_failed("CreateApplicationVersion", e);
    out->application_id = application_id;
    out->supported = 1;
    out->name = strdup(name);
    out->application_key = strdup(key);
    out->application_secret = strdup(secret);
    OPENSSL_cleanse(secret, sizeof secret);
    if (!out->name || !out->application_key || !out->application_secret) {
        pa_store_version_free(out);
        return PA_ERR_UNKNOWN_ERROR;
    }
    return PA_OK;
}

pa_err pa_application_version_support(pa_store *s, int64_t version_id,
                                      int supported)
{
    int found = 0;
    pa_err e = pa_store_version_set_supported(s, version_id, supported, &found);

    if (e != PA_OK)
        return store_failed(supported ? "SupportApplicationVersion"
                                      : "UnsupportApplicationVersion", e);
    return found ? PA_OK : PA_ERR_INVALID_APPLICATION;
}
