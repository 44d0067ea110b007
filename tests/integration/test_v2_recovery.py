#!/usr/bin/python3
"""test_v2_recovery.py - protocol 2, the upgrade to 3 and activation recovery.

A protocol-2 phone (padevice, SDK protocol 2.1) activates through the v2
namespace (PrepareActivation with the short id and OTP of a v3
InitActivation code, CreateActivation with an identity), is committed with
v3 CommitActivation, signs with the numeric counter (VerifySignature 2.1),
unlocks its vault through v2 VaultUnlock (key bound to the counter, counter
bumped), gets a token through v2 CreateToken (validated by v3
ValidateToken) and asks for both v2 end-to-end encryption keys (checked
here in Python).  Then it upgrades: StartUpgrade (twice, same ctrData), a
forced-version-3 signature of /pa/upgrade/commit, CommitUpgrade, and signs
as a protocol-3 phone.

Recovery: UpdateRecoveryConfig / GetRecoveryConfig with a printing-centre
key pair made here, recovery codes issued by PrepareActivation, confirmed
(ConfirmRecoveryCode), postcards (CreateRecoveryCode, re-derived here as
the printing centre would: ECDH, KDF_X963, KDF per CRYPTO.md 12.1),
RecoveryCodeActivation (wrong PUK with currentRecoveryPukIndex in the fault
detail, right PUK), LookupRecoveryCodes, RevokeRecoveryCodes,
RemoveActivation with revokeRecoveryCodes, and 16 parallel
RecoveryCodeActivation calls with one code and PUK.

After every step the SQLite file is read (read-only) and compared with

  spec/CRYPTO.md 2.8-2.10, 4.3, 4.6, 8.8, 12, 13, 14, 18.2
  contract/DATABASE.md 5.1 (history), 5.2 (audit), 5.6 (counters), 5.8
  contract/operations-v3.tsv, operations-v2.tsv, CONTRACT.md (faults)

Operations the server still answers with the ERR0024 stub of
src/handlers/scheduled.c (read at run time from PA_SRCDIR) make the tests
that need them SKIP, loudly, naming them.

Environment (set by run.sh): PA_ITEST_PORT, PA_SHARED, PA_SRCDIR;
PA_ITEST_DB the server's database file; PADEVICE the phone emulator.
"""

import base64
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
import threading
import time

import zeep
import zeep.exceptions

from pa_itest import (ENDPOINT_PATH, HOST, PORT, SRCDIR, Answer, Runner, Skip,
                      b64_bytes, call_raw, check_fault, english, envelope,
                      exchange, is_uuid4, op_xml, require_port, soap_post)

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

T = Runner("v2recovery")
TAG = "v2r%d" % os.getpid()
DB = os.environ.get("PA_ITEST_DB", "")
PADEVICE = os.environ.get("PADEVICE", "")

CREATED, PENDING_COMMIT, ACTIVE, BLOCKED, REMOVED = 1, 2, 3, 4, 5
RC_CREATED, RC_ACTIVE, RC_BLOCKED, RC_REVOKED = 1, 2, 3, 4        # 12.6
PUK_VALID, PUK_USED, PUK_INVALID = 1, 2, 3
PAR_TIMEOUT = 180          # s, for each of the 16 parallel calls
RC_NAME = {1: "CREATED", 2: "ACTIVE", 3: "BLOCKED", 4: "REVOKED"}
RECOVERY_OPS = ("GetRecoveryConfig", "UpdateRecoveryConfig", "CreateRecoveryCode",
                "ConfirmRecoveryCode", "LookupRecoveryCodes", "RevokeRecoveryCodes",
                "RecoveryCodeActivation")


# --- operations still stubbed (src/handlers/scheduled.c) ----------------------------

def scheduled():
    """Every operation is implemented (the stubs' file src/handlers/
    scheduled.c is gone): nothing is ever skipped."""
    return set()


def need(*ops):
    """Skips the calling test, loudly, when one of ops is still stubbed."""
    left = sorted(set(ops) & scheduled())
    if left:
        raise Skip("*** NOT TESTED: still SCHEDULED (ERR0024 stub in "
                   "src/handlers/scheduled.c): %s ***" % ", ".join(left))


def need_recovery():
    need(*RECOVERY_OPS)


# --- zeep ------------------------------------------------------------------------------

_svc = {}


def svc(version=3):
    """zeep on the served WSDL (v3 or v2), bound by the contract's names."""
    if version not in _svc:
        transport = zeep.Transport(timeout=60, operation_timeout=60)
        c = zeep.Client("http://%s:%d%s/serviceV%d.wsdl" % (HOST, PORT, ENDPOINT_PATH,
                                                            version),
                        transport=transport, settings=zeep.Settings(strict=True))
        _svc[version] = c.bind("PowerAuthPortV%dService" % version,
                               "PowerAuthPortV%dSoap11" % version)
    return _svc[version]


def svc2():
    return svc(2)


def fault(error, fn, *args, **kw):
    """Calls a zeep operation that must fail with the Server fault `error`
    (one code or a tuple); returns the code received."""
    try:
        r = fn(*args, **kw)
    except zeep.exceptions.Fault as f:
        assert (f.code or "").split(":")[-1] == "Server", "faultcode %r" % f.code
        assert f.detail is not None, "fault without detail: %s" % f.message
        e = f.detail.find("errorCode")
        got = e.text if e is not None else None
        want = error if isinstance(error, tuple) else (error,)
        assert got in want, "errorCode %r (%s), expected %s" % (
            got, f.message, "/".join(want))
        lm = f.detail.find("localizedMessage")
        assert lm is not None and lm.text == english(got), \
            "localizedMessage %r" % (None if lm is None else lm.text)
        assert f.message == english(got), "faultstring %r" % f.message
        return got
    raise AssertionError("expected fault %s, got an answer: %r" % (error, r))


def as_list(r, name):
    if r is None:
        return []
    if isinstance(r, list):
        return r
    v = getattr(r, name, None)
    return list(v or [])


def b64(b):
    if isinstance(b, str):
        b = b.encode("utf-8")
    return base64.b64encode(b).decode("ascii")


def now_ms():
    return int(time.time() * 1000)


# --- the database (read-only) -------------------------------------------------------------

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


def codes_of(aid):
    return q("SELECT * FROM pa_recovery_code WHERE activation_id = ? ORDER BY id", aid)


def code_row(cid):
    r = q("SELECT * FROM pa_recovery_code WHERE id = ?", cid)
    assert len(r) == 1, "recovery code %s: %d rows" % (cid, len(r))
    return r[0]


def puks(cid):
    return q("SELECT * FROM pa_recovery_puk WHERE recovery_code_id = ? "
             "ORDER BY puk_index", cid)


def puk_states(cid):
    return [p["status"] for p in puks(cid)]


def config_rows(app_id):
    return q("SELECT * FROM pa_recovery_config WHERE application_id = ?", app_id)


# --- crypto (CRYPTO.md 2, 3, 12, 14) ----------------------------------------------------

def reduce16(b):
    assert len(b) == 32
    return bytes(b[i] ^ b[i + 16] for i in range(16))


def hm(k, m):
    return hmac.new(k, m, hashlib.sha256).digest()


def next_ctr(ctr_b64, n=1):
    h = base64.b64decode(ctr_b64)
    for _ in range(n):
        h = reduce16(hashlib.sha256(h).digest())
    return b64(h)


def aes_block(k, blk):
    e = Cipher(algorithms.AES(k), modes.ECB()).encryptor()
    return e.update(blk) + e.finalize()


def kdf(k, index):
    """2.8: the first AES-CBC block with PKCS#7 padding of the index."""
    if len(index) < 16:
        p = 16 - len(index)
        index = index + bytes([p]) * p
    return aes_block(k, index[:16])


def kdf_n(k, n):
    return kdf(k, n.to_bytes(16, "big"))


def kdf_x963(z, info, length):
    out, i = b"", 1
    while len(out) < length:
        out += hashlib.sha256(z + i.to_bytes(4, "big") + info).digest()
        i += 1
    return out[:length]


def cbc_dec(k, iv, m):
    d = Cipher(algorithms.AES(k), modes.CBC(iv)).decryptor()
    return d.update(m) + d.finalize()


def priv_of(b64_bigint):
    return ec.derive_private_key(int.from_bytes(base64.b64decode(b64_bigint), "big"),
                                 ec.SECP256R1())


def pub_of(b64_point):
    return ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), base64.b64decode(b64_point))


def pub_b64(key):
    if hasattr(key, "public_key"):
        key = key.public_key()
    return b64(key.public_bytes(serialization.Encoding.X962,
                                serialization.PublicFormat.UncompressedPoint))


def master_secret(state):
    z = priv_of(state["devicePrivateKey"]).exchange(ec.ECDH(),
                                                   pub_of(state["serverPublicKey"]))
    return reduce16(z)


def crc16_arc(data):
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def code_from_bytes(r10):
    """4.3 steps 1-4."""
    b = r10 + crc16_arc(r10).to_bytes(2, "big")
    s = base64.b32encode(b).decode("ascii").rstrip("=")
    assert len(s) == 20, s
    return "-".join(s[i:i + 5] for i in range(0, 20, 5))


def code_valid(code):
    if not re.match(r"^[A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{5}$", code or ""):
        return False
    raw = base64.b32decode(code.replace("-", "") + "====")
    return crc16_arc(raw[:10]) == int.from_bytes(raw[10:12], "big")


def derive_recovery(secret, nonce, indexes):
    """12.1 as the printing centre runs it: (code, [PUK per index])."""
    d = kdf_x963(secret, nonce, 26)
    code = code_from_bytes(d[:10])
    base = d[10:26]
    out = []
    for idx in indexes:
        k = kdf(base, (idx & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "big"))
        v = int.from_bytes(k[8:16], "big") & 0xFFFFFFFFFF
        out.append("%010d" % (v % 10 ** 10))
    return code, out


def masked(code):
    return "XXXXX-XXXXX-XXXXX-" + code[18:23]


# --- padevice ---------------------------------------------------------------------------

WORK = tempfile.mkdtemp(prefix="pa-v2r-")


class Device:
    n = 0
    lock = threading.Lock()

    def __init__(self, app, protocol="2.1"):
        with Device.lock:
            Device.n += 1
            n = Device.n
        self.state_path = os.path.join(WORK, "dev%d.json" % n)
        self.app = app
        out = self.run("init", application_key=app.key, application_secret=app.secret,
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


class App:
    def __init__(self, name):
        r = svc().CreateApplication(applicationName=name)
        self.id = r.applicationId
        d = svc().GetApplicationDetail(applicationId=self.id)
        self.master = d.masterPublicKey
        v = d.versions[0]
        self.key, self.secret = v.applicationKey, v.applicationSecret


APPS = {}
_uid = [0]


def uid(what):
    _uid[0] += 1
    return "%s-%s-%d" % (TAG, what, _uid[0])


# --- protocol-2 activation ---------------------------------------------------------------

class V2Act:
    """A protocol-2 activation made through the v2 namespace, then committed."""

    def __init__(self, app, custom=False, commit=True):
        self.app, self.user = app, uid("u2")
        self.dev = Device(app, "2.1")
        if custom:
            identity, otp = uid("ident"), "otp-%d" % os.getpid()
            req = self.dev.run("v2-create-activation", identity=identity,
                               activation_otp=otp, name="v2 custom")
            r = svc2().CreateActivation(
                userId=self.user, applicationId=app.id, identity=req["identity"],
                activationOtp=req["activationOtp"], activationName=req["activationName"],
                extras=req.get("extras"), activationNonce=req["activationNonce"],
                ephemeralPublicKey=req["ephemeralPublicKey"],
                encryptedDevicePublicKey=req["encryptedDevicePublicKey"],
                applicationKey=req["applicationKey"],
                applicationSignature=req["applicationSignature"])
            self.id = r.activationId
            self.expect = [(CREATED, None, None), (PENDING_COMMIT, None, None)]
        else:
            init = svc().InitActivation(userId=self.user, applicationId=app.id)
            self.id = init.activationId
            req = self.dev.run("v2-prepare-activation",
                               activation_code=init.activationCode, name="v2 phone")
            assert req["activationIdShort"] == init.activationCode[:11], req
            r = svc2().PrepareActivation(
                activationIdShort=req["activationIdShort"],
                activationName=req["activationName"], extras=req.get("extras"),
                activationNonce=req["activationNonce"],
                ephemeralPublicKey=req["ephemeralPublicKey"],
                encryptedDevicePublicKey=req["encryptedDevicePublicKey"],
                applicationKey=req["applicationKey"],
                applicationSignature=req["applicationSignature"])
            assert r.activationId == self.id, (r.activationId, self.id)
            self.expect = [(CREATED, None, None), (PENDING_COMMIT, None, None)]
        assert is_uuid4(self.id), self.id
        assert len(b64_bytes(r.activationNonce)) == 16, r.activationNonce
        assert len(b64_bytes(r.ephemeralPublicKey)) == 65, r.ephemeralPublicKey
        assert len(b64_bytes(r.encryptedServerPublicKey)) == 96, \
            r.encryptedServerPublicKey
        ar = self.dev.run("v2-activation-response", activation_id=r.activationId,
                          activation_nonce=r.activationNonce,
                          ephemeral_public_key=r.ephemeralPublicKey,
                          encrypted_server_public_key=r.encryptedServerPublicKey,
                          encrypted_server_public_key_signature=(
                              r.encryptedServerPublicKeySignature))
        assert ar["activationId"] == self.id, ar
        x = row(self.id)
        assert x["activation_status"] == PENDING_COMMIT, x["activation_status"]
        assert x["version"] == 2, "version %r after the v2 key exchange" % x["version"]
        assert x["ctr_data"] is None, "ctr_data %r, expected NULL" % x["ctr_data"]
        assert x["counter"] == 0, x["counter"]
        assert x["platform"] is None, "platform %r, v2 leaves NULL" % x["platform"]
        assert x["device_public_key_base64"] == self.dev.state().get(
            "devicePublicKey", x["device_public_key_base64"])
        assert hist(self.id) == self.expect, hist(self.id)
        if commit:
            self.commit()

    def commit(self):
        c = svc().CommitActivation(activationId=self.id)
        assert c.activated is True, c
        x = row(self.id)
        assert x["activation_status"] == ACTIVE and x["version"] == 2, x
        self.expect.append((ACTIVE, None, None))
        assert hist(self.id) == self.expect, hist(self.id)

    def sign(self, stype="possession_knowledge", uri="/pa/signature/validate",
             body="hello", **kw):
        return self.dev.run("sign", method="POST", uri_id=uri, body=body,
                            signature_type=stype, **kw)

    def verify(self, sg, **over):
        f = dict(activationId=self.id, applicationKey=self.app.key, data=sg["data"],
                 signature=sg["signature"], signatureType=sg["signatureType"],
                 signatureVersion=sg["signatureVersion"])
        f.update(over)
        return svc().VerifySignature(**f)


def check_audit_last(aid, sg, secret, version, sver, ok=True):
    a = audits(aid)[-1]
    x = row(aid)
    assert a["activation_counter"] == x["counter"], (a["activation_counter"], x["counter"])
    assert a["activation_ctr_data"] == x["ctr_data"], (a["activation_ctr_data"],
                                                       x["ctr_data"])
    assert a["data_base64"] == b64(sg["data"] + "&" + secret), a["data_base64"]
    assert a["signature"] == sg["signature"], a["signature"]
    assert a["signature_version"] == sver, a["signature_version"]
    assert a["version"] == version, "audit version %r, expected %r" % (a["version"],
                                                                       version)
    assert bool(a["valid"]) == ok and a["note"] == (
        "signature_ok" if ok else "signature_does_not_match"), (a["valid"], a["note"])
    return a


# --- tests: protocol 2 --------------------------------------------------------------------

@T.test
def setup():
    assert DB and os.path.exists(DB), "PA_ITEST_DB %r" % DB
    assert PADEVICE and os.access(PADEVICE, os.X_OK), "PADEVICE %r" % PADEVICE
    APPS["v2"] = App(uid("app-v2"))
    APPS["rec"] = App(uid("app-rec"))
    APPS["other"] = App(uid("app-other"))
    left = sorted(scheduled())
    if left:
        print("SKIP-NOTE v2recovery: still SCHEDULED in src/handlers/scheduled.c, "
              "their tests are skipped: %s" % ", ".join(left))


STATE = {}


@T.test
def printing_centre_derivation_matches_b7():
    """The Python derivation used as the printing centre, on CRYPTO.md B.7."""
    d = kdf_x963(bytes(16), bytes(32), 26)
    assert d.hex() == "f8e8bd6f28850927a1f247e2803e32a66fa7d3e873284d9d6140", d.hex()
    code, pk = derive_recovery(bytes(16), bytes(32), [0, 1, -1, -2 ** 63, 2 ** 63 - 1])
    assert code == "7DUL2-3ZIQU-ESPIP-SWL7Q", code
    assert pk == ["0267844524", "6038831556", "1455645727", "7399822632",
                  "0007728886"], pk
    assert code_valid(code) and not code_valid("7DUL2-3ZIQU-ESPIP-SWL7A")


@T.test
def v2_prepare_activation_and_commit():
    a = V2Act(APPS["v2"])
    STATE["a"] = a
    assert a.dev.state().get("version", 2) in (2, "2"), a.dev.state().get("version")


@T.test
def v2_create_activation_and_commit():
    a = V2Act(APPS["v2"], custom=True)
    STATE["custom"] = a
    x = row(a.id)
    assert x["user_id"] == a.user and x["application_id"] == APPS["v2"].id, x


@T.test
def v2_faults():
    s2 = svc2()
    dev = Device(APPS["v2"], "2.1")
    init = svc().InitActivation(userId=uid("u2f"), applicationId=APPS["v2"].id)
    req = dev.run("v2-prepare-activation", activation_code=init.activationCode)
    base = dict(activationIdShort=req["activationIdShort"],
                activationName=req["activationName"],
                activationNonce=req["activationNonce"],
                ephemeralPublicKey=req["ephemeralPublicKey"],
                encryptedDevicePublicKey=req["encryptedDevicePublicKey"],
                applicationKey=req["applicationKey"],
                applicationSignature=req["applicationSignature"])
    # wrong application signature: ERR0007, nothing changes (14.1 step 6)
    bad = dict(base, applicationSignature=b64(os.urandom(32)))
    fault("ERR0007", s2.PrepareActivation, **bad)
    assert row(init.activationId)["activation_status"] == CREATED
    # an unknown short id: ERR0009
    fault("ERR0009", s2.PrepareActivation, **dict(base, activationIdShort="AAAAA-AAAAA"))
    # an SQL LIKE pattern is not a short id (14.1 step 2 security note)
    fault(("ERR0009", "ERR0024"), s2.PrepareActivation,
          **dict(base, activationIdShort="%"))
    assert row(init.activationId)["activation_status"] == CREATED, \
        "a LIKE pattern reached the pending activation"
    # an unknown application key: ERR0007 (14.1 step 1)
    fault("ERR0007", s2.PrepareActivation, **dict(base, applicationKey=b64(os.urandom(16))))
    # the good request still works
    r = s2.PrepareActivation(**base)
    assert r.activationId == init.activationId
    # v2 CreateToken / VaultUnlock on an unknown activation
    fault("ERR0009", s2.CreateToken, activationId="00000000-0000-4000-8000-000000000000",
          signatureType="POSSESSION", ephemeralPublicKey=req["ephemeralPublicKey"])
    # v2 personalized key: not ACTIVE (PENDING_COMMIT) -> ERR0009 (14.5)
    fault("ERR0009", s2.GetPersonalizedEncryptionKey, activationId=init.activationId,
          sessionIndex=b64(os.urandom(16)))


@T.test
def v2_signatures_numeric_counter():
    a = STATE["a"]
    x0 = row(a.id)
    for i, stype in enumerate(("possession_knowledge", "possession",
                               "possession_biometry")):
        sg = a.sign(stype)
        assert sg["signatureVersion"] == "2.1", sg
        assert re.match(r"^\d{8}-\d{8}$|^\d{8}$", sg["signature"]), sg["signature"]
        n = len(audits(a.id))
        r = a.verify(sg)
        assert r.signatureValid is True, r
        assert r.activationStatus == "ACTIVE" and r.activationId == a.id, r
        assert r.userId == a.user and r.applicationId == a.app.id, r
        x = row(a.id)
        assert x["counter"] == x0["counter"] + i + 1, x["counter"]
        assert x["ctr_data"] is None and x["version"] == 2, x
        assert len(audits(a.id)) == n + 1
        check_audit_last(a.id, sg, a.app.secret, 2, "2.1")
    # a wrong signature: failed attempt, counter unchanged; then the right
    # one at the same position
    sg = a.sign()
    c = row(a.id)["counter"]
    bad = sg["signature"][:-1] + str((int(sg["signature"][-1]) + 1) % 10)
    r = a.verify(sg, signature=bad)
    assert r.signatureValid is False, r
    x = row(a.id)
    assert x["counter"] == c and x["failed_attempts"] == 1, x
    check_audit_last(a.id, dict(sg, signature=bad), a.app.secret, 2, "2.1", ok=False)
    r = a.verify(sg)
    assert r.signatureValid is True, r
    assert row(a.id)["failed_attempts"] == 0
    assert hist(a.id) == a.expect, "signatures wrote history: %r" % hist(a.id)


@T.test
def v2_vault_unlock():
    a = STATE["a"]
    c0 = row(a.id)["counter"]
    sg = a.sign("possession_knowledge", uri="/pa/vault/unlock", body="")
    n = len(audits(a.id))
    r = svc2().VaultUnlock(activationId=a.id, applicationKey=a.app.key, data=sg["data"],
                           signature=sg["signature"], signatureType=sg["signatureType"],
                           reason="FETCH_ENCRYPTION_KEY")
    assert r.signatureValid is True and r.activationStatus == "ACTIVE", r
    assert r.userId == a.user and r.activationId == a.id, r
    assert r.remainingAttempts == 5, r.remainingAttempts
    c_key = b64_bytes(r.encryptedVaultEncryptionKey)
    assert len(c_key) == 32, len(c_key)
    x = row(a.id)
    # the signature at c0 moves the counter to c0+1, the key is bound to
    # c0+1, and the counter ends at c0+2 (14.4)
    assert x["counter"] == c0 + 2, "counter %d, expected %d" % (x["counter"], c0 + 2)
    assert len(audits(a.id)) == n + 1
    # the audit row is the verification's (5.2): counter c0+1, before the
    # vault bump of 14.4
    au = audits(a.id)[-1]
    assert au["activation_counter"] == c0 + 1, \
        "audit counter %r, expected %d (after the signature, before the bump)" % (
            au["activation_counter"], c0 + 1)
    assert au["data_base64"] == b64(sg["data"] + "&" + a.app.secret)
    assert au["signature_version"] == "2.1" and au["version"] == 2, au
    assert au["note"] == "signature_ok" and au["valid"] == 1, au
    # the key, computed here: KDF(KEY_TRANSPORT, IDX(c0+1)), AES-CBC zero IV
    kms = master_secret(a.dev.state())
    kt = kdf_n(kms, 1000)
    plain = cbc_dec(kdf_n(kt, c0 + 1), bytes(16), c_key)
    assert plain[:16] == kdf_n(kms, 2000), "the vault key is not KEY_ENCRYPTION_VAULT"
    out = a.dev.run("v2-vault-response", encrypted_vault_encryption_key=(
        r.encryptedVaultEncryptionKey))
    assert out.get("vaultUnlocked") is True, out
    # 1FA is refused (14.4 step 1)
    sg1 = a.sign("possession", uri="/pa/vault/unlock", body="", no_advance=True)
    fault("ERR0012", svc2().VaultUnlock, activationId=a.id, applicationKey=a.app.key,
          data=sg1["data"], signature=sg1["signature"], signatureType="POSSESSION")
    # a wrong signature still moves the counter on (14.4)
    c1 = row(a.id)["counter"]
    sgw = a.sign("possession_knowledge", uri="/pa/vault/unlock", body="")
    r = svc2().VaultUnlock(activationId=a.id, applicationKey=a.app.key, data=sgw["data"],
                           signature="00000000-00000000",
                           signatureType="POSSESSION_KNOWLEDGE")
    assert r.signatureValid is False and r.encryptedVaultEncryptionKey is None, r
    assert r.remainingAttempts == 4, r.remainingAttempts
    x = row(a.id)
    assert x["counter"] == c1 + 1 and x["failed_attempts"] == 1, x
    # the phone and the server agree on the counter again
    r = a.verify(a.sign())
    assert r.signatureValid is True, r
    assert hist(a.id) == a.expect, "vault unlock wrote history"


@T.test
def v2_create_token_then_v3_validate():
    a = STATE["a"]
    req = a.dev.run("v2-token-request")
    r = svc2().CreateToken(activationId=a.id, signatureType="POSSESSION_KNOWLEDGE",
                           ephemeralPublicKey=req["ephemeralPublicKey"])
    tok = a.dev.run("v2-token-response", encrypted_data=r.encryptedData, mac=r.mac)
    assert is_uuid4(tok["tokenId"]), tok
    t = q("SELECT * FROM pa_token WHERE token_id = ?", tok["tokenId"])
    assert len(t) == 1 and t[0]["activation_id"] == a.id, t
    assert t[0]["signature_type"] == "POSSESSION_KNOWLEDGE", t[0]
    assert t[0]["token_secret"] == tok["tokenSecret"], "token secret differs"
    dg = a.dev.run("token-digest", token_id=tok["tokenId"])
    v = svc().ValidateToken(tokenId=tok["tokenId"], tokenDigest=dg["tokenDigest"],
                            nonce=dg["nonce"], timestamp=int(dg["timestamp"]))
    assert v.tokenValid is True and v.activationId == a.id and v.userId == a.user, v
    assert v.signatureType == "POSSESSION_KNOWLEDGE", v
    STATE["v2token"] = tok["tokenId"]


@T.test
def v2_encryption_keys():
    a = STATE["a"]
    s2 = svc2()
    kt = kdf_n(master_secret(a.dev.state()), 1000)
    idx = os.urandom(16)
    r = s2.GetPersonalizedEncryptionKey(activationId=a.id, sessionIndex=b64(idx))
    assert r.activationId == a.id and r.encryptionKeyIndex == b64(idx), r
    assert b64_bytes(r.encryptionKey) == reduce16(hm(idx, kt)), \
        "personalized key is not KDF_INTERNAL_LEGACY(KEY_TRANSPORT, index)"
    # an index that is not 16 bytes is replaced by a random one (14.5)
    r = s2.GetPersonalizedEncryptionKey(activationId=a.id, sessionIndex=b64(b"short"))
    idx2 = b64_bytes(r.encryptionKeyIndex)
    assert len(idx2) == 16 and idx2 != b"short", r
    assert b64_bytes(r.encryptionKey) == reduce16(hm(idx2, kt))
    # non-personalized: ECDH16(master private, ephemeral) with the legacy KDF
    eph = ec.generate_private_key(ec.SECP256R1())
    m = reduce16(eph.exchange(ec.ECDH(), pub_of(a.app.master)))
    r = s2.GetNonPersonalizedEncryptionKey(applicationKey=a.app.key,
                                           sessionIndex=b64(idx),
                                           ephemeralPublicKey=pub_b64(eph))
    assert r.applicationKey == a.app.key and r.applicationId == a.app.id, r
    assert r.ephemeralPublicKey == pub_b64(eph) and r.encryptionKeyIndex == b64(idx), r
    assert b64_bytes(r.encryptionKey) == reduce16(hm(idx, m)), \
        "non-personalized key is not KDF_INTERNAL_LEGACY(ECDH16(master, eph), index)"
    fault("ERR0015", s2.GetNonPersonalizedEncryptionKey,
          applicationKey=b64(os.urandom(16)), sessionIndex=b64(idx),
          ephemeralPublicKey=pub_b64(eph))


# --- tests: upgrade ----------------------------------------------------------------------

@T.test
def upgrade_faults_before_start():
    a = STATE["custom"]
    fault("ERR0008", svc().CommitUpgrade, activationId=a.id, applicationKey=a.app.key)
    fault("ERR0009", svc().CommitUpgrade,
          activationId="00000000-0000-4000-8000-000000000000", applicationKey=a.app.key)
    x = row(a.id)
    assert x["version"] == 2 and x["ctr_data"] is None, x


def start_upgrade(a):
    req = a.dev.run("upgrade-request")
    r = svc().StartUpgrade(activationId=a.id, applicationKey=req["applicationKey"],
                           ephemeralPublicKey=req["ephemeralPublicKey"],
                           encryptedData=req["encryptedData"], mac=req["mac"],
                           nonce=req.get("nonce"))
    return r


@T.test
def upgrade_to_protocol_3():
    a = STATE["a"]
    a.dev.run("set-protocol", protocol="3.1")
    x0 = row(a.id)
    h0 = hist(a.id)
    assert x0["ctr_data"] is None and x0["version"] == 2
    st0 = a.dev.state()
    req1 = a.dev.run("upgrade-request")
    r1 = start_upgrade(a)
    x1 = row(a.id)
    assert x1["ctr_data"] is not None and len(b64_bytes(x1["ctr_data"])) == 16, x1
    assert x1["version"] == 2 and x1["counter"] == x0["counter"], x1
    assert x1["failed_attempts"] == x0["failed_attempts"]
    # a repeated start (lost answer): the same ctrData (13.1 step 4)
    with open(a.dev.state_path, "w") as f:
        json.dump(st0, f)
    r2 = start_upgrade(a)
    assert r2.encryptedData != r1.encryptedData, "same ECIES answer twice"
    assert row(a.id)["ctr_data"] == x1["ctr_data"], "StartUpgrade regenerated ctrData"
    out = a.dev.run("upgrade-response", encrypted_data=r2.encryptedData, mac=r2.mac)
    assert out["activationId"] == a.id, out
    assert a.dev.state()["ctrData"] == x1["ctr_data"], "the phone got another ctrData"
    assert hist(a.id) == h0, "StartUpgrade wrote history"
    # CommitUpgrade before the commit signature is allowed (it checks no
    # signature) - but we follow the protocol: forced version 3 first
    sg = a.dev.run("sign", method="POST", uri_id="/pa/upgrade/commit", body="",
                   signature_type="possession")
    assert sg["signatureVersion"] == "3.1", sg
    n = len(audits(a.id))
    r = svc().VerifySignature(activationId=a.id, applicationKey=a.app.key,
                              data=sg["data"], signature=sg["signature"],
                              signatureType=sg["signatureType"],
                              signatureVersion=sg["signatureVersion"],
                              forcedSignatureVersion=3)
    assert r.signatureValid is True, r
    x2 = row(a.id)
    assert x2["ctr_data"] == next_ctr(x1["ctr_data"]), "ctr_data not advanced by one step"
    assert x2["version"] == 2, "version %r before CommitUpgrade" % x2["version"]
    assert x2["counter"] == x1["counter"] + 1, (x2["counter"], x1["counter"])
    assert len(audits(a.id)) == n + 1
    check_audit_last(a.id, sg, a.app.secret, 3, "3.1")
    c = svc().CommitUpgrade(activationId=a.id, applicationKey=a.app.key)
    assert (c if isinstance(c, bool) else c.committed) is True, c
    x3 = row(a.id)
    assert x3["version"] == 3, x3["version"]
    assert x3["ctr_data"] == x2["ctr_data"] and x3["counter"] == x2["counter"], x3
    assert hist(a.id) == h0, "the upgrade wrote history: %r" % hist(a.id)[len(h0):]
    # a second commit / start: ERR0008 (version is 3)
    fault("ERR0008", svc().CommitUpgrade, activationId=a.id, applicationKey=a.app.key)
    req = req1                  # an old request replayed
    fault("ERR0008", svc().StartUpgrade, activationId=a.id,
          applicationKey=req["applicationKey"],
          ephemeralPublicKey=req["ephemeralPublicKey"],
          encryptedData=req["encryptedData"], mac=req["mac"], nonce=req.get("nonce"))
    # from now on: protocol 3, BASE64 3.1 with the hash counter
    for stype in ("possession_knowledge", "possession_knowledge_biometry"):
        sg = a.sign(stype)
        assert sg["signatureVersion"] == "3.1", sg
        assert re.match(r"^[A-Za-z0-9+/]+={0,2}$", sg["signature"]), sg["signature"]
        before = row(a.id)
        r = a.verify(sg)
        assert r.signatureValid is True, r
        x = row(a.id)
        assert x["ctr_data"] == next_ctr(before["ctr_data"]), "ctr_data"
        assert x["counter"] == before["counter"] + 1
        check_audit_last(a.id, sg, a.app.secret, 3, "3.1")
    # the v2 token still validates
    dg = a.dev.run("token-digest", token_id=STATE["v2token"])
    v = svc().ValidateToken(tokenId=STATE["v2token"], tokenDigest=dg["tokenDigest"],
                            nonce=dg["nonce"], timestamp=int(dg["timestamp"]))
    assert v.tokenValid is True, v
    # the status blob reports version 3
    st = svc().GetActivationStatus(activationId=a.id)
    assert st.activationStatus == "ACTIVE", st
    assert hist(a.id) == h0


@T.test
def upgrade_forced_version_without_ctr_data_stays_numeric():
    """forcedSignatureVersion=3 without ctrData: the numeric counter (8.8)."""
    a = STATE["custom"]
    sg = a.sign("possession_knowledge")
    c0 = row(a.id)["counter"]
    r = svc().VerifySignature(activationId=a.id, applicationKey=a.app.key,
                              data=sg["data"], signature=sg["signature"],
                              signatureType=sg["signatureType"],
                              signatureVersion=sg["signatureVersion"],
                              forcedSignatureVersion=3)
    assert r.signatureValid is True, r
    x = row(a.id)
    assert x["ctr_data"] is None and x["version"] == 2 and x["counter"] == c0 + 1, x
    check_audit_last(a.id, sg, a.app.secret, 2, "2.1")


# --- tests: recovery ---------------------------------------------------------------------

PRINTING = {}


@T.test
def recovery_config():
    need("GetRecoveryConfig", "UpdateRecoveryConfig")
    app = APPS["rec"]
    g = svc().GetRecoveryConfig(applicationId=app.id)
    assert g.applicationId == app.id, g
    assert (g.activationRecoveryEnabled, g.recoveryPostcardEnabled,
            g.allowMultipleRecoveryCodes) == (False, False, False), g
    rows = config_rows(app.id)
    assert len(rows) == 1, "GetRecoveryConfig created %d config rows" % len(rows)
    # a remote key that is not a P-256 point: ERR0010 (DATABASE.md 5.8)
    fault("ERR0010", svc().UpdateRecoveryConfig, applicationId=app.id,
          activationRecoveryEnabled=True, recoveryPostcardEnabled=True,
          allowMultipleRecoveryCodes=False, remotePostcardPublicKey=b64(b"\x04" + bytes(64)))
    pc = ec.generate_private_key(ec.SECP256R1())
    PRINTING["priv"] = pc
    u = svc().UpdateRecoveryConfig(applicationId=app.id, activationRecoveryEnabled=True,
                                   recoveryPostcardEnabled=True,
                                   allowMultipleRecoveryCodes=True,
                                   remotePostcardPublicKey=pub_b64(pc))
    assert (u if isinstance(u, bool) else u.updated) is True, u
    g = svc().GetRecoveryConfig(applicationId=app.id)
    assert (g.activationRecoveryEnabled, g.recoveryPostcardEnabled,
            g.allowMultipleRecoveryCodes) == (True, True, True), g
    assert g.remotePostcardPublicKey == pub_b64(pc), g.remotePostcardPublicKey
    assert len(b64_bytes(g.postcardPublicKey)) == 65, g.postcardPublicKey
    pub_of(g.postcardPublicKey)
    PRINTING["server"] = g.postcardPublicKey
    rows = config_rows(app.id)
    assert len(rows) == 1, rows
    r = rows[0]
    assert (r["activation_recovery_enabled"], r["recovery_postcard_enabled"],
            r["allow_multiple_recovery_codes"]) == (1, 1, 1), r
    assert r["postcard_public_key_base64"] == g.postcardPublicKey
    assert r["remote_public_key_base64"] == pub_b64(pc)
    assert priv_of(r["postcard_private_key_base64"]).public_key().public_numbers() == \
        pub_of(g.postcardPublicKey).public_numbers(), "postcard private/public mismatch"
    # the pair is generated once: a second update keeps it; absent remote key
    # = unchanged
    svc().UpdateRecoveryConfig(applicationId=app.id, activationRecoveryEnabled=True,
                               recoveryPostcardEnabled=True,
                               allowMultipleRecoveryCodes=True)
    r2 = config_rows(app.id)[0]
    assert r2["postcard_public_key_base64"] == r["postcard_public_key_base64"]
    assert r2["remote_public_key_base64"] == pub_b64(pc)


class V3Act:
    """A protocol-3 activation through v3 PrepareActivation."""

    def __init__(self, app, user=None, commit=True):
        self.app = app
        self.user = user or uid("u3")
        init = svc().InitActivation(userId=self.user, applicationId=app.id)
        self.id = init.activationId
        self.dev = Device(app, "3.1")
        req = self.dev.run("prepare-activation", activation_code=init.activationCode,
                           platform="android")
        p = svc().PrepareActivation(activationCode=req["activationCode"],
                                    applicationKey=req["applicationKey"],
                                    ephemeralPublicKey=req["ephemeralPublicKey"],
                                    encryptedData=req["encryptedData"], mac=req["mac"],
                                    nonce=req.get("nonce"))
        self.ar = self.dev.run("activation-response", encrypted_data=p.encryptedData,
                               mac=p.mac)
        assert self.ar["activationId"] == self.id
        self.recovery = self.ar.get("activationRecovery")
        if commit:
            assert svc().CommitActivation(activationId=self.id).activated is True


def rca_request(dev):
    return dev.run("create-activation", platform="ios")


def rca(code, puk, req, **kw):
    return svc().RecoveryCodeActivation(recoveryCode=code, puk=puk,
                                        applicationKey=req["applicationKey"],
                                        ephemeralPublicKey=req["ephemeralPublicKey"],
                                        encryptedData=req["encryptedData"],
                                        mac=req["mac"], nonce=req.get("nonce"), **kw)


def rca_raw(code, puk, req, timeout=None):
    """RecoveryCodeActivation as a raw envelope; the answer as Answer.
    timeout: seconds for the answer (the parallel test waits for 16 Argon2
    verifications in a row on a small machine)."""
    fields = [("recoveryCode", code), ("puk", puk),
              ("applicationKey", req["applicationKey"]),
              ("ephemeralPublicKey", req["ephemeralPublicKey"]),
              ("encryptedData", req["encryptedData"]), ("mac", req["mac"]),
              ("nonce", req.get("nonce"))]
    if timeout is None:
        return call_raw("RecoveryCodeActivation", fields)
    return Answer(exchange(soap_post(envelope(op_xml("RecoveryCodeActivation", fields))),
                           timeout=timeout))


def raw_detail(ans, name):
    """The text of the unqualified detail child `name` (raw XML), which
    must come after errorCode and localizedMessage (12.5 step 5); None
    when absent."""
    body = ans.http.body.decode("utf-8")
    m = re.search(r"<(?:\w+:)?detail\b.*?</(?:\w+:)?detail>", body, re.S)
    assert m, "no <detail> in %r" % body[:400]
    ns = ans.envelope_ns()
    fl = ans.root.find("{%s}Body/{%s}Fault" % (ns, ns))
    det = fl.find("detail")
    tags = [c.tag for c in det]
    if name not in tags:
        assert not any(t.endswith("}" + name) for t in tags), \
            "<%s> is namespace-qualified: %r" % (name, tags)
        return None
    assert tags[:2] == ["errorCode", "localizedMessage"] and tags[2] == name, \
        "detail children %r" % tags
    m2 = re.search(r"<%s(?:\s[^>]*)?>([^<]*)</%s>" % (name, name), m.group(0))
    assert m2, "raw XML has no unprefixed <%s>: %r" % (name, m.group(0))
    return m2.group(1)


@T.test
def recovery_code_from_prepare_activation():
    need("GetRecoveryConfig", "UpdateRecoveryConfig")
    app = APPS["rec"]
    a = V3Act(app, commit=False)
    rec = a.recovery
    assert isinstance(rec, dict), "PrepareActivation returned no activationRecovery: %r" % (
        a.ar,)
    assert code_valid(rec["recoveryCode"]), rec
    assert re.match(r"^\d{10}$", rec["puk"]), rec
    cs = codes_of(a.id)
    assert len(cs) == 1, cs
    c = cs[0]
    assert c["recovery_code"] == rec["recoveryCode"] and c["user_id"] == a.user, c
    assert c["application_id"] == app.id and c["status"] == RC_CREATED, c
    assert c["failed_attempts"] == 0 and c["max_failed_attempts"] == 5, c
    p = puks(c["id"])
    assert [(x["puk_index"], x["status"]) for x in p] == [(1, PUK_VALID)], p
    assert p[0]["puk"].startswith("$argon2i$"), "PUK not stored as an Argon2i hash"
    assert rec["puk"] not in p[0]["puk"]
    assert svc().CommitActivation(activationId=a.id).activated is True
    assert code_row(c["id"])["status"] == RC_ACTIVE, "commit did not make the code ACTIVE"
    STATE["r1"] = (a, c["id"])
    # v3 CreateActivation issues one too (12.2), CREATED until the commit
    dev = Device(app, "3.1")
    req = dev.run("create-activation", platform="ios")
    cu = uid("ucust")
    r = svc().CreateActivation(userId=cu, applicationKey=req["applicationKey"],
                               ephemeralPublicKey=req["ephemeralPublicKey"],
                               encryptedData=req["encryptedData"], mac=req["mac"],
                               nonce=req.get("nonce"))
    ar = dev.run("activation-response", encrypted_data=r.encryptedData, mac=r.mac)
    rec2 = ar.get("activationRecovery")
    assert isinstance(rec2, dict) and code_valid(rec2["recoveryCode"]), ar
    cs = codes_of(r.activationId)
    assert len(cs) == 1 and cs[0]["status"] == RC_CREATED, cs
    assert cs[0]["recovery_code"] == rec2["recoveryCode"] and cs[0]["user_id"] == cu
    assert svc().CommitActivation(activationId=r.activationId).activated is True
    assert code_row(cs[0]["id"])["status"] == RC_ACTIVE


def confirm(a, code=None):
    req = a.dev.run("recovery-confirm-request", recovery_code=code)
    r = svc().ConfirmRecoveryCode(activationId=a.id, applicationKey=req["applicationKey"],
                                  ephemeralPublicKey=req["ephemeralPublicKey"],
                                  encryptedData=req["encryptedData"], mac=req["mac"],
                                  nonce=req.get("nonce"))
    assert r.activationId == a.id and r.userId == a.user, r
    out = a.dev.run("recovery-confirm-response", encrypted_data=r.encryptedData, mac=r.mac)
    return out["alreadyConfirmed"]


def postcard(user, n):
    app = APPS["rec"]
    r = svc().CreateRecoveryCode(applicationId=app.id, userId=user, pukCount=n)
    s = PRINTING["priv"].exchange(ec.ECDH(), pub_of(PRINTING["server"]))
    assert len(s) == 32
    nonce = b64_bytes(r.nonce)
    assert len(nonce) == 32, len(nonce)
    pl = as_list(r.puks, "puks") if not isinstance(r.puks, list) else r.puks
    assert [p.pukIndex for p in pl] == list(range(1, n + 1)), [p.pukIndex for p in pl]
    assert all(p.status == "VALID" for p in pl), pl
    code, pks = derive_recovery(s, nonce, [p.pukDerivationIndex for p in pl])
    assert r.recoveryCodeMasked == masked(code), \
        "recoveryCodeMasked %r, printing centre derives %r" % (r.recoveryCodeMasked, code)
    assert r.status == "CREATED" and r.userId == user, r
    c = code_row(r.recoveryCodeId)
    assert c["recovery_code"] == code, "stored code differs from the derivation"
    assert c["activation_id"] is None and c["status"] == RC_CREATED, c
    assert [(x["puk_index"], x["status"]) for x in puks(c["id"])] == \
        [(i, PUK_VALID) for i in range(1, n + 1)]
    assert len(set(pks)) == n, "PUKs not distinct"
    return r.recoveryCodeId, code, pks


@T.test
def confirm_recovery_code():
    need("UpdateRecoveryConfig", "ConfirmRecoveryCode", "CreateRecoveryCode")
    a, cid = STATE["r1"]
    # the activation's own code is ACTIVE already
    assert confirm(a) is True
    # a postcard of the same user: CREATED -> ACTIVE
    pid, code, pks = postcard(a.user, 3)
    assert confirm(a, code) is False
    assert code_row(pid)["status"] == RC_ACTIVE
    assert confirm(a, code) is True
    assert code_row(pid)["status"] == RC_ACTIVE
    STATE["postcard"] = (pid, code, pks, a.user)
    # an invalid code (CRC) -> ERR0024; unknown valid code -> ERR0027
    req = a.dev.run("recovery-confirm-request", recovery_code="AAAAA-AAAAA-AAAAA-AAAAB")
    fault(("ERR0024", "ERR0027"), svc().ConfirmRecoveryCode, activationId=a.id,
          applicationKey=req["applicationKey"],
          ephemeralPublicKey=req["ephemeralPublicKey"],
          encryptedData=req["encryptedData"], mac=req["mac"], nonce=req.get("nonce"))
    req = a.dev.run("recovery-confirm-request", recovery_code="VVVVV-VVVVV-VVVVV-VTFVA")
    fault("ERR0027", svc().ConfirmRecoveryCode, activationId=a.id,
          applicationKey=req["applicationKey"],
          ephemeralPublicKey=req["ephemeralPublicKey"],
          encryptedData=req["encryptedData"], mac=req["mac"], nonce=req.get("nonce"))


@T.test
def create_recovery_code_faults():
    need("UpdateRecoveryConfig", "CreateRecoveryCode")
    app = APPS["rec"]
    for n in (0, 101):
        fault("ERR0024", svc().CreateRecoveryCode, applicationId=app.id,
              userId=uid("u"), pukCount=n)
    # postcards not enabled in another application
    fault("ERR0024", svc().CreateRecoveryCode, applicationId=APPS["other"].id,
          userId=uid("u"), pukCount=1)


@T.test
def postcard_rules_single_code_and_keys():
    """12.3 step 1: no remote key -> ERR0029; without allowMultiple a user
    may hold one live postcard code (an activation-bound code does not
    count) -> ERR0025 for the second, nothing stored."""
    need("UpdateRecoveryConfig", "CreateRecoveryCode", "RevokeRecoveryCodes")
    app = APPS["other"]
    svc().UpdateRecoveryConfig(applicationId=app.id, activationRecoveryEnabled=True,
                               recoveryPostcardEnabled=True,
                               allowMultipleRecoveryCodes=False)
    user = uid("usingle")
    fault("ERR0029", svc().CreateRecoveryCode, applicationId=app.id, userId=user,
          pukCount=1)
    assert not q("SELECT id FROM pa_recovery_code WHERE user_id = ?", user)
    pc = ec.generate_private_key(ec.SECP256R1())
    svc().UpdateRecoveryConfig(applicationId=app.id, activationRecoveryEnabled=True,
                               recoveryPostcardEnabled=True,
                               allowMultipleRecoveryCodes=False,
                               remotePostcardPublicKey=pub_b64(pc))
    a = V3Act(app, user=user)
    assert isinstance(a.recovery, dict), "no activationRecovery: %r" % (a.ar,)
    assert codes_of(a.id)[0]["status"] == RC_ACTIVE
    r = svc().CreateRecoveryCode(applicationId=app.id, userId=user, pukCount=1)
    assert r.status == "CREATED"
    n = len(q("SELECT id FROM pa_recovery_code WHERE user_id = ?", user))
    fault("ERR0025", svc().CreateRecoveryCode, applicationId=app.id, userId=user,
          pukCount=1)
    assert len(q("SELECT id FROM pa_recovery_code WHERE user_id = ?", user)) == n
    # once revoked, a new postcard is allowed again
    svc().RevokeRecoveryCodes(recoveryCodeIds=[r.recoveryCodeId])
    svc().CreateRecoveryCode(applicationId=app.id, userId=user, pukCount=1)
    # an empty remote key removes it (DATABASE.md 5.8): ERR0029 again
    svc().UpdateRecoveryConfig(applicationId=app.id, activationRecoveryEnabled=True,
                               recoveryPostcardEnabled=True,
                               allowMultipleRecoveryCodes=True,
                               remotePostcardPublicKey="")
    assert config_rows(app.id)[0]["remote_public_key_base64"] is None
    fault("ERR0029", svc().CreateRecoveryCode, applicationId=app.id, userId=uid("u"),
          pukCount=1)
    # recovery off: ConfirmRecoveryCode and RecoveryCodeActivation -> ERR0024
    svc().UpdateRecoveryConfig(applicationId=app.id, activationRecoveryEnabled=False,
                               recoveryPostcardEnabled=False,
                               allowMultipleRecoveryCodes=False)
    if "ConfirmRecoveryCode" not in scheduled():
        req = a.dev.run("recovery-confirm-request")
        fault("ERR0024", svc().ConfirmRecoveryCode, activationId=a.id,
              applicationKey=req["applicationKey"],
              ephemeralPublicKey=req["ephemeralPublicKey"],
              encryptedData=req["encryptedData"], mac=req["mac"], nonce=req.get("nonce"))
    if "RecoveryCodeActivation" not in scheduled():
        dev = Device(app, "3.1")
        fault("ERR0024", rca, a.recovery["recoveryCode"], a.recovery["puk"],
              rca_request(dev))
        c = codes_of(a.id)[0]
        assert c["status"] == RC_ACTIVE and c["failed_attempts"] == 0, c
        assert puk_states(c["id"]) == [PUK_VALID]
    assert row(a.id)["activation_status"] == ACTIVE


@T.test
def recovery_code_activation_unknown_code():
    need("RecoveryCodeActivation")
    dev = Device(APPS["rec"], "3.1")
    fault("ERR0024", rca, "VVVVV-VVVVV-VVVVV-VTFVA", "0123456789", rca_request(dev))


@T.test
def recovery_code_activation_bound_code():
    need("UpdateRecoveryConfig", "RecoveryCodeActivation")
    a, cid = STATE["r1"]
    code, puk = a.recovery["recoveryCode"], a.recovery["puk"]
    dev = Device(APPS["rec"], "3.1")
    wrong = "%010d" % ((int(puk) + 1) % 10 ** 10)
    ans = rca_raw(code, wrong, rca_request(dev))
    check_fault(ans, error="ERR0028")
    assert raw_detail(ans, "currentRecoveryPukIndex") == "1", ans.http.body[:600]
    c = code_row(cid)
    assert c["failed_attempts"] == 1 and c["status"] == RC_ACTIVE, c
    assert puk_states(cid) == [PUK_VALID]
    r = rca(code, puk, rca_request(dev))
    assert r.userId == a.user and is_uuid4(r.activationId) and r.activationId != a.id, r
    ar = dev.run("activation-response", encrypted_data=r.encryptedData, mac=r.mac)
    assert ar["activationId"] == r.activationId
    new_rec = ar.get("activationRecovery")
    assert isinstance(new_rec, dict) and new_rec["recoveryCode"] != code, new_rec
    # the old activation REMOVED (history: REMOVED, NULL, NULL), its codes REVOKED
    old = row(a.id)
    assert old["activation_status"] == REMOVED, old["activation_status"]
    assert hist(a.id)[-1] == (REMOVED, None, None), hist(a.id)
    c = code_row(cid)
    assert c["status"] == RC_REVOKED and c["failed_attempts"] == 0, c
    assert puk_states(cid) == [PUK_USED], puk_states(cid)
    # the new activation: PENDING_COMMIT, its code CREATED; commit -> ACTIVE
    x = row(r.activationId)
    assert x["activation_status"] == PENDING_COMMIT and x["user_id"] == a.user, x
    assert [h[0] for h in hist(r.activationId)] == [CREATED, PENDING_COMMIT]
    nc = codes_of(r.activationId)
    assert len(nc) == 1 and nc[0]["status"] == RC_CREATED, nc
    assert nc[0]["recovery_code"] == new_rec["recoveryCode"]
    svc().CommitActivation(activationId=r.activationId)
    assert code_row(nc[0]["id"])["status"] == RC_ACTIVE
    # the postcard code of the user is not touched
    if "postcard" in STATE:
        assert code_row(STATE["postcard"][0])["status"] == RC_ACTIVE
    # the used code again: ERR0024 (not ACTIVE)
    fault("ERR0024", rca, code, puk, rca_request(dev))
    STATE["r2"] = (r.activationId, nc[0]["id"], a.user)


@T.test
def recovery_code_activation_postcard():
    need("CreateRecoveryCode", "ConfirmRecoveryCode", "RecoveryCodeActivation")
    pid, code, pks, user = STATE["postcard"]
    dev = Device(APPS["rec"], "3.1")
    r = rca(code, pks[0], rca_request(dev))
    assert r.userId == user
    dev.run("activation-response", encrypted_data=r.encryptedData, mac=r.mac)
    c = code_row(pid)
    assert c["status"] == RC_ACTIVE, "a postcard code stays ACTIVE"
    assert puk_states(pid) == [PUK_USED, PUK_VALID, PUK_VALID]
    # PUK 1 again: the first VALID is 2 now
    ans = rca_raw(code, pks[0], rca_request(dev))
    check_fault(ans, error="ERR0028")
    assert raw_detail(ans, "currentRecoveryPukIndex") == "2", ans.http.body[:600]
    assert code_row(pid)["failed_attempts"] == 1
    svc().CommitActivation(activationId=r.activationId)
    STATE["postcard_act"] = r.activationId


def lookup(**kw):
    r = svc().LookupRecoveryCodes(**kw)
    return as_list(r, "recoveryCodes")


@T.test
def lookup_recovery_codes():
    need("LookupRecoveryCodes", "RecoveryCodeActivation", "CreateRecoveryCode",
         "ConfirmRecoveryCode")
    app = APPS["rec"]
    aid2, cid2, user = STATE["r2"]
    pid = STATE["postcard"][0]
    _, cid1 = STATE["r1"]
    ids = lambda lst: sorted(x.recoveryCodeId for x in lst)
    db_user = sorted(x["id"] for x in q("SELECT id FROM pa_recovery_code WHERE user_id=?",
                                         user))
    assert ids(lookup(userId=user)) == db_user
    assert ids(lookup(userId=user, applicationId=app.id)) == db_user
    assert ids(lookup(userId=user, applicationId=app.id, activationId=aid2)) == [cid2]
    assert ids(lookup(applicationId=app.id, activationId=aid2)) == [cid2]
    assert ids(lookup(activationId=aid2)) == [cid2]
    fault("ERR0024", svc().LookupRecoveryCodes, applicationId=app.id)
    got = lookup(userId=user, recoveryCodeStatus="REVOKED")
    assert ids(got) == [cid1], ids(got)
    got = lookup(userId=user, recoveryPukStatus="USED")
    assert cid1 in ids(got) and pid in ids(got) and cid2 not in ids(got), ids(got)
    for x in got:
        assert all(p.status == "USED" for p in as_list(x.puks, "puks")), x
    one = [x for x in lookup(userId=user) if x.recoveryCodeId == pid][0]
    assert one.status == "ACTIVE" and one.activationId is None, one
    assert one.recoveryCodeMasked == masked(STATE["postcard"][1])
    assert str(one.applicationId) == str(app.id)
    assert [(p.pukIndex, p.status) for p in as_list(one.puks, "puks")] == \
        [(1, "USED"), (2, "VALID"), (3, "VALID")]


@T.test
def revoke_recovery_codes():
    need("CreateRecoveryCode", "RevokeRecoveryCodes")
    pid = STATE["postcard"][0] if "postcard_act" in STATE else None
    pid2 = postcard(uid("urev"), 2)[0]
    r = svc().RevokeRecoveryCodes(recoveryCodeIds=[x for x in (pid, pid2, 99999999) if x])
    assert (r if isinstance(r, bool) else r.revoked) is True
    assert code_row(pid2)["status"] == RC_REVOKED
    assert puk_states(pid2) == [PUK_INVALID, PUK_INVALID]
    if pid:
        assert code_row(pid)["status"] == RC_REVOKED
        assert puk_states(pid) == [PUK_USED, PUK_INVALID, PUK_INVALID]
        pid = pid2
    else:
        pid = pid2
    r = svc().RevokeRecoveryCodes(recoveryCodeIds=[pid])
    assert (r if isinstance(r, bool) else r.revoked) is False
    fault("ERR0024", svc().RevokeRecoveryCodes, recoveryCodeIds=[-1])


@T.test
def remove_activation_revokes_codes():
    need("UpdateRecoveryConfig")
    a = V3Act(APPS["rec"])
    c = codes_of(a.id)[0]
    assert c["status"] == RC_ACTIVE
    b = V3Act(APPS["rec"])
    cb = codes_of(b.id)[0]
    svc().RemoveActivation(activationId=b.id)
    assert code_row(cb["id"])["status"] == RC_ACTIVE, "default must leave codes untouched"
    svc().RemoveActivation(activationId=a.id, revokeRecoveryCodes=True)
    assert code_row(c["id"])["status"] == RC_REVOKED
    assert puk_states(c["id"]) == [PUK_INVALID]


@T.test
def parallel_recovery_code_activation():
    need("CreateRecoveryCode", "ConfirmRecoveryCode", "RecoveryCodeActivation")
    user = uid("upar")
    a = V3Act(APPS["rec"], user=user)
    pid, code, pks = postcard(user, 3)
    assert confirm(a, code) is False
    before = set(x["activation_id"] for x in q(
        "SELECT activation_id FROM pa_activation WHERE user_id = ?", user))
    devs = [Device(APPS["rec"], "3.1") for _ in range(16)]
    reqs = [rca_request(d) for d in devs]
    results = [None] * 16
    gate = threading.Barrier(16)

    def go(i):
        gate.wait()
        try:
            results[i] = rca_raw(code, pks[0], reqs[i], timeout=PAR_TIMEOUT)
        except Exception as e:                          # noqa: BLE001
            results[i] = e

    th = [threading.Thread(target=go, args=(i,)) for i in range(16)]
    for t in th:
        t.start()
    for t in th:
        t.join(120)
    lost = [r for r in results if not isinstance(r, Answer)]
    assert not lost, "%d calls got no answer within %d s: %r" % (
        len(lost), PAR_TIMEOUT, lost[:3])
    ok = [r for r in results if r is not None and r.status == 200]
    errs = [(r.fault() or {}).get("errorCode") for r in results
            if r is not None and r.status != 200]
    assert len(ok) == 1, "%d successes (faults %r)" % (len(ok), errs)
    assert all(e in ("ERR0028", "ERR0024") for e in errs), errs
    after = set(x["activation_id"] for x in q(
        "SELECT activation_id FROM pa_activation WHERE user_id = ?", user))
    assert len(after - before) == 1, "new activations: %r" % (after - before)
    c = code_row(pid)
    st = puk_states(pid)
    assert st[0] == PUK_USED and st.count(PUK_USED) == 1, st
    n28 = errs.count("ERR0028")
    idx = [raw_detail(r, "currentRecoveryPukIndex") for r in results
           if r is not None and r.status != 200
           and (r.fault() or {}).get("errorCode") == "ERR0028"]
    mx = c["max_failed_attempts"]
    # after the success every call presents a wrong PUK (PUK 1 is USED):
    # exactly max of them are counted, the last one blocks (12.5 step 5)
    assert n28 == min(15, mx), "ERR0028 %d times, expected %d" % (n28, min(15, mx))
    if 15 >= mx:
        # the blocking attempt carries no index, the others the first VALID (2)
        assert sorted(idx, key=str) == sorted(["2"] * (mx - 1) + [None], key=str), idx
        assert c["status"] == RC_BLOCKED and st == [PUK_USED, PUK_INVALID, PUK_VALID], \
            (c["status"], st)
    assert c["failed_attempts"] == min(15, mx), c["failed_attempts"]


@T.test
def cleanup():
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    require_port()
    sys.exit(T.run(sys.argv[1:]))
