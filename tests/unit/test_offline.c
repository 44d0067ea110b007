/* test_offline.c - offline signature payloads (CRYPTO.md 9.1, 9.2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "crypto/eckey.h"
#include "crypto/offline.h"
#include "tests/unit/suites.h"
#include "tests/unit/vectors.h"
#include "util/base64.h"

/* supplementary/offline-signature-payload.json: the stored payload verifies
 * with publicKey and splits into the input parts; the same key and nonce
 * reproduce the signed text byte for byte (ECDSA itself is randomised), and
 * that new payload verifies too. */
static void test_payload_vectors(void)
{
    pa_vec_file *f = pa_vec_open("supplementary/offline-signature-payload.json");
    size_t checked = 0;

    for (size_t i = 0; i < pa_vec_count(f); i++) {
        json_t *in = pa_vec_input(f, i);
        const char *od = pa_vec_str(pa_vec_output(f, i), "offlineData");
        const char *data = pa_vec_str(in, "data");
        const char *nonce_txt = pa_vec_str(in, "nonce");
        const char *ind = pa_vec_str(in, "keyIndicator");
        pa_eckey *pub = NULL, *priv = NULL;
        pa_offline_parts p = {0}, p2 = {0};
        uint8_t nonce[16], pubb[65], derived[65];
        char *mine = NULL, nb64[25] = "";
        size_t prefix;
        int valid = 0, valid2 = 0, ok;

        ok = od && data && nonce_txt && ind && strlen(ind) == 1
             && pa_ec_pub_import_b64(pa_vec_str(in, "publicKey"), &pub) == PA_OK
             && pa_ec_priv_import_b64(pa_vec_str(in, "privateKey"), &priv) == PA_OK
             && pa_ec_pub_export(pub, pubb) == PA_OK
             && pa_ec_pub_export(priv, derived) == PA_OK
             && memcmp(pubb, derived, 65) == 0
             && pa_b64_decode_exact(nonce_txt, nonce, 16) == PA_OK;
        /* stored payload */
        ok = ok && pa_offline_payload_verify(pub, od, &valid, &p) == PA_OK
             && valid == 1 && strcmp(p.data, data) == 0
             && strcmp(p.nonce_b64, nonce_txt) == 0 && p.key_indicator == ind[0];
        /* signed text = data LF nonce LF indicator, then the signature */
        prefix = ok ? strlen(data) + 1 + 24 + 1 + 1 : 0;
        ok = ok && strncmp(od, data, strlen(data)) == 0
             && od[strlen(data)] == '\n'
             && strncmp(od + strlen(data) + 1, nonce_txt, 24) == 0
             && od[prefix - 2] == '\n' && od[prefix - 1] == ind[0];
        /* re-create with the same key and nonce */
        ok = ok && pa_offline_payload_create_nonce(priv, data, ind[0], nonce, &mine, nb64)
                       == PA_OK
             && strcmp(nb64, nonce_txt) == 0 && strncmp(mine, od, prefix) == 0
             && pa_offline_payload_verify(pub, mine, &valid2, &p2) == PA_OK
             && valid2 == 1 && strcmp(p2.data, data) == 0;
        if (!ok)
            fprintf(stderr, "\n  offline-signature-payload[%zu] failed\n", i);
        CU_ASSERT(ok);
        checked += ok;
        free(mine);
        pa_offline_parts_free(&p);
        pa_offline_parts_free(&p2);
        pa_ec_free(pub);
        pa_ec_free(priv);
    }
    pa_vec_done(f, checked);
}

/* The keys of two different vector entries (index 0 and 1). */
static void vector_keys(pa_eckey **priv0, pa_eckey **pub0, pa_eckey **pub1,
                        char **od0)
{
    pa_vec_file *f = pa_vec_open("supplementary/offline-signature-payload.json");

    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT_EQUAL_FATAL(pa_ec_priv_import_b64(pa_vec_str(pa_vec_input(f, 0), "privateKey"),
                                                priv0), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_ec_pub_import_b64(pa_vec_str(pa_vec_input(f, 0), "publicKey"),
                                               pub0), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_ec_pub_import_b64(pa_vec_str(pa_vec_input(f, 1), "publicKey"),
                                               pub1), PA_OK);
    *od0 = strdup(pa_vec_str(pa_vec_output(f, 0), "offlineData"));
    pa_vec_done(f, 0);
}

static void test_round_trip(void)
{
    static const char *datas[] = {
        "", "x", "line1\nline2\nline3", "\n", "A1*Z100000*CZK*RDoc\nQ\n\n",
        "\xc5\xbe\xc3\xa1\xc4\x8f\xc3\xa1",
    };
    pa_eckey *k = NULL, *pub = NULL;
    uint8_t p[65];

    CU_ASSERT_EQUAL_FATAL(pa_ec_generate(&k), PA_OK);
    pa_ec_pub_export(k, p);
    CU_ASSERT_EQUAL_FATAL(pa_ec_pub_import(p, 65, &pub), PA_OK);
    for (size_t i = 0; i < sizeof datas / sizeof datas[0]; i++) {
        for (int ind = 0; ind < 2; ind++) {
            char *od = NULL, nb[25], nb2[25];
            pa_offline_parts parts = {0};
            int valid = 0;
            uint8_t nonce[16];
            char *od2 = NULL;

            CU_ASSERT_EQUAL_FATAL(pa_offline_payload_create(k, datas[i], ind ? '1' : '0',
                                                            &od, nb), PA_OK);
            CU_ASSERT_EQUAL(strlen(nb), 24);
            CU_ASSERT_EQUAL(pa_b64_decode_exact(nb, nonce, 16), PA_OK);
            CU_ASSERT_EQUAL(pa_offline_payload_verify(pub, od, &valid, &parts), PA_OK);
            CU_ASSERT_EQUAL(valid, 1);
            CU_ASSERT_STRING_EQUAL(parts.data, datas[i]);
            CU_ASSERT_STRING_EQUAL(parts.nonce_b64, nb);
            CU_ASSERT_EQUAL(parts.key_indicator, ind ? '1' : '0');
            pa_offline_parts_free(&parts);
            CU_ASSERT_PTR_NULL(parts.data);
            /* parse alone gives the same parts; verify without parts works */
            CU_ASSERT_EQUAL(pa_offline_payload_parse(od, &parts), PA_OK);
            CU_ASSERT_STRING_EQUAL(parts.data, datas[i]);
            pa_offline_parts_free(&parts);
            CU_ASSERT_EQUAL(pa_offline_payload_verify(pub, od, &valid, NULL), PA_OK);
            CU_ASSERT_EQUAL(valid, 1);
            /* two payloads get different nonces */
            CU_ASSERT_EQUAL(pa_offline_payload_create(k, datas[i], '1', &od2, nb2), PA_OK);
            CU_ASSERT(strcmp(nb, nb2) != 0);
            free(od2);
            free(od);
        }
    }
    pa_ec_free(pub);
    pa_ec_free(k);
}

/* Replaces the text after the indicator with sig and verifies. */
static pa_err verify_with_sig(const pa_eckey *pub, const char *od, const char *sig,
                              int *valid)
{
    const char *last = strrchr(od, '\n');
    size_t keep = (size_t)(last - od) + 2;
    char *buf = malloc(keep + strlen(sig) + 1);
    pa_err e;

    memcpy(buf, od, keep);
    strcpy(buf + keep, sig);
    e = pa_offline_payload_verify(pub, buf, valid, NULL);
    free(buf);
    return e;
}

static void test_negative(void)
{
    pa_eckey *priv0 = NULL, *pub0 = NULL, *pub1 = NULL;
    char *od = NULL, *t, *mine = NULL, nb[25];
    pa_offline_parts parts;
    int valid = 7;
    uint8_t nonce[16] = {0};
    size_t len;

    vector_keys(&priv0, &pub0, &pub1, &od);
    CU_ASSERT_FATAL(od != NULL);
    len = strlen(od);
    t = malloc(len + 8);

    /* baseline */
    CU_ASSERT_EQUAL(pa_offline_payload_verify(pub0, od, &valid, NULL), PA_OK);
    CU_ASSERT_EQUAL(valid, 1);
    /* wrong key */
    valid = 7;
    CU_ASSERT_EQUAL(pa_offline_payload_verify(pub1, od, &valid, &parts), PA_OK);
    CU_ASSERT_EQUAL(valid, 0);
    pa_offline_parts_free(&parts);
    /* flipped byte in the data, in the nonce (still Base64), in the indicator */
    strcpy(t, od);
    t[3] ^= 0x01;
    CU_ASSERT_EQUAL(pa_offline_payload_verify(pub0, t, &valid, NULL), PA_OK);
    CU_ASSERT_EQUAL(valid, 0);
    strcpy(t, od);
    {
        char *nl = strrchr(t, '\n');
        char *n0 = nl - 24;

        n0[0] = n0[0] == 'A' ? 'B' : 'A';
        CU_ASSERT_EQUAL(pa_offline_payload_verify(pub0, t, &valid, NULL), PA_OK);
        CU_ASSERT_EQUAL(valid, 0);
        strcpy(t, od);
        nl = strrchr(t, '\n');
        nl[1] = nl[1] == '1' ? '0' : '1';
        CU_ASSERT_EQUAL(pa_offline_payload_verify(pub0, t, &valid, NULL), PA_OK);
        CU_ASSERT_EQUAL(valid, 0);
        nl[1] = '2';                                  /* not an indicator */
        CU_ASSERT_EQUAL(pa_offline_payload_verify(pub0, t, &valid, NULL),
                        PA_ERR_INVALID_INPUT_FORMAT);
        /* nonce of the wrong length */
        strcpy(t, od);
        nl = strrchr(t, '\n');
        memmove(nl - 4, nl, strlen(nl) + 1);
        CU_ASSERT_EQUAL(pa_offline_payload_verify(pub0, t, &valid, NULL),
                        PA_ERR_INVALID_INPUT_FORMAT);
    }
    /* missing LFs */
    strcpy(t, od);
    for (char *c = t; *c; c++)
        if (*c == '\n')
            *c = ' ';
    CU_ASSERT_EQUAL(pa_offline_payload_verify(pub0, t, &valid, NULL), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_offline_payload_parse(t, &parts), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_PTR_NULL(parts.data);
    /* only one LF: nonce LF indicator+sig without a data part */
    {
        const char *nl = strrchr(od, '\n');

        strcpy(t, nl - 24);
        CU_ASSERT_EQUAL(pa_offline_payload_verify(pub0, t, &valid, NULL),
                        PA_ERR_INVALID_INPUT_FORMAT);
    }
    CU_ASSERT_EQUAL(pa_offline_payload_verify(pub0, "", &valid, NULL), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_offline_payload_verify(pub0, "\n", &valid, NULL), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_offline_payload_verify(pub0, "\n\n", &valid, NULL), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_offline_payload_verify(pub0, NULL, &valid, NULL), PA_ERR_INVALID_INPUT_FORMAT);
    /* garbage signatures: error, never a crash or "valid" */
    valid = 7;
    CU_ASSERT_EQUAL(verify_with_sig(pub0, od, "AAAA", &valid), PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR);
    CU_ASSERT_EQUAL(valid, 0);
    CU_ASSERT_EQUAL(verify_with_sig(pub0, od, "!!!!", &valid), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(verify_with_sig(pub0, od, "", &valid), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(verify_with_sig(pub0, od,
                                    "MEUCIHZa8wr5nT9eu1Lo5mVuwyCp/waIximxPgHokew4CeIGAiEA3MubEN6jbne3TpmxIgHKM+kw7c0VsYIjLbaElQY+",
                                    &valid), PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR);  /* truncated DER */
    {
        /* signature with a trailing byte */
        const char *sig = strrchr(od, '\n') + 2;
        uint8_t der[80];
        size_t dl = 0;
        char b[120];

        CU_ASSERT_EQUAL_FATAL(pa_b64_decode(sig, der, &dl), PA_OK);
        der[dl++] = 0;
        pa_b64_encode(der, dl, b);
        CU_ASSERT_EQUAL(verify_with_sig(pub0, od, b, &valid), PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR);
        CU_ASSERT_EQUAL(valid, 0);
    }
    /* create: a public key cannot sign; bad indicator; NULL data */
    CU_ASSERT_EQUAL(pa_offline_payload_create(pub0, "d", '1', &mine, nb), PA_ERR_INVALID_KEY_FORMAT);
    CU_ASSERT_PTR_NULL(mine);
    CU_ASSERT_EQUAL(pa_offline_payload_create(priv0, "d", '2', &mine, nb), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_offline_payload_create(priv0, "d", 'x', &mine, nb), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_offline_payload_create(priv0, NULL, '1', &mine, nb), PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_offline_payload_create_nonce(priv0, "d", '0', nonce, &mine, nb), PA_OK);
    CU_ASSERT_STRING_EQUAL(nb, "AAAAAAAAAAAAAAAAAAAAAA==");
    CU_ASSERT(strncmp(mine, "d\nAAAAAAAAAAAAAAAAAAAAAA==\n0M", 29) == 0);
    free(mine);
    free(t);
    free(od);
    pa_ec_free(priv0);
    pa_ec_free(pub0);
    pa_ec_free(pub1);
}

int register_offline_suite(void)
{
    CU_pSuite s = CU_add_suite("offline", NULL, NULL);

    if (s == NULL)
        return -1;
    if (!CU_add_test(s, "offline-signature-payload.json", test_payload_vectors)
        || !CU_add_test(s, "round trip", test_round_trip)
        || !CU_add_test(s, "negative cases", test_negative))
        return -1;
    return 0;
}
