#!/usr/bin/env bash
# CI: the pip-installable package. Creates a fresh virtual environment on Debian's Python (with
# its numpy, scipy, torch and pytest: --system-site-packages), installs the package offline from
# the source tree (pip builds the extension with CMake, setup.py), then runs python/tests from a
# directory outside the source tree against the installed copy: SPARSEGRAD_EXPECT_PREFIX makes
# test_package.py check where sparsegrad was imported from.
#   WORK_DIR=<dir> keeps the virtual environment there (default: a temporary directory, removed).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/lib/work-dir.sh"
venv=$work/venv

echo "== fresh virtual environment ($venv)"
/usr/bin/python3 -m venv --system-site-packages "$venv"
echo "== pip install --no-build-isolation $root"
"$venv/bin/python" -m pip install --no-build-isolation --no-index --no-cache-dir -q "$root"
cd "$work"
"$venv/bin/python" -c \
  "import sparsegrad; print('sparsegrad', sparsegrad.__version__, 'from', sparsegrad.__file__)"
echo "== python/tests against the installed package"
SPARSEGRAD_EXPECT_PREFIX=$venv SPARSEGRAD_DATA_DIR=$root/data/lsq OMP_NUM_THREADS=1 \
  "$venv/bin/python" -m pytest -q -p no:cacheprovider --strict-markers "$root/python/tests"
