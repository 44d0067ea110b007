/* test_password.c - Argon2 hashes of OTPs and PUKs (CRYPTO.md 15).
 *
 * Every hash with the server parameters costs ~130 ms, so only eight are
 * computed here; the parser and the algorithm/parameter plumbing are tested
 * with cheap hashes (m = 8..64 KiB) that libargon2's own encoder produced
 * (argon2_hash(..., encoded, ...)), i.e. not by the code under test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <argon2.h>
#include <CUnit/CUnit.h>

#include "crypto/password.h"
#include "tests/unit/suites.h"
#include "tests/unit/vectors.h"
#include "util/base64.h"

#define PW(s) (const uint8_t *)(s), strlen(s)

static void test_argon2_vectors(void)
{
    pa_vec_file *f = pa_vec_open("supplementary/argon2-hash.json");
    size_t checked = 0;

    for (size_t i = 0; f != NULL && i < pa_vec_count(f); i++) {
        const char *pw = pa_vec_str(pa_vec_input(f, i), "password");
        const char *hash = pa_vec_str(pa_vec_output(f, i), "hash");
        int match = -1;
        int ok = pw != NULL && hash != NULL
                 && pa_password_verify(PW(pw), hash, &match) == PA_OK
                 && match == 1;

        CU_ASSERT(ok);
        checked += ok;
        /* One wrong password against a real server hash. */
        if (i == 0) {
            match = -1;
            CU_ASSERT_EQUAL(pa_password_verify(PW("0123456788"), hash, &match), PA_OK);
            CU_ASSERT_EQUAL(match, 0);
        }
    }
    pa_vec_done(f, checked);
}

static void test_hash_round_trip(void)
{
    static const char prefix[] = "$argon2i$v=19$m=32768,t=3,p=16$";
    char *h = NULL;
    int match = -1;

    CU_ASSERT_EQUAL_FATAL(pa_password_hash(PW("0123456789"), &h), PA_OK);
    /* Shape: prefix, 11 chars of salt (8 bytes), '$', 43 chars of digest. */
    CU_ASSERT_EQUAL(strncmp(h, prefix, sizeof prefix - 1), 0);
    CU_ASSERT_EQUAL(strlen(h), sizeof prefix - 1 + 11 + 1 + 43);
    CU_ASSERT_PTR_NULL(strchr(h + sizeof prefix - 1, '='));   /* no padding */
    CU_ASSERT_EQUAL(h[sizeof prefix - 1 + 11], '$');
    /* libargon2's own decoder accepts it: the written form is standard. */
    CU_ASSERT_EQUAL(argon2i_verify(h, "0123456789", 10), ARGON2_OK);
    CU_ASSERT_EQUAL(pa_password_verify(PW("0123456789"), h, &match), PA_OK);
    CU_ASSERT_EQUAL(match, 1);
    free(h);
}

/* Cheap hashes from libargon2's encoder: the parsed type and parameters
 * really reach the computation. */
static void test_parsed_parameters(void)
{
    static const char id[] =
        "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$zUpL2KGGTHyA2YM3voKO+2qRmYVlc1Rs8GnhVtHVed8";
    static const char d[] =
        "$argon2d$v=19$m=64,t=2,p=2$c2FsdHNhbHRzYWx0$NlWmocUYb46IlWaFxcs/TygFo2dA2kzlI4g832GRJzE";
    static const char empty_pw[] =
        "$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$AME9HyR58nnkrKmIQx/kElg8r2xFu//Cv6m5WQJqvuk";
    /* Same as id, but labelled argon2i: parses, must not match. */
    static const char relabelled[] =
        "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$zUpL2KGGTHyA2YM3voKO+2qRmYVlc1Rs8GnhVtHVed8";
    /* Same as id with t=2: parses, must not match. */
    static const char other_t[] =
        "$argon2id$v=19$m=64,t=2,p=1$c2FsdHNhbHQ$zUpL2KGGTHyA2YM3voKO+2qRmYVlc1Rs8GnhVtHVed8";
    /* Correct password but a 16-byte stored digest: Java computes 32 bytes,
     * so this never matches (and is not an error). */
    static const char short_digest[] =
        "$argon2i$v=19$m=16,t=1,p=2$c2FsdHNhbHQ$Cn2JViFwHNFUKULo6bs2qA";
    int m = -1;

    CU_ASSERT_EQUAL(pa_password_verify(PW("0123456789"), id, &m), PA_OK);
    CU_ASSERT_EQUAL(m, 1);
    CU_ASSERT_EQUAL(pa_password_verify(PW("puk"), d, &m), PA_OK);
    CU_ASSERT_EQUAL(m, 1);
    CU_ASSERT_EQUAL(pa_password_verify(PW("pul"), d, &m), PA_OK);
    CU_ASSERT_EQUAL(m, 0);
    CU_ASSERT_EQUAL(pa_password_verify(NULL, 0, empty_pw, &m), PA_OK);
    CU_ASSERT_EQUAL(m, 1);
    CU_ASSERT_EQUAL(pa_password_verify(PW("0123456789"), relabelled, &m), PA_OK);
    CU_ASSERT_EQUAL(m, 0);
    CU_ASSERT_EQUAL(pa_password_verify(PW("0123456789"), other_t, &m), PA_OK);
    CU_ASSERT_EQUAL(m, 0);
    m = -1;
    CU_ASSERT_EQUAL(pa_password_verify(PW("0123456789"), short_digest, &m), PA_OK);
    CU_ASSERT_EQUAL(m, 0);
}

#define SALT "c2FsdHNhbHQ"
#define DIG "zUpL2KGGTHyA2YM3voKO+2qRmYVlc1Rs8GnhVtHVed8"

static void test_malformed(void)
{
    static const char *const bad[] = {
        "",
        "argon2id$v=19$m=64,t=1,p=1$" SALT "$" DIG,          /* no leading $ */
        "$argon2$v=19$m=64,t=1,p=1$" SALT "$" DIG,           /* Java: argon2i */
        "$ARGON2ID$v=19$m=64,t=1,p=1$" SALT "$" DIG,
        "$argon2x$v=19$m=64,t=1,p=1$" SALT "$" DIG,
        "$argon2id$v=16$m=64,t=1,p=1$" SALT "$" DIG,         /* old version */
        "$argon2id$v=20$m=64,t=1,p=1$" SALT "$" DIG,
        "$argon2id$m=64,t=1,p=1$" SALT "$" DIG,              /* no v= */
        "$argon2id$v=19$t=1,m=64,p=1$" SALT "$" DIG,         /* order */
        "$argon2id$v=19$m=64,p=1,t=1$" SALT "$" DIG,
        "$argon2id$v=19$m=64,t=1$" SALT "$" DIG,             /* no p */
        "$argon2id$v=19$m=64,t=1,p=1,k=1$" SALT "$" DIG,
        "$argon2id$v=19$m=+64,t=1,p=1$" SALT "$" DIG,
        "$argon2id$v=19$m= 64,t=1,p=1$" SALT "$" DIG,
        "$argon2id$v=19$m=-64,t=1,p=1$" SALT "$" DIG,
        "$argon2id$v=19$m=,t=1,p=1$" SALT "$" DIG,
        "$argon2id$v=19$m=64,t=1,p=1$" SALT "=$" DIG,        /* padded salt */
        "$argon2id$v=19$m=64,t=1,p=1$" SALT "$" DIG "=",     /* padded digest */
        "$argon2id$v=19$m=64,t=1,p=1$" SALT "$" DIG "$",
        "$argon2id$v=19$m=64,t=1,p=1$" SALT "$" DIG " ",
        " $argon2id$v=19$m=64,t=1,p=1$" SALT "$" DIG,
        "$argon2id$v=19$m=64,t=1,p=1$" SALT "$",             /* no digest */
        "$argon2id$v=19$m=64,t=1,p=1$$" DIG,                 /* no salt */
        "$argon2id$v=19$m=64,t=1,p=1$" SALT,
        "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" DIG,           /* 4-byte salt */
        "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQA1$" DIG,    /* 13 chars: 1 mod 4 */
        "$argon2id$v=19$m=64,t=1,p=1$" SALT "$AAA",          /* 2-byte digest */
        "$argon2id$v=19$m=64,t=1,p=1$" SALT "$zUpL2KGGTHyA2YM3voKO-2qRmYVlc1Rs8GnhVtHVed8",
        "$argon2id$v=19$m=64,t=1,p=1$c2Fsd_NhbHQ$" DIG,      /* url-safe */
        /* absurd or invalid cost parameters: refused before computing */
        "$argon2id$v=19$m=4294967296,t=1,p=1$" SALT "$" DIG,
        "$argon2id$v=19$m=99999999999999999999999,t=1,p=1$" SALT "$" DIG,
        "$argon2id$v=19$m=1048577,t=1,p=1$" SALT "$" DIG,
        "$argon2id$v=19$m=64,t=257,p=1$" SALT "$" DIG,
        "$argon2id$v=19$m=4096,t=1,p=256$" SALT "$" DIG,
        "$argon2id$v=19$m=64,t=0,p=1$" SALT "$" DIG,
        "$argon2id$v=19$m=64,t=1,p=0$" SALT "$" DIG,
        "$argon2id$v=19$m=4,t=1,p=1$" SALT "$" DIG,
        "$argon2id$v=19$m=8,t=1,p=2$" SALT "$" DIG,          /* m < 8p */
    };
    char longstr[PA_ARGON2_MAX_ENCODED + 128];
    size_t pl;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int m = -1;
        pa_err e = pa_password_verify(PW("0123456789"), bad[i], &m);

        CU_ASSERT_EQUAL(e, PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR);
        CU_ASSERT_EQUAL(m, 0);
        if (e != PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR)
            fprintf(stderr, "\naccepted: %s\n", bad[i]);
    }
    /* A valid shape with an over-long salt: refused by the length cap. */
    strcpy(longstr, "$argon2id$v=19$m=64,t=1,p=1$");
    pl = strlen(longstr);
    memset(longstr + pl, 'A', PA_ARGON2_MAX_ENCODED);
    strcpy(longstr + pl + PA_ARGON2_MAX_ENCODED, "$" DIG);
    {
        int m = -1;

        CU_ASSERT_EQUAL(pa_password_verify(PW("x"), longstr, &m),
                        PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR);
    }
    CU_ASSERT_EQUAL(pa_password_verify(PW("x"), NULL, &(int){0}),
                    PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR);
    CU_ASSERT_EQUAL(pa_password_verify(PW("x"), "$argon2i$", NULL),
                    PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR);
    CU_ASSERT_EQUAL(pa_password_hash(PW("x"), NULL), PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR);
}

int register_password_suite(void)
{
    CU_pSuite s = CU_add_suite("password", NULL, NULL);

    if (s == NULL)
        return -1;
    if (!CU_add_test(s, "argon2-hash.json", test_argon2_vectors)
        || !CU_add_test(s, "hash then verify", test_hash_round_trip)
        || !CU_add_test(s, "parsed type and parameters", test_parsed_parameters)
        || !CU_add_test(s, "malformed hashes", test_malformed))
        return -1;
    return 0;
}
