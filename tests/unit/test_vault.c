/* test_vault.c - vault key transport (CRYPTO.md 11.1, 14.4). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "crypto/eckey.h"
#include "crypto/keys.h"
#include "crypto/primitives.h"
#include "crypto/vault.h"
#include "tests/unit/suites.h"
#include "tests/unit/vectors.h"

static void test_vectors(void)
{
    pa_vec_file *f = pa_vec_open("supplementary/vault-unlock.json");
    size_t checked = 0, seen_v2 = 0, seen_v3 = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    for (size_t i = 0; i < pa_vec_count(f); i++) {
        json_t *in = pa_vec_input(f, i), *out = pa_vec_output(f, i);
        const char *version = pa_vec_str(in, "version");
        const char *ctr = pa_vec_str(in, "counter");
        uint8_t m_exp[32], c_exp[64], m[16], c[32], v[16];
        pa_eckey *srv = NULL, *dev = NULL;
        pa_derived_keys k;
        int v2 = version != NULL && strcmp(version, "2") == 0;
        int64_t counter = 0;
        int ok = pa_ec_priv_import_b64(pa_vec_str(in, "serverPrivateKey"),
                                       &srv) == PA_OK
                 && pa_ec_pub_import_b64(pa_vec_str(in, "devicePublicKey"),
                                         &dev) == PA_OK
                 && pa_vec_b64(out, "masterSecretKey", m_exp, sizeof m_exp)
                        == 16
                 && pa_vec_b64(out, "encryptedVaultEncryptionKey", c_exp,
                               sizeof c_exp) == 32
                 && (v2 || strcmp(version, "3") == 0)
                 && (v2 == (ctr != NULL))
                 && pa_keys_master_secret(srv, dev, m) == PA_OK
                 && memcmp(m, m_exp, 16) == 0
                 && pa_keys_derive(m, &k) == PA_OK;

        if (ok && v2) {
            char *end = NULL;

            errno = 0;
            counter = strtoll(ctr, &end, 10);
            ok = errno == 0 && end != ctr && *end == '\0'
                 && pa_vault_encrypt_key_v2(k.transport, k.vault, counter, c)
                        == PA_OK
                 && memcmp(c, c_exp, 32) == 0
                 && pa_vault_decrypt_key_v2(k.transport, counter, c_exp, 32,
                                            v) == PA_OK
                 && memcmp(v, k.vault, 16) == 0
                 /* Not the v3 construction, nor another counter. */
                 && pa_vault_decrypt_key_v3(k.transport, c_exp, 32, v)
                        == PA_ERR_DECRYPTION_FAILED
                 && pa_vault_decrypt_key_v2(k.transport, counter + 1, c_exp,
                                            32, v) == PA_ERR_DECRYPTION_FAILED;
            seen_v2 += ok;
        } else if (ok) {
            ok = pa_vault_encrypt_key_v3(k.transport, k.vault, c) == PA_OK
                 && memcmp(c, c_exp, 32) == 0
                 && pa_vault_decrypt_key_v3(k.transport, c_exp, 32, v) == PA_OK
                 && memcmp(v, k.vault, 16) == 0
                 && pa_vault_decrypt_key_v3(k.vault, c_exp, 32, v)
                        == PA_ERR_DECRYPTION_FAILED;
            seen_v3 += ok;
        }
        CU_ASSERT(ok);
        checked += ok;
        pa_keys_wipe(&k);
        pa_ec_free(srv);
        pa_ec_free(dev);
    }
    CU_ASSERT(seen_v2 > 0 && seen_v3 > 0);
    pa_vec_done(f, checked);
}

/* Zero IV, PKCS#7, KDF_N key for v2: checked against the primitives. */
static void test_construction(void)
{
    uint8_t t[16], vault[16], c[32], v2key[16], *ref = NULL;
    size_t ref_len = 0;
    static const uint8_t zero[16];

    pa_random(t, sizeof t);
    pa_random(vault, sizeof vault);
    CU_ASSERT_EQUAL(pa_vault_encrypt_key_v3(t, vault, c), PA_OK);
    CU_ASSERT_EQUAL(pa_aes_cbc_encrypt(t, zero, vault, 16, &ref, &ref_len),
                    PA_OK);
    CU_ASSERT(ref_len == 32 && memcmp(ref, c, 32) == 0);
    free(ref);
    CU_ASSERT_EQUAL(pa_vault_encrypt_key_v2(t, vault, 1234567, c), PA_OK);
    pa_kdf_n(t, 1234567, v2key);
    CU_ASSERT_EQUAL(pa_aes_cbc_encrypt(v2key, zero, vault, 16, &ref,
                                       &ref_len), PA_OK);
    CU_ASSERT(ref_len == 32 && memcmp(ref, c, 32) == 0);
    free(ref);
    /* Counters are signed 64-bit; negative and extreme values work. */
    for (int64_t ctr = -2; ctr <= 2; ctr++) {
        uint8_t back[16];

        CU_ASSERT_EQUAL(pa_vault_encrypt_key_v2(t, vault, ctr, c), PA_OK);
        CU_ASSERT_EQUAL(pa_vault_decrypt_key_v2(t, ctr, c, 32, back), PA_OK);
        CU_ASSERT(memcmp(back, vault, 16) == 0);
    }
}

static void test_rejects(void)
{
    uint8_t t[16], vault[16], c[48], v[16], wrong[16];
    int refused = 0;

    pa_random(t, sizeof t);
    pa_random(vault, sizeof vault);
    CU_ASSERT_EQUAL_FATAL(pa_vault_encrypt_key_v3(t, vault, c), PA_OK);
    /* Wrong transport keys: refused, or at least never the vault key. */
    for (int i = 0; i < 64; i++) {
        pa_err e;

        memcpy(wrong, t, 16);
        wrong[i % 16] ^= (uint8_t)(1u << (i / 16));
        memset(v, 0x5a, sizeof v);
        e = pa_vault_decrypt_key_v3(wrong, c, 32, v);
        CU_ASSERT(e == PA_ERR_DECRYPTION_FAILED
                  || (e == PA_OK && memcmp(v, vault, 16) != 0));
        if (e != PA_OK) {
            static const uint8_t zero[16];

            CU_ASSERT(memcmp(v, zero, 16) == 0);
            refused++;
        }
    }
    CU_ASSERT(refused > 60);
    /* Truncated, extended, empty, missing input. */
    CU_ASSERT_EQUAL(pa_vault_decrypt_key_v3(t, c, 31, v),
                    PA_ERR_DECRYPTION_FAILED);
    CU_ASSERT_EQUAL(pa_vault_decrypt_key_v3(t, c, 16, v),
                    PA_ERR_DECRYPTION_FAILED);
    CU_ASSERT_EQUAL(pa_vault_decrypt_key_v3(t, c, 0, v),
                    PA_ERR_DECRYPTION_FAILED);
    CU_ASSERT_EQUAL(pa_vault_decrypt_key_v3(t, NULL, 32, v),
                    PA_ERR_DECRYPTION_FAILED);
    memset(c + 32, 0, 16);
    CU_ASSERT_EQUAL(pa_vault_decrypt_key_v3(t, c, 48, v),
                    PA_ERR_DECRYPTION_FAILED);
    /* Tampered last block: padding breaks. */
    c[31] ^= 0x01;
    CU_ASSERT_EQUAL(pa_vault_decrypt_key_v3(t, c, 32, v),
                    PA_ERR_DECRYPTION_FAILED);
    c[31] ^= 0x01;
    CU_ASSERT_EQUAL(pa_vault_decrypt_key_v3(t, c, 32, v), PA_OK);
    CU_ASSERT(memcmp(v, vault, 16) == 0);
    /* A 48-byte ciphertext with valid padding (32-byte plaintext) is not a
     * vault key either. */
    {
        static const uint8_t zero[16];
        uint8_t two[32], *ct = NULL;
        size_t len = 0;

        memset(two, 7, sizeof two);
        CU_ASSERT_EQUAL(pa_aes_cbc_encrypt(t, zero, two, 32, &ct, &len),
                        PA_OK);
        CU_ASSERT_EQUAL(len, 48);
        CU_ASSERT_EQUAL(pa_vault_decrypt_key_v3(t, ct, len, v),
                        PA_ERR_DECRYPTION_FAILED);
        free(ct);
        /* 32 bytes with valid padding but a 17..31-byte plaintext. */
        for (size_t n = 17; n < 32; n += 7) {
            CU_ASSERT_EQUAL(pa_aes_cbc_encrypt(t, zero, two, n, &ct, &len),
                            PA_OK);
            CU_ASSERT_EQUAL(len, 32);
            CU_ASSERT_EQUAL(pa_vault_decrypt_key_v3(t, ct, len, v),
                            PA_ERR_DECRYPTION_FAILED);
            free(ct);
        }
    }
    /* v2 with a wrong counter. */
    CU_ASSERT_EQUAL_FATAL(pa_vault_encrypt_key_v2(t, vault, 21, c), PA_OK);
    CU_ASSERT_EQUAL(pa_vault_decrypt_key_v2(t, 22, c, 32, v),
                    PA_ERR_DECRYPTION_FAILED);
    CU_ASSERT_EQUAL(pa_vault_decrypt_key_v2(t, 21, c, 31, v),
                    PA_ERR_DECRYPTION_FAILED);
    /* Argument errors. */
    CU_ASSERT_NOT_EQUAL(pa_vault_encrypt_key_v3(NULL, vault, c), PA_OK);
    CU_ASSERT_NOT_EQUAL(pa_vault_encrypt_key_v3(t, NULL, c), PA_OK);
    CU_ASSERT_NOT_EQUAL(pa_vault_encrypt_key_v2(t, vault, 1, NULL), PA_OK);
    CU_ASSERT_EQUAL(pa_vault_decrypt_key_v2(NULL, 1, c, 32, v),
                    PA_ERR_DECRYPTION_FAILED);
    CU_ASSERT_EQUAL(pa_vault_decrypt_key_v3(t, c, 32, NULL),
                    PA_ERR_DECRYPTION_FAILED);
}

int register_vault_suite(void)
{
    CU_pSuite s = CU_add_suite("vault", NULL, NULL);

    if (s == NULL)
        return -1;
    if (!CU_add_test(s, "supplementary/vault-unlock.json", test_vectors)
        || !CU_add_test(s, "construction", test_construction)
        || !CU_add_test(s, "rejects", test_rejects))
        return -1;
    return 0;
}
