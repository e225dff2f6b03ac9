#!/bin/sh
# Install the Debian packages Warden needs to build, test and benchmark.
# Idempotent: only missing packages are installed; apt-get update runs only then.
set -eu
PKGS="build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
libmicrohttpd-dev libjansson-dev libsqlite3-dev sqlite3 libcmocka-dev
libgnutls28-dev libcurl4-gnutls-dev curl wrk gnutls-bin openssl valgrind
libmosquitto-dev mosquitto mosquitto-clients python3-paho-mqtt libcoap3-dev libcoap3-bin libcbor-dev
libcjose-dev python3-jwcrypto strace chromium python3-websocket"
PKGS="$PKGS xxd jq"   # used by the README examples (tests/integration/test_readme.py)
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
