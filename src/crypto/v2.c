/*
 * v2.c - protocol-2 activation cryptography and E2EE keys, see v2.h.
 *
 * The activation exchange wraps a 65-byte point in two AES-CBC layers with
 * the same IV: the inner one keyed by the OTP (PBKDF2), the outer one by an
 * ephemeral ECDH key.  Both directions (device key to the server, server key
 * to the device) use this one construction, so it lives in two helpers that
 * take already derived keys.  Every derived key and intermediate buffer is
 * wiped before return, on error paths too.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/primitives.h"
#include "crypto/v2.h"
#include "util/base64.h"

/* --- activation code, protocol-2 view ------------------------------------ */

static int is_b32_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7');
}

int pa_v2_short_id_valid(const char *s)
{
    if (s == NULL)
        return 0;
    for (int i = 0; i < PA_V2_SHORT_ID_LEN; i++) {
        /* A NUL fails both tests, so short strings stop here safely. */
        if (i == 5 ? s[i] != '-' : !is_b32_char(s[i]))
            return 0;
    }
    return s[PA_V2_SHORT_ID_LEN] == '\0';
}

pa_err pa_v2_split_code(const char *code23, char short_id[12], char otp[12])
{
    if (code23 == NULL || short_id == NULL || otp == NULL
        || strlen(code23) != 23)
        return PA_ERR_INVALID_INPUT_FORMAT;
    memcpy(short_id, code23, PA_V2_SHORT_ID_LEN);
    short_id[PA_V2_SHORT_ID_LEN] = '\0';
    memcpy(otp, code23 + 12, PA_V2_OTP_LEN);
    otp[PA_V2_OTP_LEN] = '\0';
    return PA_OK;
}

int pa_v2_code_has_short_id(const char *code, const char *short_id)
{
    if (!pa_v2_short_id_valid(short_id) || code == NULL
        || strlen(code) != 23)
        return 0;
    return memcmp(code, short_id, PA_V2_SHORT_ID_LEN) == 0;
}

/* --- keys ---------------------------------------------------------------- */

pa_err pa_v2_otp_key(const char *activation_otp, const char *salt,
                     uint8_t out[PA_V2_KEY_LEN])
{
    if (activation_otp == NULL || salt == NULL || out == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    return pa_pbkdf2_sha1((const uint8_t *)activation_otp,
                          strlen(activation_otp), (const uint8_t *)salt,
                          strlen(salt), PA_V2_PBKDF2_ITERATIONS, out,
                          PA_V2_KEY_LEN);
}

/* --- the two-layer point envelope ---------------------------------------- */

/* out = AES_CBC_ENC(outer, iv, AES_CBC_ENC(inner, iv, point65)): 65 -> 80 -> 96. */
static pa_err wrap_point(const uint8_t outer[PA_V2_KEY_LEN],
                         const uint8_t inner[PA_V2_KEY_LEN],
                         const uint8_t iv[PA_V2_NONCE_LEN],
                         const pa_eckey *point, uint8_t out[PA_V2_C_PUB_LEN])
{
    uint8_t pub[PA_EC_PUB_LEN];
    uint8_t *tmp = NULL, *ct = NULL;
    size_t tmplen = 0, ctlen = 0;
    pa_err e;

    e = pa_ec_pub_export(point, pub);
    if (e == PA_OK)
        e = pa_aes_cbc_encrypt(inner, iv, pub, sizeof pub, &tmp, &tmplen);
    if (e == PA_OK)
        e = pa_aes_cbc_encrypt(outer, iv, tmp, tmplen, &ct, &ctlen);
    if (e == PA_OK && ctlen != PA_V2_C_PUB_LEN)
        e = PA_ERR_ENCRYPTION_FAILED;
    if (e == PA_OK)
        memcpy(out, ct, PA_V2_C_PUB_LEN);
    pa_secure_free(tmp, tmplen);
    pa_secure_free(ct, ctlen);
    OPENSSL_cleanse(pub, sizeof pub);
    return e;
}

/* Inverse of wrap_point.  A bad length, bad padding or bytes that are not
 * a point are indistinguishable from a wrong OTP, so all of them are
 * DECRYPTION_FAILED; resource or provider failures pass through unchanged
 * (they must not make the caller discard the activation). */
static pa_err unwrap_point(const uint8_t outer[PA_V2_KEY_LEN],
                           const uint8_t inner[PA_V2_KEY_LEN],
                           const uint8_t iv[PA_V2_NONCE_LEN],
                           const uint8_t *c, size_t n, pa_eckey **out)
{
    uint8_t *tmp = NULL, *pt = NULL;
    size_t tmplen = 0, ptlen = 0;
    pa_err e;

    if (c == NULL || out == NULL)
        return PA_ERR_DECRYPTION_FAILED;
    *out = NULL;
    e = pa_aes_cbc_decrypt(outer, iv, c, n, &tmp, &tmplen);
    if (e == PA_OK)
        e = pa_aes_cbc_decrypt(inner, iv, tmp, tmplen, &pt, &ptlen);
    if (e == PA_OK)
        e = pa_ec_pub_import(pt, ptlen, out);
    if (e == PA_ERR_INVALID_KEY_FORMAT          /* not a point */
        || e == PA_ERR_INVALID_INPUT_FORMAT)    /* absurdly long input */
        e = PA_ERR_DECRYPTION_FAILED;
    pa_secure_free(tmp, tmplen);
    pa_secure_free(pt, ptlen);
    return e;
}

/* --- device public key --------------------------------------------------- */

pa_err pa_v2_decrypt_device_public_key_k(const uint8_t key_eph[PA_V2_KEY_LEN],
                                         const uint8_t otp_key[PA_V2_KEY_LEN],
                                         const uint8_t nonce[PA_V2_NONCE_LEN],
                                         const uint8_t *c, size_t n,
                                         pa_eckey **device_pub_out)
{
    /* The device encrypted with KEY_OTP first, so KEY_EPH is the outer layer. */
    return unwrap_point(key_eph, otp_key, nonce, c, n, device_pub_out);
}

pa_err pa_v2_decrypt_device_public_key(const pa_eckey *master_priv,
                                       const pa_eckey *client_eph_pub,
                                       const uint8_t otp_key[PA_V2_KEY_LEN],
                                       const uint8_t nonce[PA_V2_NONCE_LEN],
                                       const uint8_t *c, size_t n,
                                       pa_eckey **device_pub_out)
{
    uint8_t key_eph[PA_V2_KEY_LEN];
    pa_err e = pa_ec_ecdh16(master_priv, client_eph_pub, key_eph);

    if (e == PA_OK)
        e = pa_v2_decrypt_device_public_key_k(key_eph, otp_key, nonce, c, n,
                                              device_pub_out);
    OPENSSL_cleanse(key_eph, sizeof key_eph);
    return e;
}

pa_err pa_v2_encrypt_device_public_key(const pa_eckey *eph_priv,
                                       const pa_eckey *master_pub,
                                       const uint8_t otp_key[PA_V2_KEY_LEN],
                                       const uint8_t nonce[PA_V2_NONCE_LEN],
                                       const pa_eckey *device_pub,
                                       uint8_t out[PA_V2_C_PUB_LEN])
{
    uint8_t key_eph[PA_V2_KEY_LEN];
    pa_err e = pa_ec_ecdh16(eph_priv, master_pub, key_eph);

    if (e == PA_OK)
        e = wrap_point(key_eph, otp_key, nonce, device_pub, out);
    OPENSSL_cleanse(key_eph, sizeof key_eph);
    return e;
}

/* --- application signature ----------------------------------------------- */

/* Decodes Base64 into a fresh buffer of capacity *cap (wipe + free it with
 * pa_secure_free(*out, *cap)); NULL or bad text: INVALID_INPUT_FORMAT. */
static pa_err b64_decode_buf(const char *in, uint8_t **out, size_t *len,
                             size_t *cap)
{
    size_t inlen;
    pa_err e;

    *out = NULL;
    *len = *cap = 0;
    if (in == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    inlen = strlen(in);
    *cap = PA_B64_DECMAX(inlen) + 1;
    *out = malloc(*cap);
    if (*out == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    e = pa_b64_decode_n(in, inlen, *out, len);
    if (e != PA_OK)
        *len = 0;
    return e;
}

/* BASE = id & B64(nonce) & B64(c) & B64(appkey), malloc'ed, NUL-terminated.
 * The Base64 parts are canonical re-encodings of the decoded values. */
static pa_err build_app_base(const char *id, const uint8_t *nonce,
                             const uint8_t *c, size_t n, const uint8_t *key,
                             size_t keylen, char **out, size_t *outlen)
{
    size_t idlen = strlen(id);
    size_t total = idlen + 1 + PA_B64_ENCLEN(PA_V2_NONCE_LEN) + 1
                   + PA_B64_ENCLEN(n) + 1 + PA_B64_ENCLEN(keylen);
    char *s = malloc(total + 1), *p;

    if (s == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    p = s;
    memcpy(p, id, idlen);
    p += idlen;
    *p++ = '&';
    p += pa_b64_encode(nonce, PA_V2_NONCE_LEN, p);
    *p++ = '&';
    p += pa_b64_encode(c, n, p);
    *p++ = '&';
    p += pa_b64_encode(key, keylen, p);
    *p = '\0';
    *out = s;
    *outlen = (size_t)(p - s);
    return PA_OK;
}

pa_err pa_v2_application_signature(const char *short_id_or_identity,
                                   const uint8_t nonce[PA_V2_NONCE_LEN],
                                   const uint8_t *c, size_t n,
                                   const char *app_key_b64,
                                   const char *app_secret_b64,
                                   uint8_t out[PA_V2_APP_SIG_LEN])
{
    uint8_t *key = NULL, *secret = NULL;
    size_t keylen = 0, keycap = 0, seclen = 0, seccap = 0, baselen = 0;
    char *base = NULL;
    pa_err e;

    if (short_id_or_identity == NULL || nonce == NULL || (c == NULL && n)
        || out == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    e = b64_decode_buf(app_key_b64, &key, &keylen, &keycap);
    if (e == PA_OK)
        e = b64_decode_buf(app_secret_b64, &secret, &seclen, &seccap);
    if (e == PA_OK)
        e = build_app_base(short_id_or_identity, nonce, c, n, key, keylen,
                           &base, &baselen);
    /* The HMAC key is the decoded secret (4.2), unlike ECIES. */
    if (e == PA_OK)
        e = pa_hmac(secret, seclen, (const uint8_t *)base, baselen, out);
    pa_secure_free(key, keycap);
    pa_secure_free(secret, seccap);
    if (base != NULL)
        pa_secure_free(base, baselen + 1);
    return e;
}

pa_err pa_v2_verify_application_signature(const char *short_id_or_identity,
                                          const uint8_t nonce[PA_V2_NONCE_LEN],
                                          const uint8_t *c, size_t n,
                                          const char *app_key_b64,
                                          const char *app_secret_b64,
                                          const uint8_t *sig, size_t siglen,
                                          int *valid)
{
    uint8_t expected[PA_V2_APP_SIG_LEN];
    pa_err e;

    if (valid == NULL || (sig == NULL && siglen))
        return PA_ERR_INVALID_INPUT_FORMAT;
    *valid = 0;
    e = pa_v2_application_signature(short_id_or_identity, nonce, c, n,
                                    app_key_b64, app_secret_b64, expected);
    if (e == PA_OK)
        *valid = pa_ct_equal(expected, sizeof expected, sig, siglen);
    OPENSSL_cleanse(expected, sizeof expected);
    return e;
}

/* --- server public key --------------------------------------------------- */

pa_err pa_v2_encrypt_server_public_key(const pa_eckey *eph2_priv,
                                       const pa_eckey *device_pub,
                                       const uint8_t otp_key[PA_V2_KEY_LEN],
                                       const uint8_t nonce_s[PA_V2_NONCE_LEN],
                                       const pa_eckey *server_pub,
                                       uint8_t out[PA_V2_C_PUB_LEN])
{
    uint8_t key_eph2[PA_V2_KEY_LEN];
    pa_err e = pa_ec_ecdh16(eph2_priv, device_pub, key_eph2);

    if (e == PA_OK)
        e = wrap_point(key_eph2, otp_key, nonce_s, server_pub, out);
    OPENSSL_cleanse(key_eph2, sizeof key_eph2);
    return e;
}

pa_err pa_v2_decrypt_server_public_key(const pa_eckey *device_priv,
                                       const pa_eckey *eph2_pub,
                                       const uint8_t otp_key[PA_V2_KEY_LEN],
                                       const uint8_t nonce_s[PA_V2_NONCE_LEN],
                                       const uint8_t *c, size_t n,
                                       pa_eckey **server_pub_out)
{
    uint8_t key_eph2[PA_V2_KEY_LEN];
    pa_err e = pa_ec_ecdh16(device_priv, eph2_pub, key_eph2);

    if (e == PA_OK)
        e = unwrap_point(key_eph2, otp_key, nonce_s, c, n, server_pub_out);
    OPENSSL_cleanse(key_eph2, sizeof key_eph2);
    return e;
}

pa_err pa_v2_server_data_text(const char *activation_id, const uint8_t *c,
                              size_t n, char **out)
{
    size_t idlen;
    char *s, *p;

    if (activation_id == NULL || (c == NULL && n) || out == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    idlen = strlen(activation_id);
    s = malloc(PA_B64_ENCLEN(idlen) + 1 + PA_B64_ENCLEN(n) + 1);
    if (s == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    p = s + pa_b64_encode((const uint8_t *)activation_id, idlen, s);
    *p++ = '&';
    p += pa_b64_encode(c, n, p);
    *p = '\0';
    *out = s;
    return PA_OK;
}

pa_err pa_v2_sign_server_data(const pa_eckey *master_priv,
                              const char *activation_id, const uint8_t *c,
                              size_t n, uint8_t sig[PA_ECDSA_MAX],
                              size_t *siglen)
{
    char *text = NULL;
    pa_err e = pa_v2_server_data_text(activation_id, c, n, &text);

    if (e == PA_OK)
        e = pa_ec_sign(master_priv, (const uint8_t *)text, strlen(text), sig,
                       siglen);
    free(text);
    return e;
}

pa_err pa_v2_verify_server_data(const pa_eckey *master_pub,
                                const char *activation_id, const uint8_t *c,
                                size_t n, const uint8_t *sig, size_t siglen,
                                int *valid)
{
    char *text = NULL;
    pa_err e;

    if (valid == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    *valid = 0;
    e = pa_v2_server_data_text(activation_id, c, n, &text);
    if (e == PA_OK)
        e = pa_ec_verify(master_pub, (const uint8_t *)text, strlen(text), sig,
                         siglen, valid);
    free(text);
    return e;
}

/* --- end-to-end encryption ----------------------------------------------- */

pa_err pa_v2_e2e_session_index(const uint8_t *given, size_t n,
                               uint8_t out[PA_V2_KEY_LEN])
{
    if (given != NULL && n == PA_V2_KEY_LEN) {
        memcpy(out, given, PA_V2_KEY_LEN);
        return PA_OK;
    }
    return pa_random(out, PA_V2_KEY_LEN);
}

pa_err pa_v2_e2e_personalized_key(const uint8_t transport[PA_V2_KEY_LEN],
                                  const uint8_t idx[PA_V2_KEY_LEN],
                                  uint8_t out[PA_V2_KEY_LEN])
{
    return pa_kdf_internal_legacy(transport, PA_V2_KEY_LEN, idx,
                                  PA_V2_KEY_LEN, out);
}

pa_err pa_v2_e2e_nonpersonalized_key(const pa_eckey *master_priv,
                                     const pa_eckey *eph_pub,
                                     const uint8_t idx[PA_V2_KEY_LEN],
                                     uint8_t out[PA_V2_KEY_LEN])
{
    uint8_t m[PA_V2_KEY_LEN];
    pa_err e = pa_ec_ecdh16(master_priv, eph_pub, m);

    if (e == PA_OK)
        e = pa_kdf_internal_legacy(m, sizeof m, idx, PA_V2_KEY_LEN, out);
    OPENSSL_cleanse(m, sizeof m);
    return e;
}

/* KEY_ENC and KEY_MAC of one message. */
static pa_err e2e_keys(const uint8_t *key, const uint8_t *adhoc_idx,
                       const uint8_t *mac_idx, uint8_t enc[PA_V2_KEY_LEN],
                       uint8_t mac[PA_V2_KEY_LEN])
{
    pa_err e = pa_kdf_internal_legacy(key, PA_V2_KEY_LEN, adhoc_idx,
                                      PA_V2_KEY_LEN, enc);

    if (e == PA_OK)
        e = pa_kdf_internal_legacy(key, PA_V2_KEY_LEN, mac_idx,
                                   PA_V2_KEY_LEN, mac);
    return e;
}

pa_err pa_v2_e2e_encrypt(const uint8_t session_key[PA_V2_KEY_LEN],
                         const uint8_t adhoc_idx[PA_V2_KEY_LEN],
                         const uint8_t mac_idx[PA_V2_KEY_LEN],
                         const uint8_t nonce[PA_V2_NONCE_LEN],
                         const uint8_t *plain, size_t n, uint8_t **ct,
                         size_t *ctlen, uint8_t mac[PA_V2_E2E_MAC_LEN])
{
    uint8_t kenc[PA_V2_KEY_LEN], kmac[PA_V2_KEY_LEN];
    uint8_t *buf = NULL;
    size_t len = 0;
    pa_err e;

    if ((plain == NULL && n) || ct == NULL || ctlen == NULL || mac == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    /* Equal indexes would make the encryption and MAC keys equal. */
    if (memcmp(adhoc_idx, mac_idx, PA_V2_KEY_LEN) == 0)
        return PA_ERR_INVALID_INPUT_FORMAT;
    e = e2e_keys(session_key, adhoc_idx, mac_idx, kenc, kmac);
    if (e == PA_OK)
        e = pa_aes_cbc_encrypt(kenc, nonce, plain, n, &buf, &len);
    if (e == PA_OK)
        e = pa_hmac(kmac, sizeof kmac, buf, len, mac);
    if (e == PA_OK) {
        *ct = buf;
        *ctlen = len;
    } else {
        free(buf);
    }
    OPENSSL_cleanse(kenc, sizeof kenc);
    OPENSSL_cleanse(kmac, sizeof kmac);
    return e;
}

pa_err pa_v2_e2e_decrypt(const uint8_t session_key[PA_V2_KEY_LEN],
                         const uint8_t adhoc_idx[PA_V2_KEY_LEN],
                         const uint8_t mac_idx[PA_V2_KEY_LEN],
                         const uint8_t nonce[PA_V2_NONCE_LEN],
                         const uint8_t *ct, size_t n, const uint8_t *mac,
                         size_t maclen, uint8_t **plain, size_t *plen)
{
    uint8_t kenc[PA_V2_KEY_LEN], kmac[PA_V2_KEY_LEN];
    uint8_t expected[PA_V2_E2E_MAC_LEN];
    pa_err e;

    if ((ct == NULL && n) || (mac == NULL && maclen) || plain == NULL
        || plen == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    e = e2e_keys(session_key, adhoc_idx, mac_idx, kenc, kmac);
    if (e == PA_OK)
        e = pa_hmac(kmac, sizeof kmac, ct, n, expected);
    /* Authenticate before touching the ciphertext (no padding oracle). */
    if (e == PA_OK && !pa_ct_equal(expected, sizeof expected, mac, maclen))
        e = PA_ERR_DECRYPTION_FAILED;
    if (e == PA_OK)
        e = pa_aes_cbc_decrypt(kenc, nonce, ct, n, plain, plen);
    OPENSSL_cleanse(kenc, sizeof kenc);
    OPENSSL_cleanse(kmac, sizeof kmac);
    OPENSSL_cleanse(expected, sizeof expected);
    return e;
}
