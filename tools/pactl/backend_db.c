/*
 * backend_db.c - pactl on the database file itself.
 *
 * For bootstrapping a deployment before anything can call the server: the
 * file is created and migrated like the server does at start-up, and every
 * command goes through the server's own service functions (src/service),
 * so the rows written here are exactly the rows the SOAP operations would
 * write.  No SQL here; the store is the only thing that speaks it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/primitives.h"
#include "service/application.h"
#include "service/callback.h"
#include "service/integration.h"
#include "store/store.h"
#include "tools/pactl/pactl.h"

typedef struct db_backend {
    pactl_backend base;
    pa_store *store;
} db_backend;

/* A failure from the service layer.  For a generic error the store's
 * description (names of tables and constraints, never values) is added,
 * as that is all an operator has to go on. */
static int db_fail(pactl_fail *f, pa_err e)
{
    const char *why = pa_store_last_error();
    size_t n;

    pactl_fail_code(f, e);
    n = strlen(f->text);
    if (e == PA_ERR_UNKNOWN_ERROR && why != NULL && why[0] != '\0')
        snprintf(f->text + n, sizeof f->text - n, " (database: %s)", why);
    return -1;
}

static int no_memory(pactl_fail *f)
{
    pactl_fail_text(f, "out of memory");
    return -1;
}

/* ---- applications ------------------------------------------------------------- */

static json_t *version_json(const pa_store_version *v)
{
    return json_pack("{s:I,s:s?,s:s?,s:s?,s:b}",
                     "applicationVersionId", (json_int_t)v->id,
                     "applicationVersionName", v->name,
                     "applicationKey", v->application_key,
                     "applicationSecret", v->application_secret,
                     "supported", v->supported);
}

static json_t *detail_json(const pa_app_detail *d)
{
    json_t *versions = json_array();

    for (size_t i = 0; versions != NULL && i < d->versions.count; i++)
        if (json_array_append_new(versions, version_json(&d->versions.items[i])))
            break;
    if (versions == NULL || json_array_size(versions) != d->versions.count) {
        json_decref(versions);
        return NULL;
    }
    return json_pack("{s:I,s:s?,s:s?,s:o}",
                     "applicationId", (json_int_t)d->app.id,
                     "applicationName", d->app.name,
                     "masterPublicKey", d->master_public_key,
                     "versions", versions);
}

/* The application, its key and its first version, flat (app create). */
static json_t *created_json(const pa_app_detail *d)
{
    const pa_store_version *v = d->versions.count ? &d->versions.items[0] : NULL;

    if (v == NULL)
        return NULL;
    return json_pack("{s:I,s:s?,s:I,s:s?,s:s?,s:s?,s:s?}",
                     "applicationId", (json_int_t)d->app.id,
                     "applicationName", d->app.name,
                     "applicationVersionId", (json_int_t)v->id,
                     "applicationVersionName", v->name,
                     "applicationKey", v->application_key,
                     "applicationSecret", v->application_secret,
                     "masterPublicKey", d->master_public_key);
}

static int app_detail(pactl_backend *base, const pactl_req *r, json_t **out,
                      pactl_fail *f)
{
    db_backend *b = (db_backend *)base;
    pa_app_detail d;
    int by_name = r->op == PACTL_APP_SHOW && r->name != NULL;
    pa_err e = pa_application_detail(b->store, !by_name, r->id,
                                     by_name ? r->name : NULL, &d);

    if (e != PA_OK)
        return db_fail(f, e);
    switch (r->op) {
    case PACTL_APP_CREATE: *out = created_json(&d); break;
    case PACTL_APP_MASTER_KEY:
        *out = json_pack("{s:I,s:s?}", "applicationId", (json_int_t)d.app.id,
                         "masterPublicKey", d.master_public_key);
        break;
    default: *out = detail_json(&d); break;
    }
    pa_application_detail_free(&d);
    return *out != NULL ? 0 : no_memory(f);
}

static int app_create(pactl_backend *base, const pactl_req *r, json_t **out,
                      pactl_fail *f)
{
    db_backend *b = (db_backend *)base;
    pactl_req shown = *r;
    pa_err e = pa_application_create(b->store, r->name, &shown.id);

    if (e == PA_ERR_INVALID_REQUEST) {
        /* The name is always given here, so it is the one already taken. */
        db_fail(f, e);
        strncat(f->text, " (an application with this name exists)",
                sizeof f->text - strlen(f->text) - 1);
        return -1;
    }
    if (e != PA_OK)
        return db_fail(f, e);
    return app_detail(base, &shown, out, f);
}

static int app_list(pactl_backend *base, const pactl_req *r, json_t **out,
                    pactl_fail *f)
{
    db_backend *b = (db_backend *)base;

    (void)r;
    pa_store_application_array apps = {0};
    json_t *list;
    pa_err e = pa_application_list(b->store, &apps);

    if (e != PA_OK)
        return db_fail(f, e);
    list = json_array();
    for (size_t i = 0; list != NULL && i < apps.count; i++)
        json_array_append_new(list, json_pack("{s:I,s:s?}", "applicationId",
                                              (json_int_t)apps.items[i].id,
                                              "applicationName",
                                              apps.items[i].name));
    if (list != NULL && json_array_size(list) == apps.count)
        *out = json_pack("{s:O}", "applications", list);
    json_decref(list);
    pa_store_application_array_free(&apps);
    return *out != NULL ? 0 : no_memory(f);
}

/* ---- versions ------------------------------------------------------------------ */

static int version_create(pactl_backend *base, const pactl_req *r, json_t **out,
                          pactl_fail *f)
{
    db_backend *b = (db_backend *)base;
    pa_store_version v = {0};
    pa_err e = pa_application_version_create(b->store, r->id, r->name, &v);

    if (e != PA_OK)
        return db_fail(f, e);
    *out = version_json(&v);
    if (*out != NULL)
        json_object_set_new(*out, "applicationId", json_integer(r->id));
    pa_store_version_free(&v);
    return *out != NULL ? 0 : no_memory(f);
}

static int version_support(pactl_backend *base, const pactl_req *r, json_t **out,
                           pactl_fail *f)
{
    db_backend *b = (db_backend *)base;
    int supported = r->op == PACTL_VERSION_SUPPORT;
    pa_err e = pa_application_version_support(b->store, r->id, supported);

    if (e != PA_OK)
        return db_fail(f, e);
    *out = json_pack("{s:I,s:b}", "applicationVersionId", (json_int_t)r->id,
                     "supported", supported);
    return *out != NULL ? 0 : no_memory(f);
}

/* ---- integrations ------------------------------------------------------------ */

static json_t *integration_json(const pa_store_integration *i)
{
    return json_pack("{s:s?,s:s?,s:s?,s:s?}", "id", i->id, "name", i->name,
                     "clientToken", i->client_token,
                     "clientSecret", i->client_secret);
}

static int integration_create(pactl_backend *base, const pactl_req *r, json_t **out,
                              pactl_fail *f)
{
    db_backend *b = (db_backend *)base;
    pa_store_integration i = {0};
    pa_err e = pa_integration_create(b->store, r->name, &i);

    if (e != PA_OK)
        return db_fail(f, e);
    *out = integration_json(&i);
    pa_store_integration_free(&i);
    return *out != NULL ? 0 : no_memory(f);
}

static int integration_list(pactl_backend *base, const pactl_req *r, json_t **out,
                            pactl_fail *f)
{
    db_backend *b = (db_backend *)base;

    (void)r;
    pa_store_integration_array arr = {0};
    json_t *list;
    pa_err e = pa_integration_list(b->store, &arr);

    if (e != PA_OK)
        return db_fail(f, e);
    list = json_array();
    for (size_t i = 0; list != NULL && i < arr.count; i++)
        json_array_append_new(list, integration_json(&arr.items[i]));
    if (list != NULL && json_array_size(list) == arr.count)
        *out = json_pack("{s:O}", "integrations", list);
    json_decref(list);
    pa_store_integration_array_free(&arr);
    return *out != NULL ? 0 : no_memory(f);
}

/* ---- callbacks --------------------------------------------------------------- */

static json_t *callback_json(const pa_store_callback *c)
{
    return json_pack("{s:s?,s:I,s:s?,s:s?}", "id", c->id,
                     "applicationId", (json_int_t)c->application_id,
                     "name", c->name, "callbackUrl", c->url);
}

static int callback_create(pactl_backend *base, const pactl_req *r, json_t **out,
                           pactl_fail *f)
{
    db_backend *b = (db_backend *)base;
    pa_store_callback c = {0};
    pa_err e = pa_callback_create(b->store, r->id, r->name, r->url, &c);

    if (e != PA_OK)
        return db_fail(f, e);
    *out = callback_json(&c);
    pa_store_callback_free(&c);
    return *out != NULL ? 0 : no_memory(f);
}

static int callback_list(pactl_backend *base, const pactl_req *r, json_t **out,
                         pactl_fail *f)
{
    db_backend *b = (db_backend *)base;
    pa_store_callback_array arr = {0};
    json_t *list;
    pa_err e = pa_callback_list(b->store, r->id, &arr);

    if (e != PA_OK)
        return db_fail(f, e);
    list = json_array();
    for (size_t i = 0; list != NULL && i < arr.count; i++)
        json_array_append_new(list, callback_json(&arr.items[i]));
    if (list != NULL && json_array_size(list) == arr.count)
        *out = json_pack("{s:O}", "callbacks", list);
    json_decref(list);
    pa_store_callback_array_free(&arr);
    return *out != NULL ? 0 : no_memory(f);
}

/* ---- removal (integrations and callbacks) ----------------------------------- */

static int remove_by_id(pactl_backend *base, const pactl_req *r, json_t **out,
                        pactl_fail *f)
{
    db_backend *b = (db_backend *)base;
    int removed = 0;
    pa_err e = r->op == PACTL_CALLBACK_REMOVE
                   ? pa_callback_remove(b->store, r->key, &removed)
                   : pa_integration_remove(b->store, r->key, &removed);

    if (e != PA_OK)
        return db_fail(f, e);
    *out = json_pack("{s:s,s:b}", "id", r->key, "removed", removed);
    return *out != NULL ? 0 : no_memory(f);
}

/* ---- backend ------------------------------------------------------------------ */

static void db_close(pactl_backend *base)
{
    db_backend *b = (db_backend *)base;

    pa_store_close(b->store);
    free(b);
}

static const pactl_ops db_ops = {
    .app_create = app_create,
    .app_list = app_list,
    .app_detail = app_detail,
    .version_create = version_create,
    .version_support = version_support,
    .integration_create = integration_create,
    .integration_list = integration_list,
    .callback_create = callback_create,
    .callback_list = callback_list,
    .remove_by_id = remove_by_id,
    .close = db_close,
};

int pactl_db_open(const char *path, pactl_backend **out, pactl_fail *f)
{
    db_backend *b;
    pa_err e;

    *out = NULL;
    if (pa_crypto_init() != PA_OK) {
        pactl_fail_text(f, "OpenSSL lacks an algorithm paserver needs");
        return -1;
    }
    if ((e = pa_store_migrate(path, NULL)) != PA_OK
        || (b = calloc(1, sizeof *b)) == NULL) {
        pactl_fail_text(f, "database %s: %s", path,
                        e != PA_OK ? pa_store_last_error() : "out of memory");
        return -1;
    }
    if ((e = pa_store_open(path, NULL, &b->store)) != PA_OK) {
        pactl_fail_text(f, "database %s: %s", path, pa_store_last_error());
        free(b);
        return -1;
    }
    b->base.ops = &db_ops;
    *out = &b->base;
    return 0;
}
