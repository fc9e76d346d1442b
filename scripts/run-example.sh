#!/usr/bin/env bash
# Installs what the library needs, builds the main example alone, and runs it on a shipped real
# matrix (well1033, Harwell-Boeing LSQ set, with its right-hand side).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/install-deps.sh" --core
build=${BUILD_DIR:-$root/build-example}
BUILD_DIR=$build BUILD_TARGET=solve_and_differentiate bash "$root/scripts/build.sh" \
  -DSPARSEGRAD_BUILD_TESTS=OFF -DSPARSEGRAD_BUILD_PYTHON=OFF -DSPARSEGRAD_WITH_TORCH=OFF \
  -DSPARSEGRAD_WITH_PETSC=OFF -DSPARSEGRAD_WITH_SUITESPARSE=OFF
"$build/examples/solve_and_differentiate" "$root/data/lsq/well1033.mtx" "$root/data/lsq/well1033_rhs1.mtx"
