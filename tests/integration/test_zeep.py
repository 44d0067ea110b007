#!/usr/bin/python3
"""test_zeep.py - a third-party SOAP client (python3-zeep) against paserver.

zeep reads the WSDL the server SERVES (GET <context>/soap/serviceV3.wsdl),
binds by the contract's names (service PowerAuthPortV3Service, port
PowerAuthPortV3Soap11) and calls every operation of the application,
integration and callback groups, in strict mode (zeep then refuses a
response whose elements do not match the schema: missing, extra or out of
order).  Every response field is checked for type and format; errors must
arrive as zeep.exceptions.Fault with the detail's errorCode.

The served documents themselves are checked too: 200, text/xml, the same
content as wsdl/*.wsdl and wsdl/*.xsd in the source tree, and a
soap:address rewritten to the host and port the request was sent to.

Run with Debian's /usr/bin/python3 (python3-zeep); PA_ITEST_PORT,
PA_SHARED and PA_SRCDIR come from run.sh.  PA_ITEST_APP_ENV is the
applicationEnvironment run.sh configured.  Only when
PA_ITEST_WSDL_FALLBACK=1 (a debugging aid) a missing served WSDL is
replaced by the source file, with a SKIP line.
"""

import datetime
import os
import re
import sys
import xml.etree.ElementTree as ET

import zeep
import zeep.exceptions
import zeep.wsse.username

from pa_itest import (ENDPOINT_PATH, HOST, PORT, SRCDIR, Runner, V3_NS,
                      b64_bytes, english, error_catalogue, exchange,
                      http_bytes, is_uuid4, require_port)

T = Runner("zeep")
APP_ENV = os.environ.get("PA_ITEST_APP_ENV", "")
TAG = "z%d" % os.getpid()

_client = {}


def wsdl_url(name="serviceV3.wsdl"):
    return "http://%s:%d%s/%s" % (HOST, PORT, ENDPOINT_PATH, name)


def served(name):
    return exchange(http_bytes("GET", "%s/%s" % (ENDPOINT_PATH, name),
                               headers=[("Connection", "close")]))


def client(wsse=None):
    """A zeep client on the served WSDL, bound by the contract's names."""
    key = repr(wsse)
    if key in _client and wsse is None:
        return _client[key]
    transport = zeep.Transport(timeout=10, operation_timeout=10)
    settings = zeep.Settings(strict=True)
    if served("serviceV3.wsdl").status == 200:
        c = zeep.Client(wsdl_url(), transport=transport, settings=settings,
                        wsse=wsse)
        svc = c.bind("PowerAuthPortV3Service", "PowerAuthPortV3Soap11")
    elif os.environ.get("PA_ITEST_WSDL_FALLBACK") == "1":
        print("SKIP zeep: the server does not serve serviceV3.wsdl yet; "
              "using wsdl/serviceV3.wsdl from the source tree")
        c = zeep.Client(os.path.join(SRCDIR, "wsdl", "serviceV3.wsdl"),
                        transport=transport, settings=settings, wsse=wsse)
        svc = c.create_service("{%s}PowerAuthPortV3Soap11" % V3_NS,
                               "http://%s:%d%s" % (HOST, PORT, ENDPOINT_PATH))
    else:
        raise AssertionError("GET %s did not return the WSDL" % wsdl_url())
    if wsse is None:
        _client[key] = svc
    return svc


def fault_of(fn, *args, **kw):
    try:
        fn(*args, **kw)
    except zeep.exceptions.Fault as f:
        return f
    raise AssertionError("expected a Fault")


def check_fault(f, error, code="Server"):
    assert (f.code or "").split(":")[-1] == code, "faultcode %r" % f.code
    assert f.detail is not None, "fault without detail"
    ec = f.detail.find("errorCode")
    lm = f.detail.find("localizedMessage")
    assert ec is not None and ec.text == error, "errorCode %r, expected %s" % (
        None if ec is None else ec.text, error)
    assert lm is not None and lm.text == english(error), lm
    if code == "Server":
        assert f.message == english(error), "faultstring %r" % f.message


def is_long(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_key16(s):
    assert isinstance(s, str)
    assert len(b64_bytes(s)) == 16, "not 16 bytes: %r" % s


def check_master_key(s):
    raw = b64_bytes(s)
    assert len(raw) == 65 and raw[0] == 4, "master key %d bytes, first %r" % (
        len(raw), raw[:1])


def aware(dt):
    return isinstance(dt, datetime.datetime) and dt.tzinfo is not None


# --- the served documents ------------------------------------------------------------

def canonical(text, address=None):
    root = ET.fromstring(text)
    for el in root.iter("{http://schemas.xmlsoap.org/wsdl/soap/}address"):
        if address is not None:
            assert el.get("location") == address, "soap:address %r, expected %r" % (
                el.get("location"), address)
        el.set("location", "X")
    return ET.canonicalize(ET.tostring(root, encoding="unicode"),
                           strip_text=True)


def check_document(name, source, address=None):
    r = served(name)
    assert r.status == 200, "GET %s -> %d" % (name, r.status)
    ctype = r.header("content-type", "")
    assert ctype.startswith("text/xml"), "GET %s: Content-Type %r" % (name, ctype)
    with open(os.path.join(SRCDIR, "wsdl", source), encoding="utf-8") as f:
        want = canonical(f.read())
    got = canonical(r.body.decode("utf-8"), address)
    assert got == want, "served %s differs from wsdl/%s" % (name, source)


@T.test
def served_wsdl_v3():
    check_document("serviceV3.wsdl", "serviceV3.wsdl",
                   "http://%s:%d%s" % (HOST, PORT, ENDPOINT_PATH))


@T.test
def served_wsdl_v2():
    check_document("serviceV2.wsdl", "serviceV2.wsdl",
                   "http://%s:%d%s" % (HOST, PORT, ENDPOINT_PATH))


@T.test
def served_xsd():
    check_document("powerAuthV3.xsd", "powerAuthV3.xsd")
    check_document("powerAuthV2.xsd", "powerAuthV2.xsd")


@T.test
def served_wsdl_address_follows_host_header():
    r = exchange(http_bytes("GET", ENDPOINT_PATH + "/serviceV3.wsdl",
                            host="pa.example.test:9443",
                            headers=[("Connection", "close")]))
    assert r.status == 200, r
    m = re.search(rb'<soap:address location="([^"]*)"', r.body) or \
        re.search(rb'address location="([^"]*)"', r.body)
    assert m, "no soap:address"
    assert m.group(1) == ("http://pa.example.test:9443%s" % ENDPOINT_PATH).encode(), \
        m.group(1)


@T.test
def served_wsdl_query_form():
    # JAX-WS and soapUI also ask for <endpoint>?wsdl
    r = exchange(http_bytes("GET", ENDPOINT_PATH + "/serviceV3.wsdl?x=1",
                            headers=[("Connection", "close")]))
    assert r.status in (200, 404), r


# --- operations -----------------------------------------------------------------------

@T.test
def system_status():
    r = client().GetSystemStatus()
    assert r.status == "OK"
    assert r.applicationName == "powerauth-server", r.applicationName
    assert r.applicationDisplayName == "PowerAuth Server"
    assert (r.applicationEnvironment or "") == APP_ENV, r.applicationEnvironment
    assert isinstance(r.version, str) and r.version
    now = datetime.datetime.now(datetime.timezone.utc)
    assert aware(r.buildTime) and r.buildTime <= now + datetime.timedelta(seconds=5)
    assert aware(r.timestamp)
    assert abs((r.timestamp - now).total_seconds()) < 60, r.timestamp


@T.test
def error_code_list():
    want = error_catalogue()
    assert len(want) == 33
    for lang in ("en", "xx", "EN"):
        errs = client().GetErrorCodeList(language=lang)
        got = [(e.code, e.value) for e in errs]
        assert got == want, "language %s: %r" % (lang, got[:3])
    cs = client().GetErrorCodeList(language="cs")
    assert [e.code for e in cs] == [c for c, _ in want]
    assert all(e.value for e in cs)
    assert any(e.value != m for e, (_, m) in zip(cs, want)), "cs is English"


_state = {}


@T.test
def applications():
    svc = client()
    a1 = svc.CreateApplication(applicationName="%s-app-1" % TAG)
    a2 = svc.CreateApplication(applicationName="%s-app-2" % TAG)
    assert is_long(a1.applicationId) and a1.applicationId > 0
    assert a2.applicationId > a1.applicationId
    assert a1.applicationName == "%s-app-1" % TAG
    apps = svc.GetApplicationList()
    mine = [(x.id, x.applicationName) for x in apps
            if x.applicationName.startswith(TAG)]
    assert mine == [(a1.applicationId, a1.applicationName),
                    (a2.applicationId, a2.applicationName)], mine
    ids = [x.id for x in apps]
    assert ids == sorted(ids), ids
    d = svc.GetApplicationDetail(applicationId=a1.applicationId)
    assert d.applicationId == a1.applicationId
    assert d.applicationName == a1.applicationName
    check_master_key(d.masterPublicKey)
    assert len(d.versions) == 1
    v = d.versions[0]
    assert is_long(v.applicationVersionId) and v.applicationVersionId > 0
    assert v.applicationVersionName == "default"
    check_key16(v.applicationKey)
    check_key16(v.applicationSecret)
    assert v.applicationKey != v.applicationSecret
    assert v.supported is True
    byname = svc.GetApplicationDetail(applicationName=a1.applicationName)
    assert byname.applicationId == a1.applicationId
    assert byname.masterPublicKey == d.masterPublicKey
    d2 = svc.GetApplicationDetail(applicationId=a2.applicationId)
    assert d2.masterPublicKey != d.masterPublicKey
    assert d2.versions[0].applicationKey != v.applicationKey
    _state.update(app=a1.applicationId, default=v)


@T.test
def application_faults():
    svc = client()
    check_fault(fault_of(svc.GetApplicationDetail, applicationId=987654321),
                "ERR0015")
    check_fault(fault_of(svc.GetApplicationDetail, applicationName="%s-none" % TAG),
                "ERR0015")
    check_fault(fault_of(svc.GetApplicationDetail), "ERR0024")
    check_fault(fault_of(svc.LookupApplicationByAppKey,
                         applicationKey="AAAAAAAAAAAAAAAAAAAAAA=="), "ERR0015")
    check_fault(fault_of(svc.CreateApplicationVersion, applicationId=987654321,
                         applicationVersionName="x"), "ERR0015")
    check_fault(fault_of(svc.SupportApplicationVersion,
                         applicationVersionId=987654321), "ERR0015")
    check_fault(fault_of(svc.UnsupportApplicationVersion,
                         applicationVersionId=987654321), "ERR0015")


@T.test
def versions():
    svc = client()
    app = _state["app"]
    default = _state["default"]
    v = svc.CreateApplicationVersion(applicationId=app,
                                     applicationVersionName="1.0")
    assert v.applicationVersionId > default.applicationVersionId
    assert v.applicationVersionName == "1.0"
    check_key16(v.applicationKey)
    check_key16(v.applicationSecret)
    assert v.applicationKey != default.applicationKey
    assert v.supported is True
    assert svc.LookupApplicationByAppKey(applicationKey=v.applicationKey) == app
    assert svc.LookupApplicationByAppKey(
        applicationKey=default.applicationKey) == app
    u = svc.UnsupportApplicationVersion(applicationVersionId=v.applicationVersionId)
    assert u.applicationVersionId == v.applicationVersionId and u.supported is False
    d = svc.GetApplicationDetail(applicationId=app)
    got = [(x.applicationVersionId, x.applicationVersionName, x.applicationKey,
            x.applicationSecret, x.supported) for x in d.versions]
    assert got == [(default.applicationVersionId, "default", default.applicationKey,
                    default.applicationSecret, True),
                   (v.applicationVersionId, "1.0", v.applicationKey,
                    v.applicationSecret, False)], got
    s = svc.SupportApplicationVersion(applicationVersionId=v.applicationVersionId)
    assert s.applicationVersionId == v.applicationVersionId and s.supported is True
    d = svc.GetApplicationDetail(applicationId=app)
    assert [x.supported for x in d.versions] == [True, True]


@T.test
def integrations():
    svc = client()
    i1 = svc.CreateIntegration(name="%s-int-1" % TAG)
    i2 = svc.CreateIntegration(name="%s-int-2" % TAG)
    for i in (i1, i2):
        assert is_uuid4(i.id) and is_uuid4(i.clientToken) and is_uuid4(i.clientSecret), i
        assert len({i.id, i.clientToken, i.clientSecret}) == 3
    assert i1.name == "%s-int-1" % TAG
    assert len({i1.id, i2.id, i1.clientToken, i2.clientToken}) == 4
    lst = svc.GetIntegrationList()
    assert lst.restrictedAccess is False
    mine = [(x.id, x.name, x.clientToken, x.clientSecret) for x in lst["items"]
            if (x.name or "").startswith(TAG)]
    assert mine == [(i.id, i.name, i.clientToken, i.clientSecret)
                    for i in (i1, i2)], mine
    r = svc.RemoveIntegration(id=i1.id)
    assert r.id == i1.id and r.removed is True
    r = svc.RemoveIntegration(id=i1.id)
    assert r.id == i1.id and r.removed is False
    ids = [x.id for x in svc.GetIntegrationList()["items"]]
    assert i1.id not in ids and i2.id in ids
    check_fault(fault_of(svc.CreateIntegration), "ERR0024")


@T.test
def callbacks():
    svc = client()
    app = _state["app"]
    b = svc.CreateCallbackUrl(applicationId=app, name="%s-b" % TAG,
                              callbackUrl="https://bank.example/cb?x=1&y=2")
    a = svc.CreateCallbackUrl(applicationId=app, name="%s-a" % TAG,
                              callbackUrl="http://127.0.0.1:9/a")
    for c in (a, b):
        assert is_uuid4(c.id) and c.applicationId == app
    assert b.name == "%s-b" % TAG and b.callbackUrl == "https://bank.example/cb?x=1&y=2"
    lst = svc.GetCallbackUrlList(applicationId=app)
    got = [(c.id, c.applicationId, c.name, c.callbackUrl) for c in lst]
    assert got == [(a.id, app, a.name, a.callbackUrl),
                   (b.id, app, b.name, b.callbackUrl)], got
    r = svc.RemoveCallbackUrl(id=b.id)
    assert r.id == b.id and r.removed is True
    assert svc.RemoveCallbackUrl(id=b.id).removed is False
    assert [c.id for c in svc.GetCallbackUrlList(applicationId=app)] == [a.id]
    check_fault(fault_of(svc.CreateCallbackUrl, applicationId=app, name="bad",
                         callbackUrl="not a url"), "ERR0014")
    # name is required by the schema: zeep only omits it when told to
    check_fault(fault_of(svc.CreateCallbackUrl, applicationId=app,
                         name=zeep.xsd.SkipValue,
                         callbackUrl="https://x.example/"), "ERR0024")
    empty = svc.GetCallbackUrlList(applicationId=987654321)
    assert not empty, empty


@T.test
def wsse_header_accepted_when_not_restricted():
    # restrictAccess is off: a client configured with credentials still works.
    for digest in (False, True):
        tok = zeep.wsse.username.UsernameToken("nobody", "secret & <x>",
                                               use_digest=digest)
        r = client(wsse=tok).GetSystemStatus()
        assert r.status == "OK"


@T.test
def fault_shape():
    f = fault_of(client().GetApplicationDetail, applicationId=987654321)
    check_fault(f, "ERR0015")
    assert [c.tag for c in f.detail] == ["errorCode", "localizedMessage"], \
        [c.tag for c in f.detail]


if __name__ == "__main__":
    require_port()
    sys.exit(T.run(sys.argv[1:]))
