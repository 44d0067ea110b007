#!/usr/bin/python3
"""test_signatures.py - signatures, vault, tokens and ECIES from the outside.

The v3 operations that use an activation's keys after the key exchange
(VerifySignature, VerifyOfflineSignature, Create(Non)PersonalizedOffline-
SignaturePayload, VerifyECDSASignature, VaultUnlock, SignatureAudit,
CreateToken, ValidateToken, RemoveToken, GetEciesDecryptor) are driven
through python3-zeep on the served WSDL, with padevice as the phone, for
protocol 3.0 (DECIMAL signatures, ECIES without nonce) and 3.1 (BASE64,
nonce) activations.  After every step the SQLite file the server writes is
read (read-only) and compared with what the shared documents say:

  spec/CRYPTO.md 5 (5.9 GetEciesDecryptor), 8.1-8.9 (online signatures,
      lookahead, effects, versions, ECDSA), 9 (offline), 10 (tokens),
      11 (vault), 18.2 (error codes)
  contract/DATABASE.md 3 (codes, additional_info JSON), 5.1 (history),
      5.2 (audit rows), 5.6 (counters, failed attempts), 5.7 (tokens), 5.11
  contract/operations-v3.tsv, CONTRACT.md (faults)

plus paserver's own additions to ValidateToken: a timestamp more than
PASERVER_TOKEN_MAX_FUTURE_MS (default 1 h) ahead of the server clock and a
second use of the same (tokenId, nonce) are refused with tokenValid=false.

The expectations come from those documents only, never from the server's
sources.  The ECIES decryptor answer is checked by decrypting the phone's
request here, in Python (CRYPTO.md 5.2-5.5), and answering it so that
padevice reads the answer.  ECDSA signatures (8.9) are made here with the
device private key padevice keeps in its state file (padevice has no ECDSA
signing command).  Missing required elements are sent as raw envelopes.

Environment (set by run.sh): PA_ITEST_PORT, PA_SHARED, PA_SRCDIR;
PA_ITEST_DB the server's database file; PADEVICE the phone emulator;
PA_ITEST_ENC_KEY the master DB encryption key the server runs with (absent:
none); PA_ITEST_TOKEN_REPLAY=0 when the server runs with
PASERVER_TOKEN_REPLAY_PROTECTION=false, PA_ITEST_TOKEN_MAX_FUTURE_MS the
server's PASERVER_TOKEN_MAX_FUTURE_MS (default 3600000, 0 = off).
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

import zeep
import zeep.exceptions

from pa_itest import (ENDPOINT_PATH, HOST, PORT, V3_NS, Runner, b64_bytes,
                      call_raw, check_fault, english, is_uuid4, require_port)

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.exceptions import InvalidSignature

T = Runner("signatures")
TAG = "sig%d" % os.getpid()
DB = os.environ.get("PA_ITEST_DB", "")
PADEVICE = os.environ.get("PADEVICE", "")
ENC_KEY = os.environ.get("PA_ITEST_ENC_KEY", "")
TOKEN_REPLAY = os.environ.get("PA_ITEST_TOKEN_REPLAY", "1") != "0"
TOKEN_MAX_FUTURE = int(os.environ.get("PA_ITEST_TOKEN_MAX_FUTURE_MS", "3600000"))
TOKEN_VALIDITY = 7200000                       # CRYPTO.md 18.1
LOOKAHEAD = 20                                 # CRYPTO.md 18.1

CREATED, PENDING_COMMIT, ACTIVE, BLOCKED, REMOVED = 1, 2, 3, 4, 5
STATUS = {1: "CREATED", 2: "PENDING_COMMIT", 3: "ACTIVE", 4: "BLOCKED",
          5: "REMOVED"}
TYPES = ["POSSESSION", "KNOWLEDGE", "BIOMETRY", "POSSESSION_KNOWLEDGE",
         "POSSESSION_BIOMETRY", "POSSESSION_KNOWLEDGE_BIOMETRY"]
NCOMP = {"POSSESSION": 1, "KNOWLEDGE": 1, "BIOMETRY": 1,
         "POSSESSION_KNOWLEDGE": 2, "POSSESSION_BIOMETRY": 2,
         "POSSESSION_KNOWLEDGE_BIOMETRY": 3}
KEYS_OF = {"POSSESSION": [1], "KNOWLEDGE": [2], "BIOMETRY": [3],
           "POSSESSION_KNOWLEDGE": [1, 2], "POSSESSION_BIOMETRY": [1, 3],
           "POSSESSION_KNOWLEDGE_BIOMETRY": [1, 2, 3]}
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
PROTOCOLS = ("3.0", "3.1")
DECIMAL_RE = {1: re.compile(r"^\d{8}$"), 2: re.compile(r"^\d{8}-\d{8}$"),
              3: re.compile(r"^\d{8}-\d{8}-\d{8}$")}
B64LEN = {1: 24, 2: 44, 3: 64}


# --- zeep ------------------------------------------------------------------------

_svc = []


def svc():
    """zeep on the served WSDL, bound by the contract's names (strict)."""
    if not _svc:
        transport = zeep.Transport(timeout=30, operation_timeout=30)
        c = zeep.Client("http://%s:%d%s/serviceV3.wsdl" % (HOST, PORT, ENDPOINT_PATH),
                        transport=transport, settings=zeep.Settings(strict=True))
        _svc.append(c.bind("PowerAuthPortV3Service", "PowerAuthPortV3Soap11"))
    return _svc[0]


def fault(error, fn, *args, **kw):
    """Calls a zeep operation that must fail with the Server fault `error`
    (one code or a tuple of accepted codes); returns the code received."""
    try:
        r = fn(*args, **kw)
    except zeep.exceptions.Fault as f:
        assert (f.code or "").split(":")[-1] == "Server", "faultcode %r" % f.code
        assert f.detail is not None, "fault without detail: %s" % f.message
        ec_ = f.detail.find("errorCode")
        got = ec_.text if ec_ is not None else None
        want = error if isinstance(error, tuple) else (error,)
        assert got in want, "errorCode %r (%s), expected %s" % (
            got, f.message, "/".join(want))
        lm = f.detail.find("localizedMessage")
        assert lm is not None and lm.text == english(got), \
            "localizedMessage %r" % (None if lm is None else lm.text)
        assert f.message == english(got), "faultstring %r" % f.message
        return got
    raise AssertionError("expected fault %s, got an answer: %r" % (error, r))


def ms(dt):
    assert isinstance(dt, datetime.datetime) and dt.tzinfo is not None, dt
    d = dt - EPOCH
    return d.days * 86400000 + d.seconds * 1000 + d.microseconds // 1000


def dt_ms(v):
    return EPOCH + datetime.timedelta(milliseconds=v)


def now_ms():
    return int(time.time() * 1000)


def b64(b):
    if isinstance(b, str):
        b = b.encode("utf-8")
    return base64.b64encode(b).decode("ascii")


# --- the database (read-only) ---------------------------------------------------------

def q(sql, *args):
    c = sqlite3.connect("file:%s?mode=ro" % DB, uri=True, timeout=10)
    c.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in c.execute(sql, args).fetchall()]
    finally:
        c.close()


def row(aid):
    r = q("SELECT * FROM pa_activation WHERE activation_id = ?", aid)
    assert len(r) == 1, "activation %s: %d rows" % (aid, len(r))
    return r[0]


def hist(aid):
    return [(x["activation_status"], x["event_reason"], x["external_user_id"])
            for x in q("SELECT * FROM pa_activation_history "
                       "WHERE activation_id = ? ORDER BY id", aid)]


def audits(aid):
    return q("SELECT * FROM pa_signature_audit WHERE activation_id = ? "
             "ORDER BY id", aid)


def audit_total():
    return q("SELECT COUNT(*) AS n FROM pa_signature_audit")[0]["n"]


def tokens_of(aid):
    return q("SELECT * FROM pa_token WHERE activation_id = ? ORDER BY token_id", aid)


def token_row(tid):
    r = q("SELECT * FROM pa_token WHERE token_id = ?", tid)
    return r[0] if r else None


def info_of(text):
    """additional_info (DATABASE.md 3): {"entry":[{"key":K,"value":V},...]}
    as [(K, V), ...]; NULL or empty reads as no entries."""
    if text is None or text == "":
        return []
    d = json.loads(text)
    assert isinstance(d, dict) and list(d) == ["entry"], \
        "additional_info %r is not {\"entry\":[...]}" % text
    out = []
    for e in d["entry"]:
        assert set(e) == {"key", "value"}, "additional_info entry %r" % e
        out.append((e["key"], e["value"]))
    return out


class Snap:
    """The activation row, its history, audit rows and tokens, to prove that
    a step changed nothing."""

    def __init__(self, aid):
        self.aid = aid
        self.state = (row(aid), hist(aid), audits(aid), tokens_of(aid))
        self.total = audit_total()

    def same(self, what, allow_last_used=False):
        r, h, a, t = (row(self.aid), hist(self.aid), audits(self.aid),
                      tokens_of(self.aid))
        r0 = dict(self.state[0])
        if allow_last_used:
            r0["timestamp_last_used"] = r["timestamp_last_used"]
        if r != r0:
            diff = {k: (r0[k], r[k]) for k in r if r0[k] != r[k]}
            raise AssertionError("%s changed the activation: %r" % (what, diff))
        assert h == self.state[1], "%s wrote history: %r" % (what, h[len(self.state[1]):])
        assert a == self.state[2], "%s wrote audit rows: %r" % (
            what, a[len(self.state[2]):])
        assert t == self.state[3], "%s changed tokens" % what
        assert audit_total() == self.total, "%s wrote an audit row elsewhere" % what


# --- crypto helpers (CRYPTO.md 2, 3, 5, 8) ------------------------------------------------

def reduce16(b):
    assert len(b) == 32
    return bytes(b[i] ^ b[i + 16] for i in range(16))


def hm(k, m):
    return hmac.new(k, m, hashlib.sha256).digest()


def next_ctr(ctr_b64, n=1):
    """NEXT^n (8.3) of a Base64 ctr_data."""
    h = base64.b64decode(ctr_b64)
    for _ in range(n):
        h = reduce16(hashlib.sha256(h).digest())
    return b64(h)


def aes_block(k, blk):
    e = Cipher(algorithms.AES(k), modes.ECB()).encryptor()
    return e.update(blk) + e.finalize()


def kdf_n(k, n):
    return aes_block(k, n.to_bytes(16, "big"))


def pkcs7(m):
    p = 16 - len(m) % 16
    return m + bytes([p]) * p


def unpkcs7(m):
    assert m and len(m) % 16 == 0, "ciphertext of %d bytes" % len(m)
    p = m[-1]
    assert 1 <= p <= 16 and m[-p:] == bytes([p]) * p, "bad PKCS#7 padding"
    return m[:-p]


def cbc(k, iv, m, enc):
    c = Cipher(algorithms.AES(k), modes.CBC(iv))
    x = c.encryptor() if enc else c.decryptor()
    return x.update(m) + x.finalize()


def priv_of(b64_bigint):
    return ec.derive_private_key(int.from_bytes(base64.b64decode(b64_bigint), "big"),
                                 ec.SECP256R1())


def pub_of(b64_point):
    return ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), base64.b64decode(b64_point))


def ecdsa_ok(pub_b64, msg, sig):
    try:
        pub_of(pub_b64).verify(sig, msg, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


def master_secret(state):
    """KEY_MASTER_SECRET = ECDH16(device private, server public) (3.1)."""
    z = priv_of(state["devicePrivateKey"]).exchange(ec.ECDH(),
                                                   pub_of(state["serverPublicKey"]))
    return reduce16(z)


def py_signature(state, secret, data_string, stype, ctr_b64, fmt):
    """An online signature computed here (8.1, 8.4, 8.5) for one counter."""
    kms = master_secret(state)
    keys = [kdf_n(kms, n) for n in KEYS_OF[stype]]
    ctr = base64.b64decode(ctr_b64)
    data = (data_string + "&" + secret).encode("utf-8")
    comps = []
    for i in range(len(keys)):
        t = hm(keys[i], ctr)
        for j in range(i):
            t = hm(hm(keys[j + 1], ctr), t)
        comps.append(hm(t, data))
    if fmt == "DECIMAL":
        return "-".join("%08d" % ((int.from_bytes(c[28:32], "big") & 0x7FFFFFFF)
                                  % 100000000) for c in comps)
    return b64(b"".join(c[16:32] for c in comps))


# --- padevice ---------------------------------------------------------------------------

WORK = tempfile.mkdtemp(prefix="pa-sig-")


class Device:
    n = 0

    def __init__(self, app, protocol="3.1"):
        Device.n += 1
        self.state_path = os.path.join(WORK, "dev%d.json" % Device.n)
        self.app = app
        self.protocol = protocol
        out = self.run("init", application_key=app.key,
                       application_secret=app.secret,
                       master_public_key=app.master, protocol=protocol)
        assert out.get("protocol") == protocol, out

    def run(self, cmd, rc=0, **opts):
        args = [PADEVICE, cmd, "--state", self.state_path]
        for k, v in opts.items():
            if v is None or v is False:
                continue
            args.append("--" + k.replace("_", "-"))
            if v is not True:
                args.append(str(v))
        p = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert p.returncode == rc, "padevice %s exit %d (expected %d): %s %s" % (
            cmd, p.returncode, rc, p.stderr.strip(), p.stdout.strip())
        return json.loads(p.stdout) if p.stdout.strip() else {}

    def state(self):
        with open(self.state_path) as f:
            return json.load(f)


# --- fixtures ---------------------------------------------------------------------------

class App:
    def __init__(self, name):
        r = svc().CreateApplication(applicationName=name)
        self.id = r.applicationId
        self.name = name
        d = svc().GetApplicationDetail(applicationId=self.id)
        self.master = d.masterPublicKey
        v = d.versions[0]
        self.key, self.secret = v.applicationKey, v.applicationSecret


APPS = {}


def app1():
    return APPS["a1"]


def app2():
    return APPS["a2"]


_uid = [0]


def uid(what):
    _uid[0] += 1
    return "%s-%s-%d" % (TAG, what, _uid[0])


class Act:
    """An ACTIVE activation with its phone."""

    def __init__(self, app=None, protocol="3.1", user=None, max_fail=None):
        app = app or app1()
        self.app, self.protocol = app, protocol
        self.user = user or uid("u")
        s = svc()
        r = s.InitActivation(userId=self.user, applicationId=app.id,
                             maxFailureCount=max_fail)
        self.id = r.activationId
        self.max = max_fail or 5
        self.dev = Device(app, protocol)
        req = self.dev.run("prepare-activation", activation_code=r.activationCode,
                           platform="ios")
        p = s.PrepareActivation(activationCode=req["activationCode"],
                                applicationKey=req["applicationKey"],
                                ephemeralPublicKey=req["ephemeralPublicKey"],
                                encryptedData=req["encryptedData"], mac=req["mac"],
                                nonce=req.get("nonce"))
        assert p.activationStatus == "PENDING_COMMIT", p.activationStatus
        ar = self.dev.run("activation-response", encrypted_data=p.encryptedData,
                          mac=p.mac)
        assert ar["activationId"] == self.id, ar
        c = s.CommitActivation(activationId=self.id)
        assert c.activated is True
        x = row(self.id)
        assert x["activation_status"] == ACTIVE and x["version"] == 3, x
        assert x["counter"] == 0 and x["failed_attempts"] == 0
        assert x["ctr_data"] == self.dev.state()["ctrData"], \
            "ctr_data differs from the phone's after the key exchange"
        assert x["server_private_key_encryption"] == (1 if ENC_KEY else 0), \
            "server_private_key_encryption %r" % x["server_private_key_encryption"]
        self.hist = hist(self.id)

    @property
    def fmt(self):
        return "BASE64" if self.protocol == "3.1" else "DECIMAL"

    def sign(self, stype="possession_knowledge", body="hello", uri="/pa/signature/validate",
             method="POST", no_advance=False, nonce=None):
        sg = self.dev.run("sign", method=method, uri_id=uri, body=body,
                          signature_type=stype, no_advance=no_advance, nonce=nonce)
        assert sg["signatureVersion"] == self.protocol, sg
        assert sg["signatureType"] == stype.upper(), sg
        check_format(sg["signature"], stype.upper(), self.fmt)
        return sg

    def verify(self, sg, **override):
        f = dict(activationId=self.id, applicationKey=self.app.key, data=sg["data"],
                 signature=sg["signature"], signatureType=sg["signatureType"],
                 signatureVersion=sg["signatureVersion"])
        f.update(override)
        return svc().VerifySignature(**f)

    def expect_hist(self, *rows):
        self.hist.extend(rows)
        h = hist(self.id)
        assert h == self.hist, "history of %s:\n  got  %r\n  want %r" % (
            self.id, h, self.hist)


def check_format(sig, stype, fmt):
    k = NCOMP[stype]
    if fmt == "DECIMAL":
        assert DECIMAL_RE[k].match(sig), "DECIMAL %s signature %r" % (stype, sig)
    else:
        assert len(sig) == B64LEN[k] and len(b64_bytes(sig)) == 16 * k, \
            "BASE64 %s signature %r" % (stype, sig)


def alter(sig):
    """The signature with its last component changed (a wrong PIN for a
    knowledge-bearing type, a wrong key for possession only)."""
    if re.match(r"^[\d-]+$", sig):
        d = sig[-1]
        return sig[:-1] + str((int(d) + 1) % 10)
    b = bytearray(base64.b64decode(sig))
    b[-1] ^= 0x01
    return b64(bytes(b))


def other_body(data, body="tampered"):
    """The dataString with another body (wrong data)."""
    return data.rsplit("&", 1)[0] + "&" + b64(body)


# --- audit rows (DATABASE.md 5.2) -----------------------------------------------------------

def check_audit(a, n_before, t0, t1, data_text, signature, stype, sver, valid, note,
                version=3, info=()):
    """Exactly one new audit row for a, every field as 5.2 says; the
    counter/ctr_data/status columns equal the activation row after the
    attempt."""
    rows = audits(a.id)
    assert len(rows) == n_before + 1, "%d new audit rows, expected 1" % (
        len(rows) - n_before)
    r = rows[-1]
    x = row(a.id)
    assert r["activation_counter"] == x["counter"], \
        "audit counter %r, activation %r" % (r["activation_counter"], x["counter"])
    assert r["activation_ctr_data"] == x["ctr_data"], \
        "audit ctr_data %r, activation %r" % (r["activation_ctr_data"], x["ctr_data"])
    assert r["activation_status"] == x["activation_status"], \
        "audit status %r, activation %r" % (r["activation_status"],
                                            x["activation_status"])
    want_b64 = b64(data_text)
    assert r["data_base64"] == want_b64, \
        "data_base64 decodes to %r, expected %r" % (
            base64.b64decode(r["data_base64"] or ""), data_text)
    assert r["signature"] == signature, (r["signature"], signature)
    assert r["signature_type"] == stype, (r["signature_type"], stype)
    assert r["signature_version"] == sver, (r["signature_version"], sver)
    assert bool(r["valid"]) == valid and r["valid"] in (0, 1), r["valid"]
    assert r["note"] == note, (r["note"], note)
    assert r["version"] == version, (r["version"], version)
    alts = info if isinstance(info, tuple) and info and isinstance(info[0], list) \
        else (list(info),)
    assert info_of(r["additional_info"]) in alts, \
        "additional_info %r, expected %s" % (r["additional_info"],
                                             " or ".join(map(repr, alts)))
    assert t0 - 5 <= r["timestamp_created"] <= t1 + 5, \
        "audit time %r not within the call %d..%d" % (r["timestamp_created"], t0, t1)
    assert t0 - 5 <= x["timestamp_last_used"] <= t1 + 5, \
        "timestamp_last_used %r not within the call %d..%d" % (
            x["timestamp_last_used"], t0, t1)
    return r


def check_valid_response(a, r, stype):
    assert r.signatureValid is True, "signature not valid: %r" % r
    assert r.activationStatus == "ACTIVE" and r.blockedReason is None, r
    assert r.activationId == a.id and r.userId == a.user, r
    assert r.applicationId == a.app.id and r.signatureType == stype, r
    assert r.remainingAttempts == a.max, r


def check_invalid_response(a, r, stype, failed, status="ACTIVE", reason=None):
    assert r.signatureValid is False, r
    assert r.activationStatus == status and r.blockedReason == reason, r
    assert r.activationId == a.id and r.userId == a.user, r
    assert r.applicationId == a.app.id and r.signatureType == stype, r
    assert r.remainingAttempts == a.max - failed, \
        "remainingAttempts %r, expected %d" % (r.remainingAttempts, a.max - failed)


def check_bare_response(r, status):
    """8.7 steps 3/4: signatureValid=false and the activationStatus only."""
    assert r.signatureValid is False and r.activationStatus == status, r
    extra = {k: getattr(r, k) for k in ("blockedReason", "activationId", "userId",
                                         "applicationId", "signatureType",
                                         "remainingAttempts")
             if getattr(r, k) is not None}
    assert not extra, "fields beyond signatureValid/activationStatus: %r" % extra


def status_check(a):
    """The status blob with a challenge (CRYPTO.md 7.1, 7.5) tells the
    counter byte, the failures and the hash of the stored ctr_data; the
    phone, in step with the server, finds it at distance 0."""
    x = row(a.id)
    ch = a.dev.run("status-challenge")["challenge"]
    st = svc().GetActivationStatus(activationId=a.id, challenge=ch)
    d = a.dev.run("status-decrypt", encrypted_status_blob=st.encryptedStatusBlob,
                  encrypted_status_blob_nonce=st.encryptedStatusBlobNonce)
    assert d["activationStatus"] in (STATUS[x["activation_status"]],
                                     x["activation_status"]), d
    assert d["ctrByte"] == x["counter"] & 0xFF, (d, x["counter"])
    assert d["failedAttempts"] == x["failed_attempts"], (d, x["failed_attempts"])
    assert d["maxFailedAttempts"] == x["max_failed_attempts"], d
    assert d["ctrLookAhead"] == LOOKAHEAD, d
    assert d["ctrDataHashMatches"] is True and d["ctrDataDistance"] == 0, d


def valid_sign(a, stype="POSSESSION_KNOWLEDGE", body="hello"):
    """One signature that must verify; checks counter, ctr_data, failed
    attempts, the response and the audit row."""
    x0 = row(a.id)
    n = len(audits(a.id))
    sg = a.sign(stype.lower(), body=body)
    t0 = now_ms()
    r = a.verify(sg)
    t1 = now_ms()
    check_valid_response(a, r, stype)
    x = row(a.id)
    assert x["counter"] == x0["counter"] + 1, (x0["counter"], x["counter"])
    assert x["ctr_data"] == next_ctr(x0["ctr_data"]), "ctr_data not one step on"
    assert x["ctr_data"] == a.dev.state()["ctrData"], "ctr_data differs from the phone's"
    want_failed = x0["failed_attempts"] if stype == "POSSESSION" else 0
    assert x["failed_attempts"] == want_failed, (x["failed_attempts"], want_failed)
    check_audit(a, n, t0, t1, sg["data"] + "&" + a.app.secret, sg["signature"],
                stype, a.protocol, True, "signature_ok")
    return sg


# --- SignatureAudit over SOAP (raw, every element) --------------------------------------

def soap_audit(user, app_id=None, frm=None, to=None):
    fields = [("userId", user), ("applicationId", app_id),
              ("timestampFrom", frm or "1970-01-01T00:00:00Z"),
              ("timestampTo", to or "2999-01-01T00:00:00Z")]
    a = call_raw("SignatureAudit", fields)
    assert a.status == 200, a.describe()
    resp = a.response("SignatureAudit")
    assert resp is not None, a.describe()
    out = []
    names = ["id", "userId", "applicationId", "activationId", "activationCounter",
             "activationCtrData", "activationStatus", "additionalInfo", "dataBase64",
             "signatureVersion", "signatureType", "signature", "note", "valid",
             "version", "timestampCreated"]
    for it in resp:
        assert it.tag == "{%s}items" % V3_NS, it.tag
        d = {}
        order = []
        for c in it:
            name = c.tag.split("}")[-1]
            assert c.tag == "{%s}%s" % (V3_NS, name), c.tag
            order.append(name)
            if name == "additionalInfo":
                ents = []
                for e in c:
                    assert e.tag == "{%s}entry" % V3_NS, e.tag
                    k = e.find("{%s}key" % V3_NS)
                    v = e.find("{%s}value" % V3_NS)
                    ents.append((k.text or "", v.text or ""))
                d[name] = ents
            else:
                d[name] = c.text or ""
        assert order == [n for n in names if n in order], "element order %r" % order
        for n in ("id", "userId", "applicationId", "activationId", "activationCounter",
                  "signatureType", "signature", "note", "valid", "version",
                  "timestampCreated"):
            assert n in d, "item without <%s>: %r" % (n, order)
        assert "additionalInfo" in d, \
            "item without <additionalInfo> (DATABASE.md 3: always returned)"
        out.append(d)
    return out


def parse_xs_datetime(s):
    m = re.match(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$", s)
    assert m, "not an xs:dateTime with zone: %r" % s
    base = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
    frac = int(round(float(m.group(2) or "0") * 1000))
    z = m.group(3)
    off = 0 if z == "Z" else (1 if z[0] == "+" else -1) * (
        int(z[1:3]) * 60 + int(z[4:6]))
    t = base.replace(tzinfo=datetime.timezone.utc) - datetime.timedelta(minutes=off)
    return ms(t) + frac


def db_audit_for(user, app_id=None, lo=0, hi=10 ** 15):
    sql = ("SELECT s.*, a.user_id, a.application_id FROM pa_signature_audit s "
           "JOIN pa_activation a ON a.activation_id = s.activation_id "
           "WHERE a.user_id = ? AND s.timestamp_created BETWEEN ? AND ?")
    args = [user, lo, hi]
    if app_id is not None:
        sql += " AND a.application_id = ?"
        args.append(app_id)
    rows = q(sql, *args)
    return sorted(rows, key=lambda r: (r["timestamp_created"], r["id"]), reverse=True)


def compare_soap_db(items, rows):
    assert [int(i["id"]) for i in items] == [r["id"] for r in rows], \
        "SignatureAudit ids %r, database (newest first) %r" % (
            [i["id"] for i in items], [r["id"] for r in rows])
    for i, r in zip(items, rows):
        assert i["userId"] == r["user_id"]
        assert int(i["applicationId"]) == r["application_id"]
        assert i["activationId"] == r["activation_id"]
        assert int(i["activationCounter"]) == r["activation_counter"]
        assert i.get("activationCtrData") == r["activation_ctr_data"]
        assert i.get("activationStatus") == STATUS[r["activation_status"]]
        assert i["additionalInfo"] == info_of(r["additional_info"]), \
            (i["additionalInfo"], r["additional_info"])
        assert i.get("dataBase64") == r["data_base64"]
        assert i.get("signatureVersion") == r["signature_version"], \
            (i.get("signatureVersion"), r["signature_version"])
        assert i["signatureType"] == r["signature_type"]
        assert i["signature"] == r["signature"] and i["note"] == r["note"]
        assert i["valid"] == ("true" if r["valid"] else "false"), i["valid"]
        assert int(i["version"]) == r["version"]
        assert parse_xs_datetime(i["timestampCreated"]) == r["timestamp_created"], \
            (i["timestampCreated"], r["timestamp_created"])


# --- setup ---------------------------------------------------------------------------

@T.test
def setup():
    assert DB and os.path.exists(DB), "PA_ITEST_DB %r does not exist" % DB
    assert PADEVICE and os.access(PADEVICE, os.X_OK), "PADEVICE %r" % PADEVICE
    APPS["a1"] = App("%s-app-1" % TAG)
    APPS["a2"] = App("%s-app-2" % TAG)
    assert app2().id != app1().id


# --- online signatures (CRYPTO.md 8) ----------------------------------------------------

def every_type(protocol):
    a = Act(protocol=protocol)
    hist0 = hist(a.id)
    for stype in TYPES:
        valid_sign(a, stype)
    # GET with a query: the canonical query string is the body part (8.1)
    sg = a.dev.run("sign", method="GET", uri_id="/pa/x", query="b=2&a=x%20y&a=1&c",
                   signature_type="possession")
    assert sg["data"].endswith("&" + b64("a=1&a=x+y&b=2")), sg["data"]
    check_valid_response(a, a.verify(sg), "POSSESSION")
    # an empty body: dataString ends with "&"
    sg = a.sign("knowledge", body="")
    assert sg["data"].endswith("&"), sg["data"]
    check_valid_response(a, a.verify(sg), "KNOWLEDGE")
    assert hist(a.id) == hist0, "signature successes wrote history (5.1)"


@T.test
def every_type_protocol_30():
    every_type("3.0")


@T.test
def every_type_protocol_31():
    every_type("3.1")


@T.test
def signatures_match_crypto_md():
    # the phone's signatures equal the ones computed here from 8.1-8.5
    for protocol in PROTOCOLS:
        a = Act(protocol=protocol)
        for stype in TYPES:
            st = a.dev.state()
            sg = a.sign(stype.lower(), body='{"x":1}', no_advance=True)
            mine = py_signature(st, a.app.secret, sg["data"], stype, st["ctrData"],
                                a.fmt)
            assert sg["signature"] == mine, "%s %s: padevice %r, CRYPTO.md %r" % (
                protocol, stype, sg["signature"], mine)
        valid_sign(a, "POSSESSION_KNOWLEDGE", body='{"x":1}')


def replay(protocol):
    a = Act(protocol=protocol)
    sg = valid_sign(a, "POSSESSION_KNOWLEDGE")
    x0 = row(a.id)
    n = len(audits(a.id))
    t0 = now_ms()
    r = a.verify(sg)
    t1 = now_ms()
    check_invalid_response(a, r, "POSSESSION_KNOWLEDGE", 1)
    x = row(a.id)
    assert x["counter"] == x0["counter"] and x["ctr_data"] == x0["ctr_data"]
    assert x["failed_attempts"] == 1
    check_audit(a, n, t0, t1, sg["data"] + "&" + a.app.secret, sg["signature"],
                "POSSESSION_KNOWLEDGE", protocol, False, "signature_does_not_match")
    # the next signature still works and resets the failures
    valid_sign(a, "POSSESSION_KNOWLEDGE")
    assert row(a.id)["failed_attempts"] == 0


@T.test
def replay_rejected_30():
    replay("3.0")


@T.test
def replay_rejected_31():
    replay("3.1")


def lookahead(protocol):
    a = Act(protocol=protocol)
    valid_sign(a)
    x0 = row(a.id)
    for _ in range(5):
        a.sign("possession_knowledge")              # made, never sent
    sg = a.sign("possession_knowledge")
    n = len(audits(a.id))
    t0 = now_ms()
    r = a.verify(sg)
    t1 = now_ms()
    check_valid_response(a, r, "POSSESSION_KNOWLEDGE")
    x = row(a.id)
    assert x["counter"] == x0["counter"] + 6, (x0["counter"], x["counter"])
    assert x["ctr_data"] == next_ctr(x0["ctr_data"], 6), "ctr_data not six steps on"
    assert x["ctr_data"] == a.dev.state()["ctrData"]
    check_audit(a, n, t0, t1, sg["data"] + "&" + a.app.secret, sg["signature"],
                "POSSESSION_KNOWLEDGE", protocol, True, "signature_ok")
    status_check(a)
    # the window's last position, c + LOOKAHEAD - 1, is valid
    c0 = row(a.id)
    for _ in range(LOOKAHEAD - 1):
        a.sign("possession")
    sg = a.sign("possession")
    check_valid_response(a, a.verify(sg), "POSSESSION")
    x = row(a.id)
    assert x["counter"] == c0["counter"] + LOOKAHEAD
    assert x["ctr_data"] == next_ctr(c0["ctr_data"], LOOKAHEAD)
    # c + LOOKAHEAD is outside: invalid, nothing moves, a failure counts
    c1 = row(a.id)
    for _ in range(LOOKAHEAD):
        a.sign("possession_knowledge")
    sg = a.sign("possession_knowledge")
    n = len(audits(a.id))
    t0 = now_ms()
    r = a.verify(sg)
    t1 = now_ms()
    check_invalid_response(a, r, "POSSESSION_KNOWLEDGE", 1)
    x = row(a.id)
    assert x["counter"] == c1["counter"] and x["ctr_data"] == c1["ctr_data"]
    assert x["failed_attempts"] == 1
    check_audit(a, n, t0, t1, sg["data"] + "&" + a.app.secret, sg["signature"],
                "POSSESSION_KNOWLEDGE", protocol, False, "signature_does_not_match")


@T.test
def lookahead_30():
    lookahead("3.0")


@T.test
def lookahead_31():
    lookahead("3.1")


def wrong_data(protocol):
    a = Act(protocol=protocol, max_fail=6)
    failed = 0
    for stype in ("POSSESSION_KNOWLEDGE", "KNOWLEDGE", "POSSESSION_KNOWLEDGE_BIOMETRY",
                  "BIOMETRY"):
        sg = a.sign(stype.lower(), no_advance=True)
        x0 = row(a.id)
        n = len(audits(a.id))
        data = other_body(sg["data"])
        t0 = now_ms()
        r = a.verify(sg, data=data)
        t1 = now_ms()
        failed += 1
        check_invalid_response(a, r, stype, failed)
        x = row(a.id)
        assert x["failed_attempts"] == failed, (x["failed_attempts"], failed)
        assert x["counter"] == x0["counter"] and x["ctr_data"] == x0["ctr_data"]
        check_audit(a, n, t0, t1, data + "&" + a.app.secret, sg["signature"], stype,
                    protocol, False, "signature_does_not_match")
    # data is opaque text: non-ASCII goes into the audit as UTF-8 (8.1)
    sg = a.sign("knowledge", no_advance=True)
    data = sg["data"] + "\u017elu\u0165ou\u010dk\u00fd k\u016f\u0148"
    n = len(audits(a.id))
    t0 = now_ms()
    r = a.verify(sg, data=data)
    t1 = now_ms()
    failed += 1
    check_invalid_response(a, r, "KNOWLEDGE", failed)
    check_audit(a, n, t0, t1, data + "&" + a.app.secret, sg["signature"], "KNOWLEDGE",
                protocol, False, "signature_does_not_match")
    # the same signature with its own data still verifies (nothing moved)
    valid_sign(a, "KNOWLEDGE")
    assert row(a.id)["failed_attempts"] == 0


@T.test
def wrong_data_counts_30():
    wrong_data("3.0")


@T.test
def wrong_data_counts_31():
    wrong_data("3.1")


@T.test
def possession_failures_and_successes():
    # CRYPTO.md 8.7 consequences
    for protocol in PROTOCOLS:
        a = Act(protocol=protocol)
        for k in (1, 2):
            sg = a.sign("possession_knowledge", no_advance=True)
            r = a.verify(sg, signature=alter(sg["signature"]))
            check_invalid_response(a, r, "POSSESSION_KNOWLEDGE", k)
        assert row(a.id)["failed_attempts"] == 2
        # possession-only failure: not counted, remainingAttempts unchanged
        for _ in range(3):
            sg = a.sign("possession", no_advance=True)
            n = len(audits(a.id))
            x0 = row(a.id)
            t0 = now_ms()
            r = a.verify(sg, signature=alter(sg["signature"]))
            t1 = now_ms()
            check_invalid_response(a, r, "POSSESSION", 2)
            x = row(a.id)
            assert x["failed_attempts"] == 2, x["failed_attempts"]
            assert x["counter"] == x0["counter"]
            check_audit(a, n, t0, t1, sg["data"] + "&" + a.app.secret,
                        alter(sg["signature"]), "POSSESSION", protocol, False,
                        "signature_does_not_match")
        # possession-only success: no reset
        valid_sign(a, "POSSESSION")
        assert row(a.id)["failed_attempts"] == 2
        # biometry-only success resets (not POSSESSION)
        valid_sign(a, "BIOMETRY")
        assert row(a.id)["failed_attempts"] == 0


@T.test
def possession_failure_blocks_at_the_limit():
    # 8.7: the blocking check runs for every type; failed_attempts at the
    # maximum after UpdateStatusForActivations BLOCKED -> ACTIVE
    s = svc()
    a = Act(protocol="3.0", max_fail=2)
    for k in (1, 2):
        sg = a.sign("knowledge", no_advance=True)
        r = a.verify(sg, signature=alter(sg["signature"]))
    check_invalid_response(a, r, "KNOWLEDGE", 2, "BLOCKED", "MAX_FAILED_ATTEMPTS")
    a.expect_hist((BLOCKED, "MAX_FAILED_ATTEMPTS", None))
    assert s.UpdateStatusForActivations(activationIds=[a.id],
                                        activationStatus="ACTIVE") is True
    a.expect_hist((ACTIVE, None, None))
    x = row(a.id)
    assert x["failed_attempts"] == 2 and x["activation_status"] == ACTIVE
    # a valid possession signature: valid, count kept
    valid_sign(a, "POSSESSION")
    assert row(a.id)["failed_attempts"] == 2
    # a failed possession signature: blocks, count kept at 2
    sg = a.sign("possession", no_advance=True)
    n = len(audits(a.id))
    t0 = now_ms()
    r = a.verify(sg, signature=alter(sg["signature"]))
    t1 = now_ms()
    check_invalid_response(a, r, "POSSESSION", 2, "BLOCKED", "MAX_FAILED_ATTEMPTS")
    x = row(a.id)
    assert x["failed_attempts"] == 2 and x["activation_status"] == BLOCKED
    assert x["blocked_reason"] == "MAX_FAILED_ATTEMPTS"
    a.expect_hist((BLOCKED, "MAX_FAILED_ATTEMPTS", None))
    check_audit(a, n, t0, t1, sg["data"] + "&" + a.app.secret, alter(sg["signature"]),
                "POSSESSION", "3.0", False, "signature_does_not_match",
                info=[("BLOCKED_REASON", "MAX_FAILED_ATTEMPTS")])


def wrong_pin_until_blocked(protocol):
    s = svc()
    a = Act(protocol=protocol)
    types = ["POSSESSION_KNOWLEDGE", "KNOWLEDGE", "POSSESSION_KNOWLEDGE_BIOMETRY",
             "POSSESSION_KNOWLEDGE", "POSSESSION_KNOWLEDGE"]
    for k, stype in enumerate(types, 1):
        sg = a.sign(stype.lower(), no_advance=True)
        bad = alter(sg["signature"])
        n = len(audits(a.id))
        x0 = row(a.id)
        t0 = now_ms()
        r = a.verify(sg, signature=bad)
        t1 = now_ms()
        x = row(a.id)
        assert x["failed_attempts"] == k and x["counter"] == x0["counter"]
        if k < 5:
            check_invalid_response(a, r, stype, k)
            if k == 3:
                status_check(a)
            assert x["activation_status"] == ACTIVE and x["blocked_reason"] is None
            a.expect_hist()
            info = []
        else:
            check_invalid_response(a, r, stype, 5, "BLOCKED", "MAX_FAILED_ATTEMPTS")
            assert x["activation_status"] == BLOCKED
            assert x["blocked_reason"] == "MAX_FAILED_ATTEMPTS"
            a.expect_hist((BLOCKED, "MAX_FAILED_ATTEMPTS", None))
            info = [("BLOCKED_REASON", "MAX_FAILED_ATTEMPTS")]
        check_audit(a, n, t0, t1, sg["data"] + "&" + a.app.secret, bad, stype,
                    protocol, False, "signature_does_not_match", info=info)
    # BLOCKED: a correct signature is refused, nothing counted (8.7 step 4)
    sg = a.sign("possession_knowledge", no_advance=True)
    x0 = row(a.id)
    n = len(audits(a.id))
    t0 = now_ms()
    r = a.verify(sg)
    t1 = now_ms()
    check_bare_response(r, "BLOCKED")
    x = row(a.id)
    for k in ("counter", "ctr_data", "failed_attempts", "activation_status",
              "blocked_reason"):
        assert x[k] == x0[k], (k, x0[k], x[k])
    check_audit(a, n, t0, t1, sg["data"] + "&" + a.app.secret, sg["signature"],
                "POSSESSION_KNOWLEDGE", protocol, False, "activation_invalid_state")
    a.expect_hist()
    # GetActivationStatus tells the same
    st = svc().GetActivationStatus(activationId=a.id)
    assert st.activationStatus == "BLOCKED"
    # UnblockActivation: ACTIVE, failures 0; the phone's next signature works
    u = s.UnblockActivation(activationId=a.id)
    assert u.activationStatus == "ACTIVE"
    a.expect_hist((ACTIVE, None, None))
    x = row(a.id)
    assert x["failed_attempts"] == 0 and x["blocked_reason"] is None
    valid_sign(a, "POSSESSION_KNOWLEDGE")


@T.test
def wrong_pin_until_blocked_30():
    wrong_pin_until_blocked("3.0")


@T.test
def wrong_pin_until_blocked_31():
    wrong_pin_until_blocked("3.1")


@T.test
def wrong_application_key():
    s = svc()
    for protocol in PROTOCOLS:
        a = Act(protocol=protocol, max_fail=4)
        v = s.CreateApplicationVersion(applicationId=a.app.id,
                                       applicationVersionName="%s-uns-%s" % (TAG, protocol))
        s.UnsupportApplicationVersion(applicationVersionId=v.applicationVersionId)
        cases = [(app2().key, "POSSESSION_KNOWLEDGE", 1),     # another application's
                 (b64(os.urandom(16)), "KNOWLEDGE", 2),         # unknown key
                 (v.applicationKey, "POSSESSION_BIOMETRY", 3),  # unsupported version
                 (app2().key, "POSSESSION", 3)]                 # possession: not counted
        for key, stype, failed in cases:
            sg = a.sign(stype.lower(), no_advance=True)
            x0 = row(a.id)
            n = len(audits(a.id))
            t0 = now_ms()
            r = a.verify(sg, applicationKey=key)
            t1 = now_ms()
            check_bare_response(r, "ACTIVE")
            x = row(a.id)
            assert x["failed_attempts"] == failed, (stype, x["failed_attempts"], failed)
            assert x["counter"] == x0["counter"] and x["ctr_data"] == x0["ctr_data"]
            check_audit(a, n, t0, t1, sg["data"] + "&" + key, sg["signature"], stype,
                        protocol, False, "activation_invalid_application")
        a.expect_hist()
        # the fourth counted failure blocks (8.7 step 3)
        sg = a.sign("knowledge", no_advance=True)
        n = len(audits(a.id))
        t0 = now_ms()
        r = a.verify(sg, applicationKey=app2().key)
        t1 = now_ms()
        check_bare_response(r, "BLOCKED")
        x = row(a.id)
        assert x["failed_attempts"] == 4 and x["activation_status"] == BLOCKED
        assert x["blocked_reason"] == "MAX_FAILED_ATTEMPTS"
        a.expect_hist((BLOCKED, "MAX_FAILED_ATTEMPTS", None))
        check_audit(a, n, t0, t1, sg["data"] + "&" + app2().key, sg["signature"],
                    "KNOWLEDGE", protocol, False, "activation_invalid_application",
                    info=[("BLOCKED_REASON", "MAX_FAILED_ATTEMPTS")])
        # on a BLOCKED activation the application check still comes first;
        # possession is not counted, but the blocking check runs for every
        # type (8.7, DATABASE.md 5.6 "same blocking"): failed = max blocks
        # again, with a history row (5.1) and BLOCKED_REASON
        sg = a.sign("possession", no_advance=True)
        n = len(audits(a.id))
        t0 = now_ms()
        r = a.verify(sg, applicationKey=app2().key)
        t1 = now_ms()
        check_bare_response(r, "BLOCKED")
        assert row(a.id)["failed_attempts"] == 4
        a.expect_hist((BLOCKED, "MAX_FAILED_ATTEMPTS", None))
        check_audit(a, n, t0, t1, sg["data"] + "&" + app2().key, sg["signature"],
                    "POSSESSION", protocol, False, "activation_invalid_application",
                    info=[("BLOCKED_REASON", "MAX_FAILED_ATTEMPTS")])


@T.test
def not_active_states():
    s = svc()
    for protocol in PROTOCOLS:
        a = Act(protocol=protocol)
        s.BlockActivation(activationId=a.id, reason="TEST")
        a.expect_hist((BLOCKED, "TEST", None))
        for status, name in ((BLOCKED, "BLOCKED"), (REMOVED, "REMOVED")):
            if status == REMOVED:
                s.RemoveActivation(activationId=a.id)
                a.expect_hist((REMOVED, None, None))
            for stype in ("POSSESSION_KNOWLEDGE", "POSSESSION"):
                sg = a.sign(stype.lower(), no_advance=True)
                x0 = row(a.id)
                n = len(audits(a.id))
                t0 = now_ms()
                r = a.verify(sg)
                t1 = now_ms()
                check_bare_response(r, name)
                x = row(a.id)
                for k in ("counter", "ctr_data", "failed_attempts",
                          "activation_status", "blocked_reason"):
                    assert x[k] == x0[k], (k, x0[k], x[k])
                check_audit(a, n, t0, t1, sg["data"] + "&" + a.app.secret,
                            sg["signature"], stype, protocol, False,
                            "activation_invalid_state")
        assert row(a.id)["blocked_reason"] == "TEST"
        a.expect_hist()
        # a REMOVED activation and another application's key: the
        # application check runs regardless of the state and counts (5.6)
        sg = a.sign("knowledge", no_advance=True)
        n = len(audits(a.id))
        t0 = now_ms()
        r = a.verify(sg, applicationKey=app2().key)
        t1 = now_ms()
        check_bare_response(r, "REMOVED")
        assert row(a.id)["failed_attempts"] == 1
        check_audit(a, n, t0, t1, sg["data"] + "&" + app2().key, sg["signature"],
                    "KNOWLEDGE", protocol, False, "activation_invalid_application")


@T.test
def created_activation():
    # CREATED: the right key is activation_invalid_state, another
    # application's key counts and blocks even from CREATED (DATABASE.md
    # 5.6); the audit version is the activation's, NULL (5.2)
    s = svc()
    user = uid("created")
    c = s.InitActivation(userId=user, applicationId=app1().id, maxFailureCount=2)
    a = Act.__new__(Act)
    a.id, a.app, a.user, a.max, a.protocol = c.activationId, app1(), user, 2, "3.1"
    a.hist = hist(a.id)
    donor = Act()
    sg = donor.sign("possession_knowledge", no_advance=True)
    for key, failed, status, note in ((app1().key, 0, "CREATED", "activation_invalid_state"),
                                      (app2().key, 1, "CREATED",
                                       "activation_invalid_application"),
                                      (app2().key, 2, "BLOCKED",
                                       "activation_invalid_application")):
        n = len(audits(a.id))
        t0 = now_ms()
        r = s.VerifySignature(activationId=a.id, applicationKey=key, data=sg["data"],
                              signature=sg["signature"], signatureType="KNOWLEDGE",
                              signatureVersion="3.1")
        t1 = now_ms()
        check_bare_response(r, status)
        x = row(a.id)
        assert x["failed_attempts"] == failed, (x["failed_attempts"], failed)
        assert x["counter"] == 0 and x["ctr_data"] is None
        tail = app1().secret if note == "activation_invalid_state" else key
        check_audit(a, n, t0, t1, sg["data"] + "&" + tail, sg["signature"], "KNOWLEDGE",
                    "3.1", False, note, version=None,
                    info=[("BLOCKED_REASON", "MAX_FAILED_ATTEMPTS")] if status == "BLOCKED"
                    else [])
    assert row(a.id)["blocked_reason"] == "MAX_FAILED_ATTEMPTS"
    a.expect_hist((BLOCKED, "MAX_FAILED_ATTEMPTS", None))


@T.test
def unknown_activation():
    a = Act()
    sg = a.sign("possession_knowledge", no_advance=True)
    total = audit_total()
    r = svc().VerifySignature(activationId=UNKNOWN_ID, applicationKey=a.app.key,
                              data=sg["data"], signature=sg["signature"],
                              signatureType="POSSESSION_KNOWLEDGE",
                              signatureVersion="3.1")
    check_bare_response(r, "REMOVED")
    assert audit_total() == total, "an audit row for an unknown activation"
    assert not q("SELECT 1 FROM pa_signature_audit WHERE activation_id = ?", UNKNOWN_ID)
    # the unknown activation wins over an unknown version (8.7 step 1 before 2)
    r = svc().VerifySignature(activationId=UNKNOWN_ID, applicationKey=a.app.key,
                              data=sg["data"], signature=sg["signature"],
                              signatureType="POSSESSION_KNOWLEDGE",
                              signatureVersion="1.0")
    check_bare_response(r, "REMOVED")
    assert audit_total() == total


@T.test
def signature_versions():
    # 8.5: the format follows the request's signatureVersion
    a31 = Act(protocol="3.1")
    for ver in ("1.0", "3.10", "abc", "", "3.1.0", "03.x", "2.2", "-4", "3.1 "):
        sg = a31.sign("possession_knowledge", no_advance=True)
        before = Snap(a31.id)
        # an empty element is present (not missing), though ERR0024 is accepted
        fault(("ERR0013", "ERR0024") if ver == "" else "ERR0013", a31.verify, sg,
              signatureVersion=ver)
        before.same("VerifySignature with signatureVersion %r" % ver)
    # greater than 3.1: BASE64
    for ver in ("3.2", "4", "10.0"):
        sg = a31.sign("possession_knowledge")
        n = len(audits(a31.id))
        t0 = now_ms()
        r = a31.verify(sg, signatureVersion=ver)
        t1 = now_ms()
        check_valid_response(a31, r, "POSSESSION_KNOWLEDGE")
        check_audit(a31, n, t0, t1, sg["data"] + "&" + a31.app.secret, sg["signature"],
                    "POSSESSION_KNOWLEDGE", ver, True, "signature_ok")
    # a BASE64 signature announced as 3.0: a DECIMAL comparison, invalid
    sg = a31.sign("possession_knowledge", no_advance=True)
    r = a31.verify(sg, signatureVersion="3.0")
    check_invalid_response(a31, r, "POSSESSION_KNOWLEDGE", 1)
    # DECIMAL signatures of a 3.0 phone announced as 2.0 / 2.1: valid
    a30 = Act(protocol="3.0")
    for ver in ("2.0", "2.1", "3.0"):
        sg = a30.sign("possession_biometry")
        n = len(audits(a30.id))
        t0 = now_ms()
        r = a30.verify(sg, signatureVersion=ver)
        t1 = now_ms()
        check_valid_response(a30, r, "POSSESSION_BIOMETRY")
        check_audit(a30, n, t0, t1, sg["data"] + "&" + a30.app.secret, sg["signature"],
                    "POSSESSION_BIOMETRY", ver, True, "signature_ok")
    sg = a30.sign("possession_biometry", no_advance=True)
    r = a30.verify(sg, signatureVersion="3.1")
    check_invalid_response(a30, r, "POSSESSION_BIOMETRY", 1)


@T.test
def forced_version_has_no_effect_on_v3():
    # 8.8: forcedSignatureVersion only switches protocol-2 activations
    for protocol in PROTOCOLS:
        a = Act(protocol=protocol)
        for forced in (3, 2, 0, 99):
            x0 = row(a.id)
            sg = a.sign("possession_knowledge")
            n = len(audits(a.id))
            t0 = now_ms()
            r = a.verify(sg, forcedSignatureVersion=forced)
            t1 = now_ms()
            check_valid_response(a, r, "POSSESSION_KNOWLEDGE")
            x = row(a.id)
            assert x["counter"] == x0["counter"] + 1
            assert x["ctr_data"] == next_ctr(x0["ctr_data"])
            assert x["version"] == 3
            check_audit(a, n, t0, t1, sg["data"] + "&" + a.app.secret, sg["signature"],
                        "POSSESSION_KNOWLEDGE", protocol, True, "signature_ok", version=3)


@T.test
def signature_type_mismatch():
    # a possession_knowledge signature announced as POSSESSION_BIOMETRY
    a = Act(protocol="3.1")
    sg = a.sign("possession_knowledge", no_advance=True)
    r = a.verify(sg, signatureType="POSSESSION_BIOMETRY")
    check_invalid_response(a, r, "POSSESSION_BIOMETRY", 1)
    r = a.verify(sg)
    check_valid_response(a, r, "POSSESSION_KNOWLEDGE")


# --- SignatureAudit over SOAP (DATABASE.md 5.2, 5.11) ------------------------------------------

@T.test
def signature_audit_soap():
    s = svc()
    user = uid("audit")
    a1 = Act(app1(), "3.1", user=user)
    a2 = Act(app2(), "3.0", user=user)
    other = Act(app1(), "3.1")
    marks = []
    for a in (a1, a2, a1, other, a2):
        time.sleep(0.01)
        marks.append(now_ms())
        valid_sign(a, "POSSESSION_KNOWLEDGE")
        sg = a.sign("knowledge", no_advance=True)
        a.verify(sg, signature=alter(sg["signature"]))
    s.BlockActivation(activationId=a1.id)
    sg = a1.sign("possession", no_advance=True)
    a1.verify(sg)                                   # activation_invalid_state
    a1.verify(sg, applicationKey=app2().key)        # activation_invalid_application
    rows = db_audit_for(user)
    assert len(rows) == 10, "%d audit rows for the user" % len(rows)
    compare_soap_db(soap_audit(user), rows)
    # application filter
    compare_soap_db(soap_audit(user, app1().id), db_audit_for(user, app1().id))
    compare_soap_db(soap_audit(user, app2().id), db_audit_for(user, app2().id))
    assert len(db_audit_for(user, app2().id)) == 4
    assert soap_audit(user, 987654321) == []
    assert soap_audit(uid("nobody")) == []
    # window, inclusive at both ends
    lo, hi = rows[-3]["timestamp_created"], rows[2]["timestamp_created"]
    got = soap_audit(user, None, dt_ms(lo).isoformat(), dt_ms(hi).isoformat())
    compare_soap_db(got, db_audit_for(user, None, lo, hi))
    ids = [int(i["id"]) for i in got]
    assert rows[2]["id"] in ids and rows[-3]["id"] in ids, "window ends not included"
    zone = datetime.timezone(datetime.timedelta(hours=2))
    got = soap_audit(user, app1().id, dt_ms(lo).astimezone(zone).isoformat(),
                     dt_ms(hi).astimezone(zone).isoformat())
    compare_soap_db(got, db_audit_for(user, app1().id, lo, hi))
    assert soap_audit(user, None, dt_ms(hi + 1).isoformat(), dt_ms(lo).isoformat()) == []
    # zeep reads the same answer
    r = s.SignatureAudit(userId=user, applicationId=app2().id,
                         timestampFrom=dt_ms(0), timestampTo=dt_ms(now_ms() + 60000))
    items = r if isinstance(r, list) else list(getattr(r, "items", None) or [])
    assert [i.id for i in items] == [x["id"] for x in db_audit_for(user, app2().id)]
    for i in items:
        assert i.userId == user and i.applicationId == app2().id
        assert i.activationId == a2.id and i.signatureVersion == "3.0"


# --- offline signatures (CRYPTO.md 9) -------------------------------------------------------

def check_payload(offline, nonce, data, indicator, pub_b64):
    """9.1: offlineData = data LF nonce LF indicator B64(SIG); SIG verifies
    with the given key over the text before it."""
    assert len(b64_bytes(nonce)) == 16, nonce
    head = data + "\n" + nonce + "\n" + indicator
    assert offline.startswith(head), "offlineData %r does not start with %r" % (
        offline, head)
    sig = b64_bytes(offline[len(head):])
    assert ecdsa_ok(pub_b64, head.encode("utf-8"), sig), \
        "payload signature does not verify with the %s key" % (
            "master" if indicator == "0" else "server")


def offline_verify(a, sg, allow, expect_valid, expect_type, failed, status="ACTIVE",
                   reason=None, info=()):
    x0 = row(a.id)
    n = len(audits(a.id))
    t0 = now_ms()
    r = svc().VerifyOfflineSignature(activationId=a.id, data=sg["data"],
                                     signature=sg["signature"], allowBiometry=allow)
    t1 = now_ms()
    x = row(a.id)
    assert r.signatureValid is expect_valid, r
    assert r.activationStatus == status and r.blockedReason == reason, r
    assert r.activationId == a.id and r.userId == a.user, r
    assert r.applicationId == a.app.id and r.signatureType == expect_type, r
    assert r.remainingAttempts == a.max - failed, r
    assert x["failed_attempts"] == failed, (x["failed_attempts"], failed)
    if expect_valid:
        assert x["counter"] > x0["counter"]
        assert x["ctr_data"] == a.dev.state()["ctrData"]
    else:
        assert x["counter"] == x0["counter"] and x["ctr_data"] == x0["ctr_data"]
    check_audit(a, n, t0, t1, sg["data"] + "&offline", sg["signature"], expect_type,
                None, expect_valid,
                "signature_ok" if expect_valid else "signature_does_not_match",
                info=info)
    return r


@T.test
def offline_personalized():
    s = svc()
    for protocol in PROTOCOLS:
        a = Act(protocol=protocol)
        data = "A1*R%s\nline two\nThe End" % protocol
        before = Snap(a.id)
        p = s.CreatePersonalizedOfflineSignaturePayload(activationId=a.id, data=data)
        before.same("CreatePersonalizedOfflineSignaturePayload")
        check_payload(p.offlineData, p.nonce, data, "1",
                      row(a.id)["server_public_key_base64"])
        sg = a.dev.run("offline-sign", offline_data=p.offlineData, uri_id="/operation/authorize/offline",
                       body=data)
        assert sg["payloadValid"] is True and sg["nonce"] == p.nonce, sg
        assert DECIMAL_RE[2].match(sg["signature"]), sg["signature"]
        assert sg["signatureType"] == "POSSESSION_KNOWLEDGE", sg
        assert sg["data"] == "POST&%s&%s&%s" % (b64("/operation/authorize/offline"),
                                                p.nonce, b64(data)), sg["data"]
        offline_verify(a, sg, False, True, "POSSESSION_KNOWLEDGE", 0)
        # the same again: replay
        offline_verify(a, sg, False, False, "POSSESSION_KNOWLEDGE", 1)
        # a fresh signature works with allowBiometry too and resets
        p = s.CreatePersonalizedOfflineSignaturePayload(activationId=a.id, data=data)
        sg = a.dev.run("offline-sign", offline_data=p.offlineData, uri_id="/x",
                       body=data)
        offline_verify(a, sg, True, True, "POSSESSION_KNOWLEDGE", 0)
        # a tampered payload is refused by the phone (exit status 3)
        p = s.CreatePersonalizedOfflineSignaturePayload(activationId=a.id, data=data)
        bad = a.dev.run("offline-sign", rc=3, offline_data=p.offlineData.replace(
            "line two", "line 2"), uri_id="/x", body=data)
        assert bad.get("payloadValid") is False, bad
        # the payload of another activation does not verify with this phone
        other = Act(protocol=protocol)
        p = s.CreatePersonalizedOfflineSignaturePayload(activationId=other.id, data=data)
        a.dev.run("offline-sign", rc=3, offline_data=p.offlineData, uri_id="/x", body=data)
    fault("ERR0009", s.CreatePersonalizedOfflineSignaturePayload, activationId=UNKNOWN_ID,
          data="x")
    # any state is fine (9.1)
    b = Act()
    s.BlockActivation(activationId=b.id)
    p = s.CreatePersonalizedOfflineSignaturePayload(activationId=b.id, data="blocked")
    check_payload(p.offlineData, p.nonce, "blocked", "1",
                  row(b.id)["server_public_key_base64"])
    # two payloads of the same data differ by their nonce
    p1 = s.CreatePersonalizedOfflineSignaturePayload(activationId=b.id, data="same")
    p2 = s.CreatePersonalizedOfflineSignaturePayload(activationId=b.id, data="same")
    assert p1.nonce != p2.nonce


@T.test
def offline_non_personalized():
    s = svc()
    for protocol in PROTOCOLS:
        a = Act(protocol=protocol)
        data = "5ff1b1ed-a3cc-45a3-8ab0-ed60950312b6\nPay 100 EUR\nto ACME"
        before = Snap(a.id)
        p = s.CreateNonPersonalizedOfflineSignaturePayload(applicationId=a.app.id,
                                                           data=data)
        before.same("CreateNonPersonalizedOfflineSignaturePayload")
        check_payload(p.offlineData, p.nonce, data, "0", a.app.master)
        sg = a.dev.run("offline-sign", offline_data=p.offlineData,
                       uri_id="/operation/authorize/offline", body=data)
        assert sg["payloadValid"] is True and sg["nonce"] == p.nonce, sg
        offline_verify(a, sg, False, True, "POSSESSION_KNOWLEDGE", 0)
        # another application's payload does not verify with this phone
        p = s.CreateNonPersonalizedOfflineSignaturePayload(applicationId=app2().id,
                                                           data=data)
        check_payload(p.offlineData, p.nonce, data, "0", app2().master)
        a.dev.run("offline-sign", rc=3, offline_data=p.offlineData, uri_id="/x", body=data)
    fault(("ERR0003", "ERR0015"), s.CreateNonPersonalizedOfflineSignaturePayload,
          applicationId=987654321, data="x")


@T.test
def offline_biometry():
    s = svc()
    for protocol in PROTOCOLS:
        a = Act(protocol=protocol, max_fail=3)
        p = s.CreatePersonalizedOfflineSignaturePayload(activationId=a.id, data="bio")
        sg = a.dev.run("offline-sign", offline_data=p.offlineData, uri_id="/bio",
                       body="bio", biometry=True)
        assert sg["signatureType"] == "POSSESSION_BIOMETRY", sg
        # not allowed: invalid, counted, no BIOMETRY_ALLOWED
        offline_verify(a, sg, False, False, "POSSESSION_KNOWLEDGE", 1)
        # allowed: valid, type POSSESSION_BIOMETRY, failures reset
        offline_verify(a, sg, True, True, "POSSESSION_BIOMETRY", 0)
        # failure with allowBiometry: BIOMETRY_ALLOWED=TRUE
        p = s.CreatePersonalizedOfflineSignaturePayload(activationId=a.id, data="bio2")
        sg = a.dev.run("offline-sign", offline_data=p.offlineData, uri_id="/bio",
                       body="bio2")
        bad = dict(sg, signature=alter(sg["signature"]))
        offline_verify(a, bad, True, False, "POSSESSION_KNOWLEDGE", 1,
                       info=[("BIOMETRY_ALLOWED", "TRUE")])
        bad2 = dict(sg, data=other_body(sg["data"]))
        offline_verify(a, bad2, False, False, "POSSESSION_KNOWLEDGE", 2)
        # the third failure blocks: BIOMETRY_ALLOWED first, BLOCKED_REASON last
        offline_verify(a, bad, True, False, "POSSESSION_KNOWLEDGE", 3, "BLOCKED",
                       "MAX_FAILED_ATTEMPTS",
                       info=[("BIOMETRY_ALLOWED", "TRUE"),
                             ("BLOCKED_REASON", "MAX_FAILED_ATTEMPTS")])
        a.expect_hist((BLOCKED, "MAX_FAILED_ATTEMPTS", None))
        # BLOCKED: the good signature is refused, nothing counted
        x0 = row(a.id)
        n = len(audits(a.id))
        t0 = now_ms()
        r = s.VerifyOfflineSignature(activationId=a.id, data=sg["data"],
                                     signature=sg["signature"], allowBiometry=True)
        t1 = now_ms()
        check_bare_response(r, "BLOCKED")
        x = row(a.id)
        assert x["failed_attempts"] == x0["failed_attempts"] == 3
        assert x["counter"] == x0["counter"]
        # BIOMETRY_ALLOWED is documented for failures; whether a refused
        # state counts as one is open: both accepted
        check_audit(a, n, t0, t1, sg["data"] + "&offline", sg["signature"],
                    "POSSESSION_KNOWLEDGE", None, False, "activation_invalid_state",
                    info=([], [("BIOMETRY_ALLOWED", "TRUE")]))
    # an online DECIMAL signature is not an offline one ("offline" replaces the secret)
    a = Act(protocol="3.0")
    sg = a.sign("possession_knowledge", no_advance=True)
    r = s.VerifyOfflineSignature(activationId=a.id, data=sg["data"],
                                 signature=sg["signature"], allowBiometry=False)
    assert r.signatureValid is False
    total = audit_total()
    r = s.VerifyOfflineSignature(activationId=UNKNOWN_ID, data=sg["data"],
                                 signature=sg["signature"], allowBiometry=True)
    check_bare_response(r, "REMOVED")
    assert audit_total() == total


# --- ECDSA (CRYPTO.md 8.9) ---------------------------------------------------------------

def ecdsa_valid(r):
    """VerifyECDSASignatureResponse has one element: zeep unwraps it."""
    return r if isinstance(r, bool) else r.signatureValid


def ecdsa_sign(dev, msg):
    return b64(priv_of(dev.state()["devicePrivateKey"]).sign(msg, ec.ECDSA(hashes.SHA256())))


@T.test
def ecdsa_signature():
    s = svc()
    for protocol in PROTOCOLS:
        a = Act(protocol=protocol)
        msg = os.urandom(40) + "p\u00f8st".encode("utf-8")
        sig = ecdsa_sign(a.dev, msg)
        before = Snap(a.id)
        r = s.VerifyECDSASignature(activationId=a.id, data=b64(msg), signature=sig)
        assert ecdsa_valid(r) is True, "a device ECDSA signature does not verify"
        r = s.VerifyECDSASignature(activationId=a.id, data=b64(msg + b"!"),
                                   signature=sig)
        assert ecdsa_valid(r) is False
        other = Act(protocol=protocol)
        r = s.VerifyECDSASignature(activationId=other.id, data=b64(msg), signature=sig)
        assert ecdsa_valid(r) is False, "another activation's device key verified it"
        # the state is not checked (8.9)
        s.BlockActivation(activationId=a.id)
        r = s.VerifyECDSASignature(activationId=a.id, data=b64(msg), signature=sig)
        assert ecdsa_valid(r) is True, "BLOCKED activation: state must not matter"
        s.UnblockActivation(activationId=a.id)
        a.expect_hist((BLOCKED, "NOT_SPECIFIED", None), (ACTIVE, None, None))
        r0 = row(a.id)
        assert r0["counter"] == before.state[0]["counter"]
        assert len(audits(a.id)) == len(before.state[2]), "ECDSA wrote audit rows"
        # malformed DER: ERR0022, nothing written
        before = Snap(a.id)
        der = b64_bytes(sig)
        for bad in (b"\x30\x01\x00", der + b"\x00", os.urandom(64), b"garbage"):
            fault("ERR0022", s.VerifyECDSASignature, activationId=a.id,
                  data=b64(msg), signature=b64(bad))
        before.same("VerifyECDSASignature with malformed DER")
    # unknown activation: false, no fault
    r = s.VerifyECDSASignature(activationId=UNKNOWN_ID, data=b64(b"x"),
                               signature=ecdsa_sign(a.dev, b"x"))
    assert ecdsa_valid(r) is False
    # CREATED (no device key yet): false (SHOULD, 8.9)
    c = s.InitActivation(userId=uid("ecdsa"), applicationId=app1().id)
    r = s.VerifyECDSASignature(activationId=c.activationId, data=b64(b"x"),
                               signature=ecdsa_sign(a.dev, b"x"))
    assert ecdsa_valid(r) is False


# --- vault unlock (CRYPTO.md 11) -----------------------------------------------------------

def vault_send(a, vr, **override):
    f = dict(activationId=vr["activationId"], applicationKey=vr["applicationKey"],
             signedData=vr["signedData"], signature=vr["signature"],
             signatureType=vr["signatureType"], signatureVersion=vr["signatureVersion"],
             ephemeralPublicKey=vr["ephemeralPublicKey"],
             encryptedData=vr["encryptedData"], mac=vr["mac"], nonce=vr.get("nonce"))
    f.update(override)
    return svc().VaultUnlock(**f)


def vault_request(a, reason=None, stype="possession_knowledge", uncompressed=False):
    vr = a.dev.run("vault-request", reason=reason, signature_type=stype,
                   uncompressed=uncompressed)
    assert vr["activationId"] == a.id and vr["applicationKey"] == a.app.key, vr
    assert vr["signatureVersion"] == a.protocol, vr
    assert (vr.get("nonce") is not None) == (a.protocol == "3.1"), vr
    # the signed data covers the exact posted body (11.2 step 6, 8.1)
    assert vr["signedData"] == "POST&%s&%s&%s" % (
        b64("/pa/vault/unlock"), vr["signatureNonce"], b64(vr["body"])), vr
    return vr


@T.test
def vault_unlock():
    for protocol in PROTOCOLS:
        for reason in ("FETCH_ENCRYPTION_KEY", None, "custom-reason_1.x"):
            a = Act(protocol=protocol)
            x0 = row(a.id)
            vr = vault_request(a, reason, uncompressed=(reason is None))
            n = len(audits(a.id))
            t0 = now_ms()
            r = vault_send(a, vr)
            t1 = now_ms()
            assert r.signatureValid is True, r
            assert r.encryptedData and r.mac, r
            assert len(b64_bytes(r.mac)) == 32
            out = a.dev.run("vault-response", encrypted_data=r.encryptedData, mac=r.mac)
            assert out["vaultUnlocked"] is True, out
            x = row(a.id)
            assert x["counter"] == x0["counter"] + 1
            assert x["ctr_data"] == next_ctr(x0["ctr_data"])
            assert x["ctr_data"] == a.dev.state()["ctrData"]
            check_audit(a, n, t0, t1, vr["signedData"] + "&" + a.app.secret,
                        vr["signature"], "POSSESSION_KNOWLEDGE", protocol, True,
                        "signature_ok",
                        info=[("VAULT_UNLOCKED_REASON", reason or "NOT_SPECIFIED")])
            a.expect_hist()
            # signatures go on from the vault's counter position
            valid_sign(a, "POSSESSION")


@T.test
def vault_unlock_faults():
    s = svc()
    for protocol in PROTOCOLS:
        a = Act(protocol=protocol)
        # a reason outside ^[A-Za-z0-9_\-.]{3,255}$: ERR0011, nothing written
        for bad in ("a b", "ab", "x" * 256, "\u00e9\u00e9\u00e9"):
            vr = vault_request(a, bad)
            before = Snap(a.id)
            fault("ERR0011", vault_send, a, vr)
            before.same("VaultUnlock with reason %r" % bad)
        # disallowed signature types: ERR0012, nothing written
        vr = vault_request(a, "ADD_BIOMETRY")
        for stype in ("KNOWLEDGE", "POSSESSION", "BIOMETRY", "POSSESSION_KNOWLEDGE_BIOMETRY"):
            before = Snap(a.id)
            fault("ERR0012", vault_send, a, vr, signatureType=stype)
            before.same("VaultUnlock with signatureType %s" % stype)
        vb = vault_request(a, "ADD_BIOMETRY", stype="possession_biometry")
        assert vb["signatureType"] == "POSSESSION_BIOMETRY"
        before = Snap(a.id)
        fault("ERR0012", vault_send, a, vb)
        before.same("VaultUnlock with POSSESSION_BIOMETRY (biometry off by default)")
        # a wrong signature: signatureValid=false with an encrypted answer
        vr = vault_request(a, "RECOVERY_CODE")
        x0 = row(a.id)
        n = len(audits(a.id))
        bad = alter(vr["signature"])
        t0 = now_ms()
        r = vault_send(a, vr, signature=bad)
        t1 = now_ms()
        assert r.signatureValid is False, r
        assert r.encryptedData and r.mac, "no encrypted answer for a wrong signature"
        out = a.dev.run("vault-response", encrypted_data=r.encryptedData, mac=r.mac)
        assert out["vaultUnlocked"] is False, out
        x = row(a.id)
        assert x["failed_attempts"] == 1 and x["counter"] == x0["counter"]
        check_audit(a, n, t0, t1, vr["signedData"] + "&" + a.app.secret, bad,
                    "POSSESSION_KNOWLEDGE", protocol, False, "signature_does_not_match",
                    info=[("VAULT_UNLOCKED_REASON", "RECOVERY_CODE")])
        # ECIES tampering: ERR0018, nothing written
        vr = vault_request(a, "FETCH_ENCRYPTION_KEY")
        before = Snap(a.id)
        m = bytearray(b64_bytes(vr["mac"]))
        m[0] ^= 1
        fault("ERR0018", vault_send, a, vr, mac=b64(bytes(m)))
        fault("ERR0018", vault_send, a, vr, nonce=b64(os.urandom(8)))
        before.same("VaultUnlock with a tampered cryptogram")
        # another IV (a new nonce, a nonce added to 3.0, the nonce dropped
        # from 3.1): the MAC holds, the first block decrypts to garbage, the
        # JSON does not parse -> signatureValid=false only (11.2 step 5)
        for nonce in ([b64(os.urandom(16))] + ([""] if protocol == "3.1" else [])):
            r = vault_send(a, vr, nonce=nonce or None)
            assert r.signatureValid is False and r.encryptedData is None \
                and r.mac is None, r
            before.same("VaultUnlock with the IV of another nonce")
        # the untouched request still works
        r = vault_send(a, vr)
        assert r.signatureValid is True
        assert a.dev.run("vault-response", encrypted_data=r.encryptedData,
                         mac=r.mac)["vaultUnlocked"] is True
        assert row(a.id)["failed_attempts"] == 0
        # unknown application key: signatureValid=false only, nothing written
        vr = vault_request(a)
        before = Snap(a.id)
        r = vault_send(a, vr, applicationKey=b64(os.urandom(16)))
        assert r.signatureValid is False and r.encryptedData is None and r.mac is None, r
        before.same("VaultUnlock with an unknown application key")
        # not ACTIVE: signatureValid=false only, no audit row (5.2)
        s.BlockActivation(activationId=a.id, reason="VAULT")
        vr = vault_request(a, "FETCH_ENCRYPTION_KEY")
        before = Snap(a.id)
        r = vault_send(a, vr)
        assert r.signatureValid is False and r.encryptedData is None and r.mac is None, r
        before.same("VaultUnlock of a BLOCKED activation")
        vr2 = dict(vr, activationId=UNKNOWN_ID)
        total = audit_total()
        r = vault_send(a, vr2)
        assert r.signatureValid is False and r.encryptedData is None, r
        assert audit_total() == total
    # the blocking attempt: VAULT_UNLOCKED_REASON first, BLOCKED_REASON last
    a = Act(protocol="3.1", max_fail=1)
    vr = vault_request(a, "SIGN_WITH_DEVICE_PRIVATE_KEY")
    n = len(audits(a.id))
    bad = alter(vr["signature"])
    t0 = now_ms()
    r = vault_send(a, vr, signature=bad)
    t1 = now_ms()
    assert r.signatureValid is False and r.encryptedData
    assert row(a.id)["activation_status"] == BLOCKED
    a.expect_hist((BLOCKED, "MAX_FAILED_ATTEMPTS", None))
    check_audit(a, n, t0, t1, vr["signedData"] + "&" + a.app.secret, bad,
                "POSSESSION_KNOWLEDGE", "3.1", False, "signature_does_not_match",
                info=[("VAULT_UNLOCKED_REASON", "SIGN_WITH_DEVICE_PRIVATE_KEY"),
                      ("BLOCKED_REASON", "MAX_FAILED_ATTEMPTS")])


# --- tokens (CRYPTO.md 10, DATABASE.md 5.7) ----------------------------------------------------

def create_token(a, stype="POSSESSION_KNOWLEDGE", uncompressed=False):
    tr = a.dev.run("token-request", uncompressed=uncompressed)
    assert tr["activationId"] == a.id and tr["applicationKey"] == a.app.key, tr
    t0 = now_ms()
    r = svc().CreateToken(activationId=a.id, applicationKey=tr["applicationKey"],
                          ephemeralPublicKey=tr["ephemeralPublicKey"],
                          encryptedData=tr["encryptedData"], mac=tr["mac"],
                          nonce=tr.get("nonce"), signatureType=stype)
    t1 = now_ms()
    assert len(b64_bytes(r.mac)) == 32, r
    tok = a.dev.run("token-response", encrypted_data=r.encryptedData, mac=r.mac)
    assert is_uuid4(tok["tokenId"]), tok
    assert len(b64_bytes(tok["tokenSecret"])) == 16, tok
    t = token_row(tok["tokenId"])
    assert t is not None, "no pa_token row for %s" % tok["tokenId"]
    assert t["token_secret"] == tok["tokenSecret"], "stored secret differs"
    assert t["activation_id"] == a.id and t["signature_type"] == stype, t
    assert t0 - 5 <= t["timestamp_created"] <= t1 + 5, (t["timestamp_created"], t0, t1)
    return tok


def digest(secret_b64, nonce_b64, ts):
    """10.2: HMAC(tokenSecret, NONCE bytes || "&" || decimal timestamp)."""
    return b64(hm(base64.b64decode(secret_b64),
                  base64.b64decode(nonce_b64) + b"&" + str(ts).encode()))


def validate(tok_id, dg, nonce, ts):
    return svc().ValidateToken(tokenId=tok_id, tokenDigest=dg, nonce=nonce, timestamp=ts)


def removed(r):
    """RemoveTokenResponse has one element: zeep unwraps it."""
    return r if isinstance(r, bool) else r.removed


def check_token_valid(r, a, stype):
    assert r.tokenValid is True, r
    assert r.activationId == a.id and r.userId == a.user, r
    assert r.applicationId == a.app.id and r.signatureType == stype, r


def check_token_invalid(r):
    assert r.tokenValid is False, r
    assert r.activationId is None and r.userId is None and r.applicationId is None \
        and r.signatureType is None, "fields beside tokenValid=false: %r" % r


@T.test
def tokens():
    s = svc()
    for protocol in PROTOCOLS:
        a = Act(protocol=protocol)
        before = Snap(a.id)
        tok = create_token(a, "POSSESSION_KNOWLEDGE")
        tok2 = create_token(a, "POSSESSION", uncompressed=True)
        assert tok2["tokenId"] != tok["tokenId"]
        x = row(a.id)
        assert x == before.state[0], "CreateToken changed the activation"
        assert hist(a.id) == before.state[1] and audits(a.id) == before.state[2]
        assert len(tokens_of(a.id)) == 2
        dg = a.dev.run("token-digest", token_id=tok["tokenId"])
        assert dg["tokenId"] == tok["tokenId"] and abs(dg["timestamp"] - now_ms()) < 60000
        assert dg["tokenDigest"] == digest(tok["tokenSecret"], dg["nonce"],
                                           dg["timestamp"]), "padevice digest differs from 10.2"
        snap = Snap(a.id)
        check_token_valid(validate(tok["tokenId"], dg["tokenDigest"], dg["nonce"],
                                   dg["timestamp"]), a, "POSSESSION_KNOWLEDGE")
        snap.same("ValidateToken")                 # no write (5.7)
        # the other token: its own type
        d2 = a.dev.run("token-digest", token_id=tok2["tokenId"])
        check_token_valid(validate(tok2["tokenId"], d2["tokenDigest"], d2["nonce"],
                                   d2["timestamp"]), a, "POSSESSION")
        # wrong digest, another token's digest, wrong timestamp / nonce
        d3 = a.dev.run("token-digest", token_id=tok["tokenId"])
        bad = bytearray(b64_bytes(d3["tokenDigest"]))
        bad[5] ^= 0x40
        check_token_invalid(validate(tok["tokenId"], b64(bytes(bad)), d3["nonce"],
                                     d3["timestamp"]))
        check_token_invalid(validate(tok2["tokenId"], d3["tokenDigest"], d3["nonce"],
                                     d3["timestamp"]))
        check_token_invalid(validate(tok["tokenId"], d3["tokenDigest"], d3["nonce"],
                                     d3["timestamp"] + 1))
        check_token_invalid(validate(tok["tokenId"], d3["tokenDigest"],
                                     b64(os.urandom(16)), d3["timestamp"]))
        # unknown token: false
        check_token_invalid(validate(UNKNOWN_ID, d3["tokenDigest"], d3["nonce"],
                                     d3["timestamp"]))
        # a digest computed here for a chosen timestamp
        ts = now_ms() - 1000
        n4 = b64(os.urandom(16))
        check_token_valid(validate(tok["tokenId"], digest(tok["tokenSecret"], n4, ts),
                                   n4, ts), a, "POSSESSION_KNOWLEDGE")
        # timestamps: just inside the validity window is fine, older is ERR0030
        ts = now_ms() - TOKEN_VALIDITY + 30000
        n5 = b64(os.urandom(16))
        check_token_valid(validate(tok["tokenId"], digest(tok["tokenSecret"], n5, ts),
                                   n5, ts), a, "POSSESSION_KNOWLEDGE")
        ts = now_ms() - TOKEN_VALIDITY - 1
        n6 = b64(os.urandom(16))
        fault("ERR0030", validate, tok["tokenId"], digest(tok["tokenSecret"], n6, ts),
              n6, ts)
        fault("ERR0030", validate, UNKNOWN_ID, digest(tok["tokenSecret"], n6, ts), n6, ts)
        fault("ERR0030", validate, tok["tokenId"], digest(tok["tokenSecret"], n6, -5),
              n6, -5)
        # the token_digest of the same nonce at the too-old time was not consumed
        ts = now_ms()
        check_token_valid(validate(tok["tokenId"], digest(tok["tokenSecret"], n6, ts),
                                   n6, ts), a, "POSSESSION_KNOWLEDGE")
        # the timestamp is rendered canonically before hashing (10.2): a
        # leading zero or plus sign on the wire does not change the digest
        for text in ("0%d", "+%d", "00%d"):
            ts = now_ms() - 500
            nc = b64(os.urandom(16))
            ans = call_raw("ValidateToken", [("tokenId", tok["tokenId"]),
                                             ("tokenDigest", digest(tok["tokenSecret"],
                                                                    nc, ts)),
                                             ("nonce", nc), ("timestamp", text % ts)])
            resp = ans.response("ValidateToken")
            assert resp is not None, "timestamp %r: %s" % (text % ts, ans.describe())
            v = resp.find("{%s}tokenValid" % V3_NS)
            assert v is not None and v.text == "true", \
                "timestamp %r not read as %d" % (text % ts, ts)
        # a little in the future is fine
        ts = now_ms() + 60000
        n7 = b64(os.urandom(16))
        check_token_valid(validate(tok["tokenId"], digest(tok["tokenSecret"], n7, ts),
                                   n7, ts), a, "POSSESSION_KNOWLEDGE")
        # RemoveToken: another activation's id -> false; owner -> true
        other = Act(protocol=protocol)
        otok = create_token(other)
        r = s.RemoveToken(tokenId=tok["tokenId"], activationId=other.id)
        assert removed(r) is False, r
        assert token_row(tok["tokenId"]) is not None
        r = s.RemoveToken(tokenId=tok["tokenId"], activationId=a.id)
        assert removed(r) is True, r
        assert token_row(tok["tokenId"]) is None, "RemoveToken left the row"
        r = s.RemoveToken(tokenId=tok["tokenId"], activationId=a.id)
        assert removed(r) is False, r
        r = s.RemoveToken(tokenId=UNKNOWN_ID, activationId=a.id)
        assert removed(r) is False, r
        d = a.dev.run("token-digest", token_id=tok["tokenId"])
        check_token_invalid(validate(tok["tokenId"], d["tokenDigest"], d["nonce"],
                                     d["timestamp"]))
        assert token_row(tok2["tokenId"]) is not None and token_row(otok["tokenId"])


@T.test
def token_replay_and_future():
    # paserver additions (see the file header)
    a = Act(protocol="3.1")
    tok = create_token(a)
    dg = a.dev.run("token-digest", token_id=tok["tokenId"])
    args = (tok["tokenId"], dg["tokenDigest"], dg["nonce"], dg["timestamp"])
    check_token_valid(validate(*args), a, "POSSESSION_KNOWLEDGE")
    r = validate(*args)
    if TOKEN_REPLAY:
        check_token_invalid(r)
        # the same nonce with another timestamp is a replay as well
        ts = dg["timestamp"] + 7
        check_token_invalid(validate(tok["tokenId"], digest(tok["tokenSecret"],
                                                            dg["nonce"], ts),
                                     dg["nonce"], ts))
    else:
        check_token_valid(r, a, "POSSESSION_KNOWLEDGE")
    # the same nonce for another token is no replay of the first
    tok2 = create_token(a, "POSSESSION_BIOMETRY")
    ts = now_ms()
    check_token_valid(validate(tok2["tokenId"], digest(tok2["tokenSecret"], dg["nonce"],
                                                       ts), dg["nonce"], ts),
                      a, "POSSESSION_BIOMETRY")
    # a wrong digest does not burn the nonce
    n = b64(os.urandom(16))
    ts = now_ms()
    good = digest(tok["tokenSecret"], n, ts)
    check_token_invalid(validate(tok["tokenId"], alter(good), n, ts))
    check_token_valid(validate(tok["tokenId"], good, n, ts), a, "POSSESSION_KNOWLEDGE")
    # the future
    far = now_ms() + 3600000 + 120000
    nf = b64(os.urandom(16))
    r = validate(tok["tokenId"], digest(tok["tokenSecret"], nf, far), nf, far)
    if TOKEN_MAX_FUTURE and TOKEN_MAX_FUTURE < 3600000 + 120000:
        check_token_invalid(r)
    else:
        check_token_valid(r, a, "POSSESSION_KNOWLEDGE")
    if TOKEN_MAX_FUTURE:
        near = now_ms() + TOKEN_MAX_FUTURE - 60000
        nn = b64(os.urandom(16))
        check_token_valid(validate(tok["tokenId"], digest(tok["tokenSecret"], nn, near),
                                   nn, near), a, "POSSESSION_KNOWLEDGE")
        beyond = now_ms() + TOKEN_MAX_FUTURE + 60000
        nb = b64(os.urandom(16))
        check_token_invalid(validate(tok["tokenId"], digest(tok["tokenSecret"], nb,
                                                            beyond), nb, beyond))
    # far future (year 2100) is fine only without the limit
    y2100 = 4102444800000
    ny = b64(os.urandom(16))
    r = validate(tok["tokenId"], digest(tok["tokenSecret"], ny, y2100), ny, y2100)
    if TOKEN_MAX_FUTURE:
        check_token_invalid(r)
    else:
        check_token_valid(r, a, "POSSESSION_KNOWLEDGE")


@T.test
def token_states_and_faults():
    s = svc()
    a = Act(protocol="3.0")
    tok = create_token(a, "KNOWLEDGE")
    # a BLOCKED activation: CreateToken ERR0008, ValidateToken ERR0008
    s.BlockActivation(activationId=a.id)
    tr = a.dev.run("token-request")
    before = Snap(a.id)
    fault("ERR0008", s.CreateToken, activationId=a.id, applicationKey=tr["applicationKey"],
          ephemeralPublicKey=tr["ephemeralPublicKey"], encryptedData=tr["encryptedData"],
          mac=tr["mac"], nonce=tr.get("nonce"), signatureType="POSSESSION")
    before.same("CreateToken of a BLOCKED activation")
    d = a.dev.run("token-digest", token_id=tok["tokenId"])
    fault("ERR0008", validate, tok["tokenId"], d["tokenDigest"], d["nonce"], d["timestamp"])
    s.UnblockActivation(activationId=a.id)
    d = a.dev.run("token-digest", token_id=tok["tokenId"])
    check_token_valid(validate(tok["tokenId"], d["tokenDigest"], d["nonce"],
                               d["timestamp"]), a, "KNOWLEDGE")
    # tokens survive removal of their activation and stop validating (5.7)
    s.RemoveActivation(activationId=a.id)
    assert token_row(tok["tokenId"]) is not None
    d = a.dev.run("token-digest", token_id=tok["tokenId"])
    fault("ERR0008", validate, tok["tokenId"], d["tokenDigest"], d["nonce"], d["timestamp"])
    fault("ERR0008", s.CreateToken, activationId=a.id, applicationKey=tr["applicationKey"],
          ephemeralPublicKey=tr["ephemeralPublicKey"], encryptedData=tr["encryptedData"],
          mac=tr["mac"], nonce=tr.get("nonce"), signatureType="POSSESSION")
    fault("ERR0009", s.CreateToken, activationId=UNKNOWN_ID,
          applicationKey=tr["applicationKey"], ephemeralPublicKey=tr["ephemeralPublicKey"],
          encryptedData=tr["encryptedData"], mac=tr["mac"], nonce=tr.get("nonce"),
          signatureType="POSSESSION")
    # ECIES problems and an unknown application key (10.1)
    b = Act(protocol="3.1")
    before = Snap(b.id)
    # a request made for another sharedInfo1: decryption fails
    e = b.dev.run("ecies-request", scope="activation", shared_info1="/pa/vault/unlock",
                  data="{}")
    fault("ERR0018", s.CreateToken, activationId=b.id, applicationKey=e["applicationKey"],
          ephemeralPublicKey=e["ephemeralPublicKey"], encryptedData=e["encryptedData"],
          mac=e["mac"], nonce=e["nonce"], signatureType="POSSESSION")
    # an empty plaintext: ERR0011 (10.1 step 3)
    e = b.dev.run("ecies-request", scope="activation", shared_info1="/pa/token/create",
                  data="")
    fault("ERR0011", s.CreateToken, activationId=b.id, applicationKey=e["applicationKey"],
          ephemeralPublicKey=e["ephemeralPublicKey"], encryptedData=e["encryptedData"],
          mac=e["mac"], nonce=e["nonce"], signatureType="POSSESSION")
    before.same("failed CreateToken calls (padevice ecies-request)")
    # the content of the plaintext is not parsed
    e = b.dev.run("ecies-request", scope="activation", shared_info1="/pa/token/create",
                  data="not json at all")
    r = s.CreateToken(activationId=b.id, applicationKey=e["applicationKey"],
                      ephemeralPublicKey=e["ephemeralPublicKey"],
                      encryptedData=e["encryptedData"], mac=e["mac"], nonce=e["nonce"],
                      signatureType="BIOMETRY")
    got = b.dev.run("ecies-response", encrypted_data=r.encryptedData, mac=r.mac)
    m = re.match(r'^\{"tokenId":"([0-9a-f-]{36})","tokenSecret":"([A-Za-z0-9+/=]{24})",'
                 r'"expires":null\}$', got.get("plaintext", ""))
    assert m, "CreateToken answer %r is not the compact JSON of 10.1 step 5" % got
    t = token_row(m.group(1))
    assert t and t["token_secret"] == m.group(2) and t["signature_type"] == "BIOMETRY", t
    tr = b.dev.run("token-request")
    base = dict(activationId=b.id, applicationKey=tr["applicationKey"],
                ephemeralPublicKey=tr["ephemeralPublicKey"],
                encryptedData=tr["encryptedData"], mac=tr["mac"], nonce=tr["nonce"],
                signatureType="POSSESSION")
    before = Snap(b.id)
    m = bytearray(b64_bytes(tr["mac"]))
    m[3] ^= 1
    fault("ERR0018", s.CreateToken, **dict(base, mac=b64(bytes(m))))
    # (another 16-byte nonce would only garble the single block: its padding
    # fails ~255 times in 256, so only a wrong length is tested)
    fault("ERR0018", s.CreateToken, **dict(base, nonce=b64(os.urandom(8))))
    # another application's key: decryption fails (or ERR0015, CRYPTO.md 5.7)
    fault(("ERR0018", "ERR0015"), s.CreateToken, **dict(base, applicationKey=app2().key))
    fault("ERR0018", s.CreateToken, **dict(
        base, ephemeralPublicKey=b64(b"\x04" + b"\x01" * 64)))
    fault("ERR0015", s.CreateToken, **dict(base, applicationKey=b64(os.urandom(16))))
    # the original request still works
    r = s.CreateToken(**base)
    tok = b.dev.run("token-response", encrypted_data=r.encryptedData, mac=r.mac)
    assert token_row(tok["tokenId"])["signature_type"] == "POSSESSION"


# --- GetEciesDecryptor (CRYPTO.md 5.9) ------------------------------------------------------

def x963(z, info, n=48):
    out = b""
    i = 1
    while len(out) < n:
        out += hashlib.sha256(z + i.to_bytes(4, "big") + info).digest()
        i += 1
    return out[:n]


def decrypt_request(env, sh2, e):
    """5.4 steps 3-5 with the secretKey of GetEciesDecryptor."""
    k_enc, k_mac, k_iv = env[:16], env[16:32], env[32:48]
    ct = b64_bytes(e["encryptedData"])
    assert hmac.compare_digest(hm(k_mac, ct + sh2), b64_bytes(e["mac"])), \
        "the request MAC does not verify with the returned keys"
    iv = reduce16(hm(k_iv, b64_bytes(e["nonce"]))) if e.get("nonce") else bytes(16)
    return unpkcs7(cbc(k_enc, iv, ct, False)), iv


def encrypt_response(env, sh2, iv, plain):
    ct = cbc(env[:16], iv, pkcs7(plain), True)
    return b64(ct), b64(hm(env[16:32], ct + sh2))


@T.test
def ecies_decryptor():
    s = svc()
    for protocol in PROTOCOLS:
        a = Act(protocol=protocol)
        st = a.dev.state()
        transport = kdf_n(master_secret(st), 1000)
        for scope in ("application", "activation"):
            for unc in (False, True):
                sh1 = "/pa/generic/" + scope
                plain = json.dumps({"scope": scope, "p": protocol, "\u017e": "\u00e9"},
                                   ensure_ascii=False)
                e = a.dev.run("ecies-request", scope=scope, shared_info1=sh1, data=plain,
                              uncompressed=unc)
                ephb = b64_bytes(e["ephemeralPublicKey"])
                assert len(ephb) == (65 if unc else 33)
                assert (e.get("nonce") is not None) == (protocol == "3.1"), e
                before = Snap(a.id)
                r = s.GetEciesDecryptor(activationId=a.id if scope == "activation" else None,
                                        applicationKey=e["applicationKey"],
                                        ephemeralPublicKey=e["ephemeralPublicKey"])
                before.same("GetEciesDecryptor")
                env = b64_bytes(r.secretKey)
                sh2 = b64_bytes(r.sharedInfo2)
                assert len(env) == 48, "secretKey of %d bytes, expected 48" % len(env)
                assert len(sh2) == 32
                if scope == "application":
                    assert sh2 == hashlib.sha256(a.app.secret.encode()).digest(), \
                        "sharedInfo2 is not SHA256(applicationSecret) (5.7)"
                else:
                    assert sh2 == hm(transport, a.app.secret.encode()), \
                        "sharedInfo2 is not HMAC(KEY_TRANSPORT, applicationSecret) (5.7)"
                got, iv = decrypt_request(env, sh2, e)
                assert got == plain.encode("utf-8"), (got, plain)
                # the KDF over SH1 || EPHB as transmitted (5.2), checked with the
                # device side: ENV must come from the ephemeral key sent
                answer = ('{"ok":true,"scope":"%s"}' % scope).encode()
                ed, mac = encrypt_response(env, sh2, iv, answer)
                out = a.dev.run("ecies-response", encrypted_data=ed, mac=mac)
                assert out.get("plaintext") == answer.decode(), out
                # deterministic: the same request gives the same keys
                r2 = s.GetEciesDecryptor(activationId=a.id if scope == "activation" else None,
                                         applicationKey=e["applicationKey"],
                                         ephemeralPublicKey=e["ephemeralPublicKey"])
                assert r2.secretKey == r.secretKey and r2.sharedInfo2 == r.sharedInfo2
        # ENV = KDF_X963(Z, SH1 || EPHB, 48), checked with an ephemeral key made here
        eph = ec.generate_private_key(ec.SECP256R1())
        ephb = eph.public_key().public_bytes(serialization.Encoding.X962,
                                             serialization.PublicFormat.CompressedPoint)
        r = s.GetEciesDecryptor(applicationKey=a.app.key, ephemeralPublicKey=b64(ephb))
        z = eph.exchange(ec.ECDH(), pub_of(a.app.master))
        assert b64_bytes(r.secretKey) == x963(z, b"/pa/generic/application" + ephb), \
            "application-scope secretKey differs from KDF_X963(Z, SH1 || EPHB)"
        r = s.GetEciesDecryptor(activationId=a.id, applicationKey=a.app.key,
                                ephemeralPublicKey=b64(ephb))
        z = eph.exchange(ec.ECDH(), pub_of(st["serverPublicKey"]))
        assert b64_bytes(r.secretKey) == x963(z, b"/pa/generic/activation" + ephb), \
            "activation-scope secretKey differs from KDF_X963(Z, SH1 || EPHB)"


@T.test
def ecies_decryptor_faults():
    s = svc()
    a = Act(protocol="3.1")
    e = a.dev.run("ecies-request", scope="activation", shared_info1="/pa/generic/activation",
                  data="x")
    eph = e["ephemeralPublicKey"]
    unknown_key = b64(os.urandom(16))
    fault("ERR0015", s.GetEciesDecryptor, applicationKey=unknown_key, ephemeralPublicKey=eph)
    fault("ERR0015", s.GetEciesDecryptor, activationId=a.id, applicationKey=unknown_key,
          ephemeralPublicKey=eph)
    # another application's key for this activation
    fault("ERR0015", s.GetEciesDecryptor, activationId=a.id, applicationKey=app2().key,
          ephemeralPublicKey=eph)
    # unsupported version
    v = s.CreateApplicationVersion(applicationId=app1().id,
                                   applicationVersionName="%s-ecies" % TAG)
    s.UnsupportApplicationVersion(applicationVersionId=v.applicationVersionId)
    fault("ERR0015", s.GetEciesDecryptor, applicationKey=v.applicationKey,
          ephemeralPublicKey=eph)
    fault("ERR0015", s.GetEciesDecryptor, activationId=a.id, applicationKey=v.applicationKey,
          ephemeralPublicKey=eph)
    s.SupportApplicationVersion(applicationVersionId=v.applicationVersionId)
    r = s.GetEciesDecryptor(activationId=a.id, applicationKey=v.applicationKey,
                            ephemeralPublicKey=eph)
    # sharedInfo2 follows the secret of the version given (5.7)
    st = a.dev.state()
    assert b64_bytes(r.sharedInfo2) == hm(kdf_n(master_secret(st), 1000),
                                          v.applicationSecret.encode())
    fault("ERR0009", s.GetEciesDecryptor, activationId=UNKNOWN_ID, applicationKey=a.app.key,
          ephemeralPublicKey=eph)
    # not a point: ERR0018 (SHOULD, 5.9)
    for bad in (b"\x04" + b"\x01" * 64, b"\x02" + b"\x07" * 10, b"\x05" + b"\x00" * 32):
        fault("ERR0018", s.GetEciesDecryptor, applicationKey=a.app.key,
              ephemeralPublicKey=b64(bad))
        fault("ERR0018", s.GetEciesDecryptor, activationId=a.id, applicationKey=a.app.key,
              ephemeralPublicKey=b64(bad))
    # not ACTIVE: ERR0008; the application scope does not look at activations
    s.BlockActivation(activationId=a.id)
    fault("ERR0008", s.GetEciesDecryptor, activationId=a.id, applicationKey=a.app.key,
          ephemeralPublicKey=eph)
    c = s.InitActivation(userId=uid("ecies"), applicationId=app1().id)
    fault("ERR0008", s.GetEciesDecryptor, activationId=c.activationId,
          applicationKey=a.app.key, ephemeralPublicKey=eph)
    r = s.GetEciesDecryptor(applicationKey=a.app.key, ephemeralPublicKey=eph)
    assert len(b64_bytes(r.secretKey)) == 48


# --- missing required elements -> ERR0024 (CONTRACT.md "Faults") ------------------------

@T.test
def missing_required_elements():
    a = Act(protocol="3.1")
    sg = a.sign("possession_knowledge", no_advance=True)
    vr = a.dev.run("vault-request", signature_type="possession_knowledge")
    tr = a.dev.run("token-request")
    tok = create_token(a)
    dg = a.dev.run("token-digest", token_id=tok["tokenId"])
    when = "2020-01-01T00:00:00Z"
    # (operation, required fields, optional fields sent along, accepted
    # alternatives per missing field)
    cases = [
        ("VerifySignature",
         [("activationId", a.id), ("applicationKey", a.app.key), ("data", sg["data"]),
          ("signature", sg["signature"]), ("signatureType", "POSSESSION_KNOWLEDGE"),
          ("signatureVersion", "3.1")], [], {}),
        ("VerifyOfflineSignature",
         [("activationId", a.id), ("data", sg["data"]), ("signature", "12345678-12345678")],
         [("allowBiometry", "true")], {}),
        ("CreatePersonalizedOfflineSignaturePayload",
         [("activationId", a.id), ("data", "d")], [], {}),
        ("CreateNonPersonalizedOfflineSignaturePayload",
         [("applicationId", app1().id), ("data", "d")], [],
         {"applicationId": ("ERR0024", "ERR0003")}),
        ("VaultUnlock",
         [(k, vr[k]) for k in ("activationId", "applicationKey", "signedData", "signature",
                               "signatureType", "signatureVersion", "ephemeralPublicKey",
                               "encryptedData", "mac")], [("nonce", vr["nonce"])], {}),
        ("VerifyECDSASignature",
         [("activationId", a.id), ("data", b64(b"x")),
          ("signature", ecdsa_sign(a.dev, b"x"))], [], {}),
        ("SignatureAudit",
         [("userId", a.user), ("timestampFrom", when), ("timestampTo", when)], [], {}),
        ("CreateToken",
         [(k, tr[k]) for k in ("activationId", "applicationKey", "ephemeralPublicKey",
                               "encryptedData", "mac")] + [("signatureType", "POSSESSION")],
         [("nonce", tr["nonce"])], {}),
        ("ValidateToken",
         [("tokenId", tok["tokenId"]), ("tokenDigest", dg["tokenDigest"]),
          ("nonce", dg["nonce"]), ("timestamp", dg["timestamp"])], [],
         {"timestamp": ("ERR0024", "ERR0030")}),
        ("RemoveToken", [("tokenId", tok["tokenId"]), ("activationId", a.id)], [], {}),
        ("GetEciesDecryptor",
         [("activationId", a.id), ("applicationKey", a.app.key),
          ("ephemeralPublicKey", tr["ephemeralPublicKey"])], [],
         {"activationId": None}),
    ]
    before = Snap(a.id)
    ntok = q("SELECT COUNT(*) AS n FROM pa_token")[0]["n"]
    bad = []
    for op, fields, extra, alt in cases:
        for k in range(len(fields)):
            name = fields[k][0]
            if alt.get(name, ()) is None:
                continue                    # optional after all (activationId, 5.9)
            sub = fields[:k] + fields[k + 1:] + extra
            ans = call_raw(op, sub)
            want = "ERR0024"
            try:
                if name in alt:
                    f = ans.fault()
                    want = f["errorCode"] if f and f["errorCode"] in alt[name] else "ERR0024"
                check_fault(ans, error=want)
            except AssertionError as e:
                bad.append("%s without %s: %s" % (op, name, e))
    before.same("requests missing required elements")
    assert q("SELECT COUNT(*) AS n FROM pa_token")[0]["n"] == ntok, \
        "a request with a missing element created a token"
    assert not bad, "\n     ".join(bad)
    # the complete requests work afterwards (nothing was spent)
    check_valid_response(a, a.verify(sg), "POSSESSION_KNOWLEDGE")
    check_token_valid(validate(tok["tokenId"], dg["tokenDigest"], dg["nonce"],
                               dg["timestamp"]), a, "POSSESSION_KNOWLEDGE")


@T.test
def cleanup():
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    require_port()
    sys.exit(T.run(sys.argv[1:]))
