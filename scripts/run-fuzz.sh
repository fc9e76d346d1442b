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
echo "== building fuzz_lstsq and fuzz_matrix_market with $cxx"
pids=()
for target in fuzz_lstsq fuzz_matrix_market; do
  "$cxx" "${flags[@]}" "$root/fuzz/$target.cpp" -o "$build/$target" &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# The two targets run side by side (each is one process on one core), then report in turn.
declare -A run_pids
for target in fuzz_lstsq fuzz_matrix_market; do
  corpus=${target#fuzz_}
  mkdir -p "$build/corpus-$corpus"
  echo "== $target for ${seconds} s"
  "$build/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/$target-" \
    "$build/corpus-$corpus" "$root/fuzz/corpus/$corpus" >"$build/$target.log" 2>&1 &
  run_pids[$target]=$!
done
failed=0
for target in fuzz_lstsq fuzz_matrix_market; do
  log="$build/$target.log"
  rc=0
  wait "${run_pids[$target]}" || rc=$?
  if [ "$rc" -ne 0 ]; then
    tail -n 60 "$log"
    echo "run-fuzz: $target FAILED (exit $rc); the input is in $build/artifacts/" >&2
    failed=1
    continue
  fi
  echo "== $target:"
  grep -E "^(Done|stat::(number_of_executed_units|new_units_added|peak_rss_mb))" "$log"
done
[ "$failed" -eq 0 ] || exit 1
echo "run-fuzz: no findings"
