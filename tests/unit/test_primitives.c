/* test_primitives.c - hashes, HMAC, AES, KDFs (CRYPTO.md 2.5-2.11, 3.2). */
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "crypto/primitives.h"
#include "tests/unit/suites.h"
#include "tests/unit/vectors.h"

#define unhex pa_vec_unhex

static void test_sha256_hmac_known_answers(void)
{
    uint8_t out[32];
    uint8_t key[20];

    CU_ASSERT_EQUAL(pa_sha256((const uint8_t *)"abc", 3, out), PA_OK);
    ASSERT_HEX(out, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* RFC 4231 test case 2 */
    CU_ASSERT_EQUAL(pa_hmac((const uint8_t *)"Jefe", 4,
                            (const uint8_t *)"what do ya want for nothing?", 28,
                            out), PA_OK);
    ASSERT_HEX(out, 32, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* RFC 4231 test case 1, split message through pa_hmac2 */
    memset(key, 0x0b, sizeof key);
    CU_ASSERT_EQUAL(pa_hmac2(key, 20, (const uint8_t *)"Hi ", 3,
                             (const uint8_t *)"There", 5, out), PA_OK);
    ASSERT_HEX(out, 32, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

static void test_reduce(void)
{
    uint8_t b[32], out[16];

    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)i;
    pa_reduce(b, out);
    for (int i = 0; i < 16; i++)
        CU_ASSERT_EQUAL(out[i], (uint8_t)(i ^ (i + 16)));
}

static void test_aes_cbc(void)
{
    uint8_t key[16], iv[16], *ct = NULL, *pt = NULL, buf[32], back[32];
    size_t ctlen = 0, ptlen = 0;
    const char *msg = "sixteen byte msg";

    memset(key, 0x11, 16);
    memset(iv, 0x22, 16);
    CU_ASSERT_EQUAL(pa_aes_cbc_encrypt(key, iv, (const uint8_t *)msg, 16, &ct,
                                       &ctlen), PA_OK);
    CU_ASSERT_EQUAL(ctlen, 32);               /* padding always added */
    CU_ASSERT_EQUAL(pa_aes_cbc_decrypt(key, iv, ct, ctlen, &pt, &ptlen), PA_OK);
    CU_ASSERT(ptlen == 16 && memcmp(pt, msg, 16) == 0);
    free(pt);
    /* Wrong key: the padding check fails (with overwhelming probability). */
    key[0] ^= 1;
    CU_ASSERT_EQUAL(pa_aes_cbc_decrypt(key, iv, ct, ctlen, &pt, &ptlen),
                    PA_ERR_DECRYPTION_FAILED);
    key[0] ^= 1;
    /* Truncated and empty ciphertexts. */
    CU_ASSERT_EQUAL(pa_aes_cbc_decrypt(key, iv, ct, 31, &pt, &ptlen),
                    PA_ERR_DECRYPTION_FAILED);
    CU_ASSERT_EQUAL(pa_aes_cbc_decrypt(key, iv, ct, 0, &pt, &ptlen),
                    PA_ERR_DECRYPTION_FAILED);
    free(ct);
    /* 65 bytes -> 80 bytes. */
    CU_ASSERT_EQUAL(pa_aes_cbc_encrypt(key, iv, (const uint8_t *)
                                       "0123456789012345678901234567890123456789012345678901234567890123X",
                                       65, &ct, &ctlen), PA_OK);
    CU_ASSERT_EQUAL(ctlen, 80);
    free(ct);
    /* No padding: 32 -> 32 and back. */
    memset(buf, 0x5a, sizeof buf);
    CU_ASSERT_EQUAL(pa_aes_cbc_encrypt_nopad(key, iv, buf, 32, back), PA_OK);
    CU_ASSERT(memcmp(buf, back, 32) != 0);
    CU_ASSERT_EQUAL(pa_aes_cbc_decrypt_nopad(key, iv, back, 32, back), PA_OK);
    CU_ASSERT(memcmp(buf, back, 32) == 0);
    CU_ASSERT_EQUAL(pa_aes_cbc_encrypt_nopad(key, iv, buf, 20, back),
                    PA_ERR_ENCRYPTION_FAILED);
}

static void test_aes_block_fips197(void)
{
    uint8_t key[16], in[16], out[16];

    unhex("000102030405060708090a0b0c0d0e0f", key);
    unhex("00112233445566778899aabbccddeeff", in);
    CU_ASSERT_EQUAL(pa_aes_block(key, in, out), PA_OK);
    ASSERT_HEX(out, 16, "69c4e0d86a7b0430d8cdb78070b4c55a");
}

static void test_kdf_worked_example(void)
{
    uint8_t m[16], out[16];

    /* CRYPTO.md B.1, from compute-derived-keys.json entry 0. */
    unhex("fa68b2a89ca40994133690339fe65287", m);
    CU_ASSERT_EQUAL(pa_kdf_n(m, 1, out), PA_OK);
    ASSERT_HEX(out, 16, "337a75b4f628ba9b5a5fccf90e173673");
    CU_ASSERT_EQUAL(pa_kdf_n(m, 1000, out), PA_OK);
    ASSERT_HEX(out, 16, "bfc64fa53ba1d482016949e191770d6f");
}

static void test_kdf_short_index_is_padded(void)
{
    uint8_t key[16], idx8[8], block[16], a[16], b[16];

    memset(key, 7, 16);
    pa_be64(-1, idx8);
    memcpy(block, idx8, 8);
    memset(block + 8, 8, 8);
    CU_ASSERT_EQUAL(pa_kdf(key, idx8, 8, a), PA_OK);
    CU_ASSERT_EQUAL(pa_aes_block(key, block, b), PA_OK);
    CU_ASSERT(memcmp(a, b, 16) == 0);
}

static void test_derived_keys_vectors(void)
{
    static const struct { const char *field; int64_t index; } keys[] = {
        {"signaturePossessionKey", 1}, {"signatureKnowledgeKey", 2},
        {"signatureBiometryKey", 3},   {"transportKey", 1000},
        {"vaultEncryptionKey", 2000},
    };
    pa_vec_file *f = pa_vec_open("compute-derived-keys.json");
    size_t i, checked = 0;

    for (i = 0; i < pa_vec_count(f); i++) {
        uint8_t m[16], exp[16], out[16];
        int ok = pa_vec_b64(pa_vec_input(f, i), "masterSecretKey", m, 16) == 16;

        for (size_t k = 0; k < 5; k++) {
            ok &= pa_vec_b64(pa_vec_output(f, i), keys[k].field, exp, 16) == 16;
            ok &= pa_kdf_n(m, keys[k].index, out) == PA_OK;
            ok &= memcmp(out, exp, 16) == 0;
        }
        CU_ASSERT(ok);
        checked += ok;
    }
    pa_vec_done(f, checked);
}

static void test_kdf_x963_vectors(void)
{
    pa_vec_file *f = pa_vec_open("supplementary/kdf-x963.json");
    size_t i, checked = 0;

    for (i = 0; i < pa_vec_count(f); i++) {
        json_t *in = pa_vec_input(f, i), *out = pa_vec_output(f, i);
        uint8_t z[256], info[256], exp[512], got[512];
        size_t zl = pa_vec_b64(in, "secret", z, sizeof z);
        size_t il = pa_vec_b64(in, "sharedInfo", info, sizeof info);
        size_t el = pa_vec_b64(out, "derived", exp, sizeof exp);
        long want = strtol(pa_vec_str(in, "outputBytes"), NULL, 10);
        int ok = zl != (size_t)-1 && il != (size_t)-1 && el == (size_t)want
                 && pa_kdf_x963(z, zl, info, il, got, el) == PA_OK
                 && memcmp(got, exp, el) == 0;

        CU_ASSERT(ok);
        checked += ok;
    }
    pa_vec_done(f, checked);
}

static void test_pbkdf2_rfc6070(void)
{
    uint8_t out[20];

    CU_ASSERT_EQUAL(pa_pbkdf2_sha1((const uint8_t *)"password", 8,
                                   (const uint8_t *)"salt", 4, 2, out, 20), PA_OK);
    ASSERT_HEX(out, 20, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957");
}

static void test_ct_equal_and_random(void)
{
    uint8_t a[32], b[32];

    CU_ASSERT_EQUAL(pa_random(a, sizeof a), PA_OK);
    CU_ASSERT_EQUAL(pa_random(b, sizeof b), PA_OK);
    CU_ASSERT(memcmp(a, b, 32) != 0);
    CU_ASSERT(pa_ct_equal(a, 32, a, 32));
    CU_ASSERT(!pa_ct_equal(a, 32, b, 32));
    CU_ASSERT(!pa_ct_equal(a, 32, a, 31));
}

static void test_be_helpers(void)
{
    uint8_t b[8];

    pa_be64(-1, b);
    for (int i = 0; i < 8; i++)
        CU_ASSERT_EQUAL(b[i], 0xff);
    pa_be64(1000, b);
    CU_ASSERT(b[6] == 0x03 && b[7] == 0xe8 && b[0] == 0);
    CU_ASSERT_EQUAL(pa_u64(b), 1000);
    CU_ASSERT_EQUAL(pa_u32(b + 4), 1000);
}

int register_primitives_suite(void)
{
    CU_pSuite s = CU_add_suite("primitives", NULL, NULL);

    if (s == NULL)
        return -1;
    if (!CU_add_test(s, "sha256/hmac known answers", test_sha256_hmac_known_answers)
        || !CU_add_test(s, "reduce", test_reduce)
        || !CU_add_test(s, "aes-cbc", test_aes_cbc)
        || !CU_add_test(s, "aes block FIPS-197", test_aes_block_fips197)
        || !CU_add_test(s, "kdf worked example B.1", test_kdf_worked_example)
        || !CU_add_test(s, "kdf short index padded", test_kdf_short_index_is_padded)
        || !CU_add_test(s, "compute-derived-keys.json", test_derived_keys_vectors)
        || !CU_add_test(s, "kdf-x963.json", test_kdf_x963_vectors)
        || !CU_add_test(s, "pbkdf2 RFC 6070", test_pbkdf2_rfc6070)
        || !CU_add_test(s, "ct_equal and random", test_ct_equal_and_random)
        || !CU_add_test(s, "big-endian helpers", test_be_helpers))
        return -1;
    return 0;
}
