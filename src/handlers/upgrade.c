/*
 * upgrade.c - v3 upgrade from protocol 2: StartUpgrade, CommitUpgrade.
 *
 * Thin: a missing required element is ERR0024; everything else is
 * src/service/upgrade.c.
 */
#include "service/upgrade.h"
#include "soap/pasoap.h"

#define OOM_CHECK(cond) \
    do { if (!(cond)) return pa_soap_fault(soap, PA_ERR_UNKNOWN_ERROR); } while (0)

static pa_act_env env_of(const pa_ctx *ctx)
{
    return (pa_act_env){ctx->store, ctx->cfg};
}

int __pa3__StartUpgrade(struct soap *soap, struct _pa3__StartUpgradeRequest *req,
                        struct _pa3__StartUpgradeResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "StartUpgrade");
    pa_act_env env = env_of(ctx);
    pa_upgrade_start_req in;
    pa_upgrade_start_res out;
    pa_err e;

    if (!req->activationId || !req->applicationKey || !req->ephemeralPublicKey
        || !req->encryptedData || !req->mac)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    in.activation_id = req->activationId;
    in.application_key = req->applicationKey;
    in.c = (pa_act_cryptogram){req->ephemeralPublicKey, req->encryptedData,
                               req->mac, req->nonce};
    if ((e = pa_upgrade_start(&env, &in, &out)) != PA_OK)
        return pa_soap_fault(soap, e);
    resp->encryptedData = pa_soap_strdup(soap, out.encrypted_data);
    resp->mac = pa_soap_strdup(soap, out.mac);
    pa_upgrade_start_res_free(&out);
    OOM_CHECK(resp->encryptedData && resp->mac);
    return SOAP_OK;
}

int __pa3__CommitUpgrade(struct soap *soap,
                         struct _pa3__CommitUpgradeRequest *req,
                         struct _pa3__CommitUpgradeResponse *resp)
{
    pa_ctx *ctx = pa_soap_begin(soap, "CommitUpgrade");
    pa_act_env env = env_of(ctx);
    pa_err e;

    if (!req->activationId || !req->applicationKey)
        return pa_soap_fault(soap, PA_ERR_INVALID_REQUEST);
    if ((e = pa_upgrade_commit(&env, req->activationId, req->applicationKey))
        != PA_OK)
        return pa_soap_fault(soap, e);
    OOM_CHECK(resp->committed = pa_soap_bool(soap, 1));
    return SOAP_OK;
}
