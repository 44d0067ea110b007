/*
 * server.c - the listener and the worker pool, see server.h.
 *
 * One epoll set holds four kinds of entries, told apart by the 64-bit event
 * data: the listening socket, an eventfd that pa_server_stop() writes, a
 * timerfd that wakes the idle reaper, and every idle client connection (a
 * conntable key: slot index and generation).  Every entry except the
 * eventfd is EPOLLONESHOT, so exactly one worker gets each readiness and
 * re-arms the entry when it is done with it.  The eventfd is level-
 * triggered and never read: once written, every worker wakes and leaves.
 *
 * Client sockets are blocking (gSOAP waits for data with poll() and the
 * configured timeouts; SO_RCVTIMEO/SO_SNDTIMEO back that up) and have
 * TCP_NODELAY, as gSOAP writes each answer in one or two sends.
 */
#define _GNU_SOURCE 1           /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "net/conntable.h"
#include "net/respond.h"
#include "net/serve.h"
#include "net/server.h"
#include "util/log.h"
#include "util/timeutil.h"

/* Event data of the pool's own entries: indexes no slot has. */
#define EV_LISTEN 0xFFFFFFFFu
#define EV_WAKE   0xFFFFFFFEu
#define EV_TIMER  0xFFFFFFFDu

/* Connections accepted per listener readiness before it is re-armed (so
 * one worker does not accept for too long while others sleep). */
#define ACCEPT_BATCH 64

typedef struct worker {
    pa_server *srv;
    pthread_t thread;
    int started;
    struct soap *soap;
    pa_ctx ctx;
    pa_netstate ns;
} worker;

struct pa_server {
    const pa_config *cfg;
    pa_server_hooks hooks;
    int listen_fd;
    int port;
    int epfd;
    int wake_fd;
    int timer_fd;
    int spare_fd;               /* kept free for accepting when out of fds */
    atomic_int stop;
    int idle_ms;                /* idle connections are closed after this */
    pa_conntable conns;
    int nworkers;
    worker *workers;
};

/* --- set-up ------------------------------------------------------------------ */

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

/* Enough file descriptors for every slot (the default soft limit is often
 * 1024); best effort, the hard limit wins. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    rlim_t want = PA_SERVER_MAX_CONNS + 256;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
}

static int epoll_add(int epfd, int fd, uint32_t events, uint64_t data)
{
    struct epoll_event ev = {.events = events, .data.u64 = data};

    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static int epoll_rearm(int epfd, int fd, uint64_t data)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = data};

    return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

/* Reaper period: a quarter of the idle limit, between 50 ms and 1 s. */
static void timer_arm(pa_server *srv)
{
    long ms = srv->idle_ms / 4;
    struct itimerspec it = {0};

    if (ms < 50) ms = 50;
    if (ms > 1000) ms = 1000;
    it.it_value.tv_sec = ms / 1000;
    it.it_value.tv_nsec = (ms % 1000) * 1000000L;
    (void)timerfd_settime(srv->timer_fd, 0, &it, NULL);
}

static pa_err create_events(pa_server *srv, char *errbuf, size_t errlen)
{
    srv->epfd = epoll_create1(EPOLL_CLOEXEC);
    srv->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    srv->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (srv->epfd < 0 || srv->wake_fd < 0 || srv->timer_fd < 0
        || epoll_add(srv->epfd, srv->listen_fd, EPOLLIN | EPOLLONESHOT,
                     pa_conntable_key(EV_LISTEN, 0)) != 0
        || epoll_add(srv->epfd, srv->wake_fd, EPOLLIN, pa_conntable_key(EV_WAKE, 0)) != 0
        || epoll_add(srv->epfd, srv->timer_fd, EPOLLIN | EPOLLONESHOT,
                     pa_conntable_key(EV_TIMER, 0)) != 0) {
        snprintf(errbuf, errlen, "server: cannot set up epoll: %s", strerror(errno));
        return PA_ERR_UNKNOWN_ERROR;
    }
    timer_arm(srv);
    return PA_OK;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

void pa_server_free(pa_server *srv)
{
    if (srv == NULL)
        return;
    /* connections left by a run that ended early */
    if (srv->conns.slots != NULL) {
        for (uint32_t i = 0; i < srv->conns.cap; i++)
            if (srv->conns.slots[i].state != PA_CONN_FREE)
                close(srv->conns.slots[i].fd);
        pa_conntable_destroy(&srv->conns);
    }
    close_fd(&srv->listen_fd);
    close_fd(&srv->epfd);
    close_fd(&srv->wake_fd);
    close_fd(&srv->timer_fd);
    close_fd(&srv->spare_fd);
    free(srv);
}

pa_err pa_server_create(const pa_config *cfg, const pa_server_hooks *hooks,
                        pa_server **out, char *errbuf, size_t errlen)
{
    char host[PA_CONFIG_HOST_BUF];
    int port = 0;
    pa_server *srv;

    *out = NULL;
    if (pa_config_listen_split(cfg->listen, host, sizeof host, &port) != PA_OK) {
        snprintf(errbuf, errlen, "listen: bad address '%s'", cfg->listen);
        return PA_ERR_INVALID_REQUEST;
    }
    srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    srv->cfg = cfg;
    srv->hooks = *hooks;
    srv->epfd = srv->wake_fd = srv->timer_fd = srv->spare_fd = -1;
    atomic_init(&srv->stop, 0);
    pa_respond_drain(0);
    /* without keep-alive a connection is idle only until its first request */
    srv->idle_ms = cfg->keepalive_timeout_ms > 0 ? cfg->keepalive_timeout_ms
                                                 : cfg->recv_timeout_ms;
    raise_fd_limit();
    srv->listen_fd = listen_socket(host, port, errbuf, errlen);
    if (srv->listen_fd < 0) {
        pa_server_free(srv);
        return PA_ERR_INVALID_REQUEST;
    }
    srv->port = bound_port(srv->listen_fd);
    if (pa_conntable_init(&srv->conns, PA_SERVER_MAX_CONNS) != PA_OK) {
        snprintf(errbuf, errlen, "server: out of memory");
        pa_server_free(srv);
        return PA_ERR_UNKNOWN_ERROR;
    }
    if (create_events(srv, errbuf, errlen) != PA_OK) {
        pa_server_free(srv);
        return PA_ERR_UNKNOWN_ERROR;
    }
    *out = srv;
    return PA_OK;
}

int pa_server_port(const pa_server *srv)
{
    return srv->port;
}

/* --- accepting ---------------------------------------------------------------- */

typedef struct accepted {
    pa_server *srv;
    const struct sockaddr_storage *addr;
    socklen_t addrlen;
} accepted;

/* Under the table's lock: records the peer and puts the socket into the
 * readiness set. */
static int publish(void *arg, pa_conn *c, uint64_t key)
{
    accepted *a = arg;
    char port[16];

    memcpy(&c->addr, a->addr, a->addrlen);
    c->addrlen = a->addrlen;
    if (getnameinfo((const struct sockaddr *)a->addr, a->addrlen, c->host, sizeof c->host,
                    port, sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) == 0)
        c->port = atoi(port);
    else
        snprintf(c->host, sizeof c->host, "?");
    return epoll_add(a->srv->epfd, c->fd, EPOLLIN | EPOLLONESHOT, key);
}

static void socket_options(const pa_server *srv, int fd)
{
    int one = 1;
    struct timeval rcv = {srv->cfg->recv_timeout_ms / 1000,
                          (srv->cfg->recv_timeout_ms % 1000) * 1000};
    struct timeval snd = {srv->cfg->send_timeout_ms / 1000,
                          (srv->cfg->send_timeout_ms % 1000) * 1000};

    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof rcv);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof snd);
}

/* Out of file descriptors: give up the spare one to take the pending
 * connection and close it, so the listener does not stay ready forever. */
static void shed_one(pa_server *srv)
{
    int fd;

    if (srv->spare_fd < 0)
        return;
    close(srv->spare_fd);
    fd = accept(srv->listen_fd, NULL, NULL);
    if (fd >= 0)
        close(fd);
    srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Takes the pending connections (a batch), then re-arms the listener. */
static void accept_batch(pa_server *srv)
{
    for (int i = 0; i < ACCEPT_BATCH && !atomic_load(&srv->stop); i++) {
        struct sockaddr_storage sa;
        socklen_t len = sizeof sa;
        accepted a = {srv, &sa, 0};
        int fd = accept4(srv->listen_fd, (struct sockaddr *)&sa, &len, SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE) {
                pa_log(PA_LOG_WARN, "out of file descriptors: connection refused");
                shed_one(srv);
                continue;
            }
            break;                      /* EAGAIN: nothing more pending */
        }
        a.addrlen = len;
        socket_options(srv, fd);
        if (pa_conntable_add(&srv->conns, fd, pa_time_mono_us() / 1000, publish, &a) != 0) {
            /* connection limit: accepted and closed at once */
            close(fd);
        }
    }
    if (epoll_rearm(srv->epfd, srv->listen_fd, pa_conntable_key(EV_LISTEN, 0)) != 0)
        pa_log(PA_LOG_ERROR, "cannot re-arm the listener: %s", strerror(errno));
}

/* --- the idle reaper ------------------------------------------------------ */

/* Under the table's lock. */
static int close_idle(void *arg, pa_conn *c, uint64_t key)
{
    pa_server *srv = arg;

    (void)key;
    (void)epoll_ctl(srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    return 0;
}

static void reap(pa_server *srv)
{
    uint64_t ticks;

    (void)!read(srv->timer_fd, &ticks, sizeof ticks);
    pa_conntable_reap(&srv->conns, pa_time_mono_us() / 1000 - srv->idle_ms,
                      close_idle, srv);
    timer_arm(srv);
    if (epoll_rearm(srv->epfd, srv->timer_fd, pa_conntable_key(EV_TIMER, 0)) != 0)
        pa_log(PA_LOG_ERROR, "cannot re-arm the idle timer: %s", strerror(errno));
}

/* --- serving ---------------------------------------------------------------- */

/* Points the worker's gSOAP context at the connection it now owns. */
static void soap_attach(struct soap *soap, const pa_conn *c)
{
    soap->socket = c->fd;
    soap->error = SOAP_OK;
    soap->errnum = 0;
    /* bytes buffered belong to the previous connection */
    pa_serve_attach(soap);
    soap->keep_alive = 0;
    memcpy(&soap->peer, &c->addr, c->addrlen);
    soap->peerlen = c->addrlen;
    snprintf(soap->host, sizeof soap->host, "%s", c->host);
    soap->port = c->port;
    soap->ip = c->addr.ss_family == AF_INET
                   ? ntohl(((const struct sockaddr_in *)&c->addr)->sin_addr.s_addr) : 0;
}

static int rearm_conn(void *arg, pa_conn *c, uint64_t key)
{
    pa_server *srv = arg;

    return epoll_rearm(srv->epfd, c->fd, key);
}

/* Bounds of the lingering close below. */
#define LINGER_MS 200
#define LINGER_BYTES (512 * 1024)

/* Closes a connection after its last answer.  Closing a socket with
 * unread bytes makes the kernel send a reset, and a reset makes the
 * client's kernel drop the answer it has not read yet: a client refused
 * in the middle of sending (too large, too many attributes) would get
 * nothing.  So: end our side first, then read and discard what is still
 * arriving - briefly and boundedly - and only then close. */
static void close_answered(int fd, int unread)
{
    char sink[16384];
    int64_t until = pa_time_mono_us() + (int64_t)LINGER_MS * 1000;
    size_t drained = 0;

    (void)shutdown(fd, SHUT_WR);
    while (unread && drained < LINGER_BYTES) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int64_t left = (until - pa_time_mono_us()) / 1000;
        ssize_t n;

        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        n = recv(fd, sink, sizeof sink, MSG_DONTWAIT);
        if (n <= 0)
            break;
        drained += (size_t)n;
    }
    close(fd);
}

/* Serves the request(s) waiting on the connection named by key, then parks
 * it (keep-alive) or closes it. */
static void serve_conn(worker *w, uint64_t key)
{
    pa_server *srv = w->srv;
    struct soap *soap = w->soap;
    pa_conn *c = pa_conntable_claim(&srv->conns, key);
    int open;

    if (c == NULL)
        return;                         /* closed by the reaper meanwhile */
    soap_attach(soap, c);
    open = pa_serve_one(soap);
    /* A pipelined request already sits in this worker's buffer: serve it
     * now, as the readiness set cannot see those bytes. */
    while (open && pa_serve_pending(soap) && !atomic_load(&srv->stop))
        open = pa_serve_one(soap);
    if (open && !atomic_load(&srv->stop)
        && pa_conntable_park(&srv->conns, c, pa_time_mono_us() / 1000,
                             rearm_conn, srv) == 0) {
        soap->socket = SOAP_INVALID_SOCKET;
        return;
    }
    /* The descriptor is ours to close, never gSOAP's (serve.c). */
    close_answered(c->fd, pa_serve_unread(soap));
    soap->socket = SOAP_INVALID_SOCKET;
    pa_conntable_release(&srv->conns, c);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    pa_server *srv = w->srv;

    while (!atomic_load(&srv->stop)) {
        struct epoll_event ev;
        int n = epoll_wait(srv->epfd, &ev, 1, -1);
        uint32_t idx;

        if (n < 0 && errno != EINTR) {
            pa_log(PA_LOG_ERROR, "epoll_wait: %s", strerror(errno));
            break;
        }
        if (n <= 0 || atomic_load(&srv->stop))
            continue;
        idx = pa_conntable_key_index(ev.data.u64);
        if (idx == EV_LISTEN)
            accept_batch(srv);
        else if (idx == EV_TIMER)
            reap(srv);
        else if (idx != EV_WAKE)
            serve_conn(w, ev.data.u64);
    }
    return NULL;
}

/* --- workers ----------------------------------------------------------------- */

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
    w->ctx.cfg = srv->cfg;
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
    if (w->soap == NULL)
        return;
    if (opened && srv->hooks.worker_close != NULL)
        srv->hooks.worker_close(&w->ctx);
    w->soap->socket = SOAP_INVALID_SOCKET;
    soap_free(w->soap);
    w->soap = NULL;
}

/* Starts the workers with SIGINT/SIGTERM blocked, so those signals are
 * handled by the thread in pa_server_run. */
static pa_err start_workers(pa_server *srv, int n)
{
    sigset_t block, old;
    pa_err e = PA_OK;

    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    for (int i = 0; i < n; i++) {
        worker *w = &srv->workers[i];

        if ((e = worker_init(srv, w)) != PA_OK) {
            worker_done(srv, w, 0);
            break;
        }
        srv->nworkers++;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            e = PA_ERR_UNKNOWN_ERROR;
            break;
        }
        w->started = 1;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return e;
}

pa_err pa_server_run(pa_server *srv)
{
    int n = srv->cfg->workers > 0 ? srv->cfg->workers : 2;
    pa_err e;

    srv->workers = calloc((size_t)n, sizeof *srv->workers);
    if (srv->workers == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    e = start_workers(srv, n);
    if (e != PA_OK)
        pa_server_stop(srv);
    for (int i = 0; i < srv->nworkers; i++)
        if (srv->workers[i].started)
            pthread_join(srv->workers[i].thread, NULL);
    /* every worker is gone: close what is still idle */
    pa_conntable_reap(&srv->conns, INT64_MAX, close_idle, srv);
    close_fd(&srv->listen_fd);
    for (int i = 0; i < srv->nworkers; i++)
        worker_done(srv, &srv->workers[i], 1);
    free(srv->workers);
    srv->workers = NULL;
    srv->nworkers = 0;
    return e;
}

void pa_server_stop(pa_server *srv)
{
    uint64_t one = 1;

    atomic_store(&srv->stop, 1);
    pa_respond_drain(1);
    /* write(2) is async-signal-safe; the eventfd wakes every worker */
    (void)!write(srv->wake_fd, &one, sizeof one);
}
