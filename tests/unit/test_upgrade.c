/*
 * test_upgrade.c - the upgrade from protocol 2 to 3 (src/service/upgrade.c
 * and src/handlers/upgrade.c): StartUpgrade, the commit signature checked
 * by VerifySignature with forcedSignatureVersion 3, CommitUpgrade.  On a
 * fresh migrated SQLite file per test, the device emulator libpadevice
 * playing the phone.
 *
 * A protocol-2 ACTIVE activation is made at the store level: the v3 flow
 * (init, prepare, commit) and then the row set to version 2 without
 * ctr_data, the device switched to the numeric counter; a protocol-2
 * signature verifies before anything else is tried.
 *
 * Expectations: shared/spec/CRYPTO.md 5.7, 5.8, 8.8, 13, 18.2 and
 * shared/contract/DATABASE.md 5.1 (no history row, no callback), 5.5, 5.6.
 * Rows are read back with raw SQL on a separate connection; every fault
 * leaves the database byte for byte as it was.
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

#include "crypto/ecies.h"
#include "crypto/primitives.h"
#include "service/activation.h"
#include "service/application.h"
#include "service/signature.h"
#include "service/upgrade.h"
#include "soap/pasoap.h"
#include "store/store.h"
#include "tests/unit/tempdb.h"
#include "tools/padevice/device.h"
#include "util/base64.h"
#include "util/config.h"
#include "util/err.h"
#include "util/log.h"
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
static app_info other;           /* "shop", another application */
static FILE *log_file;

/* ctrData values handed out: never in the log. */
static char *secrets[64];
static size_t nsecrets;

static void remember_secret(const char *s)
{
    if (s && nsecrets < sizeof secrets / sizeof *secrets)
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
    pa_tempdb_make("pa-upgrade", dir, sizeof dir, path, sizeof path);
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
            v = sqlite3_column_int64(st, 0);
    } else {
        fprintf(stderr, "\nraw SQL failed: %s\n", sql);
    }
    sqlite3_finalize(st);
    sqlite3_close(c);
    return v;
}

/* First column of the first row as text (malloc'ed), NULL when none. */
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

static long long row_version(const char *id)
{
    return q_int("SELECT version FROM pa_activation WHERE activation_id = ?1", id);
}

static char *row_ctr_data(const char *id)
{
    return q_text("SELECT ctr_data FROM pa_activation WHERE activation_id = ?1", id);
}

static long long n_history(void)
{
    return q_int("SELECT count(*) FROM pa_activation_history", NULL);
}

static long long n_outbox(void)
{
    return q_int("SELECT count(*) FROM pa_callback_outbox", NULL);
}

/* Every table an activation operation could touch, as text. */
static char *snapshot(void)
{
    static const char *const sql[] = {
        "SELECT * FROM pa_activation ORDER BY activation_id",
        "SELECT * FROM pa_activation_history ORDER BY id",
        "SELECT * FROM pa_callback_outbox ORDER BY id",
        "SELECT * FROM pa_signature_audit ORDER BY id",
        "SELECT * FROM pa_application_version ORDER BY id",
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

/* An ACTIVE protocol-3 activation of `a` with its device. */
static pa_device *active(const char *user, const app_info *a, const char *proto,
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
             && pa_device_activation_response(d, ct, n, mac, sizeof mac) == PA_OK
             && pa_activation_commit(&env, id, NULL, NULL) == PA_OK;
        pa_act_init_res_free(&res);
    }
    free(ct);
    wire_free(&w);
    pa_act_keyx_res_free(&kr);
    CU_ASSERT_FATAL(ok);
    return d;
}

/* The row becomes a protocol-2 activation (version 2, no ctr_data), the
 * device switches to the numeric counter (both still at 0). */
static void make_v2(const char *id, pa_device *d)
{
    pa_store_activation a;
    int found = 0;

    CU_ASSERT_EQUAL_FATAL(pa_store_activation_get(db, id, &a, &found), PA_OK);
    CU_ASSERT_FATAL(found);
    a.version = 2;
    if (a.ctr_data)
        pa_secure_free(a.ctr_data, strlen(a.ctr_data));
    a.ctr_data = NULL;
    CU_ASSERT_EQUAL(pa_store_activation_update(db, &a, &found), PA_OK);
    CU_ASSERT(found);
    pa_store_activation_free(&a);
    d->version = 2;
    d->has_ctr_data = 0;
    memset(d->ctr_data, 0, sizeof d->ctr_data);
    CU_ASSERT_EQUAL(d->counter, 0);
}

/* A protocol-2 ACTIVE activation and its device. */
static pa_device *active_v2(const char *user, const app_info *a,
                            const char *proto, char id[PA_UUID_BUF])
{
    pa_device *d = active(user, a, proto, id);

    make_v2(id, d);
    return d;
}

/* The device's signature of POST uri_id with body "{}". */
static void sign(pa_device *d, const char *uri_id, pa_sig_type t,
                 pa_device_signature *s)
{
    CU_ASSERT_EQUAL_FATAL(pa_device_sign(d, "POST", uri_id,
                                         (const uint8_t *)"{}", 2, t, NULL, 1, s),
                          PA_OK);
}

/* VerifySignature of s as sent by the device; 1 valid, 0 not, -1 fault. */
static int verify(const char *id, const pa_device *d,
                  const pa_device_signature *s, int forced)
{
    pa_sig_req r;
    pa_sig_res res;
    int v;

    memset(&r, 0, sizeof r);
    r.activation_id = id;
    r.application_key = d->app_key;
    r.signature_version = s->version;
    r.data = s->data_string;
    r.signature = s->signature;
    r.types[0] = s->type;
    r.ntypes = 1;
    r.forced_version = forced;
    v = pa_signature_verify(&env, &r, &res) == PA_OK ? res.valid : -1;
    pa_sig_res_free(&res);
    return v;
}

/* Signs uri_id and verifies: 1 valid, 0 not, -1 fault. */
static int sign_verify(pa_device *d, const char *id, const char *uri_id,
                       pa_sig_type t, int forced)
{
    pa_device_signature s;
    int v;

    sign(d, uri_id, t, &s);
    v = verify(id, d, &s, forced);
    pa_device_signature_free(&s);
    return v;
}

/* StartUpgrade with the wire's cryptogram. */
static pa_err do_start(const char *id, const char *key, const wire *w,
                       pa_upgrade_start_res *res)
{
    pa_upgrade_start_req r = {id, key, wire_view(w)};

    return pa_upgrade_start(&env, &r, res);
}

/* A request with SH1 "/pa/upgrade" and any plaintext, whatever the
 * device's version; its context is copied to *ctx. */
static int generic_wire(pa_device *d, const char *plain, int compressed,
                        wire *w, pa_ecies_ctx *ctx)
{
    memset(w, 0, sizeof *w);
    if (pa_device_ecies_request(d, 1, PA_ECIES_SH1_UPGRADE,
                                (const uint8_t *)plain, strlen(plain),
                                compressed, &w->cg) != PA_OK
        || !wire_encode(w))
        return 0;
    if (ctx)
        *ctx = d->pending_ctx;
    return 1;
}

/* The plaintext of an answer, read with ctx, into out (NUL-terminated). */
static int open_answer(const pa_ecies_ctx *ctx, const pa_upgrade_start_res *res,
                       char *out, size_t cap)
{
    uint8_t *ct = NULL, mac[32], *plain = NULL;
    size_t n = 0, pn = 0;
    int ok = res->encrypted_data && res->mac
             && pa_b64_decode_alloc(res->encrypted_data, &ct, &n) == PA_OK
             && pa_b64_decode_exact(res->mac, mac, sizeof mac) == PA_OK
             && pa_ecies_client_decrypt_response(ctx, ct, n, mac, sizeof mac,
                                                 &plain, &pn) == PA_OK
             && pn < cap;

    out[0] = '\0';
    if (ok) {
        memcpy(out, plain, pn);
        out[pn] = '\0';
    }
    if (plain)
        pa_secure_free(plain, pn);
    free(ct);
    return ok;
}

/* {"ctrData":"<the row's ctr_data>"} */
static void expect_answer_is_row(int line, const char *id, const char *plain)
{
    char want[128], *ctr = row_ctr_data(id);
    int ok;

    snprintf(want, sizeof want, "{\"ctrData\":\"%s\"}", ctr ? ctr : "(null)");
    ok = ctr && strlen(ctr) == 24 && strcmp(plain, want) == 0;
    if (!ok)
        fprintf(stderr, "\n  line %d: answer %s, row ctr_data %s", line, plain,
                ctr ? ctr : "NULL");
    CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line,
                            "answer carries the stored ctrData", __FILE__, "",
                            CU_FALSE);
    remember_secret(ctr);
    free(ctr);
}

#define EXPECT_ANSWER_IS_ROW(id, plain) expect_answer_is_row(__LINE__, (id), (plain))

/* The device's ctrData as Base64. */
static void dev_ctr(const pa_device *d, char out[PA_B64_ENCLEN(16) + 1])
{
    pa_b64_encode(d->ctr_data, 16, out);
}

/* GetActivationStatus with a challenge, decrypted by the device. */
static int device_status(pa_device *d, const char *id, pa_device_status *st)
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
    ok = r.found && r.status_blob_nonce
         && pa_b64_decode_exact(r.encrypted_status_blob, blob, sizeof blob) == PA_OK
         && pa_b64_decode_exact(r.status_blob_nonce, nonce, sizeof nonce) == PA_OK
         && pa_device_status_decrypt(d, blob, nonce, NULL, 0, st) == PA_OK;
    pa_act_status_res_free(&r);
    return ok;
}

/* The device's real upgrade request, StartUpgrade, the device reads the
 * answer (and switches to the hash counter). */
static void device_start(pa_device *d, const char *id, int compressed)
{
    pa_upgrade_start_res res;
    uint8_t *ct = NULL, mac[32];
    size_t n = 0;
    wire w;

    memset(&w, 0, sizeof w);
    CU_ASSERT_EQUAL_FATAL(pa_device_upgrade_request(d, compressed, &w.cg), PA_OK);
    CU_ASSERT_FATAL(wire_encode(&w));
    CU_ASSERT_EQUAL_FATAL(do_start(id, d->app_key, &w, &res), PA_OK);
    CU_ASSERT_EQUAL(pa_b64_decode_alloc(res.encrypted_data, &ct, &n), PA_OK);
    CU_ASSERT_EQUAL(pa_b64_decode_exact(res.mac, mac, sizeof mac), PA_OK);
    CU_ASSERT_EQUAL(pa_device_upgrade_response(d, ct, n, mac, sizeof mac), PA_OK);
    free(ct);
    pa_upgrade_start_res_free(&res);
    wire_free(&w);
}

/* ---- the whole upgrade ----------------------------------------------------------- */

static void flow(const char *proto, int compressed)
{
    char id[PA_UUID_BUF], plain[128], ctr[PA_B64_ENCLEN(16) + 1], *row;
    pa_device *d = active_v2("alice", &app, "2.1", id);
    pa_store_activation before, after;
    pa_upgrade_start_res res;
    pa_device_status st;
    pa_ecies_ctx ctx;
    long long h0, o0;
    uint8_t *ct = NULL, mac[32];
    size_t n = 0;
    int found = 0;
    wire w;

    /* protocol 2 works: numeric counter 0, then 1 (with the new SDK) */
    CU_ASSERT_EQUAL(sign_verify(d, id, "/pa/signature/validate",
                                PA_SIG_POSSESSION_KNOWLEDGE, 0), 1);
    CU_ASSERT_EQUAL_FATAL(pa_device_set_protocol(d, proto), PA_OK);
    CU_ASSERT_EQUAL(sign_verify(d, id, "/pa/signature/validate",
                                PA_SIG_POSSESSION_KNOWLEDGE, 0), 1);
    CU_ASSERT_EQUAL(q_int("SELECT counter FROM pa_activation WHERE"
                          " activation_id = ?1", id), 2);
    CU_ASSERT_TRUE(device_status(d, id, &st));
    CU_ASSERT_EQUAL(st.f.current_version, 2);
    CU_ASSERT_EQUAL(st.f.upgrade_version, 3);
    h0 = n_history();
    o0 = n_outbox();

    /* StartUpgrade: the device's request, the answer read twice (raw
     * plaintext, then by the device) */
    CU_ASSERT_EQUAL(pa_store_activation_get(db, id, &before, &found), PA_OK);
    memset(&w, 0, sizeof w);
    CU_ASSERT_EQUAL_FATAL(pa_device_upgrade_request(d, compressed, &w.cg), PA_OK);
    CU_ASSERT_FATAL(wire_encode(&w));
    CU_ASSERT_EQUAL(w.cg.has_nonce, strcmp(proto, "3.1") == 0);
    CU_ASSERT_EQUAL(w.cg.eph_len, compressed ? 33u : 65u);
    ctx = d->pending_ctx;
    CU_ASSERT_EQUAL_FATAL(do_start(id, app.key, &w, &res), PA_OK);
    CU_ASSERT_TRUE(open_answer(&ctx, &res, plain, sizeof plain));
    EXPECT_ANSWER_IS_ROW(id, plain);
    CU_ASSERT_EQUAL(pa_store_activation_get(db, id, &after, &found), PA_OK);
    /* only ctr_data changed (DATABASE.md 5.6) */
    CU_ASSERT_PTR_NULL(before.ctr_data);
    CU_ASSERT_PTR_NOT_NULL(after.ctr_data);
    CU_ASSERT_EQUAL(after.version, 2);
    CU_ASSERT_EQUAL(after.status, PA_STATUS_ACTIVE);
    CU_ASSERT_EQUAL(after.counter, before.counter);
    CU_ASSERT_EQUAL(after.failed_attempts, before.failed_attempts);
    CU_ASSERT_EQUAL(after.last_used_ms, before.last_used_ms);
    CU_ASSERT_EQUAL(after.last_change_ms, before.last_change_ms);
    CU_ASSERT_EQUAL(after.has_last_change, before.has_last_change);
    pa_store_activation_free(&before);
    pa_store_activation_free(&after);
    CU_ASSERT_EQUAL(pa_b64_decode_alloc(res.encrypted_data, &ct, &n), PA_OK);
    CU_ASSERT_EQUAL(pa_b64_decode_exact(res.mac, mac, sizeof mac), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_device_upgrade_response(d, ct, n, mac, sizeof mac),
                          PA_OK);
    free(ct);
    pa_upgrade_start_res_free(&res);
    wire_free(&w);
    CU_ASSERT_EQUAL(d->version, 3);
    CU_ASSERT_EQUAL(d->counter, 2);          /* the numeric one keeps its value */
    dev_ctr(d, ctr);
    row = row_ctr_data(id);
    CU_ASSERT_STRING_EQUAL(row, ctr);
    free(row);

    /* the commit signature: forced version 3, ctr_data one step on,
     * version still 2 */
    CU_ASSERT_EQUAL(sign_verify(d, id, "/pa/upgrade/commit", PA_SIG_POSSESSION, 3),
                    1);
    dev_ctr(d, ctr);
    row = row_ctr_data(id);
    CU_ASSERT_STRING_EQUAL(row, ctr);
    free(row);
    CU_ASSERT_EQUAL(row_version(id), 2);

    /* CommitUpgrade */
    CU_ASSERT_EQUAL(pa_upgrade_commit(&env, id, app.key), PA_OK);
    CU_ASSERT_EQUAL(row_version(id), 3);
    row = row_ctr_data(id);
    CU_ASSERT_STRING_EQUAL(row, ctr);        /* unchanged by the commit */
    free(row);
    CU_ASSERT_EQUAL(n_history(), h0);        /* DATABASE.md 5.1 */
    CU_ASSERT_EQUAL(n_outbox(), o0);

    /* from now on: protocol 3 */
    CU_ASSERT_EQUAL(sign_verify(d, id, "/pa/signature/validate",
                                PA_SIG_POSSESSION_KNOWLEDGE, 0), 1);
    CU_ASSERT_EQUAL(sign_verify(d, id, "/pa/signature/validate",
                                PA_SIG_POSSESSION_KNOWLEDGE_BIOMETRY, 0), 1);
    CU_ASSERT_TRUE(device_status(d, id, &st));
    CU_ASSERT_EQUAL(st.f.status, PA_STATUS_ACTIVE);
    CU_ASSERT_EQUAL(st.f.current_version, 3);
    CU_ASSERT_EQUAL(st.f.upgrade_version, 3);
    CU_ASSERT_TRUE(st.hash_checked);
    CU_ASSERT_TRUE(st.hash_matches);
    CU_ASSERT_EQUAL(st.distance, 0);
    CU_ASSERT_EQUAL(n_history(), h0);

    /* nothing more to upgrade */
    {
        char *snap = snapshot();

        CU_ASSERT_EQUAL(pa_upgrade_commit(&env, id, app.key),
                        PA_ERR_ACTIVATION_INCORRECT_STATE);
        CU_ASSERT_TRUE(generic_wire(d, "{}", 1, &w, NULL));
        CU_ASSERT_EQUAL(do_start(id, app.key, &w, &res),
                        PA_ERR_ACTIVATION_INCORRECT_STATE);
        CU_ASSERT_PTR_NULL(res.encrypted_data);
        wire_free(&w);
        EXPECT_UNCHANGED(snap);
    }
    pa_ecies_ctx_wipe(&ctx);
    pa_device_free(d);
}

static void test_flow_31_compressed(void) { flow("3.1", 1); }
static void test_flow_31_uncompressed(void) { flow("3.1", 0); }
static void test_flow_30(void) { flow("3.0", 1); }

/* ---- StartUpgrade reuses ctrData ------------------------------------------------- */

static void test_repeated_start(void)
{
    char id[PA_UUID_BUF], p1[128], p2[128], ctr[PA_B64_ENCLEN(16) + 1], *row, *snap;
    pa_device *d = active_v2("bob", &app, "3.1", id);
    pa_upgrade_start_res res;
    pa_ecies_ctx ctx;
    wire w;

    CU_ASSERT_FATAL(generic_wire(d, "{}", 1, &w, &ctx));
    CU_ASSERT_EQUAL_FATAL(do_start(id, app.key, &w, &res), PA_OK);
    CU_ASSERT_TRUE(open_answer(&ctx, &res, p1, sizeof p1));
    EXPECT_ANSWER_IS_ROW(id, p1);
    pa_upgrade_start_res_free(&res);
    wire_free(&w);

    /* again (a lost answer): the same ctrData, nothing written */
    snap = snapshot();
    CU_ASSERT_FATAL(generic_wire(d, "{\"again\":true}", 0, &w, &ctx));
    CU_ASSERT_EQUAL_FATAL(do_start(id, app.key, &w, &res), PA_OK);
    CU_ASSERT_TRUE(open_answer(&ctx, &res, p2, sizeof p2));
    CU_ASSERT_STRING_EQUAL(p1, p2);
    pa_upgrade_start_res_free(&res);
    wire_free(&w);
    EXPECT_UNCHANGED(snap);

    /* and the device's own request reads it too */
    snap = snapshot();
    device_start(d, id, 1);
    EXPECT_UNCHANGED(snap);
    dev_ctr(d, ctr);
    row = row_ctr_data(id);
    CU_ASSERT_STRING_EQUAL(row, ctr);
    free(row);
    /* the upgrade completes */
    CU_ASSERT_EQUAL(sign_verify(d, id, "/pa/upgrade/commit",
                                PA_SIG_POSSESSION_KNOWLEDGE, 3), 1);
    CU_ASSERT_EQUAL(pa_upgrade_commit(&env, id, app.key), PA_OK);
    CU_ASSERT_EQUAL(sign_verify(d, id, "/pa/signature/validate",
                                PA_SIG_POSSESSION, 0), 1);
    pa_ecies_ctx_wipe(&ctx);
    pa_device_free(d);
}

/* ---- concurrent StartUpgrade ---------------------------------------------------------- */

#define NTHREADS 8

typedef struct racer {
    pthread_barrier_t *start;
    const char *id;
    const wire *w;
    pa_store *s;
    pa_err e;
    pa_upgrade_start_res res;
} racer;

static void *race(void *p)
{
    racer *r = p;
    pa_act_env my = {r->s, &cfg};
    pa_upgrade_start_req q = {r->id, app.key, wire_view(r->w)};

    pthread_barrier_wait(r->start);
    r->e = pa_upgrade_start(&my, &q, &r->res);
    return NULL;
}

static void test_concurrent_start(void)
{
    int round;

    for (round = 0; round < 3; round++) {
        char id[PA_UUID_BUF], plain[NTHREADS][128], user[16];
        pa_ecies_ctx ctx[NTHREADS];
        wire w[NTHREADS];
        racer r[NTHREADS];
        pthread_t th[NTHREADS];
        pthread_barrier_t start;
        pa_device *d;
        long long h0;
        int i;

        snprintf(user, sizeof user, "race%d", round);
        d = active_v2(user, &app, "3.1", id);
        h0 = n_history();
        pthread_barrier_init(&start, NULL, NTHREADS);
        for (i = 0; i < NTHREADS; i++) {
            CU_ASSERT_FATAL(generic_wire(d, "{}", i % 2, &w[i], &ctx[i]));
            r[i] = (racer){&start, id, &w[i], NULL, PA_OK, {NULL, NULL}};
            CU_ASSERT_EQUAL_FATAL(pa_store_open(path, NULL, &r[i].s), PA_OK);
        }
        for (i = 0; i < NTHREADS; i++)
            CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, race, &r[i]), 0);
        for (i = 0; i < NTHREADS; i++) {
            pthread_join(th[i], NULL);
            pa_store_close(r[i].s);
            CU_ASSERT_EQUAL(r[i].e, PA_OK);
            CU_ASSERT_TRUE(open_answer(&ctx[i], &r[i].res, plain[i],
                                       sizeof plain[i]));
            EXPECT_ANSWER_IS_ROW(id, plain[i]);
            if (i > 0)
                CU_ASSERT_STRING_EQUAL(plain[i], plain[0]);
            pa_upgrade_start_res_free(&r[i].res);
            pa_ecies_ctx_wipe(&ctx[i]);
            wire_free(&w[i]);
        }
        pthread_barrier_destroy(&start);
        CU_ASSERT_EQUAL(n_history(), h0);
        pa_device_free(d);
    }
}

/* ---- StartUpgrade faults ------------------------------------------------------------- */

#define EXPECT_START_FAULT(id_, key_, w_, want)                              \
    do {                                                                     \
        pa_upgrade_start_res res_;                                          \
        char *snap_ = snapshot();                                            \
        CU_ASSERT_EQUAL(do_start((id_), (key_), (w_), &res_), (want));       \
        CU_ASSERT_PTR_NULL(res_.encrypted_data);                             \
        CU_ASSERT_PTR_NULL(res_.mac);                                        \
        EXPECT_UNCHANGED(snap_);                                             \
    } while (0)

static void test_start_faults(void)
{
    char id[PA_UUID_BUF], v3[PA_UUID_BUF], blk[PA_UUID_BUF], oid[PA_UUID_BUF];
    char unknown[PA_UUID_BUF], pend_id[PA_UUID_BUF], *bad_mac, *bad_data;
    pa_device *d = active_v2("carol", &app, "3.1", id);
    pa_device *d3 = active("dan", &app, "3.1", v3);
    pa_device *db_ = active_v2("erin", &app, "3.1", blk);
    pa_device *dother = active_v2("frank", &other, "3.1", oid);
    pa_store_version unsup;
    wire w, w3, wb, wo, wtoken, wempty, wx;
    pa_act_cryptogram c;
    pa_upgrade_start_res res;
    char *blocked_reason = NULL;
    int status = 0;

    memset(&unsup, 0, sizeof unsup);
    CU_ASSERT_FATAL(generic_wire(d, "{}", 1, &w, NULL));
    CU_ASSERT_FATAL(generic_wire(d3, "{}", 1, &w3, NULL));
    CU_ASSERT_FATAL(generic_wire(db_, "{}", 1, &wb, NULL));
    CU_ASSERT_FATAL(generic_wire(dother, "{}", 1, &wo, NULL));
    CU_ASSERT_FATAL(generic_wire(d, "", 1, &wempty, NULL));
    CU_ASSERT_EQUAL(wempty.cg.data_len, 16);  /* one block of padding */
    memset(&wtoken, 0, sizeof wtoken);
    CU_ASSERT_EQUAL_FATAL(pa_device_token_request(d, 1, &wtoken.cg), PA_OK);
    CU_ASSERT_FATAL(wire_encode(&wtoken));
    CU_ASSERT_EQUAL(pa_activation_block(&env, blk, NULL, NULL, &status,
                                        &blocked_reason), PA_OK);
    free(blocked_reason);
    CU_ASSERT_EQUAL(status, PA_STATUS_BLOCKED);
    CU_ASSERT_EQUAL(pa_application_version_create(db, app.id, "old", &unsup), PA_OK);
    CU_ASSERT_EQUAL(pa_application_version_support(db, unsup.id, 0), PA_OK);
    CU_ASSERT_EQUAL(pa_uuid_v4(unknown), PA_OK);

    /* ERR0024: every required element */
    c = wire_view(&w);
    {
        pa_upgrade_start_req q[] = {
            {NULL, app.key, c},
            {id, NULL, c},
            {id, app.key, {NULL, c.encrypted_data, c.mac, c.nonce}},
            {id, app.key, {c.ephemeral_public_key, NULL, c.mac, c.nonce}},
            {id, app.key, {c.ephemeral_public_key, c.encrypted_data, NULL, c.nonce}},
            {id, app.key, {c.ephemeral_public_key, c.encrypted_data, "!!notb64", c.nonce}},
            {id, app.key, {"@@@@", c.encrypted_data, c.mac, c.nonce}},
        };
        size_t i;

        for (i = 0; i < sizeof q / sizeof *q; i++) {
            char *snap = snapshot();

            CU_ASSERT_EQUAL(pa_upgrade_start(&env, &q[i], &res),
                            PA_ERR_INVALID_REQUEST);
            CU_ASSERT_PTR_NULL(res.encrypted_data);
            EXPECT_UNCHANGED(snap);
        }
    }
    /* ERR0009 */
    EXPECT_START_FAULT(unknown, app.key, &w, PA_ERR_ACTIVATION_NOT_FOUND);
    /* ERR0008: version 3, BLOCKED, CREATED */
    EXPECT_START_FAULT(v3, app.key, &w3, PA_ERR_ACTIVATION_INCORRECT_STATE);
    EXPECT_START_FAULT(blk, app.key, &wb, PA_ERR_ACTIVATION_INCORRECT_STATE);
    {
        pa_act_init_req ir = {.user_id = "gina", .application_id = app.id,
                              .otp_mode = PA_OTP_NONE};
        pa_act_init_res ires;

        CU_ASSERT_EQUAL_FATAL(pa_activation_init(&env, &ir, &ires), PA_OK);
        memcpy(pend_id, ires.activation_id, PA_UUID_BUF);
        pa_act_init_res_free(&ires);
        EXPECT_START_FAULT(pend_id, app.key, &w, PA_ERR_ACTIVATION_INCORRECT_STATE);
    }
    /* ERR0015: unknown key, unsupported version, another application's key
     * (with a cryptogram that would decrypt) */
    EXPECT_START_FAULT(id, "AAAAAAAAAAAAAAAAAAAAAA==", &w, PA_ERR_INVALID_APPLICATION);
    EXPECT_START_FAULT(id, unsup.application_key, &w, PA_ERR_INVALID_APPLICATION);
    EXPECT_START_FAULT(id, other.key, &w, PA_ERR_INVALID_APPLICATION);
    EXPECT_START_FAULT(oid, app.key, &wo, PA_ERR_INVALID_APPLICATION);
    /* ERR0018: tampered MAC or data, another SH1, another activation's
     * keys */
    bad_mac = tamper_b64(w.mac);
    bad_data = tamper_b64(w.data);
    memset(&wx, 0, sizeof wx);
    wx.eph = w.eph;
    wx.data = w.data;
    wx.mac = bad_mac;
    wx.nonce = w.nonce;
    EXPECT_START_FAULT(id, app.key, &wx, PA_ERR_DECRYPTION_FAILED);
    wx.mac = w.mac;
    wx.data = bad_data;
    EXPECT_START_FAULT(id, app.key, &wx, PA_ERR_DECRYPTION_FAILED);
    EXPECT_START_FAULT(id, app.key, &wtoken, PA_ERR_DECRYPTION_FAILED);
    EXPECT_START_FAULT(id, app.key, &w3, PA_ERR_DECRYPTION_FAILED);
    /* ERR0011: the envelope opens, but holds nothing */
    EXPECT_START_FAULT(id, app.key, &wempty, PA_ERR_INVALID_INPUT_FORMAT);
    /* and after all that the right request works */
    CU_ASSERT_EQUAL(row_version(id), 2);
    {
        char *ctr = row_ctr_data(id);

        CU_ASSERT_PTR_NULL(ctr);
        free(ctr);
    }
    CU_ASSERT_EQUAL(do_start(id, app.key, &w, &res), PA_OK);
    pa_upgrade_start_res_free(&res);
    free(bad_mac);
    free(bad_data);
    pa_store_version_free(&unsup);
    wire_free(&w);
    wire_free(&w3);
    wire_free(&wb);
    wire_free(&wo);
    wire_free(&wtoken);
    wire_free(&wempty);
    pa_device_free(d);
    pa_device_free(d3);
    pa_device_free(db_);
    pa_device_free(dother);
}

/* ---- CommitUpgrade faults -------------------------------------------------------------- */

#define EXPECT_COMMIT_FAULT(id_, key_, want)                                 \
    do {                                                                     \
        char *snap_ = snapshot();                                            \
        CU_ASSERT_EQUAL(pa_upgrade_commit(&env, (id_), (key_)), (want));     \
        EXPECT_UNCHANGED(snap_);                                             \
    } while (0)

static void test_commit_faults(void)
{
    char id[PA_UUID_BUF], fresh[PA_UUID_BUF], v3[PA_UUID_BUF], blk[PA_UUID_BUF];
    char oid[PA_UUID_BUF], unknown[PA_UUID_BUF];
    pa_device *d = active_v2("hank", &app, "3.1", id);
    pa_device *dfresh = active_v2("ivy", &app, "3.1", fresh);
    pa_device *d3 = active("jack", &app, "3.1", v3);
    pa_device *dblk = active_v2("kate", &app, "3.1", blk);
    pa_device *dother = active_v2("liam", &other, "3.1", oid);
    pa_store_version unsup;
    char *blocked_reason = NULL;
    int status = 0;

    memset(&unsup, 0, sizeof unsup);
    device_start(d, id, 1);
    device_start(dblk, blk, 0);
    device_start(dother, oid, 1);
    CU_ASSERT_EQUAL(pa_activation_block(&env, blk, "NOT_SPECIFIED", NULL,
                                        &status, &blocked_reason), PA_OK);
    free(blocked_reason);
    CU_ASSERT_EQUAL(pa_application_version_create(db, app.id, "old", &unsup), PA_OK);
    CU_ASSERT_EQUAL(pa_application_version_support(db, unsup.id, 0), PA_OK);
    CU_ASSERT_EQUAL(pa_uuid_v4(unknown), PA_OK);

    /* ERR0024 */
    EXPECT_COMMIT_FAULT(NULL, app.key, PA_ERR_INVALID_REQUEST);
    EXPECT_COMMIT_FAULT(id, NULL, PA_ERR_INVALID_REQUEST);
    /* ERR0009 */
    EXPECT_COMMIT_FAULT(unknown, app.key, PA_ERR_ACTIVATION_NOT_FOUND);
    /* ERR0008: no ctr_data (never started), version 3, BLOCKED; the state
     * is checked before the key */
    EXPECT_COMMIT_FAULT(fresh, app.key, PA_ERR_ACTIVATION_INCORRECT_STATE);
    EXPECT_COMMIT_FAULT(v3, app.key, PA_ERR_ACTIVATION_INCORRECT_STATE);
    EXPECT_COMMIT_FAULT(blk, app.key, PA_ERR_ACTIVATION_INCORRECT_STATE);
    EXPECT_COMMIT_FAULT(fresh, "AAAAAAAAAAAAAAAAAAAAAA==",
                        PA_ERR_ACTIVATION_INCORRECT_STATE);
    /* ERR0015 */
    EXPECT_COMMIT_FAULT(id, "AAAAAAAAAAAAAAAAAAAAAA==", PA_ERR_INVALID_APPLICATION);
    EXPECT_COMMIT_FAULT(id, unsup.application_key, PA_ERR_INVALID_APPLICATION);
    EXPECT_COMMIT_FAULT(id, other.key, PA_ERR_INVALID_APPLICATION);
    EXPECT_COMMIT_FAULT(oid, app.key, PA_ERR_INVALID_APPLICATION);
    /* the right ones work (commitUpgrade checks no signature, 13.2) */
    CU_ASSERT_EQUAL(pa_upgrade_commit(&env, id, app.key), PA_OK);
    CU_ASSERT_EQUAL(row_version(id), 3);
    CU_ASSERT_EQUAL(pa_upgrade_commit(&env, oid, other.key), PA_OK);
    CU_ASSERT_EQUAL(row_version(oid), 3);
    CU_ASSERT_EQUAL(sign_verify(d, id, "/pa/signature/validate",
                                PA_SIG_POSSESSION_KNOWLEDGE, 0), 1);
    CU_ASSERT_EQUAL(sign_verify(dother, oid, "/pa/signature/validate",
                                PA_SIG_POSSESSION_KNOWLEDGE, 0), 1);
    pa_store_version_free(&unsup);
    pa_device_free(d);
    pa_device_free(dfresh);
    pa_device_free(d3);
    pa_device_free(dblk);
    pa_device_free(dother);
}

/* ---- the SOAP handlers ----------------------------------------------------------------- */

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
    char id[PA_UUID_BUF], plain[128], *snap;
    pa_device *d = active_v2("mona", &app, "3.1", id);
    pa_ecies_ctx ctx;
    hsoap h;
    wire w;
    int rc;

    CU_ASSERT_FATAL(generic_wire(d, "{}", 1, &w, &ctx));
    /* StartUpgrade: a missing element */
    {
        struct _pa3__StartUpgradeRequest rq = {id, app.key, w.eph, w.data, NULL,
                                               w.nonce};
        struct _pa3__StartUpgradeResponse rs;

        snap = snapshot();
        h_open(&h);
        memset(&rs, 0, sizeof rs);
        rc = __pa3__StartUpgrade(h.soap, &rq, &rs);
        CU_ASSERT_TRUE(h_fault(&h, rc, PA_ERR_INVALID_REQUEST));
        CU_ASSERT_STRING_EQUAL(h.ctx.operation, "StartUpgrade");
        h_close(&h);
        EXPECT_UNCHANGED(snap);
    }
    /* CommitUpgrade before StartUpgrade: ERR0008 */
    {
        struct _pa3__CommitUpgradeRequest rq = {id, app.key};
        struct _pa3__CommitUpgradeResponse rs;

        snap = snapshot();
        h_open(&h);
        memset(&rs, 0, sizeof rs);
        rc = __pa3__CommitUpgrade(h.soap, &rq, &rs);
        CU_ASSERT_TRUE(h_fault(&h, rc, PA_ERR_ACTIVATION_INCORRECT_STATE));
        CU_ASSERT_STRING_EQUAL(h.ctx.operation, "CommitUpgrade");
        h_close(&h);
        EXPECT_UNCHANGED(snap);
    }
    /* StartUpgrade answers */
    {
        struct _pa3__StartUpgradeRequest rq = {id, app.key, w.eph, w.data, w.mac,
                                               w.nonce};
        struct _pa3__StartUpgradeResponse rs;
        pa_upgrade_start_res view;

        h_open(&h);
        memset(&rs, 0, sizeof rs);
        rc = __pa3__StartUpgrade(h.soap, &rq, &rs);
        CU_ASSERT_EQUAL(rc, SOAP_OK);
        CU_ASSERT_EQUAL(h.ctx.result, PA_OK);
        view.encrypted_data = rs.encryptedData;
        view.mac = rs.mac;
        CU_ASSERT_TRUE(open_answer(&ctx, &view, plain, sizeof plain));
        EXPECT_ANSWER_IS_ROW(id, plain);
        h_close(&h);
    }
    /* CommitUpgrade: committed = true, missing key ERR0024 */
    {
        struct _pa3__CommitUpgradeRequest rq = {id, NULL};
        struct _pa3__CommitUpgradeResponse rs;

        h_open(&h);
        memset(&rs, 0, sizeof rs);
        rc = __pa3__CommitUpgrade(h.soap, &rq, &rs);
        CU_ASSERT_TRUE(h_fault(&h, rc, PA_ERR_INVALID_REQUEST));
        h_close(&h);
        rq.applicationKey = app.key;
        h_open(&h);
        memset(&rs, 0, sizeof rs);
        rc = __pa3__CommitUpgrade(h.soap, &rq, &rs);
        CU_ASSERT_EQUAL(rc, SOAP_OK);
        CU_ASSERT_PTR_NOT_NULL_FATAL(rs.committed);
        CU_ASSERT_EQUAL(*rs.committed, xsd__boolean__true_);
        h_close(&h);
        CU_ASSERT_EQUAL(row_version(id), 3);
    }
    pa_ecies_ctx_wipe(&ctx);
    wire_free(&w);
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
        {"upgrade 3.1, compressed key", test_flow_31_compressed},
        {"upgrade 3.1, uncompressed key", test_flow_31_uncompressed},
        {"upgrade 3.0", test_flow_30},
        {"repeated StartUpgrade", test_repeated_start},
        {"concurrent StartUpgrade", test_concurrent_start},
        {"StartUpgrade faults", test_start_faults},
        {"CommitUpgrade faults", test_commit_faults},
        {"handlers", test_handlers},
    };
    CU_pSuite s;
    unsigned failed;
    size_t i;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite_with_setup_and_teardown("upgrade", NULL, NULL, setup,
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
