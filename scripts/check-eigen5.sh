#!/usr/bin/env bash
# CI: the core tests and the examples built and run against Eigen 5 (default: the Eigen 5.0.1
# header tree in ../shared/eigen-5.0.1 next to the checkout, else /work/shared/eigen-5.0.1; a
# compatibility build only, the project does not depend on it). That tree has headers only, so a
# minimal Eigen3 CMake package is written for it first (Eigen3::Eigen and the version from
# Eigen/Version) and sparsegrad finds it through Eigen3_DIR, as it would find a distribution's
# Eigen 5. Core only (no SuiteSparse, PETSc, LibTorch or Python), -O1 with assertions on, then the
# installed package found by a consumer with Eigen 5; a compiler warning located in this
# repository fails the script (not -Werror: GCC 12 reports false maybe-uninitialized warnings
# inside Eigen 5's own packet code, at its location, even for -isystem headers).
#   check-eigen5.sh           every test and example (about 12 minutes on 2 cores from scratch)
#   check-eigen5.sh --quick   three examples and the core test program (sparsegrad_core_tests)
#                             only, each run; the consumer check as in the full run (CI)
#   check-eigen5.sh --find    prints the Eigen 5 directory it would use, or fails with a message
#   --sanitize (with either)  the build under AddressSanitizer + UBSan instead (clang-14,
#                             scripts/lib/sanitizer-build.sh): what .ci/run's
#                             sanitizer phase runs when Eigen 5 is on the machine, so that one
#                             build covers both (the README command covers Eigen 3.4)
#   EIGEN5_INCLUDE_DIR=<dir with Eigen/>   the Eigen 5 headers
#   BUILD_DIR=<dir>                        build directory (default build-eigen5, reused)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mode=full
sanitize=no
for arg in "$@"; do
  case "$arg" in
    --quick) mode=quick ;;
    --find) mode=find ;;
    --sanitize) sanitize=yes ;;
    *) echo "usage: check-eigen5.sh [--quick | --find] [--sanitize]" >&2; exit 2 ;;
  esac
done
eigen=${EIGEN5_INCLUDE_DIR:-}
if [ -z "$eigen" ]; then
  eigen=/work/shared/eigen-5.0.1
  [ -d "$root/../shared/eigen-5.0.1" ] && eigen=$root/../shared/eigen-5.0.1
fi
[ -f "$eigen/Eigen/Version" ] || { echo "check-eigen5: no Eigen/Version in $eigen" >&2; exit 1; }
eigen=$(cd "$eigen" && pwd)
version=$(sed -n 's/^#define EIGEN_VERSION_STRING "\([0-9.]*\)".*/\1/p' "$eigen/Eigen/Version")
case "$version" in
  5.*) ;;
  *) echo "check-eigen5: $eigen is Eigen '$version', expected 5.x" >&2; exit 1 ;;
esac
if [ "$mode" = find ]; then
  echo "$eigen"
  exit 0
fi
build=${BUILD_DIR:-$root/build-eigen5}

package=$build/eigen-package
mkdir -p "$package"
cat >"$package/Eigen3Config.cmake" <<CONFIG
# Written by scripts/check-eigen5.sh for the Eigen $version headers in $eigen.
if(NOT TARGET Eigen3::Eigen)
  add_library(Eigen3::Eigen INTERFACE IMPORTED)
  set_target_properties(Eigen3::Eigen PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "$eigen")
endif()
CONFIG
# Eigen 5's rule: a range accepts the versions inside it, a single version only the versions
# that start with it (a request for 3.4 rejects 5.0.1). sparsegrad asks without a version.
cat >"$package/Eigen3ConfigVersion.cmake" <<'VERSION'
set(PACKAGE_VERSION "@VERSION@")
set(PACKAGE_VERSION_COMPATIBLE FALSE)
if(PACKAGE_FIND_VERSION_RANGE)
  if(PACKAGE_FIND_VERSION_RANGE_MAX STREQUAL "EXCLUDE")
    set(_upper "${PACKAGE_FIND_VERSION_MAX}")
  else()
    math(EXPR _next "${PACKAGE_FIND_VERSION_MAX_MAJOR} + 1")
    set(_upper "${_next}")
  endif()
  if(PACKAGE_VERSION VERSION_GREATER_EQUAL PACKAGE_FIND_VERSION_MIN
     AND PACKAGE_VERSION VERSION_LESS _upper)
    set(PACKAGE_VERSION_COMPATIBLE TRUE)
  endif()
elseif(PACKAGE_VERSION MATCHES "^${PACKAGE_FIND_VERSION}(\\.|$)")
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
endif()
VERSION
sed -i "s/@VERSION@/$version/" "$package/Eigen3ConfigVersion.cmake"

# -O1 with assertions on, or the sanitizer build of scripts/lib/sanitizer-build.sh.
build_args=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE=-O1)
if [ "$sanitize" = yes ]; then
  source "$root/scripts/lib/sanitizer-build.sh"
  build_args=("${sanitizer_cmake_args[@]}")
fi
echo "== configure against Eigen $version ($eigen)${CXX:+ with $CXX}"
cmake -S "$root" -B "$build" -DEigen3_DIR="$package" "${build_args[@]}" \
  -DSPARSEGRAD_BUILD_TESTS=ON -DSPARSEGRAD_BUILD_EXAMPLES=ON -DSPARSEGRAD_BUILD_PYTHON=OFF \
  -DSPARSEGRAD_WITH_SUITESPARSE=OFF -DSPARSEGRAD_WITH_PETSC=OFF -DSPARSEGRAD_WITH_TORCH=OFF \
  -DSPARSEGRAD_REQUIRE_ALL=ON >"$build/configure.log" || { cat "$build/configure.log"; exit 1; }
grep -q "sparsegrad: Eigen $version ($package)" "$build/configure.log" ||
  { echo "check-eigen5: the build did not use $package" >&2; exit 1; }
# The examples that finish on their own (progress cancels its solve after 10 s; the full run
# builds it, --quick does not).
examples=(solve_and_differentiate gradcheck custom_solver)
if [ "$mode" = quick ]; then
  echo "== build the examples and the core tests"
  targets=(--target sparsegrad_core_check)  # the core tests and the examples above
else
  echo "== build every test and example"
  targets=()
fi
cmake --build "$build" -j "$(nproc)" "${targets[@]}" 2>&1 | tee "$build/build.log"
if grep -E "^$root/[^:]+:[0-9]+:([0-9]+:)? warning:" "$build/build.log"; then
  echo "check-eigen5: warnings in sparsegrad's code with Eigen $version (above)" >&2
  exit 1
fi
echo "== run them"
for example in "${examples[@]}"; do
  echo "-- examples/$example"
  "$build/examples/$example" >"$build/$example.log" 2>&1 ||
    { cat "$build/$example.log"; echo "check-eigen5: examples/$example failed" >&2; exit 1; }
done
if [ "$mode" = quick ]; then
  # Only the programs built above carry the label (the others are unlabelled _NOT_BUILT tests).
  ctest --test-dir "$build" --output-on-failure -j "$(nproc)" -L core
else
  ctest --test-dir "$build" --output-on-failure -j "$(nproc)"
fi
echo "== the installed package accepts Eigen $version: find_package(sparsegrad 0.2) in a consumer"
rm -rf "$build/prefix" "$build/consumer"
cmake --install "$build" --prefix "$build/prefix" >/dev/null
cmake -S "$root/tests/consumers/find_package_only" -B "$build/consumer" -DREQUEST=0.2 \
  -DCMAKE_PREFIX_PATH="$build/prefix" -DEigen3_DIR="$package" >"$build/consumer.log" 2>&1 ||
  { cat "$build/consumer.log"; echo "check-eigen5: find_package(sparsegrad) failed" >&2; exit 1; }
echo "check-eigen5: all passed"
