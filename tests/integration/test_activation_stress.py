#!/usr/bin/python3
"""test_activation_stress.py - concurrency, crash, callback and expiry-sweep
guarantees of the activation lifecycle, proved from the outside.

  test_activation_stress.py PHASE [TEST ...]

Phases (tests/integration/run.sh runs each on its own database):

  concurrency  against the server run.sh started (1 s expiry sweep): many
               clients racing on one activation code (PrepareActivation), on
               one activation (CommitActivation; Block/Unblock/Remove and
               UpdateStatusForActivations storms), bursts of InitActivation
               and whole lifecycles, and all writers at once (requests, the
               callback delivery thread, the sweep); the database must tell
               one consistent story and no client may ever see a generic
               fault (a SQLITE_BUSY leaking out as ERR0000 or without code)
  sweep        against the server run.sh started with a 1 s expiry sweep in
               batches of 7: unfinished activations past their deadline
               become REMOVED without any read touching them, with one
               history row and callbacks each; the rest is untouched; the
               sweep racing lazy expiry (reads, commits) never writes twice
  callbacks    the suite runs its own servers (it stops and restarts them):
               the callback outbox delivers exactly the documented POST,
               once per URL, with a stable Idempotency-Key, only after the
               commit (nothing for a rolled-back CreateActivation or an OTP
               failure), across receiver errors, timeouts, outages, SIGTERM
               and restarts; it gives up after the maximum attempts / age
               and keeps the outbox bounded
  crash        its own servers too: kill -9 during a burst of InitActivation
               and PrepareActivation, during a callback delivery and during
               the sweep, restart on the same file each time; every answered
               call is in the database with a consistent history, the file
               is intact and every committed change is still delivered

Facts come from ../shared (DATABASE.md 5.1, 5.3-5.5; CRYPTO.md 6, 7) and the
brief of the outbox / sweep additions; PrepareActivation requests are built
by the phone emulator padevice (PADEVICE).  The database is read (never
written) through sqlite3 "file:PATH?mode=ro" (PA_ITEST_DB).  The callback
receiver is a Python http.server on 127.0.0.1, inside this process.

Environment (from run.sh): PA_ITEST_PORT, PA_ITEST_DB, PADEVICE, PA_SHARED;
for the phases with their own servers also PASERVER, PA_ITEST_LOGDIR (logs
<phase>-N.log; run.sh checks those that stopped), PA_ITEST_CONTEXT,
PA_ITEST_MAX_BODY, PA_ITEST_MAX_DEPTH.  Time bounds are generous (a loaded
two-core machine); nothing asserts speed.
"""

import base64
import datetime
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pa_itest
from pa_itest import Runner, call, call_raw

DB = os.environ.get("PA_ITEST_DB", "")
PADEVICE = os.environ.get("PADEVICE", "")
PASERVER = os.environ.get("PASERVER", "")
LOGDIR = os.environ.get("PA_ITEST_LOGDIR", "")
TAG = "s%d" % os.getpid()
# Single answers may be slow while 32 others are being served on 2 cores.
pa_itest.TIMEOUT = max(pa_itest.TIMEOUT, 60.0)

STATUS = {"CREATED": 1, "PENDING_COMMIT": 2, "ACTIVE": 3, "BLOCKED": 4,
          "REMOVED": 5}
NAME = {v: k for k, v in STATUS.items()}
# Transitions a history row may record (DATABASE.md 5.1): the key exchange,
# the commit, block / unblock, and REMOVED from anywhere (RemoveActivation
# writes a row also for a REMOVED activation).
VALID_STEPS = {(1, 2), (1, 3), (2, 3), (3, 4), (4, 3)} | {
    (s, 5) for s in range(1, 6)}
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                     r"[0-9a-f]{12}$")
KEY_RE = re.compile(r"^([0-9a-f-]{36}):([0-9a-f-]{36})$")
TRANSPORT_ERRORS = (OSError, EOFError, ValueError)


# --- small helpers ---------------------------------------------------------------

def wait_until(pred, timeout, what, step=0.1):
    """Polls pred() until it returns a true value; fails after timeout."""
    end = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() > end:
            raise AssertionError("timed out after %.0f s waiting for %s"
                                 % (timeout, what))
        time.sleep(step)


def xs_datetime(t):
    """Epoch seconds as xs:dateTime in UTC with milliseconds."""
    d = datetime.datetime.fromtimestamp(t, tz=datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


def run_threads(n, fn, *args):
    """Runs fn(i, *args) on n threads started together; returns the results
    in order.  An exception in a thread is re-raised here (the first one)."""
    results = [None] * n
    errors = []
    barrier = threading.Barrier(n)

    def body(i):
        try:
            barrier.wait(timeout=60)
            results[i] = fn(i, *args)
        except BaseException as e:                      # noqa: BLE001
            errors.append((i, e))

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        i, e = errors[0]
        raise AssertionError("thread %d of %d: %s: %s (%d threads failed)" % (
            i, n, type(e).__name__, e, len(errors)))
    return results


def pmap(fn, items, workers=4):
    """fn over items on a few threads (setup work: padevice, SOAP)."""
    items = list(items)
    out = [None] * len(items)
    lock = threading.Lock()
    pos = [0]
    errors = []

    def worker():
        while True:
            with lock:
                if pos[0] >= len(items) or errors:
                    return
                i = pos[0]
                pos[0] += 1
            try:
                out[i] = fn(items[i])
            except BaseException as e:                  # noqa: BLE001
                errors.append(e)
                return

    ts = [threading.Thread(target=worker) for _ in range(min(workers, len(items)) or 1)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]
    return out


# --- answers ---------------------------------------------------------------------

def outcome(op, a):
    """('ok', Resp) or ('fault', errorCode) for a SOAP answer.  A fault
    without an ERR code, ERR0000, or anything that is not a SOAP answer is
    an assertion failure: a busy database must never reach a client."""
    if a.status == 200:
        r = a.response(op)
        assert r is not None, "%s: 200 without %sResponse: %s" % (
            op, op, a.describe())
        return "ok", pa_itest.Resp(r)
    assert a.root is not None, "%s: HTTP %d, not XML: %r" % (
        op, a.status, a.http.body[:200])
    f = a.fault()
    assert f is not None, "%s: HTTP %d without a fault: %s" % (
        op, a.status, a.describe())
    assert f["errorCode"], "%s: generic fault without an error code " \
        "(runtime error, e.g. a busy database): %s" % (op, a.describe())
    assert f["errorCode"] != "ERR0000", "%s: ERR0000 (unknown error) " \
        "reached the client: %s" % (op, a.describe())
    return "fault", f["errorCode"]


def soap(op, fields):
    """One call on a new connection; see outcome()."""
    return outcome(op, call_raw(op, fields))


def soap_at(port, op, fields):
    """soap() against the server on another port."""
    data = pa_itest.soap_post(pa_itest.envelope(pa_itest.op_xml(op, fields)))
    with pa_itest.Conn(port=port) as c:
        return outcome(op, pa_itest.Answer(c.request(data)))


def ok(op, fields):
    kind, r = soap(op, fields)
    assert kind == "ok", "%s failed with %s" % (op, r)
    return r


# --- database (read only) ----------------------------------------------------------

def db_connect(path=None):
    path = path or DB
    assert path, "PA_ITEST_DB is not set"
    c = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=30)
    c.row_factory = sqlite3.Row
    return c


def db_query(sql, args=(), path=None):
    c = db_connect(path)
    try:
        return c.execute(sql, args).fetchall()
    finally:
        c.close()


def db_activation(aid, path=None):
    rows = db_query("SELECT * FROM pa_activation WHERE activation_id = ?",
                    (aid,), path)
    return rows[0] if rows else None


def db_history(aid, path=None):
    return db_query("SELECT id, activation_status, event_reason, "
                    "external_user_id, timestamp_created FROM "
                    "pa_activation_history WHERE activation_id = ? ORDER BY id",
                    (aid,), path)


def db_outbox_count(aids=None, path=None):
    if aids is None:
        return db_query("SELECT count(*) FROM pa_callback_outbox",
                        path=path)[0][0]
    aids = list(aids)
    n = 0
    for i in range(0, len(aids), 200):
        part = aids[i:i + 200]
        n += db_query("SELECT count(*) FROM pa_callback_outbox WHERE "
                      "activation_id IN (%s)" % ",".join("?" * len(part)),
                      part, path)[0][0]
    return n


def check_history_story(aid, path=None, first=1):
    """The history of one activation is a chain of valid steps that starts
    at CREATED, and the row's status and last-change time are those of the
    newest history row.  Returns the history rows."""
    a = db_activation(aid, path)
    assert a is not None, "activation %s is not in the database" % aid
    h = db_history(aid, path)
    assert h, "activation %s has no history row" % aid
    statuses = [r["activation_status"] for r in h]
    assert statuses[0] == first, "%s: first history row %s, expected %s (%s)" % (
        aid, statuses[0], first, statuses)
    for prev, cur in zip(statuses, statuses[1:]):
        assert (prev, cur) in VALID_STEPS, \
            "%s: history step %s -> %s is no valid transition (%s)" % (
                aid, NAME.get(prev, prev), NAME.get(cur, cur), statuses)
    assert a["activation_status"] == statuses[-1], \
        "%s: stored status %s, newest history row %s (%s)" % (
            aid, a["activation_status"], statuses[-1], statuses)
    times = [r["timestamp_created"] for r in h]
    assert times == sorted(times), "%s: history times not in write order " \
        "(ActivationHistory would show a wrong newest row): %s" % (aid, times)
    assert a["timestamp_last_change"] == h[-1]["timestamp_created"], \
        "%s: timestamp_last_change %s, newest history row at %s" % (
            aid, a["timestamp_last_change"], h[-1]["timestamp_created"])
    return h


def integrity_ok(path=None):
    rows = db_query("PRAGMA integrity_check", path=path)
    assert [r[0] for r in rows] == ["ok"], "integrity_check: %s" % (
        [r[0] for r in rows][:5])


# --- applications, activations, devices ------------------------------------------------

class App:
    def __init__(self, name):
        self.name = name
        self.id = ok("CreateApplication", [("applicationName", name)]).long(
            "applicationId")
        d = ok("GetApplicationDetail", [("applicationId", self.id)])
        self.master = d.one("masterPublicKey")
        v = d.many("versions")[0]
        self.key = v.one("applicationKey")
        self.secret = v.one("applicationSecret")
        self.callbacks = {}                     # path -> callback id

    def add_callback(self, receiver, label, query=""):
        path = "/cb/%s/%s%s" % (self.name, label, query)
        r = ok("CreateCallbackUrl", [("applicationId", self.id),
                                     ("name", label),
                                     ("callbackUrl", receiver.url(path))])
        cid = r.one("id")
        assert pa_itest.is_uuid4(cid), "callback id %r" % cid
        self.callbacks[path] = cid
        return cid


def init_fields(app, user, expire=None, otp_mode=None, otp=None):
    return [("userId", user), ("applicationId", app.id),
            ("timestampActivationExpire",
             None if expire is None else xs_datetime(expire)),
            ("activationOtpValidation", otp_mode), ("activationOtp", otp)]


def init(app, user, expire=None, otp_mode=None, otp=None):
    r = ok("InitActivation", init_fields(app, user, expire, otp_mode, otp))
    aid = r.one("activationId")
    assert pa_itest.is_uuid4(aid), "activationId %r" % aid
    return aid, r.one("activationCode")


_dev_dir = None
_dev_lock = threading.Lock()


def padevice(*args):
    assert PADEVICE and os.access(PADEVICE, os.X_OK), \
        "PADEVICE (%r) is not an executable" % PADEVICE
    p = subprocess.run([PADEVICE] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    assert p.returncode == 0, "padevice %s: exit %d: %s" % (
        args[0], p.returncode, p.stderr.decode("utf-8", "replace")[:300])
    return json.loads(p.stdout.decode("utf-8"))


class Device:
    """One padevice state file (one phone)."""

    def __init__(self, app):
        global _dev_dir
        with _dev_lock:                    # devices are made on threads
            if _dev_dir is None:
                _dev_dir = tempfile.mkdtemp(prefix="pa-stress-dev-")
        fd, self.state = tempfile.mkstemp(dir=_dev_dir, suffix=".json")
        os.close(fd)
        padevice("init", "--state", self.state, "--force",
                 "--application-key", app.key,
                 "--application-secret", app.secret,
                 "--master-public-key", app.master)

    def prepare_fields(self, code, otp=None):
        args = ["prepare-activation", "--state", self.state,
                "--activation-code", code]
        if otp is not None:
            args += ["--otp", otp]
        p = padevice(*args)
        return [("activationCode", p["activationCode"]),
                ("applicationKey", p["applicationKey"]),
                ("ephemeralPublicKey", p["ephemeralPublicKey"]),
                ("encryptedData", p["encryptedData"]),
                ("mac", p["mac"]), ("nonce", p.get("nonce"))]

    def accept(self, resp):
        """Reads the PrepareActivation answer (the device checks it)."""
        return padevice("activation-response", "--state", self.state,
                        "--encrypted-data", resp.one("encryptedData"),
                        "--mac", resp.one("mac"))

    def public_key(self):
        return padevice("show", "--state", self.state)["devicePublicKey"]


def prepare(app, code, dev=None, otp=None):
    """A successful key exchange; returns (response, device)."""
    dev = dev or Device(app)
    r = ok("PrepareActivation", dev.prepare_fields(code, otp))
    dev.accept(r)
    return r, dev


def commit(aid, ext=None, otp=None):
    r = ok("CommitActivation", [("activationId", aid), ("externalUserId", ext),
                                ("activationOtp", otp)])
    assert r.bool("activated"), "CommitActivation: activated false"


def active_activation(app, user):
    aid, code = init(app, user)
    prepare(app, code)
    commit(aid, "setup")
    return aid


# --- the callback receiver ---------------------------------------------------------------

class Receiver:
    """An HTTP server on 127.0.0.1 recording every request: path, method,
    headers, body, the status answered and (with a hook) what the hook saw.
    mode: the status to answer (200, 503, ...).  stop()/start() close and
    reopen the listening socket on the same port."""

    def __init__(self):
        self.cond = threading.Condition()
        self.records = []
        self.mode = 200
        self.hook = None            # fn(activationId) -> value, for 2xx only
        self.hook_ids = set()
        self.delay = 0              # seconds to wait before answering
        self.arrivals = []          # (time, Idempotency-Key) on arrival
        self.port = 0
        self.httpd = None
        self.thread = None

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def start(self):
        rec = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _body(self):
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    data = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return data, True
                        data += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n), False

            def _handle(self):
                body, chunked = self._body()
                try:
                    aid = json.loads(body.decode("utf-8")).get("activationId")
                except (ValueError, AttributeError):
                    aid = None
                status = rec.mode
                seen = None
                t_arrival = time.time()
                with rec.cond:
                    rec.arrivals.append((t_arrival, self.headers.get(
                        "Idempotency-Key")))
                    rec.cond.notify_all()
                if rec.delay:
                    time.sleep(rec.delay)
                if rec.hook is not None and 200 <= status < 300 \
                        and aid in rec.hook_ids:
                    try:
                        seen = rec.hook(aid)
                    except Exception as e:              # noqa: BLE001
                        seen = "hook error: %s" % e
                entry = {"t": time.time(), "t_arrival": t_arrival,
                         "method": self.command,
                         "path": self.path, "headers": dict(self.headers.items()),
                         "hdr": {k.lower(): v for k, v in self.headers.items()},
                         "body": body, "chunked": chunked, "aid": aid,
                         "status": status, "seen": seen}
                entry["key"] = entry["hdr"].get("idempotency-key")
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.flush()
                except OSError:
                    entry["answer_lost"] = True     # the sender went away
                with rec.cond:
                    rec.records.append(entry)
                    rec.cond.notify_all()

            do_POST = _handle
            do_PUT = _handle
            do_GET = _handle

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def stop(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(10)
            self.httpd = None

    # views
    def snapshot(self):
        with self.cond:
            return list(self.records)

    def for_aid(self, aid):
        return [r for r in self.snapshot() if r["aid"] == aid]

    def delivered(self, aid=None):
        return [r for r in self.snapshot() if 200 <= r["status"] < 300
                and (aid is None or r["aid"] == aid)]

    def events(self, aid):
        """event uuid -> set of callback ids delivered (2xx) for aid."""
        ev = {}
        for r in self.delivered(aid):
            m = KEY_RE.match(r["key"] or "")
            if m:
                ev.setdefault(m.group(1), set()).add(m.group(2))
        return ev

    def complete_events(self, aid, ncb):
        return [e for e, cbs in self.events(aid).items() if len(cbs) >= ncb]


def check_delivery_shape(r, app):
    """The documented POST (DATABASE.md 5.3 + the outbox addition)."""
    assert r["method"] == "POST", "callback method %s" % r["method"]
    assert r["path"] in app.callbacks, "callback to unknown path %r" % r["path"]
    want = ('{"activationId":"%s"}' % r["aid"]).encode()
    assert r["aid"] and r["body"] == want, "callback body %r, expected %r" % (
        r["body"], want)
    ctype = r["hdr"].get("content-type")
    assert ctype == "application/json", "callback Content-Type %r" % ctype
    assert "authorization" not in r["hdr"], "callback carries Authorization"
    m = KEY_RE.match(r["key"] or "")
    assert m, "Idempotency-Key %r is not event_uuid:callback_id" % r["key"]
    assert UUID_RE.match(m.group(1)), "event id %r is no UUID" % m.group(1)
    assert m.group(2) == app.callbacks[r["path"]], \
        "Idempotency-Key %r names callback %s, the URL is %s's (%s)" % (
            r["key"], m.group(2), r["path"], app.callbacks[r["path"]])


def check_once_per_key(rec, aids):
    """Every Idempotency-Key of these activations delivered (2xx) exactly
    once, and every attempt of one key carried the same request."""
    per_key = {}
    for r in rec.snapshot():
        if r["aid"] in aids:
            per_key.setdefault(r["key"], []).append(r)
    for key, rs in per_key.items():
        oks = [r for r in rs if 200 <= r["status"] < 300]
        assert len(oks) == 1, "Idempotency-Key %s delivered %d times" % (
            key, len(oks))
        assert len({(r["path"], r["body"], r["aid"]) for r in rs}) == 1, \
            "attempts of Idempotency-Key %s differ in URL or body" % key
    return per_key


class _AllIds:
    """A hook_ids set that contains every activation id."""

    def __contains__(self, item):
        return item is not None


# --- servers this suite runs itself (callbacks, crash) -------------------------------------

class Server:
    """A paserver process on a free port, its log in LOGDIR/<name>.log,
    with the same base settings as run.sh's start_server."""
    running = []

    def __init__(self, name, db, settings):
        self.name = name
        self.db = db
        self.settings = dict(settings)
        self.proc = None
        self.port = None
        assert PASERVER and os.access(PASERVER, os.X_OK), \
            "PASERVER (%r) is not an executable" % PASERVER
        self.log = os.path.join(LOGDIR or tempfile.gettempdir(),
                                "%s.log" % name)

    def start(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("PASERVER_")}
        env.update({
            "PASERVER_LISTEN": "127.0.0.1:0",
            "PASERVER_DATABASE": self.db,
            "PASERVER_LOG_LEVEL": "info",
            "PASERVER_LOG_TARGET": "stderr",
            "PASERVER_CONTEXT_PATH": pa_itest.CONTEXT,
            "PASERVER_MAX_BODY_BYTES": os.environ.get("PA_ITEST_MAX_BODY", "65536"),
            "PASERVER_MAX_XML_DEPTH": os.environ.get("PA_ITEST_MAX_DEPTH", "32"),
        })
        env.update(self.settings)
        logf = open(self.log, "wb")
        self.proc = subprocess.Popen([PASERVER], env=env, stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        Server.running.append(self)
        end = time.time() + 30
        while True:
            assert self.proc.poll() is None, "%s: paserver exited %s at " \
                "start-up: %s" % (self.name, self.proc.returncode, self.tail())
            with open(self.log, "rb") as f:
                m = re.search(rb"listening on port (\d+)", f.read())
            if m:
                self.port = int(m.group(1))
                pa_itest.PORT = self.port
                try:
                    pa_itest.check_alive()
                    return self
                except (AssertionError,) + TRANSPORT_ERRORS:
                    pass
            assert time.time() < end, "%s: paserver did not answer in 30 s: %s" % (
                self.name, self.tail())
            time.sleep(0.1)

    def tail(self):
        try:
            with open(self.log, "rb") as f:
                return f.read()[-600:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, timeout=15):
        """SIGTERM; it must exit 0 in time (a delivery in flight included)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("%s: paserver still running %d s after "
                                 "SIGTERM" % (self.name, timeout))
        Server.running.remove(self)
        assert rc == 0, "%s: paserver exited %d on SIGTERM: %s" % (
            self.name, rc, self.tail())

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)
        if self in Server.running:
            Server.running.remove(self)


def own_db(phase):
    if DB:
        return DB
    return os.path.join(LOGDIR or tempfile.mkdtemp(prefix="pa-stress-"),
                        "%s.db" % phase)


# =================================================================================
# concurrency
# =================================================================================

C = Runner("concurrency")
CS = {}


def c_app():
    if "app" not in CS:
        CS["app"] = App("stress-c-%s" % TAG)
    return CS["app"]


@C.test
def prepare_race_one_code():
    """32 devices send PrepareActivation with the same activation code at
    once: one key exchange wins; the others get the documented faults
    (CRYPTO.md 6.3: ERR0009 not found as CREATED, ERR0007 found but no
    longer CREATED after the lock; ERR0008 tolerated as the state error)."""
    app = c_app()
    aid, code = init(app, "race-prepare")
    devices = pmap(lambda _: Device(app), range(32))
    requests = pmap(lambda d: d.prepare_fields(code), devices)

    def one(i):
        return soap("PrepareActivation", requests[i])

    results = run_threads(32, one)
    wins = [i for i, (k, _) in enumerate(results) if k == "ok"]
    assert len(wins) == 1, "%d PrepareActivation calls succeeded: %s" % (
        len(wins), sorted({str(r) for k, r in results if k == "fault"}))
    codes = [r for k, r in results if k == "fault"]
    bad = [c for c in codes if c not in ("ERR0007", "ERR0008", "ERR0009")]
    assert not bad, "undocumented faults of the losers: %s" % bad
    print("     (losers: %s)" % ", ".join("%s x%d" % (c, codes.count(c))
                                          for c in sorted(set(codes))))
    win = results[wins[0]][1]
    assert win.one("activationId") == aid
    assert win.one("activationStatus") == "PENDING_COMMIT", win.one(
        "activationStatus")
    devices[wins[0]].accept(win)
    a = db_activation(aid)
    assert a["activation_status"] == 2, "stored status %s" % a["activation_status"]
    assert a["device_public_key_base64"] == devices[wins[0]].public_key(), \
        "the stored device key is not the winner's"
    n = db_query("SELECT count(*) FROM pa_activation WHERE activation_code = ? "
                 "AND device_public_key_base64 IS NOT NULL", (code,))[0][0]
    assert n == 1, "%d activations with this code carry a device key" % n
    h = check_history_story(aid)
    statuses = [r["activation_status"] for r in h]
    assert statuses == [1, 2], "history %s, expected CREATED, PENDING_COMMIT" % (
        statuses)
    CS["pending"] = aid


@C.test
def commit_race_one_activation():
    """32 CommitActivation calls on one PENDING_COMMIT activation: one
    commits, the others see ERR0008; one ACTIVE history row, carrying the
    winner's externalUserId."""
    app = c_app()
    aid = CS.get("pending")
    if aid is None:
        aid, code = init(app, "race-commit")
        prepare(app, code)

    def one(i):
        return soap("CommitActivation", [("activationId", aid),
                                         ("externalUserId", "ext-%d" % i)])

    results = run_threads(32, one)
    wins = [i for i, (k, _) in enumerate(results) if k == "ok"]
    faults = [r for k, r in results if k == "fault"]
    assert all(f == "ERR0008" for f in faults), "faults other than ERR0008: %s" % (
        sorted(set(faults)))
    assert len(wins) == 1, "%d CommitActivation calls succeeded" % len(wins)
    assert results[wins[0]][1].bool("activated")
    h = check_history_story(aid)
    active = [r for r in h if r["activation_status"] == 3]
    assert len(active) == 1, "%d ACTIVE history rows" % len(active)
    assert active[0]["external_user_id"] == "ext-%d" % wins[0], \
        "ACTIVE row externalUserId %r, the winner sent ext-%d" % (
            active[0]["external_user_id"], wins[0])
    assert [r["activation_status"] for r in h] == [1, 2, 3]
    assert db_activation(aid)["activation_status"] == 3


def storm(aid, threads, rounds, with_remove):
    """Block/Unblock (and Remove) from many threads; returns the counts of
    successful calls per operation."""
    counts = {"Block": 0, "Unblock": 0, "Remove": 0}
    lock = threading.Lock()

    def one(i):
        rnd = random.Random(1000 * i + rounds)
        for k in range(rounds):
            if with_remove and ((i == 0 and k == rounds // 2) or rnd.random() < 0.06):
                op = "Remove"
            else:
                op = rnd.choice(("Block", "Unblock"))
            ext = "t%d-%d" % (i, k)
            if op == "Block":
                kind, r = soap("BlockActivation", [("activationId", aid),
                                                   ("reason", "STORM"),
                                                   ("externalUserId", ext)])
                if kind == "ok":
                    assert r.one("activationStatus") == "BLOCKED", \
                        "BlockActivation answered %s" % r.one("activationStatus")
            elif op == "Unblock":
                kind, r = soap("UnblockActivation", [("activationId", aid),
                                                     ("externalUserId", ext)])
                if kind == "ok":
                    assert r.one("activationStatus") == "ACTIVE", \
                        "UnblockActivation answered %s" % r.one("activationStatus")
            else:
                kind, r = soap("RemoveActivation", [("activationId", aid),
                                                    ("externalUserId", ext)])
                if kind == "ok":
                    assert r.opt("removed") in (None, "true"), "removed %r" % (
                        r.opt("removed"))
            if kind == "fault":
                assert r == "ERR0008" and op != "Remove", \
                    "%s answered %s" % (op, r)
            else:
                with lock:
                    counts[op] += 1

    run_threads(threads, one)
    return counts


def check_storm(aid, counts):
    h = check_history_story(aid)
    after = h[3:]
    assert [r["activation_status"] for r in h[:3]] == [1, 2, 3]
    blocked = [r for r in after if r["activation_status"] == 4]
    removed = [r for r in after if r["activation_status"] == 5]
    for r in blocked:
        assert r["event_reason"] == "STORM", "BLOCKED row event_reason %r" % (
            r["event_reason"])
    for r in after:
        assert r["external_user_id"] and re.match(r"^t\d+-\d+$", r["external_user_id"]), \
            "history row externalUserId %r" % r["external_user_id"]
    assert len(removed) == counts["Remove"], \
        "%d REMOVED rows for %d successful RemoveActivation calls" % (
            len(removed), counts["Remove"])
    assert len(blocked) <= counts["Block"], "%d BLOCKED rows, %d Block calls" % (
        len(blocked), counts["Block"])
    assert len({r["external_user_id"] for r in after}) == len(after), \
        "one call wrote two history rows"
    final = db_activation(aid)["activation_status"]
    st = ok("GetActivationStatus", [("activationId", aid)]).one("activationStatus")
    assert STATUS[st] == final, "GetActivationStatus %s, stored %s" % (st, final)
    items = ok("ActivationHistory", [
        ("activationId", aid), ("timestampFrom", xs_datetime(0)),
        ("timestampTo", xs_datetime(time.time() + 3600))]).many("items")
    assert [i.long("id") for i in items] == [r["id"] for r in reversed(h)], \
        "ActivationHistory is not the history, newest first"
    assert STATUS[items[0].one("activationStatus")] == final, \
        "newest ActivationHistory item %s, stored status %s" % (
            items[0].one("activationStatus"), final)
    return h


@C.test
def block_unblock_storm():
    """16 threads x 12 random Block/Unblock calls on one ACTIVE activation:
    every answer is the state's or ERR0008 (never a generic fault); the
    history alternates ACTIVE/BLOCKED and ends in the stored status."""
    app = c_app()
    aid = active_activation(app, "storm-1")
    counts = storm(aid, 16, 12, False)
    h = check_storm(aid, counts)
    assert len(h) > 3, "the storm wrote no history row (%s)" % counts


@C.test
def block_unblock_remove_storm():
    """The same with RemoveActivation mixed in: REMOVED rows only from
    RemoveActivation (one per successful call, also when already REMOVED),
    nothing after REMOVED but REMOVED, the stored status is the newest row's."""
    app = c_app()
    aid = active_activation(app, "storm-2")
    counts = storm(aid, 16, 8, True)
    assert counts["Remove"] >= 1
    h = check_storm(aid, counts)
    assert h[-1]["activation_status"] == 5, "not REMOVED after the storm"


@C.test
def update_status_storm():
    """8 threads x 6 UpdateStatusForActivations (ACTIVE or BLOCKED) on the
    same 10 activations, ids in a different order each time, while 4
    threads Block/Unblock them: every call succeeds (Block/Unblock may get
    ERR0008 only); in every history each row is a step its operation
    allows - UpdateStatusForActivations writes only ids whose status
    differs (external user NULL; a BLOCKED row carries the stored
    blocked_reason), Block only from ACTIVE, Unblock only from BLOCKED."""
    app = c_app()
    aids = pmap(lambda i: active_activation(app, "upd-%d" % i), range(10))
    counts = {"upd": 0}
    lock = threading.Lock()

    def one(i):
        rnd = random.Random(7 * i)
        if i < 8:
            for k in range(6):
                ids = list(aids)
                rnd.shuffle(ids)
                st = rnd.choice(("ACTIVE", "BLOCKED"))
                r = ok("UpdateStatusForActivations",
                       [("activationIds", a) for a in ids] +
                       [("activationStatus", st)])
                assert r.bool("updated"), "UpdateStatusForActivations: updated false"
                with lock:
                    counts["upd"] += 1
        else:
            for k in range(10):
                aid = rnd.choice(aids)
                ext = "%s%d-%d" % ("b" if k % 2 == 0 else "u", i, k)
                if k % 2 == 0:
                    kind, r = soap("BlockActivation", [("activationId", aid),
                                                       ("reason", "STORM"),
                                                       ("externalUserId", ext)])
                else:
                    kind, r = soap("UnblockActivation", [("activationId", aid),
                                                         ("externalUserId", ext)])
                assert kind == "ok" or r == "ERR0008", "%s answered %s" % (ext, r)

    run_threads(12, one)
    for aid in aids:
        h = check_history_story(aid)
        assert [r["activation_status"] for r in h[:3]] == [1, 2, 3]
        reason = None                        # the stored blocked_reason
        prev = 3
        for r in h[3:]:
            st, ext = r["activation_status"], r["external_user_id"]
            if ext is None:                  # UpdateStatusForActivations
                assert st != prev, "%s: UpdateStatusForActivations wrote " \
                    "an unchanged status %s" % (aid, NAME[st])
                assert st in (3, 4), "%s: status %s" % (aid, st)
                want = reason if st == 4 else None
                assert r["event_reason"] == want, \
                    "%s: UpdateStatus row to %s with event_reason %r, " \
                    "expected %r" % (aid, NAME[st], r["event_reason"], want)
            elif ext.startswith("b"):
                assert (prev, st) == (3, 4), "%s: Block row %s -> %s" % (
                    aid, prev, st)
                assert r["event_reason"] == "STORM"
                reason = "STORM"
            else:
                assert (prev, st) == (4, 3), "%s: Unblock row %s -> %s" % (
                    aid, prev, st)
                assert r["event_reason"] is None
                reason = None
            prev = st
    print("     (%d UpdateStatusForActivations calls, %d history rows)" % (
        counts["upd"], sum(len(db_history(a)) - 3 for a in aids)))


@C.test
def otp_failures_counted_exactly():
    """16 parallel CommitActivation calls with a wrong OTP on one activation
    (5 attempts allowed): exactly 5 are counted (ERR0031, four
    OTP_FAILED_ATTEMPT rows, then REMOVED with OTP_MAX_FAILED_ATTEMPTS), the
    rest find it REMOVED (ERR0007); no failure is lost or counted twice."""
    app = c_app()
    aid, code = init(app, "otp-fail", otp_mode="ON_COMMIT", otp="12345")
    prepare(app, code)

    def one(i):
        return soap("CommitActivation", [("activationId", aid),
                                         ("externalUserId", "w%d" % i),
                                         ("activationOtp", "00000")])

    res = run_threads(16, one)
    assert all(k == "fault" for k, _ in res), "a wrong OTP was accepted"
    codes = [c for _, c in res]
    assert set(codes) <= {"ERR0031", "ERR0007"}, "faults %s" % sorted(set(codes))
    assert codes.count("ERR0031") == 5, "%d of 16 answered ERR0031, 5 " \
        "attempts allowed (%s)" % (codes.count("ERR0031"), codes)
    h = db_history(aid)
    got = [(r["activation_status"], r["event_reason"]) for r in h]
    want = [(1, None), (2, None)] + [(2, "OTP_FAILED_ATTEMPT")] * 4 + [
        (5, "OTP_MAX_FAILED_ATTEMPTS")]
    assert got == want, "history %s" % got
    assert len({r["external_user_id"] for r in h[2:]}) == 5
    a = db_activation(aid)
    assert (a["activation_status"], a["failed_attempts"]) == (5, 5), \
        "stored status %s, failed_attempts %s" % (a["activation_status"],
                                                  a["failed_attempts"])


@C.test
def otp_update_races_commit():
    """UpdateActivationOtp (new OTP) and CommitActivation (old OTP) at the
    same time on 4 activations: either the commit wins (ACTIVE, the update
    gets ERR0008) or the update wins (the old OTP is then wrong: ERR0031,
    one OTP_FAILED_ATTEMPT row) - never both; the new OTP commits after."""
    app = c_app()
    pairs = pmap(lambda i: init(app, "otp-upd-%d" % i, otp_mode="ON_COMMIT",
                                otp="11111"), range(4))
    pmap(lambda p: prepare(app, p[1]), pairs)
    aids = [a for a, _ in pairs]

    def one(i):
        aid = aids[i // 2]
        if i % 2 == 0:
            return soap("UpdateActivationOtp", [("activationId", aid),
                                                ("externalUserId", "upd"),
                                                ("activationOtp", "22222")])
        return soap("CommitActivation", [("activationId", aid),
                                         ("externalUserId", "com"),
                                         ("activationOtp", "11111")])

    res = run_threads(2 * len(aids), one)
    wins = {"commit": 0, "update": 0}
    for n, aid in enumerate(aids):
        (uk, ur), (ck, cr) = res[2 * n], res[2 * n + 1]
        h = [(r["activation_status"], r["event_reason"], r["external_user_id"])
             for r in db_history(aid)]
        assert not (uk == "ok" and ck == "ok"), \
            "%s: both the OTP update and the commit with the old OTP " \
            "succeeded (history %s)" % (aid, h)
        if ck == "ok":
            assert (uk, ur) == ("fault", "ERR0008"), "%s: update %s %s" % (
                aid, uk, ur)
            assert h == [(1, None, None), (2, None, None), (3, None, "com")], \
                "%s: history %s" % (aid, h)
            wins["commit"] += 1
        else:
            assert uk == "ok" and cr == "ERR0031", "%s: update %s %s, " \
                "commit %s %s" % (aid, uk, ur, ck, cr)
            assert h == [(1, None, None), (2, None, None),
                         (2, "OTP_VALUE_UPDATE", "upd"),
                         (2, "OTP_FAILED_ATTEMPT", "com")], \
                "%s: history %s" % (aid, h)
            commit(aid, "com2", otp="22222")
            wins["update"] += 1
    print("     (commit first %d, update first %d)" % (wins["commit"],
                                                       wins["update"]))


@C.test
def init_burst():
    """16 threads x 8 InitActivation: all 128 succeed with distinct ids and
    codes, each stored CREATED with exactly one CREATED history row."""
    app = c_app()

    def one(i):
        out = []
        for k in range(8):
            out.append(init(app, "burst-%d" % i))
        return out

    res = [x for part in run_threads(16, one) for x in part]
    assert len(res) == 128
    ids = {a for a, _ in res}
    codes = {c for _, c in res}
    assert len(ids) == 128 and len(codes) == 128, "duplicate ids or codes"
    c = db_connect()
    try:
        for aid in ids:
            a = c.execute("SELECT activation_status FROM pa_activation WHERE "
                          "activation_id = ?", (aid,)).fetchone()
            assert a is not None and a[0] == 1, "%s stored as %s" % (aid, a)
            h = [r[0] for r in c.execute(
                "SELECT activation_status FROM pa_activation_history WHERE "
                "activation_id = ?", (aid,))]
            assert h == [1], "%s history %s" % (aid, h)
    finally:
        c.close()


@C.test
def parallel_lifecycles():
    """16 threads, each 3 whole lifecycles on its own activations (init,
    key exchange, commit, block, status, unblock, remove) at the same time:
    every call succeeds; every history is complete."""
    app = c_app()
    devices = pmap(lambda _: Device(app), range(16))

    def one(i):
        done = []
        for k in range(3):
            aid, code = init(app, "life-%d" % i)
            r = ok("PrepareActivation", devices[i].prepare_fields(code))
            assert r.one("activationStatus") == "PENDING_COMMIT"
            commit(aid, "life")
            assert ok("BlockActivation", [("activationId", aid)]).one(
                "activationStatus") == "BLOCKED"
            assert ok("GetActivationStatus", [("activationId", aid)]).one(
                "activationStatus") == "BLOCKED"
            assert ok("UnblockActivation", [("activationId", aid)]).one(
                "activationStatus") == "ACTIVE"
            ok("RemoveActivation", [("activationId", aid)])
            done.append(aid)
        return done

    aids = [a for part in run_threads(16, one) for a in part]
    for aid in aids:
        h = check_history_story(aid)
        assert [r["activation_status"] for r in h] == [1, 2, 3, 4, 3, 5], \
            "%s history %s" % (aid, [r["activation_status"] for r in h])
        assert h[3]["event_reason"] == "NOT_SPECIFIED"


@C.test
def writers_everywhere():
    """Everything that writes at once: 16 threads doing whole lifecycles
    and reads on an application with 2 callback URLs (the delivery thread
    deletes outbox rows) plus activations expiring under the sweep (run.sh
    starts this server with a 1 s sweep): no call fails, every history is a
    valid story, every committed change is delivered to both URLs, the
    outbox drains."""
    rec = Receiver()
    rec.start()
    try:
        app = App("stress-cw-%s" % TAG)
        app.add_callback(rec, "one")
        app.add_callback(rec, "two")
        devices = pmap(lambda _: Device(app), range(16))
        made = []
        lock = threading.Lock()

        def one(i):
            rnd = random.Random(i)
            mine = []
            for k in range(5):
                if k % 2 == 0:
                    aid, _ = init(app, "ev-%d" % i, expire=time.time() + 1.5)
                else:
                    aid, code = init(app, "ev-%d" % i)
                    r = ok("PrepareActivation", devices[i].prepare_fields(code))
                    assert r.one("activationStatus") == "PENDING_COMMIT"
                    commit(aid, "ev")
                    ok("BlockActivation", [("activationId", aid)])
                mine.append(aid)
                ok("GetActivationStatus", [("activationId", rnd.choice(mine))])
                ok("LookupActivations", [("userIds", "ev-%d" % i),
                                         ("applicationIds", app.id)])
            with lock:
                made.extend(mine)

        run_threads(16, one)
        wait_until(lambda: all(db_activation(a)["activation_status"] in (4, 5)
                               for a in made), 60,
                   "the short-lived activations expired (sweep or lazily)")
        want = {}
        for aid in made:
            h = check_history_story(aid)
            st = [r["activation_status"] for r in h]
            assert st in ([1, 5], [1, 2, 3, 4]), "%s: history %s" % (aid, st)
            want[aid] = len(h)
        wait_until(lambda: all(len(rec.complete_events(a, 2)) >= n
                               for a, n in want.items()), 60,
                   "every change delivered to both URLs")
        wait_until(lambda: db_outbox_count() == 0, 60, "the outbox to drain")
        for a, n in want.items():
            assert len(rec.events(a)) == n, "%s: %d events, %d history rows" % (
                a, len(rec.events(a)), n)
        check_once_per_key(rec, set(made))
        for r in rec.snapshot():
            check_delivery_shape(r, app)
    finally:
        rec.stop()


@C.test
def no_outbox_without_callback_urls():
    """The activations of applications without callback URLs never left an
    outbox row behind."""
    app = c_app()
    n = db_query("SELECT count(*) FROM pa_callback_outbox o JOIN pa_activation "
                 "a ON a.activation_id = o.activation_id WHERE "
                 "a.application_id = ?", (app.id,))[0][0]
    assert n == 0, "%d outbox rows without any callback URL" % n


# =================================================================================
# callbacks
# =================================================================================

CB = Runner("callbacks")
CBS = {}
CB_SETTINGS = {
    "PASERVER_CALLBACK_RETRY_INITIAL_MS": "100",
    "PASERVER_CALLBACK_RETRY_MAX_MS": "500",
    "PASERVER_CALLBACK_MAX_ATTEMPTS": "60",
    "PASERVER_CALLBACK_TIMEOUT_MS": "5000",
    "PASERVER_CALLBACK_CONNECT_TIMEOUT_MS": "2000",
}
DELIVERY_WAIT = 45


def cb_state():
    assert "app" in CBS, "setup failed"
    return CBS["rec"], CBS["app"]


def wait_events(rec, aid, n, ncb=2, timeout=DELIVERY_WAIT):
    return wait_until(lambda: len(rec.complete_events(aid, ncb)) >= n, timeout,
                      "%d callback events of %s delivered to %d URLs" % (
                          n, aid, ncb))


def wait_drained(aids=None, timeout=DELIVERY_WAIT):
    wait_until(lambda: db_outbox_count(aids, CBS.get("db")) == 0, timeout,
               "the callback outbox to drain")


@CB.test
def setup_server_and_receiver():
    rec = Receiver()
    rec.start()
    CBS["rec"] = rec
    CBS["db"] = own_db("callbacks")
    CBS["server"] = Server("callbacks-1", CBS["db"], CB_SETTINGS).start()
    app = App("stress-cb-%s" % TAG)
    app.add_callback(rec, "one")
    app.add_callback(rec, "two")
    CBS["app"] = app


@CB.test
def init_delivers_once_per_url():
    """InitActivation: one POST per callback URL, exactly the documented
    request; Idempotency-Key = event:callback, same event, different URLs."""
    rec, app = cb_state()
    aid, _ = init(app, "cb-init")
    wait_events(rec, aid, 1)
    time.sleep(1.5)                       # a duplicate would show by now
    rs = rec.for_aid(aid)
    for r in rs:
        check_delivery_shape(r, app)
    assert sorted(r["path"] for r in rs) == sorted(app.callbacks), \
        "deliveries %s" % [(r["path"], r["status"]) for r in rs]
    keys = [r["key"] for r in rs]
    assert keys[0] != keys[1], "both URLs got the same Idempotency-Key"
    assert len({k.split(":")[0] for k in keys}) == 1, \
        "one event, two event ids: %s" % keys
    wait_drained([aid])


@CB.test
def retries_after_503_keep_the_key():
    """The receiver answers 503 for a while: every event is retried with
    the same Idempotency-Key and arrives once the receiver answers 200."""
    rec, app = cb_state()
    rec.mode = 503
    try:
        aids = [init(app, "cb-503-%d" % i)[0] for i in range(3)]
        wait_until(lambda: all(
            sum(1 for r in rec.for_aid(a) if r["path"] == p) >= 2
            for a in aids for p in app.callbacks), DELIVERY_WAIT,
            "two attempts per event and URL")
        assert db_outbox_count(aids, CBS["db"]) == 6, \
            "outbox rows while the receiver fails: %d, expected 6" % (
                db_outbox_count(aids, CBS["db"]))
    finally:
        rec.mode = 200
    for a in aids:
        wait_events(rec, a, 1)
    per_key = check_once_per_key(rec, set(aids))
    assert len(per_key) == 6, "%d keys for 3 events x 2 URLs" % len(per_key)
    for key, rs in per_key.items():
        assert len(rs) >= 3, "key %s: %d attempts" % (key, len(rs))
        for r in rs:
            check_delivery_shape(r, app)
    wait_drained(aids)


@CB.test
def receiver_down_then_up():
    """The receiver is down (connection refused): the events wait in the
    outbox and all arrive once it is back on the same port."""
    rec, app = cb_state()
    rec.stop()
    try:
        aids = [init(app, "cb-down-%d" % i)[0] for i in range(3)]
        time.sleep(1.5)
        n = db_outbox_count(aids, CBS["db"])
        assert n == 6, "outbox rows while the receiver is down: %d, " \
            "expected 6" % n
    finally:
        rec.start()
    for a in aids:
        wait_events(rec, a, 1)
    check_once_per_key(rec, set(aids))
    wait_drained(aids)


@CB.test
def receiver_sees_committed_state():
    """A receiver that asks GetActivationStatus when notified sees the new
    state: the callback is sent only after the commit."""
    rec, app = cb_state()

    def hook(aid):
        return call("GetActivationStatus", [("activationId", aid)]).one(
            "activationStatus")

    aid, code = init(app, "cb-state")
    rec.hook_ids.add(aid)
    rec.hook = hook
    try:
        wait_events(rec, aid, 1)
        steps = [
            ("PENDING_COMMIT", lambda: prepare(app, code)),
            ("ACTIVE", lambda: commit(aid, "cb-ext")),
            ("BLOCKED", lambda: ok("BlockActivation", [("activationId", aid),
                                                       ("reason", "CB")])),
            ("ACTIVE", lambda: ok("UnblockActivation", [("activationId", aid)])),
            ("REMOVED", lambda: ok("RemoveActivation", [("activationId", aid)])),
        ]
        seen_events = set(rec.events(aid))
        # the InitActivation event was delivered before the hook was set or
        # with it; only the later ones are checked
        for n, (want, act) in enumerate(steps, start=2):
            act()
            wait_events(rec, aid, n)
            new = set(rec.events(aid)) - seen_events
            assert len(new) == 1, "%d new events after one change" % len(new)
            ev = new.pop()
            seen_events.add(ev)
            for r in rec.delivered(aid):
                if r["key"].startswith(ev + ":"):
                    assert r["seen"] == want, \
                        "notified of the change to %s, the receiver read %r" % (
                            want, r["seen"])
    finally:
        rec.hook = None
        rec.hook_ids.discard(aid)
    check_once_per_key(rec, {aid})
    assert len(rec.events(aid)) == len(db_history(aid, CBS["db"])) == 6


@CB.test
def wrong_otp_with_attempts_left_sends_nothing():
    """A wrong activation OTP with attempts left writes a history row
    (OTP_FAILED_ATTEMPT) but no callback; the other changes do."""
    rec, app = cb_state()
    # ON_COMMIT: the wrong OTP in CommitActivation
    a1, code1 = init(app, "cb-otp-1", otp_mode="ON_COMMIT", otp="11111")
    prepare(app, code1)
    kind, err = soap("CommitActivation", [("activationId", a1),
                                          ("activationOtp", "99999")])
    assert (kind, err) == ("fault", "ERR0031"), "wrong OTP: %s %s" % (kind, err)
    # ON_KEY_EXCHANGE: the wrong OTP in PrepareActivation
    a2, code2 = init(app, "cb-otp-2", otp_mode="ON_KEY_EXCHANGE", otp="22222")
    dev = Device(app)
    kind, err = soap("PrepareActivation", dev.prepare_fields(code2, otp="88888"))
    assert (kind, err) == ("fault", "ERR0031"), "wrong OTP: %s %s" % (kind, err)
    time.sleep(2)
    # the right OTPs: ACTIVE with a callback each
    commit(a1, "otp-ok", otp="11111")
    r, _ = prepare(app, code2, dev=dev, otp="22222")
    assert r.one("activationStatus") == "ACTIVE"
    wait_events(rec, a1, 3)               # init, prepare, commit
    wait_events(rec, a2, 2)               # init, prepare (ACTIVE)
    time.sleep(1.5)
    for aid, n in ((a1, 3), (a2, 2)):
        h = db_history(aid, CBS["db"])
        fails = [x for x in h if x["event_reason"] == "OTP_FAILED_ATTEMPT"]
        assert len(fails) == 1, "%s: %d OTP_FAILED_ATTEMPT rows" % (aid, len(fails))
        assert len(rec.events(aid)) == n == len(h) - 1, \
            "%s: %d events delivered, %d history rows (one without callback)" % (
                aid, len(rec.events(aid)), len(h))
    check_once_per_key(rec, {a1, a2})
    wait_drained([a1, a2])


@CB.test
def invalid_device_key_removes_and_notifies():
    """PrepareActivation with a device key that is not a P-256 point fails
    ERR0009 but keeps its write (DATABASE.md 5.1, 5.5): the activation is
    REMOVED, with a history row and a callback, and the receiver reads
    REMOVED."""
    rec, app = cb_state()
    aid, code = init(app, "cb-badkey")
    dev = Device(app)
    bad_key = base64.b64encode(b"\x04" + b"\x01" * 64).decode()
    p = padevice("ecies-request", "--state", dev.state, "--scope", "application",
                 "--shared-info1", "/pa/activation",
                 "--data", json.dumps({"devicePublicKey": bad_key}))
    fields = [("activationCode", code), ("applicationKey", p["applicationKey"]),
              ("ephemeralPublicKey", p["ephemeralPublicKey"]),
              ("encryptedData", p["encryptedData"]), ("mac", p["mac"]),
              ("nonce", p.get("nonce"))]

    def hook(a):
        return call("GetActivationStatus", [("activationId", a)]).one(
            "activationStatus")

    wait_events(rec, aid, 1)
    rec.hook, rec.hook_ids = hook, {aid}
    try:
        kind, err = soap("PrepareActivation", fields)
        assert (kind, err) == ("fault", "ERR0009"), "bad device key: %s %s" % (
            kind, err)
        wait_events(rec, aid, 2)
    finally:
        rec.hook, rec.hook_ids = None, set()
    h = db_history(aid, CBS["db"])
    assert [(r["activation_status"], r["event_reason"]) for r in h] == [
        (1, None), (5, None)], "history %s" % [tuple(r) for r in h]
    assert db_activation(aid, CBS["db"])["activation_status"] == 5
    seen = [r["seen"] for r in rec.delivered(aid) if r["seen"] is not None]
    assert seen and set(seen) == {"REMOVED"}, "the receiver read %s" % seen
    time.sleep(1.0)
    assert len(rec.events(aid)) == 2
    check_once_per_key(rec, {aid})


@CB.test
def rolled_back_create_sends_nothing():
    """CreateActivation runs InitActivation inside its transaction; a
    cryptogram that fails after it (bad MAC: ERR0018) rolls everything back
    - no activation, and (unlike the original, which notified before the
    commit) no callback.  A good CreateActivation sends two callbacks
    (CREATED, PENDING_COMMIT) and the receiver reads PENDING_COMMIT for
    both: they leave after the one commit."""
    rec, app = cb_state()
    dev = Device(app)
    user = "cb-create-%s" % TAG

    def create_fields():
        p = padevice("create-activation", "--state", dev.state)
        return [("userId", user), ("applicationKey", p["applicationKey"]),
                ("ephemeralPublicKey", p["ephemeralPublicKey"]),
                ("encryptedData", p["encryptedData"]), ("mac", p["mac"]),
                ("nonce", p.get("nonce"))]

    bad = create_fields()
    mac = bad[4][1]
    bad[4] = ("mac", ("B" if mac[0] != "B" else "C") + mac[1:])
    kind, err = soap("CreateActivation", bad)
    assert (kind, err) == ("fault", "ERR0018"), "bad MAC: %s %s" % (kind, err)
    rows = db_query("SELECT count(*) FROM pa_activation WHERE user_id = ?",
                    (user,), CBS["db"])[0][0]
    assert rows == 0, "a rolled-back CreateActivation left %d rows" % rows

    def hook(aid):
        return call("GetActivationStatus", [("activationId", aid)]).one(
            "activationStatus")

    rec.hook = hook
    try:
        good = create_fields()
        # the id is unknown until the answer; watch every id of this user
        rec.hook_ids = _AllIds()
        r = ok("CreateActivation", good)
        aid = r.one("activationId")
        wait_events(rec, aid, 2)
    finally:
        rec.hook = None
        rec.hook_ids = set()
    assert [x["activation_status"] for x in db_history(aid, CBS["db"])] == [1, 2]
    for x in rec.delivered(aid):
        assert x["seen"] == "PENDING_COMMIT", \
            "a CreateActivation callback saw %r: sent before the commit" % (
                x["seen"],)
    time.sleep(1.0)
    assert len(rec.events(aid)) == 2
    unknown = [x["aid"] for x in rec.snapshot()
               if db_activation(x["aid"], CBS["db"]) is None]
    assert not unknown, "callbacks for activations never committed: %s" % (
        unknown[:3])
    check_once_per_key(rec, {aid})


@CB.test
def update_status_notifies_changed_only():
    """UpdateStatusForActivations to BLOCKED on an ACTIVE and an already
    BLOCKED activation: one history row and one callback event, for the
    one that changed."""
    rec, app = cb_state()
    a = active_activation(app, "cb-upd-a")
    b = active_activation(app, "cb-upd-b")
    ok("BlockActivation", [("activationId", b)])
    wait_events(rec, a, 3)
    wait_events(rec, b, 4)
    r = ok("UpdateStatusForActivations", [("activationIds", a),
                                          ("activationIds", b),
                                          ("activationStatus", "BLOCKED")])
    assert r.bool("updated")
    wait_events(rec, a, 4)
    time.sleep(1.5)
    assert [x["activation_status"] for x in db_history(a, CBS["db"])] == [1, 2, 3, 4]
    assert [x["activation_status"] for x in db_history(b, CBS["db"])] == [1, 2, 3, 4]
    assert len(rec.events(a)) == 4 and len(rec.events(b)) == 4, \
        "events %d / %d, expected 4 / 4" % (len(rec.events(a)), len(rec.events(b)))
    check_once_per_key(rec, {a, b})


@CB.test
def pending_events_survive_restart():
    """Events pending in the outbox when the server stops (SIGTERM) are
    delivered by the restarted server, with the keys seen before."""
    rec, app = cb_state()
    rec.mode = 503
    try:
        aids = [init(app, "cb-restart-%d" % i)[0] for i in range(3)]
        wait_until(lambda: all(
            sum(1 for r in rec.for_aid(a) if r["path"] == p) >= 1
            for a in aids for p in app.callbacks), DELIVERY_WAIT,
            "a first attempt per event and URL")
    finally:
        rec.stop()
        rec.mode = 200
    keys_before = {r["key"] for a in aids for r in rec.for_aid(a)}
    assert len(keys_before) == 6, "keys before the restart: %s" % keys_before
    assert db_outbox_count(aids, CBS["db"]) == 6, "outbox rows before SIGTERM"
    CBS["server"].stop()
    n = db_outbox_count(aids, CBS["db"])
    assert n == 6, "after SIGTERM the outbox holds %d rows, expected 6" % n
    rec.start()
    CBS["server"] = Server("callbacks-2", CBS["db"], CB_SETTINGS).start()
    for a in aids:
        wait_events(rec, a, 1)
    per_key = check_once_per_key(rec, set(aids))
    assert set(per_key) == keys_before, "the keys changed across the restart"
    wait_drained(aids)


def restart_with(settings):
    """SIGTERM (exit 0) and a new server on the same file: callbacks-N."""
    CBS["server"].stop()
    CBS["n"] = CBS.get("n", 2) + 1
    CBS["server"] = Server("callbacks-%d" % CBS["n"], CBS["db"],
                           settings).start()


@CB.test
def slow_receiver_times_out_and_retries():
    """PASERVER_CALLBACK_TIMEOUT_MS=1000 and a receiver that answers after
    2.5 s: the attempts are cut at the timeout and retried with the same
    Idempotency-Key until the receiver is quick again."""
    rec, app = cb_state()
    restart_with(dict(CB_SETTINGS, PASERVER_CALLBACK_TIMEOUT_MS="1000"))
    n0 = len(rec.arrivals)
    rec.delay = 2.5
    try:
        aid, _ = init(app, "cb-slow")
        wait_until(lambda: len(rec.arrivals) - n0 >= 4, DELIVERY_WAIT,
                   "two cut attempts per URL")
    finally:
        rec.delay = 0
    wait_events(rec, aid, 1)
    keys = {k for _, k in rec.arrivals[n0:]}
    assert len(keys) == 2, "Idempotency-Keys of one event to 2 URLs: %s" % keys
    assert {r["key"] for r in rec.delivered(aid)} == keys
    wait_drained([aid])


@CB.test
def sigterm_during_slow_delivery():
    """SIGTERM while a callback waits for a receiver that does not answer
    (timeout 60 s): paserver exits 0 promptly, the event stays in the
    outbox and the next start delivers it with the same key."""
    rec, app = cb_state()
    restart_with(dict(CB_SETTINGS, PASERVER_CALLBACK_TIMEOUT_MS="60000"))
    n0 = len(rec.arrivals)
    rec.delay = 40
    try:
        aid, _ = init(app, "cb-sigterm")
        wait_until(lambda: len(rec.arrivals) > n0, DELIVERY_WAIT,
                   "a callback in flight")
        t_stop = time.time()
        in_flight = [k for _, k in rec.arrivals[n0:]]
        CBS["server"].stop(timeout=15)
        took = time.time() - t_stop
    finally:
        rec.delay = 0
    n = db_outbox_count([aid], CBS["db"])
    assert n == 2, "after SIGTERM %d outbox rows of the event, expected 2" % n
    CBS["n"] += 1
    CBS["server"] = Server("callbacks-%d" % CBS["n"], CBS["db"],
                           CB_SETTINGS).start()
    wait_events(rec, aid, 1)
    for key in in_flight:
        assert [r for r in rec.delivered(aid) if r["key"] == key
                and r["t_arrival"] > t_stop], "%s not sent after the restart" % key
    wait_drained([aid])
    print("     (stopped %.1f s after SIGTERM with a delivery in flight)" % took)


@CB.test
def outbox_is_bounded():
    """PASERVER_CALLBACK_OUTBOX_MAX=4 with the receiver down: the state
    changes still succeed, the outbox is trimmed to at most 4 rows, and
    what is left is delivered once the receiver is back."""
    rec, app = cb_state()
    restart_with(dict(CB_SETTINGS, PASERVER_CALLBACK_OUTBOX_MAX="4"))
    rec.stop()
    try:
        aids = [init(app, "cb-bound-%d" % i)[0] for i in range(5)]
        wait_until(lambda: db_outbox_count(None, CBS["db"]) <= 4, DELIVERY_WAIT,
                   "the outbox trimmed to 4 rows")
        time.sleep(1.0)
        left = db_outbox_count(None, CBS["db"])
        assert 1 <= left <= 4, "%d outbox rows, bound 4" % left
    finally:
        rec.start()
    wait_drained(None)
    got = sum(len(rec.events(a)) for a in aids)
    sent = sum(sum(len(c) for c in rec.events(a).values()) for a in aids)
    assert sent == left, "%d deliveries of %d rows left" % (sent, left)
    check_once_per_key(rec, set(aids))
    assert got >= 1


@CB.test
def gives_up_after_max_attempts():
    """PASERVER_CALLBACK_MAX_ATTEMPTS=3 and a receiver that always answers
    503: exactly 3 attempts per event and URL, then the row is deleted and
    nothing more is sent."""
    rec, app = cb_state()
    restart_with(dict(CB_SETTINGS, PASERVER_CALLBACK_MAX_ATTEMPTS="3"))
    rec.mode = 503
    try:
        aids = [init(app, "cb-give-up-%d" % i)[0] for i in range(2)]
        wait_drained(aids)
        time.sleep(1.5)                    # retry max is 500 ms
        per_key = {}
        for a in aids:
            for r in rec.for_aid(a):
                per_key.setdefault(r["key"], []).append(r)
        assert len(per_key) == 4, "%d keys for 2 events x 2 URLs" % len(per_key)
        for key, rs in per_key.items():
            assert len(rs) == 3, "Idempotency-Key %s: %d attempts, max 3" % (
                key, len(rs))
            assert all(r["status"] == 503 for r in rs)
    finally:
        rec.mode = 200
    time.sleep(1.0)
    assert not rec.delivered(aids[0]) and not rec.delivered(aids[1]), \
        "a given-up callback was sent again"


@CB.test
def gives_up_after_max_age():
    """PASERVER_CALLBACK_MAX_AGE_MS=1500 with plenty of attempts: the row
    is retried (backing off, not hammering) until it is about 1.5 s old,
    then deleted, and nothing more is sent."""
    rec, app = cb_state()
    restart_with(dict(CB_SETTINGS, PASERVER_CALLBACK_MAX_ATTEMPTS="1000",
                      PASERVER_CALLBACK_MAX_AGE_MS="1500"))
    rec.mode = 503
    try:
        aid, _ = init(app, "cb-max-age")
        rows = db_query("SELECT timestamp_created FROM pa_callback_outbox "
                        "WHERE activation_id = ?", (aid,), CBS["db"])
        assert len(rows) == 2, "%d outbox rows, expected 2" % len(rows)
        created = min(r[0] for r in rows) / 1000.0
        wait_drained([aid])
        gone = time.time()
        # A row may be dropped once its next attempt would come after the
        # maximum age, so up to one backoff (500 ms) early, never earlier.
        assert gone >= created + 1.5 - 0.5 - 0.05, \
            "given up %.2f s after the event, max age 1.5 s" % (gone - created)
        n = len(rec.for_aid(aid))
        # 2 URLs; backoff from 100 ms doubling to 500 ms: a handful each,
        # not hundreds
        assert 2 <= n <= 2 * 20, "%d attempts in 1.5 s (2 URLs)" % n
        time.sleep(1.5)
        assert len(rec.for_aid(aid)) == n, "attempts after giving up"
    finally:
        rec.mode = 200


@CB.test
def outbox_empty_and_clean_stop():
    """At the end nothing is left in the outbox and the server stops cleanly."""
    rec, app = cb_state()
    wait_drained(None)
    for r in rec.snapshot():
        check_delivery_shape(r, app)
    CBS["server"].stop()
    rec.stop()


# =================================================================================
# crash
# =================================================================================

K = Runner("crash")
KS = {}
K_SETTINGS = {
    "PASERVER_EXPIRY_SWEEP_INTERVAL_MS": "1000",
    "PASERVER_EXPIRY_SWEEP_BATCH": "2",
    "PASERVER_CALLBACK_RETRY_INITIAL_MS": "200",
    "PASERVER_CALLBACK_RETRY_MAX_MS": "1000",
    "PASERVER_CALLBACK_MAX_ATTEMPTS": "100",
    "PASERVER_CALLBACK_CONNECT_TIMEOUT_MS": "2000",
}


@K.test
def burst_and_kill():
    """8 threads doing InitActivation + PrepareActivation; kill -9 in the
    middle; every answer received is recorded."""
    KS["db"] = own_db("crash")
    rec = Receiver()
    rec.start()
    rec.stop()                             # down during the burst
    KS["rec"] = rec
    srv = Server("crash-1", KS["db"], K_SETTINGS).start()
    KS["server"] = srv
    app = App("stress-k-%s" % TAG)
    app.add_callback(rec, "one")
    KS["app"] = app
    devices = pmap(lambda _: Device(app), range(8))
    lock = threading.Lock()
    inits, prepares, faults = {}, {}, []
    killed = threading.Event()
    stop = threading.Event()

    def worker(i):
        k = 0
        while not stop.is_set():
            k += 1
            try:
                kind, r = soap("InitActivation", init_fields(app, "k-%d-%d" % (i, k)))
            except TRANSPORT_ERRORS:
                if killed.is_set():
                    return
                raise
            if kind != "ok":
                with lock:
                    faults.append(("InitActivation", r))
                continue
            aid, code = r.one("activationId"), r.one("activationCode")
            with lock:
                inits[aid] = code
            fields = devices[i].prepare_fields(code)
            try:
                kind, r = soap("PrepareActivation", fields)
            except TRANSPORT_ERRORS:
                if killed.is_set():
                    return
                raise
            with lock:
                if kind == "ok":
                    prepares[aid] = r.one("activationStatus")
                    assert r.one("activationId") == aid
                else:
                    faults.append(("PrepareActivation", r))

    errors = []

    def guarded(i):
        try:
            worker(i)
        except BaseException as e:                      # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: len(prepares) >= 24 or errors or faults, 90,
                   "24 answered key exchanges")
        time.sleep(0.3)                    # well inside the burst
    finally:
        killed.set()
        srv.kill()
        stop.set()
        for t in threads:
            t.join(120)
    assert not errors, "a burst thread failed: %s" % errors[0]
    assert not faults, "faults during the burst: %s" % faults[:5]
    KS["inits"], KS["prepares"] = dict(inits), dict(prepares)
    print("     (%d InitActivation and %d PrepareActivation answered before "
          "the kill)" % (len(inits), len(prepares)))


def crash_checks(path):
    app = KS["app"]
    integrity_ok(path)
    for aid in KS["inits"]:
        a = db_activation(aid, path)
        assert a is not None, "answered InitActivation %s is lost" % aid
        h = check_history_story(aid, path)
        if aid in KS["prepares"]:
            assert KS["prepares"][aid] == "PENDING_COMMIT"
            assert [r["activation_status"] for r in h] == [1, 2], \
                "%s: answered key exchange, history %s" % (
                    aid, [r["activation_status"] for r in h])
            assert a["device_public_key_base64"], "%s: no device key" % aid
    # every activation of the application, answered or not, tells a
    # consistent story (an unanswered call may have committed)
    for row in db_query("SELECT activation_id FROM pa_activation WHERE "
                        "application_id = ?", (app.id,), path):
        h = check_history_story(row[0], path)
        st = [r["activation_status"] for r in h]
        assert st in ([1], [1, 2]), "%s: history %s" % (row[0], st)
        a = db_activation(row[0], path)
        assert (a["device_public_key_base64"] is not None) == (st[-1] == 2), \
            "%s: status %s with device key %r" % (
                row[0], st[-1], a["device_public_key_base64"])


@K.test
def database_consistent_after_kill():
    """Before the restart: the file is intact, every answered call is in it
    with its history, and the callbacks of the committed changes wait in
    the outbox."""
    assert "inits" in KS, "the burst did not run"
    try:
        crash_checks(KS["db"])
        n = db_outbox_count(None, KS["db"])
    except sqlite3.OperationalError as e:
        raise pa_itest.Skip("the killed server's file cannot be read "
                            "read-only before recovery (%s); checked after "
                            "the restart" % e)
    assert n > 0, "no callback is pending after the kill"


@K.test
def restart_and_check():
    """Restart on the same file: the same checks; the status over SOAP is
    the stored one."""
    assert "inits" in KS, "the burst did not run"
    KS["server"] = Server("crash-2", KS["db"], K_SETTINGS).start()
    crash_checks(KS["db"])
    assert db_outbox_count(None, KS["db"]) > 0, "no callback is pending"
    sample = list(KS["inits"])[:10] + list(KS["prepares"])[:10]
    for aid in sample:
        st = ok("GetActivationStatus", [("activationId", aid)]).one("activationStatus")
        assert STATUS[st] == db_activation(aid)["activation_status"], \
            "%s: %s over SOAP" % (aid, st)


@K.test
def pending_callbacks_delivered_after_restart():
    """With the receiver back, one callback per committed change of every
    activation (its history rows) arrives, and the outbox drains."""
    assert "inits" in KS, "the burst did not run"
    rec, app = KS["rec"], KS["app"]
    rec.start()
    aids = [r[0] for r in db_query("SELECT activation_id FROM pa_activation "
                                   "WHERE application_id = ?", (app.id,),
                                   KS["db"])]
    want = {a: len(db_history(a, KS["db"])) for a in aids}

    def done():
        return all(len(rec.events(a)) >= n for a, n in want.items())

    wait_until(done, 90, "the callbacks of %d activations" % len(aids))
    wait_until(lambda: db_outbox_count(None, KS["db"]) == 0, 60,
               "the outbox to drain")
    for a, n in want.items():
        assert len(rec.events(a)) == n, "%s: %d events for %d history rows" % (
            a, len(rec.events(a)), n)
    for r in rec.snapshot():
        check_delivery_shape(r, app)


@K.test
def kill_during_delivery():
    """kill -9 while callbacks are in flight (the receiver holds its answer
    back): after the restart each of them is sent again with the same
    Idempotency-Key, and every other pending one arrives too."""
    assert "inits" in KS, "the burst did not run"
    rec, app = KS["rec"], KS["app"]
    n0 = len(rec.arrivals)
    rec.delay = 5
    try:
        aids = [init(app, "k-flight-%d" % i)[0] for i in range(4)]
        wait_until(lambda: len(rec.arrivals) > n0, 60, "a callback in flight")
        t_kill = time.time()
        KS["server"].kill()
        in_flight = [k for t, k in rec.arrivals[n0:] if t <= t_kill]
    finally:
        rec.delay = 0
    assert in_flight, "no callback was in flight at the kill"
    KS["server"] = Server("crash-3", KS["db"], K_SETTINGS).start()
    wait_until(lambda: all(len(rec.events(a)) >= 1 for a in aids), 90,
               "the callbacks of the 4 new activations")
    wait_until(lambda: db_outbox_count(None, KS["db"]) == 0, 60,
               "the outbox to drain")
    for key in in_flight:
        later = [r for r in rec.snapshot() if r["key"] == key
                 and r["t_arrival"] > t_kill]
        assert later, "the callback in flight at the kill (%s) was not sent " \
            "again after the restart" % key
    for r in rec.snapshot():
        check_delivery_shape(r, app)
    for a in aids:
        check_history_story(a, KS["db"])


@K.test
def kill_during_sweep():
    """30 activations expire together; the sweep (batch 2, so many short
    transactions) is killed with -9 around the deadline: after the restart
    every one is REMOVED with exactly one REMOVED row and its callback."""
    assert "inits" in KS, "the burst did not run"
    rec, app = KS["rec"], KS["app"]
    deadline = time.time() + 5
    aids = [a for a, _ in pmap(lambda i: init(app, "k-sweep-%d" % i,
                                              expire=deadline), range(30))]
    if time.time() >= deadline:
        raise pa_itest.Skip("setup took longer than the 5 s deadline")
    time.sleep(max(0.0, deadline - time.time()) + 1.0 + random.random())
    KS["server"].kill()
    done = sum(1 for a in aids if db_activation(a, KS["db"])["activation_status"] == 5)
    KS["server"] = Server("crash-4", KS["db"], K_SETTINGS).start()
    wait_until(lambda: all(db_activation(a, KS["db"])["activation_status"] == 5
                           for a in aids), 60, "the sweep to finish after restart")
    time.sleep(1.5)
    for a in aids:
        st = [r["activation_status"] for r in check_history_story(a, KS["db"])]
        assert st == [1, 5], "%s: history %s" % (a, st)
    wait_until(lambda: all(len(rec.events(a)) >= 2 for a in aids), 60,
               "the callbacks of the swept activations")
    for a in aids:
        assert len(rec.events(a)) == 2, "%s: %d events" % (a, len(rec.events(a)))
    # all 30 share one deadline, so every batch is full: what the kill left
    # committed is whole batches of 2
    assert done % 2 == 0, "%d removed before the kill: not whole batches " \
        "of 2" % done
    print("     (%d of 30 removed before the kill)" % done)


@K.test
def sweep_off():
    """PASERVER_EXPIRY_SWEEP_INTERVAL_MS=0 turns the sweep off: an expired
    CREATED activation stays CREATED in the table until a read expires it
    lazily (DATABASE.md 5.4), with one REMOVED row."""
    db = os.path.join(os.path.dirname(KS.get("db") or own_db("crash")),
                      "crash-nosweep.db")
    srv = Server("crash-6", db, {"PASERVER_EXPIRY_SWEEP_INTERVAL_MS": "0"})
    keep_port = pa_itest.PORT
    srv.start()
    try:
        app = App("stress-off-%s" % TAG)
        aid, _ = init(app, "off", expire=time.time() + 1)
        time.sleep(3)
        assert db_activation(aid, db)["activation_status"] == 1, \
            "swept although the sweep is off"
        st = ok("GetActivationStatus", [("activationId", aid)]).one(
            "activationStatus")
        assert st == "REMOVED", "lazy expiry answered %s" % st
        assert [r["activation_status"] for r in db_history(aid, db)] == [1, 5]
    finally:
        srv.stop()
        pa_itest.PORT = keep_port


@K.test
def two_servers_one_file():
    """A second paserver on the same file (the outbox design allows it):
    32 devices race for one activation code through both servers, 16
    commits race through both - one winner each, no generic fault; the
    history is consistent and every change is delivered (a repeat carries
    the same Idempotency-Key)."""
    assert "server" in KS, "no server"
    rec, app = KS["rec"], KS["app"]
    other = Server("crash-5", KS["db"], K_SETTINGS)
    keep_port = pa_itest.PORT
    other.start()                          # sets pa_itest.PORT to its port
    pa_itest.PORT = keep_port
    ports = [KS["server"].port, other.port]
    try:
        aid, code = init(app, "k-two")
        devices = pmap(lambda _: Device(app), range(32))
        reqs = pmap(lambda d: d.prepare_fields(code), devices)
        res = run_threads(32, lambda i: soap_at(ports[i % 2], "PrepareActivation",
                                                reqs[i]))
        wins = [i for i, (k, _) in enumerate(res) if k == "ok"]
        assert len(wins) == 1, "%d key exchanges won" % len(wins)
        bad = [r for k, r in res if k == "fault" and
               r not in ("ERR0007", "ERR0008", "ERR0009")]
        assert not bad, "losers' faults %s" % bad
        assert db_activation(aid, KS["db"])["device_public_key_base64"] == \
            devices[wins[0]].public_key()
        res = run_threads(16, lambda i: soap_at(
            ports[i % 2], "CommitActivation",
            [("activationId", aid), ("externalUserId", "x%d" % i)]))
        assert sum(1 for k, _ in res if k == "ok") == 1, "commits: %s" % res
        assert all(r == "ERR0008" for k, r in res if k == "fault")
        st = [r["activation_status"] for r in check_history_story(aid, KS["db"])]
        assert st == [1, 2, 3], "history %s" % st
        wait_until(lambda: len(rec.events(aid)) >= 3, 60,
                   "the 3 callbacks through two delivery threads")
        wait_until(lambda: db_outbox_count(None, KS["db"]) == 0, 60,
                   "the outbox to drain")
        assert len(rec.events(aid)) == 3
    finally:
        other.stop()
    integrity_ok(KS["db"])


@K.test
def clean_stop():
    """Everything delivered, the outbox empty, SIGTERM exits 0, the file is
    intact."""
    assert "server" in KS, "no server"
    wait_until(lambda: db_outbox_count(None, KS["db"]) == 0, 60,
               "the outbox to drain")
    for r in KS["rec"].snapshot():
        check_delivery_shape(r, KS["app"])
    KS["server"].stop()
    integrity_ok(KS["db"])
    KS["rec"].stop()


# =================================================================================
# sweep
# =================================================================================

SW = Runner("sweep")
SWS = {}


@SW.test
def sweep_removes_expired_without_reads():
    """Expiry sweep (interval 1 s, batch 7): 25 unfinished activations
    past their deadline become REMOVED with one history row each (status 5,
    no reason, no external user) without any call reading them; ACTIVE,
    BLOCKED, REMOVED and unexpired ones are left alone."""
    rec = Receiver()
    rec.start()
    SWS["rec"] = rec
    app = App("stress-sw-%s" % TAG)
    app.add_callback(rec, "one", "?source=sweep&n=1")
    SWS["app"] = app
    user = "sweep-%s" % TAG
    # the ones the sweep must leave alone (created first, so that the
    # expiring ones are not yet due while this runs)
    keep = {}
    default_validity = [init(app, user)[0] for i in range(2)]
    for aid in default_validity:
        keep[aid] = 1
    keep[init(app, user, expire=time.time() + 3600)[0]] = 1
    a, c = init(app, user)
    prepare(app, c)
    keep[a] = 2
    keep[active_activation(app, user)] = 3
    a = active_activation(app, user)
    ok("BlockActivation", [("activationId", a)])
    keep[a] = 4
    a = active_activation(app, user)
    ok("RemoveActivation", [("activationId", a)])
    keep[a] = 5
    # 5 PENDING_COMMIT and one ACTIVE with a deadline a few seconds away
    t0 = time.time()
    pend = pmap(lambda i: init(app, user, expire=t0 + 8), range(5))
    pmap(lambda ac: prepare(app, ac[1]), pend)
    act_exp, code = init(app, user, expire=t0 + 8)
    prepare(app, code)
    commit(act_exp, "sw")
    if time.time() >= t0 + 7:
        raise pa_itest.Skip("setup took longer than the 8 s deadline")
    keep[act_exp] = 3
    before = {a: len(db_history(a)) for a in keep}
    # 20 CREATED with a deadline a few seconds away
    t1 = time.time()
    created = pmap(lambda i: init(app, user, expire=t1 + 3), range(20))
    expiring = [a for a, _ in created] + [a for a, _ in pend]
    before.update({a: 1 for a, _ in created})
    before.update({a: 2 for a, _ in pend})
    deadline = max(t0 + 8, t1 + 3)
    SWS.update(expiring=expiring, keep=keep, before=before, user=user)
    time.sleep(max(0.0, deadline - time.time()))

    def all_removed():
        c = db_connect()
        try:
            return all(c.execute("SELECT activation_status FROM pa_activation "
                                 "WHERE activation_id = ?", (a,)).fetchone()[0] == 5
                       for a in expiring)
        finally:
            c.close()

    wait_until(all_removed, 60, "the sweep to remove the 25 expired "
               "activations", step=0.25)
    time.sleep(1.0)                        # a second sweep must not add rows
    for aid in expiring:
        a = db_activation(aid)
        h = check_history_story(aid)
        assert len(h) == before[aid] + 1, "%s: %d history rows, expected %d" % (
            aid, len(h), before[aid] + 1)
        rm = [r for r in h if r["activation_status"] == 5]
        assert len(rm) == 1, "%s: %d REMOVED rows" % (aid, len(rm))
        assert rm[0]["event_reason"] is None and rm[0]["external_user_id"] is None, \
            "%s: REMOVED row reason %r, external user %r" % (
                aid, rm[0]["event_reason"], rm[0]["external_user_id"])
        assert rm[0]["timestamp_created"] > a["timestamp_activation_expire"], \
            "%s: removed at %s, not after its deadline %s" % (
                aid, rm[0]["timestamp_created"], a["timestamp_activation_expire"])
    # one transaction per batch of 7: the 20 rows sharing one deadline are
    # not all written at one instant
    groups = {}
    for aid in expiring:
        t = [r["timestamp_created"] for r in db_history(aid)
             if r["activation_status"] == 5][0]
        groups[t] = groups.get(t, 0) + 1
    assert max(groups.values()) <= 7, "%d REMOVED rows written at the same " \
        "instant, the batch is 7" % max(groups.values())
    for aid, st in keep.items():
        a = db_activation(aid)
        assert a["activation_status"] == st, "%s: status %s, expected %s untouched" % (
            aid, a["activation_status"], st)
        assert len(db_history(aid)) == before[aid], "%s: history grew" % aid
    for aid in default_validity:
        a = db_activation(aid)
        assert a["timestamp_activation_expire"] - a["timestamp_created"] == 120000, \
            "%s: default deadline %d ms after init, activation_validity_ms " \
            "is 120000" % (aid, a["timestamp_activation_expire"] - a["timestamp_created"])


@SW.test
def lookup_shows_removed():
    """LookupActivations (which never expires lazily) shows the swept rows
    REMOVED and the others as they were."""
    assert "expiring" in SWS, "the sweep test did not run"
    app = SWS["app"]
    r = ok("LookupActivations", [("userIds", SWS["user"]),
                                 ("applicationIds", app.id)])
    got = {x.one("activationId"): x.one("activationStatus")
           for x in r.many("activations")}
    for aid in SWS["expiring"]:
        assert got.get(aid) == "REMOVED", "%s: LookupActivations says %s" % (
            aid, got.get(aid))
    for aid, st in SWS["keep"].items():
        assert got.get(aid) == NAME[st], "%s: LookupActivations says %s" % (
            aid, got.get(aid))
    r = ok("LookupActivations", [("userIds", SWS["user"]),
                                 ("applicationIds", app.id),
                                 ("activationStatus", "CREATED")])
    left = {x.one("activationId") for x in r.many("activations")}
    assert not left & set(SWS["expiring"]), "expired rows still CREATED"


@SW.test
def sweep_races_lazy_expiry():
    """Around the deadline of 12 activations (6 CREATED, 6 PENDING_COMMIT)
    clients keep reading them (GetActivationStatus expires lazily) and try
    to commit the PENDING_COMMIT ones while the sweep runs: a read sent
    after the deadline never shows an unfinished state, a commit either
    wins (ACTIVE, left alone) or gets ERR0007, and no activation gets two
    REMOVED rows from the sweep and the lazy expiry together."""
    assert "app" in SWS, "the sweep test did not run"
    app, user = SWS["app"], SWS["user"] + "-race"
    deadline = time.time() + 8
    pend = pmap(lambda i: init(app, user, expire=deadline), range(6))
    pmap(lambda ac: prepare(app, ac[1]), pend)
    created = pmap(lambda i: init(app, user, expire=deadline), range(6))
    if time.time() >= deadline - 1:
        raise pa_itest.Skip("setup took longer than the 8 s deadline")
    pend_ids = [a for a, _ in pend]
    all_ids = pend_ids + [a for a, _ in created]
    reads, commits = [], {}
    lock = threading.Lock()

    def one(i):
        rnd = random.Random(i)
        if i < 6:                          # one commit each, near the deadline
            time.sleep(max(0.0, deadline - 0.4 + rnd.random() * 1.2 - time.time()))
            kind, r = soap("CommitActivation", [("activationId", pend_ids[i])])
            assert kind == "ok" or r == "ERR0007", "CommitActivation: %s" % r
            with lock:
                commits[pend_ids[i]] = kind
            return
        time.sleep(max(0.0, deadline - 1.0 - time.time()))
        while time.time() < deadline + 2.5:
            aid = rnd.choice(all_ids)
            sent = time.time()
            st = ok("GetActivationStatus", [("activationId", aid)]).one(
                "activationStatus")
            with lock:
                reads.append((sent, aid, st))

    run_threads(12, one)
    late = [(t - deadline, a, st) for t, a, st in reads
            if t > deadline + 0.05 and st in ("CREATED", "PENDING_COMMIT")]
    assert not late, "read after the deadline shows an unfinished state: %s" % (
        late[:3])
    wait_until(lambda: all(db_activation(a)["activation_status"] in (3, 5)
                           for a in all_ids), 60, "every raced activation done")
    time.sleep(1.5)                        # one more sweep
    for aid in all_ids:
        h = check_history_story(aid)
        st = [r["activation_status"] for r in h]
        if aid in pend_ids:
            want = [1, 2, 3] if commits[aid] == "ok" else [1, 2, 5]
        else:
            want = [1, 5]
        assert st == want, "%s: history %s, expected %s" % (aid, st, want)
    SWS["raced"] = all_ids
    print("     (%d reads, %d of 6 commits won)" % (
        len(reads), sum(1 for k in commits.values() if k == "ok")))


@SW.test
def parallel_reads_expire_once():
    """Just after the deadline of 5 CREATED activations, 16 threads read
    them at once (GetActivationStatus, GetActivationListForUser - both
    expire lazily) while the sweep runs: every answer says REMOVED and each
    activation has exactly one REMOVED history row."""
    assert "app" in SWS, "the sweep test did not run"
    app, user = SWS["app"], SWS["user"] + "-reads"
    deadline = time.time() + 3
    aids = [init(app, user, expire=deadline)[0] for _ in range(5)]
    if time.time() >= deadline - 0.5:
        raise pa_itest.Skip("setup took longer than the 3 s deadline")
    time.sleep(deadline - time.time() + 0.05)

    def one(i):
        seen = []
        for k in range(4):
            if (i + k) % 2:
                for aid in aids:
                    seen.append(ok("GetActivationStatus", [("activationId", aid)])
                                .one("activationStatus"))
            else:
                r = ok("GetActivationListForUser", [("userId", user),
                                                    ("applicationId", app.id)])
                seen += [x.one("activationStatus") for x in r.many("activations")]
        return seen

    seen = [x for part in run_threads(16, one) for x in part]
    assert set(seen) == {"REMOVED"}, "answers after the deadline: %s" % (
        sorted(set(seen)))
    time.sleep(1.5)                        # and the sweep after them
    for aid in aids:
        st = [r["activation_status"] for r in check_history_story(aid)]
        assert st == [1, 5], "%s: history %s" % (aid, st)
    SWS["reads"] = aids


@SW.test
def sweep_callbacks_delivered():
    """Each swept activation got its REMOVED callback: one event per
    history row, and the outbox drains."""
    assert "expiring" in SWS, "the sweep test did not run"
    rec, app = SWS["rec"], SWS["app"]
    want = {a: len(db_history(a)) for a in SWS["expiring"] + SWS.get("raced", [])
            + SWS.get("reads", [])}
    wait_until(lambda: all(len(rec.events(a)) >= n for a, n in want.items()),
               60, "the REMOVED callbacks of the swept activations")
    for a, n in want.items():
        assert len(rec.events(a)) == n, "%s: %d events, %d history rows" % (
            a, len(rec.events(a)), n)
    check_once_per_key(rec, set(want))
    for r in rec.snapshot():
        check_delivery_shape(r, app)
    wait_until(lambda: db_outbox_count() == 0, 60, "the outbox to drain")
    rec.stop()


# =================================================================================

PHASES = {"concurrency": C, "callbacks": CB, "crash": K, "sweep": SW}


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in PHASES:
        sys.stderr.write("usage: test_activation_stress.py %s [TEST ...]\n"
                         % "|".join(PHASES))
        return 2
    phase = sys.argv[1]
    if phase in ("concurrency", "sweep"):
        pa_itest.require_port()
    try:
        return PHASES[phase].run(sys.argv[2:] or None)
    finally:
        for s in list(Server.running):
            s.kill()
        if _dev_dir is not None:
            shutil.rmtree(_dev_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
