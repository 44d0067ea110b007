/*
 * fault.c - every failure becomes a SOAP 1.1 fault here.
 *
 * Service errors (pa_err from a handler) are Server faults whose
 * faultstring is the English catalogue text and whose detail carries the
 * unqualified errorCode and localizedMessage, as the original sends them.
 * gSOAP's own errors (the request could not be parsed or dispatched) keep
 * gSOAP's descriptive faultstring and code, and get the same detail with
 * ERR0024, so a client always reads an error code.
 */
#include <stdio.h>
#include <string.h>

#include "service/errors.h"
#include "soap/pasoap.h"

/* XML-escapes s into gSOAP memory. */
static char *xml_escape(struct soap *soap, const char *s)
{
    size_t n = 0;
    const char *p;
    char *out, *o;

    for (p = s; *p; p++)
        n += (*p == '<' || *p == '>') ? 4 : (*p == '&') ? 5 : 1;
    out = soap_malloc(soap, n + 1);
    if (out == NULL)
        return NULL;
    for (o = out, p = s; *p; p++) {
        if (*p == '<') { memcpy(o, "&lt;", 4); o += 4; }
        else if (*p == '>') { memcpy(o, "&gt;", 4); o += 4; }
        else if (*p == '&') { memcpy(o, "&amp;", 5); o += 5; }
        else *o++ = *p;
    }
    *o = '\0';
    return out;
}

/* Literal detail XML: errorCode, localizedMessage, then `extra`. */
static const char *detail_xml(struct soap *soap, pa_err e, const char *extra)
{
    const char *msg = xml_escape(soap, pa_errors_message(e, "en"));
    size_t n;
    char *x;

    if (msg == NULL)
        return NULL;
    n = strlen(msg) + (extra ? strlen(extra) : 0) + 96;
    x = soap_malloc(soap, n);
    if (x == NULL)
        return NULL;
    snprintf(x, n, "<errorCode>%s</errorCode><localizedMessage>%s</localizedMessage>%s",
             pa_err_code(e), msg, extra ? extra : "");
    return x;
}

int pa_soap_fault_detail(struct soap *soap, pa_err e, const char *extra_xml)
{
    pa_ctx *ctx = soap->user;

    if (e == PA_OK)
        e = PA_ERR_UNKNOWN_ERROR;
    if (ctx != NULL)
        ctx->result = e;
    soap_fault(soap);
    *soap_faultcode(soap) = "SOAP-ENV:Server";
    *soap_faultstring(soap) = pa_errors_message(e, "en");
    *soap_faultdetail(soap) = detail_xml(soap, e, extra_xml);
    return soap->error = SOAP_FAULT;
}

int pa_soap_fault(struct soap *soap, pa_err e)
{
    return pa_soap_fault_detail(soap, e, NULL);
}

int pa_soap_result(struct soap *soap, pa_err e)
{
    return e == PA_OK ? SOAP_OK : pa_soap_fault(soap, e);
}

int pa_soap_client_fault(struct soap *soap, const char *faultstring)
{
    pa_ctx *ctx = soap->user;

    if (ctx != NULL) {
        ctx->result = PA_ERR_INVALID_REQUEST;
        ctx->client_error = 1;
    }
    soap_fault(soap);
    *soap_faultcode(soap) = "SOAP-ENV:Client";
    *soap_faultstring(soap) = faultstring;
    *soap_faultdetail(soap) = detail_xml(soap, PA_ERR_INVALID_REQUEST, NULL);
    return soap->error = SOAP_FAULT;
}

/* gSOAP calls this while it builds a fault for its own errors (before it
 * fills in its default code and text).  A fault set by pa_soap_fault is
 * left alone. */
static void on_seterror(struct soap *soap, const char **code, const char **str)
{
    pa_ctx *ctx = soap->user;
    const char **detail = soap_faultdetail(soap);

    if (*detail != NULL)
        return;
    if (ctx != NULL && ctx->client_msg != NULL)
        *str = ctx->client_msg;
    if (ctx != NULL) {
        ctx->result = PA_ERR_INVALID_REQUEST;
        ctx->client_error = 1;
    }
    *detail = detail_xml(soap, PA_ERR_INVALID_REQUEST, NULL);
    /* Everything gSOAP rejects here is about the request; keep its own
     * MustUnderstand / VersionMismatch codes, call the rest Client. */
    if (soap->error != SOAP_MUSTUNDERSTAND && soap->error != SOAP_VERSIONMISMATCH)
        *code = "SOAP-ENV:Client";
}

/* The original writes <faultstring xml:lang="en">; gSOAP has no field for
 * it.  gSOAP writes a pending attribute on the next element it starts, and
 * faultstring follows faultcode, so the attribute is set as faultcode ends.
 * (A hook on element starts cannot do this: gSOAP also calls it for empty
 * elements, which it then expects the hook to write whole.) */
static int on_element_end(struct soap *soap, const char *tag)
{
    int r;

    soap->feltendout = NULL;        /* end the element the standard way */
    r = soap_element_end_out(soap, tag);
    soap->feltendout = on_element_end;
    if (r == SOAP_OK && strcmp(tag, "faultcode") == 0)
        r = soap_set_attr(soap, "xml:lang", "en", 1);
    return r;
}

void pa_soap_install_fault_hooks(struct soap *soap)
{
    soap->fseterror = on_seterror;
    soap->feltendout = on_element_end;
}
