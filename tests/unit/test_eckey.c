/* test_eckey.c - P-256 keys, ECDH, ECDSA, fingerprint X (CRYPTO.md 2.1-2.4, 2.12). */
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "crypto/eckey.h"
#include "crypto/primitives.h"
#include "tests/unit/suites.h"
#include "tests/unit/vectors.h"
#include "util/base64.h"

/* compute-master-secret-key.json: both ECDH directions, priv*G == pub and
 * the BigInteger form round trip. */
static void test_master_secret_vectors(void)
{
    pa_vec_file *f = pa_vec_open("compute-master-secret-key.json");
    size_t checked = 0;

    for (size_t i = 0; i < pa_vec_count(f); i++) {
        json_t *in = pa_vec_input(f, i);
        uint8_t dpriv[40], spriv[40], dpub[65], spub[65], exp[16];
        uint8_t a[16], b[16], pub[65], re[33];
        size_t dl = pa_vec_b64(in, "devicePrivateKey", dpriv, sizeof dpriv);
        size_t sl = pa_vec_b64(in, "serverPrivateKey", spriv, sizeof spriv);
        size_t rl = 0;
        pa_eckey *dk = NULL, *sk = NULL, *dp = NULL, *sp = NULL;
        int ok = pa_vec_b64(in, "devicePublicKey", dpub, 65) == 65
                 && pa_vec_b64(in, "serverPublicKey", spub, 65) == 65
                 && pa_vec_b64(pa_vec_output(f, i), "masterSecretKey", exp, 16) == 16
                 && pa_ec_priv_import(dpriv, dl, &dk) == PA_OK
                 && pa_ec_priv_import(spriv, sl, &sk) == PA_OK
                 && pa_ec_pub_import(dpub, 65, &dp) == PA_OK
                 && pa_ec_pub_import(spub, 65, &sp) == PA_OK
                 && pa_ec_ecdh16(dk, sp, a) == PA_OK
                 && pa_ec_ecdh16(sk, dp, b) == PA_OK
                 && memcmp(a, exp, 16) == 0 && memcmp(b, exp, 16) == 0
                 && pa_ec_pub_export(dk, pub) == PA_OK && memcmp(pub, dpub, 65) == 0
                 && pa_ec_pub_export(sk, pub) == PA_OK && memcmp(pub, spub, 65) == 0
                 && pa_ec_priv_export(dk, re, &rl) == PA_OK && rl == dl
                 && memcmp(re, dpriv, dl) == 0
                 && pa_ec_priv_export(sk, re, &rl) == PA_OK && rl == sl
                 && memcmp(re, spriv, sl) == 0;

        CU_ASSERT(ok);
        checked += ok;
        pa_ec_free(dk);
        pa_ec_free(sk);
        pa_ec_free(dp);
        pa_ec_free(sp);
    }
    pa_vec_done(f, checked);
}

static void test_public_key_forms(void)
{
    pa_eckey *k = NULL, *c = NULL;
    uint8_t unc[65], comp[33], back[65];

    CU_ASSERT_EQUAL_FATAL(pa_ec_generate(&k), PA_OK);
    CU_ASSERT_EQUAL(pa_ec_pub_export(k, unc), PA_OK);
    CU_ASSERT_EQUAL(unc[0], 0x04);
    CU_ASSERT_EQUAL(pa_ec_pub_export_compressed(k, comp), PA_OK);
    CU_ASSERT(comp[0] == 0x02 || comp[0] == 0x03);
    CU_ASSERT(memcmp(comp + 1, unc + 1, 32) == 0);
    /* A compressed import is re-encoded uncompressed. */
    CU_ASSERT_EQUAL_FATAL(pa_ec_pub_import(comp, 33, &c), PA_OK);
    CU_ASSERT_EQUAL(pa_ec_pub_export(c, back), PA_OK);
    CU_ASSERT(memcmp(back, unc, 65) == 0);
    CU_ASSERT(!pa_ec_has_private(c));
    CU_ASSERT(pa_ec_has_private(k));
    pa_ec_free(c);
    pa_ec_free(k);
}

static void test_public_key_rejects(void)
{
    pa_eckey *k = NULL, *bad = NULL;
    uint8_t unc[65], b[65];

    CU_ASSERT_EQUAL_FATAL(pa_ec_generate(&k), PA_OK);
    pa_ec_pub_export(k, unc);
    b[0] = 0x00;                                      /* infinity */
    CU_ASSERT_EQUAL(pa_ec_pub_import(b, 1, &bad), PA_ERR_INVALID_KEY_FORMAT);
    memcpy(b, unc, 65);
    b[0] = 0x05;                                      /* bad prefix */
    CU_ASSERT_EQUAL(pa_ec_pub_import(b, 65, &bad), PA_ERR_INVALID_KEY_FORMAT);
    memcpy(b, unc, 65);
    b[64] ^= 1;                                       /* off the curve */
    CU_ASSERT_EQUAL(pa_ec_pub_import(b, 65, &bad), PA_ERR_INVALID_KEY_FORMAT);
    CU_ASSERT_EQUAL(pa_ec_pub_import(unc, 64, &bad), PA_ERR_INVALID_KEY_FORMAT);
    CU_ASSERT_EQUAL(pa_ec_pub_import(unc, 33, &bad), PA_ERR_INVALID_KEY_FORMAT);
    memset(b, 0xff, 65);                              /* x, y >= p */
    b[0] = 0x04;
    CU_ASSERT_EQUAL(pa_ec_pub_import(b, 65, &bad), PA_ERR_INVALID_KEY_FORMAT);
    memset(b, 0, 65);                                 /* (0,0) */
    b[0] = 0x04;
    CU_ASSERT_EQUAL(pa_ec_pub_import(b, 65, &bad), PA_ERR_INVALID_KEY_FORMAT);
    /* x = 5 has no square root of x^3 - 3x + b on P-256? try a few x
     * values: at least one compressed X without a root must be refused. */
    {
        int refused = 0;

        for (int x = 1; x < 20; x++) {
            uint8_t c[33] = {0x02};
            pa_eckey *t = NULL;

            c[32] = (uint8_t)x;
            if (pa_ec_pub_import(c, 33, &t) != PA_OK)
                refused++;
            pa_ec_free(t);
        }
        CU_ASSERT(refused > 0);
    }
    CU_ASSERT_EQUAL(pa_ec_pub_import_b64("not base64!", &bad), PA_ERR_INVALID_KEY_FORMAT);
    CU_ASSERT_PTR_NULL(bad);
    pa_ec_free(k);
}

static void test_private_key_rejects(void)
{
    static const uint8_t order[32] = {
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
        0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
    uint8_t b[34] = {0};
    pa_eckey *k = NULL;

    CU_ASSERT_EQUAL(pa_ec_priv_import(b, 32, &k), PA_ERR_INVALID_KEY_FORMAT);
    memcpy(b + 1, order, 32);                   /* d = n (with sign byte) */
    CU_ASSERT_EQUAL(pa_ec_priv_import(b, 33, &k), PA_ERR_INVALID_KEY_FORMAT);
    CU_ASSERT_EQUAL(pa_ec_priv_import(order, 32, &k), PA_ERR_INVALID_KEY_FORMAT);
    CU_ASSERT_EQUAL(pa_ec_priv_import(b, 0, &k), PA_ERR_INVALID_KEY_FORMAT);
    b[32] = 0x50;                               /* d = n - 1 is fine ... */
    b[33] = 0;
    memcpy(b + 1, order, 32);
    b[32] = 0x50;
    CU_ASSERT_EQUAL(pa_ec_priv_import(b, 33, &k), PA_OK);
    pa_ec_free(k);
    k = NULL;
    /* Extra leading zero bytes are accepted (mobile SDK form). */
    memset(b, 0, sizeof b);
    b[33] = 7;
    CU_ASSERT_EQUAL(pa_ec_priv_import(b, 34, &k), PA_OK);
    {
        uint8_t re[33];
        size_t rl = 0;

        CU_ASSERT_EQUAL(pa_ec_priv_export(k, re, &rl), PA_OK);
        CU_ASSERT(rl == 1 && re[0] == 7);      /* minimal BigInteger form */
    }
    pa_ec_free(k);
}

static void test_private_export_forms(void)
{
    int seen32 = 0, seen33 = 0;

    for (int i = 0; i < 64 && !(seen32 && seen33); i++) {
        pa_eckey *k = NULL, *k2 = NULL;
        uint8_t re[33], pub1[65], pub2[65];
        size_t rl = 0;

        CU_ASSERT_EQUAL_FATAL(pa_ec_generate(&k), PA_OK);
        CU_ASSERT_EQUAL(pa_ec_priv_export(k, re, &rl), PA_OK);
        CU_ASSERT(re[0] < 0x80);
        CU_ASSERT(rl <= 33 && (rl < 33 || re[0] == 0));
        seen32 |= rl == 32;
        seen33 |= rl == 33;
        CU_ASSERT_EQUAL(pa_ec_priv_import(re, rl, &k2), PA_OK);
        pa_ec_pub_export(k, pub1);
        pa_ec_pub_export(k2, pub2);
        CU_ASSERT(memcmp(pub1, pub2, 65) == 0);
        pa_ec_free(k);
        pa_ec_free(k2);
    }
    CU_ASSERT(seen32 && seen33);
}

static void test_ecdsa(void)
{
    pa_eckey *k = NULL, *pub = NULL;
    uint8_t sig[PA_ECDSA_MAX], p[65], raw[64];
    size_t sl = 0;
    int valid = -1;
    const uint8_t *m = (const uint8_t *)"VVVVV-VVVVV-VVVVV-VTFVA";

    CU_ASSERT_EQUAL_FATAL(pa_ec_generate(&k), PA_OK);
    pa_ec_pub_export(k, p);
    CU_ASSERT_EQUAL_FATAL(pa_ec_pub_import(p, 65, &pub), PA_OK);
    CU_ASSERT_EQUAL(pa_ec_sign(k, m, 23, sig, &sl), PA_OK);
    CU_ASSERT(sl >= 8 && sl <= PA_ECDSA_MAX && sig[0] == 0x30);
    CU_ASSERT_EQUAL(pa_ec_verify(pub, m, 23, sig, sl, &valid), PA_OK);
    CU_ASSERT_EQUAL(valid, 1);
    CU_ASSERT_EQUAL(pa_ec_verify(pub, m, 22, sig, sl, &valid), PA_OK);
    CU_ASSERT_EQUAL(valid, 0);                        /* wrong message */
    /* Malformed DER: trailing byte, truncation, raw r||s. */
    sig[sl] = 0;
    CU_ASSERT_EQUAL(pa_ec_verify(pub, m, 23, sig, sl + 1, &valid),
                    PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR);
    CU_ASSERT_EQUAL(pa_ec_verify(pub, m, 23, sig, sl - 1, &valid),
                    PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR);
    memset(raw, 0x42, sizeof raw);
    CU_ASSERT_EQUAL(pa_ec_verify(pub, m, 23, raw, 64, &valid),
                    PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR);
    CU_ASSERT_EQUAL(valid, 0);
    /* A public key cannot sign. */
    CU_ASSERT_EQUAL(pa_ec_sign(pub, m, 23, sig, &sl), PA_ERR_INVALID_KEY_FORMAT);
    pa_ec_free(pub);
    pa_ec_free(k);
}

static void test_ecdh_symmetry_and_xmin(void)
{
    pa_eckey *a = NULL, *b = NULL;
    uint8_t z1[32], z2[32], x[32], p[65];
    size_t xl = 0;

    CU_ASSERT_EQUAL_FATAL(pa_ec_generate(&a), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_ec_generate(&b), PA_OK);
    CU_ASSERT_EQUAL(pa_ec_ecdh(a, b, z1), PA_OK);
    CU_ASSERT_EQUAL(pa_ec_ecdh(b, a, z2), PA_OK);
    CU_ASSERT(memcmp(z1, z2, 32) == 0);
    CU_ASSERT_EQUAL(pa_ec_xmin(a, x, &xl), PA_OK);
    pa_ec_pub_export(a, p);
    CU_ASSERT(xl >= 1 && xl <= 32 && x[0] != 0);
    CU_ASSERT(memcmp(x, p + 1 + (32 - xl), xl) == 0);
    pa_ec_free(a);
    pa_ec_free(b);
}

int register_eckey_suite(void)
{
    CU_pSuite s = CU_add_suite("eckey", NULL, NULL);

    if (s == NULL)
        return -1;
    if (!CU_add_test(s, "compute-master-secret-key.json", test_master_secret_vectors)
        || !CU_add_test(s, "public key forms", test_public_key_forms)
        || !CU_add_test(s, "public key rejects", test_public_key_rejects)
        || !CU_add_test(s, "private key rejects", test_private_key_rejects)
        || !CU_add_test(s, "private export BigInteger form", test_private_export_forms)
        || !CU_add_test(s, "ecdsa", test_ecdsa)
        || !CU_add_test(s, "ecdh symmetry and xmin", test_ecdh_symmetry_and_xmin))
        return -1;
    return 0;
}
