/* test_config.c - configuration defaults, file syntax, environment,
 * secrets, listen addresses, context paths, validation, dump and the
 * sample file (config.h).  Expected defaults are written out here from
 * CONTRACT.md "Configuration defaults", not taken from config.c. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "tests/unit/utilmods.h"
#include "util/config.h"

#ifndef PA_TOP_SRCDIR
#define PA_TOP_SRCDIR "."
#endif

static char err[512];

/* Writes text to a fresh temporary file; returns its malloc'ed path. */
static char *temp_file(const char *text)
{
    char *path = strdup("/tmp/pa-config-test-XXXXXX");
    int fd;

    if (path == NULL || (fd = mkstemp(path)) < 0) {
        free(path);
        return NULL;
    }
    if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        close(fd);
        unlink(path);
        free(path);
        return NULL;
    }
    close(fd);
    return path;
}

/* Loads text as a file over c; err gets the message. */
static pa_err load_text(pa_config *c, const char *text)
{
    char *path = temp_file(text);
    pa_err e;

    err[0] = '\0';
    if (path == NULL)
        return PA_ERR__COUNT;
    e = pa_config_load_file(c, path, err, sizeof err);
    unlink(path);
    free(path);
    return e;
}

/* Loads text over fresh defaults and expects a refusal whose message holds
 * every one of the NULL-terminated fragments. */
static void expect_file_error(const char *text, ...)
{
    pa_config c;
    va_list ap;
    const char *frag;

    CU_ASSERT_EQUAL_FATAL(pa_config_defaults(&c), PA_OK);
    CU_ASSERT_EQUAL(load_text(&c, text), PA_ERR_INVALID_INPUT_FORMAT);
    va_start(ap, text);
    while ((frag = va_arg(ap, const char *)) != NULL)
        if (strstr(err, frag) == NULL) {
            fprintf(stderr, "\nmessage \"%s\" lacks \"%s\"\n", err, frag);
            CU_FAIL("error message lacks an expected fragment");
        }
    va_end(ap);
    pa_config_free(&c);
}

/* The dump of c, malloc'ed. */
static char *dump_of(const pa_config *c)
{
    FILE *f = tmpfile();
    long n;
    char *s;

    if (f == NULL)
        return NULL;
    pa_config_dump(c, f);
    n = ftell(f);
    rewind(f);
    s = malloc((size_t)n + 1);
    if (s != NULL) {
        n = (long)fread(s, 1, (size_t)n, f);
        s[n] = '\0';
    }
    fclose(f);
    return s;
}

/* --- defaults ------------------------------------------------------------ */

static void test_defaults(void)
{
    pa_config c;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    CU_ASSERT_EQUAL_FATAL(pa_config_defaults(&c), PA_OK);
    CU_ASSERT_STRING_EQUAL(c.listen, "127.0.0.1:8080");
    CU_ASSERT_STRING_EQUAL(c.context_path, "/powerauth-java-server");
    /* auto: 8 per online CPU, at least 16 */
    CU_ASSERT_EQUAL(c.workers, 8 * (cpus < 1 ? 1 : cpus) < 16
                                   ? 16 : 8 * (cpus < 1 ? 1 : cpus));
    CU_ASSERT_EQUAL(c.max_body_bytes, 1048576);
    CU_ASSERT_EQUAL(c.max_xml_depth, 64);
    CU_ASSERT_EQUAL(c.max_connections, 4096);
    CU_ASSERT_EQUAL(c.max_connections_per_peer, 1024);
    CU_ASSERT_EQUAL(c.max_xml_attributes, 64);
    CU_ASSERT_EQUAL(c.max_xml_namespaces, 32);
    CU_ASSERT_EQUAL(c.max_header_bytes, 65536);
    CU_ASSERT_EQUAL(c.recv_timeout_ms, 10000);
    CU_ASSERT_EQUAL(c.send_timeout_ms, 10000);
    CU_ASSERT_EQUAL(c.keepalive_timeout_ms, 30000);
    CU_ASSERT_EQUAL(c.max_pipelined_per_turn, 1);
    CU_ASSERT_STRING_EQUAL(c.database, "paserver.db");
    CU_ASSERT_EQUAL(c.lock_timeout_ms, 10000);
    CU_ASSERT_EQUAL(c.log_level, PA_LOG_INFO);
    CU_ASSERT_EQUAL(c.log_target, PA_LOG_TARGET_STDERR);
    /* CONTRACT.md "Configuration defaults" */
    CU_ASSERT_STRING_EQUAL(c.application_name, "powerauth-server");
    CU_ASSERT_STRING_EQUAL(c.application_display_name, "PowerAuth Server");
    CU_ASSERT_STRING_EQUAL(c.application_environment, "");
    CU_ASSERT_FALSE(c.restrict_access);
    CU_ASSERT_EQUAL(c.generate_activation_id_iterations, 10);
    CU_ASSERT_EQUAL(c.generate_token_id_iterations, 10);
    CU_ASSERT_EQUAL(c.generate_activation_code_iterations, 10);
    CU_ASSERT_EQUAL(c.generate_recovery_code_iterations, 10);
    CU_ASSERT_EQUAL(c.activation_validity_ms, 120000);
    CU_ASSERT_EQUAL(c.signature_max_failed_attempts, 5);
    CU_ASSERT_EQUAL(c.signature_validation_lookahead, 20);
    CU_ASSERT_EQUAL(c.callback_connect_timeout_ms, 5000);
    /* paserver's own: callback retries and the expiry sweep */
    CU_ASSERT_EQUAL(c.callback_timeout_ms, 10000);
    CU_ASSERT_EQUAL(c.callback_max_attempts, 12);
    CU_ASSERT_EQUAL(c.callback_max_age_ms, 86400000);
    CU_ASSERT_EQUAL(c.callback_retry_initial_ms, 1000);
    CU_ASSERT_EQUAL(c.callback_retry_max_ms, 600000);
    CU_ASSERT_EQUAL(c.callback_outbox_max, 100000);
    CU_ASSERT_EQUAL(c.callback_concurrency, 8);
    CU_ASSERT_EQUAL(c.expiry_sweep_interval_ms, 60000);
    CU_ASSERT_EQUAL(c.expiry_sweep_batch, 500);
    CU_ASSERT_EQUAL(c.token_timestamp_validity_ms, 7200000);
    CU_ASSERT_EQUAL(c.token_max_future_ms, 3600000);
    CU_ASSERT_TRUE(c.token_replay_protection);
    CU_ASSERT_EQUAL(c.token_replay_cache_entries, 1000000);
    CU_ASSERT_EQUAL(c.signature_key_cache_entries, 10000);
    CU_ASSERT_EQUAL(c.audit_retention_ms, 0);
    CU_ASSERT_EQUAL(c.history_retention_ms, 0);
    CU_ASSERT_EQUAL(c.retention_purge_interval_ms, 3600000);
    CU_ASSERT_EQUAL(c.retention_purge_batch, 1000);
    CU_ASSERT_EQUAL(c.recovery_max_failed_attempts, 5);
    CU_ASSERT_FALSE(c.secure_vault_enable_biometric);
    CU_ASSERT_FALSE(c.master_db_encryption_key_set);
    CU_ASSERT_FALSE(c.proxy_enabled);
    CU_ASSERT_STRING_EQUAL(c.proxy_host, "127.0.0.1");
    CU_ASSERT_EQUAL(c.proxy_port, 8080);
    CU_ASSERT_STRING_EQUAL(c.proxy_username, "");
    CU_ASSERT_PTR_NULL(c.proxy_password);
    CU_ASSERT_STRING_EQUAL(c.service_name, "powerauth-java-server");
    CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err), PA_OK);
    pa_config_free(&c);
    /* freeing zeroes the struct, and twice is harmless */
    CU_ASSERT_PTR_NULL(c.listen);
    pa_config_free(&c);
    pa_config_free(NULL);
}

/* --- file syntax --------------------------------------------------------- */

static void test_file_parsing(void)
{
    pa_config c;
    const char *text =
        "\xef\xbb\xbf# a comment\n"
        "\n"
        "   \t  \n"
        "  # indented comment\n"
        "listen = 0.0.0.0:9000\n"
        "workers=3\r\n"
        "application_name = \"  pa #1 \\\"main\\\" C:\\\\x  \"  # trailing\n"
        "application_display_name =  Display Name # comment after value\n"
        "application_environment = test#1\n"
        "service_name = \"\"\n"
        "\trestrict_access\t=\tYes\n"
        "secure_vault_enable_biometric = on\n"
        "proxy_enabled = 1\n"
        "proxy_host = proxy.example.com\n"
        "proxy_username = #\n"
        "log_level = debug\n"
        "log_target = syslog\n"
        "max_body_bytes = 2097152\n"
        "activation_validity_ms = +300000\n"
        "token_timestamp_validity_ms = 315360000000\n"
        "context_path = /pa/\n"
        "database = \"/var/lib/pa server/pa.db\"";   /* no final newline */

    CU_ASSERT_EQUAL_FATAL(pa_config_defaults(&c), PA_OK);
    CU_ASSERT_EQUAL(load_text(&c, text), PA_OK);
    if (err[0])
        fprintf(stderr, "\n%s\n", err);
    CU_ASSERT_STRING_EQUAL(c.listen, "0.0.0.0:9000");
    CU_ASSERT_EQUAL(c.workers, 3);
    CU_ASSERT_STRING_EQUAL(c.application_name, "  pa #1 \"main\" C:\\x  ");
    CU_ASSERT_STRING_EQUAL(c.application_display_name, "Display Name");
    CU_ASSERT_STRING_EQUAL(c.application_environment, "test#1");
    CU_ASSERT_STRING_EQUAL(c.service_name, "");
    CU_ASSERT_TRUE(c.restrict_access);
    CU_ASSERT_TRUE(c.secure_vault_enable_biometric);
    CU_ASSERT_TRUE(c.proxy_enabled);
    CU_ASSERT_STRING_EQUAL(c.proxy_host, "proxy.example.com");
    CU_ASSERT_STRING_EQUAL(c.proxy_username, "");
    CU_ASSERT_EQUAL(c.log_level, PA_LOG_DEBUG);
    CU_ASSERT_EQUAL(c.log_target, PA_LOG_TARGET_SYSLOG);
    CU_ASSERT_EQUAL(c.max_body_bytes, 2097152);
    CU_ASSERT_EQUAL(c.activation_validity_ms, 300000);
    CU_ASSERT_EQUAL(c.token_timestamp_validity_ms, 315360000000LL);
    CU_ASSERT_STRING_EQUAL(c.context_path, "/pa");
    CU_ASSERT_STRING_EQUAL(c.database, "/var/lib/pa server/pa.db");
    /* untouched keys keep their defaults */
    CU_ASSERT_EQUAL(c.proxy_port, 8080);
    CU_ASSERT_EQUAL(c.signature_validation_lookahead, 20);
    CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err), PA_OK);
    pa_config_free(&c);
}

static void test_file_errors(void)
{
    expect_file_error("# ok\nlisten = 127.0.0.1:1\nfrobnicate = 1\n",
                      ":3:", "unknown key 'frobnicate'", NULL);
    expect_file_error("powerauth.service.restrictAccess = true\n", ":1:",
                      "powerauth.service.restrictAccess", "restrict_access",
                      NULL);
    expect_file_error("\nWORKERS = 2\n", ":2:", "WORKERS", "'workers'", NULL);
    expect_file_error("\n\nworkers = abc\n", ":3:", "workers", "abc", NULL);
    expect_file_error("workers = 0\n", ":1:", "workers", "out of range", NULL);
    expect_file_error("workers = 1025\n", "workers", "out of range", NULL);
    expect_file_error("workers = 4 4\n", "workers", NULL);
    expect_file_error("workers = 0x10\n", "workers", NULL);
    expect_file_error("workers =\n", "workers", NULL);
    expect_file_error("max_body_bytes = 99999999999999999999\n",
                      "max_body_bytes", NULL);
    expect_file_error("max_body_bytes = 1023\n", "max_body_bytes",
                      "out of range", NULL);
    expect_file_error("proxy_port = 65536\n", "proxy_port", NULL);
    expect_file_error("max_pipelined_per_turn = 0\n", "max_pipelined_per_turn",
                      "out of range", NULL);
    expect_file_error("max_pipelined_per_turn = 65\n", "max_pipelined_per_turn",
                      "out of range", NULL);
    expect_file_error("signature_validation_lookahead = -1\n",
                      "signature_validation_lookahead", NULL);
    expect_file_error("restrict_access = maybe\n", ":1:", "restrict_access",
                      "maybe", NULL);
    expect_file_error("restrict_access = \n", "restrict_access", NULL);
    expect_file_error("log_level = verbose\n", "log_level", NULL);
    expect_file_error("log_target = file\n", "log_target", NULL);
    expect_file_error("listen = localhost\n", ":1:", "listen", NULL);
    expect_file_error("listen = ::1:8080\n", "listen", NULL);
    expect_file_error("database = \n", "database", "empty", NULL);
    expect_file_error("context_path = powerauth\n", "context_path", NULL);
    expect_file_error("application_name = \"caf\xc3\"\n", "application_name",
                      "UTF-8", NULL);
    /* syntax */
    expect_file_error("a\n\nlisten 127.0.0.1:8080\n", ":1:", "key = value",
                      NULL);
    expect_file_error("= value\n", ":1:", "key = value", NULL);
    expect_file_error("application_name = \"open\n", ":1:",
                      "application_name", "closing", NULL);
    expect_file_error("application_name = \"a\\nb\"\n", "application_name",
                      "escape", NULL);
    expect_file_error("application_name = \"a\" b\n", "application_name",
                      "after the closing", NULL);
    expect_file_error("workers = 2\nlisten = 127.0.0.1:1\nworkers = 3\n",
                      ":3:", "workers", "line 1", NULL);
}

static void test_file_missing(void)
{
    pa_config c;

    CU_ASSERT_EQUAL_FATAL(pa_config_defaults(&c), PA_OK);
    CU_ASSERT_EQUAL(pa_config_load_file(&c, "/nonexistent/paserver.conf", err,
                                        sizeof err), PA_ERR_UNKNOWN_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/paserver.conf"));
    pa_config_free(&c);
}

/* --- secrets ------------------------------------------------------------- */

static void test_secret_in_file_refused(void)
{
    pa_config c;

    expect_file_error("listen = 127.0.0.1:8080\n"
                      "master_db_encryption_key = MDEyMzQ1Njc4OWFiY2RlZg==\n",
                      ":2:", "master_db_encryption_key",
                      "PASERVER_MASTER_DB_ENCRYPTION_KEY", "environment", NULL);
    expect_file_error("proxy_password = hunter2\n", "proxy_password",
                      "PASERVER_PROXY_PASSWORD", NULL);
    /* the value itself never appears in the message */
    CU_ASSERT_EQUAL_FATAL(pa_config_defaults(&c), PA_OK);
    CU_ASSERT_EQUAL(load_text(&c, "proxy_password = hunter2\n"),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_PTR_NULL(strstr(err, "hunter2"));
    CU_ASSERT_PTR_NULL(c.proxy_password);
    /* nor through pa_config_set */
    CU_ASSERT_EQUAL(pa_config_set(&c, "master_db_encryption_key",
                                  "MDEyMzQ1Njc4OWFiY2RlZg==", err, sizeof err),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "PASERVER_MASTER_DB_ENCRYPTION_KEY"));
    CU_ASSERT_FALSE(c.master_db_encryption_key_set);
    pa_config_free(&c);
}

static void test_master_key_env(void)
{
    pa_config c;
    char *env_ok[] = {"PASERVER_MASTER_DB_ENCRYPTION_KEY=MDEyMzQ1Njc4OWFiY2RlZg==",
                      NULL};
    char *env_nopad[] = {"PASERVER_MASTER_DB_ENCRYPTION_KEY=MDEyMzQ1Njc4OWFiY2RlZg",
                         NULL};
    char *env_empty[] = {"PASERVER_MASTER_DB_ENCRYPTION_KEY=", NULL};
    char *env_15[] = {"PASERVER_MASTER_DB_ENCRYPTION_KEY=MDEyMzQ1Njc4OWFiY2Rl", NULL};
    char *env_17[] = {"PASERVER_MASTER_DB_ENCRYPTION_KEY=MDEyMzQ1Njc4OWFiY2RlZmc=",
                      NULL};
    char *env_32[] = {"PASERVER_MASTER_DB_ENCRYPTION_KEY="
                      "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", NULL};
    char *env_junk[] = {"PASERVER_MASTER_DB_ENCRYPTION_KEY=not*base64!", NULL};
    char **bad[] = {env_15, env_17, env_32, env_junk};
    char *d;

    CU_ASSERT_EQUAL_FATAL(pa_config_defaults(&c), PA_OK);
    CU_ASSERT_EQUAL(pa_config_apply_env(&c, env_ok, err, sizeof err), PA_OK);
    CU_ASSERT_TRUE(c.master_db_encryption_key_set);
    CU_ASSERT_EQUAL(memcmp(c.master_db_encryption_key, "0123456789abcdef", 16), 0);
    d = dump_of(&c);
    CU_ASSERT(d && strstr(d, "master_db_encryption_key = (set)\n"));
    CU_ASSERT(d && !strstr(d, "MDEyMzQ1"));
    free(d);
    CU_ASSERT_EQUAL(pa_config_apply_env(&c, env_empty, err, sizeof err), PA_OK);
    CU_ASSERT_FALSE(c.master_db_encryption_key_set);
    CU_ASSERT_EQUAL(pa_config_apply_env(&c, env_nopad, err, sizeof err), PA_OK);
    CU_ASSERT_TRUE(c.master_db_encryption_key_set);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CU_ASSERT_EQUAL(pa_config_apply_env(&c, bad[i], err, sizeof err),
                        PA_ERR_INVALID_INPUT_FORMAT);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "PASERVER_MASTER_DB_ENCRYPTION_KEY"));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "16 bytes"));
        CU_ASSERT_PTR_NULL(strstr(err, "MDEy"));
        CU_ASSERT_PTR_NULL(strstr(err, "base64!"));
        CU_ASSERT_FALSE(c.master_db_encryption_key_set);
    }
    d = dump_of(&c);
    CU_ASSERT(d && strstr(d, "master_db_encryption_key = (unset)\n"));
    free(d);
    pa_config_free(&c);
}

static void test_proxy_password_env(void)
{
    pa_config c;
    char *env[] = {"PASERVER_PROXY_PASSWORD=s3cr=t pass", NULL};
    char *env_empty[] = {"PASERVER_PROXY_PASSWORD=", NULL};
    char *d;

    CU_ASSERT_EQUAL_FATAL(pa_config_defaults(&c), PA_OK);
    d = dump_of(&c);
    CU_ASSERT(d && strstr(d, "proxy_password = (unset)\n"));
    free(d);
    CU_ASSERT_EQUAL(pa_config_apply_env(&c, env, err, sizeof err), PA_OK);
    CU_ASSERT(c.proxy_password && strcmp(c.proxy_password, "s3cr=t pass") == 0);
    d = dump_of(&c);
    CU_ASSERT(d && strstr(d, "proxy_password = (set)\n"));
    CU_ASSERT(d && !strstr(d, "s3cr"));
    free(d);
    CU_ASSERT_EQUAL(pa_config_apply_env(&c, env_empty, err, sizeof err), PA_OK);
    CU_ASSERT_PTR_NULL(c.proxy_password);
    CU_ASSERT_EQUAL(pa_config_apply_env(&c, env, err, sizeof err), PA_OK);
    pa_config_free(&c);          /* valgrind: the password is freed */
}

/* --- environment --------------------------------------------------------- */

/* Every non-secret key, its variable, a non-default value and the dump line
 * that value must produce. */
static const struct {
    const char *var, *dumped;
} every_env[] = {
    {"PASERVER_LISTEN=[::1]:9443", "listen = \"[::1]:9443\""},
    {"PASERVER_CONTEXT_PATH=/", "context_path = \"/\""},
    {"PASERVER_WORKERS=7", "workers = 7"},
    {"PASERVER_MAX_BODY_BYTES=4096", "max_body_bytes = 4096"},
    {"PASERVER_MAX_XML_DEPTH=32", "max_xml_depth = 32"},
    {"PASERVER_MAX_CONNECTIONS=100", "max_connections = 100"},
    {"PASERVER_MAX_CONNECTIONS_PER_PEER=7", "max_connections_per_peer = 7"},
    {"PASERVER_MAX_XML_ATTRIBUTES=17", "max_xml_attributes = 17"},
    {"PASERVER_MAX_XML_NAMESPACES=9", "max_xml_namespaces = 9"},
    {"PASERVER_MAX_HEADER_BYTES=4096", "max_header_bytes = 4096"},
    {"PASERVER_RECV_TIMEOUT_MS=2500", "recv_timeout_ms = 2500"},
    {"PASERVER_SEND_TIMEOUT_MS=3500", "send_timeout_ms = 3500"},
    {"PASERVER_KEEPALIVE_TIMEOUT_MS=0", "keepalive_timeout_ms = 0"},
    {"PASERVER_MAX_PIPELINED_PER_TURN=8", "max_pipelined_per_turn = 8"},
    {"PASERVER_DATABASE=/tmp/x.db", "database = \"/tmp/x.db\""},
    {"PASERVER_LOCK_TIMEOUT_MS=250", "lock_timeout_ms = 250"},
    {"PASERVER_LOG_LEVEL=warn", "log_level = warn"},
    {"PASERVER_LOG_TARGET=syslog", "log_target = syslog"},
    {"PASERVER_APPLICATION_NAME=pa \"x\"", "application_name = \"pa \\\"x\\\"\""},
    {"PASERVER_APPLICATION_DISPLAY_NAME=Disp", "application_display_name = \"Disp\""},
    {"PASERVER_APPLICATION_ENVIRONMENT=prod", "application_environment = \"prod\""},
    {"PASERVER_RESTRICT_ACCESS=true", "restrict_access = true"},
    {"PASERVER_GENERATE_ACTIVATION_ID_ITERATIONS=11",
     "generate_activation_id_iterations = 11"},
    {"PASERVER_GENERATE_TOKEN_ID_ITERATIONS=12", "generate_token_id_iterations = 12"},
    {"PASERVER_GENERATE_ACTIVATION_CODE_ITERATIONS=13",
     "generate_activation_code_iterations = 13"},
    {"PASERVER_GENERATE_RECOVERY_CODE_ITERATIONS=14",
     "generate_recovery_code_iterations = 14"},
    {"PASERVER_ACTIVATION_VALIDITY_MS=600000", "activation_validity_ms = 600000"},
    {"PASERVER_SIGNATURE_MAX_FAILED_ATTEMPTS=3", "signature_max_failed_attempts = 3"},
    {"PASERVER_SIGNATURE_VALIDATION_LOOKAHEAD=50",
     "signature_validation_lookahead = 50"},
    {"PASERVER_CALLBACK_CONNECT_TIMEOUT_MS=1500",
     "callback_connect_timeout_ms = 1500"},
    {"PASERVER_CALLBACK_TIMEOUT_MS=2500", "callback_timeout_ms = 2500"},
    {"PASERVER_CALLBACK_MAX_ATTEMPTS=3", "callback_max_attempts = 3"},
    {"PASERVER_CALLBACK_MAX_AGE_MS=3600000", "callback_max_age_ms = 3600000"},
    {"PASERVER_CALLBACK_RETRY_INITIAL_MS=250",
     "callback_retry_initial_ms = 250"},
    {"PASERVER_CALLBACK_RETRY_MAX_MS=4000", "callback_retry_max_ms = 4000"},
    {"PASERVER_CALLBACK_OUTBOX_MAX=77", "callback_outbox_max = 77"},
    {"PASERVER_CALLBACK_CONCURRENCY=3", "callback_concurrency = 3"},
    {"PASERVER_EXPIRY_SWEEP_INTERVAL_MS=0", "expiry_sweep_interval_ms = 0"},
    {"PASERVER_EXPIRY_SWEEP_BATCH=9", "expiry_sweep_batch = 9"},
    {"PASERVER_TOKEN_TIMESTAMP_VALIDITY_MS=60000",
     "token_timestamp_validity_ms = 60000"},
    {"PASERVER_TOKEN_MAX_FUTURE_MS=0", "token_max_future_ms = 0"},
    {"PASERVER_TOKEN_REPLAY_PROTECTION=false", "token_replay_protection = false"},
    {"PASERVER_TOKEN_REPLAY_CACHE_ENTRIES=5000", "token_replay_cache_entries = 5000"},
    {"PASERVER_SIGNATURE_KEY_CACHE_ENTRIES=0", "signature_key_cache_entries = 0"},
    {"PASERVER_AUDIT_RETENTION_MS=86400000", "audit_retention_ms = 86400000"},
    {"PASERVER_HISTORY_RETENTION_MS=172800000", "history_retention_ms = 172800000"},
    {"PASERVER_RETENTION_PURGE_INTERVAL_MS=5000", "retention_purge_interval_ms = 5000"},
    {"PASERVER_RETENTION_PURGE_BATCH=50", "retention_purge_batch = 50"},
    {"PASERVER_RECOVERY_MAX_FAILED_ATTEMPTS=9", "recovery_max_failed_attempts = 9"},
    {"PASERVER_SECURE_VAULT_ENABLE_BIOMETRIC=YES", "secure_vault_enable_biometric = true"},
    {"PASERVER_PROXY_ENABLED=on", "proxy_enabled = true"},
    {"PASERVER_PROXY_HOST=10.1.2.3", "proxy_host = \"10.1.2.3\""},
    {"PASERVER_PROXY_PORT=3128", "proxy_port = 3128"},
    {"PASERVER_PROXY_USERNAME=svc", "proxy_username = \"svc\""},
    {"PASERVER_SERVICE_NAME=svc-name", "service_name = \"svc-name\""},
    {"PASERVER_TLS_CERT_FILE=/etc/pa/cert.pem", "tls_cert_file = \"/etc/pa/cert.pem\""},
    {"PASERVER_TLS_KEY_FILE=/etc/pa/key.pem", "tls_key_file = \"/etc/pa/key.pem\""},
    {"PASERVER_TLS_CLIENT_CA_FILE=/etc/pa/ca.pem",
     "tls_client_ca_file = \"/etc/pa/ca.pem\""},
    {"PASERVER_PUBLIC_BASE_URL=https://pa.example/gw",
     "public_base_url = \"https://pa.example/gw\""},
    {"PASERVER_WSSE_DIGEST_MAX_AGE_MS=120000", "wsse_digest_max_age_ms = 120000"},
    {"PASERVER_WSSE_DIGEST_FUTURE_SKEW_MS=5000", "wsse_digest_future_skew_ms = 5000"},
    {"PASERVER_WSSE_NONCE_CACHE_ENTRIES=5000", "wsse_nonce_cache_entries = 5000"},
};

#define N_EVERY (sizeof every_env / sizeof every_env[0])

static void test_env_every_key(void)
{
    pa_config c;
    char *envp[N_EVERY + 1], *d;
    char line[160];

    for (size_t i = 0; i < N_EVERY; i++)
        envp[i] = (char *)every_env[i].var;
    envp[N_EVERY] = NULL;
    CU_ASSERT_EQUAL_FATAL(pa_config_defaults(&c), PA_OK);
    CU_ASSERT_EQUAL(pa_config_apply_env(&c, envp, err, sizeof err), PA_OK);
    d = dump_of(&c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    for (size_t i = 0; i < N_EVERY; i++) {
        snprintf(line, sizeof line, "%s\n", every_env[i].dumped);
        if (strstr(d, line) == NULL) {
            fprintf(stderr, "\nmissing: %s", line);
            CU_FAIL("an environment override did not take effect");
        }
    }
    /* the dump has one line per key: these plus the three secrets */
    int lines = 0;
    for (const char *p = d; *p; p++)
        lines += *p == '\n';
    CU_ASSERT_EQUAL(lines, (int)N_EVERY + 3);
    CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err), PA_OK);
    free(d);
    pa_config_free(&c);
}

static void test_env_wins_over_file(void)
{
    pa_config c;
    char *envp[] = {"HOME=/root", "PASERVER_WORKERS=4",
                    "PASERVER_DATABASE=/data/env.db", "PASERVER_CONFIG=/etc/x",
                    "PASERVER_UNKNOWN_THING=1", "PASERVER_WORKERSX=9",
                    "XPASERVER_LISTEN=bad", NULL};

    CU_ASSERT_EQUAL_FATAL(pa_config_defaults(&c), PA_OK);
    CU_ASSERT_EQUAL(load_text(&c, "workers = 3\ndatabase = file.db\n"
                                  "listen = 127.0.0.1:7000\n"), PA_OK);
    CU_ASSERT_EQUAL(pa_config_apply_env(&c, envp, err, sizeof err), PA_OK);
    CU_ASSERT_EQUAL(c.workers, 4);                         /* env */
    CU_ASSERT_STRING_EQUAL(c.database, "/data/env.db");    /* env */
    CU_ASSERT_STRING_EQUAL(c.listen, "127.0.0.1:7000");    /* file */
    CU_ASSERT_EQUAL(c.proxy_port, 8080);                   /* default */
    pa_config_free(&c);
}

static void test_env_process_environment(void)
{
    pa_config c;

    CU_ASSERT_EQUAL_FATAL(setenv("PASERVER_MAX_XML_DEPTH", "99", 1), 0);
    CU_ASSERT_EQUAL_FATAL(pa_config_defaults(&c), PA_OK);
    CU_ASSERT_EQUAL(pa_config_apply_env(&c, NULL, err, sizeof err), PA_OK);
    CU_ASSERT_EQUAL(c.max_xml_depth, 99);
    unsetenv("PASERVER_MAX_XML_DEPTH");
    pa_config_free(&c);
}

static void test_env_bad_values(void)
{
    static const char *const bad[][2] = {
        {"PASERVER_WORKERS=many", "workers"},
        {"PASERVER_LISTEN=nowhere", "listen"},
        {"PASERVER_RESTRICT_ACCESS=perhaps", "restrict_access"},
        {"PASERVER_PROXY_PORT=0", "proxy_port"},
        {"PASERVER_DATABASE=", "database"},
        {"PASERVER_APPLICATION_NAME=line\nbreak", "application_name"},
        {"PASERVER_CALLBACK_MAX_ATTEMPTS=0", "callback_max_attempts"},
        {"PASERVER_CALLBACK_TIMEOUT_MS=0", "callback_timeout_ms"},
        {"PASERVER_CALLBACK_MAX_AGE_MS=999", "callback_max_age_ms"},
        {"PASERVER_CALLBACK_RETRY_INITIAL_MS=0", "callback_retry_initial_ms"},
        {"PASERVER_CALLBACK_RETRY_MAX_MS=86400001", "callback_retry_max_ms"},
        {"PASERVER_CALLBACK_OUTBOX_MAX=0", "callback_outbox_max"},
        {"PASERVER_CALLBACK_CONCURRENCY=0", "callback_concurrency"},
        {"PASERVER_CALLBACK_CONCURRENCY=257", "callback_concurrency"},
        {"PASERVER_EXPIRY_SWEEP_INTERVAL_MS=-1", "expiry_sweep_interval_ms"},
        {"PASERVER_EXPIRY_SWEEP_BATCH=0", "expiry_sweep_batch"},
        {"PASERVER_TOKEN_MAX_FUTURE_MS=-1", "token_max_future_ms"},
        {"PASERVER_TOKEN_REPLAY_PROTECTION=maybe", "token_replay_protection"},
        {"PASERVER_TOKEN_REPLAY_CACHE_ENTRIES=999", "token_replay_cache_entries"},
        {"PASERVER_SIGNATURE_KEY_CACHE_ENTRIES=-1", "signature_key_cache_entries"},
        {"PASERVER_AUDIT_RETENTION_MS=-5", "audit_retention_ms"},
        {"PASERVER_RETENTION_PURGE_INTERVAL_MS=999", "retention_purge_interval_ms"},
        {"PASERVER_RETENTION_PURGE_BATCH=0", "retention_purge_batch"},
    };
    pa_config c;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *envp[] = {(char *)bad[i][0], NULL};
        char var[64];
        CU_ASSERT_EQUAL_FATAL(pa_config_defaults(&c), PA_OK);
        err[0] = '\0';
        CU_ASSERT_EQUAL(pa_config_apply_env(&c, envp, err, sizeof err),
                        PA_ERR_INVALID_INPUT_FORMAT);
        snprintf(var, sizeof var, "%.*s", (int)strcspn(bad[i][0], "="),
                 bad[i][0]);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, var));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i][1]));
        pa_config_free(&c);
    }
}

/* --- pa_config_set ------------------------------------------------------- */

static void test_set_booleans(void)
{
    static const char *const yes[] = {"true", "TRUE", "True", "yes", "Yes",
                                      "on", "ON", "1"};
    static const char *const no[] = {"false", "FALSE", "no", "NO", "off",
                                     "Off", "0"};
    static const char *const bad[] = {"", "2", "y", "n", "t", "truee",
                                      " true", "enabled", "-1"};
    pa_config c;

    CU_ASSERT_EQUAL_FATAL(pa_config_defaults(&c), PA_OK);
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        c.restrict_access = false;
        CU_ASSERT_EQUAL(pa_config_set(&c, "restrict_access", yes[i], err,
                                      sizeof err), PA_OK);
        CU_ASSERT_TRUE(c.restrict_access);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        c.restrict_access = true;
        CU_ASSERT_EQUAL(pa_config_set(&c, "restrict_access", no[i], err,
                                      sizeof err), PA_OK);
        CU_ASSERT_FALSE(c.restrict_access);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CU_ASSERT_EQUAL(pa_config_set(&c, "restrict_access", bad[i], err,
                                      sizeof err), PA_ERR_INVALID_INPUT_FORMAT);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "restrict_access"));
    }
    CU_ASSERT_EQUAL(pa_config_set(&c, "no_such_key", "1", err, sizeof err),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "no_such_key"));
    CU_ASSERT_EQUAL(pa_config_set(&c, "workers", "auto", err, sizeof err),
                    PA_OK);
    CU_ASSERT(c.workers >= 16);
    pa_config_free(&c);
}

/* --- listen addresses ---------------------------------------------------- */

static void test_listen_split(void)
{
    static const struct {
        const char *in, *host;
        int port;
    } good[] = {
        {"127.0.0.1:8080", "127.0.0.1", 8080},
        {"0.0.0.0:1", "0.0.0.0", 1},
        {"[::1]:8080", "::1", 8080},
        {"[::]:443", "::", 443},
        {"[fe80::1:2:3:4]:65535", "fe80::1:2:3:4", 65535},
        {"[::ffff:10.0.0.1]:80", "::ffff:10.0.0.1", 80},
        {"localhost:0", "localhost", 0},
        {"pa-1.example.com:8080", "pa-1.example.com", 8080},
    };
    static const char *const bad[] = {
        "", "127.0.0.1", ":8080", "127.0.0.1:", "127.0.0.1:65536",
        "127.0.0.1:80a", "127.0.0.1:-1", "127.0.0.1:+80", "127.0.0.1:000080",
        "::1:8080", "[::1]8080", "[::1]:", "[::1", "[]:80", "[zz::1]:80",
        "[127.0.0.1]:80", "999.1.1.1:80", "1.2.3:80", "-bad:80", "bad-:80",
        "a..b:80", "a.b.:80", "host name:80", "host_name:80", "*:80",
        " 127.0.0.1:80", "127.0.0.1:80 ",
    };
    char host[PA_CONFIG_HOST_BUF], small[4];
    int port;

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        port = -1;
        CU_ASSERT_EQUAL(pa_config_listen_split(good[i].in, host, sizeof host,
                                               &port), PA_OK);
        CU_ASSERT_STRING_EQUAL(host, good[i].host);
        CU_ASSERT_EQUAL(port, good[i].port);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (pa_config_listen_split(bad[i], host, sizeof host, &port) != 
            PA_ERR_INVALID_INPUT_FORMAT) {
            fprintf(stderr, "\naccepted: '%s'\n", bad[i]);
            CU_FAIL("a bad listen address was accepted");
        }
    CU_ASSERT_EQUAL(pa_config_listen_split(NULL, host, sizeof host, &port),
                    PA_ERR_INVALID_INPUT_FORMAT);
    /* the host must fit */
    CU_ASSERT_EQUAL(pa_config_listen_split("[::1]:80", small, sizeof small,
                                           &port), PA_OK);
    CU_ASSERT_EQUAL(pa_config_listen_split("localhost:80", small, sizeof small,
                                           &port), PA_ERR_INVALID_INPUT_FORMAT);
}

/* --- context path -------------------------------------------------------- */

static void test_context_path(void)
{
    static const char *const norm[][2] = {
        {"/powerauth-java-server", "/powerauth-java-server"},
        {"/", "/"}, {"", "/"}, {"//", "/"}, {"/a/", "/a"}, {"/a///", "/a"},
        {"/a/b", "/a/b"}, {"/a/b/", "/a/b"}, {"/p.a_~-x", "/p.a_~-x"},
    };
    static const char *const bad[] = {
        "a", "powerauth/", "/a//b", "/./a", "/a/..", "/a/../b", "/a b",
        "/a?x=1", "/a#f", "/a%20b", "/caf\xc3\xa9", "http://h/p", "\\a",
    };
    pa_config c;

    CU_ASSERT_EQUAL_FATAL(pa_config_defaults(&c), PA_OK);
    for (size_t i = 0; i < sizeof norm / sizeof norm[0]; i++) {
        CU_ASSERT_EQUAL(pa_config_set(&c, "context_path", norm[i][0], err,
                                      sizeof err), PA_OK);
        CU_ASSERT_STRING_EQUAL(c.context_path, norm[i][1]);
        CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err), PA_OK);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (pa_config_set(&c, "context_path", bad[i], err, sizeof err) !=
            PA_ERR_INVALID_INPUT_FORMAT) {
            fprintf(stderr, "\naccepted: '%s'\n", bad[i]);
            CU_FAIL("a bad context path was accepted");
        }
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "context_path"));
        CU_ASSERT_STRING_EQUAL(c.context_path, "/p.a_~-x");  /* unchanged */
    }
    /* validate wants the normalised form when the field is set by hand */
    free(c.context_path);
    c.context_path = strdup("/pa/");
    CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "context_path"));
    pa_config_free(&c);
}

/* --- validate ------------------------------------------------------------ */

static void test_validate(void)
{
    pa_config c;

    CU_ASSERT_EQUAL_FATAL(pa_config_defaults(&c), PA_OK);
    c.workers = 0;
    CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "workers"));
    c.workers = 2;
    c.token_timestamp_validity_ms = 0;
    CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "token_timestamp_validity_ms"));
    c.token_timestamp_validity_ms = 1000;
    free(c.listen);
    c.listen = strdup("localhost");
    CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "listen"));
    free(c.listen);
    c.listen = strdup("[::1]:8080");
    free(c.service_name);
    c.service_name = NULL;
    CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "service_name"));
    c.service_name = strdup("x");
    c.log_level = (pa_log_level)9;
    CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "log_level"));
    c.log_level = PA_LOG_WARN;
    CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err), PA_OK);
    /* the public base URL goes into XML verbatim: only plain URLs */
    {
        static const char *bad[] = {"pa.example", "ftp://pa.example", "https://",
                                    "https://pa.example/", "https://a\"b",
                                    "https://a<b", "https://a&b", "https://a b",
                                    "https://a'b", "https:///x"};
        static const char *good[] = {"", "http://127.0.0.1:8080", "https://pa.example",
                                     "https://[::1]:8443/gw/pa"};

        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
            CU_ASSERT_EQUAL(pa_config_set(&c, "public_base_url", bad[i], err,
                                          sizeof err), PA_OK);
            CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err),
                            PA_ERR_INVALID_INPUT_FORMAT);
            CU_ASSERT_PTR_NOT_NULL(strstr(err, "public_base_url"));
        }
        for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
            CU_ASSERT_EQUAL(pa_config_set(&c, "public_base_url", good[i], err,
                                          sizeof err), PA_OK);
            CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err), PA_OK);
        }
    }
    /* TLS: certificate and key together; client CAs only with them */
    CU_ASSERT_EQUAL(pa_config_set(&c, "tls_cert_file", "c.pem", err, sizeof err), PA_OK);
    CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "tls_key_file"));
    CU_ASSERT_EQUAL(pa_config_set(&c, "tls_key_file", "k.pem", err, sizeof err), PA_OK);
    CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err), PA_OK);
    CU_ASSERT_EQUAL(pa_config_set(&c, "tls_cert_file", "", err, sizeof err), PA_OK);
    CU_ASSERT_EQUAL(pa_config_set(&c, "tls_key_file", "", err, sizeof err), PA_OK);
    CU_ASSERT_EQUAL(pa_config_set(&c, "tls_client_ca_file", "ca.pem", err, sizeof err),
                    PA_OK);
    CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "tls_client_ca_file"));
    CU_ASSERT_EQUAL(pa_config_set(&c, "tls_client_ca_file", "", err, sizeof err), PA_OK);
    /* the key password is a secret: never from a file or pa_config_set */
    CU_ASSERT_NOT_EQUAL(pa_config_set(&c, "tls_key_password", "pw", err, sizeof err),
                        PA_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "PASERVER_TLS_KEY_PASSWORD"));
    /* a proxy needs a host */
    CU_ASSERT_EQUAL(pa_config_set(&c, "proxy_enabled", "true", err, sizeof err),
                    PA_OK);
    CU_ASSERT_EQUAL(pa_config_set(&c, "proxy_host", "", err, sizeof err), PA_OK);
    CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "proxy_host"));
    CU_ASSERT_EQUAL(pa_config_set(&c, "proxy_enabled", "false", err, sizeof err),
                    PA_OK);
    CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err), PA_OK);
    /* the first retry delay cannot exceed the cap */
    CU_ASSERT_EQUAL(pa_config_set(&c, "callback_retry_initial_ms", "5000", err,
                                  sizeof err), PA_OK);
    CU_ASSERT_EQUAL(pa_config_set(&c, "callback_retry_max_ms", "4999", err,
                                  sizeof err), PA_OK);
    CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "callback_retry_initial_ms"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "callback_retry_max_ms"));
    CU_ASSERT_EQUAL(pa_config_set(&c, "callback_retry_max_ms", "5000", err,
                                  sizeof err), PA_OK);
    CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err), PA_OK);
    /* the sweep interval: 0 (off) or at least a second */
    CU_ASSERT_EQUAL(pa_config_set(&c, "expiry_sweep_interval_ms", "999", err,
                                  sizeof err), PA_OK);
    CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "expiry_sweep_interval_ms"));
    CU_ASSERT_EQUAL(pa_config_set(&c, "expiry_sweep_interval_ms", "0", err,
                                  sizeof err), PA_OK);
    CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err), PA_OK);
    CU_ASSERT_EQUAL(pa_config_set(&c, "expiry_sweep_interval_ms", "1000", err,
                                  sizeof err), PA_OK);
    CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err), PA_OK);
    /* ranges are also checked on structs changed by hand */
    c.callback_outbox_max = 0;
    CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "callback_outbox_max"));
    c.callback_outbox_max = 10;
    c.callback_concurrency = 257;
    CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "callback_concurrency"));
    c.callback_concurrency = 256;
    CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err), PA_OK);
    c.callback_concurrency = 0;
    CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "callback_concurrency"));
    c.callback_concurrency = 1;
    c.expiry_sweep_batch = 100001;
    CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "expiry_sweep_batch"));
    c.expiry_sweep_batch = 1;
    CU_ASSERT_EQUAL(pa_config_validate(&c, err, sizeof err), PA_OK);
    pa_config_free(&c);
}

/* --- dump and the sample file -------------------------------------------- */

static void test_dump_reloads(void)
{
    pa_config a, b;
    char *d1, *d2, *path;

    CU_ASSERT_EQUAL_FATAL(pa_config_defaults(&a), PA_OK);
    CU_ASSERT_EQUAL(pa_config_set(&a, "application_name", "x \"#\\ y", err,
                                  sizeof err), PA_OK);
    CU_ASSERT_EQUAL(pa_config_set(&a, "workers", "5", err, sizeof err), PA_OK);
    d1 = dump_of(&a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d1);
    CU_ASSERT_PTR_NOT_NULL(strstr(d1, "listen = \"127.0.0.1:8080\"\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d1, "application_name = \"x \\\"#\\\\ y\"\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d1, "restrict_access = false\n"));
    /* the dump without its secret lines is a file that loads back */
    char *sec = strstr(d1, "master_db_encryption_key =");
    CU_ASSERT_PTR_NOT_NULL_FATAL(sec);
    char saved = *sec;
    *sec = '\0';
    path = temp_file(d1);
    *sec = saved;
    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    CU_ASSERT_EQUAL_FATAL(pa_config_defaults(&b), PA_OK);
    CU_ASSERT_EQUAL(pa_config_load_file(&b, path, err, sizeof err), PA_OK);
    d2 = dump_of(&b);
    CU_ASSERT(d2 && strcmp(d1, d2) == 0);
    unlink(path);
    free(path);
    free(d1);
    free(d2);
    pa_config_free(&a);
    pa_config_free(&b);
}

/* Every key of the dump is in paserver.conf.sample as a commented
 * "#key = default" line (secrets as PASERVER_ variables), and the sample
 * with those lines uncommented loads to exactly the defaults. */
static void test_sample_file(void)
{
    const char *top = getenv("PA_SRCDIR") ? getenv("PA_SRCDIR") : PA_TOP_SRCDIR;
    char sample[4096];
    FILE *f;
    char *line = NULL, *text = NULL, *d_def, *d_sample, *path;
    size_t cap = 0, len = 0;
    ssize_t n;
    pa_config def, smp;

    snprintf(sample, sizeof sample, "%s/paserver.conf.sample", top);
    f = fopen(sample, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    while ((n = getline(&line, &cap, f)) >= 0) {
        /* "#key = value" lines become settings; everything else stays */
        int setting = line[0] == '#' && line[1] >= 'a' && line[1] <= 'z';
        char *grown = realloc(text, len + (size_t)n + 1);
        if (grown == NULL)
            break;
        text = grown;
        memcpy(text + len, line + setting, (size_t)n - (size_t)setting);
        len += (size_t)n - (size_t)setting;
        text[len] = '\0';
    }
    free(line);
    fclose(f);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_EQUAL_FATAL(pa_config_defaults(&def), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_config_defaults(&smp), PA_OK);
    /* start from values that differ from every default, so that a key
     * missing from the sample shows up in the comparison */
    char *envp[N_EVERY + 1];
    for (size_t i = 0; i < N_EVERY; i++)
        envp[i] = (char *)every_env[i].var;
    envp[N_EVERY] = NULL;
    CU_ASSERT_EQUAL(pa_config_apply_env(&smp, envp, err, sizeof err), PA_OK);
    path = temp_file(text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    err[0] = '\0';
    CU_ASSERT_EQUAL(pa_config_load_file(&smp, path, err, sizeof err), PA_OK);
    if (err[0])
        fprintf(stderr, "\n%s\n", err);
    d_def = dump_of(&def);
    d_sample = dump_of(&smp);
    CU_ASSERT(d_def && d_sample && strcmp(d_def, d_sample) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "PASERVER_MASTER_DB_ENCRYPTION_KEY"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "PASERVER_PROXY_PASSWORD"));
    /* the mapping table names each original property of CONTRACT.md */
    static const char *const props[] = {
        "powerauth.service.applicationName",
        "powerauth.service.applicationDisplayName",
        "powerauth.service.applicationEnvironment",
        "powerauth.service.restrictAccess",
        "powerauth.service.crypto.generateActivationIdIterations",
        "powerauth.service.crypto.generateTokenIdIterations",
        "powerauth.service.crypto.generateActivationCodeIterations",
        "powerauth.service.crypto.generateRecoveryCodeIterations",
        "powerauth.service.crypto.activationValidityInMilliseconds",
        "powerauth.service.crypto.signatureMaxFailedAttempts",
        "powerauth.service.crypto.signatureValidationLookahead",
        "powerauth.service.http.connection.timeout",
        "powerauth.service.token.timestamp.validity",
        "powerauth.service.recovery.maxFailedAttempts",
        "powerauth.service.secureVault.enableBiometricAuthentication",
        "powerauth.server.db.master.encryption.key",
        "spring.jpa.properties.lock.timeout",
        "powerauth.service.http.proxy.enabled",
        "powerauth.service.http.proxy.host",
        "powerauth.service.http.proxy.port",
        "powerauth.service.http.proxy.username",
        "powerauth.service.http.proxy.password",
        "spring.application.name",
    };
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++)
        CU_ASSERT_PTR_NOT_NULL(strstr(text, props[i]));
    unlink(path);
    free(path);
    free(text);
    free(d_def);
    free(d_sample);
    pa_config_free(&def);
    pa_config_free(&smp);
}

int register_config_suite(void)
{
    CU_pSuite s = CU_add_suite("config", NULL, NULL);

    if (s == NULL)
        return -1;
    if (!CU_add_test(s, "defaults (CONTRACT.md)", test_defaults) ||
        !CU_add_test(s, "file parsing", test_file_parsing) ||
        !CU_add_test(s, "file errors name file:line and key", test_file_errors) ||
        !CU_add_test(s, "missing file", test_file_missing) ||
        !CU_add_test(s, "secret in file refused", test_secret_in_file_refused) ||
        !CU_add_test(s, "master key from env, Base64 16 bytes", test_master_key_env) ||
        !CU_add_test(s, "proxy password from env", test_proxy_password_env) ||
        !CU_add_test(s, "every key from env", test_env_every_key) ||
        !CU_add_test(s, "env wins over file", test_env_wins_over_file) ||
        !CU_add_test(s, "process environment", test_env_process_environment) ||
        !CU_add_test(s, "bad env values name the variable", test_env_bad_values) ||
        !CU_add_test(s, "set and booleans", test_set_booleans) ||
        !CU_add_test(s, "listen split", test_listen_split) ||
        !CU_add_test(s, "context path normalisation", test_context_path) ||
        !CU_add_test(s, "validate", test_validate) ||
        !CU_add_test(s, "dump reloads", test_dump_reloads) ||
        !CU_add_test(s, "sample file", test_sample_file))
        return -1;
    return 0;
}
