#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite (CTest). In CI (CI=true) the build
# uses warnings-as-errors. Reference data is read from $EMBER_TESTDATA or ../shared/testdata.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=release
if [ "${CI:-}" = "true" ]; then preset=ci; fi
preset="${1:-$preset}"
scripts/setup.sh "$preset"
ctest --preset "$preset" -j "$(nproc)"
