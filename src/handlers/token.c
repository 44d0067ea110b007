/*
 * token.c - v3 MAC token operations: CreateToken, ValidateToken,
 * RemoveToken.
 *
 * Thin: a missing required element is ERR0024; the signature type travels
 * as its SOAP enum name (the name stored in pa_token); everything else is
 * src/service/token.c.
 */
#include <string.h>

#include "service/token.h"
#include "soap/pasoap.h"

#define OOM_CHECK(cond) \
    do { if (!(cond)) return pa_soap_fault(soap, PA_ERR_UNKNOWN_ERROR); } while (0)

static pa_act_env env_of(const pa_ctx *ctx)
{
    return (pa_act_env){ctx->store, ctx->cfg};
}

/* The SOAP enum value whose name is `name`; NULL for an unknown name (the
 * optional element is then left out). */
static enum pa3__SignatureType *sig_type(struct soap *soap, const char *name)
{
    enum pa3__SignatureType *p;
    int v;

    for (v = pa3__SignatureType__POSSESSION;
         name && v <= pa3__SignatureType__POSSESSION_USCOREKNOWLEDGE_USCOREBIOMETRY;
         v++) {
        const char *s = soap_pa3__SignatureType2s(soap, (enum pa3__SignatureType)v);

        if (s && strcmp(s, name) == 0) {
            if ((p = pa_soap_alloc(soap, sizeof *p)))
                *p = (enum pa3__SignatureType)v;
            return p;
        }
    }
    return NULL;
}

int __pa3__CreateToken(struct soap *soap, struct _pa3__CreateTokenRequest *req,
                       struct _pa3__CreateTokenResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "CreateToken");
    pa_act_env env = env_of(ctx);
    pa_token_create_req in;
    pa_token_create_res out;
    pa_err e;

    if (!req->activationId || !req->applicationKey || !req->ephemeralPublicKey
        || !req->encryptedData || !req->mac || !req->signatureType)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    in.activation_id = req->activationId;
    in.application_key = req->applicationKey;
    in.c = (pa_act_cryptogram){req->ephemeralPublicKey, req->encryptedData,
                               req->mac, req->nonce};
    in.signature_type = soap_pa3__SignatureType2s(soap, *req->signatureType);
    if ((e = pa_token_create(&env, &in, &out)) != PA_OK)
        return pa_soap_fault(soap, e);
    resp->encryptedData = pa_soap_strdup(soap, out.encrypted_data);
    resp->mac = pa_soap_strdup(soap, out.mac);
    pa_token_create_res_free(&out);
    OOM_CHECK(resp->encryptedData && resp->mac);
    return SOAP_OK;
}

int __pa3__ValidateToken(struct soap *soap,
                         struct _pa3__ValidateTokenRequest *req,
                         struct _pa3__ValidateTokenResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "ValidateToken");
    pa_act_env env = env_of(ctx);
    pa_token_validate_req in;
    pa_token_validate_res out;
    int ok;
    pa_err e;

    if (!req->tokenId || !req->tokenDigest || !req->nonce || !req->timestamp)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    in.token_id = req->tokenId;
    in.token_digest = req->tokenDigest;
    in.nonce = req->nonce;
    in.has_timestamp = 1;
    in.timestamp_ms = (int64_t)*req->timestamp;
    if ((e = pa_token_validate(&env, &in, &out)) != PA_OK)
        return pa_soap_fault(soap, e);
    resp->tokenValid = pa_soap_bool(soap, out.valid);
    ok = resp->tokenValid != NULL;
    if (out.valid) {
        resp->activationId = pa_soap_strdup(soap, out.activation_id);
        resp->userId = pa_soap_strdup(soap, out.user_id);
        resp->applicationId = pa_soap_long(soap, out.application_id);
        resp->signatureType = sig_type(soap, out.signature_type);
        ok = ok && resp->activationId && resp->applicationId;
    }
    pa_token_validate_res_free(&out);
    OOM_CHECK(ok);
    return SOAP_OK;
}

int __pa3__RemoveToken(struct soap *soap, struct _pa3__RemoveTokenRequest *req,
                       struct _pa3__RemoveTokenResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "RemoveToken");
    pa_act_env env = env_of(ctx);
    int removed = 0;
    pa_err e;

    if (!req->tokenId || !req->activationId)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    e = pa_token_remove(&env, req->tokenId, req->activationId, &removed);
    if (e != PA_OK)
        return pa_soap_fault(soap, e);
    OOM_CHECK(resp->removed = pa_soap_bool(soap, removed));
    return SOAP_OK;
}
