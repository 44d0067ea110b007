/*
 * cli.h - internals of the padevice command (not part of libpadevice).
 *
 * One invocation = one command = one step of a flow: main.c parses the
 * options against the command's table entry (cmdtable.c), loads the state
 * file, runs the handler (commands.c, commands_v2.c), saves the state and
 * prints the handler's JSON object on stdout.  Output field names are the
 * SOAP contract names so that tests can copy them into requests.
 */
#ifndef PA_PADEVICE_CLI_H
#define PA_PADEVICE_CLI_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tools/padevice/device.h"

#define CLI_MAX_OPTS 24

/* Exit statuses (documented in `padevice --help`). */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILED 1   /* the step failed; message on stderr */
#define CLI_EXIT_USAGE 2    /* bad command line */
#define CLI_EXIT_REFUSED 3  /* the device refused the server's data */

typedef struct {
    const char *name;   /* without the leading "--" */
    int has_arg;
    int required;
    const char *help;
} cli_opt;

struct cli_ctx;

typedef struct {
    const char *name;
    const char *summary;    /* one line for `padevice --help` */
    const char *details;    /* for `padevice help <command>` */
    const cli_opt *opts;    /* terminated by a NULL name; --state is implied */
    pa_err (*run)(struct cli_ctx *c);
    int flags;
} cli_cmd;

#define CLI_CREATES 1   /* makes the state file (init) */
#define CLI_WRITES 2    /* changes the state: save after success */

typedef struct cli_ctx {
    const cli_cmd *cmd;
    const char *value[CLI_MAX_OPTS]; /* option values, by table index */
    int given[CLI_MAX_OPTS];
    const char *state_path;
    pa_device *dev;         /* loaded state (NULL for init until created) */
    json_t *out;            /* the JSON object printed on success */
    char why[256];          /* detail for the error message */
    int usage_error;        /* set by a handler for a bad combination */
    int exit_code;          /* non-zero: exit with it after printing out */
} cli_ctx;

extern const cli_cmd cli_commands[];

/* --- helpers (main.c) ------------------------------------------------------- */

/* Value of --name, NULL when not given. */
const char *cli_arg(const cli_ctx *c, const char *name);

/* 1 when the flag --name was given. */
int cli_flag(const cli_ctx *c, const char *name);

/* Records a usage problem ("give --body or --body-file, not both"). */
pa_err cli_usage(cli_ctx *c, const char *fmt, ...);

/* Records a failure detail and returns e. */
pa_err cli_fail(cli_ctx *c, pa_err e, const char *fmt, ...);

/* Base64 option into a malloc'ed buffer (wipe and free it: may be secret);
 * a missing option gives *b NULL and PA_OK. */
pa_err cli_b64(cli_ctx *c, const char *name, uint8_t **b, size_t *n);

/* Base64 option of exactly n bytes; *present 0 when not given. */
pa_err cli_b64_exact(cli_ctx *c, const char *name, uint8_t *out, size_t n,
                     int *present);

/* Decimal signed 64-bit option; *present 0 when not given. */
pa_err cli_int64(cli_ctx *c, const char *name, int64_t *out, int *present);

/* Reads a whole file (at most 16 MiB) into a malloc'ed buffer. */
pa_err cli_read_file(cli_ctx *c, const char *path, uint8_t **b, size_t *n);

/* 0 with --uncompressed, else 1 (the mobile SDK's compressed EPHB). */
int cli_compressed(const cli_ctx *c);

/* Output fields; a NULL string or json value becomes null. */
pa_err cli_put(cli_ctx *c, const char *name, json_t *v);
pa_err cli_put_str(cli_ctx *c, const char *name, const char *s);
pa_err cli_put_b64(cli_ctx *c, const char *name, const uint8_t *b, size_t n);
pa_err cli_put_pub(cli_ctx *c, const char *name, const pa_eckey *k);

/* activationId (activation scope), applicationKey and the cryptogram
 * fields ephemeralPublicKey, encryptedData, mac, nonce (3.1 only). */
pa_err cli_put_request(cli_ctx *c, int with_activation,
                       const pa_ecies_cryptogram *cg);

/* Decodes --encrypted-data and --mac of a server answer. */
pa_err cli_response_args(cli_ctx *c, uint8_t **ct, size_t *ct_len,
                         uint8_t **mac, size_t *mac_len);

/* --- handlers (commands.c, commands_v2.c) ------------------------------------ */

pa_err cmd_init(cli_ctx *c);
pa_err cmd_set_protocol(cli_ctx *c);
pa_err cmd_prepare_activation(cli_ctx *c);
pa_err cmd_create_activation(cli_ctx *c);
pa_err cmd_activation_response(cli_ctx *c);
pa_err cmd_verify_activation_signature(cli_ctx *c);
pa_err cmd_sign(cli_ctx *c);
pa_err cmd_offline_sign(cli_ctx *c);
pa_err cmd_status_challenge(cli_ctx *c);
pa_err cmd_status_decrypt(cli_ctx *c);
pa_err cmd_token_request(cli_ctx *c);
pa_err cmd_token_response(cli_ctx *c);
pa_err cmd_token_digest(cli_ctx *c);
pa_err cmd_vault_request(cli_ctx *c);
pa_err cmd_vault_response(cli_ctx *c);
pa_err cmd_upgrade_request(cli_ctx *c);
pa_err cmd_upgrade_response(cli_ctx *c);
pa_err cmd_recovery_confirm_request(cli_ctx *c);
pa_err cmd_recovery_confirm_response(cli_ctx *c);
pa_err cmd_ecies_request(cli_ctx *c);
pa_err cmd_ecies_response(cli_ctx *c);
pa_err cmd_fingerprint(cli_ctx *c);
pa_err cmd_show(cli_ctx *c);

pa_err cmd_v2_prepare_activation(cli_ctx *c);
pa_err cmd_v2_create_activation(cli_ctx *c);
pa_err cmd_v2_activation_response(cli_ctx *c);
pa_err cmd_v2_vault_response(cli_ctx *c);
pa_err cmd_v2_token_request(cli_ctx *c);
pa_err cmd_v2_token_response(cli_ctx *c);

#endif
