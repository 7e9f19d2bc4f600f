#!/usr/bin/env bash
# Builds the container images from Debian's packages only (no image registry is used):
#   localhost/boshgate-debian:12   the base (base-image.sh: mmdebstrap + podman import), if missing
#   localhost/boshgate             the gateway (Containerfile; its build stage as localhost/boshgate-build)
#   localhost/boshgate-prosody     Prosody, for conf/compose/ and the interop suite's container mode
#   localhost/boshgate-ejabberd    ejabberd, for the interop suite's container mode
#
#   bash conf/container/build-images.sh [--extract DIR] [boshgate|prosody|ejabberd ...]   # as root
# No names = all three. --extract DIR copies the build stage's boshgate binary and
# boshgate.deb into DIR (tests/run_all.sh uses them as its release build). Later runs reuse
# podman's layer cache. Needs podman, runc and mmdebstrap (tests/bootstrap.sh installs them).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
base=${BOSHGATE_BASE_IMAGE:-localhost/boshgate-debian:12}
extract=""
names=()
while (( $# > 0 )); do
  case $1 in
    --extract) extract=$(realpath -m "${2:?--extract needs a directory}"); shift 2 ;;
    boshgate|prosody|ejabberd) names+=("$1"); shift ;;
    *) echo "build-images: unknown argument $1" >&2; exit 2 ;;
  esac
done
(( ${#names[@]} > 0 )) || names=(boshgate prosody ejabberd)

# This machine's podman: runc (crun refuses hybrid cgroup hosts), cgroupfs (no systemd),
# the host network for apt, and ulimits within this shell's hard limits (podman's default
# nofile is higher than many hosts allow); nproc also within kernel.pid_max, above which
# runc's setrlimit is refused here.
nofile=$(ulimit -Hn); nproc=$(ulimit -Hu); pid_max=$(cat /proc/sys/kernel/pid_max)
[[ $nofile == unlimited ]] && nofile=1048576
[[ $nproc == unlimited || $nproc -gt $pid_max ]] && nproc=$pid_max
pm=(podman --runtime runc --cgroup-manager cgroupfs)
# Every build is bounded (a stalled mirror must not hang the test command): 30 min.
build=(timeout --kill-after=30 1800 "${pm[@]}" build --format docker --network host --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc"
       --build-arg "BASE=$base")
# A TLS-inspecting proxy that this host trusts (its CA in the system store) is trusted for the
# build stage's one HTTPS download as well (the demo page's strophe.js from the npm registry).
if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
  build+=(-v /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro --build-arg CA_BUNDLE=/run/host-ca.crt)
fi

image_of() { if [[ $1 == boshgate ]]; then echo localhost/boshgate; else echo "localhost/boshgate-$1"; fi; }

if ! "${pm[@]}" image exists "$base"; then
  bash "$here/base-image.sh" "$base"
fi
for name in "${names[@]}"; do
  start=$SECONDS
  case $name in
    boshgate)
      "${build[@]}" -f "$here/Containerfile" -t localhost/boshgate "$root" >/tmp/boshgate-image-build.log 2>&1 \
        || { tail -n 60 /tmp/boshgate-image-build.log >&2; echo "build-images: boshgate image failed (log: /tmp/boshgate-image-build.log)" >&2; exit 1; }
      # The build stage, tagged (cached layers: instant), for --extract and for inspection.
      "${build[@]}" --target build -f "$here/Containerfile" -t localhost/boshgate-build "$root" >/dev/null 2>&1
      if [[ -n $extract ]]; then
        mkdir -p "$extract"
        cid=$("${pm[@]}" create localhost/boshgate-build)
        "${pm[@]}" cp "$cid:/out/boshgate" "$extract/boshgate"
        "${pm[@]}" cp "$cid:/out/boshgate.deb" "$extract/boshgate.deb"
        "${pm[@]}" rm "$cid" >/dev/null
      fi
      ;;
    prosody|ejabberd)
      "${build[@]}" -f "$here/$name.Containerfile" -t "localhost/boshgate-$name" "$here" >"/tmp/boshgate-$name-image-build.log" 2>&1 \
        || { tail -n 40 "/tmp/boshgate-$name-image-build.log" >&2; echo "build-images: $name image failed" >&2; exit 1; }
      ;;
  esac
  size=$("${pm[@]}" image inspect --format '{{.Size}}' "$(image_of "$name")" 2>/dev/null || echo 0)
  echo "build-images: $(image_of "$name") in $(( SECONDS - start )) s, $(( size / 1000000 )) MB"
done
