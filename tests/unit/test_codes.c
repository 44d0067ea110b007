/* test_codes.c - activation codes, activation signature, fingerprints
 * (CRYPTO.md 4.3, 4.4, 4.6, 6.6, 17.3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "crypto/codes.h"
#include "crypto/eckey.h"
#include "crypto/primitives.h"
#include "tests/unit/suites.h"
#include "tests/unit/vectors.h"

/* ---- CRC and code construction ---------------------------------------- */

static void test_crc16_known_answers(void)
{
    const uint8_t *check = (const uint8_t *)"123456789";
    uint8_t ff[10], inc[10];

    /* Catalogue check value of CRC-16/ARC. */
    CU_ASSERT_EQUAL(pa_code_crc16(check, 9), 0xBB3D);
    CU_ASSERT_EQUAL(pa_code_crc16(check, 0), 0x0000);
    /* B.8 */
    memset(ff, 0xff, sizeof ff);
    CU_ASSERT_EQUAL(pa_code_crc16(ff, 10), 0x8331);
    pa_vec_unhex("0123456789abcdef0011", inc);
    CU_ASSERT_EQUAL(pa_code_crc16(inc, 10), 0xe9fb);
}

static int is_true(const char *s)
{
    return s != NULL && strcmp(s, "true") == 0;
}

/* supplementary/activation-code.json: CRC, construction and validation. */
static void test_activation_code_vectors(void)
{
    pa_vec_file *f = pa_vec_open("supplementary/activation-code.json");
    size_t checked = 0;

    for (size_t i = 0; i < pa_vec_count(f); i++) {
        json_t *out = pa_vec_output(f, i);
        const char *crc_hex = pa_vec_str(out, "crc16");
        const char *code = pa_vec_str(out, "activationCode");
        const char *valid = pa_vec_str(out, "valid");
        uint8_t r[16];
        char built[PA_CODE_BUF], *end = NULL;
        unsigned long crc = crc_hex ? strtoul(crc_hex, &end, 16) : 0x10000;
        int ok = pa_vec_b64(pa_vec_input(f, i), "randomBytes", r, sizeof r) == 10
                 && crc_hex != NULL && strlen(crc_hex) == 4 && *end == '\0'
                 && code != NULL && valid != NULL;

        if (ok) {
            pa_code_from_bytes(r, built);
            ok = pa_code_crc16(r, 10) == crc
                 && strcmp(built, code) == 0
                 && pa_code_validate(code) == is_true(valid);
        }
        if (!ok)
            fprintf(stderr, "\n  activation-code.json entry %zu failed\n", i);
        CU_ASSERT(ok);
        checked += ok;
    }
    pa_vec_done(f, checked);
}

static void test_known_valid_codes(void)
{
    static const char *known[] = {
        /* 4.3 */
        "AAAAA-AAAAA-AAAAA-AAAAA", "LLLLL-LLLLL-LLLLL-LQJTA",
        "KKKKK-KKKKK-KKKKK-KDJNQ", "MMMMM-MMMMM-MMMMM-MUTOA",
        "VVVVV-VVVVV-VVVVV-VTFVA", "55555-55555-55555-55YMA",
        "W65WE-3T7VI-7FBS2-A4OYA", "DD7P5-SY4RW-XHSNB-GO52A",
        "X3TS3-TI35Z-JZDNT-TRPFA", "HCPJX-U4QC4-7UISL-NJYMA",
        "XHGSM-KYQDT-URE34-UZGWQ", "45AWJ-BVACS-SBWHS-ABANA",
        /* B.8 */
        "77777-77777-77777-7QMYQ", "AERUK-Z4JVP-G66AA-R5H5Q",
    };

    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        CU_ASSERT_EQUAL(pa_code_validate(known[i]), 1);
        /* Canonical codes end in A or Q (4 zero pad bits). */
        CU_ASSERT(known[i][22] == 'A' || known[i][22] == 'Q');
    }
}

/* The 4 surplus bits of the last character are ignored; the fifth-last bit
 * is the low bit of the CRC and is not. */
static void test_non_canonical_last_char(void)
{
    char c[PA_CODE_BUF];

    CU_ASSERT_EQUAL(pa_code_validate("VVVVV-VVVVV-VVVVV-VTFVB"), 1);
    CU_ASSERT_EQUAL(pa_code_validate("VVVVV-VVVVV-VVVVV-VTFVP"), 1);
    CU_ASSERT_EQUAL(pa_code_validate("77777-77777-77777-7QMYR"), 1);
    CU_ASSERT_EQUAL(pa_code_validate("77777-77777-77777-7QMY7"), 1);
    CU_ASSERT_EQUAL(pa_code_validate("VVVVV-VVVVV-VVVVV-VTFVQ"), 0);
    CU_ASSERT_EQUAL(pa_code_validate("77777-77777-77777-7QMYA"), 0);
    /* Every one of the 16 variants of the last character of a canonical
     * code validates. */
    strcpy(c, "AERUK-Z4JVP-G66AA-R5H5Q");
    for (int v = 16; v < 32; v++) {
        c[22] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[v];
        CU_ASSERT_EQUAL(pa_code_validate(c), 1);
    }
}

static void test_invalid_codes(void)
{
    static const char *bad[] = {
        "vvvvv-vvvvv-vvvvv-vtfva",      /* lower case */
        "VVVVV-VVVVV-VVVVV-vTFVA",      /* one lower-case char */
        "VVVV-VVVVVV-VVVVV-VTFVA",      /* wrong grouping */
        "VVVVVV-VVVVV-VVVVV-VTFV",
        "VVVVV_VVVVV-VVVVV-VTFVA",      /* wrong separator */
        "VVVVV VVVVV VVVVV VTFVA",
        "VVVVVVVVVVVVVVVVVVVVTFVA",     /* no dashes */
        "VVVVV-VVVVV-VVVVV-VTFV",       /* 22 chars */
        "VVVVV-VVVVV-VVVVV-VTFVAA",     /* 24 chars */
        "VVVVV-VVVVV-VVVVV-VTFVA\n",    /* trailing newline */
        " VVVVV-VVVVV-VVVVV-VTFVA",
        "VVVVV-VVVVV-VVVVV-VTFVA-",
        "WVVVV-VVVVV-VVVVV-VTFVA",      /* bad CRC */
        "VVVVV-VVVVV-VVVVV-VTFWA",      /* bad CRC (in the CRC bits) */
        "AAAAA-AAAAA-AAAAA-AAAAQ",
        "00000-00000-00000-00000",      /* outside the Base32 alphabet */
        "VVVVV-VVVVV-VVVVV-VTFV1",
        "VVVVV-VVVVV-VVVVV-VTFV8",
        "VVVVV-VVVVV-VVVVV-VTFV=",
        "",
    };

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (pa_code_validate(bad[i]) != 0)
            fprintf(stderr, "\n  accepted invalid code \"%s\"\n", bad[i]);
        CU_ASSERT_EQUAL(pa_code_validate(bad[i]), 0);
    }
    CU_ASSERT_EQUAL(pa_code_validate(NULL), 0);
    /* Any single-character change in the first 19 data characters breaks
     * the CRC (CRC-16 detects all burst errors up to 16 bits). */
    {
        char c[PA_CODE_BUF];
        int accepted = 0;

        for (int pos = 0; pos < 22; pos++) {
            if (pos % 6 == 5)
                continue;
            strcpy(c, "W65WE-3T7VI-7FBS2-A4OYA");
            c[pos] = c[pos] == 'A' ? 'B' : 'A';
            accepted += pa_code_validate(c);
        }
        CU_ASSERT_EQUAL(accepted, 0);
    }
}

static void test_generate(void)
{
    char codes[64][PA_CODE_BUF];

    for (int i = 0; i < 64; i++) {
        CU_ASSERT_EQUAL_FATAL(pa_code_generate(codes[i]), PA_OK);
        CU_ASSERT_EQUAL(strlen(codes[i]), 23);
        CU_ASSERT_EQUAL(pa_code_validate(codes[i]), 1);
        CU_ASSERT(codes[i][22] == 'A' || codes[i][22] == 'Q');
        for (int j = 0; j < i; j++)
            CU_ASSERT(strcmp(codes[i], codes[j]) != 0);
    }
    CU_ASSERT_EQUAL(pa_code_generate(NULL), PA_ERR_INVALID_INPUT_FORMAT);
}

static void test_mask(void)
{
    char out[PA_CODE_BUF];

    pa_code_mask("VVVVV-VVVVV-VVVVV-VTFVA", out);
    CU_ASSERT_STRING_EQUAL(out, "XXXXX-XXXXX-XXXXX-VTFVA");
    pa_code_mask("45AWJ-BVACS-SBWHS-ABANA", out);
    CU_ASSERT_STRING_EQUAL(out, "XXXXX-XXXXX-XXXXX-ABANA");
    strcpy(out, "junk");
    pa_code_mask("VVVVV-VVVVV-VVVVV-VTFV", out);
    CU_ASSERT_STRING_EQUAL(out, "");
    strcpy(out, "junk");
    pa_code_mask("VVVVV-VVVVV-VVVVV-VTFVAA", out);
    CU_ASSERT_STRING_EQUAL(out, "");
    strcpy(out, "junk");
    pa_code_mask("", out);
    CU_ASSERT_STRING_EQUAL(out, "");
    strcpy(out, "junk");
    pa_code_mask(NULL, out);
    CU_ASSERT_STRING_EQUAL(out, "");
}

/* ---- activation signature ---------------------------------------------- */

/* Imports the master pair of a signature vector; checks priv*G == pub. */
static int import_master_pair(json_t *in, pa_eckey **priv, pa_eckey **pub)
{
    uint8_t p[65], d[40], derived[65];
    size_t dl = pa_vec_b64(in, "masterPrivateKey", d, sizeof d);

    return pa_vec_b64(in, "masterPublicKey", p, sizeof p) == 65
           && dl != (size_t)-1
           && pa_ec_priv_import(d, dl, priv) == PA_OK
           && pa_ec_pub_import(p, 65, pub) == PA_OK
           && pa_ec_pub_export(*priv, derived) == PA_OK
           && memcmp(derived, p, 65) == 0;
}

/* Given signature verifies; tampered code and signature do not; a fresh
 * signature by the private key verifies. */
static int check_code_signature(pa_eckey *priv, pa_eckey *pub,
                                const char *code, const uint8_t *sig,
                                size_t sl)
{
    uint8_t mine[PA_ECDSA_MAX];
    size_t ml = 0;
    int v_given = -1, v_tampered = -1, v_mine = -1, v_other = -1;
    char other[64];

    if (strlen(code) + 1 >= sizeof other)
        return 0;
    strcpy(other, code);
    other[0] = other[0] == 'A' ? 'B' : 'A';
    return pa_code_verify_signature(pub, code, sig, sl, &v_given) == PA_OK
           && v_given == 1
           && pa_code_verify_signature(pub, other, sig, sl, &v_tampered) == PA_OK
           && v_tampered == 0
           && pa_code_sign(priv, code, mine, &ml) == PA_OK
           && pa_code_verify_signature(pub, code, mine, ml, &v_mine) == PA_OK
           && v_mine == 1
           && pa_code_verify_signature(pub, other, mine, ml, &v_other) == PA_OK
           && v_other == 0;
}

static void test_signature_v3_vectors(void)
{
    pa_vec_file *f = pa_vec_open("verify-activation-data-signature-v3.json");
    size_t checked = 0;

    for (size_t i = 0; i < pa_vec_count(f); i++) {
        json_t *in = pa_vec_input(f, i);
        const char *code = pa_vec_str(in, "activationCode");
        uint8_t sig[128];
        size_t sl = pa_vec_b64(pa_vec_output(f, i), "activationSignature", sig,
                               sizeof sig);
        pa_eckey *priv = NULL, *pub = NULL;
        /* These codes come from the real generator: they pass the CRC. */
        int ok = code != NULL && sl != (size_t)-1
                 && pa_code_validate(code) == 1
                 && import_master_pair(in, &priv, &pub)
                 && check_code_signature(priv, pub, code, sig, sl);

        if (!ok)
            fprintf(stderr, "\n  signature-v3 entry %zu failed\n", i);
        CU_ASSERT(ok);
        checked += ok;
        pa_ec_free(priv);
        pa_ec_free(pub);
    }
    pa_vec_done(f, checked);
}

/* Protocol 2: the signed text is activationIdShort "-" activationOtp; those
 * pairs predate the CRC and are not valid codes (4.3). */
static void test_signature_v2_vectors(void)
{
    pa_vec_file *f = pa_vec_open("verify-activation-data-signature-v2.json");
    size_t checked = 0;

    for (size_t i = 0; i < pa_vec_count(f); i++) {
        json_t *in = pa_vec_input(f, i);
        const char *id = pa_vec_str(in, "activationIdShort");
        const char *otp = pa_vec_str(in, "activationOtp");
        char code[64];
        uint8_t sig[128];
        size_t sl = pa_vec_b64(pa_vec_output(f, i), "activationSignature", sig,
                               sizeof sig);
        pa_eckey *priv = NULL, *pub = NULL;
        int ok = id != NULL && otp != NULL && sl != (size_t)-1
                 && snprintf(code, sizeof code, "%s-%s", id, otp) == 23;

        ok = ok && pa_code_validate(code) == 0
             && import_master_pair(in, &priv, &pub)
             && check_code_signature(priv, pub, code, sig, sl);
        if (!ok)
            fprintf(stderr, "\n  signature-v2 entry %zu failed\n", i);
        CU_ASSERT(ok);
        checked += ok;
        pa_ec_free(priv);
        pa_ec_free(pub);
    }
    pa_vec_done(f, checked);
}

static void test_signature_errors(void)
{
    pa_eckey *k = NULL, *pub = NULL;
    uint8_t sig[PA_ECDSA_MAX], p[65], junk[16];
    size_t sl = 0;
    int valid = -1;
    const char *code = "VVVVV-VVVVV-VVVVV-VTFVA";

    CU_ASSERT_EQUAL_FATAL(pa_ec_generate(&k), PA_OK);
    pa_ec_pub_export(k, p);
    CU_ASSERT_EQUAL_FATAL(pa_ec_pub_import(p, 65, &pub), PA_OK);
    CU_ASSERT_EQUAL(pa_code_sign(pub, code, sig, &sl), PA_ERR_INVALID_KEY_FORMAT);
    CU_ASSERT_EQUAL(pa_code_sign(NULL, code, sig, &sl), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_code_sign(k, NULL, sig, &sl), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_code_sign(k, code, sig, &sl), PA_OK);
    /* The dashes are part of the signed message. */
    CU_ASSERT_EQUAL(pa_code_verify_signature(pub, "VVVVVVVVVVVVVVVVVTFVA", sig,
                                             sl, &valid), PA_OK);
    CU_ASSERT_EQUAL(valid, 0);
    /* Truncated and garbage signatures are errors, not crashes. */
    valid = -1;
    CU_ASSERT_EQUAL(pa_code_verify_signature(pub, code, sig, sl - 1, &valid),
                    PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR);
    CU_ASSERT_EQUAL(valid, 0);
    memset(junk, 0x30, sizeof junk);
    CU_ASSERT_EQUAL(pa_code_verify_signature(pub, code, junk, sizeof junk,
                                             &valid),
                    PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR);
    CU_ASSERT_EQUAL(pa_code_verify_signature(pub, code, sig, 0, &valid),
                    PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR);
    CU_ASSERT_EQUAL(pa_code_verify_signature(NULL, code, sig, sl, &valid),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_code_verify_signature(pub, NULL, sig, sl, &valid),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_code_verify_signature(pub, code, sig, sl, NULL),
                    PA_ERR_INVALID_INPUT_FORMAT);
    pa_ec_free(pub);
    pa_ec_free(k);
}

/* ---- fingerprints ------------------------------------------------------- */

static void test_fingerprint_from_hash(void)
{
    uint8_t h[32];
    char out[PA_FINGERPRINT_BUF];

    memset(h, 0, sizeof h);
    pa_fingerprint_from_hash(h, out);
    CU_ASSERT_STRING_EQUAL(out, "00000000");
    h[28] = 0x80;                        /* sign bit only: masked away */
    pa_fingerprint_from_hash(h, out);
    CU_ASSERT_STRING_EQUAL(out, "00000000");
    memset(h, 0xff, sizeof h);           /* 0x7fffffff mod 10^8 */
    pa_fingerprint_from_hash(h, out);
    CU_ASSERT_STRING_EQUAL(out, "47483647");
    memset(h, 0, sizeof h);              /* 0x05f5e0ff = 99999999 */
    h[28] = 0x05; h[29] = 0xf5; h[30] = 0xe0; h[31] = 0xff;
    pa_fingerprint_from_hash(h, out);
    CU_ASSERT_STRING_EQUAL(out, "99999999");
    h[31] = 0x00; h[30] = 0xe1;          /* 10^8 exactly -> 0 */
    pa_fingerprint_from_hash(h, out);
    CU_ASSERT_STRING_EQUAL(out, "00000000");
    memset(h, 0, sizeof h);              /* leading bytes do not matter */
    memset(h, 0xaa, 28);
    h[31] = 42;
    pa_fingerprint_from_hash(h, out);
    CU_ASSERT_STRING_EQUAL(out, "00000042");
}

/* Fingerprint of the hash of given bytes (the formula alone). */
static int fp_of_bytes(const uint8_t *b, size_t n, const char *expect)
{
    uint8_t h[32];
    char out[PA_FINGERPRINT_BUF];

    if (pa_sha256(b, n, h) != PA_OK)
        return 0;
    pa_fingerprint_from_hash(h, out);
    return expect != NULL && strcmp(out, expect) == 0;
}

/* XMIN of a key equals the given coordinate bytes. */
static int xmin_is(const pa_eckey *k, const uint8_t *x, size_t xl)
{
    uint8_t m[32];
    size_t ml = 0;

    return pa_ec_xmin(k, m, &ml) == PA_OK && ml == xl && memcmp(m, x, xl) == 0;
}

static void test_fingerprint_v2_vectors(void)
{
    pa_vec_file *f = pa_vec_open("public-key-fingerprint-v2.json");
    size_t checked = 0;

    for (size_t i = 0; i < pa_vec_count(f); i++) {
        json_t *out = pa_vec_output(f, i);
        const char *fp = pa_vec_str(out, "fingerprint");
        uint8_t p[65], x[40];
        size_t xl = pa_vec_b64(out, "publicKeyCoordX", x, sizeof x);
        char mine[PA_FINGERPRINT_BUF];
        pa_eckey *k = NULL;
        int ok = pa_vec_b64(pa_vec_input(f, i), "publicKey", p, sizeof p) == 65
                 && xl != (size_t)-1 && fp != NULL
                 && pa_ec_pub_import(p, 65, &k) == PA_OK
                 && xmin_is(k, x, xl)
                 && fp_of_bytes(x, xl, fp)
                 && pa_fingerprint_v2(k, mine) == PA_OK
                 && strcmp(mine, fp) == 0;

        if (!ok)
            fprintf(stderr, "\n  fingerprint-v2 entry %zu failed\n", i);
        CU_ASSERT(ok);
        checked += ok;
        pa_ec_free(k);
    }
    pa_vec_done(f, checked);
}

static void test_fingerprint_v3_vectors(void)
{
    pa_vec_file *f = pa_vec_open("public-key-fingerprint-v3.json");
    size_t checked = 0, short_x = 0;

    for (size_t i = 0; i < pa_vec_count(f); i++) {
        json_t *in = pa_vec_input(f, i), *out = pa_vec_output(f, i);
        const char *fp = pa_vec_str(out, "fingerprint");
        const char *id = pa_vec_str(out, "activationId");
        uint8_t dp[65], sp[65], dx[40], sx[40];
        size_t dxl = pa_vec_b64(out, "devicePublicKeyCoordX", dx, sizeof dx);
        size_t sxl = pa_vec_b64(out, "serverPublicKeyCoordX", sx, sizeof sx);
        char mine[PA_FINGERPRINT_BUF];
        pa_eckey *dk = NULL, *sk = NULL;
        int ok = pa_vec_b64(in, "devicePublicKey", dp, sizeof dp) == 65
                 && pa_vec_b64(in, "serverPublicKey", sp, sizeof sp) == 65
                 && dxl != (size_t)-1 && sxl != (size_t)-1
                 && fp != NULL && id != NULL
                 && pa_ec_pub_import(dp, 65, &dk) == PA_OK
                 && pa_ec_pub_import(sp, 65, &sk) == PA_OK
                 && xmin_is(dk, dx, dxl) && xmin_is(sk, sx, sxl)
                 && pa_fingerprint_v3(dk, id, sk, mine) == PA_OK
                 && strcmp(mine, fp) == 0;

        if (ok && (dxl < 32 || sxl < 32))
            short_x++;
        if (!ok)
            fprintf(stderr, "\n  fingerprint-v3 entry %zu failed\n", i);
        CU_ASSERT(ok);
        checked += ok;
        pa_ec_free(dk);
        pa_ec_free(sk);
    }
    /* The file's one 31-byte X coordinate exercises XMIN (6.6). */
    CU_ASSERT_EQUAL(short_x, 1);
    pa_vec_done(f, checked);
}

/* public-key-fingerprint.json, the defective legacy copy (17.3 item 2):
 * the formula over the given coordinate bytes holds for all 100 entries;
 * XMIN(publicKey) == publicKeyCoordX for all but entry 36, whose coordinate
 * is XMIN (31 bytes) followed by 0x00 and whose 0.24 fingerprint is
 * 00928960. */
#define LEGACY_DEVIANT 36

static int check_legacy_deviant(const char *pk_b64, const pa_eckey *k,
                                const uint8_t *x, size_t xl, const char *fp)
{
    uint8_t m[32];
    size_t ml = 0;
    char mine[PA_FINGERPRINT_BUF];

    return strncmp(pk_b64, "BACMAtywQuaZ", 12) == 0
           && strcmp(fp, "90363463") == 0
           && pa_ec_xmin(k, m, &ml) == PA_OK && ml == 31
           && xl == 32 && memcmp(x, m, 31) == 0 && x[31] == 0x00
           && !xmin_is(k, x, xl)
           && pa_fingerprint_v2(k, mine) == PA_OK
           && strcmp(mine, "00928960") == 0;
}

static void test_fingerprint_legacy_vectors(void)
{
    pa_vec_file *f = pa_vec_open("public-key-fingerprint.json");
    size_t checked = 0;

    for (size_t i = 0; i < pa_vec_count(f); i++) {
        json_t *in = pa_vec_input(f, i), *out = pa_vec_output(f, i);
        const char *fp = pa_vec_str(out, "fingerprint");
        const char *pk = pa_vec_str(in, "publicKey");
        uint8_t p[65], x[40];
        size_t xl = pa_vec_b64(out, "publicKeyCoordX", x, sizeof x);
        char mine[PA_FINGERPRINT_BUF];
        pa_eckey *k = NULL;
        int ok = pk != NULL && fp != NULL && xl != (size_t)-1
                 && pa_vec_b64(in, "publicKey", p, sizeof p) == 65
                 && pa_ec_pub_import(p, 65, &k) == PA_OK
                 && fp_of_bytes(x, xl, fp);

        if (ok && i == LEGACY_DEVIANT) {
            ok = check_legacy_deviant(pk, k, x, xl, fp);
            if (ok)
                fprintf(stderr, "\n  public-key-fingerprint.json entry %d: known "
                        "legacy deviation (coordX = XMIN || 00, file says "
                        "%s, 0.24 rule gives 00928960) ", LEGACY_DEVIANT, fp);
        } else if (ok) {
            ok = xmin_is(k, x, xl) && pa_fingerprint_v2(k, mine) == PA_OK
                 && strcmp(mine, fp) == 0;
        }
        if (!ok)
            fprintf(stderr, "\n  fingerprint (legacy) entry %zu failed\n", i);
        CU_ASSERT(ok);
        checked += ok;
        pa_ec_free(k);
    }
    pa_vec_done(f, checked);
}

static void test_fingerprint_errors(void)
{
    pa_eckey *k = NULL;
    char out[PA_FINGERPRINT_BUF];

    CU_ASSERT_EQUAL_FATAL(pa_ec_generate(&k), PA_OK);
    CU_ASSERT_EQUAL(pa_fingerprint_v2(NULL, out), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_fingerprint_v3(k, NULL, k, out), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_fingerprint_v3(NULL, "id", k, out), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_fingerprint_v3(k, "id", NULL, out), PA_ERR_INVALID_INPUT_FORMAT);
    /* A private key works too (its public half is used); the activation id
     * changes the v3 value. */
    {
        char a[PA_FINGERPRINT_BUF], b[PA_FINGERPRINT_BUF];

        CU_ASSERT_EQUAL(pa_fingerprint_v3(k, "a", k, a), PA_OK);
        CU_ASSERT_EQUAL(pa_fingerprint_v3(k, "b", k, b), PA_OK);
        CU_ASSERT_EQUAL(strlen(a), 8);
        CU_ASSERT(strcmp(a, b) != 0);
    }
    pa_ec_free(k);
}

int register_codes_suite(void)
{
    CU_pSuite s = CU_add_suite("codes", NULL, NULL);

    if (s == NULL)
        return -1;
    if (!CU_add_test(s, "crc16 known answers", test_crc16_known_answers)
        || !CU_add_test(s, "activation-code.json", test_activation_code_vectors)
        || !CU_add_test(s, "known valid codes", test_known_valid_codes)
        || !CU_add_test(s, "non-canonical last char", test_non_canonical_last_char)
        || !CU_add_test(s, "invalid codes", test_invalid_codes)
        || !CU_add_test(s, "generate", test_generate)
        || !CU_add_test(s, "mask", test_mask)
        || !CU_add_test(s, "verify-activation-data-signature-v3.json", test_signature_v3_vectors)
        || !CU_add_test(s, "verify-activation-data-signature-v2.json", test_signature_v2_vectors)
        || !CU_add_test(s, "signature errors", test_signature_errors)
        || !CU_add_test(s, "fingerprint decimal rule", test_fingerprint_from_hash)
        || !CU_add_test(s, "public-key-fingerprint-v2.json", test_fingerprint_v2_vectors)
        || !CU_add_test(s, "public-key-fingerprint-v3.json", test_fingerprint_v3_vectors)
        || !CU_add_test(s, "public-key-fingerprint.json (legacy)", test_fingerprint_legacy_vectors)
        || !CU_add_test(s, "fingerprint errors", test_fingerprint_errors))
        return -1;
    return 0;
}
