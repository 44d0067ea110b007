/*
 * setup.c - how paserver configures each gSOAP context.
 */
#include "soap/pasoap.h"
#include "util/config.h"

void pa_soap_setup(struct soap *soap, pa_ctx *ctx)
{
    const pa_config *cfg = ctx->cfg;

    /* Lenient parsing, as the original reads requests: no SOAP_XML_STRICT,
     * so unknown elements are skipped and element order is forgiven.
     * Strings are UTF-8 in and out. */
    soap_set_mode(soap, SOAP_C_UTFSTRING);
    soap_set_namespaces(soap, namespaces);
    soap->user = ctx;

    /* gSOAP counts every byte of a request (headers, chunk framing) against
     * recv_maxlength; the body limit itself is enforced exactly by the net
     * layer (src/net/serve.c), so this is only a backstop above it. */
    soap->recv_maxlength = 2 * (ULONG64)cfg->max_body_bytes + 65536;
    soap->maxlevel = (unsigned)cfg->max_xml_depth;
    soap->maxoccurs = 10000;
    /* gSOAP takes positive timeouts in seconds, negative in microseconds. */
    soap->recv_timeout = -(int)(cfg->recv_timeout_ms * 1000);
    soap->send_timeout = -(int)(cfg->send_timeout_ms * 1000);
    soap->accept_timeout = 0;
    soap->bind_flags = SO_REUSEADDR;
    pa_soap_install_fault_hooks(soap);
}

pa_ctx *pa_soap_begin(struct soap *soap, const char *operation)
{
    pa_ctx *ctx = soap->user;

    /* gSOAP copies soap->header into the response unless it is cleared;
     * the request's header may hold a WS-Security password. */
    soap->header = NULL;
    if (ctx != NULL) {
        ctx->operation = operation;
        ctx->result = PA_OK;
    }
    return ctx;
}
