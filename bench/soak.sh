#!/usr/bin/env bash
# Soak benchmark entry point (not part of the unit tests): N sessions, half
# BOSH and half WebSocket, paired, exchanging numbered messages through one
# boshgate process to a private Prosody for M minutes; exact message
# accounting, the gateway's RSS/fds sampled over time (table, CSV, SVG). Exit
# 0 = passed, 1 = a rule was broken (details printed), 2 = could not run.
# See the "Soak" section of bench/README.md.
#
#   BOSHGATE_BIN=build/release/boshgate bench/soak.sh          # short run (~3 min, 40 sessions)
#   bench/soak.sh --minutes 60 --sessions 200 --rate 0.25 --sample 60 --out build/soak-1h
#
# Defaults of the short variant (each can be overridden): --minutes 2
# --sessions 40 --rate 1 --sample 15 --warmup 30. The whole run has a time
# budget (SOAK_BUDGET_S, default minutes*60 + 240 + sessions) and every
# process it started is stopped at the end, also when it fails or is killed.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
BOSHGATE_BIN=$(realpath -m "${BOSHGATE_BIN:-$root/build/release/boshgate}") # relative to the caller's directory
export BOSHGATE_BIN

source "$here/common.sh"
bench_preflight soak
if [[ ! -x $BOSHGATE_BIN ]]; then
  echo "soak: no gateway binary at $BOSHGATE_BIN (set BOSHGATE_BIN)" >&2
  exit 2
fi

# The WebSocket client (ws) is pinned in bench/package.json.
if [[ ! -d $here/node_modules/ws ]]; then
  echo "soak: installing bench/node_modules (npm ci)"
  (cd "$here" && npm ci --no-audit --no-fund >/dev/null) || { echo "soak: npm ci in bench/ failed" >&2; exit 2; }
fi

# Short-variant defaults first; options given later on the command line win.
minutes=2
sessions=40
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in
    --minutes) minutes=${args[i + 1]:-} ;;
    --sessions) sessions=${args[i + 1]:-} ;;
    -h | --help) exec node "$here/soak.js" --help ;;
  esac
done
[[ $sessions =~ ^[0-9]+$ ]] || { echo "soak: --sessions needs a number" >&2; exit 2; }
[[ $minutes =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "soak: --minutes needs a number" >&2; exit 2; }
budget=${SOAK_BUDGET_S:-$(awk -v m="$minutes" -v n="$sessions" 'BEGIN { printf "%d", m * 60 + 240 + n }')}

# Sockets: N sessions x (client + gateway + upstream + Prosody) plus headroom.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# Stop everything the run started, also when it is killed (bench/common.sh).
bench_pidfile soak soak.js

echo "soak: binary $BOSHGATE_BIN; budget ${budget} s"
timeout --kill-after=20 "$budget" node "$here/soak.js" \
  --minutes 2 --sessions 40 --rate 1 --sample 15 --warmup 30 --out "$root/build/soak" "$@" &
set +e
wait $!
rc=$?
set -e
if [[ $rc -eq 124 ]]; then
  echo "soak: exceeded its ${budget} s budget (SOAK_BUDGET_S)" >&2
fi
exit "$rc"
