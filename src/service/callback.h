/*
 * callback.h - callback URLs of applications (CreateCallbackUrl,
 * GetCallbackUrlList, RemoveCallbackUrl; DATABASE.md 5.3, 5.11, 5.12).
 *
 * A callback URL is where the server POSTs activation status changes, so
 * only URLs it can deliver to are accepted (pa_callback_url_valid).
 */
#ifndef PA_SERVICE_CALLBACK_H
#define PA_SERVICE_CALLBACK_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

/* true when url is an absolute http or https URL (scheme in any case)
 * with a non-empty host - a DNS-style name, an IPv4 address or a
 * bracketed IPv6 address - an optional userinfo, an optional port
 * 1..65535 (an empty port means the default), any path, query and
 * fragment, and no space or control character anywhere.  NULL gives
 * false. */
bool pa_callback_url_valid(const char *url);

/* Creates a callback URL for an application.  name and url are required
 * (NULL: PA_ERR_INVALID_REQUEST; the empty name is accepted); a url that
 * fails pa_callback_url_valid: PA_ERR_INVALID_URL_FORMAT; an unknown
 * application: PA_ERR_INVALID_APPLICATION.  Checked in that order, all
 * before anything is written.  *out is filled as stored (free with
 * pa_store_callback_free). */
pa_err pa_callback_create(pa_store *s, int64_t application_id,
                          const char *name, const char *url,
                          pa_store_callback *out);

/* Callback URLs of an application ordered by name (none, also for an
 * unknown application: count 0). */
pa_err pa_callback_list(pa_store *s, int64_t application_id,
                        pa_store_callback_array *out);

/* Deletes by id; *removed = 0 when no callback had that id. */
pa_err pa_callback_remove(pa_store *s, const char *id, int *removed);

#endif
