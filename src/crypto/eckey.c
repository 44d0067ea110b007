/*
 * eckey.c - P-256 on OpenSSL 3: EVP_PKEY for ECDH/ECDSA, EC_POINT (not
 * deprecated) for point encoding and for the public half of an imported
 * private key.
 *
 * Public points are validated once, at import (decoding rejects off-curve
 * points, the prefix/length check rejects infinity), so ECDH can skip the
 * peer check that would cost a second scalar multiplication.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include "crypto/eckey.h"
#include "crypto/primitives.h"
#include "util/base64.h"

struct pa_eckey {
    EVP_PKEY *pkey;
    BIGNUM *priv;                   /* NULL for a public key */
    uint8_t pub[PA_EC_PUB_LEN];     /* uncompressed, valid when has_pub */
    int has_pub;
};

static CRYPTO_ONCE group_once = CRYPTO_ONCE_STATIC_INIT;
static EC_GROUP *group;
static EVP_PKEY *params_template;   /* P-256 domain parameters, no key */

/* Building a P-256 group costs about 20 us, more than half of an ECDH;
 * EVP_PKEY_fromdata builds one per key.  Public keys are therefore made by
 * duplicating a parameters-only template, which shares the group. */
static void group_init(void)
{
    OSSL_PARAM p[2];
    EVP_PKEY_CTX *ctx;

    group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    p[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                            (char *)"prime256v1", 0);
    p[1] = OSSL_PARAM_construct_end();
    if (ctx == NULL || EVP_PKEY_paramgen_init(ctx) <= 0
        || EVP_PKEY_CTX_set_params(ctx, p) <= 0
        || EVP_PKEY_paramgen(ctx, &params_template) <= 0)
        params_template = NULL;
    EVP_PKEY_CTX_free(ctx);
}

static const EC_GROUP *p256(void)
{
    if (!CRYPTO_THREAD_run_once(&group_once, group_init) || !params_template)
        return NULL;
    return group;
}

/* EVP_PKEY holding the (already validated) uncompressed point. */
static pa_err pub_pkey(const uint8_t pub[PA_EC_PUB_LEN], EVP_PKEY **out)
{
    EVP_PKEY *k = EVP_PKEY_dup(params_template);

    if (k == NULL || !EVP_PKEY_set1_encoded_public_key(k, pub, PA_EC_PUB_LEN)) {
        EVP_PKEY_free(k);
        return PA_ERR_INVALID_KEY_FORMAT;
    }
    *out = k;
    return PA_OK;
}

static pa_eckey *key_new(void)
{
    return calloc(1, sizeof(pa_eckey));
}

void pa_ec_free(pa_eckey *k)
{
    if (k == NULL)
        return;
    EVP_PKEY_free(k->pkey);
    BN_clear_free(k->priv);
    OPENSSL_cleanse(k, sizeof *k);
    free(k);
}

int pa_ec_has_private(const pa_eckey *k)
{
    return k != NULL && k->priv != NULL;
}

/* EVP_PKEY from a private scalar (the public half is computed on demand). */
static pa_err priv_pkey(const BIGNUM *priv, EVP_PKEY **out)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    int ok;

    ok = bld != NULL
         && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                            "prime256v1", 0)
         && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv)
         && (params = OSSL_PARAM_BLD_to_param(bld)) != NULL
         && (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) != NULL
         && EVP_PKEY_fromdata_init(ctx) > 0
         && EVP_PKEY_fromdata(ctx, out, EVP_PKEY_KEYPAIR, params) > 0;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);          /* clears the private scalar copy */
    OSSL_PARAM_BLD_free(bld);
    return ok ? PA_OK : PA_ERR_INVALID_KEY_FORMAT;
}

/* Uncompressed or compressed encoding of the key's public point. */
static pa_err point_encode(const pa_eckey *k, point_conversion_form_t form,
                           uint8_t *out, size_t outlen)
{
    const EC_GROUP *g = p256();
    EC_POINT *pt = NULL;
    BN_CTX *bn = NULL;
    int ok;

    if (g == NULL)
        return PA_ERR_INVALID_CRYPTO_PROVIDER;
    if (k->has_pub && form == POINT_CONVERSION_UNCOMPRESSED) {
        memcpy(out, k->pub, PA_EC_PUB_LEN);
        return PA_OK;
    }
    ok = (pt = EC_POINT_new(g)) != NULL && (bn = BN_CTX_new()) != NULL;
    if (ok && k->has_pub)
        ok = EC_POINT_oct2point(g, pt, k->pub, PA_EC_PUB_LEN, bn);
    else if (ok)
        ok = k->priv != NULL && EC_POINT_mul(g, pt, k->priv, NULL, NULL, bn);
    ok = ok && EC_POINT_point2oct(g, pt, form, out, outlen, bn) == outlen;
    EC_POINT_free(pt);
    BN_CTX_free(bn);
    return ok ? PA_OK : PA_ERR_INVALID_KEY_FORMAT;
}

pa_err pa_ec_generate(pa_eckey **out)
{
    pa_eckey *k = key_new();
    pa_err e = PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;

    if (k == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (k->pkey != NULL
        && EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_PRIV_KEY, &k->priv)
        && point_encode(k, POINT_CONVERSION_UNCOMPRESSED, k->pub,
                        PA_EC_PUB_LEN) == PA_OK) {
        k->has_pub = 1;
        e = PA_OK;
    }
    if (e != PA_OK) {
        pa_ec_free(k);
        return e;
    }
    *out = k;
    return PA_OK;
}

pa_err pa_ec_pub_import(const uint8_t *b, size_t n, pa_eckey **out)
{
    const EC_GROUP *g = p256();
    EC_POINT *pt = NULL;
    BN_CTX *bn = NULL;
    pa_eckey *k;
    int ok;

    if (g == NULL)
        return PA_ERR_INVALID_CRYPTO_PROVIDER;
    if (b == NULL
        || !((n == PA_EC_PUB_LEN && b[0] == 0x04)
             || (n == PA_EC_PUB_COMPRESSED_LEN
                 && (b[0] == 0x02 || b[0] == 0x03))))
        return PA_ERR_INVALID_KEY_FORMAT;
    k = key_new();
    if (k == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    /* oct2point rejects coordinates >= p, off-curve points and compressed
     * X values without a square root. */
    ok = (pt = EC_POINT_new(g)) != NULL && (bn = BN_CTX_new()) != NULL
         && EC_POINT_oct2point(g, pt, b, n, bn)
         && !EC_POINT_is_at_infinity(g, pt)
         && EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED, k->pub,
                               PA_EC_PUB_LEN, bn) == PA_EC_PUB_LEN;
    EC_POINT_free(pt);
    BN_CTX_free(bn);
    if (ok)
        ok = pub_pkey(k->pub, &k->pkey) == PA_OK;
    if (!ok) {
        pa_ec_free(k);
        return PA_ERR_INVALID_KEY_FORMAT;
    }
    k->has_pub = 1;
    *out = k;
    return PA_OK;
}

pa_err pa_ec_priv_import(const uint8_t *b, size_t n, pa_eckey **out)
{
    const EC_GROUP *g = p256();
    const BIGNUM *order;
    pa_eckey *k;

    if (g == NULL)
        return PA_ERR_INVALID_CRYPTO_PROVIDER;
    /* A first byte >= 0x80 is a negative Java BigInteger. */
    if (b == NULL || n == 0 || n > 64 || b[0] >= 0x80)
        return PA_ERR_INVALID_KEY_FORMAT;
    k = key_new();
    if (k == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    order = EC_GROUP_get0_order(g);
    k->priv = BN_secure_new();
    if (k->priv == NULL || BN_bin2bn(b, (int)n, k->priv) == NULL
        || BN_is_zero(k->priv) || BN_cmp(k->priv, order) >= 0
        || priv_pkey(k->priv, &k->pkey) != PA_OK) {
        pa_ec_free(k);
        return PA_ERR_INVALID_KEY_FORMAT;
    }
    *out = k;
    return PA_OK;
}

static pa_err import_b64(const char *b64, size_t maxlen,
                         pa_err (*import)(const uint8_t *, size_t,
                                          pa_eckey **),
                         pa_eckey **out)
{
    uint8_t buf[PA_B64_DECMAX(128)];
    size_t len = 0;
    pa_err e;

    if (b64 == NULL || strlen(b64) > PA_B64_ENCLEN(maxlen))
        return PA_ERR_INVALID_KEY_FORMAT;
    e = pa_b64_decode(b64, buf, &len);
    if (e == PA_OK)
        e = import(buf, len, out);
    else
        e = PA_ERR_INVALID_KEY_FORMAT;
    OPENSSL_cleanse(buf, sizeof buf);
    return e;
}

pa_err pa_ec_pub_import_b64(const char *b64, pa_eckey **out)
{
    return import_b64(b64, PA_EC_PUB_LEN, pa_ec_pub_import, out);
}

pa_err pa_ec_priv_import_b64(const char *b64, pa_eckey **out)
{
    return import_b64(b64, 64, pa_ec_priv_import, out);
}

pa_err pa_ec_pub_export(const pa_eckey *k, uint8_t out[PA_EC_PUB_LEN])
{
    return point_encode(k, POINT_CONVERSION_UNCOMPRESSED, out, PA_EC_PUB_LEN);
}

pa_err pa_ec_pub_export_compressed(const pa_eckey *k,
                                   uint8_t out[PA_EC_PUB_COMPRESSED_LEN])
{
    return point_encode(k, POINT_CONVERSION_COMPRESSED, out,
                        PA_EC_PUB_COMPRESSED_LEN);
}

pa_err pa_ec_priv_export(const pa_eckey *k, uint8_t out[PA_EC_PRIV_MAX],
                         size_t *outlen)
{
    uint8_t tmp[PA_EC_COORD_LEN];
    int n;

    if (k == NULL || k->priv == NULL || BN_num_bytes(k->priv) > 32)
        return PA_ERR_INVALID_KEY_FORMAT;
    n = BN_bn2bin(k->priv, tmp);
    if (n <= 0) {
        OPENSSL_cleanse(tmp, sizeof tmp);
        return PA_ERR_INVALID_KEY_FORMAT;
    }
    if (tmp[0] >= 0x80) {           /* Java adds a sign byte */
        out[0] = 0x00;
        memcpy(out + 1, tmp, (size_t)n);
        *outlen = (size_t)n + 1;
    } else {
        memcpy(out, tmp, (size_t)n);
        *outlen = (size_t)n;
    }
    OPENSSL_cleanse(tmp, sizeof tmp);
    return PA_OK;
}

pa_err pa_ec_pub_export_b64(const pa_eckey *k, char **out)
{
    uint8_t pub[PA_EC_PUB_LEN];
    pa_err e = pa_ec_pub_export(k, pub);

    return e != PA_OK ? e : pa_b64_encode_alloc(pub, sizeof pub, out);
}

pa_err pa_ec_priv_export_b64(const pa_eckey *k, char **out)
{
    uint8_t priv[PA_EC_PRIV_MAX];
    size_t n = 0;
    pa_err e = pa_ec_priv_export(k, priv, &n);

    if (e == PA_OK)
        e = pa_b64_encode_alloc(priv, n, out);
    OPENSSL_cleanse(priv, sizeof priv);
    return e;
}

pa_err pa_ec_ecdh(const pa_eckey *priv, const pa_eckey *pub,
                  uint8_t out[PA_ECDH_LEN])
{
    EVP_PKEY_CTX *ctx;
    size_t len = PA_ECDH_LEN;
    int ok;

    if (priv == NULL || priv->priv == NULL || pub == NULL || !pub->has_pub)
        return PA_ERR_INVALID_KEY_FORMAT;
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv->pkey, NULL);
    ok = ctx != NULL && EVP_PKEY_derive_init(ctx) > 0
         && EVP_PKEY_derive_set_peer_ex(ctx, pub->pkey, 0) > 0
         && EVP_PKEY_derive(ctx, out, &len) > 0 && len == PA_ECDH_LEN;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
        OPENSSL_cleanse(out, PA_ECDH_LEN);
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    }
    return PA_OK;
}

pa_err pa_ec_ecdh16(const pa_eckey *priv, const pa_eckey *pub,
                    uint8_t out[16])
{
    uint8_t z[PA_ECDH_LEN];
    pa_err e = pa_ec_ecdh(priv, pub, z);

    if (e == PA_OK)
        pa_reduce(z, out);
    OPENSSL_cleanse(z, sizeof z);
    return e;
}

pa_err pa_ec_sign(const pa_eckey *priv, const uint8_t *m, size_t n,
                  uint8_t sig[PA_ECDSA_MAX], size_t *siglen)
{
    EVP_MD_CTX *ctx;
    size_t len = PA_ECDSA_MAX;
    int ok;

    if (priv == NULL || priv->priv == NULL)
        return PA_ERR_INVALID_KEY_FORMAT;
    ctx = EVP_MD_CTX_new();
    ok = ctx != NULL
         && EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, priv->pkey,
                                  NULL) > 0
         && EVP_DigestSign(ctx, sig, &len, m, n) > 0;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    *siglen = len;
    return PA_OK;
}

pa_err pa_ec_verify(const pa_eckey *pub, const uint8_t *m, size_t n,
                    const uint8_t *sig, size_t siglen, int *valid)
{
    EVP_MD_CTX *ctx;
    int r = -1;

    *valid = 0;
    if (pub == NULL || !pub->has_pub)
        return PA_ERR_INVALID_KEY_FORMAT;
    ctx = EVP_MD_CTX_new();
    if (ctx != NULL
        && EVP_DigestVerifyInit_ex(ctx, NULL, "SHA256", NULL, NULL, pub->pkey,
                                   NULL) > 0)
        r = EVP_DigestVerify(ctx, sig, siglen, m, n);
    EVP_MD_CTX_free(ctx);
    if (r < 0)                      /* not a DER ECDSA signature */
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    *valid = r == 1;
    return PA_OK;
}

pa_err pa_ec_xmin(const pa_eckey *k, uint8_t out[PA_EC_COORD_LEN],
                  size_t *outlen)
{
    uint8_t pub[PA_EC_PUB_LEN];
    size_t skip = 0;
    pa_err e = pa_ec_pub_export(k, pub);

    if (e != PA_OK)
        return e;
    while (skip < PA_EC_COORD_LEN && pub[1 + skip] == 0)
        skip++;
    memcpy(out, pub + 1 + skip, PA_EC_COORD_LEN - skip);
    *outlen = PA_EC_COORD_LEN - skip;
    return PA_OK;
}
