/*
 * device_sig.c - what the device computes with its counter: online
 * signatures (8.1-8.5), offline signatures over a server payload (9.2), and
 * the status blob with its counter-hash check (7.5, 7.7).
 *
 * The counter block is the hash-chained CTR_DATA for a version-3
 * activation and CTR16(counter) for version 2 (8.3).  Like the SDK, the
 * device moves its counter one step on after every signature it makes,
 * whether or not the server ever sees it; the server's lookahead window
 * (8.6) absorbs signatures it missed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/offline.h"
#include "crypto/primitives.h"
#include "tools/padevice/device.h"
#include "util/base64.h"

void pa_device_signature_free(pa_device_signature *s)
{
    if (s == NULL)
        return;
    free(s->data_string);
    memset(s, 0, sizeof *s);
}

/* The counter block of the next signature (8.3). */
static pa_err counter_block(const pa_device *d, uint8_t ctr[16])
{
    if (d->version == 3) {
        if (!d->has_ctr_data)
            return PA_ERR_ACTIVATION_INCORRECT_STATE;
        memcpy(ctr, d->ctr_data, 16);
        return PA_OK;
    }
    pa_sig_ctr_numeric(d->counter, ctr);
    return PA_OK;
}

/* One step on: NEXT(CTR_DATA) in hash mode; the numeric counter always
 * follows (the server keeps it in step as information, 8.3). */
static pa_err advance_counter(pa_device *d)
{
    pa_err e = PA_OK;

    if (d->version == 3)
        e = pa_sig_ctr_next(d->ctr_data, d->ctr_data);
    if (e == PA_OK)
        d->counter++;
    return e;
}

/* Formatted signature of the signed bytes with the current counter. */
static pa_err compute(const pa_device *d, pa_sig_type t, const char *data,
                      pa_sig_format f, char out[PA_SIG_MAX])
{
    pa_derived_keys k;
    pa_sig_keys sk;
    uint8_t ctr[16];
    pa_err e = pa_device_keys(d, &k);

    if (e == PA_OK)
        e = counter_block(d, ctr);
    if (e == PA_OK) {
        memcpy(sk.possession, k.possession, 16);
        memcpy(sk.knowledge, k.knowledge, 16);
        memcpy(sk.biometry, k.biometry, 16);
        e = pa_sig_compute(&sk, t, ctr, (const uint8_t *)data, strlen(data),
                           f, out);
    }
    pa_keys_wipe(&k);
    OPENSSL_cleanse(&sk, sizeof sk);
    OPENSSL_cleanse(ctr, sizeof ctr);
    return e;
}

pa_err pa_device_sign(pa_device *d, const char *method, const char *uri_id,
                      const uint8_t *body, size_t body_len, pa_sig_type t,
                      const uint8_t *nonce, int advance,
                      pa_device_signature *out)
{
    pa_sig_format f;
    char *data = NULL;
    pa_err e;

    memset(out, 0, sizeof *out);
    out->type = t;
    out->version = pa_device_signature_version(d);
    out->counter = d->counter;
    if (nonce != NULL)
        memcpy(out->nonce, nonce, 16);
    e = nonce ? PA_OK : pa_random(out->nonce, 16);
    if (e == PA_OK)
        e = pa_sig_format_for_version(out->version, &f);
    if (e == PA_OK)
        e = pa_sig_normalize(method, uri_id, out->nonce, body, body_len,
                             &out->data_string);
    if (e == PA_OK)
        e = pa_sig_data_online(out->data_string, d->app_secret, &data);
    if (e == PA_OK)
        e = compute(d, t, data, f, out->signature);
    if (e == PA_OK && advance)
        e = advance_counter(d);
    if (data != NULL)
        pa_secure_free(data, strlen(data));
    if (e != PA_OK) {
        pa_device_signature_free(out);
        return e;
    }
    pa_b64_encode(out->nonce, 16, out->nonce_b64);
    return PA_OK;
}

/* "POST&" B64(uri_id) "&" nonce text "&" B64(body): the payload's nonce
 * text goes in exactly as received (9.2). */
static pa_err offline_data_string(const char *uri_id, const char *nonce_b64,
                                  const char *body, char **out)
{
    char *u = NULL, *b = NULL;
    size_t len;
    pa_err e = pa_b64_encode_alloc((const uint8_t *)uri_id, strlen(uri_id),
                                   &u);

    *out = NULL;
    if (e == PA_OK)
        e = pa_b64_encode_alloc((const uint8_t *)body, strlen(body), &b);
    len = (u ? strlen(u) : 0) + strlen(nonce_b64) + (b ? strlen(b) : 0) + 8;
    if (e == PA_OK && (*out = malloc(len)) == NULL)
        e = PA_ERR_UNKNOWN_ERROR;
    if (e == PA_OK)
        snprintf(*out, len, "POST&%s&%s&%s", u, nonce_b64, b);
    free(u);
    free(b);
    return e;
}

/* Checks the payload with the key its indicator names. */
static pa_err verify_payload(const pa_device *d, const char *offline_data,
                             pa_offline_parts *parts, int *valid)
{
    const pa_eckey *key;
    pa_err e = pa_offline_payload_parse(offline_data, parts);

    *valid = 0;
    if (e != PA_OK)
        return e;
    key = parts->key_indicator == PA_OFFLINE_KEY_MASTER ? d->master_pub
                                                        : d->server_pub;
    if (key == NULL)
        return PA_ERR_ACTIVATION_INCORRECT_STATE;
    return pa_offline_payload_verify(key, offline_data, valid, NULL);
}

pa_err pa_device_offline_sign(pa_device *d, const char *offline_data,
                              const char *uri_id, const char *body,
                              int biometry, int *payload_valid,
                              pa_device_signature *out)
{
    pa_offline_parts parts = {0};
    char *data = NULL;
    pa_err e;

    memset(out, 0, sizeof *out);
    out->version = "";
    out->type = biometry ? PA_SIG_POSSESSION_BIOMETRY
                         : PA_SIG_POSSESSION_KNOWLEDGE;
    out->counter = d->counter;
    if (offline_data == NULL || uri_id == NULL || body == NULL)
        return PA_ERR_INVALID_INPUT_FORMAT;
    e = verify_payload(d, offline_data, &parts, payload_valid);
    if (e == PA_OK && !*payload_valid) {
        pa_offline_parts_free(&parts);
        return PA_OK; /* the device refuses to sign untrusted data */
    }
    if (e == PA_OK)
        e = pa_b64_decode_exact(parts.nonce_b64, out->nonce, 16);
    if (e == PA_OK)
        e = offline_data_string(uri_id, parts.nonce_b64, body,
                                &out->data_string);
    if (e == PA_OK)
        e = pa_sig_data_offline(out->data_string, &data);
    if (e == PA_OK)
        e = compute(d, out->type, data, PA_SIG_FORMAT_DECIMAL, out->signature);
    if (e == PA_OK)
        e = advance_counter(d);
    if (e == PA_OK)
        memcpy(out->nonce_b64, parts.nonce_b64, sizeof out->nonce_b64);
    free(data);
    pa_offline_parts_free(&parts);
    if (e != PA_OK)
        pa_device_signature_free(out);
    return e;
}

/* --- activation status ---------------------------------------------------------- */

static const char *const status_names[] = {
    NULL, "CREATED", "PENDING_COMMIT", "ACTIVE", "BLOCKED", "REMOVED"};

const char *pa_device_status_name(uint8_t status)
{
    return status < 6 ? status_names[status] : NULL;
}

pa_err pa_device_status_challenge(pa_device *d,
                                   uint8_t out[PA_STATUS_CHALLENGE_LEN])
{
    pa_err e = pa_random(d->challenge, sizeof d->challenge);

    d->has_challenge = e == PA_OK;
    if (e == PA_OK)
        memcpy(out, d->challenge, sizeof d->challenge);
    return e;
}

/* Looks for the server's CTR_DATA_HASH at the local CTR_DATA and up to
 * ctr_look_ahead steps after it (7.5); *found holds the matching CTR_DATA. */
static pa_err find_ctr_data(const pa_device *d, const uint8_t transport[16],
                            pa_device_status *st, uint8_t found[16])
{
    uint8_t h[16];
    pa_err e = PA_OK;

    memcpy(found, d->ctr_data, 16);
    for (int i = 0; e == PA_OK && i <= st->f.ctr_look_ahead; i++) {
        e = pa_status_ctr_data_hash(transport, found, h);
        if (e == PA_OK && pa_ct_equal(h, 16, st->f.ctr_data_hash, 16)) {
            st->hash_matches = 1;
            st->distance = i;
            break;
        }
        if (e == PA_OK)
            e = pa_sig_ctr_next(found, found);
    }
    OPENSSL_cleanse(h, sizeof h);
    return e;
}

pa_err pa_device_status_decrypt(pa_device *d,
                                const uint8_t blob[PA_STATUS_BLOB_LEN],
                                const uint8_t *nonce, const uint8_t *challenge,
                                int resync, pa_device_status *out)
{
    pa_derived_keys k;
    uint8_t found[16];
    pa_err e;

    memset(out, 0, sizeof *out);
    if (nonce != NULL && challenge == NULL)
        challenge = d->has_challenge ? d->challenge : NULL;
    if (nonce != NULL && challenge == NULL)
        return PA_ERR_INVALID_REQUEST;
    /* Without a nonce the blob has a zero IV and no challenge (7.2). */
    if ((e = pa_device_keys(d, &k)) == PA_OK)
        e = pa_status_decrypt(k.transport, nonce ? challenge : NULL, nonce,
                              blob, &out->f);
    if (e == PA_OK && nonce != NULL && d->has_ctr_data) {
        out->hash_checked = 1;
        e = find_ctr_data(d, k.transport, out, found);
    }
    if (e == PA_OK && resync && out->hash_matches && out->distance > 0) {
        memcpy(d->ctr_data, found, 16);
        d->counter += out->distance;
    }
    pa_keys_wipe(&k);
    OPENSSL_cleanse(found, sizeof found);
    return e;
}
