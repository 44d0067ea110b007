/*
 * cmdtable.c - every pactl command: its words, arguments and help text.
 *
 * One table drives parsing, `pactl --help` and `pactl help COMMAND`, so a
 * command cannot exist without being documented.
 */
#include "tools/pactl/pactl.h"

const pactl_cmd pactl_cmds[] = {
    {"app", "create", PACTL_APP_CREATE, "NAME",
     "create an application, its keys and version 1",
     "Creates the application NAME (names are unique), its master key pair\n"
     "and its first version \"default\", and prints the application id and\n"
     "name, the default version's id, applicationKey and applicationSecret,\n"
     "and the master public key.  The key and secret go into the mobile app\n"
     "together with the master public key.",
     1, {PACTL_ARG_NAME}, NULL},
    {"app", "list", PACTL_APP_LIST, "",
     "list applications",
     "Lists every application in creation order.",
     0, {0}, NULL},
    {"app", "show", PACTL_APP_SHOW, "ID | --name NAME",
     "show an application, its versions and keys",
     "Shows the application with id ID (or named NAME): its master public\n"
     "key and every version with its applicationKey, applicationSecret and\n"
     "whether it is supported.  An unknown application fails with ERR0015.",
     1, {PACTL_ARG_ID}, NULL},
    {"app", "master-key", PACTL_APP_MASTER_KEY, "ID",
     "print just the master public key (Base64)",
     "Prints only the Base64 master public key of application ID (an\n"
     "uncompressed P-256 point, 65 bytes), for embedding in mobile apps.\n"
     "With --json: {\"applicationId\": ID, \"masterPublicKey\": \"...\"}.",
     1, {PACTL_ARG_ID}, "masterPublicKey"},
    {"version", "create", PACTL_VERSION_CREATE, "APP_ID NAME",
     "new version (applicationKey and -Secret)",
     "Creates version NAME of application APP_ID with a fresh random\n"
     "applicationKey and applicationSecret; the version is supported.  An\n"
     "unknown application fails with ERR0015.",
     2, {PACTL_ARG_ID, PACTL_ARG_NAME}, NULL},
    {"version", "support", PACTL_VERSION_SUPPORT, "VERSION_ID",
     "accept the version's applicationKey again",
     "Marks application version VERSION_ID supported, so mobile apps using\n"
     "its applicationKey are served.  An unknown version fails with ERR0015.",
     1, {PACTL_ARG_ID}, NULL},
    {"version", "unsupport", PACTL_VERSION_UNSUPPORT, "VERSION_ID",
     "refuse the version's applicationKey",
     "Marks application version VERSION_ID unsupported: requests made with\n"
     "its applicationKey are refused from now on (ERR0015).  Nothing is\n"
     "deleted; `version support` undoes it.",
     1, {PACTL_ARG_ID}, NULL},
    {"integration", "create", PACTL_INTEGRATION_CREATE, "NAME",
     "create SOAP caller credentials",
     "Creates an integration NAME with a random id, clientToken and\n"
     "clientSecret.  When the server restricts access, SOAP callers present\n"
     "clientToken as WS-Security Username and clientSecret as Password.",
     1, {PACTL_ARG_NAME}, NULL},
    {"integration", "list", PACTL_INTEGRATION_LIST, "",
     "list integrations, secrets included",
     "Lists every integration with its clientToken and clientSecret.  Over\n"
     "SOAP it also prints whether the server restricts access.",
     0, {0}, NULL},
    {"integration", "remove", PACTL_INTEGRATION_REMOVE, "ID",
     "remove an integration",
     "Deletes integration ID; its credentials stop working at once.  Exit\n"
     "status 1 when no integration has that id.",
     1, {PACTL_ARG_KEY}, NULL},
    {"callback", "create", PACTL_CALLBACK_CREATE, "APP_ID NAME URL",
     "notify URL of activation changes",
     "Registers URL (which must parse as a URL, else ERR0014) under NAME for\n"
     "application APP_ID.  The server POSTs {\"activationId\": ...} there\n"
     "whenever an activation of that application changes status.",
     3, {PACTL_ARG_ID, PACTL_ARG_NAME, PACTL_ARG_URL}, NULL},
    {"callback", "list", PACTL_CALLBACK_LIST, "APP_ID",
     "list an application's callback URLs",
     "Lists the callback URLs of application APP_ID, ordered by name.",
     1, {PACTL_ARG_ID}, NULL},
    {"callback", "remove", PACTL_CALLBACK_REMOVE, "ID",
     "remove a callback URL",
     "Deletes callback ID.  Exit status 1 when no callback has that id.",
     1, {PACTL_ARG_KEY}, NULL},
};

const int pactl_ncmds = (int)(sizeof pactl_cmds / sizeof pactl_cmds[0]);
