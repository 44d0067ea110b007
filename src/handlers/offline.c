/*
 * offline.c - v3 CreatePersonalizedOfflineSignaturePayload,
 * CreateNonPersonalizedOfflineSignaturePayload and VerifyECDSASignature.
 *
 * Thin: a missing required element is ERR0024; everything else is
 * src/service/offline.c and src/service/ecdsa.c.
 */
#include "service/ecdsa.h"
#include "service/offline.h"
#include "soap/pasoap.h"

static pa_act_env env_of(const pa_ctx *ctx)
{
    return (pa_act_env){ctx->store, ctx->cfg};
}

/* Copies a payload into the response (gSOAP memory) and frees it. */
static int payload_answer(struct soap *soap, pa_offline_res *r,
                          char **offline_data, char **nonce)
{
    *offline_data = pa_soap_strdup(soap, r->offline_data);
    *nonce = pa_soap_strdup(soap, r->nonce);
    pa_offline_res_free(r);
    if (!*offline_data || !*nonce)
        return pa_soap_fault(soap, PA_ERR_UNKNOWN_ERROR);
    return SOAP_OK;
}

int __pa3__CreatePersonalizedOfflineSignaturePayload(
    struct soap *soap,
    struct _pa3__CreatePersonalizedOfflineSignaturePayloadRequest *req,
    struct _pa3__CreatePersonalizedOfflineSignaturePayloadResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "CreatePersonalizedOfflineSignaturePayload");
    pa_act_env env = env_of(ctx);
    pa_offline_res r;
    pa_err e;

    if (!req->activationId || !req->data)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    if ((e = pa_offline_personalized(&env, req->activationId, req->data, &r))
        != PA_OK)
        return pa_soap_fault(soap, e);
    return payload_answer(soap, &r, &resp->offlineData, &resp->nonce);
}

int __pa3__CreateNonPersonalizedOfflineSignaturePayload(
    struct soap *soap,
    struct _pa3__CreateNonPersonalizedOfflineSignaturePayloadRequest *req,
    struct _pa3__CreateNonPersonalizedOfflineSignaturePayloadResponse *resp)
{
    pa_ctx *ctx =
        pa_soap_begin(soap, "CreateNonPersonalizedOfflineSignaturePayload");
    pa_act_env env = env_of(ctx);
    pa_offline_res r;
    pa_err e;

    if (!req->applicationId || !req->data)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    e = pa_offline_non_personalized(&env, *req->applicationId, req->data, &r);
    if (e != PA_OK)
        return pa_soap_fault(soap, e);
    return payload_answer(soap, &r, &resp->offlineData, &resp->nonce);
}

int __pa3__VerifyECDSASignature(struct soap *soap,
                                struct _pa3__VerifyECDSASignatureRequest *req,
                                struct _pa3__VerifyECDSASignatureResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "VerifyECDSASignature");
    pa_act_env env = env_of(ctx);
    int valid = 0;
    pa_err e;

    if (!req->activationId || !req->data || !req->signature)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    e = pa_ecdsa_verify(&env, req->activationId, req->data, req->signature,
                        &valid);
    if (e != PA_OK)
        return pa_soap_fault(soap, e);
    if (!(resp->signatureValid = pa_soap_bool(soap, valid)))
        return pa_soap_fault(soap, PA_ERR_UNKNOWN_ERROR);
    return SOAP_OK;
}
