/*
 * lifecycle.c - saving an activation's state change with its history row
 * and callback outbox rows (DATABASE.md 5.1, 5.3, 5.4).
 *
 * Every writer of an activation's status goes through here, so the rule
 * "each logged save writes one history row whose time equals
 * timestamp_last_change, and BLOCKED rows carry the blocked reason" lives
 * in one place, and so does the outbox: a callback is a row written in the
 * caller's transaction, sent by the delivery thread only after commit.
 */
#include "service/lifecycle.h"

#include "service/keycache.h"
#include "util/log.h"
#include "util/uuid.h"

/* The outbox rows of one state change: one per callback URL. */
static pa_err queue_callbacks(pa_store *s, const pa_store_activation *a,
                              int64_t now_ms, int *queued)
{
    char event_id[PA_UUID_BUF];
    int rows = 0;
    pa_err e = pa_uuid_v4(event_id);

    if (e == PA_OK)
        e = pa_store_outbox_add(s, event_id, a->application_id,
                                a->activation_id, now_ms, &rows);
    if (e == PA_OK && queued)
        *queued += rows;
    return e;
}

static pa_err log_change(pa_store *s, const pa_store_activation *a,
                         const char *event_reason,
                         const char *external_user_id, int notify,
                         int64_t now_ms, int *queued)
{
    const char *reason = a->status == PA_STATUS_BLOCKED ? a->blocked_reason
                                                        : event_reason;
    pa_err e = pa_store_history_add(s, a->activation_id, a->status, reason,
                                    external_user_id, now_ms);

    if (e == PA_OK && notify)
        e = queue_callbacks(s, a, now_ms, queued);
    return e;
}

pa_err pa_lifecycle_save(pa_store *s, pa_store_activation *a,
                         const char *event_reason,
                         const char *external_user_id, int notify,
                         int64_t now_ms, int *queued)
{
    int found = 0;
    pa_err e;

    /* Whatever the change, cached keys of this activation go (keycache.h). */
    pa_keycache_drop(a->activation_id);
    a->last_change_ms = now_ms;
    a->has_last_change = 1;
    if ((e = pa_store_activation_update(s, a, &found)) != PA_OK)
        return e;
    if (!found)
        return PA_ERR_ACTIVATION_NOT_FOUND;
    return log_change(s, a, event_reason, external_user_id, notify, now_ms,
                      queued);
}

pa_err pa_lifecycle_log_insert(pa_store *s, const pa_store_activation *a,
                               int64_t now_ms, int *queued)
{
    return log_change(s, a, NULL, NULL, 1, now_ms, queued);
}

int pa_lifecycle_is_expired(const pa_store_activation *a, int64_t now_ms)
{
    return (a->status == PA_STATUS_CREATED
            || a->status == PA_STATUS_PENDING_COMMIT)
           && now_ms > a->expire_ms;
}

pa_err pa_lifecycle_expire_if_due(pa_store *s, pa_store_activation *a,
                                  int64_t now_ms, int *expired, int *queued)
{
    *expired = 0;
    if (!pa_lifecycle_is_expired(a, now_ms))
        return PA_OK;
    a->status = PA_STATUS_REMOVED;
    *expired = 1;
    return pa_lifecycle_save(s, a, NULL, NULL, 1, now_ms, queued);
}
