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
)

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

preset="${1:-release}"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
