#!/usr/bin/python3
"""test_persist.py - everything created survives a restart.

  test_persist.py create STATE   creates applications, versions (one
                                 unsupported), integrations (one removed) and
                                 callbacks (one removed), then stores a
                                 snapshot of every list and detail in STATE
  test_persist.py verify STATE   after run.sh stopped the server with SIGTERM
                                 and started it again on the same database
                                 file: the same snapshot, field for field and
                                 with the same ids; the removed rows stay
                                 removed; new ids continue above the old ones
"""

import json
import sys

from pa_itest import (Runner, call, exchange, http_bytes, require_port,
                      CONTEXT, ENDPOINT_PATH)

T = Runner("persist")
STATE = {}


def snapshot():
    apps = [(a.long("id"), a.one("applicationName"))
            for a in call("GetApplicationList").many("applications")]
    details = {}
    callbacks = {}
    for app_id, _ in apps:
        d = call("GetApplicationDetail", [("applicationId", app_id)])
        details[str(app_id)] = {
            "applicationId": d.long("applicationId"),
            "applicationName": d.one("applicationName"),
            "masterPublicKey": d.one("masterPublicKey"),
            "versions": [[v.long("applicationVersionId"), v.one("applicationVersionName"),
                          v.one("applicationKey"), v.one("applicationSecret"),
                          v.bool("supported")] for v in d.many("versions")],
        }
        callbacks[str(app_id)] = [
            [c.one("id"), c.long("applicationId"), c.one("name"), c.one("callbackUrl")]
            for c in call("GetCallbackUrlList", [("applicationId", app_id)])
            .many("callbackUrlList")]
    lst = call("GetIntegrationList")
    ints = [[i.one("id"), i.opt("name"), i.one("clientToken"), i.one("clientSecret")]
            for i in lst.many("items")]
    return {"apps": apps, "details": details, "callbacks": callbacks,
            "integrations": ints}


def create(path):
    a1 = call("CreateApplication", [("applicationName", "persist-1")]).long("applicationId")
    a2 = call("CreateApplication", [("applicationName", "persist-2 \u010d")]).long("applicationId")
    v = call("CreateApplicationVersion", [("applicationId", a1),
                                          ("applicationVersionName", "1.1")])
    call("CreateApplicationVersion", [("applicationId", a2),
                                      ("applicationVersionName", "2.0")])
    call("UnsupportApplicationVersion", [("applicationVersionId",
                                          v.long("applicationVersionId"))])
    i1 = call("CreateIntegration", [("name", "persist-int-1")]).one("id")
    call("CreateIntegration", [("name", "persist-int-2")])
    gone_int = call("CreateIntegration", [("name", "persist-int-3")]).one("id")
    assert call("RemoveIntegration", [("id", gone_int)]).bool("removed")
    call("CreateCallbackUrl", [("applicationId", a1), ("name", "cb-1"),
                               ("callbackUrl", "https://persist.example/1")])
    call("CreateCallbackUrl", [("applicationId", a2), ("name", "cb-2"),
                               ("callbackUrl", "https://persist.example/2")])
    gone_cb = call("CreateCallbackUrl", [("applicationId", a1), ("name", "cb-3"),
                                         ("callbackUrl", "https://persist.example/3")]).one("id")
    assert call("RemoveCallbackUrl", [("id", gone_cb)]).bool("removed")
    snap = snapshot()
    assert len(snap["apps"]) == 2 and len(snap["integrations"]) == 2, snap
    assert [x[4] for x in snap["details"][str(a1)]["versions"]] == [True, False]
    assert i1 in [x[0] for x in snap["integrations"]]
    snap["gone"] = {"integration": gone_int, "callback": gone_cb}
    with open(path, "w") as f:
        json.dump(snap, f)


@T.test
def same_applications_and_details():
    now = snapshot()
    assert [list(a) for a in now["apps"]] == STATE["apps"], (now["apps"], STATE["apps"])
    assert now["details"] == STATE["details"]


@T.test
def same_integrations():
    now = snapshot()
    assert now["integrations"] == STATE["integrations"]
    assert STATE["gone"]["integration"] not in [i[0] for i in now["integrations"]]


@T.test
def same_callbacks():
    now = snapshot()
    assert now["callbacks"] == STATE["callbacks"]
    r = call("RemoveCallbackUrl", [("id", STATE["gone"]["callback"])])
    assert r.bool("removed") is False


@T.test
def keys_still_resolve():
    for app_id, d in STATE["details"].items():
        for v in d["versions"]:
            got = call("LookupApplicationByAppKey", [("applicationKey", v[2])])
            assert got.long("applicationId") == int(app_id)


@T.test
def ids_continue_upwards():
    top_app = max(a[0] for a in STATE["apps"])
    top_ver = max(v[0] for d in STATE["details"].values() for v in d["versions"])
    a = call("CreateApplication", [("applicationName", "persist-after")]).long("applicationId")
    assert a > top_app, (a, top_app)
    d = call("GetApplicationDetail", [("applicationId", a)])
    assert d.many("versions")[0].long("applicationVersionId") > top_ver


@T.test
def wsdl_address_from_public_base_url():
    # run.sh restarts this server with public_base_url set: the WSDLs name
    # it, whatever Host header the request brings.
    import re
    want = "https://pa.bank.example/gw%s/soap" % CONTEXT
    for name in ("serviceV3.wsdl", "serviceV2.wsdl"):
        r = exchange(http_bytes("GET", ENDPOINT_PATH + "/" + name,
                                host="evil.example:6666"))
        assert r.status == 200, "GET %s -> %d" % (name, r.status)
        locs = re.findall(rb'<soap:address location="([^"]*)"', r.body)
        assert locs == [want.encode()], "%s: soap:address %r" % (name, locs)
        assert b"evil.example" not in r.body


def main():
    require_port()
    if len(sys.argv) != 3 or sys.argv[1] not in ("create", "verify"):
        sys.stderr.write("usage: test_persist.py create|verify STATEFILE\n")
        return 2
    if sys.argv[1] == "create":
        try:
            create(sys.argv[2])
        except Exception as e:                      # noqa: BLE001
            print("FAIL persist.create: %s: %s" % (type(e).__name__, e))
            print("0 passed, 1 failed")
            return 1
        print("ok   persist.create")
        print("1 passed, 0 failed")
        return 0
    with open(sys.argv[2]) as f:
        STATE.update(json.load(f))
    return T.run()


if __name__ == "__main__":
    sys.exit(main())
