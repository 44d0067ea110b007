/*
 * callback.c - v3 callback URL operations: CreateCallbackUrl,
 * GetCallbackUrlList, RemoveCallbackUrl.
 *
 * Thin: required elements are checked here (ERR0024); URL rules and the
 * application check are service/callback.c.
 */
#include "service/callback.h"
#include "soap/pasoap.h"

int __pa3__CreateCallbackUrl(struct soap *soap,
                             struct _pa3__CreateCallbackUrlRequest *req,
                             struct _pa3__CreateCallbackUrlResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "CreateCallbackUrl");
    pa_store_callback cb;
    pa_err e;

    if (!req->applicationId || !req->name || !req->callbackUrl)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    e = pa_callback_create(ctx->store, *req->applicationId, req->name,
                           req->callbackUrl, &cb);
    if (e != PA_OK)
        return pa_soap_fault(soap, e);
    resp->id = pa_soap_strdup(soap, cb.id);
    resp->applicationId = pa_soap_long(soap, cb.application_id);
    resp->name = pa_soap_strdup(soap, cb.name);
    resp->callbackUrl = pa_soap_strdup(soap, cb.url);
    pa_store_callback_free(&cb);
    if (!resp->id || !resp->applicationId || !resp->name || !resp->callbackUrl)
        return pa_soap_fault(soap, PA_ERR_UNKNOWN_ERROR);
    return SOAP_OK;
}

int __pa3__GetCallbackUrlList(struct soap *soap,
                              struct _pa3__GetCallbackUrlListRequest *req,
                              struct _pa3__GetCallbackUrlListResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "GetCallbackUrlList");
    pa_store_callback_array arr;
    pa_err e;
    size_t i;

    if (!req->applicationId)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    if ((e = pa_callback_list(ctx->store, *req->applicationId, &arr)) != PA_OK)
        return pa_soap_fault(soap, e);
    resp->callbackUrlList = pa_soap_alloc(soap, sizeof *resp->callbackUrlList * (arr.count + 1));
    for (i = 0; resp->callbackUrlList && i < arr.count; i++) {
        struct _pa3__GetCallbackUrlListResponse_callbackUrlList *o = &resp->callbackUrlList[i];

        o->id = pa_soap_strdup(soap, arr.items[i].id);
        o->applicationId = pa_soap_long(soap, arr.items[i].application_id);
        o->name = pa_soap_strdup(soap, arr.items[i].name);
        o->callbackUrl = pa_soap_strdup(soap, arr.items[i].url);
    }
    resp->__sizecallbackUrlList = (int)arr.count;
    pa_store_callback_array_free(&arr);
    if (!resp->callbackUrlList)
        return pa_soap_fault(soap, PA_ERR_UNKNOWN_ERROR);
    return SOAP_OK;
}

int __pa3__RemoveCallbackUrl(struct soap *soap,
                             struct _pa3__RemoveCallbackUrlRequest *req,
                             struct _pa3__RemoveCallbackUrlResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "RemoveCallbackUrl");
    int removed = 0;
    pa_err e;

    if (!req->id)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    if ((e = pa_callback_remove(ctx->store, req->id, &removed)) != PA_OK)
        return pa_soap_fault(soap, e);
    resp->id = req->id;
    if (!(resp->removed = pa_soap_bool(soap, removed)))
        return pa_soap_fault(soap, PA_ERR_UNKNOWN_ERROR);
    return SOAP_OK;
}
