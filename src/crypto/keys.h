/*
 * keys.h - KEY_MASTER_SECRET and the keys derived from it (CRYPTO.md 3.1,
 * 3.2).
 *
 * Server and device compute the same 16-byte master secret from opposite
 * halves of their two key pairs (ECDH16), then five 16-byte keys with
 * KDF_N.  Nothing here is stored: the server recomputes the set per request,
 * so callers keep it on the stack and wipe it with pa_keys_wipe().
 */
#ifndef PA_KEYS_H
#define PA_KEYS_H

#include <stdint.h>

#include "crypto/eckey.h"
#include "util/err.h"

/* KDF_N indexes of 3.2. */
#define PA_KEYS_IDX_POSSESSION 1
#define PA_KEYS_IDX_KNOWLEDGE 2
#define PA_KEYS_IDX_BIOMETRY 3
#define PA_KEYS_IDX_TRANSPORT 1000
#define PA_KEYS_IDX_VAULT 2000

typedef struct {
    uint8_t possession[16]; /* KEY_SIGNATURE_POSSESSION */
    uint8_t knowledge[16];  /* KEY_SIGNATURE_KNOWLEDGE */
    uint8_t biometry[16];   /* KEY_SIGNATURE_BIOMETRY */
    uint8_t transport[16];  /* KEY_TRANSPORT */
    uint8_t vault[16];      /* KEY_ENCRYPTION_VAULT */
} pa_derived_keys;

/* KEY_MASTER_SECRET = ECDH16(priv, pub): server private + device public, or
 * device private + server public.  Errors come from pa_ec_ecdh16
 * (PA_ERR_INVALID_KEY_FORMAT when priv holds no private scalar). */
pa_err pa_keys_master_secret(const pa_eckey *priv, const pa_eckey *pub,
                             uint8_t out[16]);

/* The five KDF_N keys of a master secret.  On error *out is zeroed. */
pa_err pa_keys_derive(const uint8_t master[16], pa_derived_keys *out);

/* Both steps; the master secret never leaves the function. */
pa_err pa_keys_from_pair(const pa_eckey *priv, const pa_eckey *pub,
                         pa_derived_keys *out);

/* Zeroes every key (NULL is fine). */
void pa_keys_wipe(pa_derived_keys *k);

#endif
