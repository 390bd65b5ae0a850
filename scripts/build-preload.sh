#!/usr/bin/env bash
# Builds the preload library, libmemprof.so, with plain cc: it must not link the
# Swift or C++ runtime, so it is not a SwiftPM product.
#   scripts/build-preload.sh [OUTDIR]     (default: .build/preload)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/.build/preload}
mkdir -p "$out"
cc=${CC:-cc}
"$cc" -std=gnu11 -O2 -g -fPIC -shared -pthread \
  -fvisibility=hidden -ftls-model=initial-exec -fno-plt -fno-omit-frame-pointer \
  -Wall -Wextra -Werror=implicit-function-declaration \
  -I"$root/CShims/MemprofFormat/include" -I"$root/CShims/Client/include" \
  "$root"/CShims/Preload/*.c \
  -Wl,-soname,libmemprof.so -Wl,-z,now -Wl,--as-needed \
  -lunwind -lzstd -ldl \
  -o "$out/libmemprof.so.tmp"
mv "$out/libmemprof.so.tmp" "$out/libmemprof.so"
# memprof looks beside its own binary first: refresh the copies scripts/build.sh put
# there (only for the default output: a build elsewhere is an experiment).
if [ $# -eq 0 ]; then
  for copy in "$root"/.build/*/{debug,release}/libmemprof.so; do
    [ -f "$copy" ] && cp "$out/libmemprof.so" "$copy"
  done
fi
echo "$out/libmemprof.so"
