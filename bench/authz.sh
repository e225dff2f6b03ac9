#!/usr/bin/env bash
# Authorization benchmark: RETRIEVE of one contentInstance when access comes from
#   acp     - an accessControlPolicy rule naming the originator (the reference),
#   token   - a JWS (ES256) token in the Authorization header (verified once, then found in the cache
#             of verified tokens by its text; holder, validity and audience checked on every request),
#   ltid    - the Local-Token-ID Warden assigned to that token (ltids query parameter),
#   dynamic - privileges a DAS (build/warden-das) granted once, cached for their lifetime,
# each as a ratio to acp in the same run, with wrk on loopback (interleaved rounds; figures = medians).
#
# Usage: bench/authz.sh      Environment: DURATION=10s CONNECTIONS=32 THREADS=1 ROUNDS=3
#   SMOKE=1 (1 s, 4 connections, 1 round: harness self-test)  BUILD_DIR=build-bench  SKIP_BUILD=1
#   RESULTS_DIR=bench/results (writes authz.txt)
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
PIDS=()

say() { echo "authz-bench: $*"; }
fail() { say "FAIL: $*" >&2; exit 1; }
cleanup() {
    for p in "${PIDS[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD_DIR" -j"$(nproc)" --target warden warden-das >/dev/null
fi
WARDEN="$BUILD_DIR/warden" DAS="$BUILD_DIR/warden-das"
[[ -x "$WARDEN" && -x "$DAS" ]] || fail "no $WARDEN / $DAS"
command -v wrk >/dev/null || fail "wrk not found (tools/deps.sh installs it)"

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT="$(free_port)" DAS_PORT="$(free_port)"
OWN="//warden.example.com/id-in"

# keys, the issuers file, the DAS policy, and a token for Cbuser on the instance (written by Python/jwcrypto)
$PY - "$TMP" "$OWN" <<'EOF'
import json, sys
from jwcrypto import jwk
tmp, own = sys.argv[1], sys.argv[2]
auth, das = jwk.JWK.generate(kty="EC", crv="P-256"), jwk.JWK.generate(kty="EC", crv="P-256")
json.dump({"issuers": [{"id": "CBAuth", "keys": [json.loads(auth.export_public())]},
                       {"id": "CBDas", "keys": [json.loads(das.export_public())]}]}, open(tmp + "/issuers.json", "w"))
json.dump({"id": "CBDas", "cse": own, "alg": "ES256", "key": json.loads(das.export()),
           "rules": [{"or": own + "/Cbdyn", "trid": "*", "op": [2], "grant": "privileges", "lifetime": 3600}]},
          open(tmp + "/das.json", "w"))
open(tmp + "/auth.jwk", "w").write(auth.export())
EOF
"$DAS" --port "$DAS_PORT" --policy "$TMP/das.json" 2>"$TMP/das.log" &
PIDS+=($!)
"$WARDEN" --http.port="$PORT" --http.address=$HOST --store.path="$TMP/w.db" --log.level=warn \
    --authz.issuers="$TMP/issuers.json" --notify.allow=127.0.0.1/32 2>"$TMP/warden.log" &
PIDS+=($!)
for _ in $(seq 100); do
    curl -s -o /dev/null "http://$HOST:$PORT/cse-in" -H 'X-M2M-Origin: CAdmin' -H 'X-M2M-RI: up' && break
    sleep 0.1
done

req() { # METHOD PATH ORIGIN [TY BODY]
    local args=(-s -X "$1" "http://$HOST:$PORT$2" -H "X-M2M-Origin: $3" -H "X-M2M-RI: b$RANDOM" -H 'X-M2M-RVI: 3')
    [[ $# -ge 5 ]] && args+=(-H "Content-Type: application/json;ty=$4" -d "$5")
    curl "${args[@]}"
}
for ae in Cbowner Cbacp Cbtok Cbdyn; do
    req POST /cse-in "$ae" 2 "{\"m2m:ae\":{\"rn\":\"$ae\",\"api\":\"Nbench\",\"rr\":false}}" >/dev/null
done
DAC_RI="$(req POST /cse-in/Cbowner Cbowner 34 "{\"m2m:dac\":{\"rn\":\"dac\",\"dae\":true,\"dap\":[\"http://$HOST:$DAS_PORT/das\"]}}" |
    $PY -c 'import json,sys; print(json.load(sys.stdin)["m2m:dac"]["ri"])')"
ACP_RI="$(req POST /cse-in/Cbowner Cbowner 1 '{"m2m:acp":{"rn":"acp","pv":{"acr":[{"acor":["Cbacp"],"acop":2},{"acor":["Cbowner"],"acop":63}]},"pvs":{"acr":[{"acor":["Cbowner"],"acop":63}]}}}' |
    $PY -c 'import json,sys; print(json.load(sys.stdin)["m2m:acp"]["ri"])')"
req POST /cse-in/Cbowner Cbowner 3 "{\"m2m:cnt\":{\"rn\":\"cnt\",\"acpi\":[\"$ACP_RI\"],\"daci\":[\"$DAC_RI\"]}}" >/dev/null
CIN_RI="$(req POST /cse-in/Cbowner/cnt Cbowner 4 '{"m2m:cin":{"rn":"cin","con":"21.5"}}' |
    $PY -c 'import json,sys; print(json.load(sys.stdin)["m2m:cin"]["ri"])')"
CIN=/cse-in/Cbowner/cnt/cin
TOKEN="$($PY - "$TMP" "$OWN" "$CIN_RI" <<'EOF'
import json, sys, time
from jwcrypto import jwk, jws
from jwcrypto.common import json_encode
tmp, own, ri = sys.argv[1:4]
key = jwk.JWK.from_json(open(tmp + "/auth.jwk").read())
now = int(time.time())
c = {"tkvr": "1", "jti": "bench-1", "iss": own + "/CBAuth", "azp": own + "/Cbtok", "nbf": now - 60, "exp": now + 86400,
     "aud": [own], "tkps": {"pm": [{"ris": [ri], "pv": {"acr": [{"acor": ["Cbtok"], "acop": 2}]}}]}}
t = jws.JWS(json.dumps(c).encode())
t.add_signature(key, alg="ES256", protected=json_encode({"alg": "ES256", "typ": "JWT"}))
print(t.serialize(compact=True))
EOF
)"
check() { # NAME ORIGIN [AUTH] [QUERY] -> the rsc, must be 2000
    local extra=() url="http://$HOST:$PORT$CIN$4"
    [[ -n "$3" ]] && extra=(-H "Authorization: $3")
    curl -s -D - -o /dev/null "$url" -H "X-M2M-Origin: $2" -H 'X-M2M-RI: chk' "${extra[@]}" | tr -d '\r'
}
check acp Cbacp "" "" | grep -q '^X-M2M-RSC: 2000' || fail "ACP-granted retrieve is not 2000"
HDRS="$(check token Cbtok "$TOKEN" "")"
grep -q '^X-M2M-RSC: 2000' <<<"$HDRS" || fail "token-granted retrieve is not 2000"
LTI="$(sed -n 's/^X-M2M-ATI: \([^:]*\):.*/\1/p' <<<"$HDRS")"
[[ -n "$LTI" ]] || fail "no X-M2M-ATI for the token"
check ltid Cbtok "" "?ltids=$LTI" | grep -q '^X-M2M-RSC: 2000' || fail "ltid-granted retrieve is not 2000"
check dynamic Cbdyn "" "" | grep -q '^X-M2M-RSC: 2000' || fail "DAS-granted retrieve is not 2000"

declare -A RPS
run() { # ROUND NAME ORIGIN AUTH PATH
    local out
    out="$(WARDEN_BENCH_PATH="$5" WARDEN_BENCH_ORIGIN="$3" WARDEN_BENCH_AUTH="$4" \
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 5s -s bench/acp_retrieve.lua "http://$HOST:$PORT$5")"
    local line
    line="$(grep '^WRK_RESULT' <<<"$out")" || fail "$2: no WRK_RESULT"
    [[ "$line" == *" non2xx=0 "* ]] || fail "$2: non-2xx answers: $line"
    RPS[$1.$2]="$(sed -n 's/.* rps=\([0-9.]*\).*/\1/p' <<<"$line")"
    say "round $1 $2: ${RPS[$1.$2]} req/s"
}
for r in $(seq "$ROUNDS"); do
    run "$r" acp Cbacp "" "$CIN"
    run "$r" token Cbtok "$TOKEN" "$CIN"
    run "$r" ltid Cbtok "" "$CIN?ltids=$LTI"
    run "$r" dynamic Cbdyn "" "$CIN"
done
median() { sort -g | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2 }'; }
mkdir -p "$RESULTS_DIR"
{
    echo "mode=$([[ $SMOKE == 1 ]] && echo smoke || echo full) duration=$DURATION connections=$CONNECTIONS rounds=$ROUNDS cpus=$(nproc)"
    for n in acp token ltid dynamic; do
        m="$(for r in $(seq "$ROUNDS"); do echo "${RPS[$r.$n]}"; done | median)"
        ratios="$(for r in $(seq "$ROUNDS"); do awk -v a="${RPS[$r.$n]}" -v b="${RPS[$r.acp]}" 'BEGIN{printf "%.3f ", a/b}'; done)"
        rm="$(for x in $ratios; do echo "$x"; done | median)"
        echo "$n.rps=$m"
        echo "$n.ratio_to_acp=$rm (rounds: $ratios)"
    done
} | tee "$RESULTS_DIR/authz.txt"
grep -c -- '->' "$TMP/das.log" | sed 's/^/das.consultations=/' | tee -a "$RESULTS_DIR/authz.txt"
