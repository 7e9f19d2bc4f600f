#!/usr/bin/env bash
# Build the libFuzzer targets (tests/fuzz/*.cpp) with clang-16, ASan+UBSan, and run each for
# SECONDS (default 15), two at a time. Exit code: 0 when no target found anything.
#
#   bash tests/fuzz/run.sh [SECONDS]      # as root on Debian 12 after tests/bootstrap.sh
#
# Each target starts from its seed corpus tests/fuzz/corpus/<target>/ (read-only) and keeps
# what it learns in build/fuzz/corpus/<target>/ (reused by later local runs). Findings go to
# build/fuzz/artifacts/<target>-crash-*; reproduce with build/fuzz/tests/fuzz/fuzz_<target> FILE.
# Dictionary: tests/fuzz/dict/<target>.dict if present, else tests/fuzz/dict/xmpp.dict.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
secs=${1:-15}
build="$root/build/fuzz"
jobs=$(nproc)

for tool in clang-16 clang++-16; do
  command -v "$tool" >/dev/null || { echo "fuzz: $tool missing (tests/bootstrap.sh installs clang-16, libclang-rt-16-dev)" >&2; exit 1; }
done

echo "== fuzz: configure + build ($build, clang-16, libFuzzer + ASan + UBSan)"
CC=clang-16 CXX=clang++-16 cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBOSHGATE_FUZZ=ON -DBOSHGATE_BUILD_TESTS=OFF -DBOSHGATE_WERROR=OFF >/dev/null
cmake --build "$build" -j "$jobs"

mkdir -p "$build/artifacts" "$build/logs"
targets=()
for src in tests/fuzz/*.cpp; do
  targets+=("$(basename "$src" .cpp)")
done

run_one() {
  local t=$1
  local bin="$build/tests/fuzz/fuzz_$t"
  local work="$build/corpus/$t"
  local seeds="$root/tests/fuzz/corpus/$t"
  local dict="$root/tests/fuzz/dict/$t.dict"
  [[ -f $dict ]] || dict="$root/tests/fuzz/dict/xmpp.dict"
  mkdir -p "$work"
  local args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2560 -print_final_stats=1
              -artifact_prefix="$build/artifacts/$t-" -dict="$dict" "$work")
  [[ -d $seeds ]] && args+=("$seeds")
  if "$bin" "${args[@]}" > "$build/logs/$t.log" 2>&1; then
    echo "ok" > "$build/logs/$t.status"
  else
    echo "FAILED" > "$build/logs/$t.status"
  fi
}

echo "== fuzz: ${#targets[@]} targets, ${secs} s each, $jobs at a time"
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if (( running >= jobs )); then
    wait -n || true
    running=$((running - 1))
  fi
done
wait || true

failed=0
printf '\n| target | result | executions | exec/s | edges (cov) | features (ft) | corpus |\n|---|---|---|---|---|---|---|\n'
for t in "${targets[@]}"; do
  log="$build/logs/$t.log"
  status=$(cat "$build/logs/$t.status" 2>/dev/null || echo "FAILED")
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}' || true)
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$done_line")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$done_line")
  eps=$(sed -nE 's/.* exec\/s: ([0-9]+).*/\1/p' <<<"$done_line")
  corp=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$done_line")
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$t" "$status" "${execs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
  if [[ $status != ok ]]; then
    failed=1
  fi
done
if (( failed )); then
  for t in "${targets[@]}"; do
    if [[ $(cat "$build/logs/$t.status" 2>/dev/null) != ok ]]; then
      echo; echo "---- $t ($build/logs/$t.log)"; grep -E 'ERROR|SUMMARY|Test unit written|#[0-9]+ 0x' "$build/logs/$t.log" | head -25
    fi
  done
  echo "fuzz: FAILED (reproduce: $build/tests/fuzz/fuzz_<target> $build/artifacts/<target>-crash-...)" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets clean for ${secs} s each"
