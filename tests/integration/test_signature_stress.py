#!/usr/bin/python3
"""test_signature_stress.py - VerifySignature under concurrency and across a
crash, proved from the outside.

  test_signature_stress.py PHASE [TEST ...]

Phases (tests/integration/run.sh runs each on its own database):

  sigconcurrency  against the server run.sh started (lookahead 20):
                  64 distinct signatures of one activation (counter
                  positions 0..63) verified at once; one signature sent 16
                  times at once; 16 threads of bad knowledge signatures
                  racing to the lock-out; 8 activations x 30 signatures in
                  parallel.  No answer is a fault, no counter position is
                  accepted twice, and the audit trail replays exactly: in
                  audit order, every attempt inside the window [counter,
                  counter + lookahead) at that moment was accepted and
                  every other one refused, and the counters, ctr_data,
                  failed_attempts and remainingAttempts follow from it
  sigcrash        its own servers: several phones sign sequentially, kill
                  -9 of paserver in the middle, restart on the same file:
                  every signatureValid=true answered is on disk (counter
                  beyond its position, a signature_ok audit row carrying
                  it), the file is intact, and each phone goes on signing

Facts come from ../shared: CRYPTO.md 8.6 (lookahead window), 8.7 (effects
of verifySignature), DATABASE.md 5.1 (BLOCKED history row), 5.2 (audit
rows), 5.5 (one transaction, row lock), 5.6 (counters and failed
attempts).  Signatures are made by the phone emulator padevice (PADEVICE);
the database is read (never written) through sqlite3 "file:PATH?mode=ro"
(PA_ITEST_DB).  The helpers (applications, devices, servers, answers
without generic faults) are those of test_activation_stress.py.

Environment (from run.sh): PA_ITEST_PORT, PA_ITEST_DB, PADEVICE, PA_SHARED,
PA_ITEST_LOOKAHEAD (the server's signature_validation_lookahead, 20); for
sigcrash also PASERVER, PA_ITEST_LOGDIR (logs sigcrash-N.log; run.sh
checks them).  Time bounds are generous (a loaded two-core machine);
nothing asserts speed.
"""

import base64
import hashlib
import os
import shutil
import sqlite3
import sys
import threading
import time

import pa_itest
import test_activation_stress as st
from pa_itest import Runner
from test_activation_stress import (App, Device, Server, TRANSPORT_ERRORS,
                                    db_activation, db_history, db_query,
                                    integrity_ok, ok, padevice, pmap,
                                    run_threads, soap, wait_until)

LOOKAHEAD = int(os.environ.get("PA_ITEST_LOOKAHEAD", "20") or 20)
TAG = st.TAG
URI_ID = "/pa/signature/validate"
STATUS = st.STATUS
OK_NOTE = "signature_ok"
BAD_NOTE = "signature_does_not_match"
STATE_NOTE = "activation_invalid_state"


# --- counters (CRYPTO.md 2.5, 8.3) ---------------------------------------------

def next_ctr(ctr_b64, steps=1):
    """NEXT applied `steps` times to a Base64 ctrData: REDUCE(SHA256(x))."""
    x = base64.b64decode(ctr_b64)
    assert len(x) == 16, "ctrData of %d bytes" % len(x)
    for _ in range(steps):
        h = hashlib.sha256(x).digest()
        x = bytes(a ^ b for a, b in zip(h[:16], h[16:]))
    return base64.b64encode(x).decode("ascii")


# --- activations and signatures -------------------------------------------------

class Phone:
    """An ACTIVE activation with its device; pos is the counter position
    the next signature is made at."""

    def __init__(self, app, user, max_fail=None, path=None):
        self.app = app
        fields = [("userId", user), ("applicationId", app.id),
                  ("maxFailureCount", max_fail)]
        r = ok("InitActivation", fields)
        self.aid, code = r.one("activationId"), r.one("activationCode")
        self.dev = Device(app)
        r = ok("PrepareActivation", self.dev.prepare_fields(code))
        self.ctr0 = self.dev.accept(r)["ctrData"]
        r = ok("CommitActivation", [("activationId", self.aid),
                                    ("externalUserId", "setup")])
        assert r.bool("activated"), "CommitActivation: activated false"
        self.user = user
        self.max_fail = 5 if max_fail is None else max_fail
        self.pos = 0
        a = db_activation(self.aid, path)
        assert a["activation_status"] == STATUS["ACTIVE"], a["activation_status"]
        assert a["counter"] == 0 and a["failed_attempts"] == 0, \
            "fresh activation: counter %s, failed_attempts %s" % (
                a["counter"], a["failed_attempts"])
        assert a["ctr_data"] == self.ctr0, \
            "stored ctr_data %r, the device received %r" % (a["ctr_data"],
                                                            self.ctr0)
        assert a["max_failed_attempts"] == self.max_fail, \
            "max_failed_attempts %s, expected %s" % (a["max_failed_attempts"],
                                                     self.max_fail)

    def sign(self, sig_type="possession_knowledge", body=None, advance=True):
        """One signature at self.pos; returns (position, VerifySignature
        fields)."""
        args = ["sign", "--state", self.dev.state, "--method", "POST",
                "--uri-id", URI_ID, "--body",
                body if body is not None else "{\"n\":%d}" % self.pos,
                "--signature-type", sig_type]
        if not advance:
            args.append("--no-advance")
        s = padevice(*args)
        pos = self.pos
        if advance:
            self.pos += 1
        return pos, self.fields(s["data"], s["signature"], s["signatureType"],
                                s["signatureVersion"])

    def fields(self, data, signature, sig_type, version):
        return [("activationId", self.aid), ("applicationKey", self.app.key),
                ("data", data), ("signature", signature),
                ("signatureType", sig_type), ("signatureVersion", version)]


def verify(fields):
    """VerifySignature on a new connection; any fault at all fails (a
    verification never faults for a found activation with good fields)."""
    kind, r = soap("VerifySignature", fields)
    assert kind == "ok", "VerifySignature answered a fault %s" % r
    return r


def check_answer(phone, r, valid=None, sig_type="POSSESSION_KNOWLEDGE"):
    """The shape of a VerifySignature answer (CRYPTO.md 8.7); returns
    (signatureValid, activationStatus, remainingAttempts or None)."""
    v = r.bool("signatureValid")
    if valid is not None:
        assert v == valid, "signatureValid %s, expected %s" % (v, valid)
    status = r.one("activationStatus")
    rem = r.opt("remainingAttempts")
    rem = None if rem is None else int(rem)
    if v:
        assert status == "ACTIVE", "valid signature with status %s" % status
        assert r.one("activationId") == phone.aid
        assert r.one("userId") == phone.user
        assert int(r.one("applicationId")) == phone.app.id
        assert r.one("signatureType") == sig_type, r.one("signatureType")
        assert rem == phone.max_fail, "valid: remainingAttempts %s, " \
            "expected maxFailedAttempts %s" % (rem, phone.max_fail)
        assert r.opt("blockedReason") is None, "valid with a blockedReason"
    return v, status, rem


def audit_rows(aid, path=None):
    return db_query("SELECT id, activation_counter, activation_ctr_data, "
                    "activation_status, signature, signature_type, valid, "
                    "note, version FROM pa_signature_audit WHERE "
                    "activation_id = ? ORDER BY id", (aid,), path)


def check_ctr_chain(phone, path=None):
    """The stored ctr_data is NEXT^counter of the initial one; so is the
    ctr_data of every audit row for its counter (mode 3 keeps both in
    step, CRYPTO.md 8.6-8.7)."""
    a = db_activation(phone.aid, path)
    assert a["ctr_data"] == next_ctr(phone.ctr0, a["counter"]), \
        "%s: ctr_data is not NEXT^%d of the initial ctrData" % (
            phone.aid, a["counter"])
    for row in audit_rows(phone.aid, path):
        assert row["activation_ctr_data"] == next_ctr(
            phone.ctr0, row["activation_counter"]), \
            "audit row %s: ctr_data does not belong to counter %s" % (
                row["id"], row["activation_counter"])
    return a


def replay(phone, sent, answers, rows, failed0=0, counter0=0):
    """Replays the audit rows (id order = the order the writes happened
    under the row lock) against the documented rules.  sent: signature text
    -> counter position (each signature distinct); answers: signature text
    -> (valid, status, remainingAttempts).  Returns (counter, failed)."""
    c, failed = counter0, failed0
    for row in rows:
        sig = row["signature"]
        assert sig in sent, "audit row %s carries a signature nobody sent" % (
            row["id"])
        p = sent[sig]
        valid, status, rem = answers[sig]
        if c <= p < c + LOOKAHEAD:
            assert row["note"] == OK_NOTE and row["valid"], \
                "audit row %s: position %d inside the window [%d, %d) at " \
                "its turn, but note %s" % (row["id"], p, c, c + LOOKAHEAD,
                                           row["note"])
            assert valid, "position %d accepted in the audit, answered " \
                "false" % p
            c, failed = p + 1, 0
            assert row["activation_counter"] == c, \
                "audit row %s: counter %s after accepting position %d" % (
                    row["id"], row["activation_counter"], p)
        else:
            assert row["note"] == BAD_NOTE and not row["valid"], \
                "audit row %s: position %d outside the window [%d, %d) at " \
                "its turn, but note %s" % (row["id"], p, c, c + LOOKAHEAD,
                                           row["note"])
            assert not valid, "position %d refused in the audit, answered " \
                "true" % p
            failed += 1
            assert row["activation_counter"] == c, \
                "audit row %s: a refused signature moved the counter to %s " \
                "(was %d)" % (row["id"], row["activation_counter"], c)
            assert rem == phone.max_fail - failed, \
                "position %d refused as failure %d: remainingAttempts %s, " \
                "expected %d" % (p, failed, rem, phone.max_fail - failed)
            assert status == "ACTIVE", "refused: status %s" % status
        assert row["activation_status"] == STATUS["ACTIVE"]
        assert row["signature_type"] == "POSSESSION_KNOWLEDGE"
        assert row["version"] == 3, "audit version %s" % row["version"]
    return c, failed


# =================================================================================
# sigconcurrency
# =================================================================================

C = Runner("sigconcurrency")
CS = {}


def c_app():
    if "app" not in CS:
        CS["app"] = App("sig-c-%s" % TAG)
    return CS["app"]


@C.test
def window_race_64_positions():
    """64 distinct valid signatures of one activation (positions 0..63,
    made in sequence by the phone) sent at once from 64 threads: every
    answer is a plain true/false (no fault), no position is accepted twice,
    the stored counter is the highest accepted position + 1, and the audit
    trail replays exactly against the lookahead rule (CRYPTO.md 8.6)."""
    phone = Phone(c_app(), "win-64", max_fail=1000)
    signed = [phone.sign() for _ in range(64)]
    sent = {}
    for pos, f in signed:
        sig = dict(f)["signature"]
        assert sig not in sent, "padevice made the same signature twice"
        sent[sig] = pos

    results = run_threads(64, lambda i: verify(signed[i][1]))
    answers = {}
    for (pos, f), r in zip(signed, results):
        answers[dict(f)["signature"]] = check_answer(phone, r)
    accepted = sorted(sent[s] for s, a in answers.items() if a[0])
    assert accepted, "no position accepted (the first one inside the " \
        "window must be)"
    assert all(p >= 0 for p in accepted)

    rows = audit_rows(phone.aid)
    assert len(rows) == 64, "%d audit rows for 64 attempts" % len(rows)
    oks = [r for r in rows if r["note"] == OK_NOTE]
    assert len(oks) == len(accepted), "%d signature_ok rows, %d true " \
        "answers" % (len(oks), len(accepted))
    ctrs = [r["activation_counter"] for r in oks]
    assert len(set(ctrs)) == len(ctrs), "a counter position was accepted " \
        "twice: signature_ok counters %s" % ctrs
    assert sorted(ctrs) == [p + 1 for p in accepted], \
        "signature_ok counters %s, accepted positions %s" % (ctrs, accepted)
    assert ctrs == sorted(ctrs), "signature_ok counters not increasing in " \
        "audit order: %s" % ctrs
    c, failed = replay(phone, sent, answers, rows)

    a = check_ctr_chain(phone)
    assert a["counter"] == accepted[-1] + 1 == c, \
        "stored counter %s, highest accepted position %d" % (a["counter"],
                                                             accepted[-1])
    assert a["failed_attempts"] == failed, "failed_attempts %s, the audit " \
        "says %d" % (a["failed_attempts"], failed)
    assert a["activation_status"] == STATUS["ACTIVE"]
    hist = [r["activation_status"] for r in db_history(phone.aid)]
    assert hist == [1, 2, 3], "signatures wrote history rows: %s" % hist
    print("     (%d of 64 accepted: %s)" % (len(accepted), accepted))


@C.test
def one_signature_sixteen_times():
    """The same valid signature sent 16 times at once: exactly one true;
    the others are refused without a fault; the counter moved once."""
    phone = Phone(c_app(), "same-16", max_fail=100)
    pos, f = phone.sign()
    results = run_threads(16, lambda i: verify(f))
    answers = [check_answer(phone, r) for r in results]
    trues = [a for a in answers if a[0]]
    assert len(trues) == 1, "%d of 16 identical signatures accepted" % len(trues)
    rows = audit_rows(phone.aid)
    notes = [r["note"] for r in rows]
    assert len(rows) == 16, "%d audit rows for 16 attempts" % len(rows)
    assert notes.count(OK_NOTE) == 1 and notes.count(BAD_NOTE) == 15, \
        "audit notes %s" % notes
    k = notes.index(OK_NOTE)
    # remainingAttempts of the refusals, from the audit order: failures
    # count up before the success, which resets them, then again
    want = sorted([phone.max_fail - i for i in range(1, k + 1)]
                  + [phone.max_fail - i for i in range(1, 16 - k)])
    got = sorted(a[2] for a in answers if not a[0])
    assert got == want, "remainingAttempts of the refusals %s, the audit " \
        "order gives %s" % (got, want)
    assert rows[k]["activation_counter"] == 1
    assert all(r["activation_counter"] == (0 if i < k else 1)
               for i, r in enumerate(rows)), \
        "audit counters %s" % [r["activation_counter"] for r in rows]
    a = check_ctr_chain(phone)
    assert a["counter"] == 1, "counter %s after one accepted signature" % (
        a["counter"])
    assert a["failed_attempts"] == 15 - k, "failed_attempts %s, expected " \
        "%d (refusals after the success)" % (a["failed_attempts"], 15 - k)
    # the phone is in step: its next signature is valid
    _, f2 = phone.sign()
    check_answer(phone, verify(f2), valid=True)
    assert db_activation(phone.aid)["counter"] == 2


@C.test
def lockout_race_sixteen_threads():
    """16 threads x 2 altered KNOWLEDGE signatures at once (max 5 failed
    attempts): failed_attempts stops at exactly 5, BLOCKED with
    MAX_FAILED_ATTEMPTS, one BLOCKED history row; exactly 5 attempts are
    audited signature_does_not_match, all later ones
    activation_invalid_state (CRYPTO.md 8.7 steps 4-5, DATABASE.md 5.1)."""
    phone = Phone(c_app(), "lockout-16")
    bad = []
    for i in range(32):
        _, f = phone.sign("knowledge", advance=False)
        d = dict(f)
        s = d["signature"]
        j = 4 + i % 12
        alt = s[:j] + ("A" if s[j] != "A" else "B") + s[j + 1:]
        d["signature"] = alt
        bad.append(phone.fields(d["data"], alt, d["signatureType"],
                                d["signatureVersion"]))
    assert len({dict(f)["signature"] for f in bad}) == 32

    results = run_threads(16, lambda i: [verify(bad[2 * i]),
                                         verify(bad[2 * i + 1])])
    answers = [check_answer(phone, r, valid=False, sig_type="KNOWLEDGE")
               for pair in results for r in pair]
    active = sorted(a[2] for a in answers if a[1] == "ACTIVE")
    assert active == [1, 2, 3, 4], "answers still ACTIVE carry " \
        "remainingAttempts %s, expected 1, 2, 3, 4" % active
    blocked = [a for a in answers if a[1] == "BLOCKED"]
    assert len(blocked) == 28, "%d BLOCKED answers, expected 28 (%s)" % (
        len(blocked), sorted({a[1] for a in answers}))
    assert [a[2] for a in blocked].count(0) >= 1, \
        "no answer says remainingAttempts 0 (the blocking failure)"
    assert all(a[2] in (None, 0) for a in blocked), \
        "BLOCKED answers with remainingAttempts %s" % sorted(
            {a[2] for a in blocked if a[2] is not None})

    a = db_activation(phone.aid)
    assert a["activation_status"] == STATUS["BLOCKED"], a["activation_status"]
    assert a["failed_attempts"] == 5, "failed_attempts %s, expected exactly " \
        "the maximum 5" % a["failed_attempts"]
    assert a["blocked_reason"] == "MAX_FAILED_ATTEMPTS", a["blocked_reason"]
    assert a["counter"] == 0 and a["ctr_data"] == phone.ctr0, \
        "refused signatures moved the counter"
    h = db_history(phone.aid)
    st_ = [(r["activation_status"], r["event_reason"]) for r in h]
    assert st_ == [(1, None), (2, None), (3, None),
                   (4, "MAX_FAILED_ATTEMPTS")], "history %s" % st_
    rows = audit_rows(phone.aid)
    assert len(rows) == 32, "%d audit rows for 32 attempts" % len(rows)
    notes = [r["note"] for r in rows]
    assert notes == [BAD_NOTE] * 5 + [STATE_NOTE] * 27, \
        "audit notes in order: %s" % notes
    assert [r["activation_status"] for r in rows] == [3] * 4 + [4] * 28, \
        "audit statuses %s" % [r["activation_status"] for r in rows]
    assert all(not r["valid"] and r["activation_counter"] == 0
               and r["signature_type"] == "KNOWLEDGE" for r in rows)
    # a valid signature is refused now too, and changes nothing
    _, f = phone.sign("knowledge")
    v, status, _ = check_answer(phone, verify(f), valid=False,
                                sig_type="KNOWLEDGE")
    assert status == "BLOCKED"
    a2 = db_activation(phone.aid)
    assert (a2["failed_attempts"], a2["counter"]) == (5, 0)
    assert audit_rows(phone.aid)[-1]["note"] == STATE_NOTE
    assert len(db_history(phone.aid)) == 4


@C.test
def many_activations_in_parallel():
    """8 activations, one thread each, 30 sequential signatures: all valid;
    the odd ones also send an altered signature after every 10th, refused
    (remainingAttempts 4) and reset by the next valid one, so refusals and
    successes of different activations share commits.  Each counter ends
    at 30 with signature_ok rows 1..30; failed_attempts is 0, or 1 after
    the last refusal."""
    app = c_app()
    phones = pmap(lambda i: Phone(app, "par-%d" % i), range(8), workers=4)

    def one(i):
        ph = phones[i]
        for k in range(30):
            _, f = ph.sign()
            check_answer(ph, verify(f), valid=True)
            if i % 2 and k % 10 == 9:
                d = dict(f)
                sig = d["signature"]
                alt = ("B" if sig[0] == "A" else "A") + sig[1:]
                v, status, rem = check_answer(ph, verify(ph.fields(
                    d["data"], alt, d["signatureType"], d["signatureVersion"])))
                assert (v, status, rem) == (False, "ACTIVE", 4), \
                    "a replayed, altered signature: %s" % ((v, status, rem),)
        return True

    run_threads(8, one)
    for i, ph in enumerate(phones):
        a = check_ctr_chain(ph)
        # the last refusal follows the last success: it stays counted
        assert a["counter"] == 30 and a["failed_attempts"] == i % 2, \
            "%s: counter %s, failed_attempts %s" % (ph.aid, a["counter"],
                                                    a["failed_attempts"])
        rows = audit_rows(ph.aid)
        oks = [r for r in rows if r["note"] == OK_NOTE]
        assert [r["activation_counter"] for r in oks] == list(range(1, 31))
        bad = [r for r in rows if r["note"] != OK_NOTE]
        assert [(r["note"], r["activation_counter"]) for r in bad] == (
            [(BAD_NOTE, 10), (BAD_NOTE, 20), (BAD_NOTE, 30)] if i % 2 else []), \
            "%s: refusals audited as %s" % (ph.aid, [
                (r["note"], r["activation_counter"]) for r in bad])


# =================================================================================
# sigcrash
# =================================================================================

K = Runner("sigcrash")
KS = {}
K_SETTINGS = {"PASERVER_SIGNATURE_VALIDATION_LOOKAHEAD": str(LOOKAHEAD),
              "PASERVER_EXPIRY_SWEEP_INTERVAL_MS": "0"}
K_THREADS = 6


def k_db():
    if st.DB:
        return st.DB
    return os.path.join(st.LOGDIR or __import__("tempfile").mkdtemp(
        prefix="pa-sigstress-"), "sigcrash.db")


@K.test
def load_and_kill():
    """6 phones sign and verify in a loop, each on its own activation;
    kill -9 in the middle of the load; every answer received is recorded
    (all must be true: each phone is in step with the server)."""
    KS["db"] = k_db()
    srv = Server("sigcrash-1", KS["db"], K_SETTINGS).start()
    KS["server"] = srv
    app = App("sig-k-%s" % TAG)
    KS["app"] = app
    phones = pmap(lambda i: Phone(app, "k-%d" % i, path=KS["db"]),
                  range(K_THREADS), workers=3)
    KS["phones"] = phones
    lock = threading.Lock()
    got = {ph.aid: [] for ph in phones}     # [(position, signature)]
    bad = []
    killed = threading.Event()
    errors = []

    def worker(i):
        ph = phones[i]
        while not killed.is_set():
            pos, f = ph.sign()
            try:
                kind, r = soap("VerifySignature", f)
            except TRANSPORT_ERRORS:
                if killed.is_set():
                    return
                raise
            if kind != "ok":
                with lock:
                    bad.append("fault %s at position %d" % (r, pos))
                return
            if not r.bool("signatureValid"):
                with lock:
                    bad.append("%s: position %d answered false (status %s)"
                               % (ph.aid, pos, r.one("activationStatus")))
                return
            with lock:
                got[ph.aid].append((pos, dict(f)["signature"]))

    def guarded(i):
        try:
            worker(i)
        except BaseException as e:                      # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=guarded, args=(i,))
               for i in range(K_THREADS)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: sum(len(v) for v in got.values()) >= 120
                   or errors or bad, 120, "120 answered verifications")
        time.sleep(0.15)                   # well inside the load
    finally:
        killed.set()
        srv.kill()
        for t in threads:
            t.join(120)
    assert not errors, "a load thread failed: %s" % errors[0]
    assert not bad, "wrong answers during the load: %s" % bad[:5]
    KS["got"] = {k: list(v) for k, v in got.items()}
    print("     (%d signatureValid=true answers before the kill, per phone "
          "%s)" % (sum(len(v) for v in got.values()),
                   [len(got[ph.aid]) for ph in phones]))


def sigcrash_checks(path):
    """Returns how many unanswered requests committed before the kill."""
    integrity_ok(path)
    inflight = 0
    for ph in KS["phones"]:
        got = KS["got"][ph.aid]
        a = db_activation(ph.aid, path)
        assert a["activation_status"] == STATUS["ACTIVE"]
        assert [p for p, _ in got] == list(range(len(got))), \
            "%s: answered positions %s are not 0..n-1" % (
                ph.aid, [p for p, _ in got])
        rows = audit_rows(ph.aid, path)
        oks = {r["signature"]: r for r in rows if r["note"] == OK_NOTE}
        for pos, sig in got:
            assert a["counter"] > pos, \
                "%s: position %d was answered valid, the counter on disk is " \
                "%s (the answer went out before its commit)" % (
                    ph.aid, pos, a["counter"])
            assert sig in oks, "%s: position %d was answered valid, no " \
                "signature_ok audit row carries its signature" % (ph.aid, pos)
            assert oks[sig]["activation_counter"] == pos + 1, \
                "%s: audit row of position %d has counter %s" % (
                    ph.aid, pos, oks[sig]["activation_counter"])
        # at most the one unanswered request in flight may have committed
        assert a["counter"] in (len(got), len(got) + 1), \
            "%s: counter %s on disk, %d answered and one at most in " \
            "flight" % (ph.aid, a["counter"], len(got))
        assert [r["note"] for r in rows] == [OK_NOTE] * a["counter"], \
            "%s: audit notes %s" % (ph.aid, sorted({r["note"] for r in rows}))
        assert [r["activation_counter"] for r in rows] == \
            list(range(1, a["counter"] + 1))
        assert a["failed_attempts"] == 0
        check_ctr_chain(ph, path)
        inflight += a["counter"] - len(got)
    return inflight


@K.test
def durable_before_answer():
    """The file as kill -9 left it: intact, and every true answer's counter
    step and audit row are in it."""
    assert "got" in KS, "the load did not run"
    try:
        n = sigcrash_checks(KS["db"])
        print("     (%d unanswered request(s) committed before the kill)" % n)
    except sqlite3.OperationalError as e:
        raise pa_itest.Skip("the killed server's file cannot be read "
                            "read-only before recovery (%s); checked after "
                            "the restart" % e)


@K.test
def restart_and_continue():
    """Restart on the same file: the same checks; then every phone signs
    on and its next signatures are valid (the position after an
    unanswered in-flight request is inside the lookahead window)."""
    assert "got" in KS, "the load did not run"
    KS["server"] = Server("sigcrash-2", KS["db"], K_SETTINGS).start()
    sigcrash_checks(KS["db"])

    def one(i):
        ph = KS["phones"][i]
        for _ in range(3):
            _, f = ph.sign()
            check_answer(ph, verify(f), valid=True)
        return True

    run_threads(K_THREADS, one)
    for ph in KS["phones"]:
        a = check_ctr_chain(ph, KS["db"])
        assert a["counter"] == ph.pos, "%s: counter %s, the phone is at %d" % (
            ph.aid, a["counter"], ph.pos)
        assert a["failed_attempts"] == 0


@K.test
def clean_stop():
    """SIGTERM: paserver exits 0; the file is intact."""
    srv = KS.get("server")
    assert srv is not None and srv.proc.poll() is None, "no server running"
    srv.stop()
    integrity_ok(KS["db"])


# =================================================================================

PHASES = {"sigconcurrency": C, "sigcrash": K}


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in PHASES:
        sys.stderr.write("usage: test_signature_stress.py %s [TEST ...]\n"
                         % "|".join(PHASES))
        return 2
    phase = sys.argv[1]
    if phase == "sigconcurrency":
        pa_itest.require_port()
    try:
        return PHASES[phase].run(sys.argv[2:] or None)
    finally:
        for s in list(Server.running):
            s.kill()
        if st._dev_dir is not None:
            shutil.rmtree(st._dev_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
