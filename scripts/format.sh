#!/usr/bin/env bash
# One formatter per language: swift format (.swift-format) and clang-format (.clang-format).
#   scripts/format.sh          format in place
#   scripts/format.sh --check  fail if anything is not formatted (CI)
set -euo pipefail
cd "$(dirname "$0")/.."
c_files=(CShims/Preload/*.c CShims/Preload/*.h CShims/MemprofFormat/include/*.h CShims/Dwarf/*.c CShims/Dwarf/include/*.h CShims/Jemalloc/*.c CShims/Jemalloc/include/*.h examples/src/*.c examples/src/*.cpp)
if [ "${1:-}" = "--check" ]; then
  swift format lint --strict -r Sources Tests Package.swift
  clang-format --dry-run --Werror "${c_files[@]}"
else
  swift format -i -r Sources Tests Package.swift
  clang-format -i "${c_files[@]}"
fi
