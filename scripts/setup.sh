#!/usr/bin/env bash
# Sets up a fresh machine: Debian packages, then a release build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" release
