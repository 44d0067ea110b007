/*
 * token.c - MAC token digest (CRYPTO.md 10.2).
 *
 * The timestamp is formatted here, from the parsed 64-bit value, rather
 * than taken from the request text: Java parses the SOAP long and renders
 * it again, so "+0012" and "12" must give the same digest.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/primitives.h"
#include "crypto/token.h"

/* "&" followed by the canonical decimal of ts; returns the length.  21
 * characters for INT64_MIN plus "&" and the NUL fit in 24 bytes. */
static size_t amp_decimal(int64_t ts, char buf[24])
{
    int n = snprintf(buf, 24, "&%" PRId64, ts);

    return n > 0 && n < 24 ? (size_t)n : 0;
}

pa_err pa_token_digest(const uint8_t secret[PA_TOKEN_SECRET_LEN],
                       const uint8_t *nonce, size_t nonce_len,
                       int64_t timestamp_ms,
                       uint8_t out[PA_TOKEN_DIGEST_LEN])
{
    char tail[24];
    size_t tail_len;

    if (secret == NULL || out == NULL || (nonce == NULL && nonce_len > 0))
        return PA_ERR_INVALID_INPUT_FORMAT;
    tail_len = amp_decimal(timestamp_ms, tail);
    if (tail_len == 0)
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    return pa_hmac2(secret, PA_TOKEN_SECRET_LEN, nonce, nonce_len,
                    (const uint8_t *)tail, tail_len, out);
}

pa_err pa_token_verify(const uint8_t secret[PA_TOKEN_SECRET_LEN],
                       const uint8_t *nonce, size_t nonce_len,
                       int64_t timestamp_ms, const uint8_t *digest,
                       size_t digest_len, int *valid)
{
    uint8_t expected[PA_TOKEN_DIGEST_LEN];
    pa_err e;

    if (valid == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    *valid = 0;
    if (digest == NULL && digest_len > 0)
        return PA_ERR_INVALID_INPUT_FORMAT;
    e = pa_token_digest(secret, nonce, nonce_len, timestamp_ms, expected);
    if (e == PA_OK)
        *valid = pa_ct_equal(expected, sizeof expected, digest, digest_len);
    OPENSSL_cleanse(expected, sizeof expected);
    return e;
}
