#!/usr/bin/python3
"""test_captures.py - replays what real SOAP clients sent.

Every request in ../shared/clients/{jaxws,axis1,zeep}/*.http is sent byte
for byte; only the port in the Host header is changed to the test
server's.  The server must start from an empty database (run.sh gives
this suite its own), so that capture 03 of the first client creates
application 1, which captures 04..07 read.

Per answer: HTTP 200, Content-Type text/xml, a SOAP 1.1 envelope whose
body holds the expected response element in the v3 namespace, no SOAP
Header, and neither the word 'Security' nor any part of the captured
WS-Security credentials anywhere in the bytes (headers included).
Framing: JAX-WS and zeep requests all travel on one keep-alive
connection, which the server must keep open; each Axis HTTP/1.0 request
gets its answer and then the server closes the connection.
"""

import glob
import os
import re
import sys

from pa_itest import (Answer, Conn, DATETIME_RE, Runner, SOAP11_NS, V3_NS, PORT,
                      SHARED, error_catalogue, require_port)

T = Runner("captures")

# Secrets of the captured UsernameTokens (README.md), in every spelling.
SECRETS = [b"mw-client-token", b"mw secret", b"&lt;pw", b"<pw>",
           b"RdskGOQ2uQximaZMAFyCert+UME=", b"bQR/T1NY69p5Tyt9YzgIog==",
           b"Security", b"UsernameToken", b"PasswordText", b"PasswordDigest"]


def captures(client):
    files = sorted(glob.glob(os.path.join(SHARED, "clients", client, "*.http")))
    assert files, "no captures for %s in %s" % (client, SHARED)
    return files


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    head, sep, body = data.partition(b"\r\n\r\n")
    assert sep, "%s: no end of headers" % path
    new_head, n = re.subn(rb"(?im)^(Host:\s*127\.0\.0\.1:)8080\s*$",
                          b"\\g<1>" + str(PORT).encode(), head)
    assert n == 1, "%s: Host header not found" % path
    return new_head + sep + body


def operation(path):
    m = re.match(r"\d+-([A-Za-z]+)", os.path.basename(path))
    return m.group(1)


def check_answer(path, resp, seen):
    op = operation(path)
    name = "%s/%s" % (os.path.basename(os.path.dirname(path)),
                      os.path.basename(path))
    raw = resp.body + repr(resp.headers).encode()
    for s in SECRETS:
        assert s not in raw, "%s: answer contains %r" % (name, s)
    a = Answer(resp)
    assert resp.status == 200, "%s: %s" % (name, a.describe())
    ctype = resp.header("content-type", "")
    assert ctype.lower().startswith("text/xml"), "%s: Content-Type %r" % (name, ctype)
    assert a.root is not None, "%s: not XML: %s" % (name, a.parse_error)
    assert a.envelope_ns() == SOAP11_NS, "%s: envelope %r" % (name, a.root.tag)
    assert a.header() is None, "%s: response has a SOAP Header" % name
    r = a.response(op)
    assert r is not None, "%s: no {%s}%sResponse: %s" % (name, V3_NS, op,
                                                         a.describe())
    ch = {re.sub(r"^\{.*\}", "", c.tag): c for c in r}
    for c in r:
        assert c.tag.startswith("{%s}" % V3_NS), "%s: child %s" % (name, c.tag)
    if op == "GetSystemStatus":
        assert ch["status"].text == "OK"
        for f in ("buildTime", "timestamp"):
            assert DATETIME_RE.match(ch[f].text or ""), "%s: %s %r" % (name, f, ch[f].text)
    elif op == "GetErrorCodeList":
        codes = [e.find("{%s}code" % V3_NS).text
                 for e in r.findall("{%s}errors" % V3_NS)]
        assert codes == [c for c, _ in error_catalogue()], codes
    elif op == "CreateApplication":
        req_name = re.search(rb"applicationName>([^<]*)<", load(path)).group(1)
        assert ch["applicationName"].text == req_name.decode()
        seen.setdefault("apps", []).append(int(ch["applicationId"].text))
    elif op == "GetApplicationDetail":
        assert ch["applicationId"].text == "1", ch["applicationId"].text
        assert ch["masterPublicKey"].text
    elif op == "CreateCallbackUrl":
        assert ch["applicationId"].text == "1"
        assert ch["name"].text == "cb"
        assert ch["callbackUrl"].text == "https://bank.example/cb"
    return a


@T.test
def jaxws_keepalive_one_connection():
    seen = {}
    files = captures("jaxws")
    with Conn() as c:
        for i, path in enumerate(files):
            resp = c.request(load(path))
            check_answer(path, resp, seen)
            assert resp.version == "HTTP/1.1", resp.version
            assert not resp.closed, ("server closed the JAX-WS keep-alive "
                                     "connection after %s" % os.path.basename(path))
    assert seen.get("apps") == [1], seen


@T.test
def axis1_http10_one_request_per_connection():
    seen = {}
    for path in captures("axis1"):
        with Conn() as c:
            resp = c.request(load(path))
            check_answer(path, resp, seen)
            assert resp.closed, ("server kept the HTTP/1.0 connection open "
                                 "after %s" % os.path.basename(path))
    assert len(seen.get("apps", [])) == 1 and seen["apps"][0] > 1, seen


@T.test
def zeep_keepalive_one_connection():
    seen = {}
    with Conn() as c:
        for path in captures("zeep"):
            resp = c.request(load(path))
            check_answer(path, resp, seen)
            assert not resp.closed, os.path.basename(path)
    assert len(seen.get("apps", [])) == 1, seen


@T.test
def jaxws_pipelined_requests():
    # Two requests written at once: both must be answered, in order.
    files = captures("jaxws")
    a, b = load(files[0]), load(files[1])
    with Conn() as c:
        c.send(a + b)
        r1 = c.read_response()
        r2 = c.read_response()
    check_answer(files[0], r1, {})
    check_answer(files[1], r2, {})


@T.test
def many_requests_on_one_connection():
    path = captures("jaxws")[0]
    data = load(path)
    with Conn() as c:
        for _ in range(30):
            resp = c.request(data)
            check_answer(path, resp, {})
            assert not resp.closed


@T.test
def trailing_crlf_after_envelope():
    # gSOAP's own client (and so pactl) ends its body with CRLF, counted in
    # Content-Length: one request, so exactly one answer, and the next
    # request on the connection gets its own answer.
    from pa_itest import envelope, op_xml, soap_post
    first = soap_post((envelope(op_xml("GetSystemStatus")) + "\r\n").encode())
    second = soap_post((envelope(op_xml("GetErrorCodeList", [("language", "en")]))
                        + "\r\n\r\n  ").encode())
    with Conn() as c:
        r1 = c.request(first)
        a1 = Answer(r1)
        assert r1.status == 200 and a1.response("GetSystemStatus") is not None, a1.describe()
        if not r1.closed:
            r2 = c.request(second)
            a2 = Answer(r2)
            assert r2.status == 200 and a2.response("GetErrorCodeList") is not None, \
                "second request answered with %s" % a2.describe()


if __name__ == "__main__":
    require_port()
    sys.exit(T.run(sys.argv[1:]))
