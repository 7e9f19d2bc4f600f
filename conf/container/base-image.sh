#!/usr/bin/env bash
# Builds a minimal Debian 12 base image from Debian's own packages, with no image registry:
# mmdebstrap makes a minbase root file system (apt, dpkg, bash, coreutils; ~10-40 s), and
# `podman import` turns it into an image. Its apt sources are Debian's (bookworm,
# bookworm-updates, bookworm-security), so later `apt-get install` steps in the
# Containerfiles work as on any Debian 12 machine.
#   bash conf/container/base-image.sh [IMAGE]      # default localhost/boshgate-debian:12; as root
# Any Debian 12 base (e.g. docker.io/library/debian:12) serves the Containerfiles as well:
# pass it as --build-arg BASE=... .
set -euo pipefail
image=${1:-localhost/boshgate-debian:12}
for tool in mmdebstrap podman; do
  command -v "$tool" >/dev/null || { echo "base-image: $tool not found (apt-get install mmdebstrap podman)" >&2; exit 2; }
done
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
work=$(mktemp -d /tmp/boshgate-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
# ca-certificates: so that an upstream XMPP server's certificate verifies against the
# system store (tls_verify defaults to on). Docs, man pages and locales are left out.
timeout --kill-after=30 900 mmdebstrap --quiet --variant=minbase --include=ca-certificates \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --aptopt='APT::Install-Recommends "false"' \
  bookworm "$work/rootfs.tar" \
  "deb $mirror bookworm main" "deb $mirror bookworm-updates main" "deb $security bookworm-security main"
podman import --quiet --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' \
  "$work/rootfs.tar" "$image" >/dev/null
echo "base-image: $image ($(podman image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
