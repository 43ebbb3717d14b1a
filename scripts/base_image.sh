#!/usr/bin/env bash
# The local stand-in for python:3.11-slim-bookworm on machines that cannot pull images, as the root that
# coderig/base (images/base/Dockerfile) is built on: Debian bookworm (minbase) with its Python 3.11 and pip,
# built from Debian packages with debootstrap and imported into the engine as
# localhost/coderig-debian:<suite>-<hash of this file>. A second call finds that tag and does nothing, so the
# image is rebuilt only when this recipe changes. Needs root (debootstrap) and prints the tag on stdout.
# Usage: scripts/base_image.sh docker|podman [engine options...]
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINE=("$@")
[ ${#ENGINE[@]} -gt 0 ] || { echo "usage: scripts/base_image.sh ENGINE [OPTIONS...]" >&2; exit 2; }
SUITE=bookworm
PACKAGES=python3,python3-pip,python3-venv,ca-certificates,passwd
TAG="localhost/coderig-debian:$SUITE-$(sha256sum "$0" | cut -c1-12)"

if "${ENGINE[@]}" image inspect "$TAG" >/dev/null 2>&1; then
  echo "root image: $TAG (cached)" >&2
  echo "$TAG"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "building the base image needs root (debootstrap); run as root, or pull python:3.11-slim-bookworm" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install debootstrap" >&2; exit 1; }
# The Debian mirror apt already uses here (deb822 or one-line sources), else the public one.
MIRROR=$(grep -hoE '(URIs:|^deb) +https?://[^ ]+' /etc/apt/sources.list.d/* /etc/apt/sources.list 2>/dev/null \
  | grep -v security | head -1 | awk '{print $2}' || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
ROOTFS=$(mktemp -d /var/tmp/coderig-debian.XXXXXX)
# --one-file-system: never follow debootstrap's /proc or /sys mounts if it stopped half-way.
trap 'umount -R "$ROOTFS/proc" "$ROOTFS/sys" 2>/dev/null || true; rm -rf --one-file-system "$ROOTFS"' EXIT
echo "root image: debootstrap $SUITE from $MIRROR (about 1.5 minutes)" >&2
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" >/dev/null
echo "deb $MIRROR $SUITE main" >"$ROOTFS/etc/apt/sources.list"
# As small as the slim image: no package lists, caches or docs.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb \
  "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/*
tar -C "$ROOTFS" --one-file-system -c . | "${ENGINE[@]}" import -q --change 'CMD ["/usr/bin/python3"]' - "$TAG" >/dev/null
echo "root image: built $TAG" >&2
echo "$TAG"
