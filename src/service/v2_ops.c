/*
 * v2_ops.c - protocol-2 VaultUnlock (CRYPTO.md 14.4), CreateToken (14.6)
 * and the E2EE keys (14.5); DATABASE.md 5.2, 5.5, 5.6.
 *
 * VaultUnlock is VerifySignature (pa_signature_verify, signatureVersion
 * "2.1") with the v2 counter bump done in the same unit of group commit
 * (pa_sig_req.v2_vault_bump), so the counter the key is bound to is the
 * one the row held right after the signature step.  CreateToken is the v3
 * token issue (pa_token_issue) inside the legacy envelope.  The E2EE keys
 * only derive and write nothing.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/ecies.h"
#include "crypto/keys.h"
#include "crypto/primitives.h"
#include "crypto/v2.h"
#include "crypto/vault.h"
#include "service/activation_internal.h"
#include "service/signature.h"
#include "service/token.h"
#include "service/v2_ops.h"
#include "util/base64.h"

#define OP_VAULT "VaultUnlock"
#define OP_TOKEN "CreateToken"
#define OP_PERSONALIZED "GetPersonalizedEncryptionKey"
#define OP_NONPERSONALIZED "GetNonPersonalizedEncryptionKey"

/* ---- VaultUnlock (14.4) ------------------------------------------------------------- */

/* Length in UTF-16 units, as Java counts it. */
static size_t java_length(const char *s)
{
    size_t n = 0;

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if ((c & 0xc0) != 0x80)
            n += c >= 0xf0 ? 2 : 1;
    }
    return n;
}

void pa_v2_vault_res_free(pa_v2_vault_res *r)
{
    if (!r)
        return;
    free(r->user_id);
    free(r->blocked_reason);
    if (r->encrypted_vault_key)
        pa_secure_free(r->encrypted_vault_key, strlen(r->encrypted_vault_key));
    memset(r, 0, sizeof *r);
}

/* C_VAULT_KEY under KEY_ENCRYPTION_VAULT_TRANSPORT(c), Base64. */
static pa_err vault_key(const pa_act_env *env, const char *activation_id,
                        int64_t c, char **out)
{
    pa_store_activation a;
    pa_derived_keys k;
    uint8_t ct[PA_VAULT_CT_LEN];
    pa_err e = pa_act_load(env->store, OP_VAULT, activation_id, &a);

    memset(&k, 0, sizeof k);
    if (e == PA_OK && (e = pa_act_derived_keys(env, &a, &k)) == PA_OK
        && (e = pa_vault_encrypt_key_v2(k.transport, k.vault, c, ct)) == PA_OK
        && pa_b64_encode_alloc(ct, sizeof ct, out) != PA_OK)
        e = PA_ERR_UNKNOWN_ERROR;
    OPENSSL_cleanse(ct, sizeof ct);
    pa_keys_wipe(&k);
    pa_store_activation_free(&a);
    return e;
}

pa_err pa_v2_vault_unlock(const pa_act_env *env, const pa_v2_vault_req *req,
                          pa_v2_vault_res *res)
{
    pa_sig_req sreq;
    pa_sig_res sres;
    pa_err e;

    memset(res, 0, sizeof *res);
    if (!req->activation_id || !req->application_key || !req->data
        || !req->signature)
        return PA_ERR_INVALID_REQUEST;
    if (req->reason && java_length(req->reason) > 255)
        return PA_ERR_INVALID_INPUT_FORMAT;
    /* Step 1: two factors at least. */
    if (req->signature_type == PA_SIG_POSSESSION
        || req->signature_type == PA_SIG_KNOWLEDGE
        || req->signature_type == PA_SIG_BIOMETRY)
        return PA_ERR_INVALID_SIGNATURE;
    /* Step 2, with the bump of step 3 in the same unit. */
    memset(&sreq, 0, sizeof sreq);
    sreq.activation_id = req->activation_id;
    sreq.application_key = req->application_key;
    sreq.signature_version = "2.1";
    sreq.data = req->data;
    sreq.signature = req->signature;
    sreq.types[0] = req->signature_type;
    sreq.ntypes = 1;
    sreq.vault_reason = req->reason ? req->reason : "NOT_SPECIFIED";
    sreq.v2_vault_bump = 1;
    if ((e = pa_signature_verify(env, &sreq, &sres)) != PA_OK)
        return e;
    if (!sres.bumped) {
        /* Missing or not ACTIVE (also when this very failure blocked it). */
        res->status = PA_STATUS_REMOVED;
        res->remaining_attempts = 0;
        if (!(res->user_id = strdup("UNKNOWN")))
            e = PA_ERR_UNKNOWN_ERROR;
        goto out;
    }
    res->status = sres.status;
    res->signature_valid = sres.valid;
    res->remaining_attempts = sres.remaining_attempts;
    if (!(res->user_id = strdup(sres.user_id))
        || (sres.blocked_reason
            && !(res->blocked_reason = strdup(sres.blocked_reason)))) {
        e = PA_ERR_UNKNOWN_ERROR;
        goto out;
    }
    if (sres.valid)
        e = vault_key(env, req->activation_id, sres.vault_counter,
                      &res->encrypted_vault_key);
out:
    pa_sig_res_free(&sres);
    if (e != PA_OK)
        pa_v2_vault_res_free(res);
    return e;
}

/* ---- CreateToken (14.6) ----------------------------------------------------------------- */

void pa_v2_token_res_free(pa_v2_token_res *r)
{
    if (!r)
        return;
    free(r->encrypted_data);
    free(r->mac);
    memset(r, 0, sizeof *r);
}

pa_err pa_v2_token_create(const pa_act_env *env, const char *activation_id,
                          const char *ephemeral_public_key,
                          const char *signature_type, pa_v2_token_res *res)
{
    pa_store_activation a;
    pa_token_create_res t;
    pa_eckey *master = NULL;
    pa_ecies_ctx ctx;
    pa_sig_type type;
    uint8_t *ephb = NULL;
    size_t ephb_n = 0;
    int64_t keypair_id = 0;
    pa_err e;

    memset(res, 0, sizeof *res);
    memset(&a, 0, sizeof a);
    memset(&t, 0, sizeof t);
    memset(&ctx, 0, sizeof ctx);
    if (!activation_id || !ephemeral_public_key || !signature_type
        || pa_sig_type_parse(signature_type, &type) != PA_OK)
        return PA_ERR_INVALID_REQUEST;
    /* Step 1. */
    if ((e = pa_act_load(env->store, OP_TOKEN, activation_id, &a)) != PA_OK)
        goto out;
    if (a.status != PA_STATUS_ACTIVE) {
        e = PA_ERR_ACTIVATION_INCORRECT_STATE;
        goto out;
    }
    if ((e = pa_act_master_private(env->store, OP_TOKEN, a.application_id,
                                   &master, &keypair_id)) != PA_OK)
        goto out;
    /* Step 3: the legacy envelope (5.10). */
    if (pa_b64_decode_alloc(ephemeral_public_key, &ephb, &ephb_n) != PA_OK) {
        e = PA_ERR_INVALID_REQUEST;
        goto out;
    }
    if (pa_ecies_v2_token_context(master, ephb, ephb_n, &ctx) != PA_OK) {
        e = PA_ERR_ENCRYPTION_FAILED;
        goto out;
    }
    /* Step 2 and the answer: the v3 issue. */
    e = pa_token_issue(env, a.activation_id, pa_sig_type_name(type), &ctx, &t);
    if (e == PA_OK) {
        res->encrypted_data = t.encrypted_data;
        res->mac = t.mac;
    }
out:
    free(ephb);
    pa_ecies_ctx_wipe(&ctx);
    pa_ec_free(master);
    pa_store_activation_free(&a);
    return e;
}

/* ---- E2EE keys (14.5) ---------------------------------------------------------------------- */

void pa_v2_e2e_res_free(pa_v2_e2e_res *r)
{
    if (!r)
        return;
    if (r->encryption_key)
        pa_secure_free(r->encryption_key, strlen(r->encryption_key));
    free(r->encryption_key_index);
    memset(r, 0, sizeof *r);
}

/* IDX: the request's 16 bytes, else 16 random ones. */
static pa_err session_index(const char *b64, uint8_t idx[PA_V2_KEY_LEN])
{
    uint8_t *given = NULL;
    size_t n = 0;
    pa_err e;

    if (pa_b64_decode_alloc(b64, &given, &n) != PA_OK) {
        given = NULL;
        n = 0;
    }
    e = pa_v2_e2e_session_index(given, n, idx);
    free(given);
    return e;
}

static pa_err e2e_answer(const uint8_t key[PA_V2_KEY_LEN],
                         const uint8_t idx[PA_V2_KEY_LEN], pa_v2_e2e_res *res)
{
    if (pa_b64_encode_alloc(key, PA_V2_KEY_LEN, &res->encryption_key) != PA_OK
        || pa_b64_encode_alloc(idx, PA_V2_KEY_LEN, &res->encryption_key_index)
               != PA_OK) {
        pa_v2_e2e_res_free(res);
        return PA_ERR_UNKNOWN_ERROR;
    }
    return PA_OK;
}

pa_err pa_v2_e2e_personalized(const pa_act_env *env, const char *activation_id,
                              const char *session_index_b64,
                              pa_v2_e2e_res *res)
{
    pa_store_activation a;
    pa_derived_keys k;
    uint8_t idx[PA_V2_KEY_LEN], key[PA_V2_KEY_LEN];
    pa_err e;

    memset(res, 0, sizeof *res);
    memset(&k, 0, sizeof k);
    if (!activation_id || !session_index_b64)
        return PA_ERR_INVALID_REQUEST;
    if ((e = pa_act_load(env->store, OP_PERSONALIZED, activation_id, &a)) != PA_OK)
        return e;
    res->application_id = a.application_id;
    if (a.status != PA_STATUS_ACTIVE)
        e = PA_ERR_ACTIVATION_NOT_FOUND;
    if (e == PA_OK && (e = session_index(session_index_b64, idx)) == PA_OK
        && (e = pa_act_derived_keys(env, &a, &k)) == PA_OK
        && (e = pa_v2_e2e_personalized_key(k.transport, idx, key)) == PA_OK)
        e = e2e_answer(key, idx, res);
    OPENSSL_cleanse(key, sizeof key);
    pa_keys_wipe(&k);
    pa_store_activation_free(&a);
    if (e != PA_OK)
        pa_v2_e2e_res_free(res);
    return e;
}

pa_err pa_v2_e2e_nonpersonalized(const pa_act_env *env,
                                 const char *application_key,
                                 const char *session_index_b64,
                                 const char *ephemeral_public_key,
                                 pa_v2_e2e_res *res)
{
    pa_store_version v;
    pa_eckey *master = NULL, *eph = NULL;
    uint8_t idx[PA_V2_KEY_LEN], key[PA_V2_KEY_LEN];
    int64_t keypair_id = 0;
    pa_err e;

    memset(res, 0, sizeof *res);
    memset(&v, 0, sizeof v);
    if (!application_key || !session_index_b64 || !ephemeral_public_key)
        return PA_ERR_INVALID_REQUEST;
    if ((e = pa_act_app_version(env->store, OP_NONPERSONALIZED, application_key,
                                PA_ERR_INVALID_APPLICATION, &v)) == PA_OK
        && (e = pa_act_master_private(env->store, OP_NONPERSONALIZED,
                                      v.application_id, &master, &keypair_id))
               == PA_OK
        && pa_ec_pub_import_b64(ephemeral_public_key, &eph) != PA_OK)
        e = PA_ERR_INVALID_REQUEST;
    if (e == PA_OK && (e = session_index(session_index_b64, idx)) == PA_OK
        && (e = pa_v2_e2e_nonpersonalized_key(master, eph, idx, key)) == PA_OK)
        e = e2e_answer(key, idx, res);
    res->application_id = v.application_id;
    OPENSSL_cleanse(key, sizeof key);
    pa_ec_free(eph);
    pa_ec_free(master);
    pa_store_version_free(&v);
    if (e != PA_OK)
        pa_v2_e2e_res_free(res);
    return e;
}
