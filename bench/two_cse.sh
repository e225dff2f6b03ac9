# Sourced by the two-CSE benchmarks (bench/multicse.sh, bench/esprim.sh): builds warden and wardenctl
# (and $BENCH_TARGETS) in $BUILD_DIR unless SKIP_BUILD=1, makes a test CA with CSE-ID certificates,
# starts an IN-CSE (/id-in, cse-in) and an MN-CSE (/id-mn, cse-mn) registered to it over HTTPS on
# loopback, each also serving plain HTTP ($IN_HTTP, $MN_HTTP) for the load tools, and waits for the
# registration. Gives: say, fail, req PORT METHOD PATH ORIGIN [TY BODY] (prints the HTTP status), $TMP
# (removed at exit, with the servers), $WARDEN, $CTL, $PY, $HOST. Needs $BENCH_NAME and $BUILD_DIR.
PY=/usr/bin/python3
HOST=127.0.0.1
TMP="$(mktemp -d)"
chmod 700 "$TMP"
PIDS=()

say() { echo "$BENCH_NAME-bench: $*"; }
fail() { say "FAIL: $*" >&2; exit 1; }
cleanup() {
    for p in "${PIDS[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD_DIR" -j"$(nproc)" --target warden wardenctl ${BENCH_TARGETS:-} >/dev/null
fi
WARDEN="$BUILD_DIR/warden" CTL="$BUILD_DIR/wardenctl"
[[ -x "$WARDEN" && -x "$CTL" ]] || fail "no $WARDEN / $CTL"

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
