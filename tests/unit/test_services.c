/*
 * test_services.c - unit tests of the application, integration and
 * callback services (src/service/), the WS-Security check (src/auth/) and
 * the error catalogue (src/service/errors.c).
 *
 * Every test runs on a fresh migrated SQLite file in its own temporary
 * directory.  Facts are checked independently of the code under test where
 * it matters: row counts and stored values are read with raw SQL, key
 * material is decoded and checked with OpenSSL directly, WS-Security
 * digests are computed here with OpenSSL's SHA-1, and the English error
 * texts are compared with shared/contract/error-codes.tsv.
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
#include <openssl/obj_mac.h>
#include <openssl/sha.h>
#include <sqlite3.h>

#include "auth/auth.h"
#include "util/timeutil.h"
#include "service/replay.h"
#include "crypto/eckey.h"
#include "service/application.h"
#include "service/callback.h"
#include "service/errors.h"
#include "service/integration.h"
#include "soap/pasoap.h"
#include "store/store.h"
#include "tests/unit/tempdb.h"
#include "util/config.h"
#include "util/err.h"
#include "util/uuid.h"

static char dir[PATH_MAX - 64];
static char path[PATH_MAX];
static pa_store *db;

/* ---- fixtures ------------------------------------------------------------ */

static void setup(void)
{
    pa_tempdb_make("pa-svc", dir, sizeof dir, path, sizeof path);
    if (pa_store_migrate(path, NULL) != PA_OK ||
        pa_store_open(path, NULL, &db) != PA_OK) {
        fprintf(stderr, "setup: %s\n", pa_store_last_error());
        abort();
    }
}

static void teardown(void)
{
    pa_store_close(db);
    db = NULL;
    pa_tempdb_remove(dir, path);
}

/* ---- independent helpers ---------------------------------------------------- */

/* The single integer answer of a query on a separate raw connection, with
 * an optional text or integer parameter; -1 on failure. */
static long long q_int(const char *sql, const char *text, long long num)
{
    sqlite3 *c = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;

    if (sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK) {
        if (text)
            sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
        else if (sqlite3_bind_parameter_count(st) > 0)
            sqlite3_bind_int64(st, 1, num);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(c);
    return v;
}

/* Same, a text answer copied into buf ("" on failure). */
static void q_text(const char *sql, long long num, char *buf, size_t len)
{
    sqlite3 *c = NULL;
    sqlite3_stmt *st = NULL;

    buf[0] = '\0';
    if (sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, num);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    sqlite3_close(c);
}

static long long count(const char *table)
{
    char sql[128];

    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    return q_int(sql, NULL, 0);
}

/* Base64 decoding with OpenSSL (not the project's codec); -1 when the
 * text is not a whole number of padded quads. */
static int ossl_b64_decode(const char *in, unsigned char *out, size_t cap)
{
    size_t n = strlen(in);
    int len, pad = 0;

    if (n == 0 || n % 4 != 0 || n / 4 * 3 > cap)
        return -1;
    if (in[n - 1] == '=')
        pad++;
    if (in[n - 2] == '=')
        pad++;
    len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
    return len < 0 ? -1 : len - pad;
}

/* priv (BigInteger bytes) * G on P-256, uncompressed, compared with pub. */
static int priv_matches_pub(const unsigned char *priv, int privlen,
                            const unsigned char *pub, int publen)
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    EC_POINT *p = g ? EC_POINT_new(g) : NULL;
    BIGNUM *k = BN_bin2bn(priv, privlen, NULL);
    unsigned char oct[65];
    size_t n = 0;
    int ok = 0;

    if (g && p && k && EC_POINT_mul(g, p, k, NULL, NULL, NULL) == 1)
        n = EC_POINT_point2oct(g, p, POINT_CONVERSION_UNCOMPRESSED, oct,
                               sizeof oct, NULL);
    ok = n == 65 && publen == 65 && memcmp(oct, pub, 65) == 0;
    BN_clear_free(k);
    EC_POINT_free(p);
    EC_GROUP_free(g);
    return ok;
}

/* ---- applications -------------------------------------------------------------- */

static void test_create_application(void)
{
    unsigned char pub[80], priv[48], raw[32];
    char buf[512], sql_name[300];
    pa_app_detail d;
    pa_eckey *k = NULL;
    int64_t id = 0;
    int publen, privlen;

    CU_ASSERT_EQUAL_FATAL(pa_application_create(db, "bank-app", &id), PA_OK);
    CU_ASSERT(id > 0);
    CU_ASSERT_EQUAL(count("pa_application"), 1);
    CU_ASSERT_EQUAL(count("pa_master_keypair"), 1);
    CU_ASSERT_EQUAL(count("pa_application_version"), 1);

    CU_ASSERT_EQUAL_FATAL(pa_application_detail(db, 1, id, NULL, &d), PA_OK);
    CU_ASSERT_EQUAL(d.app.id, id);
    CU_ASSERT_STRING_EQUAL(d.app.name, "bank-app");
    /* master public key: 65-byte uncompressed point that parses */
    CU_ASSERT_FATAL(d.master_public_key != NULL);
    publen = ossl_b64_decode(d.master_public_key, pub, sizeof pub);
    CU_ASSERT_EQUAL(publen, 65);
    CU_ASSERT_EQUAL(pub[0], 0x04);
    CU_ASSERT_EQUAL(pa_ec_pub_import_b64(d.master_public_key, &k), PA_OK);
    pa_ec_free(k);
    /* the stored private key belongs to it: priv * G == pub */
    q_text("SELECT master_key_private_base64 FROM pa_master_keypair"
           " WHERE application_id = ?1", id, buf, sizeof buf);
    privlen = ossl_b64_decode(buf, priv, sizeof priv);
    CU_ASSERT(privlen >= 1 && privlen <= 33);
    CU_ASSERT(privlen < 1 || (priv[0] & 0x80) == 0);   /* BigInteger: positive */
    CU_ASSERT(priv_matches_pub(priv, privlen, pub, publen));
    q_text("SELECT name FROM pa_master_keypair WHERE application_id = ?1", id,
           sql_name, sizeof sql_name);
    CU_ASSERT_STRING_EQUAL(sql_name, "bank-app Default Keypair");
    /* the default version */
    CU_ASSERT_EQUAL_FATAL(d.versions.count, 1);
    CU_ASSERT(d.versions.items[0].id > 0);
    CU_ASSERT_EQUAL(d.versions.items[0].application_id, id);
    CU_ASSERT_STRING_EQUAL(d.versions.items[0].name, "default");
    CU_ASSERT_EQUAL(d.versions.items[0].supported, 1);
    CU_ASSERT_EQUAL(ossl_b64_decode(d.versions.items[0].application_key, raw,
                                    sizeof raw), 16);
    CU_ASSERT_EQUAL(ossl_b64_decode(d.versions.items[0].application_secret, raw,
                                    sizeof raw), 16);
    CU_ASSERT_STRING_NOT_EQUAL(d.versions.items[0].application_key,
                               d.versions.items[0].application_secret);
    CU_ASSERT_EQUAL(q_int("SELECT supported FROM pa_application_version"
                          " WHERE application_id = ?1", NULL, id), 1);
    pa_application_detail_free(&d);
    CU_ASSERT_PTR_NULL(d.master_public_key);
}

static void test_duplicate_name_refused(void)
{
    int64_t id = 0, id2 = 77;

    CU_ASSERT_EQUAL_FATAL(pa_application_create(db, "dup", &id), PA_OK);
    CU_ASSERT_EQUAL(pa_application_create(db, "dup", &id2), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(id2, 0);
    CU_ASSERT_EQUAL(count("pa_application"), 1);
    CU_ASSERT_EQUAL(count("pa_master_keypair"), 1);
    CU_ASSERT_EQUAL(count("pa_application_version"), 1);
    /* the store is usable afterwards (the transaction was closed) */
    CU_ASSERT_EQUAL(pa_application_create(db, "Dup", &id2), PA_OK);
    CU_ASSERT_EQUAL(count("pa_application"), 2);
    CU_ASSERT_EQUAL(count("pa_master_keypair"), 2);
    CU_ASSERT_EQUAL(count("pa_application_version"), 2);
    CU_ASSERT_EQUAL(pa_application_create(db, NULL, &id2), PA_ERR_INVALID_REQUEST);
}

static void test_empty_name_accepted(void)
{
    char name[64];
    pa_app_detail d;
    int64_t id = 0;

    CU_ASSERT_EQUAL_FATAL(pa_application_create(db, "", &id), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_application_detail(db, 0, 0, "", &d), PA_OK);
    CU_ASSERT_EQUAL(d.app.id, id);
    CU_ASSERT_STRING_EQUAL(d.app.name, "");
    pa_application_detail_free(&d);
    q_text("SELECT name FROM pa_master_keypair WHERE application_id = ?1", id,
           name, sizeof name);
    CU_ASSERT_STRING_EQUAL(name, " Default Keypair");
}

static void test_detail_by_name_and_errors(void)
{
    pa_app_detail d;
    int64_t a = 0, b = 0;

    CU_ASSERT_EQUAL_FATAL(pa_application_create(db, "first", &a), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_application_create(db, "second", &b), PA_OK);
    CU_ASSERT_NOT_EQUAL(a, b);
    CU_ASSERT_EQUAL_FATAL(pa_application_detail(db, 0, 0, "second", &d), PA_OK);
    CU_ASSERT_EQUAL(d.app.id, b);
    CU_ASSERT_STRING_EQUAL(d.app.name, "second");
    CU_ASSERT_EQUAL(d.versions.count, 1);
    CU_ASSERT_EQUAL(d.versions.items[0].application_id, b);
    pa_application_detail_free(&d);
    /* names compare exactly */
    CU_ASSERT_EQUAL(pa_application_detail(db, 0, 0, "Second", &d),
                    PA_ERR_INVALID_APPLICATION);
    CU_ASSERT_EQUAL(pa_application_detail(db, 1, b + 100, NULL, &d),
                    PA_ERR_INVALID_APPLICATION);
    CU_ASSERT_PTR_NULL(d.app.name);
    /* neither, or both */
    CU_ASSERT_EQUAL(pa_application_detail(db, 0, 0, NULL, &d), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_application_detail(db, 1, a, "first", &d), PA_ERR_INVALID_REQUEST);
}

static void test_application_list(void)
{
    pa_store_application_array arr;
    int64_t a = 0, b = 0;

    CU_ASSERT_EQUAL_FATAL(pa_application_list(db, &arr), PA_OK);
    CU_ASSERT_EQUAL(arr.count, 0);
    pa_store_application_array_free(&arr);
    CU_ASSERT_EQUAL_FATAL(pa_application_create(db, "zz", &a), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_application_create(db, "aa", &b), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_application_list(db, &arr), PA_OK);
    CU_ASSERT_EQUAL_FATAL(arr.count, 2);
    CU_ASSERT_EQUAL(arr.items[0].id, a);
    CU_ASSERT_STRING_EQUAL(arr.items[0].name, "zz");
    CU_ASSERT_EQUAL(arr.items[1].id, b);
    CU_ASSERT_STRING_EQUAL(arr.items[1].name, "aa");
    pa_store_application_array_free(&arr);
}

static void test_lookup_by_key(void)
{
    pa_app_detail d;
    int64_t a = 0, b = 0, got = 0;

    CU_ASSERT_EQUAL_FATAL(pa_application_create(db, "one", &a), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_application_create(db, "two", &b), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_application_detail(db, 1, b, NULL, &d), PA_OK);
    CU_ASSERT_EQUAL(pa_application_lookup_by_key(db, d.versions.items[0].application_key,
                                                 &got), PA_OK);
    CU_ASSERT_EQUAL(got, b);
    /* an unsupported version's key still names its application */
    CU_ASSERT_EQUAL(pa_application_version_support(db, d.versions.items[0].id, 0), PA_OK);
    got = 0;
    CU_ASSERT_EQUAL(pa_application_lookup_by_key(db, d.versions.items[0].application_key,
                                                 &got), PA_OK);
    CU_ASSERT_EQUAL(got, b);
    pa_application_detail_free(&d);
    CU_ASSERT_EQUAL(pa_application_lookup_by_key(db, "AAAAAAAAAAAAAAAAAAAAAA==", &got),
                    PA_ERR_INVALID_APPLICATION);
    CU_ASSERT_EQUAL(pa_application_lookup_by_key(db, NULL, &got), PA_ERR_INVALID_REQUEST);
}

static void test_version_create(void)
{
    pa_store_version v;
    pa_app_detail d;
    unsigned char raw[32];
    int64_t a = 0;

    CU_ASSERT_EQUAL_FATAL(pa_application_create(db, "app", &a), PA_OK);
    CU_ASSERT_EQUAL(pa_application_version_create(db, a + 1, "1.0", &v),
                    PA_ERR_INVALID_APPLICATION);
    CU_ASSERT_EQUAL(count("pa_application_version"), 1);
    CU_ASSERT_EQUAL(pa_application_version_create(db, a, NULL, &v),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(count("pa_application_version"), 1);

    CU_ASSERT_EQUAL_FATAL(pa_application_version_create(db, a, "1.0", &v), PA_OK);
    CU_ASSERT(v.id > 0);
    CU_ASSERT_EQUAL(v.application_id, a);
    CU_ASSERT_STRING_EQUAL(v.name, "1.0");
    CU_ASSERT_EQUAL(v.supported, 1);
    CU_ASSERT_EQUAL(ossl_b64_decode(v.application_key, raw, sizeof raw), 16);
    CU_ASSERT_EQUAL(ossl_b64_decode(v.application_secret, raw, sizeof raw), 16);
    CU_ASSERT_EQUAL(count("pa_application_version"), 2);
    CU_ASSERT_EQUAL(q_int("SELECT count(*) FROM pa_application_version WHERE"
                          " application_key = ?1 AND supported = 1", v.application_key, 0), 1);

    CU_ASSERT_EQUAL_FATAL(pa_application_detail(db, 1, a, NULL, &d), PA_OK);
    CU_ASSERT_EQUAL_FATAL(d.versions.count, 2);
    CU_ASSERT_STRING_EQUAL(d.versions.items[0].name, "default");
    CU_ASSERT_EQUAL(d.versions.items[1].id, v.id);
    CU_ASSERT_STRING_EQUAL(d.versions.items[1].application_key, v.application_key);
    CU_ASSERT_STRING_EQUAL(d.versions.items[1].application_secret, v.application_secret);
    CU_ASSERT_STRING_NOT_EQUAL(d.versions.items[0].application_key, v.application_key);
    pa_application_detail_free(&d);
    pa_store_version_free(&v);
}

/* Runs one statement on a separate raw connection (as pactl would, from
 * another process); 0 on success. */
static int raw_exec(const char *sql)
{
    sqlite3 *c = NULL;
    int rc = sqlite3_open_v2(path, &c, SQLITE_OPEN_READWRITE, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_exec(c, sql, NULL, NULL, NULL);
    sqlite3_close(c);
    return rc;
}

/* GetApplicationDetail is cached per connection; every change - another
 * process, another connection of this one, this connection itself - is
 * seen at once, and what the caller gets is its own copy. */
static void test_detail_cache_never_stale(void)
{
    pa_store *other = NULL;
    pa_store_version v;
    pa_app_detail d;
    char sql[256];
    int64_t a = 0;

    CU_ASSERT_EQUAL_FATAL(pa_application_create(db, "cached", &a), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_application_detail(db, 1, a, NULL, &d), PA_OK);
    CU_ASSERT_EQUAL_FATAL(d.versions.count, 1);
    /* scribbling over the answer does not reach the cache */
    d.app.name[0] = 'X';
    d.versions.items[0].supported = 0;
    pa_application_detail_free(&d);
    CU_ASSERT_EQUAL_FATAL(pa_application_detail(db, 0, 0, "cached", &d), PA_OK);
    CU_ASSERT_STRING_EQUAL(d.app.name, "cached");
    CU_ASSERT_EQUAL(d.versions.items[0].supported, 1);
    pa_application_detail_free(&d);

    /* another process */
    snprintf(sql, sizeof sql, "UPDATE pa_application_version SET supported = 0"
             " WHERE application_id = %lld", (long long)a);
    CU_ASSERT_EQUAL_FATAL(raw_exec(sql), SQLITE_OK);
    CU_ASSERT_EQUAL_FATAL(pa_application_detail(db, 1, a, NULL, &d), PA_OK);
    CU_ASSERT_EQUAL(d.versions.items[0].supported, 0);
    pa_application_detail_free(&d);
    snprintf(sql, sizeof sql, "UPDATE pa_application SET name = 'renamed' WHERE id = %lld",
             (long long)a);
    CU_ASSERT_EQUAL_FATAL(raw_exec(sql), SQLITE_OK);
    CU_ASSERT_EQUAL(pa_application_detail(db, 0, 0, "cached", &d), PA_ERR_INVALID_APPLICATION);
    CU_ASSERT_EQUAL_FATAL(pa_application_detail(db, 1, a, NULL, &d), PA_OK);
    CU_ASSERT_STRING_EQUAL(d.app.name, "renamed");
    pa_application_detail_free(&d);

    /* this connection */
    CU_ASSERT_EQUAL_FATAL(pa_application_detail(db, 1, a, NULL, &d), PA_OK);
    CU_ASSERT_EQUAL(pa_application_version_support(db, d.versions.items[0].id, 1), PA_OK);
    pa_application_detail_free(&d);
    CU_ASSERT_EQUAL_FATAL(pa_application_detail(db, 1, a, NULL, &d), PA_OK);
    CU_ASSERT_EQUAL(d.versions.items[0].supported, 1);
    pa_application_detail_free(&d);

    /* another connection of this process */
    CU_ASSERT_EQUAL_FATAL(pa_store_open(path, NULL, &other), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_application_version_create(other, a, "2.0", &v), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_application_detail(db, 1, a, NULL, &d), PA_OK);
    CU_ASSERT_EQUAL_FATAL(d.versions.count, 2);
    CU_ASSERT_STRING_EQUAL(d.versions.items[1].application_secret, v.application_secret);
    pa_application_detail_free(&d);
    pa_store_version_free(&v);
    pa_store_close(other);
}

static void test_support_unsupport(void)
{
    pa_store_version v;
    int64_t a = 0;
    const char *sql = "SELECT supported FROM pa_application_version WHERE id = ?1";

    CU_ASSERT_EQUAL_FATAL(pa_application_create(db, "app", &a), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_application_version_create(db, a, "2", &v), PA_OK);
    CU_ASSERT_EQUAL(pa_application_version_support(db, v.id, 0), PA_OK);
    CU_ASSERT_EQUAL(q_int(sql, NULL, v.id), 0);
    CU_ASSERT_EQUAL(pa_application_version_support(db, v.id, 0), PA_OK);
    CU_ASSERT_EQUAL(q_int(sql, NULL, v.id), 0);
    CU_ASSERT_EQUAL(pa_application_version_support(db, v.id, 1), PA_OK);
    CU_ASSERT_EQUAL(q_int(sql, NULL, v.id), 1);
    /* the other version is untouched */
    CU_ASSERT_EQUAL(q_int("SELECT count(*) FROM pa_application_version"
                          " WHERE supported = 1", NULL, 0), 2);
    CU_ASSERT_EQUAL(pa_application_version_support(db, v.id + 1000, 1),
                    PA_ERR_INVALID_APPLICATION);
    CU_ASSERT_EQUAL(pa_application_version_support(db, v.id + 1000, 0),
                    PA_ERR_INVALID_APPLICATION);
    pa_store_version_free(&v);
}

/* ---- integrations ---------------------------------------------------------------- */

static void test_integration_create(void)
{
    pa_store_integration a, b;
    pa_store_integration_array arr;

    CU_ASSERT_EQUAL(pa_integration_create(db, NULL, &a), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(count("pa_integration"), 0);
    CU_ASSERT_EQUAL_FATAL(pa_integration_create(db, "middleware", &a), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_integration_create(db, "middleware", &b), PA_OK);
    CU_ASSERT_STRING_EQUAL(a.name, "middleware");
    CU_ASSERT(pa_uuid_is_v4(a.id));
    CU_ASSERT(pa_uuid_is_v4(a.client_token));
    CU_ASSERT(pa_uuid_is_v4(a.client_secret));
    CU_ASSERT_STRING_NOT_EQUAL(a.id, a.client_token);
    CU_ASSERT_STRING_NOT_EQUAL(a.id, a.client_secret);
    CU_ASSERT_STRING_NOT_EQUAL(a.client_token, a.client_secret);
    CU_ASSERT_STRING_NOT_EQUAL(a.id, b.id);
    CU_ASSERT_STRING_NOT_EQUAL(a.client_token, b.client_token);
    CU_ASSERT_STRING_NOT_EQUAL(a.client_secret, b.client_secret);
    CU_ASSERT_EQUAL(q_int("SELECT count(*) FROM pa_integration WHERE id = ?1",
                          a.id, 0), 1);

    CU_ASSERT_EQUAL_FATAL(pa_integration_list(db, &arr), PA_OK);
    CU_ASSERT_EQUAL_FATAL(arr.count, 2);
    CU_ASSERT_STRING_EQUAL(arr.items[0].id, a.id);
    CU_ASSERT_STRING_EQUAL(arr.items[0].client_token, a.client_token);
    CU_ASSERT_STRING_EQUAL(arr.items[0].client_secret, a.client_secret);
    CU_ASSERT_STRING_EQUAL(arr.items[1].id, b.id);
    pa_store_integration_array_free(&arr);
    pa_store_integration_free(&a);
    pa_store_integration_free(&b);
}

static void test_integration_remove(void)
{
    pa_store_integration a;
    int removed = 9;

    CU_ASSERT_EQUAL_FATAL(pa_integration_create(db, "x", &a), PA_OK);
    CU_ASSERT_EQUAL(pa_integration_remove(db, a.id, &removed), PA_OK);
    CU_ASSERT_EQUAL(removed, 1);
    CU_ASSERT_EQUAL(count("pa_integration"), 0);
    CU_ASSERT_EQUAL(pa_integration_remove(db, a.id, &removed), PA_OK);
    CU_ASSERT_EQUAL(removed, 0);
    CU_ASSERT_EQUAL(pa_integration_remove(db, NULL, &removed), PA_ERR_INVALID_REQUEST);
    pa_store_integration_free(&a);
}

/* ---- callback URLs ------------------------------------------------------------------ */

static const char *const good_urls[] = {
    "http://a", "https://bank.example/cb", "http://10.0.0.1:8080/x?y=1",
    "HTTPS://Bank.Example:443/", "http://[::1]:8080/cb", "http://[2001:db8::7]",
    "http://user:pw@host.example/p#frag", "http://a:65535", "http://a:1/",
    "http://a/ünïcode/path", "http://a?q", "http://a#f",
};

static const char *const bad_urls[] = {
    "", "foo", "http://", "http:// a", "://x", "javascript:alert(1)",
    "http://a:99999", "http://a:0", "http://a:-1", "http://a:8x", "http:/a",
    "http:a", "ftp://a/x", "file:///etc/passwd", "mailto:a@b", "http://a b/",
    "http://a/\r\nX: y", "http://a/\tb", "http://[::1", "http://[zz]/",
    "http://@/", "http://a@/x", "http://ä.example/", "http://a\x7f/", "https:",
    " http://a", "http://a ",
};

static void test_url_table(void)
{
    size_t i;

    for (i = 0; i < sizeof good_urls / sizeof *good_urls; i++) {
        if (!pa_callback_url_valid(good_urls[i]))
            fprintf(stderr, "\n  refused good URL: %s\n", good_urls[i]);
        CU_ASSERT(pa_callback_url_valid(good_urls[i]));
    }
    for (i = 0; i < sizeof bad_urls / sizeof *bad_urls; i++) {
        if (pa_callback_url_valid(bad_urls[i]))
            fprintf(stderr, "\n  accepted bad URL: %s\n", bad_urls[i]);
        CU_ASSERT(!pa_callback_url_valid(bad_urls[i]));
    }
    CU_ASSERT(!pa_callback_url_valid(NULL));
}

static void test_callback_create(void)
{
    pa_store_callback cb;
    int64_t a = 0;
    size_t i;

    CU_ASSERT_EQUAL_FATAL(pa_application_create(db, "app", &a), PA_OK);
    /* the brief's table, through the service: ERR0014, nothing written */
    for (i = 0; i < sizeof bad_urls / sizeof *bad_urls; i++)
        CU_ASSERT_EQUAL(pa_callback_create(db, a, "n", bad_urls[i], &cb),
                        PA_ERR_INVALID_URL_FORMAT);
    CU_ASSERT_EQUAL(count("pa_application_callback"), 0);
    CU_ASSERT_EQUAL(pa_callback_create(db, a, NULL, "http://a", &cb), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_callback_create(db, a, "n", NULL, &cb), PA_ERR_INVALID_REQUEST);
    /* unknown application: ERR0015 before anything is written */
    CU_ASSERT_EQUAL(pa_callback_create(db, a + 1, "n", "http://a", &cb),
                    PA_ERR_INVALID_APPLICATION);
    CU_ASSERT_EQUAL(count("pa_application_callback"), 0);

    CU_ASSERT_EQUAL_FATAL(pa_callback_create(db, a, "cb", "https://bank.example/cb", &cb),
                          PA_OK);
    CU_ASSERT(pa_uuid_is_v4(cb.id));
    CU_ASSERT_EQUAL(cb.application_id, a);
    CU_ASSERT_STRING_EQUAL(cb.name, "cb");
    CU_ASSERT_STRING_EQUAL(cb.url, "https://bank.example/cb");
    CU_ASSERT_EQUAL(q_int("SELECT application_id FROM pa_application_callback"
                          " WHERE id = ?1", cb.id, 0), a);
    pa_store_callback_free(&cb);
    for (i = 0; i < sizeof good_urls / sizeof *good_urls; i++) {
        CU_ASSERT_EQUAL(pa_callback_create(db, a, "g", good_urls[i], &cb), PA_OK);
        pa_store_callback_free(&cb);
    }
    CU_ASSERT_EQUAL(count("pa_application_callback"),
                    1 + (long long)(sizeof good_urls / sizeof *good_urls));
}

static void test_callback_list_and_remove(void)
{
    static const char *const names[] = { "bravo", "alpha", "charlie" };
    pa_store_callback cb, other;
    pa_store_callback_array arr;
    char first_id[PA_UUID_BUF] = "";
    int64_t a = 0, b = 0;
    int removed = 9;
    size_t i;

    CU_ASSERT_EQUAL_FATAL(pa_application_create(db, "a", &a), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_application_create(db, "b", &b), PA_OK);
    for (i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL_FATAL(pa_callback_create(db, a, names[i], "http://h/", &cb), PA_OK);
        if (i == 0)
            snprintf(first_id, sizeof first_id, "%s", cb.id);
        pa_store_callback_free(&cb);
    }
    CU_ASSERT_EQUAL_FATAL(pa_callback_create(db, b, "aaa", "http://o/", &other), PA_OK);

    CU_ASSERT_EQUAL_FATAL(pa_callback_list(db, a, &arr), PA_OK);
    CU_ASSERT_EQUAL_FATAL(arr.count, 3);
    CU_ASSERT_STRING_EQUAL(arr.items[0].name, "alpha");
    CU_ASSERT_STRING_EQUAL(arr.items[1].name, "bravo");
    CU_ASSERT_STRING_EQUAL(arr.items[2].name, "charlie");
    CU_ASSERT_STRING_EQUAL(arr.items[1].id, first_id);
    for (i = 0; i < arr.count; i++) {
        CU_ASSERT_EQUAL(arr.items[i].application_id, a);
        CU_ASSERT_STRING_EQUAL(arr.items[i].url, "http://h/");
    }
    pa_store_callback_array_free(&arr);
    CU_ASSERT_EQUAL(pa_callback_list(db, b + 50, &arr), PA_OK);
    CU_ASSERT_EQUAL(arr.count, 0);
    pa_store_callback_array_free(&arr);

    CU_ASSERT_EQUAL(pa_callback_remove(db, first_id, &removed), PA_OK);
    CU_ASSERT_EQUAL(removed, 1);
    CU_ASSERT_EQUAL(count("pa_application_callback"), 3);
    CU_ASSERT_EQUAL(pa_callback_remove(db, first_id, &removed), PA_OK);
    CU_ASSERT_EQUAL(removed, 0);
    CU_ASSERT_EQUAL(pa_callback_remove(db, NULL, &removed), PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL_FATAL(pa_callback_list(db, b, &arr), PA_OK);
    CU_ASSERT_EQUAL(arr.count, 1);
    CU_ASSERT_STRING_EQUAL(arr.items[0].id, other.id);
    pa_store_callback_array_free(&arr);
    pa_store_callback_free(&other);
}

/* ---- WS-Security ------------------------------------------------------------------------ */

#define TYPE_TEXT "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
#define TYPE_DIGEST "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
#define ENC_B64 "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"

/* Base64(SHA-1(nonce || created || password)) with OpenSSL only. */
static void ossl_digest(const char *nonce_b64, const char *created,
                        const char *password, char out[64])
{
    unsigned char nonce[64], md[SHA_DIGEST_LENGTH];
    int nlen = ossl_b64_decode(nonce_b64, nonce, sizeof nonce);
    EVP_MD_CTX *c = EVP_MD_CTX_new();

    EVP_DigestInit_ex(c, EVP_sha1(), NULL);
    EVP_DigestUpdate(c, nonce, (size_t)(nlen > 0 ? nlen : 0));
    EVP_DigestUpdate(c, created, strlen(created));
    EVP_DigestUpdate(c, password, strlen(password));
    EVP_DigestFinal_ex(c, md, NULL);
    EVP_MD_CTX_free(c);
    EVP_EncodeBlock((unsigned char *)out, md, sizeof md);
}

static void test_wsse_text(void)
{
    pa_store_integration in;
    pa_auth_token t = { 0 };

    CU_ASSERT_EQUAL_FATAL(pa_integration_create(db, "mw", &in), PA_OK);
    t.username = in.client_token;
    t.password = in.client_secret;
    t.password_type = TYPE_TEXT;
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_OK);
    t.password_type = NULL;                       /* no Type = text */
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_OK);
    t.password = in.id;                           /* wrong password, same length */
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_ERR_INVALID_REQUEST);
    t.password = "";
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_ERR_INVALID_REQUEST);
    t.password = NULL;
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_ERR_INVALID_REQUEST);
    t.password = in.client_secret;
    t.username = in.id;                           /* unknown user */
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_ERR_INVALID_REQUEST);
    t.username = in.client_secret;                /* secret as user */
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_ERR_INVALID_REQUEST);
    t.username = NULL;
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_ERR_INVALID_REQUEST);
    t.username = in.client_token;
    t.password_type = "urn:example#Other";        /* unknown type */
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_ERR_INVALID_REQUEST);
    /* a removed integration no longer authenticates */
    {
        int removed = 0;

        t.password_type = TYPE_TEXT;
        CU_ASSERT_EQUAL(pa_integration_remove(db, in.id, &removed), PA_OK);
        CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_ERR_INVALID_REQUEST);
    }
    pa_store_integration_free(&in);
}

/* An integration whose stored secret is empty (imported or hand-edited
 * data) accepts no password at all, not even an empty one. */
static void test_wsse_empty_stored_secret(void)
{
    pa_auth_token t = { 0 };

    CU_ASSERT_EQUAL_FATAL(pa_store_integration_create(db,
                              "0b6f2f7c-3c1e-4f59-9f1e-2a7d4c6b8e01", "imported",
                              "c2d4e6f8-1a3b-4c5d-8e7f-9a0b1c2d3e4f", ""), PA_OK);
    t.username = "c2d4e6f8-1a3b-4c5d-8e7f-9a0b1c2d3e4f";
    t.password = "";
    t.password_type = TYPE_TEXT;
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_ERR_INVALID_REQUEST);
    t.password_type = NULL;
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_ERR_INVALID_REQUEST);
}

static void test_wsse_digest(void)
{
    const char *nonce = "q83vEjRWeJq8n3zN3q2+7w==";
    const char *created = "2026-11-24T08:00:00+00:00";
    pa_store_integration in;
    pa_auth_token t = { 0 };
    char digest[64];

    CU_ASSERT_EQUAL_FATAL(pa_integration_create(db, "mw", &in), PA_OK);
    ossl_digest(nonce, created, in.client_secret, digest);
    t.username = in.client_token;
    t.password = digest;
    t.password_type = TYPE_DIGEST;
    t.nonce = nonce;
    t.nonce_encoding = ENC_B64;
    t.created = created;
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_OK);
    t.nonce_encoding = NULL;                      /* no EncodingType: Base64 */
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_OK);
    /* the digest sent as if it were the clear password */
    t.password_type = TYPE_TEXT;
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_ERR_INVALID_REQUEST);
    t.password_type = TYPE_DIGEST;
    t.created = "2026-11-24T08:00:01+00:00";      /* other Created */
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_ERR_INVALID_REQUEST);
    t.created = created;
    t.nonce = "AAAAAAAAAAAAAAAAAAAAAA==";         /* other nonce */
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_ERR_INVALID_REQUEST);
    t.nonce = "not base64!";
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_ERR_INVALID_REQUEST);
    t.nonce = nonce;
    t.nonce_encoding = "urn:x#HexBinary";
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_ERR_INVALID_REQUEST);
    t.nonce_encoding = ENC_B64;
    /* digest made with a wrong password */
    ossl_digest(nonce, created, "wrong-password", digest);
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_ERR_INVALID_REQUEST);
    /* the clear secret sent with the digest type */
    t.password = in.client_secret;
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_ERR_INVALID_REQUEST);
    pa_store_integration_free(&in);
}

/* The digest zeep really sent (shared/clients/zeep/07), password from the
 * clients README. */
static void test_wsse_digest_fixture(void)
{
    pa_auth_token t = { 0 };

    CU_ASSERT_EQUAL_FATAL(pa_store_integration_create(db, "f", "fixture",
                                                      "mw-client-token",
                                                      "mw secret & <pw>"), PA_OK);
    t.username = "mw-client-token";
    t.password = "RdskGOQ2uQximaZMAFyCert+UME=";
    t.password_type = TYPE_DIGEST;
    t.nonce = "bQR/T1NY69p5Tyt9YzgIog==";
    t.nonce_encoding = ENC_B64;
    t.created = "2026-11-23T23:53:32+00:00";
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_OK);
    t.password = "mw secret & <pw>";
    t.password_type = TYPE_TEXT;
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_OK);
}

/* No constant can stand in for a secret: an unknown user, or an
 * integration with an empty stored secret, is refused whatever password
 * it sends - the value the code once compared unknown users against
 * included (deleting the "usable" rule used to let that value in). */
static void test_wsse_fail_closed(void)
{
    static const char old_fallback[] = "00000000-0000-4000-8000-000000000000";
    const char *nonce = "q83vEjRWeJq8n3zN3q2+7w==", *created = "2026-11-24T08:00:00Z";
    pa_auth_token t = { 0 };
    char digest[64];

    t.username = "no-such-client-token";
    t.password = old_fallback;
    t.password_type = TYPE_TEXT;
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_ERR_INVALID_REQUEST);
    t.password = "";
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_ERR_INVALID_REQUEST);
    ossl_digest(nonce, created, old_fallback, digest);
    t.password = digest;
    t.password_type = TYPE_DIGEST;
    t.nonce = nonce;
    t.created = created;
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_ERR_INVALID_REQUEST);
    /* an integration whose secret is empty, with the same values */
    CU_ASSERT_EQUAL_FATAL(pa_store_integration_create(db,
                              "5d0c1a8e-2b7f-4c3d-9e1a-6f4b8d2c0e13", "empty",
                              "e-empty-secret-token", ""), PA_OK);
    t.username = "e-empty-secret-token";
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_ERR_INVALID_REQUEST);
    t.password = old_fallback;
    t.password_type = TYPE_TEXT;
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_ERR_INVALID_REQUEST);
    t.password = "";
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, NULL), PA_ERR_INVALID_REQUEST);
}

/* The digest freshness and replay rules (WSS4J's): Nonce and Created
 * required, Created within [now - max age, now + skew], each pair once. */
static void test_wsse_digest_policy(void)
{
    const int64_t now = 1795000000000LL;           /* 2026-11-18T... */
    char created[PA_TIME_ISO_BUF], digest[64], nonce[32];
    pa_store_integration in;
    pa_auth_token t = { 0 };
    pa_auth_policy p = {now, 300000, 60000, NULL};
    pa_replay *cache = NULL;
    int64_t at[] = {now, now - 300000, now + 60000, now - 300001, now + 60001,
                    now - 365LL * 86400000, 4070908800000LL /* 2099 */};
    int want[] = {1, 1, 1, 0, 0, 0, 0};

    CU_ASSERT_EQUAL_FATAL(pa_replay_new(1000, &cache), PA_OK);
    p.replay = cache;
    CU_ASSERT_EQUAL_FATAL(pa_integration_create(db, "mw-policy", &in), PA_OK);
    t.username = in.client_token;
    t.password = digest;
    t.password_type = TYPE_DIGEST;
    t.created = created;
    t.nonce = nonce;
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        snprintf(nonce, sizeof nonce, "bm9uY2Utbm8tJXp1%04zu", i);
        CU_ASSERT_EQUAL(pa_time_format_iso(at[i], created), PA_OK);
        ossl_digest(nonce, created, in.client_secret, digest);
        CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, &p),
                        want[i] ? PA_OK : PA_ERR_INVALID_REQUEST);
        if (want[i])        /* the same pair again: a replay */
            CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, &p), PA_ERR_INVALID_REQUEST);
    }
    /* the same nonce with another Created is another pair */
    snprintf(nonce, sizeof nonce, "bm9uY2Utbm8tJXp1%04d", 0);
    CU_ASSERT_EQUAL(pa_time_format_iso(now - 1000, created), PA_OK);
    ossl_digest(nonce, created, in.client_secret, digest);
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, &p), PA_OK);
    /* a wrong digest takes no cache entry: the right one still passes */
    snprintf(nonce, sizeof nonce, "bm9uY2UtZnJlc2gx");
    CU_ASSERT_EQUAL(pa_time_format_iso(now - 2000, created), PA_OK);
    ossl_digest(nonce, created, "wrong", digest);
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, &p), PA_ERR_INVALID_REQUEST);
    ossl_digest(nonce, created, in.client_secret, digest);
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, &p), PA_OK);
    /* Nonce or Created missing, or Created not a timestamp */
    snprintf(nonce, sizeof nonce, "bm9uY2UtZnJlc2gy");
    t.nonce = NULL;
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, &p), PA_ERR_INVALID_REQUEST);
    t.nonce = nonce;
    t.created = NULL;
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, &p), PA_ERR_INVALID_REQUEST);
    t.created = "yesterday";
    ossl_digest(nonce, "yesterday", in.client_secret, digest);
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, &p), PA_ERR_INVALID_REQUEST);
    /* PasswordText needs none of it */
    t.password = in.client_secret;
    t.password_type = TYPE_TEXT;
    t.nonce = t.created = NULL;
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, &p), PA_OK);
    CU_ASSERT_EQUAL(pa_auth_check_token(db, &t, &p), PA_OK);
    pa_replay_free(cache);
    pa_store_integration_free(&in);
}

/* pa_auth_allow on a gSOAP context as the server sets it up. */
static struct soap *allow_ctx(pa_config *cfg, pa_ctx *ctx, int restricted)
{
    struct soap *soap = soap_new();

    CU_ASSERT_FATAL(soap != NULL);
    CU_ASSERT_FATAL(pa_config_defaults(cfg) == PA_OK);
    cfg->restrict_access = restricted;
    memset(ctx, 0, sizeof *ctx);
    ctx->cfg = cfg;
    ctx->store = db;
    pa_soap_setup(soap, ctx);
    return soap;
}

static void end_ctx(struct soap *soap, pa_config *cfg)
{
    soap_destroy(soap);
    soap_end(soap);
    soap_free(soap);
    pa_config_free(cfg);
}

static struct SOAP_ENV__Header *make_header(struct soap *soap, const char *user,
                                            const char *pw)
{
    struct SOAP_ENV__Header *h = pa_soap_alloc(soap, sizeof *h);

    h->wsse__Security = pa_soap_alloc(soap, sizeof *h->wsse__Security);
    h->wsse__Security->UsernameToken =
        pa_soap_alloc(soap, sizeof *h->wsse__Security->UsernameToken);
    h->wsse__Security->UsernameToken->Username = soap_strdup(soap, user);
    h->wsse__Security->UsernameToken->Password =
        pa_soap_alloc(soap, sizeof *h->wsse__Security->UsernameToken->Password);
    h->wsse__Security->UsernameToken->Password->__item = soap_strdup(soap, pw);
    h->wsse__Security->UsernameToken->Password->Type = TYPE_TEXT;
    return h;
}

/* The fault's code, string and detail XML, byte for byte, against the
 * texts of ../shared/contract/error-codes.tsv (copied here, not taken from
 * the catalogue under test). */
/* A request's dateTime in milliseconds: exact in range; far beyond it
 * (a year of tens of millions, found by scripts/fuzz), read as 10^15 s
 * away instead of overflowing int64_t. */
static void test_request_time_ms(void)
{
    struct timeval tv = {0};
    int present = -1;

    CU_ASSERT_EQUAL(pa_soap_time_ms(NULL, &present), 0);
    CU_ASSERT_EQUAL(present, 0);
    tv.tv_sec = 1765000000;
    tv.tv_usec = 123999;
    CU_ASSERT_EQUAL(pa_soap_time_ms(&tv, &present), 1765000000123LL);
    CU_ASSERT_EQUAL(present, 1);
    tv.tv_sec = -1;
    tv.tv_usec = 500000;
    CU_ASSERT_EQUAL(pa_soap_time_ms(&tv, NULL), -500);
    tv.tv_usec = 0;
    tv.tv_sec = (time_t)-36649213613481600LL;
    CU_ASSERT_EQUAL(pa_soap_time_ms(&tv, NULL), -1000000000000000000LL);
    tv.tv_sec = (time_t)INT64_MAX;
    CU_ASSERT_EQUAL(pa_soap_time_ms(&tv, NULL), 1000000000000000000LL);
    tv.tv_sec = (time_t)1000000000000000LL;
    CU_ASSERT_EQUAL(pa_soap_time_ms(&tv, NULL), 1000000000000000000LL);
}

static void test_fault_detail_xml(void)
{
    pa_config cfg;
    pa_ctx ctx;
    struct soap *soap = allow_ctx(&cfg, &ctx, 0);

    CU_ASSERT_EQUAL(pa_soap_fault(soap, PA_ERR_INVALID_URL_FORMAT), SOAP_FAULT);
    CU_ASSERT_EQUAL(soap->error, SOAP_FAULT);
    CU_ASSERT_STRING_EQUAL(*soap_faultcode(soap), "SOAP-ENV:Server");
    CU_ASSERT_STRING_EQUAL(*soap_faultstring(soap), "Invalid URL format.");
    CU_ASSERT_STRING_EQUAL(*soap_faultdetail(soap),
                           "<errorCode>ERR0014</errorCode>"
                           "<localizedMessage>Invalid URL format.</localizedMessage>");
    CU_ASSERT_EQUAL(ctx.result, PA_ERR_INVALID_URL_FORMAT);
    CU_ASSERT_EQUAL(ctx.client_error, 0);
    /* PA_OK is no fault: it becomes the unknown error, never an empty one */
    CU_ASSERT_EQUAL(pa_soap_fault(soap, PA_OK), SOAP_FAULT);
    CU_ASSERT_STRING_EQUAL(*soap_faultdetail(soap),
                           "<errorCode>ERR0000</errorCode>"
                           "<localizedMessage>Unknown error occurred.</localizedMessage>");
    /* extra XML follows the two elements as given */
    CU_ASSERT_EQUAL(pa_soap_fault_detail(soap, PA_ERR_INVALID_REQUEST,
                                         "<remainingAttempts>3</remainingAttempts>"),
                    SOAP_FAULT);
    CU_ASSERT_STRING_EQUAL(*soap_faultdetail(soap),
                           "<errorCode>ERR0024</errorCode>"
                           "<localizedMessage>Invalid request received.</localizedMessage>"
                           "<remainingAttempts>3</remainingAttempts>");
    /* a Client fault keeps its own faultstring, the detail says ERR0024 */
    CU_ASSERT_EQUAL(pa_soap_client_fault(soap, "Bad <thing> & more"), SOAP_FAULT);
    CU_ASSERT_STRING_EQUAL(*soap_faultcode(soap), "SOAP-ENV:Client");
    CU_ASSERT_STRING_EQUAL(*soap_faultstring(soap), "Bad <thing> & more");
    CU_ASSERT_STRING_EQUAL(*soap_faultdetail(soap),
                           "<errorCode>ERR0024</errorCode>"
                           "<localizedMessage>Invalid request received.</localizedMessage>");
    CU_ASSERT_EQUAL(ctx.client_error, 1);
    CU_ASSERT_EQUAL(ctx.result, PA_ERR_INVALID_REQUEST);
    end_ctx(soap, &cfg);
}

static void test_auth_allow(void)
{
    pa_store_integration in;
    pa_config cfg;
    pa_ctx ctx;
    struct soap *soap;
    char *pw;

    CU_ASSERT_EQUAL_FATAL(pa_integration_create(db, "mw", &in), PA_OK);

    /* restriction off: no header, or any header, passes */
    soap = allow_ctx(&cfg, &ctx, 0);
    CU_ASSERT_EQUAL(pa_auth_allow(soap), 1);
    soap->header = make_header(soap, "nobody", "nothing");
    pw = soap->header->wsse__Security->UsernameToken->Password->__item;
    CU_ASSERT_EQUAL(pa_auth_allow(soap), 1);
    CU_ASSERT_PTR_NULL(soap->header);             /* never echoed */
    CU_ASSERT_EQUAL(pw[0], '\0');                 /* wiped */
    end_ctx(soap, &cfg);

    /* restriction on, no header */
    soap = allow_ctx(&cfg, &ctx, 1);
    CU_ASSERT_EQUAL(pa_auth_allow(soap), 0);
    CU_ASSERT_EQUAL(soap->error, SOAP_FAULT);
    CU_ASSERT_STRING_EQUAL(*soap_faultcode(soap), "SOAP-ENV:Client");
    CU_ASSERT_STRING_EQUAL(*soap_faultstring(soap), "No WS-Security header found");
    CU_ASSERT(ctx.client_error);
    end_ctx(soap, &cfg);

    /* header without Security */
    soap = allow_ctx(&cfg, &ctx, 1);
    soap->header = pa_soap_alloc(soap, sizeof *soap->header);
    CU_ASSERT_EQUAL(pa_auth_allow(soap), 0);
    CU_ASSERT_STRING_EQUAL(*soap_faultstring(soap), "No WS-Security header found");
    CU_ASSERT_PTR_NULL(soap->header);
    end_ctx(soap, &cfg);

    /* right credentials; the password is wiped from the header after use */
    soap = allow_ctx(&cfg, &ctx, 1);
    soap->header = make_header(soap, in.client_token, in.client_secret);
    pw = soap->header->wsse__Security->UsernameToken->Password->__item;
    CU_ASSERT_EQUAL(pa_auth_allow(soap), 1);
    CU_ASSERT_EQUAL(soap->error, SOAP_OK);
    CU_ASSERT_PTR_NULL(soap->header);
    CU_ASSERT_EQUAL(pw[0], '\0');
    CU_ASSERT_EQUAL(pw[strlen(in.client_secret) - 1], '\0');
    end_ctx(soap, &cfg);

    /* wrong password, unknown user, Security without UsernameToken: the
     * same generic message */
    soap = allow_ctx(&cfg, &ctx, 1);
    soap->header = make_header(soap, in.client_token, in.id);
    pw = soap->header->wsse__Security->UsernameToken->Password->__item;
    CU_ASSERT_EQUAL(pa_auth_allow(soap), 0);
    CU_ASSERT_STRING_EQUAL(*soap_faultcode(soap), "SOAP-ENV:Client");
    CU_ASSERT_STRING_EQUAL(*soap_faultstring(soap), "Authentication failed");
    CU_ASSERT_PTR_NULL(soap->header);             /* the fault cannot echo it */
    CU_ASSERT_EQUAL(pw[0], '\0');
    end_ctx(soap, &cfg);

    soap = allow_ctx(&cfg, &ctx, 1);
    soap->header = make_header(soap, in.id, in.client_secret);
    CU_ASSERT_EQUAL(pa_auth_allow(soap), 0);
    CU_ASSERT_STRING_EQUAL(*soap_faultstring(soap), "Authentication failed");
    end_ctx(soap, &cfg);

    soap = allow_ctx(&cfg, &ctx, 1);
    soap->header = make_header(soap, in.client_token, in.client_secret);
    soap->header->wsse__Security->UsernameToken = NULL;
    CU_ASSERT_EQUAL(pa_auth_allow(soap), 0);
    CU_ASSERT_STRING_EQUAL(*soap_faultstring(soap), "Authentication failed");
    end_ctx(soap, &cfg);

    pa_store_integration_free(&in);
}

/* ---- error catalogue ---------------------------------------------------------------------- */

static FILE *open_error_codes(void)
{
    const char *shared = getenv("PA_SHARED");
    char p[PATH_MAX];

    if (shared && *shared)
        snprintf(p, sizeof p, "%s/contract/error-codes.tsv", shared);
    else
        snprintf(p, sizeof p, "%s/../shared/contract/error-codes.tsv", PA_TOP_SRCDIR);
    return fopen(p, "r");
}

/* Splits a TSV line in place into at most max fields. */
static int split_tsv(char *line, char **f, int max)
{
    int n = 0;

    line[strcspn(line, "\r\n")] = '\0';
    f[n++] = line;
    while (n < max && (line = strchr(line, '\t')) != NULL) {
        *line++ = '\0';
        f[n++] = line;
    }
    return n;
}

/* Column of `name` in the header row, -1 when absent. */
static int column(char **f, int n, const char *name)
{
    int i;

    for (i = 0; i < n; i++)
        if (strcmp(f[i], name) == 0)
            return i;
    return -1;
}

static void test_error_catalogue(void)
{
    FILE *fp = open_error_codes();
    char line[4096], *f[8];
    int seen = 0, num, n, c_code = -1, c_name = -1, c_msg = -1, c_title = -1;

    CU_ASSERT_FATAL(fp != NULL);
    while (fgets(line, sizeof line, fp)) {
        pa_err e;
        const char *want;

        if (line[0] == '#' || line[0] == '\n')
            continue;
        n = split_tsv(line, f, 8);
        if (c_code < 0) {               /* the first row names the columns */
            c_code = column(f, n, "code");
            c_name = column(f, n, "java_constant");
            c_msg = column(f, n, "message_en");
            c_title = column(f, n, "docs_title");
            CU_ASSERT_FATAL(c_code >= 0 && c_name >= 0 && c_msg >= 0 && c_title >= 0);
            continue;
        }
        CU_ASSERT_FATAL(n > c_code && n > c_name && n > c_msg && n > c_title);
        CU_ASSERT_FATAL(sscanf(f[c_code], "ERR%4d", &num) == 1);
        e = (pa_err)(num + 1);
        CU_ASSERT_FATAL(e > PA_OK && e < PA_ERR__COUNT);
        CU_ASSERT_STRING_EQUAL(pa_err_code(e), f[c_code]);
        CU_ASSERT_STRING_EQUAL(pa_err_name(e), f[c_name]);
        want = (num == 31 || num == 32) ? f[c_title] : f[c_msg];
        CU_ASSERT(want[0] != '\0');
        if (strcmp(pa_errors_message(e, "en"), want) != 0)
            fprintf(stderr, "\n  %s: catalogue '%s' != contract '%s'\n", f[c_code],
                    pa_errors_message(e, "en"), want);
        CU_ASSERT_STRING_EQUAL(pa_errors_message(e, "en"), want);
        CU_ASSERT_STRING_EQUAL(pa_errors_message(e, NULL), want);
        seen++;
    }
    fclose(fp);
    CU_ASSERT_EQUAL(seen, PA_ERR__COUNT - 1);
}

static void test_czech_catalogue(void)
{
    int a, b;

    CU_ASSERT(pa_errors_has_language("cs"));
    for (a = PA_ERR_UNKNOWN_ERROR; a < PA_ERR__COUNT; a++) {
        const char *cs = pa_errors_message((pa_err)a, "cs");

        CU_ASSERT_PTR_NOT_NULL_FATAL(cs);
        CU_ASSERT(cs[0] != '\0');
        CU_ASSERT_STRING_NOT_EQUAL(cs, pa_errors_message((pa_err)a, "en"));
        CU_ASSERT_STRING_EQUAL(pa_errors_message((pa_err)a, "cs-CZ"), cs);
        for (b = a + 1; b < PA_ERR__COUNT; b++)
            CU_ASSERT_STRING_NOT_EQUAL(cs, pa_errors_message((pa_err)b, "cs"));
    }
}

/* ---- runner ------------------------------------------------------------------------------ */

typedef struct {
    const char *name;
    CU_TestFunc fn;
} test_def;

static int add_suite(const char *name, const test_def *t, size_t n, int fixture)
{
    CU_pSuite s = fixture ? CU_add_suite_with_setup_and_teardown(name, NULL, NULL,
                                                                 setup, teardown)
                          : CU_add_suite(name, NULL, NULL);
    size_t i;

    if (!s)
        return -1;
    for (i = 0; i < n; i++)
        if (!CU_add_test(s, t[i].name, t[i].fn))
            return -1;
    return 0;
}

#define ADD(name, arr, fixture) add_suite(name, arr, sizeof arr / sizeof *arr, fixture)

int main(void)
{
    static const test_def app[] = {
        { "create application", test_create_application },
        { "duplicate name refused", test_duplicate_name_refused },
        { "empty name accepted", test_empty_name_accepted },
        { "detail by name, errors", test_detail_by_name_and_errors },
        { "application list", test_application_list },
        { "lookup by key", test_lookup_by_key },
        { "version create", test_version_create },
        { "support / unsupport", test_support_unsupport },
        { "detail cache never stale", test_detail_cache_never_stale },
    };
    static const test_def integ[] = {
        { "integration create and list", test_integration_create },
        { "integration remove", test_integration_remove },
    };
    static const test_def cb[] = {
        { "URL table", test_url_table },
        { "callback create", test_callback_create },
        { "callback list and remove", test_callback_list_and_remove },
    };
    static const test_def wsse[] = {
        { "PasswordText", test_wsse_text },
        { "empty stored secret never matches", test_wsse_empty_stored_secret },
        { "PasswordDigest", test_wsse_digest },
        { "PasswordDigest fixture (zeep)", test_wsse_digest_fixture },
        { "no constant secret matches (fail closed)", test_wsse_fail_closed },
        { "PasswordDigest freshness and replay", test_wsse_digest_policy },
        { "pa_auth_allow", test_auth_allow },
        { "fault detail XML", test_fault_detail_xml },
        { "request time in ms", test_request_time_ms },
    };
    static const test_def errs[] = {
        { "English texts = error-codes.tsv", test_error_catalogue },
        { "Czech texts", test_czech_catalogue },
    };
    unsigned failed;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    if (ADD("application", app, 1) || ADD("integration", integ, 1) ||
        ADD("callback", cb, 1) || ADD("wsse", wsse, 1) ||
        ADD("errors", errs, 0)) {
        CU_cleanup_registry();
        return 1;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failed = pa_cunit_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
