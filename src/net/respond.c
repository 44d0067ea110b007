/*
 * respond.c - plain HTTP answers and the Keep-Alive header, see respond.h.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/respond.h"
#include "net/serve.h"
#include "soap/pasoap.h"
#include "util/config.h"

static atomic_int draining;

void pa_respond_drain(int on)
{
    atomic_store(&draining, on);
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

int pa_respond_keepalive_seconds(int keepalive_timeout_ms)
{
    int s = keepalive_timeout_ms / 1000;

    if (keepalive_timeout_ms <= 0)
        return 0;
    /* Advertise a second less than the server waits, so a client never
     * reuses a connection the server is just closing. */
    return s > 1 ? s - 1 : 1;
}

static int keepalive_seconds(const struct soap *soap)
{
    const pa_ctx *ctx = soap->user;

    return ctx != NULL && ctx->cfg != NULL
               ? pa_respond_keepalive_seconds(ctx->cfg->keepalive_timeout_ms) : 0;
}

/* The connection header line for this answer. */
static void connection_header(struct soap *soap, char *buf, size_t len)
{
    int secs = keepalive_seconds(soap);

    if (atomic_load(&draining))
        soap->keep_alive = 0;
    if (soap->keep_alive > 0 && secs > 0)
        snprintf(buf, len, "Keep-Alive: timeout=%d\r\nConnection: keep-alive\r\n", secs);
    else
        snprintf(buf, len, "Connection: close\r\n");
}

int pa_respond(struct soap *soap, int status, const char *content_type,
               const char *body, size_t len, const char *extra_headers)
{
    char head[768], conn[96];
    int n;

    connection_header(soap, conn, sizeof conn);
    n = snprintf(head, sizeof head,
                 "HTTP/1.1 %d %s\r\n"
                 "Content-Type: %s\r\n"
                 "Content-Length: %zu\r\n"
                 "%s%s\r\n",
                 status, reason(status), content_type, len,
                 extra_headers ? extra_headers : "", conn);
    if (n < 0 || (size_t)n >= sizeof head)
        return soap->error = SOAP_EOM;
    /* HEAD gets the headers of the GET answer and no body. */
    if (soap->fsend(soap, head, (size_t)n) != SOAP_OK
        || (soap->status != SOAP_HEAD && len > 0
            && soap->fsend(soap, body, len) != SOAP_OK)) {
        soap->keep_alive = 0;
        return soap->error = SOAP_EOF;
    }
    return SOAP_OK;
}

int pa_respond_405(struct soap *soap)
{
    static const char body[] = "Method Not Allowed\n";

    /* gSOAP calls the PUT and PATCH hooks before reading the body: the
     * connection cannot carry another request after this answer. */
    if (soap->status == SOAP_PUT || soap->status == SOAP_PATCH)
        soap->keep_alive = 0;
    return pa_respond(soap, 405, "text/plain; charset=utf-8", body,
                      sizeof body - 1, "Allow: POST, GET, HEAD\r\n");
}

/* gSOAP's header writer: the same for every context, remembered once. */
static int (*gsoap_posthdr)(struct soap *, const char *, const char *);

static int posthdr(struct soap *soap, const char *key, const char *val)
{
    char buf[32];

    if (key != NULL && atomic_load(&draining)) {
        if (strcmp(key, "Keep-Alive") == 0)
            return SOAP_OK;
        if (strcmp(key, "Connection") == 0) {
            soap->keep_alive = 0;       /* gSOAP closes after the answer */
            val = "close";
        }
    } else if (key != NULL && strcmp(key, "Connection") == 0 && val != NULL
               && strcmp(val, "close") == 0 && soap->keep_alive == 0
               && keepalive_seconds(soap) > 0 && pa_serve_fault_keepalive(soap)) {
        /* gSOAP drops keep-alive for every fault; a Server fault answering
         * a request read to its end leaves the connection usable. */
        int r;

        soap->keep_alive = 1;
        snprintf(buf, sizeof buf, "timeout=%d", keepalive_seconds(soap));
        if ((r = gsoap_posthdr(soap, "Keep-Alive", buf)) != SOAP_OK)
            return r;
        val = "keep-alive";
    }
    if (key != NULL && strcmp(key, "Keep-Alive") == 0) {
        int secs = keepalive_seconds(soap);

        if (secs <= 0)
            return SOAP_OK;
        snprintf(buf, sizeof buf, "timeout=%d", secs);
        val = buf;
    }
    return gsoap_posthdr(soap, key, val);
}

void pa_respond_install(struct soap *soap)
{
    if (soap->fposthdr == posthdr)
        return;
    if (gsoap_posthdr == NULL)
        gsoap_posthdr = soap->fposthdr;
    soap->fposthdr = posthdr;
}
