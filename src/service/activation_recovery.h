/*
 * activation_recovery.h - RecoveryCodeActivation (CRYPTO.md 12.5;
 * DATABASE.md 5.5, 5.8) and the pieces of the protocol-3 key exchange
 * (activation_keyx.c) it shares with PrepareActivation and
 * CreateActivation.
 *
 * The key-exchange pieces are internal to the activation service; the
 * handler uses only pa_activation_recovery.
 */
#ifndef PA_SERVICE_ACTIVATION_RECOVERY_H
#define PA_SERVICE_ACTIVATION_RECOVERY_H

#include <jansson.h>

#include "crypto/ecies.h"
#include "crypto/eckey.h"
#include "service/activation.h"

/* ---- RecoveryCodeActivation --------------------------------------------------- */

typedef struct pa_act_recovery_req {
    const char *recovery_code;
    const char *puk;
    const char *application_key;
    int has_max_failures;
    int64_t max_failures;
    const char *otp;            /* activationOtp; NULL when absent (an empty
                                   string counts as given: ERR0024) */
    pa_act_cryptogram c;
} pa_act_recovery_req;

/* 12.5 steps 1-8.  A wrong PUK is counted and saved (the only write of a
 * failed call) and gives PA_ERR_INVALID_RECOVERY_CODE; when that attempt
 * did not block the code and a VALID PUK is left, *current_puk_index
 * receives the index of the first VALID PUK (the fault's
 * currentRecoveryPukIndex), else 0.  Every other fault writes nothing. */
pa_err pa_activation_recovery(const pa_act_env *env,
                              const pa_act_recovery_req *req,
                              pa_act_keyx_res *res,
                              int64_t *current_puk_index);

/* ---- shared with activation_keyx.c -------------------------------------------- */

/* The decrypted layer-2 request of a key exchange (6.3 step 4). */
typedef struct pa_act_layer2 {
    json_t *doc;                 /* owns the strings below */
    const char *device_public_key;
    const char *activation_otp;  /* NULL when the property is absent */
    const char *activation_name;
    const char *extras;
    const char *platform;
    const char *device_info;
} pa_act_layer2;

/* Opens the layer-2 request with the application's master key (ERR0018,
 * ERR0011); release with pa_act_layer2_free (also after a failure). */
pa_err pa_act_layer2_open(const pa_eckey *master, const char *app_secret,
                          const pa_act_cryptogram *c, pa_ecies_ctx *ctx,
                          pa_act_layer2 *l);
void pa_act_layer2_free(pa_act_layer2 *l);

/* KEY_DEVICE_PUBLIC re-encoded uncompressed (malloc'ed), or NULL when it
 * is not a valid P-256 point (2.2). */
char *pa_act_device_key_b64(const char *b64);

/* 6.3 steps 8-10 on the row: key (taken, freed on failure), names, fresh
 * ctrData, version 3, status. */
pa_err pa_act_keyx_apply(pa_store_activation *a, const pa_act_layer2 *l,
                         char *device_key, int status);

/* The encrypted layer-2 answer (6.3 steps 12-13); recovery: the
 * activationRecovery object or NULL for JSON null. */
pa_err pa_act_keyx_answer(const pa_store_activation *a, json_t *recovery,
                          const pa_ecies_ctx *ctx, pa_act_keyx_res *res);

/* Wipes the clear recovery code and PUK of an activationRecovery object,
 * then drops the reference (NULL is fine). */
void pa_act_recovery_wipe_free(json_t *recovery);

#endif
