/*
 * base32.h - RFC 4648 section 6 Base32, no padding (CRYPTO.md 1.3).
 * Used for activation and recovery codes.
 */
#ifndef PA_BASE32_H
#define PA_BASE32_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define PA_B32_ENCLEN(n) (((n) * 8 + 4) / 5)

/* Encodes without '=' padding; out holds PA_B32_ENCLEN(n) + 1 chars. */
size_t pa_b32_encode(const uint8_t *in, size_t n, char *out);

/* Decodes upper-case, unpadded Base32; surplus bits in the last character
 * are dropped.  out holds inlen * 5 / 8 bytes.  PA_ERR_INVALID_INPUT_FORMAT
 * on a character outside the alphabet. */
pa_err pa_b32_decode(const char *in, size_t inlen, uint8_t *out,
                     size_t *outlen);

#endif
