/*
 * test_device_main.c - the padevice test program: the device emulator
 * against the server-side crypto, in-process (device_protocol) and through
 * the padevice binary (device_cli).  `test_device <suite>` runs one suite.
 */
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "cunit_status.h"
#include <CUnit/CUnit.h>

int register_device_protocol_suite(void);
int register_device_cli_suite(void);

static const struct {
    const char *name;
    int (*reg)(void);
} suites[] = {
    {"device_protocol", register_device_protocol_suite},
    {"device_cli", register_device_cli_suite},
};

int main(int argc, char **argv)
{
    unsigned failures;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++) {
        if (argc > 1 && strcmp(argv[1], suites[i].name) != 0)
            continue;
        if (suites[i].reg() != 0) {
            fprintf(stderr, "cannot register suite %s\n", suites[i].name);
            CU_cleanup_registry();
            return 2;
        }
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = pa_cunit_failures();
    if (CU_get_number_of_tests_run() == 0)
        failures++;
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
