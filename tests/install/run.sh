#!/usr/bin/env bash
# Builds programs against the *installed* ember and runs them on a test model (CTest cases
# install_pkgconfig and install_cmake; the install_package fixture installed the build into
# PREFIX first). Usage: run.sh pkgconfig|cmake PREFIX WORKDIR
# Exit 77 (skipped) when the test model is missing outside CI.
set -euo pipefail
mode="$1"
prefix="$2"
work="$3"
here="$(cd "$(dirname "$0")" && pwd)"
data="${EMBER_TESTDATA:-${EMBER_DEFAULT_TESTDATA:-}}"
model="$data/models/llama-spm-q8_0.gguf"
if [ ! -f "$model" ]; then
  if [ "${CI:-}" = "true" ]; then echo "test model $model missing (CI)" >&2; exit 1; fi
  echo "test model $model missing: skipping" >&2
  exit 77
fi
rm -rf "$work"
mkdir -p "$work"
libdir="$(dirname "$(find "$prefix" -name 'libember.so' -print -quit)")"
case "$mode" in
  pkgconfig)
    export PKG_CONFIG_PATH="$libdir/pkgconfig"
    pkg-config --exists --print-errors ember
    # The C program with the C compiler: the C API needs no C++ flags.
    # shellcheck disable=SC2046
    cc -std=c11 -Wall -Werror -o "$work/consumer_c" "$here/consumer.c" \
      $(pkg-config --cflags --libs ember) -Wl,-rpath,"$libdir"
    # shellcheck disable=SC2046
    c++ -std=c++20 -Wall -Werror -o "$work/consumer_cpp" "$here/consumer.cc" \
      $(pkg-config --cflags --libs ember) -Wl,-rpath,"$libdir"
    programs=(consumer_c consumer_cpp)
    ;;
  cmake)
    cmake -S "$here" -B "$work" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
    cmake --build "$work" >/dev/null
    programs=(consumer_c consumer_cpp consumer_cpp_static)
    ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
for p in "${programs[@]}"; do
  # Linked against the installed library, not the build tree's.
  if [ "$p" != consumer_cpp_static ]; then
    deps="$(ldd "$work/$p")"
    [[ "$deps" == *"$libdir/libember.so"* ]] || { echo "$p: not linked to $libdir" >&2; exit 1; }
  fi
  "$work/$p" "$model"
done
