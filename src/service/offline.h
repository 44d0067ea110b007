/*
 * offline.h - CreatePersonalizedOfflineSignaturePayload and
 * CreateNonPersonalizedOfflineSignaturePayload (CRYPTO.md 9.1, 16).
 *
 * Both build the text the device is shown (usually as a QR code)
 *     data LF nonce LF indicator B64(ECDSA(key, data LF nonce LF indicator))
 * with a fresh random nonce on every call (crypto/offline.h does the
 * bytes).  Personalized: the activation's KEY_SERVER_PRIVATE (record-
 * decrypted), indicator '1', any activation state.  Non-personalized: the
 * application's latest KEY_SERVER_MASTER_PRIVATE, indicator '0'.
 *
 * Reads only: no transaction, nothing written (no lazy expiry either: the
 * state does not matter here).  Request strings are borrowed for the call;
 * the result is released with pa_offline_res_free.
 */
#ifndef PA_SERVICE_OFFLINE_H
#define PA_SERVICE_OFFLINE_H

#include <stdint.h>

#include "crypto/offline.h"
#include "service/activation.h"

typedef struct pa_offline_res {
    char *offline_data;                           /* malloc'ed */
    char nonce[PA_OFFLINE_NONCE_B64_LEN + 1];     /* NONCE_B64 */
} pa_offline_res;

/* activation_id and data required (PA_ERR_INVALID_REQUEST); unknown
 * activation: PA_ERR_ACTIVATION_NOT_FOUND; record decryption faults of
 * CRYPTO.md 16.2 (ERR0020/0021/0010/0022) as they come. */
pa_err pa_offline_personalized(const pa_act_env *env,
                               const char *activation_id, const char *data,
                               pa_offline_res *res);

/* data required (PA_ERR_INVALID_REQUEST); no master key pair: ERR0003;
 * unusable latest master private key: ERR0004. */
pa_err pa_offline_non_personalized(const pa_act_env *env,
                                   int64_t application_id, const char *data,
                                   pa_offline_res *res);

/* Frees the payload and clears the struct (NULL is fine). */
void pa_offline_res_free(pa_offline_res *r);

#endif
