/*
 * suites.h - the CUnit suites of the crypto test program, in run order.
 * Each X(name) is defined in tests/unit/test_<name>.c as
 * int register_<name>_suite(void).  The vector coverage suite runs after
 * all of them (test_main.c).
 */
#ifndef PA_TEST_SUITES_H
#define PA_TEST_SUITES_H

#define PA_TEST_SUITES \
    X(util)        \
    X(primitives)  \
    X(keys)        \
    X(ecies)       \
    X(token)       \
    X(vault)       \
    X(signature)   \
    X(offline)     \
    X(v2)          \
    X(codes)       \
    X(recovery)    \
    X(password)    \
    X(recordenc)   \
    X(statusblob)  \
    X(eckey)

#define X(name) int register_##name##_suite(void);
PA_TEST_SUITES
#undef X

#endif
