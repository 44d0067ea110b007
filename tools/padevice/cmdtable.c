/*
 * cmdtable.c - every padevice command with its options and its help text.
 *
 * The help texts are the reference documentation of the tool: what each
 * step sends, what it prints (SOAP field names) and which choices it makes
 * where CRYPTO.md leaves the client behaviour open.
 */
#include <stddef.h>

#include "tools/padevice/cli.h"

#define END {NULL, 0, 0, NULL}
#define EPH_OPTS                                                           \
    {"compressed", 0, 0,                                                   \
     "send the ephemeral key compressed, 33 bytes (default, mobile SDK)"}, \
    {"uncompressed", 0, 0,                                                 \
     "send the ephemeral key uncompressed, 65 bytes (Java client)"}
#define RESPONSE_OPTS                                                  \
    {"encrypted-data", 1, 1, "encryptedData of the answer (Base64)"}, \
    {"mac", 1, 1, "mac of the answer (Base64)"}
#define LAYER2_OPTS                                                         \
    {"otp", 1, 0, "activationOtp property (additional activation OTP)"},   \
    {"name", 1, 0, "activationName property"},                              \
    {"platform", 1, 0, "platform property (ios, android, ...)"},            \
    {"device-info", 1, 0, "deviceInfo property"},                           \
    {"extras", 1, 0, "extras property"},                                    \
    {"compressed-device-key", 0, 0,                                         \
     "send devicePublicKey compressed (33 bytes) instead of 65 bytes"},    \
    EPH_OPTS

static const cli_opt o_init[] = {
    {"application-key", 1, 1, "applicationKey (Base64)"},
    {"application-secret", 1, 1, "applicationSecret (Base64)"},
    {"master-public-key", 1, 1, "masterPublicKey of the application (Base64)"},
    {"protocol", 1, 0, "SDK protocol: 3.1 (default), 3.0 or 2.1"},
    {"force", 0, 0, "replace an existing state file"},
    END};
static const cli_opt o_set_protocol[] = {
    {"protocol", 1, 1, "3.1, 3.0 or 2.1"}, END};
static const cli_opt o_prepare[] = {
    {"activation-code", 1, 1, "activation code (passed through to the output)"},
    LAYER2_OPTS, END};
static const cli_opt o_create[] = {LAYER2_OPTS, END};
static const cli_opt o_response[] = {RESPONSE_OPTS, END};
static const cli_opt o_verify_code[] = {
    {"activation-code", 1, 1, "activation code, with dashes"},
    {"activation-signature", 1, 1, "activationSignature (Base64 DER)"},
    END};
static const cli_opt o_sign[] = {
    {"method", 1, 1, "HTTP method (POST, GET, ...)"},
    {"uri-id", 1, 1, "URI identifier, e.g. /pa/signature/validate"},
    {"body", 1, 0, "request body text"},
    {"body-file", 1, 0, "file with the exact request body bytes"},
    {"query", 1, 0, "raw query string (GET/DELETE), canonicalized"},
    {"signature-type", 1, 1, "e.g. possession_knowledge or POSSESSION_KNOWLEDGE"},
    {"nonce", 1, 0, "16-byte nonce in Base64 (default: random)"},
    {"no-advance", 0, 0, "do not move the local counter on"},
    END};
static const cli_opt o_offline[] = {
    {"offline-data", 1, 1, "offlineData of the payload (with its LFs)"},
    {"uri-id", 1, 1, "URI identifier agreed for the operation"},
    {"body", 1, 1, "body agreed for the operation"},
    {"biometry", 0, 0, "sign possession_biometry instead of possession_knowledge"},
    END};
static const cli_opt o_none[] = {END};
static const cli_opt o_status[] = {
    {"encrypted-status-blob", 1, 1, "encryptedStatusBlob (Base64, 32 bytes)"},
    {"encrypted-status-blob-nonce", 1, 0,
     "encryptedStatusBlobNonce (absent: zero-IV blob without challenge)"},
    {"challenge", 1, 0, "challenge sent (default: the one status-challenge kept)"},
    {"resync", 0, 0, "adopt the server's ctrData when it is ahead"},
    END};
static const cli_opt o_eph[] = {EPH_OPTS, END};
static const cli_opt o_token_digest[] = {
    {"token-id", 1, 1, "tokenId of a stored token"},
    {"timestamp", 1, 0, "milliseconds since the epoch (default: now)"},
    {"nonce", 1, 0, "16-byte nonce in Base64 (default: random)"},
    END};
static const cli_opt o_vault[] = {
    {"reason", 1, 0, "reason, e.g. FETCH_ENCRYPTION_KEY (default: none)"},
    {"signature-type", 1, 1, "possession_knowledge or possession_biometry"},
    EPH_OPTS, END};
static const cli_opt o_v2_vault[] = {
    {"encrypted-vault-encryption-key", 1, 1,
     "encryptedVaultEncryptionKey of the v2 VaultUnlock answer"},
    {"counter", 1, 0, "counter the key is bound to (default: local counter)"},
    END};
static const cli_opt o_recovery[] = {
    {"recovery-code", 1, 0, "code to confirm (default: the one received)"},
    EPH_OPTS, END};
static const cli_opt o_ecies[] = {
    {"scope", 1, 1, "application or activation"},
    {"shared-info1", 1, 1, "sharedInfo1, e.g. /pa/generic/application"},
    {"data", 1, 0, "plaintext"},
    {"data-file", 1, 0, "file with the plaintext bytes"},
    EPH_OPTS, END};
static const cli_opt o_v2_prepare[] = {
    {"activation-code", 1, 0, "23-character code (split into short id + OTP)"},
    {"activation-id-short", 1, 0, "activationIdShort (XXXXX-XXXXX)"},
    {"activation-otp", 1, 0, "activationOtp (XXXXX-XXXXX)"},
    {"name", 1, 0, "activationName (default: padevice)"},
    {"extras", 1, 0, "extras"},
    END};
static const cli_opt o_v2_create[] = {
    {"identity", 1, 1, "identity (salt and first part of the signed text)"},
    {"activation-otp", 1, 1, "activationOtp"},
    {"name", 1, 0, "activationName (default: padevice)"},
    {"extras", 1, 0, "extras"},
    END};
static const cli_opt o_v2_response[] = {
    {"activation-id", 1, 1, "activationId"},
    {"activation-nonce", 1, 1, "activationNonce of the answer"},
    {"ephemeral-public-key", 1, 1, "ephemeralPublicKey of the answer"},
    {"encrypted-server-public-key", 1, 1, "encryptedServerPublicKey"},
    {"encrypted-server-public-key-signature", 1, 1,
     "encryptedServerPublicKeySignature"},
    END};

#define W CLI_WRITES

const cli_cmd cli_commands[] = {
    {"init", "create the state of a new, not activated device",
     "The protocol is the SDK's: it sets the signatureVersion sent (3.1:\n"
     "BASE64 signatures; 3.0, 2.1: DECIMAL) and whether ECIES requests\n"
     "carry a nonce (3.1 only).  Prints {protocol, applicationKey}.  The\n"
     "application secret and the later device private key are kept in the\n"
     "state file (mode 0600).",
     o_init, cmd_init, CLI_CREATES},
    {"set-protocol", "switch the SDK protocol (an app update)",
     "Changes the ECIES mode and signatureVersion of later steps; the\n"
     "activation and its counter are kept.  Prints {protocol}.",
     o_set_protocol, cmd_set_protocol, W},
    {"prepare-activation", "key exchange with an activation code (layer 2)",
     "New device key pair (any earlier activation is dropped); layer-2 JSON\n"
     "{devicePublicKey, activationOtp, activationName, extras, platform,\n"
     "deviceInfo} (absent options omitted), ECIES application scope with\n"
     "sharedInfo1 /pa/activation and sharedInfo2 = SHA256(secret text).\n"
     "Prints {activationCode, applicationKey, ephemeralPublicKey,\n"
     "encryptedData, mac, nonce} for PrepareActivation (nonce: 3.1 only).\n"
     "The code is not part of the cryptography and is passed through as\n"
     "given, so tests can also send unknown codes.",
     o_prepare, cmd_prepare_activation, W},
    {"create-activation", "layer-2 request for CreateActivation / recovery",
     "The same layer-2 request as prepare-activation, for the custom\n"
     "CreateActivation and RecoveryCodeActivation calls.  Prints\n"
     "{applicationKey, ephemeralPublicKey, encryptedData, mac, nonce}.",
     o_create, cmd_create_activation, W},
    {"activation-response", "read the layer-2 answer of the key exchange",
     "Decrypts {activationId, serverPublicKey, ctrData, activationRecovery}\n"
     "and stores it: activation version 3, counter 0.  Prints\n"
     "{activationId, serverPublicKey, ctrData, activationRecovery (object\n"
     "or null), devicePublicKeyFingerprint}.",
     o_response, cmd_activation_response, W},
    {"verify-activation-signature", "check an activationSignature",
     "ECDSA check of the code text (dashes included) with the master public\n"
     "key.  Prints {valid}; a malformed signature is not valid.",
     o_verify_code, cmd_verify_activation_signature, 0},
    {"sign", "online PowerAuth signature of a request",
     "dataString = METHOD & B64(uriId) & B64(nonce) & B64(body), where the\n"
     "body is --body, --body-file or the canonical --query (none: empty).\n"
     "Signed bytes: dataString & applicationSecret.  Counter: ctrData hash\n"
     "chain (activation version 3) or the numeric counter (version 2);\n"
     "format by the SDK protocol: 3.1 BASE64, 3.0 and 2.1 DECIMAL (so a 3.1\n"
     "SDK on a protocol-2 activation signs BASE64 with the numeric\n"
     "counter, CRYPTO.md 8.5).  The local counter moves\n"
     "on unless --no-advance.  Prints {signature, signatureType (SOAP\n"
     "name), signatureVersion, data (the dataString for VerifySignature),\n"
     "nonce (the pa_nonce value)}.",
     o_sign, cmd_sign, W},
    {"offline-sign", "offline signature of a server payload (QR code)",
     "Checks the payload's ECDSA signature with the master public key\n"
     "(indicator 0) or the server public key (indicator 1), then signs\n"
     "POST & B64(uriId) & nonce & B64(body) & \"offline\" with the current\n"
     "counter, DECIMAL, possession_knowledge (or possession_biometry), and\n"
     "moves the counter on.  Prints {payloadValid, signature, signatureType,\n"
     "data (dataString without &offline, for VerifyOfflineSignature),\n"
     "nonce}.  A payload that does not verify prints {payloadValid:false},\n"
     "signs nothing and exits with status 3.",
     o_offline, cmd_offline_sign, W},
    {"status-challenge", "new challenge for GetActivationStatus",
     "16 random bytes, remembered for status-decrypt.  Prints {challenge}.",
     o_none, cmd_status_challenge, W},
    {"status-decrypt", "decrypt an encryptedStatusBlob",
     "Decrypts with KEY_TRANSPORT; with a nonce the IV comes from the\n"
     "challenge and the nonce, without one it is zero.  Prints\n"
     "{activationStatus, currentVersion, upgradeVersion, failedAttempts,\n"
     "maxFailedAttempts, ctrLookAhead, ctrByte, ctrDataHashMatches,\n"
     "ctrDataDistance}: the hash is looked for at the local ctrData and up\n"
     "to ctrLookAhead steps ahead, the distance being the number of steps;\n"
     "both are null when not checkable (no challenge, no ctrData).",
     o_status, cmd_status_decrypt, W},
    {"token-request", "ECIES request of CreateToken",
     "ECIES activation scope, sharedInfo1 /pa/token/create, plaintext {}.\n"
     "Prints {activationId, applicationKey, ephemeralPublicKey,\n"
     "encryptedData, mac, nonce}.",
     o_eph, cmd_token_request, W},
    {"token-response", "read the CreateToken answer",
     "Stores the token.  Prints {tokenId, tokenSecret}.",
     o_response, cmd_token_response, W},
    {"token-digest", "MAC token digest for ValidateToken",
     "HMAC(tokenSecret, nonce & timestamp).  Prints {tokenId, tokenDigest,\n"
     "nonce, timestamp}.",
     o_token_digest, cmd_token_digest, 0},
    {"vault-request", "ECIES request and signature of VaultUnlock",
     "ECIES activation scope /pa/vault/unlock with {\"reason\":R} ({}\n"
     "without --reason), then a signature of POST /pa/vault/unlock over the\n"
     "exact body the SDK posts, compact JSON in this order:\n"
     "{\"ephemeralPublicKey\":..,\"encryptedData\":..,\"mac\":..,\"nonce\":..}\n"
     "(no nonce for 3.0).  Prints {activationId, applicationKey,\n"
     "ephemeralPublicKey, encryptedData, mac, nonce, signature,\n"
     "signatureType, signatureVersion, signedData, body, signatureNonce}.",
     o_vault, cmd_vault_request, W},
    {"vault-response", "read the VaultUnlock answer",
     "Decrypts {encryptedVaultEncryptionKey}, decrypts the key with\n"
     "KEY_TRANSPORT and compares it with the device's own vault key.\n"
     "Prints {vaultUnlocked}.",
     o_response, cmd_vault_response, W},
    {"v2-vault-response", "read a protocol-2 encryptedVaultEncryptionKey",
     "Key bound to the counter: by default the local one, which the\n"
     "signature of the unlock request already moved to the server's value.\n"
     "On success the local counter becomes counter + 1, as on the server.\n"
     "Prints {vaultUnlocked}.",
     o_v2_vault, cmd_v2_vault_response, W},
    {"upgrade-request", "ECIES request of StartUpgrade",
     "ECIES activation scope /pa/upgrade with {} (protocol-2 activation).\n"
     "Prints {activationId, applicationKey, ephemeralPublicKey,\n"
     "encryptedData, mac, nonce}.",
     o_eph, cmd_upgrade_request, W},
    {"upgrade-response", "read the StartUpgrade answer",
     "Stores {ctrData} and switches to the hash counter (version 3); sign\n"
     "/pa/upgrade/commit next.  Prints {activationId, version}.",
     o_response, cmd_upgrade_response, W},
    {"recovery-confirm-request", "ECIES request of ConfirmRecoveryCode",
     "ECIES activation scope /pa/recovery/confirm with {\"recoveryCode\":C}.\n"
     "Prints {activationId, applicationKey, ephemeralPublicKey,\n"
     "encryptedData, mac, nonce}.",
     o_recovery, cmd_recovery_confirm_request, W},
    {"recovery-confirm-response", "read the ConfirmRecoveryCode answer",
     "Prints {alreadyConfirmed}.", o_response, cmd_recovery_confirm_response,
     W},
    {"ecies-request", "generic ECIES request (any sharedInfo1)",
     "Application scope: master key, SHA256(secret); activation scope:\n"
     "server key, HMAC(KEY_TRANSPORT, secret).  Prints {activationId\n"
     "(activation scope), applicationKey, ephemeralPublicKey,\n"
     "encryptedData, mac, nonce}.",
     o_ecies, cmd_ecies_request, W},
    {"ecies-response", "read the answer to ecies-request",
     "Prints {plaintext}, or {plaintextBase64} when it is not UTF-8.",
     o_response, cmd_ecies_response, W},
    {"v2-prepare-activation", "protocol-2 key exchange (PrepareActivation v2)",
     "Device key encrypted with KEY_OTP (PBKDF2 of the OTP, salt the short\n"
     "id) and ECDH with the master key, application signature keyed by the\n"
     "decoded secret.  Prints {activationIdShort, activationNonce,\n"
     "encryptedDevicePublicKey, activationName, extras, ephemeralPublicKey,\n"
     "applicationKey, applicationSignature}.",
     o_v2_prepare, cmd_v2_prepare_activation, W},
    {"v2-create-activation", "protocol-2 custom activation (CreateActivation v2)",
     "As v2-prepare-activation with the identity in place of the short id.\n"
     "Prints {identity, activationOtp, activationNonce,\n"
     "encryptedDevicePublicKey, activationName, extras, ephemeralPublicKey,\n"
     "applicationKey, applicationSignature}.",
     o_v2_create, cmd_v2_create_activation, W},
    {"v2-activation-response", "read the protocol-2 key exchange answer",
     "Verifies encryptedServerPublicKeySignature with the master key,\n"
     "decrypts the server public key, stores the activation (version 2,\n"
     "numeric counter 0).  Prints {activationId, devicePublicKeyFingerprint}.",
     o_v2_response, cmd_v2_activation_response, W},
    {"v2-token-request", "protocol-2 CreateToken request",
     "New ephemeral key for the legacy envelope.  Prints {activationId,\n"
     "ephemeralPublicKey}.",
     o_eph, cmd_v2_token_request, W},
    {"v2-token-response", "read the protocol-2 CreateToken answer",
     "Stores the token.  Prints {tokenId, tokenSecret}.", o_response,
     cmd_v2_token_response, W},
    {"fingerprint", "devicePublicKeyFingerprint of the activation",
     "Protocol-3 or protocol-2 formula by the activation version.",
     o_none, cmd_fingerprint, 0},
    {"show", "state summary without secrets",
     "Prints {protocol, applicationKey, masterPublicKey, devicePublicKey,\n"
     "activationId, serverPublicKey, version, counter, hasCtrData,\n"
     "pendingRequest, tokens (ids), hasRecoveryCode,\n"
     "devicePublicKeyFingerprint}.",
     o_none, cmd_show, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};
