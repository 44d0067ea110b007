/*
 * v2.h - protocol-2 (legacy) activation cryptography and the protocol-2
 * end-to-end encryption keys (CRYPTO.md 14.1, 14.2, 14.5, 2.9, 2.11, 4.3).
 *
 * Protocol-2 SDKs (2.0/2.1) still activate against the v2 SOAP endpoint:
 * the device public key travels encrypted twice (with a key derived from
 * the activation OTP, then with an ephemeral ECDH key), the request is
 * authenticated with an HMAC keyed by the application secret, and the
 * server answers with its own public key encrypted the same way and signed
 * with the master key.  Both directions are here because the device
 * emulator and the tests need the client half.
 *
 * All points are emitted uncompressed; a decrypted point may be compressed
 * or uncompressed (CRYPTO.md 2.2) and the caller re-exports it uncompressed
 * before storing it.  Nonces are 16 bytes and serve as the CBC IV of both
 * layers; checking a decoded nonce's length (ERR0023) is the caller's job.
 */
#ifndef PA_V2_H
#define PA_V2_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/eckey.h"
#include "util/err.h"

#define PA_V2_KEY_LEN 16
#define PA_V2_NONCE_LEN 16
#define PA_V2_SHORT_ID_LEN 11       /* XXXXX-XXXXX */
#define PA_V2_OTP_LEN 11            /* XXXXX-XXXXX */
#define PA_V2_C_PUB_LEN 96          /* 65-byte point, two PKCS#7 layers */
#define PA_V2_APP_SIG_LEN 32        /* HMAC-SHA256 */
#define PA_V2_E2E_MAC_LEN 32
#define PA_V2_PBKDF2_ITERATIONS 10000

/* --- activation code, protocol-2 view (4.3, 14.1) ------------------------ */

/* 1 when s is exactly "XXXXX-XXXXX" with X in the Base32 alphabet A-Z2-7
 * (upper case only), else 0 (also for NULL).  Required before a short id
 * is compared with stored codes, so that no pattern characters get in. */
int pa_v2_short_id_valid(const char *s);

/* Splits a stored 23-character activation code into the short id
 * code[0..10] and the OTP code[12..22] (NUL-terminated).  Like Java, only
 * the length is required (the CRC is not checked: v2 pairs predate it);
 * other lengths or NULL: PA_ERR_INVALID_INPUT_FORMAT. */
pa_err pa_v2_split_code(const char *code23, char short_id[12], char otp[12]);

/* 1 when short_id is valid (above) and code is a 23-character code whose
 * first 11 characters equal it literally, else 0.  This replaces the
 * reference's unescaped SQL LIKE prefix match. */
int pa_v2_code_has_short_id(const char *code, const char *short_id);

/* --- keys ---------------------------------------------------------------- */

/* KEY_OTP = PBKDF2-HMAC-SHA1(UTF8(otp), UTF8(salt), 10000, 16).  The salt
 * is activationIdShort (14.1) or the custom activation's identity (14.2). */
pa_err pa_v2_otp_key(const char *activation_otp, const char *salt,
                     uint8_t out[PA_V2_KEY_LEN]);

/* --- device public key (14.1 step 5) ------------------------------------- */

/* Server side: KEY_EPH = ECDH16(master_priv, client_eph_pub), then
 * DEV = AES_CBC_DEC(KEY_OTP, nonce, AES_CBC_DEC(KEY_EPH, nonce, c)).
 * *device_pub_out is a new key (pa_ec_free).  Bad length or padding in
 * either layer, or bytes that are not a valid point (a wrong OTP can
 * produce valid padding by chance): PA_ERR_DECRYPTION_FAILED.  An ECDH
 * failure is returned unchanged (it is not an OTP failure). */
pa_err pa_v2_decrypt_device_public_key(const pa_eckey *master_priv,
                                       const pa_eckey *client_eph_pub,
                                       const uint8_t otp_key[PA_V2_KEY_LEN],
                                       const uint8_t nonce[PA_V2_NONCE_LEN],
                                       const uint8_t *c, size_t n,
                                       pa_eckey **device_pub_out);

/* The same with KEY_EPH already computed (used by the above and by tests
 * that only know the client's half of the ECDH). */
pa_err pa_v2_decrypt_device_public_key_k(const uint8_t key_eph[PA_V2_KEY_LEN],
                                         const uint8_t otp_key[PA_V2_KEY_LEN],
                                         const uint8_t nonce[PA_V2_NONCE_LEN],
                                         const uint8_t *c, size_t n,
                                         pa_eckey **device_pub_out);

/* Client side: KEY_EPH = ECDH16(eph_priv, master_pub);
 * out = AES_CBC_ENC(KEY_EPH, nonce, AES_CBC_ENC(KEY_OTP, nonce, DEV65)). */
pa_err pa_v2_encrypt_device_public_key(const pa_eckey *eph_priv,
                                       const pa_eckey *master_pub,
                                       const uint8_t otp_key[PA_V2_KEY_LEN],
                                       const uint8_t nonce[PA_V2_NONCE_LEN],
                                       const pa_eckey *device_pub,
                                       uint8_t out[PA_V2_C_PUB_LEN]);

/* --- application signature (14.1 step 6) --------------------------------- */

/* HMAC(B64DECODE(app_secret_b64), UTF8(BASE)) with
 * BASE = id + "&" + B64(nonce) + "&" + B64(c) + "&" + B64(B64DECODE(app_key_b64));
 * id is activationIdShort or the identity (14.2).  Undecodable key or
 * secret: PA_ERR_INVALID_INPUT_FORMAT. */
pa_err pa_v2_application_signature(const char *short_id_or_identity,
                                   const uint8_t nonce[PA_V2_NONCE_LEN],
                                   const uint8_t *c, size_t n,
                                   const char *app_key_b64,
                                   const char *app_secret_b64,
                                   uint8_t out[PA_V2_APP_SIG_LEN]);

/* *valid = 1 when sig (the decoded applicationSignature) equals the value
 * above, compared in constant time; any other length gives 0. */
pa_err pa_v2_verify_application_signature(const char *short_id_or_identity,
                                          const uint8_t nonce[PA_V2_NONCE_LEN],
                                          const uint8_t *c, size_t n,
                                          const char *app_key_b64,
                                          const char *app_secret_b64,
                                          const uint8_t *sig, size_t siglen,
                                          int *valid);

/* --- server public key (14.1 step 7) ------------------------------------- */

/* Server side: KEY_EPH2 = ECDH16(eph2_priv, device_pub);
 * out = AES_CBC_ENC(KEY_EPH2, nonce_s, AES_CBC_ENC(KEY_OTP, nonce_s, SRV65)). */
pa_err pa_v2_encrypt_server_public_key(const pa_eckey *eph2_priv,
                                       const pa_eckey *device_pub,
                                       const uint8_t otp_key[PA_V2_KEY_LEN],
                                       const uint8_t nonce_s[PA_V2_NONCE_LEN],
                                       const pa_eckey *server_pub,
                                       uint8_t out[PA_V2_C_PUB_LEN]);

/* Client side: inverse with ECDH16(device_priv, eph2_pub); errors as for
 * pa_v2_decrypt_device_public_key.  *server_pub_out: pa_ec_free. */
pa_err pa_v2_decrypt_server_public_key(const pa_eckey *device_priv,
                                       const pa_eckey *eph2_pub,
                                       const uint8_t otp_key[PA_V2_KEY_LEN],
                                       const uint8_t nonce_s[PA_V2_NONCE_LEN],
                                       const uint8_t *c, size_t n,
                                       pa_eckey **server_pub_out);

/* The signed text B64(UTF8(activation_id)) + "&" + B64(c), NUL-terminated,
 * malloc'ed (caller frees with free(); it holds nothing secret). */
pa_err pa_v2_server_data_text(const char *activation_id, const uint8_t *c,
                              size_t n, char **out);

/* ECDSA-SHA256 (DER) by master_priv over UTF8 of the text above. */
pa_err pa_v2_sign_server_data(const pa_eckey *master_priv,
                              const char *activation_id, const uint8_t *c,
                              size_t n, uint8_t sig[PA_ECDSA_MAX],
                              size_t *siglen);

/* *valid = 1/0 for a well-formed DER signature; malformed DER is
 * PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR (as pa_ec_verify). */
pa_err pa_v2_verify_server_data(const pa_eckey *master_pub,
                                const char *activation_id, const uint8_t *c,
                                size_t n, const uint8_t *sig, size_t siglen,
                                int *valid);

/* --- end-to-end encryption (14.5) ---------------------------------------- */

/* The session index: a copy of `given` when it is exactly 16 bytes,
 * otherwise 16 fresh random bytes (the reference silently replaces it). */
pa_err pa_v2_e2e_session_index(const uint8_t *given, size_t n,
                               uint8_t out[PA_V2_KEY_LEN]);

/* KEY = KDF_INTERNAL_LEGACY(KEY_TRANSPORT, IDX) = REDUCE(HMAC(IDX, KEY_TRANSPORT)). */
pa_err pa_v2_e2e_personalized_key(const uint8_t transport[PA_V2_KEY_LEN],
                                  const uint8_t idx[PA_V2_KEY_LEN],
                                  uint8_t out[PA_V2_KEY_LEN]);

/* KEY = KDF_INTERNAL_LEGACY(ECDH16(master_priv, eph_pub), IDX). */
pa_err pa_v2_e2e_nonpersonalized_key(const pa_eckey *master_priv,
                                     const pa_eckey *eph_pub,
                                     const uint8_t idx[PA_V2_KEY_LEN],
                                     uint8_t out[PA_V2_KEY_LEN]);

/* Message layer (done by the intermediate server and the device, not by
 * paserver itself; here for padevice and the tests):
 * KEY_ENC = KDF_INTERNAL_LEGACY(KEY, adhoc_idx),
 * KEY_MAC = KDF_INTERNAL_LEGACY(KEY, mac_idx),
 * CT = AES_CBC_ENC(KEY_ENC, nonce, PLAIN), MAC = HMAC(KEY_MAC, CT).
 *
 * Encrypt: *ct is malloc'ed (free()); the two indexes must differ
 * (PA_ERR_INVALID_INPUT_FORMAT otherwise). */
pa_err pa_v2_e2e_encrypt(const uint8_t session_key[PA_V2_KEY_LEN],
                         const uint8_t adhoc_idx[PA_V2_KEY_LEN],
                         const uint8_t mac_idx[PA_V2_KEY_LEN],
                         const uint8_t nonce[PA_V2_NONCE_LEN],
                         const uint8_t *plain, size_t n, uint8_t **ct,
                         size_t *ctlen, uint8_t mac[PA_V2_E2E_MAC_LEN]);

/* Decrypt: the MAC is checked first, in constant time; a wrong MAC, bad
 * length or padding: PA_ERR_DECRYPTION_FAILED.  *plain is malloc'ed and
 * secret: release it with pa_secure_free(*plain, *plen). */
pa_err pa_v2_e2e_decrypt(const uint8_t session_key[PA_V2_KEY_LEN],
                         const uint8_t adhoc_idx[PA_V2_KEY_LEN],
                         const uint8_t mac_idx[PA_V2_KEY_LEN],
                         const uint8_t nonce[PA_V2_NONCE_LEN],
                         const uint8_t *ct, size_t n, const uint8_t *mac,
                         size_t maclen, uint8_t **plain, size_t *plen);

#endif
