/*
 * codes.h - activation codes, the activation signature and the public key
 * fingerprint (CRYPTO.md 4.3, 4.4, 4.6, 6.6).
 *
 * An activation (or recovery) code is 10 random bytes plus their CRC-16/ARC,
 * written as four groups of five Base32 characters.  The server signs the
 * code text with its master key so that a device can check a code read from
 * a QR image, and both sides show a short decimal fingerprint of the
 * exchanged public keys so that a person can compare them.
 */
#ifndef PA_CODES_H
#define PA_CODES_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/eckey.h"
#include "util/err.h"

#define PA_CODE_RANDOM_LEN 10
#define PA_CODE_LEN 23             /* XXXXX-XXXXX-XXXXX-XXXXX */
#define PA_CODE_BUF (PA_CODE_LEN + 1)
#define PA_FINGERPRINT_LEN 8
#define PA_FINGERPRINT_BUF (PA_FINGERPRINT_LEN + 1)

/* CRC-16/ARC (poly 0x8005 reflected, init 0, no final XOR). */
uint16_t pa_code_crc16(const uint8_t *b, size_t n);

/* Builds the code for r: Base32(r || BE16(CRC16(r))) in groups of five,
 * 23 characters plus NUL. */
void pa_code_from_bytes(const uint8_t r[PA_CODE_RANDOM_LEN],
                        char out[PA_CODE_BUF]);

/* A fresh code from 10 CSPRNG bytes. */
pa_err pa_code_generate(char out[PA_CODE_BUF]);

/* 1 when code is a valid activation/recovery code (Java
 * validateActivationCode: format, Base32 decode with the 4 surplus bits
 * ignored, CRC), else 0 (also for NULL).  Protocol-2 short-id/OTP pairs are
 * not codes in this sense and must not be passed here. */
int pa_code_validate(const char *code);

/* Masked form for SOAP responses: "XXXXX-XXXXX-XXXXX-" + the last group;
 * "" when code is NULL or not exactly 23 characters long. */
void pa_code_mask(const char *code, char out[PA_CODE_BUF]);

/* ECDSA-SHA256 (DER) over UTF8(code) exactly as given, dashes included. */
pa_err pa_code_sign(const pa_eckey *master_priv, const char *code,
                    uint8_t sig[PA_ECDSA_MAX], size_t *siglen);

/* *valid = 1 when sig is a signature of UTF8(code) by master_pub, else 0.
 * Malformed DER: PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR (from pa_ec_verify). */
pa_err pa_code_verify_signature(const pa_eckey *master_pub, const char *code,
                                const uint8_t *sig, size_t siglen,
                                int *valid);

/* Protocol-3 fingerprint:
 * SHA256(XMIN(device) || UTF8(activation_id) || XMIN(server)), 8 digits. */
pa_err pa_fingerprint_v3(const pa_eckey *device_pub, const char *activation_id,
                         const pa_eckey *server_pub,
                         char out[PA_FINGERPRINT_BUF]);

/* Protocol-2 fingerprint: SHA256(XMIN(device)), 8 digits. */
pa_err pa_fingerprint_v2(const pa_eckey *device_pub,
                         char out[PA_FINGERPRINT_BUF]);

/* The decimal rule alone: (U32(h[28..31]) & 0x7FFFFFFF) mod 10^8,
 * zero-padded to 8 digits. */
void pa_fingerprint_from_hash(const uint8_t h[32],
                              char out[PA_FINGERPRINT_BUF]);

#endif
