#!/usr/bin/env bash
# The whole test suite: install what is missing, build with sanitizers, run the unit and
# in-process integration tests (ctest), then the interop suite against a real Prosody and a
# real ejabberd with real clients, the libFuzzer targets for a short bounded time
# (tests/fuzz), then against a release build the abuse suite (interop/abuse), the fault
# matrix (interop/fault) and the short soak (bench/soak.sh). Exit code = result.
# Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build="$root/build/test"
jobs=$(nproc)

echo "[${SECONDS} s] == bootstrap (packages, npm)"
bash tests/bootstrap.sh

# -O1 -g1 instead of RelWithDebInfo's -O2 -g: the optimisation level the ASan docs advise, and
# line tables only (sanitizer reports keep file:line in every frame). The build is the longest
# step on 2 cores; measured on the heaviest file, -g1 saves ~15 % and -O1 another ~23 %.
echo "[${SECONDS} s] == configure + build ($build, ASan+UBSan)"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
      -DBOSHGATE_SANITIZE=address,undefined -DBOSHGATE_WERROR=ON >/dev/null
cmake --build "$build" -j "$jobs"

# The abuse and fault suites and the soak measure the gateway's memory: they run a release
# build, not the ASan one.
release="$root/build/release"
echo "[${SECONDS} s] == configure + build ($release, release boshgate for the abuse, fault and soak runs)"
cmake -S . -B "$release" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBOSHGATE_BUILD_TESTS=OFF >/dev/null
cmake --build "$release" --target boshgate -j "$jobs"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

echo "[${SECONDS} s] == unit + integration tests (ctest)"
ctest --test-dir "$build" --output-on-failure -j "$jobs"

echo "[${SECONDS} s] == interop: real Prosody + ejabberd; strophe.js, @xmpp/client (BOSH, WebSocket, TCP) and Converse.js in Chromium through boshgate"
BOSHGATE_BIN="$build/boshgate" bash interop/run.sh

echo "[${SECONDS} s] == fuzz: every parser and protocol core under libFuzzer + ASan + UBSan, 15 s per target (tests/fuzz/README.md)"
bash tests/fuzz/run.sh 15

echo "[${SECONDS} s] == abuse: floods, slowloris, oversized and entity-bomb bodies, rid flood, silent WebSockets, slow readers against the release boshgate (report: build/abuse-report.txt)"
BOSHGATE_BIN="$release/boshgate" bash interop/abuse/run.sh

echo "[${SECONDS} s] == Debian package: cpack, dpkg -i, run from the package as its unit does, remove, purge (tests/deb_test.sh)"
bash tests/deb_test.sh "$release"

echo "[${SECONDS} s] == fault matrix: servers killed/stopped, link cut (netns + nftables), DNS and TLS faults, client resets, SIGHUP and SIGTERM under load, against the release boshgate (interop/fault/README.md)"
BOSHGATE_BIN="$release/boshgate" bash interop/fault/run.sh

echo "[${SECONDS} s] == soak (short variant): 40 mixed BOSH/WebSocket sessions, numbered messages for 2 min, nothing lost/duplicated/reordered, RSS and fds (bench/README.md)"
BOSHGATE_BIN="$release/boshgate" bash bench/soak.sh
echo "[${SECONDS} s] == all passed"
