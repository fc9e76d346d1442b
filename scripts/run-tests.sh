#!/usr/bin/env bash
# Installs what is missing, builds everything with the tests (SuiteSparse, PETSc/MPI, LibTorch and
# the Python module included), and runs the whole suite with ctest. SPARSEGRAD_REQUIRE_ALL=ON
# makes a missing dependency a configure error instead of a skipped part.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/install-deps.sh"
build=${BUILD_DIR:-$root/build}
BUILD_DIR=$build bash "$root/scripts/build.sh" -DSPARSEGRAD_BUILD_TESTS=ON \
  -DSPARSEGRAD_BUILD_EXAMPLES=ON -DSPARSEGRAD_WITH_SUITESPARSE=ON -DSPARSEGRAD_WITH_PETSC=ON \
  -DSPARSEGRAD_WITH_TORCH=ON -DSPARSEGRAD_BUILD_PYTHON=ON -DSPARSEGRAD_REQUIRE_ALL=ON
ctest --test-dir "$build" --output-on-failure -j "$(nproc)"
