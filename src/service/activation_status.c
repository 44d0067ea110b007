/*
 * activation_status.c - GetActivationStatus (CRYPTO.md 6.6, 7; DATABASE.md
 * 5.4): the row as the bank sees it, and the encrypted status blob the
 * phone reads.
 *
 * A read: no transaction unless lazy expiry has to write (then the row is
 * re-read under the write lock and expired there).  What the blob holds
 * depends on the situation (7.6): random bytes while there is no device
 * key, the real blob with the activation's transport key once there is.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/primitives.h"
#include "crypto/statusblob.h"
#include "service/activation_internal.h"
#include "service/lifecycle.h"
#include "util/base64.h"
#include "util/timeutil.h"

#define OP "GetActivationStatus"

static pa_err b64_of(const uint8_t *b, size_t n, char **out)
{
    return pa_b64_encode_alloc(b, n, out) == PA_OK ? PA_OK
                                                   : PA_ERR_UNKNOWN_ERROR;
}

/* A random blob, and a random nonce when one is to be sent (7.6). */
static pa_err random_blob(pa_act_status_res *r, int with_nonce)
{
    uint8_t blob[PA_STATUS_BLOB_LEN], nonce[PA_STATUS_NONCE_LEN];
    pa_err e = pa_status_random_blob(blob);

    if (e == PA_OK)
        e = b64_of(blob, sizeof blob, &r->encrypted_status_blob);
    if (e == PA_OK && with_nonce && (e = pa_random(nonce, sizeof nonce)) == PA_OK)
        e = b64_of(nonce, sizeof nonce, &r->status_blob_nonce);
    return e;
}

/* The code and a fresh signature of it, for a CREATED activation. */
static pa_err created_fields(const pa_act_env *env, pa_act_status_res *r)
{
    uint8_t sig[PA_ECDSA_MAX];
    size_t n = 0;
    pa_eckey *master = NULL;
    int64_t keypair_id = 0;
    pa_err e = pa_act_master_private(env->store, OP, r->a.application_id,
                                     &master, &keypair_id);

    if (e == PA_OK && r->a.activation_code)
        e = pa_code_sign(master, r->a.activation_code, sig, &n);
    if (e == PA_OK && r->a.activation_code
        && (!(r->activation_code = strdup(r->a.activation_code))
            || b64_of(sig, n, &r->activation_signature) != PA_OK))
        e = PA_ERR_UNKNOWN_ERROR;
    pa_ec_free(master);
    return e;
}

/* devicePublicKeyFingerprint (6.6), by the activation's version. */
static pa_err fingerprint(const pa_store_activation *a, const pa_eckey *dev,
                          char out[PA_FINGERPRINT_BUF])
{
    pa_eckey *srv = NULL;
    pa_err e;

    if (a->version == 2)
        return pa_fingerprint_v2(dev, out);
    if (a->version != 3)
        return PA_ERR_ACTIVATION_INCORRECT_STATE;
    if (pa_ec_pub_import_b64(a->server_public_key, &srv) != PA_OK)
        return PA_ERR_INVALID_KEY_FORMAT;
    e = pa_fingerprint_v3(dev, a->activation_id, srv, out);
    pa_ec_free(srv);
    return e;
}

/* The plaintext fields of 7.1 and the counter hash of 7.5. */
static pa_err blob_fields(const pa_act_env *env, const pa_store_activation *a,
                          const uint8_t transport[16], pa_status_fields *f)
{
    uint8_t ctr[16];
    pa_err e = PA_OK;

    memset(f, 0, sizeof *f);
    f->status = (uint8_t)a->status;
    f->current_version = (uint8_t)a->version;
    f->upgrade_version = 3;
    f->ctr_byte = (uint8_t)a->counter;
    f->failed_attempts = (uint8_t)a->failed_attempts;
    f->max_failed_attempts = (uint8_t)a->max_failed_attempts;
    f->ctr_look_ahead = (uint8_t)env->cfg->signature_validation_lookahead;
    if (a->ctr_data) {
        if (pa_b64_decode_exact(a->ctr_data, ctr, sizeof ctr) != PA_OK)
            e = PA_ERR_INVALID_KEY_FORMAT;
        else
            e = pa_status_ctr_data_hash(transport, ctr, f->ctr_data_hash);
        OPENSSL_cleanse(ctr, sizeof ctr);
    }
    return e;
}

/* The real blob (7.1-7.5) of an activation with a device key. */
static pa_err real_blob(const pa_act_env *env, const char *challenge,
                        pa_act_status_res *r)
{
    const pa_store_activation *a = &r->a;
    uint8_t ch[PA_STATUS_CHALLENGE_LEN];
    uint8_t nonce[PA_STATUS_NONCE_LEN], blob[PA_STATUS_BLOB_LEN];
    pa_status_fields f;
    pa_derived_keys k;
    pa_eckey *dev = NULL;
    pa_err e;

    if (challenge && pa_b64_decode_exact(challenge, ch, sizeof ch) != PA_OK)
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    if (pa_ec_pub_import_b64(a->device_public_key, &dev) != PA_OK)
        return PA_ERR_INVALID_KEY_FORMAT;
    /* One parsed device key serves the fingerprint and the ECDH. */
    if ((e = fingerprint(a, dev, r->fingerprint)) == PA_OK
        && (e = pa_act_derived_keys_with(env, a, dev, &k)) == PA_OK) {
        if ((e = blob_fields(env, a, k.transport, &f)) == PA_OK)
            e = pa_status_encrypt(k.transport, challenge ? ch : NULL, &f, nonce,
                                  blob);
        pa_keys_wipe(&k);
        OPENSSL_cleanse(&f, sizeof f);
    }
    pa_ec_free(dev);
    if (e == PA_OK)
        e = b64_of(blob, sizeof blob, &r->encrypted_status_blob);
    if (e == PA_OK && challenge)
        e = b64_of(nonce, sizeof nonce, &r->status_blob_nonce);
    return e;
}

/* The answer for an id that matches no activation (7.6). */
static pa_err unknown_activation(const char *id, const char *challenge,
                                 pa_act_status_res *r)
{
    pa_store_activation *a = &r->a;

    a->status = PA_STATUS_REMOVED;
    if (!(a->activation_id = strdup(id)) || !(a->user_id = strdup("unknown"))
        || !(a->activation_name = strdup("unknown")))
        return PA_ERR_UNKNOWN_ERROR;
    return random_blob(r, challenge != NULL);
}

/* Lazy expiry: the write happens under the lock on a fresh read. */
static pa_err expire_tx(const pa_act_env *env, void *arg, int *keep,
                        int *queued)
{
    pa_act_status_res *r = arg;
    int expired = 0;
    char *id = strdup(r->a.activation_id);
    pa_err e = id ? PA_OK : PA_ERR_UNKNOWN_ERROR;

    (void)keep;
    if (e == PA_OK) {
        pa_store_activation_free(&r->a);
        e = pa_act_load(env->store, OP, id, &r->a);
    }
    if (e == PA_OK)
        e = pa_lifecycle_expire_if_due(env->store, &r->a, pa_time_now_ms(),
                                       &expired, queued);
    free(id);
    return e;
}

static pa_err expire(const pa_act_env *env, pa_act_status_res *r)
{
    return pa_act_write(env, OP, expire_tx, r);
}

pa_err pa_activation_status(const pa_act_env *env, const char *activation_id,
                            const char *challenge, pa_act_status_res *res)
{
    int found = 0;
    pa_err e;

    memset(res, 0, sizeof *res);
    if (!activation_id)
        return PA_ERR_INVALID_REQUEST;
    e = pa_store_activation_get(env->store, activation_id, &res->a, &found);
    if (e != PA_OK) {
        e = pa_act_store_failed(OP, e);
    } else if (!found) {
        e = unknown_activation(activation_id, challenge, res);
    } else {
        res->found = 1;
        if (pa_lifecycle_is_expired(&res->a, pa_time_now_ms()))
            e = expire(env, res);
        if (e != PA_OK)
            ;
        else if (res->a.device_public_key)
            e = real_blob(env, challenge, res);
        else if (res->a.status == PA_STATUS_CREATED
                 && (e = created_fields(env, res)) != PA_OK)
            ;
        else
            e = random_blob(res, challenge != NULL
                                     && res->a.status != PA_STATUS_REMOVED);
    }
    if (e != PA_OK)
        pa_act_status_res_free(res);
    return e;
}

void pa_act_status_res_free(pa_act_status_res *r)
{
    if (!r)
        return;
    pa_store_activation_free(&r->a);
    free(r->encrypted_status_blob);
    free(r->status_blob_nonce);
    free(r->activation_code);
    free(r->activation_signature);
    memset(r, 0, sizeof *r);
}
