#!/usr/bin/env bash
# CTest entry for the web chat page tests: node --test on tests/webui/*.test.mjs, driving Debian's
# headless Chromium with playwright-core against the real `ember serve`.
# Exit 77 (CTest's SKIP_RETURN_CODE) with the reason when node, chromium, the installed packages
# or the test model are missing; in CI (CI=true) a missing piece is a failure, never a skip.
set -uo pipefail
cd "$(dirname "$0")"
skip() {
  if [ "${CI:-}" = "true" ]; then
    echo "web page tests: $1 (required in CI; scripts/setup.sh installs it)" >&2
    exit 1
  fi
  echo "web page tests skipped: $1" >&2
  exit 77
}
command -v node >/dev/null 2>&1 || skip "node is not installed (scripts/setup.sh installs nodejs)"
chromium="${EMBER_CHROMIUM:-/usr/bin/chromium}"
[ -x "$chromium" ] || skip "no Chromium at $chromium (scripts/setup.sh installs Debian's chromium)"
[ -f node_modules/playwright-core/package.json ] ||
  skip "tests/webui/node_modules is missing (run scripts/setup.sh, or npm ci in tests/webui)"
export EMBER_TESTDATA="${EMBER_TESTDATA:-${EMBER_DEFAULT_TESTDATA:-../../../shared/testdata}}"
[ -n "${EMBER_CLI:-}" ] && [ -x "${EMBER_CLI}" ] || skip "EMBER_CLI is not an executable: '${EMBER_CLI:-}'"
[ -f "${EMBER_TESTDATA:-/nonexistent}/models/qwen2-q8_0.gguf" ] ||
  skip "test model not found: set EMBER_TESTDATA or provide ../shared/testdata"
# A binary built without the page (npm packages missing at configure time) answers / with 501:
# the first test then fails with that message.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
exec node --test ./*.test.mjs
