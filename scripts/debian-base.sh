#!/usr/bin/env bash
# The project's Debian base: a bookworm root file system made by mmdebstrap (variant minbase:
# Essential packages plus apt, so Dockerfiles can `RUN apt-get install`), as a tarball for
# `berth import`. Made once per machine and cached; prints the tarball's path.
#
#   tar=$(scripts/debian-base.sh)            # root; scripts/deps.sh installs mmdebstrap
#   berth import -c 'CMD ["bash"]' "$tar" localhost/berth/debian:bookworm
#
# The main job (scripts/jupyter.sh) and examples/ssh build on it with `berth build`. Cached as
# $BERTH_IMAGE_CACHE/debian-bookworm-<hash>.tar (default /var/cache/berth), the hash covering
# this script and the mirrors; BERTH_DEBIAN_MIRROR / BERTH_DEBIAN_SECURITY pick other mirrors
# (written into the image's sources.list too). Like Debian's docker images it keeps no
# documentation, translations or package lists; unlike them it keeps downloaded .debs when a
# build asks apt to (no docker-clean hook), so `RUN --mount=type=cache,target=/var/cache/apt`
# saves the downloads between builds.
set -euo pipefail
export LC_ALL=C.UTF-8

[ "$(id -u)" = 0 ] || { echo "scripts/debian-base.sh: run as root" >&2; exit 1; }
command -v mmdebstrap >/dev/null ||
  { echo "scripts/debian-base.sh: mmdebstrap is missing (scripts/deps.sh installs it)" >&2; exit 1; }

suite=bookworm
mirror=${BERTH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${BERTH_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
cache=${BERTH_IMAGE_CACHE:-/var/cache/berth}
key=$( (cat "$0"; echo "$mirror $security") | sha256sum | cut -c1-16)
out=$cache/debian-$suite-$key.tar

mkdir -p "$cache"
if [ -f "$out" ]; then echo "$out"; exit 0; fi
# One maker at a time; whoever waited finds the tarball made.
exec 9>"$cache/debian-$suite.lock"
flock 9
if [ -f "$out" ]; then echo "$out"; exit 0; fi

start=$(date +%s)
tmp=$(mktemp "$cache/debian-$suite.XXXXXX.tar")
trap 'rm -f "$tmp"' EXIT
echo "scripts/debian-base.sh: making the Debian $suite base (mmdebstrap, once per machine)" >&2
# The path excludes stay in the image (/etc/dpkg/dpkg.cfg.d/99mmdebstrap), so packages a
# Dockerfile installs leave their documentation out too, as in Debian's slim images.
# mmdebstrap's clean-up of package lists (an `apt-get update` with no sources) can empty the
# host's lists in some modes: skipped, the hook empties the image's instead.
mmdebstrap --quiet --mode=root --variant=minbase --format=tar \
  --aptopt='APT::Install-Recommends "false"' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --skip=cleanup/apt/lists \
  --customize-hook='rm -rf "$1"/var/cache/apt/*.bin "$1"/var/lib/apt/lists/* "$1"/tmp/*' \
  "$suite" "$tmp" \
  "deb $mirror $suite main" "deb $mirror $suite-updates main" \
  "deb $security $suite-security main" >&2
chmod 0644 "$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "scripts/debian-base.sh: made $out ($(du -m "$out" | cut -f1) MiB) in $(($(date +%s) - start)) s" >&2
echo "$out"
