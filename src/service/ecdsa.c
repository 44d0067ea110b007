/*
 * ecdsa.c - VerifyECDSASignature (CRYPTO.md 8.9).
 */
#include <stdlib.h>
#include <string.h>

#include "service/activation_internal.h"
#include "service/ecdsa.h"
#include "util/base64.h"

#define OP "VerifyECDSASignature"

pa_err pa_ecdsa_verify(const pa_act_env *env, const char *activation_id,
                       const char *data_b64, const char *signature_b64,
                       int *valid)
{
    pa_store_activation a;
    pa_eckey *dev = NULL;
    uint8_t *data = NULL, *sig = NULL;
    size_t data_n = 0, sig_n = 0;
    pa_err e;

    *valid = 0;
    if (!activation_id || !data_b64 || !signature_b64)
        return PA_ERR_INVALID_REQUEST;
    e = pa_act_load(env->store, OP, activation_id, &a);
    if (e == PA_ERR_ACTIVATION_NOT_FOUND)
        return PA_OK;                   /* signatureValid = false, no fault */
    if (e != PA_OK)
        return e;
    if (!a.device_public_key)           /* no device key yet (CREATED) */
        goto out;
    if (pa_b64_decode_alloc(data_b64, &data, &data_n) != PA_OK
        || pa_b64_decode_alloc(signature_b64, &sig, &sig_n) != PA_OK) {
        e = PA_ERR_INVALID_REQUEST;
        goto out;
    }
    if (pa_ec_pub_import_b64(a.device_public_key, &dev) != PA_OK) {
        e = PA_ERR_INVALID_KEY_FORMAT;
        goto out;
    }
    e = pa_ec_verify(dev, data, data_n, sig, sig_n, valid);
    if (e != PA_OK)
        *valid = 0;
out:
    pa_ec_free(dev);
    free(data);
    free(sig);
    pa_store_activation_free(&a);
    return e;
}
