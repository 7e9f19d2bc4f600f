#!/usr/bin/env bash
# Containers (issue 12), end to end, with podman (runc, cgroupfs) on this machine:
#  1. the boshgate image (conf/container/Containerfile, built by build-images.sh): runs as
#     uid 5280, not root; carries the HEALTHCHECK; holds no compiler; its default config is valid;
#  2. conf/compose/ with podman-compose: boshgate + Prosody containers come up; the
#     HEALTHCHECK passes; the container's open-file limit reaches boshgate; alice (BOSH) and bob
#     (WebSocket) log in through the published port and chat (interop/test/compose.test.js);
#     `stop` (SIGTERM) drains and boshgate exits 0; `down` removes everything.
# Needs the images (bash conf/container/build-images.sh) and tests/bootstrap.sh's packages.
#   bash tests/container_test.sh          # as root; about 30 s
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d /tmp/boshgate-containers.XXXXXX)
compose_file="$root/conf/compose/compose.yaml"
project="bgtest$$"
pm=(podman --runtime runc --cgroup-manager cgroupfs)
# podman-compose passes these global flags on to every podman call it makes.
# Each compose command is bounded: 5 min.
pc=(timeout --kill-after=10 300 podman-compose --podman-args "--runtime runc --cgroup-manager cgroupfs" -p "$project" -f "$compose_file")
fail() {
  echo "container_test: FAIL: $*" >&2
  "${pc[@]}" logs >&2 2>/dev/null | tail -n 60 >&2 || true
  exit 1
}
cleanup() {
  "${pc[@]}" down -v >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
[[ $(id -u) -eq 0 ]] || { echo "container_test: run as root" >&2; exit 2; }
for tool in podman podman-compose curl node; do
  command -v "$tool" >/dev/null || fail "$tool not found (tests/bootstrap.sh installs it)"
done
for image in localhost/boshgate localhost/boshgate-prosody; do
  "${pm[@]}" image exists "$image" || fail "image $image missing: bash conf/container/build-images.sh"
done

echo "== containers: the boshgate image"
user=$("${pm[@]}" image inspect --format '{{.Config.User}}' localhost/boshgate)
[[ $user == boshgate ]] || fail "image user is '$user', expected boshgate"
health=$("${pm[@]}" image inspect --format '{{json .Config.Healthcheck}}' localhost/boshgate)
grep -q '/usr/share/boshgate/healthcheck' <<<"$health" || fail "no HEALTHCHECK in the image: $health"
nofile=$(ulimit -Hn); nproc=4096
run=("${pm[@]}" run --rm --no-healthcheck --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc" --network none)
ids=$("${run[@]}" --entrypoint id localhost/boshgate)
[[ $ids == "uid=5280(boshgate) gid=5280(boshgate) groups=5280(boshgate)" ]] || fail "runs as: $ids"
# (Output captured first: `| grep -q` under pipefail fails when grep stops reading early.)
check=$("${run[@]}" localhost/boshgate --config /etc/boshgate/boshgate.toml --check-config 2>&1) || true
grep -q "config OK" <<<"$check" || fail "the image's default config does not validate: $check"
if "${run[@]}" --entrypoint sh localhost/boshgate -c 'command -v g++ || command -v cmake || ls /usr/include/boost' >/dev/null 2>&1; then
  fail "the runtime image holds build tools or headers"
fi
size=$("${pm[@]}" image inspect --format '{{.Size}}' localhost/boshgate)
echo "   image localhost/boshgate: $(( size / 1000000 )) MB, user boshgate (5280), HEALTHCHECK $health"

echo "== containers: conf/compose/ (podman-compose up)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export BOSHGATE_PORT=$port BOSHGATE_NOFILE=$nofile BOSHGATE_NPROC=$nproc
"${pc[@]}" up -d >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; fail "podman-compose up failed"; }
gw="${project}_boshgate_1"
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fs "http://127.0.0.1:$port/healthz" >/dev/null || fail "boshgate did not answer on the published port $port"
"${pm[@]}" healthcheck run "$gw" >/dev/null 2>&1 || fail "the HEALTHCHECK of $gw failed"
gw_log=$("${pm[@]}" logs "$gw" 2>&1 | grep -v 'level=' || true)
grep -q "open-file limit $nofile" <<<"$gw_log" || fail "boshgate did not see the container's open-file limit $nofile:"$'\n'"$gw_log"

echo "== containers: log in through the compose project (interop/test/compose.test.js)"
(cd "$root/interop" && COMPOSE_URL="http://127.0.0.1:$port" node --test --test-reporter=spec test/compose.test.js) \
  || fail "logins through the compose project failed"

echo "== containers: stop (SIGTERM drains, exit 0)"
"${pc[@]}" stop >/dev/null 2>&1 || fail "podman-compose stop failed"
code=$("${pm[@]}" inspect --format '{{.State.ExitCode}}' "$gw")
[[ $code == 0 ]] || fail "boshgate exited $code on SIGTERM"
gw_log=$("${pm[@]}" logs "$gw" 2>&1 | grep -v 'level=' || true)
grep -q "graceful shutdown" <<<"$gw_log" || fail "no graceful shutdown in the gateway's log:"$'\n'"$gw_log"
"${pc[@]}" down -v >/dev/null 2>&1 || fail "podman-compose down failed"
left=$("${pm[@]}" ps -aq --filter "label=io.podman.compose.project=$project")
[[ -z $left ]] || fail "containers left after down: $left"
echo "== containers: passed"
