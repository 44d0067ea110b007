/*
 * test_device_cli.c - the padevice binary ($PADEVICE, set by
 * AM_TESTS_ENVIRONMENT) driven step by step with a temporary state file,
 * its JSON output parsed with jansson and fed to the in-process server of
 * devserver.c, whose answers go back through the command line.  Also the
 * command-line contract: exit statuses, messages on stderr, help, and the
 * state file (mode 0600, no derived keys, untouched by a failed step).
 */
#include <ctype.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "crypto/offline.h"
#include "crypto/primitives.h"
#include "crypto/token.h"
#include "tests/unit/devserver.h"
#include "util/base64.h"

static char dir[64], state[128];
static const char *bin;

typedef struct {
    int status;     /* exit status, -1 when it did not exit normally */
    char *out, *err;
    json_t *json;   /* stdout parsed, NULL if not JSON */
} run_result;

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = calloc(1, 1 << 16);
    size_t n = 0;

    if (f != NULL && buf != NULL)
        n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    if (f != NULL)
        fclose(f);
    return buf;
}

static void run_free(run_result *r)
{
    free(r->out);
    free(r->err);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* Runs padevice with the given arguments (NULL-terminated). */
static void run_argv(run_result *r, const char *const *args)
{
    const char *argv[48];
    char outp[128], errp[128];
    size_t n = 0;
    int st = 0;
    pid_t pid;

    memset(r, 0, sizeof *r);
    r->status = -1;
    argv[n++] = "padevice";
    while (args[n - 1] != NULL && n < 47) {
        argv[n] = args[n - 1];
        n++;
    }
    argv[n] = NULL;
    snprintf(outp, sizeof outp, "%s/stdout", dir);
    snprintf(errp, sizeof errp, "%s/stderr", dir);
    fflush(NULL);
    if ((pid = fork()) == 0) {
        int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(126);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return;
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r->out = slurp(outp);
    r->err = slurp(errp);
    r->json = json_loads(r->out, 0, NULL);
}

/* run(r, "command", "--opt", "value", ..., NULL) with --state added. */
static void run(run_result *r, const char *cmd, ...)
{
    const char *args[44];
    size_t n = 0;
    va_list ap;

    args[n++] = cmd;
    args[n++] = "--state";
    args[n++] = state;
    va_start(ap, cmd);
    while (n < 43 && (args[n] = va_arg(ap, const char *)) != NULL)
        n++;
    va_end(ap);
    args[n] = NULL;
    run_argv(r, args);
}

static const char *js(const run_result *r, const char *k)
{
    return json_string_value(json_object_get(r->json, k));
}

/* The step worked: exit 0, a JSON object, nothing on stderr. */
static int ok(const run_result *r)
{
    if (r->status != 0)
        fprintf(stderr, "\npadevice failed (%d): %s\n", r->status,
                r->err ? r->err : "");
    return r->status == 0 && json_is_object(r->json) && r->err != NULL
           && r->err[0] == '\0';
}

/* A cryptogram printed by padevice, decoded into a server request. */
typedef struct {
    uint8_t eph[PA_EC_PUB_LEN], data[4096], mac[64], nonce[32];
    size_t eph_len, data_len, mac_len, nonce_len;
    pa_ecies_request req;
} wire;

static int wire_decode(const run_result *r, wire *w)
{
    const char *nonce = js(r, "nonce");

    memset(w, 0, sizeof *w);
    if (!js(r, "ephemeralPublicKey") || !js(r, "encryptedData")
        || !js(r, "mac")
        || pa_b64_decode(js(r, "ephemeralPublicKey"), w->eph, &w->eph_len)
        || PA_B64_DECMAX(strlen(js(r, "encryptedData"))) > sizeof w->data
        || pa_b64_decode(js(r, "encryptedData"), w->data, &w->data_len)
        || pa_b64_decode(js(r, "mac"), w->mac, &w->mac_len)
        || (nonce && pa_b64_decode(nonce, w->nonce, &w->nonce_len)))
        return 0;
    w->req = (pa_ecies_request){w->eph, w->eph_len, w->data, w->data_len,
                                w->mac, w->mac_len, nonce ? w->nonce : NULL,
                                w->nonce_len};
    return 1;
}

/* Server answer as the two Base64 options of a *-response step. */
static void answer_b64(const ds_answer *a, char **ct, char *mac)
{
    *ct = NULL;
    pa_b64_encode_alloc(a->ct, a->ct_len, ct);
    pa_b64_encode(a->mac, sizeof a->mac, mac);
}

/* --- command-line contract ------------------------------------------------------ */

static void test_cli_usage(void)
{
    const char *help[] = {"--help", NULL}, *help_sign[] = {"help", "sign",
                                                             NULL};
    const char *unknown[] = {"frobnicate", "--state", "x", NULL};
    const char *none[] = {NULL};
    run_result r;

    if (bin == NULL) {
        CU_FAIL("PADEVICE is not set and tools/padevice/padevice is missing");
        return;
    }
    run_argv(&r, help);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "prepare-activation"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "v2-token-response"));
    run_free(&r);
    run_argv(&r, help_sign);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "--uri-id"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "--signature-type"));
    run_free(&r);
    run_argv(&r, unknown);
    CU_ASSERT_NOT_EQUAL(r.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "unknown command"));
    CU_ASSERT_EQUAL(r.out[0], '\0');
    run_free(&r);
    run_argv(&r, none);
    CU_ASSERT_NOT_EQUAL(r.status, 0);
    CU_ASSERT(r.err[0] != '\0');
    run_free(&r);
    /* Missing --state, missing required option, unknown option. */
    {
        const char *nostate[] = {"show", NULL};

        run_argv(&r, nostate);
        CU_ASSERT_EQUAL(r.status, 2);
        CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "--state"));
        run_free(&r);
    }
    run(&r, "init", "--application-key", "AAAA", NULL);
    CU_ASSERT_EQUAL(r.status, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "missing option --application-secret"));
    CU_ASSERT_EQUAL(r.out[0], '\0');
    run_free(&r);
    run(&r, "show", "--bogus", NULL);
    CU_ASSERT_EQUAL(r.status, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "--bogus"));
    run_free(&r);
    /* No state file yet. */
    run(&r, "show", NULL);
    CU_ASSERT_EQUAL(r.status, 1);
    CU_ASSERT(r.err[0] != '\0');
    run_free(&r);
}

/* --- the flow ----------------------------------------------------------------------- */

static void cli_init(ds_server *s)
{
    char *master = ds_master_pub_b64(s);
    run_result r;

    run(&r, "init", "--application-key", s->app_key, "--application-secret",
        s->app_secret, "--master-public-key", master, NULL);
    CU_ASSERT(ok(&r));
    CU_ASSERT_STRING_EQUAL(js(&r, "protocol"), "3.1");
    run_free(&r);
    /* Not twice without --force. */
    run(&r, "init", "--application-key", s->app_key, "--application-secret",
        s->app_secret, "--master-public-key", master, NULL);
    CU_ASSERT_EQUAL(r.status, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "exists"));
    run_free(&r);
    free(master);
}

static void cli_activate(ds_server *s)
{
    char *ct = NULL, mac[64], bad[64], fp[PA_FINGERPRINT_BUF];
    ds_answer a = {0};
    run_result r;
    wire w;

    run(&r, "prepare-activation", "--activation-code", s->code, "--name",
        "CLI phone", "--platform", "android", NULL);
    CU_ASSERT_FATAL(ok(&r));
    CU_ASSERT_STRING_EQUAL(js(&r, "activationCode"), s->code);
    CU_ASSERT_STRING_EQUAL(js(&r, "applicationKey"), s->app_key);
    CU_ASSERT_FATAL(wire_decode(&r, &w));
    CU_ASSERT_EQUAL(w.eph_len, 33);
    CU_ASSERT_EQUAL(w.nonce_len, 16);
    run_free(&r);
    CU_ASSERT_EQUAL_FATAL(ds_prepare(s, &w.req, 0, &a), PA_OK);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(s->layer2,
                                                             "platform")),
                           "android");
    answer_b64(&a, &ct, mac);
    /* A tampered MAC fails with ERR0018 and leaves the state as it was. */
    snprintf(bad, sizeof bad, "%s", mac);
    bad[0] = bad[0] == 'A' ? 'B' : 'A';
    run(&r, "activation-response", "--encrypted-data", ct, "--mac", bad, NULL);
    CU_ASSERT_EQUAL(r.status, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "ERR0018"));
    CU_ASSERT_EQUAL(r.out[0], '\0');
    run_free(&r);
    run(&r, "activation-response", "--encrypted-data", ct, "--mac", mac, NULL);
    CU_ASSERT_FATAL(ok(&r));
    CU_ASSERT_STRING_EQUAL(js(&r, "activationId"), s->activation_id);
    CU_ASSERT(json_is_null(json_object_get(r.json, "activationRecovery")));
    CU_ASSERT_EQUAL(pa_fingerprint_v3(s->device_pub, s->activation_id,
                                      s->server_key, fp), PA_OK);
    CU_ASSERT_STRING_EQUAL(js(&r, "devicePublicKeyFingerprint"), fp);
    run_free(&r);
    free(ct);
    ds_answer_free(&a);
}

static void cli_activation_signature(ds_server *s)
{
    uint8_t sig[PA_ECDSA_MAX];
    char b64[128];
    size_t n = 0;
    run_result r;

    CU_ASSERT_EQUAL(pa_code_sign(s->master, s->code, sig, &n), PA_OK);
    pa_b64_encode(sig, n, b64);
    run(&r, "verify-activation-signature", "--activation-code", s->code,
        "--activation-signature", b64, NULL);
    CU_ASSERT(ok(&r));
    CU_ASSERT(json_is_true(json_object_get(r.json, "valid")));
    run_free(&r);
    run(&r, "verify-activation-signature", "--activation-code",
        "AAAAA-AAAAA-AAAAA-AAAAA", "--activation-signature", b64, NULL);
    CU_ASSERT(ok(&r));
    CU_ASSERT(json_is_false(json_object_get(r.json, "valid")));
    run_free(&r);
}

static void cli_status(ds_server *s)
{
    uint8_t ch[16], nonce[16], blob[32];
    char blob64[64], nonce64[32];
    run_result r;

    run(&r, "status-challenge", NULL);
    CU_ASSERT_FATAL(ok(&r));
    CU_ASSERT_EQUAL_FATAL(pa_b64_decode_exact(js(&r, "challenge"), ch, 16),
                          PA_OK);
    run_free(&r);
    CU_ASSERT_EQUAL_FATAL(ds_status(s, ch, nonce, blob), PA_OK);
    pa_b64_encode(blob, 32, blob64);
    pa_b64_encode(nonce, 16, nonce64);
    run(&r, "status-decrypt", "--encrypted-status-blob", blob64,
        "--encrypted-status-blob-nonce", nonce64, NULL);
    CU_ASSERT_FATAL(ok(&r));
    CU_ASSERT_STRING_EQUAL(js(&r, "activationStatus"), "ACTIVE");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r.json,
                                                       "currentVersion")), 3);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r.json,
                                                       "ctrLookAhead")), 20);
    CU_ASSERT(json_is_true(json_object_get(r.json, "ctrDataHashMatches")));
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r.json,
                                                       "ctrDataDistance")), 0);
    run_free(&r);
}

static void cli_sign(ds_server *s, const char *method, const char *opt,
                     const char *value, int64_t want_counter)
{
    pa_sig_type t;
    int64_t off = -1;
    run_result r;

    run(&r, "sign", "--method", method, "--uri-id", "/pa/signature/validate",
        opt, value, "--signature-type", "possession_knowledge", NULL);
    CU_ASSERT_FATAL(ok(&r));
    CU_ASSERT_STRING_EQUAL(js(&r, "signatureType"), "POSSESSION_KNOWLEDGE");
    CU_ASSERT_STRING_EQUAL(js(&r, "signatureVersion"), "3.1");
    CU_ASSERT_EQUAL(pa_sig_type_parse(js(&r, "signatureType"), &t), PA_OK);
    CU_ASSERT_EQUAL(ds_verify(s, js(&r, "data"), js(&r, "signature"), t,
                              js(&r, "signatureVersion"), 0, &off), 1);
    CU_ASSERT_EQUAL(off, 0);
    CU_ASSERT_EQUAL(s->counter, want_counter);
    run_free(&r);
}

static void cli_token(ds_server *s)
{
    uint8_t nonce[16], digest[32];
    char *ct = NULL, mac[64];
    ds_answer a = {0};
    run_result r;
    int valid = -1;
    wire w;

    run(&r, "token-request", NULL);
    CU_ASSERT_FATAL(ok(&r));
    CU_ASSERT_STRING_EQUAL(js(&r, "activationId"), s->activation_id);
    CU_ASSERT_FATAL(wire_decode(&r, &w));
    run_free(&r);
    CU_ASSERT_EQUAL_FATAL(ds_token_create(s, &w.req, &a), PA_OK);
    answer_b64(&a, &ct, mac);
    run(&r, "token-response", "--encrypted-data", ct, "--mac", mac, NULL);
    CU_ASSERT_FATAL(ok(&r));
    CU_ASSERT_STRING_EQUAL(js(&r, "tokenId"), s->token_id);
    run_free(&r);
    run(&r, "token-digest", "--token-id", s->token_id, "--timestamp",
        "1700000000000", NULL);
    CU_ASSERT_FATAL(ok(&r));
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r.json, "timestamp")),
                    1700000000000LL);
    CU_ASSERT_EQUAL(pa_b64_decode_exact(js(&r, "nonce"), nonce, 16), PA_OK);
    CU_ASSERT_EQUAL(pa_b64_decode_exact(js(&r, "tokenDigest"), digest, 32),
                    PA_OK);
    CU_ASSERT_EQUAL(pa_token_verify(s->token_secret, nonce, 16, 1700000000000,
                                    digest, 32, &valid), PA_OK);
    CU_ASSERT_EQUAL(valid, 1);
    CU_ASSERT_EQUAL(pa_token_verify(s->token_secret, nonce, 16, 1700000000001,
                                    digest, 32, &valid), PA_OK);
    CU_ASSERT_EQUAL(valid, 0);
    run_free(&r);
    free(ct);
    ds_answer_free(&a);
}

/* Names that would reveal a stored derived key. */
static int derived_key_name(const char *k)
{
    static const char *const bad[] = {"possession", "knowledge", "biometry",
                                      "transport",  "vault",     "mastersecret",
                                      "signaturekey", "derived"};
    char low[128];
    size_t i;

    for (i = 0; k[i] != '\0' && i < sizeof low - 1; i++)
        low[i] = (char)tolower((unsigned char)k[i]);
    low[i] = '\0';
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (strstr(low, bad[i]) != NULL)
            return 1;
    return 0;
}

static int any_derived_key_name(json_t *j)
{
    const char *k;
    json_t *v;
    size_t i;

    if (json_is_object(j)) {
        json_object_foreach(j, k, v)
            if (derived_key_name(k) || any_derived_key_name(v))
                return 1;
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v)
            if (any_derived_key_name(v))
                return 1;
    }
    return 0;
}

static void cli_state_file(void)
{
    struct stat st;
    json_t *root = json_load_file(state, 0, NULL);
    char *before, *after;
    run_result r;

    CU_ASSERT_EQUAL(stat(state, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    CU_ASSERT_PTR_NOT_NULL_FATAL(root);
    CU_ASSERT(json_is_string(json_object_get(root, "devicePrivateKey")));
    CU_ASSERT(!any_derived_key_name(root));
    CU_ASSERT(derived_key_name("KEY_TRANSPORT")); /* the check can fail */
    json_decref(root);
    /* A failed step changes nothing. */
    before = slurp(state);
    run(&r, "token-response", "--encrypted-data", "AAAA", "--mac", "AAAA",
        NULL);
    CU_ASSERT_EQUAL(r.status, 1);
    CU_ASSERT(r.err[0] != '\0');
    run_free(&r);
    after = slurp(state);
    CU_ASSERT_STRING_EQUAL(before, after);
    free(before);
    free(after);
    /* show reveals no secret. */
    run(&r, "show", NULL);
    CU_ASSERT(ok(&r));
    CU_ASSERT_PTR_NULL(strstr(r.out, "Secret"));
    CU_ASSERT_PTR_NULL(strstr(r.out, "Private"));
    CU_ASSERT_PTR_NULL(strstr(r.out, "puk"));
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r.json, "counter")), 2);
    run_free(&r);
}

static void test_cli_flow(void)
{
    ds_server s;

    if (bin == NULL) {
        CU_FAIL("no padevice binary");
        return;
    }
    CU_ASSERT_EQUAL_FATAL(ds_init(&s), PA_OK);
    unlink(state);
    cli_init(&s);
    cli_activate(&s);
    cli_activation_signature(&s);
    cli_status(&s);
    cli_sign(&s, "POST", "--body", "{\"amount\":\"10.00\"}", 1);
    cli_sign(&s, "GET", "--query", "b=2&a=x%20y", 2);
    cli_token(&s);
    cli_state_file();
    ds_free(&s);
}

/* --- more protocol-3 flows through the command line ---------------------------- */

/* Runs a *-response step with a server answer. */
static void respond(run_result *r, const char *cmd, const ds_answer *a)
{
    char *ct = NULL, mac[64];

    answer_b64(a, &ct, mac);
    run(r, cmd, "--encrypted-data", ct, "--mac", mac, NULL);
    free(ct);
}

static void cli_recovery(ds_server *s)
{
    ds_answer a = {0};
    run_result r;
    wire w;

    run(&r, "recovery-confirm-request", NULL);
    CU_ASSERT_FATAL(ok(&r) && wire_decode(&r, &w));
    run_free(&r);
    CU_ASSERT_EQUAL_FATAL(ds_confirm_recovery(s, &w.req, &a), PA_OK);
    respond(&r, "recovery-confirm-response", &a);
    CU_ASSERT(ok(&r));
    CU_ASSERT(json_is_false(json_object_get(r.json, "alreadyConfirmed")));
    run_free(&r);
    ds_answer_free(&a);
}

static void cli_offline(ds_server *s)
{
    char *od = NULL, nonce[32];
    pa_sig_type used;
    run_result r;

    CU_ASSERT_EQUAL_FATAL(pa_offline_payload_create(s->server_key,
                                                    "pay\n100 EUR", '1', &od,
                                                    nonce), PA_OK);
    run(&r, "offline-sign", "--offline-data", od, "--uri-id", "/op/offline",
        "--body", "op=1", "--biometry", NULL);
    CU_ASSERT_FATAL(ok(&r));
    CU_ASSERT(json_is_true(json_object_get(r.json, "payloadValid")));
    CU_ASSERT_STRING_EQUAL(js(&r, "nonce"), nonce);
    CU_ASSERT_EQUAL(ds_verify_offline(s, js(&r, "data"), js(&r, "signature"),
                                      1, &used), 1);
    CU_ASSERT_EQUAL(used, PA_SIG_POSSESSION_BIOMETRY);
    run_free(&r);
    od[0] = 'P'; /* tampered: refused with exit status 3 */
    run(&r, "offline-sign", "--offline-data", od, "--uri-id", "/op/offline",
        "--body", "op=1", NULL);
    CU_ASSERT_EQUAL(r.status, 3);
    CU_ASSERT(json_is_false(json_object_get(r.json, "payloadValid")));
    CU_ASSERT(r.err[0] != '\0');
    run_free(&r);
    free(od);
}

static void cli_vault(ds_server *s)
{
    json_t *body;
    pa_sig_type t;
    ds_answer a = {0};
    run_result r;
    int valid = 0;
    wire w;

    run(&r, "vault-request", "--reason", "FETCH_ENCRYPTION_KEY",
        "--signature-type", "possession_knowledge", NULL);
    CU_ASSERT_FATAL(ok(&r) && wire_decode(&r, &w));
    /* The signed body carries exactly the cryptogram fields (3.0: no
     * nonce). */
    body = json_loads(js(&r, "body"), 0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(body);
    CU_ASSERT_EQUAL(json_object_size(body), 3);
    CU_ASSERT_PTR_NULL(json_object_get(body, "nonce"));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(body, "mac")),
                           js(&r, "mac"));
    json_decref(body);
    CU_ASSERT_EQUAL(pa_sig_type_parse(js(&r, "signatureType"), &t), PA_OK);
    CU_ASSERT_EQUAL_FATAL(ds_vault_unlock(s, &w.req, js(&r, "signedData"),
                                          js(&r, "signature"), t,
                                          js(&r, "signatureVersion"), &valid,
                                          &a), PA_OK);
    CU_ASSERT_EQUAL(valid, 1);
    CU_ASSERT_STRING_EQUAL(s->vault_reason, "FETCH_ENCRYPTION_KEY");
    run_free(&r);
    respond(&r, "vault-response", &a);
    CU_ASSERT(ok(&r));
    CU_ASSERT(json_is_true(json_object_get(r.json, "vaultUnlocked")));
    run_free(&r);
    ds_answer_free(&a);
}

static void cli_generic(ds_server *s)
{
    uint8_t *plain = NULL;
    size_t n = 0;
    ds_answer a = {0};
    run_result r;
    wire w;

    run(&r, "ecies-request", "--scope", "activation", "--shared-info1",
        "/pa/generic/activation", "--data", "{\"q\":1}", NULL);
    CU_ASSERT_FATAL(ok(&r) && wire_decode(&r, &w));
    run_free(&r);
    CU_ASSERT_EQUAL_FATAL(ds_open(s, 1, "/pa/generic/activation", &w.req,
                                  &plain, &n), PA_OK);
    CU_ASSERT(n == 7 && memcmp(plain, "{\"q\":1}", 7) == 0);
    pa_secure_free(plain, n);
    CU_ASSERT_EQUAL_FATAL(ds_reply(s, "{\"a\":2}", &a), PA_OK);
    respond(&r, "ecies-response", &a);
    CU_ASSERT(ok(&r));
    CU_ASSERT_STRING_EQUAL(js(&r, "plaintext"), "{\"a\":2}");
    run_free(&r);
    ds_answer_free(&a);
}

static void test_cli_more_flows(void)
{
    char *master, fp[PA_FINGERPRINT_BUF];
    ds_answer a = {0};
    run_result r;
    ds_server s;
    wire w;

    if (bin == NULL) {
        CU_FAIL("no padevice binary");
        return;
    }
    CU_ASSERT_EQUAL_FATAL(ds_init(&s), PA_OK);
    s.recovery = 1;
    master = ds_master_pub_b64(&s);
    run(&r, "init", "--force", "--protocol", "3.0", "--application-key",
        s.app_key, "--application-secret", s.app_secret,
        "--master-public-key", master, NULL);
    CU_ASSERT(ok(&r));
    run_free(&r);
    free(master);
    run(&r, "create-activation", "--uncompressed", NULL);
    CU_ASSERT_FATAL(ok(&r) && wire_decode(&r, &w));
    CU_ASSERT_EQUAL(w.eph_len, 65);
    CU_ASSERT_PTR_NULL(json_object_get(r.json, "nonce")); /* 3.0 */
    run_free(&r);
    CU_ASSERT_EQUAL_FATAL(ds_prepare(&s, &w.req, 1, &a), PA_OK);
    respond(&r, "activation-response", &a);
    CU_ASSERT_FATAL(ok(&r));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
                               json_object_get(r.json, "activationRecovery"),
                               "puk")), s.puk);
    run_free(&r);
    ds_answer_free(&a);
    cli_recovery(&s);
    cli_offline(&s);
    cli_vault(&s);
    cli_generic(&s);
    run(&r, "fingerprint", NULL);
    CU_ASSERT(ok(&r));
    CU_ASSERT_EQUAL(pa_fingerprint_v3(s.device_pub, s.activation_id,
                                      s.server_key, fp), PA_OK);
    CU_ASSERT_STRING_EQUAL(js(&r, "devicePublicKeyFingerprint"), fp);
    run_free(&r);
    ds_free(&s);
}

/* --- protocol 2, then the upgrade, through the command line ---------------------- */

static size_t b64_field(const run_result *r, const char *k, uint8_t *out,
                        size_t max)
{
    size_t n = 0;
    const char *v = js(r, k);

    if (v == NULL || PA_B64_DECMAX(strlen(v)) > max
        || pa_b64_decode(v, out, &n) != PA_OK)
        return 0;
    return n;
}

/* v2 key exchange with the activation code (14.1). */
static void cli_v2_activate(ds_server *s)
{
    uint8_t nonce[32], c[128], eph[80], sig[64];
    size_t nl, cl, el, sl;
    char sid[12], otp[12], fp[PA_FINGERPRINT_BUF];
    char nonce_s[32], eph2[96], cs[160], sigs[128];
    ds_v2_answer ans;
    run_result r;

    run(&r, "v2-prepare-activation", "--activation-code", s->code, NULL);
    CU_ASSERT_FATAL(ok(&r));
    CU_ASSERT_EQUAL(pa_v2_split_code(s->code, sid, otp), PA_OK);
    CU_ASSERT_STRING_EQUAL(js(&r, "activationIdShort"), sid);
    CU_ASSERT_STRING_EQUAL(js(&r, "activationName"), "padevice");
    nl = b64_field(&r, "activationNonce", nonce, sizeof nonce);
    cl = b64_field(&r, "encryptedDevicePublicKey", c, sizeof c);
    el = b64_field(&r, "ephemeralPublicKey", eph, sizeof eph);
    sl = b64_field(&r, "applicationSignature", sig, sizeof sig);
    run_free(&r);
    CU_ASSERT_EQUAL_FATAL(nl, 16);
    CU_ASSERT_EQUAL_FATAL(ds_v2_prepare(s, sid, otp, nonce, c, cl, eph, el,
                                        sig, sl, &ans), PA_OK);
    pa_b64_encode(ans.nonce, sizeof ans.nonce, nonce_s);
    pa_b64_encode(ans.eph, sizeof ans.eph, eph2);
    pa_b64_encode(ans.c, sizeof ans.c, cs);
    pa_b64_encode(ans.sig, ans.sig_len, sigs);
    run(&r, "v2-activation-response", "--activation-id", s->activation_id,
        "--activation-nonce", nonce_s, "--ephemeral-public-key", eph2,
        "--encrypted-server-public-key", cs,
        "--encrypted-server-public-key-signature", sigs, NULL);
    CU_ASSERT_FATAL(ok(&r));
    CU_ASSERT_EQUAL(pa_fingerprint_v2(s->device_pub, fp), PA_OK);
    CU_ASSERT_STRING_EQUAL(js(&r, "devicePublicKeyFingerprint"), fp);
    run_free(&r);
}

/* v2 vault unlock: sign the request, then read the key (14.4). */
static void cli_v2_vault(ds_server *s)
{
    uint8_t key[32];
    char key_b64[64];
    run_result r;
    int valid = 0;

    run(&r, "sign", "--method", "POST", "--uri-id", "/pa/vault/unlock",
        "--body", "{}", "--signature-type", "POSSESSION_KNOWLEDGE", NULL);
    CU_ASSERT_FATAL(ok(&r));
    CU_ASSERT_STRING_EQUAL(js(&r, "signatureVersion"), "2.1");
    CU_ASSERT_EQUAL(strlen(js(&r, "signature")), 17);
    CU_ASSERT_EQUAL_FATAL(ds_vault_unlock_v2(s, js(&r, "data"),
                                             js(&r, "signature"),
                                             PA_SIG_POSSESSION_KNOWLEDGE,
                                             &valid, key), PA_OK);
    CU_ASSERT_EQUAL(valid, 1);
    run_free(&r);
    pa_b64_encode(key, sizeof key, key_b64);
    run(&r, "v2-vault-response", "--encrypted-vault-encryption-key", key_b64,
        NULL);
    CU_ASSERT(ok(&r));
    CU_ASSERT(json_is_true(json_object_get(r.json, "vaultUnlocked")));
    run_free(&r);
}

static void cli_v2_token(ds_server *s)
{
    uint8_t eph[80];
    size_t n;
    ds_answer a = {0};
    run_result r;

    run(&r, "v2-token-request", NULL);
    CU_ASSERT_FATAL(ok(&r));
    CU_ASSERT_STRING_EQUAL(js(&r, "activationId"), s->activation_id);
    n = b64_field(&r, "ephemeralPublicKey", eph, sizeof eph);
    run_free(&r);
    CU_ASSERT_EQUAL_FATAL(ds_v2_token(s, eph, n, &a), PA_OK);
    respond(&r, "v2-token-response", &a);
    CU_ASSERT(ok(&r));
    CU_ASSERT_STRING_EQUAL(js(&r, "tokenId"), s->token_id);
    run_free(&r);
    ds_answer_free(&a);
}

static void cli_upgrade(ds_server *s)
{
    ds_answer a = {0};
    int64_t off = -1;
    run_result r;
    wire w;

    run(&r, "set-protocol", "--protocol", "3.1", NULL);
    CU_ASSERT(ok(&r));
    run_free(&r);
    run(&r, "upgrade-request", NULL);
    CU_ASSERT_FATAL(ok(&r) && wire_decode(&r, &w));
    run_free(&r);
    CU_ASSERT_EQUAL_FATAL(ds_start_upgrade(s, &w.req, &a), PA_OK);
    respond(&r, "upgrade-response", &a);
    CU_ASSERT(ok(&r));
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r.json, "version")), 3);
    run_free(&r);
    ds_answer_free(&a);
    run(&r, "sign", "--method", "POST", "--uri-id", "/pa/upgrade/commit",
        "--signature-type", "possession", NULL);
    CU_ASSERT_FATAL(ok(&r));
    CU_ASSERT_EQUAL(ds_verify(s, js(&r, "data"), js(&r, "signature"),
                              PA_SIG_POSSESSION, js(&r, "signatureVersion"), 1,
                              &off), 1);
    CU_ASSERT_EQUAL(off, 0);
    run_free(&r);
}

static void test_cli_v2_flow(void)
{
    char *master;
    run_result r;
    ds_server s;

    if (bin == NULL) {
        CU_FAIL("no padevice binary");
        return;
    }
    CU_ASSERT_EQUAL_FATAL(ds_init(&s), PA_OK);
    master = ds_master_pub_b64(&s);
    run(&r, "init", "--force", "--protocol", "2.1", "--application-key",
        s.app_key, "--application-secret", s.app_secret,
        "--master-public-key", master, NULL);
    CU_ASSERT(ok(&r));
    run_free(&r);
    free(master);
    cli_v2_activate(&s);
    cli_v2_vault(&s);
    cli_v2_token(&s);
    cli_upgrade(&s);
    ds_free(&s);
}

static int suite_init(void)
{
    bin = getenv("PADEVICE");
    if (bin == NULL && access("tools/padevice/padevice", X_OK) == 0)
        bin = "tools/padevice/padevice";
    snprintf(dir, sizeof dir, "/tmp/padevice-cli-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(state, sizeof state, "%s/state.json", dir);
    return 0;
}

static int suite_clean(void)
{
    char p[160];
    const char *files[] = {"state.json", "stdout", "stderr"};

    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    return rmdir(dir);
}

int register_device_cli_suite(void)
{
    CU_pSuite s = CU_add_suite("device_cli", suite_init, suite_clean);

    if (s == NULL
        || !CU_add_test(s, "command line contract", test_cli_usage)
        || !CU_add_test(s, "activation, signatures, status, token", test_cli_flow)
        || !CU_add_test(s, "recovery, offline, vault, generic ECIES", test_cli_more_flows)
        || !CU_add_test(s, "protocol 2, vault, token, upgrade", test_cli_v2_flow))
        return -1;
    return 0;
}
