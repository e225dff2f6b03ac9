#!/bin/sh
# Install the Debian packages Warden needs. Idempotent: only missing packages are installed;
# apt-get update runs only then.
#   tools/deps.sh run    what building and running the server needs (make run, make install)
#   tools/deps.sh        everything: also what the tests, fuzzers and benchmarks need (make test)
set -eu
RUN_PKGS="build-essential cmake pkg-config
libmicrohttpd-dev libjansson-dev libsqlite3-dev libgnutls28-dev libcurl4-gnutls-dev
libmosquitto-dev libcoap3-dev libcbor-dev libcjose-dev libsystemd-dev"
TEST_PKGS="clang libclang-rt-14-dev clang-format sqlite3 libcmocka-dev curl wrk gnutls-bin openssl valgrind
mosquitto mosquitto-clients python3-paho-mqtt libcoap3-bin python3-jwcrypto strace groff-base
chromium python3-websocket xxd jq"
case "${1:-all}" in
run) PKGS="$RUN_PKGS" ;;
all | test) PKGS="$RUN_PKGS $TEST_PKGS" ;;
*)
    echo "usage: tools/deps.sh [run|test]" >&2
    exit 2
    ;;
esac
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    echo "deps: installing:$missing"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
