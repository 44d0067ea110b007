/*
 * devserver.h - a minimal in-process PowerAuth server for the padevice
 * tests: one application, one activation, built only from the SERVER-side
 * functions of the crypto layer (pa_ecies_server_decrypt,
 * pa_ecies_encrypt_response, pa_sig_verify, pa_status_encrypt,
 * pa_vault_encrypt_key_*, pa_v2_decrypt_device_public_key, ...).
 *
 * A flow in which this server accepts what libpadevice (client side only)
 * produced, and the device accepts the server's answers, shows that both
 * halves of the crypto layer agree.  State handling follows CRYPTO.md
 * closely enough for that (counters, lookahead, forced version), not the
 * whole service layer.
 */
#ifndef PA_TEST_DEVSERVER_H
#define PA_TEST_DEVSERVER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "crypto/codes.h"
#include "crypto/ecies.h"
#include "crypto/eckey.h"
#include "crypto/keys.h"
#include "crypto/signature.h"
#include "crypto/v2.h"

#define DS_LOOKAHEAD 20

typedef struct {
    pa_eckey *master;               /* KEY_SERVER_MASTER pair */
    char app_key[32], app_secret[32];
    char code[PA_CODE_BUF];         /* activation code of the activation */
    char activation_id[40];
    pa_eckey *server_key;           /* KEY_SERVER pair */
    pa_eckey *device_pub;           /* set by the key exchange */
    int version;                    /* 0, 2 or 3 */
    int64_t counter;
    int has_ctr_data;
    uint8_t ctr_data[16];
    const char *otp;                /* expected layer-2 activationOtp */
    int recovery;                   /* answer with activationRecovery */
    char recovery_code[24], puk[11];
    int recovery_confirmed;
    char token_id[40];
    uint8_t token_secret[16];
    char vault_reason[64];          /* reason of the last vault unlock */
    pa_ecies_ctx ctx;               /* the request in flight */
    json_t *layer2;                 /* last layer-2 request document */
} ds_server;

/* An encrypted answer: encryptedData (malloc'ed) and mac. */
typedef struct {
    uint8_t *ct;
    size_t ct_len;
    uint8_t mac[PA_ECIES_MAC_LEN];
} ds_answer;

/* The protocol-2 key exchange answer (14.1 step 9). */
typedef struct {
    uint8_t nonce[PA_V2_NONCE_LEN];
    uint8_t eph[PA_EC_PUB_LEN];
    uint8_t c[PA_V2_C_PUB_LEN];
    uint8_t sig[PA_ECDSA_MAX];
    size_t sig_len;
} ds_v2_answer;

/* Master pair, random application key/secret, code, activation id and
 * KEY_SERVER pair. */
pa_err ds_init(ds_server *s);
void ds_free(ds_server *s);
void ds_answer_free(ds_answer *a);

/* masterPublicKey as Base64 of the 65-byte point (malloc'ed). */
char *ds_master_pub_b64(const ds_server *s);

/* Server view of the derived keys (KEY_SERVER_PRIVATE + device public). */
pa_err ds_keys(const ds_server *s, pa_derived_keys *k);

/* 6.3 / 6.4 (custom: the layer-2 OTP is ignored): decrypts the layer-2
 * request, checks the OTP, stores the device key, fresh ctrData, version 3,
 * optional recovery code, encrypted layer-2 answer. */
pa_err ds_prepare(ds_server *s, const pa_ecies_request *req, int custom,
                  ds_answer *a);

/* ECIES request decryption in application scope (master key) or activation
 * scope (KEY_SERVER, HMAC(KEY_TRANSPORT, secret)); the context is kept for
 * ds_reply.  *plain: pa_secure_free. */
pa_err ds_open(ds_server *s, int activation_scope, const char *sh1,
               const pa_ecies_request *req, uint8_t **plain, size_t *n);

/* Encrypts an answer with the kept context. */
pa_err ds_reply(ds_server *s, const char *text, ds_answer *a);

/* verifySignature (8.6, 8.7): 1 valid, 0 invalid, -1 error; *offset is
 * the matched position minus the counter before the call. */
int ds_verify(ds_server *s, const char *data_string, const char *signature,
              pa_sig_type t, const char *sig_version, int forced_v3,
              int64_t *offset);

/* verifyOfflineSignature (9.3); *used receives the matching type. */
int ds_verify_offline(ds_server *s, const char *data_string,
                      const char *signature, int allow_biometry,
                      pa_sig_type *used);

/* getActivationStatus blob for an ACTIVE activation (challenge may be
 * NULL: zero IV, nonce zeroed). */
pa_err ds_status(ds_server *s, const uint8_t *challenge, uint8_t nonce[16],
                 uint8_t blob[32]);

/* createToken (10.1). */
pa_err ds_token_create(ds_server *s, const pa_ecies_request *req,
                       ds_answer *a);

/* vaultUnlock (11.2): *sig_valid and the answer with the key or null. */
pa_err ds_vault_unlock(ds_server *s, const pa_ecies_request *req,
                       const char *signed_data, const char *signature,
                       pa_sig_type t, const char *sig_version, int *sig_valid,
                       ds_answer *a);

/* v2 vaultUnlock (14.4): key bound to the counter after verification. */
pa_err ds_vault_unlock_v2(ds_server *s, const char *data,
                          const char *signature, pa_sig_type t, int *valid,
                          uint8_t key_out[32]);

/* startUpgrade (13.1); commit is setting s->version = 3. */
pa_err ds_start_upgrade(ds_server *s, const pa_ecies_request *req,
                        ds_answer *a);

/* confirmRecoveryCode (12.4). */
pa_err ds_confirm_recovery(ds_server *s, const pa_ecies_request *req,
                           ds_answer *a);

/* v2 prepareActivation / createActivation (14.1, 14.2): id is the short id
 * or the identity, otp the activation OTP. */
pa_err ds_v2_prepare(ds_server *s, const char *id, const char *otp,
                     const uint8_t nonce[16], const uint8_t *c, size_t n,
                     const uint8_t *eph, size_t eph_len, const uint8_t *sig,
                     size_t sig_len, ds_v2_answer *out);

/* v2 createToken (14.6) from the device's ephemeral key. */
pa_err ds_v2_token(ds_server *s, const uint8_t *ephb, size_t len,
                   ds_answer *a);

#endif
