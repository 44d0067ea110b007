/*
 * test_token_service.c - the v3 MAC token service (src/service/token.c)
 * and its replay cache (src/service/replay.c), called directly, no SOAP,
 * on a fresh migrated SQLite file per test.
 *
 * The activations are made by the activation service with the device
 * emulator libpadevice playing the phone (as in test_activation.c), and
 * the device also plays the token flow of CRYPTO.md 10: it encrypts the
 * token request, reads the server's answer with the CLIENT half of ECIES
 * and computes the digests (10.2).  When the service accepts what the
 * device computes and refuses what it should not, the server side is
 * right.
 *
 * Expectations: shared/spec/CRYPTO.md 4.1, 5.4-5.7, 5.11, 10, 18.2 and
 * shared/contract/DATABASE.md 5.7, 5.9, plus paserver's additions (future
 * bound, replay protection, failing closed when the replay cache is full).
 * pa_token rows are read back with raw SQL on a separate connection, and
 * the log is captured to check what is (and never is) written to it.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "cunit_status.h"
#include <CUnit/CUnit.h>
#include <sqlite3.h>

#include "crypto/primitives.h"
#include "service/activation.h"
#include "service/application.h"
#include "service/replay.h"
#include "service/token.h"
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
static app_info other;           /* "shop", another application */
static FILE *log_file;               /* the captured log of the test */

/* Strings that must never appear in the log (secrets, digests, nonces). */
static char *secrets[256];
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
    pa_tempdb_make("pa-token", dir, sizeof dir, path, sizeof path);
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
    pa_token_shutdown();        /* a fresh replay cache per test */
}

/* The log written so far (malloc'ed). */
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

static size_t count_in(const char *hay, const char *needle)
{
    size_t n = 0;
    const char *p = hay;

    while ((p = strstr(p, needle)) != NULL) {
        n++;
        p += strlen(needle);
    }
    return n;
}

static void teardown(void)
{
    char *log = log_text();
    size_t i;

    /* DESIGN.md: never a secret, digest or nonce in the log. */
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
    pa_token_shutdown();
    pa_config_free(&cfg);
    pa_store_close(db);
    db = NULL;
    pa_tempdb_remove(dir, path);
}

/* ---- raw SQL on a separate connection ---------------------------------------- */

/* First column of the first row as an integer; -1 when there is no row. */
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

static long long n_tokens(void)
{
    return q_int("SELECT count(*) FROM pa_token", NULL);
}

/* pa_token and pa_activation as text, to prove a call wrote nothing. */
static char *snapshot(void)
{
    static const char *const sql[] = {
        "SELECT * FROM pa_token ORDER BY token_id",
        "SELECT * FROM pa_activation ORDER BY activation_id",
        "SELECT * FROM pa_activation_history ORDER BY id"};
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

/* The device's activation, prepared with its code: PENDING_COMMIT. */
static pa_device *pending(const char *user, const app_info *a, const char *proto,
                          char id[PA_UUID_BUF])
{
    pa_device_activation_opts o = {.compressed_eph = 1};
    pa_act_init_req ir = {.user_id = user, .application_id = a->id,
                          .otp_mode = PA_OTP_NONE};
    pa_act_init_res res;
    pa_act_keyx_res kr;
    pa_device *d = new_device(a, proto);
    uint8_t *ct = NULL, mac[32];
    size_t n = 0;
    wire w;
    int ok;

    memset(&w, 0, sizeof w);
    memset(&kr, 0, sizeof kr);
    ok = d && pa_activation_init(&env, &ir, &res) == PA_OK;
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

/* An ACTIVE activation with its device. */
static pa_device *active(const char *user, const app_info *a, const char *proto,
                         char id[PA_UUID_BUF])
{
    pa_device *d = pending(user, a, proto, id);

    CU_ASSERT_EQUAL_FATAL(pa_activation_commit(&env, id, NULL, NULL), PA_OK);
    return d;
}

/* The device's token request on the wire. */
static int token_wire(pa_device *d, int compressed, wire *w)
{
    memset(w, 0, sizeof *w);
    return pa_device_token_request(d, compressed, &w->cg) == PA_OK && wire_encode(w);
}

static pa_err do_create(const char *act, const char *key, const wire *w,
                        const char *type, pa_token_create_res *res)
{
    pa_token_create_req r = {act, key, wire_view(w), type};

    return pa_token_create(&env, &r, res);
}

/* The device reads CreateToken's answer; its plaintext is copied into
 * plain_out (when not NULL) before the device stores the token. */
static const pa_device_token *device_read(pa_device *d,
                                          const pa_token_create_res *res,
                                          char *plain_out, size_t cap)
{
    const pa_device_token *tok = NULL;
    uint8_t *ct = NULL, mac[32], *plain = NULL;
    size_t n = 0, pn = 0;

    if (!res->encrypted_data || !res->mac
        || pa_b64_decode_alloc(res->encrypted_data, &ct, &n) != PA_OK
        || pa_b64_decode_exact(res->mac, mac, sizeof mac) != PA_OK) {
        free(ct);
        return NULL;
    }
    if (plain_out) {
        plain_out[0] = '\0';
        if (pa_ecies_client_decrypt_response(&d->pending_ctx, ct, n, mac,
                                             sizeof mac, &plain, &pn) == PA_OK
            && pn < cap) {
            memcpy(plain_out, plain, pn);
            plain_out[pn] = '\0';
        }
        if (plain)
            pa_secure_free(plain, pn);
    }
    if (pa_device_token_response(d, ct, n, mac, sizeof mac, &tok) != PA_OK)
        tok = NULL;
    free(ct);
    return tok;
}

/* CreateToken for the device's activation; the token's id is copied out. */
static int create_token(pa_device *d, const char *act, const char *type,
                        char id[PA_UUID_BUF])
{
    pa_token_create_res res;
    const pa_device_token *tok = NULL;
    char sb[PA_B64_ENCLEN(16) + 1];
    wire w;
    int ok = token_wire(d, 1, &w) && do_create(act, d->app_key, &w, type, &res) == PA_OK;

    if (ok) {
        tok = device_read(d, &res, NULL, 0);
        pa_token_create_res_free(&res);
    }
    wire_free(&w);
    ok = ok && tok && strlen(tok->id) == PA_UUID_LEN;
    if (ok) {
        memcpy(id, tok->id, PA_UUID_BUF);
        pa_b64_encode(tok->secret, sizeof tok->secret, sb);
        remember_secret(sb);
    }
    return ok;
}

/* A digest as the device sends it: Base64 digest and nonce. */
typedef struct digest {
    char digest[PA_B64_ENCLEN(32) + 1];
    char nonce[PA_B64_ENCLEN(16) + 1];
    uint8_t nonce_raw[16];
    int64_t ts;
} digest;

/* nonce NULL: random. */
static int make_digest(const pa_device *d, const char *token_id,
                       const uint8_t *nonce, int64_t ts, digest *out)
{
    uint8_t dg[PA_TOKEN_DIGEST_LEN];

    memset(out, 0, sizeof *out);
    if (nonce)
        memcpy(out->nonce_raw, nonce, 16);
    else if (pa_random(out->nonce_raw, 16) != PA_OK)
        return 0;
    out->ts = ts;
    if (pa_device_token_digest(d, token_id, out->nonce_raw, ts, dg) != PA_OK)
        return 0;
    pa_b64_encode(dg, sizeof dg, out->digest);
    pa_b64_encode(out->nonce_raw, 16, out->nonce);
    remember_secret(out->digest);
    remember_secret(out->nonce);
    return 1;
}

static pa_err validate(const char *token_id, const digest *g,
                       pa_token_validate_res *res)
{
    pa_token_validate_req r = {token_id, g->digest, g->nonce, 1, g->ts};

    return pa_token_validate(&env, &r, res);
}

/* ValidateToken's verdict: 1 valid, 0 not, -1 a fault. *why when not NULL. */
static int verdict(const char *token_id, const digest *g, pa_token_refusal *why)
{
    pa_token_validate_res res;
    pa_err e = validate(token_id, g, &res);
    int v = e == PA_OK ? res.valid : -1;

    if (why)
        *why = res.why;
    pa_token_validate_res_free(&res);
    return v;
}

/* An ACTIVE activation of `app` with one POSSESSION_KNOWLEDGE token. */
static pa_device *with_token(const char *user, char act[PA_UUID_BUF],
                             char tok[PA_UUID_BUF])
{
    pa_device *d = active(user, &app, "3.1", act);

    CU_ASSERT_FATAL(create_token(d, act, "POSSESSION_KNOWLEDGE", tok));
    return d;
}

/* ---- CreateToken and ValidateToken, the whole flow ------------------------------ */

static void flow(const char *proto, int compressed)
{
    char act[PA_UUID_BUF], expected[256], plain[256], sb[PA_B64_ENCLEN(16) + 1];
    pa_device *d = active("alice", &app, proto, act);
    pa_token_create_res res;
    pa_token_validate_res vr;
    const pa_device_token *tok;
    char *s;
    digest g;
    int64_t before = pa_time_now_ms(), created;
    wire w;

    CU_ASSERT_FATAL(token_wire(d, compressed, &w));
    CU_ASSERT_EQUAL(w.cg.has_nonce, strcmp(proto, "3.1") == 0);
    CU_ASSERT_EQUAL_FATAL(do_create(act, app.key, &w, "POSSESSION_BIOMETRY", &res),
                          PA_OK);
    tok = device_read(d, &res, plain, sizeof plain);
    pa_token_create_res_free(&res);
    wire_free(&w);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
    pa_b64_encode(tok->secret, sizeof tok->secret, sb);
    remember_secret(sb);
    /* 10.1 step 5: exactly this document */
    snprintf(expected, sizeof expected,
             "{\"tokenId\":\"%s\",\"tokenSecret\":\"%s\",\"expires\":null}",
             tok->id, sb);
    CU_ASSERT_STRING_EQUAL(plain, expected);
    CU_ASSERT_TRUE(pa_uuid_is_v4(tok->id));
    /* 10.1 step 7: the row */
    CU_ASSERT_EQUAL(n_tokens(), 1);
    s = q_text("SELECT token_secret FROM pa_token WHERE token_id = ?1", tok->id);
    CU_ASSERT_PTR_NOT_NULL(s);
    if (s)
        CU_ASSERT_STRING_EQUAL(s, sb);
    free(s);
    s = q_text("SELECT activation_id FROM pa_token WHERE token_id = ?1", tok->id);
    CU_ASSERT_PTR_NOT_NULL(s);
    if (s)
        CU_ASSERT_STRING_EQUAL(s, act);
    free(s);
    s = q_text("SELECT signature_type FROM pa_token WHERE token_id = ?1", tok->id);
    CU_ASSERT_PTR_NOT_NULL(s);
    if (s)
        CU_ASSERT_STRING_EQUAL(s, "POSSESSION_BIOMETRY");
    free(s);
    created = q_int("SELECT timestamp_created FROM pa_token WHERE token_id = ?1",
                    tok->id);
    CU_ASSERT_TRUE(created >= before - 1000 && created <= pa_time_now_ms() + 1000);
    /* 10.2, 10.3: the device's digest is valid */
    CU_ASSERT_FATAL(make_digest(d, tok->id, NULL, pa_time_now_ms(), &g));
    CU_ASSERT_EQUAL_FATAL(validate(tok->id, &g, &vr), PA_OK);
    CU_ASSERT_EQUAL(vr.valid, 1);
    CU_ASSERT_EQUAL(vr.why, PA_TOKEN_ACCEPTED);
    CU_ASSERT_PTR_NOT_NULL_FATAL(vr.activation_id);
    CU_ASSERT_STRING_EQUAL(vr.activation_id, act);
    CU_ASSERT_PTR_NOT_NULL_FATAL(vr.user_id);
    CU_ASSERT_STRING_EQUAL(vr.user_id, "alice");
    CU_ASSERT_EQUAL(vr.application_id, app.id);
    CU_ASSERT_PTR_NOT_NULL_FATAL(vr.signature_type);
    CU_ASSERT_STRING_EQUAL(vr.signature_type, "POSSESSION_BIOMETRY");
    pa_token_validate_res_free(&vr);
    pa_device_free(d);
}

static void test_flow_31_compressed(void) { flow("3.1", 1); }
static void test_flow_31_uncompressed(void) { flow("3.1", 0); }
static void test_flow_30_compressed(void) { flow("3.0", 1); }

/* Several tokens per activation, each with its own secret. */
static void test_two_tokens(void)
{
    char act[PA_UUID_BUF], t1[PA_UUID_BUF], t2[PA_UUID_BUF];
    pa_device *d = with_token("bob", act, t1);
    digest g;

    CU_ASSERT_FATAL(create_token(d, act, "POSSESSION", t2));
    CU_ASSERT_STRING_NOT_EQUAL(t1, t2);
    CU_ASSERT_EQUAL(n_tokens(), 2);
    CU_ASSERT_FATAL(make_digest(d, t2, NULL, pa_time_now_ms(), &g));
    CU_ASSERT_EQUAL(verdict(t2, &g, NULL), 1);
    /* t2's digest presented for t1: not valid */
    CU_ASSERT_EQUAL(verdict(t1, &g, NULL), 0);
    pa_device_free(d);
}

/* ---- ValidateToken: digests ------------------------------------------------------- */

static void test_wrong_digest(void)
{
    char act[PA_UUID_BUF], tok[PA_UUID_BUF], *bad;
    pa_device *d = with_token("carol", act, tok);
    pa_token_refusal why;
    digest g, h;
    int64_t now = pa_time_now_ms();

    CU_ASSERT_FATAL(make_digest(d, tok, NULL, now, &g));
    /* one bit off */
    h = g;
    bad = tamper_b64(g.digest);
    CU_ASSERT_PTR_NOT_NULL_FATAL(bad);
    snprintf(h.digest, sizeof h.digest, "%s", bad);
    free(bad);
    CU_ASSERT_EQUAL(verdict(tok, &h, &why), 0);
    CU_ASSERT_EQUAL(why, PA_TOKEN_BAD_DIGEST);
    /* the digest of another timestamp */
    h = g;
    h.ts = now + 1;
    CU_ASSERT_EQUAL(verdict(tok, &h, &why), 0);
    CU_ASSERT_EQUAL(why, PA_TOKEN_BAD_DIGEST);
    /* another nonce */
    h = g;
    h.nonce_raw[0] ^= 1;
    pa_b64_encode(h.nonce_raw, 16, h.nonce);
    CU_ASSERT_EQUAL(verdict(tok, &h, &why), 0);
    /* too short a digest (16 bytes) and an empty one */
    h = g;
    snprintf(h.digest, sizeof h.digest, "%.22s==", g.digest);
    CU_ASSERT_EQUAL(verdict(tok, &h, &why), 0);
    h.digest[0] = '\0';
    CU_ASSERT_EQUAL(verdict(tok, &h, &why), 0);
    /* an empty nonce decodes to nothing: just not valid */
    h = g;
    h.nonce[0] = '\0';
    CU_ASSERT_EQUAL(verdict(tok, &h, &why), 0);
    CU_ASSERT_EQUAL(why, PA_TOKEN_BAD_DIGEST);
    /* forged digests did not use up the pair: the real one is still good */
    CU_ASSERT_EQUAL(verdict(tok, &g, &why), 1);
    pa_device_free(d);
}

/* The same Base64 nonce bytes in another spelling (no padding) are the
 * same nonce: the replay check works on the decoded bytes. */
static void test_replay(void)
{
    char act[PA_UUID_BUF], tok[PA_UUID_BUF];
    pa_device *d = with_token("dave", act, tok);
    pa_token_refusal why;
    digest g, h, k;
    int64_t now = pa_time_now_ms();

    CU_ASSERT_TRUE(cfg.token_replay_protection);   /* the default */
    CU_ASSERT_FATAL(make_digest(d, tok, NULL, now, &g));
    CU_ASSERT_EQUAL(verdict(tok, &g, &why), 1);
    /* the same request again: a replay */
    CU_ASSERT_EQUAL(verdict(tok, &g, &why), 0);
    CU_ASSERT_EQUAL(why, PA_TOKEN_REPLAY);
    /* the same nonce, unpadded */
    h = g;
    h.nonce[22] = '\0';
    CU_ASSERT_EQUAL(verdict(tok, &h, &why), 0);
    CU_ASSERT_EQUAL(why, PA_TOKEN_REPLAY);
    /* the same nonce with a new timestamp (and its valid digest) */
    CU_ASSERT_FATAL(make_digest(d, tok, g.nonce_raw, now + 5, &k));
    CU_ASSERT_EQUAL(verdict(tok, &k, &why), 0);
    CU_ASSERT_EQUAL(why, PA_TOKEN_REPLAY);
    /* another nonce is fine, once */
    CU_ASSERT_FATAL(make_digest(d, tok, NULL, now, &h));
    CU_ASSERT_EQUAL(verdict(tok, &h, &why), 1);
    CU_ASSERT_EQUAL(verdict(tok, &h, &why), 0);
    /* the log says why, and names the token */
    {
        char *log = log_text();

        CU_ASSERT_TRUE(count_in(log, "replay") >= 3);
        CU_ASSERT_PTR_NOT_NULL(strstr(log, tok));
        free(log);
    }
    /* without replay protection: the original, every time valid */
    cfg.token_replay_protection = false;
    CU_ASSERT_EQUAL(verdict(tok, &g, &why), 1);
    CU_ASSERT_EQUAL(verdict(tok, &g, &why), 1);
    CU_ASSERT_EQUAL(verdict(tok, &k, &why), 1);
    pa_device_free(d);
}

/* ---- ValidateToken: timestamps ----------------------------------------------------- */

static void test_timestamp_too_old(void)
{
    char act[PA_UUID_BUF], tok[PA_UUID_BUF], *snap;
    pa_device *d = with_token("erin", act, tok);
    pa_token_validate_res res;
    int64_t now = pa_time_now_ms();
    digest g;

    CU_ASSERT_EQUAL(cfg.token_timestamp_validity_ms, 7200000);
    snap = snapshot();
    CU_ASSERT_FATAL(make_digest(d, tok, NULL, now - 7200000 - 5000, &g));
    CU_ASSERT_EQUAL(validate(tok, &g, &res), PA_ERR_TOKEN_TIMESTAMP_TOO_OLD);
    CU_ASSERT_EQUAL(res.valid, 0);
    /* before the lookup: an unknown token too, and a forged digest */
    CU_ASSERT_EQUAL(validate("3f0d2c1e-1111-4222-8333-944455556666", &g, &res),
                    PA_ERR_TOKEN_TIMESTAMP_TOO_OLD);
    g.digest[0] = g.digest[0] == 'A' ? 'B' : 'A';
    CU_ASSERT_EQUAL(validate(tok, &g, &res), PA_ERR_TOKEN_TIMESTAMP_TOO_OLD);
    EXPECT_UNCHANGED(snap);
    /* inside the window (10 s to spare): valid */
    CU_ASSERT_FATAL(make_digest(d, tok, NULL, now - 7200000 + 10000, &g));
    CU_ASSERT_EQUAL(verdict(tok, &g, NULL), 1);
    /* a shorter window */
    cfg.token_timestamp_validity_ms = 1000;
    CU_ASSERT_FATAL(make_digest(d, tok, NULL, now - 60000, &g));
    CU_ASSERT_EQUAL(verdict(tok, &g, NULL), -1);
    pa_device_free(d);
}

static void test_timestamp_future(void)
{
    char act[PA_UUID_BUF], tok[PA_UUID_BUF], *log;
    pa_device *d = with_token("frank", act, tok);
    pa_token_refusal why;
    int64_t now = pa_time_now_ms();
    digest g;

    CU_ASSERT_EQUAL(cfg.token_max_future_ms, 3600000);   /* the default */
    /* an hour and a minute ahead: refused, and logged at INFO */
    CU_ASSERT_FATAL(make_digest(d, tok, NULL, now + 3660000, &g));
    CU_ASSERT_EQUAL(verdict(tok, &g, &why), 0);
    CU_ASSERT_EQUAL(why, PA_TOKEN_IN_FUTURE);
    log = log_text();
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "INFO"));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "ahead of the server clock"));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, tok));
    free(log);
    /* the refusal did not use up the pair */
    /* without the bound (the original): valid */
    cfg.token_max_future_ms = 0;
    CU_ASSERT_EQUAL(verdict(tok, &g, &why), 1);
    /* with the bound, a little ahead is fine */
    cfg.token_max_future_ms = 3600000;
    CU_ASSERT_FATAL(make_digest(d, tok, NULL, now + 60000, &g));
    CU_ASSERT_EQUAL(verdict(tok, &g, &why), 1);
    /* the farthest timestamp there is */
    CU_ASSERT_FATAL(make_digest(d, tok, NULL, INT64_MAX, &g));
    CU_ASSERT_EQUAL(verdict(tok, &g, &why), 0);
    CU_ASSERT_EQUAL(why, PA_TOKEN_IN_FUTURE);
    cfg.token_max_future_ms = 0;
    CU_ASSERT_EQUAL(verdict(tok, &g, &why), 1);
    CU_ASSERT_EQUAL(verdict(tok, &g, &why), 0);
    CU_ASSERT_EQUAL(why, PA_TOKEN_REPLAY);
    pa_device_free(d);
}

/* ---- ValidateToken: the replay cache full ------------------------------------------- */

static void test_cache_full(void)
{
    char act[PA_UUID_BUF], tok[PA_UUID_BUF], *log;
    pa_device *d = with_token("gina", act, tok);
    pa_token_refusal why;
    int64_t now = pa_time_now_ms();
    digest g[4], forged;

    /* A cache of two pairs whose windows end 3 s from now (time enough for
     * the checks below, even under valgrind). */
    cfg.token_replay_cache_entries = 2;
    pa_token_shutdown();
    CU_ASSERT_FATAL(make_digest(d, tok, NULL, now - 7200000 + 3000, &g[0]));
    CU_ASSERT_FATAL(make_digest(d, tok, NULL, now - 7200000 + 3000, &g[1]));
    CU_ASSERT_FATAL(make_digest(d, tok, NULL, now, &g[2]));
    CU_ASSERT_FATAL(make_digest(d, tok, NULL, now, &g[3]));
    /* forged digests never take a place */
    forged = g[2];
    forged.digest[1] = forged.digest[1] == 'A' ? 'B' : 'A';
    CU_ASSERT_EQUAL(verdict(tok, &forged, &why), 0);
    CU_ASSERT_EQUAL(why, PA_TOKEN_BAD_DIGEST);
    CU_ASSERT_EQUAL(verdict(tok, &g[0], &why), 1);
    CU_ASSERT_EQUAL(verdict(tok, &g[1], &why), 1);
    /* full of live pairs: a valid digest is refused (fail closed) */
    CU_ASSERT_EQUAL(verdict(tok, &g[2], &why), 0);
    CU_ASSERT_EQUAL(why, PA_TOKEN_CACHE_FULL);
    CU_ASSERT_EQUAL(verdict(tok, &g[3], &why), 0);
    CU_ASSERT_EQUAL(why, PA_TOKEN_CACHE_FULL);
    /* a replay is still a replay */
    CU_ASSERT_EQUAL(verdict(tok, &g[0], &why), 0);
    CU_ASSERT_EQUAL(why, PA_TOKEN_REPLAY);
    /* one warning for both refusals */
    log = log_text();
    CU_ASSERT_EQUAL(count_in(log, "WARN"), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "token replay cache full"));
    free(log);
    /* once the first two windows are over, there is room again */
    while (pa_time_now_ms() <= now + 3000)
        usleep(100 * 1000);
    CU_ASSERT_EQUAL(verdict(tok, &g[2], &why), 1);
    CU_ASSERT_EQUAL(verdict(tok, &g[3], &why), 1);
    CU_ASSERT_EQUAL(verdict(tok, &g[2], &why), 0);
    CU_ASSERT_EQUAL(why, PA_TOKEN_REPLAY);
    /* and the old pairs fail on their timestamp now */
    CU_ASSERT_EQUAL(verdict(tok, &g[0], &why), -1);
    /* full again: refused, but no second warning within the minute */
    CU_ASSERT_FATAL(make_digest(d, tok, NULL, now, &g[0]));
    CU_ASSERT_EQUAL(verdict(tok, &g[0], &why), 0);
    CU_ASSERT_EQUAL(why, PA_TOKEN_CACHE_FULL);
    log = log_text();
    CU_ASSERT_EQUAL(count_in(log, "WARN"), 1);
    free(log);
    /* without replay protection the cache is not consulted */
    cfg.token_replay_protection = false;
    CU_ASSERT_EQUAL(verdict(tok, &g[0], &why), 1);
    pa_device_free(d);
}

/* ---- ValidateToken: the activation and unknown tokens -------------------------------- */

static void test_blocked_activation(void)
{
    char act[PA_UUID_BUF], tok[PA_UUID_BUF], *reason = NULL, *snap;
    pa_device *d = with_token("hank", act, tok);
    pa_token_create_res res;
    int status = 0;
    digest g;
    wire w;

    CU_ASSERT_EQUAL_FATAL(pa_activation_block(&env, act, "LOST", NULL, &status,
                                              &reason), PA_OK);
    free(reason);
    CU_ASSERT_EQUAL(status, PA_STATUS_BLOCKED);
    CU_ASSERT_FATAL(make_digest(d, tok, NULL, pa_time_now_ms(), &g));
    snap = snapshot();
    CU_ASSERT_EQUAL(verdict(tok, &g, NULL), -1);
    {
        pa_token_validate_res vr;

        CU_ASSERT_EQUAL(validate(tok, &g, &vr), PA_ERR_ACTIVATION_INCORRECT_STATE);
        CU_ASSERT_PTR_NULL(vr.activation_id);
    }
    /* ERR0008 even for a forged digest (the state is checked first) */
    g.digest[0] = g.digest[0] == 'A' ? 'B' : 'A';
    CU_ASSERT_EQUAL(verdict(tok, &g, NULL), -1);
    /* no new token for a blocked activation */
    CU_ASSERT_FATAL(token_wire(d, 1, &w));
    CU_ASSERT_EQUAL(do_create(act, app.key, &w, "POSSESSION", &res),
                    PA_ERR_ACTIVATION_INCORRECT_STATE);
    wire_free(&w);
    EXPECT_UNCHANGED(snap);
    /* tokens survive blocking (DATABASE.md 5.7): unblocked, valid again */
    CU_ASSERT_EQUAL_FATAL(pa_activation_unblock(&env, act, NULL, &status), PA_OK);
    CU_ASSERT_FATAL(make_digest(d, tok, NULL, pa_time_now_ms(), &g));
    CU_ASSERT_EQUAL(verdict(tok, &g, NULL), 1);
    /* removed: ERR0008 for good, the row stays */
    CU_ASSERT_EQUAL_FATAL(pa_activation_remove(&env, act, NULL, 0), PA_OK);
    CU_ASSERT_FATAL(make_digest(d, tok, NULL, pa_time_now_ms(), &g));
    CU_ASSERT_EQUAL(verdict(tok, &g, NULL), -1);
    CU_ASSERT_EQUAL(n_tokens(), 1);
    pa_device_free(d);
}

static void test_unknown_token(void)
{
    char act[PA_UUID_BUF], tok[PA_UUID_BUF];
    pa_device *d = with_token("ivan", act, tok);
    pa_token_refusal why;
    digest g;

    CU_ASSERT_FATAL(make_digest(d, tok, NULL, pa_time_now_ms(), &g));
    CU_ASSERT_EQUAL(verdict("3f0d2c1e-1111-4222-8333-944455556666", &g, &why), 0);
    CU_ASSERT_EQUAL(why, PA_TOKEN_NOT_FOUND);
    CU_ASSERT_EQUAL(verdict("", &g, &why), 0);
    CU_ASSERT_EQUAL(verdict("not a uuid at all", &g, &why), 0);
    /* the id is looked up exactly as sent */
    {
        char upper[PA_UUID_BUF];
        size_t i;

        for (i = 0; i < PA_UUID_BUF; i++)
            upper[i] = (char)(tok[i] >= 'a' && tok[i] <= 'f' ? tok[i] - 32 : tok[i]);
        if (strcmp(upper, tok) != 0) {
            CU_ASSERT_EQUAL(verdict(upper, &g, &why), 0);
            CU_ASSERT_EQUAL(why, PA_TOKEN_NOT_FOUND);
        }
    }
    CU_ASSERT_EQUAL(verdict(tok, &g, &why), 1);
    pa_device_free(d);
}

static void test_validate_faults(void)
{
    char act[PA_UUID_BUF], tok[PA_UUID_BUF], *snap;
    pa_device *d = with_token("judy", act, tok);
    pa_token_validate_res res;
    pa_token_validate_req r;
    digest g;

    CU_ASSERT_FATAL(make_digest(d, tok, NULL, pa_time_now_ms(), &g));
    snap = snapshot();
    r = (pa_token_validate_req){NULL, g.digest, g.nonce, 1, g.ts};
    CU_ASSERT_EQUAL(pa_token_validate(&env, &r, &res), PA_ERR_INVALID_REQUEST);
    r = (pa_token_validate_req){tok, NULL, g.nonce, 1, g.ts};
    CU_ASSERT_EQUAL(pa_token_validate(&env, &r, &res), PA_ERR_INVALID_REQUEST);
    r = (pa_token_validate_req){tok, g.digest, NULL, 1, g.ts};
    CU_ASSERT_EQUAL(pa_token_validate(&env, &r, &res), PA_ERR_INVALID_REQUEST);
    r = (pa_token_validate_req){tok, g.digest, g.nonce, 0, g.ts};
    CU_ASSERT_EQUAL(pa_token_validate(&env, &r, &res), PA_ERR_INVALID_REQUEST);
    /* undecodable Base64 (CRYPTO.md 5.11): ERR0024, before anything else */
    r = (pa_token_validate_req){tok, g.digest, "not base64!", 1, g.ts};
    CU_ASSERT_EQUAL(pa_token_validate(&env, &r, &res), PA_ERR_INVALID_REQUEST);
    r = (pa_token_validate_req){tok, "A", g.nonce, 1, g.ts};
    CU_ASSERT_EQUAL(pa_token_validate(&env, &r, &res), PA_ERR_INVALID_REQUEST);
    r = (pa_token_validate_req){tok, g.digest, "-_-_", 1, 0};
    CU_ASSERT_EQUAL(pa_token_validate(&env, &r, &res), PA_ERR_INVALID_REQUEST);
    EXPECT_UNCHANGED(snap);
    /* none of that used up the pair */
    CU_ASSERT_EQUAL(verdict(tok, &g, NULL), 1);
    pa_device_free(d);
}

/* ---- RemoveToken ------------------------------------------------------------------------- */

static void test_remove(void)
{
    char act[PA_UUID_BUF], act2[PA_UUID_BUF], tok[PA_UUID_BUF];
    pa_device *d = with_token("kate", act, tok);
    pa_device *d2 = active("kate", &app, "3.1", act2);
    pa_token_refusal why;
    int removed = 1;
    digest g;

    CU_ASSERT_EQUAL(pa_token_remove(&env, NULL, act, &removed), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_token_remove(&env, tok, NULL, &removed), PA_ERR_INVALID_REQUEST);
    /* another activation (of the same user): not removed, row kept */
    CU_ASSERT_EQUAL(pa_token_remove(&env, tok, act2, &removed), PA_OK);
    CU_ASSERT_EQUAL(removed, 0);
    CU_ASSERT_EQUAL(q_int("SELECT count(*) FROM pa_token WHERE token_id = ?1", tok), 1);
    CU_ASSERT_EQUAL(pa_token_remove(&env, tok, "3f0d2c1e-1111-4222-8333-944455556666",
                                    &removed), PA_OK);
    CU_ASSERT_EQUAL(removed, 0);
    CU_ASSERT_FATAL(make_digest(d, tok, NULL, pa_time_now_ms(), &g));
    CU_ASSERT_EQUAL(verdict(tok, &g, NULL), 1);
    /* the owner: removed, and the token no longer validates */
    CU_ASSERT_EQUAL(pa_token_remove(&env, tok, act, &removed), PA_OK);
    CU_ASSERT_EQUAL(removed, 1);
    CU_ASSERT_EQUAL(n_tokens(), 0);
    CU_ASSERT_FATAL(make_digest(d, tok, NULL, pa_time_now_ms(), &g));
    CU_ASSERT_EQUAL(verdict(tok, &g, &why), 0);
    CU_ASSERT_EQUAL(why, PA_TOKEN_NOT_FOUND);
    /* again: nothing to remove */
    CU_ASSERT_EQUAL(pa_token_remove(&env, tok, act, &removed), PA_OK);
    CU_ASSERT_EQUAL(removed, 0);
    pa_device_free(d);
    pa_device_free(d2);
}

/* ---- CreateToken faults ----------------------------------------------------------------- */

#define EXPECT_CREATE(act, key, w, type, err)                                 \
    do {                                                                      \
        pa_token_create_res r_;                                               \
        CU_ASSERT_EQUAL(do_create((act), (key), (w), (type), &r_), (err));    \
        CU_ASSERT_PTR_NULL(r_.encrypted_data);                                \
        CU_ASSERT_PTR_NULL(r_.mac);                                           \
        CU_ASSERT_EQUAL(n_tokens(), 0);                                       \
    } while (0)

static void test_create_faults(void)
{
    char act[PA_UUID_BUF], pend[PA_UUID_BUF], act_other[PA_UUID_BUF], *snap, *bad;
    pa_device *d = active("liam", &app, "3.1", act);
    pa_device *dp = pending("liam", &app, "3.1", pend);
    pa_device *dother = active("liam", &other, "3.1", act_other);
    pa_store_version v2;
    wire w, wp, wx, we;
    pa_act_cryptogram c;
    pa_token_create_req r;
    pa_token_create_res res;

    CU_ASSERT_FATAL(token_wire(d, 1, &w));
    CU_ASSERT_FATAL(token_wire(dp, 1, &wp));
    snap = snapshot();
    /* missing elements: ERR0024 (nonce is optional, the rest is not) */
    c = wire_view(&w);
    r = (pa_token_create_req){NULL, app.key, c, "POSSESSION"};
    CU_ASSERT_EQUAL(pa_token_create(&env, &r, &res), PA_ERR_INVALID_REQUEST);
    r = (pa_token_create_req){act, NULL, c, "POSSESSION"};
    CU_ASSERT_EQUAL(pa_token_create(&env, &r, &res), PA_ERR_INVALID_REQUEST);
    r = (pa_token_create_req){act, app.key, c, NULL};
    CU_ASSERT_EQUAL(pa_token_create(&env, &r, &res), PA_ERR_INVALID_REQUEST);
    r = (pa_token_create_req){act, app.key, c, "possession-ish"};
    CU_ASSERT_EQUAL(pa_token_create(&env, &r, &res), PA_ERR_INVALID_REQUEST);
    c.ephemeral_public_key = NULL;
    r = (pa_token_create_req){act, app.key, c, "POSSESSION"};
    CU_ASSERT_EQUAL(pa_token_create(&env, &r, &res), PA_ERR_INVALID_REQUEST);
    c = wire_view(&w);
    c.encrypted_data = NULL;
    r.c = c;
    CU_ASSERT_EQUAL(pa_token_create(&env, &r, &res), PA_ERR_INVALID_REQUEST);
    c = wire_view(&w);
    c.mac = NULL;
    r.c = c;
    CU_ASSERT_EQUAL(pa_token_create(&env, &r, &res), PA_ERR_INVALID_REQUEST);
    /* undecodable Base64 in the cryptogram (5.11) */
    c = wire_view(&w);
    c.mac = "not base64!";
    r.c = c;
    CU_ASSERT_EQUAL(pa_token_create(&env, &r, &res), PA_ERR_INVALID_REQUEST);
    /* unknown activation: ERR0009; not ACTIVE: ERR0008 */
    EXPECT_CREATE("3f0d2c1e-1111-4222-8333-944455556666", app.key, &w,
                  "POSSESSION", PA_ERR_ACTIVATION_NOT_FOUND);
    EXPECT_CREATE(pend, app.key, &wp, "POSSESSION",
                  PA_ERR_ACTIVATION_INCORRECT_STATE);
    /* unknown application key, and the key of another application */
    EXPECT_CREATE(act, "AAAAAAAAAAAAAAAAAAAAAA==", &w, "POSSESSION",
                  PA_ERR_INVALID_APPLICATION);
    EXPECT_CREATE(act, other.key, &w, "POSSESSION", PA_ERR_INVALID_APPLICATION);
    /* ... checked before decrypting (here a request of that application's
     * own activation, which fails to decrypt with this one's keys) */
    CU_ASSERT_FATAL(token_wire(dother, 1, &wx));
    EXPECT_CREATE(act, other.key, &wx, "POSSESSION", PA_ERR_INVALID_APPLICATION);
    /* another activation's request: SH2 and the key differ */
    EXPECT_CREATE(act, app.key, &wp, "POSSESSION", PA_ERR_DECRYPTION_FAILED);
    /* tampered MAC, tampered ciphertext, a key that is not a point */
    bad = tamper_b64(w.mac);
    c = wire_view(&w);
    c.mac = bad;
    r = (pa_token_create_req){act, app.key, c, "POSSESSION"};
    CU_ASSERT_EQUAL(pa_token_create(&env, &r, &res), PA_ERR_DECRYPTION_FAILED);
    free(bad);
    bad = tamper_b64(w.data);
    c = wire_view(&w);
    c.encrypted_data = bad;
    r.c = c;
    CU_ASSERT_EQUAL(pa_token_create(&env, &r, &res), PA_ERR_DECRYPTION_FAILED);
    free(bad);
    c = wire_view(&w);
    c.ephemeral_public_key = "BAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ==";
    r.c = c;
    CU_ASSERT_EQUAL(pa_token_create(&env, &r, &res), PA_ERR_DECRYPTION_FAILED);
    /* 3.1 request without its nonce */
    c = wire_view(&w);
    c.nonce = NULL;
    r.c = c;
    CU_ASSERT_EQUAL(pa_token_create(&env, &r, &res), PA_ERR_DECRYPTION_FAILED);
    /* an empty plaintext: ERR0011 */
    memset(&we, 0, sizeof we);
    CU_ASSERT_FATAL(pa_device_ecies_request(d, 1, PA_ECIES_SH1_TOKEN_CREATE,
                                            (const uint8_t *)"", 0, 1, &we.cg)
                        == PA_OK && wire_encode(&we));
    EXPECT_CREATE(act, app.key, &we, "POSSESSION", PA_ERR_INVALID_INPUT_FORMAT);
    /* no id attempts: ERR0019 */
    cfg.generate_token_id_iterations = 0;
    EXPECT_CREATE(act, app.key, &w, "POSSESSION", PA_ERR_UNABLE_TO_GENERATE_TOKEN);
    cfg.generate_token_id_iterations = 10;
    EXPECT_UNCHANGED(snap);
    /* the original request still works afterwards */
    CU_ASSERT_EQUAL(do_create(act, app.key, &w, "POSSESSION", &res), PA_OK);
    pa_token_create_res_free(&res);
    CU_ASSERT_EQUAL(n_tokens(), 1);
    /* an unsupported version of the activation's own application: accepted
     * as in the original (CRYPTO.md 10.1).  The device of that version is
     * activated while it is supported, then the version is retired. */
    CU_ASSERT_EQUAL_FATAL(pa_application_version_create(db, app.id, "old", &v2),
                          PA_OK);
    {
        app_info old = app;
        char act_old[PA_UUID_BUF], tid[PA_UUID_BUF];
        pa_device *dv;
        wire wv;

        snprintf(old.key, sizeof old.key, "%s", v2.application_key);
        snprintf(old.secret, sizeof old.secret, "%s", v2.application_secret);
        dv = active("liam", &old, "3.0", act_old);
        CU_ASSERT_EQUAL_FATAL(pa_application_version_support(db, v2.id, 0), PA_OK);
        CU_ASSERT_FATAL(create_token(dv, act_old, "KNOWLEDGE", tid));
        /* the current version's key: SH2 differs, decryption fails */
        CU_ASSERT_FATAL(token_wire(dv, 0, &wv));
        CU_ASSERT_EQUAL(do_create(act_old, app.key, &wv, "KNOWLEDGE", &res),
                        PA_ERR_DECRYPTION_FAILED);
        wire_free(&wv);
        pa_device_free(dv);
    }
    CU_ASSERT_EQUAL(n_tokens(), 2);
    pa_store_version_free(&v2);
    wire_free(&w);
    wire_free(&wp);
    wire_free(&wx);
    wire_free(&we);
    pa_device_free(d);
    pa_device_free(dp);
    pa_device_free(dother);
}

/* ---- concurrency ---------------------------------------------------------------------- */

#define NTHREADS 16

typedef struct racer {
    pthread_barrier_t *start;
    const char *token_id;
    const digest *g;
    pa_store *s;
    pa_err e;
    int valid;
    pa_token_refusal why;
} racer;

static void *race(void *p)
{
    racer *r = p;
    pa_act_env my = {r->s, &cfg};
    pa_token_validate_req q = {r->token_id, r->g->digest, r->g->nonce, 1, r->g->ts};
    pa_token_validate_res res;

    pthread_barrier_wait(r->start);
    r->e = pa_token_validate(&my, &q, &res);
    r->valid = res.valid;
    r->why = res.why;
    pa_token_validate_res_free(&res);
    return NULL;
}

static void test_concurrent_validation(void)
{
    char act[PA_UUID_BUF], tok[PA_UUID_BUF];
    pa_device *d = with_token("mia", act, tok);
    pthread_barrier_t start;
    pthread_t th[NTHREADS];
    racer r[NTHREADS];
    int i, valid = 0, replays = 0, round;
    digest g;

    for (round = 0; round < 2; round++) {
        CU_ASSERT_FATAL(make_digest(d, tok, NULL, pa_time_now_ms(), &g));
        pthread_barrier_init(&start, NULL, NTHREADS);
        valid = replays = 0;
        for (i = 0; i < NTHREADS; i++) {
            r[i] = (racer){&start, tok, &g, NULL, PA_OK, 0, 0};
            CU_ASSERT_EQUAL_FATAL(pa_store_open(path, NULL, &r[i].s), PA_OK);
        }
        for (i = 0; i < NTHREADS; i++)
            CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, race, &r[i]), 0);
        for (i = 0; i < NTHREADS; i++) {
            pthread_join(th[i], NULL);
            pa_store_close(r[i].s);
            CU_ASSERT_EQUAL(r[i].e, PA_OK);
            valid += r[i].valid;
            replays += !r[i].valid && r[i].why == PA_TOKEN_REPLAY;
        }
        pthread_barrier_destroy(&start);
        /* exactly one winner, every other one a replay */
        CU_ASSERT_EQUAL(valid, 1);
        CU_ASSERT_EQUAL(replays, NTHREADS - 1);
    }
    pa_device_free(d);
}

/* ---- the replay cache itself ------------------------------------------------------------ */

static pa_replay_result rc(pa_replay *r, const char *a, const char *b,
                           int64_t exp, int64_t now)
{
    pa_replay_result res;

    pa_replay_check(r, (const uint8_t *)a, strlen(a), (const uint8_t *)b,
                    strlen(b), exp, now, &res);
    return res;
}

static void test_replay_cache_basics(void)
{
    pa_replay *r = NULL;

    CU_ASSERT_EQUAL(pa_replay_new(0, &r), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL_FATAL(pa_replay_new(3, &r), PA_OK);
    CU_ASSERT_EQUAL(pa_replay_capacity(r), 3);
    CU_ASSERT_EQUAL(rc(r, "t1", "n1", 100, 10), PA_REPLAY_FRESH);
    CU_ASSERT_EQUAL(rc(r, "t1", "n1", 100, 10), PA_REPLAY_SEEN);
    CU_ASSERT_EQUAL(rc(r, "t1", "n1", 500, 99), PA_REPLAY_SEEN);
    /* the pairs are unambiguous: ("t1n", "1") is another pair */
    CU_ASSERT_EQUAL(rc(r, "t1n", "1", 100, 10), PA_REPLAY_FRESH);
    CU_ASSERT_EQUAL(rc(r, "t2", "n1", 200, 10), PA_REPLAY_FRESH);
    CU_ASSERT_EQUAL(pa_replay_count(r, 10), 3);
    /* full of live pairs */
    CU_ASSERT_EQUAL(rc(r, "t3", "n1", 200, 10), PA_REPLAY_FULL);
    CU_ASSERT_EQUAL(rc(r, "t3", "n1", 200, 100), PA_REPLAY_FULL); /* 100 <= 100 */
    /* alive while now <= deadline, gone after */
    CU_ASSERT_EQUAL(rc(r, "t1", "n1", 500, 100), PA_REPLAY_SEEN);
    CU_ASSERT_EQUAL(pa_replay_count(r, 101), 1);
    CU_ASSERT_EQUAL(rc(r, "t3", "n1", 200, 101), PA_REPLAY_FRESH);
    CU_ASSERT_EQUAL(rc(r, "t1", "n1", 500, 101), PA_REPLAY_FRESH);
    CU_ASSERT_EQUAL(rc(r, "t1", "n1", 500, 150), PA_REPLAY_SEEN);
    /* a deadline already past is never stored */
    CU_ASSERT_EQUAL(rc(r, "t9", "n9", 50, 150), PA_REPLAY_SEEN);
    CU_ASSERT_EQUAL(pa_replay_count(r, 150), 3);
    pa_replay_free(r);
    pa_replay_free(NULL);
    /* a big cache is sharded, never above its size */
    CU_ASSERT_EQUAL_FATAL(pa_replay_new(1000003, &r), PA_OK);
    CU_ASSERT_TRUE(pa_replay_capacity(r) <= 1000003);
    CU_ASSERT_TRUE(pa_replay_capacity(r) >= 1000003 - 16);
    CU_ASSERT_EQUAL(rc(r, "a", "b", 10, 1), PA_REPLAY_FRESH);
    CU_ASSERT_EQUAL(rc(r, "a", "b", 10, 1), PA_REPLAY_SEEN);
    pa_replay_free(r);
    /* the shared cache: made once, freed for the next test */
    {
        pa_replay *s1 = NULL, *s2 = NULL;

        pa_replay_shared_free();
        CU_ASSERT_EQUAL(pa_replay_shared(5, &s1), PA_OK);
        CU_ASSERT_EQUAL(pa_replay_shared(5000, &s2), PA_OK);
        CU_ASSERT_PTR_EQUAL(s1, s2);
        CU_ASSERT_EQUAL(pa_replay_capacity(s2), 5);
        pa_replay_shared_free();
    }
}

/* Random operations against a plain list of (key, deadline): the open
 * addressing with backward-shift deletion and sweeps must answer exactly
 * like the model, for tables small enough to wrap and cluster often. */
static void test_replay_cache_model(void)
{
    enum { KEYS = 48, OPS = 40000 };
    static const size_t sizes[] = {1, 2, 5, 16, 40};
    size_t si;
    unsigned seed = 12345;

    for (si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        int64_t deadline[KEYS];      /* 0: not stored */
        pa_replay *r = NULL;
        int64_t now = 1000;
        int op, mismatches = 0;

        memset(deadline, 0, sizeof deadline);
        CU_ASSERT_EQUAL_FATAL(pa_replay_new(sizes[si], &r), PA_OK);
        for (op = 0; op < OPS; op++) {
            char a[16];
            int k = (int)(rand_r(&seed) % KEYS), live = 0, i;
            int64_t exp;
            pa_replay_result got, want;

            now += (int64_t)(rand_r(&seed) % 3);
            exp = now + (int64_t)(rand_r(&seed) % 50);
            snprintf(a, sizeof a, "k%d", k);
            for (i = 0; i < KEYS; i++)
                live += deadline[i] != 0 && deadline[i] >= now;
            if (deadline[k] != 0 && deadline[k] >= now)
                want = PA_REPLAY_SEEN;
            else if ((size_t)live >= sizes[si])
                want = PA_REPLAY_FULL;
            else
                want = PA_REPLAY_FRESH;
            got = rc(r, a, "nonce", exp, now);
            if (want == PA_REPLAY_FRESH)
                deadline[k] = exp;
            if (got != want)
                mismatches++;
            if (op % 97 == 0 && pa_replay_count(r, now) != (size_t)live
                                                               + (want == PA_REPLAY_FRESH))
                mismatches++;
        }
        CU_ASSERT_EQUAL(mismatches, 0);
        pa_replay_free(r);
    }
}

/* ---- main ----------------------------------------------------------------------------- */

typedef struct test_def {
    const char *name;
    CU_TestFunc fn;
} test_def;

int main(void)
{
    static const test_def tests[] = {
        {"flow 3.1, compressed key", test_flow_31_compressed},
        {"flow 3.1, uncompressed key", test_flow_31_uncompressed},
        {"flow 3.0, compressed key", test_flow_30_compressed},
        {"two tokens", test_two_tokens},
        {"wrong digests", test_wrong_digest},
        {"replay", test_replay},
        {"timestamp too old", test_timestamp_too_old},
        {"timestamp in the future", test_timestamp_future},
        {"replay cache full", test_cache_full},
        {"activation blocked, removed", test_blocked_activation},
        {"unknown token", test_unknown_token},
        {"ValidateToken faults", test_validate_faults},
        {"RemoveToken", test_remove},
        {"CreateToken faults", test_create_faults},
        {"16 threads, one digest", test_concurrent_validation},
        {"replay cache basics", test_replay_cache_basics},
        {"replay cache against a model", test_replay_cache_model},
    };
    CU_pSuite s;
    unsigned failed;
    size_t i;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite_with_setup_and_teardown("token", NULL, NULL, setup,
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
