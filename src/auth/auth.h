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

#include "util/err.h"

struct soap;
struct pa_store;

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

/* Checks a UsernameToken against the integrations in the store: Username
 * must be a clientToken and Password its clientSecret, either in clear
 * (Type ...#PasswordText or no Type) or as ...#PasswordDigest =
 * Base64(SHA-1(nonce bytes || created || secret)).  Secrets are compared
 * in constant time.  PA_OK when it matches; PA_ERR_INVALID_REQUEST for
 * any mismatch or missing part (which one is deliberately not told);
 * PA_ERR_UNKNOWN_ERROR when the store failed. */
pa_err pa_auth_check_token(struct pa_store *s, const pa_auth_token *t);

/* Called after the SOAP Header is parsed and before the operation runs.
 * Always detaches the request header from soap (soap->header = NULL, so no
 * answer can echo it) and wipes the password it carried.  Returns 1 when
 * the request may proceed; 0 when it is refused, with a fault already set
 * on soap (the caller sends it): a Client fault "No WS-Security header
 * found" or "Authentication failed", or a Server fault ERR0000 when the
 * store could not be asked. */
int pa_auth_allow(struct soap *soap);

#endif
