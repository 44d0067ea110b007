/*
 * offline.c - offline signature payloads, see offline.h.
 *
 * Creation signs UTF8(data LF nonce LF indicator) and appends the Base64 DER
 * signature right after the indicator (no separator).  Parsing works from the
 * end of the text because data may itself contain LFs.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/offline.h"
#include "crypto/primitives.h"
#include "util/base64.h"

static int indicator_ok(char c)
{
    return c == PA_OFFLINE_KEY_MASTER || c == PA_OFFLINE_KEY_SERVER;
}

pa_err pa_offline_payload_create_nonce(
    const pa_eckey *priv, const char *data, char key_indicator,
    const uint8_t nonce[PA_OFFLINE_NONCE_LEN], char **offline_data,
    char nonce_b64[PA_OFFLINE_NONCE_B64_LEN + 1])
{
    uint8_t sig[PA_ECDSA_MAX];
    size_t dl, signed_len, siglen = 0;
    char *s;
    pa_err e;

    if (priv == NULL || data == NULL || nonce == NULL || offline_data == NULL
        || nonce_b64 == NULL || !indicator_ok(key_indicator))
        return PA_ERR_INVALID_INPUT_FORMAT;
    *offline_data = NULL;
    dl = strlen(data);
    if (dl > SIZE_MAX / 2)
        return PA_ERR_INVALID_INPUT_FORMAT;
    signed_len = dl + 1 + PA_OFFLINE_NONCE_B64_LEN + 1 + 1;
    s = malloc(signed_len + PA_B64_ENCLEN(PA_ECDSA_MAX) + 1);
    if (s == NULL)
        return PA_ERR_UNKNOWN_ERROR;

    /* SIGNED_TEXT = data LF NONCE_B64 LF INDICATOR */
    memcpy(s, data, dl);
    s[dl] = '\n';
    pa_b64_encode(nonce, PA_OFFLINE_NONCE_LEN, s + dl + 1);
    s[dl + 1 + PA_OFFLINE_NONCE_B64_LEN] = '\n';
    s[signed_len - 1] = key_indicator;

    e = pa_ec_sign(priv, (const uint8_t *)s, signed_len, sig, &siglen);
    if (e != PA_OK) {
        free(s);
        return e;
    }
    /* offlineData = SIGNED_TEXT B64(SIG) */
    pa_b64_encode(sig, siglen, s + signed_len);
    memcpy(nonce_b64, s + dl + 1, PA_OFFLINE_NONCE_B64_LEN);
    nonce_b64[PA_OFFLINE_NONCE_B64_LEN] = '\0';
    *offline_data = s;
    return PA_OK;
}

pa_err pa_offline_payload_create(const pa_eckey *priv, const char *data,
                                 char key_indicator, char **offline_data,
                                 char nonce_b64[PA_OFFLINE_NONCE_B64_LEN + 1])
{
    uint8_t nonce[PA_OFFLINE_NONCE_LEN];
    pa_err e = pa_random(nonce, sizeof nonce);

    if (e != PA_OK)
        return e;
    e = pa_offline_payload_create_nonce(priv, data, key_indicator, nonce,
                                        offline_data, nonce_b64);
    OPENSSL_cleanse(nonce, sizeof nonce);
    return e;
}

/* Locates the parts; *sig_at = index of the first signature character
 * (= length of the signed text). */
static pa_err split(const char *od, pa_offline_parts *parts, size_t *sig_at)
{
    uint8_t nb[PA_B64_DECMAX(PA_OFFLINE_NONCE_B64_LEN)];
    const char *last, *prev;
    size_t nonce_len, dl, nl;

    if (od == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    last = strrchr(od, '\n');
    if (last == NULL || last == od)
        return PA_ERR_INVALID_INPUT_FORMAT;
    /* last LF of the part before `last` */
    for (prev = last - 1; prev > od && *prev != '\n'; prev--)
        ;
    if (*prev != '\n')
        return PA_ERR_INVALID_INPUT_FORMAT;
    nonce_len = (size_t)(last - prev - 1);
    if (nonce_len != PA_OFFLINE_NONCE_B64_LEN
        || pa_b64_decode_n(prev + 1, nonce_len, nb, &nl) != PA_OK
        || nl != PA_OFFLINE_NONCE_LEN)
        return PA_ERR_INVALID_INPUT_FORMAT;
    if (!indicator_ok(last[1]) || last[2] == '\0')
        return PA_ERR_INVALID_INPUT_FORMAT;

    dl = (size_t)(prev - od);
    parts->data = malloc(dl + 1);
    if (parts->data == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    memcpy(parts->data, od, dl);
    parts->data[dl] = '\0';
    memcpy(parts->nonce_b64, prev + 1, nonce_len);
    parts->nonce_b64[nonce_len] = '\0';
    parts->key_indicator = last[1];
    *sig_at = (size_t)(last - od) + 2;
    return PA_OK;
}

pa_err pa_offline_payload_parse(const char *offline_data,
                                pa_offline_parts *parts)
{
    pa_offline_parts p = {0};
    size_t sig_at;
    pa_err e;

    if (parts == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    memset(parts, 0, sizeof *parts);
    if ((e = split(offline_data, &p, &sig_at)) != PA_OK)
        return e;
    /* The signature text must at least be Base64. */
    {
        const char *sig = offline_data + sig_at;
        uint8_t *tmp = NULL;
        size_t tl = 0;

        if (pa_b64_decode_alloc(sig, &tmp, &tl) != PA_OK) {
            pa_offline_parts_free(&p);
            return PA_ERR_INVALID_INPUT_FORMAT;
        }
        free(tmp);
    }
    *parts = p;
    return PA_OK;
}

pa_err pa_offline_payload_verify(const pa_eckey *pub, const char *offline_data,
                                 int *valid, pa_offline_parts *parts)
{
    pa_offline_parts p = {0};
    uint8_t *sig = NULL;
    size_t sig_at, siglen = 0;
    pa_err e;

    if (pub == NULL || valid == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    *valid = 0;
    if (parts != NULL)
        memset(parts, 0, sizeof *parts);
    if ((e = split(offline_data, &p, &sig_at)) != PA_OK)
        return e;
    if (pa_b64_decode_alloc(offline_data + sig_at, &sig, &siglen) != PA_OK) {
        pa_offline_parts_free(&p);
        return PA_ERR_INVALID_INPUT_FORMAT;
    }
    e = pa_ec_verify(pub, (const uint8_t *)offline_data, sig_at, sig, siglen,
                     valid);
    free(sig);
    if (e != PA_OK) {
        *valid = 0;
        pa_offline_parts_free(&p);
        return e;
    }
    if (parts != NULL)
        *parts = p;
    else
        pa_offline_parts_free(&p);
    return PA_OK;
}

void pa_offline_parts_free(pa_offline_parts *parts)
{
    if (parts == NULL)
        return;
    free(parts->data);
    memset(parts, 0, sizeof *parts);
}
