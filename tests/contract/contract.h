/*
 * contract.h - the contract test's model: what the SOAP contract says, as a
 * set of (subject, attribute, value) facts.
 *
 * Both sides of the comparison are turned into the same kind of facts: the
 * fact tables in ../shared/contract give the expected set (expected.c), a
 * parsed WSDL or XSD gives the actual set (extract.c).  Comparing two sets
 * then yields one readable line per difference, e.g.
 *   v3 VerifySignatureRequest.signatureType: type tns:SignatureType expected, wsdl has xs:string
 * Values are effective values (XSD/WSDL defaults applied) and QNames are
 * written canonically after namespace resolution ("xs:" for the XML Schema
 * namespace, "tns:" for the contract's namespace), so that only what a
 * client would see differently counts as a difference.
 */
#ifndef PA_TESTS_CONTRACT_H
#define PA_TESTS_CONTRACT_H

#include <stddef.h>

#include <libxml/tree.h>

#define CT_XS_NS "http://www.w3.org/2001/XMLSchema"
#define CT_WSDL_NS "http://schemas.xmlsoap.org/wsdl/"
#define CT_SOAP11_NS "http://schemas.xmlsoap.org/wsdl/soap/"
#define CT_SOAP12_NS "http://schemas.xmlsoap.org/wsdl/soap12/"

typedef struct {
    char *subject; /* "VerifySignatureRequest.signatureType", "binding", ... */
    char *attr;    /* "type", "minOccurs", "soapAction", ... */
    char *value;   /* effective value; several values joined by " | " */
} ct_fact;

/* Facts in insertion order, plus their positions sorted by (subject, attr)
 * for lookups. */
typedef struct {
    ct_fact *v;
    size_t *index;
    size_t n, cap;
} ct_facts;

/* A growing list of text lines (differences, loader errors). */
typedef struct {
    char **v;
    size_t n, cap;
} ct_lines;

void ct_facts_init(ct_facts *fs);
void ct_facts_free(ct_facts *fs);
/* Adds a fact; a second value for the same subject and attribute is joined
 * to the first with " | ", so a duplicate never goes unnoticed.  0 or -1. */
int ct_facts_add(ct_facts *fs, const char *subject, const char *attr, const char *value);
const ct_fact *ct_facts_find(const ct_facts *fs, const char *subject, const char *attr);

/* The whole file, NUL-terminated (malloc'd); NULL if unreadable. */
char *ct_read_file(const char *path, size_t *len);

void ct_lines_init(ct_lines *l);
void ct_lines_free(ct_lines *l);
int ct_lines_addf(ct_lines *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int ct_lines_contains(const ct_lines *l, const char *line);

/* Appends one line per difference between expected and actual to diffs and
 * returns how many it appended.  With expected_name "the contract":
 *   "<label> <subject>: <attr> <exp> expected, <actual_name> has <act>|none"
 * otherwise "... <exp> in <expected_name>, <actual_name> has ..."; and
 *   "<label> <subject>: <attr> <act> in <actual_name>, not in <expected_name>" */
size_t ct_compare(const ct_facts *expected, const ct_facts *actual, const char *label,
                  const char *expected_name, const char *actual_name, ct_lines *diffs);

/* What the tables in contract_dir say about one contract version ("v3"). */
typedef struct {
    char *tns;        /* the target namespace */
    ct_facts schema;  /* schema attributes, elements, fields, named types */
    ct_facts wsdl;    /* definitions, messages, portType, binding, service */
} ct_contract;

/* 0 on success; -1 with the reasons in errors. */
int ct_contract_load(const char *contract_dir, const char *version,
                     ct_contract *c, ct_lines *errors);
void ct_contract_free(ct_contract *c);

/* Extraction from parsed documents; tns is the contract's namespace, used
 * to write resolved QNames canonically.  The schema facts of a WSDL are those
 * of the xs:schema elements inside wsdl:types. */
void ct_extract_wsdl(xmlDocPtr doc, const char *tns, ct_facts *wsdl, ct_facts *schema);
void ct_extract_xsd(xmlDocPtr doc, const char *tns, ct_facts *schema);

/* Parses XML without network access, entity substitution or DTD loading;
 * a document with a DTD is refused.  NULL on failure. */
xmlDocPtr ct_parse_file(const char *path);
xmlDocPtr ct_parse_memory(const char *text, size_t len);

#endif
