/*
 * config.c - settings: defaults, file, environment, checks, see config.h.
 *
 * One table describes every key (name, type, place in pa_config, range,
 * default as text, original PowerAuth property).  Defaults, the file, the
 * environment, pa_config_set, validation and the dump all walk that table
 * and share one parser per type, so a key cannot be accepted in one place
 * and refused in another, and adding a key is one line here plus one field
 * in config.h (and its entry in paserver.conf.sample, which a test checks).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "util/base64.h"
#include "util/config.h"

typedef enum key_kind {
    K_STR,          /* printable UTF-8, may be empty */
    K_NONEMPTY,     /* printable UTF-8, not empty */
    K_LISTEN,       /* host:port */
    K_CTXPATH,      /* URL path prefix, normalised */
    K_INT,          /* int within [min, max] */
    K_WORKERS,      /* K_INT, or "auto" */
    K_I64,          /* int64_t within [min, max] */
    K_BOOL,
    K_LEVEL,
    K_TARGET,
    K_SECRET_KEY,   /* Base64 16-byte key, environment only */
    K_SECRET_STR    /* string, environment only */
} key_kind;

typedef struct key_desc {
    const char *key;
    key_kind kind;
    size_t off;
    int64_t min, max;
    const char *def;        /* default in text form; NULL for secrets */
    const char *property;   /* the original's property, NULL when none */
} key_desc;

#define OFF(f) offsetof(pa_config, f)
#define MAX_WORKERS 1024
#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL
#define YEAR_MS 31536000000LL
#define TEN_YEARS_MS 315360000000LL
#define PSH "powerauth.service."

static const key_desc keys[] = {
    {"listen", K_LISTEN, OFF(listen), 0, 0, "127.0.0.1:8080", NULL},
    {"context_path", K_CTXPATH, OFF(context_path), 0, 0,
     "/powerauth-java-server", NULL},
    {"workers", K_WORKERS, OFF(workers), 1, MAX_WORKERS, "auto", NULL},
    {"max_body_bytes", K_I64, OFF(max_body_bytes), 1024, 1LL << 30,
     "1048576", NULL},
    {"max_xml_depth", K_INT, OFF(max_xml_depth), 8, 10000, "64", NULL},
    {"max_connections", K_INT, OFF(max_connections), 16, 1048576, "4096", NULL},
    {"max_connections_per_peer", K_INT, OFF(max_connections_per_peer), 1, 1048576,
     "1024", NULL},
    {"max_xml_attributes", K_INT, OFF(max_xml_attributes), 4, 100000, "64",
     NULL},
    {"max_xml_namespaces", K_INT, OFF(max_xml_namespaces), 4, 100000, "32",
     NULL},
    {"max_header_bytes", K_I64, OFF(max_header_bytes), 1024, 16777216,
     "65536", NULL},
    {"recv_timeout_ms", K_INT, OFF(recv_timeout_ms), 100, HOUR_MS, "10000",
     NULL},
    {"send_timeout_ms", K_INT, OFF(send_timeout_ms), 100, HOUR_MS, "10000",
     NULL},
    {"keepalive_timeout_ms", K_INT, OFF(keepalive_timeout_ms), 0, HOUR_MS,
     "30000", NULL},
    {"max_pipelined_per_turn", K_INT, OFF(max_pipelined_per_turn), 1, 64, "1",
     NULL},
    {"database", K_NONEMPTY, OFF(database), 0, 0, "paserver.db", NULL},
    {"lock_timeout_ms", K_INT, OFF(lock_timeout_ms), 0, HOUR_MS, "10000",
     "spring.jpa.properties.lock.timeout"},
    {"log_level", K_LEVEL, OFF(log_level), 0, 0, "info", NULL},
    {"log_target", K_TARGET, OFF(log_target), 0, 0, "stderr", NULL},
    {"application_name", K_STR, OFF(application_name), 0, 0,
     "powerauth-server", PSH "applicationName"},
    {"application_display_name", K_STR, OFF(application_display_name), 0, 0,
     "PowerAuth Server", PSH "applicationDisplayName"},
    {"application_environment", K_STR, OFF(application_environment), 0, 0,
     "", PSH "applicationEnvironment"},
    {"wsse_digest_max_age_ms", K_I64, OFF(wsse_digest_max_age_ms), 1000,
     TEN_YEARS_MS, "300000", NULL},
    {"wsse_digest_future_skew_ms", K_I64, OFF(wsse_digest_future_skew_ms), 0,
     HOUR_MS, "60000", NULL},
    {"wsse_nonce_cache_entries", K_INT, OFF(wsse_nonce_cache_entries), 1000,
     100000000, "100000", NULL},
    {"restrict_access", K_BOOL, OFF(restrict_access), 0, 0, "false",
     PSH "restrictAccess"},
    {"generate_activation_id_iterations", K_INT,
     OFF(generate_activation_id_iterations), 1, 1000, "10",
     PSH "crypto.generateActivationIdIterations"},
    {"generate_token_id_iterations", K_INT, OFF(generate_token_id_iterations),
     1, 1000, "10", PSH "crypto.generateTokenIdIterations"},
    {"generate_activation_code_iterations", K_INT,
     OFF(generate_activation_code_iterations), 1, 1000, "10",
     PSH "crypto.generateActivationCodeIterations"},
    {"generate_recovery_code_iterations", K_INT,
     OFF(generate_recovery_code_iterations), 1, 1000, "10",
     PSH "crypto.generateRecoveryCodeIterations"},
    {"activation_validity_ms", K_I64, OFF(activation_validity_ms), 1,
     TEN_YEARS_MS, "120000", PSH "crypto.activationValidityInMilliseconds"},
    {"signature_max_failed_attempts", K_INT,
     OFF(signature_max_failed_attempts), 1, 1000000, "5",
     PSH "crypto.signatureMaxFailedAttempts"},
    {"signature_validation_lookahead", K_INT,
     OFF(signature_validation_lookahead), 1, 10000, "20",
     PSH "crypto.signatureValidationLookahead"},
    {"callback_connect_timeout_ms", K_INT, OFF(callback_connect_timeout_ms), 1,
     600000, "5000", PSH "http.connection.timeout"},
    {"callback_timeout_ms", K_INT, OFF(callback_timeout_ms), 1, HOUR_MS,
     "10000", NULL},
    {"callback_max_attempts", K_INT, OFF(callback_max_attempts), 1, 1000, "12",
     NULL},
    {"callback_max_age_ms", K_I64, OFF(callback_max_age_ms), 1000, YEAR_MS,
     "86400000", NULL},
    {"callback_retry_initial_ms", K_INT, OFF(callback_retry_initial_ms), 1,
     DAY_MS, "1000", NULL},
    {"callback_retry_max_ms", K_INT, OFF(callback_retry_max_ms), 1, DAY_MS,
     "600000", NULL},
    {"callback_outbox_max", K_I64, OFF(callback_outbox_max), 1, 1000000000,
     "100000", NULL},
    {"callback_concurrency", K_INT, OFF(callback_concurrency), 1, 256, "8",
     NULL},
    {"expiry_sweep_interval_ms", K_INT, OFF(expiry_sweep_interval_ms), 0,
     DAY_MS, "60000", NULL},
    {"expiry_sweep_batch", K_INT, OFF(expiry_sweep_batch), 1, 100000, "500",
     NULL},
    {"token_timestamp_validity_ms", K_I64, OFF(token_timestamp_validity_ms), 1,
     TEN_YEARS_MS, "7200000", PSH "token.timestamp.validity"},
    {"token_max_future_ms", K_I64, OFF(token_max_future_ms), 0, TEN_YEARS_MS,
     "3600000", NULL},
    {"token_replay_protection", K_BOOL, OFF(token_replay_protection), 0, 0,
     "true", NULL},
    {"token_replay_cache_entries", K_INT, OFF(token_replay_cache_entries),
     1000, 100000000, "1000000", NULL},
    {"signature_key_cache_entries", K_INT, OFF(signature_key_cache_entries), 0,
     10000000, "10000", NULL},
    {"audit_retention_ms", K_I64, OFF(audit_retention_ms), 0, TEN_YEARS_MS * 10,
     "0", NULL},
    {"history_retention_ms", K_I64, OFF(history_retention_ms), 0,
     TEN_YEARS_MS * 10, "0", NULL},
    {"retention_purge_interval_ms", K_INT, OFF(retention_purge_interval_ms),
     1000, DAY_MS, "3600000", NULL},
    {"retention_purge_batch", K_INT, OFF(retention_purge_batch), 1, 100000,
     "1000", NULL},
    {"recovery_max_failed_attempts", K_INT, OFF(recovery_max_failed_attempts),
     1, 1000000, "5", PSH "recovery.maxFailedAttempts"},
    {"secure_vault_enable_biometric", K_BOOL,
     OFF(secure_vault_enable_biometric), 0, 0, "false",
     PSH "secureVault.enableBiometricAuthentication"},
    {"proxy_enabled", K_BOOL, OFF(proxy_enabled), 0, 0, "false",
     PSH "http.proxy.enabled"},
    {"proxy_host", K_STR, OFF(proxy_host), 0, 0, "127.0.0.1",
     PSH "http.proxy.host"},
    {"proxy_port", K_INT, OFF(proxy_port), 1, 65535, "8080",
     PSH "http.proxy.port"},
    {"proxy_username", K_STR, OFF(proxy_username), 0, 0, "",
     PSH "http.proxy.username"},
    {"public_base_url", K_STR, OFF(public_base_url), 0, 0, "", NULL},
    {"tls_cert_file", K_STR, OFF(tls_cert_file), 0, 0, "", NULL},
    {"tls_key_file", K_STR, OFF(tls_key_file), 0, 0, "", NULL},
    {"tls_client_ca_file", K_STR, OFF(tls_client_ca_file), 0, 0, "", NULL},
    {"service_name", K_STR, OFF(service_name), 0, 0, "powerauth-java-server",
     "spring.application.name"},
    {"master_db_encryption_key", K_SECRET_KEY, 0, 0, 0, NULL,
     "powerauth.server.db.master.encryption.key"},
    {"proxy_password", K_SECRET_STR, OFF(proxy_password), 0, 0, NULL,
     PSH "http.proxy.password"},
    {"tls_key_password", K_SECRET_STR, OFF(tls_key_password), 0, 0, NULL, NULL},
};

#define NKEYS (sizeof keys / sizeof keys[0])
#define ENV_PREFIX "PASERVER_"
#define ENV_NAME_BUF 64
#define WHY_BUF 256

/* --- small helpers ------------------------------------------------------- */

static void set_err(char *buf, size_t len, const char *fmt, ...)
    PA_LOG_PRINTF(3, 4);

static void set_err(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (buf == NULL || len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

static void *field(pa_config *c, const key_desc *d)
{
    return (char *)c + d->off;
}

static const void *cfield(const pa_config *c, const key_desc *d)
{
    return (const char *)c + d->off;
}

static int is_secret(const key_desc *d)
{
    return d->kind == K_SECRET_KEY || d->kind == K_SECRET_STR;
}

static int is_string(const key_desc *d)
{
    return d->kind == K_STR || d->kind == K_NONEMPTY || d->kind == K_LISTEN ||
           d->kind == K_CTXPATH;
}

static const key_desc *find_key(const char *key)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].key, key) == 0)
            return &keys[i];
    return NULL;
}

/* "PASERVER_" + the key in upper case. */
static void env_name(const key_desc *d, char out[ENV_NAME_BUF])
{
    size_t n = strlen(ENV_PREFIX);

    memcpy(out, ENV_PREFIX, n);
    for (const char *k = d->key; *k != '\0' && n < ENV_NAME_BUF - 1; k++)
        out[n++] = (char)toupper((unsigned char)*k);
    out[n] = '\0';
}

static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : (int)n;
}

/* --- text checks --------------------------------------------------------- */

/* true when s is well-formed UTF-8 (no overlongs, surrogates or values
 * past U+10FFFF), since strings end up in XML responses. */
static bool utf8_ok(const unsigned char *s)
{
    while (*s != '\0') {
        unsigned cp, min;
        int more;
        if (*s < 0x80) {
            s++;
            continue;
        }
        if ((*s & 0xe0) == 0xc0) { more = 1; cp = *s & 0x1fu; min = 0x80; }
        else if ((*s & 0xf0) == 0xe0) { more = 2; cp = *s & 0x0fu; min = 0x800; }
        else if ((*s & 0xf8) == 0xf0) { more = 3; cp = *s & 0x07u; min = 0x10000; }
        else return false;
        for (int i = 1; i <= more; i++) {
            if ((s[i] & 0xc0) != 0x80)      /* also stops at the NUL */
                return false;
            cp = cp << 6 | (s[i] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        s += more + 1;
    }
    return true;
}

/* Common rules for every string value. */
static bool text_ok(const char *s, char *why, size_t wl)
{
    size_t n = strlen(s);

    if (n > PA_CONFIG_MAX_STRING) {
        snprintf(why, wl, "value longer than %d bytes", PA_CONFIG_MAX_STRING);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            snprintf(why, wl, "value contains a control character");
            return false;
        }
    if (!utf8_ok((const unsigned char *)s)) {
        snprintf(why, wl, "value is not valid UTF-8");
        return false;
    }
    return true;
}

/* --- listen address ------------------------------------------------------ */

/* A DNS name or a dotted IPv4 address. */
static bool host_ok(const char *h, size_t n)
{
    char tmp[PA_CONFIG_HOST_BUF];
    size_t label = 0;
    bool numeric = true;

    if (n == 0 || n >= sizeof tmp)
        return false;
    memcpy(tmp, h, n);
    tmp[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)tmp[i]) && tmp[i] != '.')
            numeric = false;
    if (numeric) {
        struct in_addr a;
        return inet_pton(AF_INET, tmp, &a) == 1;
    }
    for (size_t i = 0; i <= n; i++) {
        char ch = tmp[i];
        if (ch == '.' || ch == '\0') {
            if (label == 0 || label > 63 || tmp[i - 1] == '-' ||
                tmp[i - label] == '-')
                return false;
            label = 0;
        } else if (isalnum((unsigned char)ch) || ch == '-') {
            label++;
        } else {
            return false;
        }
    }
    return true;
}

/* "[v6]" at s: the address between the brackets, checked. */
static bool v6_ok(const char *h, size_t n)
{
    char tmp[64];
    struct in6_addr a;

    if (n == 0 || n >= sizeof tmp)
        return false;
    memcpy(tmp, h, n);
    tmp[n] = '\0';
    return inet_pton(AF_INET6, tmp, &a) == 1;
}

static bool port_ok(const char *s, int *port)
{
    int v = 0, n = 0;

    for (; s[n] != '\0'; n++) {
        if (!isdigit((unsigned char)s[n]) || n >= 5)
            return false;
        v = v * 10 + (s[n] - '0');
    }
    if (n == 0 || v > 65535)
        return false;
    *port = v;
    return true;
}

pa_err pa_config_listen_split(const char *listen, char *host, size_t hostlen,
                              int *port)
{
    const char *h, *rest;
    size_t n;
    int p;

    if (listen == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (close == NULL || close[1] != ':')
            return PA_ERR_INVALID_INPUT_FORMAT;
        h = listen + 1;
        n = (size_t)(close - h);
        rest = close + 2;
        if (!v6_ok(h, n))
            return PA_ERR_INVALID_INPUT_FORMAT;
    } else {
        const char *colon = strrchr(listen, ':');
        if (colon == NULL)
            return PA_ERR_INVALID_INPUT_FORMAT;
        h = listen;
        n = (size_t)(colon - listen);
        rest = colon + 1;
        /* an IPv6 address without brackets is ambiguous with the port */
        if (memchr(h, ':', n) != NULL || !host_ok(h, n))
            return PA_ERR_INVALID_INPUT_FORMAT;
    }
    if (!port_ok(rest, &p) || host == NULL || n >= hostlen)
        return PA_ERR_INVALID_INPUT_FORMAT;
    memcpy(host, h, n);
    host[n] = '\0';
    if (port != NULL)
        *port = p;
    return PA_OK;
}

static bool listen_ok(const char *s, char *why, size_t wl)
{
    char host[PA_CONFIG_HOST_BUF];
    int port;

    if (pa_config_listen_split(s, host, sizeof host, &port) == PA_OK)
        return true;
    snprintf(why, wl, "'%.64s' is not host:port (IPv4 address, DNS name or "
             "[IPv6 address], port 0..65535)", s);
    return false;
}

/* --- context path -------------------------------------------------------- */

/* Characters RFC 3986 allows in a path segment, without percent-escapes. */
static bool path_char_ok(char ch)
{
    return isalnum((unsigned char)ch) || strchr("-._~!$&'()*+,;=:@", ch);
}

/* Checks an already normalised path: "/" or "/seg(/seg)*" with no empty,
 * "." or ".." segment. */
static bool ctxpath_canonical(const char *s, char *why, size_t wl)
{
    if (s[0] != '/') {
        snprintf(why, wl, "'%.64s' must start with '/'", s);
        return false;
    }
    if (s[1] == '\0')
        return true;
    for (const char *seg = s + 1;;) {
        size_t n = strcspn(seg, "/");
        if (n == 0 || (n == 1 && seg[0] == '.') ||
            (n == 2 && seg[0] == '.' && seg[1] == '.')) {
            snprintf(why, wl, "'%.64s' has an empty, '.' or '..' segment%s",
                     s, seg[n] == '\0' && n == 0 ? " (trailing '/')" : "");
            return false;
        }
        for (size_t i = 0; i < n; i++)
            if (!path_char_ok(seg[i])) {
                snprintf(why, wl, "'%.64s' contains '%c', which a URL path "
                         "cannot hold unescaped", s, seg[i]);
                return false;
            }
        if (seg[n] == '\0')
            return true;
        seg += n + 1;
    }
}

/* "" -> "/"; trailing slashes dropped ("/a/" -> "/a", "//" -> "/"); the
 * rest must then be canonical.  *out is malloc'ed. */
static pa_err ctxpath_normalise(const char *in, char **out, char *why,
                                size_t wl)
{
    size_t n = strlen(in);
    char *s;

    if (n > 0 && in[0] != '/') {
        snprintf(why, wl, "'%.64s' must start with '/'", in);
        return PA_ERR_INVALID_INPUT_FORMAT;
    }
    while (n > 1 && in[n - 1] == '/')
        n--;
    s = malloc(n + 2);
    if (s == NULL) {
        snprintf(why, wl, "out of memory");
        return PA_ERR_UNKNOWN_ERROR;
    }
    if (n == 0)
        strcpy(s, "/");
    else {
        memcpy(s, in, n);
        s[n] = '\0';
    }
    if (!ctxpath_canonical(s, why, wl)) {
        free(s);
        return PA_ERR_INVALID_INPUT_FORMAT;
    }
    *out = s;
    return PA_OK;
}

/* --- scalar parsers ------------------------------------------------------ */

/* Optional sign and 1..18 decimal digits, nothing else. */
static bool parse_int(const char *s, int64_t *v)
{
    int64_t r = 0;
    int neg = 0, n = 0;

    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    for (; s[n] != '\0'; n++) {
        if (!isdigit((unsigned char)s[n]) || n >= 18)
            return false;
        r = r * 10 + (s[n] - '0');
    }
    if (n == 0)
        return false;
    *v = neg ? -r : r;
    return true;
}

static bool parse_bool(const char *s, bool *v)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};

    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *v = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *v = false;
            return true;
        }
    }
    return false;
}

/* --- setting one value --------------------------------------------------- */

static bool range_ok(const key_desc *d, int64_t v, char *why, size_t wl)
{
    if (v >= d->min && v <= d->max)
        return true;
    snprintf(why, wl, "%lld is out of range %lld..%lld", (long long)v,
             (long long)d->min, (long long)d->max);
    return false;
}

static pa_err set_number(pa_config *c, const key_desc *d, const char *text,
                         char *why, size_t wl)
{
    int64_t v;

    if (d->kind == K_WORKERS && strcmp(text, "auto") == 0) {
        /* Workers spend most of a write waiting for its group commit's
         * fsync, and a batch can only carry the requests in flight: 2 per
         * core left VerifySignature at 2.4 verifications per fsync, 16
         * reached 8.8 and twice the rate (BENCHMARKS.md). */
        int cpus = online_cpus();
        v = cpus * 8 < 16 ? 16 : cpus * 8;
        if (v > MAX_WORKERS)
            v = MAX_WORKERS;
    } else if (!parse_int(text, &v)) {
        snprintf(why, wl, "'%.64s' is not a whole number%s", text,
                 d->kind == K_WORKERS ? " or 'auto'" : "");
        return PA_ERR_INVALID_INPUT_FORMAT;
    }
    if (!range_ok(d, v, why, wl))
        return PA_ERR_INVALID_INPUT_FORMAT;
    if (d->kind == K_I64)
        *(int64_t *)field(c, d) = v;
    else
        *(int *)field(c, d) = (int)v;
    return PA_OK;
}

static pa_err set_string(pa_config *c, const key_desc *d, const char *text,
                         char *why, size_t wl)
{
    char **slot = field(c, d), *copy = NULL;
    pa_err e;

    if (!text_ok(text, why, wl))
        return PA_ERR_INVALID_INPUT_FORMAT;
    if (d->kind == K_NONEMPTY && text[0] == '\0') {
        snprintf(why, wl, "must not be empty");
        return PA_ERR_INVALID_INPUT_FORMAT;
    }
    if (d->kind == K_LISTEN && !listen_ok(text, why, wl))
        return PA_ERR_INVALID_INPUT_FORMAT;
    if (d->kind == K_CTXPATH) {
        e = ctxpath_normalise(text, &copy, why, wl);
        if (e != PA_OK)
            return e;
    } else if ((copy = strdup(text)) == NULL) {
        snprintf(why, wl, "out of memory");
        return PA_ERR_UNKNOWN_ERROR;
    }
    free(*slot);
    *slot = copy;
    return PA_OK;
}

/* Non-secret keys: text -> field. */
static pa_err set_value(pa_config *c, const key_desc *d, const char *text,
                        char *why, size_t wl)
{
    bool b;

    switch (d->kind) {
    case K_INT:
    case K_WORKERS:
    case K_I64:
        return set_number(c, d, text, why, wl);
    case K_BOOL:
        if (!parse_bool(text, &b)) {
            snprintf(why, wl, "'%.64s' is not a boolean (true/false, yes/no, "
                     "on/off, 1/0)", text);
            return PA_ERR_INVALID_INPUT_FORMAT;
        }
        *(bool *)field(c, d) = b;
        return PA_OK;
    case K_LEVEL:
        if (pa_log_level_parse(text, field(c, d)) != PA_OK) {
            snprintf(why, wl, "'%.64s' is not one of error, warn, info, "
                     "debug", text);
            return PA_ERR_INVALID_INPUT_FORMAT;
        }
        return PA_OK;
    case K_TARGET:
        if (pa_log_target_parse(text, field(c, d)) != PA_OK) {
            snprintf(why, wl, "'%.64s' is not one of stderr, syslog", text);
            return PA_ERR_INVALID_INPUT_FORMAT;
        }
        return PA_OK;
    case K_SECRET_KEY:
    case K_SECRET_STR:
        break;
    default:
        return set_string(c, d, text, why, wl);
    }
    snprintf(why, wl, "internal error: secret through set_value");
    return PA_ERR_UNKNOWN_ERROR;
}

/* Secrets from the environment; the value never appears in a message. */
static pa_err set_secret(pa_config *c, const key_desc *d, const char *text,
                         char *why, size_t wl)
{
    if (d->kind == K_SECRET_KEY) {
        OPENSSL_cleanse(c->master_db_encryption_key,
                        sizeof c->master_db_encryption_key);
        c->master_db_encryption_key_set = false;
        if (text[0] == '\0')
            return PA_OK;
        if (pa_b64_decode_exact(text, c->master_db_encryption_key,
                                PA_CONFIG_MASTER_KEY_LEN) != PA_OK) {
            snprintf(why, wl, "not the Base64 form of exactly %d bytes",
                     PA_CONFIG_MASTER_KEY_LEN);
            return PA_ERR_INVALID_INPUT_FORMAT;
        }
        c->master_db_encryption_key_set = true;
        return PA_OK;
    }
    {
        char **slot = field(c, d);

        if (*slot != NULL) {
            OPENSSL_cleanse(*slot, strlen(*slot));
            free(*slot);
            *slot = NULL;
        }
        if (text[0] == '\0')
            return PA_OK;
        *slot = strdup(text);
    }
    if (*(char **)field(c, d) == NULL) {
        snprintf(why, wl, "out of memory");
        return PA_ERR_UNKNOWN_ERROR;
    }
    return PA_OK;
}

static void secret_refusal(const key_desc *d, char *why, size_t wl)
{
    char env[ENV_NAME_BUF];

    env_name(d, env);
    snprintf(why, wl, "is a secret and is read only from the environment; "
             "set %s instead", env);
}

/* --- public: defaults, set, free ----------------------------------------- */

pa_err pa_config_defaults(pa_config *c)
{
    char why[WHY_BUF];

    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NKEYS; i++) {
        if (is_secret(&keys[i]))
            continue;
        if (set_value(c, &keys[i], keys[i].def, why, sizeof why) != PA_OK)
            return PA_ERR_UNKNOWN_ERROR;
    }
    return PA_OK;
}

pa_err pa_config_set(pa_config *c, const char *key, const char *value,
                     char *errbuf, size_t errlen)
{
    const key_desc *d = key != NULL ? find_key(key) : NULL;
    char why[WHY_BUF];
    pa_err e;

    if (d == NULL) {
        set_err(errbuf, errlen, "unknown key '%.64s'", key ? key : "(null)");
        return PA_ERR_INVALID_INPUT_FORMAT;
    }
    if (is_secret(d)) {
        secret_refusal(d, why, sizeof why);
        set_err(errbuf, errlen, "%s %s", d->key, why);
        return PA_ERR_INVALID_INPUT_FORMAT;
    }
    e = set_value(c, d, value != NULL ? value : "", why, sizeof why);
    if (e != PA_OK)
        set_err(errbuf, errlen, "%s: %s", d->key, why);
    return e;
}

void pa_config_free(pa_config *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < NKEYS; i++)
        if (is_string(&keys[i]))
            free(*(char **)field(c, &keys[i]));
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].kind == K_SECRET_STR) {
            char *v = *(char **)field(c, &keys[i]);

            if (v != NULL) {
                OPENSSL_cleanse(v, strlen(v));
                free(v);
            }
        }
    OPENSSL_cleanse(c, sizeof *c);
}

/* --- the file ------------------------------------------------------------ */

typedef struct file_ctx {
    pa_config *c;
    const char *path;
    unsigned line;
    unsigned seen[NKEYS];   /* line where each key was set, 0 = not yet */
    char *errbuf;
    size_t errlen;
} file_ctx;

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Parses the value at p into out (room for strlen(p) + 1). */
static bool parse_value(const char *p, char *out, char *why, size_t wl)
{
    const char *start = p;
    char *o = out;

    if (*p != '"') {
        for (; *p != '\0'; p++) {
            if (*p == '#' && (p == start || is_blank(p[-1])))
                break;
            *o++ = *p;
        }
        while (o > out && is_blank(o[-1]))
            o--;
        *o = '\0';
        return true;
    }
    for (p++; *p != '"'; p++) {
        if (*p == '\0') {
            snprintf(why, wl, "missing closing '\"'");
            return false;
        }
        if (*p == '\\') {
            p++;
            if (*p != '"' && *p != '\\') {
                snprintf(why, wl, "unknown escape in quoted value (only \\\" "
                         "and \\\\ are allowed)");
                return false;
            }
        }
        *o++ = *p;
    }
    *o = '\0';
    for (p++; is_blank(*p); p++)
        ;
    if (*p != '\0' && *p != '#') {
        snprintf(why, wl, "unexpected text after the closing '\"'");
        return false;
    }
    return true;
}

/* Message for a key this program does not know, with a hint when it is
 * the original's property name or a key in the wrong case. */
static void unknown_key(file_ctx *f, const char *key)
{
    char lower[ENV_NAME_BUF];
    size_t n = 0;

    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].property != NULL && strcmp(keys[i].property, key) == 0) {
            set_err(f->errbuf, f->errlen, "%s:%u: unknown key '%.64s' (that "
                    "is the PowerAuth property; paserver's key is '%s')",
                    f->path, f->line, key, keys[i].key);
            return;
        }
    for (; key[n] != '\0' && n < sizeof lower - 1; n++)
        lower[n] = (char)tolower((unsigned char)key[n]);
    lower[n] = '\0';
    if (key[n] == '\0' && find_key(lower) != NULL) {
        set_err(f->errbuf, f->errlen, "%s:%u: unknown key '%.64s' (keys are "
                "lower case: '%s')", f->path, f->line, key, lower);
        return;
    }
    set_err(f->errbuf, f->errlen, "%s:%u: unknown key '%.64s'", f->path,
            f->line, key);
}

/* Handles `key = value` once split; key and value are NUL-terminated. */
static pa_err apply_line(file_ctx *f, const char *key, const char *value)
{
    const key_desc *d = find_key(key);
    char why[WHY_BUF];
    pa_err e;

    if (d == NULL) {
        unknown_key(f, key);
        return PA_ERR_INVALID_INPUT_FORMAT;
    }
    if (is_secret(d)) {
        secret_refusal(d, why, sizeof why);
        set_err(f->errbuf, f->errlen, "%s:%u: %s %s", f->path, f->line,
                d->key, why);
        return PA_ERR_INVALID_INPUT_FORMAT;
    }
    if (f->seen[d - keys] != 0) {
        set_err(f->errbuf, f->errlen, "%s:%u: %s: set twice (first on line "
                "%u)", f->path, f->line, d->key, f->seen[d - keys]);
        return PA_ERR_INVALID_INPUT_FORMAT;
    }
    f->seen[d - keys] = f->line;
    e = set_value(f->c, d, value, why, sizeof why);
    if (e != PA_OK)
        set_err(f->errbuf, f->errlen, "%s:%u: %s: %s", f->path, f->line,
                d->key, why);
    return e;
}

/* One line of n bytes (its newline included, if any); may be modified. */
static pa_err load_line(file_ctx *f, char *line, size_t n)
{
    char why[WHY_BUF], *p = line, *key, *value;
    size_t klen;
    pa_err e;

    if (memchr(line, '\0', n) != NULL) {
        set_err(f->errbuf, f->errlen, "%s:%u: NUL byte in line", f->path,
                f->line);
        return PA_ERR_INVALID_INPUT_FORMAT;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    if (f->line == 1 && strncmp(p, "\xef\xbb\xbf", 3) == 0)
        p += 3;                                  /* UTF-8 byte order mark */
    while (is_blank(*p))
        p++;
    if (*p == '\0' || *p == '#')
        return PA_OK;
    key = p;
    klen = strcspn(p, " \t=");
    p += klen;
    if (is_blank(*p))
        *p++ = '\0';
    while (is_blank(*p))
        p++;
    if (*p != '=' || klen == 0) {
        set_err(f->errbuf, f->errlen, "%s:%u: expected 'key = value'",
                f->path, f->line);
        return PA_ERR_INVALID_INPUT_FORMAT;
    }
    *p++ = '\0';
    while (is_blank(*p))
        p++;
    if ((value = malloc(strlen(p) + 1)) == NULL) {
        set_err(f->errbuf, f->errlen, "out of memory");
        return PA_ERR_UNKNOWN_ERROR;
    }
    if (parse_value(p, value, why, sizeof why)) {
        e = apply_line(f, key, value);
    } else {
        set_err(f->errbuf, f->errlen, "%s:%u: %.64s: %s", f->path, f->line,
                key, why);
        e = PA_ERR_INVALID_INPUT_FORMAT;
    }
    /* a refused secret may have been on this line */
    OPENSSL_cleanse(value, strlen(p) + 1);
    free(value);
    return e;
}

pa_err pa_config_load_file(pa_config *c, const char *path, char *errbuf,
                           size_t errlen)
{
    file_ctx f = {.c = c, .path = path, .errbuf = errbuf, .errlen = errlen};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    pa_err e = PA_OK;
    FILE *in = path != NULL ? fopen(path, "r") : NULL;

    if (in == NULL) {
        set_err(errbuf, errlen, "%s: cannot open: %s",
                path ? path : "(null)", strerror(path ? errno : EINVAL));
        return PA_ERR_UNKNOWN_ERROR;
    }
    while (e == PA_OK && (n = getline(&line, &cap, in)) >= 0) {
        f.line++;
        e = load_line(&f, line, (size_t)n);
    }
    if (e == PA_OK && ferror(in)) {
        set_err(errbuf, errlen, "%s: read error: %s", path, strerror(errno));
        e = PA_ERR_UNKNOWN_ERROR;
    }
    if (line != NULL)
        OPENSSL_cleanse(line, cap);
    free(line);
    fclose(in);
    return e;
}

/* --- the environment ----------------------------------------------------- */

extern char **environ;

static const char *env_lookup(char **envp, const char *name)
{
    size_t n = strlen(name);

    for (; envp != NULL && *envp != NULL; envp++)
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
            return *envp + n + 1;
    return NULL;
}

pa_err pa_config_apply_env(pa_config *c, char **envp, char *errbuf,
                           size_t errlen)
{
    char name[ENV_NAME_BUF], why[WHY_BUF];

    if (envp == NULL)
        envp = environ;
    for (size_t i = 0; i < NKEYS; i++) {
        const key_desc *d = &keys[i];
        const char *v;
        pa_err e;
        env_name(d, name);
        if ((v = env_lookup(envp, name)) == NULL)
            continue;
        e = is_secret(d) ? set_secret(c, d, v, why, sizeof why)
                         : set_value(c, d, v, why, sizeof why);
        if (e != PA_OK) {
            set_err(errbuf, errlen, "environment %s: %s: %s", name, d->key,
                    why);
            return e;
        }
    }
    return PA_OK;
}

/* --- validation ---------------------------------------------------------- */

static bool string_valid(const key_desc *d, const char *s, char *why,
                         size_t wl)
{
    if (s == NULL) {
        snprintf(why, wl, "is not set");
        return false;
    }
    if (!text_ok(s, why, wl))
        return false;
    switch (d->kind) {
    case K_NONEMPTY:
        if (s[0] == '\0') {
            snprintf(why, wl, "must not be empty");
            return false;
        }
        return true;
    case K_LISTEN:
        return listen_ok(s, why, wl);
    case K_CTXPATH:
        return ctxpath_canonical(s, why, wl);
    default:
        return true;
    }
}

static bool value_valid(const pa_config *c, const key_desc *d, char *why,
                        size_t wl)
{
    switch (d->kind) {
    case K_INT:
    case K_WORKERS:
        return range_ok(d, *(const int *)cfield(c, d), why, wl);
    case K_I64:
        return range_ok(d, *(const int64_t *)cfield(c, d), why, wl);
    case K_LEVEL: {
        pa_log_level l = *(const pa_log_level *)cfield(c, d);
        if (l >= PA_LOG_ERROR && l <= PA_LOG_DEBUG)
            return true;
        snprintf(why, wl, "not a log level");
        return false;
    }
    case K_TARGET: {
        pa_log_target t = *(const pa_log_target *)cfield(c, d);
        if (t == PA_LOG_TARGET_STDERR || t == PA_LOG_TARGET_SYSLOG)
            return true;
        snprintf(why, wl, "not a log target");
        return false;
    }
    case K_BOOL:
    case K_SECRET_KEY:
    case K_SECRET_STR:
        return true;
    default:
        return string_valid(d, *(char *const *)cfield(c, d), why, wl);
    }
}

/* The public base URL is written verbatim into the WSDL's XML: a scheme,
 * a host, then only characters that need no escaping. */
static int public_url_ok(const char *u)
{
    size_t n = strlen(u), skip;

    if (strncmp(u, "https://", 8) == 0)
        skip = 8;
    else if (strncmp(u, "http://", 7) == 0)
        skip = 7;
    else
        return 0;
    if (n <= skip || n > 512 || u[n - 1] == '/' || u[skip] == '/')
        return 0;
    for (const char *p = u + skip; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("-._~:/[]%@!$()*+,;=", *p))
            return 0;
    return 1;
}

pa_err pa_config_validate(const pa_config *c, char *errbuf, size_t errlen)
{
    char why[WHY_BUF];

    for (size_t i = 0; i < NKEYS; i++)
        if (!value_valid(c, &keys[i], why, sizeof why)) {
            set_err(errbuf, errlen, "%s: %s", keys[i].key, why);
            return PA_ERR_INVALID_INPUT_FORMAT;
        }
    if (c->proxy_enabled && c->proxy_host[0] == '\0') {
        set_err(errbuf, errlen, "proxy_host: must be set when proxy_enabled "
                "is true");
        return PA_ERR_INVALID_INPUT_FORMAT;
    }
    if ((c->tls_cert_file[0] != '\0') != (c->tls_key_file[0] != '\0')) {
        set_err(errbuf, errlen, "tls_cert_file and tls_key_file: set both (TLS) "
                "or neither (plain HTTP)");
        return PA_ERR_INVALID_INPUT_FORMAT;
    }
    if (c->tls_client_ca_file[0] != '\0' && c->tls_cert_file[0] == '\0') {
        set_err(errbuf, errlen, "tls_client_ca_file: needs tls_cert_file and "
                "tls_key_file (mutual TLS is TLS)");
        return PA_ERR_INVALID_INPUT_FORMAT;
    }
    if (c->public_base_url[0] != '\0' && !public_url_ok(c->public_base_url)) {
        set_err(errbuf, errlen, "public_base_url: '%.80s' is not http(s)://host"
                "[:port] with an optional path, without a trailing '/', quotes, "
                "'<', '>', '&' or blanks", c->public_base_url);
        return PA_ERR_INVALID_INPUT_FORMAT;
    }
    if (c->callback_retry_initial_ms > c->callback_retry_max_ms) {
        set_err(errbuf, errlen, "callback_retry_initial_ms: %d is more than "
                "callback_retry_max_ms (%d)", c->callback_retry_initial_ms,
                c->callback_retry_max_ms);
        return PA_ERR_INVALID_INPUT_FORMAT;
    }
    if (c->expiry_sweep_interval_ms != 0 &&
        c->expiry_sweep_interval_ms < PA_CONFIG_SWEEP_MIN_INTERVAL_MS) {
        set_err(errbuf, errlen, "expiry_sweep_interval_ms: %d is neither 0 "
                "(off) nor at least %d", c->expiry_sweep_interval_ms,
                PA_CONFIG_SWEEP_MIN_INTERVAL_MS);
        return PA_ERR_INVALID_INPUT_FORMAT;
    }
    return PA_OK;
}

/* --- dump ---------------------------------------------------------------- */

static void dump_quoted(const char *s, FILE *out)
{
    fputc('"', out);
    for (; s != NULL && *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

void pa_config_dump(const pa_config *c, FILE *out)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const key_desc *d = &keys[i];
        fprintf(out, "%s = ", d->key);
        switch (d->kind) {
        case K_INT:
        case K_WORKERS:
            fprintf(out, "%d", *(const int *)cfield(c, d));
            break;
        case K_I64:
            fprintf(out, "%lld", (long long)*(const int64_t *)cfield(c, d));
            break;
        case K_BOOL:
            fputs(*(const bool *)cfield(c, d) ? "true" : "false", out);
            break;
        case K_LEVEL:
            fputs(pa_log_level_name(c->log_level), out);
            break;
        case K_TARGET:
            fputs(pa_log_target_name(c->log_target), out);
            break;
        case K_SECRET_KEY:
            fputs(c->master_db_encryption_key_set ? "(set)" : "(unset)", out);
            break;
        case K_SECRET_STR:
            fputs(*(char *const *)cfield(c, d) != NULL ? "(set)" : "(unset)", out);
            break;
        default:
            dump_quoted(*(char *const *)cfield(c, d), out);
        }
        fputc('\n', out);
    }
}
