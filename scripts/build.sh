#!/usr/bin/env bash
# Configures and builds berth in build/ (one tree for scripts/jupyter.sh and scripts/test.sh):
# build/berth, its helpers and the build/berth-runc symlink, plus the tests and benchmarks.
#   scripts/build.sh [TARGET...]   only those targets (scripts/jupyter.sh builds just `berth`)
#   BUILD_DIR (default build), BUILD_TYPE (default RelWithDebInfo)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BUILD_DIR:-build}
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# Configured once; later runs only build (ninja re-runs cmake itself when a CMakeLists changes).
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
    -DBERTH_BUILD_TESTS=ON "${launcher[@]}" >/dev/null
fi
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$dir" -j"$(nproc)" "${targets[@]}"
