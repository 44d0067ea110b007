/*
 * activation_recovery.c - RecoveryCodeActivation (CRYPTO.md 12.5;
 * DATABASE.md 5.1, 5.5, 5.8): a new activation for the user of a recovery
 * code, unlocked by the code's next PUK.
 *
 * Order of work, so that a fault consumes nothing it should not:
 *  - before the write unit: application, recovery configuration, master
 *    key, the layer-2 request, the code (steps 1-3), the Argon2 check of
 *    the PUK against the hash read now (step 4, ~100 ms, outside the
 *    lock), every input of step 7 (user, activation OTP, device key; the
 *    original validates these only after consuming the PUK), the OTP hash
 *    and the new server key pair;
 *  - one unit: the code and its PUKs are read again.  The status decides
 *    (a concurrent call may have used or blocked the code meanwhile) and
 *    the PUK result counts only when the first VALID PUK is still the row
 *    verified before (else it is verified again, inside the unit).  A wrong
 *    PUK is counted and kept (*keep = 1, DATABASE.md 5.5); a right one
 *    runs steps 6 and 7 together - PUK USED, the code's previous activation
 *    REMOVED with its codes revoked, the new activation, its key exchange
 *    and its new recovery code - so any fault there rolls all of it back.
 *
 * Sixteen parallel calls with one bound code and its right PUK: the units
 * run one after another, the first consumes the PUK and revokes the code
 * (its activation is removed), the others find the code REVOKED (ERR0024).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crypto/password.h"
#include "crypto/primitives.h"
#include "crypto/recordenc.h"
#include "service/activation_internal.h"
#include "service/activation_recovery.h"
#include "service/lifecycle.h"
#include "service/recovery.h"
#include "util/timeutil.h"

#define OP "RecoveryCodeActivation"

/* The first PUK in VALID state by ascending index (the store returns them
 * in puk_index order), or NULL. */
static pa_store_recovery_puk *first_valid(const pa_store_recovery_code *c)
{
    size_t i;

    for (i = 0; i < c->puk_count; i++)
        if (c->puks[i].status == PA_PUK_VALID)
            return &c->puks[i];
    return NULL;
}

/* ARGON2_VERIFY(UTF8(puk), stored hash after record decryption): record
 * errors (ERR0020, ERR0021, ERR0010, ERR0022) and an unparsable hash
 * (ERR0022) are faults, not mismatches. */
static pa_err puk_verify(const pa_act_env *env,
                         const pa_store_recovery_code *c,
                         const pa_store_recovery_puk *p, const char *puk,
                         int *match)
{
    const pa_config *cfg = env->cfg;
    char *hash = NULL;
    pa_err e;

    *match = 0;
    e = pa_record_read_puk(
        p->puk_encryption,
        cfg->master_db_encryption_key_set ? cfg->master_db_encryption_key : NULL,
        cfg->master_db_encryption_key_set ? sizeof cfg->master_db_encryption_key
                                          : 0,
        c->application_id, c->user_id, c->recovery_code, p->puk_index, p->puk,
        &hash);
    if (e == PA_OK)
        e = pa_password_verify((const uint8_t *)puk, strlen(puk), hash, match);
    if (hash)
        pa_secure_free(hash, strlen(hash));
    if (e != PA_OK)
        *match = 0;
    return e;
}

typedef struct recovery_unit {
    const pa_act_recovery_req *req;
    int64_t code_id;
    /* the PUK verified before the unit (puk_id 0: there was none) */
    int64_t puk_id;
    const char *puk_column;
    int match;
    pa_err step7;                /* the verdict on step 7's inputs */
    const pa_act_init_req *init; /* step 7: user, OTP mode, max failures */
    const char *otp_hash;        /* NULL: none, or computed in the unit */
    pa_eckey *server_key;
    const pa_act_layer2 *l;
    char *device_key;            /* taken by pa_act_keyx_apply */
    const pa_ecies_ctx *ctx;
    pa_act_keyx_res *res;
    int64_t *current_puk_index;
} recovery_unit;

/* Step 5 on the re-read rows: count, block at the limit, keep. */
static pa_err wrong_puk(pa_store *s, recovery_unit *u,
                        pa_store_recovery_code *c, pa_store_recovery_puk *p,
                        int64_t now, int *keep)
{
    int found = 0, blocked = 0;
    pa_store_recovery_puk *next;
    pa_err e = PA_OK;

    c->failed_attempts++;
    c->last_change_ms = now;
    c->has_last_change = 1;
    if (c->failed_attempts >= c->max_failed_attempts && p) {
        c->status = PA_RC_BLOCKED;
        p->status = PA_PUK_INVALID;
        p->last_change_ms = now;
        p->has_last_change = 1;
        blocked = 1;
        e = pa_store_recovery_puk_update(s, p, &found);
    }
    if (e == PA_OK)
        e = pa_store_recovery_code_update(s, c, &found);
    if (e != PA_OK)
        return pa_act_store_failed(OP, e);
    *keep = 1;
    if (!blocked && (next = first_valid(c)))
        *u->current_puk_index = next->puk_index;
    return PA_ERR_INVALID_RECOVERY_CODE;
}

/* Step 6: the PUK is used, the failures forgotten, a bound code's
 * activation removed (history and callback) with its codes revoked. */
static pa_err consume(pa_store *s, pa_store_recovery_code *c,
                      pa_store_recovery_puk *p, int64_t now, int *queued)
{
    pa_store_activation old = {0};
    int found = 0;
    pa_err e;

    p->status = PA_PUK_USED;
    p->last_change_ms = now;
    p->has_last_change = 1;
    e = pa_store_recovery_puk_update(s, p, &found);
    /* Only the failure count changes on the code row (a postcard code
     * keeps its timestamp_last_change, DATABASE.md 5.8). */
    if (e == PA_OK && c->failed_attempts != 0) {
        c->failed_attempts = 0;
        e = pa_store_recovery_code_update(s, c, &found);
    }
    if (e != PA_OK)
        return pa_act_store_failed(OP, e);
    if (!c->activation_id)
        return PA_OK;
    if ((e = pa_act_load(s, OP, c->activation_id, &old)) == PA_OK) {
        old.status = PA_STATUS_REMOVED;
        e = pa_act_store_failed(OP, pa_lifecycle_save(s, &old, NULL, NULL, 1,
                                                      now, queued));
    }
    pa_store_activation_free(&old);
    if (e == PA_OK)
        e = pa_recovery_revoke_bound(s, c->activation_id, now);
    return e;
}

/* Step 7: the new activation (6.2), its key exchange (6.3 steps 8-13,
 * PENDING_COMMIT) and its recovery code (12.2). */
static pa_err new_activation(const pa_act_env *env, recovery_unit *u,
                             int *queued)
{
    pa_store_activation a = {0};
    json_t *recovery = NULL;
    char *signature = NULL, *otp_hash = NULL;
    int64_t now;
    int enabled = 0;
    pa_err e = PA_OK;

    /* Argon2 in the unit only when the PUK was verified here (a first
     * VALID PUK that changed since the check before the unit). */
    if (u->init->otp && !u->otp_hash)
        e = pa_act_otp_hash(u->init->otp, &otp_hash);
    if (e == PA_OK)
        e = pa_act_init_tx(env, u->init, u->otp_hash ? u->otp_hash : otp_hash,
                           u->server_key, &a, &signature, queued);
    now = pa_time_now_ms();
    if (e == PA_OK) {
        e = pa_act_keyx_apply(&a, u->l, u->device_key,
                              PA_STATUS_PENDING_COMMIT);
        u->device_key = NULL;
    }
    if (e == PA_OK)
        e = pa_act_store_failed(OP, pa_lifecycle_save(env->store, &a, NULL,
                                                      NULL, 1, now, queued));
    /* The configuration may have changed since the check before the
     * unit; the new code is then refused like at the start (ERR0024). */
    if (e == PA_OK && (e = pa_recovery_enabled(env->store, a.application_id,
                                               &enabled)) == PA_OK
        && !enabled)
        e = PA_ERR_INVALID_REQUEST;
    /* Argon2 of the new PUK runs here, inside the unit (~100 ms on the
     * batch leader): the code must be stored with the activation. */
    if (e == PA_OK)
        e = pa_recovery_issue_bound(env, &a, &recovery);
    if (e == PA_OK)
        e = pa_act_keyx_answer(&a, recovery, u->ctx, u->res);
    pa_act_recovery_wipe_free(recovery);
    free(signature);
    if (otp_hash)
        pa_secure_free(otp_hash, strlen(otp_hash));
    pa_store_activation_free(&a);
    return e;
}

static pa_err recovery_tx(const pa_act_env *env, void *arg, int *keep,
                          int *queued)
{
    recovery_unit *u = arg;
    pa_store *s = env->store;
    pa_store_recovery_code c = {0};
    pa_store_recovery_puk *p;
    int64_t now = pa_time_now_ms();
    int found = 0, match = 0;
    pa_err e = pa_store_recovery_code_get(s, u->code_id, &c, &found);

    *keep = 0;
    if (e != PA_OK) {
        e = pa_act_store_failed(OP, e);
        goto out;
    }
    if (!found || c.status != PA_RC_ACTIVE) {
        e = PA_ERR_INVALID_REQUEST;
        goto out;
    }
    p = first_valid(&c);
    if (p && u->puk_id == p->id && u->puk_column && p->puk
        && strcmp(u->puk_column, p->puk) == 0)
        match = u->match;
    else if (p && (e = puk_verify(env, &c, p, u->req->puk, &match)) != PA_OK)
        goto out;
    if (!match) {
        e = wrong_puk(s, u, &c, p, now, keep);
        goto out;
    }
    if ((e = u->step7) != PA_OK
        || (e = consume(s, &c, p, now, queued)) != PA_OK)
        goto out;
    e = new_activation(env, u, queued);
out:
    pa_store_recovery_code_free(&c);
    return e;
}

/* Step 7's inputs, judged before anything is consumed: the user and OTP
 * rules of 6.2 and the device key (ERR0007).  *device_key: malloc'ed. */
static pa_err step7_check(const pa_act_init_req *init, const pa_act_layer2 *l,
                          char **device_key)
{
    pa_err e = pa_act_init_check(init);

    *device_key = NULL;
    if (e == PA_OK && !(*device_key = pa_act_device_key_b64(l->device_public_key)))
        e = PA_ERR_ACTIVATION_EXPIRED;
    return e;
}

pa_err pa_activation_recovery(const pa_act_env *env,
                              const pa_act_recovery_req *req,
                              pa_act_keyx_res *res,
                              int64_t *current_puk_index)
{
    pa_store_version v;
    pa_store_recovery_code c;
    pa_store_recovery_puk *p;
    pa_act_init_req init;
    pa_eckey *master = NULL, *server_key = NULL;
    pa_ecies_ctx ctx;
    pa_act_layer2 l;
    int64_t keypair_id = 0;
    char *otp_hash = NULL, *device_key = NULL;
    int enabled = 0, found = 0, match = 0;
    recovery_unit u;
    pa_err e, step7;

    memset(res, 0, sizeof *res);
    memset(&v, 0, sizeof v);
    memset(&c, 0, sizeof c);
    memset(&l, 0, sizeof l);
    memset(&ctx, 0, sizeof ctx);
    *current_puk_index = 0;
    if (!req->recovery_code || !req->puk || !req->application_key)
        return PA_ERR_INVALID_REQUEST;
    /* Steps 1-2. */
    if ((e = pa_act_app_version(env->store, OP, req->application_key,
                                PA_ERR_INVALID_REQUEST, &v)) != PA_OK
        || (e = pa_recovery_enabled(env->store, v.application_id, &enabled))
               != PA_OK)
        goto out;
    if (!enabled) {
        e = PA_ERR_INVALID_REQUEST;
        goto out;
    }
    if ((e = pa_act_master_private(env->store, OP, v.application_id, &master,
                                   &keypair_id)) != PA_OK
        || (e = pa_act_layer2_open(master, v.application_secret, &req->c,
                                   &ctx, &l)) != PA_OK)
        goto out;
    /* Step 3. */
    if ((e = pa_store_recovery_code_find(env->store, v.application_id,
                                         req->recovery_code, &c, &found))
        != PA_OK) {
        e = pa_act_store_failed(OP, e);
        goto out;
    }
    if (!found || c.status != PA_RC_ACTIVE) {
        e = PA_ERR_INVALID_REQUEST;
        goto out;
    }
    /* Step 4, outside the lock: only the first VALID PUK is tried. */
    if ((p = first_valid(&c))
        && (e = puk_verify(env, &c, p, req->puk, &match)) != PA_OK)
        goto out;
    /* Step 7's inputs.  With the right PUK a fault here is final and
     * consumes nothing; with a wrong one the PUK fault comes first. */
    init = (pa_act_init_req){
        .user_id = c.user_id, .application_id = c.application_id,
        .has_max_failures = req->has_max_failures,
        .max_failures = req->max_failures,
        .otp_mode = req->otp ? PA_OTP_ON_COMMIT : PA_OTP_NONE, .otp = req->otp};
    step7 = step7_check(&init, &l, &device_key);
    if (match && step7 != PA_OK) {
        e = step7;
        goto out;
    }
    if (step7 == PA_OK) {
        if ((match && (e = pa_act_otp_hash(req->otp, &otp_hash)) != PA_OK)
            || (e = pa_ec_generate(&server_key)) != PA_OK)
            goto out;
    }
    u = (recovery_unit){req, c.id, p ? p->id : 0, p ? p->puk : NULL, match,
                        step7, &init, otp_hash, server_key, &l, device_key,
                        &ctx, res, current_puk_index};
    e = pa_act_write(env, OP, recovery_tx, &u);
    device_key = u.device_key;
    if (e != PA_ERR_INVALID_RECOVERY_CODE)
        *current_puk_index = 0;
out:
    if (e != PA_OK)
        pa_act_keyx_res_free(res);
    free(device_key);
    pa_act_layer2_free(&l);
    pa_ecies_ctx_wipe(&ctx);
    pa_ec_free(master);
    pa_ec_free(server_key);
    if (otp_hash)
        pa_secure_free(otp_hash, strlen(otp_hash));
    pa_store_recovery_code_free(&c);
    pa_store_version_free(&v);
    return e;
}
