/*
 * recordenc.c - database record encryption (CRYPTO.md 16).
 *
 * RECORD_KEY = REDUCE(HMAC(MASTER, UTF8(index string))); the column value is
 * Base64(IV || AES-CBC-PKCS7(RECORD_KEY, IV, plaintext)).  The per-column
 * helpers at the end apply the mode rules of 16.2 so that the store layer
 * handles a mode integer in exactly one way.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/primitives.h"
#include "crypto/recordenc.h"
#include "util/base64.h"

#define IV_LEN PA_AES_BLOCK

static int have_key(const uint8_t *master, size_t mlen)
{
    return master != NULL && mlen > 0;
}

pa_err pa_record_check_mode(int mode, int have_master_key)
{
    switch (mode) {
    case PA_RECORD_NO_ENCRYPTION:
        return PA_OK;
    case PA_RECORD_AES_HMAC:
        return have_master_key ? PA_OK : PA_ERR_MISSING_MASTER_DB_ENCRYPTION_KEY;
    default:
        return PA_ERR_UNSUPPORTED_ENCRYPTION_MODE;
    }
}

pa_record_mode pa_record_mode_for_write(int have_master_key)
{
    return have_master_key ? PA_RECORD_AES_HMAC : PA_RECORD_NO_ENCRYPTION;
}

/* KDF_INTERNAL(master, UTF8(index)); the index string is not secret. */
static pa_err key_from_index(const uint8_t *master, size_t mlen,
                             const char *index, uint8_t out[16])
{
    if (!have_key(master, mlen))
        return PA_ERR_MISSING_MASTER_DB_ENCRYPTION_KEY;
    return pa_kdf_internal(master, mlen, (const uint8_t *)index,
                           strlen(index), out);
}

pa_err pa_record_key_server_private(const uint8_t *master, size_t mlen,
                                    const char *user_id,
                                    const char *activation_id,
                                    uint8_t out[16])
{
    size_t cap;
    char *index;
    pa_err e;

    if (user_id == NULL || activation_id == NULL || out == NULL)
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    cap = strlen(user_id) + 1 + strlen(activation_id) + 1;
    index = malloc(cap);
    if (index == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    snprintf(index, cap, "%s&%s", user_id, activation_id);
    e = key_from_index(master, mlen, index, out);
    free(index);
    return e;
}

pa_err pa_record_key_puk(const uint8_t *master, size_t mlen,
                         int64_t application_id, const char *user_id,
                         const char *recovery_code, int64_t puk_index,
                         uint8_t out[16])
{
    size_t cap;
    char *index;
    pa_err e;

    if (user_id == NULL || recovery_code == NULL || out == NULL)
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    /* Two signed 64-bit decimals take at most 20 chars each. */
    cap = 20 + 1 + strlen(user_id) + 1 + strlen(recovery_code) + 1 + 20 + 1;
    index = malloc(cap);
    if (index == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    snprintf(index, cap, "%" PRId64 "&%s&%s&%" PRId64, application_id,
             user_id, recovery_code, puk_index);
    e = key_from_index(master, mlen, index, out);
    free(index);
    return e;
}

pa_err pa_record_encrypt_iv(const uint8_t key[16], const uint8_t iv[16],
                            const uint8_t *plain, size_t n, char **b64_out)
{
    uint8_t *ct = NULL, *raw;
    size_t ctlen = 0;
    pa_err e;

    if (key == NULL || iv == NULL || b64_out == NULL || (plain == NULL && n))
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    e = pa_aes_cbc_encrypt(key, iv, plain, n, &ct, &ctlen);
    if (e != PA_OK)
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    raw = malloc(IV_LEN + ctlen);
    if (raw == NULL) {
        free(ct);
        return PA_ERR_UNKNOWN_ERROR;
    }
    memcpy(raw, iv, IV_LEN);
    memcpy(raw + IV_LEN, ct, ctlen);
    e = pa_b64_encode_alloc(raw, IV_LEN + ctlen, b64_out);
    free(ct);      /* ciphertext only: nothing to wipe */
    free(raw);
    return e;
}

pa_err pa_record_encrypt(const uint8_t key[16], const uint8_t *plain,
                         size_t n, char **b64_out)
{
    uint8_t iv[IV_LEN];
    pa_err e = pa_random(iv, sizeof iv);

    if (e != PA_OK)
        return e;
    return pa_record_encrypt_iv(key, iv, plain, n, b64_out);
}

pa_err pa_record_decrypt(const uint8_t key[16], const char *b64,
                         uint8_t **plain, size_t *n)
{
    uint8_t *raw = NULL, *pt = NULL, *res;
    size_t rawlen = 0, ptlen = 0;
    pa_err e;

    if (key == NULL || plain == NULL || n == NULL)
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    if (b64 == NULL || pa_b64_decode_alloc(b64, &raw, &rawlen) != PA_OK)
        return PA_ERR_INVALID_KEY_FORMAT;
    if (rawlen < IV_LEN) {
        free(raw);
        return PA_ERR_INVALID_KEY_FORMAT;
    }
    /* An empty or misaligned ciphertext, bad padding (wrong key, moved
     * record): all one error, with no detail that could act as an oracle. */
    e = pa_aes_cbc_decrypt(key, raw, raw + IV_LEN, rawlen - IV_LEN, &pt,
                           &ptlen);
    free(raw);
    if (e != PA_OK)
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    res = malloc(ptlen + 1);
    if (res != NULL) {
        memcpy(res, pt, ptlen);
        res[ptlen] = 0;
    }
    pa_secure_free(pt, ptlen);
    if (res == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    *plain = res;
    *n = ptlen;
    return PA_OK;
}

/* --- per-column helpers --------------------------------------------------- */

static char *dup_str(const char *s)
{
    size_t len = strlen(s) + 1;
    char *d = malloc(len);

    if (d != NULL)
        memcpy(d, s, len);
    return d;
}

pa_err pa_record_read_server_private(int mode, const uint8_t *master,
                                     size_t mlen, const char *user_id,
                                     const char *activation_id,
                                     const char *column, uint8_t **key,
                                     size_t *n)
{
    uint8_t rk[16];
    pa_err e = pa_record_check_mode(mode, have_key(master, mlen));

    if (e != PA_OK)
        return e;
    if (column == NULL || key == NULL || n == NULL)
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    if (mode == PA_RECORD_NO_ENCRYPTION) {
        e = pa_b64_decode_alloc(column, key, n);
        return e == PA_OK ? PA_OK
               : e == PA_ERR_UNKNOWN_ERROR ? e : PA_ERR_INVALID_KEY_FORMAT;
    }
    e = pa_record_key_server_private(master, mlen, user_id, activation_id, rk);
    if (e == PA_OK)
        e = pa_record_decrypt(rk, column, key, n);
    OPENSSL_cleanse(rk, sizeof rk);
    return e;
}

pa_err pa_record_write_server_private(const uint8_t *master, size_t mlen,
                                      const char *user_id,
                                      const char *activation_id,
                                      const uint8_t *key, size_t n,
                                      pa_record_mode *mode_out,
                                      char **column_out)
{
    uint8_t rk[16];
    pa_record_mode mode = pa_record_mode_for_write(have_key(master, mlen));
    pa_err e;

    if (key == NULL || mode_out == NULL || column_out == NULL)
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    if (mode == PA_RECORD_NO_ENCRYPTION) {
        e = pa_b64_encode_alloc(key, n, column_out);
    } else {
        e = pa_record_key_server_private(master, mlen, user_id,
                                         activation_id, rk);
        if (e == PA_OK)
            e = pa_record_encrypt(rk, key, n, column_out);
        OPENSSL_cleanse(rk, sizeof rk);
    }
    if (e == PA_OK)
        *mode_out = mode;
    return e;
}

pa_err pa_record_read_puk(int mode, const uint8_t *master, size_t mlen,
                          int64_t application_id, const char *user_id,
                          const char *recovery_code, int64_t puk_index,
                          const char *column, char **hash_out)
{
    uint8_t rk[16], *pt = NULL;
    size_t ptlen = 0;
    pa_err e = pa_record_check_mode(mode, have_key(master, mlen));

    if (e != PA_OK)
        return e;
    if (column == NULL || hash_out == NULL)
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    if (mode == PA_RECORD_NO_ENCRYPTION) {
        *hash_out = dup_str(column);
        return *hash_out != NULL ? PA_OK : PA_ERR_UNKNOWN_ERROR;
    }
    e = pa_record_key_puk(master, mlen, application_id, user_id,
                          recovery_code, puk_index, rk);
    if (e == PA_OK)
        e = pa_record_decrypt(rk, column, &pt, &ptlen);
    OPENSSL_cleanse(rk, sizeof rk);
    if (e != PA_OK)
        return e;
    /* The hash is text: an embedded NUL would silently truncate it. */
    if (memchr(pt, 0, ptlen) != NULL) {
        pa_secure_free(pt, ptlen);
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    }
    *hash_out = (char *)pt;     /* NUL-terminated by pa_record_decrypt */
    return PA_OK;
}

pa_err pa_record_write_puk(const uint8_t *master, size_t mlen,
                           int64_t application_id, const char *user_id,
                           const char *recovery_code, int64_t puk_index,
                           const char *hash, pa_record_mode *mode_out,
                           char **column_out)
{
    uint8_t rk[16];
    pa_record_mode mode = pa_record_mode_for_write(have_key(master, mlen));
    pa_err e;

    if (hash == NULL || mode_out == NULL || column_out == NULL)
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    if (mode == PA_RECORD_NO_ENCRYPTION) {
        *column_out = dup_str(hash);
        e = *column_out != NULL ? PA_OK : PA_ERR_UNKNOWN_ERROR;
    } else {
        e = pa_record_key_puk(master, mlen, application_id, user_id,
                              recovery_code, puk_index, rk);
        if (e == PA_OK)
            e = pa_record_encrypt(rk, (const uint8_t *)hash, strlen(hash),
                                  column_out);
        OPENSSL_cleanse(rk, sizeof rk);
    }
    if (e == PA_OK)
        *mode_out = mode;
    return e;
}
