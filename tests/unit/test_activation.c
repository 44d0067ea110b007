/*
 * test_activation.c - the v3 activation lifecycle service
 * (src/service/activation*.c, src/service/lifecycle.c) called directly, no
 * SOAP, on a fresh migrated SQLite file per test.
 *
 * Every key exchange is played by the device emulator libpadevice, which
 * uses only the CLIENT halves of the crypto layer: when the service accepts
 * the device's request and the device accepts the service's answers
 * (layer-2 response, status blob with its ctrData hash, fingerprint), the
 * service did the server side right.
 *
 * Expectations come from shared/spec/CRYPTO.md (4, 6, 7, 15, 16, 18.2) and
 * shared/contract/DATABASE.md (2, 3, 4, 5.1, 5.4-5.6, 5.9, 5.11).  After
 * each call the database is read back - rows through the store API, and
 * history, outbox, NULL columns and whole-table snapshots with raw SQL on a
 * separate connection - so a test checks what was stored (or that nothing
 * was), not only the returned code.  Stored key material is checked with
 * OpenSSL directly (private key x G = public key; record decryption per
 * CRYPTO.md 16.3 recomputed here).
 *
 * Argon2 costs ~100 ms per hash (about ten times that under valgrind), so
 * the whole program does 12 OTP hashes and verifications (counted in the
 * comments of the OTP tests).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "cunit_status.h"
#include <CUnit/CUnit.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <sqlite3.h>

#include "crypto/primitives.h"
#include "service/activation.h"
#include "service/application.h"
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
static app_info app;             /* "bank", with two callback URLs */

/* An application made by the application service, with `callbacks`
 * callback URLs registered in the store. */
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
        char id[PA_UUID_BUF], nm[16];

        snprintf(nm, sizeof nm, "cb-%d", i);
        if (pa_uuid_v4(id) != PA_OK
            || pa_store_callback_create(db, id, out->id, nm,
                                        "http://127.0.0.1:9/callback") != PA_OK) {
            fprintf(stderr, "make_app: callback: %s\n", pa_store_last_error());
            abort();
        }
    }
}

static void setup(void)
{
    pa_tempdb_make("pa-act", dir, sizeof dir, path, sizeof path);
    if (pa_store_migrate(path, NULL) != PA_OK
        || pa_store_open(path, NULL, &db) != PA_OK
        || pa_config_defaults(&cfg) != PA_OK) {
        fprintf(stderr, "setup: %s\n", pa_store_last_error());
        abort();
    }
    env.store = db;
    env.cfg = &cfg;
    make_app("bank", 2, &app);
}

static void teardown(void)
{
    pa_config_free(&cfg);
    pa_store_close(db);
    db = NULL;
    pa_tempdb_remove(dir, path);
}

/* ---- raw SQL on a separate connection ---------------------------------------- */

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

#define CHECK_STR(a, b)                                                        \
    CU_assertImplementation(same_str((a), (b)) ? CU_TRUE : CU_FALSE, __LINE__, \
                            "CHECK_STR(" #a ", " #b ")", __FILE__, "",        \
                            CU_FALSE)

typedef struct rawq {
    sqlite3 *c;
    sqlite3_stmt *st;
} rawq;

/* A statement with up to two text parameters (NULL: left unbound). */
static int raw_open(rawq *q, int writable, const char *sql, const char *p1,
                    const char *p2)
{
    int flags = writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;

    memset(q, 0, sizeof *q);
    if (sqlite3_open_v2(path, &q->c, flags, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(q->c, sql, -1, &q->st, NULL) != SQLITE_OK) {
        fprintf(stderr, "\nraw SQL failed: %s: %s\n", sql,
                q->c ? sqlite3_errmsg(q->c) : "open");
        return 0;
    }
    sqlite3_busy_timeout(q->c, 5000);
    if (p1)
        sqlite3_bind_text(q->st, 1, p1, -1, SQLITE_TRANSIENT);
    if (p2)
        sqlite3_bind_text(q->st, 2, p2, -1, SQLITE_TRANSIENT);
    return 1;
}

static void raw_close(rawq *q)
{
    sqlite3_finalize(q->st);
    sqlite3_close(q->c);
    memset(q, 0, sizeof *q);
}

/* First column of the first row as an integer; -1 when there is no row. */
static long long q_int(const char *sql, const char *p1)
{
    rawq q;
    long long v = -1;

    if (raw_open(&q, 0, sql, p1, NULL) && sqlite3_step(q.st) == SQLITE_ROW)
        v = sqlite3_column_int64(q.st, 0);
    raw_close(&q);
    return v;
}

/* An UPDATE on the test database (test set-up of stored state). */
static void q_exec(const char *sql, const char *p1)
{
    rawq q;
    int rc = raw_open(&q, 1, sql, p1, NULL) ? sqlite3_step(q.st) : SQLITE_ERROR;

    CU_ASSERT_EQUAL(rc, SQLITE_DONE);
    raw_close(&q);
}

static long long n_rows(const char *table)
{
    char sql[128];

    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    return q_int(sql, NULL);
}

static long long n_history(const char *id)
{
    return q_int("SELECT count(*) FROM pa_activation_history"
                 " WHERE activation_id = ?1", id);
}

static long long n_outbox(const char *id)
{
    return q_int("SELECT count(*) FROM pa_callback_outbox"
                 " WHERE activation_id = ?1", id);
}

static int is_null(const char *column, const char *id)
{
    char sql[160];

    snprintf(sql, sizeof sql,
             "SELECT %s IS NULL FROM pa_activation WHERE activation_id = ?1",
             column);
    return q_int(sql, id) == 1;
}

/* The expected history of an activation, oldest first (DATABASE.md 5.1). */
typedef struct hrow {
    int status;
    const char *reason;
    const char *ext;
} hrow;

static void expect_history(int line, const char *id, const hrow *exp, size_t n)
{
    rawq q;
    size_t i = 0;
    int ok = raw_open(&q, 0,
                      "SELECT activation_status, event_reason, external_user_id"
                      " FROM pa_activation_history WHERE activation_id = ?1"
                      " ORDER BY id", id, NULL);

    while (ok && sqlite3_step(q.st) == SQLITE_ROW) {
        int st = sqlite3_column_int(q.st, 0);
        const char *r = (const char *)sqlite3_column_text(q.st, 1);
        const char *x = (const char *)sqlite3_column_text(q.st, 2);

        if (i >= n || st != exp[i].status || !same_str(r, exp[i].reason)
            || !same_str(x, exp[i].ext)) {
            fprintf(stderr, "\n  line %d: history row %zu: (%d, %s, %s)", line,
                    i, st, r ? r : "NULL", x ? x : "NULL");
            ok = 0;
        }
        i++;
    }
    if (i != n) {
        fprintf(stderr, "\n  line %d: %zu history rows, expected %zu", line, i, n);
        ok = 0;
    }
    raw_close(&q);
    CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line,
                            "EXPECT_HISTORY", __FILE__, "", CU_FALSE);
}

#define EXPECT_HISTORY(id, ...)                                               \
    expect_history(__LINE__, (id), (const hrow[]){__VA_ARGS__},               \
                   sizeof((const hrow[]){__VA_ARGS__}) / sizeof(hrow))

/* DATABASE.md 5.1: timestamp_last_change is the time of the last history
 * row. */
#define EXPECT_LAST_CHANGE(id)                                                \
    CU_ASSERT_EQUAL(q_int("SELECT a.timestamp_last_change = (SELECT"          \
                          " h.timestamp_created FROM pa_activation_history h" \
                          " WHERE h.activation_id = a.activation_id"          \
                          " ORDER BY h.id DESC LIMIT 1) FROM pa_activation a" \
                          " WHERE a.activation_id = ?1", (id)), 1)

/* Every row of the activation tables as text, to prove that a failed call
 * wrote nothing (malloc'ed). */
static char *snapshot(void)
{
    static const char *const sql[] = {
        "SELECT * FROM pa_activation ORDER BY activation_id",
        "SELECT * FROM pa_activation_history ORDER BY id",
        "SELECT * FROM pa_callback_outbox ORDER BY id"};
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

/* Compares with a snapshot taken before, and frees it. */
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

/* The row through the store API (zeroed when absent). */
static int load_row(const char *id, pa_store_activation *a)
{
    int found = 0;

    memset(a, 0, sizeof *a);
    CU_ASSERT_EQUAL(pa_store_activation_get(db, id, a, &found), PA_OK);
    CU_ASSERT(found);
    return found;
}

static int row_status(const char *id)
{
    return (int)q_int("SELECT activation_status FROM pa_activation"
                      " WHERE activation_id = ?1", id);
}

/* ---- independent checks of stored values ------------------------------------- */

/* Base64 with OpenSSL's decoder; -1 when not whole padded quads. */
static int b64dec(const char *in, unsigned char *out, size_t cap)
{
    size_t n = in ? strlen(in) : 0;
    int len, pad = 0;

    if (n == 0 || n % 4 != 0 || n / 4 * 3 > cap)
        return -1;
    pad = (in[n - 1] == '=') + (in[n - 2] == '=');
    len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
    return len < 0 ? -1 : len - pad;
}

/* priv (BigInteger form, CRYPTO.md 2.3) x G == the stored 65-byte point. */
static int priv_matches_pub(const unsigned char *priv, int privlen,
                            const char *pub_b64)
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    EC_POINT *p = g ? EC_POINT_new(g) : NULL;
    BIGNUM *k = BN_bin2bn(priv, privlen, NULL);
    unsigned char oct[65], pub[80];
    size_t n = 0;
    int publen = b64dec(pub_b64, pub, sizeof pub);
    int ok;

    if (g && p && k && privlen >= 1 && privlen <= 33 && (priv[0] & 0x80) == 0
        && EC_POINT_mul(g, p, k, NULL, NULL, NULL) == 1)
        n = EC_POINT_point2oct(g, p, POINT_CONVERSION_UNCOMPRESSED, oct,
                               sizeof oct, NULL);
    ok = n == 65 && publen == 65 && memcmp(oct, pub, 65) == 0;
    BN_clear_free(k);
    EC_POINT_free(p);
    EC_GROUP_free(g);
    return ok;
}

/* CRYPTO.md 16.2/16.3 recomputed: RECORD_KEY = REDUCE(HMAC(MASTER,
 * userId&activationId)), column = B64(IV || AES_CBC_ENC(RECORD_KEY, IV,
 * private key bytes)).  *total receives the decoded column length. */
static int record_decrypt(const uint8_t master[16], const char *user,
                          const char *id, const char *column,
                          unsigned char *out, int *outlen, int *total)
{
    unsigned char buf[256], mac[32], key[16];
    unsigned int maclen = 0;
    char index[512];
    int n = b64dec(column, buf, sizeof buf), l1 = 0, l2 = 0, i, ok;
    EVP_CIPHER_CTX *x;

    *total = n;
    *outlen = 0;
    if (n < 32)
        return 0;
    snprintf(index, sizeof index, "%s&%s", user, id);
    if (!HMAC(EVP_sha256(), master, 16, (const unsigned char *)index,
              strlen(index), mac, &maclen) || maclen != 32)
        return 0;
    for (i = 0; i < 16; i++)
        key[i] = mac[i] ^ mac[i + 16];
    x = EVP_CIPHER_CTX_new();
    ok = x && EVP_DecryptInit_ex(x, EVP_aes_128_cbc(), NULL, key, buf) == 1
         && EVP_DecryptUpdate(x, out, &l1, buf + 16, n - 16) == 1
         && EVP_DecryptFinal_ex(x, out + l1, &l2) == 1;
    EVP_CIPHER_CTX_free(x);
    *outlen = l1 + l2;
    return ok;
}

/* CRYPTO.md 4.3: four groups of five Base32 characters, CRC-16/ARC of the
 * ten random bytes in the last two, last character A or Q.  Checked here
 * with an own Base32 decoder and CRC. */
static int code_well_formed(const char *c)
{
    uint8_t b[12] = {0};
    unsigned acc = 0, bits = 0, crc = 0;
    size_t i, k = 0, j;

    if (!c || strlen(c) != 23)
        return 0;
    for (i = 0; i < 23; i++) {
        unsigned v;

        if (i == 5 || i == 11 || i == 17) {
            if (c[i] != '-')
                return 0;
            continue;
        }
        if (c[i] >= 'A' && c[i] <= 'Z')
            v = (unsigned)(c[i] - 'A');
        else if (c[i] >= '2' && c[i] <= '7')
            v = (unsigned)(c[i] - '2') + 26;
        else
            return 0;
        acc = (acc << 5) | v;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            if (k < sizeof b)
                b[k++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (k != sizeof b)
        return 0;
    for (i = 0; i < 10; i++) {
        crc ^= b[i];
        for (j = 0; j < 8; j++)
            crc = (crc & 1) ? (crc >> 1) ^ 0xA001 : crc >> 1;
    }
    return crc == (((unsigned)b[10] << 8) | b[11])
           && (c[22] == 'A' || c[22] == 'Q');
}

/* An Argon2i MCF string with the parameters of CRYPTO.md 15. */
static int is_argon2_hash(const char *h)
{
    static const char prefix[] = "$argon2i$v=19$m=32768,t=3,p=16$";

    return h && strncmp(h, prefix, sizeof prefix - 1) == 0;
}

/* ---- the device and the wire --------------------------------------------------- */

static pa_device *new_device(const app_info *a, const char *proto)
{
    pa_device *d = NULL;

    CU_ASSERT_EQUAL(pa_device_new(proto, a->key, a->secret, a->master_pub, &d),
                    PA_OK);
    return d;
}

/* A cryptogram as the SOAP request carries it: Base64 strings. */
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

/* The device's layer-2 activation request (CRYPTO.md 6.3 step 4). */
static int device_request(pa_device *d, const pa_device_activation_opts *o,
                          wire *w)
{
    memset(w, 0, sizeof *w);
    return pa_device_activation_request(d, o, &w->cg) == PA_OK && wire_encode(w);
}

/* Any plaintext encrypted like a layer-2 request: application scope,
 * "/pa/activation" (for malformed layer-2 documents). */
static int generic_request(pa_device *d, const char *plain, wire *w)
{
    memset(w, 0, sizeof *w);
    return pa_device_ecies_request(d, 0, PA_ECIES_SH1_ACTIVATION,
                                   (const uint8_t *)plain, strlen(plain), 1,
                                   &w->cg) == PA_OK
           && wire_encode(w);
}

/* Base64 text with the last decoded byte flipped (malloc'ed). */
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

/* A fresh valid P-256 public key, Base64 of the 65-byte point. */
static char *fresh_key_b64(void)
{
    pa_eckey *k = NULL;
    char *out = NULL;

    if (pa_ec_generate(&k) == PA_OK)
        pa_ec_pub_export_b64(k, &out);
    pa_ec_free(k);
    return out;
}

/* 0x04 || 64 bytes of 0x01: the right length, not a point of the curve. */
static const char *bad_point_b64(void)
{
    static char out[PA_B64_ENCLEN(65) + 1];
    uint8_t p[65];

    memset(p, 0x01, sizeof p);
    p[0] = 0x04;
    pa_b64_encode(p, sizeof p, out);
    return out;
}

static pa_err init_act(const char *user, const app_info *a, int mode,
                       const char *otp, pa_act_init_res *res)
{
    pa_act_init_req r = {.user_id = user, .application_id = a->id,
                         .otp_mode = mode, .otp = otp};

    return pa_activation_init(&env, &r, res);
}

static pa_err init_expired(const char *user, pa_act_init_res *res)
{
    pa_act_init_req r = {.user_id = user, .application_id = app.id,
                         .otp_mode = PA_OTP_NONE, .has_expire = 1,
                         .expire_ms = pa_time_now_ms() - 1000};

    return pa_activation_init(&env, &r, res);
}

static pa_err do_prepare(const char *code, const char *key, const wire *w,
                         pa_act_keyx_res *res)
{
    pa_act_prepare_req r = {code, key, wire_view(w)};

    return pa_activation_prepare(&env, &r, res);
}

static pa_err do_create(const char *user, const char *key, const char *otp,
                        int64_t max, const wire *w, pa_act_keyx_res *res)
{
    pa_act_create_req r = {.user_id = user, .application_key = key,
                           .has_max_failures = max > 0, .max_failures = max,
                           .otp = otp, .c = wire_view(w)};

    return pa_activation_create(&env, &r, res);
}

/* Decodes encryptedData and mac of a key-exchange answer. */
static int answer_bytes(const pa_act_keyx_res *res, uint8_t **ct, size_t *n,
                        uint8_t mac[32])
{
    *ct = NULL;
    *n = 0;
    return res->encrypted_data && res->mac
           && pa_b64_decode_alloc(res->encrypted_data, ct, n) == PA_OK
           && pa_b64_decode_exact(res->mac, mac, 32) == PA_OK;
}

/* The phone reads the key-exchange answer. */
static pa_err device_read(pa_device *d, const pa_act_keyx_res *res)
{
    uint8_t *ct = NULL, mac[32];
    size_t n = 0;
    pa_err e = answer_bytes(res, &ct, &n, mac)
                   ? pa_device_activation_response(d, ct, n, mac, sizeof mac)
                   : PA_ERR_INVALID_INPUT_FORMAT;

    free(ct);
    return e;
}

/* Prepare with the device's request, then the device reads the answer. */
static int exchange(pa_device *d, const char *code, const app_info *a,
                    const pa_device_activation_opts *o, pa_act_keyx_res *res)
{
    wire w;
    int ok = device_request(d, o, &w) && do_prepare(code, a->key, &w, res) == PA_OK
             && device_read(d, res) == PA_OK;

    wire_free(&w);
    return ok;
}

/* A PENDING_COMMIT activation (OTP mode NONE) with its device. */
static pa_device *pending(const char *user, const app_info *a,
                          char id[PA_UUID_BUF])
{
    pa_device_activation_opts o = {.compressed_eph = 1};
    pa_act_init_res ir;
    pa_act_keyx_res kr;
    pa_device *d = new_device(a, "3.1");
    int ok = d && init_act(user, a, PA_OTP_NONE, NULL, &ir) == PA_OK;

    memset(&kr, 0, sizeof kr);
    if (ok) {
        memcpy(id, ir.activation_id, PA_UUID_BUF);
        ok = exchange(d, ir.activation_code, a, &o, &kr);
        pa_act_init_res_free(&ir);
    }
    pa_act_keyx_res_free(&kr);
    CU_ASSERT_FATAL(ok);
    return d;
}

/* An ACTIVE activation with its device. */
static pa_device *active(const char *user, const app_info *a,
                         char id[PA_UUID_BUF])
{
    pa_device *d = pending(user, a, id);

    CU_ASSERT_EQUAL_FATAL(pa_activation_commit(&env, id, NULL, NULL), PA_OK);
    return d;
}

/* GetActivationStatus with the device's challenge; the device decrypts the
 * blob with the nonce (CRYPTO.md 7.3, 7.7).  *res is freed here. */
static int device_status(pa_device *d, const char *id, pa_device_status *st,
                         char fp[PA_FINGERPRINT_BUF])
{
    uint8_t ch[PA_STATUS_CHALLENGE_LEN], blob[PA_STATUS_BLOB_LEN];
    uint8_t nonce[PA_STATUS_NONCE_LEN];
    char chb[PA_B64_ENCLEN(16) + 1];
    pa_act_status_res r;
    int ok;

    memset(st, 0, sizeof *st);
    if (pa_device_status_challenge(d, ch) != PA_OK)
        return 0;
    pa_b64_encode(ch, sizeof ch, chb);
    if (pa_activation_status(&env, id, chb, &r) != PA_OK)
        return 0;
    ok = r.found && r.status_blob_nonce && !r.activation_code
         && !r.activation_signature
         && pa_b64_decode_exact(r.encrypted_status_blob, blob, sizeof blob) == PA_OK
         && pa_b64_decode_exact(r.status_blob_nonce, nonce, sizeof nonce) == PA_OK
         && pa_device_status_decrypt(d, blob, nonce, NULL, 0, st) == PA_OK;
    if (fp)
        snprintf(fp, PA_FINGERPRINT_BUF, "%s", r.fingerprint);
    pa_act_status_res_free(&r);
    return ok;
}

/* The blob fields of 7.1 a device reads for an activation of `status`. */
static void expect_blob(int line, const pa_device_status *st, int status,
                        int failed, int max)
{
    int ok = st->f.status == status && st->f.current_version == 3
             && st->f.upgrade_version == 3 && st->f.failed_attempts == failed
             && st->f.max_failed_attempts == max && st->f.ctr_look_ahead == 20
             && st->f.ctr_byte == 0 && st->hash_checked && st->hash_matches
             && st->distance == 0;

    if (!ok)
        fprintf(stderr, "\n  line %d: blob status %d version %d/%d fail %d/%d"
                " lookahead %d ctr %d hash %d/%d distance %d", line,
                st->f.status, st->f.current_version, st->f.upgrade_version,
                st->f.failed_attempts, st->f.max_failed_attempts,
                st->f.ctr_look_ahead, st->f.ctr_byte, st->hash_checked,
                st->hash_matches, st->distance);
    CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line,
                            "status blob", __FILE__, "", CU_FALSE);
}

#define EXPECT_BLOB(st, status, failed, max)                                  \
    expect_blob(__LINE__, (st), (status), (failed), (max))

#define C_ PA_STATUS_CREATED
#define PC_ PA_STATUS_PENDING_COMMIT
#define A_ PA_STATUS_ACTIVE
#define B_ PA_STATUS_BLOCKED
#define R_ PA_STATUS_REMOVED

/* ---- the full flow (CRYPTO.md 6.2, 4.4, 6.3, 6.6, 7, 6.5) ----------------------- */

static void full_flow(const char *proto, int compressed_eph, int compressed_dev)
{
    pa_device_activation_opts o = {
        .name = "Alice's phone", .platform = "Android", .device_info = "Pixel 7",
        .extras = "{\"x\":1}", .compressed_eph = compressed_eph,
        .compressed_device_key = compressed_dev};
    pa_act_init_res ir;
    pa_act_keyx_res kr;
    pa_act_status_res sr;
    pa_device_status st;
    pa_store_activation a;
    pa_device *d = new_device(&app, proto);
    unsigned char sig[128], pub[80], priv[48], ctr[32];
    uint8_t devpub[PA_EC_PUB_LEN], srvpub[PA_EC_PUB_LEN], blob[48];
    uint8_t *ct = NULL, *plain = NULL, mac[32];
    size_t ctn = 0, plain_n = 0;
    char id[PA_UUID_BUF], fp_dev[PA_FINGERPRINT_BUF], fp_srv[PA_FINGERPRINT_BUF];
    char expected[512], *snap;
    int valid = -1, n, privlen;
    wire w;

    CU_ASSERT_PTR_NOT_NULL_FATAL(d);

    /* InitActivation: a CREATED row (6.2 step 7, DATABASE.md 2) */
    CU_ASSERT_EQUAL_FATAL(init_act("alice", &app, PA_OTP_NONE, NULL, &ir), PA_OK);
    memcpy(id, ir.activation_id, sizeof id);
    CU_ASSERT(pa_uuid_is_v4(id));
    CU_ASSERT(code_well_formed(ir.activation_code));
    CU_ASSERT_FATAL(load_row(id, &a));
    CHECK_STR(a.user_id, "alice");
    CU_ASSERT_EQUAL(a.application_id, app.id);
    CHECK_STR(a.activation_code, ir.activation_code);
    CU_ASSERT_EQUAL(a.status, PA_STATUS_CREATED);
    CU_ASSERT_EQUAL(a.otp_validation, PA_OTP_NONE);
    CU_ASSERT_PTR_NULL(a.activation_otp);
    CU_ASSERT_EQUAL(a.counter, 0);
    CU_ASSERT_PTR_NULL(a.ctr_data);
    CU_ASSERT_PTR_NULL(a.device_public_key);
    CU_ASSERT_PTR_NULL(a.blocked_reason);
    CU_ASSERT_PTR_NULL(a.platform);
    CU_ASSERT_PTR_NULL(a.activation_name);
    CU_ASSERT_EQUAL(a.failed_attempts, 0);
    CU_ASSERT_EQUAL(a.max_failed_attempts, 5);              /* 18.1 */
    CU_ASSERT_EQUAL(a.server_private_key_encryption, 0);
    CU_ASSERT(is_null("version", id));
    CU_ASSERT(is_null("ctr_data", id));
    CU_ASSERT(is_null("device_public_key_base64", id));
    CU_ASSERT_EQUAL(a.expire_ms, a.created_ms + 120000);    /* 5.4 default */
    CU_ASSERT_EQUAL(a.last_used_ms, a.created_ms);
    CU_ASSERT(a.has_last_change && a.last_change_ms == a.created_ms);
    CU_ASSERT_EQUAL(q_int("SELECT a.master_keypair_id = k.id FROM pa_activation a"
                          " JOIN pa_master_keypair k"
                          " ON k.application_id = a.application_id"
                          " WHERE a.activation_id = ?1", id), 1);
    n = b64dec(a.server_public_key, pub, sizeof pub);
    CU_ASSERT(n == 65 && pub[0] == 0x04);
    privlen = b64dec(a.server_private_key, priv, sizeof priv);
    CU_ASSERT(priv_matches_pub(priv, privlen, a.server_public_key));
    pa_store_activation_free(&a);
    EXPECT_HISTORY(id, {C_, NULL, NULL});
    CU_ASSERT_EQUAL(n_outbox(id), 2);           /* one per callback URL */
    CU_ASSERT_EQUAL(q_int("SELECT count(DISTINCT callback_id) FROM"
                          " pa_callback_outbox WHERE activation_id = ?1", id), 2);
    EXPECT_LAST_CHANGE(id);

    /* The phone verifies the activation signature with the master key (4.4) */
    n = b64dec(ir.activation_signature, sig, sizeof sig);
    CU_ASSERT(n > 0);
    CU_ASSERT_EQUAL(pa_device_verify_activation_signature(d, ir.activation_code,
                                                          sig, (size_t)n, &valid),
                    PA_OK);
    CU_ASSERT_EQUAL(valid, 1);
    CU_ASSERT_EQUAL(pa_device_verify_activation_signature(
                        d, "AAAAA-AAAAA-AAAAA-AAAAA", sig, (size_t)n, &valid),
                    PA_OK);
    CU_ASSERT_EQUAL(valid, 0);

    /* GetActivationStatus while CREATED: code and a fresh signature, a
     * random blob, no nonce without challenge (7.6); a read, no write */
    snap = snapshot();
    CU_ASSERT_EQUAL_FATAL(pa_activation_status(&env, id, NULL, &sr), PA_OK);
    CU_ASSERT_EQUAL(sr.found, 1);
    CU_ASSERT_EQUAL(sr.a.status, PA_STATUS_CREATED);
    CHECK_STR(sr.activation_code, ir.activation_code);
    CU_ASSERT_PTR_NOT_NULL(sr.activation_signature);
    n = b64dec(sr.activation_signature, sig, sizeof sig);
    valid = 0;
    CU_ASSERT(n > 0 && pa_device_verify_activation_signature(
                           d, ir.activation_code, sig, (size_t)n, &valid) == PA_OK
              && valid == 1);
    CU_ASSERT_STRING_EQUAL(sr.fingerprint, "");
    CU_ASSERT_EQUAL(b64dec(sr.encrypted_status_blob, blob, sizeof blob), 32);
    CU_ASSERT_PTR_NULL(sr.status_blob_nonce);
    pa_act_status_res_free(&sr);
    CU_ASSERT_EQUAL(pa_activation_status(&env, id, "AAAAAAAAAAAAAAAAAAAAAA==",
                                         &sr), PA_OK);
    CU_ASSERT_EQUAL(b64dec(sr.status_blob_nonce, blob, sizeof blob), 16);
    pa_act_status_res_free(&sr);
    EXPECT_UNCHANGED(snap);

    /* PrepareActivation with the device's layer-2 request (6.3) */
    CU_ASSERT_FATAL(device_request(d, &o, &w));
    CU_ASSERT_EQUAL(w.cg.eph_len, compressed_eph ? 33u : 65u);
    CU_ASSERT_EQUAL(w.nonce != NULL, strcmp(proto, "3.1") == 0);
    CU_ASSERT_EQUAL_FATAL(do_prepare(ir.activation_code, app.key, &w, &kr), PA_OK);
    wire_free(&w);
    CU_ASSERT_STRING_EQUAL(kr.activation_id, id);
    CHECK_STR(kr.user_id, "alice");
    CU_ASSERT_EQUAL(kr.status, PA_STATUS_PENDING_COMMIT);
    CU_ASSERT_FATAL(load_row(id, &a));
    CU_ASSERT_EQUAL(a.status, PA_STATUS_PENDING_COMMIT);
    CU_ASSERT_EQUAL(a.version, 3);
    CU_ASSERT_EQUAL(b64dec(a.ctr_data, ctr, sizeof ctr), 16);
    /* the device key is stored uncompressed whatever was sent (2.2) */
    CU_ASSERT_EQUAL(pa_ec_pub_export(d->device_key, devpub), PA_OK);
    CU_ASSERT_EQUAL(b64dec(a.device_public_key, pub, sizeof pub), 65);
    CU_ASSERT(memcmp(pub, devpub, 65) == 0);
    CHECK_STR(a.activation_name, "Alice's phone");
    CHECK_STR(a.platform, "android");                    /* lower-cased */
    CHECK_STR(a.device_info, "Pixel 7");
    CHECK_STR(a.extras, "{\"x\":1}");
    CHECK_STR(a.activation_code, ir.activation_code);    /* kept for life */
    CU_ASSERT_EQUAL(a.failed_attempts, 0);
    CU_ASSERT_EQUAL(a.counter, 0);
    CU_ASSERT_PTR_NULL(a.activation_otp);
    EXPECT_HISTORY(id, {C_, NULL, NULL}, {PC_, NULL, NULL});
    CU_ASSERT_EQUAL(n_outbox(id), 4);
    EXPECT_LAST_CHANGE(id);

    /* The phone reads the answer: exactly the layer-2 JSON of 6.3 step 12
     * with the stored values, then stores the activation */
    CU_ASSERT_FATAL(answer_bytes(&kr, &ct, &ctn, mac));
    CU_ASSERT_EQUAL_FATAL(pa_device_open_response(d, PA_DEVICE_PENDING_ACTIVATION,
                                                  ct, ctn, mac, sizeof mac,
                                                  &plain, &plain_n), PA_OK);
    snprintf(expected, sizeof expected,
             "{\"activationId\":\"%s\",\"serverPublicKey\":\"%s\","
             "\"ctrData\":\"%s\",\"activationRecovery\":null}",
             id, a.server_public_key, a.ctr_data);
    CU_ASSERT(plain_n == strlen(expected)
              && memcmp(plain, expected, plain_n) == 0);
    pa_secure_free(plain, plain_n);
    free(ct);
    CU_ASSERT_EQUAL_FATAL(device_read(d, &kr), PA_OK);
    CHECK_STR(d->activation_id, id);
    CU_ASSERT_EQUAL(d->version, 3);
    CU_ASSERT(d->has_ctr_data && memcmp(d->ctr_data, ctr, 16) == 0);
    CU_ASSERT_EQUAL(pa_ec_pub_export(d->server_pub, srvpub), PA_OK);
    CU_ASSERT_EQUAL(b64dec(a.server_public_key, pub, sizeof pub), 65);
    CU_ASSERT(memcmp(pub, srvpub, 65) == 0);
    pa_store_activation_free(&a);
    pa_act_keyx_res_free(&kr);

    /* GetActivationStatus with a challenge: the fingerprints agree (6.6),
     * the device decrypts PENDING_COMMIT and its ctrData hash matches */
    snap = snapshot();
    CU_ASSERT_EQUAL(pa_device_fingerprint(d, fp_dev), PA_OK);
    CU_ASSERT_FATAL(device_status(d, id, &st, fp_srv));
    CU_ASSERT_STRING_EQUAL(fp_srv, fp_dev);
    CU_ASSERT_EQUAL(strlen(fp_srv), 8);
    EXPECT_BLOB(&st, PA_STATUS_PENDING_COMMIT, 0, 5);
    /* without a challenge: zero IV, no nonce (7.2) */
    CU_ASSERT_EQUAL_FATAL(pa_activation_status(&env, id, NULL, &sr), PA_OK);
    CU_ASSERT_PTR_NULL(sr.status_blob_nonce);
    CU_ASSERT_PTR_NULL(sr.activation_code);
    CU_ASSERT_EQUAL(pa_b64_decode_exact(sr.encrypted_status_blob, blob, 32), PA_OK);
    CU_ASSERT_EQUAL(pa_device_status_decrypt(d, blob, NULL, NULL, 0, &st), PA_OK);
    CU_ASSERT_EQUAL(st.f.status, PA_STATUS_PENDING_COMMIT);
    CU_ASSERT_EQUAL(st.f.current_version, 3);
    pa_act_status_res_free(&sr);
    EXPECT_UNCHANGED(snap);

    /* CommitActivation (6.5): ACTIVE, history with the external user */
    CU_ASSERT_EQUAL(pa_activation_commit(&env, id, "ops-1", NULL), PA_OK);
    CU_ASSERT_EQUAL(row_status(id), PA_STATUS_ACTIVE);
    EXPECT_HISTORY(id, {C_, NULL, NULL}, {PC_, NULL, NULL}, {A_, NULL, "ops-1"});
    CU_ASSERT_EQUAL(n_outbox(id), 6);
    EXPECT_LAST_CHANGE(id);
    /* timestamp_last_used: init time until a signature is verified */
    CU_ASSERT_EQUAL(q_int("SELECT timestamp_last_used = timestamp_created FROM"
                          " pa_activation WHERE activation_id = ?1", id), 1);
    CU_ASSERT_FATAL(device_status(d, id, &st, NULL));
    EXPECT_BLOB(&st, PA_STATUS_ACTIVE, 0, 5);

    pa_act_init_res_free(&ir);
    pa_device_free(d);
}

static void test_flow_30_uncompressed(void) { full_flow("3.0", 0, 0); }
static void test_flow_30_compressed(void) { full_flow("3.0", 1, 1); }
static void test_flow_31_compressed(void) { full_flow("3.1", 1, 1); }
static void test_flow_31_uncompressed(void) { full_flow("3.1", 0, 0); }

/* ---- CreateActivation (6.4) --------------------------------------------------- */

static void test_create_activation(void)
{
    /* the layer-2 activationOtp is ignored by CreateActivation (6.4 step 3) */
    pa_device_activation_opts o = {.otp = "layer2-otp", .name = "custom",
                                   .compressed_eph = 1,
                                   .compressed_device_key = 1};
    pa_device *d = new_device(&app, "3.1");
    pa_act_keyx_res kr;
    pa_store_activation a;
    pa_device_status st;
    unsigned char pub[80], ctr[32];
    uint8_t devpub[PA_EC_PUB_LEN];
    char id[PA_UUID_BUF];
    wire w;

    CU_ASSERT_FATAL(d && device_request(d, &o, &w));
    CU_ASSERT_EQUAL_FATAL(do_create("bob", app.key, NULL, 3, &w, &kr), PA_OK);
    wire_free(&w);
    memcpy(id, kr.activation_id, sizeof id);
    CU_ASSERT_EQUAL(kr.status, PA_STATUS_PENDING_COMMIT);
    CHECK_STR(kr.user_id, "bob");
    CU_ASSERT_EQUAL(n_rows("pa_activation"), 1);
    CU_ASSERT_FATAL(load_row(id, &a));
    CHECK_STR(a.user_id, "bob");
    CU_ASSERT_EQUAL(a.application_id, app.id);
    CU_ASSERT_EQUAL(a.status, PA_STATUS_PENDING_COMMIT);
    CU_ASSERT_EQUAL(a.otp_validation, PA_OTP_NONE);
    CU_ASSERT_PTR_NULL(a.activation_otp);
    CU_ASSERT_EQUAL(a.max_failed_attempts, 3);
    CU_ASSERT_EQUAL(a.version, 3);
    CU_ASSERT(code_well_formed(a.activation_code));
    CU_ASSERT_EQUAL(b64dec(a.ctr_data, ctr, sizeof ctr), 16);
    CU_ASSERT_EQUAL(pa_ec_pub_export(d->device_key, devpub), PA_OK);
    CU_ASSERT_EQUAL(b64dec(a.device_public_key, pub, sizeof pub), 65);
    CU_ASSERT(memcmp(pub, devpub, 65) == 0);
    CHECK_STR(a.platform, "unknown");
    CHECK_STR(a.activation_name, "custom");
    CU_ASSERT_EQUAL(a.failed_attempts, 0);
    CU_ASSERT_EQUAL(a.counter, 0);
    pa_store_activation_free(&a);
    EXPECT_HISTORY(id, {C_, NULL, NULL}, {PC_, NULL, NULL});
    CU_ASSERT_EQUAL(n_outbox(id), 4);
    EXPECT_LAST_CHANGE(id);

    CU_ASSERT_EQUAL_FATAL(device_read(d, &kr), PA_OK);
    CHECK_STR(d->activation_id, id);
    pa_act_keyx_res_free(&kr);
    CU_ASSERT_FATAL(device_status(d, id, &st, NULL));
    EXPECT_BLOB(&st, PA_STATUS_PENDING_COMMIT, 0, 3);

    CU_ASSERT_EQUAL(pa_activation_commit(&env, id, NULL, NULL), PA_OK);
    EXPECT_HISTORY(id, {C_, NULL, NULL}, {PC_, NULL, NULL}, {A_, NULL, NULL});
    CU_ASSERT_EQUAL(n_outbox(id), 6);
    CU_ASSERT_FATAL(device_status(d, id, &st, NULL));
    EXPECT_BLOB(&st, PA_STATUS_ACTIVE, 0, 3);
    pa_device_free(d);
}

/* ---- activation OTP (6.2 step 3, 6.5; DATABASE.md 5.1, 5.6) ------------------------ */

/* Layer-2 OTPs against mode NONE, no Argon2 involved. */
static void test_otp_none(void)
{
    pa_device_activation_opts with_otp = {.otp = "12345", .compressed_eph = 1};
    pa_act_init_res ir;
    pa_act_keyx_res kr;
    pa_device *d = new_device(&app, "3.1");
    char id[PA_UUID_BUF], *snap;
    wire w;

    CU_ASSERT_EQUAL_FATAL(init_act("nora", &app, PA_OTP_NONE, NULL, &ir), PA_OK);
    /* an OTP sent although none is expected: ERR0031 (6.5 step 1), nothing
     * written */
    snap = snapshot();
    CU_ASSERT_FATAL(device_request(d, &with_otp, &w));
    CU_ASSERT_EQUAL(do_prepare(ir.activation_code, app.key, &w, &kr),
                    PA_ERR_INVALID_ACTIVATION_OTP);
    wire_free(&w);
    EXPECT_UNCHANGED(snap);
    pa_device_free(d);
    pa_act_init_res_free(&ir);

    /* the same at commit */
    d = pending("nora", &app, id);
    snap = snapshot();
    CU_ASSERT_EQUAL(pa_activation_commit(&env, id, "ops", "12345"),
                    PA_ERR_INVALID_ACTIVATION_OTP);
    EXPECT_UNCHANGED(snap);
    CU_ASSERT_EQUAL(pa_activation_commit(&env, id, "ops", NULL), PA_OK);
    CU_ASSERT_EQUAL(row_status(id), PA_STATUS_ACTIVE);
    pa_device_free(d);
}

/* Argon2: init hash, wrong verify, right verify, update hash = 4. */
static void test_otp_on_key_exchange(void)
{
    pa_device_activation_opts none = {.compressed_eph = 1};
    pa_device_activation_opts wrong = {.otp = "00000-00000", .compressed_eph = 1};
    pa_device_activation_opts right = {.otp = "12345-67890", .compressed_eph = 0};
    pa_act_init_res ir;
    pa_act_keyx_res kr;
    pa_store_activation a;
    pa_device_status st;
    pa_device *d = new_device(&app, "3.0");
    const char *ids[1];
    char id[PA_UUID_BUF], *snap;
    wire w;

    CU_ASSERT_EQUAL_FATAL(init_act("olga", &app, PA_OTP_ON_KEY_EXCHANGE,
                                   "12345-67890", &ir), PA_OK);
    memcpy(id, ir.activation_id, sizeof id);
    ids[0] = id;
    CU_ASSERT_FATAL(load_row(id, &a));
    CU_ASSERT_EQUAL(a.otp_validation, PA_OTP_ON_KEY_EXCHANGE);
    CU_ASSERT(is_argon2_hash(a.activation_otp));
    CU_ASSERT(a.activation_otp && !strstr(a.activation_otp, "12345-67890"));
    pa_store_activation_free(&a);

    /* no OTP in layer 2: ERR0031 (6.5 step 3), not counted */
    snap = snapshot();
    CU_ASSERT_FATAL(device_request(d, &none, &w));
    CU_ASSERT_EQUAL(do_prepare(ir.activation_code, app.key, &w, &kr),
                    PA_ERR_INVALID_ACTIVATION_OTP);
    wire_free(&w);
    EXPECT_UNCHANGED(snap);

    /* wrong OTP: ERR0031, the failure is kept (6.5 step 5, 5.5), history
     * without callback (5.1) */
    CU_ASSERT_FATAL(device_request(d, &wrong, &w));
    CU_ASSERT_EQUAL(do_prepare(ir.activation_code, app.key, &w, &kr),
                    PA_ERR_INVALID_ACTIVATION_OTP);
    wire_free(&w);
    CU_ASSERT_FATAL(load_row(id, &a));
    CU_ASSERT_EQUAL(a.status, PA_STATUS_CREATED);
    CU_ASSERT_EQUAL(a.failed_attempts, 1);
    CU_ASSERT_PTR_NULL(a.device_public_key);
    CU_ASSERT_EQUAL(a.version, 0);
    pa_store_activation_free(&a);
    EXPECT_HISTORY(id, {C_, NULL, NULL}, {C_, "OTP_FAILED_ATTEMPT", NULL});
    CU_ASSERT_EQUAL(n_outbox(id), 2);
    EXPECT_LAST_CHANGE(id);

    /* right OTP: ACTIVE at once (6.3 step 9), failures reset */
    CU_ASSERT_FATAL(device_request(d, &right, &w));
    CU_ASSERT_EQUAL_FATAL(do_prepare(ir.activation_code, app.key, &w, &kr), PA_OK);
    wire_free(&w);
    CU_ASSERT_EQUAL(kr.status, PA_STATUS_ACTIVE);
    CU_ASSERT_EQUAL(device_read(d, &kr), PA_OK);
    pa_act_keyx_res_free(&kr);
    CU_ASSERT_FATAL(load_row(id, &a));
    CU_ASSERT_EQUAL(a.status, PA_STATUS_ACTIVE);
    CU_ASSERT_EQUAL(a.failed_attempts, 0);
    CU_ASSERT_EQUAL(a.version, 3);
    pa_store_activation_free(&a);
    EXPECT_HISTORY(id, {C_, NULL, NULL}, {C_, "OTP_FAILED_ATTEMPT", NULL},
                   {A_, NULL, NULL});
    CU_ASSERT_EQUAL(n_outbox(id), 4);
    CU_ASSERT_FATAL(device_status(d, id, &st, NULL));
    EXPECT_BLOB(&st, PA_STATUS_ACTIVE, 0, 5);

    /* nothing to commit any more: ERR0008 */
    snap = snapshot();
    CU_ASSERT_EQUAL(pa_activation_commit(&env, id, NULL, NULL),
                    PA_ERR_ACTIVATION_INCORRECT_STATE);
    EXPECT_UNCHANGED(snap);

    /* UpdateActivationOtp needs PENDING_COMMIT (put there by
     * UpdateStatusForActivations); mode ON_KEY_EXCHANGE refuses: ERR0032 */
    CU_ASSERT_EQUAL(pa_activation_update_statuses(&env, ids, 1,
                                                  PA_STATUS_PENDING_COMMIT),
                    PA_OK);
    snap = snapshot();
    CU_ASSERT_EQUAL(pa_activation_update_otp(&env, id, "ops", "99999-99999"),
                    PA_ERR_INVALID_ACTIVATION_OTP_MODE);
    EXPECT_UNCHANGED(snap);

    pa_act_init_res_free(&ir);
    pa_device_free(d);
}

/* Argon2: init hash, right verify = 2. */
static void test_otp_on_commit(void)
{
    pa_device_activation_opts with_otp = {.otp = "commit-otp", .compressed_eph = 1};
    pa_device_activation_opts none = {.compressed_eph = 1};
    pa_act_init_res ir;
    pa_act_keyx_res kr;
    pa_store_activation a;
    pa_device *d = new_device(&app, "3.1");
    char id[PA_UUID_BUF], *snap;
    wire w;

    CU_ASSERT_EQUAL_FATAL(init_act("paul", &app, PA_OTP_ON_COMMIT, "commit-otp",
                                   &ir), PA_OK);
    memcpy(id, ir.activation_id, sizeof id);
    CU_ASSERT_FATAL(load_row(id, &a));
    CU_ASSERT_EQUAL(a.otp_validation, PA_OTP_ON_COMMIT);
    CU_ASSERT(is_argon2_hash(a.activation_otp));
    pa_store_activation_free(&a);

    /* an OTP at the key exchange in mode ON_COMMIT: ERR0031 (6.5 step 2) */
    snap = snapshot();
    CU_ASSERT_FATAL(device_request(d, &with_otp, &w));
    CU_ASSERT_EQUAL(do_prepare(ir.activation_code, app.key, &w, &kr),
                    PA_ERR_INVALID_ACTIVATION_OTP);
    wire_free(&w);
    EXPECT_UNCHANGED(snap);

    /* without: PENDING_COMMIT */
    CU_ASSERT_FATAL(exchange(d, ir.activation_code, &app, &none, &kr));
    CU_ASSERT_EQUAL(kr.status, PA_STATUS_PENDING_COMMIT);
    pa_act_keyx_res_free(&kr);
    CU_ASSERT_EQUAL(row_status(id), PA_STATUS_PENDING_COMMIT);

    /* commit without the OTP: ERR0031, not counted (6.5 step 3) */
    snap = snapshot();
    CU_ASSERT_EQUAL(pa_activation_commit(&env, id, "ops-7", NULL),
                    PA_ERR_INVALID_ACTIVATION_OTP);
    EXPECT_UNCHANGED(snap);

    /* with the right one: ACTIVE */
    CU_ASSERT_EQUAL(pa_activation_commit(&env, id, "ops-7", "commit-otp"), PA_OK);
    CU_ASSERT_FATAL(load_row(id, &a));
    CU_ASSERT_EQUAL(a.status, PA_STATUS_ACTIVE);
    CU_ASSERT_EQUAL(a.failed_attempts, 0);
    pa_store_activation_free(&a);
    EXPECT_HISTORY(id, {C_, NULL, NULL}, {PC_, NULL, NULL}, {A_, NULL, "ops-7"});
    CU_ASSERT_EQUAL(n_outbox(id), 6);

    pa_act_init_res_free(&ir);
    pa_device_free(d);
}

/* CreateActivation with an OTP (mode ON_COMMIT, 6.4 step 2) and
 * maxFailureCount 2; wrong OTPs count up to REMOVED (6.5 step 5).
 * Argon2: create hash, two wrong verifies = 3. */
static void test_otp_wrong_to_removed(void)
{
    pa_device_activation_opts o = {.compressed_eph = 1};
    pa_act_keyx_res kr;
    pa_store_activation a;
    pa_device_status st;
    pa_device *d = new_device(&app, "3.1");
    char id[PA_UUID_BUF], *snap;
    wire w;

    CU_ASSERT_FATAL(device_request(d, &o, &w));
    CU_ASSERT_EQUAL_FATAL(do_create("quinn", app.key, "2468", 2, &w, &kr), PA_OK);
    wire_free(&w);
    memcpy(id, kr.activation_id, sizeof id);
    CU_ASSERT_EQUAL(device_read(d, &kr), PA_OK);
    pa_act_keyx_res_free(&kr);
    CU_ASSERT_FATAL(load_row(id, &a));
    CU_ASSERT_EQUAL(a.status, PA_STATUS_PENDING_COMMIT);
    CU_ASSERT_EQUAL(a.otp_validation, PA_OTP_ON_COMMIT);
    CU_ASSERT(is_argon2_hash(a.activation_otp));
    CU_ASSERT_EQUAL(a.max_failed_attempts, 2);
    pa_store_activation_free(&a);

    /* first wrong OTP: counted, history OTP_FAILED_ATTEMPT with the
     * external user, no callback */
    CU_ASSERT_EQUAL(pa_activation_commit(&env, id, "op-x", "1357"),
                    PA_ERR_INVALID_ACTIVATION_OTP);
    CU_ASSERT_FATAL(load_row(id, &a));
    CU_ASSERT_EQUAL(a.status, PA_STATUS_PENDING_COMMIT);
    CU_ASSERT_EQUAL(a.failed_attempts, 1);
    pa_store_activation_free(&a);
    EXPECT_HISTORY(id, {C_, NULL, NULL}, {PC_, NULL, NULL},
                   {PC_, "OTP_FAILED_ATTEMPT", "op-x"});
    CU_ASSERT_EQUAL(n_outbox(id), 4);
    EXPECT_LAST_CHANGE(id);

    /* second: the limit, REMOVED with OTP_MAX_FAILED_ATTEMPTS and a
     * callback */
    CU_ASSERT_EQUAL(pa_activation_commit(&env, id, "op-y", "9999"),
                    PA_ERR_INVALID_ACTIVATION_OTP);
    CU_ASSERT_FATAL(load_row(id, &a));
    CU_ASSERT_EQUAL(a.status, PA_STATUS_REMOVED);
    CU_ASSERT_EQUAL(a.failed_attempts, 2);
    pa_store_activation_free(&a);
    EXPECT_HISTORY(id, {C_, NULL, NULL}, {PC_, NULL, NULL},
                   {PC_, "OTP_FAILED_ATTEMPT", "op-x"},
                   {R_, "OTP_MAX_FAILED_ATTEMPTS", "op-y"});
    CU_ASSERT_EQUAL(n_outbox(id), 6);
    EXPECT_LAST_CHANGE(id);

    /* even the right OTP now meets REMOVED: ERR0007 (6.5) */
    snap = snapshot();
    CU_ASSERT_EQUAL(pa_activation_commit(&env, id, NULL, "2468"),
                    PA_ERR_ACTIVATION_EXPIRED);
    EXPECT_UNCHANGED(snap);
    CU_ASSERT_FATAL(device_status(d, id, &st, NULL));
    CU_ASSERT_EQUAL(st.f.status, PA_STATUS_REMOVED);
    CU_ASSERT_EQUAL(st.f.failed_attempts, 2);
    CU_ASSERT_EQUAL(st.f.max_failed_attempts, 2);
    pa_device_free(d);
}

/* UpdateActivationOtp (6.5). Argon2: update hash, commit verify, update
 * hash = 3. */
static void test_update_otp(void)
{
    pa_store_activation a;
    char id[PA_UUID_BUF], *snap;
    pa_device *d = pending("rita", &app, id);

    /* an empty or absent OTP: ERR0024 */
    snap = snapshot();
    CU_ASSERT_EQUAL(pa_activation_update_otp(&env, id, "ops", ""),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_activation_update_otp(&env, id, "ops", NULL),
                    PA_ERR_INVALID_REQUEST);
    EXPECT_UNCHANGED(snap);

    CU_ASSERT_EQUAL(pa_activation_update_otp(&env, id, "ops-2", "55555"), PA_OK);
    CU_ASSERT_FATAL(load_row(id, &a));
    CU_ASSERT_EQUAL(a.status, PA_STATUS_PENDING_COMMIT);
    CU_ASSERT_EQUAL(a.otp_validation, PA_OTP_ON_COMMIT);
    CU_ASSERT(is_argon2_hash(a.activation_otp));
    pa_store_activation_free(&a);
    EXPECT_HISTORY(id, {C_, NULL, NULL}, {PC_, NULL, NULL},
                   {PC_, "OTP_VALUE_UPDATE", "ops-2"});
    CU_ASSERT_EQUAL(n_outbox(id), 6);
    EXPECT_LAST_CHANGE(id);

    CU_ASSERT_EQUAL(pa_activation_commit(&env, id, NULL, "55555"), PA_OK);
    CU_ASSERT_EQUAL(row_status(id), PA_STATUS_ACTIVE);
    CU_ASSERT_FATAL(load_row(id, &a));
    CU_ASSERT_EQUAL(a.failed_attempts, 0);
    pa_store_activation_free(&a);

    /* not PENDING_COMMIT any more: ERR0008, nothing written */
    snap = snapshot();
    CU_ASSERT_EQUAL(pa_activation_update_otp(&env, id, "ops-3", "66666"),
                    PA_ERR_ACTIVATION_INCORRECT_STATE);
    EXPECT_UNCHANGED(snap);
    pa_device_free(d);
}

/* ---- record encryption (CRYPTO.md 16; DATABASE.md 4) ---------------------------- */

static void test_record_encryption(void)
{
    static const uint8_t master[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
                                       0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
                                       0xcc, 0xdd, 0xee, 0xff};
    pa_store_activation a;
    pa_act_status_res sr;
    pa_act_init_res ir;
    pa_device_status st;
    pa_device *d;
    unsigned char priv[128];
    char id[PA_UUID_BUF], *snap;
    int privlen = 0, total = 0, any = 0;

    cfg.master_db_encryption_key_set = true;
    memcpy(cfg.master_db_encryption_key, master, sizeof master);
    d = pending("sara", &app, id);

    /* mode 1, Base64(IV || AES-CBC(RECORD_KEY, IV, key)), bound to
     * userId&activationId: decrypted here, the key belongs to the stored
     * public key */
    CU_ASSERT_FATAL(load_row(id, &a));
    CU_ASSERT_EQUAL(a.server_private_key_encryption, 1);
    CU_ASSERT(record_decrypt(master, "sara", id, a.server_private_key, priv,
                             &privlen, &total));
    CU_ASSERT(priv_matches_pub(priv, privlen, a.server_public_key));
    CU_ASSERT_EQUAL(total, 16 + (privlen / 16 + 1) * 16);
    CU_ASSERT(privlen < 32 || strlen(a.server_private_key) == 88);
    /* bound to the index string: another user id does not decrypt it to
     * the key */
    CU_ASSERT(!record_decrypt(master, "someone", id, a.server_private_key, priv,
                              &privlen, &total)
              || !priv_matches_pub(priv, privlen, a.server_public_key));
    pa_store_activation_free(&a);
    CU_ASSERT_EQUAL(pa_store_has_encrypted_records(db, &any), PA_OK);
    CU_ASSERT_EQUAL(any, 1);

    /* the flow goes on with the encrypted key */
    CU_ASSERT_FATAL(device_status(d, id, &st, NULL));
    EXPECT_BLOB(&st, PA_STATUS_PENDING_COMMIT, 0, 5);
    CU_ASSERT_EQUAL(pa_activation_commit(&env, id, NULL, NULL), PA_OK);
    CU_ASSERT_FATAL(device_status(d, id, &st, NULL));
    EXPECT_BLOB(&st, PA_STATUS_ACTIVE, 0, 5);

    /* without the key the row cannot be used: ERR0020 (16.2), no write */
    cfg.master_db_encryption_key_set = false;
    memset(cfg.master_db_encryption_key, 0, sizeof cfg.master_db_encryption_key);
    snap = snapshot();
    CU_ASSERT_EQUAL(pa_activation_status(&env, id, "AAAAAAAAAAAAAAAAAAAAAA==", &sr),
                    PA_ERR_MISSING_MASTER_DB_ENCRYPTION_KEY);
    CU_ASSERT_EQUAL(pa_activation_status(&env, id, NULL, &sr),
                    PA_ERR_MISSING_MASTER_DB_ENCRYPTION_KEY);
    EXPECT_UNCHANGED(snap);

    /* rows written without a key are mode 0 (DATABASE.md 4) */
    CU_ASSERT_EQUAL_FATAL(init_act("sara", &app, PA_OTP_NONE, NULL, &ir), PA_OK);
    CU_ASSERT_FATAL(load_row(ir.activation_id, &a));
    CU_ASSERT_EQUAL(a.server_private_key_encryption, 0);
    privlen = b64dec(a.server_private_key, priv, sizeof priv);
    CU_ASSERT(priv_matches_pub(priv, privlen, a.server_public_key));
    pa_store_activation_free(&a);
    pa_act_init_res_free(&ir);
    pa_device_free(d);
}

/* ---- lazy expiry (DATABASE.md 5.4, CRYPTO.md 6.7) ---------------------------------- */

static void test_expiry_status(void)
{
    pa_act_init_res ir;
    pa_act_status_res sr;
    pa_store_activation a;
    char id[PA_UUID_BUF], *snap;

    /* InitActivation accepts a deadline in the past: still CREATED */
    CU_ASSERT_EQUAL_FATAL(init_expired("tom", &ir), PA_OK);
    memcpy(id, ir.activation_id, sizeof id);
    pa_act_init_res_free(&ir);
    CU_ASSERT_FATAL(load_row(id, &a));
    CU_ASSERT_EQUAL(a.status, PA_STATUS_CREATED);
    CU_ASSERT(a.expire_ms < pa_time_now_ms());
    pa_store_activation_free(&a);

    /* GetActivationStatus expires it: REMOVED with one history row and a
     * callback; no code, no nonce (REMOVED without a device key, 7.6) */
    CU_ASSERT_EQUAL_FATAL(pa_activation_status(&env, id, "AAAAAAAAAAAAAAAAAAAAAA==",
                                               &sr), PA_OK);
    CU_ASSERT_EQUAL(sr.found, 1);
    CU_ASSERT_EQUAL(sr.a.status, PA_STATUS_REMOVED);
    CU_ASSERT_PTR_NULL(sr.activation_code);
    CU_ASSERT_PTR_NULL(sr.activation_signature);
    CU_ASSERT_PTR_NULL(sr.status_blob_nonce);
    CU_ASSERT_PTR_NOT_NULL(sr.encrypted_status_blob);
    pa_act_status_res_free(&sr);
    CU_ASSERT_EQUAL(row_status(id), PA_STATUS_REMOVED);
    EXPECT_HISTORY(id, {C_, NULL, NULL}, {R_, NULL, NULL});
    CU_ASSERT_EQUAL(n_outbox(id), 4);
    EXPECT_LAST_CHANGE(id);

    /* once REMOVED it is not expired again */
    snap = snapshot();
    CU_ASSERT_EQUAL(pa_activation_status(&env, id, NULL, &sr), PA_OK);
    CU_ASSERT_EQUAL(sr.a.status, PA_STATUS_REMOVED);
    pa_act_status_res_free(&sr);
    EXPECT_UNCHANGED(snap);
}

static void test_expiry_prepare_commit(void)
{
    pa_device_activation_opts o = {.compressed_eph = 1};
    pa_act_init_res ir;
    pa_act_keyx_res kr;
    pa_device *d = new_device(&app, "3.1");
    char id[PA_UUID_BUF], *snap;
    wire w;

    /* PrepareActivation only finds unexpired codes: ERR0009, the row is
     * left CREATED (5.4) */
    CU_ASSERT_EQUAL_FATAL(init_expired("uma", &ir), PA_OK);
    snap = snapshot();
    CU_ASSERT_FATAL(device_request(d, &o, &w));
    CU_ASSERT_EQUAL(do_prepare(ir.activation_code, app.key, &w, &kr),
                    PA_ERR_ACTIVATION_NOT_FOUND);
    wire_free(&w);
    EXPECT_UNCHANGED(snap);
    CU_ASSERT_EQUAL(row_status(ir.activation_id), PA_STATUS_CREATED);
    pa_act_init_res_free(&ir);
    pa_device_free(d);

    /* CommitActivation of a PENDING_COMMIT past its deadline: REMOVED is
     * kept (with a system history row: no external user), then ERR0007 */
    d = pending("uma", &app, id);
    q_exec("UPDATE pa_activation SET timestamp_activation_expire ="
           " timestamp_activation_expire - 1000000 WHERE activation_id = ?1", id);
    CU_ASSERT_EQUAL(pa_activation_commit(&env, id, "ops", NULL),
                    PA_ERR_ACTIVATION_EXPIRED);
    CU_ASSERT_EQUAL(row_status(id), PA_STATUS_REMOVED);
    EXPECT_HISTORY(id, {C_, NULL, NULL}, {PC_, NULL, NULL}, {R_, NULL, NULL});
    CU_ASSERT_EQUAL(n_outbox(id), 6);
    EXPECT_LAST_CHANGE(id);
    pa_device_free(d);
}

static void test_expiry_lists_and_create(void)
{
    pa_device_activation_opts o = {.compressed_eph = 1};
    pa_store_activation_array arr;
    const char *users[] = {"vera"};
    pa_store_activation_query q = {.user_ids = users, .user_id_count = 1};
    pa_act_init_res ir;
    pa_act_keyx_res kr;
    pa_device *d = new_device(&app, "3.1");
    char *snap;
    wire w;
    pa_act_create_req cr;

    CU_ASSERT_EQUAL_FATAL(init_expired("vera", &ir), PA_OK);

    /* LookupActivations shows the stored status and writes nothing */
    snap = snapshot();
    CU_ASSERT_EQUAL(pa_activation_lookup(&env, &q, &arr), PA_OK);
    CU_ASSERT_EQUAL(arr.count, 1);
    CU_ASSERT(arr.count == 1 && arr.items[0].status == PA_STATUS_CREATED);
    pa_store_activation_array_free(&arr);
    EXPECT_UNCHANGED(snap);

    /* GetActivationListForUser expires each row it lists */
    CU_ASSERT_EQUAL(pa_activation_list_for_user(&env, "vera", 0, 0, &arr), PA_OK);
    CU_ASSERT_EQUAL(arr.count, 1);
    CU_ASSERT(arr.count == 1 && arr.items[0].status == PA_STATUS_REMOVED);
    pa_store_activation_array_free(&arr);
    CU_ASSERT_EQUAL(row_status(ir.activation_id), PA_STATUS_REMOVED);
    EXPECT_HISTORY(ir.activation_id, {C_, NULL, NULL}, {R_, NULL, NULL});
    CU_ASSERT_EQUAL(n_outbox(ir.activation_id), 4);
    pa_act_init_res_free(&ir);

    /* CreateActivation with a deadline already past: expired right after
     * init, ERR0007, and being all-or-nothing it leaves nothing (5.4, 6.4) */
    snap = snapshot();
    CU_ASSERT_FATAL(device_request(d, &o, &w));
    cr = (pa_act_create_req){.user_id = "walt", .application_key = app.key,
                             .has_expire = 1,
                             .expire_ms = pa_time_now_ms() - 1000,
                             .c = wire_view(&w)};
    CU_ASSERT_EQUAL(pa_activation_create(&env, &cr, &kr), PA_ERR_ACTIVATION_EXPIRED);
    wire_free(&w);
    EXPECT_UNCHANGED(snap);
    CU_ASSERT_EQUAL(q_int("SELECT count(*) FROM pa_activation WHERE user_id = ?1",
                          "walt"), 0);
    pa_device_free(d);
}

/* ---- faults: InitActivation (6.2) ------------------------------------------------- */

static void test_init_faults(void)
{
    pa_act_init_res ir;
    pa_act_init_req r;
    int64_t bare = 0;
    char user[600], *snap;
    size_t i;

    CU_ASSERT_EQUAL_FATAL(pa_store_application_create(db, "bare", &bare), PA_OK);
    snap = snapshot();
    /* userId null, empty, longer than 255 characters: ERR0001 */
    CU_ASSERT_EQUAL(init_act(NULL, &app, PA_OTP_NONE, NULL, &ir), PA_ERR_NO_USER_ID);
    CU_ASSERT_EQUAL(init_act("", &app, PA_OTP_NONE, NULL, &ir), PA_ERR_NO_USER_ID);
    memset(user, 'a', 256);
    user[256] = '\0';
    CU_ASSERT_EQUAL(init_act(user, &app, PA_OTP_NONE, NULL, &ir), PA_ERR_NO_USER_ID);
    /* applicationId 0: ERR0002 */
    r = (pa_act_init_req){.user_id = "xena", .application_id = 0};
    CU_ASSERT_EQUAL(pa_activation_init(&env, &r, &ir), PA_ERR_NO_APPLICATION_ID);
    /* unknown application, application without key pair: ERR0003 */
    r.application_id = 4242;
    CU_ASSERT_EQUAL(pa_activation_init(&env, &r, &ir),
                    PA_ERR_NO_MASTER_SERVER_KEYPAIR);
    r.application_id = bare;
    CU_ASSERT_EQUAL(pa_activation_init(&env, &r, &ir),
                    PA_ERR_NO_MASTER_SERVER_KEYPAIR);
    /* OTP and mode disagree: ERR0024 (6.2 step 3; no Argon2 spent) */
    CU_ASSERT_EQUAL(init_act("xena", &app, PA_OTP_NONE, "123", &ir),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(init_act("xena", &app, PA_OTP_ON_KEY_EXCHANGE, NULL, &ir),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(init_act("xena", &app, PA_OTP_ON_COMMIT, "", &ir),
                    PA_ERR_INVALID_REQUEST);
    EXPECT_UNCHANGED(snap);
    CU_ASSERT_EQUAL(n_rows("pa_activation"), 0);
    CU_ASSERT_EQUAL(n_rows("pa_activation_history"), 0);
    CU_ASSERT_EQUAL(n_rows("pa_callback_outbox"), 0);

    /* 255 characters (counted as characters, not bytes) are accepted */
    for (i = 0; i < 255; i++)
        memcpy(user + 2 * i, "\xc3\xa9", 2);
    user[510] = '\0';
    CU_ASSERT_EQUAL_FATAL(init_act(user, &app, PA_OTP_NONE, NULL, &ir), PA_OK);
    CU_ASSERT_EQUAL(q_int("SELECT user_id = ?1 FROM pa_activation", user), 1);
    pa_act_init_res_free(&ir);
}

/* The application's latest key pair signs and decrypts (4.4, 6.2 step 4,
 * 6.3 step 2); an unusable latest private key is ERR0004. */
static void test_latest_master_keypair(void)
{
    pa_device_activation_opts o = {.compressed_eph = 1};
    pa_act_init_res ir;
    pa_act_keyx_res kr;
    pa_eckey *k = NULL;
    pa_device *old_dev = new_device(&app, "3.1"), *new_dev = NULL;
    app_info fresh = app;
    unsigned char sig[128];
    char *priv = NULL, *pub = NULL, *snap, idbuf[32];
    int64_t kid = 0, bad1 = 0, bad2 = 0, t = pa_time_now_ms();
    int n, valid = -1;
    long long linked = -1;
    rawq q;
    wire w;

    /* unusable latest private keys: d = 0 (CRYPTO.md 2.3), not Base64 */
    CU_ASSERT_EQUAL_FATAL(pa_ec_generate(&k), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_ec_priv_export_b64(k, &priv), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_ec_pub_export_b64(k, &pub), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_master_keypair_create(db, app.id, "zero", "AA==",
                                                         pub, t + 1000, &bad1),
                          PA_OK);
    snap = snapshot();
    CU_ASSERT_EQUAL(init_act("kim", &app, PA_OTP_NONE, NULL, &ir),
                    PA_ERR_INCORRECT_MASTER_SERVER_KEYPAIR_PRIVATE);
    CU_ASSERT_EQUAL_FATAL(pa_store_master_keypair_create(db, app.id, "junk",
                                                         "not base64!", pub,
                                                         t + 2000, &bad2), PA_OK);
    CU_ASSERT_EQUAL(init_act("kim", &app, PA_OTP_NONE, NULL, &ir),
                    PA_ERR_INCORRECT_MASTER_SERVER_KEYPAIR_PRIVATE);
    EXPECT_UNCHANGED(snap);

    /* a valid newer pair: it is linked, signs the code, decrypts layer 2 */
    CU_ASSERT_EQUAL_FATAL(pa_store_master_keypair_create(db, app.id, "second", priv,
                                                         pub, t + 3000, &kid),
                          PA_OK);
    CU_ASSERT_EQUAL_FATAL(init_act("kim", &app, PA_OTP_NONE, NULL, &ir), PA_OK);
    snprintf(idbuf, sizeof idbuf, "%lld", (long long)kid);
    if (raw_open(&q, 0, "SELECT master_keypair_id = CAST(?2 AS INTEGER) FROM"
                 " pa_activation WHERE activation_id = ?1", ir.activation_id,
                 idbuf) && sqlite3_step(q.st) == SQLITE_ROW)
        linked = sqlite3_column_int64(q.st, 0);
    raw_close(&q);
    CU_ASSERT_EQUAL(linked, 1);
    snprintf(fresh.master_pub, sizeof fresh.master_pub, "%s", pub);
    new_dev = new_device(&fresh, "3.1");
    CU_ASSERT_FATAL(new_dev != NULL);
    n = b64dec(ir.activation_signature, sig, sizeof sig);
    CU_ASSERT(n > 0 && pa_device_verify_activation_signature(
                           new_dev, ir.activation_code, sig, (size_t)n, &valid)
                           == PA_OK && valid == 1);
    CU_ASSERT(n > 0 && pa_device_verify_activation_signature(
                           old_dev, ir.activation_code, sig, (size_t)n, &valid)
                           == PA_OK && valid == 0);
    /* a device with the old master key cannot reach the server: ERR0018 */
    snap = snapshot();
    CU_ASSERT_FATAL(device_request(old_dev, &o, &w));
    CU_ASSERT_EQUAL(do_prepare(ir.activation_code, app.key, &w, &kr),
                    PA_ERR_DECRYPTION_FAILED);
    wire_free(&w);
    EXPECT_UNCHANGED(snap);
    CU_ASSERT(exchange(new_dev, ir.activation_code, &fresh, &o, &kr));
    CU_ASSERT_EQUAL(kr.status, PA_STATUS_PENDING_COMMIT);
    pa_act_keyx_res_free(&kr);

    pa_act_init_res_free(&ir);
    free(priv);
    free(pub);
    pa_ec_free(k);
    pa_device_free(old_dev);
    pa_device_free(new_dev);
}

/* ---- faults: PrepareActivation (6.3) ------------------------------------------------ */

static void test_prepare_faults(void)
{
    pa_device_activation_opts o = {.compressed_eph = 1};
    pa_act_init_res ir;
    pa_act_keyx_res kr;
    pa_act_prepare_req pr;
    pa_store_version old;
    app_info other;
    pa_device *d = new_device(&app, "3.1"), *d2;
    int64_t bare = 0, bare_ver = 0;
    char doc[512], *k, *bad_mac, *bad_data, *snap, id[PA_UUID_BUF];
    wire w, w2, g;

    make_app("other", 0, &other);
    d2 = new_device(&other, "3.1");
    CU_ASSERT_EQUAL_FATAL(pa_store_application_create(db, "bare", &bare), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_version_create(db, bare, "v", "YmFyZS1rZXktLS0tLS0tLQ==",
                                                  "YmFyZS1zZWNyZXQtLS0tLQ==",
                                                  &bare_ver), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_application_version_create(db, app.id, "old", &old),
                          PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_application_version_support(db, old.id, 0), PA_OK);
    CU_ASSERT_EQUAL_FATAL(init_act("yves", &app, PA_OTP_NONE, NULL, &ir), PA_OK);
    memcpy(id, ir.activation_id, sizeof id);
    CU_ASSERT_FATAL(d && d2 && device_request(d, &o, &w) && device_request(d2, &o, &w2));

    snap = snapshot();
    /* application key unknown or unsupported: ERR0007 (6.3 step 1) */
    CU_ASSERT_EQUAL(do_prepare(ir.activation_code, "bm8tc3VjaC1rZXk=", &w, &kr),
                    PA_ERR_ACTIVATION_EXPIRED);
    CU_ASSERT_EQUAL(do_prepare(ir.activation_code, old.application_key, &w, &kr),
                    PA_ERR_ACTIVATION_EXPIRED);
    /* application without master key pair: ERR0003 (step 2) */
    CU_ASSERT_EQUAL(do_prepare(ir.activation_code, "YmFyZS1rZXktLS0tLS0tLQ==", &w,
                               &kr), PA_ERR_NO_MASTER_SERVER_KEYPAIR);
    /* tampered MAC or data: ERR0018 (step 3) */
    bad_mac = tamper_b64(w.mac);
    bad_data = tamper_b64(w.data);
    pr = (pa_act_prepare_req){ir.activation_code, app.key,
                              {w.eph, w.data, bad_mac, w.nonce}};
    CU_ASSERT_EQUAL(pa_activation_prepare(&env, &pr, &kr), PA_ERR_DECRYPTION_FAILED);
    pr.c = (pa_act_cryptogram){w.eph, bad_data, w.mac, w.nonce};
    CU_ASSERT_EQUAL(pa_activation_prepare(&env, &pr, &kr), PA_ERR_DECRYPTION_FAILED);
    free(bad_mac);
    free(bad_data);
    /* layer-2 JSON with an unknown property, not JSON, empty: ERR0011 */
    k = fresh_key_b64();
    CU_ASSERT_FATAL(k != NULL);
    snprintf(doc, sizeof doc,
             "{\"devicePublicKey\":\"%s\",\"unknownProperty\":\"x\"}", k);
    CU_ASSERT_FATAL(generic_request(d, doc, &g));
    CU_ASSERT_EQUAL(do_prepare(ir.activation_code, app.key, &g, &kr),
                    PA_ERR_INVALID_INPUT_FORMAT);
    wire_free(&g);
    CU_ASSERT_FATAL(generic_request(d, "devicePublicKey=x", &g));
    CU_ASSERT_EQUAL(do_prepare(ir.activation_code, app.key, &g, &kr),
                    PA_ERR_INVALID_INPUT_FORMAT);
    wire_free(&g);
    CU_ASSERT_FATAL(generic_request(d, "", &g));
    CU_ASSERT_EQUAL(do_prepare(ir.activation_code, app.key, &g, &kr),
                    PA_ERR_INVALID_INPUT_FORMAT);
    wire_free(&g);
    /* unknown code; a code of another application: ERR0009 (step 5) */
    CU_ASSERT_EQUAL(do_prepare("AAAAA-AAAAA-AAAAA-AAAAA", app.key, &w, &kr),
                    PA_ERR_ACTIVATION_NOT_FOUND);
    CU_ASSERT_EQUAL(do_prepare(ir.activation_code, other.key, &w2, &kr),
                    PA_ERR_ACTIVATION_NOT_FOUND);
    EXPECT_UNCHANGED(snap);

    /* an invalid device key burns the activation: REMOVED is kept with
     * history and callback, the call fails ERR0009 (step 7, 5.1, 5.5) */
    snprintf(doc, sizeof doc, "{\"devicePublicKey\":\"%s\",\"platform\":\"ios\"}",
             bad_point_b64());
    CU_ASSERT_FATAL(generic_request(d, doc, &g));
    CU_ASSERT_EQUAL(do_prepare(ir.activation_code, app.key, &g, &kr),
                    PA_ERR_ACTIVATION_NOT_FOUND);
    wire_free(&g);
    CU_ASSERT_EQUAL(row_status(id), PA_STATUS_REMOVED);
    CU_ASSERT(is_null("device_public_key_base64", id));
    CU_ASSERT(is_null("version", id));
    CU_ASSERT(is_null("ctr_data", id));
    EXPECT_HISTORY(id, {C_, NULL, NULL}, {R_, NULL, NULL});
    CU_ASSERT_EQUAL(n_outbox(id), 4);
    EXPECT_LAST_CHANGE(id);

    /* the code is used up: a valid request now gets ERR0009 */
    snap = snapshot();
    CU_ASSERT_EQUAL(do_prepare(ir.activation_code, app.key, &w, &kr),
                    PA_ERR_ACTIVATION_NOT_FOUND);
    EXPECT_UNCHANGED(snap);

    free(k);
    wire_free(&w);
    wire_free(&w2);
    pa_store_version_free(&old);
    pa_act_init_res_free(&ir);
    pa_device_free(d);
    pa_device_free(d2);
}

/* A second valid prepare of one code: the first wins, the second finds no
 * CREATED code. */
static void test_prepare_twice(void)
{
    pa_device_activation_opts o = {.compressed_eph = 1};
    pa_act_init_res ir;
    pa_act_keyx_res kr;
    pa_device *d = new_device(&app, "3.1");
    char *snap;
    wire w;

    CU_ASSERT_EQUAL_FATAL(init_act("zoe", &app, PA_OTP_NONE, NULL, &ir), PA_OK);
    CU_ASSERT_FATAL(exchange(d, ir.activation_code, &app, &o, &kr));
    pa_act_keyx_res_free(&kr);
    snap = snapshot();
    CU_ASSERT_FATAL(device_request(d, &o, &w));
    CU_ASSERT_EQUAL(do_prepare(ir.activation_code, app.key, &w, &kr),
                    PA_ERR_ACTIVATION_NOT_FOUND);
    wire_free(&w);
    EXPECT_UNCHANGED(snap);
    pa_act_init_res_free(&ir);
    pa_device_free(d);
}

/* ---- faults: CreateActivation (6.4) ------------------------------------------------- */

static void test_create_faults(void)
{
    pa_device_activation_opts o = {.compressed_eph = 1};
    pa_act_keyx_res kr;
    pa_act_create_req cr;
    pa_store_version old;
    pa_device *d = new_device(&app, "3.1");
    int64_t bare = 0, bare_ver = 0;
    char doc[512], *k, *bad_mac, *snap;
    wire w, g;

    CU_ASSERT_EQUAL_FATAL(pa_store_application_create(db, "bare", &bare), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_version_create(db, bare, "v", "YmFyZS1rZXktLS0tLS0tLQ==",
                                                  "YmFyZS1zZWNyZXQtLS0tLQ==",
                                                  &bare_ver), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_application_version_create(db, app.id, "old", &old),
                          PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_application_version_support(db, old.id, 0), PA_OK);
    CU_ASSERT_FATAL(d && device_request(d, &o, &w));

    snap = snapshot();
    /* application key unknown or unsupported: ERR0015 (step 1) */
    CU_ASSERT_EQUAL(do_create("adam", "bm8tc3VjaC1rZXk=", NULL, 0, &w, &kr),
                    PA_ERR_INVALID_APPLICATION);
    CU_ASSERT_EQUAL(do_create("adam", old.application_key, NULL, 0, &w, &kr),
                    PA_ERR_INVALID_APPLICATION);
    /* InitActivation's checks (step 2): ERR0001, ERR0003 */
    CU_ASSERT_EQUAL(do_create("", app.key, NULL, 0, &w, &kr), PA_ERR_NO_USER_ID);
    CU_ASSERT_EQUAL(do_create(NULL, app.key, NULL, 0, &w, &kr), PA_ERR_NO_USER_ID);
    CU_ASSERT_EQUAL(do_create("adam", "YmFyZS1rZXktLS0tLS0tLQ==", NULL, 0, &w, &kr),
                    PA_ERR_NO_MASTER_SERVER_KEYPAIR);
    /* tampered MAC: ERR0018 */
    bad_mac = tamper_b64(w.mac);
    cr = (pa_act_create_req){.user_id = "adam", .application_key = app.key,
                             .c = {w.eph, w.data, bad_mac, w.nonce}};
    CU_ASSERT_EQUAL(pa_activation_create(&env, &cr, &kr), PA_ERR_DECRYPTION_FAILED);
    free(bad_mac);
    /* unknown layer-2 property: ERR0011 */
    k = fresh_key_b64();
    CU_ASSERT_FATAL(k != NULL);
    snprintf(doc, sizeof doc, "{\"devicePublicKey\":\"%s\",\"activationCode\":\"x\"}",
             k);
    CU_ASSERT_FATAL(generic_request(d, doc, &g));
    CU_ASSERT_EQUAL(do_create("adam", app.key, NULL, 0, &g, &kr),
                    PA_ERR_INVALID_INPUT_FORMAT);
    wire_free(&g);
    /* invalid or missing device key: ERR0007 (step 4) */
    snprintf(doc, sizeof doc, "{\"devicePublicKey\":\"%s\"}", bad_point_b64());
    CU_ASSERT_FATAL(generic_request(d, doc, &g));
    CU_ASSERT_EQUAL(do_create("adam", app.key, NULL, 0, &g, &kr),
                    PA_ERR_ACTIVATION_EXPIRED);
    wire_free(&g);
    CU_ASSERT_FATAL(generic_request(d, "{\"activationName\":\"n\"}", &g));
    CU_ASSERT_EQUAL(do_create("adam", app.key, NULL, 0, &g, &kr),
                    PA_ERR_ACTIVATION_EXPIRED);
    wire_free(&g);
    /* no activation left behind, no history, no callback (6.4) */
    EXPECT_UNCHANGED(snap);
    CU_ASSERT_EQUAL(n_rows("pa_activation"), 0);
    CU_ASSERT_EQUAL(n_rows("pa_activation_history"), 0);
    CU_ASSERT_EQUAL(n_rows("pa_callback_outbox"), 0);

    free(k);
    wire_free(&w);
    pa_store_version_free(&old);
    pa_device_free(d);
}

/* ---- faults: CommitActivation (6.5) ------------------------------------------------- */

static void test_commit_faults(void)
{
    pa_act_init_res ir;
    char act[PA_UUID_BUF], rem[PA_UUID_BUF], *snap;
    pa_device *d1 = active("bert", &app, act), *d2 = active("bert", &app, rem);

    CU_ASSERT_EQUAL(pa_activation_remove(&env, rem, NULL, 0), PA_OK);
    CU_ASSERT_EQUAL_FATAL(init_act("bert", &app, PA_OTP_NONE, NULL, &ir), PA_OK);
    snap = snapshot();
    CU_ASSERT_EQUAL(pa_activation_commit(&env, "3f0d2c1e-1111-4222-8333-944455556666",
                                         NULL, NULL), PA_ERR_ACTIVATION_NOT_FOUND);
    CU_ASSERT_EQUAL(pa_activation_commit(&env, NULL, NULL, NULL), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_activation_commit(&env, ir.activation_id, "ops", NULL),
                    PA_ERR_ACTIVATION_INCORRECT_STATE);
    CU_ASSERT_EQUAL(pa_activation_commit(&env, act, "ops", NULL),
                    PA_ERR_ACTIVATION_INCORRECT_STATE);
    CU_ASSERT_EQUAL(pa_activation_commit(&env, rem, "ops", NULL),
                    PA_ERR_ACTIVATION_EXPIRED);
    EXPECT_UNCHANGED(snap);
    pa_act_init_res_free(&ir);
    pa_device_free(d1);
    pa_device_free(d2);
}

/* ---- Block / Unblock / Remove (DATABASE.md 3, 5.1, 5.6, 5.12) --------------------------- */

static void test_block_unblock_remove(void)
{
    pa_device_status st;
    pa_store_activation a;
    char id[PA_UUID_BUF], *reason = NULL, *snap;
    int status = 0;
    pa_device *d = active("carl", &app, id);

    /* without a reason: NOT_SPECIFIED, which is also the event reason */
    CU_ASSERT_EQUAL(pa_activation_block(&env, id, NULL, "op-1", &status, &reason),
                    PA_OK);
    CU_ASSERT_EQUAL(status, PA_STATUS_BLOCKED);
    CHECK_STR(reason, "NOT_SPECIFIED");
    free(reason);
    CU_ASSERT_FATAL(load_row(id, &a));
    CU_ASSERT_EQUAL(a.status, PA_STATUS_BLOCKED);
    CHECK_STR(a.blocked_reason, "NOT_SPECIFIED");
    pa_store_activation_free(&a);
    EXPECT_HISTORY(id, {C_, NULL, NULL}, {PC_, NULL, NULL}, {A_, NULL, NULL},
                   {B_, "NOT_SPECIFIED", "op-1"});
    CU_ASSERT_EQUAL(n_outbox(id), 8);
    EXPECT_LAST_CHANGE(id);

    /* blocking a BLOCKED one writes nothing; the answer is the stored
     * reason, not the request's */
    snap = snapshot();
    reason = NULL;
    CU_ASSERT_EQUAL(pa_activation_block(&env, id, "STOLEN", "op-2", &status, &reason),
                    PA_OK);
    CU_ASSERT_EQUAL(status, PA_STATUS_BLOCKED);
    CHECK_STR(reason, "NOT_SPECIFIED");
    free(reason);
    EXPECT_UNCHANGED(snap);

    /* unblock: ACTIVE, reason cleared, failed attempts reset (5.6) */
    q_exec("UPDATE pa_activation SET failed_attempts = 3 WHERE activation_id = ?1", id);
    CU_ASSERT_EQUAL(pa_activation_unblock(&env, id, "op-3", &status), PA_OK);
    CU_ASSERT_EQUAL(status, PA_STATUS_ACTIVE);
    CU_ASSERT_FATAL(load_row(id, &a));
    CU_ASSERT_EQUAL(a.status, PA_STATUS_ACTIVE);
    CU_ASSERT_PTR_NULL(a.blocked_reason);
    CU_ASSERT_EQUAL(a.failed_attempts, 0);
    pa_store_activation_free(&a);
    EXPECT_HISTORY(id, {C_, NULL, NULL}, {PC_, NULL, NULL}, {A_, NULL, NULL},
                   {B_, "NOT_SPECIFIED", "op-1"}, {A_, NULL, "op-3"});
    CU_ASSERT_EQUAL(n_outbox(id), 10);

    /* unblocking an ACTIVE one writes nothing */
    snap = snapshot();
    status = 0;
    CU_ASSERT_EQUAL(pa_activation_unblock(&env, id, "op-4", &status), PA_OK);
    CU_ASSERT_EQUAL(status, PA_STATUS_ACTIVE);
    EXPECT_UNCHANGED(snap);

    /* a reason is stored verbatim; the device sees BLOCKED */
    reason = NULL;
    CU_ASSERT_EQUAL(pa_activation_block(&env, id, "Lost phone", NULL, &status,
                                        &reason), PA_OK);
    CHECK_STR(reason, "Lost phone");
    free(reason);
    CU_ASSERT_FATAL(device_status(d, id, &st, NULL));
    EXPECT_BLOB(&st, PA_STATUS_BLOCKED, 0, 5);

    /* RemoveActivation keeps blocked_reason and logs every time, also when
     * already REMOVED */
    CU_ASSERT_EQUAL(pa_activation_remove(&env, id, "op-5", 0), PA_OK);
    CU_ASSERT_FATAL(load_row(id, &a));
    CU_ASSERT_EQUAL(a.status, PA_STATUS_REMOVED);
    CHECK_STR(a.blocked_reason, "Lost phone");
    pa_store_activation_free(&a);
    CU_ASSERT_EQUAL(pa_activation_remove(&env, id, NULL, 1), PA_OK);
    EXPECT_HISTORY(id, {C_, NULL, NULL}, {PC_, NULL, NULL}, {A_, NULL, NULL},
                   {B_, "NOT_SPECIFIED", "op-1"}, {A_, NULL, "op-3"},
                   {B_, "Lost phone", NULL}, {R_, NULL, "op-5"}, {R_, NULL, NULL});
    CU_ASSERT_EQUAL(n_outbox(id), 16);
    EXPECT_LAST_CHANGE(id);
    /* a removed activation with a device key still gets a real blob (7.6) */
    CU_ASSERT_FATAL(device_status(d, id, &st, NULL));
    EXPECT_BLOB(&st, PA_STATUS_REMOVED, 0, 5);
    pa_device_free(d);
}

static void test_block_unblock_wrong_states(void)
{
    pa_act_init_res ir;
    char pend[PA_UUID_BUF], rem[PA_UUID_BUF], *reason = NULL, *snap;
    const char *unknown = "3f0d2c1e-1111-4222-8333-944455556666";
    const char *ids[3];
    int status = 0, i;
    pa_device *d1 = pending("dora", &app, pend), *d2 = active("dora", &app, rem);

    CU_ASSERT_EQUAL(pa_activation_remove(&env, rem, NULL, 0), PA_OK);
    CU_ASSERT_EQUAL_FATAL(init_act("dora", &app, PA_OTP_NONE, NULL, &ir), PA_OK);
    ids[0] = ir.activation_id;
    ids[1] = pend;
    ids[2] = rem;
    snap = snapshot();
    for (i = 0; i < 3; i++) {
        reason = NULL;
        CU_ASSERT_EQUAL(pa_activation_block(&env, ids[i], "r", "op", &status, &reason),
                        PA_ERR_ACTIVATION_INCORRECT_STATE);
        CU_ASSERT_PTR_NULL(reason);
        free(reason);
        CU_ASSERT_EQUAL(pa_activation_unblock(&env, ids[i], "op", &status),
                        PA_ERR_ACTIVATION_INCORRECT_STATE);
    }
    CU_ASSERT_EQUAL(pa_activation_block(&env, unknown, NULL, NULL, &status, &reason),
                    PA_ERR_ACTIVATION_NOT_FOUND);
    CU_ASSERT_EQUAL(pa_activation_unblock(&env, unknown, NULL, &status),
                    PA_ERR_ACTIVATION_NOT_FOUND);
    CU_ASSERT_EQUAL(pa_activation_remove(&env, unknown, NULL, 0),
                    PA_ERR_ACTIVATION_NOT_FOUND);
    EXPECT_UNCHANGED(snap);
    /* RemoveActivation takes any status, CREATED too (5.1, 5.12) */
    CU_ASSERT_EQUAL(pa_activation_remove(&env, ir.activation_id, "op-r", 0), PA_OK);
    CU_ASSERT_EQUAL(row_status(ir.activation_id), PA_STATUS_REMOVED);
    EXPECT_HISTORY(ir.activation_id, {C_, NULL, NULL}, {R_, NULL, "op-r"});
    CU_ASSERT_EQUAL(n_outbox(ir.activation_id), 4);
    pa_act_init_res_free(&ir);
    pa_device_free(d1);
    pa_device_free(d2);
}

/* ---- UpdateStatusForActivations (DATABASE.md 5.1, 5.6) -------------------------------- */

static void test_update_statuses(void)
{
    char a1[PA_UUID_BUF], a2[PA_UUID_BUF], *reason = NULL, *snap;
    const char *unknown = "3f0d2c1e-1111-4222-8333-944455556666";
    const char *ids[2];
    int status = 0;
    pa_device *d1 = active("emil", &app, a1), *d2 = active("emil", &app, a2);
    pa_store_activation a;

    CU_ASSERT_EQUAL(pa_activation_block(&env, a2, "LOST", "op", &status, &reason),
                    PA_OK);
    free(reason);
    q_exec("UPDATE pa_activation SET failed_attempts = 2 WHERE activation_id = ?1", a1);

    /* an unknown id: ERR0009 and nothing changes, not even the known one */
    snap = snapshot();
    ids[0] = a1;
    ids[1] = unknown;
    CU_ASSERT_EQUAL(pa_activation_update_statuses(&env, ids, 2, PA_STATUS_BLOCKED),
                    PA_ERR_ACTIVATION_NOT_FOUND);
    /* a status that is not one: ERR0024; no ids: ERR0024 */
    CU_ASSERT_EQUAL(pa_activation_update_statuses(&env, ids, 1, 0),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_activation_update_statuses(&env, ids, 1, 6),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_activation_update_statuses(&env, ids, 0, PA_STATUS_REMOVED),
                    PA_ERR_INVALID_REQUEST);
    EXPECT_UNCHANGED(snap);

    /* both to REMOVED: one history row each, no external user; the
     * blocked_reason and failed_attempts stay */
    ids[1] = a2;
    CU_ASSERT_EQUAL(pa_activation_update_statuses(&env, ids, 2, PA_STATUS_REMOVED),
                    PA_OK);
    CU_ASSERT_FATAL(load_row(a1, &a));
    CU_ASSERT_EQUAL(a.status, PA_STATUS_REMOVED);
    CU_ASSERT_EQUAL(a.failed_attempts, 2);
    pa_store_activation_free(&a);
    CU_ASSERT_FATAL(load_row(a2, &a));
    CU_ASSERT_EQUAL(a.status, PA_STATUS_REMOVED);
    CHECK_STR(a.blocked_reason, "LOST");
    pa_store_activation_free(&a);
    EXPECT_HISTORY(a1, {C_, NULL, NULL}, {PC_, NULL, NULL}, {A_, NULL, NULL},
                   {R_, NULL, NULL});
    EXPECT_HISTORY(a2, {C_, NULL, NULL}, {PC_, NULL, NULL}, {A_, NULL, NULL},
                   {B_, "LOST", "op"}, {R_, NULL, NULL});
    CU_ASSERT_EQUAL(n_outbox(a1), 8);
    CU_ASSERT_EQUAL(n_outbox(a2), 10);
    EXPECT_LAST_CHANGE(a1);
    EXPECT_LAST_CHANGE(a2);

    /* the same status again: only ids whose status differs are written */
    snap = snapshot();
    CU_ASSERT_EQUAL(pa_activation_update_statuses(&env, ids, 2, PA_STATUS_REMOVED),
                    PA_OK);
    EXPECT_UNCHANGED(snap);

    /* to BLOCKED: the event reason is the stored blocked_reason */
    CU_ASSERT_EQUAL(pa_activation_update_statuses(&env, ids + 1, 1, PA_STATUS_BLOCKED),
                    PA_OK);
    CU_ASSERT_EQUAL(row_status(a2), PA_STATUS_BLOCKED);
    CU_ASSERT_EQUAL(row_status(a1), PA_STATUS_REMOVED);
    EXPECT_HISTORY(a2, {C_, NULL, NULL}, {PC_, NULL, NULL}, {A_, NULL, NULL},
                   {B_, "LOST", "op"}, {R_, NULL, NULL}, {B_, "LOST", NULL});
    CU_ASSERT_EQUAL(n_history(a1), 4);
    pa_device_free(d1);
    pa_device_free(d2);
}

/* ---- lists (DATABASE.md 5.4, 5.11) ----------------------------------------------------- */

static void test_lists(void)
{
    pa_store_activation_array arr;
    pa_store_activation r2, r3, rb;
    pa_act_init_res i2, i3, ib;
    app_info other;
    char a1[PA_UUID_BUF], *snap;
    const char *both[] = {"fay", "gus"}, *fay[] = {"fay"};
    int64_t apps1[1], apps12[2];
    pa_store_activation_query q;
    pa_device *d;

    make_app("other", 0, &other);
    apps1[0] = app.id;
    apps12[0] = app.id;
    apps12[1] = other.id;
    d = active("fay", &app, a1);
    usleep(3000);
    CU_ASSERT_EQUAL_FATAL(init_act("fay", &app, PA_OTP_NONE, NULL, &i2), PA_OK);
    usleep(3000);
    CU_ASSERT_EQUAL_FATAL(init_act("fay", &other, PA_OTP_NONE, NULL, &i3), PA_OK);
    usleep(3000);
    CU_ASSERT_EQUAL_FATAL(init_act("gus", &app, PA_OTP_NONE, NULL, &ib), PA_OK);
    CU_ASSERT_FATAL(load_row(i2.activation_id, &r2) && load_row(i3.activation_id, &r3)
                    && load_row(ib.activation_id, &rb));
    /* an application without callback URLs gets no outbox rows */
    CU_ASSERT_EQUAL(n_outbox(i3.activation_id), 0);
    CU_ASSERT_EQUAL(n_history(i3.activation_id), 1);

    snap = snapshot();
    /* GetActivationListForUser: insertion order, application name joined */
    CU_ASSERT_EQUAL(pa_activation_list_for_user(&env, "fay", 0, 0, &arr), PA_OK);
    CU_ASSERT_EQUAL_FATAL(arr.count, 3);
    CU_ASSERT_STRING_EQUAL(arr.items[0].activation_id, a1);
    CU_ASSERT_STRING_EQUAL(arr.items[1].activation_id, i2.activation_id);
    CU_ASSERT_STRING_EQUAL(arr.items[2].activation_id, i3.activation_id);
    CU_ASSERT_EQUAL(arr.items[0].status, PA_STATUS_ACTIVE);
    CU_ASSERT_EQUAL(arr.items[1].status, PA_STATUS_CREATED);
    CHECK_STR(arr.items[0].application_name, "bank");
    CHECK_STR(arr.items[2].application_name, "other");
    CU_ASSERT_EQUAL(arr.items[2].application_id, other.id);
    pa_store_activation_array_free(&arr);
    CU_ASSERT_EQUAL(pa_activation_list_for_user(&env, "fay", 1, other.id, &arr), PA_OK);
    CU_ASSERT(arr.count == 1
              && strcmp(arr.items[0].activation_id, i3.activation_id) == 0);
    pa_store_activation_array_free(&arr);
    CU_ASSERT_EQUAL(pa_activation_list_for_user(&env, "fay", 1, 999, &arr), PA_OK);
    CU_ASSERT_EQUAL(arr.count, 0);
    pa_store_activation_array_free(&arr);
    CU_ASSERT_EQUAL(pa_activation_list_for_user(&env, "nobody", 0, 0, &arr), PA_OK);
    CU_ASSERT_EQUAL(arr.count, 0);
    pa_store_activation_array_free(&arr);
    CU_ASSERT_EQUAL(pa_activation_list_for_user(&env, NULL, 0, 0, &arr),
                    PA_ERR_INVALID_REQUEST);

    /* LookupActivations: every filter */
    q = (pa_store_activation_query){.user_ids = both, .user_id_count = 2};
    CU_ASSERT_EQUAL(pa_activation_lookup(&env, &q, &arr), PA_OK);
    CU_ASSERT_EQUAL_FATAL(arr.count, 4);
    CU_ASSERT_STRING_EQUAL(arr.items[0].activation_id, a1);
    CU_ASSERT_STRING_EQUAL(arr.items[3].activation_id, ib.activation_id);
    pa_store_activation_array_free(&arr);
    q.application_ids = apps1;
    q.application_id_count = 1;
    CU_ASSERT_EQUAL(pa_activation_lookup(&env, &q, &arr), PA_OK);
    CU_ASSERT_EQUAL_FATAL(arr.count, 3);
    CU_ASSERT_STRING_EQUAL(arr.items[0].activation_id, a1);
    CU_ASSERT_STRING_EQUAL(arr.items[1].activation_id, i2.activation_id);
    CU_ASSERT_STRING_EQUAL(arr.items[2].activation_id, ib.activation_id);
    pa_store_activation_array_free(&arr);
    q = (pa_store_activation_query){.user_ids = fay, .user_id_count = 1,
                                    .application_ids = apps12,
                                    .application_id_count = 2};
    CU_ASSERT_EQUAL(pa_activation_lookup(&env, &q, &arr), PA_OK);
    CU_ASSERT_EQUAL(arr.count, 3);
    pa_store_activation_array_free(&arr);
    q = (pa_store_activation_query){.user_ids = both, .user_id_count = 2,
                                    .has_status = 1, .status = PA_STATUS_ACTIVE};
    CU_ASSERT_EQUAL(pa_activation_lookup(&env, &q, &arr), PA_OK);
    CU_ASSERT(arr.count == 1 && strcmp(arr.items[0].activation_id, a1) == 0);
    pa_store_activation_array_free(&arr);
    /* last used before (strict) / at or after */
    q = (pa_store_activation_query){.user_ids = both, .user_id_count = 2,
                                    .has_last_used_before = 1,
                                    .last_used_before_ms = r2.last_used_ms};
    CU_ASSERT_EQUAL(pa_activation_lookup(&env, &q, &arr), PA_OK);
    CU_ASSERT(arr.count == 1 && strcmp(arr.items[0].activation_id, a1) == 0);
    pa_store_activation_array_free(&arr);
    q = (pa_store_activation_query){.user_ids = both, .user_id_count = 2,
                                    .has_last_used_after = 1,
                                    .last_used_after_ms = r3.last_used_ms};
    CU_ASSERT_EQUAL(pa_activation_lookup(&env, &q, &arr), PA_OK);
    CU_ASSERT_EQUAL_FATAL(arr.count, 2);
    CU_ASSERT_STRING_EQUAL(arr.items[0].activation_id, i3.activation_id);
    CU_ASSERT_STRING_EQUAL(arr.items[1].activation_id, ib.activation_id);
    pa_store_activation_array_free(&arr);
    q.has_last_used_before = 1;
    q.last_used_before_ms = rb.last_used_ms;
    q.last_used_after_ms = r2.last_used_ms;
    CU_ASSERT_EQUAL(pa_activation_lookup(&env, &q, &arr), PA_OK);
    CU_ASSERT_EQUAL_FATAL(arr.count, 2);
    CU_ASSERT_STRING_EQUAL(arr.items[0].activation_id, i2.activation_id);
    CU_ASSERT_STRING_EQUAL(arr.items[1].activation_id, i3.activation_id);
    pa_store_activation_array_free(&arr);
    /* at least one user id */
    q = (pa_store_activation_query){.user_ids = both, .user_id_count = 0};
    CU_ASSERT_EQUAL(pa_activation_lookup(&env, &q, &arr), PA_ERR_INVALID_REQUEST);
    EXPECT_UNCHANGED(snap);

    pa_store_activation_free(&r2);
    pa_store_activation_free(&r3);
    pa_store_activation_free(&rb);
    pa_act_init_res_free(&i2);
    pa_act_init_res_free(&i3);
    pa_act_init_res_free(&ib);
    pa_device_free(d);
}

/* ---- ActivationHistory (DATABASE.md 5.11) --------------------------------------------- */

typedef struct hist_ref {
    int64_t id;
    int64_t created;
} hist_ref;

/* The rows of the window, newest first, ties by id descending, computed
 * here from the raw rows. */
static void expect_window(int line, const char *act, const hist_ref *rows,
                          size_t n, int64_t from, int64_t to)
{
    pa_store_history_array arr;
    hist_ref exp[16];
    size_t m = 0, i, j;
    int ok;

    for (i = 0; i < n; i++)
        if (rows[i].created >= from && rows[i].created <= to)
            exp[m++] = rows[i];
    for (i = 1; i < m; i++)
        for (j = i; j > 0 && (exp[j].created > exp[j - 1].created
                              || (exp[j].created == exp[j - 1].created
                                  && exp[j].id > exp[j - 1].id)); j--) {
            hist_ref t = exp[j];

            exp[j] = exp[j - 1];
            exp[j - 1] = t;
        }
    ok = pa_activation_history(&env, act, from, to, &arr) == PA_OK
         && arr.count == m;
    for (i = 0; ok && i < m; i++)
        ok = arr.items[i].id == exp[i].id
             && arr.items[i].created_ms == exp[i].created
             && strcmp(arr.items[i].activation_id, act) == 0;
    if (!ok)
        fprintf(stderr, "\n  line %d: history window [%lld, %lld]: %zu rows,"
                " expected %zu", line, (long long)from, (long long)to,
                arr.count, m);
    pa_store_history_array_free(&arr);
    CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line,
                            "history window", __FILE__, "", CU_FALSE);
}

#define EXPECT_WINDOW(act, rows, n, from, to)                                 \
    expect_window(__LINE__, (act), (rows), (n), (from), (to))

static void test_history_window(void)
{
    pa_store_history_array arr;
    hist_ref rows[16];
    size_t n = 0;
    char id[PA_UUID_BUF], *reason = NULL;
    int status;
    rawq q;
    int64_t tie;
    pa_device *d = pending("hal", &app, id);

    usleep(3000);
    CU_ASSERT_EQUAL(pa_activation_commit(&env, id, "c", NULL), PA_OK);
    usleep(3000);
    CU_ASSERT_EQUAL(pa_activation_block(&env, id, "why", "b", &status, &reason),
                    PA_OK);
    free(reason);
    usleep(3000);
    CU_ASSERT_EQUAL(pa_activation_unblock(&env, id, "u", &status), PA_OK);
    usleep(3000);
    CU_ASSERT_EQUAL(pa_activation_remove(&env, id, "r", 0), PA_OK);
    /* two rows with one timestamp, well after the others: ties by id */
    tie = pa_time_now_ms() + 60000;
    CU_ASSERT_EQUAL(pa_store_history_add(db, id, PA_STATUS_REMOVED, NULL, "t1", tie),
                    PA_OK);
    CU_ASSERT_EQUAL(pa_store_history_add(db, id, PA_STATUS_REMOVED, NULL, "t2", tie),
                    PA_OK);

    CU_ASSERT_FATAL(raw_open(&q, 0, "SELECT id, timestamp_created FROM"
                             " pa_activation_history WHERE activation_id = ?1"
                             " ORDER BY id", id, NULL));
    while (n < 16 && sqlite3_step(q.st) == SQLITE_ROW) {
        rows[n].id = sqlite3_column_int64(q.st, 0);
        rows[n].created = sqlite3_column_int64(q.st, 1);
        n++;
    }
    raw_close(&q);
    CU_ASSERT_EQUAL_FATAL(n, 8);

    /* everything, newest first; the whole first row ... */
    EXPECT_WINDOW(id, rows, n, 0, INT64_MAX);
    CU_ASSERT_EQUAL(pa_activation_history(&env, id, 0, INT64_MAX, &arr), PA_OK);
    CU_ASSERT_FATAL(arr.count == 8);
    CU_ASSERT_EQUAL(arr.items[0].id, rows[7].id);        /* tie: higher id first */
    CHECK_STR(arr.items[0].external_user_id, "t2");
    CHECK_STR(arr.items[1].external_user_id, "t1");
    CU_ASSERT_EQUAL(arr.items[2].status, PA_STATUS_REMOVED);
    CHECK_STR(arr.items[2].external_user_id, "r");
    CU_ASSERT_EQUAL(arr.items[4].status, PA_STATUS_BLOCKED);
    CHECK_STR(arr.items[4].event_reason, "why");
    CU_ASSERT_EQUAL(arr.items[7].status, PA_STATUS_CREATED);
    pa_store_history_array_free(&arr);
    /* ... inclusive bounds on both ends */
    EXPECT_WINDOW(id, rows, n, rows[2].created, rows[4].created);
    EXPECT_WINDOW(id, rows, n, rows[3].created, rows[3].created);
    EXPECT_WINDOW(id, rows, n, tie, tie);
    EXPECT_WINDOW(id, rows, n, rows[5].created + 1, tie - 1);
    /* empty windows */
    EXPECT_WINDOW(id, rows, n, tie + 1, INT64_MAX);
    EXPECT_WINDOW(id, rows, n, rows[4].created, rows[2].created - 1);
    CU_ASSERT_EQUAL(pa_activation_history(&env, "3f0d2c1e-1111-4222-8333-944455556666",
                                          0, INT64_MAX, &arr), PA_OK);
    CU_ASSERT_EQUAL(arr.count, 0);
    pa_store_history_array_free(&arr);
    CU_ASSERT_EQUAL(pa_activation_history(&env, NULL, 0, INT64_MAX, &arr),
                    PA_ERR_INVALID_REQUEST);
    pa_device_free(d);
}

/* ---- generation retries (DATABASE.md 5.9, CRYPTO.md 4.1, 4.3) --------------------------- */

static void test_generation_exhausted(void)
{
    pa_device_activation_opts o = {.compressed_eph = 1};
    pa_act_init_res ir;
    pa_act_keyx_res kr;
    pa_device *d = new_device(&app, "3.1");
    char *snap;
    wire w;

    CU_ASSERT_EQUAL(cfg.generate_activation_id_iterations, 10);
    CU_ASSERT_EQUAL(cfg.generate_activation_code_iterations, 10);
    CU_ASSERT_FATAL(d && device_request(d, &o, &w));
    snap = snapshot();
    /* no attempt left for an id: ERR0005 */
    cfg.generate_activation_id_iterations = 0;
    CU_ASSERT_EQUAL(init_act("ida", &app, PA_OTP_NONE, NULL, &ir),
                    PA_ERR_UNABLE_TO_GENERATE_ACTIVATION_ID);
    CU_ASSERT_EQUAL(do_create("ida", app.key, NULL, 0, &w, &kr),
                    PA_ERR_UNABLE_TO_GENERATE_ACTIVATION_ID);
    /* none for a code: ERR0006 */
    cfg.generate_activation_id_iterations = 10;
    cfg.generate_activation_code_iterations = 0;
    CU_ASSERT_EQUAL(init_act("ida", &app, PA_OTP_NONE, NULL, &ir),
                    PA_ERR_UNABLE_TO_GENERATE_ACTIVATION_CODE);
    CU_ASSERT_EQUAL(do_create("ida", app.key, NULL, 0, &w, &kr),
                    PA_ERR_UNABLE_TO_GENERATE_ACTIVATION_CODE);
    EXPECT_UNCHANGED(snap);
    CU_ASSERT_EQUAL(n_rows("pa_activation"), 0);
    /* with attempts again it works */
    cfg.generate_activation_code_iterations = 10;
    CU_ASSERT_EQUAL(do_create("ida", app.key, NULL, 0, &w, &kr), PA_OK);
    pa_act_keyx_res_free(&kr);
    CU_ASSERT_EQUAL(n_rows("pa_activation"), 1);
    wire_free(&w);
    pa_device_free(d);
}

/* ---- GetActivationStatus edge cases (CRYPTO.md 7.3, 7.6) ------------------------------- */

static void test_status_edges(void)
{
    pa_act_status_res sr;
    pa_act_init_res ir;
    uint8_t b[64];
    char id[PA_UUID_BUF], *snap;
    const char *unknown = "3f0d2c1e-1111-4222-8333-944455556666";
    pa_device *d = pending("jan", &app, id);

    CU_ASSERT_EQUAL_FATAL(init_act("jan", &app, PA_OTP_NONE, NULL, &ir), PA_OK);
    snap = snapshot();
    /* unknown activation: REMOVED, "unknown", random blob, nonce only with
     * a challenge; nothing stored */
    CU_ASSERT_EQUAL_FATAL(pa_activation_status(&env, unknown,
                                               "AAAAAAAAAAAAAAAAAAAAAA==", &sr),
                          PA_OK);
    CU_ASSERT_EQUAL(sr.found, 0);
    CU_ASSERT_EQUAL(sr.a.status, PA_STATUS_REMOVED);
    CHECK_STR(sr.a.activation_id, unknown);
    CHECK_STR(sr.a.user_id, "unknown");
    CHECK_STR(sr.a.activation_name, "unknown");
    CU_ASSERT_EQUAL(sr.a.application_id, 0);
    CU_ASSERT_EQUAL(sr.a.version, 0);
    CU_ASSERT_EQUAL(sr.a.otp_validation, PA_OTP_NONE);
    CU_ASSERT_EQUAL(sr.a.created_ms, 0);                /* the epoch */
    CU_ASSERT_EQUAL(sr.a.last_used_ms, 0);
    CU_ASSERT_EQUAL(sr.a.has_last_change, 0);           /* absent */
    CU_ASSERT_EQUAL(b64dec(sr.encrypted_status_blob, b, sizeof b), 32);
    CU_ASSERT_EQUAL(b64dec(sr.status_blob_nonce, b, sizeof b), 16);
    CU_ASSERT_PTR_NULL(sr.activation_code);
    CU_ASSERT_STRING_EQUAL(sr.fingerprint, "");
    pa_act_status_res_free(&sr);
    CU_ASSERT_EQUAL(pa_activation_status(&env, unknown, NULL, &sr), PA_OK);
    CU_ASSERT_PTR_NULL(sr.status_blob_nonce);
    pa_act_status_res_free(&sr);
    /* CREATED: any challenge string is accepted */
    CU_ASSERT_EQUAL(pa_activation_status(&env, ir.activation_id, "not base64!", &sr),
                    PA_OK);
    pa_act_status_res_free(&sr);
    /* with a device key the challenge must be 16 bytes: ERR0022 */
    CU_ASSERT_EQUAL(pa_activation_status(&env, id, "AAAA", &sr),
                    PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR);
    CU_ASSERT_EQUAL(pa_activation_status(&env, id, "not base64!", &sr),
                    PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR);
    CU_ASSERT_EQUAL(pa_activation_status(&env, NULL, NULL, &sr),
                    PA_ERR_INVALID_REQUEST);
    EXPECT_UNCHANGED(snap);
    pa_act_init_res_free(&ir);
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
        {"flow 3.0, uncompressed keys", test_flow_30_uncompressed},
        {"flow 3.0, compressed keys", test_flow_30_compressed},
        {"flow 3.1, compressed keys", test_flow_31_compressed},
        {"flow 3.1, uncompressed keys", test_flow_31_uncompressed},
        {"CreateActivation", test_create_activation},
        {"OTP mode NONE", test_otp_none},
        {"OTP mode ON_KEY_EXCHANGE", test_otp_on_key_exchange},
        {"OTP mode ON_COMMIT", test_otp_on_commit},
        {"wrong OTP up to REMOVED", test_otp_wrong_to_removed},
        {"UpdateActivationOtp", test_update_otp},
        {"record encryption", test_record_encryption},
        {"expiry: status", test_expiry_status},
        {"expiry: prepare, commit", test_expiry_prepare_commit},
        {"expiry: lists, create", test_expiry_lists_and_create},
        {"InitActivation faults", test_init_faults},
        {"latest master key pair, ERR0004", test_latest_master_keypair},
        {"PrepareActivation faults", test_prepare_faults},
        {"PrepareActivation twice", test_prepare_twice},
        {"CreateActivation faults", test_create_faults},
        {"CommitActivation faults", test_commit_faults},
        {"block, unblock, remove", test_block_unblock_remove},
        {"block, unblock: wrong states", test_block_unblock_wrong_states},
        {"UpdateStatusForActivations", test_update_statuses},
        {"list for user, lookup", test_lists},
        {"history window", test_history_window},
        {"id and code generation exhausted", test_generation_exhausted},
        {"status edge cases", test_status_edges},
    };
    CU_pSuite s;
    unsigned failed;
    size_t i;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite_with_setup_and_teardown("activation", NULL, NULL, setup,
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
