/*
 * device.h - libpadevice: a PowerAuth mobile device, emulated.
 *
 * padevice plays the phone in every cryptographic flow of the protocol
 * (CRYPTO.md 5.6, 6.3, 6.4, 7.7, 8.1-8.5, 9.2, 10.2, 11, 12.4, 13, 14).  It
 * uses only the CLIENT halves of the crypto layer, so a test in which the
 * server halves accept what this library produced shows that both sides
 * agree.  The integration tests link it directly; tools/padevice/main.c
 * wraps it as the `padevice` command.
 *
 * A pa_device is the device's persistent state: what the SDK keeps in the
 * phone's keychain between two requests (key pair, activation, counter,
 * tokens) plus the ECIES context of the one request in flight, so that the
 * answer can be read by a later, separate call (one CLI invocation per
 * HTTP round trip).  Derived keys are never stored: they are recomputed
 * from the key pair (pa_keys_from_pair) whenever a step needs them.
 *
 * Every request step stores what it needs to read the answer; the matching
 * response step checks that the pending request is of the right kind and
 * clears it on success.  A response that fails (tampered MAC, wrong kind)
 * leaves the state untouched, so the right answer can still be read.
 *
 * Byte outputs are raw bytes; the CLI turns them into Base64 JSON.  All
 * secrets held by a pa_device are wiped by pa_device_free.
 */
#ifndef PA_DEVICE_H
#define PA_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "crypto/codes.h"
#include "crypto/ecies.h"
#include "crypto/eckey.h"
#include "crypto/keys.h"
#include "crypto/signature.h"
#include "crypto/statusblob.h"
#include "crypto/token.h"
#include "crypto/v2.h"
#include "util/base64.h"
#include "util/err.h"

/* SDK protocol generation: decides the ECIES mode (3.1 sends a nonce), the
 * signatureVersion sent with signatures and hence their format (8.5). */
typedef enum {
    PA_DEVICE_P21,  /* "2.1": DECIMAL, ECIES without nonce */
    PA_DEVICE_P30,  /* "3.0": DECIMAL, ECIES without nonce */
    PA_DEVICE_P31   /* "3.1": BASE64, ECIES with nonce */
} pa_device_protocol;

/* What the request in flight was, so that its answer is read by the right
 * step (and the JSON inside is interpreted correctly). */
typedef enum {
    PA_DEVICE_PENDING_NONE,
    PA_DEVICE_PENDING_ACTIVATION, /* /pa/activation, application scope */
    PA_DEVICE_PENDING_TOKEN,      /* /pa/token/create */
    PA_DEVICE_PENDING_VAULT,      /* /pa/vault/unlock */
    PA_DEVICE_PENDING_UPGRADE,    /* /pa/upgrade */
    PA_DEVICE_PENDING_RECOVERY,   /* /pa/recovery/confirm */
    PA_DEVICE_PENDING_GENERIC,    /* any SH1 chosen by the caller */
    PA_DEVICE_PENDING_V2_TOKEN    /* protocol-2 token envelope (14.6) */
} pa_device_pending_kind;

typedef struct {
    char *id;                               /* tokenId (malloc'ed) */
    uint8_t secret[PA_TOKEN_SECRET_LEN];    /* tokenSecret */
} pa_device_token;

/* The device state.  Tests may read the fields; change them only through
 * the functions below (or state.c when loading). */
typedef struct pa_device {
    pa_device_protocol protocol;
    char *app_key;              /* applicationKey, Base64 text */
    char *app_secret;           /* applicationSecret, Base64 text (secret) */
    pa_eckey *master_pub;       /* KEY_SERVER_MASTER_PUBLIC, embedded in app */

    pa_eckey *device_key;       /* KEY_DEVICE_PRIVATE; NULL before a key
                                   exchange was started */
    char *activation_id;        /* NULL until the server answered */
    pa_eckey *server_pub;       /* KEY_SERVER_PUBLIC; NULL until then */
    int version;                /* 0 not activated; 2 numeric counter;
                                   3 hash counter */
    int64_t counter;            /* numeric counter (v2: the signature
                                   counter; v3: kept in step, informative) */
    int has_ctr_data;
    uint8_t ctr_data[16];       /* CTR_DATA for the next signature (v3) */

    pa_device_pending_kind pending;
    pa_ecies_ctx pending_ctx;   /* KEY_ENC, KEY_MAC, IV, SH2 of the request
                                   in flight (valid when pending != NONE) */

    pa_device_token *tokens;
    size_t ntokens;

    char *recovery_code;        /* last activationRecovery received */
    char *puk;

    int has_v2_pending;         /* protocol-2 key exchange in flight */
    char *v2_otp;               /* activationOtp (PBKDF2 password) */
    char *v2_salt;              /* activationIdShort or identity */
    uint8_t v2_nonce[PA_V2_NONCE_LEN]; /* activationNonce we sent */

    int has_challenge;          /* status challenge of the last request */
    uint8_t challenge[PA_STATUS_CHALLENGE_LEN];
} pa_device;

/* --- lifecycle (device.c) -------------------------------------------------- */

/* "2.1" / "3.0" / "3.1" <-> enum; anything else PA_ERR_INVALID_INPUT_FORMAT. */
pa_err pa_device_protocol_parse(const char *s, pa_device_protocol *out);
const char *pa_device_protocol_name(pa_device_protocol p);

/* Kind names as stored in the state file ("activation", "token", ...). */
const char *pa_device_pending_name(pa_device_pending_kind k);
pa_err pa_device_pending_parse(const char *s, pa_device_pending_kind *out);

/* A fresh, not activated device of an application.  The key and secret are
 * the Base64 texts the server issued (the secret must decode to 16 bytes,
 * as protocol 2 needs its bytes); master_pub_b64 is the application's
 * master public key (33 or 65 bytes).  *out: pa_device_free. */
pa_err pa_device_new(const char *protocol, const char *app_key,
                     const char *app_secret, const char *master_pub_b64,
                     pa_device **out);

/* Wipes every secret and frees (NULL is fine). */
void pa_device_free(pa_device *d);

/* Changes the SDK protocol (an app update: a 3.1 SDK taking over a
 * protocol-2 activation before the upgrade). */
pa_err pa_device_set_protocol(pa_device *d, const char *protocol);

/* signatureVersion the device sends: "2.1", "3.0" or "3.1". */
const char *pa_device_signature_version(const pa_device *d);

/* The five derived keys of the activation (3.1); caller wipes them with
 * pa_keys_wipe.  PA_ERR_ACTIVATION_INCORRECT_STATE before activation. */
pa_err pa_device_keys(const pa_device *d, pa_derived_keys *out);

/* devicePublicKeyFingerprint (6.6) by the activation version. */
pa_err pa_device_fingerprint(const pa_device *d, char out[PA_FINGERPRINT_BUF]);

/* The stored token with this id, or NULL. */
const pa_device_token *pa_device_token_find(const pa_device *d,
                                            const char *id);

/* --- state file (state.c) -------------------------------------------------- */

/* Reads a state file.  Every field is type- and format-checked; on failure
 * *out is NULL and `why` (may be NULL) receives a one-line reason such as
 * "field 'counter': not an integer".  PA_ERR_INVALID_INPUT_FORMAT for bad
 * content, PA_ERR_UNKNOWN_ERROR when the file cannot be read. */
pa_err pa_device_load(const char *path, pa_device **out, char *why,
                      size_t why_len);

/* Writes the state atomically (temporary file in the same directory, then
 * rename) with mode 0600: it holds the device private key. */
pa_err pa_device_save(const pa_device *d, const char *path, char *why,
                      size_t why_len);

/* The state as a JSON object (what pa_device_save writes); NULL on
 * allocation failure.  Release with pa_device_json_wipe_free. */
json_t *pa_device_state_json(const pa_device *d);

/* Overwrites every string value inside j (recursively), then drops the
 * reference: JSON copies of keys and secrets must not linger in freed
 * heap memory.  NULL is fine. */
void pa_device_json_wipe_free(json_t *j);

/* --- ECIES envelopes ------------------------------------------------------- */

/* The cryptogram as the JSON body the SDK posts:
 * {"ephemeralPublicKey":..,"encryptedData":..,"mac":..,"nonce":..}
 * in this order, "nonce" only for 3.1.  New reference, NULL on failure. */
json_t *pa_device_cryptogram_json(const pa_ecies_cryptogram *c);

/* Generic request: activation_scope 0 encrypts to the master key with
 * SH2 = SHA256(secret), 1 to KEY_SERVER_PUBLIC with
 * SH2 = HMAC(KEY_TRANSPORT, secret) (5.7).  *out: pa_ecies_cryptogram_free. */
pa_err pa_device_ecies_request(pa_device *d, int activation_scope,
                               const char *sh1, const uint8_t *plain,
                               size_t n, int compressed,
                               pa_ecies_cryptogram *out);

/* Reads the answer to a generic request; *plain: pa_secure_free. */
pa_err pa_device_ecies_response(pa_device *d, const uint8_t *ct, size_t n,
                                const uint8_t *mac, size_t mac_len,
                                uint8_t **plain, size_t *plain_len);

/* --- activation, protocol 3 (6.3, 6.4, 12.5) ------------------------------ */

/* Optional layer-2 properties (NULL: omitted from the JSON). */
typedef struct {
    const char *otp;            /* activationOtp */
    const char *name;           /* activationName */
    const char *extras;
    const char *platform;
    const char *device_info;    /* deviceInfo */
    int compressed_eph;         /* 33-byte EPHB like the mobile SDK */
    int compressed_device_key;  /* send devicePublicKey compressed */
} pa_device_activation_opts;

/* Starts a key exchange: new device key pair (the previous activation, its
 * tokens and recovery data are dropped), layer-2 request JSON, ECIES
 * application scope with SH1 "/pa/activation".  The same request serves
 * PrepareActivation (with the code, which is not part of the crypto),
 * CreateActivation and RecoveryCodeActivation. */
pa_err pa_device_activation_request(pa_device *d,
                                    const pa_device_activation_opts *o,
                                    pa_ecies_cryptogram *out);

/* Reads the layer-2 response {"activationId","serverPublicKey","ctrData",
 * "activationRecovery"} and stores it: version 3, counter 0.
 * PA_ERR_INVALID_INPUT_FORMAT for a malformed document. */
pa_err pa_device_activation_response(pa_device *d, const uint8_t *ct,
                                     size_t n, const uint8_t *mac,
                                     size_t mac_len);

/* ECDSA check of the activation signature (4.4) with the master key;
 * malformed DER is *valid 0, not an error. */
pa_err pa_device_verify_activation_signature(const pa_device *d,
                                             const char *code,
                                             const uint8_t *sig,
                                             size_t siglen, int *valid);

/* --- signatures (device_sig.c; 8.1-8.5, 9.2) ------------------------------ */

typedef struct {
    char signature[PA_SIG_MAX];
    pa_sig_type type;
    const char *version;        /* signatureVersion sent; "" offline */
    char *data_string;          /* dataString (without the secret or
                                   "&offline"); malloc'ed */
    uint8_t nonce[16];
    char nonce_b64[PA_B64_ENCLEN(16) + 1];
    int64_t counter;            /* numeric counter the signature used */
} pa_device_signature;

/* Frees data_string and clears the struct (NULL is fine). */
void pa_device_signature_free(pa_device_signature *s);

/* Online signature of METHOD & B64(uri_id) & B64(nonce) & B64(body) plus
 * "&" + applicationSecret, with the current counter (hash counter for
 * version 3, CTR16(counter) for version 2) in the protocol's format.
 * For GET/DELETE pass the canonical query (pa_sig_canonical_query) as the
 * body.  nonce NULL: 16 random bytes.  advance: move the local counter one
 * step on, as the SDK does after every signature. */
pa_err pa_device_sign(pa_device *d, const char *method, const char *uri_id,
                      const uint8_t *body, size_t body_len, pa_sig_type t,
                      const uint8_t *nonce, int advance,
                      pa_device_signature *out);

/* Offline signature (9.2): checks the payload signature with the master
 * key (indicator 0) or KEY_SERVER_PUBLIC (indicator 1) into
 * *payload_valid; only when valid computes the DECIMAL signature
 * (possession_knowledge, or possession_biometry with `biometry`) over
 * "POST" & B64(uri_id) & payload nonce & B64(body) & "offline" and
 * advances the counter.  An invalid payload is PA_OK with
 * *payload_valid 0 and *out cleared. */
pa_err pa_device_offline_sign(pa_device *d, const char *offline_data,
                              const char *uri_id, const char *body,
                              int biometry, int *payload_valid,
                              pa_device_signature *out);

/* --- activation status (device_sig.c; 7.7, 7.5) --------------------------- */

typedef struct {
    pa_status_fields f;
    int hash_checked;   /* 1 when the blob had a challenge and the device
                           has ctrData: the fields below mean something */
    int hash_matches;   /* server hash found within ctr_look_ahead steps */
    int distance;       /* steps from the local ctrData to the server's */
} pa_device_status;

/* 16 random bytes, remembered in the state for the decryption. */
pa_err pa_device_status_challenge(pa_device *d,
                                   uint8_t out[PA_STATUS_CHALLENGE_LEN]);

/* Decrypts encryptedStatusBlob.  nonce NULL: the zero-IV variant (no
 * challenge).  With a nonce the challenge is `challenge`, or the stored one
 * when that is NULL (PA_ERR_INVALID_REQUEST if none).  resync: when the
 * server's ctrData is ahead (distance > 0) adopt it, as the SDK does. */
pa_err pa_device_status_decrypt(pa_device *d,
                                const uint8_t blob[PA_STATUS_BLOB_LEN],
                                const uint8_t *nonce, const uint8_t *challenge,
                                int resync, pa_device_status *out);

/* "CREATED", "PENDING_COMMIT", "ACTIVE", "BLOCKED", "REMOVED"; NULL
 * for other values. */
const char *pa_device_status_name(uint8_t status);

/* --- tokens (10) ----------------------------------------------------------- */

/* ECIES activation scope "/pa/token/create" with "{}". */
pa_err pa_device_token_request(pa_device *d, int compressed,
                               pa_ecies_cryptogram *out);

/* Reads {"tokenId","tokenSecret","expires"}, stores the token;
 * *tok points into the device (valid until the next change). */
pa_err pa_device_token_response(pa_device *d, const uint8_t *ct, size_t n,
                                const uint8_t *mac, size_t mac_len,
                                const pa_device_token **tok);

/* DIGEST of 10.2 for a stored token. */
pa_err pa_device_token_digest(const pa_device *d, const char *token_id,
                              const uint8_t nonce[16], int64_t timestamp_ms,
                              uint8_t out[PA_TOKEN_DIGEST_LEN]);

/* --- vault unlock (11, 14.4) ----------------------------------------------- */

typedef struct {
    pa_ecies_cryptogram c;
    char *body;                 /* the exact JSON body signed (malloc'ed) */
    pa_device_signature sig;
} pa_device_vault_req;

void pa_device_vault_request_free(pa_device_vault_req *r);

/* ECIES "/pa/vault/unlock" with {"reason":R} ({} when reason is NULL),
 * then the signature of POST "/pa/vault/unlock" over the body the SDK
 * posts, pa_device_cryptogram_json compact, i.e.
 * {"ephemeralPublicKey":"..","encryptedData":"..","mac":"..","nonce":".."}
 * ("nonce" only for 3.1).  Advances the counter. */
pa_err pa_device_vault_request(pa_device *d, const char *reason,
                               pa_sig_type t, int compressed,
                               pa_device_vault_req *out);

/* Reads {"encryptedVaultEncryptionKey":..}; *unlocked = 1 when it holds
 * the device's own KEY_ENCRYPTION_VAULT under KEY_TRANSPORT, 0 when it is
 * null or anything else. */
pa_err pa_device_vault_response(pa_device *d, const uint8_t *ct, size_t n,
                                const uint8_t *mac, size_t mac_len,
                                int *unlocked);

/* Protocol 2 (14.4): the key is bound to counter c, by default the local
 * counter (which the signature of the unlock request already advanced
 * to the server's ctrNext); counter_or_NULL overrides it.  On success the
 * local counter becomes c + 1, as on the server. */
pa_err pa_device_v2_vault_response(pa_device *d, const uint8_t *c, size_t n,
                                   const int64_t *counter_or_NULL,
                                   int *unlocked);

/* --- upgrade (13) and recovery (12.4) -------------------------------------- */

/* ECIES "/pa/upgrade" with "{}" (activation must be version 2). */
pa_err pa_device_upgrade_request(pa_device *d, int compressed,
                                 pa_ecies_cryptogram *out);

/* Reads {"ctrData":..}: stores it and switches to the hash counter
 * (version 3); the numeric counter keeps its value. */
pa_err pa_device_upgrade_response(pa_device *d, const uint8_t *ct, size_t n,
                                  const uint8_t *mac, size_t mac_len);

/* ECIES "/pa/recovery/confirm" with {"recoveryCode":code}; code NULL: the
 * stored one. */
pa_err pa_device_recovery_confirm_request(pa_device *d, const char *code,
                                          int compressed,
                                          pa_ecies_cryptogram *out);

pa_err pa_device_recovery_confirm_response(pa_device *d, const uint8_t *ct,
                                           size_t n, const uint8_t *mac,
                                           size_t mac_len,
                                           int *already_confirmed);

/* --- protocol 2 (device_v2.c; 14.1, 14.2, 14.6) ---------------------------- */

typedef struct {
    uint8_t nonce[PA_V2_NONCE_LEN];     /* activationNonce */
    uint8_t c[PA_V2_C_PUB_LEN];         /* encryptedDevicePublicKey */
    uint8_t eph[PA_EC_PUB_LEN];         /* ephemeralPublicKey (65) */
    uint8_t app_sig[PA_V2_APP_SIG_LEN]; /* applicationSignature */
} pa_device_v2_request;

/* Key exchange request: id is activationIdShort (14.1) or the identity
 * (14.2), otp the activationOtp.  New device key pair (old activation
 * dropped); remembers otp, id and nonce for the response. */
pa_err pa_device_v2_activation_request(pa_device *d, const char *id,
                                       const char *otp,
                                       pa_device_v2_request *out);

/* Verifies encryptedServerPublicKeySignature with the master key
 * (PA_ERR_INVALID_SIGNATURE when it does not verify), decrypts the server
 * public key, stores the activation: version 2, numeric counter 0. */
pa_err pa_device_v2_activation_response(pa_device *d,
                                        const char *activation_id,
                                        const uint8_t nonce_s[PA_V2_NONCE_LEN],
                                        const uint8_t *eph2, size_t eph2_len,
                                        const uint8_t *c, size_t n,
                                        const uint8_t *sig, size_t siglen);

/* Protocol-2 token: new ephemeral key (EPHB out), envelope kept. */
pa_err pa_device_v2_token_request(pa_device *d, int compressed,
                                  uint8_t ephb[PA_EC_PUB_LEN],
                                  size_t *ephb_len);

pa_err pa_device_v2_token_response(pa_device *d, const uint8_t *ct, size_t n,
                                   const uint8_t *mac, size_t mac_len,
                                   const pa_device_token **tok);

/* --- internal, shared by the library's files -------------------------------- */

/* Opens the answer to the pending request of kind k (MAC check, then
 * decryption).  The context stays until pa_device_pending_clear, which the
 * caller runs once the whole answer was accepted.  *plain: pa_secure_free.
 * No pending request of kind k: PA_ERR_INVALID_REQUEST. */
pa_err pa_device_open_response(pa_device *d, pa_device_pending_kind k,
                               const uint8_t *ct, size_t n,
                               const uint8_t *mac, size_t mac_len,
                               uint8_t **plain, size_t *plain_len);

/* Forgets the request in flight and wipes its context. */
void pa_device_pending_clear(pa_device *d);

/* Same as pa_device_open_response followed by pa_device_parse_json. */
pa_err pa_device_open_json(pa_device *d, pa_device_pending_kind k,
                           const uint8_t *ct, size_t n, const uint8_t *mac,
                           size_t mac_len, json_t **doc);

/* Encrypts plain for a request of kind k and makes it the pending one. */
pa_err pa_device_seal(pa_device *d, pa_device_pending_kind k,
                      int activation_scope, const char *sh1,
                      const uint8_t *plain, size_t n, int compressed,
                      pa_ecies_cryptogram *out);

/* Parses a decrypted payload as a JSON object (wrong: INVALID_INPUT_FORMAT). */
pa_err pa_device_parse_json(const uint8_t *plain, size_t n, json_t **out);

/* Stores (or replaces) a token from {"tokenId","tokenSecret",...}. */
pa_err pa_device_store_token(pa_device *d, json_t *doc,
                             const pa_device_token **tok);

/* Opens the answer to the pending token request of kind `pending` (v3 or
 * protocol-2 envelope) and stores the token it carries. */
pa_err pa_device_read_token(pa_device *d, pa_device_pending_kind pending,
                            const uint8_t *ct, size_t n, const uint8_t *mac,
                            size_t mac_len, const pa_device_token **tok);

/* Drops the activation, tokens, recovery data and pending requests and
 * installs a new device key pair (NULL: none). */
void pa_device_reset_activation(pa_device *d, pa_eckey *new_key);

/* strdup that reports failure as a pa_err. */
pa_err pa_device_strdup(const char *s, char **out);

/* Frees a heap string after wiping it (NULL is fine). */
void pa_device_free_secret(char *s);

#endif
