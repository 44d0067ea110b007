/*
 * base64.h - RFC 4648 Base64 with the exact acceptance rules PowerAuth
 * clients rely on (CRYPTO.md 1.2).
 *
 * Encoding always pads with '='.  Decoding accepts complete, partial or
 * absent padding, refuses any character outside the standard alphabet
 * (whitespace included), a length of 1 mod 4 after the padding is removed,
 * and surplus padding (more '=' than the length needs).
 */
#ifndef PA_BASE64_H
#define PA_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Characters needed to encode n bytes, without the terminating NUL. */
#define PA_B64_ENCLEN(n) ((((n) + 2) / 3) * 4)

/* Upper bound of the bytes a string of n characters decodes to. */
#define PA_B64_DECMAX(n) (((n) / 4) * 3 + 3)

/* Encodes n bytes into out, which must hold PA_B64_ENCLEN(n) + 1 chars.
 * Returns the string length. */
size_t pa_b64_encode(const uint8_t *in, size_t n, char *out);

/* Decodes a NUL-terminated string into out (room for PA_B64_DECMAX(len)).
 * PA_ERR_INVALID_INPUT_FORMAT on any rule violation. */
pa_err pa_b64_decode(const char *in, uint8_t *out, size_t *outlen);

/* Same for a string of known length (need not be terminated). */
pa_err pa_b64_decode_n(const char *in, size_t inlen, uint8_t *out,
                       size_t *outlen);

/* Decodes and requires exactly `want` bytes. */
pa_err pa_b64_decode_exact(const char *in, uint8_t *out, size_t want);

/* Allocating helpers: *out is malloc'ed, caller frees (pa_b64_decode_alloc
 * output may hold secrets: wipe before free).  NUL-terminated encode. */
pa_err pa_b64_encode_alloc(const uint8_t *in, size_t n, char **out);
pa_err pa_b64_decode_alloc(const char *in, uint8_t **out, size_t *outlen);

#endif
