#!/usr/bin/env bash
# CTest entry for the npm client tests (openai, ollama, @anthropic-ai/sdk, the Vercel AI SDK):
# node --test on tests/js/*.test.mjs.
# Exit 77 (CTest's SKIP_RETURN_CODE) with the reason when node, the installed packages or the
# test model are missing; in CI (CI=true) a missing piece is a failure, never a skip.
set -uo pipefail
cd "$(dirname "$0")"
skip() {
  if [ "${CI:-}" = "true" ]; then
    echo "npm client tests: $1 (required in CI; scripts/setup.sh installs it)" >&2
    exit 1
  fi
  echo "npm client tests skipped: $1" >&2
  exit 77
}
command -v node >/dev/null 2>&1 || skip "node is not installed (scripts/setup.sh installs nodejs)"
for pkg in openai ollama @anthropic-ai/sdk ai @ai-sdk/openai-compatible zod; do
  [ -f "node_modules/$pkg/package.json" ] ||
    skip "tests/js/node_modules/$pkg is missing (run scripts/setup.sh, or npm ci in tests/js)"
done
export EMBER_TESTDATA="${EMBER_TESTDATA:-${EMBER_DEFAULT_TESTDATA:-../../../shared/testdata}}"
[ -n "${EMBER_CLI:-}" ] && [ -x "${EMBER_CLI}" ] || skip "EMBER_CLI is not an executable: '${EMBER_CLI:-}'"
[ -f "${EMBER_TESTDATA:-/nonexistent}/models/qwen2-q8_0.gguf" ] ||
  skip "test model not found: set EMBER_TESTDATA or provide ../shared/testdata"
exec node --test ./*.test.mjs
