/*
 * recovery.c - recovery code and PUK derivation (CRYPTO.md 12.1-12.3).
 *
 * D = KDF_X963(S, NONCE, 26); the code is the activation-code construction
 * (4.3) over D[0..9]; each PUK comes from the AES KDF keyed with D[10..25]
 * and an 8-byte index, which makes the KDF block BE64(i) || 08*8 (pitfall 9
 * of 0.4).  The code text itself is built by codes.c (pa_code_from_bytes),
 * shared with activation codes.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/codes.h"
#include "crypto/primitives.h"
#include "crypto/recovery.h"

#define D_LEN 26
#define CODE_BYTES PA_CODE_RANDOM_LEN
#define PUK_MASK UINT64_C(0xFFFFFFFFFF)          /* low 40 bits */
#define PUK_MOD UINT64_C(10000000000)            /* 10^10 */

/* Two's-complement reading of 8 random bytes without relying on the
 * implementation-defined uint64 -> int64 conversion. */
static int64_t to_signed(uint64_t v)
{
    if (v <= (uint64_t)INT64_MAX)
        return (int64_t)v;
    return -(int64_t)(~v) - 1;
}

pa_err pa_recovery_puk(const uint8_t puk_base_key[16], int64_t index,
                       char out[11])
{
    uint8_t idx[8], key[PA_KEY_LEN];
    uint64_t v = 0;
    pa_err e;

    if (puk_base_key == NULL || out == NULL)
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    pa_be64(index, idx);
    /* 8-byte index: pa_kdf pads it with eight 0x08 bytes (PKCS#7). */
    e = pa_kdf(puk_base_key, idx, sizeof idx, key);
    if (e == PA_OK) {
        v = (pa_u64(key + 8) & PUK_MASK) % PUK_MOD;
        for (int i = PA_RECOVERY_PUK_DIGITS - 1; i >= 0; i--) {
            out[i] = (char)('0' + (int)(v % 10));
            v /= 10;
        }
        out[PA_RECOVERY_PUK_DIGITS] = '\0';
    }
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(&v, sizeof v);
    return e;
}

pa_err pa_recovery_derive(const uint8_t *secret, size_t secret_len,
                          const uint8_t nonce[32], char code_out[24],
                          uint8_t puk_base_key_out[16])
{
    uint8_t d[D_LEN];
    pa_err e;

    if (secret == NULL || secret_len == 0 || nonce == NULL
        || code_out == NULL || puk_base_key_out == NULL)
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    e = pa_kdf_x963(secret, secret_len, nonce, PA_RECOVERY_NONCE_LEN, d,
                    sizeof d);
    if (e == PA_OK) {
        pa_code_from_bytes(d, code_out);
        memcpy(puk_base_key_out, d + CODE_BYTES, PA_RECOVERY_PUK_BASE_LEN);
    }
    OPENSSL_cleanse(d, sizeof d);
    return e;
}

/* Draws indexes until the PUK differs from the k PUKs already made. */
static pa_err next_unique_puk(const uint8_t base[16], char (*puks)[11],
                              unsigned k, int64_t *index_out)
{
    uint8_t rnd[8];
    pa_err e = PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;

    for (int attempt = 0; attempt < PA_RECOVERY_PUK_ATTEMPTS; attempt++) {
        int dup = 0;

        e = pa_random(rnd, sizeof rnd);
        if (e == PA_OK)
            e = pa_recovery_puk(base, to_signed(pa_u64(rnd)), puks[k]);
        if (e != PA_OK)
            break;
        for (unsigned j = 0; j < k; j++)
            dup |= pa_ct_equal((const uint8_t *)puks[j], PA_RECOVERY_PUK_DIGITS,
                               (const uint8_t *)puks[k], PA_RECOVERY_PUK_DIGITS);
        if (!dup) {
            *index_out = to_signed(pa_u64(rnd));
            break;
        }
        e = PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;   /* stays if attempts run out */
    }
    OPENSSL_cleanse(rnd, sizeof rnd);
    return e;
}

pa_err pa_recovery_generate(const uint8_t *secret, size_t secret_len,
                            unsigned npuks, uint8_t nonce_out[32],
                            char code_out[24], int64_t *indexes_out,
                            char (*puks_out)[11])
{
    uint8_t base[PA_RECOVERY_PUK_BASE_LEN];
    pa_err e;

    if (npuks < 1 || npuks > PA_RECOVERY_MAX_PUKS)
        return PA_ERR_INVALID_REQUEST;
    if (secret == NULL || secret_len == 0 || nonce_out == NULL
        || code_out == NULL || indexes_out == NULL || puks_out == NULL)
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    e = pa_random(nonce_out, PA_RECOVERY_NONCE_LEN);
    if (e == PA_OK)
        e = pa_recovery_derive(secret, secret_len, nonce_out, code_out, base);
    for (unsigned k = 0; e == PA_OK && k < npuks; k++)
        e = next_unique_puk(base, puks_out, k, &indexes_out[k]);
    OPENSSL_cleanse(base, sizeof base);
    if (e != PA_OK) {
        /* No half-made seed or PUK list may be used by mistake. */
        OPENSSL_cleanse(nonce_out, PA_RECOVERY_NONCE_LEN);
        OPENSSL_cleanse(code_out, 24);
        OPENSSL_cleanse(indexes_out, npuks * sizeof *indexes_out);
        OPENSSL_cleanse(puks_out, npuks * sizeof *puks_out);
    }
    return e;
}

pa_err pa_recovery_postcard_secret(const pa_eckey *postcard_priv,
                                   const pa_eckey *remote_pub,
                                   uint8_t out[32])
{
    if (postcard_priv == NULL || remote_pub == NULL || out == NULL)
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    if (!pa_ec_has_private(postcard_priv))
        return PA_ERR_INVALID_KEY_FORMAT;
    /* The whole X coordinate is the secret: no REDUCE here (12.3). */
    return pa_ec_ecdh(postcard_priv, remote_pub, out);
}
