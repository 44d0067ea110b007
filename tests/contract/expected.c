/*
 * expected.c - what the contract's fact tables say, as facts.
 *
 * Reads binding-<v>.tsv (the header comments hold the names of portType,
 * binding, service, port, the address, style and transport; the rows hold
 * one operation each), operations-<v>.tsv (one row per field) and
 * types-<v>.tsv (enumerations and named complex types) from
 * ../shared/contract, and states them the same way extract.c states what a
 * WSDL or XSD says.  Kept independent of wsdl/gen-wsdl.py on purpose: a
 * misreading of the tables in one would show up as a difference here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/contract/contract.h"

#define CT_TEXT 1024

/* One TSV file, split in place: comment lines, header, rows of cells. */
typedef struct {
    const char *name; /* base name, for messages */
    char *buf;
    char **comments;
    size_t ncomments;
    char **head;
    size_t ncols;
    char **cells; /* nrows * ncols */
    size_t nrows;
} table;

static size_t split(char *line, char sep, char **out, size_t max)
{
    size_t n = 0;

    for (;;) {
        char *end = strchr(line, sep);

        if (n < max)
            out[n] = line;
        n++;
        if (!end)
            return n;
        *end = '\0';
        line = end + 1;
    }
}

static void table_free(table *t)
{
    free(t->buf);
    free(t->comments);
    free(t->head);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

/* Takes one non-comment line: the header if there is none yet, else a row. */
static int table_line(table *t, char *line, size_t nlines, ct_lines *errors)
{
    if (!t->head) {
        size_t ncols = 1;

        for (const char *p = line; *p; p++)
            ncols += *p == '\t';

        t->head = calloc(ncols, sizeof(*t->head));
        t->cells = calloc(ncols * nlines, sizeof(*t->cells));
        if (!t->head || !t->cells)
            return -1;
        t->ncols = split(line, '\t', t->head, ncols);
        return 0;
    }
    if (split(line, '\t', t->cells + t->nrows * t->ncols, t->ncols) != t->ncols) {
        ct_lines_addf(errors, "%s: row %zu does not have %zu columns",
                      t->name, t->nrows + 1, t->ncols);
        return -1;
    }
    t->nrows++;
    return 0;
}

static int table_read(const char *dir, const char *name, table *t, ct_lines *errors)
{
    char path[CT_TEXT];
    size_t nlines = 1;
    char *line;

    memset(t, 0, sizeof(*t));
    t->name = name;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (!(t->buf = ct_read_file(path, NULL))) {
        ct_lines_addf(errors, "%s: cannot read", path);
        return -1;
    }
    for (const char *p = t->buf; *p; p++)
        nlines += *p == '\n';
    if (!(t->comments = calloc(nlines, sizeof(*t->comments))))
        return -1;
    line = t->buf;
    while (line) {
        char *next = strchr(line, '\n');
        size_t len;

        if (next)
            *next++ = '\0';
        len = strlen(line);
        if (len && line[len - 1] == '\r')
            line[len - 1] = '\0';
        if (line[0] == '#')
            t->comments[t->ncomments++] = line + 1 + strspn(line + 1, " ");
        else if (line[strspn(line, " \t")] != '\0' && table_line(t, line, nlines, errors) != 0)
            return -1;
        line = next;
    }
    if (!t->head) {
        ct_lines_addf(errors, "%s: no header row", t->name);
        return -1;
    }
    return 0;
}

static int table_col(const table *t, const char *name, ct_lines *errors)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (strcmp(t->head[i], name) == 0)
            return (int)i;
    ct_lines_addf(errors, "%s: no column %s", t->name, name);
    return -1;
}

static const char *cell(const table *t, size_t row, int col)
{
    return t->cells[row * t->ncols + (size_t)col];
}

/* Offset of sep in s[0..len) outside parentheses, or -1. */
static long find_outside(const char *s, size_t len, const char *sep)
{
    size_t seplen = strlen(sep);
    int depth = 0;

    for (size_t i = 0; i + seplen <= len; i++) {
        if (s[i] == '(')
            depth++;
        else if (s[i] == ')' && depth > 0)
            depth--;
        else if (depth == 0 && strncmp(s + i, sep, seplen) == 0)
            return (long)i;
    }
    return -1;
}

/* The key of a "key (aside): value" segment: asides dropped, spaces collapsed. */
static void header_key(const char *s, size_t len, char *out, size_t outsz)
{
    size_t n = 0;
    int depth = 0, space = 0;

    for (size_t i = 0; i < len && n + 1 < outsz; i++) {
        if (s[i] == '(')
            depth++;
        else if (s[i] == ')' && depth > 0)
            depth--;
        else if (depth == 0 && s[i] == ' ')
            space = n > 0;
        else if (depth == 0) {
            if (space && n + 2 < outsz)
                out[n++] = ' ';
            space = 0;
            out[n++] = s[i];
        }
    }
    out[n] = '\0';
}

static int segment_value(const char *seg, size_t len, const char *key, char *out, size_t outsz)
{
    char k[CT_TEXT];
    long colon = find_outside(seg, len, ": ");
    const char *v;
    size_t vlen;

    if (colon < 0)
        return -1;
    header_key(seg, (size_t)colon, k, sizeof(k));
    if (strcmp(k, key) != 0)
        return -1;
    v = seg + colon + 2;
    vlen = len - (size_t)colon - 2;
    while (vlen && (*v == ' '))
        v++, vlen--;
    while (vlen && v[vlen - 1] == ' ')
        vlen--;
    snprintf(out, outsz, "%.*s", (int)vlen, v);
    return 0;
}

/* The value of "key: value" in the header comments ("; " separates facts on
 * one line); the first occurrence wins, as in gen-wsdl.py. */
static int header_fact(const table *t, const char *key, char *out, size_t outsz,
                       ct_lines *errors)
{
    for (size_t i = 0; i < t->ncomments; i++) {
        const char *s = t->comments[i];
        size_t len = strlen(s);

        for (;;) {
            long semi = find_outside(s, len, "; ");
            size_t seglen = semi < 0 ? len : (size_t)semi;

            if (segment_value(s, seglen, key, out, outsz) == 0)
                return 0;
            if (semi < 0)
                break;
            s += seglen + 2;
            len -= seglen + 2;
        }
    }
    ct_lines_addf(errors, "%s: the header does not say '%s'", t->name, key);
    return -1;
}

/* "Name (word tns:Ref)" -> name and "tns:Ref". */
static int name_and_ref(const char *value, const char *word, char *name, char *ref,
                        size_t sz, const table *t, ct_lines *errors)
{
    char marker[64];
    const char *at;
    size_t reflen;

    snprintf(marker, sizeof(marker), "(%s ", word);
    at = strstr(value, marker);
    if (!at || value[strlen(value) - 1] != ')') {
        ct_lines_addf(errors, "%s: cannot read '%s' in '%s'", t->name, word, value);
        return -1;
    }
    snprintf(name, sz, "%.*s", (int)strcspn(value, " "), value);
    at += strlen(marker);
    reflen = strlen(at) - 1;
    snprintf(ref, sz, "%.*s", (int)reflen, at);
    return 0;
}

/* Adds (subject, attr, header value of key). */
static int header_to_fact(const table *t, const char *key, ct_facts *out,
                          const char *subject, const char *attr, ct_lines *errors)
{
    char v[CT_TEXT];

    if (header_fact(t, key, v, sizeof(v), errors) != 0)
        return -1;
    return ct_facts_add(out, subject, attr, v);
}

static int binding_header_facts(const table *t, ct_contract *c, ct_lines *errors)
{
    char v[CT_TEXT], name[CT_TEXT], ref[CT_TEXT];
    int bad = 0;

    if (header_fact(t, "targetNamespace", v, sizeof(v), errors) != 0)
        return -1;
    c->tns = strdup(v);
    bad |= ct_facts_add(&c->wsdl, "definitions", "targetNamespace", v);
    bad |= ct_facts_add(&c->wsdl, "types", "schemas", "1");
    bad |= header_to_fact(t, "schema targetNamespace", &c->schema, "schema", "targetNamespace", errors);
    bad |= header_to_fact(t, "elementFormDefault", &c->schema, "schema", "elementFormDefault", errors);
    bad |= header_to_fact(t, "attributeFormDefault", &c->schema, "schema", "attributeFormDefault", errors);
    bad |= header_to_fact(t, "schema version attribute", &c->schema, "schema", "version", errors);
    bad |= header_to_fact(t, "portType", &c->wsdl, "portType", "name", errors);
    bad |= header_to_fact(t, "style", &c->wsdl, "binding", "style", errors);
    bad |= header_to_fact(t, "transport", &c->wsdl, "binding", "transport", errors);
    bad |= header_to_fact(t, "SOAP version", &c->wsdl, "binding", "SOAP version", errors);
    bad |= header_to_fact(t, "service", &c->wsdl, "service", "name", errors);
    bad |= header_to_fact(t, "soap:address location", &c->wsdl, "service port", "address", errors);
    if (header_fact(t, "binding", v, sizeof(v), errors) != 0
        || name_and_ref(v, "type", name, ref, sizeof(name), t, errors) != 0)
        return -1;
    bad |= ct_facts_add(&c->wsdl, "binding", "name", name);
    bad |= ct_facts_add(&c->wsdl, "binding", "type", ref);
    if (header_fact(t, "port", v, sizeof(v), errors) != 0
        || name_and_ref(v, "binding", name, ref, sizeof(name), t, errors) != 0)
        return -1;
    bad |= ct_facts_add(&c->wsdl, "service port", "name", name);
    bad |= ct_facts_add(&c->wsdl, "service port", "binding", ref);
    return bad || !c->tns ? -1 : 0;
}

/* Column numbers of a binding row, looked up once. */
enum { B_OP, B_MSG, B_PART, B_EL, B_NAME, B_USE, B_ACTION, B_NCOLS };

static int binding_io_facts(const table *t, size_t row, const int *col, const char *io,
                            ct_facts *out)
{
    char pt[CT_TEXT], bn[CT_TEXT], msg[CT_TEXT], attr[CT_TEXT], ref[CT_TEXT];
    int bad = 0;

    snprintf(pt, sizeof(pt), "portType operation %s", cell(t, row, col[B_OP]));
    snprintf(bn, sizeof(bn), "binding operation %s", cell(t, row, col[B_OP]));
    snprintf(msg, sizeof(msg), "message %s", cell(t, row, col[B_MSG]));
    bad |= ct_facts_add(out, msg, "part", cell(t, row, col[B_PART]));
    snprintf(attr, sizeof(attr), "part %s element", cell(t, row, col[B_PART]));
    snprintf(ref, sizeof(ref), "tns:%s", cell(t, row, col[B_EL]));
    bad |= ct_facts_add(out, msg, attr, ref);
    snprintf(attr, sizeof(attr), "%s message", io);
    snprintf(ref, sizeof(ref), "tns:%s", cell(t, row, col[B_MSG]));
    bad |= ct_facts_add(out, pt, attr, ref);
    snprintf(attr, sizeof(attr), "%s name", io);
    bad |= ct_facts_add(out, pt, attr, cell(t, row, col[B_NAME]));
    bad |= ct_facts_add(out, bn, attr, cell(t, row, col[B_NAME]));
    snprintf(attr, sizeof(attr), "%s use", io);
    bad |= ct_facts_add(out, bn, attr, cell(t, row, col[B_USE]));
    return bad;
}

static int binding_columns(const table *t, const char *io, int *col, ct_lines *errors)
{
    static const char *const suffix[] = { "_message", "_part", "_element", "_name", "_use" };
    char name[64];

    col[B_OP] = table_col(t, "operation", errors);
    col[B_ACTION] = table_col(t, "soap_action", errors);
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof(name), "%s%s", io, suffix[i]);
        col[B_MSG + i] = table_col(t, name, errors);
    }
    for (int i = 0; i < B_NCOLS; i++)
        if (col[i] < 0)
            return -1;
    return 0;
}

static int binding_row_facts(const table *t, ct_facts *out, ct_lines *errors)
{
    int in[B_NCOLS], outc[B_NCOLS], bad = 0;
    char subject[CT_TEXT];

    if (binding_columns(t, "input", in, errors) != 0
        || binding_columns(t, "output", outc, errors) != 0)
        return -1;
    for (size_t r = 0; r < t->nrows; r++) {
        snprintf(subject, sizeof(subject), "portType operation %s", cell(t, r, in[B_OP]));
        bad |= ct_facts_add(out, subject, "pattern", "request-response");
        snprintf(subject, sizeof(subject), "binding operation %s", cell(t, r, in[B_OP]));
        bad |= ct_facts_add(out, subject, "soapAction", cell(t, r, in[B_ACTION]));
        bad |= binding_io_facts(t, r, in, "input", out);
        bad |= binding_io_facts(t, r, outc, "output", out);
    }
    return bad ? -1 : 0;
}

enum { F_OWNER, F_PATH, F_TYPE, F_MIN, F_MAX, F_POS, F_NCOLS };

/* type, minOccurs, maxOccurs and position of one field row. */
static int field_facts(const table *t, size_t r, const int *col, ct_facts *out)
{
    static const char *const attr[] = { "type", "minOccurs", "maxOccurs", "position" };
    char subject[CT_TEXT];
    int bad = 0;

    snprintf(subject, sizeof(subject), "%s.%s", cell(t, r, col[F_OWNER]), cell(t, r, col[F_PATH]));
    for (int i = 0; i < 4; i++)
        bad |= ct_facts_add(out, subject, attr[i], cell(t, r, col[F_TYPE + i]));
    return bad;
}

static int field_columns(const table *t, const char *owner, const char *path, int *col,
                         ct_lines *errors)
{
    col[F_OWNER] = table_col(t, owner, errors);
    col[F_PATH] = table_col(t, path, errors);
    col[F_TYPE] = table_col(t, "xsd_type", errors);
    col[F_MIN] = table_col(t, "minOccurs", errors);
    col[F_MAX] = table_col(t, "maxOccurs", errors);
    col[F_POS] = table_col(t, "position", errors);
    for (int i = 0; i < F_NCOLS; i++)
        if (col[i] < 0)
            return -1;
    return 0;
}

static int operation_facts(const table *t, ct_facts *out, ct_lines *errors)
{
    int col[F_NCOLS], bad = 0;

    if (field_columns(t, "message", "field_path", col, errors) != 0)
        return -1;
    for (size_t r = 0; r < t->nrows; r++) {
        const char *msg = cell(t, r, col[F_OWNER]);

        if (!ct_facts_find(out, msg, "element"))
            bad |= ct_facts_add(out, msg, "element", "anonymous complexType");
        if (cell(t, r, col[F_PATH])[0] != '\0')
            bad |= field_facts(t, r, col, out);
    }
    return bad ? -1 : 0;
}

/* Number of values already recorded for an enumeration. */
static size_t enum_count(const ct_facts *out, const char *name)
{
    const ct_fact *f = ct_facts_find(out, name, "enumeration");
    size_t n = 0;

    if (!f)
        return 0;
    for (const char *p = f->value; p; p = strstr(p + 1, " | "))
        n++;
    return n;
}

static int enum_row_facts(const table *t, size_t r, const int *col, ct_facts *out,
                          ct_lines *errors)
{
    const char *name = cell(t, r, col[F_OWNER]);
    const ct_fact *f = ct_facts_find(out, name, "simpleType");
    char base[CT_TEXT];
    int bad = 0;

    snprintf(base, sizeof(base), "restriction of %s", cell(t, r, col[F_TYPE]));
    if (!f || strcmp(f->value, base) != 0)
        bad |= ct_facts_add(out, name, "simpleType", base);
    if (strtoul(cell(t, r, col[F_POS]), NULL, 10) != enum_count(out, name) + 1)
        ct_lines_addf(errors, "%s: %s value %s is not at position %zu", t->name, name,
                      cell(t, r, col[F_PATH]), enum_count(out, name) + 1);
    bad |= ct_facts_add(out, name, "enumeration", cell(t, r, col[F_PATH]));
    return bad;
}

static int type_facts(const table *t, ct_facts *out, ct_lines *errors)
{
    int col[F_NCOLS], kind = table_col(t, "kind", errors), bad = 0;

    if (kind < 0 || field_columns(t, "type_name", "field_or_value", col, errors) != 0)
        return -1;
    for (size_t r = 0; r < t->nrows; r++) {
        const char *name = cell(t, r, col[F_OWNER]);

        if (strcmp(cell(t, r, kind), "enum") == 0) {
            bad |= enum_row_facts(t, r, col, out, errors);
        } else if (strcmp(cell(t, r, kind), "complex") == 0) {
            if (!ct_facts_find(out, name, "complexType"))
                bad |= ct_facts_add(out, name, "complexType", "named");
            bad |= field_facts(t, r, col, out);
        } else {
            ct_lines_addf(errors, "%s: unknown kind %s", t->name, cell(t, r, kind));
        }
    }
    return bad ? -1 : 0;
}

int ct_contract_load(const char *contract_dir, const char *version,
                     ct_contract *c, ct_lines *errors)
{
    size_t before = errors->n;
    char name[64];
    table t;
    int bad = 0;

    memset(c, 0, sizeof(*c));
    ct_facts_init(&c->schema);
    ct_facts_init(&c->wsdl);
    snprintf(name, sizeof(name), "binding-%s.tsv", version);
    bad |= table_read(contract_dir, name, &t, errors)
           || binding_header_facts(&t, c, errors) || binding_row_facts(&t, &c->wsdl, errors);
    table_free(&t);
    snprintf(name, sizeof(name), "operations-%s.tsv", version);
    bad |= table_read(contract_dir, name, &t, errors) || operation_facts(&t, &c->schema, errors);
    table_free(&t);
    snprintf(name, sizeof(name), "types-%s.tsv", version);
    bad |= table_read(contract_dir, name, &t, errors) || type_facts(&t, &c->schema, errors);
    table_free(&t);
    if (bad && errors->n == before)
        ct_lines_addf(errors, "%s: out of memory reading the %s tables", contract_dir, version);
    return bad || errors->n != before ? -1 : 0;
}

void ct_contract_free(ct_contract *c)
{
    free(c->tns);
    ct_facts_free(&c->schema);
    ct_facts_free(&c->wsdl);
    memset(c, 0, sizeof(*c));
}
