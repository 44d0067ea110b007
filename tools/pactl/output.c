/*
 * output.c - how pactl prints results and failures.
 *
 * A result is one JSON object.  --json prints it as is (one line).  The
 * text form prints the object's scalar members as aligned "key  value"
 * lines and each array of objects as a table whose header is the member
 * keys; a result that is nothing but one list prints just the table.
 * Keys are the SOAP contract's field names in both forms, so what a user
 * reads in the text form is what a script finds in the JSON.
 */
#include <inttypes.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "service/errors.h"
#include "tools/pactl/pactl.h"

/* ---- failures ------------------------------------------------------------------ */

void pactl_fail_code(pactl_fail *f, pa_err e)
{
    f->code = e;
    snprintf(f->text, sizeof f->text, "%s", pa_errors_message(e, "en"));
}

void pactl_fail_text(pactl_fail *f, const char *fmt, ...)
{
    va_list ap;

    f->code = PA_OK;
    va_start(ap, fmt);
    vsnprintf(f->text, sizeof f->text, fmt, ap);
    va_end(ap);
}

void pactl_print_fail(const pactl_fail *f, int as_json)
{
    if (f->code != PA_OK)
        fprintf(stderr, "%s: %s\n", pa_err_code(f->code), f->text);
    else
        fprintf(stderr, "pactl: %s\n", f->text);
    if (as_json) {
        json_t *o = json_pack("{s:s?,s:s}", "errorCode",
                              f->code != PA_OK ? pa_err_code(f->code) : NULL,
                              "message", f->text);
        if (o != NULL) {
            json_dumpf(o, stdout, JSON_COMPACT);
            fputc('\n', stdout);
            json_decref(o);
        }
    }
}

/* ---- jansson memory that is wiped on free ------------------------------------- */

/* Each block carries its size in front, so the free function knows how
 * much to wipe.  The header keeps the payload maximally aligned. */
typedef union wiped_hdr {
    size_t size;
    max_align_t align;
} wiped_hdr;

static void *wiped_malloc(size_t n)
{
    wiped_hdr *h;

    if (n > SIZE_MAX - sizeof *h)
        return NULL;
    h = malloc(sizeof *h + n);
    if (h == NULL)
        return NULL;
    h->size = n;
    return h + 1;
}

static void wiped_free(void *p)
{
    wiped_hdr *h;

    if (p == NULL)
        return;
    h = (wiped_hdr *)p - 1;
    OPENSSL_cleanse(p, h->size);
    free(h);
}

void pactl_json_init(void)
{
    json_set_alloc_funcs(wiped_malloc, wiped_free);
}

/* ---- text form ------------------------------------------------------------------ */

/* Display width of UTF-8 text: one column per code point. */
static size_t text_width(const char *s)
{
    size_t w = 0;

    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

/* A scalar as text; buf holds numbers. */
static const char *scalar_text(const json_t *v, char *buf, size_t n)
{
    if (v == NULL)
        return "-";
    switch (json_typeof(v)) {
    case JSON_STRING: return json_string_value(v);
    case JSON_INTEGER:
        snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    case JSON_TRUE: return "true";
    case JSON_FALSE: return "false";
    default: return "-";
    }
}

static int is_scalar(const json_t *v)
{
    return !json_is_object(v) && !json_is_array(v);
}

static void print_padded(const char *s, size_t width)
{
    size_t w = text_width(s);

    fputs(s, stdout);
    for (; w < width; w++)
        fputc(' ', stdout);
}

/* Width of every column of a table of objects shaped like the first. */
static void table_widths(const json_t *rows, const json_t *first,
                         size_t *widths)
{
    const char *key;
    json_t *v;
    size_t i, c = 0;
    char buf[32];

    json_object_foreach((json_t *)first, key, v) {
        widths[c] = text_width(key);
        for (i = 0; i < json_array_size(rows); i++) {
            const json_t *cell = json_object_get(json_array_get(rows, i), key);
            size_t w = text_width(scalar_text(cell, buf, sizeof buf));
            if (w > widths[c])
                widths[c] = w;
        }
        c++;
    }
}

static void print_table(const json_t *rows, int indent)
{
    const json_t *first = json_array_get(rows, 0);
    size_t ncols, *widths, i, c;
    const char *key;
    json_t *v;
    char buf[32];

    if (!json_is_object(first)) {
        printf("%*s(none)\n", indent, "");
        return;
    }
    ncols = json_object_size(first);
    widths = calloc(ncols ? ncols : 1, sizeof *widths);
    if (widths == NULL)
        return;
    table_widths(rows, first, widths);
    printf("%*s", indent, "");
    c = 0;
    json_object_foreach((json_t *)first, key, v) {
        print_padded(key, c + 1 < ncols ? widths[c] + 2 : 0);
        c++;
    }
    fputc('\n', stdout);
    for (i = 0; i < json_array_size(rows); i++) {
        const json_t *row = json_array_get(rows, i);
        printf("%*s", indent, "");
        c = 0;
        json_object_foreach((json_t *)first, key, v) {
            const json_t *cell = json_object_get(row, key);
            print_padded(scalar_text(cell, buf, sizeof buf),
                         c + 1 < ncols ? widths[c] + 2 : 0);
            c++;
        }
        fputc('\n', stdout);
    }
    free(widths);
}

static void print_object(const json_t *o)
{
    const char *key;
    json_t *v;
    size_t keyw = 0, nscalars = 0;
    char buf[32];

    json_object_foreach((json_t *)o, key, v) {
        if (is_scalar(v)) {
            nscalars++;
            if (text_width(key) > keyw)
                keyw = text_width(key);
        }
    }
    json_object_foreach((json_t *)o, key, v) {
        if (!is_scalar(v))
            continue;
        print_padded(key, keyw + 2);
        printf("%s\n", scalar_text(v, buf, sizeof buf));
    }
    json_object_foreach((json_t *)o, key, v) {
        if (!json_is_array(v))
            continue;
        if (nscalars == 0 && json_object_size(o) == 1) {
            print_table(v, 0);
        } else {
            printf("%s:\n", key);
            print_table(v, 2);
        }
    }
}

void pactl_print(const pactl_cmd *cmd, const json_t *result, int as_json)
{
    if (as_json) {
        json_dumpf(result, stdout, JSON_COMPACT);
        fputc('\n', stdout);
    } else if (cmd->text_only != NULL) {
        char buf[32];
        printf("%s\n", scalar_text(json_object_get(result, cmd->text_only),
                                   buf, sizeof buf));
    } else {
        print_object(result);
    }
    fflush(stdout);
}
