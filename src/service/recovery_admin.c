/*
 * recovery_admin.c - recovery administration (DATABASE.md 5.8;
 * CRYPTO.md 12.3, 12.6; CONTRACT.md): GetRecoveryConfig,
 * UpdateRecoveryConfig, LookupRecoveryCodes, RevokeRecoveryCodes.
 *
 * Writes go through one unit of group commit each (pa_act_write); the
 * only cryptography, the postcard key pair of UpdateRecoveryConfig and the
 * check of the printing centre's key, happens before the unit.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/codes.h"
#include "crypto/eckey.h"
#include "service/activation_internal.h"
#include "service/recovery.h"
#include "util/timeutil.h"

#define OP_GET "GetRecoveryConfig"
#define OP_UPDATE "UpdateRecoveryConfig"
#define OP_LOOKUP "LookupRecoveryCodes"
#define OP_REVOKE "RevokeRecoveryCodes"

static void wipe_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

/* The application's configuration row inside a unit; a missing row is
 * created with every flag false (5.8), an unknown application is ERR0015. */
static pa_err config_load(pa_store *s, int64_t application_id,
                          pa_store_recovery_config *out)
{
    pa_store_application app;
    int found = 0;
    pa_err e;

    e = pa_store_recovery_config_get(s, application_id, out, &found);
    if (e != PA_OK || found)
        return e;
    if ((e = pa_store_application_get(s, application_id, &app, &found)) != PA_OK)
        return e;
    pa_store_application_free(&app);
    if (!found)
        return PA_ERR_INVALID_APPLICATION;
    memset(out, 0, sizeof *out);
    out->application_id = application_id;
    if ((e = pa_store_recovery_config_put(s, out)) != PA_OK)
        return e;
    return pa_store_recovery_config_get(s, application_id, out, &found);
}

/* ---- GetRecoveryConfig ------------------------------------------------------------- */

typedef struct get_unit {
    int64_t application_id;
    pa_store_recovery_config *out;
} get_unit;

static pa_err get_tx(const pa_act_env *env, void *arg, int *keep, int *queued)
{
    get_unit *u = arg;

    (void)keep;
    (void)queued;
    pa_store_recovery_config_free(u->out);
    return config_load(env->store, u->application_id, u->out);
}

pa_err pa_recovery_config_get(const pa_act_env *env, int64_t application_id,
                              pa_store_recovery_config *out)
{
    get_unit u = {application_id, out};
    int found = 0;
    pa_err e;

    memset(out, 0, sizeof *out);
    /* Usually the row exists: a plain read, no write. */
    e = pa_store_recovery_config_get(env->store, application_id, out, &found);
    if (e != PA_OK) {
        pa_store_recovery_config_free(out);
        return pa_act_store_failed(OP_GET, e);
    }
    if (!found)
        e = pa_act_write(env, OP_GET, get_tx, &u);
    if (e == PA_OK) {
        wipe_free(out->postcard_private_key);
        out->postcard_private_key = NULL;
    } else {
        pa_store_recovery_config_free(out);
    }
    return e;
}

/* ---- UpdateRecoveryConfig ---------------------------------------------------------- */

typedef struct update_unit {
    const pa_recovery_config_req *req;
    char *priv_b64, *pub_b64;     /* a fresh pair, used when needed */
} update_unit;

static pa_err update_tx(const pa_act_env *env, void *arg, int *keep,
                        int *queued)
{
    update_unit *u = arg;
    const pa_recovery_config_req *r = u->req;
    pa_store_recovery_config c;
    char *remote = NULL;
    pa_err e;

    (void)keep;
    (void)queued;
    memset(&c, 0, sizeof c);
    if ((e = config_load(env->store, r->application_id, &c)) != PA_OK)
        goto out;
    c.activation_recovery_enabled = r->activation_recovery_enabled ? 1 : 0;
    c.recovery_postcard_enabled = r->recovery_postcard_enabled ? 1 : 0;
    c.allow_multiple_recovery_codes = r->allow_multiple_recovery_codes ? 1 : 0;
    /* The key pair: once, when postcards get enabled; never removed. */
    if (c.recovery_postcard_enabled && !c.postcard_private_key) {
        if (!u->priv_b64 || !u->pub_b64) {
            e = PA_ERR_UNKNOWN_ERROR;
            goto out;
        }
        free(c.postcard_public_key);
        c.postcard_private_key = u->priv_b64;
        c.postcard_public_key = u->pub_b64;
        u->priv_b64 = u->pub_b64 = NULL;   /* now owned by c */
    }
    if (r->remote_public_key) {
        if (r->remote_public_key[0] && !(remote = strdup(r->remote_public_key))) {
            e = PA_ERR_UNKNOWN_ERROR;
            goto out;
        }
        free(c.remote_public_key);
        c.remote_public_key = remote;
    }
    e = pa_store_recovery_config_put(env->store, &c);
out:
    pa_store_recovery_config_free(&c);
    return e;
}

pa_err pa_recovery_config_update(const pa_act_env *env,
                                 const pa_recovery_config_req *req)
{
    update_unit u = {req, NULL, NULL};
    pa_eckey *k = NULL;
    pa_err e = PA_OK;

    /* paserver: the printing centre's key must be a P-256 point. */
    if (req->remote_public_key && req->remote_public_key[0]) {
        if (pa_ec_pub_import_b64(req->remote_public_key, &k) != PA_OK)
            return PA_ERR_INVALID_KEY_FORMAT;
        pa_ec_free(k);
        k = NULL;
    }
    /* A pair ready in case the row has none (cheap; discarded otherwise). */
    if (req->recovery_postcard_enabled) {
        if ((e = pa_ec_generate(&k)) == PA_OK
            && (e = pa_ec_priv_export_b64(k, &u.priv_b64)) == PA_OK)
            e = pa_ec_pub_export_b64(k, &u.pub_b64);
        pa_ec_free(k);
    }
    if (e == PA_OK)
        e = pa_act_write(env, OP_UPDATE, update_tx, &u);
    wipe_free(u.priv_b64);
    free(u.pub_b64);
    return e;
}

/* ---- LookupRecoveryCodes -------------------------------------------------------------- */

/* Keeps the PUKs with the given status; returns how many are left. */
static size_t keep_puks(pa_store_recovery_code *c, int status)
{
    size_t i, j = 0;

    for (i = 0; i < c->puk_count; i++) {
        if (c->puks[i].status == status) {
            c->puks[j++] = c->puks[i];
        } else {
            wipe_free(c->puks[i].puk);
        }
    }
    c->puk_count = j;
    return j;
}

/* The answer's view of a code: masked, no PUK hashes. */
static void mask_code(pa_store_recovery_code *c)
{
    char masked[PA_CODE_BUF];
    size_t i;

    pa_code_mask(c->recovery_code, masked);
    if (c->recovery_code) {
        size_t n = strlen(c->recovery_code);

        OPENSSL_cleanse(c->recovery_code, n);
        /* The masked form is never longer than the code (23 or 0). */
        memcpy(c->recovery_code, masked, strlen(masked) + 1);
    }
    for (i = 0; i < c->puk_count; i++) {
        wipe_free(c->puks[i].puk);
        c->puks[i].puk = NULL;
    }
}

pa_err pa_recovery_lookup(const pa_act_env *env,
                          const pa_recovery_lookup_req *req,
                          pa_store_recovery_code_array *out)
{
    pa_store_recovery_query q;
    size_t i, j = 0;
    pa_err e;

    memset(out, 0, sizeof *out);
    memset(&q, 0, sizeof q);
    /* The query shapes of 5.8, in this order. */
    if (req->has_application_id && req->activation_id) {
        q.has_application_id = 1;
        q.application_id = req->application_id;
        q.activation_id = req->activation_id;
        q.user_id = req->user_id;
    } else if (req->has_application_id && req->user_id) {
        q.has_application_id = 1;
        q.application_id = req->application_id;
        q.user_id = req->user_id;
    } else if (req->user_id) {
        q.user_id = req->user_id;
    } else if (req->activation_id) {
        q.activation_id = req->activation_id;
    } else {
        return PA_ERR_INVALID_REQUEST;
    }
    if ((e = pa_store_recovery_code_lookup(env->store, &q, out)) != PA_OK) {
        pa_store_recovery_code_array_free(out);
        return pa_act_store_failed(OP_LOOKUP, e);
    }
    for (i = 0; i < out->count; i++) {
        pa_store_recovery_code *c = &out->items[i];
        size_t k;
        int drop;

        /* Unknown stored numbers read as REVOKED / INVALID (DATABASE.md 3). */
        if (c->status < PA_RC_CREATED || c->status > PA_RC_REVOKED)
            c->status = PA_RC_REVOKED;
        for (k = 0; k < c->puk_count; k++)
            if (c->puks[k].status < PA_PUK_VALID || c->puks[k].status > PA_PUK_INVALID)
                c->puks[k].status = PA_PUK_INVALID;
        drop = (req->has_code_status && c->status != req->code_status)
               || (req->has_puk_status && keep_puks(c, req->puk_status) == 0);

        if (drop) {
            pa_store_recovery_code_free(c);
            continue;
        }
        mask_code(c);
        if (j != i) {
            out->items[j] = *c;
            memset(c, 0, sizeof *c);
        }
        j++;
    }
    out->count = j;
    if (j == 0) {
        pa_store_recovery_code_array_free(out);
        memset(out, 0, sizeof *out);
    }
    return PA_OK;
}

/* ---- RevokeRecoveryCodes ---------------------------------------------------------------- */

typedef struct revoke_unit {
    const int64_t *ids;
    size_t n;
    int revoked;
} revoke_unit;

static pa_err revoke_tx(const pa_act_env *env, void *arg, int *keep,
                        int *queued)
{
    revoke_unit *u = arg;
    int64_t now = pa_time_now_ms();
    size_t i;
    pa_err e = PA_OK;

    (void)keep;
    (void)queued;
    u->revoked = 0;
    for (i = 0; i < u->n && e == PA_OK; i++) {
        pa_store_recovery_code c;
        int found = 0, changed = 0;

        memset(&c, 0, sizeof c);
        e = pa_store_recovery_code_get(env->store, u->ids[i], &c, &found);
        if (e == PA_OK && found)
            e = pa_recovery_revoke_code(env->store, &c, now, &changed);
        pa_store_recovery_code_free(&c);
        u->revoked |= changed;
    }
    return e;
}

pa_err pa_recovery_revoke(const pa_act_env *env, const int64_t *ids,
                          size_t n, int *revoked)
{
    revoke_unit u = {ids, n, 0};
    size_t i;
    pa_err e;

    *revoked = 0;
    if (!ids || n == 0)
        return PA_ERR_INVALID_REQUEST;
    for (i = 0; i < n; i++)
        if (ids[i] < 0)
            return PA_ERR_INVALID_REQUEST;
    if ((e = pa_act_write(env, OP_REVOKE, revoke_tx, &u)) == PA_OK)
        *revoked = u.revoked;
    return e;
}
