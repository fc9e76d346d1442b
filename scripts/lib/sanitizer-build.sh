# Sourced by .ci/run and scripts/check-eigen5.sh: the AddressSanitizer + UBSan build they share.
# Sets `sanitizer_cmake_args` (configure arguments), exports CXX and the sanitizers' options.
# - clang-14, as for the fuzzers (the README command builds with GCC): it compiles the test
#   programs with the sanitizers in about 55% of GCC 12's CPU time.
# - Debug keeps Eigen's and the library's assertions on; SPARSEGRAD_SANITIZE adds -O1.
# - Line tables only (what a sanitizer's stack trace prints, file and line), not the full -g of
#   a Debug build: about 75% of the compile time (137 against 180 CPU s, one core test unit).
sanitizer_cxx=clang++-14
sanitizer_debug_info=-gline-tables-only
if ! command -v "$sanitizer_cxx" >/dev/null; then
  sanitizer_cxx=c++
  sanitizer_debug_info=-g1
fi
export CXX=$sanitizer_cxx
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
sanitizer_cmake_args=(-DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=$sanitizer_debug_info"
                      -DSPARSEGRAD_SANITIZE=ON)
