#!/usr/bin/env bash
# ESPrim benchmark (issue 16): a RETRIEVE of a contentInstance on an IN-CSE sent through an MN-CSE
# (one forwarding hop over kept-alive TLS with CSE-ID certificates, as bench/multicse.sh sets up),
# ESPrim-protected (TS-0003 §8.4: a sit 5 NOTIFY to the IN's CSEBase, the inner RETRIEVE decrypted,
# dispatched and its answer encrypted at the IN) as a ratio to the same RETRIEVE unprotected over the
# same hops, both driven by warden-esprim-load (bench/esprim_load.c: T keep-alive connections, one
# request in flight each; interleaved rounds; figures = medians).
#   plain   - Ccarrier GETs /~/id-in/cse-in/owner/temperature/la at the MN, which forwards it to the IN
#   esprim  - Ccarrier sends the same RETRIEVE, From Cowner, inside ESPrim objects (A256GCM) to the
#             MN, which forwards the NOTIFY to the IN without being able to read it
#
# Usage: bench/esprim.sh   Environment: SECONDS_PER_RUN=10 THREADS=8 ROUNDS=3
#   SMOKE=1 (1 s, 2 threads, 1 round)  BUILD_DIR=build-bench  SKIP_BUILD=1
#   RESULTS_DIR=bench/results (writes esprim.txt)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SMOKE="${SMOKE:-0}"
if [[ "$SMOKE" == 1 ]]; then
    RUN_S=1 THREADS=2 ROUNDS=1
else
    RUN_S="${SECONDS_PER_RUN:-10}" THREADS="${THREADS:-8}" ROUNDS="${ROUNDS:-3}"
fi
BUILD_DIR="${BUILD_DIR:-build-bench}"
RESULTS_DIR="${RESULTS_DIR:-$ROOT/bench/results}"
BENCH_NAME=esprim BENCH_TARGETS=warden-esprim-load
# shellcheck source=bench/two_cse.sh
source "$ROOT/bench/two_cse.sh"
LOAD="$BUILD_DIR/warden-esprim-load"
[[ -x "$LOAD" ]] || fail "no $LOAD"
# Cowner on the IN owns the data; Ccarrier on the MN may read it too (for the plain runs)
req "$IN_HTTP" POST /cse-in Cowner 2 '{"m2m:ae":{"rn":"owner","api":"Nbench","rr":false}}' >/dev/null
req "$IN_HTTP" POST /cse-in CAdmin 1 '{"m2m:acp":{"rn":"readers","pv":{"acr":[{"acor":["/id-mn/Ccarrier"],"acop":2},
    {"acor":["Cowner"],"acop":63}]},"pvs":{"acr":[{"acor":["CAdmin","Cowner"],"acop":63}]}}}' >/dev/null
req "$IN_HTTP" POST /cse-in/owner Cowner 3 '{"m2m:cnt":{"rn":"temperature","acpi":["cse-in/readers"]}}' >/dev/null
req "$IN_HTTP" POST /cse-in/owner/temperature Cowner 4 '{"m2m:cin":{"cnf":"text/plain:0","con":"21.5"}}' >/dev/null
req "$MN_HTTP" POST /cse-mn Ccarrier 2 '{"m2m:ae":{"rn":"carrier","api":"Nbench","rr":false}}' >/dev/null
KEY="$($PY -c 'import os; print(os.urandom(32).hex())')"
echo "$KEY" | "$CTL" --store.path="$TMP/in/w.db" --cse.id=/id-in e2e add kbench /id-in Cowner 2>/dev/null
TARGET=/~/id-in/cse-in/owner/temperature/la
[[ "$(req "$MN_HTTP" GET "$TARGET" Ccarrier)" == 200 ]] || fail "forwarded retrieve"

declare -A RPS P50
run() { # ROUND NAME
    local out line
    if [[ "$2" == plain ]]; then
        out="$("$LOAD" plain --url "http://$HOST:$MN_HTTP" --origin Ccarrier --path "$TARGET" \
            --threads "$THREADS" --seconds "$RUN_S")" || fail "$2 run failed"
    else
        out="$(echo "$KEY" | "$LOAD" esprim --url "http://$HOST:$MN_HTTP" --origin Ccarrier --path "$TARGET" \
            --from Cowner --kid kbench --to /id-in/cse-in --threads "$THREADS" --seconds "$RUN_S")" || fail "$2 run failed"
    fi
    line="$(grep '^LOAD_RESULT' <<<"$out")" || fail "$2: no LOAD_RESULT"
    RPS[$1.$2]="$(sed -E 's/.* rps=([0-9.]+).*/\1/' <<<"$line")"
    P50[$1.$2]="$(sed -E 's/.* p50_us=([0-9]+).*/\1/' <<<"$line")"
    say "round $1 $2: ${RPS[$1.$2]} req/s, p50 ${P50[$1.$2]} us, rand objects renewed $(sed -E 's/.* renewals=([0-9]+).*/\1/' <<<"$line")"
}
for r in $(seq "$ROUNDS"); do
    run "$r" plain
    run "$r" esprim
done

median() { sort -g | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2 }'; }
mkdir -p "$RESULTS_DIR"
{
    echo "mode=$([[ $SMOKE == 1 ]] && echo smoke || echo full) seconds=$RUN_S threads=$THREADS rounds=$ROUNDS cpus=$(nproc)"
    for n in plain esprim; do
        echo "$n.rps=$(for r in $(seq "$ROUNDS"); do echo "${RPS[$r.$n]}"; done | median)" \
            "$n.p50_us=$(for r in $(seq "$ROUNDS"); do echo "${P50[$r.$n]}"; done | median)"
    done
    ratios="$(for r in $(seq "$ROUNDS"); do awk -v a="${RPS[$r.esprim]}" -v b="${RPS[$r.plain]}" 'BEGIN{printf "%.3f ", a/b}'; done)"
    echo "esprim.ratio_to_plain=$(for x in $ratios; do echo "$x"; done | median) (rounds: $ratios)"
} | tee "$RESULTS_DIR/esprim.txt"
