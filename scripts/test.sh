#!/usr/bin/env bash
# Runs every test: unit suites, integration suites that run the example programs
# under the real preload (and valgrind as the oracle), and the example Swift package
# whose tests use MemprofTesting's in-process leak checks.
#
#   scripts/test.sh [--full] [swift test options]
#
# --full then runs the real-program suite (RealProgramTests: the JVM, Rust, git, python,
# node, gcc … in all three modes against their bare run and valgrind; about 10 minutes
# on 2 cores), installing the programs it needs first, and prints its table
# (.build/real-programs/table.md). CI runs without it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
full=0
if [ "${1:-}" = "--full" ]; then
  full=1
  shift
  scripts/install-deps.sh --full
fi
scripts/build.sh debug
swift test "$@"
# The example package uses the in-process checks in its own tests (MemprofTesting).
swift test --package-path examples/swift-leakcheck
if [ "$full" -eq 1 ]; then
  make -C examples full
  rm -rf .build/real-programs
  status=0
  MEMPROF_FULL_SUITE=1 swift test --skip-build --filter RealProgramTests || status=$?
  cat .build/real-programs/table.md 2>/dev/null || echo "the real-program suite wrote no table"
  exit "$status"
fi
