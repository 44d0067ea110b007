/*
 * activation_commit.c - CommitActivation and UpdateActivationOtp
 * (CRYPTO.md 6.5; DATABASE.md 5.1, 5.4).
 *
 * Argon2 (hashing a new OTP, verifying a given one) runs before the write
 * transaction; the transaction re-reads the row, so a concurrent change of
 * state or OTP is never lost: 32 parallel commits of one activation give
 * one ACTIVE history row and ERR0008 for the others.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto/password.h"
#include "crypto/primitives.h"
#include "service/activation_internal.h"
#include "service/lifecycle.h"
#include "service/recovery.h"
#include "util/timeutil.h"

/* Loads the row for the operation inside the transaction and applies lazy
 * expiry; *keep is set when the expiry wrote something. */
static pa_err load_unexpired(pa_store *s, const char *op, const char *id,
                             pa_store_activation *a, int64_t now, int *keep,
                             int *queued)
{
    int expired = 0;
    pa_err e = pa_act_load(s, op, id, a);

    if (e == PA_OK)
        e = pa_act_store_failed(op, pa_lifecycle_expire_if_due(s, a, now,
                                                               &expired,
                                                               queued));
    *keep = e == PA_OK && expired;
    return e;
}

#define OP_COMMIT "CommitActivation"

typedef struct otp_unit {
    const char *id;
    const char *external_user_id;
    const char *otp;             /* Commit: the OTP given */
    const char *verified_hash;   /* Commit: the hash it was verified against */
    int match;
    const char *hash;            /* UpdateActivationOtp: the new hash */
} otp_unit;

static pa_err commit_tx(const pa_act_env *env, void *arg, int *keep,
                        int *queued)
{
    otp_unit *u = arg;
    const char *id = u->id, *external_user_id = u->external_user_id;
    int64_t now = pa_time_now_ms();
    pa_store_activation a = {0};
    pa_err e = load_unexpired(env->store, OP_COMMIT, id, &a, now, keep, queued);

    if (e != PA_OK)
        goto out;
    if (a.status == PA_STATUS_REMOVED) {
        e = PA_ERR_ACTIVATION_EXPIRED;
        goto out;
    }
    if (a.status != PA_STATUS_PENDING_COMMIT) {
        e = PA_ERR_ACTIVATION_INCORRECT_STATE;
        goto out;
    }
    e = pa_act_check_otp(env->store, &a, PA_OTP_ON_COMMIT, u->otp,
                         u->verified_hash, u->match, external_user_id, now,
                         keep, queued);
    if (e != PA_OK)
        goto out;
    a.status = PA_STATUS_ACTIVE;
    e = pa_act_store_failed(OP_COMMIT,
                            pa_lifecycle_save(env->store, &a, NULL,
                                              external_user_id, 1, now, queued));
    /* The activation's CREATED recovery codes become ACTIVE (DATABASE.md
     * 5.8), in the same unit. */
    if (e == PA_OK)
        e = pa_recovery_activate_bound(env->store, a.activation_id, now);
out:
    pa_store_activation_free(&a);
    return e;
}

pa_err pa_activation_commit(const pa_act_env *env, const char *activation_id,
                            const char *external_user_id, const char *otp)
{
    pa_store_activation pre;
    otp_unit u = {activation_id, external_user_id, otp, NULL, 0, NULL};
    pa_err e;

    memset(&pre, 0, sizeof pre);
    if (!activation_id)
        return PA_ERR_INVALID_REQUEST;
    /* Argon2 before the lock, against the hash stored now. */
    e = pa_act_load(env->store, OP_COMMIT, activation_id, &pre);
    if (e != PA_OK)
        return e;
    if (otp && pre.otp_validation == PA_OTP_ON_COMMIT && pre.activation_otp
        && pre.status == PA_STATUS_PENDING_COMMIT) {
        pa_act_otp_verify(otp, pre.activation_otp, &u.match);
        u.verified_hash = pre.activation_otp;
    }
    e = pa_act_write(env, OP_COMMIT, commit_tx, &u);
    pa_store_activation_free(&pre);
    return e;
}

#define OP_OTP "UpdateActivationOtp"

static pa_err update_otp_tx(const pa_act_env *env, void *arg, int *keep,
                            int *queued)
{
    otp_unit *u = arg;
    const char *id = u->id, *external_user_id = u->external_user_id;
    const char *hash = u->hash;
    int64_t now = pa_time_now_ms();
    pa_store_activation a = {0};
    pa_err e = load_unexpired(env->store, OP_OTP, id, &a, now, keep, queued);

    if (e != PA_OK)
        goto out;
    if (a.status != PA_STATUS_PENDING_COMMIT) {
        e = PA_ERR_ACTIVATION_INCORRECT_STATE;
        goto out;
    }
    if (a.otp_validation == PA_OTP_ON_KEY_EXCHANGE) {
        e = PA_ERR_INVALID_ACTIVATION_OTP_MODE;
        goto out;
    }
    free(a.activation_otp);
    if (!(a.activation_otp = strdup(hash))) {
        e = PA_ERR_UNKNOWN_ERROR;
        goto out;
    }
    a.otp_validation = PA_OTP_ON_COMMIT;
    e = pa_act_store_failed(OP_OTP,
                            pa_lifecycle_save(env->store, &a, "OTP_VALUE_UPDATE",
                                              external_user_id, 1, now, queued));
out:
    pa_store_activation_free(&a);
    return e;
}

static pa_err precheck_update_otp(const pa_act_env *env, const char *id)
{
    pa_store_activation a = {0};
    pa_err e = pa_act_load(env->store, OP_OTP, id, &a);

    /* An expired row is left to the transaction, which expires it. */
    if (e == PA_OK && !pa_lifecycle_is_expired(&a, pa_time_now_ms())) {
        if (a.status != PA_STATUS_PENDING_COMMIT)
            e = PA_ERR_ACTIVATION_INCORRECT_STATE;
        else if (a.otp_validation == PA_OTP_ON_KEY_EXCHANGE)
            e = PA_ERR_INVALID_ACTIVATION_OTP_MODE;
    }
    pa_store_activation_free(&a);
    return e;
}

pa_err pa_activation_update_otp(const pa_act_env *env,
                                const char *activation_id,
                                const char *external_user_id, const char *otp)
{
    otp_unit u = {activation_id, external_user_id, NULL, NULL, 0, NULL};
    char *hash = NULL;
    pa_err e;

    if (!activation_id || !otp || !otp[0])
        return PA_ERR_INVALID_REQUEST;
    /* The cheap refusals first (repeated under the lock below), so an
     * unknown id or a wrong state costs no Argon2 hash. */
    if ((e = precheck_update_otp(env, activation_id)) != PA_OK)
        return e;
    if ((e = pa_password_hash((const uint8_t *)otp, strlen(otp), &hash)) != PA_OK)
        return e;
    u.hash = hash;
    e = pa_act_write(env, OP_OTP, update_otp_tx, &u);
    pa_secure_free(hash, strlen(hash));
    return e;
}
