/*
 * test_readonly_ops.c - the read-only v3 operations
 * CreatePersonalizedOfflineSignaturePayload,
 * CreateNonPersonalizedOfflineSignaturePayload (CRYPTO.md 9.1),
 * VerifyECDSASignature (8.9) and GetEciesDecryptor (5.9), through their
 * services (src/service/offline.c, ecdsa.c, ecies_decryptor.c) and their
 * thin SOAP handlers, on a fresh migrated SQLite file per test.
 *
 * The other side of every operation is played independently of the server
 * code: the device emulator libpadevice verifies the offline payloads with
 * the key its indicator names (9.2) and produces the ECIES requests and
 * reads the answers; a "third party" holding only secretKey and
 * sharedInfo2 decrypts the device's request and answers it with the
 * crypto layer's context functions, as an intermediate server does; the
 * payload layout, SH2 values and ECDSA verification are recomputed here
 * with OpenSSL directly.
 *
 * None of these operations writes: after every call, success or fault,
 * every table of the database is compared with a snapshot taken before.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "cunit_status.h"
#include <CUnit/CUnit.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <sqlite3.h>

#include "crypto/ecies.h"
#include "crypto/eckey.h"
#include "crypto/offline.h"
#include "crypto/primitives.h"
#include "service/activation.h"
#include "service/application.h"
#include "service/ecdsa.h"
#include "service/ecies_decryptor.h"
#include "service/offline.h"
#include "soap/pasoap.h"
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
    char key[64];
    char secret[64];
    char master_pub[128];
} app_info;

static char dir[PATH_MAX - 64];
static char path[PATH_MAX];
static pa_store *db;
static pa_config cfg;
static pa_act_env env;
static app_info app;             /* "bank", with one callback URL */

static const char unknown_id[] = "3f0d2c1e-1111-4222-8333-944455556666";

static void make_app(const char *name, int callbacks, app_info *out)
{
    pa_app_detail d;
    int i;

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
    for (i = 0; i < callbacks; i++) {
        char id[PA_UUID_BUF];

        if (pa_uuid_v4(id) != PA_OK
            || pa_store_callback_create(db, id, out->id, "cb",
                                        "http://127.0.0.1:9/callback") != PA_OK) {
            fprintf(stderr, "make_app: callback: %s\n", pa_store_last_error());
            abort();
        }
    }
}

static void setup(void)
{
    pa_tempdb_make("pa-ro", dir, sizeof dir, path, sizeof path);
    if (pa_store_migrate(path, NULL) != PA_OK
        || pa_store_open(path, NULL, &db) != PA_OK
        || pa_config_defaults(&cfg) != PA_OK) {
        fprintf(stderr, "setup: %s\n", pa_store_last_error());
        abort();
    }
    env.store = db;
    env.cfg = &cfg;
    make_app("bank", 1, &app);
}

static void teardown(void)
{
    pa_config_free(&cfg);
    pa_store_close(db);
    db = NULL;
    pa_tempdb_remove(dir, path);
}

#define CHECK_ERR(call, want) CU_ASSERT_EQUAL((call), (want))

/* ---- the whole database as text ------------------------------------------------- */

/* Every row of every table (in name order) through a separate read-only
 * connection (malloc'ed). */
static char *snapshot(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    sqlite3 *c = NULL;
    sqlite3_stmt *tables = NULL;

    if (!f || sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(c, "SELECT name FROM sqlite_master WHERE type ="
                              " 'table' AND name NOT LIKE 'sqlite_%' ORDER BY"
                              " name", -1, &tables, NULL) != SQLITE_OK)
        abort();
    while (sqlite3_step(tables) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(tables, 0);
        sqlite3_stmt *st = NULL;
        char sql[160];
        int k;

        snprintf(sql, sizeof sql, "SELECT * FROM \"%s\"", name);
        if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) != SQLITE_OK)
            abort();
        fprintf(f, "== %s\n", name);
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (k = 0; k < sqlite3_column_count(st); k++) {
                const char *v = (const char *)sqlite3_column_text(st, k);

                fprintf(f, "%s|", v ? v : "\\N");
            }
            fputc('\n', f);
        }
        sqlite3_finalize(st);
    }
    sqlite3_finalize(tables);
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

/* One column of the activation row (malloc'ed, NULL when absent). */
static char *row_text(const char *column, const char *id)
{
    sqlite3 *c = NULL;
    sqlite3_stmt *st = NULL;
    char sql[160], *out = NULL;

    snprintf(sql, sizeof sql,
             "SELECT %s FROM pa_activation WHERE activation_id = ?1", column);
    if (sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK
        && sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK
        && sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT) == SQLITE_OK
        && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        out = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(c);
    return out;
}

/* ---- the device ------------------------------------------------------------------ */

static pa_device *new_device(const app_info *a, const char *proto)
{
    pa_device *d = NULL;

    CU_ASSERT_EQUAL(pa_device_new(proto, a->key, a->secret, a->master_pub, &d),
                    PA_OK);
    return d;
}

static char *b64(const uint8_t *b, size_t n)
{
    char *out = NULL;

    CU_ASSERT_EQUAL_FATAL(pa_b64_encode_alloc(b, n, &out), PA_OK);
    return out;
}

/* Key exchange with an activation code (CRYPTO.md 6.3), the device reads
 * the answer.  *id receives the activation id; the row is CREATED if
 * `exchange` is 0, else PENDING_COMMIT. */
static pa_device *device_for(const app_info *a, const char *proto, int exchange,
                             char id[PA_UUID_BUF])
{
    pa_device_activation_opts o = {.compressed_eph = 1};
    pa_act_init_req ir = {.user_id = "alice", .application_id = a->id,
                          .otp_mode = PA_OTP_NONE};
    pa_act_init_res init;
    pa_act_keyx_res kr;
    pa_ecies_cryptogram cg;
    char *eph = NULL, *data = NULL, *mac = NULL, *nonce = NULL;
    uint8_t *ct = NULL, m[32];
    size_t ctn = 0;
    pa_device *d = new_device(a, proto);
    int ok;

    memset(&kr, 0, sizeof kr);
    memset(&cg, 0, sizeof cg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_EQUAL_FATAL(pa_activation_init(&env, &ir, &init), PA_OK);
    memcpy(id, init.activation_id, PA_UUID_BUF);
    if (!exchange) {
        pa_act_init_res_free(&init);
        return d;
    }
    ok = pa_device_activation_request(d, &o, &cg) == PA_OK
         && pa_b64_encode_alloc(cg.eph, cg.eph_len, &eph) == PA_OK
         && pa_b64_encode_alloc(cg.data, cg.data_len, &data) == PA_OK
         && pa_b64_encode_alloc(cg.mac, sizeof cg.mac, &mac) == PA_OK
         && (!cg.has_nonce
             || pa_b64_encode_alloc(cg.nonce, sizeof cg.nonce, &nonce) == PA_OK);
    if (ok) {
        pa_act_prepare_req pr = {init.activation_code, a->key,
                                 {eph, data, mac, nonce}};

        ok = pa_activation_prepare(&env, &pr, &kr) == PA_OK
             && pa_b64_decode_alloc(kr.encrypted_data, &ct, &ctn) == PA_OK
             && pa_b64_decode_exact(kr.mac, m, sizeof m) == PA_OK
             && pa_device_activation_response(d, ct, ctn, m, sizeof m) == PA_OK;
    }
    free(ct);
    free(eph);
    free(data);
    free(mac);
    free(nonce);
    pa_ecies_cryptogram_free(&cg);
    pa_act_keyx_res_free(&kr);
    pa_act_init_res_free(&init);
    CU_ASSERT_FATAL(ok);
    return d;
}

/* An ACTIVE activation of application a with its device. */
static pa_device *active(const app_info *a, const char *proto,
                         char id[PA_UUID_BUF])
{
    pa_device *d = device_for(a, proto, 1, id);

    CU_ASSERT_EQUAL_FATAL(pa_activation_commit(&env, id, NULL, NULL), PA_OK);
    return d;
}

/* ---- offline payloads (9.1, 9.2) -------------------------------------------------- */

/* The layout of 9.1 checked by hand: data LF nonce LF indicator B64(SIG),
 * the nonce 24 characters of Base64 of 16 bytes equal to the returned one,
 * SIG a DER ECDSA-SHA256 of "data LF nonce LF indicator" by pub_b64 (65-byte
 * point), verified with OpenSSL here. */
static int payload_ok(const pa_offline_res *r, const char *data, char indicator,
                      const char *pub_b64)
{
    const char *od = r->offline_data;
    size_t dn = strlen(data), n = od ? strlen(od) : 0;
    uint8_t nonce[16], pub[65], sig[128];
    size_t siglen = 0;
    char group[] = "prime256v1";
    OSSL_PARAM params[3];
    EVP_PKEY_CTX *pctx = NULL;
    EVP_PKEY *pk = NULL;
    EVP_MD_CTX *mctx = NULL;
    int ok;

    ok = od && n > dn + 1 + 24 + 1 + 1 && memcmp(od, data, dn) == 0
         && od[dn] == '\n' && strlen(r->nonce) == 24
         && memcmp(od + dn + 1, r->nonce, 24) == 0 && od[dn + 25] == '\n'
         && od[dn + 26] == indicator
         && pa_b64_decode_exact(r->nonce, nonce, sizeof nonce) == PA_OK
         && strlen(od + dn + 27) <= PA_B64_ENCLEN(sizeof sig)
         && pa_b64_decode(od + dn + 27, sig, &siglen) == PA_OK
         && pa_b64_decode_exact(pub_b64, pub, sizeof pub) == PA_OK;
    if (!ok)
        return 0;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub,
                                                  sizeof pub);
    params[2] = OSSL_PARAM_construct_end();
    /* SIG over UTF8(data LF nonce LF indicator): everything before it */
    ok = (pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) != NULL
         && EVP_PKEY_fromdata_init(pctx) == 1
         && EVP_PKEY_fromdata(pctx, &pk, EVP_PKEY_PUBLIC_KEY, params) == 1
         && (mctx = EVP_MD_CTX_new()) != NULL
         && EVP_DigestVerifyInit(mctx, NULL, EVP_sha256(), NULL, pk) == 1
         && EVP_DigestVerify(mctx, sig, siglen, (const unsigned char *)od,
                             dn + 27) == 1;
    EVP_MD_CTX_free(mctx);
    EVP_PKEY_free(pk);
    EVP_PKEY_CTX_free(pctx);
    return ok;
}

/* The device's offline-sign path (9.2): *valid is whether it trusted the
 * payload; when it did, the result is a DECIMAL NNNNNNNN-NNNNNNNN. */
static int device_trusts(pa_device *d, const char *offline_data)
{
    pa_device_signature s;
    int valid = -1;
    pa_err e = pa_device_offline_sign(d, offline_data, "/operation/authorize",
                                      "{\"amount\":100}", 0, &valid, &s);

    if (e != PA_OK)
        return -1;
    if (valid)
        CU_ASSERT(strlen(s.signature) == 17 && s.signature[8] == '-');
    pa_device_signature_free(&s);
    return valid;
}

/* A copy of the payload with one character of the data changed. */
static char *tampered(const char *offline_data)
{
    char *t = strdup(offline_data);

    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    t[0] = t[0] == 'X' ? 'Y' : 'X';
    return t;
}

static void test_offline_non_personalized(void)
{
    static const char *const datas[] = {
        "A1*A100CZK*Q238400856/0300**D20190629*NUtility Bill",
        "line one\nline two\nline three", "", "\xc5\xbelu\xc5\xa5ou\xc4\x8dk\xc3\xbd"};
    app_info other;
    pa_offline_res r1, r2;
    pa_device *d, *foreign;
    char id[PA_UUID_BUF], oid[PA_UUID_BUF], *snap, *t;
    size_t i;

    make_app("other", 0, &other);
    d = active(&app, "3.1", id);
    foreign = active(&other, "3.1", oid);
    snap = snapshot();
    for (i = 0; i < sizeof datas / sizeof *datas; i++) {
        CU_ASSERT_EQUAL_FATAL(pa_offline_non_personalized(&env, app.id, datas[i],
                                                          &r1), PA_OK);
        CU_ASSERT(payload_ok(&r1, datas[i], '0', app.master_pub));
        /* the phone trusts it with the application's master key ... */
        CU_ASSERT_EQUAL(device_trusts(d, r1.offline_data), 1);
        /* ... a phone of another application does not */
        CU_ASSERT_EQUAL(device_trusts(foreign, r1.offline_data), 0);
        if (*datas[i]) {
            t = tampered(r1.offline_data);
            CU_ASSERT_EQUAL(device_trusts(d, t), 0);
            free(t);
        }
        /* a fresh nonce on every call */
        CU_ASSERT_EQUAL_FATAL(pa_offline_non_personalized(&env, app.id, datas[i],
                                                          &r2), PA_OK);
        CU_ASSERT(payload_ok(&r2, datas[i], '0', app.master_pub));
        CU_ASSERT(strcmp(r1.nonce, r2.nonce) != 0);
        CU_ASSERT(strcmp(r1.offline_data, r2.offline_data) != 0);
        pa_offline_res_free(&r1);
        pa_offline_res_free(&r2);
    }
    /* the other application's payload is trusted by its own phone only */
    CU_ASSERT_EQUAL(pa_offline_non_personalized(&env, other.id, "x", &r1), PA_OK);
    CU_ASSERT(payload_ok(&r1, "x", '0', other.master_pub));
    CU_ASSERT_EQUAL(device_trusts(foreign, r1.offline_data), 1);
    CU_ASSERT_EQUAL(device_trusts(d, r1.offline_data), 0);
    pa_offline_res_free(&r1);
    EXPECT_UNCHANGED(snap);
    pa_device_free(d);
    pa_device_free(foreign);
}

/* The latest master key pair signs (ERR0004 when it is unusable). */
static void test_offline_non_personalized_keys(void)
{
    pa_eckey *k = NULL;
    pa_offline_res r;
    char *priv = NULL, *pub = NULL, *snap;
    int64_t kid = 0, bare = 0, t = pa_time_now_ms();

    CU_ASSERT_EQUAL_FATAL(pa_ec_generate(&k), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_ec_priv_export_b64(k, &priv), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_ec_pub_export_b64(k, &pub), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_master_keypair_create(db, app.id, "newer", priv,
                                                         pub, t + 1000, &kid),
                          PA_OK);
    snap = snapshot();
    CU_ASSERT_EQUAL(pa_offline_non_personalized(&env, app.id, "d", &r), PA_OK);
    CU_ASSERT(payload_ok(&r, "d", '0', pub));
    CU_ASSERT(!payload_ok(&r, "d", '0', app.master_pub));
    pa_offline_res_free(&r);
    EXPECT_UNCHANGED(snap);
    /* an unusable newer pair: ERR0004 */
    CU_ASSERT_EQUAL_FATAL(pa_store_master_keypair_create(db, app.id, "junk",
                                                         "not base64!", pub,
                                                         t + 2000, &kid), PA_OK);
    /* an application without any pair (imported data): ERR0003 */
    CU_ASSERT_EQUAL_FATAL(pa_store_application_create(db, "bare", &bare), PA_OK);
    snap = snapshot();
    CHECK_ERR(pa_offline_non_personalized(&env, app.id, "d", &r),
              PA_ERR_INCORRECT_MASTER_SERVER_KEYPAIR_PRIVATE);
    CU_ASSERT_PTR_NULL(r.offline_data);
    CHECK_ERR(pa_offline_non_personalized(&env, bare, "d", &r),
              PA_ERR_NO_MASTER_SERVER_KEYPAIR);
    CHECK_ERR(pa_offline_non_personalized(&env, 987654, "d", &r),
              PA_ERR_NO_MASTER_SERVER_KEYPAIR);
    CHECK_ERR(pa_offline_non_personalized(&env, app.id, NULL, &r),
              PA_ERR_INVALID_REQUEST);
    EXPECT_UNCHANGED(snap);
    free(priv);
    free(pub);
    pa_ec_free(k);
}

static void test_offline_personalized(void)
{
    pa_offline_res r1, r2;
    pa_device *d, *d2, *created;
    char id[PA_UUID_BUF], id2[PA_UUID_BUF], cid[PA_UUID_BUF], *snap, *t, *pub;
    const char *data = "A1*A100CZK*Q238400856/0300\nsecond line";
    int status = 0;

    d = active(&app, "3.1", id);
    d2 = active(&app, "3.0", id2);
    created = device_for(&app, "3.1", 0, cid);
    snap = snapshot();
    CU_ASSERT_EQUAL_FATAL(pa_offline_personalized(&env, id, data, &r1), PA_OK);
    pub = row_text("server_public_key_base64", id);
    CU_ASSERT(payload_ok(&r1, data, '1', pub));
    free(pub);
    /* the phone of the activation trusts it with KEY_SERVER_PUBLIC ... */
    CU_ASSERT_EQUAL(device_trusts(d, r1.offline_data), 1);
    /* ... another activation's phone does not, nor a changed payload */
    CU_ASSERT_EQUAL(device_trusts(d2, r1.offline_data), 0);
    t = tampered(r1.offline_data);
    CU_ASSERT_EQUAL(device_trusts(d, t), 0);
    free(t);
    /* a fresh nonce every time */
    CU_ASSERT_EQUAL_FATAL(pa_offline_personalized(&env, id, data, &r2), PA_OK);
    CU_ASSERT(strcmp(r1.nonce, r2.nonce) != 0);
    CU_ASSERT_EQUAL(device_trusts(d, r2.offline_data), 1);
    pa_offline_res_free(&r1);
    pa_offline_res_free(&r2);
    /* any state: CREATED (no device yet, checked with the stored public
     * key), and BLOCKED / REMOVED */
    CU_ASSERT_EQUAL(pa_offline_personalized(&env, cid, "c", &r1), PA_OK);
    pub = row_text("server_public_key_base64", cid);
    CU_ASSERT(payload_ok(&r1, "c", '1', pub));
    free(pub);
    pa_offline_res_free(&r1);
    EXPECT_UNCHANGED(snap);
    {
        char *reason = NULL;

        CU_ASSERT_EQUAL_FATAL(pa_activation_block(&env, id2, "test", NULL,
                                                  &status, &reason), PA_OK);
        free(reason);
    }
    CU_ASSERT_EQUAL_FATAL(pa_activation_remove(&env, id, NULL, 0), PA_OK);
    snap = snapshot();
    CU_ASSERT_EQUAL(pa_offline_personalized(&env, id2, "b", &r1), PA_OK);
    CU_ASSERT_EQUAL(device_trusts(d2, r1.offline_data), 1);
    pa_offline_res_free(&r1);
    CU_ASSERT_EQUAL(pa_offline_personalized(&env, id, "r", &r1), PA_OK);
    CU_ASSERT_EQUAL(device_trusts(d, r1.offline_data), 1);
    pa_offline_res_free(&r1);
    /* faults */
    CHECK_ERR(pa_offline_personalized(&env, unknown_id, "x", &r1),
              PA_ERR_ACTIVATION_NOT_FOUND);
    CU_ASSERT_PTR_NULL(r1.offline_data);
    CHECK_ERR(pa_offline_personalized(&env, NULL, "x", &r1), PA_ERR_INVALID_REQUEST);
    CHECK_ERR(pa_offline_personalized(&env, id, NULL, &r1), PA_ERR_INVALID_REQUEST);
    EXPECT_UNCHANGED(snap);
    pa_device_free(d);
    pa_device_free(d2);
    pa_device_free(created);
}

/* CRYPTO.md 16: the personalized payload is signed with the record-
 * decrypted key; without the master DB key the row is unusable (ERR0020). */
static void test_offline_record_encryption(void)
{
    static const uint8_t master[16] = {0x10, 0x32, 0x54, 0x76, 0x98, 0xba,
                                       0xdc, 0xfe, 0x01, 0x23, 0x45, 0x67,
                                       0x89, 0xab, 0xcd, 0xef};
    pa_offline_res r;
    pa_device *d;
    char id[PA_UUID_BUF], *snap, *mode;

    cfg.master_db_encryption_key_set = true;
    memcpy(cfg.master_db_encryption_key, master, sizeof master);
    d = active(&app, "3.1", id);
    mode = row_text("server_private_key_encryption", id);
    CU_ASSERT(mode && strcmp(mode, "1") == 0);
    free(mode);
    snap = snapshot();
    CU_ASSERT_EQUAL_FATAL(pa_offline_personalized(&env, id, "enc", &r), PA_OK);
    CU_ASSERT_EQUAL(r.offline_data[3 + 26], '1');     /* "enc" LF nonce LF */
    CU_ASSERT_EQUAL(device_trusts(d, r.offline_data), 1);
    pa_offline_res_free(&r);
    cfg.master_db_encryption_key_set = false;
    memset(cfg.master_db_encryption_key, 0, sizeof cfg.master_db_encryption_key);
    CHECK_ERR(pa_offline_personalized(&env, id, "enc", &r),
              PA_ERR_MISSING_MASTER_DB_ENCRYPTION_KEY);
    /* another master key: the record does not decrypt (ERR0022) */
    cfg.master_db_encryption_key_set = true;
    memset(cfg.master_db_encryption_key, 0x42, sizeof cfg.master_db_encryption_key);
    CU_ASSERT_NOT_EQUAL(pa_offline_personalized(&env, id, "enc", &r), PA_OK);
    CU_ASSERT_PTR_NULL(r.offline_data);
    cfg.master_db_encryption_key_set = false;
    EXPECT_UNCHANGED(snap);
    pa_device_free(d);
}

/* ---- VerifyECDSASignature (8.9) ------------------------------------------------------- */

/* The device signs msg with KEY_DEVICE_PRIVATE (libpadevice has no ECDSA
 * step of its own: the crypto layer's signer with the device's key). */
static char *device_ecdsa(const pa_device *d, const char *msg)
{
    uint8_t sig[PA_ECDSA_MAX];
    size_t n = 0;

    CU_ASSERT_EQUAL_FATAL(pa_ec_sign(d->device_key, (const uint8_t *)msg,
                                     strlen(msg), sig, &n), PA_OK);
    return b64(sig, n);
}

static int verify(const char *id, const char *data_b64, const char *sig_b64,
                  pa_err *e)
{
    int valid = -1;

    *e = pa_ecdsa_verify(&env, id, data_b64, sig_b64, &valid);
    return valid;
}

static void test_ecdsa(void)
{
    const char *msg = "{\"operation\":\"login\",\"nonce\":\"abc\"}";
    pa_device *d, *d2, *created;
    char id[PA_UUID_BUF], id2[PA_UUID_BUF], cid[PA_UUID_BUF];
    char *sig, *sig_empty, *data_b64, *other_b64, *empty_b64, *snap, *x;
    uint8_t raw[PA_ECDSA_MAX + 1], rs[64];
    size_t rawn = 0;
    int status = 0;
    pa_err e;

    d = active(&app, "3.1", id);
    d2 = active(&app, "3.1", id2);
    created = device_for(&app, "3.1", 0, cid);
    sig = device_ecdsa(d, msg);
    sig_empty = device_ecdsa(d, "");
    data_b64 = b64((const uint8_t *)msg, strlen(msg));
    other_b64 = b64((const uint8_t *)"other", 5);
    empty_b64 = b64((const uint8_t *)"", 0);
    snap = snapshot();

    CU_ASSERT_EQUAL(verify(id, data_b64, sig, &e), 1);
    CU_ASSERT_EQUAL(e, PA_OK);
    CU_ASSERT_EQUAL(verify(id, empty_b64, sig_empty, &e), 1);
    CU_ASSERT_EQUAL(e, PA_OK);
    /* tampered data, other data, another activation's key: false */
    x = strdup(msg);
    x[2] ^= 1;
    {
        char *tb = b64((const uint8_t *)x, strlen(x));

        CU_ASSERT_EQUAL(verify(id, tb, sig, &e), 0);
        CU_ASSERT_EQUAL(e, PA_OK);
        free(tb);
    }
    free(x);
    CU_ASSERT_EQUAL(verify(id, other_b64, sig, &e), 0);
    CU_ASSERT_EQUAL(e, PA_OK);
    CU_ASSERT_EQUAL(verify(id2, data_b64, sig, &e), 0);
    CU_ASSERT_EQUAL(e, PA_OK);
    /* unknown activation, CREATED (no device key): false, no fault */
    CU_ASSERT_EQUAL(verify(unknown_id, data_b64, sig, &e), 0);
    CU_ASSERT_EQUAL(e, PA_OK);
    CU_ASSERT_EQUAL(verify(cid, data_b64, sig, &e), 0);
    CU_ASSERT_EQUAL(e, PA_OK);

    /* malformed DER: garbage, trailing byte, raw r||s, empty: ERR0022 */
    CU_ASSERT_EQUAL_FATAL(pa_b64_decode(sig, raw, &rawn), PA_OK);
    raw[rawn] = 0x00;
    x = b64(raw, rawn + 1);
    CU_ASSERT_EQUAL(verify(id, data_b64, x, &e), 0);
    CU_ASSERT_EQUAL(e, PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR);
    free(x);
    memset(rs, 0x5a, sizeof rs);
    x = b64(rs, sizeof rs);
    CU_ASSERT_EQUAL(verify(id, data_b64, x, &e), 0);
    CU_ASSERT_EQUAL(e, PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR);
    free(x);
    CU_ASSERT_EQUAL(verify(id, data_b64, "", &e), 0);
    CU_ASSERT_EQUAL(e, PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR);
    CU_ASSERT_EQUAL(verify(id, data_b64, "AAAA", &e), 0);
    CU_ASSERT_EQUAL(e, PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR);

    /* Base64 that does not decode: ERR0024 (5.11) */
    CU_ASSERT_EQUAL(verify(id, "not base64!", sig, &e), 0);
    CU_ASSERT_EQUAL(e, PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(verify(id, data_b64, "#$%", &e), 0);
    CU_ASSERT_EQUAL(e, PA_ERR_INVALID_REQUEST);
    /* missing fields: ERR0024 */
    CU_ASSERT_EQUAL(verify(NULL, data_b64, sig, &e), 0);
    CU_ASSERT_EQUAL(e, PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(verify(id, NULL, sig, &e), 0);
    CU_ASSERT_EQUAL(e, PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(verify(id, data_b64, NULL, &e), 0);
    CU_ASSERT_EQUAL(e, PA_ERR_INVALID_REQUEST);
    EXPECT_UNCHANGED(snap);

    /* the state is not checked: a BLOCKED activation still verifies */
    {
        char *reason = NULL;

        CU_ASSERT_EQUAL_FATAL(pa_activation_block(&env, id, NULL, NULL, &status,
                                                  &reason), PA_OK);
        free(reason);
    }
    snap = snapshot();
    CU_ASSERT_EQUAL(verify(id, data_b64, sig, &e), 1);
    CU_ASSERT_EQUAL(e, PA_OK);
    EXPECT_UNCHANGED(snap);

    free(sig);
    free(sig_empty);
    free(data_b64);
    free(other_b64);
    free(empty_b64);
    pa_device_free(d);
    pa_device_free(d2);
    pa_device_free(created);
}

/* ---- GetEciesDecryptor (5.9) ------------------------------------------------------------ */

static pa_err decryptor(const char *app_key, const char *activation_id,
                        const pa_ecies_cryptogram *cg,
                        pa_ecies_decryptor_res *res)
{
    char *eph = b64(cg->eph, cg->eph_len);
    pa_err e = pa_ecies_decryptor_get(&env, app_key, activation_id, eph, res);

    free(eph);
    return e;
}

/* The intermediate server: only secretKey and sharedInfo2 (and the
 * request itself).  Decrypts the request, checks it is `expect`, and
 * answers `reply`; returns the decryption's result. */
typedef struct third_party_answer {
    uint8_t *ct;
    size_t ct_len;
    uint8_t mac[PA_ECIES_MAC_LEN];
} third_party_answer;

static pa_err third_party(const pa_ecies_decryptor_res *res,
                          const pa_ecies_cryptogram *cg, const char *expect,
                          const char *reply, third_party_answer *out)
{
    uint8_t env_key[PA_ECIES_ENV_LEN], sh2[32], *plain = NULL;
    size_t plain_n = 0;
    pa_ecies_ctx ctx;
    pa_err e;

    memset(out, 0, sizeof *out);
    CU_ASSERT_EQUAL_FATAL(pa_b64_decode_exact(res->secret_key, env_key,
                                              sizeof env_key), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_b64_decode_exact(res->shared_info2, sh2, sizeof sh2),
                          PA_OK);
    e = pa_ecies_ctx_from_envelope(env_key, sh2, sizeof sh2,
                                   cg->has_nonce ? cg->nonce : NULL,
                                   cg->has_nonce ? sizeof cg->nonce : 0, &ctx);
    if (e == PA_OK)
        e = pa_ecies_ctx_decrypt(&ctx, cg->data, cg->data_len, cg->mac,
                                 sizeof cg->mac, &plain, &plain_n);
    if (e == PA_OK) {
        CU_ASSERT(plain_n == strlen(expect) && memcmp(plain, expect, plain_n) == 0);
        pa_secure_free(plain, plain_n);
        e = pa_ecies_encrypt_response(&ctx, (const uint8_t *)reply,
                                      strlen(reply), &out->ct, &out->ct_len,
                                      out->mac);
    }
    pa_ecies_ctx_wipe(&ctx);
    OPENSSL_cleanse(env_key, sizeof env_key);
    return e;
}

/* The device reads the third party's answer. */
static int device_reads(pa_device *d, const third_party_answer *a,
                        const char *reply)
{
    uint8_t *plain = NULL;
    size_t n = 0;
    int ok = pa_device_ecies_response(d, a->ct, a->ct_len, a->mac,
                                      sizeof a->mac, &plain, &n) == PA_OK
             && n == strlen(reply) && memcmp(plain, reply, n) == 0;

    if (plain)
        pa_secure_free(plain, n);
    return ok;
}

/* SHA256(UTF8(secret)) and HMAC(KEY_TRANSPORT, UTF8(secret)) by OpenSSL. */
static void sh2_app(const char *secret, uint8_t out[32])
{
    unsigned int n = 0;

    CU_ASSERT_FATAL(EVP_Digest(secret, strlen(secret), out, &n, EVP_sha256(),
                               NULL) == 1 && n == 32);
}

static void sh2_act(const pa_device *d, const char *secret, uint8_t out[32])
{
    pa_derived_keys k;
    unsigned int n = 0;

    CU_ASSERT_EQUAL_FATAL(pa_device_keys(d, &k), PA_OK);
    CU_ASSERT_FATAL(HMAC(EVP_sha256(), k.transport, 16,
                         (const unsigned char *)secret, strlen(secret), out,
                         &n) != NULL && n == 32);
    pa_keys_wipe(&k);
}

/* One round trip: the device's generic request in the given scope, the
 * decryptor, the third party, the device reading the answer. */
static void round_trip(pa_device *d, const char *activation_id,
                       int compressed)
{
    const char *req = activation_id ? "{\"userId\":\"alice\",\"op\":1}"
                                    : "{\"hello\":\"application\"}";
    const char *reply = "{\"status\":\"OK\",\"n\":42}";
    pa_ecies_cryptogram cg;
    pa_ecies_decryptor_res res;
    third_party_answer ans;
    uint8_t env_key[PA_ECIES_ENV_LEN], sh2[32], want[32];

    CU_ASSERT_EQUAL_FATAL(
        pa_device_ecies_request(d, activation_id != NULL,
                                activation_id ? PA_ECIES_SH1_GENERIC_ACTIVATION
                                              : PA_ECIES_SH1_GENERIC_APPLICATION,
                                (const uint8_t *)req, strlen(req), compressed,
                                &cg), PA_OK);
    CU_ASSERT_EQUAL(cg.eph_len, compressed ? 33u : 65u);
    CU_ASSERT_EQUAL_FATAL(decryptor(app.key, activation_id, &cg, &res), PA_OK);
    /* 48 bytes: KEY_ENC and KEY_MAC are the device's own; SH2 of 5.7 */
    CU_ASSERT_EQUAL_FATAL(pa_b64_decode_exact(res.secret_key, env_key,
                                              sizeof env_key), PA_OK);
    CU_ASSERT(memcmp(env_key, d->pending_ctx.key_enc, 16) == 0);
    CU_ASSERT(memcmp(env_key + 16, d->pending_ctx.key_mac, 16) == 0);
    CU_ASSERT_EQUAL_FATAL(pa_b64_decode_exact(res.shared_info2, sh2, sizeof sh2),
                          PA_OK);
    if (activation_id)
        sh2_act(d, app.secret, want);
    else
        sh2_app(app.secret, want);
    CU_ASSERT(memcmp(sh2, want, 32) == 0);
    CU_ASSERT(memcmp(sh2, d->pending_ctx.sh2, 32) == 0);
    /* the third party decrypts and answers; the phone reads the answer */
    CU_ASSERT_EQUAL(third_party(&res, &cg, req, reply, &ans), PA_OK);
    CU_ASSERT(device_reads(d, &ans, reply));
    free(ans.ct);
    pa_ecies_decryptor_res_free(&res);
    pa_ecies_cryptogram_free(&cg);
    OPENSSL_cleanse(env_key, sizeof env_key);
}

static void test_decryptor_application_scope(void)
{
    static const char *const protos[] = {"3.0", "3.1"};
    pa_device *d;
    char id[PA_UUID_BUF], *snap;
    size_t i;

    for (i = 0; i < 2; i++) {
        /* a device before and after activation: application scope needs
         * no activation */
        d = new_device(&app, protos[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(d);
        snap = snapshot();
        round_trip(d, NULL, 1);
        round_trip(d, NULL, 0);
        EXPECT_UNCHANGED(snap);
        pa_device_free(d);
        d = active(&app, protos[i], id);
        snap = snapshot();
        round_trip(d, NULL, 1);
        EXPECT_UNCHANGED(snap);
        pa_device_free(d);
    }
}

static void test_decryptor_activation_scope(void)
{
    static const uint8_t master[16] = {1, 2, 3, 4, 5, 6, 7, 8,
                                       9, 10, 11, 12, 13, 14, 15, 16};
    static const char *const protos[] = {"3.0", "3.1"};
    pa_device *d;
    char id[PA_UUID_BUF], *snap;
    size_t i;

    for (i = 0; i < 2; i++) {
        d = active(&app, protos[i], id);
        snap = snapshot();
        round_trip(d, id, 1);
        round_trip(d, id, 0);
        EXPECT_UNCHANGED(snap);
        pa_device_free(d);
    }
    /* with the server private key record-encrypted (16) */
    cfg.master_db_encryption_key_set = true;
    memcpy(cfg.master_db_encryption_key, master, sizeof master);
    d = active(&app, "3.1", id);
    snap = snapshot();
    round_trip(d, id, 1);
    EXPECT_UNCHANGED(snap);
    cfg.master_db_encryption_key_set = false;
    memset(cfg.master_db_encryption_key, 0, sizeof cfg.master_db_encryption_key);
    snap = snapshot();
    {
        pa_ecies_cryptogram cg;
        pa_ecies_decryptor_res res;

        CU_ASSERT_EQUAL_FATAL(pa_device_ecies_request(
                                  d, 1, PA_ECIES_SH1_GENERIC_ACTIVATION,
                                  (const uint8_t *)"{}", 2, 1, &cg), PA_OK);
        CHECK_ERR(decryptor(app.key, id, &cg, &res),
                  PA_ERR_MISSING_MASTER_DB_ENCRYPTION_KEY);
        CU_ASSERT_PTR_NULL(res.secret_key);
        pa_ecies_cryptogram_free(&cg);
    }
    EXPECT_UNCHANGED(snap);
    pa_device_free(d);
}

/* SH1 and scope are bound into the keys: the decryptor of one scope does
 * not open a request made for another. */
static void test_decryptor_scope_binding(void)
{
    pa_ecies_cryptogram cg;
    pa_ecies_decryptor_res res;
    third_party_answer ans;
    pa_device *d;
    app_info other;
    char id[PA_UUID_BUF], *snap;

    make_app("other", 0, &other);
    d = active(&app, "3.1", id);
    snap = snapshot();
    /* an activation-scope request given to an application-scope decryptor */
    CU_ASSERT_EQUAL_FATAL(pa_device_ecies_request(d, 1,
                                                  PA_ECIES_SH1_GENERIC_ACTIVATION,
                                                  (const uint8_t *)"{}", 2, 1,
                                                  &cg), PA_OK);
    CU_ASSERT_EQUAL_FATAL(decryptor(app.key, NULL, &cg, &res), PA_OK);
    CU_ASSERT_EQUAL(third_party(&res, &cg, "{}", "{}", &ans),
                    PA_ERR_DECRYPTION_FAILED);
    pa_ecies_decryptor_res_free(&res);
    pa_ecies_cryptogram_free(&cg);
    /* a request for /pa/activation (another SH1) */
    CU_ASSERT_EQUAL_FATAL(pa_device_ecies_request(d, 0, PA_ECIES_SH1_ACTIVATION,
                                                  (const uint8_t *)"{}", 2, 1,
                                                  &cg), PA_OK);
    CU_ASSERT_EQUAL_FATAL(decryptor(app.key, NULL, &cg, &res), PA_OK);
    CU_ASSERT_EQUAL(third_party(&res, &cg, "{}", "{}", &ans),
                    PA_ERR_DECRYPTION_FAILED);
    pa_ecies_decryptor_res_free(&res);
    /* another application's key in application scope: its master key */
    CU_ASSERT_EQUAL_FATAL(decryptor(other.key, NULL, &cg, &res), PA_OK);
    CU_ASSERT_EQUAL(third_party(&res, &cg, "{}", "{}", &ans),
                    PA_ERR_DECRYPTION_FAILED);
    pa_ecies_decryptor_res_free(&res);
    pa_ecies_cryptogram_free(&cg);
    EXPECT_UNCHANGED(snap);
    pa_device_free(d);
}

static void test_decryptor_faults(void)
{
    static const uint8_t short_key[10] = {2, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    app_info other;
    pa_store_version v2;
    pa_ecies_decryptor_res res;
    pa_device *d, *pend, *created, *blocked;
    char id[PA_UUID_BUF], pid[PA_UUID_BUF], cid[PA_UUID_BUF], bid[PA_UUID_BUF];
    char *eph, *bad_point, *short_b64, *snap, *pub = NULL;
    uint8_t p[65], q[33];
    int64_t bare = 0, bare_v = 0, kid = 0;
    pa_eckey *k = NULL;
    int status = 0;

    make_app("other", 0, &other);
    d = active(&app, "3.1", id);
    pend = device_for(&app, "3.1", 1, pid);
    created = device_for(&app, "3.1", 0, cid);
    blocked = active(&app, "3.1", bid);
    {
        char *reason = NULL;

        CU_ASSERT_EQUAL_FATAL(pa_activation_block(&env, bid, NULL, NULL, &status,
                                                  &reason), PA_OK);
        free(reason);
    }
    /* an unsupported second version of "bank" */
    CU_ASSERT_EQUAL_FATAL(pa_application_version_create(db, app.id, "old", &v2),
                          PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_application_version_support(db, v2.id, 0), PA_OK);
    /* an application with a version but no key pair (imported data) */
    CU_ASSERT_EQUAL_FATAL(pa_store_application_create(db, "bare", &bare), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_version_create(db, bare, "v", "bareKey",
                                                  "YmFyZVNlY3JldA==", &bare_v),
                          PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_ec_generate(&k), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_ec_pub_export_b64(k, &eph), PA_OK);
    memset(p, 0x01, sizeof p);
    p[0] = 0x04;
    bad_point = b64(p, sizeof p);
    short_b64 = b64(short_key, sizeof short_key);
    snap = snapshot();

#define FAULT(key, act, ephb, want)                                           \
    do {                                                                      \
        CHECK_ERR(pa_ecies_decryptor_get(&env, (key), (act), (ephb), &res),   \
                  (want));                                                    \
        CU_ASSERT_PTR_NULL(res.secret_key);                                   \
        CU_ASSERT_PTR_NULL(res.shared_info2);                                 \
    } while (0)

    /* the baseline succeeds in both scopes */
    CU_ASSERT_EQUAL(pa_ecies_decryptor_get(&env, app.key, NULL, eph, &res), PA_OK);
    pa_ecies_decryptor_res_free(&res);
    CU_ASSERT_EQUAL(pa_ecies_decryptor_get(&env, app.key, id, eph, &res), PA_OK);
    pa_ecies_decryptor_res_free(&res);
    /* ERR0024: missing fields, ephemeral key not Base64 */
    FAULT(NULL, NULL, eph, PA_ERR_INVALID_REQUEST);
    FAULT(app.key, NULL, NULL, PA_ERR_INVALID_REQUEST);
    FAULT(NULL, id, eph, PA_ERR_INVALID_REQUEST);
    FAULT(app.key, id, NULL, PA_ERR_INVALID_REQUEST);
    FAULT(app.key, NULL, "not base64!", PA_ERR_INVALID_REQUEST);
    FAULT(app.key, id, "not base64!", PA_ERR_INVALID_REQUEST);
    /* ERR0015: unknown, unsupported, another application's version */
    FAULT("unknownKey", NULL, eph, PA_ERR_INVALID_APPLICATION);
    FAULT(v2.application_key, NULL, eph, PA_ERR_INVALID_APPLICATION);
    FAULT("unknownKey", id, eph, PA_ERR_INVALID_APPLICATION);
    FAULT(v2.application_key, id, eph, PA_ERR_INVALID_APPLICATION);
    FAULT(other.key, id, eph, PA_ERR_INVALID_APPLICATION);
    /* ERR0009, ERR0008 (before the version is looked at) */
    FAULT(app.key, unknown_id, eph, PA_ERR_ACTIVATION_NOT_FOUND);
    FAULT("unknownKey", unknown_id, eph, PA_ERR_ACTIVATION_NOT_FOUND);
    FAULT(app.key, "", eph, PA_ERR_ACTIVATION_NOT_FOUND);
    FAULT(app.key, cid, eph, PA_ERR_ACTIVATION_INCORRECT_STATE);
    FAULT(app.key, pid, eph, PA_ERR_ACTIVATION_INCORRECT_STATE);
    FAULT(app.key, bid, eph, PA_ERR_ACTIVATION_INCORRECT_STATE);
    FAULT("unknownKey", bid, eph, PA_ERR_ACTIVATION_INCORRECT_STATE);
    /* ERR0003: the version's application has no key pair */
    FAULT("bareKey", NULL, eph, PA_ERR_NO_MASTER_SERVER_KEYPAIR);
    /* ERR0018: not a point (off the curve, bad prefix, wrong length) */
    FAULT(app.key, NULL, bad_point, PA_ERR_DECRYPTION_FAILED);
    FAULT(app.key, id, bad_point, PA_ERR_DECRYPTION_FAILED);
    FAULT(app.key, NULL, short_b64, PA_ERR_DECRYPTION_FAILED);
    FAULT(app.key, id, "", PA_ERR_DECRYPTION_FAILED);
    memset(q, 0x07, sizeof q);
    q[0] = 0x05;
    {
        char *qb = b64(q, sizeof q);

        FAULT(app.key, NULL, qb, PA_ERR_DECRYPTION_FAILED);
        free(qb);
    }
    EXPECT_UNCHANGED(snap);

    /* ERR0004: an unusable latest master key */
    CU_ASSERT_EQUAL_FATAL(pa_ec_pub_export_b64(k, &pub), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_master_keypair_create(db, bare, "junk", "AA==",
                                                         pub, pa_time_now_ms(),
                                                         &kid), PA_OK);
    snap = snapshot();
    FAULT("bareKey", NULL, eph, PA_ERR_INCORRECT_MASTER_SERVER_KEYPAIR_PRIVATE);
    EXPECT_UNCHANGED(snap);
#undef FAULT

    free(pub);
    free(eph);
    free(bad_point);
    free(short_b64);
    pa_ec_free(k);
    pa_store_version_free(&v2);
    pa_device_free(d);
    pa_device_free(pend);
    pa_device_free(created);
    pa_device_free(blocked);
}

/* ---- the SOAP handlers ------------------------------------------------------------------ */

typedef struct hsoap {
    struct soap *soap;
    pa_ctx ctx;
} hsoap;

static void h_open(hsoap *h)
{
    memset(h, 0, sizeof *h);
    h->soap = soap_new1(SOAP_C_UTFSTRING);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h->soap);
    h->ctx.cfg = &cfg;
    h->ctx.store = db;
    h->soap->user = &h->ctx;
}

static void h_close(hsoap *h)
{
    soap_destroy(h->soap);
    soap_end(h->soap);
    soap_free(h->soap);
    memset(h, 0, sizeof *h);
}

/* The fault the handler produced: its return, the recorded pa_err and the
 * errorCode in the detail. */
static int h_fault(const hsoap *h, int rc, pa_err want)
{
    const char **detail = soap_faultdetail(h->soap);
    char code[32];

    snprintf(code, sizeof code, "<errorCode>%s</errorCode>", pa_err_code(want));
    return rc == SOAP_FAULT && h->ctx.result == want && detail && *detail
           && strstr(*detail, code) != NULL;
}

static void test_handlers(void)
{
    pa_device *d;
    pa_ecies_cryptogram cg;
    char id[PA_UUID_BUF], *snap, *sig, *data_b64, *eph;
    hsoap h;
    int rc;

    d = active(&app, "3.1", id);
    sig = device_ecdsa(d, "hello");
    data_b64 = b64((const uint8_t *)"hello", 5);
    CU_ASSERT_EQUAL_FATAL(pa_device_ecies_request(d, 1,
                                                  PA_ECIES_SH1_GENERIC_ACTIVATION,
                                                  (const uint8_t *)"{}", 2, 1,
                                                  &cg), PA_OK);
    eph = b64(cg.eph, cg.eph_len);
    snap = snapshot();

    /* CreatePersonalizedOfflineSignaturePayload */
    {
        struct _pa3__CreatePersonalizedOfflineSignaturePayloadRequest rq = {
            id, "pay 100"};
        struct _pa3__CreatePersonalizedOfflineSignaturePayloadResponse rs;

        h_open(&h);
        memset(&rs, 0, sizeof rs);
        rc = __pa3__CreatePersonalizedOfflineSignaturePayload(h.soap, &rq, &rs);
        CU_ASSERT_EQUAL(rc, SOAP_OK);
        CU_ASSERT_STRING_EQUAL(h.ctx.operation,
                               "CreatePersonalizedOfflineSignaturePayload");
        CU_ASSERT(rs.offlineData && rs.nonce && strlen(rs.nonce) == 24
                  && strncmp(rs.offlineData, "pay 100\n", 8) == 0
                  && rs.offlineData[7 + 26] == '1');
        if (rs.offlineData)
            CU_ASSERT_EQUAL(device_trusts(d, rs.offlineData), 1);
        h_close(&h);
        rq.data = NULL;
        h_open(&h);
        rc = __pa3__CreatePersonalizedOfflineSignaturePayload(h.soap, &rq, &rs);
        CU_ASSERT(h_fault(&h, rc, PA_ERR_INVALID_REQUEST));
        h_close(&h);
        rq.data = "x";
        rq.activationId = (char *)unknown_id;
        h_open(&h);
        rc = __pa3__CreatePersonalizedOfflineSignaturePayload(h.soap, &rq, &rs);
        CU_ASSERT(h_fault(&h, rc, PA_ERR_ACTIVATION_NOT_FOUND));
        h_close(&h);
    }
    /* CreateNonPersonalizedOfflineSignaturePayload */
    {
        LONG64 app_id = app.id, none = 987654;
        struct _pa3__CreateNonPersonalizedOfflineSignaturePayloadRequest rq = {
            &app_id, "pay 200"};
        struct _pa3__CreateNonPersonalizedOfflineSignaturePayloadResponse rs;

        h_open(&h);
        memset(&rs, 0, sizeof rs);
        rc = __pa3__CreateNonPersonalizedOfflineSignaturePayload(h.soap, &rq, &rs);
        CU_ASSERT_EQUAL(rc, SOAP_OK);
        CU_ASSERT(rs.offlineData && rs.nonce
                  && strncmp(rs.offlineData, "pay 200\n", 8) == 0
                  && rs.offlineData[7 + 26] == '0');
        if (rs.offlineData)
            CU_ASSERT_EQUAL(device_trusts(d, rs.offlineData), 1);
        h_close(&h);
        rq.applicationId = NULL;
        h_open(&h);
        rc = __pa3__CreateNonPersonalizedOfflineSignaturePayload(h.soap, &rq, &rs);
        CU_ASSERT(h_fault(&h, rc, PA_ERR_INVALID_REQUEST));
        h_close(&h);
        rq.applicationId = &none;
        h_open(&h);
        rc = __pa3__CreateNonPersonalizedOfflineSignaturePayload(h.soap, &rq, &rs);
        CU_ASSERT(h_fault(&h, rc, PA_ERR_NO_MASTER_SERVER_KEYPAIR));
        h_close(&h);
    }
    /* VerifyECDSASignature */
    {
        struct _pa3__VerifyECDSASignatureRequest rq = {id, data_b64, sig};
        struct _pa3__VerifyECDSASignatureResponse rs;

        h_open(&h);
        memset(&rs, 0, sizeof rs);
        rc = __pa3__VerifyECDSASignature(h.soap, &rq, &rs);
        CU_ASSERT(rc == SOAP_OK && rs.signatureValid
                  && *rs.signatureValid == xsd__boolean__true_);
        h_close(&h);
        rq.activationId = (char *)unknown_id;
        h_open(&h);
        memset(&rs, 0, sizeof rs);
        rc = __pa3__VerifyECDSASignature(h.soap, &rq, &rs);
        CU_ASSERT(rc == SOAP_OK && rs.signatureValid
                  && *rs.signatureValid == xsd__boolean__false_);
        h_close(&h);
        rq.activationId = id;
        rq.signature = "AAAA";
        h_open(&h);
        rc = __pa3__VerifyECDSASignature(h.soap, &rq, &rs);
        CU_ASSERT(h_fault(&h, rc, PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR));
        h_close(&h);
        rq.signature = NULL;
        h_open(&h);
        rc = __pa3__VerifyECDSASignature(h.soap, &rq, &rs);
        CU_ASSERT(h_fault(&h, rc, PA_ERR_INVALID_REQUEST));
        h_close(&h);
    }
    /* GetEciesDecryptor */
    {
        struct _pa3__GetEciesDecryptorRequest rq = {id, app.key, eph};
        struct _pa3__GetEciesDecryptorResponse rs;
        pa_ecies_decryptor_res res;
        third_party_answer ans;

        h_open(&h);
        memset(&rs, 0, sizeof rs);
        rc = __pa3__GetEciesDecryptor(h.soap, &rq, &rs);
        CU_ASSERT_EQUAL(rc, SOAP_OK);
        CU_ASSERT_PTR_NOT_NULL_FATAL(rs.secretKey);
        CU_ASSERT_PTR_NOT_NULL_FATAL(rs.sharedInfo2);
        res.secret_key = rs.secretKey;
        res.shared_info2 = rs.sharedInfo2;
        CU_ASSERT_EQUAL(third_party(&res, &cg, "{}", "{\"ok\":true}", &ans),
                        PA_OK);
        CU_ASSERT(device_reads(d, &ans, "{\"ok\":true}"));
        free(ans.ct);
        h_close(&h);
        rq.applicationKey = NULL;
        h_open(&h);
        rc = __pa3__GetEciesDecryptor(h.soap, &rq, &rs);
        CU_ASSERT(h_fault(&h, rc, PA_ERR_INVALID_REQUEST));
        h_close(&h);
        rq.applicationKey = app.key;
        rq.ephemeralPublicKey = NULL;
        h_open(&h);
        rc = __pa3__GetEciesDecryptor(h.soap, &rq, &rs);
        CU_ASSERT(h_fault(&h, rc, PA_ERR_INVALID_REQUEST));
        h_close(&h);
        rq.ephemeralPublicKey = eph;
        rq.activationId = (char *)unknown_id;
        h_open(&h);
        rc = __pa3__GetEciesDecryptor(h.soap, &rq, &rs);
        CU_ASSERT(h_fault(&h, rc, PA_ERR_ACTIVATION_NOT_FOUND));
        h_close(&h);
    }
    EXPECT_UNCHANGED(snap);
    free(sig);
    free(data_b64);
    free(eph);
    pa_ecies_cryptogram_free(&cg);
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
        {"non-personalized payload", test_offline_non_personalized},
        {"non-personalized payload: key pairs, faults",
         test_offline_non_personalized_keys},
        {"personalized payload", test_offline_personalized},
        {"personalized payload: record encryption", test_offline_record_encryption},
        {"VerifyECDSASignature", test_ecdsa},
        {"GetEciesDecryptor: application scope", test_decryptor_application_scope},
        {"GetEciesDecryptor: activation scope", test_decryptor_activation_scope},
        {"GetEciesDecryptor: scope binding", test_decryptor_scope_binding},
        {"GetEciesDecryptor: faults", test_decryptor_faults},
        {"SOAP handlers", test_handlers},
    };
    CU_pSuite s;
    unsigned failed;
    size_t i;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite_with_setup_and_teardown("readonly ops", NULL, NULL, setup,
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
