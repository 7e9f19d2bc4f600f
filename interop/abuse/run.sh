#!/usr/bin/env bash
# Abuse suite entry point ("Safe to expose on the Internet"): one real boshgate
# in front of a private Prosody on loopback, attacked from 127.0.0.1 while an
# innocent user logs in from 127.0.0.2. See abuse.test.js for the attacks.
#   BOSHGATE_BIN=build/release/boshgate bash interop/abuse/run.sh
# Exit code = the test result. Hard cap for the whole suite: 240 s. The table
# is printed at the end and written to build/abuse-report.txt.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

if [[ $(id -u) -ne 0 ]]; then
  echo "abuse: run as root (private Prosody with run_as_root, dnsmasq)" >&2
  exit 2
fi
if [[ -z ${BOSHGATE_BIN:-} ]]; then
  echo "abuse: set BOSHGATE_BIN=/path/to/boshgate (a release build: RSS bounds are for it)" >&2
  exit 2
fi
BOSHGATE_BIN=$(realpath "$BOSHGATE_BIN")
if [[ ! -x $BOSHGATE_BIN ]]; then
  echo "abuse: BOSHGATE_BIN=$BOSHGATE_BIN is not an executable" >&2
  exit 2
fi
export BOSHGATE_BIN
for tool in node prosody prosodyctl dnsmasq openssl; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "abuse: $tool not found: run tests/bootstrap.sh" >&2
    exit 2
  fi
done
if [[ ! -d $here/../node_modules/ws || ! -d $here/../node_modules/@xmpp/client ]]; then
  (cd "$here/.." && npm ci --no-audit --no-fund)
fi
# The attacker (127.0.0.1) and the innocent (127.0.0.2, 127.0.0.3 for the admin /metrics)
# must be distinct loopback addresses; Linux routes all of 127/8 to lo.
if ! node -e "const s=require('net').connect({host:'127.0.0.1',port:9,localAddress:'127.0.0.2'});s.on('error',e=>process.exit(e.code==='EADDRNOTAVAIL'?1:0));s.on('connect',()=>process.exit(0))"; then
  echo "abuse: cannot bind source address 127.0.0.2" >&2
  exit 2
fi
# Slowloris and the WebSocket flood hold ~2,000 sockets on each side.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "abuse: $BOSHGATE_BIN, open files limit $(ulimit -n)"

rm -f "$repo/build/abuse-report.txt"
cd "$here"
set +e
timeout --kill-after=10 240 node --test-reporter=spec abuse.test.js 2>&1
rc=$?
set -e
if [[ $rc -eq 124 || $rc -eq 137 ]]; then
  echo "abuse: suite exceeded its 240 s budget" >&2
fi
exit "$rc"
