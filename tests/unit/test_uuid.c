/* test_uuid.c - version-4 UUID generation and the UUID form checks. */
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "tests/unit/utilmods.h"
#include "util/uuid.h"

#define COUNT 1000

/* Independent of uuid.c: lower-case hex, dashes at 8/13/18/23, version 4,
 * variant 10xx. */
static int looks_v4(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash != (s[i] == '-'))
            return 0;
        if (!dash && !strchr("0123456789abcdef", s[i]))
            return 0;
    }
    return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

static const char variant_digits[] = "89ab";

static int cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_generate(void)
{
    char (*ids)[PA_UUID_BUF] = calloc(COUNT, PA_UUID_BUF);
    int variants[4] = {0};

    CU_ASSERT_PTR_NOT_NULL_FATAL(ids);
    for (int i = 0; i < COUNT; i++) {
        CU_ASSERT_EQUAL(pa_uuid_v4(ids[i]), PA_OK);
        CU_ASSERT(looks_v4(ids[i]));
        CU_ASSERT(pa_uuid_is_v4(ids[i]));
        CU_ASSERT(pa_uuid_valid(ids[i]));
        const char *v = strchr(variant_digits, ids[i][19]);
        if (v != NULL && *v != '\0')
            variants[v - variant_digits]++;
    }
    /* all four variant digits occur: the bits are random, not fixed */
    for (int v = 0; v < 4; v++)
        CU_ASSERT(variants[v] > 100);
    qsort(ids, COUNT, PA_UUID_BUF, cmp);
    for (int i = 1; i < COUNT; i++)
        CU_ASSERT(strcmp(ids[i - 1], ids[i]) != 0);
    free(ids);
}

static void test_valid(void)
{
    CU_ASSERT(pa_uuid_valid("3f2c5a1e-9b7d-4c21-a0f3-6d8e2b91c4a7"));
    CU_ASSERT(pa_uuid_valid("00000000-0000-0000-0000-000000000000"));
    /* RFC 4122: case-insensitive on input */
    CU_ASSERT(pa_uuid_valid("3F2C5A1E-9B7D-4C21-A0F3-6D8E2B91C4A7"));
    /* any version/variant has the form */
    CU_ASSERT(pa_uuid_valid("3f2c5a1e-9b7d-1c21-c0f3-6d8e2b91c4a7"));
}

static void test_invalid(void)
{
    static const char *const bad[] = {
        "", "3f2c5a1e-9b7d-4c21-a0f3-6d8e2b91c4a",     /* 35 */
        "3f2c5a1e-9b7d-4c21-a0f3-6d8e2b91c4a70",        /* 37 */
        "3f2c5a1e9b7d-4c21-a0f3-6d8e2b91c4a7-",          /* dash moved */
        "3f2c5a1e-9b7d-4c21-a0f36d8e2b91c4a7",           /* dash missing */
        "3f2c5a1e9b7d4c21a0f36d8e2b91c4a7",              /* no dashes */
        "3f2c5a1g-9b7d-4c21-a0f3-6d8e2b91c4a7",          /* 'g' */
        "{3f2c5a1e-9b7d-4c21-a0f3-6d8e2b91c4a7}",
        "urn:uuid:3f2c5a1e-9b7d-4c21-a0f3-6d8e2b91c4a7",
        " 3f2c5a1e-9b7d-4c21-a0f3-6d8e2b91c4a7",
        "3f2c5a1e-9b7d-4c21-a0f3-6d8e2b91c4a7 ",
        "3f2c5a1e_9b7d_4c21_a0f3_6d8e2b91c4a7",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CU_ASSERT(!pa_uuid_valid(bad[i]));
        CU_ASSERT(!pa_uuid_is_v4(bad[i]));
    }
    CU_ASSERT(!pa_uuid_valid(NULL));
    CU_ASSERT(!pa_uuid_is_v4(NULL));
    /* valid form but not what pa_uuid_v4 makes */
    CU_ASSERT(!pa_uuid_is_v4("3F2C5A1E-9B7D-4C21-A0F3-6D8E2B91C4A7"));
    CU_ASSERT(!pa_uuid_is_v4("3f2c5a1e-9b7d-1c21-a0f3-6d8e2b91c4a7"));
    CU_ASSERT(!pa_uuid_is_v4("3f2c5a1e-9b7d-4c21-c0f3-6d8e2b91c4a7"));
    CU_ASSERT(!pa_uuid_is_v4("3f2c5a1e-9b7d-4c21-70f3-6d8e2b91c4a7"));
}

int register_uuid_suite(void)
{
    CU_pSuite s = CU_add_suite("uuid", NULL, NULL);

    if (s == NULL)
        return -1;
    if (!CU_add_test(s, "1000 v4 ids: form, lower case, unique", test_generate) ||
        !CU_add_test(s, "valid forms", test_valid) ||
        !CU_add_test(s, "invalid forms", test_invalid))
        return -1;
    return 0;
}
