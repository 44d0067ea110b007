/*
 * offline.c - offline signature payloads (CRYPTO.md 9.1): pick the signing
 * key, let crypto/offline.c build and sign the text.
 */
#include <stdlib.h>
#include <string.h>

#include "service/activation_internal.h"
#include "service/offline.h"

#define OP_PERSONALIZED "CreatePersonalizedOfflineSignaturePayload"
#define OP_NON_PERSONALIZED "CreateNonPersonalizedOfflineSignaturePayload"

/* Signs with priv; a failure of the crypto layer past the key (random
 * source, allocation) is an unknown error. */
static pa_err build(const pa_eckey *priv, const char *data, char indicator,
                    pa_offline_res *res)
{
    pa_err e = pa_offline_payload_create(priv, data, indicator,
                                         &res->offline_data, res->nonce);

    if (e != PA_OK) {
        pa_offline_res_free(res);
        return e == PA_ERR_INVALID_KEY_FORMAT ? e : PA_ERR_UNKNOWN_ERROR;
    }
    return PA_OK;
}

pa_err pa_offline_personalized(const pa_act_env *env,
                               const char *activation_id, const char *data,
                               pa_offline_res *res)
{
    pa_store_activation a;
    pa_eckey *priv = NULL;
    pa_err e;

    memset(res, 0, sizeof *res);
    if (!activation_id || !data)
        return PA_ERR_INVALID_REQUEST;
    if ((e = pa_act_load(env->store, OP_PERSONALIZED, activation_id, &a))
        != PA_OK)
        return e;
    if ((e = pa_act_server_private(env, &a, &priv)) == PA_OK)
        e = build(priv, data, PA_OFFLINE_KEY_SERVER, res);
    pa_ec_free(priv);
    pa_store_activation_free(&a);
    return e;
}

pa_err pa_offline_non_personalized(const pa_act_env *env,
                                   int64_t application_id, const char *data,
                                   pa_offline_res *res)
{
    pa_eckey *priv = NULL;
    int64_t keypair_id = 0;
    pa_err e;

    memset(res, 0, sizeof *res);
    if (!data)
        return PA_ERR_INVALID_REQUEST;
    e = pa_act_master_private(env->store, OP_NON_PERSONALIZED, application_id,
                              &priv, &keypair_id);
    if (e == PA_OK)
        e = build(priv, data, PA_OFFLINE_KEY_MASTER, res);
    pa_ec_free(priv);
    return e;
}

void pa_offline_res_free(pa_offline_res *r)
{
    if (!r)
        return;
    free(r->offline_data);
    memset(r, 0, sizeof *r);
}
