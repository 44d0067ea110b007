/*
 * state.c - the device state as a JSON file (what the SDK keeps in the
 * phone's keychain).
 *
 * The file holds the device private key, the application secret, token
 * secrets and the ECIES keys of the request in flight, so it is written
 * with mode 0600, atomically (temporary file in the same directory, fsync,
 * rename: a crash never leaves half a state), and every JSON copy of a
 * secret is wiped before it is freed.  Derived keys (KEY_TRANSPORT, the
 * signature keys, ...) are never written: they are recomputed from the key
 * pair.  Loading checks every field and refuses unknown ones, so a damaged
 * or hand-edited file fails with a message naming the field instead of
 * misbehaving later.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "crypto/primitives.h"
#include "tools/padevice/device.h"
#include "util/base64.h"

#define STATE_MAX_BYTES (1024 * 1024)

void pa_device_json_wipe_free(json_t *j)
{
    const char *k;
    json_t *v;
    size_t i;

    if (j == NULL)
        return;
    if (json_is_string(j))
        OPENSSL_cleanse((char *)json_string_value(j), json_string_length(j));
    else if (json_is_object(j))
        json_object_foreach(j, k, v) pa_device_json_wipe_free(json_incref(v));
    else if (json_is_array(j))
        json_array_foreach(j, i, v) pa_device_json_wipe_free(json_incref(v));
    json_decref(j);
}

/* --- writing --------------------------------------------------------------------- */

static json_t *b64_or_null(const uint8_t *b, size_t n, int present)
{
    char *t = NULL;
    json_t *s;

    if (!present)
        return json_null();
    if (pa_b64_encode_alloc(b, n, &t) != PA_OK)
        return NULL;
    s = json_string(t);
    pa_secure_free(t, strlen(t));
    return s;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *pub_or_null(const pa_eckey *k)
{
    uint8_t pub[PA_EC_PUB_LEN];

    if (k == NULL)
        return json_null();
    if (pa_ec_pub_export(k, pub) != PA_OK)
        return NULL;
    return b64_or_null(pub, sizeof pub, 1);
}

static json_t *priv_or_null(const pa_eckey *k)
{
    uint8_t priv[PA_EC_PRIV_MAX];
    size_t n = 0;
    json_t *j;

    if (k == NULL)
        return json_null();
    if (pa_ec_priv_export(k, priv, &n) != PA_OK)
        return NULL;
    j = b64_or_null(priv, n, 1);
    OPENSSL_cleanse(priv, sizeof priv);
    return j;
}

static json_t *pending_json(const pa_device *d)
{
    const pa_ecies_ctx *c = &d->pending_ctx;

    if (d->pending == PA_DEVICE_PENDING_NONE)
        return json_null();
    return json_pack("{s:s, s:o, s:o, s:o, s:o}", "kind",
                     pa_device_pending_name(d->pending), "keyEnc",
                     b64_or_null(c->key_enc, 16, 1), "keyMac",
                     b64_or_null(c->key_mac, 16, 1), "iv",
                     b64_or_null(c->iv, 16, 1), "sharedInfo2",
                     b64_or_null(c->sh2, c->sh2_len, 1));
}

static json_t *tokens_json(const pa_device *d)
{
    json_t *o = json_object();

    for (size_t i = 0; o != NULL && i < d->ntokens; i++)
        if (json_object_set_new(o, d->tokens[i].id,
                                b64_or_null(d->tokens[i].secret, 16, 1))) {
            pa_device_json_wipe_free(o);
            return NULL;
        }
    return o;
}

static json_t *v2_pending_json(const pa_device *d)
{
    if (!d->has_v2_pending)
        return json_null();
    return json_pack("{s:o, s:o, s:o}", "activationOtp",
                     str_or_null(d->v2_otp), "salt", str_or_null(d->v2_salt),
                     "activationNonce",
                     b64_or_null(d->v2_nonce, sizeof d->v2_nonce, 1));
}

json_t *pa_device_state_json(const pa_device *d)
{
    const struct {
        const char *name;
        json_t *value;
    } f[] = {
        {"protocol", json_string(pa_device_protocol_name(d->protocol))},
        {"applicationKey", str_or_null(d->app_key)},
        {"applicationSecret", str_or_null(d->app_secret)},
        {"masterPublicKey", pub_or_null(d->master_pub)},
        {"devicePrivateKey", priv_or_null(d->device_key)},
        {"devicePublicKey", pub_or_null(d->device_key)},
        {"activationId", str_or_null(d->activation_id)},
        {"serverPublicKey", pub_or_null(d->server_pub)},
        {"version", d->version ? json_integer(d->version) : json_null()},
        {"counter", json_integer(d->counter)},
        {"ctrData", b64_or_null(d->ctr_data, 16, d->has_ctr_data)},
        {"pending", pending_json(d)},
        {"tokens", tokens_json(d)},
        {"recoveryCode", str_or_null(d->recovery_code)},
        {"puk", str_or_null(d->puk)},
        {"v2Pending", v2_pending_json(d)},
        {"statusChallenge",
         b64_or_null(d->challenge, sizeof d->challenge, d->has_challenge)},
    };
    json_t *root = json_object();
    size_t i;
    int ok = root != NULL;

    /* Every value is handed over (or released) even after a failure. */
    for (i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (ok && f[i].value != NULL)
            ok = json_object_set_new(root, f[i].name, f[i].value) == 0;
        else {
            ok = 0;
            pa_device_json_wipe_free(f[i].value);
        }
    }
    if (!ok) {
        pa_device_json_wipe_free(root);
        return NULL;
    }
    return root;
}

static void say(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;

    if (why == NULL || why_len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Temporary file beside the target, 0600, then rename over it. */
static pa_err write_atomically(const char *path, const char *text,
                               char *why, size_t why_len)
{
    size_t len = strlen(path) + 8;
    char *tmp = malloc(len);
    int fd, ok;

    if (tmp == NULL)
        return PA_ERR_UNKNOWN_ERROR;
    snprintf(tmp, len, "%s.XXXXXX", path);
    if ((fd = mkstemp(tmp)) < 0) {
        say(why, why_len, "cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return PA_ERR_UNKNOWN_ERROR;
    }
    ok = fchmod(fd, 0600) == 0 && write_all(fd, text, strlen(text)) == 0
         && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    ok = ok && rename(tmp, path) == 0;
    if (!ok) {
        say(why, why_len, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return ok ? PA_OK : PA_ERR_UNKNOWN_ERROR;
}

pa_err pa_device_save(const pa_device *d, const char *path, char *why,
                      size_t why_len)
{
    json_t *root = pa_device_state_json(d);
    char *text = root ? json_dumps(root, JSON_INDENT(2)) : NULL;
    char *line = NULL;
    pa_err e = PA_ERR_UNKNOWN_ERROR;

    if (text != NULL && (line = malloc(strlen(text) + 2)) != NULL) {
        snprintf(line, strlen(text) + 2, "%s\n", text);
        e = write_atomically(path, line, why, why_len);
    } else {
        say(why, why_len, "out of memory");
    }
    pa_device_free_secret(line);
    pa_device_free_secret(text);
    pa_device_json_wipe_free(root);
    return e;
}

/* --- reading --------------------------------------------------------------------- */

typedef struct {
    char *why;
    size_t why_len;
} loader;

static pa_err bad(loader *l, const char *field, const char *msg)
{
    say(l->why, l->why_len, "field '%s': %s", field, msg);
    return PA_ERR_INVALID_INPUT_FORMAT;
}

/* String or null/absent (*out NULL); required refuses null. */
static pa_err get_str(loader *l, json_t *o, const char *k, int required,
                      const char **out)
{
    json_t *v = json_object_get(o, k);

    *out = NULL;
    if ((v == NULL || json_is_null(v)) && !required)
        return PA_OK;
    if (!json_is_string(v))
        return bad(l, k, required ? "missing or not a string"
                                  : "not a string");
    *out = json_string_value(v);
    return PA_OK;
}

/* Base64 of exactly n bytes, or null/absent (*present 0). */
static pa_err get_bytes(loader *l, json_t *o, const char *k, uint8_t *out,
                        size_t n, int *present)
{
    const char *s;
    pa_err e = get_str(l, o, k, 0, &s);

    *present = 0;
    if (e != PA_OK || s == NULL)
        return e;
    if (pa_b64_decode_exact(s, out, n) != PA_OK)
        return bad(l, k, "not Base64 of the right length");
    *present = 1;
    return PA_OK;
}

static pa_err get_pub(loader *l, json_t *o, const char *k, pa_eckey **out)
{
    const char *s;
    pa_err e = get_str(l, o, k, 0, &s);

    *out = NULL;
    if (e == PA_OK && s != NULL && pa_ec_pub_import_b64(s, out) != PA_OK)
        return bad(l, k, "not a P-256 public key");
    return e;
}

static pa_err get_int(loader *l, json_t *o, const char *k, json_int_t *out,
                      int *present)
{
    json_t *v = json_object_get(o, k);

    *present = v != NULL && !json_is_null(v);
    *out = 0;
    if (*present && !json_is_integer(v))
        return bad(l, k, "not an integer");
    if (*present)
        *out = json_integer_value(v);
    return PA_OK;
}

static const char *const known_fields[] = {
    "protocol", "applicationKey", "applicationSecret", "masterPublicKey",
    "devicePrivateKey", "devicePublicKey", "activationId", "serverPublicKey",
    "version", "counter", "ctrData", "pending", "tokens", "recoveryCode",
    "puk", "v2Pending", "statusChallenge"};

static pa_err check_known(loader *l, json_t *root)
{
    const char *k;
    json_t *v;

    json_object_foreach(root, k, v) {
        size_t i = 0;

        while (i < sizeof known_fields / sizeof known_fields[0]
               && strcmp(k, known_fields[i]) != 0)
            i++;
        if (i == sizeof known_fields / sizeof known_fields[0])
            return bad(l, k, "unknown field");
    }
    return PA_OK;
}

/* protocol, applicationKey, applicationSecret, masterPublicKey. */
static pa_err load_application(loader *l, json_t *root, pa_device **out)
{
    const char *proto, *key, *secret, *master;
    pa_device_protocol p;
    pa_eckey *m = NULL;
    pa_err e;

    if ((e = get_str(l, root, "protocol", 1, &proto)) != PA_OK
        || (e = get_str(l, root, "applicationKey", 1, &key)) != PA_OK
        || (e = get_str(l, root, "applicationSecret", 1, &secret)) != PA_OK
        || (e = get_str(l, root, "masterPublicKey", 1, &master)) != PA_OK)
        return e;
    if (pa_device_protocol_parse(proto, &p) != PA_OK)
        return bad(l, "protocol", "not 2.1, 3.0 or 3.1");
    if (pa_ec_pub_import_b64(master, &m) != PA_OK)
        return bad(l, "masterPublicKey", "not a P-256 public key");
    pa_ec_free(m);
    if ((e = pa_device_new(proto, key, secret, master, out)) != PA_OK)
        return bad(l, "applicationKey", "key or secret is not Base64");
    return PA_OK;
}

/* devicePrivateKey and the informative devicePublicKey, which must match. */
static pa_err load_device_key(loader *l, json_t *root, pa_device *d)
{
    const char *priv;
    pa_eckey *pub = NULL;
    uint8_t a[PA_EC_PUB_LEN], b[PA_EC_PUB_LEN];
    pa_err e = get_str(l, root, "devicePrivateKey", 0, &priv);

    if (e == PA_OK && priv != NULL
        && pa_ec_priv_import_b64(priv, &d->device_key) != PA_OK)
        e = bad(l, "devicePrivateKey", "not a P-256 private key");
    if (e == PA_OK)
        e = get_pub(l, root, "devicePublicKey", &pub);
    if (e == PA_OK && pub != NULL
        && (d->device_key == NULL || pa_ec_pub_export(pub, a) != PA_OK
            || pa_ec_pub_export(d->device_key, b) != PA_OK
            || memcmp(a, b, sizeof a) != 0))
        e = bad(l, "devicePublicKey", "does not match devicePrivateKey");
    pa_ec_free(pub);
    return e;
}

static pa_err load_activation(loader *l, json_t *root, pa_device *d)
{
    const char *id;
    json_int_t v, c;
    int has_v, has_c;
    pa_err e;

    if ((e = get_str(l, root, "activationId", 0, &id)) != PA_OK
        || (e = pa_device_strdup(id, &d->activation_id)) != PA_OK
        || (e = get_pub(l, root, "serverPublicKey", &d->server_pub)) != PA_OK
        || (e = get_int(l, root, "version", &v, &has_v)) != PA_OK
        || (e = get_int(l, root, "counter", &c, &has_c)) != PA_OK
        || (e = get_bytes(l, root, "ctrData", d->ctr_data, 16,
                          &d->has_ctr_data)) != PA_OK)
        return e;
    if (has_v && v != 2 && v != 3)
        return bad(l, "version", "not null, 2 or 3");
    d->version = (int)v;
    d->counter = c;
    if (d->version != 0 && (d->device_key == NULL || d->server_pub == NULL
                            || d->activation_id == NULL))
        return bad(l, "version", "set without devicePrivateKey, "
                                 "activationId and serverPublicKey");
    if (d->version == 3 && !d->has_ctr_data)
        return bad(l, "ctrData", "missing for version 3");
    return PA_OK;
}

static pa_err load_pending(loader *l, json_t *root, pa_device *d)
{
    json_t *p = json_object_get(root, "pending");
    pa_ecies_ctx *c = &d->pending_ctx;
    uint8_t sh2[PA_ECIES_SH2_MAX];
    const char *kind, *sh2_b64;
    size_t sh2_len = 0;
    int have[3];
    pa_err e;

    if (p == NULL || json_is_null(p))
        return PA_OK;
    if (!json_is_object(p))
        return bad(l, "pending", "not an object");
    if ((e = get_str(l, p, "kind", 1, &kind)) != PA_OK
        || (e = get_bytes(l, p, "keyEnc", c->key_enc, 16, &have[0])) != PA_OK
        || (e = get_bytes(l, p, "keyMac", c->key_mac, 16, &have[1])) != PA_OK
        || (e = get_bytes(l, p, "iv", c->iv, 16, &have[2])) != PA_OK
        || (e = get_str(l, p, "sharedInfo2", 1, &sh2_b64)) != PA_OK)
        return e;
    if (pa_device_pending_parse(kind, &d->pending) != PA_OK
        || d->pending == PA_DEVICE_PENDING_NONE)
        return bad(l, "kind", "unknown request kind");
    if (!have[0] || !have[1] || !have[2])
        return bad(l, "pending", "keyEnc, keyMac and iv are required");
    if (strlen(sh2_b64) > PA_B64_ENCLEN(PA_ECIES_SH2_MAX)
        || pa_b64_decode(sh2_b64, sh2, &sh2_len) != PA_OK
        || sh2_len > PA_ECIES_SH2_MAX)
        return bad(l, "sharedInfo2", "not Base64 of at most 64 bytes");
    memcpy(c->sh2, sh2, sh2_len);
    c->sh2_len = sh2_len;
    OPENSSL_cleanse(sh2, sizeof sh2);
    return PA_OK;
}

static pa_err load_tokens(loader *l, json_t *root, pa_device *d)
{
    json_t *t = json_object_get(root, "tokens"), *v;
    const pa_device_token *tok;
    const char *id;

    if (t == NULL || json_is_null(t))
        return PA_OK;
    if (!json_is_object(t))
        return bad(l, "tokens", "not an object");
    json_object_foreach(t, id, v) {
        json_t *doc = json_pack("{s:s, s:O}", "tokenId", id, "tokenSecret", v);
        pa_err e = doc ? pa_device_store_token(d, doc, &tok)
                       : PA_ERR_INVALID_INPUT_FORMAT;

        pa_device_json_wipe_free(doc);
        if (e != PA_OK)
            return bad(l, "tokens", "a secret is not Base64 of 16 bytes");
    }
    return PA_OK;
}

static pa_err load_v2_pending(loader *l, json_t *root, pa_device *d)
{
    json_t *p = json_object_get(root, "v2Pending");
    const char *otp, *salt;
    int has_nonce;
    pa_err e;

    if (p == NULL || json_is_null(p))
        return PA_OK;
    if (!json_is_object(p))
        return bad(l, "v2Pending", "not an object");
    if ((e = get_str(l, p, "activationOtp", 1, &otp)) != PA_OK
        || (e = get_str(l, p, "salt", 1, &salt)) != PA_OK
        || (e = get_bytes(l, p, "activationNonce", d->v2_nonce, 16,
                          &has_nonce)) != PA_OK)
        return e;
    if (!has_nonce)
        return bad(l, "activationNonce", "missing");
    if ((e = pa_device_strdup(otp, &d->v2_otp)) != PA_OK
        || (e = pa_device_strdup(salt, &d->v2_salt)) != PA_OK)
        return e;
    d->has_v2_pending = 1;
    return PA_OK;
}

static pa_err load_rest(loader *l, json_t *root, pa_device *d)
{
    const char *code, *puk;
    pa_err e;

    if ((e = load_device_key(l, root, d)) != PA_OK
        || (e = load_activation(l, root, d)) != PA_OK
        || (e = load_pending(l, root, d)) != PA_OK
        || (e = load_tokens(l, root, d)) != PA_OK
        || (e = load_v2_pending(l, root, d)) != PA_OK
        || (e = get_str(l, root, "recoveryCode", 0, &code)) != PA_OK
        || (e = get_str(l, root, "puk", 0, &puk)) != PA_OK
        || (e = pa_device_strdup(code, &d->recovery_code)) != PA_OK
        || (e = pa_device_strdup(puk, &d->puk)) != PA_OK)
        return e;
    return get_bytes(l, root, "statusChallenge", d->challenge,
                     sizeof d->challenge, &d->has_challenge);
}

/* Reads at most STATE_MAX_BYTES of a regular file. */
static pa_err read_file(const char *path, char **buf, size_t *len, char *why,
                        size_t why_len)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC), failed = 0;
    size_t got = 0, size;

    *buf = NULL;
    *len = 0;
    if (fd < 0) {
        say(why, why_len, "cannot open %s: %s", path, strerror(errno));
        return PA_ERR_UNKNOWN_ERROR;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)
        || st.st_size > STATE_MAX_BYTES) {
        say(why, why_len, "%s is not a regular file of at most 1 MiB", path);
        close(fd);
        return PA_ERR_UNKNOWN_ERROR;
    }
    size = (size_t)st.st_size;
    if ((*buf = malloc(size + 1)) == NULL)
        failed = 1;
    while (!failed && got < size) {
        ssize_t r = read(fd, *buf + got, size - got);

        if (r == 0)
            break;
        if (r < 0 && errno != EINTR)
            failed = 1;
        got += r > 0 ? (size_t)r : 0;
    }
    close(fd);
    if (failed) {
        say(why, why_len, "cannot read %s", path);
        pa_secure_free(*buf, size + 1);
        *buf = NULL;
        return PA_ERR_UNKNOWN_ERROR;
    }
    *len = got;
    return PA_OK;
}

pa_err pa_device_load(const char *path, pa_device **out, char *why,
                      size_t why_len)
{
    loader l = {why, why_len};
    json_error_t jerr;
    json_t *root;
    char *buf;
    size_t len;
    pa_err e = read_file(path, &buf, &len, why, why_len);

    *out = NULL;
    if (e != PA_OK)
        return e;
    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    pa_secure_free(buf, len + 1);
    if (root == NULL || !json_is_object(root)) {
        say(why, why_len, "%s is not a JSON object: %s", path,
            root ? "other JSON type" : jerr.text);
        pa_device_json_wipe_free(root);
        return PA_ERR_INVALID_INPUT_FORMAT;
    }
    e = check_known(&l, root);
    if (e == PA_OK)
        e = load_application(&l, root, out);
    if (e == PA_OK && (e = load_rest(&l, root, *out)) != PA_OK) {
        pa_device_free(*out);
        *out = NULL;
    }
    pa_device_json_wipe_free(root);
    return e;
}
