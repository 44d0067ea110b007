/* test_signature.c - online signatures, counters, formats, verification with
 * lookahead and client-side normalisation (CRYPTO.md 8, B.4, B.5). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "crypto/primitives.h"
#include "crypto/signature.h"
#include "tests/unit/suites.h"
#include "tests/unit/vectors.h"
#include "util/base64.h"

/* ---- helpers ---------------------------------------------------------- */

/* Keys of a vector entry. */
static int vec_keys(json_t *in, pa_sig_keys *k)
{
    return pa_vec_b64(in, "signaturePossessionKey", k->possession, 16) == 16
           && pa_vec_b64(in, "signatureKnowledgeKey", k->knowledge, 16) == 16
           && pa_vec_b64(in, "signatureBiometryKey", k->biometry, 16) == 16;
}

/* Decoded "data" of a vector entry (malloc'ed; NULL on failure). */
static uint8_t *vec_data(json_t *in, size_t *n)
{
    uint8_t *d = NULL;
    const char *s = pa_vec_str(in, "data");

    if (s == NULL || pa_b64_decode_alloc(s, &d, n) != PA_OK)
        return NULL;
    return d;
}

static int vec_type(json_t *in, pa_sig_type *t)
{
    const char *s = pa_vec_str(in, "signatureType");

    return s != NULL && pa_sig_type_parse(s, t) == PA_OK;
}

/* Counter block of an entry: "counter" (numeric) or "counterData". */
static int vec_ctr(json_t *in, uint8_t ctr[16])
{
    const char *c = pa_vec_str(in, "counter");

    if (c != NULL) {
        char *end;
        long long v = strtoll(c, &end, 10);

        if (*c == '\0' || *end != '\0')
            return 0;
        pa_sig_ctr_numeric(v, ctr);
        return 1;
    }
    return pa_vec_b64(in, "counterData", ctr, 16) == 16;
}

/* Checks every entry of a signatures-*.json file.  digits_field: use the
 * entry's signatureComponentLength with pa_sig_compute_decimal. */
static void check_sig_file(const char *file, pa_sig_format f, int digits_field)
{
    pa_vec_file *vf = pa_vec_open(file);
    size_t checked = 0;

    for (size_t i = 0; i < pa_vec_count(vf); i++) {
        json_t *in = pa_vec_input(vf, i);
        const char *exp = pa_vec_str(pa_vec_output(vf, i), "signature");
        pa_sig_keys k;
        pa_sig_type t;
        uint8_t ctr[16], *data;
        size_t n = 0;
        char sig[PA_SIG_MAX] = "";
        int ok;

        data = vec_data(in, &n);
        ok = data != NULL && exp != NULL && vec_keys(in, &k) && vec_type(in, &t)
             && vec_ctr(in, ctr);
        if (ok && digits_field) {
            const char *len = pa_vec_str(in, "signatureComponentLength");
            int digits = len ? atoi(len) : 0;

            ok = digits >= 4 && digits <= 8
                 && pa_sig_compute_decimal(&k, t, ctr, data, n, digits, sig)
                        == PA_OK
                 && strlen(sig) == (size_t)(pa_sig_type_factors(t) * (digits + 1) - 1);
            /* Length 8 is the 0.24 format: the generic function agrees. */
            if (ok && digits == 8) {
                char s2[PA_SIG_MAX];

                ok = pa_sig_compute(&k, t, ctr, data, n, PA_SIG_FORMAT_DECIMAL, s2)
                         == PA_OK
                     && strcmp(s2, sig) == 0;
            }
        } else if (ok) {
            ok = pa_sig_compute(&k, t, ctr, data, n, f, sig) == PA_OK;
        }
        ok = ok && strcmp(sig, exp) == 0;
        if (!ok)
            fprintf(stderr, "\n  %s[%zu]: got %s want %s\n", file, i, sig,
                    exp ? exp : "?");
        CU_ASSERT(ok);
        checked += ok;
        free(data);
    }
    pa_vec_done(vf, checked);
}

static void test_vectors_v2(void)
{
    check_sig_file("signatures-v2.json", PA_SIG_FORMAT_DECIMAL, 0);
}

static void test_vectors_v3(void)
{
    check_sig_file("signatures-v3.json", PA_SIG_FORMAT_DECIMAL, 0);
}

static void test_vectors_v31(void)
{
    check_sig_file("signatures-v31.json", PA_SIG_FORMAT_BASE64, 0);
}

static void test_vectors_offline(void)
{
    check_sig_file("signatures-offline.json", PA_SIG_FORMAT_DECIMAL, 1);
}

/* ---- an independent reference of 8.4/8.5 (expanded forms) --------------- */

static void hm(const uint8_t *k, size_t kl, const uint8_t *m, size_t n,
               uint8_t out[32])
{
    CU_ASSERT_EQUAL_FATAL(pa_hmac(k, kl, m, n, out), PA_OK);
}

/* Reference signature written directly from the expanded formulas of 8.4. */
static void ref_sig(const uint8_t *keys[3], int nk, const uint8_t ctr[16],
                    const uint8_t *data, size_t n, int base64, char *out)
{
    uint8_t h0[32], h1[32], h2[32], t[32], u[32], comp[3][32], tails[48];

    hm(keys[0], 16, ctr, 16, h0);
    hm(h0, 32, data, n, comp[0]);
    if (nk > 1) {
        hm(keys[1], 16, ctr, 16, h1);
        hm(h1, 32, h1, 32, t);                 /* HMAC(H1, H1) */
        hm(t, 32, data, n, comp[1]);
    }
    if (nk > 2) {
        hm(keys[2], 16, ctr, 16, h2);
        hm(h1, 32, h2, 32, u);                 /* HMAC(H1, H2) */
        hm(h2, 32, u, 32, t);                  /* HMAC(H2, that) */
        hm(t, 32, data, n, comp[2]);
    }
    out[0] = '\0';
    for (int i = 0; i < nk; i++) {
        uint32_t v = ((uint32_t)comp[i][28] << 24 | (uint32_t)comp[i][29] << 16
                      | (uint32_t)comp[i][30] << 8 | comp[i][31]) & 0x7fffffff;

        if (!base64)
            sprintf(out + strlen(out), "%s%08u", i ? "-" : "",
                    (unsigned)(v % 100000000u));
        memcpy(tails + 16 * i, comp[i] + 16, 16);
    }
    if (base64)
        pa_b64_encode(tails, 16 * (size_t)nk, out);
}

static void test_reference_all_types(void)
{
    static const pa_sig_type all[] = {
        PA_SIG_POSSESSION, PA_SIG_KNOWLEDGE, PA_SIG_BIOMETRY,
        PA_SIG_POSSESSION_KNOWLEDGE, PA_SIG_POSSESSION_BIOMETRY,
        PA_SIG_POSSESSION_KNOWLEDGE_BIOMETRY};
    pa_sig_keys k;
    uint8_t ctr[16], data[77];

    for (int round = 0; round < 5; round++) {
        pa_random((uint8_t *)&k, sizeof k);
        pa_random(ctr, 16);
        pa_random(data, sizeof data);
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
            const uint8_t *P = k.possession, *K = k.knowledge, *B = k.biometry;
            const uint8_t *lists[6][3] = {{P}, {K}, {B}, {P, K}, {P, B}, {P, K, B}};
            static const int nks[6] = {1, 1, 1, 2, 2, 3};
            char got[PA_SIG_MAX], want[PA_SIG_MAX];
            size_t dn = round == 0 ? 0 : sizeof data;

            CU_ASSERT_EQUAL(pa_sig_type_factors(all[i]), nks[i]);
            for (int b64 = 0; b64 < 2; b64++) {
                ref_sig(lists[i], nks[i], ctr, data, dn, b64, want);
                CU_ASSERT_EQUAL(pa_sig_compute(&k, all[i], ctr, dn ? data : NULL,
                                               dn, b64 ? PA_SIG_FORMAT_BASE64
                                                       : PA_SIG_FORMAT_DECIMAL,
                                               got),
                                PA_OK);
                CU_ASSERT_STRING_EQUAL(got, want);
                CU_ASSERT_EQUAL(strlen(got), b64 ? (size_t)(nks[i] == 1 ? 24 : nks[i] == 2 ? 44 : 64)
                                                 : (size_t)(9 * nks[i] - 1));
            }
        }
    }
}

/* ---- appendix B.4 ------------------------------------------------------- */

static void test_b4(void)
{
    pa_sig_keys k;
    uint8_t ctr[16], next[16], data[64], h[32], t[32], comp[32];
    size_t dn;
    char sig[PA_SIG_MAX];
    pa_vec_file *vf = pa_vec_open("signatures-v3.json");
    json_t *in;

    CU_ASSERT_FATAL(vf != NULL);
    memset(&k, 0, sizeof k);
    pa_vec_unhex("6d59cf0ba8d11589489232832563b155", k.possession);
    pa_vec_unhex("d62d16a070cc9a6350a373e3caf54245", k.knowledge);
    pa_vec_unhex("f4d909508d8c12b6a412ce875172fe32", ctr);
    dn = pa_vec_unhex("f464657852f6138d2b85f1a08014f5c1d7b3df3d6d0a96c6dcaf8c", data);

    /* B.4 claims to be entry 15 of signatures-v3.json. */
    in = pa_vec_input(vf, 15);
    {
        pa_sig_keys vk;
        uint8_t vctr[16], *vd;
        size_t vn = 0;

        CU_ASSERT(vec_keys(in, &vk));
        CU_ASSERT(memcmp(vk.possession, k.possession, 16) == 0);
        CU_ASSERT(memcmp(vk.knowledge, k.knowledge, 16) == 0);
        CU_ASSERT(vec_ctr(in, vctr) && memcmp(vctr, ctr, 16) == 0);
        CU_ASSERT_STRING_EQUAL(pa_vec_str(in, "signatureType"), "possession_knowledge");
        CU_ASSERT_STRING_EQUAL(pa_vec_str(pa_vec_output(vf, 15), "signature"),
                               "11405943-03677828");
        vd = vec_data(in, &vn);
        CU_ASSERT(vd != NULL && vn == dn && memcmp(vd, data, dn) == 0);
        free(vd);
    }
    pa_vec_done(vf, 0);   /* file fully checked by test_vectors_v3 */

    hm(k.possession, 16, ctr, 16, h);
    ASSERT_HEX(h, 32, "cd71fcb10f349cc335230b400214d0e28ed68d1146f90b53686726055eec0a16");
    hm(h, 32, data, dn, comp);
    ASSERT_HEX(comp, 32, "9b2c4a7feb4b223579681bc8b3591ddaf3f688bfe69e8add560ce5f78c99cc77");
    hm(k.knowledge, 16, ctr, 16, h);
    ASSERT_HEX(h, 32, "d27c67a3881f7ee8b54e9589b7c796ebbcd0392fcaf81ef45b2acd9cc0cbf62a");
    hm(h, 32, h, 32, t);
    ASSERT_HEX(t, 32, "0f53f4738b625b49524707da3dbfedd590f77286011ddf485cd9d0c1be40c8ba");
    hm(t, 32, data, dn, comp);
    ASSERT_HEX(comp, 32, "813a728d57999b0e33ce680c97a33f695dc793c4f05baec326d9c5ef062dff84");

    CU_ASSERT_EQUAL(pa_sig_compute(&k, PA_SIG_POSSESSION_KNOWLEDGE, ctr, data, dn,
                                   PA_SIG_FORMAT_DECIMAL, sig), PA_OK);
    CU_ASSERT_STRING_EQUAL(sig, "11405943-03677828");
    CU_ASSERT_EQUAL(pa_sig_compute(&k, PA_SIG_POSSESSION_KNOWLEDGE, ctr, data, dn,
                                   PA_SIG_FORMAT_BASE64, sig), PA_OK);
    CU_ASSERT_STRING_EQUAL(sig, "8/aIv+aeit1WDOX3jJnMd13Hk8TwW67DJtnF7wYt/4Q=");
    CU_ASSERT_EQUAL(pa_sig_ctr_next(ctr, next), PA_OK);
    ASSERT_HEX(next, 16, "db4fb23285fb610a42908a2257401c55");
    /* in place */
    CU_ASSERT_EQUAL(pa_sig_ctr_next(ctr, ctr), PA_OK);
    ASSERT_HEX(ctr, 16, "db4fb23285fb610a42908a2257401c55");
}

/* ---- counters ------------------------------------------------------------ */

static void test_ctr_numeric(void)
{
    uint8_t c[16];

    pa_sig_ctr_numeric(0, c);
    ASSERT_HEX(c, 16, "00000000000000000000000000000000");
    pa_sig_ctr_numeric(258, c);
    ASSERT_HEX(c, 16, "00000000000000000000000000000102");
    pa_sig_ctr_numeric(-1, c);
    ASSERT_HEX(c, 16, "0000000000000000ffffffffffffffff");
    pa_sig_ctr_numeric(INT64_MIN, c);
    ASSERT_HEX(c, 16, "00000000000000008000000000000000");
}

/* 290 of the 299 neighbours of signatures-v3.json form NEXT chains (17.1):
 * the chains break every 30 entries. */
static void test_ctr_next_chains(void)
{
    pa_vec_file *vf = pa_vec_open("signatures-v3.json");
    size_t chained = 0;
    uint8_t prev[16], cur[16], nx[16];

    CU_ASSERT_FATAL(vf != NULL);
    CU_ASSERT_FATAL(vec_ctr(pa_vec_input(vf, 0), prev));
    for (size_t i = 1; i < pa_vec_count(vf); i++) {
        CU_ASSERT_FATAL(vec_ctr(pa_vec_input(vf, i), cur));
        CU_ASSERT_EQUAL(pa_sig_ctr_next(prev, nx), PA_OK);
        if (memcmp(nx, cur, 16) == 0)
            chained++;
        else
            CU_ASSERT_EQUAL(i % 30, 0);       /* only at chain boundaries */
        memcpy(prev, cur, 16);
    }
    CU_ASSERT_EQUAL(chained, 290);
    pa_vec_done(vf, 0);   /* entries themselves checked by test_vectors_v3 */
}

/* ---- verification with lookahead ---------------------------------------- */

/* Entry j of signatures-v3.json verified from the counter data of entry
 * `start` (same chain, same keys), server counter 100. */
static void verify_from(pa_vec_file *vf, size_t start, size_t j,
                        unsigned lookahead, pa_sig_result *r, pa_err *e)
{
    json_t *in = pa_vec_input(vf, j);
    pa_sig_keys k;
    pa_sig_type t;
    uint8_t c0[16], *data;
    size_t n = 0;

    CU_ASSERT_FATAL(vec_keys(in, &k) && vec_type(in, &t));
    CU_ASSERT_FATAL(vec_ctr(pa_vec_input(vf, start), c0));
    data = vec_data(in, &n);
    CU_ASSERT_FATAL(data != NULL);
    *e = pa_sig_verify(&k, &t, 1, PA_SIG_FORMAT_DECIMAL, 1, 100, c0, lookahead,
                       data, n, pa_vec_str(pa_vec_output(vf, j), "signature"), r);
    free(data);
}

static void test_verify_lookahead_hash(void)
{
    pa_vec_file *vf = pa_vec_open("signatures-v3.json");
    pa_sig_result r;
    uint8_t c[16], c0[16];
    pa_err e;

    CU_ASSERT_FATAL(vf != NULL);
    /* Entry 15 (B.4) is 5 NEXT steps after entry 10. */
    verify_from(vf, 10, 15, 20, &r, &e);
    CU_ASSERT_EQUAL(e, PA_OK);
    CU_ASSERT_EQUAL(r.valid, 1);
    CU_ASSERT_EQUAL(r.matched_pos, 105);
    CU_ASSERT_EQUAL(r.ctr_next, 106);
    CU_ASSERT_EQUAL(r.used_type, PA_SIG_POSSESSION_KNOWLEDGE);
    CU_ASSERT(vec_ctr(pa_vec_input(vf, 16), c));     /* NEXT^6 = entry 16 */
    CU_ASSERT(memcmp(r.ctr_data_next, c, 16) == 0);
    /* and NEXT^6 computed step by step */
    CU_ASSERT(vec_ctr(pa_vec_input(vf, 10), c0));
    for (int i = 0; i < 6; i++)
        pa_sig_ctr_next(c0, c0);
    CU_ASSERT(memcmp(r.ctr_data_next, c0, 16) == 0);

    /* Position c+19 is the last one tried with lookahead 20 (entry 29 is a
     * possession_knowledge_biometry signature, 19 steps after entry 10). */
    verify_from(vf, 10, 29, 20, &r, &e);
    CU_ASSERT_EQUAL(e, PA_OK);
    CU_ASSERT_EQUAL(r.valid, 1);
    CU_ASSERT_EQUAL(r.matched_pos, 119);
    CU_ASSERT_EQUAL(r.ctr_next, 120);
    CU_ASSERT_EQUAL(r.used_type, PA_SIG_POSSESSION_KNOWLEDGE_BIOMETRY);
    CU_ASSERT(vec_ctr(pa_vec_input(vf, 29), c));
    pa_sig_ctr_next(c, c);
    CU_ASSERT(memcmp(r.ctr_data_next, c, 16) == 0);

    /* Position c+20 is outside the window ... */
    verify_from(vf, 9, 29, 20, &r, &e);
    CU_ASSERT_EQUAL(e, PA_OK);
    CU_ASSERT_EQUAL(r.valid, 0);
    CU_ASSERT_EQUAL(r.ctr_next, 100);
    CU_ASSERT_EQUAL(r.matched_pos, -1);
    CU_ASSERT(vec_ctr(pa_vec_input(vf, 9), c));
    CU_ASSERT(memcmp(r.ctr_data_next, c, 16) == 0);   /* unchanged */
    /* ... and inside a window of 21. */
    verify_from(vf, 9, 29, 21, &r, &e);
    CU_ASSERT_EQUAL(e, PA_OK);
    CU_ASSERT_EQUAL(r.valid, 1);
    CU_ASSERT_EQUAL(r.matched_pos, 120);
    /* Position c itself (lookahead 1). */
    verify_from(vf, 15, 15, 1, &r, &e);
    CU_ASSERT_EQUAL(r.valid, 1);
    CU_ASSERT_EQUAL(r.matched_pos, 100);
    CU_ASSERT_EQUAL(r.ctr_next, 101);
    /* A signature behind the counter is never found. */
    verify_from(vf, 16, 15, 20, &r, &e);
    CU_ASSERT_EQUAL(e, PA_OK);
    CU_ASSERT_EQUAL(r.valid, 0);
    /* Lookahead 0 tries nothing. */
    verify_from(vf, 15, 15, 0, &r, &e);
    CU_ASSERT_EQUAL(e, PA_OK);
    CU_ASSERT_EQUAL(r.valid, 0);
    pa_vec_done(vf, 0);
}

static void test_verify_numeric(void)
{
    pa_vec_file *vf = pa_vec_open("signatures-v2.json");
    /* Entry 17: counter 7, possession_knowledge (entries 10..19). */
    json_t *in;
    pa_sig_keys k;
    pa_sig_type t;
    pa_sig_result r;
    uint8_t *data;
    size_t n = 0;
    const char *sig;

    CU_ASSERT_FATAL(vf != NULL);
    in = pa_vec_input(vf, 17);
    CU_ASSERT_STRING_EQUAL(pa_vec_str(in, "counter"), "7");
    CU_ASSERT_FATAL(vec_keys(in, &k) && vec_type(in, &t));
    sig = pa_vec_str(pa_vec_output(vf, 17), "signature");
    data = vec_data(in, &n);
    CU_ASSERT_FATAL(data != NULL);

    CU_ASSERT_EQUAL(pa_sig_verify(&k, &t, 1, PA_SIG_FORMAT_DECIMAL, 0, 2, NULL, 20,
                                  data, n, sig, &r), PA_OK);
    CU_ASSERT_EQUAL(r.valid, 1);
    CU_ASSERT_EQUAL(r.matched_pos, 7);
    CU_ASSERT_EQUAL(r.ctr_next, 8);
    CU_ASSERT_EQUAL(r.used_type, t);
    CU_ASSERT_EQUAL(pa_sig_verify(&k, &t, 1, PA_SIG_FORMAT_DECIMAL, 0, 7, NULL, 1,
                                  data, n, sig, &r), PA_OK);
    CU_ASSERT_EQUAL(r.valid, 1);
    CU_ASSERT_EQUAL(r.ctr_next, 8);
    /* window [0, 7) misses it, [8, 28) too */
    CU_ASSERT_EQUAL(pa_sig_verify(&k, &t, 1, PA_SIG_FORMAT_DECIMAL, 0, 0, NULL, 7,
                                  data, n, sig, &r), PA_OK);
    CU_ASSERT_EQUAL(r.valid, 0);
    CU_ASSERT_EQUAL(r.ctr_next, 0);
    CU_ASSERT_EQUAL(pa_sig_verify(&k, &t, 1, PA_SIG_FORMAT_DECIMAL, 0, 8, NULL, 20,
                                  data, n, sig, &r), PA_OK);
    CU_ASSERT_EQUAL(r.valid, 0);
    /* Numeric counter with BASE64 format (protocol-2 activation, version 3.1). */
    {
        uint8_t ctr[16];
        char b[PA_SIG_MAX];

        pa_sig_ctr_numeric(7, ctr);
        CU_ASSERT_EQUAL(pa_sig_compute(&k, t, ctr, data, n, PA_SIG_FORMAT_BASE64, b),
                        PA_OK);
        CU_ASSERT_EQUAL(pa_sig_verify(&k, &t, 1, PA_SIG_FORMAT_BASE64, 0, 3, NULL, 20,
                                      data, n, b, &r), PA_OK);
        CU_ASSERT_EQUAL(r.valid, 1);
        CU_ASSERT_EQUAL(r.ctr_next, 8);
        /* the decimal text does not match in BASE64 mode */
        CU_ASSERT_EQUAL(pa_sig_verify(&k, &t, 1, PA_SIG_FORMAT_BASE64, 0, 3, NULL, 20,
                                      data, n, sig, &r), PA_OK);
        CU_ASSERT_EQUAL(r.valid, 0);
    }
    free(data);
    pa_vec_done(vf, 0);
}

/* Java long arithmetic: the window wraps at INT64_MAX. */
static void test_verify_counter_wrap(void)
{
    pa_sig_keys k;
    pa_sig_type t = PA_SIG_POSSESSION;
    pa_sig_result r;
    uint8_t ctr[16], data[3] = {1, 2, 3};
    char sig[PA_SIG_MAX];

    memset(&k, 0x11, sizeof k);
    pa_sig_ctr_numeric(INT64_MIN, ctr);
    CU_ASSERT_EQUAL(pa_sig_compute(&k, t, ctr, data, 3, PA_SIG_FORMAT_DECIMAL, sig),
                    PA_OK);
    CU_ASSERT_EQUAL(pa_sig_verify(&k, &t, 1, PA_SIG_FORMAT_DECIMAL, 0, INT64_MAX,
                                  NULL, 3, data, 3, sig, &r), PA_OK);
    CU_ASSERT_EQUAL(r.valid, 1);
    CU_ASSERT_EQUAL(r.matched_pos, INT64_MIN);
    CU_ASSERT_EQUAL(r.ctr_next, INT64_MIN + 1);
}

static void test_verify_two_types(void)
{
    pa_sig_type both[2] = {PA_SIG_POSSESSION_KNOWLEDGE, PA_SIG_POSSESSION_BIOMETRY};
    pa_sig_keys k;
    pa_sig_result r;
    uint8_t c0[16], c[16], expnext[16];
    const char *text = "POST&L3BhL3NpZ25hdHVyZS92YWxpZGF0ZQ==&kYjzVBB8Y0ZFabxSWbWovQ==&&offline";
    size_t n = strlen(text);
    const uint8_t *data = (const uint8_t *)text;
    char pb[PA_SIG_MAX], pk[PA_SIG_MAX], bad[PA_SIG_MAX];

    pa_random((uint8_t *)&k, sizeof k);
    pa_random(c0, 16);
    memcpy(c, c0, 16);
    for (int i = 0; i < 3; i++)
        pa_sig_ctr_next(c, c);
    CU_ASSERT_EQUAL(pa_sig_compute(&k, PA_SIG_POSSESSION_BIOMETRY, c, data, n,
                                   PA_SIG_FORMAT_DECIMAL, pb), PA_OK);
    CU_ASSERT_EQUAL(pa_sig_compute(&k, PA_SIG_POSSESSION_KNOWLEDGE, c, data, n,
                                   PA_SIG_FORMAT_DECIMAL, pk), PA_OK);
    pa_sig_ctr_next(c, expnext);
    /* Both share COMP[0] (possession first), the second component differs. */
    CU_ASSERT(strncmp(pb, pk, 9) == 0);
    CU_ASSERT(strcmp(pb, pk) != 0);

    CU_ASSERT_EQUAL(pa_sig_verify(&k, both, 2, PA_SIG_FORMAT_DECIMAL, 1, 40, c0, 20,
                                  data, n, pb, &r), PA_OK);
    CU_ASSERT_EQUAL(r.valid, 1);
    CU_ASSERT_EQUAL(r.used_type, PA_SIG_POSSESSION_BIOMETRY);
    CU_ASSERT_EQUAL(r.matched_pos, 43);
    CU_ASSERT_EQUAL(r.ctr_next, 44);
    CU_ASSERT(memcmp(r.ctr_data_next, expnext, 16) == 0);
    CU_ASSERT_EQUAL(pa_sig_verify(&k, both, 2, PA_SIG_FORMAT_DECIMAL, 1, 40, c0, 20,
                                  data, n, pk, &r), PA_OK);
    CU_ASSERT_EQUAL(r.valid, 1);
    CU_ASSERT_EQUAL(r.used_type, PA_SIG_POSSESSION_KNOWLEDGE);
    /* Only the first type allowed: the biometry signature fails. */
    CU_ASSERT_EQUAL(pa_sig_verify(&k, both, 1, PA_SIG_FORMAT_DECIMAL, 1, 40, c0, 20,
                                  data, n, pb, &r), PA_OK);
    CU_ASSERT_EQUAL(r.valid, 0);
    CU_ASSERT_EQUAL(r.used_type, PA_SIG_POSSESSION_KNOWLEDGE);
    /* Wrong signature: invalid, used_type = types[0], nothing advanced. */
    strcpy(bad, pb);
    bad[16] = bad[16] == '0' ? '1' : '0';
    CU_ASSERT_EQUAL(pa_sig_verify(&k, both + 1, 1, PA_SIG_FORMAT_DECIMAL, 1, 40, c0,
                                  20, data, n, bad, &r), PA_OK);
    CU_ASSERT_EQUAL(r.valid, 0);
    CU_ASSERT_EQUAL(r.used_type, PA_SIG_POSSESSION_BIOMETRY);
    CU_ASSERT_EQUAL(r.ctr_next, 40);
    CU_ASSERT_EQUAL(r.matched_pos, -1);
    CU_ASSERT(memcmp(r.ctr_data_next, c0, 16) == 0);
    CU_ASSERT_EQUAL(pa_sig_verify(&k, both, 2, PA_SIG_FORMAT_DECIMAL, 1, 40, c0, 20,
                                  data, n, bad, &r), PA_OK);
    CU_ASSERT_EQUAL(r.valid, 0);
    CU_ASSERT_EQUAL(r.used_type, PA_SIG_POSSESSION_KNOWLEDGE);
    /* Near misses: prefix, suffix, empty string, the other data. */
    pb[16] = '\0';
    CU_ASSERT_EQUAL(pa_sig_verify(&k, both, 2, PA_SIG_FORMAT_DECIMAL, 1, 40, c0, 20,
                                  data, n, pb, &r), PA_OK);
    CU_ASSERT_EQUAL(r.valid, 0);
    CU_ASSERT_EQUAL(pa_sig_verify(&k, both, 2, PA_SIG_FORMAT_DECIMAL, 1, 40, c0, 20,
                                  data, n, "", &r), PA_OK);
    CU_ASSERT_EQUAL(r.valid, 0);
    CU_ASSERT_EQUAL(pa_sig_verify(&k, both, 2, PA_SIG_FORMAT_DECIMAL, 1, 40, c0, 20,
                                  data, n - 1, pk, &r), PA_OK);
    CU_ASSERT_EQUAL(r.valid, 0);
}

/* BASE64 format: exact, case-sensitive, padding required. */
static void test_verify_base64_exact(void)
{
    pa_vec_file *vf = pa_vec_open("signatures-v31.json");
    /* Entry 0 is possession: 24 chars ending "==". */
    json_t *in;
    pa_sig_keys k;
    pa_sig_type t;
    pa_sig_result r;
    uint8_t c0[16], *data;
    size_t n = 0;
    char s[PA_SIG_MAX];
    const char *sig;

    CU_ASSERT_FATAL(vf != NULL);
    in = pa_vec_input(vf, 0);
    CU_ASSERT_FATAL(vec_keys(in, &k) && vec_type(in, &t) && vec_ctr(in, c0));
    sig = pa_vec_str(pa_vec_output(vf, 0), "signature");
    data = vec_data(in, &n);
    CU_ASSERT_FATAL(data != NULL && strlen(sig) == 24);
    CU_ASSERT_EQUAL(pa_sig_verify(&k, &t, 1, PA_SIG_FORMAT_BASE64, 1, 0, c0, 20,
                                  data, n, sig, &r), PA_OK);
    CU_ASSERT_EQUAL(r.valid, 1);
    CU_ASSERT_EQUAL(r.matched_pos, 0);
    strcpy(s, sig);
    s[22] = '\0';                                      /* unpadded */
    CU_ASSERT_EQUAL(pa_sig_verify(&k, &t, 1, PA_SIG_FORMAT_BASE64, 1, 0, c0, 20,
                                  data, n, s, &r), PA_OK);
    CU_ASSERT_EQUAL(r.valid, 0);
    strcpy(s, sig);
    s[23] = '\0';                                      /* partly padded */
    CU_ASSERT_EQUAL(pa_sig_verify(&k, &t, 1, PA_SIG_FORMAT_BASE64, 1, 0, c0, 20,
                                  data, n, s, &r), PA_OK);
    CU_ASSERT_EQUAL(r.valid, 0);
    for (size_t i = 0; i < 22; i++) {                  /* first letter case-flipped */
        strcpy(s, sig);
        if (s[i] >= 'a' && s[i] <= 'z') {
            s[i] = (char)(s[i] - 'a' + 'A');
        } else if (s[i] >= 'A' && s[i] <= 'Z') {
            s[i] = (char)(s[i] - 'A' + 'a');
        } else {
            continue;
        }
        CU_ASSERT_EQUAL(pa_sig_verify(&k, &t, 1, PA_SIG_FORMAT_BASE64, 1, 0, c0, 20,
                                      data, n, s, &r), PA_OK);
        CU_ASSERT_EQUAL(r.valid, 0);
        break;
    }
    /* The DECIMAL rendering of the same signature does not match. */
    CU_ASSERT_EQUAL(pa_sig_compute(&k, t, c0, data, n, PA_SIG_FORMAT_DECIMAL, s), PA_OK);
    CU_ASSERT_EQUAL(pa_sig_verify(&k, &t, 1, PA_SIG_FORMAT_BASE64, 1, 0, c0, 20,
                                  data, n, s, &r), PA_OK);
    CU_ASSERT_EQUAL(r.valid, 0);
    free(data);
    pa_vec_done(vf, 0);
}

static void test_bad_arguments(void)
{
    pa_sig_keys k;
    pa_sig_type t = PA_SIG_POSSESSION, badt = (pa_sig_type)99;
    pa_sig_result r;
    uint8_t ctr[16] = {0}, d[1] = {0};
    char s[PA_SIG_MAX];

    memset(&k, 0, sizeof k);
    CU_ASSERT_EQUAL(pa_sig_compute_decimal(&k, t, ctr, d, 1, 3, s), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_sig_compute_decimal(&k, t, ctr, d, 1, 9, s), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_sig_compute_decimal(&k, t, ctr, d, 1, 4, s), PA_OK);
    CU_ASSERT_EQUAL(strlen(s), 4);
    CU_ASSERT_EQUAL(pa_sig_compute(&k, badt, ctr, d, 1, PA_SIG_FORMAT_DECIMAL, s),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_sig_compute(&k, t, ctr, d, 1, (pa_sig_format)7, s),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_sig_compute(NULL, t, ctr, d, 1, PA_SIG_FORMAT_DECIMAL, s),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_sig_compute(&k, t, ctr, NULL, 1, PA_SIG_FORMAT_DECIMAL, s),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_sig_verify(&k, &t, 0, PA_SIG_FORMAT_DECIMAL, 0, 0, NULL, 20,
                                  d, 1, "x", &r), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_sig_verify(&k, &badt, 1, PA_SIG_FORMAT_DECIMAL, 0, 0, NULL, 20,
                                  d, 1, "x", &r), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_sig_verify(&k, &t, 1, PA_SIG_FORMAT_DECIMAL, 1, 0, NULL, 20,
                                  d, 1, "x", &r), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_sig_verify(&k, &t, 1, PA_SIG_FORMAT_DECIMAL, 0, 0, NULL, 20,
                                  d, 1, NULL, &r), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_sig_verify(&k, NULL, 1, PA_SIG_FORMAT_DECIMAL, 0, 0, NULL, 20,
                                  d, 1, "x", &r), PA_ERR_INVALID_INPUT_FORMAT);
}

/* ---- types and versions ----------------------------------------------- */

static void test_type_names(void)
{
    static const char *soap[] = {"POSSESSION", "KNOWLEDGE", "BIOMETRY",
                                 "POSSESSION_KNOWLEDGE", "POSSESSION_BIOMETRY",
                                 "POSSESSION_KNOWLEDGE_BIOMETRY"};
    static const char *hdr[] = {"possession", "knowledge", "biometry",
                                "possession_knowledge", "possession_biometry",
                                "possession_knowledge_biometry"};
    static const pa_sig_type val[] = {
        PA_SIG_POSSESSION, PA_SIG_KNOWLEDGE, PA_SIG_BIOMETRY,
        PA_SIG_POSSESSION_KNOWLEDGE, PA_SIG_POSSESSION_BIOMETRY,
        PA_SIG_POSSESSION_KNOWLEDGE_BIOMETRY};
    static const char *bad[] = {"", "Possession", "POSSESSION ", " possession",
                                "possession-knowledge", "POSSESSION_knowledge",
                                "KNOWLEDGE_POSSESSION", "possession_knowledge_biometry_x",
                                "1"};
    pa_sig_type t;

    for (int i = 0; i < 6; i++) {
        t = (pa_sig_type)-1;
        CU_ASSERT_EQUAL(pa_sig_type_parse(soap[i], &t), PA_OK);
        CU_ASSERT_EQUAL(t, val[i]);
        t = (pa_sig_type)-1;
        CU_ASSERT_EQUAL(pa_sig_type_parse(hdr[i], &t), PA_OK);
        CU_ASSERT_EQUAL(t, val[i]);
        CU_ASSERT_STRING_EQUAL(pa_sig_type_name(val[i]), soap[i]);
        CU_ASSERT_STRING_EQUAL(pa_sig_type_header_name(val[i]), hdr[i]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_EQUAL(pa_sig_type_parse(bad[i], &t), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_sig_type_parse(NULL, &t), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_PTR_NULL(pa_sig_type_name((pa_sig_type)6));
    CU_ASSERT_EQUAL(pa_sig_type_factors((pa_sig_type)6), 0);
}

static void test_version_table(void)
{
    static const struct { const char *v; pa_sig_format f; } good[] = {
        {"2.0", PA_SIG_FORMAT_DECIMAL}, {"2.1", PA_SIG_FORMAT_DECIMAL},
        {"3.0", PA_SIG_FORMAT_DECIMAL}, {"3.1", PA_SIG_FORMAT_BASE64},
        {"3.2", PA_SIG_FORMAT_BASE64},  {"4", PA_SIG_FORMAT_BASE64},
        {"10", PA_SIG_FORMAT_BASE64},   {"3.1000000001", PA_SIG_FORMAT_BASE64},
        {"3.1000000000000002", PA_SIG_FORMAT_BASE64},
        {"3.11", PA_SIG_FORMAT_BASE64}, {"3.2000", PA_SIG_FORMAT_BASE64},
        {"03.2", PA_SIG_FORMAT_BASE64}, {"4.0", PA_SIG_FORMAT_BASE64},
        {"9", PA_SIG_FORMAT_BASE64},    {"99999999999999999999", PA_SIG_FORMAT_BASE64},
    };
    static const char *bad[] = {
        "1.0", "3.10", "abc", "", " 3.2", "3.2f", "+3.5", "1e1", "3.2 ", "3",
        "3.", ".5", "3.09", "3.1000", "2.00", "2", "0", "003.1", "3.0000",
        "Infinity", "NaN", "-4", "3..2", "3.2.1", "3,2", "0.5", "1.9999",
    };
    pa_sig_format f;

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        f = (pa_sig_format)-1;
        CU_ASSERT_EQUAL(pa_sig_format_for_version(good[i].v, &f), PA_OK);
        if (f != good[i].f)
            fprintf(stderr, "\n  version %s: wrong format\n", good[i].v);
        CU_ASSERT_EQUAL(f, good[i].f);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pa_err e = pa_sig_format_for_version(bad[i], &f);

        if (e != PA_ERR_UNABLE_TO_COMPUTE_SIGNATURE)
            fprintf(stderr, "\n  version \"%s\" accepted\n", bad[i]);
        CU_ASSERT_EQUAL(e, PA_ERR_UNABLE_TO_COMPUTE_SIGNATURE);
    }
    CU_ASSERT_EQUAL(pa_sig_format_for_version(NULL, &f), PA_ERR_UNABLE_TO_COMPUTE_SIGNATURE);
}

/* ---- data strings and normalisation (8.1, B.5) --------------------------- */

static void test_b5_normalize(void)
{
    uint8_t nonce[16];
    const char *body = "{\"hello\":\"world\"}";
    char *ds = NULL, *data = NULL, *q = NULL, *off = NULL;
    char qb64[64];

    CU_ASSERT_EQUAL_FATAL(pa_b64_decode_exact("kYjzVBB8Y0ZFabxSWbWovQ==", nonce, 16), PA_OK);
    CU_ASSERT_EQUAL(pa_sig_normalize("POST", "/pa/signature/validate", nonce,
                                     (const uint8_t *)body, strlen(body), &ds), PA_OK);
    CU_ASSERT_STRING_EQUAL(ds, "POST&L3BhL3NpZ25hdHVyZS92YWxpZGF0ZQ==&kYjzVBB8Y0ZFabxSWbWovQ==&eyJoZWxsbyI6IndvcmxkIn0=");
    CU_ASSERT_EQUAL(pa_sig_data_online(ds, "5to+u5pcUeAl7GPu7fNmug==", &data), PA_OK);
    CU_ASSERT_STRING_EQUAL(data, "POST&L3BhL3NpZ25hdHVyZS92YWxpZGF0ZQ==&kYjzVBB8Y0ZFabxSWbWovQ==&eyJoZWxsbyI6IndvcmxkIn0=&5to+u5pcUeAl7GPu7fNmug==");
    CU_ASSERT_EQUAL(pa_sig_data_offline(ds, &off), PA_OK);
    CU_ASSERT_STRING_EQUAL(off, "POST&L3BhL3NpZ25hdHVyZS92YWxpZGF0ZQ==&kYjzVBB8Y0ZFabxSWbWovQ==&eyJoZWxsbyI6IndvcmxkIn0=&offline");
    pa_secure_free(data, strlen(data));
    free(off);
    free(ds);
    ds = NULL;

    /* GET query of B.5 */
    CU_ASSERT_EQUAL(pa_sig_canonical_query("b=2&a=x%20y&a=1&c", &q), PA_OK);
    CU_ASSERT_STRING_EQUAL(q, "a=1&a=x+y&b=2");
    pa_b64_encode((const uint8_t *)q, strlen(q), qb64);
    CU_ASSERT_STRING_EQUAL(qb64, "YT0xJmE9eCt5JmI9Mg==");
    CU_ASSERT_EQUAL(pa_sig_normalize("get", "/pa/x", nonce, (const uint8_t *)q,
                                     strlen(q), &ds), PA_OK);
    CU_ASSERT_STRING_EQUAL(ds, "GET&L3BhL3g=&kYjzVBB8Y0ZFabxSWbWovQ==&YT0xJmE9eCt5JmI9Mg==");
    free(ds);
    free(q);

    /* Empty body: trailing '&'. */
    CU_ASSERT_EQUAL(pa_sig_normalize("POST", "/pa/token/remove", nonce, NULL, 0, &ds), PA_OK);
    CU_ASSERT_STRING_EQUAL(ds, "POST&L3BhL3Rva2VuL3JlbW92ZQ==&kYjzVBB8Y0ZFabxSWbWovQ==&");
    free(ds);
    CU_ASSERT_EQUAL(pa_sig_normalize("", "/x", nonce, NULL, 0, &ds), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_sig_normalize("PO&ST", "/x", nonce, NULL, 0, &ds), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_sig_normalize("POST", NULL, nonce, NULL, 0, &ds), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_sig_normalize("POST", "/x", nonce, NULL, 3, &ds), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_PTR_NULL(ds);
    CU_ASSERT_EQUAL(pa_sig_data_online(NULL, "s", &ds), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_sig_data_online("d", NULL, &ds), PA_ERR_INVALID_INPUT_FORMAT);
}

static void test_canonical_query(void)
{
    static const struct { const char *in, *out; } ok[] = {
        {"b=2&a=x%20y&a=1&c", "a=1&a=x+y&b=2"},
        {"z=%C5%BE&k=a*b~c&k=A", "k=A&k=a*b%7Ec&z=%C5%BE"},
        {"", ""},
        {"c", ""},
        {"&&&", ""},
        {"a=", "a="},
        {"=x", "=x"},
        {"a+b=c d", "a+b=c+d"},
        {"a=1=2", "a=1%3D2"},
        {"a=b&a=a&A=z", "A=z&a=a&a=b"},
        {"k=%2b%2B+", "k=%2B%2B+"},
        {"x=%7e.-*_", "x=%7E.-*_"},
        {"ab=1&a=2", "a=2&ab=1"},
        {"%00=1&=2", "=2&%00=1"},
        {"k=\xc5\xbe", "k=%C5%BE"},
        {"k=%C5%BE&k=z", "k=z&k=%C5%BE"},
        {"a=/?:@!$'()", "a=%2F%3F%3A%40%21%24%27%28%29"},
    };
    static const char *bad[] = {"a=%", "a=%2", "a=%zz", "%g0=1", "a=1&b=%4"};
    char *q = NULL;

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        CU_ASSERT_EQUAL(pa_sig_canonical_query(ok[i].in, &q), PA_OK);
        if (q == NULL || strcmp(q, ok[i].out) != 0)
            fprintf(stderr, "\n  query %s -> %s, want %s\n", ok[i].in, q ? q : "(null)",
                    ok[i].out);
        CU_ASSERT(q != NULL && strcmp(q, ok[i].out) == 0);
        free(q);
        q = NULL;
    }
    CU_ASSERT_EQUAL(pa_sig_canonical_query(NULL, &q), PA_OK);
    CU_ASSERT(q != NULL && q[0] == '\0');
    free(q);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        q = NULL;
        CU_ASSERT_EQUAL(pa_sig_canonical_query(bad[i], &q), PA_ERR_INVALID_INPUT_FORMAT);
        CU_ASSERT_PTR_NULL(q);
    }
}

int register_signature_suite(void)
{
    CU_pSuite s = CU_add_suite("signature", NULL, NULL);

    if (s == NULL)
        return -1;
    if (!CU_add_test(s, "signatures-v2.json", test_vectors_v2)
        || !CU_add_test(s, "signatures-v3.json", test_vectors_v3)
        || !CU_add_test(s, "signatures-v31.json", test_vectors_v31)
        || !CU_add_test(s, "signatures-offline.json", test_vectors_offline)
        || !CU_add_test(s, "all types vs expanded formulas", test_reference_all_types)
        || !CU_add_test(s, "appendix B.4", test_b4)
        || !CU_add_test(s, "CTR16", test_ctr_numeric)
        || !CU_add_test(s, "NEXT chains of signatures-v3.json", test_ctr_next_chains)
        || !CU_add_test(s, "verify: hash counter lookahead", test_verify_lookahead_hash)
        || !CU_add_test(s, "verify: numeric counter", test_verify_numeric)
        || !CU_add_test(s, "verify: counter wraps like a long", test_verify_counter_wrap)
        || !CU_add_test(s, "verify: two types, wrong signatures", test_verify_two_types)
        || !CU_add_test(s, "verify: exact Base64", test_verify_base64_exact)
        || !CU_add_test(s, "bad arguments", test_bad_arguments)
        || !CU_add_test(s, "type names", test_type_names)
        || !CU_add_test(s, "signatureVersion table", test_version_table)
        || !CU_add_test(s, "appendix B.5 normalisation", test_b5_normalize)
        || !CU_add_test(s, "canonical query", test_canonical_query))
        return -1;
    return 0;
}
