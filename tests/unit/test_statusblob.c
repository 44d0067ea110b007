/* test_statusblob.c - activation status blob (CRYPTO.md 7, B.2, B.3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "crypto/primitives.h"
#include "crypto/statusblob.h"
#include "tests/unit/suites.h"
#include "tests/unit/vectors.h"

static const uint8_t magic[4] = {0xde, 0xc0, 0xde, 0xd1};

/* Decimal vector field as a byte; -1 when absent or out of range. */
static int vec_byte(json_t *obj, const char *key)
{
    const char *s = pa_vec_str(obj, key);
    char *end = NULL;
    long v;

    if (s == NULL || *s == '\0')
        return -1;
    v = strtol(s, &end, 10);
    return (*end == '\0' && v >= 0 && v <= 255) ? (int)v : -1;
}

/* The hash-chain step of protocol-3 counters, written here from 8.3 rather
 * than taken from the signature module: NEXT(x) = REDUCE(SHA256(x)). */
static int ctr_next(uint8_t ctr[16])
{
    uint8_t h[32];

    if (pa_sha256(ctr, 16, h) != PA_OK)
        return 0;
    pa_reduce(h, ctr);
    return 1;
}

/* ---- IV ------------------------------------------------------------------ */

static void test_iv_worked_example(void)
{
    uint8_t t[16], c[16], n[16], k[16], h[32], iv[16];

    pa_vec_unhex("86712bf201698fd085f186877bfe4f84", t);
    pa_vec_unhex("460b83de431d3905c6fae956cfbc33ae", c);
    pa_vec_unhex("2e6a746e3e8d5bf9721ce0a77bdb93b7", n);
    CU_ASSERT_EQUAL(pa_kdf_n(t, 3000, k), PA_OK);
    ASSERT_HEX(k, 16, "c58c5578a63e9be29d62e6483ff33fdb");
    CU_ASSERT_EQUAL(pa_hmac2(k, 16, c, 16, n, 16, h), PA_OK);
    ASSERT_HEX(h, 32, "7e75fb34814c339e19d51f8ccdb36b8d10801f4756fee9a47018f6221f82b60e");
    CU_ASSERT_EQUAL(pa_status_iv(t, c, n, iv), PA_OK);
    ASSERT_HEX(iv, 16, "6ef5e473d7b2da3a69cde9aed231dd83");
    /* Order matters: challenge first. */
    CU_ASSERT_EQUAL(pa_status_iv(t, n, c, iv), PA_OK);
    {
        uint8_t exp[16];

        pa_vec_unhex("6ef5e473d7b2da3a69cde9aed231dd83", exp);
        CU_ASSERT(memcmp(iv, exp, 16) != 0);
    }
    CU_ASSERT_EQUAL(pa_status_iv(NULL, c, n, iv), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_status_iv(t, NULL, n, iv), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_status_iv(t, c, NULL, iv), PA_ERR_INVALID_INPUT_FORMAT);
}

static void test_iv_vectors(void)
{
    pa_vec_file *f = pa_vec_open("activation-status-blob-iv.json");
    size_t checked = 0;

    for (size_t i = 0; i < pa_vec_count(f); i++) {
        json_t *in = pa_vec_input(f, i);
        uint8_t t[16], c[16], n[16], exp[16], iv[16];
        int ok = pa_vec_b64(in, "transportKey", t, 16) == 16
                 && pa_vec_b64(in, "challenge", c, 16) == 16
                 && pa_vec_b64(in, "nonce", n, 16) == 16
                 && pa_vec_b64(pa_vec_output(f, i), "iv", exp, 16) == 16
                 && pa_status_iv(t, c, n, iv) == PA_OK
                 && memcmp(iv, exp, 16) == 0;

        if (!ok)
            fprintf(stderr, "\n  status-blob-iv entry %zu failed\n", i);
        CU_ASSERT(ok);
        checked += ok;
    }
    pa_vec_done(f, checked);
}

/* ---- decryption of the official blobs ------------------------------------ */

/* Fields decrypted by the module equal the bytes at the 7.1 offsets. */
static int fields_match_plain(const pa_status_fields *fl, const uint8_t p[32])
{
    return fl->status == p[4] && fl->current_version == p[5]
           && fl->upgrade_version == p[6] && fl->ctr_byte == p[12]
           && fl->failed_attempts == p[13] && fl->max_failed_attempts == p[14]
           && fl->ctr_look_ahead == p[15]
           && memcmp(fl->ctr_data_hash, p + 16, 16) == 0;
}

static int check_data_entry(json_t *in, json_t *out)
{
    uint8_t t[16], c[16], n[16], ctr[16], blob[32], exp_hash[16];
    uint8_t iv[16], plain[32], k[16], hash[16], mine[16], re[32];
    int dist = vec_byte(out, "counterDistance");
    pa_status_fields fl;

    if (pa_vec_b64(in, "transportKey", t, 16) != 16
        || pa_vec_b64(in, "challenge", c, 16) != 16
        || pa_vec_b64(in, "nonce", n, 16) != 16
        || pa_vec_b64(in, "ctrData", ctr, 16) != 16
        || pa_vec_b64(in, "encryptedStatusBlob", blob, 32) != 32
        || pa_vec_b64(out, "ctrDataHash", exp_hash, 16) != 16 || dist < 0)
        return 0;
    /* Decrypt with the primitives, independently of the module. */
    if (pa_status_iv(t, c, n, iv) != PA_OK
        || pa_aes_cbc_decrypt_nopad(t, iv, blob, 32, plain) != PA_OK)
        return 0;
    if (memcmp(plain, magic, 4) != 0
        || plain[4] != vec_byte(out, "activationStatus")
        || plain[5] != vec_byte(out, "currentVersion")
        || plain[6] != vec_byte(out, "upgradeVersion")
        || plain[12] != vec_byte(out, "ctrByte")
        || plain[13] != vec_byte(out, "failedAttempts")
        || plain[14] != vec_byte(out, "maxFailedAttempts")
        || plain[15] != vec_byte(out, "ctrLookAhead")
        || memcmp(plain + 16, exp_hash, 16) != 0)
        return 0;
    /* CTR_DATA_HASH is the hash of the counter the server expects next:
     * counterDistance hash-chain steps ahead of the given ctrData. */
    for (int s = 0; s < dist; s++)
        if (!ctr_next(ctr))
            return 0;
    if (pa_kdf_n(t, 4000, k) != PA_OK
        || pa_kdf_internal(k, 16, ctr, 16, hash) != PA_OK
        || memcmp(hash, exp_hash, 16) != 0
        || pa_status_ctr_data_hash(t, ctr, mine) != PA_OK
        || memcmp(mine, exp_hash, 16) != 0)
        return 0;
    /* The module's client decryption gives the same fields. */
    if (pa_status_decrypt(t, c, n, blob, &fl) != PA_OK
        || !fields_match_plain(&fl, plain))
        return 0;
    /* Re-encrypting the plaintext with the same IV gives the blob back. */
    return pa_status_seal(t, iv, plain, re) == PA_OK && memcmp(re, blob, 32) == 0;
}

static void test_data_vectors(void)
{
    pa_vec_file *f = pa_vec_open("activation-status-blob-data.json");
    size_t checked = 0;

    for (size_t i = 0; i < pa_vec_count(f); i++) {
        int ok = check_data_entry(pa_vec_input(f, i), pa_vec_output(f, i));

        if (!ok)
            fprintf(stderr, "\n  status-blob-data entry %zu failed\n", i);
        CU_ASSERT(ok);
        checked += ok;
    }
    pa_vec_done(f, checked);
}

/* B.3 intermediate values (entry 1 of the data file). */
static void test_data_worked_example(void)
{
    uint8_t t[16], c[16], n[16], blob[32], iv[16], plain[32], k[16];
    pa_status_fields fl;

    pa_vec_unhex("5b15ee8afb405dfb58af29d45a0df442", t);   /* WxXuivtAXftYrynUWg30Qg== */
    pa_vec_unhex("2e1205bcd4074b1390a29464662f9f9d", c);   /* LhIFvNQHSxOQopRkZi+fnQ== */
    pa_vec_unhex("15a5a686950e663a81fb917ade00c23b", n);   /* FaWmhpUOZjqB+5F63gDCOw== */
    pa_vec_unhex("1cbf28f66db23b3dfb95283829a51439"
                 "8866bbfe596d287880e5802bb482a769", blob);
    CU_ASSERT_EQUAL(pa_status_iv(t, c, n, iv), PA_OK);
    ASSERT_HEX(iv, 16, "7fdd025434356c8f965571fbc1a6a534");
    CU_ASSERT_EQUAL(pa_aes_cbc_decrypt_nopad(t, iv, blob, 32, plain), PA_OK);
    ASSERT_HEX(plain, 32, "dec0ded10303036577f79d9d0d000521"
                          "f2e70bef4a1842e405bfc851fd1d6834");
    CU_ASSERT_EQUAL(pa_kdf_n(t, 4000, k), PA_OK);
    ASSERT_HEX(k, 16, "8d56f3c838fa79d6c98f085b921a3289");
    CU_ASSERT_EQUAL(pa_status_decrypt(t, c, n, blob, &fl), PA_OK);
    CU_ASSERT_EQUAL(fl.status, 3);
    CU_ASSERT_EQUAL(fl.current_version, 3);
    CU_ASSERT_EQUAL(fl.upgrade_version, 3);
    CU_ASSERT_EQUAL(fl.ctr_byte, 13);
    CU_ASSERT_EQUAL(fl.failed_attempts, 0);
    CU_ASSERT_EQUAL(fl.max_failed_attempts, 5);
    CU_ASSERT_EQUAL(fl.ctr_look_ahead, 33);
    ASSERT_HEX(fl.ctr_data_hash, 16, "f2e70bef4a1842e405bfc851fd1d6834");
}

/* supplementary/activation-status-blob-legacy.json: zero IV, only the
 * non-random fields are defined. */
static void test_legacy_vectors(void)
{
    pa_vec_file *f = pa_vec_open("supplementary/activation-status-blob-legacy.json");
    size_t checked = 0;

    for (size_t i = 0; i < pa_vec_count(f); i++) {
        json_t *in = pa_vec_input(f, i), *out = pa_vec_output(f, i);
        uint8_t t[16], blob[32], zero[16] = {0}, plain[32];
        pa_status_fields fl;
        int ok = pa_vec_b64(in, "transportKey", t, 16) == 16
                 && pa_vec_b64(in, "encryptedStatusBlob", blob, 32) == 32
                 && pa_aes_cbc_decrypt_nopad(t, zero, blob, 32, plain) == PA_OK
                 && memcmp(plain, magic, 4) == 0
                 && pa_status_decrypt(t, NULL, NULL, blob, &fl) == PA_OK
                 && fields_match_plain(&fl, plain)
                 && fl.status == vec_byte(out, "activationStatus")
                 && fl.current_version == vec_byte(out, "currentVersion")
                 && fl.upgrade_version == vec_byte(out, "upgradeVersion")
                 && fl.failed_attempts == vec_byte(out, "failedAttempts")
                 && fl.max_failed_attempts == vec_byte(out, "maxFailedAttempts");

        if (!ok)
            fprintf(stderr, "\n  status-blob-legacy entry %zu failed\n", i);
        CU_ASSERT(ok);
        checked += ok;
    }
    pa_vec_done(f, checked);
}

/* ---- round trips ---------------------------------------------------------- */

static void sample_fields(pa_status_fields *f)
{
    memset(f, 0, sizeof *f);
    f->status = 3;
    f->current_version = 3;
    f->upgrade_version = 3;
    f->ctr_byte = 0xab;
    f->failed_attempts = 2;
    f->max_failed_attempts = 5;
    f->ctr_look_ahead = 20;
    for (int i = 0; i < 16; i++)
        f->ctr_data_hash[i] = (uint8_t)(0x40 + i);
}

static void test_round_trip_with_challenge(void)
{
    uint8_t t[16], c[16], n1[16], n2[16], b1[32], b2[32], iv[16], p[32];
    pa_status_fields f, back;

    sample_fields(&f);
    CU_ASSERT_EQUAL_FATAL(pa_random(t, 16), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_random(c, 16), PA_OK);
    CU_ASSERT_EQUAL(pa_status_encrypt(t, c, &f, n1, b1), PA_OK);
    CU_ASSERT_EQUAL(pa_status_decrypt(t, c, n1, b1, &back), PA_OK);
    CU_ASSERT(memcmp(&f, &back, sizeof f) == 0);
    /* Layout checked with the primitives: fields at the 7.1 offsets. */
    CU_ASSERT_EQUAL(pa_status_iv(t, c, n1, iv), PA_OK);
    CU_ASSERT_EQUAL(pa_aes_cbc_decrypt_nopad(t, iv, b1, 32, p), PA_OK);
    ASSERT_HEX(p, 7, "dec0ded1030303");
    ASSERT_HEX(p + 12, 4, "ab020514");
    ASSERT_HEX(p + 16, 16, "404142434445464748494a4b4c4d4e4f");
    /* A fresh nonce (and so a fresh IV and blob) each time. */
    CU_ASSERT_EQUAL(pa_status_encrypt(t, c, &f, n2, b2), PA_OK);
    CU_ASSERT(memcmp(n1, n2, 16) != 0);
    CU_ASSERT(memcmp(b1, b2, 32) != 0);
    /* Without the nonce the caller cannot get one back. */
    CU_ASSERT_EQUAL(pa_status_encrypt(t, c, &f, NULL, b2),
                    PA_ERR_INVALID_INPUT_FORMAT);
}

static void test_round_trip_without_challenge(void)
{
    uint8_t t[16], n[16], b[32], zero[16] = {0}, p[32];
    pa_status_fields f, back;
    int random_hash = 0, random_reserved = 0;

    sample_fields(&f);
    /* The counter fields must come out random whatever the caller gives. */
    memset(f.ctr_data_hash, 0, 16);
    CU_ASSERT_EQUAL_FATAL(pa_random(t, 16), PA_OK);
    memset(n, 0x55, sizeof n);
    CU_ASSERT_EQUAL(pa_status_encrypt(t, NULL, &f, n, b), PA_OK);
    CU_ASSERT(memcmp(n, zero, 16) == 0);        /* no nonce is produced */
    CU_ASSERT_EQUAL(pa_status_decrypt(t, NULL, NULL, b, &back), PA_OK);
    CU_ASSERT_EQUAL(back.status, f.status);
    CU_ASSERT_EQUAL(back.current_version, f.current_version);
    CU_ASSERT_EQUAL(back.upgrade_version, f.upgrade_version);
    CU_ASSERT_EQUAL(back.failed_attempts, f.failed_attempts);
    CU_ASSERT_EQUAL(back.max_failed_attempts, f.max_failed_attempts);
    /* Zero IV, fields at their offsets. */
    CU_ASSERT_EQUAL(pa_aes_cbc_decrypt_nopad(t, zero, b, 32, p), PA_OK);
    ASSERT_HEX(p, 7, "dec0ded1030303");
    ASSERT_HEX(p + 13, 2, "0205");
    for (int i = 0; i < 8; i++) {
        CU_ASSERT_EQUAL(pa_status_encrypt(t, NULL, &f, NULL, b), PA_OK);
        CU_ASSERT_EQUAL(pa_aes_cbc_decrypt_nopad(t, zero, b, 32, p), PA_OK);
        random_hash += memcmp(p + 16, zero, 16) != 0;
        random_reserved += memcmp(p + 7, zero, 5) != 0;
    }
    CU_ASSERT_EQUAL(random_hash, 8);
    CU_ASSERT_EQUAL(random_reserved, 8);
    /* A legacy blob does not decrypt as a challenge blob. */
    CU_ASSERT_EQUAL(pa_status_decrypt(t, zero, zero, b, &back),
                    PA_ERR_DECRYPTION_FAILED);
}

/* ---- negatives ----------------------------------------------------------- */

static int all_zero(const pa_status_fields *f)
{
    static const pa_status_fields z;

    return memcmp(f, &z, sizeof z) == 0;
}

static void test_decrypt_failures(void)
{
    uint8_t t[16], c[16], n[16], b[32], bad[32], wrong[16];
    pa_status_fields f, back;

    sample_fields(&f);
    pa_random(t, 16);
    pa_random(c, 16);
    CU_ASSERT_EQUAL_FATAL(pa_status_encrypt(t, c, &f, n, b), PA_OK);

    memcpy(wrong, t, 16);
    wrong[0] ^= 1;
    CU_ASSERT_EQUAL(pa_status_decrypt(wrong, c, n, b, &back),
                    PA_ERR_DECRYPTION_FAILED);
    CU_ASSERT(all_zero(&back));
    memcpy(wrong, c, 16);
    wrong[15] ^= 0x80;
    CU_ASSERT_EQUAL(pa_status_decrypt(t, wrong, n, b, &back),
                    PA_ERR_DECRYPTION_FAILED);
    CU_ASSERT(all_zero(&back));
    memcpy(wrong, n, 16);
    wrong[3] ^= 4;
    CU_ASSERT_EQUAL(pa_status_decrypt(t, c, wrong, b, &back),
                    PA_ERR_DECRYPTION_FAILED);
    /* Challenge blob read as a legacy one. */
    CU_ASSERT_EQUAL(pa_status_decrypt(t, NULL, NULL, b, &back),
                    PA_ERR_DECRYPTION_FAILED);
    /* A tampered first ciphertext block garbles the magic. */
    memcpy(bad, b, 32);
    bad[2] ^= 1;
    CU_ASSERT_EQUAL(pa_status_decrypt(t, c, n, bad, &back),
                    PA_ERR_DECRYPTION_FAILED);
    /* A random blob (unknown activation) does not decrypt. */
    CU_ASSERT_EQUAL(pa_status_random_blob(bad), PA_OK);
    CU_ASSERT_EQUAL(pa_status_decrypt(t, c, n, bad, &back),
                    PA_ERR_DECRYPTION_FAILED);
    /* Argument errors. */
    CU_ASSERT_EQUAL(pa_status_decrypt(t, c, NULL, b, &back),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_status_decrypt(t, NULL, n, b, &back),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_status_decrypt(NULL, c, n, b, &back),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_status_decrypt(t, c, n, NULL, &back),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_status_decrypt(t, c, n, b, NULL),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_status_encrypt(NULL, c, &f, n, b),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_status_encrypt(t, c, NULL, n, b),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_status_encrypt(t, c, &f, n, NULL),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_status_ctr_data_hash(t, NULL, wrong),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_status_seal(t, NULL, b, bad), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_status_random_blob(NULL), PA_ERR_INVALID_INPUT_FORMAT);
    /* The original still decrypts. */
    CU_ASSERT_EQUAL(pa_status_decrypt(t, c, n, b, &back), PA_OK);
    CU_ASSERT(memcmp(&f, &back, sizeof f) == 0);
}

static void test_random_blob(void)
{
    uint8_t a[32], b[32];

    CU_ASSERT_EQUAL(pa_status_random_blob(a), PA_OK);
    CU_ASSERT_EQUAL(pa_status_random_blob(b), PA_OK);
    CU_ASSERT(memcmp(a, b, 32) != 0);
}

int register_statusblob_suite(void)
{
    CU_pSuite s = CU_add_suite("statusblob", NULL, NULL);

    if (s == NULL)
        return -1;
    if (!CU_add_test(s, "iv worked example B.2", test_iv_worked_example)
        || !CU_add_test(s, "activation-status-blob-iv.json", test_iv_vectors)
        || !CU_add_test(s, "activation-status-blob-data.json", test_data_vectors)
        || !CU_add_test(s, "decryption worked example B.3", test_data_worked_example)
        || !CU_add_test(s, "activation-status-blob-legacy.json", test_legacy_vectors)
        || !CU_add_test(s, "round trip with challenge", test_round_trip_with_challenge)
        || !CU_add_test(s, "round trip without challenge", test_round_trip_without_challenge)
        || !CU_add_test(s, "decrypt failures", test_decrypt_failures)
        || !CU_add_test(s, "random blob", test_random_blob))
        return -1;
    return 0;
}
