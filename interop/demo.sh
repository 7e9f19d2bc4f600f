#!/usr/bin/env bash
# README command (a): a local boshgate demo.
#  1. tests/bootstrap.sh (Debian packages, npm ci in interop/)
#  2. Release build into build/release (tests off)
#  3. a private Prosody on 127.0.0.1:5222 for domain `localhost` with accounts
#     alice/alice and bob/bob (plaintext c2s on loopback; see demo/prosody.cfg.lua)
#  4. strophe.js's browser bundle into conf/www/vendor/ (gitignored)
#  5. build/release/boshgate --config conf/boshgate.toml in the foreground;
#     Prosody is stopped when boshgate exits (Ctrl-C).
# Then open http://127.0.0.1:5280/ in two browser tabs (alice and bob).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

tests/bootstrap.sh

cmake -S "$root" -B "$root/build/release" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBOSHGATE_BUILD_TESTS=OFF -DBOSHGATE_WERROR=OFF
cmake --build "$root/build/release" -j2 --target boshgate

if [[ ! -f conf/boshgate.toml ]]; then
  echo "demo: conf/boshgate.toml is missing" >&2
  exit 1
fi
if ss -Hltn 'sport = :5222' | grep -q .; then
  echo "demo: something already listens on port 5222:" >&2
  ss -Hltnp 'sport = :5222' >&2 || true
  exit 1
fi

work=$(mktemp -d /tmp/boshgate-demo-XXXXXX)
prosody_pid=""
cleanup() {
  if [[ -n $prosody_pid ]] && kill -0 "$prosody_pid" 2>/dev/null; then
    kill "$prosody_pid" 2>/dev/null || true
    wait "$prosody_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work/data"
sed -e "s|@PID_FILE@|$work/prosody.pid|" -e "s|@DATA_DIR@|$work/data|" -e "s|@LOG_FILE@|$work/prosody.log|" \
  interop/demo/prosody.cfg.lua >"$work/prosody.cfg.lua"
for user in alice bob; do
  prosodyctl --config "$work/prosody.cfg.lua" register "$user" localhost "$user"
done
prosody --config "$work/prosody.cfg.lua" -F >"$work/prosody.stdout" 2>&1 &
prosody_pid=$!
for _ in $(seq 100); do
  if ss -Hltn 'sport = :5222' | grep -q .; then
    break
  fi
  if ! kill -0 "$prosody_pid" 2>/dev/null; then
    break
  fi
  sleep 0.1
done
if ! ss -Hltn 'sport = :5222' | grep -q .; then
  echo "demo: Prosody did not start; log tail:" >&2
  tail -n 30 "$work/prosody.log" "$work/prosody.stdout" >&2 || true
  exit 1
fi
echo "demo: Prosody (pid $prosody_pid) on 127.0.0.1:5222, accounts alice/alice and bob/bob @localhost"

mkdir -p conf/www/vendor
cp interop/node_modules/strophe.js/dist/strophe.umd.min.js conf/www/vendor/strophe.umd.min.js

echo "demo: starting boshgate; open http://127.0.0.1:5280/ in two tabs (Ctrl-C stops everything)"
set +e
build/release/boshgate --config conf/boshgate.toml
rc=$?
set -e
exit "$rc"
