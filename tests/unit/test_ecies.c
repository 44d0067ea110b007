/* test_ecies.c - ECIES 3.0/3.1 and the protocol-2 token envelope
 * (CRYPTO.md 5, 14.6, B.6). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "crypto/ecies.h"
#include "crypto/eckey.h"
#include "crypto/primitives.h"
#include "tests/unit/suites.h"
#include "tests/unit/vectors.h"

#define BUF 512

/* Records a failed check of one vector entry without stopping the loop. */
#define CHECK(cond)                                                     \
    do {                                                                \
        if (!(cond)) {                                                  \
            fprintf(stderr, "\n  %s entry %zu: %s\n", file, idx, #cond); \
            ok = 0;                                                     \
        }                                                               \
    } while (0)

static const char *const all_sh1[] = {
    PA_ECIES_SH1_GENERIC_APPLICATION, PA_ECIES_SH1_ACTIVATION,
    PA_ECIES_SH1_GENERIC_ACTIVATION, PA_ECIES_SH1_UPGRADE,
    PA_ECIES_SH1_VAULT_UNLOCK, PA_ECIES_SH1_TOKEN_CREATE,
    PA_ECIES_SH1_RECOVERY_CONFIRM,
};
#define N_SH1 (sizeof all_sh1 / sizeof all_sh1[0])

static int ctx_equal(const pa_ecies_ctx *a, const pa_ecies_ctx *b)
{
    return memcmp(a->key_enc, b->key_enc, 16) == 0
           && memcmp(a->key_mac, b->key_mac, 16) == 0
           && memcmp(a->iv, b->iv, 16) == 0 && a->sh2_len == b->sh2_len
           && memcmp(a->sh2, b->sh2, a->sh2_len) == 0;
}

static int ctx_is_zero(const pa_ecies_ctx *c)
{
    const uint8_t *p = (const uint8_t *)c;

    for (size_t i = 0; i < sizeof *c; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

static pa_eckey *public_of(const pa_eckey *k)
{
    uint8_t pub[PA_EC_PUB_LEN];
    pa_eckey *p = NULL;

    if (pa_ec_pub_export(k, pub) != PA_OK
        || pa_ec_pub_import(pub, sizeof pub, &p) != PA_OK)
        return NULL;
    return p;
}

/* Decrypts with ctx and compares with the expected plaintext bytes. */
static int opens_to(const pa_ecies_ctx *ctx, const uint8_t *ct, size_t n,
                    const uint8_t *mac, const uint8_t *exp, size_t exp_len)
{
    uint8_t *pt = NULL;
    size_t len = 0;
    int ok = pa_ecies_ctx_decrypt(ctx, ct, n, mac, PA_ECIES_MAC_LEN, &pt,
                                  &len) == PA_OK
             && len == exp_len && memcmp(pt, exp, len) == 0;

    pa_secure_free(pt, len);
    return ok;
}

/* Encrypts plain with ctx and compares both response fields. */
static int seals_to(const pa_ecies_ctx *ctx, const uint8_t *plain, size_t n,
                    const uint8_t *exp_ct, size_t exp_len,
                    const uint8_t exp_mac[32])
{
    uint8_t *ct = NULL, mac[32];
    size_t len = 0;
    int ok = pa_ecies_encrypt_response(ctx, plain, n, &ct, &len, mac) == PA_OK
             && len == exp_len && memcmp(ct, exp_ct, len) == 0
             && memcmp(mac, exp_mac, 32) == 0;

    free(ct);
    return ok;
}

/* One ecies.json entry of version 3.0 / 3.1. */
static int check_v3_entry(const char *file, size_t idx, json_t *in,
                          json_t *out, const pa_eckey *priv)
{
    const char *version = pa_vec_str(in, "version");
    const char *scope = pa_vec_str(in, "scope");
    const char *sh1 = pa_vec_str(in, "sharedInfo1");
    const char *secret = pa_vec_str(in, "applicationSecret");
    const char *req_plain = pa_vec_str(out, "requestPlaintext");
    const char *resp_plain = pa_vec_str(in, "responsePlaintext");
    uint8_t eph[BUF], data[BUF], mac[BUF], nonce[BUF], env_exp[BUF],
        sh2_exp[BUF], tk[BUF], rct[BUF], rmac[BUF], env[48], sh2[32];
    size_t eph_len = pa_vec_b64(in, "ephemeralPublicKey", eph, BUF);
    size_t data_len = pa_vec_b64(in, "encryptedData", data, BUF);
    size_t mac_len = pa_vec_b64(in, "mac", mac, BUF);
    size_t rct_len = pa_vec_b64(out, "responseEncryptedData", rct, BUF);
    int v31 = version != NULL && strcmp(version, "3.1") == 0;
    size_t nonce_len = v31 ? pa_vec_b64(in, "nonce", nonce, BUF) : 0;
    pa_ecies_request req;
    pa_ecies_ctx ctx, ctx2;
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    int ok = 1;

    CHECK(sh1 != NULL && secret != NULL && req_plain != NULL
          && resp_plain != NULL && scope != NULL);
    CHECK(v31 || (version != NULL && strcmp(version, "3.0") == 0));
    CHECK(v31 == (pa_vec_str(in, "nonce") != NULL));
    CHECK(pa_vec_b64(out, "envelopeKey", env_exp, BUF) == 48);
    CHECK(pa_vec_b64(out, "sharedInfo2", sh2_exp, BUF) == 32);
    CHECK(pa_vec_b64(out, "responseMac", rmac, BUF) == 32);
    CHECK(eph_len == 33 || eph_len == 65);
    CHECK(mac_len == 32 && (!v31 || nonce_len == 16));
    if (!ok)
        return 0;
    /* SH2 from the scope (5.7). */
    if (strcmp(scope, "application") == 0) {
        CHECK(pa_ecies_sh2_application(secret, sh2) == PA_OK);
    } else {
        CHECK(strcmp(scope, "activation") == 0);
        CHECK(pa_vec_b64(in, "transportKey", tk, BUF) == 16);
        CHECK(pa_ecies_sh2_activation(tk, secret, sh2) == PA_OK);
    }
    CHECK(memcmp(sh2, sh2_exp, 32) == 0);
    /* Envelope key (getEciesDecryptor's secretKey). */
    CHECK(pa_ecies_envelope_key(priv, eph, eph_len, sh1, env) == PA_OK);
    CHECK(memcmp(env, env_exp, 48) == 0);
    /* Server decryption. */
    req = (pa_ecies_request){eph, eph_len, data, data_len, mac, mac_len,
                             v31 ? nonce : NULL, nonce_len};
    CHECK(pa_ecies_server_decrypt(priv, sh1, sh2, 32, &req, &ctx, &pt,
                                  &pt_len) == PA_OK);
    CHECK(pt != NULL && pt_len == strlen(req_plain)
          && memcmp(pt, req_plain, pt_len) == 0);
    pa_secure_free(pt, pt_len);
    CHECK(memcmp(ctx.key_enc, env_exp, 16) == 0);
    CHECK(memcmp(ctx.key_mac, env_exp + 16, 16) == 0);
    if (!v31) {
        static const uint8_t zero[16];

        CHECK(memcmp(ctx.iv, zero, 16) == 0);
    }
    /* Intermediate-server path from the 48 bytes + SH2 + nonce. */
    CHECK(pa_ecies_ctx_from_envelope(env_exp, sh2_exp, 32,
                                     v31 ? nonce : NULL, nonce_len,
                                     &ctx2) == PA_OK);
    CHECK(ctx_equal(&ctx, &ctx2));
    CHECK(opens_to(&ctx2, data, data_len, mac, (const uint8_t *)req_plain,
                   strlen(req_plain)));
    /* Response, byte for byte, and the client reading it. */
    CHECK(seals_to(&ctx, (const uint8_t *)resp_plain, strlen(resp_plain),
                   rct, rct_len, rmac));
    CHECK(pa_ecies_client_decrypt_response(&ctx, rct, rct_len, rmac, 32, &pt,
                                           &pt_len) == PA_OK);
    CHECK(pt != NULL && pt_len == strlen(resp_plain)
          && memcmp(pt, resp_plain, pt_len) == 0);
    pa_secure_free(pt, pt_len);
    pa_ecies_ctx_wipe(&ctx);
    pa_ecies_ctx_wipe(&ctx2);
    return ok;
}

/* One ecies.json entry of version 2.x-token (no request, 5.10). */
static int check_v2_entry(const char *file, size_t idx, json_t *in,
                          json_t *out, const pa_eckey *priv)
{
    static const uint8_t zero[16];
    const char *resp_plain = pa_vec_str(in, "responsePlaintext");
    uint8_t eph[BUF], env_exp[BUF], rct[BUF], rmac[BUF], env[48];
    size_t eph_len = pa_vec_b64(in, "ephemeralPublicKey", eph, BUF);
    size_t rct_len = pa_vec_b64(out, "responseEncryptedData", rct, BUF);
    pa_ecies_ctx ctx;
    int ok = 1;

    CHECK(resp_plain != NULL && pa_vec_str(in, "sharedInfo1") == NULL);
    CHECK(pa_vec_str(in, "scope") != NULL
          && strcmp(pa_vec_str(in, "scope"), "none") == 0);
    CHECK(pa_vec_b64(out, "envelopeKey", env_exp, BUF) == 48);
    CHECK(pa_vec_b64(out, "responseMac", rmac, BUF) == 32);
    CHECK(eph_len == 33 || eph_len == 65);
    if (!ok)
        return 0;
    CHECK(pa_ecies_envelope_key(priv, eph, eph_len, NULL, env) == PA_OK);
    CHECK(memcmp(env, env_exp, 48) == 0);
    CHECK(pa_ecies_envelope_key_raw(priv, eph, eph_len, NULL, 0, env) == PA_OK);
    CHECK(memcmp(env, env_exp, 48) == 0);
    CHECK(pa_ecies_v2_token_context(priv, eph, eph_len, &ctx) == PA_OK);
    CHECK(memcmp(ctx.key_enc, env_exp, 16) == 0);
    CHECK(memcmp(ctx.key_mac, env_exp + 16, 16) == 0);
    CHECK(memcmp(ctx.iv, zero, 16) == 0 && ctx.sh2_len == 0);
    CHECK(seals_to(&ctx, (const uint8_t *)resp_plain, strlen(resp_plain),
                   rct, rct_len, rmac));
    CHECK(opens_to(&ctx, rct, rct_len, rmac, (const uint8_t *)resp_plain,
                   strlen(resp_plain)));
    pa_ecies_ctx_wipe(&ctx);
    return ok;
}

static void test_ecies_json(void)
{
    const char *file = "supplementary/ecies.json";
    pa_vec_file *f = pa_vec_open(file);
    size_t checked = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    for (size_t idx = 0; idx < pa_vec_count(f); idx++) {
        json_t *in = pa_vec_input(f, idx), *out = pa_vec_output(f, idx);
        const char *version = pa_vec_str(in, "version");
        uint8_t pub_exp[BUF], pub[65];
        pa_eckey *priv = NULL;
        int ok = 1;

        CHECK(pa_ec_priv_import_b64(pa_vec_str(in, "privateKey"), &priv)
              == PA_OK);
        CHECK(pa_vec_b64(in, "publicKey", pub_exp, BUF) == 65);
        if (ok) {
            CHECK(pa_ec_pub_export(priv, pub) == PA_OK
                  && memcmp(pub, pub_exp, 65) == 0);
            if (version != NULL && strcmp(version, "2.x-token") == 0)
                ok = ok && check_v2_entry(file, idx, in, out, priv);
            else
                ok = ok && check_v3_entry(file, idx, in, out, priv);
        }
        CU_ASSERT(ok);
        checked += ok;
        pa_ec_free(priv);
    }
    pa_vec_done(f, checked);
}

/* Copy of n raw bytes as a C string (the SDK's SH1 values are text). */
static char *cstr(const uint8_t *b, size_t n)
{
    char *s = malloc(n + 1);

    if (s != NULL) {
        memcpy(s, b, n);
        s[n] = '\0';
    }
    return s;
}

static void test_ecies_mobile_sdk_json(void)
{
    const char *file = "supplementary/ecies-mobile-sdk.json";
    pa_vec_file *f = pa_vec_open(file);
    size_t checked = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    for (size_t idx = 0; idx < pa_vec_count(f); idx++) {
        json_t *in = pa_vec_input(f, idx), *out = pa_vec_output(f, idx);
        const char *version = pa_vec_str(in, "version");
        uint8_t privb[BUF], pub_exp[BUF], sh1[BUF], sh2[BUF], eph[BUF],
            data[BUF], mac[BUF], nonce[BUF], rplain[BUF], qplain[BUF],
            env_exp[BUF], rct[BUF], rmac[BUF], env[48], pub[33];
        size_t priv_len = pa_vec_b64(in, "privateKey", privb, BUF);
        size_t sh1_len = pa_vec_b64(in, "sharedInfo1", sh1, BUF);
        size_t sh2_len = pa_vec_b64(in, "sharedInfo2", sh2, BUF);
        size_t eph_len = pa_vec_b64(in, "ephemeralPublicKey", eph, BUF);
        size_t data_len = pa_vec_b64(in, "encryptedData", data, BUF);
        size_t mac_len = pa_vec_b64(in, "mac", mac, BUF);
        size_t rplain_len = pa_vec_b64(in, "responsePlaintext", rplain, BUF);
        size_t qplain_len = pa_vec_b64(out, "requestPlaintext", qplain, BUF);
        size_t rct_len = pa_vec_b64(out, "responseEncryptedData", rct, BUF);
        int v31 = version != NULL && strcmp(version, "3.1") == 0;
        size_t nonce_len = v31 ? pa_vec_b64(in, "nonce", nonce, BUF) : 0;
        pa_eckey *priv = NULL;
        pa_ecies_request req;
        pa_ecies_ctx ctx, ctx2;
        uint8_t *pt = NULL;
        size_t pt_len = 0;
        char *sh1s = NULL;
        int ok = 1;

        CHECK(priv_len != (size_t)-1 && sh1_len != (size_t)-1
              && sh2_len != (size_t)-1 && data_len != (size_t)-1
              && rplain_len != (size_t)-1 && qplain_len != (size_t)-1
              && rct_len != (size_t)-1);
        CHECK(v31 || (version != NULL && strcmp(version, "3.0") == 0));
        CHECK(v31 == (pa_vec_str(in, "nonce") != NULL));
        CHECK(!v31 || nonce_len == 16);
        CHECK(eph_len == 33 && mac_len == 32 && sh2_len <= PA_ECIES_SH2_MAX);
        CHECK(pa_vec_b64(in, "publicKey", pub_exp, BUF) == 33);
        CHECK(pa_vec_b64(out, "envelopeKey", env_exp, BUF) == 48);
        CHECK(pa_vec_b64(out, "responseMac", rmac, BUF) == 32);
        /* Private keys carry surplus leading zero bytes (2.3). */
        CHECK(priv_len > 32);
        if (ok)
            CHECK(pa_ec_priv_import(privb, priv_len, &priv) == PA_OK);
        if (ok) {
            CHECK(pa_ec_pub_export_compressed(priv, pub) == PA_OK
                  && memcmp(pub, pub_exp, 33) == 0);
            /* Raw SH1 bytes (possibly empty). */
            CHECK(pa_ecies_envelope_key_raw(priv, eph, eph_len, sh1, sh1_len,
                                            env) == PA_OK);
            CHECK(memcmp(env, env_exp, 48) == 0);
            /* Intermediate path with SH2 used as given. */
            CHECK(pa_ecies_ctx_from_envelope(env, sh2, sh2_len,
                                             v31 ? nonce : NULL, nonce_len,
                                             &ctx2) == PA_OK);
            CHECK(opens_to(&ctx2, data, data_len, mac, qplain, qplain_len));
            /* Server path with SH1 as text. */
            sh1s = cstr(sh1, sh1_len);
            CHECK(sh1s != NULL && strlen(sh1s) == sh1_len);
            req = (pa_ecies_request){eph, eph_len, data, data_len, mac,
                                     mac_len, v31 ? nonce : NULL, nonce_len};
            CHECK(pa_ecies_server_decrypt(priv, sh1s, sh2, sh2_len, &req,
                                          &ctx, &pt, &pt_len) == PA_OK);
            CHECK(pt != NULL && pt_len == qplain_len
                  && memcmp(pt, qplain, pt_len) == 0);
            pa_secure_free(pt, pt_len);
            CHECK(ctx_equal(&ctx, &ctx2));
            CHECK(seals_to(&ctx, rplain, rplain_len, rct, rct_len, rmac));
            CHECK(opens_to(&ctx, rct, rct_len, rmac, rplain, rplain_len));
            free(sh1s);
        }
        CU_ASSERT(ok);
        checked += ok;
        pa_ec_free(priv);
    }
    pa_vec_done(f, checked);
}

/* B.6 intermediate values, computed independently of the vector outputs. */
static void test_b6_worked_example(void)
{
    static const char *file = "B.6";
    size_t idx = 7;
    pa_eckey *priv = NULL;
    uint8_t eph[33], nonce[16], sh2[32], env[48];
    pa_ecies_ctx ctx;
    int ok = 1;

    CU_ASSERT_EQUAL_FATAL(pa_ec_priv_import_b64(
        "Ds4qDpbPa8kyCBSqTR7S796SMiPc45yZT7W+csAQlwc=", &priv), PA_OK);
    pa_vec_unhex("0205b6ec13bd983a3767888dda6c7e3e228516dcb7c6ae2f0e81bff4d20c15d293", eph);
    pa_vec_unhex("e93d08db02c538593fe882a6248b6ac0", nonce);
    CHECK(pa_ecies_sh2_application("bArjrT1yrgMKYm4+T0mhsw==", sh2) == PA_OK);
    ASSERT_HEX(sh2, 32, "3dc03f44fae8438d6f82e7172aafa4a683a6d556c138990ed1def4c690f990ca");
    CHECK(pa_ecies_envelope_key(priv, eph, 33, PA_ECIES_SH1_ACTIVATION, env)
          == PA_OK);
    ASSERT_HEX(env, 48, "df4c69fc1874c9fa555921c7cc74a63f"
                        "f14076a1d80ad49cf663ab114b4e335b"
                        "9ee3c93189fd51c9620ba03bbacd7880");
    CHECK(pa_ecies_ctx_from_envelope(env, sh2, 32, nonce, 16, &ctx) == PA_OK);
    ASSERT_HEX(ctx.iv, 16, "e173bb475990759d8833262b5885f379");
    /* The same ephemeral point sent uncompressed gives another ENV (5.2:
     * EPHB is hashed as received, never normalised). */
    {
        pa_eckey *p = NULL;
        uint8_t unc[65], env2[48];

        CHECK(pa_ec_pub_import(eph, 33, &p) == PA_OK);
        CHECK(pa_ec_pub_export(p, unc) == PA_OK);
        CHECK(pa_ecies_envelope_key(priv, unc, 65, PA_ECIES_SH1_ACTIVATION,
                                    env2) == PA_OK);
        CHECK(memcmp(env, env2, 48) != 0);
        pa_ec_free(p);
    }
    CU_ASSERT(ok);
    pa_ecies_ctx_wipe(&ctx);
    pa_ec_free(priv);
}

static void test_sh1_constants(void)
{
    CU_ASSERT_STRING_EQUAL(PA_ECIES_SH1_GENERIC_APPLICATION, "/pa/generic/application");
    CU_ASSERT_STRING_EQUAL(PA_ECIES_SH1_ACTIVATION, "/pa/activation");
    CU_ASSERT_STRING_EQUAL(PA_ECIES_SH1_GENERIC_ACTIVATION, "/pa/generic/activation");
    CU_ASSERT_STRING_EQUAL(PA_ECIES_SH1_UPGRADE, "/pa/upgrade");
    CU_ASSERT_STRING_EQUAL(PA_ECIES_SH1_VAULT_UNLOCK, "/pa/vault/unlock");
    CU_ASSERT_STRING_EQUAL(PA_ECIES_SH1_TOKEN_CREATE, "/pa/token/create");
    CU_ASSERT_STRING_EQUAL(PA_ECIES_SH1_RECOVERY_CONFIRM, "/pa/recovery/confirm");
}

/* Client -> server -> client for every SH1, 3.0 and 3.1, both EPHB forms,
 * both scopes; the intermediate-server path must agree. */
static void test_round_trips(void)
{
    pa_eckey *srv = NULL, *pub;
    uint8_t tk[16];
    int combos = 0;

    CU_ASSERT_EQUAL_FATAL(pa_ec_generate(&srv), PA_OK);
    pub = public_of(srv);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
    CU_ASSERT_EQUAL(pa_random(tk, sizeof tk), PA_OK);
    for (size_t s = 0; s < N_SH1; s++)
        for (int v31 = 0; v31 < 2; v31++)
            for (int comp = 0; comp < 2; comp++)
                for (int act = 0; act < 2; act++) {
                    const char *secret = "7RAYjLdJmVtqHYAvRvNxVw==";
                    uint8_t sh2[32], plain[80], env[48], *pt = NULL, *rct = NULL;
                    uint8_t rmac[32];
                    size_t n = (size_t)(combos * 7) % sizeof plain;
                    size_t pt_len = 0, rct_len = 0;
                    pa_ecies_cryptogram c;
                    pa_ecies_request req;
                    pa_ecies_ctx cctx, sctx, ictx;

                    combos++;
                    for (size_t i = 0; i < n; i++)
                        plain[i] = (uint8_t)(i * 31 + s);
                    if (act)
                        pa_ecies_sh2_activation(tk, secret, sh2);
                    else
                        pa_ecies_sh2_application(secret, sh2);
                    CU_ASSERT_EQUAL_FATAL(
                        pa_ecies_client_encrypt(pub, all_sh1[s], sh2, 32, v31,
                                                comp, plain, n, &c, &cctx),
                        PA_OK);
                    CU_ASSERT_EQUAL(c.eph_len, comp ? 33u : 65u);
                    CU_ASSERT(comp ? (c.eph[0] == 2 || c.eph[0] == 3)
                                   : c.eph[0] == 4);
                    CU_ASSERT_EQUAL(c.has_nonce, v31);
                    CU_ASSERT(c.data_len == (n / 16 + 1) * 16);
                    pa_ecies_cryptogram_request(&c, &req);
                    CU_ASSERT_EQUAL(pa_ecies_server_decrypt(srv, all_sh1[s],
                                                            sh2, 32, &req,
                                                            &sctx, &pt,
                                                            &pt_len), PA_OK);
                    CU_ASSERT(pt != NULL && pt_len == n
                              && memcmp(pt, plain, n) == 0);
                    pa_secure_free(pt, pt_len);
                    CU_ASSERT(ctx_equal(&cctx, &sctx));
                    /* getEciesDecryptor + intermediate server. */
                    CU_ASSERT_EQUAL(pa_ecies_envelope_key(srv, c.eph, c.eph_len,
                                                          all_sh1[s], env),
                                    PA_OK);
                    CU_ASSERT_EQUAL(pa_ecies_ctx_from_envelope(
                                        env, sh2, 32, req.nonce,
                                        req.nonce_len, &ictx), PA_OK);
                    CU_ASSERT(opens_to(&ictx, c.data, c.data_len, c.mac, plain,
                                       n));
                    /* Response back to the client. */
                    CU_ASSERT_EQUAL(pa_ecies_encrypt_response(
                                        &sctx, plain, n / 2, &rct, &rct_len,
                                        rmac), PA_OK);
                    CU_ASSERT_EQUAL(pa_ecies_client_decrypt_response(
                                        &cctx, rct, rct_len, rmac, 32, &pt,
                                        &pt_len), PA_OK);
                    CU_ASSERT(pt != NULL && pt_len == n / 2
                              && memcmp(pt, plain, n / 2) == 0);
                    pa_secure_free(pt, pt_len);
                    /* A response never decrypts as the request (other CT). */
                    free(rct);
                    pa_ecies_cryptogram_free(&c);
                    pa_ecies_ctx_wipe(&cctx);
                    pa_ecies_ctx_wipe(&sctx);
                    pa_ecies_ctx_wipe(&ictx);
                }
    CU_ASSERT_EQUAL(combos, 56);
    pa_ec_free(pub);
    pa_ec_free(srv);
}

/* Asserts that the server refuses req with DECRYPTION_FAILED and leaves
 * nothing behind. */
static void expect_refused(const pa_eckey *priv, const char *sh1,
                           const uint8_t *sh2, size_t sh2_len,
                           const pa_ecies_request *req, int line)
{
    pa_ecies_ctx ctx;
    uint8_t *pt = (uint8_t *)&ctx;       /* must be overwritten with NULL */
    size_t pt_len = 99;
    pa_err e;

    memset(&ctx, 0xa5, sizeof ctx);
    e = pa_ecies_server_decrypt(priv, sh1, sh2, sh2_len, req, &ctx, &pt,
                                &pt_len);
    if (e != PA_ERR_DECRYPTION_FAILED)
        fprintf(stderr, "\n  line %d: got %d\n", line, (int)e);
    CU_ASSERT_EQUAL(e, PA_ERR_DECRYPTION_FAILED);
    CU_ASSERT_PTR_NULL(pt);
    CU_ASSERT_EQUAL(pt_len, 0);
    CU_ASSERT(ctx_is_zero(&ctx));
    if (e == PA_OK)
        pa_secure_free(pt, pt_len);
}

#define REFUSED(priv, sh1, sh2, len, req) \
    expect_refused(priv, sh1, sh2, len, req, __LINE__)

static void test_server_rejects(void)
{
    const char *sh1 = PA_ECIES_SH1_TOKEN_CREATE;
    const uint8_t *plain = (const uint8_t *)"{}";
    pa_eckey *srv = NULL, *other = NULL, *pub;
    uint8_t sh2[32], bad_sh2[32], buf[128], mac2[32], eph[66], data[128];
    pa_ecies_cryptogram c, cu;
    pa_ecies_request good, r;
    pa_ecies_ctx cctx, ctx;
    uint8_t *pt = NULL;
    size_t pt_len = 0;

    CU_ASSERT_EQUAL_FATAL(pa_ec_generate(&srv), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_ec_generate(&other), PA_OK);
    pub = public_of(srv);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
    pa_ecies_sh2_application("secret", sh2);
    /* 3.1, compressed EPHB, 2-block ciphertext. */
    CU_ASSERT_EQUAL_FATAL(pa_ecies_client_encrypt(
        pub, sh1, sh2, 32, 1, 1, (const uint8_t *)"0123456789abcdef-", 17, &c,
        &cctx), PA_OK);
    CU_ASSERT_EQUAL_FATAL(c.data_len, 32);
    pa_ecies_cryptogram_request(&c, &good);
    CU_ASSERT_EQUAL(pa_ecies_server_decrypt(srv, sh1, sh2, 32, &good, &ctx,
                                            &pt, &pt_len), PA_OK);
    pa_secure_free(pt, pt_len);
    pa_ecies_ctx_wipe(&ctx);

    /* Tampered MAC (first and last byte), short/long/missing MAC. */
    for (int pos = 0; pos < 32; pos += 31) {
        memcpy(buf, c.mac, 32);
        buf[pos] ^= 0x01;
        r = good;
        r.mac = buf;
        REFUSED(srv, sh1, sh2, 32, &r);
    }
    r = good;
    r.mac_len = 31;
    REFUSED(srv, sh1, sh2, 32, &r);
    memcpy(buf, c.mac, 32);
    buf[32] = 0;
    r.mac = buf;
    r.mac_len = 33;
    REFUSED(srv, sh1, sh2, 32, &r);
    r.mac = NULL;
    r.mac_len = 0;
    REFUSED(srv, sh1, sh2, 32, &r);
    /* Tampered ciphertext (first and last byte). */
    for (int pos = 0; pos < 32; pos += 31) {
        memcpy(data, c.data, 32);
        data[pos] ^= 0x80;
        r = good;
        r.data = data;
        REFUSED(srv, sh1, sh2, 32, &r);
    }
    /* Wrong SH2, SH2 of another length, no SH2. */
    memcpy(bad_sh2, sh2, 32);
    bad_sh2[5] ^= 0x10;
    REFUSED(srv, sh1, bad_sh2, 32, &good);
    REFUSED(srv, sh1, sh2, 31, &good);
    REFUSED(srv, sh1, NULL, 0, &good);
    REFUSED(srv, sh1, sh2, PA_ECIES_SH2_MAX + 1, &good);
    /* Wrong SH1, no SH1. */
    REFUSED(srv, PA_ECIES_SH1_VAULT_UNLOCK, sh2, 32, &good);
    REFUSED(srv, NULL, sh2, 32, &good);
    /* Wrong server key, public-only key, no key. */
    REFUSED(other, sh1, sh2, 32, &good);
    REFUSED(pub, sh1, sh2, 32, &good);
    REFUSED(NULL, sh1, sh2, 32, &good);
    /* Truncated ciphertext: MAC fails first ... */
    r = good;
    r.data_len = 31;
    REFUSED(srv, sh1, sh2, 32, &r);
    r.data_len = 16;
    REFUSED(srv, sh1, sh2, 32, &r);
    /* ... and with a genuine MAC over the truncated bytes the length check
     * refuses it. */
    r.data_len = 31;
    pa_hmac2(cctx.key_mac, 16, c.data, 31, cctx.sh2, cctx.sh2_len, mac2);
    r.mac = mac2;
    REFUSED(srv, sh1, sh2, 32, &r);
    /* Empty ciphertext with a genuine MAC; NULL data. */
    pa_hmac2(cctx.key_mac, 16, NULL, 0, cctx.sh2, cctx.sh2_len, mac2);
    r = good;
    r.data = data;
    r.data_len = 0;
    r.mac = mac2;
    REFUSED(srv, sh1, sh2, 32, &r);
    r.data = NULL;
    REFUSED(srv, sh1, sh2, 32, &r);
    r.data_len = 16;
    REFUSED(srv, sh1, sh2, 32, &r);
    /* Bad padding with a genuine MAC: one block decrypting to zeros. */
    memset(buf, 0, 16);
    CU_ASSERT_EQUAL(pa_aes_cbc_encrypt_nopad(cctx.key_enc, cctx.iv, buf, 16,
                                             data), PA_OK);
    pa_hmac2(cctx.key_mac, 16, data, 16, cctx.sh2, cctx.sh2_len, mac2);
    r = good;
    r.data = data;
    r.data_len = 16;
    r.mac = mac2;
    REFUSED(srv, sh1, sh2, 32, &r);
    /* Nonce of 15, 17 and 0 bytes, length without pointer. */
    memcpy(buf, c.nonce, 16);
    buf[16] = 0;
    r = good;
    r.nonce = buf;
    r.nonce_len = 15;
    REFUSED(srv, sh1, sh2, 32, &r);
    r.nonce_len = 17;
    REFUSED(srv, sh1, sh2, 32, &r);
    r.nonce_len = 0;
    REFUSED(srv, sh1, sh2, 32, &r);
    r.nonce = NULL;
    r.nonce_len = 16;
    REFUSED(srv, sh1, sh2, 32, &r);
    /* A changed or dropped nonce changes the IV: the MAC does not cover
     * it, so CBC may still unpad, but the first block must differ. */
    for (int drop = 0; drop < 2; drop++) {
        pa_err e;

        buf[3] ^= 0x01;
        r = good;
        r.nonce = drop ? NULL : buf;
        r.nonce_len = drop ? 0 : 16;
        e = pa_ecies_server_decrypt(srv, sh1, sh2, 32, &r, &ctx, &pt, &pt_len);
        CU_ASSERT(e == PA_ERR_DECRYPTION_FAILED
                  || (e == PA_OK
                      && (pt_len != 17
                          || memcmp(pt, "0123456789abcdef-", 17) != 0)));
        if (e == PA_OK)
            pa_secure_free(pt, pt_len);
        pa_ecies_ctx_wipe(&ctx);
    }

    /* Ephemeral keys: infinity, wrong lengths, off-curve, bad prefixes,
     * hybrid form, x >= p, no square root, missing. */
    CU_ASSERT_EQUAL_FATAL(pa_ecies_client_encrypt(pub, sh1, sh2, 32, 0, 0,
                                                  plain, 2, &cu, &cctx),
                          PA_OK);
    CU_ASSERT_EQUAL_FATAL(cu.eph_len, 65);
    r = good;
    eph[0] = 0x00;
    r.eph = eph;
    r.eph_len = 1;
    REFUSED(srv, sh1, sh2, 32, &r);                  /* infinity */
    r.eph_len = 0;
    REFUSED(srv, sh1, sh2, 32, &r);
    memcpy(eph, c.eph, 33);
    eph[33] = 0;
    r.eph_len = 34;
    REFUSED(srv, sh1, sh2, 32, &r);
    r.eph_len = 32;
    REFUSED(srv, sh1, sh2, 32, &r);
    memcpy(eph, cu.eph, 65);
    eph[65] = 0;
    r.eph_len = 64;
    REFUSED(srv, sh1, sh2, 32, &r);
    r.eph_len = 66;
    REFUSED(srv, sh1, sh2, 32, &r);
    r.eph_len = 65;
    eph[64] ^= 0x01;                                 /* off the curve */
    REFUSED(srv, sh1, sh2, 32, &r);
    eph[64] ^= 0x01;
    eph[0] = 0x02;                                   /* prefix/length */
    REFUSED(srv, sh1, sh2, 32, &r);
    eph[0] = (uint8_t)(0x06 | (cu.eph[64] & 1));     /* hybrid form */
    REFUSED(srv, sh1, sh2, 32, &r);
    memcpy(eph, c.eph, 33);
    eph[0] = 0x04;
    r.eph_len = 33;
    REFUSED(srv, sh1, sh2, 32, &r);
    eph[0] = 0x05;
    REFUSED(srv, sh1, sh2, 32, &r);
    memset(eph, 0xff, 33);                           /* x >= p */
    eph[0] = 0x02;
    REFUSED(srv, sh1, sh2, 32, &r);
    {
        int refused = 0;

        for (int x = 1; x < 20 && !refused; x++) {
            pa_eckey *t = NULL;

            memset(eph, 0, 33);
            eph[0] = 0x02;
            eph[32] = (uint8_t)x;
            if (pa_ec_pub_import(eph, 33, &t) != PA_OK) {
                refused = 1;
                REFUSED(srv, sh1, sh2, 32, &r);      /* no square root */
            }
            pa_ec_free(t);
        }
        CU_ASSERT(refused);
    }
    /* The other parity of the same X is a valid point, but another one. */
    memcpy(eph, c.eph, 33);
    eph[0] ^= 0x01;
    REFUSED(srv, sh1, sh2, 32, &r);
    r.eph = NULL;
    r.eph_len = 33;
    REFUSED(srv, sh1, sh2, 32, &r);
    /* The uncompressed request itself is fine (3.0). */
    pa_ecies_cryptogram_request(&cu, &r);
    CU_ASSERT_EQUAL(pa_ecies_server_decrypt(srv, sh1, sh2, 32, &r, &ctx, &pt,
                                            &pt_len), PA_OK);
    CU_ASSERT(pt_len == 2 && memcmp(pt, plain, 2) == 0);
    pa_secure_free(pt, pt_len);
    /* Missing arguments. */
    REFUSED(srv, sh1, sh2, 32, NULL);
    CU_ASSERT_EQUAL(pa_ecies_server_decrypt(srv, sh1, sh2, 32, &good, NULL,
                                            &pt, &pt_len),
                    PA_ERR_DECRYPTION_FAILED);
    CU_ASSERT_EQUAL(pa_ecies_server_decrypt(srv, sh1, sh2, 32, &good, &ctx,
                                            NULL, &pt_len),
                    PA_ERR_DECRYPTION_FAILED);
    pa_ecies_ctx_wipe(&ctx);
    pa_ecies_ctx_wipe(&cctx);
    pa_ecies_cryptogram_free(&c);
    pa_ecies_cryptogram_free(&cu);
    pa_ec_free(pub);
    pa_ec_free(srv);
    pa_ec_free(other);
}

/* The client side refuses a tampered or truncated response. */
static void test_client_rejects(void)
{
    pa_eckey *srv = NULL, *pub;
    uint8_t sh2[32], *rct = NULL, rmac[32], *pt = (uint8_t *)&sh2;
    size_t rct_len = 0, pt_len = 5;
    pa_ecies_cryptogram c;
    pa_ecies_request req;
    pa_ecies_ctx cctx, sctx;

    CU_ASSERT_EQUAL_FATAL(pa_ec_generate(&srv), PA_OK);
    pub = public_of(srv);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
    pa_ecies_sh2_application("s", sh2);
    CU_ASSERT_EQUAL_FATAL(pa_ecies_client_encrypt(pub, PA_ECIES_SH1_UPGRADE,
                                                  sh2, 32, 1, 0,
                                                  (const uint8_t *)"{}", 2,
                                                  &c, &cctx), PA_OK);
    pa_ecies_cryptogram_request(&c, &req);
    CU_ASSERT_EQUAL_FATAL(pa_ecies_server_decrypt(srv, PA_ECIES_SH1_UPGRADE,
                                                  sh2, 32, &req, &sctx, &pt,
                                                  &pt_len), PA_OK);
    pa_secure_free(pt, pt_len);
    CU_ASSERT_EQUAL_FATAL(pa_ecies_encrypt_response(
        &sctx, (const uint8_t *)"{\"ctrData\":\"x\"}", 15, &rct, &rct_len,
        rmac), PA_OK);
    rmac[0] ^= 1;
    CU_ASSERT_EQUAL(pa_ecies_client_decrypt_response(&cctx, rct, rct_len,
                                                     rmac, 32, &pt, &pt_len),
                    PA_ERR_DECRYPTION_FAILED);
    CU_ASSERT_PTR_NULL(pt);
    CU_ASSERT_EQUAL(pt_len, 0);
    rmac[0] ^= 1;
    CU_ASSERT_EQUAL(pa_ecies_client_decrypt_response(&cctx, rct, rct_len - 1,
                                                     rmac, 32, &pt, &pt_len),
                    PA_ERR_DECRYPTION_FAILED);
    rct[0] ^= 1;
    CU_ASSERT_EQUAL(pa_ecies_client_decrypt_response(&cctx, rct, rct_len,
                                                     rmac, 32, &pt, &pt_len),
                    PA_ERR_DECRYPTION_FAILED);
    rct[0] ^= 1;
    CU_ASSERT_EQUAL(pa_ecies_client_decrypt_response(&cctx, rct, rct_len,
                                                     rmac, 32, &pt, &pt_len),
                    PA_OK);
    pa_secure_free(pt, pt_len);
    /* The request's own ciphertext/MAC is not a valid response under
     * another SH2 (MAC binds SH2). */
    sctx.sh2[0] ^= 1;
    CU_ASSERT_EQUAL(pa_ecies_ctx_decrypt(&sctx, c.data, c.data_len, c.mac, 32,
                                         &pt, &pt_len),
                    PA_ERR_DECRYPTION_FAILED);
    free(rct);
    pa_ecies_cryptogram_free(&c);
    /* Argument checks of the sealing side. */
    CU_ASSERT_EQUAL(pa_ecies_encrypt_response(NULL, (const uint8_t *)"x", 1,
                                              &rct, &rct_len, rmac),
                    PA_ERR_ENCRYPTION_FAILED);
    CU_ASSERT_PTR_NULL(rct);
    CU_ASSERT_EQUAL(pa_ecies_encrypt_response(&cctx, NULL, 1, &rct, &rct_len,
                                              rmac),
                    PA_ERR_ENCRYPTION_FAILED);
    CU_ASSERT_EQUAL(pa_ecies_client_encrypt(NULL, PA_ECIES_SH1_UPGRADE, sh2,
                                            32, 1, 0, (const uint8_t *)"{}",
                                            2, &c, &cctx),
                    PA_ERR_ENCRYPTION_FAILED);
    CU_ASSERT_PTR_NULL(c.data);
    CU_ASSERT(ctx_is_zero(&cctx));
    CU_ASSERT_EQUAL(pa_ecies_client_encrypt(pub, PA_ECIES_SH1_UPGRADE, sh2,
                                            PA_ECIES_SH2_MAX + 1, 1, 0,
                                            (const uint8_t *)"{}", 2, &c,
                                            &cctx),
                    PA_ERR_ENCRYPTION_FAILED);
    CU_ASSERT_PTR_NULL(c.data);
    /* An empty plaintext is legal on the wire (one padding block). */
    CU_ASSERT_EQUAL(pa_ecies_client_encrypt(pub, PA_ECIES_SH1_UPGRADE, sh2,
                                            32, 0, 1, NULL, 0, &c, &cctx),
                    PA_OK);
    CU_ASSERT_EQUAL(c.data_len, 16);
    pa_ecies_cryptogram_request(&c, &req);
    CU_ASSERT_EQUAL(pa_ecies_server_decrypt(srv, PA_ECIES_SH1_UPGRADE, sh2, 32,
                                            &req, &sctx, &pt, &pt_len), PA_OK);
    CU_ASSERT(pt != NULL && pt_len == 0);
    pa_secure_free(pt, pt_len);
    pa_ecies_cryptogram_free(&c);
    pa_ecies_cryptogram_free(NULL);
    pa_ecies_ctx_wipe(&cctx);
    pa_ecies_ctx_wipe(&sctx);
    pa_ec_free(pub);
    pa_ec_free(srv);
}

static void test_envelope_helpers(void)
{
    uint8_t env[48], sh2[32] = {0}, nonce[17] = {0};
    pa_ecies_ctx ctx;
    pa_eckey *k = NULL;

    memset(env, 0x11, sizeof env);
    memset(&ctx, 0xa5, sizeof ctx);
    CU_ASSERT_EQUAL(pa_ecies_ctx_from_envelope(env, sh2, 32, nonce, 15, &ctx),
                    PA_ERR_DECRYPTION_FAILED);
    CU_ASSERT(ctx_is_zero(&ctx));
    CU_ASSERT_EQUAL(pa_ecies_ctx_from_envelope(env, sh2, 32, nonce, 17, &ctx),
                    PA_ERR_DECRYPTION_FAILED);
    CU_ASSERT_EQUAL(pa_ecies_ctx_from_envelope(env, sh2, PA_ECIES_SH2_MAX + 1,
                                               NULL, 0, &ctx),
                    PA_ERR_DECRYPTION_FAILED);
    CU_ASSERT_EQUAL(pa_ecies_ctx_from_envelope(env, NULL, 32, NULL, 0, &ctx),
                    PA_ERR_DECRYPTION_FAILED);
    CU_ASSERT_EQUAL(pa_ecies_ctx_from_envelope(env, NULL, 0, NULL, 0, &ctx),
                    PA_OK);
    CU_ASSERT(memcmp(ctx.key_enc, env, 16) == 0 && ctx.sh2_len == 0);
    /* 3.1 IV = REDUCE(HMAC(KEY_IV, nonce)), checked with the primitives. */
    {
        uint8_t h[32], iv[16];

        CU_ASSERT_EQUAL(pa_ecies_ctx_from_envelope(env, NULL, 0, nonce, 16,
                                                   &ctx), PA_OK);
        pa_hmac(env + 32, 16, nonce, 16, h);
        for (int i = 0; i < 16; i++)
            iv[i] = h[i] ^ h[i + 16];
        CU_ASSERT(memcmp(ctx.iv, iv, 16) == 0);
    }
    CU_ASSERT_EQUAL(pa_ecies_sh2_application(NULL, sh2),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_ecies_sh2_activation(NULL, "x", sh2),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_ecies_sh2_activation(env, NULL, sh2),
                    PA_ERR_INVALID_INPUT_FORMAT);
    /* SHA256("abc") and HMAC known answers through the SH2 helpers. */
    CU_ASSERT_EQUAL(pa_ecies_sh2_application("abc", sh2), PA_OK);
    ASSERT_HEX(sh2, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CU_ASSERT_EQUAL(pa_ec_generate(&k), PA_OK);
    memset(env, 0x77, sizeof env);
    CU_ASSERT_EQUAL(pa_ecies_envelope_key(k, NULL, 33, NULL, env),
                    PA_ERR_DECRYPTION_FAILED);
    for (size_t i = 0; i < sizeof env; i++)
        CU_ASSERT_EQUAL(env[i], 0);
    CU_ASSERT_EQUAL(pa_ecies_envelope_key_raw(k, env, 33, NULL, 5, env),
                    PA_ERR_DECRYPTION_FAILED);
    pa_ecies_ctx_wipe(&ctx);
    pa_ecies_ctx_wipe(NULL);
    pa_ec_free(k);
}

/* Protocol-2 token envelope: device <-> server, and failures. */
static void test_v2_token(void)
{
    const char *resp = "{\"tokenId\":\"d6561669-34d6-4fee-8913-89477687a5cb\","
                       "\"tokenSecret\":\"VqAXEhziiT27lxoqREjtcQ==\","
                       "\"expires\":null}";
    pa_eckey *master = NULL, *pub;
    uint8_t ephb[65], bad[65], *ct = NULL, mac[32];
    size_t ephb_len = 0, ct_len = 0;
    pa_ecies_ctx dctx, sctx;

    CU_ASSERT_EQUAL_FATAL(pa_ec_generate(&master), PA_OK);
    pub = public_of(master);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
    for (int comp = 0; comp < 2; comp++) {
        CU_ASSERT_EQUAL_FATAL(pa_ecies_v2_token_client(pub, comp, ephb,
                                                       &ephb_len, &dctx),
                              PA_OK);
        CU_ASSERT_EQUAL(ephb_len, comp ? 33u : 65u);
        CU_ASSERT_EQUAL_FATAL(pa_ecies_v2_token_context(master, ephb, ephb_len,
                                                        &sctx), PA_OK);
        CU_ASSERT(ctx_equal(&dctx, &sctx));
        CU_ASSERT_EQUAL(sctx.sh2_len, 0);
        CU_ASSERT_EQUAL_FATAL(pa_ecies_encrypt_response(
            &sctx, (const uint8_t *)resp, strlen(resp), &ct, &ct_len, mac),
            PA_OK);
        /* MAC over the ciphertext alone (no SH2). */
        {
            uint8_t m2[32];

            pa_hmac(sctx.key_mac, 16, ct, ct_len, m2);
            CU_ASSERT(memcmp(m2, mac, 32) == 0);
        }
        CU_ASSERT(opens_to(&dctx, ct, ct_len, mac, (const uint8_t *)resp,
                           strlen(resp)));
        mac[31] ^= 0x40;
        CU_ASSERT(!opens_to(&dctx, ct, ct_len, mac, (const uint8_t *)resp,
                            strlen(resp)));
        free(ct);
    }
    /* Bad ephemeral keys and keys: ENCRYPTION_FAILED, context zeroed. */
    memcpy(bad, ephb, 65);
    bad[64] ^= 1;
    memset(&sctx, 0xa5, sizeof sctx);
    CU_ASSERT_EQUAL(pa_ecies_v2_token_context(master, bad, 65, &sctx),
                    PA_ERR_ENCRYPTION_FAILED);
    CU_ASSERT(ctx_is_zero(&sctx));
    bad[0] = 0;
    CU_ASSERT_EQUAL(pa_ecies_v2_token_context(master, bad, 1, &sctx),
                    PA_ERR_ENCRYPTION_FAILED);
    CU_ASSERT_EQUAL(pa_ecies_v2_token_context(master, ephb, 64, &sctx),
                    PA_ERR_ENCRYPTION_FAILED);
    CU_ASSERT_EQUAL(pa_ecies_v2_token_context(pub, ephb, 65, &sctx),
                    PA_ERR_ENCRYPTION_FAILED);
    CU_ASSERT_EQUAL(pa_ecies_v2_token_context(master, NULL, 65, &sctx),
                    PA_ERR_ENCRYPTION_FAILED);
    CU_ASSERT_EQUAL(pa_ecies_v2_token_client(NULL, 1, ephb, &ephb_len, &dctx),
                    PA_ERR_ENCRYPTION_FAILED);
    CU_ASSERT(ctx_is_zero(&dctx));
    pa_ecies_ctx_wipe(&sctx);
    pa_ec_free(pub);
    pa_ec_free(master);
}

int register_ecies_suite(void)
{
    CU_pSuite s = CU_add_suite("ecies", NULL, NULL);

    if (s == NULL)
        return -1;
    if (!CU_add_test(s, "supplementary/ecies.json", test_ecies_json)
        || !CU_add_test(s, "supplementary/ecies-mobile-sdk.json",
                        test_ecies_mobile_sdk_json)
        || !CU_add_test(s, "B.6 worked example", test_b6_worked_example)
        || !CU_add_test(s, "sharedInfo1 constants", test_sh1_constants)
        || !CU_add_test(s, "round trips", test_round_trips)
        || !CU_add_test(s, "server rejects", test_server_rejects)
        || !CU_add_test(s, "client rejects", test_client_rejects)
        || !CU_add_test(s, "envelope helpers", test_envelope_helpers)
        || !CU_add_test(s, "protocol-2 token envelope", test_v2_token))
        return -1;
    return 0;
}
