/*
 * device_ops.c - activation-scope flows of an activated device: MAC tokens
 * (10.1, 10.2), vault unlock (11, 14.4), upgrade start (13.1) and recovery
 * code confirmation (12.4).
 *
 * Each flow is a request step (ECIES activation scope, the request kept
 * pending) and a response step that reads the JSON the server put in the
 * envelope.  Decrypted documents are wiped before they are released.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/primitives.h"
#include "crypto/vault.h"
#include "tools/padevice/device.h"
#include "util/base64.h"

/* Seals a fixed small JSON document of one optional string property. */
static pa_err seal_doc(pa_device *d, pa_device_pending_kind k,
                       const char *sh1, const char *prop, const char *value,
                       int compressed, pa_ecies_cryptogram *out)
{
    json_t *doc = json_object();
    char *text = NULL;
    pa_err e = doc ? PA_OK : PA_ERR_UNKNOWN_ERROR;

    memset(out, 0, sizeof *out);
    if (e == PA_OK && value != NULL) {
        json_t *s = json_string(value);

        if (s == NULL || json_object_set_new(doc, prop, s) != 0)
            e = PA_ERR_INVALID_INPUT_FORMAT;
    }
    if (e == PA_OK && (text = json_dumps(doc, JSON_COMPACT)) == NULL)
        e = PA_ERR_UNKNOWN_ERROR;
    if (e == PA_OK)
        e = pa_device_seal(d, k, 1, sh1, (const uint8_t *)text, strlen(text),
                           compressed, out);
    pa_device_free_secret(text);
    pa_device_json_wipe_free(doc);
    return e;
}

/* --- tokens ------------------------------------------------------------------ */

pa_err pa_device_token_request(pa_device *d, int compressed,
                               pa_ecies_cryptogram *out)
{
    return seal_doc(d, PA_DEVICE_PENDING_TOKEN, PA_ECIES_SH1_TOKEN_CREATE,
                    NULL, NULL, compressed, out);
}

pa_err pa_device_store_token(pa_device *d, json_t *doc,
                             const pa_device_token **tok)
{
    const char *id = json_string_value(json_object_get(doc, "tokenId"));
    const char *sec = json_string_value(json_object_get(doc, "tokenSecret"));
    uint8_t secret[PA_TOKEN_SECRET_LEN];
    pa_device_token *slot = (pa_device_token *)pa_device_token_find(d, id);
    pa_err e;

    *tok = NULL;
    if (id == NULL || *id == '\0' || sec == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    if ((e = pa_b64_decode_exact(sec, secret, sizeof secret)) != PA_OK)
        return e;
    if (slot == NULL) {
        pa_device_token *t = realloc(d->tokens, (d->ntokens + 1) * sizeof *t);
        char *copy = strdup(id);

        if (t != NULL)
            d->tokens = t;
        if (t == NULL || copy == NULL) {
            free(copy);
            OPENSSL_cleanse(secret, sizeof secret);
            return PA_ERR_UNKNOWN_ERROR;
        }
        slot = &d->tokens[d->ntokens++];
        slot->id = copy;
    }
    memcpy(slot->secret, secret, sizeof secret);
    OPENSSL_cleanse(secret, sizeof secret);
    *tok = slot;
    return PA_OK;
}

pa_err pa_device_read_token(pa_device *d, pa_device_pending_kind pending,
                            const uint8_t *ct, size_t n, const uint8_t *mac, size_t mac_len,
                            const pa_device_token **tok)
{
    json_t *doc = NULL;
    pa_err e = pa_device_open_json(d, pending, ct, n, mac, mac_len, &doc);

    *tok = NULL;
    if (e == PA_OK)
        e = pa_device_store_token(d, doc, tok);
    pa_device_json_wipe_free(doc);
    if (e == PA_OK)
        pa_device_pending_clear(d);
    return e;
}

pa_err pa_device_token_response(pa_device *d, const uint8_t *ct, size_t n,
                                const uint8_t *mac, size_t mac_len,
                                const pa_device_token **tok)
{
    return pa_device_read_token(d, PA_DEVICE_PENDING_TOKEN, ct, n, mac,
                                mac_len, tok);
}

pa_err pa_device_token_digest(const pa_device *d, const char *token_id,
                              const uint8_t nonce[16], int64_t timestamp_ms,
                              uint8_t out[PA_TOKEN_DIGEST_LEN])
{
    const pa_device_token *t = pa_device_token_find(d, token_id);

    if (t == NULL)
        return PA_ERR_INVALID_TOKEN;
    return pa_token_digest(t->secret, nonce, 16, timestamp_ms, out);
}

/* --- vault unlock ------------------------------------------------------------- */

void pa_device_vault_request_free(pa_device_vault_req *r)
{
    if (r == NULL)
        return;
    pa_ecies_cryptogram_free(&r->c);
    free(r->body);
    pa_device_signature_free(&r->sig);
    memset(r, 0, sizeof *r);
}

/* The body the SDK posts for an ECIES request, compact JSON. */
static pa_err cryptogram_body(const pa_ecies_cryptogram *c, char **out)
{
    json_t *o = pa_device_cryptogram_json(c);

    *out = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return *out ? PA_OK : PA_ERR_UNKNOWN_ERROR;
}

pa_err pa_device_vault_request(pa_device *d, const char *reason,
                               pa_sig_type t, int compressed,
                               pa_device_vault_req *out)
{
    pa_err e;

    memset(out, 0, sizeof *out);
    e = seal_doc(d, PA_DEVICE_PENDING_VAULT, PA_ECIES_SH1_VAULT_UNLOCK,
                 "reason", reason, compressed, &out->c);
    /* Encrypt, then sign the encrypted body (8.1, 11.2 step 6). */
    if (e == PA_OK)
        e = cryptogram_body(&out->c, &out->body);
    if (e == PA_OK)
        e = pa_device_sign(d, "POST", PA_ECIES_SH1_VAULT_UNLOCK,
                           (const uint8_t *)out->body, strlen(out->body), t,
                           NULL, 1, &out->sig);
    if (e != PA_OK) {
        pa_device_vault_request_free(out);
        pa_device_pending_clear(d);
    }
    return e;
}

/* *match = 1 when ct decrypts to the device's own vault key; a key that
 * does not decrypt is simply not ours (0, not an error). */
static pa_err vault_key_matches(const pa_device *d, const uint8_t *ct,
                                size_t n, const int64_t *v2_counter,
                                int *match)
{
    uint8_t got[16];
    pa_derived_keys k;
    pa_err e = pa_device_keys(d, &k);

    *match = 0;
    if (e == PA_OK) {
        pa_err de = v2_counter
                        ? pa_vault_decrypt_key_v2(k.transport, *v2_counter,
                                                  ct, n, got)
                        : pa_vault_decrypt_key_v3(k.transport, ct, n, got);

        *match = de == PA_OK && pa_ct_equal(got, 16, k.vault, 16);
    }
    pa_keys_wipe(&k);
    OPENSSL_cleanse(got, sizeof got);
    return e;
}

static pa_err vault_key_matches_b64(const pa_device *d, const char *b64,
                                    int *match)
{
    uint8_t *ct = NULL;
    size_t n = 0;
    pa_err e = pa_b64_decode_alloc(b64, &ct, &n);

    *match = 0;
    if (e == PA_OK)
        e = vault_key_matches(d, ct, n, NULL, match);
    free(ct);
    return e;
}

pa_err pa_device_vault_response(pa_device *d, const uint8_t *ct, size_t n,
                                const uint8_t *mac, size_t mac_len,
                                int *unlocked)
{
    json_t *doc = NULL, *key;
    pa_err e = pa_device_open_json(d, PA_DEVICE_PENDING_VAULT, ct, n, mac,
                                   mac_len, &doc);

    *unlocked = 0;
    if (e == PA_OK) {
        key = json_object_get(doc, "encryptedVaultEncryptionKey");
        if (json_is_string(key))
            e = vault_key_matches_b64(d, json_string_value(key), unlocked);
        else if (!json_is_null(key)) /* absent or of another type */
            e = PA_ERR_INVALID_INPUT_FORMAT;
    }
    pa_device_json_wipe_free(doc);
    if (e == PA_OK)
        pa_device_pending_clear(d);
    return e;
}

pa_err pa_device_v2_vault_response(pa_device *d, const uint8_t *c, size_t n,
                                   const int64_t *counter_or_NULL,
                                   int *unlocked)
{
    int64_t ctr = counter_or_NULL ? *counter_or_NULL : d->counter;
    pa_err e = vault_key_matches(d, c, n, &ctr, unlocked);

    /* The server moved its counter past the key's value (14.4). */
    if (e == PA_OK && *unlocked)
        d->counter = ctr + 1;
    return e;
}

/* --- upgrade ------------------------------------------------------------------ */

pa_err pa_device_upgrade_request(pa_device *d, int compressed,
                                 pa_ecies_cryptogram *out)
{
    memset(out, 0, sizeof *out);
    if (d->version != 2)
        return PA_ERR_ACTIVATION_INCORRECT_STATE;
    return seal_doc(d, PA_DEVICE_PENDING_UPGRADE, PA_ECIES_SH1_UPGRADE, NULL,
                    NULL, compressed, out);
}

pa_err pa_device_upgrade_response(pa_device *d, const uint8_t *ct, size_t n,
                                  const uint8_t *mac, size_t mac_len)
{
    uint8_t ctr[16];
    json_t *doc = NULL;
    const char *b64;
    pa_err e = pa_device_open_json(d, PA_DEVICE_PENDING_UPGRADE, ct, n, mac,
                                   mac_len, &doc);

    if (e == PA_OK) {
        b64 = json_string_value(json_object_get(doc, "ctrData"));
        e = b64 ? pa_b64_decode_exact(b64, ctr, sizeof ctr)
                : PA_ERR_INVALID_INPUT_FORMAT;
    }
    pa_device_json_wipe_free(doc);
    if (e != PA_OK)
        return e;
    /* From now on the hash counter signs; the numeric one keeps its value. */
    memcpy(d->ctr_data, ctr, sizeof ctr);
    OPENSSL_cleanse(ctr, sizeof ctr);
    d->has_ctr_data = 1;
    d->version = 3;
    pa_device_pending_clear(d);
    return PA_OK;
}

/* --- recovery code confirmation ---------------------------------------------- */

pa_err pa_device_recovery_confirm_request(pa_device *d, const char *code,
                                          int compressed,
                                          pa_ecies_cryptogram *out)
{
    memset(out, 0, sizeof *out);
    if (code == NULL)
        code = d->recovery_code;
    if (code == NULL)
        return PA_ERR_INVALID_REQUEST;
    return seal_doc(d, PA_DEVICE_PENDING_RECOVERY,
                    PA_ECIES_SH1_RECOVERY_CONFIRM, "recoveryCode", code,
                    compressed, out);
}

pa_err pa_device_recovery_confirm_response(pa_device *d, const uint8_t *ct,
                                           size_t n, const uint8_t *mac,
                                           size_t mac_len,
                                           int *already_confirmed)
{
    json_t *doc = NULL, *v;
    pa_err e = pa_device_open_json(d, PA_DEVICE_PENDING_RECOVERY, ct, n, mac,
                                   mac_len, &doc);

    *already_confirmed = 0;
    if (e == PA_OK) {
        v = json_object_get(doc, "alreadyConfirmed");
        if (json_is_boolean(v))
            *already_confirmed = json_is_true(v);
        else
            e = PA_ERR_INVALID_INPUT_FORMAT;
    }
    pa_device_json_wipe_free(doc);
    if (e == PA_OK)
        pa_device_pending_clear(d);
    return e;
}
