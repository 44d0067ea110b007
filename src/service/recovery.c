/*
 * recovery.c - activation recovery: codes bound to an activation (CRYPTO.md
 * 12.2), the recovery postcard CreateRecoveryCode (12.3) and
 * ConfirmRecoveryCode (12.4); DATABASE.md 5.8, 5.9.
 *
 * The pattern of token.c: every check and all the cryptography (ECDH, the
 * derivation, the Argon2 hashes of the PUKs, record encryption, ECIES) run
 * on the caller's thread, then one unit of group commit (pa_act_write)
 * re-checks what may have changed meanwhile and writes.  The exception is
 * pa_recovery_issue_bound, which runs inside the key exchange's own unit
 * and hashes its single PUK there (recovery.h).
 *
 * Nothing here logs a recovery code, PUK, nonce, derivation index or key;
 * secrets are wiped before their memory is released.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/codes.h"
#include "crypto/ecies.h"
#include "crypto/eckey.h"
#include "crypto/keys.h"
#include "crypto/password.h"
#include "crypto/primitives.h"
#include "crypto/recordenc.h"
#include "crypto/recovery.h"
#include "service/activation_internal.h"
#include "service/recovery.h"
#include "util/base64.h"
#include "util/log.h"
#include "util/timeutil.h"

#define OP_CREATE "CreateRecoveryCode"
#define OP_CONFIRM "ConfirmRecoveryCode"
#define OP_BOUND "RecoveryCode"

/* ---- helpers ------------------------------------------------------------------ */

static const uint8_t *master_key(const pa_config *c)
{
    return c->master_db_encryption_key_set ? c->master_db_encryption_key : NULL;
}

static size_t master_len(const pa_config *c)
{
    return c->master_db_encryption_key_set ? sizeof c->master_db_encryption_key
                                           : 0;
}

static void wipe_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

/* The PUK rows of a new code: the Argon2 hash of each PUK, record-encrypted
 * when the master key is set (16.3: index applicationId&userId&code&i).
 * puks[k] gets pukIndex k + 1, status VALID.  On failure everything
 * allocated is released. */
static pa_err make_puk_rows(const pa_config *cfg, int64_t application_id,
                            const char *user_id, const char *code,
                            char (*puk_text)[11], size_t n,
                            pa_store_recovery_puk *rows)
{
    size_t k;
    pa_err e = PA_OK;

    memset(rows, 0, n * sizeof *rows);
    for (k = 0; k < n && e == PA_OK; k++) {
        char *hash = NULL;
        pa_record_mode mode = PA_RECORD_NO_ENCRYPTION;

        e = pa_password_hash((const uint8_t *)puk_text[k], strlen(puk_text[k]),
                             &hash);
        if (e != PA_OK)
            break;
        e = pa_record_write_puk(master_key(cfg), master_len(cfg), application_id,
                                user_id, code, (int64_t)(k + 1), hash, &mode,
                                &rows[k].puk);
        wipe_free(hash);
        rows[k].puk_encryption = (int)mode;
        rows[k].puk_index = (int64_t)(k + 1);
        rows[k].status = PA_PUK_VALID;
    }
    if (e != PA_OK)
        for (k = 0; k < n; k++) {
            wipe_free(rows[k].puk);
            rows[k].puk = NULL;
        }
    return e;
}

static void free_puk_rows(pa_store_recovery_puk *rows, size_t n)
{
    size_t k;

    for (k = 0; rows && k < n; k++)
        wipe_free(rows[k].puk);
}

/* ---- inside a unit: codes bound to an activation (12.2) ------------------------ */

pa_err pa_recovery_enabled(pa_store *s, int64_t application_id, int *enabled)
{
    pa_store_recovery_config c;
    int found = 0;
    pa_err e;

    *enabled = 0;
    e = pa_store_recovery_config_get(s, application_id, &c, &found);
    if (e != PA_OK)
        return pa_act_store_failed(OP_BOUND, e);
    *enabled = found && c.activation_recovery_enabled;
    pa_store_recovery_config_free(&c);
    return PA_OK;
}

/* 1 when some code of the list is CREATED or ACTIVE. */
static int any_live(const pa_store_recovery_code_array *arr)
{
    size_t i;

    for (i = 0; i < arr->count; i++)
        if (arr->items[i].status == PA_RC_CREATED
            || arr->items[i].status == PA_RC_ACTIVE)
            return 1;
    return 0;
}

/* A fresh code with one PUK that is unused in the application (5.9):
 * ERR0026 after the configured attempts. */
static pa_err bound_generate(const pa_act_env *env, int64_t application_id,
                             char code[PA_CODE_BUF], char puk[11])
{
    uint8_t secret[16], nonce[PA_RECOVERY_NONCE_LEN];
    int64_t idx = 0;
    int i, exists = 1;
    pa_err e = PA_OK;

    for (i = 0; i < env->cfg->generate_recovery_code_iterations && exists; i++) {
        char (*p)[11] = (char (*)[11])puk;

        if ((e = pa_random(secret, sizeof secret)) != PA_OK
            || (e = pa_recovery_generate(secret, sizeof secret, 1, nonce, code,
                                         &idx, p)) != PA_OK)
            break;
        e = pa_store_recovery_code_exists(env->store, application_id, code,
                                          &exists);
        if (e != PA_OK) {
            e = pa_act_store_failed(OP_BOUND, e);
            break;
        }
    }
    OPENSSL_cleanse(secret, sizeof secret);
    OPENSSL_cleanse(nonce, sizeof nonce);
    OPENSSL_cleanse(&idx, sizeof idx);
    if (e == PA_OK && exists)
        e = PA_ERR_UNABLE_TO_GENERATE_RECOVERY_CODE;
    if (e != PA_OK) {
        OPENSSL_cleanse(code, PA_CODE_BUF);
        OPENSSL_cleanse(puk, 11);
    }
    return e;
}

pa_err pa_recovery_issue_bound(const pa_act_env *env,
                               const pa_store_activation *a,
                               json_t **activation_recovery)
{
    pa_store_recovery_code_array arr;
    pa_store_recovery_code c;
    pa_store_recovery_puk row;
    char code[PA_CODE_BUF], puk[1][11];
    int64_t id = 0;
    json_t *o = NULL;
    pa_err e;

    *activation_recovery = NULL;
    memset(&arr, 0, sizeof arr);
    memset(&row, 0, sizeof row);
    memset(code, 0, sizeof code);
    memset(puk, 0, sizeof puk);
    if (!a || !a->activation_id || !a->user_id)
        return PA_ERR_INVALID_REQUEST;
    /* 12.2 step 1. */
    if (a->status != PA_STATUS_PENDING_COMMIT && a->status != PA_STATUS_ACTIVE)
        return PA_ERR_ACTIVATION_INCORRECT_STATE;
    e = pa_store_recovery_codes_of_activation(env->store, a->activation_id, &arr);
    if (e != PA_OK)
        return pa_act_store_failed(OP_BOUND, e);
    if (any_live(&arr))
        e = PA_ERR_RECOVERY_CODE_ALREADY_EXISTS;
    pa_store_recovery_code_array_free(&arr);
    if (e != PA_OK)
        return e;
    /* Steps 2-4. */
    if ((e = bound_generate(env, a->application_id, code, puk[0])) != PA_OK)
        return e;
    e = make_puk_rows(env->cfg, a->application_id, a->user_id, code, puk, 1,
                      &row);
    if (e == PA_OK) {
        memset(&c, 0, sizeof c);
        c.recovery_code = code;
        c.application_id = a->application_id;
        c.user_id = a->user_id;
        c.activation_id = a->activation_id;
        c.status = a->status == PA_STATUS_ACTIVE ? PA_RC_ACTIVE : PA_RC_CREATED;
        c.failed_attempts = 0;
        c.max_failed_attempts = env->cfg->recovery_max_failed_attempts;
        c.created_ms = pa_time_now_ms();
        c.puks = &row;
        c.puk_count = 1;
        e = pa_act_store_failed(OP_BOUND,
                                pa_store_recovery_code_insert(env->store, &c, &id));
        free_puk_rows(&row, 1);
    }
    /* Step 5. */
    if (e == PA_OK) {
        o = json_pack("{s:s, s:s}", "recoveryCode", code, "puk", puk[0]);
        if (!o)
            e = PA_ERR_UNKNOWN_ERROR;
    }
    OPENSSL_cleanse(code, sizeof code);
    OPENSSL_cleanse(puk, sizeof puk);
    *activation_recovery = o;
    return e;
}

pa_err pa_recovery_activate_bound(pa_store *s, const char *activation_id,
                                  int64_t now_ms)
{
    pa_store_recovery_code_array arr;
    size_t i;
    int found = 0;
    pa_err e;

    memset(&arr, 0, sizeof arr);
    if (!activation_id)
        return PA_ERR_INVALID_REQUEST;
    e = pa_store_recovery_codes_of_activation(s, activation_id, &arr);
    for (i = 0; e == PA_OK && i < arr.count; i++) {
        pa_store_recovery_code *c = &arr.items[i];

        if (c->status != PA_RC_CREATED)
            continue;
        c->status = PA_RC_ACTIVE;
        c->last_change_ms = now_ms;
        c->has_last_change = 1;
        e = pa_store_recovery_code_update(s, c, &found);
    }
    pa_store_recovery_code_array_free(&arr);
    return pa_act_store_failed(OP_BOUND, e);
}

pa_err pa_recovery_revoke_code(pa_store *s, pa_store_recovery_code *c,
                               int64_t now_ms, int *changed)
{
    size_t k;
    int found = 0;
    pa_err e;

    *changed = 0;
    /* An unknown stored number reads as REVOKED (DATABASE.md 3). */
    if (c->status < PA_RC_CREATED || c->status >= PA_RC_REVOKED)
        return PA_OK;
    c->status = PA_RC_REVOKED;
    c->last_change_ms = now_ms;
    c->has_last_change = 1;
    if ((e = pa_store_recovery_code_update(s, c, &found)) != PA_OK)
        return e;
    for (k = 0; k < c->puk_count; k++) {
        pa_store_recovery_puk *p = &c->puks[k];

        if (p->status != PA_PUK_VALID)
            continue;
        p->status = PA_PUK_INVALID;
        p->last_change_ms = now_ms;
        p->has_last_change = 1;
        if ((e = pa_store_recovery_puk_update(s, p, &found)) != PA_OK)
            return e;
    }
    *changed = 1;
    return PA_OK;
}

pa_err pa_recovery_revoke_bound(pa_store *s, const char *activation_id,
                                int64_t now_ms)
{
    pa_store_recovery_code_array arr;
    size_t i;
    int changed = 0;
    pa_err e;

    memset(&arr, 0, sizeof arr);
    if (!activation_id)
        return PA_ERR_INVALID_REQUEST;
    e = pa_store_recovery_codes_of_activation(s, activation_id, &arr);
    for (i = 0; e == PA_OK && i < arr.count; i++)
        e = pa_recovery_revoke_code(s, &arr.items[i], now_ms, &changed);
    pa_store_recovery_code_array_free(&arr);
    return pa_act_store_failed(OP_BOUND, e);
}

/* ---- CreateRecoveryCode (12.3) --------------------------------------------------- */

void pa_recovery_postcard_res_free(pa_recovery_postcard_res *r)
{
    if (!r)
        return;
    wipe_free(r->nonce);
    free(r->user_id);
    if (r->derivation_indexes) {
        OPENSSL_cleanse(r->derivation_indexes,
                        r->puk_count * sizeof *r->derivation_indexes);
        free(r->derivation_indexes);
    }
    memset(r, 0, sizeof *r);
}

/* The configuration checks of step 1 (also re-run inside the unit). */
static pa_err postcard_check(pa_store *s, int64_t application_id,
                             const char *user_id, pa_store_recovery_config *cfg)
{
    pa_store_application app;
    int64_t live = 0;
    int found = 0;
    pa_err e;

    memset(cfg, 0, sizeof *cfg);
    if ((e = pa_store_application_get(s, application_id, &app, &found)) != PA_OK)
        return pa_act_store_failed(OP_CREATE, e);
    pa_store_application_free(&app);
    if (!found)
        return PA_ERR_INVALID_REQUEST;
    e = pa_store_recovery_config_get(s, application_id, cfg, &found);
    if (e != PA_OK)
        return pa_act_store_failed(OP_CREATE, e);
    if (!found || !cfg->activation_recovery_enabled
        || !cfg->recovery_postcard_enabled)
        return PA_ERR_INVALID_REQUEST;
    if (!cfg->postcard_private_key || !cfg->postcard_private_key[0]
        || !cfg->remote_public_key || !cfg->remote_public_key[0])
        return PA_ERR_INVALID_RECOVERY_CONFIGURATION;
    if (!cfg->allow_multiple_recovery_codes) {
        e = pa_store_recovery_postcard_live_count(s, application_id, user_id,
                                                  &live);
        if (e != PA_OK)
            return pa_act_store_failed(OP_CREATE, e);
        if (live > 0)
            return PA_ERR_RECOVERY_CODE_ALREADY_EXISTS;
    }
    return PA_OK;
}

/* RPPS_MASTER_SHARED_SECRET (12.3 step 2). */
static pa_err postcard_secret(const pa_store_recovery_config *cfg,
                              uint8_t out[32])
{
    pa_eckey *priv = NULL, *remote = NULL;
    pa_err e;

    if (pa_ec_priv_import_b64(cfg->postcard_private_key, &priv) != PA_OK
        || pa_ec_pub_import_b64(cfg->remote_public_key, &remote) != PA_OK)
        e = PA_ERR_INVALID_KEY_FORMAT;
    else
        e = pa_recovery_postcard_secret(priv, remote, out);
    pa_ec_free(priv);
    pa_ec_free(remote);
    return e;
}

typedef struct postcard_unit {
    const char *private_key;      /* the key the secret was computed with */
    pa_store_recovery_code *c;
    int64_t id;
} postcard_unit;

static pa_err postcard_tx(const pa_act_env *env, void *arg, int *keep,
                          int *queued)
{
    postcard_unit *u = arg;
    pa_store_recovery_config cfg;
    int exists = 0;
    pa_err e;

    (void)keep;
    (void)queued;
    /* The configuration may have changed since it was read. */
    e = postcard_check(env->store, u->c->application_id, u->c->user_id, &cfg);
    if (e == PA_OK && strcmp(cfg.postcard_private_key, u->private_key) != 0)
        e = PA_ERR_INVALID_RECOVERY_CONFIGURATION;
    pa_store_recovery_config_free(&cfg);
    if (e != PA_OK)
        return e;
    e = pa_store_recovery_code_exists(env->store, u->c->application_id,
                                      u->c->recovery_code, &exists);
    if (e != PA_OK)
        return e;
    if (exists)
        return PA_ERR_UNABLE_TO_GENERATE_RECOVERY_CODE;   /* collision: retry */
    return pa_store_recovery_code_insert(env->store, u->c, &u->id);
}

/* One attempt of steps 3-4 with the secret S: PA_ERR_UNABLE_TO_GENERATE_
 * RECOVERY_CODE when the code drawn is taken (the caller retries). */
static pa_err postcard_attempt(const pa_act_env *env, const uint8_t s[32],
                               const pa_store_recovery_config *cfg,
                               int64_t application_id, const char *user_id,
                               size_t n, pa_recovery_postcard_res *res)
{
    uint8_t nonce[PA_RECOVERY_NONCE_LEN];
    char code[PA_CODE_BUF];
    char (*puks)[11] = calloc(n, sizeof *puks);
    int64_t *idx = calloc(n, sizeof *idx);
    pa_store_recovery_puk *rows = calloc(n, sizeof *rows);
    pa_store_recovery_code c;
    postcard_unit u;
    int exists = 0;
    pa_err e;

    memset(code, 0, sizeof code);
    memset(nonce, 0, sizeof nonce);
    if (!puks || !idx || !rows) {
        e = PA_ERR_UNKNOWN_ERROR;
        goto out;
    }
    e = pa_recovery_generate(s, 32, (unsigned)n, nonce, code, idx, puks);
    if (e != PA_OK)
        goto out;
    /* A taken code is known before the expensive hashing. */
    e = pa_store_recovery_code_exists(env->store, application_id, code, &exists);
    if (e != PA_OK) {
        e = pa_act_store_failed(OP_CREATE, e);
        goto out;
    }
    if (exists) {
        e = PA_ERR_UNABLE_TO_GENERATE_RECOVERY_CODE;
        goto out;
    }
    /* Step 4: N Argon2 hashes, on this thread, before the write. */
    e = make_puk_rows(env->cfg, application_id, user_id, code, puks, n, rows);
    if (e != PA_OK)
        goto out;
    memset(&c, 0, sizeof c);
    c.recovery_code = code;
    c.application_id = application_id;
    c.user_id = (char *)user_id;
    c.activation_id = NULL;
    c.status = PA_RC_CREATED;
    c.max_failed_attempts = env->cfg->recovery_max_failed_attempts;
    c.created_ms = pa_time_now_ms();
    c.puks = rows;
    c.puk_count = n;
    u.private_key = cfg->postcard_private_key;
    u.c = &c;
    u.id = 0;
    e = pa_act_write(env, OP_CREATE, postcard_tx, &u);
    free_puk_rows(rows, n);
    if (e != PA_OK)
        goto out;
    /* Step 5. */
    res->recovery_code_id = u.id;
    res->status = PA_RC_CREATED;
    pa_code_mask(code, res->recovery_code_masked);
    res->puk_count = n;
    res->derivation_indexes = idx;
    idx = NULL;
    if (pa_b64_encode_alloc(nonce, sizeof nonce, &res->nonce) != PA_OK
        || !(res->user_id = strdup(user_id)))
        e = PA_ERR_UNKNOWN_ERROR;
out:
    OPENSSL_cleanse(nonce, sizeof nonce);
    OPENSSL_cleanse(code, sizeof code);
    if (puks) {
        OPENSSL_cleanse(puks, n * sizeof *puks);
        free(puks);
    }
    if (idx) {
        OPENSSL_cleanse(idx, n * sizeof *idx);
        free(idx);
    }
    free(rows);
    return e;
}

pa_err pa_recovery_postcard_create(const pa_act_env *env,
                                   int64_t application_id,
                                   const char *user_id, int64_t puk_count,
                                   pa_recovery_postcard_res *res)
{
    pa_store_recovery_config cfg;
    uint8_t s[32];
    int i;
    pa_err e;

    memset(res, 0, sizeof *res);
    memset(s, 0, sizeof s);
    if (!user_id || !user_id[0] || puk_count < 1
        || puk_count > PA_RECOVERY_MAX_PUKS)
        return PA_ERR_INVALID_REQUEST;
    e = postcard_check(env->store, application_id, user_id, &cfg);
    if (e == PA_OK)
        e = postcard_secret(&cfg, s);
    /* Steps 3-5, retried while the code drawn is taken (5.9). */
    if (e == PA_OK)
        e = PA_ERR_UNABLE_TO_GENERATE_RECOVERY_CODE;
    for (i = 0; i < env->cfg->generate_recovery_code_iterations
                && e == PA_ERR_UNABLE_TO_GENERATE_RECOVERY_CODE; i++) {
        pa_recovery_postcard_res_free(res);
        e = postcard_attempt(env, s, &cfg, application_id, user_id,
                             (size_t)puk_count, res);
    }
    OPENSSL_cleanse(s, sizeof s);
    pa_store_recovery_config_free(&cfg);
    if (e != PA_OK)
        pa_recovery_postcard_res_free(res);
    return e;
}

/* ---- ConfirmRecoveryCode (12.4) ----------------------------------------------------- */

void pa_recovery_confirm_res_free(pa_recovery_confirm_res *r)
{
    if (!r)
        return;
    free(r->activation_id);
    free(r->user_id);
    free(r->encrypted_data);
    free(r->mac);
    memset(r, 0, sizeof *r);
}

/* {"recoveryCode":"..."} and nothing else: *code malloc'ed, NULL when the
 * property is missing or null.  Unparsable JSON, another property or a
 * non-string value: ERR0018. */
static pa_err parse_confirm(const uint8_t *plain, size_t n, char **code)
{
    json_error_t err;
    json_t *o, *v;
    const char *k;
    pa_err e = PA_OK;

    *code = NULL;
    o = json_loadb((const char *)plain, n, JSON_REJECT_DUPLICATES, &err);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return PA_ERR_DECRYPTION_FAILED;
    }
    json_object_foreach(o, k, v) {
        if (strcmp(k, "recoveryCode") != 0)
            e = PA_ERR_DECRYPTION_FAILED;
        else if (json_is_string(v))
            *code = strdup(json_string_value(v));
        else if (!json_is_null(v))
            e = PA_ERR_DECRYPTION_FAILED;
    }
    json_decref(o);
    if (e != PA_OK) {
        wipe_free(*code);
        *code = NULL;
    }
    return e;
}

typedef struct confirm_unit {
    const char *activation_id;
    int64_t application_id;       /* of the applicationKey */
    const char *code;
    int already;
} confirm_unit;

static pa_err confirm_tx(const pa_act_env *env, void *arg, int *keep,
                         int *queued)
{
    confirm_unit *u = arg;
    pa_store_activation a;
    pa_store_recovery_code c;
    int found = 0;
    pa_err e;

    (void)keep;
    (void)queued;
    memset(&c, 0, sizeof c);
    if ((e = pa_act_load(env->store, OP_CONFIRM, u->activation_id, &a)) != PA_OK)
        return e;
    if (a.status != PA_STATUS_ACTIVE) {
        e = PA_ERR_ACTIVATION_INCORRECT_STATE;
        goto out;
    }
    /* Step 4. */
    e = pa_store_recovery_code_find(env->store, u->application_id, u->code, &c,
                                    &found);
    if (e != PA_OK)
        goto out;
    if (!found) {
        e = PA_ERR_RECOVERY_CODE_NOT_FOUND;
        goto out;
    }
    if (!c.user_id || !a.user_id || strcmp(c.user_id, a.user_id) != 0
        || (c.status != PA_RC_CREATED && c.status != PA_RC_ACTIVE)) {
        e = PA_ERR_INVALID_REQUEST;
        goto out;
    }
    /* Steps 5-6. */
    u->already = c.status == PA_RC_ACTIVE;
    if (!u->already) {
        c.status = PA_RC_ACTIVE;
        c.last_change_ms = pa_time_now_ms();
        c.has_last_change = 1;
        e = pa_store_recovery_code_update(env->store, &c, &found);
    }
out:
    pa_store_recovery_code_free(&c);
    pa_store_activation_free(&a);
    return e;
}

pa_err pa_recovery_confirm(const pa_act_env *env,
                           const pa_recovery_confirm_req *req,
                           pa_recovery_confirm_res *res)
{
    pa_store_activation a;
    pa_store_version v;
    pa_ecies_ctx ctx;
    uint8_t *plain = NULL;
    size_t n = 0;
    char *code = NULL, *data[2] = {NULL, NULL}, *mac[2] = {NULL, NULL};
    confirm_unit u;
    int found = 0, enabled = 0, k;
    pa_err e;

    memset(res, 0, sizeof *res);
    memset(&a, 0, sizeof a);
    memset(&v, 0, sizeof v);
    memset(&ctx, 0, sizeof ctx);
    if (!req->activation_id || !req->application_key
        || !req->c.ephemeral_public_key || !req->c.encrypted_data || !req->c.mac)
        return PA_ERR_INVALID_REQUEST;
    /* Step 1. */
    if ((e = pa_act_load(env->store, OP_CONFIRM, req->activation_id, &a)) != PA_OK)
        goto out;
    if ((e = pa_recovery_enabled(env->store, a.application_id, &enabled)) != PA_OK)
        goto out;
    if (!enabled) {
        e = PA_ERR_INVALID_REQUEST;
        goto out;
    }
    if (a.status != PA_STATUS_ACTIVE) {
        e = PA_ERR_ACTIVATION_INCORRECT_STATE;
        goto out;
    }
    e = pa_store_version_get_by_key(env->store, req->application_key, &v, &found);
    if (e != PA_OK) {
        e = pa_act_store_failed(OP_CONFIRM, e);
        goto out;
    }
    if (!found || !v.application_secret) {
        e = PA_ERR_INVALID_APPLICATION;
        goto out;
    }
    /* Step 2: ECIES, activation scope. */
    if ((e = pa_act_ecies_open_activation(env, &a, v.application_secret,
                                          PA_ECIES_SH1_RECOVERY_CONFIRM,
                                          &req->c, &ctx, &plain, &n, NULL))
        != PA_OK)
        goto out;
    /* Step 3. */
    if ((e = parse_confirm(plain, n, &code)) != PA_OK)
        goto out;
    if (!code || !code[0] || !pa_code_validate(code)) {
        e = PA_ERR_INVALID_REQUEST;
        goto out;
    }
    /* Both possible answers sealed before the write (only one is sent). */
    for (k = 0; k < 2; k++)
        if ((e = pa_act_ecies_seal(&ctx,
                                   k ? "{\"alreadyConfirmed\":true}"
                                     : "{\"alreadyConfirmed\":false}",
                                   &data[k], &mac[k])) != PA_OK)
            goto out;
    /* Steps 4-6. */
    u.activation_id = a.activation_id;
    u.application_id = v.application_id;
    u.code = code;
    u.already = 0;
    if ((e = pa_act_write(env, OP_CONFIRM, confirm_tx, &u)) != PA_OK)
        goto out;
    k = u.already ? 1 : 0;
    res->already_confirmed = u.already;
    res->encrypted_data = data[k];
    res->mac = mac[k];
    data[k] = mac[k] = NULL;
    if (!(res->activation_id = strdup(a.activation_id))
        || !(res->user_id = strdup(a.user_id ? a.user_id : "")))
        e = PA_ERR_UNKNOWN_ERROR;
out:
    for (k = 0; k < 2; k++) {
        free(data[k]);
        free(mac[k]);
    }
    wipe_free(code);
    if (plain)
        pa_secure_free(plain, n);
    pa_ecies_ctx_wipe(&ctx);
    pa_store_version_free(&v);
    pa_store_activation_free(&a);
    if (e != PA_OK)
        pa_recovery_confirm_res_free(res);
    return e;
}
