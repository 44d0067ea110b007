/*
 * extract.c - what a WSDL 1.1 document or an XSD says, as facts.
 *
 * Walks the document by element namespace and local name (never by prefix
 * text), applies the XSD and WSDL defaults (minOccurs/maxOccurs 1,
 * elementFormDefault unqualified, soap:binding style document, WSDL 1.1
 * default input/output names), and resolves every QName through the
 * in-scope namespace declarations.  Anything the contract has no place for
 * (an attribute such as nillable, an xs:choice, a wsdl:fault, a SOAP 1.2
 * binding, an xs:import) becomes an "unexpected" fact, which the comparison
 * then reports as not in the contract.  xs:annotation and
 * wsdl:documentation are skipped: they do not change what a client sees.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "tests/contract/contract.h"

#define CT_TEXT 1024

typedef struct {
    const char *tns;
    ct_facts *out;
} walk;

/* snprintf for text built from names and values: an over-long one is cut,
 * which can only cause a difference, never hide one. */
static void textf(char *out, size_t outsz, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(out, outsz, fmt, ap);
    va_end(ap);
}

static int is_el(xmlNodePtr n, const char *ns, const char *local)
{
    return n && n->type == XML_ELEMENT_NODE && n->ns
           && strcmp((const char *)n->ns->href, ns) == 0
           && strcmp((const char *)n->name, local) == 0;
}

static int is_skipped(xmlNodePtr n)
{
    return n->type != XML_ELEMENT_NODE || is_el(n, CT_XS_NS, "annotation")
           || is_el(n, CT_WSDL_NS, "documentation");
}

/* The attribute's value (no namespace) or dflt, copied into out. */
static const char *prop(xmlNodePtr n, const char *name, const char *dflt, char *out,
                        size_t outsz)
{
    xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);

    textf(out, outsz, "%s", v ? (const char *)v : dflt);
    xmlFree(v);
    return out;
}

/* A QName written canonically: xs:local, tns:local or {namespace}local. */
static const char *qname(const walk *w, xmlNodePtr ctx, const char *value, char *out,
                         size_t outsz)
{
    const char *colon = strchr(value, ':');
    const char *local = colon ? colon + 1 : value;
    char prefix[CT_TEXT];
    xmlNsPtr ns;

    textf(prefix, sizeof(prefix), "%.*s", colon ? (int)(colon - value) : 0, value);
    ns = xmlSearchNs(ctx->doc, ctx, colon ? (const xmlChar *)prefix : NULL);
    if (!ns)
        textf(out, outsz, colon ? "{unbound prefix %s}%s" : "{%s}%s", prefix, local);
    else if (strcmp((const char *)ns->href, CT_XS_NS) == 0)
        textf(out, outsz, "xs:%s", local);
    else if (strcmp((const char *)ns->href, w->tns) == 0)
        textf(out, outsz, "tns:%s", local);
    else
        textf(out, outsz, "{%s}%s", (const char *)ns->href, local);
    return out;
}

/* The QName attribute name of n, canonical, or dflt when absent. */
static const char *qprop(const walk *w, xmlNodePtr n, const char *name, const char *dflt,
                         char *out, size_t outsz)
{
    char raw[CT_TEXT];
    xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);

    if (!v) {
        textf(out, outsz, "%s", dflt);
        return out;
    }
    textf(raw, sizeof(raw), "%s", (const char *)v);
    xmlFree(v);
    return qname(w, n, raw, out, outsz);
}

/* Occurrence counts compared as numbers: "01" and "1" are the same. */
static const char *occurs(xmlNodePtr n, const char *name, char *out, size_t outsz)
{
    prop(n, name, "1", out, outsz);
    if (out[0] && strspn(out, "0123456789") == strlen(out)) {
        size_t zeros = strspn(out, "0");

        if (out[zeros] == '\0')
            zeros--; /* "00" is 0 */
        memmove(out, out + zeros, strlen(out + zeros) + 1);
    }
    return out;
}

static void element_label(xmlNodePtr n, char *out, size_t outsz)
{
    const char *href = n->ns ? (const char *)n->ns->href : "";

    if (strcmp(href, CT_XS_NS) == 0)
        textf(out, outsz, "xs:%s", (const char *)n->name);
    else if (strcmp(href, CT_WSDL_NS) == 0)
        textf(out, outsz, "wsdl:%s", (const char *)n->name);
    else if (strcmp(href, CT_SOAP11_NS) == 0)
        textf(out, outsz, "soap:%s", (const char *)n->name);
    else
        textf(out, outsz, "{%s}%s", href, (const char *)n->name);
}

static void unexpected_child(const walk *w, xmlNodePtr n, const char *subject)
{
    char label[CT_TEXT];

    element_label(n, label, sizeof(label));
    ct_facts_add(w->out, subject, "unexpected", label);
}

/* Every attribute of n not in allowed (NULL-terminated) becomes a fact. */
static void unexpected_attrs(const walk *w, xmlNodePtr n, const char *const *allowed,
                             const char *subject, const char *what)
{
    for (xmlAttrPtr a = n->properties; a; a = a->next) {
        char attr[CT_TEXT], value[CT_TEXT];
        int ok = 0;
        xmlChar *v;

        for (size_t i = 0; !a->ns && allowed[i]; i++)
            ok |= strcmp((const char *)a->name, allowed[i]) == 0;
        if (ok)
            continue;
        v = xmlNodeListGetString(n->doc, a->children, 1);
        textf(value, sizeof(value), "%s", v ? (const char *)v : "");
        xmlFree(v);
        textf(attr, sizeof(attr), "%sattribute %s%s%s", what, a->ns ? "{" : "",
                 a->ns ? (const char *)a->ns->href : "", (const char *)a->name);
        if (a->ns)
            textf(attr + strlen(attr), sizeof(attr) - strlen(attr), "}");
        ct_facts_add(w->out, subject, attr, value);
    }
}

/* --- XML Schema ------------------------------------------------------------ */

static void complex_facts(const walk *w, xmlNodePtr ct, const char *subject);

static void field_facts(const walk *w, xmlNodePtr el, const char *prefix, int pos)
{
    static const char *const allowed[] = { "name", "type", "minOccurs", "maxOccurs", NULL };
    char subject[CT_TEXT], name[CT_TEXT], v[CT_TEXT];
    int typed = 0;

    prop(el, "name", "(unnamed)", name, sizeof(name));
    textf(subject, sizeof(subject), "%s.%s", prefix, name);
    unexpected_attrs(w, el, allowed, subject, "");
    if (xmlHasProp(el, (const xmlChar *)"type")) {
        ct_facts_add(w->out, subject, "type", qprop(w, el, "type", "", v, sizeof(v)));
        typed = 1;
    }
    for (xmlNodePtr c = el->children; c; c = c->next) {
        if (is_skipped(c))
            continue;
        if (is_el(c, CT_XS_NS, "complexType")) {
            ct_facts_add(w->out, subject, "type", "(anonymous)");
            complex_facts(w, c, subject);
        } else if (is_el(c, CT_XS_NS, "simpleType")) {
            ct_facts_add(w->out, subject, "type", "(anonymous simpleType)");
        } else {
            unexpected_child(w, c, subject);
            continue;
        }
        typed = 1;
    }
    if (!typed)
        ct_facts_add(w->out, subject, "type", "(none)");
    ct_facts_add(w->out, subject, "minOccurs", occurs(el, "minOccurs", v, sizeof(v)));
    ct_facts_add(w->out, subject, "maxOccurs", occurs(el, "maxOccurs", v, sizeof(v)));
    textf(v, sizeof(v), "%d", pos);
    ct_facts_add(w->out, subject, "position", v);
}

static void sequence_facts(const walk *w, xmlNodePtr seq, const char *subject)
{
    static const char *const allowed[] = { NULL };
    int pos = 0;

    unexpected_attrs(w, seq, allowed, subject, "sequence ");
    for (xmlNodePtr c = seq->children; c; c = c->next) {
        if (is_skipped(c))
            continue;
        if (is_el(c, CT_XS_NS, "element"))
            field_facts(w, c, subject, ++pos);
        else
            unexpected_child(w, c, subject);
    }
}

/* The body of a complex type: exactly one xs:sequence is expected. */
static void complex_facts(const walk *w, xmlNodePtr ct, const char *subject)
{
    static const char *const allowed[] = { "name", NULL };
    int sequences = 0;

    unexpected_attrs(w, ct, allowed, subject, "complexType ");
    for (xmlNodePtr c = ct->children; c; c = c->next) {
        if (is_skipped(c))
            continue;
        if (is_el(c, CT_XS_NS, "sequence") && sequences++ == 0)
            sequence_facts(w, c, subject);
        else
            unexpected_child(w, c, subject);
    }
}

static void global_element_facts(const walk *w, xmlNodePtr el)
{
    static const char *const allowed[] = { "name", "type", NULL };
    char name[CT_TEXT], v[CT_TEXT], kind[CT_TEXT + 8];
    int typed = 0;

    prop(el, "name", "(unnamed)", name, sizeof(name));
    unexpected_attrs(w, el, allowed, name, "");
    if (xmlHasProp(el, (const xmlChar *)"type")) {
        textf(kind, sizeof(kind), "type %s", qprop(w, el, "type", "", v, sizeof(v)));
        ct_facts_add(w->out, name, "element", kind);
        typed = 1;
    }
    for (xmlNodePtr c = el->children; c; c = c->next) {
        if (is_skipped(c))
            continue;
        if (is_el(c, CT_XS_NS, "complexType")) {
            ct_facts_add(w->out, name, "element", "anonymous complexType");
            complex_facts(w, c, name);
            typed = 1;
        } else {
            unexpected_child(w, c, name);
        }
    }
    if (!typed)
        ct_facts_add(w->out, name, "element", "(no type)");
}

static void restriction_facts(const walk *w, xmlNodePtr r, const char *name)
{
    char v[CT_TEXT], base[CT_TEXT + 16];

    textf(base, sizeof(base), "restriction of %s", qprop(w, r, "base", "(none)", v, sizeof(v)));
    ct_facts_add(w->out, name, "simpleType", base);
    for (xmlNodePtr c = r->children; c; c = c->next) {
        if (is_skipped(c))
            continue;
        if (is_el(c, CT_XS_NS, "enumeration"))
            ct_facts_add(w->out, name, "enumeration", prop(c, "value", "(none)", v, sizeof(v)));
        else
            unexpected_child(w, c, name);
    }
}

static void simple_type_facts(const walk *w, xmlNodePtr st)
{
    static const char *const allowed[] = { "name", NULL };
    char name[CT_TEXT];

    prop(st, "name", "(unnamed)", name, sizeof(name));
    unexpected_attrs(w, st, allowed, name, "simpleType ");
    for (xmlNodePtr c = st->children; c; c = c->next) {
        if (is_skipped(c))
            continue;
        if (is_el(c, CT_XS_NS, "restriction"))
            restriction_facts(w, c, name);
        else
            unexpected_child(w, c, name);
    }
}

static void schema_facts(const walk *w, xmlNodePtr schema)
{
    static const char *const allowed[] = { "targetNamespace", "elementFormDefault",
                                           "attributeFormDefault", "version", NULL };
    char v[CT_TEXT], name[CT_TEXT];

    unexpected_attrs(w, schema, allowed, "schema", "");
    ct_facts_add(w->out, "schema", "targetNamespace",
                 prop(schema, "targetNamespace", "(none)", v, sizeof(v)));
    ct_facts_add(w->out, "schema", "elementFormDefault",
                 prop(schema, "elementFormDefault", "unqualified", v, sizeof(v)));
    ct_facts_add(w->out, "schema", "attributeFormDefault",
                 prop(schema, "attributeFormDefault", "unqualified", v, sizeof(v)));
    ct_facts_add(w->out, "schema", "version", prop(schema, "version", "(none)", v, sizeof(v)));
    for (xmlNodePtr c = schema->children; c; c = c->next) {
        if (is_skipped(c))
            continue;
        if (is_el(c, CT_XS_NS, "element")) {
            global_element_facts(w, c);
        } else if (is_el(c, CT_XS_NS, "simpleType")) {
            simple_type_facts(w, c);
        } else if (is_el(c, CT_XS_NS, "complexType")) {
            prop(c, "name", "(unnamed)", name, sizeof(name));
            ct_facts_add(w->out, name, "complexType", "named");
            complex_facts(w, c, name);
        } else {
            unexpected_child(w, c, "schema");
        }
    }
}

void ct_extract_xsd(xmlDocPtr doc, const char *tns, ct_facts *schema)
{
    walk w = { tns, schema };
    xmlNodePtr root = xmlDocGetRootElement(doc);

    if (is_el(root, CT_XS_NS, "schema"))
        schema_facts(&w, root);
    else if (root)
        unexpected_child(&w, root, "document");
    else
        ct_facts_add(schema, "document", "unexpected", "(empty)");
}

/* --- WSDL 1.1 ---------------------------------------------------------------- */

static void message_facts(const walk *w, xmlNodePtr m)
{
    static const char *const allowed[] = { "name", "element", NULL };
    char subject[CT_TEXT], name[CT_TEXT], attr[CT_TEXT + 16], v[CT_TEXT];
    int parts = 0;

    textf(subject, sizeof(subject), "message %s", prop(m, "name", "(unnamed)", name, sizeof(name)));
    for (xmlNodePtr c = m->children; c; c = c->next) {
        if (is_skipped(c))
            continue;
        if (!is_el(c, CT_WSDL_NS, "part")) {
            unexpected_child(w, c, subject);
            continue;
        }
        parts++;
        prop(c, "name", "(unnamed)", name, sizeof(name));
        ct_facts_add(w->out, subject, "part", name);
        textf(attr, sizeof(attr), "part %s ", name);
        unexpected_attrs(w, c, allowed, subject, attr);
        textf(attr, sizeof(attr), "part %s element", name);
        ct_facts_add(w->out, subject, attr, qprop(w, c, "element", "(none)", v, sizeof(v)));
    }
    if (!parts)
        ct_facts_add(w->out, subject, "part", "(none)");
}

/* WSDL 1.1 section 2.4: which messages an operation has, in which order. */
static const char *op_pattern(xmlNodePtr op, int *has_in, int *has_out)
{
    int first_in = -1;

    *has_in = *has_out = 0;
    for (xmlNodePtr c = op->children; c; c = c->next) {
        if (is_el(c, CT_WSDL_NS, "input") || is_el(c, CT_WSDL_NS, "output")) {
            int in = is_el(c, CT_WSDL_NS, "input");

            if (first_in < 0)
                first_in = in;
            *has_in |= in;
            *has_out |= !in;
        }
    }
    if (*has_in && *has_out)
        return first_in ? "request-response" : "solicit-response";
    return *has_in ? "one-way" : *has_out ? "notification" : "(no messages)";
}

/* The name of an input/output, with the WSDL 1.1 (2.4.5) default when absent. */
static const char *io_name(xmlNodePtr io, const char *opname, int both, char *out, size_t outsz)
{
    int in = is_el(io, CT_WSDL_NS, "input");
    char dflt[CT_TEXT];

    textf(dflt, sizeof(dflt), "%s%s", opname, !both ? "" : in ? "Request" : "Response");
    return prop(io, "name", dflt, out, outsz);
}

static void port_operation_facts(const walk *w, xmlNodePtr op)
{
    static const char *const allowed[] = { "name", "message", NULL };
    char subject[CT_TEXT], opname[CT_TEXT], attr[CT_TEXT], v[CT_TEXT];
    int has_in, has_out;

    prop(op, "name", "(unnamed)", opname, sizeof(opname));
    textf(subject, sizeof(subject), "portType operation %s", opname);
    ct_facts_add(w->out, subject, "pattern", op_pattern(op, &has_in, &has_out));
    for (xmlNodePtr c = op->children; c; c = c->next) {
        const char *io = is_el(c, CT_WSDL_NS, "input") ? "input"
                         : is_el(c, CT_WSDL_NS, "output") ? "output" : NULL;

        if (is_skipped(c))
            continue;
        if (!io) {
            unexpected_child(w, c, subject);
            continue;
        }
        textf(attr, sizeof(attr), "%s message", io);
        ct_facts_add(w->out, subject, attr, qprop(w, c, "message", "(none)", v, sizeof(v)));
        textf(attr, sizeof(attr), "%s name", io);
        ct_facts_add(w->out, subject, attr, io_name(c, opname, has_in && has_out, v, sizeof(v)));
        textf(attr, sizeof(attr), "%s ", io);
        unexpected_attrs(w, c, allowed, subject, attr);
    }
}

static void port_type_facts(const walk *w, xmlNodePtr pt)
{
    char v[CT_TEXT];

    ct_facts_add(w->out, "portType", "name", prop(pt, "name", "(unnamed)", v, sizeof(v)));
    for (xmlNodePtr c = pt->children; c; c = c->next) {
        if (is_skipped(c))
            continue;
        if (is_el(c, CT_WSDL_NS, "operation"))
            port_operation_facts(w, c);
        else
            unexpected_child(w, c, "portType");
    }
}

/* wsdl:input/output inside a binding operation: its name and soap:body. */
static void binding_io_facts(const walk *w, xmlNodePtr io, const char *opname, int both,
                             const char *subject)
{
    static const char *const allowed[] = { "use", NULL };
    const char *which = is_el(io, CT_WSDL_NS, "input") ? "input" : "output";
    char attr[CT_TEXT], v[CT_TEXT];
    int bodies = 0;

    textf(attr, sizeof(attr), "%s name", which);
    ct_facts_add(w->out, subject, attr, io_name(io, opname, both, v, sizeof(v)));
    for (xmlNodePtr c = io->children; c; c = c->next) {
        if (is_skipped(c))
            continue;
        if (!is_el(c, CT_SOAP11_NS, "body") || bodies++) {
            unexpected_child(w, c, subject);
            continue;
        }
        textf(attr, sizeof(attr), "%s use", which);
        ct_facts_add(w->out, subject, attr, prop(c, "use", "(none)", v, sizeof(v)));
        textf(attr, sizeof(attr), "%s body ", which);
        unexpected_attrs(w, c, allowed, subject, attr);
    }
    if (!bodies) {
        textf(attr, sizeof(attr), "%s use", which);
        ct_facts_add(w->out, subject, attr, "(no soap:body)");
    }
}

static void binding_operation_facts(const walk *w, xmlNodePtr op)
{
    static const char *const allowed[] = { "soapAction", NULL };
    char subject[CT_TEXT], opname[CT_TEXT], v[CT_TEXT], quoted[CT_TEXT + 2];
    int has_in, has_out, actions = 0;

    prop(op, "name", "(unnamed)", opname, sizeof(opname));
    textf(subject, sizeof(subject), "binding operation %s", opname);
    op_pattern(op, &has_in, &has_out);
    for (xmlNodePtr c = op->children; c; c = c->next) {
        if (is_skipped(c))
            continue;
        if (is_el(c, CT_SOAP11_NS, "operation") && actions++ == 0) {
            /* The table writes an empty soapAction as "" (quotes included). */
            if (xmlHasProp(c, (const xmlChar *)"soapAction"))
                textf(quoted, sizeof(quoted), "\"%s\"", prop(c, "soapAction", "", v, sizeof(v)));
            else
                textf(quoted, sizeof(quoted), "(absent)");
            ct_facts_add(w->out, subject, "soapAction", quoted);
            unexpected_attrs(w, c, allowed, subject, "soap:operation ");
        } else if (is_el(c, CT_WSDL_NS, "input") || is_el(c, CT_WSDL_NS, "output")) {
            binding_io_facts(w, c, opname, has_in && has_out, subject);
        } else {
            unexpected_child(w, c, subject);
        }
    }
    if (!actions)
        ct_facts_add(w->out, subject, "soapAction", "(no soap:operation)");
}

static void binding_facts(const walk *w, xmlNodePtr b)
{
    static const char *const allowed[] = { "style", "transport", NULL };
    char v[CT_TEXT];

    ct_facts_add(w->out, "binding", "name", prop(b, "name", "(unnamed)", v, sizeof(v)));
    ct_facts_add(w->out, "binding", "type", qprop(w, b, "type", "(none)", v, sizeof(v)));
    for (xmlNodePtr c = b->children; c; c = c->next) {
        if (is_skipped(c))
            continue;
        if (is_el(c, CT_SOAP11_NS, "binding")) {
            ct_facts_add(w->out, "binding", "SOAP version", "1.1");
            /* WSDL 1.1 section 3.3: style defaults to document. */
            ct_facts_add(w->out, "binding", "style", prop(c, "style", "document", v, sizeof(v)));
            ct_facts_add(w->out, "binding", "transport",
                         prop(c, "transport", "(none)", v, sizeof(v)));
            unexpected_attrs(w, c, allowed, "binding", "soap:binding ");
        } else if (is_el(c, CT_SOAP12_NS, "binding")) {
            ct_facts_add(w->out, "binding", "SOAP version", "1.2");
        } else if (is_el(c, CT_WSDL_NS, "operation")) {
            binding_operation_facts(w, c);
        } else {
            unexpected_child(w, c, "binding");
        }
    }
}

static void service_facts(const walk *w, xmlNodePtr s)
{
    char v[CT_TEXT];

    ct_facts_add(w->out, "service", "name", prop(s, "name", "(unnamed)", v, sizeof(v)));
    for (xmlNodePtr p = s->children; p; p = p->next) {
        if (is_skipped(p))
            continue;
        if (!is_el(p, CT_WSDL_NS, "port")) {
            unexpected_child(w, p, "service");
            continue;
        }
        ct_facts_add(w->out, "service port", "name", prop(p, "name", "(unnamed)", v, sizeof(v)));
        ct_facts_add(w->out, "service port", "binding",
                     qprop(w, p, "binding", "(none)", v, sizeof(v)));
        for (xmlNodePtr c = p->children; c; c = c->next) {
            if (is_skipped(c))
                continue;
            if (is_el(c, CT_SOAP11_NS, "address"))
                ct_facts_add(w->out, "service port", "address",
                             prop(c, "location", "(none)", v, sizeof(v)));
            else
                unexpected_child(w, c, "service port");
        }
    }
}

/* wsdl:types: the schema facts go to their own set. */
static int types_facts(const walk *w, const walk *sw, xmlNodePtr types)
{
    int schemas = 0;

    for (xmlNodePtr c = types->children; c; c = c->next) {
        if (is_skipped(c))
            continue;
        if (is_el(c, CT_XS_NS, "schema")) {
            schemas++;
            schema_facts(sw, c);
        } else {
            unexpected_child(w, c, "types");
        }
    }
    return schemas;
}

void ct_extract_wsdl(xmlDocPtr doc, const char *tns, ct_facts *wsdl, ct_facts *schema)
{
    static const char *const allowed[] = { "targetNamespace", NULL };
    walk w = { tns, wsdl }, sw = { tns, schema };
    xmlNodePtr root = xmlDocGetRootElement(doc);
    char v[CT_TEXT];
    int schemas = 0;

    if (!is_el(root, CT_WSDL_NS, "definitions")) {
        ct_facts_add(wsdl, "document", "unexpected", root ? (const char *)root->name : "(empty)");
        return;
    }
    unexpected_attrs(&w, root, allowed, "definitions", "");
    ct_facts_add(wsdl, "definitions", "targetNamespace",
                 prop(root, "targetNamespace", "(none)", v, sizeof(v)));
    for (xmlNodePtr c = root->children; c; c = c->next) {
        if (is_skipped(c))
            continue;
        if (is_el(c, CT_WSDL_NS, "types"))
            schemas += types_facts(&w, &sw, c);
        else if (is_el(c, CT_WSDL_NS, "message"))
            message_facts(&w, c);
        else if (is_el(c, CT_WSDL_NS, "portType"))
            port_type_facts(&w, c);
        else if (is_el(c, CT_WSDL_NS, "binding"))
            binding_facts(&w, c);
        else if (is_el(c, CT_WSDL_NS, "service"))
            service_facts(&w, c);
        else
            unexpected_child(&w, c, "definitions");
    }
    textf(v, sizeof(v), "%d", schemas);
    ct_facts_add(wsdl, "types", "schemas", v);
}

/* --- parsing ----------------------------------------------------------------- */

/* No network, no entity substitution, no DTD loading; a DTD is refused
 * outright since nothing in a WSDL needs one. */
static xmlDocPtr refuse_dtd(xmlDocPtr doc)
{
    if (doc && (doc->intSubset || doc->extSubset)) {
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

xmlDocPtr ct_parse_file(const char *path)
{
    return refuse_dtd(xmlReadFile(path, NULL, XML_PARSE_NONET));
}

xmlDocPtr ct_parse_memory(const char *text, size_t len)
{
    return refuse_dtd(xmlReadMemory(text, (int)len, "memory.xml", NULL, XML_PARSE_NONET));
}
