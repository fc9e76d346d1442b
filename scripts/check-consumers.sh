#!/usr/bin/env bash
# CI: sparsegrad as a consumer sees it, each build directory fresh and configured once (issue 15:
# a second configure hid a broken install).
#   0. a plain top-level configure with every optional dependency hidden succeeds quietly;
#   1. configure + install sparsegrad (core and the suitesparse component) to a fresh prefix;
#   2. a consumer with find_package(sparsegrad 0.2 CONFIG REQUIRED COMPONENTS core suitesparse):
#      configure, build, run its two programs;
#   3. requests that must fail cleanly: a component that is not installed (petsc), an unknown
#      component, an incompatible version;
#   4. a consumer with add_subdirectory(sparsegrad) and SPARSEGRAD_USE_OPENMP=OFF: no warning,
#      only the library target, build, run.
# All under CI=true, which must not change what a consumer's configure does.
#   WORK_DIR=<dir> keeps the build directories there (default: a temporary directory, removed).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
consumers=$root/tests/consumers
source "$root/scripts/lib/work-dir.sh"
export CI=true
jobs=${JOBS:-$(nproc)}
fail() { echo "check-consumers: FAILED: $*" >&2; exit 1; }

echo "== a plain top-level configure where only Eigen is found: no error, no warning"
# CMAKE_DISABLE_FIND_PACKAGE_<name> hides each optional dependency, as on a machine without it.
hidden=()
for package in Catch2 pybind11 Torch SparsegradSuiteSparse SparsegradPETSc OpenMP; do
  hidden+=("-DCMAKE_DISABLE_FIND_PACKAGE_$package=ON")
done
cmake -S "$root" -B "$work/plain" "${hidden[@]}" >"$work/plain.log" 2>&1 ||
  { cat "$work/plain.log"; fail "the plain configure failed"; }
if grep -q "CMake Warning" "$work/plain.log"; then
  cat "$work/plain.log"
  fail "the plain configure printed a warning"
fi
grep -Eq "sparsegrad [0-9.]+: components core$" "$work/plain.log" ||
  { cat "$work/plain.log"; fail "the plain configure built more than core"; }

echo "== install sparsegrad (core, suitesparse) to a fresh prefix, configured once"
cmake -S "$root" -B "$work/sparsegrad" -DCMAKE_INSTALL_PREFIX="$work/prefix" \
  -DSPARSEGRAD_BUILD_TESTS=OFF -DSPARSEGRAD_BUILD_EXAMPLES=OFF -DSPARSEGRAD_BUILD_PYTHON=OFF \
  -DSPARSEGRAD_WITH_SUITESPARSE=ON -DSPARSEGRAD_WITH_PETSC=OFF -DSPARSEGRAD_WITH_TORCH=OFF \
  -DSPARSEGRAD_REQUIRE_ALL=ON >"$work/sparsegrad.log" ||
  { cat "$work/sparsegrad.log"; fail "configure"; }
cmake --install "$work/sparsegrad" >/dev/null
targets=$(echo "$work"/prefix/lib*/cmake/sparsegrad/sparsegradTargets.cmake)
grep -q 'INTERFACE_INCLUDE_DIRECTORIES "${_IMPORT_PREFIX}/include"' "$targets" ||
  fail "the installed sparsegrad::sparsegrad has no include directory ($targets)"

echo "== find_package consumer (core and suitesparse)"
cmake -S "$consumers/find_package" -B "$work/find_package" -DCMAKE_PREFIX_PATH="$work/prefix" \
  >"$work/find_package.log" ||
  { cat "$work/find_package.log"; fail "find_package consumer configure"; }
cmake --build "$work/find_package" -j "$jobs"
"$work/find_package/core_consumer"
"$work/find_package/suitesparse_consumer"

echo "== find_package requests that must fail, each with its message"
expect_failure() {  # expect_failure <name> <message regex> <request...>
  local name=$1 pattern=$2 log="$work/fails-$1.log"
  shift 2
  local request
  request=$(IFS=';'; echo "$*")
  if cmake -S "$consumers/find_package_only" -B "$work/fails-$name" \
       -DCMAKE_PREFIX_PATH="$work/prefix" "-DREQUEST=$request" >"$log" 2>&1; then
    fail "find_package(sparsegrad $*) succeeded"
  fi
  grep -Eq "$pattern" "$log" || { cat "$log"; fail "find_package(sparsegrad $*): no '$pattern'"; }
  echo "   find_package(sparsegrad $*): fails as expected"
}
expect_failure petsc "component 'petsc' is not installed" COMPONENTS petsc
expect_failure unknown "unknown component 'cuda'" COMPONENTS core cuda
expect_failure version "sparsegrad.*0\.3.*not|version: 0\.2\.0" 0.3

echo "== add_subdirectory consumer (nothing asked for but SPARSEGRAD_USE_OPENMP=OFF)"
cmake -S "$consumers/add_subdirectory" -B "$work/add_subdirectory" \
  -DSPARSEGRAD_SOURCE_DIR="$root" >"$work/add_subdirectory.log" 2>&1 ||
  { cat "$work/add_subdirectory.log"; fail "add_subdirectory consumer configure"; }
if grep -q "CMake Warning" "$work/add_subdirectory.log"; then
  cat "$work/add_subdirectory.log"
  fail "the add_subdirectory configure printed a warning"
fi
cmake --build "$work/add_subdirectory" -j "$jobs"
"$work/add_subdirectory/subdirectory_consumer"
echo "check-consumers: all passed"
