/*
 * pactl.h - the pieces of pactl, the admin command line, and how they fit.
 *
 * main.c parses the global options and the command (cmdtable.c says which
 * commands exist, what arguments they take and how they are documented)
 * into one pactl_req.  A backend runs the request: backend_db.c on a
 * SQLite file through the same service functions the server uses,
 * backend_soap.c against a running server through the generated gSOAP
 * client stubs.  Both answer with the same JSON object (keys named as the
 * SOAP contract's fields), so output.c renders one shape for both, as
 * aligned text or as JSON, and the two ways of working cannot drift apart.
 */
#ifndef PACTL_H
#define PACTL_H

#include <stdint.h>

#include <jansson.h>

#include "util/err.h"

/* Exit statuses. */
#define PACTL_EXIT_OK 0
#define PACTL_EXIT_FAILED 1
#define PACTL_EXIT_USAGE 2

typedef enum pactl_op {
    PACTL_APP_CREATE,
    PACTL_APP_LIST,
    PACTL_APP_SHOW,
    PACTL_APP_MASTER_KEY,
    PACTL_VERSION_CREATE,
    PACTL_VERSION_SUPPORT,
    PACTL_VERSION_UNSUPPORT,
    PACTL_INTEGRATION_CREATE,
    PACTL_INTEGRATION_LIST,
    PACTL_INTEGRATION_REMOVE,
    PACTL_CALLBACK_CREATE,
    PACTL_CALLBACK_LIST,
    PACTL_CALLBACK_REMOVE,
} pactl_op;

/* One parsed command.  Which members are set depends on op. */
typedef struct pactl_req {
    pactl_op op;
    int64_t id;         /* application id, or version id for version support */
    const char *name;   /* name to create, or app show --name */
    const char *key;    /* integration or callback id (UUID) */
    const char *url;    /* callback URL */
} pactl_req;

/* Why a request failed: an ERR code (PA_OK when the failure has none,
 * e.g. a refused connection) and the text to print after it. */
typedef struct pactl_fail {
    pa_err code;
    char text[512];
} pactl_fail;

/* Sets f to an ERR code with its English catalogue text. */
void pactl_fail_code(pactl_fail *f, pa_err e);
/* Sets f to a failure without an ERR code. */
void pactl_fail_text(pactl_fail *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

struct pactl_backend;

/* One kind of request, run by a backend: returns 0 and sets *out (owned
 * by the caller) or returns -1 with f filled and *out NULL. */
typedef int pactl_handler(struct pactl_backend *b, const pactl_req *r,
                          json_t **out, pactl_fail *f);

/* What a backend does for each kind of request.  Show and master-key share
 * app_detail, support and unsupport share version_support, and both
 * removals share remove_by_id; pactl_run() picks the handler. */
typedef struct pactl_ops {
    pactl_handler *app_create, *app_list, *app_detail, *version_create,
        *version_support, *integration_create, *integration_list,
        *callback_create, *callback_list, *remove_by_id;
    void (*close)(struct pactl_backend *b);
} pactl_ops;

/* A way to run requests (the database file or a SOAP endpoint). */
typedef struct pactl_backend {
    const pactl_ops *ops;
} pactl_backend;

/* Runs r with the backend's handler for its kind. */
int pactl_run(pactl_backend *b, const pactl_req *r, json_t **out,
              pactl_fail *f);

/* Opens the database (created and migrated if new). */
int pactl_db_open(const char *path, pactl_backend **out, pactl_fail *f);

/* Connection settings for the SOAP backend; user NULL = no WS-Security
 * header.  The strings must outlive the backend. */
typedef struct pactl_soap_opts {
    const char *url;
    const char *user;
    const char *password;
    const char *cacert;  /* PEM file for https, NULL = system CAs */
} pactl_soap_opts;

int pactl_soap_open(const pactl_soap_opts *o, pactl_backend **out,
                    pactl_fail *f);

/* ---- command table (cmdtable.c) ------------------------------------------ */

/* Argument kinds of a command's positional arguments. */
typedef enum pactl_arg {
    PACTL_ARG_ID,    /* positive decimal integer -> req.id */
    PACTL_ARG_NAME,  /* any text -> req.name */
    PACTL_ARG_KEY,   /* integration/callback id -> req.key */
    PACTL_ARG_URL,   /* -> req.url */
} pactl_arg;

#define PACTL_MAX_ARGS 3

typedef struct pactl_cmd {
    const char *group;          /* "app" */
    const char *verb;           /* "create" */
    pactl_op op;
    const char *synopsis;       /* "NAME" */
    const char *summary;        /* one line for --help */
    const char *details;        /* paragraph(s) for help COMMAND */
    int nargs;
    pactl_arg args[PACTL_MAX_ARGS];
    const char *text_only;      /* text output prints just this member */
} pactl_cmd;

extern const pactl_cmd pactl_cmds[];
extern const int pactl_ncmds;

/* ---- output (output.c) ----------------------------------------------------- */

/* Makes jansson wipe every block before freeing it (results carry
 * application and integration secrets).  Call before any json_t exists. */
void pactl_json_init(void);

/* Prints a result as JSON (one line) or as aligned text. */
void pactl_print(const pactl_cmd *cmd, const json_t *result, int as_json);

/* Prints a failure to stderr ("ERR0015: Application ... ." or
 * "pactl: ..."), and with as_json also {"errorCode","message"} to stdout. */
void pactl_print_fail(const pactl_fail *f, int as_json);

#endif
