/*
 * test_recovery_service.c - activation recovery (src/service/recovery.c,
 * recovery_admin.c), called directly, no SOAP, on a fresh migrated SQLite
 * file per test.
 *
 * The test plays the other parties: the printing centre of the recovery
 * postcard (its own key pair; it re-derives the code and every PUK from the
 * returned nonce and derivation indexes with the CLIENT functions of
 * crypto/recovery.h and checks them against what the server stored), and
 * the phone (libpadevice) for ConfirmRecoveryCode.  Codes used only for
 * lookup, revocation and confirmation are inserted through the store with
 * dummy PUK columns, to keep the number of Argon2 computations (~100 ms
 * each) small.
 *
 * Expectations: shared/spec/CRYPTO.md 4.3, 4.6, 12, 15, 16, 18.2 and
 * shared/contract/DATABASE.md 2, 3, 4, 5.8, 5.9, 5.11.  Rows are read back
 * with raw SQL on a separate connection; every fault must leave the
 * database unchanged; codes, PUKs and nonces never reach the log.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "cunit_status.h"
#include <CUnit/CUnit.h>
#include <openssl/crypto.h>
#include <sqlite3.h>

#include "crypto/codes.h"
#include "crypto/eckey.h"
#include "crypto/password.h"
#include "crypto/primitives.h"
#include "crypto/recordenc.h"
#include "crypto/recovery.h"
#include "service/activation.h"
#include "service/activation_internal.h"
#include "service/application.h"
#include "service/recovery.h"
#include "store/store.h"
#include "tests/unit/tempdb.h"
#include "tools/padevice/device.h"
#include "util/base64.h"
#include "util/config.h"
#include "util/err.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/uuid.h"

/* ---- fixture ------------------------------------------------------------------ */

typedef struct app_info {
    int64_t id;
    char key[64];
    char secret[64];
    char master_pub[128];
} app_info;

static char dir[PATH_MAX - 64];
static char path[PATH_MAX];
static pa_store *db;
static pa_config cfg;
static pa_act_env env;
static app_info app;             /* "bank" */
static app_info other;           /* "shop" */
static FILE *log_file;

static char *secrets[256];
static size_t nsecrets;

static void remember_secret(const char *s)
{
    if (s && s[0] && nsecrets < sizeof secrets / sizeof *secrets)
        secrets[nsecrets++] = strdup(s);
}

static void make_app(const char *name, app_info *out)
{
    pa_app_detail d;

    memset(out, 0, sizeof *out);
    if (pa_application_create(db, name, &out->id) != PA_OK
        || pa_application_detail(db, 1, out->id, NULL, &d) != PA_OK
        || d.versions.count != 1) {
        fprintf(stderr, "make_app: %s\n", pa_store_last_error());
        abort();
    }
    snprintf(out->key, sizeof out->key, "%s", d.versions.items[0].application_key);
    snprintf(out->secret, sizeof out->secret, "%s",
             d.versions.items[0].application_secret);
    snprintf(out->master_pub, sizeof out->master_pub, "%s", d.master_public_key);
    pa_application_detail_free(&d);
}

static void setup(void)
{
    pa_tempdb_make("pa-recovery", dir, sizeof dir, path, sizeof path);
    if (pa_store_migrate(path, NULL) != PA_OK
        || pa_store_open(path, NULL, &db) != PA_OK
        || pa_config_defaults(&cfg) != PA_OK) {
        fprintf(stderr, "setup: %s\n", pa_store_last_error());
        abort();
    }
    env.store = db;
    env.cfg = &cfg;
    make_app("bank", &app);
    make_app("shop", &other);
    if (!(log_file = tmpfile()))
        abort();
    pa_log_set_stream(log_file);
}

static char *log_text(void)
{
    long n;
    char *buf;

    fflush(log_file);
    n = ftell(log_file);
    if (n < 0 || !(buf = calloc(1, (size_t)n + 1)))
        abort();
    rewind(log_file);
    if (n > 0 && fread(buf, 1, (size_t)n, log_file) != (size_t)n)
        abort();
    fseek(log_file, 0, SEEK_END);
    return buf;
}

static void teardown(void)
{
    char *log = log_text();
    size_t i;

    for (i = 0; i < nsecrets; i++) {
        if (strstr(log, secrets[i]))
            fprintf(stderr, "\n  LOG LEAK: %s\n", secrets[i]);
        CU_ASSERT_PTR_NULL(strstr(log, secrets[i]));
        free(secrets[i]);
    }
    nsecrets = 0;
    free(log);
    pa_log_set_stream(NULL);
    fclose(log_file);
    log_file = NULL;
    pa_config_free(&cfg);
    pa_store_close(db);
    db = NULL;
    pa_tempdb_remove(dir, path);
}

/* ---- raw SQL on a separate connection ---------------------------------------- */

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
            v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -2
                                                          : sqlite3_column_int64(st, 0);
    } else {
        fprintf(stderr, "\nraw SQL failed: %s\n", sql);
    }
    sqlite3_finalize(st);
    sqlite3_close(c);
    return v;
}

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
    } else {
        fprintf(stderr, "\nraw SQL failed: %s\n", sql);
    }
    sqlite3_finalize(st);
    sqlite3_close(c);
    return v;
}

static void q_exec(const char *sql)
{
    sqlite3 *c = NULL;

    if (sqlite3_open(path, &c) != SQLITE_OK
        || sqlite3_exec(c, sql, NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "\nraw SQL failed: %s\n", sql);
        abort();
    }
    sqlite3_close(c);
}

static char *snapshot(void)
{
    static const char *const sql[] = {
        "SELECT * FROM pa_recovery_code ORDER BY id",
        "SELECT * FROM pa_recovery_puk ORDER BY id",
        "SELECT * FROM pa_recovery_config ORDER BY id",
        "SELECT * FROM pa_activation ORDER BY activation_id"};
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

/* A fault with the database unchanged. */
#define EXPECT_FAULT(call, err)                                           \
    do {                                                                  \
        char *snap_ = snapshot();                                         \
        CU_ASSERT_EQUAL((call), (err));                                   \
        EXPECT_UNCHANGED(snap_);                                          \
    } while (0)

static long long code_status_of(int64_t id)
{
    char sql[400];

    snprintf(sql, sizeof sql, "SELECT status FROM pa_recovery_code WHERE id = %lld",
             (long long)id);
    return q_int(sql, NULL);
}

static long long puk_status_of(int64_t id, int index)
{
    char sql[400];

    snprintf(sql, sizeof sql,
             "SELECT status FROM pa_recovery_puk WHERE recovery_code_id = %lld"
             " AND puk_index = %d", (long long)id, index);
    return q_int(sql, NULL);
}

/* ---- configuration helpers ------------------------------------------------------ */

static void set_config(const app_info *a, int recovery, int postcard, int multiple,
                       const char *remote)
{
    pa_recovery_config_req r = {a->id, recovery, postcard, multiple, remote};

    CU_ASSERT_EQUAL_FATAL(pa_recovery_config_update(&env, &r), PA_OK);
}

/* The printing centre's key pair; its public key Base64 in pub_b64. */
static pa_eckey *centre_keys(char **pub_b64)
{
    pa_eckey *k = NULL;

    CU_ASSERT_EQUAL_FATAL(pa_ec_generate(&k), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_ec_pub_export_b64(k, pub_b64), PA_OK);
    return k;
}

/* Postcards fully configured for `a` with the centre's key. */
static void postcards_on(const app_info *a, const char *centre_pub, int multiple)
{
    set_config(a, 1, 1, multiple, centre_pub);
}

/* ---- codes inserted directly (dummy PUK columns, no Argon2) ---------------------- */

static int64_t insert_code(const app_info *a, const char *user,
                           const char *activation_id, int status,
                           const int *puk_statuses, size_t npuks,
                           char code_out[PA_CODE_BUF], int64_t created_ms)
{
    pa_store_recovery_code c;
    pa_store_recovery_puk p[8];
    char code[PA_CODE_BUF], col[8][32];
    int64_t id = 0;
    size_t i;

    CU_ASSERT_FATAL(npuks <= 8);
    CU_ASSERT_EQUAL_FATAL(pa_code_generate(code), PA_OK);
    memset(&c, 0, sizeof c);
    memset(p, 0, sizeof p);
    for (i = 0; i < npuks; i++) {
        snprintf(col[i], sizeof col[i], "dummy-hash-%zu", i + 1);
        p[i].puk = col[i];
        p[i].puk_index = (int64_t)(i + 1);
        p[i].status = puk_statuses[i];
    }
    c.recovery_code = code;
    c.application_id = a->id;
    c.user_id = (char *)user;
    c.activation_id = (char *)activation_id;
    c.status = status;
    c.max_failed_attempts = 5;
    c.created_ms = created_ms;
    c.puks = p;
    c.puk_count = npuks;
    CU_ASSERT_EQUAL_FATAL(pa_store_recovery_code_insert(db, &c, &id), PA_OK);
    if (code_out)
        memcpy(code_out, code, PA_CODE_BUF);
    remember_secret(code);
    return id;
}

/* ---- the device and the wire --------------------------------------------------- */

typedef struct wire {
    pa_ecies_cryptogram cg;
    char *eph, *data, *mac, *nonce;
} wire;

static int wire_encode(wire *w)
{
    return pa_b64_encode_alloc(w->cg.eph, w->cg.eph_len, &w->eph) == PA_OK
           && pa_b64_encode_alloc(w->cg.data, w->cg.data_len, &w->data) == PA_OK
           && pa_b64_encode_alloc(w->cg.mac, sizeof w->cg.mac, &w->mac) == PA_OK
           && (!w->cg.has_nonce
               || pa_b64_encode_alloc(w->cg.nonce, sizeof w->cg.nonce,
                                      &w->nonce) == PA_OK);
}

static pa_act_cryptogram wire_view(const wire *w)
{
    return (pa_act_cryptogram){w->eph, w->data, w->mac, w->nonce};
}

static void wire_free(wire *w)
{
    pa_ecies_cryptogram_free(&w->cg);
    free(w->eph);
    free(w->data);
    free(w->mac);
    free(w->nonce);
    memset(w, 0, sizeof *w);
}

static char *tamper_b64(const char *b64)
{
    uint8_t *raw = NULL;
    size_t n = 0;
    char *out = NULL;

    if (pa_b64_decode_alloc(b64, &raw, &n) == PA_OK && n > 0) {
        raw[n - 1] ^= 0x01;
        pa_b64_encode_alloc(raw, n, &out);
    }
    free(raw);
    return out;
}

static pa_device *pending(const char *user, const app_info *a, const char *proto,
                          char id[PA_UUID_BUF])
{
    pa_device_activation_opts o = {.compressed_eph = 1};
    pa_act_init_req ir = {.user_id = user, .application_id = a->id,
                          .otp_mode = PA_OTP_NONE};
    pa_act_init_res res;
    pa_act_keyx_res kr;
    pa_device *d = NULL;
    uint8_t *ct = NULL, mac[32];
    size_t n = 0;
    wire w;
    int ok;

    memset(&w, 0, sizeof w);
    memset(&kr, 0, sizeof kr);
    ok = pa_device_new(proto, a->key, a->secret, a->master_pub, &d) == PA_OK
         && pa_activation_init(&env, &ir, &res) == PA_OK;
    if (ok) {
        pa_act_prepare_req pr;

        memcpy(id, res.activation_id, PA_UUID_BUF);
        ok = pa_device_activation_request(d, &o, &w.cg) == PA_OK && wire_encode(&w);
        pr = (pa_act_prepare_req){res.activation_code, a->key, wire_view(&w)};
        ok = ok && pa_activation_prepare(&env, &pr, &kr) == PA_OK
             && pa_b64_decode_alloc(kr.encrypted_data, &ct, &n) == PA_OK
             && pa_b64_decode_exact(kr.mac, mac, sizeof mac) == PA_OK
             && pa_device_activation_response(d, ct, n, mac, sizeof mac) == PA_OK;
        pa_act_init_res_free(&res);
    }
    free(ct);
    wire_free(&w);
    pa_act_keyx_res_free(&kr);
    CU_ASSERT_FATAL(ok);
    return d;
}

static pa_device *active(const char *user, const app_info *a, char id[PA_UUID_BUF])
{
    pa_device *d = pending(user, a, "3.1", id);

    CU_ASSERT_EQUAL_FATAL(pa_activation_commit(&env, id, NULL, NULL), PA_OK);
    return d;
}

static pa_err do_confirm(pa_device *d, const char *act, const char *key,
                         const char *code, pa_recovery_confirm_res *res,
                         int *already)
{
    wire w;
    pa_recovery_confirm_req r;
    pa_err e;

    memset(&w, 0, sizeof w);
    memset(res, 0, sizeof *res);
    if (pa_device_recovery_confirm_request(d, code, 1, &w.cg) != PA_OK
        || !wire_encode(&w)) {
        wire_free(&w);
        return PA_ERR__COUNT;
    }
    r.activation_id = act;
    r.application_key = key;
    r.c = wire_view(&w);
    e = pa_recovery_confirm(&env, &r, res);
    wire_free(&w);
    if (e == PA_OK && already) {
        uint8_t *ct = NULL, mac[32];
        size_t n = 0;

        *already = -1;
        if (pa_b64_decode_alloc(res->encrypted_data, &ct, &n) != PA_OK
            || pa_b64_decode_exact(res->mac, mac, sizeof mac) != PA_OK
            || pa_device_recovery_confirm_response(d, ct, n, mac, sizeof mac,
                                                   already) != PA_OK)
            *already = -1;
        free(ct);
    }
    return e;
}

/* ---- GetRecoveryConfig / UpdateRecoveryConfig ------------------------------------- */

static void test_config_lazy(void)
{
    pa_store_recovery_config c;

    CU_ASSERT_EQUAL(q_int("SELECT count(*) FROM pa_recovery_config", NULL), 0);
    CU_ASSERT_EQUAL_FATAL(pa_recovery_config_get(&env, app.id, &c), PA_OK);
    CU_ASSERT_EQUAL(c.application_id, app.id);
    CU_ASSERT_EQUAL(c.activation_recovery_enabled, 0);
    CU_ASSERT_EQUAL(c.recovery_postcard_enabled, 0);
    CU_ASSERT_EQUAL(c.allow_multiple_recovery_codes, 0);
    CU_ASSERT_PTR_NULL(c.postcard_private_key);
    CU_ASSERT_PTR_NULL(c.postcard_public_key);
    CU_ASSERT_PTR_NULL(c.remote_public_key);
    pa_store_recovery_config_free(&c);
    CU_ASSERT_EQUAL(q_int("SELECT count(*) FROM pa_recovery_config", NULL), 1);
    CU_ASSERT_EQUAL(q_int("SELECT activation_recovery_enabled + recovery_postcard_enabled"
                          " + allow_multiple_recovery_codes FROM pa_recovery_config",
                          NULL), 0);
    /* a second read does not add a row */
    CU_ASSERT_EQUAL_FATAL(pa_recovery_config_get(&env, app.id, &c), PA_OK);
    pa_store_recovery_config_free(&c);
    CU_ASSERT_EQUAL(q_int("SELECT count(*) FROM pa_recovery_config", NULL), 1);
    /* unknown application */
    EXPECT_FAULT(pa_recovery_config_get(&env, 9999, &c), PA_ERR_INVALID_APPLICATION);
    CU_ASSERT_PTR_NULL(c.remote_public_key);
}

static void test_config_update(void)
{
    pa_store_recovery_config c;
    pa_recovery_config_req r;
    pa_eckey *centre, *k = NULL;
    char *centre_pub = NULL, *priv1, *pub1, *s;
    uint8_t raw[PA_EC_PUB_LEN], comp[PA_EC_PUB_COMPRESSED_LEN];
    char comp_b64[PA_B64_ENCLEN(PA_EC_PUB_COMPRESSED_LEN) + 1];
    int enabled = -1;

    centre = centre_keys(&centre_pub);
    /* Update creates the row; postcards off: no key pair */
    set_config(&app, 1, 0, 0, NULL);
    CU_ASSERT_EQUAL(q_int("SELECT count(*) FROM pa_recovery_config", NULL), 1);
    CU_ASSERT_EQUAL(q_int("SELECT postcard_private_key_base64 IS NULL"
                          " FROM pa_recovery_config", NULL), 1);
    CU_ASSERT_EQUAL(pa_recovery_enabled(db, app.id, &enabled), PA_OK);
    CU_ASSERT_EQUAL(enabled, 1);
    CU_ASSERT_EQUAL(pa_recovery_enabled(db, other.id, &enabled), PA_OK);
    CU_ASSERT_EQUAL(enabled, 0);
    /* postcards on: a pair is generated */
    set_config(&app, 1, 1, 1, NULL);
    priv1 = q_text("SELECT postcard_private_key_base64 FROM pa_recovery_config", NULL);
    pub1 = q_text("SELECT postcard_public_key_base64 FROM pa_recovery_config", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(priv1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pub1);
    remember_secret(priv1);
    /* the pair matches: the private key's public half is the public key */
    CU_ASSERT_EQUAL_FATAL(pa_ec_priv_import_b64(priv1, &k), PA_OK);
    CU_ASSERT_EQUAL(pa_ec_pub_export(k, raw), PA_OK);
    pa_ec_free(k);
    k = NULL;
    {
        char b64[PA_B64_ENCLEN(PA_EC_PUB_LEN) + 1];

        pa_b64_encode(raw, sizeof raw, b64);
        CU_ASSERT_STRING_EQUAL(b64, pub1);
    }
    CU_ASSERT_EQUAL(q_int("SELECT allow_multiple_recovery_codes FROM pa_recovery_config",
                          NULL), 1);
    /* generated once: enabling again, disabling, enabling keep it */
    set_config(&app, 1, 1, 0, NULL);
    set_config(&app, 0, 0, 0, NULL);
    set_config(&app, 1, 1, 0, NULL);
    s = q_text("SELECT postcard_private_key_base64 FROM pa_recovery_config", NULL);
    CU_ASSERT_PTR_NOT_NULL(s);
    if (s)
        CU_ASSERT_STRING_EQUAL(s, priv1);
    free(s);
    s = q_text("SELECT postcard_public_key_base64 FROM pa_recovery_config", NULL);
    CU_ASSERT_PTR_NOT_NULL(s);
    if (s)
        CU_ASSERT_STRING_EQUAL(s, pub1);
    free(s);
    CU_ASSERT_EQUAL(q_int("SELECT allow_multiple_recovery_codes FROM pa_recovery_config",
                          NULL), 0);
    /* remote key: set, absent = unchanged, bad = ERR0010, "" = NULL */
    set_config(&app, 1, 1, 0, centre_pub);
    set_config(&app, 1, 1, 0, NULL);
    s = q_text("SELECT remote_public_key_base64 FROM pa_recovery_config", NULL);
    CU_ASSERT_PTR_NOT_NULL(s);
    if (s)
        CU_ASSERT_STRING_EQUAL(s, centre_pub);
    free(s);
    r = (pa_recovery_config_req){app.id, 0, 0, 1, "AAAA"};
    EXPECT_FAULT(pa_recovery_config_update(&env, &r), PA_ERR_INVALID_KEY_FORMAT);
    r.remote_public_key = "not base64 !";
    EXPECT_FAULT(pa_recovery_config_update(&env, &r), PA_ERR_INVALID_KEY_FORMAT);
    /* a point off the curve */
    memset(raw, 0, sizeof raw);
    raw[0] = 0x04;
    raw[64] = 7;
    {
        char b64[PA_B64_ENCLEN(PA_EC_PUB_LEN) + 1];

        pa_b64_encode(raw, sizeof raw, b64);
        r.remote_public_key = b64;
        EXPECT_FAULT(pa_recovery_config_update(&env, &r), PA_ERR_INVALID_KEY_FORMAT);
    }
    /* a compressed point is a P-256 point */
    CU_ASSERT_EQUAL(pa_ec_pub_export_compressed(centre, comp), PA_OK);
    pa_b64_encode(comp, sizeof comp, comp_b64);
    set_config(&app, 1, 1, 0, comp_b64);
    s = q_text("SELECT remote_public_key_base64 FROM pa_recovery_config", NULL);
    CU_ASSERT_PTR_NOT_NULL(s);
    if (s)
        CU_ASSERT_STRING_EQUAL(s, comp_b64);
    free(s);
    set_config(&app, 1, 1, 0, "");
    CU_ASSERT_EQUAL(q_int("SELECT remote_public_key_base64 FROM pa_recovery_config",
                          NULL), -2);
    /* unknown application */
    r = (pa_recovery_config_req){9999, 1, 1, 0, NULL};
    EXPECT_FAULT(pa_recovery_config_update(&env, &r), PA_ERR_INVALID_APPLICATION);
    /* GetRecoveryConfig shows the public keys, never the private one */
    set_config(&app, 1, 1, 0, centre_pub);
    CU_ASSERT_EQUAL_FATAL(pa_recovery_config_get(&env, app.id, &c), PA_OK);
    CU_ASSERT_EQUAL(c.activation_recovery_enabled, 1);
    CU_ASSERT_EQUAL(c.recovery_postcard_enabled, 1);
    CU_ASSERT_PTR_NULL(c.postcard_private_key);
    CU_ASSERT_PTR_NOT_NULL(c.postcard_public_key);
    if (c.postcard_public_key)
        CU_ASSERT_STRING_EQUAL(c.postcard_public_key, pub1);
    CU_ASSERT_PTR_NOT_NULL(c.remote_public_key);
    if (c.remote_public_key)
        CU_ASSERT_STRING_EQUAL(c.remote_public_key, centre_pub);
    pa_store_recovery_config_free(&c);
    /* only one row per application */
    CU_ASSERT_EQUAL(q_int("SELECT count(*) FROM pa_recovery_config", NULL), 1);
    free(priv1);
    free(pub1);
    free(centre_pub);
    pa_ec_free(centre);
}

/* ---- CreateRecoveryCode: the printing centre's view --------------------------------- */

/* The centre re-derives the code and PUKs and checks them against the
 * answer and the stored rows (Argon2 verification of each PUK). */
static void centre_check(const pa_eckey *centre, const app_info *a,
                         const char *user, const pa_recovery_postcard_res *res,
                         int encrypted)
{
    pa_eckey *server_pub = NULL;
    char *pub_b64, code[PA_CODE_BUF], masked[PA_CODE_BUF], *stored_code;
    uint8_t s[32], nonce[32], base[16];
    char sql[400], idbuf[24];
    size_t k;

    pub_b64 = q_text("SELECT postcard_public_key_base64 FROM pa_recovery_config"
                     " WHERE application_id = ?1",
                     (snprintf(idbuf, sizeof idbuf, "%lld", (long long)a->id), idbuf));
    CU_ASSERT_PTR_NOT_NULL_FATAL(pub_b64);
    CU_ASSERT_EQUAL_FATAL(pa_ec_pub_import_b64(pub_b64, &server_pub), PA_OK);
    free(pub_b64);
    /* RPPS = ECDH(centre private, server postcard public), 32 bytes */
    CU_ASSERT_EQUAL_FATAL(pa_recovery_postcard_secret(centre, server_pub, s), PA_OK);
    pa_ec_free(server_pub);
    CU_ASSERT_PTR_NOT_NULL_FATAL(res->nonce);
    CU_ASSERT_EQUAL_FATAL(pa_b64_decode_exact(res->nonce, nonce, sizeof nonce), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_recovery_derive(s, sizeof s, nonce, code, base), PA_OK);
    CU_ASSERT_TRUE(pa_code_validate(code));
    remember_secret(code);
    remember_secret(res->nonce);
    pa_code_mask(code, masked);
    CU_ASSERT_STRING_EQUAL(res->recovery_code_masked, masked);
    CU_ASSERT_EQUAL(strncmp(masked, "XXXXX-XXXXX-XXXXX-", 18), 0);
    snprintf(sql, sizeof sql, "SELECT recovery_code FROM pa_recovery_code WHERE id = %lld",
             (long long)res->recovery_code_id);
    stored_code = q_text(sql, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(stored_code);
    CU_ASSERT_STRING_EQUAL(stored_code, code);
    free(stored_code);
    snprintf(sql, sizeof sql,
             "SELECT status FROM pa_recovery_code WHERE id = %lld AND user_id = ?1"
             " AND activation_id IS NULL AND failed_attempts = 0"
             " AND max_failed_attempts = 5 AND timestamp_last_change IS NULL",
             (long long)res->recovery_code_id);
    CU_ASSERT_EQUAL(q_int(sql, user), PA_RC_CREATED);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pa_recovery_puk WHERE recovery_code_id = %lld",
             (long long)res->recovery_code_id);
    CU_ASSERT_EQUAL(q_int(sql, NULL), (long long)res->puk_count);
    for (k = 0; k < res->puk_count; k++) {
        char puk[11], *col, *hash = NULL;
        int match = 0;

        CU_ASSERT_EQUAL_FATAL(pa_recovery_puk(base, res->derivation_indexes[k], puk),
                              PA_OK);
        remember_secret(puk);
        snprintf(sql, sizeof sql,
                 "SELECT puk FROM pa_recovery_puk WHERE recovery_code_id = %lld"
                 " AND puk_index = %zu AND status = 1 AND timestamp_last_change IS NULL",
                 (long long)res->recovery_code_id, k + 1);
        col = q_text(sql, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(col);
        snprintf(sql, sizeof sql,
                 "SELECT puk_encryption FROM pa_recovery_puk WHERE recovery_code_id = %lld"
                 " AND puk_index = %zu", (long long)res->recovery_code_id, k + 1);
        CU_ASSERT_EQUAL(q_int(sql, NULL), encrypted);
        if (encrypted) {
            CU_ASSERT_NOT_EQUAL(strncmp(col, "$argon2i$", 9), 0);
            CU_ASSERT_EQUAL(pa_record_read_puk(1, cfg.master_db_encryption_key,
                                               sizeof cfg.master_db_encryption_key,
                                               a->id, user, code, (int64_t)(k + 1),
                                               col, &hash), PA_OK);
            /* bound to its row: another index does not decrypt */
            {
                char *h2 = NULL;

                CU_ASSERT_NOT_EQUAL(pa_record_read_puk(
                                        1, cfg.master_db_encryption_key,
                                        sizeof cfg.master_db_encryption_key, a->id,
                                        user, code, (int64_t)(k + 2), col, &h2),
                                    PA_OK);
                free(h2);
            }
        } else {
            hash = strdup(col);
        }
        CU_ASSERT_PTR_NOT_NULL_FATAL(hash);
        CU_ASSERT_EQUAL(strncmp(hash, "$argon2i$v=19$m=32768,t=3,p=16$", 31), 0);
        CU_ASSERT_EQUAL(pa_password_verify((const uint8_t *)puk, 10, hash, &match),
                        PA_OK);
        CU_ASSERT_EQUAL(match, 1);
        free(hash);
        free(col);
    }
    OPENSSL_cleanse(s, sizeof s);
}

static void test_postcard(void)
{
    pa_recovery_postcard_res res;
    char *centre_pub = NULL;
    pa_eckey *centre = centre_keys(&centre_pub);
    int64_t before = pa_time_now_ms();
    size_t k;

    postcards_on(&app, centre_pub, 0);
    CU_ASSERT_EQUAL_FATAL(pa_recovery_postcard_create(&env, app.id, "alice", 3, &res),
                          PA_OK);
    CU_ASSERT_STRING_EQUAL(res.user_id, "alice");
    CU_ASSERT_EQUAL(res.status, PA_RC_CREATED);
    CU_ASSERT_EQUAL(res.puk_count, 3);
    CU_ASSERT_TRUE(res.recovery_code_id > 0);
    CU_ASSERT_EQUAL(strlen(res.nonce), 44);
    for (k = 1; k < res.puk_count; k++)
        CU_ASSERT_NOT_EQUAL(res.derivation_indexes[k], res.derivation_indexes[0]);
    centre_check(centre, &app, "alice", &res, 0);
    {
        char sql[400];

        snprintf(sql, sizeof sql,
                 "SELECT timestamp_created FROM pa_recovery_code WHERE id = %lld",
                 (long long)res.recovery_code_id);
        CU_ASSERT_TRUE(q_int(sql, NULL) >= before - 1000);
    }
    pa_recovery_postcard_res_free(&res);
    pa_ec_free(centre);
    free(centre_pub);
}

static void test_postcard_encrypted(void)
{
    pa_recovery_postcard_res res;
    char *centre_pub = NULL;
    pa_eckey *centre = centre_keys(&centre_pub);
    size_t i;

    cfg.master_db_encryption_key_set = true;
    for (i = 0; i < sizeof cfg.master_db_encryption_key; i++)
        cfg.master_db_encryption_key[i] = (uint8_t)(0x30 + i);
    cfg.recovery_max_failed_attempts = 7;
    postcards_on(&app, centre_pub, 0);
    CU_ASSERT_EQUAL_FATAL(pa_recovery_postcard_create(&env, app.id, "bob", 1, &res),
                          PA_OK);
    cfg.recovery_max_failed_attempts = 5;   /* centre_check expects 5 ... */
    {
        char sql[400];

        snprintf(sql, sizeof sql,
                 "SELECT max_failed_attempts FROM pa_recovery_code WHERE id = %lld",
                 (long long)res.recovery_code_id);
        CU_ASSERT_EQUAL(q_int(sql, NULL), 7);
        snprintf(sql, sizeof sql,
                 "UPDATE pa_recovery_code SET max_failed_attempts = 5 WHERE id = %lld",
                 (long long)res.recovery_code_id);
        q_exec(sql);
    }
    centre_check(centre, &app, "bob", &res, 1);
    pa_recovery_postcard_res_free(&res);
    pa_ec_free(centre);
    free(centre_pub);
}

static void test_postcard_faults(void)
{
    pa_recovery_postcard_res res;
    char *centre_pub = NULL;
    pa_eckey *centre = centre_keys(&centre_pub);
    int64_t first;

    /* no configuration row at all */
    EXPECT_FAULT(pa_recovery_postcard_create(&env, app.id, "alice", 1, &res),
                 PA_ERR_INVALID_REQUEST);
    postcards_on(&app, centre_pub, 0);
    EXPECT_FAULT(pa_recovery_postcard_create(&env, app.id, "alice", 0, &res),
                 PA_ERR_INVALID_REQUEST);
    EXPECT_FAULT(pa_recovery_postcard_create(&env, app.id, "alice", 101, &res),
                 PA_ERR_INVALID_REQUEST);
    EXPECT_FAULT(pa_recovery_postcard_create(&env, app.id, "alice", -1, &res),
                 PA_ERR_INVALID_REQUEST);
    EXPECT_FAULT(pa_recovery_postcard_create(&env, app.id, NULL, 1, &res),
                 PA_ERR_INVALID_REQUEST);
    EXPECT_FAULT(pa_recovery_postcard_create(&env, 9999, "alice", 1, &res),
                 PA_ERR_INVALID_REQUEST);
    CU_ASSERT_PTR_NULL(res.nonce);
    /* recovery or postcards disabled */
    set_config(&app, 0, 1, 0, centre_pub);
    EXPECT_FAULT(pa_recovery_postcard_create(&env, app.id, "alice", 1, &res),
                 PA_ERR_INVALID_REQUEST);
    set_config(&app, 1, 0, 0, centre_pub);
    EXPECT_FAULT(pa_recovery_postcard_create(&env, app.id, "alice", 1, &res),
                 PA_ERR_INVALID_REQUEST);
    /* no remote key; no postcard key */
    set_config(&app, 1, 1, 0, "");
    EXPECT_FAULT(pa_recovery_postcard_create(&env, app.id, "alice", 1, &res),
                 PA_ERR_INVALID_RECOVERY_CONFIGURATION);
    set_config(&app, 1, 1, 0, centre_pub);
    q_exec("UPDATE pa_recovery_config SET postcard_private_key_base64 = NULL");
    EXPECT_FAULT(pa_recovery_postcard_create(&env, app.id, "alice", 1, &res),
                 PA_ERR_INVALID_RECOVERY_CONFIGURATION);
    set_config(&app, 1, 1, 0, centre_pub);   /* a new pair */
    /* no unused code within the attempts (none allowed) */
    cfg.generate_recovery_code_iterations = 0;
    EXPECT_FAULT(pa_recovery_postcard_create(&env, app.id, "alice", 1, &res),
                 PA_ERR_UNABLE_TO_GENERATE_RECOVERY_CODE);
    cfg.generate_recovery_code_iterations = 10;
    /* one live postcard code per user unless multiple are allowed */
    CU_ASSERT_EQUAL_FATAL(pa_recovery_postcard_create(&env, app.id, "alice", 1, &res),
                          PA_OK);
    first = res.recovery_code_id;
    remember_secret(res.nonce);
    pa_recovery_postcard_res_free(&res);
    EXPECT_FAULT(pa_recovery_postcard_create(&env, app.id, "alice", 1, &res),
                 PA_ERR_RECOVERY_CODE_ALREADY_EXISTS);
    /* ACTIVE counts as live too; a bound code of the user does not */
    q_exec("UPDATE pa_recovery_code SET status = 2");
    EXPECT_FAULT(pa_recovery_postcard_create(&env, app.id, "alice", 1, &res),
                 PA_ERR_RECOVERY_CODE_ALREADY_EXISTS);
    /* another user, another application are not affected: checked via
     * the live count only (no Argon2 needed) */
    {
        int64_t n = -1;

        CU_ASSERT_EQUAL(pa_store_recovery_postcard_live_count(db, app.id, "bob", &n),
                        PA_OK);
        CU_ASSERT_EQUAL(n, 0);
    }
    /* multiple codes allowed: a second live one */
    set_config(&app, 1, 1, 1, NULL);
    CU_ASSERT_EQUAL_FATAL(pa_recovery_postcard_create(&env, app.id, "alice", 1, &res),
                          PA_OK);
    CU_ASSERT_NOT_EQUAL(res.recovery_code_id, first);
    remember_secret(res.nonce);
    pa_recovery_postcard_res_free(&res);
    CU_ASSERT_EQUAL(q_int("SELECT count(*) FROM pa_recovery_code", NULL), 2);
    pa_ec_free(centre);
    free(centre_pub);
}

/* ---- ConfirmRecoveryCode ------------------------------------------------------------- */

static void test_confirm(void)
{
    static const int valid1[] = {PA_PUK_VALID};
    char act[PA_UUID_BUF], pend[PA_UUID_BUF], code[PA_CODE_BUF], bobs[PA_CODE_BUF];
    char revoked_code[PA_CODE_BUF], unknown[PA_CODE_BUF];
    pa_device *d = active("alice", &app, act);
    pa_device *dp = pending("alice", &app, "3.0", pend);
    pa_recovery_confirm_res res;
    int64_t id;
    int already = -1;
    long long changed;

    id = insert_code(&app, "alice", NULL, PA_RC_CREATED, valid1, 1, code,
                     pa_time_now_ms());
    insert_code(&app, "bob", NULL, PA_RC_CREATED, valid1, 1, bobs, pa_time_now_ms());
    insert_code(&app, "alice", NULL, PA_RC_REVOKED, valid1, 1, revoked_code,
                pa_time_now_ms());
    CU_ASSERT_EQUAL_FATAL(pa_code_generate(unknown), PA_OK);
    /* recovery disabled */
    EXPECT_FAULT(do_confirm(d, act, app.key, code, &res, NULL), PA_ERR_INVALID_REQUEST);
    set_config(&app, 1, 0, 0, NULL);
    /* first confirmation */
    CU_ASSERT_EQUAL_FATAL(do_confirm(d, act, app.key, code, &res, &already), PA_OK);
    CU_ASSERT_EQUAL(already, 0);
    CU_ASSERT_STRING_EQUAL(res.activation_id, act);
    CU_ASSERT_STRING_EQUAL(res.user_id, "alice");
    CU_ASSERT_EQUAL(res.already_confirmed, 0);
    pa_recovery_confirm_res_free(&res);
    CU_ASSERT_EQUAL(code_status_of(id), PA_RC_ACTIVE);
    {
        char sql[400];

        snprintf(sql, sizeof sql,
                 "SELECT timestamp_last_change FROM pa_recovery_code WHERE id = %lld",
                 (long long)id);
        changed = q_int(sql, NULL);
        CU_ASSERT_TRUE(changed > 0);
    }
    CU_ASSERT_EQUAL(puk_status_of(id, 1), PA_PUK_VALID);
    /* again: already confirmed, nothing written */
    {
        char *snap = snapshot();

        CU_ASSERT_EQUAL_FATAL(do_confirm(d, act, app.key, code, &res, &already), PA_OK);
        CU_ASSERT_EQUAL(already, 1);
        CU_ASSERT_EQUAL(res.already_confirmed, 1);
        pa_recovery_confirm_res_free(&res);
        EXPECT_UNCHANGED(snap);
    }
    /* faults */
    EXPECT_FAULT(do_confirm(d, act, app.key, unknown, &res, NULL),
                 PA_ERR_RECOVERY_CODE_NOT_FOUND);
    EXPECT_FAULT(do_confirm(d, act, app.key, bobs, &res, NULL), PA_ERR_INVALID_REQUEST);
    EXPECT_FAULT(do_confirm(d, act, app.key, revoked_code, &res, NULL),
                 PA_ERR_INVALID_REQUEST);
    EXPECT_FAULT(do_confirm(d, act, app.key, "AAAAA-AAAAA-AAAAA-AAABA", &res, NULL),
                 PA_ERR_INVALID_REQUEST);
    EXPECT_FAULT(do_confirm(d, act, app.key, "", &res, NULL), PA_ERR_INVALID_REQUEST);
    EXPECT_FAULT(do_confirm(d, act, "AAAAAAAAAAAAAAAAAAAAAA==", code, &res, NULL),
                 PA_ERR_INVALID_APPLICATION);
    /* the code is looked up in the key's application: shop has none */
    EXPECT_FAULT(do_confirm(d, act, other.key, code, &res, NULL),
                 PA_ERR_DECRYPTION_FAILED);   /* shop's secret: SH2 differs */
    EXPECT_FAULT(do_confirm(d, "00000000-0000-4000-8000-000000000000", app.key, code,
                            &res, NULL), PA_ERR_ACTIVATION_NOT_FOUND);
    EXPECT_FAULT(do_confirm(dp, pend, app.key, code, &res, NULL),
                 PA_ERR_ACTIVATION_INCORRECT_STATE);
    /* tampered MAC, missing elements */
    {
        wire w;
        pa_recovery_confirm_req r;
        char *bad;

        memset(&w, 0, sizeof w);
        CU_ASSERT_FATAL(pa_device_recovery_confirm_request(d, code, 0, &w.cg) == PA_OK
                        && wire_encode(&w));
        bad = tamper_b64(w.mac);
        r.activation_id = act;
        r.application_key = app.key;
        r.c = wire_view(&w);
        r.c.mac = bad;
        EXPECT_FAULT(pa_recovery_confirm(&env, &r, &res), PA_ERR_DECRYPTION_FAILED);
        free(bad);
        r.c.mac = NULL;
        EXPECT_FAULT(pa_recovery_confirm(&env, &r, &res), PA_ERR_INVALID_REQUEST);
        r.c.mac = w.mac;
        r.c.encrypted_data = "%%%";
        EXPECT_FAULT(pa_recovery_confirm(&env, &r, &res), PA_ERR_INVALID_REQUEST);
        wire_free(&w);
    }
    /* a JSON with another property: ERR0018 */
    {
        wire w;
        pa_recovery_confirm_req r;

        memset(&w, 0, sizeof w);
        CU_ASSERT_FATAL(pa_device_ecies_request(d, 1, PA_ECIES_SH1_RECOVERY_CONFIRM,
                                                (const uint8_t *)"{\"x\":1}", 7,
                                                1, &w.cg) == PA_OK
                        && wire_encode(&w));
        r.activation_id = act;
        r.application_key = app.key;
        r.c = wire_view(&w);
        EXPECT_FAULT(pa_recovery_confirm(&env, &r, &res), PA_ERR_DECRYPTION_FAILED);
        wire_free(&w);
    }
    pa_device_free(d);
    pa_device_free(dp);
}

/* ---- LookupRecoveryCodes ------------------------------------------------------------------ */

static size_t lookup(const pa_recovery_lookup_req *r, int64_t *ids, size_t cap)
{
    pa_store_recovery_code_array out;
    size_t i;

    memset(&out, 0, sizeof out);
    if (pa_recovery_lookup(&env, r, &out) != PA_OK)
        return (size_t)-1;
    for (i = 0; i < out.count && i < cap; i++)
        ids[i] = out.items[i].id;
    i = out.count;
    pa_store_recovery_code_array_free(&out);
    return i;
}

static void test_lookup(void)
{
    static const int v1[] = {PA_PUK_VALID};
    static const int uv[] = {PA_PUK_USED, PA_PUK_VALID};
    static const int ii[] = {PA_PUK_INVALID, PA_PUK_INVALID};
    char act[PA_UUID_BUF], act2[PA_UUID_BUF], c1[PA_CODE_BUF];
    pa_device *d1 = pending("alice", &app, "3.1", act);
    pa_device *d2 = pending("alice", &other, "3.1", act2);
    pa_store_recovery_code_array out;
    pa_recovery_lookup_req r;
    int64_t bound, pc, bob, shop, ids[8];
    int64_t t = pa_time_now_ms();

    bound = insert_code(&app, "alice", act, PA_RC_ACTIVE, uv, 2, c1, t - 4000);
    pc = insert_code(&app, "alice", NULL, PA_RC_CREATED, v1, 1, NULL, t - 3000);
    bob = insert_code(&app, "bob", NULL, PA_RC_BLOCKED, ii, 2, NULL, t - 2000);
    shop = insert_code(&other, "alice", act2, PA_RC_REVOKED, ii, 2, NULL, t - 1000);

    /* application + activation (+ user) */
    memset(&r, 0, sizeof r);
    r.has_application_id = 1;
    r.application_id = app.id;
    r.activation_id = act;
    CU_ASSERT_EQUAL(lookup(&r, ids, 8), 1);
    CU_ASSERT_EQUAL(ids[0], bound);
    r.user_id = "bob";
    CU_ASSERT_EQUAL(lookup(&r, ids, 8), 0);
    r.user_id = "alice";
    CU_ASSERT_EQUAL(lookup(&r, ids, 8), 1);
    r.activation_id = act2;        /* of another application */
    CU_ASSERT_EQUAL(lookup(&r, ids, 8), 0);
    /* application + user: newest first */
    r.activation_id = NULL;
    CU_ASSERT_EQUAL(lookup(&r, ids, 8), 2);
    CU_ASSERT_EQUAL(ids[0], pc);
    CU_ASSERT_EQUAL(ids[1], bound);
    /* user alone, activation without application ignored */
    r.has_application_id = 0;
    r.activation_id = act;
    CU_ASSERT_EQUAL(lookup(&r, ids, 8), 3);
    CU_ASSERT_EQUAL(ids[0], shop);
    CU_ASSERT_EQUAL(ids[1], pc);
    CU_ASSERT_EQUAL(ids[2], bound);
    /* activation alone */
    r.user_id = NULL;
    CU_ASSERT_EQUAL(lookup(&r, ids, 8), 1);
    CU_ASSERT_EQUAL(ids[0], bound);
    r.activation_id = act2;
    CU_ASSERT_EQUAL(lookup(&r, ids, 8), 1);
    CU_ASSERT_EQUAL(ids[0], shop);
    /* application alone, nothing */
    memset(&r, 0, sizeof r);
    r.has_application_id = 1;
    r.application_id = app.id;
    EXPECT_FAULT(pa_recovery_lookup(&env, &r, &out), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(out.count, 0);
    memset(&r, 0, sizeof r);
    EXPECT_FAULT(pa_recovery_lookup(&env, &r, &out), PA_ERR_INVALID_REQUEST);
    /* unknown user: empty */
    r.user_id = "carol";
    CU_ASSERT_EQUAL(lookup(&r, ids, 8), 0);
    /* status filter */
    r.user_id = "alice";
    r.has_code_status = 1;
    r.code_status = PA_RC_CREATED;
    CU_ASSERT_EQUAL(lookup(&r, ids, 8), 1);
    CU_ASSERT_EQUAL(ids[0], pc);
    r.code_status = PA_RC_BLOCKED;
    CU_ASSERT_EQUAL(lookup(&r, ids, 8), 0);
    /* PUK status filter: drops PUKs, then codes without PUKs */
    r.has_code_status = 0;
    r.has_puk_status = 1;
    r.puk_status = PA_PUK_USED;
    memset(&out, 0, sizeof out);
    CU_ASSERT_EQUAL_FATAL(pa_recovery_lookup(&env, &r, &out), PA_OK);
    CU_ASSERT_EQUAL_FATAL(out.count, 1);
    CU_ASSERT_EQUAL(out.items[0].id, bound);
    CU_ASSERT_EQUAL_FATAL(out.items[0].puk_count, 1);
    CU_ASSERT_EQUAL(out.items[0].puks[0].puk_index, 1);
    CU_ASSERT_EQUAL(out.items[0].puks[0].status, PA_PUK_USED);
    pa_store_recovery_code_array_free(&out);
    r.puk_status = PA_PUK_VALID;
    CU_ASSERT_EQUAL(lookup(&r, ids, 8), 2);
    r.puk_status = PA_PUK_INVALID;
    CU_ASSERT_EQUAL(lookup(&r, ids, 8), 1);
    CU_ASSERT_EQUAL(ids[0], shop);
    /* both filters */
    r.has_code_status = 1;
    r.code_status = PA_RC_ACTIVE;
    r.puk_status = PA_PUK_VALID;
    CU_ASSERT_EQUAL(lookup(&r, ids, 8), 1);
    CU_ASSERT_EQUAL(ids[0], bound);
    /* the answer: masked code, fields, PUKs by index without hashes */
    memset(&r, 0, sizeof r);
    r.user_id = "alice";
    r.has_application_id = 1;
    r.application_id = app.id;
    r.activation_id = act;
    CU_ASSERT_EQUAL_FATAL(pa_recovery_lookup(&env, &r, &out), PA_OK);
    CU_ASSERT_EQUAL_FATAL(out.count, 1);
    {
        char masked[PA_CODE_BUF];
        const pa_store_recovery_code *c = &out.items[0];

        pa_code_mask(c1, masked);
        CU_ASSERT_STRING_EQUAL(c->recovery_code, masked);
        CU_ASSERT_STRING_EQUAL(c->user_id, "alice");
        CU_ASSERT_STRING_EQUAL(c->activation_id, act);
        CU_ASSERT_EQUAL(c->application_id, app.id);
        CU_ASSERT_EQUAL(c->status, PA_RC_ACTIVE);
        CU_ASSERT_EQUAL_FATAL(c->puk_count, 2);
        CU_ASSERT_EQUAL(c->puks[0].puk_index, 1);
        CU_ASSERT_EQUAL(c->puks[0].status, PA_PUK_USED);
        CU_ASSERT_EQUAL(c->puks[1].puk_index, 2);
        CU_ASSERT_EQUAL(c->puks[1].status, PA_PUK_VALID);
        CU_ASSERT_PTR_NULL(c->puks[0].puk);
        CU_ASSERT_PTR_NULL(c->puks[1].puk);
    }
    pa_store_recovery_code_array_free(&out);
    /* an unknown stored status reads as REVOKED / INVALID */
    {
        char sql[400];

        snprintf(sql, sizeof sql, "UPDATE pa_recovery_code SET status = 9 WHERE id = %lld",
                 (long long)bob);
        q_exec(sql);
        q_exec("UPDATE pa_recovery_puk SET status = 7 WHERE puk = 'dummy-hash-2'");
        memset(&r, 0, sizeof r);
        r.user_id = "bob";
        r.has_code_status = 1;
        r.code_status = PA_RC_REVOKED;
        r.has_puk_status = 1;
        r.puk_status = PA_PUK_INVALID;
        CU_ASSERT_EQUAL(lookup(&r, ids, 8), 1);
    }
    pa_device_free(d1);
    pa_device_free(d2);
}

/* ---- RevokeRecoveryCodes -------------------------------------------------------------------- */

static void test_revoke(void)
{
    static const int puks[] = {PA_PUK_USED, PA_PUK_VALID, PA_PUK_INVALID};
    int64_t a, b, c, ids[4];
    int revoked = -1;
    char sql[400];

    a = insert_code(&app, "alice", NULL, PA_RC_ACTIVE, puks, 3, NULL, 1000);
    b = insert_code(&app, "bob", NULL, PA_RC_BLOCKED, puks, 3, NULL, 2000);
    c = insert_code(&app, "carol", NULL, PA_RC_CREATED, puks, 3, NULL, 3000);
    /* faults: nothing written */
    ids[0] = a;
    ids[1] = -1;
    EXPECT_FAULT(pa_recovery_revoke(&env, ids, 2, &revoked), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(revoked, 0);
    EXPECT_FAULT(pa_recovery_revoke(&env, ids, 0, &revoked), PA_ERR_INVALID_REQUEST);
    /* unknown ids ignored */
    ids[0] = 4242;
    {
        char *snap = snapshot();

        CU_ASSERT_EQUAL(pa_recovery_revoke(&env, ids, 1, &revoked), PA_OK);
        CU_ASSERT_EQUAL(revoked, 0);
        EXPECT_UNCHANGED(snap);
    }
    ids[0] = a;
    ids[1] = 4242;
    ids[2] = b;
    ids[3] = a;
    CU_ASSERT_EQUAL(pa_recovery_revoke(&env, ids, 4, &revoked), PA_OK);
    CU_ASSERT_EQUAL(revoked, 1);
    CU_ASSERT_EQUAL(code_status_of(a), PA_RC_REVOKED);
    CU_ASSERT_EQUAL(code_status_of(b), PA_RC_REVOKED);
    CU_ASSERT_EQUAL(code_status_of(c), PA_RC_CREATED);
    CU_ASSERT_EQUAL(puk_status_of(a, 1), PA_PUK_USED);
    CU_ASSERT_EQUAL(puk_status_of(a, 2), PA_PUK_INVALID);
    CU_ASSERT_EQUAL(puk_status_of(a, 3), PA_PUK_INVALID);
    CU_ASSERT_EQUAL(puk_status_of(c, 2), PA_PUK_VALID);
    /* last change set on the rows changed only */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pa_recovery_puk WHERE recovery_code_id = %lld"
             " AND timestamp_last_change IS NOT NULL", (long long)a);
    CU_ASSERT_EQUAL(q_int(sql, NULL), 1);
    snprintf(sql, sizeof sql,
             "SELECT timestamp_last_change IS NOT NULL FROM pa_recovery_code"
             " WHERE id = %lld", (long long)a);
    CU_ASSERT_EQUAL(q_int(sql, NULL), 1);
    snprintf(sql, sizeof sql,
             "SELECT timestamp_last_change IS NULL FROM pa_recovery_code"
             " WHERE id = %lld", (long long)c);
    CU_ASSERT_EQUAL(q_int(sql, NULL), 1);
    /* already revoked: false, nothing written */
    {
        char *snap = snapshot();

        CU_ASSERT_EQUAL(pa_recovery_revoke(&env, ids, 3, &revoked), PA_OK);
        CU_ASSERT_EQUAL(revoked, 0);
        EXPECT_UNCHANGED(snap);
    }
}

/* ---- codes bound to an activation (12.2), in units of our own ------------------------------ */

typedef struct bound_unit {
    const char *activation_id;
    int what;                     /* 0 issue, 1 activate, 2 revoke */
    json_t *rec;
} bound_unit;

static pa_err bound_tx(const pa_act_env *e, void *arg, int *keep, int *queued)
{
    bound_unit *u = arg;
    pa_store_activation a;
    pa_err r;

    (void)keep;
    (void)queued;
    if (u->what == 1)
        return pa_recovery_activate_bound(e->store, u->activation_id, pa_time_now_ms());
    if (u->what == 2)
        return pa_recovery_revoke_bound(e->store, u->activation_id, pa_time_now_ms());
    if ((r = pa_act_load(e->store, "test", u->activation_id, &a)) != PA_OK)
        return r;
    r = pa_recovery_issue_bound(e, &a, &u->rec);
    pa_store_activation_free(&a);
    return r;
}

static pa_err bound(const char *act, int what, json_t **rec)
{
    bound_unit u = {act, what, NULL};
    pa_err e = pa_act_write(&env, "test", bound_tx, &u);

    if (rec)
        *rec = u.rec;
    else
        json_decref(u.rec);
    return e;
}

static void test_bound(void)
{
    char act[PA_UUID_BUF], act2[PA_UUID_BUF], created_id[PA_UUID_BUF];
    pa_device *d = pending("alice", &app, "3.1", act);
    pa_device *d2 = NULL;
    pa_act_init_req ir = {.user_id = "alice", .application_id = app.id,
                          .otp_mode = PA_OTP_NONE};
    pa_act_init_res init;
    json_t *rec = NULL;
    const char *code, *puk;
    char *hash, sql[400];
    int match = 0;
    long long id;

    /* made before recovery is on, so that the key exchange issues nothing */
    d2 = active("dave", &app, act2);
    set_config(&app, 1, 0, 0, NULL);
    /* a CREATED activation: ERR0008 */
    CU_ASSERT_EQUAL_FATAL(pa_activation_init(&env, &ir, &init), PA_OK);
    memcpy(created_id, init.activation_id, PA_UUID_BUF);
    pa_act_init_res_free(&init);
    EXPECT_FAULT(bound(created_id, 0, NULL), PA_ERR_ACTIVATION_INCORRECT_STATE);
    /* ERR0026: no attempts */
    cfg.generate_recovery_code_iterations = 0;
    EXPECT_FAULT(bound(act, 0, NULL), PA_ERR_UNABLE_TO_GENERATE_RECOVERY_CODE);
    cfg.generate_recovery_code_iterations = 10;
    /* PENDING_COMMIT: a CREATED code with PUK 1 */
    CU_ASSERT_EQUAL_FATAL(bound(act, 0, &rec), PA_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rec);
    CU_ASSERT_EQUAL(json_object_size(rec), 2);
    code = json_string_value(json_object_get(rec, "recoveryCode"));
    puk = json_string_value(json_object_get(rec, "puk"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(code);
    CU_ASSERT_PTR_NOT_NULL_FATAL(puk);
    remember_secret(code);
    remember_secret(puk);
    CU_ASSERT_TRUE(pa_code_validate(code));
    CU_ASSERT_EQUAL(strlen(puk), 10);
    CU_ASSERT_EQUAL(strspn(puk, "0123456789"), 10);
    snprintf(sql, sizeof sql,
             "SELECT id FROM pa_recovery_code WHERE recovery_code = ?1"
             " AND activation_id = '%s' AND user_id = 'alice' AND status = 1"
             " AND failed_attempts = 0 AND max_failed_attempts = 5", act);
    id = q_int(sql, code);
    CU_ASSERT_TRUE_FATAL(id > 0);
    snprintf(sql, sizeof sql,
             "SELECT puk FROM pa_recovery_puk WHERE recovery_code_id = %lld"
             " AND puk_index = 1 AND status = 1 AND puk_encryption = 0", id);
    hash = q_text(sql, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(hash);
    CU_ASSERT_EQUAL(pa_password_verify((const uint8_t *)puk, 10, hash, &match), PA_OK);
    CU_ASSERT_EQUAL(match, 1);
    free(hash);
    json_decref(rec);
    /* a live code already: ERR0025 */
    EXPECT_FAULT(bound(act, 0, NULL), PA_ERR_RECOVERY_CODE_ALREADY_EXISTS);
    /* commit: CREATED -> ACTIVE */
    CU_ASSERT_EQUAL(bound(act, 1, NULL), PA_OK);
    CU_ASSERT_EQUAL(code_status_of(id), PA_RC_ACTIVE);
    EXPECT_FAULT(bound(act, 0, NULL), PA_ERR_RECOVERY_CODE_ALREADY_EXISTS);
    /* activating again changes nothing */
    {
        char *snap = snapshot();

        CU_ASSERT_EQUAL(bound(act, 1, NULL), PA_OK);
        EXPECT_UNCHANGED(snap);
    }
    /* revoke: REVOKED, PUK INVALID */
    CU_ASSERT_EQUAL(bound(act, 2, NULL), PA_OK);
    CU_ASSERT_EQUAL(code_status_of(id), PA_RC_REVOKED);
    CU_ASSERT_EQUAL(puk_status_of(id, 1), PA_PUK_INVALID);
    {
        char *snap = snapshot();

        CU_ASSERT_EQUAL(bound(act, 2, NULL), PA_OK);
        CU_ASSERT_EQUAL(bound(act, 1, NULL), PA_OK);
        EXPECT_UNCHANGED(snap);
    }
    /* an ACTIVE activation gets an ACTIVE code, encrypted with the key */
    cfg.master_db_encryption_key_set = true;
    memset(cfg.master_db_encryption_key, 0x5a, sizeof cfg.master_db_encryption_key);
    CU_ASSERT_EQUAL_FATAL(bound(act2, 0, &rec), PA_OK);
    code = json_string_value(json_object_get(rec, "recoveryCode"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(code);
    remember_secret(code);
    remember_secret(json_string_value(json_object_get(rec, "puk")));
    snprintf(sql, sizeof sql,
             "SELECT status FROM pa_recovery_code WHERE recovery_code = ?1"
             " AND activation_id = '%s'", act2);
    CU_ASSERT_EQUAL(q_int(sql, code), PA_RC_ACTIVE);
    CU_ASSERT_EQUAL(q_int("SELECT count(*) FROM pa_recovery_puk WHERE puk_encryption = 1",
                          NULL), 1);
    json_decref(rec);
    /* unknown activation: no codes, nothing to do */
    CU_ASSERT_EQUAL(bound("00000000-0000-4000-8000-000000000000", 2, NULL), PA_OK);
    pa_device_free(d);
    pa_device_free(d2);
}

/* ---- main ----------------------------------------------------------------------------- */

typedef struct test_def {
    const char *name;
    CU_TestFunc fn;
} test_def;

int main(void)
{
    static const test_def tests[] = {
        {"GetRecoveryConfig creates the row lazily", test_config_lazy},
        {"UpdateRecoveryConfig", test_config_update},
        {"postcard: the printing centre re-derives", test_postcard},
        {"postcard: record-encrypted PUKs", test_postcard_encrypted},
        {"postcard: faults", test_postcard_faults},
        {"ConfirmRecoveryCode", test_confirm},
        {"LookupRecoveryCodes", test_lookup},
        {"RevokeRecoveryCodes", test_revoke},
        {"bound codes: issue, activate, revoke", test_bound},
    };
    CU_pSuite s;
    unsigned failed;
    size_t i;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite_with_setup_and_teardown("recovery", NULL, NULL, setup,
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
