/*
 * values.c - building response values in gSOAP-managed memory.
 *
 * The typemap makes every scalar of the contract a pointer (so requests can
 * tell a missing element from 0); these helpers allocate the pointed-to
 * values for responses.  Everything lives until soap_end() after the
 * response is sent.
 */
#include <string.h>
#include <sys/time.h>

#include "soap/pasoap.h"

void *pa_soap_alloc(struct soap *soap, size_t n)
{
    void *p = soap_malloc(soap, n);

    if (p != NULL)
        memset(p, 0, n);
    return p;
}

LONG64 *pa_soap_long(struct soap *soap, int64_t v)
{
    LONG64 *p = soap_malloc(soap, sizeof *p);

    if (p != NULL)
        *p = v;
    return p;
}

enum xsd__boolean *pa_soap_bool(struct soap *soap, int v)
{
    enum xsd__boolean *p = soap_malloc(soap, sizeof *p);

    if (p != NULL)
        *p = v ? xsd__boolean__true_ : xsd__boolean__false_;
    return p;
}

char *pa_soap_strdup(struct soap *soap, const char *s)
{
    return s ? soap_strdup(soap, s) : NULL;
}

struct timeval *pa_soap_time(struct soap *soap, int64_t ms)
{
    struct timeval *tv = soap_malloc(soap, sizeof *tv);

    if (tv != NULL) {
        /* floor division, so instants before 1970 stay correct */
        int64_t sec = ms / 1000, rem = ms % 1000;

        if (rem < 0) {
            rem += 1000;
            sec -= 1;
        }
        tv->tv_sec = (time_t)sec;
        tv->tv_usec = (suseconds_t)(rem * 1000);
    }
    return tv;
}

/* Seconds an instant may lie from 1970 (about 31.7 million years): a
 * dateTime beyond is read as this far, so that milliseconds - and the sums
 * and differences the services make of them - stay far inside int64_t
 * (scripts/fuzz found a year whose milliseconds overflowed). */
#define PA_SOAP_MAX_SECONDS 1000000000000000LL

int64_t pa_soap_time_ms(const struct timeval *tv, int *present)
{
    int64_t sec;

    if (present != NULL)
        *present = tv != NULL;
    if (tv == NULL)
        return 0;
    sec = (int64_t)tv->tv_sec;
    if (sec > PA_SOAP_MAX_SECONDS)
        sec = PA_SOAP_MAX_SECONDS;
    else if (sec < -PA_SOAP_MAX_SECONDS)
        sec = -PA_SOAP_MAX_SECONDS;
    return sec * 1000 + (int64_t)tv->tv_usec / 1000;
}
