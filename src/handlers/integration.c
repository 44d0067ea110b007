/*
 * integration.c - v3 integration operations: CreateIntegration,
 * GetIntegrationList, RemoveIntegration.
 *
 * Thin: required elements are checked here (ERR0024), the rest is
 * service/integration.c.  The WSDL marks CreateIntegration's name as
 * optional, but the original's service refuses a request without it with
 * ERR0024 (DATABASE.md pa_integration), and so does this.
 */
#include "service/integration.h"
#include "soap/pasoap.h"
#include "util/config.h"

int __pa3__CreateIntegration(struct soap *soap,
                             struct _pa3__CreateIntegrationRequest *req,
                             struct _pa3__CreateIntegrationResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "CreateIntegration");
    pa_store_integration in;
    pa_err e;

    if (!req->name)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    if ((e = pa_integration_create(ctx->store, req->name, &in)) != PA_OK)
        return pa_soap_fault(soap, e);
    resp->id = pa_soap_strdup(soap, in.id);
    resp->name = pa_soap_strdup(soap, in.name);
    resp->clientToken = pa_soap_strdup(soap, in.client_token);
    resp->clientSecret = pa_soap_strdup(soap, in.client_secret);
    pa_store_integration_free(&in);
    if (!resp->id || !resp->name || !resp->clientToken || !resp->clientSecret)
        return pa_soap_fault(soap, PA_ERR_UNKNOWN_ERROR);
    return SOAP_OK;
}

int __pa3__GetIntegrationList(struct soap *soap,
                              struct _pa3__GetIntegrationListRequest *req,
                              struct _pa3__GetIntegrationListResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "GetIntegrationList");
    pa_store_integration_array arr;
    pa_err e;
    size_t i;

    (void)req;
    if ((e = pa_integration_list(ctx->store, &arr)) != PA_OK)
        return pa_soap_fault(soap, e);
    resp->restrictedAccess = pa_soap_bool(soap, ctx->cfg->restrict_access);
    resp->items = pa_soap_alloc(soap, sizeof *resp->items * (arr.count + 1));
    for (i = 0; resp->items && i < arr.count; i++) {
        resp->items[i].id = pa_soap_strdup(soap, arr.items[i].id);
        resp->items[i].name = pa_soap_strdup(soap, arr.items[i].name);
        resp->items[i].clientToken = pa_soap_strdup(soap, arr.items[i].client_token);
        resp->items[i].clientSecret = pa_soap_strdup(soap, arr.items[i].client_secret);
    }
    resp->__sizeitems = (int)arr.count;
    pa_store_integration_array_free(&arr);
    if (!resp->restrictedAccess || !resp->items)
        return pa_soap_fault(soap, PA_ERR_UNKNOWN_ERROR);
    return SOAP_OK;
}

int __pa3__RemoveIntegration(struct soap *soap,
                             struct _pa3__RemoveIntegrationRequest *req,
                             struct _pa3__RemoveIntegrationResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "RemoveIntegration");
    int removed = 0;
    pa_err e;

    if (!req->id)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    if ((e = pa_integration_remove(ctx->store, req->id, &removed)) != PA_OK)
        return pa_soap_fault(soap, e);
    resp->id = req->id;
    if (!(resp->removed = pa_soap_bool(soap, removed)))
        return pa_soap_fault(soap, PA_ERR_UNKNOWN_ERROR);
    return SOAP_OK;
}
