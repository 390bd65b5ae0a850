#!/usr/bin/env bash
# Installs the Debian packages memprof needs to build and test (skips what is there).
# --full also installs the real programs the full suite runs (scripts/test.sh --full,
# Tests/IntegrationTests/RealProgramTests.swift); swiftc comes with the Swift toolchain.
set -euo pipefail
# The JVM and Rust are in the normal suite too: both start threads the way that hung
# memprof once (HostSafetyTests).
packages=(time clang-format libunwind-dev libzstd-dev libjemalloc-dev libdw-dev libelf-dev elfutils binutils make gcc g++ valgrind sqlite3 python3.11 default-jdk-headless rustc)
full_packages=(git perl tcl nodejs openssl jq xz-utils python3)
if [ "${1:-}" = "--full" ]; then
  packages+=("${full_packages[@]}")
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
