/* test_recovery.c - recovery codes and PUKs (CRYPTO.md 4.6, 12.1-12.3, B.7). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "crypto/eckey.h"
#include "crypto/primitives.h"
#include "crypto/recovery.h"
#include "tests/unit/suites.h"
#include "tests/unit/vectors.h"
#include "util/base32.h"

#define MAX_IDX 8

/* Splits "a,b,c" into signed 64-bit integers; returns the count or -1. */
static int parse_i64_list(const char *s, int64_t *out, int max)
{
    int n = 0;

    while (s != NULL && *s != '\0' && n < max) {
        char *end;

        errno = 0;
        out[n++] = strtoll(s, &end, 10);
        if (errno != 0 || end == s || (*end != ',' && *end != '\0'))
            return -1;
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

/* Splits "p1,p2" into 10-character PUKs; returns the count or -1. */
static int parse_puk_list(const char *s, char (*out)[11], int max)
{
    int n = 0;

    while (s != NULL && *s != '\0' && n < max) {
        const char *c = strchr(s, ',');
        size_t len = c ? (size_t)(c - s) : strlen(s);

        if (len != 10)
            return -1;
        memcpy(out[n], s, 10);
        out[n++][10] = '\0';
        s = c ? c + 1 : s + len;
    }
    return n;
}

/* The code's 20 Base32 characters decode to D[0..9] || BE16(CRC). */
static int code_carries(const char *code, const uint8_t d10[10])
{
    char s[21];
    uint8_t b[13];
    size_t bl = 0, o = 0;

    if (strlen(code) != 23 || code[5] != '-' || code[11] != '-' || code[17] != '-')
        return 0;
    for (size_t i = 0; i < 23; i++)
        if (code[i] != '-')
            s[o++] = code[i];
    return pa_b32_decode(s, 20, b, &bl) == PA_OK && bl == 12
           && memcmp(b, d10, 10) == 0;
}

/* Postcard entries: the secret is ECDH_RAW of the two keys. */
static int postcard_secret_ok(json_t *in, const uint8_t *secret, size_t sl)
{
    pa_eckey *priv = NULL, *pub = NULL;
    uint8_t z[32];
    int ok = pa_ec_priv_import_b64(pa_vec_str(in, "postcardPrivateKey"), &priv) == PA_OK
             && pa_ec_pub_import_b64(pa_vec_str(in, "remotePostcardPublicKey"), &pub) == PA_OK
             && pa_recovery_postcard_secret(priv, pub, z) == PA_OK
             && sl == 32 && memcmp(z, secret, 32) == 0;

    pa_ec_free(priv);
    pa_ec_free(pub);
    return ok;
}

static void test_recovery_vectors(void)
{
    pa_vec_file *f = pa_vec_open("supplementary/recovery-code.json");
    size_t checked = 0;

    for (size_t i = 0; f != NULL && i < pa_vec_count(f); i++) {
        json_t *in = pa_vec_input(f, i), *out = pa_vec_output(f, i);
        const char *mode = pa_vec_str(in, "mode");
        const char *exp_code = pa_vec_str(out, "recoveryCode");
        uint8_t secret[40], nonce[32], d26[26], x963[26], base[16];
        int64_t idx[MAX_IDX];
        char puks[MAX_IDX][11], code[24], puk[11];
        size_t sl = pa_vec_b64(in, "secretKey", secret, sizeof secret);
        int ni = parse_i64_list(pa_vec_str(in, "pukDerivationIndexes"), idx, MAX_IDX);
        int np = parse_puk_list(pa_vec_str(out, "puks"), puks, MAX_IDX);
        int ok = mode != NULL && exp_code != NULL && ni > 0 && ni == np
                 && (sl == 16 || sl == 32)
                 && pa_vec_b64(in, "nonce", nonce, 32) == 32
                 && pa_vec_b64(out, "derivedKey26", d26, 26) == 26;

        if (ok && strcmp(mode, "postcard") == 0)
            ok = postcard_secret_ok(in, secret, sl);
        /* D itself (through the primitive), then the module's split of it. */
        ok = ok && pa_kdf_x963(secret, sl, nonce, 32, x963, 26) == PA_OK
             && memcmp(x963, d26, 26) == 0
             && pa_recovery_derive(secret, sl, nonce, code, base) == PA_OK
             && strcmp(code, exp_code) == 0 && code_carries(code, d26)
             && memcmp(base, d26 + 10, 16) == 0;
        for (int k = 0; ok && k < ni; k++)
            ok = pa_recovery_puk(base, idx[k], puk) == PA_OK
                 && strcmp(puk, puks[k]) == 0;
        CU_ASSERT(ok);
        checked += ok;
    }
    pa_vec_done(f, checked);
}

/* Appendix B.7, including the intermediate PUK_KEY of index 0. */
static void test_appendix_b7(void)
{
    uint8_t zero[32] = {0}, base[16], key[16], d[26];
    static const uint8_t block0[8] = {0};
    char code[24], puk[11];

    CU_ASSERT_EQUAL(pa_kdf_x963(zero, 16, zero, 32, d, 26), PA_OK);
    ASSERT_HEX(d, 26, "f8e8bd6f28850927a1f247e2803e32a66fa7d3e873284d9d6140");
    CU_ASSERT_EQUAL_FATAL(pa_recovery_derive(zero, 16, zero, code, base), PA_OK);
    CU_ASSERT_STRING_EQUAL(code, "7DUL2-3ZIQU-ESPIP-SWL7Q");
    ASSERT_HEX(base, 16, "47e2803e32a66fa7d3e873284d9d6140");
    /* 8-byte index: block 00*8 || 08*8 */
    CU_ASSERT_EQUAL(pa_kdf(base, block0, 8, key), PA_OK);
    ASSERT_HEX(key, 16, "e83b7731ef3540dd4f78d8a30b3753ac");
    {
        uint8_t blk[16] = {0}, k2[16];

        memset(blk + 8, 8, 8);
        CU_ASSERT_EQUAL(pa_aes_block(base, blk, k2), PA_OK);
        CU_ASSERT(memcmp(k2, key, 16) == 0);
    }
    CU_ASSERT_EQUAL(pa_recovery_puk(base, 0, puk), PA_OK);
    CU_ASSERT_STRING_EQUAL(puk, "0267844524");
    CU_ASSERT_EQUAL(pa_recovery_puk(base, 1, puk), PA_OK);
    CU_ASSERT_STRING_EQUAL(puk, "6038831556");
    CU_ASSERT_EQUAL(pa_recovery_puk(base, -1, puk), PA_OK);
    CU_ASSERT_STRING_EQUAL(puk, "1455645727");
    CU_ASSERT_EQUAL(pa_recovery_puk(base, INT64_MIN, puk), PA_OK);
    CU_ASSERT_STRING_EQUAL(puk, "7399822632");
    CU_ASSERT_EQUAL(pa_recovery_puk(base, INT64_MAX, puk), PA_OK);
    CU_ASSERT_STRING_EQUAL(puk, "0007728886");
}

static int all_digits(const char *p)
{
    for (int i = 0; i < 10; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return p[10] == '\0';
}

/* Generate 100 PUKs, then re-derive everything from (S, seed) as the
 * printing centre would. */
static void test_generate_round_trip(void)
{
    uint8_t secret[32], nonce[32], nonce2[32], base[16];
    int64_t idx[PA_RECOVERY_MAX_PUKS], idx2[1];
    char (*puks)[11] = calloc(PA_RECOVERY_MAX_PUKS, 11);
    char code[24], code2[24], again[24], puk[11], one[1][11];
    int distinct = 1, rederived = 1;

    CU_ASSERT_PTR_NOT_NULL_FATAL(puks);
    CU_ASSERT_EQUAL(pa_random(secret, sizeof secret), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_recovery_generate(secret, 32, PA_RECOVERY_MAX_PUKS,
                                               nonce, code, idx, puks), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_recovery_derive(secret, 32, nonce, again, base), PA_OK);
    CU_ASSERT_STRING_EQUAL(again, code);
    CU_ASSERT_EQUAL(strlen(code), 23);
    for (int i = 0; i < PA_RECOVERY_MAX_PUKS; i++) {
        rederived &= pa_recovery_puk(base, idx[i], puk) == PA_OK
                     && strcmp(puk, puks[i]) == 0 && all_digits(puks[i]);
        for (int j = 0; j < i; j++)
            distinct &= strcmp(puks[i], puks[j]) != 0;
    }
    CU_ASSERT(rederived);
    CU_ASSERT(distinct);
    /* A second generation with the same secret gets a fresh nonce, code
     * and index (16-byte activation secret). */
    CU_ASSERT_EQUAL(pa_recovery_generate(secret, 16, 1, nonce2, code2, idx2, one), PA_OK);
    CU_ASSERT(memcmp(nonce, nonce2, 32) != 0);
    CU_ASSERT(strcmp(code, code2) != 0);
    CU_ASSERT_EQUAL(pa_recovery_derive(secret, 16, nonce2, again, base), PA_OK);
    CU_ASSERT_STRING_EQUAL(again, code2);
    CU_ASSERT_EQUAL(pa_recovery_puk(base, idx2[0], puk), PA_OK);
    CU_ASSERT_STRING_EQUAL(puk, one[0]);
    free(puks);
}

static void test_rejects(void)
{
    uint8_t secret[16] = {1}, nonce[32], base[16], z[32];
    int64_t idx[1];
    char code[24], puks[1][11], puk[11];
    pa_eckey *a = NULL, *b = NULL, *pub = NULL;
    uint8_t p[65];

    CU_ASSERT_EQUAL(pa_recovery_generate(secret, 16, 0, nonce, code, idx, puks),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_recovery_generate(secret, 16, PA_RECOVERY_MAX_PUKS + 1,
                                         nonce, code, idx, puks),
                    PA_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(pa_recovery_generate(NULL, 16, 1, nonce, code, idx, puks),
                    PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR);
    CU_ASSERT_EQUAL(pa_recovery_derive(secret, 0, nonce, code, base),
                    PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR);
    CU_ASSERT_EQUAL(pa_recovery_derive(NULL, 16, nonce, code, base),
                    PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR);
    CU_ASSERT_EQUAL(pa_recovery_puk(NULL, 1, puk), PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR);

    /* Postcard secret: symmetric, unreduced 32 bytes; needs a private key. */
    CU_ASSERT_EQUAL_FATAL(pa_ec_generate(&a), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_ec_generate(&b), PA_OK);
    CU_ASSERT_EQUAL(pa_recovery_postcard_secret(a, b, z), PA_OK);
    {
        uint8_t z2[32], z16[16], r[16];

        CU_ASSERT_EQUAL(pa_ec_ecdh(b, a, z2), PA_OK);
        CU_ASSERT(memcmp(z, z2, 32) == 0);
        CU_ASSERT_EQUAL(pa_ec_ecdh16(a, b, z16), PA_OK);
        pa_reduce(z, r);
        CU_ASSERT(memcmp(r, z16, 16) == 0);
    }
    pa_ec_pub_export(b, p);
    CU_ASSERT_EQUAL_FATAL(pa_ec_pub_import(p, 65, &pub), PA_OK);
    CU_ASSERT_NOT_EQUAL(pa_recovery_postcard_secret(pub, a, z), PA_OK);
    CU_ASSERT_NOT_EQUAL(pa_recovery_postcard_secret(NULL, a, z), PA_OK);
    pa_ec_free(a);
    pa_ec_free(b);
    pa_ec_free(pub);
}

int register_recovery_suite(void)
{
    CU_pSuite s = CU_add_suite("recovery", NULL, NULL);

    if (s == NULL)
        return -1;
    if (!CU_add_test(s, "recovery-code.json", test_recovery_vectors)
        || !CU_add_test(s, "appendix B.7", test_appendix_b7)
        || !CU_add_test(s, "generate 100 PUKs and re-derive", test_generate_round_trip)
        || !CU_add_test(s, "rejects", test_rejects))
        return -1;
    return 0;
}
