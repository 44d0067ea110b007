/*
 * config.h - paserver's settings: defaults, the configuration file, the
 * environment.
 *
 * Every setting has a default (the original PowerAuth Server's where it had
 * the setting, CONTRACT.md "Configuration defaults"), may be set in a file
 * of `key = value` lines, and may be overridden by an environment variable
 * PASERVER_<KEY IN UPPER CASE>.  Environment beats file, file beats default.
 * paserver.conf.sample at the top of the source tree lists every key with
 * its default, its meaning and the original property it replaces.
 *
 * Secrets (the master DB encryption key, the proxy password) are read only
 * from the environment; a file or pa_config_set naming one is refused, so a
 * secret never sits in a file that gets copied, versioned or backed up, nor
 * on a command line that ps shows.
 *
 * File syntax: one `key = value` per line; blank lines and lines whose first
 * non-blank character is '#' are ignored; an unquoted value runs to the end
 * of the line, trimmed, and a '#' at its start or after a blank starts a
 * comment; a value in double quotes may hold '#', leading or trailing
 * blanks, \" and \\ (no other escapes), and may be followed only by blanks
 * and a comment.  Keys are lower case and each may appear once.  An unknown
 * key, a duplicate, a malformed line or a bad value stops the load with a
 * message naming the file, the line and the key.
 *
 * Typical use (main.c):
 *     pa_config c;
 *     if (pa_config_defaults(&c) || pa_config_load_file(&c, path, e, sizeof e)
 *         || pa_config_apply_env(&c, NULL, e, sizeof e)
 *         || pa_config_validate(&c, e, sizeof e)) { print e; pa_config_free(&c); }
 * Error returns leave the struct valid (possibly partly updated) so that
 * pa_config_free is always the right clean-up.
 */
#ifndef PA_CONFIG_H
#define PA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/err.h"
#include "util/log.h"

#define PA_CONFIG_MASTER_KEY_LEN 16
/* Longest host name part of a listen address, plus NUL. */
#define PA_CONFIG_HOST_BUF 256
/* Longest string value accepted for any key (bytes). */
#define PA_CONFIG_MAX_STRING 4096
/* Shortest expiry sweep interval other than 0 (off), ms. */
#define PA_CONFIG_SWEEP_MIN_INTERVAL_MS 1000

typedef struct pa_config {
    /* --- server --------------------------------------------------------- */
    char *listen;                /* "host:port" or "[v6addr]:port" */
    char *context_path;          /* "/x/y" or "/"; endpoint is <ctx>/soap */
    int workers;                 /* worker threads */
    int64_t max_body_bytes;      /* largest accepted request body */
    int max_xml_depth;           /* deepest accepted XML element nesting */
    int max_connections;         /* open client connections at most */
    int max_connections_per_peer; /* of them from one address */
    int max_xml_attributes;      /* attributes of one element */
    int max_xml_namespaces;      /* namespace declarations of one element */
    int64_t max_header_bytes;    /* request bytes outside the body: headers,
                                  * chunk lines and extensions, trailers */
    int recv_timeout_ms;         /* socket receive timeout */
    int send_timeout_ms;         /* socket send timeout */
    int keepalive_timeout_ms;    /* idle keep-alive wait; 0 = no keep-alive */
    int max_pipelined_per_turn;  /* requests of one connection served back
                                  * to back before the others' turn */
    char *database;              /* SQLite file path */
    int lock_timeout_ms;         /* DB lock wait */
    pa_log_level log_level;
    pa_log_target log_target;
    /* --- PowerAuth service (CONTRACT.md "Configuration defaults") -------- */
    char *application_name;
    char *application_display_name;
    char *application_environment;
    bool restrict_access;
    int64_t wsse_digest_max_age_ms;     /* oldest accepted digest Created */
    int64_t wsse_digest_future_skew_ms; /* furthest ahead of the clock */
    int wsse_nonce_cache_entries;       /* (Nonce, Created) pairs remembered */
    int generate_activation_id_iterations;
    int generate_token_id_iterations;
    int generate_activation_code_iterations;
    int generate_recovery_code_iterations;
    int64_t activation_validity_ms;
    int signature_max_failed_attempts;
    int signature_validation_lookahead;
    int callback_connect_timeout_ms;
    /* --- callback delivery and expiry sweep (paserver's own) ------------- */
    int callback_timeout_ms;         /* whole attempt, connect included */
    int callback_max_attempts;       /* attempts before an event is dropped */
    int64_t callback_max_age_ms;     /* age after which it is dropped */
    int callback_retry_initial_ms;   /* delay after the first failure */
    int callback_retry_max_ms;       /* cap of the doubling delay */
    int64_t callback_outbox_max;     /* undelivered rows kept at most */
    int callback_concurrency;        /* deliveries in flight at once */
    int expiry_sweep_interval_ms;    /* 0 = no sweep thread */
    int expiry_sweep_batch;          /* activations per sweep transaction */
    int64_t token_max_future_ms;     /* ValidateToken: furthest accepted
                                        timestamp ahead of now; 0 = no limit
                                        (the original) */
    bool token_replay_protection;    /* ValidateToken: a (tokenId, nonce)
                                        pair is accepted once in the window */
    int token_replay_cache_entries;  /* most pairs remembered */
    int signature_key_cache_entries; /* derived-key cache size; 0 = off */
    int64_t audit_retention_ms;      /* 0 = keep signature audit forever */
    int64_t history_retention_ms;    /* 0 = keep activation history forever */
    int retention_purge_interval_ms; /* how often the purge runs */
    int retention_purge_batch;       /* rows deleted per purge transaction */
    int64_t token_timestamp_validity_ms;
    int recovery_max_failed_attempts;
    bool secure_vault_enable_biometric;
    bool proxy_enabled;
    char *proxy_host;
    int proxy_port;
    char *proxy_username;        /* "" = no proxy authentication */
    char *tls_cert_file;          /* "" = plain HTTP; PEM, chain allowed */
    char *tls_key_file;           /* PEM private key of tls_cert_file */
    char *tls_client_ca_file;     /* "" = no client certificates; else
                                   * mutual TLS: clients must present one
                                   * signed by these CAs */
    char *public_base_url;        /* "" or scheme://host[:port][/path]: the
                                   * WSDL's soap:address base instead of the
                                   * request's Host header */
    char *service_name;
    /* --- secrets: environment only, wiped by pa_config_free -------------- */
    bool master_db_encryption_key_set;   /* false: record encryption off */
    uint8_t master_db_encryption_key[PA_CONFIG_MASTER_KEY_LEN];
    char *proxy_password;                /* NULL when unset */
    char *tls_key_password;              /* NULL when unset (environment) */
} pa_config;

/* Fills c (whose previous contents are ignored, not freed) with every
 * default; workers = 8 x online CPUs, at least 16.  PA_ERR_UNKNOWN_ERROR when out of
 * memory (c is then safe to pass to pa_config_free). */
pa_err pa_config_defaults(pa_config *c);

/* Sets one non-secret key from its text form, with the same rules as the
 * file (booleans true/false/yes/no/on/off/1/0, decimal integers, "auto"
 * for workers, context path normalised).  For command-line options.
 * PA_ERR_INVALID_INPUT_FORMAT with "key: reason" in errbuf for an unknown
 * key, a secret key or a bad value; PA_ERR_UNKNOWN_ERROR when out of
 * memory. */
pa_err pa_config_set(pa_config *c, const char *key, const char *value,
                     char *errbuf, size_t errlen);

/* Reads a configuration file (syntax above) over c.  Messages start with
 * "path:line: ".  PA_ERR_INVALID_INPUT_FORMAT for bad content,
 * PA_ERR_UNKNOWN_ERROR when the file cannot be read or memory runs out. */
pa_err pa_config_load_file(pa_config *c, const char *path, char *errbuf,
                           size_t errlen);

/* Applies every PASERVER_<KEY> variable found in envp (NULL: the process
 * environment), secrets included: PASERVER_MASTER_DB_ENCRYPTION_KEY must be
 * Base64 of exactly 16 bytes or empty (= off), PASERVER_PROXY_PASSWORD is
 * taken as is (empty = unset).  Other PASERVER_* names are ignored, as the
 * tools and scripts around paserver use the prefix too.  Messages start
 * with the variable's name and never contain a secret's value. */
pa_err pa_config_apply_env(pa_config *c, char **envp, char *errbuf,
                           size_t errlen);

/* Checks every field (ranges, syntax of listen and context_path, strings
 * present, printable and UTF-8) and the combinations (a proxy needs a
 * host; callback_retry_initial_ms <= callback_retry_max_ms; an expiry sweep
 * interval is 0 or at least PA_CONFIG_SWEEP_MIN_INTERVAL_MS), for a struct
 * changed by hand after loading.
 * PA_ERR_INVALID_INPUT_FORMAT with "key: reason" in errbuf. */
pa_err pa_config_validate(const pa_config *c, char *errbuf, size_t errlen);

/* Frees every string, wipes the secrets and zeroes c.  NULL is fine, and
 * so is a second call. */
void pa_config_free(pa_config *c);

/* Writes the effective configuration as `key = value` lines in key order
 * (strings quoted as in the file); secrets appear only as "(set)" or
 * "(unset)". */
void pa_config_dump(const pa_config *c, FILE *out);

/* Splits a listen address: "127.0.0.1:8080" -> "127.0.0.1", 8080;
 * "[::1]:8080" -> "::1", 8080; "localhost:80" -> "localhost", 80.  The host
 * is an IPv4 address, a bracketed IPv6 address or a DNS name; the port is
 * 0..65535 (0: the kernel picks a free port).  PA_ERR_INVALID_INPUT_FORMAT
 * for anything else or when the host does not fit in hostlen bytes. */
pa_err pa_config_listen_split(const char *listen, char *host, size_t hostlen,
                              int *port);

#endif
