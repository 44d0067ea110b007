/*
 * ecies_decryptor.c - GetEciesDecryptor (CRYPTO.md 5.9).
 *
 * The lookups and key material come first, in the original's order; the
 * ephemeral key is decoded only once the scope is settled, and is used
 * exactly as received (5.2: EPHB is hashed as sent, 33 or 65 bytes).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/primitives.h"
#include "service/activation_internal.h"
#include "service/ecies_decryptor.h"
#include "util/base64.h"

#define OP "GetEciesDecryptor"

/* The key to derive ENV with, and SH1 and SH2 of the scope. */
typedef struct scope {
    pa_eckey *priv;
    const char *sh1;
    uint8_t sh2[PA_ECIES_SH2_LEN];
} scope;

/* The version the applicationKey names: missing, unsupported or without
 * a secret is ERR0015. */
static pa_err app_version(pa_store *s, const char *key, pa_store_version *v)
{
    int found = 0;
    pa_err e = pa_store_version_get_by_key(s, key, v, &found);

    if (e != PA_OK)
        return pa_act_store_failed(OP, e);
    return found && v->supported && v->application_secret
               ? PA_OK
               : PA_ERR_INVALID_APPLICATION;
}

static pa_err application_scope(const pa_act_env *env,
                                const char *application_key, scope *sc)
{
    pa_store_version v;
    int64_t keypair_id = 0;
    pa_err e;

    memset(&v, 0, sizeof v);
    if ((e = app_version(env->store, application_key, &v)) == PA_OK
        && (e = pa_act_master_private(env->store, OP, v.application_id,
                                      &sc->priv, &keypair_id)) == PA_OK)
        e = pa_ecies_sh2_application(v.application_secret, sc->sh2);
    sc->sh1 = PA_ECIES_SH1_GENERIC_APPLICATION;
    pa_store_version_free(&v);
    return e;
}

static pa_err activation_scope(const pa_act_env *env,
                               const char *application_key,
                               const char *activation_id, scope *sc)
{
    pa_store_activation a;
    pa_store_version v;
    pa_derived_keys k;
    pa_eckey *dev = NULL;
    pa_err e;

    memset(&v, 0, sizeof v);
    memset(&k, 0, sizeof k);
    if ((e = pa_act_load(env->store, OP, activation_id, &a)) != PA_OK)
        return e;
    if (a.status != PA_STATUS_ACTIVE)
        e = PA_ERR_ACTIVATION_INCORRECT_STATE;
    else if ((e = app_version(env->store, application_key, &v)) == PA_OK
             && v.application_id != a.application_id)
        e = PA_ERR_INVALID_APPLICATION;
    /* KEY_TRANSPORT from the pair (an ACTIVE row always has a device key;
     * the private key is record-decrypted once and serves both). */
    if (e == PA_OK && !a.device_public_key)
        e = PA_ERR_ACTIVATION_INCORRECT_STATE;
    if (e == PA_OK && (e = pa_act_server_private(env, &a, &sc->priv)) == PA_OK)
        e = pa_ec_pub_import_b64(a.device_public_key, &dev) == PA_OK
                ? pa_keys_from_pair(sc->priv, dev, &k)
                : PA_ERR_INVALID_KEY_FORMAT;
    if (e == PA_OK)
        e = pa_ecies_sh2_activation(k.transport, v.application_secret, sc->sh2);
    sc->sh1 = PA_ECIES_SH1_GENERIC_ACTIVATION;
    pa_ec_free(dev);
    pa_keys_wipe(&k);
    pa_store_version_free(&v);
    pa_store_activation_free(&a);
    return e;
}

/* ENV from the ephemeral key text, both answers in Base64. */
static pa_err answer(const scope *sc, const char *eph_b64,
                     pa_ecies_decryptor_res *res)
{
    uint8_t env_key[PA_ECIES_ENV_LEN];
    uint8_t *ephb = NULL;
    size_t n = 0;
    pa_err e = PA_OK;

    if (pa_b64_decode_alloc(eph_b64, &ephb, &n) != PA_OK)
        return PA_ERR_INVALID_REQUEST;
    if (pa_ecies_envelope_key(sc->priv, ephb, n, sc->sh1, env_key) != PA_OK)
        e = PA_ERR_DECRYPTION_FAILED;
    if (e == PA_OK
        && (pa_b64_encode_alloc(env_key, sizeof env_key, &res->secret_key)
                != PA_OK
            || pa_b64_encode_alloc(sc->sh2, sizeof sc->sh2, &res->shared_info2)
                   != PA_OK))
        e = PA_ERR_UNKNOWN_ERROR;
    OPENSSL_cleanse(env_key, sizeof env_key);
    free(ephb);
    return e;
}

pa_err pa_ecies_decryptor_get(const pa_act_env *env,
                              const char *application_key,
                              const char *activation_id,
                              const char *ephemeral_public_key,
                              pa_ecies_decryptor_res *res)
{
    scope sc;
    pa_err e;

    memset(res, 0, sizeof *res);
    memset(&sc, 0, sizeof sc);
    if (!application_key || !ephemeral_public_key)
        return PA_ERR_INVALID_REQUEST;
    e = activation_id
            ? activation_scope(env, application_key, activation_id, &sc)
            : application_scope(env, application_key, &sc);
    if (e == PA_OK)
        e = answer(&sc, ephemeral_public_key, res);
    if (e != PA_OK)
        pa_ecies_decryptor_res_free(res);
    pa_ec_free(sc.priv);
    OPENSSL_cleanse(&sc, sizeof sc);
    return e;
}

void pa_ecies_decryptor_res_free(pa_ecies_decryptor_res *r)
{
    if (!r)
        return;
    if (r->secret_key)
        pa_secure_free(r->secret_key, strlen(r->secret_key));
    free(r->shared_info2);
    memset(r, 0, sizeof *r);
}
