/* base64.c - strict-but-lenient-padding Base64, see base64.h. */
#include <stdlib.h>
#include <string.h>

#include "util/base64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t pa_b64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t i, o = 0;

    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = alphabet[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = (i + 1 < n) ? alphabet[v >> 6 & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

static int value_of(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

pa_err pa_b64_decode_n(const char *in, size_t inlen, uint8_t *out,
                       size_t *outlen)
{
    size_t n = inlen, pad, i, o = 0;
    uint32_t acc = 0;
    int bits = 0;

    while (n > 0 && in[n - 1] == '=')
        n--;
    pad = inlen - n;
    if (n % 4 == 1)
        return PA_ERR_INVALID_INPUT_FORMAT;
    /* Padding may be absent or partial, but never more than completes the
     * last quantum ("AAAA=" and "====" are refused). */
    if (pad > 0 && (n % 4 == 0 || pad > 4 - n % 4))
        return PA_ERR_INVALID_INPUT_FORMAT;
    for (i = 0; i < n; i++) {
        int v = value_of((unsigned char)in[i]);
        if (v < 0)
            return PA_ERR_INVALID_INPUT_FORMAT;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    *outlen = o;
    return PA_OK;
}

pa_err pa_b64_decode(const char *in, uint8_t *out, size_t *outlen)
{
    if (in == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    return pa_b64_decode_n(in, strlen(in), out, outlen);
}

pa_err pa_b64_decode_exact(const char *in, uint8_t *out, size_t want)
{
    size_t len, got;
    uint8_t *tmp;
    pa_err e;

    if (in == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    len = strlen(in);
    if (len > PA_B64_ENCLEN(want))        /* too long to be `want` bytes */
        return PA_ERR_INVALID_INPUT_FORMAT;
    tmp = malloc(PA_B64_DECMAX(len) + 1);
    if (tmp == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    e = pa_b64_decode_n(in, len, tmp, &got);
    if (e == PA_OK && got != want)
        e = PA_ERR_INVALID_INPUT_FORMAT;
    if (e == PA_OK)
        memcpy(out, tmp, want);
    explicit_bzero(tmp, PA_B64_DECMAX(len) + 1);
    free(tmp);
    return e;
}

pa_err pa_b64_encode_alloc(const uint8_t *in, size_t n, char **out)
{
    char *s = malloc(PA_B64_ENCLEN(n) + 1);

    if (s == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    pa_b64_encode(in, n, s);
    *out = s;
    return PA_OK;
}

pa_err pa_b64_decode_alloc(const char *in, uint8_t **out, size_t *outlen)
{
    size_t len;
    uint8_t *b;
    pa_err e;

    if (in == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    len = strlen(in);
    b = malloc(PA_B64_DECMAX(len) + 1);
    if (b == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    e = pa_b64_decode_n(in, len, b, outlen);
    if (e != PA_OK) {
        /* a partial decode of a secret may sit in the buffer */
        explicit_bzero(b, PA_B64_DECMAX(len) + 1);
        free(b);
        return e;
    }
    *out = b;
    return PA_OK;
}
