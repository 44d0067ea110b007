/*
 * timeutil.h - clocks and xs:dateTime text.
 *
 * Every timestamp paserver stores or sends is an int64 count of milliseconds
 * since 1970-01-01T00:00:00Z (what the original keeps in java.util.Date).
 * The SOAP contract carries timestamps as xs:dateTime; this module turns one
 * into the other without the C library's locale- and TZ-dependent calls
 * (no mktime, no TZ variable), so results never depend on the host's zone.
 */
#ifndef PA_TIMEUTIL_H
#define PA_TIMEUTIL_H

#include <stdint.h>

#include "util/err.h"

/* Room for "YYYY-MM-DDThh:mm:ss.mmmZ" (24 characters) plus NUL, rounded up. */
#define PA_TIME_ISO_BUF 32

/* Wall-clock milliseconds since the epoch (CLOCK_REALTIME). */
int64_t pa_time_now_ms(void);

/* Monotonic microseconds (CLOCK_MONOTONIC) for measuring durations; the
 * origin is arbitrary, only differences mean anything. */
int64_t pa_time_mono_us(void);

/* Writes ms as xs:dateTime in UTC with exactly three fraction digits and
 * 'Z', e.g. "2026-11-24T00:00:00.000Z".  Instants before 1970 work.
 * PA_ERR_INVALID_INPUT_FORMAT (out = "") when the year would fall outside
 * 0001..9999, which xs:dateTime's four-digit form cannot express. */
pa_err pa_time_format_iso(int64_t ms, char out[PA_TIME_ISO_BUF]);

/* Parses the xs:dateTime forms clients send:
 *   YYYY-MM-DDThh:mm:ss[.f...][Z | +hh:mm | -hh:mm]
 * with any number of fraction digits (cut to milliseconds, towards the
 * past, as Java's XMLGregorianCalendar -> Date does), a zone offset of at
 * most 14:00, and no zone meaning UTC (the original would take the JVM's
 * default zone, which is UTC in every deployment we know of).  24:00:00 is
 * the midnight that ends the day (XSD 1.0).  Leading and trailing XML
 * whitespace is ignored (xs:dateTime collapses whitespace).  Years are
 * 0001..9999; no sign, no leap seconds, no lower-case 't'/'z'.
 * PA_ERR_INVALID_INPUT_FORMAT for anything else (*ms untouched). */
pa_err pa_time_parse_iso(const char *s, int64_t *ms);

#endif
