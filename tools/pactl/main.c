/*
 * main.c - pactl, the paserver admin command line: options, command
 * parsing, help, exit statuses.
 *
 *   pactl (--db FILE | --url URL [--user TOKEN --password-env VAR]) [--json]
 *         GROUP VERB [ARGS]
 *
 * --db works on the database file directly (bootstrapping a deployment
 * before any SOAP client exists); --url talks to a running server.  The
 * SOAP password is read from an environment variable, never from argv,
 * because the command lines of other users' processes are public (ps).
 * Exit statuses: 0 done, 1 the operation failed (its ERR code is
 * printed), 2 the command line was wrong.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "tools/pactl/pactl.h"

typedef struct globals {
    const char *db;
    const char *url;
    const char *user;
    const char *password_env;
    const char *cacert;
    int json;
} globals;

/* ---- help ----------------------------------------------------------------------- */

static void usage_line(FILE *to)
{
    fputs("usage: pactl --db FILE [--json] COMMAND [ARGS]\n"
          "       pactl --url URL [--user TOKEN --password-env VAR] "
          "[--cacert FILE]\n"
          "             [--json] COMMAND [ARGS]\n"
          "       pactl help [COMMAND]\n", to);
}

static void help_all(void)
{
    usage_line(stdout);
    fputs("\n"
"Administers a paserver deployment: applications and their versions,\n"
"integration credentials and callback URLs.\n"
"\n"
"Where:\n"
"  --db FILE           work on the SQLite database FILE directly, through the\n"
"                      same service code as the server; a new file is created\n"
"                      and migrated (use it to bootstrap a deployment)\n"
"  --url URL           talk to a running server, e.g.\n"
"                      http://localhost:8080/powerauth-java-server/soap\n"
"  --user TOKEN        send a WS-Security UsernameToken with this Username\n"
"                      (an integration's clientToken); needs --password-env\n"
"  --password-env VAR  take the password (the clientSecret) from environment\n"
"                      variable VAR; it is never taken from the command line,\n"
"                      which other users can read\n"
"  --cacert FILE       PEM file of CAs trusted for https URLs (default: the\n"
"                      system's)\n"
"  --json              print results (and failures) as one JSON object\n"
"  -h, --help          this text; --version: pactl's version\n"
"\n"
"Commands:\n", stdout);
    for (int i = 0; i < pactl_ncmds; i++) {
        const pactl_cmd *c = &pactl_cmds[i];
        char head[64];
        snprintf(head, sizeof head, "%s %s%s%s", c->group, c->verb,
                 c->synopsis[0] ? " " : "", c->synopsis);
        printf("  %-32s %s\n", head, c->summary);
    }
    fputs("\n"
"Output is aligned text whose labels are the SOAP contract's field names;\n"
"--json prints the same fields as JSON.  Exit status: 0 done, 1 the\n"
"operation failed (stderr shows its code, e.g. \"ERR0015: Application or\n"
"application version does not exist.\"), 2 usage error.\n"
"Run 'pactl help GROUP [VERB]' for details of commands.\n", stdout);
}

static void help_cmd(const pactl_cmd *c)
{
    printf("usage: pactl [--db FILE | --url URL ...] [--json] %s %s%s%s\n\n%s\n\n",
           c->group, c->verb, c->synopsis[0] ? " " : "", c->synopsis, c->details);
}

/* `pactl help [GROUP [VERB]]`: 0 when something matched. */
static int help_topic(const char *group, const char *verb)
{
    int shown = 0;

    if (group == NULL) {
        help_all();
        return 0;
    }
    for (int i = 0; i < pactl_ncmds; i++) {
        const pactl_cmd *c = &pactl_cmds[i];
        if (strcmp(c->group, group) != 0
            || (verb != NULL && strcmp(c->verb, verb) != 0))
            continue;
        shown++;
        help_cmd(c);
    }
    return shown ? 0 : -1;
}

static int usage_error(const char *fmt, const char *arg)
{
    fputs("pactl: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nTry 'pactl --help'.\n", stderr);
    return PACTL_EXIT_USAGE;
}

/* ---- global options ------------------------------------------------------------ */

enum { OPT_DB = 256, OPT_URL, OPT_USER, OPT_PASSWORD_ENV, OPT_PASSWORD,
       OPT_CACERT, OPT_JSON, OPT_VERSION };

static const struct option long_opts[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"url", required_argument, NULL, OPT_URL},
    {"user", required_argument, NULL, OPT_USER},
    {"password-env", required_argument, NULL, OPT_PASSWORD_ENV},
    /* Listed only to refuse it (and so that getopt does not take it as an
     * abbreviation of --password-env and echo the password back). */
    {"password", required_argument, NULL, OPT_PASSWORD},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* -1: go on; otherwise the exit status. */
static int parse_globals(int argc, char **argv, globals *g)
{
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "+h", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_DB: g->db = optarg; break;
        case OPT_URL: g->url = optarg; break;
        case OPT_USER: g->user = optarg; break;
        case OPT_PASSWORD_ENV: g->password_env = optarg; break;
        case OPT_CACERT: g->cacert = optarg; break;
        case OPT_JSON: g->json = 1; break;
        case 'h': help_all(); return PACTL_EXIT_OK;
        case OPT_VERSION: printf("pactl %s\n", PACKAGE_VERSION); return PACTL_EXIT_OK;
        case OPT_PASSWORD:
            return usage_error("%s", "--password is not accepted: the command "
                               "line is visible to other users; put the "
                               "password in an environment variable and "
                               "name it with --password-env");
        case ':':
            return usage_error("option %s needs a value", argv[optind - 1]);
        default:
            /* argv[optind - 1] is the option as typed; never its value. */
            return usage_error("unknown or ambiguous option %s",
                               argv[optind - 1]);
        }
    }
    return -1;
}

static int valid_env_name(const char *s)
{
    if (s == NULL || !(*s == '_' || (*s >= 'A' && *s <= 'Z')
                       || (*s >= 'a' && *s <= 'z')))
        return 0;
    for (; *s != '\0'; s++)
        if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')
              || (*s >= '0' && *s <= '9')))
            return 0;
    return 1;
}

/* Checks the combination of global options; -1 when fine. */
static int check_globals(const globals *g, const char **password)
{
    *password = NULL;
    if ((g->db == NULL) == (g->url == NULL))
        return usage_error("%s", "give exactly one of --db FILE and --url URL");
    if (g->db != NULL && (g->user || g->password_env || g->cacert))
        return usage_error("%s", "--user, --password-env and --cacert go with "
                           "--url, not --db");
    if ((g->user == NULL) != (g->password_env == NULL))
        return usage_error("%s", "--user and --password-env go together");
    if (g->password_env == NULL)
        return -1;
    /* Never echo a value that may be the password itself, typed by mistake. */
    if (!valid_env_name(g->password_env))
        return usage_error("%s", "--password-env takes the NAME of an "
                           "environment variable");
    *password = getenv(g->password_env);
    if (*password == NULL)
        return usage_error("environment variable %s (--password-env) is not set",
                           g->password_env);
    return -1;
}

/* ---- the command --------------------------------------------------------------- */

static const pactl_cmd *find_cmd(const char *group, const char *verb)
{
    for (int i = 0; i < pactl_ncmds; i++)
        if (strcmp(pactl_cmds[i].group, group) == 0
            && strcmp(pactl_cmds[i].verb, verb) == 0)
            return &pactl_cmds[i];
    return NULL;
}

static int group_exists(const char *group)
{
    for (int i = 0; i < pactl_ncmds; i++)
        if (strcmp(pactl_cmds[i].group, group) == 0)
            return 1;
    return 0;
}

static int parse_id(const char *s, int64_t *out)
{
    char *end;
    long long v;

    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v <= 0)
        return -1;
    *out = (int64_t)v;
    return 0;
}

static int set_arg(const pactl_cmd *c, int i, const char *s, pactl_req *r)
{
    switch (c->args[i]) {
    case PACTL_ARG_ID:
        if (parse_id(s, &r->id) != 0)
            return usage_error("'%s' is not an id (a positive whole number)", s);
        break;
    case PACTL_ARG_NAME: r->name = s; break;
    case PACTL_ARG_KEY: r->key = s; break;
    case PACTL_ARG_URL: r->url = s; break;
    }
    return -1;
}

/* Parses the command's own arguments (argv[0] is the first after VERB).
 * -1: go on; otherwise the exit status. */
static int parse_args(const pactl_cmd *c, int argc, char **argv, globals *g,
                      pactl_req *r)
{
    int npos = 0, options_done = 0, st;
    const char *by_name = NULL;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!options_done && a[0] == '-' && a[1] != '\0') {
            if (strcmp(a, "--") == 0) {
                options_done = 1;
            } else if (strcmp(a, "--json") == 0) {
                g->json = 1;
            } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
                help_cmd(c);
                return PACTL_EXIT_OK;
            } else if (c->op == PACTL_APP_SHOW && strcmp(a, "--name") == 0) {
                if (i + 1 >= argc)
                    return usage_error("%s", "--name needs a value");
                by_name = argv[++i];
            } else {
                return usage_error("unknown option %s", a);
            }
            continue;
        }
        if (npos >= c->nargs || by_name != NULL)
            return usage_error("too many arguments (%s)", a);
        if ((st = set_arg(c, npos++, a, r)) != -1)
            return st;
    }
    if (by_name != NULL) {
        if (npos > 0)
            return usage_error("%s", "give an ID or --name NAME, not both");
        r->name = by_name;
        return -1;
    }
    if (npos < c->nargs) {
        fprintf(stderr, "usage: pactl ... %s %s %s\n", c->group, c->verb,
                c->synopsis);
        return usage_error("%s", "missing arguments");
    }
    return -1;
}

/* ---- running --------------------------------------------------------------------- */

static int open_backend(const globals *g, const char *password,
                        pactl_backend **be, pactl_fail *f)
{
    if (g->db != NULL)
        return pactl_db_open(g->db, be, f);
    pactl_soap_opts o = {.url = g->url, .user = g->user,
                         .password = password, .cacert = g->cacert};
    return pactl_soap_open(&o, be, f);
}

/* A remove that matched nothing is a success on the wire, but a failure
 * for someone who asked pactl to remove a particular thing. */
static int removed_nothing(const pactl_req *r, const json_t *res, pactl_fail *f)
{
    if (r->op != PACTL_INTEGRATION_REMOVE && r->op != PACTL_CALLBACK_REMOVE)
        return 0;
    if (!json_is_false(json_object_get(res, "removed")))
        return 0;
    pactl_fail_text(f, "no %s has id %s",
                    r->op == PACTL_CALLBACK_REMOVE ? "callback" : "integration",
                    r->key);
    return 1;
}

int pactl_run(pactl_backend *b, const pactl_req *r, json_t **out,
              pactl_fail *f)
{
    const pactl_ops *o = b->ops;
    pactl_handler *h = NULL;

    *out = NULL;
    switch (r->op) {
    case PACTL_APP_CREATE: h = o->app_create; break;
    case PACTL_APP_LIST: h = o->app_list; break;
    case PACTL_APP_SHOW:
    case PACTL_APP_MASTER_KEY: h = o->app_detail; break;
    case PACTL_VERSION_CREATE: h = o->version_create; break;
    case PACTL_VERSION_SUPPORT:
    case PACTL_VERSION_UNSUPPORT: h = o->version_support; break;
    case PACTL_INTEGRATION_CREATE: h = o->integration_create; break;
    case PACTL_INTEGRATION_LIST: h = o->integration_list; break;
    case PACTL_CALLBACK_CREATE: h = o->callback_create; break;
    case PACTL_CALLBACK_LIST: h = o->callback_list; break;
    case PACTL_INTEGRATION_REMOVE:
    case PACTL_CALLBACK_REMOVE: h = o->remove_by_id; break;
    }
    if (h == NULL) {
        pactl_fail_text(f, "operation not available with this backend");
        return -1;
    }
    return h(b, r, out, f);
}

static int run(const globals *g, const char *password, const pactl_cmd *c,
               const pactl_req *r)
{
    pactl_backend *be = NULL;
    pactl_fail f = {PA_OK, ""};
    json_t *res = NULL;
    int status = PACTL_EXIT_OK;

    if (open_backend(g, password, &be, &f) != 0) {
        pactl_print_fail(&f, g->json);
        return PACTL_EXIT_FAILED;
    }
    if (pactl_run(be, r, &res, &f) != 0) {
        pactl_print_fail(&f, g->json);
        status = PACTL_EXIT_FAILED;
    } else if (removed_nothing(r, res, &f)) {
        pactl_print_fail(&f, 0);
        if (g->json)
            pactl_print(c, res, 1);
        status = PACTL_EXIT_FAILED;
    } else {
        pactl_print(c, res, g->json);
    }
    json_decref(res);
    be->ops->close(be);
    return status;
}

int main(int argc, char **argv)
{
    globals g = {0};
    pactl_req req = {0};
    const pactl_cmd *cmd;
    const char *password;
    int st;

    pactl_json_init();
    if ((st = parse_globals(argc, argv, &g)) != -1)
        return st;
    argc -= optind;
    argv += optind;
    if (argc >= 1 && strcmp(argv[0], "help") == 0) {
        if (help_topic(argc > 1 ? argv[1] : NULL, argc > 2 ? argv[2] : NULL) == 0)
            return PACTL_EXIT_OK;
        return usage_error("%s", "no such command; 'pactl --help' lists them");
    }
    if (argc < 2 || (cmd = find_cmd(argv[0], argv[1])) == NULL) {
        if (argc >= 1 && group_exists(argv[0])) {
            fprintf(stderr, "pactl: no command '%s %s'; 'pactl help %s' "
                    "lists them\n", argv[0], argc > 1 ? argv[1] : "...",
                    argv[0]);
            return PACTL_EXIT_USAGE;
        }
        return usage_error("%s", argc ? "no such command" : "no command given");
    }
    req.op = cmd->op;
    if ((st = parse_args(cmd, argc - 2, argv + 2, &g, &req)) != -1)
        return st;
    if ((st = check_globals(&g, &password)) != -1)
        return st;
    return run(&g, password, cmd, &req);
}
