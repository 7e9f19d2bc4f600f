#!/usr/bin/env bash
# The Debian package, end to end (issue 10 part 6): build it with cpack from a release build
# directory, check its metadata and contents, install it with dpkg on this machine, run the
# installed binary the way its systemd unit does (ExecStartPre and ExecStart, as the
# package's `boshgate` system user, with a NOTIFY_SOCKET to see READY=1), talk to it, stop
# it with SIGTERM, then remove (conffile kept) and purge (conffile gone).
#   bash tests/deb_test.sh build/release      # as root; about 20 s
#   bash tests/deb_test.sh path/to/boshgate.deb   # a package made elsewhere (tests/run_all.sh: the
#                                                 # one the container image's build stage made)
set -euo pipefail
arg=$(realpath "${1:?usage: deb_test.sh BUILD_DIR (a configured release build) | PACKAGE.deb}")
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d /tmp/boshgate-deb.XXXXXX)
pid=""
fail() {
  echo "deb_test: FAIL: $*" >&2
  [[ -f $work/gateway.log ]] && { echo "--- gateway log ---" >&2; tail -n 40 "$work/gateway.log" >&2; }
  exit 1
}
cleanup() {
  [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null || true
  [[ -n ${notify_pid:-} ]] && kill "$notify_pid" 2>/dev/null || true
  if dpkg-query -W -f='${Status}' boshgate 2>/dev/null | grep -q 'installed'; then
    dpkg --purge boshgate >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
[[ $(id -u) -eq 0 ]] || { echo "deb_test: run as root (dpkg -i)" >&2; exit 2; }
for tool in dpkg dpkg-deb python3 curl; do
  command -v "$tool" >/dev/null || fail "$tool not found (tests/bootstrap.sh installs it)"
done

version=$(sed -n 's/^project(boshgate VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
if [[ -f $arg ]]; then
  deb=$arg
  echo "== deb: the package $deb"
else
  build=$arg
  for tool in cpack dpkg-shlibdeps; do
    command -v "$tool" >/dev/null || fail "$tool not found (tests/bootstrap.sh installs it)"
  done
  echo "== deb: build the package (cpack -G DEB in $build)"
  cmake --build "$build" --target boshgate >/dev/null
  (cd "$build" && cpack -G DEB -B "$work/out" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log" >&2; fail "cpack failed"; }
  deb="$work/out/boshgate_${version}_amd64.deb"
  [[ -f $deb ]] || fail "expected $deb; cpack made: $(ls "$work/out")"
  cp "$deb" "$build/" # kept next to the build as an artifact
fi

echo "== deb: metadata and contents"
info=$(dpkg-deb --info "$deb")
for want in "Package: boshgate" "Version: $version" "Architecture: amd64" "Section: net"; do
  grep -q "^ $want\$" <<<"$info" || fail "control lacks '$want':"$'\n'"$info"
done
depends=$(dpkg-deb --field "$deb" Depends)
for lib in libc6 libssl3 libc-ares2 libexpat1 libspdlog1.10 libfmt9 adduser; do
  grep -q "$lib" <<<"$depends" || fail "Depends lacks $lib (dpkg-shlibdeps): $depends"
done
contents=$(dpkg-deb --contents "$deb")
for path in ./usr/sbin/boshgate ./etc/boshgate/boshgate.toml ./lib/systemd/system/boshgate.service \
            ./lib/systemd/system/boshgate@.service \
            ./usr/share/boshgate/www/index.html ./usr/share/man/man8/boshgate.8 ./usr/share/doc/boshgate/README.md; do
  grep -q " $path\$" <<<"$contents" || fail "the package lacks $path"
done
control_files=$(dpkg-deb --ctrl-tarfile "$deb" | tar -tf -)
grep -qx './conffiles' <<<"$control_files" || fail "no conffiles in the control archive: $control_files"

echo "== deb: install"
if dpkg-query -W -f='${Status}' boshgate 2>/dev/null | grep -q installed; then
  dpkg --purge boshgate >/dev/null
fi
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -i failed"; }
[[ $(dpkg-query -W -f='${Status}' boshgate) == "install ok installed" ]] || fail "not installed"
getent passwd boshgate >/dev/null || fail "no boshgate system user"
[[ $(getent passwd boshgate | cut -d: -f3) -lt 1000 ]] || fail "boshgate is not a system user"
[[ $(dpkg-query -W -f='${Conffiles}' boshgate) == *"/etc/boshgate/boshgate.toml"* ]] || fail "boshgate.toml is not a conffile"
[[ $(stat -c '%U:%G %a' /etc/boshgate/boshgate.toml) == "root:boshgate 640" ]] || fail "config permissions: $(stat -c '%U:%G %a' /etc/boshgate/boshgate.toml)"
version_text=$(/usr/sbin/boshgate --version)
grep -q "^boshgate $version " <<<"$version_text" || fail "--version: $version_text"

unit=/lib/systemd/system/boshgate.service
for want in "Type=notify" "LimitNOFILE=" "User=boshgate" "DynamicUser=no" "NoNewPrivileges=yes" "ProtectSystem=strict"; do
  grep -q "^$want" "$unit" || fail "unit lacks $want"
done
if command -v systemd-analyze >/dev/null; then
  # Offline check of the unit's syntax (systemd need not be running).
  systemd-analyze verify "$unit" >"$work/verify.log" 2>&1 || true
  if grep -Ei "unknown (key|section)|failed to parse|invalid" "$work/verify.log"; then
    fail "systemd-analyze verify: $(cat "$work/verify.log")"
  fi
fi

# The template (several instances) differs from the unit only where an instance must:
# its config file, Restart=on-failure (a drained instance stays down), names and comments.
template=/lib/systemd/system/boshgate@.service
settings() { grep -v -e '^#' -e '^$' -e '^Description=' -e '^Documentation=' -e '^ExecStart' -e '^Restart=' "$1"; }
diff <(settings "$unit") <(settings "$template") >"$work/template.diff" || fail "boshgate@.service drifted from boshgate.service: $(cat "$work/template.diff")"
grep -qx 'ExecStart=/usr/sbin/boshgate --config /etc/boshgate/%i.toml' "$template" || fail "template ExecStart: $(grep ExecStart= "$template")"
grep -qx 'Restart=on-failure' "$template" || fail "template: a drained instance must stay down (Restart=on-failure)"
if command -v systemd-analyze >/dev/null; then
  cp "$template" "$work/boshgate@gw1.service"
  systemd-analyze verify "$work/boshgate@gw1.service" >"$work/verify-template.log" 2>&1 || true
  if grep -Ei "unknown (key|section)|failed to parse|invalid" "$work/verify-template.log"; then
    fail "systemd-analyze verify (template): $(cat "$work/verify-template.log")"
  fi
fi

echo "== deb: run as the unit does (ExecStartPre, ExecStart as user boshgate, Type=notify)"
pre=$(sed -n 's/^ExecStartPre=//p' "$unit")
start=$(sed -n 's/^ExecStart=//p' "$unit")
[[ $pre == "/usr/sbin/boshgate --config /etc/boshgate/boshgate.toml --check-config" ]] || fail "ExecStartPre: $pre"
setpriv --reuid=boshgate --regid=boshgate --init-groups -- $pre >"$work/check.log" 2>&1 || { cat "$work/check.log" >&2; fail "ExecStartPre failed"; }
# A notify socket like systemd's: record what the service says.
sock="$work/notify.sock"
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
import os; os.chmod(sys.argv[1], 0o777)
with open(sys.argv[2], "a") as out:
    while True:
        out.write(s.recv(4096).decode() + "\n"); out.flush()
' "$sock" "$work/notify.log" &
notify_pid=$!
for _ in $(seq 50); do [[ -S $sock ]] && break; sleep 0.1; done
chmod 0755 "$work"
# The packaged config's listener (127.0.0.1:5280) is replaced by a free port: tests run in
# parallel. Everything else is the installed file.
NOTIFY_SOCKET=$sock setpriv --reuid=boshgate --regid=boshgate --init-groups -- $start --listen 127.0.0.1:0 >"$work/gateway.log" 2>&1 &
pid=$!
port=""
for _ in $(seq 100); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/gateway.log" | head -n 1)
  [[ -n $port ]] && grep -q READY=1 "$work/notify.log" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || fail "the installed gateway exited"
  sleep 0.1
done
[[ -n $port ]] || fail "no listener"
grep -q '^READY=1$' "$work/notify.log" || fail "no READY=1 on NOTIFY_SOCKET (Type=notify would time out)"
admin=$(sed -n 's/.*admin listener on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/gateway.log" | head -n 1)
[[ $admin == 9280 ]] || fail "admin listener not on the packaged 127.0.0.1:9280: '$admin'"
[[ $(ps -o user= -p "$pid" | tr -d ' ') == boshgate ]] || fail "not running as boshgate"
# Whole answers first, then grep (no early-closing pipes under pipefail).
get() { curl -fsS --max-time 10 "http://127.0.0.1:$1" || fail "GET $1"; }
grep -qx 'ok' <<<"$(get "$port/healthz")" || fail "/healthz"
grep -qi '<html' <<<"$(get "$port/")" || fail "the demo page from /usr/share/boshgate/www"
grep -q 'BOSH' <<<"$(get "$port/http-bind")" || fail "GET /http-bind"
grep -qx 'ready' <<<"$(get "$admin/readyz")" || fail "/readyz"
grep -q '^boshgate_http_requests_total ' <<<"$(get "$admin/metrics")" || fail "/metrics"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=""
[[ $rc -eq 0 ]] || fail "exit status $rc after SIGTERM"
grep -q '^STOPPING=1$' "$work/notify.log" || fail "no STOPPING=1"

echo "== deb: remove keeps the edited conffile, purge removes it"
echo "# edited by the operator" >>/etc/boshgate/boshgate.toml
dpkg --remove boshgate >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg --remove"; }
[[ ! -e /usr/sbin/boshgate ]] || fail "binary left after remove"
grep -q "edited by the operator" /etc/boshgate/boshgate.toml || fail "remove lost the edited conffile"
dpkg --purge boshgate >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg --purge"; }
[[ ! -e /etc/boshgate/boshgate.toml ]] || fail "purge left the conffile"
echo "deb_test: ok ($(basename "$deb"): installed, ran as boshgate with READY=1, stopped cleanly, removed, purged)"
