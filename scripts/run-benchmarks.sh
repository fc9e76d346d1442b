#!/usr/bin/env bash
# The speed figures in one command: builds the benchmark programs (Release, OpenMP) into
# ${BUILD_DIR:-build-bench}, runs them with the scipy and seed references and writes
# benchmarks/results/ (results.md, results.json, performance.png) and the results section of
# docs/performance.md. About 5 minutes on an idle 2-core machine (estimated; under 10); run it
# on an idle one.
#   --smoke           build the three programs, run every benchmark once on a small problem (CI:
#                     about 15 s after the build); writes to a temporary directory, docs untouched
#   --problems L      comma-separated problems (names in benchmarks/problems.hpp or data/lsq)
#   --no-seed         skip the torch side (the seed's scheme)
#   --min-time S      minimum time per measurement, default 0.3 s
#   --omp-wait-policy P   run the C++ side with OMP_WAIT_POLICY=P (default: unset, as users have it)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/install-deps.sh" --core
build=${BUILD_DIR:-$root/build-bench}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSPARSEGRAD_BUILD_BENCHMARKS=ON \
  -DSPARSEGRAD_BUILD_TESTS=OFF -DSPARSEGRAD_BUILD_EXAMPLES=OFF -DSPARSEGRAD_WITH_TORCH=OFF \
  -DSPARSEGRAD_WITH_PETSC=OFF -DSPARSEGRAD_WITH_SUITESPARSE=OFF >/dev/null
smoke=0
for arg in "$@"; do [ "$arg" = "--smoke" ] && smoke=1; done
if [ "$smoke" = 1 ]; then
  cmake --build "$build" -j "$(nproc)" --target sparsegrad_benchmarks
  # Not part of the speed report: the direct-solver benchmarks on small problems and the
  # profiling driver (scripts/profile-lsmr.sh), once each.
  "$build/benchmarks/solvers_bench" --benchmark_filter='/(sprand_smoke|lp_afiro_T)/' >/dev/null
  "$build/benchmarks/lsmr_profile" sprand_smoke 8 2 5 >/dev/null
else
  cmake --build "$build" -j "$(nproc)" --target lsq_benchmarks
fi
/usr/bin/python3 "$root/benchmarks/report.py" --bench "$build/benchmarks/lsq_benchmarks" "$@"
