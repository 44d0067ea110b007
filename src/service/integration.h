/*
 * integration.h - integration credentials (CreateIntegration,
 * GetIntegrationList, RemoveIntegration; DATABASE.md 5.7).
 *
 * An integration is the identity a SOAP caller presents when access is
 * restricted: clientToken is the WS-Security Username, clientSecret the
 * password.  id, token and secret are three independent random UUIDs.
 */
#ifndef PA_SERVICE_INTEGRATION_H
#define PA_SERVICE_INTEGRATION_H

#include "store/store.h"
#include "util/err.h"

/* Creates an integration named `name` (required: NULL is
 * PA_ERR_INVALID_REQUEST; names need not be unique) with fresh UUID v4
 * id, client token and client secret.  *out is filled as stored (free
 * with pa_store_integration_free). */
pa_err pa_integration_create(pa_store *s, const char *name,
                             pa_store_integration *out);

/* Every integration, secrets included, in insertion order. */
pa_err pa_integration_list(pa_store *s, pa_store_integration_array *out);

/* Deletes by id; *removed = 0 when no integration had that id. */
pa_err pa_integration_remove(pa_store *s, const char *id, int *removed);

#endif
