#!/usr/bin/python3
"""test_tls.py - the listener speaks TLS (and mutual TLS).

run.sh makes a CA, a server certificate for 127.0.0.1 and a client
certificate with openssl, then starts paserver with tls_cert_file and
tls_key_file (phase "tls"), and again with tls_client_ca_file as well
(phase "mtls").  Environment: PA_ITEST_TLS_DIR (ca.pem, server.pem,
server.key, client.pem, client.key, server2.pem, server2.key: a second
certificate for the reload test), PA_ITEST_SERVER_PID (for SIGHUP).

  test_tls.py tls    handshake (TLS 1.2+, AEAD), TLS 1.1 and plain HTTP
                     refused, GetSystemStatus through zeep on the served
                     WSDL (its address https://), the availability attacks
                     over TLS (slow handshakes, slow bytes), SIGHUP reload
  test_tls.py mtls   no client certificate: refused at the handshake; a
                     certificate of another CA: refused; the right one:
                     served
"""

import os
import signal
import socket
import ssl
import sys
import threading
import time

from pa_itest import (Runner, envelope, op_xml, require_port, soap_post,
                      ENDPOINT_PATH, HOST, PORT)

T = Runner("tls")
D = os.environ.get("PA_ITEST_TLS_DIR", "")
PROBE_S = 2.0


def ctx(client_cert=None, max_version=None):
    c = ssl.create_default_context(cafile=os.path.join(D, "ca.pem"))
    if client_cert:
        c.load_cert_chain(os.path.join(D, client_cert + ".pem"),
                          os.path.join(D, client_cert + ".key"))
    if max_version:
        c.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        c.maximum_version = max_version
    return c


def tls_conn(c=None, timeout=10):
    raw = socket.create_connection((HOST, PORT), timeout=timeout)
    return (c or ctx()).wrap_socket(raw, server_hostname="127.0.0.1")


def read_answer(s):
    data = b""
    while b"\r\n\r\n" not in data:
        d = s.recv(65536)
        if not d:
            break
        data += d
    head, _, body = data.partition(b"\r\n\r\n")
    n = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            n = int(line.split(b":")[1])
    while len(body) < n:
        d = s.recv(65536)
        if not d:
            break
        body += d
    return head, body


def system_status(c=None):
    start = time.time()
    with tls_conn(c) as s:
        s.sendall(soap_post(envelope(op_xml("GetSystemStatus"))))
        head, body = read_answer(s)
    assert head.startswith(b"HTTP/1.1 200"), head[:80]
    assert b"<pa3:status>OK</pa3:status>" in body or b"status>OK<" in body, body[:200]
    return time.time() - start


# --- tls ----------------------------------------------------------------------------

@T.test
def tls_handshake_modern():
    with tls_conn() as s:
        assert s.version() in ("TLSv1.2", "TLSv1.3"), s.version()
        name = s.cipher()[0]
        assert "GCM" in name or "CHACHA20" in name, name
        cert = s.getpeercert()
        assert ("commonName", "127.0.0.1") in [x[0] for x in cert["subject"]], cert
    # TLS 1.2 offered alone is still fine
    with tls_conn(ctx(max_version=ssl.TLSVersion.TLSv1_2)) as s:
        assert s.version() == "TLSv1.2"


@T.test
def tls_old_versions_and_plain_http_refused():
    try:
        with tls_conn(ctx(max_version=ssl.TLSVersion.TLSv1_1)):
            pass
        raise AssertionError("a TLS 1.1 handshake was accepted")
    except (ssl.SSLError, ConnectionResetError, OSError):
        pass
    with socket.create_connection((HOST, PORT), timeout=5) as s:
        s.sendall(soap_post(envelope(op_xml("GetSystemStatus"))))
        try:
            got = s.recv(4096)
        except ConnectionResetError:
            got = b""
        assert not got.startswith(b"HTTP/1.1 200"), "plain HTTP was served"
    system_status()


@T.test
def tls_soap_through_zeep():
    import requests
    import zeep
    sess = requests.Session()
    sess.verify = os.path.join(D, "ca.pem")
    sess.trust_env = False          # no CA bundle from the environment
    url = "https://127.0.0.1:%d%s/serviceV3.wsdl" % (PORT, ENDPOINT_PATH)
    client = zeep.Client(url, transport=zeep.Transport(session=sess, timeout=30))
    port = client.wsdl.services["PowerAuthPortV3Service"].ports["PowerAuthPortV3Soap11"]
    addr = port.binding_options["address"]
    assert addr == "https://127.0.0.1:%d%s" % (PORT, ENDPOINT_PATH), addr
    svc = client.bind("PowerAuthPortV3Service", "PowerAuthPortV3Soap11")
    r = svc.GetSystemStatus()
    assert r.status == "OK", r
    app = svc.CreateApplication(applicationName="tls-app")
    d = svc.GetApplicationDetail(applicationId=app.applicationId)
    assert d.applicationName == "tls-app"


def attack_then_probe(one, n=16):
    socks = [socket.create_connection((HOST, PORT), timeout=30) for _ in range(n)]
    stop = threading.Event()
    ts = [threading.Thread(target=one, args=(s, stop), daemon=True) for s in socks]
    for t in ts:
        t.start()
    try:
        time.sleep(0.3)
        worst = max(system_status() for _ in range(3))
        assert worst < PROBE_S, "a normal TLS request took %.1f s" % worst
    finally:
        stop.set()
        for s in socks:
            s.close()


@T.test
def tls_slow_handshakes_hold_no_worker():
    # connections that never finish (or never start) their handshake
    def one(s, stop):
        try:
            s.sendall(b"\x16\x03\x01")          # the first bytes of a record
        except OSError:
            pass
        stop.wait(10)
    attack_then_probe(one)


@T.test
def tls_slow_bytes_hold_no_worker():
    req = soap_post(envelope(op_xml("GetSystemStatus")))

    def one(raw, stop):
        try:
            s = ctx().wrap_socket(raw, server_hostname="127.0.0.1")
            for b in req:
                if stop.is_set():
                    return
                s.sendall(bytes([b]))
                time.sleep(0.2)
        except OSError:
            pass
    attack_then_probe(one)


@T.test
def tls_reload_on_sighup():
    pid = int(os.environ["PA_ITEST_SERVER_PID"])
    with tls_conn() as s:
        before = s.getpeercert()["serialNumber"]
    os.replace(os.path.join(D, "server2.pem"), os.path.join(D, "server.pem"))
    os.replace(os.path.join(D, "server2.key"), os.path.join(D, "server.key"))
    os.kill(pid, signal.SIGHUP)
    deadline = time.time() + 5
    after = before
    while after == before and time.time() < deadline:
        time.sleep(0.1)
        with tls_conn() as s:
            after = s.getpeercert()["serialNumber"]
    assert after != before, "the certificate was not reloaded"
    # a broken file: the reload fails, the current certificate stays
    with open(os.path.join(D, "server.pem"), "w") as f:
        f.write("not a certificate\n")
    os.kill(pid, signal.SIGHUP)
    time.sleep(0.5)
    with tls_conn() as s:
        assert s.getpeercert()["serialNumber"] == after
    system_status()


# --- mtls ---------------------------------------------------------------------------

@T.test
def mtls_without_certificate_refused():
    try:
        system_status(ctx())
        raise AssertionError("served without a client certificate")
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError, OSError) as e:
        assert not isinstance(e, AssertionError)


@T.test
def mtls_certificate_of_another_ca_refused():
    try:
        system_status(ctx(client_cert="rogue"))
        raise AssertionError("served with a certificate of another CA")
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError, OSError) as e:
        assert not isinstance(e, AssertionError)


@T.test
def mtls_with_certificate_served():
    took = system_status(ctx(client_cert="client"))
    assert took < PROBE_S


def main():
    require_port()
    which = sys.argv[1] if len(sys.argv) > 1 else "tls"
    names = [t.__name__ for t in T.tests if t.__name__.startswith(which + "_")]
    return T.run(names)


if __name__ == "__main__":
    sys.exit(main())
