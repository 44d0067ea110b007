/*
 * server.h - the listener and the worker pool.
 *
 * A fixed pool of worker threads shares one epoll readiness set that holds
 * the listening socket and every idle keep-alive connection.  A worker
 * takes one ready connection, serves exactly one request on it
 * (pa_serve_one, plus any request the client already pipelined behind it)
 * and hands the connection back to the set, so no connection ever waits
 * behind another client's keep-alive session.  Idle connections are closed
 * after keepalive_timeout_ms; the number of open connections is bounded
 * (PA_SERVER_MAX_CONNS; beyond it a new connection is accepted and closed
 * at once).
 */
#ifndef PA_NET_SERVER_H
#define PA_NET_SERVER_H

#include "soap/pasoap.h"
#include "util/config.h"
#include "util/err.h"

/* Open client connections at most. */
#define PA_SERVER_MAX_CONNS 4096

typedef struct pa_server pa_server;

/* Handler set a server serves (paserver's, or the benchmark floor's). */
typedef struct pa_server_hooks {
    /* per worker: open its resources into ctx (store connection ...);
     * NULL = none */
    pa_err (*worker_open)(pa_ctx *ctx);
    void (*worker_close)(pa_ctx *ctx);
    /* answers every request that is not a POST: gSOAP's GET, HEAD, PUT,
     * PATCH, DELETE and OPTIONS hooks all point here (soap->status tells
     * which: SOAP_GET, SOAP_HEAD, ...).  NULL = 405 for all of them. */
    int (*http_get)(struct soap *soap);
} pa_server_hooks;

/* Binds the configured address (cfg->listen) and prepares the pool of
 * cfg->workers threads; fails with a message in errbuf.  cfg must outlive
 * the server. */
pa_err pa_server_create(const pa_config *cfg, const pa_server_hooks *hooks,
                        pa_server **out, char *errbuf, size_t errlen);

/* The bound port (useful when the configuration asked for port 0). */
int pa_server_port(const pa_server *srv);

/* Serves until pa_server_stop(): then stops accepting, lets the requests
 * in progress finish, closes every connection and returns.  Fails when a
 * worker cannot open its resources (hooks.worker_open). */
pa_err pa_server_run(pa_server *srv);

/* Async-signal-safe: asks pa_server_run to stop and return. */
void pa_server_stop(pa_server *srv);

void pa_server_free(pa_server *srv);

#endif
