/*
 * token.h - MAC token digest (CRYPTO.md 10.2).
 *
 * DIGEST = HMAC(tokenSecret, NONCE || "&" || decimal(timestampMs)), with the
 * raw nonce bytes and no protocol version (0.24 era).  The server only ever
 * verifies; pa_token_digest is also what a client computes.
 */
#ifndef PA_TOKEN_H
#define PA_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define PA_TOKEN_SECRET_LEN 16
#define PA_TOKEN_DIGEST_LEN 32

/* The digest.  nonce may be of any length (16 bytes in practice; NULL only
 * with nonce_len 0).  The timestamp is rendered in canonical decimal:
 * no leading zeros, no '+', '-' for negative values. */
pa_err pa_token_digest(const uint8_t secret[PA_TOKEN_SECRET_LEN],
                       const uint8_t *nonce, size_t nonce_len,
                       int64_t timestamp_ms,
                       uint8_t out[PA_TOKEN_DIGEST_LEN]);

/* *valid = 1 when digest (digest_len bytes, as decoded from the request)
 * equals the digest above; compared in constant time.  A digest of another
 * length is simply invalid.  Returns an error only when the digest cannot be
 * computed (then *valid = 0). */
pa_err pa_token_verify(const uint8_t secret[PA_TOKEN_SECRET_LEN],
                       const uint8_t *nonce, size_t nonce_len,
                       int64_t timestamp_ms, const uint8_t *digest,
                       size_t digest_len, int *valid);

#endif
