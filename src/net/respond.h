/*
 * respond.h - plain HTTP answers (not SOAP) on a gSOAP connection, and the
 * Keep-Alive header every answer carries.
 *
 * The GET routes (src/service/http.c) and the pool's fallback for methods
 * nobody handles answer with a status, a content type and a body.  gSOAP's
 * own writer cannot send a HEAD answer (Content-Length of the body, no
 * body), so these answers are written here in one piece; they use the same
 * connection rules as gSOAP's SOAP answers (keep-alive unless the request
 * or the server says otherwise).
 */
#ifndef PA_NET_RESPOND_H
#define PA_NET_RESPOND_H

#include <stddef.h>

struct soap;

/* Sends one complete HTTP answer for the request gSOAP has just parsed.
 * For a HEAD request only the headers go out (Content-Length still names
 * the body's size).  extra_headers: NULL or "Name: value\r\n" lines.
 * Returns SOAP_OK, or SOAP_EOF when the peer could not be written to (the
 * connection is then closed by gSOAP). */
int pa_respond(struct soap *soap, int status, const char *content_type,
               const char *body, size_t len, const char *extra_headers);

/* Answers 405 with an Allow header and closes the connection afterwards
 * when the request may still have an unread body (PUT, PATCH).  Suitable
 * as gSOAP's fget/fhead/fput/fpatch/fdel/fopt hook for a server that has
 * no plain HTTP routes. */
int pa_respond_405(struct soap *soap);

/* Makes gSOAP's SOAP answers on this context advertise the configured
 * keep-alive time ("Keep-Alive: timeout=N") instead of gSOAP's own value,
 * which names a request count of 1 (clients such as Java's HttpURLConnection
 * then close after one request) and a negative timeout.  soap->user must be
 * a pa_ctx with its cfg. */
void pa_respond_install(struct soap *soap);

/* While draining (the server is stopping), every answer says
 * "Connection: close" and its connection is closed after it.
 * Async-signal-safe. */
void pa_respond_drain(int on);

/* The seconds a client may keep an idle connection (a little under the
 * server's own idle limit, so the client gives up first); 0 = no keep-alive. */
int pa_respond_keepalive_seconds(int keepalive_timeout_ms);

#endif
