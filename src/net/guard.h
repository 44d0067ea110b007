/*
 * guard.h - a streaming check of every byte a request brings, before and
 * while gSOAP parses it.
 *
 * gSOAP silently skips a DTD and does not count the depth of elements it
 * ignores, so paserver watches the raw stream itself: it follows the HTTP
 * framing (headers, Content-Length or chunked body) and scans the XML for
 * markup declarations (<!DOCTYPE, <!ENTITY, ... - anything after "<!" that
 * is not a comment or CDATA) and for element nesting deeper than the limit.
 * It also checks that every end tag names the element it closes and that
 * nothing but comments, processing instructions and white space follows
 * the root element (gSOAP's lenient parsing accepts <a></b> and stops
 * reading after the root), counts the body bytes (chunked bodies
 * have no length up front), and knows when the body is complete, so the
 * server can tell a truncated document from a client that is still
 * sending.
 *
 * Pure code over bytes: no sockets, no gSOAP; unit-tested on its own.
 */
#ifndef PA_NET_GUARD_H
#define PA_NET_GUARD_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    PA_GUARD_OK = 0,
    PA_GUARD_DTD,           /* markup declaration: DTD, entity, ... */
    PA_GUARD_DEPTH,         /* nesting deeper than the limit */
    PA_GUARD_FRAMING,       /* unusable HTTP framing (bad chunk size, ...) */
    PA_GUARD_ENCODING,      /* a Content-Encoding other than identity */
    PA_GUARD_MALFORMED,     /* end tag not matching its start tag, or
                             * markup or text after the root element */
    PA_GUARD_CHARSET,       /* not UTF-8, or a character XML forbids (NUL,
                             * other C0 controls, U+FFFE/U+FFFF) */
    PA_GUARD_ENTITY,        /* a reference other than the five predefined
                             * entities or a character reference to an
                             * allowed character */
    PA_GUARD_ATTRIBUTES,    /* more attributes or namespace declarations
                             * on one element than allowed */
    PA_GUARD_HEADERS,       /* more header, chunk-line, chunk-extension and
                             * trailer bytes than allowed */
} pa_guard_result;

/* Limits besides the nesting depth; 0 in a field means its default. */
typedef struct pa_guard_limits {
    int max_attributes;         /* attributes of one element */
    int max_namespaces;         /* xmlns declarations of one element */
    uint64_t max_header_bytes;  /* everything of a request but its body */
} pa_guard_limits;

#define PA_GUARD_DEFAULT_ATTRIBUTES 64
#define PA_GUARD_DEFAULT_NAMESPACES 32
#define PA_GUARD_DEFAULT_HEADER_BYTES 65536

/* Deepest nesting the guard can follow (the configuration's maximum). */
#define PA_GUARD_MAX_DEPTH 10000

typedef struct pa_guard {
    int max_depth;
    pa_guard_limits lim;
    pa_guard_result failed;     /* sticky */
    int started;                /* any byte of the current request seen */
    /* HTTP framing */
    int hstate;
    char line[96];              /* current header line (prefix) */
    size_t line_len;
    int line_no;                /* header lines seen (0: the request line) */
    int colon_seen;             /* the current header line has its ':' */
    uint64_t header_bytes;      /* bytes outside the body so far */
    int64_t content_length;     /* -1 when absent */
    int chunked;
    uint64_t remaining;         /* body or chunk bytes still to come */
    uint64_t body_bytes;        /* body (chunk data) bytes seen so far */
    /* XML scanning */
    int xstate;
    int depth;
    char quote;
    char prev;
    char bang[8];
    size_t bang_len;
    int tail;                   /* matched part of a closing sequence */
    uint32_t name;              /* hash of the tag name being read */
    uint32_t lname;             /* the same, of its local part */
    int security_headers;       /* Envelope/Header/Security elements seen */
    int username_tokens;        /* .../Security/UsernameToken elements seen */
    uint32_t child_of_root;     /* local-name hash of the open Header/Body */
    int body_children;          /* elements directly in Envelope/Body */
    uint32_t operation;         /* local-name hash of the last of them */
    int in_name;                /* still reading that name */
    int root_done;              /* the root element has ended */
    int attrs, nsdecls;         /* of the start tag being read */
    int attr_at;                /* chars of the current attribute name seen */
    char attr_head[6];          /* its first chars ("xmlns:" / "xmlns=") */
    int in_attr_name;
    /* UTF-8 decoding of body bytes */
    uint32_t cp;                /* code point being decoded */
    int cont;                   /* continuation bytes still expected */
    uint32_t cp_min;            /* smallest value its length may encode */
    /* an entity or character reference being read (after '&') */
    int in_ref;
    char ref[12];
    size_t ref_len;
    /* name hashes of the open elements; last, so a reset need not clear it */
    uint32_t open[PA_GUARD_MAX_DEPTH];
} pa_guard;

/* Starts a new request with the given nesting limit (at most
 * PA_GUARD_MAX_DEPTH) and the default other limits. */
void pa_guard_reset(pa_guard *g, int max_depth);

/* Sets the other limits after a reset (pa_guard_feed keeps them for a
 * pipelined next request); NULL or 0 fields: defaults. */
void pa_guard_set_limits(pa_guard *g, const pa_guard_limits *lim);

/* Feeds raw bytes as read from the socket.  Returns the first violation
 * (and keeps returning it); PA_GUARD_OK otherwise. */
pa_guard_result pa_guard_feed(pa_guard *g, const char *buf, size_t n);

/* Like pa_guard_feed, but stops at the end of the current request:
 * returns how many of the n bytes belong to it (all n while it is not
 * complete); the rest belong to a pipelined next request, which the caller
 * feeds after a reset.  *result is the verdict so far. */
size_t pa_guard_take(pa_guard *g, const char *buf, size_t n, pa_guard_result *result);

/* The hash the guard keeps of a local name (g->operation: of the Body's
 * child element, when body_children is 1, the SOAP operation asked for). */
uint32_t pa_guard_name_hash(const char *local_name);

/* 1 once the whole HTTP request (headers and body) has been seen. */
int pa_guard_complete(const pa_guard *g);

#endif
