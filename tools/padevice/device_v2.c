/*
 * device_v2.c - the protocol-2 (legacy) device flows: key exchange with an
 * activation code or a custom identity (14.1, 14.2) and the protocol-2
 * token envelope (14.6).  The protocol-2 vault answer is in device_ops.c.
 *
 * The 2.x SDK encrypts its public key twice (KEY_OTP from the activation
 * OTP, then an ECDH key with the master key), authenticates the request
 * with an HMAC keyed by the decoded application secret, and reads the
 * server's public key back after checking the master key's ECDSA signature
 * over it.  The OTP and salt are kept in the state between the two steps
 * because KEY_OTP is needed again for the answer.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/primitives.h"
#include "tools/padevice/device.h"

/* The cryptographic half of the request, before the state changes. */
static pa_err v2_build_request(const pa_device *d, const pa_eckey *dev,
                               const char *id, const char *otp,
                               pa_device_v2_request *out)
{
    uint8_t kotp[PA_V2_KEY_LEN];
    pa_eckey *eph = NULL;
    pa_err e = pa_ec_generate(&eph);

    if (e == PA_OK)
        e = pa_random(out->nonce, sizeof out->nonce);
    if (e == PA_OK)
        e = pa_v2_otp_key(otp, id, kotp);
    if (e == PA_OK)
        e = pa_v2_encrypt_device_public_key(eph, d->master_pub, kotp,
                                            out->nonce, dev, out->c);
    if (e == PA_OK)
        e = pa_ec_pub_export(eph, out->eph);
    if (e == PA_OK)
        e = pa_v2_application_signature(id, out->nonce, out->c, sizeof out->c,
                                        d->app_key, d->app_secret,
                                        out->app_sig);
    OPENSSL_cleanse(kotp, sizeof kotp);
    pa_ec_free(eph);
    return e;
}

pa_err pa_device_v2_activation_request(pa_device *d, const char *id,
                                       const char *otp,
                                       pa_device_v2_request *out)
{
    pa_eckey *dev = NULL;
    char *otp_copy = NULL, *id_copy = NULL;
    pa_err e;

    memset(out, 0, sizeof *out);
    if (id == NULL || *id == '\0' || otp == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    e = pa_ec_generate(&dev);
    if (e == PA_OK)
        e = v2_build_request(d, dev, id, otp, out);
    if (e == PA_OK && (e = pa_device_strdup(otp, &otp_copy)) == PA_OK)
        e = pa_device_strdup(id, &id_copy);
    if (e != PA_OK) {
        pa_ec_free(dev);
        pa_device_free_secret(otp_copy);
        free(id_copy);
        memset(out, 0, sizeof *out);
        return e;
    }
    pa_device_reset_activation(d, dev);
    d->v2_otp = otp_copy;
    d->v2_salt = id_copy;
    memcpy(d->v2_nonce, out->nonce, sizeof d->v2_nonce);
    d->has_v2_pending = 1;
    return PA_OK;
}

/* Checks the master key's signature, then decrypts KEY_SERVER_PUBLIC. */
static pa_err v2_read_server_key(const pa_device *d, const char *activation_id,
                                 const uint8_t nonce_s[PA_V2_NONCE_LEN],
                                 const uint8_t *eph2, size_t eph2_len,
                                 const uint8_t *c, size_t n,
                                 const uint8_t *sig, size_t siglen,
                                 pa_eckey **server_pub)
{
    uint8_t kotp[PA_V2_KEY_LEN];
    pa_eckey *eph = NULL;
    int valid = 0;
    pa_err e = pa_v2_verify_server_data(d->master_pub, activation_id, c, n,
                                        sig, siglen, &valid);

    if (e == PA_OK && !valid)
        e = PA_ERR_INVALID_SIGNATURE;
    if (e == PA_OK)
        e = pa_ec_pub_import(eph2, eph2_len, &eph);
    if (e == PA_OK)
        e = pa_v2_otp_key(d->v2_otp, d->v2_salt, kotp);
    if (e == PA_OK)
        e = pa_v2_decrypt_server_public_key(d->device_key, eph, kotp, nonce_s,
                                            c, n, server_pub);
    OPENSSL_cleanse(kotp, sizeof kotp);
    pa_ec_free(eph);
    return e;
}

pa_err pa_device_v2_activation_response(pa_device *d,
                                        const char *activation_id,
                                        const uint8_t nonce_s[PA_V2_NONCE_LEN],
                                        const uint8_t *eph2, size_t eph2_len,
                                        const uint8_t *c, size_t n,
                                        const uint8_t *sig, size_t siglen)
{
    pa_eckey *server_pub = NULL;
    char *id = NULL;
    pa_err e;

    if (!d->has_v2_pending || d->device_key == NULL)
        return PA_ERR_INVALID_REQUEST;
    if (activation_id == NULL || *activation_id == '\0' || nonce_s == NULL
        || eph2 == NULL || c == NULL || sig == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    e = v2_read_server_key(d, activation_id, nonce_s, eph2, eph2_len, c, n,
                           sig, siglen, &server_pub);
    if (e == PA_OK)
        e = pa_device_strdup(activation_id, &id);
    if (e != PA_OK) {
        pa_ec_free(server_pub);
        return e;
    }
    free(d->activation_id);
    pa_ec_free(d->server_pub);
    d->activation_id = id;
    d->server_pub = server_pub;
    d->version = 2;
    d->counter = 0;
    d->has_ctr_data = 0;
    OPENSSL_cleanse(d->ctr_data, sizeof d->ctr_data);
    /* Forget the OTP: it is not needed any more. */
    pa_device_free_secret(d->v2_otp);
    free(d->v2_salt);
    d->v2_otp = d->v2_salt = NULL;
    OPENSSL_cleanse(d->v2_nonce, sizeof d->v2_nonce);
    d->has_v2_pending = 0;
    return PA_OK;
}

pa_err pa_device_v2_token_request(pa_device *d, int compressed,
                                  uint8_t ephb[PA_EC_PUB_LEN],
                                  size_t *ephb_len)
{
    pa_err e;

    *ephb_len = 0;
    if (d->activation_id == NULL || (d->version != 2 && d->version != 3))
        return PA_ERR_ACTIVATION_INCORRECT_STATE;
    pa_device_pending_clear(d);
    e = pa_ecies_v2_token_client(d->master_pub, compressed, ephb, ephb_len,
                                 &d->pending_ctx);
    if (e == PA_OK)
        d->pending = PA_DEVICE_PENDING_V2_TOKEN;
    return e;
}

pa_err pa_device_v2_token_response(pa_device *d, const uint8_t *ct, size_t n,
                                   const uint8_t *mac, size_t mac_len,
                                   const pa_device_token **tok)
{
    return pa_device_read_token(d, PA_DEVICE_PENDING_V2_TOKEN, ct, n, mac,
                                mac_len, tok);
}
