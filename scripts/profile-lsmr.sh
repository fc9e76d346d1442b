#!/usr/bin/env bash
# Instruction-count profile of LSMR iterations (callgrind; repeatable on a busy machine):
# builds benchmarks/lsmr_profile into ${BUILD_DIR:-build-bench} and runs it under callgrind
# with a simulated cache for each k and thread count, twice (FEW and MANY iterations), then
# prints the per-iteration breakdown by kind of work (benchmarks/callgrind_breakdown.py).
# Simulated: D1 48 KiB and a last level of LL_BYTES (default 33554432 = 32 MiB, the L3 of the
# project's machine; LL_BYTES=1048576, the L2 size, counts the traffic beyond L2).
# Outputs stay in ${PROFILE_DIR:-/tmp/sparsegrad-profile}.
#   profile-lsmr.sh [PROBLEM] [K list] [THREADS list]     defaults: sprand_200k "1 8" "1 2"
# About 10 minutes for the defaults. Two threads run with OMP_WAIT_POLICY=passive: valgrind
# runs one thread at a time, and a spinning thread would only count its own spinning.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build-bench}
out=${PROFILE_DIR:-/tmp/sparsegrad-profile}
problem=${1:-sprand_200k}
ks=${2:-"1 8"}
threads=${3:-"1 2"}
few=${FEW:-4}
many=${MANY:-12}
ll=${LL_BYTES:-33554432}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSPARSEGRAD_BUILD_BENCHMARKS=ON \
  -DSPARSEGRAD_BUILD_TESTS=OFF -DSPARSEGRAD_BUILD_EXAMPLES=OFF -DSPARSEGRAD_WITH_TORCH=OFF \
  -DSPARSEGRAD_WITH_PETSC=OFF -DSPARSEGRAD_WITH_SUITESPARSE=OFF >/dev/null
cmake --build "$build" --target lsmr_profile -j 2 >/dev/null
mkdir -p "$out"
for k in $ks; do
  for t in $threads; do
    for n in "$few" "$many"; do
      file="$out/${problem}_ll${ll}_k${k}_t${t}_n${n}"
      rm -f "$file" "$file"-*
      OMP_WAIT_POLICY=passive valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes \
        --cache-sim=yes --I1=32768,8,64 --D1=49152,12,64 --LL="$ll",16,64 \
        --callgrind-out-file="$file" "$build/benchmarks/lsmr_profile" "$problem" "$k" "$t" "$n" \
        2>/dev/null
    done
    echo "== $problem, k = $k, $t thread(s): one iteration ($many - $few iterations)"
    /usr/bin/python3 "$root/benchmarks/callgrind_breakdown.py" \
      "$out/${problem}_ll${ll}_k${k}_t${t}_n${few}" "$out/${problem}_ll${ll}_k${k}_t${t}_n${many}" \
      "$few" "$many"
  done
done
