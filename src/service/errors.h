/*
 * errors.h - the error catalogue: the message of every PowerAuth error code
 * in English (the text the original server sends, faultstring and
 * localizedMessage alike) and in Czech (ours).
 */
#ifndef PA_SERVICE_ERRORS_H
#define PA_SERVICE_ERRORS_H

#include "util/err.h"

/* Message for e in the given language ("en", "cs", "cs-CZ", "CS", ...);
 * any other or missing language falls back to English.  Never NULL. */
const char *pa_errors_message(pa_err e, const char *lang);

/* 1 when the language resolves to a catalogue of its own (not the English
 * fallback). */
int pa_errors_has_language(const char *lang);

#endif
