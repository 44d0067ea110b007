/*
 * activation_init.c - InitActivation (CRYPTO.md 6.2; DATABASE.md 5.1, 5.9):
 * a CREATED activation with a fresh id, activation code, code signature and
 * server key pair.
 *
 * The expensive parts - the Argon2 hash of an OTP (~100 ms) and the server
 * key pair - are made before the write transaction, so the lock is held
 * only for the collision checks and the inserts.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/password.h"
#include "crypto/primitives.h"
#include "crypto/recordenc.h"
#include "service/activation_internal.h"
#include "service/lifecycle.h"
#include "util/base64.h"
#include "util/timeutil.h"

#define OP "InitActivation"

/* The length Java gives the string: UTF-16 units, so a character outside
 * the Basic Multilingual Plane (a 4-byte UTF-8 sequence) counts twice. */
static size_t java_length(const char *s)
{
    size_t n = 0;

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if ((c & 0xc0) != 0x80)
            n += c >= 0xf0 ? 2 : 1;
    }
    return n;
}

pa_err pa_act_init_check(const pa_act_init_req *req)
{
    int has_otp = req->otp && req->otp[0];

    if (!req->user_id || !req->user_id[0] || java_length(req->user_id) > 255)
        return PA_ERR_NO_USER_ID;
    if (req->application_id == 0)
        return PA_ERR_NO_APPLICATION_ID;
    if ((req->otp_mode == PA_OTP_NONE) == has_otp)
        return PA_ERR_INVALID_REQUEST;
    if (req->otp_mode != PA_OTP_NONE && req->otp_mode != PA_OTP_ON_KEY_EXCHANGE
        && req->otp_mode != PA_OTP_ON_COMMIT)
        return PA_ERR_INVALID_REQUEST;
    return PA_OK;
}

pa_err pa_act_otp_hash(const char *otp, char **otp_hash)
{
    *otp_hash = NULL;
    if (!otp || !otp[0])
        return PA_OK;
    return pa_password_hash((const uint8_t *)otp, strlen(otp), otp_hash);
}

/* A new activation id nobody has (4.1, 5.9). */
static pa_err new_activation_id(const pa_act_env *env, char out[PA_UUID_BUF])
{
    int i, exists = 1;
    pa_err e;

    for (i = 0; i < env->cfg->generate_activation_id_iterations; i++) {
        if ((e = pa_uuid_v4(out)) != PA_OK)
            return e;
        e = pa_store_activation_exists(env->store, out, &exists);
        if (e != PA_OK)
            return pa_act_store_failed(OP, e);
        if (!exists)
            return PA_OK;
    }
    return PA_ERR_UNABLE_TO_GENERATE_ACTIVATION_ID;
}

/* A new code whose first 11 characters no code of the application has. */
static pa_err new_activation_code(const pa_act_env *env, int64_t app_id,
                                  char out[PA_CODE_BUF])
{
    int i, taken = 1;
    pa_err e;

    for (i = 0; i < env->cfg->generate_activation_code_iterations; i++) {
        if ((e = pa_code_generate(out)) != PA_OK)
            return e;
        e = pa_store_activation_code_taken(env->store, app_id, out, &taken);
        if (e != PA_OK)
            return pa_act_store_failed(OP, e);
        if (!taken)
            return PA_OK;
    }
    return PA_ERR_UNABLE_TO_GENERATE_ACTIVATION_CODE;
}

/* KEY_SERVER_PRIVATE as stored (CRYPTO.md 16) and KEY_SERVER_PUBLIC. */
static pa_err server_key_columns(const pa_act_env *env, pa_eckey *key,
                                 pa_store_activation *a)
{
    const pa_config *c = env->cfg;
    uint8_t priv[PA_EC_PRIV_MAX];
    size_t n = 0;
    pa_record_mode mode = PA_RECORD_NO_ENCRYPTION;
    pa_err e = pa_ec_priv_export(key, priv, &n);

    if (e == PA_OK)
        e = pa_record_write_server_private(
            c->master_db_encryption_key_set ? c->master_db_encryption_key : NULL,
            c->master_db_encryption_key_set ? sizeof c->master_db_encryption_key : 0,
            a->user_id, a->activation_id, priv, n, &mode,
            &a->server_private_key);
    OPENSSL_cleanse(priv, sizeof priv);
    if (e == PA_OK)
        e = pa_ec_pub_export_b64(key, &a->server_public_key);
    a->server_private_key_encryption = (int)mode;
    return e;
}

pa_err pa_act_init_tx(const pa_act_env *env, const pa_act_init_req *req,
                      const char *otp_hash, pa_eckey *server_key,
                      pa_store_activation *a, char **signature_b64,
                      int *queued)
{
    int64_t now = pa_time_now_ms();
    char id[PA_UUID_BUF], code[PA_CODE_BUF];
    uint8_t sig[PA_ECDSA_MAX];
    size_t siglen = 0;
    pa_eckey *master = NULL;
    int64_t keypair_id = 0;
    pa_err e;

    memset(a, 0, sizeof *a);
    *signature_b64 = NULL;
    if ((e = pa_act_master_private(env->store, OP, req->application_id,
                                   &master, &keypair_id)) != PA_OK
        || (e = new_activation_id(env, id)) != PA_OK
        || (e = new_activation_code(env, req->application_id, code)) != PA_OK
        || (e = pa_code_sign(master, code, sig, &siglen)) != PA_OK
        || (e = pa_b64_encode_alloc(sig, siglen, signature_b64)) != PA_OK)
        goto out;
    if (!(a->activation_id = strdup(id)) || !(a->user_id = strdup(req->user_id))
        || !(a->activation_code = strdup(code))
        || (otp_hash && !(a->activation_otp = strdup(otp_hash)))) {
        e = PA_ERR_UNKNOWN_ERROR;
        goto out;
    }
    if ((e = server_key_columns(env, server_key, a)) != PA_OK)
        goto out;
    a->application_id = req->application_id;
    a->status = PA_STATUS_CREATED;
    a->otp_validation = req->otp_mode;
    a->max_failed_attempts = req->has_max_failures
                                 ? req->max_failures
                                 : env->cfg->signature_max_failed_attempts;
    a->master_keypair_id = keypair_id;
    a->created_ms = a->last_used_ms = a->last_change_ms = now;
    a->has_last_change = 1;
    a->expire_ms = req->has_expire ? req->expire_ms
                                   : now + env->cfg->activation_validity_ms;
    if ((e = pa_store_activation_insert(env->store, a)) != PA_OK)
        e = pa_act_store_failed(OP, e == PA_ERR_INVALID_REQUEST
                                        ? PA_ERR_UNABLE_TO_GENERATE_ACTIVATION_ID
                                        : e);
    else
        e = pa_act_store_failed(OP, pa_lifecycle_log_insert(env->store, a, now,
                                                            queued));
out:
    pa_ec_free(master);
    if (e != PA_OK) {
        free(*signature_b64);
        *signature_b64 = NULL;
    }
    return e;
}

typedef struct init_unit {
    const pa_act_init_req *req;
    const char *otp_hash;
    pa_eckey *server_key;
    pa_store_activation *a;
    char **signature_b64;
} init_unit;

static pa_err init_unit_fn(const pa_act_env *env, void *arg, int *keep,
                           int *queued)
{
    init_unit *u = arg;

    (void)keep;
    return pa_act_init_tx(env, u->req, u->otp_hash, u->server_key, u->a,
                          u->signature_b64, queued);
}

pa_err pa_activation_init(const pa_act_env *env, const pa_act_init_req *req,
                          pa_act_init_res *res)
{
    pa_store_activation a;
    pa_eckey *server_key = NULL;
    char *otp_hash = NULL;
    init_unit u;
    pa_err e;

    memset(res, 0, sizeof *res);
    memset(&a, 0, sizeof a);
    if ((e = pa_act_init_check(req)) != PA_OK
        || (e = pa_act_otp_hash(req->otp, &otp_hash)) != PA_OK)
        return e;
    if ((e = pa_ec_generate(&server_key)) != PA_OK)
        goto out;
    u = (init_unit){req, otp_hash, server_key, &a, &res->activation_signature};
    e = pa_act_write(env, OP, init_unit_fn, &u);
    if (e == PA_OK) {
        memcpy(res->activation_id, a.activation_id, PA_UUID_BUF);
        memcpy(res->activation_code, a.activation_code, PA_CODE_BUF);
    } else {
        pa_act_init_res_free(res);
    }
out:
    pa_store_activation_free(&a);
    pa_ec_free(server_key);
    if (otp_hash)
        pa_secure_free(otp_hash, strlen(otp_hash));
    return e;
}

void pa_act_init_res_free(pa_act_init_res *r)
{
    if (!r)
        return;
    free(r->activation_signature);
    memset(r, 0, sizeof *r);
}
