#!/usr/bin/env bash
# Multi-CSE benchmark (issue 14): RETRIEVE of a contentInstance on an MN-CSE through its IN-CSE
# (one forwarding hop over kept-alive TLS with CSE-ID certificates) as a ratio to the same
# RETRIEVE on the MN directly, with wrk on loopback (interleaved rounds; figures = medians).
#   direct  - Cgateway reads /cse-mn/gateway/temperature/la on the MN (plain HTTP)
#   via_in  - Cinapp reads /~/id-mn/cse-mn/gateway/temperature/la on the IN (plain HTTP), which
#             forwards it to the MN over HTTPS (granted by an ACP on the MN naming /id-in/Cinapp)
#
# Usage: bench/multicse.sh   Environment: DURATION=10s CONNECTIONS=32 THREADS=1 ROUNDS=3
#   SMOKE=1 (1 s, 4 connections, 1 round)  BUILD_DIR=build-bench  SKIP_BUILD=1
#   RESULTS_DIR=bench/results (writes multicse.txt)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SMOKE="${SMOKE:-0}"
if [[ "$SMOKE" == 1 ]]; then
    DURATION=1s CONNECTIONS=4 THREADS=1 ROUNDS=1
else
    DURATION="${DURATION:-10s}" CONNECTIONS="${CONNECTIONS:-32}" THREADS="${THREADS:-1}" ROUNDS="${ROUNDS:-3}"
fi
BUILD_DIR="${BUILD_DIR:-build-bench}"
RESULTS_DIR="${RESULTS_DIR:-$ROOT/bench/results}"
PY=/usr/bin/python3
HOST=127.0.0.1
TMP="$(mktemp -d)"
chmod 700 "$TMP"
PIDS=()

say() { echo "multicse-bench: $*"; }
fail() { say "FAIL: $*" >&2; exit 1; }
cleanup() {
    for p in "${PIDS[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD_DIR" -j"$(nproc)" --target warden wardenctl >/dev/null
fi
WARDEN="$BUILD_DIR/warden" CTL="$BUILD_DIR/wardenctl"
[[ -x "$WARDEN" && -x "$CTL" ]] || fail "no $WARDEN / $CTL"
command -v wrk >/dev/null || fail "wrk not found (tools/deps.sh installs it)"

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
IN_HTTP="$(free_port)" IN_TLS="$(free_port)" MN_HTTP="$(free_port)" MN_TLS="$(free_port)"
mkdir -m 700 "$TMP/in" "$TMP/mn"
"$CTL" --store.path="$TMP/in/w.db" ca init "$TMP/ca" >/dev/null
"$CTL" --store.path="$TMP/in/w.db" ca issue "$TMP/ca" --id /id-in --ip 127.0.0.1 --out "$TMP/in/cse" >/dev/null
"$CTL" --store.path="$TMP/in/w.db" ca issue "$TMP/ca" --id /id-mn --ip 127.0.0.1 --out "$TMP/mn/cse" >/dev/null
"$WARDEN" --store.path="$TMP/in/w.db" --cse.id=/id-in --cse.rn=cse-in --http.port="$IN_HTTP" --http.address=$HOST \
    --https.port="$IN_TLS" --https.address=$HOST --tls.cert="$TMP/in/cse.pem" --tls.key="$TMP/in/cse.key" \
    --tls.ca="$TMP/ca/ca.pem" --notify.allow=127.0.0.1/32 --log.level=warn 2>"$TMP/in.log" &
PIDS+=($!)
"$WARDEN" --store.path="$TMP/mn/w.db" --cse.id=/id-mn --cse.rn=cse-mn --cse.type=MN --http.port="$MN_HTTP" \
    --http.address=$HOST --https.port="$MN_TLS" --https.address=$HOST --tls.cert="$TMP/mn/cse.pem" \
    --tls.key="$TMP/mn/cse.key" --tls.ca="$TMP/ca/ca.pem" --notify.allow=127.0.0.1/32 \
    --cse.poa="https://$HOST:$MN_TLS" --registrar.address="https://$HOST:$IN_TLS" --registrar.id=/id-in \
    --registrar.rn=cse-in --log.level=warn 2>"$TMP/mn.log" &
PIDS+=($!)

req() { # PORT METHOD PATH ORIGIN [TY BODY]
    local args=(-s -o /dev/null -w '%{http_code}' -X "$2" "http://$HOST:$1$3" -H "X-M2M-Origin: $4"
        -H "X-M2M-RI: b$RANDOM" -H 'X-M2M-RVI: 3')
    [[ $# -ge 6 ]] && args+=(-H "Content-Type: application/json;ty=$5" -d "$6")
    curl "${args[@]}"
}
for _ in $(seq 100); do
    [[ "$(req "$IN_HTTP" GET /cse-in/id-mn CAdmin)" == 200 ]] && break
    sleep 0.1
done
[[ "$(req "$IN_HTTP" GET /cse-in/id-mn CAdmin)" == 200 ]] || fail "the MN did not register (see $TMP/mn.log)"
req "$MN_HTTP" POST /cse-mn Cgateway 2 '{"m2m:ae":{"rn":"gateway","api":"Nbench","rr":false}}' >/dev/null
req "$MN_HTTP" POST /cse-mn CAdmin 1 '{"m2m:acp":{"rn":"readers","pv":{"acr":[{"acor":["/id-in/Cinapp"],"acop":2},
    {"acor":["Cgateway"],"acop":63}]},"pvs":{"acr":[{"acor":["CAdmin","Cgateway"],"acop":63}]}}}' >/dev/null
req "$MN_HTTP" POST /cse-mn/gateway Cgateway 3 '{"m2m:cnt":{"rn":"temperature","acpi":["cse-mn/readers"]}}' >/dev/null
req "$MN_HTTP" POST /cse-mn/gateway/temperature Cgateway 4 '{"m2m:cin":{"cnf":"text/plain:0","con":"21.5"}}' >/dev/null
req "$IN_HTTP" POST /cse-in Cinapp 2 '{"m2m:ae":{"rn":"inapp","api":"Nbench","rr":false}}' >/dev/null
[[ "$(req "$IN_HTTP" GET /~/id-mn/cse-mn/gateway/temperature/la Cinapp)" == 200 ]] || fail "forwarded retrieve"
[[ "$(req "$MN_HTTP" GET /cse-mn/gateway/temperature/la Cgateway)" == 200 ]] || fail "direct retrieve"

declare -A RPS P50
run() { # ROUND NAME PORT PATH ORIGIN
    local out line
    out="$(WARDEN_BENCH_PATH="$4" WARDEN_BENCH_ORIGIN="$5" \
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 5s -s bench/retrieve.lua "http://$HOST:$3$4")"
    line="$(grep '^WRK_RESULT' <<<"$out")" || fail "$2: no WRK_RESULT"
    grep -q 'non2xx=0 ' <<<"$line" || fail "$2: non-2xx answers: $line"
    RPS[$1.$2]="$(sed -E 's/.* rps=([0-9.]+).*/\1/' <<<"$line")"
    P50[$1.$2]="$(sed -E 's/.* p50_us=([0-9]+).*/\1/' <<<"$line")"
    say "round $1 $2: ${RPS[$1.$2]} req/s, p50 ${P50[$1.$2]} us"
}
for r in $(seq "$ROUNDS"); do
    run "$r" direct "$MN_HTTP" /cse-mn/gateway/temperature/la Cgateway
    run "$r" via_in "$IN_HTTP" /~/id-mn/cse-mn/gateway/temperature/la Cinapp
done

median() { sort -g | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2 }'; }
mkdir -p "$RESULTS_DIR"
{
    echo "mode=$([[ $SMOKE == 1 ]] && echo smoke || echo full) duration=$DURATION connections=$CONNECTIONS rounds=$ROUNDS cpus=$(nproc)"
    for n in direct via_in; do
        echo "$n.rps=$(for r in $(seq "$ROUNDS"); do echo "${RPS[$r.$n]}"; done | median)" \
            "$n.p50_us=$(for r in $(seq "$ROUNDS"); do echo "${P50[$r.$n]}"; done | median)"
    done
    ratios="$(for r in $(seq "$ROUNDS"); do awk -v a="${RPS[$r.via_in]}" -v b="${RPS[$r.direct]}" 'BEGIN{printf "%.3f ", a/b}'; done)"
    echo "via_in.ratio_to_direct=$(for x in $ratios; do echo "$x"; done | median) (rounds: $ratios)"
} | tee "$RESULTS_DIR/multicse.txt"
