/*
 * token.h - MAC tokens, protocol 3 (CRYPTO.md 10; DATABASE.md 5.7, 5.9):
 * CreateToken, ValidateToken, RemoveToken.
 *
 * CreateToken opens the device's request (ECIES activation scope,
 * "/pa/token/create") and answers {"tokenId","tokenSecret","expires":null}
 * encrypted with the request's context; the cryptography runs on the
 * caller's thread, then one unit of group commit (pa_act_write) re-checks
 * the activation, checks the new id is unused and inserts the row.
 *
 * ValidateToken never writes to the database.  On top of the original's
 * rules paserver refuses (tokenValid false, reason logged at INFO) a
 * timestamp too far in the future (cfg->token_max_future_ms > 0) and, with
 * cfg->token_replay_protection, a (tokenId, nonce) pair already accepted
 * while its timestamp window lasts (the process-wide cache of replay.h,
 * fed only with pairs whose digest was valid; a full cache refuses every
 * new pair: fail closed, with a warning at most once a minute).
 *
 * Request strings are borrowed for the call.  Result strings are
 * malloc'ed and released by the matching _free function.  Nothing here
 * logs a token secret, digest or nonce.
 */
#ifndef PA_SERVICE_TOKEN_H
#define PA_SERVICE_TOKEN_H

#include <stdint.h>

#include "service/activation.h"
#include "util/err.h"

/* ---- CreateToken (10.1) ---------------------------------------------------- */

typedef struct pa_token_create_req {
    const char *activation_id;
    const char *application_key;
    pa_act_cryptogram c;
    const char *signature_type;  /* SOAP enum name, e.g. "POSSESSION" */
} pa_token_create_req;

typedef struct pa_token_create_res {
    char *encrypted_data;        /* Base64 */
    char *mac;                   /* Base64 */
} pa_token_create_res;

/* Faults, in the order they are checked: a missing element or an unknown
 * signature type ERR0024; unknown activation ERR0009, not ACTIVE ERR0008;
 * unknown applicationKey, or one of another application than the
 * activation's, ERR0015 (an unsupported version is accepted, as in the
 * original); undecodable Base64 in the cryptogram ERR0024; decryption
 * failure ERR0018; empty plaintext ERR0011; no unused token id within
 * cfg->generate_token_id_iterations attempts ERR0019.  Nothing is written
 * unless the answer is PA_OK. */
pa_err pa_token_create(const pa_act_env *env, const pa_token_create_req *req,
                       pa_token_create_res *res);
void pa_token_create_res_free(pa_token_create_res *r);

#include "crypto/ecies.h"

/* CreateToken steps 4-7 once the envelope is open (also v2 CreateToken,
 * CRYPTO.md 14.6): a new id and secret, the answer encrypted with ctx, the
 * row inserted while the activation is still ACTIVE (ERR0008), retried on
 * an id collision up to generate_token_id_iterations (ERR0019).
 * type_name: the SOAP enum name stored with the token. */
pa_err pa_token_issue(const pa_act_env *env, const char *activation_id,
                      const char *type_name, const pa_ecies_ctx *ctx,
                      pa_token_create_res *res);

/* ---- ValidateToken (10.2, 10.3) ------------------------------------------------ */

typedef struct pa_token_validate_req {
    const char *token_id;
    const char *token_digest;    /* Base64 of the 32-byte digest */
    const char *nonce;           /* Base64 of the nonce (16 bytes) */
    int has_timestamp;
    int64_t timestamp_ms;
} pa_token_validate_req;

/* Why a token was not valid (for tests and the log; not on the wire). */
typedef enum pa_token_refusal {
    PA_TOKEN_ACCEPTED = 0,
    PA_TOKEN_NOT_FOUND,          /* no such token */
    PA_TOKEN_BAD_DIGEST,         /* the digest does not match */
    PA_TOKEN_IN_FUTURE,          /* timestamp beyond token_max_future_ms */
    PA_TOKEN_REPLAY,             /* (tokenId, nonce) already accepted */
    PA_TOKEN_CACHE_FULL          /* replay cache full of live pairs */
} pa_token_refusal;

typedef struct pa_token_validate_res {
    int valid;
    pa_token_refusal why;
    /* Only when valid: */
    char *activation_id;
    char *user_id;
    int64_t application_id;
    char *signature_type;        /* as stored: the SOAP enum name */
} pa_token_validate_res;

/* Faults: a missing element, or a tokenDigest or nonce that is not
 * Base64 (CRYPTO.md 5.11: paserver answers ERR0024 where the original
 * fails without a code), ERR0024; timestamp older than
 * cfg->token_timestamp_validity_ms ERR0030; the token's activation not
 * ACTIVE ERR0008.  Everything else is an answer, valid or not. */
pa_err pa_token_validate(const pa_act_env *env,
                         const pa_token_validate_req *req,
                         pa_token_validate_res *res);
void pa_token_validate_res_free(pa_token_validate_res *r);

/* ---- RemoveToken (10.4) ----------------------------------------------------- */

/* Deletes the token only when it belongs to activation_id; *removed tells
 * whether a row went.  A missing argument is ERR0024. */
pa_err pa_token_remove(const pa_act_env *env, const char *token_id,
                       const char *activation_id, int *removed);

/* ---- process state ------------------------------------------------------------ */

/* Frees the shared replay cache and resets the full-cache warning clock
 * (at shutdown, or between tests; no ValidateToken may be running).  The
 * next ValidateToken with replay protection creates a new, empty cache
 * sized by its configuration. */
void pa_token_shutdown(void);

#endif
