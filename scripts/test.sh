#!/usr/bin/env bash
# Every test: installs dependencies, builds, and runs the whole CTest suite (unit tests, root
# tests with namespaces and cgroups, and end-to-end tests against real peers: docker-registry,
# skopeo, umoci, containerd, runc). Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "scripts/test.sh: run as root (the runtime tests need namespaces and cgroups)" >&2; exit 1; }
scripts/deps.sh
scripts/build.sh
ctest --test-dir build --output-on-failure -j2 --timeout 300 "$@"
