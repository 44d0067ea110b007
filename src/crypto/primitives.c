/*
 * primitives.c - hashes, HMAC, AES and the PowerAuth KDFs on OpenSSL 3 EVP.
 *
 * The EVP_MD/EVP_MAC/EVP_CIPHER objects are fetched once: an implicit fetch
 * on every call costs more than the HMAC itself, and online signature
 * verification runs up to 140 HMACs per request.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "crypto/primitives.h"

static CRYPTO_ONCE once = CRYPTO_ONCE_STATIC_INIT;
static EVP_MD *md_sha256, *md_sha1;
static EVP_MAC *mac_hmac;
static EVP_CIPHER *cipher_cbc, *cipher_ecb;
static int init_ok;

static void fetch_all(void)
{
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    md_sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    mac_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    cipher_cbc = EVP_CIPHER_fetch(NULL, "AES-128-CBC", NULL);
    cipher_ecb = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
    init_ok = md_sha256 && md_sha1 && mac_hmac && cipher_cbc && cipher_ecb;
}

pa_err pa_crypto_init(void)
{
    if (!CRYPTO_THREAD_run_once(&once, fetch_all) || !init_ok)
        return PA_ERR_INVALID_CRYPTO_PROVIDER;
    return PA_OK;
}

#define ENSURE_INIT()                                  \
    do {                                               \
        if (pa_crypto_init() != PA_OK)                 \
            return PA_ERR_INVALID_CRYPTO_PROVIDER;     \
    } while (0)

pa_err pa_sha256(const uint8_t *m, size_t n, uint8_t out[PA_SHA256_LEN])
{
    unsigned int len = 0;

    ENSURE_INIT();
    if (!EVP_Digest(m, n, out, &len, md_sha256, NULL) || len != PA_SHA256_LEN)
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    return PA_OK;
}

pa_err pa_hmac2(const uint8_t *key, size_t keylen, const uint8_t *m1,
                size_t n1, const uint8_t *m2, size_t n2,
                uint8_t out[PA_SHA256_LEN])
{
    static const uint8_t empty_key[1] = {0};
    OSSL_PARAM params[2];
    EVP_MAC_CTX *ctx;
    size_t len = 0;
    int ok;

    ENSURE_INIT();
    ctx = EVP_MAC_CTX_new(mac_hmac);
    if (ctx == NULL)
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    /* OpenSSL refuses a NULL key; an empty key is a legal HMAC key. */
    ok = EVP_MAC_init(ctx, keylen ? key : empty_key, keylen, params)
         && (n1 == 0 || EVP_MAC_update(ctx, m1, n1))
         && (n2 == 0 || EVP_MAC_update(ctx, m2, n2))
         && EVP_MAC_final(ctx, out, &len, PA_SHA256_LEN)
         && len == PA_SHA256_LEN;
    EVP_MAC_CTX_free(ctx);
    return ok ? PA_OK : PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
}

pa_err pa_hmac(const uint8_t *key, size_t keylen, const uint8_t *m, size_t n,
               uint8_t out[PA_SHA256_LEN])
{
    return pa_hmac2(key, keylen, m, n, NULL, 0, out);
}

void pa_reduce(const uint8_t b[32], uint8_t out[PA_KEY_LEN])
{
    for (int i = 0; i < PA_KEY_LEN; i++)
        out[i] = b[i] ^ b[i + 16];
}

/* One EVP cipher pass; `pad` selects PKCS#7.  out has room for n + 16. */
static pa_err cipher_run(const EVP_CIPHER *c, int enc, int pad,
                         const uint8_t *key, const uint8_t *iv,
                         const uint8_t *in, size_t n, uint8_t *out,
                         size_t *outlen)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int l1 = 0, l2 = 0, ok;

    if (ctx == NULL)
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    if (n > (size_t)INT32_MAX - 32) {
        EVP_CIPHER_CTX_free(ctx);
        return PA_ERR_INVALID_INPUT_FORMAT;
    }
    ok = EVP_CipherInit_ex2(ctx, c, key, iv, enc, NULL)
         && EVP_CIPHER_CTX_set_padding(ctx, pad)
         && EVP_CipherUpdate(ctx, out, &l1, in, (int)n)
         && EVP_CipherFinal_ex(ctx, out + l1, &l2);
    EVP_CIPHER_CTX_free(ctx);
    if (!ok)
        return enc ? PA_ERR_ENCRYPTION_FAILED : PA_ERR_DECRYPTION_FAILED;
    *outlen = (size_t)l1 + (size_t)l2;
    return PA_OK;
}

pa_err pa_aes_cbc_encrypt(const uint8_t key[PA_KEY_LEN],
                          const uint8_t iv[PA_AES_BLOCK], const uint8_t *in,
                          size_t n, uint8_t **out, size_t *outlen)
{
    uint8_t *buf;
    pa_err e;

    ENSURE_INIT();
    buf = malloc(n + PA_AES_BLOCK);
    if (buf == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    e = cipher_run(cipher_cbc, 1, 1, key, iv, in, n, buf, outlen);
    if (e != PA_OK) {
        pa_secure_free(buf, n + PA_AES_BLOCK);
        return e;
    }
    *out = buf;
    return PA_OK;
}

pa_err pa_aes_cbc_decrypt(const uint8_t key[PA_KEY_LEN],
                          const uint8_t iv[PA_AES_BLOCK], const uint8_t *in,
                          size_t n, uint8_t **out, size_t *outlen)
{
    uint8_t *buf;
    pa_err e;

    ENSURE_INIT();
    if (n == 0 || n % PA_AES_BLOCK != 0)
        return PA_ERR_DECRYPTION_FAILED;
    buf = malloc(n + PA_AES_BLOCK);
    if (buf == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    e = cipher_run(cipher_cbc, 0, 1, key, iv, in, n, buf, outlen);
    if (e != PA_OK) {
        pa_secure_free(buf, n + PA_AES_BLOCK);
        return e;
    }
    *out = buf;
    return PA_OK;
}

static pa_err cbc_nopad(int enc, const uint8_t *key, const uint8_t *iv,
                        const uint8_t *in, size_t n, uint8_t *out)
{
    uint8_t *tmp;
    size_t len = 0;
    pa_err e;

    ENSURE_INIT();
    if (n == 0 || n % PA_AES_BLOCK != 0)
        return enc ? PA_ERR_ENCRYPTION_FAILED : PA_ERR_DECRYPTION_FAILED;
    tmp = malloc(n + PA_AES_BLOCK);
    if (tmp == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    e = cipher_run(cipher_cbc, enc, 0, key, iv, in, n, tmp, &len);
    if (e == PA_OK)
        memcpy(out, tmp, n);
    pa_secure_free(tmp, n + PA_AES_BLOCK);
    return e;
}

pa_err pa_aes_cbc_encrypt_nopad(const uint8_t key[PA_KEY_LEN],
                                const uint8_t iv[PA_AES_BLOCK],
                                const uint8_t *in, size_t n, uint8_t *out)
{
    return cbc_nopad(1, key, iv, in, n, out);
}

pa_err pa_aes_cbc_decrypt_nopad(const uint8_t key[PA_KEY_LEN],
                                const uint8_t iv[PA_AES_BLOCK],
                                const uint8_t *in, size_t n, uint8_t *out)
{
    return cbc_nopad(0, key, iv, in, n, out);
}

pa_err pa_aes_block(const uint8_t key[PA_KEY_LEN],
                    const uint8_t in[PA_AES_BLOCK], uint8_t out[PA_AES_BLOCK])
{
    uint8_t tmp[2 * PA_AES_BLOCK];
    size_t len = 0;
    pa_err e;

    ENSURE_INIT();
    e = cipher_run(cipher_ecb, 1, 0, key, NULL, in, PA_AES_BLOCK, tmp, &len);
    if (e == PA_OK)
        memcpy(out, tmp, PA_AES_BLOCK);
    OPENSSL_cleanse(tmp, sizeof tmp);
    return e;
}

pa_err pa_kdf(const uint8_t key[PA_KEY_LEN], const uint8_t *index,
              size_t indexlen, uint8_t out[PA_KEY_LEN])
{
    uint8_t block[PA_AES_BLOCK];
    pa_err e;

    /* With a zero IV, the first CBC output block is AES(first input block);
     * a short index is PKCS#7-padded into that block. */
    if (indexlen >= PA_AES_BLOCK) {
        memcpy(block, index, PA_AES_BLOCK);
    } else {
        memcpy(block, index, indexlen);
        memset(block + indexlen, (int)(PA_AES_BLOCK - indexlen),
               PA_AES_BLOCK - indexlen);
    }
    e = pa_aes_block(key, block, out);
    OPENSSL_cleanse(block, sizeof block);
    return e;
}

pa_err pa_kdf_n(const uint8_t key[PA_KEY_LEN], int64_t n,
                uint8_t out[PA_KEY_LEN])
{
    uint8_t idx[PA_AES_BLOCK] = {0};

    pa_be64(n, idx + 8);
    return pa_kdf(key, idx, sizeof idx, out);
}

pa_err pa_kdf_internal(const uint8_t *key, size_t keylen, const uint8_t *data,
                       size_t n, uint8_t out[PA_KEY_LEN])
{
    uint8_t mac[PA_SHA256_LEN];
    pa_err e = pa_hmac(key, keylen, data, n, mac);

    if (e == PA_OK)
        pa_reduce(mac, out);
    OPENSSL_cleanse(mac, sizeof mac);
    return e;
}

pa_err pa_kdf_internal_legacy(const uint8_t *key, size_t keylen,
                              const uint8_t *idx, size_t idxlen,
                              uint8_t out[PA_KEY_LEN])
{
    return pa_kdf_internal(idx, idxlen, key, keylen, out);
}

pa_err pa_kdf_x963(const uint8_t *z, size_t zlen, const uint8_t *info,
                   size_t infolen, uint8_t *out, size_t outlen)
{
    EVP_MD_CTX *ctx;
    uint8_t h[PA_SHA256_LEN];
    size_t done = 0;
    uint32_t i = 1;
    int ok = 1;

    ENSURE_INIT();
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    while (ok && done < outlen) {
        uint8_t ctr[4] = {(uint8_t)(i >> 24), (uint8_t)(i >> 16),
                          (uint8_t)(i >> 8), (uint8_t)i};
        size_t take = outlen - done < sizeof h ? outlen - done : sizeof h;

        ok = EVP_DigestInit_ex2(ctx, md_sha256, NULL)
             && EVP_DigestUpdate(ctx, z, zlen)
             && EVP_DigestUpdate(ctx, ctr, sizeof ctr)
             && (infolen == 0 || EVP_DigestUpdate(ctx, info, infolen))
             && EVP_DigestFinal_ex(ctx, h, NULL);
        if (ok)
            memcpy(out + done, h, take);
        done += take;
        i++;
    }
    EVP_MD_CTX_free(ctx);
    OPENSSL_cleanse(h, sizeof h);
    if (!ok) {
        OPENSSL_cleanse(out, outlen);
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    }
    return PA_OK;
}

pa_err pa_pbkdf2_sha1(const uint8_t *pw, size_t pwlen, const uint8_t *salt,
                      size_t saltlen, unsigned iterations, uint8_t *out,
                      size_t outlen)
{
    ENSURE_INIT();
    if (pwlen > INT32_MAX || saltlen > INT32_MAX || outlen > INT32_MAX
        || iterations == 0 || iterations > INT32_MAX)
        return PA_ERR_INVALID_INPUT_FORMAT;
    if (!PKCS5_PBKDF2_HMAC((const char *)pw, (int)pwlen, salt, (int)saltlen,
                           (int)iterations, md_sha1, (int)outlen, out))
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    return PA_OK;
}

pa_err pa_random(uint8_t *out, size_t n)
{
    if (n > INT32_MAX || RAND_bytes(out, (int)n) != 1)
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    return PA_OK;
}

int pa_ct_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    if (alen != blen)
        return 0;
    if (alen == 0)
        return 1;
    return CRYPTO_memcmp(a, b, alen) == 0;
}

void pa_secure_free(void *p, size_t n)
{
    if (p == NULL)
        return;
    OPENSSL_cleanse(p, n);
    free(p);
}

void pa_be64(int64_t v, uint8_t out[8])
{
    uint64_t u = (uint64_t)v;

    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)u;
        u >>= 8;
    }
}

uint32_t pa_u32(const uint8_t b[4])
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8
           | b[3];
}

uint64_t pa_u64(const uint8_t b[8])
{
    return (uint64_t)pa_u32(b) << 32 | pa_u32(b + 4);
}
