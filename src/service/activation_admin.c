/*
 * activation_admin.c - what the bank's back office does with activations:
 * RemoveActivation, BlockActivation, UnblockActivation,
 * UpdateStatusForActivations (DATABASE.md 5.1, 5.6) and the lists
 * GetActivationListForUser, LookupActivations, ActivationHistory (5.4,
 * 5.11).
 *
 * Each change is one write transaction around read, check and save, so the
 * final state and the history always agree however many of these calls run
 * at once on one activation.
 */
#include <stdlib.h>
#include <string.h>

#include "service/activation_internal.h"
#include "service/lifecycle.h"
#include "service/recovery.h"
#include "util/timeutil.h"

/* One activation changed by `change` inside a write transaction. */
typedef pa_err (*change_fn)(pa_store *s, pa_store_activation *a, void *arg,
                            int64_t now, int *queued);

typedef struct change_unit {
    const char *op;
    const char *id;
    change_fn change;
    void *arg;
} change_unit;

static pa_err change_tx(const pa_act_env *env, void *arg, int *keep,
                        int *queued)
{
    change_unit *u = arg;
    pa_store_activation a = {0};
    pa_err e = pa_act_load(env->store, u->op, u->id, &a);

    (void)keep;
    if (e == PA_OK)
        e = u->change(env->store, &a, u->arg, pa_time_now_ms(), queued);
    pa_store_activation_free(&a);
    return e;
}

static pa_err with_activation(const pa_act_env *env, const char *op,
                              const char *id, change_fn change, void *arg)
{
    change_unit u = {op, id, change, arg};

    if (!id)
        return PA_ERR_INVALID_REQUEST;
    return pa_act_write(env, op, change_tx, &u);
}

/* ---- RemoveActivation -------------------------------------------------------- */

typedef struct remove_arg {
    const char *external_user_id;
    int revoke_recovery_codes;
} remove_arg;

static pa_err remove_one(pa_store *s, pa_store_activation *a, void *arg,
                         int64_t now, int *queued)
{
    remove_arg *r = arg;
    pa_err e;

    a->status = PA_STATUS_REMOVED;
    e = pa_lifecycle_save(s, a, NULL, r->external_user_id, 1, now, queued);
    /* revokeRecoveryCodes=true: every non-REVOKED code of the activation
     * is revoked in the same unit (DATABASE.md 5.8). */
    if (e == PA_OK && r->revoke_recovery_codes)
        e = pa_recovery_revoke_bound(s, a->activation_id, now);
    return e;
}

pa_err pa_activation_remove(const pa_act_env *env, const char *activation_id,
                            const char *external_user_id,
                            int revoke_recovery_codes)
{
    remove_arg r = {external_user_id, revoke_recovery_codes};

    return with_activation(env, "RemoveActivation", activation_id, remove_one,
                           &r);
}

/* ---- BlockActivation / UnblockActivation --------------------------------------- */

typedef struct block_arg {
    const char *reason;
    const char *external_user_id;
    int status;                  /* out */
    char *blocked_reason;        /* out */
} block_arg;

static pa_err block_one(pa_store *s, pa_store_activation *a, void *arg,
                        int64_t now, int *queued)
{
    block_arg *b = arg;
    pa_err e = PA_OK;

    if (a->status == PA_STATUS_ACTIVE) {
        free(a->blocked_reason);
        if (!(a->blocked_reason = strdup(b->reason ? b->reason
                                                   : "NOT_SPECIFIED")))
            return PA_ERR_UNKNOWN_ERROR;
        a->status = PA_STATUS_BLOCKED;
        e = pa_lifecycle_save(s, a, NULL, b->external_user_id, 1, now, queued);
    } else if (a->status != PA_STATUS_BLOCKED) {
        return PA_ERR_ACTIVATION_INCORRECT_STATE;
    }
    /* Already BLOCKED: nothing written, the stored reason is the answer. */
    if (e == PA_OK) {
        b->status = a->status;
        b->blocked_reason = a->blocked_reason;
        a->blocked_reason = NULL;
    }
    return e;
}

pa_err pa_activation_block(const pa_act_env *env, const char *activation_id,
                           const char *reason, const char *external_user_id,
                           int *status, char **blocked_reason)
{
    block_arg b = {reason, external_user_id, 0, NULL};
    pa_err e = with_activation(env, "BlockActivation", activation_id,
                               block_one, &b);

    if (e != PA_OK) {
        free(b.blocked_reason);
        b.blocked_reason = NULL;
    }
    *status = b.status;
    *blocked_reason = b.blocked_reason;
    return e;
}

static pa_err unblock_one(pa_store *s, pa_store_activation *a, void *arg,
                          int64_t now, int *queued)
{
    block_arg *b = arg;
    pa_err e = PA_OK;

    if (a->status == PA_STATUS_BLOCKED) {
        a->status = PA_STATUS_ACTIVE;
        a->failed_attempts = 0;
        free(a->blocked_reason);
        a->blocked_reason = NULL;
        e = pa_lifecycle_save(s, a, NULL, b->external_user_id, 1, now, queued);
    } else if (a->status != PA_STATUS_ACTIVE) {
        return PA_ERR_ACTIVATION_INCORRECT_STATE;
    }
    b->status = a->status;
    return e;
}

pa_err pa_activation_unblock(const pa_act_env *env, const char *activation_id,
                             const char *external_user_id, int *status)
{
    block_arg b = {NULL, external_user_id, 0, NULL};
    pa_err e = with_activation(env, "UnblockActivation", activation_id,
                               unblock_one, &b);

    *status = b.status;
    return e;
}

/* ---- UpdateStatusForActivations ------------------------------------------------- */

#define OP_STATUSES "UpdateStatusForActivations"

typedef struct statuses_unit {
    const char *const *ids;
    size_t n;
    int status;
} statuses_unit;

static pa_err update_statuses_tx(const pa_act_env *env, void *arg, int *keep,
                                 int *queued)
{
    statuses_unit *u = arg;
    pa_store *s = env->store;
    const char *const *ids = u->ids;
    size_t n = u->n;
    int status = u->status;
    int64_t now = pa_time_now_ms();
    pa_err e = PA_OK;
    size_t i;

    (void)keep;
    for (i = 0; i < n && e == PA_OK; i++) {
        pa_store_activation a = {0};

        if (!ids[i])
            e = PA_ERR_INVALID_REQUEST;
        else if ((e = pa_act_load(s, OP_STATUSES, ids[i], &a)) == PA_OK
                 && a.status != status) {
            a.status = status;
            e = pa_lifecycle_save(s, &a, NULL, NULL, 1, now, queued);
        }
        pa_store_activation_free(&a);
    }
    return e;
}

pa_err pa_activation_update_statuses(const pa_act_env *env,
                                     const char *const *ids, size_t n,
                                     int status)
{
    statuses_unit u = {ids, n, status};

    if (n == 0 || status < PA_STATUS_CREATED || status > PA_STATUS_REMOVED)
        return PA_ERR_INVALID_REQUEST;
    /* All or nothing: an unknown id leaves every activation as it was. */
    return pa_act_write(env, OP_STATUSES, update_statuses_tx, &u);
}

/* ---- lists ------------------------------------------------------------------------ */

#define OP_LIST "GetActivationListForUser"

/* Lazy expiry of the listed rows past their deadline, in one unit. */
static pa_err expire_listed_tx(const pa_act_env *env, void *arg, int *keep,
                               int *queued)
{
    const pa_store_activation_array *arr = arg;
    int64_t now = pa_time_now_ms();
    int expired;
    pa_err e = PA_OK;
    size_t i;

    (void)keep;
    for (i = 0; i < arr->count && e == PA_OK; i++) {
        pa_store_activation a = {0};

        if (!pa_lifecycle_is_expired(&arr->items[i], now))
            continue;
        e = pa_act_load(env->store, OP_LIST, arr->items[i].activation_id, &a);
        if (e == PA_OK)
            e = pa_lifecycle_expire_if_due(env->store, &a, now, &expired,
                                           queued);
        pa_store_activation_free(&a);
    }
    return e;
}

/* *changed = 1 when some listed row was expired (and so rewritten). */
static pa_err expire_listed(const pa_act_env *env,
                            pa_store_activation_array *arr, int *changed)
{
    int64_t now = pa_time_now_ms();
    int any = 0;
    size_t i;

    *changed = 0;
    for (i = 0; i < arr->count && !any; i++)
        any = pa_lifecycle_is_expired(&arr->items[i], now);
    if (!any)
        return PA_OK;
    *changed = 1;
    return pa_act_write(env, OP_LIST, expire_listed_tx, arr);
}

pa_err pa_activation_list_for_user(const pa_act_env *env, const char *user_id,
                                   int has_application_id,
                                   int64_t application_id,
                                   pa_store_activation_array *out)
{
    int changed = 0;
    pa_err e;

    memset(out, 0, sizeof *out);
    if (!user_id)
        return PA_ERR_INVALID_REQUEST;
    e = pa_store_activation_list_for_user(env->store, user_id,
                                          has_application_id, application_id,
                                          out);
    if (e == PA_OK)
        e = expire_listed(env, out, &changed);
    if (e == PA_OK && changed) {
        pa_store_activation_array_free(out);
        e = pa_store_activation_list_for_user(env->store, user_id,
                                              has_application_id,
                                              application_id, out);
    }
    if (e != PA_OK)
        pa_store_activation_array_free(out);
    return pa_act_store_failed(OP_LIST, e);
}

pa_err pa_activation_lookup(const pa_act_env *env,
                            const pa_store_activation_query *q,
                            pa_store_activation_array *out)
{
    memset(out, 0, sizeof *out);
    if (q->user_id_count == 0)
        return PA_ERR_INVALID_REQUEST;
    return pa_act_store_failed("LookupActivations",
                               pa_store_activation_lookup(env->store, q, out));
}

pa_err pa_activation_history(const pa_act_env *env, const char *activation_id,
                             int64_t from_ms, int64_t to_ms,
                             pa_store_history_array *out)
{
    memset(out, 0, sizeof *out);
    if (!activation_id)
        return PA_ERR_INVALID_REQUEST;
    return pa_act_store_failed("ActivationHistory",
                               pa_store_history_list(env->store, activation_id,
                                                     from_ms, to_ms, out));
}
