#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz/) with clang in build-fuzz/ and runs them.
#   scripts/fuzz.sh [READER|all] [SECONDS]     default: all, 600 seconds per reader
# Each harness starts from its committed seeds (tests/fuzz/corpus/READER) and grows a working
# corpus in build-fuzz/corpus/READER. A crash, sanitizer report or timeout is written to
# build-fuzz/findings/READER/ and makes the script exit non-zero; commit such an input under
# tests/fuzz/regressions/READER/ (the unit tests replay it) once it is understood.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
which_reader="${1:-all}"
seconds="${2:-600}"
readers=(pth safetensors mapping chip_yaml energy_yaml stats_json bpe_tokenizer_json char_tokenizer_json text_input
         calibration_json gpu_yaml nir npy_input)

# Longest input libFuzzer makes per reader: room for the largest seed and some growth, small
# enough that one execution stays in the milliseconds.
max_len() {
  case "$1" in
    pth|safetensors|mapping|nir) echo 65536 ;;
    bpe_tokenizer_json) echo 16384 ;;
    text_input) echo 4096 ;;
    stats_json) echo 32768 ;;
    *) echo 8192 ;;
  esac
}

# Seconds one input may take. The NIR reader gives libhdf5 a 5 s deadline (it loops forever on
# some damaged files), and libFuzzer runs an input a second time when it checks it for leaks.
timeout_s() {
  case "$1" in
    nir) echo 25 ;;
    *) echo 10 ;;
  esac
}

if [[ "$which_reader" == all ]]; then
  selected=("${readers[@]}")
else
  [[ " ${readers[*]} " == *" $which_reader "* ]] || { echo "unknown reader '$which_reader'; known: ${readers[*]}" >&2; exit 2; }
  selected=("$which_reader")
fi

cmake -S "$root" -B "$build" -DSPIKETILE_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug \
      -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" >/dev/null
cmake --build "$build" -j "${JOBS:-$(nproc)}" --target "${selected[@]/#/fuzz_}"

export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=1:allocator_may_return_null=1"
# Leaks inside third-party libraries that the harnesses reach, each explained in the file.
export LSAN_OPTIONS="${LSAN_OPTIONS:-}:suppressions=$root/tests/fuzz/lsan.supp"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:print_stacktrace=1:halt_on_error=1"
status=0
for reader in "${selected[@]}"; do
  corpus="$build/corpus/$reader" findings="$build/findings/$reader"
  mkdir -p "$corpus" "$findings"
  echo "== fuzz_$reader: ${seconds}s, max_len $(max_len "$reader")"
  log="$build/fuzz_$reader.log"
  # Committed crash inputs join the seeds, so a run starts by checking that they stay fixed.
  seeds=("$root/tests/fuzz/corpus/$reader")
  [[ -d "$root/tests/fuzz/regressions/$reader" ]] && seeds+=("$root/tests/fuzz/regressions/$reader")
  if "$build/fuzz/fuzz_$reader" "$corpus" "${seeds[@]}" -max_total_time="$seconds" \
       -max_len="$(max_len "$reader")" -timeout="$(timeout_s "$reader")" -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$findings/" >"$log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^stat::new_units_added|^Done' "$log" || true
    echo "   corpus: $(find "$corpus" -type f | wc -l) files; no finding"
  else
    status=1
    tail -n 40 "$log"
    echo "   FINDING: see $log and $findings/"
  fi
done
exit "$status"
