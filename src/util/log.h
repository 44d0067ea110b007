/*
 * log.h - the server's log: one line per event, to stderr or syslog(3).
 *
 * Line format on a stream (stderr or a stream set with pa_log_set_stream):
 *
 *     2026-11-24T08:15:02.123Z INFO listening on 127.0.0.1:8080
 *     2026-11-24T08:15:03.456Z INFO op=CreateActivation result=OK us=1834 peer=127.0.0.1
 *
 * that is an xs:dateTime UTC timestamp with milliseconds, the level in upper
 * case and the message.  Under syslog the timestamp is left to syslog and
 * the line is "LEVEL message", sent with ident "paserver", LOG_PID, facility
 * LOG_DAEMON and the matching priority (LOG_ERR, LOG_WARNING, LOG_INFO,
 * LOG_DEBUG).
 *
 * Every call writes exactly one line: control characters in a message are
 * written as \xNN, so text that came from a client can neither split a
 * line nor forge one, and a message longer than PA_LOG_MAX_LINE bytes is cut
 * and ends in "...".  Calls are safe from any thread; a line is written whole.
 *
 * What never goes into a log (DESIGN.md): keys, secrets, passwords, OTPs,
 * PUKs, signature values, tokens' digests, request or response bodies.
 * There is deliberately no function that writes a buffer or a hex dump;
 * callers pass only names, ids, codes and numbers.  A request is logged once,
 * by pa_log_request, and nothing else is logged per request at the default
 * level.
 */
#ifndef PA_LOG_H
#define PA_LOG_H

#include <stdbool.h>
#include <stdio.h>

#include "util/err.h"

/* Longest message text in a line (bytes, after escaping; the timestamp and
 * level come on top). */
#define PA_LOG_MAX_LINE 2048

typedef enum pa_log_level {
    PA_LOG_ERROR = 0,
    PA_LOG_WARN,
    PA_LOG_INFO,
    PA_LOG_DEBUG
} pa_log_level;

typedef enum pa_log_target {
    PA_LOG_TARGET_STDERR = 0,
    PA_LOG_TARGET_SYSLOG
} pa_log_target;

/* "error", "warn", "info", "debug" (exact, lower case) -> level.
 * PA_ERR_INVALID_INPUT_FORMAT for anything else. */
pa_err pa_log_level_parse(const char *s, pa_log_level *out);

/* "error".."debug"; "info" for an out-of-range value. */
const char *pa_log_level_name(pa_log_level level);

/* "stderr" or "syslog" -> target; PA_ERR_INVALID_INPUT_FORMAT otherwise. */
pa_err pa_log_target_parse(const char *s, pa_log_target *out);

/* "stderr" or "syslog". */
const char *pa_log_target_name(pa_log_target target);

/* Sets the threshold and the target (opening syslog when asked).  Until it
 * is called the log writes info and above to stderr.  May be called again
 * (e.g. after the configuration is loaded); it closes syslog if the target
 * changes away from it. */
void pa_log_open(pa_log_level level, pa_log_target target);

/* Makes the stream target write to f instead of stderr; NULL goes back to
 * stderr.  The log does not own f (the caller closes it after pointing the
 * log elsewhere).  Used by tests and by anyone redirecting the log. */
void pa_log_set_stream(FILE *f);

/* Closes syslog if open and resets to the defaults (info, stderr). */
void pa_log_close(void);

/* true when a message of this level would be written. */
bool pa_log_enabled(pa_log_level level);

#if defined(__GNUC__)
#define PA_LOG_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define PA_LOG_PRINTF(f, a)
#endif

/* Writes one line if level passes the threshold. */
void pa_log(pa_log_level level, const char *fmt, ...) PA_LOG_PRINTF(2, 3);

#define pa_log_error(...) pa_log(PA_LOG_ERROR, __VA_ARGS__)
#define pa_log_warn(...) pa_log(PA_LOG_WARN, __VA_ARGS__)
#define pa_log_info(...) pa_log(PA_LOG_INFO, __VA_ARGS__)
#define pa_log_debug(...) pa_log(PA_LOG_DEBUG, __VA_ARGS__)

/* The one line per request, at level info:
 *     op=<operation> result=<result_code> us=<duration_us> peer=<peer>
 * operation is the SOAP operation name (for other requests a short name
 * the caller chooses, e.g. "wsdl"), result_code "OK" or an error code
 * ("ERR0024"),
 * peer the client address.  NULL or empty fields are written as "-";
 * characters outside [A-Za-z0-9._:/[]-] become '?' and each field is cut
 * at 96 characters, so the line stays one space-separated record.  A
 * negative duration is written as 0. */
void pa_log_request(const char *operation, const char *result_code,
                    long long duration_us, const char *peer);

/* Request lines are kept per thread and written in batches; this writes
 * the calling thread's now (a worker out of work, or leaving). */
void pa_log_flush(void);

#endif
