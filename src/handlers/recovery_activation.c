/*
 * recovery_activation.c - v3 RecoveryCodeActivation (CRYPTO.md 12.5).
 *
 * Thin: a missing required element is ERR0024; a wrong PUK with attempts
 * left carries <currentRecoveryPukIndex> in the fault detail (CONTRACT.md);
 * everything else is src/service/activation_recovery.c.
 */
#include <inttypes.h>
#include <stdio.h>

#include "service/activation_recovery.h"
#include "soap/pasoap.h"

int __pa3__RecoveryCodeActivation(
    struct soap *soap, struct _pa3__RecoveryCodeActivationRequest *req,
    struct _pa3__RecoveryCodeActivationResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "RecoveryCodeActivation");
    pa_act_env env = {ctx->store, ctx->cfg};
    pa_act_recovery_req in = {0};
    pa_act_keyx_res out;
    int64_t puk_index = 0;
    char detail[96];
    pa_err e;

    if (!req->recoveryCode || !req->puk || !req->applicationKey
        || !req->ephemeralPublicKey || !req->encryptedData || !req->mac)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    in.recovery_code = req->recoveryCode;
    in.puk = req->puk;
    in.application_key = req->applicationKey;
    if ((in.has_max_failures = req->maxFailureCount != NULL))
        in.max_failures = *req->maxFailureCount;
    in.otp = req->activationOtp;
    in.c = (pa_act_cryptogram){req->ephemeralPublicKey, req->encryptedData,
                               req->mac, req->nonce};
    e = pa_activation_recovery(&env, &in, &out, &puk_index);
    if (e == PA_ERR_INVALID_RECOVERY_CODE && puk_index > 0) {
        snprintf(detail, sizeof detail,
                 "<currentRecoveryPukIndex>%" PRId64 "</currentRecoveryPukIndex>",
                 puk_index);
        return pa_soap_fault_detail(soap, e, detail);
    }
    if (e != PA_OK)
        return pa_soap_fault(soap, e);
    resp->activationId = pa_soap_strdup(soap, out.activation_id);
    resp->userId = pa_soap_strdup(soap, out.user_id);
    resp->encryptedData = pa_soap_strdup(soap, out.encrypted_data);
    resp->mac = pa_soap_strdup(soap, out.mac);
    pa_act_keyx_res_free(&out);
    if (!resp->activationId || !resp->userId || !resp->encryptedData
        || !resp->mac)
        return pa_soap_fault(soap, PA_ERR_UNKNOWN_ERROR);
    return SOAP_OK;
}
