/*
 * auth.h - who may call the SOAP endpoint.
 *
 * With restrict_access on, every request must carry a WS-Security
 * UsernameToken naming an integration (clientToken / clientSecret,
 * PasswordText or PasswordDigest).  With it off, a wsse:Security header is
 * accepted and ignored.
 */
#ifndef PA_AUTH_H
#define PA_AUTH_H

#include <stdint.h>

#include "util/err.h"

struct soap;
struct pa_store;
struct pa_replay;

/* The parts of a UsernameToken, as received (text of each element or
 * attribute; NULL when absent). */
typedef struct pa_auth_token {
    const char *username;
    const char *password;
    const char *password_type;   /* Password/@Type; NULL means text */
    const char *nonce;           /* Nonce text */
    const char *nonce_encoding;  /* Nonce/@EncodingType; NULL means Base64 */
    const char *created;         /* wsu:Created text, used verbatim */
} pa_auth_token;

/* How a PasswordDigest must be fresh (what WSS4J, the original's WS-Security
 * library, enforces): Nonce and Created present, Created a valid
 * xs:dateTime at most max_age_ms old and at most future_skew_ms ahead of
 * now_ms, and each (Nonce, Created) pair used once while fresh (replay:
 * a cache shared by all workers; NULL = no replay check).  A NULL policy
 * (unit tests of the digest formula) checks none of it. */
typedef struct pa_auth_policy {
    int64_t now_ms;
    int64_t max_age_ms;
    int64_t future_skew_ms;
    struct pa_replay *replay;
} pa_auth_policy;

/* Checks a UsernameToken against the integrations in the store: Username
 * must be a clientToken and Password its clientSecret, either in clear
 * (Type ...#PasswordText or no Type) or as ...#PasswordDigest =
 * Base64(SHA-1(nonce bytes || created || secret)).  Secrets are compared
 * in constant time; an unknown user is compared against a random secret
 * made at start-up, so no constant value can ever match.  With a policy,
 * a digest must also be fresh and unused (see pa_auth_policy); the replay
 * check comes last, so only a token that proves the secret is remembered.
 * PA_OK when it matches; PA_ERR_INVALID_REQUEST for
 * any mismatch or missing part (which one is deliberately not told);
 * PA_ERR_UNKNOWN_ERROR when the store failed. */
pa_err pa_auth_check_token(struct pa_store *s, const pa_auth_token *t,
                           const pa_auth_policy *p);

/* Called after the SOAP Header is parsed and before the operation runs.
 * More than one Security header or UsernameToken is refused (the guard
 * counts them: gSOAP keeps the first and drops the rest unseen).
 * Always detaches the request header from soap (soap->header = NULL, so no
 * answer can echo it) and wipes the password it carried.  Returns 1 when
 * the request may proceed; 0 when it is refused, with a fault already set
 * on soap (the caller sends it): a Client fault "No WS-Security header
 * found" or "Authentication failed", or a Server fault ERR0000 when the
 * store could not be asked. */
int pa_auth_allow(struct soap *soap);

/* Frees the process-wide nonce cache (at shutdown, for leak checkers). */
void pa_auth_free_caches(void);

#endif
