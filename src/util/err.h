/*
 * err.h - the one error type of paserver.
 *
 * Every function that can fail returns pa_err and writes its results through
 * out-parameters.  PA_OK is zero.  The other values are exactly the PowerAuth
 * Server error codes ERR0000..ERR0032 (value = code number + 1), so an error
 * raised deep in the crypto layer or the store travels unchanged up to the
 * single place that turns it into a SOAP fault.
 */
#ifndef PA_ERR_H
#define PA_ERR_H

typedef enum pa_err {
    PA_OK = 0,
    PA_ERR_UNKNOWN_ERROR = 1,                       /* ERR0000 */
    PA_ERR_NO_USER_ID,                              /* ERR0001 */
    PA_ERR_NO_APPLICATION_ID,                       /* ERR0002 */
    PA_ERR_NO_MASTER_SERVER_KEYPAIR,                /* ERR0003 */
    PA_ERR_INCORRECT_MASTER_SERVER_KEYPAIR_PRIVATE, /* ERR0004 */
    PA_ERR_UNABLE_TO_GENERATE_ACTIVATION_ID,        /* ERR0005 */
    PA_ERR_UNABLE_TO_GENERATE_ACTIVATION_CODE,      /* ERR0006 */
    PA_ERR_ACTIVATION_EXPIRED,                      /* ERR0007 */
    PA_ERR_ACTIVATION_INCORRECT_STATE,              /* ERR0008 */
    PA_ERR_ACTIVATION_NOT_FOUND,                    /* ERR0009 */
    PA_ERR_INVALID_KEY_FORMAT,                      /* ERR0010 */
    PA_ERR_INVALID_INPUT_FORMAT,                    /* ERR0011 */
    PA_ERR_INVALID_SIGNATURE,                       /* ERR0012 */
    PA_ERR_UNABLE_TO_COMPUTE_SIGNATURE,             /* ERR0013 */
    PA_ERR_INVALID_URL_FORMAT,                      /* ERR0014 */
    PA_ERR_INVALID_APPLICATION,                     /* ERR0015 */
    PA_ERR_INVALID_TOKEN,                           /* ERR0016 */
    PA_ERR_ENCRYPTION_FAILED,                       /* ERR0017 */
    PA_ERR_DECRYPTION_FAILED,                       /* ERR0018 */
    PA_ERR_UNABLE_TO_GENERATE_TOKEN,                /* ERR0019 */
    PA_ERR_MISSING_MASTER_DB_ENCRYPTION_KEY,        /* ERR0020 */
    PA_ERR_UNSUPPORTED_ENCRYPTION_MODE,             /* ERR0021 */
    PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR,              /* ERR0022 */
    PA_ERR_INVALID_CRYPTO_PROVIDER,                 /* ERR0023 */
    PA_ERR_INVALID_REQUEST,                         /* ERR0024 */
    PA_ERR_RECOVERY_CODE_ALREADY_EXISTS,            /* ERR0025 */
    PA_ERR_UNABLE_TO_GENERATE_RECOVERY_CODE,        /* ERR0026 */
    PA_ERR_RECOVERY_CODE_NOT_FOUND,                 /* ERR0027 */
    PA_ERR_INVALID_RECOVERY_CODE,                   /* ERR0028 */
    PA_ERR_INVALID_RECOVERY_CONFIGURATION,          /* ERR0029 */
    PA_ERR_TOKEN_TIMESTAMP_TOO_OLD,                 /* ERR0030 */
    PA_ERR_INVALID_ACTIVATION_OTP,                  /* ERR0031 */
    PA_ERR_INVALID_ACTIVATION_OTP_MODE,             /* ERR0032 */
    PA_ERR__COUNT
} pa_err;

/* "ERR0000".."ERR0032"; "ERR0000" for PA_OK or an out-of-range value. */
const char *pa_err_code(pa_err e);

/* Symbolic name without prefix, e.g. "DECRYPTION_FAILED" (for logs). */
const char *pa_err_name(pa_err e);

#endif
