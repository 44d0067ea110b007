/*
 * main.c - the padevice command line: option parsing, help, state file
 * handling, JSON output and exit statuses.
 *
 *   padevice COMMAND --state FILE [--option VALUE | --flag]...
 *
 * The result of a step is one JSON object on stdout (one line); errors go
 * to stderr as "padevice COMMAND: message" with a non-zero exit status, so
 * shell scripts and tests can chain steps safely.  The state is saved only
 * after a step succeeded, so a failed step never changes it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "crypto/primitives.h"
#include "tools/padevice/cli.h"
#include "util/base64.h"

#define CLI_FILE_MAX (16u * 1024u * 1024u)

/* --- option access ------------------------------------------------------------ */

static int opt_index(const cli_cmd *cmd, const char *name)
{
    for (int i = 0; i < CLI_MAX_OPTS && cmd->opts[i].name != NULL; i++)
        if (strcmp(cmd->opts[i].name, name) == 0)
            return i;
    return -1;
}

const char *cli_arg(const cli_ctx *c, const char *name)
{
    int i = opt_index(c->cmd, name);

    return i >= 0 && c->given[i] ? c->value[i] : NULL;
}

int cli_flag(const cli_ctx *c, const char *name)
{
    int i = opt_index(c->cmd, name);

    return i >= 0 && c->given[i];
}

int cli_compressed(const cli_ctx *c)
{
    return !cli_flag(c, "uncompressed");
}

static void vsay(cli_ctx *c, const char *fmt, va_list ap)
{
    vsnprintf(c->why, sizeof c->why, fmt, ap);
}

pa_err cli_usage(cli_ctx *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsay(c, fmt, ap);
    va_end(ap);
    c->usage_error = 1;
    return PA_ERR_INVALID_REQUEST;
}

pa_err cli_fail(cli_ctx *c, pa_err e, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsay(c, fmt, ap);
    va_end(ap);
    return e;
}

pa_err cli_b64(cli_ctx *c, const char *name, uint8_t **b, size_t *n)
{
    const char *v = cli_arg(c, name);

    *b = NULL;
    *n = 0;
    if (v == NULL)
        return PA_OK;
    if (pa_b64_decode_alloc(v, b, n) != PA_OK)
        return cli_usage(c, "option --%s: not valid Base64", name);
    return PA_OK;
}

pa_err cli_b64_exact(cli_ctx *c, const char *name, uint8_t *out, size_t n,
                     int *present)
{
    const char *v = cli_arg(c, name);

    *present = v != NULL;
    if (v != NULL && pa_b64_decode_exact(v, out, n) != PA_OK)
        return cli_usage(c, "option --%s: not Base64 of %zu bytes", name, n);
    return PA_OK;
}

pa_err cli_int64(cli_ctx *c, const char *name, int64_t *out, int *present)
{
    const char *v = cli_arg(c, name);
    char *end = NULL;
    long long x;

    *present = v != NULL;
    *out = 0;
    if (v == NULL)
        return PA_OK;
    errno = 0;
    x = strtoll(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno != 0)
        return cli_usage(c, "option --%s: not a 64-bit integer", name);
    *out = (int64_t)x;
    return PA_OK;
}

pa_err cli_read_file(cli_ctx *c, const char *path, uint8_t **b, size_t *n)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 4096, len = 0, r;
    uint8_t *buf = malloc(cap);

    *b = NULL;
    *n = 0;
    if (f == NULL || buf == NULL) {
        free(buf);
        if (f != NULL)
            fclose(f);
        return cli_fail(c, PA_ERR_INVALID_REQUEST, "cannot read %s: %s", path,
                        strerror(errno));
    }
    while ((r = fread(buf + len, 1, cap - len, f)) > 0) {
        uint8_t *more;

        len += r;
        if (len < cap)
            continue;
        if (cap >= CLI_FILE_MAX || (more = realloc(buf, cap * 2)) == NULL)
            break;
        buf = more;
        cap *= 2;
    }
    if (ferror(f) || len >= CLI_FILE_MAX) {
        fclose(f);
        pa_secure_free(buf, cap);
        return cli_fail(c, PA_ERR_INVALID_REQUEST,
                        "cannot read %s (or larger than 16 MiB)", path);
    }
    fclose(f);
    *b = buf;
    *n = len;
    return PA_OK;
}

/* --- output ------------------------------------------------------------------ */

pa_err cli_put(cli_ctx *c, const char *name, json_t *v)
{
    if (v == NULL)
        v = json_null();
    return json_object_set_new(c->out, name, v) == 0 ? PA_OK
                                                     : PA_ERR_UNKNOWN_ERROR;
}

pa_err cli_put_str(cli_ctx *c, const char *name, const char *s)
{
    json_t *v = s ? json_string(s) : json_null();

    if (v == NULL)
        return cli_fail(c, PA_ERR_INVALID_INPUT_FORMAT,
                        "%s is not valid UTF-8", name);
    return cli_put(c, name, v);
}

pa_err cli_put_b64(cli_ctx *c, const char *name, const uint8_t *b, size_t n)
{
    char *t = NULL;
    pa_err e = pa_b64_encode_alloc(b, n, &t);

    if (e == PA_OK)
        e = cli_put_str(c, name, t);
    if (t != NULL)
        pa_secure_free(t, strlen(t));
    return e;
}

pa_err cli_put_pub(cli_ctx *c, const char *name, const pa_eckey *k)
{
    uint8_t pub[PA_EC_PUB_LEN];

    if (k == NULL)
        return cli_put(c, name, NULL);
    if (pa_ec_pub_export(k, pub) != PA_OK)
        return PA_ERR_INVALID_KEY_FORMAT;
    return cli_put_b64(c, name, pub, sizeof pub);
}

pa_err cli_put_request(cli_ctx *c, int with_activation,
                       const pa_ecies_cryptogram *cg)
{
    json_t *body = pa_device_cryptogram_json(cg);
    pa_err e = body ? PA_OK : PA_ERR_UNKNOWN_ERROR;

    if (e == PA_OK && with_activation)
        e = cli_put_str(c, "activationId", c->dev->activation_id);
    if (e == PA_OK)
        e = cli_put_str(c, "applicationKey", c->dev->app_key);
    if (e == PA_OK && json_object_update(c->out, body) != 0)
        e = PA_ERR_UNKNOWN_ERROR;
    json_decref(body);
    return e;
}

pa_err cli_response_args(cli_ctx *c, uint8_t **ct, size_t *ct_len,
                         uint8_t **mac, size_t *mac_len)
{
    pa_err e = cli_b64(c, "encrypted-data", ct, ct_len);

    *mac = NULL;
    *mac_len = 0;
    if (e == PA_OK)
        e = cli_b64(c, "mac", mac, mac_len);
    if (e != PA_OK) {
        free(*ct);
        *ct = NULL;
    }
    return e;
}

/* --- help ---------------------------------------------------------------------- */

static const cli_cmd *find_command(const char *name)
{
    for (const cli_cmd *k = cli_commands; k->name != NULL; k++)
        if (strcmp(k->name, name) == 0)
            return k;
    return NULL;
}

static void print_global_help(FILE *f)
{
    fputs("usage: padevice COMMAND --state FILE [options]\n"
          "       padevice help COMMAND | padevice COMMAND --help\n\n"
          "Emulates a PowerAuth mobile device (the phone of every flow).\n"
          "Each command is one step; the device state (keys, counter,\n"
          "tokens, the request in flight) lives in the JSON file given by\n"
          "--state, written with mode 0600.  The result is one JSON object\n"
          "on stdout whose field names are those of the SOAP contract.\n\n"
          "Commands:\n", f);
    for (const cli_cmd *k = cli_commands; k->name != NULL; k++)
        fprintf(f, "  %-28s %s\n", k->name, k->summary);
    fputs("\nExit status: 0 success; 1 the step failed (message on stderr);\n"
          "2 bad command line; 3 the device refused the server's data\n"
          "(offline-sign with a payload whose signature is not valid).\n",
          f);
}

static void print_command_help(FILE *f, const cli_cmd *k)
{
    fprintf(f, "usage: padevice %s --state FILE%s\n\n%s\n\n", k->name,
            k->opts[0].name ? " [options]" : "", k->summary);
    fprintf(f, "Options:\n  --%-30s %s\n", "state FILE",
            k->flags & CLI_CREATES ? "state file to create (required)"
                                   : "state file (required)");
    for (int i = 0; k->opts[i].name != NULL; i++) {
        char left[64];

        snprintf(left, sizeof left, "%s%s", k->opts[i].name,
                 k->opts[i].has_arg ? " VALUE" : "");
        fprintf(f, "  --%-30s %s%s\n", left, k->opts[i].help,
                k->opts[i].required ? " (required)" : "");
    }
    if (k->details != NULL)
        fprintf(f, "\n%s\n", k->details);
}

/* --- parsing ------------------------------------------------------------------- */

static int parse_options(cli_ctx *c, int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int k;

        if (strncmp(a, "--", 2) != 0)
            return cli_usage(c, "unexpected argument '%s'", a), -1;
        a += 2;
        if (strcmp(a, "state") == 0) {
            if (++i >= argc)
                return cli_usage(c, "option --state needs a value"), -1;
            c->state_path = argv[i];
            continue;
        }
        if ((k = opt_index(c->cmd, a)) < 0)
            return cli_usage(c, "unknown option --%s", a), -1;
        if (c->given[k])
            return cli_usage(c, "option --%s given twice", a), -1;
        if (c->cmd->opts[k].has_arg && ++i >= argc)
            return cli_usage(c, "option --%s needs a value", a), -1;
        c->given[k] = 1;
        c->value[k] = c->cmd->opts[k].has_arg ? argv[i] : NULL;
    }
    if (c->state_path == NULL)
        return cli_usage(c, "missing option --state"), -1;
    if (cli_flag(c, "compressed") && cli_flag(c, "uncompressed"))
        return cli_usage(c, "--compressed and --uncompressed exclude each "
                            "other"), -1;
    for (int k = 0; k < CLI_MAX_OPTS && c->cmd->opts[k].name != NULL; k++)
        if (c->cmd->opts[k].required && !c->given[k])
            return cli_usage(c, "missing option --%s", c->cmd->opts[k].name),
                   -1;
    return 0;
}

static int wants_help(int argc, char **argv)
{
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    return 0;
}

/* `padevice`, `padevice --help`, `padevice help [COMMAND]`: -1 when the
 * command line is something else. */
static int help_command(int argc, char **argv)
{
    const cli_cmd *k;

    if (argc < 2) {
        print_global_help(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0
        || (strcmp(argv[1], "help") == 0 && argc == 2)) {
        print_global_help(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "help") != 0)
        return -1;
    if ((k = find_command(argv[2])) == NULL) {
        fprintf(stderr, "padevice: unknown command '%s' (see padevice --help)\n",
                argv[2]);
        return CLI_EXIT_USAGE;
    }
    print_command_help(stdout, k);
    return CLI_EXIT_OK;
}

/* --- running ------------------------------------------------------------------- */

/* What usually lies behind an error when the handler said nothing. */
static const char *hint(pa_err e)
{
    switch (e) {
    case PA_ERR_DECRYPTION_FAILED:
        return "the answer does not decrypt (MAC, data or request mismatch)";
    case PA_ERR_ACTIVATION_INCORRECT_STATE:
        return "the device is not in the state this step needs";
    case PA_ERR_INVALID_REQUEST:
        return "no request of this kind is waiting for its answer";
    case PA_ERR_INVALID_INPUT_FORMAT:
        return "malformed input";
    case PA_ERR_INVALID_KEY_FORMAT:
        return "not a valid key";
    case PA_ERR_INVALID_SIGNATURE:
        return "the server's signature does not verify";
    default:
        return "failed";
    }
}

static int report(cli_ctx *c, pa_err e)
{
    if (c->usage_error) {
        fprintf(stderr, "padevice %s: %s (see padevice help %s)\n",
                c->cmd->name, c->why, c->cmd->name);
        return CLI_EXIT_USAGE;
    }
    fprintf(stderr, "padevice %s: %s (%s %s)\n", c->cmd->name,
            c->why[0] ? c->why : hint(e), pa_err_code(e), pa_err_name(e));
    return CLI_EXIT_FAILED;
}

static pa_err open_state(cli_ctx *c)
{
    struct stat st;

    if (c->cmd->flags & CLI_CREATES) {
        if (stat(c->state_path, &st) == 0 && !cli_flag(c, "force"))
            return cli_fail(c, PA_ERR_INVALID_REQUEST,
                            "%s exists (use --force to replace it)",
                            c->state_path);
        return PA_OK;
    }
    return pa_device_load(c->state_path, &c->dev, c->why, sizeof c->why);
}

static void print_json(const json_t *out)
{
    char *s = json_dumps(out, JSON_COMPACT);

    if (s != NULL) {
        puts(s);
        pa_secure_free(s, strlen(s));
    }
    fflush(stdout);
}

static int run(cli_ctx *c)
{
    pa_err e = open_state(c);

    if (e == PA_OK && (c->out = json_object()) == NULL)
        e = PA_ERR_UNKNOWN_ERROR;
    if (e == PA_OK)
        e = c->cmd->run(c);
    if (e == PA_OK && (c->cmd->flags & (CLI_WRITES | CLI_CREATES)))
        e = pa_device_save(c->dev, c->state_path, c->why, sizeof c->why);
    if (e != PA_OK)
        return report(c, e);
    print_json(c->out);
    if (c->exit_code != 0)
        fprintf(stderr, "padevice %s: %s\n", c->cmd->name, c->why);
    return c->exit_code;
}

int main(int argc, char **argv)
{
    cli_ctx c;
    int rc = help_command(argc, argv);

    if (rc >= 0)
        return rc;
    memset(&c, 0, sizeof c);
    if ((c.cmd = find_command(argv[1])) == NULL) {
        fprintf(stderr, "padevice: unknown command '%s' (see padevice --help)\n",
                argv[1]);
        return CLI_EXIT_USAGE;
    }
    if (wants_help(argc, argv)) {
        print_command_help(stdout, c.cmd);
        return CLI_EXIT_OK;
    }
    rc = parse_options(&c, argc, argv) == 0 ? run(&c)
                                             : report(&c, PA_ERR_INVALID_REQUEST);
    pa_device_json_wipe_free(c.out);
    pa_device_free(c.dev);
    OPENSSL_cleanse(&c, sizeof c);
    return rc;
}
