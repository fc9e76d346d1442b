#!/usr/bin/env bash
# Fails when a C++ file differs from what clang-format makes of it.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
mapfile -t files < <(git ls-files '*.hpp' '*.cpp' '*.h' '*.cc')
clang-format --dry-run --Werror "${files[@]}"
echo "check-format: ${#files[@]} files clean"
