/*
 * upgrade.c - upgrade of a protocol-2 activation to protocol 3:
 * StartUpgrade, CommitUpgrade (CRYPTO.md 5.4-5.8, 13; DATABASE.md 5.1,
 * 5.5, 5.6).
 *
 * StartUpgrade: the checks and the ECIES exchange (ECDH, decryption, the
 * answer encrypted for the ctrData the row is expected to end up with) run
 * on the caller's thread against the row read without a lock; then one
 * unit of group commit re-reads the activation, checks it again and
 * stores ctr_data if the row still has none.  If a concurrent StartUpgrade
 * stored another value in between, that value wins and the answer is
 * encrypted again for it (symmetric only, no ECDH), so two concurrent
 * calls can never hand out two different ctrData.
 *
 * CommitUpgrade: every check and the write in one unit (the row is locked
 * for the whole check, as in the original).
 *
 * No history row, no callback, no timestamp: StartUpgrade and
 * CommitUpgrade save the row directly (DATABASE.md 5.1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/ecies.h"
#include "crypto/keys.h"
#include "crypto/primitives.h"
#include "service/activation_internal.h"
#include "service/upgrade.h"
#include "util/base64.h"

#define OP_START "StartUpgrade"
#define OP_COMMIT "CommitUpgrade"

#define CTR_DATA_LEN 16
#define CTR_DATA_B64 (PA_B64_ENCLEN(CTR_DATA_LEN) + 1)

/* The state both operations require (13.1 step 1, 13.2 step 3). */
static int upgradable(const pa_store_activation *a)
{
    return a->status == PA_STATUS_ACTIVE && a->version == 2;
}

/* The application version of `key`: known, supported and of the
 * activation's application (CRYPTO.md 5.7), else ERR0015. */
static pa_err application_check(pa_store *s, const char *op, const char *key,
                                 int64_t application_id, pa_store_version *v)
{
    int found = 0;
    pa_err e;

    memset(v, 0, sizeof *v);
    e = pa_store_version_get_by_key(s, key, v, &found);
    if (e != PA_OK)
        return pa_act_store_failed(op, e);
    if (!found || !v->supported || !v->application_secret
        || v->application_id != application_id) {
        pa_store_version_free(v);
        return PA_ERR_INVALID_APPLICATION;
    }
    return PA_OK;
}

/* ---- StartUpgrade ----------------------------------------------------------------- */

void pa_upgrade_start_res_free(pa_upgrade_start_res *r)
{
    if (!r)
        return;
    free(r->encrypted_data);
    free(r->mac);
    memset(r, 0, sizeof *r);
}

/* The answer of 13.1 step 5 for ctr_data (the stored Base64 text, which
 * must be 16 bytes; anything else is an unusable stored value, ERR0010). */
static pa_err seal_answer(const pa_ecies_ctx *ctx, const char *ctr_data,
                          pa_upgrade_start_res *res)
{
    uint8_t raw[CTR_DATA_LEN];
    char plain[64];
    pa_err e;

    pa_upgrade_start_res_free(res);
    if (!ctr_data || strlen(ctr_data) >= CTR_DATA_B64
        || pa_b64_decode_exact(ctr_data, raw, sizeof raw) != PA_OK)
        return PA_ERR_INVALID_KEY_FORMAT;
    OPENSSL_cleanse(raw, sizeof raw);
    snprintf(plain, sizeof plain, "{\"ctrData\":\"%s\"}", ctr_data);
    e = pa_act_ecies_seal(ctx, plain, &res->encrypted_data, &res->mac);
    OPENSSL_cleanse(plain, sizeof plain);
    if (e != PA_OK)
        pa_upgrade_start_res_free(res);
    return e;
}

typedef struct start_unit {
    const char *activation_id;
    const char *candidate;        /* ctr_data the answer was sealed for */
    const pa_ecies_ctx *ctx;
    pa_upgrade_start_res *res;
} start_unit;

/* Inside the write: still ACTIVE and version 2; ctr_data stored once. */
static pa_err start_tx(const pa_act_env *env, void *arg, int *keep,
                       int *queued)
{
    start_unit *u = arg;
    pa_store_activation a;
    int found = 0;
    pa_err e = pa_act_load(env->store, OP_START, u->activation_id, &a);

    (void)keep;
    (void)queued;
    if (e != PA_OK)
        goto out;
    if (!upgradable(&a)) {
        e = PA_ERR_ACTIVATION_INCORRECT_STATE;
        goto out;
    }
    if (a.ctr_data) {
        /* Already started (13.1 step 4): the stored value is the answer. */
        if (strcmp(a.ctr_data, u->candidate) != 0)
            e = seal_answer(u->ctx, a.ctr_data, u->res);
        goto out;
    }
    if (!(a.ctr_data = strdup(u->candidate))) {
        e = PA_ERR_UNKNOWN_ERROR;
        goto out;
    }
    e = pa_store_activation_update(env->store, &a, &found);
    if (e == PA_OK && !found)
        e = PA_ERR_ACTIVATION_NOT_FOUND;
out:
    pa_store_activation_free(&a);
    return e;
}

pa_err pa_upgrade_start(const pa_act_env *env, const pa_upgrade_start_req *req,
                        pa_upgrade_start_res *res)
{
    pa_store_activation a;
    pa_store_version v;
    pa_ecies_ctx ctx;
    uint8_t raw[CTR_DATA_LEN], *plain = NULL;
    char candidate[CTR_DATA_B64] = "";
    size_t n = 0;
    start_unit u;
    pa_err e;

    memset(res, 0, sizeof *res);
    memset(&a, 0, sizeof a);
    memset(&v, 0, sizeof v);
    memset(&ctx, 0, sizeof ctx);
    if (!req->activation_id || !req->application_key
        || !req->c.ephemeral_public_key || !req->c.encrypted_data
        || !req->c.mac)
        return PA_ERR_INVALID_REQUEST;
    /* Steps 1-2: the activation, then the application version. */
    if ((e = pa_act_load(env->store, OP_START, req->activation_id, &a)) != PA_OK)
        goto out;
    if (!upgradable(&a)) {
        e = PA_ERR_ACTIVATION_INCORRECT_STATE;
        goto out;
    }
    if ((e = application_check(env->store, OP_START, req->application_key,
                               a.application_id, &v)) != PA_OK)
        goto out;
    /* Step 3: ECIES activation scope, "/pa/upgrade", non-empty plaintext
     * (its content is ignored). */
    if ((e = pa_act_ecies_open_activation(env, &a, v.application_secret,
                                          PA_ECIES_SH1_UPGRADE, &req->c, &ctx,
                                          &plain, &n, NULL)) != PA_OK)
        goto out;
    if (n == 0) {
        e = PA_ERR_INVALID_INPUT_FORMAT;
        goto out;
    }
    /* Step 4: the stored ctrData, or 16 new random bytes. */
    if (a.ctr_data) {
        if (strlen(a.ctr_data) >= sizeof candidate) {
            e = PA_ERR_INVALID_KEY_FORMAT;
            goto out;
        }
        memcpy(candidate, a.ctr_data, strlen(a.ctr_data) + 1);
    } else {
        if ((e = pa_random(raw, sizeof raw)) != PA_OK)
            goto out;
        pa_b64_encode(raw, sizeof raw, candidate);
    }
    /* Step 5, then the write (which may settle on another stored value). */
    if ((e = seal_answer(&ctx, candidate, res)) != PA_OK)
        goto out;
    u = (start_unit){a.activation_id, candidate, &ctx, res};
    e = pa_act_write(env, OP_START, start_tx, &u);
out:
    if (plain)
        pa_secure_free(plain, n);
    OPENSSL_cleanse(raw, sizeof raw);
    OPENSSL_cleanse(candidate, sizeof candidate);
    pa_ecies_ctx_wipe(&ctx);
    pa_store_version_free(&v);
    pa_store_activation_free(&a);
    if (e != PA_OK)
        pa_upgrade_start_res_free(res);
    return e;
}

/* ---- CommitUpgrade ------------------------------------------------------------------ */

typedef struct commit_unit {
    const char *activation_id;
    const char *application_key;
} commit_unit;

static pa_err commit_tx(const pa_act_env *env, void *arg, int *keep,
                        int *queued)
{
    commit_unit *u = arg;
    pa_store_activation a;
    pa_store_version v;
    int found = 0;
    pa_err e = pa_act_load(env->store, OP_COMMIT, u->activation_id, &a);

    (void)keep;
    (void)queued;
    if (e != PA_OK)
        goto out;
    /* 13.2 step 3, in the original's order. */
    if (!upgradable(&a) || !a.ctr_data) {
        e = PA_ERR_ACTIVATION_INCORRECT_STATE;
        goto out;
    }
    if ((e = application_check(env->store, OP_COMMIT, u->application_key,
                               a.application_id, &v)) != PA_OK)
        goto out;
    pa_store_version_free(&v);
    a.version = 3;
    e = pa_store_activation_update(env->store, &a, &found);
    if (e == PA_OK && !found)
        e = PA_ERR_ACTIVATION_NOT_FOUND;
out:
    pa_store_activation_free(&a);
    return e;
}

pa_err pa_upgrade_commit(const pa_act_env *env, const char *activation_id,
                         const char *application_key)
{
    commit_unit u = {activation_id, application_key};

    if (!activation_id || !application_key)
        return PA_ERR_INVALID_REQUEST;
    return pa_act_write(env, OP_COMMIT, commit_tx, &u);
}
