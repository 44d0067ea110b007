/*
 * scheduled.c - operations of the contract whose logic arrives with later
 * issues (signatures, tokens, vault, recovery, upgrade, protocol 2).
 *
 * Until then each one is dispatched normally, logged under its name, and
 * answered with a Server fault ERR0024, so a client sees the documented
 * fault shape rather than an unknown-operation error.  An operation leaves
 * this file when its handler is written.
 */
#include "soap/pasoap.h"

#define SCHEDULED(ns, op)                                                  \
    int __##ns##__##op(struct soap *soap, struct _##ns##__##op##Request *req, \
                       struct _##ns##__##op##Response *resp)              \
    {                                                                     \
        (void)req;                                                        \
        (void)resp;                                                       \
        pa_soap_begin(soap, #op);                                         \
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);               \
    }

/* v3 */

/* v2 */
