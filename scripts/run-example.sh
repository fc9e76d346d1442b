#!/usr/bin/env bash
# Installs what is missing, builds, and runs the main example on a shipped real matrix.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/install-deps.sh"
BUILD_DIR=${BUILD_DIR:-$root/build} bash "$root/scripts/build.sh" -DSPARSEGRAD_BUILD_TESTS=OFF
"${BUILD_DIR:-$root/build}/examples/solve_and_differentiate" "$root/data/lsq/well1033.mtx" "$root/data/lsq/well1033_rhs1.mtx"
