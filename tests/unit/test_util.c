/* test_util.c - Base64 and Base32 codecs (CRYPTO.md 1.2, 1.3). */
#include <string.h>

#include <CUnit/CUnit.h>

#include "tests/unit/suites.h"
#include "util/base32.h"
#include "util/base64.h"

static void test_b64_encode_pads(void)
{
    char out[64];

    CU_ASSERT_EQUAL(pa_b64_encode((const uint8_t *)"", 0, out), 0);
    CU_ASSERT_STRING_EQUAL(out, "");
    pa_b64_encode((const uint8_t *)"f", 1, out);
    CU_ASSERT_STRING_EQUAL(out, "Zg==");
    pa_b64_encode((const uint8_t *)"fo", 2, out);
    CU_ASSERT_STRING_EQUAL(out, "Zm8=");
    pa_b64_encode((const uint8_t *)"foobar", 6, out);
    CU_ASSERT_STRING_EQUAL(out, "Zm9vYmFy");
    pa_b64_encode((const uint8_t *)"\xfb\xff", 2, out);
    CU_ASSERT_STRING_EQUAL(out, "+/8=");
}

static void test_b64_decode_accepts(void)
{
    uint8_t out[64];
    size_t n = 99;

    CU_ASSERT_EQUAL(pa_b64_decode("Zm8=", out, &n), PA_OK);
    CU_ASSERT(n == 2 && memcmp(out, "fo", 2) == 0);
    CU_ASSERT_EQUAL(pa_b64_decode("Zm8", out, &n), PA_OK);   /* no padding */
    CU_ASSERT(n == 2 && memcmp(out, "fo", 2) == 0);
    CU_ASSERT_EQUAL(pa_b64_decode("Zg=", out, &n), PA_OK);   /* partial */
    CU_ASSERT(n == 1 && out[0] == 'f');
    CU_ASSERT_EQUAL(pa_b64_decode("", out, &n), PA_OK);
    CU_ASSERT_EQUAL(n, 0);
    /* Non-zero unused bits in the last character are ignored. */
    CU_ASSERT_EQUAL(pa_b64_decode("Zh==", out, &n), PA_OK);
    CU_ASSERT(n == 1 && out[0] == 'f');
    CU_ASSERT_EQUAL(pa_b64_decode_exact("AAAAAAAAAAAAAAAAAAAAAA==", out, 16),
                    PA_OK);
}

static void test_b64_decode_refuses(void)
{
    uint8_t out[64];
    size_t n;

    CU_ASSERT_EQUAL(pa_b64_decode("Z", out, &n), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_b64_decode("Zm9v\n", out, &n), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_b64_decode("Zm 9v", out, &n), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_b64_decode("Zm-_", out, &n), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_b64_decode("AAAA=", out, &n), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_b64_decode("====", out, &n), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_b64_decode("Zg===", out, &n), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_b64_decode("Zm=9", out, &n), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_b64_decode(NULL, out, &n), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_b64_decode_exact("AAAAAAAAAAAAAAAAAAAA", out, 16),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_b64_decode_exact("AAAAAAAAAAAAAAAAAAAAAAAA", out, 16),
                    PA_ERR_INVALID_INPUT_FORMAT);
}

static void test_b64_round_trip_all_lengths(void)
{
    uint8_t in[70], out[80];
    char enc[100];

    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 37 + 11);
    for (size_t len = 0; len <= sizeof in; len++) {
        size_t n = 0;

        CU_ASSERT_EQUAL(pa_b64_encode(in, len, enc), PA_B64_ENCLEN(len));
        CU_ASSERT_EQUAL(pa_b64_decode(enc, out, &n), PA_OK);
        CU_ASSERT(n == len && memcmp(in, out, len) == 0);
    }
}

static void test_b32(void)
{
    uint8_t zero[12] = {0}, out[16];
    char enc[32];
    size_t n = 0;

    /* RFC 4648 test vectors, without padding. */
    pa_b32_encode((const uint8_t *)"foobar", 6, enc);
    CU_ASSERT_STRING_EQUAL(enc, "MZXW6YTBOI");
    pa_b32_encode((const uint8_t *)"f", 1, enc);
    CU_ASSERT_STRING_EQUAL(enc, "MY");
    CU_ASSERT_EQUAL(pa_b32_encode(zero, 12, enc), 20);
    CU_ASSERT_STRING_EQUAL(enc, "AAAAAAAAAAAAAAAAAAAA");
    CU_ASSERT_EQUAL(pa_b32_decode("MZXW6YTBOI", 10, out, &n), PA_OK);
    CU_ASSERT(n == 6 && memcmp(out, "foobar", 6) == 0);
    /* 20 chars carry 100 bits: 12 bytes, the surplus 4 bits dropped. */
    CU_ASSERT_EQUAL(pa_b32_decode("AAAAAAAAAAAAAAAAAAAB", 20, out, &n), PA_OK);
    CU_ASSERT(n == 12 && memcmp(out, zero, 12) == 0);
    CU_ASSERT_EQUAL(pa_b32_decode("aAAA", 4, out, &n), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_b32_decode("A1AA", 4, out, &n), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_b32_decode("AA=A", 4, out, &n), PA_ERR_INVALID_INPUT_FORMAT);
}

int register_util_suite(void)
{
    CU_pSuite s = CU_add_suite("util", NULL, NULL);

    if (s == NULL)
        return -1;
    if (!CU_add_test(s, "base64 encode pads", test_b64_encode_pads)
        || !CU_add_test(s, "base64 decode accepts", test_b64_decode_accepts)
        || !CU_add_test(s, "base64 decode refuses", test_b64_decode_refuses)
        || !CU_add_test(s, "base64 round trip", test_b64_round_trip_all_lengths)
        || !CU_add_test(s, "base32", test_b32))
        return -1;
    return 0;
}
