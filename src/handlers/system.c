/*
 * system.c - GetSystemStatus and GetErrorCodeList (v3).
 *
 * Handlers are thin: take the request, call the service or build the
 * answer, and leave faults to pa_soap_result().
 */
#include "service/errors.h"
#include "service/system.h"
#include "soap/pasoap.h"
#include "util/config.h"
#include "util/timeutil.h"

int __pa3__GetSystemStatus(struct soap *soap,
                           struct _pa3__GetSystemStatusRequest *req,
                           struct _pa3__GetSystemStatusResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "GetSystemStatus");

    (void)req;
    resp->status = "OK";
    resp->applicationName = ctx->cfg->application_name;
    resp->applicationDisplayName = ctx->cfg->application_display_name;
    resp->applicationEnvironment = ctx->cfg->application_environment;
    resp->version = (char *)pa_system_version();
    resp->buildTime = pa_soap_time(soap, pa_system_build_time_ms());
    resp->timestamp = pa_soap_time(soap, pa_time_now_ms());
    return SOAP_OK;
}

int __pa3__GetErrorCodeList(struct soap *soap,
                            struct _pa3__GetErrorCodeListRequest *req,
                            struct _pa3__GetErrorCodeListResponse *resp)
{
    const char *lang;
    int n = 0;

    pa_soap_begin(soap, "GetErrorCodeList");
    /* Required: the original crashes on a missing language; an empty one
     * is a language like any other (English). */
    if (req->language == NULL)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    lang = req->language;
    resp->errors = pa_soap_alloc(soap, sizeof *resp->errors * PA_ERR__COUNT);
    if (resp->errors == NULL)
        return pa_soap_fault(soap, PA_ERR_UNKNOWN_ERROR);
    /* ERR0000..ERR0032 in order; PA_OK is not a code */
    for (int e = PA_ERR_UNKNOWN_ERROR; e < PA_ERR__COUNT; e++, n++) {
        resp->errors[n].code = (char *)pa_err_code((pa_err)e);
        resp->errors[n].value = (char *)pa_errors_message((pa_err)e, lang);
    }
    resp->__sizeerrors = n;
    return SOAP_OK;
}
