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

static void limits_or_defaults(pa_guard_limits *l)
{
    if (l->max_attributes <= 0)
        l->max_attributes = PA_GUARD_DEFAULT_ATTRIBUTES;
    if (l->max_namespaces <= 0)
        l->max_namespaces = PA_GUARD_DEFAULT_NAMESPACES;
    if (l->max_header_bytes == 0)
        l->max_header_bytes = PA_GUARD_DEFAULT_HEADER_BYTES;
}

void pa_guard_set_limits(pa_guard *g, const pa_guard_limits *lim)
{
    memset(&g->lim, 0, sizeof g->lim);
    if (lim)
        g->lim = *lim;
    limits_or_defaults(&g->lim);
}

void pa_guard_reset(pa_guard *g, int max_depth)
{
    /* open[] is written before it is read: only the fields before it */
    memset(g, 0, offsetof(pa_guard, open));
    limits_or_defaults(&g->lim);
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

/* A digit of a character reference, -1 if it is none. */
static int hexval_strict(char c, int hex)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (hex && c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (hex && c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* --- XML ------------------------------------------------------------------ */

/* Tag names are compared by a 32-bit FNV-1a hash of the name as written
 * (prefix included): enough to catch a mismatched end tag, which gSOAP's
 * lenient parser would otherwise accept. */
#define NAME_HASH_INIT 2166136261u

static uint32_t fnv(uint32_t h, char c)
{
    return (h ^ (unsigned char)c) * 16777619u;
}

/* FNV-1a of "Security" and of "UsernameToken" (test_guard checks them). */
#define HASH_SECURITY 0xc2fe21dbu
#define HASH_USERNAME_TOKEN 0x04da43aeu

/* FNV-1a of "Body". */
#define HASH_BODY 0x428a1095u

uint32_t pa_guard_name_hash(const char *local_name)
{
    uint32_t h = NAME_HASH_INIT;

    while (*local_name)
        h = fnv(h, *local_name++);
    return h;
}

/* A start tag's name is complete: counts WS-Security headers (children of
 * the Header, itself a child of the Envelope) and their UsernameTokens,
 * and notes the Body's children (the operation). */
static void start_tag_named(pa_guard *g)
{
    if (g->depth == 1)
        g->child_of_root = g->lname;
    else if (g->depth == 2 && g->child_of_root == HASH_BODY) {
        g->body_children++;
        g->operation = g->lname;
    } else if (g->depth == 2 && g->lname == HASH_SECURITY)
        g->security_headers++;
    else if (g->depth == 3 && g->lname == HASH_USERNAME_TOKEN)
        g->username_tokens++;
}

static void name_char(pa_guard *g, char c)
{
    if (!g->in_name)
        return;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '/' || c == '>') {
        g->in_name = 0;
        if (g->xstate == X_STAG)
            start_tag_named(g);
        return;
    }
    g->name = fnv(g->name, c);
    g->lname = c == ':' ? NAME_HASH_INIT : fnv(g->lname, c);
}

static void name_start(pa_guard *g, char c)
{
    g->name = g->lname = NAME_HASH_INIT;
    g->in_name = 1;
    name_char(g, c);
}

/* --- characters and references ------------------------------------------- */

/* XML 1.0's Char production: what a document may contain at all. */
static int xml_char_allowed(uint32_t v)
{
    return v == 0x9 || v == 0xA || v == 0xD || (v >= 0x20 && v <= 0xD7FF)
           || (v >= 0xE000 && v <= 0xFFFD) || (v >= 0x10000 && v <= 0x10FFFF);
}

/* One body byte through a strict UTF-8 decoder: no overlong forms (so
 * "\xc0\xbc" never becomes '<' anywhere behind us), no surrogates, nothing
 * above U+10FFFF, and only characters XML allows (no NUL).  A bank's user
 * id is stored as sent or not at all. */
static pa_guard_result utf8_byte(pa_guard *g, unsigned char b)
{
    if (g->cont) {
        if ((b & 0xC0) != 0x80)
            return fail(g, PA_GUARD_CHARSET);
        g->cp = g->cp << 6 | (uint32_t)(b & 0x3F);
        if (--g->cont == 0 && (g->cp < g->cp_min || !xml_char_allowed(g->cp)))
            return fail(g, PA_GUARD_CHARSET);
        return PA_GUARD_OK;
    }
    if (b < 0x80)
        return xml_char_allowed(b) ? PA_GUARD_OK : fail(g, PA_GUARD_CHARSET);
    if (b >= 0xC2 && b <= 0xDF)
        g->cont = 1, g->cp = b & 0x1Fu, g->cp_min = 0x80;
    else if (b >= 0xE0 && b <= 0xEF)
        g->cont = 2, g->cp = b & 0x0Fu, g->cp_min = 0x800;
    else if (b >= 0xF0 && b <= 0xF4)
        g->cont = 3, g->cp = b & 0x07u, g->cp_min = 0x10000;
    else                        /* a stray continuation, 0xC0/0xC1, 0xF5.. */
        return fail(g, PA_GUARD_CHARSET);
    return PA_GUARD_OK;
}

/* The text between '&' and ';': a predefined entity or a character
 * reference to a character XML allows.  gSOAP turns anything else into
 * bytes of its own choosing ("&undefined;" was stored as "\x7Fed;"). */
static int reference_ok(const char *r, size_t n)
{
    static const char *const named[] = {"lt", "gt", "amp", "quot", "apos"};
    uint32_t v = 0;
    size_t i = 1;
    int hex;

    for (size_t k = 0; k < sizeof named / sizeof *named; k++)
        if (n == strlen(named[k]) && memcmp(r, named[k], n) == 0)
            return 1;
    if (n < 2 || r[0] != '#')
        return 0;
    hex = r[1] == 'x';
    if (hex)
        i = 2;
    if (i >= n || n - i > (hex ? 6 : 7))
        return 0;
    for (; i < n; i++) {
        int d = hexval_strict(r[i], hex);

        if (d < 0)
            return 0;
        v = v * (hex ? 16u : 10u) + (uint32_t)d;
    }
    return xml_char_allowed(v);
}

/* Inside text or an attribute value: follows references.  Returns 1 when
 * the character belongs to a reference (the XML states need not see it). */
static int reference_char(pa_guard *g, char c)
{
    if (!g->in_ref) {
        if (c != '&')
            return 0;
        g->in_ref = 1;
        g->ref_len = 0;
        return 1;
    }
    if (c == ';') {
        g->in_ref = 0;
        if (!reference_ok(g->ref, g->ref_len))
            fail(g, PA_GUARD_ENTITY);
    } else if (g->ref_len < sizeof g->ref) {
        g->ref[g->ref_len++] = c;
    } else {
        fail(g, PA_GUARD_ENTITY);   /* longer than any valid reference */
    }
    return 1;
}

/* --- attributes ------------------------------------------------------------ */

static int blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A character of a start tag outside quoted values, after the element's
 * name: counts attributes and namespace declarations.  gSOAP's attribute
 * handling grows with their square: 40,000 attributes on one element cost
 * 21.7 s of CPU. */
static pa_guard_result attribute_char(pa_guard *g, char c)
{
    if (!g->in_attr_name) {
        if (blank(c) || c == '=' || c == '/' || c == '>' || c == '"' || c == '\'')
            return PA_GUARD_OK;
        g->in_attr_name = 1;
        g->attr_at = 0;
    }
    if (!blank(c) && c != '=' && c != '/' && c != '>') {
        if (g->attr_at < (int)sizeof g->attr_head)
            g->attr_head[g->attr_at] = c;
        g->attr_at++;
        return PA_GUARD_OK;
    }
    g->in_attr_name = 0;
    if (++g->attrs > g->lim.max_attributes)
        return fail(g, PA_GUARD_ATTRIBUTES);
    if (g->attr_at >= 5 && memcmp(g->attr_head, "xmlns", 5) == 0
        && (g->attr_at == 5 || g->attr_head[5] == ':')
        && ++g->nsdecls > g->lim.max_namespaces)
        return fail(g, PA_GUARD_ATTRIBUTES);
    return PA_GUARD_OK;
}

/* One character of the XML body. */
static pa_guard_result xml_char(pa_guard *g, char c)
{
    if (utf8_byte(g, (unsigned char)c) != PA_GUARD_OK)
        return g->failed;
    if ((g->xstate == X_TEXT && g->depth > 0) || g->xstate == X_STAG_QUOTE) {
        if (g->in_ref && (c == '<' || blank(c)
                          || (g->xstate == X_STAG_QUOTE && c == g->quote)))
            return fail(g, PA_GUARD_ENTITY);    /* a reference left open */
        if (reference_char(g, c))
            return g->failed;
    }
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
            g->attrs = g->nsdecls = g->in_attr_name = 0;
            name_start(g, c);
        }
        break;
    case X_STAG:
        if (g->in_name)
            name_char(g, c);
        else if (attribute_char(g, c) != PA_GUARD_OK)
            return g->failed;
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

/* The body has ended: it must not end inside a character or reference. */
static pa_guard_result body_done(pa_guard *g)
{
    g->hstate = H_DONE;
    if (g->cont)
        return fail(g, PA_GUARD_CHARSET);
    if (g->in_ref)
        return fail(g, PA_GUARD_ENTITY);
    return PA_GUARD_OK;
}

/* A character of a header line.  A field name runs up to its colon with
 * no white space before it (RFC 9112 5.1: "Transfer-Encoding : chunked"
 * must be refused, not read one way here and another way by gSOAP), and
 * obsolete line folding is refused too. */
static pa_guard_result header_char(pa_guard *g, char c)
{
    if (g->line_no > 0 && !g->colon_seen) {
        if (c == ':')
            g->colon_seen = 1;
        else if (c == ' ' || c == '\t')
            return fail(g, PA_GUARD_FRAMING);
    }
    if (g->line_len < sizeof g->line - 1)
        g->line[g->line_len] = c;
    g->line_len++;
    return PA_GUARD_OK;
}

/* Feeds one byte through the framing; body bytes go to the XML scanner. */
static pa_guard_result http_char(pa_guard *g, char c)
{
    if (g->hstate != H_BODY && g->hstate != H_CHUNK_DATA
        && ++g->header_bytes > g->lim.max_header_bytes)
        return fail(g, PA_GUARD_HEADERS);
    switch (g->hstate) {
    case H_HEADERS:
        if (c == '\n') {
            pa_guard_result r = PA_GUARD_OK;

            if (g->line_len == 0 && g->line_no == 0)
                return PA_GUARD_OK;             /* a CRLF before the request */
            if (g->line_len == 0)
                r = end_of_headers(g);          /* blank: body follows */
            else if (g->line_no > 0 && !g->colon_seen)
                r = fail(g, PA_GUARD_FRAMING);  /* a line with no field */
            else if (g->line_no > 0)
                r = header_line(g);
            g->line_no++;
            g->line_len = 0;
            g->colon_seen = 0;
            return r;
        } else if (c != '\r') {
            return header_char(g, c);
        }
        return PA_GUARD_OK;
    case H_BODY:
        g->body_bytes++;
        if (xml_char(g, c) == PA_GUARD_OK && --g->remaining == 0)
            body_done(g);
        return g->failed;
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
                body_done(g);
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
            pa_guard_limits lim = g->lim;

            pa_guard_reset(g, g->max_depth);
            g->lim = lim;
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
