#!/usr/bin/env bash
# tests/integration/run.sh - the integration tests: the real paserver binary
# on a free loopback port with a fresh SQLite file, driven over HTTP.
#
# Builds nothing.  Needs (make check sets them through AM_TESTS_ENVIRONMENT):
#   PASERVER    the paserver binary (the build dir is taken from its path)
#   PA_SRCDIR   the source tree (tests/integration/*.py, wsdl/)
#   PA_SHARED   ../shared (contract/, clients/)
# Optional: PA_ITEST_CLIENT (the C client, default <builddir>/tests/
# integration/test_soap_client), PA_ITEST_VALGRIND=0 to skip the memory
# phase, PA_ITEST_ONLY="negative zeep ..." to run some phases only,
# PA_ITEST_KEEP=1 to keep the temporary directory (logs, databases).
#
# Phases, each on its own server and database (a restart reuses the file):
#   c          tests/integration/test_soap_client (CUnit, gSOAP stubs), the
#              service settings at their defaults; the client itself runs
#              under valgrind
#   zeep       test_zeep.py: python3-zeep on the served WSDL
#   captures   test_captures.py: ../shared/clients/*/*.http byte for byte
#   negative   test_negative.py: hostile and imperfect requests
#   deadline   a request trickling in byte by byte is cut off (short
#              receive timeout, so the phase takes seconds)
#   tls, mtls  the C client's suite over https, then test_tls.py: TLS on
#              the listener (certificates made with openssl here):
#              handshake, old versions refused, zeep over
#              https, slow handshakes and slow bytes hold no worker, SIGHUP
#              reload; every availability attack below again over TLS
#              (tls-availability); then client certificates required
#              (mutual TLS)
#   availability  test_availability.py: 16 hostile connections (slow bytes,
#              truncated chunked bodies, endless chunk extensions, attribute
#              floods, answers never read) and a full connection table,
#              each while a normal client must be answered within 2 s
#              (4 workers, a 64-connection table)
#   restrict   test_restrict.py: integrations made with restriction off,
#              restart with PASERVER_RESTRICT_ACCESS=true on the same file
#   persist    test_persist.py: create, SIGTERM, restart, compare (the
#              restarted server has public_base_url set: the WSDL address)
#   activation test_activation.py: the v3 activation operations through zeep
#              and padevice, the database file read after every step
#   activation-enc  the same with PASERVER_MASTER_DB_ENCRYPTION_KEY set;
#              then that file without the key must stop paserver at start-up
#   concurrency  test_activation_stress.py: parallel calls racing on one
#              activation code / activation, and all writers at once
#              (requests, callback delivery, a 1 s expiry sweep); the
#              database tells one story, no client sees a generic fault
#   callbacks  test_activation_stress.py: the callback outbox (receiver
#              errors, outages, timeouts, give-up, SIGTERM and restart); the
#              suite runs its own servers, logs callbacks-N.log
#   crash      test_activation_stress.py: kill -9 during a burst, during a
#              delivery and during the sweep, restarts on the same file
#              (own servers, crash-N.log)
#   sweep      test_activation_stress.py: the expiry sweep (1 s, batch 7)
#   sigconcurrency  test_signature_stress.py: VerifySignature racing on one
#              activation (64 counter positions at once, one signature 16
#              times, 16 threads to the lock-out) and on many; the audit
#              trail replays the lookahead rule exactly, no answer is a fault
#   sigcrash   test_signature_stress.py: kill -9 during a verification load,
#              restart on the same file: every true answer is on disk, the
#              phones sign on (own servers, sigcrash-N.log)
#   signatures test_signatures.py: online and offline signatures, ECDSA,
#              vault unlock, tokens, GetEciesDecryptor, SignatureAudit through
#              zeep and padevice, the database file read after every step
#   signatures-enc  the same with PASERVER_MASTER_DB_ENCRYPTION_KEY set, and
#              ValidateToken's replay protection and future limit turned off
#   v2recovery test_v2_recovery.py: protocol 2 through the v2 namespace
#              (activation, numeric-counter signatures, vault, token, E2EE
#              keys), the upgrade to 3, and activation recovery (config,
#              codes, postcards re-derived as the printing centre, PUKs, 16
#              parallel RecoveryCodeActivation); the database after each step
#   contract-all  test_contract_all.py: both served WSDLs list the contract's
#              48 + 6 operations, and every one answers a valid request
#              without a fault (still-SCHEDULED ones: a loud SKIP line)
#   valgrind   test_negative.py against a server running under valgrind;
#              errors or definite/indirect leaks fail
# Every server must exit 0 within a few seconds of SIGTERM (each stop is a
# test of its own).  The last line is "N passed, N failed"; any failure
# gives a non-zero exit status.
set -u

: "${PASERVER:?PASERVER must name the paserver binary}"
: "${PA_SRCDIR:?PA_SRCDIR must name the source tree}"
: "${PA_SHARED:?PA_SHARED must name ../shared}"
PASERVER=$(cd "$(dirname "$PASERVER")" && pwd)/$(basename "$PASERVER")
builddir=$(dirname "$PASERVER")
tests=$PA_SRCDIR/tests/integration
CLIENT=${PA_ITEST_CLIENT:-$builddir/tests/integration/test_soap_client}
PY=${PA_ITEST_PYTHON:-/usr/bin/python3}
ALL_PHASES="c zeep captures negative deadline availability tls mtls restrict persist activation activation-enc concurrency callbacks crash sweep sigconcurrency sigcrash signatures signatures-enc v2recovery contract-all valgrind"
ONLY=${PA_ITEST_ONLY:-$ALL_PHASES}
CONTEXT=/powerauth-java-server
# Small limits so the negative suite can cross them cheaply.
MAX_BODY=65536
MAX_DEPTH=32

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pa-itest-XXXXXX") || exit 1
passed=0
failed=0
server_pid=""
port=""
prefix=()              # command in front of paserver (valgrind)

cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -KILL "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    if [ "${PA_ITEST_KEEP:-0}" = 1 ]; then
        echo "run.sh: kept $tmp"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pass() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
wanted() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }
# A misspelt phase would otherwise run nothing and pass.
for ph in $ONLY; do
    case " $ALL_PHASES " in *" $ph "*) ;; *) fail "PA_ITEST_ONLY: no phase '$ph'" ;; esac
done

# Waits until the server answers an HTTP request on $port (any status).
answers() {
    local line=""
    { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
    if [ -n "${probe_tls:-}" ]; then    # a TLS listener: accepting is enough
        exec 3<&- 3>&-
        return 0
    fi
    printf 'GET / HTTP/1.0\r\n\r\n' >&3
    IFS= read -r -t 5 line <&3
    exec 3<&- 3>&-
    case "$line" in HTTP/1.*) return 0 ;; esac
    return 1
}

# start_server NAME DBFILE [VAR=value ...]
# Starts paserver with a clean PASERVER_* environment plus the given
# settings; sets server_pid, port, log.
start_server() {
    local name=$1 db=$2 waited=0 limit=100
    shift 2
    probe_tls=
    case " $* " in *" PASERVER_TLS_CERT_FILE="*) probe_tls=1 ;; esac
    log=$tmp/$name.log
    [ ${#prefix[@]} -gt 0 ] && limit=600            # valgrind starts slowly
    (
        for v in $(compgen -e); do
            case "$v" in PASERVER_*) unset "$v" ;; esac
        done
        exec env PASERVER_LISTEN=127.0.0.1:0 PASERVER_DATABASE="$db" \
            PASERVER_LOG_LEVEL=info PASERVER_LOG_TARGET=stderr \
            PASERVER_CONTEXT_PATH=$CONTEXT \
            PASERVER_MAX_BODY_BYTES=$MAX_BODY PASERVER_MAX_XML_DEPTH=$MAX_DEPTH \
            "$@" "${prefix[@]}" "$PASERVER"
    ) >"$log" 2>&1 &
    server_pid=$!
    port=""
    while [ $waited -lt $limit ]; do
        if ! kill -0 "$server_pid" 2>/dev/null; then
            fail "$name: paserver exited at start-up"; tail -20 "$log"
            server_pid=""; return 1
        fi
        port=$(sed -n 's/.*listening on port \([0-9][0-9]*\).*/\1/p' "$log" | head -1)
        if [ -n "$port" ] && answers; then
            echo "--- $name: paserver pid $server_pid on port $port"
            return 0
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    fail "$name: paserver did not answer within $((limit / 10)) s"; tail -20 "$log"
    return 1
}

# stop_server NAME: SIGTERM, then it must exit 0 in time.
stop_server() {
    local name=$1 waited=0 limit=50 rc
    [ ${#prefix[@]} -gt 0 ] && limit=600
    [ -n "$server_pid" ] || return 1
    kill -TERM "$server_pid"
    while kill -0 "$server_pid" 2>/dev/null && [ $waited -lt $limit ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    if kill -0 "$server_pid" 2>/dev/null; then
        fail "$name: paserver still running $((limit / 10)) s after SIGTERM"
        kill -KILL "$server_pid"; wait "$server_pid" 2>/dev/null
        server_pid=""
        return 1
    fi
    wait "$server_pid"
    rc=$?
    server_pid=""
    if [ $rc -eq 0 ]; then
        pass "$name: paserver exited 0 on SIGTERM"
    else
        fail "$name: paserver exited $rc on SIGTERM"; tail -30 "$log"
        return 1
    fi
}

# check_log NAME [SECRET...]: the server log of a phase (DESIGN.md: one line
# per request, never a secret or a body) has no ERROR line, no XML, none of
# the given secrets, and ends with the clean-stop line.
check_log() {
    local name=$1 bad="" s
    shift
    grep -q " ERROR " "$log" && bad="$bad ERROR-lines"
    grep -q -e "Envelope" -e "<?xml" "$log" && bad="$bad XML"
    for s in "$@"; do
        [ -n "$s" ] && grep -qF -- "$s" "$log" && bad="$bad secret(${s:0:6}...)"
    done
    grep -q "paserver stopped" "$log" || bad="$bad no-stop-line"
    if [ -z "$bad" ]; then
        pass "$name: server log clean"
    else
        fail "$name: server log has:$bad"; grep -e " ERROR " "$log" | head -5
    fi
}

# secrets NAME JSONFILE: the secret values a state file holds, one a line.
secrets() {
    "$PY" - "$1" "$2" <<'PYEOF'
import json, sys
kind, path = sys.argv[1], sys.argv[2]
try:
    d = json.load(open(path))
except (OSError, ValueError):
    sys.exit(0)
if kind == "restrict":
    for v in d.values():
        print(v["clientSecret"])
else:
    for det in d.get("details", {}).values():
        for v in det["versions"]:
            print(v[3])
    for i in d.get("integrations", []):
        print(i[3])
PYEOF
}

# run_suite NAME COMMAND...: runs one suite program, adds its
# "N passed, N failed" line to the totals.
run_suite() {
    local name=$1 out=$tmp/$1.out rc p f line
    shift
    echo "=== $name"
    ( cd "$tests" && PA_ITEST_PORT=$port PA_ITEST_CONTEXT=$CONTEXT \
        PA_ITEST_MAX_BODY=$MAX_BODY PA_ITEST_MAX_DEPTH=$MAX_DEPTH \
        PA_SHARED=$PA_SHARED PA_SRCDIR=$PA_SRCDIR "$@" ) >"$out" 2>&1
    rc=$?
    cat "$out"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -1)
    if [ -n "$line" ]; then
        p=${line%% passed*}
        f=${line#*, }; f=${f%% failed}
        passed=$((passed + p))
        failed=$((failed + f))
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
            fail "$name: exit status $rc"
        fi
        if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
            fail "$name: ran no checks"
        fi
    else
        fail "$name: no summary line (exit status $rc)"
    fi
    return 0
}

# valgrind is required: only PA_ITEST_VALGRIND=0 (said on purpose) skips it.
have_valgrind() {
    [ "${PA_ITEST_VALGRIND:-1}" != 0 ] || return 1
    command -v valgrind >/dev/null 2>&1 && return 0
    fail "valgrind is not installed (set PA_ITEST_VALGRIND=0 to run without it)"
    return 1
}
VG=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect
    --error-exitcode=99 --suppressions="$tests/valgrind.supp")

echo "run.sh: paserver $PASERVER, work dir $tmp"

# --- c: the gSOAP client -------------------------------------------------------
if wanted c; then
    if start_server c "$tmp/c.db"; then
        if [ ! -x "$CLIENT" ]; then
            fail "c: $CLIENT is missing"
        elif have_valgrind; then
            run_suite c "${VG[@]}" "$CLIENT" "http://127.0.0.1:$port$CONTEXT/soap"
        else
            run_suite c "$CLIENT" "http://127.0.0.1:$port$CONTEXT/soap"
        fi
        stop_server c
        check_log c
    fi
fi

# --- zeep -----------------------------------------------------------------------
if wanted zeep; then
    if start_server zeep "$tmp/zeep.db" PASERVER_APPLICATION_ENVIRONMENT=itest; then
        run_suite zeep env PA_ITEST_APP_ENV=itest "$PY" test_zeep.py
        stop_server zeep
        check_log zeep
    fi
fi

# --- captures ---------------------------------------------------------------------
if wanted captures; then
    if start_server captures "$tmp/captures.db" PASERVER_APPLICATION_ENVIRONMENT=itest; then
        run_suite captures "$PY" test_captures.py
        stop_server captures
        check_log captures "mw secret" "mw-client-token"
    fi
fi

# --- negative ---------------------------------------------------------------------
if wanted negative; then
    if start_server negative "$tmp/negative.db" PASERVER_APPLICATION_ENVIRONMENT=itest; then
        run_suite negative "$PY" test_negative.py
        stop_server negative
        check_log negative
    fi
fi

# --- deadline: a request trickling in is cut off after 3 receive timeouts ----------
if wanted deadline; then
    if start_server deadline "$tmp/deadline.db" PASERVER_RECV_TIMEOUT_MS=1000; then
        run_suite deadline env PA_ITEST_DEADLINE_S=3 "$PY" test_negative.py \
            slow_trickle_cut_off
        stop_server deadline
        check_log deadline
    fi
fi

# --- availability: hostile clients while a normal one is served ----------------------
if wanted availability; then
    if start_server availability "$tmp/availability.db" PASERVER_WORKERS=4 \
        PASERVER_RECV_TIMEOUT_MS=2000 PASERVER_MAX_CONNECTIONS=64 \
        PASERVER_MAX_CONNECTIONS_PER_PEER=64; then
        run_suite availability "$PY" test_availability.py
        stop_server availability
        check_log availability
    fi
fi

# --- tls, mtls: the listener with TLS, then with client certificates -----------------
# make_certs DIR: a CA, a server certificate for 127.0.0.1 (and a second one
# for the reload test), a client certificate, and a client certificate of
# another CA, with openssl.
make_certs() {
    local d=$1 n
    mkdir -p "$d"
    ossl() { openssl "$@" > /dev/null 2>&1; }
    for n in ca rogueca; do
        ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$d/$n.key" -out "$d/$n.pem" -days 2 -subj "/CN=itest $n" || return 1
    done
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$d/san.ext"
    for n in server server2 client rogue; do
        local ca=ca ext=()
        [ $n = rogue ] && ca=rogueca
        case $n in server*) ext=(-extfile "$d/san.ext") ;; esac
        ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/$n.key" \
            -out "$d/$n.csr" -subj "/CN=${n/server*/127.0.0.1}" || return 1
        ossl x509 -req -in "$d/$n.csr" -CA "$d/$ca.pem" -CAkey "$d/$ca.key" \
            -CAcreateserial -out "$d/$n.pem" -days 2 "${ext[@]}" || return 1
    done
}
if wanted tls || wanted mtls; then
    if ! make_certs "$tmp/tls"; then
        fail "tls: openssl could not make the test certificates"
    else
        if wanted tls && start_server tls "$tmp/tls.db" PASERVER_WORKERS=4 \
            PASERVER_TLS_CERT_FILE="$tmp/tls/server.pem" \
            PASERVER_TLS_KEY_FILE="$tmp/tls/server.key"; then
            # the C gSOAP client's whole suite over https (verifying the
            # server against the test CA), then the TLS checks
            run_suite tls-c env PA_ITEST_CA="$tmp/tls/ca.pem" "$CLIENT" \
                "https://127.0.0.1:$port$CONTEXT/soap"
            run_suite tls env PA_ITEST_TLS_DIR="$tmp/tls" \
                PA_ITEST_SERVER_PID="$server_pid" "$PY" test_tls.py tls
            stop_server tls
            # the reload test's broken file is logged as an ERROR on purpose
            grep -q "cannot use the certificate" "$log" \
                && pass "tls: a failed reload is logged" \
                || fail "tls: the failed reload was not logged"
            sed -i '/cannot use the certificate/d' "$log"
            check_log tls
        fi
        # every availability attack again, over TLS (fresh certificates:
        # the reload test above left a broken one behind on purpose)
        if wanted tls && make_certs "$tmp/tls3" \
            && start_server tls-availability "$tmp/tls-availability.db" \
            PASERVER_WORKERS=4 PASERVER_RECV_TIMEOUT_MS=2000 PASERVER_MAX_CONNECTIONS=64 \
            PASERVER_MAX_CONNECTIONS_PER_PEER=64 \
            PASERVER_TLS_CERT_FILE="$tmp/tls3/server.pem" \
            PASERVER_TLS_KEY_FILE="$tmp/tls3/server.key"; then
            run_suite tls-availability env PA_ITEST_TLS_CA="$tmp/tls3/ca.pem" \
                "$PY" test_availability.py
            stop_server tls-availability
            check_log tls-availability
        fi
        make_certs "$tmp/tls2"
        if wanted mtls && start_server mtls "$tmp/mtls.db" \
            PASERVER_TLS_CERT_FILE="$tmp/tls2/server.pem" \
            PASERVER_TLS_KEY_FILE="$tmp/tls2/server.key" \
            PASERVER_TLS_CLIENT_CA_FILE="$tmp/tls2/ca.pem"; then
            run_suite mtls env PA_ITEST_TLS_DIR="$tmp/tls2" "$PY" test_tls.py mtls
            stop_server mtls
            check_log mtls
        fi
    fi
fi

# --- restrict: the same database file, restriction off then on ------------------------
if wanted restrict; then
    if start_server restrict-off "$tmp/restrict.db" PASERVER_APPLICATION_ENVIRONMENT=itest; then
        run_suite restrict-off "$PY" test_restrict.py setup "$tmp/restrict.json"
        stop_server restrict-off
        mapfile -t sec < <(secrets restrict "$tmp/restrict.json")
        check_log restrict-off "mw secret" "${sec[@]}"
        if [ -s "$tmp/restrict.json" ] &&
            start_server restrict-on "$tmp/restrict.db" PASERVER_APPLICATION_ENVIRONMENT=itest \
                PASERVER_RESTRICT_ACCESS=true; then
            run_suite restrict-on "$PY" test_restrict.py check "$tmp/restrict.json"
            stop_server restrict-on
            check_log restrict-on "${sec[@]}"
        elif [ ! -s "$tmp/restrict.json" ]; then
            fail "restrict: no integrations were created, restricted phase not run"
        fi
    fi
fi

# --- persist: SIGTERM and restart on the same file -----------------------------------
if wanted persist; then
    if start_server persist-1 "$tmp/persist.db" PASERVER_APPLICATION_ENVIRONMENT=itest; then
        run_suite persist-create "$PY" test_persist.py create "$tmp/persist.json"
        stop_server persist-1
        if [ -s "$tmp/persist.json" ] &&
            start_server persist-2 "$tmp/persist.db" PASERVER_APPLICATION_ENVIRONMENT=itest \
                PASERVER_PUBLIC_BASE_URL=https://pa.bank.example/gw; then
            run_suite persist-verify "$PY" test_persist.py verify "$tmp/persist.json"
            stop_server persist-2
            mapfile -t sec < <(secrets persist "$tmp/persist.json")
            check_log persist-2 "${sec[@]}"
        elif [ ! -s "$tmp/persist.json" ]; then
            fail "persist: nothing was created, restart not checked"
        fi
    fi
fi

# --- activation: the v3 activation lifecycle, with the database checked ---------------
# activation-enc: the same suite with a master DB encryption key, then a
# restart of that file without the key, which must refuse to start.
act_suite() {   # act_suite NAME DBFILE [KEY]
    run_suite "$1" env PA_ITEST_DB="$2" PA_ITEST_ENC_KEY="${3:-}" \
        PADEVICE="${PADEVICE:-$builddir/tools/padevice/padevice}" "$PY" test_activation.py
}
if wanted activation; then
    # expiry stays lazy, as DATABASE.md 5.4 describes it (no sweep)
    if start_server activation "$tmp/activation.db" PASERVER_EXPIRY_SWEEP_INTERVAL_MS=0; then
        act_suite activation "$tmp/activation.db"
        stop_server activation
        check_log activation
    fi
fi
if wanted activation-enc; then
    enc_key=$(head -c 16 /dev/urandom | base64)
    if start_server activation-enc "$tmp/activation-enc.db" PASERVER_EXPIRY_SWEEP_INTERVAL_MS=0 \
        PASERVER_MASTER_DB_ENCRYPTION_KEY="$enc_key"; then
        act_suite activation-enc "$tmp/activation-enc.db" "$enc_key"
        stop_server activation-enc
        check_log activation-enc "$enc_key"
        log=$tmp/activation-nokey.log
        (
            for v in $(compgen -e); do
                case "$v" in PASERVER_*) unset "$v" ;; esac
            done
            exec env PASERVER_LISTEN=127.0.0.1:0 PASERVER_DATABASE="$tmp/activation-enc.db" \
                PASERVER_LOG_LEVEL=info PASERVER_LOG_TARGET=stderr \
                PASERVER_CONTEXT_PATH=$CONTEXT "$PASERVER"
        ) >"$log" 2>&1 &
        nokey_pid=$!
        waited=0
        while kill -0 "$nokey_pid" 2>/dev/null && [ $waited -lt 100 ]; do
            sleep 0.1; waited=$((waited + 1))
        done
        if kill -0 "$nokey_pid" 2>/dev/null; then
            fail "activation-nokey: paserver started on encrypted rows without the key"
            kill -KILL "$nokey_pid"; wait "$nokey_pid" 2>/dev/null
        else
            wait "$nokey_pid"; rc=$?
            if [ $rc -ne 0 ]; then
                pass "activation-nokey: paserver refused to start (exit $rc)"
            else
                fail "activation-nokey: paserver exited 0 without the key"
            fi
            if grep -q PASERVER_MASTER_DB_ENCRYPTION_KEY "$log"; then
                pass "activation-nokey: the log names PASERVER_MASTER_DB_ENCRYPTION_KEY"
            else
                fail "activation-nokey: no log line names PASERVER_MASTER_DB_ENCRYPTION_KEY"
                tail -5 "$log"
            fi
        fi
    fi
fi

# --- concurrency, callbacks, crash, sweep: test_activation_stress.py -----------------
# callbacks and crash start, stop and kill their own servers (PASERVER,
# logs in $tmp); concurrency and sweep use the server started here.
stress_suite() {   # stress_suite PHASE DBFILE
    run_suite "$1" env PA_ITEST_DB="$2" PA_ITEST_LOGDIR="$tmp" PASERVER="$PASERVER" \
        PADEVICE="${PADEVICE:-$builddir/tools/padevice/padevice}" \
        "$PY" test_activation_stress.py "$1"
}
cb_body='"activationId":"'
if wanted concurrency; then
    if start_server concurrency "$tmp/concurrency.db" PASERVER_EXPIRY_SWEEP_INTERVAL_MS=1000 \
        PASERVER_CALLBACK_RETRY_INITIAL_MS=100 PASERVER_CALLBACK_RETRY_MAX_MS=500; then
        stress_suite concurrency "$tmp/concurrency.db"
        stop_server concurrency
        check_log concurrency "$cb_body" '\"activationId\"'
    fi
fi
for phase in callbacks crash; do
    wanted $phase || continue
    stress_suite $phase "$tmp/$phase.db"
    for log in "$tmp/$phase"-[0-9]*.log; do
        [ -f "$log" ] || continue
        if grep -q "paserver stopped" "$log"; then
            check_log "$phase ($(basename "$log"))" "$cb_body" '\"activationId\"'
        elif grep -q -e " ERROR " -e "$cb_body" -e "Envelope" "$log"; then
            fail "$phase ($(basename "$log"), killed): ERROR lines, XML or a callback body"
        fi
    done
done
if wanted sweep; then
    if start_server sweep "$tmp/sweep.db" PASERVER_EXPIRY_SWEEP_INTERVAL_MS=1000 \
        PASERVER_EXPIRY_SWEEP_BATCH=7; then
        stress_suite sweep "$tmp/sweep.db"
        stop_server sweep
        check_log sweep "$cb_body" '\"activationId\"'
    fi
fi

# --- sigconcurrency, sigcrash: test_signature_stress.py ------------------------------
# sigcrash starts and kills its own servers (PASERVER, logs in $tmp).
sig_suite() {   # sig_suite PHASE DBFILE
    run_suite "$1" env PA_ITEST_DB="$2" PA_ITEST_LOGDIR="$tmp" PASERVER="$PASERVER" \
        PADEVICE="${PADEVICE:-$builddir/tools/padevice/padevice}" PA_ITEST_LOOKAHEAD=20 \
        "$PY" test_signature_stress.py "$1"
}
if wanted sigconcurrency; then
    if start_server sigconcurrency "$tmp/sigconcurrency.db" \
        PASERVER_SIGNATURE_VALIDATION_LOOKAHEAD=20 PASERVER_SIGNATURE_MAX_FAILED_ATTEMPTS=5; then
        sig_suite sigconcurrency "$tmp/sigconcurrency.db"
        stop_server sigconcurrency
        check_log sigconcurrency
    fi
fi
if wanted sigcrash; then
    sig_suite sigcrash "$tmp/sigcrash.db"
    for log in "$tmp"/sigcrash-[0-9]*.log; do
        [ -f "$log" ] || continue
        if grep -q "paserver stopped" "$log"; then
            check_log "sigcrash ($(basename "$log"))"
        elif grep -q -e " ERROR " -e "Envelope" "$log"; then
            fail "sigcrash ($(basename "$log"), killed): ERROR lines or XML"
        fi
    done
fi

# --- signatures, signatures-enc: test_signatures.py ------------------------------------
signatures_suite() {   # signatures_suite NAME DBFILE [KEY [VAR=value ...]]
    local name=$1 db=$2 key=${3:-}
    shift 3 2>/dev/null || shift $#
    run_suite "$name" env PA_ITEST_DB="$db" PA_ITEST_ENC_KEY="$key" "$@" \
        PADEVICE="${PADEVICE:-$builddir/tools/padevice/padevice}" "$PY" test_signatures.py
}
if wanted signatures; then
    if start_server signatures "$tmp/signatures.db" PASERVER_EXPIRY_SWEEP_INTERVAL_MS=0; then
        signatures_suite signatures "$tmp/signatures.db"
        stop_server signatures
        check_log signatures
    fi
fi
if wanted signatures-enc; then
    enc_key=$(head -c 16 /dev/urandom | base64)
    if start_server signatures-enc "$tmp/signatures-enc.db" PASERVER_EXPIRY_SWEEP_INTERVAL_MS=0 \
        PASERVER_MASTER_DB_ENCRYPTION_KEY="$enc_key" \
        PASERVER_TOKEN_REPLAY_PROTECTION=false PASERVER_TOKEN_MAX_FUTURE_MS=0; then
        signatures_suite signatures-enc "$tmp/signatures-enc.db" "$enc_key" \
            PA_ITEST_TOKEN_REPLAY=0 PA_ITEST_TOKEN_MAX_FUTURE_MS=0
        stop_server signatures-enc
        check_log signatures-enc "$enc_key"
    fi
fi

# --- v2recovery, contract-all: test_v2_recovery.py, test_contract_all.py --------------
for phase in v2recovery contract-all; do
    wanted $phase || continue
    case $phase in
        v2recovery) suite=test_v2_recovery.py ;;
        *) suite=test_contract_all.py ;;
    esac
    if start_server $phase "$tmp/$phase.db" PASERVER_EXPIRY_SWEEP_INTERVAL_MS=0; then
        run_suite $phase env PA_ITEST_DB="$tmp/$phase.db" \
            PADEVICE="${PADEVICE:-$builddir/tools/padevice/padevice}" "$PY" $suite
        stop_server $phase
        check_log $phase
    fi
done

# --- valgrind: the negative suite against a server under valgrind -------------------
if wanted valgrind; then
    if have_valgrind; then
        prefix=("${VG[@]}" --log-file="$tmp/valgrind-%p.log")
        if start_server valgrind "$tmp/valgrind.db" PASERVER_APPLICATION_ENVIRONMENT=itest \
            PASERVER_WORKERS=2; then
            run_suite valgrind env PA_ITEST_QUICK=8 PA_ITEST_TIMEOUT=30 "$PY" test_negative.py
            if stop_server valgrind; then
                pass "valgrind: no memory errors, no definite or indirect leaks"
            else
                echo "     (exit status 99: valgrind found memory errors or leaks)"
            fi
            cat "$tmp"/valgrind-*.log 2>/dev/null | head -150
        fi
        prefix=()
    else
        echo "SKIP valgrind: valgrind not installed or PA_ITEST_VALGRIND=0"
    fi
fi

[ "$passed" -gt 0 ] || fail "no check ran at all"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
