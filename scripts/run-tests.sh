#!/usr/bin/env bash
# Installs what is missing, builds everything with the tests, and runs the whole suite with ctest.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/install-deps.sh"
build=${BUILD_DIR:-$root/build}
BUILD_DIR=$build bash "$root/scripts/build.sh" -DSPARSEGRAD_BUILD_TESTS=ON
ctest --test-dir "$build" --output-on-failure -j "$(nproc)"
