#!/usr/bin/python3
"""test_restrict.py - access restriction (restrictAccess, WS-Security).

Two phases on one database file, run by run.sh around a server restart:

  test_restrict.py setup STATE   restriction OFF: creates two integrations
                                 (CreateIntegration itself would need a
                                 token once restriction is on), stores their
                                 credentials in STATE (JSON), and checks that
                                 a request carrying a wsse:Security header
                                 (capture 06, mustUnderstand="1") is served.
  test_restrict.py check STATE   restriction ON: no header, an empty or
                                 incomplete header, a wrong password, an
                                 unknown username, a wrong digest -> Client
                                 fault and no operation ran; the right
                                 PasswordText (JAX-WS, Axis and zeep
                                 spellings) and PasswordDigest -> 200, with no
                                 Header and no credential in the answer; a
                                 removed integration's token stops working.

CONTRACT.md "Access restriction": the faultstring for a missing header is
"No WS-Security header found".
"""

import base64
import json
import os
import re
import sys
import time

from pa_itest import (Answer, Conn, Runner, SHARED, call, call_raw, envelope,
                      exchange, http_bytes, is_uuid4, op_xml, password_digest,
                      require_port, security_digest, security_text, soap_post,
                      ENDPOINT_PATH, PORT, PW_DIGEST, WSSE_NS)

T = Runner("restrict")
STATE = {}
NOHEADER = "No WS-Security header found"


def creds(n):
    return STATE["i%d" % n]["clientToken"], STATE["i%d" % n]["clientSecret"]


def text_header(n, must_understand=False):
    return security_text(*creds(n), must_understand=must_understand)


def refused(a, string=None):
    """A Client fault, HTTP 500, no operation answer, no credentials echoed."""
    assert a.root is not None, a.http.body[:200]
    f = a.fault()
    assert f is not None and a.status == 500, a.describe()
    assert f["code"].split(":")[-1] == "Client", "faultcode %r" % f["code"]
    if string is not None:
        assert f["string"] == string, "faultstring %r" % f["string"]
    if f["errorCode"] is not None:
        assert f["errorCode"] == "ERR0024", f["errorCode"]
    no_secrets(a)
    return f


def no_secrets(a):
    body = a.http.body
    # (the faultstring "No WS-Security header found" names it, so look for
    # the element and the token, not the word)
    for s in (b":Security", b"<Security", b"UsernameToken", b"Password"):
        assert s not in body, "answer contains %r" % s
    assert a.header() is None, "answer has a SOAP Header"
    for n in (1, 2):
        if "i%d" % n in STATE:
            for v in creds(n):
                assert v.encode() not in body, "answer contains a credential"


def app_names(header):
    return [x.one("applicationName")
            for x in call("GetApplicationList", header_xml=header).many("applications")]


# --- phase 1: restriction off -------------------------------------------------

def setup(path):
    ints = {}
    for n in (1, 2):
        r = call("CreateIntegration", [("name", "itest-auth-%d" % n)])
        ints["i%d" % n] = {k: r.one(k) for k in ("id", "clientToken", "clientSecret")}
        assert all(is_uuid4(v) for v in ints["i%d" % n].values()), ints
    lst = call("GetIntegrationList")
    assert lst.bool("restrictedAccess") is False
    call("CreateApplication", [("applicationName", "itest-auth-app")])
    with open(path, "w") as f:
        json.dump(ints, f)
    STATE.update(ints)


@T.test
def off_capture06_with_security_header_served():
    for client in ("jaxws", "axis1", "zeep"):
        path = os.path.join(SHARED, "clients", client,
                            "06-GetApplicationDetail-wsse.http")
        with open(path, "rb") as f:
            data = f.read().replace(b"127.0.0.1:8080", b"127.0.0.1:%d" % PORT)
        a = Answer(exchange(data))
        assert a.status == 200, "%s 06: %s" % (client, a.describe())
        assert a.response("GetApplicationDetail") is not None
        assert b"mw secret" not in a.http.body and b"Security" not in a.http.body


@T.test
def off_digest_header_served():
    a = call_raw("GetSystemStatus", header_xml=security_digest("x", "y"))
    assert a.status == 200, a.describe()
    no_secrets(a)


@T.test
def off_garbage_credentials_ignored():
    a = call_raw("GetSystemStatus", header_xml=security_text("nobody", "nothing"))
    assert a.status == 200, a.describe()


# --- phase 2: restriction on ----------------------------------------------------

@T.test
def on_no_header():
    refused(call_raw("GetSystemStatus"), NOHEADER)
    refused(call_raw("GetErrorCodeList", [("language", "en")]), NOHEADER)


@T.test
def on_no_header_runs_nothing():
    refused(call_raw("CreateApplication", [("applicationName", "itest-sneaky")]))
    refused(call_raw("CreateIntegration", [("name", "itest-sneaky")]))
    names = app_names(text_header(1))
    assert "itest-sneaky" not in names, names
    lst = call("GetIntegrationList", header_xml=text_header(1))
    assert "itest-sneaky" not in [i.opt("name") for i in lst.many("items")]


@T.test
def on_empty_header():
    refused(call_raw("GetSystemStatus", header_xml=""))


@T.test
def on_security_without_token():
    refused(call_raw("GetSystemStatus",
                     header_xml='<wsse:Security xmlns:wsse="%s"/>' % WSSE_NS))


@T.test
def on_token_without_password():
    hdr = ('<wsse:Security xmlns:wsse="%s"><wsse:UsernameToken><wsse:Username>'
           "%s</wsse:Username></wsse:UsernameToken></wsse:Security>"
           % (WSSE_NS, creds(1)[0]))
    refused(call_raw("GetSystemStatus", header_xml=hdr))


@T.test
def on_wrong_password():
    token, secret = creds(1)
    wrong = secret[:-1] + ("1" if secret[-1] == "0" else "0")
    refused(call_raw("GetSystemStatus", header_xml=security_text(token, wrong)))
    refused(call_raw("GetSystemStatus", header_xml=security_text(token, "")))
    # the other integration's secret
    refused(call_raw("GetSystemStatus", header_xml=security_text(token, creds(2)[1])))


@T.test
def on_unknown_username():
    refused(call_raw("GetSystemStatus",
                     header_xml=security_text("mw-client-token", "mw secret & <pw>")))
    refused(call_raw("GetSystemStatus",
                     header_xml=security_text(creds(1)[1], creds(1)[1])))


@T.test
def on_password_text():
    for must in (False, True):
        a = call_raw("GetSystemStatus", header_xml=text_header(1, must))
        assert a.status == 200, a.describe()
        assert a.response("GetSystemStatus") is not None
        no_secrets(a)
    a = call_raw("GetErrorCodeList", [("language", "en")], header_xml=text_header(2))
    assert a.status == 200, a.describe()


@T.test
def on_restricted_access_reported():
    lst = call("GetIntegrationList", header_xml=text_header(1))
    assert lst.bool("restrictedAccess") is True
    ids = [i.one("id") for i in lst.many("items")]
    assert STATE["i1"]["id"] in ids and STATE["i2"]["id"] in ids


@T.test
def on_captured_client_bytes_with_real_credentials():
    token, secret = creds(1)
    for client in ("jaxws", "axis1", "zeep"):
        path = os.path.join(SHARED, "clients", client,
                            "06-GetApplicationDetail-wsse.http")
        with open(path, "rb") as f:
            raw = f.read()
        head, _, body = raw.partition(b"\r\n\r\n")
        body = body.replace(b"mw-client-token", token.encode())
        body = re.sub(rb"(Password Type=\"[^\"]*\">)[^<]*(<)",
                      lambda m: m.group(1) + secret.encode() + m.group(2), body)
        head = re.sub(rb"Content-Length: \d+", b"Content-Length: %d" % len(body), head)
        head = head.replace(b"127.0.0.1:8080", b"127.0.0.1:%d" % PORT)
        a = Answer(exchange(head + b"\r\n\r\n" + body))
        assert a.status == 200, "%s: %s" % (client, a.describe())
        assert a.response("GetApplicationDetail") is not None
        no_secrets(a)


@T.test
def on_password_digest():
    token, secret = creds(1)
    a = call_raw("GetSystemStatus", header_xml=security_digest(token, secret))
    assert a.status == 200, a.describe()
    no_secrets(a)
    # zeep's spelling of Created (offset, no fraction) and a fixed nonce
    nonce = base64.b64decode("bQR/T1NY69p5Tyt9YzgIog==")
    import time
    created = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    a = call_raw("GetSystemStatus",
                 header_xml=security_digest(token, secret, nonce, created))
    assert a.status == 200, a.describe()
    # an independent check of the digest formula against the fixture (README)
    assert password_digest(nonce, "2026-11-23T23:53:32+00:00",
                           "mw secret & <pw>") == "RdskGOQ2uQximaZMAFyCert+UME="


@T.test
def on_wrong_digest():
    token, secret = creds(1)
    refused(call_raw("GetSystemStatus",
                     header_xml=security_digest(token, secret + "x")))
    bad = security_digest(token, secret, digest=base64.b64encode(b"\0" * 20).decode())
    refused(call_raw("GetSystemStatus", header_xml=bad))


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t))


@T.test
def on_digest_must_be_fresh_and_used_once():
    # Accepted before: a Created a year old, in 2099, or not a timestamp; no
    # Nonce or Created at all; the same Nonce/Created three times.
    token, secret = creds(1)
    now = time.time()
    for created in (iso(now - 365 * 86400), iso(now - 400), "2099-01-01T00:00:00Z",
                    iso(now + 300), "not a timestamp", ""):
        refused(call_raw("GetSystemStatus",
                         header_xml=security_digest(token, secret, created=created)))
    # neither Nonce nor Created: the digest of the secret alone
    import hashlib
    bare = base64.b64encode(hashlib.sha1(secret.encode()).digest()).decode()
    hdr = ('<wsse:Security xmlns:wsse="%s"><wsse:UsernameToken>'
           "<wsse:Username>%s</wsse:Username>"
           '<wsse:Password Type="%s">%s</wsse:Password>'
           "</wsse:UsernameToken></wsse:Security>" % (WSSE_NS, token, PW_DIGEST, bare))
    refused(call_raw("GetSystemStatus", header_xml=hdr))
    # one fresh digest: accepted once, refused on every replay
    hdr = security_digest(token, secret, nonce=os.urandom(16), created=iso(now))
    a = call_raw("GetSystemStatus", header_xml=hdr)
    assert a.status == 200, a.describe()
    for _ in range(2):
        refused(call_raw("GetSystemStatus", header_xml=hdr))
    # a little in the future (clock skew) is fine
    a = call_raw("GetSystemStatus",
                 header_xml=security_digest(token, secret, created=iso(now + 30)))
    assert a.status == 200, a.describe()


@T.test
def on_digest_replayed_in_parallel_accepted_once():
    import threading
    token, secret = creds(1)
    hdr = security_digest(token, secret, nonce=os.urandom(16), created=iso(time.time()))
    results = []

    def one():
        a = call_raw("GetSystemStatus", header_xml=hdr)
        results.append(a.status)
    ts = [threading.Thread(target=one) for _ in range(16)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert results.count(200) == 1, "accepted %d times" % results.count(200)


@T.test
def on_two_tokens_or_headers_refused():
    # The first used to win: a valid token followed by anything passed.
    good = text_header(1)
    other = security_text("nobody", "nothing")
    body_tok = good.replace("</wsse:UsernameToken></wsse:Security>",
                            "</wsse:UsernameToken>" +
                            other[other.index("<wsse:UsernameToken>"):])
    for hdr in (good + other, good + good, body_tok):
        refused(call_raw("GetSystemStatus", header_xml=hdr))
    a = call_raw("GetSystemStatus", header_xml=good)
    assert a.status == 200, a.describe()


@T.test
def on_nul_in_credentials_refused():
    token, secret = creds(1)
    for hdr in (security_text(token + "\0x", secret), security_text(token, secret + "\0x"),
                security_text(token, secret).replace(secret, secret + "&#0;")):
        body = soap_post(envelope(op_xml("GetSystemStatus"), hdr))
        refused(Answer(exchange(body)))


@T.test
def on_unknown_user_with_old_fallback_refused():
    for pw in ("00000000-0000-4000-8000-000000000000", ""):
        refused(call_raw("GetSystemStatus",
                         header_xml=security_text("no-such-user", pw)))


@T.test
def on_wsdl_still_served():
    r = exchange(http_bytes("GET", ENDPOINT_PATH + "/serviceV3.wsdl",
                            headers=[("Connection", "close")]))
    assert r.status == 200, "GET serviceV3.wsdl with restriction on -> %d" % r.status


@T.test
def on_zeep_client_with_credentials():
    try:
        import zeep
        import zeep.wsse.username
    except ImportError:
        raise AssertionError("python3-zeep is missing")
    r = exchange(http_bytes("GET", ENDPOINT_PATH + "/serviceV3.wsdl",
                            headers=[("Connection", "close")]))
    if r.status != 200:
        raise AssertionError("served WSDL missing (HTTP %d)" % r.status)
    token, secret = creds(2)
    for digest in (False, True):
        c = zeep.Client("http://127.0.0.1:%d%s/serviceV3.wsdl" % (PORT, ENDPOINT_PATH),
                        wsse=zeep.wsse.username.UsernameToken(token, secret,
                                                              use_digest=digest))
        svc = c.bind("PowerAuthPortV3Service", "PowerAuthPortV3Soap11")
        assert svc.GetSystemStatus().status == "OK"
    c = zeep.Client("http://127.0.0.1:%d%s/serviceV3.wsdl" % (PORT, ENDPOINT_PATH))
    svc = c.bind("PowerAuthPortV3Service", "PowerAuthPortV3Soap11")
    try:
        svc.GetSystemStatus()
    except zeep.exceptions.Fault as f:
        assert f.message == NOHEADER, f.message
    else:
        raise AssertionError("zeep without credentials was served")


@T.test
def on_removed_integration_locked_out():
    r = call("RemoveIntegration", [("id", STATE["i2"]["id"])], header_xml=text_header(1))
    assert r.bool("removed") is True
    refused(call_raw("GetSystemStatus", header_xml=text_header(2)))
    a = call_raw("GetSystemStatus", header_xml=text_header(1))
    assert a.status == 200, a.describe()


@T.test
def on_keepalive_each_request_checked():
    # credentials are checked per request, not per connection
    with Conn() as c:
        a = Answer(c.request(soap_post(envelope(op_xml("GetSystemStatus"),
                                                text_header(1)))))
        assert a.status == 200, a.describe()
        if not c.eof:
            b = Answer(c.request(soap_post(envelope(op_xml("GetSystemStatus")))))
            refused(b, NOHEADER)


def main():
    require_port()
    if len(sys.argv) != 3 or sys.argv[1] not in ("setup", "check"):
        sys.stderr.write("usage: test_restrict.py setup|check STATEFILE\n")
        return 2
    phase, path = sys.argv[1], sys.argv[2]
    if phase == "setup":
        try:
            setup(path)
        except Exception as e:                      # noqa: BLE001
            print("FAIL restrict.setup: %s: %s" % (type(e).__name__, e))
            print("0 passed, 1 failed")
            return 1
        only = [t.__name__ for t in T.tests if t.__name__.startswith("off_")]
    else:
        with open(path) as f:
            STATE.update(json.load(f))
        only = [t.__name__ for t in T.tests if t.__name__.startswith("on_")]
    return T.run(only)


if __name__ == "__main__":
    sys.exit(main())
