/*
 * test_device_protocol.c - every device flow of libpadevice (client-side
 * crypto only) against the in-process server of devserver.c (server-side
 * crypto only).  If both sides accept each other's messages, the two
 * halves of the crypto layer agree.  Expected strings (signed data, vault
 * body) are built here independently, never taken from the code under test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "crypto/offline.h"
#include "crypto/primitives.h"
#include "crypto/token.h"
#include "tests/unit/devserver.h"
#include "tools/padevice/device.h"
#include "util/base64.h"

/* --- helpers --------------------------------------------------------------------- */

static pa_device *new_device(const ds_server *s, const char *proto)
{
    char *m = ds_master_pub_b64(s);
    pa_device *d = NULL;

    CU_ASSERT_EQUAL(pa_device_new(proto, s->app_key, s->app_secret, m, &d),
                    PA_OK);
    free(m);
    return d;
}

/* A server and a device of its application; 0 on failure. */
static int setup(ds_server *s, pa_device **d, const char *proto)
{
    if (ds_init(s) != PA_OK)
        return 0;
    *d = new_device(s, proto);
    return *d != NULL;
}

/* The v3 key exchange end to end. */
static int activate_v3(ds_server *s, pa_device *d,
                       const pa_device_activation_opts *o, int custom)
{
    pa_ecies_cryptogram cg;
    pa_ecies_request req;
    ds_answer a = {0};
    int ok = pa_device_activation_request(d, o, &cg) == PA_OK;

    if (ok) {
        pa_ecies_cryptogram_request(&cg, &req);
        ok = ds_prepare(s, &req, custom, &a) == PA_OK;
    }
    ok = ok && pa_device_activation_response(d, a.ct, a.ct_len, a.mac,
                                             sizeof a.mac) == PA_OK;
    pa_ecies_cryptogram_free(&cg);
    ds_answer_free(&a);
    return ok;
}

static int activate_default(ds_server *s, pa_device **d, const char *proto)
{
    pa_device_activation_opts o = {.compressed_eph = 1};

    return setup(s, d, proto) && activate_v3(s, *d, &o, 0);
}

/* The v2 key exchange end to end (id: short id or identity). */
static int activate_v2(ds_server *s, pa_device *d, const char *id,
                       const char *otp)
{
    pa_device_v2_request r;
    ds_v2_answer ans;

    return pa_device_v2_activation_request(d, id, otp, &r) == PA_OK
           && ds_v2_prepare(s, id, otp, r.nonce, r.c, sizeof r.c, r.eph,
                            sizeof r.eph, r.app_sig, sizeof r.app_sig,
                            &ans) == PA_OK
           && pa_device_v2_activation_response(
                  d, s->activation_id, ans.nonce, ans.eph, sizeof ans.eph,
                  ans.c, sizeof ans.c, ans.sig, ans.sig_len) == PA_OK;
}

static int activate_v2_code(ds_server *s, pa_device **d, const char *proto)
{
    char sid[12], otp[12];

    return setup(s, d, proto) && pa_v2_split_code(s->code, sid, otp) == PA_OK
           && activate_v2(s, *d, sid, otp);
}

static void assert_same_keys(const ds_server *s, const pa_device *d)
{
    pa_derived_keys a, b;

    CU_ASSERT_EQUAL(pa_device_keys(d, &a), PA_OK);
    CU_ASSERT_EQUAL(ds_keys(s, &b), PA_OK);
    CU_ASSERT(memcmp(&a, &b, sizeof a) == 0);
    pa_keys_wipe(&a);
    pa_keys_wipe(&b);
}

/* Device signs a request, server verifies it: the offset at which the
 * server found it, or -1. */
static int64_t sign_verify(ds_server *s, pa_device *d, const char *method,
                           const char *uri, const char *body, pa_sig_type t,
                           int forced_v3)
{
    pa_device_signature sig;
    int64_t off = -1;

    if (pa_device_sign(d, method, uri, (const uint8_t *)body, strlen(body), t,
                       NULL, 1, &sig) == PA_OK
        && ds_verify(s, sig.data_string, sig.signature, t, sig.version,
                     forced_v3, &off) != 1)
        off = -1;
    pa_device_signature_free(&sig);
    return off;
}

/* METHOD & B64(uri) & nonce & B64(body), built here independently;
 * malloc'ed. */
static char *expected_data(const char *method, const char *uri,
                           const char *nonce_b64, const uint8_t *body,
                           size_t n)
{
    char *u = NULL, *b = NULL, *out;
    size_t len;

    pa_b64_encode_alloc((const uint8_t *)uri, strlen(uri), &u);
    pa_b64_encode_alloc(body, n, &b);
    len = strlen(method) + strlen(u) + strlen(nonce_b64) + strlen(b) + 4;
    out = malloc(len);
    snprintf(out, len, "%s&%s&%s&%s", method, u, nonce_b64, b);
    free(u);
    free(b);
    return out;
}

static const char *layer2_str(const ds_server *s, const char *k)
{
    return json_string_value(json_object_get(s->layer2, k));
}

/* --- protocol-3 activation -------------------------------------------------------- */

static void test_activation_v31_code(void)
{
    pa_device_activation_opts o = {
        .otp = "77777-88888", .name = "My phone", .platform = "ios",
        .device_info = "iPhone12,1", .extras = "{\"k\":1}",
        .compressed_eph = 1};
    pa_ecies_cryptogram cg;
    pa_ecies_request req;
    ds_answer a = {0};
    ds_server s;
    pa_device *d = NULL;
    char fp_dev[PA_FINGERPRINT_BUF], fp_srv[PA_FINGERPRINT_BUF], pub[96];
    uint8_t dpub[PA_EC_PUB_LEN];

    CU_ASSERT_FATAL(setup(&s, &d, "3.1"));
    s.otp = "77777-88888";
    s.recovery = 1;
    CU_ASSERT_EQUAL_FATAL(pa_device_activation_request(d, &o, &cg), PA_OK);
    CU_ASSERT_EQUAL(cg.eph_len, 33);
    CU_ASSERT(cg.has_nonce);
    CU_ASSERT_EQUAL(d->pending, PA_DEVICE_PENDING_ACTIVATION);
    pa_ecies_cryptogram_request(&cg, &req);
    CU_ASSERT_EQUAL_FATAL(ds_prepare(&s, &req, 0, &a), PA_OK);
    /* The layer-2 document carries every property, the key uncompressed. */
    CU_ASSERT_EQUAL(pa_ec_pub_export(d->device_key, dpub), PA_OK);
    pa_b64_encode(dpub, sizeof dpub, pub);
    CU_ASSERT_STRING_EQUAL(layer2_str(&s, "devicePublicKey"), pub);
    CU_ASSERT_STRING_EQUAL(layer2_str(&s, "activationOtp"), "77777-88888");
    CU_ASSERT_STRING_EQUAL(layer2_str(&s, "activationName"), "My phone");
    CU_ASSERT_STRING_EQUAL(layer2_str(&s, "platform"), "ios");
    CU_ASSERT_STRING_EQUAL(layer2_str(&s, "deviceInfo"), "iPhone12,1");
    CU_ASSERT_STRING_EQUAL(layer2_str(&s, "extras"), "{\"k\":1}");

    CU_ASSERT_EQUAL_FATAL(pa_device_activation_response(d, a.ct, a.ct_len,
                                                        a.mac, 32), PA_OK);
    CU_ASSERT_STRING_EQUAL(d->activation_id, s.activation_id);
    CU_ASSERT_EQUAL(d->version, 3);
    CU_ASSERT_EQUAL(d->counter, 0);
    CU_ASSERT(memcmp(d->ctr_data, s.ctr_data, 16) == 0);
    CU_ASSERT_EQUAL(d->pending, PA_DEVICE_PENDING_NONE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d->recovery_code);
    CU_ASSERT_STRING_EQUAL(d->recovery_code, s.recovery_code);
    CU_ASSERT_STRING_EQUAL(d->puk, s.puk);
    assert_same_keys(&s, d);
    CU_ASSERT_EQUAL(pa_device_fingerprint(d, fp_dev), PA_OK);
    CU_ASSERT_EQUAL(pa_fingerprint_v3(s.device_pub, s.activation_id,
                                      s.server_key, fp_srv), PA_OK);
    CU_ASSERT_STRING_EQUAL(fp_dev, fp_srv);
    /* The answer was consumed: a replay finds no pending request. */
    CU_ASSERT_EQUAL(pa_device_activation_response(d, a.ct, a.ct_len, a.mac,
                                                  32), PA_ERR_INVALID_REQUEST);
    pa_ecies_cryptogram_free(&cg);
    ds_answer_free(&a);
    pa_device_free(d);
    ds_free(&s);
}

static void test_activation_v30_uncompressed(void)
{
    pa_device_activation_opts o = {.compressed_eph = 0};
    pa_ecies_cryptogram cg;
    pa_ecies_request req;
    ds_answer a = {0};
    ds_server s;
    pa_device *d = NULL;

    CU_ASSERT_FATAL(setup(&s, &d, "3.0"));
    CU_ASSERT_EQUAL_FATAL(pa_device_activation_request(d, &o, &cg), PA_OK);
    CU_ASSERT_EQUAL(cg.eph_len, 65);
    CU_ASSERT_EQUAL(cg.eph[0], 0x04);
    CU_ASSERT(!cg.has_nonce);
    pa_ecies_cryptogram_request(&cg, &req);
    CU_ASSERT_EQUAL_FATAL(ds_prepare(&s, &req, 0, &a), PA_OK);
    /* Absent options are left out of the document. */
    CU_ASSERT_EQUAL(json_object_size(s.layer2), 1);
    CU_ASSERT_EQUAL(pa_device_activation_response(d, a.ct, a.ct_len, a.mac,
                                                  32), PA_OK);
    CU_ASSERT_PTR_NULL(d->recovery_code);
    CU_ASSERT_PTR_NULL(d->puk);
    assert_same_keys(&s, d);
    pa_ecies_cryptogram_free(&cg);
    ds_answer_free(&a);
    pa_device_free(d);
    ds_free(&s);
}

/* Custom activation (6.4): same layer-2 request, here with the device key
 * sent compressed; the server stores it uncompressed. */
static void test_custom_activation(void)
{
    pa_device_activation_opts o = {.name = "custom", .otp = "ignored",
                                   .compressed_eph = 1,
                                   .compressed_device_key = 1};
    uint8_t raw[40];
    size_t n = 0;
    ds_server s;
    pa_device *d = NULL;

    CU_ASSERT_FATAL(setup(&s, &d, "3.1"));
    CU_ASSERT_FATAL(activate_v3(&s, d, &o, 1));
    CU_ASSERT_EQUAL(pa_b64_decode(layer2_str(&s, "devicePublicKey"), raw, &n),
                    PA_OK);
    CU_ASSERT_EQUAL(n, 33);
    assert_same_keys(&s, d);
    CU_ASSERT_EQUAL(sign_verify(&s, d, "POST", "/pa/signature/validate", "x",
                                PA_SIG_POSSESSION, 0), 0);
    pa_device_free(d);
    ds_free(&s);
}

static void test_activation_signature(void)
{
    uint8_t sig[PA_ECDSA_MAX];
    size_t n = 0;
    int valid = -1;
    ds_server s, other;
    pa_device *d = NULL, *wrong = NULL;

    CU_ASSERT_FATAL(setup(&s, &d, "3.1"));
    CU_ASSERT_FATAL(ds_init(&other) == PA_OK);
    CU_ASSERT_EQUAL(pa_code_sign(s.master, s.code, sig, &n), PA_OK);
    CU_ASSERT_EQUAL(pa_device_verify_activation_signature(d, s.code, sig, n,
                                                          &valid), PA_OK);
    CU_ASSERT_EQUAL(valid, 1);
    /* Another code, another master key, garbage: not valid. */
    CU_ASSERT_EQUAL(pa_device_verify_activation_signature(d, other.code, sig,
                                                          n, &valid), PA_OK);
    CU_ASSERT_EQUAL(valid, 0);
    wrong = new_device(&other, "3.1");
    CU_ASSERT_EQUAL(pa_device_verify_activation_signature(wrong, s.code, sig,
                                                          n, &valid), PA_OK);
    CU_ASSERT_EQUAL(valid, 0);
    CU_ASSERT_EQUAL(pa_device_verify_activation_signature(
                        d, s.code, (const uint8_t *)"garbage", 7, &valid),
                    PA_OK);
    CU_ASSERT_EQUAL(valid, 0);
    pa_device_free(wrong);
    pa_device_free(d);
    ds_free(&other);
    ds_free(&s);
}

/* A device with the wrong master key cannot even start a key exchange. */
static void test_wrong_master_key_activation(void)
{
    pa_device_activation_opts o = {.compressed_eph = 1};
    pa_ecies_cryptogram cg;
    pa_ecies_request req;
    ds_answer a = {0};
    ds_server s, other;
    pa_device *d = NULL;

    CU_ASSERT_FATAL(ds_init(&s) == PA_OK && ds_init(&other) == PA_OK);
    d = new_device(&other, "3.1");
    CU_ASSERT_FATAL(d != NULL);
    CU_ASSERT_EQUAL(pa_device_activation_request(d, &o, &cg), PA_OK);
    pa_ecies_cryptogram_request(&cg, &req);
    CU_ASSERT_EQUAL(ds_prepare(&s, &req, 0, &a), PA_ERR_DECRYPTION_FAILED);
    pa_ecies_cryptogram_free(&cg);
    ds_answer_free(&a);
    pa_device_free(d);
    ds_free(&other);
    ds_free(&s);
}

/* --- online signatures ------------------------------------------------------------ */

static void test_signature_types(void)
{
    static const size_t b64len[] = {24, 24, 24, 44, 44, 64};
    const char *body = "{\"amount\":\"100.00\"}";
    ds_server s;
    pa_device *d = NULL;

    CU_ASSERT_FATAL(activate_default(&s, &d, "3.1"));
    for (int t = PA_SIG_POSSESSION; t <= PA_SIG_POSSESSION_KNOWLEDGE_BIOMETRY;
         t++) {
        pa_device_signature sig;
        char *exp;
        int64_t off = -1;

        CU_ASSERT_EQUAL_FATAL(pa_device_sign(d, "post", "/pa/signature/validate",
                                             (const uint8_t *)body,
                                             strlen(body), (pa_sig_type)t,
                                             NULL, 1, &sig), PA_OK);
        CU_ASSERT_EQUAL(strlen(sig.signature), b64len[t]);
        CU_ASSERT_STRING_EQUAL(sig.version, "3.1");
        exp = expected_data("POST", "/pa/signature/validate", sig.nonce_b64,
                            (const uint8_t *)body, strlen(body));
        CU_ASSERT_STRING_EQUAL(sig.data_string, exp);
        free(exp);
        CU_ASSERT_EQUAL(ds_verify(&s, sig.data_string, sig.signature,
                                  (pa_sig_type)t, "3.1", 0, &off), 1);
        CU_ASSERT_EQUAL(off, 0);
        pa_device_signature_free(&sig);
    }
    CU_ASSERT_EQUAL(d->counter, 6);
    CU_ASSERT_EQUAL(s.counter, 6);
    CU_ASSERT(memcmp(d->ctr_data, s.ctr_data, 16) == 0);
    pa_device_free(d);
    ds_free(&s);
}

/* GET: the body part is the canonical query (8.1). */
static void test_signature_get_query(void)
{
    const uint8_t nonce[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
                               15, 16};
    pa_device_signature sig;
    char *canon = NULL, *exp, nb64[32];
    ds_server s;
    pa_device *d = NULL;
    int64_t off = -1;

    CU_ASSERT_FATAL(activate_default(&s, &d, "3.1"));
    CU_ASSERT_EQUAL_FATAL(pa_sig_canonical_query("b=2&a=x%20y&a=1&c", &canon),
                          PA_OK);
    CU_ASSERT_STRING_EQUAL(canon, "a=1&a=x+y&b=2");
    CU_ASSERT_EQUAL_FATAL(pa_device_sign(d, "GET", "/pa/list",
                                         (const uint8_t *)canon, strlen(canon),
                                         PA_SIG_POSSESSION_KNOWLEDGE, nonce, 1,
                                         &sig), PA_OK);
    pa_b64_encode(nonce, 16, nb64);
    CU_ASSERT_STRING_EQUAL(sig.nonce_b64, nb64);
    exp = expected_data("GET", "/pa/list", nb64, (const uint8_t *)canon,
                        strlen(canon));
    CU_ASSERT_STRING_EQUAL(sig.data_string, exp);
    free(exp);
    CU_ASSERT_EQUAL(ds_verify(&s, sig.data_string, sig.signature,
                              PA_SIG_POSSESSION_KNOWLEDGE, "3.1", 0, &off), 1);
    CU_ASSERT_EQUAL(off, 0);
    free(canon);
    pa_device_signature_free(&sig);
    pa_device_free(d);
    ds_free(&s);
}

/* Five signatures the server never saw: the sixth is found at +5, and
 * both sides are in step again afterwards. */
static void test_lookahead(void)
{
    pa_device_signature a, b;
    ds_server s;
    pa_device *d = NULL;
    uint8_t ctr[16];

    CU_ASSERT_FATAL(activate_default(&s, &d, "3.1"));
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL(pa_device_sign(d, "POST", "/x", NULL, 0,
                                       PA_SIG_POSSESSION, NULL, 1, &a), PA_OK);
        pa_device_signature_free(&a);
    }
    CU_ASSERT_EQUAL(d->counter, 5);
    /* Device and server counter data are five NEXT steps apart. */
    memcpy(ctr, s.ctr_data, 16);
    for (int i = 0; i < 5; i++)
        pa_sig_ctr_next(ctr, ctr);
    CU_ASSERT(memcmp(ctr, d->ctr_data, 16) == 0);
    CU_ASSERT_EQUAL(sign_verify(&s, d, "POST", "/x", "",
                                PA_SIG_POSSESSION_KNOWLEDGE, 0), 5);
    CU_ASSERT_EQUAL(s.counter, 6);
    CU_ASSERT(memcmp(d->ctr_data, s.ctr_data, 16) == 0);
    CU_ASSERT_EQUAL(sign_verify(&s, d, "POST", "/x", "",
                                PA_SIG_POSSESSION_KNOWLEDGE, 0), 0);
    /* Without advancing, the same nonce gives the same signature. */
    CU_ASSERT_EQUAL(pa_device_sign(d, "POST", "/x", NULL, 0, PA_SIG_POSSESSION,
                                   ctr, 0, &a), PA_OK);
    CU_ASSERT_EQUAL(pa_device_sign(d, "POST", "/x", NULL, 0, PA_SIG_POSSESSION,
                                   ctr, 0, &b), PA_OK);
    CU_ASSERT_STRING_EQUAL(a.signature, b.signature);
    CU_ASSERT_EQUAL(d->counter, 7);
    pa_device_signature_free(&a);
    pa_device_signature_free(&b);
    pa_device_free(d);
    ds_free(&s);
}

/* 3.0 signs DECIMAL, 3.1 BASE64; a wrong type or format is refused and
 * moves nothing. */
static void test_formats_by_protocol(void)
{
    pa_device_signature sig;
    ds_server s, s31;
    pa_device *d = NULL, *d31 = NULL;
    int64_t off = -1;

    CU_ASSERT_FATAL(activate_default(&s, &d, "3.0"));
    CU_ASSERT_FATAL(activate_default(&s31, &d31, "3.1"));
    CU_ASSERT_EQUAL_FATAL(pa_device_sign(d, "POST", "/x", (const uint8_t *)"b",
                                         1, PA_SIG_POSSESSION_KNOWLEDGE, NULL,
                                         1, &sig), PA_OK);
    CU_ASSERT_STRING_EQUAL(sig.version, "3.0");
    CU_ASSERT_EQUAL(strlen(sig.signature), 17);
    CU_ASSERT_EQUAL(sig.signature[8], '-');
    CU_ASSERT(strspn(sig.signature, "0123456789-") == 17);
    /* Wrong type first: invalid, counters unchanged. */
    CU_ASSERT_EQUAL(ds_verify(&s, sig.data_string, sig.signature,
                              PA_SIG_POSSESSION_BIOMETRY, "3.0", 0, &off), 0);
    CU_ASSERT_EQUAL(s.counter, 0);
    CU_ASSERT_EQUAL(ds_verify(&s, sig.data_string, sig.signature,
                              PA_SIG_POSSESSION_KNOWLEDGE, "3.0", 0, &off), 1);
    pa_device_signature_free(&sig);

    CU_ASSERT_EQUAL_FATAL(pa_device_sign(d31, "POST", "/x", NULL, 0,
                                         PA_SIG_POSSESSION_KNOWLEDGE, NULL, 1,
                                         &sig), PA_OK);
    CU_ASSERT_EQUAL(strlen(sig.signature), 44);
    CU_ASSERT_EQUAL(ds_verify(&s31, sig.data_string, sig.signature,
                              PA_SIG_POSSESSION_KNOWLEDGE, "3.0", 0, &off), 0);
    CU_ASSERT_EQUAL(ds_verify(&s31, sig.data_string, sig.signature,
                              PA_SIG_POSSESSION_KNOWLEDGE, "3.1", 0, &off), 1);
    pa_device_signature_free(&sig);
    pa_device_free(d);
    pa_device_free(d31);
    ds_free(&s);
    ds_free(&s31);
}

/* --- offline signatures ------------------------------------------------------------ */

static void offline_case(ds_server *s, pa_device *d, const pa_eckey *key,
                         char indicator, int biometry)
{
    const char *uri = "/operation/authorize/offline";
    const char *body = "5ff1b1ed-a3cc-45a3-8ab0-ed60950312b6&amount=100";
    char *od = NULL, nonce[PA_OFFLINE_NONCE_B64_LEN + 1], *exp;
    pa_device_signature sig;
    pa_sig_type used = PA_SIG_POSSESSION;
    int valid = -1;

    CU_ASSERT_EQUAL_FATAL(pa_offline_payload_create(key, "line one\nline two",
                                                    indicator, &od, nonce),
                          PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_device_offline_sign(d, od, uri, body, biometry,
                                                 &valid, &sig), PA_OK);
    CU_ASSERT_EQUAL(valid, 1);
    CU_ASSERT_EQUAL(strlen(sig.signature), 17);
    CU_ASSERT_STRING_EQUAL(sig.nonce_b64, nonce);
    exp = expected_data("POST", uri, nonce, (const uint8_t *)body,
                        strlen(body));
    CU_ASSERT_STRING_EQUAL(sig.data_string, exp);
    free(exp);
    if (biometry) /* not allowed: refused, then allowed: accepted */
        CU_ASSERT_EQUAL(ds_verify_offline(s, sig.data_string, sig.signature, 0,
                                          &used), 0);
    CU_ASSERT_EQUAL(ds_verify_offline(s, sig.data_string, sig.signature,
                                      biometry, &used), 1);
    CU_ASSERT_EQUAL(used, biometry ? PA_SIG_POSSESSION_BIOMETRY
                                   : PA_SIG_POSSESSION_KNOWLEDGE);
    pa_device_signature_free(&sig);
    free(od);
}

static void test_offline_signatures(void)
{
    ds_server s;
    pa_device *d = NULL;

    CU_ASSERT_FATAL(activate_default(&s, &d, "3.1"));
    offline_case(&s, d, s.master, PA_OFFLINE_KEY_MASTER, 0);
    offline_case(&s, d, s.server_key, PA_OFFLINE_KEY_SERVER, 0);
    offline_case(&s, d, s.server_key, PA_OFFLINE_KEY_SERVER, 1);
    CU_ASSERT_EQUAL(d->counter, 3);
    CU_ASSERT_EQUAL(s.counter, 3);
    pa_device_free(d);
    ds_free(&s);
}

static void test_offline_untrusted_payload(void)
{
    char *od = NULL, nonce[32];
    pa_device_signature sig;
    ds_server s;
    pa_device *d = NULL;
    int valid = -1;

    CU_ASSERT_FATAL(activate_default(&s, &d, "3.1"));
    /* Claims the master key but is signed by the activation key. */
    CU_ASSERT_EQUAL_FATAL(pa_offline_payload_create(s.server_key, "pay 100",
                                                    '1', &od, nonce), PA_OK);
    od[strlen("pay 100") + 1 + 24 + 1] = '0';
    CU_ASSERT_EQUAL(pa_device_offline_sign(d, od, "/u", "b", 0, &valid, &sig),
                    PA_OK);
    CU_ASSERT_EQUAL(valid, 0);
    CU_ASSERT_EQUAL(sig.signature[0], '\0');
    CU_ASSERT_PTR_NULL(sig.data_string);
    /* Tampered data. */
    od[strlen("pay 100") + 1 + 24 + 1] = '1';
    od[4] = '9';
    CU_ASSERT_EQUAL(pa_device_offline_sign(d, od, "/u", "b", 0, &valid, &sig),
                    PA_OK);
    CU_ASSERT_EQUAL(valid, 0);
    CU_ASSERT_EQUAL(d->counter, 0); /* nothing signed, nothing consumed */
    CU_ASSERT_EQUAL(pa_device_offline_sign(d, "no payload", "/u", "b", 0,
                                           &valid, &sig),
                    PA_ERR_INVALID_INPUT_FORMAT);
    free(od);
    pa_device_free(d);
    ds_free(&s);
}

/* --- status blob -------------------------------------------------------------------- */

static void test_status_blob(void)
{
    uint8_t ch[16], nonce[16], blob[32], other[16] = {0};
    pa_device_status st;
    ds_server s;
    pa_device *d = NULL;

    CU_ASSERT_FATAL(activate_default(&s, &d, "3.1"));
    CU_ASSERT_EQUAL(sign_verify(&s, d, "POST", "/x", "", PA_SIG_POSSESSION, 0),
                    0);
    /* Nonce without any challenge: refused before decrypting. */
    CU_ASSERT_EQUAL(ds_status(&s, other, nonce, blob), PA_OK);
    CU_ASSERT_EQUAL(pa_device_status_decrypt(d, blob, nonce, NULL, 0, &st),
                    PA_ERR_INVALID_REQUEST);

    CU_ASSERT_EQUAL_FATAL(pa_device_status_challenge(d, ch), PA_OK);
    CU_ASSERT_EQUAL_FATAL(ds_status(&s, ch, nonce, blob), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_device_status_decrypt(d, blob, nonce, NULL, 0,
                                                   &st), PA_OK);
    CU_ASSERT_EQUAL(st.f.status, 3);
    CU_ASSERT_STRING_EQUAL(pa_device_status_name(st.f.status), "ACTIVE");
    CU_ASSERT_EQUAL(st.f.current_version, 3);
    CU_ASSERT_EQUAL(st.f.upgrade_version, 3);
    CU_ASSERT_EQUAL(st.f.ctr_byte, 1);
    CU_ASSERT_EQUAL(st.f.max_failed_attempts, 5);
    CU_ASSERT_EQUAL(st.f.ctr_look_ahead, DS_LOOKAHEAD);
    CU_ASSERT(st.hash_checked && st.hash_matches);
    CU_ASSERT_EQUAL(st.distance, 0);
    /* A wrong challenge shows as a decryption failure. */
    CU_ASSERT_EQUAL(pa_device_status_decrypt(d, blob, nonce, other, 0, &st),
                    PA_ERR_DECRYPTION_FAILED);

    /* Server three steps ahead (signatures the device lost): found at 3,
     * and --resync adopts it. */
    for (int i = 0; i < 3; i++)
        pa_sig_ctr_next(s.ctr_data, s.ctr_data);
    s.counter += 3;
    CU_ASSERT_EQUAL(ds_status(&s, ch, nonce, blob), PA_OK);
    CU_ASSERT_EQUAL(pa_device_status_decrypt(d, blob, nonce, ch, 1, &st),
                    PA_OK);
    CU_ASSERT(st.hash_matches);
    CU_ASSERT_EQUAL(st.distance, 3);
    CU_ASSERT(memcmp(d->ctr_data, s.ctr_data, 16) == 0);
    CU_ASSERT_EQUAL(d->counter, s.counter);
    CU_ASSERT_EQUAL(sign_verify(&s, d, "POST", "/x", "", PA_SIG_POSSESSION, 0),
                    0);

    /* Without a challenge: zero IV, counter fields not checked. */
    CU_ASSERT_EQUAL(ds_status(&s, NULL, nonce, blob), PA_OK);
    CU_ASSERT_EQUAL(pa_device_status_decrypt(d, blob, NULL, NULL, 0, &st),
                    PA_OK);
    CU_ASSERT_EQUAL(st.f.status, 3);
    CU_ASSERT_EQUAL(st.f.current_version, 3);
    CU_ASSERT_EQUAL(st.hash_checked, 0);
    pa_device_free(d);
    ds_free(&s);
}

/* A device behind the server by more than the lookahead finds nothing. */
static void test_status_hash_too_far(void)
{
    uint8_t ch[16], nonce[16], blob[32];
    pa_device_status st;
    ds_server s;
    pa_device *d = NULL;

    CU_ASSERT_FATAL(activate_default(&s, &d, "3.1"));
    for (int i = 0; i < DS_LOOKAHEAD + 1; i++)
        pa_sig_ctr_next(s.ctr_data, s.ctr_data);
    CU_ASSERT_EQUAL(pa_device_status_challenge(d, ch), PA_OK);
    CU_ASSERT_EQUAL(ds_status(&s, ch, nonce, blob), PA_OK);
    CU_ASSERT_EQUAL(pa_device_status_decrypt(d, blob, nonce, NULL, 1, &st),
                    PA_OK);
    CU_ASSERT(st.hash_checked && !st.hash_matches);
    CU_ASSERT(memcmp(d->ctr_data, s.ctr_data, 16) != 0);
    pa_device_free(d);
    ds_free(&s);
}

/* --- tokens ------------------------------------------------------------------------- */

static int create_token(ds_server *s, pa_device *d, const pa_device_token **t)
{
    pa_ecies_cryptogram cg;
    pa_ecies_request req;
    ds_answer a = {0};
    int ok = pa_device_token_request(d, 1, &cg) == PA_OK;

    if (ok) {
        pa_ecies_cryptogram_request(&cg, &req);
        ok = ds_token_create(s, &req, &a) == PA_OK
             && pa_device_token_response(d, a.ct, a.ct_len, a.mac, 32, t)
                    == PA_OK;
    }
    pa_ecies_cryptogram_free(&cg);
    ds_answer_free(&a);
    return ok;
}

static void check_token(ds_server *s, pa_device *d, const pa_device_token *t)
{
    uint8_t nonce[16] = {9}, digest[32];
    int64_t ts = 1700000000123;
    int valid = -1;

    CU_ASSERT_STRING_EQUAL(t->id, s->token_id);
    CU_ASSERT(memcmp(t->secret, s->token_secret, 16) == 0);
    CU_ASSERT_EQUAL(pa_device_token_digest(d, t->id, nonce, ts, digest), PA_OK);
    CU_ASSERT_EQUAL(pa_token_verify(s->token_secret, nonce, 16, ts, digest, 32,
                                    &valid), PA_OK);
    CU_ASSERT_EQUAL(valid, 1);
    CU_ASSERT_EQUAL(pa_token_verify(s->token_secret, nonce, 16, ts + 1, digest,
                                    32, &valid), PA_OK);
    CU_ASSERT_EQUAL(valid, 0);
}

static void test_tokens(void)
{
    const pa_device_token *t = NULL;
    uint8_t nonce[16] = {0}, digest[32];
    ds_server s;
    pa_device *d = NULL;

    CU_ASSERT_FATAL(activate_default(&s, &d, "3.1"));
    CU_ASSERT_FATAL(create_token(&s, d, &t));
    check_token(&s, d, t);
    CU_ASSERT_PTR_EQUAL(pa_device_token_find(d, s.token_id), t);
    CU_ASSERT_EQUAL(pa_device_token_digest(d, "unknown", nonce, 1, digest),
                    PA_ERR_INVALID_TOKEN);
    /* A second token is kept beside the first. */
    CU_ASSERT_FATAL(create_token(&s, d, &t));
    CU_ASSERT_EQUAL(d->ntokens, 2);
    check_token(&s, d, t);
    pa_device_free(d);
    ds_free(&s);
}

/* --- vault unlock ------------------------------------------------------------------ */

/* The body the SDK posts, rebuilt from the cryptogram fields. */
static void expected_vault_body(const pa_ecies_cryptogram *c, char *out,
                                size_t outlen)
{
    char eph[128], data[512], mac[64], nonce[32];

    pa_b64_encode(c->eph, c->eph_len, eph);
    pa_b64_encode(c->data, c->data_len, data);
    pa_b64_encode(c->mac, sizeof c->mac, mac);
    pa_b64_encode(c->nonce, sizeof c->nonce, nonce);
    if (c->has_nonce)
        snprintf(out, outlen,
                 "{\"ephemeralPublicKey\":\"%s\",\"encryptedData\":\"%s\","
                 "\"mac\":\"%s\",\"nonce\":\"%s\"}",
                 eph, data, mac, nonce);
    else
        snprintf(out, outlen,
                 "{\"ephemeralPublicKey\":\"%s\",\"encryptedData\":\"%s\","
                 "\"mac\":\"%s\"}",
                 eph, data, mac);
}

static int vault_round(ds_server *s, pa_device *d, const char *reason,
                       int tamper_signature, int *unlocked)
{
    pa_device_vault_req r;
    pa_ecies_request req;
    ds_answer a = {0};
    char body[1024], *exp;
    int valid = -1, ok;

    if (pa_device_vault_request(d, reason, PA_SIG_POSSESSION_KNOWLEDGE, 1, &r)
        != PA_OK)
        return 0;
    expected_vault_body(&r.c, body, sizeof body);
    CU_ASSERT_STRING_EQUAL(r.body, body);
    exp = expected_data("POST", "/pa/vault/unlock", r.sig.nonce_b64,
                        (const uint8_t *)body, strlen(body));
    CU_ASSERT_STRING_EQUAL(r.sig.data_string, exp);
    free(exp);
    if (tamper_signature)
        r.sig.signature[0] = r.sig.signature[0] == 'A' ? 'B' : 'A';
    pa_ecies_cryptogram_request(&r.c, &req);
    ok = ds_vault_unlock(s, &req, r.sig.data_string, r.sig.signature,
                         r.sig.type, r.sig.version, &valid, &a) == PA_OK
         && valid == !tamper_signature
         && pa_device_vault_response(d, a.ct, a.ct_len, a.mac, 32, unlocked)
                == PA_OK;
    pa_device_vault_request_free(&r);
    ds_answer_free(&a);
    return ok;
}

static void test_vault_v3(void)
{
    ds_server s;
    pa_device *d = NULL, *d30 = NULL;
    ds_server s30;
    int unlocked = -1;

    CU_ASSERT_FATAL(activate_default(&s, &d, "3.1"));
    CU_ASSERT(vault_round(&s, d, "FETCH_ENCRYPTION_KEY", 0, &unlocked));
    CU_ASSERT_EQUAL(unlocked, 1);
    CU_ASSERT_STRING_EQUAL(s.vault_reason, "FETCH_ENCRYPTION_KEY");
    CU_ASSERT(vault_round(&s, d, NULL, 0, &unlocked));
    CU_ASSERT_EQUAL(unlocked, 1);
    CU_ASSERT_STRING_EQUAL(s.vault_reason, "NOT_SPECIFIED");
    /* A bad signature gets {"encryptedVaultEncryptionKey":null}. */
    CU_ASSERT(vault_round(&s, d, "ADD_BIOMETRY", 1, &unlocked));
    CU_ASSERT_EQUAL(unlocked, 0);
    /* 3.0: no nonce in the body. */
    CU_ASSERT_FATAL(activate_default(&s30, &d30, "3.0"));
    CU_ASSERT(vault_round(&s30, d30, "RECOVERY_CODE", 0, &unlocked));
    CU_ASSERT_EQUAL(unlocked, 1);
    pa_device_free(d);
    pa_device_free(d30);
    ds_free(&s);
    ds_free(&s30);
}

/* Protocol 2: the key is bound to the counter after the signature, and
 * both sides end two steps on (14.4). */
static void test_vault_v2(void)
{
    pa_device_signature sig;
    uint8_t key[32];
    int64_t wrong = 7;
    ds_server s;
    pa_device *d = NULL;
    int valid = -1, unlocked = -1;

    CU_ASSERT_FATAL(activate_v2_code(&s, &d, "2.1"));
    CU_ASSERT_EQUAL_FATAL(pa_device_sign(d, "POST", "/pa/vault/unlock",
                                         (const uint8_t *)"{}", 2,
                                         PA_SIG_POSSESSION_KNOWLEDGE, NULL, 1,
                                         &sig), PA_OK);
    CU_ASSERT_STRING_EQUAL(sig.version, "2.1");
    CU_ASSERT_EQUAL(ds_vault_unlock_v2(&s, sig.data_string, sig.signature,
                                       sig.type, &valid, key), PA_OK);
    CU_ASSERT_EQUAL(valid, 1);
    CU_ASSERT_EQUAL(pa_device_v2_vault_response(d, key, 32, &wrong, &unlocked),
                    PA_OK);
    CU_ASSERT_EQUAL(unlocked, 0);
    CU_ASSERT_EQUAL(d->counter, 1);
    CU_ASSERT_EQUAL(pa_device_v2_vault_response(d, key, 32, NULL, &unlocked),
                    PA_OK);
    CU_ASSERT_EQUAL(unlocked, 1);
    CU_ASSERT_EQUAL(d->counter, 2);
    CU_ASSERT_EQUAL(s.counter, 2);
    CU_ASSERT_EQUAL(sign_verify(&s, d, "POST", "/x", "", PA_SIG_POSSESSION, 0),
                    0);
    pa_device_signature_free(&sig);
    pa_device_free(d);
    ds_free(&s);
}

/* --- recovery ------------------------------------------------------------------------ */

static int confirm_round(ds_server *s, pa_device *d, int *already)
{
    pa_ecies_cryptogram cg;
    pa_ecies_request req;
    ds_answer a = {0};
    int ok = pa_device_recovery_confirm_request(d, NULL, 1, &cg) == PA_OK;

    if (ok) {
        pa_ecies_cryptogram_request(&cg, &req);
        ok = ds_confirm_recovery(s, &req, &a) == PA_OK
             && pa_device_recovery_confirm_response(d, a.ct, a.ct_len, a.mac,
                                                    32, already) == PA_OK;
    }
    pa_ecies_cryptogram_free(&cg);
    ds_answer_free(&a);
    return ok;
}

static void test_recovery_confirm(void)
{
    pa_device_activation_opts o = {.compressed_eph = 1};
    pa_ecies_cryptogram cg;
    ds_server s;
    pa_device *d = NULL;
    int already = -1;

    CU_ASSERT_FATAL(setup(&s, &d, "3.1"));
    s.recovery = 1;
    CU_ASSERT_FATAL(activate_v3(&s, d, &o, 0));
    CU_ASSERT(confirm_round(&s, d, &already));
    CU_ASSERT_EQUAL(already, 0);
    CU_ASSERT(confirm_round(&s, d, &already));
    CU_ASSERT_EQUAL(already, 1);
    /* No code given and none received: nothing to confirm. */
    pa_device_free_secret(d->recovery_code);
    d->recovery_code = NULL;
    CU_ASSERT_EQUAL(pa_device_recovery_confirm_request(d, NULL, 1, &cg),
                    PA_ERR_INVALID_REQUEST);
    pa_device_free(d);
    ds_free(&s);
}

/* --- protocol 2 and upgrade ------------------------------------------------------------ */

/* startUpgrade, the commit signature with the hash counter (accepted only
 * in forced mode while the server still has version 2), commitUpgrade,
 * then an ordinary protocol-3 signature. */
static void upgrade_round(ds_server *s, pa_device *d)
{
    pa_device_signature sig;
    pa_ecies_cryptogram cg;
    pa_ecies_request req;
    ds_answer a = {0};
    int64_t counter, off = -1;

    CU_ASSERT_EQUAL(pa_device_set_protocol(d, "3.1"), PA_OK);
    /* A 3.1 SDK on a protocol-2 activation: BASE64, numeric counter. */
    CU_ASSERT_EQUAL(sign_verify(s, d, "POST", "/x", "",
                                PA_SIG_POSSESSION_KNOWLEDGE, 0), 0);
    counter = d->counter;
    CU_ASSERT_EQUAL_FATAL(pa_device_upgrade_request(d, 1, &cg), PA_OK);
    CU_ASSERT(cg.has_nonce);
    pa_ecies_cryptogram_request(&cg, &req);
    CU_ASSERT_EQUAL_FATAL(ds_start_upgrade(s, &req, &a), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_device_upgrade_response(d, a.ct, a.ct_len, a.mac,
                                                     32), PA_OK);
    pa_ecies_cryptogram_free(&cg);
    ds_answer_free(&a);
    CU_ASSERT_EQUAL(d->version, 3);
    CU_ASSERT_EQUAL(d->counter, counter);
    CU_ASSERT(memcmp(d->ctr_data, s->ctr_data, 16) == 0);

    CU_ASSERT_EQUAL_FATAL(pa_device_sign(d, "POST", "/pa/upgrade/commit",
                                         NULL, 0, PA_SIG_POSSESSION, NULL, 1,
                                         &sig), PA_OK);
    CU_ASSERT_EQUAL(ds_verify(s, sig.data_string, sig.signature,
                              PA_SIG_POSSESSION, "3.1", 0, &off), 0);
    CU_ASSERT_EQUAL(ds_verify(s, sig.data_string, sig.signature,
                              PA_SIG_POSSESSION, "3.1", 1, &off), 1);
    CU_ASSERT_EQUAL(off, 0);
    pa_device_signature_free(&sig);
    s->version = 3; /* commitUpgrade */
    CU_ASSERT_EQUAL(sign_verify(s, d, "POST", "/x", "",
                                PA_SIG_POSSESSION_KNOWLEDGE, 0), 0);
    /* A version-3 activation is not upgraded again. */
    CU_ASSERT_EQUAL(pa_device_upgrade_request(d, 1, &cg),
                    PA_ERR_ACTIVATION_INCORRECT_STATE);
}

static void test_v2_activation_and_upgrade(void)
{
    char fp_dev[PA_FINGERPRINT_BUF], fp_srv[PA_FINGERPRINT_BUF];
    ds_server s;
    pa_device *d = NULL;

    CU_ASSERT_FATAL(activate_v2_code(&s, &d, "2.1"));
    CU_ASSERT_EQUAL(d->version, 2);
    CU_ASSERT(!d->has_v2_pending);
    assert_same_keys(&s, d);
    CU_ASSERT_EQUAL(pa_device_fingerprint(d, fp_dev), PA_OK);
    CU_ASSERT_EQUAL(pa_fingerprint_v2(s.device_pub, fp_srv), PA_OK);
    CU_ASSERT_STRING_EQUAL(fp_dev, fp_srv);
    /* Protocol 2: numeric counter, DECIMAL. */
    CU_ASSERT_EQUAL(sign_verify(&s, d, "POST", "/x", "a",
                                PA_SIG_POSSESSION_KNOWLEDGE, 0), 0);
    CU_ASSERT_EQUAL(d->counter, 1);
    /* The app is updated to a 3.1 SDK, which upgrades the activation. */
    upgrade_round(&s, d);
    pa_device_free(d);
    ds_free(&s);
}

static void test_v2_custom_activation(void)
{
    char fp_dev[PA_FINGERPRINT_BUF], fp_srv[PA_FINGERPRINT_BUF];
    pa_device_v2_request r;
    ds_v2_answer ans;
    ds_server s, other;
    pa_device *d = NULL;
    uint8_t bad[PA_ECDSA_MAX];
    size_t badlen = 0;

    CU_ASSERT_FATAL(setup(&s, &d, "2.1"));
    CU_ASSERT_FATAL(ds_init(&other) == PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_device_v2_activation_request(
                              d, "user@example.com", "ABCDE-FGHIJ", &r), PA_OK);
    CU_ASSERT(d->has_v2_pending);
    /* A wrong OTP on the server side: the application signature still
     * verifies, the key does not decrypt. */
    CU_ASSERT_NOT_EQUAL(ds_v2_prepare(&s, "user@example.com", "ABCDE-XXXXX",
                                      r.nonce, r.c, sizeof r.c, r.eph,
                                      sizeof r.eph, r.app_sig, sizeof r.app_sig,
                                      &ans), PA_OK);
    CU_ASSERT_EQUAL_FATAL(ds_v2_prepare(&s, "user@example.com", "ABCDE-FGHIJ",
                                        r.nonce, r.c, sizeof r.c, r.eph,
                                        sizeof r.eph, r.app_sig,
                                        sizeof r.app_sig, &ans), PA_OK);
    /* Server data signed by another master key: refused, nothing stored. */
    CU_ASSERT_EQUAL(pa_v2_sign_server_data(other.master, s.activation_id,
                                           ans.c, sizeof ans.c, bad, &badlen),
                    PA_OK);
    CU_ASSERT_EQUAL(pa_device_v2_activation_response(
                        d, s.activation_id, ans.nonce, ans.eph, sizeof ans.eph,
                        ans.c, sizeof ans.c, bad, badlen),
                    PA_ERR_INVALID_SIGNATURE);
    CU_ASSERT_EQUAL(d->version, 0);
    CU_ASSERT(d->has_v2_pending);
    CU_ASSERT_EQUAL(pa_device_v2_activation_response(
                        d, s.activation_id, ans.nonce, ans.eph, sizeof ans.eph,
                        ans.c, sizeof ans.c, ans.sig, ans.sig_len), PA_OK);
    CU_ASSERT_EQUAL(d->version, 2);
    assert_same_keys(&s, d);
    CU_ASSERT_EQUAL(pa_device_fingerprint(d, fp_dev), PA_OK);
    CU_ASSERT_EQUAL(pa_fingerprint_v2(s.device_pub, fp_srv), PA_OK);
    CU_ASSERT_STRING_EQUAL(fp_dev, fp_srv);
    CU_ASSERT_EQUAL(sign_verify(&s, d, "POST", "/x", "",
                                PA_SIG_POSSESSION_BIOMETRY, 0), 0);
    upgrade_round(&s, d);
    pa_device_free(d);
    ds_free(&other);
    ds_free(&s);
}

static void test_v2_token(void)
{
    const pa_device_token *t = NULL;
    uint8_t eph[PA_EC_PUB_LEN];
    size_t n = 0;
    ds_answer a = {0};
    ds_server s;
    pa_device *d = NULL;

    CU_ASSERT_FATAL(activate_v2_code(&s, &d, "2.1"));
    CU_ASSERT_EQUAL_FATAL(pa_device_v2_token_request(d, 0, eph, &n), PA_OK);
    CU_ASSERT_EQUAL(n, 65);
    CU_ASSERT_EQUAL_FATAL(ds_v2_token(&s, eph, n, &a), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_device_v2_token_response(d, a.ct, a.ct_len,
                                                      a.mac, 32, &t), PA_OK);
    check_token(&s, d, t);
    ds_answer_free(&a);
    /* Compressed ephemeral key too. */
    CU_ASSERT_EQUAL_FATAL(pa_device_v2_token_request(d, 1, eph, &n), PA_OK);
    CU_ASSERT_EQUAL(n, 33);
    CU_ASSERT_EQUAL_FATAL(ds_v2_token(&s, eph, n, &a), PA_OK);
    CU_ASSERT_EQUAL(pa_device_v2_token_response(d, a.ct, a.ct_len, a.mac, 32,
                                                &t), PA_OK);
    check_token(&s, d, t);
    ds_answer_free(&a);
    pa_device_free(d);
    ds_free(&s);
}

/* --- generic ECIES ------------------------------------------------------------------- */

static void generic_round(ds_server *s, pa_device *d, int act,
                          const char *sh1)
{
    const char *q = "{\"question\":42}", *ans = "{\"answer\":\"yes\"}";
    pa_ecies_cryptogram cg;
    pa_ecies_request req;
    ds_answer a = {0};
    uint8_t *plain = NULL;
    size_t n = 0;

    CU_ASSERT_EQUAL_FATAL(pa_device_ecies_request(d, act, sh1,
                                                  (const uint8_t *)q,
                                                  strlen(q), 1, &cg), PA_OK);
    pa_ecies_cryptogram_request(&cg, &req);
    /* The other scope's key cannot open it. */
    CU_ASSERT_EQUAL(ds_open(s, !act, sh1, &req, &plain, &n),
                    PA_ERR_DECRYPTION_FAILED);
    CU_ASSERT_EQUAL_FATAL(ds_open(s, act, sh1, &req, &plain, &n), PA_OK);
    CU_ASSERT(n == strlen(q) && memcmp(plain, q, n) == 0);
    pa_secure_free(plain, n);
    CU_ASSERT_EQUAL_FATAL(ds_reply(s, ans, &a), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_device_ecies_response(d, a.ct, a.ct_len, a.mac,
                                                   32, &plain, &n), PA_OK);
    CU_ASSERT(n == strlen(ans) && memcmp(plain, ans, n) == 0);
    pa_secure_free(plain, n);
    pa_ecies_cryptogram_free(&cg);
    ds_answer_free(&a);
}

static void test_generic_ecies(void)
{
    ds_server s;
    pa_device *d = NULL;

    CU_ASSERT_FATAL(activate_default(&s, &d, "3.1"));
    generic_round(&s, d, 0, PA_ECIES_SH1_GENERIC_APPLICATION);
    generic_round(&s, d, 1, PA_ECIES_SH1_GENERIC_ACTIVATION);
    CU_ASSERT_EQUAL(pa_device_set_protocol(d, "3.0"), PA_OK);
    generic_round(&s, d, 0, PA_ECIES_SH1_GENERIC_APPLICATION);
    generic_round(&s, d, 1, PA_ECIES_SH1_GENERIC_ACTIVATION);
    pa_device_free(d);
    ds_free(&s);
}

/* --- negative cases -------------------------------------------------------------------- */

static void test_tampered_answers(void)
{
    pa_device_activation_opts o = {.compressed_eph = 1};
    const pa_device_token *t = NULL;
    pa_ecies_cryptogram cg;
    pa_ecies_request req;
    ds_answer a = {0};
    ds_server s;
    pa_device *d = NULL;
    int unlocked = -1;

    CU_ASSERT_FATAL(setup(&s, &d, "3.1"));
    CU_ASSERT_EQUAL_FATAL(pa_device_activation_request(d, &o, &cg), PA_OK);
    pa_ecies_cryptogram_request(&cg, &req);
    CU_ASSERT_EQUAL_FATAL(ds_prepare(&s, &req, 0, &a), PA_OK);
    a.mac[0] ^= 1;
    CU_ASSERT_EQUAL(pa_device_activation_response(d, a.ct, a.ct_len, a.mac,
                                                  32), PA_ERR_DECRYPTION_FAILED);
    CU_ASSERT_PTR_NULL(d->activation_id);
    CU_ASSERT_EQUAL(d->version, 0);
    CU_ASSERT_EQUAL(pa_device_activation_response(d, a.ct, a.ct_len, a.mac,
                                                  31), PA_ERR_DECRYPTION_FAILED);
    a.mac[0] ^= 1;
    a.ct[0] ^= 1;
    CU_ASSERT_EQUAL(pa_device_activation_response(d, a.ct, a.ct_len, a.mac,
                                                  32), PA_ERR_DECRYPTION_FAILED);
    a.ct[0] ^= 1;
    /* The request is still pending: the genuine answer is accepted. */
    CU_ASSERT_EQUAL(pa_device_activation_response(d, a.ct, a.ct_len, a.mac,
                                                  32), PA_OK);
    pa_ecies_cryptogram_free(&cg);
    ds_answer_free(&a);

    CU_ASSERT_EQUAL_FATAL(pa_device_token_request(d, 1, &cg), PA_OK);
    pa_ecies_cryptogram_request(&cg, &req);
    CU_ASSERT_EQUAL_FATAL(ds_token_create(&s, &req, &a), PA_OK);
    /* The answer of another kind of request is not read. */
    CU_ASSERT_EQUAL(pa_device_vault_response(d, a.ct, a.ct_len, a.mac, 32,
                                             &unlocked), PA_ERR_INVALID_REQUEST);
    a.mac[31] ^= 0x80;
    CU_ASSERT_EQUAL(pa_device_token_response(d, a.ct, a.ct_len, a.mac, 32, &t),
                    PA_ERR_DECRYPTION_FAILED);
    CU_ASSERT_EQUAL(d->ntokens, 0);
    pa_ecies_cryptogram_free(&cg);
    ds_answer_free(&a);
    pa_device_free(d);
    ds_free(&s);
}

static void test_not_activated(void)
{
    pa_device_signature sig;
    pa_ecies_cryptogram cg;
    pa_device_status st;
    uint8_t blob[32] = {0};
    char fp[PA_FINGERPRINT_BUF];
    ds_server s;
    pa_device *d = NULL, *bad = NULL;

    CU_ASSERT_FATAL(setup(&s, &d, "3.1"));
    CU_ASSERT_EQUAL(pa_device_sign(d, "POST", "/x", NULL, 0, PA_SIG_POSSESSION,
                                   NULL, 1, &sig),
                    PA_ERR_ACTIVATION_INCORRECT_STATE);
    CU_ASSERT_EQUAL(pa_device_token_request(d, 1, &cg),
                    PA_ERR_ACTIVATION_INCORRECT_STATE);
    CU_ASSERT_EQUAL(pa_device_status_decrypt(d, blob, NULL, NULL, 0, &st),
                    PA_ERR_ACTIVATION_INCORRECT_STATE);
    CU_ASSERT_EQUAL(pa_device_fingerprint(d, fp),
                    PA_ERR_ACTIVATION_INCORRECT_STATE);
    CU_ASSERT_EQUAL(pa_device_set_protocol(d, "3.2"),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_EQUAL(pa_device_new("3.1", "key", s.app_secret, "AAAA", &bad),
                    PA_ERR_INVALID_KEY_FORMAT);
    CU_ASSERT_EQUAL(pa_device_new("1.0", s.app_key, s.app_secret, "AAAA", &bad),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_PTR_NULL(bad);
    pa_device_free(d);
    ds_free(&s);
}

/* --- state file ------------------------------------------------------------------------ */

static char tmpdir[64];

static void path_in_tmp(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", tmpdir, name);
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    int ok = f != NULL && fputs(text, f) >= 0;

    if (f != NULL)
        ok = fclose(f) == 0 && ok;
    return ok;
}

/* Saves, reloads, and reads the pending token answer with the reloaded
 * device: everything a later CLI invocation needs survives the file. */
static void test_state_round_trip(void)
{
    const pa_device_token *t = NULL;
    pa_ecies_cryptogram cg;
    pa_ecies_request req;
    ds_answer a = {0};
    uint8_t ch[16];
    char path[128], why[160] = "";
    struct stat st;
    ds_server s;
    pa_device *d = NULL, *e = NULL;

    CU_ASSERT_FATAL(activate_default(&s, &d, "3.0"));
    CU_ASSERT_FATAL(create_token(&s, d, &t));
    CU_ASSERT_EQUAL(sign_verify(&s, d, "POST", "/x", "", PA_SIG_POSSESSION, 0),
                    0);
    CU_ASSERT_EQUAL(pa_device_status_challenge(d, ch), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_device_token_request(d, 0, &cg), PA_OK);
    path_in_tmp(path, sizeof path, "round.json");
    CU_ASSERT_EQUAL_FATAL(pa_device_save(d, path, why, sizeof why), PA_OK);
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    CU_ASSERT_EQUAL_FATAL(pa_device_load(path, &e, why, sizeof why), PA_OK);
    CU_ASSERT_EQUAL(e->protocol, PA_DEVICE_P30);
    CU_ASSERT_STRING_EQUAL(e->activation_id, d->activation_id);
    CU_ASSERT_EQUAL(e->version, 3);
    CU_ASSERT_EQUAL(e->counter, 1);
    CU_ASSERT(memcmp(e->ctr_data, s.ctr_data, 16) == 0);
    CU_ASSERT(e->has_challenge && memcmp(e->challenge, ch, 16) == 0);
    CU_ASSERT_EQUAL(e->ntokens, 1);
    CU_ASSERT_EQUAL(e->pending, PA_DEVICE_PENDING_TOKEN);
    assert_same_keys(&s, e);
    pa_ecies_cryptogram_request(&cg, &req);
    CU_ASSERT_EQUAL_FATAL(ds_token_create(&s, &req, &a), PA_OK);
    CU_ASSERT_EQUAL(pa_device_token_response(e, a.ct, a.ct_len, a.mac, 32, &t),
                    PA_OK);
    CU_ASSERT_EQUAL(e->ntokens, 2);
    check_token(&s, e, t);
    CU_ASSERT_EQUAL(sign_verify(&s, e, "POST", "/x", "", PA_SIG_POSSESSION, 0),
                    0);
    /* Saving over an existing file replaces it. */
    CU_ASSERT_EQUAL(pa_device_save(e, path, why, sizeof why), PA_OK);
    pa_ecies_cryptogram_free(&cg);
    ds_answer_free(&a);
    pa_device_free(e);
    pa_device_free(d);
    ds_free(&s);
    unlink(path);
}

/* The v2 key exchange in flight survives a save/load too. */
static void test_state_v2_pending(void)
{
    pa_device_v2_request r;
    ds_v2_answer ans;
    char path[128], why[160] = "";
    ds_server s;
    pa_device *d = NULL, *e = NULL;

    CU_ASSERT_FATAL(setup(&s, &d, "2.1"));
    CU_ASSERT_EQUAL_FATAL(pa_device_v2_activation_request(d, "id-1",
                                                          "ABCDE-FGHIJ", &r),
                          PA_OK);
    path_in_tmp(path, sizeof path, "v2.json");
    CU_ASSERT_EQUAL_FATAL(pa_device_save(d, path, why, sizeof why), PA_OK);
    CU_ASSERT_EQUAL_FATAL(pa_device_load(path, &e, why, sizeof why), PA_OK);
    CU_ASSERT(e->has_v2_pending);
    CU_ASSERT(memcmp(e->v2_nonce, r.nonce, 16) == 0);
    CU_ASSERT_EQUAL_FATAL(ds_v2_prepare(&s, "id-1", "ABCDE-FGHIJ", r.nonce, r.c,
                                        sizeof r.c, r.eph, sizeof r.eph,
                                        r.app_sig, sizeof r.app_sig, &ans),
                          PA_OK);
    CU_ASSERT_EQUAL(pa_device_v2_activation_response(
                        e, s.activation_id, ans.nonce, ans.eph, sizeof ans.eph,
                        ans.c, sizeof ans.c, ans.sig, ans.sig_len), PA_OK);
    assert_same_keys(&s, e);
    pa_device_free(e);
    pa_device_free(d);
    ds_free(&s);
    unlink(path);
}

/* Replaces (or with value NULL removes) one field of a saved state and
 * expects the load to fail naming `field`. */
static void expect_bad_field(const char *good_path, const char *name,
                             json_t *value, json_t *pending_kind,
                             const char *field)
{
    char path[128], why[200] = "";
    json_t *root = json_load_file(good_path, 0, NULL);
    pa_device *d = (pa_device *)1;
    char *text;

    CU_ASSERT_PTR_NOT_NULL_FATAL(root);
    if (pending_kind != NULL)
        json_object_set_new(json_object_get(root, "pending"), "kind",
                            pending_kind);
    else if (value != NULL)
        json_object_set_new(root, name, value);
    else
        json_object_del(root, name);
    text = json_dumps(root, 0);
    path_in_tmp(path, sizeof path, "bad.json");
    CU_ASSERT_FATAL(write_text(path, text));
    CU_ASSERT_NOT_EQUAL(pa_device_load(path, &d, why, sizeof why), PA_OK);
    CU_ASSERT_PTR_NULL(d);
    if (strstr(why, field) == NULL)
        fprintf(stderr, "\nload of a bad %s said: %s\n", name, why);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, field));
    free(text);
    json_decref(root);
    unlink(path);
}

static void expect_bad_text(const char *text)
{
    char path[128], why[200] = "";
    pa_device *d = (pa_device *)1;

    path_in_tmp(path, sizeof path, "bad.json");
    CU_ASSERT_FATAL(write_text(path, text));
    CU_ASSERT_EQUAL(pa_device_load(path, &d, why, sizeof why),
                    PA_ERR_INVALID_INPUT_FORMAT);
    CU_ASSERT_PTR_NULL(d);
    CU_ASSERT(why[0] != '\0');
    unlink(path);
}

static void test_state_bad_fields(void)
{
    pa_ecies_cryptogram cg;
    char path[128], why[200] = "";
    ds_server s, other;
    pa_device *d = NULL;
    uint8_t pub[65];
    char other_pub[96];

    CU_ASSERT_FATAL(activate_default(&s, &d, "3.1"));
    CU_ASSERT_FATAL(ds_init(&other) == PA_OK);
    CU_ASSERT_EQUAL(pa_ec_pub_export(other.server_key, pub), PA_OK);
    pa_b64_encode(pub, sizeof pub, other_pub);
    CU_ASSERT_EQUAL(pa_device_token_request(d, 1, &cg), PA_OK);
    pa_ecies_cryptogram_free(&cg);
    path_in_tmp(path, sizeof path, "good.json");
    CU_ASSERT_EQUAL_FATAL(pa_device_save(d, path, why, sizeof why), PA_OK);

    expect_bad_field(path, "counter", json_string("abc"), NULL, "counter");
    expect_bad_field(path, "ctrData", json_string("!!"), NULL, "ctrData");
    expect_bad_field(path, "ctrData", json_string("AAAA"), NULL, "ctrData");
    expect_bad_field(path, "ctrData", json_null(), NULL, "ctrData");
    expect_bad_field(path, "devicePrivateKey", json_string("AAAA"), NULL,
                     "devicePrivateKey");
    expect_bad_field(path, "devicePrivateKey", json_integer(5), NULL,
                     "devicePrivateKey");
    expect_bad_field(path, "devicePublicKey", json_string(other_pub), NULL,
                     "devicePublicKey");
    expect_bad_field(path, "serverPublicKey", json_string("AAAA"), NULL,
                     "serverPublicKey");
    expect_bad_field(path, "serverPublicKey", json_null(), NULL, "version");
    expect_bad_field(path, "protocol", json_string("9.9"), NULL, "protocol");
    expect_bad_field(path, "version", json_integer(7), NULL, "version");
    expect_bad_field(path, "version", json_string("3"), NULL, "version");
    expect_bad_field(path, "tokens", json_pack("{s:s}", "t", "short"), NULL,
                     "tokens");
    expect_bad_field(path, "tokens", json_array(), NULL, "tokens");
    expect_bad_field(path, "pending", json_string("token"), NULL, "pending");
    expect_bad_field(path, "pending", NULL, json_string("bogus"), "kind");
    expect_bad_field(path, "statusChallenge", json_string("AAAA"), NULL,
                     "statusChallenge");
    expect_bad_field(path, "extraField", json_integer(1), NULL, "extraField");
    expect_bad_field(path, "masterPublicKey", NULL, NULL, "masterPublicKey");
    expect_bad_field(path, "applicationSecret", json_integer(1), NULL,
                     "applicationSecret");
    expect_bad_field(path, "v2Pending", json_pack("{s:s}", "salt", "x"), NULL,
                     "activationOtp");
    expect_bad_text("");
    expect_bad_text("{");
    expect_bad_text("[1, 2]");
    expect_bad_text("{\"protocol\":\"3.1\"} trailing");
    {
        pa_device *none = NULL;

        path_in_tmp(why, sizeof why, "missing.json");
        CU_ASSERT_EQUAL(pa_device_load(why, &none, NULL, 0),
                        PA_ERR_UNKNOWN_ERROR);
        CU_ASSERT_PTR_NULL(none);
    }
    unlink(path);
    pa_device_free(d);
    ds_free(&other);
    ds_free(&s);
}

static int suite_init(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/padevice-unit-XXXXXX");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int suite_clean(void)
{
    return rmdir(tmpdir);
}

int register_device_protocol_suite(void)
{
    CU_pSuite s = CU_add_suite("device_protocol", suite_init, suite_clean);

    if (s == NULL
        || !CU_add_test(s, "activation 3.1, code, OTP, recovery", test_activation_v31_code)
        || !CU_add_test(s, "activation 3.0, uncompressed ephemeral key", test_activation_v30_uncompressed)
        || !CU_add_test(s, "custom activation, compressed device key", test_custom_activation)
        || !CU_add_test(s, "activation signature", test_activation_signature)
        || !CU_add_test(s, "wrong master key", test_wrong_master_key_activation)
        || !CU_add_test(s, "online signatures of every type", test_signature_types)
        || !CU_add_test(s, "GET signature over the canonical query", test_signature_get_query)
        || !CU_add_test(s, "lookahead: found at +5", test_lookahead)
        || !CU_add_test(s, "DECIMAL / BASE64 by protocol", test_formats_by_protocol)
        || !CU_add_test(s, "offline signatures", test_offline_signatures)
        || !CU_add_test(s, "offline payload not trusted", test_offline_untrusted_payload)
        || !CU_add_test(s, "status blob with and without challenge", test_status_blob)
        || !CU_add_test(s, "status counter hash beyond lookahead", test_status_hash_too_far)
        || !CU_add_test(s, "tokens", test_tokens)
        || !CU_add_test(s, "vault unlock v3", test_vault_v3)
        || !CU_add_test(s, "vault unlock v2", test_vault_v2)
        || !CU_add_test(s, "recovery code confirmation", test_recovery_confirm)
        || !CU_add_test(s, "v2 activation, then upgrade", test_v2_activation_and_upgrade)
        || !CU_add_test(s, "v2 custom activation, then upgrade", test_v2_custom_activation)
        || !CU_add_test(s, "v2 token", test_v2_token)
        || !CU_add_test(s, "generic ECIES, both scopes", test_generic_ecies)
        || !CU_add_test(s, "tampered answers refused", test_tampered_answers)
        || !CU_add_test(s, "not activated", test_not_activated)
        || !CU_add_test(s, "state file round trip", test_state_round_trip)
        || !CU_add_test(s, "state file with a v2 exchange in flight", test_state_v2_pending)
        || !CU_add_test(s, "state file with bad fields", test_state_bad_fields))
        return -1;
    return 0;
}
