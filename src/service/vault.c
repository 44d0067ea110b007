/*
 * vault.c - VaultUnlock, protocol 3 (CRYPTO.md 11.2; DATABASE.md 5.2).
 *
 * The checks that end in a bare signatureValid=false (activation missing
 * or not ACTIVE, unknown application key, an undecodable reason document)
 * write nothing; once they pass, the signature is verified exactly as
 * VerifySignature verifies it, with every state change and an audit row
 * that names the reason.  The key travels only inside the ECIES answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "crypto/primitives.h"
#include "crypto/vault.h"
#include "service/activation_internal.h"
#include "service/signature.h"
#include "service/vault.h"
#include "util/base64.h"

#define OP "VaultUnlock"

/* ^[A-Za-z0-9_\-.]{3,255}$ (11.2 step 5), without a regex engine. */
static int reason_valid(const char *r)
{
    size_t n = strlen(r), i;

    if (n < 3 || n > 255)
        return 0;
    for (i = 0; i < n; i++) {
        char c = r[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

/* {"reason": R}: *reason malloc'ed ("NOT_SPECIFIED" when absent).
 * PA_ERR_DECRYPTION_FAILED stands for "not a reason document" (answered
 * with signatureValid=false), ERR0011 for a reason of the wrong form. */
static pa_err parse_reason(const uint8_t *plain, size_t n, char **reason)
{
    json_t *doc = n ? json_loadb((const char *)plain, n, JSON_REJECT_DUPLICATES,
                                 NULL) : NULL;
    const char *k, *r = NULL;
    json_t *v;
    pa_err e = PA_OK;

    *reason = NULL;
    if (!json_is_object(doc)) {
        json_decref(doc);
        return PA_ERR_DECRYPTION_FAILED;
    }
    json_object_foreach(doc, k, v) {
        if (strcmp(k, "reason") != 0 || !(json_is_string(v) || json_is_null(v)))
            e = PA_ERR_DECRYPTION_FAILED;
        else
            r = json_string_value(v);
    }
    if (e == PA_OK && r && !reason_valid(r))
        e = PA_ERR_INVALID_INPUT_FORMAT;
    if (e == PA_OK && !(*reason = strdup(r ? r : "NOT_SPECIFIED")))
        e = PA_ERR_UNKNOWN_ERROR;
    json_decref(doc);
    return e;
}

/* The answer document, encrypted with the request's context (11.2 step 7). */
static pa_err answer(const pa_derived_keys *k, int valid,
                     const pa_ecies_ctx *ctx, pa_vault_res *res)
{
    uint8_t ct[PA_VAULT_CT_LEN];
    char b64[PA_B64_ENCLEN(PA_VAULT_CT_LEN) + 1], text[128];
    pa_err e = PA_OK;

    if (valid) {
        if ((e = pa_vault_encrypt_key_v3(k->transport, k->vault, ct)) != PA_OK)
            return e;
        pa_b64_encode(ct, sizeof ct, b64);
        snprintf(text, sizeof text, "{\"encryptedVaultEncryptionKey\":\"%s\"}", b64);
    } else {
        snprintf(text, sizeof text, "{\"encryptedVaultEncryptionKey\":null}");
    }
    e = pa_act_ecies_seal(ctx, text, &res->encrypted_data, &res->mac);
    OPENSSL_cleanse(ct, sizeof ct);
    OPENSSL_cleanse(b64, sizeof b64);
    OPENSSL_cleanse(text, sizeof text);
    return e;
}

pa_err pa_vault_unlock(const pa_act_env *env, const pa_vault_req *req,
                       pa_vault_res *res)
{
    pa_store_activation a;
    pa_store_version v;
    pa_derived_keys k;
    pa_ecies_ctx ctx;
    uint8_t *plain = NULL;
    size_t n = 0;
    char *reason = NULL;
    pa_sig_req sreq;
    pa_sig_res sres;
    int found = 0;
    pa_err e;

    memset(res, 0, sizeof *res);
    memset(&v, 0, sizeof v);
    memset(&k, 0, sizeof k);
    memset(&ctx, 0, sizeof ctx);
    memset(&sres, 0, sizeof sres);
    if (req->signature_type != PA_SIG_POSSESSION_KNOWLEDGE
        && !(req->signature_type == PA_SIG_POSSESSION_BIOMETRY
             && env->cfg->secure_vault_enable_biometric))
        return PA_ERR_INVALID_SIGNATURE;
    e = pa_store_activation_get(env->store, req->activation_id, &a, &found);
    if (e != PA_OK)
        return pa_act_store_failed(OP, e);
    if (!found || a.status != PA_STATUS_ACTIVE)
        goto out;                          /* signatureValid=false only */
    e = pa_store_version_get_by_key(env->store, req->application_key, &v, &found);
    if (e != PA_OK) {
        e = pa_act_store_failed(OP, e);
        goto out;
    }
    if (!found || !v.supported || !v.application_secret)
        goto out;
    if ((e = pa_act_ecies_open_activation(env, &a, v.application_secret,
                                          PA_ECIES_SH1_VAULT_UNLOCK, &req->c,
                                          &ctx, &plain, &n, &k)) != PA_OK)
        goto out;
    e = parse_reason(plain, n, &reason);
    if (e == PA_ERR_DECRYPTION_FAILED) {
        e = PA_OK;                         /* signatureValid=false only */
        goto out;
    }
    if (e != PA_OK)
        goto out;
    memset(&sreq, 0, sizeof sreq);
    sreq.activation_id = req->activation_id;
    sreq.application_key = req->application_key;
    sreq.signature_version = req->signature_version;
    sreq.data = req->signed_data;
    sreq.signature = req->signature;
    sreq.types[0] = req->signature_type;
    sreq.ntypes = 1;
    sreq.vault_reason = reason;
    if ((e = pa_signature_verify(env, &sreq, &sres)) != PA_OK)
        goto out;
    res->signature_valid = sres.valid;
    e = answer(&k, sres.valid, &ctx, res);
out:
    if (e != PA_OK)
        pa_vault_res_free(res);
    pa_sig_res_free(&sres);
    free(reason);
    if (plain)
        pa_secure_free(plain, n);
    pa_keys_wipe(&k);
    pa_ecies_ctx_wipe(&ctx);
    pa_store_version_free(&v);
    pa_store_activation_free(&a);
    return e;
}

void pa_vault_res_free(pa_vault_res *r)
{
    if (!r)
        return;
    free(r->encrypted_data);
    free(r->mac);
    memset(r, 0, sizeof *r);
}
