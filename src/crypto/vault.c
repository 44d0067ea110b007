/*
 * vault.c - vault key transport (CRYPTO.md 11.1, 14.4).
 *
 * Both protocol versions are one AES-CBC encryption with a zero IV; they
 * differ only in the key, so each public function picks the key and calls
 * seal()/open().
 */
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/primitives.h"
#include "crypto/vault.h"

static const uint8_t zero_iv[PA_AES_BLOCK];

static pa_err seal(const uint8_t key[16], const uint8_t vault[16],
                   uint8_t out[PA_VAULT_CT_LEN])
{
    uint8_t *ct = NULL;
    size_t len = 0;
    pa_err e = pa_aes_cbc_encrypt(key, zero_iv, vault, PA_VAULT_KEY_LEN, &ct,
                                  &len);

    if (e == PA_OK && len != PA_VAULT_CT_LEN)
        e = PA_ERR_ENCRYPTION_FAILED;
    if (e == PA_OK)
        memcpy(out, ct, PA_VAULT_CT_LEN);
    else
        OPENSSL_cleanse(out, PA_VAULT_CT_LEN);
    pa_secure_free(ct, len);
    return e;
}

static pa_err open_ct(const uint8_t key[16], const uint8_t *in, size_t in_len,
                      uint8_t vault_out[PA_VAULT_KEY_LEN])
{
    uint8_t *pt = NULL;
    size_t len = 0;
    pa_err e = PA_ERR_DECRYPTION_FAILED;

    if (in != NULL && in_len == PA_VAULT_CT_LEN
        && pa_aes_cbc_decrypt(key, zero_iv, in, in_len, &pt, &len) == PA_OK
        && len == PA_VAULT_KEY_LEN) {
        memcpy(vault_out, pt, PA_VAULT_KEY_LEN);
        e = PA_OK;
    } else {
        OPENSSL_cleanse(vault_out, PA_VAULT_KEY_LEN);
    }
    pa_secure_free(pt, len);
    return e;
}

pa_err pa_vault_encrypt_key_v3(const uint8_t transport[16],
                               const uint8_t vault[16],
                               uint8_t out[PA_VAULT_CT_LEN])
{
    if (transport == NULL || vault == NULL || out == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    return seal(transport, vault, out);
}

pa_err pa_vault_encrypt_key_v2(const uint8_t transport[16],
                               const uint8_t vault[16], int64_t counter,
                               uint8_t out[PA_VAULT_CT_LEN])
{
    uint8_t key[16];
    pa_err e;

    if (transport == NULL || vault == NULL || out == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    /* KEY_ENCRYPTION_VAULT_TRANSPORT = KDF(KEY_TRANSPORT, 0x00*8||BE64(c)) */
    e = pa_kdf_n(transport, counter, key);
    if (e == PA_OK)
        e = seal(key, vault, out);
    OPENSSL_cleanse(key, sizeof key);
    return e;
}

pa_err pa_vault_decrypt_key_v3(const uint8_t transport[16], const uint8_t *in,
                               size_t in_len,
                               uint8_t vault_out[PA_VAULT_KEY_LEN])
{
    if (vault_out == NULL)
        return PA_ERR_DECRYPTION_FAILED;
    if (transport == NULL) {
        OPENSSL_cleanse(vault_out, PA_VAULT_KEY_LEN);
        return PA_ERR_DECRYPTION_FAILED;
    }
    return open_ct(transport, in, in_len, vault_out);
}

pa_err pa_vault_decrypt_key_v2(const uint8_t transport[16], int64_t counter,
                               const uint8_t *in, size_t in_len,
                               uint8_t vault_out[PA_VAULT_KEY_LEN])
{
    uint8_t key[16];
    pa_err e;

    if (vault_out == NULL)
        return PA_ERR_DECRYPTION_FAILED;
    if (transport == NULL || pa_kdf_n(transport, counter, key) != PA_OK) {
        OPENSSL_cleanse(vault_out, PA_VAULT_KEY_LEN);
        return PA_ERR_DECRYPTION_FAILED;
    }
    e = open_ct(key, in, in_len, vault_out);
    OPENSSL_cleanse(key, sizeof key);
    return e;
}
