#!/usr/bin/env bash
# Every test: installs dependencies, builds, and runs the whole CTest suite (unit tests, root
# tests with namespaces and cgroups, and end-to-end tests against real peers: docker-registry,
# skopeo, umoci, containerd, runc). Run as root.
#   scripts/test.sh [CTEST ARGS...]          the optimized build in build/, every test
#   scripts/test.sh --sanitize [--unit] [CTEST ARGS]
#                                            a second tree, build-asan/, compiled with
#                                            AddressSanitizer and UBSan; the unit and root tests
#                                            (--unit: only the unit tests, what CI runs)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "scripts/test.sh: run as root (the runtime tests need namespaces and cgroups)" >&2; exit 1; }
scripts/deps.sh
# The rootless tests' user with a subordinate id range (tests/rootless), made once as an
# administrator makes one; the tests themselves then change nothing in /etc.
# usermod --add-subuids refuses to work without the files (no Debian package ships them).
[ -e /etc/subuid ] || touch /etc/subuid
[ -e /etc/subgid ] || touch /etc/subgid
if ! id -u berth-rl-test >/dev/null 2>&1; then
  useradd -M -d /nonexistent -s /usr/sbin/nologin berth-rl-test
fi
if ! grep -q '^berth-rl-test:' /etc/subuid 2>/dev/null || ! grep -q '^berth-rl-test:' /etc/subgid 2>/dev/null; then
  usermod --add-subuids 300000-365535 --add-subgids 300000-365535 berth-rl-test
fi
if [ "${1:-}" = --sanitize ]; then
  shift
  target=all labels='unit|root'
  if [ "${1:-}" = --unit ]; then shift; target=berth_unit_tests labels=unit; fi
  # -O1 -g1: the sanitizers' usual level; compiles about twice as fast as -O2 -g and still
  # gives file:line in every report.
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBERTH_BUILD_TESTS=ON \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO='-O1 -g1' -DCMAKE_C_FLAGS_RELWITHDEBINFO='-O1 -g1' \
    -DBERTH_SANITIZE=ON $(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache) >/dev/null
  cmake --build build-asan -j"$(nproc)" --target "$target"
  # Every UB report is fatal (-fno-sanitize-recover); leaks are reported at exit.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  exec ctest --test-dir build-asan --output-on-failure -j2 --timeout 600 -L "$labels" "$@"
fi
scripts/build.sh
ctest --test-dir build --output-on-failure -j2 --timeout 300 "$@"
