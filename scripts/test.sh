#!/usr/bin/env bash
# README command 2: install dependencies, build, run the whole test suite.
#   --sanitize: the same suite on an AddressSanitizer + UndefinedBehaviorSanitizer build in
#               build-sanitize/ (slower; any leak, bad access or undefined behaviour fails a test).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
if [[ "${1:-}" == "--sanitize" ]]; then
  build="$root/build-sanitize"
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPIKETILE_SANITIZE=ON >/dev/null
  cmake --build "$build" -j "${JOBS:-$(nproc)}"
  cd "$build"
  export UBSAN_OPTIONS="print_stacktrace=1:${UBSAN_OPTIONS:-}"   # where the undefined behaviour happened
  ctest --output-on-failure -j "${JOBS:-$(nproc)}"
  exit
fi
"$root/scripts/build.sh"
cd "$root/build"
ctest --output-on-failure -j "${JOBS:-$(nproc)}"
