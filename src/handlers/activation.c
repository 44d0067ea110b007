/*
 * activation.c - v3 activation operations: InitActivation,
 * PrepareActivation, CreateActivation, UpdateActivationOtp,
 * CommitActivation, GetActivationStatus, RemoveActivation,
 * BlockActivation, UnblockActivation, GetActivationListForUser,
 * LookupActivations, UpdateStatusForActivations, ActivationHistory.
 *
 * Thin: a missing required element is ERR0024; SOAP enums and times are
 * translated to the service's plain values and back; everything else is
 * src/service/activation*.c.
 */
#include <stdlib.h>
#include <string.h>

#include "service/activation.h"
#include "soap/pasoap.h"

#define OOM_CHECK(cond) \
    do { if (!(cond)) return pa_soap_fault(soap, PA_ERR_UNKNOWN_ERROR); } while (0)

static pa_act_env env_of(const pa_ctx *ctx)
{
    return (pa_act_env){ctx->store, ctx->cfg};
}

/* The SOAP enums count from 0 in contract order; the stored codes from 1
 * (statuses) or 0 (OTP modes) in the same order. */
static enum pa3__ActivationStatus *act_status(struct soap *soap, int status)
{
    enum pa3__ActivationStatus *p = pa_soap_alloc(soap, sizeof *p);

    /* An unknown stored number reads as REMOVED (DATABASE.md 3). */
    if (p)
        *p = status >= PA_STATUS_CREATED && status <= PA_STATUS_REMOVED
                 ? (enum pa3__ActivationStatus)(status - 1)
                 : pa3__ActivationStatus__REMOVED;
    return p;
}

static enum pa3__ActivationOtpValidation *act_otp_mode(struct soap *soap,
                                                        int mode)
{
    enum pa3__ActivationOtpValidation *p = pa_soap_alloc(soap, sizeof *p);

    if (p)
        *p = mode >= PA_OTP_NONE && mode <= PA_OTP_ON_COMMIT
                 ? (enum pa3__ActivationOtpValidation)mode
                 : pa3__ActivationOtpValidation__NONE;
    return p;
}

static pa_act_cryptogram cryptogram(const char *eph, const char *data,
                                    const char *mac, const char *nonce)
{
    return (pa_act_cryptogram){eph, data, mac, nonce};
}

/* ---- InitActivation ------------------------------------------------------------- */

int __pa3__InitActivation(struct soap *soap,
                          struct _pa3__InitActivationRequest *req,
                          struct _pa3__InitActivationResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "InitActivation");
    pa_act_env env = env_of(ctx);
    pa_act_init_req in = {0};
    pa_act_init_res out;
    pa_err e;

    if (!req->userId || !req->applicationId)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    in.user_id = req->userId;
    in.application_id = *req->applicationId;
    in.expire_ms = pa_soap_time_ms(req->timestampActivationExpire, &in.has_expire);
    if ((in.has_max_failures = req->maxFailureCount != NULL))
        in.max_failures = *req->maxFailureCount;
    in.otp_mode = req->activationOtpValidation ? (int)*req->activationOtpValidation
                                               : PA_OTP_NONE;
    in.otp = req->activationOtp;
    if ((e = pa_activation_init(&env, &in, &out)) != PA_OK)
        return pa_soap_fault(soap, e);
    resp->activationId = pa_soap_strdup(soap, out.activation_id);
    resp->activationCode = pa_soap_strdup(soap, out.activation_code);
    resp->activationSignature = pa_soap_strdup(soap, out.activation_signature);
    resp->userId = req->userId;
    resp->applicationId = pa_soap_long(soap, in.application_id);
    pa_act_init_res_free(&out);
    OOM_CHECK(resp->activationId && resp->activationCode
              && resp->activationSignature && resp->applicationId);
    return SOAP_OK;
}

/* ---- PrepareActivation, CreateActivation ------------------------------------------- */

int __pa3__PrepareActivation(struct soap *soap,
                             struct _pa3__PrepareActivationRequest *req,
                             struct _pa3__PrepareActivationResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "PrepareActivation");
    pa_act_env env = env_of(ctx);
    pa_act_prepare_req in;
    pa_act_keyx_res out;
    pa_err e;

    if (!req->activationCode || !req->applicationKey || !req->ephemeralPublicKey
        || !req->encryptedData || !req->mac)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    in.activation_code = req->activationCode;
    in.application_key = req->applicationKey;
    in.c = cryptogram(req->ephemeralPublicKey, req->encryptedData, req->mac,
                      req->nonce);
    if ((e = pa_activation_prepare(&env, &in, &out)) != PA_OK)
        return pa_soap_fault(soap, e);
    resp->activationId = pa_soap_strdup(soap, out.activation_id);
    resp->userId = pa_soap_strdup(soap, out.user_id);
    resp->encryptedData = pa_soap_strdup(soap, out.encrypted_data);
    resp->mac = pa_soap_strdup(soap, out.mac);
    resp->activationStatus = act_status(soap, out.status);
    pa_act_keyx_res_free(&out);
    OOM_CHECK(resp->activationId && resp->userId && resp->encryptedData
              && resp->mac && resp->activationStatus);
    return SOAP_OK;
}

int __pa3__CreateActivation(struct soap *soap,
                            struct _pa3__CreateActivationRequest *req,
                            struct _pa3__CreateActivationResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "CreateActivation");
    pa_act_env env = env_of(ctx);
    pa_act_create_req in = {0};
    pa_act_keyx_res out;
    pa_err e;

    if (!req->userId || !req->applicationKey || !req->ephemeralPublicKey
        || !req->encryptedData || !req->mac)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    in.user_id = req->userId;
    in.application_key = req->applicationKey;
    in.expire_ms = pa_soap_time_ms(req->timestampActivationExpire, &in.has_expire);
    if ((in.has_max_failures = req->maxFailureCount != NULL))
        in.max_failures = *req->maxFailureCount;
    in.otp = req->activationOtp;
    in.c = cryptogram(req->ephemeralPublicKey, req->encryptedData, req->mac,
                      req->nonce);
    if ((e = pa_activation_create(&env, &in, &out)) != PA_OK)
        return pa_soap_fault(soap, e);
    resp->activationId = pa_soap_strdup(soap, out.activation_id);
    resp->encryptedData = pa_soap_strdup(soap, out.encrypted_data);
    resp->mac = pa_soap_strdup(soap, out.mac);
    pa_act_keyx_res_free(&out);
    OOM_CHECK(resp->activationId && resp->encryptedData && resp->mac);
    return SOAP_OK;
}

/* ---- UpdateActivationOtp, CommitActivation ------------------------------------------- */

int __pa3__UpdateActivationOtp(struct soap *soap,
                               struct _pa3__UpdateActivationOtpRequest *req,
                               struct _pa3__UpdateActivationOtpResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "UpdateActivationOtp");
    pa_act_env env = env_of(ctx);
    pa_err e;

    if (!req->activationId || !req->activationOtp)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    e = pa_activation_update_otp(&env, req->activationId, req->externalUserId,
                                 req->activationOtp);
    if (e != PA_OK)
        return pa_soap_fault(soap, e);
    resp->activationId = req->activationId;
    OOM_CHECK(resp->updated = pa_soap_bool(soap, 1));
    return SOAP_OK;
}

int __pa3__CommitActivation(struct soap *soap,
                            struct _pa3__CommitActivationRequest *req,
                            struct _pa3__CommitActivationResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "CommitActivation");
    pa_act_env env = env_of(ctx);
    pa_err e;

    if (!req->activationId)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    e = pa_activation_commit(&env, req->activationId, req->externalUserId,
                             req->activationOtp);
    if (e != PA_OK)
        return pa_soap_fault(soap, e);
    resp->activationId = req->activationId;
    OOM_CHECK(resp->activated = pa_soap_bool(soap, 1));
    return SOAP_OK;
}

/* ---- GetActivationStatus ------------------------------------------------------------- */

int __pa3__GetActivationStatus(struct soap *soap,
                               struct _pa3__GetActivationStatusRequest *req,
                               struct _pa3__GetActivationStatusResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "GetActivationStatus");
    pa_act_env env = env_of(ctx);
    pa_act_status_res r;
    const pa_store_activation *a = &r.a;
    pa_err e;

    if (!req->activationId)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    if ((e = pa_activation_status(&env, req->activationId, req->challenge, &r))
        != PA_OK)
        return pa_soap_fault(soap, e);
    resp->activationId = pa_soap_strdup(soap, a->activation_id);
    resp->activationStatus = act_status(soap, a->status);
    resp->activationOtpValidation = act_otp_mode(soap, a->otp_validation);
    resp->blockedReason = pa_soap_strdup(soap, a->blocked_reason);
    resp->activationName = pa_soap_strdup(soap, a->activation_name);
    resp->userId = pa_soap_strdup(soap, a->user_id);
    resp->extras = pa_soap_strdup(soap, a->extras);
    resp->platform = pa_soap_strdup(soap, a->platform);
    resp->deviceInfo = pa_soap_strdup(soap, a->device_info);
    resp->applicationId = pa_soap_long(soap, a->application_id);
    resp->timestampCreated = pa_soap_time(soap, a->created_ms);
    resp->timestampLastUsed = pa_soap_time(soap, a->last_used_ms);
    if (a->has_last_change)
        resp->timestampLastChange = pa_soap_time(soap, a->last_change_ms);
    resp->encryptedStatusBlob = pa_soap_strdup(soap, r.encrypted_status_blob);
    resp->encryptedStatusBlobNonce = pa_soap_strdup(soap, r.status_blob_nonce);
    resp->activationCode = pa_soap_strdup(soap, r.activation_code);
    resp->activationSignature = pa_soap_strdup(soap, r.activation_signature);
    if (r.fingerprint[0])
        resp->devicePublicKeyFingerprint = pa_soap_strdup(soap, r.fingerprint);
    resp->version = pa_soap_long(soap, a->version);
    pa_act_status_res_free(&r);
    OOM_CHECK(resp->activationId && resp->activationStatus && resp->userId
              && resp->applicationId && resp->timestampCreated
              && resp->timestampLastUsed && resp->encryptedStatusBlob
              && resp->version);
    return SOAP_OK;
}

/* ---- RemoveActivation, BlockActivation, UnblockActivation ------------------------------- */

int __pa3__RemoveActivation(struct soap *soap,
                            struct _pa3__RemoveActivationRequest *req,
                            struct _pa3__RemoveActivationResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "RemoveActivation");
    pa_act_env env = env_of(ctx);
    pa_err e;

    if (!req->activationId)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    e = pa_activation_remove(&env, req->activationId, req->externalUserId,
                             req->revokeRecoveryCodes
                                 && *req->revokeRecoveryCodes == xsd__boolean__true_);
    if (e != PA_OK)
        return pa_soap_fault(soap, e);
    resp->activationId = req->activationId;
    OOM_CHECK(resp->removed = pa_soap_bool(soap, 1));
    return SOAP_OK;
}

int __pa3__BlockActivation(struct soap *soap,
                           struct _pa3__BlockActivationRequest *req,
                           struct _pa3__BlockActivationResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "BlockActivation");
    pa_act_env env = env_of(ctx);
    char *reason = NULL;
    int status = 0;
    pa_err e;

    if (!req->activationId)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    e = pa_activation_block(&env, req->activationId, req->reason,
                            req->externalUserId, &status, &reason);
    if (e != PA_OK)
        return pa_soap_fault(soap, e);
    resp->activationId = req->activationId;
    resp->activationStatus = act_status(soap, status);
    resp->blockedReason = pa_soap_strdup(soap, reason);
    free(reason);
    OOM_CHECK(resp->activationStatus);
    return SOAP_OK;
}

int __pa3__UnblockActivation(struct soap *soap,
                             struct _pa3__UnblockActivationRequest *req,
                             struct _pa3__UnblockActivationResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "UnblockActivation");
    pa_act_env env = env_of(ctx);
    int status = 0;
    pa_err e;

    if (!req->activationId)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    e = pa_activation_unblock(&env, req->activationId, req->externalUserId,
                              &status);
    if (e != PA_OK)
        return pa_soap_fault(soap, e);
    resp->activationId = req->activationId;
    OOM_CHECK(resp->activationStatus = act_status(soap, status));
    return SOAP_OK;
}

int __pa3__UpdateStatusForActivations(
    struct soap *soap, struct _pa3__UpdateStatusForActivationsRequest *req,
    struct _pa3__UpdateStatusForActivationsResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "UpdateStatusForActivations");
    pa_act_env env = env_of(ctx);
    pa_err e;

    if (req->__sizeactivationIds < 1 || !req->activationIds
        || !req->activationStatus)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    e = pa_activation_update_statuses(&env, (const char *const *)req->activationIds,
                                      (size_t)req->__sizeactivationIds,
                                      (int)*req->activationStatus + 1);
    if (e != PA_OK)
        return pa_soap_fault(soap, e);
    OOM_CHECK(resp->updated = pa_soap_bool(soap, 1));
    return SOAP_OK;
}

/* ---- lists ------------------------------------------------------------------------------ */

/* The two list item types have the same members under different names. */
#define FILL_ITEM(soap, o, a)                                                   \
    do {                                                                        \
        (o)->activationId = pa_soap_strdup(soap, (a)->activation_id);           \
        (o)->activationStatus = act_status(soap, (a)->status);                 \
        (o)->blockedReason = pa_soap_strdup(soap, (a)->blocked_reason);         \
        (o)->activationName = pa_soap_strdup(soap, (a)->activation_name);       \
        (o)->extras = pa_soap_strdup(soap, (a)->extras);                        \
        (o)->platform = pa_soap_strdup(soap, (a)->platform);                    \
        (o)->deviceInfo = pa_soap_strdup(soap, (a)->device_info);               \
        (o)->timestampCreated = pa_soap_time(soap, (a)->created_ms);            \
        (o)->timestampLastUsed = pa_soap_time(soap, (a)->last_used_ms);         \
        if ((a)->has_last_change)                                               \
            (o)->timestampLastChange = pa_soap_time(soap, (a)->last_change_ms); \
        (o)->userId = pa_soap_strdup(soap, (a)->user_id);                       \
        (o)->applicationId = pa_soap_long(soap, (a)->application_id);           \
        (o)->applicationName = pa_soap_strdup(soap, (a)->application_name       \
                                                        ? (a)->application_name \
                                                        : "");                  \
        (o)->version = pa_soap_long(soap, (a)->version);                        \
        if (!(o)->version || !(o)->applicationName || !(o)->timestampLastUsed)  \
            ok = 0;                                                             \
    } while (0)

int __pa3__GetActivationListForUser(
    struct soap *soap, struct _pa3__GetActivationListForUserRequest *req,
    struct _pa3__GetActivationListForUserResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "GetActivationListForUser");
    pa_act_env env = env_of(ctx);
    pa_store_activation_array arr;
    int ok = 1;
    pa_err e;
    size_t i;

    if (!req->userId)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    e = pa_activation_list_for_user(&env, req->userId, req->applicationId != NULL,
                                    req->applicationId ? *req->applicationId : 0,
                                    &arr);
    if (e != PA_OK)
        return pa_soap_fault(soap, e);
    resp->userId = req->userId;
    resp->activations = pa_soap_alloc(soap, sizeof *resp->activations * (arr.count + 1));
    for (i = 0; resp->activations && i < arr.count; i++)
        FILL_ITEM(soap, &resp->activations[i], &arr.items[i]);
    resp->__sizeactivations = (int)arr.count;
    pa_store_activation_array_free(&arr);
    OOM_CHECK(resp->activations && ok);
    return SOAP_OK;
}

int __pa3__LookupActivations(struct soap *soap,
                             struct _pa3__LookupActivationsRequest *req,
                             struct _pa3__LookupActivationsResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "LookupActivations");
    pa_act_env env = env_of(ctx);
    pa_store_activation_query q = {0};
    pa_store_activation_array arr;
    int ok = 1, i;
    size_t j;
    pa_err e;

    if (req->__sizeuserIds < 1 || !req->userIds)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    for (i = 0; i < req->__sizeuserIds; i++)
        if (!req->userIds[i])
            return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    q.user_ids = (const char *const *)req->userIds;
    q.user_id_count = (size_t)req->__sizeuserIds;
    q.application_ids = req->applicationIds;
    q.application_id_count = req->__sizeapplicationIds > 0
                                 ? (size_t)req->__sizeapplicationIds : 0;
    q.last_used_before_ms = pa_soap_time_ms(req->timestampLastUsedBefore,
                                            &q.has_last_used_before);
    q.last_used_after_ms = pa_soap_time_ms(req->timestampLastUsedAfter,
                                           &q.has_last_used_after);
    if ((q.has_status = req->activationStatus != NULL))
        q.status = (int)*req->activationStatus + 1;
    if ((e = pa_activation_lookup(&env, &q, &arr)) != PA_OK)
        return pa_soap_fault(soap, e);
    resp->activations = pa_soap_alloc(soap, sizeof *resp->activations * (arr.count + 1));
    for (j = 0; resp->activations && j < arr.count; j++)
        FILL_ITEM(soap, &resp->activations[j], &arr.items[j]);
    resp->__sizeactivations = (int)arr.count;
    pa_store_activation_array_free(&arr);
    OOM_CHECK(resp->activations && ok);
    return SOAP_OK;
}

int __pa3__ActivationHistory(struct soap *soap,
                             struct _pa3__ActivationHistoryRequest *req,
                             struct _pa3__ActivationHistoryResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "ActivationHistory");
    pa_act_env env = env_of(ctx);
    pa_store_history_array arr;
    int64_t from, to;
    int has_from = 0, has_to = 0, ok = 1;
    pa_err e;
    size_t i;

    from = pa_soap_time_ms(req->timestampFrom, &has_from);
    to = pa_soap_time_ms(req->timestampTo, &has_to);
    if (!req->activationId || !has_from || !has_to)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    if ((e = pa_activation_history(&env, req->activationId, from, to, &arr)) != PA_OK)
        return pa_soap_fault(soap, e);
    resp->items = pa_soap_alloc(soap, sizeof *resp->items * (arr.count + 1));
    for (i = 0; resp->items && i < arr.count; i++) {
        struct _pa3__ActivationHistoryResponse_items *o = &resp->items[i];
        const pa_store_history *h = &arr.items[i];

        o->id = pa_soap_long(soap, h->id);
        o->activationId = pa_soap_strdup(soap, h->activation_id);
        o->activationStatus = act_status(soap, h->status);
        o->eventReason = pa_soap_strdup(soap, h->event_reason);
        o->externalUserId = pa_soap_strdup(soap, h->external_user_id);
        o->timestampCreated = pa_soap_time(soap, h->created_ms);
        ok = ok && o->id && o->activationStatus && o->timestampCreated;
    }
    resp->__sizeitems = (int)arr.count;
    pa_store_history_array_free(&arr);
    OOM_CHECK(resp->items && ok);
    return SOAP_OK;
}
