/*
 * ecies_decryptor.h - GetEciesDecryptor (CRYPTO.md 5.9, 5.2, 5.7, 16):
 * the envelope key of one ECIES request, for an intermediate server that
 * decrypts and answers the request itself without ever holding a private
 * key.
 *
 * Application scope (no activation id): the application's latest master
 * private key, SH1 "/pa/generic/application", SH2 = SHA256(secret).
 * Activation scope: the ACTIVE activation's KEY_SERVER_PRIVATE (record-
 * decrypted), SH1 "/pa/generic/activation", SH2 = HMAC(KEY_TRANSPORT,
 * secret), the application version checked to belong to the activation's
 * application.  "secret" is the applicationSecret text of the version the
 * applicationKey names.
 *
 * Reads only: no transaction, nothing written.  Request strings are
 * borrowed for the call.
 */
#ifndef PA_SERVICE_ECIES_DECRYPTOR_H
#define PA_SERVICE_ECIES_DECRYPTOR_H

#include "crypto/ecies.h"
#include "service/activation.h"

typedef struct pa_ecies_decryptor_res {
    char *secret_key;     /* B64(ENV), all 48 bytes; malloc'ed, wiped by _free */
    char *shared_info2;   /* B64(SH2), 32 bytes; malloc'ed */
} pa_ecies_decryptor_res;

/* activation_id NULL selects the application scope.  application_key and
 * ephemeral_public_key required (PA_ERR_INVALID_REQUEST).  Faults, in the
 * order checked:
 *   activation scope: unknown activation ERR0009, not ACTIVE ERR0008;
 *   version missing, not supported or (activation scope) of another
 *     application: ERR0015;
 *   application scope: no master key pair ERR0003, unusable ERR0004;
 *   activation scope: record decryption faults (CRYPTO.md 16.2);
 *   ephemeral key not Base64: ERR0024; not a point: ERR0018. */
pa_err pa_ecies_decryptor_get(const pa_act_env *env,
                              const char *application_key,
                              const char *activation_id,
                              const char *ephemeral_public_key,
                              pa_ecies_decryptor_res *res);

/* Wipes and frees the strings, clears the struct (NULL is fine). */
void pa_ecies_decryptor_res_free(pa_ecies_decryptor_res *r);

#endif
