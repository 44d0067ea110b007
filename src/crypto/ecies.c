/*
 * ecies.c - PowerAuth ECIES (CRYPTO.md 5) and the protocol-2 token envelope
 * (5.10, 14.6).
 *
 * Everything reduces to three steps shared by server and client:
 *   envelope: ENV = KDF_X963(Z, SH1 || EPHB, 48)        (env_from_z)
 *   context:  KEY_ENC, KEY_MAC, IV (zero or from the nonce), SH2
 *   seal/open: AES-CBC + HMAC over CT || SH2, MAC checked first
 * so that the server, the intermediate-server path (envelope handed over as
 * 48 bytes) and the device emulator run the same code and cannot drift.
 *
 * Failure reporting is deliberately flat: the decryption side answers
 * PA_ERR_DECRYPTION_FAILED whatever went wrong, so that a client learns
 * nothing about which check refused its cryptogram.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/ecies.h"
#include "crypto/primitives.h"

/* ENV = KDF_X963(z, sh1 || ephb, 48).  INFO is public, so a plain heap
 * buffer is fine for it. */
static pa_err env_from_z(const uint8_t z[PA_ECDH_LEN], const uint8_t *sh1,
                         size_t sh1_len, const uint8_t *ephb, size_t ephb_len,
                         uint8_t env[PA_ECIES_ENV_LEN])
{
    uint8_t *info;
    pa_err e;

    info = malloc(sh1_len + ephb_len + 1);
    if (info == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    if (sh1_len > 0)
        memcpy(info, sh1, sh1_len);
    memcpy(info + sh1_len, ephb, ephb_len);
    e = pa_kdf_x963(z, PA_ECDH_LEN, info, sh1_len + ephb_len, env,
                    PA_ECIES_ENV_LEN);
    free(info);
    return e;
}

void pa_ecies_ctx_wipe(pa_ecies_ctx *ctx)
{
    if (ctx != NULL)
        OPENSSL_cleanse(ctx, sizeof *ctx);
}

pa_err pa_ecies_sh2_application(const char *app_secret, uint8_t out[32])
{
    if (app_secret == NULL || out == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    return pa_sha256((const uint8_t *)app_secret, strlen(app_secret), out);
}

pa_err pa_ecies_sh2_activation(const uint8_t transport_key[16],
                               const char *app_secret, uint8_t out[32])
{
    if (transport_key == NULL || app_secret == NULL || out == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    return pa_hmac(transport_key, 16, (const uint8_t *)app_secret,
                   strlen(app_secret), out);
}

pa_err pa_ecies_envelope_key_raw(const pa_eckey *priv, const uint8_t *ephb,
                                 size_t ephb_len, const uint8_t *sh1,
                                 size_t sh1_len,
                                 uint8_t env[PA_ECIES_ENV_LEN])
{
    pa_eckey *eph = NULL;
    uint8_t z[PA_ECDH_LEN];
    pa_err e;

    if (env == NULL)
        return PA_ERR_DECRYPTION_FAILED;
    memset(env, 0, PA_ECIES_ENV_LEN);
    if (priv == NULL || ephb == NULL || (sh1 == NULL && sh1_len > 0))
        return PA_ERR_DECRYPTION_FAILED;
    /* The point is decoded (and validated) only to compute Z; the KDF
     * hashes the bytes as received (5.2). */
    e = pa_ec_pub_import(ephb, ephb_len, &eph);
    if (e == PA_OK)
        e = pa_ec_ecdh(priv, eph, z);
    if (e == PA_OK)
        e = env_from_z(z, sh1, sh1_len, ephb, ephb_len, env);
    OPENSSL_cleanse(z, sizeof z);
    pa_ec_free(eph);
    if (e != PA_OK) {
        OPENSSL_cleanse(env, PA_ECIES_ENV_LEN);
        return PA_ERR_DECRYPTION_FAILED;
    }
    return PA_OK;
}

pa_err pa_ecies_envelope_key(const pa_eckey *priv, const uint8_t *ephb,
                             size_t ephb_len, const char *sh1,
                             uint8_t env[PA_ECIES_ENV_LEN])
{
    return pa_ecies_envelope_key_raw(priv, ephb, ephb_len,
                                     (const uint8_t *)sh1,
                                     sh1 ? strlen(sh1) : 0, env);
}

pa_err pa_ecies_ctx_from_envelope(const uint8_t env[PA_ECIES_ENV_LEN],
                                  const uint8_t *sh2, size_t sh2_len,
                                  const uint8_t *nonce, size_t nonce_len,
                                  pa_ecies_ctx *ctx)
{
    if (ctx == NULL)
        return PA_ERR_DECRYPTION_FAILED;
    pa_ecies_ctx_wipe(ctx);
    if (env == NULL || sh2_len > PA_ECIES_SH2_MAX
        || (sh2 == NULL && sh2_len > 0)
        || (nonce == NULL && nonce_len > 0)
        || (nonce != NULL && nonce_len != PA_ECIES_NONCE_LEN))
        return PA_ERR_DECRYPTION_FAILED;
    memcpy(ctx->key_enc, env, 16);
    memcpy(ctx->key_mac, env + 16, 16);
    /* 3.1: IV = KDF_INTERNAL(KEY_IV, NONCE); 3.0: ZERO16 (already zero). */
    if (nonce != NULL
        && pa_kdf_internal(env + 32, 16, nonce, nonce_len, ctx->iv) != PA_OK) {
        pa_ecies_ctx_wipe(ctx);
        return PA_ERR_DECRYPTION_FAILED;
    }
    if (sh2_len > 0)
        memcpy(ctx->sh2, sh2, sh2_len);
    ctx->sh2_len = sh2_len;
    return PA_OK;
}

pa_err pa_ecies_ctx_decrypt(const pa_ecies_ctx *ctx, const uint8_t *data,
                            size_t data_len, const uint8_t *mac,
                            size_t mac_len, uint8_t **plain,
                            size_t *plain_len)
{
    uint8_t expected[PA_ECIES_MAC_LEN];
    uint8_t *buf = NULL;
    size_t len = 0;
    int ok;

    if (plain == NULL || plain_len == NULL)
        return PA_ERR_DECRYPTION_FAILED;
    *plain = NULL;
    *plain_len = 0;
    if (ctx == NULL || mac == NULL || mac_len != PA_ECIES_MAC_LEN
        || (data == NULL && data_len > 0) || ctx->sh2_len > PA_ECIES_SH2_MAX)
        return PA_ERR_DECRYPTION_FAILED;
    /* Encrypt-then-MAC: nothing is decrypted before the MAC matches, so
     * padding errors are only reachable with a genuine MAC. */
    ok = pa_hmac2(ctx->key_mac, sizeof ctx->key_mac, data, data_len,
                  ctx->sh2, ctx->sh2_len, expected) == PA_OK
         && pa_ct_equal(expected, sizeof expected, mac, mac_len);
    OPENSSL_cleanse(expected, sizeof expected);
    if (!ok)
        return PA_ERR_DECRYPTION_FAILED;
    if (pa_aes_cbc_decrypt(ctx->key_enc, ctx->iv, data, data_len, &buf, &len)
        != PA_OK)
        return PA_ERR_DECRYPTION_FAILED;
    *plain = buf;
    *plain_len = len;
    return PA_OK;
}

pa_err pa_ecies_server_decrypt(const pa_eckey *priv, const char *sh1,
                               const uint8_t *sh2, size_t sh2_len,
                               const pa_ecies_request *req,
                               pa_ecies_ctx *ctx, uint8_t **plain,
                               size_t *plain_len)
{
    uint8_t env[PA_ECIES_ENV_LEN];
    pa_err e;

    if (ctx == NULL || plain == NULL || plain_len == NULL)
        return PA_ERR_DECRYPTION_FAILED;
    *plain = NULL;
    *plain_len = 0;
    pa_ecies_ctx_wipe(ctx);
    if (req == NULL)
        return PA_ERR_DECRYPTION_FAILED;
    e = pa_ecies_envelope_key(priv, req->eph, req->eph_len, sh1, env);
    if (e == PA_OK)
        e = pa_ecies_ctx_from_envelope(env, sh2, sh2_len, req->nonce,
                                       req->nonce_len, ctx);
    OPENSSL_cleanse(env, sizeof env);
    if (e == PA_OK)
        e = pa_ecies_ctx_decrypt(ctx, req->data, req->data_len, req->mac,
                                 req->mac_len, plain, plain_len);
    if (e != PA_OK) {
        pa_ecies_ctx_wipe(ctx);
        return PA_ERR_DECRYPTION_FAILED;
    }
    return PA_OK;
}

pa_err pa_ecies_encrypt_response(const pa_ecies_ctx *ctx,
                                 const uint8_t *plain, size_t n,
                                 uint8_t **ct, size_t *ct_len,
                                 uint8_t mac[PA_ECIES_MAC_LEN])
{
    static const uint8_t empty[1] = {0};
    uint8_t *buf = NULL;
    size_t len = 0;

    if (ct == NULL || ct_len == NULL)
        return PA_ERR_ENCRYPTION_FAILED;
    *ct = NULL;
    *ct_len = 0;
    if (ctx == NULL || mac == NULL || (plain == NULL && n > 0)
        || ctx->sh2_len > PA_ECIES_SH2_MAX)
        return PA_ERR_ENCRYPTION_FAILED;
    if (pa_aes_cbc_encrypt(ctx->key_enc, ctx->iv, plain ? plain : empty, n,
                           &buf, &len) != PA_OK)
        return PA_ERR_ENCRYPTION_FAILED;
    if (pa_hmac2(ctx->key_mac, sizeof ctx->key_mac, buf, len, ctx->sh2,
                 ctx->sh2_len, mac) != PA_OK) {
        OPENSSL_cleanse(mac, PA_ECIES_MAC_LEN);
        free(buf);
        return PA_ERR_ENCRYPTION_FAILED;
    }
    *ct = buf;
    *ct_len = len;
    return PA_OK;
}

/* Client half of the envelope: new ephemeral pair, EPHB in the requested
 * form, ENV from ECDH(eph, peer).  Shared by ECIES 3.x and the v2 token. */
static pa_err client_envelope(const pa_eckey *peer_pub, const uint8_t *sh1,
                              size_t sh1_len, int compressed_eph,
                              uint8_t ephb[PA_EC_PUB_LEN], size_t *ephb_len,
                              uint8_t env[PA_ECIES_ENV_LEN])
{
    pa_eckey *eph = NULL;
    uint8_t z[PA_ECDH_LEN];
    pa_err e;

    e = pa_ec_generate(&eph);
    if (e == PA_OK) {
        *ephb_len = compressed_eph ? PA_EC_PUB_COMPRESSED_LEN : PA_EC_PUB_LEN;
        e = compressed_eph ? pa_ec_pub_export_compressed(eph, ephb)
                           : pa_ec_pub_export(eph, ephb);
    }
    if (e == PA_OK)
        e = pa_ec_ecdh(eph, peer_pub, z);
    if (e == PA_OK)
        e = env_from_z(z, sh1, sh1_len, ephb, *ephb_len, env);
    OPENSSL_cleanse(z, sizeof z);
    pa_ec_free(eph);                /* the ephemeral private key dies here */
    if (e != PA_OK)
        OPENSSL_cleanse(env, PA_ECIES_ENV_LEN);
    return e;
}

pa_err pa_ecies_client_encrypt(const pa_eckey *server_pub, const char *sh1,
                               const uint8_t *sh2, size_t sh2_len, int v31,
                               int compressed_eph, const uint8_t *plain,
                               size_t n, pa_ecies_cryptogram *out,
                               pa_ecies_ctx *ctx)
{
    uint8_t env[PA_ECIES_ENV_LEN];
    pa_err e;

    if (out == NULL || ctx == NULL)
        return PA_ERR_ENCRYPTION_FAILED;
    memset(out, 0, sizeof *out);
    pa_ecies_ctx_wipe(ctx);
    if (server_pub == NULL || (plain == NULL && n > 0))
        return PA_ERR_ENCRYPTION_FAILED;
    e = client_envelope(server_pub, (const uint8_t *)sh1,
                        sh1 ? strlen(sh1) : 0, compressed_eph, out->eph,
                        &out->eph_len, env);
    if (e == PA_OK && v31) {
        e = pa_random(out->nonce, sizeof out->nonce);
        out->has_nonce = 1;
    }
    if (e == PA_OK)
        e = pa_ecies_ctx_from_envelope(env, sh2, sh2_len,
                                       v31 ? out->nonce : NULL,
                                       v31 ? sizeof out->nonce : 0, ctx);
    OPENSSL_cleanse(env, sizeof env);
    /* The request is sealed exactly like a response (5.6 step 4). */
    if (e == PA_OK)
        e = pa_ecies_encrypt_response(ctx, plain, n, &out->data,
                                      &out->data_len, out->mac);
    if (e != PA_OK) {
        pa_ecies_cryptogram_free(out);
        pa_ecies_ctx_wipe(ctx);
        return PA_ERR_ENCRYPTION_FAILED;
    }
    return PA_OK;
}

void pa_ecies_cryptogram_request(const pa_ecies_cryptogram *c,
                                 pa_ecies_request *req)
{
    if (c == NULL || req == NULL)
        return;
    req->eph = c->eph;
    req->eph_len = c->eph_len;
    req->data = c->data;
    req->data_len = c->data_len;
    req->mac = c->mac;
    req->mac_len = sizeof c->mac;
    req->nonce = c->has_nonce ? c->nonce : NULL;
    req->nonce_len = c->has_nonce ? sizeof c->nonce : 0;
}

void pa_ecies_cryptogram_free(pa_ecies_cryptogram *c)
{
    if (c == NULL)
        return;
    free(c->data);
    memset(c, 0, sizeof *c);
}

pa_err pa_ecies_client_decrypt_response(const pa_ecies_ctx *ctx,
                                        const uint8_t *ct, size_t n,
                                        const uint8_t *mac, size_t mac_len,
                                        uint8_t **plain, size_t *plain_len)
{
    return pa_ecies_ctx_decrypt(ctx, ct, n, mac, mac_len, plain, plain_len);
}

/* The v2 token context: KEY_ENC and KEY_MAC of ENV, ZERO16 IV, no SH2;
 * ENV's KEY_IV part is unused. */
static void v2_ctx_from_env(const uint8_t env[PA_ECIES_ENV_LEN],
                            pa_ecies_ctx *ctx)
{
    memcpy(ctx->key_enc, env, 16);
    memcpy(ctx->key_mac, env + 16, 16);
    memset(ctx->iv, 0, sizeof ctx->iv);
    ctx->sh2_len = 0;
}

pa_err pa_ecies_v2_token_context(const pa_eckey *master_priv,
                                 const uint8_t *ephb, size_t ephb_len,
                                 pa_ecies_ctx *ctx)
{
    uint8_t env[PA_ECIES_ENV_LEN];

    if (ctx == NULL)
        return PA_ERR_ENCRYPTION_FAILED;
    pa_ecies_ctx_wipe(ctx);
    if (pa_ecies_envelope_key_raw(master_priv, ephb, ephb_len, NULL, 0, env)
        != PA_OK)
        return PA_ERR_ENCRYPTION_FAILED;
    v2_ctx_from_env(env, ctx);
    OPENSSL_cleanse(env, sizeof env);
    return PA_OK;
}

pa_err pa_ecies_v2_token_client(const pa_eckey *master_pub,
                                int compressed_eph,
                                uint8_t ephb[PA_EC_PUB_LEN], size_t *ephb_len,
                                pa_ecies_ctx *ctx)
{
    uint8_t env[PA_ECIES_ENV_LEN];
    pa_err e;

    if (ctx == NULL)
        return PA_ERR_ENCRYPTION_FAILED;
    pa_ecies_ctx_wipe(ctx);
    if (master_pub == NULL || ephb == NULL || ephb_len == NULL)
        return PA_ERR_ENCRYPTION_FAILED;
    e = client_envelope(master_pub, NULL, 0, compressed_eph, ephb, ephb_len,
                        env);
    if (e == PA_OK)
        v2_ctx_from_env(env, ctx);
    OPENSSL_cleanse(env, sizeof env);
    return e == PA_OK ? PA_OK : PA_ERR_ENCRYPTION_FAILED;
}
