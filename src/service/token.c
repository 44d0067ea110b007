/*
 * token.c - MAC tokens, protocol 3: CreateToken, ValidateToken,
 * RemoveToken (CRYPTO.md 4.1, 5.4-5.7, 5.11, 10; DATABASE.md 5.7, 5.9).
 *
 * CreateToken: the checks and the whole ECIES exchange (ECDH, decryption,
 * encryption of the answer) run on the caller's thread with the row read
 * without a lock, as the original reads it; then one unit of group commit
 * re-reads the activation (still ACTIVE, else ERR0008), checks that the
 * new token id is unused and inserts the row.  An id found taken there is
 * a collision: a new id and secret are drawn and the answer encrypted
 * again, up to generate_token_id_iterations attempts in all (ERR0019).
 *
 * ValidateToken reads the token with its activation in one statement and
 * writes nothing to the database.  The replay check comes last, after the
 * digest is known to be valid, so only the token's holder can add pairs.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/ecies.h"
#include "crypto/keys.h"
#include "crypto/primitives.h"
#include "crypto/signature.h"
#include "crypto/token.h"
#include "service/activation_internal.h"
#include "service/replay.h"
#include "service/token.h"
#include "util/base64.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/uuid.h"

#define OP_CREATE "CreateToken"
#define OP_VALIDATE "ValidateToken"
#define OP_REMOVE "RemoveToken"

/* A full replay cache is reported at most this often. */
#define FULL_WARN_INTERVAL_MS 60000

/* ---- CreateToken ------------------------------------------------------------------ */

void pa_token_create_res_free(pa_token_create_res *r)
{
    if (!r)
        return;
    free(r->encrypted_data);
    free(r->mac);
    memset(r, 0, sizeof *r);
}

typedef struct create_unit {
    const pa_store_token *t;
} create_unit;

/* Inside the write: the activation is still ACTIVE and the id unused. */
static pa_err create_tx(const pa_act_env *env, void *arg, int *keep,
                        int *queued)
{
    create_unit *u = arg;
    pa_store_activation a;
    int exists = 0;
    pa_err e = pa_act_load(env->store, OP_CREATE, u->t->activation_id, &a);

    (void)keep;
    (void)queued;
    if (e == PA_OK && a.status != PA_STATUS_ACTIVE)
        e = PA_ERR_ACTIVATION_INCORRECT_STATE;
    pa_store_activation_free(&a);
    if (e != PA_OK)
        return e;
    if ((e = pa_store_token_exists(env->store, u->t->token_id, &exists)) != PA_OK)
        return e;
    if (exists)
        return PA_ERR_UNABLE_TO_GENERATE_TOKEN;   /* collision: retry */
    e = pa_store_token_insert(env->store, u->t);
    /* A duplicate primary key is a collision too. */
    return e == PA_ERR_INVALID_REQUEST ? PA_ERR_UNABLE_TO_GENERATE_TOKEN : e;
}

/* One attempt: new id and secret, the answer encrypted, the row written.
 * PA_ERR_UNABLE_TO_GENERATE_TOKEN when the id was taken. */
static pa_err create_attempt(const pa_act_env *env, const char *activation_id,
                             const char *type_name, const pa_ecies_ctx *ctx,
                             pa_token_create_res *res)
{
    uint8_t secret[PA_TOKEN_SECRET_LEN];
    char id[PA_UUID_BUF], secret_b64[PA_B64_ENCLEN(PA_TOKEN_SECRET_LEN) + 1];
    char plain[160];
    pa_store_token t;
    create_unit u;
    pa_err e;

    if ((e = pa_uuid_v4(id)) != PA_OK || (e = pa_random(secret, sizeof secret)) != PA_OK)
        return e;
    pa_b64_encode(secret, sizeof secret, secret_b64);
    OPENSSL_cleanse(secret, sizeof secret);
    /* 10.1 step 5, exactly this shape (compact, this order, null). */
    snprintf(plain, sizeof plain,
             "{\"tokenId\":\"%s\",\"tokenSecret\":\"%s\",\"expires\":null}", id,
             secret_b64);
    e = pa_act_ecies_seal(ctx, plain, &res->encrypted_data, &res->mac);
    OPENSSL_cleanse(plain, sizeof plain);
    if (e == PA_OK) {
        memset(&t, 0, sizeof t);
        t.token_id = id;
        t.token_secret = secret_b64;
        t.activation_id = (char *)activation_id;
        t.signature_type = (char *)type_name;
        t.created_ms = pa_time_now_ms();
        u.t = &t;
        e = pa_act_write(env, OP_CREATE, create_tx, &u);
    }
    OPENSSL_cleanse(secret_b64, sizeof secret_b64);
    if (e != PA_OK)
        pa_token_create_res_free(res);
    return e;
}

pa_err pa_token_issue(const pa_act_env *env, const char *activation_id,
                      const char *type_name, const pa_ecies_ctx *ctx,
                      pa_token_create_res *res)
{
    pa_err e = PA_ERR_UNABLE_TO_GENERATE_TOKEN;
    int i;

    memset(res, 0, sizeof *res);
    /* Steps 4-7, retried on an id collision (4.1, DATABASE.md 5.9). */
    for (i = 0; i < env->cfg->generate_token_id_iterations
                && e == PA_ERR_UNABLE_TO_GENERATE_TOKEN; i++)
        e = create_attempt(env, activation_id, type_name, ctx, res);
    return e;
}

pa_err pa_token_create(const pa_act_env *env, const pa_token_create_req *req,
                       pa_token_create_res *res)
{
    pa_store_activation a;
    pa_store_version v;
    pa_ecies_ctx ctx;
    pa_sig_type type;
    uint8_t *plain = NULL;
    size_t n = 0;
    int found = 0;
    pa_err e;

    memset(res, 0, sizeof *res);
    memset(&a, 0, sizeof a);
    memset(&v, 0, sizeof v);
    memset(&ctx, 0, sizeof ctx);
    if (!req->activation_id || !req->application_key
        || !req->c.ephemeral_public_key || !req->c.encrypted_data || !req->c.mac
        || !req->signature_type
        || pa_sig_type_parse(req->signature_type, &type) != PA_OK)
        return PA_ERR_INVALID_REQUEST;
    /* 10.1 step 1: the activation, then the application version. */
    if ((e = pa_act_load(env->store, OP_CREATE, req->activation_id, &a)) != PA_OK)
        goto out;
    if (a.status != PA_STATUS_ACTIVE) {
        e = PA_ERR_ACTIVATION_INCORRECT_STATE;
        goto out;
    }
    e = pa_store_version_get_by_key(env->store, req->application_key, &v, &found);
    if (e != PA_OK) {
        e = pa_act_store_failed(OP_CREATE, e);
        goto out;
    }
    /* Unsupported versions pass, as in the original; another application's
     * key does not (5.7). */
    if (!found || !v.application_secret || v.application_id != a.application_id) {
        e = PA_ERR_INVALID_APPLICATION;
        goto out;
    }
    /* Steps 2-3: ECIES activation scope. */
    if ((e = pa_act_ecies_open_activation(env, &a, v.application_secret,
                                          PA_ECIES_SH1_TOKEN_CREATE, &req->c,
                                          &ctx, &plain, &n, NULL)) != PA_OK)
        goto out;
    if (n == 0) {
        e = PA_ERR_INVALID_INPUT_FORMAT;
        goto out;
    }
    e = pa_token_issue(env, a.activation_id, pa_sig_type_name(type), &ctx, res);
out:
    if (plain)
        pa_secure_free(plain, n);
    pa_ecies_ctx_wipe(&ctx);
    pa_store_version_free(&v);
    pa_store_activation_free(&a);
    if (e != PA_OK)
        pa_token_create_res_free(res);
    return e;
}

/* ---- ValidateToken ------------------------------------------------------------------ */

static _Atomic int64_t full_warned_ms;     /* 0: never */
static atomic_llong full_refused;          /* refusals since the warning */

/* The "cache full" warning, at most once per FULL_WARN_INTERVAL_MS. */
static void warn_full(const pa_replay *cache, int64_t now_ms)
{
    int64_t last = atomic_load(&full_warned_ms);
    long long refused = atomic_fetch_add(&full_refused, 1) + 1;

    if (last != 0 && now_ms - last < FULL_WARN_INTERVAL_MS)
        return;
    if (!atomic_compare_exchange_strong(&full_warned_ms, &last, now_ms))
        return;
    atomic_fetch_sub(&full_refused, refused);
    pa_log_warn("%s: token replay cache full (%zu live pairs): %lld valid"
                " token digest(s) refused (fail closed); raise"
                " token_replay_cache_entries",
                OP_VALIDATE, pa_replay_capacity(cache), refused);
}

void pa_token_validate_res_free(pa_token_validate_res *r)
{
    if (!r)
        return;
    free(r->activation_id);
    free(r->user_id);
    free(r->signature_type);
    memset(r, 0, sizeof *r);
}

static int64_t sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    return a + b;
}

/* The replay check of a pair whose digest was valid: *why stays
 * PA_TOKEN_ACCEPTED when the pair is fresh (and is now remembered). */
static pa_err replay_check(const pa_act_env *env, const pa_store_token *t,
                           const uint8_t *nonce, size_t nonce_len,
                           int64_t timestamp_ms, int64_t now_ms,
                           pa_token_refusal *why)
{
    const pa_config *c = env->cfg;
    pa_replay *cache = NULL;
    pa_replay_result r;

    *why = PA_TOKEN_ACCEPTED;
    if (c->token_replay_cache_entries <= 0
        || pa_replay_shared((size_t)c->token_replay_cache_entries, &cache)
               != PA_OK) {
        pa_log_error("%s: cannot create the token replay cache (%d entries)",
                     OP_VALIDATE, c->token_replay_cache_entries);
        return PA_ERR_UNKNOWN_ERROR;
    }
    /* The pair's window ends when the timestamp rule would refuse it. */
    pa_replay_check(cache, (const uint8_t *)t->token_id, strlen(t->token_id),
                    nonce, nonce_len,
                    sat_add(timestamp_ms, c->token_timestamp_validity_ms),
                    now_ms, &r);
    if (r == PA_REPLAY_SEEN) {
        *why = PA_TOKEN_REPLAY;
        pa_log_info("%s: token %s refused: nonce already used (replay)",
                    OP_VALIDATE, t->token_id);
    } else if (r == PA_REPLAY_FULL) {
        *why = PA_TOKEN_CACHE_FULL;
        warn_full(cache, now_ms);
    }
    return PA_OK;
}

/* The answer for a valid token. */
static pa_err fill_valid(const pa_store_token *t, pa_token_validate_res *res)
{
    res->valid = 1;
    res->why = PA_TOKEN_ACCEPTED;
    res->application_id = t->application_id;
    if (!(res->activation_id = strdup(t->activation_id))
        || (t->user_id && !(res->user_id = strdup(t->user_id)))
        || (t->signature_type && !(res->signature_type = strdup(t->signature_type))))
        return PA_ERR_UNKNOWN_ERROR;
    return PA_OK;
}

pa_err pa_token_validate(const pa_act_env *env,
                         const pa_token_validate_req *req,
                         pa_token_validate_res *res)
{
    const pa_config *c = env->cfg;
    uint8_t *nonce = NULL, *digest = NULL, secret[PA_TOKEN_SECRET_LEN];
    size_t nonce_len = 0, digest_len = 0;
    pa_store_token t;
    int64_t now;
    int found = 0, valid = 0;
    pa_err e;

    memset(res, 0, sizeof *res);
    memset(&t, 0, sizeof t);
    if (!req->token_id || !req->token_digest || !req->nonce || !req->has_timestamp)
        return PA_ERR_INVALID_REQUEST;
    /* Decoded first, where the original decodes them (5.11: ERR0024). */
    if (pa_b64_decode_alloc(req->nonce, &nonce, &nonce_len) != PA_OK
        || pa_b64_decode_alloc(req->token_digest, &digest, &digest_len) != PA_OK) {
        e = PA_ERR_INVALID_REQUEST;
        goto out;
    }
    /* 10.3 step 1. */
    now = pa_time_now_ms();
    if (req->timestamp_ms < now - c->token_timestamp_validity_ms) {
        e = PA_ERR_TOKEN_TIMESTAMP_TOO_OLD;
        goto out;
    }
    /* Steps 2-3. */
    if ((e = pa_store_token_get(env->store, req->token_id, &t, &found)) != PA_OK) {
        e = pa_act_store_failed(OP_VALIDATE, e);
        goto out;
    }
    if (!found) {
        res->why = PA_TOKEN_NOT_FOUND;
        goto out;
    }
    if (t.activation_status != PA_STATUS_ACTIVE) {
        e = PA_ERR_ACTIVATION_INCORRECT_STATE;
        goto out;
    }
    /* paserver: a bound on timestamps ahead of the clock. */
    if (c->token_max_future_ms > 0
        && req->timestamp_ms - now > c->token_max_future_ms) {
        res->why = PA_TOKEN_IN_FUTURE;
        pa_log_info("%s: token %s refused: timestamp %lld ms ahead of the"
                    " server clock (token_max_future_ms %lld)",
                    OP_VALIDATE, t.token_id,
                    (long long)(req->timestamp_ms - now),
                    (long long)c->token_max_future_ms);
        goto out;
    }
    /* Step 4, in constant time. */
    if (!t.token_secret
        || pa_b64_decode_exact(t.token_secret, secret, sizeof secret) != PA_OK) {
        pa_log_error("%s: token %s: the stored secret is not 16 bytes of"
                     " Base64", OP_VALIDATE, t.token_id);
        e = PA_ERR_UNKNOWN_ERROR;
        goto out;
    }
    e = pa_token_verify(secret, nonce, nonce_len, req->timestamp_ms, digest,
                        digest_len, &valid);
    OPENSSL_cleanse(secret, sizeof secret);
    if (e != PA_OK) {
        e = PA_ERR_UNKNOWN_ERROR;
        goto out;
    }
    if (!valid) {
        res->why = PA_TOKEN_BAD_DIGEST;
        goto out;
    }
    /* paserver: each valid (tokenId, nonce) pair once in its window. */
    if (c->token_replay_protection) {
        e = replay_check(env, &t, nonce, nonce_len, req->timestamp_ms, now,
                         &res->why);
        if (e != PA_OK || res->why != PA_TOKEN_ACCEPTED)
            goto out;
    }
    e = fill_valid(&t, res);
out:
    if (nonce)
        pa_secure_free(nonce, nonce_len);
    if (digest)
        pa_secure_free(digest, digest_len);
    pa_store_token_free(&t);
    if (e != PA_OK) {
        pa_token_validate_res_free(res);
    } else if (!res->valid) {
        pa_token_refusal why = res->why;

        pa_token_validate_res_free(res);
        res->why = why;
    }
    return e;
}

/* ---- RemoveToken ------------------------------------------------------------------------ */

typedef struct remove_unit {
    const char *token_id;
    const char *activation_id;
    int removed;
} remove_unit;

static pa_err remove_tx(const pa_act_env *env, void *arg, int *keep,
                        int *queued)
{
    remove_unit *u = arg;

    (void)keep;
    (void)queued;
    return pa_store_token_remove(env->store, u->token_id, u->activation_id,
                                 &u->removed);
}

pa_err pa_token_remove(const pa_act_env *env, const char *token_id,
                       const char *activation_id, int *removed)
{
    remove_unit u = {token_id, activation_id, 0};
    pa_err e;

    *removed = 0;
    if (!token_id || !activation_id)
        return PA_ERR_INVALID_REQUEST;
    if ((e = pa_act_write(env, OP_REMOVE, remove_tx, &u)) == PA_OK)
        *removed = u.removed;
    return e;
}

/* ---- process state ------------------------------------------------------------------------ */

void pa_token_shutdown(void)
{
    pa_replay_shared_free();
    atomic_store(&full_warned_ms, 0);
    atomic_store(&full_refused, 0);
}
