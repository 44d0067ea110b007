/*
 * uuid.h - random (version 4) UUIDs in their RFC 4122 text form.
 *
 * Activation ids, token ids, integration ids and their credentials and
 * callback ids are all UUID strings in the PowerAuth contract; the original
 * makes them with java.util.UUID.randomUUID(), which writes lower-case hex.
 */
#ifndef PA_UUID_H
#define PA_UUID_H

#include <stdbool.h>

#include "util/err.h"

#define PA_UUID_LEN 36
#define PA_UUID_BUF (PA_UUID_LEN + 1)

/* A fresh version-4 UUID from 16 CSPRNG bytes (OpenSSL RAND_bytes), e.g.
 * "3f2c5a1e-9b7d-4c21-a0f3-6d8e2b91c4a7": lower case, version nibble 4,
 * variant bits 10 (RFC 4122).  PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR (out = "")
 * when the random generator fails. */
pa_err pa_uuid_v4(char out[PA_UUID_BUF]);

/* true when s is exactly 8-4-4-4-12 hex digits.  Upper-case digits are
 * accepted, as RFC 4122 section 3 says text input is case-insensitive, and
 * any version and variant is accepted (ids created elsewhere need not be
 * v4).  This is a check of form only: an id sent by a client is still
 * looked up exactly as sent, as the original does, so a caller that wants
 * the original's answers uses a failed lookup, not this test, to reject an
 * unknown id.  NULL gives false. */
bool pa_uuid_valid(const char *s);

/* true when s is what pa_uuid_v4 produces: the form above in lower case
 * with version 4 and the RFC 4122 variant.  NULL gives false. */
bool pa_uuid_is_v4(const char *s);

#endif
