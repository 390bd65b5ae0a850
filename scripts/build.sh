#!/usr/bin/env bash
# Builds memprof: the preload (plain cc), the Swift CLI, and the example programs.
#   scripts/build.sh [debug|release]      (default: release)
# The preload is copied next to the memprof binary, where `memprof run` looks first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
config=${1:-release}
cd "$root"
scripts/build-preload.sh "$root/.build/preload" >/dev/null
make -s -C examples 2>&1 | grep -v "Using 'dlopen' in statically linked" || true
# Release links the Swift runtime statically: `memprof run` starts in half the time.
# It builds the CLI only: the test-support programs and MemprofTesting (which imports
# Swift Testing, absent from the static runtime) are built by the debug build the
# tests use.
flags=()
if [ "$config" = release ]; then
  flags=(--static-swift-stdlib --product memprof)
  # It also links libstdc++, libdw and libelf (with the compression libraries libdw
  # needs) from their static archives when they are installed: the dynamic loader then
  # maps 3 libraries instead of 10 and binds no C++ symbols, about 1.5 ms off every
  # `memprof run`. A directory holding only the archives makes -lstdc++, -ldw ... pick
  # them; glibc stays shared (dlopen, as the demangler and debuginfod use, needs it).
  archives="$root/.build/static-archives"
  mkdir -p "$archives"
  complete=1
  for lib in stdc++ dw elf z lzma bz2 zstd; do
    archive=$("${CC:-cc}" -print-file-name="lib$lib.a")
    if [ "${archive#/}" != "$archive" ] && [ -f "$archive" ]; then
      ln -sf "$archive" "$archives/lib$lib.a"
    else
      complete=0
    fi
  done
  if [ "$complete" = 1 ]; then
    flags+=(-Xlinker -L"$archives" -Xlinker -lz -Xlinker -llzma -Xlinker -lbz2 -Xlinker -lzstd)
  else
    rm -rf "$archives"
  fi
  # A position-dependent executable: the 30 MB binary then has no relative relocations
  # for the dynamic loader to apply (41,000, and the page faults of writing them): about
  # 0.6 ms off every `memprof run` (4.4 -> 3.8 ms for `memprof run -- /bin/true`).
  flags+=(-Xlinker -no-pie)
fi
swift build -c "$config" "${flags[@]}"
bin=$(swift build -c "$config" "${flags[@]}" --show-bin-path)
cp "$root/.build/preload/libmemprof.so" "$bin/libmemprof.so"
echo "built $bin/memprof"
