/*
 * activation_internal.h - what the activation service files share:
 * transaction endings, key material of an activation, the OTP check.
 * Not an interface for other modules (they use activation.h).
 */
#ifndef PA_SERVICE_ACTIVATION_INTERNAL_H
#define PA_SERVICE_ACTIVATION_INTERNAL_H

#include "crypto/eckey.h"
#include "crypto/keys.h"
#include "service/activation.h"

/* Logs a store failure (the store's own text: tables and constraints, never
 * values) and returns e unchanged. */
pa_err pa_act_store_failed(const char *op, pa_err e);

/* The part of an operation that reads and writes the activation: runs as
 * one unit of group commit (store.h pa_store_write), so it sees and
 * changes the rows atomically and returns once its writes are durable.
 * env->store inside fn is the batch's connection.  fn sets *keep for a
 * fault whose writes must stay (DATABASE.md 5.5) and adds the outbox rows
 * it wrote to *queued; the delivery thread is woken after the commit. */
typedef pa_err (*pa_act_tx_fn)(const pa_act_env *env, void *arg, int *keep,
                               int *queued);
pa_err pa_act_write(const pa_act_env *env, const char *op, pa_act_tx_fn fn,
                    void *arg);

/* Reads the activation; PA_ERR_ACTIVATION_NOT_FOUND when there is none
 * (out zeroed). */
pa_err pa_act_load(pa_store *s, const char *op, const char *activation_id,
                   pa_store_activation *out);

/* KEY_SERVER_PRIVATE of the activation (record decryption, CRYPTO.md 16). */
pa_err pa_act_server_private(const pa_act_env *env,
                             const pa_store_activation *a, pa_eckey **out);

/* The derived keys of an activation with a device key (KEY_SERVER_PRIVATE
 * x KEY_DEVICE_PUBLIC).  Wipe with pa_keys_wipe. */
pa_err pa_act_derived_keys(const pa_act_env *env, const pa_store_activation *a,
                           pa_derived_keys *out);
/* Same with KEY_DEVICE_PUBLIC already parsed. */
pa_err pa_act_derived_keys_with(const pa_act_env *env,
                                const pa_store_activation *a,
                                const pa_eckey *device, pa_derived_keys *out);

/* The application's latest master key pair, its private key parsed:
 * none -> ERR0003, unparsable -> ERR0004.  *id receives the pair's id. */
pa_err pa_act_master_private(pa_store *s, const char *op,
                             int64_t application_id, pa_eckey **priv,
                             int64_t *id);

/* Argon2 verification of an activation OTP against a stored hash, done
 * before the write transaction because it costs ~100 ms of CPU: *match is
 * 1 or 0, and a stored hash that cannot be parsed counts as a mismatch. */
void pa_act_otp_verify(const char *otp, const char *stored_hash, int *match);

/* CHECK_OTP(stage, otp) of CRYPTO.md 6.5 on a row locked by the caller's
 * write transaction.  match is the result of pa_act_otp_verify against
 * verified_hash, which must equal the row's current hash for it to count
 * (else the OTP is verified again here).  On a mismatch the failed
 * attempts are counted and saved with history (REMOVED at the limit) and
 * PA_ERR_INVALID_ACTIVATION_OTP is returned with *keep = 1, so the caller
 * commits before faulting. */
pa_err pa_act_check_otp(pa_store *s, pa_store_activation *a, int stage,
                        const char *otp, const char *verified_hash,
                        int match, const char *external_user_id,
                        int64_t now_ms, int *keep, int *queued);

/* InitActivation inside the caller's write transaction (6.2 steps 4-7):
 * used by InitActivation and CreateActivation.  otp_hash is the Argon2 hash
 * already computed (or NULL).  Fills *a (the inserted row) and the code's
 * signature. */
pa_err pa_act_init_tx(const pa_act_env *env, const pa_act_init_req *req,
                      const char *otp_hash, pa_eckey *server_key,
                      pa_store_activation *a, char **signature_b64,
                      int *queued);

/* Validates the InitActivation inputs (6.2 steps 1-3). */
pa_err pa_act_init_check(const pa_act_init_req *req);

/* The Argon2 hash of an OTP (*otp_hash malloc'ed; NULL for an absent or
 * empty OTP).  ~100 ms of CPU: callers run every cheaper check first. */
pa_err pa_act_otp_hash(const char *otp, char **otp_hash);

/* The application version of a request's applicationKey: missing or not
 * supported gives `missing` (ERR0007 in Prepare, ERR0015 in Create).
 * *v: pa_store_version_free (also after a failure). */
pa_err pa_act_app_version(pa_store *s, const char *op, const char *key,
                          pa_err missing, pa_store_version *v);

/* The key exchange's columns of the row (6.3 step 10, 14.1 step 8): takes
 * device_key, platform and ctr_data (malloc'ed, may be NULL except
 * device_key; ownership passes to *a even on failure), copies the other
 * strings, sets version and status.  PA_ERR_UNKNOWN_ERROR when out of
 * memory. */
pa_err pa_act_keyx_fields(pa_store_activation *a, char *device_key,
                          const char *name, const char *extras,
                          char *platform, const char *device_info,
                          char *ctr_data, int version, int status);

/* ---- ECIES on the SOAP wire (CRYPTO.md 5.4, 5.5, 5.11) ------------------- */

#include "crypto/ecies.h"

/* Decodes the Base64 fields of a request cryptogram (undecodable:
 * PA_ERR_INVALID_REQUEST) and decrypts it (any failure:
 * PA_ERR_DECRYPTION_FAILED).  *plain: free with pa_secure_free(p, n);
 * ctx is ready for pa_act_ecies_seal. */
pa_err pa_act_ecies_open(const pa_eckey *priv, const char *sh1,
                         const uint8_t *sh2, size_t sh2_len,
                         const pa_act_cryptogram *c, pa_ecies_ctx *ctx,
                         uint8_t **plain, size_t *n);

/* Opens a request cryptogram of the activation scope (CRYPTO.md 5.7): SH2 =
 * HMAC(KEY_TRANSPORT, app_secret), KEY_SERVER_PRIVATE as the ECIES key.
 * Fails with the first failure of pa_act_server_private,
 * pa_act_derived_keys, pa_ecies_sh2_activation or pa_act_ecies_open.
 * keys: NULL, or receives the derived keys for a caller that needs them too
 * (wipe with pa_keys_wipe, also after a failure); they are then derived
 * before KEY_SERVER_PRIVATE is read, else after (which of two broken keys
 * is reported stays as each caller had it).  *plain as pa_act_ecies_open. */
pa_err pa_act_ecies_open_activation(const pa_act_env *env,
                                    const pa_store_activation *a,
                                    const char *app_secret, const char *sh1,
                                    const pa_act_cryptogram *c,
                                    pa_ecies_ctx *ctx, uint8_t **plain,
                                    size_t *n, pa_derived_keys *keys);

/* Encrypts a response with the request's context: Base64 encryptedData and
 * mac, malloc'ed (PA_ERR_ENCRYPTION_FAILED on failure). */
pa_err pa_act_ecies_seal(const pa_ecies_ctx *ctx, const char *plain,
                         char **data_b64, char **mac_b64);

#endif
