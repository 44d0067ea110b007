/*
 * vault.h - VaultUnlock, protocol 3 (CRYPTO.md 11.2): after a valid
 * signature the phone receives its vault encryption key, encrypted with
 * KEY_TRANSPORT, inside an ECIES answer.
 */
#ifndef PA_SERVICE_VAULT_H
#define PA_SERVICE_VAULT_H

#include "crypto/signature.h"
#include "service/activation.h"

typedef struct pa_vault_req {
    const char *activation_id;
    const char *application_key;
    const char *signed_data;
    const char *signature;
    pa_sig_type signature_type;
    const char *signature_version;
    pa_act_cryptogram c;
} pa_vault_req;

typedef struct pa_vault_res {
    int signature_valid;
    char *encrypted_data;        /* NULL: no ECIES answer (11.2 steps 2-5) */
    char *mac;
} pa_vault_res;

pa_err pa_vault_unlock(const pa_act_env *env, const pa_vault_req *req,
                       pa_vault_res *res);
void pa_vault_res_free(pa_vault_res *r);

#endif
