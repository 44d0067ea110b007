/*
 * activation_common.c - the pieces every activation operation shares:
 * ending a transaction, loading a row, the key material of an activation
 * and of its application, and the activation OTP check (CRYPTO.md 6.5).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/password.h"
#include "crypto/primitives.h"
#include "crypto/recordenc.h"
#include "service/activation_internal.h"
#include "service/delivery.h"
#include "service/keycache.h"
#include "service/lifecycle.h"
#include "util/log.h"

pa_err pa_act_store_failed(const char *op, pa_err e)
{
    if (e == PA_ERR_UNKNOWN_ERROR)
        pa_log_error("%s: %s", op, pa_store_last_error());
    return e;
}

/* The unit handed to pa_store_write: the operation's function with an env
 * whose store is the connection the batch runs on. */
typedef struct act_unit {
    const pa_act_env *env;
    const char *op;
    pa_act_tx_fn fn;
    void *arg;
    int keep, queued;
} act_unit;

static pa_err run_act_unit(pa_store *s, void *p, int *keep)
{
    act_unit *u = p;
    pa_act_env env = *u->env;
    pa_err e;

    env.store = s;
    u->queued = 0;
    u->keep = 0;
    e = u->fn(&env, u->arg, &u->keep, &u->queued);
    *keep = u->keep;
    return pa_act_store_failed(u->op, e);
}

pa_err pa_act_write(const pa_act_env *env, const char *op, pa_act_tx_fn fn,
                    void *arg)
{
    act_unit u = {env, op, fn, arg, 0, 0};
    pa_err e = pa_store_write(env->store, run_act_unit, &u);

    if (e == PA_ERR_UNKNOWN_ERROR && !u.keep)
        pa_act_store_failed(op, e);
    if ((e == PA_OK || u.keep) && u.queued > 0)
        pa_delivery_notify();
    return e;
}

pa_err pa_act_load(pa_store *s, const char *op, const char *activation_id,
                   pa_store_activation *out)
{
    int found = 0;
    pa_err e = pa_store_activation_get(s, activation_id, out, &found);

    if (e != PA_OK)
        return pa_act_store_failed(op, e);
    return found ? PA_OK : PA_ERR_ACTIVATION_NOT_FOUND;
}

pa_err pa_act_server_private(const pa_act_env *env,
                             const pa_store_activation *a, pa_eckey **out)
{
    const pa_config *c = env->cfg;
    uint8_t *key = NULL;
    size_t n = 0;
    pa_err e;

    *out = NULL;
    e = pa_record_read_server_private(
        a->server_private_key_encryption,
        c->master_db_encryption_key_set ? c->master_db_encryption_key : NULL,
        c->master_db_encryption_key_set ? sizeof c->master_db_encryption_key : 0,
        a->user_id, a->activation_id, a->server_private_key, &key, &n);
    if (e != PA_OK)
        return e;
    e = pa_ec_priv_import(key, n, out);
    pa_secure_free(key, n);
    return e == PA_OK ? PA_OK : PA_ERR_INVALID_KEY_FORMAT;
}

/* ECDH of the stored key pair, remembered in the key cache. */
static pa_err derive(const pa_act_env *env, const pa_store_activation *a,
                     const pa_eckey *device, pa_derived_keys *out)
{
    pa_eckey *priv = NULL;
    pa_err e;

    if ((e = pa_act_server_private(env, a, &priv)) != PA_OK)
        return e;
    e = pa_keys_from_pair(priv, device, out);
    pa_ec_free(priv);
    if (e == PA_OK)
        pa_keycache_put(a->activation_id, out);
    return e;
}

pa_err pa_act_derived_keys_with(const pa_act_env *env,
                                const pa_store_activation *a,
                                const pa_eckey *device, pa_derived_keys *out)
{
    memset(out, 0, sizeof *out);
    if (pa_keycache_get(a->activation_id, out))
        return PA_OK;
    return derive(env, a, device, out);
}

pa_err pa_act_derived_keys(const pa_act_env *env, const pa_store_activation *a,
                           pa_derived_keys *out)
{
    pa_eckey *dev = NULL;
    pa_err e;

    memset(out, 0, sizeof *out);
    if (!a->device_public_key)
        return PA_ERR_ACTIVATION_INCORRECT_STATE;
    if (pa_keycache_get(a->activation_id, out))
        return PA_OK;
    if (pa_ec_pub_import_b64(a->device_public_key, &dev) != PA_OK)
        return PA_ERR_INVALID_KEY_FORMAT;
    e = derive(env, a, dev, out);
    pa_ec_free(dev);
    return e;
}

pa_err pa_act_master_private(pa_store *s, const char *op,
                             int64_t application_id, pa_eckey **priv,
                             int64_t *id)
{
    pa_store_master_keypair kp;
    int found = 0;
    pa_err e = pa_store_master_keypair_latest(s, application_id, &kp, &found);

    *priv = NULL;
    if (e != PA_OK)
        return pa_act_store_failed(op, e);
    if (!found)
        return PA_ERR_NO_MASTER_SERVER_KEYPAIR;
    *id = kp.id;
    if (!kp.private_key_base64
        || pa_ec_priv_import_b64(kp.private_key_base64, priv) != PA_OK)
        e = PA_ERR_INCORRECT_MASTER_SERVER_KEYPAIR_PRIVATE;
    pa_store_master_keypair_free(&kp);
    return e;
}

void pa_act_otp_verify(const char *otp, const char *stored_hash, int *match)
{
    *match = 0;
    if (otp && stored_hash
        && pa_password_verify((const uint8_t *)otp, strlen(otp), stored_hash,
                              match) != PA_OK)
        *match = 0;
}

pa_err pa_act_check_otp(pa_store *s, pa_store_activation *a, int stage,
                        const char *otp, const char *verified_hash,
                        int match, const char *external_user_id,
                        int64_t now_ms, int *keep, int *queued)
{
    int removed;
    pa_err e;

    *keep = 0;
    if (a->otp_validation != PA_OTP_ON_KEY_EXCHANGE
        && a->otp_validation != PA_OTP_ON_COMMIT)
        return otp ? PA_ERR_INVALID_ACTIVATION_OTP : PA_OK;
    if (a->otp_validation != stage)
        return otp ? PA_ERR_INVALID_ACTIVATION_OTP : PA_OK;
    if (!otp || !a->activation_otp)
        return PA_ERR_INVALID_ACTIVATION_OTP;
    /* The hash was verified before the transaction; if it changed since
     * (UpdateActivationOtp in between), verify against the new one. */
    if (!verified_hash || strcmp(verified_hash, a->activation_otp) != 0)
        pa_act_otp_verify(otp, a->activation_otp, &match);
    if (match) {
        /* Saved by the caller together with the step the OTP unlocked. */
        a->failed_attempts = 0;
        return PA_OK;
    }
    a->failed_attempts++;
    removed = a->failed_attempts >= a->max_failed_attempts;
    if (removed)
        a->status = PA_STATUS_REMOVED;
    e = pa_lifecycle_save(s, a,
                          removed ? "OTP_MAX_FAILED_ATTEMPTS" : "OTP_FAILED_ATTEMPT",
                          external_user_id, removed, now_ms, queued);
    if (e != PA_OK)
        return e;
    *keep = 1;
    return PA_ERR_INVALID_ACTIVATION_OTP;
}
