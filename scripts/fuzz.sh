#!/usr/bin/env bash
# Runs every libFuzzer target (fuzz/) for SECONDS each (default 600), one after another, or
# BERTH_FUZZ_JOBS at a time. A tree of its own, build-fuzz/, built by clang with ASan and UBSan.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# Each target starts from its seeds (fuzz/corpus/<target>/) plus what earlier runs found
# (build-fuzz/corpus/<target>/, kept between runs) and the regression inputs
# (tests/fuzz_regressions/<target>/). A crash is written to build-fuzz/crashes/<target>/; copy it
# into tests/fuzz_regressions/<target>/ once fixed, so CTest replays it in every build.
# Prints, per target: executions, executions per second, coverage (edges) and features.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_tar_apply fuzz_reference fuzz_www_authenticate fuzz_image_spec fuzz_runtime_spec fuzz_gpu_files fuzz_dockerfile)
command -v clang++ >/dev/null || { echo "scripts/fuzz.sh: clang++ is missing (apt-get install clang)" >&2; exit 1; }
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBERTH_BUILD_TESTS=OFF \
  -DBERTH_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO='-O1 -g1' -DCMAKE_C_FLAGS_RELWITHDEBINFO='-O1 -g1' \
  $(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache) >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}"

run_one() {
  local t=$1 work=build-fuzz/corpus/$1 crashes=build-fuzz/crashes/$1 log=build-fuzz/$1.log
  mkdir -p "$work" "$crashes"
  local dirs=("$work" "fuzz/corpus/$t")
  [ -d "tests/fuzz_regressions/$t" ] && dirs+=("tests/fuzz_regressions/$t")
  # -rss_limit_mb and -timeout: hostile input must stay bounded (no input may take 30 s or 2 GiB).
  if build-fuzz/fuzz/"$t" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 \
       -max_len=65536 -artifact_prefix="$crashes/" -print_final_stats=1 "${dirs[@]}" >"$log" 2>&1; then
    status=clean
  else
    status="FAILED (see $log and $crashes/)"
  fi
  local cov execs rate
  cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  execs=$(grep -Eo '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$')
  rate=$(grep -Eo '^stat::average_exec_per_sec: *[0-9]+' "$log" | grep -Eo '[0-9]+$')
  printf '%-24s %s s  %s execs  %s/s  %s  corpus %s  %s\n' "$t" "$seconds" "${execs:-?}" \
    "${rate:-?}" "${cov:-?}" "$(ls "$work" | wc -l)" "$status"
  [ "$status" = clean ]
}

jobs=${BERTH_FUZZ_JOBS:-1}
fail=0
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n || fail=1; running=$((running - 1)); fi
done
while [ "$running" -gt 0 ]; do wait -n || fail=1; running=$((running - 1)); done
exit $fail
