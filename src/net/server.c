/*
 * server.c - the event loops and the worker pool, see server.h.
 *
 * Two event loops per core, each a thread that owns a share of the client
 * sockets.  Loop 0 accepts and passes each new connection to the loop
 * with the fewest.  A loop reads whatever its clients send into each
 * connection's buffer (sockets are non-blocking, registered edge-triggered
 * once), and runs the guard over the bytes to find where a request ends.
 * Only a request that is complete - or that must be answered now: refused
 * by the guard or a limit, cut off by the client, or late - is served.  A
 * small request for a cheap read (hooks.inline_ops: nothing to wait for)
 * the loop answers itself, with a gSOAP context of its own; any other goes
 * to the workers through a queue.  Either runs gSOAP on those bytes in
 * memory (serve.c), writes the answer into the connection's output buffer
 * and sends what the socket takes; the loop sends the rest.  So no worker
 * ever waits for a client: a client trickling one byte a second, or never
 * reading its answer, costs a buffer, not a thread.  And a cheap request
 * costs no thread hand-off: on two cores, the futex and eventfd round trip
 * to a worker and back cost a third of GetSystemStatus's throughput.
 *
 * Connection states:
 *   READ     the loop reads; no request yet, or one still arriving
 *   SERVING  queued, in a worker, or answered by the loop and waiting
 *            for its next turn; the loop does not touch its buffers
 *   WRITE    the loop sends the answer
 *   LINGER   answer sent, our side shut: the loop drains what the client
 *            still sends for a moment, so closing does not reset the
 *            connection before the client read its answer
 * A pipelined next request waits in the buffer until its turn: each
 * connection has at most one request being served, a request that was
 * already waiting goes to the back of the worker queue, and one the loop
 * answers itself waits for the loop's next turn (fairness).
 *
 * Limits: max_connections open at once and max_connections_per_peer from
 * one address, each loop holding its share of both; when a loop's table
 * is full its oldest idle keep-alive connection is closed to make room,
 * so a flood of idle connections cannot lock new clients out.  Every request must arrive within three
 * receive timeouts of its first byte, an answer must be taken within the
 * send timeout, an idle connection is closed after keepalive_timeout_ms.
 */
#define _GNU_SOURCE 1           /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "net/guard.h"
#include "net/respond.h"
#include "net/serve.h"
#include "net/server.h"
#include "util/blocking.h"
#include "util/log.h"
#include "util/timeutil.h"

/* Event data of the loop's own entries: indexes no connection has. */
#define EV_LISTEN 0xFFFFFFFFu
#define EV_WAKE   0xFFFFFFFEu
#define EV_DONE   0xFFFFFFFDu

/* How often the loop looks at deadlines, ms. */
#define TICK_MS 50
/* Bytes read per read(2); the buffer grows by doubling from this. */
#define READ_CHUNK 16384
/* Lingering close: at most this long and this much. */
#define LINGER_MS 200
#define LINGER_BYTES (512 * 1024)
/* Connections accepted per listener readiness. */
#define ACCEPT_BATCH 64

typedef enum { C_FREE = 0, C_READ, C_SERVING, C_WRITE, C_LINGER } cstate;

typedef struct conn {
    int fd;
    uint32_t gen;
    cstate st;
    int readable;               /* edge seen, not read to EAGAIN since */
    int peer_eof;               /* the client shut its side */
    int hup;                    /* epoll said so: read on to the end */
    SSL *ssl;                   /* TLS: NULL on a plain listener */
    int handshaken;             /* the TLS handshake is done */
    int want_write;             /* TLS needs the socket writable to go on */
    /* input: bytes read and not yet handed over, from `in + in_off` */
    char *in;
    size_t in_off, in_len, in_cap;
    pa_guard *g;                /* framing of the request being read */
    size_t framed;              /* bytes of it the guard has seen */
    int64_t req_start_ms;       /* its first byte (0: none yet) */
    int64_t idle_since_ms;      /* READ without a request since */
    /* handed to a worker */
    int turn;                   /* requests served in this connection's
                                 * current turn (pipelining fairness) */
    size_t req_len;
    pa_src_reason reason;
    int close_after;
    /* output */
    pa_outbuf out;
    size_t out_pos;
    int64_t deadline_ms;        /* WRITE: send timeout; LINGER: its end */
    size_t lingered;
    /* the peer */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char host[64];
    int port;
    struct loop *lp;            /* the loop that owns it */
    struct conn *next;          /* queue link */
} conn;

typedef struct worker {
    struct pa_server *srv;
    pthread_cond_t cv;          /* woken for work (under the queue lock) */
    int woken;
    pthread_t thread;
    int started;
    struct soap *soap;
    int dummy[2];               /* gSOAP's "socket": never the client's */
    pa_ctx ctx;
    pa_netstate ns;
} worker;

typedef struct queue {
    conn *head, *tail;
} queue;

/* New connections accepted by loop 0 for another loop. */
typedef struct incoming {
    int fd;
    socklen_t len;
    struct sockaddr_storage sa;
    struct incoming *next;
} incoming;

/* One event loop: its thread owns its connections, its epoll set and its
 * slice of the connection table.  Loop 0 also accepts, for all. */
typedef struct loop {
    struct pa_server *srv;
    const pa_config *cfg;
    int idx;
    pthread_t thread;
    int started;
    int epfd, wake_fd, done_fd;
    conn *conns;
    uint32_t cap, *free_slots, nfree;
    atomic_uint used;           /* read by loop 0 to pick the least busy */
    int max_per_peer;           /* this loop's share of the per-peer limit */
    /* loop 0 -> this loop: connections to take on */
    pthread_mutex_t inlock;
    incoming *inbox;
    /* workers -> this loop */
    pthread_mutex_t dlock;
    queue done;
    /* answered on this thread; their next request waits for the next turn */
    queue ready;
    /* TLS: the context new connections get (NULL: plain HTTP) */
    SSL_CTX *tls;
    atomic_int reload;
    /* this thread's own gSOAP context for the requests it serves itself */
    worker self;
    int self_ok;
} loop;

struct pa_server {
    const pa_config *cfg;
    pa_server_hooks hooks;
    int listen_fd, port, spare_fd;
    atomic_int stop;
    int idle_ms;
    loop *loops;
    int nloops;
    /* requests served on the loop thread (cheap, bounded, no writes to
     * wait for): local-name hashes of their request elements */
    uint32_t *inline_ops;
    int ninline;
    /* loop -> workers */
    pthread_mutex_t qlock;
    queue work;
    int workers_exit;
    /* idle workers, the most recently idle on top: work wakes that one,
     * so under light load a few workers with warm caches do everything */
    struct worker **idle;
    int nidle;
    /* at most max_running workers run request code at once (2 per core),
     * so cheap requests do not pay for dozens of runnable threads; a
     * worker waiting for a commit does not count (under qlock) */
    int running, max_running;
    int nworkers;
    worker *workers;
    pa_err worker_error;
};

/* --- small helpers ------------------------------------------------------------ */

static uint64_t key_of(uint32_t idx, uint32_t gen)
{
    return (uint64_t)gen << 32 | idx;
}

static void q_push(queue *q, conn *c)
{
    c->next = NULL;
    if (q->tail)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
}

static void q_push_front(queue *q, conn *c)
{
    c->next = q->head;
    q->head = c;
    if (!q->tail)
        q->tail = c;
}

static conn *q_pop(queue *q)
{
    conn *c = q->head;

    if (c) {
        q->head = c->next;
        if (!q->head)
            q->tail = NULL;
        c->next = NULL;
    }
    return c;
}

static int64_t now_ms(void)
{
    return pa_time_mono_us() / 1000;
}

static int epoll_add(int epfd, int fd, uint32_t events, uint64_t data)
{
    struct epoll_event ev = {.events = events, .data.u64 = data};

    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* --- set-up --------------------------------------------------------------------- */

static int listen_socket(const char *host, int port, char *errbuf, size_t errlen)
{
    struct addrinfo hints = {0}, *res = NULL, *ai;
    char service[16];
    int fd = -1, r, one = 1;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(service, sizeof service, "%d", port);
    r = getaddrinfo(host[0] ? host : NULL, service, &hints, &res);
    if (r != 0) {
        snprintf(errbuf, errlen, "listen: cannot resolve '%s': %s", host, gai_strerror(r));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0)
            continue;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0)
            break;
        r = errno;
        close(fd);
        fd = -1;
        errno = r;
    }
    if (fd < 0)
        snprintf(errbuf, errlen, "listen: cannot bind %s:%d: %s", host, port, strerror(errno));
    freeaddrinfo(res);
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;

    if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        return 0;
    return ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                          : ((struct sockaddr_in *)&sa)->sin_port);
}

/* Enough file descriptors for every connection; best effort. */
static void raise_fd_limit(uint32_t conns)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)conns + 256;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
}

/* --- TLS --------------------------------------------------------------------------- */

static int key_password(char *buf, int size, int rwflag, void *userdata)
{
    const char *pw = userdata;
    size_t n = pw ? strlen(pw) : 0;

    (void)rwflag;
    if (n == 0 || n >= (size_t)size)
        return 0;
    memcpy(buf, pw, n);
    return (int)n;
}

/* OpenSSL's reason for the last failure, for a log line. */
static const char *tls_error(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();

    ERR_error_string_n(e, buf, len);
    ERR_clear_error();
    return e ? buf : "unknown error";
}

/* A server context from the configured files; NULL with a message. */
static SSL_CTX *tls_context(const pa_config *cfg, char *errbuf, size_t errlen)
{
    char why[256];
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL) {
        snprintf(errbuf, errlen, "TLS: %s", tls_error(why, sizeof why));
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* TLS 1.2: forward-secret AEAD only (1.3's suites are all of that kind) */
    SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL");
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE
                                 | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                              | SSL_MODE_ENABLE_PARTIAL_WRITE);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_default_passwd_cb(ctx, key_password);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, cfg->tls_key_password);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert_file) != 1) {
        snprintf(errbuf, errlen, "TLS: cannot use the certificate %s: %s",
                 cfg->tls_cert_file, tls_error(why, sizeof why));
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key_file, SSL_FILETYPE_PEM) != 1
        || SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(errbuf, errlen, "TLS: cannot use the private key %s (wrong file, "
                 "or PASERVER_TLS_KEY_PASSWORD): %s", cfg->tls_key_file,
                 tls_error(why, sizeof why));
        goto fail;
    }
    if (cfg->tls_client_ca_file[0] != '\0') {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->tls_client_ca_file);

        if (names == NULL
            || SSL_CTX_load_verify_locations(ctx, cfg->tls_client_ca_file, NULL) != 1) {
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            snprintf(errbuf, errlen, "TLS: cannot use the client CAs %s: %s",
                     cfg->tls_client_ca_file, tls_error(why, sizeof why));
            goto fail;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    /* the passphrase is not needed after loading */
    SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
    return ctx;
fail:
    SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
    SSL_CTX_free(ctx);
    return NULL;
}

/* In a loop: its new connections get a context made from the files as
 * they are now; a failure keeps the old one. */
static void tls_reload(loop *lp)
{
    char err[512];
    SSL_CTX *ctx;

    if (lp->tls == NULL)
        return;
    if ((ctx = tls_context(lp->cfg, err, sizeof err)) == NULL) {
        pa_log(PA_LOG_ERROR, "%s; event loop %d keeps the certificate in use",
               err, lp->idx);
        return;
    }
    SSL_CTX_free(lp->tls);      /* connections hold their own reference */
    lp->tls = ctx;
    if (lp->idx == 0)
        pa_log(PA_LOG_INFO, "TLS certificate and key reloaded");
}

void pa_server_reload(pa_server *srv)
{
    uint64_t one = 1;

    for (int i = 0; i < srv->nloops; i++) {
        atomic_store(&srv->loops[i].reload, 1);
        (void)!write(srv->loops[i].wake_fd, &one, sizeof one);
    }
}

static void loop_free(loop *lp)
{
    for (uint32_t i = 0; lp->conns && i < lp->cap; i++) {
        conn *c = &lp->conns[i];

        if (c->st != C_FREE)
            close(c->fd);
        SSL_free(c->ssl);
        free(c->in);
        free(c->g);
        free(c->out.p);
    }
    while (lp->inbox) {
        incoming *in = lp->inbox;

        lp->inbox = in->next;
        close(in->fd);
        free(in);
    }
    free(lp->conns);
    free(lp->free_slots);
    SSL_CTX_free(lp->tls);
    close_fd(&lp->epfd);
    close_fd(&lp->wake_fd);
    close_fd(&lp->done_fd);
    pthread_mutex_destroy(&lp->inlock);
    pthread_mutex_destroy(&lp->dlock);
}

void pa_server_free(pa_server *srv)
{
    if (srv == NULL)
        return;
    for (int i = 0; srv->loops && i < srv->nloops; i++)
        loop_free(&srv->loops[i]);
    free(srv->loops);
    free(srv->inline_ops);
    close_fd(&srv->listen_fd);
    close_fd(&srv->spare_fd);
    pthread_mutex_destroy(&srv->qlock);
    free(srv);
}

/* Loop i's share of a limit spread over n loops (at least 1). */
static uint32_t share(uint32_t total, int n, int i)
{
    uint32_t part = total / (uint32_t)n + ((uint32_t)i < total % (uint32_t)n);

    return part > 0 ? part : 1;
}

static pa_err loop_init(pa_server *srv, loop *lp, int idx, SSL_CTX *tls,
                        char *errbuf, size_t errlen)
{
    const pa_config *cfg = srv->cfg;

    lp->srv = srv;
    lp->cfg = cfg;
    lp->idx = idx;
    atomic_init(&lp->used, 0);
    atomic_init(&lp->reload, 0);
    lp->cap = share((uint32_t)cfg->max_connections, srv->nloops, idx);
    lp->max_per_peer = (int)share((uint32_t)cfg->max_connections_per_peer, srv->nloops, idx);
    lp->conns = calloc(lp->cap, sizeof *lp->conns);
    lp->free_slots = calloc(lp->cap, sizeof *lp->free_slots);
    if (!lp->conns || !lp->free_slots) {
        snprintf(errbuf, errlen, "server: out of memory");
        return PA_ERR_UNKNOWN_ERROR;
    }
    for (uint32_t i = 0; i < lp->cap; i++)
        lp->free_slots[lp->nfree++] = lp->cap - 1 - i;
    if (tls != NULL) {
        SSL_CTX_up_ref(tls);
        lp->tls = tls;
    }
    lp->epfd = epoll_create1(EPOLL_CLOEXEC);
    lp->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    lp->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (lp->epfd < 0 || lp->wake_fd < 0 || lp->done_fd < 0
        || (idx == 0 && epoll_add(lp->epfd, srv->listen_fd, EPOLLIN, key_of(EV_LISTEN, 0)) != 0)
        || epoll_add(lp->epfd, lp->wake_fd, EPOLLIN, key_of(EV_WAKE, 0)) != 0
        || epoll_add(lp->epfd, lp->done_fd, EPOLLIN, key_of(EV_DONE, 0)) != 0) {
        snprintf(errbuf, errlen, "server: cannot set up epoll: %s", strerror(errno));
        return PA_ERR_UNKNOWN_ERROR;
    }
    return PA_OK;
}

pa_err pa_server_create(const pa_config *cfg, const pa_server_hooks *hooks,
                        pa_server **out, char *errbuf, size_t errlen)
{
    char host[PA_CONFIG_HOST_BUF];
    int port = 0;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    SSL_CTX *tls = NULL;
    pa_server *srv;
    pa_err e = PA_OK;

    *out = NULL;
    if (cpus < 1)
        cpus = 1;
    if (pa_config_listen_split(cfg->listen, host, sizeof host, &port) != PA_OK) {
        snprintf(errbuf, errlen, "listen: bad address '%s'", cfg->listen);
        return PA_ERR_INVALID_REQUEST;
    }
    if ((srv = calloc(1, sizeof *srv)) == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    srv->cfg = cfg;
    srv->hooks = *hooks;
    srv->listen_fd = srv->spare_fd = -1;
    pthread_mutex_init(&srv->qlock, NULL);
    srv->max_running = 2 * (int)cpus;
    atomic_init(&srv->stop, 0);
    pa_respond_drain(0);
    srv->idle_ms = cfg->keepalive_timeout_ms > 0 ? cfg->keepalive_timeout_ms
                                                 : cfg->recv_timeout_ms;
    /* Two loops per core (as many threads as bare gSOAP's usual two
     * workers per core), never more loops than connection slots.  With
     * one loop per core the loops shared the cores half and half with the
     * clients on the same machine and idled while woken clients ran: the
     * bench floor made 42-43k GetSystemStatus/s with 2 loops, 46-49k with
     * 4, bare gSOAP 49k (2 cores, wrk -c32). */
    srv->nloops = 2 * (int)cpus;
    if (srv->nloops > cfg->max_connections)
        srv->nloops = cfg->max_connections > 0 ? cfg->max_connections : 1;
    raise_fd_limit((uint32_t)cfg->max_connections);
    for (const char *const *op = hooks->inline_ops; op && *op; op++)
        srv->ninline++;
    srv->loops = calloc((size_t)srv->nloops, sizeof *srv->loops);
    srv->inline_ops = calloc((size_t)srv->ninline + 1, sizeof *srv->inline_ops);
    if (!srv->loops || !srv->inline_ops) {
        snprintf(errbuf, errlen, "server: out of memory");
        free(srv->loops);
        srv->loops = NULL;
        srv->nloops = 0;
        pa_server_free(srv);
        return PA_ERR_UNKNOWN_ERROR;
    }
    for (int i = 0; i < srv->nloops; i++) {
        loop *lp = &srv->loops[i];

        lp->epfd = lp->wake_fd = lp->done_fd = -1;
        pthread_mutex_init(&lp->inlock, NULL);
        pthread_mutex_init(&lp->dlock, NULL);
    }
    for (int i = 0; i < srv->ninline; i++)
        srv->inline_ops[i] = pa_guard_name_hash(hooks->inline_ops[i]);
    srv->listen_fd = listen_socket(host, port, errbuf, errlen);
    if (srv->listen_fd < 0) {
        pa_server_free(srv);
        return PA_ERR_INVALID_REQUEST;
    }
    srv->port = bound_port(srv->listen_fd);
    if (cfg->tls_cert_file[0] != '\0'
        && (tls = tls_context(cfg, errbuf, errlen)) == NULL) {
        pa_server_free(srv);
        return PA_ERR_INVALID_REQUEST;
    }
    srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    for (int i = 0; i < srv->nloops && e == PA_OK; i++)
        e = loop_init(srv, &srv->loops[i], i, tls, errbuf, errlen);
    SSL_CTX_free(tls);          /* the loops hold their references */
    if (e != PA_OK) {
        pa_server_free(srv);
        return e;
    }
    *out = srv;
    return PA_OK;
}

int pa_server_port(const pa_server *srv)
{
    return srv->port;
}

/* --- connections ------------------------------------------------------------------ */

static void conn_close(loop *lp, conn *c)
{
    close(c->fd);               /* also leaves the epoll set */
    SSL_free(c->ssl);
    c->ssl = NULL;
    c->handshaken = c->want_write = 0;
    free(c->in);
    free(c->g);
    free(c->out.p);
    memset(&c->in, 0, sizeof *c - offsetof(conn, in));
    c->readable = c->peer_eof = c->hup = 0;
    c->fd = -1;
    c->st = C_FREE;
    c->gen++;
    lp->free_slots[lp->nfree++] = (uint32_t)(c - lp->conns);
    lp->used--;
}

static int same_peer(const struct sockaddr_storage *a, const struct sockaddr_storage *b);

/* The oldest connection idle between requests (of peer sa, when given),
 * or NULL. */
static conn *oldest_idle(loop *lp, const struct sockaddr_storage *sa)
{
    conn *best = NULL;

    for (uint32_t i = 0; i < lp->cap; i++) {
        conn *c = &lp->conns[i];

        if (c->st == C_READ && c->req_start_ms == 0 && c->in_len == c->in_off
            && (!sa || same_peer(&c->addr, sa))
            && (!best || c->idle_since_ms < best->idle_since_ms))
            best = c;
    }
    return best;
}

static int same_peer(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr
               == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    if (a->ss_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
    return 1;
}

static int peer_count(loop *lp, const struct sockaddr_storage *sa)
{
    int n = 0;

    for (uint32_t i = 0; i < lp->cap; i++)
        if (lp->conns[i].st != C_FREE && same_peer(&lp->conns[i].addr, sa))
            n++;
    return n;
}

/* Out of file descriptors: take the pending connection with the spare
 * descriptor and close it, so the listener does not stay ready forever. */
static void shed_one(loop *lp)
{
    int fd;

    if (lp->srv->spare_fd < 0)
        return;
    close(lp->srv->spare_fd);
    fd = accept(lp->srv->listen_fd, NULL, NULL);
    if (fd >= 0)
        close(fd);
    lp->srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void conn_open(loop *lp, int fd, const struct sockaddr_storage *sa,
                      socklen_t len)
{
    char port[16];
    int one = 1;
    conn *c;

    /* Full (for this peer, or at all): the oldest idle keep-alive
     * connection makes room, so idle connections never lock clients out;
     * when every one is busy with a request, the new one is refused. */
    if (peer_count(lp, sa) >= lp->max_per_peer) {
        conn *idle = oldest_idle(lp, sa);

        if (idle == NULL) {
            close(fd);
            return;
        }
        conn_close(lp, idle);
    }
    if (lp->nfree == 0) {
        conn *idle = oldest_idle(lp, NULL);

        if (idle == NULL) {
            close(fd);
            return;
        }
        conn_close(lp, idle);
    }
    c = &lp->conns[lp->free_slots[--lp->nfree]];
    lp->used++;
    c->fd = fd;
    c->lp = lp;
    c->st = C_READ;
    c->idle_since_ms = now_ms();
    memcpy(&c->addr, sa, len);
    c->addrlen = len;
    if (getnameinfo((const struct sockaddr *)sa, len, c->host, sizeof c->host,
                    port, sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) == 0)
        c->port = atoi(port);
    else
        snprintf(c->host, sizeof c->host, "?");
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (lp->tls != NULL) {
        /* the handshake must end within a request's time, like a request */
        if ((c->ssl = SSL_new(lp->tls)) == NULL || SSL_set_fd(c->ssl, fd) != 1) {
            conn_close(lp, c);
            return;
        }
        SSL_set_accept_state(c->ssl);
        c->req_start_ms = c->idle_since_ms;
        c->readable = 1;        /* the ClientHello may be there already */
    }
    if (epoll_add(lp->epfd, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                  key_of((uint32_t)(c - lp->conns), c->gen)) != 0)
        conn_close(lp, c);
}

/* The loop with the fewest connections takes the next one (its count
 * may be a moment old: a heuristic, not a limit). */
static loop *least_busy(pa_server *srv)
{
    loop *best = &srv->loops[0];

    for (int i = 1; i < srv->nloops; i++)
        if (atomic_load(&srv->loops[i].used) < atomic_load(&best->used))
            best = &srv->loops[i];
    return best;
}

/* Loop 0 accepts for every loop and passes each connection on. */
static void pass_on(loop *to, int fd, const struct sockaddr_storage *sa, socklen_t len)
{
    incoming *in;
    uint64_t one = 1;
    int was_empty;

    if (to->idx == 0) {
        conn_open(to, fd, sa, len);
        return;
    }
    if ((in = malloc(sizeof *in)) == NULL) {
        close(fd);
        return;
    }
    in->fd = fd;
    in->len = len;
    memcpy(&in->sa, sa, len);
    pthread_mutex_lock(&to->inlock);
    was_empty = to->inbox == NULL;
    in->next = to->inbox;
    to->inbox = in;
    /* the loop's count goes up now, so the next choice sees it */
    atomic_fetch_add(&to->used, 1);
    pthread_mutex_unlock(&to->inlock);
    if (was_empty)
        (void)!write(to->wake_fd, &one, sizeof one);
}

/* In a loop other than 0: opens what loop 0 passed on. */
static void take_incoming(loop *lp)
{
    incoming *in, *next;

    pthread_mutex_lock(&lp->inlock);
    in = lp->inbox;
    lp->inbox = NULL;
    pthread_mutex_unlock(&lp->inlock);
    for (; in != NULL; in = next) {
        next = in->next;
        atomic_fetch_sub(&lp->used, 1);     /* conn_open counts it */
        if (atomic_load(&lp->srv->stop))
            close(in->fd);
        else
            conn_open(lp, in->fd, &in->sa, in->len);
        free(in);
    }
}

static void accept_batch(loop *lp)
{
    pa_server *srv = lp->srv;

    for (int i = 0; i < ACCEPT_BATCH && !atomic_load(&srv->stop); i++) {
        struct sockaddr_storage sa;
        socklen_t len = sizeof sa;
        int fd = accept4(srv->listen_fd, (struct sockaddr *)&sa, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE) {
                pa_log(PA_LOG_WARN, "out of file descriptors: connection refused");
                shed_one(lp);
                continue;
            }
            break;              /* EAGAIN: nothing more pending */
        }
        pass_on(least_busy(srv), fd, &sa, len);
    }
}

/* --- the loop: socket or TLS I/O ---------------------------------------------------- */

/* Reads into buf: > 0 bytes, 0 end of input, -1 with errno (EAGAIN: wait;
 * c->want_write set when TLS must write before it can read on). */
static ssize_t conn_recv(conn *c, char *buf, size_t len)
{
    int n;

    if (c->ssl == NULL)
        return read(c->fd, buf, len);
    ERR_clear_error();
    n = SSL_read(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    if (n > 0)
        return n;
    switch (SSL_get_error(c->ssl, n)) {
    case SSL_ERROR_WANT_WRITE:
        c->want_write = 1;
        /* fall through */
    case SSL_ERROR_WANT_READ:
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    default:                    /* a failed handshake (no client
                                 * certificate under mTLS ...), a reset */
        ERR_clear_error();
        errno = ECONNRESET;
        return -1;
    }
}

static ssize_t conn_send(conn *c, const char *buf, size_t len)
{
    int n;

    if (c->ssl == NULL)
        return send(c->fd, buf, len, MSG_NOSIGNAL);
    ERR_clear_error();
    n = SSL_write(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    if (n > 0)
        return n;
    switch (SSL_get_error(c->ssl, n)) {
    case SSL_ERROR_WANT_WRITE:
    case SSL_ERROR_WANT_READ:
        errno = EAGAIN;
        return -1;
    default:
        ERR_clear_error();
        errno = EPIPE;
        return -1;
    }
}

/* --- the loop: reading and framing --------------------------------------------------- */

static void wake_one(pa_server *srv);
static void serve(worker *w, conn *c);

/* Largest request a loop serves itself: parsing more would hold the
 * loop's other connections up. */
#define INLINE_MAX_BYTES 16384

/* A complete request the loop may answer itself: an operation on the
 * configured list (cheap reads: nothing to wait for) or a GET, small. */
static int serve_here(loop *lp, conn *c)
{
    pa_server *srv = lp->srv;
    const pa_guard *g = c->g;

    if (!lp->self_ok || c->req_len > INLINE_MAX_BYTES)
        return 0;
    if (g->body_children == 0)
        return c->req_len >= 4 && memcmp(c->in + c->in_off, "GET ", 4) == 0
               && srv->hooks.http_get != NULL;
    if (g->body_children != 1)
        return 0;
    for (int i = 0; i < srv->ninline; i++)
        if (srv->inline_ops[i] == g->operation)
            return 1;
    return 0;
}

static void answered(loop *lp, conn *c);

/* Serves the request framed in c.  A pipelined request goes on at once
 * while its connection has had fewer than max_pipelined_per_turn in a
 * row; otherwise it waits behind the other connections (the back of the
 * worker queue, or the loop's next turn). */
static void hand_over(loop *lp, conn *c, pa_src_reason reason)
{
    pa_server *srv = lp->srv;
    int go_on = c->turn > 0 && c->turn < lp->cfg->max_pipelined_per_turn;

    if (!go_on)
        c->turn = 0;
    c->turn++;
    c->req_len = c->framed;
    c->reason = reason;
    c->st = C_SERVING;
    if (reason == PA_SRC_COMPLETE && serve_here(lp, c)) {
        serve(&lp->self, c);
        if (go_on)
            answered(lp, c);        /* recursion bounded by the limit */
        else
            q_push(&lp->ready, c);
        return;
    }
    pthread_mutex_lock(&srv->qlock);
    if (go_on)
        q_push_front(&srv->work, c);
    else
        q_push(&srv->work, c);
    wake_one(srv);
    pthread_mutex_unlock(&srv->qlock);
}

/* Runs the guard over the bytes not yet framed; hands the request over
 * when it is complete or must be answered now.  Returns 1 when it did. */
static int frame(loop *lp, conn *c)
{
    const pa_config *cfg = lp->cfg;
    size_t avail = c->in_len - c->in_off - c->framed, take;
    pa_guard_result r = PA_GUARD_OK;
    int verdict;

    if (avail == 0)
        return 0;
    if (c->g == NULL) {
        /* open[] is used up to the depth limit only */
        c->g = malloc(offsetof(pa_guard, open)
                      + sizeof(uint32_t) * (size_t)(cfg->max_xml_depth + 1));
        if (c->g == NULL)
            return 0;
        pa_serve_guard_reset(c->g, cfg);
        c->req_start_ms = now_ms();
    }
    take = pa_guard_take(c->g, c->in + c->in_off + c->framed, avail, &r);
    c->framed += take;
    verdict = pa_serve_verdict(c->g, r, cfg->max_body_bytes);
    if (verdict < 0)
        return 0;
    hand_over(lp, c, (pa_src_reason)verdict);
    return 1;
}

/* Makes room for READ_CHUNK more bytes; 0 when the request is already as
 * large as any request may be (the guard refuses it before that). */
static int make_room(loop *lp, conn *c)
{
    size_t limit = (size_t)lp->cfg->max_body_bytes + (size_t)lp->cfg->max_header_bytes
                   + 2 * READ_CHUNK;
    size_t cap;
    char *p;

    if (c->in_off > 0 && c->in_off == c->in_len)
        c->in_off = c->in_len = 0;
    if (c->in_cap - c->in_len >= READ_CHUNK)
        return 1;
    if (c->in_off > 0) {            /* move what is left to the front */
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
        if (c->in_cap - c->in_len >= READ_CHUNK)
            return 1;
    }
    if (c->in_len + READ_CHUNK > limit)
        return 0;
    cap = c->in_cap ? c->in_cap * 2 : READ_CHUNK;
    while (cap < c->in_len + READ_CHUNK)
        cap *= 2;
    if ((p = realloc(c->in, cap)) == NULL)
        return 0;
    c->in = p;
    c->in_cap = cap;
    return 1;
}

/* READ: reads until the socket is empty or a request is handed over. */
static void conn_read(loop *lp, conn *c)
{
    while (c->st == C_READ) {
        ssize_t n;

        if (frame(lp, c))
            return;
        if (!c->readable)
            return;
        if (!make_room(lp, c)) {
            hand_over(lp, c, PA_SRC_REFUSED);
            return;
        }
        n = conn_recv(c, c->in + c->in_len, c->in_cap - c->in_len);
        if (c->ssl && !c->handshaken && SSL_is_init_finished(c->ssl)) {
            /* handshake done: from now on the keep-alive rules apply */
            c->handshaken = 1;
            if (c->framed == 0 && n <= 0)
                c->req_start_ms = 0;
            c->idle_since_ms = now_ms();
        }
        if (n > 0) {
            /* A short read emptied the socket: the next bytes bring a new
             * edge, no need for the read that would say EAGAIN.  (Not so
             * with TLS: one read returns one record.) */
            if ((size_t)n < c->in_cap - c->in_len && !c->hup && c->ssl == NULL)
                c->readable = 0;
            c->in_len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->readable = 0;
            return;
        }
        /* end of input or an error */
        c->readable = 0;
        c->peer_eof = 1;
        if (c->framed > 0 && (c->ssl == NULL || c->handshaken)) {
            hand_over(lp, c, PA_SRC_EOF);   /* the worker decides */
        } else {
            conn_close(lp, c);
        }
        return;
    }
}

/* --- the loop: writing and closing ------------------------------------------------------ */

static void conn_linger(loop *lp, conn *c)
{
    char sink[16384];

    while (c->lingered < LINGER_BYTES) {
        ssize_t n = read(c->fd, sink, sizeof sink);

        if (n > 0) {
            c->lingered += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;             /* wait for more, or for the deadline */
        break;                  /* end of input: the client has it all */
    }
    conn_close(lp, c);
}

static void next_request(loop *lp, conn *c);

static void conn_write(loop *lp, conn *c)
{
    while (c->out_pos < c->out.len) {
        ssize_t n = conn_send(c, c->out.p + c->out_pos, c->out.len - c->out_pos);

        if (n > 0) {
            c->out_pos += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;             /* EPOLLOUT brings us back */
        conn_close(lp, c);     /* the client is gone */
        return;
    }
    c->out.len = c->out_pos = 0;
    if (c->close_after || c->peer_eof || atomic_load(&lp->srv->stop)) {
        if (c->ssl != NULL && c->handshaken)
            (void)SSL_shutdown(c->ssl);     /* close_notify, best effort */
        (void)shutdown(c->fd, SHUT_WR);
        c->st = C_LINGER;
        c->deadline_ms = now_ms() + LINGER_MS;
        c->lingered = 0;
        conn_linger(lp, c);
        return;
    }
    next_request(lp, c);
}

/* After an answer: back to READ, with any pipelined bytes framed now (at
 * the back of the queue when they already make a request). */
static void next_request(loop *lp, conn *c)
{
    c->in_off += c->req_len;
    if (c->in_off == c->in_len) {       /* nothing pipelined: no buffer kept */
        c->turn = 0;
        free(c->in);
        c->in = NULL;
        c->in_off = c->in_len = c->in_cap = 0;
    }
    c->framed = 0;
    c->req_len = 0;
    c->req_start_ms = 0;
    free(c->g);
    c->g = NULL;
    c->st = C_READ;
    c->idle_since_ms = now_ms();
    conn_read(lp, c);
}

/* A request of c was answered: the rest of the answer goes out. */
static void answered(loop *lp, conn *c)
{
    c->st = C_WRITE;            /* the server sent out_pos bytes already */
    c->deadline_ms = now_ms() + lp->cfg->send_timeout_ms;
    conn_write(lp, c);
}

/* A worker finished these connections: send their answers. */
static void take_done(loop *lp)
{
    uint64_t v;
    conn *c;

    (void)!read(lp->done_fd, &v, sizeof v);
    for (;;) {
        pthread_mutex_lock(&lp->dlock);
        c = q_pop(&lp->done);
        pthread_mutex_unlock(&lp->dlock);
        if (c == NULL)
            return;
        answered(lp, c);
    }
}

/* The connections answered on this thread last turn (not those answered
 * while doing so: they wait for the next turn). */
static void take_ready(loop *lp)
{
    queue q = lp->ready;
    conn *c;

    lp->ready.head = lp->ready.tail = NULL;
    while ((c = q_pop(&q)) != NULL)
        answered(lp, c);
}

/* Deadlines, every tick. */
static void tick(loop *lp)
{
    int64_t t = now_ms();
    int64_t req_ms = 3 * (int64_t)lp->cfg->recv_timeout_ms;

    for (uint32_t i = 0; i < lp->cap; i++) {
        conn *c = &lp->conns[i];

        switch (c->st) {
        case C_READ:
            if (c->ssl && !c->handshaken && t - c->req_start_ms > req_ms)
                conn_close(lp, c);     /* a handshake that never ends */
            else if (c->req_start_ms && t - c->req_start_ms > req_ms)
                hand_over(lp, c, PA_SRC_DEADLINE);
            else if (!c->req_start_ms && t - c->idle_since_ms > lp->srv->idle_ms)
                conn_close(lp, c);
            else if (!c->req_start_ms && atomic_load(&lp->srv->stop))
                conn_close(lp, c);
            break;
        case C_WRITE:
        case C_LINGER:
            if (t > c->deadline_ms)
                conn_close(lp, c);
            break;
        default:
            break;
        }
    }
}

static void conn_event(loop *lp, uint64_t key, uint32_t events)
{
    uint32_t idx = (uint32_t)key;
    conn *c;

    if (idx >= lp->cap)
        return;
    c = &lp->conns[idx];
    if (c->st == C_FREE || c->gen != (uint32_t)(key >> 32))
        return;                 /* closed (and maybe reused) since */
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->readable = 1;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->hup = 1;
    if ((events & EPOLLOUT) && c->want_write) {
        c->want_write = 0;      /* TLS could not write; it can now */
        c->readable = 1;
    }
    if (c->st == C_READ)
        conn_read(lp, c);
    else if (c->st == C_WRITE && (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
        conn_write(lp, c);
    else if (c->st == C_LINGER)
        conn_linger(lp, c);
}

/* Connections a worker still has, or answers not yet sent. */
static int busy(loop *lp)
{
    for (uint32_t i = 0; i < lp->cap; i++)
        if (lp->conns[i].st == C_SERVING || lp->conns[i].st == C_WRITE
            || (lp->conns[i].st == C_READ && lp->conns[i].framed))
            return 1;
    return 0;
}

static void *run_loop(void *arg)
{
    loop *lp = arg;
    struct epoll_event ev[64];
    int64_t next_tick = now_ms() + TICK_MS, stop_until = 0;

    for (;;) {
        int64_t t = now_ms();
        int n, wait = next_tick > t ? (int)(next_tick - t) : 0;

        if (atomic_load(&lp->srv->stop)) {
            if (stop_until == 0) {
                /* no new connections; requests in progress may finish */
                if (lp->idx == 0) {
                    (void)epoll_ctl(lp->epfd, EPOLL_CTL_DEL, lp->srv->listen_fd, NULL);
                    close_fd(&lp->srv->listen_fd);
                }
                stop_until = t + 3 * (int64_t)lp->cfg->recv_timeout_ms;
                take_incoming(lp);
                tick(lp);
            }
            if (!busy(lp) || t > stop_until)
                return NULL;
        }
        if (lp->ready.head != NULL)
            wait = 0;
        else
            pa_log_flush();     /* request lines of what this loop served */
        n = epoll_wait(lp->epfd, ev, 64, wait);
        if (n < 0 && errno != EINTR) {
            pa_log(PA_LOG_ERROR, "epoll_wait: %s", strerror(errno));
            return NULL;
        }
        for (int i = 0; i < n; i++) {
            uint32_t idx = (uint32_t)ev[i].data.u64;

            if (idx == EV_WAKE) {
                uint64_t v;

                (void)!read(lp->wake_fd, &v, sizeof v);
                if (atomic_exchange(&lp->reload, 0))
                    tls_reload(lp);
                take_incoming(lp);
            } else if (idx == EV_LISTEN)
                accept_batch(lp);
            else if (idx == EV_DONE)
                take_done(lp);
            else
                conn_event(lp, ev[i].data.u64, ev[i].events);
        }
        take_ready(lp);
        if (now_ms() >= next_tick) {
            tick(lp);
            next_tick = now_ms() + TICK_MS;
        }
    }
}

/* --- workers ------------------------------------------------------------------------ */

static void soap_attach(struct soap *soap, worker *w, conn *c)
{
    /* gSOAP checks, polls and switches the blocking mode of its socket:
     * it gets a socket of its own, never the client's (the loop's). */
    soap->socket = w->dummy[0];
    soap->error = SOAP_OK;
    soap->errnum = 0;
    pa_serve_attach(soap);
    soap->keep_alive = 0;
    memcpy(&soap->peer, &c->addr, c->addrlen);
    soap->peerlen = c->addrlen;
    snprintf(soap->host, sizeof soap->host, "%s", c->host);
    soap->port = c->port;
    soap->ip = c->addr.ss_family == AF_INET
                   ? ntohl(((const struct sockaddr_in *)&c->addr)->sin_addr.s_addr) : 0;
}

/* Answers c's request with w's gSOAP context (a worker's, or a loop's
 * own) and sends what the socket takes. */
static void serve(worker *w, conn *c)
{
    struct soap *soap = w->soap;
    int open;

    soap_attach(soap, w, c);
    w->ctx.secure = c->ssl != NULL;
    pa_serve_source(soap, c->in + c->in_off, c->req_len, c->reason, c->g, &c->out);
    open = pa_serve_one(soap);
    soap->socket = SOAP_INVALID_SOCKET;
    c->close_after = !open || c->reason != PA_SRC_COMPLETE;
    /* The socket is non-blocking and whoever serves owns the connection
     * until it is handed back: send what the socket takes now, so that the
     * loop usually has nothing left to send.  A client that does not read
     * costs no wait here - the loop sends the rest when it can. */
    c->out_pos = 0;
    while (c->out_pos < c->out.len) {
        ssize_t n = conn_send(c, c->out.p + c->out_pos, c->out.len - c->out_pos);

        if (n <= 0)
            break;
        c->out_pos += (size_t)n;
    }
}

/* A worker gives c back to its loop. */
static void give_back(conn *c)
{
    loop *lp = c->lp;
    uint64_t one = 1;
    int was_empty;

    pthread_mutex_lock(&lp->dlock);
    was_empty = lp->done.head == NULL;
    q_push(&lp->done, c);
    pthread_mutex_unlock(&lp->dlock);
    /* the loop empties the whole queue per wake-up */
    if (was_empty)
        (void)!write(lp->done_fd, &one, sizeof one);
}

/* Under qlock: wakes the most recently idle worker when there is work
 * and room to run it. */
static void wake_one(pa_server *srv)
{
    if (srv->nidle > 0 && srv->work.head != NULL && srv->running < srv->max_running) {
        worker *w = srv->idle[--srv->nidle];

        w->woken = 1;
        pthread_cond_signal(&w->cv);
    }
}

/* A worker starts waiting for a commit: another may run meanwhile. */
static void commit_wait_begins(void *arg)
{
    pa_server *srv = arg;

    pthread_mutex_lock(&srv->qlock);
    srv->running--;
    wake_one(srv);
    pthread_mutex_unlock(&srv->qlock);
}

/* ... and it is back: it runs at once (it holds a request half done),
 * even if that puts one more than max_running at work for a moment. */
static void commit_wait_ends(void *arg)
{
    pa_server *srv = arg;

    pthread_mutex_lock(&srv->qlock);
    srv->running++;
    pthread_mutex_unlock(&srv->qlock);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    pa_server *srv = w->srv;

    /* a commit wait lets another worker run meanwhile */
    pa_blocking_set(commit_wait_begins, commit_wait_ends, srv);
    for (;;) {
        conn *c = NULL;

        pthread_mutex_lock(&srv->qlock);
        while (!srv->workers_exit
               && (srv->running >= srv->max_running || !(c = q_pop(&srv->work)))) {
            /* out of work (or of room): the request lines kept so far go
             * out now */
            pthread_mutex_unlock(&srv->qlock);
            pa_log_flush();
            pthread_mutex_lock(&srv->qlock);
            if (srv->workers_exit
                || (srv->running < srv->max_running && (c = q_pop(&srv->work)) != NULL))
                break;
            w->woken = 0;
            srv->idle[srv->nidle++] = w;
            while (!w->woken && !srv->workers_exit)
                pthread_cond_wait(&w->cv, &srv->qlock);
            if (!w->woken) {    /* leaving: take itself off the stack */
                for (int i = 0; i < srv->nidle; i++)
                    if (srv->idle[i] == w)
                        srv->idle[i] = srv->idle[--srv->nidle];
            }
        }
        if (c != NULL)
            srv->running++;
        pthread_mutex_unlock(&srv->qlock);
        if (c == NULL) {
            pa_log_flush();
            pa_blocking_set(NULL, NULL, NULL);
            return NULL;
        }
        serve(w, c);
        give_back(c);
        pthread_mutex_lock(&srv->qlock);
        srv->running--;
        pthread_mutex_unlock(&srv->qlock);
    }
}

static void install_http_hooks(struct soap *soap, int (*fn)(struct soap *))
{
    if (fn == NULL)
        fn = pa_respond_405;
    soap->fget = fn;
    soap->fhead = fn;
    soap->fput = fn;
    soap->fpatch = fn;
    soap->fdel = fn;
    soap->fopt = fn;
}

static pa_err worker_init(pa_server *srv, worker *w)
{
    w->srv = srv;
    pthread_cond_init(&w->cv, NULL);
    w->dummy[0] = w->dummy[1] = -1;
    w->ctx.cfg = srv->cfg;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, w->dummy) != 0)
        return PA_ERR_UNKNOWN_ERROR;
    w->soap = soap_new();
    if (w->soap == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    pa_soap_setup(w->soap, &w->ctx);
    pa_serve_init(w->soap, &w->ns);
    pa_respond_install(w->soap);
    install_http_hooks(w->soap, srv->hooks.http_get);
    w->soap->socket_flags = MSG_NOSIGNAL;
    /* without this mode gSOAP drops keep-alive at the start of each request
     * (pa_serve_one decides per request from the configuration) */
    soap_set_mode(w->soap, SOAP_IO_KEEPALIVE);
    if (srv->hooks.worker_open != NULL)
        return srv->hooks.worker_open(&w->ctx);
    return PA_OK;
}

static void worker_done(pa_server *srv, worker *w, int opened)
{
    if (w->soap != NULL) {
        if (opened && srv->hooks.worker_close != NULL)
            srv->hooks.worker_close(&w->ctx);
        w->soap->socket = SOAP_INVALID_SOCKET;
        soap_free(w->soap);
        w->soap = NULL;
    }
    close_fd(&w->dummy[0]);
    close_fd(&w->dummy[1]);
    pthread_cond_destroy(&w->cv);
}

/* Starts the workers and the loops other than 0 with SIGINT, SIGTERM and
 * SIGHUP blocked: those go to the thread in pa_server_run (loop 0).  Each
 * loop gets a gSOAP context of its own for the requests it answers. */
static pa_err start_threads(pa_server *srv, int n)
{
    sigset_t block, old;
    pa_err e = PA_OK;

    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    for (int i = 0; i < n && e == PA_OK; i++) {
        worker *w = &srv->workers[i];

        if ((e = worker_init(srv, w)) != PA_OK) {
            worker_done(srv, w, 0);
            break;
        }
        srv->nworkers++;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
            e = PA_ERR_UNKNOWN_ERROR;
        else
            w->started = 1;
    }
    for (int i = 0; i < srv->nloops && e == PA_OK; i++) {
        loop *lp = &srv->loops[i];

        if ((e = worker_init(srv, &lp->self)) != PA_OK) {
            worker_done(srv, &lp->self, 0);
            break;
        }
        lp->self_ok = 1;
        if (i > 0) {
            if (pthread_create(&lp->thread, NULL, run_loop, lp) != 0)
                e = PA_ERR_UNKNOWN_ERROR;
            else
                lp->started = 1;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return e;
}

pa_err pa_server_run(pa_server *srv)
{
    int n = srv->cfg->workers > 0 ? srv->cfg->workers : 2;
    pa_err e;

    srv->workers = calloc((size_t)n, sizeof *srv->workers);
    srv->idle = calloc((size_t)n, sizeof *srv->idle);
    if (srv->workers == NULL || srv->idle == NULL) {
        free(srv->workers);
        free(srv->idle);
        srv->workers = NULL;
        srv->idle = NULL;
        return PA_ERR_UNKNOWN_ERROR;
    }
    e = start_threads(srv, n);
    if (e == PA_OK)
        run_loop(&srv->loops[0]);
    /* the other loops finish their connections, then the workers what
     * they hold */
    atomic_store(&srv->stop, 1);
    for (int i = 1; i < srv->nloops; i++) {
        uint64_t one = 1;

        (void)!write(srv->loops[i].wake_fd, &one, sizeof one);
        if (srv->loops[i].started)
            pthread_join(srv->loops[i].thread, NULL);
        srv->loops[i].started = 0;
    }
    pthread_mutex_lock(&srv->qlock);
    srv->workers_exit = 1;
    for (int i = 0; i < srv->nidle; i++)
        pthread_cond_signal(&srv->idle[i]->cv);
    pthread_mutex_unlock(&srv->qlock);
    for (int i = 0; i < srv->nworkers; i++)
        if (srv->workers[i].started)
            pthread_join(srv->workers[i].thread, NULL);
    for (int i = 0; i < srv->nloops; i++) {
        loop *lp = &srv->loops[i];

        for (uint32_t k = 0; k < lp->cap; k++)
            if (lp->conns[k].st != C_FREE)
                conn_close(lp, &lp->conns[k]);
        take_incoming(lp);
        if (lp->self_ok)
            worker_done(srv, &lp->self, 1);
        lp->self_ok = 0;
    }
    close_fd(&srv->listen_fd);
    for (int i = 0; i < srv->nworkers; i++)
        worker_done(srv, &srv->workers[i], 1);
    free(srv->workers);
    free(srv->idle);
    srv->workers = NULL;
    srv->idle = NULL;
    srv->nworkers = 0;
    return e;
}

void pa_server_stop(pa_server *srv)
{
    uint64_t one = 1;

    atomic_store(&srv->stop, 1);
    pa_respond_drain(1);
    /* write(2) is async-signal-safe; the eventfds wake the loops */
    for (int i = 0; i < srv->nloops; i++)
        (void)!write(srv->loops[i].wake_fd, &one, sizeof one);
}
