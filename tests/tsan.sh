#!/usr/bin/env bash
# ThreadSanitizer run of the unit and in-process integration tests (the gateway under test
# runs 2 io threads), kept out of tests/run_all.sh because a second full build does not fit
# CI's 30-minute budget on 2 cores: about 13 minutes to build, 1 minute to run.
#
#   bash tests/tsan.sh        # as root on Debian 12, after tests/bootstrap.sh
#
# Any ThreadSanitizer report fails the run (halt_on_error); there are no suppressions.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build/tsan
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBOSHGATE_SANITIZE=thread \
      -DBOSHGATE_WERROR=ON >/dev/null
cmake --build "$build" -j "$(nproc)"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
ctest --test-dir "$build" --output-on-failure -j "$(nproc)"
