#!/usr/bin/env bash
# Fault suite entry point (issue 8): faults made to live sessions through a
# real boshgate in front of real Prosody / ejabberd on loopback.
#   server_faults.test.js   - server killed / stopped, link cut (netns + nft),
#                             DNS stopped / killed, untrusted / changed certificate
#   gateway_faults.test.js  - gateway reload / shutdown, client-side faults
# Every interop/fault/*.test.js file runs, one at a time.
#   BOSHGATE_BIN=build/release/boshgate bash interop/fault/run.sh
# Exit code = the test result. Hard cap for the whole suite: 300 s.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [[ $(id -u) -ne 0 ]]; then
  echo "fault: run as root (private Prosody with run_as_root, ejabberd user, dnsmasq, ip netns, nft)" >&2
  exit 2
fi
if [[ -z ${BOSHGATE_BIN:-} ]]; then
  echo "fault: set BOSHGATE_BIN=/path/to/boshgate (a release build: RSS bounds are for it)" >&2
  exit 2
fi
BOSHGATE_BIN=$(realpath "$BOSHGATE_BIN")
if [[ ! -x $BOSHGATE_BIN ]]; then
  echo "fault: BOSHGATE_BIN=$BOSHGATE_BIN is not an executable" >&2
  exit 2
fi
export BOSHGATE_BIN
if grep -qa '__asan_init' "$BOSHGATE_BIN"; then
  echo "fault: warning: $BOSHGATE_BIN is a sanitizer build: its RSS (FAULT-STOP-1 bound) is not meaningful" >&2
fi
for tool in node prosody prosodyctl ejabberdctl dnsmasq openssl ip nft; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "fault: $tool not found: run tests/bootstrap.sh (nft: Debian package nftables)" >&2
    exit 2
  fi
done
if [[ ! -d $here/../node_modules/ws || ! -d $here/../node_modules/@xmpp/client ]]; then
  (cd "$here/.." && npm ci --no-audit --no-fund)
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

shopt -s nullglob
files=("$here"/*.test.js)
if [[ ${#files[@]} -eq 0 ]]; then
  echo "fault: no test files in $here" >&2
  exit 2
fi
echo "fault: $BOSHGATE_BIN; files: ${files[*]##*/}"
cd "$here/.."
set +e
timeout --kill-after=10 300 node --test --test-concurrency=1 --test-reporter=spec "${files[@]/#$here/fault}" 2>&1
rc=$?
set -e
if [[ $rc -eq 124 || $rc -eq 137 ]]; then
  echo "fault: suite exceeded its 300 s budget" >&2
fi
exit "$rc"
