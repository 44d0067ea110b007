/*
 * codes.c - activation codes, activation signature, key fingerprint.
 * See codes.h; byte-level rules in CRYPTO.md 4.3, 4.4, 4.6 and 6.6.
 */
#include "crypto/codes.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/primitives.h"
#include "util/base32.h"

/* Code bytes: the random part followed by its CRC, big-endian. */
#define CODE_BYTES (PA_CODE_RANDOM_LEN + 2)
#define CODE_CHARS 20               /* Base32 of 12 bytes, dashes removed */
#define GROUP 5

uint16_t pa_code_crc16(const uint8_t *b, size_t n)
{
    uint16_t crc = 0;

    for (size_t i = 0; i < n; i++) {
        crc ^= b[i];
        for (int k = 0; k < 8; k++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
    }
    return crc;
}

void pa_code_from_bytes(const uint8_t r[PA_CODE_RANDOM_LEN],
                        char out[PA_CODE_BUF])
{
    uint8_t b[CODE_BYTES];
    char s[PA_B32_ENCLEN(CODE_BYTES) + 1];
    uint16_t crc = pa_code_crc16(r, PA_CODE_RANDOM_LEN);
    size_t o = 0;

    memcpy(b, r, PA_CODE_RANDOM_LEN);
    b[PA_CODE_RANDOM_LEN] = (uint8_t)(crc >> 8);
    b[PA_CODE_RANDOM_LEN + 1] = (uint8_t)crc;
    pa_b32_encode(b, sizeof b, s);          /* exactly 20 characters */
    for (int i = 0; i < CODE_CHARS; i++) {
        if (i > 0 && i % GROUP == 0)
            out[o++] = '-';
        out[o++] = s[i];
    }
    out[o] = '\0';
    /* The code is a credential until it is used: wipe the copies. */
    OPENSSL_cleanse(b, sizeof b);
    OPENSSL_cleanse(s, sizeof s);
}

pa_err pa_code_generate(char out[PA_CODE_BUF])
{
    uint8_t r[PA_CODE_RANDOM_LEN];
    pa_err e;

    if (out == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    e = pa_random(r, sizeof r);
    if (e == PA_OK)
        pa_code_from_bytes(r, out);
    else
        out[0] = '\0';
    OPENSSL_cleanse(r, sizeof r);
    return e;
}

/* Length of s, but looks at no more than max + 1 characters. */
static size_t bounded_len(const char *s, size_t max)
{
    size_t n = 0;

    while (n <= max && s[n] != '\0')
        n++;
    return n;
}

/* The regular expression ^[A-Z2-7]{5}(-[A-Z2-7]{5}){3}$ of the Java code,
 * matched over the whole string. */
static int code_format_ok(const char *code)
{
    if (bounded_len(code, PA_CODE_LEN) != PA_CODE_LEN)
        return 0;
    for (int i = 0; i < PA_CODE_LEN; i++) {
        char c = code[i];

        if (i % (GROUP + 1) == GROUP) {
            if (c != '-')
                return 0;
        } else if (!((c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7'))) {
            return 0;
        }
    }
    return 1;
}

int pa_code_validate(const char *code)
{
    char s[CODE_CHARS];
    uint8_t b[CODE_CHARS * 5 / 8];          /* 12 bytes; 4 surplus bits dropped */
    size_t n = 0, blen = 0;
    int ok;

    if (code == NULL || !code_format_ok(code))
        return 0;
    for (int i = 0; i < PA_CODE_LEN; i++)
        if (code[i] != '-')
            s[n++] = code[i];
    ok = pa_b32_decode(s, n, b, &blen) == PA_OK && blen == CODE_BYTES
         && pa_code_crc16(b, PA_CODE_RANDOM_LEN)
                == (uint16_t)(b[PA_CODE_RANDOM_LEN] << 8 | b[PA_CODE_RANDOM_LEN + 1]);
    OPENSSL_cleanse(s, sizeof s);
    OPENSSL_cleanse(b, sizeof b);
    return ok;
}

void pa_code_mask(const char *code, char out[PA_CODE_BUF])
{
    static const char prefix[] = "XXXXX-XXXXX-XXXXX-";

    if (code == NULL || bounded_len(code, PA_CODE_LEN) != PA_CODE_LEN) {
        out[0] = '\0';
        return;
    }
    memcpy(out, prefix, sizeof prefix - 1);
    memcpy(out + sizeof prefix - 1, code + sizeof prefix - 1,
           PA_CODE_LEN - (sizeof prefix - 1));
    out[PA_CODE_LEN] = '\0';
}

pa_err pa_code_sign(const pa_eckey *master_priv, const char *code,
                    uint8_t sig[PA_ECDSA_MAX], size_t *siglen)
{
    if (master_priv == NULL || code == NULL || sig == NULL || siglen == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    return pa_ec_sign(master_priv, (const uint8_t *)code, strlen(code), sig,
                      siglen);
}

pa_err pa_code_verify_signature(const pa_eckey *master_pub, const char *code,
                                const uint8_t *sig, size_t siglen, int *valid)
{
    if (valid != NULL)
        *valid = 0;
    if (master_pub == NULL || code == NULL || sig == NULL || valid == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    return pa_ec_verify(master_pub, (const uint8_t *)code, strlen(code), sig,
                        siglen, valid);
}

void pa_fingerprint_from_hash(const uint8_t h[32],
                              char out[PA_FINGERPRINT_BUF])
{
    /* Java: ByteBuffer.getInt of the last four bytes, sign bit cleared. */
    uint32_t v = (pa_u32(h + 28) & 0x7FFFFFFFu) % 100000000u;

    for (int i = PA_FINGERPRINT_LEN - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
    out[PA_FINGERPRINT_LEN] = '\0';
}

pa_err pa_fingerprint_v3(const pa_eckey *device_pub, const char *activation_id,
                         const pa_eckey *server_pub,
                         char out[PA_FINGERPRINT_BUF])
{
    uint8_t dx[PA_EC_COORD_LEN], sx[PA_EC_COORD_LEN], h[PA_SHA256_LEN];
    size_t dl = 0, sl = 0, idl, n;
    uint8_t *m;
    pa_err e;

    if (out != NULL)
        out[0] = '\0';
    if (device_pub == NULL || activation_id == NULL || server_pub == NULL
        || out == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    if ((e = pa_ec_xmin(device_pub, dx, &dl)) != PA_OK
        || (e = pa_ec_xmin(server_pub, sx, &sl)) != PA_OK)
        return e;
    /* Everything hashed here is public: no wiping needed. */
    idl = strlen(activation_id);
    n = dl + idl + sl;
    m = malloc(n);
    if (m == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    memcpy(m, dx, dl);
    memcpy(m + dl, activation_id, idl);
    memcpy(m + dl + idl, sx, sl);
    e = pa_sha256(m, n, h);
    free(m);
    if (e == PA_OK)
        pa_fingerprint_from_hash(h, out);
    return e;
}

pa_err pa_fingerprint_v2(const pa_eckey *device_pub,
                         char out[PA_FINGERPRINT_BUF])
{
    uint8_t dx[PA_EC_COORD_LEN], h[PA_SHA256_LEN];
    size_t dl = 0;
    pa_err e;

    if (out != NULL)
        out[0] = '\0';
    if (device_pub == NULL || out == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    if ((e = pa_ec_xmin(device_pub, dx, &dl)) != PA_OK
        || (e = pa_sha256(dx, dl, h)) != PA_OK)
        return e;
    pa_fingerprint_from_hash(h, out);
    return PA_OK;
}
