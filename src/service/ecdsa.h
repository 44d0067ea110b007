/*
 * ecdsa.h - VerifyECDSASignature (CRYPTO.md 8.9, 2.12): an ECDSA-SHA256
 * signature by the activation's device key over arbitrary bytes.
 *
 * Reads only; the activation state is not checked.  Request strings are
 * borrowed for the call.
 */
#ifndef PA_SERVICE_ECDSA_H
#define PA_SERVICE_ECDSA_H

#include "service/activation.h"

/* data_b64 is the Base64 of the signed bytes, signature_b64 the Base64 of
 * a DER signature; all three arguments required (PA_ERR_INVALID_REQUEST).
 * PA_OK with *valid = 0 for an unknown activation, an activation without a
 * device key (CREATED) and a well-formed signature that does not verify;
 * *valid = 1 when it verifies.  Then, in this order (the original's: the
 * activation first, the inputs after): Base64 that does not decode is
 * PA_ERR_INVALID_REQUEST (5.11), a signature that is not DER
 * PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR (2.12), a stored device key that is
 * not a point PA_ERR_INVALID_KEY_FORMAT. */
pa_err pa_ecdsa_verify(const pa_act_env *env, const char *activation_id,
                       const char *data_b64, const char *signature_b64,
                       int *valid);

#endif
