/*
 * facts.c - fact sets and line lists for the contract test, and the
 * comparison of an expected against an actual fact set.
 *
 * The comparison walks both sets in insertion order (so differences come out
 * in the order of the tables and of the document) and looks the other side
 * up through an index kept sorted on insertion, which keeps it fast under
 * valgrind on the ~1500 facts of the v3 contract.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/contract/contract.h"

void ct_facts_init(ct_facts *fs)
{
    memset(fs, 0, sizeof(*fs));
}

void ct_facts_free(ct_facts *fs)
{
    for (size_t i = 0; i < fs->n; i++) {
        free(fs->v[i].subject);
        free(fs->v[i].attr);
        free(fs->v[i].value);
    }
    free(fs->v);
    free(fs->index);
    memset(fs, 0, sizeof(*fs));
}

/* Binary search in the sorted index: the slot of (subject, attr), or where
 * it would be inserted; *found tells which. */
static size_t index_search(const ct_facts *fs, const char *subject, const char *attr,
                           int *found)
{
    size_t lo = 0, hi = fs->n;

    *found = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const ct_fact *f = &fs->v[fs->index[mid]];
        int c = strcmp(subject, f->subject);

        if (c == 0)
            c = strcmp(attr, f->attr);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

const ct_fact *ct_facts_find(const ct_facts *fs, const char *subject, const char *attr)
{
    int found;
    size_t slot = index_search(fs, subject, attr, &found);

    return found ? &fs->v[fs->index[slot]] : NULL;
}

static int join_value(ct_fact *f, const char *value)
{
    size_t len = strlen(f->value) + strlen(value) + 4;
    char *joined = malloc(len);

    if (!joined)
        return -1;
    snprintf(joined, len, "%s | %s", f->value, value);
    free(f->value);
    f->value = joined;
    return 0;
}

static int facts_grow(ct_facts *fs)
{
    size_t cap = fs->cap ? fs->cap * 2 : 256;
    ct_fact *v = realloc(fs->v, cap * sizeof(*v));
    size_t *index;

    if (!v)
        return -1;
    fs->v = v;
    index = realloc(fs->index, cap * sizeof(*index));
    if (!index)
        return -1;
    fs->index = index;
    fs->cap = cap;
    return 0;
}

int ct_facts_add(ct_facts *fs, const char *subject, const char *attr, const char *value)
{
    int found;
    size_t slot = index_search(fs, subject, attr, &found);
    ct_fact *f;

    if (found)
        return join_value(&fs->v[fs->index[slot]], value);
    if (fs->n == fs->cap && facts_grow(fs) != 0)
        return -1;
    f = &fs->v[fs->n];
    f->subject = strdup(subject);
    f->attr = strdup(attr);
    f->value = strdup(value);
    if (!f->subject || !f->attr || !f->value) {
        free(f->subject);
        free(f->attr);
        free(f->value);
        return -1;
    }
    memmove(&fs->index[slot + 1], &fs->index[slot], (fs->n - slot) * sizeof(*fs->index));
    fs->index[slot] = fs->n++;
    return 0;
}

char *ct_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0, got;

    if (!f)
        return NULL;
    do {
        if (cap - n < 4096) {
            char *nbuf = realloc(buf, cap + 65536);

            if (!nbuf) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nbuf;
            cap += 65536;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
    } while (got > 0);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

void ct_lines_init(ct_lines *l)
{
    memset(l, 0, sizeof(*l));
}

void ct_lines_free(ct_lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

int ct_lines_addf(ct_lines *l, const char *fmt, ...)
{
    va_list ap;
    int len;
    char *line;

    va_start(ap, fmt);
    len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0 || !(line = malloc((size_t)len + 1)))
        return -1;
    va_start(ap, fmt);
    vsnprintf(line, (size_t)len + 1, fmt, ap);
    va_end(ap);
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **v = realloc(l->v, cap * sizeof(*v));

        if (!v) {
            free(line);
            return -1;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = line;
    return 0;
}

int ct_lines_contains(const ct_lines *l, const char *line)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], line) == 0)
            return 1;
    return 0;
}

size_t ct_compare(const ct_facts *expected, const ct_facts *actual, const char *label,
                  const char *expected_name, const char *actual_name, ct_lines *diffs)
{
    /* Against the tables a value is "expected"; against another file (the XSD
     * against the WSDL) the line names that file instead. */
    int tables = strcmp(expected_name, "the contract") == 0;
    const char *word = tables ? "expected" : "in";
    const char *where = tables ? "" : expected_name;
    size_t before = diffs->n;

    for (size_t i = 0; i < expected->n; i++) {
        const ct_fact *e = &expected->v[i];
        const ct_fact *a = ct_facts_find(actual, e->subject, e->attr);

        if (!a)
            ct_lines_addf(diffs, "%s %s: %s %s %s%s%s, %s has none", label, e->subject,
                          e->attr, e->value, word, tables ? "" : " ", where, actual_name);
        else if (strcmp(a->value, e->value) != 0)
            ct_lines_addf(diffs, "%s %s: %s %s %s%s%s, %s has %s", label, e->subject,
                          e->attr, e->value, word, tables ? "" : " ", where, actual_name,
                          a->value);
    }
    for (size_t i = 0; i < actual->n; i++) {
        const ct_fact *a = &actual->v[i];

        if (!ct_facts_find(expected, a->subject, a->attr))
            ct_lines_addf(diffs, "%s %s: %s %s in %s, not in %s",
                          label, a->subject, a->attr, a->value, actual_name, expected_name);
    }
    return diffs->n - before;
}
