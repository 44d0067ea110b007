/*
 * test_guard.c - the request stream guard (src/net/guard.c).
 *
 * Each guard case is a complete raw HTTP request fed in three ways - at
 * once, byte by byte, and in chunks of 7 bytes - which must all give the
 * same verdict, since the guard sees a request in whatever pieces recv()
 * returns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "cunit_status.h"
#include <CUnit/CUnit.h>

#include "net/guard.h"

#define DEPTH 4

static const char ENV_HEAD[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    "<S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body>";
static const char ENV_TAIL[] = "</S:Body></S:Envelope>";

/* A POST with Content-Length framing around body (malloc'ed). */
static char *post_cl(const char *body)
{
    size_t n = strlen(body) + 256;
    char *r = malloc(n);

    snprintf(r, n,
             "POST /powerauth-java-server/soap HTTP/1.1\r\n"
             "Host: 127.0.0.1:8080\r\nContent-Type: text/xml; charset=utf-8\r\n"
             "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
    return r;
}

/* A POST with chunked framing; body is cut into chunks at the offsets in
 * cuts (ascending, 0-terminated). */
static char *post_chunked(const char *body, const size_t *cuts)
{
    size_t len = strlen(body), n = len * 2 + 512, at = 0, o;
    char *r = malloc(n);

    o = (size_t)snprintf(r, n,
                         "POST /powerauth-java-server/soap HTTP/1.1\r\n"
                         "Host: h\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (const size_t *c = cuts;; c++) {
        size_t end = *c ? *c : len;

        if (end > at) {
            o += (size_t)snprintf(r + o, n - o, "%zx\r\n", end - at);
            memcpy(r + o, body + at, end - at);
            o += end - at;
            o += (size_t)snprintf(r + o, n - o, "\r\n");
        }
        at = end;
        if (*c == 0)
            break;
    }
    snprintf(r + o, n - o, "0\r\n\r\n");
    return r;
}

/* ENV_HEAD + inner + ENV_TAIL (malloc'ed). */
static char *envelope(const char *inner)
{
    size_t n = strlen(ENV_HEAD) + strlen(inner) + strlen(ENV_TAIL) + 1;
    char *r = malloc(n);

    snprintf(r, n, "%s%s%s", ENV_HEAD, inner, ENV_TAIL);
    return r;
}

/* Feeds req in pieces of `step` bytes (0 = all at once); returns the
 * verdict and, through complete, whether the request was seen whole. */
static pa_guard_result feed(const char *req, size_t len, size_t step, int *complete)
{
    pa_guard g;
    pa_guard_result r = PA_GUARD_OK;

    pa_guard_reset(&g, DEPTH);
    if (step == 0)
        step = len;
    for (size_t at = 0; at < len && r == PA_GUARD_OK; at += step)
        r = pa_guard_feed(&g, req + at, len - at < step ? len - at : step);
    if (complete)
        *complete = pa_guard_complete(&g);
    return r;
}

/* The same verdict (and completion, when accepted) in every feeding. */
static void expect(const char *req, pa_guard_result want)
{
    static const size_t steps[] = {0, 1, 7};

    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        int complete = 0;
        pa_guard_result r = feed(req, strlen(req), steps[i], &complete);

        CU_ASSERT_EQUAL(r, want);
        if (r != want)
            fprintf(stderr, "\n  step %zu: got %d, want %d for: %.160s\n",
                    steps[i], (int)r, (int)want, req);
        if (want == PA_GUARD_OK)
            CU_ASSERT(complete);
    }
}

/* Wraps inner in an envelope and a Content-Length request. */
static void expect_body(const char *inner, pa_guard_result want)
{
    char *body = envelope(inner), *req = post_cl(body);

    expect(req, want);
    free(req);
    free(body);
}

/* --- framing ---------------------------------------------------------------- */

/* A request with the given extra header lines and a small body. */
static char *post_with_headers(const char *headers, int chunked)
{
    static const char body[] = "<a/>";
    size_t n = strlen(headers) + 512;
    char *r = malloc(n);

    if (chunked)
        snprintf(r, n, "POST /s HTTP/1.1\r\nHost: h\r\n%s\r\n%zx\r\n%s\r\n0\r\n\r\n",
                 headers, strlen(body), body);
    else
        snprintf(r, n, "POST /s HTTP/1.1\r\nHost: h\r\n%s"
                 "Content-Length: %zu\r\n\r\n%s", headers, strlen(body), body);
    return r;
}

static void expect_headers(const char *headers, int chunked, pa_guard_result want)
{
    char *req = post_with_headers(headers, chunked);

    expect(req, want);
    free(req);
}

/* gSOAP inflates a compressed body itself, behind the guard: refused. */
static void test_content_encoding_refused(void)
{
    expect_headers("Content-Encoding: gzip\r\n", 0, PA_GUARD_ENCODING);
    expect_headers("content-encoding: Deflate\r\n", 0, PA_GUARD_ENCODING);
    expect_headers("Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", 1,
                   PA_GUARD_ENCODING);
    expect_headers("Content-Encoding:  identity \r\n", 0, PA_GUARD_OK);
}

/* The guard must read the framing exactly as gSOAP does. */
static void test_framing_headers_read_exactly(void)
{
    char pad[400];

    /* a Transfer-Encoding padded beyond the line buffer */
    snprintf(pad, sizeof pad, "Transfer-Encoding:%*s chunked\r\n", 150, "");
    expect_headers(pad, 1, PA_GUARD_FRAMING);
    /* only exactly "chunked", in any case and with blanks around it */
    expect_headers("Transfer-Encoding: gzip, chunked\r\n", 1, PA_GUARD_FRAMING);
    expect_headers("Transfer-Encoding: xchunked\r\n", 1, PA_GUARD_FRAMING);
    expect_headers("Transfer-Encoding:  Chunked \r\n", 1, PA_GUARD_OK);
    /* both framings, or the length twice, or a length that is no number */
    expect_headers("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", 1,
                   PA_GUARD_FRAMING);
    expect_headers("Content-Length: 4\r\n", 0, PA_GUARD_FRAMING);
    expect_headers("Content-Length: 4x\r\n", 1, PA_GUARD_FRAMING);
    expect_headers("Content-Length: -4\r\n", 1, PA_GUARD_FRAMING);
    snprintf(pad, sizeof pad, "Content-Length:%*s4\r\n", 150, "");
    expect_headers(pad, 1, PA_GUARD_FRAMING);
}

static void test_content_length_completion(void)
{
    char *body = envelope("<GetSystemStatusRequest xmlns=\"urn:x\"/>");
    char *req = post_cl(body);
    size_t len = strlen(req);
    pa_guard g;

    pa_guard_reset(&g, DEPTH);
    CU_ASSERT(!g.started);
    /* incomplete up to the last byte of the body, complete with it */
    CU_ASSERT_EQUAL(pa_guard_feed(&g, req, len - 1), PA_GUARD_OK);
    CU_ASSERT(g.started);
    CU_ASSERT(!pa_guard_complete(&g));
    CU_ASSERT_EQUAL(pa_guard_feed(&g, req + len - 1, 1), PA_GUARD_OK);
    CU_ASSERT(pa_guard_complete(&g));
    free(req);
    free(body);
}

static void test_headers_only_request(void)
{
    static const char get[] = "GET /x/soap/serviceV3.wsdl HTTP/1.1\r\nHost: h\r\n\r\n";
    pa_guard g;

    pa_guard_reset(&g, DEPTH);
    CU_ASSERT_EQUAL(pa_guard_feed(&g, get, sizeof get - 2), PA_GUARD_OK);
    CU_ASSERT(!pa_guard_complete(&g));          /* blank line not yet seen */
    CU_ASSERT_EQUAL(pa_guard_feed(&g, get + sizeof get - 2, 1), PA_GUARD_OK);
    CU_ASSERT(pa_guard_complete(&g));
}

static void test_header_names_any_case(void)
{
    static const char req[] =
        "POST /s HTTP/1.1\r\ncontent-length:  5\r\n\r\n<a/>\n";
    int complete = 0;

    CU_ASSERT_EQUAL(feed(req, strlen(req) - 1, 0, &complete), PA_GUARD_OK);
    CU_ASSERT(!complete);
    CU_ASSERT_EQUAL(feed(req, strlen(req), 0, &complete), PA_GUARD_OK);
    CU_ASSERT(complete);
}

static void test_chunked_completion(void)
{
    static const size_t cuts[] = {10, 50, 0};
    char *body = envelope("<GetSystemStatusRequest xmlns=\"urn:x\"/>");
    char *req = post_chunked(body, cuts);
    size_t len = strlen(req);
    int complete = 0;

    expect(req, PA_GUARD_OK);
    /* the final "0\r\n\r\n" is what completes it */
    CU_ASSERT_EQUAL(feed(req, len - 2, 1, &complete), PA_GUARD_OK);
    CU_ASSERT(!complete);
    CU_ASSERT_EQUAL(feed(req, len, 1, &complete), PA_GUARD_OK);
    CU_ASSERT(complete);
    free(req);
    free(body);
}

static void test_chunked_with_extension_and_trailer(void)
{
    static const char req[] =
        "POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        "4;name=value\r\n<a/>\r\n0\r\nX-Trailer: 1\r\n\r\n";

    expect(req, PA_GUARD_OK);
}

static void test_bad_chunk_size(void)
{
    static const char bad_digit[] =
        "POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4g\r\n<a/>\r\n0\r\n\r\n";
    static const char no_crlf_after_data[] =
        "POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n<a/>\r\n0\r\n\r\n";
    static const char huge[] =
        "POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        "1ffffffffffffffff\r\n<a/>\r\n0\r\n\r\n";

    expect(bad_digit, PA_GUARD_FRAMING);
    expect(no_crlf_after_data, PA_GUARD_FRAMING);
    expect(huge, PA_GUARD_FRAMING);
}

static void test_failure_is_sticky(void)
{
    static const char bad[] =
        "POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    pa_guard g;

    pa_guard_reset(&g, DEPTH);
    CU_ASSERT_EQUAL(pa_guard_feed(&g, bad, strlen(bad)), PA_GUARD_FRAMING);
    CU_ASSERT_EQUAL(pa_guard_feed(&g, "0\r\n\r\n", 5), PA_GUARD_FRAMING);
    CU_ASSERT(!pa_guard_complete(&g));
}

static void test_pipelined_second_request(void)
{
    char *ok = envelope("<A xmlns=\"urn:x\"/>");
    char *dtd = envelope("<!DOCTYPE x><A/>");
    char *r1 = post_cl(ok), *r2 = post_cl(ok), *r3 = post_cl(dtd);
    size_t l1 = strlen(r1), l2 = strlen(r2);
    char *both = malloc(l1 + l2 + 1), *bad = malloc(l1 + strlen(r3) + 1);
    pa_guard g;

    memcpy(both, r1, l1);
    memcpy(both + l1, r2, l2 + 1);
    /* the first request completes; the guard then starts on the second */
    pa_guard_reset(&g, DEPTH);
    CU_ASSERT_EQUAL(pa_guard_feed(&g, both, l1), PA_GUARD_OK);
    CU_ASSERT(pa_guard_complete(&g));
    CU_ASSERT_EQUAL(pa_guard_feed(&g, both + l1, 10), PA_GUARD_OK);
    CU_ASSERT(!pa_guard_complete(&g));
    CU_ASSERT_EQUAL(pa_guard_feed(&g, both + l1 + 10, l2 - 10), PA_GUARD_OK);
    CU_ASSERT(pa_guard_complete(&g));
    /* both in one read, also byte by byte */
    expect(both, PA_GUARD_OK);
    /* the second request is checked like the first: depth starts at 0
     * again (each has depth 3 = S:Envelope, S:Body, A) and a DTD in it is
     * refused */
    memcpy(bad, r1, l1);
    strcpy(bad + l1, r3);
    expect(bad, PA_GUARD_DTD);
    free(both);
    free(bad);
    free(r1);
    free(r2);
    free(r3);
    free(ok);
    free(dtd);
}

static void test_take_stops_at_request_end(void)
{
    static const size_t cuts[] = {20, 0};
    static const char bad[] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz";
    char *body = envelope("<A xmlns=\"urn:x\"/>");
    char *r1 = post_chunked(body, cuts), *r2 = post_cl(body);
    size_t l1 = strlen(r1), l2 = strlen(r2), took;
    char *both = malloc(l1 + l2 + 1);
    pa_guard_result r;
    pa_guard g;

    memcpy(both, r1, l1);
    memcpy(both + l1, r2, l2 + 1);
    /* all at once: exactly the first request is taken, not a byte more */
    pa_guard_reset(&g, DEPTH);
    took = pa_guard_take(&g, both, l1 + l2, &r);
    CU_ASSERT_EQUAL(r, PA_GUARD_OK);
    CU_ASSERT_EQUAL(took, l1);
    CU_ASSERT(pa_guard_complete(&g));
    CU_ASSERT_EQUAL(pa_guard_take(&g, both + took, l2, &r), 0);   /* done: no more */
    /* the rest is the next request, after a reset */
    pa_guard_reset(&g, DEPTH);
    CU_ASSERT_EQUAL(pa_guard_take(&g, both + l1, l2, &r), l2);
    CU_ASSERT_EQUAL(r, PA_GUARD_OK);
    CU_ASSERT(pa_guard_complete(&g));
    /* in pieces: each piece is taken whole until the end falls inside one */
    pa_guard_reset(&g, DEPTH);
    CU_ASSERT_EQUAL(pa_guard_take(&g, both, 10, &r), 10);
    CU_ASSERT(!pa_guard_complete(&g));
    CU_ASSERT_EQUAL(pa_guard_take(&g, both + 10, l1 + 5 - 10, &r), l1 - 10);
    CU_ASSERT(pa_guard_complete(&g));
    /* a refusal is reported, with the bytes taken up to it */
    pa_guard_reset(&g, DEPTH);
    took = pa_guard_take(&g, bad, sizeof bad - 1, &r);
    CU_ASSERT_EQUAL(r, PA_GUARD_FRAMING);
    CU_ASSERT_EQUAL(took, sizeof bad - 2);          /* the first 'z' */
    free(both);
    free(r1);
    free(r2);
    free(body);
}

/* --- markup declarations ------------------------------------------------- */

static void test_doctype_refused(void)
{
    char *body = malloc(1024), *req;

    snprintf(body, 1024, "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]>%s<A/>%s",
             ENV_HEAD, ENV_TAIL);
    req = post_cl(body);
    expect(req, PA_GUARD_DTD);
    free(req);
    free(body);
}

static void test_entity_and_other_declarations_refused(void)
{
    expect_body("<!ENTITY a \"b\"><A/>", PA_GUARD_DTD);
    expect_body("<A><!ELEMENT a ANY></A>", PA_GUARD_DTD);
    expect_body("<A><!ATTLIST a b CDATA #IMPLIED></A>", PA_GUARD_DTD);
    expect_body("<A><!doctype x></A>", PA_GUARD_DTD);       /* any case */
    expect_body("<A><!-x></A>", PA_GUARD_DTD);              /* not a comment */
    expect_body("<A><![CDAT x]]></A>", PA_GUARD_DTD);       /* not CDATA */
}

static void test_doctype_split_across_chunks(void)
{
    char body[512], *req;
    const char *p;
    size_t cuts[4];

    snprintf(body, sizeof body, "<!DOCTYPE x>%s<A/>%s", ENV_HEAD, ENV_TAIL);
    /* "<!DOC" | "TYPE": the chunk framing between them is not XML */
    p = strstr(body, "TYPE");
    cuts[0] = (size_t)(p - body);
    cuts[1] = 0;
    req = post_chunked(body, cuts);
    CU_ASSERT_PTR_NOT_NULL(strstr(req, "<!DOC\r\n"));
    expect(req, PA_GUARD_DTD);
    free(req);
    /* "<" | "!" | "DOCTYPE" in three chunks */
    cuts[0] = 1;
    cuts[1] = 2;
    cuts[2] = 0;
    req = post_chunked(body, cuts);
    expect(req, PA_GUARD_DTD);
    free(req);
}

static void test_comment_and_cdata_accepted(void)
{
    expect_body("<A><!-- <!DOCTYPE x> <!ENTITY y> - -- --></A>", PA_GUARD_OK);
    expect_body("<A><![CDATA[<!DOCTYPE x><b><c><d><e>]]></A>", PA_GUARD_OK);
    expect_body("<A><![CDATA[ ] ]] ]>]]></A>", PA_GUARD_OK);
    /* after a comment or CDATA ends, markup is checked again */
    expect_body("<A><!-- c --><!DOCTYPE x></A>", PA_GUARD_DTD);
    expect_body("<A><![CDATA[x]]><!ENTITY y></A>", PA_GUARD_DTD);
}

static void test_processing_instruction_accepted(void)
{
    expect_body("<?pi a > b <!DOCTYPE x> <c><d><e><f>?><A/>", PA_GUARD_OK);
    expect_body("<A><?pi x?></A>", PA_GUARD_OK);
}

/* --- depth ------------------------------------------------------------------ */

/* S:Envelope and S:Body are 2 levels, so inner may nest DEPTH - 2 more. */
static void test_depth_limit(void)
{
    expect_body("<A><B/></A>", PA_GUARD_OK);                /* 3 + empty */
    expect_body("<A><B></B></A>", PA_GUARD_OK);             /* exactly 4 */
    expect_body("<A><B><C></C></B></A>", PA_GUARD_DEPTH);   /* 5 */
    /* closing tags give depth back: siblings at the limit are fine */
    expect_body("<A><B>x</B><B>y</B><B/></A>", PA_GUARD_OK);
}

static void test_self_closing_not_counted(void)
{
    expect_body("<A><B><C/><C/><C /><C a=\"1\"/></B></A>", PA_GUARD_OK);
    expect_body("<A><B><C/><C></C></B></A>", PA_GUARD_DEPTH);
}

static void test_quoted_gt_and_slash_in_attributes(void)
{
    /* '>' inside a value does not end the tag; '/' before the closing
     * quote does not make it self-closing */
    expect_body("<A x=\"a>b\" y='c>d'><B z=\"/\"></B></A>", PA_GUARD_OK);
    expect_body("<A x=\"a>b\"><B z=\"/\"><C/></B></A>", PA_GUARD_OK);
    expect_body("<A x=\"/\"><B z='/'><C q=\"/\"></C></B></A>", PA_GUARD_DEPTH);
    /* a "<!DOCTYPE" inside an attribute value is text, not markup */
    expect_body("<A x=\"<!DOCTYPE y>\"/>", PA_GUARD_OK);
}

/* --- well-formedness of tags ------------------------------------------------ */

static void test_end_tag_must_match(void)
{
    expect_body("<A></A>", PA_GUARD_OK);
    expect_body("<p:A xmlns:p=\"urn:x\"><p:B a=\"1\">t</p:B ></p:A\n>", PA_GUARD_OK);
    expect_body("<A><B></A></B>", PA_GUARD_MALFORMED);     /* crossed */
    expect_body("<A></a>", PA_GUARD_MALFORMED);            /* names are case-sensitive */
    expect_body("<p:A></q:A>", PA_GUARD_MALFORMED);        /* the prefix is part of it */
    expect_body("<A></AB>", PA_GUARD_MALFORMED);
    expect_body("<AB></A>", PA_GUARD_MALFORMED);
    expect_body("<A/></A>", PA_GUARD_MALFORMED);           /* nothing open to close */
}

static void test_mismatched_envelope_end_tag(void)
{
    char *body = envelope("<GetSystemStatusRequest xmlns=\"urn:x\"/>"), *req;

    memcpy(strstr(body, "</S:Body>"), "</S:Bdy>>", 9);    /* as a test client sends */
    req = post_cl(body);
    expect(req, PA_GUARD_MALFORMED);
    free(req);
    free(body);
}

static void test_extra_end_tag(void)
{
    char *body = malloc(512), *req;

    snprintf(body, 512, "%s<A/>%s</S:Envelope>", ENV_HEAD, ENV_TAIL);
    req = post_cl(body);
    expect(req, PA_GUARD_MALFORMED);
    free(req);
    free(body);
}

static void test_nothing_but_misc_after_root(void)
{
    static const char *ok[] = {
        "", "\r\n", " \t\n", "<!-- c -->\n", "<?pi x?>",
    };
    static const char *bad[] = {
        "<junk/>", "<S:Envelope>", "x", "\n</S:Envelope>", " &amp;",
    };
    char body[512], *req;

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        snprintf(body, sizeof body, "%s<A/>%s%s", ENV_HEAD, ENV_TAIL, ok[i]);
        req = post_cl(body);
        expect(req, PA_GUARD_OK);
        free(req);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(body, sizeof body, "%s<A/>%s%s", ENV_HEAD, ENV_TAIL, bad[i]);
        req = post_cl(body);
        expect(req, PA_GUARD_MALFORMED);
        free(req);
    }
    /* a self-closing root ends the document too */
    req = post_cl("<?xml version=\"1.0\"?><a/><b/>");
    expect(req, PA_GUARD_MALFORMED);
    free(req);
}

/* --- body size ---------------------------------------------------------------- */

static void test_body_bytes_counted(void)
{
    static const size_t cuts[] = {1, 2, 3, 30, 0};
    char *body = envelope("<A>text</A>"), *cl = post_cl(body), *ch = post_chunked(body, cuts);
    pa_guard g;

    pa_guard_reset(&g, DEPTH);
    CU_ASSERT_EQUAL(pa_guard_feed(&g, cl, strlen(cl)), PA_GUARD_OK);
    CU_ASSERT_EQUAL(g.body_bytes, strlen(body));
    /* chunk sizes, extensions and CRLFs are framing, not body */
    pa_guard_reset(&g, DEPTH);
    for (size_t i = 0; ch[i]; i++)
        CU_ASSERT_EQUAL(pa_guard_feed(&g, ch + i, 1), PA_GUARD_OK);
    CU_ASSERT(pa_guard_complete(&g));
    CU_ASSERT_EQUAL(g.body_bytes, strlen(body));
    /* a request without a body */
    pa_guard_reset(&g, DEPTH);
    CU_ASSERT_EQUAL(pa_guard_feed(&g, "GET / HTTP/1.1\r\n\r\n", 18), PA_GUARD_OK);
    CU_ASSERT_EQUAL(g.body_bytes, 0);
    free(body);
    free(cl);
    free(ch);
}

/* --- characters, references, attributes, header bytes ------------------------ */

/* Feeds inner (n bytes, NULs allowed) inside an envelope with
 * Content-Length framing, whole and byte by byte, under the given limits
 * (NULL: defaults); both verdicts must be want. */
static void expect_raw_body(const char *inner, size_t n, const pa_guard_limits *lim,
                            pa_guard_result want)
{
    size_t hl = strlen(ENV_HEAD), tl = strlen(ENV_TAIL), bl = hl + n + tl;
    char head[256], *req;
    int h = snprintf(head, sizeof head,
                     "POST /s HTTP/1.1\r\nHost: h\r\nContent-Length: %zu\r\n\r\n", bl);

    req = malloc((size_t)h + bl);
    memcpy(req, head, (size_t)h);
    memcpy(req + h, ENV_HEAD, hl);
    memcpy(req + h + hl, inner, n);
    memcpy(req + h + hl + n, ENV_TAIL, tl);
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        pa_guard g;
        pa_guard_result r = PA_GUARD_OK;
        size_t len = (size_t)h + bl;

        pa_guard_reset(&g, DEPTH);
        pa_guard_set_limits(&g, lim);
        if (bytewise)
            for (size_t i = 0; i < len && r == PA_GUARD_OK; i++)
                r = pa_guard_feed(&g, req + i, 1);
        else
            r = pa_guard_feed(&g, req, len);
        CU_ASSERT_EQUAL(r, want);
        if (r != want)
            fprintf(stderr, "\n  bytewise %d: got %d, want %d for body %.80s\n",
                    bytewise, (int)r, (int)want, inner);
        if (want == PA_GUARD_OK)
            CU_ASSERT(pa_guard_complete(&g));
    }
    free(req);
}

static void expect_inner(const char *inner, pa_guard_result want)
{
    expect_raw_body(inner, strlen(inner), NULL, want);
}

static void expect_inner_lim(const char *inner, const pa_guard_limits *lim,
                             pa_guard_result want)
{
    expect_raw_body(inner, strlen(inner), lim, want);
}

/* Invalid UTF-8 and characters XML forbids never reach gSOAP, which
 * stored "bad\xff\xfe" as "bad\xc3\xbf\xc3\xbe" and cut "nul\0after" to "nul". */
static void test_utf8_and_xml_characters(void)
{
    static const char nul[] = "<A>nul\0after</A>";

    expect_inner("<A>caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e</A>", PA_GUARD_OK);
    expect_inner("<A b=\"\xc5\xbe\">\xef\xbb\xbf</A>", PA_GUARD_OK);
    expect_inner("<A>tab\tcr\rlf\n</A>", PA_GUARD_OK);
    expect_inner("<A>bad\xff\xfe</A>", PA_GUARD_CHARSET);
    expect_inner("<A>\xc0\xbc</A>", PA_GUARD_CHARSET);          /* overlong '<' */
    expect_inner("<A>\xe0\x80\xbc</A>", PA_GUARD_CHARSET);      /* overlong, 3 bytes */
    expect_inner("<A>\xf0\x80\x80\xbc</A>", PA_GUARD_CHARSET);  /* overlong, 4 bytes */
    expect_inner("<A>\xed\xa0\x80</A>", PA_GUARD_CHARSET);      /* surrogate */
    expect_inner("<A>\xf4\x90\x80\x80</A>", PA_GUARD_CHARSET);  /* > U+10FFFF */
    expect_inner("<A>\xef\xbf\xbe</A>", PA_GUARD_CHARSET);      /* U+FFFE */
    expect_inner("<A>\x80</A>", PA_GUARD_CHARSET);              /* stray continuation */
    expect_inner("<A>\xc3</A>", PA_GUARD_CHARSET);              /* cut short */
    expect_inner("<A>\x01</A>", PA_GUARD_CHARSET);
    expect_inner("<A b=\"\x1b\"/>", PA_GUARD_CHARSET);
    expect_raw_body(nul, sizeof nul - 1, NULL, PA_GUARD_CHARSET);
    /* a body that ends inside a character: the last byte is a lead byte */
    {
        static const char req[] = "POST /s HTTP/1.1\r\nContent-Length: 5\r\n\r\n<a>\xe2\x82";
        CU_ASSERT_EQUAL(feed(req, sizeof req - 1, 0, NULL), PA_GUARD_CHARSET);
    }
}

/* Only the five predefined entities and character references to allowed
 * characters; gSOAP turned "&undefined;" into "\x7f" + "ed;". */
static void test_references(void)
{
    expect_inner("<A>&lt;&gt;&amp;&quot;&apos;&#65;&#x41;&#x1F600;&#xd7ff;</A>",
                 PA_GUARD_OK);
    expect_inner("<A b=\"x&amp;y&#34;\"/>", PA_GUARD_OK);
    expect_inner("<A><![CDATA[&bogus;]]><!-- &bogus; --></A>", PA_GUARD_OK);
    expect_inner("<A>&undefined;</A>", PA_GUARD_ENTITY);
    expect_inner("<A>&LT;</A>", PA_GUARD_ENTITY);
    expect_inner("<A b=\"&bogus;\"/>", PA_GUARD_ENTITY);
    expect_inner("<A>&#0;</A>", PA_GUARD_ENTITY);
    expect_inner("<A>&#x0;</A>", PA_GUARD_ENTITY);
    expect_inner("<A>&#8;</A>", PA_GUARD_ENTITY);
    expect_inner("<A>&#xD800;</A>", PA_GUARD_ENTITY);
    expect_inner("<A>&#xFFFE;</A>", PA_GUARD_ENTITY);
    expect_inner("<A>&#x110000;</A>", PA_GUARD_ENTITY);
    expect_inner("<A>&#99999999;</A>", PA_GUARD_ENTITY);
    expect_inner("<A>&#;</A>", PA_GUARD_ENTITY);
    expect_inner("<A>&#x;</A>", PA_GUARD_ENTITY);
    expect_inner("<A>&#1a;</A>", PA_GUARD_ENTITY);
    expect_inner("<A>&lt</A>", PA_GUARD_ENTITY);                 /* never closed */
    expect_inner("<A>a & b</A>", PA_GUARD_ENTITY);
    expect_inner("<A b=\"&lt\"/>", PA_GUARD_ENTITY);
    expect_inner("<A>&aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa;</A>", PA_GUARD_ENTITY);
}

/* n attributes named a0.. (or xmlns:p0.. when ns) on one element. */
static char *many_attributes(int n, int ns)
{
    size_t cap = (size_t)n * 32 + 16, o = 0;
    char *r = malloc(cap);

    o += (size_t)snprintf(r + o, cap - o, "<A");
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(r + o, cap - o, ns ? " xmlns:p%d=\"urn:%d\"" : " a%d=\"%d\"",
                              i, i);
    snprintf(r + o, cap - o, "/>");
    return r;
}

static void test_attribute_limits(void)
{
    pa_guard_limits small = {4, 2, 0};
    char *r;

    r = many_attributes(PA_GUARD_DEFAULT_ATTRIBUTES, 0);
    expect_inner(r, PA_GUARD_OK);
    free(r);
    r = many_attributes(PA_GUARD_DEFAULT_ATTRIBUTES + 1, 0);
    expect_inner(r, PA_GUARD_ATTRIBUTES);
    free(r);
    r = many_attributes(PA_GUARD_DEFAULT_NAMESPACES, 1);
    expect_inner(r, PA_GUARD_OK);
    free(r);
    r = many_attributes(PA_GUARD_DEFAULT_NAMESPACES + 1, 1);
    expect_inner(r, PA_GUARD_ATTRIBUTES);
    free(r);
    /* configured limits, and what counts: per element, names only */
    expect_inner_lim("<A a=\"1\" b='2' c = \"3\" d=\"a=b c=d\"/>", &small, PA_GUARD_OK);
    expect_inner_lim("<A a=\"1\" b='2' c = \"3\" d=\"4\" e=\"5\"/>", &small,
                    PA_GUARD_ATTRIBUTES);
    expect_inner_lim("<A a=\"1\" b=\"2\" c=\"3\"><B a=\"1\" b=\"2\" c=\"3\"/></A>", &small,
                    PA_GUARD_OK);
    expect_inner_lim("<A xmlns=\"urn:a\" xmlns:b=\"urn:b\" xmlnsx=\"1\"/>", &small,
                    PA_GUARD_OK);
    expect_inner_lim("<A xmlns=\"urn:a\" xmlns:b=\"urn:b\" xmlns:c=\"urn:c\"/>", &small,
                    PA_GUARD_ATTRIBUTES);
}

/* Header, chunk-line, chunk-extension and trailer bytes are limited; a
 * field name must reach its colon without white space. */
static void test_header_bytes_and_names(void)
{
    pa_guard_limits lim = {0, 0, 1024};
    char big[2048], *req;
    pa_guard g;

    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    /* one long header line */
    req = malloc(4096);
    snprintf(req, 4096, "POST /s HTTP/1.1\r\nX-Long: %s\r\nContent-Length: 4\r\n\r\n<a/>", big);
    pa_guard_reset(&g, DEPTH);
    pa_guard_set_limits(&g, &lim);
    CU_ASSERT_EQUAL(pa_guard_feed(&g, req, strlen(req)), PA_GUARD_HEADERS);
    /* within the default limit */
    CU_ASSERT_EQUAL(feed(req, strlen(req), 0, NULL), PA_GUARD_OK);
    /* an endless chunk extension, fed in pieces as a client would send it */
    pa_guard_reset(&g, DEPTH);
    pa_guard_set_limits(&g, &lim);
    snprintf(req, 4096, "POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=");
    CU_ASSERT_EQUAL(pa_guard_feed(&g, req, strlen(req)), PA_GUARD_OK);
    CU_ASSERT_EQUAL(pa_guard_feed(&g, big, 512), PA_GUARD_OK);
    CU_ASSERT_EQUAL(pa_guard_feed(&g, big, 512), PA_GUARD_HEADERS);
    /* trailers count too */
    pa_guard_reset(&g, DEPTH);
    pa_guard_set_limits(&g, &lim);
    snprintf(req, 4096, "POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
             "4\r\n<a/>\r\n0\r\nX-T: %s\r\n\r\n", big);
    CU_ASSERT_EQUAL(pa_guard_feed(&g, req, strlen(req)), PA_GUARD_HEADERS);
    /* the limits survive into a pipelined next request */
    pa_guard_reset(&g, DEPTH);
    pa_guard_set_limits(&g, &lim);
    snprintf(req, 4096, "POST /s HTTP/1.1\r\nContent-Length: 4\r\n\r\n<a/>"
             "POST /s HTTP/1.1\r\nX-Long: %.1100s\r\n\r\n", big);
    CU_ASSERT_EQUAL(pa_guard_feed(&g, req, strlen(req)), PA_GUARD_HEADERS);
    free(req);

    expect_headers("Transfer-Encoding : chunked\r\n", 1, PA_GUARD_FRAMING);
    expect_headers("Content-Length\t: 4\r\n", 0, PA_GUARD_FRAMING);
    expect_headers("X-Folded: a\r\n continued\r\n", 0, PA_GUARD_FRAMING);
    expect_headers("No colon here\r\n", 0, PA_GUARD_FRAMING);
    expect_headers("X-Empty:\r\nX-Spaces:   a b : c  \r\n", 0, PA_GUARD_OK);
    /* an empty line before the request line is tolerated */
    expect("\r\nPOST /s HTTP/1.1\r\nContent-Length: 4\r\n\r\n<a/>", PA_GUARD_OK);
}

/* The guard counts WS-Security headers and UsernameTokens by place and
 * local name (gSOAP keeps the first of each and drops the rest unseen). */
static void count_security(const char *doc, int *headers, int *tokens)
{
    char *req = post_cl(doc);
    pa_guard g;

    pa_guard_reset(&g, 16);
    CU_ASSERT_EQUAL(pa_guard_feed(&g, req, strlen(req)), PA_GUARD_OK);
    CU_ASSERT(pa_guard_complete(&g));
    *headers = g.security_headers;
    *tokens = g.username_tokens;
    free(req);
}

static void test_security_headers_counted(void)
{
#define SEC(p) "<" p "Security><" p "UsernameToken><" p "Username>u</" p "Username></" \
               p "UsernameToken></" p "Security>"
    static const char head[] = "<S:Envelope xmlns:S=\"s\" xmlns:w=\"w\"><S:Header>";
    char doc[1024];
    int h = 0, t = 0;

    snprintf(doc, sizeof doc, "%s" SEC("w:") "</S:Header><S:Body/></S:Envelope>", head);
    count_security(doc, &h, &t);
    CU_ASSERT_EQUAL(h, 1);
    CU_ASSERT_EQUAL(t, 1);
    snprintf(doc, sizeof doc, "%s" SEC("w:") SEC("") "</S:Header><S:Body/></S:Envelope>",
             head);
    count_security(doc, &h, &t);
    CU_ASSERT_EQUAL(h, 2);
    CU_ASSERT_EQUAL(t, 2);
    snprintf(doc, sizeof doc, "%s<w:Security><w:UsernameToken/><w:UsernameToken>"
             "</w:UsernameToken></w:Security></S:Header><S:Body/></S:Envelope>", head);
    count_security(doc, &h, &t);
    CU_ASSERT_EQUAL(h, 1);
    CU_ASSERT_EQUAL(t, 2);
    /* elsewhere than Envelope/Header: not a header */
    snprintf(doc, sizeof doc, "%s</S:Header><S:Body><x:Op xmlns:x=\"x\">" SEC("w:")
             "</x:Op></S:Body></S:Envelope>", head);
    count_security(doc, &h, &t);
    CU_ASSERT_EQUAL(h, 0);
    CU_ASSERT_EQUAL(t, 0);
    /* names that only start or end like it */
    snprintf(doc, sizeof doc, "%s<w:SecurityX/><w:XSecurity/><Securit/>"
             "</S:Header><S:Body/></S:Envelope>", head);
    count_security(doc, &h, &t);
    CU_ASSERT_EQUAL(h, 0);
#undef SEC
}

/* The operation: the local name of the Body's only child, whatever its
 * prefix; elements in the Header or deeper in the Body do not count. */
static void test_operation_noted(void)
{
    static const char *const docs[] = {
        "<S:Envelope xmlns:S=\"s\"><S:Header><x:GetSystemStatusRequest/></S:Header>"
        "<S:Body><p:GetApplicationDetailRequest xmlns:p=\"p\"><p:x><GetSystemStatusRequest/>"
        "</p:x></p:GetApplicationDetailRequest></S:Body></S:Envelope>",
        "<Envelope><Body><GetApplicationDetailRequest/></Body></Envelope>",
        "<S:Envelope xmlns:S=\"s\"><S:Body><GetApplicationDetailRequest/>"
        "<VerifySignatureRequest/></S:Body></S:Envelope>",
    };
    static const int children[] = {1, 1, 2};
    uint32_t want = pa_guard_name_hash("GetApplicationDetailRequest");

    /* the constant the guard uses for "Body", and a known FNV-1a value */
    CU_ASSERT_EQUAL(pa_guard_name_hash("Body"), 0x428a1095u);
    CU_ASSERT_EQUAL(pa_guard_name_hash(""), 2166136261u);
    CU_ASSERT_NOT_EQUAL(want, pa_guard_name_hash("GetSystemStatusRequest"));
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
        char *req = post_cl(docs[i]);
        pa_guard g;

        pa_guard_reset(&g, 16);
        CU_ASSERT_EQUAL(pa_guard_feed(&g, req, strlen(req)), PA_GUARD_OK);
        CU_ASSERT_EQUAL(g.body_children, children[i]);
        if (children[i] == 1)
            CU_ASSERT_EQUAL(g.operation, want);
        free(req);
    }
}

static int register_guard_suite(void)
{
    CU_pSuite s = CU_add_suite("guard", NULL, NULL);

    if (s == NULL
        || !CU_add_test(s, "Content-Length completion", test_content_length_completion)
        || !CU_add_test(s, "operation noted", test_operation_noted)
        || !CU_add_test(s, "request without body", test_headers_only_request)
        || !CU_add_test(s, "header names in any case", test_header_names_any_case)
        || !CU_add_test(s, "Content-Encoding refused", test_content_encoding_refused)
        || !CU_add_test(s, "framing headers read exactly", test_framing_headers_read_exactly)
        || !CU_add_test(s, "chunked completion", test_chunked_completion)
        || !CU_add_test(s, "chunk extension and trailer", test_chunked_with_extension_and_trailer)
        || !CU_add_test(s, "bad chunk size", test_bad_chunk_size)
        || !CU_add_test(s, "failure is sticky", test_failure_is_sticky)
        || !CU_add_test(s, "pipelined second request", test_pipelined_second_request)
        || !CU_add_test(s, "take stops at the request's end", test_take_stops_at_request_end)
        || !CU_add_test(s, "DOCTYPE refused", test_doctype_refused)
        || !CU_add_test(s, "ENTITY and other declarations refused",
                        test_entity_and_other_declarations_refused)
        || !CU_add_test(s, "DOCTYPE split across chunks", test_doctype_split_across_chunks)
        || !CU_add_test(s, "comments and CDATA accepted", test_comment_and_cdata_accepted)
        || !CU_add_test(s, "processing instructions accepted",
                        test_processing_instruction_accepted)
        || !CU_add_test(s, "depth limit", test_depth_limit)
        || !CU_add_test(s, "self-closing tags not counted", test_self_closing_not_counted)
        || !CU_add_test(s, "quoted > and / in attributes",
                        test_quoted_gt_and_slash_in_attributes)
        || !CU_add_test(s, "end tag must match", test_end_tag_must_match)
        || !CU_add_test(s, "mismatched envelope end tag", test_mismatched_envelope_end_tag)
        || !CU_add_test(s, "extra end tag", test_extra_end_tag)
        || !CU_add_test(s, "nothing but comments, PIs, space after the root",
                        test_nothing_but_misc_after_root)
        || !CU_add_test(s, "body bytes counted", test_body_bytes_counted)
        || !CU_add_test(s, "UTF-8 and XML characters", test_utf8_and_xml_characters)
        || !CU_add_test(s, "entity and character references", test_references)
        || !CU_add_test(s, "attribute and namespace limits", test_attribute_limits)
        || !CU_add_test(s, "header bytes and field names", test_header_bytes_and_names)
        || !CU_add_test(s, "WS-Security headers counted", test_security_headers_counted))
        return -1;
    return 0;
}

int main(void)
{
    unsigned failures;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    if (register_guard_suite() != 0) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = pa_cunit_failures();
    if (CU_get_number_of_tests_run() == 0)
        failures++;
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
