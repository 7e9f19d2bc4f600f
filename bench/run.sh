#!/usr/bin/env bash
# Benchmark entry point (not part of the test suite): N (then 2N) authenticated
# idle BOSH or WebSocket sessions through each connection manager in turn, in
# one run on this machine, all on loopback, then a comparison table. See
# bench/README.md.
#
#   BOSHGATE_BIN=build/release/boshgate bench/run.sh            # 200 sessions
#   bench/run.sh --sessions 50 --messages 20                     # quick run
#   bench/run.sh --only prosody,boshgate --json /tmp/bench.json
#
# Bounded: the whole run has a time budget (BENCH_BUDGET_S, default scaled
# with --sessions), and every process it started is stopped at the end, also
# when it fails or is interrupted.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
# Paths the caller gives are relative to the caller's directory; this script runs in bench/.
for var in BOSHGATE_BIN FAKEXMPP_BIN CAPLOAD_BIN; do
  if [[ -n ${!var:-} ]]; then
    export "$var=$(realpath -m "${!var}")"
  fi
done
export BENCH_CALLER_DIR=$PWD # bench.js resolves --json FILE against it
cd "$here"

source "$here/common.sh"
bench_preflight bench

# Sessions to size the budget (the option parser itself is in bench.js).
sessions=200
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [[ ${args[i]} == --sessions && $((i + 1)) -lt ${#args[@]} ]]; then
    sessions=${args[i + 1]}
  elif [[ ${args[i]} == -h || ${args[i]} == --help ]]; then
    exec node "$here/bench.js" --help
  fi
done
[[ $sessions =~ ^[0-9]+$ ]] || { echo "bench: --sessions needs a number" >&2; exit 2; }
budget=${BENCH_BUDGET_S:-$((300 + sessions * 5))}

# The gateway: $BOSHGATE_BIN, else build/release/boshgate, else the newest
# build/*/boshgate configured as Release without sanitizers, else the newest one
# (the table names the binary and its build type either way).
if [[ -z ${BOSHGATE_BIN:-} ]]; then
  if [[ -x $root/build/release/boshgate ]]; then
    BOSHGATE_BIN=$root/build/release/boshgate
  else
    newest=
    while read -r bin; do
      [[ -x $bin ]] || continue
      newest=${newest:-$bin}
      cache=$(dirname "$bin")/CMakeCache.txt
      if grep -q '^CMAKE_BUILD_TYPE:[A-Z]*=Release$' "$cache" 2>/dev/null &&
        ! grep -q '^BOSHGATE_SANITIZE:[A-Z]*=.' "$cache" 2>/dev/null; then
        BOSHGATE_BIN=$bin
        break
      fi
    done < <(ls -1t "$root"/build/*/boshgate 2>/dev/null || true)
    BOSHGATE_BIN=${BOSHGATE_BIN:-$newest}
  fi
fi
if [[ -n ${BOSHGATE_BIN:-} ]]; then
  BOSHGATE_BIN=$(realpath -m "$BOSHGATE_BIN")
  echo "bench: boshgate binary: $BOSHGATE_BIN"
else
  echo "bench: no boshgate binary found (set BOSHGATE_BIN or build build/release); its row will say so"
fi
export BOSHGATE_BIN

# node-xmpp-bosh 0.7.10 and ws (WebSocket rows) from npm, pinned in package.json and
# package-lock.json (which also pins node-expat 2.4.1 through "overrides").
unset BENCH_NXB_INSTALL_ERROR
if [[ ! -d node_modules/node-xmpp-bosh || ! -d node_modules/node-expat || ! -f node_modules/ws/package.json ]]; then
  echo "bench: installing node-xmpp-bosh and ws into bench/node_modules (npm ci)"
  if ! npm_out=$(npm ci --no-audit --no-fund 2>&1); then
    BENCH_NXB_INSTALL_ERROR="npm ci failed: $(printf '%s' "$npm_out" | grep -m1 -i 'err' || printf '%s' "$npm_out" | tail -n 1)"
    export BENCH_NXB_INSTALL_ERROR
    echo "bench: $BENCH_NXB_INSTALL_ERROR" >&2
  fi
fi

# Sockets: 2N sessions x (client + manager + upstream + Prosody) plus headroom.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# Stop everything the run started, also when it is killed (bench/common.sh).
bench_pidfile bench bench.js

echo "bench: sessions=$sessions, budget ${budget} s"
# In the background + wait, so that INT/TERM reach the trap (and the cleanup)
# at once instead of after the bench has finished.
timeout --kill-after=20 "$budget" node "$here/bench.js" "$@" &
set +e
wait $!
rc=$?
set -e
if [[ $rc -eq 124 ]]; then
  echo "bench: exceeded its ${budget} s budget (BENCH_BUDGET_S)" >&2
fi
exit "$rc"
