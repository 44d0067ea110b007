/*
 * http.c - what paserver answers to requests that are not SOAP POSTs.
 *
 * Under the context path <ctx>:
 *   <ctx>/soap/serviceV3.wsdl, serviceV2.wsdl   the WSDL, soap:address set to
 *                                               the URL the request reached
 *   <ctx>/soap/powerAuthV3.xsd, powerAuthV2.xsd the schemas
 *   <ctx>/soap?wsdl                             the v3 WSDL
 *   <ctx>/soap                                  a short page naming the WSDLs
 *   <ctx>/actuator/health                       {"status":"UP"} or DOWN (503)
 *   <ctx>/actuator/info                         name, version, build time
 * Other paths: 404; methods other than GET and HEAD: 405.
 *
 * The URL written into the WSDL is built from the request's Host header,
 * as the original does, so a client reading the WSDL through a proxy or a
 * port mapping calls back the same way.  The Host value is used only when
 * it is made of host-name and address characters (no markup can reach the
 * XML); otherwise, and when it is missing, the address of the socket the
 * request arrived on is used.  A Host without a port gets the port the
 * request arrived on ("the original always writes the port").  When
 * public_base_url is configured, it is used instead of the Host header.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "net/respond.h"
#include "service/docs.h"
#include "service/http.h"
#include "service/system.h"
#include "soap/pasoap.h"
#include "store/store.h"
#include "util/timeutil.h"

#define CT_XML "text/xml; charset=utf-8"
#define CT_JSON "application/json"
#define CT_HTML "text/html; charset=utf-8"
#define CT_TEXT "text/plain; charset=utf-8"

/* A WSDL split around the value of its soap:address location. */
typedef struct wsdl_parts {
    const pa_doc *doc;
    size_t head;            /* bytes before the location value */
    size_t tail;            /* offset of the closing quote */
} wsdl_parts;

static struct {
    const pa_config *cfg;
    const char *ctx;        /* "" for the root context */
    wsdl_parts v3, v2;
    const pa_doc *xsd3, *xsd2;
} H;

static const pa_doc *find_doc(const char *name)
{
    for (size_t i = 0; i < pa_doc_count; i++)
        if (strcmp(pa_docs[i].name, name) == 0)
            return &pa_docs[i];
    return NULL;
}

static pa_err split_wsdl(const char *name, wsdl_parts *w)
{
    static const char attr[] = "<soap:address location=\"";
    const char *p, *q;

    w->doc = find_doc(name);
    if (w->doc == NULL || (p = strstr(w->doc->data, attr)) == NULL
        || (q = strchr(p + sizeof attr - 1, '"')) == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    w->head = (size_t)(p + sizeof attr - 1 - w->doc->data);
    w->tail = (size_t)(q - w->doc->data);
    return PA_OK;
}

pa_err pa_http_init(const pa_config *cfg)
{
    H.cfg = cfg;
    H.ctx = strcmp(cfg->context_path, "/") == 0 ? "" : cfg->context_path;
    H.xsd3 = find_doc("powerAuthV3.xsd");
    H.xsd2 = find_doc("powerAuthV2.xsd");
    if (split_wsdl("serviceV3.wsdl", &H.v3) != PA_OK
        || split_wsdl("serviceV2.wsdl", &H.v2) != PA_OK
        || H.xsd3 == NULL || H.xsd2 == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    return PA_OK;
}

void pa_http_free(void)
{
    memset(&H, 0, sizeof H);
}

/* --- the base URL the request reached --------------------------------------- */

/* Host header characters accepted: names, IPv4, bracketed IPv6, a port. */
static int host_ok(const char *h, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)h[i]) && strchr(".-:[]", h[i]) == NULL)
            return 0;
    return 1;
}

static int has_port(const char *h, size_t n)
{
    const char *colon = memchr(h, ':', n);

    if (h[0] == '[') {
        const char *close = memchr(h, ']', n);

        return close != NULL && close + 1 < h + n && close[1] == ':';
    }
    return colon != NULL;
}

/* The local address and port of the connection, "a.b.c.d" or "[v6]". */
static int local_addr(struct soap *soap, char *addr, size_t len, int *port)
{
    struct sockaddr_storage sa;
    socklen_t sl = sizeof sa;
    char ip[INET6_ADDRSTRLEN];

    *port = 0;
    if (getsockname(soap->socket, (struct sockaddr *)&sa, &sl) != 0)
        return -1;
    if (sa.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&sa;

        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
        snprintf(addr, len, "[%s]", ip);
        *port = ntohs(s6->sin6_port);
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&sa;

        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
        snprintf(addr, len, "%s", ip);
        *port = ntohs(s4->sin_port);
    }
    return 0;
}

/* "scheme://host:port<ctx>/soap" into buf. */
static void endpoint_url(struct soap *soap, char *buf, size_t len)
{
    const char *ep = soap->endpoint, *host = NULL, *scheme = "http";
    char local[INET6_ADDRSTRLEN + 2] = "localhost";
    size_t n = 0;
    int port = 0;

    /* Configured: the Host header (any well-formed one a client or a
     * proxy sends) does not decide where clients are sent. */
    if (H.cfg->public_base_url && H.cfg->public_base_url[0] != '\0') {
        snprintf(buf, len, "%s%s/soap", H.cfg->public_base_url, H.ctx);
        return;
    }
    /* gSOAP keeps "http://" + Host + path in soap->endpoint (https:// on
     * TLS); the Host value ends at the first '/'. */
    if (strncmp(ep, "https://", 8) == 0)
        scheme = "https", host = ep + 8;
    else if (strncmp(ep, "http://", 7) == 0)
        host = ep + 7;
    /* the event loop did the TLS: gSOAP saw plain bytes */
    if (soap->user != NULL && ((const pa_ctx *)soap->user)->secure)
        scheme = "https";
    if (host != NULL)
        n = strcspn(host, "/");
    (void)local_addr(soap, local, sizeof local, &port);
    if (host == NULL || !host_ok(host, n) || n > 255) {
        snprintf(buf, len, "%s://%s:%d%s/soap", scheme, local, port, H.ctx);
    } else if (has_port(host, n)) {
        snprintf(buf, len, "%s://%.*s%s/soap", scheme, (int)n, host, H.ctx);
    } else {
        snprintf(buf, len, "%s://%.*s:%d%s/soap", scheme, (int)n, host, port, H.ctx);
    }
}

/* --- answers ---------------------------------------------------------------- */

/* XML-escaped copy of s appended at out (which has room). */
static size_t put_escaped(char *out, const char *s)
{
    size_t n = 0;

    for (; *s; s++) {
        const char *e = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;"
                      : *s == '"' ? "&quot;" : NULL;

        if (e != NULL) {
            memcpy(out + n, e, strlen(e));
            n += strlen(e);
        } else {
            out[n++] = *s;
        }
    }
    return n;
}

static int send_wsdl(struct soap *soap, const wsdl_parts *w)
{
    char url[1024];
    size_t cap, n;
    char *body;

    endpoint_url(soap, url, sizeof url);
    cap = w->doc->len + 6 * strlen(url) + 1;
    body = soap_malloc(soap, cap);
    if (body == NULL)
        return pa_respond(soap, 500, CT_TEXT, "out of memory\n", 14, NULL);
    memcpy(body, w->doc->data, w->head);
    n = w->head + put_escaped(body + w->head, url);
    memcpy(body + n, w->doc->data + w->tail, w->doc->len - w->tail);
    n += w->doc->len - w->tail;
    return pa_respond(soap, 200, CT_XML, body, n, NULL);
}

static int send_index(struct soap *soap)
{
    char url[1024], esc[6 * sizeof url], page[4 * sizeof esc];
    int n;

    endpoint_url(soap, url, sizeof url);
    esc[put_escaped(esc, url)] = '\0';
    n = snprintf(page, sizeof page,
                 "<!DOCTYPE html>\n<html><head><title>PowerAuth SOAP endpoint</title></head>"
                 "<body><h1>PowerAuth SOAP endpoint</h1>"
                 "<p>SOAP 1.1 endpoint for POST requests: %s</p><ul>"
                 "<li><a href=\"%s/serviceV3.wsdl\">%s/serviceV3.wsdl</a> (v3)</li>"
                 "<li><a href=\"%s/serviceV2.wsdl\">%s/serviceV2.wsdl</a> (v2)</li>"
                 "</ul></body></html>\n",
                 esc, esc, esc, esc, esc);
    if (n < 0 || (size_t)n >= sizeof page)
        n = 0;
    return pa_respond(soap, 200, CT_HTML, page, (size_t)n, NULL);
}

static int send_health(struct soap *soap)
{
    static const char up[] = "{\"status\":\"UP\"}", down[] = "{\"status\":\"DOWN\"}";
    pa_ctx *ctx = soap->user;

    if (ctx != NULL && ctx->store != NULL && pa_store_ping(ctx->store) == PA_OK)
        return pa_respond(soap, 200, CT_JSON, up, sizeof up - 1, NULL);
    return pa_respond(soap, 503, CT_JSON, down, sizeof down - 1, NULL);
}

/* JSON string body of s (quotes, backslashes and controls escaped). */
static void json_escape(char *out, size_t len, const char *s)
{
    size_t n = 0;

    for (; *s && n + 7 < len; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            n += (size_t)snprintf(out + n, len - n, "\\%c", c);
        else if (c < 0x20)
            n += (size_t)snprintf(out + n, len - n, "\\u%04x", c);
        else
            out[n++] = (char)c;
    }
    out[n] = '\0';
}

static int send_info(struct soap *soap)
{
    char name[512], built[PA_TIME_ISO_BUF] = "", body[1024];
    int n;

    json_escape(name, sizeof name, H.cfg->service_name ? H.cfg->service_name : "paserver");
    (void)pa_time_format_iso(pa_system_build_time_ms(), built);
    n = snprintf(body, sizeof body,
                 "{\"build\":{\"artifact\":\"paserver\",\"name\":\"%s\","
                 "\"version\":\"%s\",\"time\":\"%s\"}}",
                 name, pa_system_version(), built);
    if (n < 0 || (size_t)n >= sizeof body)
        n = 0;
    return pa_respond(soap, 200, CT_JSON, body, (size_t)n, NULL);
}

static int send_404(struct soap *soap)
{
    static const char body[] = "Not Found\n";

    return pa_respond(soap, 404, CT_TEXT, body, sizeof body - 1, NULL);
}

/* --- routing ---------------------------------------------------------------- */

/* 1 when path (without query) is <ctx><rest>. */
static int is(const char *path, size_t len, const char *rest)
{
    size_t c = strlen(H.ctx), r = strlen(rest);

    return len == c + r && strncmp(path, H.ctx, c) == 0 && strncmp(path + c, rest, r) == 0;
}

int pa_http_get(struct soap *soap)
{
    const char *path = soap->path, *query;
    size_t len;

    if (soap->status != SOAP_GET && soap->status != SOAP_HEAD)
        return pa_respond_405(soap);
    if (H.cfg == NULL)
        return send_404(soap);
    len = strcspn(path, "?#");
    query = path[len] == '?' ? path + len + 1 : "";
    if (is(path, len, "/soap/serviceV3.wsdl"))
        return send_wsdl(soap, &H.v3);
    if (is(path, len, "/soap/serviceV2.wsdl"))
        return send_wsdl(soap, &H.v2);
    if (is(path, len, "/soap/powerAuthV3.xsd"))
        return pa_respond(soap, 200, CT_XML, H.xsd3->data, H.xsd3->len, NULL);
    if (is(path, len, "/soap/powerAuthV2.xsd"))
        return pa_respond(soap, 200, CT_XML, H.xsd2->data, H.xsd2->len, NULL);
    if (is(path, len, "/soap") || is(path, len, "/soap/"))
        return strcasecmp(query, "wsdl") == 0 ? send_wsdl(soap, &H.v3) : send_index(soap);
    if (is(path, len, "/actuator/health"))
        return send_health(soap);
    if (is(path, len, "/actuator/info"))
        return send_info(soap);
    return send_404(soap);
}
