/*
 * v2_ops.h - the protocol-2 (legacy) operations of the v2 SOAP endpoint
 * (CRYPTO.md 14; DATABASE.md 5.1, 5.2, 5.5, 5.6):
 *   PrepareActivation, CreateActivation  (activation_v2.c; 14.1, 14.2)
 *   VaultUnlock, CreateToken,
 *   GetPersonalized/NonPersonalizedEncryptionKey  (v2_ops.c; 14.4-14.6)
 *
 * They share the v3 services: InitActivation (pa_act_init_tx), the
 * key-exchange columns, lazy expiry, history and callbacks
 * (lifecycle.h), group commit (pa_act_write), VerifySignature
 * (pa_signature_verify), token issue (pa_token_issue).  Commit, status,
 * signatures and token validation of a protocol-2 activation are the v3
 * operations.
 *
 * Request strings are borrowed for the call; result strings are malloc'ed
 * and released by the matching _free function.
 */
#ifndef PA_SERVICE_V2_OPS_H
#define PA_SERVICE_V2_OPS_H

#include <stdint.h>

#include "crypto/signature.h"
#include "service/activation.h"
#include "util/err.h"
#include "util/uuid.h"

/* ---- PrepareActivation (14.1), CreateActivation (14.2) -------------------- */

/* The key-exchange fields both requests carry (Base64 text). */
typedef struct pa_v2_keyx_fields {
    const char *activation_name;
    const char *extras;               /* optional */
    const char *activation_nonce;
    const char *ephemeral_public_key;
    const char *encrypted_device_public_key;
    const char *application_key;
    const char *application_signature;
} pa_v2_keyx_fields;

typedef struct pa_v2_prepare_req {
    const char *activation_id_short;
    pa_v2_keyx_fields k;
} pa_v2_prepare_req;

typedef struct pa_v2_create_req {
    const char *user_id;
    int has_expire;
    int64_t expire_ms;
    int has_max_failures;
    int64_t max_failures;
    const char *identity;
    const char *activation_otp;
    pa_v2_keyx_fields k;
} pa_v2_create_req;

typedef struct pa_v2_keyx_res {
    char activation_id[PA_UUID_BUF];
    char *activation_nonce;                       /* B64(NONCE_S) */
    char *ephemeral_public_key;                   /* B64(EPH2_PUB), 65 bytes */
    char *encrypted_server_public_key;            /* B64(C_SERVER_PUB) */
    char *encrypted_server_public_key_signature;  /* B64(DER) */
} pa_v2_keyx_res;

/* Faults (14.1): a missing element, undecodable Base64 or an invalid
 * ephemeral key ERR0024; unknown or unsupported application key ERR0007;
 * no CREATED, unexpired activation with that short id (which must be
 * XXXXX-XXXXX) ERR0009; activationNonce not 16 bytes ERR0023; after the
 * locked re-read not CREATED / other application ERR0007; a device key
 * that does not decrypt REMOVED (kept, with history and callback) and
 * ERR0009; a wrong application signature ERR0007 (nothing written). */
pa_err pa_v2_activation_prepare(const pa_act_env *env,
                                const pa_v2_prepare_req *req,
                                pa_v2_keyx_res *res);

/* Faults (14.2): a missing element, undecodable Base64 or an invalid
 * ephemeral key ERR0024; unknown or unsupported application key ERR0015;
 * InitActivation's own faults; activationNonce not 16 bytes ERR0023; a
 * device key that does not decrypt or a wrong application signature
 * ERR0007.  All or nothing: a fault leaves no activation behind. */
pa_err pa_v2_activation_create(const pa_act_env *env,
                               const pa_v2_create_req *req,
                               pa_v2_keyx_res *res);
void pa_v2_keyx_res_free(pa_v2_keyx_res *r);

/* ---- VaultUnlock (14.4) ------------------------------------------------------- */

typedef struct pa_v2_vault_req {
    const char *activation_id;
    const char *application_key;
    const char *data;
    const char *signature;
    pa_sig_type signature_type;
    const char *reason;               /* optional */
} pa_v2_vault_req;

typedef struct pa_v2_vault_res {
    int signature_valid;
    int status;                       /* PA_STATUS_*; REMOVED when missing
                                         or not ACTIVE */
    char *user_id;                    /* "UNKNOWN" when not ACTIVE */
    char *blocked_reason;             /* may be NULL */
    int64_t remaining_attempts;
    char *encrypted_vault_key;        /* B64(C_VAULT_KEY) or NULL */
} pa_v2_vault_res;

/* Faults: a missing element ERR0024; a reason over 255 characters ERR0011;
 * a 1FA signature type ERR0012; VerifySignature's own faults. */
pa_err pa_v2_vault_unlock(const pa_act_env *env, const pa_v2_vault_req *req,
                          pa_v2_vault_res *res);
void pa_v2_vault_res_free(pa_v2_vault_res *r);

/* ---- CreateToken (14.6) ----------------------------------------------------- */

typedef struct pa_v2_token_res {
    char *encrypted_data;             /* Base64 */
    char *mac;                        /* Base64 */
} pa_v2_token_res;

/* signature_type: the SOAP enum name.  Faults: missing element, unknown
 * type or undecodable ephemeral key ERR0024; unknown activation ERR0009;
 * not ACTIVE ERR0008; no master key pair ERR0003 (unparsable ERR0004);
 * an ephemeral key the envelope refuses ERR0017; ERR0019 as in v3. */
pa_err pa_v2_token_create(const pa_act_env *env, const char *activation_id,
                          const char *ephemeral_public_key,
                          const char *signature_type, pa_v2_token_res *res);
void pa_v2_token_res_free(pa_v2_token_res *r);

/* ---- E2EE keys (14.5) -------------------------------------------------------- */

typedef struct pa_v2_e2e_res {
    int64_t application_id;           /* non-personalized only */
    char *encryption_key;             /* B64(KEY), 16 bytes */
    char *encryption_key_index;       /* B64(IDX), 16 bytes */
} pa_v2_e2e_res;

/* Faults: missing element ERR0024; activation missing or not ACTIVE
 * ERR0009.  A session index that is not 16 bytes of Base64 is replaced by
 * 16 random bytes. */
pa_err pa_v2_e2e_personalized(const pa_act_env *env, const char *activation_id,
                              const char *session_index, pa_v2_e2e_res *res);

/* Faults: missing element or an ephemeral key that is not a P-256 point
 * ERR0024; application version missing or unsupported ERR0015; no master
 * key pair ERR0003 (unparsable ERR0004). */
pa_err pa_v2_e2e_nonpersonalized(const pa_act_env *env,
                                 const char *application_key,
                                 const char *session_index,
                                 const char *ephemeral_public_key,
                                 pa_v2_e2e_res *res);
void pa_v2_e2e_res_free(pa_v2_e2e_res *r);

#endif
