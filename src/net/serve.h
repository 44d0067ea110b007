/*
 * serve.h - serving one HTTP request on a connection with gSOAP.
 *
 * The worker pool (server.c) hands a ready connection to pa_serve_one(),
 * which reads exactly one request, answers it and reports whether the
 * connection can go back to the idle set.
 */
#ifndef PA_NET_SERVE_H
#define PA_NET_SERVE_H

#include "net/guard.h"
#include "soap/pasoap.h"

/* Why the event loop handed a request over (see pa_serve_source). */
typedef enum pa_src_reason {
    PA_SRC_COMPLETE = 0,        /* the whole request is in the buffer */
    PA_SRC_REFUSED,             /* the framing check failed or a limit was
                                 * crossed: the bytes up to there */
    PA_SRC_EOF,                 /* the client closed in the middle */
    PA_SRC_DEADLINE             /* the request did not arrive in time */
} pa_src_reason;

/* An answer as gSOAP writes it, sent later by the event loop. */
typedef struct pa_outbuf {
    char *p;
    size_t len, cap;
} pa_outbuf;

/* Net-layer state of one worker's gSOAP context (pa_ctx.net). */
typedef struct pa_netstate {
    pa_guard guard;
    size_t (*raw_recv)(struct soap *, char *, size_t);
    /* the request's bytes, read by the event loop (pa_serve_source) */
    const char *src;
    size_t src_len, src_pos;
    pa_src_reason src_reason;
    pa_outbuf *out;
    /* the event loop's guard over exactly these bytes, when it found the
     * request complete and clean: the worker's guard takes its verdict
     * instead of scanning every byte again */
    const pa_guard *framed;
    int prevalidated;
    int truncated;              /* body complete, document not */
    int keepalive_wanted;       /* the request allows keep-alive (HTTP/1.1 ...) */
    int close_wanted;           /* gSOAP asked to close after this answer */
    int64_t deadline_us;        /* monotonic time by which it must be read */
    /* Bytes read past the end of the current request (a pipelined next
     * request): gSOAP is never given them with the current request (it
     * would drop them: it reuses its buffer for the answer, and discards
     * what follows a chunked body), they are its input for the next one,
     * and pass the guard then. */
    char stash[SOAP_BUFLEN];
    size_t stash_len, stash_pos;
} pa_netstate;

/* Starts g on a new request under the configured limits (depth,
 * attributes, namespaces, header bytes): the event loop's framing and a
 * worker's check use the same ones. */
void pa_serve_guard_reset(pa_guard *g, const struct pa_config *cfg);

/* The event loop's verdict on the bytes g has framed so far (r: what
 * pa_guard_take said): PA_SRC_REFUSED (the guard failed, or the body is
 * over max_body_bytes), PA_SRC_COMPLETE, or -1 while it is still
 * arriving. */
int pa_serve_verdict(const pa_guard *g, pa_guard_result r, int64_t max_body_bytes);

/* Installs the guarded receive on a context set up by pa_soap_setup().
 * Until pa_serve_source is called the context reads and writes its socket
 * as gSOAP does; after, it reads the given bytes and writes into the given
 * buffer, and never touches a socket. */
void pa_serve_init(struct soap *soap, pa_netstate *ns);

/* The next request comes from buf (len bytes, read in full by the event
 * loop, `reason` telling why they end there) and its answer goes to out
 * (appended; the caller frees out->p).  framed: the loop's guard after
 * those bytes when reason is PA_SRC_COMPLETE (NULL: scan them again). */
void pa_serve_source(struct soap *soap, const char *buf, size_t len,
                     pa_src_reason reason, const pa_guard *framed, pa_outbuf *out);

/* Serves one request on soap->socket (blocking, with the configured
 * timeouts).  Returns 1 when the connection stays open for another request
 * (keep-alive), 0 when the caller must close it.  gSOAP never closes the
 * descriptor itself (nor writes anywhere but to it). */
int pa_serve_one(struct soap *soap);

/* 1 when the connection may stay open after a fault: the request asked
 * for keep-alive, was read to its end and was not itself refused (a
 * Server fault from an operation).  gSOAP closes after every fault. */
int pa_serve_fault_keepalive(const struct soap *soap);

/* 1 when the last request was refused before its end arrived (the client
 * may still be sending it). */
int pa_serve_unread(const struct soap *soap);

/* 1 when bytes of a pipelined next request were already read. */
int pa_serve_pending(const struct soap *soap);

/* Forgets bytes buffered for a previous connection; call before serving a
 * connection the context has not served before. */
void pa_serve_attach(struct soap *soap);

#endif
