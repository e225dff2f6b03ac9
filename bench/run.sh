#!/usr/bin/env bash
# Warden benchmark driver: ceiling vs RETRIEVE vs CREATE with wrk, same run, same machine, loopback only.
#
# Usage (from anywhere):  bench/run.sh
# Environment:
#   DURATION=10s  CONNECTIONS=32 (1..64, Warden's per-IP limit)  THREADS=1 (wrk threads)
#   ROUNDS=1           repeat ceiling/retrieve/create N times, interleaved; figures = medians over rounds
#   SMOKE=1            1 s per run, 4 connections, 1 thread, 1 round (harness self-test)
#   BUILD_DIR=build-bench  SKIP_BUILD=1 (use the binaries already in BUILD_DIR)
#   WARDEN_BIN, CEILING_BIN  explicit binaries (default BUILD_DIR/warden, BUILD_DIR/warden-ceiling)
#   ENFORCE_TARGETS=1  exit 1 when a ratio is below its target (default: report only)
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
    MODE=smoke
else
    DURATION="${DURATION:-10s}"
    CONNECTIONS="${CONNECTIONS:-32}"
    THREADS="${THREADS:-1}"
    ROUNDS="${ROUNDS:-1}"
    MODE=full
fi
BUILD_DIR="${BUILD_DIR:-build-bench}"
SKIP_BUILD="${SKIP_BUILD:-0}"
WARDEN_BIN="${WARDEN_BIN:-$BUILD_DIR/warden}"
CEILING_BIN="${CEILING_BIN:-$BUILD_DIR/warden-ceiling}"
ENFORCE_TARGETS="${ENFORCE_TARGETS:-0}"
RESULTS_DIR="${RESULTS_DIR:-$ROOT/bench/results}"
TARGET_RETRIEVE=0.5
TARGET_CREATE=0.2
ORIGIN=Cbench
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
command -v wrk >/dev/null || fail "wrk not found (tools/deps.sh installs it)"
command -v curl >/dev/null || fail "curl not found"

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
    if ! { cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release &&
        cmake --build "$BUILD_DIR" -j2 --target warden warden-ceiling; } >"$WORK/build.log" 2>&1; then
        tail -n 40 "$WORK/build.log" >&2
        fail "build failed (last 40 lines above)"
    fi
fi
[[ -x "$WARDEN_BIN" ]] || fail "warden binary not found: $WARDEN_BIN"
[[ -x "$CEILING_BIN" ]] || fail "ceiling binary not found: $CEILING_BIN (is add_subdirectory(bench) in CMakeLists.txt?)"

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

say "== starting servers"
start_server ceiling "warden-ceiling: ready" "$CEILING_BIN" @PORT@
CEILING_PID=$STARTED_PID CEILING_PORT=$STARTED_PORT
start_server warden "warden: ready" "$WARDEN_BIN" --http.port=@PORT@ --http.address="$HOST" \
    --store.path="$WORK/warden.db" --log.level=error
WARDEN_PID=$STARTED_PID WARDEN_PORT=$STARTED_PORT WARDEN_LOG=$STARTED_LOG

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
say "   AE /cse-in/$AE_RN, container $CNT_PATH (mni=100), contentInstance $CIN_PATH"

# ---------------------------------------------------------------- runs
mkdir -p "$RESULTS_DIR"
for n in ceiling retrieve create; do : >"$RESULTS_DIR/wrk-$n.txt"; done
# run_wrk ROUND NAME PORT SCRIPT PATH -> R[ROUND.NAME.key] for every key of the script's WRK_RESULT line
declare -A R
run_wrk() {
    local round=$1 name=$2 port=$3 script=$4 path=$5 out line kv key val k
    out="$WORK/wrk-$round-$name.txt"
    say "== $name: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency -s bench/$script http://$HOST:$port$path"
    # In the background so that a signal to this script is handled at once (cleanup stops wrk too).
    WARDEN_BENCH_PATH="$path" WARDEN_BENCH_ORIGIN="$ORIGIN" \
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
    printf '   %-9s %10s req/s   p50 %8.3f ms   p99 %8.3f ms   requests %s   non-2xx %s   socket errors %s\n' \
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
    run_wrk "$round" create "$WARDEN_PORT" create.lua "$CNT_PATH"
done

# The store must still be consistent: the container is bounded by mni and its latest instance is readable.
m2m "$WARDEN_PORT" GET "$CNT_PATH" "$ORIGIN"
expect 200 2000 "retrieve container after the create run"
CNI="$(printf '%s' "$RESP_BODY" | sed -n 's/.*"cni"[[:space:]]*:[[:space:]]*\([0-9]*\).*/\1/p' | head -n 1)"
if [[ -n "$CNI" ]] && ((CNI > 100)); then fail "container holds cni=$CNI instances, more than mni=100"; fi
m2m "$WARDEN_PORT" GET "$CNT_PATH/la" "$ORIGIN"
expect 200 2000 "retrieve $CNT_PATH/la after the create run"

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
for n in ceiling retrieve create; do
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
for what in retrieve create; do
    vals=()
    for ((round = 1; round <= ROUNDS; round++)); do
        vals+=("$(ratio "${R[$round.$what.rps]}" "${R[$round.ceiling.rps]}")")
    done
    S[ratio.$what]="$(awk -v m="$(median "${vals[@]}")" 'BEGIN{ printf "%.3f", m }')"
    S[ratio.$what.rounds]="$(IFS=,; echo "${vals[*]}")"
done
RATIO_RETRIEVE="${S[ratio.retrieve]}"
RATIO_CREATE="${S[ratio.create]}"
VERDICT_RETRIEVE="$(meets "$RATIO_RETRIEVE" "$TARGET_RETRIEVE")"
VERDICT_CREATE="$(meets "$RATIO_CREATE" "$TARGET_CREATE")"

say ""
say "== summary ($MODE: duration $DURATION, $CONNECTIONS connections, $THREADS wrk thread(s), $(nproc) CPUs$(
    ((ROUNDS == 1)) || echo ", median of $ROUNDS rounds"))"
printf '   %-9s %12s %10s %10s %9s %8s\n' run "req/s" "p50 ms" "p99 ms" "non-2xx" "sockerr"
for n in ceiling retrieve create; do
    printf '   %-9s %12s %10.3f %10.3f %9s %8s\n' "$n" "${S[$n.rps]}" \
        "$(awk "BEGIN{print ${S[$n.p50_us]}/1000}")" "$(awk "BEGIN{print ${S[$n.p99_us]}/1000}")" \
        "${S[$n.non2xx]}" "${S[$n.socket_errors]}"
done
say "   retrieve/ceiling = $RATIO_RETRIEVE   (target >= $TARGET_RETRIEVE: $VERDICT_RETRIEVE)$(
    ((ROUNDS == 1)) || echo "   rounds: ${S[ratio.retrieve.rounds]}")"
say "   create/ceiling   = $RATIO_CREATE   (target >= $TARGET_CREATE: $VERDICT_CREATE)$(
    ((ROUNDS == 1)) || echo "   rounds: ${S[ratio.create.rounds]}")"

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
    for n in ceiling retrieve create; do
        for k in rps rps_rounds requests p50_us p99_us mean_us max_us non2xx socket_errors; do
            say "$n.$k=${S[$n.$k]}"
        done
    done
    say "ratio.retrieve_ceiling=$RATIO_RETRIEVE"
    say "ratio.retrieve_ceiling_rounds=${S[ratio.retrieve.rounds]}"
    say "ratio.create_ceiling=$RATIO_CREATE"
    say "ratio.create_ceiling_rounds=${S[ratio.create.rounds]}"
    say "target.retrieve_ceiling=$TARGET_RETRIEVE"
    say "target.create_ceiling=$TARGET_CREATE"
    say "verdict.retrieve_ceiling=$VERDICT_RETRIEVE"
    say "verdict.create_ceiling=$VERDICT_CREATE"
} >"$RESULTS_DIR/latest.txt.tmp"
mv "$RESULTS_DIR/latest.txt.tmp" "$RESULTS_DIR/latest.txt"
say "   written: ${RESULTS_DIR#"$ROOT"/}/latest.txt"

if [[ "$ENFORCE_TARGETS" == 1 && ("$VERDICT_RETRIEVE" != pass || "$VERDICT_CREATE" != pass) ]]; then
    fail "ratio below target (ENFORCE_TARGETS=1)"
fi
