/*
 * ecies.c - v3 GetEciesDecryptor.
 *
 * Thin: a missing required element is ERR0024; everything else is
 * src/service/ecies_decryptor.c.
 */
#include "service/ecies_decryptor.h"
#include "soap/pasoap.h"

int __pa3__GetEciesDecryptor(struct soap *soap,
                             struct _pa3__GetEciesDecryptorRequest *req,
                             struct _pa3__GetEciesDecryptorResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "GetEciesDecryptor");
    pa_act_env env = {ctx->store, ctx->cfg};
    pa_ecies_decryptor_res r;
    pa_err e;

    if (!req->applicationKey || !req->ephemeralPublicKey)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    e = pa_ecies_decryptor_get(&env, req->applicationKey, req->activationId,
                               req->ephemeralPublicKey, &r);
    if (e != PA_OK)
        return pa_soap_fault(soap, e);
    resp->secretKey = pa_soap_strdup(soap, r.secret_key);
    resp->sharedInfo2 = pa_soap_strdup(soap, r.shared_info2);
    pa_ecies_decryptor_res_free(&r);
    if (!resp->secretKey || !resp->sharedInfo2)
        return pa_soap_fault(soap, PA_ERR_UNKNOWN_ERROR);
    return SOAP_OK;
}
