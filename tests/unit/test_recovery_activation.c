/*
 * test_recovery_activation.c - recovery codes issued by the key exchange
 * and RecoveryCodeActivation (CRYPTO.md 6.3, 6.4, 12.2, 12.5, 12.6;
 * DATABASE.md 5.1, 5.5, 5.8), the service called directly and the handler
 * for the fault detail, on a fresh migrated SQLite file per test.
 *
 * The device emulator libpadevice plays the phone: it reads the layer-2
 * answer, so a recovery code and PUK it receives were encrypted right.
 * After each call the rows are read back (store API and raw SQL); a fault
 * is checked against a snapshot of the activation and recovery tables, so
 * it either changed nothing or exactly the counters it must keep.
 *
 * Argon2 costs ~100 ms per hash or verification (ten times that under
 * valgrind): the program does about forty, most of them in the 16-thread
 * test.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "cunit_status.h"
#include <CUnit/CUnit.h>
#include <sqlite3.h>

#include "crypto/password.h"
#include "crypto/primitives.h"
#include "crypto/recordenc.h"
#include "service/activation.h"
#include "service/activation_recovery.h"
#include "service/application.h"
#include "soap/pasoap.h"
#include "store/store.h"
#include "tests/unit/tempdb.h"
#include "tools/padevice/device.h"
#include "util/base64.h"
#include "util/config.h"
#include "util/err.h"
#include "util/timeutil.h"

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
static app_info app;             /* "bank": recovery enabled, one callback */
static app_info plain_app;       /* "plain": no recovery configuration */

static void make_app(const char *name, int callback, app_info *out)
{
    pa_app_detail d;
    char id[PA_UUID_BUF];

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
    if (callback
        && (pa_uuid_v4(id) != PA_OK
            || pa_store_callback_create(db, id, out->id, "cb",
                                        "http://127.0.0.1:9/callback") != PA_OK))
        abort();
}

static void enable_recovery(int64_t app_id, int enabled)
{
    pa_store_recovery_config c = {0};

    c.application_id = app_id;
    c.activation_recovery_enabled = enabled;
    CU_ASSERT_EQUAL_FATAL(pa_store_recovery_config_put(db, &c), PA_OK);
}

static void setup(void)
{
    pa_tempdb_make("pa-reca", dir, sizeof dir, path, sizeof path);
    if (pa_store_migrate(path, NULL) != PA_OK
        || pa_store_open(path, NULL, &db) != PA_OK
        || pa_config_defaults(&cfg) != PA_OK) {
        fprintf(stderr, "setup: %s\n", pa_store_last_error());
        abort();
    }
    env.store = db;
    env.cfg = &cfg;
    make_app("bank", 1, &app);
    make_app("plain", 0, &plain_app);
    enable_recovery(app.id, 1);
}

static void teardown(void)
{
    pa_config_free(&cfg);
    pa_store_close(db);
    db = NULL;
    pa_tempdb_remove(dir, path);
}

/* ---- raw SQL ---------------------------------------------------------------------- */

/* First column of the first row as an integer (one optional text
 * parameter); -1 when there is no row. */
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
            v = sqlite3_column_int64(st, 0);
    } else {
        fprintf(stderr, "\nraw SQL failed: %s\n", sql);
    }
    sqlite3_finalize(st);
    sqlite3_close(c);
    return v;
}

static int row_status(const char *id)
{
    return (int)q_int("SELECT activation_status FROM pa_activation"
                      " WHERE activation_id = ?1", id);
}

/* The history statuses of an activation, oldest first, as "1,2,5". */
static void history_of(const char *id, char *out, size_t cap)
{
    sqlite3 *c = NULL;
    sqlite3_stmt *st = NULL;
    size_t n = 0;

    out[0] = '\0';
    if (sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(c, "SELECT activation_status, event_reason IS NULL,"
                                 " external_user_id IS NULL FROM"
                                 " pa_activation_history WHERE activation_id"
                                 " = ?1 ORDER BY id", -1, &st, NULL) != SQLITE_OK)
        abort();
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    while (sqlite3_step(st) == SQLITE_ROW && n + 8 < cap)
        n += (size_t)snprintf(out + n, cap - n, "%s%d%s", n ? "," : "",
                              sqlite3_column_int(st, 0),
                              sqlite3_column_int(st, 1) && sqlite3_column_int(st, 2)
                                  ? "" : "*");
    sqlite3_finalize(st);
    sqlite3_close(c);
}

#define CHECK_HISTORY(id, want)                                                \
    do {                                                                       \
        char h_[128];                                                          \
        history_of((id), h_, sizeof h_);                                       \
        if (strcmp(h_, (want)) != 0)                                           \
            fprintf(stderr, "\n  line %d: history %s, expected %s", __LINE__,  \
                    h_, (want));                                               \
        CU_ASSERT_STRING_EQUAL(h_, (want));                                    \
    } while (0)

/* Every row of the activation and recovery tables as text. */
static char *snapshot(void)
{
    static const char *const sql[] = {
        "SELECT * FROM pa_activation ORDER BY activation_id",
        "SELECT * FROM pa_activation_history ORDER BY id",
        "SELECT * FROM pa_callback_outbox ORDER BY id",
        "SELECT * FROM pa_recovery_code ORDER BY id",
        "SELECT * FROM pa_recovery_puk ORDER BY id"};
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

/* ---- recovery rows ----------------------------------------------------------------- */

/* The codes bound to an activation (exactly one expected). */
static int bound_code(const char *activation_id, pa_store_recovery_code *c)
{
    pa_store_recovery_code_array arr = {0};
    int ok;

    memset(c, 0, sizeof *c);
    CU_ASSERT_EQUAL(pa_store_recovery_codes_of_activation(db, activation_id,
                                                          &arr), PA_OK);
    ok = arr.count == 1;
    CU_ASSERT_EQUAL(arr.count, 1);
    if (ok) {
        *c = arr.items[0];
        memset(&arr.items[0], 0, sizeof arr.items[0]);
    }
    pa_store_recovery_code_array_free(&arr);
    return ok;
}

static int code_status(int64_t id)
{
    char sql[96];

    snprintf(sql, sizeof sql, "SELECT status FROM pa_recovery_code WHERE id = %lld",
             (long long)id);
    return (int)q_int(sql, NULL);
}

static long long code_failed(int64_t id)
{
    char sql[112];

    snprintf(sql, sizeof sql,
             "SELECT failed_attempts FROM pa_recovery_code WHERE id = %lld",
             (long long)id);
    return q_int(sql, NULL);
}

static int puk_status(int64_t code_id, int index)
{
    char sql[160];

    snprintf(sql, sizeof sql, "SELECT status FROM pa_recovery_puk WHERE"
             " recovery_code_id = %lld AND puk_index = %d", (long long)code_id,
             index);
    return (int)q_int(sql, NULL);
}

/* The stored PUK column verifies puk (record decryption when mode 1). */
static int puk_hash_verifies(const pa_store_recovery_code *c, const char *puk)
{
    const pa_store_recovery_puk *p = c->puk_count ? &c->puks[0] : NULL;
    char *hash = NULL;
    int match = 0;

    if (!p || pa_record_read_puk(p->puk_encryption,
                                 cfg.master_db_encryption_key_set
                                     ? cfg.master_db_encryption_key : NULL,
                                 cfg.master_db_encryption_key_set
                                     ? sizeof cfg.master_db_encryption_key : 0,
                                 c->application_id, c->user_id,
                                 c->recovery_code, p->puk_index, p->puk,
                                 &hash) != PA_OK)
        return 0;
    if (strncmp(hash, "$argon2i$v=19$m=32768,t=3,p=16$", 31) != 0
        || pa_password_verify((const uint8_t *)puk, strlen(puk), hash,
                              &match) != PA_OK)
        match = 0;
    free(hash);
    return match;
}

/* A postcard code (activation_id NULL) inserted through the store: status
 * ACTIVE, `npuks` PUKs: the first hashed from `puk`, the others from
 * `others` (NULL: also `puk`, sharing one Argon2 hash). */
static int64_t postcard(const char *user, const char *code, const char *puk,
                        const char *others, int npuks, int64_t max_failed)
{
    pa_store_recovery_code c = {0};
    pa_store_recovery_puk p[4];
    char *hash = NULL, *hash2 = NULL;
    int64_t id = 0;
    int i;

    CU_ASSERT_FATAL(npuks >= 1 && npuks <= 4);
    CU_ASSERT_EQUAL_FATAL(pa_password_hash((const uint8_t *)puk, strlen(puk),
                                           &hash), PA_OK);
    if (others)
        CU_ASSERT_EQUAL_FATAL(pa_password_hash((const uint8_t *)others,
                                               strlen(others), &hash2), PA_OK);
    memset(p, 0, sizeof p);
    for (i = 0; i < npuks; i++) {
        p[i].puk = i > 0 && hash2 ? hash2 : hash;
        p[i].puk_index = i + 1;
        p[i].status = PA_PUK_VALID;
    }
    c.recovery_code = (char *)code;
    c.application_id = app.id;
    c.user_id = (char *)user;
    c.status = PA_RC_ACTIVE;
    c.max_failed_attempts = max_failed;
    c.created_ms = pa_time_now_ms();
    c.puks = p;
    c.puk_count = (size_t)npuks;
    CU_ASSERT_EQUAL_FATAL(pa_store_recovery_code_insert(db, &c, &id), PA_OK);
    free(hash);
    free(hash2);
    return id;
}

/* ---- the device and the wire ---------------------------------------------------- */

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

static pa_device *new_device(const app_info *a)
{
    pa_device *d = NULL;

    CU_ASSERT_EQUAL_FATAL(pa_device_new("3.1", a->key, a->secret, a->master_pub,
                                        &d), PA_OK);
    return d;
}

static int device_request(pa_device *d, const pa_device_activation_opts *o,
                          wire *w)
{
    pa_device_activation_opts none = {0};

    memset(w, 0, sizeof *w);
    return pa_device_activation_request(d, o ? o : &none, &w->cg) == PA_OK
           && wire_encode(w);
}

/* The phone reads a key-exchange answer. */
static pa_err device_read(pa_device *d, const pa_act_keyx_res *res)
{
    uint8_t *ct = NULL, mac[32];
    size_t n = 0;
    pa_err e = PA_ERR_INVALID_INPUT_FORMAT;

    if (res->encrypted_data && res->mac
        && pa_b64_decode_alloc(res->encrypted_data, &ct, &n) == PA_OK
        && pa_b64_decode_exact(res->mac, mac, 32) == PA_OK)
        e = pa_device_activation_response(d, ct, n, mac, sizeof mac);
    free(ct);
    return e;
}

/* InitActivation + PrepareActivation with a fresh device (opts: layer-2
 * properties, e.g. the OTP); the device has read the answer. */
static pa_device *prepared(const char *user, const app_info *a, int otp_mode,
                           const char *otp, const pa_device_activation_opts *o,
                           char id[PA_UUID_BUF], int *status)
{
    pa_act_init_req ir = {.user_id = user, .application_id = a->id,
                          .otp_mode = otp_mode, .otp = otp};
    pa_act_init_res init;
    pa_act_keyx_res kr;
    pa_device *d = new_device(a);
    wire w;

    CU_ASSERT_EQUAL_FATAL(pa_activation_init(&env, &ir, &init), PA_OK);
    CU_ASSERT_FATAL(device_request(d, o, &w));
    {
        pa_act_prepare_req r = {init.activation_code, a->key, wire_view(&w)};

        CU_ASSERT_EQUAL_FATAL(pa_activation_prepare(&env, &r, &kr), PA_OK);
    }
    CU_ASSERT_EQUAL_FATAL(device_read(d, &kr), PA_OK);
    memcpy(id, kr.activation_id, PA_UUID_BUF);
    if (status)
        *status = kr.status;
    pa_act_keyx_res_free(&kr);
    pa_act_init_res_free(&init);
    wire_free(&w);
    return d;
}

/* Prepared and committed: ACTIVE, its recovery code ACTIVE. */
static pa_device *active(const char *user, char id[PA_UUID_BUF])
{
    pa_device *d = prepared(user, &app, PA_OTP_NONE, NULL, NULL, id, NULL);

    CU_ASSERT_EQUAL_FATAL(pa_activation_commit(&env, id, NULL, NULL), PA_OK);
    return d;
}

/* RecoveryCodeActivation through the service with a fresh device request. */
static pa_err recover(pa_device *d, const char *code, const char *puk,
                      const char *otp, pa_act_keyx_res *res, int64_t *index)
{
    wire w;
    pa_act_recovery_req r = {.recovery_code = code, .puk = puk,
                             .application_key = app.key, .otp = otp};
    pa_err e;

    CU_ASSERT_FATAL(device_request(d, NULL, &w));
    r.c = wire_view(&w);
    e = pa_activation_recovery(&env, &r, res, index);
    wire_free(&w);
    return e;
}

/* ---- the SOAP handler ------------------------------------------------------------ */

typedef struct hsoap {
    struct soap *soap;
    pa_ctx ctx;
} hsoap;

/* RecoveryCodeActivation through the handler: its return code and the
 * fault detail (copied, or "" when none) in detail. */
static int handler_call(pa_device *d, const char *code, const char *puk,
                        char *detail, size_t cap)
{
    struct _pa3__RecoveryCodeActivationRequest rq;
    struct _pa3__RecoveryCodeActivationResponse rs;
    const char **det;
    hsoap h;
    wire w;
    int rc;

    memset(&h, 0, sizeof h);
    memset(&rq, 0, sizeof rq);
    memset(&rs, 0, sizeof rs);
    h.soap = soap_new1(SOAP_C_UTFSTRING);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h.soap);
    h.ctx.cfg = &cfg;
    h.ctx.store = db;
    h.soap->user = &h.ctx;
    CU_ASSERT_FATAL(device_request(d, NULL, &w));
    rq.recoveryCode = (char *)code;
    rq.puk = (char *)puk;
    rq.applicationKey = app.key;
    rq.ephemeralPublicKey = w.eph;
    rq.encryptedData = w.data;
    rq.mac = w.mac;
    rq.nonce = w.nonce;
    rc = __pa3__RecoveryCodeActivation(h.soap, &rq, &rs);
    det = soap_faultdetail(h.soap);
    snprintf(detail, cap, "%s", rc == SOAP_FAULT && det && *det ? *det : "");
    if (rc == SOAP_OK) {
        pa_act_keyx_res kr = {0};

        CU_ASSERT_PTR_NOT_NULL(rs.activationId);
        CU_ASSERT_PTR_NOT_NULL(rs.userId);
        kr.encrypted_data = rs.encryptedData;
        kr.mac = rs.mac;
        CU_ASSERT_EQUAL(device_read(d, &kr), PA_OK);
    }
    wire_free(&w);
    soap_destroy(h.soap);
    soap_end(h.soap);
    soap_free(h.soap);
    return rc;
}

/* ---- tests: the key exchange ------------------------------------------------------ */

/* Prepare issues a bound code (CREATED) the device receives; commit makes
 * it ACTIVE; without a recovery configuration nothing is issued.
 * Argon2: 1 hash (issue) + 1 verify (check). */
static void test_prepare_issues(void)
{
    char id[PA_UUID_BUF], id2[PA_UUID_BUF];
    pa_store_recovery_code c;
    pa_device *d = prepared("alice", &app, PA_OTP_NONE, NULL, NULL, id, NULL);
    pa_device *d2;

    CU_ASSERT_PTR_NOT_NULL_FATAL(d->recovery_code);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d->puk);
    CU_ASSERT_EQUAL(strlen(d->recovery_code), 23);
    CU_ASSERT_EQUAL(strlen(d->puk), 10);
    CU_ASSERT_FATAL(bound_code(id, &c));
    CU_ASSERT_STRING_EQUAL(c.recovery_code, d->recovery_code);
    CU_ASSERT_STRING_EQUAL(c.user_id, "alice");
    CU_ASSERT_EQUAL(c.application_id, app.id);
    CU_ASSERT_EQUAL(c.status, PA_RC_CREATED);
    CU_ASSERT_EQUAL(c.failed_attempts, 0);
    CU_ASSERT_EQUAL(c.max_failed_attempts, cfg.recovery_max_failed_attempts);
    CU_ASSERT_EQUAL_FATAL(c.puk_count, 1);
    CU_ASSERT_EQUAL(c.puks[0].puk_index, 1);
    CU_ASSERT_EQUAL(c.puks[0].status, PA_PUK_VALID);
    CU_ASSERT_EQUAL(c.puks[0].puk_encryption, 0);
    CU_ASSERT_TRUE(puk_hash_verifies(&c, d->puk));
    CU_ASSERT_EQUAL(pa_activation_commit(&env, id, NULL, NULL), PA_OK);
    CU_ASSERT_EQUAL(code_status(c.id), PA_RC_ACTIVE);
    CU_ASSERT_EQUAL(puk_status(c.id, 1), PA_PUK_VALID);
    pa_store_recovery_code_free(&c);

    /* no configuration row: activationRecovery null, no code */
    d2 = prepared("alice", &plain_app, PA_OTP_NONE, NULL, NULL, id2, NULL);
    CU_ASSERT_PTR_NULL(d2->recovery_code);
    CU_ASSERT_EQUAL(q_int("SELECT count(*) FROM pa_recovery_code WHERE"
                          " activation_id = ?1", id2), 0);
    /* configuration row with recovery off: the same */
    enable_recovery(plain_app.id, 0);
    pa_device_free(d2);
    d2 = prepared("alice", &plain_app, PA_OTP_NONE, NULL, NULL, id2, NULL);
    CU_ASSERT_PTR_NULL(d2->recovery_code);
    CU_ASSERT_EQUAL(q_int("SELECT count(*) FROM pa_recovery_code", NULL), 1);
    pa_device_free(d2);
    pa_device_free(d);
}

/* Prepare with the OTP at key exchange: ACTIVE at once, so is the code.
 * Argon2: OTP hash + verify, PUK hash. */
static void test_prepare_active(void)
{
    pa_device_activation_opts o = {.otp = "4711"};
    char id[PA_UUID_BUF];
    pa_store_recovery_code c;
    int status = 0;
    pa_device *d = prepared("bob", &app, PA_OTP_ON_KEY_EXCHANGE, "4711", &o, id,
                            &status);

    CU_ASSERT_EQUAL(status, PA_STATUS_ACTIVE);
    CU_ASSERT_PTR_NOT_NULL(d->recovery_code);
    CU_ASSERT_FATAL(bound_code(id, &c));
    CU_ASSERT_EQUAL(c.status, PA_RC_ACTIVE);
    pa_store_recovery_code_free(&c);
    pa_device_free(d);
}

/* CreateActivation issues a CREATED code, with record encryption of the
 * PUK column when the master DB key is set.  Argon2: 1 hash + 1 verify. */
static void test_create_issues(void)
{
    pa_act_create_req r = {.user_id = "carol", .application_key = app.key};
    pa_store_recovery_code c;
    pa_act_keyx_res kr;
    pa_device *d = new_device(&app);
    wire w;

    memset(cfg.master_db_encryption_key, 0x5a, sizeof cfg.master_db_encryption_key);
    cfg.master_db_encryption_key_set = true;
    CU_ASSERT_FATAL(device_request(d, NULL, &w));
    r.c = wire_view(&w);
    CU_ASSERT_EQUAL_FATAL(pa_activation_create(&env, &r, &kr), PA_OK);
    CU_ASSERT_EQUAL(device_read(d, &kr), PA_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d->recovery_code);
    CU_ASSERT_FATAL(bound_code(kr.activation_id, &c));
    CU_ASSERT_STRING_EQUAL(c.recovery_code, d->recovery_code);
    CU_ASSERT_EQUAL(c.status, PA_RC_CREATED);
    CU_ASSERT_EQUAL(c.puks[0].puk_encryption, 1);
    CU_ASSERT_TRUE(puk_hash_verifies(&c, d->puk));
    CU_ASSERT_EQUAL(pa_activation_commit(&env, kr.activation_id, NULL, NULL),
                    PA_OK);
    CU_ASSERT_EQUAL(code_status(c.id), PA_RC_ACTIVE);
    pa_store_recovery_code_free(&c);
    pa_act_keyx_res_free(&kr);
    wire_free(&w);
    pa_device_free(d);
}

/* RemoveActivation: revokeRecoveryCodes=false leaves the code, true
 * revokes it and invalidates its PUK.  Argon2: 2 hashes. */
static void test_remove_revoke(void)
{
    char id1[PA_UUID_BUF], id2[PA_UUID_BUF];
    pa_store_recovery_code c1, c2;
    pa_device *d1 = active("dave", id1);
    pa_device *d2 = active("dave", id2);

    CU_ASSERT_FATAL(bound_code(id1, &c1));
    CU_ASSERT_FATAL(bound_code(id2, &c2));
    CU_ASSERT_EQUAL(pa_activation_remove(&env, id1, "ops", 0), PA_OK);
    CU_ASSERT_EQUAL(row_status(id1), PA_STATUS_REMOVED);
    CU_ASSERT_EQUAL(code_status(c1.id), PA_RC_ACTIVE);
    CU_ASSERT_EQUAL(puk_status(c1.id, 1), PA_PUK_VALID);
    CU_ASSERT_EQUAL(pa_activation_remove(&env, id2, "ops", 1), PA_OK);
    CU_ASSERT_EQUAL(row_status(id2), PA_STATUS_REMOVED);
    CU_ASSERT_EQUAL(code_status(c2.id), PA_RC_REVOKED);
    CU_ASSERT_EQUAL(puk_status(c2.id, 1), PA_PUK_INVALID);
    /* again on a REMOVED activation: still fine, nothing more to revoke */
    CU_ASSERT_EQUAL(pa_activation_remove(&env, id2, NULL, 1), PA_OK);
    CU_ASSERT_EQUAL(code_status(c2.id), PA_RC_REVOKED);
    pa_store_recovery_code_free(&c1);
    pa_store_recovery_code_free(&c2);
    pa_device_free(d1);
    pa_device_free(d2);
}

/* ---- tests: RecoveryCodeActivation --------------------------------------------------- */

/* A bound code: a wrong PUK (ERR0028 with the index in the fault detail,
 * the count kept), then the right one: new activation with a new code, the
 * old activation REMOVED with history, its code REVOKED and the PUK USED.
 * Argon2: 1 + 1 (active) + 1 (wrong) + 2 (right) + 1 (check). */
static void test_bound_flow(void)
{
    char id[PA_UUID_BUF], newid[PA_UUID_BUF], detail[512], *snap;
    char *code, *puk;
    pa_store_recovery_code c, nc;
    pa_store_activation a;
    pa_device *d = active("erin", id);
    pa_device *phone = new_device(&app);
    int found = 0;
    long long outbox, last_change;

    CU_ASSERT_FATAL(bound_code(id, &c));
    code = strdup(d->recovery_code);
    puk = strdup(d->puk);
    CU_ASSERT_FATAL(code && puk);

    /* wrong PUK through the handler */
    last_change = q_int("SELECT timestamp_last_change FROM pa_recovery_code"
                        " WHERE recovery_code = ?1", code);
    snap = snapshot();
    CU_ASSERT_EQUAL(handler_call(phone, code, "0000000000", detail,
                                 sizeof detail), SOAP_FAULT);
    CU_ASSERT_PTR_NOT_NULL(strstr(detail, "<errorCode>ERR0028</errorCode>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(detail, "</localizedMessage>"
                                  "<currentRecoveryPukIndex>1"
                                  "</currentRecoveryPukIndex>"));
    CU_ASSERT_EQUAL(code_failed(c.id), 1);
    CU_ASSERT_EQUAL(code_status(c.id), PA_RC_ACTIVE);
    CU_ASSERT_EQUAL(puk_status(c.id, 1), PA_PUK_VALID);
    CU_ASSERT_EQUAL(q_int("SELECT timestamp_last_change IS NOT NULL FROM"
                          " pa_recovery_code WHERE recovery_code = ?1", code), 1);
    /* nothing else changed: put the counter back and compare */
    {
        sqlite3 *w = NULL;
        char sql[160];

        snprintf(sql, sizeof sql, "UPDATE pa_recovery_code SET"
                 " failed_attempts = 0, timestamp_last_change = %lld",
                 last_change);
        CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &w), SQLITE_OK);
        CU_ASSERT_EQUAL(sqlite3_exec(w, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(w);
        EXPECT_UNCHANGED(snap);
    }

    /* the right PUK through the handler */
    outbox = q_int("SELECT count(*) FROM pa_callback_outbox", NULL);
    CU_ASSERT_EQUAL(handler_call(phone, code, puk, detail, sizeof detail),
                    SOAP_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(phone->activation_id);
    memcpy(newid, phone->activation_id, PA_UUID_BUF);
    CU_ASSERT_PTR_NOT_NULL_FATAL(phone->recovery_code);
    CU_ASSERT_STRING_NOT_EQUAL(phone->recovery_code, code);
    /* the old activation: REMOVED, history row without reason or user */
    CU_ASSERT_EQUAL(row_status(id), PA_STATUS_REMOVED);
    CHECK_HISTORY(id, "1,2,3,5");
    /* its code REVOKED, the PUK USED (not INVALID), failures reset */
    CU_ASSERT_EQUAL(code_status(c.id), PA_RC_REVOKED);
    CU_ASSERT_EQUAL(puk_status(c.id, 1), PA_PUK_USED);
    CU_ASSERT_EQUAL(code_failed(c.id), 0);
    /* the new activation: erin's, PENDING_COMMIT, version 3, history */
    memset(&a, 0, sizeof a);
    CU_ASSERT_EQUAL(pa_store_activation_get(db, newid, &a, &found), PA_OK);
    CU_ASSERT_FATAL(found);
    CU_ASSERT_STRING_EQUAL(a.user_id, "erin");
    CU_ASSERT_EQUAL(a.application_id, app.id);
    CU_ASSERT_EQUAL(a.status, PA_STATUS_PENDING_COMMIT);
    CU_ASSERT_EQUAL(a.version, 3);
    CU_ASSERT_EQUAL(a.otp_validation, PA_OTP_NONE);
    CU_ASSERT_EQUAL(a.max_failed_attempts, cfg.signature_max_failed_attempts);
    CU_ASSERT_TRUE(a.expire_ms > pa_time_now_ms());
    pa_store_activation_free(&a);
    CHECK_HISTORY(newid, "1,2");
    /* callbacks: old REMOVED, new CREATED and PENDING_COMMIT */
    CU_ASSERT_EQUAL(q_int("SELECT count(*) FROM pa_callback_outbox", NULL),
                    outbox + 3);
    /* the new code: CREATED, bound, its PUK the one the phone got */
    CU_ASSERT_FATAL(bound_code(newid, &nc));
    CU_ASSERT_STRING_EQUAL(nc.recovery_code, phone->recovery_code);
    CU_ASSERT_EQUAL(nc.status, PA_RC_CREATED);
    CU_ASSERT_TRUE(puk_hash_verifies(&nc, phone->puk));
    CU_ASSERT_EQUAL(pa_activation_commit(&env, newid, NULL, NULL), PA_OK);
    CU_ASSERT_EQUAL(code_status(nc.id), PA_RC_ACTIVE);

    /* the used code again: REVOKED -> ERR0024, nothing written */
    {
        pa_act_keyx_res kr;
        int64_t idx = 7;

        snap = snapshot();
        CU_ASSERT_EQUAL(recover(phone, code, puk, NULL, &kr, &idx),
                        PA_ERR_INVALID_REQUEST);
        CU_ASSERT_EQUAL(idx, 0);
        EXPECT_UNCHANGED(snap);
    }
    pa_store_recovery_code_free(&nc);
    pa_store_recovery_code_free(&c);
    free(code);
    free(puk);
    pa_device_free(phone);
    pa_device_free(d);
}

/* A postcard code with two PUKs: wrong PUK (index 1), right PUK with an
 * activation OTP (new activation ON_COMMIT; the code stays ACTIVE, PUK 1
 * USED, PUK 2 VALID), the used PUK again counts as wrong (index 2).
 * Argon2: 2 (insert) + 1 + 3 (verify, OTP, new code) + 1. */
static void test_postcard(void)
{
    static const char code[] = "AAAAA-AAAAA-AAAAA-AAAAA";
    pa_device *phone = new_device(&app);
    pa_act_keyx_res kr;
    pa_store_activation a;
    int64_t id, idx = 0;
    long long last_change;
    int found = 0;

    id = postcard("frank", code, "1234567890", "9876543210", 2, 5);
    CU_ASSERT_EQUAL(recover(phone, code, "1234567891", NULL, &kr, &idx),
                    PA_ERR_INVALID_RECOVERY_CODE);
    CU_ASSERT_EQUAL(idx, 1);
    CU_ASSERT_EQUAL(code_failed(id), 1);
    last_change = q_int("SELECT timestamp_last_change FROM pa_recovery_code",
                        NULL);

    CU_ASSERT_EQUAL_FATAL(recover(phone, code, "1234567890", "otp-1", &kr, &idx),
                          PA_OK);
    CU_ASSERT_EQUAL(device_read(phone, &kr), PA_OK);
    CU_ASSERT_STRING_EQUAL(kr.user_id, "frank");
    CU_ASSERT_EQUAL(kr.status, PA_STATUS_PENDING_COMMIT);
    CU_ASSERT_EQUAL(code_status(id), PA_RC_ACTIVE);
    CU_ASSERT_EQUAL(code_failed(id), 0);
    CU_ASSERT_EQUAL(q_int("SELECT timestamp_last_change FROM pa_recovery_code"
                          " WHERE activation_id IS NULL", NULL), last_change);
    CU_ASSERT_EQUAL(puk_status(id, 1), PA_PUK_USED);
    CU_ASSERT_EQUAL(puk_status(id, 2), PA_PUK_VALID);
    memset(&a, 0, sizeof a);
    CU_ASSERT_EQUAL(pa_store_activation_get(db, kr.activation_id, &a, &found),
                    PA_OK);
    CU_ASSERT_FATAL(found);
    CU_ASSERT_EQUAL(a.otp_validation, PA_OTP_ON_COMMIT);
    CU_ASSERT_PTR_NOT_NULL(a.activation_otp);
    CU_ASSERT_EQUAL(a.status, PA_STATUS_PENDING_COMMIT);
    CU_ASSERT_PTR_NOT_NULL(phone->recovery_code);
    CU_ASSERT_EQUAL(q_int("SELECT status FROM pa_recovery_code WHERE"
                          " activation_id = ?1", kr.activation_id), PA_RC_CREATED);
    pa_store_activation_free(&a);
    pa_act_keyx_res_free(&kr);

    /* the used PUK again: checked against PUK 2, a mismatch */
    CU_ASSERT_EQUAL(recover(phone, code, "1234567890", NULL, &kr, &idx),
                    PA_ERR_INVALID_RECOVERY_CODE);
    CU_ASSERT_EQUAL(idx, 2);
    CU_ASSERT_EQUAL(code_failed(id), 1);
    pa_device_free(phone);
}

/* max_failed_attempts 2: the second wrong PUK blocks the code (no index,
 * first VALID PUK INVALID); then the code is refused with ERR0024 before
 * any PUK check.  Argon2: 1 (insert) + 2. */
static void test_blocking(void)
{
    static const char code[] = "BBBBB-BBBBB-BBBBB-BBBBB";
    pa_device *phone = new_device(&app);
    char detail[512], *snap;
    int64_t id;

    id = postcard("gina", code, "1111111111", NULL, 2, 2);
    CU_ASSERT_EQUAL(handler_call(phone, code, "2222222222", detail,
                                 sizeof detail), SOAP_FAULT);
    CU_ASSERT_PTR_NOT_NULL(strstr(detail, "<currentRecoveryPukIndex>1<"));
    CU_ASSERT_EQUAL(handler_call(phone, code, "2222222222", detail,
                                 sizeof detail), SOAP_FAULT);
    CU_ASSERT_PTR_NOT_NULL(strstr(detail, "<errorCode>ERR0028</errorCode>"));
    CU_ASSERT_PTR_NULL(strstr(detail, "currentRecoveryPukIndex"));
    CU_ASSERT_EQUAL(code_status(id), PA_RC_BLOCKED);
    CU_ASSERT_EQUAL(code_failed(id), 2);
    CU_ASSERT_EQUAL(puk_status(id, 1), PA_PUK_INVALID);
    CU_ASSERT_EQUAL(puk_status(id, 2), PA_PUK_VALID);
    snap = snapshot();
    CU_ASSERT_EQUAL(handler_call(phone, code, "1111111111", detail,
                                 sizeof detail), SOAP_FAULT);
    CU_ASSERT_PTR_NOT_NULL(strstr(detail, "<errorCode>ERR0024</errorCode>"));
    EXPECT_UNCHANGED(snap);
    CU_ASSERT_EQUAL(q_int("SELECT count(*) FROM pa_activation", NULL), 0);
    pa_device_free(phone);
}

/* Every refusal with its code and the database unchanged.  Argon2:
 * 1 + 1 (active) + 1 (postcard) + 3 verifies. */
static void test_faults(void)
{
    static const char pc[] = "CCCCC-CCCCC-CCCCC-CCCCC";
    char id[PA_UUID_BUF], *snap, *code;
    pa_device *d = active("hank", id);
    pa_device *phone = new_device(&app);
    pa_act_recovery_req r;
    pa_act_keyx_res kr;
    int64_t idx = 9;
    wire w;

    code = strdup(d->recovery_code);
    postcard("hank", pc, "5555555555", NULL, 1, 5);
    CU_ASSERT_FATAL(device_request(phone, NULL, &w));
    snap = snapshot();

    /* missing inputs */
    r = (pa_act_recovery_req){.recovery_code = NULL, .puk = "1",
                              .application_key = app.key, .c = wire_view(&w)};
    CU_ASSERT_EQUAL(pa_activation_recovery(&env, &r, &kr, &idx),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(idx, 0);
    /* unknown application key */
    r = (pa_act_recovery_req){.recovery_code = code, .puk = "1",
                              .application_key = "nope", .c = wire_view(&w)};
    CU_ASSERT_EQUAL(pa_activation_recovery(&env, &r, &kr, &idx),
                    PA_ERR_INVALID_REQUEST);
    /* recovery not enabled for the application */
    enable_recovery(app.id, 0);
    free(snap);
    snap = snapshot();
    r.application_key = app.key;
    CU_ASSERT_EQUAL(pa_activation_recovery(&env, &r, &kr, &idx),
                    PA_ERR_INVALID_REQUEST);
    enable_recovery(app.id, 1);
    /* a cryptogram for another scope / tampered: ERR0018 */
    {
        pa_act_recovery_req t = r;
        char *bad = strdup(w.mac);

        bad[2] = bad[2] == 'A' ? 'B' : 'A';
        t.c.mac = bad;
        CU_ASSERT_EQUAL(pa_activation_recovery(&env, &t, &kr, &idx),
                        PA_ERR_DECRYPTION_FAILED);
        free(bad);
    }
    /* unknown code */
    r.recovery_code = "DDDDD-DDDDD-DDDDD-DDDDD";
    CU_ASSERT_EQUAL(pa_activation_recovery(&env, &r, &kr, &idx),
                    PA_ERR_INVALID_REQUEST);
    /* the code of another application: unknown there */
    {
        pa_act_recovery_req t = r;
        pa_device *other = new_device(&plain_app);
        wire ow;

        enable_recovery(plain_app.id, 1);
        free(snap);
        snap = snapshot();
        CU_ASSERT_FATAL(device_request(other, NULL, &ow));
        t.recovery_code = code;
        t.application_key = plain_app.key;
        t.c = wire_view(&ow);
        CU_ASSERT_EQUAL(pa_activation_recovery(&env, &t, &kr, &idx),
                        PA_ERR_INVALID_REQUEST);
        /* and a cryptogram for another application: ERR0018 */
        t.application_key = app.key;
        CU_ASSERT_EQUAL(pa_activation_recovery(&env, &t, &kr, &idx),
                        PA_ERR_DECRYPTION_FAILED);
        wire_free(&ow);
        pa_device_free(other);
    }
    /* right PUK, invalid device key: ERR0007, nothing consumed */
    {
        wire bw;
        const char *plain = "{\"devicePublicKey\":\"AAAA\"}";
        pa_act_recovery_req t = r;

        memset(&bw, 0, sizeof bw);
        CU_ASSERT_FATAL(pa_device_ecies_request(phone, 0, PA_ECIES_SH1_ACTIVATION,
                                                (const uint8_t *)plain,
                                                strlen(plain), 1, &bw.cg)
                            == PA_OK
                        && wire_encode(&bw));
        t.recovery_code = code;
        t.puk = d->puk;
        t.c = wire_view(&bw);
        CU_ASSERT_EQUAL(pa_activation_recovery(&env, &t, &kr, &idx),
                        PA_ERR_ACTIVATION_EXPIRED);
        CU_ASSERT_EQUAL(idx, 0);
        wire_free(&bw);
    }
    /* right PUK, empty activationOtp: ERR0024, nothing consumed */
    r.recovery_code = code;
    r.puk = d->puk;
    r.otp = "";
    CU_ASSERT_EQUAL(pa_activation_recovery(&env, &r, &kr, &idx),
                    PA_ERR_INVALID_REQUEST);
    /* a corrupt stored hash: ERR0022, nothing counted */
    {
        sqlite3 *wdb = NULL;
        pa_act_recovery_req t = r;

        CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &wdb), SQLITE_OK);
        CU_ASSERT_EQUAL(sqlite3_exec(wdb, "UPDATE pa_recovery_puk SET puk ="
                                          " '$argon2i$broken' WHERE"
                                          " recovery_code_id = (SELECT id FROM"
                                          " pa_recovery_code WHERE recovery_code"
                                          " = 'CCCCC-CCCCC-CCCCC-CCCCC')",
                                     NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(wdb);
        free(snap);
        snap = snapshot();
        t.recovery_code = pc;
        t.puk = "5555555555";
        t.otp = NULL;
        CU_ASSERT_EQUAL(pa_activation_recovery(&env, &t, &kr, &idx),
                        PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR);
    }
    EXPECT_UNCHANGED(snap);
    /* the bound code still works */
    wire_free(&w);
    CU_ASSERT_FATAL(device_request(phone, NULL, &w));
    r.otp = NULL;
    r.c = wire_view(&w);
    CU_ASSERT_EQUAL(pa_activation_recovery(&env, &r, &kr, &idx), PA_OK);
    CU_ASSERT_EQUAL(device_read(phone, &kr), PA_OK);
    pa_act_keyx_res_free(&kr);
    wire_free(&w);
    free(code);
    pa_device_free(phone);
    pa_device_free(d);
}

/* A code in CREATED (bound, not yet committed) does not activate: ERR0024
 * without a PUK check.  Argon2: 1. */
static void test_created_code(void)
{
    char id[PA_UUID_BUF], *snap;
    pa_device *d = prepared("ivan", &app, PA_OTP_NONE, NULL, NULL, id, NULL);
    pa_device *phone = new_device(&app);
    pa_act_keyx_res kr;
    int64_t idx = 0;

    snap = snapshot();
    CU_ASSERT_EQUAL(recover(phone, d->recovery_code, d->puk, NULL, &kr, &idx),
                    PA_ERR_INVALID_REQUEST);
    EXPECT_UNCHANGED(snap);
    pa_device_free(phone);
    pa_device_free(d);
}

/* ---- concurrency ------------------------------------------------------------------------ */

#define NTHREADS 16

typedef struct racer {
    pthread_barrier_t *start;
    const char *code, *puk;
    wire w;
    pa_store *s;
    pa_act_keyx_res res;
    pa_err e;
} racer;

static void *race(void *p)
{
    racer *r = p;
    pa_act_env my = {r->s, &cfg};
    pa_act_recovery_req q = {.recovery_code = r->code, .puk = r->puk,
                             .application_key = app.key, .c = wire_view(&r->w)};
    int64_t idx = 0;

    pthread_barrier_wait(r->start);
    r->e = pa_activation_recovery(&my, &q, &r->res, &idx);
    return NULL;
}

/* 16 calls at once with one bound code and its right PUK: one new
 * activation, the PUK USED once, the others ERR0024.  Argon2: 1 + 16 + 1. */
static void test_concurrent(void)
{
    char id[PA_UUID_BUF];
    pa_device *d = active("judy", id);
    pa_device *phones[NTHREADS];
    pthread_barrier_t start;
    pthread_t th[NTHREADS];
    racer r[NTHREADS];
    pa_store_recovery_code c;
    int i, ok = 0, refused = 0;

    CU_ASSERT_FATAL(bound_code(id, &c));
    pthread_barrier_init(&start, NULL, NTHREADS);
    for (i = 0; i < NTHREADS; i++) {
        phones[i] = new_device(&app);
        memset(&r[i], 0, sizeof r[i]);
        r[i].start = &start;
        r[i].code = d->recovery_code;
        r[i].puk = d->puk;
        CU_ASSERT_FATAL(device_request(phones[i], NULL, &r[i].w));
        CU_ASSERT_EQUAL_FATAL(pa_store_open(path, NULL, &r[i].s), PA_OK);
    }
    for (i = 0; i < NTHREADS; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, race, &r[i]), 0);
    for (i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        pa_store_close(r[i].s);
        if (r[i].e == PA_OK) {
            ok++;
            CU_ASSERT_EQUAL(device_read(phones[i], &r[i].res), PA_OK);
        } else {
            refused += r[i].e == PA_ERR_INVALID_REQUEST;
        }
        pa_act_keyx_res_free(&r[i].res);
        wire_free(&r[i].w);
        pa_device_free(phones[i]);
    }
    pthread_barrier_destroy(&start);
    CU_ASSERT_EQUAL(ok, 1);
    CU_ASSERT_EQUAL(refused, NTHREADS - 1);
    CU_ASSERT_EQUAL(q_int("SELECT count(*) FROM pa_activation WHERE"
                          " user_id = 'judy'", NULL), 2);
    CU_ASSERT_EQUAL(q_int("SELECT count(*) FROM pa_recovery_puk WHERE"
                          " status = 2", NULL), 1);
    CU_ASSERT_EQUAL(puk_status(c.id, 1), PA_PUK_USED);
    CU_ASSERT_EQUAL(code_status(c.id), PA_RC_REVOKED);
    CU_ASSERT_EQUAL(code_failed(c.id), 0);
    CU_ASSERT_EQUAL(row_status(id), PA_STATUS_REMOVED);
    CHECK_HISTORY(id, "1,2,3,5");
    CU_ASSERT_EQUAL(q_int("SELECT count(*) FROM pa_recovery_code", NULL), 2);
    pa_store_recovery_code_free(&c);
    pa_device_free(d);
}

/* ---- main ----------------------------------------------------------------------------- */

typedef struct test_def {
    const char *name;
    CU_TestFunc fn;
} test_def;

int main(void)
{
    static const test_def tests[] = {
        {"Prepare issues a code", test_prepare_issues},
        {"Prepare ACTIVE: code ACTIVE", test_prepare_active},
        {"Create issues a code, encrypted PUK", test_create_issues},
        {"RemoveActivation with revoke", test_remove_revoke},
        {"bound code: wrong PUK, right PUK", test_bound_flow},
        {"postcard code", test_postcard},
        {"blocking", test_blocking},
        {"faults", test_faults},
        {"CREATED code refused", test_created_code},
        {"16 threads, one code", test_concurrent},
    };
    CU_pSuite s;
    unsigned failed;
    size_t i;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite_with_setup_and_teardown("recovery activation", NULL, NULL,
                                             setup, teardown);
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
