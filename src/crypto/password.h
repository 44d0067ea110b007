/*
 * password.h - Argon2 hashing of activation OTPs and recovery PUKs
 * (CRYPTO.md 15).
 *
 * Hashes are written as
 *   $argon2i$v=19$m=32768,t=3,p=16$<B64(salt)>$<B64(digest)>
 * (unpadded standard Base64, 8-byte salt, 32-byte digest).  Each hash or
 * verify costs 32 MiB and ~130 ms of CPU: never call these on a
 * latency-critical thread.
 */
#ifndef PA_PASSWORD_H
#define PA_PASSWORD_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Parameters used when hashing (15). */
#define PA_ARGON2_T 3
#define PA_ARGON2_M 32768            /* KiB */
#define PA_ARGON2_P 16
#define PA_ARGON2_SALT_LEN 8
#define PA_ARGON2_HASH_LEN 32

/* Limits on parameters read from a stored hash; a hash outside them is
 * treated as unparsable so that a corrupt row cannot make the server
 * allocate or spin without bound. */
#define PA_ARGON2_MAX_M (1024u * 1024u)   /* 1 GiB in KiB */
#define PA_ARGON2_MAX_T 256u
#define PA_ARGON2_MAX_P 255u
#define PA_ARGON2_MAX_ENCODED 512u         /* whole MCF string, chars */

/* Hashes pw with a fresh random salt.  *mcf_out is a malloc'ed
 * NUL-terminated string; the caller frees it with free() (it is not a
 * secret in itself, but is worth nothing without the password). */
pa_err pa_password_hash(const uint8_t *pw, size_t n, char **mcf_out);

/* Verifies pw against a stored MCF hash; *match = 1 on a match, else 0.
 * Accepts $argon2i$, $argon2d$, $argon2id$ with v=19 and m,t,p in that
 * order and unpadded standard Base64; the digest is recomputed with length
 * 32 (a stored digest of another length never matches).  Anything else,
 * or parameters beyond the limits above, is
 * PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR (ERR0022, "unparsable stored hash"). */
pa_err pa_password_verify(const uint8_t *pw, size_t n, const char *mcf,
                          int *match);

#endif
