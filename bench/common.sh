# Sourced by run.sh and soak.sh.
#   bench_preflight TAG          root and the tools a run needs (exit 2 if missing)
# The bookkeeping that stops everything a bench run started, even when its node
# process is killed outright. The node process
# writes "PID TAG" for itself and "PID NAME" for every child it starts (own
# process group each) into $BENCH_PIDFILE; on exit the shell first stops the
# node process (so it starts nothing new), then kills the groups it left.
#   bench_pidfile TAG SCRIPT     e.g. bench_pidfile soak soak.js
# sets BENCH_PIDFILE and the EXIT/INT/TERM traps.

bench_preflight() {
  local tool
  if [[ $(id -u) -ne 0 ]]; then
    echo "$1: run as root (the private Prosody runs as root from a temp dir, like interop/)" >&2
    exit 2
  fi
  for tool in node npm prosody prosodyctl dnsmasq openssl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "$1: $tool not found: run tests/bootstrap.sh" >&2
      exit 2
    fi
  done
}

# True if pid $1 is alive and still runs something matching $2 (pids get reused).
is_ours() {
  [[ -d /proc/$1 ]] && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q -- "$2"
}

bench_pidfile() {
  bench_tag=$1
  bench_script=$2
  pidfile=$(mktemp "/tmp/boshgate-$bench_tag-pids.XXXXXX")
  export BENCH_PIDFILE=$pidfile
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_cleanup() {
  local pid name left=() i
  while read -r pid name; do
    [[ $name == "$bench_tag" ]] || continue
    if is_ours "$pid" "$bench_script"; then
      echo "$bench_tag: stopping the $bench_tag process (pid $pid)" >&2
      kill -TERM "$pid" 2>/dev/null || true
      for ((i = 0; i < 150; i++)); do
        is_ours "$pid" "$bench_script" || break
        sleep 0.1
      done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done <"$pidfile"
  while read -r pid name; do
    [[ -n ${pid:-} && $name != "$bench_tag" ]] || continue
    if is_ours "$pid" "${name%%-*}"; then
      echo "$bench_tag: stopping leftover $name (pid $pid)" >&2
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      left+=("$pid")
    fi
  done <"$pidfile"
  if [[ ${#left[@]} -gt 0 ]]; then
    sleep 3
    for pid in "${left[@]}"; do
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    done
  fi
  rm -f "$pidfile"
}
