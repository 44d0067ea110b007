/*
 * keys.c - master secret and derived keys (CRYPTO.md 3.1, 3.2).
 *
 * Thin on purpose: ECDH16 lives in eckey.c and KDF_N in primitives.c; this
 * file fixes the index of every key in one place so that signature, status
 * blob, vault and ECIES code cannot disagree about them.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/keys.h"
#include "crypto/primitives.h"

pa_err pa_keys_master_secret(const pa_eckey *priv, const pa_eckey *pub,
                             uint8_t out[16])
{
    if (out == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    return pa_ec_ecdh16(priv, pub, out);
}

pa_err pa_keys_derive(const uint8_t master[16], pa_derived_keys *out)
{
    pa_err e;

    if (master == NULL || out == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    e = pa_kdf_n(master, PA_KEYS_IDX_POSSESSION, out->possession);
    if (e == PA_OK)
        e = pa_kdf_n(master, PA_KEYS_IDX_KNOWLEDGE, out->knowledge);
    if (e == PA_OK)
        e = pa_kdf_n(master, PA_KEYS_IDX_BIOMETRY, out->biometry);
    if (e == PA_OK)
        e = pa_kdf_n(master, PA_KEYS_IDX_TRANSPORT, out->transport);
    if (e == PA_OK)
        e = pa_kdf_n(master, PA_KEYS_IDX_VAULT, out->vault);
    if (e != PA_OK)
        pa_keys_wipe(out);
    return e;
}

pa_err pa_keys_from_pair(const pa_eckey *priv, const pa_eckey *pub,
                         pa_derived_keys *out)
{
    uint8_t master[16];
    pa_err e;

    if (out == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    e = pa_keys_master_secret(priv, pub, master);
    if (e == PA_OK)
        e = pa_keys_derive(master, out);
    else
        pa_keys_wipe(out);
    OPENSSL_cleanse(master, sizeof master);
    return e;
}

void pa_keys_wipe(pa_derived_keys *k)
{
    if (k != NULL)
        OPENSSL_cleanse(k, sizeof *k);
}
