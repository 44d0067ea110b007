/*
 * signature.h - verification of PowerAuth signatures with counters,
 * lock-out and audit (CRYPTO.md 8.6-8.8, 9.3; DATABASE.md 5.2, 5.6):
 * VerifySignature, VerifyOfflineSignature, the signature step of
 * VaultUnlock, and SignatureAudit.
 *
 * A verification reads and advances the counter in one unit of group
 * commit (store.h pa_store_write), so two requests can never both be
 * accepted at one counter position, concurrent verifications of one
 * activation never deadlock, and "valid" is answered only once the new
 * counter is on disk.  The cryptography (derived keys, the lookahead
 * search) runs before, on the caller's thread, against the counter read
 * then; the unit only re-checks that the counter did not move meanwhile
 * (and searches again if it did).
 */
#ifndef PA_SERVICE_SIGNATURE_H
#define PA_SERVICE_SIGNATURE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/signature.h"
#include "service/activation.h"
#include "store/store.h"

typedef struct pa_sig_req {
    const char *activation_id;
    /* Online (VerifySignature, VaultUnlock): the application key whose
     * secret ends the signed data, and the signatureVersion text.
     * Offline: both NULL. */
    const char *application_key;
    const char *signature_version;
    const char *data;             /* the normalized dataString */
    const char *signature;
    pa_sig_type types[2];         /* tried in this order at each position */
    size_t ntypes;
    int forced_version;           /* 3: upgrade commit (8.8); else 0 */
    int allow_biometry;           /* offline: BIOMETRY_ALLOWED in the audit */
    const char *vault_reason;     /* VaultUnlock: VAULT_UNLOCKED_REASON */
    int v2_vault_bump;            /* v2 VaultUnlock (CRYPTO.md 14.4): after
                                     the signature step, when the row is
                                     ACTIVE, counter += 1 in the same unit
                                     (no history row) */
} pa_sig_req;

typedef struct pa_sig_res {
    int found;                    /* 0: unknown activation (REMOVED, nothing
                                     written) */
    int valid;
    int status;                   /* PA_STATUS_* after the attempt */
    int details;                  /* the ACTIVE path ran: the fields below
                                     are part of the answer */
    char *blocked_reason;         /* invalid + BLOCKED; malloc'ed */
    char *user_id;                /* malloc'ed */
    int64_t application_id;
    pa_sig_type type;             /* matched, or the requested one */
    int64_t remaining_attempts;
    /* v2_vault_bump only: */
    int bumped;                   /* the row was ACTIVE and was bumped */
    int64_t vault_counter;        /* the counter after the signature step,
                                     before the bump (the vault key's c) */
} pa_sig_res;

/* VERIFY with every state change of 8.7 (online) or 9.3 (offline).
 * Faults: ERR0013 for an unknown signatureVersion, ERR0008 for an ACTIVE
 * activation whose version is neither 2 nor 3; anything else is an answer
 * (valid or not), with the audit row written. */
pa_err pa_signature_verify(const pa_act_env *env, const pa_sig_req *req,
                           pa_sig_res *res);
void pa_sig_res_free(pa_sig_res *r);

/* SignatureAudit: the audit rows of a user's activations (DATABASE.md
 * 5.11). */
pa_err pa_signature_audit(const pa_act_env *env, const char *user_id,
                          int has_application_id, int64_t application_id,
                          int64_t from_ms, int64_t to_ms,
                          pa_store_audit_array *out);

/* additional_info (DATABASE.md 3) -> key/value pairs: *n pairs in two
 * malloc'ed arrays of malloc'ed strings (free with
 * pa_signature_info_free).  NULL, empty or unparsable text gives none. */
void pa_signature_info_parse(const char *json, char ***keys, char ***values,
                             size_t *n);
void pa_signature_info_free(char **keys, char **values, size_t n);

#endif
