#!/usr/bin/env bash
# The whole test suite: install what is missing, build the container images (in the
# background, from Debian's packages: boshgate's image build stage is also the release build),
# build with sanitizers, run the unit and in-process integration tests (ctest), then the
# interop suite against a real Prosody and a real ejabberd with real clients, the libFuzzer
# targets for a short bounded time (tests/fuzz), then against the release build the abuse
# suite (interop/abuse), the Debian package, the containers (image, compose, interop with the
# servers in containers), the fault matrix (interop/fault) and the short soak
# (bench/soak.sh). Exit code = result. Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build="$root/build/test"
jobs=$(nproc)

echo "[${SECONDS} s] == bootstrap (packages, npm, container tools)"
bash tests/bootstrap.sh --containers

# The images (conf/container/build-images.sh): a Debian 12 base made by mmdebstrap, Prosody,
# ejabberd and boshgate. The base and the two server images (downloads and unpacking, little
# CPU) build while the ASan build below compiles; the boshgate image, whose build stage is a
# release compile, builds after it: on 2 cores two compiles side by side took longer than
# one after the other (ASan build 980 s beside the image against ~470 s alone, 2026-12-04).
# That build stage is this run's release build: its binary and .deb are copied to $release
# and serve the abuse, package, fault and soak steps, so the release is compiled once, the
# way the image and the package are.
release="$root/build/release-image"
mkdir -p "$root/build"
rm -rf "$release" "$root/build/container-images.rc"
echo "[${SECONDS} s] == container images (base, Prosody, ejabberd), in the background (log: build/container-images.log)"
( set +e; bash conf/container/build-images.sh prosody ejabberd >"$root/build/container-images.log" 2>&1
  echo $? >"$root/build/container-images.rc" ) &
images_pid=$!

# -O0 -g1 instead of RelWithDebInfo's -O2 -g: line tables only (sanitizer reports keep
# file:line in every frame) and no optimisation. The build is the longest step on 2 cores;
# on the heaviest file (websocket/session.cpp) -g1 saves ~15 %, and -O0 takes 51 s where
# -O1 took 92 s (2026-12-04). The tests are I/O-bound: they barely notice. The bench tools
# (fakexmpp) are not needed here.
echo "[${SECONDS} s] == configure + build ($build, ASan+UBSan)"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O0 -g1 -DNDEBUG" -DBOSHGATE_BUILD_BENCH=OFF \
      -DBOSHGATE_SANITIZE=address,undefined -DBOSHGATE_WERROR=ON >/dev/null
cmake --build "$build" -j "$jobs"

echo "[${SECONDS} s] == container images: the server images (waiting for them), then the boshgate image; the release boshgate and .deb from its build stage ($release)"
wait "$images_pid" || true
if [[ $(cat "$root/build/container-images.rc" 2>/dev/null) != 0 ]]; then
  tail -n 60 "$root/build/container-images.log" >&2
  echo "run_all: building the container images failed (build/container-images.log)" >&2
  exit 1
fi
if ! bash conf/container/build-images.sh --extract "$release" boshgate >>"$root/build/container-images.log" 2>&1; then
  tail -n 60 "$root/build/container-images.log" >&2
  echo "run_all: building the boshgate image failed (build/container-images.log)" >&2
  exit 1
fi
grep '^build-images:' "$root/build/container-images.log" || true
[[ -x $release/boshgate && -f $release/boshgate.deb ]] || { echo "run_all: no release boshgate/.deb in $release" >&2; exit 1; }
"$release/boshgate" --version | head -n 1

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

echo "[${SECONDS} s] == unit + integration tests (ctest)"
ctest --test-dir "$build" --output-on-failure -j "$jobs"

echo "[${SECONDS} s] == interop: real Prosody + ejabberd; strophe.js, @xmpp/client (BOSH, WebSocket, TCP) and Converse.js in Chromium through boshgate"
BOSHGATE_BIN="$build/boshgate" bash interop/run.sh

echo "[${SECONDS} s] == fuzz: every parser and protocol core under libFuzzer + ASan + UBSan, 10 s per target (tests/fuzz/README.md)"
bash tests/fuzz/run.sh 10

echo "[${SECONDS} s] == abuse: floods, slowloris, oversized and entity-bomb bodies, rid flood, silent WebSockets, slow readers against the release boshgate (report: build/abuse-report.txt)"
BOSHGATE_BIN="$release/boshgate" bash interop/abuse/run.sh

echo "[${SECONDS} s] == Debian package: the image build stage's .deb: dpkg -i, run from the package as its unit does, remove, purge (tests/deb_test.sh)"
bash tests/deb_test.sh "$release/boshgate.deb"

echo "[${SECONDS} s] == containers: the boshgate image (non-root, HEALTHCHECK, no build tools), conf/compose/ up, BOSH + WebSocket logins through it, SIGTERM drain (tests/container_test.sh)"
bash tests/container_test.sh

echo "[${SECONDS} s] == interop with the servers in containers (INTEROP_SERVERS=containers): the Prosody and ejabberd suites, BOSH + WebSocket, through the ASan boshgate"
INTEROP_SERVERS=containers INTEROP_FILES="test/prosody.test.js test/ejabberd.test.js" BOSHGATE_BIN="$build/boshgate" bash interop/run.sh

echo "[${SECONDS} s] == fault matrix: servers killed/stopped, link cut (netns + nftables), DNS and TLS faults, client resets, SIGHUP and SIGTERM under load, against the release boshgate (interop/fault/README.md)"
BOSHGATE_BIN="$release/boshgate" bash interop/fault/run.sh

# One minute of messaging here (the short variant's default is 2): the CI budget.
echo "[${SECONDS} s] == soak (short variant): 40 mixed BOSH/WebSocket sessions, numbered messages for 1 min, nothing lost/duplicated/reordered, RSS and fds (bench/README.md)"
BOSHGATE_BIN="$release/boshgate" bash bench/soak.sh --minutes 1
echo "[${SECONDS} s] == all passed"
