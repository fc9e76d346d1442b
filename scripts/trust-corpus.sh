#!/usr/bin/env bash
# The whole trust corpus (10 matrices x 4 scalings x 2 right-hand sides x 5 dX x 4 option sets,
# against dense references), written to build/tests/trust_corpus.{md,csv}; about 5 minutes.
# Exit status 1 when the goal of docs/accuracy.md fails. Usage: scripts/trust-corpus.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
cmake --build "$build" --target trust_corpus_test -j "$(nproc)"
"$build/tests/trust_corpus_test" --check --out "$build/tests"
