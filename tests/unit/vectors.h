/*
 * vectors.h - reading the JSON files of ../shared/vectors in CUnit tests.
 *
 * A suite opens a vector file, checks every entry, and reports how many it
 * checked with pa_vec_done().  The coverage suite (run last) fails when a
 * file in the vector folders was never opened or not every entry of it was
 * checked, so a new or skipped vector file cannot go unnoticed.
 */
#ifndef PA_TEST_VECTORS_H
#define PA_TEST_VECTORS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef struct pa_vec_file pa_vec_file;

/* Opens e.g. "signatures-v3.json" or "supplementary/ecies.json" relative to
 * $PA_VECTORS_DIR; records a CUnit failure and returns NULL if unreadable. */
pa_vec_file *pa_vec_open(const char *relpath);

size_t pa_vec_count(const pa_vec_file *f);
json_t *pa_vec_input(const pa_vec_file *f, size_t i);
json_t *pa_vec_output(const pa_vec_file *f, size_t i);

/* String member of an input/output object; NULL when absent. */
const char *pa_vec_str(json_t *obj, const char *key);

/* Base64 member decoded into out (capacity max); returns the length, or
 * (size_t)-1 when absent or invalid (a CUnit failure is recorded). */
size_t pa_vec_b64(json_t *obj, const char *key, uint8_t *out, size_t max);

/* Hex helper for readable failure messages (static buffer, not reentrant). */
const char *pa_vec_hex(const uint8_t *b, size_t n);

/* Decodes a hex string into out; returns the byte count. */
size_t pa_vec_unhex(const char *hex, uint8_t *out);

/* Asserts that len bytes at buf equal the hex string. */
#define ASSERT_HEX(buf, len, hex)                                   \
    do {                                                            \
        uint8_t exp_[512];                                          \
        size_t n_ = pa_vec_unhex(hex, exp_);                        \
        CU_ASSERT_EQUAL(n_, (size_t)(len));                         \
        CU_ASSERT(memcmp(buf, exp_, n_) == 0);                      \
    } while (0)

/* Records that `checked` entries of f were verified, then closes f. */
void pa_vec_done(pa_vec_file *f, size_t checked);

/* Registers the coverage suite; call after every other suite. */
int pa_vec_register_coverage_suite(void);

#endif
