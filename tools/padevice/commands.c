/*
 * commands.c - the padevice commands of protocol 3 and the general ones.
 *
 * Each handler turns its options into library calls (device.h) and the
 * results into output fields named after the SOAP contract.  Decoded
 * option buffers that may hold secrets are wiped before they are freed.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "crypto/primitives.h"
#include "tools/padevice/cli.h"
#include "util/base64.h"

static void free_buf(uint8_t *b, size_t n)
{
    pa_secure_free(b, n);
}

/* --- set-up ---------------------------------------------------------------- */

pa_err cmd_init(cli_ctx *c)
{
    const char *proto = cli_arg(c, "protocol");
    pa_err e = pa_device_new(proto ? proto : "3.1",
                             cli_arg(c, "application-key"),
                             cli_arg(c, "application-secret"),
                             cli_arg(c, "master-public-key"), &c->dev);

    if (e != PA_OK)
        return cli_usage(c, "--protocol must be 2.1, 3.0 or 3.1, the key "
                            "and secret Base64, the master key a P-256 "
                            "public key in Base64");
    if ((e = cli_put_str(c, "protocol", proto ? proto : "3.1")) == PA_OK)
        e = cli_put_str(c, "applicationKey", c->dev->app_key);
    return e;
}

pa_err cmd_set_protocol(cli_ctx *c)
{
    if (pa_device_set_protocol(c->dev, cli_arg(c, "protocol")) != PA_OK)
        return cli_usage(c, "--protocol must be 2.1, 3.0 or 3.1");
    return cli_put_str(c, "protocol", cli_arg(c, "protocol"));
}

/* --- protocol-3 activation -------------------------------------------------- */

static pa_err activation_request(cli_ctx *c, int with_code)
{
    pa_device_activation_opts o = {
        .otp = cli_arg(c, "otp"),
        .name = cli_arg(c, "name"),
        .extras = cli_arg(c, "extras"),
        .platform = cli_arg(c, "platform"),
        .device_info = cli_arg(c, "device-info"),
        .compressed_eph = cli_compressed(c),
        .compressed_device_key = cli_flag(c, "compressed-device-key"),
    };
    pa_ecies_cryptogram cg;
    pa_err e = pa_device_activation_request(c->dev, &o, &cg);

    if (e == PA_OK && with_code)
        e = cli_put_str(c, "activationCode", cli_arg(c, "activation-code"));
    if (e == PA_OK)
        e = cli_put_request(c, 0, &cg);
    pa_ecies_cryptogram_free(&cg);
    return e;
}

pa_err cmd_prepare_activation(cli_ctx *c)
{
    return activation_request(c, 1);
}

pa_err cmd_create_activation(cli_ctx *c)
{
    return activation_request(c, 0);
}

static json_t *recovery_json(const pa_device *d)
{
    if (d->recovery_code == NULL || d->puk == NULL)
        return json_null();
    return json_pack("{s:s, s:s}", "recoveryCode", d->recovery_code, "puk",
                     d->puk);
}

pa_err cmd_activation_response(cli_ctx *c)
{
    char fp[PA_FINGERPRINT_BUF];
    uint8_t *ct = NULL, *mac = NULL;
    size_t n = 0, m = 0;
    pa_err e = cli_response_args(c, &ct, &n, &mac, &m);

    if (e == PA_OK)
        e = pa_device_activation_response(c->dev, ct, n, mac, m);
    free(ct);
    free(mac);
    if (e == PA_OK)
        e = pa_device_fingerprint(c->dev, fp);
    if (e == PA_OK)
        e = cli_put_str(c, "activationId", c->dev->activation_id);
    if (e == PA_OK)
        e = cli_put_pub(c, "serverPublicKey", c->dev->server_pub);
    if (e == PA_OK)
        e = cli_put_b64(c, "ctrData", c->dev->ctr_data, 16);
    if (e == PA_OK)
        e = cli_put(c, "activationRecovery", recovery_json(c->dev));
    if (e == PA_OK)
        e = cli_put_str(c, "devicePublicKeyFingerprint", fp);
    return e;
}

pa_err cmd_verify_activation_signature(cli_ctx *c)
{
    uint8_t *sig = NULL;
    size_t n = 0;
    int valid = 0;
    pa_err e = cli_b64(c, "activation-signature", &sig, &n);

    if (e == PA_OK)
        e = pa_device_verify_activation_signature(
            c->dev, cli_arg(c, "activation-code"), sig, n, &valid);
    free(sig);
    if (e == PA_OK)
        e = cli_put(c, "valid", json_boolean(valid));
    return e;
}

/* --- online and offline signatures ------------------------------------------ */

/* The body part: --body, --body-file or the canonical --query (8.1). */
static pa_err sign_body(cli_ctx *c, uint8_t **b, size_t *n)
{
    const char *body = cli_arg(c, "body"), *file = cli_arg(c, "body-file");
    const char *query = cli_arg(c, "query");
    char *canon = NULL;

    *b = NULL;
    *n = 0;
    if ((body != NULL) + (file != NULL) + (query != NULL) > 1)
        return cli_usage(c, "give one of --body, --body-file, --query");
    if (file != NULL)
        return cli_read_file(c, file, b, n);
    if (query != NULL && pa_sig_canonical_query(query, &canon) != PA_OK)
        return cli_usage(c, "option --query: malformed %%-escape");
    if (query == NULL && (canon = strdup(body ? body : "")) == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    *b = (uint8_t *)canon;
    *n = strlen(canon);
    return PA_OK;
}

static pa_err put_signature(cli_ctx *c, const pa_device_signature *s,
                            const char *data_name)
{
    pa_err e = cli_put_str(c, "signature", s->signature);

    if (e == PA_OK)
        e = cli_put_str(c, "signatureType", pa_sig_type_name(s->type));
    if (e == PA_OK && s->version[0] != '\0')
        e = cli_put_str(c, "signatureVersion", s->version);
    if (e == PA_OK)
        e = cli_put_str(c, data_name, s->data_string);
    if (e == PA_OK)
        e = cli_put_str(c, "nonce", s->nonce_b64);
    return e;
}

pa_err cmd_sign(cli_ctx *c)
{
    pa_device_signature s;
    pa_sig_type t;
    uint8_t nonce[16], *body = NULL;
    size_t blen = 0;
    int has_nonce = 0;
    pa_err e;

    if (pa_sig_type_parse(cli_arg(c, "signature-type"), &t) != PA_OK)
        return cli_usage(c, "--signature-type: e.g. possession_knowledge or "
                            "POSSESSION_KNOWLEDGE");
    if ((e = cli_b64_exact(c, "nonce", nonce, 16, &has_nonce)) != PA_OK
        || (e = sign_body(c, &body, &blen)) != PA_OK)
        return e;
    e = pa_device_sign(c->dev, cli_arg(c, "method"), cli_arg(c, "uri-id"),
                       body, blen, t, has_nonce ? nonce : NULL,
                       !cli_flag(c, "no-advance"), &s);
    free_buf(body, blen);
    if (e == PA_ERR_INVALID_INPUT_FORMAT)
        return cli_usage(c, "--method must be letters only");
    if (e == PA_OK)
        e = put_signature(c, &s, "data");
    pa_device_signature_free(&s);
    return e;
}

pa_err cmd_offline_sign(cli_ctx *c)
{
    pa_device_signature s;
    int valid = 0;
    pa_err e = pa_device_offline_sign(c->dev, cli_arg(c, "offline-data"),
                                      cli_arg(c, "uri-id"), cli_arg(c, "body"),
                                      cli_flag(c, "biometry"), &valid, &s);

    if (e == PA_ERR_INVALID_INPUT_FORMAT)
        return cli_fail(c, e, "--offline-data is not an offline payload");
    if (e == PA_OK)
        e = cli_put(c, "payloadValid", json_boolean(valid));
    if (e == PA_OK && valid)
        e = put_signature(c, &s, "data");
    if (e == PA_OK && !valid) {
        c->exit_code = CLI_EXIT_REFUSED;
        snprintf(c->why, sizeof c->why,
                 "the payload signature does not verify; nothing signed");
    }
    pa_device_signature_free(&s);
    return e;
}

/* --- activation status ------------------------------------------------------- */

pa_err cmd_status_challenge(cli_ctx *c)
{
    uint8_t ch[PA_STATUS_CHALLENGE_LEN];
    pa_err e = pa_device_status_challenge(c->dev, ch);

    if (e == PA_OK)
        e = cli_put_b64(c, "challenge", ch, sizeof ch);
    return e;
}

static pa_err put_status(cli_ctx *c, const pa_device_status *st)
{
    const char *name = pa_device_status_name(st->f.status);
    const struct {
        const char *name;
        int value;
    } n[] = {{"currentVersion", st->f.current_version},
             {"upgradeVersion", st->f.upgrade_version},
             {"failedAttempts", st->f.failed_attempts},
             {"maxFailedAttempts", st->f.max_failed_attempts},
             {"ctrLookAhead", st->f.ctr_look_ahead},
             {"ctrByte", st->f.ctr_byte}};
    pa_err e = cli_put(c, "activationStatus",
                       name ? json_string(name) : json_integer(st->f.status));

    for (size_t i = 0; e == PA_OK && i < sizeof n / sizeof n[0]; i++)
        e = cli_put(c, n[i].name, json_integer(n[i].value));
    if (e == PA_OK)
        e = cli_put(c, "ctrDataHashMatches",
                    st->hash_checked ? json_boolean(st->hash_matches) : NULL);
    if (e == PA_OK)
        e = cli_put(c, "ctrDataDistance",
                    st->hash_matches ? json_integer(st->distance) : NULL);
    return e;
}

pa_err cmd_status_decrypt(cli_ctx *c)
{
    uint8_t blob[PA_STATUS_BLOB_LEN], nonce[16], ch[16];
    int has_blob = 0, has_nonce = 0, has_ch = 0;
    pa_device_status st;
    pa_err e;

    if ((e = cli_b64_exact(c, "encrypted-status-blob", blob, sizeof blob,
                           &has_blob)) != PA_OK
        || (e = cli_b64_exact(c, "encrypted-status-blob-nonce", nonce, 16,
                              &has_nonce)) != PA_OK
        || (e = cli_b64_exact(c, "challenge", ch, 16, &has_ch)) != PA_OK)
        return e;
    if (has_ch && !has_nonce)
        return cli_usage(c, "--challenge needs --encrypted-status-blob-nonce");
    e = pa_device_status_decrypt(c->dev, blob, has_nonce ? nonce : NULL,
                                 has_ch ? ch : NULL, cli_flag(c, "resync"),
                                 &st);
    if (e == PA_ERR_INVALID_REQUEST)
        return cli_fail(c, e, "no challenge: run status-challenge first or "
                              "give --challenge");
    if (e == PA_OK)
        e = put_status(c, &st);
    OPENSSL_cleanse(&st, sizeof st);
    return e;
}

/* --- tokens --------------------------------------------------------------------- */

pa_err cmd_token_request(cli_ctx *c)
{
    pa_ecies_cryptogram cg;
    pa_err e = pa_device_token_request(c->dev, cli_compressed(c), &cg);

    if (e == PA_OK)
        e = cli_put_request(c, 1, &cg);
    pa_ecies_cryptogram_free(&cg);
    return e;
}

static pa_err put_token(cli_ctx *c, const pa_device_token *t)
{
    pa_err e = cli_put_str(c, "tokenId", t->id);

    if (e == PA_OK)
        e = cli_put_b64(c, "tokenSecret", t->secret, sizeof t->secret);
    return e;
}

pa_err cmd_token_response(cli_ctx *c)
{
    const pa_device_token *t = NULL;
    uint8_t *ct = NULL, *mac = NULL;
    size_t n = 0, m = 0;
    pa_err e = cli_response_args(c, &ct, &n, &mac, &m);

    if (e == PA_OK)
        e = pa_device_token_response(c->dev, ct, n, mac, m, &t);
    free(ct);
    free(mac);
    return e == PA_OK ? put_token(c, t) : e;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

pa_err cmd_token_digest(cli_ctx *c)
{
    uint8_t nonce[16], digest[PA_TOKEN_DIGEST_LEN];
    int has_nonce = 0, has_ts = 0;
    int64_t ts = 0;
    pa_err e;

    if ((e = cli_b64_exact(c, "nonce", nonce, 16, &has_nonce)) != PA_OK
        || (e = cli_int64(c, "timestamp", &ts, &has_ts)) != PA_OK)
        return e;
    if (!has_ts)
        ts = now_ms();
    if (!has_nonce && (e = pa_random(nonce, sizeof nonce)) != PA_OK)
        return e;
    e = pa_device_token_digest(c->dev, cli_arg(c, "token-id"), nonce, ts,
                               digest);
    if (e == PA_ERR_INVALID_TOKEN)
        return cli_fail(c, e, "no token %s in the state",
                        cli_arg(c, "token-id"));
    if (e == PA_OK)
        e = cli_put_str(c, "tokenId", cli_arg(c, "token-id"));
    if (e == PA_OK)
        e = cli_put_b64(c, "tokenDigest", digest, sizeof digest);
    if (e == PA_OK)
        e = cli_put_b64(c, "nonce", nonce, sizeof nonce);
    if (e == PA_OK)
        e = cli_put(c, "timestamp", json_integer(ts));
    return e;
}

/* --- vault unlock --------------------------------------------------------------- */

pa_err cmd_vault_request(cli_ctx *c)
{
    pa_device_vault_req r;
    pa_sig_type t;
    pa_err e;

    if (pa_sig_type_parse(cli_arg(c, "signature-type"), &t) != PA_OK)
        return cli_usage(c, "--signature-type: e.g. possession_knowledge");
    e = pa_device_vault_request(c->dev, cli_arg(c, "reason"), t,
                                cli_compressed(c), &r);
    if (e == PA_OK)
        e = cli_put_request(c, 1, &r.c);
    if (e == PA_OK)
        e = cli_put_str(c, "signature", r.sig.signature);
    if (e == PA_OK)
        e = cli_put_str(c, "signatureType", pa_sig_type_name(t));
    if (e == PA_OK)
        e = cli_put_str(c, "signatureVersion", r.sig.version);
    if (e == PA_OK)
        e = cli_put_str(c, "signedData", r.sig.data_string);
    if (e == PA_OK)
        e = cli_put_str(c, "body", r.body);
    if (e == PA_OK)
        e = cli_put_str(c, "signatureNonce", r.sig.nonce_b64);
    pa_device_vault_request_free(&r);
    return e;
}

pa_err cmd_vault_response(cli_ctx *c)
{
    uint8_t *ct = NULL, *mac = NULL;
    size_t n = 0, m = 0;
    int unlocked = 0;
    pa_err e = cli_response_args(c, &ct, &n, &mac, &m);

    if (e == PA_OK)
        e = pa_device_vault_response(c->dev, ct, n, mac, m, &unlocked);
    free(ct);
    free(mac);
    return e == PA_OK ? cli_put(c, "vaultUnlocked", json_boolean(unlocked))
                      : e;
}

/* --- upgrade and recovery ------------------------------------------------------- */

pa_err cmd_upgrade_request(cli_ctx *c)
{
    pa_ecies_cryptogram cg;
    pa_err e = pa_device_upgrade_request(c->dev, cli_compressed(c), &cg);

    if (e == PA_ERR_ACTIVATION_INCORRECT_STATE)
        return cli_fail(c, e, "only a protocol-2 activation is upgraded");
    if (e == PA_OK)
        e = cli_put_request(c, 1, &cg);
    pa_ecies_cryptogram_free(&cg);
    return e;
}

pa_err cmd_upgrade_response(cli_ctx *c)
{
    uint8_t *ct = NULL, *mac = NULL;
    size_t n = 0, m = 0;
    pa_err e = cli_response_args(c, &ct, &n, &mac, &m);

    if (e == PA_OK)
        e = pa_device_upgrade_response(c->dev, ct, n, mac, m);
    free(ct);
    free(mac);
    if (e == PA_OK)
        e = cli_put_str(c, "activationId", c->dev->activation_id);
    if (e == PA_OK)
        e = cli_put(c, "version", json_integer(c->dev->version));
    return e;
}

pa_err cmd_recovery_confirm_request(cli_ctx *c)
{
    pa_ecies_cryptogram cg;
    pa_err e = pa_device_recovery_confirm_request(
        c->dev, cli_arg(c, "recovery-code"), cli_compressed(c), &cg);

    if (e == PA_ERR_INVALID_REQUEST)
        return cli_usage(c, "no --recovery-code and none in the state");
    if (e == PA_OK)
        e = cli_put_request(c, 1, &cg);
    pa_ecies_cryptogram_free(&cg);
    return e;
}

pa_err cmd_recovery_confirm_response(cli_ctx *c)
{
    uint8_t *ct = NULL, *mac = NULL;
    size_t n = 0, m = 0;
    int already = 0;
    pa_err e = cli_response_args(c, &ct, &n, &mac, &m);

    if (e == PA_OK)
        e = pa_device_recovery_confirm_response(c->dev, ct, n, mac, m,
                                                &already);
    free(ct);
    free(mac);
    return e == PA_OK ? cli_put(c, "alreadyConfirmed", json_boolean(already))
                      : e;
}

/* --- generic ECIES -------------------------------------------------------------- */

pa_err cmd_ecies_request(cli_ctx *c)
{
    const char *scope = cli_arg(c, "scope"), *text = cli_arg(c, "data");
    const char *file = cli_arg(c, "data-file");
    pa_ecies_cryptogram cg;
    uint8_t *buf = NULL;
    size_t n = 0;
    int act;
    pa_err e;

    if (strcmp(scope, "application") != 0 && strcmp(scope, "activation") != 0)
        return cli_usage(c, "--scope must be application or activation");
    if ((text != NULL) == (file != NULL))
        return cli_usage(c, "give exactly one of --data and --data-file");
    act = strcmp(scope, "activation") == 0;
    if (file != NULL && (e = cli_read_file(c, file, &buf, &n)) != PA_OK)
        return e;
    e = pa_device_ecies_request(c->dev, act, cli_arg(c, "shared-info1"),
                                buf ? buf : (const uint8_t *)text,
                                buf ? n : strlen(text), cli_compressed(c),
                                &cg);
    free_buf(buf, n);
    if (e == PA_OK)
        e = cli_put_request(c, act, &cg);
    pa_ecies_cryptogram_free(&cg);
    return e;
}

pa_err cmd_ecies_response(cli_ctx *c)
{
    uint8_t *ct = NULL, *mac = NULL, *plain = NULL;
    size_t n = 0, m = 0, plen = 0;
    json_t *s;
    pa_err e = cli_response_args(c, &ct, &n, &mac, &m);

    if (e == PA_OK)
        e = pa_device_ecies_response(c->dev, ct, n, mac, m, &plain, &plen);
    free(ct);
    free(mac);
    if (e != PA_OK)
        return e;
    /* Text answers as they are; anything that is not UTF-8 in Base64. */
    s = json_stringn((const char *)plain, plen);
    e = s ? cli_put(c, "plaintext", s)
          : cli_put_b64(c, "plaintextBase64", plain, plen);
    pa_secure_free(plain, plen);
    return e;
}

/* --- information ---------------------------------------------------------------- */

pa_err cmd_fingerprint(cli_ctx *c)
{
    char fp[PA_FINGERPRINT_BUF];
    pa_err e = pa_device_fingerprint(c->dev, fp);

    if (e == PA_ERR_ACTIVATION_INCORRECT_STATE)
        return cli_fail(c, e, "the device is not activated");
    return e == PA_OK ? cli_put_str(c, "devicePublicKeyFingerprint", fp) : e;
}

static json_t *token_ids(const pa_device *d)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < d->ntokens; i++)
        json_array_append_new(a, json_string(d->tokens[i].id));
    return a;
}

pa_err cmd_show(cli_ctx *c)
{
    const pa_device *d = c->dev;
    char fp[PA_FINGERPRINT_BUF];
    pa_err e = cli_put_str(c, "protocol", pa_device_protocol_name(d->protocol));

    if (e == PA_OK)
        e = cli_put_str(c, "applicationKey", d->app_key);
    if (e == PA_OK)
        e = cli_put_pub(c, "masterPublicKey", d->master_pub);
    if (e == PA_OK)
        e = cli_put_pub(c, "devicePublicKey", d->device_key);
    if (e == PA_OK)
        e = cli_put_str(c, "activationId", d->activation_id);
    if (e == PA_OK)
        e = cli_put_pub(c, "serverPublicKey", d->server_pub);
    if (e == PA_OK)
        e = cli_put(c, "version", d->version ? json_integer(d->version) : NULL);
    if (e == PA_OK)
        e = cli_put(c, "counter", json_integer(d->counter));
    if (e == PA_OK)
        e = cli_put(c, "hasCtrData", json_boolean(d->has_ctr_data));
    if (e == PA_OK)
        e = cli_put_str(c, "pendingRequest",
                        d->pending ? pa_device_pending_name(d->pending) : NULL);
    if (e == PA_OK)
        e = cli_put(c, "tokens", token_ids(d));
    if (e == PA_OK)
        e = cli_put(c, "hasRecoveryCode", json_boolean(d->recovery_code != NULL));
    if (e == PA_OK)
        e = cli_put_str(c, "devicePublicKeyFingerprint",
                        pa_device_fingerprint(d, fp) == PA_OK ? fp : NULL);
    return e;
}
