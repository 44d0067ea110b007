#!/bin/sh
# test_pactl.sh - pactl, the admin command line, end to end.
#
# Part 1 works on a fresh SQLite file (--db); part 2 starts the real
# paserver on a free loopback port with its own fresh file and drives it
# over SOAP (--url), then cross-checks both ways of working against each
# other (what one writes, the other must read back); part 3 restarts the
# server with restrictAccess on and checks the WS-Security credentials.
# Expected values come from the contract (ERR texts, key sizes, UUID
# form) or from an earlier, independent read, never from the same output
# that is being checked.  Memory: pactl runs under valgrind when present.
#
# Environment: PACTL, PASERVER (binaries; default: the build tree),
# PACTL_VALGRIND=0 to skip the valgrind runs.
# Last line: "N passed, N failed"; exit status 1 when anything failed.

PACTL=${PACTL:-./tools/pactl/pactl}
PASERVER=${PASERVER:-./paserver}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/test_pactl.XXXXXX") || exit 1
SERVER_PID=
PASSED=0
FAILED=0

cleanup() {
    stop_server
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ERR14="ERR0014: Invalid URL format."
ERR15="ERR0015: Application or application version does not exist."

# ---- tiny harness ------------------------------------------------------------

pass() { PASSED=$((PASSED + 1)); echo "PASS: $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $1"; [ -n "$2" ] && echo "      $2"; }

# run ARGS...: runs pactl; sets OUT, ERR, RC.
run() {
    "$PACTL" "$@" >"$TMP/out" 2>"$TMP/err"
    RC=$?
    OUT=$(cat "$TMP/out")
    ERR=$(cat "$TMP/err")
}

# expect NAME RC [STDERR-LINE]: checks the last run's status (and stderr).
expect() {
    if [ "$RC" != "$2" ]; then
        fail "$1" "exit status $RC, expected $2; stderr: $ERR"
    elif [ -n "$3" ] && [ "$ERR" != "$3" ]; then
        fail "$1" "stderr '$ERR', expected '$3'"
    else
        pass "$1"
    fi
}

# py NAME EXPR-SCRIPT: runs python with the last stdout as JSON in `j`;
# the script raises (assert) on failure.
py() {
    name=$1
    shift
    if python3 -c "
import base64, json, re, sys
j = json.loads(open(sys.argv[1]).read())
$1" "$TMP/out" >"$TMP/pyerr" 2>&1; then
        pass "$name"
    else
        fail "$name" "$(tail -n 3 "$TMP/pyerr") / stdout: $OUT"
    fi
}

# jget EXPR: prints a value from the last stdout's JSON (e.g. "j['applicationId']").
jget() {
    python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($1)" \
        "$TMP/out" 2>/dev/null
}

# ---- the server --------------------------------------------------------------

start_server() {  # DB [extra env assignments...]
    db=$1
    shift
    : >"$TMP/server.log"
    env PASERVER_LISTEN=127.0.0.1:0 PASERVER_DATABASE="$db" "$@" \
        "$PASERVER" >"$TMP/server.log" 2>&1 &
    SERVER_PID=$!
    PORT=
    i=0
    while [ $i -lt 100 ]; do
        PORT=$(sed -n 's/.*listening on port \([0-9][0-9]*\).*/\1/p' "$TMP/server.log")
        [ -n "$PORT" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    URL="http://127.0.0.1:$PORT/powerauth-java-server/soap"
    [ -n "$PORT" ]
}

stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
        SERVER_PID=
    fi
}

# ---- checks shared by both ways of working -------------------------------------

B64_16='assert len(base64.b64decode(v, validate=True)) == 16, v'
UUID4='re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", v)'

# The application/version/integration/callback life cycle with pactl ARGS
# (either --db FILE or --url URL); LABEL prefixes the test names.
lifecycle() {
    label=$1
    shift

    run "$@" --json app create "demo-$label"
    expect "$label: app create" 0
    py "$label: app create prints id, name, key, secret, master key" "
assert j['applicationName'] == 'demo-$label'
assert isinstance(j['applicationId'], int) and j['applicationId'] > 0
assert j['applicationVersionName'] == 'default'
for v in (j['applicationKey'], j['applicationSecret']): $B64_16
assert j['applicationKey'] != j['applicationSecret']
k = base64.b64decode(j['masterPublicKey'], validate=True)
assert len(k) == 65 and k[0] == 4, (len(k), k[:1])"
    APP=$(jget "j['applicationId']")
    APPKEY=$(jget "j['applicationKey']")
    MPK=$(jget "j['masterPublicKey']")

    run "$@" app create "demo-$label"
    expect "$label: app create of a taken name fails" 1
    case $ERR in ERR0024:*) pass "$label: taken name -> ERR0024";;
    *) fail "$label: taken name -> ERR0024" "$ERR";; esac

    run "$@" app create "Žluťoučký kůň $label"
    expect "$label: app create with a UTF-8 name" 0

    run "$@" --json app list
    expect "$label: app list" 0
    py "$label: app list has both applications in creation order" "
apps = j['applications']
names = [a['applicationName'] for a in apps]
assert names[-2:] == ['demo-$label', 'Žluťoučký kůň $label'], names
assert apps[-2]['applicationId'] == $APP"

    run "$@" app list
    expect "$label: app list (text)" 0
    if printf '%s\n' "$OUT" | grep -q "^$APP  *demo-$label\$"; then
        pass "$label: app list text shows id and name"
    else
        fail "$label: app list text shows id and name" "$OUT"
    fi

    run "$@" --json app show "$APP"
    expect "$label: app show ID" 0
    py "$label: app show: the created key, secret and master key" "
assert j['applicationId'] == $APP and j['applicationName'] == 'demo-$label'
assert j['masterPublicKey'] == '$MPK'
[v] = j['versions']
assert v['applicationVersionName'] == 'default' and v['supported'] is True
assert v['applicationKey'] == '$APPKEY'"

    run "$@" --json app show --name "demo-$label"
    expect "$label: app show --name" 0
    py "$label: app show --name finds the same application" "
assert j['applicationId'] == $APP"

    run "$@" app show "$APP"
    expect "$label: app show (text)" 0
    printf '%s\n' "$OUT" >"$TMP/out"
    if python3 -c "
import sys
lines = open(sys.argv[1]).read().split('\n')
top = [l for l in lines[:3]]
cols = {len(l) - len(l.split()[-1]) for l in top}
assert [l.split()[0] for l in top] == ['applicationId', 'applicationName', 'masterPublicKey'], top
assert len(cols) == 1, top
assert lines[3] == 'versions:' and lines[4].split()[0] == 'applicationVersionId'
assert '$APPKEY' in lines[5]" "$TMP/out" 2>"$TMP/pyerr"; then
        pass "$label: app show text is aligned"
    else
        fail "$label: app show text is aligned" "$(cat "$TMP/pyerr") $OUT"
    fi

    run "$@" app master-key "$APP"
    expect "$label: app master-key" 0
    if [ "$OUT" = "$MPK" ] \
        && [ "$(printf '%s' "$OUT" | base64 -d | wc -c)" -eq 65 ] \
        && [ "$(printf '%s' "$OUT" | base64 -d | head -c 1 | od -An -tx1 | tr -d ' ')" = 04 ]; then
        pass "$label: master-key prints only the 65-byte 0x04 point"
    else
        fail "$label: master-key prints only the 65-byte 0x04 point" "$OUT"
    fi

    run "$@" --json version create "$APP" v2
    expect "$label: version create" 0
    py "$label: version create: new key and secret, supported" "
assert j['applicationVersionName'] == 'v2' and j['supported'] is True
for v in (j['applicationKey'], j['applicationSecret']): $B64_16
assert j['applicationKey'] != '$APPKEY'"
    VER=$(jget "j['applicationVersionId']")

    run "$@" --json version unsupport "$VER"
    expect "$label: version unsupport" 0
    run "$@" --json app show "$APP"
    py "$label: unsupported version reads back unsupported" "
s = {v['applicationVersionName']: v['supported'] for v in j['versions']}
assert s == {'default': True, 'v2': False}, s"

    run "$@" version support "$VER"
    expect "$label: version support" 0
    run "$@" --json app show "$APP"
    py "$label: supported version reads back supported" "
assert all(v['supported'] is True for v in j['versions']), j['versions']"

    run "$@" --json integration create "ci-$label"
    expect "$label: integration create" 0
    py "$label: integration create: three different UUID v4 values" "
vals = [j['id'], j['clientToken'], j['clientSecret']]
for v in vals: assert $UUID4, v
assert len(set(vals)) == 3 and j['name'] == 'ci-$label'"
    INT=$(jget "j['id']")
    TOKEN=$(jget "j['clientToken']")

    run "$@" --json integration list
    expect "$label: integration list" 0
    py "$label: integration list shows the new credentials" "
[i] = [i for i in j['integrations'] if i['id'] == '$INT']
assert i['clientToken'] == '$TOKEN' and i['name'] == 'ci-$label'"

    run "$@" integration remove "$INT"
    expect "$label: integration remove" 0
    run "$@" --json integration list
    py "$label: removed integration is gone" "
assert '$INT' not in [i['id'] for i in j['integrations']]"
    run "$@" integration remove "$INT"
    expect "$label: removing it again fails" 1

    run "$@" --json callback create "$APP" hook http://example.com/cb?x=1
    expect "$label: callback create" 0
    py "$label: callback create echoes the callback" "
assert j['applicationId'] == $APP and j['name'] == 'hook'
assert j['callbackUrl'] == 'http://example.com/cb?x=1'
v = j['id']; assert $UUID4, v"
    CB=$(jget "j['id']")
    run "$@" --json callback create "$APP" another https://example.org/
    run "$@" --json callback list "$APP"
    expect "$label: callback list" 0
    py "$label: callback list ordered by name" "
assert [c['name'] for c in j['callbacks']] == ['another', 'hook'], j
assert j['callbacks'][1]['id'] == '$CB'"
    run "$@" --json callback remove "$CB"
    expect "$label: callback remove" 0
    py "$label: callback remove says removed" "assert j['removed'] is True"
    run "$@" --json callback list "$APP"
    py "$label: removed callback is gone" "
assert [c['name'] for c in j['callbacks']] == ['another'], j"
    run "$@" callback remove "$CB"
    expect "$label: removing it again fails" 1

    # failures with their ERR codes
    run "$@" app show 999999
    expect "$label: app show of an unknown id" 1 "$ERR15"
    run "$@" app show --name "no such app"
    expect "$label: app show of an unknown name" 1 "$ERR15"
    run "$@" app master-key 999999
    expect "$label: app master-key of an unknown id" 1 "$ERR15"
    run "$@" version create 999999 v9
    expect "$label: version create for an unknown app" 1 "$ERR15"
    run "$@" version unsupport 999999
    expect "$label: version unsupport of an unknown version" 1 "$ERR15"
    run "$@" callback create "$APP" bad "not a url"
    expect "$label: callback with a bad URL" 1 "$ERR14"
    run "$@" --json app show 999999
    expect "$label: --json failure" 1 "$ERR15"
    py "$label: --json failure prints errorCode and message" "
assert j == {'errorCode': 'ERR0015', 'message': '${ERR15#ERR0015: }'}, j"
}

# ---- part 0: command line and help ------------------------------------------------

run --help
expect "--help" 0
for c in "app create" "app list" "app show" "app master-key" "version create" \
         "version support" "version unsupport" "integration create" \
         "integration list" "integration remove" "callback create" \
         "callback list" "callback remove" "--password-env" "--json"; do
    case $OUT in *"$c"*) ;; *) fail "--help documents $c"; continue;; esac
    pass "--help documents $c"
done
run help callback create
expect "help callback create" 0
case $OUT in *"APP_ID NAME URL"*ERR0014*) pass "help shows usage and details";;
*) fail "help shows usage and details" "$OUT";; esac

DB="$TMP/admin.db"
run --db "$DB"
expect "no command: usage error" 2
run --db "$DB" app show abc
expect "non-numeric id: usage error" 2
run --db "$DB" app show 0
expect "zero id: usage error" 2
run --db "$DB" app create
expect "missing argument: usage error" 2
run --db "$DB" app create a b
expect "extra argument: usage error" 2
run --db "$DB" app frobnicate
expect "unknown command: usage error" 2
run --db "$DB" --url http://127.0.0.1:1/soap app list
expect "--db and --url together: usage error" 2
run app list
expect "neither --db nor --url: usage error" 2
run --url http://127.0.0.1:1/soap --password s3cret app list
expect "--password is refused" 2
case $ERR in *s3cret*) fail "--password value is not echoed" "$ERR";;
*) pass "--password value is not echoed";; esac
run --url http://127.0.0.1:1/soap --user u app list
expect "--user without --password-env: usage error" 2
run --url http://127.0.0.1:1/soap --user u --password-env PACTL_TEST_UNSET_VAR app list
expect "--password-env naming an unset variable: usage error" 2
if [ -e "$DB" ]; then
    fail "usage errors do not create the database"
else
    pass "usage errors do not create the database"
fi

# ---- part 1: on the database file ---------------------------------------------------

lifecycle db --db "$DB"

# ---- part 2: over SOAP ----------------------------------------------------------------

SDB="$TMP/server.db"
run --db "$SDB" --json app create bootstrapped
BOOT_KEY=$(jget "j['applicationKey']")
if start_server "$SDB"; then
    pass "server started on port $PORT"
    lifecycle soap --url "$URL"

    run --url "$URL" --json app show --name bootstrapped
    py "an application made with --db is served over SOAP" "
assert j['versions'][0]['applicationKey'] == '$BOOT_KEY'"
    run --url "$URL" --json app create made-over-soap
    SOAP_KEY=$(jget "j['applicationKey']")
    run --db "$SDB" --json app show --name made-over-soap
    py "an application made over SOAP is in the database file" "
assert j['versions'][0]['applicationKey'] == '$SOAP_KEY'"

    run --url "$URL" --json integration list
    py "integration list over SOAP tells restrictedAccess (off)" "
assert j['restrictedAccess'] is False"

    stop_server
else
    fail "server started" "$(cat "$TMP/server.log")"
fi

# An HTTP server that is not a SOAP endpoint (Python's answers POST with 501).
(cd "$TMP" && exec python3 -u -m http.server --bind 127.0.0.1 0 >"$TMP/http.log" 2>&1) &
HTTP_PID=$!
i=0
while [ $i -lt 100 ]; do
    HTTP_PORT=$(sed -n 's/.* port \([0-9][0-9]*\).*/\1/p' "$TMP/http.log")
    [ -n "$HTTP_PORT" ] && break
    sleep 0.1
    i=$((i + 1))
done
run --url "http://127.0.0.1:$HTTP_PORT/soap" app list
kill "$HTTP_PID" 2>/dev/null
wait "$HTTP_PID" 2>/dev/null
expect "a URL that is not a SOAP endpoint: failure" 1
case $ERR in "pactl: HTTP status 501"*) pass "non-SOAP HTTP answer is reported";;
*) fail "non-SOAP HTTP answer is reported" "$ERR";; esac

run --url "http://127.0.0.1:1/powerauth-java-server/soap" app list
expect "no server listening: failure" 1
case $ERR in "pactl: cannot connect"*) pass "refused connection is reported";;
*) fail "refused connection is reported" "$ERR";; esac

# ---- part 3: restrictAccess and WS-Security ------------------------------------------

RDB="$TMP/restricted.db"
run --db "$RDB" --json integration create admin
ADMIN_TOKEN=$(jget "j['clientToken']")
PACTL_TEST_SECRET=$(jget "j['clientSecret']")
PACTL_TEST_WRONG=0b5e2d2c-0000-4000-8000-000000000000
export PACTL_TEST_SECRET PACTL_TEST_WRONG
if start_server "$RDB" PASERVER_RESTRICT_ACCESS=true; then
    run --url "$URL" app list
    expect "restricted: no credentials -> refused" 1
    case $ERR in ERR0024:*) pass "restricted: refusal carries ERR0024";;
    *) fail "restricted: refusal carries ERR0024" "$ERR";; esac
    run --url "$URL" --user "$ADMIN_TOKEN" --password-env PACTL_TEST_SECRET --json app create locked
    expect "restricted: right credentials -> served" 0
    run --url "$URL" --user "$ADMIN_TOKEN" --password-env PACTL_TEST_SECRET --json integration list
    py "restricted: integration list says restrictedAccess" "
assert j['restrictedAccess'] is True and len(j['integrations']) == 1"
    run --url "$URL" --user "$ADMIN_TOKEN" --password-env PACTL_TEST_WRONG app list
    expect "restricted: wrong password -> refused" 1
    case $ERR in ERR0024:*) pass "restricted: wrong password carries ERR0024";;
    *) fail "restricted: wrong password carries ERR0024" "$ERR";; esac
    stop_server
else
    fail "restricted server started" "$(cat "$TMP/server.log")"
fi

# ---- memory -------------------------------------------------------------------------

if [ "${PACTL_VALGRIND:-1}" != 0 ] && command -v valgrind >/dev/null 2>&1; then
    VDB="$TMP/valgrind.db"
    for args in "app create vg" "app list" "--json app show 1" \
                "integration create vg" "callback create 1 vg http://x.example/" \
                "app show 999"; do
        # shellcheck disable=SC2086
        valgrind -q --leak-check=full --error-exitcode=99 \
            "$PACTL" --db "$VDB" $args >/dev/null 2>"$TMP/vg"
        if [ $? -ne 99 ] && ! grep -q '^==' "$TMP/vg"; then
            pass "valgrind: --db $args"
        else
            fail "valgrind: --db $args" "$(head -n 20 "$TMP/vg")"
        fi
    done
    if start_server "$TMP/vgserver.db"; then
        for args in "app create vg" "app show 1" "app show 999"; do
            # shellcheck disable=SC2086
            valgrind -q --leak-check=full --error-exitcode=99 \
                "$PACTL" --url "$URL" $args >/dev/null 2>"$TMP/vg"
            if [ $? -ne 99 ] && ! grep -q '^==' "$TMP/vg"; then
                pass "valgrind: --url $args"
            else
                fail "valgrind: --url $args" "$(head -n 20 "$TMP/vg")"
            fi
        done
        stop_server
    fi
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
