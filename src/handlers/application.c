/*
 * application.c - v3 application operations: GetApplicationList,
 * GetApplicationDetail, LookupApplicationByAppKey, CreateApplication,
 * CreateApplicationVersion, SupportApplicationVersion,
 * UnsupportApplicationVersion.
 *
 * Thin: a missing required element is ERR0024, everything else is
 * service/application.c; store results are copied into gSOAP memory, so
 * the store structs are freed before the response is written.
 */
#include "service/application.h"
#include "soap/pasoap.h"

/* Any NULL from a response builder means gSOAP ran out of memory. */
#define OOM_CHECK(cond) \
    do { if (!(cond)) return pa_soap_fault(soap, PA_ERR_UNKNOWN_ERROR); } while (0)

int __pa3__GetApplicationList(struct soap *soap,
                              struct _pa3__GetApplicationListRequest *req,
                              struct _pa3__GetApplicationListResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "GetApplicationList");
    pa_store_application_array arr;
    pa_err e;
    size_t i;

    (void)req;
    if ((e = pa_application_list(ctx->store, &arr)) != PA_OK)
        return pa_soap_fault(soap, e);
    resp->applications = pa_soap_alloc(soap, sizeof *resp->applications * (arr.count + 1));
    for (i = 0; resp->applications && i < arr.count; i++) {
        resp->applications[i].id = pa_soap_long(soap, arr.items[i].id);
        resp->applications[i].applicationName = pa_soap_strdup(soap, arr.items[i].name);
    }
    resp->__sizeapplications = (int)arr.count;
    pa_store_application_array_free(&arr);
    OOM_CHECK(resp->applications);
    return SOAP_OK;
}

static void fill_versions(struct soap *soap, const pa_store_version_array *v,
                          struct _pa3__GetApplicationDetailResponse *resp)
{
    size_t i;

    resp->versions = pa_soap_alloc(soap, sizeof *resp->versions * (v->count + 1));
    if (!resp->versions)
        return;
    for (i = 0; i < v->count; i++) {
        struct _pa3__GetApplicationDetailResponse_versions *o = &resp->versions[i];

        o->applicationVersionId = pa_soap_long(soap, v->items[i].id);
        o->applicationVersionName = pa_soap_strdup(soap, v->items[i].name);
        o->applicationKey = pa_soap_strdup(soap, v->items[i].application_key);
        o->applicationSecret = pa_soap_strdup(soap, v->items[i].application_secret);
        o->supported = pa_soap_bool(soap, v->items[i].supported);
    }
    resp->__sizeversions = (int)v->count;
}

int __pa3__GetApplicationDetail(struct soap *soap,
                                struct _pa3__GetApplicationDetailRequest *req,
                                struct _pa3__GetApplicationDetailResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "GetApplicationDetail");
    pa_app_detail d;
    pa_err e;

    e = pa_application_detail(ctx->store, req->applicationId != NULL,
                              req->applicationId ? *req->applicationId : 0,
                              req->applicationName, &d);
    if (e != PA_OK)
        return pa_soap_fault(soap, e);
    resp->applicationId = pa_soap_long(soap, d.app.id);
    resp->applicationName = pa_soap_strdup(soap, d.app.name);
    resp->masterPublicKey = pa_soap_strdup(soap, d.master_public_key);
    fill_versions(soap, &d.versions, resp);
    pa_application_detail_free(&d);
    OOM_CHECK(resp->applicationId && resp->versions);
    return SOAP_OK;
}

int __pa3__LookupApplicationByAppKey(struct soap *soap,
                                     struct _pa3__LookupApplicationByAppKeyRequest *req,
                                     struct _pa3__LookupApplicationByAppKeyResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "LookupApplicationByAppKey");
    int64_t app_id = 0;
    pa_err e;

    if (!req->applicationKey)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    e = pa_application_lookup_by_key(ctx->store, req->applicationKey, &app_id);
    if (e != PA_OK)
        return pa_soap_fault(soap, e);
    OOM_CHECK(resp->applicationId = pa_soap_long(soap, app_id));
    return SOAP_OK;
}

int __pa3__CreateApplication(struct soap *soap,
                             struct _pa3__CreateApplicationRequest *req,
                             struct _pa3__CreateApplicationResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "CreateApplication");
    int64_t id = 0;
    pa_err e;

    if (!req->applicationName)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    if ((e = pa_application_create(ctx->store, req->applicationName, &id)) != PA_OK)
        return pa_soap_fault(soap, e);
    resp->applicationId = pa_soap_long(soap, id);
    resp->applicationName = req->applicationName;
    OOM_CHECK(resp->applicationId);
    return SOAP_OK;
}

int __pa3__CreateApplicationVersion(struct soap *soap,
                                    struct _pa3__CreateApplicationVersionRequest *req,
                                    struct _pa3__CreateApplicationVersionResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "CreateApplicationVersion");
    pa_store_version v;
    pa_err e;

    if (!req->applicationId || !req->applicationVersionName)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    e = pa_application_version_create(ctx->store, *req->applicationId,
                                      req->applicationVersionName, &v);
    if (e != PA_OK)
        return pa_soap_fault(soap, e);
    resp->applicationVersionId = pa_soap_long(soap, v.id);
    resp->applicationVersionName = pa_soap_strdup(soap, v.name);
    resp->applicationKey = pa_soap_strdup(soap, v.application_key);
    resp->applicationSecret = pa_soap_strdup(soap, v.application_secret);
    resp->supported = pa_soap_bool(soap, v.supported);
    pa_store_version_free(&v);
    OOM_CHECK(resp->applicationVersionId && resp->applicationVersionName &&
              resp->applicationKey && resp->applicationSecret && resp->supported);
    return SOAP_OK;
}

/* Support and Unsupport differ only in the flag and the response type. */
static int set_supported(struct soap *soap, const LONG64 *version_id,
                         int supported, LONG64 **out_id,
                         enum xsd__boolean **out_supported)
{
    pa_ctx *ctx = soap->user;
    pa_err e;

    if (!version_id)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    e = pa_application_version_support(ctx->store, *version_id, supported);
    if (e != PA_OK)
        return pa_soap_fault(soap, e);
    *out_id = pa_soap_long(soap, *version_id);
    *out_supported = pa_soap_bool(soap, supported);
    OOM_CHECK(*out_id && *out_supported);
    return SOAP_OK;
}

int __pa3__SupportApplicationVersion(struct soap *soap,
                                     struct _pa3__SupportApplicationVersionRequest *req,
                                     struct _pa3__SupportApplicationVersionResponse *resp)
{
    pa_soap_begin(soap, "SupportApplicationVersion");
    return set_supported(soap, req->applicationVersionId, 1,
                         &resp->applicationVersionId, &resp->supported);
}

int __pa3__UnsupportApplicationVersion(struct soap *soap,
                                       struct _pa3__UnsupportApplicationVersionRequest *req,
                                       struct _pa3__UnsupportApplicationVersionResponse *resp)
{
    pa_soap_begin(soap, "UnsupportApplicationVersion");
    return set_supported(soap, req->applicationVersionId, 0,
                         &resp->applicationVersionId, &resp->supported);
}
