#!/usr/bin/env python3
# gen-wsdl.py - writes serviceV3.wsdl, serviceV2.wsdl, powerAuthV3.xsd and
# powerAuthV2.xsd from the contract facts (operations-*.tsv, types-*.tsv,
# binding-*.tsv in ../shared/contract).
#
# Why a generator: the WSDL is the contract that clients (JAX-WS, zeep,
# soapUI) bind to, so it must say exactly what the fact tables say; writing
# it from the tables, and letting tests/contract check the result, keeps the
# two from drifting apart.  The output files are committed so that the
# server and gSOAP's wsdl2h can use them without Python.
#
# Usage: python3 wsdl/gen-wsdl.py --contract ../shared/contract --out wsdl
#
# Standard library only, runs with any Python 3; the output depends on the
# tables alone (never on paths, time or dictionary order), so running it
# twice gives byte-identical files.
import argparse
import os
import sys

XS_NS = "http://www.w3.org/2001/XMLSchema"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
SOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
# The XSD built-in types the contract uses; anything else is a typo in a table.
XS_TYPES = ("xs:string", "xs:long", "xs:integer", "xs:boolean", "xs:dateTime")
ANON = "(anonymous)"
INDENT = "  "


class ContractError(Exception):
    pass


# --- reading the tables -----------------------------------------------------

def read_table(path):
    """Returns (comment lines, header columns, rows as dicts) of a TSV file."""
    comments, header, rows = [], None, []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if line.startswith("#"):
                comments.append(line[1:].strip())
                continue
            if not line.strip():
                continue
            cells = line.split("\t")
            if header is None:
                header = cells
                continue
            if len(cells) != len(header):
                raise ContractError("%s:%d: %d columns, header has %d"
                                    % (path, lineno, len(cells), len(header)))
            row = dict(zip(header, cells))
            row["_where"] = "%s:%d" % (os.path.basename(path), lineno)
            rows.append(row)
    if header is None:
        raise ContractError("%s: no header row" % path)
    return comments, header, rows


def split_outside_parens(text, sep):
    """Splits text on sep where sep is not inside parentheses."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        c = text[i]
        if c == "(":
            depth += 1
        elif c == ")":
            depth = max(0, depth - 1)
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            i += len(sep)
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return parts


def strip_parens(text):
    """Removes parenthesised asides: 'soap:address location (...)' -> key."""
    out, depth = [], 0
    for c in text:
        if c == "(":
            depth += 1
        elif c == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(c)
    return " ".join("".join(out).split())


def header_facts(comments):
    """The 'key: value; key: value' facts in the binding table's comments."""
    facts = {}
    for line in comments:
        for segment in split_outside_parens(line, "; "):
            pair = split_outside_parens(segment, ": ")
            if len(pair) < 2:
                continue
            key = strip_parens(pair[0])
            value = ": ".join(pair[1:]).strip()
            facts.setdefault(key, value)
    return facts


def need(facts, key, where):
    if key not in facts or not facts[key]:
        raise ContractError("%s: the header does not say '%s'" % (where, key))
    return facts[key]


def name_and_ref(value, word, where):
    """'PowerAuthPortV3Soap11 (type tns:PowerAuthPortV3)' -> (name, local ref)."""
    name = value.split()[0]
    marker = "(%s tns:" % word
    at = value.find(marker)
    if at < 0 or not value.endswith(")"):
        raise ContractError("%s: cannot read '%s' in '%s'" % (where, word, value))
    return name, value[at + len(marker):-1]


def read_binding(path):
    comments, header, rows = read_table(path)
    where = os.path.basename(path)
    facts = header_facts(comments)
    b = {}
    b["tns"] = need(facts, "targetNamespace", where)
    b["schema_tns"] = need(facts, "schema targetNamespace", where)
    b["elementFormDefault"] = need(facts, "elementFormDefault", where)
    b["attributeFormDefault"] = need(facts, "attributeFormDefault", where)
    b["version"] = need(facts, "schema version attribute", where)
    b["portType"] = need(facts, "portType", where)
    b["binding"], b["binding_type"] = name_and_ref(
        need(facts, "binding", where), "type", where)
    b["service"] = need(facts, "service", where)
    b["port"], b["port_binding"] = name_and_ref(
        need(facts, "port", where), "binding", where)
    b["address"] = need(facts, "soap:address location", where)
    b["style"] = need(facts, "style", where)
    b["transport"] = need(facts, "transport", where)
    if need(facts, "SOAP version", where) != "1.1":
        raise ContractError("%s: only a SOAP 1.1 binding can be written" % where)
    if b["schema_tns"] != b["tns"]:
        raise ContractError("%s: schema and WSDL namespaces differ" % where)
    if b["binding_type"] != b["portType"] or b["port_binding"] != b["binding"]:
        raise ContractError("%s: binding/port references do not match" % where)
    b["operations"] = rows
    return b


def parse_occurs(value, where, what):
    if value == "unbounded" and what == "maxOccurs":
        return value
    if not value.isdigit():
        raise ContractError("%s: %s '%s' is not a count" % (where, what, value))
    return str(int(value))


class Field(object):
    """One xs:element inside a sequence; children when its type is anonymous."""

    def __init__(self, name, xsd_type, min_occurs, max_occurs, position, where):
        self.name = name
        self.type = xsd_type
        self.min = min_occurs
        self.max = max_occurs
        self.position = position
        self.where = where
        self.children = []


def build_tree(rows, owner_key, path_key, types, what):
    """Groups field rows by owner (message or named type) into ordered trees.

    Returns a list of (owner, [Field]) in first-appearance order of the owner.
    Children are sorted by position, which must run 1..n without gaps.
    """
    owners, order = {}, []
    for row in rows:
        owner = row[owner_key]
        if owner not in owners:
            owners[owner] = {"": Field(owner, ANON, "1", "1", 0, row["_where"])}
            order.append(owner)
        path = row[path_key]
        if path == "":
            if any(row[k] for k in ("xsd_type", "minOccurs", "maxOccurs", "position")):
                raise ContractError("%s: empty field path with values" % row["_where"])
            continue
        nodes = owners[owner]
        if path in nodes:
            raise ContractError("%s: %s.%s listed twice" % (row["_where"], owner, path))
        parent_path = path.rpartition(".")[0]
        parent = nodes.get(parent_path)
        if parent is None or parent.type != ANON:
            raise ContractError("%s: %s.%s has no anonymous parent"
                                % (row["_where"], owner, path))
        xsd_type = row["xsd_type"]
        if xsd_type != ANON and xsd_type not in XS_TYPES:
            if not xsd_type.startswith("tns:") or xsd_type[4:] not in types:
                raise ContractError("%s: unknown %s type %s"
                                    % (row["_where"], what, xsd_type))
        if not row["position"].isdigit():
            raise ContractError("%s: position '%s'" % (row["_where"], row["position"]))
        field = Field(path.rpartition(".")[2], xsd_type,
                      parse_occurs(row["minOccurs"], row["_where"], "minOccurs"),
                      parse_occurs(row["maxOccurs"], row["_where"], "maxOccurs"),
                      int(row["position"]), row["_where"])
        nodes[path] = field
        parent.children.append(field)
    result = []
    for owner in order:
        for node in owners[owner].values():
            node.children.sort(key=lambda f: f.position)
            got = [f.position for f in node.children]
            if got != list(range(1, len(got) + 1)):
                raise ContractError("%s: positions under %s are %s, not 1..%d"
                                    % (node.where, owner, got, len(got)))
        result.append((owner, owners[owner][""].children))
    return result


def read_types(path):
    """Named types in table order: ('enum', name, base, [values]) or
    ('complex', name, [Field])."""
    _, _, rows = read_table(path)
    names = []
    for row in rows:
        if row["type_name"] not in names:
            names.append(row["type_name"])
    complex_rows = [r for r in rows if r["kind"] == "complex"]
    complex_trees = dict(build_tree(complex_rows, "type_name", "field_or_value",
                                    names, "field"))
    result = []
    for name in names:
        mine = [r for r in rows if r["type_name"] == name]
        kinds = set(r["kind"] for r in mine)
        if kinds == set(["enum"]):
            bases = set(r["xsd_type"] for r in mine)
            if len(bases) != 1 or list(bases)[0] not in XS_TYPES:
                raise ContractError("%s: enum %s base %s" % (path, name, sorted(bases)))
            mine.sort(key=lambda r: int(r["position"]))
            if [int(r["position"]) for r in mine] != list(range(1, len(mine) + 1)):
                raise ContractError("%s: enum %s positions have gaps" % (path, name))
            result.append(("enum", name, list(bases)[0],
                           [r["field_or_value"] for r in mine]))
        elif kinds == set(["complex"]):
            result.append(("complex", name, complex_trees[name]))
        else:
            raise ContractError("%s: type %s has kinds %s" % (path, name, sorted(kinds)))
    return result


def read_operations(path, type_names):
    _, _, rows = read_table(path)
    messages = build_tree(rows, "message", "field_path", type_names, "field")
    operation_of = {}
    for row in rows:
        operation_of.setdefault(row["message"], row["operation"])
    return messages, operation_of


# --- writing XML ------------------------------------------------------------

def esc(text):
    return (text.replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;").replace('"', "&quot;"))


def tag(name, attrs, close=False):
    """<name a="v" ...> with attributes in the given (deterministic) order."""
    text = "<" + name + "".join(' %s="%s"' % (k, esc(v)) for k, v in attrs)
    return text + ("/>" if close else ">")


def field_lines(field, depth):
    attrs = [("name", field.name)]
    if field.type != ANON:
        attrs.append(("type", field.type))
    # Occurrence attributes only where they differ from the XSD default of 1.
    if field.min != "1":
        attrs.append(("minOccurs", field.min))
    if field.max != "1":
        attrs.append(("maxOccurs", field.max))
    pad = INDENT * depth
    if field.type != ANON:
        return [pad + tag("xs:element", attrs, close=True)]
    lines = [pad + tag("xs:element", attrs)]
    lines += anonymous_type_lines(field.children, depth + 1)
    lines.append(pad + "</xs:element>")
    return lines


def sequence_lines(fields, depth):
    pad = INDENT * depth
    if not fields:
        return [pad + "<xs:sequence/>"]
    lines = [pad + "<xs:sequence>"]
    for field in fields:
        lines += field_lines(field, depth + 1)
    lines.append(pad + "</xs:sequence>")
    return lines


def anonymous_type_lines(fields, depth):
    pad = INDENT * depth
    return ([pad + "<xs:complexType>"] + sequence_lines(fields, depth + 1)
            + [pad + "</xs:complexType>"])


def schema_lines(binding, messages, types, depth):
    """The xs:schema element, the same for the XSD file and the WSDL."""
    pad = INDENT * depth
    lines = [pad + tag("xs:schema", [
        ("xmlns:xs", XS_NS),
        ("xmlns:tns", binding["tns"]),
        ("targetNamespace", binding["tns"]),
        ("elementFormDefault", binding["elementFormDefault"]),
        ("attributeFormDefault", binding["attributeFormDefault"]),
        ("version", binding["version"]),
    ])]
    inner = INDENT * (depth + 1)
    for name, fields in messages:
        lines.append(inner + tag("xs:element", [("name", name)]))
        lines += anonymous_type_lines(fields, depth + 2)
        lines.append(inner + "</xs:element>")
    for named in types:
        if named[0] == "enum":
            _, name, base, values = named
            lines.append(inner + tag("xs:simpleType", [("name", name)]))
            lines.append(inner + INDENT + tag("xs:restriction", [("base", base)]))
            for value in values:
                lines.append(inner + INDENT * 2
                             + tag("xs:enumeration", [("value", value)], close=True))
            lines.append(inner + INDENT + "</xs:restriction>")
            lines.append(inner + "</xs:simpleType>")
        else:
            _, name, fields = named
            lines.append(inner + tag("xs:complexType", [("name", name)]))
            lines += sequence_lines(fields, depth + 2)
            lines.append(inner + "</xs:complexType>")
    lines.append(pad + "</xs:schema>")
    return lines


def banner(version, kind):
    return ("<!-- %s of the PowerAuth SOAP contract %s. Generated by wsdl/gen-wsdl.py "
            "from the contract facts (operations-%s.tsv, types-%s.tsv, binding-%s.tsv); "
            "do not edit by hand: change the generator or the facts and run it again. -->"
            % (kind, version, version, version, version))


def xsd_text(version, binding, messages, types):
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', banner(version, "XML Schema")]
    lines += schema_lines(binding, messages, types, 0)
    return "\n".join(lines) + "\n"


def wsdl_text(version, binding, messages, types):
    ops = binding["operations"]
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', banner(version, "WSDL 1.1")]
    lines.append(tag("wsdl:definitions", [
        ("xmlns:wsdl", WSDL_NS),
        ("xmlns:soap", SOAP_NS),
        ("xmlns:xs", XS_NS),
        ("xmlns:tns", binding["tns"]),
        ("targetNamespace", binding["tns"]),
    ]))
    p1, p2, p3, p4 = INDENT, INDENT * 2, INDENT * 3, INDENT * 4
    lines.append(p1 + "<wsdl:types>")
    lines += schema_lines(binding, messages, types, 2)
    lines.append(p1 + "</wsdl:types>")
    for op in ops:
        for io in ("input", "output"):
            lines.append(p1 + tag("wsdl:message", [("name", op[io + "_message"])]))
            lines.append(p2 + tag("wsdl:part", [
                ("name", op[io + "_part"]),
                ("element", "tns:" + op[io + "_element"])], close=True))
            lines.append(p1 + "</wsdl:message>")
    lines.append(p1 + tag("wsdl:portType", [("name", binding["portType"])]))
    for op in ops:
        lines.append(p2 + tag("wsdl:operation", [("name", op["operation"])]))
        for io in ("input", "output"):
            lines.append(p3 + tag("wsdl:" + io, [
                ("name", op[io + "_name"]),
                ("message", "tns:" + op[io + "_message"])], close=True))
        lines.append(p2 + "</wsdl:operation>")
    lines.append(p1 + "</wsdl:portType>")
    lines.append(p1 + tag("wsdl:binding", [
        ("name", binding["binding"]), ("type", "tns:" + binding["binding_type"])]))
    lines.append(p2 + tag("soap:binding", [
        ("style", binding["style"]), ("transport", binding["transport"])], close=True))
    for op in ops:
        lines.append(p2 + tag("wsdl:operation", [("name", op["operation"])]))
        lines.append(p3 + tag("soap:operation",
                              [("soapAction", op["_soap_action"])], close=True))
        for io in ("input", "output"):
            lines.append(p3 + tag("wsdl:" + io, [("name", op[io + "_name"])]))
            lines.append(p4 + tag("soap:body", [("use", op[io + "_use"])], close=True))
            lines.append(p3 + "</wsdl:" + io + ">")
        lines.append(p2 + "</wsdl:operation>")
    lines.append(p1 + "</wsdl:binding>")
    lines.append(p1 + tag("wsdl:service", [("name", binding["service"])]))
    lines.append(p2 + tag("wsdl:port", [
        ("name", binding["port"]), ("binding", "tns:" + binding["port_binding"])]))
    lines.append(p3 + tag("soap:address", [("location", binding["address"])], close=True))
    lines.append(p2 + "</wsdl:port>")
    lines.append(p1 + "</wsdl:service>")
    lines.append("</wsdl:definitions>")
    return "\n".join(lines) + "\n"


# --- cross-checks between the tables ----------------------------------------

def check_binding_rows(binding, messages, operation_of, where):
    """Every binding row names elements that operations-*.tsv defines, and
    every element defined there is used by exactly one binding row."""
    defined = set(name for name, _ in messages)
    used = set()
    for op in binding["operations"]:
        action = op["soap_action"]
        if len(action) < 2 or action[0] != '"' or action[-1] != '"':
            raise ContractError('%s: soap_action %s is not quoted' % (op["_where"], action))
        op["_soap_action"] = action[1:-1]
        for io in ("input", "output"):
            element = op[io + "_element"]
            if element not in defined:
                raise ContractError("%s: %s element %s is not in operations"
                                    % (op["_where"], io, element))
            if operation_of[element] != op["operation"]:
                raise ContractError("%s: %s belongs to %s"
                                    % (op["_where"], element, operation_of[element]))
            if element in used:
                raise ContractError("%s: %s used twice" % (op["_where"], element))
            if op[io + "_use"] != "literal":
                raise ContractError("%s: only literal use is supported" % op["_where"])
            used.add(element)
    if used != defined:
        raise ContractError("%s: elements without an operation: %s"
                            % (where, sorted(defined - used)))


def generate(contract, version):
    binding = read_binding(os.path.join(contract, "binding-%s.tsv" % version))
    types = read_types(os.path.join(contract, "types-%s.tsv" % version))
    type_names = [t[1] for t in types]
    messages, operation_of = read_operations(
        os.path.join(contract, "operations-%s.tsv" % version), type_names)
    check_binding_rows(binding, messages, operation_of, "binding-%s.tsv" % version)
    number = version.upper()
    return {
        "service%s.wsdl" % number: wsdl_text(version, binding, messages, types),
        "powerAuth%s.xsd" % number: xsd_text(version, binding, messages, types),
    }


def main(argv):
    parser = argparse.ArgumentParser(
        description="Write the WSDL and XSD files from the contract fact tables.")
    parser.add_argument("--contract", required=True,
                        help="directory with operations-*.tsv, types-*.tsv, binding-*.tsv")
    parser.add_argument("--out", required=True, help="directory to write the files to")
    args = parser.parse_args(argv)
    try:
        files = {}
        for version in ("v3", "v2"):
            files.update(generate(args.contract, version))
    except (ContractError, OSError, KeyError) as e:
        sys.stderr.write("gen-wsdl.py: %s\n" % e)
        return 1
    if not os.path.isdir(args.out):
        os.makedirs(args.out)
    for name in sorted(files):
        with open(os.path.join(args.out, name), "w", encoding="utf-8", newline="\n") as f:
            f.write(files[name])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
