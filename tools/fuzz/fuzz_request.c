/*
 * fuzz_request.c - a libFuzzer target over paserver's whole request path.
 *
 * Each input is the raw bytes a client sends on one connection: it goes
 * through the same code as on the network - the event loop's framing (the
 * guard decides where each request ends and whether it is complete,
 * refused or cut off), then what a worker runs on those bytes: gSOAP's
 * HTTP and XML parsing, WS-Security, dispatch to the handlers and
 * services, and a real SQLite store in a temporary directory (on /dev/shm
 * when there is one, so commits cost no disk).  Pipelined requests in one
 * input are served one after the other.  Any crash, sanitizer report or
 * leak is a finding.
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
#include "net/guard.h"
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
static int dummy[2];            /* gSOAP's "socket", as a worker's */
static pa_ctx ctx;
static pa_netstate ns;
static struct soap *soap;

static void fatal(const char *what)
{
    fprintf(stderr, "fuzz_request: %s\n", what);
    abort();
}

static char tmpdir[64];

/* libFuzzer ends with exit(): the temporary store goes with it (on
 * /dev/shm it would otherwise hold memory until reboot). */
static void remove_store_files(void)
{
    static const char *const files[] = {"fuzz.db", "fuzz.db-wal", "fuzz.db-shm"};
    char path[128];

    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, files[i]);
        (void)unlink(path);
    }
}

static void remove_store(void)
{
    remove_store_files();
    (void)rmdir(tmpdir);
}

/* Every input may add rows (applications, activations, audit), and a
 * store that only grows makes each execution slower than the last: start
 * from an empty one every FUZZ_STORE_INPUTS inputs. */
#define FUZZ_STORE_INPUTS 20000

static void fresh_store(void)
{
    if (ctx.store != NULL)
        pa_store_close(ctx.store);
    ctx.store = NULL;
    remove_store_files();
    if (pa_store_migrate(cfg.database, NULL) != PA_OK
        || pa_store_open(cfg.database, NULL, &ctx.store) != PA_OK)
        fatal("store");
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
    snprintf(tmpdir, sizeof tmpdir, "%s", d);
    atexit(remove_store);
    snprintf(path, sizeof path, "%s/fuzz.db", d);
    if (pa_config_defaults(&cfg) != PA_OK
        || pa_config_set(&cfg, "database", path, err, sizeof err) != PA_OK
        || pa_config_set(&cfg, "max_body_bytes", "65536", err, sizeof err) != PA_OK
        || pa_config_set(&cfg, "recv_timeout_ms", "100", err, sizeof err) != PA_OK
        || pa_config_set(&cfg, "send_timeout_ms", "100", err, sizeof err) != PA_OK
        || pa_config_set(&cfg, "log_level", "error", err, sizeof err) != PA_OK)
        fatal("configuration");
    pa_log_open(cfg.log_level, cfg.log_target);
    if (pa_crypto_init() != PA_OK
        || pa_keycache_init(64) != PA_OK || pa_http_init(&cfg) != PA_OK)
        fatal("start-up");
    if ((soap = soap_new()) == NULL)
        fatal("gSOAP context");
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, dummy) != 0)
        fatal("socketpair");
    ctx.cfg = &cfg;
    pa_soap_setup(soap, &ctx);
    pa_serve_init(soap, &ns);
    pa_respond_install(soap);
    hooks(soap);
    soap->socket_flags = MSG_NOSIGNAL;
    soap_set_mode(soap, SOAP_IO_KEEPALIVE);
    fresh_store();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    pa_outbuf out = {0};
    static pa_guard g;
    static unsigned long inputs;
    size_t off = 0;
    int open = 1;

    if (size > FUZZ_MAX_INPUT)
        return -1;              /* not added to the corpus */
    if (++inputs % FUZZ_STORE_INPUTS == 0)
        fresh_store();
    cfg.restrict_access = size > 0 && (data[0] & 1);
    /* as the event loop does: frame one request at a time, hand it over
     * complete, refused, or cut off by the end of the input */
    while (open && off < size) {
        pa_guard_result r = PA_GUARD_OK;
        pa_src_reason reason;
        size_t take;
        int verdict;

        pa_serve_guard_reset(&g, &cfg);
        take = pa_guard_take(&g, p + off, size - off, &r);
        verdict = pa_serve_verdict(&g, r, cfg.max_body_bytes);
        reason = verdict < 0 ? PA_SRC_EOF : (pa_src_reason)verdict;
        soap->socket = dummy[0];
        pa_serve_attach(soap);
        pa_serve_source(soap, p + off, take, reason, &g, &out);
        open = pa_serve_one(soap) && reason == PA_SRC_COMPLETE;
        soap->socket = SOAP_INVALID_SOCKET;
        out.len = 0;
        off += take;
        if (take == 0)
            break;
    }
    free(out.p);
    return 0;
}
