/*
 * activation.h - the v3 activation lifecycle (CRYPTO.md 4-7, 15, 16;
 * DATABASE.md 5.1, 5.4-5.6, 5.9): InitActivation, PrepareActivation,
 * CreateActivation, CommitActivation, UpdateActivationOtp,
 * GetActivationStatus, Remove/Block/UnblockActivation,
 * UpdateStatusForActivations, GetActivationListForUser, LookupActivations,
 * ActivationHistory.
 *
 * The handlers translate SOAP structs to the plain request structs here and
 * the results back; everything else - state machine, transactions, lazy
 * expiry, history and callbacks - happens in this module.  Every
 * read-modify-write of an activation runs in one write transaction
 * (pa_store_begin), so concurrent calls for one activation serialise.  A
 * fault rolls the transaction back, except for the deliberate "fault but
 * keep the security counters" writes of DATABASE.md 5.5 (wrong activation
 * OTP, REMOVED after an invalid device key), which commit first.
 *
 * Request strings are borrowed for the call.  Result strings are malloc'ed
 * and released by the matching _free function (secrets wiped).
 */
#ifndef PA_SERVICE_ACTIVATION_H
#define PA_SERVICE_ACTIVATION_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/codes.h"
#include "store/store.h"
#include "util/config.h"
#include "util/err.h"
#include "util/uuid.h"

/* The server settings and the store connection of one request. */
typedef struct pa_act_env {
    pa_store *store;
    const pa_config *cfg;
} pa_act_env;

/* An ECIES cryptogram as it arrives in a SOAP request (Base64 strings;
 * nonce NULL for 3.0). */
typedef struct pa_act_cryptogram {
    const char *ephemeral_public_key;
    const char *encrypted_data;
    const char *mac;
    const char *nonce;
} pa_act_cryptogram;

/* ---- InitActivation (6.2) ------------------------------------------------ */

typedef struct pa_act_init_req {
    const char *user_id;
    int64_t application_id;
    int has_expire;
    int64_t expire_ms;
    int has_max_failures;
    int64_t max_failures;
    int otp_mode;               /* PA_OTP_* */
    const char *otp;            /* NULL when absent */
} pa_act_init_req;

typedef struct pa_act_init_res {
    char activation_id[PA_UUID_BUF];
    char activation_code[PA_CODE_BUF];
    char *activation_signature;  /* Base64 DER */
} pa_act_init_res;

pa_err pa_activation_init(const pa_act_env *env, const pa_act_init_req *req,
                          pa_act_init_res *res);
void pa_act_init_res_free(pa_act_init_res *r);

/* ---- PrepareActivation (6.3) and CreateActivation (6.4) ------------------- */

typedef struct pa_act_prepare_req {
    const char *activation_code;
    const char *application_key;
    pa_act_cryptogram c;
} pa_act_prepare_req;

typedef struct pa_act_create_req {
    const char *user_id;
    const char *application_key;
    int has_expire;
    int64_t expire_ms;
    int has_max_failures;
    int64_t max_failures;
    const char *otp;            /* NULL when absent: OTP mode NONE */
    pa_act_cryptogram c;
} pa_act_create_req;

/* The answer of a key exchange: the layer-2 response encrypted. */
typedef struct pa_act_keyx_res {
    char activation_id[PA_UUID_BUF];
    char *user_id;
    char *encrypted_data;        /* Base64 */
    char *mac;                   /* Base64 */
    int status;                  /* PA_STATUS_* after the exchange */
} pa_act_keyx_res;

pa_err pa_activation_prepare(const pa_act_env *env,
                             const pa_act_prepare_req *req,
                             pa_act_keyx_res *res);
pa_err pa_activation_create(const pa_act_env *env,
                            const pa_act_create_req *req,
                            pa_act_keyx_res *res);
void pa_act_keyx_res_free(pa_act_keyx_res *r);

/* ---- CommitActivation, UpdateActivationOtp (6.5) -------------------------- */

/* otp NULL = absent.  PA_OK means committed (activated = true). */
pa_err pa_activation_commit(const pa_act_env *env, const char *activation_id,
                            const char *external_user_id, const char *otp);
pa_err pa_activation_update_otp(const pa_act_env *env,
                                const char *activation_id,
                                const char *external_user_id,
                                const char *otp);

/* ---- GetActivationStatus (7) ------------------------------------------------ */

typedef struct pa_act_status_res {
    pa_store_activation a;       /* the row as it stands after lazy expiry;
                                    for an unknown activation: zeroed except
                                    activation_id, user_id = activation_name
                                    = "unknown", status REMOVED */
    int found;
    char *encrypted_status_blob; /* Base64 of 32 bytes */
    char *status_blob_nonce;     /* Base64 of 16 bytes, or NULL */
    char *activation_code;       /* CREATED only, else NULL */
    char *activation_signature;  /* CREATED only, else NULL */
    char fingerprint[PA_FINGERPRINT_BUF]; /* "" when no device key */
} pa_act_status_res;

pa_err pa_activation_status(const pa_act_env *env, const char *activation_id,
                            const char *challenge, pa_act_status_res *res);
void pa_act_status_res_free(pa_act_status_res *r);

/* ---- Remove / Block / Unblock / UpdateStatusForActivations (5.1) ----------- */

/* RemoveActivation: REMOVED with history and callback, every time.
 * revoke_recovery_codes is accepted and (with recovery, a later issue)
 * honoured by the recovery module. */
pa_err pa_activation_remove(const pa_act_env *env, const char *activation_id,
                            const char *external_user_id,
                            int revoke_recovery_codes);

/* BlockActivation: *status and *blocked_reason (malloc'ed, may be NULL)
 * receive the state after the call. */
pa_err pa_activation_block(const pa_act_env *env, const char *activation_id,
                           const char *reason, const char *external_user_id,
                           int *status, char **blocked_reason);
pa_err pa_activation_unblock(const pa_act_env *env,
                             const char *activation_id,
                             const char *external_user_id, int *status);

/* All ids or none: an unknown id (ERR0009) changes nothing. */
pa_err pa_activation_update_statuses(const pa_act_env *env,
                                     const char *const *ids, size_t n,
                                     int status);

/* ---- lists -------------------------------------------------------------------- */

/* GetActivationListForUser: applies lazy expiry to each row first. */
pa_err pa_activation_list_for_user(const pa_act_env *env, const char *user_id,
                                   int has_application_id,
                                   int64_t application_id,
                                   pa_store_activation_array *out);
pa_err pa_activation_lookup(const pa_act_env *env,
                            const pa_store_activation_query *q,
                            pa_store_activation_array *out);
pa_err pa_activation_history(const pa_act_env *env, const char *activation_id,
                             int64_t from_ms, int64_t to_ms,
                             pa_store_history_array *out);

#endif
