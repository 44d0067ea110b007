/*
 * cunit_status.h - the one verdict of a CUnit run, for every test main.
 *
 * CUnit counts a suite whose initialisation (or clean-up) failed apart
 * from failed tests: its tests never run, so a main that looks only at
 * failed asserts and tests calls such a run a success.  A run that ran no
 * test at all is a failure too.  Call before CU_cleanup_registry().
 */
#ifndef PA_TESTS_CUNIT_STATUS_H
#define PA_TESTS_CUNIT_STATUS_H

#include <CUnit/CUnit.h>

static inline unsigned pa_cunit_failures(void)
{
    return CU_get_number_of_failures() + CU_get_number_of_tests_failed()
           + CU_get_number_of_suites_failed()
           + (CU_get_number_of_tests_run() == 0 ? 1u : 0u);
}

#endif
