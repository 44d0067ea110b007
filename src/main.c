/*
 * main.c - paserver: options, configuration, start-up, signals.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crypto/primitives.h"
#include "auth/auth.h"
#include "net/server.h"
#include "service/delivery.h"
#include "service/http.h"
#include "service/keycache.h"
#include "service/token.h"
#include "service/retention.h"
#include "service/sweep.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"

extern char **environ;

static pa_server *running;

static void on_signal(int sig)
{
    if (running == NULL)
        return;
    if (sig == SIGHUP)
        pa_server_reload(running);      /* TLS certificate and key */
    else
        pa_server_stop(running);
}

static pa_err worker_open(pa_ctx *ctx)
{
    pa_store_options opt = {.busy_timeout_ms = ctx->cfg->lock_timeout_ms};
    pa_store *st = NULL;
    pa_err e = pa_store_open(ctx->cfg->database, &opt, &st);

    if (e != PA_OK)
        pa_log(PA_LOG_ERROR, "cannot open database %s: %s", ctx->cfg->database,
               pa_store_last_error());
    ctx->store = st;
    return e;
}

static void worker_close(pa_ctx *ctx)
{
    pa_store_close(ctx->store);
    ctx->store = NULL;
}

/* Refuses a database holding record-encrypted rows when no master key is
 * configured: such a server would fail on every one of those rows. */
static pa_err check_encryption_key(const pa_config *cfg)
{
    pa_store_options opt = {.busy_timeout_ms = cfg->lock_timeout_ms};
    pa_store *st = NULL;
    int any = 0;
    pa_err e = pa_store_open(cfg->database, &opt, &st);

    if (e == PA_OK)
        e = pa_store_has_encrypted_records(st, &any);
    if (e != PA_OK)
        pa_log(PA_LOG_ERROR, "database %s: %s", cfg->database,
               pa_store_last_error());
    else if (any && !cfg->master_db_encryption_key_set) {
        pa_log(PA_LOG_ERROR, "database %s holds record-encrypted data but "
               "PASERVER_MASTER_DB_ENCRYPTION_KEY is not set; refusing to "
               "start (set it to the key the data was written with)",
               cfg->database);
        e = PA_ERR_MISSING_MASTER_DB_ENCRYPTION_KEY;
    }
    pa_store_close(st);
    return e;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: paserver [--config FILE] [--print-config] [--version]\n"
            "\n"
            "Serves the PowerAuth SOAP contract (v3 and v2).  Settings come from\n"
            "FILE (key = value lines, see paserver.conf.sample) and PASERVER_*\n"
            "environment variables, which win over the file.\n");
}

/* Operations an event loop answers itself (server.h): reads of bounded
 * size with no commit to wait for - the ones a bank's middleware calls
 * most, at a fraction of a worker hand-off's cost.  An operation that
 * writes (or may write, as GetRecoveryConfig) stays with the workers, so
 * a loop never waits for a group commit.  GetActivationStatus may expire
 * an activation once (lazy expiry, one write in its life): accepted. */
static const char *const inline_ops[] = {
    "GetSystemStatusRequest",
    "GetErrorCodeListRequest",
    "GetApplicationDetailRequest",
    "LookupApplicationByAppKeyRequest",
    "GetApplicationListRequest",
    "GetActivationStatusRequest",
    "ValidateTokenRequest",
    "GetCallbackUrlListRequest",
    "GetIntegrationListRequest",
    NULL,
};

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"print-config", no_argument, NULL, 'p'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_file = NULL;
    int print_config = 0, c, status = 1;
    char err[512] = "";
    pa_config cfg;
    pa_server *srv = NULL;
    pa_server_hooks hooks = {worker_open, worker_close, pa_http_get, inline_ops};
    pa_store_options sopt;

    while ((c = getopt_long(argc, argv, "c:pVh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_file = optarg; break;
        case 'p': print_config = 1; break;
        case 'V': printf("paserver %s\n", PACKAGE_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    pa_config_defaults(&cfg);
    if ((config_file && pa_config_load_file(&cfg, config_file, err, sizeof err) != PA_OK)
        || pa_config_apply_env(&cfg, environ, err, sizeof err) != PA_OK
        || pa_config_validate(&cfg, err, sizeof err) != PA_OK) {
        fprintf(stderr, "paserver: %s\n", err);
        pa_config_free(&cfg);
        return 2;
    }
    if (print_config) {
        pa_config_dump(&cfg, stdout);
        pa_config_free(&cfg);
        return 0;
    }
    pa_log_open(cfg.log_level, cfg.log_target);
    if (pa_crypto_init() != PA_OK) {
        pa_log(PA_LOG_ERROR, "OpenSSL lacks an algorithm paserver needs");
        goto out;
    }
    sopt.busy_timeout_ms = cfg.lock_timeout_ms;
    if (pa_store_migrate(cfg.database, &sopt) != PA_OK) {
        pa_log(PA_LOG_ERROR, "database %s: %s", cfg.database, pa_store_last_error());
        goto out;
    }
    if (check_encryption_key(&cfg) != PA_OK)
        goto out;
    if (pa_keycache_init((size_t)cfg.signature_key_cache_entries) != PA_OK) {
        pa_log(PA_LOG_ERROR, "cannot allocate the derived-key cache (%d entries)",
               cfg.signature_key_cache_entries);
        goto out;
    }
    if (pa_http_init(&cfg) != PA_OK
        || pa_server_create(&cfg, &hooks, &srv, err, sizeof err) != PA_OK) {
        pa_log(PA_LOG_ERROR, "%s", err[0] ? err : "cannot start");
        goto out;
    }
    running = srv;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    signal(SIGINT, on_signal);
    /* background work (DESIGN.md "Work outside a request"); the threads
     * all block every signal, so SIGTERM and SIGINT reach this thread */
    if (pa_delivery_start(&cfg) != PA_OK) {
        pa_log(PA_LOG_ERROR, "cannot start the callback delivery thread");
        goto out;
    }
    if (pa_sweep_start(&cfg) != PA_OK) {
        pa_log(PA_LOG_ERROR, "cannot start the expiry sweep thread");
        goto out;
    }
    /* not started when audit_retention_ms and history_retention_ms are 0 */
    if (pa_retention_start(&cfg) != PA_OK) {
        pa_log(PA_LOG_ERROR, "cannot start the retention purge thread");
        goto out;
    }
    pa_log(PA_LOG_INFO, "paserver %s listening on port %d, endpoint %s/soap, database %s",
           PACKAGE_VERSION, pa_server_port(srv),
           strcmp(cfg.context_path, "/") == 0 ? "" : cfg.context_path, cfg.database);
    status = pa_server_run(srv) == PA_OK ? 0 : 1;
    pa_log(PA_LOG_INFO, "paserver stopped");
out:
    running = NULL;
    /* the pool has drained: the sweep may still queue callbacks, so it
     * stops before the delivery thread; rows left are sent after restart */
    pa_retention_stop();
    pa_sweep_stop();
    pa_delivery_stop();
    pa_server_free(srv);
    pa_keycache_free();
    pa_token_shutdown();
    pa_auth_free_caches();
    pa_http_free();
    pa_log_close();
    pa_config_free(&cfg);
    return status;
}
