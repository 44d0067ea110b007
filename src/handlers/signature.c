/*
 * signature.c - v3 signature operations: VerifySignature,
 * VerifyOfflineSignature, SignatureAudit.
 *
 * Thin: required elements (ERR0024), SOAP enums to the crypto layer's
 * types by name, the answer's optional fields as the contract lists them;
 * the rest is src/service/signature.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/signature.h"
#include "soap/pasoap.h"

#define OOM_CHECK(cond) \
    do { if (!(cond)) return pa_soap_fault(soap, PA_ERR_UNKNOWN_ERROR); } while (0)

static pa_act_env env_of(const pa_ctx *ctx)
{
    return (pa_act_env){ctx->store, ctx->cfg};
}

static enum pa3__ActivationStatus *sig_status(struct soap *soap, int status)
{
    enum pa3__ActivationStatus *p = pa_soap_alloc(soap, sizeof *p);

    if (p)
        *p = status >= PA_STATUS_CREATED && status <= PA_STATUS_REMOVED
                 ? (enum pa3__ActivationStatus)(status - 1)
                 : pa3__ActivationStatus__REMOVED;
    return p;
}

/* SOAP SignatureType <-> pa_sig_type, by the enum names both share. */
static int type_from_soap(struct soap *soap, enum pa3__SignatureType t,
                          pa_sig_type *out)
{
    const char *name = soap_pa3__SignatureType2s(soap, t);

    return name && pa_sig_type_parse(name, out) == PA_OK;
}

static enum pa3__SignatureType *type_to_soap(struct soap *soap, pa_sig_type t)
{
    enum pa3__SignatureType *p = pa_soap_alloc(soap, sizeof *p);
    const char *name = pa_sig_type_name(t);

    if (p && (!name || soap_s2pa3__SignatureType(soap, name, p) != SOAP_OK))
        return NULL;
    return p;
}

static char *integer_text(struct soap *soap, int64_t v)
{
    char buf[32];

    snprintf(buf, sizeof buf, "%" PRId64, v);
    return pa_soap_strdup(soap, buf);
}

/* The answer fields shared by online and offline verification. */
#define FILL_VERIFY(soap, resp, r, id)                                         \
    do {                                                                       \
        (resp)->signatureValid = pa_soap_bool(soap, (r).valid);                \
        (resp)->activationStatus = sig_status(soap, (r).status);               \
        ok = (resp)->signatureValid && (resp)->activationStatus;               \
        if ((r).details) {                                                     \
            (resp)->blockedReason = pa_soap_strdup(soap, (r).blocked_reason);  \
            (resp)->activationId = (id);                                       \
            (resp)->userId = pa_soap_strdup(soap, (r).user_id);                \
            (resp)->applicationId = pa_soap_long(soap, (r).application_id);    \
            (resp)->signatureType = type_to_soap(soap, (r).type);              \
            (resp)->remainingAttempts = integer_text(soap, (r).remaining_attempts); \
            ok = ok && (resp)->userId && (resp)->applicationId                 \
                 && (resp)->signatureType && (resp)->remainingAttempts;        \
        }                                                                      \
    } while (0)

int __pa3__VerifySignature(struct soap *soap,
                           struct _pa3__VerifySignatureRequest *req,
                           struct _pa3__VerifySignatureResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "VerifySignature");
    pa_act_env env = env_of(ctx);
    pa_sig_req in = {0};
    pa_sig_res r;
    int ok;
    pa_err e;

    if (!req->activationId || !req->applicationKey || !req->data
        || !req->signature || !req->signatureType || !req->signatureVersion
        || !type_from_soap(soap, *req->signatureType, &in.types[0]))
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    in.activation_id = req->activationId;
    in.application_key = req->applicationKey;
    in.signature_version = req->signatureVersion;
    in.data = req->data;
    in.signature = req->signature;
    in.ntypes = 1;
    in.forced_version = req->forcedSignatureVersion
                                && *req->forcedSignatureVersion == 3
                            ? 3 : 0;
    if ((e = pa_signature_verify(&env, &in, &r)) != PA_OK)
        return pa_soap_fault(soap, e);
    FILL_VERIFY(soap, resp, r, req->activationId);
    pa_sig_res_free(&r);
    OOM_CHECK(ok);
    return SOAP_OK;
}

int __pa3__VerifyOfflineSignature(struct soap *soap,
                                  struct _pa3__VerifyOfflineSignatureRequest *req,
                                  struct _pa3__VerifyOfflineSignatureResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "VerifyOfflineSignature");
    pa_act_env env = env_of(ctx);
    pa_sig_req in = {0};
    pa_sig_res r;
    int ok;
    pa_err e;

    if (!req->activationId || !req->data || !req->signature)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    in.activation_id = req->activationId;
    in.data = req->data;
    in.signature = req->signature;
    in.types[0] = PA_SIG_POSSESSION_KNOWLEDGE;
    in.ntypes = 1;
    /* allowBiometry absent reads as false */
    if (req->allowBiometry && *req->allowBiometry == xsd__boolean__true_) {
        in.types[in.ntypes++] = PA_SIG_POSSESSION_BIOMETRY;
        in.allow_biometry = 1;
    }
    if ((e = pa_signature_verify(&env, &in, &r)) != PA_OK)
        return pa_soap_fault(soap, e);
    FILL_VERIFY(soap, resp, r, req->activationId);
    pa_sig_res_free(&r);
    OOM_CHECK(ok);
    return SOAP_OK;
}

/* additionalInfo of an audit row as the KeyValueMap it was stored from. */
static struct pa3__KeyValueMap *info_map(struct soap *soap, const char *json)
{
    struct pa3__KeyValueMap *m = pa_soap_alloc(soap, sizeof *m);
    char **keys, **values;
    size_t n, i;

    pa_signature_info_parse(json, &keys, &values, &n);
    if (m && n && (m->entry = pa_soap_alloc(soap, n * sizeof *m->entry))) {
        for (i = 0; i < n; i++) {
            m->entry[i].key = pa_soap_strdup(soap, keys[i]);
            m->entry[i].value = pa_soap_strdup(soap, values[i]);
        }
        m->__sizeentry = (int)n;
    }
    pa_signature_info_free(keys, values, n);
    return m;
}

int __pa3__SignatureAudit(struct soap *soap,
                          struct _pa3__SignatureAuditRequest *req,
                          struct _pa3__SignatureAuditResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "SignatureAudit");
    pa_act_env env = env_of(ctx);
    pa_store_audit_array arr;
    int has_from = 0, has_to = 0, ok = 1;
    int64_t from, to;
    pa_sig_type t;
    pa_err e;
    size_t i;

    from = pa_soap_time_ms(req->timestampFrom, &has_from);
    to = pa_soap_time_ms(req->timestampTo, &has_to);
    if (!req->userId || !has_from || !has_to)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    e = pa_signature_audit(&env, req->userId, req->applicationId != NULL,
                           req->applicationId ? *req->applicationId : 0, from,
                           to, &arr);
    if (e != PA_OK)
        return pa_soap_fault(soap, e);
    resp->items = pa_soap_alloc(soap, sizeof *resp->items * (arr.count + 1));
    for (i = 0; resp->items && i < arr.count; i++) {
        struct _pa3__SignatureAuditResponse_items *o = &resp->items[i];
        const pa_store_audit *a = &arr.items[i];

        o->id = pa_soap_long(soap, a->id);
        o->userId = pa_soap_strdup(soap, a->user_id);
        o->applicationId = pa_soap_long(soap, a->application_id);
        o->activationId = pa_soap_strdup(soap, a->activation_id);
        o->activationCounter = pa_soap_long(soap, a->activation_counter);
        o->activationCtrData = pa_soap_strdup(soap, a->activation_ctr_data);
        o->activationStatus = sig_status(soap, a->activation_status);
        o->additionalInfo = info_map(soap, a->additional_info);
        o->dataBase64 = pa_soap_strdup(soap, a->data_base64);
        o->signatureVersion = pa_soap_strdup(soap, a->signature_version);
        /* stored upper-case and read upper-cased again (DATABASE.md 3) */
        o->signatureType = type_to_soap(soap, a->signature_type
                                                  && pa_sig_type_parse(a->signature_type, &t) == PA_OK
                                              ? t : PA_SIG_POSSESSION_KNOWLEDGE);
        o->signature = pa_soap_strdup(soap, a->signature ? a->signature : "");
        o->note = pa_soap_strdup(soap, a->note ? a->note : "");
        o->valid = pa_soap_bool(soap, a->valid);
        /* NULL (audit of a CREATED activation) is sent as 0, as for the
         * activation version; the original fails on such a row. */
        o->version = pa_soap_long(soap, a->version);
        o->timestampCreated = pa_soap_time(soap, a->created_ms);
        ok = ok && o->id && o->userId && o->applicationId && o->activationId
             && o->activationCounter && o->signatureType && o->signature
             && o->note && o->valid && o->version && o->timestampCreated;
    }
    resp->__sizeitems = (int)arr.count;
    pa_store_audit_array_free(&arr);
    OOM_CHECK(resp->items && ok);
    return SOAP_OK;
}
