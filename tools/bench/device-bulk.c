/*
 * device-bulk - many padevice steps of one kind at once, as SOAP request
 * bodies for tools/bench/soap-driver (scripts/bench-signature).
 *
 *   device-bulk sign --state FILE --count N [--method M] [--uri-id U]
 *                    [--body B] [--signature-type T]
 *   device-bulk token-digest --state FILE --token-id ID --count N
 *                    [--timestamp MS]
 *
 * The same library calls as `padevice sign` and `padevice token-digest`
 * (libpadevice: pa_device_sign, pa_device_token_digest) on a state file
 * written by padevice, N times in one process instead of N processes.
 * Prints N lines, each one complete SOAP envelope:
 *
 * sign: a VerifySignatureRequest (v3) for the activation of the state,
 *   with its applicationKey, the dataString (XML-escaped), signature,
 *   signatureType and signatureVersion of `padevice sign`; the signatures
 *   are at the consecutive counter positions of the state, and the state
 *   file is saved moved on by N, as N `padevice sign` calls leave it.
 *   Defaults: POST, /pa/signature/validate, body "b", possession_knowledge;
 *   a random nonce each.
 * token-digest: a ValidateTokenRequest for the stored token ID, each with a
 *   new random nonce and the timestamp MS (default: now), so every
 *   (tokenId, nonce) pair is new to the server's replay check.  The state
 *   is not changed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/primitives.h"
#include "tools/padevice/device.h"
#include "util/base64.h"

#define NS "http://getlime.io/security/powerauth/v3"
#define ENV_OPEN "<?xml version=\"1.0\" encoding=\"UTF-8\"?><S:Envelope " \
    "xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body>"
#define ENV_CLOSE "</S:Body></S:Envelope>\n"

static void usage(void)
{
    fprintf(stderr,
            "usage: device-bulk sign --state FILE --count N [--method M] [--uri-id U]\n"
            "                        [--body B] [--signature-type T]\n"
            "       device-bulk token-digest --state FILE --token-id ID --count N\n"
            "                        [--timestamp MS]\n");
    exit(2);
}

static void fail(const char *what, pa_err e)
{
    fprintf(stderr, "device-bulk: %s failed (error %d)\n", what, (int)e);
    exit(1);
}

/* Writes s with &, < and > escaped. */
static void xml_text(const char *s, FILE *out)
{
    for (; *s; s++) {
        if (*s == '&')
            fputs("&amp;", out);
        else if (*s == '<')
            fputs("&lt;", out);
        else if (*s == '>')
            fputs("&gt;", out);
        else
            putc(*s, out);
    }
}

int main(int argc, char **argv)
{
    const char *state = NULL, *method = "POST", *uri = "/pa/signature/validate";
    const char *body = "b", *type_name = "possession_knowledge", *token = NULL;
    long count = -1;
    int64_t ts = 0;
    int has_ts = 0, sign;
    pa_device *d = NULL;
    char why[256] = "";
    pa_err e;

    if (argc < 2)
        usage();
    if (strcmp(argv[1], "sign") == 0)
        sign = 1;
    else if (strcmp(argv[1], "token-digest") == 0)
        sign = 0;
    else
        usage();
    for (int i = 2; i < argc; i += 2) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (!v)
            usage();
        if (strcmp(o, "--state") == 0)
            state = v;
        else if (strcmp(o, "--count") == 0)
            count = atol(v);
        else if (strcmp(o, "--method") == 0)
            method = v;
        else if (strcmp(o, "--uri-id") == 0)
            uri = v;
        else if (strcmp(o, "--body") == 0)
            body = v;
        else if (strcmp(o, "--signature-type") == 0)
            type_name = v;
        else if (strcmp(o, "--token-id") == 0)
            token = v;
        else if (strcmp(o, "--timestamp") == 0) {
            ts = strtoll(v, NULL, 10);
            has_ts = 1;
        } else
            usage();
    }
    if (!state || count < 0 || (!sign && !token))
        usage();
    if ((e = pa_crypto_init()) != PA_OK)
        fail("crypto init", e);
    if ((e = pa_device_load(state, &d, why, sizeof why)) != PA_OK) {
        fprintf(stderr, "device-bulk: %s: %s\n", state, why);
        return 1;
    }
    if (sign) {
        pa_sig_type t;

        if (!d->activation_id || !d->version)
            fail("sign: the state has no activation", PA_ERR_INVALID_REQUEST);
        if (pa_sig_type_parse(type_name, &t) != PA_OK)
            usage();
        for (long n = 0; n < count; n++) {
            pa_device_signature s;

            if ((e = pa_device_sign(d, method, uri, (const uint8_t *)body,
                                    strlen(body), t, NULL, 1, &s)) != PA_OK)
                fail("sign", e);
            printf(ENV_OPEN "<VerifySignatureRequest xmlns=\"" NS "\">"
                   "<activationId>%s</activationId>"
                   "<applicationKey>%s</applicationKey><data>",
                   d->activation_id, d->app_key);
            xml_text(s.data_string, stdout);
            printf("</data><signature>%s</signature>"
                   "<signatureType>%s</signatureType>"
                   "<signatureVersion>%s</signatureVersion>"
                   "</VerifySignatureRequest>" ENV_CLOSE,
                   s.signature, pa_sig_type_name(s.type), s.version);
            pa_device_signature_free(&s);
        }
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "device-bulk: write error\n");
            return 1;
        }
        if ((e = pa_device_save(d, state, why, sizeof why)) != PA_OK) {
            fprintf(stderr, "device-bulk: saving %s: %s\n", state, why);
            return 1;
        }
    } else {
        if (!has_ts) {
            struct timespec now;

            clock_gettime(CLOCK_REALTIME, &now);
            ts = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
        }
        for (long n = 0; n < count; n++) {
            uint8_t nonce[16], digest[PA_TOKEN_DIGEST_LEN];
            char nonce_b64[PA_B64_ENCLEN(16) + 1];
            char digest_b64[PA_B64_ENCLEN(PA_TOKEN_DIGEST_LEN) + 1];

            if ((e = pa_random(nonce, sizeof nonce)) != PA_OK
                || (e = pa_device_token_digest(d, token, nonce, ts, digest)) != PA_OK)
                fail("token-digest", e);
            pa_b64_encode(nonce, sizeof nonce, nonce_b64);
            pa_b64_encode(digest, sizeof digest, digest_b64);
            printf(ENV_OPEN "<ValidateTokenRequest xmlns=\"" NS "\">"
                   "<tokenId>%s</tokenId><tokenDigest>%s</tokenDigest>"
                   "<nonce>%s</nonce><timestamp>%" PRId64 "</timestamp>"
                   "</ValidateTokenRequest>" ENV_CLOSE,
                   token, digest_b64, nonce_b64, ts);
        }
    }
    pa_device_free(d);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "device-bulk: write error\n");
        return 1;
    }
    return 0;
}
