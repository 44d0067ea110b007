/*
 * recordenc.h - optional encryption of database columns (CRYPTO.md 16).
 *
 * Two columns may be encrypted: pa_activation.server_private_key_base64
 * (mode in server_private_key_encryption) and pa_recovery_puk.puk (mode in
 * puk_encryption).  In mode AES_HMAC the column holds
 * Base64(IV || AES-CBC-PKCS7(RECORD_KEY, IV, plaintext)) with
 * RECORD_KEY = KDF_INTERNAL(MASTER, UTF8(index string)); the index string
 * binds the value to its row, so a value copied into another row fails to
 * decrypt.
 *
 * How the store/service layer uses this module:
 *  - writing: pa_record_write_* pick the mode themselves (AES_HMAC when a
 *    master key is configured, i.e. master != NULL and mlen > 0, else
 *    NO_ENCRYPTION) and return the mode to store next to the column;
 *    existing rows keep their mode (no re-encryption);
 *  - reading: pass the stored mode integer and the configured master key
 *    (NULL/0 when none) to pa_record_read_*; pa_record_check_mode gives the
 *    errors: unknown mode -> PA_ERR_UNSUPPORTED_ENCRYPTION_MODE (ERR0021),
 *    mode 1 without a master key -> PA_ERR_MISSING_MASTER_DB_ENCRYPTION_KEY
 *    (ERR0020).
 *  - the master key is the Base64-decoded configuration value
 *    (powerauth.server.db.master.encryption.key); it is only used as an
 *    HMAC key, so any non-zero length works (nominally 16 bytes).
 */
#ifndef PA_RECORDENC_H
#define PA_RECORDENC_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef enum {
    PA_RECORD_NO_ENCRYPTION = 0,
    PA_RECORD_AES_HMAC = 1
} pa_record_mode;

/* PA_OK for mode 0, and for mode 1 when have_master_key; otherwise
 * PA_ERR_MISSING_MASTER_DB_ENCRYPTION_KEY (mode 1) or
 * PA_ERR_UNSUPPORTED_ENCRYPTION_MODE (any other integer). */
pa_err pa_record_check_mode(int mode, int have_master_key);

/* The mode new rows are written in. */
pa_record_mode pa_record_mode_for_write(int have_master_key);

/* RECORD_KEY for KEY_SERVER_PRIVATE: index "userId&activationId".
 * master NULL or mlen 0 -> PA_ERR_MISSING_MASTER_DB_ENCRYPTION_KEY. */
pa_err pa_record_key_server_private(const uint8_t *master, size_t mlen,
                                    const char *user_id,
                                    const char *activation_id,
                                    uint8_t out[16]);

/* RECORD_KEY for a recovery PUK hash: index
 * "applicationId&userId&recoveryCode&pukIndex" (decimal integers). */
pa_err pa_record_key_puk(const uint8_t *master, size_t mlen,
                         int64_t application_id, const char *user_id,
                         const char *recovery_code, int64_t puk_index,
                         uint8_t out[16]);

/* Base64(IV || AES-CBC-PKCS7(key, IV, plain)) with a random IV.  *b64_out
 * is malloc'ed and NUL-terminated; the caller frees it with free(). */
pa_err pa_record_encrypt(const uint8_t key[16], const uint8_t *plain,
                         size_t n, char **b64_out);

/* Same with a given IV (deterministic; for test vectors). */
pa_err pa_record_encrypt_iv(const uint8_t key[16], const uint8_t iv[16],
                            const uint8_t *plain, size_t n, char **b64_out);

/* Inverse of the above.  Not Base64 or shorter than 16 bytes ->
 * PA_ERR_INVALID_KEY_FORMAT (ERR0010); bad length, padding or key ->
 * PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR (ERR0022).  *plain is malloc'ed with
 * one extra NUL byte after the *n plaintext bytes (so text can be used as a
 * C string); free it with pa_secure_free(*plain, *n). */
pa_err pa_record_decrypt(const uint8_t key[16], const char *b64,
                         uint8_t **plain, size_t *n);

/* --- per-column helpers applying the mode rules -------------------------- */

/* Server private key column -> private key bytes (BigInteger form).  Mode 0:
 * the column is Base64 of the key (undecodable -> PA_ERR_INVALID_KEY_FORMAT);
 * mode 1: decrypted as above.  Free *key with pa_secure_free(*key, *n). */
pa_err pa_record_read_server_private(int mode, const uint8_t *master,
                                     size_t mlen, const char *user_id,
                                     const char *activation_id,
                                     const char *column, uint8_t **key,
                                     size_t *n);

/* Private key bytes -> column value and mode to store.  *column_out is
 * malloc'ed; free it with free() (mode 0: it is the plain Base64 key, so
 * wipe it first if it lingers). */
pa_err pa_record_write_server_private(const uint8_t *master, size_t mlen,
                                      const char *user_id,
                                      const char *activation_id,
                                      const uint8_t *key, size_t n,
                                      pa_record_mode *mode_out,
                                      char **column_out);

/* PUK column -> Argon2 MCF string (malloc'ed, free with free()).  Mode 1
 * plaintext containing a NUL byte -> PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR. */
pa_err pa_record_read_puk(int mode, const uint8_t *master, size_t mlen,
                          int64_t application_id, const char *user_id,
                          const char *recovery_code, int64_t puk_index,
                          const char *column, char **hash_out);

/* Argon2 MCF string -> column value (malloc'ed, free()) and mode. */
pa_err pa_record_write_puk(const uint8_t *master, size_t mlen,
                           int64_t application_id, const char *user_id,
                           const char *recovery_code, int64_t puk_index,
                           const char *hash, pa_record_mode *mode_out,
                           char **column_out);

#endif
