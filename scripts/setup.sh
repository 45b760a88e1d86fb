#!/usr/bin/env bash
# Installs the Debian 12 packages ember needs (idempotent; silent when all are present) and
# builds ember. Usage: scripts/setup.sh [preset]   (preset: release (default), debug, asan, ci)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config   # toolchain
  libgtest-dev libgmock-dev                        # unit tests
  libbenchmark-dev                                 # kernel benchmarks
  nlohmann-json3-dev                               # JSON (CLI --json, test data, chat later)
  libcli11-dev                                     # CLI argument parsing
  libutf8proc-dev                                  # Unicode categories / normalization (tokenizers)
  libpcre2-dev                                     # Unicode regular expressions (pre-tokenizers)
  libboost-dev                                     # Boost.Beast/Asio: the HTTP server (ember serve)
  prometheus-cpp-dev                               # Prometheus text format for GET /metrics
  r-base-dev r-cran-testthat r-cran-jsonlite       # the R package (bindings/r) and its tests
  python3 python3-pytest                           # the Python package (bindings/python), tests
)

# Node.js + npm run the official openai client's tests (tests/js). Only when the commands are
# absent: a Node installed another way (nodesource, nvm) is used as it is.
if ! command -v node >/dev/null 2>&1; then PACKAGES+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then PACKAGES+=(npm); fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The JS test packages, pinned by tests/js/package-lock.json. npm ci reinstalls from scratch, so
# it runs only when the lock file changed since the last install (a stamp in node_modules).
js_dir=tests/js
js_stamp="$js_dir/node_modules/.ember-lock-sha256"
js_sha="$(sha256sum "$js_dir/package-lock.json" | cut -d' ' -f1)"
if [ "$(cat "$js_stamp" 2>/dev/null)" != "$js_sha" ]; then
  echo "setup: npm ci in $js_dir" >&2
  (cd "$js_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$js_sha" >"$js_stamp"
fi

preset="${1:-release}"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
