/*
 * test_v2_ops.c - the protocol-2 operations (src/service/activation_v2.c,
 * src/service/v2_ops.c; CRYPTO.md 14; DATABASE.md 5.1, 5.2, 5.5, 5.6),
 * called directly, no SOAP, on a fresh migrated SQLite file per test.
 *
 * The phone is libpadevice in protocol 2.1 (client halves of the crypto
 * layer only): it activates through v2 PrepareActivation or
 * CreateActivation, checks the server's signature and decrypts the server
 * key, commits through the v3 service, signs with its numeric counter,
 * unlocks its vault, reads a v2 token and recomputes the E2EE keys.  Every
 * fault path is checked for its code and for what it leaves in the
 * database (raw SQL on a separate connection).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "cunit_status.h"
#include <CUnit/CUnit.h>
#include <sqlite3.h>

#include "crypto/primitives.h"
#include "crypto/v2.h"
#include "service/activation.h"
#include "service/application.h"
#include "service/keycache.h"
#include "service/signature.h"
#include "service/token.h"
#include "service/v2_ops.h"
#include "store/store.h"
#include "tests/unit/tempdb.h"
#include "tools/padevice/device.h"
#include "util/base64.h"
#include "util/config.h"
#include "util/err.h"
#include "util/timeutil.h"
#include "util/uuid.h"

/* ---- fixture ------------------------------------------------------------------ */

typedef struct app_info {
    int64_t id;
    int64_t version_id;
    char key[64];
    char secret[64];
    char master_pub[128];
} app_info;

static char dir[PATH_MAX - 64];
static char path[PATH_MAX];
static pa_store *db;
static pa_config cfg;
static pa_act_env env;
static app_info app;             /* "bank", one callback URL */
static app_info other;           /* "other", no callback */

static void make_app(const char *name, int callback, app_info *out)
{
    pa_app_detail d;
    char cb[PA_UUID_BUF];

    memset(out, 0, sizeof *out);
    if (pa_application_create(db, name, &out->id) != PA_OK
        || pa_application_detail(db, 1, out->id, NULL, &d) != PA_OK
        || d.versions.count != 1) {
        fprintf(stderr, "make_app: %s\n", pa_store_last_error());
        abort();
    }
    out->version_id = d.versions.items[0].id;
    snprintf(out->key, sizeof out->key, "%s", d.versions.items[0].application_key);
    snprintf(out->secret, sizeof out->secret, "%s",
             d.versions.items[0].application_secret);
    snprintf(out->master_pub, sizeof out->master_pub, "%s", d.master_public_key);
    pa_application_detail_free(&d);
    if (callback
        && (pa_uuid_v4(cb) != PA_OK
            || pa_store_callback_create(db, cb, out->id, "cb",
                                        "http://127.0.0.1:9/callback") != PA_OK))
        abort();
}

static void setup(void)
{
    pa_tempdb_make("pa-v2ops", dir, sizeof dir, path, sizeof path);
    if (pa_store_migrate(path, NULL) != PA_OK
        || pa_store_open(path, NULL, &db) != PA_OK
        || pa_config_defaults(&cfg) != PA_OK) {
        fprintf(stderr, "setup: %s\n", pa_store_last_error());
        abort();
    }
    env.store = db;
    env.cfg = &cfg;
    make_app("bank", 1, &app);
    make_app("other", 0, &other);
}

static void teardown(void)
{
    pa_keycache_init(0);
    pa_keycache_free();
    pa_token_shutdown();
    pa_config_free(&cfg);
    pa_store_close(db);
    db = NULL;
    pa_tempdb_remove(dir, path);
}

/* ---- raw SQL ------------------------------------------------------------------------ */

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* First column of the first row as integer; -1 no row, -2 NULL. */
static long long q_int(const char *sql, const char *p1)
{
    sqlite3 *c = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;

    if (sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK
        && sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK) {
        if (p1)
            sqlite3_bind_text(st, 1, p1, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_type(st, 0) == SQLITE_NULL
                    ? -2 : sqlite3_column_int64(st, 0);
    } else {
        fprintf(stderr, "\nraw SQL failed: %s\n", sql);
    }
    sqlite3_finalize(st);
    sqlite3_close(c);
    return v;
}

/* First column of the first row as text (malloc'ed; NULL for none/NULL). */
static char *q_text(const char *sql, const char *p1)
{
    sqlite3 *c = NULL;
    sqlite3_stmt *st = NULL;
    char *v = NULL;

    if (sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK
        && sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK) {
        if (p1)
            sqlite3_bind_text(st, 1, p1, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            v = strdup((const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    sqlite3_close(c);
    return v;
}

static void q_exec(const char *sql, const char *p1)
{
    sqlite3 *c = NULL;
    sqlite3_stmt *st = NULL;
    int rc = SQLITE_ERROR;

    if (sqlite3_open_v2(path, &c, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK
        && sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(c, 5000);
        if (p1)
            sqlite3_bind_text(st, 1, p1, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
    }
    CU_ASSERT_EQUAL(rc, SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(c);
}

#define ACT_INT(col, id) \
    q_int("SELECT " col " FROM pa_activation WHERE activation_id = ?1", (id))

static long long n_history(const char *id)
{
    return q_int("SELECT count(*) FROM pa_activation_history WHERE activation_id = ?1",
                 id);
}

static long long n_outbox(const char *id)
{
    return q_int("SELECT count(*) FROM pa_callback_outbox WHERE activation_id = ?1", id);
}

static long long n_audit(const char *id)
{
    return q_int("SELECT count(*) FROM pa_signature_audit WHERE activation_id = ?1", id);
}

/* Every row of the tables an operation may touch, as text. */
static char *snapshot(void)
{
    static const char *const sql[] = {
        "SELECT * FROM pa_activation ORDER BY activation_id",
        "SELECT * FROM pa_activation_history ORDER BY id",
        "SELECT * FROM pa_callback_outbox ORDER BY id",
        "SELECT * FROM pa_signature_audit ORDER BY id",
        "SELECT * FROM pa_token ORDER BY token_id"};
    char *buf = NULL;
    size_t len = 0, i;
    FILE *f = open_memstream(&buf, &len);
    sqlite3 *c = NULL;

    if (!f || sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        abort();
    for (i = 0; i < sizeof sql / sizeof *sql; i++) {
        sqlite3_stmt *st = NULL;
        int k;

        if (sqlite3_prepare_v2(c, sql[i], -1, &st, NULL) != SQLITE_OK)
            abort();
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (k = 0; k < sqlite3_column_count(st); k++) {
                const char *v = (const char *)sqlite3_column_text(st, k);

                fprintf(f, "%s|", v ? v : "\\N");
            }
            fputc('\n', f);
        }
        sqlite3_finalize(st);
        fputs("--\n", f);
    }
    sqlite3_close(c);
    fclose(f);
    return buf;
}

static void expect_unchanged(int line, char *before)
{
    char *after = snapshot();
    int ok = strcmp(before, after) == 0;

    if (!ok)
        fprintf(stderr, "\n  line %d: database changed:\n%s=>\n%s", line,
                before, after);
    CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line,
                            "database unchanged", __FILE__, "", CU_FALSE);
    free(before);
    free(after);
}

#define EXPECT_UNCHANGED(snap) expect_unchanged(__LINE__, (snap))

/* ---- the phone ------------------------------------------------------------------------ */

static pa_device *new_device(const app_info *a)
{
    pa_device *d = NULL;

    CU_ASSERT_EQUAL_FATAL(pa_device_new("2.1", a->key, a->secret, a->master_pub, &d),
                          PA_OK);
    return d;
}

/* The Base64 request fields of a device's key exchange. */
typedef struct wire {
    char nonce[PA_B64_ENCLEN(PA_V2_NONCE_LEN) + 1];
    char c[PA_B64_ENCLEN(PA_V2_C_PUB_LEN) + 1];
    char eph[PA_B64_ENCLEN(PA_EC_PUB_LEN) + 1];
    char sig[PA_B64_ENCLEN(PA_V2_APP_SIG_LEN) + 1];
} wire;

static void to_wire(const pa_device_v2_request *r, wire *w)
{
    pa_b64_encode(r->nonce, sizeof r->nonce, w->nonce);
    pa_b64_encode(r->c, sizeof r->c, w->c);
    pa_b64_encode(r->eph, sizeof r->eph, w->eph);
    pa_b64_encode(r->app_sig, sizeof r->app_sig, w->sig);
}

static pa_v2_keyx_fields fields_of(const wire *w, const char *app_key)
{
    return (pa_v2_keyx_fields){"phone", "{\"x\":1}", w->nonce, w->eph, w->c,
                               app_key, w->sig};
}

/* InitActivation (v3 service): id and code. */
static void init_act(const char *user, char id[PA_UUID_BUF], char code[PA_CODE_BUF])
{
    pa_act_init_req in = {0};
    pa_act_init_res out;

    in.user_id = user;
    in.application_id = app.id;
    in.otp_mode = PA_OTP_NONE;
    CU_ASSERT_EQUAL_FATAL(pa_activation_init(&env, &in, &out), PA_OK);
    memcpy(id, out.activation_id, PA_UUID_BUF);
    memcpy(code, out.activation_code, PA_CODE_BUF);
    pa_act_init_res_free(&out);
}

/* The device reads the server's answer (verifies the master signature,
 * decrypts the server key). */
static pa_err device_accept(pa_device *d, const pa_v2_keyx_res *r)
{
    uint8_t nonce[PA_V2_NONCE_LEN], eph[PA_EC_PUB_LEN], c[PA_V2_C_PUB_LEN];
    uint8_t sig[PA_ECDSA_MAX];
    size_t eph_n = 0, c_n = 0, sig_n = 0;

    CU_ASSERT_EQUAL_FATAL(pa_b64_decode_exact(r->activation_nonce, nonce, 16), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_b64_decode(r->ephemeral_public_key, eph, &eph_n), PA_OK);
    CU_ASSERT_EQUAL(eph_n, 65);
    CU_ASSERT_EQUAL_FATAL(pa_b64_decode(r->encrypted_server_public_key, c, &c_n),
                          PA_OK);
    CU_ASSERT_EQUAL(c_n, 96);
    CU_ASSERT_EQUAL_FATAL(
        pa_b64_decode(r->encrypted_server_public_key_signature, sig, &sig_n), PA_OK);
    return pa_device_v2_activation_response(d, r->activation_id, nonce, eph, eph_n,
                                            c, c_n, sig, sig_n);
}

/* A protocol-2 phone activated via v2 PrepareActivation and committed. */
static pa_device *activate(const char *user, char id[PA_UUID_BUF])
{
    char code[PA_CODE_BUF], sid[12], otp[12];
    pa_device *d = new_device(&app);
    pa_device_v2_request r;
    pa_v2_prepare_req req;
    pa_v2_keyx_res res;
    wire w;

    init_act(user, id, code);
    CU_ASSERT_EQUAL_FATAL(pa_v2_split_code(code, sid, otp), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_device_v2_activation_request(d, sid, otp, &r), PA_OK);
    to_wire(&r, &w);
    req.activation_id_short = sid;
    req.k = fields_of(&w, app.key);
    CU_ASSERT_EQUAL_FATAL(pa_v2_activation_prepare(&env, &req, &res), PA_OK);
    CU_ASSERT_STRING_EQUAL(res.activation_id, id);
    CU_ASSERT_EQUAL_FATAL(device_accept(d, &res), PA_OK);
    pa_v2_keyx_res_free(&res);
    CU_ASSERT_EQUAL_FATAL(pa_activation_commit(&env, id, "ext", NULL), PA_OK);
    return d;
}

static const char *BODY = "{\"amount\":\"1\"}";

static void sign(pa_device *d, pa_sig_type t, pa_device_signature *s)
{
    CU_ASSERT_EQUAL_FATAL(pa_device_sign(d, "POST", "/pa/vault/unlock",
                                         (const uint8_t *)BODY, strlen(BODY), t,
                                         NULL, 1, s),
                          PA_OK);
}

static pa_err vault(const char *id, const char *key, const pa_device_signature *s,
                    const char *sig, pa_sig_type t, const char *reason,
                    pa_v2_vault_res *res)
{
    pa_v2_vault_req r = {id, key, s->data_string, sig ? sig : s->signature, t,
                         reason};

    return pa_v2_vault_unlock(&env, &r, res);
}

/* ---- PrepareActivation ------------------------------------------------------------------ */

static void test_prepare_commit_sign(void)
{
    char id[PA_UUID_BUF], code[PA_CODE_BUF], sid[12], otp[12];
    pa_device *d = new_device(&app);
    pa_device_v2_request r;
    pa_v2_prepare_req req;
    pa_v2_keyx_res res;
    pa_device_signature s;
    pa_sig_req sr;
    pa_sig_res sres;
    char *text, fp_dev[PA_FINGERPRINT_BUF];
    pa_act_status_res st;
    wire w;

    init_act("alice", id, code);
    CU_ASSERT_EQUAL_FATAL(pa_v2_split_code(code, sid, otp), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_device_v2_activation_request(d, sid, otp, &r), PA_OK);
    to_wire(&r, &w);
    req.activation_id_short = sid;
    req.k = fields_of(&w, app.key);
    CU_ASSERT_EQUAL_FATAL(pa_v2_activation_prepare(&env, &req, &res), PA_OK);
    CU_ASSERT_STRING_EQUAL(res.activation_id, id);
    /* The phone verifies the master signature and decrypts the key. */
    CU_ASSERT_EQUAL(device_accept(d, &res), PA_OK);
    pa_v2_keyx_res_free(&res);
    /* 14.1 step 8; DATABASE.md 5.1. */
    CU_ASSERT_EQUAL(ACT_INT("activation_status", id), PA_STATUS_PENDING_COMMIT);
    CU_ASSERT_EQUAL(ACT_INT("version", id), 2);
    CU_ASSERT_EQUAL(ACT_INT("ctr_data IS NULL", id), 1);
    CU_ASSERT_EQUAL(ACT_INT("platform IS NULL", id), 1);
    CU_ASSERT_EQUAL(ACT_INT("counter", id), 0);
    text = q_text("SELECT activation_name FROM pa_activation WHERE activation_id = ?1", id);
    CU_ASSERT(same_str(text, "phone"));
    free(text);
    text = q_text("SELECT extras FROM pa_activation WHERE activation_id = ?1", id);
    CU_ASSERT(same_str(text, "{\"x\":1}"));
    free(text);
    CU_ASSERT_EQUAL(n_history(id), 2);
    CU_ASSERT_EQUAL(q_int("SELECT activation_status FROM pa_activation_history"
                          " WHERE activation_id = ?1 ORDER BY id DESC LIMIT 1", id),
                    PA_STATUS_PENDING_COMMIT);
    CU_ASSERT_EQUAL(n_outbox(id), 2);
    /* The server stores exactly the device's key: same protocol-2
     * fingerprint on both sides. */
    CU_ASSERT_EQUAL(pa_device_fingerprint(d, fp_dev), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_activation_status(&env, id, NULL, &st), PA_OK);
    CU_ASSERT_STRING_EQUAL(st.fingerprint, fp_dev);
    pa_act_status_res_free(&st);
    /* A second exchange with the same code: no longer CREATED. */
    {
        char *snap = snapshot();

        CU_ASSERT_EQUAL(pa_v2_activation_prepare(&env, &req, &res),
                        PA_ERR_ACTIVATION_NOT_FOUND);
        EXPECT_UNCHANGED(snap);
    }
    /* Commit (v3 service) -> ACTIVE, version 2. */
    CU_ASSERT_EQUAL_FATAL(pa_activation_commit(&env, id, "ext", NULL), PA_OK);
    CU_ASSERT_EQUAL(ACT_INT("activation_status", id), PA_STATUS_ACTIVE);
    CU_ASSERT_EQUAL(ACT_INT("version", id), 2);
    /* Numeric-counter signatures verify. */
    sign(d, PA_SIG_POSSESSION_KNOWLEDGE, &s);
    CU_ASSERT_STRING_EQUAL(s.version, "2.1");
    memset(&sr, 0, sizeof sr);
    sr.activation_id = id;
    sr.application_key = app.key;
    sr.signature_version = s.version;
    sr.data = s.data_string;
    sr.signature = s.signature;
    sr.types[0] = s.type;
    sr.ntypes = 1;
    CU_ASSERT_EQUAL_FATAL(pa_signature_verify(&env, &sr, &sres), PA_OK);
    CU_ASSERT(sres.valid);
    CU_ASSERT_FALSE(sres.bumped);
    pa_sig_res_free(&sres);
    pa_device_signature_free(&s);
    CU_ASSERT_EQUAL(ACT_INT("counter", id), 1);
    CU_ASSERT_EQUAL(ACT_INT("ctr_data IS NULL", id), 1);
    pa_device_free(d);
}

static void test_prepare_faults(void)
{
    char id[PA_UUID_BUF], code[PA_CODE_BUF], sid[12], otp[12], *snap;
    char bad_nonce[PA_B64_ENCLEN(15) + 1], bad_eph[PA_B64_ENCLEN(65) + 1];
    uint8_t raw[65];
    pa_device *d = new_device(&app);
    pa_device_v2_request r;
    pa_v2_prepare_req req;
    pa_v2_keyx_res res;
    wire w, w2;

    init_act("bob", id, code);
    CU_ASSERT_EQUAL_FATAL(pa_v2_split_code(code, sid, otp), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_device_v2_activation_request(d, sid, otp, &r), PA_OK);
    to_wire(&r, &w);
    snap = snapshot();
    /* Missing elements: ERR0024. */
    req.activation_id_short = NULL;
    req.k = fields_of(&w, app.key);
    CU_ASSERT_EQUAL(pa_v2_activation_prepare(&env, &req, &res), PA_ERR_INVALID_REQUEST);
    req.activation_id_short = sid;
    req.k.ephemeral_public_key = NULL;
    CU_ASSERT_EQUAL(pa_v2_activation_prepare(&env, &req, &res), PA_ERR_INVALID_REQUEST);
    req.k = fields_of(&w, app.key);
    req.k.activation_name = NULL;
    CU_ASSERT_EQUAL(pa_v2_activation_prepare(&env, &req, &res), PA_ERR_INVALID_REQUEST);
    /* Unknown application key: ERR0007. */
    req.k = fields_of(&w, "bm90LWEta2V5");
    CU_ASSERT_EQUAL(pa_v2_activation_prepare(&env, &req, &res),
                    PA_ERR_ACTIVATION_EXPIRED);
    /* Unsupported version: ERR0007. */
    q_exec("UPDATE pa_application_version SET supported = 0 WHERE application_key = ?1",
           app.key);
    req.k = fields_of(&w, app.key);
    CU_ASSERT_EQUAL(pa_v2_activation_prepare(&env, &req, &res),
                    PA_ERR_ACTIVATION_EXPIRED);
    q_exec("UPDATE pa_application_version SET supported = 1 WHERE application_key = ?1",
           app.key);
    /* Another application's key: its activations only, ERR0009. */
    req.k = fields_of(&w, other.key);
    CU_ASSERT_EQUAL(pa_v2_activation_prepare(&env, &req, &res),
                    PA_ERR_ACTIVATION_NOT_FOUND);
    /* Short id: pattern characters, lower case, wrong length, unknown. */
    req.k = fields_of(&w, app.key);
    req.activation_id_short = "%";
    CU_ASSERT_EQUAL(pa_v2_activation_prepare(&env, &req, &res),
                    PA_ERR_ACTIVATION_NOT_FOUND);
    req.activation_id_short = "_____-_____";
    CU_ASSERT_EQUAL(pa_v2_activation_prepare(&env, &req, &res),
                    PA_ERR_ACTIVATION_NOT_FOUND);
    {
        char lower[12], shorter[12], unknown[12];
        size_t i;

        for (i = 0; i < 12; i++)
            lower[i] = (char)(sid[i] >= 'A' && sid[i] <= 'Z' ? sid[i] + 32 : sid[i]);
        memcpy(shorter, sid, 10);
        shorter[10] = '\0';
        memcpy(unknown, sid, 12);
        unknown[0] = unknown[0] == 'A' ? 'B' : 'A';
        req.activation_id_short = lower;
        CU_ASSERT_EQUAL(pa_v2_activation_prepare(&env, &req, &res),
                        strcmp(lower, sid) ? PA_ERR_ACTIVATION_NOT_FOUND : PA_OK);
        req.activation_id_short = shorter;
        CU_ASSERT_EQUAL(pa_v2_activation_prepare(&env, &req, &res),
                        PA_ERR_ACTIVATION_NOT_FOUND);
        req.activation_id_short = unknown;
        CU_ASSERT_EQUAL(pa_v2_activation_prepare(&env, &req, &res),
                        PA_ERR_ACTIVATION_NOT_FOUND);
    }
    req.activation_id_short = sid;
    /* Undecodable Base64: ERR0024. */
    w2 = w;
    strcpy(w2.c, "!!!");
    req.k = fields_of(&w2, app.key);
    CU_ASSERT_EQUAL(pa_v2_activation_prepare(&env, &req, &res), PA_ERR_INVALID_REQUEST);
    /* A nonce that is not 16 bytes: ERR0023. */
    memset(raw, 7, sizeof raw);
    pa_b64_encode(raw, 15, bad_nonce);
    req.k = fields_of(&w, app.key);
    req.k.activation_nonce = bad_nonce;
    CU_ASSERT_EQUAL(pa_v2_activation_prepare(&env, &req, &res),
                    PA_ERR_INVALID_CRYPTO_PROVIDER);
    /* An off-curve ephemeral key: ERR0024, still CREATED. */
    raw[0] = 4;
    pa_b64_encode(raw, 65, bad_eph);
    req.k = fields_of(&w, app.key);
    req.k.ephemeral_public_key = bad_eph;
    CU_ASSERT_EQUAL(pa_v2_activation_prepare(&env, &req, &res), PA_ERR_INVALID_REQUEST);
    /* A wrong application signature: ERR0007, nothing changes. */
    w2 = w;
    {
        pa_device_v2_request r2 = r;

        r2.app_sig[0] ^= 1;
        to_wire(&r2, &w2);
    }
    req.k = fields_of(&w2, app.key);
    CU_ASSERT_EQUAL(pa_v2_activation_prepare(&env, &req, &res),
                    PA_ERR_ACTIVATION_EXPIRED);
    EXPECT_UNCHANGED(snap);
    CU_ASSERT_EQUAL(ACT_INT("activation_status", id), PA_STATUS_CREATED);
    /* The genuine request still works afterwards. */
    req.k = fields_of(&w, app.key);
    CU_ASSERT_EQUAL_FATAL(pa_v2_activation_prepare(&env, &req, &res), PA_OK);
    CU_ASSERT_EQUAL(device_accept(d, &res), PA_OK);
    pa_v2_keyx_res_free(&res);
    pa_device_free(d);
}

static void test_prepare_wrong_otp(void)
{
    char id[PA_UUID_BUF], code[PA_CODE_BUF], sid[12], otp[12];
    pa_device *d = new_device(&app);
    pa_device_v2_request r;
    pa_v2_prepare_req req;
    pa_v2_keyx_res res;
    wire w;

    init_act("carol", id, code);
    CU_ASSERT_EQUAL_FATAL(pa_v2_split_code(code, sid, otp), PA_OK);
    otp[0] = otp[0] == 'A' ? 'B' : 'A';
    CU_ASSERT_EQUAL_FATAL(pa_device_v2_activation_request(d, sid, otp, &r), PA_OK);
    to_wire(&r, &w);
    req.activation_id_short = sid;
    req.k = fields_of(&w, app.key);
    /* 14.1 step 5: REMOVED is kept, with history and callback; ERR0009. */
    CU_ASSERT_EQUAL(pa_v2_activation_prepare(&env, &req, &res),
                    PA_ERR_ACTIVATION_NOT_FOUND);
    CU_ASSERT_EQUAL(ACT_INT("activation_status", id), PA_STATUS_REMOVED);
    CU_ASSERT_EQUAL(ACT_INT("device_public_key_base64 IS NULL", id), 1);
    CU_ASSERT_EQUAL(ACT_INT("version IS NULL", id), 1);
    CU_ASSERT_EQUAL(n_history(id), 2);
    CU_ASSERT_EQUAL(q_int("SELECT activation_status FROM pa_activation_history"
                          " WHERE activation_id = ?1 ORDER BY id DESC LIMIT 1", id),
                    PA_STATUS_REMOVED);
    CU_ASSERT_EQUAL(q_int("SELECT event_reason IS NULL FROM pa_activation_history"
                          " WHERE activation_id = ?1 ORDER BY id DESC LIMIT 1", id),
                    1);
    CU_ASSERT_EQUAL(n_outbox(id), 2);
    /* The activation is gone for good. */
    {
        char *snap = snapshot();

        CU_ASSERT_EQUAL(pa_v2_activation_prepare(&env, &req, &res),
                        PA_ERR_ACTIVATION_NOT_FOUND);
        EXPECT_UNCHANGED(snap);
    }
    pa_device_free(d);
}

static void test_prepare_expired(void)
{
    char id[PA_UUID_BUF], code[PA_CODE_BUF], sid[12], otp[12], *snap;
    pa_device *d = new_device(&app);
    pa_device_v2_request r;
    pa_v2_prepare_req req;
    pa_v2_keyx_res res;
    wire w;

    init_act("dave", id, code);
    CU_ASSERT_EQUAL_FATAL(pa_v2_split_code(code, sid, otp), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_device_v2_activation_request(d, sid, otp, &r), PA_OK);
    to_wire(&r, &w);
    q_exec("UPDATE pa_activation SET timestamp_activation_expire = 1"
           " WHERE activation_id = ?1", id);
    snap = snapshot();
    req.activation_id_short = sid;
    req.k = fields_of(&w, app.key);
    /* DATABASE.md 5.4: an expired code is not found, its row untouched. */
    CU_ASSERT_EQUAL(pa_v2_activation_prepare(&env, &req, &res),
                    PA_ERR_ACTIVATION_NOT_FOUND);
    EXPECT_UNCHANGED(snap);
    pa_device_free(d);
}

/* ---- CreateActivation ---------------------------------------------------------------------- */

static void test_create(void)
{
    pa_device *d = new_device(&app);
    pa_device_v2_request r;
    pa_v2_create_req req;
    pa_v2_keyx_res res;
    char id[PA_UUID_BUF], fp[PA_FINGERPRINT_BUF];
    pa_act_status_res st;
    wire w;

    CU_ASSERT_EQUAL_FATAL(pa_device_v2_activation_request(d, "ident-1", "otp-123", &r),
                          PA_OK);
    to_wire(&r, &w);
    memset(&req, 0, sizeof req);
    req.user_id = "erin";
    req.identity = "ident-1";
    req.activation_otp = "otp-123";
    req.has_max_failures = 1;
    req.max_failures = 7;
    req.k = fields_of(&w, app.key);
    CU_ASSERT_EQUAL_FATAL(pa_v2_activation_create(&env, &req, &res), PA_OK);
    CU_ASSERT_EQUAL(device_accept(d, &res), PA_OK);
    memcpy(id, res.activation_id, sizeof id);
    pa_v2_keyx_res_free(&res);
    CU_ASSERT_EQUAL(ACT_INT("activation_status", id), PA_STATUS_PENDING_COMMIT);
    CU_ASSERT_EQUAL(ACT_INT("version", id), 2);
    CU_ASSERT_EQUAL(ACT_INT("ctr_data IS NULL", id), 1);
    CU_ASSERT_EQUAL(ACT_INT("max_failed_attempts", id), 7);
    CU_ASSERT_EQUAL(ACT_INT("activation_otp_validation", id), PA_OTP_NONE);
    CU_ASSERT_EQUAL(n_history(id), 2);
    CU_ASSERT_EQUAL(q_int("SELECT activation_status FROM pa_activation_history"
                          " WHERE activation_id = ?1 ORDER BY id LIMIT 1", id),
                    PA_STATUS_CREATED);
    CU_ASSERT_EQUAL(n_outbox(id), 2);
    CU_ASSERT_EQUAL(pa_device_fingerprint(d, fp), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_activation_status(&env, id, NULL, &st), PA_OK);
    CU_ASSERT_STRING_EQUAL(st.fingerprint, fp);
    pa_act_status_res_free(&st);
    CU_ASSERT_EQUAL(pa_activation_commit(&env, id, NULL, NULL), PA_OK);
    CU_ASSERT_EQUAL(ACT_INT("activation_status", id), PA_STATUS_ACTIVE);
    pa_device_free(d);
}

static void test_create_faults(void)
{
    pa_device *d = new_device(&app);
    pa_device_v2_request r, r2;
    pa_v2_create_req req;
    pa_v2_keyx_res res;
    char bad_nonce[PA_B64_ENCLEN(17) + 1], *snap;
    uint8_t raw[17];
    wire w, w2;

    CU_ASSERT_EQUAL_FATAL(pa_device_v2_activation_request(d, "ident-2", "otp-9", &r),
                          PA_OK);
    to_wire(&r, &w);
    snap = snapshot();
    memset(&req, 0, sizeof req);
    req.user_id = "frank";
    req.identity = "ident-2";
    req.activation_otp = "otp-9";
    req.k = fields_of(&w, app.key);
    /* Missing elements: ERR0024. */
    req.identity = NULL;
    CU_ASSERT_EQUAL(pa_v2_activation_create(&env, &req, &res), PA_ERR_INVALID_REQUEST);
    req.identity = "ident-2";
    req.activation_otp = NULL;
    CU_ASSERT_EQUAL(pa_v2_activation_create(&env, &req, &res), PA_ERR_INVALID_REQUEST);
    req.activation_otp = "otp-9";
    req.k.application_signature = NULL;
    CU_ASSERT_EQUAL(pa_v2_activation_create(&env, &req, &res), PA_ERR_INVALID_REQUEST);
    /* Unknown application key: ERR0015. */
    req.k = fields_of(&w, "bm90LWEta2V5");
    CU_ASSERT_EQUAL(pa_v2_activation_create(&env, &req, &res),
                    PA_ERR_INVALID_APPLICATION);
    /* InitActivation's own checks: empty user id ERR0001. */
    req.k = fields_of(&w, app.key);
    req.user_id = "";
    CU_ASSERT_EQUAL(pa_v2_activation_create(&env, &req, &res), PA_ERR_NO_USER_ID);
    req.user_id = "frank";
    /* A nonce of 17 bytes: ERR0023. */
    memset(raw, 1, sizeof raw);
    pa_b64_encode(raw, sizeof raw, bad_nonce);
    req.k.activation_nonce = bad_nonce;
    CU_ASSERT_EQUAL(pa_v2_activation_create(&env, &req, &res),
                    PA_ERR_INVALID_CRYPTO_PROVIDER);
    /* Wrong OTP (the device key does not decrypt): ERR0007. */
    req.k = fields_of(&w, app.key);
    req.activation_otp = "otp-8";
    CU_ASSERT_EQUAL(pa_v2_activation_create(&env, &req, &res),
                    PA_ERR_ACTIVATION_EXPIRED);
    /* Wrong identity: the salt and the signed text differ, ERR0007. */
    req.activation_otp = "otp-9";
    req.identity = "ident-3";
    CU_ASSERT_EQUAL(pa_v2_activation_create(&env, &req, &res),
                    PA_ERR_ACTIVATION_EXPIRED);
    req.identity = "ident-2";
    /* Wrong application signature: ERR0007. */
    r2 = r;
    r2.app_sig[5] ^= 0x80;
    to_wire(&r2, &w2);
    req.k = fields_of(&w2, app.key);
    CU_ASSERT_EQUAL(pa_v2_activation_create(&env, &req, &res),
                    PA_ERR_ACTIVATION_EXPIRED);
    /* A deadline in the past: rolled back, ERR0007. */
    req.k = fields_of(&w, app.key);
    req.has_expire = 1;
    req.expire_ms = 1000;
    CU_ASSERT_EQUAL(pa_v2_activation_create(&env, &req, &res),
                    PA_ERR_ACTIVATION_EXPIRED);
    /* All or nothing: not one row. */
    EXPECT_UNCHANGED(snap);
    CU_ASSERT_EQUAL(q_int("SELECT count(*) FROM pa_activation WHERE user_id = ?1",
                          "frank"), 0);
    pa_device_free(d);
}

/* ---- VaultUnlock ------------------------------------------------------------------------------ */

static void test_vault_valid(void)
{
    char id[PA_UUID_BUF], *info, *sv;
    pa_device *d = activate("gina", id);
    pa_device_signature s;
    pa_v2_vault_res res;
    uint8_t ct[64];
    size_t n = 0;
    int unlocked = 0;

    sign(d, PA_SIG_POSSESSION_KNOWLEDGE, &s);          /* counter 0 */
    CU_ASSERT_EQUAL(d->counter, 1);
    CU_ASSERT_EQUAL_FATAL(vault(id, app.key, &s, NULL, s.type, "ADD_BIOMETRY", &res),
                          PA_OK);
    CU_ASSERT(res.signature_valid);
    CU_ASSERT_EQUAL(res.status, PA_STATUS_ACTIVE);
    CU_ASSERT(same_str(res.user_id, "gina"));
    CU_ASSERT_PTR_NULL(res.blocked_reason);
    CU_ASSERT_EQUAL(res.remaining_attempts, cfg.signature_max_failed_attempts);
    CU_ASSERT_PTR_NOT_NULL_FATAL(res.encrypted_vault_key);
    CU_ASSERT_EQUAL_FATAL(pa_b64_decode(res.encrypted_vault_key, ct, &n), PA_OK);
    CU_ASSERT_EQUAL(n, 32);
    /* The key is bound to counter 1 (after the signature); the counter
     * ends at 2 on both sides. */
    CU_ASSERT_EQUAL(pa_device_v2_vault_response(d, ct, n, NULL, &unlocked), PA_OK);
    CU_ASSERT(unlocked);
    CU_ASSERT_EQUAL(d->counter, 2);
    CU_ASSERT_EQUAL(ACT_INT("counter", id), 2);
    CU_ASSERT_EQUAL(ACT_INT("failed_attempts", id), 0);
    pa_v2_vault_res_free(&res);
    /* DATABASE.md 5.2: one audit row, counter after the signature step. */
    CU_ASSERT_EQUAL(n_audit(id), 1);
    CU_ASSERT_EQUAL(q_int("SELECT activation_counter FROM pa_signature_audit"
                          " WHERE activation_id = ?1", id), 1);
    CU_ASSERT_EQUAL(q_int("SELECT valid FROM pa_signature_audit"
                          " WHERE activation_id = ?1", id), 1);
    sv = q_text("SELECT signature_version FROM pa_signature_audit"
                " WHERE activation_id = ?1", id);
    CU_ASSERT(same_str(sv, "2.1"));
    free(sv);
    info = q_text("SELECT additional_info FROM pa_signature_audit"
                  " WHERE activation_id = ?1", id);
    CU_ASSERT(same_str(info, "{\"entry\":[{\"key\":\"VAULT_UNLOCKED_REASON\","
                             "\"value\":\"ADD_BIOMETRY\"}]}"));
    free(info);
    sv = q_text("SELECT note FROM pa_signature_audit WHERE activation_id = ?1", id);
    CU_ASSERT(same_str(sv, "signature_ok"));
    free(sv);
    /* No history row for the bump (5.1). */
    CU_ASSERT_EQUAL(n_history(id), 3);
    pa_device_signature_free(&s);
    /* A signature after the unlock still verifies: in step. */
    sign(d, PA_SIG_POSSESSION_KNOWLEDGE, &s);
    CU_ASSERT_EQUAL_FATAL(vault(id, app.key, &s, NULL, s.type, NULL, &res), PA_OK);
    CU_ASSERT(res.signature_valid);
    CU_ASSERT_EQUAL(ACT_INT("counter", id), 4);
    info = q_text("SELECT additional_info FROM pa_signature_audit"
                  " WHERE activation_id = ?1 ORDER BY id DESC LIMIT 1", id);
    CU_ASSERT(same_str(info, "{\"entry\":[{\"key\":\"VAULT_UNLOCKED_REASON\","
                             "\"value\":\"NOT_SPECIFIED\"}]}"));
    free(info);
    CU_ASSERT_EQUAL_FATAL(pa_b64_decode(res.encrypted_vault_key, ct, &n), PA_OK);
    CU_ASSERT_EQUAL(pa_device_v2_vault_response(d, ct, n, NULL, &unlocked), PA_OK);
    CU_ASSERT(unlocked);
    pa_v2_vault_res_free(&res);
    pa_device_signature_free(&s);
    pa_device_free(d);
}

static void test_vault_invalid(void)
{
    char id[PA_UUID_BUF], *note;
    pa_device *d = activate("hank", id);
    pa_device_signature s;
    pa_v2_vault_res res;
    int64_t max = cfg.signature_max_failed_attempts, i;

    sign(d, PA_SIG_POSSESSION_KNOWLEDGE, &s);
    /* A wrong signature: counter += 1 anyway, failed += 1 (14.4). */
    CU_ASSERT_EQUAL_FATAL(vault(id, app.key, &s, "00000000-00000000", s.type, NULL,
                                &res),
                          PA_OK);
    CU_ASSERT_FALSE(res.signature_valid);
    CU_ASSERT_EQUAL(res.status, PA_STATUS_ACTIVE);
    CU_ASSERT(same_str(res.user_id, "hank"));
    CU_ASSERT_EQUAL(res.remaining_attempts, max - 1);
    CU_ASSERT_PTR_NULL(res.encrypted_vault_key);
    pa_v2_vault_res_free(&res);
    CU_ASSERT_EQUAL(ACT_INT("counter", id), 1);
    CU_ASSERT_EQUAL(ACT_INT("failed_attempts", id), 1);
    CU_ASSERT_EQUAL(n_audit(id), 1);
    CU_ASSERT_EQUAL(q_int("SELECT activation_counter FROM pa_signature_audit"
                          " WHERE activation_id = ?1", id), 0);
    note = q_text("SELECT note FROM pa_signature_audit WHERE activation_id = ?1", id);
    CU_ASSERT(same_str(note, "signature_does_not_match"));
    free(note);
    /* A wrong application key (ACTIVE): counted, bumped as well. */
    CU_ASSERT_EQUAL_FATAL(vault(id, other.key, &s, NULL, s.type, NULL, &res), PA_OK);
    CU_ASSERT_FALSE(res.signature_valid);
    CU_ASSERT_EQUAL(res.status, PA_STATUS_ACTIVE);
    CU_ASSERT_EQUAL(res.remaining_attempts, max - 2);
    pa_v2_vault_res_free(&res);
    CU_ASSERT_EQUAL(ACT_INT("counter", id), 2);
    CU_ASSERT_EQUAL(ACT_INT("failed_attempts", id), 2);
    /* Up to the limit: the blocking failure answers REMOVED, no bump. */
    for (i = 2; i < max - 1; i++) {
        CU_ASSERT_EQUAL_FATAL(vault(id, app.key, &s, "11111111-11111111", s.type,
                                    NULL, &res),
                              PA_OK);
        pa_v2_vault_res_free(&res);
    }
    CU_ASSERT_EQUAL(ACT_INT("counter", id), max - 1);
    CU_ASSERT_EQUAL_FATAL(vault(id, app.key, &s, "11111111-11111111", s.type, NULL,
                                &res),
                          PA_OK);
    CU_ASSERT_FALSE(res.signature_valid);
    CU_ASSERT_EQUAL(res.status, PA_STATUS_REMOVED);
    CU_ASSERT(same_str(res.user_id, "UNKNOWN"));
    CU_ASSERT_EQUAL(res.remaining_attempts, 0);
    CU_ASSERT_PTR_NULL(res.encrypted_vault_key);
    pa_v2_vault_res_free(&res);
    CU_ASSERT_EQUAL(ACT_INT("activation_status", id), PA_STATUS_BLOCKED);
    CU_ASSERT_EQUAL(ACT_INT("counter", id), max - 1);
    CU_ASSERT_EQUAL(q_int("SELECT activation_status FROM pa_activation_history"
                          " WHERE activation_id = ?1 ORDER BY id DESC LIMIT 1", id),
                    PA_STATUS_BLOCKED);
    /* BLOCKED: even the right signature gets REMOVED, no bump, an
     * activation_invalid_state audit row. */
    CU_ASSERT_EQUAL_FATAL(vault(id, app.key, &s, NULL, s.type, NULL, &res), PA_OK);
    CU_ASSERT_FALSE(res.signature_valid);
    CU_ASSERT_EQUAL(res.status, PA_STATUS_REMOVED);
    pa_v2_vault_res_free(&res);
    CU_ASSERT_EQUAL(ACT_INT("counter", id), max - 1);
    CU_ASSERT_EQUAL(n_audit(id), max + 1);
    note = q_text("SELECT note FROM pa_signature_audit WHERE activation_id = ?1"
                  " ORDER BY id DESC LIMIT 1", id);
    CU_ASSERT(same_str(note, "activation_invalid_state"));
    free(note);
    pa_device_signature_free(&s);
    pa_device_free(d);
}

static void test_vault_faults(void)
{
    char id[PA_UUID_BUF], reason[300], *snap;
    pa_device *d = activate("ivan", id);
    pa_device_signature s;
    pa_v2_vault_res res;
    pa_v2_vault_req r;

    sign(d, PA_SIG_POSSESSION_KNOWLEDGE, &s);
    snap = snapshot();
    /* Missing elements: ERR0024. */
    r = (pa_v2_vault_req){id, app.key, NULL, s.signature, s.type, NULL};
    CU_ASSERT_EQUAL(pa_v2_vault_unlock(&env, &r, &res), PA_ERR_INVALID_REQUEST);
    r = (pa_v2_vault_req){NULL, app.key, s.data_string, s.signature, s.type, NULL};
    CU_ASSERT_EQUAL(pa_v2_vault_unlock(&env, &r, &res), PA_ERR_INVALID_REQUEST);
    /* 1FA types: ERR0012. */
    CU_ASSERT_EQUAL(vault(id, app.key, &s, NULL, PA_SIG_POSSESSION, NULL, &res),
                    PA_ERR_INVALID_SIGNATURE);
    CU_ASSERT_EQUAL(vault(id, app.key, &s, NULL, PA_SIG_KNOWLEDGE, NULL, &res),
                    PA_ERR_INVALID_SIGNATURE);
    CU_ASSERT_EQUAL(vault(id, app.key, &s, NULL, PA_SIG_BIOMETRY, NULL, &res),
                    PA_ERR_INVALID_SIGNATURE);
    /* A reason over 255 characters: ERR0011 (255 is fine). */
    memset(reason, 'R', sizeof reason);
    reason[256] = '\0';
    CU_ASSERT_EQUAL(vault(id, app.key, &s, NULL, s.type, reason, &res),
                    PA_ERR_INVALID_INPUT_FORMAT);
    EXPECT_UNCHANGED(snap);
    /* Unknown activation: REMOVED, nothing written. */
    snap = snapshot();
    CU_ASSERT_EQUAL_FATAL(vault("00000000-0000-4000-8000-000000000000", app.key, &s,
                                NULL, s.type, NULL, &res),
                          PA_OK);
    CU_ASSERT_FALSE(res.signature_valid);
    CU_ASSERT_EQUAL(res.status, PA_STATUS_REMOVED);
    CU_ASSERT(same_str(res.user_id, "UNKNOWN"));
    CU_ASSERT_EQUAL(res.remaining_attempts, 0);
    pa_v2_vault_res_free(&res);
    EXPECT_UNCHANGED(snap);
    reason[255] = '\0';
    CU_ASSERT_EQUAL_FATAL(vault(id, app.key, &s, NULL, s.type, reason, &res), PA_OK);
    CU_ASSERT(res.signature_valid);
    pa_v2_vault_res_free(&res);
    pa_device_signature_free(&s);
    pa_device_free(d);
}

/* ---- CreateToken ------------------------------------------------------------------------------- */

static void test_token(void)
{
    char id[PA_UUID_BUF], eph_b64[PA_B64_ENCLEN(PA_EC_PUB_LEN) + 1];
    char dg_b64[PA_B64_ENCLEN(32) + 1], nonce_b64[PA_B64_ENCLEN(16) + 1], *type;
    pa_device *d = activate("jane", id);
    uint8_t ephb[PA_EC_PUB_LEN], ct[256], mac[64], nonce[16], dg[32];
    size_t ephb_n = 0, ct_n = 0, mac_n = 0;
    const pa_device_token *tok = NULL;
    pa_v2_token_res res;
    pa_token_validate_res vres;
    pa_token_validate_req vr;
    int64_t ts = pa_time_now_ms();

    CU_ASSERT_EQUAL_FATAL(pa_device_v2_token_request(d, 1, ephb, &ephb_n), PA_OK);
    pa_b64_encode(ephb, ephb_n, eph_b64);
    CU_ASSERT_EQUAL_FATAL(pa_v2_token_create(&env, id, eph_b64, "POSSESSION_KNOWLEDGE",
                                             &res),
                          PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_b64_decode(res.encrypted_data, ct, &ct_n), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_b64_decode(res.mac, mac, &mac_n), PA_OK);
    CU_ASSERT_EQUAL(mac_n, 32);
    pa_v2_token_res_free(&res);
    CU_ASSERT_EQUAL_FATAL(pa_device_v2_token_response(d, ct, ct_n, mac, mac_n, &tok),
                          PA_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
    CU_ASSERT_EQUAL(q_int("SELECT count(*) FROM pa_token WHERE activation_id = ?1", id),
                    1);
    type = q_text("SELECT signature_type FROM pa_token WHERE token_id = ?1", tok->id);
    CU_ASSERT(same_str(type, "POSSESSION_KNOWLEDGE"));
    free(type);
    /* v3 ValidateToken accepts it. */
    memset(nonce, 0x5a, sizeof nonce);
    CU_ASSERT_EQUAL_FATAL(pa_device_token_digest(d, tok->id, nonce, ts, dg), PA_OK);
    pa_b64_encode(dg, sizeof dg, dg_b64);
    pa_b64_encode(nonce, sizeof nonce, nonce_b64);
    vr = (pa_token_validate_req){tok->id, dg_b64, nonce_b64, 1, ts};
    CU_ASSERT_EQUAL_FATAL(pa_token_validate(&env, &vr, &vres), PA_OK);
    CU_ASSERT(vres.valid);
    CU_ASSERT(same_str(vres.activation_id, id));
    pa_token_validate_res_free(&vres);
    /* An uncompressed ephemeral key works as well. */
    CU_ASSERT_EQUAL_FATAL(pa_device_v2_token_request(d, 0, ephb, &ephb_n), PA_OK);
    CU_ASSERT_EQUAL(ephb_n, 65);
    pa_b64_encode(ephb, ephb_n, eph_b64);
    CU_ASSERT_EQUAL_FATAL(pa_v2_token_create(&env, id, eph_b64, "POSSESSION", &res),
                          PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_b64_decode(res.encrypted_data, ct, &ct_n), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_b64_decode(res.mac, mac, &mac_n), PA_OK);
    pa_v2_token_res_free(&res);
    CU_ASSERT_EQUAL(pa_device_v2_token_response(d, ct, ct_n, mac, mac_n, &tok), PA_OK);
    pa_device_free(d);
}

static void test_token_faults(void)
{
    char id[PA_UUID_BUF], pid[PA_UUID_BUF], code[PA_CODE_BUF], *snap;
    char eph_b64[PA_B64_ENCLEN(PA_EC_PUB_LEN) + 1], bad[PA_B64_ENCLEN(65) + 1];
    pa_device *d = activate("kate", id);
    uint8_t ephb[PA_EC_PUB_LEN], raw[65];
    size_t ephb_n = 0;
    pa_v2_token_res res;

    init_act("kate", pid, code);
    CU_ASSERT_EQUAL_FATAL(pa_device_v2_token_request(d, 1, ephb, &ephb_n), PA_OK);
    pa_b64_encode(ephb, ephb_n, eph_b64);
    memset(raw, 3, sizeof raw);
    raw[0] = 4;
    pa_b64_encode(raw, sizeof raw, bad);
    snap = snapshot();
    CU_ASSERT_EQUAL(pa_v2_token_create(&env, NULL, eph_b64, "POSSESSION", &res),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_v2_token_create(&env, id, NULL, "POSSESSION", &res),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_v2_token_create(&env, id, eph_b64, NULL, &res),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_v2_token_create(&env, id, eph_b64, "NONE", &res),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_v2_token_create(&env, "00000000-0000-4000-8000-000000000000",
                                       eph_b64, "POSSESSION", &res),
                    PA_ERR_ACTIVATION_NOT_FOUND);
    CU_ASSERT_EQUAL(pa_v2_token_create(&env, pid, eph_b64, "POSSESSION", &res),
                    PA_ERR_ACTIVATION_INCORRECT_STATE);
    CU_ASSERT_EQUAL(pa_v2_token_create(&env, id, "***", "POSSESSION", &res),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_v2_token_create(&env, id, bad, "POSSESSION", &res),
                    PA_ERR_ENCRYPTION_FAILED);
    CU_ASSERT_EQUAL(pa_v2_token_create(&env, id, "AAAA", "POSSESSION", &res),
                    PA_ERR_ENCRYPTION_FAILED);
    EXPECT_UNCHANGED(snap);
    /* No master key pair: ERR0003. */
    q_exec("UPDATE pa_activation SET master_keypair_id = NULL WHERE activation_id = ?1",
           id);
    q_exec("DELETE FROM pa_master_keypair WHERE application_id ="
           " (SELECT application_id FROM pa_activation WHERE activation_id = ?1)", id);
    snap = snapshot();
    CU_ASSERT_EQUAL(pa_v2_token_create(&env, id, eph_b64, "POSSESSION", &res),
                    PA_ERR_NO_MASTER_SERVER_KEYPAIR);
    EXPECT_UNCHANGED(snap);
    pa_device_free(d);
}

/* ---- E2EE keys ------------------------------------------------------------------------------------ */

static void test_e2e_personalized(void)
{
    char id[PA_UUID_BUF], pid[PA_UUID_BUF], code[PA_CODE_BUF], idx_b64[32], *snap;
    pa_device *d = activate("liam", id);
    uint8_t idx[16], key[16], got[16], got_idx[16];
    pa_derived_keys k;
    pa_v2_e2e_res res;

    init_act("liam", pid, code);
    memset(idx, 0x42, sizeof idx);
    pa_b64_encode(idx, sizeof idx, idx_b64);
    snap = snapshot();
    CU_ASSERT_EQUAL_FATAL(pa_v2_e2e_personalized(&env, id, idx_b64, &res), PA_OK);
    CU_ASSERT(same_str(res.encryption_key_index, idx_b64));
    CU_ASSERT_EQUAL_FATAL(pa_b64_decode_exact(res.encryption_key, got, 16), PA_OK);
    pa_v2_e2e_res_free(&res);
    /* The device's side: REDUCE(HMAC(IDX, KEY_TRANSPORT)). */
    CU_ASSERT_EQUAL_FATAL(pa_device_keys(d, &k), PA_OK);
    {
        uint8_t mac[32];

        CU_ASSERT_EQUAL_FATAL(pa_hmac(idx, 16, k.transport, 16, mac), PA_OK);
        pa_reduce(mac, key);
    }
    CU_ASSERT_EQUAL(memcmp(got, key, 16), 0);
    /* An index that is not 16 bytes is replaced by a random one. */
    CU_ASSERT_EQUAL_FATAL(pa_v2_e2e_personalized(&env, id, "AAAA", &res), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_b64_decode_exact(res.encryption_key_index, got_idx, 16),
                          PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_b64_decode_exact(res.encryption_key, got, 16), PA_OK);
    CU_ASSERT_NOT_EQUAL(memcmp(got_idx, "\0\0\0", 3), 0);
    pa_v2_e2e_res_free(&res);
    CU_ASSERT_EQUAL(pa_v2_e2e_personalized_key(k.transport, got_idx, key), PA_OK);
    CU_ASSERT_EQUAL(memcmp(got, key, 16), 0);
    pa_keys_wipe(&k);
    /* Faults. */
    CU_ASSERT_EQUAL(pa_v2_e2e_personalized(&env, id, NULL, &res), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_v2_e2e_personalized(&env, NULL, idx_b64, &res),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_v2_e2e_personalized(&env, "00000000-0000-4000-8000-000000000000",
                                           idx_b64, &res),
                    PA_ERR_ACTIVATION_NOT_FOUND);
    CU_ASSERT_EQUAL(pa_v2_e2e_personalized(&env, pid, idx_b64, &res),
                    PA_ERR_ACTIVATION_NOT_FOUND);
    EXPECT_UNCHANGED(snap);
    pa_device_free(d);
}

static void test_e2e_nonpersonalized(void)
{
    char idx_b64[32], eph_b64[PA_B64_ENCLEN(65) + 1], bad[PA_B64_ENCLEN(65) + 1];
    char *snap;
    pa_device *d = new_device(&app);
    uint8_t idx[16], m[16], mac[32], key[16], got[16], raw[65];
    pa_eckey *eph = NULL;
    char *eph_pub = NULL;
    pa_v2_e2e_res res;

    memset(idx, 0x17, sizeof idx);
    pa_b64_encode(idx, sizeof idx, idx_b64);
    CU_ASSERT_EQUAL_FATAL(pa_ec_generate(&eph), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_ec_pub_export_b64(eph, &eph_pub), PA_OK);
    snprintf(eph_b64, sizeof eph_b64, "%s", eph_pub);
    free(eph_pub);
    snap = snapshot();
    CU_ASSERT_EQUAL_FATAL(pa_v2_e2e_nonpersonalized(&env, app.key, idx_b64, eph_b64,
                                                    &res),
                          PA_OK);
    CU_ASSERT_EQUAL(res.application_id, app.id);
    CU_ASSERT(same_str(res.encryption_key_index, idx_b64));
    CU_ASSERT_EQUAL_FATAL(pa_b64_decode_exact(res.encryption_key, got, 16), PA_OK);
    pa_v2_e2e_res_free(&res);
    /* The device's side: M = ECDH16(EPH_PRIV, KEY_SERVER_MASTER_PUBLIC),
     * KEY = REDUCE(HMAC(IDX, M)). */
    CU_ASSERT_EQUAL_FATAL(pa_ec_ecdh16(eph, d->master_pub, m), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_hmac(idx, 16, m, 16, mac), PA_OK);
    pa_reduce(mac, key);
    CU_ASSERT_EQUAL(memcmp(got, key, 16), 0);
    /* Faults. */
    memset(raw, 9, sizeof raw);
    raw[0] = 4;
    pa_b64_encode(raw, sizeof raw, bad);
    CU_ASSERT_EQUAL(pa_v2_e2e_nonpersonalized(&env, NULL, idx_b64, eph_b64, &res),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_v2_e2e_nonpersonalized(&env, app.key, NULL, eph_b64, &res),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_v2_e2e_nonpersonalized(&env, app.key, idx_b64, NULL, &res),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_v2_e2e_nonpersonalized(&env, app.key, idx_b64, bad, &res),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_v2_e2e_nonpersonalized(&env, "bm90LWEta2V5", idx_b64, eph_b64,
                                              &res),
                    PA_ERR_INVALID_APPLICATION);
    q_exec("UPDATE pa_application_version SET supported = 0 WHERE application_key = ?1",
           app.key);
    CU_ASSERT_EQUAL(pa_v2_e2e_nonpersonalized(&env, app.key, idx_b64, eph_b64, &res),
                    PA_ERR_INVALID_APPLICATION);
    q_exec("UPDATE pa_application_version SET supported = 1 WHERE application_key = ?1",
           app.key);
    EXPECT_UNCHANGED(snap);
    q_exec("DELETE FROM pa_master_keypair WHERE application_id ="
           " (SELECT application_id FROM pa_application_version"
           " WHERE application_key = ?1)", other.key);
    CU_ASSERT_EQUAL(pa_v2_e2e_nonpersonalized(&env, other.key, idx_b64, eph_b64, &res),
                    PA_ERR_NO_MASTER_SERVER_KEYPAIR);
    pa_ec_free(eph);
    pa_device_free(d);
}

/* ---- main ---------------------------------------------------------------------------------------------- */

typedef struct test_def {
    const char *name;
    void (*fn)(void);
} test_def;

int main(void)
{
    static const test_def tests[] = {
        {"v2 PrepareActivation, commit, signature", test_prepare_commit_sign},
        {"v2 PrepareActivation: faults, no writes", test_prepare_faults},
        {"v2 PrepareActivation: wrong OTP -> REMOVED", test_prepare_wrong_otp},
        {"v2 PrepareActivation: expired code", test_prepare_expired},
        {"v2 CreateActivation", test_create},
        {"v2 CreateActivation: faults, all or nothing", test_create_faults},
        {"v2 VaultUnlock: valid, counter bound", test_vault_valid},
        {"v2 VaultUnlock: invalid, bump, lock-out", test_vault_invalid},
        {"v2 VaultUnlock: faults", test_vault_faults},
        {"v2 CreateToken -> ValidateToken", test_token},
        {"v2 CreateToken: faults", test_token_faults},
        {"v2 GetPersonalizedEncryptionKey", test_e2e_personalized},
        {"v2 GetNonPersonalizedEncryptionKey", test_e2e_nonpersonalized},
    };
    CU_pSuite s;
    unsigned failed;
    size_t i;

    if (pa_crypto_init() != PA_OK || CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite_with_setup_and_teardown("v2 operations", NULL, NULL, setup,
                                             teardown);
    for (i = 0; s && i < sizeof tests / sizeof *tests; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn))
            s = NULL;
    if (!s) {
        CU_cleanup_registry();
        return 1;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failed = pa_cunit_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
