/*
 * ecies.h - PowerAuth ECIES 3.0 / 3.1 and the protocol-2 token envelope
 * (CRYPTO.md 5, 14.6).
 *
 * One pa_ecies_ctx serves one request and its one response: the server
 * fills it while decrypting the request (pa_ecies_server_decrypt) and uses
 * it for the answer (pa_ecies_encrypt_response); the client fills it while
 * encrypting (pa_ecies_client_encrypt) and reads the answer with it
 * (pa_ecies_client_decrypt_response).  The context holds secrets: wipe it
 * with pa_ecies_ctx_wipe() when done.
 *
 * sharedInfo1 is passed as a C string in the high-level calls (every SH1 of
 * the protocol is text; NULL means "no SH1", like the protocol-2 token);
 * pa_ecies_envelope_key_raw() takes arbitrary bytes.  sharedInfo2 is passed
 * as (bytes, length): the protocol always uses 32 bytes, but the mobile SDK
 * accepts any length, including none, and its test data uses that.
 *
 * Every failure of a decryption path (bad ephemeral point, MAC mismatch,
 * nonce not 16 bytes, bad length or padding, ...) is
 * PA_ERR_DECRYPTION_FAILED, with nothing written to the outputs and the
 * context zeroed.
 */
#ifndef PA_ECIES_H
#define PA_ECIES_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/eckey.h"
#include "util/err.h"

/* sharedInfo1 constants (5.8). */
#define PA_ECIES_SH1_GENERIC_APPLICATION "/pa/generic/application"
#define PA_ECIES_SH1_ACTIVATION "/pa/activation"
#define PA_ECIES_SH1_GENERIC_ACTIVATION "/pa/generic/activation"
#define PA_ECIES_SH1_UPGRADE "/pa/upgrade"
#define PA_ECIES_SH1_VAULT_UNLOCK "/pa/vault/unlock"
#define PA_ECIES_SH1_TOKEN_CREATE "/pa/token/create"
#define PA_ECIES_SH1_RECOVERY_CONFIRM "/pa/recovery/confirm"

#define PA_ECIES_ENV_LEN 48   /* KEY_ENC || KEY_MAC || KEY_IV */
#define PA_ECIES_MAC_LEN 32
#define PA_ECIES_NONCE_LEN 16
#define PA_ECIES_SH2_LEN 32   /* what the protocol uses */
#define PA_ECIES_SH2_MAX 64   /* what a context can hold */

typedef struct {
    uint8_t key_enc[16];
    uint8_t key_mac[16];
    uint8_t iv[16];                 /* ZERO16 (3.0, v2 token) or derived */
    uint8_t sh2[PA_ECIES_SH2_MAX];
    size_t sh2_len;                 /* 0: MAC over the ciphertext alone */
} pa_ecies_ctx;

/* A received request, fields already Base64-decoded.  nonce == NULL means
 * protocol 3.0 (zero IV); any nonce that is not 16 bytes is refused. */
typedef struct {
    const uint8_t *eph;     /* EPHB as received: 33 or 65 bytes */
    size_t eph_len;
    const uint8_t *data;    /* encryptedData */
    size_t data_len;
    const uint8_t *mac;
    size_t mac_len;
    const uint8_t *nonce;   /* NULL for 3.0 */
    size_t nonce_len;
} pa_ecies_request;

/* What a client sends (pa_ecies_client_encrypt).  data is malloc'ed and
 * released by pa_ecies_cryptogram_free(). */
typedef struct {
    uint8_t eph[PA_EC_PUB_LEN];
    size_t eph_len;         /* 33 (compressed) or 65 */
    uint8_t *data;
    size_t data_len;
    uint8_t mac[PA_ECIES_MAC_LEN];
    uint8_t nonce[PA_ECIES_NONCE_LEN];
    int has_nonce;          /* 1 for 3.1 */
} pa_ecies_cryptogram;

/* --- sharedInfo2 (5.7); the secret is the Base64 *text*, used as is. ---- */

/* Application scope: SHA256(UTF8(applicationSecret)). */
pa_err pa_ecies_sh2_application(const char *app_secret, uint8_t out[32]);

/* Activation scope: HMAC(KEY_TRANSPORT, UTF8(applicationSecret)). */
pa_err pa_ecies_sh2_activation(const uint8_t transport_key[16],
                               const char *app_secret, uint8_t out[32]);

/* --- envelope key (5.2) --------------------------------------------------- */

/* ENV = KDF_X963(ECDH_RAW(priv, EPH_PUB), sh1 || ephb, 48), ephb hashed
 * exactly as received.  sh1 may be NULL/empty.  This is getEciesDecryptor's
 * secretKey.  Bad point or key: PA_ERR_DECRYPTION_FAILED, env zeroed. */
pa_err pa_ecies_envelope_key_raw(const pa_eckey *priv, const uint8_t *ephb,
                                 size_t ephb_len, const uint8_t *sh1,
                                 size_t sh1_len,
                                 uint8_t env[PA_ECIES_ENV_LEN]);

/* Same with a text SH1 (NULL = none). */
pa_err pa_ecies_envelope_key(const pa_eckey *priv, const uint8_t *ephb,
                             size_t ephb_len, const char *sh1,
                             uint8_t env[PA_ECIES_ENV_LEN]);

/* Context from a 48-byte envelope key, SH2 and the request nonce (NULL:
 * 3.0, zero IV; else IV = KDF_INTERNAL(KEY_IV, nonce)).  This is what the
 * intermediate server does with getEciesDecryptor's answer.  Nonce not 16
 * bytes or sh2_len > PA_ECIES_SH2_MAX: PA_ERR_DECRYPTION_FAILED. */
pa_err pa_ecies_ctx_from_envelope(const uint8_t env[PA_ECIES_ENV_LEN],
                                  const uint8_t *sh2, size_t sh2_len,
                                  const uint8_t *nonce, size_t nonce_len,
                                  pa_ecies_ctx *ctx);

/* --- server --------------------------------------------------------------- */

/* 5.4: envelope key, MAC check (constant time, before decrypting), IV,
 * AES-CBC decryption.  On success *plain is malloc'ed (caller frees with
 * pa_secure_free(*plain, *plain_len); never NULL, even when empty) and ctx
 * is ready for the response.  Every failure: PA_ERR_DECRYPTION_FAILED,
 * *plain = NULL, ctx zeroed. */
pa_err pa_ecies_server_decrypt(const pa_eckey *priv, const char *sh1,
                               const uint8_t *sh2, size_t sh2_len,
                               const pa_ecies_request *req,
                               pa_ecies_ctx *ctx, uint8_t **plain,
                               size_t *plain_len);

/* 5.4 steps 3-5 with an existing context: verify mac over data || SH2 in
 * constant time, then decrypt.  Used by the server path above, by the
 * intermediate server after pa_ecies_ctx_from_envelope(), and by the client
 * for the response.  Same contract as pa_ecies_server_decrypt (ctx is not
 * modified). */
pa_err pa_ecies_ctx_decrypt(const pa_ecies_ctx *ctx, const uint8_t *data,
                            size_t data_len, const uint8_t *mac,
                            size_t mac_len, uint8_t **plain,
                            size_t *plain_len);

/* 5.5: CT = AES_CBC_ENC(KEY_ENC, IV, plain), MAC = HMAC(KEY_MAC, CT || SH2)
 * (no SH2 when sh2_len is 0).  *ct is malloc'ed, caller frees (free() is
 * enough: it is ciphertext).  PA_ERR_ENCRYPTION_FAILED on failure. */
pa_err pa_ecies_encrypt_response(const pa_ecies_ctx *ctx,
                                 const uint8_t *plain, size_t n,
                                 uint8_t **ct, size_t *ct_len,
                                 uint8_t mac[PA_ECIES_MAC_LEN]);

/* --- client (device emulator, tests) -------------------------------------- */

/* 5.6: new ephemeral pair, ENV from ECDH(eph, server_pub), random nonce
 * when v31, then encryption as 5.5.  compressed_eph selects the 33-byte
 * EPHB (mobile SDK) over the 65-byte one (Java client).  On success *out
 * owns out->data and ctx is ready for the response.  *out is overwritten
 * on entry (free a previous cryptogram first).  Failure:
 * PA_ERR_ENCRYPTION_FAILED, *out and ctx zeroed. */
pa_err pa_ecies_client_encrypt(const pa_eckey *server_pub, const char *sh1,
                               const uint8_t *sh2, size_t sh2_len, int v31,
                               int compressed_eph, const uint8_t *plain,
                               size_t n, pa_ecies_cryptogram *out,
                               pa_ecies_ctx *ctx);

/* View of a cryptogram as the request the server receives. */
void pa_ecies_cryptogram_request(const pa_ecies_cryptogram *c,
                                 pa_ecies_request *req);

/* Frees out->data and zeroes the structure (NULL is fine). */
void pa_ecies_cryptogram_free(pa_ecies_cryptogram *c);

/* 5.6 step 6: same as pa_ecies_ctx_decrypt. */
pa_err pa_ecies_client_decrypt_response(const pa_ecies_ctx *ctx,
                                        const uint8_t *ct, size_t n,
                                        const uint8_t *mac, size_t mac_len,
                                        uint8_t **plain, size_t *plain_len);

/* --- protocol-2 token envelope (5.10, 14.6) -------------------------------- */

/* Server: ENV = KDF_X963(ECDH_RAW(master_priv, EPH), EPHB, 48); context
 * with ZERO16 IV and no SH2, for pa_ecies_encrypt_response().  A bad
 * ephemeral key is PA_ERR_ENCRYPTION_FAILED (14.6: "any failure in the
 * envelope -> ERR0017"), ctx zeroed. */
pa_err pa_ecies_v2_token_context(const pa_eckey *master_priv,
                                 const uint8_t *ephb, size_t ephb_len,
                                 pa_ecies_ctx *ctx);

/* Device: new ephemeral pair; writes EPHB (33 or 65 bytes) and the same
 * context, to read the server's answer with pa_ecies_ctx_decrypt(). */
pa_err pa_ecies_v2_token_client(const pa_eckey *master_pub,
                                int compressed_eph,
                                uint8_t ephb[PA_EC_PUB_LEN], size_t *ephb_len,
                                pa_ecies_ctx *ctx);

/* Zeroes a context (NULL is fine). */
void pa_ecies_ctx_wipe(pa_ecies_ctx *ctx);

#endif
