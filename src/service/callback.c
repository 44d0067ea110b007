/*
 * callback.c - callback URLs of applications (DATABASE.md 5.3, 5.11, 5.12).
 *
 * URL rules.  The original accepts whatever java.net.URL parses, which is
 * almost anything with a known protocol ("http://", "http:// a",
 * "file:x", "mailto:x" all pass) and then fails only when it tries to
 * deliver.  paserver checks what delivery needs instead: the callback is
 * an HTTP POST, so the scheme must be http or https, the host must be
 * there and the port must be one a socket can use.  ftp:, file:, jar: and
 * mailto: URLs, which java.net.URL accepts but to which the original can
 * never deliver a callback, are refused.  Spaces and control characters
 * are refused everywhere: they would end up in an HTTP request line.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "service/callback.h"
#include "util/log.h"
#include "util/uuid.h"

static pa_err store_failed(const char *what, pa_err e)
{
    if (e == PA_ERR_UNKNOWN_ERROR)
        pa_log_error("%s: %s", what, pa_store_last_error());
    return e;
}

/* ---- URL check ---------------------------------------------------------------- */

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A host name or IPv4 address: RFC 3986 reg-name characters (unreserved,
 * sub-delims, percent escapes), ASCII only. */
static bool host_name_ok(const char *h, size_t n)
{
    size_t i;

    if (n == 0)
        return false;
    for (i = 0; i < n; i++) {
        char c = h[i];

        if (!is_alpha(c) && !is_digit(c) && !strchr("-._~%!$&'()*+,;=", c))
            return false;
    }
    return true;
}

/* The inside of "[...]": an IPv6 address. */
static bool host_ipv6_ok(const char *h, size_t n)
{
    char buf[INET6_ADDRSTRLEN + 1];
    struct in6_addr a;

    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, h, n);
    buf[n] = '\0';
    return inet_pton(AF_INET6, buf, &a) == 1;
}

/* Digits after ':'; none means the scheme's default port. */
static bool port_ok(const char *p, size_t n)
{
    long v = 0;
    size_t i;

    if (n == 0)
        return true;
    for (i = 0; i < n; i++) {
        if (!is_digit(p[i]))
            return false;
        v = v * 10 + (p[i] - '0');
        if (v > 65535)
            return false;
    }
    return v >= 1;
}

/* host[:port] or [v6]:port, after any userinfo. */
static bool hostport_ok(const char *a, size_t n)
{
    const char *colon;

    if (n > 0 && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        size_t rest;

        if (!close || !host_ipv6_ok(a + 1, (size_t)(close - a - 1)))
            return false;
        rest = n - (size_t)(close - a + 1);
        if (rest == 0)
            return true;
        return close[1] == ':' && port_ok(close + 2, rest - 1);
    }
    colon = memchr(a, ':', n);
    if (!colon)
        return host_name_ok(a, n);
    return host_name_ok(a, (size_t)(colon - a)) &&
           port_ok(colon + 1, n - (size_t)(colon - a) - 1);
}

/* The authority: [userinfo@]host[:port]. */
static bool authority_ok(const char *a, size_t n)
{
    size_t i, start = 0;

    for (i = 0; i < n; i++)
        if (a[i] == '@')
            start = i + 1;          /* the last '@' ends the userinfo */
    return hostport_ok(a + start, n - start);
}

bool pa_callback_url_valid(const char *url)
{
    const char *p, *auth;
    size_t scheme_len;

    if (!url)
        return false;
    for (p = url; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return false;
    scheme_len = strcspn(url, ":/?#");
    if (url[scheme_len] != ':')
        return false;
    if (!((scheme_len == 4 && strncasecmp(url, "http", 4) == 0) ||
          (scheme_len == 5 && strncasecmp(url, "https", 5) == 0)))
        return false;
    if (strncmp(url + scheme_len, "://", 3) != 0)
        return false;
    auth = url + scheme_len + 3;
    return authority_ok(auth, strcspn(auth, "/?#"));
}

/* ---- operations ------------------------------------------------------------------- */

static pa_err fill_callback(pa_store_callback *out, const char *id,
                            int64_t application_id, const char *name,
                            const char *url)
{
    out->application_id = application_id;
    out->id = strdup(id);
    out->name = strdup(name);
    out->url = strdup(url);
    if (!out->id || !out->name || !out->url) {
        pa_store_callback_free(out);
        return PA_ERR_UNKNOWN_ERROR;
    }
    return PA_OK;
}

pa_err pa_callback_create(pa_store *s, int64_t application_id,
                          const char *name, const char *url,
                          pa_store_callback *out)
{
    pa_store_application app;
    char id[PA_UUID_BUF];
    int found = 0;
    pa_err e;

    memset(out, 0, sizeof *out);
    if (!name || !url)
        return PA_ERR_INVALID_REQUEST;
    if (!pa_callback_url_valid(url))
        return PA_ERR_INVALID_URL_FORMAT;
    if ((e = pa_store_application_get(s, application_id, &app, &found)) != PA_OK)
        return store_failed("CreateCallbackUrl", e);
    pa_store_application_free(&app);
    if (!found)
        return PA_ERR_INVALID_APPLICATION;
    if ((e = pa_uuid_v4(id)) != PA_OK)
        return e;
    e = pa_store_callback_create(s, id, application_id, name, url);
    if (e != PA_OK)
        return store_failed("CreateCallbackUrl", e);
    return fill_callback(out, id, application_id, name, url);
}

pa_err pa_callback_list(pa_store *s, int64_t application_id,
                        pa_store_callback_array *out)
{
    return store_failed("GetCallbackUrlList",
                        pa_store_callback_list(s, application_id, out));
}

pa_err pa_callback_remove(pa_store *s, const char *id, int *removed)
{
    *removed = 0;
    if (!id)
        return PA_ERR_INVALID_REQUEST;
    return store_failed("RemoveCallbackUrl",
                        pa_store_callback_remove(s, id, removed));
}
