/*
 * test_signature_service.c - the signature service (src/service/signature.c:
 * VerifySignature, VerifyOfflineSignature), VaultUnlock v3
 * (src/service/vault.c) and the derived-key cache (src/service/keycache.c),
 * called directly, no SOAP, on a fresh migrated SQLite file per test.
 *
 * The phone is libpadevice, which uses only the CLIENT halves of the
 * crypto layer: it makes the activation (key exchange + commit, as in
 * test_activation.c), signs, and reads the vault answer.  When the service
 * accepts what the device signed, and the device accepts the vault key the
 * service sent, both sides agree.
 *
 * Expectations come from shared/spec/CRYPTO.md 8.1-8.8, 9.3, 11.2 and
 * shared/contract/DATABASE.md 3 (additional_info JSON), 5.1, 5.2, 5.6.
 * After every call the database is read back with raw SQL on a separate
 * connection: the activation row (counter, ctr_data, failed_attempts,
 * status, blocked_reason, timestamp_last_used, version), every audit row
 * field by field (additional_info as exact text), history and callback
 * outbox rows; a call that must not write is checked against a snapshot
 * of all four tables.
 *
 * Protocol 2 is played with the store row set to version 2 without
 * ctr_data and the device switched to its numeric counter (device.h:
 * version 2), which is all the counter mode depends on (8.8).
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "cunit_status.h"
#include <CUnit/CUnit.h>
#include <sqlite3.h>

#include "crypto/primitives.h"
#include "service/activation.h"
#include "service/application.h"
#include "service/keycache.h"
#include "service/offline.h"
#include "service/signature.h"
#include "service/vault.h"
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
    char cb_id[2][PA_UUID_BUF];
    int ncb;
} app_info;

static char dir[PATH_MAX - 64];
static char path[PATH_MAX];
static pa_store *db;
static pa_config cfg;
static pa_act_env env;
static app_info app;             /* "bank", with two callback URLs */
static app_info other;           /* "other", no callback */

static const char *const INFO_EMPTY = "{\"entry\":[]}";
static const char *const INFO_BLOCKED =
    "{\"entry\":[{\"key\":\"BLOCKED_REASON\",\"value\":\"MAX_FAILED_ATTEMPTS\"}]}";

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
    out->version_id = d.versions.items[0].id;
    snprintf(out->key, sizeof out->key, "%s", d.versions.items[0].application_key);
    snprintf(out->secret, sizeof out->secret, "%s",
             d.versions.items[0].application_secret);
    snprintf(out->master_pub, sizeof out->master_pub, "%s", d.master_public_key);
    pa_application_detail_free(&d);
    for (i = 0; i < callbacks && i < 2; i++) {
        char nm[16];

        snprintf(nm, sizeof nm, "cb-%d", i);
        if (pa_uuid_v4(out->cb_id[i]) != PA_OK
            || pa_store_callback_create(db, out->cb_id[i], out->id, nm,
                                        "http://127.0.0.1:9/callback") != PA_OK) {
            fprintf(stderr, "make_app: callback: %s\n", pa_store_last_error());
            abort();
        }
        out->ncb++;
    }
}

static void setup(void)
{
    pa_tempdb_make("pa-sigsvc", dir, sizeof dir, path, sizeof path);
    if (pa_store_migrate(path, NULL) != PA_OK
        || pa_store_open(path, NULL, &db) != PA_OK
        || pa_config_defaults(&cfg) != PA_OK) {
        fprintf(stderr, "setup: %s\n", pa_store_last_error());
        abort();
    }
    env.store = db;
    env.cfg = &cfg;
    make_app("bank", 2, &app);
    make_app("other", 0, &other);
}

static void teardown(void)
{
    pa_keycache_init(0);
    pa_keycache_free();
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

static const char *nz(const char *s)
{
    return s ? s : "NULL";
}

#define CHECK_STR(a, b)                                                        \
    CU_assertImplementation(same_str((a), (b)) ? CU_TRUE : CU_FALSE, __LINE__, \
                            "CHECK_STR(" #a ", " #b ")", __FILE__, "",        \
                            CU_FALSE)

typedef struct rawq {
    sqlite3 *c;
    sqlite3_stmt *st;
} rawq;

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

/* First column of the first row; -1 when there is no row (or NULL: -2). */
static long long q_int(const char *sql, const char *p1)
{
    rawq q;
    long long v = -1;

    if (raw_open(&q, 0, sql, p1, NULL) && sqlite3_step(q.st) == SQLITE_ROW)
        v = sqlite3_column_type(q.st, 0) == SQLITE_NULL
                ? -2 : sqlite3_column_int64(q.st, 0);
    raw_close(&q);
    return v;
}

static void q_exec(const char *sql, const char *p1)
{
    rawq q;
    int rc = raw_open(&q, 1, sql, p1, NULL) ? sqlite3_step(q.st) : SQLITE_ERROR;

    CU_ASSERT_EQUAL(rc, SQLITE_DONE);
    raw_close(&q);
}

static long long n_audit(const char *id)
{
    return q_int("SELECT count(*) FROM pa_signature_audit WHERE activation_id = ?1",
                 id);
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

/* Every row of the tables a verification may touch, as text. */
static char *snapshot(void)
{
    static const char *const sql[] = {
        "SELECT * FROM pa_activation ORDER BY activation_id",
        "SELECT * FROM pa_activation_history ORDER BY id",
        "SELECT * FROM pa_callback_outbox ORDER BY id",
        "SELECT * FROM pa_signature_audit ORDER BY id"};
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

/* ---- expected rows ------------------------------------------------------------- */

/* The activation row after a call (DATABASE.md 5.6).  version 0 = NULL;
 * last_used in [t0, t1] unless t0 < 0 (then: equal to -t0... unused). */
typedef struct arow {
    long long counter;
    const char *ctr_data;
    long long failed;
    int status;
    const char *blocked_reason;
    int version;
} arow;

static void expect_act(int line, const char *id, const arow *x, int64_t t0,
                       int64_t t1)
{
    rawq q;
    int ok = raw_open(&q, 0,
                      "SELECT counter, ctr_data, failed_attempts,"
                      " activation_status, blocked_reason, version,"
                      " timestamp_last_used FROM pa_activation"
                      " WHERE activation_id = ?1", id, NULL)
             && sqlite3_step(q.st) == SQLITE_ROW;

    if (ok) {
        long long counter = sqlite3_column_int64(q.st, 0);
        const char *ctr = (const char *)sqlite3_column_text(q.st, 1);
        long long failed = sqlite3_column_int64(q.st, 2);
        int status = sqlite3_column_int(q.st, 3);
        const char *br = (const char *)sqlite3_column_text(q.st, 4);
        int version = sqlite3_column_type(q.st, 5) == SQLITE_NULL
                          ? 0 : sqlite3_column_int(q.st, 5);
        long long used = sqlite3_column_int64(q.st, 6);

        ok = counter == x->counter && same_str(ctr, x->ctr_data)
             && failed == x->failed && status == x->status
             && same_str(br, x->blocked_reason) && version == x->version
             && (t0 == 0 || (used >= t0 && used <= t1));
        if (!ok)
            fprintf(stderr,
                    "\n  line %d: activation (counter %lld, ctr %s, failed %lld,"
                    " status %d, blocked %s, version %d, used %lld) expected"
                    " (%lld, %s, %lld, %d, %s, %d, [%lld, %lld])",
                    line, counter, nz(ctr), failed, status, nz(br), version,
                    used, x->counter, nz(x->ctr_data), x->failed, x->status,
                    nz(x->blocked_reason), x->version, (long long)t0,
                    (long long)t1);
    } else {
        fprintf(stderr, "\n  line %d: no activation row", line);
    }
    raw_close(&q);
    CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line,
                            "EXPECT_ACT", __FILE__, "", CU_FALSE);
}

#define EXPECT_ACT(id, t0, t1, ...) \
    expect_act(__LINE__, (id), &(const arow){__VA_ARGS__}, (t0), (t1))

/* One pa_signature_audit row (DATABASE.md 2, 3, 5.2); version 0 = NULL. */
typedef struct audrow {
    long long counter;
    const char *ctr_data;
    int status;
    const char *info;
    const char *data_b64;
    const char *type;
    const char *signature;
    int valid;
    const char *note;
    int version;
    const char *sigver;
} audrow;

/* The newest audit row of the activation equals *x, created in [t0, t1],
 * and the activation has `count` rows. */
static void expect_audit(int line, const char *id, long long count,
                         const audrow *x, int64_t t0, int64_t t1)
{
    rawq q;
    long long n = n_audit(id);
    int ok = raw_open(&q, 0,
                      "SELECT activation_counter, activation_ctr_data,"
                      " activation_status, additional_info, data_base64,"
                      " signature_type, signature, valid, note,"
                      " timestamp_created, version, signature_version"
                      " FROM pa_signature_audit WHERE activation_id = ?1"
                      " ORDER BY id DESC LIMIT 1", id, NULL)
             && sqlite3_step(q.st) == SQLITE_ROW;

    if (n != count) {
        fprintf(stderr, "\n  line %d: %lld audit rows, expected %lld", line, n,
                count);
        ok = 0;
    }
    if (ok) {
        long long counter = sqlite3_column_int64(q.st, 0);
        const char *ctr = (const char *)sqlite3_column_text(q.st, 1);
        int status = sqlite3_column_int(q.st, 2);
        const char *info = (const char *)sqlite3_column_text(q.st, 3);
        const char *data = (const char *)sqlite3_column_text(q.st, 4);
        const char *type = (const char *)sqlite3_column_text(q.st, 5);
        const char *sig = (const char *)sqlite3_column_text(q.st, 6);
        int valid = sqlite3_column_int(q.st, 7);
        const char *note = (const char *)sqlite3_column_text(q.st, 8);
        long long created = sqlite3_column_int64(q.st, 9);
        int version = sqlite3_column_type(q.st, 10) == SQLITE_NULL
                          ? 0 : sqlite3_column_int(q.st, 10);
        const char *sv = (const char *)sqlite3_column_text(q.st, 11);

        ok = counter == x->counter && same_str(ctr, x->ctr_data)
             && status == x->status && same_str(info, x->info)
             && same_str(data, x->data_b64) && same_str(type, x->type)
             && same_str(sig, x->signature) && valid == x->valid
             && same_str(note, x->note) && version == x->version
             && same_str(sv, x->sigver) && created >= t0 && created <= t1;
        if (!ok)
            fprintf(stderr,
                    "\n  line %d: audit row\n    got (%lld, %s, %d, %s, %s, %s,"
                    " %s, %d, %s, %d, %s, %lld)\n    exp (%lld, %s, %d, %s, %s,"
                    " %s, %s, %d, %s, %d, %s, [%lld, %lld])",
                    line, counter, nz(ctr), status, nz(info), nz(data),
                    nz(type), nz(sig), valid, nz(note), version, nz(sv),
                    created, x->counter, nz(x->ctr_data), x->status,
                    nz(x->info), nz(x->data_b64), nz(x->type),
                    nz(x->signature), x->valid, nz(x->note), x->version,
                    nz(x->sigver), (long long)t0, (long long)t1);
    } else if (n == count) {
        fprintf(stderr, "\n  line %d: no audit row", line);
    }
    raw_close(&q);
    CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line,
                            "EXPECT_AUDIT", __FILE__, "", CU_FALSE);
}

#define EXPECT_AUDIT(id, count, t0, t1, ...) \
    expect_audit(__LINE__, (id), (count), &(const audrow){__VA_ARGS__}, (t0), (t1))

/* The newest history row: status, reason, external user NULL, created in
 * [t0, t1] and equal to the activation's timestamp_last_change. */
static void expect_last_history(int line, const char *id, int status,
                                const char *reason, int64_t t0, int64_t t1)
{
    rawq q;
    int ok = raw_open(&q, 0,
                      "SELECT h.activation_status, h.event_reason,"
                      " h.external_user_id, h.timestamp_created,"
                      " a.timestamp_last_change FROM pa_activation_history h"
                      " JOIN pa_activation a ON a.activation_id = h.activation_id"
                      " WHERE h.activation_id = ?1 ORDER BY h.id DESC LIMIT 1",
                      id, NULL)
             && sqlite3_step(q.st) == SQLITE_ROW;

    if (ok) {
        int st = sqlite3_column_int(q.st, 0);
        const char *r = (const char *)sqlite3_column_text(q.st, 1);
        const char *x = (const char *)sqlite3_column_text(q.st, 2);
        long long c = sqlite3_column_int64(q.st, 3);
        long long lc = sqlite3_column_int64(q.st, 4);

        ok = st == status && same_str(r, reason) && !x && c >= t0 && c <= t1
             && lc == c;
        if (!ok)
            fprintf(stderr, "\n  line %d: history (%d, %s, %s, %lld, last"
                    " change %lld)", line, st, nz(r), nz(x), c, lc);
    }
    raw_close(&q);
    CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line,
                            "EXPECT_LAST_HISTORY", __FILE__, "", CU_FALSE);
}

#define EXPECT_LAST_HISTORY(id, st, r, t0, t1) \
    expect_last_history(__LINE__, (id), (st), (r), (t0), (t1))

/* The newest outbox rows of the activation are one per callback URL of
 * the application, of one new event, due at creation, in [t0, t1]. */
static void expect_new_outbox(int line, const char *id, const app_info *a,
                              long long before, int64_t t0, int64_t t1)
{
    rawq q;
    long long n = n_outbox(id);
    int ok = n == before + a->ncb, seen[2] = {0, 0}, i = 0;
    char event[64] = "";

    if (!ok)
        fprintf(stderr, "\n  line %d: %lld outbox rows, expected %lld", line,
                n, before + a->ncb);
    if (ok && a->ncb > 0
        && raw_open(&q, 0, "SELECT event_id, callback_id, attempts,"
                           " timestamp_created, timestamp_next_attempt"
                           " FROM pa_callback_outbox WHERE activation_id = ?1"
                           " ORDER BY id DESC", id, NULL)) {
        while (i < a->ncb && sqlite3_step(q.st) == SQLITE_ROW) {
            const char *ev = (const char *)sqlite3_column_text(q.st, 0);
            const char *cb = (const char *)sqlite3_column_text(q.st, 1);
            long long c = sqlite3_column_int64(q.st, 3);

            if (i == 0)
                snprintf(event, sizeof event, "%s", ev ? ev : "");
            if (!ev || strcmp(ev, event) != 0 || !cb
                || sqlite3_column_int(q.st, 2) != 0 || c < t0 || c > t1
                || sqlite3_column_int64(q.st, 4) != c)
                ok = 0;
            else if (strcmp(cb, a->cb_id[0]) == 0)
                seen[0]++;
            else if (a->ncb > 1 && strcmp(cb, a->cb_id[1]) == 0)
                seen[1]++;
            else
                ok = 0;
            i++;
        }
        raw_close(&q);
        ok = ok && i == a->ncb && seen[0] == 1 && (a->ncb < 2 || seen[1] == 1);
        /* a new event: no older row of the activation has this event id */
        if (ok && q_int("SELECT count(*) FROM pa_callback_outbox"
                        " WHERE event_id = ?1", event) != a->ncb)
            ok = 0;
        if (!ok)
            fprintf(stderr, "\n  line %d: outbox rows wrong", line);
    }
    CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line,
                            "EXPECT_NEW_OUTBOX", __FILE__, "", CU_FALSE);
}

#define EXPECT_NEW_OUTBOX(id, a, before, t0, t1) \
    expect_new_outbox(__LINE__, (id), (a), (before), (t0), (t1))

/* timestamp_last_change of the activation (to prove it did not move). */
static long long last_change(const char *id)
{
    return q_int("SELECT timestamp_last_change FROM pa_activation"
                 " WHERE activation_id = ?1", id);
}

/* ---- the device ---------------------------------------------------------------- */

static pa_device *new_device(const app_info *a, const char *proto)
{
    pa_device *d = NULL;

    CU_ASSERT_EQUAL(pa_device_new(proto, a->key, a->secret, a->master_pub, &d),
                    PA_OK);
    return d;
}

/* A cryptogram as the SOAP request carries it: Base64 strings. */
typedef struct wire {
    char *eph, *data, *mac, *nonce;
} wire;

static int wire_encode(const pa_ecies_cryptogram *cg, wire *w)
{
    memset(w, 0, sizeof *w);
    return pa_b64_encode_alloc(cg->eph, cg->eph_len, &w->eph) == PA_OK
           && pa_b64_encode_alloc(cg->data, cg->data_len, &w->data) == PA_OK
           && pa_b64_encode_alloc(cg->mac, sizeof cg->mac, &w->mac) == PA_OK
           && (!cg->has_nonce
               || pa_b64_encode_alloc(cg->nonce, sizeof cg->nonce,
                                      &w->nonce) == PA_OK);
}

static pa_act_cryptogram wire_view(const wire *w)
{
    return (pa_act_cryptogram){w->eph, w->data, w->mac, w->nonce};
}

static void wire_free(wire *w)
{
    free(w->eph);
    free(w->data);
    free(w->mac);
    free(w->nonce);
    memset(w, 0, sizeof *w);
}

/* Key exchange with PrepareActivation (OTP mode NONE), then commit. */
static pa_device *active_max(const char *user, const app_info *a,
                             const char *proto, int64_t max,
                             char id[PA_UUID_BUF])
{
    pa_device_activation_opts o = {.compressed_eph = 1};
    pa_act_init_req ir = {.user_id = user, .application_id = a->id,
                          .has_max_failures = max > 0, .max_failures = max,
                          .otp_mode = PA_OTP_NONE};
    pa_act_init_res irs;
    pa_act_keyx_res kr;
    pa_ecies_cryptogram cg;
    pa_device *d = new_device(a, proto);
    uint8_t *ct = NULL, mac[32];
    size_t n = 0;
    wire w;
    int ok = d && pa_activation_init(&env, &ir, &irs) == PA_OK;

    memset(&kr, 0, sizeof kr);
    memset(&cg, 0, sizeof cg);
    memset(&w, 0, sizeof w);
    if (ok) {
        pa_act_prepare_req pr;

        memcpy(id, irs.activation_id, PA_UUID_BUF);
        ok = pa_device_activation_request(d, &o, &cg) == PA_OK
             && wire_encode(&cg, &w);
        pr = (pa_act_prepare_req){irs.activation_code, a->key, wire_view(&w)};
        ok = ok && pa_activation_prepare(&env, &pr, &kr) == PA_OK
             && kr.encrypted_data && kr.mac
             && pa_b64_decode_alloc(kr.encrypted_data, &ct, &n) == PA_OK
             && pa_b64_decode_exact(kr.mac, mac, 32) == PA_OK
             && pa_device_activation_response(d, ct, n, mac, 32) == PA_OK
             && pa_activation_commit(&env, id, NULL, NULL) == PA_OK;
        pa_act_init_res_free(&irs);
    }
    free(ct);
    wire_free(&w);
    pa_ecies_cryptogram_free(&cg);
    pa_act_keyx_res_free(&kr);
    CU_ASSERT_FATAL(ok);
    return d;
}

static pa_device *active(const char *user, const char *proto,
                         char id[PA_UUID_BUF])
{
    return active_max(user, &app, proto, 0, id);
}

/* The device's current ctrData in Base64 (what the server must store). */
static const char *dev_ctr(const pa_device *d, char buf[PA_B64_ENCLEN(16) + 1])
{
    pa_b64_encode(d->ctr_data, 16, buf);
    return buf;
}

static const char *BODY = "{\"amount\":\"100.00\",\"to\":\"CZ1234\"}";

/* A POST signature over BODY; advance moves the device counter on. */
static void sign(pa_device *d, pa_sig_type t, int advance,
                 pa_device_signature *s)
{
    CU_ASSERT_EQUAL_FATAL(pa_device_sign(d, "POST", "/pa/signature/validate",
                                         (const uint8_t *)BODY, strlen(BODY), t,
                                         NULL, advance, s),
                          PA_OK);
}

/* n signatures the server never sees (the device moves n positions on). */
static void skip(pa_device *d, int n)
{
    pa_device_signature s;

    while (n-- > 0) {
        sign(d, PA_SIG_POSSESSION, 1, &s);
        pa_device_signature_free(&s);
    }
}

/* B64(text "&" suffix), malloc'ed: the audit's data_base64. */
static char *b64_data(const char *text, const char *suffix)
{
    size_t n = strlen(text) + strlen(suffix) + 2;
    char *t = malloc(n), *out = NULL;

    if (t) {
        snprintf(t, n, "%s&%s", text, suffix);
        pa_b64_encode_alloc((const uint8_t *)t, strlen(t), &out);
    }
    free(t);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    return out;
}

/* VerifySignature as the handler calls it. */
static pa_err verify(const char *id, const char *key, const char *sigver,
                     const char *data, const char *sig, pa_sig_type t,
                     int forced, pa_sig_res *res)
{
    pa_sig_req r;

    memset(&r, 0, sizeof r);
    r.activation_id = id;
    r.application_key = key;
    r.signature_version = sigver;
    r.data = data;
    r.signature = sig;
    r.types[0] = t;
    r.ntypes = 1;
    r.forced_version = forced;
    return pa_signature_verify(&env, &r, res);
}

/* The device's signature, verified as sent (key and version of the device). */
static pa_err verify_sig(const char *id, const pa_device *d,
                         const pa_device_signature *s, pa_sig_res *res)
{
    return verify(id, d->app_key, s->version, s->data_string, s->signature,
                  s->type, 0, res);
}

/* The answer of a valid verification (8.7 step 5). */
static void expect_valid_res(int line, const pa_sig_res *r, pa_sig_type t,
                             int64_t max)
{
    int ok = r->found && r->valid && r->status == PA_STATUS_ACTIVE
             && r->details && !r->blocked_reason && r->user_id
             && r->application_id == app.id && r->type == t
             && r->remaining_attempts == max;

    if (!ok)
        fprintf(stderr, "\n  line %d: answer (found %d valid %d status %d"
                " details %d blocked %s type %d remaining %lld)", line,
                r->found, r->valid, r->status, r->details,
                nz(r->blocked_reason), (int)r->type,
                (long long)r->remaining_attempts);
    CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line,
                            "EXPECT_VALID_RES", __FILE__, "", CU_FALSE);
}

#define EXPECT_VALID_RES(r, t, max) expect_valid_res(__LINE__, (r), (t), (max))

/* ---- each type, DECIMAL and BASE64 (8.2, 8.5) ------------------------------ */

static void types_with(const char *proto)
{
    static const pa_sig_type types[] = {
        PA_SIG_POSSESSION, PA_SIG_KNOWLEDGE, PA_SIG_BIOMETRY,
        PA_SIG_POSSESSION_KNOWLEDGE, PA_SIG_POSSESSION_BIOMETRY,
        PA_SIG_POSSESSION_KNOWLEDGE_BIOMETRY};
    static const size_t dec_len[] = {8, 8, 8, 17, 17, 26};
    static const size_t b64_len[] = {24, 24, 24, 44, 44, 64};
    char id[PA_UUID_BUF], ctr[32];
    pa_device *d = active("alice", proto, id);
    int base64 = strcmp(proto, "3.1") == 0;
    size_t i;

    for (i = 0; i < sizeof types / sizeof *types; i++) {
        pa_device_signature s;
        pa_sig_res r;
        int64_t t0, t1;
        char *data;

        sign(d, types[i], 1, &s);
        CU_ASSERT_EQUAL(strlen(s.signature), base64 ? b64_len[i] : dec_len[i]);
        CU_ASSERT_STRING_EQUAL(s.version, proto);
        t0 = pa_time_now_ms();
        CU_ASSERT_EQUAL(verify_sig(id, d, &s, &r), PA_OK);
        t1 = pa_time_now_ms();
        EXPECT_VALID_RES(&r, types[i], 5);
        CU_ASSERT_STRING_EQUAL(r.user_id, "alice");
        data = b64_data(s.data_string, app.secret);
        EXPECT_ACT(id, t0, t1, (long long)i + 1, dev_ctr(d, ctr), 0,
                   PA_STATUS_ACTIVE, NULL, 3);
        EXPECT_AUDIT(id, (long long)i + 1, t0, t1, (long long)i + 1, ctr,
                     PA_STATUS_ACTIVE, INFO_EMPTY, data,
                     pa_sig_type_name(types[i]), s.signature, 1, "signature_ok",
                     3, proto);
        free(data);
        pa_sig_res_free(&r);
        pa_device_signature_free(&s);
    }
    CU_ASSERT_EQUAL(n_history(id), 3);          /* CREATED, PENDING, ACTIVE */
    CU_ASSERT_EQUAL(n_outbox(id), 3 * 2);
    pa_device_free(d);
}

static void test_types_30(void)
{
    types_with("3.0");
}

static void test_types_31(void)
{
    types_with("3.1");
}

/* Versions above 3.1 format as BASE64; 2.0/2.1 as DECIMAL; the audit keeps
 * the request text (8.5, 5.2). */
static void test_version_strings(void)
{
    static const char *const b64v[] = {"3.2", "4", "10.05"};
    char id[PA_UUID_BUF], ctr[32];
    pa_device *d = active("bob", "3.1", id);
    pa_device_signature s;
    pa_sig_res r;
    int64_t t0, t1;
    long long c = 0;
    size_t i;
    char *data;

    for (i = 0; i < 3; i++) {
        sign(d, PA_SIG_POSSESSION_KNOWLEDGE, 1, &s);
        t0 = pa_time_now_ms();
        CU_ASSERT_EQUAL(verify(id, app.key, b64v[i], s.data_string, s.signature,
                               s.type, 0, &r), PA_OK);
        t1 = pa_time_now_ms();
        EXPECT_VALID_RES(&r, PA_SIG_POSSESSION_KNOWLEDGE, 5);
        c++;
        data = b64_data(s.data_string, app.secret);
        EXPECT_AUDIT(id, c, t0, t1, c, dev_ctr(d, ctr), PA_STATUS_ACTIVE,
                     INFO_EMPTY, data, "POSSESSION_KNOWLEDGE", s.signature, 1,
                     "signature_ok", 3, b64v[i]);
        free(data);
        pa_sig_res_free(&r);
        pa_device_signature_free(&s);
    }
    /* a DECIMAL signature (3.0) checked as "2.0" and "2.1" */
    CU_ASSERT_EQUAL_FATAL(pa_device_set_protocol(d, "3.0"), PA_OK);
    for (i = 0; i < 2; i++) {
        const char *v = i ? "2.1" : "2.0";

        sign(d, PA_SIG_POSSESSION_KNOWLEDGE, 1, &s);
        t0 = pa_time_now_ms();
        CU_ASSERT_EQUAL(verify(id, app.key, v, s.data_string, s.signature,
                               s.type, 0, &r), PA_OK);
        t1 = pa_time_now_ms();
        EXPECT_VALID_RES(&r, PA_SIG_POSSESSION_KNOWLEDGE, 5);
        c++;
        data = b64_data(s.data_string, app.secret);
        EXPECT_AUDIT(id, c, t0, t1, c, dev_ctr(d, ctr), PA_STATUS_ACTIVE,
                     INFO_EMPTY, data, "POSSESSION_KNOWLEDGE", s.signature, 1,
                     "signature_ok", 3, v);
        free(data);
        pa_sig_res_free(&r);
        pa_device_signature_free(&s);
    }
    /* a DECIMAL signature checked as "3.1" does not match (format) */
    sign(d, PA_SIG_POSSESSION_KNOWLEDGE, 0, &s);
    t0 = pa_time_now_ms();
    CU_ASSERT_EQUAL(verify(id, app.key, "3.1", s.data_string, s.signature,
                           s.type, 0, &r), PA_OK);
    t1 = pa_time_now_ms();
    CU_ASSERT_FALSE(r.valid);
    CU_ASSERT_EQUAL(r.remaining_attempts, 4);
    EXPECT_ACT(id, t0, t1, c, dev_ctr(d, ctr), 1, PA_STATUS_ACTIVE, NULL, 3);
    data = b64_data(s.data_string, app.secret);
    EXPECT_AUDIT(id, c + 1, t0, t1, c, ctr, PA_STATUS_ACTIVE, INFO_EMPTY, data,
                 "POSSESSION_KNOWLEDGE", s.signature, 0,
                 "signature_does_not_match", 3, "3.1");
    free(data);
    pa_sig_res_free(&r);
    /* the same as "3.0" is fine and resets the failure */
    CU_ASSERT_EQUAL(verify_sig(id, d, &s, &r), PA_OK);
    EXPECT_VALID_RES(&r, PA_SIG_POSSESSION_KNOWLEDGE, 5);
    pa_sig_res_free(&r);
    pa_device_signature_free(&s);
    skip(d, 1);
    EXPECT_ACT(id, 0, 0, c + 1, dev_ctr(d, ctr), 0, PA_STATUS_ACTIVE, NULL, 3);
    pa_device_free(d);
}

/* ---- protocol 2: numeric counter (8.3, 8.5, 8.8) ---------------------------- */

/* The row becomes version 2 without ctr_data, the device numeric. */
static void make_v2(const char *id, pa_device *d)
{
    q_exec("UPDATE pa_activation SET version = 2, ctr_data = NULL"
           " WHERE activation_id = ?1", id);
    d->version = 2;
    d->has_ctr_data = 0;
    CU_ASSERT_EQUAL(d->counter, 0);
}

static void test_v2_numeric(void)
{
    static const char *const protos[] = {"3.0", "3.1", "2.1"};
    char id[PA_UUID_BUF];
    pa_device *d = active("carol", "3.1", id);
    pa_device_signature s;
    pa_sig_res r;
    int64_t t0, t1;
    long long c = 0;
    size_t i;
    char *data;

    make_v2(id, d);
    for (i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL_FATAL(pa_device_set_protocol(d, protos[i]), PA_OK);
        sign(d, PA_SIG_POSSESSION_KNOWLEDGE_BIOMETRY, 1, &s);
        CU_ASSERT_EQUAL(s.counter, c);
        t0 = pa_time_now_ms();
        CU_ASSERT_EQUAL(verify_sig(id, d, &s, &r), PA_OK);
        t1 = pa_time_now_ms();
        EXPECT_VALID_RES(&r, PA_SIG_POSSESSION_KNOWLEDGE_BIOMETRY, 5);
        c++;
        EXPECT_ACT(id, t0, t1, c, NULL, 0, PA_STATUS_ACTIVE, NULL, 2);
        data = b64_data(s.data_string, app.secret);
        EXPECT_AUDIT(id, c, t0, t1, c, NULL, PA_STATUS_ACTIVE, INFO_EMPTY, data,
                     "POSSESSION_KNOWLEDGE_BIOMETRY", s.signature, 1,
                     "signature_ok", 2, protos[i]);
        free(data);
        pa_sig_res_free(&r);
        pa_device_signature_free(&s);
    }
    /* a numeric signature at c+5 moves the counter to c+6 (8.7) */
    CU_ASSERT_EQUAL_FATAL(pa_device_set_protocol(d, "3.1"), PA_OK);
    skip(d, 5);
    sign(d, PA_SIG_KNOWLEDGE, 1, &s);
    CU_ASSERT_EQUAL(s.counter, c + 5);
    t0 = pa_time_now_ms();
    CU_ASSERT_EQUAL(verify_sig(id, d, &s, &r), PA_OK);
    t1 = pa_time_now_ms();
    EXPECT_VALID_RES(&r, PA_SIG_KNOWLEDGE, 5);
    EXPECT_ACT(id, t0, t1, c + 6, NULL, 0, PA_STATUS_ACTIVE, NULL, 2);
    data = b64_data(s.data_string, app.secret);
    EXPECT_AUDIT(id, c + 1, t0, t1, c + 6, NULL, PA_STATUS_ACTIVE, INFO_EMPTY,
                 data, "KNOWLEDGE", s.signature, 1, "signature_ok", 2, "3.1");
    free(data);
    pa_sig_res_free(&r);
    /* replayed: invalid, nothing moves but the failure */
    t0 = pa_time_now_ms();
    CU_ASSERT_EQUAL(verify_sig(id, d, &s, &r), PA_OK);
    t1 = pa_time_now_ms();
    CU_ASSERT_FALSE(r.valid);
    EXPECT_ACT(id, t0, t1, c + 6, NULL, 1, PA_STATUS_ACTIVE, NULL, 2);
    pa_sig_res_free(&r);
    pa_device_signature_free(&s);
    /* forcedSignatureVersion 3 without ctr_data: still numeric (8.8) */
    sign(d, PA_SIG_POSSESSION_KNOWLEDGE, 1, &s);
    t0 = pa_time_now_ms();
    CU_ASSERT_EQUAL(verify(id, app.key, "3.1", s.data_string, s.signature,
                           s.type, 3, &r), PA_OK);
    t1 = pa_time_now_ms();
    EXPECT_VALID_RES(&r, PA_SIG_POSSESSION_KNOWLEDGE, 5);
    EXPECT_ACT(id, t0, t1, c + 7, NULL, 0, PA_STATUS_ACTIVE, NULL, 2);
    data = b64_data(s.data_string, app.secret);
    EXPECT_AUDIT(id, c + 3, t0, t1, c + 7, NULL, PA_STATUS_ACTIVE, INFO_EMPTY,
                 data, "POSSESSION_KNOWLEDGE", s.signature, 1, "signature_ok",
                 2, "3.1");
    free(data);
    pa_sig_res_free(&r);
    pa_device_signature_free(&s);
    pa_device_free(d);
}

/* forcedSignatureVersion 3 on a version-2 row WITH ctr_data (after
 * StartUpgrade): hash counter, new ctr_data stored, version stays 2. */
static void test_forced_upgrade(void)
{
    char id[PA_UUID_BUF], ctr[32], ctr0[32];
    pa_device *d = active("dave", "3.1", id);
    pa_device_signature s;
    pa_sig_res r;
    int64_t t0, t1;
    char *data;

    /* the device keeps its hash counter (it got ctrData from the upgrade) */
    q_exec("UPDATE pa_activation SET version = 2 WHERE activation_id = ?1", id);
    dev_ctr(d, ctr0);
    sign(d, PA_SIG_POSSESSION_KNOWLEDGE, 1, &s);
    data = b64_data(s.data_string, app.secret);
    /* not forced: numeric counter, no match */
    t0 = pa_time_now_ms();
    CU_ASSERT_EQUAL(verify_sig(id, d, &s, &r), PA_OK);
    t1 = pa_time_now_ms();
    CU_ASSERT_FALSE(r.valid);
    CU_ASSERT_TRUE(r.details);
    CU_ASSERT_EQUAL(r.remaining_attempts, 4);
    EXPECT_ACT(id, t0, t1, 0, ctr0, 1, PA_STATUS_ACTIVE, NULL, 2);
    EXPECT_AUDIT(id, 1, t0, t1, 0, ctr0, PA_STATUS_ACTIVE, INFO_EMPTY, data,
                 "POSSESSION_KNOWLEDGE", s.signature, 0,
                 "signature_does_not_match", 2, "3.1");
    pa_sig_res_free(&r);
    /* a forced value other than 3 has no effect */
    CU_ASSERT_EQUAL(verify(id, app.key, "3.1", s.data_string, s.signature,
                           s.type, 2, &r), PA_OK);
    CU_ASSERT_FALSE(r.valid);
    pa_sig_res_free(&r);
    EXPECT_ACT(id, 0, 0, 0, ctr0, 2, PA_STATUS_ACTIVE, NULL, 2);
    /* forced 3: valid, ctr_data one step on, version still 2 */
    t0 = pa_time_now_ms();
    CU_ASSERT_EQUAL(verify(id, app.key, "3.1", s.data_string, s.signature,
                           s.type, 3, &r), PA_OK);
    t1 = pa_time_now_ms();
    EXPECT_VALID_RES(&r, PA_SIG_POSSESSION_KNOWLEDGE, 5);
    EXPECT_ACT(id, t0, t1, 1, dev_ctr(d, ctr), 0, PA_STATUS_ACTIVE, NULL, 2);
    CU_ASSERT_STRING_NOT_EQUAL(ctr, ctr0);
    EXPECT_AUDIT(id, 3, t0, t1, 1, ctr, PA_STATUS_ACTIVE, INFO_EMPTY, data,
                 "POSSESSION_KNOWLEDGE", s.signature, 1, "signature_ok", 3,
                 "3.1");
    free(data);
    pa_sig_res_free(&r);
    pa_device_signature_free(&s);
    /* forced again at +3 positions: counter 5, ctr_data 4 steps on */
    skip(d, 3);
    sign(d, PA_SIG_POSSESSION, 1, &s);
    t0 = pa_time_now_ms();
    CU_ASSERT_EQUAL(verify(id, app.key, "3.1", s.data_string, s.signature,
                           s.type, 3, &r), PA_OK);
    t1 = pa_time_now_ms();
    EXPECT_VALID_RES(&r, PA_SIG_POSSESSION, 5);
    EXPECT_ACT(id, t0, t1, 5, dev_ctr(d, ctr), 0, PA_STATUS_ACTIVE, NULL, 2);
    pa_sig_res_free(&r);
    pa_device_signature_free(&s);
    pa_device_free(d);
}

/* ---- lookahead (8.6) -------------------------------------------------------------- */

static void lookahead_with(int la)
{
    char id[PA_UUID_BUF], ctr[32], ctr_c[32];
    pa_device *d;
    pa_device_signature last, beyond;
    pa_sig_res r;
    int64_t t0, t1;
    char *data;

    cfg.signature_validation_lookahead = la;
    d = active("erin", "3.1", id);
    dev_ctr(d, ctr_c);
    skip(d, la - 1);
    sign(d, PA_SIG_POSSESSION_KNOWLEDGE, 1, &last);      /* position la-1 */
    sign(d, PA_SIG_POSSESSION_KNOWLEDGE, 0, &beyond);    /* position la */
    CU_ASSERT_EQUAL(last.counter, la - 1);
    CU_ASSERT_EQUAL(beyond.counter, la);
    /* counter + lookahead: outside the window */
    t0 = pa_time_now_ms();
    CU_ASSERT_EQUAL(verify_sig(id, d, &beyond, &r), PA_OK);
    t1 = pa_time_now_ms();
    CU_ASSERT_FALSE(r.valid);
    CU_ASSERT_EQUAL(r.status, PA_STATUS_ACTIVE);
    CU_ASSERT_EQUAL(r.type, PA_SIG_POSSESSION_KNOWLEDGE);
    CU_ASSERT_EQUAL(r.remaining_attempts, 4);
    CU_ASSERT_PTR_NULL(r.blocked_reason);
    EXPECT_ACT(id, t0, t1, 0, ctr_c, 1, PA_STATUS_ACTIVE, NULL, 3);
    data = b64_data(beyond.data_string, app.secret);
    EXPECT_AUDIT(id, 1, t0, t1, 0, ctr_c, PA_STATUS_ACTIVE, INFO_EMPTY, data,
                 "POSSESSION_KNOWLEDGE", beyond.signature, 0,
                 "signature_does_not_match", 3, "3.1");
    free(data);
    pa_sig_res_free(&r);
    /* counter + lookahead - 1: the last position tried */
    t0 = pa_time_now_ms();
    CU_ASSERT_EQUAL(verify_sig(id, d, &last, &r), PA_OK);
    t1 = pa_time_now_ms();
    EXPECT_VALID_RES(&r, PA_SIG_POSSESSION_KNOWLEDGE, 5);
    EXPECT_ACT(id, t0, t1, la, dev_ctr(d, ctr), 0, PA_STATUS_ACTIVE, NULL, 3);
    data = b64_data(last.data_string, app.secret);
    EXPECT_AUDIT(id, 2, t0, t1, la, ctr, PA_STATUS_ACTIVE, INFO_EMPTY, data,
                 "POSSESSION_KNOWLEDGE", last.signature, 1, "signature_ok", 3,
                 "3.1");
    free(data);
    pa_sig_res_free(&r);
    /* now the refused one is at the counter itself */
    CU_ASSERT_EQUAL(verify_sig(id, d, &beyond, &r), PA_OK);
    EXPECT_VALID_RES(&r, PA_SIG_POSSESSION_KNOWLEDGE, 5);
    pa_sig_res_free(&r);
    skip(d, 1);
    EXPECT_ACT(id, 0, 0, la + 1, dev_ctr(d, ctr), 0, PA_STATUS_ACTIVE, NULL, 3);
    /* the accepted ones replayed: invalid, counted, nothing moves */
    t0 = pa_time_now_ms();
    CU_ASSERT_EQUAL(verify_sig(id, d, &last, &r), PA_OK);
    t1 = pa_time_now_ms();
    CU_ASSERT_FALSE(r.valid);
    CU_ASSERT_EQUAL(r.remaining_attempts, 4);
    EXPECT_ACT(id, t0, t1, la + 1, ctr, 1, PA_STATUS_ACTIVE, NULL, 3);
    data = b64_data(last.data_string, app.secret);
    EXPECT_AUDIT(id, 4, t0, t1, la + 1, ctr, PA_STATUS_ACTIVE, INFO_EMPTY, data,
                 "POSSESSION_KNOWLEDGE", last.signature, 0,
                 "signature_does_not_match", 3, "3.1");
    free(data);
    pa_sig_res_free(&r);
    CU_ASSERT_EQUAL(verify_sig(id, d, &beyond, &r), PA_OK);
    CU_ASSERT_FALSE(r.valid);
    CU_ASSERT_EQUAL(r.remaining_attempts, 3);
    pa_sig_res_free(&r);
    EXPECT_ACT(id, 0, 0, la + 1, ctr, 2, PA_STATUS_ACTIVE, NULL, 3);
    CU_ASSERT_EQUAL(n_history(id), 3);
    pa_device_signature_free(&last);
    pa_device_signature_free(&beyond);
    pa_device_free(d);
}

static void test_lookahead_20(void)
{
    CU_ASSERT_EQUAL(cfg.signature_validation_lookahead, 20);
    lookahead_with(20);
}

static void test_lookahead_3(void)
{
    lookahead_with(3);
}

/* ---- failures, possession, lock-out (8.7, 5.1, 5.6) ------------------------------ */

/* Possession-only: failures do not count, successes do not reset, and a
 * failure blocks an ACTIVE activation already at the limit. */
static void test_possession_rules(void)
{
    char id[PA_UUID_BUF], ctr[32];
    pa_device *d = active("frank", "3.1", id);
    pa_device_signature s, good;
    pa_sig_res r;
    int64_t t0, t1, lc;
    long long hist, out;
    const char *ids[1];
    int i;
    char *data;

    /* two knowledge failures */
    sign(d, PA_SIG_POSSESSION_KNOWLEDGE, 0, &s);
    for (i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL(verify(id, app.key, "3.1", s.data_string, "AAAA",
                               PA_SIG_POSSESSION_KNOWLEDGE, 0, &r), PA_OK);
        CU_ASSERT_FALSE(r.valid);
        CU_ASSERT_EQUAL(r.remaining_attempts, 5 - (i + 1));
        pa_sig_res_free(&r);
    }
    pa_device_signature_free(&s);
    EXPECT_ACT(id, 0, 0, 0, dev_ctr(d, ctr), 2, PA_STATUS_ACTIVE, NULL, 3);
    /* a possession failure: not counted */
    lc = last_change(id);
    t0 = pa_time_now_ms();
    CU_ASSERT_EQUAL(verify(id, app.key, "3.1", "POST&bm90&bm90&", "AAAA",
                           PA_SIG_POSSESSION, 0, &r), PA_OK);
    t1 = pa_time_now_ms();
    CU_ASSERT_FALSE(r.valid);
    CU_ASSERT_EQUAL(r.type, PA_SIG_POSSESSION);
    CU_ASSERT_EQUAL(r.remaining_attempts, 3);
    pa_sig_res_free(&r);
    EXPECT_ACT(id, t0, t1, 0, ctr, 2, PA_STATUS_ACTIVE, NULL, 3);
    data = b64_data("POST&bm90&bm90&", app.secret);
    EXPECT_AUDIT(id, 3, t0, t1, 0, ctr, PA_STATUS_ACTIVE, INFO_EMPTY, data,
                 "POSSESSION", "AAAA", 0, "signature_does_not_match", 3, "3.1");
    free(data);
    /* a possession success: not reset */
    sign(d, PA_SIG_POSSESSION, 1, &s);
    t0 = pa_time_now_ms();
    CU_ASSERT_EQUAL(verify_sig(id, d, &s, &r), PA_OK);
    t1 = pa_time_now_ms();
    EXPECT_VALID_RES(&r, PA_SIG_POSSESSION, 5);
    pa_sig_res_free(&r);
    pa_device_signature_free(&s);
    EXPECT_ACT(id, t0, t1, 1, dev_ctr(d, ctr), 2, PA_STATUS_ACTIVE, NULL, 3);
    CU_ASSERT_EQUAL(last_change(id), lc);        /* no history write */
    /* a biometry-only success resets */
    sign(d, PA_SIG_BIOMETRY, 1, &s);
    CU_ASSERT_EQUAL(verify_sig(id, d, &s, &r), PA_OK);
    EXPECT_VALID_RES(&r, PA_SIG_BIOMETRY, 5);
    pa_sig_res_free(&r);
    pa_device_signature_free(&s);
    EXPECT_ACT(id, 0, 0, 2, dev_ctr(d, ctr), 0, PA_STATUS_ACTIVE, NULL, 3);
    /* five knowledge failures: BLOCKED */
    for (i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL(verify(id, app.key, "3.1", "x", "AAAA",
                               PA_SIG_KNOWLEDGE, 0, &r), PA_OK);
        pa_sig_res_free(&r);
    }
    EXPECT_ACT(id, 0, 0, 2, ctr, 5, PA_STATUS_BLOCKED, "MAX_FAILED_ATTEMPTS", 3);
    /* UpdateStatusForActivations BLOCKED -> ACTIVE keeps the count and the
     * reason */
    ids[0] = id;
    CU_ASSERT_EQUAL(pa_activation_update_statuses(&env, ids, 1,
                                                  PA_STATUS_ACTIVE), PA_OK);
    EXPECT_ACT(id, 0, 0, 2, ctr, 5, PA_STATUS_ACTIVE, "MAX_FAILED_ATTEMPTS", 3);
    /* a possession success at the limit: valid, still 5, still ACTIVE */
    sign(d, PA_SIG_POSSESSION, 1, &good);
    CU_ASSERT_EQUAL(verify_sig(id, d, &good, &r), PA_OK);
    EXPECT_VALID_RES(&r, PA_SIG_POSSESSION, 5);
    pa_sig_res_free(&r);
    EXPECT_ACT(id, 0, 0, 3, dev_ctr(d, ctr), 5, PA_STATUS_ACTIVE,
               "MAX_FAILED_ATTEMPTS", 3);
    /* a possession failure at the limit: not counted, but BLOCKED */
    hist = n_history(id);
    out = n_outbox(id);
    t0 = pa_time_now_ms();
    CU_ASSERT_EQUAL(verify_sig(id, d, &good, &r), PA_OK);     /* replay */
    t1 = pa_time_now_ms();
    CU_ASSERT_FALSE(r.valid);
    CU_ASSERT_EQUAL(r.status, PA_STATUS_BLOCKED);
    CU_ASSERT_EQUAL(r.remaining_attempts, 0);
    CU_ASSERT_PTR_NOT_NULL(r.blocked_reason);
    if (r.blocked_reason)
        CU_ASSERT_STRING_EQUAL(r.blocked_reason, "MAX_FAILED_ATTEMPTS");
    pa_sig_res_free(&r);
    EXPECT_ACT(id, t0, t1, 3, ctr, 5, PA_STATUS_BLOCKED, "MAX_FAILED_ATTEMPTS", 3);
    data = b64_data(good.data_string, app.secret);
    EXPECT_AUDIT(id, 3 + 1 + 1 + 5 + 1 + 1, t0, t1, 3, ctr, PA_STATUS_BLOCKED,
                 INFO_BLOCKED, data, "POSSESSION", good.signature, 0,
                 "signature_does_not_match", 3, "3.1");
    free(data);
    CU_ASSERT_EQUAL(n_history(id), hist + 1);
    EXPECT_LAST_HISTORY(id, PA_STATUS_BLOCKED, "MAX_FAILED_ATTEMPTS", t0, t1);
    EXPECT_NEW_OUTBOX(id, &app, out, t0, t1);
    pa_device_signature_free(&good);
    pa_device_free(d);
}

/* Lock-out: failures below the limit write no history; the one reaching
 * it blocks with history, callbacks and BLOCKED_REASON (last). */
static void test_lockout(void)
{
    char id[PA_UUID_BUF], ctr[32];
    pa_device *d = active("gina", "3.0", id);
    pa_device_signature s;
    pa_sig_res r;
    int64_t t0, t1, lc = last_change(id);
    long long hist = n_history(id), out = n_outbox(id);
    int i;
    char *data;

    dev_ctr(d, ctr);
    sign(d, PA_SIG_POSSESSION_KNOWLEDGE, 0, &s);
    data = b64_data(s.data_string, app.secret);
    for (i = 1; i <= 5; i++) {
        int last = i == 5;
        char bad[32];

        snprintf(bad, sizeof bad, "%08d-%08d", i, i);
        t0 = pa_time_now_ms();
        CU_ASSERT_EQUAL(verify(id, app.key, "3.0", s.data_string, bad,
                               PA_SIG_POSSESSION_KNOWLEDGE, 0, &r), PA_OK);
        t1 = pa_time_now_ms();
        CU_ASSERT_TRUE(r.found);
        CU_ASSERT_FALSE(r.valid);
        CU_ASSERT_TRUE(r.details);
        CU_ASSERT_EQUAL(r.status, last ? PA_STATUS_BLOCKED : PA_STATUS_ACTIVE);
        CU_ASSERT_EQUAL(r.remaining_attempts, 5 - i);
        CU_ASSERT_EQUAL(r.type, PA_SIG_POSSESSION_KNOWLEDGE);
        CU_ASSERT_EQUAL(r.application_id, app.id);
        CU_ASSERT(r.user_id && strcmp(r.user_id, "gina") == 0);
        CU_ASSERT(last ? r.blocked_reason != NULL : r.blocked_reason == NULL);
        pa_sig_res_free(&r);
        EXPECT_ACT(id, t0, t1, 0, ctr, i,
                   last ? PA_STATUS_BLOCKED : PA_STATUS_ACTIVE,
                   last ? "MAX_FAILED_ATTEMPTS" : NULL, 3);
        EXPECT_AUDIT(id, i, t0, t1, 0, ctr,
                     last ? PA_STATUS_BLOCKED : PA_STATUS_ACTIVE,
                     last ? INFO_BLOCKED : INFO_EMPTY, data,
                     "POSSESSION_KNOWLEDGE", bad, 0,
                     "signature_does_not_match", 3, "3.0");
        if (!last) {
            CU_ASSERT_EQUAL(n_history(id), hist);
            CU_ASSERT_EQUAL(n_outbox(id), out);
            CU_ASSERT_EQUAL(last_change(id), lc);
        } else {
            CU_ASSERT_EQUAL(n_history(id), hist + 1);
            EXPECT_LAST_HISTORY(id, PA_STATUS_BLOCKED, "MAX_FAILED_ATTEMPTS",
                                t0, t1);
            EXPECT_NEW_OUTBOX(id, &app, out, t0, t1);
        }
    }
    /* BLOCKED: the right signature is activation_invalid_state; only the
     * last-used time moves */
    out = n_outbox(id);
    t0 = pa_time_now_ms();
    CU_ASSERT_EQUAL(verify_sig(id, d, &s, &r), PA_OK);
    t1 = pa_time_now_ms();
    CU_ASSERT_TRUE(r.found);
    CU_ASSERT_FALSE(r.valid);
    CU_ASSERT_FALSE(r.details);
    CU_ASSERT_EQUAL(r.status, PA_STATUS_BLOCKED);
    pa_sig_res_free(&r);
    EXPECT_ACT(id, t0, t1, 0, ctr, 5, PA_STATUS_BLOCKED, "MAX_FAILED_ATTEMPTS", 3);
    EXPECT_AUDIT(id, 6, t0, t1, 0, ctr, PA_STATUS_BLOCKED, INFO_EMPTY, data,
                 "POSSESSION_KNOWLEDGE", s.signature, 0,
                 "activation_invalid_state", 3, "3.0");
    CU_ASSERT_EQUAL(n_history(id), hist + 1);
    CU_ASSERT_EQUAL(n_outbox(id), out);
    free(data);
    pa_device_signature_free(&s);
    pa_device_free(d);
}

/* ---- no writes -------------------------------------------------------------------- */

static void test_unknown_activation(void)
{
    char id[PA_UUID_BUF], unknown[PA_UUID_BUF];
    pa_device *d = active("hank", "3.1", id);
    pa_device_signature s;
    pa_sig_req rq;
    pa_sig_res r;
    char *snap;

    CU_ASSERT_EQUAL_FATAL(pa_uuid_v4(unknown), PA_OK);
    sign(d, PA_SIG_POSSESSION_KNOWLEDGE, 0, &s);
    snap = snapshot();
    CU_ASSERT_EQUAL(verify_sig(unknown, d, &s, &r), PA_OK);
    CU_ASSERT_FALSE(r.found);
    CU_ASSERT_FALSE(r.valid);
    CU_ASSERT_FALSE(r.details);
    CU_ASSERT_EQUAL(r.status, PA_STATUS_REMOVED);
    pa_sig_res_free(&r);
    /* step 1 comes before the version check and the application check */
    CU_ASSERT_EQUAL(verify(unknown, "nokey", "abc", "x", "y", PA_SIG_KNOWLEDGE,
                           0, &r), PA_OK);
    CU_ASSERT_FALSE(r.found);
    CU_ASSERT_EQUAL(r.status, PA_STATUS_REMOVED);
    pa_sig_res_free(&r);
    /* offline */
    memset(&rq, 0, sizeof rq);
    rq.activation_id = unknown;
    rq.data = "x";
    rq.signature = "12345678-12345678";
    rq.types[0] = PA_SIG_POSSESSION_KNOWLEDGE;
    rq.types[1] = PA_SIG_POSSESSION_BIOMETRY;
    rq.ntypes = 2;
    rq.allow_biometry = 1;
    CU_ASSERT_EQUAL(pa_signature_verify(&env, &rq, &r), PA_OK);
    CU_ASSERT_FALSE(r.found);
    CU_ASSERT_EQUAL(r.status, PA_STATUS_REMOVED);
    pa_sig_res_free(&r);
    EXPECT_UNCHANGED(snap);
    CU_ASSERT_EQUAL(q_int("SELECT count(*) FROM pa_signature_audit", NULL), 0);
    pa_device_signature_free(&s);
    pa_device_free(d);
}

static void test_err0013(void)
{
    static const char *const bad[] = {"1.0", "3.10", "abc", "", " 3.2", "3.",
                                      "1e1"};
    char id[PA_UUID_BUF];
    pa_device *d = active("ivan", "3.1", id);
    pa_device_signature s;
    pa_sig_res r;
    size_t i;
    char *snap;

    sign(d, PA_SIG_POSSESSION_KNOWLEDGE, 0, &s);
    snap = snapshot();
    for (i = 0; i < sizeof bad / sizeof *bad; i++) {
        CU_ASSERT_EQUAL(verify(id, app.key, bad[i], s.data_string, s.signature,
                               s.type, 0, &r), PA_ERR_UNABLE_TO_COMPUTE_SIGNATURE);
        CU_ASSERT_PTR_NULL(r.user_id);
        pa_sig_res_free(&r);
        /* step 2 comes before the application check */
        CU_ASSERT_EQUAL(verify(id, "nokey", bad[i], s.data_string, s.signature,
                               s.type, 0, &r), PA_ERR_UNABLE_TO_COMPUTE_SIGNATURE);
        pa_sig_res_free(&r);
    }
    /* BLOCKED too: the version is resolved before the state */
    q_exec("UPDATE pa_activation SET activation_status = 4 WHERE activation_id = ?1",
           id);
    free(snap);
    snap = snapshot();
    CU_ASSERT_EQUAL(verify(id, app.key, "1.0", s.data_string, s.signature,
                           s.type, 0, &r), PA_ERR_UNABLE_TO_COMPUTE_SIGNATURE);
    pa_sig_res_free(&r);
    EXPECT_UNCHANGED(snap);
    pa_device_signature_free(&s);
    pa_device_free(d);
}

static void test_err0008(void)
{
    static const char *const sets[] = {
        "UPDATE pa_activation SET version = NULL WHERE activation_id = ?1",
        "UPDATE pa_activation SET version = 7 WHERE activation_id = ?1",
        "UPDATE pa_activation SET version = 0 WHERE activation_id = ?1"};
    char id[PA_UUID_BUF];
    pa_device *d = active("judy", "3.1", id);
    pa_device_signature s;
    pa_sig_req rq;
    pa_sig_res r;
    size_t i;
    char *snap;

    sign(d, PA_SIG_POSSESSION_KNOWLEDGE, 0, &s);
    for (i = 0; i < sizeof sets / sizeof *sets; i++) {
        q_exec(sets[i], id);
        snap = snapshot();
        /* a valid signature, an invalid one, possession only, forced */
        CU_ASSERT_EQUAL(verify_sig(id, d, &s, &r),
                        PA_ERR_ACTIVATION_INCORRECT_STATE);
        pa_sig_res_free(&r);
        CU_ASSERT_EQUAL(verify(id, app.key, "3.1", s.data_string, "AAAA",
                               PA_SIG_KNOWLEDGE, 0, &r),
                        PA_ERR_ACTIVATION_INCORRECT_STATE);
        pa_sig_res_free(&r);
        CU_ASSERT_EQUAL(verify(id, app.key, "3.1", s.data_string, "AAAA",
                               PA_SIG_POSSESSION, 3, &r),
                        PA_ERR_ACTIVATION_INCORRECT_STATE);
        pa_sig_res_free(&r);
        memset(&rq, 0, sizeof rq);
        rq.activation_id = id;
        rq.data = s.data_string;
        rq.signature = "12345678-12345678";
        rq.types[0] = PA_SIG_POSSESSION_KNOWLEDGE;
        rq.ntypes = 1;
        CU_ASSERT_EQUAL(pa_signature_verify(&env, &rq, &r),
                        PA_ERR_ACTIVATION_INCORRECT_STATE);
        pa_sig_res_free(&r);
        EXPECT_UNCHANGED(snap);
    }
    CU_ASSERT_EQUAL(n_audit(id), 0);
    pa_device_signature_free(&s);
    pa_device_free(d);
}

/* ---- wrong application key (8.7 step 3) ----------------------------------------- */

static void test_wrong_application_key(void)
{
    char id[PA_UUID_BUF], ctr[32], ukey[64], *data;
    pa_device *d = active("kate", "3.1", id);
    pa_device_signature s;
    pa_sig_res r;
    int64_t t0, t1, vid;
    long long n = 0;
    const char *keys[3];
    size_t i;

    /* an unsupported second version of "bank" */
    snprintf(ukey, sizeof ukey, "%s", "dW5zdXBwb3J0ZWQta2V5LTE=");
    CU_ASSERT_EQUAL_FATAL(pa_store_version_create(db, app.id, "old", ukey,
                                                  "c2VjcmV0LXNlY3JldC0xMjM=", &vid),
                          PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_version_set_supported(db, vid, 0, (int[]){0}),
                          PA_OK);
    keys[0] = "bm8tc3VjaC1rZXk=";      /* unknown */
    keys[1] = ukey;                    /* unsupported */
    keys[2] = other.key;               /* another application's */
    dev_ctr(d, ctr);
    sign(d, PA_SIG_POSSESSION_KNOWLEDGE, 0, &s);
    for (i = 0; i < 3; i++) {
        t0 = pa_time_now_ms();
        CU_ASSERT_EQUAL(verify(id, keys[i], "3.1", s.data_string, s.signature,
                               s.type, 0, &r), PA_OK);
        t1 = pa_time_now_ms();
        CU_ASSERT_TRUE(r.found);
        CU_ASSERT_FALSE(r.valid);
        CU_ASSERT_FALSE(r.details);
        CU_ASSERT_EQUAL(r.status, PA_STATUS_ACTIVE);
        pa_sig_res_free(&r);
        n++;
        EXPECT_ACT(id, t0, t1, 0, ctr, n, PA_STATUS_ACTIVE, NULL, 3);
        data = b64_data(s.data_string, keys[i]);
        EXPECT_AUDIT(id, n, t0, t1, 0, ctr, PA_STATUS_ACTIVE, INFO_EMPTY, data,
                     "POSSESSION_KNOWLEDGE", s.signature, 0,
                     "activation_invalid_application", 3, "3.1");
        free(data);
    }
    /* possession only: audited, not counted */
    t0 = pa_time_now_ms();
    CU_ASSERT_EQUAL(verify(id, other.key, "3.1", s.data_string, s.signature,
                           PA_SIG_POSSESSION, 0, &r), PA_OK);
    t1 = pa_time_now_ms();
    CU_ASSERT_FALSE(r.valid);
    pa_sig_res_free(&r);
    EXPECT_ACT(id, t0, t1, 0, ctr, 3, PA_STATUS_ACTIVE, NULL, 3);
    data = b64_data(s.data_string, other.key);
    EXPECT_AUDIT(id, 4, t0, t1, 0, ctr, PA_STATUS_ACTIVE, INFO_EMPTY, data,
                 "POSSESSION", s.signature, 0, "activation_invalid_application",
                 3, "3.1");
    free(data);
    /* the device's own key still works, and resets */
    CU_ASSERT_EQUAL(verify_sig(id, d, &s, &r), PA_OK);
    EXPECT_VALID_RES(&r, PA_SIG_POSSESSION_KNOWLEDGE, 5);
    pa_sig_res_free(&r);
    skip(d, 1);
    EXPECT_ACT(id, 0, 0, 1, dev_ctr(d, ctr), 0, PA_STATUS_ACTIVE, NULL, 3);
    pa_device_signature_free(&s);
    pa_device_free(d);
}

/* The application check runs whatever the state: CREATED and REMOVED
 * activations are counted and can be blocked (5.6). */
static void test_wrong_key_any_state(void)
{
    pa_act_init_req ir = {.user_id = "leo", .application_id = app.id,
                          .has_max_failures = 1, .max_failures = 2,
                          .otp_mode = PA_OTP_NONE};
    pa_act_init_res irs;
    char id[PA_UUID_BUF], rid[PA_UUID_BUF], ctr[32], *data;
    pa_device *d;
    pa_sig_res r;
    int64_t t0, t1;
    long long hist, out;

    CU_ASSERT_EQUAL_FATAL(pa_activation_init(&env, &ir, &irs), PA_OK);
    memcpy(id, irs.activation_id, PA_UUID_BUF);
    pa_act_init_res_free(&irs);
    /* CREATED, right key: activation_invalid_state, version NULL */
    t0 = pa_time_now_ms();
    CU_ASSERT_EQUAL(verify(id, app.key, "3.1", "POST&eA==&eA==&", "AAAA",
                           PA_SIG_POSSESSION_KNOWLEDGE, 0, &r), PA_OK);
    t1 = pa_time_now_ms();
    CU_ASSERT_TRUE(r.found);
    CU_ASSERT_FALSE(r.valid);
    CU_ASSERT_EQUAL(r.status, PA_STATUS_CREATED);
    pa_sig_res_free(&r);
    EXPECT_ACT(id, t0, t1, 0, NULL, 0, PA_STATUS_CREATED, NULL, 0);
    data = b64_data("POST&eA==&eA==&", app.secret);
    EXPECT_AUDIT(id, 1, t0, t1, 0, NULL, PA_STATUS_CREATED, INFO_EMPTY, data,
                 "POSSESSION_KNOWLEDGE", "AAAA", 0, "activation_invalid_state",
                 0, "3.1");
    free(data);
    /* CREATED, wrong key: counted */
    data = b64_data("POST&eA==&eA==&", other.key);
    hist = n_history(id);
    out = n_outbox(id);
    t0 = pa_time_now_ms();
    CU_ASSERT_EQUAL(verify(id, other.key, "3.1", "POST&eA==&eA==&", "AAAA",
                           PA_SIG_POSSESSION_KNOWLEDGE, 0, &r), PA_OK);
    t1 = pa_time_now_ms();
    CU_ASSERT_EQUAL(r.status, PA_STATUS_CREATED);
    pa_sig_res_free(&r);
    EXPECT_ACT(id, t0, t1, 0, NULL, 1, PA_STATUS_CREATED, NULL, 0);
    EXPECT_AUDIT(id, 2, t0, t1, 0, NULL, PA_STATUS_CREATED, INFO_EMPTY, data,
                 "POSSESSION_KNOWLEDGE", "AAAA", 0,
                 "activation_invalid_application", 0, "3.1");
    CU_ASSERT_EQUAL(n_history(id), hist);
    /* second: max 2 reached, CREATED -> BLOCKED */
    t0 = pa_time_now_ms();
    CU_ASSERT_EQUAL(verify(id, other.key, "3.1", "POST&eA==&eA==&", "AAAA",
                           PA_SIG_POSSESSION_KNOWLEDGE, 0, &r), PA_OK);
    t1 = pa_time_now_ms();
    CU_ASSERT_EQUAL(r.status, PA_STATUS_BLOCKED);
    CU_ASSERT_FALSE(r.valid);
    pa_sig_res_free(&r);
    EXPECT_ACT(id, t0, t1, 0, NULL, 2, PA_STATUS_BLOCKED, "MAX_FAILED_ATTEMPTS", 0);
    EXPECT_AUDIT(id, 3, t0, t1, 0, NULL, PA_STATUS_BLOCKED, INFO_BLOCKED, data,
                 "POSSESSION_KNOWLEDGE", "AAAA", 0,
                 "activation_invalid_application", 0, "3.1");
    CU_ASSERT_EQUAL(n_history(id), hist + 1);
    EXPECT_LAST_HISTORY(id, PA_STATUS_BLOCKED, "MAX_FAILED_ATTEMPTS", t0, t1);
    EXPECT_NEW_OUTBOX(id, &app, out, t0, t1);
    free(data);

    /* REMOVED with max 1: one wrong key -> BLOCKED */
    d = active_max("leo", &app, "3.1", 1, rid);
    CU_ASSERT_EQUAL_FATAL(pa_activation_remove(&env, rid, NULL, 0), PA_OK);
    dev_ctr(d, ctr);
    hist = n_history(rid);
    out = n_outbox(rid);
    data = b64_data("GET&eA==&eA==&", "bm8tc3VjaC1rZXk=");
    t0 = pa_time_now_ms();
    CU_ASSERT_EQUAL(verify(rid, "bm8tc3VjaC1rZXk=", "3.0", "GET&eA==&eA==&",
                           "12345678", PA_SIG_KNOWLEDGE, 0, &r), PA_OK);
    t1 = pa_time_now_ms();
    CU_ASSERT_EQUAL(r.status, PA_STATUS_BLOCKED);
    pa_sig_res_free(&r);
    EXPECT_ACT(rid, t0, t1, 0, ctr, 1, PA_STATUS_BLOCKED, "MAX_FAILED_ATTEMPTS", 3);
    EXPECT_AUDIT(rid, 1, t0, t1, 0, ctr, PA_STATUS_BLOCKED, INFO_BLOCKED, data,
                 "KNOWLEDGE", "12345678", 0, "activation_invalid_application", 3,
                 "3.0");
    CU_ASSERT_EQUAL(n_history(rid), hist + 1);
    EXPECT_LAST_HISTORY(rid, PA_STATUS_BLOCKED, "MAX_FAILED_ATTEMPTS", t0, t1);
    EXPECT_NEW_OUTBOX(rid, &app, out, t0, t1);
    free(data);
    pa_device_free(d);
}

/* ---- offline (9.3) -------------------------------------------------------------- */

static pa_err verify_offline(const char *id, const char *data, const char *sig,
                             int allow_biometry, pa_sig_res *res)
{
    pa_sig_req r;

    memset(&r, 0, sizeof r);
    r.activation_id = id;
    r.data = data;
    r.signature = sig;
    r.types[0] = PA_SIG_POSSESSION_KNOWLEDGE;
    r.types[1] = PA_SIG_POSSESSION_BIOMETRY;
    r.ntypes = allow_biometry ? 2 : 1;
    r.allow_biometry = allow_biometry;
    return pa_signature_verify(&env, &r, res);
}

/* The device signs a personalized payload. */
static void offline_sign(pa_device *d, const char *id, int biometry,
                         pa_device_signature *s)
{
    pa_offline_res o;
    int valid = 0;

    CU_ASSERT_EQUAL_FATAL(pa_offline_personalized(&env, id,
                                                  "A1*A100CZK*Q238400856/0300**D20190629*NUtility", &o),
                          PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_device_offline_sign(d, o.offline_data,
                                                 "/operation/authorize/offline",
                                                 "5ff1b1ed-a3cc-45a3-8ab0-ed60950312b6&A1*A100CZK",
                                                 biometry, &valid, s),
                          PA_OK);
    CU_ASSERT_TRUE_FATAL(valid);
    pa_offline_res_free(&o);
}

static void test_offline(void)
{
    static const char *const INFO_BIO =
        "{\"entry\":[{\"key\":\"BIOMETRY_ALLOWED\",\"value\":\"TRUE\"}]}";
    static const char *const INFO_BIO_BLOCKED =
        "{\"entry\":[{\"key\":\"BIOMETRY_ALLOWED\",\"value\":\"TRUE\"},"
        "{\"key\":\"BLOCKED_REASON\",\"value\":\"MAX_FAILED_ATTEMPTS\"}]}";
    char id[PA_UUID_BUF], ctr[32], *data;
    pa_device *d = active("mia", "3.1", id);
    pa_device_signature s;
    pa_sig_res r;
    int64_t t0, t1;
    long long hist, out;
    int i;

    /* biometry allowed: PB matches (tried after PK at each position) */
    offline_sign(d, id, 1, &s);
    CU_ASSERT_EQUAL(strlen(s.signature), 17);
    t0 = pa_time_now_ms();
    CU_ASSERT_EQUAL(verify_offline(id, s.data_string, s.signature, 1, &r), PA_OK);
    t1 = pa_time_now_ms();
    EXPECT_VALID_RES(&r, PA_SIG_POSSESSION_BIOMETRY, 5);
    pa_sig_res_free(&r);
    data = b64_data(s.data_string, "offline");
    EXPECT_ACT(id, t0, t1, 1, dev_ctr(d, ctr), 0, PA_STATUS_ACTIVE, NULL, 3);
    EXPECT_AUDIT(id, 1, t0, t1, 1, ctr, PA_STATUS_ACTIVE, INFO_EMPTY, data,
                 "POSSESSION_BIOMETRY", s.signature, 1, "signature_ok", 3, NULL);
    free(data);
    pa_device_signature_free(&s);
    /* PK with biometry allowed, two positions ahead */
    skip(d, 2);
    offline_sign(d, id, 0, &s);
    t0 = pa_time_now_ms();
    CU_ASSERT_EQUAL(verify_offline(id, s.data_string, s.signature, 1, &r), PA_OK);
    t1 = pa_time_now_ms();
    EXPECT_VALID_RES(&r, PA_SIG_POSSESSION_KNOWLEDGE, 5);
    pa_sig_res_free(&r);
    data = b64_data(s.data_string, "offline");
    EXPECT_ACT(id, t0, t1, 4, dev_ctr(d, ctr), 0, PA_STATUS_ACTIVE, NULL, 3);
    EXPECT_AUDIT(id, 2, t0, t1, 4, ctr, PA_STATUS_ACTIVE, INFO_EMPTY, data,
                 "POSSESSION_KNOWLEDGE", s.signature, 1, "signature_ok", 3, NULL);
    free(data);
    pa_device_signature_free(&s);
    /* PB without biometry allowed: no match, counted, audited as PK,
     * no BIOMETRY_ALLOWED */
    offline_sign(d, id, 1, &s);
    t0 = pa_time_now_ms();
    CU_ASSERT_EQUAL(verify_offline(id, s.data_string, s.signature, 0, &r), PA_OK);
    t1 = pa_time_now_ms();
    CU_ASSERT_FALSE(r.valid);
    CU_ASSERT_EQUAL(r.type, PA_SIG_POSSESSION_KNOWLEDGE);
    CU_ASSERT_EQUAL(r.remaining_attempts, 4);
    pa_sig_res_free(&r);
    data = b64_data(s.data_string, "offline");
    EXPECT_ACT(id, t0, t1, 4, ctr, 1, PA_STATUS_ACTIVE, NULL, 3);
    EXPECT_AUDIT(id, 3, t0, t1, 4, ctr, PA_STATUS_ACTIVE, INFO_EMPTY, data,
                 "POSSESSION_KNOWLEDGE", s.signature, 0,
                 "signature_does_not_match", 3, NULL);
    free(data);
    /* an offline signature is not an online one */
    CU_ASSERT_EQUAL(verify(id, app.key, "3.0", s.data_string, s.signature,
                           PA_SIG_POSSESSION_BIOMETRY, 0, &r), PA_OK);
    CU_ASSERT_FALSE(r.valid);
    pa_sig_res_free(&r);
    EXPECT_ACT(id, 0, 0, 4, ctr, 2, PA_STATUS_ACTIVE, NULL, 3);
    CU_ASSERT_EQUAL(n_audit(id), 4);
    pa_device_signature_free(&s);
    /* failures with biometry allowed: BIOMETRY_ALLOWED, and at the limit
     * BLOCKED_REASON after it */
    hist = n_history(id);
    out = n_outbox(id);
    for (i = 3; i <= 5; i++) {
        int last = i == 5;

        t0 = pa_time_now_ms();
        CU_ASSERT_EQUAL(verify_offline(id, "POST&eA==&eA==&eA==", "12345678-87654321",
                                       1, &r), PA_OK);
        t1 = pa_time_now_ms();
        CU_ASSERT_FALSE(r.valid);
        CU_ASSERT_EQUAL(r.type, PA_SIG_POSSESSION_KNOWLEDGE);
        CU_ASSERT_EQUAL(r.remaining_attempts, 5 - i);
        CU_ASSERT_EQUAL(r.status, last ? PA_STATUS_BLOCKED : PA_STATUS_ACTIVE);
        pa_sig_res_free(&r);
        data = b64_data("POST&eA==&eA==&eA==", "offline");
        EXPECT_ACT(id, t0, t1, 4, ctr, i,
                   last ? PA_STATUS_BLOCKED : PA_STATUS_ACTIVE,
                   last ? "MAX_FAILED_ATTEMPTS" : NULL, 3);
        EXPECT_AUDIT(id, 4 + i - 2, t0, t1, 4, ctr,
                     last ? PA_STATUS_BLOCKED : PA_STATUS_ACTIVE,
                     last ? INFO_BIO_BLOCKED : INFO_BIO, data,
                     "POSSESSION_KNOWLEDGE", "12345678-87654321", 0,
                     "signature_does_not_match", 3, NULL);
        free(data);
        if (last) {
            CU_ASSERT_EQUAL(n_history(id), hist + 1);
            EXPECT_LAST_HISTORY(id, PA_STATUS_BLOCKED, "MAX_FAILED_ATTEMPTS",
                                t0, t1);
            EXPECT_NEW_OUTBOX(id, &app, out, t0, t1);
        } else {
            CU_ASSERT_EQUAL(n_history(id), hist);
        }
    }
    /* BLOCKED: invalid state, no BIOMETRY_ALLOWED */
    t0 = pa_time_now_ms();
    CU_ASSERT_EQUAL(verify_offline(id, "POST&eA==&eA==&eA==", "1", 1, &r), PA_OK);
    t1 = pa_time_now_ms();
    CU_ASSERT_FALSE(r.valid);
    CU_ASSERT_EQUAL(r.status, PA_STATUS_BLOCKED);
    pa_sig_res_free(&r);
    data = b64_data("POST&eA==&eA==&eA==", "offline");
    EXPECT_AUDIT(id, 8, t0, t1, 4, ctr, PA_STATUS_BLOCKED, INFO_EMPTY, data,
                 "POSSESSION_KNOWLEDGE", "1", 0, "activation_invalid_state", 3,
                 NULL);
    free(data);
    pa_device_free(d);
}

/* Offline on a protocol-2 row: numeric counter. */
static void test_offline_v2(void)
{
    char id[PA_UUID_BUF], *data;
    pa_device *d = active("nina", "3.1", id);
    pa_device_signature s;
    pa_sig_res r;
    int64_t t0, t1;

    make_v2(id, d);
    skip(d, 1);
    offline_sign(d, id, 0, &s);
    CU_ASSERT_EQUAL(s.counter, 1);
    t0 = pa_time_now_ms();
    CU_ASSERT_EQUAL(verify_offline(id, s.data_string, s.signature, 0, &r), PA_OK);
    t1 = pa_time_now_ms();
    EXPECT_VALID_RES(&r, PA_SIG_POSSESSION_KNOWLEDGE, 5);
    pa_sig_res_free(&r);
    data = b64_data(s.data_string, "offline");
    EXPECT_ACT(id, t0, t1, 2, NULL, 0, PA_STATUS_ACTIVE, NULL, 2);
    EXPECT_AUDIT(id, 1, t0, t1, 2, NULL, PA_STATUS_ACTIVE, INFO_EMPTY, data,
                 "POSSESSION_KNOWLEDGE", s.signature, 1, "signature_ok", 2, NULL);
    free(data);
    pa_device_signature_free(&s);
    pa_device_free(d);
}

/* ---- VaultUnlock v3 (11.2) ------------------------------------------------------ */

typedef struct vault_call {
    pa_device_vault_req dr;
    wire w;
    pa_vault_req req;
} vault_call;

/* The device's vault request, as the handler passes it on. */
static void vault_prepare(pa_device *d, const char *id, const char *reason,
                          pa_sig_type t, vault_call *v)
{
    memset(v, 0, sizeof *v);
    CU_ASSERT_EQUAL_FATAL(pa_device_vault_request(d, reason, t, 1, &v->dr),
                          PA_OK);
    CU_ASSERT_FATAL(wire_encode(&v->dr.c, &v->w));
    v->req.activation_id = id;
    v->req.application_key = d->app_key;
    v->req.signed_data = v->dr.sig.data_string;
    v->req.signature = v->dr.sig.signature;
    v->req.signature_type = t;
    v->req.signature_version = v->dr.sig.version;
    v->req.c = wire_view(&v->w);
}

static void vault_free(vault_call *v)
{
    pa_device_vault_request_free(&v->dr);
    wire_free(&v->w);
}

/* The device reads the ECIES answer: 1 unlocked, 0 null key, -1 unreadable. */
static int vault_read(pa_device *d, const pa_vault_res *res)
{
    uint8_t *ct = NULL, mac[32];
    size_t n = 0;
    int unlocked = -1;

    if (res->encrypted_data && res->mac
        && pa_b64_decode_alloc(res->encrypted_data, &ct, &n) == PA_OK
        && pa_b64_decode_exact(res->mac, mac, 32) == PA_OK
        && pa_device_vault_response(d, ct, n, mac, 32, &unlocked) != PA_OK)
        unlocked = -1;
    free(ct);
    return unlocked;
}

static char *vault_info(const char *reason, int blocked)
{
    char *out = malloc(256);

    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    snprintf(out, 256,
             "{\"entry\":[{\"key\":\"VAULT_UNLOCKED_REASON\",\"value\":\"%s\"}%s]}",
             reason,
             blocked ? ",{\"key\":\"BLOCKED_REASON\",\"value\":"
                       "\"MAX_FAILED_ATTEMPTS\"}" : "");
    return out;
}

static void test_vault_valid(void)
{
    static const char *const reasons[] = {NULL, "ADD_BIOMETRY", "custom.reason-1_x"};
    char id[PA_UUID_BUF], ctr[32], *data, *info;
    pa_device *d = active("olga", "3.1", id);
    pa_vault_res res;
    vault_call v;
    int64_t t0, t1;
    size_t i;

    for (i = 0; i < 3; i++) {
        vault_prepare(d, id, reasons[i], PA_SIG_POSSESSION_KNOWLEDGE, &v);
        t0 = pa_time_now_ms();
        CU_ASSERT_EQUAL(pa_vault_unlock(&env, &v.req, &res), PA_OK);
        t1 = pa_time_now_ms();
        CU_ASSERT_TRUE(res.signature_valid);
        CU_ASSERT_EQUAL(vault_read(d, &res), 1);
        pa_vault_res_free(&res);
        EXPECT_ACT(id, t0, t1, (long long)i + 1, dev_ctr(d, ctr), 0,
                   PA_STATUS_ACTIVE, NULL, 3);
        data = b64_data(v.dr.sig.data_string, app.secret);
        info = vault_info(reasons[i] ? reasons[i] : "NOT_SPECIFIED", 0);
        EXPECT_AUDIT(id, (long long)i + 1, t0, t1, (long long)i + 1, ctr,
                     PA_STATUS_ACTIVE, info, data, "POSSESSION_KNOWLEDGE",
                     v.dr.sig.signature, 1, "signature_ok", 3, "3.1");
        free(data);
        free(info);
        vault_free(&v);
    }
    /* 3.0 (DECIMAL, ECIES without nonce) */
    CU_ASSERT_EQUAL_FATAL(pa_device_set_protocol(d, "3.0"), PA_OK);
    vault_prepare(d, id, "FETCH_ENCRYPTION_KEY", PA_SIG_POSSESSION_KNOWLEDGE, &v);
    CU_ASSERT_PTR_NULL(v.w.nonce);
    t0 = pa_time_now_ms();
    CU_ASSERT_EQUAL(pa_vault_unlock(&env, &v.req, &res), PA_OK);
    t1 = pa_time_now_ms();
    CU_ASSERT_TRUE(res.signature_valid);
    CU_ASSERT_EQUAL(vault_read(d, &res), 1);
    pa_vault_res_free(&res);
    data = b64_data(v.dr.sig.data_string, app.secret);
    info = vault_info("FETCH_ENCRYPTION_KEY", 0);
    EXPECT_AUDIT(id, 4, t0, t1, 4, dev_ctr(d, ctr), PA_STATUS_ACTIVE, info, data,
                 "POSSESSION_KNOWLEDGE", v.dr.sig.signature, 1, "signature_ok",
                 3, "3.0");
    free(data);
    free(info);
    vault_free(&v);
    CU_ASSERT_EQUAL(n_history(id), 3);
    pa_device_free(d);
}

/* A wrong signature: an ECIES answer with a null key, the failure counted
 * and audited with the reason first; at the limit BLOCKED_REASON last. */
static void test_vault_invalid(void)
{
    char id[PA_UUID_BUF], ctr[32], *data, *info;
    pa_device *d = active_max("pete", &app, "3.1", 2, id);
    pa_vault_res res;
    vault_call v;
    int64_t t0, t1;
    long long hist = n_history(id), out = n_outbox(id);
    int i;

    dev_ctr(d, ctr);
    for (i = 1; i <= 2; i++) {
        int last = i == 2;

        vault_prepare(d, id, i == 1 ? NULL : "RECOVERY_CODE",
                      PA_SIG_POSSESSION_KNOWLEDGE, &v);
        v.req.signature = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        t0 = pa_time_now_ms();
        CU_ASSERT_EQUAL(pa_vault_unlock(&env, &v.req, &res), PA_OK);
        t1 = pa_time_now_ms();
        CU_ASSERT_FALSE(res.signature_valid);
        CU_ASSERT_EQUAL(vault_read(d, &res), 0);
        pa_vault_res_free(&res);
        EXPECT_ACT(id, t0, t1, 0, ctr, i,
                   last ? PA_STATUS_BLOCKED : PA_STATUS_ACTIVE,
                   last ? "MAX_FAILED_ATTEMPTS" : NULL, 3);
        data = b64_data(v.dr.sig.data_string, app.secret);
        info = vault_info(i == 1 ? "NOT_SPECIFIED" : "RECOVERY_CODE", last);
        EXPECT_AUDIT(id, i, t0, t1, 0, ctr,
                     last ? PA_STATUS_BLOCKED : PA_STATUS_ACTIVE, info, data,
                     "POSSESSION_KNOWLEDGE",
                     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 0,
                     "signature_does_not_match", 3, "3.1");
        free(data);
        free(info);
        if (last) {
            CU_ASSERT_EQUAL(n_history(id), hist + 1);
            EXPECT_LAST_HISTORY(id, PA_STATUS_BLOCKED, "MAX_FAILED_ATTEMPTS",
                                t0, t1);
            EXPECT_NEW_OUTBOX(id, &app, out, t0, t1);
        }
        vault_free(&v);
    }
    pa_device_free(d);
}

/* ERR0012 and ERR0011 (11.2 steps 1, 5) write nothing. */
static void test_vault_faults(void)
{
    static const pa_sig_type bad_types[] = {
        PA_SIG_POSSESSION, PA_SIG_KNOWLEDGE, PA_SIG_BIOMETRY,
        PA_SIG_POSSESSION_BIOMETRY, PA_SIG_POSSESSION_KNOWLEDGE_BIOMETRY};
    static const char *const bad_reasons[] = {"ab", "a b", "ADD/BIOMETRY", ""};
    char id[PA_UUID_BUF], ctr[32], *snap, *data, *info;
    pa_device *d = active("quinn", "3.1", id);
    pa_vault_res res;
    vault_call v;
    int64_t t0, t1;
    size_t i;

    CU_ASSERT_FALSE(cfg.secure_vault_enable_biometric);
    for (i = 0; i < sizeof bad_types / sizeof *bad_types; i++) {
        vault_prepare(d, id, NULL, bad_types[i], &v);
        snap = snapshot();
        CU_ASSERT_EQUAL(pa_vault_unlock(&env, &v.req, &res),
                        PA_ERR_INVALID_SIGNATURE);
        CU_ASSERT_FALSE(res.signature_valid);
        CU_ASSERT_PTR_NULL(res.encrypted_data);
        CU_ASSERT_PTR_NULL(res.mac);
        pa_vault_res_free(&res);
        EXPECT_UNCHANGED(snap);
        vault_free(&v);
    }
    /* ERR0012 even for an unknown activation */
    vault_prepare(d, "00000000-0000-4000-8000-000000000000", NULL,
                  PA_SIG_KNOWLEDGE, &v);
    CU_ASSERT_EQUAL(pa_vault_unlock(&env, &v.req, &res), PA_ERR_INVALID_SIGNATURE);
    pa_vault_res_free(&res);
    vault_free(&v);
    for (i = 0; i < sizeof bad_reasons / sizeof *bad_reasons; i++) {
        vault_prepare(d, id, bad_reasons[i], PA_SIG_POSSESSION_KNOWLEDGE, &v);
        snap = snapshot();
        CU_ASSERT_EQUAL(pa_vault_unlock(&env, &v.req, &res),
                        PA_ERR_INVALID_INPUT_FORMAT);
        CU_ASSERT_PTR_NULL(res.encrypted_data);
        pa_vault_res_free(&res);
        EXPECT_UNCHANGED(snap);
        vault_free(&v);
    }
    /* a tampered MAC: ERR0018; a bad signatureVersion: ERR0013 (after
     * the decryption); neither writes */
    vault_prepare(d, id, NULL, PA_SIG_POSSESSION_KNOWLEDGE, &v);
    v.w.mac[0] = v.w.mac[0] == 'A' ? 'B' : 'A';
    snap = snapshot();
    CU_ASSERT_EQUAL(pa_vault_unlock(&env, &v.req, &res), PA_ERR_DECRYPTION_FAILED);
    CU_ASSERT_PTR_NULL(res.encrypted_data);
    pa_vault_res_free(&res);
    EXPECT_UNCHANGED(snap);
    vault_free(&v);
    vault_prepare(d, id, NULL, PA_SIG_POSSESSION_KNOWLEDGE, &v);
    v.req.signature_version = "3.10";
    snap = snapshot();
    CU_ASSERT_EQUAL(pa_vault_unlock(&env, &v.req, &res),
                    PA_ERR_UNABLE_TO_COMPUTE_SIGNATURE);
    CU_ASSERT_PTR_NULL(res.encrypted_data);
    pa_vault_res_free(&res);
    EXPECT_UNCHANGED(snap);
    vault_free(&v);
    /* a 255-character reason is fine, 256 is not */
    {
        char longr[257];

        memset(longr, 'R', 256);
        longr[256] = '\0';
        vault_prepare(d, id, longr, PA_SIG_POSSESSION_KNOWLEDGE, &v);
        snap = snapshot();
        CU_ASSERT_EQUAL(pa_vault_unlock(&env, &v.req, &res),
                        PA_ERR_INVALID_INPUT_FORMAT);
        pa_vault_res_free(&res);
        EXPECT_UNCHANGED(snap);
        vault_free(&v);
        longr[255] = '\0';
        vault_prepare(d, id, longr, PA_SIG_POSSESSION_KNOWLEDGE, &v);
        CU_ASSERT_EQUAL(pa_vault_unlock(&env, &v.req, &res), PA_OK);
        /* the device skipped the positions of the refused requests */
        CU_ASSERT_TRUE(res.signature_valid);
        CU_ASSERT_EQUAL(vault_read(d, &res), 1);
        pa_vault_res_free(&res);
        vault_free(&v);
    }
    /* POSSESSION_BIOMETRY with the setting on: allowed */
    cfg.secure_vault_enable_biometric = true;
    vault_prepare(d, id, NULL, PA_SIG_POSSESSION_BIOMETRY, &v);
    t0 = pa_time_now_ms();
    CU_ASSERT_EQUAL(pa_vault_unlock(&env, &v.req, &res), PA_OK);
    t1 = pa_time_now_ms();
    CU_ASSERT_TRUE(res.signature_valid);
    CU_ASSERT_EQUAL(vault_read(d, &res), 1);
    pa_vault_res_free(&res);
    data = b64_data(v.dr.sig.data_string, app.secret);
    info = vault_info("NOT_SPECIFIED", 0);
    EXPECT_ACT(id, t0, t1, d->counter, dev_ctr(d, ctr), 0, PA_STATUS_ACTIVE,
               NULL, 3);
    EXPECT_AUDIT(id, 2, t0, t1, d->counter, ctr, PA_STATUS_ACTIVE, info, data,
                 "POSSESSION_BIOMETRY", v.dr.sig.signature, 1, "signature_ok",
                 3, "3.1");
    free(data);
    free(info);
    vault_free(&v);
    /* still not KNOWLEDGE or the three-factor type */
    vault_prepare(d, id, NULL, PA_SIG_POSSESSION_KNOWLEDGE_BIOMETRY, &v);
    CU_ASSERT_EQUAL(pa_vault_unlock(&env, &v.req, &res), PA_ERR_INVALID_SIGNATURE);
    pa_vault_res_free(&res);
    vault_free(&v);
    pa_device_free(d);
}

/* Not ACTIVE, unknown or unsupported key, not a reason document:
 * signatureValid = false, no ECIES answer, nothing written (11.2 2-5). */
static void test_vault_no_write(void)
{
    static const char *const docs[] = {
        "not json", "[]", "\"reason\"", "{\"reason\":\"ADD_BIOMETRY\",\"x\":1}",
        "{\"Reason\":\"ADD_BIOMETRY\"}", "{\"reason\":5}", ""};
    char id[PA_UUID_BUF], cid[PA_UUID_BUF], unknown[PA_UUID_BUF], ukey[64], *snap;
    pa_device *d = active("rita", "3.1", id);
    pa_act_init_req ir = {.user_id = "rita", .application_id = app.id,
                          .otp_mode = PA_OTP_NONE};
    pa_act_init_res irs;
    pa_vault_res res;
    vault_call v;
    int64_t vid;
    size_t i;

    CU_ASSERT_EQUAL_FATAL(pa_activation_init(&env, &ir, &irs), PA_OK);
    memcpy(cid, irs.activation_id, PA_UUID_BUF);
    pa_act_init_res_free(&irs);
    CU_ASSERT_EQUAL_FATAL(pa_uuid_v4(unknown), PA_OK);
    snprintf(ukey, sizeof ukey, "%s", "dW5zdXBwb3J0ZWQta2V5LTI=");
    CU_ASSERT_EQUAL_FATAL(pa_store_version_create(db, app.id, "old", ukey,
                                                  app.secret, &vid), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_store_version_set_supported(db, vid, 0, (int[]){0}),
                          PA_OK);

#define NO_WRITE_CALL(setup_stmt)                                            \
    do {                                                                     \
        vault_prepare(d, id, "ADD_BIOMETRY", PA_SIG_POSSESSION_KNOWLEDGE, &v); \
        setup_stmt;                                                          \
        snap = snapshot();                                                   \
        CU_ASSERT_EQUAL(pa_vault_unlock(&env, &v.req, &res), PA_OK);         \
        CU_ASSERT_FALSE(res.signature_valid);                                \
        CU_ASSERT_PTR_NULL(res.encrypted_data);                              \
        CU_ASSERT_PTR_NULL(res.mac);                                         \
        pa_vault_res_free(&res);                                             \
        EXPECT_UNCHANGED(snap);                                              \
        vault_free(&v);                                                      \
    } while (0)

    NO_WRITE_CALL(v.req.activation_id = unknown);
    NO_WRITE_CALL(v.req.activation_id = cid);             /* CREATED */
    NO_WRITE_CALL(v.req.application_key = "bm8tc3VjaC1rZXk=");
    NO_WRITE_CALL(v.req.application_key = ukey);
    /* bad reason documents, properly encrypted for /pa/vault/unlock */
    for (i = 0; i < sizeof docs / sizeof *docs; i++) {
        pa_ecies_cryptogram cg;

        vault_prepare(d, id, NULL, PA_SIG_POSSESSION_KNOWLEDGE, &v);
        wire_free(&v.w);
        memset(&cg, 0, sizeof cg);
        CU_ASSERT_EQUAL_FATAL(pa_device_ecies_request(d, 1,
                                                      PA_ECIES_SH1_VAULT_UNLOCK,
                                                      (const uint8_t *)docs[i],
                                                      strlen(docs[i]), 1, &cg),
                              PA_OK);
        CU_ASSERT_FATAL(wire_encode(&cg, &v.w));
        pa_ecies_cryptogram_free(&cg);
        v.req.c = wire_view(&v.w);
        snap = snapshot();
        CU_ASSERT_EQUAL(pa_vault_unlock(&env, &v.req, &res), PA_OK);
        CU_ASSERT_FALSE(res.signature_valid);
        CU_ASSERT_PTR_NULL(res.encrypted_data);
        pa_vault_res_free(&res);
        EXPECT_UNCHANGED(snap);
        vault_free(&v);
    }
    /* BLOCKED */
    {
        char *br = NULL;
        int st = 0;

        CU_ASSERT_EQUAL(pa_activation_block(&env, id, NULL, NULL, &st, &br),
                        PA_OK);
        CU_ASSERT_EQUAL(st, PA_STATUS_BLOCKED);
        free(br);
    }
    NO_WRITE_CALL((void)0);
#undef NO_WRITE_CALL
    CU_ASSERT_EQUAL(n_audit(id), 0);
    pa_device_free(d);
}

/* ---- key cache ---------------------------------------------------------------------- */

static void test_keycache(void)
{
    char id[PA_UUID_BUF], ctr[32];
    pa_device *d = active("sam", "3.1", id);
    pa_device_signature s;
    pa_sig_res r;
    long long h0, m0, h, m, m1;
    int st = 0, i;
    char *reason = NULL;

    CU_ASSERT_EQUAL_FATAL(pa_keycache_init(16), PA_OK);
    pa_keycache_stats(&h0, &m0);
    CU_ASSERT_EQUAL(h0, 0);
    CU_ASSERT_EQUAL(m0, 0);
    m1 = 0;
    for (i = 0; i < 3; i++) {
        sign(d, PA_SIG_POSSESSION_KNOWLEDGE_BIOMETRY, 1, &s);
        CU_ASSERT_EQUAL(verify_sig(id, d, &s, &r), PA_OK);
        EXPECT_VALID_RES(&r, PA_SIG_POSSESSION_KNOWLEDGE_BIOMETRY, 5);
        pa_sig_res_free(&r);
        pa_device_signature_free(&s);
        EXPECT_ACT(id, 0, 0, i + 1, dev_ctr(d, ctr), 0, PA_STATUS_ACTIVE, NULL, 3);
        pa_keycache_stats(&h, &m);
        /* the first one derived (a derivation may count more than one
         * missed lookup), the others hit */
        if (i == 0) {
            CU_ASSERT(m >= 1);
            m1 = m;
        }
        CU_ASSERT_EQUAL(m, m1);
        CU_ASSERT_EQUAL(h, i);
    }
    /* an invalid signature with cached keys: same result as without */
    sign(d, PA_SIG_POSSESSION_KNOWLEDGE, 0, &s);
    CU_ASSERT_EQUAL(verify(id, app.key, "3.1", s.data_string, "AAAA",
                           PA_SIG_POSSESSION_KNOWLEDGE, 0, &r), PA_OK);
    CU_ASSERT_FALSE(r.valid);
    pa_sig_res_free(&r);
    EXPECT_ACT(id, 0, 0, 3, ctr, 1, PA_STATUS_ACTIVE, NULL, 3);
    /* a status change drops the entry */
    CU_ASSERT_EQUAL(pa_activation_block(&env, id, "TEST", NULL, &st, &reason),
                    PA_OK);
    free(reason);
    reason = NULL;
    CU_ASSERT_EQUAL(pa_activation_unblock(&env, id, NULL, &st), PA_OK);
    pa_keycache_stats(&h0, &m0);
    CU_ASSERT_EQUAL(verify_sig(id, d, &s, &r), PA_OK);
    EXPECT_VALID_RES(&r, PA_SIG_POSSESSION_KNOWLEDGE, 5);
    pa_sig_res_free(&r);
    pa_device_signature_free(&s);
    skip(d, 1);
    EXPECT_ACT(id, 0, 0, 4, dev_ctr(d, ctr), 0, PA_STATUS_ACTIVE, NULL, 3);
    pa_keycache_stats(&h, &m);
    CU_ASSERT(m - m0 >= 1);
    CU_ASSERT_EQUAL(h - h0, 0);
    /* and the next one hits again */
    sign(d, PA_SIG_POSSESSION, 1, &s);
    CU_ASSERT_EQUAL(verify_sig(id, d, &s, &r), PA_OK);
    EXPECT_VALID_RES(&r, PA_SIG_POSSESSION, 5);
    pa_sig_res_free(&r);
    pa_device_signature_free(&s);
    pa_keycache_stats(&h0, &m0);
    CU_ASSERT_EQUAL(m0 - m, 0);
    CU_ASSERT_EQUAL(h0 - h, 1);
    /* a lock-out (a status change inside the verification) drops it too */
    for (i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL(verify(id, app.key, "3.1", "x", "AAAA",
                               PA_SIG_KNOWLEDGE, 0, &r), PA_OK);
        pa_sig_res_free(&r);
    }
    EXPECT_ACT(id, 0, 0, 5, dev_ctr(d, ctr), 5, PA_STATUS_BLOCKED,
               "MAX_FAILED_ATTEMPTS", 3);
    CU_ASSERT_EQUAL(pa_activation_unblock(&env, id, NULL, &st), PA_OK);
    pa_keycache_stats(&h0, &m0);
    sign(d, PA_SIG_POSSESSION, 1, &s);
    CU_ASSERT_EQUAL(verify_sig(id, d, &s, &r), PA_OK);
    EXPECT_VALID_RES(&r, PA_SIG_POSSESSION, 5);
    pa_sig_res_free(&r);
    pa_device_signature_free(&s);
    pa_keycache_stats(&h, &m);
    CU_ASSERT(m - m0 >= 1);
    CU_ASSERT_EQUAL(h - h0, 0);
    pa_keycache_free();
    pa_device_free(d);
}

/* One slot, two activations alternating: each evicts the other, both
 * still verify (keys are compared by full id, never mixed up). */
static void test_keycache_one_slot(void)
{
    char id[2][PA_UUID_BUF], ctr[32];
    pa_device *d[2];
    pa_device_signature s;
    pa_sig_res r;
    long long h, m;
    int i, k;

    d[0] = active("tom", "3.1", id[0]);
    d[1] = active("uma", "3.0", id[1]);
    CU_ASSERT_EQUAL_FATAL(pa_keycache_init(1), PA_OK);
    for (i = 0; i < 6; i++) {
        k = i % 2;
        sign(d[k], PA_SIG_POSSESSION_KNOWLEDGE, 1, &s);
        CU_ASSERT_EQUAL(verify_sig(id[k], d[k], &s, &r), PA_OK);
        EXPECT_VALID_RES(&r, PA_SIG_POSSESSION_KNOWLEDGE, 5);
        pa_sig_res_free(&r);
        pa_device_signature_free(&s);
        EXPECT_ACT(id[k], 0, 0, i / 2 + 1, dev_ctr(d[k], ctr), 0,
                   PA_STATUS_ACTIVE, NULL, 3);
    }
    pa_keycache_stats(&h, &m);
    CU_ASSERT(m >= 6);
    CU_ASSERT_EQUAL(h, 0);
    /* same activation twice in a row: a hit */
    sign(d[1], PA_SIG_POSSESSION, 1, &s);
    CU_ASSERT_EQUAL(verify_sig(id[1], d[1], &s, &r), PA_OK);
    EXPECT_VALID_RES(&r, PA_SIG_POSSESSION, 5);
    pa_sig_res_free(&r);
    pa_device_signature_free(&s);
    pa_keycache_stats(&h, &m);
    CU_ASSERT_EQUAL(h, 1);
    pa_keycache_free();
    pa_device_free(d[0]);
    pa_device_free(d[1]);
}

/* ---- concurrency -------------------------------------------------------------------- */

#define NTHREADS 16

typedef struct worker {
    pthread_t th;
    pthread_barrier_t *start;
    const char *id;
    const char *key;
    pa_device_signature sig;
    pa_err e;
    pa_err open_e;
    int valid;
} worker;

static void *worker_run(void *arg)
{
    worker *w = arg;
    pa_store *s = NULL;
    pa_act_env my;
    pa_sig_req r;
    pa_sig_res res;

    w->open_e = pa_store_open(path, NULL, &s);
    my.store = s;
    my.cfg = &cfg;
    memset(&r, 0, sizeof r);
    r.activation_id = w->id;
    r.application_key = w->key;
    r.signature_version = w->sig.version;
    r.data = w->sig.data_string;
    r.signature = w->sig.signature;
    r.types[0] = w->sig.type;
    r.ntypes = 1;
    pthread_barrier_wait(w->start);
    if (w->open_e == PA_OK) {
        w->e = pa_signature_verify(&my, &r, &res);
        w->valid = w->e == PA_OK && res.valid;
        pa_sig_res_free(&res);
    }
    pa_store_close(s);
    return NULL;
}

static void concurrent_with(int cache)
{
    char id[PA_UUID_BUF], sigctr[32];
    pa_device *d = active("vera", "3.1", id);
    pthread_barrier_t start;
    worker w[NTHREADS];
    long long max_pos = -1, nvalid = 0, prev = -1;
    int i, ok = 1, mono = 1;
    uint8_t ctr0[16];
    rawq q;

    memcpy(ctr0, d->ctr_data, 16);
    if (cache)
        CU_ASSERT_EQUAL_FATAL(pa_keycache_init(16), PA_OK);
    /* positions 0..15, distinct signatures */
    memset(w, 0, sizeof w);
    pthread_barrier_init(&start, NULL, NTHREADS);
    for (i = 0; i < NTHREADS; i++) {
        sign(d, PA_SIG_POSSESSION, 1, &w[i].sig);
        CU_ASSERT_EQUAL(w[i].sig.counter, i);
        w[i].start = &start;
        w[i].id = id;
        w[i].key = app.key;
    }
    for (i = 0; i < NTHREADS; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&w[i].th, NULL, worker_run, &w[i]), 0);
    for (i = 0; i < NTHREADS; i++)
        pthread_join(w[i].th, NULL);
    pthread_barrier_destroy(&start);
    for (i = 0; i < NTHREADS; i++) {
        CU_ASSERT_EQUAL(w[i].open_e, PA_OK);
        CU_ASSERT_EQUAL(w[i].e, PA_OK);
        if (w[i].valid) {
            nvalid++;
            if (i > max_pos)
                max_pos = i;
        }
    }
    CU_ASSERT(nvalid >= 1);
    /* every attempt audited; the valid rows are exactly the valid answers,
     * each at its own position (counter after = position + 1), and the
     * counter never moves backwards in commit order */
    CU_ASSERT_EQUAL(n_audit(id), NTHREADS);
    CU_ASSERT_EQUAL(q_int("SELECT count(*) FROM pa_signature_audit"
                          " WHERE activation_id = ?1 AND valid = 1", id), nvalid);
    CU_ASSERT_EQUAL(q_int("SELECT count(DISTINCT activation_counter) FROM"
                          " pa_signature_audit WHERE activation_id = ?1"
                          " AND valid = 1", id), nvalid);
    if (raw_open(&q, 0, "SELECT signature, valid, activation_counter, note"
                        " FROM pa_signature_audit WHERE activation_id = ?1"
                        " ORDER BY id", id, NULL)) {
        while (sqlite3_step(q.st) == SQLITE_ROW) {
            const char *sig = (const char *)sqlite3_column_text(q.st, 0);
            int valid = sqlite3_column_int(q.st, 1);
            long long c = sqlite3_column_int64(q.st, 2);
            const char *note = (const char *)sqlite3_column_text(q.st, 3);
            int k = -1;

            for (i = 0; i < NTHREADS; i++)
                if (sig && strcmp(sig, w[i].sig.signature) == 0)
                    k = i;
            if (k < 0 || valid != w[k].valid
                || (valid && (c != k + 1 || c <= prev))
                || (!valid && c <= k)       /* refused: already past it */
                || c < prev
                || strcmp(note, valid ? "signature_ok"
                                      : "signature_does_not_match") != 0)
                ok = 0;
            if (c < prev)
                mono = 0;
            prev = c;
        }
        raw_close(&q);
    } else {
        ok = 0;
    }
    CU_ASSERT_TRUE(ok);
    CU_ASSERT_TRUE(mono);
    /* final counter = highest accepted position + 1, ctrData that many
     * steps from the initial one */
    {
        pa_device_signature s;
        pa_sig_res r;
        long long j;

        for (j = 0; j <= max_pos; j++)
            CU_ASSERT_EQUAL(pa_sig_ctr_next(ctr0, ctr0), PA_OK);
        pa_b64_encode(ctr0, 16, sigctr);
        EXPECT_ACT(id, 0, 0, max_pos + 1, sigctr, 0, PA_STATUS_ACTIVE, NULL, 3);
        /* whatever the server holds, the next signature still verifies */
        sign(d, PA_SIG_POSSESSION_KNOWLEDGE, 1, &s);
        CU_ASSERT_EQUAL(verify_sig(id, d, &s, &r), PA_OK);
        EXPECT_VALID_RES(&r, PA_SIG_POSSESSION_KNOWLEDGE, 5);
        pa_sig_res_free(&r);
        pa_device_signature_free(&s);
        EXPECT_ACT(id, 0, 0, NTHREADS + 1, dev_ctr(d, sigctr), 0,
                   PA_STATUS_ACTIVE, NULL, 3);
    }
    for (i = 0; i < NTHREADS; i++)
        pa_device_signature_free(&w[i].sig);
    if (cache)
        pa_keycache_free();
    pa_device_free(d);
}

static void test_concurrent(void)
{
    concurrent_with(0);
}

static void test_concurrent_cached(void)
{
    concurrent_with(1);
}

/* ---- SignatureAudit and additional_info parsing ---------------------------------- */

static void test_audit_list_and_info(void)
{
    char id[PA_UUID_BUF];
    pa_device *d = active("walt", "3.1", id);
    pa_device_signature s;
    pa_sig_res r;
    pa_store_audit_array arr;
    char **k = NULL, **v = NULL;
    size_t n = 0;
    int i;

    sign(d, PA_SIG_POSSESSION_KNOWLEDGE, 1, &s);
    CU_ASSERT_EQUAL(verify_sig(id, d, &s, &r), PA_OK);
    pa_sig_res_free(&r);
    for (i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL(verify_sig(id, d, &s, &r), PA_OK);
        pa_sig_res_free(&r);
    }
    pa_device_signature_free(&s);
    CU_ASSERT_EQUAL(pa_signature_audit(&env, "walt", 0, 0, 0, INT64_MAX, &arr),
                    PA_OK);
    CU_ASSERT_EQUAL(arr.count, 6);
    if (arr.count == 6) {
        /* newest first: the blocking attempt */
        CU_ASSERT_STRING_EQUAL(arr.items[0].additional_info, INFO_BLOCKED);
        CU_ASSERT_EQUAL(arr.items[0].activation_status, PA_STATUS_BLOCKED);
        CU_ASSERT_STRING_EQUAL(arr.items[0].user_id, "walt");
        CU_ASSERT_EQUAL(arr.items[0].application_id, app.id);
        CU_ASSERT_TRUE(arr.items[5].valid);
        CU_ASSERT_STRING_EQUAL(arr.items[5].note, "signature_ok");
        pa_signature_info_parse(arr.items[0].additional_info, &k, &v, &n);
        CU_ASSERT_EQUAL(n, 1);
        if (n == 1) {
            CU_ASSERT_STRING_EQUAL(k[0], "BLOCKED_REASON");
            CU_ASSERT_STRING_EQUAL(v[0], "MAX_FAILED_ATTEMPTS");
        }
        pa_signature_info_free(k, v, n);
        pa_signature_info_parse(arr.items[5].additional_info, &k, &v, &n);
        CU_ASSERT_EQUAL(n, 0);
        pa_signature_info_free(k, v, n);
    }
    pa_store_audit_array_free(&arr);
    CU_ASSERT_EQUAL(pa_signature_audit(&env, "walt", 1, other.id, 0, INT64_MAX,
                                       &arr), PA_OK);
    CU_ASSERT_EQUAL(arr.count, 0);
    pa_store_audit_array_free(&arr);
    /* NULL, empty, unparsable: no entries */
    pa_signature_info_parse(NULL, &k, &v, &n);
    CU_ASSERT_EQUAL(n, 0);
    pa_signature_info_free(k, v, n);
    pa_signature_info_parse("", &k, &v, &n);
    CU_ASSERT_EQUAL(n, 0);
    pa_signature_info_free(k, v, n);
    pa_signature_info_parse("{\"entry\":", &k, &v, &n);
    CU_ASSERT_EQUAL(n, 0);
    pa_signature_info_free(k, v, n);
    pa_signature_info_parse("{\"entry\":[{\"key\":\"A\",\"value\":\"1\"},"
                            "{\"key\":\"B\",\"value\":\"2\"}]}", &k, &v, &n);
    CU_ASSERT_EQUAL(n, 2);
    if (n == 2) {
        CU_ASSERT_STRING_EQUAL(k[1], "B");
        CU_ASSERT_STRING_EQUAL(v[1], "2");
    }
    pa_signature_info_free(k, v, n);
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
        {"each type, 3.0 DECIMAL", test_types_30},
        {"each type, 3.1 BASE64", test_types_31},
        {"signatureVersion strings", test_version_strings},
        {"protocol 2, numeric counter", test_v2_numeric},
        {"forced version 3 (upgrade)", test_forced_upgrade},
        {"lookahead 20", test_lookahead_20},
        {"lookahead 3", test_lookahead_3},
        {"possession-only rules", test_possession_rules},
        {"lock-out", test_lockout},
        {"unknown activation", test_unknown_activation},
        {"ERR0013", test_err0013},
        {"ERR0008", test_err0008},
        {"wrong application key", test_wrong_application_key},
        {"wrong application key, CREATED/REMOVED", test_wrong_key_any_state},
        {"offline", test_offline},
        {"offline, protocol 2", test_offline_v2},
        {"vault unlock: valid", test_vault_valid},
        {"vault unlock: invalid, lock-out", test_vault_invalid},
        {"vault unlock: ERR0012, ERR0011", test_vault_faults},
        {"vault unlock: no writes", test_vault_no_write},
        {"key cache", test_keycache},
        {"key cache, one slot", test_keycache_one_slot},
        {"16 threads, one activation", test_concurrent},
        {"16 threads, one activation, key cache", test_concurrent_cached},
        {"SignatureAudit, additional_info", test_audit_list_and_info},
    };
    CU_pSuite s;
    unsigned failed;
    size_t i;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite_with_setup_and_teardown("signature service", NULL, NULL,
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
