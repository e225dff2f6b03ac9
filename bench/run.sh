#!/usr/bin/env bash
# Warden benchmark driver: ceiling vs RETRIEVE (creator, and reader through a 10-rule ACP) vs CREATE with
# wrk, same run, same machine, loopback only; plus the ACP decision micro-benchmark (warden-acp-bench),
# TLS (handshakes/s with TLS-PSK and ECDSA client certificates, retrieve over kept-alive TLS against plain
# HTTP with the same client, warden-tls-load), retrieve and create over CoAP, CoAP/DTLS-PSK and MQTT against
# plain HTTP (warden-coap-load, warden-mqtt-load, warden-tls-load --plain) and discovery latency over a
# 100 000-resource tree (warden-bench-load).
#
# Usage (from anywhere):  bench/run.sh
# Environment:
#   DURATION=10s  CONNECTIONS=32 (1..64, Warden's per-IP limit)  THREADS=1 (wrk threads)
#   ROUNDS=1           repeat ceiling/retrieve/acp_retrieve/create/tsi_create/fcnt_update N times, interleaved;
#                      figures = medians (tsi_create and fcnt_update also as ratios to create of the same round)
#   SMOKE=1            1 s per run, 4 connections, 1 thread, 1 round, short ACP micro-benchmark, no
#                      discovery (harness self-test)
#   ACP_ITERATIONS=5000000  acp_permits calls per case in the micro-benchmark (SMOKE: 200000)
#   CALLGRIND=auto     instructions per ACP decision under callgrind: auto (when valgrind is installed), 1, 0
#   DISCOVERY=1        discovery latency over DISC_CONTAINERS x DISC_INSTANCES contentInstances
#                      (default 1, SMOKE: 0); DISC_CONTAINERS=100 DISC_INSTANCES=1000 DISC_REQUESTS=30
#                      DISC_CONNS=32 (connections of the bulk create)
#   TLS=1              the TLS measurements (0 = off): handshakes/s over TLS-PSK and ECDSA certificates,
#                      TLS 1.2 and 1.3, and retrieve over kept-alive PSK / certificate connections as a ratio
#                      to plain HTTP with the same client; TLS_DURATION=5 (seconds per run; SMOKE: 1)
#                      TLS_HS_CONNS=4 (handshaking threads; SMOKE: 2) TLS_CONNECTIONS=CONNECTIONS (kept-alive
#                      connections, 1..64; SMOKE: 4)
#   COAP=1             contentInstance retrieve and durable create over CoAP (UDP) and CoAP over DTLS-PSK (a PSK
#                      bound to the bench AE), as req/s and as ratios to plain HTTP measured in the same run with
#                      the same originator, request and number of requests in flight (warden-coap-load against
#                      warden-tls-load --plain); 0 = off (no CoAP listeners then)
#   MQTT=1             the same over MQTT (QoS 1, JSON; warden-mqtt-load) through a private mosquitto that this
#                      script starts on a free loopback port (MOSQUITTO_BIN=/usr/sbin/mosquitto) and stops; 0 = off
#   PROTO_DURATION=5   seconds per CoAP / MQTT / comparison HTTP run (SMOKE: 0.5); PROTO_INFLIGHT=CONNECTIONS
#                      requests in flight (CoAP sessions, MQTT outstanding rqis, HTTP connections; SMOKE: 4)
#   BUILD_DIR=build-bench  SKIP_BUILD=1 (use the binaries already in BUILD_DIR)
#   WARDEN_BIN, CEILING_BIN, ACP_BENCH_BIN, LOAD_BIN, WARDENCTL_BIN, TLS_LOAD_BIN, COAP_LOAD_BIN, MQTT_LOAD_BIN
#                      explicit binaries (default BUILD_DIR/warden, BUILD_DIR/warden-ceiling, BUILD_DIR/warden-acp-bench,
#                      BUILD_DIR/warden-bench-load, BUILD_DIR/wardenctl, BUILD_DIR/warden-tls-load,
#                      BUILD_DIR/warden-coap-load, BUILD_DIR/warden-mqtt-load)
#   ENFORCE_TARGETS=1  exit 1 when a figure misses its target (default: report only)
#   RESULTS_DIR=bench/results
# Exit status: 0 ok; 1 on any failure (build, start-up, provisioning, non-2xx, socket error, crash).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SMOKE="${SMOKE:-0}"
if [[ "$SMOKE" == 1 ]]; then
    DURATION=1s
    CONNECTIONS=4
    THREADS=1
    ROUNDS=1
    ACP_ITERATIONS=200000
    DISCOVERY="${DISCOVERY:-0}"
    TLS_DURATION=1
    TLS_HS_CONNS=2
    TLS_CONNECTIONS=4
    PROTO_DURATION=0.5
    PROTO_INFLIGHT=4
    MODE=smoke
else
    DURATION="${DURATION:-10s}"
    CONNECTIONS="${CONNECTIONS:-32}"
    THREADS="${THREADS:-1}"
    ROUNDS="${ROUNDS:-1}"
    ACP_ITERATIONS="${ACP_ITERATIONS:-5000000}"
    DISCOVERY="${DISCOVERY:-1}"
    TLS_DURATION="${TLS_DURATION:-5}"
    TLS_HS_CONNS="${TLS_HS_CONNS:-4}"
    TLS_CONNECTIONS="${TLS_CONNECTIONS:-$CONNECTIONS}"
    PROTO_DURATION="${PROTO_DURATION:-5}"
    PROTO_INFLIGHT="${PROTO_INFLIGHT:-$CONNECTIONS}"
    MODE=full
fi
TLS="${TLS:-1}"
COAP="${COAP:-1}"
MQTT="${MQTT:-1}"
MOSQUITTO_BIN="${MOSQUITTO_BIN:-/usr/sbin/mosquitto}"
CALLGRIND="${CALLGRIND:-auto}"
DISC_CONTAINERS="${DISC_CONTAINERS:-100}"
DISC_INSTANCES="${DISC_INSTANCES:-1000}"
DISC_REQUESTS="${DISC_REQUESTS:-30}"
DISC_CONNS="${DISC_CONNS:-32}"
BUILD_DIR="${BUILD_DIR:-build-bench}"
SKIP_BUILD="${SKIP_BUILD:-0}"
WARDEN_BIN="${WARDEN_BIN:-$BUILD_DIR/warden}"
CEILING_BIN="${CEILING_BIN:-$BUILD_DIR/warden-ceiling}"
ACP_BENCH_BIN="${ACP_BENCH_BIN:-$BUILD_DIR/warden-acp-bench}"
LOAD_BIN="${LOAD_BIN:-$BUILD_DIR/warden-bench-load}"
WARDENCTL_BIN="${WARDENCTL_BIN:-$BUILD_DIR/wardenctl}"
TLS_LOAD_BIN="${TLS_LOAD_BIN:-$BUILD_DIR/warden-tls-load}"
COAP_LOAD_BIN="${COAP_LOAD_BIN:-$BUILD_DIR/warden-coap-load}"
MQTT_LOAD_BIN="${MQTT_LOAD_BIN:-$BUILD_DIR/warden-mqtt-load}"
ENFORCE_TARGETS="${ENFORCE_TARGETS:-0}"
RESULTS_DIR="${RESULTS_DIR:-$ROOT/bench/results}"
TARGET_RETRIEVE=0.5
TARGET_CREATE=0.2
TARGET_ACP_RETRIEVE=0.5
TARGET_ACP_NS=1000 # one decision of the 10-rule policy, granted or denied (fastest batch)
ORIGIN=Cbench
READER=Creader # the AE that retrieves through the last rule of the 10-rule ACP
DISC_ORIGIN=Cdisc
DISC_LABEL=bench-rare
ADMIN=CAdmin            # Warden's default cse.admin; the PSK of the TLS runs is bound to it
PSK_ID=bench@warden.example.com
COAP_PSK_ID=coap-bench@warden.example.com # the DTLS-PSK of the CoAP runs, bound to $ORIGIN
HOST=127.0.0.1

say()  { printf '%s\n' "$*"; }
fail() { printf '\nbench/run.sh: FAIL: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- parameters
[[ "$DURATION" =~ ^[1-9][0-9]*[smh]?$ ]] || fail "DURATION must look like 10s, 2m or 30 (got '$DURATION')"
if ! [[ "$CONNECTIONS" =~ ^[1-9][0-9]*$ ]] || ((CONNECTIONS > 64)); then
    fail "CONNECTIONS must be 1..64 (Warden's per-IP connection limit is 64; got '$CONNECTIONS')"
fi
if ! [[ "$THREADS" =~ ^[1-9][0-9]*$ ]] || ((THREADS > CONNECTIONS)); then
    fail "THREADS must be 1..CONNECTIONS (got '$THREADS')"
fi
if ! [[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || ((ROUNDS > 50)); then
    fail "ROUNDS must be 1..50 (got '$ROUNDS')"
fi
[[ "$ACP_ITERATIONS" =~ ^[1-9][0-9]*$ ]] || fail "ACP_ITERATIONS must be a positive integer (got '$ACP_ITERATIONS')"
[[ "$CALLGRIND" =~ ^(auto|0|1)$ ]] || fail "CALLGRIND must be auto, 0 or 1 (got '$CALLGRIND')"
[[ "$DISCOVERY" =~ ^[01]$ ]] || fail "DISCOVERY must be 0 or 1 (got '$DISCOVERY')"
if ! [[ "$DISC_CONTAINERS" =~ ^[1-9][0-9]*$ ]] || ((DISC_CONTAINERS < 10 || DISC_CONTAINERS > 10000)); then
    fail "DISC_CONTAINERS must be 10..10000 (got '$DISC_CONTAINERS')"
fi
[[ "$DISC_INSTANCES" =~ ^[1-9][0-9]*$ ]] || fail "DISC_INSTANCES must be a positive integer (got '$DISC_INSTANCES')"
[[ "$DISC_REQUESTS" =~ ^[1-9][0-9]*$ ]] || fail "DISC_REQUESTS must be a positive integer (got '$DISC_REQUESTS')"
if ! [[ "$DISC_CONNS" =~ ^[1-9][0-9]*$ ]] || ((DISC_CONNS > 64)); then
    fail "DISC_CONNS must be 1..64 (got '$DISC_CONNS')"
fi
if [[ "$CALLGRIND" == auto ]]; then
    command -v valgrind >/dev/null && CALLGRIND=1 || CALLGRIND=0
elif [[ "$CALLGRIND" == 1 ]]; then
    command -v valgrind >/dev/null || fail "CALLGRIND=1 but valgrind is not installed"
fi
command -v wrk >/dev/null || fail "wrk not found (tools/deps.sh installs it)"
command -v curl >/dev/null || fail "curl not found"
[[ "$TLS" =~ ^[01]$ ]] || fail "TLS must be 0 or 1 (got '$TLS')"
if [[ "$TLS" == 1 ]]; then
    TLS_DURATION="${TLS_DURATION%s}"
    if ! [[ "$TLS_DURATION" =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
        ! awk -v d="$TLS_DURATION" 'BEGIN{ exit !(d >= 0.1 && d <= 3600) }'; then
        fail "TLS_DURATION must be 0.1..3600 seconds, e.g. 5 or 5s (got '$TLS_DURATION')"
    fi
    if ! [[ "$TLS_HS_CONNS" =~ ^[1-9][0-9]*$ ]] || ((TLS_HS_CONNS > 64)); then
        fail "TLS_HS_CONNS must be 1..64 (got '$TLS_HS_CONNS')"
    fi
    if ! [[ "$TLS_CONNECTIONS" =~ ^[1-9][0-9]*$ ]] || ((TLS_CONNECTIONS > 64)); then
        fail "TLS_CONNECTIONS must be 1..64 (Warden's per-IP connection limit is 64; got '$TLS_CONNECTIONS')"
    fi
fi

[[ "$COAP" =~ ^[01]$ ]] || fail "COAP must be 0 or 1 (got '$COAP')"
[[ "$MQTT" =~ ^[01]$ ]] || fail "MQTT must be 0 or 1 (got '$MQTT')"
PROTO=$((COAP || MQTT)) # the CoAP / MQTT part, with its plain-HTTP comparison runs
if ((PROTO)); then
    PROTO_DURATION="${PROTO_DURATION%s}"
    if ! [[ "$PROTO_DURATION" =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
        ! awk -v d="$PROTO_DURATION" 'BEGIN{ exit !(d >= 0.1 && d <= 3600) }'; then
        fail "PROTO_DURATION must be 0.1..3600 seconds, e.g. 5 or 5s (got '$PROTO_DURATION')"
    fi
    if ! [[ "$PROTO_INFLIGHT" =~ ^[1-9][0-9]*$ ]] || ((PROTO_INFLIGHT > 64)); then
        fail "PROTO_INFLIGHT must be 1..64 (the HTTP side needs as many connections; Warden's per-IP limit is 64; got '$PROTO_INFLIGHT')"
    fi
fi
if [[ "$MQTT" == 1 && ! -x "$MOSQUITTO_BIN" ]]; then
    fail "MQTT=1 needs a mosquitto broker binary: $MOSQUITTO_BIN not found (apt-get install mosquitto, or MQTT=0)"
fi

# ---------------------------------------------------------------- process bookkeeping
WORK="$(mktemp -d "${TMPDIR:-/tmp}/warden-bench.XXXXXX")"
PIDS=()
cleanup() {
    local rc=$? pid i st
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            printf 'bench/run.sh: pid %s ignored SIGTERM for 5 s, sending SIGKILL\n' "$pid" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        st=0
        wait "$pid" 2>/dev/null || st=$?
        # The servers must exit 0 on SIGTERM (a crash at shutdown is worth knowing about).
        if [[ "$pid" == "${WARDEN_PID:-}" || "$pid" == "${CEILING_PID:-}" ]] && ((st != 0 && st != 127)); then
            printf 'bench/run.sh: warning: pid %s (%s) exited with status %s after SIGTERM\n' "$pid" \
                "$([[ "$pid" == "${WARDEN_PID:-}" ]] && echo warden || echo ceiling)" "$st" >&2
        fi
    done
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench/run.sh: interrupted" >&2; exit 130' INT
trap 'echo "bench/run.sh: terminated" >&2; exit 143' TERM

# ---------------------------------------------------------------- build
if [[ "$SKIP_BUILD" != 1 ]]; then
    say "== building Release in $BUILD_DIR/"
    TARGETS=(warden warden-ceiling warden-acp-bench warden-bench-load)
    [[ "$TLS" != 1 ]] || TARGETS+=(wardenctl warden-tls-load)
    ((!PROTO)) || TARGETS+=(wardenctl warden-tls-load)
    [[ "$COAP" != 1 ]] || TARGETS+=(warden-coap-load)
    [[ "$MQTT" != 1 ]] || TARGETS+=(warden-mqtt-load)
    if ! { cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release &&
        cmake --build "$BUILD_DIR" -j2 --target $(printf '%s\n' "${TARGETS[@]}" | sort -u); } \
        >"$WORK/build.log" 2>&1; then
        tail -n 40 "$WORK/build.log" >&2
        fail "build failed (last 40 lines above)"
    fi
fi
[[ -x "$WARDEN_BIN" ]] || fail "warden binary not found: $WARDEN_BIN"
[[ -x "$CEILING_BIN" ]] || fail "ceiling binary not found: $CEILING_BIN (is add_subdirectory(bench) in CMakeLists.txt?)"
[[ -x "$ACP_BENCH_BIN" ]] || fail "ACP micro-benchmark not found: $ACP_BENCH_BIN (target warden-acp-bench)"
[[ -x "$LOAD_BIN" ]] || fail "load client not found: $LOAD_BIN (target warden-bench-load)"
if [[ "$TLS" == 1 ]]; then
    [[ -x "$WARDENCTL_BIN" ]] || fail "wardenctl not found: $WARDENCTL_BIN (target wardenctl; TLS=0 skips the TLS runs)"
    [[ -x "$TLS_LOAD_BIN" ]] || fail "TLS load client not found: $TLS_LOAD_BIN (target warden-tls-load; TLS=0 skips the TLS runs)"
fi
if ((PROTO)); then
    [[ -x "$WARDENCTL_BIN" ]] || fail "wardenctl not found: $WARDENCTL_BIN (target wardenctl; COAP=0 MQTT=0 skip the CoAP/MQTT runs)"
    [[ -x "$TLS_LOAD_BIN" ]] || fail "HTTP load client not found: $TLS_LOAD_BIN (target warden-tls-load; the HTTP side of the CoAP/MQTT ratios)"
fi
[[ "$COAP" != 1 || -x "$COAP_LOAD_BIN" ]] || fail "CoAP load client not found: $COAP_LOAD_BIN (target warden-coap-load; COAP=0 skips the CoAP runs)"
[[ "$MQTT" != 1 || -x "$MQTT_LOAD_BIN" ]] || fail "MQTT load client not found: $MQTT_LOAD_BIN (target warden-mqtt-load; MQTT=0 skips the MQTT runs)"
mkdir -p "$RESULTS_DIR"

# ---------------------------------------------------------------- ACP decision micro-benchmark
# Before the servers start, so nothing of ours competes for the cores. warden-acp-bench compiles its
# 10-rule policy (the same one the acp_retrieve run provisions, see --print-policy) and times acp_permits.
declare -A A
say "== ACP decision: warden-acp-bench --iterations $ACP_ITERATIONS (10 rules, the last one grants)"
if ! "$ACP_BENCH_BIN" --iterations "$ACP_ITERATIONS" >"$WORK/acp-bench.txt" 2>&1; then
    cat "$WORK/acp-bench.txt" >&2
    fail "warden-acp-bench failed"
fi
grep -v '^ACP_RESULT ' "$WORK/acp-bench.txt" || true
while read -r line; do
    kase=""
    for kv in ${line#ACP_RESULT }; do [[ "${kv%%=*}" != case ]] || kase=${kv#*=}; done
    for kv in ${line#ACP_RESULT }; do A[$kase.${kv%%=*}]=${kv#*=}; done
done < <(grep '^ACP_RESULT ' "$WORK/acp-bench.txt")
[[ -n "${A[granted.ns_min]:-}" && -n "${A[denied.ns_min]:-}" ]] || fail "warden-acp-bench printed no ACP_RESULT lines"
# Instructions per decision: callgrind counts only inside acp_permits (--toggle-collect); two runs with
# different iteration counts and the difference divided by the difference cancel the one-off costs
# (the checking call, gmtime's first-call set-up), so the figure is exact and repeatable.
A[granted.instructions]=n/a A[denied.instructions]=n/a
if [[ "$CALLGRIND" == 1 ]]; then
    for kase in granted denied; do
        for n in 1000 2000; do
            if ! valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.$kase.$n" --collect-atstart=no \
                --toggle-collect=acp_permits "$ACP_BENCH_BIN" --no-timing --case "$kase" --iterations "$n" \
                >"$WORK/callgrind.log" 2>&1; then
                cat "$WORK/callgrind.log" >&2
                fail "warden-acp-bench under callgrind failed"
            fi
            A[$kase.ir$n]="$(sed -n 's/^totals:[[:space:]]*\([0-9]*\).*/\1/p' "$WORK/callgrind.$kase.$n")"
        done
        if [[ -n "${A[$kase.ir1000]}" && -n "${A[$kase.ir2000]}" ]] && ((A[$kase.ir2000] > A[$kase.ir1000])); then
            A[$kase.instructions]=$(((A[$kase.ir2000] - A[$kase.ir1000]) / 1000))
        else
            printf 'bench/run.sh: warning: no callgrind total for the %s case\n' "$kase" >&2
        fi
    done
    say "   instructions per decision (callgrind, inside acp_permits): granted ${A[granted.instructions]}, denied ${A[denied.instructions]}"
fi
cp "$WORK/acp-bench.txt" "$RESULTS_DIR/acp-bench.txt"

# ---------------------------------------------------------------- servers
# A TCP port nobody on this host uses. Warden and the ceiling set SO_REUSEPORT
# (MHD_OPTION_LISTENING_ADDRESS_REUSE), so a taken port would not even fail to bind: check /proc/net/tcp*.
port_in_use() {
    local hex
    hex="$(printf '%04X' "$1")"
    awk -v p=":$hex" 'FNR > 1 && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
free_port() {
    local p i
    for ((i = 0; i < 100; i++)); do
        p=$((20000 + RANDOM % 40000))
        port_in_use "$p" || { echo "$p"; return 0; }
    done
    return 1
}

# start_server NAME READY_PATTERN CMD... (the literal @PORT@ in CMD is replaced by the chosen port;
# a server that exits during start-up is retried on another port)
# Sets STARTED_PID, STARTED_PORT and STARTED_LOG.
start_server() {
    local name=$1 pattern=$2 attempt port pid i log
    shift 2
    for ((attempt = 1; attempt <= 5; attempt++)); do
        port="$(free_port)" || fail "no free loopback port found"
        log="$WORK/$name.$attempt.log"
        "${@//@PORT@/$port}" >"$log" 2>&1 </dev/null &
        pid=$!
        PIDS+=("$pid")
        for ((i = 0; i < 150; i++)); do
            if grep -q "$pattern" "$log"; then
                STARTED_PID=$pid
                STARTED_PORT=$port
                STARTED_LOG=$log
                say "   $name: pid $pid on $HOST:$port"
                return 0
            fi
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            cat "$log" >&2
            fail "$name did not print '$pattern' within 15 s"
        fi
        wait "$pid" 2>/dev/null || true
        printf '   %s exited during start-up on port %s (attempt %d):\n' "$name" "$port" "$attempt" >&2
        sed 's/^/     | /' "$log" >&2
    done
    fail "$name could not be started"
}

alive() { # alive NAME PID
    kill -0 "$2" 2>/dev/null || fail "$1 (pid $2) died during the benchmark"
}

# TLS: a development CA (wardenctl ca init), the server's certificate (CSE-ID /id-in, IP SAN 127.0.0.1: the
# client verifies it) and a client certificate for the AE-ID $ORIGIN, all P-256 ECDSA; a 32-byte PSK (hex)
# that is bound to $ADMIN once the server runs. Warden gets both TLS listeners on two more free ports.
ctl() { # ctl WHAT STDIN ARGS...: wardenctl on this run's store; its output in $WORK/ctl.out
    local what=$1 in=$2
    shift 2
    "$WARDENCTL_BIN" --store.path="$WORK/warden.db" "$@" >"$WORK/ctl.out" 2>&1 <"$in" ||
        { cat "$WORK/ctl.out" >&2; fail "wardenctl $what failed"; }
}
WARDEN_TLS_ARGS=()
if [[ "$TLS" == 1 ]]; then
    say "== TLS credentials: wardenctl ca init / ca issue (server /id-in, client $ORIGIN), a 32-byte PSK"
    ctl "ca init" /dev/null ca init "$WORK/ca"
    ctl "ca issue (server)" /dev/null ca issue "$WORK/ca" --id /id-in --out "$WORK/server" --ip "$HOST"
    ctl "ca issue (client $ORIGIN)" /dev/null ca issue "$WORK/ca" --id "$ORIGIN" --out "$WORK/client"
    for f in ca/ca.pem server.pem server.key client.pem client.key; do
        [[ -s "$WORK/$f" ]] || fail "wardenctl ca init/issue did not write $f"
    done
    od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$WORK/psk.hex"
    HTTPS_PORT="$(free_port)" || fail "no free loopback port found"
    HTTPS_PSK_PORT="$(free_port)" || fail "no free loopback port found"
    [[ "$HTTPS_PORT" != "$HTTPS_PSK_PORT" ]] || HTTPS_PSK_PORT=$((HTTPS_PORT + 1))
    WARDEN_TLS_ARGS=(--https.address="$HOST" --https.port="$HTTPS_PORT" --https_psk.address="$HOST"
        --https_psk.port="$HTTPS_PSK_PORT" --tls.cert="$WORK/server.pem" --tls.key="$WORK/server.key"
        --tls.ca="$WORK/ca/ca.pem")
fi

# CoAP: two free UDP ports (coap, coaps). MQTT: a private mosquitto on a free TCP port, with a configuration of our
# own (no persistence, no cap on QoS 1 messages in flight, TCP_NODELAY), started before Warden, which connects to
# it, and stopped by cleanup() like every other process.
udp_port_in_use() {
    local hex
    hex="$(printf '%04X' "$1")"
    awk -v p=":$hex" 'FNR > 1 && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' \
        /proc/net/udp /proc/net/udp6 2>/dev/null
}
free_udp_port() {
    local p i
    for ((i = 0; i < 100; i++)); do
        p=$((20000 + RANDOM % 40000))
        udp_port_in_use "$p" || { echo "$p"; return 0; }
    done
    return 1
}
WARDEN_PROTO_ARGS=()
if [[ "$COAP" == 1 ]]; then
    COAP_PORT="$(free_udp_port)" || fail "no free loopback UDP port found"
    COAPS_PORT="$(free_udp_port)" || fail "no free loopback UDP port found"
    [[ "$COAP_PORT" != "$COAPS_PORT" ]] || COAPS_PORT=$((COAP_PORT + 1))
    WARDEN_PROTO_ARGS+=(--coap.address="$HOST" --coap.port="$COAP_PORT" --coaps.address="$HOST" --coaps.port="$COAPS_PORT")
fi
say "== starting servers"
if [[ "$MQTT" == 1 ]]; then
    for ((attempt = 1; attempt <= 5; attempt++)); do
        BROKER_PORT="$(free_port)" || fail "no free loopback port found"
        printf '%s\n' "per_listener_settings false" "user $(id -un)" "listener $BROKER_PORT $HOST" \
            "allow_anonymous true" "persistence false" "set_tcp_nodelay true" "max_inflight_messages 0" \
            "max_queued_messages 100000" "log_dest file $WORK/mosquitto.log" "log_type error" "log_type warning" \
            >"$WORK/mosquitto.conf"
        : >"$WORK/mosquitto.log"
        "$MOSQUITTO_BIN" -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.out" 2>&1 </dev/null &
        BROKER_PID=$!
        PIDS+=("$BROKER_PID")
        for ((i = 0; i < 100; i++)); do
            kill -0 "$BROKER_PID" 2>/dev/null || break
            if (exec 3<>"/dev/tcp/$HOST/$BROKER_PORT") 2>/dev/null; then break; fi
            sleep 0.05
        done
        if kill -0 "$BROKER_PID" 2>/dev/null && (exec 3<>"/dev/tcp/$HOST/$BROKER_PORT") 2>/dev/null; then
            say "   mosquitto: pid $BROKER_PID on $HOST:$BROKER_PORT"
            break
        fi
        kill "$BROKER_PID" 2>/dev/null || true
        wait "$BROKER_PID" 2>/dev/null || true
        printf '   mosquitto did not start on port %s (attempt %d):\n' "$BROKER_PORT" "$attempt" >&2
        cat "$WORK/mosquitto.out" "$WORK/mosquitto.log" | sed 's/^/     | /' >&2
        ((attempt < 5)) || fail "mosquitto could not be started"
    done
    WARDEN_PROTO_ARGS+=(--mqtt.address="$HOST" --mqtt.port="$BROKER_PORT")
fi
start_server ceiling "warden-ceiling: ready" "$CEILING_BIN" @PORT@
CEILING_PID=$STARTED_PID CEILING_PORT=$STARTED_PORT
# the bench's one AE creates more than limits.quota_count's default (1,000,000) resources in a full run:
# quotas off (their bookkeeping, triggers in every write transaction, runs and is measured either way);
# per-originator rate limits are off by default (limits.rate=0)
start_server warden "warden: ready" "$WARDEN_BIN" --http.port=@PORT@ --http.address="$HOST" \
    --store.path="$WORK/warden.db" --log.level=error "${WARDEN_TLS_ARGS[@]}" "${WARDEN_PROTO_ARGS[@]}" \
    --limits.quota_count=0 --limits.quota_bytes=0
WARDEN_PID=$STARTED_PID WARDEN_PORT=$STARTED_PORT WARDEN_LOG=$STARTED_LOG
[[ "$TLS" != 1 ]] || say "   warden: HTTPS (certificates) on $HOST:$HTTPS_PORT, HTTPS (TLS-PSK) on $HOST:$HTTPS_PSK_PORT"
[[ "$COAP" != 1 ]] || say "   warden: CoAP on udp $HOST:$COAP_PORT, CoAP over DTLS on udp $HOST:$COAPS_PORT"
[[ "$MQTT" != 1 ]] || say "   warden: MQTT, a client of the broker on $HOST:$BROKER_PORT"

# ---------------------------------------------------------------- provisioning
RI_SEQ=0
# m2m PORT METHOD PATH ORIGIN [TY BODY] -> RESP_STATUS RESP_RSC RESP_RI RESP_BODY RESP_LOC
m2m() {
    local port=$1 method=$2 path=$3 origin=$4 ty=${5:-} body=${6:-}
    RI_SEQ=$((RI_SEQ + 1))
    local ri="bench-setup-$RI_SEQ"
    local args=(-sS --noproxy '*' --max-time 10 -X "$method"
        -H "X-M2M-Origin: $origin" -H "X-M2M-RI: $ri" -H "X-M2M-RVI: 3" -H "Accept: application/json"
        -D "$WORK/resp.h" -o "$WORK/resp.b" -w '%{http_code}')
    [[ -n "$ty" ]] && args+=(-H "Content-Type: application/json;ty=$ty" --data-binary "$body")
    RESP_STATUS="$(curl "${args[@]}" "http://$HOST:$port$path")" || fail "curl $method $path failed"
    RESP_RSC="$(tr -d '\r' <"$WORK/resp.h" | sed -n 's/^[Xx]-[Mm]2[Mm]-[Rr][Ss][Cc]:[[:space:]]*//p' | tail -n 1)"
    RESP_RI="$(tr -d '\r' <"$WORK/resp.h" | sed -n 's/^[Xx]-[Mm]2[Mm]-[Rr][Ii]:[[:space:]]*//p' | tail -n 1)"
    RESP_LOC="$(tr -d '\r' <"$WORK/resp.h" | sed -n 's/^[Cc]ontent-[Ll]ocation:[[:space:]]*//p' | tail -n 1)"
    RESP_BODY="$(cat "$WORK/resp.b")"
    [[ "$RESP_RI" == "$ri" ]] || fail "$method $path: X-M2M-RI not echoed (sent '$ri', got '$RESP_RI')"
}
expect() { # expect HTTP RSC WHAT
    [[ "$RESP_STATUS" == "$1" && "$RESP_RSC" == "$2" ]] ||
        fail "$3: expected HTTP $1 / RSC $2, got HTTP $RESP_STATUS / RSC ${RESP_RSC:-none}: $RESP_BODY"
}
# rn of the created resource: from the body, else the last segment of Content-Location.
created_rn() {
    local rn
    rn="$(printf '%s' "$RESP_BODY" | sed -n 's/.*"rn"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' | head -n 1)"
    [[ -n "$rn" ]] || rn="${RESP_LOC##*/}"
    [[ -n "$rn" ]] || fail "$1: no rn in the response body nor Content-Location: $RESP_BODY"
    printf '%s' "$rn"
}

say "== provisioning"
m2m "$WARDEN_PORT" POST /cse-in "$ORIGIN" 2 '{"m2m:ae":{"api":"Nbench","rr":false,"srv":["3"]}}'
expect 201 2001 "create AE $ORIGIN"
AE_RN="$(created_rn "create AE")"
m2m "$WARDEN_PORT" POST "/cse-in/$AE_RN" "$ORIGIN" 3 '{"m2m:cnt":{"rn":"cnt","mni":100}}'
expect 201 2001 "create container"
CNT_RN="$(created_rn "create container")"
CNT_PATH="/cse-in/$AE_RN/$CNT_RN"
m2m "$WARDEN_PORT" POST "$CNT_PATH" "$ORIGIN" 4 '{"m2m:cin":{"cnf":"text/plain:0","con":"warden benchmark reading 0001"}}'
expect 201 2001 "create contentInstance"
CIN_RN="$(created_rn "create contentInstance")"
CIN_PATH="$CNT_PATH/$CIN_RN"
m2m "$WARDEN_PORT" GET "$CIN_PATH" "$ORIGIN"
expect 200 2000 "retrieve $CIN_PATH"
m2m "$CEILING_PORT" GET "$CIN_PATH" "$ORIGIN"
expect 200 2000 "ceiling GET"
# The create run writes into a container without limits: "create of a contentInstance", durable.
# create_mni writes into $CNT_PATH (mni=100), so each create also evicts the oldest instance: a
# create plus a delete, reported beside it.
m2m "$WARDEN_PORT" POST "/cse-in/$AE_RN" "$ORIGIN" 3 '{"m2m:cnt":{"rn":"log"}}'
expect 201 2001 "create container without limits"
LOG_PATH="/cse-in/$AE_RN/$(created_rn "create container without limits")"
say "   AE /cse-in/$AE_RN, container $CNT_PATH (mni=100), contentInstance $CIN_PATH, container $LOG_PATH (no limits)"
# More resource types (issue 17), each measured right after the contentInstance creates of its round: a
# timeSeries with mni=100 like $CNT_PATH (tsi_create: a create, the eviction of the oldest, and the
# dataGenerationTime uniqueness check, which searches the series' instances when a request overtakes
# another, as concurrent connections do) and a temperature flexContainer (fcnt_update: typed custom
# attributes checked against its definition).
m2m "$WARDEN_PORT" POST "/cse-in/$AE_RN" "$ORIGIN" 29 '{"m2m:ts":{"rn":"series","mni":100}}'
expect 201 2001 "create timeSeries"
TS_PATH="/cse-in/$AE_RN/$(created_rn "create timeSeries")"
m2m "$WARDEN_PORT" POST "/cse-in/$AE_RN" "$ORIGIN" 28 '{"cod:tempe":{"rn":"thermo","cnd":"org.onem2m.common.moduleclass.temperature","curT0":21.5}}'
expect 201 2001 "create flexContainer"
FCNT_PATH="/cse-in/$AE_RN/thermo"
say "   timeSeries $TS_PATH (mni=100), flexContainer $FCNT_PATH (cod:tempe)"

# The ACP run: AE $READER retrieves a contentInstance of a container whose acpi names an ACP with the
# 10-rule pv of warden-acp-bench (rule 1 grants $ORIGIN everything, so it can create the instance; only
# rule 10 grants $READER, RETRIEVE|DISCOVERY). The contentInstance follows its container's policies.
m2m "$WARDEN_PORT" POST /cse-in "$READER" 2 '{"m2m:ae":{"api":"Nbench","rr":false,"srv":["3"]}}'
expect 201 2001 "create AE $READER"
POLICY_PV="$("$ACP_BENCH_BIN" --print-policy)" || fail "warden-acp-bench --print-policy failed"
m2m "$WARDEN_PORT" POST "/cse-in/$AE_RN" "$ORIGIN" 1 \
    "{\"m2m:acp\":{\"rn\":\"acp10\",\"pv\":$POLICY_PV,\"pvs\":{\"acr\":[{\"acor\":[\"$ORIGIN\"],\"acop\":63}]}}}"
expect 201 2001 "create accessControlPolicy (10 rules)"
ACP_RI="$(printf '%s' "$RESP_BODY" | sed -n 's/.*"ri"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' | head -n 1)"
[[ -n "$ACP_RI" ]] || fail "no ri in the accessControlPolicy response: $RESP_BODY"
m2m "$WARDEN_PORT" POST "/cse-in/$AE_RN" "$ORIGIN" 3 "{\"m2m:cnt\":{\"rn\":\"cacp\",\"acpi\":[\"$ACP_RI\"]}}"
expect 201 2001 "create container with acpi"
ACNT_PATH="/cse-in/$AE_RN/$(created_rn "create container with acpi")"
m2m "$WARDEN_PORT" POST "$ACNT_PATH" "$ORIGIN" 4 '{"m2m:cin":{"cnf":"text/plain:0","con":"warden benchmark reading 0001"}}'
expect 201 2001 "create contentInstance under the ACP"
ACIN_PATH="$ACNT_PATH/$(created_rn "create contentInstance under the ACP")"
m2m "$WARDEN_PORT" GET "$ACIN_PATH" "$READER"
expect 200 2000 "retrieve $ACIN_PATH as $READER (granted by rule 10)"
m2m "$WARDEN_PORT" DELETE "$ACIN_PATH" "$READER"
expect 403 4103 "delete $ACIN_PATH as $READER (no rule grants DELETE)"
m2m "$WARDEN_PORT" GET "$CIN_PATH" "$READER"
expect 403 4103 "retrieve $CIN_PATH as $READER (no acpi: creator only)"
say "   AE /cse-in/$READER, ACP $ACP_RI (pv: 10 rules), container $ACNT_PATH (acpi), contentInstance $ACIN_PATH"

# Warden's CPU time (user + system, all threads) in clock ticks, from /proc: per run, divided by the requests
# completed, it is what one request costs the server, whatever the client costs (TLS and CoAP/MQTT parts).
CLK_TCK="$(getconf CLK_TCK 2>/dev/null || echo 100)"
warden_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$WARDEN_PID/stat"; }

# ---------------------------------------------------------------- runs
RUNS=(ceiling retrieve acp_retrieve create create_mni tsi_create fcnt_update)
for n in "${RUNS[@]}"; do : >"$RESULTS_DIR/wrk-$n.txt"; done
# run_wrk ROUND NAME PORT SCRIPT PATH [ORIGIN] -> R[ROUND.NAME.key] for every key of the script's WRK_RESULT line
declare -A R
run_wrk() {
    local round=$1 name=$2 port=$3 script=$4 path=$5 origin=${6:-$ORIGIN} out line kv key val k
    out="$WORK/wrk-$round-$name.txt"
    say "== $name: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency -s bench/$script http://$HOST:$port$path (From $origin)"
    # In the background so that a signal to this script is handled at once (cleanup stops wrk too).
    WARDEN_BENCH_PATH="$path" WARDEN_BENCH_ORIGIN="$origin" WARDEN_BENCH_KIND="${WARDEN_BENCH_KIND:-}" \
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 5s --latency \
        -s "$ROOT/bench/$script" "http://$HOST:$port$path" >"$out" 2>&1 </dev/null &
    local wrk_pid=$!
    PIDS+=("$wrk_pid")
    if ! wait "$wrk_pid"; then
        cat "$out" >&2
        fail "$name: wrk exited with an error"
    fi
    { ((ROUNDS == 1)) || say "## round $round"; cat "$out"; } >>"$RESULTS_DIR/wrk-$name.txt"
    line="$(grep '^WRK_RESULT ' "$out" | tail -n 1)" || { cat "$out" >&2; fail "$name: no WRK_RESULT line from the script"; }
    for kv in ${line#WRK_RESULT }; do
        key=${kv%%=*} val=${kv#*=}
        R[$round.$name.$key]=$val
    done
    k="$round.$name"
    local sockerr=$((R[$k.err_connect] + R[$k.err_read] + R[$k.err_write] + R[$k.err_timeout]))
    R[$k.socket_errors]=$sockerr
    printf '   %-12s %10s req/s   p50 %8.3f ms   p99 %8.3f ms   requests %s   non-2xx %s   socket errors %s\n' \
        "$name" "${R[$k.rps]}" "$(awk "BEGIN{print ${R[$k.p50_us]}/1000}")" \
        "$(awk "BEGIN{print ${R[$k.p99_us]}/1000}")" "${R[$k.requests]}" "${R[$k.non2xx]}" "$sockerr"
    alive ceiling "$CEILING_PID"
    alive warden "$WARDEN_PID"
    ((R[$k.requests] > 0)) || fail "$name: no request completed"
    ((R[$k.non2xx] == 0)) || { cat "$out" >&2; fail "$name: ${R[$k.non2xx]} responses with HTTP status >= 400"; }
    ((sockerr == 0)) || { cat "$out" >&2; fail "$name: $sockerr socket errors (connect ${R[$k.err_connect]}, read ${R[$k.err_read]}, write ${R[$k.err_write]}, timeout ${R[$k.err_timeout]})"; }
}

for ((round = 1; round <= ROUNDS; round++)); do
    ((ROUNDS == 1)) || say "== round $round/$ROUNDS"
    if ((round > 1)); then
        # The previous create run evicted the instance retrieve reads (mni=100): retrieve a fresh one.
        m2m "$WARDEN_PORT" POST "$CNT_PATH" "$ORIGIN" 4 '{"m2m:cin":{"cnf":"text/plain:0","con":"warden benchmark reading 0001"}}'
        expect 201 2001 "create contentInstance for round $round"
        CIN_PATH="$CNT_PATH/$(created_rn "create contentInstance")"
    fi
    run_wrk "$round" ceiling "$CEILING_PORT" ceiling.lua "$CIN_PATH"
    run_wrk "$round" retrieve "$WARDEN_PORT" retrieve.lua "$CIN_PATH"
    run_wrk "$round" acp_retrieve "$WARDEN_PORT" acp_retrieve.lua "$ACIN_PATH" "$READER"
    run_wrk "$round" create "$WARDEN_PORT" create.lua "$LOG_PATH"
    run_wrk "$round" create_mni "$WARDEN_PORT" create.lua "$CNT_PATH"
    WARDEN_BENCH_KIND=tsi run_wrk "$round" tsi_create "$WARDEN_PORT" create_types.lua "$TS_PATH"
    WARDEN_BENCH_KIND=fcnt run_wrk "$round" fcnt_update "$WARDEN_PORT" create_types.lua "$FCNT_PATH"
done

# The store must still be consistent: the container is bounded by mni and its latest instance is readable.
m2m "$WARDEN_PORT" GET "$CNT_PATH" "$ORIGIN"
expect 200 2000 "retrieve container after the create run"
CNI="$(printf '%s' "$RESP_BODY" | sed -n 's/.*"cni"[[:space:]]*:[[:space:]]*\([0-9]*\).*/\1/p' | head -n 1)"
if [[ -n "$CNI" ]] && ((CNI > 100)); then fail "container holds cni=$CNI instances, more than mni=100"; fi
m2m "$WARDEN_PORT" GET "$CNT_PATH/la" "$ORIGIN"
expect 200 2000 "retrieve $CNT_PATH/la after the create run"

# ---------------------------------------------------------------- TLS
# After the wrk runs (which it must not disturb) and before discovery (whose big tree it must not meet).
# All with warden-tls-load: handshakes/s (connect, full handshake, close_notify, the server's close) over the
# PSK and the certificate listener, TLS 1.2 and 1.3; then retrieve over kept-alive connections, each TLS run
# right after the plain-HTTP run it is divided by (same client, same originator, same resource).
declare -A T
TLS_RUNS=(hs_psk12 hs_psk13 hs_ecdsa12 hs_ecdsa13 ka_plain_admin ka_psk ka_plain_ae ka_cert)
rm -f "$RESULTS_DIR/tls.txt"
if [[ "$TLS" == 1 ]]; then
    TLS_T0="$(date +%s.%N)"
    say "== TLS: provisioning (PSK $PSK_ID bound to $ADMIN; container and contentInstance for the TLS runs)"
    ctl "psk add" "$WORK/psk.hex" psk add "$PSK_ID" "$ADMIN"
    m2m "$WARDEN_PORT" POST "/cse-in/$AE_RN" "$ORIGIN" 3 '{"m2m:cnt":{"rn":"tls"}}'
    expect 201 2001 "create container for the TLS runs"
    TCNT_PATH="/cse-in/$AE_RN/$(created_rn "create container for the TLS runs")"
    m2m "$WARDEN_PORT" POST "$TCNT_PATH" "$ORIGIN" 4 '{"m2m:cin":{"cnf":"text/plain:0","con":"warden benchmark reading 0001"}}'
    expect 201 2001 "create contentInstance for the TLS runs"
    TCIN_PATH="$TCNT_PATH/$(created_rn "create contentInstance for the TLS runs")"
    PSK_ARGS=(--port "$HTTPS_PSK_PORT" --psk-identity "$PSK_ID" --psk-key-file "$WORK/psk.hex")
    CERT_ARGS=(--port "$HTTPS_PORT" --cert "$WORK/client.pem" --key "$WORK/client.key" --ca "$WORK/ca/ca.pem")
    PLAIN_ARGS=(--port "$WARDEN_PORT" --plain)
    REQ_ARGS=(--host "$HOST" --path "$TCIN_PATH" --rvi 3 --check-ri)

    # tls_load OUT ARGS...: warden-tls-load in the background (like wrk), its TLS_RESULT line parsed into TL[key];
    # TL[what] = "TLS1.3 ECDHE-PSK SECP256R1 AES-128-GCM" (version, key exchange, group, cipher) or "plain HTTP"
    declare -A TL
    tls_load() {
        local out=$1 pid line kv
        shift
        "$TLS_LOAD_BIN" "$@" >"$out" 2>&1 </dev/null &
        pid=$!
        PIDS+=("$pid")
        TL=()
        TL_RC=0
        wait "$pid" || TL_RC=$?
        line="$(grep '^TLS_RESULT ' "$out" | tail -n 1)" || true
        for kv in ${line#TLS_RESULT }; do TL[${kv%%=*}]=${kv#*=}; done
        if [[ "${TL[version]:-none}" == none ]]; then
            TL[what]="plain HTTP"
        else
            TL[what]="${TL[version]} ${TL[kx]:-?} ${TL[group]:-?} ${TL[cipher]:-?}"
        fi
        alive warden "$WARDEN_PID"
    }
    # One request each way before anything is timed: the credentials work, the originators are the ones the
    # SA admits, and a From the SA does not admit is refused (so the TLS runs really run authenticated).
    tls_check() { # tls_check WHAT EXPECTED_STATUS ARGS...
        local what=$1 want=$2
        shift 2
        tls_load "$WORK/tls-check.txt" keepalive --conns 1 --count 1 --ri-prefix C "${REQ_ARGS[@]}" "$@"
        if [[ "${TL[first_status]:-}" != "$want" ]]; then
            cat "$WORK/tls-check.txt" >&2
            fail "TLS check: $what: expected HTTP $want, got ${TL[first_status]:-no response}"
        fi
        say "   $what: HTTP $want (${TL[what]})"
    }
    tls_check "GET as $ADMIN over the PSK" 200 "${PSK_ARGS[@]}" --origin "$ADMIN"
    tls_check "GET as $ORIGIN over the $ORIGIN certificate" 200 "${CERT_ARGS[@]}" --origin "$ORIGIN"
    tls_check "GET as $ADMIN over the $ORIGIN certificate (not the SA's identity)" 403 "${CERT_ARGS[@]}" --origin "$ADMIN"
    tls_check "GET as $ORIGIN over plain HTTP" 200 "${PLAIN_ARGS[@]}" --origin "$ORIGIN"
    tls_check "GET as $ADMIN over plain HTTP" 200 "${PLAIN_ARGS[@]}" --origin "$ADMIN"
    say "   container $TCNT_PATH, contentInstance $TCIN_PATH"

    for n in "${TLS_RUNS[@]}"; do : >"$WORK/tls-$n.txt"; done
    # run_tls ROUND NAME WANT_VERSION ARGS... -> T[ROUND.NAME.key] for every key of the TLS_RESULT line
    run_tls() {
        local round=$1 name=$2 want=$3 k ticks0 ticks1
        shift 3
        say "== $name: warden-tls-load $*"
        ticks0="$(warden_ticks)"
        tls_load "$WORK/tls-run.txt" "$@" --duration "$TLS_DURATION"
        ticks1="$(warden_ticks)"
        { ((ROUNDS == 1)) || say "## round $round"; say "## $name: warden-tls-load $*"; cat "$WORK/tls-run.txt"; } \
            >>"$WORK/tls-$name.txt"
        [[ -n "${TL[status]:-}" ]] || { cat "$WORK/tls-run.txt" >&2; fail "$name: no TLS_RESULT line from warden-tls-load"; }
        k="$round.$name"
        for kv in "${!TL[@]}"; do T[$k.$kv]=${TL[$kv]}; done
        [[ -n "${TL[rate]:-}" ]] || { cat "$WORK/tls-run.txt" >&2; fail "$name: incomplete TLS_RESULT line"; }
        T[$k.server_cpu_us]="$(awk -v t=$((ticks1 - ticks0)) -v hz="$CLK_TCK" -v n="${TL[ops]}" \
            'BEGIN{ printf "%.1f", (n > 0 ? t * 1e6 / hz / n : 0) }')"
        if [[ "$name" == hs_* ]]; then
            printf '   %-14s %10s handshakes/s   p50 %8.3f ms   p99 %8.3f ms   CPU/handshake: server %s µs, client %s µs   %s\n' \
                "$name" "${TL[rate]}" "$(awk "BEGIN{print ${TL[p50_us]}/1000}")" "$(awk "BEGIN{print ${TL[p99_us]}/1000}")" \
                "${T[$k.server_cpu_us]}" "${TL[client_cpu_us]}" "${TL[what]}"
        else
            printf '   %-14s %10s req/s          p50 %8.3f ms   p99 %8.3f ms   CPU/request:   server %s µs, client %s µs   %s\n' \
                "$name" "${TL[rate]}" "$(awk "BEGIN{print ${TL[p50_us]}/1000}")" "$(awk "BEGIN{print ${TL[p99_us]}/1000}")" \
                "${T[$k.server_cpu_us]}" "${TL[client_cpu_us]}" "${TL[what]}"
        fi
        if ((TL_RC != 0)) || [[ "${TL[status]}" != ok ]]; then
            cat "$WORK/tls-run.txt" >&2
            fail "$name: ${TL[errors]} errors (non-2xx ${TL[non2xx]}, connect ${TL[err_connect]}, handshake ${TL[err_handshake]}, I/O ${TL[err_io]}, timeout ${TL[err_timeout]}, RI not echoed ${TL[err_ri]}; ${TL[ops]} completed)"
        fi
        [[ -z "$want" || "${TL[version]}" == "$want" ]] ||
            fail "$name: negotiated ${TL[version]} (${TL[session]}), expected $want"
    }
    HS_ARGS=(handshake --conns "$TLS_HS_CONNS" --host "$HOST")
    KA_ARGS=(keepalive --conns "$TLS_CONNECTIONS" "${REQ_ARGS[@]}")
    for ((round = 1; round <= ROUNDS; round++)); do
        ((ROUNDS == 1)) || say "== TLS round $round/$ROUNDS"
        run_tls "$round" hs_psk12 TLS1.2 "${HS_ARGS[@]}" "${PSK_ARGS[@]}" --tls 1.2
        run_tls "$round" hs_psk13 TLS1.3 "${HS_ARGS[@]}" "${PSK_ARGS[@]}" --tls default
        run_tls "$round" hs_ecdsa12 TLS1.2 "${HS_ARGS[@]}" "${CERT_ARGS[@]}" --tls 1.2
        run_tls "$round" hs_ecdsa13 TLS1.3 "${HS_ARGS[@]}" "${CERT_ARGS[@]}" --tls default
        run_tls "$round" ka_plain_admin "" "${KA_ARGS[@]}" "${PLAIN_ARGS[@]}" --origin "$ADMIN" --ri-prefix P
        run_tls "$round" ka_psk TLS1.3 "${KA_ARGS[@]}" "${PSK_ARGS[@]}" --origin "$ADMIN" --ri-prefix K --tls default
        run_tls "$round" ka_plain_ae "" "${KA_ARGS[@]}" "${PLAIN_ARGS[@]}" --origin "$ORIGIN" --ri-prefix A
        run_tls "$round" ka_cert TLS1.3 "${KA_ARGS[@]}" "${CERT_ARGS[@]}" --origin "$ORIGIN" --ri-prefix E --tls default
    done
    for n in "${TLS_RUNS[@]}"; do cat "$WORK/tls-$n.txt"; done >"$RESULTS_DIR/tls.txt"
    TLS_SECONDS="$(awk -v a="$TLS_T0" -v b="$(date +%s.%N)" 'BEGIN{ printf "%.1f", b - a }')"
    say "   TLS section: $TLS_SECONDS s"
fi

# ---------------------------------------------------------------- CoAP, CoAP/DTLS-PSK and MQTT against plain HTTP
# After TLS, before discovery. The same request (a contentInstance retrieve; a durable contentInstance create of the
# same ~100-byte body into a container without limits), the same originator ($ORIGIN), the same number of requests
# in flight (PROTO_INFLIGHT: HTTP connections, CoAP sessions, outstanding MQTT rqis) and the same kind of client (a C
# program, closed loop, every response checked) on each side; each ratio's numerator is measured right after its
# HTTP denominator, within the round. Each protocol creates into a container of its own, so every create run starts
# from an equally small container.
declare -A P
PROTO_RUNS=()
rm -f "$RESULTS_DIR/proto.txt"
if ((PROTO)); then
    PROTO_T0="$(date +%s.%N)"
    say "== CoAP/MQTT: provisioning (containers and a contentInstance$([[ "$COAP" != 1 ]] || echo "; PSK $COAP_PSK_ID bound to $ORIGIN"))"
    m2m "$WARDEN_PORT" POST "/cse-in/$AE_RN" "$ORIGIN" 3 '{"m2m:cnt":{"rn":"proto"}}'
    expect 201 2001 "create container for the CoAP/MQTT retrieve runs"
    PCNT_PATH="/cse-in/$AE_RN/$(created_rn "create container for the CoAP/MQTT retrieve runs")"
    m2m "$WARDEN_PORT" POST "$PCNT_PATH" "$ORIGIN" 4 '{"m2m:cin":{"cnf":"text/plain:0","con":"warden benchmark reading 0001"}}'
    expect 201 2001 "create contentInstance for the CoAP/MQTT retrieve runs"
    PCIN_PATH="$PCNT_PATH/$(created_rn "create contentInstance for the CoAP/MQTT retrieve runs")"
    declare -A PLOG
    for proto in http coap dtls mqtt; do
        m2m "$WARDEN_PORT" POST "/cse-in/$AE_RN" "$ORIGIN" 3 "{\"m2m:cnt\":{\"rn\":\"plog_$proto\"}}"
        expect 201 2001 "create container for the $proto create runs"
        PLOG[$proto]="/cse-in/$AE_RN/$(created_rn "create container for the $proto create runs")"
    done
    # the body of bench/create.lua: 100 bytes of content
    PROTO_BODY='{"m2m:cin":{"con":"temperature=21.5;humidity=40;pressure=1013;sensor=bench-0001;seq=0000000000;pad=xxxxxxxxxxxxxxxxxxxx"}}'
    if [[ "$COAP" == 1 ]]; then
        od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$WORK/coap-psk.hex"
        ctl "psk add (CoAP)" "$WORK/coap-psk.hex" psk add "$COAP_PSK_ID" "$ORIGIN"
    fi
    COAP_UDP_ARGS=(--host "$HOST" --port "${COAP_PORT:-0}")
    COAP_DTLS_ARGS=(--host "$HOST" --port "${COAPS_PORT:-0}" --psk-identity "$COAP_PSK_ID" --psk-key-file "$WORK/coap-psk.hex")
    MQTT_ARGS=(--host "$HOST" --port "${BROKER_PORT:-0}" --cse id-in)

    # proto_load OUT BIN ARGS...: a load client in the background (like wrk), its *_RESULT line parsed into PL[key]
    declare -A PL
    proto_load() {
        local out=$1 pid line kv
        shift
        "$@" >"$out" 2>&1 </dev/null &
        pid=$!
        PIDS+=("$pid")
        PL=()
        PL_RC=0
        wait "$pid" || PL_RC=$?
        line="$(grep -E '^(TLS|COAP|MQTT)_RESULT ' "$out" | tail -n 1)" || true
        for kv in ${line#*_RESULT }; do PL[${kv%%=*}]=${kv#*=}; done
        alive warden "$WARDEN_PID"
        [[ -z "${BROKER_PID:-}" ]] || alive mosquitto "$BROKER_PID"
    }
    # One request each before anything is timed (the clients send one untimed request per session first, too).
    proto_check() { # proto_check WHAT WANT(HTTP status / oneM2M RSC) BIN ARGS...
        local what=$1 want=$2 got
        shift 2
        proto_load "$WORK/proto-check.txt" "$@"
        got="${PL[first_status]:-${PL[first_rsc]:-}}"
        if ((PL_RC != 0)) || [[ "$got" != "$want" ]]; then
            cat "$WORK/proto-check.txt" >&2
            fail "CoAP/MQTT check: $what: expected $want, got ${got:-no response}"
        fi
        say "   $what: $want"
    }
    HTTP_R=("$TLS_LOAD_BIN" keepalive --plain --host "$HOST" --port "$WARDEN_PORT" --rvi 3 --check-ri --origin "$ORIGIN")
    proto_check "HTTP GET as $ORIGIN" 200 "${HTTP_R[@]}" --conns 1 --count 1 --path "$PCIN_PATH"
    if [[ "$COAP" == 1 ]]; then
        proto_check "CoAP GET as $ORIGIN" 2000 "$COAP_LOAD_BIN" retrieve "${COAP_UDP_ARGS[@]}" --sessions 1 --count 1 \
            --path "$PCIN_PATH" --origin "$ORIGIN"
        proto_check "CoAP/DTLS-PSK GET as $ORIGIN" 2000 "$COAP_LOAD_BIN" retrieve "${COAP_DTLS_ARGS[@]}" --sessions 1 \
            --count 1 --path "$PCIN_PATH" --origin "$ORIGIN"
        proto_check "CoAP/DTLS-PSK GET as $ADMIN over $ORIGIN's PSK (not the SA's identity)" 4106 "$COAP_LOAD_BIN" retrieve \
            "${COAP_DTLS_ARGS[@]}" --sessions 1 --count 1 --path "$PCIN_PATH" --origin "$ADMIN" --expect 4106
    fi
    if [[ "$MQTT" == 1 ]]; then
        # Warden connects to the broker on its own (its "ready" line does not wait for it): a request published
        # before its subscription is in place is lost, so only this first check is retried, for up to ~10 s.
        for ((i = 1; i <= 20; i++)); do
            proto_load "$WORK/proto-check.txt" "$MQTT_LOAD_BIN" retrieve "${MQTT_ARGS[@]}" --inflight 1 --count 1 \
                --timeout 0.5 --to "$PCIN_PATH" --origin "$ORIGIN"
            [[ "${PL[status]:-}" != ok ]] || break
            sleep 0.1
        done
        proto_check "MQTT retrieve as $ORIGIN" 2000 "$MQTT_LOAD_BIN" retrieve "${MQTT_ARGS[@]}" --inflight 1 --count 1 \
            --to "$PCIN_PATH" --origin "$ORIGIN"
    fi
    say "   container $PCNT_PATH, contentInstance $PCIN_PATH; creates into ${PLOG[http]} and its siblings"

    # run_proto ROUND NAME BIN ARGS... -> P[ROUND.NAME.key] for every key of the result line, plus server_cpu_us
    run_proto() {
        local round=$1 name=$2 k ticks0 ticks1
        shift 2
        say "== $name: ${*#"$BUILD_DIR/"}"
        ticks0="$(warden_ticks)"
        proto_load "$WORK/proto-run.txt" "$@" --duration "$PROTO_DURATION"
        ticks1="$(warden_ticks)"
        { ((ROUNDS == 1)) || say "## round $round"; say "## $name: $*"; cat "$WORK/proto-run.txt"; } >>"$WORK/proto-$name.txt"
        [[ -n "${PL[status]:-}" && -n "${PL[rate]:-}" ]] ||
            { cat "$WORK/proto-run.txt" >&2; fail "$name: no result line from the load client"; }
        k="$round.$name"
        for kv in "${!PL[@]}"; do P[$k.$kv]=${PL[$kv]}; done
        P[$k.server_cpu_us]="$(awk -v t=$((ticks1 - ticks0)) -v hz="$CLK_TCK" -v n="${PL[ops]}" \
            'BEGIN{ printf "%.1f", (n > 0 ? t * 1e6 / hz / n : 0) }')"
        printf '   %-15s %10s req/s   p50 %8.3f ms   p99 %8.3f ms   CPU/request: server %s µs, client %s µs\n' \
            "$name" "${PL[rate]}" "$(awk "BEGIN{print ${PL[p50_us]}/1000}")" "$(awk "BEGIN{print ${PL[p99_us]}/1000}")" \
            "${P[$k.server_cpu_us]}" "${PL[client_cpu_us]}"
        if ((PL_RC != 0)) || [[ "${PL[status]}" != ok ]]; then
            cat "$WORK/proto-run.txt" >&2
            fail "$name: ${PL[errors]:-?} errors (${PL[ops]:-0} requests completed; see above)"
        fi
    }
    PROTO_RUNS=(http_retrieve)
    [[ "$COAP" != 1 ]] || PROTO_RUNS+=(coap_retrieve dtls_retrieve)
    [[ "$MQTT" != 1 ]] || PROTO_RUNS+=(mqtt_retrieve)
    PROTO_RUNS+=(http_create)
    [[ "$COAP" != 1 ]] || PROTO_RUNS+=(coap_create dtls_create)
    [[ "$MQTT" != 1 ]] || PROTO_RUNS+=(mqtt_create)
    for n in "${PROTO_RUNS[@]}"; do : >"$WORK/proto-$n.txt"; done
    N_IN=$PROTO_INFLIGHT
    for ((round = 1; round <= ROUNDS; round++)); do
        ((ROUNDS == 1)) || say "== CoAP/MQTT round $round/$ROUNDS"
        run_proto "$round" http_retrieve "${HTTP_R[@]}" --conns "$N_IN" --path "$PCIN_PATH" --ri-prefix H
        if [[ "$COAP" == 1 ]]; then
            run_proto "$round" coap_retrieve "$COAP_LOAD_BIN" retrieve "${COAP_UDP_ARGS[@]}" --sessions "$N_IN" \
                --path "$PCIN_PATH" --origin "$ORIGIN" --ri-prefix C
            run_proto "$round" dtls_retrieve "$COAP_LOAD_BIN" retrieve "${COAP_DTLS_ARGS[@]}" --sessions "$N_IN" \
                --path "$PCIN_PATH" --origin "$ORIGIN" --ri-prefix D
        fi
        [[ "$MQTT" != 1 ]] || run_proto "$round" mqtt_retrieve "$MQTT_LOAD_BIN" retrieve "${MQTT_ARGS[@]}" \
            --inflight "$N_IN" --to "$PCIN_PATH" --origin "$ORIGIN" --ri-prefix M
        run_proto "$round" http_create "${HTTP_R[@]}" --conns "$N_IN" --path "${PLOG[http]}" --ri-prefix I \
            --method POST --content-type 'application/json;ty=4' --body "$PROTO_BODY"
        if [[ "$COAP" == 1 ]]; then
            run_proto "$round" coap_create "$COAP_LOAD_BIN" create "${COAP_UDP_ARGS[@]}" --sessions "$N_IN" \
                --path "${PLOG[coap]}" --origin "$ORIGIN" --ri-prefix E --body "$PROTO_BODY"
            run_proto "$round" dtls_create "$COAP_LOAD_BIN" create "${COAP_DTLS_ARGS[@]}" --sessions "$N_IN" \
                --path "${PLOG[dtls]}" --origin "$ORIGIN" --ri-prefix F --body "$PROTO_BODY"
        fi
        [[ "$MQTT" != 1 ]] || run_proto "$round" mqtt_create "$MQTT_LOAD_BIN" create "${MQTT_ARGS[@]}" \
            --inflight "$N_IN" --to "${PLOG[mqtt]}" --origin "$ORIGIN" --ri-prefix N --body "$PROTO_BODY"
    done
    for n in "${PROTO_RUNS[@]}"; do cat "$WORK/proto-$n.txt"; done >"$RESULTS_DIR/proto.txt"
    [[ "$MQTT" != 1 ]] || cp "$WORK/mosquitto.log" "$RESULTS_DIR/mosquitto.log"
    PROTO_SECONDS="$(awk -v a="$PROTO_T0" -v b="$(date +%s.%N)" 'BEGIN{ printf "%.1f", b - a }')"
    say "   CoAP/MQTT section: $PROTO_SECONDS s"
fi

# ---------------------------------------------------------------- discovery over 100 000 resources
# Last, so the big tree cannot influence the throughput runs. AE $DISC_ORIGIN with DISC_CONTAINERS
# containers (every (DISC_CONTAINERS/10)th labelled $DISC_LABEL), each with DISC_INSTANCES
# contentInstances created by warden-bench-load on DISC_CONNS keep-alive connections; then
# DISC_REQUESTS timed sequential requests (after 2 untimed) per discovery query, as the AE itself
# (the creator: the default policy grants DISCOVERY on everything, one decision per resource).
declare -A D
rm -f "$RESULTS_DIR/discovery.txt" # never leave an earlier run's figures next to this run's latest.txt
if [[ "$DISCOVERY" == 1 ]]; then
    say "== discovery: provisioning $DISC_CONTAINERS containers x $DISC_INSTANCES contentInstances"
    m2m "$WARDEN_PORT" POST /cse-in "$DISC_ORIGIN" 2 '{"m2m:ae":{"api":"Nbench","rr":false,"srv":["3"]}}'
    expect 201 2001 "create AE $DISC_ORIGIN"
    DISC_AE="/cse-in/$(created_rn "create AE $DISC_ORIGIN")"
    # load_create OUT PER_PARENT BODY PARENT... (warden-bench-load create, in the background like wrk)
    load_create() {
        local out=$1 per=$2 body=$3 pid
        shift 3
        "$LOAD_BIN" create --port "$WARDEN_PORT" --host "$HOST" --origin "$DISC_ORIGIN" --ty "$LOAD_TY" \
            --per-parent "$per" --conns "$DISC_CONNS" --body "$body" "$@" >"$out" 2>&1 </dev/null &
        pid=$!
        PIDS+=("$pid")
        if ! wait "$pid"; then
            cat "$out" >&2
            fail "discovery provisioning: warden-bench-load create failed"
        fi
        alive warden "$WARDEN_PID"
        grep -q '^LOAD_RESULT ' "$out" || fail "no LOAD_RESULT from warden-bench-load create"
    }
    # containers: 10 labelled (rn l0..l9), the others not (rn d0..); a sequential curl per container
    # would take 0.1-0.3 s each on a loaded machine (every create is a commit)
    labelled=10 parents=() LOAD_TY=3
    load_create "$WORK/disc-cnt.txt" "$labelled" "{\"m2m:cnt\":{\"rn\":\"l@N@\",\"lbl\":[\"$DISC_LABEL\"]}}" "$DISC_AE"
    ((DISC_CONTAINERS == labelled)) ||
        load_create "$WORK/disc-cnt.txt" $((DISC_CONTAINERS - labelled)) '{"m2m:cnt":{"rn":"d@N@"}}' "$DISC_AE"
    say "   $DISC_CONTAINERS containers under $DISC_AE, $labelled of them labelled $DISC_LABEL"
    for ((i = 0; i < DISC_CONTAINERS; i++)); do
        if ((i < labelled)); then parents+=("$DISC_AE/l$i"); else parents+=("$DISC_AE/d$((i - labelled))"); fi
    done
    LOAD_TY=4
    load_create "$WORK/disc-create.txt" "$DISC_INSTANCES" \
        '{"m2m:cin":{"cnf":"text/plain:0","con":"reading @N@: temperature=21.5;humidity=40;pressure=1013"}}' "${parents[@]}"
    line="$(grep '^LOAD_RESULT ' "$WORK/disc-create.txt" | tail -n 1)"
    for kv in ${line#LOAD_RESULT }; do D[create.${kv%%=*}]=${kv#*=}; done
    D[resources]=$((1 + DISC_CONTAINERS + DISC_CONTAINERS * DISC_INSTANCES))
    say "   ${D[create.requests]} contentInstances in ${D[create.seconds]} s (${D[create.rps]} creates/s on $DISC_CONNS connections); $DISC_AE holds ${D[resources]} resources with itself"
    m2m "$WARDEN_PORT" GET "${parents[0]}" "$DISC_ORIGIN"
    expect 200 2000 "retrieve ${parents[0]}"
    CNI="$(printf '%s' "$RESP_BODY" | sed -n 's/.*"cni"[[:space:]]*:[[:space:]]*\([0-9]*\).*/\1/p' | head -n 1)"
    [[ "$CNI" == "$DISC_INSTANCES" ]] || fail "${parents[0]} holds cni=${CNI:-?} instances, expected $DISC_INSTANCES"

    # query name, request path, expected number of URIs in the m2m:uril
    lim=$((DISC_CONTAINERS * DISC_INSTANCES < 100 ? DISC_CONTAINERS * DISC_INSTANCES : 100))
    DISC_Q=(ty3 "$DISC_AE?fu=1&ty=3" "$DISC_CONTAINERS"
        ty4_lim100 "$DISC_AE?fu=1&ty=4&lim=100" "$lim"
        lbl "$DISC_AE?fu=1&lbl=$DISC_LABEL" "$labelled")
    qpaths=()
    for ((q = 0; q < ${#DISC_Q[@]}; q += 3)); do qpaths+=("${DISC_Q[q + 1]}"); done
    say "== discovery: $DISC_REQUESTS sequential timed requests each (keep-alive, 2 untimed first), From $DISC_ORIGIN"
    "$LOAD_BIN" get --port "$WARDEN_PORT" --host "$HOST" --origin "$DISC_ORIGIN" --n "$DISC_REQUESTS" --warmup 2 \
        "${qpaths[@]}" >"$WORK/disc-get.txt" 2>&1 </dev/null &
    load_pid=$!
    PIDS+=("$load_pid")
    if ! wait "$load_pid"; then
        cat "$WORK/disc-get.txt" >&2
        fail "discovery: warden-bench-load get failed"
    fi
    alive warden "$WARDEN_PID"
    for ((q = 0; q < ${#DISC_Q[@]}; q += 3)); do
        name=${DISC_Q[q]} qpath=${DISC_Q[q + 1]} want=${DISC_Q[q + 2]}
        line="$(grep -F "path=$qpath " "$WORK/disc-get.txt" | head -n 1)" || fail "discovery: no result for $qpath"
        for kv in ${line#LOAD_RESULT }; do D[$name.${kv%%=*}]=${kv#*=}; done
        D[$name.path]=$qpath
        [[ "${D[$name.results]}" == "$want" ]] ||
            fail "discovery $qpath returned ${D[$name.results]} URIs, expected $want"
        printf '   %-11s GET %-44s %4s URIs   p50 %8.3f ms   p99 %8.3f ms   (min %.3f, max %.3f)\n' "$name" "$qpath" \
            "${D[$name.results]}" "$(awk "BEGIN{print ${D[$name.p50_us]}/1000}")" \
            "$(awk "BEGIN{print ${D[$name.p99_us]}/1000}")" "$(awk "BEGIN{print ${D[$name.min_us]}/1000}")" \
            "$(awk "BEGIN{print ${D[$name.max_us]}/1000}")"
    done
    cat "$WORK/disc-create.txt" "$WORK/disc-get.txt" >"$RESULTS_DIR/discovery.txt"
fi

# Anything Warden logged at level error during the runs (or a crash report) is worth a look; its start-up
# banner and the dev-profile WARN line are expected.
grep -v -e 'warden: ready' -e ' WARN ' "$WARDEN_LOG" >"$WORK/warden-errors.log" || true
if [[ -s "$WORK/warden-errors.log" ]]; then
    printf 'bench/run.sh: warning: warden wrote %s line(s) to stderr at --log.level=error; the last ones:\n' \
        "$(wc -l <"$WORK/warden-errors.log")" >&2
    tail -n 10 "$WORK/warden-errors.log" | sed 's/^/     | /' >&2
fi

# ---------------------------------------------------------------- summary
# Per figure: the median over the rounds (with ROUNDS=1 simply the value); counts are summed.
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.3f", a / b; else print "0" }'; }
meets() { awk -v r="$1" -v t="$2" 'BEGIN{ exit !(r >= t) }' && echo pass || echo below; }
declare -A S
for n in "${RUNS[@]}"; do
    for key in rps p50_us p99_us mean_us max_us; do
        vals=()
        for ((round = 1; round <= ROUNDS; round++)); do vals+=("${R[$round.$n.$key]}"); done
        S[$n.$key]="$(median "${vals[@]}")"
        [[ "$key" != rps ]] || S[$n.rps_rounds]="$(IFS=,; echo "${vals[*]}")"
    done
    for key in requests non2xx socket_errors; do
        S[$n.$key]=0
        for ((round = 1; round <= ROUNDS; round++)); do S[$n.$key]=$((S[$n.$key] + R[$round.$n.$key])); done
    done
done
# The ratio is taken within each round (ceiling and Warden measured back to back), then the median.
for what in retrieve acp_retrieve create create_mni; do
    vals=()
    for ((round = 1; round <= ROUNDS; round++)); do
        vals+=("$(ratio "${R[$round.$what.rps]}" "${R[$round.ceiling.rps]}")")
    done
    S[ratio.$what]="$(awk -v m="$(median "${vals[@]}")" 'BEGIN{ printf "%.3f", m }')"
    S[ratio.$what.rounds]="$(IFS=,; echo "${vals[*]}")"
done
# The new types against the contentInstance create of the same round (no target: what they cost beside it).
for what in tsi_create:create tsi_create:create_mni fcnt_update:create; do
    num=${what%%:*} den=${what#*:} vals=()
    for ((round = 1; round <= ROUNDS; round++)); do
        vals+=("$(ratio "${R[$round.$num.rps]}" "${R[$round.$den.rps]}")")
    done
    S[ratio.$num.$den]="$(awk -v m="$(median "${vals[@]}")" 'BEGIN{ printf "%.3f", m }')"
    S[ratio.$num.$den.rounds]="$(IFS=,; echo "${vals[*]}")"
done
RATIO_RETRIEVE="${S[ratio.retrieve]}"
RATIO_CREATE="${S[ratio.create]}"
VERDICT_RETRIEVE="$(meets "$RATIO_RETRIEVE" "$TARGET_RETRIEVE")"
VERDICT_CREATE="$(meets "$RATIO_CREATE" "$TARGET_CREATE")"
RATIO_ACP_RETRIEVE="${S[ratio.acp_retrieve]}"
VERDICT_ACP_RETRIEVE="$(meets "$RATIO_ACP_RETRIEVE" "$TARGET_ACP_RETRIEVE")"
# The ACP run against the creator-only retrieve of the same rounds (informational: what the policy costs).
vals=()
for ((round = 1; round <= ROUNDS; round++)); do
    vals+=("$(ratio "${R[$round.acp_retrieve.rps]}" "${R[$round.retrieve.rps]}")")
done
RATIO_ACP_PLAIN="$(awk -v m="$(median "${vals[@]}")" 'BEGIN{ printf "%.3f", m }')"
# TLS: medians over the rounds (counts summed); the TLS/plain ratios within each round, then their median.
if [[ "$TLS" == 1 ]]; then
    for n in "${TLS_RUNS[@]}"; do
        for key in rate p50_us p99_us mean_us max_us server_cpu_us client_cpu_us; do
            vals=()
            for ((round = 1; round <= ROUNDS; round++)); do vals+=("${T[$round.$n.$key]}"); done
            S[tls.$n.$key]="$(median "${vals[@]}")"
            [[ "$key" != rate ]] || S[tls.$n.rate_rounds]="$(IFS=,; echo "${vals[*]}")"
        done
        for key in ops errors non2xx reconnects; do
            sum=0
            for ((round = 1; round <= ROUNDS; round++)); do sum=$((sum + T[$round.$n.$key])); done
            S[tls.$n.$key]=$sum
        done
        for key in version kx group cipher session conns what; do S[tls.$n.$key]="${T[1.$n.$key]}"; done
    done
    for pair in psk:ka_psk:ka_plain_admin cert:ka_cert:ka_plain_ae; do
        IFS=: read -r what num den <<<"$pair"
        vals=()
        for ((round = 1; round <= ROUNDS; round++)); do
            vals+=("$(ratio "${T[$round.$num.rate]}" "${T[$round.$den.rate]}")")
        done
        S[ratio.tls_$what]="$(awk -v m="$(median "${vals[@]}")" 'BEGIN{ printf "%.3f", m }')"
        S[ratio.tls_$what.rounds]="$(IFS=,; echo "${vals[*]}")"
        # and Warden's CPU per request over TLS ÷ over plain HTTP (what TLS costs the server alone)
        vals=()
        for ((round = 1; round <= ROUNDS; round++)); do
            vals+=("$(ratio "${T[$round.$num.server_cpu_us]}" "${T[$round.$den.server_cpu_us]}")")
        done
        S[ratio.tls_${what}_cpu]="$(awk -v m="$(median "${vals[@]}")" 'BEGIN{ printf "%.3f", m }')"
    done
fi
# CoAP/MQTT: medians over the rounds; the ratios to HTTP within each round, then their median.
PROTO_PAIRS=()
if ((PROTO)); then
    for n in "${PROTO_RUNS[@]}"; do
        for key in rate p50_us p99_us mean_us max_us server_cpu_us client_cpu_us; do
            vals=()
            for ((round = 1; round <= ROUNDS; round++)); do vals+=("${P[$round.$n.$key]}"); done
            S[proto.$n.$key]="$(median "${vals[@]}")"
            [[ "$key" != rate ]] || S[proto.$n.rate_rounds]="$(IFS=,; echo "${vals[*]}")"
        done
        sum=0
        for ((round = 1; round <= ROUNDS; round++)); do sum=$((sum + P[$round.$n.ops])); done
        S[proto.$n.ops]=$sum
    done
    for n in "${PROTO_RUNS[@]}"; do [[ "$n" == http_* ]] || PROTO_PAIRS+=("$n"); done
    for n in "${PROTO_PAIRS[@]}"; do
        den="http_${n#*_}"
        vals=() cvals=()
        for ((round = 1; round <= ROUNDS; round++)); do
            vals+=("$(ratio "${P[$round.$n.rate]}" "${P[$round.$den.rate]}")")
            cvals+=("$(ratio "${P[$round.$n.server_cpu_us]}" "${P[$round.$den.server_cpu_us]}")")
        done
        S[ratio.${n}_http]="$(awk -v m="$(median "${vals[@]}")" 'BEGIN{ printf "%.3f", m }')"
        S[ratio.${n}_http.rounds]="$(IFS=,; echo "${vals[*]}")"
        S[ratio.${n}_http_cpu]="$(awk -v m="$(median "${cvals[@]}")" 'BEGIN{ printf "%.3f", m }')"
    done
fi
# The decision target holds when both cases stay under it: the fastest batch, the one least disturbed by
# other load on the machine (the median is reported next to it; the instruction count is load-independent).
VERDICT_ACP_NS="$(awk -v g="${A[granted.ns_min]}" -v d="${A[denied.ns_min]}" -v t="$TARGET_ACP_NS" \
    'BEGIN{ print (g < t && d < t) ? "pass" : "below" }')"

say ""
say "== summary ($MODE: duration $DURATION, $CONNECTIONS connections, $THREADS wrk thread(s), $(nproc) CPUs$(
    ((ROUNDS == 1)) || echo ", median of $ROUNDS rounds"))"
printf '   %-12s %12s %10s %10s %9s %8s\n' run "req/s" "p50 ms" "p99 ms" "non-2xx" "sockerr"
for n in "${RUNS[@]}"; do
    printf '   %-12s %12s %10.3f %10.3f %9s %8s\n' "$n" "${S[$n.rps]}" \
        "$(awk "BEGIN{print ${S[$n.p50_us]}/1000}")" "$(awk "BEGIN{print ${S[$n.p99_us]}/1000}")" \
        "${S[$n.non2xx]}" "${S[$n.socket_errors]}"
done
say "   retrieve/ceiling     = $RATIO_RETRIEVE   (target >= $TARGET_RETRIEVE: $VERDICT_RETRIEVE)$(
    ((ROUNDS == 1)) || echo "   rounds: ${S[ratio.retrieve.rounds]}")"
say "   acp_retrieve/ceiling = $RATIO_ACP_RETRIEVE   (target >= $TARGET_ACP_RETRIEVE: $VERDICT_ACP_RETRIEVE)$(
    ((ROUNDS == 1)) || echo "   rounds: ${S[ratio.acp_retrieve.rounds]}")   acp_retrieve/retrieve = $RATIO_ACP_PLAIN"
say "   create/ceiling       = $RATIO_CREATE   (target >= $TARGET_CREATE: $VERDICT_CREATE)$(
    ((ROUNDS == 1)) || echo "   rounds: ${S[ratio.create.rounds]}")"
say "   create_mni/ceiling   = ${S[ratio.create_mni]}   (each create also evicts the oldest of mni=100; no target)$(
    ((ROUNDS == 1)) || echo "   rounds: ${S[ratio.create_mni.rounds]}")"
say "   tsi_create/create    = ${S[ratio.tsi_create.create]}   (timeSeriesInstance create, mni=100, per contentInstance create; no target)$(
    ((ROUNDS == 1)) || echo "   rounds: ${S[ratio.tsi_create.create.rounds]}")"
say "   tsi_create/create_mni = ${S[ratio.tsi_create.create_mni]}   (the same against a contentInstance create with mni=100; no target)$(
    ((ROUNDS == 1)) || echo "   rounds: ${S[ratio.tsi_create.create_mni.rounds]}")"
say "   fcnt_update/create   = ${S[ratio.fcnt_update.create]}   (flexContainer cod:tempe update per contentInstance create; no target)$(
    ((ROUNDS == 1)) || echo "   rounds: ${S[ratio.fcnt_update.create.rounds]}")"
say "   ACP decision, 10 rules, last grants: granted ${A[granted.ns_min]} ns (median ${A[granted.ns_median]}), denied ${A[denied.ns_min]} ns (median ${A[denied.ns_median]})   (target < $TARGET_ACP_NS ns: $VERDICT_ACP_NS)"
say "                 instructions/decision (callgrind): granted ${A[granted.instructions]}, denied ${A[denied.instructions]}$(
    [[ "$CALLGRIND" == 1 ]] || echo " (CALLGRIND=0 or no valgrind)")"
if [[ "$TLS" == 1 ]]; then
    say "   TLS ($TLS_DURATION s per run; handshakes on $TLS_HS_CONNS threads, kept-alive runs on $TLS_CONNECTIONS connections$(
        ((ROUNDS == 1)) || echo ", median of $ROUNDS rounds")):"
    for n in "${TLS_RUNS[@]}"; do
        printf '     %-14s %10s %-13s p50 %7.3f ms  p99 %7.3f ms  server CPU %7s µs  client CPU %7s µs  %s\n' "$n" \
            "${S[tls.$n.rate]}" "$([[ "$n" == hs_* ]] && echo handshakes/s || echo req/s)" \
            "$(awk "BEGIN{print ${S[tls.$n.p50_us]}/1000}")" "$(awk "BEGIN{print ${S[tls.$n.p99_us]}/1000}")" \
            "${S[tls.$n.server_cpu_us]}" "${S[tls.$n.client_cpu_us]}" "${S[tls.$n.what]}"
    done
    say "     retrieve over kept-alive TLS-PSK / plain    = ${S[ratio.tls_psk]} req/s   (From $ADMIN both; server CPU per request x${S[ratio.tls_psk_cpu]})$(
        ((ROUNDS == 1)) || echo "   rounds: ${S[ratio.tls_psk.rounds]}")"
    say "     retrieve over kept-alive ECDSA cert / plain = ${S[ratio.tls_cert]} req/s   (From $ORIGIN both; server CPU per request x${S[ratio.tls_cert_cpu]})$(
        ((ROUNDS == 1)) || echo "   rounds: ${S[ratio.tls_cert.rounds]}")"
else
    say "   TLS: skipped (TLS=0)"
fi
if ((PROTO)); then
    say "   CoAP / MQTT against plain HTTP ($PROTO_DURATION s per run, $PROTO_INFLIGHT requests in flight, From $ORIGIN$(
        ((ROUNDS == 1)) || echo ", median of $ROUNDS rounds")):"
    for n in "${PROTO_RUNS[@]}"; do
        r=""
        [[ "$n" == http_* ]] || r="x${S[ratio.${n}_http]} of HTTP (server CPU/request x${S[ratio.${n}_http_cpu]})"
        printf '     %-14s %10s req/s   p50 %8.3f ms   p99 %8.3f ms   server CPU %7s µs/request   %s\n' "$n" \
            "${S[proto.$n.rate]}" "$(awk "BEGIN{print ${S[proto.$n.p50_us]}/1000}")" \
            "$(awk "BEGIN{print ${S[proto.$n.p99_us]}/1000}")" "${S[proto.$n.server_cpu_us]}" "$r"
    done
    [[ "$COAP" == 1 ]] || say "     CoAP: skipped (COAP=0)"
    [[ "$MQTT" == 1 ]] || say "     MQTT: skipped (MQTT=0)"
else
    say "   CoAP/MQTT: skipped (COAP=0 MQTT=0)"
fi
if [[ "$DISCOVERY" == 1 ]]; then
    say "   discovery over ${D[resources]} resources, $DISC_REQUESTS requests per query$(
        ((DISC_REQUESTS >= 100)) || echo " (so p99 is the slowest of them)"):"
    for q in ty3 ty4_lim100 lbl; do
        printf '     %-11s %4s URIs   p50 %9.3f ms   p99 %9.3f ms\n' "$q" "${D[$q.results]}" \
            "$(awk "BEGIN{print ${D[$q.p50_us]}/1000}")" "$(awk "BEGIN{print ${D[$q.p99_us]}/1000}")"
    done
else
    say "   discovery: skipped (DISCOVERY=0$([[ "$MODE" != smoke ]] || echo ", the SMOKE default"))"
fi

{
    say "# Warden benchmark summary, written by bench/run.sh; key=value, one per line."
    say "# rps = requests/s; latencies in microseconds; ratio = rps / ceiling rps within a round (same run);"
    say "# with rounds > 1 every figure is the median over the rounds, counts are sums."
    say "timestamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    say "git_commit=$(git rev-parse --short HEAD 2>/dev/null || echo none)$(git diff --quiet HEAD 2>/dev/null || echo -dirty)"
    say "host=$(uname -n)"
    say "cpus=$(nproc)"
    say "mode=$MODE"
    say "duration=$DURATION"
    say "connections=$CONNECTIONS"
    say "threads=$THREADS"
    say "rounds=$ROUNDS"
    for n in "${RUNS[@]}"; do
        for k in rps rps_rounds requests p50_us p99_us mean_us max_us non2xx socket_errors; do
            say "$n.$k=${S[$n.$k]}"
        done
    done
    say "ratio.retrieve_ceiling=$RATIO_RETRIEVE"
    say "ratio.retrieve_ceiling_rounds=${S[ratio.retrieve.rounds]}"
    say "ratio.create_ceiling=$RATIO_CREATE"
    say "ratio.create_ceiling_rounds=${S[ratio.create.rounds]}"
    say "ratio.create_mni_ceiling=${S[ratio.create_mni]}"
    say "ratio.create_mni_ceiling_rounds=${S[ratio.create_mni.rounds]}"
    say "ratio.tsi_create_create=${S[ratio.tsi_create.create]}"
    say "ratio.tsi_create_create_mni=${S[ratio.tsi_create.create_mni]}"
    say "ratio.fcnt_update_create=${S[ratio.fcnt_update.create]}"
    say "target.retrieve_ceiling=$TARGET_RETRIEVE"
    say "target.create_ceiling=$TARGET_CREATE"
    say "verdict.retrieve_ceiling=$VERDICT_RETRIEVE"
    say "verdict.create_ceiling=$VERDICT_CREATE"
    say "ratio.acp_retrieve_ceiling=$RATIO_ACP_RETRIEVE"
    say "ratio.acp_retrieve_ceiling_rounds=${S[ratio.acp_retrieve.rounds]}"
    say "ratio.acp_retrieve_retrieve=$RATIO_ACP_PLAIN"
    say "target.acp_retrieve_ceiling=$TARGET_ACP_RETRIEVE"
    say "verdict.acp_retrieve_ceiling=$VERDICT_ACP_RETRIEVE"
    say "acp_decision.rules=${A[granted.rules]}"
    say "acp_decision.iterations=${A[granted.iterations]}"
    say "acp_decision.compile_ns=${A[compile.ns_mean]}"
    for kase in granted denied; do
        say "acp_decision.${kase}_ns=${A[$kase.ns_min]}"
        say "acp_decision.${kase}_ns_median=${A[$kase.ns_median]}"
        say "acp_decision.${kase}_ns_max=${A[$kase.ns_max]}"
        say "acp_decision.${kase}_instructions=${A[$kase.instructions]}"
    done
    say "target.acp_decision_ns=$TARGET_ACP_NS"
    say "verdict.acp_decision=$VERDICT_ACP_NS"
    say "tls.enabled=$TLS"
    if [[ "$TLS" == 1 ]]; then
        say "tls.duration_s=$TLS_DURATION"
        say "tls.hs_conns=$TLS_HS_CONNS"
        say "tls.connections=$TLS_CONNECTIONS"
        say "tls.section_seconds=$TLS_SECONDS"
        for n in "${TLS_RUNS[@]}"; do
            for k in rate rate_rounds ops p50_us p99_us mean_us max_us server_cpu_us client_cpu_us errors non2xx reconnects \
                version kx group cipher session; do
                say "tls.$n.$k=${S[tls.$n.$k]}"
            done
        done
        say "ratio.tls_psk_plain=${S[ratio.tls_psk]}"
        say "ratio.tls_psk_plain_rounds=${S[ratio.tls_psk.rounds]}"
        say "ratio.tls_cert_plain=${S[ratio.tls_cert]}"
        say "ratio.tls_cert_plain_rounds=${S[ratio.tls_cert.rounds]}"
        say "ratio.tls_psk_plain_server_cpu=${S[ratio.tls_psk_cpu]}"
        say "ratio.tls_cert_plain_server_cpu=${S[ratio.tls_cert_cpu]}"
    fi
    say "coap.enabled=$COAP"
    say "mqtt.enabled=$MQTT"
    if ((PROTO)); then
        say "proto.duration_s=$PROTO_DURATION"
        say "proto.inflight=$PROTO_INFLIGHT"
        say "proto.section_seconds=$PROTO_SECONDS"
        for n in "${PROTO_RUNS[@]}"; do
            for k in rate rate_rounds ops p50_us p99_us mean_us max_us server_cpu_us client_cpu_us; do
                say "proto.$n.$k=${S[proto.$n.$k]}"
            done
        done
        for n in "${PROTO_PAIRS[@]}"; do
            say "ratio.${n}_http=${S[ratio.${n}_http]}"
            say "ratio.${n}_http_rounds=${S[ratio.${n}_http.rounds]}"
            say "ratio.${n}_http_server_cpu=${S[ratio.${n}_http_cpu]}"
        done
    fi
    say "discovery.enabled=$DISCOVERY"
    if [[ "$DISCOVERY" == 1 ]]; then
        say "discovery.resources=${D[resources]}"
        say "discovery.containers=$DISC_CONTAINERS"
        say "discovery.instances_per_container=$DISC_INSTANCES"
        say "discovery.provision_requests=${D[create.requests]}"
        say "discovery.provision_seconds=${D[create.seconds]}"
        say "discovery.provision_rps=${D[create.rps]}"
        say "discovery.provision_conns=$DISC_CONNS"
        for q in ty3 ty4_lim100 lbl; do
            say "discovery.$q.path=${D[$q.path]}"
            for k in n results bytes p50_us p90_us p99_us min_us max_us mean_us; do say "discovery.$q.$k=${D[$q.$k]}"; done
        done
    fi
} >"$RESULTS_DIR/latest.txt.tmp"
mv "$RESULTS_DIR/latest.txt.tmp" "$RESULTS_DIR/latest.txt"
say "   written: ${RESULTS_DIR#"$ROOT"/}/latest.txt"

if [[ "$ENFORCE_TARGETS" == 1 && ("$VERDICT_RETRIEVE" != pass || "$VERDICT_CREATE" != pass ||
    "$VERDICT_ACP_RETRIEVE" != pass || "$VERDICT_ACP_NS" != pass) ]]; then
    fail "a figure misses its target (ENFORCE_TARGETS=1)"
fi
