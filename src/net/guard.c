/*
 * guard.c - HTTP-framing-aware XML stream guard, see guard.h.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/guard.h"

enum {                          /* HTTP framing states */
    H_HEADERS, H_BODY, H_CHUNK_SIZE, H_CHUNK_EXT, H_CHUNK_DATA,
    H_CHUNK_DATA_END, H_TRAILER, H_DONE
};

enum {                          /* XML states */
    X_TEXT, X_LT, X_STAG, X_STAG_QUOTE, X_ETAG, X_PI, X_BANG, X_COMMENT,
    X_CDATA
};

void pa_guard_reset(pa_guard *g, int max_depth)
{
    /* open[] is written before it is read: only the fields before it */
    memset(g, 0, offsetof(pa_guard, open));
    g->max_depth = max_depth < PA_GUARD_MAX_DEPTH ? max_depth : PA_GUARD_MAX_DEPTH;
    g->content_length = -1;
    g->hstate = H_HEADERS;
    g->xstate = X_TEXT;
}

int pa_guard_complete(const pa_guard *g)
{
    return g->hstate == H_DONE;
}

static pa_guard_result fail(pa_guard *g, pa_guard_result r)
{
    if (g->failed == PA_GUARD_OK)
        g->failed = r;
    return g->failed;
}

/* --- XML ------------------------------------------------------------------ */

/* Tag names are compared by a 32-bit FNV-1a hash of the name as written
 * (prefix included): enough to catch a mismatched end tag, which gSOAP's
 * lenient parser would otherwise accept. */
#define NAME_HASH_INIT 2166136261u

static void name_char(pa_guard *g, char c)
{
    if (!g->in_name)
        return;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '/' || c == '>') {
        g->in_name = 0;
        return;
    }
    g->name = (g->name ^ (unsigned char)c) * 16777619u;
}

static void name_start(pa_guard *g, char c)
{
    g->name = NAME_HASH_INIT;
    g->in_name = 1;
    name_char(g, c);
}

/* One character of the XML body. */
static pa_guard_result xml_char(pa_guard *g, char c)
{
    switch (g->xstate) {
    case X_TEXT:
        if (c == '<')
            g->xstate = X_LT;
        else if (g->root_done && c != ' ' && c != '\t' && c != '\r' && c != '\n')
            return fail(g, PA_GUARD_MALFORMED);     /* text after the root */
        break;
    case X_LT:
        if (c == '/') {
            g->xstate = X_ETAG;
            g->name = NAME_HASH_INIT;
            g->in_name = 1;
        } else if (c == '?') {
            g->xstate = X_PI, g->tail = 0;
        } else if (c == '!') {
            g->xstate = X_BANG, g->bang_len = 0;
        } else {
            g->xstate = X_STAG, g->prev = c;
            name_start(g, c);
        }
        break;
    case X_STAG:
        name_char(g, c);
        if (c == '"' || c == '\'') {
            g->xstate = X_STAG_QUOTE;
            g->quote = c;
        } else if (c == '>') {
            if (g->root_done)                       /* a second root */
                return fail(g, PA_GUARD_MALFORMED);
            if (g->prev != '/') {
                if (++g->depth > g->max_depth)
                    return fail(g, PA_GUARD_DEPTH);
                g->open[g->depth - 1] = g->name;
            } else if (g->depth == 0) {
                g->root_done = 1;                   /* <root/> */
            }
            g->xstate = X_TEXT;
        } else {
            g->prev = c;
        }
        break;
    case X_STAG_QUOTE:
        if (c == g->quote)
            g->xstate = X_STAG, g->prev = c;
        break;
    case X_ETAG:
        name_char(g, c);
        if (c == '>') {
            if (g->depth == 0 || g->open[g->depth - 1] != g->name)
                return fail(g, PA_GUARD_MALFORMED);
            if (--g->depth == 0)
                g->root_done = 1;
            g->xstate = X_TEXT;
        }
        break;
    case X_PI:                              /* until "?>" */
        if (c == '>' && g->tail)
            g->xstate = X_TEXT;
        g->tail = c == '?';
        break;
    case X_BANG: {                          /* "<!--" or "<![CDATA[" only */
        static const char comment[] = "--", cdata[] = "[CDATA[";

        g->bang[g->bang_len++] = c;
        if (g->bang_len == 2 && memcmp(g->bang, comment, 2) == 0) {
            g->xstate = X_COMMENT, g->tail = 0;
        } else if (g->bang_len == 7 && memcmp(g->bang, cdata, 7) == 0) {
            g->xstate = X_CDATA, g->tail = 0;
        } else if ((g->bang_len > 2 || memcmp(g->bang, comment, g->bang_len) != 0)
                   && memcmp(g->bang, cdata, g->bang_len) != 0) {
            return fail(g, PA_GUARD_DTD);
        }
        break;
    }
    case X_COMMENT:                         /* until "-->" */
        if (c == '>' && g->tail >= 2)
            g->xstate = X_TEXT;
        g->tail = c == '-' ? g->tail + 1 : 0;
        break;
    case X_CDATA:                           /* until "]]>" */
        if (c == '>' && g->tail >= 2)
            g->xstate = X_TEXT;
        g->tail = c == ']' ? g->tail + 1 : 0;
        break;
    }
    return PA_GUARD_OK;
}

/* --- HTTP framing ----------------------------------------------------------- */

static int header_is(const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);

    return len > n && strncasecmp(line, name, n) == 0 && line[n] == ':';
}

/* A complete header line (without CR/LF). */
/* The value of a header line, blanks around it trimmed, into out. */
static void header_value(const char *line, const char *name, char *out,
                         size_t outlen)
{
    const char *v = line + strlen(name) + 1, *end;
    size_t n;

    while (*v == ' ' || *v == '\t')
        v++;
    end = v + strlen(v);
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    n = (size_t)(end - v) < outlen - 1 ? (size_t)(end - v) : outlen - 1;
    memcpy(out, v, n);
    out[n] = '\0';
}

/* A complete header line (without CR/LF).  The guard must read the
 * framing exactly as gSOAP will, or the two would see different bodies:
 * the headers that decide it must fit the line buffer whole, a
 * Transfer-Encoding must be exactly "chunked", and a Content-Encoding is
 * refused (gSOAP would inflate the body behind the guard's back). */
static pa_guard_result header_line(pa_guard *g)
{
    int whole = g->line_len < sizeof g->line;
    char value[sizeof g->line];

    g->line[whole ? g->line_len : sizeof g->line - 1] = '\0';
    if (header_is(g->line, g->line_len, "content-length")) {
        if (!whole || g->content_length != -1)
            return fail(g, PA_GUARD_FRAMING);       /* cut off, or twice */
        header_value(g->line, "content-length", value, sizeof value);
        if (value[0] == '\0' || strspn(value, "0123456789") != strlen(value)
            || strlen(value) > 18)
            return fail(g, PA_GUARD_FRAMING);
        g->content_length = strtoll(value, NULL, 10);
    } else if (header_is(g->line, g->line_len, "transfer-encoding")) {
        header_value(g->line, "transfer-encoding", value, sizeof value);
        if (!whole || g->chunked || strcasecmp(value, "chunked") != 0)
            return fail(g, PA_GUARD_FRAMING);
        g->chunked = 1;
    } else if (header_is(g->line, g->line_len, "content-encoding")) {
        header_value(g->line, "content-encoding", value, sizeof value);
        if (!whole || strcasecmp(value, "identity") != 0)
            return fail(g, PA_GUARD_ENCODING);
    }
    return PA_GUARD_OK;
}

static pa_guard_result end_of_headers(pa_guard *g)
{
    if (g->chunked && g->content_length != -1)      /* ambiguous length */
        return fail(g, PA_GUARD_FRAMING);
    if (g->chunked) {
        g->hstate = H_CHUNK_SIZE;
        g->remaining = 0;
    } else if (g->content_length > 0) {
        g->hstate = H_BODY;
        g->remaining = (uint64_t)g->content_length;
    } else {
        g->hstate = H_DONE;
    }
    return PA_GUARD_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Feeds one byte through the framing; body bytes go to the XML scanner. */
static pa_guard_result http_char(pa_guard *g, char c)
{
    switch (g->hstate) {
    case H_HEADERS:
        if (c == '\n') {
            pa_guard_result r = g->line_len == 0  /* blank: body follows */
                                    ? end_of_headers(g) : header_line(g);

            g->line_len = 0;
            return r;
        } else if (c != '\r') {
            if (g->line_len < sizeof g->line - 1)
                g->line[g->line_len] = c;
            g->line_len++;
        }
        return PA_GUARD_OK;
    case H_BODY:
        g->body_bytes++;
        if (--g->remaining == 0)
            g->hstate = H_DONE;
        return xml_char(g, c);
    case H_CHUNK_SIZE: {
        int v = hexval(c);

        if (v >= 0) {
            if (g->remaining > (UINT64_MAX >> 4))
                return fail(g, PA_GUARD_FRAMING);
            g->remaining = g->remaining << 4 | (uint64_t)v;
        } else if (c == ';' || c == ' ' || c == '\t') {
            g->hstate = H_CHUNK_EXT;
        } else if (c == '\n') {
            g->hstate = g->remaining ? H_CHUNK_DATA : H_TRAILER;
            g->line_len = 0;
        } else if (c != '\r') {
            return fail(g, PA_GUARD_FRAMING);
        }
        return PA_GUARD_OK;
    }
    case H_CHUNK_EXT:
        if (c == '\n') {
            g->hstate = g->remaining ? H_CHUNK_DATA : H_TRAILER;
            g->line_len = 0;
        }
        return PA_GUARD_OK;
    case H_CHUNK_DATA:
        g->body_bytes++;
        if (--g->remaining == 0)
            g->hstate = H_CHUNK_DATA_END;
        return xml_char(g, c);
    case H_CHUNK_DATA_END:                  /* the CRLF after chunk data */
        if (c == '\n')
            g->hstate = H_CHUNK_SIZE;
        else if (c != '\r')
            return fail(g, PA_GUARD_FRAMING);
        return PA_GUARD_OK;
    case H_TRAILER:                         /* trailer lines, blank line ends */
        if (c == '\n') {
            if (g->line_len == 0)
                g->hstate = H_DONE;
            g->line_len = 0;
        } else if (c != '\r') {
            g->line_len++;
        }
        return PA_GUARD_OK;
    default:
        return PA_GUARD_OK;
    }
}

pa_guard_result pa_guard_feed(pa_guard *g, const char *buf, size_t n)
{
    for (size_t i = 0; i < n && g->failed == PA_GUARD_OK; i++) {
        if (g->hstate == H_DONE) {
            /* a pipelined next request on the same connection */
            int depth = g->max_depth;

            pa_guard_reset(g, depth);
        }
        g->started = 1;
        http_char(g, buf[i]);
    }
    return g->failed;
}

size_t pa_guard_take(pa_guard *g, const char *buf, size_t n, pa_guard_result *result)
{
    size_t i = 0;

    while (i < n && g->failed == PA_GUARD_OK && g->hstate != H_DONE) {
        g->started = 1;
        http_char(g, buf[i++]);
    }
    *result = g->failed;
    return i;
}
