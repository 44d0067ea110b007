/*
 * vault.h - transport of KEY_ENCRYPTION_VAULT (CRYPTO.md 11.1, 14.4).
 *
 * The server hands the device its vault key encrypted, 16 -> 32 bytes
 * (AES-CBC, zero IV, PKCS#7):
 *   protocol 3: under KEY_TRANSPORT (the ECIES layer protects it further);
 *   protocol 2: under KEY_ENCRYPTION_VAULT_TRANSPORT = KDF(KEY_TRANSPORT,
 *               IDX(counter)), counter = the activation counter after the
 *               signature check (14.4).
 * The decrypt functions are the device side (emulator, tests).
 */
#ifndef PA_VAULT_H
#define PA_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define PA_VAULT_KEY_LEN 16
#define PA_VAULT_CT_LEN 32

pa_err pa_vault_encrypt_key_v3(const uint8_t transport[16],
                               const uint8_t vault[16],
                               uint8_t out[PA_VAULT_CT_LEN]);

pa_err pa_vault_encrypt_key_v2(const uint8_t transport[16],
                               const uint8_t vault[16], int64_t counter,
                               uint8_t out[PA_VAULT_CT_LEN]);

/* Device side.  in must be exactly 32 bytes decrypting (with valid PKCS#7
 * padding) to exactly 16; anything else, including a wrong key in all but
 * a 2^-128 fraction of cases, is PA_ERR_DECRYPTION_FAILED with vault_out
 * zeroed. */
pa_err pa_vault_decrypt_key_v3(const uint8_t transport[16], const uint8_t *in,
                               size_t in_len,
                               uint8_t vault_out[PA_VAULT_KEY_LEN]);

pa_err pa_vault_decrypt_key_v2(const uint8_t transport[16], int64_t counter,
                               const uint8_t *in, size_t in_len,
                               uint8_t vault_out[PA_VAULT_KEY_LEN]);

#endif
