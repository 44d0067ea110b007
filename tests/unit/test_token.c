/* test_token.c - MAC token digest (CRYPTO.md 10.2, B.9). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "crypto/primitives.h"
#include "crypto/token.h"
#include "tests/unit/suites.h"
#include "tests/unit/vectors.h"
#include "util/base64.h"

static int parse_i64(const char *s, int64_t *out)
{
    char *end = NULL;
    long long v;

    if (s == NULL)
        return 0;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return 0;
    *out = (int64_t)v;
    return 1;
}

static void test_vectors(void)
{
    pa_vec_file *f = pa_vec_open("supplementary/token-digest.json");
    size_t checked = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    for (size_t i = 0; i < pa_vec_count(f); i++) {
        json_t *in = pa_vec_input(f, i);
        uint8_t secret[32], nonce[64], exp[64], d[32];
        int64_t ts = 0;
        int valid = -1;
        size_t nl = pa_vec_b64(in, "nonce", nonce, sizeof nonce);
        int ok = pa_vec_b64(in, "tokenSecret", secret, sizeof secret) == 16
                 && nl == 16
                 && pa_vec_b64(pa_vec_output(f, i), "tokenDigest", exp,
                               sizeof exp) == 32
                 && parse_i64(pa_vec_str(in, "timestamp"), &ts)
                 && pa_token_digest(secret, nonce, nl, ts, d) == PA_OK
                 && memcmp(d, exp, 32) == 0
                 && pa_token_verify(secret, nonce, nl, ts, exp, 32, &valid)
                        == PA_OK
                 && valid == 1;

        CU_ASSERT(ok);
        checked += ok;
    }
    pa_vec_done(f, checked);
}

/* HMAC over a message assembled by hand (the rule of 10.2). */
static void manual_digest(const uint8_t secret[16], const uint8_t *nonce,
                          size_t nonce_len, const char *decimal,
                          uint8_t out[32])
{
    uint8_t msg[128];
    size_t n = strlen(decimal);

    memcpy(msg, nonce, nonce_len);
    msg[nonce_len] = '&';
    memcpy(msg + nonce_len + 1, decimal, n);
    pa_hmac(secret, 16, msg, nonce_len + 1 + n, out);
}

/* B.9, with the message bytes spelled out. */
static void test_b9(void)
{
    uint8_t secret[16], nonce[16], exp[32], d[32], m[32];

    CU_ASSERT_EQUAL_FATAL(pa_b64_decode_exact("PkMOsHPlhv/v4NGvhgr32Q==",
                                              secret, 16), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_b64_decode_exact(
        "Pv0usiCC7zlreQy+zbv+0gpHPO95zkIm3iUTtBDXW8Y=", exp, 32), PA_OK);
    pa_vec_unhex("26d5a452c34c166a61f8d9de5da9890f", nonce);
    manual_digest(secret, nonce, 16, "1589796000123", m);
    CU_ASSERT(memcmp(m, exp, 32) == 0);
    CU_ASSERT_EQUAL(pa_token_digest(secret, nonce, 16, 1589796000123LL, d),
                    PA_OK);
    CU_ASSERT(memcmp(d, exp, 32) == 0);
}

/* Canonical decimal: '-' for negatives, no padding, extremes. */
static void test_decimal_rendering(void)
{
    static const struct {
        int64_t ts;
        const char *text;
    } cases[] = {
        {0, "0"},
        {-1, "-1"},
        {-5, "-5"},
        {-1589796000123LL, "-1589796000123"},
        {INT64_MAX, "9223372036854775807"},
        {INT64_MIN, "-9223372036854775808"},
        {1000, "1000"},
    };
    uint8_t secret[16], nonce[16], d[32], m[32];

    memset(secret, 0x3c, sizeof secret);
    for (int i = 0; i < 16; i++)
        nonce[i] = (uint8_t)(0xf0 + i);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int valid = -1;

        manual_digest(secret, nonce, 16, cases[i].text, m);
        CU_ASSERT_EQUAL(pa_token_digest(secret, nonce, 16, cases[i].ts, d),
                        PA_OK);
        CU_ASSERT(memcmp(d, m, 32) == 0);
        CU_ASSERT_EQUAL(pa_token_verify(secret, nonce, 16, cases[i].ts, m, 32,
                                        &valid), PA_OK);
        CU_ASSERT_EQUAL(valid, 1);
    }
    /* -5 and 5 differ (the sign is hashed). */
    CU_ASSERT_EQUAL(pa_token_digest(secret, nonce, 16, 5, d), PA_OK);
    manual_digest(secret, nonce, 16, "-5", m);
    CU_ASSERT(memcmp(d, m, 32) != 0);
}

static void test_rejects(void)
{
    uint8_t secret[16], nonce[16], d[32], t[33];
    const int64_t ts = 1600000000000LL;
    int valid = -1;

    memset(secret, 0x11, sizeof secret);
    memset(nonce, 0x22, sizeof nonce);
    CU_ASSERT_EQUAL_FATAL(pa_token_digest(secret, nonce, 16, ts, d), PA_OK);
    CU_ASSERT_EQUAL(pa_token_verify(secret, nonce, 16, ts, d, 32, &valid),
                    PA_OK);
    CU_ASSERT_EQUAL(valid, 1);
    /* Wrong timestamp (one ms either way), wrong nonce, wrong secret. */
    CU_ASSERT_EQUAL(pa_token_verify(secret, nonce, 16, ts + 1, d, 32, &valid),
                    PA_OK);
    CU_ASSERT_EQUAL(valid, 0);
    pa_token_verify(secret, nonce, 16, ts - 1, d, 32, &valid);
    CU_ASSERT_EQUAL(valid, 0);
    pa_token_verify(secret, nonce, 16, -ts, d, 32, &valid);
    CU_ASSERT_EQUAL(valid, 0);
    nonce[15] ^= 1;
    pa_token_verify(secret, nonce, 16, ts, d, 32, &valid);
    CU_ASSERT_EQUAL(valid, 0);
    nonce[15] ^= 1;
    pa_token_verify(secret, nonce, 15, ts, d, 32, &valid);
    CU_ASSERT_EQUAL(valid, 0);
    secret[0] ^= 1;
    pa_token_verify(secret, nonce, 16, ts, d, 32, &valid);
    CU_ASSERT_EQUAL(valid, 0);
    secret[0] ^= 1;
    /* Every single flipped bit of the digest is refused. */
    for (int bit = 0; bit < 256; bit++) {
        memcpy(t, d, 32);
        t[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        valid = -1;
        CU_ASSERT_EQUAL(pa_token_verify(secret, nonce, 16, ts, t, 32, &valid),
                        PA_OK);
        CU_ASSERT_EQUAL(valid, 0);
    }
    /* Truncated, extended, empty digests. */
    memcpy(t, d, 32);
    t[32] = 0;
    pa_token_verify(secret, nonce, 16, ts, t, 31, &valid);
    CU_ASSERT_EQUAL(valid, 0);
    pa_token_verify(secret, nonce, 16, ts, t, 33, &valid);
    CU_ASSERT_EQUAL(valid, 0);
    pa_token_verify(secret, nonce, 16, ts, t, 0, &valid);
    CU_ASSERT_EQUAL(valid, 0);
    pa_token_verify(secret, nonce, 16, ts, NULL, 0, &valid);
    CU_ASSERT_EQUAL(valid, 0);
    /* Argument errors. */
    CU_ASSERT_NOT_EQUAL(pa_token_verify(secret, nonce, 16, ts, d, 32, NULL),
                        PA_OK);
    valid = -1;
    CU_ASSERT_NOT_EQUAL(pa_token_verify(NULL, nonce, 16, ts, d, 32, &valid),
                        PA_OK);
    CU_ASSERT_EQUAL(valid, 0);
    CU_ASSERT_NOT_EQUAL(pa_token_verify(secret, NULL, 16, ts, d, 32, &valid),
                        PA_OK);
    CU_ASSERT_NOT_EQUAL(pa_token_digest(secret, NULL, 16, ts, d), PA_OK);
    CU_ASSERT_NOT_EQUAL(pa_token_digest(secret, nonce, 16, ts, NULL), PA_OK);
    /* An empty nonce is hashed as such ("&" + decimal only). */
    {
        uint8_t m[32];

        CU_ASSERT_EQUAL(pa_token_digest(secret, NULL, 0, 7, d), PA_OK);
        pa_hmac(secret, 16, (const uint8_t *)"&7", 2, m);
        CU_ASSERT(memcmp(d, m, 32) == 0);
    }
}

int register_token_suite(void)
{
    CU_pSuite s = CU_add_suite("token", NULL, NULL);

    if (s == NULL)
        return -1;
    if (!CU_add_test(s, "supplementary/token-digest.json", test_vectors)
        || !CU_add_test(s, "B.9 worked example", test_b9)
        || !CU_add_test(s, "decimal rendering", test_decimal_rendering)
        || !CU_add_test(s, "rejects", test_rejects))
        return -1;
    return 0;
}
