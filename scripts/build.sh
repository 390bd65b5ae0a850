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
[ "$config" = release ] && flags=(--static-swift-stdlib --product memprof)
swift build -c "$config" "${flags[@]}"
bin=$(swift build -c "$config" "${flags[@]}" --show-bin-path)
cp "$root/.build/preload/libmemprof.so" "$bin/libmemprof.so"
echo "built $bin/memprof"
