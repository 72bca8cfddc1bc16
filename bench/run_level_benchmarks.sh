#!/usr/bin/env bash
# Reproduces the golden/quantized/PyTorch speed figures of docs/performance.md.
# Run on an otherwise idle machine: ./bench/run_level_benchmarks.sh [threads]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
threads="${1:-2}"
bench="$root/build/bench/bench_levels"
ref="/usr/bin/python3 $root/scripts/reference_rnn.py"
shipped="$root/models/spikegpt-fortunes.pth"

run() { echo "\$ $*"; "$@"; echo; }

for level in golden quantized; do
  run "$bench" --model "$shipped" --level "$level" --tokens 512 --threads "$threads" --bandwidth-mb 2048
  run "$bench" --model "$root/tests/data/fixtures/tiny_l2_c32_v77_fp32.pth" --level "$level" --tokens 2048 --threads "$threads" --bandwidth-mb 0
  run "$bench" --shape 12,512,5458 --level "$level" --tokens 64 --threads "$threads" --bandwidth-mb 2048
  run "$bench" --shape 18,768,50277 --level "$level" --tokens 16 --threads "$threads" --bandwidth-mb 2048
done
if /usr/bin/python3 -c "import torch" 2>/dev/null; then
  run $ref --model "$shipped" --bench 256 --threads "$threads"
  run $ref --model "$root/tests/data/fixtures/tiny_l2_c32_v77_fp32.pth" --bench 512 --threads "$threads"
  run $ref --random-shape 12,512,5458 --bench 32 --threads "$threads"
  run $ref --random-shape 18,768,50277 --bench 8 --threads "$threads"
fi
