/*
 * upgrade.h - upgrade of an activation from protocol 2 to protocol 3
 * (CRYPTO.md 13; DATABASE.md 5.1, 5.5, 5.6): StartUpgrade, CommitUpgrade.
 *
 * StartUpgrade opens the device's request (ECIES activation scope,
 * "/pa/upgrade") and answers {"ctrData":"<Base64 of 16 bytes>"} encrypted
 * with the request's context.  ctr_data is drawn once: a repeated (or
 * concurrent) StartUpgrade answers the value already stored.  The commit
 * signature itself is checked by VerifySignature with
 * forcedSignatureVersion 3 (signature.h, CRYPTO.md 8.8); CommitUpgrade
 * then only switches the row to version 3.
 *
 * Neither operation writes a history row or queues a callback
 * (DATABASE.md 5.1); failed attempts, counters and timestamps are left
 * alone (5.6).  Every read-modify-write runs in one unit of group commit
 * that re-reads the activation, so calls for one activation serialise.
 *
 * Request strings are borrowed for the call; result strings are malloc'ed
 * and released by pa_upgrade_start_res_free.
 */
#ifndef PA_SERVICE_UPGRADE_H
#define PA_SERVICE_UPGRADE_H

#include "service/activation.h"
#include "util/err.h"

/* ---- StartUpgrade (13.1) ---------------------------------------------------- */

typedef struct pa_upgrade_start_req {
    const char *activation_id;
    const char *application_key;
    pa_act_cryptogram c;         /* nonce optional (ECIES 3.0 / 3.1) */
} pa_upgrade_start_req;

typedef struct pa_upgrade_start_res {
    char *encrypted_data;        /* Base64 */
    char *mac;                   /* Base64 */
} pa_upgrade_start_res;

/* Faults, in the order they are checked: a missing element ERR0024;
 * unknown activation ERR0009; not ACTIVE, or version other than 2,
 * ERR0008; unknown or unsupported applicationKey, or one of another
 * application than the activation's, ERR0015; undecodable Base64 in the
 * cryptogram ERR0024; decryption failure ERR0018; empty plaintext ERR0011;
 * the answer not encrypted ERR0017.  Only a PA_OK answer writes (ctr_data,
 * when the row had none). */
pa_err pa_upgrade_start(const pa_act_env *env, const pa_upgrade_start_req *req,
                        pa_upgrade_start_res *res);
void pa_upgrade_start_res_free(pa_upgrade_start_res *r);

/* ---- CommitUpgrade (13.2) ----------------------------------------------------- */

/* Sets version 3 (PA_OK means committed = true).  Faults: a missing
 * argument ERR0024; unknown activation ERR0009; not ACTIVE, version other
 * than 2 or no ctr_data ERR0008; unknown or unsupported applicationKey, or
 * one of another application, ERR0015.  Nothing is written on a fault. */
pa_err pa_upgrade_commit(const pa_act_env *env, const char *activation_id,
                         const char *application_key);

#endif
