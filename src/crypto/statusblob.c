/*
 * statusblob.c - encryption and decryption of the activation status blob.
 * See statusblob.h; layout and key derivation in CRYPTO.md 7.1-7.5.
 */
#include "crypto/statusblob.h"

#include <string.h>

#include <openssl/crypto.h>

#include "crypto/primitives.h"

/* Index numbers of KDF_N for the two transport sub-keys. */
#define IDX_TRANSPORT_IV 3000
#define IDX_TRANSPORT_CTR 4000

/* Offsets in the 32-byte plaintext (7.1). */
enum {
    OFF_MAGIC = 0,
    OFF_STATUS = 4,
    OFF_CURRENT_VERSION = 5,
    OFF_UPGRADE_VERSION = 6,
    OFF_RESERVED = 7,            /* 5 bytes */
    OFF_CTR_BYTE = 12,
    OFF_FAIL_COUNT = 13,
    OFF_MAX_FAIL_COUNT = 14,
    OFF_CTR_LOOK_AHEAD = 15,
    OFF_CTR_DATA_HASH = 16       /* 16 bytes */
};
#define RESERVED_LEN 5

static const uint8_t magic[4] = {0xDE, 0xC0, 0xDE, 0xD1};

/* KDF_INTERNAL(KDF_N(transport, idx), data): both status sub-keys are used
 * this way only. */
static pa_err subkey_mac(const uint8_t transport[16], int64_t idx,
                         const uint8_t *data, size_t n, uint8_t out[16])
{
    uint8_t k[PA_KEY_LEN];
    pa_err e = pa_kdf_n(transport, idx, k);

    if (e == PA_OK)
        e = pa_kdf_internal(k, sizeof k, data, n, out);
    OPENSSL_cleanse(k, sizeof k);
    return e;
}

pa_err pa_status_iv(const uint8_t transport[16], const uint8_t challenge[16],
                    const uint8_t nonce[16], uint8_t iv[16])
{
    uint8_t m[PA_STATUS_CHALLENGE_LEN + PA_STATUS_NONCE_LEN];
    pa_err e;

    if (transport == NULL || challenge == NULL || nonce == NULL || iv == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    memcpy(m, challenge, PA_STATUS_CHALLENGE_LEN);      /* challenge first */
    memcpy(m + PA_STATUS_CHALLENGE_LEN, nonce, PA_STATUS_NONCE_LEN);
    e = subkey_mac(transport, IDX_TRANSPORT_IV, m, sizeof m, iv);
    OPENSSL_cleanse(m, sizeof m);
    return e;
}

pa_err pa_status_ctr_data_hash(const uint8_t transport[16],
                               const uint8_t ctr_data[16], uint8_t out[16])
{
    if (transport == NULL || ctr_data == NULL || out == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    return subkey_mac(transport, IDX_TRANSPORT_CTR, ctr_data, 16, out);
}

pa_err pa_status_seal(const uint8_t transport[16], const uint8_t iv[16],
                      const uint8_t plain[PA_STATUS_BLOB_LEN],
                      uint8_t blob_out[PA_STATUS_BLOB_LEN])
{
    if (transport == NULL || iv == NULL || plain == NULL || blob_out == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    return pa_aes_cbc_encrypt_nopad(transport, iv, plain, PA_STATUS_BLOB_LEN,
                                    blob_out);
}

/* Lays out the plaintext.  Starts from 32 random bytes so that whatever the
 * variant leaves unset (reserved, and without a challenge the counter
 * fields) is random. */
static pa_err pack(const pa_status_fields *f, int real_counters,
                   uint8_t p[PA_STATUS_BLOB_LEN])
{
    pa_err e = pa_random(p, PA_STATUS_BLOB_LEN);

    if (e != PA_OK)
        return e;
    memcpy(p + OFF_MAGIC, magic, sizeof magic);
    p[OFF_STATUS] = f->status;
    p[OFF_CURRENT_VERSION] = f->current_version;
    p[OFF_UPGRADE_VERSION] = f->upgrade_version;
    p[OFF_FAIL_COUNT] = f->failed_attempts;
    p[OFF_MAX_FAIL_COUNT] = f->max_failed_attempts;
    if (real_counters) {
        p[OFF_CTR_BYTE] = f->ctr_byte;
        p[OFF_CTR_LOOK_AHEAD] = f->ctr_look_ahead;
        memcpy(p + OFF_CTR_DATA_HASH, f->ctr_data_hash, 16);
    }
    return PA_OK;
}

static void unpack(const uint8_t p[PA_STATUS_BLOB_LEN], pa_status_fields *f)
{
    f->status = p[OFF_STATUS];
    f->current_version = p[OFF_CURRENT_VERSION];
    f->upgrade_version = p[OFF_UPGRADE_VERSION];
    f->ctr_byte = p[OFF_CTR_BYTE];
    f->failed_attempts = p[OFF_FAIL_COUNT];
    f->max_failed_attempts = p[OFF_MAX_FAIL_COUNT];
    f->ctr_look_ahead = p[OFF_CTR_LOOK_AHEAD];
    memcpy(f->ctr_data_hash, p + OFF_CTR_DATA_HASH, 16);
}

pa_err pa_status_encrypt(const uint8_t transport[16],
                         const uint8_t *challenge16_or_NULL,
                         const pa_status_fields *f,
                         uint8_t nonce_out[PA_STATUS_NONCE_LEN],
                         uint8_t blob_out[PA_STATUS_BLOB_LEN])
{
    uint8_t plain[PA_STATUS_BLOB_LEN], iv[PA_AES_BLOCK] = {0};
    int with_challenge = challenge16_or_NULL != NULL;
    pa_err e;

    if (transport == NULL || f == NULL || blob_out == NULL
        || (with_challenge && nonce_out == NULL))
        return PA_ERR_INVALID_INPUT_FORMAT;
    if (with_challenge) {
        e = pa_random(nonce_out, PA_STATUS_NONCE_LEN);
        if (e == PA_OK)
            e = pa_status_iv(transport, challenge16_or_NULL, nonce_out, iv);
    } else {
        if (nonce_out != NULL)
            memset(nonce_out, 0, PA_STATUS_NONCE_LEN);
        e = PA_OK;                      /* IV stays ZERO16 */
    }
    if (e == PA_OK)
        e = pack(f, with_challenge, plain);
    if (e == PA_OK)
        e = pa_status_seal(transport, iv, plain, blob_out);
    OPENSSL_cleanse(plain, sizeof plain);
    OPENSSL_cleanse(iv, sizeof iv);
    return e;
}

pa_err pa_status_decrypt(const uint8_t transport[16],
                         const uint8_t *challenge16_or_NULL,
                         const uint8_t *nonce16_or_NULL,
                         const uint8_t blob[PA_STATUS_BLOB_LEN],
                         pa_status_fields *out)
{
    uint8_t plain[PA_STATUS_BLOB_LEN], iv[PA_AES_BLOCK] = {0};
    pa_err e = PA_OK;

    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (transport == NULL || blob == NULL || out == NULL
        || (challenge16_or_NULL == NULL) != (nonce16_or_NULL == NULL))
        return PA_ERR_INVALID_INPUT_FORMAT;
    if (challenge16_or_NULL != NULL)
        e = pa_status_iv(transport, challenge16_or_NULL, nonce16_or_NULL, iv);
    if (e == PA_OK)
        e = pa_aes_cbc_decrypt_nopad(transport, iv, blob, PA_STATUS_BLOB_LEN,
                                     plain);
    /* The magic is the only integrity check the format has. */
    if (e == PA_OK && CRYPTO_memcmp(plain + OFF_MAGIC, magic, sizeof magic) != 0)
        e = PA_ERR_DECRYPTION_FAILED;
    if (e == PA_OK)
        unpack(plain, out);
    OPENSSL_cleanse(plain, sizeof plain);
    OPENSSL_cleanse(iv, sizeof iv);
    return e;
}

pa_err pa_status_random_blob(uint8_t blob_out[PA_STATUS_BLOB_LEN])
{
    if (blob_out == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    return pa_random(blob_out, PA_STATUS_BLOB_LEN);
}
