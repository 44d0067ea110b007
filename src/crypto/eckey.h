/*
 * eckey.h - P-256 keys, ECDH and ECDSA (CRYPTO.md 2.1-2.4, 2.12, 6.6).
 *
 * A pa_eckey holds a public key, or a private key (whose public half is
 * computed on demand).  Public keys are emitted uncompressed (65 bytes) and
 * accepted compressed or uncompressed; private keys travel in Java's
 * "BigInteger form" (minimal two's complement, 31-33 bytes).
 */
#ifndef PA_ECKEY_H
#define PA_ECKEY_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define PA_EC_PUB_LEN 65          /* uncompressed point */
#define PA_EC_PUB_COMPRESSED_LEN 33
#define PA_EC_PRIV_MAX 33         /* BigInteger form, at most */
#define PA_EC_COORD_LEN 32
#define PA_ECDH_LEN 32
#define PA_ECDSA_MAX 72           /* DER of two 33-byte INTEGERs */

typedef struct pa_eckey pa_eckey;

/* New random key pair. */
pa_err pa_ec_generate(pa_eckey **out);

/* Imports a public point: 65 bytes starting 0x04 or 33 bytes starting
 * 0x02/0x03.  Refuses the point at infinity, other lengths and prefixes,
 * off-curve points: PA_ERR_INVALID_KEY_FORMAT. */
pa_err pa_ec_pub_import(const uint8_t *b, size_t n, pa_eckey **out);

/* Same, from Base64 text. */
pa_err pa_ec_pub_import_b64(const char *b64, pa_eckey **out);

/* Imports a private scalar in BigInteger form (any number of leading zero
 * bytes; first byte >= 0x80, zero, or >= n refused with
 * PA_ERR_INVALID_KEY_FORMAT). */
pa_err pa_ec_priv_import(const uint8_t *b, size_t n, pa_eckey **out);
pa_err pa_ec_priv_import_b64(const char *b64, pa_eckey **out);

/* Uncompressed public point of any key (computed for a private key). */
pa_err pa_ec_pub_export(const pa_eckey *k, uint8_t out[PA_EC_PUB_LEN]);

/* Compressed public point (33 bytes), as the mobile SDK sends them. */
pa_err pa_ec_pub_export_compressed(const pa_eckey *k,
                                   uint8_t out[PA_EC_PUB_COMPRESSED_LEN]);

/* Private scalar in BigInteger form (outlen 1..33). */
pa_err pa_ec_priv_export(const pa_eckey *k, uint8_t out[PA_EC_PRIV_MAX],
                         size_t *outlen);

/* Base64 of the above, malloc'ed. */
pa_err pa_ec_pub_export_b64(const pa_eckey *k, char **out);
pa_err pa_ec_priv_export_b64(const pa_eckey *k, char **out);

/* 1 when the key holds a private scalar. */
int pa_ec_has_private(const pa_eckey *k);

/* ECDH_RAW: X coordinate of priv*pub, 32 bytes left-padded. */
pa_err pa_ec_ecdh(const pa_eckey *priv, const pa_eckey *pub,
                  uint8_t out[PA_ECDH_LEN]);

/* ECDH16 = REDUCE(ECDH_RAW). */
pa_err pa_ec_ecdh16(const pa_eckey *priv, const pa_eckey *pub,
                    uint8_t out[16]);

/* ECDSA-SHA256 with a DER signature (sig has room for PA_ECDSA_MAX). */
pa_err pa_ec_sign(const pa_eckey *priv, const uint8_t *m, size_t n,
                  uint8_t sig[PA_ECDSA_MAX], size_t *siglen);

/* *valid = 1/0 for a well-formed signature; malformed DER (garbage,
 * trailing bytes, raw r||s) is PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR. */
pa_err pa_ec_verify(const pa_eckey *pub, const uint8_t *m, size_t n,
                    const uint8_t *sig, size_t siglen, int *valid);

/* XMIN: X coordinate, unsigned big-endian, all leading zero bytes removed. */
pa_err pa_ec_xmin(const pa_eckey *k, uint8_t out[PA_EC_COORD_LEN],
                  size_t *outlen);

void pa_ec_free(pa_eckey *k);

#endif
