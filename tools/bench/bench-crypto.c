/*
 * bench-crypto - operations per second of the server's cryptographic hot
 * paths, next to the cost of the OpenSSL primitives they are made of.
 *
 * Each composite operation is timed as the server runs it, starting from
 * the stored Base64 key material (so key parsing is included).  Each
 * primitive is timed the way `openssl speed` times it: a single EVP call
 * with everything fetched and set up beforehand.  The "sum" column adds the
 * primitives a composite needs, so ratio = composite / sum says what our
 * layering costs on top of OpenSSL.
 *
 * Usage: bench-crypto [--seconds S]   (default 1 second per measurement)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "crypto/ecies.h"
#include "crypto/eckey.h"
#include "crypto/keys.h"
#include "crypto/primitives.h"
#include "crypto/signature.h"
#include "util/base64.h"

static double seconds = 1.0;

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench-crypto: %s failed\n", what);
    exit(1);
}

/* Runs fn(arg) repeatedly for `seconds`; returns microseconds per call. */
static double time_op(void (*fn)(void *), void *arg)
{
    double start = now(), end;
    long n = 0, batch = 1;

    do {
        for (long i = 0; i < batch; i++)
            fn(arg);
        n += batch;
        if (batch < 1024)
            batch *= 2;
        end = now();
    } while (end - start < seconds);
    return (end - start) * 1e6 / (double)n;
}

/* --- fixtures ------------------------------------------------------------- */

static uint8_t prim_pub[65];        /* keys for the primitive import timings */
static BIGNUM *prim_priv;

static struct {
    char *server_priv_b64, *device_pub_b64, *master_priv_b64;
    pa_eckey *server_priv, *device_pub;
    EVP_PKEY_CTX *derive_ctx;           /* primitive ECDH, like openssl speed */
    EVP_MD_CTX *verify_ctx;
    EVP_PKEY *verify_pkey;
    EVP_MAC *hmac;
    uint8_t sig_der[PA_ECDSA_MAX];
    size_t sig_der_len;
    char data[256];                     /* online signature DATA */
    char signature[PA_SIG_MAX];         /* matches at the 20th position */
    char signature1[PA_SIG_MAX];        /* matches at the first position */
    pa_sig_keys sig_keys;               /* derived keys, as the key cache has them */
    uint8_t ctr_data[16];
    pa_ecies_cryptogram req;
    char app_secret[32];
} fx;

static void setup(void)
{
    pa_eckey *master = NULL, *device = NULL, *server = NULL, *mpub = NULL;
    pa_derived_keys keys;
    pa_sig_keys sk;
    uint8_t ctr[16], pub[65], sh2[32], raw[16];
    pa_ecies_ctx cctx;
    size_t len;
    const char *plain = "{\"devicePublicKey\":\"BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"activationName\":\"bench\"}";

    if (pa_crypto_init() != PA_OK || pa_ec_generate(&master) != PA_OK
        || pa_ec_generate(&device) != PA_OK || pa_ec_generate(&server) != PA_OK)
        die("key generation");
    if (pa_ec_priv_export_b64(server, &fx.server_priv_b64) != PA_OK
        || pa_ec_pub_export_b64(device, &fx.device_pub_b64) != PA_OK
        || pa_ec_priv_export_b64(master, &fx.master_priv_b64) != PA_OK)
        die("key export");
    fx.server_priv = server;
    pa_ec_pub_export(device, pub);
    if (pa_ec_pub_import(pub, sizeof pub, &fx.device_pub) != PA_OK)
        die("pub import");

    /* Primitive ECDH: one prepared derive context, derive only. */
    {
        EVP_PKEY *a = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        EVP_PKEY *b = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

        fx.derive_ctx = EVP_PKEY_CTX_new_from_pkey(NULL, a, NULL);
        if (!fx.derive_ctx || EVP_PKEY_derive_init(fx.derive_ctx) <= 0
            || EVP_PKEY_derive_set_peer(fx.derive_ctx, b) <= 0)
            die("primitive ecdh setup");
        if (!EVP_PKEY_get_octet_string_param(b, OSSL_PKEY_PARAM_PUB_KEY, prim_pub,
                                             sizeof prim_pub, &len)
            || !EVP_PKEY_get_bn_param(a, OSSL_PKEY_PARAM_PRIV_KEY, &prim_priv))
            die("primitive key export");
        EVP_PKEY_free(a);
        EVP_PKEY_free(b);
    }
    /* Primitive ECDSA verify on a prepared key. */
    if (pa_ec_sign(server, (const uint8_t *)"bench", 5, fx.sig_der,
                   &fx.sig_der_len) != PA_OK)
        die("ecdsa sign");
    fx.verify_pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    fx.verify_ctx = EVP_MD_CTX_new();
    fx.hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);

    /* An online signature made at position counter+19 (the 20th try). */
    if (pa_keys_from_pair(device, server, &keys) != PA_OK)
        die("keys");
    memcpy(sk.possession, keys.possession, 16);
    memcpy(sk.knowledge, keys.knowledge, 16);
    memcpy(sk.biometry, keys.biometry, 16);
    pa_random(fx.ctr_data, 16);
    snprintf(fx.data, sizeof fx.data,
             "POST&L3BhL3NpZ25hdHVyZS92YWxpZGF0ZQ==&kYjzVBB8Y0ZFabxSWbWovQ==&"
             "eyJoZWxsbyI6IndvcmxkIn0=&5to+u5pcUeAl7GPu7fNmug==");
    /* ... and one at the counter itself (the first try), as a device in
     * step with the server sends it */
    if (pa_sig_compute(&sk, PA_SIG_POSSESSION_KNOWLEDGE, fx.ctr_data,
                       (const uint8_t *)fx.data, strlen(fx.data),
                       PA_SIG_FORMAT_BASE64, fx.signature1) != PA_OK)
        die("sig compute");
    fx.sig_keys = sk;
    memcpy(ctr, fx.ctr_data, 16);
    for (int i = 0; i < 19; i++)
        pa_sig_ctr_next(ctr, ctr);
    if (pa_sig_compute(&sk, PA_SIG_POSSESSION_KNOWLEDGE, ctr,
                       (const uint8_t *)fx.data, strlen(fx.data),
                       PA_SIG_FORMAT_BASE64, fx.signature) != PA_OK)
        die("sig compute");

    /* An ECIES 3.1 request to the master key, application scope. */
    pa_random(raw, sizeof raw);
    pa_b64_encode(raw, sizeof raw, fx.app_secret);
    if (pa_ec_pub_export(master, pub) != PA_OK
        || pa_ec_pub_import(pub, sizeof pub, &mpub) != PA_OK
        || pa_ecies_sh2_application(fx.app_secret, sh2) != PA_OK
        || pa_ecies_client_encrypt(mpub, PA_ECIES_SH1_ACTIVATION, sh2, 32, 1, 1,
                                   (const uint8_t *)plain, strlen(plain),
                                   &fx.req, &cctx) != PA_OK)
        die("ecies client");
    pa_keys_wipe(&keys);
    pa_ec_free(master);
    pa_ec_free(device);
    pa_ec_free(mpub);
}

/* --- primitives ------------------------------------------------------------ */

static void prim_ecdh(void *a)
{
    uint8_t out[32];
    size_t len = sizeof out;

    (void)a;
    if (EVP_PKEY_derive(fx.derive_ctx, out, &len) <= 0)
        die("primitive ecdh");
}

static void prim_ecdsa_verify(void *a)
{
    (void)a;
    /* the result is 0 (foreign key) - only the cost matters here */
    EVP_DigestVerifyInit_ex(fx.verify_ctx, NULL, "SHA256", NULL, NULL,
                            fx.verify_pkey, NULL);
    EVP_DigestVerify(fx.verify_ctx, fx.sig_der, fx.sig_der_len,
                     (const uint8_t *)"bench", 5);
}

/* Key parsing the plain OpenSSL way: EVP_PKEY_fromdata with the group
 * name, as CRYPTO.md appendix A describes. */

static void prim_fromdata(int private)
{
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    OSSL_PARAM *p;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *k = NULL;

    OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    if (private)
        OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, prim_priv);
    else
        OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, prim_pub, 65);
    p = OSSL_PARAM_BLD_to_param(b);
    if (EVP_PKEY_fromdata_init(c) <= 0
        || EVP_PKEY_fromdata(c, &k, private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, p) <= 0)
        die("primitive fromdata");
    EVP_PKEY_free(k);
    EVP_PKEY_CTX_free(c);
    OSSL_PARAM_free(p);
    OSSL_PARAM_BLD_free(b);
}

static void prim_import_pub(void *a)
{
    (void)a;
    prim_fromdata(0);
}

static void prim_import_priv(void *a)
{
    (void)a;
    prim_fromdata(1);
}

static void prim_hmac(void *a)
{
    uint8_t key[32] = {1}, msg[64] = {2}, out[32];
    size_t len;
    OSSL_PARAM p[2] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_end()};
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(fx.hmac);

    (void)a;
    EVP_MAC_init(ctx, key, 16, p);
    EVP_MAC_update(ctx, msg, 32);
    EVP_MAC_final(ctx, out, &len, sizeof out);
    EVP_MAC_CTX_free(ctx);
}

static void prim_sha256(void *a)
{
    uint8_t msg[32] = {3}, out[32];

    (void)a;
    EVP_Q_digest(NULL, "SHA256", NULL, msg, sizeof msg, out, NULL);
}

static void prim_aes_cbc(void *a)
{
    static EVP_CIPHER *c;
    uint8_t key[16] = {4}, iv[16] = {0}, in[128] = {5}, out[160];
    int l1, l2;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

    (void)a;
    if (c == NULL)
        c = EVP_CIPHER_fetch(NULL, "AES-128-CBC", NULL);
    EVP_EncryptInit_ex2(ctx, c, key, iv, NULL);
    EVP_EncryptUpdate(ctx, out, &l1, in, sizeof in);
    EVP_EncryptFinal_ex(ctx, out + l1, &l2);
    EVP_CIPHER_CTX_free(ctx);
}

/* --- composites: what the server does per request ---------------------- */

static void op_ecdh(void *a)
{
    uint8_t out[32];

    (void)a;
    if (pa_ec_ecdh(fx.server_priv, fx.device_pub, out) != PA_OK)
        die("ecdh");
}

static void op_master_secret_from_store(void *a)
{
    pa_eckey *priv = NULL, *pub = NULL;
    uint8_t out[16];

    (void)a;
    if (pa_ec_priv_import_b64(fx.server_priv_b64, &priv) != PA_OK
        || pa_ec_pub_import_b64(fx.device_pub_b64, &pub) != PA_OK
        || pa_ec_ecdh16(priv, pub, out) != PA_OK)
        die("master secret");
    pa_ec_free(priv);
    pa_ec_free(pub);
}

static void op_ecdsa_verify(void *a)
{
    int valid = 0;

    (void)a;
    if (pa_ec_verify(fx.device_pub, (const uint8_t *)"bench", 5, fx.sig_der,
                     fx.sig_der_len, &valid) != PA_OK)
        die("ecdsa verify");
}

/* The server side of VerifySignature: keys from the stored activation, then
 * the lookahead search; the match is at the 20th position. */
static void op_online_verify(void *a)
{
    pa_eckey *priv = NULL, *pub = NULL;
    pa_derived_keys keys;
    pa_sig_keys sk;
    pa_sig_type t = PA_SIG_POSSESSION_KNOWLEDGE;
    pa_sig_result r;

    (void)a;
    if (pa_ec_priv_import_b64(fx.server_priv_b64, &priv) != PA_OK
        || pa_ec_pub_import_b64(fx.device_pub_b64, &pub) != PA_OK
        || pa_keys_from_pair(priv, pub, &keys) != PA_OK)
        die("online keys");
    memcpy(sk.possession, keys.possession, 16);
    memcpy(sk.knowledge, keys.knowledge, 16);
    memcpy(sk.biometry, keys.biometry, 16);
    if (pa_sig_verify(&sk, &t, 1, PA_SIG_FORMAT_BASE64, 1, 100, fx.ctr_data, 20,
                      (const uint8_t *)fx.data, strlen(fx.data), fx.signature,
                      &r) != PA_OK || !r.valid || r.matched_pos != 119)
        die("online verify");
    pa_keys_wipe(&keys);
    pa_ec_free(priv);
    pa_ec_free(pub);
}

/* The same with the match at the first position: what VerifySignature
 * does for a device whose counter is in step with the server's. */
static void op_online_verify_first(void *a)
{
    pa_eckey *priv = NULL, *pub = NULL;
    pa_derived_keys keys;
    pa_sig_keys sk;
    pa_sig_type t = PA_SIG_POSSESSION_KNOWLEDGE;
    pa_sig_result r;

    (void)a;
    if (pa_ec_priv_import_b64(fx.server_priv_b64, &priv) != PA_OK
        || pa_ec_pub_import_b64(fx.device_pub_b64, &pub) != PA_OK
        || pa_keys_from_pair(priv, pub, &keys) != PA_OK)
        die("online keys");
    memcpy(sk.possession, keys.possession, 16);
    memcpy(sk.knowledge, keys.knowledge, 16);
    memcpy(sk.biometry, keys.biometry, 16);
    if (pa_sig_verify(&sk, &t, 1, PA_SIG_FORMAT_BASE64, 1, 100, fx.ctr_data, 20,
                      (const uint8_t *)fx.data, strlen(fx.data), fx.signature1,
                      &r) != PA_OK || !r.valid || r.matched_pos != 100)
        die("online verify, first position");
    pa_keys_wipe(&keys);
    pa_ec_free(priv);
    pa_ec_free(pub);
}

/* First position with the derived keys at hand (a hit in paserver's
 * signature key cache): no key parsing, no ECDH, no key derivation. */
static void op_online_verify_cached(void *a)
{
    pa_sig_type t = PA_SIG_POSSESSION_KNOWLEDGE;
    pa_sig_result r;

    (void)a;
    if (pa_sig_verify(&fx.sig_keys, &t, 1, PA_SIG_FORMAT_BASE64, 1, 100,
                      fx.ctr_data, 20, (const uint8_t *)fx.data,
                      strlen(fx.data), fx.signature1, &r) != PA_OK
        || !r.valid || r.matched_pos != 100)
        die("online verify, cached keys");
}

/* PrepareActivation's crypto: master key from the store, decrypt the
 * layer-2 request, encrypt a response of the usual size. */
static void op_ecies(void *a)
{
    static const char resp[] =
        "{\"activationId\":\"d6561669-34d6-4fee-8913-89477687a5cb\","
        "\"serverPublicKey\":\"BCpv1234567890123456789012345678901234567890123456789012345678901234567890123456789012\","
        "\"ctrData\":\"VqAXEhziiT27lxoqREjtcQ==\",\"activationRecovery\":null}";
    pa_eckey *priv = NULL;
    pa_ecies_request req;
    pa_ecies_ctx ctx;
    uint8_t sh2[32], *plain = NULL, *ct = NULL, mac[32];
    size_t plen = 0, clen = 0;

    (void)a;
    pa_ecies_cryptogram_request(&fx.req, &req);
    if (pa_ec_priv_import_b64(fx.master_priv_b64, &priv) != PA_OK
        || pa_ecies_sh2_application(fx.app_secret, sh2) != PA_OK
        || pa_ecies_server_decrypt(priv, PA_ECIES_SH1_ACTIVATION, sh2, 32, &req,
                                   &ctx, &plain, &plen) != PA_OK
        || pa_ecies_encrypt_response(&ctx, (const uint8_t *)resp,
                                     sizeof resp - 1, &ct, &clen, mac) != PA_OK)
        die("ecies");
    pa_secure_free(plain, plen);
    free(ct);
    pa_ecies_ctx_wipe(&ctx);
    pa_ec_free(priv);
}

int main(int argc, char **argv)
{
    double ecdh, ecdsa, hmac, sha, aes, ipub, ipriv;
    double t_ecdh, t_ms, t_verify, t_online, t_online1, t_cached, t_ecies, sum;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: bench-crypto [--seconds S]\n");
            return 2;
        }
    }
    setup();

    ecdh = time_op(prim_ecdh, NULL);
    ecdsa = time_op(prim_ecdsa_verify, NULL);
    hmac = time_op(prim_hmac, NULL);
    sha = time_op(prim_sha256, NULL);
    aes = time_op(prim_aes_cbc, NULL);
    ipub = time_op(prim_import_pub, NULL);
    ipriv = time_op(prim_import_priv, NULL);
    printf("OpenSSL primitives (one EVP call, algorithms pre-fetched):\n");
    printf("  %-34s %10.0f ops/s %9.2f us\n", "ECDH P-256 derive", 1e6 / ecdh, ecdh);
    printf("  %-34s %10.0f ops/s %9.2f us\n", "ECDSA P-256 verify", 1e6 / ecdsa, ecdsa);
    printf("  %-34s %10.0f ops/s %9.2f us\n", "HMAC-SHA256 (32 B)", 1e6 / hmac, hmac);
    printf("  %-34s %10.0f ops/s %9.2f us\n", "SHA-256 (32 B)", 1e6 / sha, sha);
    printf("  %-34s %10.0f ops/s %9.2f us\n", "AES-128-CBC (128 B)", 1e6 / aes, aes);
    printf("  %-34s %10.0f ops/s %9.2f us\n", "public key fromdata (65 B)", 1e6 / ipub, ipub);
    printf("  %-34s %10.0f ops/s %9.2f us\n", "private key fromdata", 1e6 / ipriv, ipriv);

    t_ecdh = time_op(op_ecdh, NULL);
    t_ms = time_op(op_master_secret_from_store, NULL);
    t_verify = time_op(op_ecdsa_verify, NULL);
    t_online = time_op(op_online_verify, NULL);
    t_online1 = time_op(op_online_verify_first, NULL);
    t_cached = time_op(op_online_verify_cached, NULL);
    t_ecies = time_op(op_ecies, NULL);

    printf("\npaserver operations (from stored Base64 keys where the server has them):\n");
    printf("  %-40s %10s %9s %9s %6s\n", "operation", "ops/s", "us/op", "sum us", "ratio");
#define ROW(name, t, s) \
    printf("  %-40s %10.0f %9.2f %9.2f %6.2f\n", name, 1e6 / (t), t, s, (t) / (s))
    ROW("ECDH (keys already parsed)", t_ecdh, ecdh);
    ROW("ECDH from stored Base64 keys", t_ms, ipriv + ipub + ecdh);
    ROW("ECDSA verify (key already parsed)", t_verify, ecdsa);
    /* key parsing + ECDH + 5 key-derivation AES blocks + 20 positions x
     * (2 key HMACs + 3 folding/component HMACs + NEXT) */
    sum = ipriv + ipub + ecdh + 5 * aes + 20 * (5 * hmac + sha);
    ROW("online verify, lookahead 20, 20th pos", t_online, sum);
    /* the same with one position */
    sum = ipriv + ipub + ecdh + 5 * aes + (5 * hmac + sha);
    ROW("online verify, lookahead 20, 1st pos", t_online1, sum);
    sum = 5 * hmac + sha;
    ROW("online verify 1st pos, keys cached", t_cached, sum);
    /* key parsing + ECDH + X9.63 (2 SHA) + SH2 (SHA) + MAC check + IV KDF
     * + response MAC (3 HMAC) + 2 AES-CBC */
    sum = ipriv + ipub + ecdh + 3 * sha + 3 * hmac + 2 * aes;
    ROW("ECIES 3.1 decrypt + encrypt", t_ecies, sum);
    printf("\n(ratio = paserver time / sum of the OpenSSL primitives it needs)\n");
    return 0;
}
