/*
 * fuzz_request.c - a libFuzzer target over paserver's whole request path.
 *
 * Each input is the raw bytes a client sends on one connection: it goes
 * through the same code as on the network - the guard, gSOAP's HTTP and
 * XML parsing, WS-Security, dispatch to the handlers and services, and a
 * real SQLite store in a temporary directory (on /dev/shm when there is
 * one, so commits cost no disk) - with only the socket replaced by a
 * socket pair.  Any crash, sanitizer report or leak is a finding.
 *
 * Built with ./configure --enable-fuzz CC=clang and CFLAGS that carry
 * -fsanitize=fuzzer-no-link,address,undefined (scripts/fuzz does both).
 * Access restriction is on for inputs whose first byte is odd, so the
 * WS-Security path is fuzzed as well as the open one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth/auth.h"
#include "crypto/primitives.h"
#include "net/respond.h"
#include "net/serve.h"
#include "service/http.h"
#include "service/keycache.h"
#include "soap/pasoap.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"

/* Longest input tried: the configured body limit below plus headers. */
#define FUZZ_MAX_INPUT (64 * 1024)

static pa_config cfg;
static pa_ctx ctx;
static pa_netstate ns;
static struct soap *soap;

static void fatal(const char *what)
{
    fprintf(stderr, "fuzz_request: %s\n", what);
    abort();
}

static void hooks(struct soap *s)
{
    s->fget = pa_http_get;
    s->fhead = pa_http_get;
    s->fput = pa_respond_405;
    s->fpatch = pa_respond_405;
    s->fdel = pa_respond_405;
    s->fopt = pa_respond_405;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static char dir[] = "/dev/shm/pa-fuzz-XXXXXX", dir2[] = "/tmp/pa-fuzz-XXXXXX";
    char path[256], err[256];
    const char *d;

    (void)argc;
    (void)argv;
    if ((d = mkdtemp(dir)) == NULL && (d = mkdtemp(dir2)) == NULL)
        fatal("cannot make a temporary directory");
    snprintf(path, sizeof path, "%s/fuzz.db", d);
    if (pa_config_defaults(&cfg) != PA_OK
        || pa_config_set(&cfg, "database", path, err, sizeof err) != PA_OK
        || pa_config_set(&cfg, "max_body_bytes", "65536", err, sizeof err) != PA_OK
        || pa_config_set(&cfg, "recv_timeout_ms", "100", err, sizeof err) != PA_OK
        || pa_config_set(&cfg, "send_timeout_ms", "100", err, sizeof err) != PA_OK
        || pa_config_set(&cfg, "log_level", "error", err, sizeof err) != PA_OK)
        fatal("configuration");
    pa_log_open(cfg.log_level, cfg.log_target);
    if (pa_crypto_init() != PA_OK || pa_store_migrate(cfg.database, NULL) != PA_OK
        || pa_keycache_init(64) != PA_OK || pa_http_init(&cfg) != PA_OK)
        fatal("start-up");
    if ((soap = soap_new()) == NULL)
        fatal("gSOAP context");
    ctx.cfg = &cfg;
    pa_soap_setup(soap, &ctx);
    pa_serve_init(soap, &ns);
    pa_respond_install(soap);
    hooks(soap);
    soap->socket_flags = MSG_NOSIGNAL;
    soap_set_mode(soap, SOAP_IO_KEEPALIVE);
    if (pa_store_open(cfg.database, NULL, &ctx.store) != PA_OK)
        fatal("store");
    return 0;
}

/* Reads and drops whatever the server answered (the answer goes to a
 * socket pair, never anywhere else). */
static void drain(int fd)
{
    char buf[65536];

    (void)fcntl(fd, F_SETFL, O_NONBLOCK);
    while (read(fd, buf, sizeof buf) > 0)
        ;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2], open, big = 1 << 22;

    if (size > FUZZ_MAX_INPUT)
        return -1;              /* not added to the corpus */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        fatal("socketpair");
    /* room for the whole input and for any answer, so neither side waits */
    (void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    (void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    if (size > 0 && write(sv[0], data, size) != (ssize_t)size)
        fatal("write");
    (void)shutdown(sv[0], SHUT_WR);
    cfg.restrict_access = size > 0 && (data[0] & 1);
    soap->socket = sv[1];
    pa_serve_attach(soap);
    open = pa_serve_one(soap);
    while (open && pa_serve_pending(soap))
        open = pa_serve_one(soap);
    soap->socket = SOAP_INVALID_SOCKET;
    close(sv[1]);
    drain(sv[0]);
    close(sv[0]);
    return 0;
}
