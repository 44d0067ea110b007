"""pa_itest.py - shared helpers of the integration suites written in Python.

The suites talk to a running paserver (started by tests/integration/run.sh)
over plain sockets, so that every byte on the wire is under the test's
control: raw HTTP requests, hand-built SOAP envelopes, and a small HTTP
response reader that also tells whether the server closed the connection.
Responses are parsed with the standard library's ElementTree; facts about
the expected answers come from ../shared/contract (PA_SHARED), never from
the server's own sources.

The tiny runner (Runner) runs registered test functions in order, prints
one line per test and, as its last line, 'N passed, N failed'; the exit
status is non-zero when any test failed.
"""

import base64
import os
import re
import socket
import ssl
import sys
import time
import traceback
import xml.etree.ElementTree as ET

SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
V3_NS = "http://getlime.io/security/powerauth/v3"
V2_NS = "http://getlime.io/security/powerauth/v2"
WSSE_NS = ("http://docs.oasis-open.org/wss/2004/01/"
           "oasis-200401-wss-wssecurity-secext-1.0.xsd")
WSU_NS = ("http://docs.oasis-open.org/wss/2004/01/"
          "oasis-200401-wss-wssecurity-utility-1.0.xsd")
PW_TEXT = ("http://docs.oasis-open.org/wss/2004/01/"
           "oasis-200401-wss-username-token-profile-1.0#PasswordText")
PW_DIGEST = ("http://docs.oasis-open.org/wss/2004/01/"
             "oasis-200401-wss-username-token-profile-1.0#PasswordDigest")
NONCE_B64 = ("http://docs.oasis-open.org/wss/2004/01/"
             "oasis-200401-wss-soap-message-security-1.0#Base64Binary")

UUID4_RE = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
# xs:dateTime with a zone (Z or +hh:mm), optional fraction
DATETIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


# --- configuration -----------------------------------------------------------

HOST = os.environ.get("PA_ITEST_HOST", "127.0.0.1")
PORT = int(os.environ.get("PA_ITEST_PORT", "0") or 0)
CONTEXT = os.environ.get("PA_ITEST_CONTEXT", "/powerauth-java-server")
ENDPOINT_PATH = CONTEXT.rstrip("/") + "/soap"
SHARED = os.environ.get("PA_SHARED", "")
SRCDIR = os.environ.get("PA_SRCDIR", "")
# How long any single answer may take before the test calls it a hang.
TIMEOUT = float(os.environ.get("PA_ITEST_TIMEOUT", "10"))
# Set: the server listens with TLS; connections verify it against this CA.
TLS_CA = os.environ.get("PA_ITEST_TLS_CA", "")


def tls_wrap(sock):
    """sock, or sock inside a TLS session when the server speaks TLS."""
    if not TLS_CA:
        return sock
    return ssl.create_default_context(cafile=TLS_CA).wrap_socket(
        sock, server_hostname=HOST)


def endpoint_url():
    return "http://%s:%d%s" % (HOST, PORT, ENDPOINT_PATH)


def require_port():
    if PORT <= 0:
        sys.stderr.write("PA_ITEST_PORT is not set (run through "
                         "tests/integration/run.sh)\n")
        sys.exit(2)


# --- the error catalogue (contract) -----------------------------------------

def error_catalogue():
    """[(code, english_text)] in contract order: message_en, except the
    docs_title for ERR0031/ERR0032 (CONTRACT.md, last paragraph)."""
    path = os.path.join(SHARED, "contract", "error-codes.tsv")
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#") or line.startswith("code\t"):
                continue
            cols = line.split("\t")
            code, msg, title = cols[0], cols[2], cols[3]
            if code in ("ERR0031", "ERR0032"):
                msg = title
            rows.append((code, msg))
    return rows


def english(code):
    for c, m in error_catalogue():
        if c == code:
            return m
    raise KeyError(code)


# --- HTTP on raw sockets -----------------------------------------------------

class HttpResponse:
    def __init__(self, version, status, reason, headers, body, closed):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers      # lower-case name -> value (last wins)
        self.body = body            # bytes
        self.closed = closed        # the server closed after this answer

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<HTTP %s %s, %d body bytes>" % (self.status, self.reason,
                                                len(self.body))


class Conn:
    """One TCP connection carrying any number of requests."""

    def __init__(self, host=None, port=None, timeout=None):
        self.sock = tls_wrap(socket.create_connection((host or HOST, port or PORT),
                                                      timeout=timeout or TIMEOUT))
        self.buf = b""
        self.eof = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        if self.eof:
            return False
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _line(self):
        while b"\r\n" not in self.buf:
            if not self._fill():
                raise EOFError("connection closed inside the HTTP head")
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise EOFError("connection closed inside the HTTP body")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_response(self, head_only=False):
        status_line = self._line().decode("latin-1")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise ValueError("not an HTTP status line: %r" % status_line)
        version, status = parts[0], int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = {}
        while True:
            line = self._line()
            if not line:
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = b""
        if head_only or status in (204, 304) or 100 <= status < 200:
            pass
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():
                        pass
                    break
                body += self._exact(size)
                self._line()
        elif "content-length" in headers:
            body = self._exact(int(headers["content-length"]))
        else:
            while self._fill():
                pass
            body, self.buf = self.buf, b""
        closed = self.peer_closed(version, headers)
        return HttpResponse(version, status, reason, headers, body, closed)

    def peer_closed(self, version, headers):
        """True when the server closed (or announced it closes) after this
        answer; waits briefly for the FIN when the answer says close."""
        conn = headers.get("connection", "").lower()
        says_close = "close" in conn or (version == "HTTP/1.0"
                                         and "keep-alive" not in conn)
        if self.eof:
            return True
        if self.buf:
            return False
        wait = 2.0 if says_close else 0.05
        self.sock.settimeout(wait)
        try:
            self._fill()
        except socket.timeout:
            pass
        except OSError:
            self.eof = True
        finally:
            self.sock.settimeout(TIMEOUT)
        return self.eof

    def request(self, data, head_only=False):
        """Sends one request and reads its answer.  Bytes arriving beyond
        that answer (seen while checking for a close) would be a second,
        unasked-for answer: an error."""
        self.send(data)
        resp = self.read_response(head_only=head_only)
        assert not self.buf, ("the server sent %d bytes beyond its answer: %r"
                              % (len(self.buf), self.buf[:80]))
        return resp


def http_bytes(method, path, body=b"", headers=None, version="HTTP/1.1",
               host=None, content_type="text/xml; charset=utf-8",
               content_length=None):
    """A request as bytes.  headers: list of (name, value) added after Host,
    Content-Type and Content-Length (set content_type=None to omit it,
    content_length to lie about the length)."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    lines = ["%s %s %s" % (method, path, version),
             "Host: %s" % (host or "%s:%d" % (HOST, PORT))]
    if content_type is not None and (body or method == "POST"):
        lines.append("Content-Type: %s" % content_type)
    if method in ("POST", "PUT") or body:
        lines.append("Content-Length: %d" % (len(body) if content_length is None
                                              else content_length))
    for name, value in headers or []:
        lines.append("%s: %s" % (name, value))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def exchange(data, timeout=None):
    """Sends one request on a new connection and reads one answer."""
    with Conn(timeout=timeout) as c:
        return c.request(data)


# --- SOAP envelopes ----------------------------------------------------------

def esc(s):
    return (str(s).replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;").replace('"', "&quot;"))


def fields_xml(fields, prefix=""):
    """fields: list of (name, value); value None = omitted, list = nested
    fields.  Children are qualified by the default namespace of the
    operation element (as JAX-WS writes them) unless prefix is given."""
    out = []
    for name, value in fields:
        if value is None:
            continue
        tag = prefix + name
        if isinstance(value, (list, tuple)):
            out.append("<%s>%s</%s>" % (tag, fields_xml(value, prefix), tag))
        elif isinstance(value, bool):
            out.append("<%s>%s</%s>" % (tag, "true" if value else "false", tag))
        else:
            out.append("<%s>%s</%s>" % (tag, esc(value), tag))
    return "".join(out)


def envelope(body_xml, header_xml=None, soap_ns=SOAP11_NS):
    head = "" if header_xml is None else "<S:Header>%s</S:Header>" % header_xml
    return ("<?xml version='1.0' encoding='UTF-8'?>"
            '<S:Envelope xmlns:S="%s">%s<S:Body>%s</S:Body></S:Envelope>'
            % (soap_ns, head, body_xml))


def op_xml(op, fields=(), ns=V3_NS):
    inner = fields_xml(fields)
    if not inner:
        return '<%sRequest xmlns="%s"/>' % (op, ns)
    return '<%sRequest xmlns="%s">%s</%sRequest>' % (op, ns, inner, op)


def soap_post(xml, headers=None, version="HTTP/1.1", path=None,
              content_type="text/xml; charset=utf-8"):
    return http_bytes("POST", path or ENDPOINT_PATH, xml,
                      headers=[("SOAPAction", '""')] + list(headers or []),
                      version=version, content_type=content_type)


def security_text(username, password, must_understand=False):
    mu = ' S:mustUnderstand="1"' if must_understand else ""
    return ('<wsse:Security xmlns:wsse="%s"%s><wsse:UsernameToken>'
            "<wsse:Username>%s</wsse:Username>"
            '<wsse:Password Type="%s">%s</wsse:Password>'
            "</wsse:UsernameToken></wsse:Security>"
            % (WSSE_NS, mu, esc(username), PW_TEXT, esc(password)))


def password_digest(nonce, created, password):
    """WS-Security UsernameToken Profile 1.0: Base64(SHA-1(nonce bytes ||
    created text || password))."""
    import hashlib
    h = hashlib.sha1(nonce + created.encode("utf-8") + password.encode("utf-8"))
    return base64.b64encode(h.digest()).decode("ascii")


def security_digest(username, password, nonce=None, created=None,
                    digest=None):
    nonce = nonce if nonce is not None else os.urandom(16)
    if created is None:
        created = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    if digest is None:
        digest = password_digest(nonce, created, password)
    return ('<wsse:Security xmlns:wsse="%s"><wsse:UsernameToken>'
            "<wsse:Username>%s</wsse:Username>"
            '<wsse:Password Type="%s">%s</wsse:Password>'
            '<wsse:Nonce EncodingType="%s">%s</wsse:Nonce>'
            '<wsu:Created xmlns:wsu="%s">%s</wsu:Created>'
            "</wsse:UsernameToken></wsse:Security>"
            % (WSSE_NS, esc(username), PW_DIGEST, digest, NONCE_B64,
               base64.b64encode(nonce).decode("ascii"), WSU_NS, created))


# --- reading answers ---------------------------------------------------------

class Answer:
    """A parsed SOAP answer: the HTTP response plus the envelope."""

    def __init__(self, resp):
        self.http = resp
        self.status = resp.status
        self.root = None
        self.parse_error = None
        try:
            self.root = ET.fromstring(resp.body)
        except ET.ParseError as e:
            self.parse_error = str(e)

    # envelope parts
    def envelope_ns(self):
        if self.root is None:
            return None
        m = re.match(r"\{(.*)\}Envelope$", self.root.tag)
        return m.group(1) if m else None

    def header(self):
        ns = self.envelope_ns()
        return None if ns is None else self.root.find("{%s}Header" % ns)

    def body_child(self):
        ns = self.envelope_ns()
        if ns is None:
            return None
        body = self.root.find("{%s}Body" % ns)
        if body is None or len(body) == 0:
            return None
        return body[0]

    def fault(self):
        """dict with code, string, lang, errorCode, localizedMessage, detail
        (child tag -> text) for a SOAP 1.1 fault; for SOAP 1.2 the Code
        Value / Reason Text; None when the body holds no fault."""
        child = self.body_child()
        ns = self.envelope_ns()
        if child is None or child.tag != "{%s}Fault" % ns:
            return None
        f = {"code": None, "string": None, "lang": None, "errorCode": None,
             "localizedMessage": None, "detail": None}
        if ns == SOAP11_NS:
            code = child.find("faultcode")
            string = child.find("faultstring")
            detail = child.find("detail")
            f["code"] = code.text if code is not None else None
            if string is not None:
                f["string"] = string.text
                f["lang"] = string.get(
                    "{http://www.w3.org/XML/1998/namespace}lang")
        else:
            value = child.find("{%s}Code/{%s}Value" % (ns, ns))
            text = child.find("{%s}Reason/{%s}Text" % (ns, ns))
            detail = child.find("{%s}Detail" % ns)
            f["code"] = value.text if value is not None else None
            f["string"] = text.text if text is not None else None
        if detail is not None:
            f["detail"] = {c.tag: (c.text or "") for c in detail}
            f["errorCode"] = f["detail"].get("errorCode")
            f["localizedMessage"] = f["detail"].get("localizedMessage")
        return f

    def response(self, op, ns=V3_NS):
        """The <opResponse> element, or None."""
        child = self.body_child()
        if child is not None and child.tag == "{%s}%sResponse" % (ns, op):
            return child
        return None

    def describe(self):
        f = self.fault() if self.root is not None else None
        if f:
            return "HTTP %d fault %s %r %s" % (self.status, f["code"],
                                               f["string"], f["errorCode"])
        return "HTTP %d %s" % (self.status, self.http.body[:300])


def call_raw(op, fields=(), header_xml=None, ns=V3_NS, conn=None):
    data = soap_post(envelope(op_xml(op, fields, ns), header_xml))
    resp = conn.request(data) if conn else exchange(data)
    return Answer(resp)


class SoapFault(Exception):
    def __init__(self, answer):
        Exception.__init__(self, answer.describe())
        self.answer = answer
        self.fault = answer.fault()


def call(op, fields=(), header_xml=None, conn=None):
    """Calls a v3 operation; returns the response element as a dict-like
    Resp; raises SoapFault on a fault, AssertionError on anything else."""
    a = call_raw(op, fields, header_xml, conn=conn)
    if a.status == 200:
        r = a.response(op)
        assert r is not None, "%s: no %sResponse in %s" % (op, op, a.describe())
        assert a.header() is None, "%s: response carries a SOAP Header" % op
        return Resp(r)
    if a.root is not None and a.fault() is not None:
        raise SoapFault(a)
    raise AssertionError("%s: unexpected answer %s" % (op, a.describe()))


class Resp:
    """Children of a response element: .one(name) for a required scalar,
    .opt(name), .many(name) for repeated elements (each a Resp)."""

    def __init__(self, elem):
        self.elem = elem

    def _all(self, name):
        return self.elem.findall("{%s}%s" % (V3_NS, name))

    def names(self):
        return [re.sub(r"^\{.*\}", "", c.tag) for c in self.elem]

    def one(self, name):
        found = self._all(name)
        assert len(found) == 1, "%s: expected one <%s>, got %d (children %s)" % (
            self.elem.tag, name, len(found), self.names())
        return found[0].text or ""

    def opt(self, name):
        found = self._all(name)
        assert len(found) <= 1, "more than one <%s>" % name
        return (found[0].text or "") if found else None

    def many(self, name):
        return [Resp(e) for e in self._all(name)]

    def long(self, name):
        v = self.one(name)
        assert re.match(r"^-?\d+$", v), "<%s> is not an xs:long: %r" % (name, v)
        return int(v)

    def bool(self, name):
        v = self.one(name)
        assert v in ("true", "false"), "<%s> is not true/false: %r" % (name, v)
        return v == "true"


def expect_fault(op, fields=(), code="SOAP-ENV:Server", error="ERR0024",
                 header_xml=None, string=None):
    """Calls op and checks the documented fault shape; returns the fault."""
    a = call_raw(op, fields, header_xml)
    return check_fault(a, code, error, string)


def check_fault(a, code="SOAP-ENV:Server", error="ERR0024", string=None):
    assert a.root is not None, "answer is not XML (%s): %r" % (
        a.parse_error, a.http.body[:300])
    f = a.fault()
    assert f is not None, "no fault: %s" % a.describe()
    assert a.status == 500, "fault with HTTP %d, expected 500" % a.status
    assert a.header() is None, "fault carries a SOAP Header"
    if code is not None:
        assert local(f["code"]) == local(code) and prefix_ok(a, f["code"]), \
            "faultcode %r, expected %r" % (f["code"], code)
    if error is not None:
        assert f["errorCode"] == error, "errorCode %r, expected %r (%s)" % (
            f["errorCode"], error, a.describe())
        # Server faults carry the catalogue text; Client faults keep the
        # parser's own description in faultstring.
        assert f["localizedMessage"] == english(error), \
            "localizedMessage %r" % f["localizedMessage"]
        if local(f["code"]) == "Server":
            assert f["string"] == english(error), "faultstring %r" % f["string"]
    if string is not None:
        assert f["string"] == string, "faultstring %r, expected %r" % (
            f["string"], string)
    assert f["string"], "empty faultstring"
    if a.envelope_ns() == SOAP11_NS:
        assert f["lang"] == "en", "faultstring xml:lang %r" % f["lang"]
    return f


def local(qname):
    return (qname or "").split(":")[-1]


def prefix_ok(a, qname):
    """The faultcode's prefix must be bound to the envelope namespace."""
    if ":" not in (qname or ""):
        return False
    prefix = qname.split(":")[0]
    ns = namespace_of_prefix(a.http.body, prefix)
    return ns == a.envelope_ns()


def namespace_of_prefix(body, prefix):
    m = re.search(rb'xmlns:' + re.escape(prefix.encode()) + rb'="([^"]*)"', body)
    return m.group(1).decode() if m else None


# --- value checks ------------------------------------------------------------

def b64_bytes(s):
    assert re.match(r"^[A-Za-z0-9+/]*={0,2}$", s or ""), "not Base64: %r" % s
    return base64.b64decode(s, validate=True)


def is_uuid4(s):
    return bool(UUID4_RE.match(s or ""))


def check_alive():
    """A good request on a new connection: proves the server survived."""
    a = call_raw("GetSystemStatus")
    assert a.status == 200 and a.response("GetSystemStatus") is not None, \
        "server did not answer GetSystemStatus afterwards: %s" % a.describe()


# --- runner --------------------------------------------------------------------

class Runner:
    def __init__(self, name):
        self.name = name
        self.tests = []

    def test(self, fn):
        self.tests.append(fn)
        return fn

    def run(self, only=None):
        passed = failed = 0
        known = set(fn.__name__ for fn in self.tests)
        for name in sorted(set(only or ()) - known):
            # a misspelt name would otherwise run nothing and pass
            failed += 1
            print("FAIL %s.%s: no such test" % (self.name, name))
        for fn in self.tests:
            if only and fn.__name__ not in only:
                continue
            start = time.time()
            try:
                fn()
            except Skip as s:
                print("SKIP %s.%s: %s" % (self.name, fn.__name__, s))
                continue
            except Exception as e:                      # noqa: BLE001
                failed += 1
                print("FAIL %s.%s (%.2fs): %s: %s" % (
                    self.name, fn.__name__, time.time() - start,
                    type(e).__name__, e))
                tb = traceback.extract_tb(sys.exc_info()[2])
                for fr in tb[-3:]:
                    print("     at %s:%d %s" % (os.path.basename(fr.filename),
                                                fr.lineno, fr.line))
                continue
            passed += 1
            print("ok   %s.%s (%.2fs)" % (self.name, fn.__name__,
                                          time.time() - start))
        sys.stdout.flush()
        print("%d passed, %d failed" % (passed, failed))
        return 1 if failed else 0


class Skip(Exception):
    pass
