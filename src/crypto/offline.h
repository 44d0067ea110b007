/*
 * offline.h - offline signature payloads (CRYPTO.md 9.1, 9.2).
 *
 * The server hands the device (usually through a QR code) the text
 *     data LF nonce LF indicator B64(ECDSA(key, data LF nonce LF indicator))
 * signed with the activation's server key (indicator '1', personalized) or
 * the application's master server key (indicator '0', non-personalized), so
 * the device can trust the data before computing an offline signature over
 * it.  The nonce is 16 random bytes in Base64 and becomes NONCE_B64 of the
 * signed data string (9.2).  The device-side parse/verify is used by the
 * device emulator and the tests.
 */
#ifndef PA_OFFLINE_H
#define PA_OFFLINE_H

#include <stdint.h>

#include "crypto/eckey.h"
#include "util/err.h"

#define PA_OFFLINE_NONCE_LEN 16
#define PA_OFFLINE_NONCE_B64_LEN 24   /* chars, without the NUL */

/* Key indicators. */
#define PA_OFFLINE_KEY_MASTER '0'     /* non-personalized: master key */
#define PA_OFFLINE_KEY_SERVER '1'     /* personalized: activation key */

/* Builds offlineData with a fresh random nonce.  priv must hold a private key
 * (else PA_ERR_INVALID_KEY_FORMAT); key_indicator must be '0' or '1' and
 * data non-NULL (else PA_ERR_INVALID_INPUT_FORMAT).  data is opaque and may
 * contain LFs.  *offline_data is malloc'ed, the caller frees it; nonce_b64
 * receives the nonce text (24 chars + NUL). */
pa_err pa_offline_payload_create(const pa_eckey *priv, const char *data,
                                 char key_indicator, char **offline_data,
                                 char nonce_b64[PA_OFFLINE_NONCE_B64_LEN + 1]);

/* Same with a given nonce (tests, reproducible payloads). */
pa_err pa_offline_payload_create_nonce(
    const pa_eckey *priv, const char *data, char key_indicator,
    const uint8_t nonce[PA_OFFLINE_NONCE_LEN], char **offline_data,
    char nonce_b64[PA_OFFLINE_NONCE_B64_LEN + 1]);

/* The parts of a payload. */
typedef struct {
    char *data;                                   /* malloc'ed */
    char nonce_b64[PA_OFFLINE_NONCE_B64_LEN + 1]; /* text as received */
    char key_indicator;                           /* '0' or '1' */
} pa_offline_parts;

/* Splits offlineData (9.2): at its last LF, then the part before it at its
 * last LF.  Requires two LFs, a nonce of 24 Base64 characters decoding to 16
 * bytes, an indicator '0'/'1' and a non-empty Base64 signature text:
 * otherwise PA_ERR_INVALID_INPUT_FORMAT and nothing allocated.  On success
 * free the parts with pa_offline_parts_free.  The signature itself is not
 * checked here (lets the caller choose the key by the indicator). */
pa_err pa_offline_payload_parse(const char *offline_data,
                                pa_offline_parts *parts);

/* Parses, then verifies the ECDSA signature with pub over
 * UTF8(data LF nonce LF indicator).  PA_OK with *valid = 1/0; a signature
 * that is not valid DER gives PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR (2.12), a
 * malformed payload PA_ERR_INVALID_INPUT_FORMAT.  parts may be NULL; if not,
 * it is filled on PA_OK only (free with pa_offline_parts_free). */
pa_err pa_offline_payload_verify(const pa_eckey *pub, const char *offline_data,
                                 int *valid, pa_offline_parts *parts);

/* Frees parts->data and clears the struct (NULL is fine). */
void pa_offline_parts_free(pa_offline_parts *parts);

#endif
