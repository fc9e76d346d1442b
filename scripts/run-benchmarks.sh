#!/usr/bin/env bash
# Builds the benchmarks (Release, OpenMP) into ${BUILD_DIR:-build-bench}, runs them and the scipy
# comparison on every benchmark problem, prints the table and writes benchmarks/results/ plus the
# README's performance table and plot. Takes a few minutes on 2 cores.
#   --smoke       one run of every benchmark on a small generated problem (CI); README untouched
#   --problems L  comma-separated problem list (names in benchmarks/problems.hpp or data/lsq)
#   --no-readme   leave README.md alone
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/install-deps.sh"
build=${BUILD_DIR:-$root/build-bench}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSPARSEGRAD_BUILD_BENCHMARKS=ON \
  -DSPARSEGRAD_BUILD_TESTS=OFF -DSPARSEGRAD_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target lsq_benchmarks
/usr/bin/python3 "$root/benchmarks/report.py" --bench "$build/benchmarks/lsq_benchmarks" "$@"
