/*
 * pasoap.h - the glue between gSOAP and the rest of the server.
 *
 * Handlers (src/handlers) get their request context and build responses and
 * faults only through this module, so every failure is turned into a SOAP
 * fault in exactly one place (pa_soap_fault) and every gSOAP-level error
 * (malformed XML, wrong type, unknown operation, size and depth limits)
 * gets the same Client fault with errorCode ERR0024.
 */
#ifndef PA_SOAP_H
#define PA_SOAP_H

#include <stdint.h>

#include "soapH.h"
#include "util/err.h"

struct pa_config;
struct pa_store;

/* Per-worker, per-request state reachable from a handler as soap->user. */
typedef struct pa_ctx {
    const struct pa_config *cfg;
    struct pa_store *store;     /* this worker's own store connection */
    const char *operation;      /* for the request log line */
    pa_err result;              /* PA_OK, or the error the fault carried */
    int client_error;           /* the request itself was unusable */
    const char *client_msg;     /* faultstring for a refused request */
    void *net;                  /* owned by the net layer (guard state) */
    int secure;                 /* this request came over TLS */
} pa_ctx;

/* Both namespaces, WS-Security, and SOAP 1.1 only (no SOAP 1.2 pattern).
 * The name is gSOAP's: its library refers to a global `namespaces`. */
extern struct Namespace namespaces[];

/* Configures a fresh gSOAP context: namespaces, lenient parsing, fault
 * hooks, limits (body size, depth, timeouts) from cfg, and ctx as soap->user. */
void pa_soap_setup(struct soap *soap, pa_ctx *ctx);

/* Installs the fault hooks (part of pa_soap_setup; separate for tests). */
void pa_soap_install_fault_hooks(struct soap *soap);

/* Called by a handler first: names the operation for the log and drops the
 * request's SOAP Header so it is never copied into the response (it may
 * carry a WS-Security password). */
pa_ctx *pa_soap_begin(struct soap *soap, const char *operation);

/* The one place a pa_err becomes a fault: SOAP-ENV:Server, faultstring =
 * English catalogue text, detail errorCode + localizedMessage.  Returns
 * SOAP_FAULT for the handler to return. */
int pa_soap_fault(struct soap *soap, pa_err e);

/* Same, with extra literal XML appended to the detail (e.g.
 * "<currentRecoveryPukIndex>2</currentRecoveryPukIndex>"). */
int pa_soap_fault_detail(struct soap *soap, pa_err e, const char *extra_xml);

/* Handler epilogue: SOAP_OK for PA_OK, else pa_soap_fault(e). */
int pa_soap_result(struct soap *soap, pa_err e);

/* Client fault (ERR0024 in the detail) with a specific faultstring, for
 * requests the server cannot use at all (e.g. failed authentication). */
int pa_soap_client_fault(struct soap *soap, const char *faultstring);

/* Response builders: values in gSOAP-managed memory (freed with the
 * request).  NULL only on allocation failure. */
LONG64 *pa_soap_long(struct soap *soap, int64_t v);
enum xsd__boolean *pa_soap_bool(struct soap *soap, int v);
char *pa_soap_strdup(struct soap *soap, const char *s);
struct timeval *pa_soap_time(struct soap *soap, int64_t ms);
void *pa_soap_alloc(struct soap *soap, size_t n);   /* zeroed */

/* Milliseconds of an xs:dateTime from a request (NULL-safe: returns 0 and
 * *present = 0 when absent); instants more than 10^15 s from 1970 are read
 * as that far. */
int64_t pa_soap_time_ms(const struct timeval *tv, int *present);

#endif
