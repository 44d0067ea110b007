/*
 * recovery.c - v3 recovery operations: GetRecoveryConfig,
 * UpdateRecoveryConfig, CreateRecoveryCode, ConfirmRecoveryCode,
 * LookupRecoveryCodes, RevokeRecoveryCodes.
 *
 * Thin: a missing required element is ERR0024 (allowMultipleRecoveryCodes
 * in UpdateRecoveryConfig excepted: absent = false, CONTRACT.md); the
 * status enums travel as the SOAP enum values; everything else is
 * src/service/recovery.c and recovery_admin.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "service/recovery.h"
#include "soap/pasoap.h"

#define OOM_CHECK(cond) \
    do { if (!(cond)) return pa_soap_fault(soap, PA_ERR_UNKNOWN_ERROR); } while (0)

static pa_act_env env_of(const pa_ctx *ctx)
{
    return (pa_act_env){ctx->store, ctx->cfg};
}

/* PA_RC_* <-> pa3__RecoveryCodeStatus, PA_PUK_* <-> pa3__RecoveryPukStatus
 * (an unknown stored number reads as REVOKED / INVALID, DATABASE.md 3). */
static enum pa3__RecoveryCodeStatus *code_status(struct soap *soap, int st)
{
    enum pa3__RecoveryCodeStatus *p = pa_soap_alloc(soap, sizeof *p);

    if (p)
        *p = st == PA_RC_CREATED ? pa3__RecoveryCodeStatus__CREATED
             : st == PA_RC_ACTIVE ? pa3__RecoveryCodeStatus__ACTIVE
             : st == PA_RC_BLOCKED ? pa3__RecoveryCodeStatus__BLOCKED
                                   : pa3__RecoveryCodeStatus__REVOKED;
    return p;
}

static enum pa3__RecoveryPukStatus *puk_status(struct soap *soap, int st)
{
    enum pa3__RecoveryPukStatus *p = pa_soap_alloc(soap, sizeof *p);

    if (p)
        *p = st == PA_PUK_VALID ? pa3__RecoveryPukStatus__VALID
             : st == PA_PUK_USED ? pa3__RecoveryPukStatus__USED
                                 : pa3__RecoveryPukStatus__INVALID;
    return p;
}

static int code_status_in(enum pa3__RecoveryCodeStatus s)
{
    switch (s) {
    case pa3__RecoveryCodeStatus__CREATED: return PA_RC_CREATED;
    case pa3__RecoveryCodeStatus__ACTIVE: return PA_RC_ACTIVE;
    case pa3__RecoveryCodeStatus__BLOCKED: return PA_RC_BLOCKED;
    default: return PA_RC_REVOKED;
    }
}

static int puk_status_in(enum pa3__RecoveryPukStatus s)
{
    switch (s) {
    case pa3__RecoveryPukStatus__VALID: return PA_PUK_VALID;
    case pa3__RecoveryPukStatus__USED: return PA_PUK_USED;
    default: return PA_PUK_INVALID;
    }
}

int __pa3__GetRecoveryConfig(struct soap *soap,
                             struct _pa3__GetRecoveryConfigRequest *req,
                             struct _pa3__GetRecoveryConfigResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "GetRecoveryConfig");
    pa_act_env env = env_of(ctx);
    pa_store_recovery_config c;
    int ok;
    pa_err e;

    if (!req->applicationId)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    if ((e = pa_recovery_config_get(&env, (int64_t)*req->applicationId, &c)) != PA_OK)
        return pa_soap_fault(soap, e);
    resp->applicationId = pa_soap_long(soap, (int64_t)*req->applicationId);
    resp->activationRecoveryEnabled = pa_soap_bool(soap, c.activation_recovery_enabled);
    resp->recoveryPostcardEnabled = pa_soap_bool(soap, c.recovery_postcard_enabled);
    resp->allowMultipleRecoveryCodes = pa_soap_bool(soap, c.allow_multiple_recovery_codes);
    ok = resp->applicationId && resp->activationRecoveryEnabled
         && resp->recoveryPostcardEnabled && resp->allowMultipleRecoveryCodes;
    if (c.postcard_public_key)
        ok = ok && (resp->postcardPublicKey = pa_soap_strdup(soap, c.postcard_public_key));
    if (c.remote_public_key)
        ok = ok && (resp->remotePostcardPublicKey = pa_soap_strdup(soap, c.remote_public_key));
    pa_store_recovery_config_free(&c);
    OOM_CHECK(ok);
    return SOAP_OK;
}

int __pa3__UpdateRecoveryConfig(struct soap *soap,
                                struct _pa3__UpdateRecoveryConfigRequest *req,
                                struct _pa3__UpdateRecoveryConfigResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "UpdateRecoveryConfig");
    pa_act_env env = env_of(ctx);
    pa_recovery_config_req in;
    pa_err e;

    if (!req->applicationId || !req->activationRecoveryEnabled
        || !req->recoveryPostcardEnabled)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    memset(&in, 0, sizeof in);
    in.application_id = (int64_t)*req->applicationId;
    in.activation_recovery_enabled = *req->activationRecoveryEnabled == xsd__boolean__true_;
    in.recovery_postcard_enabled = *req->recoveryPostcardEnabled == xsd__boolean__true_;
    in.allow_multiple_recovery_codes = req->allowMultipleRecoveryCodes
        && *req->allowMultipleRecoveryCodes == xsd__boolean__true_;
    in.remote_public_key = req->remotePostcardPublicKey;
    if ((e = pa_recovery_config_update(&env, &in)) != PA_OK)
        return pa_soap_fault(soap, e);
    OOM_CHECK(resp->updated = pa_soap_bool(soap, 1));
    return SOAP_OK;
}

int __pa3__CreateRecoveryCode(struct soap *soap,
                              struct _pa3__CreateRecoveryCodeRequest *req,
                              struct _pa3__CreateRecoveryCodeResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "CreateRecoveryCode");
    pa_act_env env = env_of(ctx);
    pa_recovery_postcard_res out;
    size_t i;
    int ok;
    pa_err e;

    if (!req->applicationId || !req->userId || !req->pukCount)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    e = pa_recovery_postcard_create(&env, (int64_t)*req->applicationId,
                                    req->userId, (int64_t)*req->pukCount, &out);
    if (e != PA_OK)
        return pa_soap_fault(soap, e);
    resp->nonce = pa_soap_strdup(soap, out.nonce);
    resp->userId = pa_soap_strdup(soap, out.user_id);
    resp->recoveryCodeId = pa_soap_long(soap, out.recovery_code_id);
    resp->recoveryCodeMasked = pa_soap_strdup(soap, out.recovery_code_masked);
    resp->status = code_status(soap, out.status);
    resp->puks = pa_soap_alloc(soap, out.puk_count * sizeof *resp->puks);
    resp->__sizepuks = (int)out.puk_count;
    ok = resp->nonce && resp->userId && resp->recoveryCodeId
         && resp->recoveryCodeMasked && resp->status && resp->puks;
    for (i = 0; ok && i < out.puk_count; i++) {
        resp->puks[i].pukIndex = pa_soap_long(soap, (int64_t)(i + 1));
        resp->puks[i].pukDerivationIndex = pa_soap_long(soap, out.derivation_indexes[i]);
        resp->puks[i].status = puk_status(soap, PA_PUK_VALID);
        ok = resp->puks[i].pukIndex && resp->puks[i].pukDerivationIndex
             && resp->puks[i].status;
    }
    pa_recovery_postcard_res_free(&out);
    OOM_CHECK(ok);
    return SOAP_OK;
}

int __pa3__ConfirmRecoveryCode(struct soap *soap,
                               struct _pa3__ConfirmRecoveryCodeRequest *req,
                               struct _pa3__ConfirmRecoveryCodeResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "ConfirmRecoveryCode");
    pa_act_env env = env_of(ctx);
    pa_recovery_confirm_req in;
    pa_recovery_confirm_res out;
    int ok;
    pa_err e;

    if (!req->activationId || !req->applicationKey || !req->ephemeralPublicKey
        || !req->encryptedData || !req->mac)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    in.activation_id = req->activationId;
    in.application_key = req->applicationKey;
    in.c = (pa_act_cryptogram){req->ephemeralPublicKey, req->encryptedData,
                               req->mac, req->nonce};
    if ((e = pa_recovery_confirm(&env, &in, &out)) != PA_OK)
        return pa_soap_fault(soap, e);
    resp->activationId = pa_soap_strdup(soap, out.activation_id);
    resp->userId = pa_soap_strdup(soap, out.user_id);
    resp->encryptedData = pa_soap_strdup(soap, out.encrypted_data);
    resp->mac = pa_soap_strdup(soap, out.mac);
    ok = resp->activationId && resp->userId && resp->encryptedData && resp->mac;
    pa_recovery_confirm_res_free(&out);
    OOM_CHECK(ok);
    return SOAP_OK;
}

int __pa3__LookupRecoveryCodes(struct soap *soap,
                               struct _pa3__LookupRecoveryCodesRequest *req,
                               struct _pa3__LookupRecoveryCodesResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "LookupRecoveryCodes");
    pa_act_env env = env_of(ctx);
    pa_recovery_lookup_req in;
    pa_store_recovery_code_array out;
    size_t i, k;
    int ok = 1;
    pa_err e;

    memset(&in, 0, sizeof in);
    in.user_id = req->userId;
    in.activation_id = req->activationId;
    if (req->applicationId) {
        in.has_application_id = 1;
        in.application_id = (int64_t)*req->applicationId;
    }
    if (req->recoveryCodeStatus) {
        in.has_code_status = 1;
        in.code_status = code_status_in(*req->recoveryCodeStatus);
    }
    if (req->recoveryPukStatus) {
        in.has_puk_status = 1;
        in.puk_status = puk_status_in(*req->recoveryPukStatus);
    }
    if ((e = pa_recovery_lookup(&env, &in, &out)) != PA_OK)
        return pa_soap_fault(soap, e);
    if (out.count > 0) {
        resp->recoveryCodes = pa_soap_alloc(soap, out.count * sizeof *resp->recoveryCodes);
        ok = resp->recoveryCodes != NULL;
        resp->__sizerecoveryCodes = ok ? (int)out.count : 0;
    }
    for (i = 0; ok && i < out.count; i++) {
        const pa_store_recovery_code *c = &out.items[i];
        struct _pa3__LookupRecoveryCodesResponse_recoveryCodes *r = &resp->recoveryCodes[i];
        char app[24];

        snprintf(app, sizeof app, "%" PRId64, c->application_id);
        r->recoveryCodeId = pa_soap_long(soap, c->id);
        r->recoveryCodeMasked = pa_soap_strdup(soap, c->recovery_code ? c->recovery_code : "");
        r->userId = pa_soap_strdup(soap, c->user_id ? c->user_id : "");
        r->applicationId = pa_soap_strdup(soap, app);
        r->status = code_status(soap, c->status);
        ok = r->recoveryCodeId && r->recoveryCodeMasked && r->userId
             && r->applicationId && r->status;
        if (ok && c->activation_id)
            ok = (r->activationId = pa_soap_strdup(soap, c->activation_id)) != NULL;
        if (ok && c->puk_count > 0) {
            r->puks = pa_soap_alloc(soap, c->puk_count * sizeof *r->puks);
            ok = r->puks != NULL;
            r->__sizepuks = ok ? (int)c->puk_count : 0;
        }
        for (k = 0; ok && k < c->puk_count; k++) {
            r->puks[k].pukIndex = pa_soap_long(soap, c->puks[k].puk_index);
            r->puks[k].status = puk_status(soap, c->puks[k].status);
            ok = r->puks[k].pukIndex && r->puks[k].status;
        }
    }
    pa_store_recovery_code_array_free(&out);
    OOM_CHECK(ok);
    return SOAP_OK;
}

int __pa3__RevokeRecoveryCodes(struct soap *soap,
                               struct _pa3__RevokeRecoveryCodesRequest *req,
                               struct _pa3__RevokeRecoveryCodesResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "RevokeRecoveryCodes");
    pa_act_env env = env_of(ctx);
    int64_t *ids;
    int i, revoked = 0;
    pa_err e;

    if (req->__sizerecoveryCodeIds <= 0 || !req->recoveryCodeIds)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    ids = pa_soap_alloc(soap, (size_t)req->__sizerecoveryCodeIds * sizeof *ids);
    OOM_CHECK(ids);
    for (i = 0; i < req->__sizerecoveryCodeIds; i++)
        ids[i] = (int64_t)req->recoveryCodeIds[i];
    e = pa_recovery_revoke(&env, ids, (size_t)req->__sizerecoveryCodeIds, &revoked);
    if (e != PA_OK)
        return pa_soap_fault(soap, e);
    OOM_CHECK(resp->revoked = pa_soap_bool(soap, revoked));
    return SOAP_OK;
}
