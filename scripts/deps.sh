#!/usr/bin/env bash
# Installs what berth needs to build, test and run on Debian/Ubuntu (run as root). Idempotent.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  # libraries berth links
  libcurl4-openssl-dev libssl-dev libarchive-dev libzstd-dev libisal-dev zlib1g-dev
  libseccomp-dev libcap-dev nlohmann-json3-dev libcli11-dev libfmt-dev libexpected-dev
  libgtest-dev libgmock-dev libbenchmark-dev libnftables-dev libmnl-dev libyaml-cpp-dev
  # peers the tests and benchmarks run against (slirp4netns: podman 4.3 rootless's network)
  runc containerd skopeo umoci docker-registry apache2-utils busybox-static mmdebstrap
  podman buildah slirp4netns
  # rootless containers: pasta (user-mode network), newuidmap/newgidmap (subordinate ids)
  passt uidmap
  # a user's rootfs where the kernel cannot mount overlayfs in its namespace (before 5.11)
  fuse-overlayfs
  # tools the tests use
  iproute2 iptables nftables procps psmisc curl openssl python3 hyperfine time
  # examples/ssh's test logs in with the client; the main job's browser test drives chromium
  openssh-client chromium chromium-driver python3-selenium
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
