#!/usr/bin/env bash
# CTest case r_package: installs the R package against the installed ember (PREFIX, from the
# install_package fixture) into WORKDIR and runs its testthat tests.
# Usage: run_tests.sh PREFIX WORKDIR. Exit 77 (skipped) when R, testthat or jsonlite are
# missing, except in CI (CI=true), where that fails.
set -euo pipefail
prefix="$1"
work="$2"
here="$(cd "$(dirname "$0")" && pwd)"
missing() {
  if [ "${CI:-}" = "true" ]; then echo "$1 (CI: failing)" >&2; exit 1; fi
  echo "$1: skipping" >&2
  exit 77
}
command -v Rscript >/dev/null 2>&1 || missing "Rscript not found (apt-get install r-base-dev)"
Rscript -e 'quit(status = !all(c("testthat", "jsonlite") %in% rownames(installed.packages())))' \
  || missing "R packages testthat / jsonlite not found (r-cran-testthat, r-cran-jsonlite)"
libdir="$(dirname "$(find "$prefix" -name 'libember.so' -print -quit)")"
rm -rf "$work"
mkdir -p "$work/lib"
# Build from a copy: R CMD INSTALL writes objects and src/Makevars into the package directory.
cp -r "$here" "$work/src"
rm -f "$work"/src/src/*.o "$work"/src/src/*.so "$work"/src/src/Makevars  # stale in-place builds
PKG_CONFIG_PATH="$libdir/pkgconfig" R CMD INSTALL --no-docs --no-html -l "$work/lib" "$work/src" \
  >"$work/install.log" 2>&1 || { cat "$work/install.log" >&2; exit 1; }
cd "$work"
R_LIBS="$work/lib" Rscript -e 'library(testthat); library(ember)
  test_dir(commandArgs(TRUE)[1], reporter = "summary", stop_on_failure = TRUE)' \
  "$work/src/tests/testthat"
