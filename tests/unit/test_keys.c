/* test_keys.c - master secret and derived keys (CRYPTO.md 3.1, 3.2, B.1). */
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "crypto/eckey.h"
#include "crypto/keys.h"
#include "crypto/primitives.h"
#include "tests/unit/suites.h"
#include "tests/unit/vectors.h"

/* Public half of k as a separate public-only key. */
static pa_eckey *public_of(const pa_eckey *k)
{
    uint8_t pub[PA_EC_PUB_LEN];
    pa_eckey *p = NULL;

    if (pa_ec_pub_export(k, pub) != PA_OK
        || pa_ec_pub_import(pub, sizeof pub, &p) != PA_OK)
        return NULL;
    return p;
}

/* B.1: ECDH16 of compute-master-secret-key.json entry 0, device side. */
static void test_b1_master_secret(void)
{
    pa_eckey *dpriv = NULL, *spub = NULL;
    uint8_t m[16];

    CU_ASSERT_EQUAL_FATAL(pa_ec_priv_import_b64(
        "APl59736fwYwx+U+2/vVAPEF0N0Mdyt9ARRXWLPO7KxP", &dpriv), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_ec_pub_import_b64(
        "BP0G8/tV/kDLDaGCQmoeaOAabLQXjYF/6lgqVpUI3cS6FTTtIzPzOY137vyZFSthKorKvq0iih1PLUeeEFUkAGE=",
        &spub), PA_OK);
    CU_ASSERT_EQUAL(pa_keys_master_secret(dpriv, spub, m), PA_OK);
    ASSERT_HEX(m, 16, "ddd833649fe1e10b015e26bf3c8691b1");
    pa_ec_free(dpriv);
    pa_ec_free(spub);
}

/* B.1: the five KDF_N keys of compute-derived-keys.json entry 0. */
static void test_b1_derive(void)
{
    uint8_t m[16];
    pa_derived_keys k;

    pa_vec_unhex("fa68b2a89ca40994133690339fe65287", m);
    CU_ASSERT_EQUAL_FATAL(pa_keys_derive(m, &k), PA_OK);
    ASSERT_HEX(k.possession, 16, "337a75b4f628ba9b5a5fccf90e173673");
    ASSERT_HEX(k.knowledge, 16, "486dda13c5535e0eb0ce4b8db9959a22");
    ASSERT_HEX(k.biometry, 16, "ae180e8754b15aef75f70ec5ef63aa9b");
    ASSERT_HEX(k.transport, 16, "bfc64fa53ba1d482016949e191770d6f");
    ASSERT_HEX(k.vault, 16, "ea8e28aff805b41bb959bd5acaa760c9");
    pa_keys_wipe(&k);
    for (size_t i = 0; i < sizeof k; i++)
        CU_ASSERT_EQUAL(((const uint8_t *)&k)[i], 0);
}

/* Server (server priv + device pub) and device (device priv + server pub)
 * derive the same set, equal to KDF_N over the ECDH16 secret. */
static void test_round_trip(void)
{
    for (int round = 0; round < 8; round++) {
        pa_eckey *srv = NULL, *dev = NULL, *srv_pub, *dev_pub;
        pa_derived_keys a, b;
        uint8_t m[16], z[32], r[16], x[16];

        CU_ASSERT_EQUAL_FATAL(pa_ec_generate(&srv), PA_OK);
        CU_ASSERT_EQUAL_FATAL(pa_ec_generate(&dev), PA_OK);
        srv_pub = public_of(srv);
        dev_pub = public_of(dev);
        CU_ASSERT_PTR_NOT_NULL_FATAL(srv_pub);
        CU_ASSERT_PTR_NOT_NULL_FATAL(dev_pub);
        CU_ASSERT_EQUAL(pa_keys_from_pair(srv, dev_pub, &a), PA_OK);
        CU_ASSERT_EQUAL(pa_keys_from_pair(dev, srv_pub, &b), PA_OK);
        CU_ASSERT(memcmp(&a, &b, sizeof a) == 0);
        /* The master secret is REDUCE(ECDH_RAW), both directions. */
        CU_ASSERT_EQUAL(pa_keys_master_secret(dev, srv_pub, m), PA_OK);
        CU_ASSERT_EQUAL(pa_ec_ecdh(srv, dev_pub, z), PA_OK);
        for (int i = 0; i < 16; i++)
            r[i] = z[i] ^ z[i + 16];
        CU_ASSERT(memcmp(m, r, 16) == 0);
        /* Every key is KDF_N at its documented index. */
        pa_kdf_n(m, 1, x);
        CU_ASSERT(memcmp(a.possession, x, 16) == 0);
        pa_kdf_n(m, 2, x);
        CU_ASSERT(memcmp(a.knowledge, x, 16) == 0);
        pa_kdf_n(m, 3, x);
        CU_ASSERT(memcmp(a.biometry, x, 16) == 0);
        pa_kdf_n(m, 1000, x);
        CU_ASSERT(memcmp(a.transport, x, 16) == 0);
        pa_kdf_n(m, 2000, x);
        CU_ASSERT(memcmp(a.vault, x, 16) == 0);
        /* All five differ. */
        CU_ASSERT(memcmp(a.possession, a.knowledge, 16) != 0);
        CU_ASSERT(memcmp(a.knowledge, a.biometry, 16) != 0);
        CU_ASSERT(memcmp(a.biometry, a.transport, 16) != 0);
        CU_ASSERT(memcmp(a.transport, a.vault, 16) != 0);
        pa_keys_wipe(&a);
        pa_keys_wipe(&b);
        pa_ec_free(srv);
        pa_ec_free(dev);
        pa_ec_free(srv_pub);
        pa_ec_free(dev_pub);
    }
}

static void test_errors(void)
{
    pa_eckey *k = NULL, *pub;
    pa_derived_keys d;
    uint8_t m[16] = {0};

    CU_ASSERT_EQUAL_FATAL(pa_ec_generate(&k), PA_OK);
    pub = public_of(k);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
    /* A public key cannot play the private part; keys come back zeroed. */
    memset(&d, 0xaa, sizeof d);
    CU_ASSERT_NOT_EQUAL(pa_keys_from_pair(pub, pub, &d), PA_OK);
    for (size_t i = 0; i < sizeof d; i++)
        CU_ASSERT_EQUAL(((const uint8_t *)&d)[i], 0);
    CU_ASSERT_NOT_EQUAL(pa_keys_master_secret(pub, k, m), PA_OK);
    CU_ASSERT_NOT_EQUAL(pa_keys_master_secret(NULL, pub, m), PA_OK);
    CU_ASSERT_NOT_EQUAL(pa_keys_master_secret(k, NULL, m), PA_OK);
    CU_ASSERT_NOT_EQUAL(pa_keys_master_secret(k, pub, NULL), PA_OK);
    CU_ASSERT_NOT_EQUAL(pa_keys_derive(NULL, &d), PA_OK);
    CU_ASSERT_NOT_EQUAL(pa_keys_derive(m, NULL), PA_OK);
    CU_ASSERT_NOT_EQUAL(pa_keys_from_pair(k, pub, NULL), PA_OK);
    pa_keys_wipe(NULL);
    pa_ec_free(k);
    pa_ec_free(pub);
}

int register_keys_suite(void)
{
    CU_pSuite s = CU_add_suite("keys", NULL, NULL);

    if (s == NULL)
        return -1;
    if (!CU_add_test(s, "B.1 master secret", test_b1_master_secret)
        || !CU_add_test(s, "B.1 derived keys", test_b1_derive)
        || !CU_add_test(s, "server/device round trip", test_round_trip)
        || !CU_add_test(s, "errors", test_errors))
        return -1;
    return 0;
}
