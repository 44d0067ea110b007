/*
 * primitives.h - symmetric building blocks of PowerAuth (CRYPTO.md 2.5-2.14).
 *
 * Pure functions over bytes on OpenSSL 3 EVP.  Every symmetric key in
 * PowerAuth is 16 bytes (AES-128).  Argument order is always (key, message).
 * The OpenSSL algorithm objects are fetched once per process, on first use.
 */
#ifndef PA_PRIMITIVES_H
#define PA_PRIMITIVES_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define PA_KEY_LEN 16
#define PA_SHA256_LEN 32
#define PA_AES_BLOCK 16

/* Fetches the algorithms now (optional: every function does it lazily).
 * PA_ERR_INVALID_CRYPTO_PROVIDER when OpenSSL lacks one of them. */
pa_err pa_crypto_init(void);

/* SHA-256 of m. */
pa_err pa_sha256(const uint8_t *m, size_t n, uint8_t out[PA_SHA256_LEN]);

/* HMAC-SHA256(key, m). */
pa_err pa_hmac(const uint8_t *key, size_t keylen, const uint8_t *m, size_t n,
               uint8_t out[PA_SHA256_LEN]);

/* HMAC-SHA256 over the concatenation m1 || m2 (avoids a copy). */
pa_err pa_hmac2(const uint8_t *key, size_t keylen, const uint8_t *m1,
                size_t n1, const uint8_t *m2, size_t n2,
                uint8_t out[PA_SHA256_LEN]);

/* REDUCE: r[i] = b[i] ^ b[i+16] (Java convert32Bto16B). */
void pa_reduce(const uint8_t b[32], uint8_t out[PA_KEY_LEN]);

/* AES-128-CBC with PKCS#7 padding.  *out is malloc'ed (n rounded up to the
 * next multiple of 16, always at least one padding byte).  Decryption fails
 * with PA_ERR_DECRYPTION_FAILED on a bad length or padding. */
pa_err pa_aes_cbc_encrypt(const uint8_t key[PA_KEY_LEN],
                          const uint8_t iv[PA_AES_BLOCK], const uint8_t *in,
                          size_t n, uint8_t **out, size_t *outlen);
pa_err pa_aes_cbc_decrypt(const uint8_t key[PA_KEY_LEN],
                          const uint8_t iv[PA_AES_BLOCK], const uint8_t *in,
                          size_t n, uint8_t **out, size_t *outlen);

/* AES-128-CBC without padding; n must be a non-zero multiple of 16; out has
 * room for n bytes (may equal in). */
pa_err pa_aes_cbc_encrypt_nopad(const uint8_t key[PA_KEY_LEN],
                                const uint8_t iv[PA_AES_BLOCK],
                                const uint8_t *in, size_t n, uint8_t *out);
pa_err pa_aes_cbc_decrypt_nopad(const uint8_t key[PA_KEY_LEN],
                                const uint8_t iv[PA_AES_BLOCK],
                                const uint8_t *in, size_t n, uint8_t *out);

/* AES-128 encryption of one block (ECB). */
pa_err pa_aes_block(const uint8_t key[PA_KEY_LEN],
                    const uint8_t in[PA_AES_BLOCK], uint8_t out[PA_AES_BLOCK]);

/* KDF (2.8): first AES block of AES-CBC(key, zero IV, index) with PKCS#7;
 * index of any length (16 bytes: used as is, shorter: padded, longer:
 * first 16 bytes). */
pa_err pa_kdf(const uint8_t key[PA_KEY_LEN], const uint8_t *index,
              size_t indexlen, uint8_t out[PA_KEY_LEN]);

/* KDF_N(key, n) = KDF(key, 0x00*8 || BE64(n)). */
pa_err pa_kdf_n(const uint8_t key[PA_KEY_LEN], int64_t n,
                uint8_t out[PA_KEY_LEN]);

/* KDF_INTERNAL(key, data) = REDUCE(HMAC(key, data)). */
pa_err pa_kdf_internal(const uint8_t *key, size_t keylen, const uint8_t *data,
                       size_t n, uint8_t out[PA_KEY_LEN]);

/* KDF_INTERNAL_LEGACY(key, idx) = REDUCE(HMAC(idx, key))  (protocol-2 E2EE). */
pa_err pa_kdf_internal_legacy(const uint8_t *key, size_t keylen,
                              const uint8_t *idx, size_t idxlen,
                              uint8_t out[PA_KEY_LEN]);

/* ANSI X9.63 KDF with SHA-256 (2.10); info may be NULL/empty. */
pa_err pa_kdf_x963(const uint8_t *z, size_t zlen, const uint8_t *info,
                   size_t infolen, uint8_t *out, size_t outlen);

/* PBKDF2-HMAC-SHA1 (2.11). */
pa_err pa_pbkdf2_sha1(const uint8_t *pw, size_t pwlen, const uint8_t *salt,
                      size_t saltlen, unsigned iterations, uint8_t *out,
                      size_t outlen);

/* CSPRNG bytes. */
pa_err pa_random(uint8_t *out, size_t n);

/* Constant-time equality of two byte strings; different lengths are
 * unequal (the lengths themselves are not secret). */
int pa_ct_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* Wipes and frees a heap buffer (NULL is fine). */
void pa_secure_free(void *p, size_t n);

/* Big-endian helpers. */
void pa_be64(int64_t v, uint8_t out[8]);
uint32_t pa_u32(const uint8_t b[4]);
uint64_t pa_u64(const uint8_t b[8]);

#endif
