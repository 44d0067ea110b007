/*
 * password.c - Argon2 password hashes for OTPs and PUKs (CRYPTO.md 15).
 *
 * libargon2 does the hashing (OpenSSL 3.0 has no Argon2).  The modular
 * crypt string is built and parsed here rather than by libargon2's own
 * encoder/decoder so that exactly the form of section 15 is written and
 * accepted, and so that absurd cost parameters in a stored hash are
 * refused before any memory is allocated for them.
 */
#include <stdlib.h>
#include <string.h>

#include <argon2.h>
#include <openssl/crypto.h>

#include "crypto/password.h"
#include "crypto/primitives.h"
#include "util/base64.h"

#define B64_MAX PA_B64_DECMAX(PA_ARGON2_MAX_ENCODED)

/* A parsed stored hash. */
typedef struct {
    argon2_type type;
    uint32_t m, t, p;
    uint8_t salt[B64_MAX];
    size_t saltlen;
    uint8_t digest[B64_MAX];
    size_t digestlen;
} parsed_hash;

/* Base64 without padding, appended at *o; returns the new end. */
static char *put_b64_nopad(char *o, const uint8_t *b, size_t n)
{
    size_t len = pa_b64_encode(b, n, o);

    while (len > 0 && o[len - 1] == '=')
        len--;
    o[len] = '\0';
    return o + len;
}

static pa_err run_argon2(argon2_type type, uint32_t t, uint32_t m,
                         uint32_t p, const uint8_t *pw, size_t n,
                         const uint8_t *salt, size_t saltlen,
                         uint8_t out[PA_ARGON2_HASH_LEN])
{
    int rc;

    if (pw == NULL && n != 0)
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    rc = argon2_hash(t, m, p, pw, n, salt, saltlen, out, PA_ARGON2_HASH_LEN,
                     NULL, 0, type, ARGON2_VERSION_13);
    return rc == ARGON2_OK ? PA_OK : PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
}

pa_err pa_password_hash(const uint8_t *pw, size_t n, char **mcf_out)
{
    static const char prefix[] = "$argon2i$v=19$m=32768,t=3,p=16$";
    uint8_t salt[PA_ARGON2_SALT_LEN], digest[PA_ARGON2_HASH_LEN];
    size_t cap = sizeof prefix + PA_B64_ENCLEN(sizeof salt) + 1
                 + PA_B64_ENCLEN(sizeof digest) + 1;
    char *s, *o;
    pa_err e;

    if (mcf_out == NULL)
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    e = pa_random(salt, sizeof salt);
    if (e == PA_OK)
        e = run_argon2(Argon2_i, PA_ARGON2_T, PA_ARGON2_M, PA_ARGON2_P, pw, n,
                       salt, sizeof salt, digest);
    if (e == PA_OK) {
        s = malloc(cap);
        if (s == NULL) {
            e = PA_ERR_UNKNOWN_ERROR;
        } else {
            memcpy(s, prefix, sizeof prefix);
            o = put_b64_nopad(s + sizeof prefix - 1, salt, sizeof salt);
            *o++ = '$';
            put_b64_nopad(o, digest, sizeof digest);
            *mcf_out = s;
        }
    }
    OPENSSL_cleanse(digest, sizeof digest);
    return e;
}

/* --- parsing (15, step 1) ------------------------------------------------ */

static int eat(const char **p, const char *lit)
{
    size_t n = strlen(lit);

    if (strncmp(*p, lit, n) != 0)
        return 0;
    *p += n;
    return 1;
}

/* One or more decimal digits, value at most max (checked digit by digit, so
 * no overflow and no giant number sneaks through). */
static int eat_uint(const char **p, uint32_t max, uint32_t *out)
{
    const char *s = *p;
    uint64_t v = 0;

    if (*s < '0' || *s > '9')
        return 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > max)
            return 0;
        s++;
    }
    *out = (uint32_t)v;
    *p = s;
    return 1;
}

static int is_b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Unpadded standard Base64 up to the next '$' or the end of the string:
 * '=' and every other character are refused by the class check. */
static int eat_b64(const char **p, uint8_t *out, size_t *outlen)
{
    const char *s = *p;
    size_t len = 0;

    while (is_b64_char(s[len]))
        len++;
    if (len == 0 || pa_b64_decode_n(s, len, out, outlen) != PA_OK)
        return 0;
    *p = s + len;
    return 1;
}

static int eat_type(const char **p, argon2_type *type)
{
    /* Longest name first: "argon2i" is a prefix of "argon2id". */
    if (eat(p, "$argon2id$"))
        *type = Argon2_id;
    else if (eat(p, "$argon2i$"))
        *type = Argon2_i;
    else if (eat(p, "$argon2d$"))
        *type = Argon2_d;
    else
        return 0;
    return 1;
}

static int parse_mcf(const char *s, parsed_hash *h)
{
    uint32_t version = 0;

    if (strlen(s) > PA_ARGON2_MAX_ENCODED)
        return 0;
    if (!eat_type(&s, &h->type)
        || !eat(&s, "v=") || !eat_uint(&s, 255, &version)
        || version != ARGON2_VERSION_13
        || !eat(&s, "$m=") || !eat_uint(&s, PA_ARGON2_MAX_M, &h->m)
        || !eat(&s, ",t=") || !eat_uint(&s, PA_ARGON2_MAX_T, &h->t)
        || !eat(&s, ",p=") || !eat_uint(&s, PA_ARGON2_MAX_P, &h->p)
        || !eat(&s, "$") || !eat_b64(&s, h->salt, &h->saltlen)
        || !eat(&s, "$") || !eat_b64(&s, h->digest, &h->digestlen)
        || *s != '\0')
        return 0;
    /* libargon2's own lower limits; refusing here keeps the error uniform. */
    return h->t >= ARGON2_MIN_TIME && h->p >= ARGON2_MIN_LANES
           && h->m >= ARGON2_MIN_MEMORY && h->m >= 8 * h->p
           && h->saltlen >= ARGON2_MIN_SALT_LENGTH
           && h->digestlen >= ARGON2_MIN_OUTLEN;
}

pa_err pa_password_verify(const uint8_t *pw, size_t n, const char *mcf,
                          int *match)
{
    parsed_hash h;
    uint8_t digest[PA_ARGON2_HASH_LEN];
    pa_err e;

    if (match == NULL)
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    *match = 0;
    if (mcf == NULL || !parse_mcf(mcf, &h))
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    /* Java always computes 32 bytes; another stored length cannot match. */
    e = run_argon2(h.type, h.t, h.m, h.p, pw, n, h.salt, h.saltlen, digest);
    if (e == PA_OK)
        *match = pa_ct_equal(digest, sizeof digest, h.digest, h.digestlen);
    OPENSSL_cleanse(digest, sizeof digest);
    OPENSSL_cleanse(&h, sizeof h);
    return e;
}
