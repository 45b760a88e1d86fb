#!/usr/bin/env bash
# CTest case python_package: the Python package (bindings/python) with pytest against the
# installed ember library (PREFIX, from the install_package fixture).
# Usage: run_tests.sh PREFIX. Exit 77 (skipped) when Debian's python3 or pytest is missing,
# except in CI (CI=true), where that fails.
set -euo pipefail
prefix="$1"
here="$(cd "$(dirname "$0")" && pwd)"
# Debian's interpreter, whatever python3 comes first on PATH (pyenv, venvs).
python="${EMBER_PYTHON:-/usr/bin/python3}"
missing() {
  if [ "${CI:-}" = "true" ]; then echo "$1 (CI: failing)" >&2; exit 1; fi
  echo "$1: skipping" >&2
  exit 77
}
[ -x "$python" ] || missing "$python not found (apt-get install python3)"
"$python" -c 'import pytest' 2>/dev/null || missing "pytest not found (apt-get install python3-pytest)"
library="$(find "$prefix" -name 'libember.so' -print -quit)"
[ -n "$library" ] || { echo "libember.so not installed under $prefix" >&2; exit 1; }
# The CLI, for the tests that compare with `ember embed --json`.
[ -x "$prefix/bin/ember" ] && export EMBER_CLI="$prefix/bin/ember"
cd "$here"
EMBER_LIBRARY="$library" PYTHONPATH="$here:$here/tests" PYTHONDONTWRITEBYTECODE=1 \
  "$python" -m pytest -q -p no:cacheprovider tests
