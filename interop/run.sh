#!/usr/bin/env bash
# Interop suite entry point. With BOSHGATE_BIN=/path/to/boshgate (the real
# target) every scenario goes through boshgate to private Prosody and ejabberd
# instances started on loopback. INTEROP_DIRECT=1 instead points the clients
# at the servers' own BOSH and WebSocket endpoints (development aid only).
# test/browser.test.js drives Converse.js in Debian's Chromium (see README.md).
# Exit code = the test result; node's test summary is printed at the end.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [[ $(id -u) -ne 0 ]]; then
  echo "interop: run as root (the private ejabberd runs as the ejabberd user)" >&2
  exit 2
fi
if [[ -n ${BOSHGATE_BIN:-} ]]; then
  BOSHGATE_BIN=$(realpath "$BOSHGATE_BIN")
  if [[ ! -x $BOSHGATE_BIN ]]; then
    echo "interop: BOSHGATE_BIN=$BOSHGATE_BIN is not an executable" >&2
    exit 2
  fi
  export BOSHGATE_BIN
  echo "interop: all scenarios go through $BOSHGATE_BIN"
elif [[ ${INTEROP_DIRECT:-} == 1 ]]; then
  echo "interop: INTEROP_DIRECT=1: clients use the servers' own BOSH (development mode, not the gateway)"
else
  echo "interop: set BOSHGATE_BIN=/path/to/boshgate (or INTEROP_DIRECT=1 for the servers' own BOSH)" >&2
  exit 2
fi
# (BOSHGATE_BIN is resolved above relative to the caller's directory.)
cd "$here"
# INTEROP_SERVERS=containers: Prosody and ejabberd run from their images (lib/containers.js),
# built beforehand by conf/container/build-images.sh; the clients, dnsmasq and the gateway
# stay on the host. INTEROP_FILES="test/a.test.js ..." runs only those files.
servers=${INTEROP_SERVERS:-host}
case $servers in
  host) server_tools=(prosody prosodyctl ejabberdctl) ;;
  containers)
    server_tools=(podman)
    for image in "${INTEROP_PROSODY_IMAGE:-localhost/boshgate-prosody}" "${INTEROP_EJABBERD_IMAGE:-localhost/boshgate-ejabberd}"; do
      if ! podman image exists "$image"; then
        echo "interop: INTEROP_SERVERS=containers: image $image not found; build it: bash conf/container/build-images.sh prosody ejabberd" >&2
        exit 2
      fi
    done
    echo "interop: INTEROP_SERVERS=containers: Prosody and ejabberd run in containers (podman, host network)"
    export INTEROP_SERVERS
    # Containers a killed earlier run left behind.
    trap 'podman ps -aq --filter label=boshgate-interop | xargs -r podman rm -f >/dev/null 2>&1 || true' EXIT
    ;;
  *) echo "interop: INTEROP_SERVERS=$servers: expected host or containers" >&2; exit 2 ;;
esac
for tool in node "${server_tools[@]}" dnsmasq openssl haproxy; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "interop: $tool not found: run tests/bootstrap.sh" >&2
    exit 2
  fi
done
if [[ ! -d node_modules/strophe.js || ! -d node_modules/@xmpp/client || ! -d node_modules/converse.js || ! -d node_modules/playwright-core || ! -d node_modules/stanza ]]; then
  npm ci --no-audit --no-fund
fi

# The files run as separate processes, each with its own server, dnsmasq and
# gateway; one at a time keeps the 2-core machine responsive. browser.test.js
# (Converse.js in headless Chromium over BOSH and WebSocket, against Prosody and
# against ejabberd, about 20 s) writes screenshots browser-<server>-<user>-<transport>.png
# to $INTEROP_ARTIFACTS (default <repo>/build/interop-artifacts).
# Hard cap for the whole suite: 540 s.
flags=(--test --test-reporter=spec)
if node --help | grep -q -- '--test-concurrency'; then
  flags+=(--test-concurrency=1) # Node >= 20.10; Node 18 has no such flag
fi
set +e
read -r -a files <<<"${INTEROP_FILES:-test/prosody.test.js test/ejabberd.test.js test/unix_socket.test.js test/proxy_protocol.test.js test/scaleout.test.js test/rolling_upgrade.test.js test/inplace_restart.test.js test/browser.test.js}"
timeout --kill-after=10 540 node "${flags[@]}" "${files[@]}" 2>&1
rc=$?
set -e
if [[ $rc -eq 124 ]]; then
  echo "interop: suite exceeded its 540 s budget" >&2
fi
exit "$rc"
