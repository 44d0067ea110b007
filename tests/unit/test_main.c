/* test_main.c - runs every unit suite, then the vector coverage check. */
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "cunit_status.h"
#include <CUnit/CUnit.h>

#include "tests/unit/suites.h"
#include "tests/unit/vectors.h"

int main(int argc, char **argv)
{
    unsigned failures;
    int only_one = argc > 1;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
#define X(name)                                                  \
    if (!only_one || strcmp(argv[1], #name) == 0)                \
        if (register_##name##_suite() != 0) {                    \
            fprintf(stderr, "cannot register suite %s\n", #name);\
            CU_cleanup_registry();                               \
            return 2;                                            \
        }
    PA_TEST_SUITES
#undef X
    /* A single-suite run (./test_crypto ecies) skips the coverage check. */
    if (!only_one && pa_vec_register_coverage_suite() != 0) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = pa_cunit_failures();
    if (CU_get_number_of_tests_run() == 0)
        failures++;
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
