/*
 * integration.c - integration credentials (DATABASE.md 5.7).
 *
 * The original draws id, clientToken and clientSecret from three separate
 * UUID.randomUUID() calls; so does this.  A collision of the client token
 * (the only unique column besides the id) among 2^122 values is not
 * retried, as in the original (DATABASE.md 5.9).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "service/integration.h"
#include "util/log.h"
#include "util/uuid.h"

static pa_err store_failed(const char *what, pa_err e)
{
    if (e == PA_ERR_UNKNOWN_ERROR)
        pa_log_error("%s: %s", what, pa_store_last_error());
    return e;
}

static char *dup_or_null(const char *s, int *oom)
{
    char *d;

    if (!s)
        return NULL;
    if (!(d = strdup(s)))
        *oom = 1;
    return d;
}

pa_err pa_integration_create(pa_store *s, const char *name,
                             pa_store_integration *out)
{
    char id[PA_UUID_BUF], token[PA_UUID_BUF], secret[PA_UUID_BUF];
    int oom = 0;
    pa_err e;

    memset(out, 0, sizeof *out);
    if (!name)
        return PA_ERR_INVALID_REQUEST;
    if ((e = pa_uuid_v4(id)) != PA_OK || (e = pa_uuid_v4(token)) != PA_OK ||
        (e = pa_uuid_v4(secret)) != PA_OK)
        goto done;
    e = store_failed("CreateIntegration",
                     pa_store_integration_create(s, id, name, token, secret));
    if (e != PA_OK)
        goto done;
    out->id = dup_or_null(id, &oom);
    out->name = dup_or_null(name, &oom);
    out->client_token = dup_or_null(token, &oom);
    out->client_secret = dup_or_null(secret, &oom);
    if (oom) {
        pa_store_integration_free(out);
        e = PA_ERR_UNKNOWN_ERROR;
    }
done:
    OPENSSL_cleanse(secret, sizeof secret);
    return e;
}

pa_err pa_integration_list(pa_store *s, pa_store_integration_array *out)
{
    return store_failed("GetIntegrationList", pa_store_integration_list(s, out));
}

pa_err pa_integration_remove(pa_store *s, const char *id, int *removed)
{
    *removed = 0;
    if (!id)
        return PA_ERR_INVALID_REQUEST;
    return store_failed("RemoveIntegration",
                        pa_store_integration_remove(s, id, removed));
}
