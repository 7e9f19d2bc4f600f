#!/usr/bin/env bash
# The whole test suite: install what is missing, build with sanitizers, run the unit and
# in-process integration tests (ctest), then the interop suite against a real Prosody and a
# real ejabberd with real clients, the libFuzzer targets for a short bounded time
# (tests/fuzz), then the abuse suite (interop/abuse) against a release build. Exit code =
# result.
# Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build="$root/build/test"
jobs=$(nproc)

echo "== bootstrap (packages, npm)"
bash tests/bootstrap.sh

echo "== configure + build ($build, ASan+UBSan)"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DBOSHGATE_SANITIZE=address,undefined -DBOSHGATE_WERROR=ON >/dev/null
cmake --build "$build" -j "$jobs"

# The abuse suite measures the gateway's memory: it runs a release build, not the ASan one.
release="$root/build/release"
echo "== configure + build ($release, release boshgate for the abuse suite)"
cmake -S . -B "$release" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBOSHGATE_BUILD_TESTS=OFF >/dev/null
cmake --build "$release" --target boshgate -j "$jobs"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

echo "== unit + integration tests (ctest)"
ctest --test-dir "$build" --output-on-failure -j "$jobs"

echo "== interop: real Prosody + ejabberd; strophe.js, @xmpp/client (BOSH, WebSocket, TCP) and Converse.js in Chromium through boshgate"
BOSHGATE_BIN="$build/boshgate" bash interop/run.sh

echo "== fuzz: every parser and protocol core under libFuzzer + ASan + UBSan, 15 s per target (tests/fuzz/README.md)"
bash tests/fuzz/run.sh 15

echo "== abuse: floods, slowloris, oversized and entity-bomb bodies, rid flood, silent WebSockets, slow readers against the release boshgate (report: build/abuse-report.txt)"
BOSHGATE_BIN="$release/boshgate" bash interop/abuse/run.sh
