#!/usr/bin/env bash
# Builds ember and installs it under PREFIX:
#   PREFIX/lib/libember.so.<v>, libember.a, PREFIX/include/ember, PREFIX/bin/ember,
#   PREFIX/lib/pkgconfig/ember.pc, PREFIX/lib/cmake/ember (find_package(ember)),
#   the R package ember in PREFIX/lib/R/site-library,
#   the Python package ember in PREFIX/lib/python3/site-packages.
# Then: PKG_CONFIG_PATH=PREFIX/lib/pkgconfig, R_LIBS=PREFIX/lib/R/site-library and
# PYTHONPATH=PREFIX/lib/python3/site-packages find them (docs/bindings.md).
# Usage: scripts/install.sh PREFIX   (R or Python missing: that package is skipped, with a note;
# EMBER_PYTHON picks the interpreter whose version the Python package is checked with).
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 PREFIX" >&2
  exit 2
fi
mkdir -p "$1"
prefix="$(cd "$1" && pwd)"
cd "$(dirname "$0")/.."
root="$(pwd)"

echo "install: building the library (release preset)" >&2
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target ember_lib ember_shared ember_cli
cmake --install build/release --prefix "$prefix" >/dev/null
libdir="$prefix/lib"
library="$(readlink -f "$libdir/libember.so")"
echo "install: library, headers, ember.pc and the CMake package under $prefix" >&2

# R package.
if command -v R >/dev/null 2>&1; then
  rlib="$prefix/lib/R/site-library"
  mkdir -p "$rlib"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  cp -r bindings/r "$work/ember"  # R CMD INSTALL writes objects into the package directory
  rm -f "$work"/ember/src/*.o "$work"/ember/src/*.so "$work"/ember/src/Makevars  # stale builds
  PKG_CONFIG_PATH="$libdir/pkgconfig" R CMD INSTALL -l "$rlib" "$work/ember" >"$work/r.log" 2>&1 ||
    { cat "$work/r.log" >&2; exit 1; }
  echo "install: R package ember in $rlib" >&2
else
  echo "install: R not found (apt-get install r-base-dev): R package skipped" >&2
fi

# Python package (pure Python over the C API with ctypes): the library path is recorded in it.
python="${EMBER_PYTHON:-/usr/bin/python3}"
if [ -x "$python" ] || command -v "$python" >/dev/null 2>&1; then
  site="$prefix/lib/python3/site-packages"
  mkdir -p "$site"
  rm -rf "$site/ember"
  cp -r bindings/python/ember "$site/ember"
  find "$site/ember" -name '__pycache__' -prune -exec rm -rf {} +
  printf '# Written by scripts/install.sh: the library this package loads.\nLIBRARY = %s\n' \
    "$("$python" -c 'import sys; print(repr(sys.argv[1]))' "$library")" \
    >"$site/ember/_install_config.py"
  EMBER_LIBRARY= PYTHONPATH="$site" "$python" -c 'import ember, ember._lib as l; l.lib()'
  echo "install: Python package ember in $site" >&2
else
  echo "install: $python not found: Python package skipped" >&2
fi
echo "install: done ($root -> $prefix)" >&2
