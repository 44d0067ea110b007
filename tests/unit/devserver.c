/*
 * devserver.c - the in-process server of the padevice tests (see
 * devserver.h).  Server-side crypto functions only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/primitives.h"
#include "crypto/recovery.h"
#include "crypto/statusblob.h"
#include "crypto/vault.h"
#include "tests/unit/devserver.h"
#include "util/base64.h"

static pa_err random_b64(char *out, size_t nbytes)
{
    uint8_t b[16];
    pa_err e = pa_random(b, nbytes);

    if (e == PA_OK)
        pa_b64_encode(b, nbytes, out);
    return e;
}

/* A lower-case version-4 UUID (1.5). */
static pa_err random_uuid(char out[40])
{
    uint8_t b[16];
    pa_err e = pa_random(b, sizeof b);

    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, 40,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
             b[10], b[11], b[12], b[13], b[14], b[15]);
    return e;
}

pa_err ds_init(ds_server *s)
{
    pa_err e;

    memset(s, 0, sizeof *s);
    if ((e = pa_ec_generate(&s->master)) != PA_OK
        || (e = pa_ec_generate(&s->server_key)) != PA_OK
        || (e = random_b64(s->app_key, 16)) != PA_OK
        || (e = random_b64(s->app_secret, 16)) != PA_OK
        || (e = pa_code_generate(s->code)) != PA_OK)
        return e;
    return random_uuid(s->activation_id);
}

void ds_free(ds_server *s)
{
    pa_ec_free(s->master);
    pa_ec_free(s->server_key);
    pa_ec_free(s->device_pub);
    json_decref(s->layer2);
    OPENSSL_cleanse(s, sizeof *s);
}

void ds_answer_free(ds_answer *a)
{
    free(a->ct);
    memset(a, 0, sizeof *a);
}

char *ds_master_pub_b64(const ds_server *s)
{
    uint8_t pub[PA_EC_PUB_LEN];
    char *out = NULL;

    if (pa_ec_pub_export(s->master, pub) == PA_OK)
        pa_b64_encode_alloc(pub, sizeof pub, &out);
    return out;
}

pa_err ds_keys(const ds_server *s, pa_derived_keys *k)
{
    return pa_keys_from_pair(s->server_key, s->device_pub, k);
}

static pa_err sig_keys(const ds_server *s, pa_sig_keys *sk)
{
    pa_derived_keys k;
    pa_err e = ds_keys(s, &k);

    memcpy(sk->possession, k.possession, 16);
    memcpy(sk->knowledge, k.knowledge, 16);
    memcpy(sk->biometry, k.biometry, 16);
    pa_keys_wipe(&k);
    return e;
}

/* --- ECIES ------------------------------------------------------------------- */

pa_err ds_open(ds_server *s, int activation_scope, const char *sh1,
               const pa_ecies_request *req, uint8_t **plain, size_t *n)
{
    uint8_t sh2[32];
    pa_derived_keys k;
    pa_err e;

    if (!activation_scope) {
        e = pa_ecies_sh2_application(s->app_secret, sh2);
    } else if ((e = ds_keys(s, &k)) == PA_OK) {
        e = pa_ecies_sh2_activation(k.transport, s->app_secret, sh2);
        pa_keys_wipe(&k);
    }
    if (e != PA_OK)
        return e;
    return pa_ecies_server_decrypt(activation_scope ? s->server_key
                                                    : s->master,
                                   sh1, sh2, sizeof sh2, req, &s->ctx, plain,
                                   n);
}

pa_err ds_reply(ds_server *s, const char *text, ds_answer *a)
{
    memset(a, 0, sizeof *a);
    return pa_ecies_encrypt_response(&s->ctx, (const uint8_t *)text,
                                     strlen(text), &a->ct, &a->ct_len, a->mac);
}

/* Opens a request and parses it as JSON (strict, as Jackson). */
static pa_err open_json(ds_server *s, int activation_scope, const char *sh1,
                        const pa_ecies_request *req, json_t **doc)
{
    uint8_t *plain = NULL;
    size_t n = 0;
    pa_err e = ds_open(s, activation_scope, sh1, req, &plain, &n);

    *doc = NULL;
    if (e == PA_OK && n == 0)
        e = PA_ERR_INVALID_INPUT_FORMAT;
    if (e == PA_OK
        && (*doc = json_loadb((const char *)plain, n, 0, NULL)) == NULL)
        e = PA_ERR_INVALID_INPUT_FORMAT;
    pa_secure_free(plain, n);
    return e;
}

/* --- key exchange, protocol 3 -------------------------------------------------- */

static int only_known_layer2(json_t *doc)
{
    static const char *const known[] = {"devicePublicKey", "activationOtp",
                                        "activationName", "extras",
                                        "platform", "deviceInfo"};
    const char *k;
    json_t *v;

    json_object_foreach(doc, k, v) {
        size_t i = 0;

        while (i < 6 && strcmp(k, known[i]) != 0)
            i++;
        if (i == 6 || !json_is_string(v))
            return 0;
    }
    return 1;
}

static pa_err make_recovery(ds_server *s)
{
    uint8_t secret[16], nonce[32];
    int64_t idx;
    char puks[1][11];
    pa_err e = pa_random(secret, sizeof secret);

    if (e == PA_OK)
        e = pa_recovery_generate(secret, sizeof secret, 1, nonce,
                                 s->recovery_code, &idx, puks);
    if (e == PA_OK)
        memcpy(s->puk, puks[0], sizeof s->puk);
    OPENSSL_cleanse(secret, sizeof secret);
    return e;
}

static pa_err layer2_answer(ds_server *s, ds_answer *a)
{
    uint8_t pub[PA_EC_PUB_LEN];
    char spub[96], ctr[32], rec[96], text[512];
    pa_err e = pa_ec_pub_export(s->server_key, pub);

    if (e != PA_OK)
        return e;
    pa_b64_encode(pub, sizeof pub, spub);
    pa_b64_encode(s->ctr_data, 16, ctr);
    if (s->recovery)
        snprintf(rec, sizeof rec, "{\"recoveryCode\":\"%s\",\"puk\":\"%s\"}",
                 s->recovery_code, s->puk);
    snprintf(text, sizeof text,
             "{\"activationId\":\"%s\",\"serverPublicKey\":\"%s\","
             "\"ctrData\":\"%s\",\"activationRecovery\":%s}",
             s->activation_id, spub, ctr, s->recovery ? rec : "null");
    return ds_reply(s, text, a);
}

pa_err ds_prepare(ds_server *s, const pa_ecies_request *req, int custom,
                  ds_answer *a)
{
    const char *otp, *dev;
    json_t *doc = NULL;
    pa_err e = open_json(s, 0, PA_ECIES_SH1_ACTIVATION, req, &doc);

    memset(a, 0, sizeof *a);
    if (e != PA_OK)
        return e;
    json_decref(s->layer2);
    s->layer2 = doc;
    if (!json_is_object(doc) || !only_known_layer2(doc))
        return PA_ERR_INVALID_INPUT_FORMAT;
    otp = json_string_value(json_object_get(doc, "activationOtp"));
    if (!custom && (s->otp ? otp == NULL || strcmp(otp, s->otp) != 0
                           : otp != NULL))
        return PA_ERR_INVALID_ACTIVATION_OTP;
    dev = json_string_value(json_object_get(doc, "devicePublicKey"));
    pa_ec_free(s->device_pub);
    s->device_pub = NULL;
    if ((e = pa_ec_pub_import_b64(dev ? dev : "", &s->device_pub)) != PA_OK)
        return PA_ERR_ACTIVATION_NOT_FOUND;
    if ((e = pa_random(s->ctr_data, 16)) != PA_OK)
        return e;
    s->has_ctr_data = 1;
    s->version = 3;
    s->counter = 0;
    if (s->recovery && (e = make_recovery(s)) != PA_OK)
        return e;
    return layer2_answer(s, a);
}

/* --- signatures ---------------------------------------------------------------- */

static int verify(ds_server *s, const pa_sig_type *types, size_t ntypes,
                  pa_sig_format f, int mode, const char *data,
                  const char *signature, pa_sig_result *r)
{
    pa_sig_keys k;
    pa_err e = sig_keys(s, &k);

    if (e == PA_OK)
        e = pa_sig_verify(&k, types, ntypes, f, mode == 3, s->counter,
                          s->ctr_data, DS_LOOKAHEAD, (const uint8_t *)data,
                          strlen(data), signature, r);
    OPENSSL_cleanse(&k, sizeof k);
    if (e != PA_OK)
        return -1;
    if (r->valid) {
        if (mode == 3)
            memcpy(s->ctr_data, r->ctr_data_next, 16);
        s->counter = r->ctr_next;
    }
    return r->valid;
}

int ds_verify(ds_server *s, const char *data_string, const char *signature,
              pa_sig_type t, const char *sig_version, int forced_v3,
              int64_t *offset)
{
    int mode = s->version, rc;
    int64_t before = s->counter;
    pa_sig_format f;
    pa_sig_result r;
    char *data = NULL;

    if (forced_v3 && s->version == 2 && s->has_ctr_data)
        mode = 3;
    if (pa_sig_format_for_version(sig_version, &f) != PA_OK
        || pa_sig_data_online(data_string, s->app_secret, &data) != PA_OK)
        return -1;
    rc = verify(s, &t, 1, f, mode, data, signature, &r);
    pa_secure_free(data, strlen(data));
    if (offset != NULL)
        *offset = rc == 1 ? r.matched_pos - before : -1;
    return rc;
}

int ds_verify_offline(ds_server *s, const char *data_string,
                      const char *signature, int allow_biometry,
                      pa_sig_type *used)
{
    const pa_sig_type types[] = {PA_SIG_POSSESSION_KNOWLEDGE,
                                 PA_SIG_POSSESSION_BIOMETRY};
    pa_sig_result r;
    char *data = NULL;
    int rc;

    if (pa_sig_data_offline(data_string, &data) != PA_OK)
        return -1;
    rc = verify(s, types, allow_biometry ? 2 : 1, PA_SIG_FORMAT_DECIMAL,
                s->version, data, signature, &r);
    free(data);
    if (used != NULL)
        *used = r.used_type;
    return rc;
}

/* --- status, tokens, vault, upgrade, recovery ------------------------------------ */

pa_err ds_status(ds_server *s, const uint8_t *challenge, uint8_t nonce[16],
                 uint8_t blob[32])
{
    pa_status_fields f = {.status = 3,
                          .current_version = (uint8_t)s->version,
                          .upgrade_version = 3,
                          .ctr_byte = (uint8_t)(s->counter & 0xff),
                          .failed_attempts = 0,
                          .max_failed_attempts = 5,
                          .ctr_look_ahead = DS_LOOKAHEAD};
    pa_derived_keys k;
    pa_err e = ds_keys(s, &k);

    if (e == PA_OK && s->has_ctr_data)
        e = pa_status_ctr_data_hash(k.transport, s->ctr_data, f.ctr_data_hash);
    if (e == PA_OK)
        e = pa_status_encrypt(k.transport, challenge, &f, nonce, blob);
    pa_keys_wipe(&k);
    return e;
}

static pa_err new_token(ds_server *s, ds_answer *a)
{
    char secret[32], text[160];
    pa_err e = random_uuid(s->token_id);

    if (e == PA_OK)
        e = pa_random(s->token_secret, sizeof s->token_secret);
    if (e != PA_OK)
        return e;
    pa_b64_encode(s->token_secret, 16, secret);
    snprintf(text, sizeof text,
             "{\"tokenId\":\"%s\",\"tokenSecret\":\"%s\",\"expires\":null}",
             s->token_id, secret);
    return ds_reply(s, text, a);
}

pa_err ds_token_create(ds_server *s, const pa_ecies_request *req,
                       ds_answer *a)
{
    uint8_t *plain = NULL;
    size_t n = 0;
    pa_err e = ds_open(s, 1, PA_ECIES_SH1_TOKEN_CREATE, req, &plain, &n);

    memset(a, 0, sizeof *a);
    if (e == PA_OK && n == 0)
        e = PA_ERR_INVALID_INPUT_FORMAT;
    pa_secure_free(plain, n);
    return e == PA_OK ? new_token(s, a) : e;
}

pa_err ds_vault_unlock(ds_server *s, const pa_ecies_request *req,
                       const char *signed_data, const char *signature,
                       pa_sig_type t, const char *sig_version, int *sig_valid,
                       ds_answer *a)
{
    uint8_t key[32];
    char b64[64], text[128];
    const char *reason;
    pa_derived_keys k;
    json_t *doc = NULL;
    pa_err e = open_json(s, 1, PA_ECIES_SH1_VAULT_UNLOCK, req, &doc);

    memset(a, 0, sizeof *a);
    *sig_valid = 0;
    if (e != PA_OK)
        return e;
    reason = json_string_value(json_object_get(doc, "reason"));
    snprintf(s->vault_reason, sizeof s->vault_reason, "%s",
             reason ? reason : "NOT_SPECIFIED");
    json_decref(doc);
    *sig_valid = ds_verify(s, signed_data, signature, t, sig_version, 0,
                           NULL) == 1;
    snprintf(text, sizeof text, "{\"encryptedVaultEncryptionKey\":null}");
    if (*sig_valid && (e = ds_keys(s, &k)) == PA_OK) {
        e = pa_vault_encrypt_key_v3(k.transport, k.vault, key);
        pa_b64_encode(key, sizeof key, b64);
        snprintf(text, sizeof text,
                 "{\"encryptedVaultEncryptionKey\":\"%s\"}", b64);
        pa_keys_wipe(&k);
    }
    return e == PA_OK ? ds_reply(s, text, a) : e;
}

pa_err ds_vault_unlock_v2(ds_server *s, const char *data,
                          const char *signature, pa_sig_type t, int *valid,
                          uint8_t key_out[32])
{
    pa_derived_keys k;
    pa_err e = PA_OK;

    *valid = ds_verify(s, data, signature, t, "2.1", 0, NULL) == 1;
    if (*valid && (e = ds_keys(s, &k)) == PA_OK) {
        e = pa_vault_encrypt_key_v2(k.transport, k.vault, s->counter,
                                    key_out);
        pa_keys_wipe(&k);
    }
    s->counter++; /* even after a failure (14.4) */
    return e;
}

pa_err ds_start_upgrade(ds_server *s, const pa_ecies_request *req,
                        ds_answer *a)
{
    char ctr[32], text[64];
    uint8_t *plain = NULL;
    size_t n = 0;
    pa_err e = ds_open(s, 1, PA_ECIES_SH1_UPGRADE, req, &plain, &n);

    memset(a, 0, sizeof *a);
    pa_secure_free(plain, n);
    if (e == PA_OK && s->version != 2)
        e = PA_ERR_ACTIVATION_INCORRECT_STATE;
    if (e == PA_OK && !s->has_ctr_data) {
        e = pa_random(s->ctr_data, 16);
        s->has_ctr_data = e == PA_OK;
    }
    if (e != PA_OK)
        return e;
    pa_b64_encode(s->ctr_data, 16, ctr);
    snprintf(text, sizeof text, "{\"ctrData\":\"%s\"}", ctr);
    return ds_reply(s, text, a);
}

pa_err ds_confirm_recovery(ds_server *s, const pa_ecies_request *req,
                           ds_answer *a)
{
    const char *code;
    json_t *doc = NULL;
    int already = s->recovery_confirmed;
    pa_err e = open_json(s, 1, PA_ECIES_SH1_RECOVERY_CONFIRM, req, &doc);

    memset(a, 0, sizeof *a);
    if (e != PA_OK)
        return PA_ERR_DECRYPTION_FAILED;
    code = json_string_value(json_object_get(doc, "recoveryCode"));
    if (code == NULL || !pa_code_validate(code)
        || strcmp(code, s->recovery_code) != 0)
        e = PA_ERR_INVALID_REQUEST;
    json_decref(doc);
    if (e != PA_OK)
        return e;
    s->recovery_confirmed = 1;
    return ds_reply(s, already ? "{\"alreadyConfirmed\":true}"
                               : "{\"alreadyConfirmed\":false}",
                    a);
}

/* --- protocol 2 ------------------------------------------------------------------- */

pa_err ds_v2_prepare(ds_server *s, const char *id, const char *otp,
                     const uint8_t nonce[16], const uint8_t *c, size_t n,
                     const uint8_t *eph, size_t eph_len, const uint8_t *sig,
                     size_t sig_len, ds_v2_answer *out)
{
    uint8_t kotp[16];
    pa_eckey *client_eph = NULL, *eph2 = NULL, *dev = NULL;
    int valid = 0;
    pa_err e = pa_v2_verify_application_signature(id, nonce, c, n, s->app_key,
                                                  s->app_secret, sig, sig_len,
                                                  &valid);

    memset(out, 0, sizeof *out);
    if (e == PA_OK && !valid)
        e = PA_ERR_ACTIVATION_EXPIRED;
    if (e == PA_OK)
        e = pa_ec_pub_import(eph, eph_len, &client_eph);
    if (e == PA_OK)
        e = pa_v2_otp_key(otp, id, kotp);
    if (e == PA_OK)
        e = pa_v2_decrypt_device_public_key(s->master, client_eph, kotp, nonce,
                                            c, n, &dev);
    if (e == PA_OK)
        e = pa_random(out->nonce, sizeof out->nonce);
    if (e == PA_OK)
        e = pa_ec_generate(&eph2);
    if (e == PA_OK)
        e = pa_v2_encrypt_server_public_key(eph2, dev, kotp, out->nonce,
                                            s->server_key, out->c);
    if (e == PA_OK)
        e = pa_ec_pub_export(eph2, out->eph);
    if (e == PA_OK)
        e = pa_v2_sign_server_data(s->master, s->activation_id, out->c,
                                   sizeof out->c, out->sig, &out->sig_len);
    if (e == PA_OK) {
        pa_ec_free(s->device_pub);
        s->device_pub = dev;
        dev = NULL;
        s->version = 2;
        s->counter = 0;
        s->has_ctr_data = 0;
    }
    OPENSSL_cleanse(kotp, sizeof kotp);
    pa_ec_free(client_eph);
    pa_ec_free(eph2);
    pa_ec_free(dev);
    return e;
}

pa_err ds_v2_token(ds_server *s, const uint8_t *ephb, size_t len,
                   ds_answer *a)
{
    pa_err e = pa_ecies_v2_token_context(s->master, ephb, len, &s->ctx);

    memset(a, 0, sizeof *a);
    return e == PA_OK ? new_token(s, a) : e;
}
