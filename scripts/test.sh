#!/usr/bin/env bash
# Runs every test: unit suites, and integration suites that run the example programs
# under the real preload (and valgrind as the oracle).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/build.sh debug
swift test "$@"
