/*
 * server.h - the event loops and the worker pool.
 *
 * Event loops (two per core) own the client sockets, each its share (loop 0
 * accepts and passes each new connection to the loop with the fewest): each
 * reads requests into per-connection buffers, frames them with the guard,
 * and sends the answers, all non-blocking.  A small request for a cheap
 * read (hooks.inline_ops) is answered on the loop itself; workers get the
 * other complete requests (and those that must be answered now: refused,
 * cut off, late) and answer them in memory, so no worker ever waits for a
 * client's bytes or for a slow reader.  Connections are bounded (max_connections, and
 * max_connections_per_peer from one address; the longest-idle keep-alive
 * connection makes room when full), requests must arrive within three
 * receive timeouts, idle connections close after keepalive_timeout_ms.
 * With tls_cert_file set the listener speaks TLS (1.2+; mutual with
 * tls_client_ca_file), handshakes included in the loop.
 */
#ifndef PA_NET_SERVER_H
#define PA_NET_SERVER_H

#include "soap/pasoap.h"
#include "util/config.h"
#include "util/err.h"

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
    /* request elements (local names, NULL-terminated; NULL = none) of
     * operations cheap enough for an event loop to answer itself instead
     * of handing them to a worker: bounded work, no commit to wait for.
     * A small request for one of them (or a GET) is answered on the loop
     * thread that read it, saving two thread hand-offs. */
    const char *const *inline_ops;
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

/* Async-signal-safe: asks the loop to load the TLS certificate, key and
 * client CAs again (SIGHUP); new connections use them, a failure keeps the
 * old ones and is logged. */
void pa_server_reload(pa_server *srv);

/* Async-signal-safe: asks pa_server_run to stop and return. */
void pa_server_stop(pa_server *srv);

void pa_server_free(pa_server *srv);

#endif
