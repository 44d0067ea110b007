/*
 * lifecycle.h - the one way an activation's state change is saved
 * (DATABASE.md 5.1): the row, its history row and, where the change
 * notifies the application, the callback outbox rows - all inside the
 * caller's write transaction, so they commit or roll back together.
 */
#ifndef PA_SERVICE_LIFECYCLE_H
#define PA_SERVICE_LIFECYCLE_H

#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

/* Inside an open write transaction: sets a->last_change_ms = now_ms,
 * updates the row, adds a history row (a->status; event_reason, which is
 * replaced by a->blocked_reason when the status is BLOCKED;
 * external_user_id) and, when notify is set, the outbox rows of the
 * application's callback URLs.  *queued (may be NULL) is incremented by
 * the number of outbox rows written, so the caller can wake the delivery
 * thread after commit.  The activation must exist (else
 * PA_ERR_ACTIVATION_NOT_FOUND). */
pa_err pa_lifecycle_save(pa_store *s, pa_store_activation *a,
                         const char *event_reason,
                         const char *external_user_id, int notify,
                         int64_t now_ms, int *queued);

/* The history row and outbox rows of a row just inserted (InitActivation):
 * a->last_change_ms must already equal now_ms in the inserted row. */
pa_err pa_lifecycle_log_insert(pa_store *s, const pa_store_activation *a,
                               int64_t now_ms, int *queued);

/* Lazy expiry (DATABASE.md 5.4): when a is CREATED or PENDING_COMMIT and
 * now_ms > a->expire_ms, sets REMOVED and saves it with history and
 * callback (must be inside a write transaction); *expired = 1 then. */
pa_err pa_lifecycle_expire_if_due(pa_store *s, pa_store_activation *a,
                                  int64_t now_ms, int *expired, int *queued);

/* true when a is CREATED or PENDING_COMMIT and past its deadline. */
int pa_lifecycle_is_expired(const pa_store_activation *a, int64_t now_ms);

#endif
