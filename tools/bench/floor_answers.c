/*
 * floor_answers.c - the two operations the benchmark floors answer, with
 * constant data the size of paserver's answers: GetSystemStatus and
 * GetApplicationDetail (one application, one version).  Shared by
 * tools/bench/floor (our connection handling) and tools/bench/bare (gSOAP
 * alone), so both floors do exactly the same SOAP work.
 */
#include "soap/pasoap.h"
#include "util/timeutil.h"

int __pa3__GetSystemStatus(struct soap *soap, struct _pa3__GetSystemStatusRequest *req,
                           struct _pa3__GetSystemStatusResponse *resp)
{
    (void)req;
    pa_soap_begin(soap, "GetSystemStatus");
    resp->status = "OK";
    resp->applicationName = "powerauth-server";
    resp->applicationDisplayName = "PowerAuth Server";
    resp->applicationEnvironment = "";
    resp->version = "0.0.0-floor";
    resp->buildTime = pa_soap_time(soap, 1700000000000LL);
    resp->timestamp = pa_soap_time(soap, pa_time_now_ms());
    return SOAP_OK;
}

/* One application with one version, the size of a typical answer. */
int __pa3__GetApplicationDetail(struct soap *soap,
                                struct _pa3__GetApplicationDetailRequest *req,
                                struct _pa3__GetApplicationDetailResponse *resp)
{
    struct _pa3__GetApplicationDetailResponse_versions *v;

    pa_soap_begin(soap, "GetApplicationDetail");
    v = pa_soap_alloc(soap, sizeof *v);
    if (v == NULL)
        return pa_soap_fault(soap, PA_ERR_UNKNOWN_ERROR);
    resp->applicationId = pa_soap_long(soap, req->applicationId ? *req->applicationId : 1);
    resp->applicationName = "bench";
    resp->masterPublicKey =
        "BOP6ry6yQGTvlqV9zTqHrW1o/4DT5PxDXcYqQ8hCaN3g1d8Fw5pCs5Cy2nBHbFEpKQHe4U6z3tLJ6vLx/5Yt8pI=";
    v->applicationVersionId = pa_soap_long(soap, 1);
    v->applicationVersionName = "default";
    v->applicationKey = "yqKIoAmcKpFcsZq1EMtvSg==";
    v->applicationSecret = "bH6u0UxbAYXOCf0hHHn0xw==";
    v->supported = pa_soap_bool(soap, 1);
    resp->__sizeversions = 1;
    resp->versions = v;
    return SOAP_OK;
}
