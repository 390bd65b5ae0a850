#!/usr/bin/env bash
# Runs every test: unit suites, integration suites that run the example programs
# under the real preload (and valgrind as the oracle), and the example Swift package
# whose tests use MemprofTesting's in-process leak checks.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/build.sh debug
swift test "$@"
# The example package uses the in-process checks in its own tests (MemprofTesting).
swift test --package-path examples/swift-leakcheck
