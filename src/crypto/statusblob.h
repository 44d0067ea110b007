/*
 * statusblob.h - the encrypted activation status blob (CRYPTO.md 7).
 *
 * getActivationStatus returns 32 bytes encrypted with the activation's
 * transport key (AES-128-CBC, no padding).  The plaintext starts with the
 * magic DE C0 DE D1 and carries the state, versions, counters and a hash of
 * the expected counter data.  A client that sends a 16-byte challenge gets a
 * blob whose IV is derived from that challenge and a fresh server nonce, and
 * all fields are real; an older client gets a zero IV and random counter
 * fields (7.2).  The decryption half is here for padevice and tests.
 */
#ifndef PA_STATUSBLOB_H
#define PA_STATUSBLOB_H

#include <stdint.h>

#include "util/err.h"

#define PA_STATUS_BLOB_LEN 32
#define PA_STATUS_NONCE_LEN 16
#define PA_STATUS_CHALLENGE_LEN 16

/* Fields of the plaintext (7.1); all are the low 8 bits of the value. */
typedef struct {
    uint8_t status;              /* activation state 1..5 (6.1) */
    uint8_t current_version;     /* activation version, 2 or 3 */
    uint8_t upgrade_version;     /* the server passes 3 */
    uint8_t ctr_byte;            /* low byte of the numeric counter */
    uint8_t failed_attempts;
    uint8_t max_failed_attempts;
    uint8_t ctr_look_ahead;      /* signature lookahead, default 20 */
    uint8_t ctr_data_hash[16];   /* pa_status_ctr_data_hash(), or zeros when
                                    the activation has no ctrData */
} pa_status_fields;

/* IV = KDF_INTERNAL(KDF_N(transport, 3000), challenge || nonce)  (7.4). */
pa_err pa_status_iv(const uint8_t transport[16], const uint8_t challenge[16],
                    const uint8_t nonce[16], uint8_t iv[16]);

/* KDF_INTERNAL(KDF_N(transport, 4000), ctr_data)  (7.5). */
pa_err pa_status_ctr_data_hash(const uint8_t transport[16],
                               const uint8_t ctr_data[16], uint8_t out[16]);

/* Server side.  With a challenge: a fresh nonce is written to nonce_out
 * (required), the IV is derived, every field of f is written and the five
 * reserved bytes are random.  Without (challenge NULL): zero IV; reserved,
 * ctr_byte, ctr_look_ahead and ctr_data_hash are random whatever f says;
 * nonce_out may be NULL (if not, it is zeroed: no nonce is sent). */
pa_err pa_status_encrypt(const uint8_t transport[16],
                         const uint8_t *challenge16_or_NULL,
                         const pa_status_fields *f,
                         uint8_t nonce_out[PA_STATUS_NONCE_LEN],
                         uint8_t blob_out[PA_STATUS_BLOB_LEN]);

/* Client side.  Challenge and nonce both given: derived IV; both NULL: zero
 * IV; only one of them: PA_ERR_INVALID_INPUT_FORMAT.  A wrong key,
 * challenge or nonce shows as a magic mismatch: PA_ERR_DECRYPTION_FAILED
 * (and *out is zeroed).  Without a challenge ctr_byte, ctr_look_ahead and
 * ctr_data_hash are random and mean nothing. */
pa_err pa_status_decrypt(const uint8_t transport[16],
                         const uint8_t *challenge16_or_NULL,
                         const uint8_t *nonce16_or_NULL,
                         const uint8_t blob[PA_STATUS_BLOB_LEN],
                         pa_status_fields *out);

/* 32 random bytes, for unknown and CREATED activations (7.6). */
pa_err pa_status_random_blob(uint8_t blob_out[PA_STATUS_BLOB_LEN]);

/* Low level, used by pa_status_encrypt and by the tests (a vector's
 * decrypted plaintext, re-encrypted with its IV, must give the vector's
 * blob): AES-CBC-NOPAD(transport, iv, plain). */
pa_err pa_status_seal(const uint8_t transport[16], const uint8_t iv[16],
                      const uint8_t plain[PA_STATUS_BLOB_LEN],
                      uint8_t blob_out[PA_STATUS_BLOB_LEN]);

#endif
