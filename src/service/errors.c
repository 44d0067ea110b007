/*
 * errors.c - English and Czech error catalogues.
 *
 * The English texts are those of the original server (contract/
 * error-codes.tsv, column message_en), except ERR0031 and ERR0032, for which
 * the original has no catalogue entry and sends the literal key; paserver
 * sends the documented title instead (CONTRACT.md, last paragraph).  A unit
 * test compares this table with error-codes.tsv.
 */
#include <ctype.h>
#include <string.h>

#include "service/errors.h"

static const char *const en[PA_ERR__COUNT] = {
    [PA_OK] = "Unknown error occurred.",
    [PA_ERR_UNKNOWN_ERROR] = "Unknown error occurred.",
    [PA_ERR_NO_USER_ID] = "No user ID was set.",
    [PA_ERR_NO_APPLICATION_ID] = "No application ID was set.",
    [PA_ERR_NO_MASTER_SERVER_KEYPAIR] = "No master server key pair configured in database.",
    [PA_ERR_INCORRECT_MASTER_SERVER_KEYPAIR_PRIVATE] = "Master server key pair contains private key in incorrect format.",
    [PA_ERR_UNABLE_TO_GENERATE_ACTIVATION_ID] = "Too many failed attempts to generate activation ID.",
    [PA_ERR_UNABLE_TO_GENERATE_ACTIVATION_CODE] = "Too many failed attempts to generate activation code.",
    [PA_ERR_ACTIVATION_EXPIRED] = "This activation is already expired.",
    [PA_ERR_ACTIVATION_INCORRECT_STATE] = "Incorrect activation state.",
    [PA_ERR_ACTIVATION_NOT_FOUND] = "Activation with given activation ID was not found.",
    [PA_ERR_INVALID_KEY_FORMAT] = "Key with invalid format was provided.",
    [PA_ERR_INVALID_INPUT_FORMAT] = "Invalid input parameter format.",
    [PA_ERR_INVALID_SIGNATURE] = "Invalid Signature Provided.",
    [PA_ERR_UNABLE_TO_COMPUTE_SIGNATURE] = "Unable to compute signature.",
    [PA_ERR_INVALID_URL_FORMAT] = "Invalid URL format.",
    [PA_ERR_INVALID_APPLICATION] = "Application or application version does not exist.",
    [PA_ERR_INVALID_TOKEN] = "Token with given token ID does not exist.",
    [PA_ERR_ENCRYPTION_FAILED] = "Data encryption failed.",
    [PA_ERR_DECRYPTION_FAILED] = "Data decryption failed.",
    [PA_ERR_UNABLE_TO_GENERATE_TOKEN] = "Token was not successfully generated.",
    [PA_ERR_MISSING_MASTER_DB_ENCRYPTION_KEY] = "Master DB encryption key is not configured.",
    [PA_ERR_UNSUPPORTED_ENCRYPTION_MODE] = "Unsupported encryption mode.",
    [PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR] = "Generic cryptography error occurred.",
    [PA_ERR_INVALID_CRYPTO_PROVIDER] = "Cryptography provider is initialized incorrectly.",
    [PA_ERR_INVALID_REQUEST] = "Invalid request received.",
    [PA_ERR_RECOVERY_CODE_ALREADY_EXISTS] = "Recovery code already exists.",
    [PA_ERR_UNABLE_TO_GENERATE_RECOVERY_CODE] = "Too many failed attempts to generate recovery code.",
    [PA_ERR_RECOVERY_CODE_NOT_FOUND] = "Recovery code was not found.",
    [PA_ERR_INVALID_RECOVERY_CODE] = "Invalid recovery code.",
    [PA_ERR_INVALID_RECOVERY_CONFIGURATION] = "Recovery code configuration is missing or incomplete.",
    [PA_ERR_TOKEN_TIMESTAMP_TOO_OLD] = "Token timestamp is too old.",
    [PA_ERR_INVALID_ACTIVATION_OTP] = "Activation OTP doesn't match value stored in database, or the OTP value is provided for the wrong validation step.",
    [PA_ERR_INVALID_ACTIVATION_OTP_MODE] = "Activation OTP operation is performed for the wrong validation mode.",
};

static const char *const cs[PA_ERR__COUNT] = {
    [PA_OK] = "Došlo k neznámé chybě.",
    [PA_ERR_UNKNOWN_ERROR] = "Došlo k neznámé chybě.",
    [PA_ERR_NO_USER_ID] = "Nebylo zadáno ID uživatele.",
    [PA_ERR_NO_APPLICATION_ID] = "Nebylo zadáno ID aplikace.",
    [PA_ERR_NO_MASTER_SERVER_KEYPAIR] = "V databázi není nastaven hlavní serverový pár klíčů.",
    [PA_ERR_INCORRECT_MASTER_SERVER_KEYPAIR_PRIVATE] = "Hlavní serverový pár klíčů obsahuje privátní klíč v chybném formátu.",
    [PA_ERR_UNABLE_TO_GENERATE_ACTIVATION_ID] = "Příliš mnoho neúspěšných pokusů o vytvoření ID aktivace.",
    [PA_ERR_UNABLE_TO_GENERATE_ACTIVATION_CODE] = "Příliš mnoho neúspěšných pokusů o vytvoření aktivačního kódu.",
    [PA_ERR_ACTIVATION_EXPIRED] = "Platnost této aktivace již vypršela.",
    [PA_ERR_ACTIVATION_INCORRECT_STATE] = "Aktivace je v nesprávném stavu.",
    [PA_ERR_ACTIVATION_NOT_FOUND] = "Aktivace se zadaným ID nebyla nalezena.",
    [PA_ERR_INVALID_KEY_FORMAT] = "Byl zadán klíč v chybném formátu.",
    [PA_ERR_INVALID_INPUT_FORMAT] = "Vstupní parametr má chybný formát.",
    [PA_ERR_INVALID_SIGNATURE] = "Byl zadán neplatný podpis.",
    [PA_ERR_UNABLE_TO_COMPUTE_SIGNATURE] = "Podpis nelze vypočítat.",
    [PA_ERR_INVALID_URL_FORMAT] = "Adresa URL má chybný formát.",
    [PA_ERR_INVALID_APPLICATION] = "Aplikace nebo verze aplikace neexistuje.",
    [PA_ERR_INVALID_TOKEN] = "Token se zadaným ID neexistuje.",
    [PA_ERR_ENCRYPTION_FAILED] = "Šifrování dat selhalo.",
    [PA_ERR_DECRYPTION_FAILED] = "Dešifrování dat selhalo.",
    [PA_ERR_UNABLE_TO_GENERATE_TOKEN] = "Token se nepodařilo vytvořit.",
    [PA_ERR_MISSING_MASTER_DB_ENCRYPTION_KEY] = "Hlavní klíč pro šifrování databáze není nastaven.",
    [PA_ERR_UNSUPPORTED_ENCRYPTION_MODE] = "Nepodporovaný režim šifrování.",
    [PA_ERR_GENERIC_CRYPTOGRAPHY_ERROR] = "Došlo k obecné kryptografické chybě.",
    [PA_ERR_INVALID_CRYPTO_PROVIDER] = "Poskytovatel kryptografie není správně inicializován.",
    [PA_ERR_INVALID_REQUEST] = "Byl přijat neplatný požadavek.",
    [PA_ERR_RECOVERY_CODE_ALREADY_EXISTS] = "Obnovovací kód již existuje.",
    [PA_ERR_UNABLE_TO_GENERATE_RECOVERY_CODE] = "Příliš mnoho neúspěšných pokusů o vytvoření obnovovacího kódu.",
    [PA_ERR_RECOVERY_CODE_NOT_FOUND] = "Obnovovací kód nebyl nalezen.",
    [PA_ERR_INVALID_RECOVERY_CODE] = "Neplatný obnovovací kód.",
    [PA_ERR_INVALID_RECOVERY_CONFIGURATION] = "Nastavení obnovovacích kódů chybí nebo je neúplné.",
    [PA_ERR_TOKEN_TIMESTAMP_TOO_OLD] = "Časové razítko tokenu je příliš staré.",
    [PA_ERR_INVALID_ACTIVATION_OTP] = "Aktivační OTP neodpovídá hodnotě uložené v databázi, nebo bylo zadáno v nesprávném kroku ověření.",
    [PA_ERR_INVALID_ACTIVATION_OTP_MODE] = "Operace s aktivačním OTP byla provedena v nesprávném režimu ověření.",
};

/* "cs", "CS", "cs-CZ", "cs_CZ" are Czech; everything else English. */
static int is_czech(const char *lang)
{
    return lang != NULL && tolower((unsigned char)lang[0]) == 'c'
           && tolower((unsigned char)lang[1]) == 's'
           && (lang[2] == '\0' || lang[2] == '-' || lang[2] == '_');
}

int pa_errors_has_language(const char *lang)
{
    return is_czech(lang)
           || (lang != NULL && tolower((unsigned char)lang[0]) == 'e'
               && tolower((unsigned char)lang[1]) == 'n'
               && (lang[2] == '\0' || lang[2] == '-' || lang[2] == '_'));
}

const char *pa_errors_message(pa_err e, const char *lang)
{
    if ((int)e < 0 || e >= PA_ERR__COUNT)
        e = PA_ERR_UNKNOWN_ERROR;
    return is_czech(lang) ? cs[e] : en[e];
}
