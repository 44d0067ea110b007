/*
 * device.c - the device state, its keys, the ECIES request in flight and
 * the protocol-3 key exchange (CRYPTO.md 3, 5.6, 6.3, 6.4, 6.6, 4.4).
 *
 * Everything here is client-side: the device encrypts to the server's
 * public keys and reads the answers with the context it kept.  The other
 * flows live in device_ops.c (tokens, vault, upgrade, recovery),
 * device_sig.c (signatures, status) and device_v2.c (protocol 2).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/primitives.h"
#include "tools/padevice/device.h"
#include "util/base64.h"

/* --- small helpers ----------------------------------------------------------- */

pa_err pa_device_strdup(const char *s, char **out)
{
    *out = NULL;
    if (s == NULL)
        return PA_OK;
    *out = strdup(s);
    return *out ? PA_OK : PA_ERR_UNKNOWN_ERROR;
}

void pa_device_free_secret(char *s)
{
    if (s != NULL)
        pa_secure_free(s, strlen(s));
}

static const char *const protocol_names[] = {"2.1", "3.0", "3.1"};

pa_err pa_device_protocol_parse(const char *s, pa_device_protocol *out)
{
    for (int i = 0; s != NULL && i < 3; i++)
        if (strcmp(s, protocol_names[i]) == 0) {
            *out = (pa_device_protocol)i;
            return PA_OK;
        }
    return PA_ERR_INVALID_INPUT_FORMAT;
}

const char *pa_device_protocol_name(pa_device_protocol p)
{
    return (unsigned)p < 3 ? protocol_names[p] : NULL;
}

const char *pa_device_signature_version(const pa_device *d)
{
    return pa_device_protocol_name(d->protocol);
}

static const char *const pending_names[] = {
    "none", "activation", "token", "vault", "upgrade", "recovery", "generic",
    "v2-token"};
#define NPENDING (sizeof pending_names / sizeof pending_names[0])

const char *pa_device_pending_name(pa_device_pending_kind k)
{
    return (unsigned)k < NPENDING ? pending_names[k] : NULL;
}

pa_err pa_device_pending_parse(const char *s, pa_device_pending_kind *out)
{
    for (size_t i = 0; s != NULL && i < NPENDING; i++)
        if (strcmp(s, pending_names[i]) == 0) {
            *out = (pa_device_pending_kind)i;
            return PA_OK;
        }
    return PA_ERR_INVALID_INPUT_FORMAT;
}

/* --- lifecycle --------------------------------------------------------------- */

static int b64_nonempty(const char *s)
{
    uint8_t *b = NULL;
    size_t n = 0;
    int ok = s != NULL && pa_b64_decode_alloc(s, &b, &n) == PA_OK && n > 0;

    pa_secure_free(b, n);
    return ok;
}

pa_err pa_device_new(const char *protocol, const char *app_key,
                     const char *app_secret, const char *master_pub_b64,
                     pa_device **out)
{
    pa_device *d;
    pa_err e;

    *out = NULL;
    if ((d = calloc(1, sizeof *d)) == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    e = pa_device_protocol_parse(protocol ? protocol : "3.1", &d->protocol);
    /* The key and secret must at least be Base64: protocol 2 decodes them. */
    if (e == PA_OK && (!b64_nonempty(app_key) || !b64_nonempty(app_secret)))
        e = PA_ERR_INVALID_INPUT_FORMAT;
    if (e == PA_OK)
        e = pa_ec_pub_import_b64(master_pub_b64 ? master_pub_b64 : "",
                                 &d->master_pub);
    if (e == PA_OK)
        e = pa_device_strdup(app_key, &d->app_key);
    if (e == PA_OK)
        e = pa_device_strdup(app_secret, &d->app_secret);
    if (e != PA_OK) {
        pa_device_free(d);
        return e;
    }
    *out = d;
    return PA_OK;
}

static void free_tokens(pa_device *d)
{
    for (size_t i = 0; i < d->ntokens; i++) {
        free(d->tokens[i].id);
        OPENSSL_cleanse(d->tokens[i].secret, sizeof d->tokens[i].secret);
    }
    free(d->tokens);
    d->tokens = NULL;
    d->ntokens = 0;
}

void pa_device_pending_clear(pa_device *d)
{
    d->pending = PA_DEVICE_PENDING_NONE;
    pa_ecies_ctx_wipe(&d->pending_ctx);
}

static void clear_v2_pending(pa_device *d)
{
    pa_device_free_secret(d->v2_otp);
    free(d->v2_salt);
    d->v2_otp = d->v2_salt = NULL;
    OPENSSL_cleanse(d->v2_nonce, sizeof d->v2_nonce);
    d->has_v2_pending = 0;
}

void pa_device_reset_activation(pa_device *d, pa_eckey *new_key)
{
    pa_ec_free(d->device_key);
    d->device_key = new_key;
    free(d->activation_id);
    d->activation_id = NULL;
    pa_ec_free(d->server_pub);
    d->server_pub = NULL;
    d->version = 0;
    d->counter = 0;
    d->has_ctr_data = 0;
    OPENSSL_cleanse(d->ctr_data, sizeof d->ctr_data);
    pa_device_pending_clear(d);
    free_tokens(d);
    pa_device_free_secret(d->recovery_code);
    pa_device_free_secret(d->puk);
    d->recovery_code = d->puk = NULL;
    clear_v2_pending(d);
    d->has_challenge = 0;
    OPENSSL_cleanse(d->challenge, sizeof d->challenge);
}

void pa_device_free(pa_device *d)
{
    if (d == NULL)
        return;
    pa_device_reset_activation(d, NULL);
    free(d->app_key);
    pa_device_free_secret(d->app_secret);
    pa_ec_free(d->master_pub);
    OPENSSL_cleanse(d, sizeof *d);
    free(d);
}

pa_err pa_device_set_protocol(pa_device *d, const char *protocol)
{
    return pa_device_protocol_parse(protocol, &d->protocol);
}

/* --- keys -------------------------------------------------------------------- */

static int activated(const pa_device *d)
{
    return (d->version == 2 || d->version == 3) && d->device_key != NULL
           && d->server_pub != NULL && d->activation_id != NULL;
}

pa_err pa_device_keys(const pa_device *d, pa_derived_keys *out)
{
    memset(out, 0, sizeof *out);
    if (!activated(d))
        return PA_ERR_ACTIVATION_INCORRECT_STATE;
    return pa_keys_from_pair(d->device_key, d->server_pub, out);
}

pa_err pa_device_fingerprint(const pa_device *d, char out[PA_FINGERPRINT_BUF])
{
    out[0] = '\0';
    if (!activated(d))
        return PA_ERR_ACTIVATION_INCORRECT_STATE;
    if (d->version == 2)
        return pa_fingerprint_v2(d->device_key, out);
    return pa_fingerprint_v3(d->device_key, d->activation_id, d->server_pub,
                             out);
}

const pa_device_token *pa_device_token_find(const pa_device *d,
                                            const char *id)
{
    for (size_t i = 0; id != NULL && i < d->ntokens; i++)
        if (strcmp(d->tokens[i].id, id) == 0)
            return &d->tokens[i];
    return NULL;
}

/* --- ECIES ------------------------------------------------------------------- */

static pa_err b64_set(json_t *o, const char *k, const uint8_t *b, size_t n)
{
    char *t = NULL;
    pa_err e = pa_b64_encode_alloc(b, n, &t);

    if (e == PA_OK && json_object_set_new(o, k, json_string(t)) != 0)
        e = PA_ERR_UNKNOWN_ERROR;
    free(t);
    return e;
}

json_t *pa_device_cryptogram_json(const pa_ecies_cryptogram *c)
{
    json_t *o = json_object();

    if (o == NULL || b64_set(o, "ephemeralPublicKey", c->eph, c->eph_len)
        || b64_set(o, "encryptedData", c->data, c->data_len)
        || b64_set(o, "mac", c->mac, sizeof c->mac)
        || (c->has_nonce && b64_set(o, "nonce", c->nonce, sizeof c->nonce))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* SH2 and recipient key of a scope (5.7). */
static pa_err scope_params(const pa_device *d, int activation_scope,
                           uint8_t sh2[PA_ECIES_SH2_LEN],
                           const pa_eckey **recipient)
{
    pa_derived_keys k;
    pa_err e;

    if (!activation_scope) {
        *recipient = d->master_pub;
        return pa_ecies_sh2_application(d->app_secret, sh2);
    }
    *recipient = d->server_pub;
    if ((e = pa_device_keys(d, &k)) == PA_OK)
        e = pa_ecies_sh2_activation(k.transport, d->app_secret, sh2);
    pa_keys_wipe(&k);
    return e;
}

pa_err pa_device_seal(pa_device *d, pa_device_pending_kind k,
                      int activation_scope, const char *sh1,
                      const uint8_t *plain, size_t n, int compressed,
                      pa_ecies_cryptogram *out)
{
    uint8_t sh2[PA_ECIES_SH2_LEN];
    const pa_eckey *recipient = NULL;
    pa_err e;

    memset(out, 0, sizeof *out);
    pa_device_pending_clear(d);
    e = scope_params(d, activation_scope, sh2, &recipient);
    if (e == PA_OK)
        e = pa_ecies_client_encrypt(recipient, sh1, sh2, sizeof sh2,
                                    d->protocol == PA_DEVICE_P31, compressed,
                                    plain, n, out, &d->pending_ctx);
    OPENSSL_cleanse(sh2, sizeof sh2);
    if (e == PA_OK)
        d->pending = k;
    return e;
}

pa_err pa_device_open_response(pa_device *d, pa_device_pending_kind k,
                               const uint8_t *ct, size_t n,
                               const uint8_t *mac, size_t mac_len,
                               uint8_t **plain, size_t *plain_len)
{
    *plain = NULL;
    *plain_len = 0;
    if (d->pending != k || k == PA_DEVICE_PENDING_NONE)
        return PA_ERR_INVALID_REQUEST;
    return pa_ecies_client_decrypt_response(&d->pending_ctx, ct, n, mac,
                                            mac_len, plain, plain_len);
}

pa_err pa_device_parse_json(const uint8_t *plain, size_t n, json_t **out)
{
    *out = json_loadb((const char *)plain, n, JSON_REJECT_DUPLICATES, NULL);
    if (*out != NULL && !json_is_object(*out)) {
        pa_device_json_wipe_free(*out);
        *out = NULL;
    }
    return *out ? PA_OK : PA_ERR_INVALID_INPUT_FORMAT;
}

pa_err pa_device_open_json(pa_device *d, pa_device_pending_kind k,
                           const uint8_t *ct, size_t n, const uint8_t *mac,
                           size_t mac_len, json_t **doc)
{
    uint8_t *plain = NULL;
    size_t plen = 0;
    pa_err e = pa_device_open_response(d, k, ct, n, mac, mac_len, &plain,
                                       &plen);

    *doc = NULL;
    if (e == PA_OK)
        e = pa_device_parse_json(plain, plen, doc);
    pa_secure_free(plain, plen);
    return e;
}

pa_err pa_device_ecies_request(pa_device *d, int activation_scope,
                               const char *sh1, const uint8_t *plain,
                               size_t n, int compressed,
                               pa_ecies_cryptogram *out)
{
    return pa_device_seal(d, PA_DEVICE_PENDING_GENERIC, activation_scope, sh1,
                          plain, n, compressed, out);
}

pa_err pa_device_ecies_response(pa_device *d, const uint8_t *ct, size_t n,
                                const uint8_t *mac, size_t mac_len,
                                uint8_t **plain, size_t *plain_len)
{
    pa_err e = pa_device_open_response(d, PA_DEVICE_PENDING_GENERIC, ct, n,
                                       mac, mac_len, plain, plain_len);

    if (e == PA_OK)
        pa_device_pending_clear(d);
    return e;
}

/* --- protocol-3 key exchange --------------------------------------------------- */

/* Adds an optional string property; NULL values are left out (the SDK
 * omits absent properties), invalid UTF-8 is an input error. */
static pa_err opt_set(json_t *o, const char *k, const char *v)
{
    json_t *s;

    if (v == NULL)
        return PA_OK;
    if ((s = json_string(v)) == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    return json_object_set_new(o, k, s) == 0 ? PA_OK : PA_ERR_UNKNOWN_ERROR;
}

/* The layer-2 request document of 6.3 step 4. */
static pa_err layer2_request(const pa_eckey *dev,
                             const pa_device_activation_opts *o, char **out)
{
    const struct {
        const char *name, *value;
    } props[] = {{"activationOtp", o->otp},
                 {"activationName", o->name},
                 {"extras", o->extras},
                 {"platform", o->platform},
                 {"deviceInfo", o->device_info}};
    uint8_t pub[PA_EC_PUB_LEN];
    json_t *doc = json_object();
    pa_err e = doc ? PA_OK : PA_ERR_UNKNOWN_ERROR;

    *out = NULL;
    if (e == PA_OK)
        e = o->compressed_device_key ? pa_ec_pub_export_compressed(dev, pub)
                                     : pa_ec_pub_export(dev, pub);
    if (e == PA_OK)
        e = b64_set(doc, "devicePublicKey", pub,
                    o->compressed_device_key ? PA_EC_PUB_COMPRESSED_LEN
                                             : PA_EC_PUB_LEN);
    for (size_t i = 0; e == PA_OK && i < sizeof props / sizeof props[0]; i++)
        e = opt_set(doc, props[i].name, props[i].value);
    if (e == PA_OK && (*out = json_dumps(doc, JSON_COMPACT)) == NULL)
        e = PA_ERR_UNKNOWN_ERROR;
    pa_device_json_wipe_free(doc);
    return e;
}

pa_err pa_device_activation_request(pa_device *d,
                                    const pa_device_activation_opts *o,
                                    pa_ecies_cryptogram *out)
{
    pa_device_activation_opts none = {0};
    pa_eckey *key = NULL;
    char *text = NULL;
    pa_err e;

    memset(out, 0, sizeof *out);
    if (o == NULL)
        o = &none;
    if ((e = pa_ec_generate(&key)) != PA_OK)
        return e;
    if ((e = layer2_request(key, o, &text)) != PA_OK) {
        pa_ec_free(key);
        return e;
    }
    /* A new key exchange replaces whatever the device had. */
    pa_device_reset_activation(d, key);
    e = pa_device_seal(d, PA_DEVICE_PENDING_ACTIVATION, 0,
                       PA_ECIES_SH1_ACTIVATION, (const uint8_t *)text,
                       strlen(text), o->compressed_eph, out);
    pa_device_free_secret(text);
    return e;
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* activationRecovery: null/absent, or {"recoveryCode","puk"}. */
static pa_err parse_recovery(json_t *r, char **code, char **puk)
{
    *code = *puk = NULL;
    if (r == NULL || json_is_null(r))
        return PA_OK;
    if (!json_is_object(r) || jstr(r, "recoveryCode") == NULL
        || jstr(r, "puk") == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    if (pa_device_strdup(jstr(r, "recoveryCode"), code) != PA_OK
        || pa_device_strdup(jstr(r, "puk"), puk) != PA_OK) {
        pa_device_free_secret(*code);
        pa_device_free_secret(*puk);
        *code = *puk = NULL;
        return PA_ERR_UNKNOWN_ERROR;
    }
    return PA_OK;
}

/* Everything the layer-2 response carries, checked before it is stored. */
typedef struct {
    char *id, *code, *puk;
    pa_eckey *server_pub;
    uint8_t ctr[16];
} layer2_response;

static void layer2_response_free(layer2_response *r)
{
    free(r->id);
    pa_device_free_secret(r->code);
    pa_device_free_secret(r->puk);
    pa_ec_free(r->server_pub);
    OPENSSL_cleanse(r, sizeof *r);
}

static pa_err parse_layer2_response(json_t *doc, layer2_response *r)
{
    const char *id = jstr(doc, "activationId");
    const char *ctr = jstr(doc, "ctrData");
    pa_err e;

    memset(r, 0, sizeof *r);
    if (id == NULL || *id == '\0' || ctr == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    if ((e = pa_b64_decode_exact(ctr, r->ctr, sizeof r->ctr)) != PA_OK)
        return e;
    e = pa_ec_pub_import_b64(jstr(doc, "serverPublicKey")
                                 ? jstr(doc, "serverPublicKey") : "",
                             &r->server_pub);
    if (e == PA_OK)
        e = parse_recovery(json_object_get(doc, "activationRecovery"),
                           &r->code, &r->puk);
    if (e == PA_OK)
        e = pa_device_strdup(id, &r->id);
    if (e != PA_OK)
        layer2_response_free(r);
    return e;
}

pa_err pa_device_activation_response(pa_device *d, const uint8_t *ct,
                                     size_t n, const uint8_t *mac,
                                     size_t mac_len)
{
    layer2_response r;
    json_t *doc = NULL;
    pa_err e = pa_device_open_json(d, PA_DEVICE_PENDING_ACTIVATION, ct, n,
                                   mac, mac_len, &doc);

    if (e == PA_OK)
        e = parse_layer2_response(doc, &r);
    pa_device_json_wipe_free(doc);
    if (e != PA_OK)
        return e;
    pa_device_pending_clear(d);
    free(d->activation_id);
    pa_ec_free(d->server_pub);
    pa_device_free_secret(d->recovery_code);
    pa_device_free_secret(d->puk);
    d->activation_id = r.id;
    d->server_pub = r.server_pub;
    d->recovery_code = r.code;
    d->puk = r.puk;
    memcpy(d->ctr_data, r.ctr, sizeof d->ctr_data);
    d->has_ctr_data = 1;
    d->version = 3;
    d->counter = 0;
    OPENSSL_cleanse(&r, sizeof r);
    return PA_OK;
}

pa_err pa_device_verify_activation_signature(const pa_device *d,
                                             const char *code,
                                             const uint8_t *sig,
                                             size_t siglen, int *valid)
{
    pa_err e;

    *valid = 0;
    if (code == NULL || sig == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    e = pa_code_verify_signature(d->master_pub, code, sig, siglen, valid);
    /* For the device a signature that is not even DER is just not valid. */
    return e == PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR ? PA_OK : e;
}
