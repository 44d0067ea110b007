/*
 * commands_v2.c - the padevice commands of protocol 2 (CRYPTO.md 14):
 * key exchange with a code or a custom identity, its answer, the
 * protocol-2 vault key and the protocol-2 token.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/primitives.h"
#include "tools/padevice/cli.h"

/* Fields of both v2 key exchange requests after the id/OTP part. */
static pa_err put_v2_request(cli_ctx *c, const pa_device_v2_request *r)
{
    const char *name = cli_arg(c, "name");
    pa_err e = cli_put_b64(c, "activationNonce", r->nonce, sizeof r->nonce);

    if (e == PA_OK)
        e = cli_put_b64(c, "encryptedDevicePublicKey", r->c, sizeof r->c);
    if (e == PA_OK)
        e = cli_put_str(c, "activationName", name ? name : "padevice");
    if (e == PA_OK && cli_arg(c, "extras") != NULL)
        e = cli_put_str(c, "extras", cli_arg(c, "extras"));
    if (e == PA_OK)
        e = cli_put_b64(c, "ephemeralPublicKey", r->eph, sizeof r->eph);
    if (e == PA_OK)
        e = cli_put_str(c, "applicationKey", c->dev->app_key);
    if (e == PA_OK)
        e = cli_put_b64(c, "applicationSignature", r->app_sig,
                        sizeof r->app_sig);
    return e;
}

pa_err cmd_v2_prepare_activation(cli_ctx *c)
{
    const char *code = cli_arg(c, "activation-code");
    const char *sid = cli_arg(c, "activation-id-short");
    const char *otp = cli_arg(c, "activation-otp");
    char split_id[12], split_otp[12];
    pa_device_v2_request r;
    pa_err e;

    if ((code != NULL) == (sid != NULL || otp != NULL)
        || (code == NULL && (sid == NULL || otp == NULL)))
        return cli_usage(c, "give --activation-code, or --activation-id-short "
                            "and --activation-otp");
    if (code != NULL) {
        if (pa_v2_split_code(code, split_id, split_otp) != PA_OK)
            return cli_usage(c, "--activation-code must be 23 characters");
        sid = split_id;
        otp = split_otp;
    }
    e = pa_device_v2_activation_request(c->dev, sid, otp, &r);
    if (e == PA_OK)
        e = cli_put_str(c, "activationIdShort", sid);
    if (e == PA_OK)
        e = put_v2_request(c, &r);
    OPENSSL_cleanse(split_otp, sizeof split_otp);
    return e;
}

pa_err cmd_v2_create_activation(cli_ctx *c)
{
    pa_device_v2_request r;
    pa_err e = pa_device_v2_activation_request(c->dev, cli_arg(c, "identity"),
                                               cli_arg(c, "activation-otp"),
                                               &r);

    if (e == PA_OK)
        e = cli_put_str(c, "identity", cli_arg(c, "identity"));
    if (e == PA_OK)
        e = cli_put_str(c, "activationOtp", cli_arg(c, "activation-otp"));
    if (e == PA_OK)
        e = put_v2_request(c, &r);
    return e;
}

pa_err cmd_v2_activation_response(cli_ctx *c)
{
    uint8_t nonce[16], *eph = NULL, *ct = NULL, *sig = NULL;
    size_t eph_len = 0, n = 0, sig_len = 0;
    char fp[PA_FINGERPRINT_BUF];
    int has_nonce = 0;
    pa_err e = cli_b64_exact(c, "activation-nonce", nonce, 16, &has_nonce);

    if (e == PA_OK)
        e = cli_b64(c, "ephemeral-public-key", &eph, &eph_len);
    if (e == PA_OK)
        e = cli_b64(c, "encrypted-server-public-key", &ct, &n);
    if (e == PA_OK)
        e = cli_b64(c, "encrypted-server-public-key-signature", &sig,
                    &sig_len);
    if (e == PA_OK)
        e = pa_device_v2_activation_response(c->dev, cli_arg(c, "activation-id"),
                                             nonce, eph, eph_len, ct, n, sig,
                                             sig_len);
    free(eph);
    free(ct);
    free(sig);
    if (e == PA_ERR_INVALID_REQUEST)
        return cli_fail(c, e, "no protocol-2 key exchange is in progress");
    if (e == PA_OK)
        e = pa_device_fingerprint(c->dev, fp);
    if (e == PA_OK)
        e = cli_put_str(c, "activationId", c->dev->activation_id);
    if (e == PA_OK)
        e = cli_put_str(c, "devicePublicKeyFingerprint", fp);
    return e;
}

pa_err cmd_v2_vault_response(cli_ctx *c)
{
    uint8_t *ct = NULL;
    size_t n = 0;
    int64_t ctr = 0;
    int has_ctr = 0, unlocked = 0;
    pa_err e = cli_b64(c, "encrypted-vault-encryption-key", &ct, &n);

    if (e == PA_OK)
        e = cli_int64(c, "counter", &ctr, &has_ctr);
    if (e == PA_OK)
        e = pa_device_v2_vault_response(c->dev, ct, n, has_ctr ? &ctr : NULL,
                                        &unlocked);
    free(ct);
    if (e == PA_OK)
        e = cli_put(c, "vaultUnlocked", json_boolean(unlocked));
    return e;
}

pa_err cmd_v2_token_request(cli_ctx *c)
{
    uint8_t eph[PA_EC_PUB_LEN];
    size_t n = 0;
    pa_err e = pa_device_v2_token_request(c->dev, cli_compressed(c), eph, &n);

    if (e == PA_OK)
        e = cli_put_str(c, "activationId", c->dev->activation_id);
    if (e == PA_OK)
        e = cli_put_b64(c, "ephemeralPublicKey", eph, n);
    return e;
}

pa_err cmd_v2_token_response(cli_ctx *c)
{
    const pa_device_token *t = NULL;
    uint8_t *ct = NULL, *mac = NULL;
    size_t n = 0, m = 0;
    pa_err e = cli_response_args(c, &ct, &n, &mac, &m);

    if (e == PA_OK)
        e = pa_device_v2_token_response(c->dev, ct, n, mac, m, &t);
    free(ct);
    free(mac);
    if (e == PA_OK)
        e = cli_put_str(c, "tokenId", t->id);
    if (e == PA_OK)
        e = cli_put_b64(c, "tokenSecret", t->secret, sizeof t->secret);
    return e;
}
