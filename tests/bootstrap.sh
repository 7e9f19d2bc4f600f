#!/usr/bin/env bash
# Idempotent installer for a fresh Debian 12 machine (run as root): build
# dependencies, interop test dependencies, then `npm ci` in interop/.
# Fast path: does nothing with apt when every package is already installed.
# Package service scripts are kept from starting system Prosody/ejabberd, and
# any instance the packages started anyway is stopped, so nothing occupies
# 5222/5280/5443 (the interop suite uses private instances on free ports).
#   bash tests/bootstrap.sh                 # the build, the tests and the demo
#   bash tests/bootstrap.sh --containers    # also the container tools (tests/run_all.sh)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
containers=0
for arg in "$@"; do
  case $arg in
    --containers) containers=1 ;;
    *) echo "bootstrap: unknown argument $arg (--containers)" >&2; exit 2 ;;
  esac
done

if [[ $(id -u) -ne 0 ]]; then
  echo "bootstrap: run as root" >&2
  exit 1
fi

build_deps=(build-essential cmake ninja-build pkg-config libboost1.81-dev libboost-program-options1.81-dev
  libexpat1-dev libssl-dev libc-ares-dev libgtest-dev libgmock-dev libtoml11-dev libspdlog-dev libfmt-dev)
test_deps=(prosody ejabberd dnsmasq-base openssl procps iproute2 ca-certificates)
# The browser interop test (interop/test/browser.test.js): Debian's Chromium, driven
# by playwright-core, plus a font so its screenshots are readable.
test_deps+=(chromium fonts-dejavu-core)
# The fuzz targets (tests/fuzz): Debian's clang 16 with libFuzzer and the sanitizer runtimes.
test_deps+=(clang-16 libclang-rt-16-dev libfuzzer-16-dev)
# The fault suite (interop/fault): a silently cut server link is made inside a network
# namespace (iproute2) with an nftables drop rule.
test_deps+=(nftables)
# The benchmark's plots (bench/plot.js): gnuplot without X11, with the pngcairo and svg terminals.
test_deps+=(gnuplot-nox)
# The Debian package test (tests/deb_test.sh): a NOTIFY_SOCKET listener and HTTP probes.
test_deps+=(python3 curl)
# Scale-out (interop/test/scaleout.test.js): several instances behind Debian's HAProxy 2.6.
test_deps+=(haproxy)

# Containers (conf/container, conf/compose, INTEROP_SERVERS=containers): podman with runc
# (Debian's podman prefers crun, which refuses hybrid cgroup hosts), mmdebstrap for base
# images made from Debian's packages, podman-compose, and the CNI dnsname plugin so that
# compose services find each other by name.
if (( containers )); then
  test_deps+=(podman runc mmdebstrap podman-compose golang-github-containernetworking-plugin-dnsname)
fi

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# Minimum versions the build needs: an installed package older than this is upgraded
# (apt-get install upgrades a named package). libexpat1-dev 2.5.0-1+deb12u1, still found
# on Debian 12 machines, predates the CVE-2023-52425 fix and its reparse-deferral API.
declare -A min_version=([libexpat1-dev]=2.5.0-1+deb12u2)

installed_version() {
  dpkg-query -W -f='${Version}' "$1" 2>/dev/null
}

missing=()
for p in "${build_deps[@]}" "${test_deps[@]}"; do
  if ! installed "$p"; then
    missing+=("$p")
  elif [[ -n ${min_version[$p]:-} ]] && dpkg --compare-versions "$(installed_version "$p")" lt "${min_version[$p]}"; then
    echo "bootstrap: $p $(installed_version "$p") is older than ${min_version[$p]}: upgrading"
    missing+=("$p")
  fi
done
# Node: Debian's nodejs (18) or a newer one already present; npm may come with it.
node_major=0
if command -v node >/dev/null 2>&1; then
  node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
fi
if (( node_major < 18 )); then
  missing+=(nodejs)
fi
if ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi

if (( ${#missing[@]} > 0 )); then
  echo "bootstrap: installing ${missing[*]}"
  # Keep package scripts from starting services (no systemd on CI; invoke-rc.d honours this).
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    made_policy=1
  fi
  trap 'if [[ $made_policy == 1 ]]; then rm -f "$policy"; fi' EXIT
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "bootstrap: all Debian packages present"
fi

# Stop system instances if a package (or an earlier boot) started them.
if [[ -f /run/prosody/prosody.pid ]] && kill -0 "$(cat /run/prosody/prosody.pid)" 2>/dev/null; then
  echo "bootstrap: stopping the system Prosody"
  kill "$(cat /run/prosody/prosody.pid)" || true
fi
if [[ -f /run/ejabberd/ejabberd.pid ]] && kill -0 "$(cat /run/ejabberd/ejabberd.pid)" 2>/dev/null; then
  echo "bootstrap: stopping the system ejabberd"
  ejabberdctl stop >/dev/null 2>&1 || kill "$(cat /run/ejabberd/ejabberd.pid)" || true
fi
for port in 5222 5280 5443; do
  if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
    echo "bootstrap: warning: something still listens on port $port:" >&2
    ss -Hltnp "sport = :$port" >&2 || true
  fi
done

# Node packages for the interop clients (strophe.js, converse.js, playwright-core and
# friends), pinned by package-lock.json. playwright-core downloads no browser.
stamp="$root/interop/node_modules/.bootstrap-lock.json"
if [[ -f $stamp ]] && cmp -s "$stamp" "$root/interop/package-lock.json"; then
  echo "bootstrap: interop/node_modules up to date"
else
  (cd "$root/interop" && npm ci --no-audit --no-fund)
  cp "$root/interop/package-lock.json" "$stamp"
fi
echo "bootstrap: done"
