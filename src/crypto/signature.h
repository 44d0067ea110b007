/*
 * signature.h - online PowerAuth signatures (CRYPTO.md 8.1-8.6).
 *
 * A PowerAuth signature is one HMAC-SHA256 "component" per authentication
 * factor, keyed by a chain of HMACs of the counter block, formatted either as
 * 8-digit decimals or as Base64.  The server recomputes it for every counter
 * position of the lookahead window (pa_sig_verify); the device emulator and
 * the tests compute it directly (pa_sig_compute) and build the signed data
 * string the way a client does (pa_sig_normalize, pa_sig_canonical_query).
 *
 * Everything here is pure computation over bytes: no activation records, no
 * store.  The caller derives the three signature keys (KDF_N of the master
 * secret, 3.1) and owns the counter state.
 */
#ifndef PA_SIGNATURE_H
#define PA_SIGNATURE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Signature types (8.2).  The numeric order is irrelevant to the protocol. */
typedef enum {
    PA_SIG_POSSESSION,
    PA_SIG_KNOWLEDGE,
    PA_SIG_BIOMETRY,
    PA_SIG_POSSESSION_KNOWLEDGE,
    PA_SIG_POSSESSION_BIOMETRY,
    PA_SIG_POSSESSION_KNOWLEDGE_BIOMETRY
} pa_sig_type;

/* Accepts the SOAP enum name ("POSSESSION_KNOWLEDGE") or the header name
 * ("possession_knowledge"), nothing else (no mixed case, no blanks):
 * PA_ERR_INVALID_INPUT_FORMAT. */
pa_err pa_sig_type_parse(const char *s, pa_sig_type *out);

/* SOAP enum name, e.g. "POSSESSION_BIOMETRY"; NULL for an invalid value. */
const char *pa_sig_type_name(pa_sig_type t);

/* Header name (lower case), e.g. "possession_biometry"; NULL if invalid. */
const char *pa_sig_type_header_name(pa_sig_type t);

/* Number of components (factors) of a type: 1, 2 or 3; 0 if invalid. */
int pa_sig_type_factors(pa_sig_type t);

typedef enum { PA_SIG_FORMAT_DECIMAL, PA_SIG_FORMAT_BASE64 } pa_sig_format;

/* Format from the request's signatureVersion string (8.5, 20.3):
 * "2.0" "2.1" "3.0" -> DECIMAL; "3.1" -> BASE64; any other string matching
 * ^[0-9]+(\.[0-9]+)?$ whose exact decimal value exceeds 3.1 -> BASE64;
 * everything else (NULL, "3.10", "1.0", " 3.2", "1e1") ->
 * PA_ERR_UNABLE_TO_COMPUTE_SIGNATURE.  No floating point is involved. */
pa_err pa_sig_format_for_version(const char *signature_version,
                                 pa_sig_format *out);

/* The three signature keys of an activation (KEY_SIGNATURE_*). */
typedef struct {
    uint8_t possession[16], knowledge[16], biometry[16];
} pa_sig_keys;

/* CTR16(c) = 0x00*8 || BE64(c), the protocol-2 counter block (8.3). */
void pa_sig_ctr_numeric(int64_t counter, uint8_t out[16]);

/* NEXT(x) = REDUCE(SHA256(x)), one step of the protocol-3 counter (8.3).
 * in and out may be the same buffer. */
pa_err pa_sig_ctr_next(const uint8_t in[16], uint8_t out[16]);

/* Longest formatted signature (3 x 16 bytes in Base64 = 64 chars) + NUL,
 * rounded up. */
#define PA_SIG_MAX 80

/* Computes the formatted signature of DATA (the complete signed bytes, i.e.
 * after pa_sig_data_online/offline) for counter block ctr. */
pa_err pa_sig_compute(const pa_sig_keys *k, pa_sig_type t,
                      const uint8_t ctr[16], const uint8_t *data, size_t n,
                      pa_sig_format f, char out[PA_SIG_MAX]);

/* DECIMAL format with `digits` (4..8) digits per component: modulus
 * 10^digits, zero-padded.  8 is the 0.24 behaviour (= PA_SIG_FORMAT_DECIMAL);
 * 4..7 exist for the later generalisation in signatures-offline.json. */
pa_err pa_sig_compute_decimal(const pa_sig_keys *k, pa_sig_type t,
                              const uint8_t ctr[16], const uint8_t *data,
                              size_t n, int digits, char out[PA_SIG_MAX]);

/* Outcome of pa_sig_verify. */
typedef struct {
    int valid;               /* 1 when some position/type matched */
    pa_sig_type used_type;   /* matching type; types[0] when invalid */
    int64_t ctr_next;        /* valid: matched position + 1; else counter */
    uint8_t ctr_data_next[16]; /* valid + hash counter: NEXT(matching CTR);
                                  otherwise a copy of ctr_data (hash mode)
                                  or zeros (numeric mode) */
    int64_t matched_pos;     /* valid: the matching position; else -1 */
} pa_sig_result;

/* VERIFY of 8.6.  Tries the positions counter, counter+1, ...,
 * counter+lookahead-1 (counter arithmetic wraps like a Java long); at each
 * position builds CTR (CTR16(pos) when hash_counter is 0, else ctr_data
 * advanced by NEXT once per position) and tries types[0..ntypes-1] in order,
 * comparing the formatted signature with `signature` in constant time (exact,
 * case-sensitive; unpadded Base64 never matches).  The HMACs of the keys
 * over CTR and the first component are computed once per position and shared
 * by all types.
 * Returns PA_OK with out->valid 0/1, or an error for bad arguments
 * (PA_ERR_INVALID_INPUT_FORMAT: NULL pointers, ntypes == 0, an invalid type
 * or format) or a crypto failure (PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR /
 * PA_ERR_INVALID_CRYPTO_PROVIDER).  ctr_data may be NULL when hash_counter
 * is 0. */
pa_err pa_sig_verify(const pa_sig_keys *k, const pa_sig_type *types,
                     size_t ntypes, pa_sig_format f, int hash_counter,
                     int64_t counter, const uint8_t ctr_data[16],
                     unsigned lookahead, const uint8_t *data, size_t n,
                     const char *signature, pa_sig_result *out);

/* DATA texts of 8.1, malloc'ed NUL-terminated strings; the caller frees them.
 * The online one contains the application secret: free it with
 * pa_secure_free(p, strlen(p)).  The signed bytes are the string without
 * its NUL (strlen). */
pa_err pa_sig_data_online(const char *data_string, const char *app_secret_text,
                          char **out);                   /* ds "&" secret   */
pa_err pa_sig_data_offline(const char *data_string, char **out); /* "&offline" */

/* Client side (8.1).  Canonical form of a raw URL query string (without the
 * leading '?'; NULL or "" give ""): items without '=' skipped, keys and
 * values form-URL-decoded, pairs sorted by key then value (byte order of the
 * UTF-8 form), re-encoded with '+' for space, "A-Za-z0-9.-*_" kept and
 * %XX (upper-case hex) for every other byte, joined with '&'.
 * A malformed '%' escape gives PA_ERR_INVALID_INPUT_FORMAT.  Decoded bytes are
 * kept as they are: invalid UTF-8 is not replaced by U+FFFD as Java would.
 * *out is malloc'ed; the caller frees it. */
pa_err pa_sig_canonical_query(const char *raw_query, char **out);

/* dataString = METHOD "&" B64(uri_id) "&" B64(nonce) "&" B64(body).
 * method: ASCII letters only, emitted in upper case.  body may be NULL when
 * body_len is 0 (then the string ends with '&').  For GET/DELETE pass the
 * canonical query (pa_sig_canonical_query) as body.  *out is malloc'ed; the
 * caller frees it. */
pa_err pa_sig_normalize(const char *method, const char *uri_id,
                        const uint8_t nonce[16], const uint8_t *body,
                        size_t body_len, char **out);

#endif
