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
BENCH_NAME=multicse
# shellcheck source=bench/two_cse.sh
source "$ROOT/bench/two_cse.sh"
command -v wrk >/dev/null || fail "wrk not found (tools/deps.sh installs it)"
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
