#!/usr/bin/env bash
# Installs what is missing, builds everything with the tests (SuiteSparse, PETSc/MPI, LibTorch and
# the Python module included), and runs the whole suite with ctest.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/install-deps.sh"
build=${BUILD_DIR:-$root/build}
BUILD_DIR=$build bash "$root/scripts/build.sh" -DSPARSEGRAD_BUILD_TESTS=ON \
  -DSPARSEGRAD_BUILD_EXAMPLES=ON -DSPARSEGRAD_WITH_SUITESPARSE=ON -DSPARSEGRAD_WITH_PETSC=ON \
  -DSPARSEGRAD_WITH_TORCH=ON
ctest --test-dir "$build" --output-on-failure -j "$(nproc)"
