#!/usr/bin/env bash
# In-place restart (SIGUSR1), black box with the real executable (run by ctest; the full
# test under traffic is interop/test/inplace_restart.test.js):
#   * a successor that cannot start (the file is now invalid) changes nothing: the old
#     process says why and keeps serving on the same sockets;
#   * with a valid file the successor takes over both listening sockets (public and admin),
#     the old process, which holds no session, exits 0 by itself, and the new one serves;
#   * no new connection is refused at any point (a probe loop runs throughout).
# usage: tests/restart_test.sh path/to/boshgate
set -euo pipefail
bin=$1
fail() { echo "restart_test: $*" >&2; [[ -f ${log:-} ]] && tail -n 30 "$log" >&2; exit 1; }
work=$(mktemp -d /tmp/boshgate-restart-test.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  [[ -n ${prober:-} ]] && kill "$prober" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cfg=$work/gw.toml
log=$work/gw.log
cat >"$cfg" <<'TOML'
[server]
threads = 2
log_level = "info"
[admin]
port = 0
[[http.listen]]
address = "127.0.0.1"
port = 0
[[upstream.domain]]
name = "restart.test"
address = "127.0.0.1:1"
TOML
cp "$cfg" "$work/good.toml"
"$bin" --config "$cfg" >"$log" 2>&1 &
old=$!
pids+=("$old")
port="" admin=""
for _ in $(seq 100); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -n 1)
  admin=$(sed -n 's/.*admin listener on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -n 1)
  [[ -n $port && -n $admin ]] && grep -q ' ready (' "$log" && break
  sleep 0.1
done
[[ -n $port && -n $admin ]] || fail "the gateway did not come up"
get() { curl -sS --max-time 5 "http://127.0.0.1:$1" || true; }
[[ $(get "$port/healthz") == ok ]] || fail "/healthz before the restart"

# New connections all the time; every one must be answered.
(
  n=0 bad=0
  while [[ ! -f $work/stop ]]; do
    n=$((n + 1))
    [[ $(curl -sS --max-time 5 "http://127.0.0.1:$port/healthz" 2>/dev/null) == ok ]] || bad=$((bad + 1))
  done
  echo "$n $bad" >"$work/probes"
) &
prober=$!

wait_log() { # pattern, seconds
  for _ in $(seq $(($2 * 10))); do grep -aq -- "$1" "$log" && return 0; sleep 0.1; done
  fail "no '$1' in the log within $2 s"
}

echo "== restart_test: a successor that cannot start changes nothing"
echo 'this is [not toml' >"$cfg"
kill -USR1 "$old"
wait_log "in-place restart failed: pid [0-9]* did not take over (exit status 1" 30
kill -0 "$old" 2>/dev/null || fail "the old process died with its failed successor"
[[ $(get "$port/healthz") == ok ]] || fail "/healthz after a failed restart"
[[ $(get "$admin/readyz") == ready ]] || fail "/readyz after a failed restart"

echo "== restart_test: the successor takes over both sockets; the old process exits 0"
cp "$work/good.toml" "$cfg"
kill -USR1 "$old"
wait_log "in-place restart: pid [0-9]* accepts on the listening sockets" 30
new=$(sed -n 's/.*in-place restart: pid \([0-9]*\) accepts on the listening sockets.*/\1/p' "$log" | head -n 1)
pids+=("$new")
[[ $new != "$old" ]] || fail "no new process"
rc=0
timeout 20 tail --pid="$old" -f /dev/null || fail "the old process, holding no session, did not exit"
wait "$old" || rc=$?
[[ $rc -eq 0 ]] || fail "the old process exited $rc"
grep -aq "drained in [0-9.]* s: no session left; exiting" "$log" || fail "the old process did not say it drained"
kill -0 "$new" 2>/dev/null || fail "the new process is not running"
[[ $(get "$port/healthz") == ok ]] || fail "/healthz from the new process"
[[ $(get "$admin/readyz") == ready ]] || fail "/readyz from the new process (the admin socket)"
grep -aq "listening on 127.0.0.1:$port (backlog [0-9]*), socket taken over from the previous process" "$log" \
  || fail "the new process bound its own socket instead of taking the old one over"
sleep 0.5
touch "$work/stop"
wait "$prober"
read -r probes bad <"$work/probes"
[[ $probes -gt 20 ]] || fail "only $probes probes ran"
[[ $bad -eq 0 ]] || fail "$bad of $probes new connections were refused or failed"
kill -TERM "$new"
for _ in $(seq 100); do kill -0 "$new" 2>/dev/null || break; sleep 0.1; done
kill -0 "$new" 2>/dev/null && fail "the new process ignored SIGTERM"
if grep -aq "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|WARNING: ThreadSanitizer\|runtime error:" "$log"; then
  fail "sanitizer report in the log"
fi
echo "restart_test: ok ($probes new connections during two restarts, none refused)"
