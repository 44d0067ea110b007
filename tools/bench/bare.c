/*
 * bare.c - the bare gSOAP floor: the barest server that does paserver's
 * SOAP job, to measure paserver (and our own floor, tools/bench/floor)
 * against.
 *
 * The same generated stubs and dispatcher, the same two constant answers
 * (floor_answers.c; every other operation answers ERR0024), and nothing
 * of ours around them: no event loop, no guard, no request log, no store,
 * no access control.  N worker threads share one epoll set holding the
 * listening socket and every idle keep-alive connection (EPOLLONESHOT);
 * a worker takes a ready connection, lets gSOAP read, dispatch and answer
 * one request on the blocking socket (soap_begin_serve and
 * soap_serve_request), and puts it back in the set.
 *
 *   bare [LISTEN [WORKERS]]   LISTEN host:port (default 127.0.0.1:8082),
 *                             WORKERS threads (default 2 x online CPUs)
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "soap/pasoap.h"
#include "util/config.h"

static int epfd, lfd;
static pa_config cfg;

static void *worker(void *arg)
{
    struct soap *soap = soap_new1(SOAP_IO_KEEPALIVE | SOAP_C_UTFSTRING);
    pa_ctx ctx;

    (void)arg;
    memset(&ctx, 0, sizeof ctx);
    ctx.cfg = &cfg;
    soap_set_namespaces(soap, namespaces);
    soap->user = &ctx;          /* floor_answers.c names the operation */
    soap->socket_flags = MSG_NOSIGNAL;
    for (;;) {
        struct epoll_event ev, re;
        int fd, keep;

        if (epoll_wait(epfd, &ev, 1, -1) != 1)
            continue;
        if (ev.data.fd == lfd) {
            while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
                int one = 1;

                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                re.events = EPOLLIN | EPOLLONESHOT;
                re.data.fd = fd;
                epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &re);
            }
            re.events = EPOLLIN | EPOLLONESHOT;
            re.data.fd = lfd;
            epoll_ctl(epfd, EPOLL_CTL_MOD, lfd, &re);
            continue;
        }
        fd = ev.data.fd;
        soap->socket = fd;
        soap->bufidx = soap->buflen = 0;
        soap->keep_alive = 1;
        if (soap_begin_serve(soap) == SOAP_OK) {
            if (soap_serve_request(soap) != SOAP_OK && soap->error < SOAP_STOP)
                soap_send_fault(soap);
        }
        keep = soap->error == SOAP_OK && soap->keep_alive > 0
               && soap_valid_socket(soap->socket);
        soap_destroy(soap);
        soap_end(soap);
        if (keep) {
            re.events = EPOLLIN | EPOLLONESHOT;
            re.data.fd = fd;
            epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &re);
        } else if (soap_valid_socket(soap->socket)) {
            close(fd);
        }
        soap->socket = SOAP_INVALID_SOCKET;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *listen_at = argc > 1 ? argv[1] : "127.0.0.1:8082";
    int workers = argc > 2 ? atoi(argv[2]) : 2 * (int)sysconf(_SC_NPROCESSORS_ONLN);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    char host[64];
    int port = 0, one = 1;
    struct epoll_event ev;
    pthread_t t;

    if (pa_config_defaults(&cfg) != PA_OK
        || pa_config_listen_split(listen_at, host, sizeof host, &port) != PA_OK
        || inet_pton(AF_INET, host, &sa.sin_addr) != 1 || workers < 1) {
        fprintf(stderr, "usage: bare [IPV4:PORT [WORKERS]]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    sa.sin_port = htons((uint16_t)port);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 1024) != 0
        || getsockname(lfd, (struct sockaddr *)&sa, &len) != 0) {
        perror("bare: listen");
        return 1;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.fd = lfd;
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
    for (int i = 0; i < workers; i++)
        if (pthread_create(&t, NULL, worker, NULL) != 0)
            return 1;
    printf("bare gSOAP floor listening on port %d (%d workers)\n", ntohs(sa.sin_port), workers);
    fflush(stdout);
    pause();                    /* until killed */
    return 0;
}
