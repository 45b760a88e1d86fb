#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite (CTest). In CI (CI=true) the build
# uses warnings as errors and the suite runs a second time under AddressSanitizer +
# UndefinedBehaviorSanitizer (opt in elsewhere with EMBER_TEST_ASAN=1). Reference data is read
# from $EMBER_TESTDATA or ../shared/testdata.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=release
if [ "${CI:-}" = "true" ]; then preset=ci; fi
preset="${1:-$preset}"
scripts/setup.sh "$preset"
ctest --preset "$preset" -j "$(nproc)"
if [ "${CI:-}" = "true" ] || [ "${EMBER_TEST_ASAN:-}" = "1" ]; then
  if [ "$preset" != "asan" ]; then
    scripts/setup.sh asan
    ctest --preset asan -j "$(nproc)"
  fi
fi
