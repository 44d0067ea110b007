/*
 * v2.c - the protocol-2 operations of the v2 endpoint: PrepareActivation,
 * CreateActivation, VaultUnlock, CreateToken,
 * GetPersonalizedEncryptionKey, GetNonPersonalizedEncryptionKey.
 *
 * Thin: required elements (ERR0024), SOAP enums by name; the rest is
 * src/service/activation_v2.c and src/service/v2_ops.c.
 */
#include <inttypes.h>
#include <stdio.h>

#include "service/v2_ops.h"
#include "soap/pasoap.h"

#define OOM_CHECK(cond) \
    do { if (!(cond)) return pa_soap_fault(soap, PA_ERR_UNKNOWN_ERROR); } while (0)

static pa_act_env env_of(const pa_ctx *ctx)
{
    return (pa_act_env){ctx->store, ctx->cfg};
}

/* The answer of both key exchanges. */
#define FILL_KEYX(soap, resp, out)                                              \
    do {                                                                        \
        (resp)->activationId = pa_soap_strdup(soap, (out).activation_id);       \
        (resp)->activationNonce = pa_soap_strdup(soap, (out).activation_nonce); \
        (resp)->ephemeralPublicKey =                                            \
            pa_soap_strdup(soap, (out).ephemeral_public_key);                   \
        (resp)->encryptedServerPublicKey =                                      \
            pa_soap_strdup(soap, (out).encrypted_server_public_key);            \
        (resp)->encryptedServerPublicKeySignature =                             \
            pa_soap_strdup(soap, (out).encrypted_server_public_key_signature);  \
        ok = (resp)->activationId && (resp)->activationNonce                    \
             && (resp)->ephemeralPublicKey && (resp)->encryptedServerPublicKey  \
             && (resp)->encryptedServerPublicKeySignature;                      \
    } while (0)

int __pa2__PrepareActivation(struct soap *soap,
                             struct _pa2__PrepareActivationRequest *req,
                             struct _pa2__PrepareActivationResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "PrepareActivation");
    pa_act_env env = env_of(ctx);
    pa_v2_prepare_req in;
    pa_v2_keyx_res out;
    int ok;
    pa_err e;

    in.activation_id_short = req->activationIdShort;
    in.k = (pa_v2_keyx_fields){req->activationName, req->extras,
                               req->activationNonce, req->ephemeralPublicKey,
                               req->encryptedDevicePublicKey,
                               req->applicationKey, req->applicationSignature};
    if ((e = pa_v2_activation_prepare(&env, &in, &out)) != PA_OK)
        return pa_soap_fault(soap, e);
    FILL_KEYX(soap, resp, out);
    pa_v2_keyx_res_free(&out);
    OOM_CHECK(ok);
    return SOAP_OK;
}

int __pa2__CreateActivation(struct soap *soap,
                            struct _pa2__CreateActivationRequest *req,
                            struct _pa2__CreateActivationResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "CreateActivation");
    pa_act_env env = env_of(ctx);
    pa_v2_create_req in = {0};
    pa_v2_keyx_res out;
    int ok;
    pa_err e;

    /* applicationId is ignored (14.2). */
    in.user_id = req->userId;
    in.expire_ms = pa_soap_time_ms(req->timestampActivationExpire, &in.has_expire);
    if ((in.has_max_failures = req->maxFailureCount != NULL))
        in.max_failures = *req->maxFailureCount;
    in.identity = req->identity;
    in.activation_otp = req->activationOtp;
    in.k = (pa_v2_keyx_fields){req->activationName, req->extras,
                               req->activationNonce, req->ephemeralPublicKey,
                               req->encryptedDevicePublicKey,
                               req->applicationKey, req->applicationSignature};
    if ((e = pa_v2_activation_create(&env, &in, &out)) != PA_OK)
        return pa_soap_fault(soap, e);
    FILL_KEYX(soap, resp, out);
    pa_v2_keyx_res_free(&out);
    OOM_CHECK(ok);
    return SOAP_OK;
}

static enum pa2__ActivationStatus *v2_status(struct soap *soap, int status)
{
    enum pa2__ActivationStatus *p = pa_soap_alloc(soap, sizeof *p);

    if (p)
        *p = status >= PA_STATUS_CREATED && status <= PA_STATUS_REMOVED
                 ? (enum pa2__ActivationStatus)(status - 1)
                 : pa2__ActivationStatus__REMOVED;
    return p;
}

static char *integer_text(struct soap *soap, int64_t v)
{
    char buf[32];

    snprintf(buf, sizeof buf, "%" PRId64, v);
    return pa_soap_strdup(soap, buf);
}

int __pa2__VaultUnlock(struct soap *soap, struct _pa2__VaultUnlockRequest *req,
                       struct _pa2__VaultUnlockResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "VaultUnlock");
    pa_act_env env = env_of(ctx);
    const char *type_name;
    pa_v2_vault_req in;
    pa_v2_vault_res out;
    int ok;
    pa_err e;

    if (!req->activationId || !req->applicationKey || !req->data
        || !req->signature || !req->signatureType
        || !(type_name = soap_pa2__SignatureType2s(soap, *req->signatureType))
        || pa_sig_type_parse(type_name, &in.signature_type) != PA_OK)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    in.activation_id = req->activationId;
    in.application_key = req->applicationKey;
    in.data = req->data;
    in.signature = req->signature;
    in.reason = req->reason;
    if ((e = pa_v2_vault_unlock(&env, &in, &out)) != PA_OK)
        return pa_soap_fault(soap, e);
    resp->activationId = req->activationId;
    resp->userId = pa_soap_strdup(soap, out.user_id);
    resp->activationStatus = v2_status(soap, out.status);
    resp->blockedReason = pa_soap_strdup(soap, out.blocked_reason);
    resp->remainingAttempts = integer_text(soap, out.remaining_attempts);
    resp->signatureValid = pa_soap_bool(soap, out.signature_valid);
    resp->encryptedVaultEncryptionKey =
        pa_soap_strdup(soap, out.encrypted_vault_key);
    ok = resp->userId && resp->activationStatus && resp->remainingAttempts
         && resp->signatureValid
         && (!out.blocked_reason || resp->blockedReason)
         && (!out.encrypted_vault_key || resp->encryptedVaultEncryptionKey);
    pa_v2_vault_res_free(&out);
    OOM_CHECK(ok);
    return SOAP_OK;
}

int __pa2__CreateToken(struct soap *soap, struct _pa2__CreateTokenRequest *req,
                       struct _pa2__CreateTokenResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "CreateToken");
    pa_act_env env = env_of(ctx);
    const char *type_name;
    pa_v2_token_res out;
    int ok;
    pa_err e;

    if (!req->activationId || !req->ephemeralPublicKey || !req->signatureType
        || !(type_name = soap_pa2__SignatureType2s(soap, *req->signatureType)))
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    if ((e = pa_v2_token_create(&env, req->activationId, req->ephemeralPublicKey,
                                type_name, &out)) != PA_OK)
        return pa_soap_fault(soap, e);
    resp->encryptedData = pa_soap_strdup(soap, out.encrypted_data);
    resp->mac = pa_soap_strdup(soap, out.mac);
    ok = resp->encryptedData && resp->mac;
    pa_v2_token_res_free(&out);
    OOM_CHECK(ok);
    return SOAP_OK;
}

int __pa2__GetPersonalizedEncryptionKey(
    struct soap *soap, struct _pa2__GetPersonalizedEncryptionKeyRequest *req,
    struct _pa2__GetPersonalizedEncryptionKeyResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "GetPersonalizedEncryptionKey");
    pa_act_env env = env_of(ctx);
    pa_v2_e2e_res out;
    int ok;
    pa_err e;

    if ((e = pa_v2_e2e_personalized(&env, req->activationId, req->sessionIndex,
                                    &out)) != PA_OK)
        return pa_soap_fault(soap, e);
    resp->activationId = req->activationId;
    resp->encryptionKey = pa_soap_strdup(soap, out.encryption_key);
    resp->encryptionKeyIndex = pa_soap_strdup(soap, out.encryption_key_index);
    ok = resp->encryptionKey && resp->encryptionKeyIndex;
    pa_v2_e2e_res_free(&out);
    OOM_CHECK(ok);
    return SOAP_OK;
}

int __pa2__GetNonPersonalizedEncryptionKey(
    struct soap *soap, struct _pa2__GetNonPersonalizedEncryptionKeyRequest *req,
    struct _pa2__GetNonPersonalizedEncryptionKeyResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "GetNonPersonalizedEncryptionKey");
    pa_act_env env = env_of(ctx);
    pa_v2_e2e_res out;
    int ok;
    pa_err e;

    if ((e = pa_v2_e2e_nonpersonalized(&env, req->applicationKey,
                                       req->sessionIndex,
                                       req->ephemeralPublicKey, &out)) != PA_OK)
        return pa_soap_fault(soap, e);
    resp->applicationKey = req->applicationKey;
    resp->applicationId = pa_soap_long(soap, out.application_id);
    resp->encryptionKey = pa_soap_strdup(soap, out.encryption_key);
    resp->encryptionKeyIndex = pa_soap_strdup(soap, out.encryption_key_index);
    resp->ephemeralPublicKey = req->ephemeralPublicKey;
    ok = resp->applicationId && resp->encryptionKey && resp->encryptionKeyIndex;
    pa_v2_e2e_res_free(&out);
    OOM_CHECK(ok);
    return SOAP_OK;
}
