/*
 * signature.c - online and offline signature verification with counters,
 * lock-out and audit (CRYPTO.md 8.6-8.8, 9.3; DATABASE.md 3, 5.1, 5.2,
 * 5.6), and the SignatureAudit list.
 *
 * Two phases.  Before the write: read the activation, resolve the format,
 * check the application key, get the derived keys (one ECDH, or the key
 * cache) and search the lookahead window against the counter as read.
 * The write (one unit of group commit): read the row again, and if its
 * counter, ctrData and status are what the search used, apply the result;
 * if a concurrent verification moved them, search again there.  So the
 * write lock is never held across an ECDH, and no counter position is ever
 * accepted twice.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "crypto/primitives.h"
#include "service/activation_internal.h"
#include "service/lifecycle.h"
#include "service/signature.h"
#include "util/base64.h"
#include "util/timeutil.h"

#define BLOCKED_MAX_FAILED "MAX_FAILED_ATTEMPTS"

/* ---- additional_info (DATABASE.md 3) -------------------------------------------- */

/* {"entry":[{"key":K,"value":V},...]} with the pairs given (NULL key ends). */
static char *info_json(const char *const *kv)
{
    json_t *doc = json_object(), *arr = json_array();
    char *text = NULL;

    if (doc && arr && json_object_set(doc, "entry", arr) == 0) {
        for (; kv[0]; kv += 2) {
            json_t *e = json_object();

            if (!e || json_object_set_new(e, "key", json_string(kv[0])) != 0
                || json_object_set_new(e, "value", json_string(kv[1])) != 0
                || json_array_append_new(arr, e) != 0) {
                json_decref(e);
                goto out;
            }
        }
        text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    }
out:
    json_decref(arr);
    json_decref(doc);
    return text;
}

void pa_signature_info_parse(const char *json, char ***keys, char ***values,
                             size_t *n)
{
    json_t *doc = json ? json_loads(json, 0, NULL) : NULL;
    json_t *arr = json_object_get(doc, "entry"), *e;
    size_t i, m = 0, count = json_is_array(arr) ? json_array_size(arr) : 0;

    *keys = *values = NULL;
    *n = 0;
    if (count && (*keys = calloc(count, sizeof **keys))
        && (*values = calloc(count, sizeof **values))) {
        json_array_foreach(arr, i, e) {
            const char *k = json_string_value(json_object_get(e, "key"));
            const char *v = json_string_value(json_object_get(e, "value"));

            if (!k || !v)
                continue;
            (*keys)[m] = strdup(k);
            (*values)[m] = strdup(v);
            if ((*keys)[m] && (*values)[m])
                m++;
            else {
                free((*keys)[m]);
                free((*values)[m]);
            }
        }
    }
    *n = m;
    json_decref(doc);
}

void pa_signature_info_free(char **keys, char **values, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(keys[i]);
        free(values[i]);
    }
    free(keys);
    free(values);
}

/* ---- the unit of work ------------------------------------------------------------- */

typedef struct verify_unit {
    const pa_sig_req *req;
    int online;
    int application_ok;           /* online: key known, supported, same app */
    const char *data_text;        /* DATA: data & secret, or data & offline */
    const char *audit_bad_app;    /* online, key refused: data & key */
    pa_sig_format format;
    int have_keys;
    pa_sig_keys keys;
    /* the search made before the write, and the state it assumed */
    int searched;
    int64_t searched_counter;
    char *searched_ctr_data;
    int searched_mode;
    pa_sig_result found;
    int64_t started_ms;
    pa_sig_res *res;
} verify_unit;

/* Counter mode (8.8): the activation's version, or 3 for a forced upgrade
 * check once StartUpgrade set ctrData; 0 for an unusable version. */
static int counter_mode(const pa_store_activation *a, int forced)
{
    if (a->version != 2 && a->version != 3)
        return 0;
    if (forced == 3 && a->version == 2 && a->ctr_data)
        return 3;
    return a->version;
}

/* The lookahead search of 8.6 against the given state. */
static pa_err search(const verify_unit *u, int mode, int64_t counter,
                     const char *ctr_data, unsigned lookahead,
                     pa_sig_result *out)
{
    uint8_t ctr[16];
    pa_err e;

    memset(out, 0, sizeof *out);
    if (mode == 3 && (!ctr_data || pa_b64_decode_exact(ctr_data, ctr, 16) != PA_OK))
        return PA_ERR_INVALID_KEY_FORMAT;
    e = pa_sig_verify(&u->keys, u->req->types, u->req->ntypes, u->format,
                      mode == 3, counter, mode == 3 ? ctr : NULL, lookahead,
                      (const uint8_t *)u->data_text, strlen(u->data_text),
                      u->req->signature, out);
    OPENSSL_cleanse(ctr, sizeof ctr);
    return e;
}

static int same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Writes the audit row of this attempt, with the activation as it is now. */
static pa_err audit(pa_store *s, const verify_unit *u,
                    const pa_store_activation *a, const char *data_text,
                    const char *note, int valid, pa_sig_type type, int version,
                    int blocked, int biometry)
{
    const char *kv[8];
    char *info, *data_b64 = NULL;
    pa_store_audit row;
    int k = 0;
    pa_err e;

    if (u->req->vault_reason) {
        kv[k++] = "VAULT_UNLOCKED_REASON";
        kv[k++] = u->req->vault_reason;
    }
    if (biometry) {
        kv[k++] = "BIOMETRY_ALLOWED";
        kv[k++] = "TRUE";
    }
    if (blocked) {
        kv[k++] = "BLOCKED_REASON";
        kv[k++] = BLOCKED_MAX_FAILED;
    }
    kv[k] = NULL;
    if (!(info = info_json(kv))
        || pa_b64_encode_alloc((const uint8_t *)data_text, strlen(data_text),
                               &data_b64) != PA_OK) {
        free(info);
        return PA_ERR_UNKNOWN_ERROR;
    }
    memset(&row, 0, sizeof row);
    row.activation_id = a->activation_id;
    row.activation_counter = a->counter;
    row.activation_ctr_data = a->ctr_data;
    row.activation_status = a->status;
    row.additional_info = info;
    row.data_base64 = data_b64;
    row.signature_type = (char *)pa_sig_type_name(type);
    row.signature = (char *)u->req->signature;
    row.valid = valid;
    row.note = (char *)note;
    row.created_ms = u->started_ms;
    row.version = version;
    row.signature_version = (char *)u->req->signature_version;
    e = pa_store_audit_add(s, &row, NULL);
    free(info);
    pa_secure_free(data_b64, strlen(data_b64));
    return e;
}

/* A failed attempt: count it (unless possession-only), and block at the
 * limit (8.7 step 3 and 5).  *blocked = 1 when this attempt blocked. */
static pa_err count_failure(pa_store *s, pa_store_activation *a,
                            pa_sig_type type, int64_t now, int *blocked,
                            int *queued)
{
    int found = 0;
    pa_err e;

    *blocked = 0;
    a->last_used_ms = now;
    if (type != PA_SIG_POSSESSION)
        a->failed_attempts++;
    if (a->max_failed_attempts - a->failed_attempts <= 0) {
        free(a->blocked_reason);
        if (!(a->blocked_reason = strdup(BLOCKED_MAX_FAILED)))
            return PA_ERR_UNKNOWN_ERROR;
        a->status = PA_STATUS_BLOCKED;
        *blocked = 1;
        return pa_lifecycle_save(s, a, NULL, NULL, 1, now, queued);
    }
    e = pa_store_activation_update(s, a, &found);
    return e != PA_OK ? e : found ? PA_OK : PA_ERR_ACTIVATION_NOT_FOUND;
}

static pa_err touch(pa_store *s, pa_store_activation *a, int64_t now)
{
    int found = 0;
    pa_err e;

    a->last_used_ms = now;
    e = pa_store_activation_update(s, a, &found);
    return e != PA_OK ? e : found ? PA_OK : PA_ERR_ACTIVATION_NOT_FOUND;
}

/* The ACTIVE path (8.7 step 5). */
static pa_err verify_active(pa_store *s, verify_unit *u, pa_store_activation *a,
                            int64_t now, unsigned lookahead, int *queued)
{
    pa_sig_res *res = u->res;
    pa_sig_result r;
    int mode = counter_mode(a, u->req->forced_version), blocked = 0;
    pa_err e;

    if (!mode)
        return PA_ERR_ACTIVATION_INCORRECT_STATE;
    if (!u->have_keys)
        return PA_ERR_INVALID_KEY_FORMAT;
    if (u->searched && u->searched_counter == a->counter
        && same_text(u->searched_ctr_data, a->ctr_data) && u->searched_mode == mode)
        r = u->found;
    else if ((e = search(u, mode, a->counter, a->ctr_data, lookahead, &r)) != PA_OK)
        return e;
    res->details = 1;
    res->type = r.used_type;
    if (r.valid) {
        if (mode == 3) {
            char next[PA_B64_ENCLEN(16) + 1];

            pa_b64_encode(r.ctr_data_next, 16, next);
            if (a->ctr_data)
                pa_secure_free(a->ctr_data, strlen(a->ctr_data));
            a->ctr_data = strdup(next);
            OPENSSL_cleanse(next, sizeof next);
            if (!a->ctr_data)
                return PA_ERR_UNKNOWN_ERROR;
        }
        a->counter = r.ctr_next;
        if (r.used_type != PA_SIG_POSSESSION)
            a->failed_attempts = 0;
        if ((e = touch(s, a, now)) != PA_OK)
            return e;
        res->valid = 1;
        res->remaining_attempts = a->max_failed_attempts;
        e = audit(s, u, a, u->data_text, "signature_ok", 1, r.used_type, mode,
                  0, 0);
    } else {
        /* offline: the failure rule uses the first type (9.3) */
        e = count_failure(s, a, u->req->types[0], now, &blocked, queued);
        if (e != PA_OK)
            return e;
        res->remaining_attempts = a->max_failed_attempts - a->failed_attempts;
        if (a->status == PA_STATUS_BLOCKED && a->blocked_reason
            && !(res->blocked_reason = strdup(a->blocked_reason)))
            return PA_ERR_UNKNOWN_ERROR;
        e = audit(s, u, a, u->data_text, "signature_does_not_match", 0,
                  u->req->types[0], mode, blocked,
                  !u->online && u->req->allow_biometry);
    }
    res->status = a->status;
    return e;
}

/* v2 VaultUnlock (CRYPTO.md 14.4, DATABASE.md 5.6): the counter moves on
 * once more, valid or not; no history row, no callback. */
static pa_err vault_bump(pa_store *s, pa_store_activation *a, pa_sig_res *res)
{
    int found = 0;
    pa_err e;

    res->vault_counter = a->counter;
    if (!res->valid)
        res->remaining_attempts = a->max_failed_attempts - a->failed_attempts;
    a->counter++;
    e = pa_store_activation_update(s, a, &found);
    if (e == PA_OK && !found)
        e = PA_ERR_ACTIVATION_NOT_FOUND;
    res->bumped = e == PA_OK;
    return e;
}

static pa_err verify_tx(const pa_act_env *env, void *arg, int *keep,
                        int *queued)
{
    verify_unit *u = arg;
    pa_sig_res *res = u->res;
    pa_store_activation a = {0};
    int64_t now = pa_time_now_ms();
    int blocked = 0;
    pa_err e = pa_act_load(env->store, "VerifySignature", u->req->activation_id,
                           &a);

    (void)keep;
    if (e == PA_ERR_ACTIVATION_NOT_FOUND) {
        res->status = PA_STATUS_REMOVED;
        e = PA_OK;
        goto out;
    }
    if (e != PA_OK)
        goto out;
    res->found = 1;
    if (!(res->user_id = strdup(a.user_id))) {
        e = PA_ERR_UNKNOWN_ERROR;
        goto out;
    }
    res->application_id = a.application_id;
    res->type = u->req->types[0];
    if (u->online && !u->application_ok) {
        /* 8.7 step 3, whatever the state */
        e = count_failure(env->store, &a, u->req->types[0], now, &blocked,
                          queued);
        if (e == PA_OK)
            e = audit(env->store, u, &a, u->audit_bad_app,
                      "activation_invalid_application", 0, u->req->types[0],
                      a.version, blocked, 0);
        res->status = a.status;
    } else if (a.status != PA_STATUS_ACTIVE) {
        e = touch(env->store, &a, now);
        if (e == PA_OK)
            e = audit(env->store, u, &a, u->data_text, "activation_invalid_state",
                      0, u->req->types[0], a.version, 0, 0);
        res->status = a.status;
    } else {
        e = verify_active(env->store, u, &a, now,
                          (unsigned)env->cfg->signature_validation_lookahead,
                          queued);
    }
    if (e == PA_OK && u->req->v2_vault_bump && a.status == PA_STATUS_ACTIVE)
        e = vault_bump(env->store, &a, res);
out:
    pa_store_activation_free(&a);
    return e;
}

/* ---- before the write ----------------------------------------------------------------- */

/* Application check and DATA (8.1, 8.7 step 3). */
static pa_err prepare_data(const pa_act_env *env, verify_unit *u,
                           const pa_store_activation *a, char **data_text,
                           char **bad_app_text)
{
    const pa_sig_req *req = u->req;
    pa_store_version v;
    int found = 0;
    pa_err e;

    *data_text = *bad_app_text = NULL;
    if (!u->online)
        return pa_sig_data_offline(req->data, data_text);
    memset(&v, 0, sizeof v);
    e = pa_store_version_get_by_key(env->store, req->application_key, &v, &found);
    if (e != PA_OK)
        return pa_act_store_failed("VerifySignature", e);
    u->application_ok = found && v.supported && v.application_secret
                        && v.application_id == a->application_id;
    e = pa_sig_data_online(req->data, req->application_key, bad_app_text);
    if (e == PA_OK && u->application_ok)
        e = pa_sig_data_online(req->data, v.application_secret, data_text);
    else if (e == PA_OK)
        *data_text = strdup(*bad_app_text);
    pa_store_version_free(&v);
    if (e == PA_OK && !*data_text)
        e = PA_ERR_UNKNOWN_ERROR;
    return e;
}

/* Keys and the search, when the activation can be verified at all. */
static pa_err presearch(const pa_act_env *env, verify_unit *u,
                        const pa_store_activation *a)
{
    pa_derived_keys k;
    int mode = counter_mode(a, u->req->forced_version);
    pa_err e;

    if (a->status != PA_STATUS_ACTIVE || !mode || (u->online && !u->application_ok)
        || !a->device_public_key)
        return PA_OK;
    if ((e = pa_act_derived_keys(env, a, &k)) != PA_OK)
        return e;
    memcpy(u->keys.possession, k.possession, 16);
    memcpy(u->keys.knowledge, k.knowledge, 16);
    memcpy(u->keys.biometry, k.biometry, 16);
    pa_keys_wipe(&k);
    u->have_keys = 1;
    e = search(u, mode, a->counter, a->ctr_data,
               (unsigned)env->cfg->signature_validation_lookahead, &u->found);
    if (e != PA_OK)
        return e;
    u->searched = 1;
    u->searched_counter = a->counter;
    u->searched_mode = mode;
    if (a->ctr_data && !(u->searched_ctr_data = strdup(a->ctr_data)))
        return PA_ERR_UNKNOWN_ERROR;
    return PA_OK;
}

pa_err pa_signature_verify(const pa_act_env *env, const pa_sig_req *req,
                           pa_sig_res *res)
{
    const char *op = req->application_key ? "VerifySignature"
                                          : "VerifyOfflineSignature";
    pa_store_activation a;
    verify_unit u;
    char *data_text = NULL, *bad_app = NULL;
    int found = 0;
    pa_err e;

    memset(res, 0, sizeof *res);
    memset(&u, 0, sizeof u);
    if (!req->activation_id || !req->data || !req->signature || req->ntypes < 1
        || req->ntypes > 2)
        return PA_ERR_INVALID_REQUEST;
    u.req = req;
    u.res = res;
    u.online = req->application_key != NULL;
    u.started_ms = pa_time_now_ms();
    e = pa_store_activation_get(env->store, req->activation_id, &a, &found);
    if (e != PA_OK)
        return pa_act_store_failed(op, e);
    if (!found) {
        /* 8.7 step 1: an answer, nothing written */
        res->status = PA_STATUS_REMOVED;
        return PA_OK;
    }
    u.format = PA_SIG_FORMAT_DECIMAL;
    if (u.online)
        e = pa_sig_format_for_version(req->signature_version, &u.format);
    if (e == PA_OK)
        e = prepare_data(env, &u, &a, &data_text, &bad_app);
    u.data_text = data_text;
    u.audit_bad_app = bad_app;
    if (e == PA_OK)
        e = presearch(env, &u, &a);
    if (e == PA_OK)
        e = pa_act_write(env, op, verify_tx, &u);
    if (e != PA_OK)
        pa_sig_res_free(res);
    pa_store_activation_free(&a);
    OPENSSL_cleanse(&u.keys, sizeof u.keys);
    OPENSSL_cleanse(&u.found, sizeof u.found);
    if (u.searched_ctr_data)
        pa_secure_free(u.searched_ctr_data, strlen(u.searched_ctr_data));
    if (data_text)
        pa_secure_free(data_text, strlen(data_text));
    if (bad_app)
        pa_secure_free(bad_app, strlen(bad_app));
    return e;
}

void pa_sig_res_free(pa_sig_res *r)
{
    if (!r)
        return;
    free(r->blocked_reason);
    free(r->user_id);
    memset(r, 0, sizeof *r);
}

/* ---- SignatureAudit ------------------------------------------------------------------- */

pa_err pa_signature_audit(const pa_act_env *env, const char *user_id,
                          int has_application_id, int64_t application_id,
                          int64_t from_ms, int64_t to_ms,
                          pa_store_audit_array *out)
{
    memset(out, 0, sizeof *out);
    if (!user_id)
        return PA_ERR_INVALID_REQUEST;
    return pa_act_store_failed("SignatureAudit",
                               pa_store_audit_list(env->store, user_id,
                                                   has_application_id,
                                                   application_id, from_ms,
                                                   to_ms, out));
}
