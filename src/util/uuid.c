/*
 * uuid.c - version-4 UUID text, see uuid.h.
 */
#include <stddef.h>
#include <stdint.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "util/uuid.h"

/* Positions of the dashes in the 36-character form. */
static int is_dash_pos(size_t i)
{
    return i == 8 || i == 13 || i == 18 || i == 23;
}

pa_err pa_uuid_v4(char out[PA_UUID_BUF])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[16];
    size_t o = 0;

    out[0] = '\0';
    if (RAND_bytes(b, sizeof b) != 1)
        return PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR;
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);   /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);   /* variant 10 */
    for (size_t i = 0; i < sizeof b; i++) {
        if (is_dash_pos(o))
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
    /* The ids are not secret, but nothing else should see these bytes. */
    OPENSSL_cleanse(b, sizeof b);
    return PA_OK;
}

static int is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int is_hex(char c)
{
    return is_lower_hex(c) || (c >= 'A' && c <= 'F');
}

/* The 8-4-4-4-12 shape with digits accepted by is_digit. */
static bool has_shape(const char *s, int (*is_digit)(char))
{
    size_t i;

    if (s == NULL)
        return false;
    for (i = 0; i < PA_UUID_LEN; i++) {
        if (s[i] == '\0')
            return false;
        if (is_dash_pos(i) ? s[i] != '-' : !is_digit(s[i]))
            return false;
    }
    return s[i] == '\0';
}

bool pa_uuid_valid(const char *s)
{
    return has_shape(s, is_hex);
}

bool pa_uuid_is_v4(const char *s)
{
    return has_shape(s, is_lower_hex) && s[14] == '4' &&
           (s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b');
}
