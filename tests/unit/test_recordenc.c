/* test_recordenc.c - database record encryption (CRYPTO.md 16). */
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "crypto/primitives.h"
#include "crypto/recordenc.h"
#include "tests/unit/suites.h"
#include "tests/unit/vectors.h"
#include "util/base64.h"

/* Record key for a vector entry; alt != 0 derives the key of a neighbouring
 * row (other activation id / next PUK index) to model a moved value. */
static pa_err entry_key(json_t *in, const uint8_t *master, size_t ml, int alt,
                        uint8_t key[16])
{
    const char *rec = pa_vec_str(in, "record");

    if (rec != NULL && strcmp(rec, "serverPrivateKey") == 0)
        return pa_record_key_server_private(
            master, ml, pa_vec_str(in, "userId"),
            alt ? "00000000-0000-0000-0000-000000000000" : pa_vec_str(in, "activationId"),
            key);
    if (rec != NULL && strcmp(rec, "recoveryPuk") == 0) {
        const char *app = pa_vec_str(in, "applicationId");
        const char *idx = pa_vec_str(in, "pukIndex");

        if (app == NULL || idx == NULL)
            return PA_ERR_INVALID_REQUEST;
        return pa_record_key_puk(master, ml, strtoll(app, NULL, 10),
                                 pa_vec_str(in, "userId"),
                                 pa_vec_str(in, "recoveryCode"),
                                 strtoll(idx, NULL, 10) + alt, key);
    }
    return PA_ERR_INVALID_REQUEST;
}

/* The column helpers on the vector's own value (mode 1). */
static int read_helper_ok(json_t *in, const uint8_t *master, size_t ml,
                          const char *db, const uint8_t *pt, size_t ptl)
{
    int ok = 0;

    if (strcmp(pa_vec_str(in, "record"), "serverPrivateKey") == 0) {
        uint8_t *k = NULL;
        size_t kl = 0;

        ok = pa_record_read_server_private(PA_RECORD_AES_HMAC, master, ml,
                                           pa_vec_str(in, "userId"),
                                           pa_vec_str(in, "activationId"), db,
                                           &k, &kl) == PA_OK
             && kl == ptl && memcmp(k, pt, ptl) == 0;
        pa_secure_free(k, kl);
    } else {
        char *h = NULL;

        ok = pa_record_read_puk(PA_RECORD_AES_HMAC, master, ml,
                                strtoll(pa_vec_str(in, "applicationId"), NULL, 10),
                                pa_vec_str(in, "userId"),
                                pa_vec_str(in, "recoveryCode"),
                                strtoll(pa_vec_str(in, "pukIndex"), NULL, 10),
                                db, &h) == PA_OK
             && strlen(h) == ptl && memcmp(h, pt, ptl) == 0;
        free(h);
    }
    return ok;
}

/* Decrypting with a wrong key must fail or at least not give the plaintext
 * (a wrong key yields valid padding with probability ~1/256). */
static int wrong_key_refused(const uint8_t key[16], const char *db,
                             const uint8_t *pt, size_t ptl)
{
    uint8_t *p = NULL;
    size_t n = 0;
    pa_err e = pa_record_decrypt(key, db, &p, &n);
    int refused = e == PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR
                  || (e == PA_OK && (n != ptl || memcmp(p, pt, n) != 0));

    if (e == PA_OK)
        pa_secure_free(p, n);
    return refused;
}

static void test_record_vectors(void)
{
    pa_vec_file *f = pa_vec_open("supplementary/db-record-encryption.json");
    size_t checked = 0;

    for (size_t i = 0; f != NULL && i < pa_vec_count(f); i++) {
        json_t *in = pa_vec_input(f, i), *out = pa_vec_output(f, i);
        const char *rec = pa_vec_str(in, "record");
        const char *ptext = pa_vec_str(in, "plaintext");
        const char *db = pa_vec_str(out, "dbValue");
        uint8_t master[64], iv[16], exp_key[16], key[16], other[16];
        uint8_t pt[256], *dec = NULL;
        size_t ml = pa_vec_b64(in, "masterDbEncryptionKey", master, sizeof master);
        size_t ptl = 0, decl = 0;
        char *enc = NULL;
        int ok = rec != NULL && ptext != NULL && db != NULL && ml != (size_t)-1
                 && pa_vec_b64(in, "iv", iv, 16) == 16
                 && pa_vec_b64(out, "derivedKey", exp_key, 16) == 16;

        /* Private keys are given as Base64 of their bytes, PUK hashes as text. */
        if (ok && strcmp(rec, "serverPrivateKey") == 0) {
            ptl = pa_vec_b64(in, "plaintext", pt, sizeof pt);
            ok = ptl != (size_t)-1;
        } else if (ok) {
            ptl = strlen(ptext);
            ok = ptl < sizeof pt;
            if (ok)
                memcpy(pt, ptext, ptl);
        }
        ok = ok && entry_key(in, master, ml, 0, key) == PA_OK
             && memcmp(key, exp_key, 16) == 0
             && pa_record_encrypt_iv(key, iv, pt, ptl, &enc) == PA_OK
             && strcmp(enc, db) == 0
             && pa_record_decrypt(key, db, &dec, &decl) == PA_OK
             && decl == ptl && memcmp(dec, pt, ptl) == 0 && dec[decl] == 0
             && read_helper_ok(in, master, ml, db, pt, ptl)
             /* moved to another row: other key, no plaintext */
             && entry_key(in, master, ml, 1, other) == PA_OK
             && memcmp(other, key, 16) != 0
             && wrong_key_refused(other, db, pt, ptl);
        CU_ASSERT(ok);
        checked += ok;
        free(enc);
        pa_secure_free(dec, decl);
    }
    pa_vec_done(f, checked);
}

static void test_decrypt_rejects(void)
{
    uint8_t key[16], wrong[16], pt[40], *p = NULL, raw[80];
    size_t n = 0, rl = 0;
    char *enc = NULL, *t;
    size_t len;

    pa_random(key, 16);
    memcpy(wrong, key, 16);
    wrong[0] ^= 1;
    memset(pt, 'x', sizeof pt);
    CU_ASSERT_EQUAL_FATAL(pa_record_encrypt(key, pt, sizeof pt, &enc), PA_OK);
    len = strlen(enc);
    CU_ASSERT_EQUAL(len, PA_B64_ENCLEN(16 + 48));
    CU_ASSERT(wrong_key_refused(wrong, enc, pt, sizeof pt));

    t = malloc(len + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    /* truncated by 3 bytes: misaligned ciphertext */
    memcpy(t, enc, len - 4);
    t[len - 4] = '\0';
    CU_ASSERT_EQUAL(pa_record_decrypt(key, t, &p, &n), PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR);
    /* tampered last block: the padding breaks (or the text changes) */
    CU_ASSERT_EQUAL(pa_b64_decode(enc, raw, &rl), PA_OK);
    raw[rl - 1] ^= 0x55;
    pa_b64_encode(raw, rl, t);
    CU_ASSERT(wrong_key_refused(key, t, pt, sizeof pt));
    free(t);

    /* IV only: 16 bytes pass the length rule, then decryption fails */
    CU_ASSERT_EQUAL(pa_record_decrypt(key, "AAAAAAAAAAAAAAAAAAAAAA==", &p, &n),
                    PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR);
    /* fewer than 16 bytes, not Base64, nothing: ERR0010 */
    CU_ASSERT_EQUAL(pa_record_decrypt(key, "AAAAAAAAAAAAAAAAAAAA", &p, &n),
                    PA_ERR_INVALID_KEY_FORMAT);
    CU_ASSERT_EQUAL(pa_record_decrypt(key, "", &p, &n), PA_ERR_INVALID_KEY_FORMAT);
    CU_ASSERT_EQUAL(pa_record_decrypt(key, "not base64!", &p, &n), PA_ERR_INVALID_KEY_FORMAT);
    CU_ASSERT_EQUAL(pa_record_decrypt(key, "A", &p, &n), PA_ERR_INVALID_KEY_FORMAT);
    CU_ASSERT_EQUAL(pa_record_decrypt(key, NULL, &p, &n), PA_ERR_INVALID_KEY_FORMAT);
    CU_ASSERT_PTR_NULL(p);
    free(enc);
}

static void test_random_iv_and_empty(void)
{
    uint8_t key[16] = {7}, *p = NULL;
    size_t n = 1;
    char *a = NULL, *b = NULL;

    CU_ASSERT_EQUAL(pa_record_encrypt(key, (const uint8_t *)"abc", 3, &a), PA_OK);
    CU_ASSERT_EQUAL(pa_record_encrypt(key, (const uint8_t *)"abc", 3, &b), PA_OK);
    CU_ASSERT(a != NULL && b != NULL && strcmp(a, b) != 0);
    free(a);
    free(b);
    /* Empty plaintext: IV plus one padding block. */
    CU_ASSERT_EQUAL_FATAL(pa_record_encrypt(key, NULL, 0, &a), PA_OK);
    CU_ASSERT_EQUAL(strlen(a), PA_B64_ENCLEN(32));
    CU_ASSERT_EQUAL(pa_record_decrypt(key, a, &p, &n), PA_OK);
    CU_ASSERT_EQUAL(n, 0);
    pa_secure_free(p, n);
    free(a);
}

static void test_modes(void)
{
    static const uint8_t master[16] = {1, 2, 3};
    static const uint8_t priv[32] = {0x11, 0x22, 0x33};
    const char *hash = "$argon2i$v=19$m=32768,t=3,p=16$c2FsdHNhbHQ$AAAA";
    uint8_t k[16], *out = NULL;
    size_t n = 0;
    char *col = NULL, *h = NULL;
    pa_record_mode mode = (pa_record_mode)-1;

    CU_ASSERT_EQUAL(pa_record_check_mode(0, 0), PA_OK);
    CU_ASSERT_EQUAL(pa_record_check_mode(0, 1), PA_OK);
    CU_ASSERT_EQUAL(pa_record_check_mode(1, 1), PA_OK);
    CU_ASSERT_EQUAL(pa_record_check_mode(1, 0), PA_ERR_MISSING_MASTER_DB_ENCRYPTION_KEY);
    CU_ASSERT_EQUAL(pa_record_check_mode(2, 1), PA_ERR_UNSUPPORTED_ENCRYPTION_MODE);
    CU_ASSERT_EQUAL(pa_record_check_mode(-1, 0), PA_ERR_UNSUPPORTED_ENCRYPTION_MODE);
    CU_ASSERT_EQUAL(pa_record_mode_for_write(0), PA_RECORD_NO_ENCRYPTION);
    CU_ASSERT_EQUAL(pa_record_mode_for_write(1), PA_RECORD_AES_HMAC);
    CU_ASSERT_EQUAL(pa_record_key_server_private(NULL, 0, "u", "a", k),
                    PA_ERR_MISSING_MASTER_DB_ENCRYPTION_KEY);
    CU_ASSERT_EQUAL(pa_record_key_puk(master, 0, 1, "u", "c", 1, k),
                    PA_ERR_MISSING_MASTER_DB_ENCRYPTION_KEY);

    /* With a master key: mode 1, value bound to its row. */
    CU_ASSERT_EQUAL_FATAL(pa_record_write_server_private(master, 16, "u", "a1", priv, 32,
                                                         &mode, &col), PA_OK);
    CU_ASSERT_EQUAL(mode, PA_RECORD_AES_HMAC);
    CU_ASSERT_EQUAL(pa_record_read_server_private(1, master, 16, "u", "a1", col, &out, &n),
                    PA_OK);
    CU_ASSERT(n == 32 && memcmp(out, priv, 32) == 0);
    pa_secure_free(out, n);
    out = NULL;
    CU_ASSERT_EQUAL(pa_record_read_server_private(1, NULL, 0, "u", "a1", col, &out, &n),
                    PA_ERR_MISSING_MASTER_DB_ENCRYPTION_KEY);
    CU_ASSERT_EQUAL(pa_record_read_server_private(3, master, 16, "u", "a1", col, &out, &n),
                    PA_ERR_UNSUPPORTED_ENCRYPTION_MODE);
    {
        pa_err e = pa_record_read_server_private(1, master, 16, "u", "a2", col, &out, &n);

        CU_ASSERT(e == PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR
                  || (e == PA_OK && (n != 32 || memcmp(out, priv, 32) != 0)));
        if (e == PA_OK)
            pa_secure_free(out, n);
        out = NULL;
    }
    free(col);

    /* Without one: mode 0, plain Base64 key / plain hash. */
    CU_ASSERT_EQUAL_FATAL(pa_record_write_server_private(NULL, 0, "u", "a1", priv, 32,
                                                         &mode, &col), PA_OK);
    CU_ASSERT_EQUAL(mode, PA_RECORD_NO_ENCRYPTION);
    CU_ASSERT_EQUAL(strcmp(col, "ESIzAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="), 0);
    CU_ASSERT_EQUAL(pa_record_read_server_private(0, NULL, 0, "u", "a1", col, &out, &n),
                    PA_OK);
    CU_ASSERT(n == 32 && memcmp(out, priv, 32) == 0);
    pa_secure_free(out, n);
    out = NULL;
    free(col);
    CU_ASSERT_EQUAL(pa_record_read_server_private(0, NULL, 0, "u", "a1", "!!", &out, &n),
                    PA_ERR_INVALID_KEY_FORMAT);

    CU_ASSERT_EQUAL_FATAL(pa_record_write_puk(master, 16, 5, "u", "AAAAA-AAAAA-AAAAA-AAAAA", 1,
                                              hash, &mode, &col), PA_OK);
    CU_ASSERT_EQUAL(mode, PA_RECORD_AES_HMAC);
    CU_ASSERT(strcmp(col, hash) != 0);
    CU_ASSERT_EQUAL(pa_record_read_puk(1, master, 16, 5, "u", "AAAAA-AAAAA-AAAAA-AAAAA", 1,
                                       col, &h), PA_OK);
    CU_ASSERT(h != NULL && strcmp(h, hash) == 0);
    free(h);
    h = NULL;
    CU_ASSERT_EQUAL(pa_record_read_puk(7, master, 16, 5, "u", "AAAAA-AAAAA-AAAAA-AAAAA", 1,
                                       col, &h), PA_ERR_UNSUPPORTED_ENCRYPTION_MODE);
    free(col);
    CU_ASSERT_EQUAL_FATAL(pa_record_write_puk(NULL, 0, 5, "u", "AAAAA-AAAAA-AAAAA-AAAAA", 1,
                                              hash, &mode, &col), PA_OK);
    CU_ASSERT_EQUAL(mode, PA_RECORD_NO_ENCRYPTION);
    CU_ASSERT_STRING_EQUAL(col, hash);
    CU_ASSERT_EQUAL(pa_record_read_puk(0, NULL, 0, 5, "u", "c", 1, col, &h), PA_OK);
    CU_ASSERT(h != NULL && strcmp(h, hash) == 0);
    free(h);
    free(col);
}

int register_recordenc_suite(void)
{
    CU_pSuite s = CU_add_suite("recordenc", NULL, NULL);

    if (s == NULL)
        return -1;
    if (!CU_add_test(s, "db-record-encryption.json", test_record_vectors)
        || !CU_add_test(s, "decrypt rejects", test_decrypt_rejects)
        || !CU_add_test(s, "random IV, empty plaintext", test_random_iv_and_empty)
        || !CU_add_test(s, "modes and column helpers", test_modes))
        return -1;
    return 0;
}
