#!/usr/bin/python3
"""activation-driver.py - the activation sequence benchmark of scripts/bench
(run `scripts/bench activation`, which builds first and starts the server).

  activation-driver.py gen --padevice P --state-template F --dir D
                           --count N [--jobs J] > requests.jsonl
      N PrepareActivation layer-2 requests made by the phone emulator
      before any timing: each is `padevice prepare-activation` on its own
      copy of the template state (made by `padevice init`), so each has its
      own device key pair.  The activation code is not part of the
      cryptography (padevice passes it through), so the driver puts the
      code InitActivation returned into the SOAP element.  One JSON object
      a line: applicationKey, ephemeralPublicKey, encryptedData, mac, nonce.

  activation-driver.py run --url URL --application-id ID
                           --requests FILE [--offset K] [--count N]
                           [--clients C]
      Requests K..K+N-1 of FILE, shared out among C client processes
      (default 8), each on one keep-alive HTTP/1.1 connection (raw socket)
      and each doing InitActivation -> PrepareActivation ->
      CommitActivation per activation, one after the other.  An activation
      counts as done when all three answers are HTTP 200 with the expected
      content (an activationCode; activationStatus PENDING_COMMIT;
      activated true); anything else is a failure, and the first few are
      printed to stderr.  Prints one line:

        RESULT <activations/s> <done> <failed> <seconds> <p50 ms> <p99 ms>
               <client CPU us per activation>

      activations/s = done / (last client's end - first client's start),
      the clients starting together; p50/p99 are of one whole sequence
      (three calls) as one client sees it; the client CPU is what the
      client processes used in all (user + system), per activation done.
"""

import concurrent.futures
import json
import multiprocessing
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse

NS = "http://getlime.io/security/powerauth/v3"


def envelope(body):
    return ('<?xml version="1.0" encoding="UTF-8"?><S:Envelope '
            'xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>%s'
            '</S:Body></S:Envelope>' % body).encode()


def element(name):
    return re.compile(r"<(?:[A-Za-z0-9_]+:)?%s>([^<]*)</" % name)


RE_ID = element("activationId")
RE_CODE = element("activationCode")
RE_STATUS = element("activationStatus")
RE_ACTIVATED = element("activated")
RE_FAULT = element("faultstring")
RE_ERRCODE = element("errorCode")


def usage():
    sys.stderr.write(__doc__)
    sys.exit(2)


def options(argv, known):
    opts = {}
    i = 0
    while i < len(argv):
        k = argv[i]
        if not k.startswith("--") or k[2:] not in known or i + 1 >= len(argv):
            usage()
        opts[k[2:]] = argv[i + 1]
        i += 2
    return opts


# --- gen -------------------------------------------------------------------------

def gen(argv):
    o = options(argv, ("padevice", "state-template", "dir", "count", "jobs"))
    for k in ("padevice", "state-template", "dir", "count"):
        if k not in o:
            usage()
    count = int(o["count"])
    jobs = int(o.get("jobs", os.cpu_count() * 2))
    os.makedirs(o["dir"], exist_ok=True)

    def one(i):
        state = os.path.join(o["dir"], "device%d.json" % i)
        shutil.copyfile(o["state-template"], state)
        p = subprocess.run([o["padevice"], "prepare-activation", "--state", state,
                            "--activation-code", "BENCH-PLACEHOLDER"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           check=False)
        if p.returncode != 0:
            raise RuntimeError("padevice prepare-activation: %s"
                               % p.stderr.decode(errors="replace").strip())
        r = json.loads(p.stdout)
        return json.dumps({k: r[k] for k in ("applicationKey", "ephemeralPublicKey",
                                             "encryptedData", "mac", "nonce")
                           if r.get(k) is not None})

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        for line in ex.map(one, range(count)):
            sys.stdout.write(line + "\n")
    return 0


# --- run -------------------------------------------------------------------------

class Conn:
    """One keep-alive HTTP/1.1 connection, raw on a socket: http.client
    costs the client more CPU than the server spends (its header parsing),
    on a machine where the client shares the cores with the server."""

    def __init__(self, host, port, path):
        self.addr = (host, port)
        self.head = ("POST %s HTTP/1.1\r\nHost: %s:%d\r\n"
                     "Content-Type: text/xml; charset=utf-8\r\n"
                     "SOAPAction: \"\"\r\nContent-Length: " % (path, host, port)).encode()
        self.sock = None
        self.buf = b""

    def connect(self):
        self.close()
        self.sock = socket.create_connection(self.addr, timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _more(self):
        d = self.sock.recv(65536)
        if not d:
            raise ConnectionError("connection closed by the server")
        self.buf += d

    def call(self, body):
        """POSTs body; returns (HTTP status, answer text)."""
        if self.sock is None:
            self.connect()
        self.sock.sendall(self.head + str(len(body)).encode() + b"\r\n\r\n" + body)
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            self._more()
        lines = self.buf[:end].decode("latin-1").split("\r\n")
        self.buf = self.buf[end + 4:]
        status = int(lines[0].split(" ", 2)[1])
        hdr = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdr[k.strip().lower()] = v.strip()
        if "content-length" in hdr:
            n = int(hdr["content-length"])
            while len(self.buf) < n:
                self._more()
            text, self.buf = self.buf[:n], self.buf[n:]
        elif hdr.get("transfer-encoding", "").lower() == "chunked":
            text = b""
            while True:
                while b"\r\n" not in self.buf:
                    self._more()
                size, _, self.buf = self.buf.partition(b"\r\n")
                n = int(size.split(b";")[0], 16)
                while len(self.buf) < n + 2:
                    self._more()
                text += self.buf[:n]
                self.buf = self.buf[n + 2:]
                if n == 0:
                    break
        else:
            raise ConnectionError("answer without Content-Length")
        if hdr.get("connection", "").lower() == "close":
            self.close()
        return status, text.decode("utf-8", errors="replace")


def client(url, app_id, reqs, tag, barrier, out):
    u = urllib.parse.urlsplit(url)
    conn = Conn(u.hostname, u.port, u.path)
    done = failed = 0
    times = []
    errors = []

    def call(body):
        return conn.call(envelope(body))

    def fail(step, status, text):
        if len(errors) < 3:
            m = RE_FAULT.search(text)
            c = RE_ERRCODE.search(text)
            errors.append("%s: HTTP %d %s %s" % (step, status,
                                                 c.group(1) if c else "",
                                                 m.group(1) if m else text[:200]))

    conn.connect()
    barrier.wait()
    start = time.monotonic()
    for i, q in enumerate(reqs):
        t0 = time.monotonic()
        try:
            st, text = call(
                '<InitActivationRequest xmlns="%s"><userId>bench-%s-%d</userId>'
                '<applicationId>%s</applicationId></InitActivationRequest>'
                % (NS, tag, i, app_id))
            aid, code = RE_ID.search(text), RE_CODE.search(text)
            if st != 200 or not aid or not code:
                fail("InitActivation", st, text)
                failed += 1
                continue
            aid = aid.group(1)
            nonce = ("<nonce>%s</nonce>" % q["nonce"]) if "nonce" in q else ""
            st, text = call(
                '<PrepareActivationRequest xmlns="%s"><activationCode>%s'
                '</activationCode><applicationKey>%s</applicationKey>'
                '<ephemeralPublicKey>%s</ephemeralPublicKey><encryptedData>%s'
                '</encryptedData><mac>%s</mac>%s</PrepareActivationRequest>'
                % (NS, code.group(1), q["applicationKey"], q["ephemeralPublicKey"],
                   q["encryptedData"], q["mac"], nonce))
            s = RE_STATUS.search(text)
            if st != 200 or not s or s.group(1) != "PENDING_COMMIT":
                fail("PrepareActivation", st, text)
                failed += 1
                continue
            st, text = call(
                '<CommitActivationRequest xmlns="%s"><activationId>%s'
                '</activationId></CommitActivationRequest>' % (NS, aid))
            a = RE_ACTIVATED.search(text)
            if st != 200 or not a or a.group(1) != "true":
                fail("CommitActivation", st, text)
                failed += 1
                continue
        except (OSError, ValueError, IndexError) as e:
            if len(errors) < 3:
                errors.append("connection: %r" % e)
            failed += 1
            conn.close()
            continue
        done += 1
        times.append(time.monotonic() - t0)
    end = time.monotonic()
    conn.close()
    out.put((start, end, done, failed, times, errors))


def run(argv):
    o = options(argv, ("url", "application-id", "requests", "offset", "count",
                       "clients"))
    for k in ("url", "application-id", "requests"):
        if k not in o:
            usage()
    with open(o["requests"]) as f:
        reqs = [json.loads(line) for line in f if line.strip()]
    offset = int(o.get("offset", 0))
    count = int(o.get("count", len(reqs) - offset))
    reqs = reqs[offset:offset + count]
    if len(reqs) < count:
        sys.stderr.write("activation-driver: only %d requests from %d on\n"
                         % (len(reqs), offset))
        return 1
    clients = min(int(o.get("clients", 8)), len(reqs))
    barrier = multiprocessing.Barrier(clients)
    out = multiprocessing.Queue()
    procs = [multiprocessing.Process(
        target=client,
        args=(o["url"], o["application-id"], reqs[c::clients],
              "%d-%d-%d" % (os.getpid(), offset, c), barrier, out))
        for c in range(clients)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = ru.ru_utime + ru.ru_stime
    start = min(r[0] for r in results)
    end = max(r[1] for r in results)
    done = sum(r[2] for r in results)
    failed = sum(r[3] for r in results)
    times = sorted(t for r in results for t in r[4])
    for r in results:
        for e in r[5]:
            sys.stderr.write("activation-driver: failure: %s\n" % e)

    def pct(p):
        return times[min(len(times) - 1, int(p * len(times)))] * 1000 if times else 0

    secs = end - start
    print("RESULT %.1f %d %d %.2f %.1f %.1f %.0f" % (
        done / secs if secs > 0 else 0, done, failed, secs, pct(0.5), pct(0.99),
        client_cpu * 1e6 / done if done else 0))
    return 0


def main():
    if len(sys.argv) < 2:
        usage()
    if sys.argv[1] == "gen":
        return gen(sys.argv[2:])
    if sys.argv[1] == "run":
        return run(sys.argv[2:])
    usage()
    return 2


if __name__ == "__main__":
    sys.exit(main())
