/*
 * activation_v2.c - the protocol-2 key exchange: v2 PrepareActivation
 * (with the short activation id, CRYPTO.md 14.1) and v2 CreateActivation
 * (custom activation, 14.2); DATABASE.md 5.1, 5.4, 5.5.
 *
 * The same shape as the v3 exchange (activation_keyx.c), whose pieces it
 * uses: the cryptography - PBKDF2 of the OTP, the two-layer decryption of
 * the device key, the application HMAC and the server's answer - runs on
 * the caller's thread; one unit of group commit (pa_act_write) then
 * re-reads the row, applies lazy expiry and the state checks, and saves
 * the device's columns with history and callback (pa_lifecycle_save).
 * CreateActivation runs InitActivation (pa_act_init_tx) in that same unit,
 * so any fault leaves nothing behind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/primitives.h"
#include "crypto/v2.h"
#include "service/activation_internal.h"
#include "service/lifecycle.h"
#include "service/v2_ops.h"
#include "util/base64.h"
#include "util/timeutil.h"

#define OP_PREPARE "PrepareActivation"
#define OP_CREATE "CreateActivation"

/* ---- the request's cryptography ----------------------------------------------- */

typedef struct v2_keyx {
    uint8_t nonce[PA_V2_NONCE_LEN];
    uint8_t *c;                  /* encryptedDevicePublicKey */
    size_t c_n;
    uint8_t *app_sig;            /* applicationSignature */
    size_t app_sig_n;
    pa_eckey *eph;               /* the client's ephemeral key */
    uint8_t otp_key[PA_V2_KEY_LEN];
    pa_eckey *device;            /* NULL: the device key did not decrypt */
    int sig_valid;
} v2_keyx;

static void keyx_wipe(v2_keyx *k)
{
    free(k->c);
    free(k->app_sig);
    pa_ec_free(k->eph);
    pa_ec_free(k->device);
    OPENSSL_cleanse(k, sizeof *k);
}

static int fields_present(const pa_v2_keyx_fields *f)
{
    return f->activation_name && f->activation_nonce && f->ephemeral_public_key
           && f->encrypted_device_public_key && f->application_key
           && f->application_signature;
}

/* Base64 and the ephemeral key (ERR0024), the nonce's length (ERR0023). */
static pa_err keyx_decode(const pa_v2_keyx_fields *f, v2_keyx *k)
{
    uint8_t *nonce = NULL;
    size_t nonce_n = 0;
    pa_err e = PA_OK;

    if (pa_b64_decode_alloc(f->encrypted_device_public_key, &k->c, &k->c_n) != PA_OK
        || pa_b64_decode_alloc(f->application_signature, &k->app_sig,
                               &k->app_sig_n) != PA_OK
        || pa_b64_decode_alloc(f->activation_nonce, &nonce, &nonce_n) != PA_OK)
        e = PA_ERR_INVALID_REQUEST;
    else if (nonce_n != PA_V2_NONCE_LEN)
        e = PA_ERR_INVALID_CRYPTO_PROVIDER;
    else if (pa_ec_pub_import_b64(f->ephemeral_public_key, &k->eph) != PA_OK)
        e = PA_ERR_INVALID_REQUEST;
    if (nonce && nonce_n == PA_V2_NONCE_LEN)
        memcpy(k->nonce, nonce, PA_V2_NONCE_LEN);
    free(nonce);
    return e;
}

/* 14.1 steps 5-6: KEY_OTP, the device key (k->device stays NULL when it
 * does not decrypt) and the application signature. */
static pa_err keyx_open(const pa_eckey *master, const char *salt,
                        const char *otp, const char *app_key,
                        const char *app_secret, v2_keyx *k)
{
    pa_err e = pa_v2_otp_key(otp, salt, k->otp_key);

    if (e != PA_OK)
        return e;
    e = pa_v2_decrypt_device_public_key(master, k->eph, k->otp_key, k->nonce,
                                        k->c, k->c_n, &k->device);
    if (e == PA_ERR_DECRYPTION_FAILED) {
        k->device = NULL;
        e = PA_OK;
    }
    if (e != PA_OK)
        return e;
    e = pa_v2_verify_application_signature(salt, k->nonce, k->c, k->c_n,
                                           app_key, app_secret, k->app_sig,
                                           k->app_sig_n, &k->sig_valid);
    if (e == PA_ERR_INVALID_INPUT_FORMAT) {
        k->sig_valid = 0;
        e = PA_OK;
    }
    return e;
}

/* 14.1 step 7 and the response fields. */
static pa_err keyx_answer(const pa_eckey *master, const v2_keyx *k,
                          const char *activation_id,
                          const char *server_public_key, pa_v2_keyx_res *res)
{
    uint8_t nonce_s[PA_V2_NONCE_LEN], c[PA_V2_C_PUB_LEN], eph2[PA_EC_PUB_LEN];
    uint8_t sig[PA_ECDSA_MAX];
    size_t siglen = 0;
    pa_eckey *eph2_key = NULL, *server_pub = NULL;
    pa_err e;

    if ((e = pa_random(nonce_s, sizeof nonce_s)) != PA_OK
        || (e = pa_ec_generate(&eph2_key)) != PA_OK
        || (e = pa_ec_pub_import_b64(server_public_key, &server_pub)) != PA_OK
        || (e = pa_v2_encrypt_server_public_key(eph2_key, k->device, k->otp_key,
                                                nonce_s, server_pub, c)) != PA_OK
        || (e = pa_v2_sign_server_data(master, activation_id, c, sizeof c, sig,
                                       &siglen)) != PA_OK
        || (e = pa_ec_pub_export(eph2_key, eph2)) != PA_OK)
        goto out;
    if (pa_b64_encode_alloc(nonce_s, sizeof nonce_s, &res->activation_nonce) != PA_OK
        || pa_b64_encode_alloc(eph2, sizeof eph2, &res->ephemeral_public_key) != PA_OK
        || pa_b64_encode_alloc(c, sizeof c, &res->encrypted_server_public_key)
               != PA_OK
        || pa_b64_encode_alloc(sig, siglen,
                               &res->encrypted_server_public_key_signature)
               != PA_OK) {
        e = PA_ERR_UNKNOWN_ERROR;
        goto out;
    }
    snprintf(res->activation_id, sizeof res->activation_id, "%s", activation_id);
out:
    pa_ec_free(eph2_key);
    pa_ec_free(server_pub);
    OPENSSL_cleanse(nonce_s, sizeof nonce_s);
    return e;
}

/* 14.1 step 8: device key (uncompressed), name, extras, version 2, no
 * ctrData, no platform, PENDING_COMMIT; saved with history and callback. */
static pa_err keyx_save(pa_store *s, pa_store_activation *a, const v2_keyx *k,
                        const pa_v2_keyx_fields *f, int64_t now, int *queued)
{
    char *device_key = NULL;
    pa_err e = pa_ec_pub_export_b64(k->device, &device_key);

    if (e != PA_OK)
        return e;
    e = pa_act_keyx_fields(a, device_key, f->activation_name, f->extras, NULL,
                           NULL, NULL, 2, PA_STATUS_PENDING_COMMIT);
    if (e == PA_OK)
        e = pa_lifecycle_save(s, a, NULL, NULL, 1, now, queued);
    return e;
}

void pa_v2_keyx_res_free(pa_v2_keyx_res *r)
{
    if (!r)
        return;
    free(r->activation_nonce);
    free(r->ephemeral_public_key);
    free(r->encrypted_server_public_key);
    free(r->encrypted_server_public_key_signature);
    memset(r, 0, sizeof *r);
}

/* The master private key an activation links to (14.1 step 4). */
static pa_err linked_master(pa_store *s, const pa_store_activation *a,
                            pa_eckey **priv)
{
    pa_store_master_keypair kp;
    int found = 0;
    pa_err e = pa_store_master_keypair_get(s, a->master_keypair_id, &kp, &found);

    *priv = NULL;
    if (e != PA_OK)
        return pa_act_store_failed(OP_PREPARE, e);
    if (!found)
        return PA_ERR_NO_MASTER_SERVER_KEYPAIR;
    if (!kp.private_key_base64
        || pa_ec_priv_import_b64(kp.private_key_base64, priv) != PA_OK)
        e = PA_ERR_INCORRECT_MASTER_SERVER_KEYPAIR_PRIVATE;
    pa_store_master_keypair_free(&kp);
    return e;
}

/* ---- PrepareActivation (14.1) ------------------------------------------------------ */

typedef struct prepare_unit {
    const pa_v2_prepare_req *req;
    const pa_store_version *v;
    const char *activation_id;
    const v2_keyx *k;
} prepare_unit;

static pa_err prepare_tx(const pa_act_env *env, void *arg, int *keep,
                         int *queued)
{
    prepare_unit *u = arg;
    int64_t now = pa_time_now_ms();
    pa_store_activation a = {0};
    int expired = 0;
    pa_err e = pa_act_load(env->store, OP_PREPARE, u->activation_id, &a);

    if (e != PA_OK)
        goto out;
    e = pa_act_store_failed(OP_PREPARE,
                            pa_lifecycle_expire_if_due(env->store, &a, now,
                                                       &expired, queued));
    if (e != PA_OK)
        goto out;
    *keep = expired;
    if (a.status != PA_STATUS_CREATED || a.application_id != u->v->application_id
        || !pa_v2_code_has_short_id(a.activation_code,
                                    u->req->activation_id_short)) {
        e = PA_ERR_ACTIVATION_EXPIRED;
        goto out;
    }
    if (!u->k->device) {
        /* Step 5: a wrong OTP burns the activation, and that is kept. */
        a.status = PA_STATUS_REMOVED;
        e = pa_act_store_failed(OP_PREPARE,
                                pa_lifecycle_save(env->store, &a, NULL, NULL, 1,
                                                  now, queued));
        *keep = e == PA_OK;
        e = e == PA_OK ? PA_ERR_ACTIVATION_NOT_FOUND : e;
        goto out;
    }
    if (!u->k->sig_valid) {
        e = PA_ERR_ACTIVATION_EXPIRED;      /* step 6: nothing changes */
        goto out;
    }
    e = pa_act_store_failed(OP_PREPARE, keyx_save(env->store, &a, u->k,
                                                  &u->req->k, now, queued));
out:
    pa_store_activation_free(&a);
    return e;
}

pa_err pa_v2_activation_prepare(const pa_act_env *env,
                                const pa_v2_prepare_req *req,
                                pa_v2_keyx_res *res)
{
    pa_store_version v;
    pa_store_activation found_row;
    pa_eckey *master = NULL;
    char short_id[12], otp[12];
    v2_keyx k;
    int found = 0;
    prepare_unit u;
    pa_err e;

    memset(res, 0, sizeof *res);
    memset(&v, 0, sizeof v);
    memset(&found_row, 0, sizeof found_row);
    memset(&k, 0, sizeof k);
    memset(otp, 0, sizeof otp);
    if (!req->activation_id_short || !fields_present(&req->k))
        return PA_ERR_INVALID_REQUEST;
    /* Step 1. */
    if ((e = pa_act_app_version(env->store, OP_PREPARE, req->k.application_key,
                                PA_ERR_ACTIVATION_EXPIRED, &v)) != PA_OK)
        goto out;
    /* Step 2: the XXXXX-XXXXX form, then a literal prefix match. */
    if (!pa_v2_short_id_valid(req->activation_id_short)) {
        e = PA_ERR_ACTIVATION_NOT_FOUND;
        goto out;
    }
    e = pa_store_activation_find_by_short_id(env->store, v.application_id,
                                             req->activation_id_short,
                                             pa_time_now_ms(), &found_row,
                                             &found);
    if (e != PA_OK) {
        e = pa_act_store_failed(OP_PREPARE, e);
        goto out;
    }
    if (!found || !pa_v2_code_has_short_id(found_row.activation_code,
                                           req->activation_id_short)) {
        e = PA_ERR_ACTIVATION_NOT_FOUND;
        goto out;
    }
    /* Steps 3-6 before the lock; prepare_tx re-checks the row. */
    if ((e = keyx_decode(&req->k, &k)) != PA_OK
        || (e = pa_v2_split_code(found_row.activation_code, short_id, otp)) != PA_OK
        || (e = linked_master(env->store, &found_row, &master)) != PA_OK
        || (e = keyx_open(master, req->activation_id_short, otp,
                          req->k.application_key, v.application_secret, &k))
               != PA_OK)
        goto out;
    /* Step 7: the answer, from values the write cannot change. */
    if (k.device && k.sig_valid
        && (e = keyx_answer(master, &k, found_row.activation_id,
                            found_row.server_public_key, res)) != PA_OK)
        goto out;
    u = (prepare_unit){req, &v, found_row.activation_id, &k};
    e = pa_act_write(env, OP_PREPARE, prepare_tx, &u);
out:
    if (e != PA_OK)
        pa_v2_keyx_res_free(res);
    OPENSSL_cleanse(otp, sizeof otp);
    keyx_wipe(&k);
    pa_ec_free(master);
    pa_store_activation_free(&found_row);
    pa_store_version_free(&v);
    return e;
}

/* ---- CreateActivation (14.2) ------------------------------------------------------- */

typedef struct create_unit {
    const pa_v2_create_req *req;
    const pa_act_init_req *init;
    pa_eckey *server_key;
    const pa_eckey *master;
    const v2_keyx *k;
    pa_v2_keyx_res *res;
} create_unit;

/* Init and key exchange in one unit: all or nothing. */
static pa_err create_tx(const pa_act_env *env, void *arg, int *keep,
                        int *queued)
{
    create_unit *u = arg;
    pa_store_activation a = {0};
    char *signature = NULL;
    int64_t now;
    pa_err e = pa_act_init_tx(env, u->init, NULL, u->server_key, &a, &signature,
                              queued);

    (void)keep;
    now = pa_time_now_ms();
    if (e == PA_OK && pa_lifecycle_is_expired(&a, now))
        e = PA_ERR_ACTIVATION_EXPIRED;
    if (e == PA_OK)
        e = keyx_save(env->store, &a, u->k, &u->req->k, now, queued);
    if (e == PA_OK)
        e = keyx_answer(u->master, u->k, a.activation_id, a.server_public_key,
                        u->res);
    free(signature);
    pa_store_activation_free(&a);
    return e;
}

pa_err pa_v2_activation_create(const pa_act_env *env,
                               const pa_v2_create_req *req,
                               pa_v2_keyx_res *res)
{
    pa_store_version v;
    pa_act_init_req init;
    pa_eckey *master = NULL, *server_key = NULL;
    int64_t keypair_id = 0;
    v2_keyx k;
    create_unit u;
    pa_err e;

    memset(res, 0, sizeof *res);
    memset(&v, 0, sizeof v);
    memset(&k, 0, sizeof k);
    if (!req->user_id || !req->identity || !req->activation_otp
        || !fields_present(&req->k))
        return PA_ERR_INVALID_REQUEST;
    /* Step 1. */
    if ((e = pa_act_app_version(env->store, OP_CREATE, req->k.application_key,
                                PA_ERR_INVALID_APPLICATION, &v)) != PA_OK)
        goto out;
    /* Step 2's checks (OTP mode NONE); the insert is in create_tx. */
    init = (pa_act_init_req){
        .user_id = req->user_id, .application_id = v.application_id,
        .has_expire = req->has_expire, .expire_ms = req->expire_ms,
        .has_max_failures = req->has_max_failures,
        .max_failures = req->max_failures, .otp_mode = PA_OTP_NONE,
        .otp = NULL};
    if ((e = pa_act_init_check(&init)) != PA_OK
        || (e = keyx_decode(&req->k, &k)) != PA_OK
        || (e = pa_act_master_private(env->store, OP_CREATE, v.application_id,
                                      &master, &keypair_id)) != PA_OK
        || (e = keyx_open(master, req->identity, req->activation_otp,
                          req->k.application_key, v.application_secret, &k))
               != PA_OK)
        goto out;
    /* Step 3: decryption failure or wrong signature, nothing written. */
    if (!k.device || !k.sig_valid) {
        e = PA_ERR_ACTIVATION_EXPIRED;
        goto out;
    }
    if ((e = pa_ec_generate(&server_key)) != PA_OK)
        goto out;
    u = (create_unit){req, &init, server_key, master, &k, res};
    e = pa_act_write(env, OP_CREATE, create_tx, &u);
out:
    if (e != PA_OK)
        pa_v2_keyx_res_free(res);
    keyx_wipe(&k);
    pa_ec_free(master);
    pa_ec_free(server_key);
    pa_store_version_free(&v);
    return e;
}
