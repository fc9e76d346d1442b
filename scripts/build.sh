#!/usr/bin/env bash
# Configures and builds into ${BUILD_DIR:-build} (only the targets in ${BUILD_TARGET} when set,
# separated by spaces). Extra arguments go to cmake's configure step.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build}
read -ra targets <<<"${BUILD_TARGET:-}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} "$@"
cmake --build "$build" -j "$(nproc)" ${targets[@]+--target "${targets[@]}"}
