/*
 * activation_keyx.c - the protocol-3 key exchange: PrepareActivation (with
 * an activation code, CRYPTO.md 6.3) and CreateActivation (custom
 * activation, 6.4).
 *
 * Both decrypt the device's layer-2 request (ECIES application scope,
 * "/pa/activation"), store the device key and a fresh ctrData, and answer
 * {activationId, serverPublicKey, ctrData, activationRecovery} encrypted
 * with the request's context.  The cryptography and the Argon2 OTP check
 * run before the write transaction; inside it the activation is re-read,
 * so concurrent exchanges with one code serialise and exactly one wins.
 *
 * activationRecovery: when recovery is enabled for the application the
 * unit issues the activation's recovery code (12.2) after saving the row
 * and keyx_answer embeds it; otherwise it is JSON null.  The pieces
 * RecoveryCodeActivation shares are exported through
 * activation_recovery.h.
 */
#include <ctype.h>
#include <limits.h>
#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "crypto/primitives.h"
#include "service/activation_internal.h"
#include "service/activation_recovery.h"
#include "service/lifecycle.h"
#include "service/recovery.h"
#include "util/base64.h"
#include "util/timeutil.h"

/* ---- ECIES on the wire --------------------------------------------------------- */

/* Base64 field -> malloc'ed bytes; absent: NULL, 0. */
static pa_err field(const char *b64, uint8_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!b64)
        return PA_OK;
    return pa_b64_decode_alloc(b64, out, n) == PA_OK ? PA_OK
                                                    : PA_ERR_INVALID_REQUEST;
}

pa_err pa_act_ecies_open(const pa_eckey *priv, const char *sh1,
                         const uint8_t *sh2, size_t sh2_len,
                         const pa_act_cryptogram *c, pa_ecies_ctx *ctx,
                         uint8_t **plain, size_t *n)
{
    uint8_t *eph = NULL, *data = NULL, *mac = NULL, *nonce = NULL;
    size_t eph_n, data_n, mac_n, nonce_n;
    pa_ecies_request r;
    pa_err e;

    *plain = NULL;
    *n = 0;
    if (!c->ephemeral_public_key || !c->encrypted_data || !c->mac)
        return PA_ERR_INVALID_REQUEST;
    if ((e = field(c->ephemeral_public_key, &eph, &eph_n)) == PA_OK
        && (e = field(c->encrypted_data, &data, &data_n)) == PA_OK
        && (e = field(c->mac, &mac, &mac_n)) == PA_OK
        && (e = field(c->nonce, &nonce, &nonce_n)) == PA_OK) {
        r = (pa_ecies_request){eph, eph_n, data, data_n, mac, mac_n,
                               nonce, nonce ? nonce_n : 0};
        if (!nonce)
            r.nonce = NULL;
        e = pa_ecies_server_decrypt(priv, sh1, sh2, sh2_len, &r, ctx, plain, n)
                    == PA_OK
                ? PA_OK
                : PA_ERR_DECRYPTION_FAILED;
    }
    free(eph);
    free(data);
    free(mac);
    free(nonce);
    return e;
}

pa_err pa_act_ecies_open_activation(const pa_act_env *env,
                                    const pa_store_activation *a,
                                    const char *app_secret, const char *sh1,
                                    const pa_act_cryptogram *c,
                                    pa_ecies_ctx *ctx, uint8_t **plain,
                                    size_t *n, pa_derived_keys *keys)
{
    pa_derived_keys own, *k = keys ? keys : &own;
    pa_eckey *priv = NULL;
    uint8_t sh2[32];
    pa_err e = PA_OK;

    *plain = NULL;
    *n = 0;
    memset(k, 0, sizeof *k);
    memset(sh2, 0, sizeof sh2);
    if (!keys)
        e = pa_act_server_private(env, a, &priv);
    if (e == PA_OK && (e = pa_act_derived_keys(env, a, k)) == PA_OK
        && (e = pa_ecies_sh2_activation(k->transport, app_secret, sh2)) == PA_OK
        && (priv || (e = pa_act_server_private(env, a, &priv)) == PA_OK))
        e = pa_act_ecies_open(priv, sh1, sh2, sizeof sh2, c, ctx, plain, n);
    OPENSSL_cleanse(sh2, sizeof sh2);
    if (!keys)
        pa_keys_wipe(&own);
    pa_ec_free(priv);
    return e;
}

pa_err pa_act_ecies_seal(const pa_ecies_ctx *ctx, const char *plain,
                         char **data_b64, char **mac_b64)
{
    uint8_t mac[PA_ECIES_MAC_LEN];
    uint8_t *ct = NULL;
    size_t ct_n = 0;
    pa_err e;

    *data_b64 = *mac_b64 = NULL;
    e = pa_ecies_encrypt_response(ctx, (const uint8_t *)plain, strlen(plain),
                                  &ct, &ct_n, mac);
    if (e == PA_OK && (pa_b64_encode_alloc(ct, ct_n, data_b64) != PA_OK
                       || pa_b64_encode_alloc(mac, sizeof mac, mac_b64) != PA_OK))
        e = PA_ERR_UNKNOWN_ERROR;
    free(ct);
    if (e != PA_OK) {
        free(*data_b64);
        free(*mac_b64);
        *data_b64 = *mac_b64 = NULL;
        return PA_ERR_ENCRYPTION_FAILED;
    }
    return PA_OK;
}

/* ---- the layer-2 request ------------------------------------------------------- */

typedef pa_act_layer2 layer2;   /* activation_recovery.h */

/* Parses the decrypted JSON as the original's Jackson does: an object whose
 * properties are all known (else ERR0011); a null value counts as absent,
 * any other non-string value is refused. */
static pa_err layer2_parse(const uint8_t *plain, size_t n, layer2 *l)
{
    static const char *const names[] = {"devicePublicKey", "activationOtp",
                                        "activationName", "extras",
                                        "platform", "deviceInfo"};
    const char **slots[6];
    const char *k;
    json_t *v;
    size_t i;

    memset(l, 0, sizeof *l);
    slots[0] = &l->device_public_key;
    slots[1] = &l->activation_otp;
    slots[2] = &l->activation_name;
    slots[3] = &l->extras;
    slots[4] = &l->platform;
    slots[5] = &l->device_info;
    if (n == 0
        || !(l->doc = json_loadb((const char *)plain, n, JSON_REJECT_DUPLICATES,
                                 NULL))
        || !json_is_object(l->doc))
        return PA_ERR_INVALID_INPUT_FORMAT;
    json_object_foreach(l->doc, k, v) {
        for (i = 0; i < 6 && strcmp(k, names[i]) != 0; i++)
            ;
        if (i == 6 || !(json_is_string(v) || json_is_null(v)))
            return PA_ERR_INVALID_INPUT_FORMAT;
        *slots[i] = json_is_string(v) ? json_string_value(v) : NULL;
    }
    return PA_OK;
}

/* Opens the layer-2 request with the application's master key. */
static pa_err layer2_open(const pa_eckey *master, const char *app_secret,
                          const pa_act_cryptogram *c, pa_ecies_ctx *ctx,
                          layer2 *l)
{
    uint8_t sh2[32];
    uint8_t *plain = NULL;
    size_t n = 0;
    pa_err e = pa_ecies_sh2_application(app_secret, sh2);

    memset(l, 0, sizeof *l);
    if (e == PA_OK)
        e = pa_act_ecies_open(master, PA_ECIES_SH1_ACTIVATION, sh2, sizeof sh2,
                              c, ctx, &plain, &n);
    if (e == PA_OK)
        e = layer2_parse(plain, n, l);
    if (plain)
        pa_secure_free(plain, n);
    return e;
}

static void layer2_free(layer2 *l)
{
    json_decref(l->doc);
    memset(l, 0, sizeof *l);
}

/* KEY_DEVICE_PUBLIC re-encoded uncompressed (65 bytes), or NULL when the
 * value is not a valid P-256 point in either encoding (2.2). */
static char *device_key_b64(const char *b64)
{
    pa_eckey *k = NULL;
    char *out = NULL;

    if (b64 && pa_ec_pub_import_b64(b64, &k) == PA_OK)
        pa_ec_pub_export_b64(k, &out);
    pa_ec_free(k);
    return out;
}

/* ---- the exchange itself ---------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Lower-casing works on characters, as Java's toLowerCase does, in the
 * C.UTF-8 locale made once and used per call through uselocale(): the
 * process locale stays "C", which gSOAP's number formatting relies on. */
static locale_t utf8_loc;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void make_utf8_locale(void)
{
    utf8_loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* platform lower-cased, "unknown" when absent (DATABASE.md 2).  Bytes that
 * are not UTF-8 are kept as they are. */
static char *platform_of(const char *p)
{
    size_t n, i = 0, o = 0;
    locale_t old;
    mbstate_t st;
    char *out;

    if (!p)
        return strdup("unknown");
    n = strlen(p);
    /* A lower-case form never takes more than twice the bytes. */
    if (!(out = malloc(2 * n + MB_LEN_MAX + 1)))
        return NULL;
    pthread_once(&utf8_once, make_utf8_locale);
    if (!utf8_loc) {
        for (; i < n; i++)
            out[i] = (char)tolower((unsigned char)p[i]);
        out[n] = '\0';
        return out;
    }
    old = uselocale(utf8_loc);
    memset(&st, 0, sizeof st);
    while (i < n) {
        wchar_t wc;
        size_t k = mbrtowc(&wc, p + i, n - i, &st), w;

        if (k == (size_t)-1 || k == (size_t)-2 || k == 0) {
            out[o++] = p[i++];
            memset(&st, 0, sizeof st);
            continue;
        }
        w = wcrtomb(out + o, (wchar_t)towlower((wint_t)wc), &st);
        if (w == (size_t)-1) {
            memcpy(out + o, p + i, k);
            w = k;
            memset(&st, 0, sizeof st);
        }
        o += w;
        i += k;
    }
    out[o] = '\0';
    uselocale(old);
    return out;
}

pa_err pa_act_keyx_fields(pa_store_activation *a, char *device_key,
                          const char *name, const char *extras,
                          char *platform, const char *device_info,
                          char *ctr_data, int version, int status)
{
    free(a->device_public_key);
    free(a->activation_name);
    free(a->extras);
    free(a->platform);
    free(a->device_info);
    if (a->ctr_data)
        pa_secure_free(a->ctr_data, strlen(a->ctr_data));
    a->device_public_key = device_key;
    a->activation_name = dup_or_null(name);
    a->extras = dup_or_null(extras);
    a->platform = platform;
    a->device_info = dup_or_null(device_info);
    a->ctr_data = ctr_data;
    a->version = version;
    a->status = status;
    if (!device_key || (name && !a->activation_name)
        || (extras && !a->extras) || (device_info && !a->device_info))
        return PA_ERR_UNKNOWN_ERROR;
    return PA_OK;
}

/* Writes the device's data into the row: key, names, fresh ctrData,
 * version 3 and the new status. */
static pa_err keyx_apply(pa_store_activation *a, const layer2 *l,
                         char *device_key, int status)
{
    uint8_t ctr[16];
    char ctr_b64[PA_B64_ENCLEN(16) + 1];
    char *platform, *ctr_data;
    pa_err e = pa_random(ctr, sizeof ctr);

    if (e != PA_OK) {
        free(device_key);
        return e;
    }
    pa_b64_encode(ctr, sizeof ctr, ctr_b64);
    OPENSSL_cleanse(ctr, sizeof ctr);
    platform = platform_of(l->platform);
    ctr_data = strdup(ctr_b64);
    OPENSSL_cleanse(ctr_b64, sizeof ctr_b64);
    e = pa_act_keyx_fields(a, device_key, l->activation_name, l->extras,
                           platform, l->device_info, ctr_data, 3, status);
    if (e == PA_OK && (!a->platform || !a->ctr_data))
        e = PA_ERR_UNKNOWN_ERROR;
    return e;
}

/* The encrypted layer-2 answer (6.3 step 12).  recovery: the
 * activationRecovery object, or NULL for JSON null. */
static pa_err keyx_answer(const pa_store_activation *a, json_t *recovery,
                          const pa_ecies_ctx *ctx, pa_act_keyx_res *res)
{
    json_t *doc = json_object();
    char *text = NULL;
    pa_err e = PA_ERR_ENCRYPTION_FAILED;

    if (doc
        && json_object_set_new(doc, "activationId",
                               json_string(a->activation_id)) == 0
        && json_object_set_new(doc, "serverPublicKey",
                               json_string(a->server_public_key)) == 0
        && json_object_set_new(doc, "ctrData", json_string(a->ctr_data)) == 0
        && json_object_set_new(doc, "activationRecovery",
                               recovery ? json_incref(recovery)
                                        : json_null()) == 0)
        text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text) {
        e = pa_act_ecies_seal(ctx, text, &res->encrypted_data, &res->mac);
        pa_secure_free(text, strlen(text));
    }
    json_decref(doc);
    if (e == PA_OK) {
        memcpy(res->activation_id, a->activation_id, PA_UUID_BUF);
        res->status = a->status;
        if (!(res->user_id = strdup(a->user_id)))
            e = PA_ERR_UNKNOWN_ERROR;
    }
    return e;
}

/* 6.3 step 11, 6.4 step 5: the activation's recovery code when recovery
 * is enabled for the application (*recovery NULL otherwise).  Runs inside
 * the unit after the activation is saved, so a failure (e.g. ERR0026)
 * rolls the whole exchange back (the original commits the activation
 * here, DATABASE.md 5.5).  Its Argon2 hash of the PUK costs ~100 ms on the
 * batch leader, inside the unit: accepted, as the code must be stored with
 * the activation. */
static pa_err keyx_recovery(const pa_act_env *env, const pa_store_activation *a,
                            json_t **recovery)
{
    int enabled = 0;
    pa_err e = pa_recovery_enabled(env->store, a->application_id, &enabled);

    *recovery = NULL;
    if (e == PA_OK && enabled)
        e = pa_recovery_issue_bound(env, a, recovery);
    return e;
}

pa_err pa_act_app_version(pa_store *s, const char *op, const char *key,
                          pa_err missing, pa_store_version *v)
{
    int found = 0;
    pa_err e = pa_store_version_get_by_key(s, key, v, &found);

    if (e != PA_OK)
        return pa_act_store_failed(op, e);
    return found && v->supported && v->application_secret ? PA_OK : missing;
}

void pa_act_keyx_res_free(pa_act_keyx_res *r)
{
    if (!r)
        return;
    free(r->user_id);
    free(r->encrypted_data);
    free(r->mac);
    memset(r, 0, sizeof *r);
}

/* ---- shared with RecoveryCodeActivation (activation_recovery.h) ------------ */

pa_err pa_act_layer2_open(const pa_eckey *master, const char *app_secret,
                          const pa_act_cryptogram *c, pa_ecies_ctx *ctx,
                          pa_act_layer2 *l)
{
    return layer2_open(master, app_secret, c, ctx, l);
}

void pa_act_layer2_free(pa_act_layer2 *l)
{
    layer2_free(l);
}

char *pa_act_device_key_b64(const char *b64)
{
    return device_key_b64(b64);
}

pa_err pa_act_keyx_apply(pa_store_activation *a, const pa_act_layer2 *l,
                         char *device_key, int status)
{
    return keyx_apply(a, l, device_key, status);
}

pa_err pa_act_keyx_answer(const pa_store_activation *a, json_t *recovery,
                          const pa_ecies_ctx *ctx, pa_act_keyx_res *res)
{
    return keyx_answer(a, recovery, ctx, res);
}

void pa_act_recovery_wipe_free(json_t *recovery)
{
    const char *k;
    json_t *v;

    if (json_is_object(recovery))
        json_object_foreach(recovery, k, v)
            if (json_is_string(v))
                OPENSSL_cleanse((char *)json_string_value(v),
                                json_string_length(v));
    json_decref(recovery);
}

/* ---- PrepareActivation ---------------------------------------------------------------- */

#define OP_PREPARE "PrepareActivation"

typedef struct prepare_unit {
    const pa_store_version *v;
    const char *code;
    const char *activation_id;
    const layer2 *l;
    const char *verified_hash;
    int match;
    const pa_ecies_ctx *ctx;
    pa_act_keyx_res *res;
} prepare_unit;

/* Steps 5-13 on the row, inside the write transaction. */
static pa_err prepare_tx(const pa_act_env *env, void *arg, int *keep,
                         int *queued)
{
    prepare_unit *u = arg;
    const pa_store_version *v = u->v;
    const layer2 *l = u->l;
    const char *code = u->code;
    int64_t now = pa_time_now_ms();
    pa_store_activation a = {0};
    json_t *recovery = NULL;
    int expired = 0;
    char *device_key;
    pa_err e = pa_act_load(env->store, OP_PREPARE, u->activation_id, &a);

    if (e == PA_ERR_ACTIVATION_NOT_FOUND)
        goto out;
    if (e == PA_OK)
        e = pa_act_store_failed(OP_PREPARE,
                                pa_lifecycle_expire_if_due(env->store, &a, now,
                                                           &expired, queued));
    if (e != PA_OK)
        goto out;
    *keep = expired;
    if (a.status != PA_STATUS_CREATED || a.application_id != v->application_id
        || !a.activation_code || strlen(a.activation_code) != PA_CODE_LEN
        || strcmp(a.activation_code, code) != 0) {
        e = PA_ERR_ACTIVATION_EXPIRED;
        goto out;
    }
    e = pa_act_check_otp(env->store, &a, PA_OTP_ON_KEY_EXCHANGE,
                         l->activation_otp, u->verified_hash, u->match, NULL,
                         now, keep, queued);
    if (e != PA_OK)
        goto out;
    if (!(device_key = device_key_b64(l->device_public_key))) {
        /* 6.3 step 7: the activation is burnt, and that is kept. */
        a.status = PA_STATUS_REMOVED;
        e = pa_lifecycle_save(env->store, &a, NULL, NULL, 1, now, queued);
        *keep = e == PA_OK;
        e = e == PA_OK ? PA_ERR_ACTIVATION_NOT_FOUND : e;
        goto out;
    }
    e = keyx_apply(&a, l, device_key,
                   l->activation_otp ? PA_STATUS_ACTIVE
                                     : PA_STATUS_PENDING_COMMIT);
    if (e == PA_OK)
        e = pa_act_store_failed(OP_PREPARE,
                                pa_lifecycle_save(env->store, &a, NULL, NULL, 1,
                                                  now, queued));
    if (e == PA_OK)
        e = keyx_recovery(env, &a, &recovery);
    if (e == PA_OK)
        e = keyx_answer(&a, recovery, u->ctx, u->res);
out:
    pa_act_recovery_wipe_free(recovery);
    pa_store_activation_free(&a);
    return e;
}

pa_err pa_activation_prepare(const pa_act_env *env,
                             const pa_act_prepare_req *req,
                             pa_act_keyx_res *res)
{
    pa_store_version v;
    pa_store_activation found_row;
    pa_eckey *master = NULL;
    pa_ecies_ctx ctx;
    layer2 l;
    int64_t keypair_id = 0;
    char *verified_hash = NULL;
    int found = 0, match = 0;
    prepare_unit u;
    pa_err e;

    memset(res, 0, sizeof *res);
    memset(&v, 0, sizeof v);
    memset(&found_row, 0, sizeof found_row);
    memset(&l, 0, sizeof l);
    memset(&ctx, 0, sizeof ctx);
    if (!req->activation_code || !req->application_key)
        return PA_ERR_INVALID_REQUEST;
    if ((e = pa_act_app_version(env->store, OP_PREPARE, req->application_key,
                         PA_ERR_ACTIVATION_EXPIRED, &v)) != PA_OK
        || (e = pa_act_master_private(env->store, OP_PREPARE, v.application_id,
                                      &master, &keypair_id)) != PA_OK
        || (e = layer2_open(master, v.application_secret, &req->c, &ctx, &l))
               != PA_OK)
        goto out;
    e = pa_store_activation_find_by_code(env->store, v.application_id,
                                         req->activation_code,
                                         pa_time_now_ms(), &found_row, &found);
    if (e != PA_OK) {
        e = pa_act_store_failed(OP_PREPARE, e);
        goto out;
    }
    if (!found) {
        e = PA_ERR_ACTIVATION_NOT_FOUND;
        goto out;
    }
    /* Argon2 outside the lock; prepare_tx re-checks the hash is the same. */
    if (found_row.otp_validation == PA_OTP_ON_KEY_EXCHANGE && l.activation_otp
        && found_row.activation_otp) {
        pa_act_otp_verify(l.activation_otp, found_row.activation_otp, &match);
        verified_hash = found_row.activation_otp;
    }
    u = (prepare_unit){&v, req->activation_code, found_row.activation_id, &l,
                       verified_hash, match, &ctx, res};
    e = pa_act_write(env, OP_PREPARE, prepare_tx, &u);
out:
    if (e != PA_OK)
        pa_act_keyx_res_free(res);
    layer2_free(&l);
    pa_ecies_ctx_wipe(&ctx);
    pa_ec_free(master);
    pa_store_activation_free(&found_row);
    pa_store_version_free(&v);
    return e;
}

/* ---- CreateActivation ----------------------------------------------------------------- */

#define OP_CREATE "CreateActivation"

typedef struct create_unit {
    const pa_act_init_req *init;
    const char *otp_hash;
    pa_eckey *server_key;
    const layer2 *l;
    char *device_key;            /* taken by keyx_apply */
    const pa_ecies_ctx *ctx;
    pa_act_keyx_res *res;
} create_unit;

/* Init and key exchange in one transaction: all or nothing. */
static pa_err create_tx(const pa_act_env *env, void *arg, int *keep,
                        int *queued)
{
    create_unit *u = arg;
    pa_store_activation a = {0};
    json_t *recovery = NULL;
    char *signature = NULL;
    int64_t now;
    pa_err e = pa_act_init_tx(env, u->init, u->otp_hash, u->server_key, &a,
                              &signature, queued);

    (void)keep;
    now = pa_time_now_ms();
    /* Expired right after init (a deadline in the past): the whole call
     * fails and, being all-or-nothing, leaves nothing behind. */
    if (e == PA_OK && pa_lifecycle_is_expired(&a, now))
        e = PA_ERR_ACTIVATION_EXPIRED;
    if (e == PA_OK) {
        e = keyx_apply(&a, u->l, u->device_key, PA_STATUS_PENDING_COMMIT);
        u->device_key = NULL;
    }
    if (e == PA_OK)
        e = pa_lifecycle_save(env->store, &a, NULL, NULL, 1, now, queued);
    if (e == PA_OK)
        e = keyx_recovery(env, &a, &recovery);
    if (e == PA_OK)
        e = keyx_answer(&a, recovery, u->ctx, u->res);
    pa_act_recovery_wipe_free(recovery);
    free(signature);
    pa_store_activation_free(&a);
    return e;
}

pa_err pa_activation_create(const pa_act_env *env,
                            const pa_act_create_req *req,
                            pa_act_keyx_res *res)
{
    pa_store_version v;
    pa_act_init_req init;
    pa_eckey *master = NULL, *server_key = NULL;
    pa_ecies_ctx ctx;
    layer2 l;
    int64_t keypair_id = 0;
    char *otp_hash = NULL, *device_key = NULL;
    create_unit u;
    pa_err e;

    memset(res, 0, sizeof *res);
    memset(&v, 0, sizeof v);
    memset(&l, 0, sizeof l);
    memset(&ctx, 0, sizeof ctx);
    if (!req->application_key)
        return PA_ERR_INVALID_REQUEST;
    if ((e = pa_act_app_version(env->store, OP_CREATE, req->application_key,
                         PA_ERR_INVALID_APPLICATION, &v)) != PA_OK)
        goto out;
    init = (pa_act_init_req){
        .user_id = req->user_id, .application_id = v.application_id,
        .has_expire = req->has_expire, .expire_ms = req->expire_ms,
        .has_max_failures = req->has_max_failures,
        .max_failures = req->max_failures,
        .otp_mode = req->otp ? PA_OTP_ON_COMMIT : PA_OTP_NONE, .otp = req->otp};
    if ((e = pa_act_init_check(&init)) != PA_OK
        || (e = pa_act_master_private(env->store, OP_CREATE, v.application_id,
                                      &master, &keypair_id)) != PA_OK
        || (e = layer2_open(master, v.application_secret, &req->c, &ctx, &l))
               != PA_OK)
        goto out;
    /* 6.4 step 4; the layer-2 activationOtp is ignored here. */
    if (!(device_key = device_key_b64(l.device_public_key))) {
        e = PA_ERR_ACTIVATION_EXPIRED;
        goto out;
    }
    l.activation_otp = NULL;
    if ((e = pa_act_otp_hash(req->otp, &otp_hash)) != PA_OK
        || (e = pa_ec_generate(&server_key)) != PA_OK)
        goto out;
    u = (create_unit){&init, otp_hash, server_key, &l, device_key, &ctx, res};
    e = pa_act_write(env, OP_CREATE, create_tx, &u);
    device_key = u.device_key;
out:
    if (e != PA_OK)
        pa_act_keyx_res_free(res);
    free(device_key);
    layer2_free(&l);
    pa_ecies_ctx_wipe(&ctx);
    pa_ec_free(master);
    pa_ec_free(server_key);
    if (otp_hash)
        pa_secure_free(otp_hash, strlen(otp_hash));
    pa_store_version_free(&v);
    return e;
}
