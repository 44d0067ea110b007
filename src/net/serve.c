/*
 * serve.c - one request through gSOAP, with the guard watching the bytes
 * and every failure answered with a fault.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "net/respond.h"
#include "net/serve.h"
#include "util/config.h"
#include "util/log.h"
#include "util/timeutil.h"

static const char *guard_message(pa_guard_result r)
{
    switch (r) {
    case PA_GUARD_DTD:
        return "DTD and entity declarations are not accepted";
    case PA_GUARD_DEPTH:
        return "XML nesting exceeds the configured depth limit";
    case PA_GUARD_MALFORMED:
        return "The request body is not well-formed XML";
    case PA_GUARD_ENCODING:
        return "Content-Encoding is not accepted";
    case PA_GUARD_CHARSET:
        return "The request body is not valid UTF-8 XML text (or holds a "
               "character XML forbids)";
    case PA_GUARD_ENTITY:
        return "Undefined entity or invalid character reference";
    case PA_GUARD_ATTRIBUTES:
        return "Too many attributes or namespace declarations on one element";
    case PA_GUARD_HEADERS:
        return "The request headers exceed the size limit";
    default:
        return "Malformed HTTP request framing";
    }
}

/* Stops a request early.  gSOAP only sends a fault for end-of-input when
 * no timeouts are set, so they are cleared for the rest of this request
 * (pa_serve_one restores them for the next). */
static size_t stop_reading(struct soap *soap)
{
    soap->recv_timeout = 0;
    soap->send_timeout = 0;
    return 0;
}

/* Every raw read passes the guard, which also finds where the request
 * ends: bytes beyond it (a pipelined next request) are kept in the stash
 * for the next request instead of being given to gSOAP now.  Once the body
 * is complete, a request for more bytes means the XML document is
 * truncated: end it at once instead of waiting for the receive timeout. */
/* Up to len of the request bytes the event loop read (none left: 0). */
static size_t take_source(pa_netstate *ns, char *buf, size_t len)
{
    size_t n = ns->src_len - ns->src_pos < len ? ns->src_len - ns->src_pos : len;

    if (n > 0)
        memcpy(buf, ns->src + ns->src_pos, n);
    ns->src_pos += n;
    return n;
}

static size_t guarded_recv(struct soap *soap, char *buf, size_t len)
{
    pa_ctx *ctx = soap->user;
    pa_netstate *ns = ctx->net;
    pa_guard_result r;
    size_t n, take;
    int stashed = ns->stash_pos < ns->stash_len;

    if (ns->prevalidated) {
        /* The loop's guard saw exactly these bytes end a clean request:
         * gSOAP asking for more means the XML ends before the body. */
        if (ns->src_pos == ns->src_len) {
            ns->truncated = 1;
            ctx->client_msg = "The request body is not a complete XML document";
            return stop_reading(soap);
        }
        return take_source(ns, buf, len);
    }
    if (ns->guard.started && pa_guard_complete(&ns->guard)) {
        ns->truncated = 1;
        ctx->client_msg = "The request body is not a complete XML document";
        return stop_reading(soap);
    }
    /* The receive timeout bounds each read, not the request: a client
     * trickling a byte per read could hold this worker for hours. */
    if (!stashed && pa_time_mono_us() > ns->deadline_us) {
        ctx->client_msg = "The request took too long to arrive";
        return stop_reading(soap);
    }
    if (stashed) {
        n = ns->stash_len - ns->stash_pos < len ? ns->stash_len - ns->stash_pos : len;
        memcpy(buf, ns->stash + ns->stash_pos, n);
        ns->stash_pos += n;
    } else if ((n = ns->raw_recv(soap, buf, len)) == 0) {
        return 0;
    }
    take = pa_guard_take(&ns->guard, buf, n, &r);
    if (take < n && stashed) {
        ns->stash_pos -= n - take;          /* still the next request's */
    } else if (take < n) {
        memcpy(ns->stash, buf + take, n - take);
        ns->stash_len = n - take;
        ns->stash_pos = 0;
    }
    if (r != PA_GUARD_OK) {
        ctx->client_msg = guard_message(r);
        return stop_reading(soap);
    }
    /* The body limit, exactly (the guard counts body bytes, chunked or
     * not), and a declared Content-Length over it before waiting for the
     * body.  gSOAP's own recv_maxlength (a backstop for everything else a
     * request brings: headers, chunk framing) would end the request as a
     * silent end-of-input: refuse it here with a fault instead. */
    if (ns->guard.content_length > ctx->cfg->max_body_bytes
        || ns->guard.body_bytes > (uint64_t)ctx->cfg->max_body_bytes
        || (soap->recv_maxlength && soap->count + take > soap->recv_maxlength)) {
        ctx->client_msg = "The request exceeds the size limit";
        return stop_reading(soap);
    }
    return take;
}

/* gSOAP's close hook.  gSOAP closes the socket itself on some failures
 * (a Connection: close or HTTP/1.0 request whose body fails to parse) and
 * then writes the fault it still owes to its "sendfd", which is stdout:
 * the client got 0 bytes and stdout filled with faults.  The worker pool
 * owns every descriptor instead: this hook only notes that the connection
 * must close after the answer, so the answer still reaches its socket. */
static int keep_socket(struct soap *soap)
{
    pa_ctx *ctx = soap->user;

    ((pa_netstate *)ctx->net)->close_wanted = 1;
    return SOAP_OK;
}

/* The request's bytes as the event loop read them.  Running out of them
 * is the end of input: when the loop gave up waiting, the fault says so. */
static size_t buffer_recv(struct soap *soap, char *buf, size_t len)
{
    pa_ctx *ctx = soap->user;
    pa_netstate *ns = ctx->net;

    if (ns->src_pos == ns->src_len) {
        if (ns->src_reason == PA_SRC_DEADLINE && ctx->client_msg == NULL) {
            ctx->client_msg = "The request took too long to arrive";
            return stop_reading(soap);
        }
        return 0;
    }
    return take_source(ns, buf, len);
}

/* Largest answer kept for the event loop to send. */
#define OUT_MAX ((size_t)256 << 20)

static int buffer_send(struct soap *soap, const char *s, size_t n)
{
    pa_ctx *ctx = soap->user;
    pa_outbuf *o = ((pa_netstate *)ctx->net)->out;

    if (n == 0)
        return SOAP_OK;         /* (and no NULL + 0 on an empty buffer) */
    if (n > OUT_MAX - o->len)
        return SOAP_EOM;
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        char *p;

        while (cap < o->len + n)
            cap *= 2;
        if ((p = realloc(o->p, cap)) == NULL)
            return SOAP_EOM;
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    return SOAP_OK;
}

/* gSOAP polls the socket before a fault to see whether the peer is still
 * there; the event loop owns the socket, so the answer is always wanted. */
static int no_poll(struct soap *soap)
{
    (void)soap;
    return SOAP_OK;
}

void pa_serve_guard_reset(pa_guard *g, const pa_config *cfg)
{
    pa_guard_limits lim = {cfg->max_xml_attributes, cfg->max_xml_namespaces,
                           (uint64_t)cfg->max_header_bytes};

    pa_guard_reset(g, cfg->max_xml_depth);
    pa_guard_set_limits(g, &lim);
}

int pa_serve_verdict(const pa_guard *g, pa_guard_result r, int64_t max_body_bytes)
{
    if (r != PA_GUARD_OK || g->content_length > max_body_bytes
        || g->body_bytes > (uint64_t)max_body_bytes)
        return PA_SRC_REFUSED;
    return pa_guard_complete(g) ? PA_SRC_COMPLETE : -1;
}

void pa_serve_source(struct soap *soap, const char *buf, size_t len,
                     pa_src_reason reason, const pa_guard *framed, pa_outbuf *out)
{
    pa_ctx *ctx = soap->user;
    pa_netstate *ns = ctx->net;

    ns->framed = reason == PA_SRC_COMPLETE ? framed : NULL;
    ns->src = buf;
    ns->src_len = len;
    ns->src_pos = 0;
    ns->src_reason = reason;
    ns->out = out;
    ns->raw_recv = buffer_recv;
    soap->fsend = buffer_send;
    soap->fpoll = no_poll;
}

void pa_serve_init(struct soap *soap, pa_netstate *ns)
{
    pa_ctx *ctx = soap->user;

    memset(ns, 0, sizeof *ns);
    ns->raw_recv = soap->frecv;
    soap->frecv = guarded_recv;
    soap->fclose = keep_socket;
    /* Never the process's stdin/stdout, whatever gSOAP falls back to. */
    soap->recvfd = -1;
    soap->sendfd = -1;
    ctx->net = ns;
}

int pa_serve_pending(const struct soap *soap)
{
    const pa_ctx *ctx = soap->user;
    const pa_netstate *ns = ctx->net;

    return ns->stash_pos < ns->stash_len;
}

void pa_serve_attach(struct soap *soap)
{
    pa_ctx *ctx = soap->user;
    pa_netstate *ns = ctx->net;

    ns->stash_len = ns->stash_pos = 0;
    soap->bufidx = soap->buflen = 0;
}

int pa_serve_unread(const struct soap *soap)
{
    const pa_ctx *ctx = soap->user;
    const pa_netstate *ns = ctx->net;

    return ns->guard.started && !pa_guard_complete(&ns->guard);
}

int pa_serve_fault_keepalive(const struct soap *soap)
{
    const pa_ctx *ctx = soap->user;
    const pa_netstate *ns = ctx != NULL ? ctx->net : NULL;

    return ns != NULL && ns->keepalive_wanted && !ctx->client_error
           && pa_guard_complete(&ns->guard);
}

/* The request could not be taken as SOAP 1.1 at all (another envelope
 * version, plain XML, ...): gSOAP stops without answering. */
static void answer_not_soap(struct soap *soap)
{
    pa_ctx *ctx = soap->user;

    if (ctx->client_msg == NULL)
        ctx->client_msg = "Not a SOAP 1.1 request";
    pa_soap_client_fault(soap, ctx->client_msg);
    soap->error = SOAP_FAULT;
    soap_send_fault(soap);
}

/* A POST must reach <ctx>/soap, or a path below it as the original's
 * servlet mapping (/soap/ and below) allows; the request line may carry an
 * absolute URI. */
static int endpoint_path_ok(const struct soap *soap, const char *context_path)
{
    const char *ctx = strcmp(context_path, "/") == 0 ? "" : context_path;
    const char *p = soap->path;
    size_t n = strlen(ctx), len;

    if (strncmp(p, "http://", 7) == 0 || strncmp(p, "https://", 8) == 0) {
        p = strchr(strchr(p, ':') + 3, '/');
        if (p == NULL)
            return 0;
    }
    len = strcspn(p, "?;#");
    if (len < n + 5 || strncmp(p, ctx, n) != 0 || strncmp(p + n, "/soap", 5) != 0)
        return 0;
    return len == n + 5 || p[n + 5] == '/';
}

static void answer_not_found(struct soap *soap)
{
    static const char body[] = "Not Found\n";

    soap->keep_alive = 0;           /* the body is left unread */
    (void)pa_respond(soap, 404, "text/plain; charset=utf-8", body, sizeof body - 1, NULL);
}

static void log_request(struct soap *soap, int64_t start_us)
{
    pa_ctx *ctx = soap->user;
    const char *code = ctx->result == PA_OK ? "OK" : pa_err_code(ctx->result);

    if (ctx->operation == NULL && ctx->result == PA_OK)
        return;                     /* GET requests */
    if (!((pa_netstate *)ctx->net)->guard.started)
        return;                     /* the client closed an idle connection */
    pa_log_request(ctx->operation ? ctx->operation : "-", code,
                   (long long)(pa_time_mono_us() - start_us), soap->host);
}

/* The request's HTTP headers and SOAP envelope up to the Body are read:
 * right endpoint, allowed caller, then the operation. */
static void dispatch(struct soap *soap)
{
    pa_ctx *ctx = soap->user;

    if (!endpoint_path_ok(soap, ctx->cfg->context_path))
        answer_not_found(soap);
    else if (!pa_auth_allow(soap))
        soap_send_fault(soap);
    else if (soap_serve_request(soap) != SOAP_OK && soap->error < SOAP_STOP)
        soap_send_fault(soap);
}

int pa_serve_one(struct soap *soap)
{
    pa_ctx *ctx = soap->user;
    pa_netstate *ns = ctx->net;
    int64_t start = pa_time_mono_us();

    pa_serve_guard_reset(&ns->guard, ctx->cfg);
    ns->prevalidated = ns->framed != NULL;
    if (ns->prevalidated)       /* its verdict, not its open-element stack */
        memcpy(&ns->guard, ns->framed, offsetof(pa_guard, open));
    ns->framed = NULL;
    /* gSOAP's buffer holds nothing of this request (the stash does) */
    soap->bufidx = soap->buflen = 0;
    ns->truncated = 0;
    ns->keepalive_wanted = 0;
    ns->close_wanted = 0;
    ctx->operation = NULL;
    ctx->result = PA_OK;
    ctx->client_error = 0;
    ctx->client_msg = NULL;
    soap->recv_timeout = -(int)(ctx->cfg->recv_timeout_ms * 1000);
    soap->send_timeout = -(int)(ctx->cfg->send_timeout_ms * 1000);
    soap->keep_alive = ctx->cfg->keepalive_timeout_ms > 0 ? 1 : 0;
    /* A whole request gets three receive timeouts to arrive. */
    ns->deadline_us = start + 3 * (int64_t)ctx->cfg->recv_timeout_ms * 1000;

    if (soap_begin_serve(soap) != SOAP_OK) {
        /* gSOAP has answered errors below SOAP_STOP itself (through the
         * fault hooks).  At or above it nothing was sent: a GET served by
         * the GET hook, a client that closed, or a body that is no SOAP. */
        if (soap->error == SOAP_POST || soap->error == SOAP_POST_FILE)
            answer_not_soap(soap);
        else if (soap->error == SOAP_EOF && ns->guard.started && !ns->truncated
                 && ctx->client_msg == NULL)
            soap->keep_alive = 0;   /* peer went away mid-request */

    } else {
        ns->keepalive_wanted = soap->keep_alive > 0;
        dispatch(soap);
    }
    /* gSOAP sends no fault when its input ended in its end-of-input state:
     * a chunked body whose XML ends early (gSOAP reads the last chunk
     * itself and never asks for more, so the truncation check in
     * guarded_recv does not run), or a refusal.  The whole request was
     * here, or refused for a reason: nothing was written - say why. */
    if (ns->out != NULL && ns->out->len == 0 && soap->error == SOAP_EOF
        && pa_guard_complete(&ns->guard) && ctx->client_msg == NULL)
        ctx->client_msg = "The request body is not a complete XML document";
    if (ns->out != NULL && ns->out->len == 0 && ctx->client_msg != NULL)
        answer_not_soap(soap);
    log_request(soap, start);
    soap_destroy(soap);
    soap_end(soap);
    /* SOAP_STOP: a GET/HEAD hook sent a complete answer itself.
     * SOAP_FAULT with keep-alive: see pa_serve_fault_keepalive.  The
     * caller closes the descriptor (keep_socket). */
    if (ns->close_wanted || !soap_valid_socket(soap->socket)
        || soap->keep_alive <= 0
        || (soap->error != SOAP_OK && soap->error != SOAP_STOP
            && soap->error != SOAP_FAULT)) {
        soap->keep_alive = 0;
        soap->socket = SOAP_INVALID_SOCKET;
        return 0;
    }
    return 1;
}
