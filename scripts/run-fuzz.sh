#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang (ASan + UBSan, assertions on) and runs each
# for SECONDS (default 600) from the committed seed corpus, both at once (one core each). New
# corpus entries go to ${BUILD_DIR:-build-fuzz}/corpus-<target> (the committed corpus is only
# read); a crash, a sanitizer report, a contract violation or a hang (> 10 s on one input) fails
# the script and leaves the input in ${BUILD_DIR}/artifacts/.
#   bash scripts/run-fuzz.sh           # 10 minutes per target
#   bash scripts/run-fuzz.sh 20        # what CI runs (two targets side by side, 20 s each)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-600}
build=${BUILD_DIR:-$root/build-fuzz}
cxx=${FUZZ_CXX:-clang++-14}
command -v "$cxx" >/dev/null || cxx=clang++
eigen=$(pkg-config --cflags eigen3 2>/dev/null || echo -I/usr/include/eigen3)
mkdir -p "$build/artifacts"
# Line tables only: the file and line of a sanitizer's stack trace, at about 75% of -g's
# compile time.
flags=(-std=c++17 -O1 -gline-tables-only -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=all -I"$root/include" $eigen)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# Each target is built and then run in its own background job (one core each), so the quicker
# build starts fuzzing while the other still compiles; the reports follow in turn.
# fuzz_target <name>: builds fuzz/<name>.cpp, then fuzzes it; output in $build/<name>.log.
fuzz_target() {
  local target=$1 corpus=${1#fuzz_}
  "$cxx" "${flags[@]}" "$root/fuzz/$target.cpp" -o "$build/$target" || return 1
  mkdir -p "$build/corpus-$corpus"
  "$build/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/$target-" \
    "$build/corpus-$corpus" "$root/fuzz/corpus/$corpus"
}
echo "== fuzz_lstsq and fuzz_matrix_market: built with $cxx, then run for ${seconds} s each"
declare -A run_pids
for target in fuzz_lstsq fuzz_matrix_market; do
  fuzz_target "$target" >"$build/$target.log" 2>&1 &
  run_pids[$target]=$!
done
failed=0
for target in fuzz_lstsq fuzz_matrix_market; do
  log="$build/$target.log"
  rc=0
  wait "${run_pids[$target]}" || rc=$?
  if [ "$rc" -ne 0 ]; then
    tail -n 60 "$log"
    echo "run-fuzz: $target FAILED (exit $rc; a crashing input is kept in $build/artifacts/)" >&2
    failed=1
    continue
  fi
  echo "== $target:"
  grep -E "^(Done|stat::(number_of_executed_units|new_units_added|peak_rss_mb))" "$log"
done
[ "$failed" -eq 0 ] || exit 1
echo "run-fuzz: no findings"
