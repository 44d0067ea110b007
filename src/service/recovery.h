/*
 * recovery.h - activation recovery (CRYPTO.md 12; DATABASE.md 5.8):
 * recovery configuration, postcard codes, codes bound to an activation,
 * ConfirmRecoveryCode, LookupRecoveryCodes, RevokeRecoveryCodes and
 * RecoveryCodeActivation.
 *
 * The functions marked "inside a unit" run inside the caller's write
 * transaction (a pa_act_write unit, activation_internal.h) and are how the
 * activation operations plug recovery in: the key exchange issues a bound
 * code, CommitActivation activates it, RemoveActivation revokes.
 */
#ifndef PA_SERVICE_RECOVERY_H
#define PA_SERVICE_RECOVERY_H

#include <jansson.h>

#include "service/activation.h"
#include "store/store.h"

/* Inside a unit.  *enabled = the application's activation_recovery_enabled
 * (no config row: 0). */
pa_err pa_recovery_enabled(pa_store *s, int64_t application_id, int *enabled);

/* Inside a unit (12.2).  Issues a recovery code with one PUK bound to the
 * activation a (PENDING_COMMIT or ACTIVE, else ERR0008; a live bound code
 * already: ERR0025; ERR0026 after the configured retries), stores it
 * (code ACTIVE when a is ACTIVE, else CREATED; the PUK Argon2-hashed and
 * record-encrypted when the master key is set) and returns the layer-2
 * object {"recoveryCode":..,"puk":..} in *activation_recovery (new
 * reference).  Argon2 runs here, once. */
pa_err pa_recovery_issue_bound(const pa_act_env *env,
                               const pa_store_activation *a,
                               json_t **activation_recovery);

/* Inside a unit: the activation's CREATED codes become ACTIVE
 * (CommitActivation). */
pa_err pa_recovery_activate_bound(pa_store *s, const char *activation_id,
                                  int64_t now_ms);

/* Inside a unit: every non-REVOKED code of the activation becomes REVOKED
 * and its VALID PUKs INVALID (RemoveActivation with revokeRecoveryCodes,
 * RecoveryCodeActivation). */
pa_err pa_recovery_revoke_bound(pa_store *s, const char *activation_id,
                                int64_t now_ms);

/* ---- shared by the recovery files ------------------------------------------ */

/* Inside a unit: the code c (as read, with its PUKs) becomes REVOKED and
 * its VALID PUKs INVALID, with last change now_ms; *changed = 1 when it was
 * not REVOKED already (then c is updated too), else nothing is written. */
pa_err pa_recovery_revoke_code(pa_store *s, pa_store_recovery_code *c,
                               int64_t now_ms, int *changed);

/* ---- administration (DATABASE.md 5.8; CONTRACT.md) ---------------------------
 * Request strings are borrowed for the call; results are released with the
 * matching _free function.  Nothing here logs a code, PUK, nonce or key. */

/* GetRecoveryConfig: the application's row, created with every flag false
 * when missing (unknown application ERR0015).  out->postcard_private_key is
 * always NULL in the answer.  Free with pa_store_recovery_config_free. */
pa_err pa_recovery_config_get(const pa_act_env *env, int64_t application_id,
                              pa_store_recovery_config *out);

typedef struct pa_recovery_config_req {
    int64_t application_id;
    int activation_recovery_enabled;
    int recovery_postcard_enabled;
    int allow_multiple_recovery_codes;  /* absent on the wire: 0 */
    const char *remote_public_key;      /* NULL unchanged, "" removes */
} pa_recovery_config_req;

/* UpdateRecoveryConfig: writes the flags (the row created when missing;
 * unknown application ERR0015); the postcard key pair is generated when
 * postcards are enabled and the row has no private key (never removed); a
 * remote key that is not a P-256 point (Base64 of 65 or 33 bytes) is
 * ERR0010.  PA_OK means updated. */
pa_err pa_recovery_config_update(const pa_act_env *env,
                                 const pa_recovery_config_req *req);

/* ---- CreateRecoveryCode (12.3) ---------------------------------------------- */

typedef struct pa_recovery_postcard_res {
    char *nonce;                  /* Base64 of the 32-byte NONCE */
    char *user_id;
    int64_t recovery_code_id;
    char recovery_code_masked[PA_CODE_BUF];
    int status;                   /* PA_RC_CREATED */
    size_t puk_count;
    int64_t *derivation_indexes;  /* entry k: pukIndex k + 1, status VALID */
} pa_recovery_postcard_res;

/* Faults in order: pukCount outside 1..100 or no userId ERR0024; unknown
 * application, recovery or postcards disabled ERR0024; a postcard key
 * missing ERR0029 (unparsable ERR0010); a live postcard code of the user
 * while multiple codes are not allowed ERR0025; no unused code within
 * cfg->generate_recovery_code_iterations ERR0026.  The N Argon2 hashes
 * (~100 ms each) are computed on the caller's thread before the write. */
pa_err pa_recovery_postcard_create(const pa_act_env *env,
                                   int64_t application_id,
                                   const char *user_id, int64_t puk_count,
                                   pa_recovery_postcard_res *res);
void pa_recovery_postcard_res_free(pa_recovery_postcard_res *r);

/* ---- ConfirmRecoveryCode (12.4) ----------------------------------------------- */

typedef struct pa_recovery_confirm_req {
    const char *activation_id;
    const char *application_key;
    pa_act_cryptogram c;
} pa_recovery_confirm_req;

typedef struct pa_recovery_confirm_res {
    char *activation_id;
    char *user_id;
    char *encrypted_data;         /* Base64 */
    char *mac;                    /* Base64 */
    int already_confirmed;
} pa_recovery_confirm_res;

/* Faults in order: a missing element ERR0024; unknown activation ERR0009;
 * recovery disabled for its application ERR0024; not ACTIVE ERR0008;
 * unknown applicationKey ERR0015; undecodable Base64 ERR0024; decryption
 * failure, unparsable JSON or an unknown property ERR0018; a missing or
 * invalid code ERR0024; no such code in the key's application ERR0027;
 * another user's code, or not CREATED/ACTIVE, ERR0024.  A CREATED code
 * becomes ACTIVE. */
pa_err pa_recovery_confirm(const pa_act_env *env,
                           const pa_recovery_confirm_req *req,
                           pa_recovery_confirm_res *res);
void pa_recovery_confirm_res_free(pa_recovery_confirm_res *r);

/* ---- LookupRecoveryCodes, RevokeRecoveryCodes (5.8) ---------------------------- */

typedef struct pa_recovery_lookup_req {
    const char *user_id;          /* NULL: not given */
    const char *activation_id;    /* NULL: not given */
    int has_application_id;
    int64_t application_id;
    int has_code_status;
    int code_status;              /* PA_RC_* */
    int has_puk_status;
    int puk_status;               /* PA_PUK_* */
} pa_recovery_lookup_req;

/* The codes of the query DATABASE.md 5.8 chooses (application alone or
 * nothing: ERR0024), filtered, newest first, PUKs by index.  In the answer
 * recovery_code holds the MASKED code (4.6) and every PUK's puk is NULL.
 * Free with pa_store_recovery_code_array_free. */
pa_err pa_recovery_lookup(const pa_act_env *env,
                          const pa_recovery_lookup_req *req,
                          pa_store_recovery_code_array *out);

/* Each listed code that is not REVOKED becomes REVOKED, its VALID PUKs
 * INVALID; unknown ids are ignored; no id or a negative one ERR0024
 * (nothing written).  *revoked = 1 when at least one code changed. */
pa_err pa_recovery_revoke(const pa_act_env *env, const int64_t *ids,
                          size_t n, int *revoked);

#endif
