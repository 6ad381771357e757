#!/usr/bin/env bash
# Configures and builds berth: build/berth and the build/berth-runc symlink.
#   BUILD_DIR (default build), BUILD_TYPE (default RelWithDebInfo), TESTS=ON|OFF (default ON)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BUILD_DIR:-build}
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DBERTH_BUILD_TESTS="${TESTS:-ON}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
