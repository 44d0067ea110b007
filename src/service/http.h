/*
 * http.h - what paserver answers to plain HTTP GET: the WSDL and XSD files
 * (soap:address rewritten to the address the request reached), the
 * actuator health and info documents, and a short page on the endpoint.
 */
#ifndef PA_SERVICE_HTTP_H
#define PA_SERVICE_HTTP_H

#include "util/config.h"
#include "util/err.h"

struct soap;

/* Prepares the documents (once, before the workers start). */
pa_err pa_http_init(const pa_config *cfg);
void pa_http_free(void);

/* gSOAP hook for every request that is not a POST (GET, HEAD, PUT, PATCH,
 * DELETE, OPTIONS: server.h): serves soap->path to GET and HEAD, answers
 * 404 for other paths and 405 for other methods. */
int pa_http_get(struct soap *soap);

#endif
