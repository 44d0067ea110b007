/*
 * utilmods.h - the CUnit suites of the test_util program (the util modules
 * the server uses: config, log, uuid, time), in run order.  Each X(name) is
 * defined in tests/unit/test_<name>.c as int register_<name>_suite(void).
 * (The Base64/Base32 suite belongs to test_crypto, tests/unit/test_util.c.)
 */
#ifndef PA_TEST_UTILMODS_H
#define PA_TEST_UTILMODS_H

#define PA_UTILMODS_SUITES \
    X(config)              \
    X(log)                 \
    X(uuid)                \
    X(timeutil)

#define X(name) int register_##name##_suite(void);
PA_UTILMODS_SUITES
#undef X

#endif
