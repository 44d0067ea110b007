/*
 * recovery.h - recovery codes and PUKs (CRYPTO.md 4.6, 12.1-12.3).
 *
 * A recovery code and its PUKs are derived from a secret S (16 random bytes
 * for a code bound to an activation, the 32-byte postcard ECDH secret for a
 * postcard) and a "recovery seed": a 32-byte nonce plus one signed 64-bit
 * derivation index per PUK.  Whoever holds S and the seed (the printing
 * centre) re-derives the same code and PUKs, so the derivation must be
 * byte-exact.  Storing, hashing and uniqueness of the code within an
 * application are the service layer's job; this module only computes.
 */
#ifndef PA_RECOVERY_H
#define PA_RECOVERY_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/eckey.h"
#include "util/err.h"

#define PA_RECOVERY_MAX_PUKS 100
#define PA_RECOVERY_NONCE_LEN 32
#define PA_RECOVERY_PUK_BASE_LEN 16
#define PA_RECOVERY_CODE_LEN 23     /* XXXXX-XXXXX-XXXXX-XXXXX */
#define PA_RECOVERY_PUK_DIGITS 10

/* Candidates tested per PUK before giving up (12.1 says "about 20"; the
 * reference library tests 19, see 20.3).  With at most 100 PUKs among 10^10
 * values a repeat is ~1e-8 likely, so the exact bound is unobservable. */
#define PA_RECOVERY_PUK_ATTEMPTS 20

/* PUK for one derivation index: KDF(puk_base_key, BE64(index)) with the
 * 8-byte (PKCS#7-padded) index, low 40 bits of bytes 8..15, mod 10^10,
 * written as 10 zero-padded digits plus NUL. */
pa_err pa_recovery_puk(const uint8_t puk_base_key[16], int64_t index,
                       char out[11]);

/* D = KDF_X963(S, NONCE, 26): recovery code from D[0..9] (activation-code
 * construction, 23 chars plus NUL) and PUK_BASE_KEY = D[10..25].
 * secret must be non-empty (16 or 32 bytes in practice). */
pa_err pa_recovery_derive(const uint8_t *secret, size_t secret_len,
                          const uint8_t nonce[32], char code_out[24],
                          uint8_t puk_base_key_out[16]);

/* Full generation (12.1): random nonce, then npuks (1..100, else
 * PA_ERR_INVALID_REQUEST) random signed 64-bit indexes whose PUKs are
 * pairwise different.  indexes_out and puks_out have room for npuks
 * entries; entry k is the PUK with pukIndex k + 1.  More than
 * PA_RECOVERY_PUK_ATTEMPTS colliding candidates for one PUK fail with
 * PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR.  Outputs are wiped on failure. */
pa_err pa_recovery_generate(const uint8_t *secret, size_t secret_len,
                            unsigned npuks, uint8_t nonce_out[32],
                            char code_out[24], int64_t *indexes_out,
                            char (*puks_out)[11]);

/* Postcard secret (12.3): ECDH_RAW(postcard private, remote public), the
 * full 32 bytes, not reduced. */
pa_err pa_recovery_postcard_secret(const pa_eckey *postcard_priv,
                                   const pa_eckey *remote_pub,
                                   uint8_t out[32]);

#endif
