/*
 * signature.c - online PowerAuth signatures, see signature.h.
 *
 * Component i of a signature with key list K[0..k-1] (8.4) is
 *     H[x]    = HMAC(K[x], CTR)
 *     T       = H[i], then T = HMAC(H[j+1], T) for j = 0..i-1
 *     COMP[i] = HMAC(T, DATA)
 * so the per-key HMACs H[x] and the first component HMAC(H[K0], DATA) depend
 * only on the key, not on the type.  Server verification tries up to
 * lookahead x types candidates; a small per-position cache (struct pos_cache)
 * computes each of those values once per counter position.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/primitives.h"
#include "crypto/signature.h"
#include "util/base64.h"

/* Key slots of pa_sig_keys. */
enum { KP, KK, KB, NKEYS };

static const struct {
    const char *soap, *header;
    int nkeys;
    int keys[3];
} type_tab[] = {
    [PA_SIG_POSSESSION] = {"POSSESSION", "possession", 1, {KP}},
    [PA_SIG_KNOWLEDGE] = {"KNOWLEDGE", "knowledge", 1, {KK}},
    [PA_SIG_BIOMETRY] = {"BIOMETRY", "biometry", 1, {KB}},
    [PA_SIG_POSSESSION_KNOWLEDGE] = {"POSSESSION_KNOWLEDGE",
                                     "possession_knowledge", 2, {KP, KK}},
    [PA_SIG_POSSESSION_BIOMETRY] = {"POSSESSION_BIOMETRY",
                                    "possession_biometry", 2, {KP, KB}},
    [PA_SIG_POSSESSION_KNOWLEDGE_BIOMETRY] = {
        "POSSESSION_KNOWLEDGE_BIOMETRY", "possession_knowledge_biometry", 3,
        {KP, KK, KB}},
};
#define NTYPES (sizeof type_tab / sizeof type_tab[0])

static int type_ok(pa_sig_type t)
{
    return (unsigned)t < NTYPES;
}

pa_err pa_sig_type_parse(const char *s, pa_sig_type *out)
{
    if (s == NULL || out == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    for (size_t i = 0; i < NTYPES; i++) {
        if (strcmp(s, type_tab[i].soap) == 0
            || strcmp(s, type_tab[i].header) == 0) {
            *out = (pa_sig_type)i;
            return PA_OK;
        }
    }
    return PA_ERR_INVALID_INPUT_FORMAT;
}

const char *pa_sig_type_name(pa_sig_type t)
{
    return type_ok(t) ? type_tab[t].soap : NULL;
}

const char *pa_sig_type_header_name(pa_sig_type t)
{
    return type_ok(t) ? type_tab[t].header : NULL;
}

int pa_sig_type_factors(pa_sig_type t)
{
    return type_ok(t) ? type_tab[t].nkeys : 0;
}

/* ---- signatureVersion -> format ------------------------------------------ */

/* s matches ^[0-9]+(\.[0-9]+)?$ */
static int is_plain_decimal(const char *s)
{
    const char *p = s;

    while (*p >= '0' && *p <= '9')
        p++;
    if (p == s)
        return 0;
    if (*p == '\0')
        return 1;
    if (*p++ != '.')
        return 0;
    if (*p == '\0')
        return 0;
    while (*p >= '0' && *p <= '9')
        p++;
    return *p == '\0';
}

/* For a plain decimal string: is its exact value greater than 3.1?  Works
 * on the digits so that "3.1000000000000001" is greater and "3.10" is not. */
static int greater_than_3_1(const char *s)
{
    const char *dot = strchr(s, '.');
    const char *ip = s, *ie = dot ? dot : s + strlen(s);
    const char *fp, *fe;

    while (ip < ie && *ip == '0')               /* leading zeros */
        ip++;
    if (ie - ip > 1)                            /* >= 10 */
        return 1;
    if (ie == ip || *ip < '3')                  /* 0, 1, 2 */
        return 0;
    if (*ip > '3')                              /* 4 .. 9 */
        return 1;
    if (dot == NULL)                            /* exactly 3 */
        return 0;
    fp = dot + 1;
    fe = fp + strlen(fp);
    while (fe > fp && fe[-1] == '0')            /* trailing zeros */
        fe--;
    if (fe == fp || *fp < '1')                  /* 3.0... */
        return 0;
    if (*fp > '1')                              /* 3.2 .. 3.9... */
        return 1;
    return fe - fp > 1;                         /* 3.1 + something non-zero */
}

pa_err pa_sig_format_for_version(const char *v, pa_sig_format *out)
{
    if (v == NULL || out == NULL)
        return PA_ERR_UNABLE_TO_COMPUTE_SIGNATURE;
    if (strcmp(v, "2.0") == 0 || strcmp(v, "2.1") == 0
        || strcmp(v, "3.0") == 0) {
        *out = PA_SIG_FORMAT_DECIMAL;
        return PA_OK;
    }
    if (strcmp(v, "3.1") == 0 || (is_plain_decimal(v) && greater_than_3_1(v))) {
        *out = PA_SIG_FORMAT_BASE64;
        return PA_OK;
    }
    return PA_ERR_UNABLE_TO_COMPUTE_SIGNATURE;
}

/* ---- counter blocks ------------------------------------------------------- */

void pa_sig_ctr_numeric(int64_t counter, uint8_t out[16])
{
    memset(out, 0, 8);
    pa_be64(counter, out + 8);
}

pa_err pa_sig_ctr_next(const uint8_t in[16], uint8_t out[16])
{
    uint8_t h[PA_SHA256_LEN];
    pa_err e = pa_sha256(in, 16, h);

    if (e == PA_OK)
        pa_reduce(h, out);
    OPENSSL_cleanse(h, sizeof h);
    return e;
}

/* ---- components ----------------------------------------------------------- */

/* Values that depend on (key, CTR) or (key, CTR, DATA) only, computed on
 * first use at one counter position. */
struct pos_cache {
    const pa_sig_keys *k;
    const uint8_t *ctr;
    const uint8_t *data;
    size_t n;
    uint8_t h[NKEYS][PA_SHA256_LEN];    /* HMAC(K[x], CTR) */
    uint8_t c0[NKEYS][PA_SHA256_LEN];   /* HMAC(h[x], DATA) */
    unsigned have_h, have_c0;           /* bit x set = slot x valid */
};

static void cache_init(struct pos_cache *c, const pa_sig_keys *k,
                       const uint8_t *ctr, const uint8_t *data, size_t n)
{
    c->k = k;
    c->ctr = ctr;
    c->data = data;
    c->n = n;
    c->have_h = c->have_c0 = 0;
}

/* Forgets the values of the previous position and wipes them. */
static void cache_reset(struct pos_cache *c, const uint8_t *ctr)
{
    OPENSSL_cleanse(c->h, sizeof c->h);
    OPENSSL_cleanse(c->c0, sizeof c->c0);
    c->have_h = c->have_c0 = 0;
    c->ctr = ctr;
}

static const uint8_t *key_bytes(const pa_sig_keys *k, int x)
{
    return x == KP ? k->possession : x == KK ? k->knowledge : k->biometry;
}

static pa_err cache_h(struct pos_cache *c, int x, const uint8_t **out)
{
    if (!(c->have_h & (1u << x))) {
        pa_err e = pa_hmac(key_bytes(c->k, x), 16, c->ctr, 16, c->h[x]);

        if (e != PA_OK)
            return e;
        c->have_h |= 1u << x;
    }
    *out = c->h[x];
    return PA_OK;
}

/* COMP[i] of key list keys[] into out (32 bytes). */
static pa_err component(struct pos_cache *c, const int *keys, int i,
                        uint8_t out[PA_SHA256_LEN])
{
    uint8_t t[PA_SHA256_LEN];
    const uint8_t *h, *hj;
    pa_err e;

    if (i == 0) {
        int x = keys[0];

        if (!(c->have_c0 & (1u << x))) {
            if ((e = cache_h(c, x, &h)) != PA_OK
                || (e = pa_hmac(h, PA_SHA256_LEN, c->data, c->n, c->c0[x]))
                       != PA_OK)
                return e;
            c->have_c0 |= 1u << x;
        }
        memcpy(out, c->c0[x], PA_SHA256_LEN);
        return PA_OK;
    }
    if ((e = cache_h(c, keys[i], &h)) != PA_OK)
        return e;
    memcpy(t, h, PA_SHA256_LEN);
    for (int j = 0; j < i && e == PA_OK; j++) {
        /* key = HMAC(K[j+1], CTR), message = T (8.4) */
        if ((e = cache_h(c, keys[j + 1], &hj)) == PA_OK)
            e = pa_hmac(hj, PA_SHA256_LEN, t, PA_SHA256_LEN, t);
    }
    if (e == PA_OK)
        e = pa_hmac(t, PA_SHA256_LEN, c->data, c->n, out);
    OPENSSL_cleanse(t, sizeof t);
    return e;
}

/* Writes `digits` decimal digits of v, zero-padded. */
static void put_digits(uint32_t v, int digits, char *out)
{
    for (int i = digits - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* Formatted signature of type t at the cached position.  digits is used for
 * the DECIMAL format only. */
static pa_err format_sig(struct pos_cache *c, pa_sig_type t, pa_sig_format f,
                         int digits, char out[PA_SIG_MAX])
{
    static const uint32_t mod[9] = {1, 10, 100, 1000, 10000, 100000,
                                    1000000, 10000000, 100000000};
    uint8_t comp[PA_SHA256_LEN], tails[3 * 16];
    int nk = type_tab[t].nkeys;
    size_t pos = 0;
    pa_err e = PA_OK;

    for (int i = 0; i < nk; i++) {
        if ((e = component(c, type_tab[t].keys, i, comp)) != PA_OK)
            break;
        if (f == PA_SIG_FORMAT_DECIMAL) {
            uint32_t v = (pa_u32(comp + 28) & 0x7fffffffu) % mod[digits];

            if (i > 0)
                out[pos++] = '-';
            put_digits(v, digits, out + pos);
            pos += (size_t)digits;
        } else {
            memcpy(tails + 16 * i, comp + 16, 16);   /* last 16 bytes */
        }
    }
    if (e == PA_OK) {
        if (f == PA_SIG_FORMAT_DECIMAL)
            out[pos] = '\0';
        else
            pa_b64_encode(tails, 16 * (size_t)nk, out);
    } else {
        out[0] = '\0';
    }
    OPENSSL_cleanse(comp, sizeof comp);
    OPENSSL_cleanse(tails, sizeof tails);
    return e;
}

static pa_err compute(const pa_sig_keys *k, pa_sig_type t,
                      const uint8_t ctr[16], const uint8_t *data, size_t n,
                      pa_sig_format f, int digits, char out[PA_SIG_MAX])
{
    struct pos_cache c;
    pa_err e;

    if (k == NULL || ctr == NULL || out == NULL || (data == NULL && n > 0)
        || !type_ok(t) || digits < 4 || digits > 8
        || (f != PA_SIG_FORMAT_DECIMAL && f != PA_SIG_FORMAT_BASE64))
        return PA_ERR_INVALID_INPUT_FORMAT;
    cache_init(&c, k, ctr, data, n);
    e = format_sig(&c, t, f, digits, out);
    cache_reset(&c, NULL);
    return e;
}

pa_err pa_sig_compute(const pa_sig_keys *k, pa_sig_type t,
                      const uint8_t ctr[16], const uint8_t *data, size_t n,
                      pa_sig_format f, char out[PA_SIG_MAX])
{
    return compute(k, t, ctr, data, n, f, 8, out);
}

pa_err pa_sig_compute_decimal(const pa_sig_keys *k, pa_sig_type t,
                              const uint8_t ctr[16], const uint8_t *data,
                              size_t n, int digits, char out[PA_SIG_MAX])
{
    return compute(k, t, ctr, data, n, PA_SIG_FORMAT_DECIMAL, digits, out);
}

/* ---- server verification ------------------------------------------------- */

/* Java long arithmetic: wraps instead of overflowing. */
static int64_t add_wrap(int64_t a, uint64_t b)
{
    uint64_t u = (uint64_t)a + b;
    int64_t r;

    memcpy(&r, &u, sizeof r);
    return r;
}

pa_err pa_sig_verify(const pa_sig_keys *k, const pa_sig_type *types,
                     size_t ntypes, pa_sig_format f, int hash_counter,
                     int64_t counter, const uint8_t ctr_data[16],
                     unsigned lookahead, const uint8_t *data, size_t n,
                     const char *signature, pa_sig_result *out)
{
    uint8_t ctr[16];
    char calc[PA_SIG_MAX];
    struct pos_cache c;
    size_t slen;
    pa_err e = PA_OK;

    if (k == NULL || types == NULL || ntypes == 0 || signature == NULL
        || out == NULL || (data == NULL && n > 0)
        || (hash_counter && ctr_data == NULL)
        || (f != PA_SIG_FORMAT_DECIMAL && f != PA_SIG_FORMAT_BASE64))
        return PA_ERR_INVALID_INPUT_FORMAT;
    for (size_t i = 0; i < ntypes; i++)
        if (!type_ok(types[i]))
            return PA_ERR_INVALID_INPUT_FORMAT;

    memset(out, 0, sizeof *out);
    out->used_type = types[0];
    out->ctr_next = counter;
    out->matched_pos = -1;
    if (hash_counter)
        memcpy(out->ctr_data_next, ctr_data, 16);

    slen = strlen(signature);
    if (hash_counter)
        memcpy(ctr, ctr_data, 16);
    cache_init(&c, k, ctr, data, n);
    for (unsigned i = 0; i < lookahead && e == PA_OK && !out->valid; i++) {
        int64_t pos = add_wrap(counter, i);

        if (!hash_counter)
            pa_sig_ctr_numeric(pos, ctr);
        cache_reset(&c, ctr);
        for (size_t ti = 0; ti < ntypes; ti++) {
            if ((e = format_sig(&c, types[ti], f, 8, calc)) != PA_OK)
                break;
            if (pa_ct_equal((const uint8_t *)calc, strlen(calc),
                            (const uint8_t *)signature, slen)) {
                out->valid = 1;
                out->used_type = types[ti];
                out->ctr_next = add_wrap(pos, 1);
                out->matched_pos = pos;
                break;
            }
        }
        /* Advance the hash chain; after a match this is NEXT(matching CTR),
         * the value the device uses for its next signature. */
        if (e == PA_OK && hash_counter)
            e = pa_sig_ctr_next(ctr, ctr);
    }
    if (e == PA_OK && out->valid && hash_counter)
        memcpy(out->ctr_data_next, ctr, 16);
    cache_reset(&c, NULL);
    OPENSSL_cleanse(ctr, sizeof ctr);
    OPENSSL_cleanse(calc, sizeof calc);
    if (e != PA_OK) {
        pa_sig_type t0 = types[0];

        memset(out, 0, sizeof *out);
        out->used_type = t0;
        out->ctr_next = counter;
        out->matched_pos = -1;
    }
    return e;
}

/* ---- data strings --------------------------------------------------------- */

/* a "&" b, malloc'ed. */
static pa_err join_amp(const char *a, const char *b, char **out)
{
    size_t la, lb;
    char *p;

    if (a == NULL || b == NULL || out == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    la = strlen(a);
    lb = strlen(b);
    p = malloc(la + lb + 2);
    if (p == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    memcpy(p, a, la);
    p[la] = '&';
    memcpy(p + la + 1, b, lb + 1);
    *out = p;
    return PA_OK;
}

pa_err pa_sig_data_online(const char *data_string, const char *app_secret_text,
                          char **out)
{
    return join_amp(data_string, app_secret_text, out);
}

pa_err pa_sig_data_offline(const char *data_string, char **out)
{
    return join_amp(data_string, "offline", out);
}

/* ---- client-side normalisation (8.1) -------------------------------------- */

struct qpair {
    char *key, *val;    /* decoded bytes, NUL-terminated */
    size_t klen, vlen;  /* may contain %00, so lengths are kept */
};

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* application/x-www-form-urlencoded decoding of s[0..n) into a new buffer. */
static pa_err form_decode(const char *s, size_t n, char **out, size_t *outlen)
{
    char *d = malloc(n + 1);
    size_t j = 0;

    if (d == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            d[j++] = ' ';
        } else if (s[i] == '%') {
            /* two hex digits must follow (Java throws otherwise) */
            if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0) {
                free(d);
                return PA_ERR_INVALID_INPUT_FORMAT;
            }
            d[j++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            d[j++] = s[i];
        }
    }
    d[j] = '\0';
    *out = d;
    *outlen = j;
    return PA_OK;
}

static int bytes_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int r = memcmp(a, b, al < bl ? al : bl);

    if (r != 0)
        return r;
    return al < bl ? -1 : al > bl;
}

static int qpair_cmp(const void *pa, const void *pb)
{
    const struct qpair *a = pa, *b = pb;
    int r = bytes_cmp(a->key, a->klen, b->key, b->klen);

    return r ? r : bytes_cmp(a->val, a->vlen, b->val, b->vlen);
}

/* Encoded length / encoding of n bytes (OAuth-style form encoding). */
static int keep_char(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')
           || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '*'
           || ch == '_';
}

static size_t form_encode(const char *s, size_t n, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t j = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (keep_char(ch) || ch == ' ') {
            if (out)
                out[j] = ch == ' ' ? '+' : (char)ch;
            j++;
        } else {
            if (out) {
                out[j] = '%';
                out[j + 1] = hex[ch >> 4];
                out[j + 2] = hex[ch & 15];
            }
            j += 3;
        }
    }
    return j;
}

static void free_pairs(struct qpair *p, size_t np)
{
    for (size_t i = 0; i < np; i++) {
        free(p[i].key);
        free(p[i].val);
    }
    free(p);
}

/* Splits q into decoded pairs (items without '=' skipped). */
static pa_err parse_query(const char *q, struct qpair **pairs, size_t *np)
{
    size_t cap = 1, cnt = 0;
    const char *item = q;
    struct qpair *p;
    pa_err e = PA_OK;

    for (const char *s = q; *s; s++)
        cap += *s == '&';
    p = calloc(cap, sizeof *p);
    if (p == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    while (e == PA_OK) {
        const char *end = strchr(item, '&');
        size_t len = end ? (size_t)(end - item) : strlen(item);
        const char *eq = memchr(item, '=', len);

        if (eq != NULL) {
            struct qpair *x = &p[cnt];

            e = form_decode(item, (size_t)(eq - item), &x->key, &x->klen);
            if (e == PA_OK) {
                e = form_decode(eq + 1, len - (size_t)(eq - item) - 1,
                                &x->val, &x->vlen);
                if (e != PA_OK) {
                    free(x->key);
                    x->key = NULL;
                }
            }
            if (e == PA_OK)
                cnt++;
        }
        if (end == NULL)
            break;
        item = end + 1;
    }
    if (e != PA_OK) {
        free_pairs(p, cnt);
        return e;
    }
    *pairs = p;
    *np = cnt;
    return PA_OK;
}

pa_err pa_sig_canonical_query(const char *raw_query, char **out)
{
    struct qpair *p = NULL;
    size_t np = 0, len = 0, pos = 0;
    char *s;
    pa_err e;

    if (out == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    *out = NULL;
    if ((e = parse_query(raw_query ? raw_query : "", &p, &np)) != PA_OK)
        return e;
    qsort(p, np, sizeof *p, qpair_cmp);
    for (size_t i = 0; i < np; i++)
        len += form_encode(p[i].key, p[i].klen, NULL)
               + form_encode(p[i].val, p[i].vlen, NULL) + 2;
    s = malloc(len + 1);
    if (s == NULL) {
        free_pairs(p, np);
        return PA_ERR_UNKNOWN_ERROR;
    }
    for (size_t i = 0; i < np; i++) {
        if (i > 0)
            s[pos++] = '&';
        pos += form_encode(p[i].key, p[i].klen, s + pos);
        s[pos++] = '=';
        pos += form_encode(p[i].val, p[i].vlen, s + pos);
    }
    s[pos] = '\0';
    free_pairs(p, np);
    *out = s;
    return PA_OK;
}

pa_err pa_sig_normalize(const char *method, const char *uri_id,
                        const uint8_t nonce[16], const uint8_t *body,
                        size_t body_len, char **out)
{
    size_t ml, ul, len, pos;
    char *s;

    if (out == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    *out = NULL;
    if (method == NULL || uri_id == NULL || nonce == NULL
        || (body == NULL && body_len > 0) || method[0] == '\0')
        return PA_ERR_INVALID_INPUT_FORMAT;
    ml = strlen(method);
    for (size_t i = 0; i < ml; i++)
        if (!((method[i] >= 'A' && method[i] <= 'Z')
              || (method[i] >= 'a' && method[i] <= 'z')))
            return PA_ERR_INVALID_INPUT_FORMAT;
    ul = strlen(uri_id);
    if (body_len > (SIZE_MAX - 200 - ml - PA_B64_ENCLEN(ul)) / 4 * 3)
        return PA_ERR_INVALID_INPUT_FORMAT;
    len = ml + 1 + PA_B64_ENCLEN(ul) + 1 + PA_B64_ENCLEN(16) + 1
          + PA_B64_ENCLEN(body_len);
    s = malloc(len + 1);
    if (s == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    for (pos = 0; pos < ml; pos++)
        s[pos] = (method[pos] >= 'a' && method[pos] <= 'z')
                     ? (char)(method[pos] - 'a' + 'A')
                     : method[pos];
    s[pos++] = '&';
    pos += pa_b64_encode((const uint8_t *)uri_id, ul, s + pos);
    s[pos++] = '&';
    pos += pa_b64_encode(nonce, 16, s + pos);
    s[pos++] = '&';
    pos += pa_b64_encode(body, body_len, s + pos);
    s[pos] = '\0';
    *out = s;
    return PA_OK;
}
