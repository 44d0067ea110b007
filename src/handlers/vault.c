/*
 * vault.c - v3 VaultUnlock (src/service/vault.c does the work).
 */
#include "service/vault.h"
#include "soap/pasoap.h"

int __pa3__VaultUnlock(struct soap *soap, struct _pa3__VaultUnlockRequest *req,
                       struct _pa3__VaultUnlockResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "VaultUnlock");
    pa_act_env env = {ctx->store, ctx->cfg};
    const char *type_name;
    pa_vault_req in;
    pa_vault_res out;
    pa_err e;

    if (!req->activationId || !req->applicationKey || !req->signedData
        || !req->signature || !req->signatureType || !req->signatureVersion
        || !req->ephemeralPublicKey || !req->encryptedData || !req->mac
        || !(type_name = soap_pa3__SignatureType2s(soap, *req->signatureType))
        || pa_sig_type_parse(type_name, &in.signature_type) != PA_OK)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    in.activation_id = req->activationId;
    in.application_key = req->applicationKey;
    in.signed_data = req->signedData;
    in.signature = req->signature;
    in.signature_version = req->signatureVersion;
    in.c = (pa_act_cryptogram){req->ephemeralPublicKey, req->encryptedData,
                               req->mac, req->nonce};
    if ((e = pa_vault_unlock(&env, &in, &out)) != PA_OK)
        return pa_soap_fault(soap, e);
    resp->signatureValid = pa_soap_bool(soap, out.signature_valid);
    resp->encryptedData = pa_soap_strdup(soap, out.encrypted_data);
    resp->mac = pa_soap_strdup(soap, out.mac);
    e = !resp->signatureValid || (out.encrypted_data && !resp->mac)
            ? PA_ERR_UNKNOWN_ERROR : PA_OK;
    pa_vault_res_free(&out);
    if (e != PA_OK)
        return pa_soap_fault(soap, e);
    return SOAP_OK;
}
